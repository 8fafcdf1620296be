#include "pending.h"
SG_PENDING(add)
SG_PENDING(sub)
SG_PENDING(hadamard)
