/* sg_gradcheck.c — model-mode and per-op gradient checks (see sg_gradcheck.h).
 * Gradient checking is not a steady-state path: it takes its scratch memory
 * from the heap and gives it back before returning. */
#include "graph/gradcheck/sg_gradcheck.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_graph_hooks.h"
#include "graph/core/sg_rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Noise of (4 D(h/2) - D(h)) / 3 for central differences D of a function
 * with independent rounding noise sigma per evaluation:
 * sqrt((4/3 sqrt(2) / h)^2 + (1/3 / (sqrt(2) h))^2) sigma = 1.90 sigma / h. */
#define SG_RICHARDSON_NOISE 1.90
/* Standard deviations of that noise an element may differ by: the largest of
 * N Gaussian draws is about sqrt(2 ln N) sigma (4.4 for 10^4 elements); 50
 * leaves a margin of 10x over that for a correct model. */
#define SG_NOISE_SIGMAS 50.0
/* The last two Richardson estimates differ by gap; the error of the last is
 * about gap / 15 for a smooth function (O(h^4): halving h divides it by 16).
 * Up to SG_GAP_FACTOR gaps of truncation are allowed on top of the noise. */
#define SG_GAP_FACTOR 10.0

/* What model mode allows an element on top of tol: noise and truncation of
 * the difference quotient that produced it. */
static double sg_allowance(double sigma, double h_used, double gap)
{
    return SG_NOISE_SIGMAS * SG_RICHARDSON_NOISE * sigma / h_used + SG_GAP_FACTOR * (isfinite(gap) ? gap : 0);
}

sg_gradcheck_opts sg_gradcheck_defaults(void)
{
    return (sg_gradcheck_opts){.eps = 1e-2, .tol = 1e-6, .floor = 1e-6, .max_per_tensor = 0, .seed = 1};
}

/* Richardson extrapolation of central differences with steps h (d_h) and
 * h/2 (d_h2): the h^2 error terms cancel, leaving O(h^4).  This keeps the
 * step large enough for rounding not to matter (tanh near saturation, where
 * the derivative is ~1e-5) while staying accurate where curvature is high. */
static double sg_richardson(double d_h, double d_h2) { return (4 * d_h2 - d_h) / 3; }

/* A central difference (f(x+h) - f(x-h)) / 2h of one scalar function of one
 * element, supplied by each mode. */
typedef double (*sg_central_fn)(void *ctx, double h);

/* The derivative from Richardson-extrapolated central differences, with the
 * step halved until two successive extrapolations agree.  For a smooth
 * function R(D(h), D(h/2)) and R(D(h/2), D(h/4)) agree to O(h^4), about 1e-12,
 * and the first pair is accepted.  A kink (relu at 0) at distance d from x
 * spoils every step larger than d but none smaller, so halving walks below
 * it; the step is not made smaller than needed, since rounding error grows as
 * the step shrinks and would swamp tiny derivatives (tanh near saturation).
 * "Agree" allows a relative 1e-7 plus the rounding noise of a difference
 * quotient at the current step, 16 eps_mach scale / h, where scale is the
 * magnitude of the function differenced (|L|, or sum |r_i y_i| per op).  If no
 * two agree, the estimate where consecutive ones disagreed least is returned. */
static double sg_numeric_derivative(sg_central_fn central, void *ctx, double h, double scale, double *h_used,
                                    double *gap_out)
{
    enum { SG_MAX_HALVINGS = 12 };
    double d_prev = central(ctx, h), d = central(ctx, h / 2);
    double r_prev = sg_richardson(d_prev, d);
    double best = r_prev, best_gap = INFINITY, best_h = h;
    for (int k = 2; k <= SG_MAX_HALVINGS; k++) {
        h /= 2;
        double d_next = central(ctx, h / 2);
        double r = sg_richardson(d, d_next);
        double gap = fabs(r - r_prev);
        if (gap <= 1e-7 * fmax(fabs(r), 1e-4) + 16 * DBL_EPSILON * scale / h) {
            *h_used = h;
            *gap_out = gap;
            return r;
        }
        if (gap < best_gap) {
            best_gap = gap;
            best = r;
            best_h = h;
        }
        d = d_next;
        r_prev = r;
    }
    *h_used = best_h;
    *gap_out = best_gap;
    return best;
}

static void sg_report_init(sg_gradcheck_report *r, const sg_gradcheck_opts *o)
{
    memset(r, 0, sizeof *r);
    r->floor_used = o->floor;
    r->passed = true;
    r->bad_tape_index = SIZE_MAX;
}

/* Folds one comparison into the report; returns true if it passes:
 *     |a - n| <= tol * max(|a|, |n|, floor) + allowance
 * where allowance is what the numerical derivative cannot resolve (model mode:
 * the measured noise of the loss over the step; 0 in per-op mode).  The worst
 * element is the one with the largest ratio |a - n| / allowed. */
