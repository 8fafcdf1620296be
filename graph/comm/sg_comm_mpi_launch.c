/* sg_comm_mpi_launch.c — how a process knows an MPI launcher started it,
 * with or without MPI in the build (so a build without it can refuse
 * `mpirun -np 2 seqgrad train ...` instead of training twice alone). */
#include "graph/comm/sg_comm_mpi.h"

#include "graph/util/sg_util.h"

#include <stdlib.h>

bool sg_comm_mpi_launched(size_t *size)
{
    /* Open MPI's mpirun, then PMI (Slurm's srun, MPICH's hydra) */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
        const char *v = getenv(vars[k]);
        uint64_t n;
        if (v && sg_parse_u64(v, &n) && n > 0) {
            if (size)
                *size = (size_t)n;
            return true;
        }
    }
    if (size)
        *size = 0;
    return false;
}
