/*
 * hash.c - the content digests of a walked source (SPEC.md §9.3):
 * wl_source_hash.
 *
 * One job per file on the library's worker pool, largest files first, so
 * the biggest files start at once on separate cores and the small ones
 * fill the gaps. Each file is read sequentially with large reads into one
 * buffer and hashed with OpenSSL's EVP SHA-256 (SHA-NI / AVX2 where the
 * CPU has them). A file must still be the regular file the walk saw (same
 * device and inode) and must yield exactly the walked number of bytes.
 * The hash cache is consulted before any job runs, and fed after each read
 * whose file did not change while it was read.
 */
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Large enough that syscalls cost nothing, small enough that the bytes
 * just copied from the page cache are still in the core's L2 cache when
 * the hash reads them (measured: 256-512 KiB beat 2 MiB and more). */
#define READ_SIZE ((size_t)512 << 10)
/* Files below this are read into a buffer on the worker's stack. */
#define SMALL_SIZE ((size_t)32 << 10)
/* With map_files, files of at least this size are mapped, not copied. */
#define MAP_MIN ((int64_t)8 << 20)
/* Bytes mapped at a time, and hashed between progress updates. */
#define MAP_WINDOW ((size_t)4 << 20)
#define MAP_STEP ((size_t)1 << 20)

typedef struct hash_run {
	wl_source_tree *tree;
	const wl_hash_options *options;
	int root_fd;
	EVP_MD *sha256;
	size_t *order; /* indexes of the files to read, largest first */
	_Atomic uint64_t files_done;
	_Atomic uint64_t bytes_done;
	uint64_t files_total;
	uint64_t bytes_total;
} hash_run;


static int fail_file(int code, int err, const wl_source_file *f, const char *root, const char *fmt, ...)
	WL_PRINTF(5, 6);

/* "<what> "PATH" in weight source ROOT", PATH quoted per Appendix B. */
static int fail_file(int code, int err, const wl_source_file *f, const char *root, const char *fmt, ...)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, f->path) != 0)
		return WL_ENOMEM;
	va_list ap;
	va_start(ap, fmt);
	char tail[256];
	vsnprintf(tail, sizeof tail, fmt, ap);
	va_end(ap);
	if (err != 0)
		wl__fail_errno(code, err, "file %s in weight source %s: %s", q, root, tail);
	else
		wl__fail(code, "file %s in weight source %s %s", q, root, tail);
	free(q);
	return code;
}

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool same_file(const wl_source_file *f, const struct stat *st)
{
	return (uint64_t)st->st_dev == f->dev && (uint64_t)st->st_ino == f->ino &&
	       (int64_t)st->st_size == f->size && ns_of(st->st_mtim) == f->mtime_ns &&
	       ns_of(st->st_ctim) == f->ctime_ns;
}

/* Reads `fd` to its end into the digest context; `*total` receives the
 * bytes read. Stops early once more than `limit` bytes came. */
static int read_all(wl__hash_io *io, int fd, uint64_t limit, EVP_MD_CTX *ctx, unsigned char *buf,
                    size_t buf_size, uint64_t *total)
{
	uint64_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf, buf_size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			io->sys_errno = errno;
			io->failed_step = "read";
			*total = got;
			return WL_EIO;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			io->failed_step = "hash";
			*total = got;
			return WL_EIO;
		}
		got += (uint64_t)n;
		if (io->bytes_done != NULL)
			atomic_fetch_add_explicit(io->bytes_done, (uint64_t)n, memory_order_relaxed);
		if (got > limit)
			break; /* grew: no need to read what follows */
		if (io->cancel != NULL && *io->cancel) {
			*total = got;
			return wl__fail(WL_ECANCELED, "canceled");
		}
	}
	*total = got;
	return 0;
}

/* The mapping this thread is hashing, for wl_sigbus_recover. */
static _Thread_local const char *volatile mapped_start;
static _Thread_local volatile size_t mapped_len;
static _Thread_local sigjmp_buf mapped_escape;

void (*wl__test_before_map)(int fd);

bool wl_sigbus_recover(void *fault_address)
{
	const char *a = fault_address, *start = mapped_start;
	if (start == NULL || a < start || a >= start + mapped_len)
		return false;
	mapped_start = NULL;
	siglongjmp(mapped_escape, 1);
}

/* Hashes the file through private read-only mappings of MAP_WINDOW bytes
 * at a time: the kernel's copy into a read buffer is the largest cost after
 * SHA-256 itself, and small windows keep the pages mapped (which count as
 * the process's memory) bounded by the thread count, not the file size. A
 * SIGBUS (the file shrank under us) comes back through wl_sigbus_recover. */
