/*
 * file_writer.c - the writer of the large files a pull or an extract
 * makes (store files, materialized weights), each fsynced or synced with
 * its filesystem before it is renamed into place.
 *
 * A file of at least DIRECT_MIN bytes is written with O_DIRECT from one
 * aligned buffer of DIRECT_BUFFER bytes: the bytes go from the buffer to
 * the disk without a copy into the page cache, whose pages a durable
 * write would only flush again (on a virtual machine, fresh page-cache
 * pages cost more than the copy itself). The tail that does not fill a
 * whole block is written buffered after O_DIRECT is cleared. Where
 * O_DIRECT is refused (tmpfs, some FUSE filesystems) or a direct write
 * fails with EINVAL (an alignment the device does not take), the writer
 * goes on buffered.
 *
 * Buffered, the bytes go out in page-aligned pieces of up to
 * BUFFERED_MAX, and every WRITEBACK bytes start their writeback, so the
 * final fsync waits for little.
 */
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN ((size_t)4096)
#define DIRECT_MIN ((int64_t)8 << 20)
#define DIRECT_BUFFER ((size_t)8 << 20)
#define BUFFERED_MAX ((size_t)1 << 20)
#define WRITEBACK ((int64_t)8 << 20)

int wl__file_writer_init(wl__file_writer *w, int fd, int64_t size)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	size_t cap = BUFFERED_MAX;
	if (size >= DIRECT_MIN) {
		int flags = fcntl(fd, F_GETFL);
		if (flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0) {
			w->direct = true;
			cap = DIRECT_BUFFER;
		}
	} else if (size >= 0 && (uint64_t)size < cap) {
		cap = (size_t)size; /* a small file needs no more */
	}
	w->cap = cap;
	if (cap == 0)
		return 0;
	void *buf = NULL;
	if (posix_memalign(&buf, ALIGN, (cap + ALIGN - 1) / ALIGN * ALIGN) != 0) {
		if (w->direct)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT);
		w->direct = false;
		return ENOMEM;
	}
	w->buf = buf;
	return 0;
}

static int set_buffered(wl__file_writer *w)
{
	int flags = fcntl(w->fd, F_GETFL);
	if (flags < 0 || fcntl(w->fd, F_SETFL, flags & ~O_DIRECT) != 0)
		return errno;
	w->direct = false;
	return 0;
}

/* Writes `len` bytes at the file's end (`len` a multiple of ALIGN while
 * direct, except from wl__file_writer_finish, which goes buffered first). */
static int out(wl__file_writer *w, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(w->fd, p, len > ((size_t)1 << 30) ? (size_t)1 << 30 : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && w->direct) {
			int err = set_buffered(w);
			if (err != 0)
				return err;
			continue;
		}
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
		w->flushed += n;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	if (!w->direct && w->flushed - w->synced >= WRITEBACK) {
		sync_file_range(w->fd, (off_t)w->synced, (off_t)(w->flushed - w->synced), SYNC_FILE_RANGE_WRITE);
		w->synced = w->flushed;
	}
#endif
	return 0;
}

int wl__file_writer_write(wl__file_writer *w, const void *data, size_t len)
{
	if (w->err != 0)
		return w->err;
	const unsigned char *in = data;
	while (len > 0) {
		size_t n = w->cap - w->len;
		if (n > len)
			n = len;
		memcpy(w->buf + w->len, in, n);
		w->len += n;
		in += n;
		len -= n;
		if (w->len == w->cap) {
			w->len = 0;
			int err = out(w, w->buf, w->cap);
			if (err != 0)
				return w->err = err;
		}
	}
	return 0;
}

int wl__file_writer_finish(wl__file_writer *w)
{
	if (w->err != 0)
		return w->err;
	size_t whole = w->direct ? w->len / ALIGN * ALIGN : w->len;
	int err = whole ? out(w, w->buf, whole) : 0;
	if (err == 0 && w->direct)
		err = set_buffered(w);
	if (err == 0 && whole < w->len)
		err = out(w, w->buf + whole, w->len - whole);
	w->len = 0;
	/* The tail's writeback starts now: the fsync then waits for less. */
#ifdef SYNC_FILE_RANGE_WRITE
	if (err == 0 && w->synced > 0 && w->flushed > w->synced)
		sync_file_range(w->fd, (off_t)w->synced, (off_t)(w->flushed - w->synced), SYNC_FILE_RANGE_WRITE);
#endif
	return w->err = err;
}

void wl__file_writer_reset(wl__file_writer *w)
{
	w->len = 0;
	w->flushed = w->synced = 0;
	w->err = 0;
}

void wl__file_writer_free(wl__file_writer *w)
{
	free(w->buf);
	w->buf = NULL;
}
