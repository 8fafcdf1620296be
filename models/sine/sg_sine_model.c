/* sg_sine_model.c — next-value prediction of a sine wave (see the header). */
#include "models/sine/sg_sine_model.h"

#include "models/rnn/sg_seq.h"
#include "ops/sg_ops.h"

#include <string.h>

sg_status sg_sine_model_init(sg_sine_model *m, sg_params *ps, sg_cell_kind kind, sg_activation act, size_t hidden)
{
    memset(m, 0, sizeof *m);
    sg_status st = sg_cell_init_kind(&m->cell, ps, "sine", kind, act, 1, hidden);
    if (st)
        return st;
    if ((st = sg_linear_init(&m->head, ps, "head", hidden, 1, true)) != SG_OK)
        sg_cell_free(&m->cell);
    return st;
}

void sg_sine_model_free(sg_sine_model *m) { sg_cell_free(&m->cell); }

sg_tensor *sg_sine_model_forward(sg_graph *g, const sg_sine_model *m, sg_tensor *xs, sg_tensor *y, sg_tensor **pred)
{
    sg_cell_state final = {0};
    if (!sg_seq_run(g, "sine", &m->cell, xs, NULL, &final))
        return NULL;
    sg_scope_push(g, "head");
    sg_tensor *p = sg_linear_forward(g, &m->head, final.h); /* (B, 1) */
    if (pred)
        *pred = p;
    sg_tensor *out = p;
    if (y)
        out = sg_loss_mse(g, p, y, SG_REDUCE_MEAN);
    sg_scope_pop(g);
    return out;
}
