/*
 * local.c - local directory sources (SPEC.md §9.1, §9.2): resolving a
 * normalized file:// URI to a directory, and walking that directory into
 * an inventory of regular files (path, size, identity), digests left empty.
 *
 * The walk works relative to directory descriptors (openat, fstatat with
 * AT_SYMLINK_NOFOLLOW, O_NOFOLLOW | O_DIRECTORY), so no symbolic link is
 * ever followed and a path string is never re-resolved from the top; it is
 * iterative (common/walk.c), so any depth works with one open directory.
 */
#include "common/internal.h"
#include "common/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- resolve (§9.1) ---- */

int wl_source_resolve(char **out, const char *project_dir, wl_string uri)
{
	static const char rel_prefix[] = "file://./";
	static const char abs_prefix[] = "file:///";
	*out = NULL;
	wl_buf path;
	wl_buf_init(&path);
	wl_string rest;
	if (uri.len > sizeof rel_prefix - 1 && memcmp(uri.ptr, rel_prefix, sizeof rel_prefix - 1) == 0) {
		rest.ptr = uri.ptr + sizeof rel_prefix - 1;
		rest.len = uri.len - (sizeof rel_prefix - 1);
		wl_buf_puts(&path, project_dir != NULL && project_dir[0] != '\0' ? project_dir : ".");
		if (path.len > 0 && path.data[path.len - 1] != '/')
			wl_buf_putc(&path, '/');
	} else if (uri.len >= sizeof abs_prefix - 1 &&
	           memcmp(uri.ptr, abs_prefix, sizeof abs_prefix - 1) == 0) {
		rest.ptr = uri.ptr + sizeof "file://" - 1;
		rest.len = uri.len - (sizeof "file://" - 1);
	} else {
		char *q = NULL;
		if (wl_quote(&q, NULL, uri) != 0)
			return WL_ENOMEM;
		wl__fail(WL_EINVALID, "weight source URI %s is not a normalized file:// URI", q);
		free(q);
		return WL_EINVALID;
	}
	/* A normalized URI holds a clean path and no NUL; anything else did
	 * not come from NormalizeURI. */
	char *clean = NULL;
	size_t clean_len = 0;
	int rc = wl_path_clean(&clean, &clean_len, rest);
	if (rc != 0) {
		wl_buf_release(&path);
		return rc;
	}
	bool normalized = clean_len == rest.len && memcmp(clean, rest.ptr, rest.len) == 0 &&
	                  memchr(rest.ptr, '\0', rest.len) == NULL &&
	                  !(clean_len >= 2 && clean[0] == '.' && clean[1] == '.') &&
	                  !(clean_len == 1 && clean[0] == '.');
	free(clean);
	if (!normalized) {
		wl_buf_release(&path);
		char *q = NULL;
		if (wl_quote(&q, NULL, uri) != 0)
			return WL_ENOMEM;
		wl__fail(WL_EINVALID, "weight source URI %s is not a normalized file:// URI", q);
		free(q);
		return WL_EINVALID;
	}
	wl_buf_put_str(&path, rest);
	char *dir = NULL;
	size_t dir_len = 0;
	rc = wl_buf_finish(&path, &dir, &dir_len);
	if (rc != 0)
		return rc;
	struct stat st;
	if (stat(dir, &st) != 0) {
		int err = errno;
		free(dir);
		if (err == ENOENT)
			return wl__fail(WL_ENOTFOUND, "weight source not found: %.*s", (int)uri.len, uri.ptr);
		return wl__fail_errno(WL_EIO, err, "stat weight source %.*s", (int)uri.len, uri.ptr);
	}
	if (!S_ISDIR(st.st_mode)) {
		free(dir);
		return wl__fail(WL_EINVALID,
		                "weight source %.*s is not a directory (file:// sources must be directories)",
		                (int)uri.len, uri.ptr);
	}
	*out = dir;
	return 0;
}

/* ---- walk (§9.2) ---- */

typedef struct walker {
	wl_storage *storage;
	wl_source_file *files;
	size_t count, cap;
} walker;

/* Go's fs.FileMode.String() of the type bits alone, as Cog prints them. */
static const char *mode_type(mode_t mode)
{
	if (S_ISLNK(mode))
		return "L---------";
	if (S_ISFIFO(mode))
		return "p---------";
	if (S_ISSOCK(mode))
		return "S---------";
	if (S_ISBLK(mode))
		return "D---------";
	if (S_ISCHR(mode))
		return "Dc---------";
	return "?---------";
}

static int fail_quoted(int code, const char *fmt, wl_string rel, const char *extra)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, rel) != 0)
		return WL_ENOMEM;
	wl__fail(code, fmt, q, extra);
	free(q);
	return code;
}

static int non_regular(wl_string rel, mode_t mode)
{
	return fail_quoted(WL_EINVALID,
	                   "weight source contains non-regular entry %s (%s); resolve to regular files "
	                   "before importing",
	                   rel, mode_type(mode));
}

