/*
 * internal.h - plumbing shared by the library's modules; not installed.
 *
 * Owns: the thread-local error record helpers, the growable byte buffer
 * used by every encoder, the string storage (arena) behind wl_lock and
 * wl_config, and small checked-arithmetic helpers.
 */
#ifndef WL_INTERNAL_H
#define WL_INTERNAL_H

#include "weightslock.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define WL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define WL_LIKELY(x) __builtin_expect(!!(x), 1)
#define WL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WL_PRINTF(a, b)
#define WL_LIKELY(x) (x)
#define WL_UNLIKELY(x) (x)
#endif

/* ---- errors (error.c) ---- */

/** Records `code` with a formatted message; returns `code`. */
int wl__fail(int code, const char *fmt, ...) WL_PRINTF(2, 3);
/** Like wl__fail, also recording errno `err`; the message gets
 *  ": <strerror(err)>" appended. */
int wl__fail_errno(int code, int err, const char *fmt, ...) WL_PRINTF(3, 4);
/** Sets the errno of the current error record (after wl__fail). */
void wl__error_set_errno(int err);
/** Records WL_ENOMEM; returns WL_ENOMEM. */
int wl__nomem(void);
/** Prefixes the current message with "<prefix>: " (keeps the code). */
int wl__error_prefix(const char *fmt, ...) WL_PRINTF(1, 2);
/** The longest message kept; a longer one loses its middle (" ... "), so
 *  the system error at its end survives a long path. */
#define WL__MESSAGE_MAX 2048
/** The error record, kept across work that may overwrite it (cleanup). */
typedef struct wl__saved_error {
	int code;
	int sys_errno;
	char message[WL__MESSAGE_MAX];
} wl__saved_error;
void wl__error_save(wl__saved_error *out);
/** Puts a saved record back; returns its code. */
int wl__error_restore(const wl__saved_error *saved);

/* ---- paths (paths.c) ---- */

/** Sign of the byte-wise comparison of `s` with `dir` followed by '/':
 *  0 for exactly "dir/", so in sorted paths a bisection for the first one
 *  not below 0 finds the first path under `dir` (the file-and-directory
 *  rule of SPEC.md §5.1). */
int wl__path_compare_with_dir(wl_string s, wl_string dir);
/** In `count` items of `stride` bytes sorted by the wl_string path at
 *  `path_offset` in each, the index of the first one from `from` on whose
 *  path lies under `dir` ("dir/..."), found by bisection; `count` when none. */
size_t wl__path_first_under(const void *items, size_t count, size_t stride, size_t path_offset, size_t from,
                            wl_string dir);

/* ---- growable buffer (buf.c) ---- */

typedef struct wl_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; later writes are ignored */
} wl_buf;

void wl_buf_init(wl_buf *b);
void wl_buf_release(wl_buf *b);
/** Makes room for `extra` more bytes; false (and b->failed) on overflow or
 *  out of memory. */
bool wl_buf_reserve(wl_buf *b, size_t extra);
void wl_buf_put(wl_buf *b, const void *p, size_t n);
void wl_buf_putc(wl_buf *b, char c);
void wl_buf_puts(wl_buf *b, const char *s);
void wl_buf_put_str(wl_buf *b, wl_string s);
void wl_buf_printf(wl_buf *b, const char *fmt, ...) WL_PRINTF(2, 3);
void wl_buf_put_int64(wl_buf *b, int64_t v);
/** Hands the bytes (NUL-terminated) to the caller; WL_ENOMEM if any write
 *  failed (the buffer is released then). */
int wl_buf_finish(wl_buf *b, char **out, size_t *out_len);

/* ---- JSON string encoding (json_write.c) ---- */

/** Appends `s` as a JSON string with Go's (>= 1.22) escaping: quotes,
 *  \" \\ \n \r \t \b \f, \u00XX for other controls, \u003c \u003e \u0026,
 *  \u2028 \u2029, and \ufffd for each byte that is not valid UTF-8. */
