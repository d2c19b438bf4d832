/*
 * json_read.h - decoding JSON with Go's encoding/json rules, straight into
 * C structures; the reading half of json_write.c. Not installed.
 *
 * Owns the Go semantics every reader of Go-written JSON needs: the syntax
 * errors and their wording, case-insensitive keys with Go's simple folding,
 * repeated keys decoding over the earlier value, null leaving a field
 * alone (and a list absent), type mismatches remembered while decoding
 * goes on, invalid UTF-8 decoded to U+FFFD, arrays decoded element by
 * element over an existing list. Callers supply the structure: key tables,
 * and one function per kind of list element.
 *
 * Usage: wl__json_init over a NUL-terminated buffer the caller keeps
 * alive, then wl__json_open_top and the member/element iterators, then
 * wl__json_finish, which reports the error Go would (syntax, then a bad
 * timestamp, then the first type mismatch). Functions returning bool
 * return false when the parse must stop (syntax error or out of memory,
 * recorded in the reader); a type mismatch returns true.
 */
#ifndef WL_JSON_READ_H
#define WL_JSON_READ_H

#include "common/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** Deepest nesting of arrays and objects accepted, as Go's scanner. */
#define WL__JSON_MAX_DEPTH 10000

typedef struct wl__json_reader {
	char *buf; /* input, NUL at buf[len]; simple strings end up NUL-terminated in place */
	size_t len;
	size_t pos;
	const char *name; /* the file, for messages */
	wl_storage *st;   /* where decoded strings that needed unescaping go */
	wl_buf scratch;
	/* The first syntax error ends the parse; it wins over everything. */
	bool syntax_failed;
	/* Errors Go reports after decoding: the first "hard" error (a bad
	 * timestamp), else the first type mismatch. */
	bool hard_failed;
	bool type_failed;
	char hard_msg[512];
	char type_msg[512];
	size_t hard_at, type_at;
	bool oom;
	int depth; /* containers open around the current value */
} wl__json_reader;

/** Where a value goes, for type errors: the Go struct holding the field,
 *  its dotted JSON path from the root (NULL for the top-level value) and
 *  the Go type of the field or element. */
typedef struct wl__json_ctx {
	const char *struct_name;
	const char *path;
	const char *go_type;
} wl__json_ctx;

/** A known member name and its upper-cased form (same length). */
typedef struct wl__json_key {
	const char *name;
	const char *folded;
	size_t len;
} wl__json_key;
#define WL__JSON_KEY(name, folded) {name, folded, sizeof(name) - 1}

/** Starts reading `buf` (len bytes, NUL at buf[len]); `name` is used in
 *  messages, `st` receives strings that had to be unescaped. */
void wl__json_init(wl__json_reader *r, char *buf, size_t len, const char *name, wl_storage *st);
/**
 * Ends the parse: when `ok`, anything but whitespace after the top-level
 * value is a syntax error. Releases the scratch buffer and returns 0, or
 * the error Go would report with the message set (WL_EPARSE "parse NAME:
 * ... (at byte N)"), or WL_ENOMEM.
 */
int wl__json_finish(wl__json_reader *r, bool ok);

static inline void wl__json_skip_ws(wl__json_reader *r)
{
	const char *b = r->buf;
	size_t i = r->pos, n = r->len;
	for (;;) {
		/* Indentation comes in runs of spaces: eight at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			if (w != 0x2020202020202020ULL)
				break;
			i += 8;
		}
		if (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
			i++;
			continue;
		}
		break;
	}
	r->pos = i;
}

/** The byte at the current position, or -1 at the end. */
static inline int wl__json_peek(const wl__json_reader *r)
{
	return r->pos < r->len ? (unsigned char)r->buf[r->pos] : -1;
}

/** Records a syntax error at the current position. Always returns false. */
bool wl__json_syntax(wl__json_reader *r, const char *context);
/** Records the current error message as the "hard" error at `at`, unless
 *  one was recorded already. */
void wl__json_set_hard(wl__json_reader *r, size_t at);
/** Records a type mismatch (`what`: the JSON kind, e.g. "string"). */
void wl__json_type_error(wl__json_reader *r, const wl__json_ctx *f, const char *what, size_t at);

/** The JSON kind of the value at the current position, for type errors. */
const char *wl__json_kind_at(const wl__json_reader *r);
/** Skips one value, checking its syntax; depth costs no stack. */
bool wl__json_skip_value(wl__json_reader *r);
/** True when the value at the current position is null (consumed). */
bool wl__json_is_null(wl__json_reader *r);
/** Skips a value of the wrong kind after recording the type error. */
bool wl__json_mismatch(wl__json_reader *r, const wl__json_ctx *f);

/** The index of the key matching `k` (exactly, else folded), or -1. */
int wl__json_match_key(const wl__json_key *keys, int count, const char *k, size_t n);

/**
 * Starts decoding an object into a structure: 1 when members follow (the
 * brace is consumed), 0 when the value was null or of the wrong kind and is
 * done with, -1 on a syntax error.
 */
int wl__json_open_object(wl__json_reader *r, const wl__json_ctx *self);
/** The same for the top-level value (leading whitespace skipped). */
int wl__json_open_top(wl__json_reader *r, const wl__json_ctx *self);
/**
 * Iterates the members of an object: call with *first = true after the
 * opening brace was consumed. Returns 1 with the decoded key (the value
 * follows), 0 at the closing brace, -1 on a syntax error.
 */
int wl__json_next_member(wl__json_reader *r, bool *first, wl_string *key);
/** The same for arrays: 1 when an element follows (pos at it), 0 at ']'. */
int wl__json_next_element(wl__json_reader *r, bool *first);

/** A string field; null leaves `out` alone. */
bool wl__json_read_string(wl__json_reader *r, const wl__json_ctx *f, wl_string *out);
/** An integer field (int64); a fraction or an out-of-range value is a
 *  type error naming the number. */
bool wl__json_read_int(wl__json_reader *r, const wl__json_ctx *f, int64_t *out);
/** A timestamp field: Go's Time.UnmarshalJSON on the raw value bytes. */
bool wl__json_read_time(wl__json_reader *r, wl_time *out);

/** Decodes one list element in place (zeroed when new). */
typedef bool (*wl__json_elem_fn)(wl__json_reader *r, void *elem, void *ctx);
/**
 * Decodes a JSON array over an existing malloc'd list (Go semantics:
 * element i into element i, then the length becomes the array's); `cap`
 * tracks the allocation. null empties the list (`drop` frees what each
 * dropped element holds) and clears *present; an array sets it.
 */
bool wl__json_read_list(wl__json_reader *r, const wl__json_ctx *list_f, void **items, size_t *count,
                        size_t *cap, bool *present, size_t size, wl__json_elem_fn fn, void *ctx,
                        void (*drop)(void *));
/** A []string field of struct `struct_name` at `path`; the list's
 *  capacity is kept equal to its count. */
bool wl__json_read_string_list(wl__json_reader *r, const char *struct_name, const char *path,
                               wl_string **items, size_t *count);

/** Where a scalar member of a structure goes, and its Go context. */
typedef struct wl__json_slot {
	bool is_int; /* int64_t, else wl_string */
	size_t offset;
	wl__json_ctx ctx;
} wl__json_slot;
/** Reads the members of an object (brace consumed) whose known members are
 *  all strings or integers; keys[i] goes to slots[i], others are skipped. */
bool wl__json_read_scalar_object(wl__json_reader *r, void *obj, const wl__json_key *keys,
                                 const wl__json_slot *slots, int count);

#endif
