/* sg_graph_hooks.h — hooks into the graph for the engine's own checkers, not
 * part of the public API (graph/gradcheck/ includes this; models, frontends
 * and users do not: tests/cli_models_pure.sh refuses it above graph/).
 */
#ifndef SG_GRAPH_HOOKS_H
#define SG_GRAPH_HOOKS_H

#include "graph/core/sg_graph.h"

/* While set, the k-th input leaf with requires_grad that is created (counting
 * from 0 since reset) gets `delta` added to element `elem`; k = -1 clears it.
 * The numerical gradient check perturbs inputs this way, since a model builds
 * its inputs itself on every forward pass. */
void sg_graph_set_input_perturbation(sg_graph *g, long k, size_t elem, double delta);

/* While on, backward zeroes every gradient it makes, the assigning VJPs'
 * too (sg_op.vjp_assigns): the reference tests/test_graph.c compares them
 * against, byte for byte.  Off after sg_graph_new. */
void sg_graph_set_zeroed_grads(sg_graph *g, bool on);

#endif
