/*
 * error.c - the thread-local error record behind wl_error_last().
 */
#include "common/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_MESSAGE_MAX 2048

static _Thread_local char message_buf[WL_MESSAGE_MAX];
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

static void set_message(int code, int err, const char *fmt, va_list ap)
{
	int n = vsnprintf(message_buf, sizeof message_buf, fmt, ap);
	if (n < 0)
		message_buf[0] = '\0';
	if (err != 0) {
		size_t used = strlen(message_buf);
		snprintf(message_buf + used, sizeof message_buf - used, ": %s", strerror(err));
	}
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
	char old[WL_MESSAGE_MAX];
	char prefix[WL_MESSAGE_MAX];
	va_list ap;
	snprintf(old, sizeof old, "%s", wl_error_last()->message);
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	size_t pl = strlen(prefix), ol = strlen(old);
	if (pl > sizeof message_buf - 3)
		pl = sizeof message_buf - 3;
	if (ol > sizeof message_buf - 3 - pl)
		ol = sizeof message_buf - 3 - pl;
	memcpy(message_buf, prefix, pl);
	memcpy(message_buf + pl, ": ", 2);
	memcpy(message_buf + pl + 2, old, ol);
	message_buf[pl + 2 + ol] = '\0';
	last.message = message_buf;
	return last.code;
}

void wl_free(void *ptr)
{
	free(ptr);
}

const char *wl_version(void)
{
	return WL_VERSION_STRING;
}
