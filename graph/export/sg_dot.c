/* sg_dot.c — export of the tape to Graphviz (see sg_dot.h).
 *
 * One builder makes the cgraph graph for both sg_graph_export and
 * sg_graph_export_stats, so the counts a test reads are those of the picture.
 * Everything is a loop over the tape; scopes are reached by walking parent
 * pointers, never by recursion.  Lookup tables are indexed by tape index
 * (drawn node of every entry) and by scope id (cluster, collapsed node).
 *
 * Label safety: labels are plain (non-HTML) strings set with agxset, and every
 * piece of user text (leaf, parameter and scope names) goes through
 * sg_sb_text, which keeps valid UTF-8, turns control bytes and invalid UTF-8
 * into '?', and doubles backslashes so Graphviz's label escapes (\N, \G, \l ...)
 * cannot fire.  Graphviz's DOT writer does not escape backslashes, so a value
 * whose user text ends in a backslash (or has one before a '"') would not read
 * back; a space is put after such a backslash.
 *
 * Files: the file is opened and written here, not by Graphviz: in Graphviz
 * 2.43 gvRenderFilename reports an unwritable path on stderr but returns
 * success, and a failed write inside gvRender calls exit(1).  So the picture
 * is rendered into memory (gvRenderData) and saved atomically (graph/util/
 * sg_file.h: a temporary file, fsync'ed and renamed over path); an unwritable
 * path and a failed write (disk full) are errors the caller can read, and a
 * failed export leaves what was at path before.
 *
 * One Graphviz context serves every export of the process and is freed at
 * exit.  Graphviz 2.43's pango text-layout plugin caches, in a static, a
 * pointer to the last font name, which lives in the context; with one context
 * per export, the next export compares against freed memory (a use-after-free
 * that ASan reports).  Layouts are freed after each render (gvFreeLayout), so
 * the context holds no per-graph state between exports.
 */
#include "graph/export/sg_dot.h"

#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_param.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drawing styles (node shape, style, fill colour). */
#define SG_DOT_FILL_OP "#ffffff"
#define SG_DOT_FILL_INPUT "#cfe6ff"
#define SG_DOT_FILL_PARAM "#ffd98a"
#define SG_DOT_FILL_CONST "#e6e6e6"
#define SG_DOT_FILL_LOSS "#ff9f9f"
#define SG_DOT_FILL_SCOPE "#d6f0d0"