void wl_json_put_string(wl_buf *b, const char *s, size_t n);
/** The most bytes wl_json_write_string writes for n input bytes. */
#define WL_JSON_STRING_MAX(n) ((n) * 6 + 2)
/** Writes the same encoding at `out`, which has room for
 *  WL_JSON_STRING_MAX(n) bytes; returns the end of what was written. */
char *wl_json_write_string(char *out, const char *s, size_t n);
/** Writes the decimal form of v at `out` (room for 20 bytes); returns the
 *  end. */
char *wl_write_int64(char *out, int64_t v);

/** Decodes one UTF-8 sequence as Go's utf8.DecodeRune does: returns its
 *  length and stores the code point, or returns 1 and stores 0xFFFD for an
 *  invalid byte (overlong forms, surrogates and values above U+10FFFF are
 *  invalid). `n` must be at least 1. */
size_t wl_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);
/** Appends the UTF-8 encoding of `cp` (a valid scalar value). */
void wl_utf8_put(wl_buf *b, uint32_t cp);

/** Finds repeated strings in O(n log n): `refs` point into one array (of
 *  strings, or of structures holding one at the same offset). Sorts them
 *  by string, equal strings in array order, and returns the earliest
 *  element whose string equals an earlier element's, or NULL; so a scan
 *  that compares each element with those before it would stop there. */
const wl_string *wl__earliest_repeat(const wl_string **refs, size_t n);

/** True when both lists hold equal strings in the same order. */
bool wl__strings_equal(const wl_string *a, size_t na, const wl_string *b, size_t nb);

/* ---- entries (format/entry.c, format/lock.c) ---- */

/** A name and the index of what carries it, for sorted lookups. */
typedef struct wl__name_ref {
	wl_string name;
	size_t index;
} wl__name_ref;

/** The names name_of(owner, 0 .. n-1) sorted byte-wise (names must be
 *  unique, as validation makes them), malloc'd; NULL without memory. */
wl__name_ref *wl__sorted_names(size_t n, wl_string (*name_of)(const void *, size_t), const void *owner);
/** The index carrying `name` in a table of wl__sorted_names, or -1. */
long wl__name_lookup(const wl__name_ref *refs, size_t n, wl_string name);
/** A name_of for wl__sorted_names over a wl_lock's entries. */
wl_string wl__lock_entry_name(const void *lock, size_t i);

/* ---- drift (config/drift.c) ---- */

/** Appends the drift details of declaration `w` against its entry (SPEC.md
 *  §8.4) to `b`; nothing when they agree. */
void wl__drift_details(wl_buf *b, const wl_entry *entry, const wl_config_weight *w);
/** A name_of for wl__sorted_names over a wl_config's weights. */
wl_string wl__config_weight_name(const void *config, size_t i);

/* ---- string storage (storage.c) ---- */

/** An arena of immutable bytes plus the buffers a lock took ownership of.
 *  Freed all at once. */
struct wl_lock_storage;
typedef struct wl_lock_storage wl_storage;

/** The empty wl_string: `ptr` is never NULL in what the API hands out. */
#define WL__EMPTY ((wl_string){"", 0})
/** Makes a zero-initialized (absent) string the empty string. */
static inline void wl__string_fill(wl_string *s)
{
	if (s->ptr == NULL)
		*s = WL__EMPTY;
}
/** (format/lock.c) wl__string_fill on every string of a source, or of an
 *  entry with its sources, files and layers. */
void wl__source_fill(wl_source *src);
void wl__entry_fill(wl_entry *e);

wl_storage *wl_storage_new(void);
void wl_storage_free(wl_storage *s);
/** Allocates n bytes (8-aligned) from the arena; NULL on out of memory. */
void *wl_storage_alloc(wl_storage *s, size_t n);
/** Copies bytes (plus a NUL) into the arena. Returns false on ENOMEM. The
 *  empty string is WL__EMPTY (no byte of the arena). */
bool wl_storage_string(wl_storage *s, wl_string *out, const char *p, size_t n);
/** Takes ownership of a malloc'd buffer, freed with the storage. */
bool wl_storage_adopt(wl_storage *s, void *buffer);
/** Moves every byte `src` owns to `dst` (no copy): what pointed into
 *  `src` stays valid as long as `dst` lives; `src` is left empty. */
