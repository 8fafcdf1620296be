/* sg_comm_mpi.h — the communicator over MPI (Open MPI from Debian), the only
 * place in seqgrad that includes mpi.h (sg_comm_mpi.c).  A build without MPI
 * compiles sg_comm_mpi_none.c instead: the same functions, which say that
 * the feature is absent.
 *
 * MPI is initialised once per process (MPI_THREAD_FUNNELED: only the thread
 * that called sg_comm_mpi_new calls MPI; seqgrad's worker threads never do)
 * and finalised by sg_comm_free of the communicator it made.  Errors return
 * (MPI_ERRORS_RETURN): a failed collective is a status with MPI's message in
 * sg_comm_error, never an abort from the library. */
#ifndef SG_COMM_MPI_H
#define SG_COMM_MPI_H

#include "graph/comm/sg_comm.h"

/* True when this build has MPI. */
bool sg_comm_mpi_available(void);
/* True when this process was started by an MPI launcher (mpirun, srun with
 * PMI/PMIx): its environment names a world size.  *size receives it (0
 * when not launched so, or unreadable). */
bool sg_comm_mpi_launched(size_t *size);
/* The communicator of every rank of the job (MPI_COMM_WORLD), the
 * caller's to sg_comm_free (which finalises MPI when this call started
 * it); NULL with the reason in err when MPI is absent from the build or
 * cannot start. */
SG_NODISCARD sg_comm *sg_comm_mpi_new(char *err, size_t errcap);

#endif