static bool sg_report_add(sg_gradcheck_report *r, const sg_gradcheck_opts *o, double a, double n, double allowance,
                          const char *where, sg_gradcheck_element *el)
{
    double abs_err = fabs(a - n);
    double mag = fmax(fabs(a), fabs(n));
    double rel = abs_err / fmax(mag, o->floor);
    double allowed = o->tol * fmax(mag, o->floor) + allowance;
    double ratio = abs_err / allowed;
    if (o->on_element) {
        el->analytic = a;
        el->numeric = n;
        el->allowed = allowed;
        o->on_element(o->on_element_ctx, el);
    }
    if (isnan(ratio) || isnan(rel))
        ratio = rel = INFINITY;
    r->n_checked++;
    if (abs_err > r->max_abs_err || isnan(abs_err))
        r->max_abs_err = isnan(abs_err) ? INFINITY : abs_err;
    if (o->tol * mag >= allowance && rel > r->max_rel_err) /* resolved: the relative error means something */
        r->max_rel_err = rel;
    if (mag > 0 && o->tol * mag < allowance)
        r->n_unresolved++;
    if (ratio > r->max_ratio || r->n_checked == 1) {
        r->max_ratio = ratio;
        r->worst_analytic = a;
        r->worst_numeric = n;
        r->worst_allowed = allowed;
        snprintf(r->where, sizeof r->where, "%s", where);
    }
    if (!(ratio <= 1.0)) {
        r->passed = false;
        return false;
    }
    return true;
}

/* The elements of a tensor of n elements to check: all, or a seeded sample of
 * max distinct indices in increasing order.  Writes the count to *count. */
static size_t *sg_pick_elements(size_t n, size_t max, sg_rng *rng, size_t *count)
{
    size_t *idx = sg_malloc(n * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    if (max && max < n) {
        sg_rng_shuffle(rng, idx, n);
        /* sort the first max for a stable, readable order */
        for (size_t i = 1; i < max; i++)
            for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        n = max;
    }
    *count = n;
    return idx;
}

/* ---- model mode -------------------------------------------------------- */

/* One evaluation of the loss (no tape); NAN after an error. */
static double sg_eval_loss(sg_graph *g, sg_loss_fn fn, void *ctx)
{
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, true); /* inputs must count as requiring grad */
    sg_tensor *loss = fn(g, ctx);
    if (!loss || sg_graph_status(g) || loss->numel != 1)
        return NAN;
    return sg_tensor_get(loss, 0);
}

/* Central differences of the loss in one parameter element ... */
typedef struct sg_param_probe {
    sg_graph *g;
    sg_loss_fn fn;
    void *ctx;
    sg_param *p;
    size_t e;
} sg_param_probe;

static double sg_param_central(void *vp, double h)
{
    sg_param_probe *q = vp;
    double v = sg_param_get(q->p, q->e);
    sg_param_set(q->p, q->e, v + h);
    double lp = sg_eval_loss(q->g, q->fn, q->ctx);
    sg_param_set(q->p, q->e, v - h);
    double lm = sg_eval_loss(q->g, q->fn, q->ctx);
    sg_param_set(q->p, q->e, v);
    return (lp - lm) / (2 * h);
}

/* ... and in one element of the k-th input that requires grad. */
typedef struct sg_input_probe {
    sg_graph *g;
    sg_loss_fn fn;
    void *ctx;
    long k;
    size_t e;
} sg_input_probe;

static double sg_input_central(void *vp, double h)
{
    sg_input_probe *q = vp;
    sg_graph_set_input_perturbation(q->g, q->k, q->e, h);
    double lp = sg_eval_loss(q->g, q->fn, q->ctx);
    sg_graph_set_input_perturbation(q->g, q->k, q->e, -h);
    double lm = sg_eval_loss(q->g, q->fn, q->ctx);
    return (lp - lm) / (2 * h);
}

/* The rounding noise of the loss, measured rather than assumed (the method of
 * More and Wild, "Estimating computational noise", 2011): L is evaluated at
 * x + k d u, k = 0..15, along a random direction u over every parameter
 * element (d_i = +-1e-7 max(|x_i|, 1e-3)).  The 6th differences of the 16
 * values cancel every polynomial of degree 5, so at this spacing they hold
 * only the noise: sigma^2 = gamma_6 mean(D6^2), gamma_6 = (6!)^2 / 12!,
 * pooled over four directions (40 differences).  The parameters are restored bit for bit.
 * Returns a negative value when the loss could not be evaluated. */
