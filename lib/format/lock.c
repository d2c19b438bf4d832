/*
 * lock.c - the lockfile: decoding with Go encoding/json semantics, the
 * canonical encoding, loading, saving, upsert and prune (SPEC.md §3, §4,
 * §13).
 *
 * Hand-written because the format *is* Go's decoder and MarshalIndent:
 * case-insensitive keys with Unicode simple folding, repeated keys merging
 * into earlier values, null leaving fields alone, deferred type errors, one
 * U+FFFD per invalid byte, and Go's escaping on output. General C JSON
 * libraries build their own trees with their own rules; matching Go byte
 * for byte, at several hundred MB/s, needs a decoder that writes straight
 * into the lockfile structures.
 *
 * Memory: the input buffer is owned by the lock and decoded in place where
 * possible, so plain strings (nearly all of them) cost no copy; strings
 * that need unescaping go to the lock's arena. Lists are malloc'd arrays.
 */
#include "common/internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 10000

/* ------------------------------------------------------------------------ */
/* Lock allocation                                                          */
/* ------------------------------------------------------------------------ */

static void source_free_lists(wl_source *s)
{
	free(s->include);
	free(s->exclude);
	s->include = s->exclude = NULL;
	s->include_count = s->exclude_count = 0;
}

static void entry_free_lists(wl_entry *e)
{
	for (size_t i = 0; i < e->source_count; i++)
		source_free_lists(&e->sources[i]);
	free(e->sources);
	free(e->files);
	free(e->layers);
	e->sources = NULL;
	e->files = NULL;
	e->layers = NULL;
	e->source_count = e->file_count = e->layer_count = 0;
}

int wl_lock_new(wl_lock **out)
{
	*out = NULL;
	wl_lock *lock = calloc(1, sizeof *lock);
	if (lock == NULL)
		return wl__nomem();
	lock->storage = wl_storage_new();
	if (lock->storage == NULL) {
		free(lock);
		return wl__nomem();
	}
	lock->version = WL_LOCK_VERSION;
	*out = lock;
	return 0;
}

void wl_lock_free(wl_lock *lock)
{
	if (lock == NULL)
		return;
	for (size_t i = 0; i < lock->entry_count; i++)
		entry_free_lists(&lock->entries[i]);
	free(lock->entries);
	wl_storage_free(lock->storage);
	free(lock);
}

/* ------------------------------------------------------------------------ */
/* Decoder state                                                            */
/* ------------------------------------------------------------------------ */

typedef struct parser {
	char *buf; /* owned input, NUL at buf[len] */
	size_t len;
	size_t pos;
	const char *name;
	wl_storage *st;
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
} parser;

/* Per-entry decoding state: an entry may carry both shapes while being
 * decoded (repeated keys), so the decision is made at the end. */
typedef struct entry_state {
	wl_entry e;          /* sources/source_count: the `sources` list */
	wl_source single;    /* the `source` object */
	wl_time single_time; /* source.importedAt */
	bool has_single;
	const char *entry_time; /* raw entry-level importedAt (quotes included) */
	size_t entry_time_len;
	size_t entry_time_at;
} entry_state;

typedef struct entry_vec {
	entry_state *items;
	size_t count, cap;
	bool present;
} entry_vec;

static const char *describe_char(int c, char out[16])
{
	if (c == '\'')
		return "'\\''";
	if (c == '"')
		return "'\"'";
	if (c >= 0x20 && c < 0x7F)
		snprintf(out, 16, "'%c'", c);
	else if (c == '\n')
		return "'\\n'";
	else if (c == '\r')
		return "'\\r'";
	else if (c == '\t')
		return "'\\t'";
	else if (c < 0x80)
		snprintf(out, 16, "'\\x%02x'", (unsigned)c);
	else /* Go prints the byte as the code point of the same value. */
		snprintf(out, 16, "'%c%c'", (char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F)));
	return out;
}

/* Records a syntax error at the current position. Always returns false. */
static bool syntax(parser *p, const char *context)
{
	if (p->syntax_failed)
		return false;
	p->syntax_failed = true;
	if (p->pos >= p->len) {
		wl__fail(WL_EPARSE, "parse %s: unexpected end of JSON input (at byte %zu)", p->name, p->len);
	} else {
		char tmp[16];
		wl__fail(WL_EPARSE, "parse %s: invalid character %s %s (at byte %zu)", p->name,
		         describe_char((unsigned char)p->buf[p->pos], tmp), context, p->pos);
	}
	return false;
}

static void set_hard(parser *p, size_t at)
{
	if (p->hard_failed)
		return;
	p->hard_failed = true;
	p->hard_at = at;
	snprintf(p->hard_msg, sizeof p->hard_msg, "%s", wl_error_last()->message);
}

/* A value of the wrong JSON kind for a field: remembered, decoding goes on. */
typedef struct field_ctx {
	const char *struct_name; /* Go struct holding the field */
	const char *path;        /* dotted JSON path from the root */
	const char *go_type;     /* Go type of the field (or element) */
} field_ctx;

static void type_error(parser *p, const field_ctx *f, const char *what, size_t at)
{
	if (p->type_failed)
		return;
	p->type_failed = true;
	p->type_at = at;
	if (f->path == NULL)
		snprintf(p->type_msg, sizeof p->type_msg,
		         "json: cannot unmarshal %s into Go value of type %s", what, f->go_type);
	else
		snprintf(p->type_msg, sizeof p->type_msg,
		         "json: cannot unmarshal %s into Go struct field %s.%s of type %s", what,
		         f->struct_name, f->path, f->go_type);
}

static inline void skip_ws(parser *p)
{
	const char *b = p->buf;
	size_t i = p->pos, n = p->len;
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
	p->pos = i;
}