sg_export_opts sg_export_defaults(void)
{
    sg_export_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

/* ---- a growable string (labels, tooltips, scope paths) -------------------- */

typedef struct sg_sb {
    char *p;
    size_t len, cap;
    bool oom;
} sg_sb;

static void sg_sb_clear(sg_sb *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static bool sg_sb_reserve(sg_sb *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *np = sg_realloc(b->p, cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

static void sg_sb_putn(sg_sb *b, const char *s, size_t n)
{
    if (!sg_sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sg_sb_puts(sg_sb *b, const char *s) { sg_sb_putn(b, s, strlen(s)); }

static void sg_sb_printf(sg_sb *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) { /* only short numbers are formatted here */
        b->oom = true;
        return;
    }
    sg_sb_putn(b, tmp, (size_t)n);
}

/* Appends user text so that Graphviz shows it literally (see file header). */
static void sg_sb_text(sg_sb *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char c = *p;
        if (c == '\\') {
            sg_sb_puts(b, "\\\\");
            if (p[1] == '"' || p[1] == '\0')
                sg_sb_puts(b, " ");
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            sg_sb_puts(b, "?");
            p++;
        } else if (c < 0x80) {
            sg_sb_putn(b, (const char *)p, 1);
            p++;
        } else {
            size_t n = sg_utf8_seq_len(p, strlen((const char *)p));
            if (n) {
                sg_sb_putn(b, (const char *)p, n);
                p += n;
            } else {
                sg_sb_puts(b, "?");
                p++;
            }
        }
    }
}

/* Appends the raw scope path "a/b/c" (not yet escaped) into b. */
static void sg_sb_scope_path(sg_sb *b, const sg_scope *s)
{
    size_t len = 0;
    for (const sg_scope *p = s; p; p = sg_scope_parent(p))
        len += strlen(sg_scope_name(p)) + 1;
    if (!sg_sb_reserve(b, len))
        return;
    sg_scope_path(s, b->p + b->len, len + 1);
    b->len += strlen(b->p + b->len);
}

/* ---- numbers ------------------------------------------------------------- */

/* L2 norm of t's gradient, scaled so that large values do not overflow. */
static double sg_grad_norm(const sg_tensor *t)
{
    double scale = 0.0, ssq = 1.0;
    for (size_t i = 0; i < t->numel; i++) {
        double v = fabs(sg_tensor_grad_get(t, i));
        if (v == 0.0)
            continue;
        if (!isfinite(v))
            return v; /* inf or nan */
        if (scale < v) {
            double r = scale / v;
            ssq = 1.0 + ssq * r * r;
            scale = v;
        } else {
            double r = v / scale;
            ssq += r * r;
        }
    }
    return scale * sqrt(ssq);
}

/* ---- deterministic object ids --------------------------------------------
 * cgraph's default id discipline uses the address of a name's interned string
 * as the object's id, and Graphviz 2.43 orders subgraphs by id, so the order
 * of clusters (and with it the layout) would change from run to run.  This
 * discipline numbers names in order of first use instead: named objects get
 * even ids 2, 4, 6 ..., anonymous ones odd ids, as in the default. */

typedef struct sg_idmap {
    Agraph_t *g;  /* the root graph; names are its interned strings */
    char **names; /* (n) names[k] has id 2 (k + 1); the strings belong to g */
    size_t n, cap;
    size_t *slots; /* (nslots, a power of 2) open addressing: index + 1, 0 = empty */
    size_t nslots;
    IDTYPE anon; /* next anonymous id (odd) */
} sg_idmap;

static size_t sg_idmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)h;
}

/* The slot that holds str, or the empty slot where it would go. */
static size_t *sg_idmap_slot(sg_idmap *m, const char *str)
{
    size_t mask = m->nslots - 1;
    for (size_t i = sg_idmap_hash(str) & mask;; i = (i + 1) & mask)
        if (!m->slots[i] || strcmp(m->names[m->slots[i] - 1], str) == 0)
            return &m->slots[i];
}

static bool sg_idmap_grow(sg_idmap *m)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        char **nn = cap <= SIZE_MAX / sizeof *nn ? sg_realloc(m->names, cap * sizeof *nn) : NULL;
        if (!nn)
            return false;
        m->names = nn;
        m->cap = cap;
    }
    if (2 * (m->n + 1) > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 128;
        size_t *old = m->slots, oldn = m->nslots;
        m->slots = ns <= SIZE_MAX / sizeof *m->slots ? sg_calloc(ns, sizeof *m->slots) : NULL;
        if (!m->slots) {
            m->slots = old;
            return false;
        }
        m->nslots = ns;
        for (size_t i = 0; i < oldn; i++)
            if (old[i])
                *sg_idmap_slot(m, m->names[old[i] - 1]) = old[i];
        sg_free(old);
    }
    return true;
}

static void *sg_id_open(Agraph_t *g, Agdisc_t *disc)
{
    (void)disc;
    sg_idmap *m = sg_calloc(1, sizeof *m);
    if (m) {
        m->g = g;
        m->anon = 1;
    }
    return m;
}

static long sg_id_map(void *state, int objtype, char *str, IDTYPE *id, int createflag)
{
    (void)objtype;
    sg_idmap *m = state;
    if (!m)
        return 0;
    if (!str) { /* anonymous */
        *id = m->anon;
        m->anon += 2;
        return 1;
    }
    if (m->nslots) {
        size_t *slot = sg_idmap_slot(m, str);
        if (*slot) {
            *id = 2 * (IDTYPE)*slot;
            return 1;
        }
    }
    if (!createflag || !sg_idmap_grow(m))
        return 0; /* unknown name; on OOM cgraph falls back to its own map */
    /* an interned string, as cgraph's writer expects of names (it reads the
     * string's header to tell HTML names); freed with g's memory */
    char *copy = agstrdup(m->g, str);
    if (!copy)
        return 0;
    m->names[m->n++] = copy;
    *sg_idmap_slot(m, copy) = m->n;
    *id = 2 * (IDTYPE)m->n;
    return 1;
}