static double sg_loss_noise(sg_graph *g, sg_params *ps, sg_loss_fn fn, void *ctx, sg_rng *rng, double *saved)
{
    enum { SG_NOISE_POINTS = 16, SG_NOISE_DIRS = 4 };
    const double gamma6 = 518400.0 / 479001600.0;
    double ss = 0;
    bool evaluated = true;
    size_t n = 0, nss = 0;
    for (size_t p = 0; p < ps->n; p++)
        for (size_t e = 0; e < ps->items[p]->numel; e++)
            saved[n++] = sg_param_get(ps->items[p], e);
    for (int dir = 0; dir < SG_NOISE_DIRS; dir++) {
        uint64_t dir_seed = sg_rng_next(rng); /* the same direction for every k */
        double f[SG_NOISE_POINTS];
        for (int k = 0; k < SG_NOISE_POINTS; k++) {
            sg_rng u;
            sg_rng_seed(&u, dir_seed);
            size_t i = 0;
            for (size_t p = 0; p < ps->n; p++)
                for (size_t e = 0; e < ps->items[p]->numel; e++, i++) {
                    double step = 1e-7 * fmax(fabs(saved[i]), 1e-3);
                    double sign = (sg_rng_next(&u) >> 63) ? 1.0 : -1.0;
                    sg_param_set(ps->items[p], e, saved[i] + (double)k * step * sign);
                }
            f[k] = sg_eval_loss(g, fn, ctx);
            evaluated = evaluated && isfinite(f[k]);
        }
        for (int o = 0; o < 6; o++) /* the difference table, in place */
            for (int k = 0; k + 1 < SG_NOISE_POINTS - o; k++)
                f[k] = f[k + 1] - f[k];
        for (int k = 0; k < SG_NOISE_POINTS - 6; k++)
            ss += f[k] * f[k];
        nss += SG_NOISE_POINTS - 6;
    }
    double sigma = evaluated ? sqrt(gamma6 * ss / (double)nss) : -1; /* pooled over every direction */
    size_t i = 0;
    for (size_t p = 0; p < ps->n; p++)
        for (size_t e = 0; e < ps->items[p]->numel; e++)
            sg_param_set(ps->items[p], e, saved[i++]);
    return sigma;
}

typedef struct sg_input_info {
    char name[128];
    char scope[256];
    size_t numel;
    double *grad; /* analytic */
} sg_input_info;

sg_status sg_gradcheck_model(sg_graph *g, sg_params *ps, sg_loss_fn fn, void *ctx, const sg_gradcheck_opts *opts,
                             sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_report_init(report, &o);
    if (sg_graph_dtype(g) != SG_F64 || (ps && ps->dtype != SG_F64))
        return sg_graph_fail(g, SG_ERR_DTYPE, "gradcheck: the graph and the parameters must be f64");

    /* 1. analytic gradients */
    if (ps)
        sg_params_zero_grad(ps);
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, true);
    sg_tensor *loss = fn(g, ctx);
    if (!loss || sg_graph_status(g))
        return sg_graph_status(g) ? sg_graph_status(g)
                                  : sg_graph_fail(g, SG_ERR_ARG, "gradcheck: the loss function returned NULL");
    if (loss->numel != 1)
        return sg_graph_fail(g, SG_ERR_SHAPE, "gradcheck: the loss must be a single element");
    double loss_scale = fabs(sg_tensor_get(loss, 0));
    sg_status st = sg_backward(g, loss);
    if (st)
        return st;
    if (ps) /* a listed gradient into the tables, as backward would have written it */
        sg_params_grad_flush_lists(ps);

    size_t n_inputs = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        sg_tensor *t = sg_graph_tape_at(g, i);
        if (t->kind == SG_KIND_INPUT && t->requires_grad)
            n_inputs++;
    }
    sg_input_info *inputs = sg_calloc(n_inputs ? n_inputs : 1, sizeof *inputs);
    if (!inputs)
        return SG_ERR_NOMEM;
    st = SG_OK;
    size_t k = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g) && !st; i++) {
        sg_tensor *t = sg_graph_tape_at(g, i);
        if (t->kind != SG_KIND_INPUT || !t->requires_grad)
            continue;
        sg_input_info *in = &inputs[k++];
        snprintf(in->name, sizeof in->name, "%s", t->name ? t->name : "input");
        sg_scope_path(t->scope, in->scope, sizeof in->scope);
        in->numel = t->numel;
        in->grad = sg_malloc(t->numel * sizeof(double));
        if (!in->grad)
            st = SG_ERR_NOMEM;
        else
            for (size_t e = 0; e < t->numel; e++)
                in->grad[e] = sg_tensor_grad_get(t, e);
    }
    size_t n_param_numel = ps ? sg_params_numel(ps) : 0;
    double *pgrad = sg_malloc((n_param_numel ? n_param_numel : 1) * sizeof *pgrad);
    double *saved = sg_malloc((n_param_numel ? n_param_numel : 1) * sizeof *saved); /* noise measurement */
    if (!pgrad || !saved)
        st = SG_ERR_NOMEM;
    if (!st && ps) {
        size_t off = 0;
        for (size_t p = 0; p < ps->n; p++)
            for (size_t e = 0; e < ps->items[p]->numel; e++)
                pgrad[off++] = sg_param_grad_get(ps->items[p], e);
    }

    sg_rng rng;
    sg_rng_seed(&rng, o.seed);
    /* How much of a difference quotient is noise: the loss's own rounding
     * noise sigma, measured; a Richardson-combined central difference with
     * final step h carries about SG_RICHARDSON_NOISE sigma / h of it, and
     * SG_NOISE_SIGMAS such standard deviations are allowed (see the header). */
    double sigma = 4 * DBL_EPSILON * loss_scale; /* without parameters: the old assumption */
    if (!st && ps && n_param_numel) {
        double measured = sg_loss_noise(g, ps, fn, ctx, &rng, saved);
        if (measured < 0)
            st = sg_graph_status(g) ? sg_graph_status(g) : SG_ERR_NONFINITE;
        else
            sigma = fmax(measured, DBL_EPSILON * loss_scale); /* never below one ulp of L */
    }
    report->noise = sigma;
    report->resolution = SG_NOISE_SIGMAS * SG_RICHARDSON_NOISE * sigma / o.eps;
    char where[512];
    /* 2. parameters */
    size_t off = 0;
    for (size_t p = 0; ps && p < ps->n && !st; p++) {
        sg_param *pa = ps->items[p];
        size_t cnt;
        size_t *idx = sg_pick_elements(pa->numel, o.max_per_tensor, &rng, &cnt);
        if (!idx) {
            st = SG_ERR_NOMEM;
            break;
        }
        for (size_t j = 0; j < cnt && !st; j++) {
            sg_param_probe probe = {g, fn, ctx, pa, idx[j]};
            double h_used, gap;
            double numeric = sg_numeric_derivative(sg_param_central, &probe, o.eps, loss_scale, &h_used, &gap);
            size_t e = idx[j];
            if (sg_graph_status(g)) {
                st = sg_graph_status(g);
                break;
            }
            snprintf(where, sizeof where, "parameter '%s' element %zu", pa->name, e);
            sg_gradcheck_element el = {.tensor = pa->name, .scope = "", .tape_index = SIZE_MAX, .element = e};
            sg_report_add(report, &o, pgrad[off + e], numeric, sg_allowance(sigma, h_used, gap), where, &el);
        }
        sg_free(idx);
        off += pa->numel;
    }
    /* 3. inputs with requires_grad, through the graph's perturbation hook */
    for (size_t in = 0; in < n_inputs && !st; in++) {
        size_t cnt;
        size_t *idx = sg_pick_elements(inputs[in].numel, o.max_per_tensor, &rng, &cnt);
        if (!idx) {
            st = SG_ERR_NOMEM;
            break;
        }
        for (size_t j = 0; j < cnt && !st; j++) {
            size_t e = idx[j];
            sg_input_probe probe = {g, fn, ctx, (long)in, e};
            double h_used, gap;
            double numeric = sg_numeric_derivative(sg_input_central, &probe, o.eps, loss_scale, &h_used, &gap);
            sg_graph_set_input_perturbation(g, -1, 0, 0);
            if (sg_graph_status(g)) {
                st = sg_graph_status(g);
                break;
            }
            snprintf(where, sizeof where, "input '%s' in scope '%s' element %zu", inputs[in].name,
                     inputs[in].scope[0] ? inputs[in].scope : "(root)", e);
            sg_gradcheck_element el = {
                .tensor = inputs[in].name, .scope = inputs[in].scope, .tape_index = SIZE_MAX, .element = e};
            sg_report_add(report, &o, inputs[in].grad[e], numeric, sg_allowance(sigma, h_used, gap), where, &el);
        }
        sg_free(idx);
    }
    sg_graph_set_input_perturbation(g, -1, 0, 0);

    /* 4. leave g holding one evaluation with its gradients */
    if (!st) {
        if (ps)
            sg_params_zero_grad(ps);
        sg_graph_reset(g);
        loss = fn(g, ctx);
        st = loss ? sg_backward(g, loss) : sg_graph_status(g);
    }
    for (size_t i = 0; i < n_inputs; i++)
        sg_free(inputs[i].grad);
    sg_free(inputs);
    sg_free(pgrad);
    sg_free(saved);
    return st;
}

