/* mgu_plugin.c — a recurrent cell written in C as a plugin, with no backward
 * pass: the minimal gated unit (Zhou et al. 2016),
 *     f  = sigmoid(x W_f + h U_f + b_f)
 *     n  = tanh(x W_n + (f * h) U_n + b_n)
 *     h' = h + f * (n - h)
 * Build it against an installed seqgrad and give it to the CLI:
 *     cc -std=c11 -shared -fPIC -o libmgu.so mgu_plugin.c $(pkg-config --cflags --libs seqgrad)
 *     seqgrad train lm --data DIR --cell ./libmgu.so:mgu_cell
 * The tutorial is docs/plugin.md. */
#include "ops/sg_ops.h"

/* What the cell is: its input, its state, its parameters (shapes in I and H,
 * created and initialized by seqgrad as "<layer>.W_f", ...), and the order
 * in which mgu_cell takes them. */
const char mgu_cell_decl[] = "input x I\n"
                             "state h H\n"
                             "param W_f (I, H)\n"
                             "param U_f (H, H)\n"
                             "param b_f (H)\n"
                             "param W_n (I, H)\n"
                             "param U_n (H, H)\n"
                             "param b_n (H)\n"
                             "call mgu_cell(W_f, U_f, b_f, W_n, U_n, b_n, x, h)\n";

/* x_t (B, I), h (B, H) -> h' (B, H); every parameter is a tensor of the
 * graph.  Op calls only: the tape differentiates them. */
sg_tensor *mgu_cell(sg_graph *g, sg_tensor *W_f, sg_tensor *U_f, sg_tensor *b_f, sg_tensor *W_n, sg_tensor *U_n,
                    sg_tensor *b_n, sg_tensor *x, sg_tensor *h)
{
    sg_tensor *f = sg_sigmoid(g, sg_add(g, sg_add(g, sg_matmul(g, x, W_f), sg_matmul(g, h, U_f)), b_f));
    sg_tensor *n = sg_tanh(g, sg_add(g, sg_add(g, sg_matmul(g, x, W_n), sg_matmul(g, sg_hadamard(g, f, h), U_n)), b_n));
    return sg_add(g, h, sg_hadamard(g, f, sg_sub(g, n, h)));
}