static long sg_id_alloc(void *state, int objtype, IDTYPE id)
{
    (void)state;
    (void)objtype;
    (void)id;
    return 0; /* ids are never chosen by the caller */
}

static void sg_id_free(void *state, int objtype, IDTYPE id)
{
    (void)state;
    (void)objtype;
    (void)id; /* names live until the graph is closed */
}

static char *sg_id_print(void *state, int objtype, IDTYPE id)
{
    (void)objtype;
    sg_idmap *m = state;
    if (!m || id % 2 != 0 || id == 0 || id / 2 > m->n)
        return NULL;
    return m->names[id / 2 - 1];
}

static void sg_id_close(void *state)
{
    sg_idmap *m = state;
    if (!m)
        return;
    sg_free(m->names); /* the strings go with the graph's string table */
    sg_free(m->slots);
    sg_free(m);
}

static void sg_id_register(void *state, int objtype, void *obj)
{
    (void)state;
    (void)objtype;
    (void)obj;
}

static Agiddisc_t sg_id_disc = {sg_id_open,  sg_id_map,   sg_id_alloc,   sg_id_free,
                                sg_id_print, sg_id_close, sg_id_register};

/* ---- the builder --------------------------------------------------------- */

typedef struct sg_dot_attrs {
    Agsym_t *g_label, *g_style, *g_color, *g_fontcolor, *g_labeljust;
    Agsym_t *n_label, *n_shape, *n_style, *n_fill, *n_tooltip;
    Agsym_t *e_lhead, *e_label;
    Agsym_t *n_width, *n_height, *n_margin;
} sg_dot_attrs;

typedef struct sg_dot_build {
    const sg_graph *g;
    const sg_export_opts *o;
    Agraph_t *root;
    sg_dot_attrs a;
    Agnode_t **drawn;   /* (tape_len) the node that draws each tape entry */
    Agraph_t **cluster; /* (max scope id + 1) cluster of a scope, or NULL */
    Agnode_t **snode;   /* (max scope id + 1) collapsed node of a scope, or NULL */
    size_t n_sid;       /* max scope id + 1 */
    sg_sb label, tip, path;
    sg_export_stats st;
} sg_dot_build;

static void sg_dot_build_free(sg_dot_build *b)
{
    if (b->root)
        agclose(b->root);
    sg_free(b->drawn);
    sg_free(b->cluster);
    sg_free(b->snode);
    sg_free(b->label.p);
    sg_free(b->tip.p);
    sg_free(b->path.p);
    memset(b, 0, sizeof *b);
}

/* Sets an attribute declared in sg_dot_declare; false when cgraph runs out of
 * memory.  Graphviz 2.43 takes char * but only copies the value. */
static bool sg_dot_set(void *obj, Agsym_t *sym, const char *value) { return agxset(obj, sym, (char *)value) == 0; }

static bool sg_dot_declare(sg_dot_build *b)
{
    Agraph_t *r = b->root;
    sg_dot_attrs *a = &b->a;
    a->g_label = agattr(r, AGRAPH, "label", "");
    a->g_style = agattr(r, AGRAPH, "style", "");
    a->g_color = agattr(r, AGRAPH, "color", "");
    a->g_fontcolor = agattr(r, AGRAPH, "fontcolor", "");
    a->g_labeljust = agattr(r, AGRAPH, "labeljust", "");
    a->n_label = agattr(r, AGNODE, "label", "\\N");
    a->n_shape = agattr(r, AGNODE, "shape", "ellipse");
    a->n_style = agattr(r, AGNODE, "style", "filled");
    a->n_fill = agattr(r, AGNODE, "fillcolor", SG_DOT_FILL_OP);
    a->n_tooltip = agattr(r, AGNODE, "tooltip", "");
    a->e_lhead = agattr(r, AGEDGE, "lhead", "");
    a->e_label = agattr(r, AGEDGE, "label", "");
    a->n_width = agattr(r, AGNODE, "width", "0.75");
    a->n_height = agattr(r, AGNODE, "height", "0.5");
    a->n_margin = agattr(r, AGNODE, "margin", "0.11,0.055");
    if (!a->n_width || !a->n_height || !a->n_margin || !a->e_lhead || !a->e_label || !a->g_label || !a->g_style ||
        !a->g_color || !a->g_fontcolor || !a->g_labeljust || !a->n_label || !a->n_shape || !a->n_style || !a->n_fill ||
        !a->n_tooltip)
        return false;
    /* plain defaults that need no per-object value */
    return agattr(r, AGNODE, "fontsize", "11") && agattr(r, AGNODE, "fontname", "Helvetica") &&
           agattr(r, AGEDGE, "arrowsize", "0.7") && agattr(r, AGRAPH, "fontname", "Helvetica");
}

