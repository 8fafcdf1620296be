/* sg_activation.c — the elementwise nonlinearities of cells and layers, by name
 * (see sg_nn.h).  Op calls only. */
#include "models/nn/sg_nn.h"

#include <string.h>

sg_status sg_activation_parse(const char *name, sg_activation *out)
{
    static const sg_activation all[] = {SG_ACT_TANH, SG_ACT_SIGMOID, SG_ACT_RELU};
    if (!name || !out)
        return SG_ERR_ARG;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, sg_activation_name(all[i])) == 0) {
            *out = all[i];
            return SG_OK;
        }
    return SG_ERR_ARG;
}

const char *sg_activation_name(sg_activation a)
{
    switch (a) {
    case SG_ACT_TANH: return "tanh";
    case SG_ACT_SIGMOID: return "sigmoid";
    case SG_ACT_RELU: return "relu";
    }
    return "?";
}

sg_tensor *sg_activate(sg_graph *g, sg_activation f, sg_tensor *x)
{
    switch (f) {
    case SG_ACT_SIGMOID: return sg_sigmoid(g, x);
    case SG_ACT_RELU: return sg_relu(g, x);
    case SG_ACT_TANH: break;
    }
    return sg_tanh(g, x);
}
