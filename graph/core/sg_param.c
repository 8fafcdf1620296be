/* sg_param.c — parameter sets (see sg_param.h). */
#include "graph/core/sg_param.h"

#include "graph/core/sg_alloc.h"

#include <stdlib.h>
#include <string.h>

sg_params *sg_params_new(sg_dtype dtype)
{
    if (dtype != SG_F32 && dtype != SG_F64)
        return NULL;
    sg_params *ps = sg_calloc(1, sizeof *ps);
    if (ps)
        ps->dtype = dtype;
    return ps;
}

static void sg_param_free(sg_param *p)
{
    if (!p)
        return;
    sg_free(p->name);
    if (!p->value_borrowed)
        sg_free(p->value);
    sg_free(p->grad);
    sg_free(p->m);
    sg_free(p->v);
    sg_free(p->grad_rows);
    sg_free(p->grad_row_seen);
    sg_free(p);
}

void sg_params_free(sg_params *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        sg_param_free(ps->items[i]);
    sg_free(ps->items);
    sg_free(ps);
}

sg_param *sg_params_find(const sg_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->items[i]->name, name) == 0)
            return ps->items[i];
    return NULL;
}

/* A parameter of numel elements with a zeroed gradient, and a zeroed value
 * of its own or, for a replica, the borrowed buffer value; NULL when out of
 * memory. */
static sg_param *sg_param_new(const char *name, sg_shape shape, size_t numel, sg_dtype dtype, void *value)
{
    sg_param *p = sg_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    size_t es = sg_dtype_size(dtype);
    p->value_borrowed = value != NULL;
    p->name = sg_malloc(strlen(name) + 1);
    p->value = value ? value : sg_calloc(numel, es);
    p->grad = sg_calloc(numel, es);
    if (!p->name || !p->value || !p->grad) {
        sg_param_free(p);
        return NULL;
    }
    strcpy(p->name, name);
    p->shape = shape;
    p->numel = numel;
    p->dtype = dtype;
    return p;
}

sg_param *sg_params_add(sg_params *ps, const char *name, sg_shape shape)
{
    if (!ps || !name || sg_params_find(ps, name) || shape.ndim < 0 || shape.ndim > SG_MAX_DIMS)
        return NULL;
    size_t numel = 1;
    for (int i = 0; i < shape.ndim; i++) {
        if (shape.d[i] == 0 || numel > SIZE_MAX / 16 / shape.d[i])
            return NULL;
        numel *= shape.d[i];
    }
    void *items = ps->items;
    if (!sg_array_reserve(&items, &ps->cap, ps->n + 1, sizeof *ps->items))
        return NULL;
    ps->items = items;
    sg_param *p = sg_param_new(name, shape, numel, ps->dtype, NULL);
    if (p)
        ps->items[ps->n++] = p;
    return p;
}

sg_params *sg_params_replica(const sg_params *master)
{
    if (!master)
        return NULL;
    sg_params *r = sg_params_new(master->dtype);
    if (!r || !(r->items = sg_calloc(master->n ? master->n : 1, sizeof *r->items))) {
        sg_free(r);
        return NULL;
    }
    r->cap = master->n ? master->n : 1;
    r->master = master;
    for (size_t i = 0; i < master->n; i++) {
        const sg_param *m = master->items[i];
        sg_param *p = sg_param_new(m->name, m->shape, m->numel, m->dtype, m->value);
        if (!p) {
            sg_params_free(r);
            return NULL;
        }
        p->grad_listed = m->grad_listed;
        r->items[r->n++] = p;
    }
    return r;
}

size_t sg_params_numel(const sg_params *ps)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        n += ps->items[i]->numel;
    return n;
}

void sg_params_zero_grad(sg_params *ps)
{
    size_t es = sg_dtype_size(ps->dtype);
    for (size_t i = 0; i < ps->n; i++) {
        sg_param *p = ps->items[i];
        if (p->grad_extent == SG_GRAD_ROWS) {
            size_t row = p->numel / p->shape.d[0];
            for (size_t k = 0; k < p->n_grad_rows; k++) {
                memset((char *)p->grad + p->grad_rows[k] * row * es, 0, row * es);
                p->grad_row_seen[p->grad_rows[k]] = 0;
            }
        } else {
            memset(p->grad, 0, p->numel * es);
        }
        p->n_grad_rows = 0;
        p->grad_extent = SG_GRAD_ZEROED;
        p->grad_list = p->grad_list_tail = NULL;
    }
}

