/* sg_cellfile.h — recurrent cells defined in a text file, as equations over
 * the ops of the registry (frontends/registry), with no backward pass and no
 * glue code.  A GRU:
 *
 *     # torch.nn.GRU
 *     input x I
 *     state h H
 *     param W_x (I, 3H)
 *     param b_x (3H)
 *     param W_h (H, 3H)
 *     param b_h (3H)
 *     xr, xz, xn = split(add(matmul(x, W_x), b_x), 1, 3)
 *     hr, hz, hn = split(add(matmul(h, W_h), b_h), 1, 3)
 *     r = sigmoid(add(xr, hr))
 *     z = sigmoid(add(xz, hz))
 *     n = tanh(add(xn, hadamard(r, hn)))
 *     h' = add(n, hadamard(z, sub(h, n)))
 *
 * The language (docs/cells.md has the reference):
 *   input NAME SIZE          one input, x_t (B, SIZE); SIZE is I
 *   state NAME SIZE          one or two states (h, then c), (B, SIZE); SIZE is H
 *   param NAME (D1[, D2]) [uniform|zeros|ones]
 *                            dimensions are sums and products of I, H and
 *                            integers (3H is 3*H); uniform is PyTorch's
 *                            U[-1/sqrt(H), 1/sqrt(H)], the default
 *   A = OP(ARG, ...)         one assignment a line; ARG is a name, a number
 *                            or a nested call; OP is any registered op whose
 *                            arguments are tensors, integers, sizes, reals or
 *                            flags (a run of tensors fills a TENSORS argument:
 *                            concat(a, b, 1))
 *   A, B, C = split(X, AXIS, 3)   an op with a list of outputs
 *   NAME' = ...              the new value of each state (all of them)
 *   # ...                    a comment, to the end of the line
 * Every name is assigned once; a state's new value is its primed name.
 *
 * Loading does the work once: the file is parsed, every call is resolved to
 * its registry entry and checked (arity, the kind of each argument), the
 * calls are flattened into a list of prepared libffi calls (sg_reg_call),
 * and the input projection add(matmul(x, W_x), b_x), when the input is used
 * only there and the parameters are named W_x (I, G*H) and b_x (G*H), is
 * handed to the sequence runner, which computes it for all steps in one
 * matmul as it does for the built-in cells.  A step then only fills slots
 * and makes the calls.  In matmul(h, ...) the state h is the recurrent input
 * (h_rec: h with the variational recurrent dropout mask when there is one),
 * as in the built-in cells.
 *
 * Errors: loading reports "<file>:<line>:<col>: <message>" (an unknown op
 * or name, a name assigned twice, the wrong number or kind of arguments, a
 * state never assigned, a bad size or declaration); a step that fails (a
 * shape mismatch found when the cell first runs) leaves the graph error
 * "<file>:<line>: <the op's message>".  Nothing aborts.
 *
 * Ownership: a loaded cell file owns its program; cells made from it borrow
 * it (cell->user) and must be freed first.
 */
#ifndef SG_CELLFILE_H
#define SG_CELLFILE_H

#include "models/rnn/sg_cell.h"

typedef struct sg_cellfile sg_cellfile;

/* Parses and compiles text (len bytes; name for messages, e.g. the path).
 * *out is the caller's (sg_cellfile_free).  SG_ERR_FORMAT with the message
 * in err; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_cellfile_parse(const char *text, size_t len, const char *name, sg_cellfile **out, char *err,
                                         size_t errcap);
/* The same from a file (SG_ERR_IO when it cannot be read). */
SG_NODISCARD sg_status sg_cellfile_load(const char *path, sg_cellfile **out, char *err, size_t errcap);
void sg_cellfile_free(sg_cellfile *cf);

/* A plugin cell: spec is "LIBRARY.so:FUNCTION".  The library is opened with
 * dlopen and must export FUNCTION and a string FUNCTION_decl: declarations
 * in this language (input, state, param) and one line
 *     call FUNCTION(ARG, ...)
 * that lists every declared name once, in the order of the function's
 * arguments.  The function has the natural signature
 *     sg_tensor *FUNCTION(sg_graph *g, sg_tensor *ARG, ...[, sg_tensor **c_new])
 * returning the new h (and, for a second state c, writing the new c through
 * the last argument); it is called through libffi (frontends/registry).
 * Errors: SG_ERR_IO when the library cannot be loaded; SG_ERR_FORMAT for a
 * missing symbol or a bad declaration (a call that does not pass each
 * declared name once, names another function); a step that returns NULL or
 * a tensor of the wrong shape fails with a graph error naming the cell.
 * A plugin links libseqgrad.so, and so does the CLI: the process holds one
 * copy of the library. */
SG_NODISCARD sg_status sg_cellfile_plugin(const char *spec, sg_cellfile **out, char *err, size_t errcap);

/* The file's name as given to parse/load (a plugin's spec as given).  Owned
 * by cf, valid until sg_cellfile_free. */
const char *sg_cellfile_name(const sg_cellfile *cf);
/* The text the cell was compiled from: a cell file's whole text, a plugin's
 * declaration string.  With sg_cellfile_parse it rebuilds the same cell (a
 * checkpoint keeps it).  Owned by cf, valid until sg_cellfile_free. */
const char *sg_cellfile_source(const sg_cellfile *cf);
/* A plugin's "LIBRARY.so:FUNCTION" with the library's absolute path (as
 * realpath resolved it when loaded); NULL for a cell file.  Owned by cf. */
const char *sg_cellfile_spec(const sg_cellfile *cf);
/* G when the input projection goes to the runner, else 0. */
size_t sg_cellfile_gates(const sg_cellfile *cf);

/* Makes a cell of the file (the sg_cell_make_fn signature, ctx = the
 * sg_cellfile): its parameters "<prefix>.<param>" with the declared shapes
 * for this I and H, added to ps.  SG_ERR_ARG when a dimension is 0 or a name
 * is taken; SG_ERR_NOMEM.  Pair with sg_cell_free (before sg_cellfile_free). */
SG_NODISCARD sg_status sg_cellfile_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                                        void *ctx);

#endif