static int hash_mapped(wl__hash_io *io, int fd, size_t len, EVP_MD_CTX *ctx, uint64_t *total)
{
	if (wl__test_before_map != NULL)
		wl__test_before_map(fd);
	volatile size_t done = 0;
	volatile int rc = 0;
	char *volatile window = NULL;
	volatile size_t window_len = 0;
	if (sigsetjmp(mapped_escape, 1) == 0) { /* the mask: SIGBUS is blocked in the handler */
		while (done < len && rc == 0) {
			window_len = len - done < MAP_WINDOW ? len - done : MAP_WINDOW;
			char *m = mmap(NULL, window_len, PROT_READ, MAP_PRIVATE, fd, (off_t)done);
			if (m == MAP_FAILED) {
				io->sys_errno = errno;
				io->failed_step = "map";
				rc = WL_EIO;
				break;
			}
			madvise(m, window_len, MADV_SEQUENTIAL);
			window = m;
			mapped_len = window_len;
			mapped_start = m;
			for (size_t off = 0; off < window_len;) {
				size_t n = window_len - off < MAP_STEP ? window_len - off : MAP_STEP;
				if (EVP_DigestUpdate(ctx, m + off, n) != 1) {
					io->failed_step = "hash";
					rc = WL_EIO;
					break;
				}
				off += n;
				done += n;
				if (io->bytes_done != NULL)
					atomic_fetch_add_explicit(io->bytes_done, (uint64_t)n, memory_order_relaxed);
			}
			mapped_start = NULL;
			munmap(m, window_len);
			window = NULL;
			if (rc == 0 && io->cancel != NULL && *io->cancel)
				rc = wl__fail(WL_ECANCELED, "canceled");
		}
	} else {
		/* The file shrank under the mapping: `done` bytes were seen. */
		if (window != NULL)
			munmap(window, window_len);
	}
	*total = done;
	return rc;
}


int wl__hash_fd(char digest[WL_DIGEST_LEN + 1], uint64_t *seen, int fd, int64_t size, wl__hash_io *io)
{
	*seen = 0;
	digest[0] = '\0';
	if (size > (int64_t)SMALL_SIZE)
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, io->md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return wl__nomem();
	}
	unsigned char small[SMALL_SIZE + 1];
	unsigned char *buf = small;
	size_t buf_size = sizeof small;
	bool mapped = io->map_files && size >= MAP_MIN;
	if (size >= (int64_t)SMALL_SIZE && !mapped) {
		/* Room for the whole file and one byte more when it is smaller
		 * than a read, so its end is seen without a second pass. */
		buf_size = size < (int64_t)READ_SIZE ? (size_t)size + 1 : READ_SIZE;
		buf = malloc(buf_size);
		if (buf == NULL) {
			EVP_MD_CTX_free(ctx);
			return wl__nomem();
		}
	}
	uint64_t got = 0;
	int rc = mapped ? hash_mapped(io, fd, (size_t)size, ctx, &got)
	                : read_all(io, fd, (uint64_t)size, ctx, buf, buf_size, &got);
	if (buf != small)
		free(buf);
	/* A mapping sees only the expected length: growth shows here. */
	struct stat after;
	if (rc == 0 && got == (uint64_t)size && fstat(fd, &after) == 0 && after.st_size > size)
		got = (uint64_t)size + 1;
	if (rc == 0 && !wl__digest_final(ctx, digest)) {
		io->failed_step = "hash";
		rc = WL_EIO;
	}
	EVP_MD_CTX_free(ctx);
	*seen = got;
	return rc;
}