/* ---- per-op mode ------------------------------------------------------- */

/* Central difference of <r, op(x)> in x[e] with step h, as
 * sum_i r_i (y+_i - y-_i) / 2h: elements the perturbation does not reach
 * cancel exactly instead of adding rounding noise.  ybuf holds numel values. */
typedef struct sg_node_probe {
    sg_tensor *t;
    double *x; /* the perturbed input's data */
    size_t e;
    const double *r; /* (numel) seed */
    double *ybuf;    /* (numel) scratch */
} sg_node_probe;

static double sg_node_central(void *vp, double h)
{
    sg_node_probe *q = vp;
    sg_tensor *t = q->t;
    double *x = q->x, *ybuf = q->ybuf;
    const double *r = q->r;
    size_t e = q->e;
    double v = x[e];
    x[e] = v + h;
    sg_op_forward(t);
    memcpy(ybuf, t->data, t->numel * sizeof *ybuf);
    x[e] = v - h;
    sg_op_forward(t);
    const double *y = t->data; /* read before x is restored: a view's data is x's */
    double s = 0;
    for (size_t i = 0; i < t->numel; i++)
        s += r[i] * (ybuf[i] - y[i]);
    x[e] = v;
    return s / (2 * h);
}

/* Checks one node, folding its comparisons into report (not reset here). */
static sg_status sg_gradcheck_node_into(sg_graph *g, sg_tensor *t, const sg_gradcheck_opts *opts,
                                        sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    if (sg_graph_dtype(g) != SG_F64 || t->dtype != SG_F64)
        return sg_graph_fail(g, SG_ERR_DTYPE, "gradcheck: per-op checks need an f64 graph");
    if (t->kind != SG_KIND_OP)
        return SG_OK;
    size_t n = t->n_src;
    /* Scratch: seed r, saved output, saved input grads, and per checked input
     * the gradient the VJP adds into and the random values it starts from. */
    size_t nn = n ? n : 1;
    double *r = sg_malloc(t->numel * sizeof *r);
    double *ybuf = sg_malloc(t->numel * sizeof *ybuf);
    void **saved_grad = sg_calloc(nn, sizeof *saved_grad);
    double **tmp_grad = sg_calloc(nn, sizeof *tmp_grad);
    double **g0 = sg_calloc(nn, sizeof *g0);
    bool *check = sg_calloc(nn, sizeof *check);
    sg_status st = r && ybuf && saved_grad && tmp_grad && g0 && check ? SG_OK : SG_ERR_NOMEM;
    sg_rng rng;
    sg_rng_seed(&rng, o.seed ^ (0x9e3779b97f4a7c15ull * (t->tape_index + 1)));
    for (size_t i = 0; !st && i < t->numel; i++)
        r[i] = sg_rng_range(&rng, -1.0, 1.0);

    /* Which inputs are checked: differentiable, requiring grad, first
     * occurrence of each distinct tensor (x*x shares one gradient). */
    for (size_t k = 0; !st && k < n; k++) {
        sg_tensor *s = t->src[k];
        saved_grad[k] = s->grad;
        check[k] = s->requires_grad && s->dtype == SG_F64 && sg_op_input_differentiable(t->op, k);
        for (size_t j = 0; j < k; j++)
            if (t->src[j] == s)
                check[k] = false;
        if (check[k] &&
            (!(tmp_grad[k] = sg_malloc(s->numel * sizeof(double))) || !(g0[k] = sg_malloc(s->numel * sizeof(double)))))
            st = SG_ERR_NOMEM;
    }
    if (st)
        goto done;

    /* Analytic: the VJP of r into input gradients that already hold random
     * values g0 (as in an unrolled graph, where a shared weight or a fanned-out
     * value has gradient from elsewhere): the contribution is what changed,
     * so a VJP that assigns (=) instead of adding (+=) loses g0 and fails. */
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; check[k] && i < t->src[k]->numel; i++)
            tmp_grad[k][i] = g0[k][i] = sg_rng_range(&rng, -1.0, 1.0);
    for (size_t k = 0; k < n; k++)
        t->src[k]->grad = NULL;
    for (size_t k = 0; k < n; k++)
        if (check[k])
            t->src[k]->grad = tmp_grad[k];
    void *saved_out_grad = t->grad;
    t->grad = r;
    t->op->vjp(t);
    t->grad = saved_out_grad;
    for (size_t k = n; k-- > 0;)
        t->src[k]->grad = saved_grad[k];
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; check[k] && i < t->src[k]->numel; i++)
            tmp_grad[k][i] -= g0[k][i];

    /* Numeric: central differences of <r, op(x)> with this op alone. */
    double out_scale = 0;
    for (size_t i = 0; i < t->numel; i++)
        out_scale += fabs(r[i] * ((const double *)t->data)[i]);
    char where[512], scope[256];
    sg_scope_path(t->scope, scope, sizeof scope);
    sg_rng pick;
    sg_rng_seed(&pick, o.seed + t->tape_index);
    bool node_ok = true;
    for (size_t k = 0; k < n && node_ok; k++) {
        if (!check[k])
            continue;
        sg_tensor *s = t->src[k];
        double *x = s->data;
        size_t cnt;
        size_t *idx = sg_pick_elements(s->numel, o.max_per_tensor, &pick, &cnt);
        if (!idx) {
            st = SG_ERR_NOMEM;
            break;
        }
        for (size_t j = 0; j < cnt; j++) {
            size_t e = idx[j];
            sg_node_probe probe = {t, x, e, r, ybuf};
            double h_used, gap;
            double numeric = sg_numeric_derivative(sg_node_central, &probe, o.eps, out_scale, &h_used, &gap);
            snprintf(where, sizeof where, "op '%s' (tape node %zu, scope '%s') input %zu element %zu", t->op->name,
                     t->tape_index, scope[0] ? scope : "(root)", k, e);
            sg_gradcheck_element el = {
                .tensor = t->op->name, .scope = scope, .tape_index = t->tape_index, .input = k, .element = e};
            if (!sg_report_add(report, &o, tmp_grad[k][e], numeric, 0.0, where, &el)) {
                node_ok = false;
                break;
            }
        }
        sg_free(idx);
    }
    sg_op_forward(t); /* restore output and aux from the unperturbed inputs */
    if (!node_ok && report->bad_op == NULL) {
        report->bad_op = t->op->name;
        report->bad_tape_index = t->tape_index;
        snprintf(report->bad_scope, sizeof report->bad_scope, "%s", scope);
    }
