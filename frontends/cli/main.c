/* main.c — the seqgrad command-line tool.  Library errors come back as
 * messages; this file turns them into one line on stderr and an exit code:
 * 0 success, 1 failure (a check failed, a file could not be written), 2 usage. */
#include "frontends/cli/sg_cli.h"

#include <stdio.h>
#include <string.h>

static void sg_usage(FILE *f)
{
    fputs("usage: seqgrad <command> [options]\n"
          "\n"
          "commands:\n"
          "  demo                       train an Elman RNN on 8-bit binary addition, gradient-check it,\n"
          "                             and draw its unrolled graph and loss curve\n"
          "      --activation tanh|sigmoid|relu  --hidden N  --steps N  --batch N  --lr X  --seed N\n"
          "      --out DIR (default seqgrad-demo)\n"
          "  gradcheck addition|ops     numerical gradient check in f64 (model mode and per-op mode);\n"
          "                             exits non-zero and names the first wrong op on failure\n"
          "      --activation  --hidden  --bits  --pairs N  --seed\n"
          "  graph addition -o FILE     draw the unrolled RNN; FILE ends in .dot, .svg or .png\n"
          "      --collapse none|scope|N (draw each scope at depth N as one node)  --grad-norms\n"
          "  graph lm -o FILE           draw the language model unrolled (--layers --bptt --hidden --cell --collapse)\n"
          "  gradcheck lm               gradient-check a small language model (--cell --layers --bptt --hidden --tie)\n"
          "  train lm --data DIR        train a word-level language model (Zaremba et al. small config by default)\n"
          "      --cell lstm|gru|peephole|rnn|rnn-relu|rnn-sigmoid  --hidden 200  --layers 2  --embed H  --tie\n"
          "      --bptt 20  --batch 20  --epochs 13  --lr 1  --optim sgd|adam  --decay 0.5  --decay-start 4\n"
          "      --clip 5  --dropout 0  --init 0.1  --forget-bias -1 (keep)  --seed 1  --threads N\n"
          "      --save CKPT  --resume CKPT  --log FILE.jsonl  --max-windows N (per epoch, for quick runs)\n"
          "  train sine                 a simple RNN predicts a sine wave from a window of past values;\n"
          "                             draws prediction vs truth (--cell --hidden --window --steps --batch --lr\n"
          "                             --noise --seed --out DIR)\n"
          "  eval --load CKPT --data DIR [--split valid|test]   perplexity of a saved model\n"
          "  generate --load CKPT [--words 50] [--temperature 1 | --greedy] [--prime \"the\"] [--seed]\n"
          "  help                       this text\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        sg_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        sg_usage(stdout);
        return 0;
    }
    sg_cli_args a;
    if (!sg_cli_args_init(&a, argc - 2, argv + 2)) {
        sg_cli_error("out of memory");
        return 1;
    }
    int rc;
    if (strcmp(cmd, "demo") == 0)
        rc = sg_cmd_demo(&a);
    else if (strcmp(cmd, "gradcheck") == 0)
        rc = sg_cmd_gradcheck(&a);
    else if (strcmp(cmd, "graph") == 0)
        rc = sg_cmd_graph(&a);
    else if (strcmp(cmd, "train") == 0)
        rc = sg_cmd_train(&a);
    else if (strcmp(cmd, "eval") == 0)
        rc = sg_cmd_eval(&a);
    else if (strcmp(cmd, "generate") == 0)
        rc = sg_cmd_generate(&a);
    else {
        sg_cli_error("unknown command '%s' (see 'seqgrad help')", cmd);
        rc = 2;
    }
    sg_cli_args_free(&a);
    return rc;
}
