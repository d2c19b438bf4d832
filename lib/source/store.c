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
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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


int wl_store_put_begin(wl_store_put **out, wl_store *store, const char *digest, int64_t size)
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
	if (rc == 0 && ((p->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1))
		rc = wl__nomem();
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
	int err = wl__write_all(p->fd, data, len);
	if (err != 0) {
		p->err = err;
		return wl__fail_errno(WL_EIO, err, "content store %s: write %s", p->store->dir, p->tmp_path);
	}
	EVP_DigestUpdate(p->md, data, len);
	p->written += (int64_t)len;
	return 0;
}

int wl_store_put_restart(wl_store_put *p)
{
	if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: truncate %s", p->store->dir, p->tmp_path);
	if (EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1)
		return wl__nomem();
	p->written = 0;
	p->too_long = false;
	p->err = 0;
	return 0;
}

static int put_finish(wl_store_put *p, char digest_out[WL_DIGEST_LEN + 1])
{
	const wl_store *store = p->store;
	if (p->err != 0)
		return wl__fail_errno(WL_EIO, p->err, "content store %s: write %s", store->dir, p->tmp_path);
	if (p->too_long || (p->size >= 0 && p->written != p->size))
		return wl__fail(WL_EMISMATCH, "content store %s: %lld bytes received, %lld expected", store->dir,
		                (long long)p->written, (long long)p->size);
	char got[WL_DIGEST_LEN + 1];
	if (!wl__digest_final(p->md, got))
		return wl__nomem();
	if (p->digest[0] != '\0' && strcmp(got, p->digest) != 0)
		return wl__fail(WL_EMISMATCH, "content store %s: the bytes hash to %s, not %s", store->dir, got,
		                p->digest);
	if (fchmod(p->fd, 0644) != 0 || fsync(p->fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: sync %s", store->dir, p->tmp_path);
	int fd = p->fd;
	p->fd = -1;
	if (close(fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "content store %s: close %s", store->dir, p->tmp_path);
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
		rc = fsync_dir(store, dir);
	}
	free(path);
	free(dir);
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