/* The subgraph that holds nodes of scope s (the root for NULL), making the
 * clusters of s and of its missing ancestors, outermost first, without recursion. */
static Agraph_t *sg_dot_cluster(sg_dot_build *b, const sg_scope *s)
{
    if (!s)
        return b->root;
    while (!b->cluster[sg_scope_id(s)]) {
        /* u: the outermost ancestor of s (or s) that has no cluster yet */
        const sg_scope *u = s;
        while (sg_scope_parent(u) && !b->cluster[sg_scope_id(sg_scope_parent(u))])
            u = sg_scope_parent(u);
        const sg_scope *up = sg_scope_parent(u);
        Agraph_t *parent = up ? b->cluster[sg_scope_id(up)] : b->root;
        char name[48];
        snprintf(name, sizeof name, "cluster_s%zu", sg_scope_id(u));
        Agraph_t *c = agsubg(parent, name, 1);
        if (!c)
            return NULL;
        sg_sb_clear(&b->label);
        sg_sb_text(&b->label, sg_scope_name(u));
        if (b->label.oom || !sg_dot_set(c, b->a.g_label, b->label.p) || !sg_dot_set(c, b->a.g_style, "rounded") ||
            !sg_dot_set(c, b->a.g_color, "#8c8c8c") || !sg_dot_set(c, b->a.g_fontcolor, "#505050") ||
            !sg_dot_set(c, b->a.g_labeljust, "l"))
            return NULL;
        b->cluster[sg_scope_id(u)] = c;
        b->st.n_clusters++;
    }
    return b->cluster[sg_scope_id(s)];
}

/* The one node of collapsed scope a (made on first use). */
static Agnode_t *sg_dot_scope_node(sg_dot_build *b, const sg_scope *a)
{
    size_t id = sg_scope_id(a);
    if (b->snode[id])
        return b->snode[id];
    Agraph_t *parent = sg_dot_cluster(b, sg_scope_parent(a));
    if (!parent)
        return NULL;
    char name[48];
    snprintf(name, sizeof name, "s%zu", id);
    Agnode_t *n = agnode(parent, name, 1);
    if (!n)
        return NULL;
    sg_sb_clear(&b->path);
    sg_sb_scope_path(&b->path, a);
    /* inside a labelled cluster the scope's own name says enough ("t7" in
     * cluster "rnn.l0"); at the top level the node shows its full path */
    sg_sb_clear(&b->label);
    sg_sb_text(&b->label, sg_scope_parent(a) ? sg_scope_name(a) : (b->path.p ? b->path.p : ""));
    sg_sb_clear(&b->tip);
    sg_sb_printf(&b->tip, "%s: scope ", name);
    sg_sb_text(&b->tip, b->path.p ? b->path.p : "");
    if (b->path.oom || b->label.oom || b->tip.oom || !sg_dot_set(n, b->a.n_label, b->label.p) ||
        !sg_dot_set(n, b->a.n_shape, "box") || !sg_dot_set(n, b->a.n_style, "rounded,filled") ||
        !sg_dot_set(n, b->a.n_fill, SG_DOT_FILL_SCOPE) || !sg_dot_set(n, b->a.n_tooltip, b->tip.p) ||
        !sg_dot_set(n, b->a.n_width, "0.3") || !sg_dot_set(n, b->a.n_height, "0.3") ||
        !sg_dot_set(n, b->a.n_margin, "0.04,0.02"))
        return NULL;
    b->snode[id] = n;
    b->st.n_collapsed++;
    return n;
}

