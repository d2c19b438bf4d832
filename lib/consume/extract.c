/*
 * extract.c - materializing an entry from an OCI image layout into a
 * target directory (SPEC.md §12.2, §12.3) with the state markers of §7.2:
 * wl_extract.
 *
 * Owns the order of extraction's steps (the target's rules are target.c's):
 *
 *  1. Before the target is touched: the entry must pass the rules of
 *     `check`, and the manifest and config blob must hash to their digests
 *     and equal the entry's projections byte for byte, so the layer list
 *     the manifest gives is the lockfile's.
 *  2. The target is inspected (target.c): a non-empty one the project does
 *     not own is refused unless forced; the extract lock is taken.
 *  3. `.cog/ready` is removed first, then `downloading` is written, so a
 *     target whose content is about to change never looks ready.
 *  4. The target is swept once (target.c): in an owned target whatever the
 *     entry does not record is removed; recorded files already present
 *     with the right size are hashed on the worker pool, and those that
 *     match are kept (an interrupted extract resumes).
 *  5. One job per layer on the pool, largest first: the blob is read once
 *     in bounded buffers, hashed, decoded (gzip, zstd) up to the size its
 *     tar stream must have, and handed to the tar reader (tar_read.c),
 *     which checks every rule and passes each accepted file's bytes here.
 *     A file is written to a temporary name in its directory, reached
 *     through directory descriptors opened with O_NOFOLLOW from the
 *     target's own descriptor (so no symbolic link, and no directory
 *     swapped for one, leads outside), then renamed into place once its
 *     size and digest are verified.
 *  6. One syncfs of the target's filesystem makes every file and directory
 *     durable (one journal commit instead of one per file), then `ready`
 *     is written. Any failure after step 3 writes `failed` instead.
 *
 * Memory: two 512 KiB buffers, a decoder (a zstd window at most 128 MiB)
 * and a reader per running layer job, plus tables the size of the entry's
 * file list.
 */
#include "consume/extract_internal.h"
#include "net/registry.h"
#include "pack/pack_internal.h"
#include "source/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Reads and decoded output in pieces small enough to stay in the core's
 * cache between the copy, the two hashes and the write. */
#define CHUNK ((size_t)512 << 10)
/* Writeback of a large file is started every this many bytes, so the final
 * flush finds little left to write. */

/* A zstd frame may ask for a window of up to 2 GiB; a layer job decodes
 * with at most 2^27 bytes (128 MiB, zstd's own default limit), so its
 * memory stays bounded whatever the layer says. */
#define WL_ZSTD_WINDOW_LOG_MAX 27

enum codec { CODEC_TAR, CODEC_GZIP, CODEC_ZSTD };

typedef struct size_order {
	int64_t size;
	size_t index;
} size_order;

typedef struct extract_run {
	const wl_entry *entry;
	const char *layout_dir; /* or NULL: the registry */
	wl__registry *reg;
	const char *repo;
	wl_store *store; /* pull: files go to the content store, not a target */
	_Atomic size_t files_stored;
	_Atomic uint64_t bytes_stored;
	const wl_extract_options *opts;
	char *weight; /* the entry's name, quoted */
	wl__path_table *table;
	wl__target target;
	int dest_fd; /* target.fd */
	dev_t dest_dev;
	uint8_t *present;  /* per file: already in place and verified */
	size_t *layer_files; /* per layer, the indexes of its files ... */
	size_t *layer_first; /* ... starting here (layer_count + 1 offsets) */
	wl__sweep_result sweep;
	size_order *order; /* layers, largest first */
	EVP_MD *sha256;
	atomic_bool stop;
	_Atomic uint64_t items_done, bytes_done;
	uint64_t items_total, bytes_total;
	wl_phase phase;
} extract_run;

/* ------------------------------------------------------------------------ */
/* Small filesystem helpers (all relative to directory descriptors)          */
/* ------------------------------------------------------------------------ */

/* Opens the directory `dir` (a '/'-separated path, possibly empty for the
 * target itself) below `root`, one component at a time with O_NOFOLLOW,
 * creating missing components (mode 0755) when `create`. A component that
 * is not a directory (a symbolic link included) is an error: nothing is
 * ever reached through a link. Returns the descriptor or -1 with errno,
 * and the failing component's length in *bad. */
static int open_dir(int root, const char *dir, size_t len, bool create, size_t *bad)
{
	int fd = dup(root);
	if (fd < 0)
		return -1;
	char name[256];
	for (size_t start = 0; start < len;) {
		const char *slash = memchr(dir + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - dir) : len;
		*bad = end;
		if (end - start >= sizeof name) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(name, dir + start, end - start);
		name[end - start] = 0;
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0755) != 0 && errno != EEXIST) {
				int err = errno;
				close(fd);
				errno = err;
				return -1;
			}
			next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			/* 0755 whatever the umask (SPEC.md §14). */
			if (next >= 0)
				fchmod(next, 0755);
		}
		int err = errno;
		close(fd);
		if (next < 0) {
			errno = err == ELOOP ? ENOTDIR : err;
			return -1;
		}
		fd = next;
		start = end + 1;
	}
	return fd;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

static int fail_path_errno(int code, int err, wl_string path, const char *what)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, path) != 0)
		return WL_ENOMEM;
	wl__fail_errno(code, err, "%s %s", what, q);
	free(q);
	return code;
}

/* ------------------------------------------------------------------------ */
/* The layout: marker, manifest, config blob                                 */
/* ------------------------------------------------------------------------ */

/* "sha256:<hex>" of what `md` hashed. */
static int finish_digest(char out[WL_DIGEST_LEN + 1], EVP_MD_CTX *md)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned sum_len = 0;
	if (EVP_DigestFinal_ex(md, sum, &sum_len) != 1 || sum_len != 32)
		return -1;
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[sum[i] >> 4];
		out[8 + 2 * i] = hex[sum[i] & 15];
	}
	out[WL_DIGEST_LEN] = 0;
	return 0;
}

static char *blob_path(const char *layout_dir, wl_string digest)
{
	size_t n = strlen(layout_dir) + 20 + digest.len;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/blobs/sha256/%s", layout_dir, digest.ptr + 7);
	return p;
}

/* Opens a blob for reading: a regular file (never waits on a FIFO). */
static int open_blob(int *out, struct stat *st, const char *path, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int err = errno;
		return wl__fail_errno(err == ENOENT ? WL_ENOTFOUND : WL_EIO, err, "%s: open %s", what, path);
	}
	if (fstat(fd, st) != 0) {
		int err = errno;
		close(fd);
		return wl__fail_errno(WL_EIO, err, "%s: stat %s", what, path);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return wl__fail(WL_EIO, "%s: %s is not a regular file (%s)", what, path, wl__file_kind(st->st_mode));
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	*out = fd;
	return 0;
}

