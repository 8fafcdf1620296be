/* sg_dialog_synth.c — a generated multi-turn corpus for the hierarchical
 * models: every dialogue is one of five scripts with random fillers, so that
 *   - some replies ('c') repeat a word said two to five turns before, which a
 *     model that sees only the previous utterance can get only by chance
 *     (1 in 6 to 1 in 10), and
 *   - some replies ('m') are drawn uniformly from 3 or 4 equally valid ones,
 *     which a deterministic model cannot cover.
 * Scripts (x | y: one drawn uniformly; [filler]: with probability 1/2 the
 * two turns "how was your day ?" / good | long | busy | quiet):
 *   name     "hi , i am N" / nice to meet you | good to meet you | hello there
 *            [filler] / "what is my name ?" / "your name is N"
 *   fruit    "i like F" / ok , noted | good to know | me too  [filler] /
 *            "what do i like ?" / "you like F"
 *   city     "i live in C" / "how is the weather in C ?" /
 *            it is sunny | rainy | cold | windy today / "where do i live ?" /
 *            "you live in C"
 *   greeting hello | hi | hey / hello | hi | hey | good day / "how are you ?" /
 *            fine , thanks | great , thanks | not bad | very well
 *   color    "my favourite color is K" / "K is a nice color" [filler] /
 *            "which color do i like ?" / "you like K"
 * with N of 10 names, F of 8 fruits, C of 8 cities, K of 6 colours.  The
 * draws come from sg_rng in a fixed order, so a seed gives the same corpus
 * everywhere. */
#include "models/data/sg_dialog.h"

#include <stdio.h>

#define SG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const sg_names[] = {"alice", "bob",   "carol", "dave", "erin",
                                       "frank", "grace", "henry", "ivan", "julia"};
static const char *const sg_fruits[] = {"apples", "pears", "plums", "grapes", "lemons", "mangos", "cherries", "melons"};
static const char *const sg_cities[] = {"paris", "rome", "oslo", "lima", "cairo", "tokyo", "delhi", "quito"};
static const char *const sg_colors[] = {"red", "blue", "green", "yellow", "purple", "orange"};
static const char *const sg_meet[] = {"nice to meet you", "good to meet you", "hello there"};
static const char *const sg_noted[] = {"ok , noted", "good to know", "me too"};
static const char *const sg_weather[] = {"sunny", "rainy", "cold", "windy"};
static const char *const sg_hello[] = {"hello", "hi", "hey"};
static const char *const sg_hello_back[] = {"hello", "hi", "hey", "good day"};
static const char *const sg_fine[] = {"fine , thanks", "great , thanks", "not bad", "very well"};
static const char *const sg_day[] = {"good", "long", "busy", "quiet"};

/* A dialogue being written: its text and its tags. */
typedef struct sg_synth {
    FILE *f, *tags;
    size_t utts;
    sg_rng *rng;
} sg_synth;

static const char *sg_pick(sg_synth *s, const char *const *list, size_t n) { return list[sg_rng_below(s->rng, n)]; }

/* One utterance (printf format) with its tag. */
static void sg_say(sg_synth *s, char tag, const char *fmt, const char *arg)
{
    if (s->utts++)
        fputs(" " SG_DIALOG_EOU " ", s->f);
    fprintf(s->f, fmt, arg);
    fputc(s->utts == 1 ? '-' : tag, s->tags);
}

static void sg_filler(sg_synth *s)
{
    if (sg_rng_below(s->rng, 2) == 0)
        return;
    sg_say(s, 'o', "%s", "how was your day ?");
    sg_say(s, 'm', "%s", sg_pick(s, sg_day, SG_COUNT(sg_day)));
}

sg_status sg_dialog_synth(FILE *f, FILE *tags_f, size_t n, uint64_t seed)
{
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        sg_synth s = {.f = f, .tags = tags_f, .rng = &rng};
        const char *w;
        switch (sg_rng_below(&rng, 5)) {
        case 0:
            w = sg_pick(&s, sg_names, SG_COUNT(sg_names));
            sg_say(&s, 'o', "hi , i am %s", w);
            sg_say(&s, 'm', "%s", sg_pick(&s, sg_meet, SG_COUNT(sg_meet)));
            sg_filler(&s);
            sg_say(&s, 'o', "%s", "what is my name ?");
            sg_say(&s, 'c', "your name is %s", w);
            break;
        case 1:
            w = sg_pick(&s, sg_fruits, SG_COUNT(sg_fruits));
            sg_say(&s, 'o', "i like %s", w);
            sg_say(&s, 'm', "%s", sg_pick(&s, sg_noted, SG_COUNT(sg_noted)));
            sg_filler(&s);
            sg_say(&s, 'o', "%s", "what do i like ?");
            sg_say(&s, 'c', "you like %s", w);
            break;
        case 2:
            w = sg_pick(&s, sg_cities, SG_COUNT(sg_cities));
            sg_say(&s, 'o', "i live in %s", w);
            sg_say(&s, 'o', "how is the weather in %s ?", w);
            sg_say(&s, 'm', "it is %s today", sg_pick(&s, sg_weather, SG_COUNT(sg_weather)));
            sg_say(&s, 'o', "%s", "where do i live ?");
            sg_say(&s, 'c', "you live in %s", w);
            break;
        case 3:
            sg_say(&s, 'o', "%s", sg_pick(&s, sg_hello, SG_COUNT(sg_hello)));
            sg_say(&s, 'm', "%s", sg_pick(&s, sg_hello_back, SG_COUNT(sg_hello_back)));
            sg_say(&s, 'o', "%s", "how are you ?");
            sg_say(&s, 'm', "%s", sg_pick(&s, sg_fine, SG_COUNT(sg_fine)));
            break;
        default:
            w = sg_pick(&s, sg_colors, SG_COUNT(sg_colors));
            sg_say(&s, 'o', "my favourite color is %s", w);
            sg_say(&s, 'o', "%s is a nice color", w);
            sg_filler(&s);
            sg_say(&s, 'o', "%s", "which color do i like ?");
            sg_say(&s, 'c', "you like %s", w);
            break;
        }
        fputc('\n', f);
        fputc('\n', tags_f);
        if (ferror(f) || ferror(tags_f))
            return SG_ERR_IO;
    }
    return SG_OK;
}
