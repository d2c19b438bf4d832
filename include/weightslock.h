/*
 * weightslock.h - the whole public API of libweightslock.
 *
 * libweightslock reads, checks, rewrites and projects Cog's managed-weights
 * lockfile (`weights.lock`, format version 1) byte-for-byte as Cog does.
 *
 * Conventions (the same everywhere below):
 *  - Every name starts with `wl_`. Out-parameters come first.
 *  - A fallible function returns 0 on success or a negative `wl_error_code`.
 *    The message for the failure is in a thread-local record, read with
 *    wl_error_last(); it names the file and the byte offset or the JSON
 *    field at fault, and never ends with a newline.
 *  - The library never prints, never exits and never reads the environment.
 *  - Every object has one owner. Each `_new`/`_load`/`_parse` has a `_free`,
 *    and every `_free(NULL)` is a no-op. Byte buffers returned through
 *    `char **out, size_t *out_len` are NUL-terminated (the NUL is not
 *    counted) and are released with wl_free().
 *  - Strings in the data model are `wl_string`: UTF-8 bytes with an explicit
 *    length (a decoded JSON string may contain NUL), always followed by a
 *    NUL byte so `ptr` can also be used as a C string. A wl_string the
 *    library hands out never has a NULL `ptr`: an empty or absent field is
 *    "" (len 0).
 *  - Sizes are int64_t (as in the format) or size_t (in memory).
 */
#ifndef WEIGHTSLOCK_H
#define WEIGHTSLOCK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the shared library; everything else in it is hidden. */
#if defined(WL_BUILDING_SHARED) && defined(__GNUC__)
#define WL_API __attribute__((visibility("default")))
#else
#define WL_API
#endif

/* ------------------------------------------------------------------------ */
/* Constants                                                                */
/* ------------------------------------------------------------------------ */

/** The lockfile format version this library reads and writes. */
#define WL_LOCK_VERSION 1
/** The default lockfile name, next to cog.yaml. */
#define WL_LOCK_FILENAME "weights.lock"
/** The largest lockfile read (SPEC.md §15): 1 GiB. */
#define WL_LOCK_SIZE_MAX ((int64_t)1 << 30)
/** The library's own version, as a string. */
#define WL_VERSION_STRING "0.1.0"

/** Returns the version string of the library actually linked. */
WL_API const char *wl_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum wl_error_code {
	WL_OK = 0,
	WL_ENOMEM = -1,    /* out of memory */
	WL_ENOTFOUND = -2, /* a file (e.g. the lockfile) does not exist */
	WL_EIO = -3,       /* a system call failed (read, write, fsync, ...) */
	WL_EPARSE = -4,    /* input is not valid (syntax, type or rule) */
	WL_EVERSION = -5,  /* the lockfile has an unsupported version */
	WL_EINVALID = -6,  /* a value breaks a rule of the format or the API */
	WL_ENOENTRY = -7,  /* no entry or weight of that name */
	WL_ETIMEOUT = -8,  /* the guard lock was not acquired in time */
	WL_ECANCELED = -9, /* the wait was cancelled (e.g. by a signal) */
	WL_EBUSY = -10,    /* a resource is held by someone else */
	WL_EMISMATCH = -11, /* content does not match its recorded size or digest */
} wl_error_code;

typedef struct wl_error {
	int code;            /* a wl_error_code */
	int sys_errno;       /* errno of the failing system call, or 0 */
	const char *message; /* one line, never NULL */
} wl_error;

/** The last error recorded on this thread. Never NULL; after a success the
 *  code is whatever the last failure left (check return values first). */
WL_API const wl_error *wl_error_last(void);

/** Resets this thread's error record to WL_OK with an empty message. */
WL_API void wl_error_clear(void);

/** Releases a buffer returned by the library. */
WL_API void wl_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Strings and timestamps                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Bytes with a length. Every wl_string the library hands out (in a lock,
 * a config, a source tree, a diff, merge, drift or status result, or from
 * a function returning one) has a non-NULL `ptr` with `ptr[len] == '\0'`;
 * the empty string, also for a field the document leaves out, is "" with
 * len 0. Strings passed in may be {NULL, 0} for the empty string. The
 * exceptions are slices of an argument (wl_pattern_trim,
 * wl_fingerprint_scheme): never NULL, but followed by whatever followed
 * them in the argument.
 */
typedef struct wl_string {
	const char *ptr; /* never NULL; NUL-terminated */
	size_t len;
} wl_string;

/** A wl_string for a C string (no copy). NULL gives "" (len 0). */
WL_API wl_string wl_str(const char *cstr);

/** True when both strings hold the same bytes. */
WL_API bool wl_string_equal(wl_string a, wl_string b);

/** Byte-wise comparison (memcmp order, shorter first): <0, 0, >0. */
WL_API int wl_string_compare(wl_string a, wl_string b);

/**
 * A timestamp as Cog stores it: civil fields in the zone of the recorded
 * offset. The all-zero value is Go's zero time and encodes as
 * `0001-01-01T00:00:00Z`.
 */
typedef struct wl_time {
	int32_t year;            /* may be negative after a lenient parse */
	int32_t month;           /* 1..12, or 0 for the zero time */
	int32_t day;             /* 1..31 */
	int32_t hour;            /* 0..23 */
	int32_t minute;          /* 0..59 */
	int32_t second;          /* 0..59 */
	int32_t nanosecond;      /* 0..999999999 */
	int32_t offset_seconds;  /* east of UTC */
} wl_time;

/** True for the zero time (either spelling). */
WL_API bool wl_time_is_zero(const wl_time *t);

/** Parses RFC 3339 text with Go's rules (SPEC.md §3.2). The text is the
 *  content between the JSON quotes, not unescaped. WL_EPARSE on failure. */
WL_API int wl_time_parse(wl_time *out, const char *text, size_t len);

/** Formats as Go's RFC 3339 with nanoseconds into buf (at least 40 bytes),
 *  NUL-terminated. WL_EINVALID when the offset or year cannot be encoded. */
WL_API int wl_time_format(char *buf, size_t buf_size, const wl_time *t);

/** The current UTC wall-clock time with nanoseconds. */
WL_API wl_time wl_time_now(void);

/* ------------------------------------------------------------------------ */
/* The data model (SPEC.md §2)                                              */
/* ------------------------------------------------------------------------ */

/** One file of a weight. */
typedef struct wl_file {
	wl_string path;   /* relative, '/'-separated */
	int64_t size;
	wl_string digest; /* "sha256:<hex>" of the content */
	wl_string layer;  /* digest of the layer holding the file */
} wl_file;

/** One packed layer of a weight. */
typedef struct wl_layer {
	wl_string digest;
	wl_string media_type;
	int64_t size;              /* blob bytes */
	int64_t size_uncompressed; /* sum of its files' sizes */
} wl_layer;

/** Where a weight came from. */
typedef struct wl_source {
	wl_string uri;
	wl_string fingerprint;
	wl_string *include; /* absent and empty are the same */
	size_t include_count;
	wl_string *exclude;
	size_t exclude_count;
} wl_source;

/**
 * One weight. In a single-source lockfile (the Cog v0.19.3 shape) every
 * entry has exactly one source and `sources_present` is true. In a
 * multi-source lockfile (SPEC.md §13) `sources` is the entry's list, which
 * may be absent (`null`) or empty. `imported_at` is the import time in both
 * shapes.
 */
typedef struct wl_entry {
	wl_string name;
	wl_string target;
	wl_source *sources;
	size_t source_count;
	bool sources_present;
	wl_time imported_at;
	wl_string digest;
	wl_string set_digest;
	int64_t size;
	int64_t size_compressed;
	wl_file *files;
	size_t file_count;
	bool files_present; /* false: encodes as null */
	wl_layer *layers;
	size_t layer_count;
	bool layers_present; /* false: encodes as null */
} wl_entry;

/** The entry's only source in the single-source shape, else NULL. */
WL_API const wl_source *wl_entry_source(const wl_entry *entry);

struct wl_lock_storage;