static const char *sg_kind_word(sg_kind k)
{
    switch (k) {
    case SG_KIND_INPUT: return "input";
    case SG_KIND_PARAM: return "param";
    case SG_KIND_CONST: return "const";
    default: return "op";
    }
}

/* The individual node of tape entry i. */
static Agnode_t *sg_dot_tensor_node(sg_dot_build *b, size_t i, const sg_tensor *t, bool is_loss)
{
    Agraph_t *parent = sg_dot_cluster(b, t->scope);
    if (!parent)
        return NULL;
    char name[48], shp[96];
    snprintf(name, sizeof name, "n%zu", i);
    sg_shape_str(t->shape, shp, sizeof shp);
    Agnode_t *n = agnode(parent, name, 1);
    if (!n)
        return NULL;

    const char *what; /* op name or leaf name */
    if (t->kind == SG_KIND_OP)
        what = t->op && t->op->name ? t->op->name : "op";
    else if (t->name)
        what = t->name;
    else if (t->kind == SG_KIND_PARAM && t->param && t->param->name)
        what = t->param->name;
    else
        what = sg_kind_word(t->kind);

    sg_sb_clear(&b->label);
    sg_sb_text(&b->label, what);
    sg_sb_puts(&b->label, "\\n");
    sg_sb_puts(&b->label, shp);
    if (b->o->grad_norms && t->grad && t->dtype != SG_I32)
        sg_sb_printf(&b->label, "\\n|g|=%.3g", sg_grad_norm(t));

    sg_sb_clear(&b->path);
    sg_sb_scope_path(&b->path, t->scope);
    sg_sb_clear(&b->tip);
    sg_sb_printf(&b->tip, "%s: %s%s ", name, is_loss ? "loss, " : "", sg_kind_word(t->kind));
    sg_sb_text(&b->tip, what);
    sg_sb_printf(&b->tip, " %s %s", shp, sg_dtype_name(t->dtype));
    if (t->scope) {
        sg_sb_puts(&b->tip, " in ");
        sg_sb_text(&b->tip, b->path.p ? b->path.p : "");
    }
    if (b->label.oom || b->tip.oom || b->path.oom)
        return NULL;

    const char *shape = "ellipse", *style = "filled", *fill = SG_DOT_FILL_OP;
    if (is_loss) {
        shape = "doubleoctagon";
        fill = SG_DOT_FILL_LOSS;
    } else if (t->kind == SG_KIND_PARAM) {
        shape = "box";
        style = "filled,bold";
        fill = SG_DOT_FILL_PARAM;
    } else if (t->kind == SG_KIND_INPUT) {
        shape = "box";
        fill = SG_DOT_FILL_INPUT;
    } else if (t->kind == SG_KIND_CONST) {
        shape = "box";
        style = "filled,dashed";
        fill = SG_DOT_FILL_CONST;
    }
    if (!sg_dot_set(n, b->a.n_label, b->label.p) || !sg_dot_set(n, b->a.n_tooltip, b->tip.p) ||
        (strcmp(shape, "ellipse") != 0 && !sg_dot_set(n, b->a.n_shape, shape)) ||
        (strcmp(style, "filled") != 0 && !sg_dot_set(n, b->a.n_style, style)) ||
        (strcmp(fill, SG_DOT_FILL_OP) != 0 && !sg_dot_set(n, b->a.n_fill, fill)))
        return NULL;
    return n;
}

/* Whether t is the tensor recorded at its tape index in g. */
static bool sg_on_tape(const sg_graph *g, const sg_tensor *t)
{
    return t && t->tape_index < sg_graph_tape_len(g) && sg_graph_tape_at(g, t->tape_index) == t;
}

