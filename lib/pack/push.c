/*
 * push.c - entries to a registry (SPEC.md §18.1): the layer blobs from an
 * OCI image layout, the config blob and the manifest projected from the
 * entry, the tag. The transport is net/registry.c; what is here is which
 * bytes go where, and the checks that they are the entry's.
 */
#include "pack/pack_internal.h"

#include "common/grammar.h"
#include "net/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOBS_DEFAULT 4
#define RING_SIZE ((size_t)4 << 20)
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
	const void *mem;        /* the config blob, or NULL: a layout file or packing */
	char *path;             /* the layout's file, or NULL: packed from the sources */
	size_t layer_index;
	bool uploaded, mounted;
	int64_t sent;
} blob_job;

typedef struct push_run {
	const wl_entry *entry;
	wl_source_file *files; /* the entry's files where the sources hold them, or NULL */
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

struct pack_stream;

typedef struct file_src {
	int fd;
	const blob_job *job;
	push_run *run;
	struct pack_stream *stream;
} file_src;

static int read_mem_at(void *ctx, int64_t off, void *buf, size_t cap, size_t *got)
{
	file_src *f = ctx;
	int64_t left = f->job->size - off;
	size_t n = left <= 0 ? 0 : (int64_t)cap < left ? cap : (size_t)left;
	memcpy(buf, (const char *)f->job->mem + off, n);
	*got = n;
	return 0;
}

/* ---- a layer packed on the fly from the sources (SPEC.md §18.1) ---- */

/* The packer runs on a thread of its own and fills a ring; the upload
 * reads the ring in order. A read behind what the ring holds (a retry
 * from the start) packs the layer again; nothing is written to disk.
 * A layout's blob goes the same way, its file read and hashed in place of
 * the packing: in both, the last bytes are sent only once the whole blob
 * is known to hash to the recorded digest. */
typedef struct pack_stream {
	push_run *run;
	const wl_layer *layer;
	int layout_fd;     /* the layout's blob, or -1: packed from the sources */
	wl_plan_layer plan;
	size_t *index;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *ring;
	size_t head, len;  /* the unread bytes: ring[head .. head+len) mod RING_SIZE */
	int64_t consumed;  /* stream offset of ring[head] */
	bool running, done, stop;
	volatile sig_atomic_t cancel;
	pthread_t tid;
	int rc;
	char err[512];
	wl_packed_layer out;
} pack_stream;

static int ring_write(void *ctx, const void *data, size_t n)
{
	pack_stream *ps = ctx;
	const unsigned char *p = data;
	pthread_mutex_lock(&ps->mu);
	while (n > 0) {
		while (ps->len == RING_SIZE && !ps->stop)
			pthread_cond_wait(&ps->cv, &ps->mu);
		if (ps->stop) {
			pthread_mutex_unlock(&ps->mu);
			return wl__fail(WL_ECANCELED, "canceled");
		}
		size_t tail = (ps->head + ps->len) % RING_SIZE;
		size_t room = RING_SIZE - ps->len;
		size_t k = n < room ? n : room;
		if (k > RING_SIZE - tail)
			k = RING_SIZE - tail;
		memcpy(ps->ring + tail, p, k);
		ps->len += k;
		p += k;
		n -= k;
		pthread_cond_broadcast(&ps->cv);
	}
	pthread_mutex_unlock(&ps->mu);
	return 0;
}

/* The layout's blob into the ring, hashed on the way; `out` says what it
 * held (reading stops one byte past the recorded size). */
static int copy_layout_blob(pack_stream *ps)
{
	enum { PIECE = 256 << 10 };
	unsigned char *buf = malloc(PIECE);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = buf && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : wl__nomem();
	int64_t off = 0;
	while (rc == 0 && off <= ps->layer->size) {
		ssize_t n = pread(ps->layout_fd, buf, PIECE, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = wl__fail_errno(WL_EIO, errno, "read");
		if (n <= 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
		rc = ring_write(ps, buf, (size_t)n);
	}
	if (rc == 0 && !wl__digest_final(md, ps->out.digest))
		rc = wl__nomem();
	ps->out.size = off;
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

static void *pack_thread(void *arg)
{
	pack_stream *ps = arg;
	int rc = ps->layout_fd >= 0
	             ? copy_layout_blob(ps)
	             : wl_pack_layer(&ps->out, NULL, ps->run->files, &ps->plan, 1, ring_write, ps, &ps->cancel);
	pthread_mutex_lock(&ps->mu);
	ps->rc = rc;
	if (rc != 0)
		snprintf(ps->err, sizeof ps->err, "%s", wl_error_last()->message);
	ps->done = true;
	pthread_cond_broadcast(&ps->cv);
	pthread_mutex_unlock(&ps->mu);
	return NULL;
}

static void stream_stop(pack_stream *ps)
{
	if (!ps->running)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->stop = true;
	ps->cancel = 1;
	pthread_cond_broadcast(&ps->cv);
	pthread_mutex_unlock(&ps->mu);
	pthread_join(ps->tid, NULL);
	ps->running = false;
}

static int stream_start(pack_stream *ps)
{
	stream_stop(ps);
	ps->head = ps->len = 0;
	ps->consumed = 0;
	ps->done = ps->stop = false;
	ps->cancel = 0;
	ps->rc = 0;
	ps->err[0] = '\0';
	if (pthread_create(&ps->tid, NULL, pack_thread, ps) != 0)
		return wl__fail(WL_EIO, "layer %s: cannot start the packer", ps->layer->digest.ptr);
	ps->running = true;
	return 0;
}

/* Called with the lock held: the packer failed, or made other bytes. */
static int stream_check_end(pack_stream *ps)
{
	bool layout = ps->layout_fd >= 0;
	if (ps->rc != 0)
		return wl__fail(ps->rc, "layer %s: %s: %s", ps->layer->digest.ptr,
		                layout ? "reading the layout's blob" : "packing from the sources", ps->err);
	bool same = wl_string_equal(wl_str(ps->out.digest), ps->layer->digest) && ps->out.size == ps->layer->size;
	if (!same && layout)
		return wl__fail(WL_EMISMATCH,
		                "layer %s: the layout's blob does not match its digest: it hashes to %s (%lld bytes); "
		                "nothing was uploaded under that digest",
		                ps->layer->digest.ptr, ps->out.digest, (long long)ps->out.size);
	/* The packer checked every file against its recorded digest: the same
	 * files made other bytes, so another packer made the recorded ones
	 * (Cog's gzip bytes cannot be made here). */
	if (!same)
		return wl__fail(WL_EMISMATCH,
		                "layer %s was packed by another packer: packed here from the same files it is %s "
		                "(%lld bytes); it must already be in the registry (or push from the OCI layout it was "
		                "written to), or repack the weight with `weightslock import --repack %s`",
		                ps->layer->digest.ptr, ps->out.digest, (long long)ps->out.size, ps->run->weight);
	return 0;
}

static int read_packed_at(void *ctx, int64_t off, void *buf, size_t cap, size_t *got)
{
	file_src *f = ctx;
	pack_stream *ps = f->stream;
	*got = 0;
	if (!ps->running || off < ps->consumed) {
		int rc = stream_start(ps);
		if (rc != 0)
			return rc;
	}
	const int64_t size = ps->layer->size;
	int rc = 0;
	pthread_mutex_lock(&ps->mu);
	for (;;) {
		/* bytes before `off` are not wanted */
		if (ps->consumed < off && ps->len > 0) {
			size_t k = (uint64_t)(off - ps->consumed) < ps->len ? (size_t)(off - ps->consumed) : ps->len;
			ps->head = (ps->head + k) % RING_SIZE;
			ps->len -= k;
			ps->consumed += (int64_t)k;
			pthread_cond_broadcast(&ps->cv);
			continue;
		}
		if (ps->consumed == off && ps->len > 0) {
			size_t k = cap < ps->len ? cap : ps->len;
			if (k > RING_SIZE - ps->head)
				k = RING_SIZE - ps->head;
			/* the last bytes go only once the layer is known to be the entry's */
			if (off + (int64_t)k >= size && !ps->done) {
				pthread_cond_wait(&ps->cv, &ps->mu);
				continue;
			}
			if (off + (int64_t)k >= size && (rc = stream_check_end(ps)) != 0)
				break;
			memcpy(buf, ps->ring + ps->head, k);
			ps->head = (ps->head + k) % RING_SIZE;
			ps->len -= k;
			ps->consumed += (int64_t)k;
			*got = k;
			pthread_cond_broadcast(&ps->cv);
			break;
		}
		if (ps->done) {
			rc = stream_check_end(ps); /* ended short */
			if (rc == 0)
				rc = wl__fail(WL_EMISMATCH, "layer %s: %s fewer bytes than recorded", ps->layer->digest.ptr,
				              ps->layout_fd >= 0 ? "the layout's blob holds" : "the sources pack to");
			break;
		}
		pthread_cond_wait(&ps->cv, &ps->mu);
	}
	pthread_mutex_unlock(&ps->mu);
	if (*got > 0)
		atomic_fetch_add_explicit(&f->run->bytes_done, (uint64_t)*got, memory_order_relaxed);
	return rc;
}

static int stream_init(pack_stream *ps, push_run *run, size_t li, int layout_fd)
{
	memset(ps, 0, sizeof *ps);
	const wl_entry *e = run->entry;
	ps->run = run;
	ps->layout_fd = layout_fd;
	ps->layer = &e->layers[li];
	ps->ring = malloc(RING_SIZE);
	ps->index = malloc((e->file_count ? e->file_count : 1) * sizeof *ps->index);
	if (ps->ring == NULL || ps->index == NULL) {
		free(ps->ring);
		free(ps->index);
		return wl__nomem();
	}
	/* The plan of SPEC.md §11.2 as the entry records it: the layer's files
	 * in path order, gzip by media type, level 9 for several files. */
	size_t n = 0;
	for (size_t i = 0; i < e->file_count; i++)
		if (wl_string_equal(e->files[i].layer, ps->layer->digest))
			ps->index[n++] = i;
	ps->plan.files = ps->index;
	ps->plan.file_count = n;
	ps->plan.gzip = wl_string_equal(ps->layer->media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP));
	ps->plan.gzip_level = n > 1 ? 9 : 6;
	ps->plan.bundle = n > 1;
	ps->plan.size_uncompressed = ps->layer->size_uncompressed;
	pthread_mutex_init(&ps->mu, NULL);
	pthread_cond_init(&ps->cv, NULL);
	return 0;
}

static void stream_free(pack_stream *ps)
{
	stream_stop(ps);
	pthread_mutex_destroy(&ps->mu);
	pthread_cond_destroy(&ps->cv);
	free(ps->ring);
	free(ps->index);
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
	file_src src = {-1, j, run, NULL};
	pack_stream ps;
	/* A layer, packed or read from the layout, goes through the stream
	 * that holds its last bytes until they hash to its digest. */
	bool streamed = j->mem == NULL;
	if (j->path != NULL) {
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
	if (streamed) {
		int rc2 = stream_init(&ps, run, j->layer_index, src.fd);
		if (rc2 != 0) {
			if (src.fd >= 0)
				close(src.fd);
			return rc2;
		}
		src.stream = &ps;
	}
	wl__registry_upload up = {
		.digest = j->digest,
		.size = j->size,
		.media_type = j->media_type,
		.read_at = streamed ? read_packed_at : read_mem_at,
		.ctx = &src,
	};
	rc = wl__registry_blob_put(run->reg, run->repo, &up);
	if (streamed)
		stream_free(&ps); /* stops the reader of src.fd first */
	if (src.fd >= 0)
		close(src.fd);
	if (rc == 0) {
		j->uploaded = true;
		j->mounted = up.mounted;
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

/* Where each of the entry's files is, to pack its layers on the fly: the
 * content store (by digest), else the last local source directory that has
 * a regular file of that path and size. Strings live in `st`. */
static int locate_files(wl_source_file **out, const wl_entry *e, const char *project_dir, wl_store *store,
                        wl_storage *st)
{
	*out = NULL;
	size_t nd = 0;
	char **dirs = calloc(e->source_count ? e->source_count : 1, sizeof *dirs);
	wl_source_file *files = calloc(e->file_count ? e->file_count : 1, sizeof *files);
	int rc = dirs && files ? 0 : wl__nomem();
	for (size_t i = 0; rc == 0 && i < e->source_count; i++) {
		wl_string uri = e->sources[i].uri;
		if (uri.len < 7 || strncmp(uri.ptr, "file://", 7) != 0)
			continue;
		char *dir = NULL;
		rc = wl_source_resolve(&dir, project_dir ? project_dir : ".", uri);
		if (rc == 0)
			dirs[nd++] = dir;
	}
	wl_buf b;
	wl_buf_init(&b);
	for (size_t i = 0; rc == 0 && i < e->file_count; i++) {
		const wl_file *f = &e->files[i];
		files[i].path = f->path;
		files[i].size = f->size;
		memcpy(files[i].digest, f->digest.ptr, f->digest.len < WL_DIGEST_LEN ? f->digest.len : WL_DIGEST_LEN);
		char *where = NULL;
		if (store != NULL && wl_store_has(store, f->digest.ptr, f->size) == 1)
			where = wl_store_path(store, f->digest.ptr);
		for (size_t k = nd; where == NULL && k > 0; k--) {
			b.len = 0;
			wl_buf_puts(&b, dirs[k - 1]);
			wl_buf_putc(&b, '/');
			wl_buf_put_str(&b, f->path);
			wl_buf_putc(&b, '\0');
			struct stat sb;
			if (!b.failed && lstat(b.data, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == f->size)
				where = strdup(b.data);
		}
		if (where == NULL) {
			rc = wl__fail(WL_ENOTFOUND,
			              "file %s is in none of the weight's sources (local directories, the content store): "
			              "push from an OCI layout (--oci-layout)",
			              f->path.ptr);
			break;
		}
		wl_string loc;
		if (!wl_storage_string(st, &loc, where, strlen(where)))
			rc = wl__nomem();
		files[i].location = loc.ptr;
		free(where);
	}
	wl_buf_release(&b);
	for (size_t i = 0; i < nd; i++)
		wl_free(dirs[i]);
	free(dirs);
	if (rc != 0) {
		free(files);
		return rc;
	}
	*out = files;
	return 0;
}

static int push_entry(wl_push_result *res, wl__registry *reg, const char *repo, const wl_entry *e, bool multi,
                      const char *layout_dir, const char *project_dir, wl_store *store,
                      const wl_registry_options *opts)
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
	run.entry = e;
	run.reg = reg;
	run.repo = repo;
	run.opts = opts;
	run.weight = e->name.ptr;
	wl_storage *st = NULL;
	if (rc == 0 && !present && layout_dir == NULL) {
		st = wl_storage_new();
		rc = st ? locate_files(&run.files, e, project_dir, store, st) : wl__nomem();
	}
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
			j->layer_index = i;
			if (layout_dir != NULL && (j->path = layout_blob(layout_dir, l->digest)) == NULL)
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
				res->blobs_mounted += run.jobs[i].mounted;
				res->bytes_uploaded += run.jobs[i].sent;
			}
			free(run.jobs[i].path);
		}
		free(run.jobs);
	}
	free(run.files);
	wl_storage_free(st);
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

/* SPEC.md §18.1: before any request, every tag and media type of what is
 * to be pushed must match its grammar (they go into URLs and headers). */
static int fail_grammar(const wl_entry *e, const char *what, wl_string value, const char *grammar)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, value) != 0)
		return WL_ENOMEM;
	wl__fail(WL_EINVALID, "push weight \"%s\": %s %s is not a valid %s; nothing was sent", e->name.ptr, what, q,
	         grammar);
	free(q);
	return WL_EINVALID;
}

static int validate_entry(const wl_entry *e, bool multi)
{
	char *tag = wl_push_tag(e, multi);
	if (tag == NULL)
		return wl__nomem();
	int rc = wl__tag_valid(tag, strlen(tag)) ? 0 : fail_grammar(e, "its tag", wl_str(tag), "tag");
	free(tag);
	if (rc == 0 && !wl__media_type_valid(WL_MEDIA_TYPE_CONFIG, strlen(WL_MEDIA_TYPE_CONFIG)))
		rc = fail_grammar(e, "the config media type", wl_str(WL_MEDIA_TYPE_CONFIG), "media type");
	for (size_t i = 0; rc == 0 && i < e->layer_count; i++) {
		const wl_layer *l = &e->layers[i];
		if (l->media_type.ptr == NULL || !wl__media_type_valid(l->media_type.ptr, l->media_type.len)) {
			char what[WL_DIGEST_LEN + 40];
			snprintf(what, sizeof what, "layer %s has media type", l->digest.ptr ? l->digest.ptr : "?");
			rc = fail_grammar(e, what, l->media_type, "media type");
		}
	}
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
            const wl_push_source *source, const wl_registry_options *opts)
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
	const char *layout_dir = source ? source->oci_layout : NULL;
	wl_store *store = NULL;
	for (size_t k = 0; rc == 0 && k < lock->entry_count; k++)
		if (wl__names_select(names, name_count, lock->entries[k].name))
			rc = validate_entry(&lock->entries[k], lock->multi_source);
	if (rc == 0)
		rc = wl__registry_open(&reg, &http, &repo, opts, true);
	if (rc == 0 && layout_dir == NULL && source != NULL && source->store_dir != NULL)
		rc = wl_store_open(&store, source->store_dir);
	for (size_t k = 0; rc == 0 && k < lock->entry_count; k++) {
		const wl_entry *e = &lock->entries[k];
		if (!wl__names_select(names, name_count, e->name))
			continue;
		wl_push_result *res = &report->results[report->result_count];
		res->name = e->name.ptr;
		rc = push_entry(res, reg, repo, e, lock->multi_source, layout_dir, source ? source->project_dir : NULL,
		                store, opts);
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
	wl_store_free(store);
	free(repo);
	*out = report;
	return rc;
}
