/* main.c — the seqgrad command-line tool.  Library errors come back as
 * messages; this file turns them into one line on stderr and an exit code
 * (frontends/cli/sg_cli.h, docs/errors.md): 0 success, 1 a check failed or the
 * run could not finish, 2 usage, 3 a bad input file. */
#include "frontends/cli/sg_cli.h"
#include "graph/comm/sg_comm_mpi.h"
#include "ops/sg_gemm_packed.h"
#include "ops/sg_threads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        sg_cli_help(stderr, NULL, NULL);
        return SG_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("seqgrad %s\n", SG_VERSION);
        printf("data-parallel training over MPI (mpirun -np N seqgrad train lm): %s\n",
               sg_comm_mpi_available() ? "yes" : "absent from this build");
        const char *forced = getenv("OPENBLAS_CORETYPE"); /* read by OpenBLAS when it loads */
        printf("BLAS kernels: OpenBLAS %s (%s%s)\n", sg_blas_core(), forced ? "OPENBLAS_CORETYPE=" : "its own choice",
               forced ? forced : "");
        printf("products of few rows against a weight: %s\n",
               sg_gemm_packed_on() ? "packed once per graph, AVX-512F kernel" : "BLAS (this CPU has no AVX-512F)");
        return SG_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && sg_cli_command_find(argv[2])) {
            sg_cli_help(stdout, argv[2], argc > 3 ? argv[3] : NULL);
            return SG_EXIT_OK;
        }
        sg_cli_help(stdout, NULL, NULL);
        return SG_EXIT_OK;
    }
    sg_cli_command_fn run = sg_cli_command_find(cmd);
    if (!run) {
        sg_cli_error("unknown command '%s' (see 'seqgrad help')", cmd);
        return SG_EXIT_USAGE;
    }
    sg_cli_args a;
    int rc = sg_cli_args_init(&a, cmd, argc - 2, argv + 2);
    if (rc != 0)
        return rc;
    size_t ranks = 0;
    const char *task = sg_cli_positional_peek(&a);
    if (a.help) {
        sg_cli_help(stdout, cmd, sg_cli_positional(&a));
        rc = SG_EXIT_OK;
    } else if (sg_comm_mpi_launched(&ranks) && ranks > 1 &&
               !(strcmp(cmd, "train") == 0 && task && (strcmp(task, "lm") == 0 || strcmp(task, "seq2seq") == 0))) {
        /* N copies of the same run would only race for the same files */
        sg_cli_error("started by an MPI launcher with %zu ranks: only 'train lm' and 'train seq2seq' train "
                     "data-parallel; run 'seqgrad %s%s%s' without mpirun",
                     ranks, cmd, task ? " " : "", task ? task : "");
        rc = SG_EXIT_USAGE;
    } else {
        rc = run(&a);
    }
    sg_cli_args_free(&a);
    /* what was printed must have reached its destination (a full disk, a closed pipe) */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        sg_cli_error("writing the output failed: %s", strerror(errno));
        if (rc == SG_EXIT_OK)
            rc = SG_EXIT_FAIL;
    }
    return rc;
}