done:
    for (size_t k = 0; k < n; k++) {
        sg_free(tmp_grad ? tmp_grad[k] : NULL);
        sg_free(g0 ? g0[k] : NULL);
    }
    sg_free(r);
    sg_free(ybuf);
    sg_free(saved_grad);
    sg_free(tmp_grad);
    sg_free(g0);
    sg_free(check);
    return st;
}

sg_status sg_gradcheck_tape(sg_graph *g, const sg_gradcheck_opts *opts, sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_report_init(report, &o);
    if (sg_graph_dtype(g) != SG_F64)
        return sg_graph_fail(g, SG_ERR_DTYPE, "gradcheck: per-op checks need an f64 graph");
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        sg_tensor *t = sg_graph_tape_at(g, i);
        if (t->kind != SG_KIND_OP || !t->requires_grad)
            continue;
        sg_status st = sg_gradcheck_node_into(g, t, opts, report);
        if (st)
            return st;
        if (!report->passed)
            break;
    }
    return SG_OK;
}

sg_status sg_gradcheck_node(sg_graph *g, sg_tensor *node, const sg_gradcheck_opts *opts, sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_report_init(report, &o);
    return sg_gradcheck_node_into(g, node, opts, report);
}

/* ---- f32 against f64 ------------------------------------------------------ */

