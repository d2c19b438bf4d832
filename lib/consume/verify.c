/*
 * verify.c - whether a directory materializes an entry (SPEC.md §12.1):
 * wl_verify_dir and its report.
 *
 * The directory is walked relative to directory descriptors (openat,
 * fstatat with AT_SYMLINK_NOFOLLOW, O_NOFOLLOW | O_DIRECTORY), so no
 * symbolic link below the top is ever followed: a symbolic link, FIFO,
 * socket or device is an entry like any other, extra unless recorded (and
 * modified when recorded, since it is not a regular file). A recorded path
 * whose parent on disk is not a directory (a file, a symbolic link to a
 * directory) is missing; the parent itself is extra. Names found on disk
 * are taken as raw bytes, valid or not: they are never opened by a path
 * that was not found by the walk, so a recorded "../x" cannot reach
 * outside the directory, it is simply missing. The walk is iterative
 * (common/walk.c): any depth works with one open directory.
 *
 * Sizes are compared during the walk; only regular files of the recorded
 * size are read, one job per file on the worker pool, largest first, with
 * large reads, each checked to still be the file the walk saw.
 */
#include "common/internal.h"
#include "common/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What became of one recorded file. */
enum rec_state {
	REC_UNSEEN,   /* not found (yet): missing at the end */
	REC_OK,
	REC_HASH,     /* right size: its content is to be compared */
	REC_MODIFIED,
	REC_MISSING,  /* vanished between the walk and its read */
};

typedef struct rec {
	const wl_file *file;
	int state; /* enum rec_state: only the walk, then only its job's worker, write it */
} rec;

/* A regular file of the recorded size, to be read. */
typedef struct job {
	rec *rec;
	int64_t size;
	uint64_t dev, ino;
} job;

typedef struct verify_run {
	const wl_entry *entry;
	const char *dir;
	const wl_verify_options *options;
	rec *recs; /* sorted by path */
	size_t rec_count;
	wl_storage *storage; /* the paths of extra entries */
	char **extra;
	size_t extra_count, extra_cap;
	job *jobs;
	size_t job_count, job_cap;
	int root_fd;
	EVP_MD *sha256;
	/* progress */
	uint64_t walked;
	struct timespec last_report;
	_Atomic uint64_t files_done;
	_Atomic uint64_t bytes_done;
	uint64_t bytes_total;
} verify_run;

/* ---- messages ---- */

/* "WHAT "REL" in DIR[TAIL]", REL quoted per Appendix B. */
static int fail_rel_tail(int code, int err, const verify_run *run, const char *what, const char *rel, size_t len,
                         const char *tail)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, (wl_string){rel, len}) != 0)
		return WL_ENOMEM;
	if (err != 0)
		wl__fail_errno(code, err, "%s %s in %s%s", what, q, run->dir, tail);
	else
		wl__fail(code, "%s %s in %s%s", what, q, run->dir, tail);
	free(q);
	return code;
}

static int fail_rel(int code, int err, const verify_run *run, const char *what, const char *rel, size_t len)
{
	return fail_rel_tail(code, err, run, what, rel, len, "");
}

/* ---- progress ---- */

static bool canceled(const verify_run *run)
{
	return run->options != NULL && run->options->cancel != NULL && *run->options->cancel;
}

static void report(const verify_run *run, wl_phase phase)
{
	const wl_verify_options *o = run->options;
	if (o == NULL || o->progress == NULL)
		return;
	wl_progress p;
	memset(&p, 0, sizeof p);
	p.phase = phase;
	p.weight = run->entry->name.ptr;
	if (phase == WL_PHASE_WALK) {
		p.items_done = run->walked;
	} else {
		p.items_done = atomic_load_explicit(&run->files_done, memory_order_relaxed);
		p.items_total = run->job_count;
		p.bytes_done = atomic_load_explicit(&run->bytes_done, memory_order_relaxed);
		p.bytes_total = run->bytes_total;
		if (p.bytes_done > p.bytes_total)
			p.bytes_done = p.bytes_total;
	}
	o->progress(o->progress_ctx, &p);
}

/* Called per entry walked; reports at most every 100 ms. */
static void walk_tick(verify_run *run)
{
	run->walked++;
	if (run->options == NULL || run->options->progress == NULL || (run->walked & 255) != 0)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(now.tv_sec - run->last_report.tv_sec) * 1000 +
	             (now.tv_nsec - run->last_report.tv_nsec) / 1000000;
	if (ms < 100)
		return;
	run->last_report = now;
	report(run, WL_PHASE_WALK);
}

