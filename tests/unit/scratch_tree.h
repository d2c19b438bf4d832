/*
 * scratch_tree.h - a temporary directory per test binary, and helpers to
 * build source trees in it (files with given bytes, directories, links,
 * FIFOs) and to remove it again.
 */
#ifndef WL_SCRATCH_TREE_H
#define WL_SCRATCH_TREE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch_root[PATH_MAX - 64];
static char scratch_dir[PATH_MAX]; /* the current test's own directory */
static int scratch_serial;

/* Creates the binary's temporary directory; false on failure. */
static inline bool scratch_init(const char *module)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch_root, sizeof scratch_root, "%s/wl-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", module);
	return mkdtemp(scratch_root) != NULL;
}

/* A fresh, empty directory for one test; becomes scratch_dir. */
static inline const char *scratch_new(void)
{
	snprintf(scratch_dir, sizeof scratch_dir, "%s/t%d", scratch_root, ++scratch_serial);
	if (mkdir(scratch_dir, 0755) != 0)
		perror(scratch_dir);
	return scratch_dir;
}

/* scratch_dir + "/" + rel, in one of a few rotating static buffers. */
static inline const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX + 64];
	static int next;
	char *b = bufs[next++ & 3];
	snprintf(b, PATH_MAX + 64, "%s/%s", scratch_dir, rel);
	return b;
}

/* Creates the parent directories of scratch_dir/rel. */
static inline void make_parents(const char *rel)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s", at(rel));
	for (char *s = path + strlen(scratch_dir) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(path, 0755);
			*s = '/';
		}
	}
}

static inline bool put_bytes(const char *rel, const void *data, size_t len)
{
	make_parents(rel);
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	bool ok = len == 0 || write(fd, data, len) == (ssize_t)len;
	return close(fd) == 0 && ok;
}

static inline bool put_text(const char *rel, const char *text)
{
	return put_bytes(rel, text, strlen(text));
}

static inline bool put_dir(const char *rel)
{
	make_parents(rel);
	return mkdir(at(rel), 0755) == 0;
}

static inline bool put_symlink(const char *rel, const char *target)
{
	make_parents(rel);
	return symlink(target, at(rel)) == 0;
}

static inline bool put_fifo(const char *rel)
{
	make_parents(rel);
	return mkfifo(at(rel), 0644) == 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
	return 0;
}

static inline void scratch_remove(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
