/*
 * push.c - entries to a registry (SPEC.md §18.1): the layer blobs from an
 * OCI image layout, the config blob and the manifest projected from the
 * entry, the tag. The transport is net/registry.c; what is here is which
 * bytes go where, and the checks that they are the entry's.
 */
#include "pack/pack_internal.h"

#include "net/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOBS_DEFAULT 4
#define TAG_NAME_MAX 104

char *wl_push_tag(const wl_entry *entry, bool multi_source)
{
	const char *hex = entry->set_digest.len > 7 ? entry->set_digest.ptr + 7 : "";
	size_t hn = strlen(hex) < 12 ? strlen(hex) : 12;
	wl_buf b;
	wl_buf_init(&b);
	if (!multi_source) {
		wl_buf_puts(&b, "weights-");
		wl_buf_put(&b, entry->name.ptr, entry->name.len);
		wl_buf_putc(&b, '-');
		wl_buf_put(&b, hex, hn);
	} else {
		wl_buf_puts(&b, "cog-weight.");
		size_t start = b.len, n = 0;
		bool run = false;
		for (size_t i = 0; i < entry->name.len && n < TAG_NAME_MAX; i++) {
			char c = entry->name.ptr[i];
			bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			            c == '-';
			if (keep) {
				wl_buf_putc(&b, c);
				n++;
				run = false;
			} else if (!run) {
				wl_buf_putc(&b, '-');
				n++;
				run = true;
			}
		}
		if (b.len == start)
			wl_buf_puts(&b, "unnamed");
		wl_buf_putc(&b, '.');
		wl_buf_put(&b, hex, hn);
	}
	char *out;
	return wl_buf_finish(&b, &out, NULL) == 0 ? out : NULL;
}

/* One blob of an entry to send. */
typedef struct blob_job {
	const char *digest;
	int64_t size;
	const char *media_type; /* for a layer, else NULL */
	const void *mem;        /* the config blob, or NULL: a layout file */
	char *path;
	bool uploaded;
	int64_t sent;
} blob_job;

typedef struct push_run {
	wl__registry *reg;
	const char *repo;
	blob_job *jobs;
	size_t job_count;
	const wl_registry_options *opts;
	const char *weight;
	_Atomic uint64_t bytes_done;
	uint64_t bytes_total;
	_Atomic size_t items_done;
} push_run;

typedef struct file_src {
	int fd;
	const blob_job *job;
	push_run *run;
} file_src;

