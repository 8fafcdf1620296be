/* sg_cmd_graph.c — `seqgrad graph addition -o FILE`: records the unrolled RNN
 * for one example, runs backward (so gradient norms can be shown) and exports
 * the tape through Graphviz; the format follows FILE's extension. */
#include "frontends/cli/sg_cli.h"

#include "graph/export/sg_dot.h"
#include "graph/core/sg_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest scope depth on g's tape (0 when nothing is scoped). */
size_t sg_max_scope_depth(const sg_graph *g)
{
    size_t d = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        size_t k = sg_scope_depth(sg_graph_tape_at(g, i)->scope);
        if (k > d)
            d = k;
    }
    return d;
}

/* --collapse none|scope|N -> depth (0 = op mode, SIZE_MAX = deepest scope). */
static bool sg_parse_collapse(const char *v, size_t *depth)
{
    if (!v || strcmp(v, "none") == 0 || strcmp(v, "op") == 0) {
        *depth = 0;
        return true;
    }
    if (strcmp(v, "scope") == 0) {
        *depth = SIZE_MAX;
        return true;
    }
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || v[0] == '-') {
        sg_cli_error("--collapse expects none, scope or a depth (1, 2, ...), not '%s'", v);
        return false;
    }
    *depth = x;
    return true;
}

bool sg_cli_addition_export(sg_addition *m, const char *path, size_t collapse_depth, bool grad_norms, bool verbose)
{
    sg_graph *g = sg_graph_new(m->out.W->dtype);
    if (!g) {
        sg_cli_error("out of memory");
        return false;
    }
    uint32_t a = 45, b = 83; /* one example: 45 + 83 = 128 */
    sg_tensor *loss = sg_addition_loss(g, m, &a, &b, 1, NULL);
    bool ok = loss && sg_backward(g, loss) == SG_OK;
    if (!ok)
        sg_cli_error("%s", sg_graph_error(g));
    if (ok) {
        sg_export_opts o = {0};
        o.collapse_depth = collapse_depth == SIZE_MAX ? sg_max_scope_depth(g) : collapse_depth;
        o.grad_norms = grad_norms;
        o.title = "Elman RNN, binary addition 45 + 83, unrolled over 8 steps";
        char err[512];
        sg_export_stats stats;
        if (sg_graph_export(g, path, &o, err, sizeof err) != SG_OK ||
            sg_graph_export_stats(g, &o, &stats, err, sizeof err) != SG_OK) {
            sg_cli_error("could not export the graph to '%s': %s", path, err);
            ok = false;
        } else if (verbose) {
            printf("wrote %s: tape %zu nodes; drawn %zu nodes (%zu collapsed scopes), %zu edges, %zu clusters\n", path,
                   sg_graph_tape_len(g), stats.n_nodes, stats.n_collapsed, stats.n_edges, stats.n_clusters);
        }
    }
    sg_graph_free(g);
    return ok;
}

int sg_cmd_graph(sg_cli_args *a)
{
    const char *what = sg_cli_positional(a);
    const char *out = sg_cli_opt(a, "output");
    const char *collapse = sg_cli_opt(a, "collapse");
    bool grad_norms = sg_cli_flag(a, "grad-norms");
    sg_addition_cfg cfg;
    size_t depth;
    if (!what || !out) {
        sg_cli_error("usage: seqgrad graph addition -o FILE.(dot|svg|png) [--collapse none|scope|N] [--grad-norms]");
        return 2;
    }
    if (strcmp(what, "lm") == 0)
        return sg_parse_collapse(collapse, &depth) ? sg_cmd_graph_lm(a, out, depth, grad_norms) : 2;
    if (strcmp(what, "addition") != 0) {
        sg_cli_error("unknown model '%s' for graph (known: addition, lm)", what);
        return 2;
    }
    if (!sg_cli_addition_cfg(a, &cfg) || !sg_parse_collapse(collapse, &depth) || !sg_cli_check_all_used(a))
        return 2;
    sg_addition m;
    sg_params *ps = sg_cli_addition_new(&cfg, SG_F32, &m);
    if (!ps)
        return 1;
    bool ok = sg_cli_addition_export(&m, out, depth, grad_norms, true);
    sg_addition_free(&m);
    sg_params_free(ps);
    return ok ? 0 : 1;
}
