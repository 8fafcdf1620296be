/* sg_op_table.c — the one registry of primitive ops.  A test walks it and fails
 * if any op lacks a VJP (for a differentiable input) or a gradient-check case. */
#include "ops/sg_op_table.h"

#include <string.h>

const sg_op *const sg_op_table[] = {
    &sg_op_sigmoid,     &sg_op_tanh,        &sg_op_relu,       &sg_op_exp,        &sg_op_log,
    &sg_op_softplus,    &sg_op_log_sigmoid, &sg_op_scale,      &sg_op_add,        &sg_op_sub,
    &sg_op_hadamard,    &sg_op_matmul,      &sg_op_sum,        &sg_op_mean,       &sg_op_softmax,
    &sg_op_log_softmax, &sg_op_gather_rows, &sg_op_gather_sum, &sg_op_gather_dot, &sg_op_cross_entropy,
    &sg_op_transpose,   &sg_op_reshape,     &sg_op_slice,      &sg_op_concat,     &sg_op_split,
    &sg_op_addmm,
};

const size_t sg_op_table_len = sizeof sg_op_table / sizeof sg_op_table[0];

const sg_op *sg_op_find(const char *name)
{
    for (size_t i = 0; i < sg_op_table_len; i++)
        if (strcmp(sg_op_table[i]->name, name) == 0)
            return sg_op_table[i];
    return NULL;
}
