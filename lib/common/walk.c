/*
 * walk.c - the iterative directory walk (walk.h).
 */
#include "common/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int wl__list_dir_sorted(char ***out, size_t *out_count, int fd, int *err)
{
	*out = NULL;
	*out_count = 0;
	*err = 0;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	if (d == NULL) {
		*err = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		return WL_EIO;
	}
	wl_buf names;
	wl_buf_init(&names);
	size_t count = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno != 0) {
				*err = errno;
				closedir(d);
				wl_buf_release(&names);
				return WL_EIO;
			}
			break;
		}
		const char *n = e->d_name;
		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		wl_buf_put(&names, n, strlen(n) + 1);
		count++;
	}
	closedir(d);
	size_t ptr_bytes;
	if (names.failed || wl_mul_overflows_size(count + 1, sizeof(char *), &ptr_bytes) ||
	    ptr_bytes + names.len < ptr_bytes) {
		wl_buf_release(&names);
		return WL_ENOMEM;
	}
	char **list = malloc(ptr_bytes + names.len);
	if (list == NULL) {
		wl_buf_release(&names);
		return WL_ENOMEM;
	}
	char *text = (char *)(list + count + 1);
	if (names.len > 0)
		memcpy(text, names.data, names.len);
	wl_buf_release(&names);
	for (size_t i = 0; i < count; i++) {
		list[i] = text;
		text += strlen(text) + 1;
	}
	list[count] = NULL;
	qsort(list, count, sizeof *list, compare_names);
	*out = list;
	*out_count = count;
	return 0;
}

struct wl__walk_level {
	char **names;
	size_t count, next;
	dev_t dev;
	ino_t ino;
	size_t rel_len; /* the directory's path length in w->rel */
	long tag;
};

static wl__walk_event fail(wl__walk *w, wl__walk_failure why, int err, size_t rel_len)
{
	w->failure = why;
	w->failure_errno = err;
	w->rel.len = rel_len;
	if (w->rel.data != NULL)
		w->rel.data[rel_len] = '\0';
	w->failure_rel = (wl_string){w->rel.data ? w->rel.data : "", rel_len};
	return WL__WALK_FAIL;
}

/* Pushes a level for the directory open at `fd` (taken over). */
static wl__walk_event push(wl__walk *w, int fd, long tag, size_t rel_len)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return fail(w, WL__WALK_OPEN, err, rel_len);
	}
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		wl__walk_level *p = realloc(w->levels, cap * sizeof *p);
		if (p == NULL) {
			close(fd);
			return fail(w, WL__WALK_NOMEM, ENOMEM, rel_len);
		}
		w->levels = p;
		w->cap = cap;
	}
	wl__walk_level *l = &w->levels[w->depth];
	memset(l, 0, sizeof *l);
	/* From the start, whatever was read through `fd` before. */
	int err = 0;
	int rc = lseek(fd, 0, SEEK_SET) == 0 ? wl__list_dir_sorted(&l->names, &l->count, fd, &err) : (err = errno, WL_EIO);
	if (rc != 0) {
		close(fd);
		return fail(w, rc == WL_ENOMEM ? WL__WALK_NOMEM : WL__WALK_READ, rc == WL_ENOMEM ? ENOMEM : err,
		            rel_len);
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->rel_len = rel_len;
	l->tag = tag;
	w->depth++;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	return WL__WALK_ITEM;
}

wl__walk_event wl__walk_start(wl__walk *w, int fd, long tag)
{
	memset(w, 0, sizeof *w);
	w->fd = -1;
	wl_buf_init(&w->rel);
	if (!wl_buf_reserve(&w->rel, 256)) {
		close(fd);
		return fail(w, WL__WALK_NOMEM, ENOMEM, 0);
	}
	w->rel.data[0] = '\0';
	return push(w, fd, tag, 0);
}

const char *wl__walk_failed_op(const wl__walk *w)
{
	switch (w->failure) {
	case WL__WALK_OPEN:
		return "open directory";
	case WL__WALK_READ:
		return "read directory";
	case WL__WALK_UP:
		return "open the parent of";
	default:
		return NULL;
	}
}

int wl__walk_fd(const wl__walk *w)
{
	return w->fd;
}

wl__walk_event wl__walk_next(wl__walk *w, wl__walk_item *item)
{
	memset(item, 0, sizeof *item);
	while (w->depth > 0) {
		wl__walk_level *l = &w->levels[w->depth - 1];
		if (l->next < l->count) {
			const char *name = l->names[l->next++];
			w->rel.len = l->rel_len;
			if (l->rel_len > 0)
				wl_buf_putc(&w->rel, '/');
			wl_buf_puts(&w->rel, name);
			wl_buf_putc(&w->rel, '\0');
			if (w->rel.failed)
				return fail(w, WL__WALK_NOMEM, ENOMEM, l->rel_len);
			w->rel.len--;
			item->name = name;
			item->rel = (wl_string){w->rel.data, w->rel.len};
			item->depth = w->depth - 1;
			item->tag = l->tag;
			if (fstatat(w->fd, name, &item->st, AT_SYMLINK_NOFOLLOW) != 0)
				item->stat_errno = errno;
			return WL__WALK_ITEM;
		}
		if (w->depth == 1)
			return WL__WALK_END;
		/* Climb back to the parent, checked to be where the walk came from. */
		const wl__walk_level *parent = &w->levels[w->depth - 2];
		int up = openat(w->fd, "..", DIR_FLAGS);
		struct stat st;
		if (up < 0 || fstat(up, &st) != 0) {
			int err = errno;
			if (up >= 0)
				close(up);
			return fail(w, WL__WALK_UP, err, l->rel_len);
		}
		if (st.st_dev != parent->dev || st.st_ino != parent->ino) {
			close(up);
			return fail(w, WL__WALK_MOVED, 0, l->rel_len);
		}
		close(w->fd);
		w->fd = up;
		w->rel.len = l->rel_len;
		w->rel.data[l->rel_len] = '\0';
		item->name = parent->names[parent->next - 1];
		item->rel = (wl_string){w->rel.data, w->rel.len};
		item->depth = w->depth - 2;
		item->tag = l->tag;
		free(l->names);
		w->depth--;
		return WL__WALK_LEAVE;
	}
	return WL__WALK_END;
}

wl__walk_event wl__walk_enter(wl__walk *w, const wl__walk_item *item, long tag)
{
	int fd = openat(w->fd, item->name, DIR_FLAGS);
	if (fd < 0)
		return fail(w, WL__WALK_OPEN, errno, item->rel.len);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return fail(w, WL__WALK_OPEN, err, item->rel.len);
	}
	if (st.st_dev != item->st.st_dev || st.st_ino != item->st.st_ino) {
		close(fd);
		return fail(w, WL__WALK_CHANGED, 0, item->rel.len);
	}
	return push(w, fd, tag, item->rel.len);
}

void wl__walk_close(wl__walk *w)
{
	for (size_t i = 0; i < w->depth; i++)
		free(w->levels[i].names);
	free(w->levels);
	w->levels = NULL;
	w->depth = w->cap = 0;
	wl_buf_release(&w->rel);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
