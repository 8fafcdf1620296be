/* sg_safetensors.h — the safetensors container, generic: named tensors of any
 * safetensors dtype and a string-to-string metadata map, read from a buffer or
 * a file and written to a buffer or (atomically) to a file.  It knows nothing
 * of parameters, optimizers or models: seqgrad's training checkpoints are a
 * schema on top of it (sg_checkpoint.h).
 *
 * File layout (https://github.com/huggingface/safetensors, docs/checkpoints.md):
 *     [8 bytes]  N, the header length, unsigned little-endian
 *     [N bytes]  a JSON object (UTF-8), padded with spaces:
 *                  "__metadata__": {string: string, ...}       (optional)
 *                  "<name>": {"dtype": "F32", "shape": [d0, ...],
 *                             "data_offsets": [begin, end]}, ...
 *     [rest]     the data section: each tensor's elements, row-major,
 *                little-endian, at bytes [begin, end) of the section.
 *
 * What a reader accepts (everything else is SG_ERR_FORMAT, with a message that
 * names the tensor or key and what was expected): a header length that fits
 * the file; valid UTF-8 (also what \u escapes spell), valid JSON with nothing
 * but spaces after it; an object with unique
 * keys; every tensor entry with a known dtype, at most SG_ST_MAX_DIMS
 * dimensions, integer shape and offsets (exact up to 2^53), an extent matching
 * shape x dtype size; tensors that tile the data section exactly (no overlap,
 * no hole, nothing after); metadata that is an object of strings with unique
 * keys.
 *
 * What a writer produces depends only on the content: tensors and metadata
 * keys sorted by name, data in that order, the header padded with spaces so
 * that 8 + N is a multiple of 8.  The same content gives the same bytes.
 *
 * Errors: SG_ERR_ARG (NULL argument, a bad name or dtype), SG_ERR_NOMEM,
 * SG_ERR_IO (files), SG_ERR_FORMAT (bytes that are not a valid file); err (may
 * be NULL) receives the message.  Nothing aborts, on any input.  cJSON (which
 * parses and prints the header) is pointed at sg_malloc/sg_free once per
 * process, so its allocations are counted and failure injection reaches them.
 *
 * Ownership: an sg_st_file owns what it read (the bytes, the tensor table,
 * the metadata strings): sg_st_file_find and sg_st_file_meta return pointers
 * into it, valid until sg_st_file_free; names are static strings.
 */
#ifndef SG_SAFETENSORS_H
#define SG_SAFETENSORS_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sg_st_dtype {
    SG_ST_BOOL = 0,
    SG_ST_U8,
    SG_ST_I8,
    SG_ST_F8_E5M2,
    SG_ST_F8_E4M3,
    SG_ST_I16,
    SG_ST_U16,
    SG_ST_F16,
    SG_ST_BF16,
    SG_ST_I32,
    SG_ST_U32,
    SG_ST_F32,
    SG_ST_I64,
    SG_ST_U64,
    SG_ST_F64,
    SG_ST_NDTYPES
} sg_st_dtype;

/* "F32", ...; "?" for a value outside the enum. */
const char *sg_st_dtype_name(sg_st_dtype dt);
/* Bytes per element (1, 2, 4 or 8); 0 for a value outside the enum. */
size_t sg_st_dtype_size(sg_st_dtype dt);

/* The most dimensions a tensor may have (in a file read or written). */
enum { SG_ST_MAX_DIMS = 64 };

/* One tensor of a file that was read.  Everything is owned by the file. */
typedef struct sg_st_tensor {
    const char *name;
    sg_st_dtype dtype;
    int ndim;            /* 0..SG_ST_MAX_DIMS */
    const size_t *shape; /* (ndim) */
    size_t numel;
    size_t begin, end; /* byte offsets in the data section */
} sg_st_tensor;

/* One metadata entry (owned by the file, or by the writer). */
typedef struct sg_st_meta {
    const char *key;
    const char *value;
} sg_st_meta;

/* A parsed file.  The public fields are read-only. */
typedef struct sg_st_file {
    const sg_st_tensor *tensors; /* (n_tensors) sorted by name */
    size_t n_tensors;
    const sg_st_meta *meta; /* (n_meta) sorted by key */
    size_t n_meta;
    size_t data_len;           /* bytes of the data section */
    const unsigned char *data; /* (data_len) the data section in memory, or NULL (header only) */
    /* private */
    void *json_;
    char *text_;
    size_t *dims_;
    sg_st_tensor *tensors_;
    sg_st_meta *meta_;
    unsigned char *owned_; /* the whole file, when sg_st_file_read read it */
    int fd_;               /* the open file after sg_st_file_read_header, else -1 */
    size_t data_offset_;   /* where the data section starts in the file */
} sg_st_file;