/** A parsed lockfile. Entries are in lockfile order. */
typedef struct wl_lock {
	int64_t version;
	wl_string envelope_format;
	wl_entry *entries;
	size_t entry_count;
	bool entries_present; /* false: "weights": null */
	bool multi_source;    /* written in the SPEC.md §13 shape */
	struct wl_lock_storage *storage; /* private: owns every byte above */
} wl_lock;

/* ------------------------------------------------------------------------ */
/* Lockfile: parse, load, marshal, save (SPEC.md §3)                        */
/* ------------------------------------------------------------------------ */

/** A new empty lockfile: version 1, envelope "", weights absent. */
WL_API int wl_lock_new(wl_lock **out);

/** Releases a lockfile and every string and list it owns. */
WL_API void wl_lock_free(wl_lock *lock);

/**
 * Decodes and validates lockfile bytes exactly as Cog does (SPEC.md §3.1,
 * §3.3, §13). `name` is used in messages (NULL: "weights.lock"). The bytes
 * are copied. WL_EPARSE (syntax, type, duplicates) or WL_EVERSION.
 */
WL_API int wl_lock_parse(wl_lock **out, const void *data, size_t len, const char *name);

/** Reads (as wl_read_file, at most WL_LOCK_SIZE_MAX bytes) and parses a
 *  lockfile. WL_ENOTFOUND when the file does not exist, WL_EIO when it
 *  cannot be read (a directory, a FIFO or device, permissions),
 *  WL_EINVALID when it is larger than 1 GiB. */
WL_API int wl_lock_load(wl_lock **out, const char *path);

/**
 * Encodes canonically (SPEC.md §3.4), byte-identical to Cog. Normalizes the
 * lock in place first (files sorted by path, layers by digest, version 0 ->
 * 1), as Cog does. WL_EINVALID when a timestamp cannot be encoded.
 */
WL_API int wl_lock_marshal(char **out, size_t *out_len, wl_lock *lock);

/** A byte sink for streaming encoders: returns 0, or non-zero to stop
 *  (reported as WL_EIO). */
typedef int (*wl_write_fn)(void *ctx, const void *data, size_t len);

/**
 * Like wl_lock_marshal, but hands the same bytes to `write` in chunks of
 * about 256 KiB instead of building them in memory, so a large lockfile
 * costs no output buffer. Everything that can fail in encoding is checked
 * before the first byte is written.
 */
WL_API int wl_lock_marshal_to(wl_lock *lock, wl_write_fn write, void *ctx);

/**
 * Marshals and writes atomically and durably (SPEC.md §3.5): a temporary
 * file in the same directory, mode 0644, fsync, rename, fsync of the
 * directory. On failure the file at `path` is left as it was. The caller
 * should hold the guard lock (wl_guard_acquire).
 */
WL_API int wl_lock_save(wl_lock *lock, const char *path);

/** wl_lock_save, durable or not: without `durable` the write is still
 *  atomic but not synced, for a file that is not the lockfile itself (git's
 *  temporary copy of OURS in a merge, which git copies into the work tree). */
WL_API int wl_lock_save_to(wl_lock *lock, const char *path, bool durable);

/** Writes bytes to `path` atomically and durably, mode 0644 (the
 *  mechanism behind wl_lock_save, for other projections). */
WL_API int wl_write_file_atomic(const char *path, const void *data, size_t len);

/**
 * Reads the whole document at `path` (a lockfile, cog.yaml, an OCI layout's
 * index.json or oci-layout, ...) into a malloc'd, NUL-terminated buffer
 * that the caller frees with wl_free; `*out_len` excludes the NUL.
 * `path` must name a regular file once symbolic links are followed: it is
 * opened with O_NONBLOCK, so a FIFO does not hold up the open, and a FIFO,
 * device or socket fails at once with WL_EIO, "read PATH: not a regular
 * file (a FIFO)". A file larger than `max_size` (> 0; 0: no limit) fails,
 * before anything is read, with WL_EINVALID, "read PATH: larger than
 * 1 GiB (N bytes)". WL_ENOTFOUND when the file does not exist; WL_EIO for
 * a directory or a failed read.
 */
WL_API int wl_read_file(char **out, size_t *out_len, const char *path, int64_t max_size);

/** Like wl_read_file, for what is left at an open descriptor (standard
 *  input: a pipe is fine), named `name` in messages; reading stops with
 *  WL_EINVALID as soon as more than `max_size` (> 0) bytes arrive. The
 *  descriptor is not closed. */
WL_API int wl_read_fd(char **out, size_t *out_len, int fd, const char *name, int64_t max_size);

/* ------------------------------------------------------------------------ */
/* Entry operations (SPEC.md §4)                                            */
/* ------------------------------------------------------------------------ */

/** The first entry whose name equals `name`, or NULL. */
WL_API wl_entry *wl_lock_find(const wl_lock *lock, wl_string name);

/** Replaces the first entry of the same name, or appends. The entry is
 *  deep-copied into the lock. */
WL_API int wl_lock_upsert(wl_lock *lock, const wl_entry *entry);

/** Keeps only the entries whose names are in `names` (order kept); the
 *  list becomes present even if empty. Returns the number removed. */
WL_API size_t wl_lock_retain(wl_lock *lock, const wl_string *names, size_t count);

/**
 * Prunes the lockfile at `path` to `keep` (SPEC.md §4.4): a missing file
 * is left missing, and nothing is written when no entry is removed.
 * `*removed` (may be NULL) receives the count. Callers hold the guard lock.
 */
WL_API int wl_prune_lockfile(const char *path, const wl_string *keep, size_t count, size_t *removed);

/** True when every field but the import time agrees (SPEC.md §4.5). */
WL_API bool wl_entries_equal(const wl_entry *a, const wl_entry *b);

/** Sorts `files` by path and `layers` by digest (stable), as marshal does. */
WL_API void wl_entry_normalize(wl_entry *entry);

/**
 * Sets the shape the lock is written in (SPEC.md §13): the multi-source
 * shape of later Cog (`multi_source`), or Cog v0.19.3's single-source
 * shape, which holds exactly one source per entry. An entry with more
 * sources, or none, cannot be written in the single shape: WL_EINVALID
 * naming it, and the lock is left unchanged. Converting back and forth
 * gives the same bytes.
 */
WL_API int wl_lock_convert(wl_lock *lock, bool multi_source);

/* ------------------------------------------------------------------------ */
/* Digests and fingerprints (SPEC.md §4.6, §4.7)                            */
/* ------------------------------------------------------------------------ */

/** Length of a digest string "sha256:" + 64 hex digits. */
#define WL_DIGEST_LEN 71

/** "sha256:<hex>" of `data` into out (WL_DIGEST_LEN + 1 bytes). */
WL_API void wl_sha256_digest(char out[WL_DIGEST_LEN + 1], const void *data, size_t len);

/** True when `s` is "sha256:" followed by 64 lowercase hex digits. */
WL_API bool wl_digest_valid(wl_string s);

/** One (path, digest) pair of a file set. */
typedef struct wl_dirhash_part {
	wl_string path;
	wl_string digest;
} wl_dirhash_part;

/** The set digest of (path, digest) pairs (SPEC.md §4.6) into out. */
WL_API int wl_dirhash(char out[WL_DIGEST_LEN + 1], const wl_dirhash_part *parts, size_t count);

/** The set digest of the entry's files (normalizes the entry first). */
WL_API int wl_entry_set_digest(char out[WL_DIGEST_LEN + 1], wl_entry *entry);

/** The scheme of a fingerprint (text before the first ':'); false when
 *  there is no ':' (malformed) or the fingerprint is empty. */
WL_API bool wl_fingerprint_scheme(wl_string *out, wl_string fingerprint);

/** The value of a fingerprint (text after the first ':'). */
WL_API bool wl_fingerprint_value(wl_string *out, wl_string fingerprint);

/* ------------------------------------------------------------------------ */
/* Paths and messages (SPEC.md §5, Appendix B)                              */
/* ------------------------------------------------------------------------ */

/** True when `path` is a valid file path inside a weight (SPEC.md §5.1).
 *  On false, `*why` (may be NULL) says which rule it breaks. */