/* Rounds a double to the nearest f32 value. */
static double sg_round32(double v) { return (double)(float)v; }

/* The bound for comparing f32 results with f64 ones: C eps32 (|v| + max|v|)
 * with C = 16 (1 + sqrt(m)), m the largest input (a proxy for the longest
 * reduction: an inner product of m terms rounds in f32 by up to about
 * sqrt(m) eps32 of its terms' size when the rounding errors are random). */
static double sg_f32_bound(double v64, double vmax, size_t m)
{
    return 16.0 * (1.0 + sqrt((double)m)) * FLT_EPSILON * (fabs(v64) + vmax) + 1e-30;
}

/* Compares n values a32 (f32) with a64 (f64); folds them into r with where
 * naming what they are.  Returns false at the first one beyond the bound. */
static bool sg_f32_compare(sg_gradcheck_report *r, const float *a32, const double *a64, size_t n, size_t m,
                           const char *what, const sg_tensor *node, size_t input, double scale)
{
    double vmax = scale; /* at least the caller's scale (a whole gradient's largest entry) */
    for (size_t i = 0; i < n; i++)
        vmax = fmax(vmax, fabs(a64[i]));
    char where[512], scope[256];
    sg_scope_path(node->scope, scope, sizeof scope);
    for (size_t i = 0; i < n; i++) {
        double bound = sg_f32_bound(a64[i], vmax, m);
        double err = fabs((double)a32[i] - a64[i]);
        double ratio = err / bound;
        if (isnan(ratio))
            ratio = INFINITY;
        r->n_checked++;
        r->max_abs_err = fmax(r->max_abs_err, err);
        double rel = err / fmax(fabs(a64[i]), vmax > 0 ? vmax : 1);
        r->max_rel_err = fmax(r->max_rel_err, rel);
        if (ratio > r->max_ratio || r->n_checked == 1) {
            r->max_ratio = ratio;
            r->worst_analytic = (double)a32[i];
            r->worst_numeric = a64[i];
            r->worst_allowed = bound;
            if (node->op)
                snprintf(where, sizeof where, "op '%s' (tape node %zu, scope '%s') %s %zu element %zu", node->op->name,
                         node->tape_index, scope[0] ? scope : "(root)", what, input, i);
            else
                snprintf(where, sizeof where, "%s element %zu", what, i);
            snprintf(r->where, sizeof r->where, "%s", where);
        }
        if (!(ratio <= 1.0)) {
            r->passed = false;
            if (!r->bad_op && node->op) {
                r->bad_op = node->op->name;
                r->bad_tape_index = node->tape_index;
                snprintf(r->bad_scope, sizeof r->bad_scope, "%s", scope);
            }
            return false;
        }
    }
    return true;
}