void wl_storage_absorb(wl_storage *dst, wl_storage *src);

/** (format/lock.c) Deep-copies `src` into `dst`, strings in `st` (NULL:
 *  the lists are copied, the strings shared with `src`). On failure `dst`
 *  holds what was copied so far: free it with wl__entry_free_lists. */
bool wl__entry_copy(wl_storage *st, wl_entry *dst, const wl_entry *src);
/** Frees an entry's malloc'd lists (its strings live in the storage). */
void wl__entry_free_lists(wl_entry *e);

/* ---- word-at-a-time byte scanning ---- */

/* For 8 bytes loaded little- or big-endian alike: a non-zero result when
 * some byte is below `n` (n <= 128), equal to `c`, or has its top bit set.
 * Exact per word, so it only gates a byte loop. */
#define WL_ONES ((uint64_t)0x0101010101010101ULL)
#define WL_HIGHS ((uint64_t)0x8080808080808080ULL)
static inline uint64_t wl_word_has_zero(uint64_t x)
{
	return (x - WL_ONES) & ~x & WL_HIGHS;
}
static inline uint64_t wl_word_has_byte(uint64_t x, unsigned char c)
{
	return wl_word_has_zero(x ^ (WL_ONES * c));
}
static inline uint64_t wl_word_has_less(uint64_t x, unsigned char n)
{
	return (x - WL_ONES * n) & ~x & WL_HIGHS;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define WL_HAVE_SSE2 1
#endif

/* ---- parallel work (pool.c) ---- */

/** One job of a parallel run: returns 0 or a wl_error_code (with the
 *  message set on the running thread). */
typedef int (*wl_job_fn)(void *ctx, size_t job);
/** Called on the calling thread about every 100 ms while jobs run, and
 *  once at the end (progress reporting). */
typedef void (*wl_tick_fn)(void *ctx);

/** The number of online CPUs (at least 1). */
int wl__cpu_count(void);

/**
 * Runs fn(ctx, 0 .. jobs-1) on `threads` worker threads (<= 0: one per
 * CPU), handing jobs out in order. Stops handing out jobs at the first
 * failure or when `*cancel` is set (WL_ECANCELED), waits for running jobs,
 * and returns the first failure with its message on this thread.
 */
int wl__run_parallel(size_t jobs, int threads, wl_job_fn fn, void *ctx, wl_tick_fn tick, void *tick_ctx,
                     const volatile sig_atomic_t *cancel);

/* ---- hashing one file (hash.c) ---- */

#include <openssl/evp.h>
#include <stdatomic.h>

typedef struct wl__hash_io {
	const EVP_MD *md;                     /* SHA-256, fetched once per run */
	bool map_files;                       /* see wl_hash_options */
	_Atomic uint64_t *bytes_done;         /* progress counter, may be NULL */
	const volatile sig_atomic_t *cancel;  /* may be NULL */
	const char *failed_step;              /* out, with WL_EIO: "read", "map", "hash" */
	int sys_errno;                        /* out, with WL_EIO */
} wl__hash_io;

/**
 * Hashes the regular file open at `fd`, expected to hold `size` bytes, with
 * large reads or (map_files, at least 8 MiB) through small mappings.
 * `*seen` receives the bytes seen: `size` when the file held exactly that,
 * fewer if it shrank, `size + 1` if it grew; `digest` is set on success.
 * Returns 0, WL_EIO with io->failed_step and io->sys_errno set and no
 * message (the caller names the file), WL_ECANCELED or WL_ENOMEM.
 */
int wl__hash_fd(char digest[WL_DIGEST_LEN + 1], uint64_t *seen, int fd, int64_t size, wl__hash_io *io);

/** (format/digest.c) Finishes a SHA-256 context into "sha256:<hex>";
 *  false when OpenSSL fails. */
struct evp_md_ctx_st;
bool wl__digest_final(struct evp_md_ctx_st *md, char out[WL_DIGEST_LEN + 1]);

/* ---- consistency (format/check.c) ---- */

/** The rules of wl_lock_check for one entry, which is left unchanged:
 *  WL_EINVALID with the first problem found ("the entry fails check: ..."). */
int wl__entry_check(const wl_entry *entry);

/* ---- selecting entries by name (format/lock.c) ---- */

/** WL_ENOTFOUND 'weight "NAME" is not in the lockfile' for the first of
 *  `names` the lock lacks; 0 when all are there (or `names` is NULL). */
int wl__lock_check_names(const wl_lock *lock, const char *const *names, size_t count);
/** True when `names` is NULL (every entry) or holds `name`. */
bool wl__names_select(const char *const *names, size_t count, wl_string name);

/* ---- directories (source/local.c) ---- */

/** (walk.c) The names in the directory open at `fd` (without . and ..), sorted
 *  byte-wise, as one malloc'd NULL-terminated array (free() it). Returns 0,
 *  WL_ENOMEM, or WL_EIO with the errno in *err; sets no message. */
int wl__list_dir_sorted(char ***out, size_t *out_count, int fd, int *err);

/* ---- test hooks ---- */

/** Called (when set) after a file is opened and checked, just before it
 *  is mapped: lets a test change the file at the worst moment. */
extern void (*wl__test_before_map)(int fd);

/* ---- small parsing helpers ---- */

/** The value of a hexadecimal digit, or -1. */
static inline int wl_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- checked arithmetic ---- */

static inline bool wl_add_overflows_i64(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static inline bool wl_mul_overflows_size(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

/* ---- files (fileio.c) ---- */

/** What a file of this type is, for messages: "a FIFO", "a directory",
 *  "a character device", "a symbolic link", ... */
const char *wl__file_kind(mode_t mode);
/** NULL when the file or directory `st` describes may be trusted (§15):
 *  owned by the effective user and writable by no one else; else why not
 *  ("is not owned by you", "is writable by others"). */
struct stat;
const char *wl__distrust(const struct stat *st);
/** The mechanism of wl_write_file_atomic with the bytes produced by
 *  fill(ctx, fd) into the temporary file: fill returns 0, an errno value
 *  (a failed write), or a negative wl_error_code it recorded (returned as
 *  is; nothing is replaced). */
int wl__write_atomic(const char *path, int (*fill)(void *ctx, int fd), void *ctx);
/** The same, without the fsyncs when not `durable` (still atomic: a
 *  reader sees the old bytes or the new ones). */
int wl__write_atomic_sync(const char *path, int (*fill)(void *ctx, int fd), void *ctx, bool durable);
/** Writes all of `data` to `fd` (EINTR retried); returns an errno value. */
int wl__write_all(int fd, const void *data, size_t len);
/** mkdir -p: every missing directory of `path` made with `mode`; the last
 *  component must end up a directory. WL_EIO "<fmt...>: create directory
 *  <the prefix that failed>: <strerror>" otherwise. */
int wl__make_dirs(const char *path, unsigned mode, const char *fmt, ...) WL_PRINTF(3, 4);
/* ---- large durable files (file_writer.c) ---- */

/** Writes one new file through a buffer: O_DIRECT for a large file (see
 *  file_writer.c), else page-aligned buffered writes with early
 *  writeback. The file descriptor stays the caller's. */
typedef struct wl__file_writer {
	int fd;
	bool direct;
	unsigned char *buf;
	size_t cap, len;
	int64_t flushed; /* bytes in the file */
	int64_t synced;  /* bytes whose writeback has started */
	int err;         /* errno of the first failure */
} wl__file_writer;

/** `size`: the file's expected size (-1: unknown). Returns an errno. */
int wl__file_writer_init(wl__file_writer *w, int fd, int64_t size);
/** Appends bytes; returns an errno (the first failure sticks). */
int wl__file_writer_write(wl__file_writer *w, const void *data, size_t len);
/** Writes out what is buffered; returns an errno. The caller syncs. */
int wl__file_writer_finish(wl__file_writer *w);
/** After the caller truncated the file to 0 and seeked to its start. */
void wl__file_writer_reset(wl__file_writer *w);
void wl__file_writer_free(wl__file_writer *w);

/** A name no other writer uses: `prefix` + 16 random hex digits. */
void wl__temp_name(char out[32], const char *prefix);

#endif
