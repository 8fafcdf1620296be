/* sg_param.c — parameter sets (see sg_param.h). */
#include "graph/core/sg_param.h"

#include "graph/core/sg_alloc.h"

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
    sg_free(p->value);
    sg_free(p->grad);
    sg_free(p->m);
    sg_free(p->v);
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
    sg_param *p = sg_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    size_t es = sg_dtype_size(ps->dtype);
    p->name = sg_malloc(strlen(name) + 1);
    p->value = sg_calloc(numel, es);
    p->grad = sg_calloc(numel, es);
    if (!p->name || !p->value || !p->grad) {
        sg_param_free(p);
        return NULL;
    }
    strcpy(p->name, name);
    p->shape = shape;
    p->numel = numel;
    p->dtype = ps->dtype;
    ps->items[ps->n++] = p;
    return p;
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
    for (size_t i = 0; i < ps->n; i++)
        memset(ps->items[i]->grad, 0, ps->items[i]->numel * sg_dtype_size(ps->dtype));
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
