/* sg_checkpoint.h — checkpoints in the safetensors format: a parameter set plus
 * training state (optimizer moments and scalars, RNG state, epoch and step) and
 * a caller string map, written atomically and loaded all-or-nothing.
 *
 * File layout (safetensors, see docs/checkpoints.md):
 *     [8 bytes]  N, the header length, unsigned little-endian
 *     [N bytes]  JSON object (UTF-8), padded with spaces so that 8 + N is a
 *                multiple of 8:
 *                  "__metadata__": {string: string, ...}
 *                  "<tensor name>": {"dtype": "F32", "shape": [d0, ...],
 *                                    "data_offsets": [begin, end]}, ...
 *     [rest]     the data section: every tensor's elements, row-major,
 *                little-endian, contiguous, in name order (bytes begin..end
 *                of the data section, counted from its start).
 * Tensors written:  "<param>" (P's shape), "optim/<param>/m" and
 * "optim/<param>/v" (the optimizer moments p->m / p->v, when ck->has_optim and
 * they are allocated; P's shape), and "rng/state" (U64, shape (4), the
 * xoshiro words) when ck->has_rng.  Values and moments are stored in the
 * set's dtype (F32 or F64).
 * Metadata: the caller's strings under their own keys; the library's own keys
 * all start with "seqgrad." (format version, epoch, step, optimizer scalars as
 * decimal strings; doubles with the fewest of 15-17 digits that read back
 * exactly).
 *
 * Dimension legend: P = a parameter's shape (up to 4 dims); numel = its element
 * count.
 *
 * Errors: every function returns sg_status and, when err is not NULL, writes a
 * readable NUL-terminated message into err[0..errcap-1] (truncated to fit) on
 * failure.  Nothing aborts, on any input.
 *   SG_ERR_ARG     NULL argument, a parameter of another dtype than its set, a
 *                  reserved or non-UTF-8 name or string, an optimizer to save
 *                  that sg_optim_init_* / set_lr / set_schedule would refuse
 *   SG_ERR_NOMEM   an allocation failed
 *   SG_ERR_IO      a file could not be opened, read, written, synced or renamed
 *   SG_ERR_FORMAT  the bytes are not a valid checkpoint, or the tensors do not
 *                  match the set (a parameter missing, an unexpected tensor)
 *   SG_ERR_SHAPE   a tensor's shape differs from its parameter's
 *   SG_ERR_DTYPE   a tensor's dtype cannot be loaded (an integer dtype for a
 *                  parameter, an f64 value too large for an f32 set)
 * cJSON (which parses and prints the header) is pointed at sg_malloc/sg_free
 * once per process with cJSON_InitHooks, so its allocations are counted and
 * failure injection reaches them.
 */
#ifndef SG_CHECKPOINT_H
#define SG_CHECKPOINT_H

#include "graph/optim/sg_optim.h"
#include "graph/core/sg_param.h"
#include "graph/core/sg_rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One caller string (both owned by the checkpoint). */
typedef struct sg_checkpoint_string {
    char *key;
    char *value;
} sg_checkpoint_string;

/* Training state saved beside the parameters.  The scalar fields are public:
 * set them directly before saving, read them after loading.  The string map
 * is managed with sg_checkpoint_set_string / sg_checkpoint_get_string. */
typedef struct sg_checkpoint {
    bool has_optim; /* whether `optim` is saved / was in the file */
    sg_optim optim; /* kind, config, base_lr, lr, decay, decay_start, t */
    bool has_rng;   /* whether `rng` is saved / was in the file */
    sg_rng rng;     /* the 4 state words: after loading the stream continues */
    uint64_t epoch; /* caller's progress counters, 0 when absent */
    uint64_t step;
    sg_checkpoint_string *strings; /* (n_strings) owned, sorted by key */
    size_t n_strings, cap_strings;
} sg_checkpoint;

/* Makes ck empty: no optimizer, no RNG, epoch 0, step 0, no strings.  Owns no
 * memory yet; pair with sg_checkpoint_free. */
