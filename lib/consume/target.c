/*
 * target.c - the directory extract writes into (SPEC.md §14): whether the
 * project owns it, the lock that keeps two extracts of it apart, the
 * atomic markers in its `.cog/`, and the sweep that finds what is already
 * in place and removes, in an owned target only, what the entry does not
 * record.
 *
 * Ownership is a file, `DEST/.cog/weightslock`, written when extract finds
 * the target absent or empty; a `.cog/` directory alone proves nothing (a
 * Cog project root and a weight source tree have one). A target that is
 * not owned is only ever added to: a forced extract writes the recorded
 * paths and removes nothing.
 *
 * The sweep is iterative and holds at most three descriptors at a time,
 * whatever the depth: each directory's names are read when it is entered,
 * and the walk climbs back through ".." after checking that it reaches the
 * directory it came from (device and inode), so a directory renamed under
 * it is an error, never a way out of the target. Removal never follows a
 * link and never enters another filesystem.
 */
#include "consume/extract_internal.h"
#include "common/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
/* How often a busy extract lock is tried again. */
#define LOCK_POLL_NS 100000000LL

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

int wl__write_marker(int dfd, const char *name, const void *data, size_t len)
{
	char tmp[32];
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		wl__temp_name(tmp, WL_EXTRACT_TEMP_PREFIX);
		fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return errno;
	}
	if (fd < 0)
		return EEXIST;
	int err = wl__write_all(fd, data, len);
	if (err == 0 && fchmod(fd, 0644) != 0)
		err = errno;
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && renameat(dfd, tmp, dfd, name) != 0)
		err = errno;
	if (err != 0) {
		unlinkat(dfd, tmp, 0);
		return err;
	}
	return fsync(dfd) == 0 ? 0 : errno;
}

bool wl__extract_reserved_name(const char *name, size_t len, bool top)
{
	if (top && len == 4 && strncasecmp(name, ".cog", 4) == 0)
		return true;
	size_t plen = sizeof WL_EXTRACT_TEMP_PREFIX - 1;
	if (len != plen + 16 || strncasecmp(name, WL_EXTRACT_TEMP_PREFIX, plen) != 0)
		return false;
	for (size_t i = plen; i < len; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static int fail_rel(int code, int err, const char *what, wl_string rel)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, rel) != 0)
		return WL_ENOMEM;
	if (err != 0)
		wl__fail_errno(code, err, "%s %s", what, q);
	else
		wl__fail(code, "%s %s", what, q);
	free(q);
	return code;
}

/* The names in the directory `fd` (without "." and ".."), from its start
 * whatever was read through it before. Returns an errno value. */
static int read_names(int fd, char ***names, size_t *count)
{
	int err = 0;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return errno;
	int rc = wl__list_dir_sorted(names, count, fd, &err);
	return rc == 0 ? 0 : rc == WL_ENOMEM ? ENOMEM : err;
}

/* ------------------------------------------------------------------------ */
/* Ownership and the lock                                                   */
/* ------------------------------------------------------------------------ */

enum target_state { TARGET_EMPTY, TARGET_OWNED, TARGET_FOREIGN };

/* What the target is, read without writing anything. `.cog/` holding
 * nothing but the extract lock counts as empty: the lock is taken before
 * the second look. */
static int classify(int fd, const char *dest, enum target_state *state)
{
	char **names = NULL;
	size_t count = 0;
	int err = read_names(fd, &names, &count);
	if (err != 0)
		return wl__fail_errno(WL_EIO, err, "read directory %s", dest);
	bool other = false, owned = false;
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		const char *n = names[i];
		if (strcmp(n, ".cog") != 0) {
			other = true;
			continue;
		}
		struct stat st;
		int cog = openat(fd, ".cog", DIR_FLAGS);
		if (cog < 0) {
			rc = errno == ENOTDIR || errno == ELOOP
			             ? wl__fail(WL_EINVALID, "%s/.cog is not a directory", dest)
			             : wl__fail_errno(WL_EIO, errno, "open %s/.cog", dest);
			break;
		}
		owned = fstatat(cog, "weightslock", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
		char **inner = NULL;
		size_t inner_count = 0;
		err = read_names(cog, &inner, &inner_count);
		close(cog);
		if (err != 0) {
			rc = wl__fail_errno(WL_EIO, err, "read directory %s/.cog", dest);
			break;
		}
		if (inner_count > 1 || (inner_count == 1 && strcmp(inner[0], WL_EXTRACT_LOCK) != 0))
			other = true;
		free(inner);
	}
	free(names);
	*state = owned ? TARGET_OWNED : other ? TARGET_FOREIGN : TARGET_EMPTY;
	return rc;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* An exclusive flock of .cog/extract.lock, polled like the guard lock. */
static int take_lock(wl__target *t, const char *dest, double timeout, const volatile sig_atomic_t *cancel)
{
	int64_t deadline = timeout < 0 ? INT64_MAX : now_ns() + (int64_t)(timeout * 1e9);
	for (;;) {
		if (cancel != NULL && *cancel)
			return wl__fail(WL_ECANCELED, "waiting for %s/.cog/%s: canceled", dest, WL_EXTRACT_LOCK);
		int fd = openat(t->cog_fd, WL_EXTRACT_LOCK, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		                0600);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			int err = fd < 0 ? errno : EINVAL;
			if (fd >= 0)
				close(fd);
			return wl__fail_errno(WL_EIO, err == ELOOP ? EINVAL : err,
			                      "open %s/.cog/%s (it must be a regular file)", dest, WL_EXTRACT_LOCK);
		}
		int rc;
		while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
			;
		if (rc == 0) {
			t->lock_fd = fd;
			return 0;
		}
		int err = errno;
		close(fd);
		if (err != EWOULDBLOCK && err != EAGAIN)
			return wl__fail_errno(WL_EIO, err, "lock %s/.cog/%s", dest, WL_EXTRACT_LOCK);
		int64_t left = deadline - now_ns();
		if (left <= 0)
			return wl__fail(WL_ETIMEOUT, "another extract into %s is running (%s/.cog/%s); timed out",
			                dest, dest, WL_EXTRACT_LOCK);
		if (left > LOCK_POLL_NS)
			left = LOCK_POLL_NS;
		struct timespec ts = {0, (long)left};
		nanosleep(&ts, NULL);
	}
}

