/* sg_alloc_testing.h — failure injection for tests (not for library users):
 * proves that out-of-memory is an error the caller can read, never a crash.
 */
#ifndef SG_ALLOC_TESTING_H
#define SG_ALLOC_TESTING_H

#include "graph/core/sg_alloc.h"

/* Makes the allocation that comes `n` allocations from now fail (n = 0: the
 * very next one).  A negative n disables failure injection. */
void sg_alloc_fail_after(long n);

#endif
