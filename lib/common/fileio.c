/*
 * fileio.c - reading whole files and replacing files atomically.
 *
 * The atomic write is the only way the library replaces a file: a
 * temporary file in the same directory, an explicit mode, fsync, rename,
 * then fsync of the directory, so a crash leaves either the old or the new
 * bytes and never a mix.
 */
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Large buffers are aligned to 2 MiB and offered to transparent huge
 * pages: a 30 MB lockfile then costs a dozen page faults, not thousands. */
#define HUGE_ALIGN ((size_t)2 << 20)

static char *alloc_for(size_t cap)
{
	if (cap < 4 * HUGE_ALIGN)
		return malloc(cap);
	void *p = NULL;
	size_t rounded = (cap + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	if (rounded < cap || posix_memalign(&p, HUGE_ALIGN, rounded) != 0)
		return malloc(cap);
#ifdef MADV_HUGEPAGE
	madvise(p, rounded, MADV_HUGEPAGE);
#endif
	return p;
}

const char *wl__file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "of an unknown type";
}

/* "1 GiB", "64 MiB", or "N bytes": a size limit as a user reads it. */
static void format_limit(char *out, size_t n, int64_t limit)
{
	static const char *const units[] = {"GiB", "MiB", "KiB"};
	for (int i = 0; i < 3; i++) {
		int64_t unit = (int64_t)1 << (30 - 10 * i);
		if (limit >= unit && limit % unit == 0) {
			snprintf(out, n, "%lld %s", (long long)(limit / unit), units[i]);
			return;
		}
	}
	snprintf(out, n, "%lld bytes", (long long)limit);
}

/* `size` < 0: not known, only that it is over the limit. */
static int fail_too_large(const char *name, int64_t limit, int64_t size)
{
	char text[32];
	format_limit(text, sizeof text, limit);
	if (size < 0)
		return wl__fail(WL_EINVALID, "read %s: larger than %s", name, text);
	return wl__fail(WL_EINVALID, "read %s: larger than %s (%lld bytes)", name, text, (long long)size);
}

