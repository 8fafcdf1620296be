/* sg_dot.h — export of a recorded graph (the tape) to Graphviz: .dot, .svg, .png.
 *
 * The picture is built with cgraph (one Graphviz node per drawn node, nested
 * subgraphs for scopes) and laid out and rendered with gvc ("dot" layout); no
 * DOT text is printed by hand.
 *
 * Two modes, chosen by opts.collapse_depth:
 *   - op mode (0): one node per tape entry, leaves included, so the node count
 *     equals sg_graph_tape_len(g).  Node ids are "n<tape index>" (stable across
 *     runs, never pointers).  Labels: op name and output shape ("tanh\n(4, 16)");
 *     leaves show their name and shape.  Parameters, inputs, constants and the
 *     loss have their own shape and fill colour.  Every scope becomes a cluster
 *     "cluster_s<scope id>", nested like the scopes; unscoped nodes sit at the
 *     top level.
 *   - collapsed mode (k >= 1): every node whose scope has an ancestor at depth
 *     k is drawn as the ONE node of that ancestor, id "s<scope id>", labelled
 *     with the scope path ("rnn/t3") and drawn as a rounded box.  Other nodes
 *     (parameters have no scope; nodes in shallower scopes) stay individual, and
 *     scopes shallower than k still become clusters.  Edges between different
 *     drawn nodes appear once; edges inside one collapsed node disappear.
 * Edges follow data flow, input -> node, and are never repeated (the Graphviz
 * graph is strict).  An input of a recorded node that is not itself on the tape
 * (made in no-grad mode) has no node and no edge.
 *
 * The export reads the tape only; it never changes g or its error state, and
 * works on a graph in error (it draws what was recorded).  Graphviz is not
 * thread-safe: do not export from two threads at once.  The first export makes
 * one Graphviz context for the whole process, freed at exit (atexit): Graphviz
 * 2.43 reads freed memory when contexts are made and freed one per export.
 */
#ifndef SG_DOT_H
#define SG_DOT_H

#include "graph/core/sg_graph.h"

typedef struct sg_export_opts {
    /* 0 = op mode; k >= 1 = every scope at depth k (with all inside it) is one node */
    size_t collapse_depth;
    /* append "|g|=<L2 norm>" to the label of every tensor that has a gradient */
    bool grad_norms;
    /* graph title drawn on top; NULL or "" = none */
    const char *title;
    /* the node drawn as the loss; it must be on g's tape.  NULL = the last tape
     * entry, when that entry is an op */
    const sg_tensor *loss;
    /* "TB", "LR", "BT" or "RL"; NULL = "LR" when collapsed (long chains read
     * left to right), "TB" in op mode */
    const char *rankdir;
} sg_export_opts;

/* Op mode, no grad norms, no title, default loss and direction. */
sg_export_opts sg_export_defaults(void);

/* What an export draws (filled by sg_graph_export_stats). */
typedef struct sg_export_stats {
    size_t n_nodes;     /* all drawn nodes (collapsed scope nodes included) */
    size_t n_edges;     /* distinct edges between different drawn nodes */
    size_t n_clusters;  /* scope clusters */
    size_t n_collapsed; /* collapsed scope nodes ("s<id>") */
} sg_export_stats;

/* Writes g's tape to path; the format follows the extension (case-insensitive):
 * ".dot" (laid-out DOT with positions, readable by agread and `dot`), ".svg" or
 * ".png".  opts may be NULL (defaults).  Returns SG_OK, or SG_ERR_ARG (unknown
 * extension, bad option, loss not on the tape), SG_ERR_IO (the file cannot be
 * written, or Graphviz fails to lay out or render) or SG_ERR_NOMEM; err (may be
 * NULL) then holds a readable message, and no partial file is left behind. */
SG_NODISCARD sg_status sg_graph_export(sg_graph *g, const char *path, const sg_export_opts *opts, char *err,
                                       size_t errcap);

/* Builds the same Graphviz graph as sg_graph_export (without layout or file)
 * and counts it.  Same errors as above, apart from those about the file. */
SG_NODISCARD sg_status sg_graph_export_stats(sg_graph *g, const sg_export_opts *opts, sg_export_stats *stats, char *err,
                                             size_t errcap);

#endif