static int read_file_at(void *ctx, int64_t off, void *buf, size_t cap, size_t *got)
{
	file_src *f = ctx;
	*got = 0;
	for (;;) {
		ssize_t n = pread(f->fd, buf, cap, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wl__fail_errno(WL_EIO, errno, "read blob %s", f->job->digest);
		*got = (size_t)n;
		atomic_fetch_add_explicit(&f->run->bytes_done, (uint64_t)n, memory_order_relaxed);
		return 0;
	}
}

static int read_mem_at(void *ctx, int64_t off, void *buf, size_t cap, size_t *got)
{
	file_src *f = ctx;
	int64_t left = f->job->size - off;
	size_t n = left <= 0 ? 0 : (int64_t)cap < left ? cap : (size_t)left;
	memcpy(buf, (const char *)f->job->mem + off, n);
	*got = n;
	return 0;
}

static int push_blob(void *ctx, size_t i)
{
	push_run *run = ctx;
	blob_job *j = &run->jobs[i];
	bool exists = false;
	int rc = wl__registry_blob_exists(run->reg, run->repo, j->digest, &exists);
	if (rc != 0 || exists) {
		if (rc == 0) {
			atomic_fetch_add_explicit(&run->bytes_done, (uint64_t)j->size, memory_order_relaxed);
			atomic_fetch_add_explicit(&run->items_done, 1, memory_order_relaxed);
		}
		return rc;
	}
	file_src src = {-1, j, run};
	if (j->mem == NULL) {
		src.fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (src.fd < 0)
			return wl__fail_errno(errno == ENOENT ? WL_ENOTFOUND : WL_EIO, errno,
			                      "layer %s: open the layout's blob", j->digest);
		struct stat st;
		if (fstat(src.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != j->size) {
			close(src.fd);
			return wl__fail(WL_EMISMATCH, "layer %s: the layout's blob is %lld bytes, the entry records %lld",
			                j->digest, (long long)st.st_size, (long long)j->size);
		}
	}
	wl__registry_upload up = {
		.digest = j->digest,
		.size = j->size,
		.media_type = j->media_type,
		.read_at = j->mem ? read_mem_at : read_file_at,
		.ctx = &src,
	};
	rc = wl__registry_blob_put(run->reg, run->repo, &up);
	if (src.fd >= 0)
		close(src.fd);
	if (rc == 0) {
		j->uploaded = true;
		j->sent = up.bytes_sent;
		atomic_fetch_add_explicit(&run->items_done, 1, memory_order_relaxed);
	}
	return rc;
}

static void tick(void *ctx)
{
	push_run *run = ctx;
	if (run->opts->progress == NULL)
		return;
	wl_progress p;
	memset(&p, 0, sizeof p);
	p.phase = WL_PHASE_PUSH;
	p.weight = run->weight;
	p.items_done = atomic_load(&run->items_done);
	p.items_total = run->job_count;
	p.bytes_done = atomic_load(&run->bytes_done);
	p.bytes_total = run->bytes_total;
	if (p.bytes_done > p.bytes_total)
		p.bytes_done = p.bytes_total;
	run->opts->progress(run->opts->progress_ctx, &p);
}

static char *layout_blob(const char *dir, wl_string digest)
{
	if (digest.len != WL_DIGEST_LEN || strncmp(digest.ptr, "sha256:", 7) != 0)
		return NULL;
	size_t n = strlen(dir) + 64 + 32;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/blobs/sha256/%s", dir, digest.ptr + 7);
	return p;
}

static int push_entry(wl_push_result *res, wl__registry *reg, const char *repo, const wl_entry *e, bool multi,
                      const char *layout_dir, const wl_registry_options *opts)
{
	char *manifest = NULL, *config = NULL, *tag = NULL;
	size_t mlen = 0, clen = 0;
	char mdigest[WL_DIGEST_LEN + 1], cdigest[WL_DIGEST_LEN + 1];
	int rc = wl_entry_manifest(&manifest, &mlen, e);
	if (rc == 0)
		rc = wl_entry_config_blob(&config, &clen, e);
	if (rc == 0) {
		wl_sha256_digest(mdigest, manifest, mlen);
		wl_sha256_digest(cdigest, config, clen);
		if (!wl_string_equal(wl_str(mdigest), e->digest))
			rc = wl__fail(WL_EINVALID, "its manifest hashes to %s, the entry records %s (see `check`)", mdigest,
			              e->digest.ptr ? e->digest.ptr : "");
	}
	if (rc == 0 && (tag = wl_push_tag(e, multi)) == NULL)
		rc = wl__nomem();
	bool present = false;
	if (rc == 0)
		rc = wl__registry_manifest_exists(reg, repo, mdigest, &present);
	push_run run;
	memset(&run, 0, sizeof run);
	run.reg = reg;
	run.repo = repo;
	run.opts = opts;
	run.weight = e->name.ptr;
	if (rc == 0 && !present) {
		run.job_count = e->layer_count + 1;
		run.jobs = calloc(run.job_count, sizeof *run.jobs);
		if (run.jobs == NULL)
			rc = wl__nomem();
		for (size_t i = 0; rc == 0 && i < e->layer_count; i++) {
			const wl_layer *l = &e->layers[i];
			blob_job *j = &run.jobs[i];
			j->digest = l->digest.ptr;
			j->size = l->size;
			j->media_type = l->media_type.ptr;
			if (layout_dir == NULL)
				rc = wl__fail(WL_EINVALID, "pushing needs an OCI layout holding its layers (--oci-layout)");
			else if ((j->path = layout_blob(layout_dir, l->digest)) == NULL)
				rc = wl__fail(WL_EINVALID, "layer digest \"%s\" is not a sha256 digest", l->digest.ptr);
			run.bytes_total += (uint64_t)l->size;
		}
		if (rc == 0) {
			blob_job *j = &run.jobs[e->layer_count];
			j->digest = cdigest;
			j->size = (int64_t)clen;
			j->mem = config;
			run.bytes_total += clen;
		}
		if (rc == 0)
			rc = wl__run_parallel(run.job_count, opts->jobs > 0 ? opts->jobs : JOBS_DEFAULT, push_blob, &run, tick,
			                      &run, opts->cancel);
		for (size_t i = 0; i < run.job_count; i++) {
			if (run.jobs[i].uploaded) {
				res->blobs_uploaded++;
				res->bytes_uploaded += run.jobs[i].sent;
			}
			free(run.jobs[i].path);
		}
		free(run.jobs);
	}
	if (rc == 0)
		rc = wl__registry_manifest_put(reg, repo, tag, WL_MEDIA_TYPE_MANIFEST, manifest, mlen, mdigest);
	if (rc == 0) {
		res->already_present = present;
		wl_buf b;
		wl_buf_init(&b);
		wl_buf_puts(&b, wl__registry_host(reg));
		wl_buf_putc(&b, '/');
		wl_buf_puts(&b, repo);
		wl_buf_putc(&b, ':');
		wl_buf_puts(&b, tag);
		wl_buf_putc(&b, '@');
		wl_buf_puts(&b, mdigest);
		rc = wl_buf_finish(&b, &res->reference, NULL);
	}
	free(manifest);
	free(config);
	free(tag);
	return rc;
}

void wl_push_report_free(wl_push_report *report)
{
	if (report == NULL)
		return;
	for (size_t i = 0; i < report->result_count; i++)
		free(report->results[i].reference);
	free(report->results);
	free(report);
}

int wl_push(wl_push_report **out, const wl_lock *lock, const char *const *names, size_t name_count,
            const char *layout_dir, const wl_registry_options *opts)
{
	*out = NULL;
	int rc = wl__lock_check_names(lock, names, name_count);
	if (rc != 0)
		return rc;
	wl_push_report *report = calloc(1, sizeof *report);
	if (report == NULL || (lock->entry_count > 0 &&
	                       (report->results = calloc(lock->entry_count, sizeof *report->results)) == NULL)) {
		free(report);
		return wl__nomem();
	}
	wl__registry *reg = NULL;
	wl__http *http = NULL;
	char *repo = NULL;
	rc = wl__registry_open(&reg, &http, &repo, opts, true);
	for (size_t k = 0; rc == 0 && k < lock->entry_count; k++) {
		const wl_entry *e = &lock->entries[k];
		if (!wl__names_select(names, name_count, e->name))
			continue;
		wl_push_result *res = &report->results[report->result_count];
		res->name = e->name.ptr;
		rc = push_entry(res, reg, repo, e, lock->multi_source, layout_dir, opts);
		if (rc != 0) {
			wl__error_prefix("push weight \"%s\"", e->name.ptr);
			free(res->reference);
			memset(res, 0, sizeof *res);
		} else {
			report->result_count++;
		}
	}
	wl__registry_free(reg);
	wl__http_free(http);
	free(repo);
	*out = report;
	return rc;
}