/* Reads a blob that must hold exactly `want` and hash to `digest`:
 * WL_EMISMATCH when it does not. Streamed, so a huge file costs nothing. */
static int check_small_blob(const extract_run *run, wl_string digest, const char *want, size_t want_len,
                            const char *what)
{
	char *path = blob_path(run->layout_dir, digest);
	if (path == NULL)
		return wl__nomem();
	struct stat st;
	int fd = -1;
	int rc = open_blob(&fd, &st, path, what);
	if (rc != 0) {
		free(path);
		return rc;
	}
	unsigned char *buf = malloc(CHUNK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (buf == NULL || md == NULL || EVP_DigestInit_ex(md, run->sha256, NULL) != 1)
		rc = wl__nomem();
	uint64_t total = 0;
	bool same = true;
	while (rc == 0) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wl__fail_errno(WL_EIO, errno, "%s: read %s", what, path);
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (total + (uint64_t)n > want_len || memcmp(want + total, buf, (size_t)n) != 0)
			same = false;
		total += (uint64_t)n;
	}
	close(fd);
	char actual[WL_DIGEST_LEN + 1];
	if (rc == 0 && finish_digest(actual, md) != 0)
		rc = wl__nomem();
	if (rc == 0 && !wl_string_equal(wl_str(actual), digest))
		rc = wl__fail(WL_EMISMATCH, "%s %s hashes to %s (%s)", what, digest.ptr, actual, path);
	else if (rc == 0 && (!same || total != want_len))
		rc = wl__fail(WL_EMISMATCH, "%s %s differs from the one the lockfile entry projects to", what,
		              digest.ptr);
	EVP_MD_CTX_free(md);
	free(buf);
	free(path);
	return rc;
}

/* The `oci-layout` file: any JSON holding "imageLayoutVersion":"1.0.0"
 * (other writers space it differently; it is not ours to rewrite). */
static int check_layout_marker(const char *layout_dir)
{
	size_t n = strlen(layout_dir) + 16;
	char *path = malloc(n);
	if (path == NULL)
		return wl__nomem();
	snprintf(path, n, "%s/oci-layout", layout_dir);
	char *text = NULL;
	size_t len = 0;
	int rc = wl_read_file(&text, &len, path, 0);
	if (rc != 0) {
		wl__error_prefix("not an OCI image layout");
		free(path);
		return rc;
	}
	bool ok = false;
	const char *key = "\"imageLayoutVersion\"";
	for (const char *p = strstr(text, key); p != NULL && !ok; p = strstr(p + 1, key)) {
		const char *q = p + strlen(key);
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q++ != ':')
			continue;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		ok = strncmp(q, "\"1.0.0\"", 7) == 0;
	}
	if (!ok)
		rc = wl__fail(WL_EINVALID, "%s: not an OCI image layout of version 1.0.0", path);
	free(text);
	free(path);
	return rc;
}

/* A small blob kept in memory, at most `cap` bytes. */
typedef struct mem_sink {
	char *data;
	size_t len, cap;
} mem_sink;

static int mem_put(void *ctx, const void *data, size_t len)
{
	mem_sink *m = ctx;
	if (len > m->cap - m->len)
		return wl__fail(WL_EMISMATCH, "longer than recorded");
	memcpy(m->data + m->len, data, len);
	m->len += len;
	return 0;
}

static int mem_restart(void *ctx)
{
	((mem_sink *)ctx)->len = 0;
	return 0;
}

/* The registry's manifest (by the entry's digest) and config blob must be
 * the entry's projections byte for byte. */
static int check_remote_manifest(const extract_run *run, const char *manifest, size_t manifest_len,
                                 const char *config, size_t config_len)
{
	char *body = NULL;
	size_t len = 0;
	int rc = wl__registry_manifest_get(run->reg, run->repo, run->entry->digest.ptr, &body, &len);
	if (rc == 0 && (len != manifest_len || memcmp(body, manifest, len) != 0)) {
		char got[WL_DIGEST_LEN + 1];
		wl_sha256_digest(got, body, len);
		rc = wl__fail(WL_EMISMATCH, "the registry's manifest %s hashes to %s, not what the entry projects to",
		              run->entry->digest.ptr, got);
	}
	free(body);
	if (rc != 0)
		return rc;
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, config, config_len);
	mem_sink m = {malloc(config_len ? config_len : 1), 0, config_len};
	if (m.data == NULL)
		return wl__nomem();
	rc = wl__registry_blob_get(run->reg, run->repo, digest, (int64_t)config_len, 0, mem_put, mem_restart, &m);
	if (rc == 0 && (m.len != config_len || memcmp(m.data, config, config_len) != 0))
		rc = wl__fail(WL_EMISMATCH, "the registry's config blob %s differs from the entry's projection", digest);
	else if (rc != 0)
		wl__error_prefix("config blob %s", digest);
	free(m.data);
	return rc;
}