/* Reads what is left at `fd`; `cap` is the first buffer's size. */
static int read_all(char **out, size_t *out_len, int fd, const char *name, int64_t max_size, size_t cap)
{
	char *data = alloc_for(cap);
	if (data == NULL)
		return wl__nomem();
	size_t len = 0;
	for (;;) {
		if (len + 1 >= cap) {
			char *p = cap <= SIZE_MAX / 2 ? realloc(data, cap * 2) : NULL;
			if (p == NULL) {
				free(data);
				return wl__nomem();
			}
			data = p;
			cap *= 2;
		}
		size_t want = cap - 1 - len;
		if (want > (size_t)INT_MAX)
			want = (size_t)INT_MAX;
		ssize_t n = read(fd, data + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			free(data);
			return wl__fail_errno(WL_EIO, err, "read %s", name);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* A pipe, or a file that grew since fstat: stop at the limit. */
		if (max_size > 0 && len > (uint64_t)max_size) {
			free(data);
			return fail_too_large(name, max_size, -1);
		}
	}
	data[len] = '\0';
	*out = data;
	*out_len = len;
	return 0;
}

int wl_read_fd(char **out, size_t *out_len, int fd, const char *name, int64_t max_size)
{
	*out = NULL;
	*out_len = 0;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return wl__fail_errno(WL_EIO, errno, "read %s", name);
	if (S_ISDIR(st.st_mode))
		return wl__fail_errno(WL_EIO, EISDIR, "read %s", name);
	if (S_ISREG(st.st_mode) && max_size > 0 && st.st_size > max_size)
		return fail_too_large(name, max_size, (int64_t)st.st_size);
	/* Room for the whole file, its NUL, and the read that sees EOF. */
	size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 4096 : 65536;
	return read_all(out, out_len, fd, name, max_size, cap);
}

int wl_read_file(char **out, size_t *out_len, const char *path, int64_t max_size)
{
	*out = NULL;
	*out_len = 0;
	/* O_NONBLOCK: a FIFO must not hold up the open; it is refused below. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return wl__fail_errno(err == ENOENT ? WL_ENOTFOUND : WL_EIO, err, "read %s", path);
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = wl__fail_errno(WL_EIO, errno, "read %s", path);
	else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		rc = wl__fail(WL_EIO, "read %s: not a regular file (%s)", path, wl__file_kind(st.st_mode));
	else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
		rc = wl__fail_errno(WL_EIO, errno, "read %s", path);
	if (rc == 0)
		rc = wl_read_fd(out, out_len, fd, path, max_size);
	close(fd);
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int wl__write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len > ((size_t)1 << 30) ? (size_t)1 << 30 : len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

typedef struct bytes_to_write {
	const void *data;
	size_t len;
} bytes_to_write;

static int fill_with_bytes(void *ctx, int fd)
{
	const bytes_to_write *b = ctx;
	return wl__write_all(fd, b->data, b->len);
}

int wl_write_file_atomic(const char *path, const void *data, size_t len)
{
	bytes_to_write b = {data, len};
	return wl__write_atomic(path, fill_with_bytes, &b);
}

int wl__write_atomic(const char *path, int (*fill)(void *ctx, int fd), void *ctx)
{
	return wl__write_atomic_sync(path, fill, ctx, true);
}

int wl__write_atomic_sync(const char *path, int (*fill)(void *ctx, int fd), void *ctx, bool durable)
{
	char *dir = dir_of(path);
	if (dir == NULL)
		return wl__nomem();
	size_t tlen = strlen(dir) + 64;
	char *tmp = malloc(tlen);
	if (tmp == NULL) {
		free(dir);
		return wl__nomem();
	}
	snprintf(tmp, tlen, "%s/.weights-XXXXXX.lock.tmp", dir);
	int fd = mkostemps(tmp, (int)strlen(".lock.tmp"), O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		free(tmp);
		free(dir);
		return wl__fail_errno(WL_EIO, err, "write %s: create temporary file", path);
	}
	int err = fill(ctx, fd);
	const char *step = "write";
	if (err < 0) {
		/* The producer failed and recorded why: nothing is replaced. */
		close(fd);
		unlink(tmp);
		free(tmp);
		free(dir);
		return err;
	}
	if (err == 0 && fchmod(fd, 0644) != 0) {
		err = errno;
		step = "chmod";
	}
	if (err == 0 && durable && fsync(fd) != 0) {
		err = errno;
		step = "fsync";
	}
	if (close(fd) != 0 && err == 0) {
		err = errno;
		step = "close";
	}
	if (err == 0 && rename(tmp, path) != 0) {
		err = errno;
		step = "rename";
	}
	if (err != 0) {
		unlink(tmp);
		free(tmp);
		free(dir);
		return wl__fail_errno(WL_EIO, err, "write %s: %s", path, step);
	}
	free(tmp);
	if (!durable) {
		free(dir);
		return 0;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = errno;
	} else {
		if (fsync(dfd) != 0 && errno != EINVAL)
			err = errno;
		close(dfd);
	}
	if (err != 0) {
		/* The new bytes are in place; only their durability is unknown. */
		int code = wl__fail_errno(WL_EIO, err, "write %s: fsync directory %s", path, dir);
		free(dir);
		return code;
	}
	free(dir);
	return 0;
}

int wl__make_dirs(const char *path, unsigned mode, const char *fmt, ...)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* the usual case: one call */
	size_t n = strlen(path);
	char *p = strdup(path);
	if (p == NULL)
		return wl__nomem();
	int err = 0;
	size_t at = n;
	/* Each prefix in turn (repeated slashes skipped); existing ones are fine. */
	for (size_t i = 1; i <= n && err == 0; i++) {
		if (i < n && (p[i] != '/' || p[i - 1] == '/'))
			continue;
		char saved = p[i];
		p[i] = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
			err = errno;
			at = i;
		}
		p[i] = saved;
	}
	if (err == 0 && stat(p, &st) != 0)
		err = errno;
	else if (err == 0 && !S_ISDIR(st.st_mode))
		err = ENOTDIR;
	free(p);
	if (err == 0)
		return 0;
	char context[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(context, sizeof context, fmt, ap);
	va_end(ap);
	return wl__fail_errno(WL_EIO, err, "%s: create directory %.*s", context, (int)at, path);
}

void wl__temp_name(char out[32], const char *prefix)
{
	static _Atomic uint64_t counter;
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
	r ^= atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ULL;
	snprintf(out, 32, "%s%016llx", prefix, (unsigned long long)r);
}

/* One rule for every file the project trusts because of where it lies (the
 * hash cache, the content store: SPEC.md §15, §17): another user, or a
 * group or anyone who may write to it, could have put its bytes there. */
const char *wl__distrust(const struct stat *st)
{
	if (st->st_uid != geteuid())
		return "is not owned by you";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "is writable by others";
	return NULL;
}
