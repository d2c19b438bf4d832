/*
 * store.c - the content store Cog shares (SPEC.md §17): weight files kept
 * under `files/sha256/<2 hex>/<64 hex>`, named by their content digest.
 *
 * A file enters the store only whole and verified: it is written to a
 * temporary `put-<16 hex>` name in its prefix directory (or in
 * `files/sha256/` while its digest is not yet known), its size and sha256
 * are checked, it is fsynced, made 0644 and renamed into place, and the
 * directory is fsynced. A file in the store is never modified, so two
 * writers of one digest are harmless: the rename is atomic and the bytes
 * equal. Whoever reads a stored file as part of its work (packing) hashes
 * it and reports a corrupt file by path.
 *
 * Safety (§17): anyone who may write into the store could plant a link
 * there (files/sha256/ab -> /etc makes a pull write chosen bytes into any
 * directory) or a file under a name a put will use. So the store is walked
 * from its root descriptor, each of files, sha256 and the prefix directory
 * opened with O_NOFOLLOW (a link is refused, naming it), and every file
 * operation below them is an *at() call on the prefix directory's
 * descriptor; temporaries are created with O_EXCL. wl_store_has trusts a
 * file by name and size only when the root, files, sha256, the prefix
 * directory and the file pass §15's ownership rule (wl__distrust);
 * otherwise it re-hashes the file, and a mismatch counts as missing, so the
 * caller fetches it again and the rename of the fresh bytes replaces it.
 */
#include "source/store.h"

#include "common/internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUT_PREFIX "put-"

struct wl_store {
	char *dir;      /* as given, for messages */
	char *file_dir; /* DIR/files/sha256 */
};

struct wl_store_put {
	wl_store *store;
	/* The temporary: its directory (files/sha256/<tmp_prefix>, or
	 * files/sha256 when tmp_prefix is ""), open until the file is closed
	 * (a batch holds many closed files: walked again to place them), and
	 * its name there, "" once placed. */
	int tmp_dfd;
	char tmp_prefix[3];
	char tmp_name[WL__STORE_TEMP_MAX];
	char digest[WL_DIGEST_LEN + 1]; /* expected, or "" */
	int64_t size;                   /* expected, or -1 */
	int64_t written;
	char *tmp_path;
	int fd;
	EVP_MD_CTX *md;
	int err;          /* errno of the first write failure */
	bool too_long;
	bool hash;        /* false: the caller hashes and checks (store.h) */
	bool writer_ready;
	wl__file_writer writer;
};

int wl_store_open(wl_store **out, const char *dir)
{
	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return wl__fail(WL_EINVALID, "content store directory is empty");
	wl_store *s = calloc(1, sizeof *s);
	if (s == NULL || (s->dir = strdup(dir)) == NULL || asprintf(&s->file_dir, "%s/files/sha256", dir) < 0) {
		if (s != NULL)
			free(s->dir);
		free(s);
		return wl__nomem();
	}
	*out = s;
	return 0;
}

void wl_store_free(wl_store *store)
{
	if (store == NULL)
		return;
	free(store->dir);
	free(store->file_dir);
	free(store);
}

/* Opens one directory below `dfd` without following a link, making it
 * first when `create`; `rel` names it in messages. 1: missing (not
 * `create`). */
static int walk_step(const wl_store *store, int dfd, const char *name, const char *rel, bool create, int *out)
{
	for (int tries = 0;; tries++) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*out = fd;
			return 0;
		}
		int err = errno;
		if (err == ENOENT && !create)
			return 1;
		if (err == ENOENT && tries == 0) {
			if (mkdirat(dfd, name, 0755) != 0 && errno != EEXIST)
				return wl__fail_errno(WL_EIO, errno, "content store %s: create directory %s", store->dir, rel);
			continue;
		}
		if (err == ELOOP || err == ENOTDIR) {
			struct stat st;
			const char *kind =
			    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? wl__file_kind(st.st_mode) : "not a directory";
			return wl__fail(WL_EINVALID, "content store %s: %s is %s: refused", store->dir, rel, kind);
		}
		return wl__fail_errno(WL_EIO, err, "content store %s: open %s", store->dir, rel);
	}
}

