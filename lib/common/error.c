/*
 * error.c - the thread-local error record behind wl_error_last().
 */
#include "common/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char message_buf[WL__MESSAGE_MAX];
static _Thread_local wl_error last = {WL_OK, 0, ""};

const wl_error *wl_error_last(void)
{
	if (last.message == NULL)
		last.message = "";
	return &last;
}

void wl_error_clear(void)
{
	message_buf[0] = '\0';
	last.code = WL_OK;
	last.sys_errno = 0;
	last.message = message_buf;
}

/* Stores `s` (n bytes) as the message. One longer than the buffer loses
 * its middle, not its end: a long path must not cut off the system error
 * that follows it. Cuts fall on UTF-8 character boundaries. */
static void store(const char *s, size_t n)
{
	if (n < sizeof message_buf) {
		memcpy(message_buf, s, n);
		message_buf[n] = '\0';
		return;
	}
	static const char gap[] = " ... ";
	size_t keep = sizeof message_buf - 1 - (sizeof gap - 1);
	size_t head = keep / 2, from = n - (keep - head);
	while (head > 0 && ((unsigned char)s[head] & 0xC0) == 0x80)
		head--;
	while (from < n && ((unsigned char)s[from] & 0xC0) == 0x80)
		from++;
	memcpy(message_buf, s, head);
	memcpy(message_buf + head, gap, sizeof gap - 1);
	memcpy(message_buf + head + sizeof gap - 1, s + from, n - from);
	message_buf[head + sizeof gap - 1 + n - from] = '\0';
}

static void set_message(int code, int err, const char *fmt, va_list ap)
{
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);
	if (n < 0) {
		/* No memory for the whole text: keep what fits. */
		text = NULL;
		snprintf(message_buf, sizeof message_buf, "%s", "out of memory while formatting an error");
	} else if (err != 0) {
		char *full = NULL;
		const char *hint = err == EMFILE || err == ENFILE
		                       ? " (out of file descriptors: raise the limit, e.g. ulimit -n)"
		                       : "";
		if (asprintf(&full, "%s: %s%s", text, strerror(err), hint) >= 0) {
			free(text);
			text = full;
		}
	}
	if (text != NULL)
		store(text, strlen(text));
	free(text);
	last.code = code;
	last.sys_errno = err;
	last.message = message_buf;
}

int wl__fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message(code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int wl__fail_errno(int code, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message(code, err, fmt, ap);
	va_end(ap);
	return code;
}

void wl__error_set_errno(int err)
{
	last.sys_errno = err;
}

int wl__nomem(void)
{
	return wl__fail(WL_ENOMEM, "out of memory");
}

int wl__error_prefix(const char *fmt, ...)
{
	char *prefix = NULL, *full = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (n >= 0 && asprintf(&full, "%s: %s", prefix, wl_error_last()->message) >= 0)
		store(full, strlen(full));
	free(prefix);
	free(full);
	last.message = message_buf;
	return last.code;
}

void wl__error_save(wl__saved_error *out)
{
	const wl_error *e = wl_error_last();
	out->code = e->code;
	out->sys_errno = e->sys_errno;
	snprintf(out->message, sizeof out->message, "%s", e->message);
}

int wl__error_restore(const wl__saved_error *saved)
{
	snprintf(message_buf, sizeof message_buf, "%s", saved->message);
	last.code = saved->code;
	last.sys_errno = saved->sys_errno;
	last.message = message_buf;
	return saved->code;
}

void wl_free(void *ptr)
{
	free(ptr);
}

const char *wl_version(void)
{
	return WL_VERSION_STRING;
}
