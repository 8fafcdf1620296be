/* sg_rnn.c — Elman cell (see sg_rnn.h).  Op calls only. */
#include "sg_rnn.h"

#include "graph/sg_init.h"
#include "ops/sg_ops.h"

#include <stdio.h>
#include <string.h>

sg_status sg_activation_parse(const char *name, sg_activation *out)
{
    if (!name)
        return SG_ERR_ARG;
    if (strcmp(name, "tanh") == 0)
        *out = SG_ACT_TANH;
    else if (strcmp(name, "sigmoid") == 0)
        *out = SG_ACT_SIGMOID;
    else if (strcmp(name, "relu") == 0)
        *out = SG_ACT_RELU;
    else
        return SG_ERR_ARG;
    return SG_OK;
}

const char *sg_activation_name(sg_activation a)
{
    switch (a) {
    case SG_ACT_TANH: return "tanh";
    case SG_ACT_SIGMOID: return "sigmoid";
    case SG_ACT_RELU: return "relu";
    }
    return "?";
}

sg_tensor *sg_activate(sg_graph *g, sg_activation f, sg_tensor *x)
{
    switch (f) {
    case SG_ACT_SIGMOID: return sg_sigmoid(g, x);
    case SG_ACT_RELU: return sg_relu(g, x);
    case SG_ACT_TANH: break;
    }
    return sg_tanh(g, x);
}

/* Adds "<prefix>.<name>" with the given shape; NULL if taken or out of memory. */
static sg_param *sg_add_named(sg_params *ps, const char *prefix, const char *name, sg_shape shape)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return sg_params_add(ps, full, shape);
}

sg_status sg_elman_init(sg_elman *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                        sg_activation f)
{
    memset(cell, 0, sizeof *cell);
    if (!ps || !prefix || input == 0 || hidden == 0)
        return SG_ERR_ARG;
    cell->input = input;
    cell->hidden = hidden;
    cell->f = f;
    cell->W_in = sg_add_named(ps, prefix, "W_in", SG_SHAPE(input, hidden));
    cell->W = sg_add_named(ps, prefix, "W", SG_SHAPE(hidden, hidden));
    cell->b = sg_add_named(ps, prefix, "b", SG_SHAPE(hidden));
    return cell->W_in && cell->W && cell->b ? SG_OK : SG_ERR_ARG;
}

void sg_elman_reset_parameters(sg_elman *cell, sg_rng *rng)
{
    sg_init_xavier_uniform(cell->W_in, rng);
    sg_init_xavier_uniform(cell->W, rng);
    /* relu: a small positive bias keeps units active at the start and keeps
     * pre-activations off the kink at exactly 0 (zero input, zero state),
     * where the VJP's subgradient and finite differences disagree. */
    sg_init_constant(cell->b, cell->f == SG_ACT_RELU ? 0.01 : 0.0);
}

sg_tensor *sg_elman_step(sg_graph *g, const sg_elman *cell, sg_tensor *x, sg_tensor *z_prev)
{
    sg_tensor *u = sg_add(g, sg_add(g, sg_matmul(g, x, sg_param_use(g, cell->W_in)),
                                    sg_matmul(g, z_prev, sg_param_use(g, cell->W))),
                          sg_param_use(g, cell->b)); /* (B, H) */
    return sg_activate(g, cell->f, u);
}
