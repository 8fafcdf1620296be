/* sg_registry_list.h — THE list of functions the op registry knows, one line
 * each: SG_REG(name, group, return, "argument names", argument types...).
 * The C function is sg_<name>.  Included by sg_registry.c only, where each
 * line becomes a table entry AND a compile-time check that the types written
 * here are exactly the function's own (so this list cannot drift from the
 * headers: a changed signature stops the build), and tests/cli_registry.sh
 * fails when a function declared in ops/sg_ops.h has no line here.
 *
 * Type codes (sg_registry.h): GRAPH TENSOR INT SIZE DOUBLE BOOL SHAPE STRING
 * TENSORS (sg_tensor *const *) TENSORS_OUT (sg_tensor **) SIZES (const size_t *)
 * DOUBLES (const double *) IDS (const int32_t *) REDUCTION ACTIVATION STATUS
 * PARAM RNG LINEAR EMBEDDING CELL STATE_IN (const sg_cell_state *)
 * STATE_OUT (sg_cell_state *). */

/* ---- ops (ops/sg_ops.h) ---- */
SG_REG(sigmoid, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(tanh, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(relu, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(exp, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(log, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(softplus, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(log_sigmoid, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(scale, op, TENSOR, "g x c", GRAPH, TENSOR, DOUBLE)
SG_REG(add, op, TENSOR, "g a b", GRAPH, TENSOR, TENSOR)
SG_REG(sub, op, TENSOR, "g a b", GRAPH, TENSOR, TENSOR)
SG_REG(hadamard, op, TENSOR, "g a b", GRAPH, TENSOR, TENSOR)
SG_REG(matmul, op, TENSOR, "g a b", GRAPH, TENSOR, TENSOR)
SG_REG(matmul_t, op, TENSOR, "g a b trans_a trans_b", GRAPH, TENSOR, TENSOR, BOOL, BOOL)
SG_REG(addmm, op, TENSOR, "g x W b trans_w", GRAPH, TENSOR, TENSOR, TENSOR, BOOL)
SG_REG(sum, op, TENSOR, "g x axis", GRAPH, TENSOR, INT)
SG_REG(mean, op, TENSOR, "g x axis", GRAPH, TENSOR, INT)
SG_REG(sum_all, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(mean_all, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(softmax, op, TENSOR, "g x axis", GRAPH, TENSOR, INT)
SG_REG(log_softmax, op, TENSOR, "g x axis", GRAPH, TENSOR, INT)
SG_REG(gather_rows, op, TENSOR, "g table ids", GRAPH, TENSOR, TENSOR)
SG_REG(gather_sum, op, TENSOR, "g table ids weights", GRAPH, TENSOR, TENSOR, TENSOR)
SG_REG(gather_dot, op, TENSOR, "g table ids v", GRAPH, TENSOR, TENSOR, TENSOR)
SG_REG(cross_entropy, op, TENSOR, "g logits targets red", GRAPH, TENSOR, TENSOR, REDUCTION)
SG_REG(transpose, op, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(reshape, op, TENSOR, "g x shape", GRAPH, TENSOR, SHAPE)
SG_REG(slice, op, TENSOR, "g x axis start len", GRAPH, TENSOR, INT, SIZE, SIZE)
SG_REG(concat, op, TENSOR, "g xs n axis", GRAPH, TENSORS, SIZE, INT)
SG_REG(split, op, STATUS, "g x axis n out", GRAPH, TENSOR, INT, SIZE, TENSORS_OUT)
SG_REG(split_sizes, op, STATUS, "g x axis sizes n out", GRAPH, TENSOR, INT, SIZES, SIZE, TENSORS_OUT)

/* ---- leaves (graph/core/sg_graph.h, sg_param.h) ---- */
SG_REG(input_f64, leaf, TENSOR, "g name shape data requires_grad", GRAPH, STRING, SHAPE, DOUBLES, BOOL)
SG_REG(const_fill, leaf, TENSOR, "g name shape value", GRAPH, STRING, SHAPE, DOUBLE)
SG_REG(ids, leaf, TENSOR, "g name shape ids", GRAPH, STRING, SHAPE, IDS)
SG_REG(detach, leaf, TENSOR, "g x", GRAPH, TENSOR)
SG_REG(param_use, leaf, TENSOR, "g p", GRAPH, PARAM)

/* ---- layers and losses (models/nn/sg_nn.h) ---- */
SG_REG(activate, layer, TENSOR, "g f x", GRAPH, ACTIVATION, TENSOR)
SG_REG(linear_forward, layer, TENSOR, "g l x", GRAPH, LINEAR, TENSOR)
SG_REG(affine, layer, TENSOR, "g x W b", GRAPH, TENSOR, TENSOR, TENSOR)
SG_REG(affine_t, layer, TENSOR, "g x W b", GRAPH, TENSOR, TENSOR, TENSOR)
SG_REG(embedding_forward, layer, TENSOR, "g e ids", GRAPH, EMBEDDING, TENSOR)
SG_REG(embedding_lookup, layer, TENSOR, "g e shape ids", GRAPH, EMBEDDING, SHAPE, IDS)
SG_REG(dropout_mask, layer, TENSOR, "g rng shape p", GRAPH, RNG, SHAPE, DOUBLE)
SG_REG(dropout, layer, TENSOR, "g x p training rng", GRAPH, TENSOR, DOUBLE, BOOL, RNG)
SG_REG(dropout_variational, layer, TENSOR, "g x p training rng", GRAPH, TENSOR, DOUBLE, BOOL, RNG)
SG_REG(loss_cross_entropy, loss, TENSOR, "g logits targets weights red", GRAPH, TENSOR, TENSOR, TENSOR, REDUCTION)
SG_REG(loss_bce_logits, loss, TENSOR, "g logits targets red", GRAPH, TENSOR, TENSOR, REDUCTION)
SG_REG(loss_mse, loss, TENSOR, "g pred target red", GRAPH, TENSOR, TENSOR, REDUCTION)
SG_REG(loss_kl_gaussian, loss, TENSOR, "g mu_q logvar_q mu_p logvar_p red", GRAPH, TENSOR, TENSOR, TENSOR, TENSOR,
       REDUCTION)

/* ---- cells (models/rnn/sg_cell.h) ---- */
SG_REG(cell_step, cell, BOOL, "g cell x_t prev next", GRAPH, CELL, TENSOR, STATE_IN, STATE_OUT)
SG_REG(cell_step_rnn, cell, BOOL, "g cell x_t prev next", GRAPH, CELL, TENSOR, STATE_IN, STATE_OUT)
SG_REG(cell_step_lstm, cell, BOOL, "g cell x_t prev next", GRAPH, CELL, TENSOR, STATE_IN, STATE_OUT)
SG_REG(cell_step_gru, cell, BOOL, "g cell x_t prev next", GRAPH, CELL, TENSOR, STATE_IN, STATE_OUT)
SG_REG(cell_project, cell, TENSOR, "g cell x", GRAPH, CELL, TENSOR)
SG_REG(cell_state_zeros, cell, BOOL, "g cell batch state", GRAPH, CELL, SIZE, STATE_OUT)
