#include "pending.h"
SG_PENDING(sum)
SG_PENDING(mean)
SG_PENDING(softmax)
SG_PENDING(log_softmax)