static bool sg_rankdir_ok(const char *r)
{
    return !strcmp(r, "TB") || !strcmp(r, "LR") || !strcmp(r, "BT") || !strcmp(r, "RL");
}

/* An edge from an individually drawn tape entry into a collapsed scope node:
 * grouped by (tail, the collapsed scope's parent) into compound edges. */
typedef struct sg_dot_fan {
    size_t tail;  /* tape index of the source */
    size_t sid;   /* scope id of the cluster the collapsed head sits in */
    size_t head;  /* scope id of the collapsed head */
    size_t order; /* tape index of the consuming entry */
} sg_dot_fan;

static int sg_dot_fan_cmp(const void *pa, const void *pb)
{
    const sg_dot_fan *a = pa, *b = pb;
    if (a->tail != b->tail)
        return a->tail < b->tail ? -1 : 1;
    if (a->sid != b->sid)
        return a->sid < b->sid ? -1 : 1;
    if (a->head != b->head)
        return a->head < b->head ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Builds the cgraph graph of g's tape into b (b->root), or fails with a message. */
static sg_status sg_dot_build_graph(sg_dot_build *b, sg_graph *g, const sg_export_opts *o, char *err, size_t errcap)
{
    memset(b, 0, sizeof *b);
    b->g = g;
    b->o = o;
    if (!g)
        return sg_error_format(err, errcap, SG_ERR_ARG, "graph export: the graph is NULL");
    if (o->rankdir && !sg_rankdir_ok(o->rankdir))
        return sg_error_format(err, errcap, SG_ERR_ARG, "graph export: rankdir must be TB, LR, BT or RL");
    if (o->loss && !sg_on_tape(g, o->loss))
        return sg_error_format(err, errcap, SG_ERR_ARG, "graph export: the loss tensor is not on this graph's tape");

    size_t n = sg_graph_tape_len(g);
    const sg_tensor *loss = o->loss;
    if (!loss && n > 0 && sg_graph_tape_at(g, n - 1)->kind == SG_KIND_OP)
        loss = sg_graph_tape_at(g, n - 1);

    /* scope ids are small positive integers; size the tables by the largest */
    size_t max_id = 0;
    for (size_t i = 0; i < n; i++)
        for (const sg_scope *s = sg_graph_tape_at(g, i)->scope; s; s = sg_scope_parent(s))
            if (sg_scope_id(s) > max_id)
                max_id = sg_scope_id(s);
    b->n_sid = max_id + 1;
    b->drawn = sg_calloc(n ? n : 1, sizeof *b->drawn);
    b->cluster = sg_calloc(b->n_sid, sizeof *b->cluster);
    b->snode = sg_calloc(b->n_sid, sizeof *b->snode);
    char gname[] = "seqgrad";
    Agdisc_t disc = {NULL, &sg_id_disc, NULL}; /* NULL: cgraph's default memory and io */
    b->root = b->drawn && b->cluster && b->snode ? agopen(gname, Agstrictdirected, &disc) : NULL;
    if (!b->root || !sg_dot_declare(b))
        goto oom;

    size_t k = o->collapse_depth;
    for (size_t i = 0; i < n; i++) {
        const sg_tensor *t = sg_graph_tape_at(g, i);
        if (k > 0 && sg_scope_depth(t->scope) >= k)
            b->drawn[i] = sg_dot_scope_node(b, sg_scope_at_depth(t->scope, k));
        else
            b->drawn[i] = sg_dot_tensor_node(b, i, t, t == loss);
        if (!b->drawn[i])
            goto oom;
    }
    /* edges input -> node; the strict graph keeps one per pair.  In collapsed
     * mode an individually drawn node (a parameter, an input, a layer-level
     * op) that feeds two or more collapsed steps of the same scope gets ONE
     * compound edge into that scope's cluster (lhead), labelled with the
     * count, instead of one edge per step: a weight shared by 35 steps is
     * drawn once, so unrolled pictures stay readable. */
    size_t n_fan = 0;
    for (size_t i = 0; i < n; i++)
        n_fan += sg_graph_tape_at(g, i)->n_src;
    sg_dot_fan *fan = k > 0 ? sg_malloc((n_fan ? n_fan : 1) * sizeof *fan) : NULL;
    if (k > 0 && !fan)
        goto oom;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        const sg_tensor *t = sg_graph_tape_at(g, i);
        for (size_t j = 0; j < t->n_src; j++) {
            const sg_tensor *s = t->src[j];
            if (!sg_on_tape(g, s))
                continue;
            Agnode_t *tail = b->drawn[s->tape_index], *head = b->drawn[i];
            if (tail == head)
                continue;
            /* a candidate for a compound edge: the head is a collapsed scope
             * inside a cluster, the tail is drawn on its own and lies outside
             * that cluster (Graphviz cannot end an edge at the border of a
             * cluster that holds its tail) */
            const sg_scope *hs = k > 0 && sg_scope_depth(t->scope) >= k ? sg_scope_at_depth(t->scope, k) : NULL;
            const sg_scope *cl = hs ? sg_scope_parent(hs) : NULL;
            if (cl && sg_scope_depth(s->scope) < k && sg_scope_at_depth(s->scope, sg_scope_depth(cl)) != cl) {
                fan[nf++] =
                    (sg_dot_fan){.tail = s->tape_index, .sid = sg_scope_id(cl), .head = sg_scope_id(hs), .order = i};
                continue;
            }
            if (!agedge(b->root, tail, head, NULL, 1))
                goto oom_fan;
        }
    }
    if (nf > 0)
        qsort(fan, nf, sizeof *fan, sg_dot_fan_cmp);
    for (size_t a0 = 0; a0 < nf;) {
        size_t a1 = a0, heads = 0, first = a0;
        for (; a1 < nf && fan[a1].tail == fan[a0].tail && fan[a1].sid == fan[a0].sid; a1++) {
            heads += a1 == a0 || fan[a1].head != fan[a1 - 1].head;
            if (fan[a1].order < fan[first].order)
                first = a1;
        }
        /* one edge to the first step; with two or more steps it ends at the cluster */
        Agedge_t *e = agedge(b->root, b->drawn[fan[a0].tail], b->snode[fan[first].head], NULL, 1);
        char cname[48], count[32];
        snprintf(cname, sizeof cname, "cluster_s%zu", fan[a0].sid);
        snprintf(count, sizeof count, "%zu steps", heads);
        if (!e || (heads >= 2 && (!sg_dot_set(e, b->a.e_lhead, cname) || !sg_dot_set(e, b->a.e_label, count))))
            goto oom_fan;
        a0 = a1;
    }
    sg_free(fan);
    fan = NULL;
    /* collapsed pictures: tight spacing, one small node per step */
    if (k > 0 && (!agattr(b->root, AGRAPH, "compound", "true") || !agattr(b->root, AGRAPH, "ranksep", "0.25") ||
                  !agattr(b->root, AGRAPH, "nodesep", "0.15")))
        goto oom;

    /* graph attributes last: setting them on the root also sets the default */
    const char *rankdir = o->rankdir ? o->rankdir : k > 0 ? "LR" : "TB";
    if (!agattr(b->root, AGRAPH, "rankdir", (char *)rankdir))
        goto oom;
    if (o->title && o->title[0]) {
        sg_sb_clear(&b->label);
        sg_sb_text(&b->label, o->title);
        if (b->label.oom || !sg_dot_set(b->root, b->a.g_label, b->label.p) || !agattr(b->root, AGRAPH, "labelloc", "t"))
            goto oom;
    }
    b->st.n_nodes = (size_t)agnnodes(b->root);
    b->st.n_edges = (size_t)agnedges(b->root);
    return SG_OK;
oom_fan:
    sg_free(fan);
oom:
    sg_dot_build_free(b);
    return sg_error_format(err, errcap, SG_ERR_NOMEM,
                           "graph export: out of memory building the Graphviz graph (%zu tape entries)", n);
}

