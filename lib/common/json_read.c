/*
 * json_read.c - decoding JSON with Go's encoding/json rules (see
 * json_read.h): syntax errors worded as Go's scanner words them, strings
 * decoded in place when they need no unescaping, keys matched with Go's
 * folding, lists decoded over existing ones.
 *
 * Written by hand because the rules are the format: no Debian library
 * decodes JSON with Go's encoding/json semantics (case-insensitive keys,
 * repeated keys merging, null leaving fields alone, deferred type errors,
 * one U+FFFD per invalid byte), and matching them byte for byte at several
 * hundred MB/s needs a reader that writes straight into the caller's
 * structures.
 */
#include "common/json_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl__json_init(wl__json_reader *p, char *buf, size_t len, const char *name, wl_storage *st)
{
	memset(p, 0, sizeof *p);
	p->buf = buf;
	p->len = len;
	p->name = name;
	p->st = st;
	wl_buf_init(&p->scratch);
}

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
bool wl__json_syntax(wl__json_reader *p, const char *context)
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

void wl__json_set_hard(wl__json_reader *p, size_t at)
{
	if (p->hard_failed)
		return;
	p->hard_failed = true;
	p->hard_at = at;
	snprintf(p->hard_msg, sizeof p->hard_msg, "%s", wl_error_last()->message);
}

void wl__json_type_error(wl__json_reader *p, const wl__json_ctx *f, const char *what, size_t at)
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
static bool scan_string(wl__json_reader *p, const char **raw, size_t *raw_len, bool *simple)
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
			return wl__json_syntax(p, "in string literal");
		}
		unsigned c = b[i];
		if (c == '"')
			break;
		if (c == '\\') {
			plain = false;
			if (i + 1 >= n) {
				p->pos = n;
				return wl__json_syntax(p, "in string literal");
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
						return wl__json_syntax(p, "in \\u hexadecimal character escape");
					}
					if (wl_hex_value(b[i + 2 + k]) < 0) {
						p->pos = i + 2 + k;
						return wl__json_syntax(p, "in \\u hexadecimal character escape");
					}
				}
				i += 6;
				continue;
			default:
				p->pos = i + 1;
				return wl__json_syntax(p, "in string escape code");
			}
		}
		if (c < 0x20) {
			p->pos = i;
			return wl__json_syntax(p, "in string literal");
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
static bool decode_string(wl__json_reader *p, const char *raw, size_t raw_len, bool simple, wl_string *out)
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

static bool expect_literal(wl__json_reader *p, const char *lit, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p->pos + k >= p->len || p->buf[p->pos + k] != lit[k]) {
			p->pos += k;
			char ctx[40];
			snprintf(ctx, sizeof ctx, "in literal %s (expecting '%c')", lit, lit[k]);
			return wl__json_syntax(p, ctx);
		}
	}
	p->pos += n;
	return true;
}

/* Scans a number per the JSON grammar; `*integer` is false when it has a
 * fraction or an exponent. */