void sg_checkpoint_init(sg_checkpoint *ck);
/* Frees the strings and makes ck empty again (as after init).  NULL is a no-op. */
void sg_checkpoint_free(sg_checkpoint *ck);

/* Sets key to value (both copied; an existing key is replaced).  Keys starting
 * with "seqgrad." are reserved (SG_ERR_ARG), as are non-UTF-8 keys or values.
 * On failure ck is unchanged. */
SG_NODISCARD sg_status sg_checkpoint_set_string(sg_checkpoint *ck, const char *key, const char *value);
/* The value of key, owned by ck (valid until it is replaced or ck is freed);
 * NULL when absent. */
const char *sg_checkpoint_get_string(const sg_checkpoint *ck, const char *key);

/* Writes ps (values; with ck->has_optim also the allocated moments; gradients
 * are never saved) and ck (may be NULL: parameter values only) to path, atomically: the bytes go to
 * "<path>.tmp.<pid>" in the same directory, which is flushed, fsync'ed and
 * renamed over path, then the directory is fsync'ed.  On failure the temporary
 * file is removed and an existing file at path is untouched.  Parameter names
 * must be valid UTF-8 and must not be "__metadata__", "rng/state" or start
 * with "optim/".  The output depends only on the content (tensors and
 * metadata keys sorted by name): saving twice gives the same bytes. */
SG_NODISCARD sg_status sg_checkpoint_save(const char *path, const sg_params *ps, const sg_checkpoint *ck, char *err,
                                          size_t errcap);
/* The same bytes in memory: *out (caller-owned, free with sg_free) holds
 * *out_len bytes.  On failure *out is NULL and *out_len 0. */
SG_NODISCARD sg_status sg_checkpoint_save_mem(const sg_params *ps, const sg_checkpoint *ck, unsigned char **out,
                                              size_t *out_len, char *err, size_t errcap);

/* Loads a checkpoint into an existing set ps.  Every parameter of ps must be
 * in the file with its exact shape; F32 and F64 tensors are converted to the
 * set's dtype; every tensor of the file must be a parameter, a moment
 * "optim/<param>/m|v" of one, or "rng/state".  Moments found are copied into
 * p->m / p->v (allocated when NULL); moments of ps absent from the file are
 * zeroed, so the optimizer state afterwards is the file's.  Gradients are not
 * touched.  out (may be NULL) must have been initialized; on success its
 * previous content is freed and replaced by the file's state (a plain
 * safetensors file gives no optimizer, no RNG, epoch 0, step 0, and its
 * metadata as strings).
 * All-or-nothing: everything is validated (and any buffer allocated) before
 * the first byte of ps or out is written; on failure both are unchanged and
 * err names what is wrong (which tensor, expected vs found).  The file is read
 * whole into memory, then parsed as by sg_checkpoint_load_mem. */
SG_NODISCARD sg_status sg_checkpoint_load(const char *path, sg_params *ps, sg_checkpoint *out, char *err,
                                          size_t errcap);
/* The same from the len bytes at buf (read only, never kept). */
SG_NODISCARD sg_status sg_checkpoint_load_mem(const void *buf, size_t len, sg_params *ps, sg_checkpoint *out, char *err,
                                              size_t errcap);

/* Reads only the training state and strings of a checkpoint into out (which
 * must have been initialized; its previous content is freed on success), with
 * no parameter set: for reading the hyperparameters and vocabulary a model is
 * built from before loading into it.  The header is validated as by a load
 * (JSON, entries, offsets tiling the data section, metadata, "rng/state"), but
 * tensors are not matched to any set.  The file variant reads the header and
 * the RNG words only, not the data.  On failure out is unchanged. */
SG_NODISCARD sg_status sg_checkpoint_read_meta(const char *path, sg_checkpoint *out, char *err, size_t errcap);
SG_NODISCARD sg_status sg_checkpoint_read_meta_mem(const void *buf, size_t len, sg_checkpoint *out, char *err,
                                                   size_t errcap);

#endif