static int fail_errno_quoted(int err, const char *what, wl_string rel)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, rel) != 0)
		return WL_ENOMEM;
	wl__fail_errno(WL_EIO, err, "%s %s in weight source", what, q);
	free(q);
	return WL_EIO;
}

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int record(walker *w, wl_string rel, const struct stat *st)
{
	const char *why = NULL;
	if (!wl_path_valid(rel, &why))
		return fail_quoted(WL_EINVALID, "weight source contains invalid path %s: %s", rel, why);
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64, bytes;
		if (wl_mul_overflows_size(cap, sizeof *w->files, &bytes))
			return wl__nomem();
		wl_source_file *p = realloc(w->files, bytes);
		if (p == NULL)
			return wl__nomem();
		w->files = p;
		w->cap = cap;
	}
	wl_source_file *f = &w->files[w->count];
	memset(f, 0, sizeof *f);
	if (!wl_storage_string(w->storage, &f->path, rel.ptr, rel.len))
		return wl__nomem();
	f->size = (int64_t)st->st_size;
	f->dev = (uint64_t)st->st_dev;
	f->ino = (uint64_t)st->st_ino;
	f->mtime_ns = ns_of(st->st_mtim);
	f->ctime_ns = ns_of(st->st_ctim);
	w->count++;
	return 0;
}

/* Walks the directory open at `fd` (taken over), iteratively (§15). */
static int walk_tree(walker *w, int fd)
{
	wl__walk walk;
	wl__walk_item it;
	wl__walk_event ev = wl__walk_start(&walk, fd, 0);
	int rc = 0;
	while (rc == 0 && ev != WL__WALK_FAIL && (ev = wl__walk_next(&walk, &it)) != WL__WALK_END) {
		if (ev != WL__WALK_ITEM)
			continue;
		if (it.stat_errno != 0) {
			rc = fail_errno_quoted(it.stat_errno, "stat", it.rel);
		} else if (S_ISREG(it.st.st_mode)) {
			rc = record(w, it.rel, &it.st);
		} else if (S_ISDIR(it.st.st_mode)) {
			if (strcmp(it.name, ".cog") != 0)
				ev = wl__walk_enter(&walk, &it, 0);
		} else {
			rc = non_regular(it.rel, it.st.st_mode);
		}
	}
	if (rc == 0 && ev == WL__WALK_FAIL) {
		wl_string rel = walk.failure_rel;
		const char *op = wl__walk_failed_op(&walk);
		if (walk.failure == WL__WALK_NOMEM)
			rc = wl__nomem();
		else if (op == NULL)
			rc = fail_quoted(WL_EINVALID, "directory %s changed while it was walked%s", rel, "");
		else
			rc = fail_errno_quoted(walk.failure_errno, op, rel.len ? rel : (wl_string){".", 1});
	}
	wl__walk_close(&walk);
	return rc;
}

static int compare_files(const void *a, const void *b)
{
	const wl_source_file *x = a, *y = b;
	return wl_string_compare(x->path, y->path);
}

/* The last component of `dir`, ignoring trailing slashes (Go's
 * filepath.Base, which WalkDir uses for the root's name). */
static bool base_is_cog(const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	size_t start = n;
	while (start > 0 && dir[start - 1] != '/')
		start--;
	return n - start == 4 && memcmp(dir + start, ".cog", 4) == 0;
}

int wl_source_walk(wl_source_tree **out, const char *dir)
{
	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return wl__fail(WL_EINVALID, "weight source directory is empty");
	wl_source_tree *tree = calloc(1, sizeof *tree);
	if (tree == NULL)
		return wl__nomem();
	tree->storage = wl_storage_new();
	size_t dir_len = strlen(dir);
	if (tree->storage == NULL || (tree->root = wl_storage_alloc(tree->storage, dir_len + 1)) == NULL) {
		wl_source_tree_free(tree);
		return wl__nomem();
	}
	memcpy(tree->root, dir, dir_len + 1);

	walker w;
	memset(&w, 0, sizeof w);
	w.storage = tree->storage;
	wl_string dot = {".", 1};
	int rc = 0;
	struct stat st;
	if (lstat(dir, &st) != 0) {
		int err = errno;
		rc = wl__fail_errno(err == ENOENT ? WL_ENOTFOUND : WL_EIO, err, "stat weight source %s", dir);
	} else if (S_ISDIR(st.st_mode)) {
		if (!base_is_cog(dir)) {
			int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				rc = wl__fail_errno(WL_EIO, errno, "open weight source %s", dir);
			} else {
				struct stat now;
				if (fstat(fd, &now) != 0)
					rc = wl__fail_errno(WL_EIO, errno, "stat weight source %s", dir);
				else if (now.st_dev != st.st_dev || now.st_ino != st.st_ino)
					rc = wl__fail(WL_EINVALID, "weight source %s changed while it was walked", dir);
				if (rc == 0)
					rc = walk_tree(&w, fd);
				else
					close(fd);
			}
		}
	} else if (S_ISREG(st.st_mode)) {
		rc = wl__fail(WL_EINVALID, "weight source %s is not a directory", dir);
	} else {
		rc = non_regular(dot, st.st_mode);
	}
	if (rc == 0 && w.files != NULL && !wl_storage_adopt(tree->storage, w.files))
		rc = wl__nomem();
	if (rc != 0) {
		free(w.files);
		wl_source_tree_free(tree);
		return rc;
	}
	/* Depth-first order by component is not byte-wise order of whole
	 * paths ("a/b" < "a.txt" component-wise, "a.txt" < "a/b" byte-wise). */
	if (w.count > 1)
		qsort(w.files, w.count, sizeof *w.files, compare_files);
	tree->files = w.files;
	tree->file_count = w.count;
	*out = tree;
	return 0;
}

void wl_source_tree_free(wl_source_tree *tree)
{
	if (tree == NULL)
		return;
	wl_storage_free(tree->storage);
	free(tree);
}
