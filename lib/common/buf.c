/*
 * buf.c - the growable byte buffer every encoder writes into.
 *
 * A failed allocation latches `failed`; writers keep going without
 * checking each call, and wl_buf_finish reports WL_ENOMEM once.
 */
#include "common/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl_buf_init(wl_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void wl_buf_release(wl_buf *b)
{
	free(b->data);
	wl_buf_init(b);
}

bool wl_buf_reserve(wl_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	size_t need;
	if (__builtin_add_overflow(b->len, extra, &need) || __builtin_add_overflow(need, 1, &need)) {
		b->failed = true;
		return false;
	}
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void wl_buf_put(wl_buf *b, const void *p, size_t n)
{
	if (n == 0 || !wl_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void wl_buf_putc(wl_buf *b, char c)
{
	if (!wl_buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
}

void wl_buf_puts(wl_buf *b, const char *s)
{
	wl_buf_put(b, s, strlen(s));
}

void wl_buf_put_str(wl_buf *b, wl_string s)
{
	wl_buf_put(b, s.ptr, s.len);
}

void wl_buf_printf(wl_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		va_end(ap2);
		return;
	}
	if (wl_buf_reserve(b, (size_t)n)) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

char *wl_write_int64(char *out, int64_t v)
{
	char tmp[24];
	char *end = tmp + sizeof tmp;
	char *p = end;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	memcpy(out, p, (size_t)(end - p));
	return out + (end - p);
}

void wl_buf_put_int64(wl_buf *b, int64_t v)
{
	if (!wl_buf_reserve(b, 20))
		return;
	b->len = (size_t)(wl_write_int64(b->data + b->len, v) - b->data);
}

int wl_buf_finish(wl_buf *b, char **out, size_t *out_len)
{
	if (!wl_buf_reserve(b, 0)) {
		wl_buf_release(b);
		return wl__nomem();
	}
	b->data[b->len] = '\0';
	*out = b->data;
	if (out_len != NULL)
		*out_len = b->len;
	wl_buf_init(b);
	return 0;
}