static int check_manifest(const extract_run *run)
{
	const wl_entry *e = run->entry;
	if (!wl_digest_valid(e->digest))
		return wl__fail(WL_EINVALID, "the entry's digest is not a sha256 digest");
	char *manifest = NULL, *config = NULL;
	size_t manifest_len = 0, config_len = 0;
	int rc = wl_entry_manifest(&manifest, &manifest_len, e);
	if (rc == 0)
		rc = wl_entry_config_blob(&config, &config_len, e);
	if (rc == 0 && run->reg != NULL)
		rc = check_remote_manifest(run, manifest, manifest_len, config, config_len);
	else if (rc == 0)
		rc = check_small_blob(run, e->digest, manifest, manifest_len, "manifest");
	if (rc == 0 && run->reg == NULL) {
		char config_digest[WL_DIGEST_LEN + 1];
		wl_sha256_digest(config_digest, config, config_len);
		rc = check_small_blob(run, wl_str(config_digest), config, config_len, "config blob");
	}
	free(manifest);
	free(config);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Files already in place                                                    */
/* ------------------------------------------------------------------------ */

/* Hashes one candidate of the sweep; a match is kept, with mode 0644. */
static int hash_candidate(void *ctx, size_t job)
{
	extract_run *run = ctx;
	if (atomic_load(&run->stop))
		return WL_ECANCELED;
	size_t fi = run->sweep.candidates[job];
	const wl_file *f = &run->entry->files[fi];
	size_t dir_len = f->path.len;
	while (dir_len > 0 && f->path.ptr[dir_len - 1] != '/')
		dir_len--;
	size_t bad = 0;
	int dfd = open_dir(run->dest_fd, f->path.ptr, dir_len ? dir_len - 1 : 0, false, &bad);
	if (dfd < 0)
		return 0; /* not there any more: it will be written */
	int fd = openat(dfd, f->path.ptr + dir_len, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	struct stat st;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != f->size || st.st_nlink != 1) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(CHUNK);
	int rc = 0;
	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, run->sha256, NULL) != 1) {
		rc = wl__nomem();
	} else {
		int64_t got = 0;
		for (;;) {
			ssize_t n = read(fd, buf, CHUNK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += n;
			EVP_DigestUpdate(md, buf, (size_t)n);
			atomic_fetch_add_explicit(&run->bytes_done, (uint64_t)n, memory_order_relaxed);
		}
		char digest[WL_DIGEST_LEN + 1];
		if (got == f->size && finish_digest(digest, md) == 0 && wl_string_equal(wl_str(digest), f->digest) &&
		    ((st.st_mode & 07777) == 0644 || fchmod(fd, 0644) == 0))
			run->present[fi] = 1;
	}
	atomic_fetch_add_explicit(&run->items_done, 1, memory_order_relaxed);
	free(buf);
	EVP_MD_CTX_free(md);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* One layer                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct layer_job {
	extract_run *run;
	const wl_layer *layer;
	size_t layer_index;
	/* The directory of the last file, kept open for the next. */
	char *dir;
	size_t dir_len;
	int dir_fd;
	bool dir_foreign; /* on another filesystem than the target */
	/* The file being written. */
	int fd;
	char tmp[32];
	bool skip;
	wl__file_writer writer; /* of fd */
	const wl_file *file;
	wl_store_put *put;      /* pull */
	wl__store_batch *batch; /* pull: small files made durable together */
	bool owns_layer;        /* pull: the layer's partial is locked (its temporary names are ours) */
} layer_job;

static int sink_begin(void *ctx, size_t fi)
{
	layer_job *j = ctx;
	extract_run *run = j->run;
	const wl_file *f = &run->entry->files[fi];
	j->file = f;
	j->skip = run->present[fi] != 0;
	if (j->skip)
		return 0;
	size_t dir_len = f->path.len;
	while (dir_len > 0 && f->path.ptr[dir_len - 1] != '/')
		dir_len--;
	dir_len = dir_len ? dir_len - 1 : 0;
	if (j->dir_fd < 0 || j->dir_len != dir_len || memcmp(j->dir, f->path.ptr, dir_len) != 0) {
		if (j->dir_fd >= 0)
			close(j->dir_fd);
		j->dir_fd = -1;
		size_t bad = 0;
		int dfd = open_dir(run->dest_fd, f->path.ptr, dir_len, true, &bad);
		if (dfd < 0) {
			int err = errno;
			char *q = NULL;
			if (wl_quote(&q, NULL, (wl_string){f->path.ptr, bad}) != 0)
				return WL_ENOMEM;
			if (err == ENOTDIR)
				wl__fail(WL_EINVALID, "%s is not a directory (links are never followed)", q);
			else
				wl__fail_errno(WL_EIO, err, "create directory %s", q);
			free(q);
			return wl_error_last()->code;
		}
		char *copy = realloc(j->dir, dir_len + 1);
		if (copy == NULL) {
			close(dfd);
			return wl__nomem();
		}
		memcpy(copy, f->path.ptr, dir_len);
		j->dir = copy;
		j->dir_len = dir_len;
		j->dir_fd = dfd;
		struct stat st;
		j->dir_foreign = fstat(dfd, &st) != 0 || st.st_dev != run->dest_dev;
	}
	for (int tries = 0; tries < 16; tries++) {
		wl__temp_name(j->tmp, WL_EXTRACT_TEMP_PREFIX);
		j->fd = openat(j->dir_fd, j->tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (j->fd >= 0 || errno != EEXIST)
			break;
	}
	if (j->fd < 0)
		return wl__fail_errno(WL_EIO, errno, "create a temporary file");
	if (wl__file_writer_init(&j->writer, j->fd, f->size) != 0)
		return wl__nomem(); /* sink_abort removes the file */
	return 0;
}

static int sink_data(void *ctx, const void *bytes, size_t len)
{
	layer_job *j = ctx;
	if (j->skip)
		return 0;
	int err = wl__file_writer_write(&j->writer, bytes, len);
	if (err != 0)
		return wl__fail_errno(WL_EIO, err, "write");
	return 0;
}

static void sink_abort(void *ctx)
{
	layer_job *j = ctx;
	if (j->put != NULL) {
		wl_store_put_abort(j->put);
		j->put = NULL;
	}
	if (j->fd >= 0) {
		wl__file_writer_free(&j->writer);
		close(j->fd);
		j->fd = -1;
		unlinkat(j->dir_fd, j->tmp, 0);
	}
}

static int sink_commit(void *ctx, size_t fi)
{
	layer_job *j = ctx;
	(void)fi;
	if (j->skip)
		return 0;
	const wl_file *f = j->file;
	const char *base = f->path.ptr + (j->dir_len ? j->dir_len + 1 : 0);
	int err = 0;
	const char *step = "write";
	err = wl__file_writer_finish(&j->writer);
	wl__file_writer_free(&j->writer);
	if (err == 0 && fchmod(j->fd, 0644) != 0) {
		err = errno;
		step = "chmod";
	}
	/* The final syncfs covers the target's filesystem only. */
	if (err == 0 && j->dir_foreign && fsync(j->fd) != 0) {
		err = errno;
		step = "fsync";
	}
	int closed = close(j->fd);
	j->fd = -1;
	if (err == 0 && closed != 0) {
		err = errno;
		step = "close";
	}
	if (err == 0 && renameat(j->dir_fd, j->tmp, j->dir_fd, base) != 0) {
		err = errno;
		step = "rename into place";
	}
	if (err != 0) {
		unlinkat(j->dir_fd, j->tmp, 0);
		if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
			return wl__fail(WL_EINVALID, "a directory is in the way");
		return wl__fail_errno(WL_EIO, err, "%s", step);
	}
	if (j->dir_foreign && fsync(j->dir_fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "fsync its directory");
	return 0;
}

/* Pull: a file goes into the content store (SPEC.md §17), which checks
 * its size and digest again before the rename. */
static int store_begin(void *ctx, size_t fi)
{
	layer_job *j = ctx;
	const wl_file *f = &j->run->entry->files[fi];
	j->skip = j->run->present[fi] != 0;
	char temp[WL__STORE_TEMP_MAX];
	if (j->owns_layer)
		wl__store_layer_temp(temp, j->layer->digest.ptr, fi);
	if (j->skip)
		return 0;
	if (j->batch == NULL) {
		int rc = wl__store_batch_new(&j->batch, j->run->store);
		if (rc != 0)
			return rc;
	}
	/* The tar reader hashes the file and checks it before the commit. */
	return wl__store_put_begin_hashed(&j->put, j->run->store, f->digest.ptr, f->size, j->owns_layer ? temp : NULL);
}

static int store_data(void *ctx, const void *bytes, size_t len)
{
	layer_job *j = ctx;
	return j->skip ? 0 : wl_store_put_write(j->put, bytes, len);
}

static int store_commit(void *ctx, size_t fi)
{
	layer_job *j = ctx;
	if (j->skip)
		return 0;
	wl_store_put *put = j->put;
	j->put = NULL;
	int rc = wl__store_batch_add(j->batch, put);
	if (rc == 0) {
		j->run->present[fi] = 1;
		atomic_fetch_add_explicit(&j->run->files_stored, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&j->run->bytes_stored, (uint64_t)j->run->entry->files[fi].size,
		                          memory_order_relaxed);
	}
	return rc;
}

/* The size of the layer's tar stream as Cog writes it (§11.3): decoded
 * output beyond it is refused. */
static int tar_bound(int64_t *out, const extract_run *run, size_t li)
{
	size_t begin = run->layer_first[li], end = run->layer_first[li + 1];
	size_t n = end - begin;
	wl_source_file *files = calloc(n ? n : 1, sizeof *files);
	size_t *index = malloc((n ? n : 1) * sizeof *index);
	if (files == NULL || index == NULL) {
		free(files);
		free(index);
		return wl__nomem();
	}
	for (size_t i = 0; i < n; i++) {
		const wl_file *f = &run->entry->files[run->layer_files[begin + i]];
		files[i].path = f->path;
		files[i].size = f->size;
		index[i] = i;
	}
	wl_plan_layer plan;
	memset(&plan, 0, sizeof plan);
	plan.files = index;
	plan.file_count = n;
	int rc = wl__tar_layer_size(out, files, &plan);
	free(files);
	free(index);
	return rc;
}

typedef struct decoder {
	enum codec codec;
	z_stream z;
	bool z_ready;
	ZSTD_DCtx *zstd;
	bool ended; /* the compressed stream ended */
	uint64_t produced;
	int64_t bound;
	unsigned char *out;
} decoder;

static int too_large(const decoder *d)
{
	return wl__fail(WL_EINVALID, "decompresses beyond %lld bytes, the size of its tar stream",
	                (long long)d->bound);
}

/* Room for the next decoded piece: never more than one byte past the
 * bound, so a bomb stops after at most that. */
static size_t room(const decoder *d)
{
	uint64_t left = (uint64_t)d->bound - d->produced + 1;
	return left < CHUNK ? (size_t)left : CHUNK;
}

static int decode(decoder *d, wl__tar_reader *reader, const unsigned char *in, size_t in_len)
{
	if (d->codec == CODEC_TAR)
		return wl__tar_reader_feed(reader, in, in_len);
	if (d->codec == CODEC_GZIP) {
		d->z.next_in = (unsigned char *)(uintptr_t)in;
		d->z.avail_in = (uInt)in_len;
		for (;;) {
			size_t cap = room(d);
			d->z.next_out = d->out;
			d->z.avail_out = (uInt)cap;
			int zr = inflate(&d->z, Z_NO_FLUSH);
			size_t got = cap - d->z.avail_out;
			d->produced += got;
			if (d->produced > (uint64_t)d->bound)
				return too_large(d);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
				return wl__fail(WL_EINVALID, "corrupt gzip stream: %s",
				                d->z.msg ? d->z.msg : "inflate failed");
			int rc = got ? wl__tar_reader_feed(reader, d->out, got) : 0;
			if (rc != 0)
				return rc;
			if (zr == Z_STREAM_END) {
				d->ended = true;
				return 0;
			}
			if (wl__tar_reader_done(reader))
				return 0;
			if (d->z.avail_in == 0 && d->z.avail_out != 0)
				return 0;
			if (zr == Z_BUF_ERROR && got == 0)
				return 0;
		}
	}
	ZSTD_inBuffer zin = {in, in_len, 0};
	for (;;) {
		ZSTD_outBuffer zout = {d->out, room(d), 0};
		size_t zr = ZSTD_decompressStream(d->zstd, &zout, &zin);
		if (ZSTD_isError(zr) && ZSTD_getErrorCode(zr) == ZSTD_error_frameParameter_windowTooLarge)
			return wl__fail(WL_EINVALID, "zstd frame needs a window larger than the %d MiB a layer may use",
			                1 << (WL_ZSTD_WINDOW_LOG_MAX - 20));
		if (ZSTD_isError(zr))
			return wl__fail(WL_EINVALID, "corrupt zstd stream: %s", ZSTD_getErrorName(zr));
		d->produced += zout.pos;
		if (d->produced > (uint64_t)d->bound)
			return too_large(d);
		int rc = zout.pos ? wl__tar_reader_feed(reader, d->out, zout.pos) : 0;
		if (rc != 0)
			return rc;
		if (wl__tar_reader_done(reader))
			return 0;
		if (zin.pos == zin.size && zout.pos < zout.size)
			return 0;
	}
}

/* A layer's bytes on their way in, from a file or the network. */
typedef struct layer_feed {
	extract_run *run;
	const wl_layer *layer;
	decoder *d;
	wl__tar_reader *reader;
	EVP_MD_CTX *md;
	int64_t got;
	layer_job *job;
	const wl__tar_sink *sink;
	int restarts;
	/* Pull: the layer's partial in the store (source/store.h), locked
	 * while the layer is worked on, or -1; `keep_bytes`: the bytes
	 * received go into it (a layer with more than one file). */
	int partial_fd;
	char *partial_path;
	bool keep_bytes;
} layer_feed;

static int feed(layer_feed *f, const unsigned char *in, size_t n)
{
	extract_run *run = f->run;
	const volatile sig_atomic_t *cancel = run->opts->cancel;
	if (atomic_load_explicit(&run->stop, memory_order_relaxed) || (cancel != NULL && *cancel))
		return wl__fail(WL_ECANCELED, "canceled");
	if ((int64_t)n > f->layer->size - f->got)
		return wl__fail(WL_EMISMATCH, "blob is longer than the %lld bytes recorded", (long long)f->layer->size);
	f->got += (int64_t)n;
	EVP_DigestUpdate(f->md, in, n);
	atomic_fetch_add_explicit(&run->bytes_done, (uint64_t)n, memory_order_relaxed);
	/* Past the end-of-archive blocks, or past the end of the compressed
	 * stream, the rest is only hashed. */
	if (!f->d->ended && !wl__tar_reader_done(f->reader))
		return decode(f->d, f->reader, in, n);
	return 0;
}

/* The kept bytes are an aid: when they cannot be written or fail their
 * checks they are dropped and the pull goes on without them (the lock is
 * held on: the layer's temporary names stay this pull's). */
static void partial_drop_bytes(layer_feed *f)
{
	if (f->partial_fd >= 0 && f->keep_bytes) {
		f->keep_bytes = false;
		if (ftruncate(f->partial_fd, 0) != 0) {
			/* nothing more to do: the bytes fail their digest next time */
		}
	}
}

/* `keep`: the bytes are left for the next pull (one the user stopped). */
static void partial_release(layer_feed *f, bool keep)
{
	if (f->partial_fd >= 0) {
		if (!keep || !f->keep_bytes)
			wl__store_partial_remove(f->run->store, f->layer->digest.ptr);
		close(f->partial_fd);
		f->partial_fd = -1;
	}
	free(f->partial_path);
	f->partial_path = NULL;
}

static int feed_cb(void *ctx, const void *data, size_t len)
{
	layer_feed *f = ctx;
	int rc = feed(f, data, len);
	if (rc == 0 && f->keep_bytes && wl__write_all(f->partial_fd, data, len) != 0)
		partial_drop_bytes(f);
	return rc;
}

/* The layer from its first byte again: decoder, digest and tar reader
 * reset (the file being written is dropped; files already in place are
 * skipped), the partial copy emptied. */
static int feed_reset(layer_feed *f)
{
	decoder *d = f->d;
	int rc = 0;
	if (d->codec == CODEC_GZIP && inflateReset(&d->z) != Z_OK)
		rc = wl__nomem();
	if (d->codec == CODEC_ZSTD && ZSTD_isError(ZSTD_DCtx_reset(d->zstd, ZSTD_reset_session_only)))
		rc = wl__nomem();
	d->ended = false;
	d->produced = 0;
	if (rc == 0 && EVP_DigestInit_ex(f->md, f->run->sha256, NULL) != 1)
		rc = wl__nomem();
	wl__tar_reader_free(f->reader); /* aborts the file being written */
	f->reader = NULL;
	if (rc == 0)
		rc = wl__tar_reader_new(&f->reader, f->run->entry, f->run->table, f->layer->digest, f->sink);
	atomic_fetch_sub_explicit(&f->run->bytes_done, (uint64_t)f->got, memory_order_relaxed);
	f->got = 0;
	if (f->keep_bytes && (ftruncate(f->partial_fd, 0) != 0 || lseek(f->partial_fd, 0, SEEK_SET) != 0))
		partial_drop_bytes(f);
	return rc;
}

/* A registry that answers a resumed request with the whole blob. */
static int feed_restart(void *ctx)
{
	layer_feed *f = ctx;
	if (++f->restarts > 3)
		return wl__fail(WL_EIO, "the registry sent the whole blob again %d times", f->restarts - 1);
	return feed_reset(f);
}

/* Feeds the bytes a killed pull kept; *start: how many. */
static int feed_partial(layer_feed *f, unsigned char *in, int64_t *start)
{
	*start = 0;
	struct stat st;
	if (fstat(f->partial_fd, &st) != 0) {
		partial_drop_bytes(f);
		return 0;
	}
	int64_t have = st.st_size <= f->layer->size ? (int64_t)st.st_size : 0;
	int64_t at = 0;
	int rc = 0;
	while (rc == 0 && at < have) {
		int64_t left = have - at;
		ssize_t n = pread(f->partial_fd, in, left < (int64_t)CHUNK ? (size_t)left : CHUNK, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rc = feed(f, in, (size_t)n);
		at += n;
	}
	if (rc == 0 && (ftruncate(f->partial_fd, (off_t)at) != 0 || lseek(f->partial_fd, (off_t)at, SEEK_SET) < 0)) {
		partial_drop_bytes(f);
		rc = at > 0 ? feed_reset(f) : 0;
		at = 0;
	}
	*start = rc == 0 ? at : 0;
	return rc;
}

static int feed_from_layout(layer_feed *f, unsigned char *in)
{
	const wl_layer *l = f->layer;
	char *path = blob_path(f->run->layout_dir, l->digest);
	if (path == NULL)
		return wl__nomem();
	struct stat st;
	int fd = -1;
	int rc = open_blob(&fd, &st, path, "blob");
	free(path);
	if (rc != 0)
		return rc;
	if (st.st_size != l->size) {
		close(fd);
		return wl__fail(WL_EMISMATCH, "blob is %lld bytes, recorded %lld", (long long)st.st_size,
		                (long long)l->size);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (rc == 0 && f->got < l->size) {
		int64_t left = l->size - f->got;
		ssize_t n = read(fd, in, left < (int64_t)CHUNK ? (size_t)left : CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wl__fail_errno(WL_EIO, errno, "read blob");
			break;
		}
		if (n == 0)
			break; /* short: the caller says so */
		rc = feed(f, in, (size_t)n);
	}
	close(fd);
	return rc;
}

/* Pull: the small files verified so far become durable under their names,
 * also those of a layer that failed; `rc`: the layer's result, kept. */
static int flush_batch(layer_job *j, int rc)
{
	if (j->batch == NULL)
		return rc;
	wl__saved_error saved;
	if (rc != 0)
		wl__error_save(&saved);
	int frc = wl__store_batch_flush(j->batch);
	if (rc != 0)
		wl__error_restore(&saved);
	return rc != 0 ? rc : frc;
}

static int extract_layer(layer_job *j, unsigned char *in, decoder *d)
{
	extract_run *run = j->run;
	const wl_layer *l = j->layer;
	if (wl_string_equal(l->media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR)))
		d->codec = CODEC_TAR;
	else if (wl_string_equal(l->media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP)))
		d->codec = CODEC_GZIP;
	else if (wl_string_equal(l->media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR_ZSTD)))
		d->codec = CODEC_ZSTD;
	else
		return fail_path_errno(WL_EINVALID, 0, l->media_type, "unsupported media type");
	int rc = tar_bound(&d->bound, run, j->layer_index);
	if (rc != 0)
		return rc;
	if (d->codec == CODEC_GZIP) {
		if (inflateInit2(&d->z, 31) != Z_OK)
			return wl__nomem();
		d->z_ready = true;
	} else if (d->codec == CODEC_ZSTD) {
		d->zstd = ZSTD_createDCtx();
		if (d->zstd == NULL ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, WL_ZSTD_WINDOW_LOG_MAX)))
			return wl__nomem();
	}

	wl__tar_reader *reader = NULL;
	wl__tar_sink sink = {sink_begin, sink_data, sink_commit, sink_abort, j};
	if (run->store != NULL)
		sink = (wl__tar_sink){store_begin, store_data, store_commit, sink_abort, j};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, run->sha256, NULL) != 1)
		rc = wl__nomem();
	if (rc == 0)
		rc = wl__tar_reader_new(&reader, run->entry, run->table, l->digest, &sink);
	layer_feed f = {run, l, d, reader, md, 0, j, &sink, 0, -1, NULL, false};
	size_t files_here = run->layer_first[j->layer_index + 1] - run->layer_first[j->layer_index];
	if (rc == 0 && run->reg != NULL && run->store != NULL) {
		if (wl__store_partial_open(run->store, l->digest.ptr, &f.partial_fd, &f.partial_path) < 0)
			wl_error_clear(); /* the pull goes on without it */
		j->owns_layer = f.partial_fd >= 0;
		/* What a killed pull may have left for files now in the store. */
		for (size_t k = run->layer_first[j->layer_index]; j->owns_layer && k < run->layer_first[j->layer_index + 1];
		     k++) {
			size_t fi = run->layer_files[k];
			if (run->present[fi]) {
				char temp[WL__STORE_TEMP_MAX];
				wl__store_layer_temp(temp, l->digest.ptr, fi);
				wl__store_remove_temp(run->store, temp);
			}
		}
		f.keep_bytes = f.partial_fd >= 0 && files_here > 1;
		if (f.partial_fd >= 0 && !f.keep_bytes && ftruncate(f.partial_fd, 0) != 0)
			wl_error_clear();
	}
	for (int pass = 0; rc == 0; pass++) {
		int64_t start = 0;
		if (f.keep_bytes && pass == 0) {
			rc = feed_partial(&f, in, &start);
			if (rc != 0 && rc != WL_ECANCELED) {
				/* Bytes that fail are dropped; the layer comes whole. */
				partial_drop_bytes(&f);
				rc = feed_reset(&f);
				start = 0;
			}
		}
		if (rc == 0 && run->reg != NULL && start < l->size)
			rc = wl__registry_blob_get(run->reg, run->repo, l->digest.ptr, l->size, start, feed_cb,
			                           feed_restart, &f);
		else if (rc == 0 && run->reg == NULL)
			rc = feed_from_layout(&f, in);
		if (rc == 0 && f.got != l->size)
			rc = wl__fail(WL_EMISMATCH, "blob ended after %lld bytes, recorded %lld", (long long)f.got,
			              (long long)l->size);
		if (rc == 0) {
			char digest[WL_DIGEST_LEN + 1];
			if (finish_digest(digest, md) != 0)
				rc = wl__nomem();
			else if (!wl_string_equal(wl_str(digest), l->digest))
				rc = wl__fail(WL_EMISMATCH, "blob hashes to %s", digest);
		}
		if (rc == 0)
			rc = wl__tar_reader_finish(f.reader);
		if (rc != 0 && rc != WL_ECANCELED && start > 0 && pass == 0) {
			/* The kept bytes were not the layer's: once more, all of it
			 * from the registry. */
			partial_drop_bytes(&f);
			rc = feed_reset(&f);
			continue;
		}
		break;
	}
	/* The layer's temporary files are settled while its lock is held. */
	sink_abort(j);
	rc = flush_batch(j, rc);
	/* The bytes are kept only when the user stopped the pull, for the next. */
	const volatile sig_atomic_t *cancel = run->opts->cancel;
	partial_release(&f, rc == WL_ECANCELED && cancel != NULL && *cancel);
	j->owns_layer = false;
	wl__tar_reader_free(f.reader);
	EVP_MD_CTX_free(md);
	return rc;
}