static bool scan_number(wl__json_reader *p, const char **start, size_t *len, bool *integer)
{
	const char *b = p->buf;
	size_t i = p->pos, n = p->len;
	size_t s = i;
	*integer = true;
	if (i < n && b[i] == '-')
		i++;
	if (i >= n) {
		p->pos = i;
		return wl__json_syntax(p, "in numeric literal");
	}
	if (b[i] == '0') {
		i++;
	} else if (b[i] >= '1' && b[i] <= '9') {
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	} else {
		p->pos = i;
		return wl__json_syntax(p, "in numeric literal");
	}
	if (i < n && b[i] == '.') {
		*integer = false;
		i++;
		if (i >= n || b[i] < '0' || b[i] > '9') {
			p->pos = i;
			return wl__json_syntax(p, "after decimal point in numeric literal");
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
			return wl__json_syntax(p, "in exponent of numeric literal");
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

bool wl__json_skip_value(wl__json_reader *p)
{
	int depth = p->depth;
	/* stack[k]: 1 inside an object, 0 inside an array */
	static _Thread_local unsigned char stack[WL__JSON_MAX_DEPTH + 2];
	int top = 0;
	for (;;) {
		/* Parse one value. */
		wl__json_skip_ws(p);
		int c = wl__json_peek(p);
		const char *r;
		size_t rl;
		bool simple, integer;
		switch (c) {
		case '{':
		case '[':
			if (depth + top + 1 > WL__JSON_MAX_DEPTH)
				return wl__json_syntax(p, "exceeded max depth");
			stack[++top] = c == '{';
			p->pos++;
			wl__json_skip_ws(p);
			if (wl__json_peek(p) == (c == '{' ? '}' : ']')) {
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
			return wl__json_syntax(p, "looking for beginning of value");
		}
	after_value:
		for (;;) {
			if (top == 0)
				return true;
			wl__json_skip_ws(p);
			c = wl__json_peek(p);
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
				return wl__json_syntax(p, "after object key:value pair");
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
			return wl__json_syntax(p, "after array element");
		}
		continue;
	object_key:
		wl__json_skip_ws(p);
		if (wl__json_peek(p) != '"')
			return wl__json_syntax(p, "looking for beginning of object key string");
		if (!scan_string(p, &r, &rl, &simple))
			return false;
		wl__json_skip_ws(p);
		if (wl__json_peek(p) != ':')
			return wl__json_syntax(p, "after object key");
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
int wl__json_match_key(const wl__json_key *keys, int count, const char *k, size_t n)
{
	for (int i = 0; i < count; i++) {
		if (keys[i].len != n)
			continue;
		size_t j = 0;
		while (j < n && keys[i].name[j] == k[j])
			j++;
		if (j == n)
			return i;
	}
	char folded[64];
	size_t fl;
	if (!fold_key(k, n, folded, sizeof folded, &fl))
		return -1;
	for (int i = 0; i < count; i++)
		if (keys[i].len == fl && memcmp(keys[i].folded, folded, fl) == 0)
			return i;
	return -1;
}

/*
 * Iterates the members of an object: call with *first = true after the
 * opening brace was consumed. Returns 1 with the decoded key, 0 at the
 * closing brace, -1 on a syntax error.
 */
int wl__json_next_member(wl__json_reader *p, bool *first, wl_string *key)
{
	wl__json_skip_ws(p);
	int c = wl__json_peek(p);
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
			wl__json_syntax(p, "after object key:value pair");
			return -1;
		}
		p->pos++;
		wl__json_skip_ws(p);
		c = wl__json_peek(p);
	}
	if (c != '"')
		{
		wl__json_syntax(p, "looking for beginning of object key string");
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
	wl__json_skip_ws(p);
	if (wl__json_peek(p) != ':')
		{
		wl__json_syntax(p, "after object key");
		return -1;
	}
	p->pos++;
	wl__json_skip_ws(p);
	return 1;
}

/* Same for arrays: 1 when an element follows (pos at it), 0 at ']'. */
int wl__json_next_element(wl__json_reader *p, bool *first)
{
	wl__json_skip_ws(p);
	int c = wl__json_peek(p);
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
		wl__json_syntax(p, "after array element");
		return -1;
	}
	p->pos++;
	wl__json_skip_ws(p);
	return 1;
}

/* The JSON kind of the value at pos, for type errors. */
const char *wl__json_kind_at(const wl__json_reader *p)
{
	switch (wl__json_peek(p)) {
	case '{': return "object";
	case '[': return "array";
	case '"': return "string";
	case 't': case 'f': return "bool";
	default: return "number";
	}
}

bool wl__json_is_null(wl__json_reader *p)
{
	if (wl__json_peek(p) != 'n')
		return false;
	return expect_literal(p, "null", 4);
}

/* Skips a value of the wrong kind after recording the type error. */
bool wl__json_mismatch(wl__json_reader *p, const wl__json_ctx *f)
{
	size_t at = p->pos;
	int c = wl__json_peek(p);
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *r;
		size_t rl;
		bool integer;
		if (!scan_number(p, &r, &rl, &integer))
			return false;
		wl__json_type_error(p, f, "number", at);
		return true;
	}
	const char *kind = wl__json_kind_at(p);
	if (!wl__json_skip_value(p)) /* reports characters that start no value */
		return false;
	wl__json_type_error(p, f, kind, at);
	return true;
}

/*
 * Starts decoding an object into a structure: 1 when members follow (the
 * brace is consumed), 0 when the value was null or of the wrong kind and is
 * done with, -1 on a syntax error.
 */
int wl__json_open_object(wl__json_reader *p, const wl__json_ctx *self)
{
	int c = wl__json_peek(p);
	if (c == 'n')
		return wl__json_is_null(p) ? 0 : -1;
	if (c != '{')
		return wl__json_mismatch(p, self) ? 0 : -1;
	p->pos++;
	p->depth++;
	return 1;
}

bool wl__json_read_string(wl__json_reader *p, const wl__json_ctx *f, wl_string *out)
{
	if (wl__json_peek(p) == '"') {
		const char *raw;
		size_t rl;
		bool simple;
		if (!scan_string(p, &raw, &rl, &simple))
			return false;
		return decode_string(p, raw, rl, simple, out);
	}
	if (wl__json_peek(p) == 'n')
		return wl__json_is_null(p);
	return wl__json_mismatch(p, f);
}

bool wl__json_read_int(wl__json_reader *p, const wl__json_ctx *f, int64_t *out)
{
	int c = wl__json_peek(p);
	if (c == 'n')
		return wl__json_is_null(p);
	if (!(c == '-' || (c >= '0' && c <= '9')))
		return wl__json_mismatch(p, f);
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
		wl__json_type_error(p, f, what, at);
		return true;
	}
	*out = v;
	return true;
}

/* A timestamp field: Time.UnmarshalJSON on the raw value bytes. */
bool wl__json_read_time(wl__json_reader *p, wl_time *out)
{
	size_t at = p->pos;
	int c = wl__json_peek(p);
	if (c == 'n')
		return wl__json_is_null(p);
	if (c != '"') {
		if (!wl__json_skip_value(p))
			return false;
		wl__fail(WL_EPARSE, "Time.UnmarshalJSON: input is not a JSON string");
		wl__json_set_hard(p, at);
		return true;
	}
	const char *raw;
	size_t rl;
	bool simple;
	if (!scan_string(p, &raw, &rl, &simple))
		return false;
	if (wl_time_parse(out, raw, rl) != 0)
		wl__json_set_hard(p, at);
	return true;
}

/* ------------------------------------------------------------------------ */
/* Lists                                                                    */
/* ------------------------------------------------------------------------ */

/* Grows a malloc'd array to hold `need` elements; read_list zeroes each
 * new element when it first uses it. */
static bool grow(wl__json_reader *p, void **items, size_t *cap, size_t need, size_t size)
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
bool wl__json_read_list(wl__json_reader *p, const wl__json_ctx *list_f, void **items, size_t *count,
                        size_t *cap, bool *present, size_t size, wl__json_elem_fn fn, void *ctx,
                        void (*drop)(void *))
{
	int c = wl__json_peek(p);
	if (c == 'n') {
		if (!wl__json_is_null(p))
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
		return wl__json_mismatch(p, list_f);
	p->pos++;
	p->depth++;
	bool first = true;
	size_t i = 0;
	size_t old = *count;
	int r;
	while ((r = wl__json_next_element(p, &first)) == 1) {
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

static bool pattern_elem(wl__json_reader *p, void *elem, void *ctx)
{
	return wl__json_read_string(p, ctx, elem);
}

/* The capacity is kept equal to the count by trimming, so lists need not
 * store it; that is enough for decoding over an earlier value. */
bool wl__json_read_string_list(wl__json_reader *p, const char *struct_name, const char *path,
                               wl_string **items, size_t *count)
{
	wl__json_ctx list_f = {struct_name, path, "[]string"};
	wl__json_ctx elem_f = {struct_name, path, "string"};
	size_t cap = *count;
	bool ok = wl__json_read_list(p, &list_f, (void **)items, count, &cap, NULL, sizeof(wl_string),
	                    pattern_elem, &elem_f, NULL);
	return ok;
}

bool wl__json_read_scalar_object(wl__json_reader *p, void *obj, const wl__json_key *keys,
                                 const wl__json_slot *slots, int count)
{
	bool first = true;
	wl_string key;
	int r;
	while ((r = wl__json_next_member(p, &first, &key)) == 1) {
		int k = wl__json_match_key(keys, count, key.ptr, key.len);
		char *dst = (char *)obj + (k >= 0 ? slots[k].offset : 0);
		bool ok = k < 0              ? wl__json_skip_value(p)
		          : slots[k].is_int ? wl__json_read_int(p, &slots[k].ctx, (int64_t *)(void *)dst)
		                            : wl__json_read_string(p, &slots[k].ctx, (wl_string *)(void *)dst);
		if (!ok)
			return false;
	}
	return r == 0;
}

int wl__json_open_top(wl__json_reader *p, const wl__json_ctx *self)
{
	wl__json_skip_ws(p);
	return wl__json_open_object(p, self);
}

int wl__json_finish(wl__json_reader *p, bool ok)
{
	if (ok) {
		wl__json_skip_ws(p);
		if (p->pos < p->len)
			ok = wl__json_syntax(p, "after top-level value");
	}
	wl_buf_release(&p->scratch);
	if (p->oom && !p->syntax_failed)
		return wl__nomem();
	if (!ok || p->syntax_failed)
		return WL_EPARSE; /* message already set by wl__json_syntax() */
	if (p->hard_failed)
		return wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", p->name, p->hard_msg, p->hard_at);
	if (p->type_failed)
		return wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", p->name, p->type_msg, p->type_at);
	return 0;
}
