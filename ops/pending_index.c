#include "pending.h"
SG_PENDING(gather_rows)
SG_PENDING(cross_entropy)
