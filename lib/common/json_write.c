/*
 * json_write.c - JSON string encoding with Go's encoding/json escaping.
 *
 * Written by hand because byte-compatibility with Go's encoder (HTML-safe
 * escapes, \u2028/\u2029, one \ufffd per invalid byte) is the format, and
 * no C JSON library encodes that way. Used by the lockfile, OCI and runtime
 * manifest encoders.
 */
#include "common/internal.h"

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

char *wl_json_write_string(char *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	*out++ = '"';
	size_t i = 0;
	while (i < n) {
#ifdef WL_HAVE_SSE2
		{
			const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
			              lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&'),
			              space = _mm_set1_epi8(0x20);
			while (i + 16 <= n) {
				__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
				__m128i hit = _mm_or_si128(
					_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
				                     _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt))),
					_mm_or_si128(_mm_cmpeq_epi8(v, amp), _mm_cmplt_epi8(v, space)));
				if (_mm_movemask_epi8(hit) != 0)
					break;
				_mm_storeu_si128((__m128i *)out, v);
				out += 16;
				i += 16;
			}
		}
#endif
		/* Copy while checking, eight bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (wl_word_has_byte(w, '"') | wl_word_has_byte(w, '\\') | wl_word_has_byte(w, '<') |
			    wl_word_has_byte(w, '>') | wl_word_has_byte(w, '&') | wl_word_has_less(w, 0x20) |
			    (w & WL_HIGHS))
				break;
			memcpy(out, &w, 8);
			out += 8;
			i += 8;
		}
		while (i < n && plain[p[i]])
			*out++ = (char)p[i++];
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
	return out;
}

void wl_json_put_string(wl_buf *b, const char *s, size_t n)
{
	if (n > (SIZE_MAX - 2) / 6 || !wl_buf_reserve(b, WL_JSON_STRING_MAX(n))) {
		b->failed = true;
		return;
	}
	char *end = wl_json_write_string(b->data + b->len, s, n);
	b->len = (size_t)(end - b->data);
}
