/*
 * pack_internal.h - what the packer's modules share: the tar header
 * encoder (tar.c), the blocked gzip writer (gzip.c) and the envelope with
 * an explicit compressor and block size (envelope.c). Not installed.
 */
#ifndef WL_PACK_INTERNAL_H
#define WL_PACK_INTERNAL_H

#include "common/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- tar (tar.c, SPEC.md §11.3) ---- */

#define WL_TAR_BLOCK 512
/** The largest size a ustar size field holds (octal 77777777777). */
#define WL_TAR_USTAR_SIZE_MAX ((int64_t)8589934591)

/** The length of one PAX record `LEN KEY=VALUE\n`. */
size_t wl__tar_pax_record_len(size_t key_len, size_t value_len);

/**
 * Appends the header bytes of one entry to `out`: the PAX block, the PAX
 * records padded to 512, and the ustar block. `name` is the entry name as
 * stored (directories end with '/'); `size` is 0 for directories. The
 * content and its padding are the caller's. WL_ENOMEM only.
 */
int wl__tar_header(wl_buf *out, const char *name, size_t name_len, bool is_dir, int64_t size);

/** The bytes one entry takes: headers, content and padding. */
int64_t wl__tar_entry_size(const char *name, size_t name_len, bool is_dir, int64_t size);

/**
 * The directory entries a layer needs (every ancestor of every file),
 * deduplicated and sorted byte-wise by directory path. Each name points
 * into a file's path and includes the '/' that follows the directory, so
 * it is the entry name as stored. `*out` is NULL when there are none;
 * release it with free().
 */
int wl__tar_dirs(wl_string **out, size_t *count, const wl_source_file *files, const size_t *index,
                 size_t index_count);

/** The tar size of a planned layer (the §11.3 formula); WL_EINVALID on
 *  overflow. */
int wl__tar_layer_size(int64_t *out, const wl_source_file *files, const wl_plan_layer *layer);

/* ---- gzip (gzip.c, SPEC.md §11.4) ---- */

typedef struct wl_gzip wl_gzip;

/**
 * A gzip member writer. Input is cut into `block_size` blocks deflated
 * independently (each primed with the previous block's last 32 KiB) on up
 * to `threads` threads (<= 0: one per CPU); 0 means one plain deflate
 * stream on the calling thread. Compressed bytes go to `sink` in order,
 * always on the calling thread. Workers start only once a second block is
 * needed, so a small layer never starts a thread.
 */
int wl__gzip_new(wl_gzip **out, int level, size_t block_size, int threads, wl_write_fn sink, void *sink_ctx);
/** Adds uncompressed bytes. */
int wl__gzip_write(wl_gzip *gz, const void *data, size_t len);
/** Compresses what is left, writes the trailer. */
int wl__gzip_finish(wl_gzip *gz);
/** Stops the workers and frees; safe after a failure and on NULL. */
void wl__gzip_free(wl_gzip *gz);

/* ---- envelope (envelope.c, SPEC.md §11.6) ---- */

/** The envelope JSON with the given packer revision, compressor string and
 *  block size. */
int wl__envelope_with(char **out, size_t *out_len, const wl_pack_options *options, int revision,
                      const char *compressor, int64_t gzip_block_size);

/** The effective thresholds (0 -> defaults); WL_EINVALID when negative. */
int wl__pack_thresholds(int64_t *file_max, int64_t *size_max, const wl_pack_options *options);

/* ---- the OCI layout (layout.c) ---- */

/** Lets the layout remember blobs it verified in `cache` (and trust what
 *  the cache remembers), so an unchanged blob is not read again. */
void wl__oci_layout_use_cache(wl_oci_layout *layout, wl_hash_cache *cache);

/* ---- a standalone layer digested as its file arrives (pack.c) ---- */

/** The digest and size of the plain tar layer holding only the file `path`
 *  of `size` bytes, byte for byte what wl_pack_layer makes of it, computed
 *  from the file's bytes as they come (a download), without reading them
 *  again. `path` must outlive the stream. */
typedef struct wl__layer_stream wl__layer_stream;
int wl__layer_stream_begin(wl__layer_stream **out, wl_string path, int64_t size);
/** A wl_write_fn: the next bytes of the file. */
int wl__layer_stream_write(void *stream, const void *data, size_t len);
/** The file's bytes start over. */
int wl__layer_stream_restart(wl__layer_stream *stream);
/** WL_EMISMATCH unless exactly the size was written. */
int wl__layer_stream_finish(wl__layer_stream *stream, wl_packed_layer *out);
void wl__layer_stream_free(wl__layer_stream *stream);

#endif
