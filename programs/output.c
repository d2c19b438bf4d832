/*
 * output.c - messages on stderr, output buffers, JSON and human-readable
 * strings, and whole-file reads for the program.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- buffers ---- */

static bool reserve(cli_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra <= b->cap - b->len)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *data = realloc(b->data, cap);
	if (data == NULL) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void cli_buf_put(cli_buf *b, const void *p, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void cli_buf_puts(cli_buf *b, const char *s)
{
	cli_buf_put(b, s, strlen(s));
}

static void buf_vprintf(cli_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!reserve(b, (size_t)n + 1))
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void cli_buf_release(cli_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

/* ---- UTF-8 and string forms ---- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_sequence(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		v = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		v = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

void cli_buf_json_string(cli_buf *b, wl_string s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.ptr;
	cli_buf_put(b, "\"", 1);
	for (size_t i = 0; i < s.len;) {
		uint32_t cp;
		size_t len = utf8_sequence(p + i, s.len - i, &cp);
		if (len == 0) {
			cli_buf_puts(b, "\\ufffd");
			i++;
			continue;
		}
		switch (cp) {
		case '"': cli_buf_puts(b, "\\\""); break;
		case '\\': cli_buf_puts(b, "\\\\"); break;
		case '\n': cli_buf_puts(b, "\\n"); break;
		case '\r': cli_buf_puts(b, "\\r"); break;
		case '\t': cli_buf_puts(b, "\\t"); break;
		case '\b': cli_buf_puts(b, "\\b"); break;
		case '\f': cli_buf_puts(b, "\\f"); break;
		default:
			if (cp < 0x20 || cp == 0x7F) {
				char t[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
				cli_buf_put(b, t, 6);
			} else if (cp == 0x2028 || cp == 0x2029) {
				cli_buf_printf(b, "\\u%04x", (unsigned)cp);
			} else {
				cli_buf_put(b, p + i, len);
			}
		}
		i += len;
	}
	cli_buf_put(b, "\"", 1);
}

void cli_buf_size(cli_buf *b, int64_t v, bool exact)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (v < 1024) {
		cli_buf_printf(b, "%" PRId64 " %s", v, v == 1 ? "byte" : "bytes");
		return;
	}
	double x = (double)v / 1024.0;
	size_t u = 0;
	while (x >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
		x /= 1024.0;
		u++;
	}
	if (exact)
		cli_buf_printf(b, "%.2f %s (%" PRId64 " bytes)", x, units[u], v);
	else
		cli_buf_printf(b, "%.2f %s", x, units[u]);
}

void cli_buf_patterns(cli_buf *b, const wl_string *items, size_t count)
{
	cli_buf_puts(b, "[");
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			cli_buf_puts(b, " ");
		cli_buf_human(b, items[i]);
	}
	cli_buf_puts(b, "]");
}

bool cli_plain_text(wl_string s)
{
	const unsigned char *p = (const unsigned char *)s.ptr;
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len;) {
		uint32_t cp;
		size_t len = utf8_sequence(p + i, s.len - i, &cp);
		if (len == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x2028 ||
		    cp == 0x2029)
			return false;
		i += len;
	}
	/* Leading or trailing spaces would be invisible. */
	return p[0] != ' ' && p[s.len - 1] != ' ';
}

void cli_buf_quoted(cli_buf *b, wl_string s)
{
	char *q = NULL;
	size_t qlen = 0;
	if (wl_quote(&q, &qlen, s) != 0) {
		b->failed = true;
		return;
	}
	cli_buf_put(b, q, qlen);
	wl_free(q);
}

void cli_buf_human(cli_buf *b, wl_string s)
{
	if (cli_plain_text(s))
		cli_buf_put(b, s.ptr, s.len);
	else
		cli_buf_quoted(b, s);
}

void cli_buf_text(cli_buf *b, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p == '\n')
			cli_buf_puts(b, "\\n");
		else if (*p == '\r')
			cli_buf_puts(b, "\\r");
		else if (*p < 0x20 || *p == 0x7F)
			cli_buf_printf(b, "\\x%02x", *p);
		else
			cli_buf_put(b, p, 1);
	}
}

/* ---- writing ---- */

int cli_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
		ssize_t w = write(fd, c, chunk);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int cli_write_stdout(const void *p, size_t n)
{
	int err = cli_write_all(STDOUT_FILENO, p, n);
	if (err != 0)
		return cli_error("write standard output: %s", strerror(err));
	return EXIT_OK;
}

int cli_flush_stdout(cli_buf *b)
{
	if (b->failed)
		return cli_error("out of memory");
	return cli_write_stdout(b->data, b->len);
}

/* ---- messages ---- */

/* Writes one line to stderr, escaping control bytes so it stays one line. */
static void put_line(const char *prefix, const char *text)
{
	cli_buf b = {0};
	cli_buf_puts(&b, prefix);
	cli_buf_text(&b, text);
	cli_buf_put(&b, "\n", 1);
	if (!b.failed)
		(void)cli_write_all(STDERR_FILENO, b.data, b.len);
	cli_buf_release(&b);
}

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char text[4096];
	vsnprintf(text, sizeof text, fmt, ap);
	put_line(prefix, text);
}

int cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("weightslock: ", fmt, ap);
	va_end(ap);
	return EXIT_ERROR;
}

static const char *code_text(int code)
{
	switch (code) {
	case WL_ENOMEM: return "out of memory";
	case WL_ENOTFOUND: return "file not found";
	case WL_EIO: return "input/output error";
	case WL_EPARSE: return "invalid input";
	case WL_EVERSION: return "unsupported lockfile version";
	case WL_EINVALID: return "invalid value";
	case WL_ENOENTRY: return "no such entry";
	case WL_ETIMEOUT: return "timed out waiting for the guard lock";
	case WL_ECANCELED: return "canceled";
	case WL_EBUSY: return "busy";
	default: return "failed";
	}
}

int cli_lib_error(int code)
{
	const wl_error *e = wl_error_last();
	if (e->message != NULL && e->message[0] != '\0')
		put_line("weightslock: ", e->message);
	else
		put_line("weightslock: ", code_text(code));
	return EXIT_ERROR;
}

int cli_lib_error_in(const char *file, int code)
{
	const wl_error *e = wl_error_last();
	const char *message = e->message != NULL && e->message[0] != '\0' ? e->message
	                                                                    : code_text(code);
	if (strstr(message, file) != NULL)
		return cli_lib_error(code);
	return cli_error("%s: %s", file, message);
}

int cli_usage_error(const cli_command *command, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (command != NULL)
		return cli_error("%s: %s; see 'weightslock %s --help'", command->name, text,
		                 command->name);
	return cli_error("%s; see 'weightslock --help'", text);
}

void cli_note(const cli_invocation *cli, const char *fmt, ...)
{
	if (cli->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("weightslock: warning: ", fmt, ap);
	va_end(ap);
}

/* ---- reading ---- */

int cli_read_file(char **out, size_t *out_len, const char *path, int64_t max_size, char *errbuf,
                  size_t errlen)
{
	int rc = strcmp(path, "-") == 0
	                 ? wl_read_fd(out, out_len, STDIN_FILENO, cli_display_name(path), max_size)
	                 : wl_read_file(out, out_len, path, max_size);
	if (rc != 0)
		snprintf(errbuf, errlen, "%s", wl_error_last()->message);
	return rc;
}
