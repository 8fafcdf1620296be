/* sg_cli_args.c — the command line: one declared table of every option
 * (name, whether it takes a value, where it applies, its help), parsed with
 * getopt_long, and the help text of every command generated from it.
 *
 * Parsing binds values to options before anything else looks at the line, so
 * `seqgrad train --data d lm` reads "d" as --data's value and "lm" as the
 * task, and an option given last without its value is a usage error (exit 2),
 * never an option silently left at its default.  Names must be given in full
 * (no abbreviations).  Commands then take their values with sg_cli_opt & co.;
 * an option the command did not take is refused by sg_cli_check_all_used.
 */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the option table -------------------------------------------------------
 * where: space-separated "command" or "command:task" tokens the option is
 * documented for (help lists it there). */
typedef struct sg_cli_option {
    const char *name;
    const char *metavar; /* NULL: a flag without value */
    int short_name;      /* 0 or a letter */
    const char *where;
    const char *help;
} sg_cli_option;

#define SG_LM_MODEL "train:lm graph:lm gradcheck:lm"
#define SG_SINE_MODEL "train:sine graph:sine gradcheck:sine"
#define SG_S2S_MODEL "train:seq2seq graph:seq2seq gradcheck:seq2seq"
#define SG_W2V_MODEL "train:word2vec graph:word2vec gradcheck:word2vec"
#define SG_HD_MODEL "train:hred train:vhred graph:hred graph:vhred gradcheck:hred gradcheck:vhred"
#define SG_HD_TRAIN "train:hred train:vhred"
static const sg_cli_option sg_cli_options[] = {
    {"help", NULL, 'h', "*", "print this help and exit 0"},
    /* data and files */
    {"data", "DIR", 0, "train:lm eval train:seq2seq train:word2vec " SG_HD_TRAIN,
     "LM: corpus directory (train.txt/valid.txt/test.txt or ptb.*.txt); seq2seq: a file of source_target pairs; "
     "hred, vhred: one dialogue per line, utterances separated by __eou__"},
    {"save", "CKPT", 0, "train:lm train:seq2seq train:word2vec " SG_HD_TRAIN,
     "write a checkpoint (atomically) at the end of every epoch"},
    {"resume", "CKPT", 0, "train:lm train:seq2seq", "continue a run from its checkpoint, bit for bit"},
    {"load", "CKPT", 0, "eval generate attention", "the trained model's checkpoint"},
    {"log", "FILE", 0, "train:lm train:seq2seq train:word2vec " SG_HD_TRAIN,
     "append one JSON object per epoch (word2vec: per pass)"},
    {"out", "DIR", 0, "demo train:sine attention", "directory for pictures and files"},
    {"output", "FILE", 'o', "graph train:word2vec dialogues gradflow",
     "graph: picture to write (.dot, .svg or .png); word2vec: the vectors"},
    {"split", "valid|test", 0, "eval", "which held-out split (default test)"},
    /* model shape */
    {"cell", "KIND", 0, SG_LM_MODEL " " SG_SINE_MODEL " " SG_S2S_MODEL " " SG_HD_MODEL " gradflow",
     "lstm, gru, peephole, rnn, rnn-relu or rnn-sigmoid"},
    {"hidden", "N", 0,
     SG_LM_MODEL " " SG_SINE_MODEL " " SG_S2S_MODEL " " SG_HD_MODEL " gradflow demo graph:addition gradcheck:addition",
     "hidden units"},
    {"layers", "N", 0, SG_LM_MODEL " " SG_S2S_MODEL, "stacked recurrent layers"},
    {"embed", "N", 0, SG_LM_MODEL " " SG_S2S_MODEL " " SG_HD_MODEL, "embedding size (default: --hidden)"},
    {"tie", NULL, 0, SG_LM_MODEL, "tie the output projection to the embedding"},
    {"vocab", "N", 0, "graph:lm gradcheck:lm", "vocabulary size of the drawn or checked model"},
    {"graph-batch", "N", 0, "graph:lm gradcheck:lm", "batch of the drawn or checked model"},
    {"activation", "F", 0, "demo graph:addition gradcheck:addition", "tanh, sigmoid or relu"},
    {"bits", "N", 0, "demo graph:addition gradcheck:addition", "bits of the sum (2..16)"},
    {"window", "N", 0, SG_SINE_MODEL " " SG_W2V_MODEL,
     "sine: past values the RNN reads; word2vec: context words each side (default 5)"},
    {"noise", "STD", 0, "train:sine", "Gaussian noise on the series"},
    /* training */
    {"bptt", "N", 0, SG_LM_MODEL " eval", "unroll length"},
    {"batch", "N", 0, "train:lm train:sine train:seq2seq gradflow demo eval " SG_HD_TRAIN " " SG_W2V_MODEL,
     "batch size (parallel streams for the LM)"},
    {"epochs", "N", 0, "train:lm train:seq2seq " SG_HD_TRAIN, "passes over the training data"},
    {"bucket", "N", 0, "train:seq2seq " SG_HD_TRAIN,
     "sort pools of N batches by length (default 1: random batches; 20 pads less but makes batches alike)"},
    {"steps", "N", 0, "train:sine demo gradflow", "training steps"},
    {"lr", "X", 0, "train:lm train:sine train:seq2seq demo train:word2vec gradflow " SG_HD_TRAIN,
     "learning rate (LM: 1 for sgd, 0.002 for adam)"},
    {"optim", "sgd|adam", 0, "train:lm", "optimizer"},
    {"decay", "X", 0, "train:lm train:seq2seq", "learning-rate factor per epoch after --decay-start"},
    {"decay-start", "N", 0, "train:lm train:seq2seq", "first epoch whose end decays the rate"},
    {"clip", "X", 0, "train:lm train:seq2seq gradflow " SG_HD_TRAIN, "global gradient-norm clip"},
    {"dropout", "P", 0, "train:lm", "dropout on embeddings, between layers, on the output"},
    {"init", "R", 0, "train:lm", "parameters ~ U[-R, R)"},
    {"forget-bias", "X", 0, "train:lm", "LSTM forget-gate bias after init (-1: keep)"},
    {"min-count", "N", 0, "train:lm train:word2vec " SG_HD_TRAIN,
     "words seen fewer times become <unk> (word2vec: are dropped; default 5)"},
    {"max-windows", "N", 0, "train:lm", "windows per epoch (0: all), for quick runs"},
    {"max-batches", "N", 0, "train:seq2seq " SG_HD_TRAIN, "batches per epoch (0: all), for quick runs and benchmarks"},
    {"eval-every", "N", 0, "demo", "steps between accuracy evaluations"},
    {"threads", "N", 0, "train:lm eval train:seq2seq train:word2vec " SG_HD_TRAIN,
     "threads: BLAS, or word2vec's data-parallel workers (default: all cores)"},
    {"seed", "N", 0, "*", "random seed"},
    /* data-parallel training (mpirun -np N seqgrad train ...) */
    {"bucket-mb", "X", 0, "train:lm train:seq2seq",
     "mpirun: MiB of gradients per allreduce bucket, reduced during backward (default 4)"},
    {"no-overlap", NULL, 0, "train:lm train:seq2seq",
     "mpirun: reduce every bucket after backward (blocking) instead of during it"},
    {"sync-check", "K", 0, "train:lm train:seq2seq",
     "mpirun: compare a checksum of the parameters over the ranks every K steps (0: never; debug builds: 100)"},
    {"reshard", NULL, 0, "train:lm train:seq2seq", "--resume a checkpoint saved by another number of ranks"},
    /* checks and pictures */
    {"attention", "KIND", 0, SG_S2S_MODEL, "none, dot, general or additive"},
    {"reverse", NULL, 0, SG_S2S_MODEL, "read each source backwards"},
    {"peeky", NULL, 0, SG_S2S_MODEL, "feed the encoder's summary to every decoder step and the output layer"},
    {"bidirectional", NULL, 0, SG_S2S_MODEL " " SG_HD_MODEL, "a bidirectional encoder"},
    {"arch", "skipgram|cbow", 0, SG_W2V_MODEL, "word2vec architecture (default skipgram)"},
    {"dim", "N", 0, SG_W2V_MODEL, "word vector size (default 100)"},
    {"negative", "K", 0, SG_W2V_MODEL, "negative samples per example (default 5)"},
    {"iter", "N", 0, SG_W2V_MODEL, "passes over the corpus (default 5)"},
    {"cbow-update", "word2vec|exact", 0, "train:word2vec",
     "CBOW: the whole error to each context word, as word2vec.c and gensim (default), or the exact gradient of "
     "the mean"},
    {"binary", NULL, 0, "train:word2vec similar analogy", "vectors in the word2vec binary format"},
    {"vectors", "FILE", 0, "similar analogy", "word vectors (the word2vec text format, or --binary)"},
    {"questions", "FILE", 0, "analogy", "analogy questions (questions-words.txt format)"},
    {"top", "N", 'k', "similar", "neighbours to show (default 10)"},
    {"input-feeding", NULL, 0, SG_S2S_MODEL, "feed the last attentional state into the next decoder step (Luong)"},
    {"input", "TEXT", 0, "generate:seq2seq attention", "the source to decode"},
    {"beam", "K", 0, "generate:seq2seq eval:seq2seq train:seq2seq", "beam width (1: greedy)"},
    {"max-len", "N", 0, "generate:seq2seq attention generate:hred generate:vhred",
     "the longest output decoded (default 64)"},
    {"tags", "FILE", 0, SG_HD_TRAIN " eval:hred eval:vhred",
     "one character per utterance of each dialogue line (c: context reply, m: several valid answers)"},
    {"context-hidden", "N", 0, SG_HD_MODEL, "units of the context RNN (default: --hidden)"},
    {"latent", "N", 0, "train:vhred graph:vhred gradcheck:vhred", "size of VHRED's z (default: --hidden / 2)"},
    {"mlp", "N", 0, "train:vhred graph:vhred gradcheck:vhred",
     "units of the prior's and posterior's layers (default: --context-hidden)"},
    {"no-context-input", NULL, 0, SG_HD_MODEL, "feed the context to the decoder's first state only, not to every step"},
    {"prev-only", NULL, 0, "train:hred graph:hred gradcheck:hred",
     "the baseline: a seq2seq that sees only the previous utterance"},
    {"truncate", "N", 0, SG_HD_TRAIN, "truncated BPTT: cut the context RNN's gradient every N utterances (0: never)"},
    {"kl-anneal", "N", 0, "train:vhred", "KL weight rising linearly from 0 to 1 over N steps (0: always 1)"},
    {"word-dropout", "P", 0, SG_HD_TRAIN, "replace decoder input words by <unk> with probability P"},
    {"max-turns", "N", 0, SG_HD_TRAIN, "the most utterances a dialogue may have (default 32)"},
    {"context", "TEXT", 0, "generate:hred generate:vhred", "the dialogue so far, utterances separated by __eou__"},
    {"samples", "N", 0, "generate:hred generate:vhred", "replies to draw (default 1)"},
    {"dialogues", "N", 0, "dialogues", "dialogues to generate (default 20000)"},
    {"seeds", "N", 0, "gradflow", "random inputs the norms are averaged over (default 5)"},
    {"gain", "G", 0, "gradflow", "scale every recurrent weight matrix (default 1; 4 with --explode)"},
    {"explode", NULL, 0, "gradflow",
     "an exploding tanh RNN (W_h x 4), and its training loss without and with clipping (<name>-clip.png)"},
    {"train-steps", "N", 0, "gradflow", "training steps of --explode's runs (default 200)"},
    {"tokens", "chars|words", 0, "train:seq2seq", "what a token is (default chars)"},
    {"valid-frac", "F", 0, "train:seq2seq " SG_HD_TRAIN, "share of the pairs held out for validation (default 0.1)"},
    {"test-frac", "F", 0, "train:seq2seq " SG_HD_TRAIN, "share of the pairs held out for test (default 0.1)"},
    {"pairs", "N", 0, "gradcheck:addition", "addition pairs in the checked batch (>= 1)"},
    {"eps", "H", 0, "gradcheck", "central-difference step (default 1e-2; halved as needed)"},
    {"sample", "N", 0, "gradcheck train:word2vec",
     "gradcheck: check N seeded elements per tensor (0: every element); word2vec: the subsampling threshold (1e-3)"},
    {"json", NULL, 0, "gradcheck gradflow registry", "print the report as JSON: totals, per parameter, per scope"},
    {"collapse", "none|scope|N", 0, "graph", "draw every scope at depth N as one node"},
    {"grad-norms", NULL, 0, "graph", "label nodes with their gradient norms"},
    /* generation */
    {"words", "N", 0, "generate", "words to generate"},
    {"temperature", "T", 0, "generate", "sampling temperature (0: greedy)"},
    {"greedy", NULL, 0, "generate", "always the most likely word"},
    {"prime", "TEXT", 0, "generate", "words to start from"},
};
enum { SG_CLI_N_OPTIONS = sizeof sg_cli_options / sizeof sg_cli_options[0] };

