/*
 * extract_internal.h - what extraction's modules share: a table of an
 * entry's paths (tar_read.c), and the streaming reader of untrusted layer
 * tars (tar_read.c) that extract.c feeds with decoded bytes and that hands
 * the content of each accepted file to a sink. Not installed.
 *
 * The reader owns every rule about the archive (SPEC.md §12.2 steps 3-5,
 * 7); the sink owns the filesystem (step 6). So the fuzz target drives the
 * very code extract runs, with a sink that never touches the disk.
 */
#ifndef WL_EXTRACT_INTERNAL_H
#define WL_EXTRACT_INTERNAL_H

#include "common/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the entry's paths ---- */

/** The entry's file paths (each mapped to its index in entry->files) and
 *  the directories that lead to them, for constant-time lookups. */
typedef struct wl__path_table wl__path_table;

/**
 * Builds the table and checks what extraction relies on: every path valid
 * (§5.1) and outside the top-level `.cog/`, paths unique, no file path a
 * directory of another, every file's layer one of the entry's layers.
 * WL_EINVALID naming the path otherwise.
 */
int wl__path_table_new(wl__path_table **out, const wl_entry *entry);
void wl__path_table_free(wl__path_table *table);
/** The index of the file at `path`, or -1. */
long wl__path_table_file(const wl__path_table *table, const char *path, size_t len);
/** True when `path` is a directory leading to some file. */
bool wl__path_table_dir(const wl__path_table *table, const char *path, size_t len);
/** The number of such directories, and the i-th (any order). */
size_t wl__path_table_dir_count(const wl__path_table *table);
wl_string wl__path_table_dir_at(const wl__path_table *table, size_t i);

/* ---- the layer tar reader ---- */

/** Where accepted file content goes. Each callback returns 0 or a
 *  wl_error_code with the message set (without any prefix: the reader adds
 *  the entry name). */
typedef struct wl__tar_sink {
	/* A listed file of the right size starts; its bytes follow. */
	int (*begin)(void *ctx, size_t file);
	int (*data)(void *ctx, const void *bytes, size_t len);
	/* Its size and digest were verified. */
	int (*commit)(void *ctx, size_t file);
	/* The file started will not be committed (any error). */
	void (*abort)(void *ctx);
	void *ctx;
} wl__tar_sink;

typedef struct wl__tar_reader wl__tar_reader;

/** A reader for the layer `layer` (a digest) of `entry`, whose paths are
 *  in `table`. Both must outlive it. */
int wl__tar_reader_new(wl__tar_reader **out, const wl_entry *entry, const wl__path_table *table,
                       wl_string layer, const wl__tar_sink *sink);
/** Feeds the next bytes of the tar stream, in pieces of any size. After
 *  the end-of-archive blocks further bytes are ignored. On failure the
 *  message names the entry (or the offset, before a name is known). */
int wl__tar_reader_feed(wl__tar_reader *r, const void *data, size_t len);
/** True once the end-of-archive blocks were read. */
bool wl__tar_reader_done(const wl__tar_reader *r);
/** The input ended: WL_EINVALID if the archive is truncated, WL_EMISMATCH
 *  when a file recorded for the layer was not in it. */
int wl__tar_reader_finish(wl__tar_reader *r);
/** Frees; aborts a file still open in the sink. */
void wl__tar_reader_free(wl__tar_reader *r);

/** The largest PAX extended header accepted (its records, in bytes). */
#define WL_TAR_PAX_MAX ((int64_t)1 << 20)

#endif