sg_status sg_graph_export_stats(sg_graph *g, const sg_export_opts *opts, sg_export_stats *stats, char *err,
                                size_t errcap)
{
    sg_export_opts def = sg_export_defaults();
    if (err && errcap)
        err[0] = '\0';
    if (!stats)
        return sg_error_format(err, errcap, SG_ERR_ARG, "graph export stats: stats is NULL");
    memset(stats, 0, sizeof *stats);
    sg_dot_build b;
    sg_status st = sg_dot_build_graph(&b, g, opts ? opts : &def, err, errcap);
    if (st != SG_OK)
        return st;
    *stats = b.st;
    sg_dot_build_free(&b);
    return SG_OK;
}

/* ---- rendering ----------------------------------------------------------- */

/* The process-wide Graphviz context (see file header), made on first use. */
static GVC_t *sg_gvc;

static void sg_gvc_release(void)
{
    if (sg_gvc)
        gvFreeContext(sg_gvc); /* its return value counts Graphviz warnings too */
    sg_gvc = NULL;
}

static GVC_t *sg_gvc_get(void)
{
    static bool registered;
    if (!sg_gvc) {
        sg_gvc = gvContext();
        if (sg_gvc && !registered)
            registered = atexit(sg_gvc_release) == 0; /* if not, the context lives until exit anyway */
    }
    return sg_gvc;
}

