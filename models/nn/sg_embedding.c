/* sg_embedding.c — the embedding table: a row gather (see sg_nn.h). */
#include "models/nn/sg_nn.h"

#include <string.h>

sg_status sg_embedding_init(sg_embedding *e, sg_params *ps, const char *name, size_t vocab, size_t dim)
{
    if (!e)
        return SG_ERR_ARG;
    memset(e, 0, sizeof *e);
    if (!ps || !name || vocab == 0 || dim == 0 || sg_params_find(ps, name))
        return SG_ERR_ARG;
    e->E = sg_params_add(ps, name, SG_SHAPE(vocab, dim));
    if (!e->E)
        return SG_ERR_NOMEM;
    e->vocab = vocab;
    e->dim = dim;
    return SG_OK;
}

sg_tensor *sg_embedding_forward(sg_graph *g, const sg_embedding *e, sg_tensor *ids)
{
    if (!e || !e->E) {
        if (g && !sg_graph_status(g))
            sg_graph_fail(g, SG_ERR_ARG, "embedding: not initialized");
        return NULL;
    }
    return sg_gather_rows(g, sg_param_use(g, e->E), ids); /* (S..., D) */
}

sg_tensor *sg_embedding_lookup(sg_graph *g, const sg_embedding *e, sg_shape shape, const int32_t *ids)
{
    return sg_embedding_forward(g, e, sg_ids(g, "ids", shape, ids));
}