static void hash_tick(void *ctx)
{
	report(ctx, WL_PHASE_VERIFY);
}

/* ---- recorded files ---- */

static int compare_recs(const void *a, const void *b)
{
	return wl_string_compare(((const rec *)a)->file->path, ((const rec *)b)->file->path);
}

static rec *find_rec(const verify_run *run, const char *path, size_t len)
{
	wl_string key = {path, len};
	size_t lo = 0, hi = run->rec_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = wl_string_compare(run->recs[mid].file->path, key);
		if (c == 0)
			return &run->recs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int index_entry(verify_run *run)
{
	const wl_entry *e = run->entry;
	if (e->file_count == 0)
		return 0;
	run->recs = calloc(e->file_count, sizeof *run->recs);
	if (run->recs == NULL)
		return wl__nomem();
	for (size_t i = 0; i < e->file_count; i++) {
		run->recs[i].file = &e->files[i];
		run->recs[i].state = REC_UNSEEN;
	}
	run->rec_count = e->file_count;
	qsort(run->recs, run->rec_count, sizeof *run->recs, compare_recs);
	for (size_t i = 1; i < run->rec_count; i++) {
		wl_string p = run->recs[i].file->path;
		if (!wl_string_equal(p, run->recs[i - 1].file->path))
			continue;
		char *q = NULL;
		if (wl_quote(&q, NULL, p) != 0)
			return WL_ENOMEM;
		wl__fail(WL_EINVALID, "the entry lists file %s twice", q);
		free(q);
		return WL_EINVALID;
	}
	return 0;
}

/* ---- the walk ---- */

static int add_extra(verify_run *run, wl_string rel)
{
	if (run->extra_count == run->extra_cap) {
		size_t cap = run->extra_cap ? run->extra_cap * 2 : 16, bytes;
		if (wl_mul_overflows_size(cap, sizeof *run->extra, &bytes))
			return wl__nomem();
		char **p = realloc(run->extra, bytes);
		if (p == NULL)
			return wl__nomem();
		run->extra = p;
		run->extra_cap = cap;
	}
	wl_string s;
	if (!wl_storage_string(run->storage, &s, rel.ptr, rel.len))
		return wl__nomem();
	run->extra[run->extra_count++] = (char *)s.ptr;
	return 0;
}

static int add_job(verify_run *run, rec *r, const struct stat *st)
{
	if (run->job_count == run->job_cap) {
		size_t cap = run->job_cap ? run->job_cap * 2 : 64, bytes;
		if (wl_mul_overflows_size(cap, sizeof *run->jobs, &bytes))
			return wl__nomem();
		job *p = realloc(run->jobs, bytes);
		if (p == NULL)
			return wl__nomem();
		run->jobs = p;
		run->job_cap = cap;
	}
	job *j = &run->jobs[run->job_count++];
	j->rec = r;
	j->size = (int64_t)st->st_size;
	j->dev = (uint64_t)st->st_dev;
	j->ino = (uint64_t)st->st_ino;
	run->bytes_total += (uint64_t)st->st_size;
	r->state = REC_HASH;
	return 0;
}

/* One name the walk found. */
static int visit(verify_run *run, wl__walk *walk, wl__walk_event *ev, const wl__walk_item *it)
{
	walk_tick(run);
	if (it->stat_errno != 0)
		return fail_rel(WL_EIO, it->stat_errno, run, "stat", it->rel.ptr, it->rel.len);
	if (S_ISDIR(it->st.st_mode)) {
		/* Only the top .cog holds the provider's state (SPEC.md §7.2). */
		if (it->depth == 0 && strcmp(it->name, ".cog") == 0)
			return 0;
		rec *r = find_rec(run, it->rel.ptr, it->rel.len);
		if (r != NULL)
			r->state = REC_MODIFIED;
		if (canceled(run))
			return wl__fail(WL_ECANCELED, "canceled");
		*ev = wl__walk_enter(walk, it, 0);
		return 0;
	}
	rec *r = find_rec(run, it->rel.ptr, it->rel.len);
	if (r == NULL)
		return add_extra(run, it->rel);
	if (!S_ISREG(it->st.st_mode) || (int64_t)it->st.st_size != r->file->size)
		r->state = REC_MODIFIED;
	else if (run->options != NULL && run->options->sizes_only)
		r->state = REC_OK;
	else
		return add_job(run, r, &it->st);
	return 0;
}

/* Walks the target, iteratively (§15). */
static int walk_tree(verify_run *run)
{
	if (canceled(run))
		return wl__fail(WL_ECANCELED, "canceled");
	int fd = fcntl(run->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return wl__fail_errno(WL_EIO, errno, "open %s", run->dir);
	wl__walk walk;
	wl__walk_item it;
	wl__walk_event ev = wl__walk_start(&walk, fd, 0);
	int rc = 0;
	while (rc == 0 && ev != WL__WALK_FAIL && (ev = wl__walk_next(&walk, &it)) != WL__WALK_END)
		if (ev == WL__WALK_ITEM)
			rc = visit(run, &walk, &ev, &it);
	if (rc == 0 && ev == WL__WALK_FAIL) {
		wl_string rel = walk.failure_rel;
		if (rel.len == 0)
			rel = (wl_string){".", 1};
		const char *op = wl__walk_failed_op(&walk);
		if (walk.failure == WL__WALK_NOMEM)
			rc = wl__nomem();
		else if (op == NULL)
			rc = fail_rel_tail(WL_EINVALID, 0, run, "directory", rel.ptr, rel.len, " changed while it was verified");
		else
			rc = fail_rel(WL_EIO, walk.failure_errno, run, op, rel.ptr, rel.len);
	}
	wl__walk_close(&walk);
	return rc;
}

/* ---- reading ---- */

/* Hashes the file of job `j`, leaving its record OK, MODIFIED or MISSING.
 * A file that is no longer the one the walk saw, or no longer of its
 * size, is modified: the directory does not hold the entry's bytes. */
static int hash_one(verify_run *run, const job *j)
{
	rec *r = j->rec;
	const wl_file *f = r->file;
	/* O_NONBLOCK: should a FIFO have taken the file's place, open must not
	 * wait for a writer. */
	int fd = openat(run->root_fd, f->path.ptr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR) {
			r->state = REC_MISSING;
			return 0;
		}
		if (err == ELOOP || err == ENXIO) {
			r->state = REC_MODIFIED;
			return 0;
		}
		return fail_rel(WL_EIO, err, run, "open", f->path.ptr, f->path.len);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return fail_rel(WL_EIO, err, run, "stat", f->path.ptr, f->path.len);
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != j->dev || (uint64_t)st.st_ino != j->ino ||
	    (int64_t)st.st_size != j->size) {
		close(fd);
		r->state = REC_MODIFIED;
		return 0;
	}
	wl__hash_io io = {
		.md = run->sha256,
		.map_files = run->options != NULL && run->options->map_files,
		.bytes_done = &run->bytes_done,
		.cancel = run->options != NULL ? run->options->cancel : NULL,
	};
	char digest[WL_DIGEST_LEN + 1];
	uint64_t got = 0;
	int rc = wl__hash_fd(digest, &got, fd, j->size, &io);
	close(fd);
	if (rc == WL_EIO)
		return fail_rel(WL_EIO, io.sys_errno, run, io.failed_step, f->path.ptr, f->path.len);
	if (rc != 0)
		return rc;
	/* Grown or shrunk while read: not the entry's bytes, whatever they are. */
	bool same = got == (uint64_t)j->size && f->digest.len == WL_DIGEST_LEN &&
	            memcmp(f->digest.ptr, digest, WL_DIGEST_LEN) == 0;
	r->state = same ? REC_OK : REC_MODIFIED;
	return 0;
}

static int hash_job(void *ctx, size_t index)
{
	verify_run *run = ctx;
	int rc = hash_one(run, &run->jobs[index]);
	if (rc == 0)
		atomic_fetch_add_explicit(&run->files_done, 1, memory_order_relaxed);
	return rc;
}

/* Largest first; equal sizes in path order, so runs are repeatable. */
static int compare_jobs(const void *a, const void *b)
{
	const job *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return wl_string_compare(x->rec->file->path, y->rec->file->path);
}

/* ---- the report ---- */

static int compare_cstrings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One block holding the pointers and the bytes of `count` strings, sorted
 * byte-wise; NULL when count is 0. */
static int make_list(char ***out, const wl_string *items, size_t count)
{
	*out = NULL;
	if (count == 0)
		return 0;
	size_t bytes;
	if (wl_mul_overflows_size(count + 1, sizeof(char *), &bytes))
		return wl__nomem();
	for (size_t i = 0; i < count; i++)
		if (__builtin_add_overflow(bytes, items[i].len + 1, &bytes))
			return wl__nomem();
	char **list = malloc(bytes);
	if (list == NULL)
		return wl__nomem();
	char *text = (char *)(list + count + 1);
	for (size_t i = 0; i < count; i++) {
		list[i] = text;
		if (items[i].len > 0)
			memcpy(text, items[i].ptr, items[i].len);
		text[items[i].len] = '\0';
		text += items[i].len + 1;
	}
	list[count] = NULL;
	qsort(list, count, sizeof *list, compare_cstrings);
	*out = list;
	return 0;
}

static int build_report(wl_verify_report *out, const verify_run *run)
{
	size_t n = run->rec_count > run->extra_count ? run->rec_count : run->extra_count;
	wl_string *items = calloc(n ? n : 1, sizeof *items);
	if (items == NULL)
		return wl__nomem();
	int rc = 0;
	for (int pass = 0; pass < 3 && rc == 0; pass++) {
		size_t k = 0;
		if (pass == 1) {
			for (size_t i = 0; i < run->extra_count; i++)
				items[k++] = wl_str(run->extra[i]);
			rc = make_list(&out->extra, items, k);
			out->extra_count = k;
			continue;
		}
		for (size_t i = 0; i < run->rec_count; i++) {
			int s = run->recs[i].state;
			bool missing = s == REC_UNSEEN || s == REC_MISSING;
			if (pass == 0 ? missing : s == REC_MODIFIED)
				items[k++] = run->recs[i].file->path;
		}
		rc = make_list(pass == 0 ? &out->missing : &out->modified, items, k);
		*(pass == 0 ? &out->missing_count : &out->modified_count) = k;
	}
	free(items);
	return rc;
}

/* ---- entry point ---- */

static int open_root(int *out, const char *dir)
{
	/* DIR itself is what the caller named: a symbolic link to a directory
	 * is accepted there, never below it. */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	int err = errno;
	if (err == ENOENT)
		return wl__fail(WL_ENOTFOUND, "directory %s does not exist", dir);
	if (err == ENOTDIR) {
		struct stat st;
		if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
			return wl__fail(WL_EINVALID, "%s is not a directory", dir);
		return wl__fail(WL_ENOTFOUND, "directory %s does not exist", dir);
	}
	return wl__fail_errno(WL_EIO, err, "open directory %s", dir);
}

int wl_verify_dir(wl_verify_report **out, const wl_entry *entry, const char *dir,
                  const wl_verify_options *options)
{
	*out = NULL;
	if (entry == NULL)
		return wl__fail(WL_EINVALID, "verify: no entry given");
	if (dir == NULL || dir[0] == '\0')
		return wl__fail(WL_EINVALID, "verify: the directory name is empty");
	verify_run run;
	memset(&run, 0, sizeof run);
	run.entry = entry;
	run.dir = dir;
	run.options = options;
	run.root_fd = -1;
	atomic_init(&run.files_done, 0);
	atomic_init(&run.bytes_done, 0);
	clock_gettime(CLOCK_MONOTONIC, &run.last_report);
	wl_verify_report *rep = NULL;

	int rc = open_root(&run.root_fd, dir);
	if (rc == 0)
		rc = index_entry(&run);
	if (rc == 0 && (run.storage = wl_storage_new()) == NULL)
		rc = wl__nomem();
	if (rc == 0) {
		report(&run, WL_PHASE_WALK);
		rc = walk_tree(&run);
		if (rc == 0)
			report(&run, WL_PHASE_WALK);
	}
	if (rc == 0 && run.job_count > 0) {
		qsort(run.jobs, run.job_count, sizeof *run.jobs, compare_jobs);
		run.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (run.sha256 == NULL)
			rc = wl__fail(WL_EIO, "OpenSSL has no SHA-256");
		else
			rc = wl__run_parallel(run.job_count, options ? options->threads : 0, hash_job, &run,
			                      options != NULL && options->progress != NULL ? hash_tick : NULL, &run,
			                      options ? options->cancel : NULL);
	}
	if (rc == 0 && (rep = calloc(1, sizeof *rep)) == NULL)
		rc = wl__nomem();
	if (rc == 0)
		rc = build_report(rep, &run);
	EVP_MD_free(run.sha256);
	if (run.root_fd >= 0)
		close(run.root_fd);
	wl_storage_free(run.storage);
	free(run.extra);
	free(run.jobs);
	free(run.recs);
	if (rc != 0) {
		wl_verify_report_free(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

void wl_verify_report_free(wl_verify_report *report)
{
	if (report == NULL)
		return;
	free(report->missing);
	free(report->extra);
	free(report->modified);
	free(report);
}
