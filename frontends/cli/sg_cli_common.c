/* sg_cli_common.c — what every seqgrad command shares: exit codes for
 * library errors. */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_cli_exit_for(sg_status st)
{
    switch (st) {
    case SG_OK: return SG_EXIT_OK;
    case SG_ERR_IO:
    case SG_ERR_FORMAT:
    case SG_ERR_SHAPE:
    case SG_ERR_DTYPE: return SG_EXIT_INPUT;
    default: return SG_EXIT_FAIL;
    }
}