/* ---- commands ------------------------------------------------------------- */
/* The one list of commands: main dispatches on it, help prints it. */
typedef struct sg_cli_command {
    const char *name;
    const char *tasks;  /* "" when the command takes no task */
    bool task_optional; /* the task may be left out (read from the checkpoint) */
    const char *summary;
    sg_cli_command_fn run;
} sg_cli_command;

static const sg_cli_command sg_cli_commands[] = {
    {"demo", "", false, "train a simple RNN on 8-bit binary addition, gradient-check it, draw its graph and loss curve",
     sg_cmd_demo},
    {"train", "lm sine seq2seq word2vec hred vhred", false,
     "train a model: lm (word-level language model), sine (next-value prediction), seq2seq (encoder-decoder), "
     "word2vec (word vectors), hred and vhred (dialogue models)",
     sg_cmd_train},
    {"eval", "lm seq2seq hred vhred", true,
     "a saved model on a held-out split: perplexity (lm), exact match (seq2seq), perplexity, exact match and "
     "distinct-n (hred, vhred); the task is read from the checkpoint",
     sg_cmd_eval},
    {"generate", "lm seq2seq hred vhred", true, "generate from a saved model (the task is read from the checkpoint)",
     sg_cmd_generate},
    {"gradcheck", "addition lm sine seq2seq word2vec hred vhred ops", false,
     "numerical gradient check in f64 (model and per-op mode)", sg_cmd_gradcheck},
    {"graph", "addition lm sine seq2seq word2vec hred vhred", false, "draw a model's unrolled computation graph",
     sg_cmd_graph},
    {"attention", "", false, "decode one input with a saved attention seq2seq and draw its weights (PNG and SVG)",
     sg_cmd_attention},
    {"dialogues", "", false, "write the generated multi-turn corpus (and its tags) for the dialogue models",
     sg_cmd_dialogues},
    {"gradflow", "", false, "||dL/dh_t|| over the steps of each --cell, in one log-scale picture", sg_cmd_gradflow},
    {"registry", "", false, "the op registry: every op, layer and cell step with its C signature (--json)",
     sg_cmd_registry},
    {"similar", "", false, "the nearest words to a word by cosine, from word vectors", sg_cmd_similar},
    {"analogy", "", false, "analogy accuracy of word vectors (questions-words.txt), per section", sg_cmd_analogy},
};
enum { SG_CLI_N_COMMANDS = sizeof sg_cli_commands / sizeof sg_cli_commands[0] };