/* Parses the len bytes at buf.  buf is borrowed, not copied: it must stay
 * valid and unchanged until sg_st_file_free(f).  f is always initialized (free
 * it, also on failure). */
SG_NODISCARD sg_status sg_st_file_parse(sg_st_file *f, const void *buf, size_t len, char *err, size_t errcap);
/* Reads the whole file at path into memory (owned by f) and parses it; errors
 * read "<what> '<path>': ..." (what: e.g. "checkpoint"; NULL for "file"). */
SG_NODISCARD sg_status sg_st_file_read(sg_st_file *f, const char *path, const char *what, char *err, size_t errcap);
/* Reads only the header of the file at path (the data section is validated by
 * its length, not read); the file stays open until sg_st_file_free, for
 * sg_st_file_bytes.  f->data is NULL. */
SG_NODISCARD sg_status sg_st_file_read_header(sg_st_file *f, const char *path, const char *what, char *err,
                                              size_t errcap);
/* Frees everything f owns (closing its file); f is then empty.  NULL is a no-op. */
void sg_st_file_free(sg_st_file *f);

/* The tensor called name, or NULL. */
const sg_st_tensor *sg_st_file_find(const sg_st_file *f, const char *name);
/* The value of metadata key, or NULL. */
const char *sg_st_file_meta(const sg_st_file *f, const char *key);
/* The index of metadata key in f->meta, or SIZE_MAX when absent. */
size_t sg_st_file_meta_index(const sg_st_file *f, const char *key);
/* Copies the t->end - t->begin raw (little-endian) bytes of t into dst, from
 * memory or from the open file (SG_ERR_IO when that read fails). */
SG_NODISCARD sg_status sg_st_file_bytes(const sg_st_file *f, const sg_st_tensor *t, void *dst, char *err,
                                        size_t errcap);

/* Decodes the numel little-endian elements at raw, of dtype from, into dst as
 * host values of dtype to.  Floating dtypes convert between F32 and F64 (an
 * F64 value beyond the f32 range becomes +-inf: check first with
 * sg_st_fits_f32); integer dtypes only to themselves.  false for any other
 * pair (nothing written). */
bool sg_st_decode(sg_st_dtype from, const unsigned char *raw, size_t numel, sg_st_dtype to, void *dst);
/* Index of the first finite F64 element at raw (numel of them) whose
 * magnitude exceeds FLT_MAX, or numel when every element fits an f32. */
size_t sg_st_fits_f32(const unsigned char *raw, size_t numel);

/* ---- writing -------------------------------------------------------------- */

/* A file being assembled: names and metadata are copied in, tensor data is
 * borrowed (it must stay valid until the last save). */
typedef struct sg_st_writer {
    struct sg_st_wtensor *tensors; /* (n_tensors) */
    size_t n_tensors, cap_tensors;
    sg_st_meta *meta; /* (n_meta) keys and values owned */
    size_t n_meta, cap_meta;
} sg_st_writer;

void sg_st_writer_init(sg_st_writer *w);
void sg_st_writer_free(sg_st_writer *w);

/* Adds a tensor: name (valid UTF-8, not "__metadata__", copied), dtype, shape
 * (ndim <= SG_ST_MAX_DIMS, copied) and data: the numel elements as host
 * values of the dtype's size (float for F32, double for F64, uint64_t for U64,
 * ...), encoded little-endian on save.  A name given twice is refused at save
 * time.  On failure w is unchanged. */
SG_NODISCARD sg_status sg_st_writer_add(sg_st_writer *w, const char *name, sg_st_dtype dtype, int ndim,
                                        const size_t *shape, const void *data, char *err, size_t errcap);
/* Sets metadata key to value (both valid UTF-8, copied; an existing key is
 * replaced).  On failure w is unchanged. */
SG_NODISCARD sg_status sg_st_writer_meta(sg_st_writer *w, const char *key, const char *value, char *err, size_t errcap);

/* The whole file in memory: *out (caller-owned, sg_free) holds *out_len bytes.
 * On failure *out is NULL and *out_len 0. */
SG_NODISCARD sg_status sg_st_writer_to_mem(const sg_st_writer *w, unsigned char **out, size_t *out_len, char *err,
                                           size_t errcap);
/* The whole file at path, atomically (sg_file.h: a temporary file, fsync,
 * rename, directory fsync; an existing file is untouched on failure). */
SG_NODISCARD sg_status sg_st_writer_save(const sg_st_writer *w, const char *path, const char *what, char *err,
                                         size_t errcap);

#endif
