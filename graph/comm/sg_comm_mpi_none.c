/* sg_comm_mpi_none.c — sg_comm_mpi.h in a build without MPI: the feature is
 * absent, and says so. */
#include "graph/comm/sg_comm_mpi.h"

#include <stdio.h>

bool sg_comm_mpi_available(void) { return false; }

sg_comm *sg_comm_mpi_new(char *err, size_t errcap)
{
    snprintf(err, errcap,
             "this seqgrad was built without MPI (CMake found no Open MPI: install libopenmpi-dev and openmpi-bin, "
             "then rebuild), so it cannot train over several ranks");
    return NULL;
}