/* The directory files/sha256 (`prefix` NULL) or files/sha256/<2 chars of
 * prefix>, open, walked from the store's root; `*trusted` (may be NULL):
 * whether every directory on the way passes wl__distrust. 1: missing
 * (not `create`). */
static int store_walk(const wl_store *store, const char *prefix, bool create, int *fd_out, bool *trusted)
{
	*fd_out = -1;
	bool trust = true;
	/* The root itself is the user's choice (it may be reached through a
	 * link, e.g. a moved ~/.cache); what lies below it is not. */
	if (create) {
		int rc = wl__make_dirs(store->dir, 0755, "content store %s", store->dir);
		if (rc != 0)
			return rc;
	}
	int fd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return !create && (errno == ENOENT || errno == ENOTDIR)
		           ? 1
		           : wl__fail_errno(WL_EIO, errno, "content store %s: open", store->dir);
	char last[3] = {0};
	if (prefix != NULL)
		memcpy(last, prefix, 2);
	const char *names[3] = {"files", "sha256", last};
	const char *rels[3] = {"files", "files/sha256", NULL};
	char rel[sizeof "files/sha256/xx"];
	snprintf(rel, sizeof rel, "files/sha256/%s", last);
	rels[2] = rel;
	int rc = 0;
	for (int i = 0; i < (prefix != NULL ? 3 : 2); i++) {
		struct stat st;
		if (fstat(fd, &st) != 0 || wl__distrust(&st) != NULL)
			trust = false;
		int next = -1;
		rc = walk_step(store, fd, names[i], rels[i], create, &next);
		close(fd);
		fd = next;
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		struct stat st;
		if (fstat(fd, &st) != 0 || wl__distrust(&st) != NULL)
			trust = false;
		*fd_out = fd;
		if (trusted != NULL)
			*trusted = trust;
	}
	return rc;
}

/* A temporary's name as callers give it, "<2 hex>/<name>": the name, or
 * NULL when it is not of that form. */
static const char *temp_base(const char *temp)
{
	/* Hex, so that the prefix cannot be ".." either. */
	return strlen(temp) > 3 && isxdigit((unsigned char)temp[0]) && isxdigit((unsigned char)temp[1]) &&
	               temp[2] == '/' && strchr(temp + 3, '/') == NULL && strcmp(temp + 3, "..") != 0
	           ? temp + 3
	           : NULL;
}

char *wl_store_path(const wl_store *store, const char *digest)
{
	if (store == NULL || digest == NULL || !wl_digest_valid(wl_str(digest)))
		return NULL;
	char *p = NULL;
	if (asprintf(&p, "%s/%.2s/%s", store->file_dir, digest + 7, digest + 7) < 0)
		return NULL;
	return p;
}

/* Whether the regular file `name` in `dfd`, of st->st_size bytes, hashes
 * to `digest`: 1 or 0, or an error naming it. */
static int rehash(const wl_store *store, int dfd, const char *name, const char *digest, const char *path)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0
		                                         : wl__fail_errno(WL_EIO, errno, "content store %s: open %s",
		                                                          store->dir, path);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	wl__hash_io io = {.md = EVP_sha256()};
	char got[WL_DIGEST_LEN + 1];
	uint64_t seen = 0;
	rc = wl__hash_fd(got, &seen, fd, (int64_t)st.st_size, &io);
	close(fd);
	if (rc == WL_EIO)
		return wl__fail_errno(WL_EIO, io.sys_errno, "content store %s: %s %s", store->dir,
		                      io.failed_step ? io.failed_step : "read", path);
	if (rc != 0)
		return rc;
	return seen == (uint64_t)st.st_size && strcmp(got, digest) == 0;
}

int wl_store_has(const wl_store *store, const char *digest, int64_t size)
{
	char *path = wl_store_path(store, digest);
	if (path == NULL)
		return wl_digest_valid(wl_str(digest ? digest : "")) ? wl__nomem()
		                                                     : wl__fail(WL_EINVALID, "invalid digest");
	int dfd = -1;
	bool trusted = false;
	int rc = store_walk(store, digest + 7, false, &dfd, &trusted);
	if (rc == 1)
		rc = 0;
	else if (rc == 0) {
		struct stat st;
		if (fstatat(dfd, digest + 7, &st, AT_SYMLINK_NOFOLLOW) != 0)
			rc = errno == ENOENT ? 0 : wl__fail_errno(WL_EIO, errno, "content store %s: stat %s", store->dir, path);
		else if (!S_ISREG(st.st_mode) || (size >= 0 && (int64_t)st.st_size != size))
			rc = 0;
		else if (trusted && wl__distrust(&st) == NULL)
			rc = 1; /* by name and size: no one else could have put it there */
		else
			rc = rehash(store, dfd, digest + 7, digest, path);
		close(dfd);
	}
	free(path);
	return rc;
}