WL_API bool wl_path_valid(wl_string path, const char **why);

/** Go's path.Clean (SPEC.md §5.3). Returns a new buffer (wl_free). */
WL_API int wl_path_clean(char **out, size_t *out_len, wl_string path);

/** True when `name` is a valid weight name for cog.yaml (SPEC.md §5.2). */
WL_API bool wl_weight_name_valid(wl_string name);

/** Quotes like Go's %q (Appendix B). Returns a new buffer (wl_free). */
WL_API int wl_quote(char **out, size_t *out_len, wl_string s);

/* ------------------------------------------------------------------------ */
/* Consistency check (CLI `check`)                                          */
/* ------------------------------------------------------------------------ */

/** One problem found by wl_lock_check: the entry's name and what is wrong. */
typedef struct wl_problem {
	wl_string name;
	char *message;
} wl_problem;

/**
 * Checks every entry for internal consistency (set digest, manifest digest,
 * size sums, layer references, paths; see CLI.md `check`). `*out` receives
 * the problems in entry order (NULL and 0 when none); release them with
 * wl_problems_free. Normalizes entries like marshal does.
 */
WL_API int wl_lock_check(wl_problem **out, size_t *count, wl_lock *lock);

WL_API void wl_problems_free(wl_problem *problems, size_t count);

/* ------------------------------------------------------------------------ */
/* Projections: OCI (SPEC.md §6) and the runtime manifest (SPEC.md §7)      */
/* ------------------------------------------------------------------------ */

