/* fuzz_cellfile.c — libFuzzer target for the cell-file parser and compiler
 * (frontends/cellfile/sg_cellfile.h).  Any input must be refused with a
 * status and a message, or compiled; never a crash, a leak or an
 * out-of-bounds access (ASan, UBSan, LSan).  A compiled file is then made
 * into a cell (I 3, H 2) and run for two steps over a batch of 2 in f64,
 * and backward is run when the step succeeds: ops with the wrong shapes must
 * fail with a graph error, not crash.  Properties (else abort()):
 *   - a refused file returns no program and a message with the file's name;
 *   - a failed step leaves a graph error naming "fuzz.cell:<line>". */
#include "frontends/cellfile/sg_cellfile.h"
#include "graph/core/sg_graph.h"
#include "ops/sg_ops.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cellfile: property broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_cellfile *cf = NULL;
    char err[512] = "";
    sg_status st = sg_cellfile_parse((const char *)data, size, "fuzz.cell", &cf, err, sizeof err);
    if (st != SG_OK) {
        fz_check(cf == NULL, "a refused file returns no program");
        fz_check(st == SG_ERR_NOMEM || strstr(err, "fuzz.cell") != NULL, "the message names the file");
        return 0;
    }
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    if (ps && sg_cellfile_make(&cell, ps, "c", 3, 2, cf) == SG_OK) {
        sg_rng rng;
        sg_rng_seed(&rng, 1);
        if (sg_cell_reset_parameters(&cell, &rng, NULL) == SG_OK) {
            sg_graph *g = sg_graph_new(SG_F64);
            sg_cell_state s;
            double x[2 * 3] = {0.5, -1, 2, 0.25, 1, -0.5};
            bool ok = g && sg_cell_state_zeros(g, &cell, 2, &s);
            for (int t = 0; ok && t < 2; t++) {
                sg_cell_state next = {0};
                ok = sg_cell_step(g, &cell, sg_input_f64(g, "x", SG_SHAPE(2, 3), x, true), &s, &next);
                s = (sg_cell_state){.h = next.h, .c = next.c};
            }
            if (ok)
                (void)sg_backward(g, sg_sum_all(g, s.h));
            else if (g && sg_graph_status(g) != SG_ERR_NOMEM)
                fz_check(strstr(sg_graph_error(g), "fuzz.cell:") != NULL || strstr(sg_graph_error(g), "cell 'c'"),
                         "a failed step names the line or the cell");
            sg_graph_free(g);
        }
        sg_cell_free(&cell);
    }
    sg_params_free(ps);
    sg_cellfile_free(cf);
    return 0;
}
