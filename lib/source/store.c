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
 * equal. Nothing here trusts a stored file's bytes: whoever reads one as
 * part of its work (packing) hashes it and reports a corrupt file by path.
 */
#include "source/store.h"

#include "common/internal.h"

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

char *wl_store_path(const wl_store *store, const char *digest)
{
	if (store == NULL || digest == NULL || !wl_digest_valid(wl_str(digest)))
		return NULL;
	char *p = NULL;
	if (asprintf(&p, "%s/%.2s/%s", store->file_dir, digest + 7, digest + 7) < 0)
		return NULL;
	return p;
}

int wl_store_has(const wl_store *store, const char *digest, int64_t size)
{
	char *path = wl_store_path(store, digest);
	if (path == NULL)
		return wl_digest_valid(wl_str(digest ? digest : "")) ? wl__nomem()
		                                                     : wl__fail(WL_EINVALID, "invalid digest");
	struct stat st;
	int rc = 0;
	if (lstat(path, &st) == 0)
		rc = S_ISREG(st.st_mode) && (size < 0 || (int64_t)st.st_size == size);
	else if (errno != ENOENT && errno != ENOTDIR)
		rc = wl__fail_errno(WL_EIO, errno, "content store %s: stat %s", store->dir, path);
	free(path);
	return rc;
}

static void put_free(wl_store_put *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->tmp_path != NULL)
		unlink(p->tmp_path);
	free(p->tmp_path);
	EVP_MD_CTX_free(p->md);
	if (p->writer_ready)
		wl__file_writer_free(&p->writer);
	free(p);
}

static int fsync_dir(const wl_store *store, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = fd < 0 ? errno : fsync(fd) != 0 && errno != EINVAL ? errno : 0;
	if (fd >= 0)
		close(fd);
	return err ? wl__fail_errno(WL_EIO, err, "content store %s: fsync %s", store->dir, dir) : 0;
}


/* Opens the temporary file a caller named (below files/sha256), which it
 * owns: created or emptied, but never through a link. -1 when that cannot
 * be done, and a random name is used instead. */
static int open_named_temp(wl_store_put *p, const char *temp)
{
	if (asprintf(&p->tmp_path, "%s/%s", p->store->file_dir, temp) < 0) {
		p->tmp_path = NULL;
		return -1;
	}
	int fd = open(p->tmp_path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || ftruncate(fd, 0) != 0)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		free(p->tmp_path);
		p->tmp_path = NULL;
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
	/* Where the temporary file goes: the prefix directory when known. */
	char *dir = NULL;
	int rc = 0;
	if (digest != NULL ? asprintf(&dir, "%s/%.2s", store->file_dir, digest + 7) < 0
	                   : (dir = strdup(store->file_dir)) == NULL)
		rc = wl__nomem();
	if (rc == 0)
		rc = wl__make_dirs(dir, 0755, "content store %s", store->dir);
	if (rc == 0 && hash && ((p->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1))
		rc = wl__nomem();
	if (rc == 0 && temp != NULL)
		p->fd = open_named_temp(p, temp);
	for (int tries = 0; rc == 0 && p->fd < 0 && tries < 16; tries++) {
		char name[32];
		wl__temp_name(name, PUT_PREFIX);
		free(p->tmp_path);
		if (asprintf(&p->tmp_path, "%s/%s", dir, name) < 0) {
			p->tmp_path = NULL;
			rc = wl__nomem();
			break;
		}
		p->fd = open(p->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (p->fd < 0 && errno != EEXIST)
			rc = wl__fail_errno(WL_EIO, errno, "content store %s: create %s", store->dir, p->tmp_path);
	}
	if (rc == 0 && p->fd < 0)
		rc = wl__fail_errno(WL_EIO, EEXIST, "content store %s: create a temporary file", store->dir);
	if (rc == 0) {
		int err = wl__file_writer_init(&p->writer, p->fd, size);
		if (err != 0)
			rc = wl__nomem();
		p->writer_ready = err == 0;
	}
	if (rc != 0 && p->fd < 0) {
		free(p->tmp_path);
		p->tmp_path = NULL;
	}
	free(dir);
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
	char *path = wl_store_path(store, got);
	char *dir = NULL;
	int rc = path == NULL || asprintf(&dir, "%s/%.2s", store->file_dir, got + 7) < 0 ? wl__nomem() : 0;
	if (rc == 0 && p->digest[0] == '\0')
		rc = wl__make_dirs(dir, 0755, "content store %s", store->dir);
	if (rc == 0 && rename(p->tmp_path, path) != 0)
		rc = wl__fail_errno(WL_EIO, errno, "content store %s: rename to %s", store->dir, path);
	if (rc == 0) {
		free(p->tmp_path);
		p->tmp_path = NULL;
		if (sync)
			rc = fsync_dir(store, dir);
	}
	free(path);
	free(dir);
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
	int fd = open(store->file_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = fd < 0 ? errno : syncfs(fd) != 0 ? errno : 0;
	if (fd >= 0)
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

int wl__store_partial_open(wl_store *store, const char *layer_digest, int *fd_out, char **path_out)
{
	*fd_out = -1;
	*path_out = NULL;
	if (!wl_digest_valid(wl_str(layer_digest)))
		return wl__fail(WL_EINVALID, "content store %s: invalid digest \"%s\"", store->dir, layer_digest);
	char *dir = NULL, *path = NULL;
	if (asprintf(&dir, "%s/%.2s", store->file_dir, layer_digest + 7) < 0)
		return wl__nomem();
	int rc = wl__make_dirs(dir, 0755, "content store %s", store->dir);
	if (rc == 0 && asprintf(&path, "%s/" PUT_PREFIX "layer-%s", dir, layer_digest + 7) < 0) {
		path = NULL;
		rc = wl__nomem();
	}
	free(dir);
	if (rc != 0)
		return rc;
	int fd = -1;
	/* The file locked must still be the one under the name: a pull that
	 * finished removes it after others opened it. */
	for (int tries = 0; rc == 0 && fd < 0 && tries < 4; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		struct stat st, named;
		if (fd < 0 || fstat(fd, &st) != 0) {
			rc = wl__fail_errno(WL_EIO, errno, "content store %s: open %s", store->dir, path);
		} else if (!S_ISREG(st.st_mode)) {
			rc = wl__fail(WL_EINVALID, "content store %s: %s is %s", store->dir, path,
			              wl__file_kind(st.st_mode));
		} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			rc = errno == EWOULDBLOCK ? 1
			                          : wl__fail_errno(WL_EIO, errno, "content store %s: lock %s", store->dir, path);
		} else if (lstat(path, &named) != 0 || named.st_ino != st.st_ino || named.st_dev != st.st_dev) {
			close(fd);
			fd = -1;
			continue;
		}
		if (rc != 0 && fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (rc == 0 && fd < 0)
		rc = 1; /* taken over and over: go without */
	if (rc != 0) {
		free(path);
		return rc;
	}
	*fd_out = fd;
	*path_out = path;
	return 0;
}

void wl__store_layer_temp(char out[WL__STORE_TEMP_MAX], const char *layer_digest, size_t k)
{
	snprintf(out, WL__STORE_TEMP_MAX, "%.2s/" PUT_PREFIX "layer-%.64s-%zu", layer_digest + 7, layer_digest + 7, k);
}

void wl__store_remove_temp(wl_store *store, const char *temp)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", store->file_dir, temp) >= 0)
		unlink(path);
	free(path);
}