void sg_param_set_grad_listed(sg_param *p, bool on)
{
    if (!on)
        sg_param_grad_flush_list(p);
    p->grad_listed = on;
}

void sg_param_grad_list_append(sg_param *p, sg_grad_list_entry *e)
{
    e->next = NULL;
    if (p->grad_list_tail)
        p->grad_list_tail->next = e;
    else
        p->grad_list = e;
    p->grad_list_tail = e;
    if (p->grad_extent == SG_GRAD_ZEROED) { /* nothing in grad yet: zero rows of it to visit */
        p->grad_extent = SG_GRAD_ROWS;
        p->n_grad_rows = 0;
        p->grad_rows_sorted = true;
    }
}

#define SG_ENTRY_ADD(T)                                                                                                \
    do {                                                                                                               \
        T *gt = table;           /* (rows, row) */                                                                     \
        const T *gy = e->grad;   /* (n / group, row) */                                                                \
        const T *wt = e->weight; /* NULL or (n) */                                                                     \
        size_t group = e->group ? e->group : 1;                                                                        \
        for (size_t i = 0; i < e->n; i++) {                                                                            \
            if (e->rows[i] < 0 || (size_t)e->rows[i] >= rows || (wt && wt[i] == 0))                                    \
                continue;                                                                                              \
            T *dst = gt + (size_t)e->rows[i] * row;                                                                    \
            const T *src = gy + i / group * row;                                                                       \
            if (wt)                                                                                                    \
                for (size_t d = 0; d < row; d++)                                                                       \
                    dst[d] += wt[i] * src[d];                                                                          \
            else                                                                                                       \
                for (size_t d = 0; d < row; d++)                                                                       \
                    dst[d] += src[d];                                                                                  \
        }                                                                                                              \
    } while (0)

void sg_grad_list_entry_add(const sg_grad_list_entry *e, sg_dtype dt, void *table, size_t rows, size_t row)
{
    if (dt == SG_F64)
        SG_ENTRY_ADD(double);
    else
        SG_ENTRY_ADD(float);
}

void sg_param_grad_flush_list(sg_param *p)
{
    const size_t rows = p->shape.ndim ? p->shape.d[0] : 1, row = p->numel / rows;
    for (const sg_grad_list_entry *e = p->grad_list; e; e = e->next) {
        sg_param_grad_note_rows(p, e->rows, e->n);
        sg_grad_list_entry_add(e, p->dtype, p->grad, rows, row);
    }
    p->grad_list = p->grad_list_tail = NULL;
}

void sg_params_grad_flush_lists(const sg_params *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->items[i]->grad_list)
            sg_param_grad_flush_list(ps->items[i]);
}

void sg_param_grad_note_dense(sg_param *p)
{
    if (p->grad_extent == SG_GRAD_ROWS)
        for (size_t k = 0; k < p->n_grad_rows; k++)
            p->grad_row_seen[p->grad_rows[k]] = 0;
    p->n_grad_rows = 0;
    p->grad_extent = SG_GRAD_ALL;
}

void sg_param_grad_note_rows(sg_param *p, const int32_t *rows, size_t n)
{
    if (p->grad_extent == SG_GRAD_ALL)
        return;
    const size_t V = p->shape.d[0];
    if (!p->grad_row_seen && !(p->grad_row_seen = sg_calloc(V, 1))) {
        sg_param_grad_note_dense(p);
        return;
    }
    if (p->grad_extent == SG_GRAD_ZEROED) {
        p->grad_extent = SG_GRAD_ROWS;
        p->n_grad_rows = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i] < 0 || (size_t)rows[i] >= V) {
            sg_param_grad_note_dense(p);
            return;
        }
        size_t r = (size_t)rows[i];
        if (p->grad_row_seen[r])
            continue;
        void *items = p->grad_rows;
        if (!sg_array_reserve(&items, &p->grad_rows_cap, p->n_grad_rows + 1, sizeof *p->grad_rows)) {
            sg_param_grad_note_dense(p);
            return;
        }
        p->grad_rows = items;
        p->grad_rows[p->n_grad_rows++] = r;
        p->grad_row_seen[r] = 1;
        p->grad_rows_sorted = false;
    }
}