/* Whether token list `where` names cmd (any task), cmd:task, or "*". */
static bool sg_cli_where_has(const char *where, const char *cmd, const char *task)
{
    size_t nc = strlen(cmd);
    for (const char *p = where; *p;) {
        size_t n = strcspn(p, " ");
        if ((n == 1 && p[0] == '*') || (n == nc && strncmp(p, cmd, nc) == 0) ||
            (n > nc && strncmp(p, cmd, nc) == 0 && p[nc] == ':' &&
             (!task || (n - nc - 1 == strlen(task) && strncmp(p + nc + 1, task, n - nc - 1) == 0))))
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

static const sg_cli_command *sg_cli_command_get(const char *cmd)
{
    for (size_t i = 0; cmd && i < SG_CLI_N_COMMANDS; i++)
        if (strcmp(sg_cli_commands[i].name, cmd) == 0)
            return &sg_cli_commands[i];
    return NULL;
}

sg_cli_command_fn sg_cli_command_find(const char *cmd)
{
    const sg_cli_command *c = sg_cli_command_get(cmd);
    return c ? c->run : NULL;
}

void sg_cli_help(FILE *f, const char *cmd, const char *task)
{
    if (!cmd) {
        fputs("usage: seqgrad <command> [task] [options]\n\ncommands:\n", f);
        for (size_t i = 0; i < SG_CLI_N_COMMANDS; i++) {
            fprintf(f, "  %-10s %s\n", sg_cli_commands[i].name, sg_cli_commands[i].summary);
            if (sg_cli_commands[i].tasks[0])
                fprintf(f, "  %-10s tasks: %s\n", "", sg_cli_commands[i].tasks);
        }
        fputs("\n'seqgrad <command> --help' lists a command's options; 'seqgrad <command> <task> --help'\n"
              "those of one task.\n\n"
              "exit codes: 0 success; 1 a check failed or the run could not finish (for example an\n"
              "output could not be written); 2 usage error (unknown or malformed option, missing value);\n"
              "3 bad input file (missing, unreadable or malformed data or checkpoint).\n",
              f);
        return;
    }
    const sg_cli_command *c = sg_cli_command_get(cmd);
    if (!c)
        return;
    if (c->tasks[0] && !task)
        fprintf(f, c->task_optional ? "usage: seqgrad %s [%s] [options]\n" : "usage: seqgrad %s {%s} [options]\n", cmd,
                c->tasks);
    else
        fprintf(f, "usage: seqgrad %s%s%s [options]\n", cmd, task ? " " : "", task ? task : "");
    fprintf(f, "%s\n\noptions%s%s:\n", c->summary, task ? " of " : "", task ? task : "");
    for (size_t i = 0; i < SG_CLI_N_OPTIONS; i++) {
        const sg_cli_option *o = &sg_cli_options[i];
        if (!sg_cli_where_has(o->where, cmd, task))
            continue;
        char lhs[64];
        if (o->short_name)
            snprintf(lhs, sizeof lhs, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        else
            snprintf(lhs, sizeof lhs, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(f, "  %-30s %s\n", lhs, o->help);
    }
}

/* ---- parsing ---------------------------------------------------------------- */

static char sg_cli_error_who[64]; /* "rank 1 of 2: " in a data-parallel run */

void sg_cli_error_set_rank(size_t rank, size_t size)
{
    if (size > 1)
        snprintf(sg_cli_error_who, sizeof sg_cli_error_who, "rank %zu of %zu: ", rank, size);
    else
        sg_cli_error_who[0] = '\0';
}

void sg_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seqgrad: ", stderr);
    fputs(sg_cli_error_who, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void sg_cli_args_free(sg_cli_args *a)
{
    sg_free(a->items);
    sg_free(a->argv_copy);
    memset(a, 0, sizeof *a);
}

/* The table index of an option, by exact name. */
static int sg_cli_find(const char *name, size_t len)
{
    for (int i = 0; i < SG_CLI_N_OPTIONS; i++)
        if (strlen(sg_cli_options[i].name) == len && strncmp(sg_cli_options[i].name, name, len) == 0)
            return i;
    return -1;
}

int sg_cli_args_init(sg_cli_args *a, const char *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    /* getopt_long permutes its vector: work on a copy, argv[0] = the command */
    a->argv_copy = sg_calloc((size_t)argc + 2, sizeof *a->argv_copy);
    a->items = sg_calloc((size_t)argc + 1, sizeof *a->items);
    if (!a->argv_copy || !a->items) {
        sg_cli_error("out of memory");
        sg_cli_args_free(a);
        return SG_EXIT_FAIL;
    }
    a->argv_copy[0] = (char *)cmd;
    for (int i = 0; i < argc; i++)
        a->argv_copy[i + 1] = argv[i];
    struct option longs[SG_CLI_N_OPTIONS + 1];
    char shorts[3 * SG_CLI_N_OPTIONS + 2] = ":";
    size_t ns = 1;
    for (int i = 0; i < SG_CLI_N_OPTIONS; i++) {
        const sg_cli_option *o = &sg_cli_options[i];
        longs[i] = (struct option){o->name, o->metavar ? required_argument : no_argument, NULL, 1000 + i};
        if (o->short_name) {
            shorts[ns++] = (char)o->short_name;
            if (o->metavar)
                shorts[ns++] = ':';
        }
    }
    shorts[ns] = '\0';
    longs[SG_CLI_N_OPTIONS] = (struct option){0, 0, 0, 0};
    int n = argc + 1, c, index;
    optind = 0; /* GNU: full re-initialization */
    opterr = 0;
    while ((c = getopt_long(n, a->argv_copy, shorts, longs, &index)) != -1) {
        const char *arg = a->argv_copy[optind - 1];
        if (c == '?' || c == ':') {
            /* a short option is named by optopt; a long one by the argument itself */
            char sbuf[3] = {'-', (char)optopt, 0};
            const char *what = optopt > 0 && optopt < 1000 ? sbuf : arg;
            if (c == ':')
                sg_cli_error("option %s needs a value (see 'seqgrad %s --help')", what, cmd);
            else
                sg_cli_error("unknown option '%s' (see 'seqgrad %s --help')", what, cmd);
            sg_cli_args_free(a);
            return SG_EXIT_USAGE;
        }
        int k = c >= 1000 ? c - 1000 : -1;
        if (k < 0)
            for (int i = 0; i < SG_CLI_N_OPTIONS; i++)
                if (sg_cli_options[i].short_name == c)
                    k = i;
        if (k < 0) {
            sg_cli_error("unknown option '%s' (see 'seqgrad %s --help')", arg, cmd);
            sg_cli_args_free(a);
            return SG_EXIT_USAGE;
        }
        /* refuse abbreviations: a long option must be spelled in full */
        if (c >= 1000) {
            /* "--name=value" and "--name" sit at optind-1, "--name value" at optind-2 */
            int at = optarg && optind >= 2 && optarg == a->argv_copy[optind - 1] ? optind - 2 : optind - 1;
            const char *given = at >= 1 && strncmp(a->argv_copy[at], "--", 2) == 0 ? a->argv_copy[at] + 2 : NULL;
            size_t len = given ? strcspn(given, "=") : 0;
            if (!given || sg_cli_find(given, len) != k) {
                sg_cli_error("unknown option '--%.*s' (options are spelled in full; see 'seqgrad %s --help')", (int)len,
                             given ? given : "", cmd);
                sg_cli_args_free(a);
                return SG_EXIT_USAGE;
            }
        }
        if (strcmp(sg_cli_options[k].name, "help") == 0) {
            a->help = true;
            continue;
        }
        a->items[a->n_items++] = (sg_cli_item){.option = k, .value = optarg};
    }
    for (int i = optind; i < n; i++)
        a->items[a->n_items++] = (sg_cli_item){.option = -1, .value = a->argv_copy[i]};
    return 0;
}

/* The last value given for the option (later ones win); marks it used. */
static const sg_cli_item *sg_cli_take(sg_cli_args *a, const char *name)
{
    int k = sg_cli_find(name, strlen(name));
    const sg_cli_item *last = NULL;
    for (size_t i = 0; k >= 0 && i < a->n_items; i++)
        if (a->items[i].option == k) {
            a->items[i].used = true;
            last = &a->items[i];
        }
    return last;
}

const char *sg_cli_opt(sg_cli_args *a, const char *name)
{
    const sg_cli_item *it = sg_cli_take(a, name);
    return it ? it->value : NULL;
}

bool sg_cli_flag(sg_cli_args *a, const char *name) { return sg_cli_take(a, name) != NULL; }

size_t sg_cli_opt_all(sg_cli_args *a, const char *name, const char **out, size_t cap)
{
    int k = sg_cli_find(name, strlen(name));
    size_t n = 0;
    for (size_t i = 0; k >= 0 && i < a->n_items; i++)
        if (a->items[i].option == k) {
            a->items[i].used = true;
            if (n < cap)
                out[n] = a->items[i].value;
            n++;
        }
    return n;
}

bool sg_cli_opt_size(sg_cli_args *a, const char *name, size_t def, size_t *out)
{
    const char *v = sg_cli_opt(a, name);
    if (!v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || v[0] == '+' || v[0] == ' ' || x > SIZE_MAX) {
        sg_cli_error("option --%s expects a non-negative integer, got '%s'", name, v);
        return false;
    }
    *out = (size_t)x;
    return true;
}

bool sg_cli_opt_double(sg_cli_args *a, const char *name, double def, double *out)
{
    const char *v = sg_cli_opt(a, name);
    if (!v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) {
        sg_cli_error("option --%s expects a number, got '%s'", name, v);
        return false;
    }
    *out = x;
    return true;
}

bool sg_cli_opt_size_in(sg_cli_args *a, const char *name, size_t def, size_t lo, size_t hi, size_t *out)
{
    if (!sg_cli_opt_size(a, name, def, out))
        return false;
    if (*out < lo || *out > hi) {
        sg_cli_error("option --%s must be between %zu and %zu, not %zu", name, lo, hi, *out);
        return false;
    }
    return true;
}

bool sg_cli_opt_double_in(sg_cli_args *a, const char *name, double def, double lo, double hi, bool lo_open, double *out)
{
    const char *v = sg_cli_opt(a, name);
    if (!sg_cli_opt_double(a, name, def, out))
        return false;
    if (!v)
        return true; /* the default is not checked: it is the program's own */
    if (!isfinite(*out) || *out > hi || (lo_open ? !(*out > lo) : !(*out >= lo))) {
        sg_cli_error("option --%s must be a finite number in %s%g, %g], not '%s'", name, lo_open ? "(" : "[", lo, hi,
                     v);
        return false;
    }
    return true;
}

bool sg_cli_given(sg_cli_args *a, const char *name)
{
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].option >= 0 && strcmp(sg_cli_options[a->items[i].option].name, name) == 0)
            return true;
    return false;
}

const char *sg_cli_positional(sg_cli_args *a)
{
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].option < 0 && !a->items[i].used) {
            a->items[i].used = true;
            return a->items[i].value;
        }
    return NULL;
}

const char *sg_cli_positional_peek(const sg_cli_args *a)
{
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].option < 0 && !a->items[i].used)
            return a->items[i].value;
    return NULL;
}

bool sg_cli_check_all_used(sg_cli_args *a)
{
    for (size_t i = 0; i < a->n_items; i++) {
        const sg_cli_item *it = &a->items[i];
        if (it->used)
            continue;
        if (it->option < 0)
            sg_cli_error("unexpected argument '%s' (see 'seqgrad %s --help')", it->value, a->cmd);
        else
            sg_cli_error("option --%s does not apply here (see 'seqgrad %s --help')", sg_cli_options[it->option].name,
                         a->cmd);
        return false;
    }
    return true;
}