#define WL_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define WL_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define WL_ARTIFACT_TYPE_WEIGHT "application/vnd.cog.weight.v1"
#define WL_MEDIA_TYPE_CONFIG "application/vnd.cog.weight.config.v1+json"
#define WL_MEDIA_TYPE_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define WL_MEDIA_TYPE_LAYER_TAR_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define WL_MEDIA_TYPE_LAYER_TAR_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/** The config blob of an entry (SPEC.md §6.2). WL_EINVALID when a
 *  precondition of SPEC.md §6.4 fails (message as Cog's). */
WL_API int wl_entry_config_blob(char **out, size_t *out_len, const wl_entry *entry);

/** The OCI manifest of an entry (SPEC.md §6.3); its sha256 is the entry's
 *  `digest` in a consistent lockfile. Preconditions as above. */
WL_API int wl_entry_manifest(char **out, size_t *out_len, const wl_entry *entry);

/** The index descriptor of an entry's manifest (SPEC.md §6.5). With a
 *  non-NULL `ref_name`, adds `org.opencontainers.image.ref.name` (§6.6). */
WL_API int wl_entry_index_descriptor(char **out, size_t *out_len, const wl_entry *entry,
                              const char *ref_name);

/** One weight of the runtime manifest. */
typedef struct wl_runtime_entry {
	wl_string name;
	wl_string target;
	wl_string set_digest;
} wl_runtime_entry;

/** The runtime manifest `/.cog/weights.json`: one item per entry. */
typedef struct wl_runtime_manifest {
	wl_runtime_entry *entries;
	size_t entry_count;
} wl_runtime_manifest;

/** Projects the runtime manifest; the strings point into `lock`, which
 *  must outlive it. Release with wl_runtime_manifest_free. */
WL_API int wl_lock_runtime_manifest(wl_runtime_manifest **out, const wl_lock *lock);

WL_API void wl_runtime_manifest_free(wl_runtime_manifest *manifest);

/** The bytes of the runtime manifest, exactly as Cog writes them. */
WL_API int wl_runtime_manifest_marshal(char **out, size_t *out_len, const wl_runtime_manifest *manifest);

/* ------------------------------------------------------------------------ */
/* cog.yaml (SPEC.md §8.1, §8.2)                                            */
/* ------------------------------------------------------------------------ */

/** One weight declared in cog.yaml, normalized: URIs normalized, patterns
 *  trimmed and sorted, target as written. `fingerprint` is always empty. */
typedef struct wl_config_weight {
	wl_string name;
	wl_string target;
	wl_source *sources;
	size_t source_count; /* 1 for `source:` as a mapping */
	bool source_is_list; /* `source:` was written as a sequence */
} wl_config_weight;

typedef struct wl_config {
	wl_config_weight *weights;
	size_t weight_count;
	wl_string image; /* the top-level `image:` (a scalar), or empty */
	wl_string model; /* the top-level `model:` of later Cog, or empty */
	struct wl_lock_storage *storage; /* private */
} wl_config;

/** Parses the `weights:` of cog.yaml bytes with Cog's validation and
 *  normalization. `name` is used in messages (NULL: "cog.yaml"). */
WL_API int wl_config_parse(wl_config **out, const void *data, size_t len, const char *name);

/** Reads and parses cog.yaml. WL_ENOTFOUND when it does not exist. */
WL_API int wl_config_load(wl_config **out, const char *path);

WL_API void wl_config_free(wl_config *config);

/** A pattern without its leading and trailing Unicode white space, as
 *  cog.yaml normalization trims it (SPEC.md §8.2): a slice of `pattern`. */
WL_API wl_string wl_pattern_trim(wl_string pattern);

/** Cog's NormalizeURI (SPEC.md §8.2). Returns a new buffer (wl_free). */
WL_API int wl_normalize_uri(char **out, size_t *out_len, wl_string uri);

/* ------------------------------------------------------------------------ */
/* Drift (SPEC.md §8.3, §8.4, §13)                                          */
/* ------------------------------------------------------------------------ */

typedef enum wl_drift_kind {
	WL_DRIFT_PENDING,
	WL_DRIFT_ORPHANED,
	WL_DRIFT_CONFIG_CHANGED,
} wl_drift_kind;

/** "pending", "orphaned" or "config-changed". */
WL_API const char *wl_drift_kind_name(wl_drift_kind kind);

typedef struct wl_drift_result {
	wl_string name;     /* points into the config or lock */
	wl_drift_kind kind;
	char *details;      /* "" when there are none */
} wl_drift_result;

/**
 * Compares declarations with the lockfile (NULL: no lockfile) in Cog's
 * result order: declarations in cog.yaml order, then orphans in lockfile
 * order. `*out` is NULL and `*count` 0 when they agree.
 */
WL_API int wl_check_drift(wl_drift_result **out, size_t *count, const wl_lock *lock,
                   const wl_config *config);

WL_API void wl_drift_results_free(wl_drift_result *results, size_t count);

/* ------------------------------------------------------------------------ */
/* The guard lock (SPEC.md §4.8)                                            */
/* ------------------------------------------------------------------------ */

typedef struct wl_guard wl_guard;

/** The guard file of a lockfile is the lockfile's path plus this suffix
 *  (Cog v0.19's guard). */
#define WL_GUARD_SUFFIX ".guard"
/** Later Cog's project lock, next to the lockfile (in its directory), and
 *  the directory that holds it. */
#define WL_PROJECT_LOCK_PATH ".cog/cog.lock"
#define WL_PROJECT_LOCK_DIR ".cog"

/**
 * Takes the writers' locks of `lockfile`: an exclusive flock(2) on
 * `<dir of the lockfile>/.cog/cog.lock` (the project lock of Cog v0.20
 * and later) and then on `<lockfile>.guard` (Cog v0.19's guard), so that
 * writers of every Cog release, and flock(1) on either file, are
 * excluded. Creates the lockfile's directory, its `.cog/` (mode 0755) and
 * the two files (mode 0600, never written, never deleted) as needed.
 *
 * Each file is opened with O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC and must be
 * a regular file: a symbolic link (whose target is never created), a
 * FIFO, a device, a socket or a directory fails at once with WL_EIO and
 * "acquire LOCKFILE guard: PATH is not a regular file (a FIFO)", never
 * blocking. Descriptors are close-on-exec, so a child process does not
 * inherit the locks.
 *
 * Waits, retrying every 100 ms, for at most `timeout_seconds` (< 0:
 * forever) in all, for both locks together, and stops early, with
 * WL_ECANCELED, as soon as `*cancel` (may be NULL) becomes non-zero; a
 * signal handler may set it. WL_ETIMEOUT when the time runs out; the
 * message names the file that was held. On any failure nothing is held.
 */
WL_API int wl_guard_acquire(wl_guard **out, const char *lockfile, double timeout_seconds,
                     const volatile sig_atomic_t *cancel);

/** Releases both locks, the guard first, and frees the guard. Returns
 *  WL_EIO if unlocking failed; the guard is freed either way. */
WL_API int wl_guard_release(wl_guard *guard);

/** Runs fn(ctx) while holding both locks (Cog's WithLock). Returns
 *  fn's result, or the acquire error, or the release error if fn
 *  succeeded. */
WL_API int wl_with_lock(const char *lockfile, double timeout_seconds, const volatile sig_atomic_t *cancel,
                 int (*fn)(void *ctx), void *ctx);

/* ------------------------------------------------------------------------ */
/* Progress of long operations                                              */
/* ------------------------------------------------------------------------ */

typedef enum wl_phase {
	WL_PHASE_WALK, /* listing a source directory */
	WL_PHASE_HASH, /* hashing file contents */
	WL_PHASE_PACK, /* building layers */
	WL_PHASE_EXTRACT, /* writing files out of layers */
	WL_PHASE_VERIFY,  /* comparing a directory with an entry */
	WL_PHASE_FETCH,   /* downloading remote files into the content store */
	WL_PHASE_PUSH,    /* uploading blobs to a registry */
} wl_phase;

typedef struct wl_progress {
	wl_phase phase;
	const char *weight;   /* the weight's name, or NULL */
	uint64_t items_done;  /* files or layers */
	uint64_t items_total;
	uint64_t bytes_done;
	uint64_t bytes_total;
} wl_progress;

/** Progress callback: always called on the thread that called the
 *  operation, about ten times a second at most, and once at the end of a
 *  phase. */
typedef void (*wl_progress_fn)(void *ctx, const wl_progress *progress);

/** How much a notice matters to the user. */
typedef enum wl_notice_level {
	WL_NOTICE_INFO,    /* what a verbose run shows (a decision the user did not ask for) */
	WL_NOTICE_WARNING, /* what every run shows (something is not as configured) */
} wl_notice_level;

/** Notice callback: one line for the user, without a newline, holding no
 *  secret. May be called from any thread of the operation, one call at a
 *  time. */
typedef void (*wl_notice_fn)(void *ctx, wl_notice_level level, const char *message);

/* ------------------------------------------------------------------------ */
/* Local directory sources (SPEC.md §9)                                     */
/* ------------------------------------------------------------------------ */

/** One regular file of a source directory. */
typedef struct wl_source_file {
	wl_string path;                   /* relative, '/'-separated, valid (§5.1) */
	int64_t size;                     /* from lstat during the walk */
	char digest[WL_DIGEST_LEN + 1];   /* "sha256:<hex>", or "" until hashed */
	/* What the hash cache keys on. */
	uint64_t dev;
	uint64_t ino;
	int64_t mtime_ns;
	int64_t ctime_ns;
	/* The digest was read from this very file (device, inode, size and
	 * both times as walked, before and after the read): only such a
	 * digest is recorded in the hash cache. */
	bool verified;
	/* Where the bytes are read from when they are not at the tree's
	 * root + "/" + path: a content-store file of a remote source (§16.3),
	 * or the file in one of several source directories (push), whose
	 * digest is set and is checked as it is read. NULL otherwise. */
	const char *location;
} wl_source_file;

/** The files of a source directory, sorted by path byte-wise. */
typedef struct wl_source_tree {
	char *root; /* the directory walked, as given */
	wl_source_file *files;
	size_t file_count;
	struct wl_lock_storage *storage; /* private */
} wl_source_tree;

/** The directory a normalized file:// URI names (SPEC.md §9.1), joined to
 *  `project_dir` when relative; checks that it exists and is a directory
 *  (following symbolic links). Returns a new buffer (wl_free). */
WL_API int wl_source_resolve(char **out, const char *project_dir, wl_string uri);

/**
 * Walks `dir` (SPEC.md §9.2): depth-first in byte-wise name order, never
 * following symbolic links, skipping every directory named `.cog`. Fails on
 * the first non-regular entry (Cog's message, with the relative path) and on
 * the first invalid path (§5.1). Records path, size and identity only; the
 * digests are left empty.
 */
WL_API int wl_source_walk(wl_source_tree **out, const char *dir);

WL_API void wl_source_tree_free(wl_source_tree *tree);

/** A cache of file digests, so a re-import need not re-read unchanged files. */
typedef struct wl_hash_cache wl_hash_cache;

/**
 * Opens the cache kept in directory `dir` (created, mode 0700, when first
 * saved). A missing, corrupt or foreign cache file reads as an empty cache.
 * The cache is trusted only when `dir` and its file are owned by the
 * effective user and writable by no one else (§15); otherwise it is
 * ignored (never read, never written) and wl_hash_cache_warning says why.
 */
WL_API int wl_hash_cache_open(wl_hash_cache **out, const char *dir);

/** Why the cache is ignored ("hash cache DIR ignored: ..."), or NULL. */
WL_API const char *wl_hash_cache_warning(const wl_hash_cache *cache);

/** The cached digest of `file` if its device, inode, size, modification
 *  and change times all match a recorded entry. */
WL_API bool wl_hash_cache_get(wl_hash_cache *cache, const wl_source_file *file,
                              char digest[WL_DIGEST_LEN + 1]);

/** Records the digest of `file`, read starting at `hashed_at_ns`
 *  (CLOCK_REALTIME). Not recorded unless `file->verified`, nor when the
 *  file's times are less than two seconds older than that moment (the
 *  racy-timestamp rule), nor in an untrusted cache. Thread-safe. */
WL_API void wl_hash_cache_put(wl_hash_cache *cache, const wl_source_file *file, int64_t hashed_at_ns);

/** Writes the cache atomically, merged with what other processes saved in
 *  the meantime. */
WL_API int wl_hash_cache_save(wl_hash_cache *cache);

WL_API void wl_hash_cache_free(wl_hash_cache *cache);

/* ---- The content store Cog shares (SPEC.md §17) ---- */

/** Weight files named by content digest under DIR/files/sha256/. */
typedef struct wl_store wl_store;

/** Opens the store at `dir` (the program resolves --store, COG_CACHE_DIR,
 *  ...); nothing is created until the first file is put. */
WL_API int wl_store_open(wl_store **out, const char *dir);
WL_API void wl_store_free(wl_store *store);

/** The path of the file with `digest` (malloc'd; NULL for an invalid
 *  digest or without memory). */
WL_API char *wl_store_path(const wl_store *store, const char *digest);

/** 1 when the store holds a regular file for `digest` of `size` bytes (-1:
 *  any size; its bytes are not read), 0 when not, or a negative error. */
WL_API int wl_store_has(const wl_store *store, const char *digest, int64_t size);

/** A file being added: write its bytes, then commit or abort. */
typedef struct wl_store_put wl_store_put;

/** Starts a file of `size` bytes (-1: unknown) whose digest is `digest`
 *  (NULL: unknown, computed from the bytes). */
WL_API int wl_store_put_begin(wl_store_put **out, wl_store *store, const char *digest, int64_t size);
/** Appends bytes (a wl_write_fn; `ctx` is the put). More than the size
 *  announced is WL_EMISMATCH at once. */
WL_API int wl_store_put_write(void *ctx, const void *data, size_t len);
/** Drops what was written: the download starts over. */
WL_API int wl_store_put_restart(wl_store_put *put);
/** Checks the size and the digest (WL_EMISMATCH), syncs and renames the
 *  file into place; `digest_out` (may be NULL) receives its digest. The
 *  put is freed either way; on failure nothing is left under any name. */
WL_API int wl_store_put_commit(wl_store_put *put, char digest_out[WL_DIGEST_LEN + 1]);
WL_API void wl_store_put_abort(wl_store_put *put);

typedef struct wl_hash_options {
	int threads;            /* <= 0: two per CPU (whole files share the cores) */
	wl_hash_cache *cache;   /* NULL: read every byte */
	wl_progress_fn progress; /* may be NULL */
	void *progress_ctx;
	const char *weight;     /* for progress reports, may be NULL */
	const volatile sig_atomic_t *cancel; /* may be NULL */
	bool map_files;         /* read large files through mmap (see wl_sigbus_recover) */
} wl_hash_options;

/**
 * For programs that let the library map large files instead of copying them
 * (`map_files`, which saves the kernel's page-cache copy): a file truncated
 * by another process while mapped raises SIGBUS. The library never installs
 * signal handlers; the program's SIGBUS handler (installed with SA_SIGINFO)
 * calls this with `si_addr`. When the fault is in a mapping the library is
 * reading on this thread, it does not return: the read fails cleanly with
 * "changed while it was read". Otherwise it returns false and the handler
 * should restore the default action and re-raise. Async-signal-safe.
 */
WL_API bool wl_sigbus_recover(void *fault_address);

/**
 * Fills in the digest of every file of `tree` whose digest is empty, with
 * OpenSSL's SHA-256 on a pool of threads, from the cache where it holds a
 * trusted entry. A file whose size differs from the walk's is an error
 * (it changed during the import). Files whose digest is set are left alone.
 */
WL_API int wl_source_hash(wl_source_tree *tree, const wl_hash_options *options);

/* ------------------------------------------------------------------------ */
/* Include/exclude filters (SPEC.md §10)                                    */
/* ------------------------------------------------------------------------ */

typedef struct wl_filter wl_filter;

/**
 * Compiles include and exclude patterns (trimmed and sorted, as in a
 * normalized declaration) with go-gitignore's translation (§10.2).
 * WL_EINVALID naming the pattern for a negated pattern, one with a
 * backslash, and one outside the supported subset (§10.4). A pattern whose
 * translation RE2 cannot compile is dropped, as Cog drops it, with a
 * warning (wl_filter_warning) the caller must show.
 */
WL_API int wl_filter_new(wl_filter **out, const wl_string *include, size_t include_count,
                         const wl_string *exclude, size_t exclude_count);

/** The warnings of dropped patterns ("include pattern "[" dropped: ..."),
 *  in list order, include first. */
WL_API size_t wl_filter_warning_count(const wl_filter *filter);
WL_API const char *wl_filter_warning(const wl_filter *filter, size_t i);

/** True when the filter selects nothing away (both lists empty). */
WL_API bool wl_filter_is_empty(const wl_filter *filter);

/** True when `path` passes the filter (§10.1). */
WL_API bool wl_filter_pass(const wl_filter *filter, wl_string path);

/**
 * Marks in `keep` (count entries) the files that pass; `*kept` receives
 * their number. Zero survivors out of a non-empty filter is WL_EINVALID
 * with the facts of Cog's message (§10.5) on one line.
 */
WL_API int wl_filter_select(bool *keep, size_t *kept, const wl_filter *filter,
                            const wl_source_file *files, size_t count);

WL_API void wl_filter_free(wl_filter *filter);

/** go-gitignore's regular expression for one pattern (§10.2), or an empty
 *  string for a dropped pattern (comment, blank). Returns a new buffer. */
WL_API int wl_filter_translate(char **out, size_t *out_len, wl_string pattern);

/* ------------------------------------------------------------------------ */
/* Packing (SPEC.md §11.2–§11.6)                                            */
/* ------------------------------------------------------------------------ */

#define WL_BUNDLE_FILE_MAX_DEFAULT ((int64_t)64 << 20)
#define WL_BUNDLE_SIZE_MAX_DEFAULT ((int64_t)256 << 20)
/** Uncompressed bytes per independently deflated block of a gzip layer
 *  (§11.4); recorded in the envelope. */
#define WL_GZIP_BLOCK_SIZE ((int64_t)1 << 20)
/** The packer revision of the envelope (§11.6). */
#define WL_PACKER_REVISION 2

typedef struct wl_pack_options {
	int64_t bundle_file_max; /* 0: WL_BUNDLE_FILE_MAX_DEFAULT */
	int64_t bundle_size_max; /* 0: WL_BUNDLE_SIZE_MAX_DEFAULT */
} wl_pack_options;

/** One planned layer: which files, in which order, and how it is stored. */
typedef struct wl_plan_layer {
	size_t *files;      /* indexes into the planned file array, plan order */
	size_t file_count;
	bool gzip;          /* tar+gzip; else a plain tar */
	int gzip_level;     /* 9 for several files, 6 otherwise */
	bool bundle;        /* a bundle of small files; else standalone */
	int64_t size_uncompressed; /* sum of the files' sizes */
} wl_plan_layer;

typedef struct wl_plan {
	wl_plan_layer *layers; /* bundles first, then standalone layers */
	size_t layer_count;
} wl_plan;

/** Plans the layers (§11.2) of `files` (sorted by path; only `path` and
 *  `size` are used). An empty file set is WL_EINVALID. */
WL_API int wl_plan_layers(wl_plan **out, const wl_source_file *files, size_t count,
                          const wl_pack_options *options);

WL_API void wl_plan_free(wl_plan *plan);

/** The project's envelope (§11.6): its JSON bytes, and their digest. */
WL_API int wl_envelope(char **out, size_t *out_len, const wl_pack_options *options);
WL_API int wl_envelope_digest(char out[WL_DIGEST_LEN + 1], const wl_pack_options *options);

/** Cog's envelope (§11.6) with the effective thresholds, and its digest:
 *  `sha256:ce2d53f8...` for the defaults. A lockfile stamped with it holds
 *  records Cog made under the same plan settings, which import reuses. */
WL_API int wl_cog_envelope(char **out, size_t *out_len, const wl_pack_options *options);
WL_API int wl_cog_envelope_digest(char out[WL_DIGEST_LEN + 1], const wl_pack_options *options);

/** A produced layer blob. */
typedef struct wl_packed_layer {
	char digest[WL_DIGEST_LEN + 1];
	int64_t size;           /* blob bytes */
	const char *media_type; /* WL_MEDIA_TYPE_LAYER_TAR or ..._TAR_GZIP */
} wl_packed_layer;

/**
 * Produces one planned layer from the files under `root` (§11.3, §11.4),
 * byte-identical to Cog's tar and with the project's gzip framing. Each file
 * is read once: its content is hashed from the same buffer as the layer. A
 * file whose digest is set must hash to it, and its size must not have
 * changed (else WL_EINVALID naming it); an empty digest is filled in. The
 * blob goes to `write` (NULL: only digested and measured). Gzip layers are
 * compressed on `threads` threads (<= 0: one per CPU) in WL_GZIP_BLOCK_SIZE
 * blocks; the bytes never depend on the thread count. Memory is bounded by
 * the thread count, not by file or layer sizes.
 */
WL_API int wl_pack_layer(wl_packed_layer *out, const char *root, wl_source_file *files,
                         const wl_plan_layer *layer, int threads, wl_write_fn write, void *write_ctx,
                         const volatile sig_atomic_t *cancel);

/* ------------------------------------------------------------------------ */
/* OCI image layout (SPEC.md §6.6)                                          */
/* ------------------------------------------------------------------------ */

typedef struct wl_oci_layout wl_oci_layout;
typedef struct wl_oci_blob wl_oci_blob;

/** Opens (creating as needed) an OCI image layout at `dir`: the
 *  `oci-layout` file must hold exactly {"imageLayoutVersion":"1.0.0"} if it
 *  exists; an existing index.json is read so its other tags are kept. */
WL_API int wl_oci_layout_open(wl_oci_layout **out, const char *dir);

/** Starts a blob: bytes go to a temporary file in blobs/sha256/ through
 *  wl_oci_blob_write (a wl_write_fn; `ctx` is the blob). */
WL_API int wl_oci_blob_begin(wl_oci_blob **out, wl_oci_layout *layout);
WL_API int wl_oci_blob_write(void *blob, const void *data, size_t len);

/** Checks that the bytes written hash to `digest`, fsyncs, and renames
 *  the blob into place (an existing blob of that digest is kept and the
 *  temporary file removed). Frees the blob either way. */
WL_API int wl_oci_blob_commit(wl_oci_blob *blob, const char *digest);

/** Removes the temporary file and frees the blob. */
WL_API void wl_oci_blob_abort(wl_oci_blob *blob);

/** Stores a small blob held in memory (manifest, config blob); `digest`
 *  (may be NULL) receives its digest. */
WL_API int wl_oci_layout_put(wl_oci_layout *layout, const void *data, size_t len,
                             char digest[WL_DIGEST_LEN + 1]);

/** Stores the entry's config blob and manifest and tags the manifest with
 *  the entry's name in the index (replacing a tag of that name in place,
 *  else appending). The layers must already be stored. */
WL_API int wl_oci_layout_add_entry(wl_oci_layout *layout, const wl_entry *entry);

/** Writes index.json atomically (last, after every blob). */
WL_API int wl_oci_layout_commit(wl_oci_layout *layout);

WL_API void wl_oci_layout_free(wl_oci_layout *layout);

/* ------------------------------------------------------------------------ */
/* Import (SPEC.md §11)                                                     */
/* ------------------------------------------------------------------------ */

typedef enum wl_import_status {
	WL_IMPORT_NEW,              /* no entry of that name yet */
	WL_IMPORT_UNCHANGED,        /* declaration and fingerprint as recorded */
	WL_IMPORT_CONFIG_CHANGED,   /* target, URI or patterns differ */
	WL_IMPORT_UPSTREAM_CHANGED, /* same declaration, new fingerprint */
} wl_import_status;

/** "new", "unchanged", "config-changed", "upstream-changed". */
WL_API const char *wl_import_status_name(wl_import_status status);

/** What import does with a weight (§11.7 rule 1); the dry run reports the
 *  same decision the import takes. */
typedef enum wl_import_decision {
	WL_IMPORT_KEEP,   /* the recorded layers stand: nothing is packed */
	WL_IMPORT_PACK,   /* a new weight, or its declaration or files changed */
	WL_IMPORT_REPACK, /* the same files, but the recorded layers cannot be reused */
} wl_import_decision;

/** "keep", "pack", "repack". */
WL_API const char *wl_import_decision_name(wl_import_decision decision);

typedef struct wl_import_options {
	const char *project_dir;    /* relative sources resolve here */
	const char *lockfile;       /* the lockfile's path */
	const wl_string *names;     /* the weights to import; NULL: all declared */
	size_t name_count;
	wl_pack_options pack;
	const char *oci_layout;     /* also write an OCI image layout there; NULL: no */
	const char *cache_dir;      /* the hash cache's directory; NULL: no cache */
	const char *store_dir;      /* the content store (§17), for hf:// and https:// sources */
	const char *hf_endpoint;    /* the Hub's base URL; NULL: https://huggingface.co */
	const char *hf_token;       /* sent to the Hub's origin only; NULL: none */
	const char *cacert;         /* an extra CA file for HTTPS; NULL: the system CAs */
	int threads;                /* <= 0: one per CPU */
	bool dry_run;               /* plan, decide and report; write nothing */
	bool repack;                /* ignore the recorded layers: pack every selected weight */
	double lock_timeout;        /* guard lock wait, < 0: forever */
	bool map_files;             /* as in wl_hash_options */
	wl_progress_fn progress;    /* may be NULL */
	void *progress_ctx;
	const volatile sig_atomic_t *cancel; /* may be NULL */
} wl_import_options;

/** What happened to one weight. */
typedef struct wl_import_result {
	wl_string name;
	wl_string uri;
	wl_string target;
	wl_import_status status;
	char **changes;        /* Cog's "changed" lines (§11.9) */
	size_t change_count;
	size_t file_count;     /* after filtering */
	int64_t size;          /* bytes after filtering */
	char **included;       /* "PATH (SIZE)" of kept files, excluded below */
	size_t included_count;
	char **excluded;
	size_t excluded_count;
	bool packed;           /* layers were produced (not taken from the lockfile) */
	bool entry_changed;    /* the lockfile entry was replaced (dry run: would be) */
	wl_import_decision decision;
	const char *reason;    /* why, for the user: "new", "declaration changed", "files changed
	                          upstream", or why the layers are repacked; "" when kept */
	bool changes_lockfile; /* the lockfile changes because of this weight (its entry,
	                          or the envelope it restamps); dry run: would */
	char digest[WL_DIGEST_LEN + 1]; /* the entry's manifest digest; "" when a dry run
	                                   cannot know it without packing */
} wl_import_result;

typedef struct wl_import_report {
	wl_import_result *results; /* in the order imported */
	size_t result_count;
	size_t pruned;             /* undeclared entries removed (dry run: would be) */
	char **removed;            /* their names */
	bool changed;              /* the lockfile changed (dry run: would change) */
	bool reshaped;             /* ... into the multi-source shape (§13) */
	bool lockfile_written;
	char **warnings;           /* for the user to see, e.g. a pattern dropped, the hash cache ignored */
	size_t warning_count;
} wl_import_report;

/**
 * Imports the selected weights of `config` from their sources (local
 * directories, hf://, https://; SPEC.md §11.1, §16): inventory, filter,
 * plan, pack or reuse the recorded layers, assemble the entries, then under
 * the guard lock update the lockfile (§11.7), prune undeclared entries and
 * save it iff something changed. With `dry_run` nothing is written (§11.9).
 * Nothing is written either when any selected weight fails. When the
 * failure comes after the report was made, `*out` still holds it, for its
 * `warnings` (its results are then incomplete); free it either way.
 */
WL_API int wl_import(wl_import_report **out, const wl_config *config, const wl_import_options *options);

WL_API void wl_import_report_free(wl_import_report *report);

/* ------------------------------------------------------------------------ */
/* weights.lock in git: semantic diff and three-way merge (SPEC.md §19)     */
/* ------------------------------------------------------------------------ */

typedef enum wl_change {
	WL_CHANGE_ADDED,
	WL_CHANGE_REMOVED,
	WL_CHANGE_MODIFIED, /* a file's size or content, a layer's fields, a weight */
	WL_CHANGE_MOVED,    /* a file with the same size and content, in another layer */
} wl_change;

/** "added", "removed", "modified" or "moved". */
WL_API const char *wl_change_name(wl_change change);

/** The fields of a modified weight that differ (bits of wl_weight_diff.fields). */
enum {
	WL_DIFF_TARGET = 1u << 0,
	WL_DIFF_SOURCES = 1u << 1, /* count, URI, fingerprint, include or exclude */
	WL_DIFF_DIGEST = 1u << 2,
	WL_DIFF_SET_DIGEST = 1u << 3,
	WL_DIFF_SIZE = 1u << 4,
	WL_DIFF_SIZE_COMPRESSED = 1u << 5,
	WL_DIFF_FILES = 1u << 6,
	WL_DIFF_LAYERS = 1u << 7,
};

/** One file that differs, matched by path. */
typedef struct wl_file_change {
	wl_change change;
	const wl_file *old_file; /* NULL when added */
	const wl_file *new_file; /* NULL when removed */
} wl_file_change;

/** One layer that differs, matched by digest. */
typedef struct wl_layer_change {
	wl_change change;
	const wl_layer *old_layer; /* NULL when added */
	const wl_layer *new_layer; /* NULL when removed */
} wl_layer_change;

/** One weight that differs, matched by name. */
typedef struct wl_weight_diff {
	wl_change change;          /* added, removed or modified */
	const wl_entry *old_entry; /* NULL when added */
	const wl_entry *new_entry; /* NULL when removed */
	unsigned fields;           /* WL_DIFF_* bits (modified weights only) */
	wl_file_change *files;     /* sorted by path (modified weights only) */
	size_t file_count;
	size_t files_added, files_removed, files_modified, files_moved;
	wl_layer_change *layers;   /* sorted by digest (modified weights only) */
	size_t layer_count;
	size_t layers_added, layers_removed, layers_modified;
} wl_weight_diff;

typedef struct wl_diff {
	bool envelope_changed; /* envelopeFormat differs */
	bool shape_changed;    /* both have weights, written in different shapes (§13) */
	wl_weight_diff *weights; /* old's order (removed, modified), then new's (added) */
	size_t weight_count;
} wl_diff;

/**
 * Compares two lockfiles weight by weight (SPEC.md §19): weights by name,
 * then, for a weight in both that is not equal (wl_entries_equal: import
 * times are ignored), its fields, its files by path and its layers by
 * digest. Normalizes both locks first (as marshal does); the diff points
 * into them, so they must outlive it. O(n log n) in weights and linear in
 * files. Release with wl_diff_free.
 */
WL_API int wl_lock_diff(wl_diff **out, wl_lock *old_lock, wl_lock *new_lock);

/** True when the diff holds no difference at all. */
WL_API bool wl_diff_empty(const wl_diff *diff);

WL_API void wl_diff_free(wl_diff *diff);

typedef enum wl_conflict_kind {
	WL_CONFLICT_BOTH_CHANGED,   /* changed differently on both sides */
	WL_CONFLICT_BOTH_ADDED,     /* added on both sides, differently */
	WL_CONFLICT_OURS_REMOVED,   /* removed on our side, changed on theirs */
	WL_CONFLICT_THEIRS_REMOVED, /* changed on our side, removed on theirs */
	WL_CONFLICT_SAME_TARGET,    /* the merge would give two weights one target */
} wl_conflict_kind;

/** One weight the merge cannot settle. */
typedef struct wl_merge_conflict {
	wl_conflict_kind kind;
	wl_string name;
	const wl_entry *base;   /* each NULL where the weight is absent */
	const wl_entry *ours;
	const wl_entry *theirs;
	wl_string other;        /* WL_CONFLICT_SAME_TARGET: the other weight's name */
} wl_merge_conflict;

typedef struct wl_merge_report {
	wl_merge_conflict *conflicts; /* in result order; none: the merge is in `ours` */
	size_t conflict_count;
	size_t taken;            /* weights replaced by their version */
	size_t added;            /* their new weights, appended */
	size_t removed;          /* weights removed on one side and unchanged on the other */
	bool envelope_conflict;  /* envelopeFormat changed differently on both sides: ours kept */
	bool became_multi;       /* single-source `ours` now holds a weight that needs the
	                            multi-source shape (not exactly one source) */
} wl_merge_report;

/**
 * Three-way merge keyed by weight name (SPEC.md §19), for git's merge
 * driver. "Changed" means not wl_entries_equal to the base's entry, so
 * import times alone never count. Per weight: changed on one side only,
 * that side; on both, identically, ours; on both differently, removed on
 * one side and changed on the other, or added on both differently, a
 * conflict; removed on one side and unchanged on the other, or on both,
 * removed. Weights stay in ours's order, their new weights appended in
 * their order. envelopeFormat follows the same rule, except that a change
 * on both sides keeps ours's (`envelope_conflict`): it names the packing
 * that produced layer digests, and import re-checks layers against it.
 * Two weights given one target by the merge are a conflict.
 *
 * With no conflict, the merge replaces `ours` in place (its shape kept;
 * when it holds no weights, their shape) and `*out` reports what was
 * done; the entries taken from `theirs` share its strings, whose bytes
 * `ours` then owns: use `theirs` only while `ours` lives. With a conflict, `ours` is left as it was and `*out` lists every
 * conflict; they point into the three locks. A NULL `base` is an empty
 * lockfile. Normalizes entries first (as marshal does). O(n log n) in
 * weights, linear in files. Release the report with wl_merge_report_free.
 */
WL_API int wl_lock_merge3(wl_merge_report **out, wl_lock *base, wl_lock *ours, wl_lock *theirs);

WL_API void wl_merge_report_free(wl_merge_report *report);

/* ------------------------------------------------------------------------ */
/* Consumers: verify a directory, extract from an OCI layout (SPEC.md §12)  */
/* ------------------------------------------------------------------------ */

typedef struct wl_verify_options {
	int threads;             /* <= 0: one per CPU */
	bool sizes_only;         /* compare sizes, read no content */
	bool map_files;          /* read large files through mmap (see wl_sigbus_recover) */
	wl_progress_fn progress; /* may be NULL */
	void *progress_ctx;
	const volatile sig_atomic_t *cancel; /* may be NULL */
} wl_verify_options;

/** Differences between a directory and an entry, each list sorted by path
 *  byte-wise (paths relative to the directory, '/'-separated). */
typedef struct wl_verify_report {
	char **missing;   /* recorded, not present */
	size_t missing_count;
	char **extra;     /* present (any non-directory), not recorded */
	size_t extra_count;
	char **modified;  /* recorded, but not a regular file, or size or content differs */
	size_t modified_count;
} wl_verify_report;

/**
 * Compares `dir` with the entry's file set (SPEC.md §12.1): walks it without
 * following symbolic links, ignoring `dir/.cog/`, compares sizes first, then
 * hashes the regular files of the right size on a pool of threads. A
 * difference is not an error: it is in the report (empty lists when `dir`
 * materializes the entry).
 */
WL_API int wl_verify_dir(wl_verify_report **out, const wl_entry *entry, const char *dir,
                         const wl_verify_options *options);

WL_API void wl_verify_report_free(wl_verify_report *report);

typedef struct wl_extract_options {
	int threads;             /* <= 0: one per CPU */
	bool force;              /* write into a non-empty DEST it does not own; remove nothing */
	wl_progress_fn progress; /* may be NULL */
	void *progress_ctx;
	const volatile sig_atomic_t *cancel; /* may be NULL */
	double lock_timeout;     /* waiting for another extract into DEST; < 0: forever */
	size_t *others_left;     /* may be NULL: receives, after a forced extract, how many
	                            entries DEST holds that the entry does not record */
} wl_extract_options;

/**
 * Materializes `entry` into `dest` from the OCI image layout `layout_dir`
 * (SPEC.md §12.2, §7.2): finds the manifest blob by the entry's digest,
 * checks that it and the config blob hash to their digests and agree with
 * the entry, then extracts every layer (tar, tar+gzip, tar+zstd), in parallel,
 * verifying each file's size and sha256 as it is written, never writing
 * outside `dest`. Maintains `dest/.cog/downloading`, then `ready` (only once
 * every file is verified and flushed) or `failed` (holding the error).
 * Ownership (SPEC.md §14): a `dest` found absent or empty becomes the
 * project's (`dest/.cog/weightslock`); only an owned `dest` has the paths
 * the entry does not record removed (never through a link, never on
 * another filesystem). A non-empty `dest` not owned is refused untouched
 * unless `force`, which writes the recorded paths and removes nothing.
 * The entry must pass the rules of `check` before anything is written.
 * Files already present and correct are kept (mode 0644, a file with other
 * links replaced by a copy). Two extracts into one `dest` take turns on
 * `dest/.cog/extract.lock`. Layers are untrusted input: any entry that is
 * not a listed regular file or a directory is rejected.
 * WL_EMISMATCH when content does not match the lockfile.
 */
WL_API int wl_extract(const wl_entry *entry, const char *layout_dir, const char *dest,
                      const wl_extract_options *options);

struct wl_registry_options;

/**
 * wl_extract with the manifest, the config blob and every layer streamed
 * from a registry repository (SPEC.md §18.3) instead of read from a
 * layout: the same checks, markers, ownership and hostile-layer rules.
 * The manifest is fetched by the entry's digest and must be its
 * projection byte for byte; each layer is hashed as it streams, an
 * interrupted one resumes with Range.
 */
WL_API int wl_extract_registry(const wl_entry *entry, const struct wl_registry_options *registry,
                               const char *dest, const wl_extract_options *options);

/* ------------------------------------------------------------------------ */
/* Registries (SPEC.md §18)                                                 */
/* ------------------------------------------------------------------------ */

typedef struct wl_registry_options {
	const char *repository;        /* "HOST[:PORT]/REPO" (a tag or digest is ignored) */
	bool plain_http;               /* http:// instead of https:// (a loopback host falls back by itself) */
	const char *cacert;            /* an extra CA (PEM), or NULL */
	const char *const *auth_files; /* credentials files, in order (SPEC.md §18.2); a missing one is skipped */
	size_t auth_file_count;
	int jobs;                      /* transfers at once; <= 0: 4 */
	int retries;                   /* attempts after the first; < 0: 5 */
	double timeout;                /* seconds a request may go without progress; <= 0: 30 */
	int64_t monolithic_max;        /* larger blobs go in chunks; 0: 128 MiB */
	int64_t chunk_size;            /* 0: 64 MiB */
	const char *mount_from;        /* push: a repository on the same registry to mount blobs from first */
	wl_progress_fn progress;       /* may be NULL */
	void *progress_ctx;
	const volatile sig_atomic_t *cancel; /* may be NULL */
	/* Told, as WL_NOTICE_INFO, when a loopback registry (localhost,
	 * 127.0.0.0/8, ::1) that does not speak TLS is asked over plain http
	 * for the rest of the operation; as WL_NOTICE_WARNING, when a
	 * configured credential helper is not installed and the registry is
	 * tried anonymously. May be NULL. */
	wl_notice_fn notice;
	void *notice_ctx;
} wl_registry_options;

/** Checks a registry reference, HOST[:PORT]/REPO[:TAG][@DIGEST], against
 *  the distribution spec's grammar (SPEC.md §18.1) before any request: 0,
 *  or WL_EINVALID with a message naming the bad part (the host, which
 *  component of the repository and which character, the tag, the
 *  digest). Every registry operation makes this check itself; a caller
 *  may make it first to say where the reference came from. */
WL_API int wl_registry_reference_check(const char *reference);

/** The tag SPEC.md §18.1 gives an entry: "weights-NAME-HEX12" in a
 *  single-source lockfile, "cog-weight.SANITIZED.HEX12" in a multi-source
 *  one. Returns a malloc'd string (wl_free), or NULL on out of memory. */
WL_API char *wl_push_tag(const wl_entry *entry, bool multi_source);

typedef struct wl_push_result {
	const char *name;          /* the entry's (borrowed from the lock) */
	char *reference;           /* "HOST/REPO:TAG@DIGEST" */
	bool already_present;      /* the manifest was there: nothing uploaded */
	size_t blobs_uploaded;     /* blobs the registry did not have (sent or mounted) */
	size_t blobs_mounted;      /* of those, linked from mount_from */
	int64_t bytes_uploaded;    /* bytes sent, resends counted */
} wl_push_result;

typedef struct wl_push_report {
	wl_push_result *results;   /* in the order pushed */
	size_t result_count;
} wl_push_report;

/**
 * Pushes the entries of `lock` named in `names` (NULL: all) to the
 * registry (SPEC.md §18.1, §18.2): each entry's layer blobs from the OCI
 * image layout `source->oci_layout`, or packed again on the fly from the
 * files where its sources hold them (the content store by digest, else the
 * local source directories; the packed bytes must hash to the layer's
 * digest before the last of them is sent, nothing is written to disk),
 * and its config blob, each after a HEAD (only
 * missing blobs are sent; monolithic up to the threshold, chunked above it
 * or after a 413), in parallel on `jobs` transfers; then its manifest,
 * tagged, whose digest the registry reports must be the entry's. An entry
 * whose manifest is already there (by digest) only gets its tag. The
 * entry's projection must hash to its digest (as `check` requires) before
 * anything is sent. Entries are pushed in lockfile order; the first
 * failure stops the push (what was uploaded stays: blobs are
 * content-addressed, and pushing again sends only what is missing).
 * `*out` holds the results of the entries pushed, also on failure.
 */
/** Where push takes the blobs from. */
typedef struct wl_push_source {
	const char *oci_layout;  /* a layout holding the layers; NULL: pack them on the fly */
	const char *project_dir; /* relative file:// sources resolve against it (NULL: ".") */
	const char *store_dir;   /* the content store holding remote sources' files, or NULL */
} wl_push_source;

WL_API int wl_push(wl_push_report **out, const wl_lock *lock, const char *const *names, size_t name_count,
                   const wl_push_source *source, const wl_registry_options *options);

WL_API void wl_push_report_free(wl_push_report *report);

typedef struct wl_pull_result {
	const char *name;       /* the entry's (borrowed from the lock) */
	bool cached;            /* every file was in the store: no request made */
	size_t files_fetched;   /* files put into the store */
	int64_t bytes_fetched;  /* their sizes */
	size_t layers_fetched;  /* layers streamed from the registry */
} wl_pull_result;

typedef struct wl_pull_report {
	wl_pull_result *results;
	size_t result_count;
} wl_pull_report;

/**
 * Fills the content store at `store_dir` (SPEC.md §17, shared with Cog)
 * with every file of the entries named in `names` (NULL: all), from the
 * registry (SPEC.md §18.3). An entry whose every file is in the store
 * costs no request. Otherwise its manifest is fetched by digest and must be
 * its projection byte for byte, and only the layers holding a missing file
 * are streamed, in parallel on `jobs`, through extract's checks straight
 * into the store (no blob is kept; a file lands only once its size and
 * digest are verified). Running it again after an interruption fetches no
 * file that was completed. `*out` holds the results so far, also on
 * failure.
 */
WL_API int wl_pull(wl_pull_report **out, const wl_lock *lock, const char *const *names, size_t name_count,
                   const char *store_dir, const wl_registry_options *options);

WL_API void wl_pull_report_free(wl_pull_report *report);
/** The status of one weight across cog.yaml, the lockfile and the
 *  registry, as Cog's `cog weights status` names them (SPEC.md §18.3). */
typedef enum wl_weight_status {
	WL_STATUS_READY,      /* declared, locked as declared, all in the registry */
	WL_STATUS_INCOMPLETE, /* declared, locked as declared, a blob or the manifest missing */
	WL_STATUS_STALE,      /* declared and locked, but the declaration has changed */
	WL_STATUS_PENDING,    /* declared, not locked */
	WL_STATUS_ORPHANED,   /* locked, not declared */
} wl_weight_status;

/** "ready", "incomplete", "stale", "pending" or "orphaned". */
WL_API const char *wl_weight_status_name(wl_weight_status status);

/** One layer of a weight checked in the registry (Cog's words: "ready"
 *  when present, else "missing"). */
typedef struct wl_layer_status {
	wl_string digest; /* points into the lock */
	int64_t size;
	bool present;
} wl_layer_status;

typedef struct wl_status_result {
	wl_string name;          /* points into the config or lock */
	wl_string target;        /* the declared one; an orphan's entry's */
	wl_weight_status status;
	const wl_entry *entry;   /* the lockfile entry; NULL when pending */
	char *details;           /* stale: the drift details (SPEC.md §8.4), else NULL */
	bool checked;            /* the registry was asked (ready or incomplete) */
	bool manifest_present;   /* when checked: the manifest by the entry's digest */
	wl_layer_status *layers; /* when checked: one per entry layer, in its order */
	size_t layer_count;
} wl_status_result;

typedef struct wl_status_report {
	wl_status_result *results; /* declarations in cog.yaml order, then orphans in lockfile order */
	size_t result_count;
} wl_status_report;

/**
 * The status of every declared or locked weight (SPEC.md §18.3), as Cog's
 * `cog weights status` computes it: a declaration without entry is pending;
 * one whose entry differs in target, URI or filters (the drift comparison,
 * SPEC.md §8.3) is stale; an entry not declared is orphaned. Only the others
 * are looked up in the registry of `options` (opened only when there is one
 * to look up; `lock` may be NULL, no lockfile): a HEAD per layer blob and
 * one for the manifest by the entry's digest, on `jobs` requests at once.
 * Ready when all are there, else incomplete. A registry that answers
 * neither "there" nor "not there" (unreachable, refusing credentials, a
 * 5xx after the retries) is an error, not a missing blob.
 */
WL_API int wl_status(wl_status_report **out, const wl_config *config, const wl_lock *lock,
                     const wl_registry_options *options);

WL_API void wl_status_report_free(wl_status_report *report);

#ifdef __cplusplus
}
#endif

#endif /* WEIGHTSLOCK_H */
