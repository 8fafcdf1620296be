#include "pending.h"
SG_PENDING(transpose)
SG_PENDING(reshape)
SG_PENDING(slice)
SG_PENDING(concat)
SG_PENDING(split)