/* mkdir -p; *created says whether the last component was made here. */
static int make_dest(const char *dest, bool *created)
{
	*created = false;
	char *p = strdup(dest);
	if (p == NULL)
		return wl__nomem();
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	for (char *s = p + 1;; s++) {
		bool last = *s == 0;
		if (*s == '/' || last) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0755) == 0) {
				*created = last;
			} else if (errno != EEXIST) {
				int rc = wl__fail_errno(WL_EIO, errno, "create %s", p);
				free(p);
				return rc;
			}
			*s = c;
		}
		if (last)
			break;
	}
	free(p);
	return 0;
}

int wl__target_open(wl__target *t, const char *dest, const wl__target_options *o)
{
	memset(t, 0, sizeof *t);
	t->fd = t->cog_fd = t->lock_fd = -1;
	struct stat st;
	int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	enum target_state state = TARGET_EMPTY;
	int rc = 0;
	if (fd < 0 && errno != ENOENT)
		return wl__fail_errno(errno == ENOTDIR ? WL_EINVALID : WL_EIO, errno, "open %s", dest);
	if (fd >= 0) {
		rc = classify(fd, dest, &state);
		close(fd);
		if (rc != 0)
			return rc;
		if (state == TARGET_FOREIGN && !o->force)
			return wl__fail(WL_EINVALID,
			                "%s is not empty and was not made by extract (no .cog/weightslock); "
			                "refusing to extract into it without force",
			                dest);
	}
	/* From here on, the target is one extract may write into. */
	if ((rc = make_dest(dest, &t->created)) != 0)
		return rc;
	t->fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->fd < 0 || fstat(t->fd, &st) != 0)
		return wl__fail_errno(WL_EIO, errno, "open %s", dest);
	t->dev = st.st_dev;
	if (mkdirat(t->fd, ".cog", 0755) != 0 && errno != EEXIST)
		return wl__fail_errno(WL_EIO, errno, "create %s/.cog", dest);
	t->cog_fd = openat(t->fd, ".cog", DIR_FLAGS);
	if (t->cog_fd < 0 || fstat(t->cog_fd, &st) != 0)
		return wl__fail_errno(WL_EIO, errno, "open %s/.cog", dest);
	t->cog_dev = st.st_dev;
	t->cog_ino = st.st_ino;
	if ((rc = take_lock(t, dest, o->lock_timeout, o->cancel)) != 0)
		return rc;
	/* Another extract may have run while this one waited. */
	if ((rc = classify(t->fd, dest, &state)) != 0)
		return rc;
	if (state == TARGET_FOREIGN && !o->force)
		return wl__fail(WL_EINVALID, "%s changed while waiting for its lock and is no longer empty", dest);
	t->owned = state != TARGET_FOREIGN;
	if (t->owned) {
		int err = wl__write_marker(t->cog_fd, WL_EXTRACT_OWNER, o->owner_line, strlen(o->owner_line));
		if (err != 0)
			return wl__fail_errno(WL_EIO, err, "write %s/.cog/%s", dest, WL_EXTRACT_OWNER);
	}
	return 0;
}

void wl__target_close(wl__target *t)
{
	if (t->lock_fd >= 0)
		close(t->lock_fd); /* releases the lock */
	if (t->cog_fd >= 0)
		close(t->cog_fd);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = t->cog_fd = t->lock_fd = -1;
}

/* ------------------------------------------------------------------------ */
/* The sweep                                                                */
/* ------------------------------------------------------------------------ */

typedef struct sweeper {
	wl__target *t;
	const wl__path_table *table;
	const wl_entry *entry;
	wl__sweep_result *out;
	size_t cand_cap;
	wl__walk walk;
	wl__walk_event ev;
} sweeper;

/* A directory tagged STRAY is emptied, then removed; any other tag is its
 * id in the path table. */
#define STRAY (-1L)