/* The Graphviz output format of the extension of path's last component, or NULL. */
static const char *sg_dot_format(const char *path)
{
    static const char *const ext[][2] = {{".dot", "dot"}, {".svg", "svg"}, {".png", "png"}};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    for (size_t e = 0; e < sizeof ext / sizeof ext[0]; e++) {
        size_t el = strlen(ext[e][0]);
        if (len <= el) /* "x.png" has an extension, ".png" has none */
            continue;
        bool same = true;
        for (size_t i = 0; i < el && same; i++) {
            char c = base[len - el + i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            same = c == ext[e][0][i];
        }
        if (same)
            return ext[e][1];
    }
    return NULL;
}

sg_status sg_graph_export(sg_graph *g, const char *path, const sg_export_opts *opts, char *err, size_t errcap)
{
    sg_export_opts def = sg_export_defaults();
    if (err && errcap)
        err[0] = '\0';
    if (!path || !path[0])
        return sg_error_format(err, errcap, SG_ERR_ARG, "graph export: no output path");
    const char *fmt = sg_dot_format(path);
    if (!fmt)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "graph export to '%s': unknown file extension (use .dot, .svg or .png)", path);

    sg_dot_build b;
    sg_status st = sg_dot_build_graph(&b, g, opts ? opts : &def, err, errcap);
    if (st != SG_OK)
        return st;

    sg_file_tmp out;
    if ((st = sg_file_tmp_open(&out, path, "graph export", err, errcap)) != SG_OK) {
        sg_dot_build_free(&b);
        return st;
    }
    /* Render into memory and write the file here: Graphviz 2.43 calls exit(1)
     * when its own write to a FILE fails (disk full). */
    GVC_t *gvc = sg_gvc_get();
    char *data = NULL;
    unsigned int len = 0;
    if (!gvc)
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "graph export to '%s': Graphviz could not start", path);
    else {
        if (gvLayout(gvc, b.root, "dot") != 0)
            st = sg_error_format(err, errcap, SG_ERR_IO, "graph export to '%s': Graphviz 'dot' layout failed", path);
        else if (gvRenderData(gvc, b.root, fmt, &data, &len) != 0 || (!data && len))
            st = sg_error_format(err, errcap, SG_ERR_IO,
                                 "graph export to '%s': Graphviz could not render format '%s' (plugin missing?)", path,
                                 fmt);
        gvFreeLayout(gvc, b.root); /* safe after a failed layout too */
    }
    if (st == SG_OK && len > 0 && fwrite(data, 1, len, out.f) != len)
        st = sg_error_format(err, errcap, SG_ERR_IO, "graph export: writing '%s' failed: %s", path, strerror(errno));
    if (data)
        gvFreeRenderData(data);
    if (st == SG_OK)
        st = sg_file_tmp_commit(&out, err, errcap); /* an existing file at path stays until the rename */
    else
        sg_file_tmp_abort(&out);
    sg_dot_build_free(&b);
    return st;
}
