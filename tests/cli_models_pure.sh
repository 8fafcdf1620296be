#!/usr/bin/env bash
# models/ is op calls only: no backward code, no VJP, no gradient arithmetic.
# Fails if any file under models/ names a VJP or backward function, touches a
# tensor's ->grad, or indexes a gradient buffer; and no part above graph/
# includes the engine's internal hooks or the test-only allocation hooks.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
hits=$(grep -rnE '(_vjp|_backward|backward_fn|->grad\b|\.grad\b|sg_param_grad_get|sg_tensor_grad_get|sg_params_scale_grad|sg_backward_seed|sg_params_grad_norm|->m\b|->v\b|grad(ient)?\[[^]]*\] *[-+*/]?=|sg_op_apply|sg_op\b)' \
       "$root/models" --include='*.c' --include='*.h' | grep -vE 'sg_backward\(|sg_params_zero_grad|clip_grad_norm')
if [ -n "$hits" ]; then
  echo "models/ must be op calls only; found gradient code:"
  echo "$hits"
  echo "0 passed, 1 failed"
  exit 1
fi
# The engine's internal hooks and the test-only failure injection stay below
# graph/ (and in tests/): no model, op or frontend includes them.
hooks=$(grep -rnE '#include "graph/core/(sg_graph_hooks|sg_alloc_testing)\.h"' "$root/models" "$root/ops" "$root/frontends" \
        --include='*.c' --include='*.h')
if [ -n "$hooks" ]; then
  echo "internal or test-only headers used outside graph/:"
  echo "$hooks"
  echo "0 passed, 1 failed"
  exit 1
fi
# MPI comes in through the communicator alone: one file includes mpi.h.
mpi=$(grep -rlE '#include <mpi\.h>' "$root/graph" "$root/ops" "$root/models" "$root/frontends" --include='*.c' --include='*.h' \
      | sed "s|$root/||")
if [ "$mpi" != "graph/comm/sg_comm_mpi.c" ]; then
  echo "mpi.h must be included by graph/comm/sg_comm_mpi.c alone; included by: ${mpi:-nothing}"
  echo "0 passed, 1 failed"
  exit 1
fi
n=$(find "$root/models" -name '*.c' | wc -l)
[ "$n" -gt 0 ] || { echo "no sources found under models/"; echo "0 passed, 1 failed"; exit 1; }
echo "models/ holds $n source files in $(find "$root/models" -mindepth 1 -type d | wc -l) folders, none with gradient code"
echo "1 passed, 0 failed"
