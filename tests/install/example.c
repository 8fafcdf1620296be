/* example.c — a program outside the tree, built against an installed seqgrad
 * (pkg-config, find_package, or the static library): a GRU from the library
 * unrolled over 8 steps, gradient-checked in f64.  Prints one line and exits
 * 0 when the check passes.  Used by tests/cli_install.sh. */
#include "graph/core/sg_graph.h"
#include "graph/gradcheck/sg_gradcheck.h"
#include "models/rnn/sg_cell.h"
#include "ops/sg_ops.h"

#include <math.h>
#include <stdio.h>

enum { B = 2, I = 3, H = 4, T = 8 };

static sg_tensor *loss(sg_graph *g, void *ctx)
{
    const sg_cell *cell = ctx;
    sg_cell_state s;
    if (!sg_cell_state_zeros(g, cell, B, &s))
        return NULL;
    double x[B * I];
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < B * I; i++)
            x[i] = sin(0.5 * t + 0.9 * i);
        sg_cell_state next = {0};
        if (!sg_cell_step(g, cell, sg_input_f64(g, "x", SG_SHAPE(B, I), x, false), &s, &next))
            return NULL;
        s = (sg_cell_state){.h = next.h, .c = next.c};
    }
    return sg_mean_all(g, sg_hadamard(g, s.h, s.h));
}

int main(void)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_cell cell;
    sg_rng rng;
    sg_rng_seed(&rng, 7);
    if (!ps || !g || sg_cell_init_gru(&cell, ps, "gru", I, H) != SG_OK ||
        sg_cell_reset_parameters(&cell, &rng, NULL) != SG_OK) {
        fprintf(stderr, "example: cannot build the cell\n");
        return 1;
    }
    sg_gradcheck_report r;
    sg_status st = sg_gradcheck_model(g, ps, loss, &cell, NULL, &r);
    if (st != SG_OK || !r.passed) {
        fprintf(stderr, "example: gradient check %s: %s\n", st != SG_OK ? "could not run" : "failed",
                st != SG_OK ? sg_graph_error(g) : r.where);
        return 1;
    }
    printf("installed seqgrad: a GRU over %d steps, %zu parameters, gradient check passed\n", T, r.n_checked);
    sg_cell_free(&cell);
    sg_graph_free(g);
    sg_params_free(ps);
    return 0;
}
