/*
 * json_write.c - JSON string encoding with Go's encoding/json escaping.
 *
 * Written by hand because byte-compatibility with Go's encoder (HTML-safe
 * escapes, \u2028/\u2029, one \ufffd per invalid byte) is the format, and
 * no C JSON library encodes that way. Used by the lockfile, OCI and runtime
 * manifest encoders.
 */
#include "internal.h"

#include <string.h>

/* 1 for ASCII bytes written as they are inside a Go JSON string. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	/* 0x20 - 0x2f: " and & escaped */
	1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x30 - 0x3f: < and > escaped */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1,
	/* 0x40 - 0x5f: backslash escaped */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	/* 0x60 - 0x7f: DEL stays */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

size_t wl_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	*cp = 0xFFFD;
	if (c < 0xC2 || c > 0xF4)
		return 1;
	if (c < 0xE0) {
		if (n < 2 || (p[1] & 0xC0) != 0x80)
			return 1;
		*cp = ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
		return 2;
	}
	if (c < 0xF0) {
		unsigned lo = 0x80, hi = 0xBF;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no UTF-16 surrogates */
		if (n < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
			return 1;
		*cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
		return 3;
	}
	unsigned lo = 0x80, hi = 0xBF;
	if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
		return 1;
	*cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
	      ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
	return 4;
}

void wl_utf8_put(wl_buf *b, uint32_t cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (char)(0xF0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	wl_buf_put(b, t, n);
}

static const char hex[] = "0123456789abcdef";

void wl_json_put_string(wl_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	/* Worst case is 6 bytes out per byte in, plus the quotes. */
	if (n > (SIZE_MAX - 2) / 6 || !wl_buf_reserve(b, n * 6 + 2)) {
		b->failed = true;
		return;
	}
	char *out = b->data + b->len;
	*out++ = '"';
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (wl_word_has_byte(w, '"') | wl_word_has_byte(w, '\\') | wl_word_has_byte(w, '<') |
			    wl_word_has_byte(w, '>') | wl_word_has_byte(w, '&') | wl_word_has_less(w, 0x20) |
			    (w & WL_HIGHS))
				break;
			i += 8;
		}
		while (i < n && plain[p[i]])
			i++;
		if (i > start) {
			memcpy(out, p + start, i - start);
			out += i - start;
		}
		if (i >= n)
			break;
		unsigned c = p[i];
		if (c < 0x80) {
			*out++ = '\\';
			switch (c) {
			case '"': *out++ = '"'; break;
			case '\\': *out++ = '\\'; break;
			case '\n': *out++ = 'n'; break;
			case '\r': *out++ = 'r'; break;
			case '\t': *out++ = 't'; break;
			case '\b': *out++ = 'b'; break;
			case '\f': *out++ = 'f'; break;
			default:
				*out++ = 'u';
				*out++ = '0';
				*out++ = '0';
				*out++ = hex[c >> 4];
				*out++ = hex[c & 15];
			}
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = wl_utf8_decode(p + i, n - i, &cp);
		if (cp == 0xFFFD && len == 1) {
			memcpy(out, "\\ufffd", 6);
			out += 6;
		} else if (cp == 0x2028 || cp == 0x2029) {
			memcpy(out, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
			out += 6;
		} else {
			memcpy(out, p + i, len);
			out += len;
		}
		i += len;
	}
	*out++ = '"';
	b->len = (size_t)(out - b->data);
}
