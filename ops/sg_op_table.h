/* sg_op_table.h — the one registry of primitive ops (defined in sg_op_table.c).
 * Each descriptor is defined in its op family's file, beside its kernels.
 *
 * Ownership: the table and its descriptors are static (never freed);
 * sg_op_find returns one of them.
 */
#ifndef SG_OP_TABLE_H
#define SG_OP_TABLE_H

#include "graph/core/sg_op.h"

extern const sg_op *const sg_op_table[];
extern const size_t sg_op_table_len;

/* The descriptor with this name, or NULL. */
const sg_op *sg_op_find(const char *name);

/* Descriptors, by family. */
extern const sg_op sg_op_sigmoid, sg_op_tanh, sg_op_relu, sg_op_exp, sg_op_log, sg_op_softplus, sg_op_log_sigmoid,
    sg_op_scale;
extern const sg_op sg_op_add, sg_op_sub, sg_op_hadamard;
extern const sg_op sg_op_matmul, sg_op_addmm;
extern const sg_op sg_op_sum, sg_op_mean, sg_op_softmax, sg_op_log_softmax;
extern const sg_op sg_op_gather_rows, sg_op_gather_sum, sg_op_gather_dot, sg_op_cross_entropy;
extern const sg_op sg_op_transpose, sg_op_reshape, sg_op_slice, sg_op_concat, sg_op_split;

#endif