/* Moves a[i] down the max-heap a[0..n-1] until both children are smaller. */
static void sg_heap_sift(size_t *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[i] >= a[c])
            return;
        size_t t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

/* Sorts a[0..n-1] ascending in place, in O(n log n), allocating nothing:
 * glibc's qsort takes a heap buffer for arrays above 1 KiB, which a training
 * step must not (tests/cli_heap.sh counts every allocation of the process). */
static void sg_sort_sizes(size_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sg_heap_sift(a, i, n);
    for (size_t end = n; end > 1; end--) {
        size_t t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sg_heap_sift(a, 0, end - 1);
    }
}

size_t sg_param_grad_ranges(sg_param *p)
{
    if (p->grad_extent != SG_GRAD_ROWS)
        return 1;
    if (!p->grad_rows_sorted) {
        sg_sort_sizes(p->grad_rows, p->n_grad_rows);
        p->grad_rows_sorted = true;
    }
    return p->n_grad_rows;
}

size_t sg_param_grad_ranges_any(const sg_param *p) { return p->grad_extent == SG_GRAD_ROWS ? p->n_grad_rows : 1; }

void sg_param_grad_range(const sg_param *p, size_t i, size_t *begin, size_t *len)
{
    if (p->grad_extent != SG_GRAD_ROWS) {
        *begin = 0;
        *len = p->numel;
        return;
    }
    size_t row = p->numel / p->shape.d[0];
    *begin = p->grad_rows[i] * row;
    *len = row;
}

/* A buffer of n elements converted from dtype `from` to `to`, newly
 * allocated; NULL when out of memory. */
static void *sg_buffer_converted(const void *buf, size_t n, sg_dtype from, sg_dtype to)
{
    void *nb = sg_malloc(n * sg_dtype_size(to));
    if (!nb)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        double v = from == SG_F64 ? ((const double *)buf)[i] : ((const float *)buf)[i];
        if (to == SG_F64)
            ((double *)nb)[i] = v;
        else
            ((float *)nb)[i] = (float)v;
    }
    return nb;
}

sg_status sg_params_set_dtype(sg_params *ps, sg_dtype dtype)
{
    if (dtype != SG_F32 && dtype != SG_F64)
        return SG_ERR_DTYPE;
    if (ps->master && ps->dtype != dtype)
        return SG_ERR_ARG; /* a replica's values are its master's */
    for (size_t i = 0; i < ps->n; i++) {
        sg_param *p = ps->items[i];
        if (p->dtype == dtype)
            continue;
        /* Convert all four buffers first, then swap: on failure p is untouched. */
        void *old[4] = {p->value, p->grad, p->m, p->v};
        void *nb[4] = {NULL, NULL, NULL, NULL};
        bool ok = true;
        for (int k = 0; k < 4 && ok; k++)
            if (old[k] && !(nb[k] = sg_buffer_converted(old[k], p->numel, p->dtype, dtype)))
                ok = false;
        if (!ok) {
            for (int k = 0; k < 4; k++)
                sg_free(nb[k]);
            return SG_ERR_NOMEM; /* parameters before p are converted, p and after are not */
        }
        for (int k = 0; k < 4; k++)
            sg_free(old[k]);
        p->value = nb[0];
        p->grad = nb[1];
        p->m = nb[2];
        p->v = nb[3];
        p->dtype = dtype;
        p->leaf = NULL;
    }
    ps->dtype = dtype;
    return SG_OK;
}

double sg_param_get(const sg_param *p, size_t i)
{
    return p->dtype == SG_F32 ? ((const float *)p->value)[i] : ((const double *)p->value)[i];
}

void sg_param_set(sg_param *p, size_t i, double v)
{
    if (p->dtype == SG_F32)
        ((float *)p->value)[i] = (float)v;
    else
        ((double *)p->value)[i] = v;
}

double sg_param_grad_get(const sg_param *p, size_t i)
{
    return p->dtype == SG_F32 ? ((const float *)p->grad)[i] : ((const double *)p->grad)[i];
}
