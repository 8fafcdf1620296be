/* main.c — the seqgrad command-line tool.  Library errors come back as
 * messages; this file turns them into one line on stderr and an exit code
 * (frontends/cli/sg_cli.h, docs/errors.md): 0 success, 1 a check failed or the
 * run could not finish, 2 usage, 3 a bad input file. */
#include "frontends/cli/sg_cli.h"

#include <stdio.h>
#include <string.h>

typedef int (*sg_cmd_fn)(sg_cli_args *a);

static const struct {
    const char *name;
    sg_cmd_fn run;
} sg_commands[] = {
    {"demo", sg_cmd_demo},         {"gradcheck", sg_cmd_gradcheck}, {"graph", sg_cmd_graph},
    {"train", sg_cmd_train},       {"eval", sg_cmd_eval},           {"generate", sg_cmd_generate},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        sg_cli_help(stderr, NULL, NULL);
        return SG_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && sg_cli_is_command(argv[2])) {
            sg_cli_help(stdout, argv[2], argc > 3 ? argv[3] : NULL);
            return SG_EXIT_OK;
        }
        sg_cli_help(stdout, NULL, NULL);
        return SG_EXIT_OK;
    }
    sg_cmd_fn run = NULL;
    for (size_t i = 0; i < sizeof sg_commands / sizeof sg_commands[0]; i++)
        if (strcmp(cmd, sg_commands[i].name) == 0)
            run = sg_commands[i].run;
    if (!run) {
        sg_cli_error("unknown command '%s' (see 'seqgrad help')", cmd);
        return SG_EXIT_USAGE;
    }
    sg_cli_args a;
    int rc = sg_cli_args_init(&a, cmd, argc - 2, argv + 2);
    if (rc != 0)
        return rc;
    if (a.help) {
        sg_cli_help(stdout, cmd, sg_cli_positional(&a));
        rc = SG_EXIT_OK;
    } else {
        rc = run(&a);
    }
    sg_cli_args_free(&a);
    return rc;
}