static int add_candidate(sweeper *s, size_t file)
{
	wl__sweep_result *r = s->out;
	if (r->candidate_count == s->cand_cap) {
		size_t cap = s->cand_cap ? s->cand_cap * 2 : 64;
		size_t *p = realloc(r->candidates, cap * sizeof *p);
		if (p == NULL)
			return wl__nomem();
		r->candidates = p;
		s->cand_cap = cap;
	}
	r->candidates[r->candidate_count++] = file;
	return 0;
}

/* Enters the directory `it`: a stray only on the target's filesystem; a
 * recorded directory is kept with the mode extract gives it. */
static int enter(sweeper *s, const wl__walk_item *it, long tag)
{
	if (tag == STRAY && it->st.st_dev != s->t->dev)
		return fail_rel(WL_EINVALID, 0, "refusing to remove a directory on another filesystem:", it->rel);
	s->ev = wl__walk_enter(&s->walk, it, tag);
	if (s->ev != WL__WALK_FAIL && tag != STRAY && (it->st.st_mode & 07777) != 0755 &&
	    fchmod(wl__walk_fd(&s->walk), 0755) != 0)
		return fail_rel(WL_EIO, errno, "chmod", it->rel);
	return 0;
}

static int remove_file(sweeper *s, const wl__walk_item *it)
{
	if (it->st.st_dev != s->t->dev)
		return fail_rel(WL_EINVALID, 0, "refusing to remove a file on another filesystem:", it->rel);
	if (unlinkat(wl__walk_fd(&s->walk), it->name, 0) != 0 && errno != ENOENT)
		return fail_rel(WL_EIO, errno, "remove", it->rel);
	return 0;
}

/* One name the walk found. */
static int visit(sweeper *s, const wl__walk_item *it)
{
	if (it->stat_errno != 0)
		return it->stat_errno == ENOENT ? 0 : fail_rel(WL_EIO, it->stat_errno, "stat", it->rel);
	/* The target's own .cog/ (whatever the case it is listed in). */
	if (it->depth == 0 && wl__extract_reserved_name(it->name, strlen(it->name), true) &&
	    it->st.st_dev == s->t->cog_dev && it->st.st_ino == s->t->cog_ino)
		return 0;
	bool owned = s->t->owned;
	bool is_dir = S_ISDIR(it->st.st_mode);
	if (it->tag == STRAY)
		return is_dir ? enter(s, it, STRAY) : remove_file(s, it);
	size_t name_len = strlen(it->name);
	long file = wl__path_table_child_file(s->table, it->tag, it->name, name_len);
	if (file >= 0) {
		/* A kept file is this target's alone: one link, its own inode. */
		if (S_ISREG(it->st.st_mode) && it->st.st_size == s->entry->files[file].size && it->st.st_nlink == 1)
			return add_candidate(s, (size_t)file);
		if (is_dir && owned)
			return enter(s, it, STRAY);
		return 0; /* anything else is replaced by the rename */
	}
	long dir = wl__path_table_child_dir(s->table, it->tag, it->name, name_len);
	if (dir >= 0) {
		if (is_dir)
			return enter(s, it, dir);
		if (!owned)
			return 0; /* in the way: writing below it fails with a message */
	} else if (!owned) {
		s->out->others++;
		return 0;
	}
	return is_dir ? enter(s, it, STRAY) : remove_file(s, it);
}

int wl__target_sweep(wl__target *t, const wl__path_table *table, const wl_entry *entry, wl__sweep_result *out)
{
	memset(out, 0, sizeof *out);
	sweeper s;
	memset(&s, 0, sizeof s);
	s.t = t;
	s.table = table;
	s.entry = entry;
	s.out = out;
	int rc = 0;
	int fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return wl__fail_errno(WL_EIO, errno, "open the target");
	s.ev = wl__walk_start(&s.walk, fd, 0);
	wl__walk_item it;
	while (rc == 0 && s.ev != WL__WALK_FAIL && (s.ev = wl__walk_next(&s.walk, &it)) != WL__WALK_END) {
		if (s.ev == WL__WALK_ITEM)
			rc = visit(&s, &it);
		else if (it.tag == STRAY && unlinkat(wl__walk_fd(&s.walk), it.name, AT_REMOVEDIR) != 0 &&
		         errno != ENOENT)
			rc = fail_rel(WL_EIO, errno, "remove", it.rel);
	}
	if (rc == 0 && s.ev == WL__WALK_FAIL) {
		wl_string rel = s.walk.failure_rel;
		const char *op = wl__walk_failed_op(&s.walk);
		if (s.walk.failure == WL__WALK_NOMEM)
			rc = wl__nomem();
		else if (op == NULL)
			rc = fail_rel(WL_EIO, 0, s.walk.failure == WL__WALK_MOVED ? "directory moved during the sweep:"
			                                                          : "directory changed during the sweep:", rel);
		else
			rc = fail_rel(WL_EIO, s.walk.failure_errno, op, rel.len ? rel : (wl_string){".", 1});
	}
	wl__walk_close(&s.walk);
	if (rc != 0) {
		free(out->candidates);
		out->candidates = NULL;
		out->candidate_count = 0;
	}
	return rc;
}