static int hash_one(hash_run *run, wl_source_file *f)
{
	const char *root = run->tree->root;
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	/* O_NONBLOCK: should a FIFO have taken the file's place, open must not
	 * wait for a writer; reads of regular files ignore the flag. */
	int fd = openat(run->root_fd, f->path.ptr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail_file(WL_EIO, errno, f, root, "open");
	struct stat before;
	if (fstat(fd, &before) != 0) {
		int err = errno;
		close(fd);
		return fail_file(WL_EIO, err, f, root, "stat");
	}
	if (!S_ISREG(before.st_mode) || (uint64_t)before.st_dev != f->dev || (uint64_t)before.st_ino != f->ino) {
		close(fd);
		return fail_file(WL_EINVALID, 0, f, root, "was replaced while the source was read");
	}
	if ((int64_t)before.st_size != f->size) {
		close(fd);
		return fail_file(WL_EINVALID, 0, f, root, "changed while it was read (size %lld, now %lld)",
		                 (long long)f->size, (long long)before.st_size);
	}
	wl__hash_io io = {
		.md = run->sha256,
		.map_files = run->options != NULL && run->options->map_files,
		.bytes_done = &run->bytes_done,
		.cancel = run->options != NULL ? run->options->cancel : NULL,
	};
	char digest[WL_DIGEST_LEN + 1];
	uint64_t got = 0;
	int rc = wl__hash_fd(digest, &got, fd, f->size, &io);
	struct stat after;
	bool unchanged = rc == 0 && got == (uint64_t)f->size && fstat(fd, &after) == 0 &&
	                 same_file(f, &after) && same_file(f, &before);
	close(fd);
	if (rc == WL_EIO)
		return io.failed_step != NULL && strcmp(io.failed_step, "hash") == 0
		           ? fail_file(WL_EIO, 0, f, root, "could not be hashed")
		           : fail_file(WL_EIO, io.sys_errno, f, root, "%s", io.failed_step);
	if (rc != 0)
		return rc;
	if (got != (uint64_t)f->size)
		return fail_file(WL_EINVALID, 0, f, root, "changed while it was read (size %lld, read %s%llu)",
		                 (long long)f->size, got > (uint64_t)f->size ? "more than " : "",
		                 (unsigned long long)(got > (uint64_t)f->size ? (uint64_t)f->size : got));
	memcpy(f->digest, digest, sizeof digest);
	/* A file touched while it was read may hold a mix of old and new
	 * bytes: its digest is reported but never trusted later. */
	f->verified = unchanged;
	if (unchanged && run->options != NULL && run->options->cache != NULL)
		wl_hash_cache_put(run->options->cache, f, ns_of(started));
	return 0;
}

static int hash_job(void *ctx, size_t job)
{
	hash_run *run = ctx;
	int rc = hash_one(run, &run->tree->files[run->order[job]]);
	if (rc == 0)
		atomic_fetch_add_explicit(&run->files_done, 1, memory_order_relaxed);
	return rc;
}

static void hash_tick(void *ctx)
{
	hash_run *run = ctx;
	const wl_hash_options *o = run->options;
	if (o == NULL || o->progress == NULL)
		return;
	wl_progress p;
	memset(&p, 0, sizeof p);
	p.phase = WL_PHASE_HASH;
	p.weight = o->weight;
	p.items_done = atomic_load_explicit(&run->files_done, memory_order_relaxed);
	p.items_total = run->files_total;
	p.bytes_done = atomic_load_explicit(&run->bytes_done, memory_order_relaxed);
	p.bytes_total = run->bytes_total;
	if (p.bytes_done > p.bytes_total)
		p.bytes_done = p.bytes_total;
	o->progress(o->progress_ctx, &p);
}

/* Largest first, ties in path order. A small merge sort keeps this free of
 * global state (qsort has no context argument in C11). */
static void order_by_size(size_t *order, size_t *tmp, size_t n, const wl_source_file *files)
{
	if (n < 2)
		return;
	size_t mid = n / 2;
	order_by_size(order, tmp, mid, files);
	order_by_size(order + mid, tmp, n - mid, files);
	size_t i = 0, j = mid, k = 0;
	while (i < mid && j < n) {
		const wl_source_file *a = &files[order[i]], *b = &files[order[j]];
		if (b->size > a->size)
			tmp[k++] = order[j++];
		else
			tmp[k++] = order[i++];
	}
	while (i < mid)
		tmp[k++] = order[i++];
	while (j < n)
		tmp[k++] = order[j++];
	memcpy(order, tmp, n * sizeof *order);
}

int wl_source_hash(wl_source_tree *tree, const wl_hash_options *options)
{
	hash_run run;
	memset(&run, 0, sizeof run);
	run.tree = tree;
	run.options = options;
	run.root_fd = -1;
	wl_hash_cache *cache = options ? options->cache : NULL;

	size_t n = 0;
	for (size_t i = 0; i < tree->file_count; i++) {
		wl_source_file *f = &tree->files[i];
		if (f->digest[0] != '\0')
			continue;
		run.files_total++;
		run.bytes_total += (uint64_t)f->size;
		if (cache != NULL && wl_hash_cache_get(cache, f, f->digest)) {
			run.files_done++;
			run.bytes_done += (uint64_t)f->size;
			continue;
		}
		n++;
	}
	if (n == 0) {
		hash_tick(&run);
		return 0;
	}
	size_t bytes;
	if (wl_mul_overflows_size(n, 2 * sizeof(size_t), &bytes))
		return wl__nomem();
	run.order = malloc(bytes);
	if (run.order == NULL)
		return wl__nomem();
	size_t k = 0;
	for (size_t i = 0; i < tree->file_count; i++)
		if (tree->files[i].digest[0] == '\0')
			run.order[k++] = i;
	order_by_size(run.order, run.order + n, n, tree->files);

	int rc = 0;
	run.root_fd = open(tree->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run.root_fd < 0) {
		rc = wl__fail_errno(WL_EIO, errno, "open weight source %s", tree->root);
	} else {
		run.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (run.sha256 == NULL)
			rc = wl__fail(WL_EIO, "OpenSSL has no SHA-256");
	}
	/* Jobs are whole files, so with one thread per core a core idles
	 * while the last large file finishes on the other. Twice as many
	 * threads as cores let the kernel share the cores among the large
	 * files instead (measured with mapped reads: 0.80x instead of 0.72x of
	 * the two-core SHA-256 limit on two 1 GiB + one 512 MiB + 5,000 small
	 * files). */
	int threads = options != NULL && options->threads > 0 ? options->threads : 2 * wl__cpu_count();
	if (rc == 0)
		rc = wl__run_parallel(n, threads, hash_job, &run, hash_tick, &run,
		                      options ? options->cancel : NULL);
	EVP_MD_free(run.sha256);
	if (run.root_fd >= 0)
		close(run.root_fd);
	free(run.order);
	return rc;
}