static int layer_run(void *ctx, size_t job)
{
	extract_run *run = ctx;
	size_t li = run->order[job].index;
	layer_job j;
	memset(&j, 0, sizeof j);
	j.run = run;
	j.layer = &run->entry->layers[li];
	j.layer_index = li;
	j.dir_fd = -1;
	j.fd = -1;
	decoder d;
	memset(&d, 0, sizeof d);
	unsigned char *in = malloc(CHUNK);
	d.out = malloc(CHUNK);
	int rc = in && d.out ? extract_layer(&j, in, &d) : wl__nomem();
	sink_abort(&j);
	rc = flush_batch(&j, rc);
	wl__store_batch_free(j.batch);
	if (j.dir_fd >= 0)
		close(j.dir_fd);
	free(j.dir);
	if (d.z_ready)
		inflateEnd(&d.z);
	ZSTD_freeDCtx(d.zstd);
	free(in);
	free(d.out);
	if (rc != 0) {
		atomic_store(&run->stop, true);
		wl__error_prefix("layer %s", j.layer->digest.ptr);
	} else {
		atomic_fetch_add_explicit(&run->items_done, 1, memory_order_relaxed);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The whole run                                                             */
/* ------------------------------------------------------------------------ */

static void tick(void *ctx)
{
	extract_run *run = ctx;
	const wl_extract_options *o = run->opts;
	if (o->progress == NULL)
		return;
	wl_progress p;
	memset(&p, 0, sizeof p);
	p.phase = run->phase;
	p.weight = run->entry->name.ptr;
	p.items_done = atomic_load_explicit(&run->items_done, memory_order_relaxed);
	p.items_total = run->items_total;
	p.bytes_done = atomic_load_explicit(&run->bytes_done, memory_order_relaxed);
	p.bytes_total = run->bytes_total;
	if (p.bytes_done > p.bytes_total)
		p.bytes_done = p.bytes_total;
	o->progress(o->progress_ctx, &p);
}

static int order_cmp(const void *a, const void *b)
{
	const size_order *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int digest_index_cmp(const void *a, const void *b)
{
	const wl_layer *const *x = a, *const *y = b;
	return wl_string_compare((*x)->digest, (*y)->digest);
}

/* Per layer, the list of its files; layer order by size. */
static int group_files(extract_run *run)
{
	const wl_entry *e = run->entry;
	size_t nl = e->layer_count, nf = e->file_count;
	const wl_layer **sorted = malloc((nl ? nl : 1) * sizeof *sorted);
	size_t *layer_of = malloc((nf ? nf : 1) * sizeof *layer_of);
	run->layer_first = calloc(nl + 1, sizeof *run->layer_first);
	run->layer_files = malloc((nf ? nf : 1) * sizeof *run->layer_files);
	run->order = malloc((nl ? nl : 1) * sizeof *run->order);
	int rc = 0;
	if (sorted == NULL || layer_of == NULL || run->layer_first == NULL || run->layer_files == NULL ||
	    run->order == NULL) {
		rc = wl__nomem();
		goto out;
	}
	for (size_t i = 0; i < nl; i++)
		sorted[i] = &e->layers[i];
	qsort(sorted, nl, sizeof *sorted, digest_index_cmp);
	for (size_t i = 1; i < nl; i++)
		if (wl_string_equal(sorted[i - 1]->digest, sorted[i]->digest)) {
			rc = wl__fail(WL_EINVALID, "layer %s recorded twice", sorted[i]->digest.ptr);
			goto out;
		}
	for (size_t i = 0; i < nf; i++) {
		/* The path table checked that every file's layer exists. */
		size_t lo = 0, hi = nl;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (wl_string_compare(sorted[mid]->digest, e->files[i].layer) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		layer_of[i] = (size_t)(sorted[lo] - e->layers);
		run->layer_first[layer_of[i] + 1]++;
	}
	for (size_t i = 0; i < nl; i++)
		run->layer_first[i + 1] += run->layer_first[i];
	size_t *fill = calloc(nl ? nl : 1, sizeof *fill);
	if (fill == NULL) {
		rc = wl__nomem();
		goto out;
	}
	for (size_t i = 0; i < nf; i++)
		run->layer_files[run->layer_first[layer_of[i]] + fill[layer_of[i]]++] = i;
	free(fill);
	for (size_t i = 0; i < nl; i++) {
		run->order[i].size = e->layers[i].size_uncompressed > e->layers[i].size ? e->layers[i].size_uncompressed
		                                                                           : e->layers[i].size;
		run->order[i].index = i;
		run->bytes_total += e->layers[i].size > 0 ? (uint64_t)e->layers[i].size : 0;
	}
	qsort(run->order, nl, sizeof *run->order, order_cmp);
out:
	free(sorted);
	free(layer_of);
	return rc;
}

/* What is checked before the target is touched: the entry's consistency
 * (the rules of `check`), its paths, the layout's marker, manifest and
 * config blob. */
static int prepare(extract_run *run)
{
	const wl_entry *e = run->entry;
	run->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (run->sha256 == NULL)
		return wl__nomem();
	int rc = wl__entry_check(e);
	if (rc == 0)
		rc = wl__path_table_new(&run->table, e);
	if (rc == 0 && e->layer_count == 0)
		rc = wl__fail(WL_EINVALID, "no layers recorded");
	if (rc == 0)
		rc = group_files(run);
	if (rc == 0 && run->layout_dir != NULL)
		rc = check_layout_marker(run->layout_dir);
	if (rc == 0)
		rc = check_manifest(run);
	return rc;
}

/* Steps 4-6, after the markers say `downloading`. */
static int materialize_steps(extract_run *run)
{
	const wl_entry *e = run->entry;
	run->present = calloc(e->file_count ? e->file_count : 1, 1);
	if (run->present == NULL)
		return wl__nomem();
	int rc = wl__target_sweep(&run->target, run->table, e, &run->sweep);
	if (rc != 0)
		return rc;
	int threads = run->opts->threads;
	const wl__sweep_result *sw = &run->sweep;
	if (sw->candidate_count > 0) {
		run->phase = WL_PHASE_HASH;
		run->items_total = sw->candidate_count;
		run->bytes_total = 0;
		for (size_t i = 0; i < sw->candidate_count; i++)
			run->bytes_total += (uint64_t)e->files[sw->candidates[i]].size;
		rc = wl__run_parallel(sw->candidate_count, threads, hash_candidate, run,
		                      run->opts->progress ? tick : NULL, run, run->opts->cancel);
		if (rc != 0)
			return rc;
		run->bytes_total = 0;
		for (size_t i = 0; i < e->layer_count; i++)
			run->bytes_total += (uint64_t)e->layers[i].size;
	}
	run->phase = WL_PHASE_EXTRACT;
	run->items_total = e->layer_count;
	atomic_store(&run->items_done, 0);
	atomic_store(&run->bytes_done, 0);
	rc = wl__run_parallel(e->layer_count, threads, layer_run, run, run->opts->progress ? tick : NULL, run,
	                      run->opts->cancel);
	if (rc != 0)
		return rc;
	/* Every file and directory written above is on this filesystem (the
	 * others were flushed one by one). */
	if (syncfs(run->dest_fd) != 0)
		return wl__fail_errno(WL_EIO, errno, "flush the target to disk");
	return 0;
}

/* The line of .cog/weightslock: which entry the owned target holds. */
static char *owner_line(const wl_entry *e)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "{\"name\":");
	wl_json_put_string(&b, e->name.ptr, e->name.len);
	wl_buf_puts(&b, ",\"digest\":");
	wl_json_put_string(&b, e->digest.ptr, e->digest.len);
	wl_buf_puts(&b, "}\n");
	char *out = NULL;
	size_t len = 0;
	return wl_buf_finish(&b, &out, &len) == 0 ? out : NULL;
}

/* The target's own name, in its parent, made durable. */
static void sync_parent(const char *dest)
{
	char *parent = strdup(dest);
	if (parent == NULL)
		return;
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else if (slash != NULL)
		*slash = 0;
	int pfd = open(slash ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		fsync(pfd);
		close(pfd);
	}
	free(parent);
}

static int extract_from(const wl_entry *entry, const char *layout_dir, wl__registry *reg, const char *repo,
                        const char *dest, const wl_extract_options *options);

/* What a run holds, freed (the target is the caller's to close). */
static void run_release(extract_run *run)
{
	wl__path_table_free(run->table);
	free(run->present);
	free(run->layer_files);
	free(run->layer_first);
	free(run->sweep.candidates);
	free(run->order);
	EVP_MD_free(run->sha256);
	free(run->weight);
}

int wl_extract(const wl_entry *entry, const char *layout_dir, const char *dest, const wl_extract_options *options)
{
	if (entry == NULL || layout_dir == NULL || dest == NULL || *dest == 0)
		return wl__fail(WL_EINVALID, "wl_extract: entry, layout and destination are required");
	return extract_from(entry, layout_dir, NULL, NULL, dest, options);
}

int wl_extract_registry(const wl_entry *entry, const wl_registry_options *registry, const char *dest,
                        const wl_extract_options *options)
{
	if (entry == NULL || registry == NULL || dest == NULL || *dest == 0)
		return wl__fail(WL_EINVALID, "wl_extract_registry: entry, registry and destination are required");
	wl__registry *reg = NULL;
	wl__http *http = NULL;
	char *repo = NULL;
	int rc = wl__registry_open(&reg, &http, &repo, registry, false);
	if (rc == 0)
		rc = extract_from(entry, NULL, reg, repo, dest, options);
	wl__registry_free(reg);
	wl__http_free(http);
	free(repo);
	return rc;
}

static int extract_from(const wl_entry *entry, const char *layout_dir, wl__registry *reg, const char *repo,
                        const char *dest, const wl_extract_options *options)
{
	wl_extract_options defaults;
	memset(&defaults, 0, sizeof defaults);
	defaults.lock_timeout = -1;
	extract_run run;
	memset(&run, 0, sizeof run);
	run.entry = entry;
	run.layout_dir = layout_dir;
	run.reg = reg;
	run.repo = repo;
	run.opts = options ? options : &defaults;
	run.dest_fd = -1;
	run.target.fd = run.target.cog_fd = run.target.lock_fd = -1;
	char *owner = NULL;
	if (wl_quote(&run.weight, NULL, entry->name) != 0)
		return WL_ENOMEM;

	/* Nothing in the target is touched before these pass. */
	int rc = prepare(&run);
	if (rc == 0 && (owner = owner_line(entry)) == NULL)
		rc = wl__nomem();
	if (rc == 0) {
		wl__target_options to = {run.opts->force, run.opts->lock_timeout, run.opts->cancel, owner};
		rc = wl__target_open(&run.target, dest, &to);
	}
	if (rc != 0) {
		wl__error_prefix("weight %s", run.weight);
		goto out;
	}
	run.dest_fd = run.target.fd;
	run.dest_dev = run.target.dev;
	int cog_fd = run.target.cog_fd;
	/* Never ready while the content may change; then busy, not failed. */
	int err = 0;
	if (unlinkat(cog_fd, "ready", 0) != 0 && errno != ENOENT)
		err = errno;
	if (err == 0 && fsync(cog_fd) != 0)
		err = errno;
	if (err == 0)
		err = wl__write_marker(cog_fd, "downloading", "", 0);
	if (err == 0 && unlinkat(cog_fd, "failed", 0) != 0 && errno != ENOENT)
		err = errno;
	if (err == 0 && (fsync(cog_fd) != 0 || fsync(run.dest_fd) != 0))
		err = errno;
	if (err != 0) {
		rc = wl__fail_errno(WL_EIO, err, "weight %s: update the markers in %s/.cog", run.weight, dest);
		goto out;
	}

	rc = materialize_steps(&run);
	if (rc != 0)
		wl__error_prefix("weight %s", run.weight);
	if (rc == 0 && run.target.created)
		sync_parent(dest);
	if (rc == 0) {
		err = wl__write_marker(cog_fd, "ready", "", 0);
		if (err == 0 && unlinkat(cog_fd, "downloading", 0) != 0 && errno != ENOENT)
			err = errno;
		if (err == 0 && fsync(cog_fd) != 0)
			err = errno;
		if (err != 0)
			rc = wl__fail_errno(WL_EIO, err, "weight %s: write %s/.cog/ready", run.weight, dest);
		if (rc == 0 && run.opts->others_left != NULL)
			*run.opts->others_left = run.sweep.others;
	} else {
		/* The message stays the caller's to read, whatever happens here. */
		wl_error saved = *wl_error_last();
		char message[2048];
		snprintf(message, sizeof message, "%s\n", saved.message);
		wl__write_marker(cog_fd, "failed", message, strlen(message));
		unlinkat(cog_fd, "ready", 0);
		unlinkat(cog_fd, "downloading", 0);
		fsync(cog_fd);
		message[strlen(message) - 1] = 0;
		wl__fail(saved.code, "%s", message);
		wl__error_set_errno(saved.sys_errno);
	}
out:
	wl__target_close(&run.target);
	run_release(&run);
	free(owner);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Pull: an entry's missing files into the content store                     */
/* ------------------------------------------------------------------------ */

int wl__pull_entry(const wl_entry *entry, wl__registry *reg, const char *repo, wl_store *store,
                   const wl_extract_options *options, size_t *files, int64_t *bytes, size_t *layers)
{
	*files = *layers = 0;
	*bytes = 0;
	extract_run run;
	memset(&run, 0, sizeof run);
	run.entry = entry;
	run.reg = reg;
	run.repo = repo;
	run.store = store;
	run.opts = options;
	run.dest_fd = -1;
	run.target.fd = run.target.cog_fd = run.target.lock_fd = -1;
	int rc = wl_quote(&run.weight, NULL, entry->name);
	if (rc == 0)
		rc = prepare(&run);
	const wl_entry *e = entry;
	if (rc == 0 && (run.present = calloc(e->file_count ? e->file_count : 1, 1)) == NULL)
		rc = wl__nomem();
	for (size_t i = 0; rc == 0 && i < e->file_count; i++) {
		int has = wl_store_has(store, e->files[i].digest.ptr, e->files[i].size);
		if (has < 0)
			rc = has;
		run.present[i] = has == 1;
	}
	/* Only the layers that hold a missing file, largest first. */
	size_t n = 0;
	run.bytes_total = 0;
	for (size_t k = 0; rc == 0 && k < e->layer_count; k++) {
		size_t li = run.order[k].index;
		bool needed = false;
		for (size_t i = run.layer_first[li]; i < run.layer_first[li + 1] && !needed; i++)
			needed = !run.present[run.layer_files[i]];
		if (needed) {
			run.order[n++] = run.order[k];
			run.bytes_total += (uint64_t)e->layers[li].size;
		}
	}
	run.phase = WL_PHASE_FETCH;
	run.items_total = n;
	if (rc == 0 && n > 0)
		rc = wl__run_parallel(n, options->threads, layer_run, &run, options->progress ? tick : NULL, &run,
		                      options->cancel);
	if (rc != 0)
		wl__error_prefix("weight %s", run.weight ? run.weight : "?");
	*files = atomic_load(&run.files_stored);
	*bytes = (int64_t)atomic_load(&run.bytes_stored);
	*layers = n;
	run_release(&run);
	return rc;
}