sg_status sg_gradcheck_precision(sg_graph *g32, sg_graph *g64, const sg_gradcheck_opts *opts,
                                 sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_report_init(report, &o);
    if (sg_graph_dtype(g32) != SG_F32 || sg_graph_dtype(g64) != SG_F64)
        return sg_graph_fail(g64, SG_ERR_DTYPE, "precision check: the graphs must be f32 and f64");
    size_t n = sg_graph_tape_len(g64);
    if (sg_graph_tape_len(g32) != n)
        return sg_graph_fail(g64, SG_ERR_STATE, "precision check: the tapes differ in length (%zu and %zu nodes)",
                             sg_graph_tape_len(g32), n);
    for (size_t i = 0; i < n; i++) {
        sg_tensor *a = sg_graph_tape_at(g32, i), *b = sg_graph_tape_at(g64, i);
        if (a->kind != b->kind || a->op != b->op || a->numel != b->numel || a->n_src != b->n_src)
            return sg_graph_fail(g64, SG_ERR_STATE, "precision check: tape node %zu differs between the graphs", i);
    }
    /* the f64 graph's data leaves take the f32 values, and its ops are re-run,
     * so that only the f32 arithmetic differs */
    for (size_t i = 0; i < n; i++) {
        sg_tensor *b = sg_graph_tape_at(g64, i);
        if ((b->kind == SG_KIND_INPUT || b->kind == SG_KIND_CONST) && b->dtype == SG_F64) {
            double *d = b->data;
            for (size_t e = 0; e < b->numel; e++)
                d[e] = sg_round32(d[e]);
        } else if (b->kind == SG_KIND_OP) {
            sg_op_forward(b);
        }
    }
    size_t maxn = 1;
    for (size_t i = 0; i < n; i++)
        maxn = sg_graph_tape_at(g64, i)->numel > maxn ? sg_graph_tape_at(g64, i)->numel : maxn;
    float *r32 = sg_malloc(maxn * sizeof *r32), *gx32 = sg_malloc(maxn * sizeof *gx32);
    double *r64 = sg_malloc(maxn * sizeof *r64), *gx64 = sg_malloc(maxn * sizeof *gx64);
    if (!r32 || !gx32 || !r64 || !gx64) {
        sg_free(r32);
        sg_free(gx32);
        sg_free(r64);
        sg_free(gx64);
        return SG_ERR_NOMEM;
    }
    sg_rng rng;
    sg_rng_seed(&rng, o.seed);
    sg_status st = SG_OK;
    for (size_t i = 0; i < n && report->passed; i++) {
        sg_tensor *a = sg_graph_tape_at(g32, i), *b = sg_graph_tape_at(g64, i);
        if (a->kind != SG_KIND_OP || a->dtype != SG_F32)
            continue;
        size_t m = 1;
        for (size_t k = 0; k < a->n_src; k++)
            m = a->src[k]->numel > m ? a->src[k]->numel : m;
        /* forward: the f32 node on the f32-rounded f64 inputs */
        size_t ns = a->n_src;
        void **saved_in = sg_calloc(ns ? ns : 1, sizeof *saved_in);
        float **in32 = sg_calloc(ns ? ns : 1, sizeof *in32);
        void **ga = sg_calloc(ns ? ns : 1, sizeof *ga), **gb = sg_calloc(ns ? ns : 1, sizeof *gb);
        bool ok_alloc = saved_in && in32 && ga && gb;
        for (size_t k = 0; ok_alloc && k < ns; k++) {
            saved_in[k] = a->src[k]->data;
            if (a->src[k]->dtype != SG_F32)
                continue;
            if (!(in32[k] = sg_malloc(a->src[k]->numel * sizeof(float)))) {
                ok_alloc = false;
                break;
            }
            const double *x64 = b->src[k]->data;
            for (size_t e = 0; e < a->src[k]->numel; e++)
                in32[k][e] = (float)x64[e];
        }
        for (size_t k = 0; ok_alloc && k < ns; k++)
            if (in32[k])
                a->src[k]->data = in32[k];
        if (ok_alloc) {
            sg_op_forward(a);
            sg_f32_compare(report, a->data, b->data, a->numel, m, "output", a, 0, 0.0);
        }
        /* VJP of the same random seed */
        if (ok_alloc && report->passed && a->requires_grad) {
            for (size_t e = 0; e < a->numel; e++) {
                r64[e] = sg_round32(sg_rng_range(&rng, -1.0, 1.0));
                r32[e] = (float)r64[e];
            }
            for (size_t k = 0; k < ns && report->passed; k++) {
                sg_tensor *sa = a->src[k], *sb = b->src[k];
                if (!sa->requires_grad || sa->dtype != SG_F32 || !sg_op_input_differentiable(a->op, k))
                    continue;
                bool dup = false;
                for (size_t j = 0; j < k; j++)
                    dup = dup || a->src[j] == sa;
                if (dup)
                    continue;
                for (size_t j = 0; j < ns; j++) {
                    ga[j] = a->src[j]->grad;
                    gb[j] = b->src[j]->grad;
                    a->src[j]->grad = NULL;
                    b->src[j]->grad = NULL;
                }
                memset(gx32, 0, sa->numel * sizeof *gx32);
                memset(gx64, 0, sb->numel * sizeof *gx64);
                sa->grad = gx32;
                sb->grad = gx64;
                void *oa = a->grad, *ob = b->grad;
                a->grad = r32;
                b->grad = r64;
                a->op->vjp(a);
                b->op->vjp(b);
                a->grad = oa;
                b->grad = ob;
                for (size_t j = ns; j-- > 0;) {
                    a->src[j]->grad = ga[j];
                    b->src[j]->grad = gb[j];
                }
                sg_f32_compare(report, gx32, gx64, sa->numel, m > a->numel ? m : a->numel, "input gradient", a, k, 0.0);
            }
        }
        for (size_t k = 0; ok_alloc && k < ns; k++)
            a->src[k]->data = saved_in[k];
        for (size_t k = 0; in32 && k < ns; k++)
            sg_free(in32[k]);
        if (ok_alloc)
            sg_op_forward(a); /* the node's own value and aux again */
        else
            st = SG_ERR_NOMEM;
        sg_free(saved_in);
        sg_free(in32);
        sg_free(ga);
        sg_free(gb);
        if (st)
            break;
    }
    sg_free(r32);
    sg_free(gx32);
    sg_free(r64);
    sg_free(gx64);
    return st;
}