/* Opens the temporary's directory again when it was closed. */
static int temp_dir(wl_store_put *p)
{
	if (p->tmp_dfd >= 0)
		return 0;
	int rc = store_walk(p->store, p->tmp_prefix[0] ? p->tmp_prefix : NULL, false, &p->tmp_dfd, NULL);
	return rc == 1 ? wl__fail(WL_EIO, "content store %s: %s is gone", p->store->dir, p->tmp_path) : rc;
}

static void put_free(wl_store_put *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->tmp_name[0] != '\0') {
		/* Cleanup: the error being reported is kept. */
		wl__saved_error saved;
		wl__error_save(&saved);
		if (temp_dir(p) == 0)
			unlinkat(p->tmp_dfd, p->tmp_name, 0);
		wl__error_restore(&saved);
	}
	if (p->tmp_dfd >= 0)
		close(p->tmp_dfd);
	free(p->tmp_path);
	EVP_MD_CTX_free(p->md);
	if (p->writer_ready)
		wl__file_writer_free(&p->writer);
	free(p);
}

static int fsync_dir(const wl_store *store, int dfd, const char *digest)
{
	return fsync(dfd) != 0 && errno != EINVAL
	           ? wl__fail_errno(WL_EIO, errno, "content store %s: fsync files/sha256/%.2s", store->dir, digest + 7)
	           : 0;
}

/* Sets the temporary's name (in tmp_dfd) and its path for messages. */
static int set_temp(wl_store_put *p, const char *prefix, const char *name)
{
	snprintf(p->tmp_name, sizeof p->tmp_name, "%s", name);
	free(p->tmp_path);
	if ((prefix != NULL ? asprintf(&p->tmp_path, "%s/%.2s/%s", p->store->file_dir, prefix, name)
	                    : asprintf(&p->tmp_path, "%s/%s", p->store->file_dir, name)) < 0) {
		p->tmp_path = NULL;
		p->tmp_name[0] = '\0';
		return wl__nomem();
	}
	return 0;
}

/* Creates the temporary file a caller named (its base `name`, in
 * tmp_dfd), which it owns while it holds the layer's partial. Whatever
 * is under the name is removed first and a fresh file made with O_EXCL:
 * a file a killed pull left there holds nothing we need (it is emptied
 * anyway), and anything else (a link, a hard link to someone's file, a
 * file another user planted) must never be written through; unlinking a
 * link removes the link, not its target. -1 when that cannot be done, and
 * a random name is used instead. */
static int open_named_temp(wl_store_put *p, const char *prefix, const char *name)
{
	if (unlinkat(p->tmp_dfd, name, 0) != 0 && errno != ENOENT)
		return -1;
	int fd = openat(p->tmp_dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0 && set_temp(p, prefix, name) != 0) {
		wl_error_clear();
		unlinkat(p->tmp_dfd, name, 0);
		close(fd);
		fd = -1;
	}
	return fd;
}

