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

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
/** Directory ids: 0 is the root (the target itself), -1 none. The child
 *  directory `name` of directory `dir`, or -1 (also when `dir` is -1). */
long wl__path_table_child_dir(const wl__path_table *table, long dir, const char *name, size_t len);
/** The index of the file `name` in directory `dir`, or -1. */
long wl__path_table_child_file(const wl__path_table *table, long dir, const char *name, size_t len);
/** The length of the longest recorded file path. */
size_t wl__path_table_longest(const wl__path_table *table);
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

/* ---- pull (extract.c) ---- */

struct wl__registry;
/**
 * Fetches from the registry the layers of `entry` that hold a file the
 * store lacks and puts those files into the store (SPEC.md §18.3): the
 * manifest and config blob checked as for extract, every layer through
 * the same decoder, digest and tar checks. `*files`, `*bytes` and
 * `*layers` count what was stored and fetched. Uses options' threads,
 * progress, cancel.
 */
int wl__pull_entry(const wl_entry *entry, struct wl__registry *reg, const char *repo, wl_store *store,
                   const wl_extract_options *options, size_t *files, int64_t *bytes, size_t *layers);

/* ---- the target directory (target.c, SPEC.md §14) ---- */

/** Temporary names extract creates (files and markers): the prefix and 16
 *  hex digits. */
#define WL_EXTRACT_TEMP_PREFIX ".wl-"
/** In DEST/.cog/: the lock two extracts of one target share, and the file
 *  that makes a target the project's own. */
#define WL_EXTRACT_LOCK "extract.lock"
#define WL_EXTRACT_OWNER "weightslock"

/** True when `name` (one path component, `top` when at the top of DEST) is
 *  one extract keeps for itself: `.cog` at the top, a temporary name
 *  anywhere, compared case-insensitively (a case-folding filesystem must
 *  not let a layer reach them). */
bool wl__extract_reserved_name(const char *name, size_t len, bool top);

/** Writes `name` in the directory `dfd` atomically (temporary file, fsync,
 *  rename, fsync of the directory); returns an errno value. */
int wl__write_marker(int dfd, const char *name, const void *data, size_t len);

typedef struct wl__target_options {
	bool force;            /* write into a non-empty target not owned */
	double lock_timeout;   /* waiting for another extract; < 0: forever */
	const volatile sig_atomic_t *cancel;
	const char *owner_line; /* written to .cog/weightslock when owned */
} wl__target_options;

typedef struct wl__target {
	int fd, cog_fd, lock_fd; /* DEST, DEST/.cog, the flocked extract lock */
	dev_t dev;               /* DEST's filesystem */
	dev_t cog_dev;
	ino_t cog_ino;
	bool owned;   /* DEST/.cog/weightslock: unrecorded paths are removed */
	bool created; /* DEST itself was created here */
} wl__target;

/**
 * Inspects `dest` without writing; refuses (WL_EINVALID) a non-empty target
 * without .cog/weightslock unless forced, leaving it untouched. Otherwise
 * creates it and .cog/ as needed, takes the extract lock (WL_ETIMEOUT,
 * WL_ECANCELED), looks again, and when the target is absent, empty or
 * already owned, writes .cog/weightslock. Call wl__target_close in every
 * case.
 */
int wl__target_open(wl__target *t, const char *dest, const wl__target_options *options);
void wl__target_close(wl__target *t);

typedef struct wl__sweep_result {
	size_t *candidates; /* recorded files in place with the right size and one link */
	size_t candidate_count;
	size_t others; /* not owned: unrecorded entries left alone */
} wl__sweep_result;

/**
 * One pass over the target (SPEC.md §14), at any depth, never following a
 * link: collects the candidates, gives recorded directories mode 0755, and
 * in an owned target removes every path the entry does not record (never
 * on another filesystem: WL_EINVALID). `.cog/` at the top is skipped.
 */
int wl__target_sweep(wl__target *t, const wl__path_table *table, const wl_entry *entry,
                     wl__sweep_result *out);

/** The largest PAX extended header accepted (its records, in bytes). */
#define WL_TAR_PAX_MAX ((int64_t)1 << 20)

#endif