/* The local f32 check of a model's two tapes, merged into report. */
static sg_status sg_f32_model_local(sg_graph *a, sg_graph *b, const sg_gradcheck_opts *o, sg_gradcheck_report *report)
{
    sg_gradcheck_report local;
    sg_status st = sg_gradcheck_precision(a, b, o, &local);
    if (!st && !local.passed) {
        bool model_failed = !report->passed;
        report->passed = false;
        report->bad_op = local.bad_op;
        report->bad_tape_index = local.bad_tape_index;
        snprintf(report->bad_scope, sizeof report->bad_scope, "%s", local.bad_scope);
        if (!model_failed) {
            report->max_ratio = local.max_ratio;
            report->worst_analytic = local.worst_analytic;
            report->worst_numeric = local.worst_numeric;
            report->worst_allowed = local.worst_allowed;
            snprintf(report->where, sizeof report->where, "%s", local.where);
        }
    }
    report->n_checked += local.n_checked;
    return st;
}

sg_status sg_gradcheck_f32_model(sg_params *ps, sg_loss_fn fn, void *ctx, const sg_gradcheck_opts *opts,
                                 sg_gradcheck_report *report)
{
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_report_init(report, &o);
    if (!ps || ps->dtype != SG_F64)
        return SG_ERR_DTYPE;
    for (size_t p = 0; p < ps->n; p++)
        for (size_t e = 0; e < ps->items[p]->numel; e++)
            sg_param_set(ps->items[p], e, sg_round32(sg_param_get(ps->items[p], e)));
    size_t total = sg_params_numel(ps);
    double *g64 = sg_malloc((total ? total : 1) * sizeof *g64);
    sg_graph *a = sg_graph_new(SG_F32), *b = sg_graph_new(SG_F64);
    sg_status st = g64 && a && b ? SG_OK : SG_ERR_NOMEM;
    /* f64 */
    sg_tensor *loss = NULL;
    if (!st) {
        sg_params_zero_grad(ps);
        loss = fn(b, ctx);
        st = loss ? sg_backward(b, loss) : sg_graph_status(b) ? sg_graph_status(b) : SG_ERR_ARG;
        if (!st)
            sg_params_grad_flush_lists(ps);
    }
    size_t off = 0;
    for (size_t p = 0; !st && p < ps->n; p++)
        for (size_t e = 0; e < ps->items[p]->numel; e++)
            g64[off++] = sg_param_grad_get(ps->items[p], e);
    /* The f64 graph's parameter leaves point at the parameters' buffers,
     * which the conversion to f32 frees: give them copies first. */
    void **copies = NULL;
    size_t n_copies = 0, cap_copies = 0;
    for (size_t i = 0; !st && i < sg_graph_tape_len(b); i++) {
        sg_tensor *t = sg_graph_tape_at(b, i);
        for (size_t k = 0; t->kind == SG_KIND_OP && k < t->n_src && !st; k++) {
            sg_tensor *s = t->src[k];
            if (s->kind != SG_KIND_PARAM || !s->param || s->data != s->param->value)
                continue;
            void *items = copies;
            void *c = sg_malloc(s->numel * sizeof(double));
            if (!c || !sg_array_reserve(&items, &cap_copies, n_copies + 1, sizeof *copies)) {
                sg_free(c);
                st = SG_ERR_NOMEM;
                break;
            }
            copies = items;
            memcpy(c, s->data, s->numel * sizeof(double));
            copies[n_copies++] = c;
            s->data = c;
            s->grad = NULL; /* the parameter's gradient buffer goes too */
        }
    }
    /* f32 */
    if (!st && (st = sg_params_set_dtype(ps, SG_F32)) == SG_OK) {
        sg_params_zero_grad(ps);
        loss = fn(a, ctx);
        st = loss ? sg_backward(a, loss) : sg_graph_status(a) ? sg_graph_status(a) : SG_ERR_ARG;
        if (!st)
            sg_params_grad_flush_lists(ps);
        size_t m = sg_graph_tape_len(a);
        /* norm-wise: each gradient is judged against the whole gradient's
         * largest entry, since one parameter's can be a sum that cancels */
        double gmax = 0;
        for (size_t i = 0; i < total; i++)
            gmax = fmax(gmax, fabs(g64[i]));
        off = 0;
        char what[300];
        for (size_t p = 0; !st && p < ps->n && report->passed; p++) {
            sg_param *pa = ps->items[p];
            float *g32 = pa->grad;
            sg_tensor leaf = {.op = NULL, .tape_index = SIZE_MAX, .scope = NULL};
            snprintf(what, sizeof what, "the f32 gradient of parameter '%s'", pa->name);
            sg_f32_compare(report, g32, g64 + off, pa->numel, m, what, &leaf, 0, gmax);
            off += pa->numel;
        }
        /* each op's own f32 error (while a's parameter leaves are valid):
         * names the op when the gradients differ, and catches an f32 bug too
         * small to show in the whole gradient */
        if (!st)
            st = sg_f32_model_local(a, b, &o, report);
        sg_status back = sg_params_set_dtype(ps, SG_F64);
        if (!st)
            st = back;
    }
    for (size_t i = 0; i < n_copies; i++)
        sg_free(copies[i]);
    sg_free(copies);

    sg_graph_free(a);
    sg_graph_free(b);
    sg_free(g64);
    return st;
}