static int put_begin(wl_store_put **out, wl_store *store, const char *digest, int64_t size, bool hash,
                     const char *temp)
{
	*out = NULL;
	if (digest != NULL && !wl_digest_valid(wl_str(digest)))
		return wl__fail(WL_EINVALID, "content store %s: invalid digest \"%s\"", store->dir, digest);
	wl_store_put *p = calloc(1, sizeof *p);
	if (p == NULL)
		return wl__nomem();
	p->fd = -1;
	p->store = store;
	p->size = size;
	p->hash = hash;
	if (digest != NULL)
		snprintf(p->digest, sizeof p->digest, "%s", digest);
	p->tmp_dfd = -1;
	/* Where the temporary file goes: the named one's prefix directory,
	 * else the digest's, else files/sha256. */
	const char *name = temp != NULL ? temp_base(temp) : NULL;
	const char *prefix = name != NULL ? temp : digest != NULL ? digest + 7 : NULL;
	if (prefix != NULL)
		memcpy(p->tmp_prefix, prefix, 2);
	int rc = store_walk(store, prefix, true, &p->tmp_dfd, NULL);
	if (rc == 0 && hash && ((p->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1))
		rc = wl__nomem();
	if (rc == 0 && name != NULL)
		p->fd = open_named_temp(p, prefix, name);
	for (int tries = 0; rc == 0 && p->fd < 0 && tries < 16; tries++) {
		char base[32];
		wl__temp_name(base, PUT_PREFIX);
		p->fd = openat(p->tmp_dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (p->fd >= 0 && (rc = set_temp(p, prefix, base)) != 0) {
			unlinkat(p->tmp_dfd, base, 0);
			close(p->fd);
			p->fd = -1;
		} else if (p->fd < 0 && errno != EEXIST)
			rc = wl__fail_errno(WL_EIO, errno, "content store %s: create a temporary file in files/sha256%s%.2s",
			                    store->dir, prefix != NULL ? "/" : "", prefix != NULL ? prefix : "");
	}
	if (rc == 0 && p->fd < 0)
		rc = wl__fail_errno(WL_EIO, EEXIST, "content store %s: create a temporary file", store->dir);
	if (rc == 0) {
		int err = wl__file_writer_init(&p->writer, p->fd, size);
		if (err != 0)
			rc = wl__nomem();
		p->writer_ready = err == 0;
	}
	if (rc != 0) {
		put_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int wl_store_put_begin(wl_store_put **out, wl_store *store, const char *digest, int64_t size)
{
	return put_begin(out, store, digest, size, true, NULL);
}

int wl__store_put_begin_hashed(wl_store_put **out, wl_store *store, const char *digest, int64_t size,
                               const char *temp)
{
	if (digest == NULL) {
		*out = NULL;
		return wl__fail(WL_EINVALID, "content store: a digest is required");
	}
	return put_begin(out, store, digest, size, false, temp);
}

int wl_store_put_write(void *ctx, const void *data, size_t len)
{
	wl_store_put *p = ctx;
	if (p->err != 0)
		return wl__fail_errno(WL_EIO, p->err, "content store %s: write %s", p->store->dir, p->tmp_path);
	if (p->size >= 0 && (int64_t)len > p->size - p->written) {
		p->too_long = true;
		return wl__fail(WL_EMISMATCH, "content store %s: more than the %lld bytes expected for %s",
		                p->store->dir, (long long)p->size, p->digest[0] ? p->digest : "the file");
	}
	if (p->hash)
		EVP_DigestUpdate(p->md, data, len);
	p->written += (int64_t)len;
	int err = wl__file_writer_write(&p->writer, data, len);
	if (err != 0) {
		p->err = err;
		return wl__fail_errno(WL_EIO, err, "content store %s: write %s", p->store->dir, p->tmp_path);
	}
	return 0;
}

int wl_store_put_restart(wl_store_put *p)
{
	if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: truncate %s", p->store->dir, p->tmp_path);
	if (p->hash && EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1)
		return wl__nomem();
	p->written = 0;
	wl__file_writer_reset(&p->writer);
	p->too_long = false;
	p->err = 0;
	return 0;
}

/* Writes out what is buffered and checks the size and digest; `got`
 * receives the digest. The file is then made 0644. */
static int put_check(wl_store_put *p, char got[WL_DIGEST_LEN + 1])
{
	const wl_store *store = p->store;
	if (p->err == 0)
		p->err = wl__file_writer_finish(&p->writer);
	if (p->err != 0)
		return wl__fail_errno(WL_EIO, p->err, "content store %s: write %s", store->dir, p->tmp_path);
	if (p->too_long || (p->size >= 0 && p->written != p->size))
		return wl__fail(WL_EMISMATCH, "content store %s: %lld bytes received, %lld expected", store->dir,
		                (long long)p->written, (long long)p->size);
	if (!p->hash)
		memcpy(got, p->digest, WL_DIGEST_LEN + 1);
	else if (!wl__digest_final(p->md, got))
		return wl__nomem();
	if (p->digest[0] != '\0' && strcmp(got, p->digest) != 0)
		return wl__fail(WL_EMISMATCH, "content store %s: the bytes hash to %s, not %s", store->dir, got,
		                p->digest);
	if (fchmod(p->fd, 0644) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: chmod %s", store->dir, p->tmp_path);
	return 0;
}

static int put_close(wl_store_put *p, bool sync)
{
	if (sync && fsync(p->fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: sync %s", p->store->dir, p->tmp_path);
	int fd = p->fd;
	p->fd = -1;
	if (close(fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: close %s", p->store->dir, p->tmp_path);
	return 0;
}

/* Renames the checked, closed file to its name; `sync`: fsyncs the
 * directory too. */
static int put_place(wl_store_put *p, const char *got, bool sync)
{
	const wl_store *store = p->store;
	int dfd = -1;
	int rc = temp_dir(p);
	if (rc == 0)
		rc = store_walk(store, got + 7, true, &dfd, NULL);
	/* Over a file already there: the same bytes (or, in a store someone
	 * else may write to, bad ones wl_store_has found). */
	if (rc == 0 && renameat(p->tmp_dfd, p->tmp_name, dfd, got + 7) != 0)
		rc = wl__fail_errno(WL_EIO, errno, "content store %s: rename %s to files/sha256/%.2s/%s", store->dir,
		                    p->tmp_path, got + 7, got + 7);
	if (rc == 0) {
		p->tmp_name[0] = '\0';
		if (sync)
			rc = fsync_dir(store, dfd, got);
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}

static int put_finish(wl_store_put *p, char digest_out[WL_DIGEST_LEN + 1])
{
	char got[WL_DIGEST_LEN + 1];
	int rc = put_check(p, got);
	if (rc == 0)
		rc = put_close(p, true);
	if (rc == 0)
		rc = put_place(p, got, true);
	if (rc == 0 && digest_out != NULL)
		memcpy(digest_out, got, sizeof got);
	return rc;
}

int wl_store_put_commit(wl_store_put *put, char digest_out[WL_DIGEST_LEN + 1])
{
	int rc = put_finish(put, digest_out);
	put_free(put);
	return rc;
}

void wl_store_put_abort(wl_store_put *put)
{
	if (put != NULL)
		put_free(put);
}

/* ------------------------------------------------------------------------ */
/* Batches of small files                                                    */
/* ------------------------------------------------------------------------ */

/* A batch is made durable with two syncfs calls (the files' bytes, then
 * their names) instead of two fsyncs per file. A file of BATCH_FILE_MAX
 * bytes or more is committed alone. */
#define BATCH_FILES 256
#define BATCH_BYTES ((int64_t)32 << 20)
#define BATCH_FILE_MAX ((int64_t)8 << 20)

struct wl__store_batch {
	wl_store *store;
	wl_store_put *puts[BATCH_FILES];
	size_t count;
	int64_t bytes;
};

int wl__store_batch_new(wl__store_batch **out, wl_store *store)
{
	*out = calloc(1, sizeof **out);
	if (*out == NULL)
		return wl__nomem();
	(*out)->store = store;
	return 0;
}

static int sync_store(const wl_store *store)
{
	int fd = -1;
	int rc = store_walk(store, NULL, false, &fd, NULL);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	int err = syncfs(fd) != 0 ? errno : 0;
	close(fd);
	return err ? wl__fail_errno(WL_EIO, err, "content store %s: sync", store->dir) : 0;
}

int wl__store_batch_flush(wl__store_batch *b)
{
	if (b->count == 0)
		return 0;
	int rc = sync_store(b->store);
	for (size_t i = 0; i < b->count; i++) {
		wl_store_put *p = b->puts[i];
		if (rc == 0)
			rc = put_place(p, p->digest, false);
		put_free(p); /* removes the temporary file of one not placed */
	}
	b->count = 0;
	b->bytes = 0;
	return rc == 0 ? sync_store(b->store) : rc;
}

int wl__store_batch_add(wl__store_batch *b, wl_store_put *put)
{
	if (put->written >= BATCH_FILE_MAX || put->digest[0] == '\0')
		return wl_store_put_commit(put, NULL);
	char got[WL_DIGEST_LEN + 1];
	int rc = put_check(put, got);
	if (rc == 0)
		rc = put_close(put, false);
	if (rc != 0) {
		put_free(put);
		return rc;
	}
	/* Held closed until the flush, which walks to its directory again:
	 * 256 puts must not hold 256 descriptors. */
	close(put->tmp_dfd);
	put->tmp_dfd = -1;
	b->puts[b->count++] = put;
	b->bytes += put->written;
	return b->count == BATCH_FILES || b->bytes >= BATCH_BYTES ? wl__store_batch_flush(b) : 0;
}

void wl__store_batch_free(wl__store_batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->count; i++)
		put_free(b->puts[i]);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* The bytes of a layer being pulled                                         */
/* ------------------------------------------------------------------------ */

/* Whether `fd` (open under a put-layer name) may be taken as a partial
 * this pull may replay and write to: a regular file of ours, one name, no
 * one else may write to it. */
static bool partial_ours(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && wl__distrust(&st) == NULL;
}

int wl__store_partial_open(wl_store *store, const char *layer_digest, int *fd_out, char **path_out)
{
	*fd_out = -1;
	*path_out = NULL;
	if (!wl_digest_valid(wl_str(layer_digest)))
		return wl__fail(WL_EINVALID, "content store %s: invalid digest \"%s\"", store->dir, layer_digest);
	char name[WL__STORE_TEMP_MAX], *path = NULL;
	snprintf(name, sizeof name, PUT_PREFIX "layer-%.64s", layer_digest + 7);
	if (asprintf(&path, "%s/%.2s/%s", store->file_dir, layer_digest + 7, name) < 0)
		return wl__nomem();
	int dfd = -1;
	int rc = store_walk(store, layer_digest + 7, true, &dfd, NULL);
	int fd = -1;
	/* Anything under the name that is not a partial of ours (a link, a
	 * hard link to someone's file, another user's file) is removed and a
	 * fresh one made with O_EXCL: its bytes are never replayed nor written
	 * through. The file locked must still be the one under the name: a
	 * pull that finished removes it after others opened it. */
	for (int tries = 0; rc == 0 && fd < 0 && tries < 8; tries++) {
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0 && errno == EEXIST)
				continue;
		}
		struct stat st, named;
		if (fd < 0 && errno != ELOOP) {
			rc = wl__fail_errno(WL_EIO, errno, "content store %s: open %s", store->dir, path);
		} else if (fd < 0 || !partial_ours(fd)) {
			if (fd >= 0)
				close(fd);
			fd = -1;
			if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
				rc = wl__fail_errno(WL_EIO, errno, "content store %s: remove %s (not a partial download of ours)",
				                    store->dir, path);
		} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			rc = errno == EWOULDBLOCK ? 1
			                          : wl__fail_errno(WL_EIO, errno, "content store %s: lock %s", store->dir, path);
		} else if (fstat(fd, &st) != 0 || fstatat(dfd, name, &named, AT_SYMLINK_NOFOLLOW) != 0 ||
		           named.st_ino != st.st_ino || named.st_dev != st.st_dev) {
			close(fd);
			fd = -1;
			continue;
		}
		if (rc != 0 && fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (dfd >= 0)
		close(dfd);
	if (rc == 0 && fd < 0)
		rc = 1; /* taken over and over: go without */
	if (rc != 0) {
		free(path);
		return rc;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*fd_out = fd;
	*path_out = path;
	return 0;
}

void wl__store_partial_remove(wl_store *store, const char *layer_digest)
{
	char name[WL__STORE_TEMP_MAX];
	snprintf(name, sizeof name, "%.2s/" PUT_PREFIX "layer-%.64s", layer_digest + 7, layer_digest + 7);
	wl__store_remove_temp(store, name);
}

void wl__store_layer_temp(char out[WL__STORE_TEMP_MAX], const char *layer_digest, size_t k)
{
	snprintf(out, WL__STORE_TEMP_MAX, "%.2s/" PUT_PREFIX "layer-%.64s-%zu", layer_digest + 7, layer_digest + 7, k);
}

void wl__store_remove_temp(wl_store *store, const char *temp)
{
	const char *name = temp_base(temp);
	int dfd = -1;
	/* Cleanup: the error being reported is kept; a link or nothing there
	 * is nothing of ours to remove. */
	wl__saved_error saved;
	wl__error_save(&saved);
	int rc = name == NULL ? 1 : store_walk(store, temp, false, &dfd, NULL);
	wl__error_restore(&saved);
	if (rc != 0)
		return;
	unlinkat(dfd, name, 0);
	close(dfd);
}
