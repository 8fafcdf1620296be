#include "pending.h"
SG_PENDING(matmul)