static inline int peek(parser *p)
{
	return p->pos < p->len ? (unsigned char)p->buf[p->pos] : -1;
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                  */
/* ------------------------------------------------------------------------ */

/* Bytes that end the fast scan of a string: quote, backslash, controls,
 * and every non-ASCII byte (checked for valid UTF-8 separately). */
static const unsigned char string_stop[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(1), R16(1),
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	R16(0), R16(0),
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	R16(0), R16(0),
	R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
#undef R16
};


/* Reads 4 hex digits at s (bounds checked by the caller's scan). */
static int32_t get_u4(const char *s, size_t avail)
{
	if (avail < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	int32_t v = 0;
	for (int i = 2; i < 6; i++) {
		int h = wl_hex_value((unsigned char)s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * Scans the string starting at the opening quote. On success `*raw` and
 * `*raw_len` give the bytes between the quotes and `*simple` says whether
 * they decode to themselves (no escapes, valid UTF-8); pos is past the
 * closing quote.
 */
static bool scan_string(parser *p, const char **raw, size_t *raw_len, bool *simple)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	size_t n = p->len;
	size_t i = p->pos + 1;
	bool plain = true;
	for (;;) {
#ifdef WL_HAVE_SSE2
		/* Sixteen bytes at a time: a signed compare with 0x20 catches
		 * controls and every byte >= 0x80 at once. */
		{
			const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
			              space = _mm_set1_epi8(0x20);
			while (i + 16 <= n) {
				__m128i v = _mm_loadu_si128((const __m128i *)(b + i));
				__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
				                           _mm_cmplt_epi8(v, space));
				int mask = _mm_movemask_epi8(hit);
				if (mask != 0) {
					i += (size_t)__builtin_ctz((unsigned)mask);
					break;
				}
				i += 16;
			}
		}
#endif
		/* Eight bytes at a time while none of them can end the scan. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			if (wl_word_has_byte(w, '"') | wl_word_has_byte(w, '\\') | wl_word_has_less(w, 0x20) |
			    (w & WL_HIGHS))
				break;
			i += 8;
		}
		while (i < n && !string_stop[b[i]])
			i++;
		if (i >= n) {
			p->pos = n;
			return syntax(p, "in string literal");
		}
		unsigned c = b[i];
		if (c == '"')
			break;
		if (c == '\\') {
			plain = false;
			if (i + 1 >= n) {
				p->pos = n;
				return syntax(p, "in string literal");
			}
			unsigned e = b[i + 1];
			switch (e) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				for (size_t k = 0; k < 4; k++) {
					if (i + 2 + k >= n) {
						p->pos = n;
						return syntax(p, "in \\u hexadecimal character escape");
					}
					if (wl_hex_value(b[i + 2 + k]) < 0) {
						p->pos = i + 2 + k;
						return syntax(p, "in \\u hexadecimal character escape");
					}
				}
				i += 6;
				continue;
			default:
				p->pos = i + 1;
				return syntax(p, "in string escape code");
			}
		}
		if (c < 0x20) {
			p->pos = i;
			return syntax(p, "in string literal");
		}
		/* Non-ASCII: valid UTF-8 stays as is, anything else is replaced. */
		uint32_t cp;
		size_t len = wl_utf8_decode(b + i, n - i, &cp);
		if (cp == 0xFFFD && len == 1)
			plain = false;
		i += len;
	}
	*raw = p->buf + p->pos + 1;
	*raw_len = i - (p->pos + 1);
	*simple = plain;
	p->pos = i + 1;
	return true;
}

/* Decodes an already-scanned string into `out`: in place for simple
 * strings (the closing quote becomes the NUL), else into the arena. */
static bool decode_string(parser *p, const char *raw, size_t raw_len, bool simple, wl_string *out)
{
	if (simple) {
		((char *)raw)[raw_len] = '\0';
		out->ptr = raw_len ? raw : NULL;
		out->len = raw_len;
		return true;
	}
	wl_buf *sb = &p->scratch;
	sb->len = 0;
	const unsigned char *s = (const unsigned char *)raw;
	for (size_t i = 0; i < raw_len;) {
		unsigned c = s[i];
		if (c == '\\') {
			unsigned e = s[i + 1];
			switch (e) {
			case '"': wl_buf_putc(sb, '"'); break;
			case '\\': wl_buf_putc(sb, '\\'); break;
			case '/': wl_buf_putc(sb, '/'); break;
			case 'b': wl_buf_putc(sb, '\b'); break;
			case 'f': wl_buf_putc(sb, '\f'); break;
			case 'n': wl_buf_putc(sb, '\n'); break;
			case 'r': wl_buf_putc(sb, '\r'); break;
			case 't': wl_buf_putc(sb, '\t'); break;
			case 'u': {
				int32_t r = get_u4(raw + i, raw_len - i);
				i += 6;
				if (r >= 0xD800 && r < 0xE000) {
					int32_t r2 = get_u4(raw + i, raw_len - i);
					if (r < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000) {
						i += 6;
						wl_utf8_put(sb, 0x10000 + (((uint32_t)r - 0xD800) << 10) +
						                    ((uint32_t)r2 - 0xDC00));
					} else {
						wl_utf8_put(sb, 0xFFFD);
					}
				} else {
					wl_utf8_put(sb, (uint32_t)r);
				}
				continue;
			}
			}
			i += 2;
			continue;
		}
		if (c < 0x80) {
			wl_buf_putc(sb, (char)c);
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = wl_utf8_decode(s + i, raw_len - i, &cp);
		if (cp == 0xFFFD && len == 1)
			wl_utf8_put(sb, 0xFFFD);
		else
			wl_buf_put(sb, s + i, len);
		i += len;
	}
	if (sb->failed || !wl_storage_string(p->st, out, sb->data, sb->len)) {
		p->oom = true;
		return false;
	}
	return true;
}

static bool expect_literal(parser *p, const char *lit, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p->pos + k >= p->len || p->buf[p->pos + k] != lit[k]) {
			p->pos += k;
			char ctx[40];
			snprintf(ctx, sizeof ctx, "in literal %s (expecting '%c')", lit, lit[k]);
			return syntax(p, ctx);
		}
	}
	p->pos += n;
	return true;
}

/* Scans a number per the JSON grammar; `*integer` is false when it has a
 * fraction or an exponent. */
static bool scan_number(parser *p, const char **start, size_t *len, bool *integer)
{
	const char *b = p->buf;
	size_t i = p->pos, n = p->len;
	size_t s = i;
	*integer = true;
	if (i < n && b[i] == '-')
		i++;
	if (i >= n) {
		p->pos = i;
		return syntax(p, "in numeric literal");
	}
	if (b[i] == '0') {
		i++;
	} else if (b[i] >= '1' && b[i] <= '9') {
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	} else {
		p->pos = i;
		return syntax(p, "in numeric literal");
	}
	if (i < n && b[i] == '.') {
		*integer = false;
		i++;
		if (i >= n || b[i] < '0' || b[i] > '9') {
			p->pos = i;
			return syntax(p, "after decimal point in numeric literal");
		}
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	if (i < n && (b[i] == 'e' || b[i] == 'E')) {
		*integer = false;
		i++;
		if (i < n && (b[i] == '+' || b[i] == '-'))
			i++;
		if (i >= n || b[i] < '0' || b[i] > '9') {
			p->pos = i;
			return syntax(p, "in exponent of numeric literal");
		}
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	*start = b + s;
	*len = i - s;
	p->pos = i;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Skipping values (syntax only), iteratively so depth costs no stack      */
/* ------------------------------------------------------------------------ */

static bool skip_value(parser *p)
{
	int depth = p->depth;
	/* stack[k]: 1 inside an object, 0 inside an array */
	static _Thread_local unsigned char stack[MAX_DEPTH + 2];
	int top = 0;
	for (;;) {
		/* Parse one value. */
		skip_ws(p);
		int c = peek(p);
		const char *r;
		size_t rl;
		bool simple, integer;
		switch (c) {
		case '{':
		case '[':
			if (depth + top + 1 > MAX_DEPTH)
				return syntax(p, "exceeded max depth");
			stack[++top] = c == '{';
			p->pos++;
			skip_ws(p);
			if (peek(p) == (c == '{' ? '}' : ']')) {
				p->pos++;
				top--;
				goto after_value;
			}
			if (c == '{')
				goto object_key;
			continue;
		case '"':
			if (!scan_string(p, &r, &rl, &simple))
				return false;
			break;
		case 't':
			if (!expect_literal(p, "true", 4))
				return false;
			break;
		case 'f':
			if (!expect_literal(p, "false", 5))
				return false;
			break;
		case 'n':
			if (!expect_literal(p, "null", 4))
				return false;
			break;
		default:
			if (c == '-' || (c >= '0' && c <= '9')) {
				if (!scan_number(p, &r, &rl, &integer))
					return false;
				break;
			}
			return syntax(p, "looking for beginning of value");
		}
	after_value:
		for (;;) {
			if (top == 0)
				return true;
			skip_ws(p);
			c = peek(p);
			if (stack[top]) {
				if (c == ',') {
					p->pos++;
					goto object_key;
				}
				if (c == '}') {
					p->pos++;
					top--;
					continue;
				}
				return syntax(p, "after object key:value pair");
			}
			if (c == ',') {
				p->pos++;
				break;
			}
			if (c == ']') {
				p->pos++;
				top--;
				continue;
			}
			return syntax(p, "after array element");
		}
		continue;
	object_key:
		skip_ws(p);
		if (peek(p) != '"')
			return syntax(p, "looking for beginning of object key string");
		if (!scan_string(p, &r, &rl, &simple))
			return false;
		skip_ws(p);
		if (peek(p) != ':')
			return syntax(p, "after object key");
		p->pos++;
	}
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

/* Folds a decoded key like Go's foldName, as far as it matters for field
 * names made of ASCII letters: ASCII upper-cased, U+017F -> 'S',
 * U+212A -> 'K'. Any other non-ASCII code point cannot match: false. */
static bool fold_key(const char *k, size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t w = 0;
	const unsigned char *s = (const unsigned char *)k;
	for (size_t i = 0; i < n;) {
		if (w >= cap)
			return false;
		unsigned c = s[i];
		if (c < 0x80) {
			out[w++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = wl_utf8_decode(s + i, n - i, &cp);
		if (cp == 0x17F)
			out[w++] = 'S';
		else if (cp == 0x212A)
			out[w++] = 'K';
		else
			return false;
		i += len;
	}
	*out_len = w;
	return true;
}

typedef struct field {
	const char *name;   /* as in the format */
	const char *folded; /* upper-cased, same length */
	size_t len;
} field;
#define FIELD(name, folded) {name, folded, sizeof(name) - 1}

/* Returns the index of the matching field, or -1. */
static int match_key(const field *fields, int count, const char *k, size_t n)
{
	for (int i = 0; i < count; i++) {
		if (fields[i].len != n)
			continue;
		size_t j = 0;
		while (j < n && fields[i].name[j] == k[j])
			j++;
		if (j == n)
			return i;
	}
	char folded[64];
	size_t fl;
	if (!fold_key(k, n, folded, sizeof folded, &fl))
		return -1;
	for (int i = 0; i < count; i++)
		if (fields[i].len == fl && memcmp(fields[i].folded, folded, fl) == 0)
			return i;
	return -1;
}

/*
 * Iterates the members of an object: call with *first = true after the
 * opening brace was consumed. Returns 1 with the decoded key, 0 at the
 * closing brace, -1 on a syntax error.
 */
static int next_member(parser *p, bool *first, wl_string *key)
{
	skip_ws(p);
	int c = peek(p);
	if (*first) {
		*first = false;
		if (c == '}') {
			p->pos++;
			p->depth--;
			return 0;
		}
	} else {
		if (c == '}') {
			p->pos++;
			p->depth--;
			return 0;
		}
		if (c != ',')
			{
			syntax(p, "after object key:value pair");
			return -1;
		}
		p->pos++;
		skip_ws(p);
		c = peek(p);
	}
	if (c != '"')
		{
		syntax(p, "looking for beginning of object key string");
		return -1;
	}
	const char *raw;
	size_t rl;
	bool simple;
	if (!scan_string(p, &raw, &rl, &simple))
		return -1;
	if (simple) {
		key->ptr = raw;
		key->len = rl;
	} else if (!decode_string(p, raw, rl, simple, key)) {
		return -1;
	}
	skip_ws(p);
	if (peek(p) != ':')
		{
		syntax(p, "after object key");
		return -1;
	}
	p->pos++;
	skip_ws(p);
	return 1;
}

/* Same for arrays: 1 when an element follows (pos at it), 0 at ']'. */
static int next_element(parser *p, bool *first)
{
	skip_ws(p);
	int c = peek(p);
	if (*first) {
		*first = false;
		if (c == ']') {
			p->pos++;
			p->depth--;
			return 0;
		}
		return 1;
	}
	if (c == ']') {
		p->pos++;
		p->depth--;
		return 0;
	}
	if (c != ',')
		{
		syntax(p, "after array element");
		return -1;
	}
	p->pos++;
	skip_ws(p);
	return 1;
}

/* The JSON kind of the value at pos, for type errors. */
static const char *kind_at(parser *p)
{
	switch (peek(p)) {
	case '{': return "object";
	case '[': return "array";
	case '"': return "string";
	case 't': case 'f': return "bool";
	default: return "number";
	}
}

static bool is_null(parser *p)
{
	if (peek(p) != 'n')
		return false;
	return expect_literal(p, "null", 4);
}

/* Skips a value of the wrong kind after recording the type error. */
static bool mismatch(parser *p, const field_ctx *f)
{
	size_t at = p->pos;
	int c = peek(p);
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *r;
		size_t rl;
		bool integer;
		if (!scan_number(p, &r, &rl, &integer))
			return false;
		type_error(p, f, "number", at);
		return true;
	}
	const char *kind = kind_at(p);
	if (!skip_value(p)) /* reports characters that start no value */
		return false;
	type_error(p, f, kind, at);
	return true;
}

/*
 * Starts decoding an object into a structure: 1 when members follow (the
 * brace is consumed), 0 when the value was null or of the wrong kind and is
 * done with, -1 on a syntax error.
 */
static int open_object(parser *p, const field_ctx *self)
{
	int c = peek(p);
	if (c == 'n')
		return is_null(p) ? 0 : -1;
	if (c != '{')
		return mismatch(p, self) ? 0 : -1;
	p->pos++;
	p->depth++;
	return 1;
}

static bool read_string(parser *p, const field_ctx *f, wl_string *out)
{
	if (peek(p) == '"') {
		const char *raw;
		size_t rl;
		bool simple;
		if (!scan_string(p, &raw, &rl, &simple))
			return false;
		return decode_string(p, raw, rl, simple, out);
	}
	if (peek(p) == 'n')
		return is_null(p);
	return mismatch(p, f);
}

static bool read_int(parser *p, const field_ctx *f, int64_t *out)
{
	int c = peek(p);
	if (c == 'n')
		return is_null(p);
	if (!(c == '-' || (c >= '0' && c <= '9')))
		return mismatch(p, f);
	size_t at = p->pos;
	const char *r;
	size_t rl;
	bool integer;
	if (!scan_number(p, &r, &rl, &integer))
		return false;
	bool ok = integer;
	int64_t v = 0;
	if (ok) {
		bool neg = r[0] == '-';
		uint64_t acc = 0;
		for (size_t i = neg; i < rl; i++) {
			unsigned d = (unsigned)(r[i] - '0');
			if (acc > (UINT64_MAX - d) / 10) {
				ok = false;
				break;
			}
			acc = acc * 10 + d;
		}
		if (ok) {
			if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
				ok = false;
			else
				v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
		}
	}
	if (!ok) {
		char what[96];
		snprintf(what, sizeof what, "number %.*s", (int)(rl > 60 ? 60 : rl), r);
		type_error(p, f, what, at);
		return true;
	}
	*out = v;
	return true;
}

/* A timestamp field: Time.UnmarshalJSON on the raw value bytes. */
static bool read_time(parser *p, wl_time *out)
{
	size_t at = p->pos;
	int c = peek(p);
	if (c == 'n')
		return is_null(p);
	if (c != '"') {
		if (!skip_value(p))
			return false;
		wl__fail(WL_EPARSE, "Time.UnmarshalJSON: input is not a JSON string");
		set_hard(p, at);
		return true;
	}
	const char *raw;
	size_t rl;
	bool simple;
	if (!scan_string(p, &raw, &rl, &simple))
		return false;
	if (wl_time_parse(out, raw, rl) != 0)
		set_hard(p, at);
	return true;
}

/* ------------------------------------------------------------------------ */
/* Lists                                                                    */
/* ------------------------------------------------------------------------ */

/* Grows a malloc'd array to hold `need` elements; read_list zeroes each
 * new element when it first uses it. */
static bool grow(parser *p, void **items, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	size_t bytes;
	if (wl_mul_overflows_size(ncap, size, &bytes)) {
		p->oom = true;
		return false;
	}
	void *n = realloc(*items, bytes);
	if (n == NULL) {
		p->oom = true;
		return false;
	}
	*items = n;
	*cap = ncap;
	return true;
}

/*
 * Decodes a JSON array over an existing list (Go semantics: element i into
 * element i, then the length becomes the array's). `cap` tracks the
 * allocation; elements beyond the old length start zeroed.
 */
typedef bool (*elem_fn)(parser *p, void *elem, void *ctx);

static bool read_list(parser *p, const field_ctx *list_f, void **items, size_t *count, size_t *cap,
                      bool *present, size_t size, elem_fn fn, void *ctx, void (*drop)(void *))
{
	int c = peek(p);
	if (c == 'n') {
		if (!is_null(p))
			return false;
		/* null sets a Go slice to nil: the list becomes absent. */
		if (drop != NULL)
			for (size_t k = 0; k < *count; k++)
				drop((char *)*items + k * size);
		*count = 0;
		if (present)
			*present = false;
		return true;
	}
	if (c != '[')
		return mismatch(p, list_f);
	p->pos++;
	p->depth++;
	bool first = true;
	size_t i = 0;
	size_t old = *count;
	int r;
	while ((r = next_element(p, &first)) == 1) {
		if (!grow(p, items, cap, i + 1, size)) {
			*count = old; /* every element below `old` is initialized */
			return false;
		}
		char *elem = (char *)*items + i * size;
		if (i >= old)
			memset(elem, 0, size);
		if (!fn(p, elem, ctx)) {
			/* Keep the element in the count so its lists get freed. */
			*count = i + 1 > old ? i + 1 : old;
			return false;
		}
		i++;
		if (i > old)
			old = i;
	}
	if (r < 0) {
		*count = old; /* decoded elements keep their lists reachable */
		return false;
	}
	if (drop != NULL)
		for (size_t k = i; k < old; k++)
			drop((char *)*items + k * size);
	*count = i;
	if (present)
		*present = true;
	return true;
}

static bool pattern_elem(parser *p, void *elem, void *ctx)
{
	return read_string(p, ctx, elem);
}

/* The capacity of include/exclude lists is not stored in wl_source; it is
 * kept equal to the count by trimming, which is enough for merging. */
static bool read_patterns(parser *p, const char *path, wl_string **items, size_t *count)
{
	field_ctx list_f = {"WeightLockSource", path, "[]string"};
	field_ctx elem_f = {"WeightLockSource", path, "string"};
	size_t cap = *count;
	bool ok = read_list(p, &list_f, (void **)items, count, &cap, NULL, sizeof(wl_string),
	                    pattern_elem, &elem_f, NULL);
	return ok;
}

/* ------------------------------------------------------------------------ */
/* Structures                                                               */
/* ------------------------------------------------------------------------ */

/* Where a scalar field of a structure goes, and its Go context for type
 * errors. Files and layers hold nothing else, so one reader serves both. */
typedef struct slot {
	bool is_int; /* int64_t, else wl_string */
	size_t offset;
	field_ctx ctx;
} slot;

static bool read_scalar_object(parser *p, void *obj, const field *fields, const slot *slots, int count)
{
	bool first = true;
	wl_string key;
	int r;
	while ((r = next_member(p, &first, &key)) == 1) {
		int k = match_key(fields, count, key.ptr, key.len);
		char *dst = (char *)obj + (k >= 0 ? slots[k].offset : 0);
		bool ok = k < 0              ? skip_value(p)
		          : slots[k].is_int ? read_int(p, &slots[k].ctx, (int64_t *)(void *)dst)
		                            : read_string(p, &slots[k].ctx, (wl_string *)(void *)dst);
		if (!ok)
			return false;
	}
	return r == 0;
}

static const field file_fields[] = {
	FIELD("path", "PATH"), FIELD("size", "SIZE"), FIELD("digest", "DIGEST"), FIELD("layer", "LAYER"),
};
static const slot file_slots[] = {
	{false, offsetof(wl_file, path), {"WeightLockFile", "weights.files.path", "string"}},
	{true, offsetof(wl_file, size), {"WeightLockFile", "weights.files.size", "int64"}},
	{false, offsetof(wl_file, digest), {"WeightLockFile", "weights.files.digest", "string"}},
	{false, offsetof(wl_file, layer), {"WeightLockFile", "weights.files.layer", "string"}},
};

static bool file_elem(parser *p, void *elem, void *ctx)
{
	(void)ctx;
	static const field_ctx self = {"WeightLockEntry", "weights.files", "wl.WeightLockFile"};
	int open = open_object(p, &self);
	if (open <= 0)
		return open == 0;
	return read_scalar_object(p, elem, file_fields, file_slots, 4);
}

static const field layer_fields[] = {
	FIELD("digest", "DIGEST"),
	FIELD("mediaType", "MEDIATYPE"),
	FIELD("size", "SIZE"),
	FIELD("sizeUncompressed", "SIZEUNCOMPRESSED"),
};
static const slot layer_slots[] = {
	{false, offsetof(wl_layer, digest), {"WeightLockLayer", "weights.layers.digest", "string"}},
	{false, offsetof(wl_layer, media_type), {"WeightLockLayer", "weights.layers.mediaType", "string"}},
	{true, offsetof(wl_layer, size), {"WeightLockLayer", "weights.layers.size", "int64"}},
	{true, offsetof(wl_layer, size_uncompressed),
	 {"WeightLockLayer", "weights.layers.sizeUncompressed", "int64"}},
};

static bool layer_elem(parser *p, void *elem, void *ctx)
{
	(void)ctx;
	static const field_ctx self = {"WeightLockEntry", "weights.layers", "wl.WeightLockLayer"};
	int open = open_object(p, &self);
	if (open <= 0)
		return open == 0;
	return read_scalar_object(p, elem, layer_fields, layer_slots, 4);
}

enum { S_URI, S_FINGERPRINT, S_INCLUDE, S_EXCLUDE, S_IMPORTED_AT };
static const field source_fields[] = {
	FIELD("uri", "URI"),         FIELD("fingerprint", "FINGERPRINT"), FIELD("include", "INCLUDE"),
	FIELD("exclude", "EXCLUDE"), FIELD("importedAt", "IMPORTEDAT"),
};

/* A source object. `time` is NULL for elements of `sources`, which carry
 * no timestamp (their importedAt is an unknown key). */
static bool read_source(parser *p, wl_source *s, wl_time *time)
{
	bool single = time != NULL;
	const char *base = single ? "weights.source" : "weights.sources";
	char fpath[64];
	field_ctx self = {"WeightLockEntry", base, single ? "wl.WeightLockSource" : "wl.WeightSource"};
	int open = open_object(p, &self);
	if (open <= 0)
		return open == 0;
	bool first = true;
	wl_string key;
	int r;
	while ((r = next_member(p, &first, &key)) == 1) {
		int k = match_key(source_fields, single ? 5 : 4, key.ptr, key.len);
		switch (k) {
		case S_URI:
		case S_FINGERPRINT: {
			snprintf(fpath, sizeof fpath, "%s.%s", base, source_fields[k].name);
			field_ctx fc = {"WeightLockSource", fpath, "string"};
			if (!read_string(p, &fc, k == S_URI ? &s->uri : &s->fingerprint))
				return false;
			break;
		}
		case S_INCLUDE:
			snprintf(fpath, sizeof fpath, "%s.include", base);
			if (!read_patterns(p, fpath, &s->include, &s->include_count))
				return false;
			break;
		case S_EXCLUDE:
			snprintf(fpath, sizeof fpath, "%s.exclude", base);
			if (!read_patterns(p, fpath, &s->exclude, &s->exclude_count))
				return false;
			break;
		case S_IMPORTED_AT:
			if (!read_time(p, time))
				return false;
			break;
		default:
			if (!skip_value(p))
				return false;
		}
	}
	return r == 0;
}

static void drop_source(void *elem)
{
	source_free_lists(elem);
	memset(elem, 0, sizeof(wl_source));
}

static bool sources_elem(parser *p, void *elem, void *ctx)
{
	(void)ctx;
	return read_source(p, elem, NULL);
}

enum {
	E_NAME, E_TARGET, E_SOURCE, E_SOURCES, E_IMPORTED_AT, E_DIGEST, E_SET_DIGEST,
	E_SIZE, E_SIZE_COMPRESSED, E_FILES, E_LAYERS
};
static const field entry_fields[] = {
	FIELD("name", "NAME"),
	FIELD("target", "TARGET"),
	FIELD("source", "SOURCE"),
	FIELD("sources", "SOURCES"),
	FIELD("importedAt", "IMPORTEDAT"),
	FIELD("digest", "DIGEST"),
	FIELD("setDigest", "SETDIGEST"),
	FIELD("size", "SIZE"),
	FIELD("sizeCompressed", "SIZECOMPRESSED"),
	FIELD("files", "FILES"),
	FIELD("layers", "LAYERS"),
};

/* Capacities of an entry's lists while decoding. */
typedef struct entry_caps {
	size_t files, layers, sources;
} entry_caps;

static bool entry_elem(parser *p, void *elem, void *ctx)
{
	(void)ctx;
	entry_state *es = elem;
	wl_entry *e = &es->e;
	static const field_ctx self = {"WeightsLock", "weights", "wl.WeightLockEntry"};
	int open = open_object(p, &self);
	if (open <= 0)
		return open == 0;
	bool first = true;
	wl_string key;
	int r;
	/* Lists were trimmed to their counts, so capacity == count here. */
	size_t files_cap = e->file_count, layers_cap = e->layer_count, sources_cap = e->source_count;
	while ((r = next_member(p, &first, &key)) == 1) {
		int k = match_key(entry_fields, 11, key.ptr, key.len);
		switch (k) {
		case E_NAME:
		case E_TARGET:
		case E_DIGEST:
		case E_SET_DIGEST: {
			static const char *paths[] = {"weights.name", "weights.target", NULL, NULL, NULL,
			                              "weights.digest", "weights.setDigest"};
			field_ctx fc = {"WeightLockEntry", paths[k], "string"};
			wl_string *dst = k == E_NAME ? &e->name
			                 : k == E_TARGET ? &e->target
			                 : k == E_DIGEST ? &e->digest
			                                 : &e->set_digest;
			if (!read_string(p, &fc, dst))
				return false;
			break;
		}
		case E_SIZE:
		case E_SIZE_COMPRESSED: {
			field_ctx fc = {"WeightLockEntry",
			                k == E_SIZE ? "weights.size" : "weights.sizeCompressed", "int64"};
			if (!read_int(p, &fc, k == E_SIZE ? &e->size : &e->size_compressed))
				return false;
			break;
		}
		case E_SOURCE:
			if (peek(p) == '{')
				es->has_single = true;
			if (!read_source(p, &es->single, &es->single_time))
				return false;
			break;
		case E_SOURCES: {
			static const field_ctx fc = {"WeightLockEntry", "weights.sources", "[]wl.WeightSource"};
			if (!read_list(p, &fc, (void **)&e->sources, &e->source_count, &sources_cap,
			               &e->sources_present, sizeof(wl_source), sources_elem, NULL, drop_source))
				return false;
			break;
		}
		case E_IMPORTED_AT: {
			/* Only meaningful in the multi-source shape: keep the raw
			 * value and interpret it once the shape is known. */
			size_t at = p->pos;
			if (peek(p) == 'n') {
				if (!is_null(p))
					return false;
				break;
			}
			if (!skip_value(p))
				return false;
			es->entry_time = p->buf + at;
			es->entry_time_len = p->pos - at;
			es->entry_time_at = at;
			break;
		}
		case E_FILES: {
			static const field_ctx fc = {"WeightLockEntry", "weights.files", "[]wl.WeightLockFile"};
			if (!read_list(p, &fc, (void **)&e->files, &e->file_count, &files_cap,
			               &e->files_present, sizeof(wl_file), file_elem, NULL, NULL))
				return false;
			break;
		}
		case E_LAYERS: {
			static const field_ctx fc = {"WeightLockEntry", "weights.layers",
			                             "[]wl.WeightLockLayer"};
			if (!read_list(p, &fc, (void **)&e->layers, &e->layer_count, &layers_cap,
			               &e->layers_present, sizeof(wl_layer), layer_elem, NULL, NULL))
				return false;
			break;
		}
		default:
			if (!skip_value(p))
				return false;
		}
	}
	return r == 0;
}

enum { T_VERSION, T_ENVELOPE, T_WEIGHTS };
static const field lock_fields[] = {
	FIELD("version", "VERSION"), FIELD("envelopeFormat", "ENVELOPEFORMAT"), FIELD("weights", "WEIGHTS"),
};

static void entry_state_free(entry_state *es);

static void drop_entry_state(void *elem)
{
	entry_state_free(elem);
	memset(elem, 0, sizeof(entry_state));
}

static bool read_lock(parser *p, wl_lock *lock, entry_vec *ev)
{
	p->pos++;
	p->depth++;
	bool first = true;
	wl_string key;
	int r;
	while ((r = next_member(p, &first, &key)) == 1) {
		switch (match_key(lock_fields, 3, key.ptr, key.len)) {
		case T_VERSION: {
			static const field_ctx fc = {"WeightsLock", "version", "int"};
			if (!read_int(p, &fc, &lock->version))
				return false;
			break;
		}
		case T_ENVELOPE: {
			static const field_ctx fc = {"WeightsLock", "envelopeFormat", "string"};
			if (!read_string(p, &fc, &lock->envelope_format))
				return false;
			break;
		}
		case T_WEIGHTS: {
			static const field_ctx fc = {"WeightsLock", "weights", "[]wl.WeightLockEntry"};
			if (!read_list(p, &fc, (void **)&ev->items, &ev->count, &ev->cap, &ev->present,
			               sizeof(entry_state), entry_elem, NULL, drop_entry_state))
				return false;
			break;
		}
		default:
			if (!skip_value(p))
				return false;
		}
	}
	return r == 0;
}

/* ------------------------------------------------------------------------ */
/* Finishing: shapes, validation                                            */
/* ------------------------------------------------------------------------ */

static void entry_state_free(entry_state *es)
{
	source_free_lists(&es->single);
	entry_free_lists(&es->e);
}

/* Settles each entry's shape and moves the entries into the lock. */
static int finish_entries(parser *p, wl_lock *lock, entry_vec *ev)
{
	size_t n = ev->count;
	wl_entry *entries = n ? calloc(n, sizeof *entries) : NULL;
	if (n && entries == NULL)
		return wl__nomem();
	bool multi = false;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		entry_state *es = &ev->items[i];
		if (es->e.sources_present) {
			if (es->has_single) {
				rc = wl__fail(WL_EPARSE,
				              "parse %s: weights[%zu] has both \"source\" and \"sources\"",
				              p->name, i);
				break;
			}
			multi = true;
			if (es->entry_time != NULL) {
				const char *t = es->entry_time;
				size_t tl = es->entry_time_len;
				if (tl < 2 || t[0] != '"') {
					rc = wl__fail(WL_EPARSE,
					              "parse %s: weights[%zu].importedAt: Time.UnmarshalJSON: "
					              "input is not a JSON string (at byte %zu)",
					              p->name, i, es->entry_time_at);
					break;
				}
				if (wl_time_parse(&es->e.imported_at, t + 1, tl - 2) != 0) {
					rc = wl__error_prefix("parse %s: weights[%zu].importedAt (at byte %zu)",
					                      p->name, i, es->entry_time_at);
					break;
				}
			}
		} else {
			/* Single-source shape: whatever `sources` held (an absent
			 * list) is replaced by the one `source`. */
			for (size_t k = 0; k < es->e.source_count; k++)
				source_free_lists(&es->e.sources[k]);
			free(es->e.sources);
			es->e.sources = malloc(sizeof(wl_source));
			if (es->e.sources == NULL) {
				rc = wl__nomem();
				break;
			}
			es->e.sources[0] = es->single;
			memset(&es->single, 0, sizeof es->single);
			es->e.source_count = 1;
			es->e.sources_present = true;
			es->e.imported_at = es->single_time;
		}
	}
	if (rc != 0) {
		free(entries);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		entries[i] = ev->items[i].e;
		memset(&ev->items[i].e, 0, sizeof ev->items[i].e);
	}
	lock->entries = entries;
	lock->entry_count = n;
	lock->entries_present = ev->present;
	lock->multi_source = multi;
	return 0;
}

static int validate(const char *name, wl_lock *lock)
{
	if (lock->version != WL_LOCK_VERSION)
		return wl__fail(WL_EVERSION, "%s: unsupported weights.lock version %lld (want 1)", name,
		                (long long)lock->version);
	size_t n = lock->entry_count;
	if (n < 2)
		return 0;
	/* Sort indices by name to find duplicates in O(n log n), then report
	 * the earliest-in-file duplicate as Cog's sequential scan would. */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (wl_string_equal(lock->entries[i].name, lock->entries[j].name)) {
				char *q = NULL;
				wl_quote(&q, NULL, lock->entries[i].name);
				int rc = wl__fail(WL_EPARSE, "parse %s: duplicate weight name %s", name,
				                  q ? q : "");
				free(q);
				return rc;
			}
		}
		if (lock->entries[i].target.len == 0)
			continue;
		char *ci = NULL;
		if (wl_path_clean(&ci, NULL, lock->entries[i].target) != 0)
			return WL_ENOMEM;
		for (size_t j = 0; j < i; j++) {
			if (lock->entries[j].target.len == 0)
				continue;
			char *cj = NULL;
			size_t cjl, cil = strlen(ci);
			if (wl_path_clean(&cj, &cjl, lock->entries[j].target) != 0) {
				free(ci);
				return WL_ENOMEM;
			}
			bool same = cjl == cil && memcmp(ci, cj, cil) == 0;
			free(cj);
			if (same) {
				char *q = NULL;
				wl_quote(&q, NULL, lock->entries[i].target);
				int rc = wl__fail(WL_EPARSE, "parse %s: duplicate weight target %s", name,
				                  q ? q : "");
				free(q);
				free(ci);
				return rc;
			}
		}
		free(ci);
	}
	return 0;
}

/* Parses a buffer the lock takes ownership of (freed on failure too). */
static int parse_owned(wl_lock **out, char *buf, size_t len, const char *name)
{
	*out = NULL;
	if (name == NULL)
		name = WL_LOCK_FILENAME;
	wl_lock *lock;
	int rc = wl_lock_new(&lock);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	lock->version = 0;
	if (!wl_storage_adopt(lock->storage, buf)) {
		free(buf);
		wl_lock_free(lock);
		return wl__nomem();
	}
	parser p = {.buf = buf, .len = len, .name = name, .st = lock->storage};
	wl_buf_init(&p.scratch);
	entry_vec ev = {0};
	bool ok;
	skip_ws(&p);
	int c = peek(&p);
	if (c == '{') {
		ok = read_lock(&p, lock, &ev);
	} else if (c == 'n') {
		ok = is_null(&p);
	} else if (c < 0) {
		ok = syntax(&p, "");
	} else {
		field_ctx top = {NULL, NULL, "wl.WeightsLock"};
		const char *kind = kind_at(&p);
		size_t at = p.pos;
		ok = skip_value(&p);
		if (ok) {
			type_error(&p, &top, kind, at);
		}
	}
	if (ok) {
		skip_ws(&p);
		if (p.pos < p.len)
			ok = syntax(&p, "after top-level value");
	}
	wl_buf_release(&p.scratch);
	if (p.oom && !p.syntax_failed)
		rc = wl__nomem();
	else if (!ok || p.syntax_failed)
		rc = WL_EPARSE; /* message already set by syntax() */
	else if (p.hard_failed)
		rc = wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", name, p.hard_msg, p.hard_at);
	else if (p.type_failed)
		rc = wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", name, p.type_msg, p.type_at);
	if (rc == 0)
		rc = finish_entries(&p, lock, &ev);
	for (size_t i = 0; i < ev.count; i++)
		entry_state_free(&ev.items[i]);
	free(ev.items);
	if (rc == 0)
		rc = validate(name, lock);
	if (rc != 0) {
		wl_lock_free(lock);
		return rc;
	}
	*out = lock;
	return 0;
}

int wl_lock_parse(wl_lock **out, const void *data, size_t len, const char *name)
{
	*out = NULL;
	if (len == SIZE_MAX)
		return wl__nomem();
	char *buf = malloc(len + 1);
	if (buf == NULL)
		return wl__nomem();
	if (len)
		memcpy(buf, data, len);
	buf[len] = '\0';
	return parse_owned(out, buf, len, name);
}

int wl_lock_load(wl_lock **out, const char *path)
{
	*out = NULL;
	char *buf;
	size_t len;
	int rc = wl_read_file(&buf, &len, path, WL_LOCK_SIZE_MAX);
	if (rc != 0)
		return rc;
	return parse_owned(out, buf, len, path);
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding (SPEC.md §3.4)                                        */
/* ------------------------------------------------------------------------ */

#define STREAM_CHUNK ((size_t)256 * 1024)

/* Where the encoder's bytes go: kept in `b`, or handed to `write` each
 * time `b` holds a chunk. */
typedef struct sink {
	wl_buf b;
	wl_write_fn write;
	void *ctx;
	bool write_failed;
} sink;

static void sink_flush(sink *s, size_t at_least)
{
	if (s->write == NULL || s->b.len < at_least || s->write_failed || s->b.failed)
		return;
	if (s->write(s->ctx, s->b.data, s->b.len) != 0)
		s->write_failed = true;
	s->b.len = 0;
}

static const char spaces[] = "                                ";

static void indent(wl_buf *b, int level)
{
	wl_buf_put(b, spaces, (size_t)level * 2);
}

static void key(wl_buf *b, int level, const char *k)
{
	indent(b, level);
	wl_buf_putc(b, '"');
	wl_buf_puts(b, k);
	wl_buf_put(b, "\": ", 3);
}

static void str_member(wl_buf *b, int level, const char *k, wl_string v, bool last)
{
	key(b, level, k);
	wl_json_put_string(b, v.ptr, v.len);
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void int_member(wl_buf *b, int level, const char *k, int64_t v, bool last)
{
	key(b, level, k);
	wl_buf_put_int64(b, v);
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void patterns_member(wl_buf *b, int level, const char *k, const wl_string *v, size_t n,
                            bool last)
{
	key(b, level, k);
	if (n == 0) {
		wl_buf_put(b, "[]", 2);
	} else {
		wl_buf_put(b, "[\n", 2);
		for (size_t i = 0; i < n; i++) {
			indent(b, level + 1);
			wl_json_put_string(b, v[i].ptr, v[i].len);
			wl_buf_put(b, i + 1 < n ? ",\n" : "\n", i + 1 < n ? 2 : 1);
		}
		indent(b, level);
		wl_buf_putc(b, ']');
	}
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void time_member(wl_buf *b, int level, const wl_time *t, bool last)
{
	char tb[48];
	if (wl_time_format(tb, sizeof tb, t) != 0)
		tb[0] = '\0'; /* unreachable: checked by check_encodable */
	key(b, level, "importedAt");
	wl_buf_putc(b, '"');
	wl_buf_puts(b, tb);
	wl_buf_putc(b, '"');
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void source_fields_out(wl_buf *b, int level, const wl_source *s, bool more)
{
	str_member(b, level, "uri", s->uri, false);
	str_member(b, level, "fingerprint", s->fingerprint, false);
	patterns_member(b, level, "include", s->include, s->include_count, false);
	patterns_member(b, level, "exclude", s->exclude, s->exclude_count, !more);
}

static void files_out(sink *s, const wl_entry *e)
{
	wl_buf *b = &s->b;
	key(b, 3, "files");
	if (!e->files_present) {
		wl_buf_put(b, "null,\n", 6);
		return;
	}
	if (e->file_count == 0) {
		wl_buf_put(b, "[],\n", 4);
		return;
	}
	wl_buf_put(b, "[\n", 2);
	for (size_t i = 0; i < e->file_count; i++) {
		const wl_file *f = &e->files[i];
		/* The hot loop of large lockfiles: one reservation per file,
		 * then plain stores. */
		size_t need = 120;
		if (f->path.len > (SIZE_MAX / 8 - need) / 6 || f->digest.len > SIZE_MAX / 64 ||
		    f->layer.len > SIZE_MAX / 64) {
			b->failed = true;
			return;
		}
		need += WL_JSON_STRING_MAX(f->path.len) + WL_JSON_STRING_MAX(f->digest.len) +
		        WL_JSON_STRING_MAX(f->layer.len);
		if (!wl_buf_reserve(b, need))
			return;
		char *o = b->data + b->len;
		memcpy(o, "        {\n          \"path\": ", 28);
		o = wl_json_write_string(o + 28, f->path.ptr, f->path.len);
		memcpy(o, ",\n          \"size\": ", 20);
		o = wl_write_int64(o + 20, f->size);
		memcpy(o, ",\n          \"digest\": ", 22);
		o = wl_json_write_string(o + 22, f->digest.ptr, f->digest.len);
		memcpy(o, ",\n          \"layer\": ", 21);
		o = wl_json_write_string(o + 21, f->layer.ptr, f->layer.len);
		if (i + 1 < e->file_count) {
			memcpy(o, "\n        },\n", 12);
			o += 12;
		} else {
			memcpy(o, "\n        }\n", 11);
			o += 11;
		}
		b->len = (size_t)(o - b->data);
		sink_flush(s, STREAM_CHUNK);
	}
	wl_buf_put(b, "      ],\n", 9);
}

static void layers_out(sink *s, const wl_entry *e)
{
	wl_buf *b = &s->b;
	key(b, 3, "layers");
	if (!e->layers_present) {
		wl_buf_put(b, "null\n", 5);
		return;
	}
	if (e->layer_count == 0) {
		wl_buf_put(b, "[]\n", 3);
		return;
	}
	wl_buf_put(b, "[\n", 2);
	for (size_t i = 0; i < e->layer_count; i++) {
		const wl_layer *l = &e->layers[i];
		indent(b, 4);
		wl_buf_put(b, "{\n", 2);
		str_member(b, 5, "digest", l->digest, false);
		str_member(b, 5, "mediaType", l->media_type, false);
		int_member(b, 5, "size", l->size, false);
		int_member(b, 5, "sizeUncompressed", l->size_uncompressed, true);
		indent(b, 4);
		wl_buf_put(b, i + 1 < e->layer_count ? "},\n" : "}\n", i + 1 < e->layer_count ? 3 : 2);
		sink_flush(s, STREAM_CHUNK);
	}
	wl_buf_put(b, "      ]\n", 8);
}

static const wl_source empty_source;

/* Timestamps were checked by check_encodable, so this cannot fail. */
static void entry_out(sink *s, const wl_entry *e, bool multi)
{
	wl_buf *b = &s->b;
	wl_buf_put(b, "    {\n", 6);
	str_member(b, 3, "name", e->name, false);
	str_member(b, 3, "target", e->target, false);
	if (multi) {
		key(b, 3, "sources");
		if (!e->sources_present) {
			wl_buf_put(b, "null,\n", 6);
		} else if (e->source_count == 0) {
			wl_buf_put(b, "[],\n", 4);
		} else {
			wl_buf_put(b, "[\n", 2);
			for (size_t i = 0; i < e->source_count; i++) {
				indent(b, 4);
				wl_buf_put(b, "{\n", 2);
				source_fields_out(b, 5, &e->sources[i], false);
				indent(b, 4);
				wl_buf_put(b, i + 1 < e->source_count ? "},\n" : "}\n",
				           i + 1 < e->source_count ? 3 : 2);
			}
			wl_buf_put(b, "      ],\n", 9);
		}
		time_member(b, 3, &e->imported_at, false);
	} else {
		const wl_source *src = e->source_count >= 1 ? &e->sources[0] : &empty_source;
		key(b, 3, "source");
		wl_buf_put(b, "{\n", 2);
		source_fields_out(b, 4, src, true);
		time_member(b, 4, &e->imported_at, true);
		indent(b, 3);
		wl_buf_put(b, "},\n", 3);
	}
	str_member(b, 3, "digest", e->digest, false);
	str_member(b, 3, "setDigest", e->set_digest, false);
	int_member(b, 3, "size", e->size, false);
	int_member(b, 3, "sizeCompressed", e->size_compressed, false);
	files_out(s, e);
	layers_out(s, e);
	wl_buf_put(b, "    }", 5);
}

static size_t estimate_size(const wl_lock *lock)
{
	size_t est = 256;
	for (size_t i = 0; i < lock->entry_count; i++)
		est += 1024 + lock->entries[i].file_count * 300 + lock->entries[i].layer_count * 300;
	return est;
}

/* Checks everything that can make encoding fail, so a stream never stops
 * half-way for a reason other than its writer. */
static int check_encodable(const wl_lock *lock)
{
	char tb[48];
	for (size_t i = 0; i < lock->entry_count; i++)
		if (wl_time_format(tb, sizeof tb, &lock->entries[i].imported_at) != 0)
			return wl__error_prefix("weights[%zu].importedAt", i);
	return 0;
}

static int marshal(wl_lock *lock, sink *s)
{
	if (lock->version == 0)
		lock->version = WL_LOCK_VERSION;
	for (size_t i = 0; i < lock->entry_count; i++)
		wl_entry_normalize(&lock->entries[i]);
	int rc = check_encodable(lock);
	if (rc != 0)
		return rc;
	wl_buf *b = &s->b;
	wl_buf_reserve(b, s->write ? STREAM_CHUNK + 4096 : estimate_size(lock));
	wl_buf_put(b, "{\n", 2);
	int_member(b, 1, "version", lock->version, false);
	str_member(b, 1, "envelopeFormat", lock->envelope_format, false);
	key(b, 1, "weights");
	if (!lock->entries_present) {
		wl_buf_put(b, "null\n}", 6);
	} else if (lock->entry_count == 0) {
		wl_buf_put(b, "[]\n}", 4);
	} else {
		wl_buf_put(b, "[\n", 2);
		for (size_t i = 0; i < lock->entry_count; i++) {
			entry_out(s, &lock->entries[i], lock->multi_source);
			wl_buf_put(b, i + 1 < lock->entry_count ? ",\n" : "\n",
			           i + 1 < lock->entry_count ? 2 : 1);
		}
		wl_buf_put(b, "  ]\n}", 5);
	}
	sink_flush(s, 1);
	if (s->b.failed)
		return wl__nomem();
	if (s->write_failed)
		return wl__fail(WL_EIO, "write of the encoded lockfile failed");
	return 0;
}

int wl_lock_marshal(char **out, size_t *out_len, wl_lock *lock)
{
	*out = NULL;
	sink s = {.write = NULL};
	wl_buf_init(&s.b);
	int rc = marshal(lock, &s);
	if (rc != 0) {
		wl_buf_release(&s.b);
		return rc;
	}
	return wl_buf_finish(&s.b, out, out_len);
}

int wl_lock_marshal_to(wl_lock *lock, wl_write_fn write, void *ctx)
{
	sink s = {.write = write, .ctx = ctx};
	wl_buf_init(&s.b);
	int rc = marshal(lock, &s);
	wl_buf_release(&s.b);
	return rc;
}

int wl_lock_save(wl_lock *lock, const char *path)
{
	char *bytes;
	size_t len;
	int rc = wl_lock_marshal(&bytes, &len, lock);
	if (rc != 0)
		return wl__error_prefix("save %s", path);
	rc = wl_write_file_atomic(path, bytes, len);
	free(bytes);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Upsert and prune (SPEC.md §4.2, §4.4)                                    */
/* ------------------------------------------------------------------------ */

static bool copy_str(wl_storage *st, wl_string *dst, wl_string src)
{
	return wl_storage_string(st, dst, src.ptr, src.len);
}

static bool copy_patterns(wl_storage *st, wl_string **dst, const wl_string *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return true;
	*dst = calloc(n, sizeof(wl_string));
	if (*dst == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!copy_str(st, &(*dst)[i], src[i]))
			return false;
	return true;
}

/* Deep-copies `src` into `dst` with strings in the lock's storage. On
 * failure `dst` holds what was copied so far (free its lists). */
static bool copy_entry(wl_storage *st, wl_entry *dst, const wl_entry *src)
{
	memset(dst, 0, sizeof *dst);
	dst->imported_at = src->imported_at;
	dst->size = src->size;
	dst->size_compressed = src->size_compressed;
	dst->files_present = src->files_present || src->file_count > 0;
	dst->layers_present = src->layers_present || src->layer_count > 0;
	dst->sources_present = src->sources_present || src->source_count > 0;
	if (!copy_str(st, &dst->name, src->name) || !copy_str(st, &dst->target, src->target) ||
	    !copy_str(st, &dst->digest, src->digest) || !copy_str(st, &dst->set_digest, src->set_digest))
		return false;
	if (src->source_count) {
		dst->sources = calloc(src->source_count, sizeof(wl_source));
		if (dst->sources == NULL)
			return false;
		dst->source_count = src->source_count;
		for (size_t i = 0; i < src->source_count; i++) {
			const wl_source *s = &src->sources[i];
			wl_source *d = &dst->sources[i];
			if (!copy_str(st, &d->uri, s->uri) || !copy_str(st, &d->fingerprint, s->fingerprint) ||
			    !copy_patterns(st, &d->include, s->include, s->include_count))
				return false;
			d->include_count = s->include_count;
			if (!copy_patterns(st, &d->exclude, s->exclude, s->exclude_count))
				return false;
			d->exclude_count = s->exclude_count;
		}
	}
	if (src->file_count) {
		dst->files = calloc(src->file_count, sizeof(wl_file));
		if (dst->files == NULL)
			return false;
		dst->file_count = src->file_count;
		for (size_t i = 0; i < src->file_count; i++) {
			const wl_file *s = &src->files[i];
			wl_file *d = &dst->files[i];
			d->size = s->size;
			if (!copy_str(st, &d->path, s->path) || !copy_str(st, &d->digest, s->digest) ||
			    !copy_str(st, &d->layer, s->layer))
				return false;
		}
	}
	if (src->layer_count) {
		dst->layers = calloc(src->layer_count, sizeof(wl_layer));
		if (dst->layers == NULL)
			return false;
		dst->layer_count = src->layer_count;
		for (size_t i = 0; i < src->layer_count; i++) {
			const wl_layer *s = &src->layers[i];
			wl_layer *d = &dst->layers[i];
			d->size = s->size;
			d->size_uncompressed = s->size_uncompressed;
			if (!copy_str(st, &d->digest, s->digest) ||
			    !copy_str(st, &d->media_type, s->media_type))
				return false;
		}
	}
	return true;
}

int wl_lock_upsert(wl_lock *lock, const wl_entry *entry)
{
	wl_entry copy;
	if (!copy_entry(lock->storage, &copy, entry)) {
		entry_free_lists(&copy);
		return wl__nomem();
	}
	if (!lock->multi_source && copy.source_count != 1) {
		/* The single-source shape has exactly one source per entry. */
		if (copy.source_count == 0) {
			copy.sources = calloc(1, sizeof(wl_source));
			if (copy.sources == NULL)
				return wl__nomem();
			copy.source_count = 1;
			copy.sources_present = true;
		} else {
			lock->multi_source = true;
		}
	}
	wl_entry *existing = wl_lock_find(lock, entry->name);
	if (existing != NULL) {
		entry_free_lists(existing);
		*existing = copy;
		return 0;
	}
	wl_entry *grown = realloc(lock->entries, (lock->entry_count + 1) * sizeof(wl_entry));
	if (grown == NULL) {
		entry_free_lists(&copy);
		return wl__nomem();
	}
	lock->entries = grown;
	lock->entries[lock->entry_count++] = copy;
	lock->entries_present = true;
	return 0;
}

size_t wl_lock_retain(wl_lock *lock, const wl_string *names, size_t count)
{
	size_t w = 0, removed = 0;
	for (size_t i = 0; i < lock->entry_count; i++) {
		bool keep = false;
		for (size_t k = 0; k < count && !keep; k++)
			keep = wl_string_equal(lock->entries[i].name, names[k]);
		if (keep) {
			lock->entries[w++] = lock->entries[i];
		} else {
			entry_free_lists(&lock->entries[i]);
			removed++;
		}
	}
	lock->entry_count = w;
	lock->entries_present = true;
	return removed;
}

int wl_prune_lockfile(const char *path, const wl_string *keep, size_t count, size_t *removed)
{
	if (removed != NULL)
		*removed = 0;
	wl_lock *lock;
	int rc = wl_lock_load(&lock, path);
	if (rc == WL_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	size_t before = lock->entry_count;
	size_t n = wl_lock_retain(lock, keep, count);
	if (removed != NULL)
		*removed = n;
	if (lock->entry_count != before)
		rc = wl_lock_save(lock, path);
	wl_lock_free(lock);
	return rc;
}
