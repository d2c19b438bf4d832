/*
 * import.c - importing local weight directories (SPEC.md §11): select the
 * weights, then per weight inventory, filter, plan, hash, reuse or pack the
 * layers, assemble the entry; finally update the lockfile under the guard
 * lock and write the OCI layout, or nothing at all if any weight failed.
 *
 * The one-read-per-byte rule lives here: a file that becomes a raw `tar`
 * layer of its own is hashed by the layer producer, which feeds the file's
 * digest and the layer's digest from the same buffer; only the other files
 * go through the plain hasher. Cached digests are taken first, so a
 * re-import of an unchanged tree reads nothing and packs nothing.
 */
#include "common/internal.h"
#include "pack/pack_internal.h"
#include "source/remote.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

const char *wl_import_status_name(wl_import_status status)
{
	switch (status) {
	case WL_IMPORT_NEW: return "new";
	case WL_IMPORT_UNCHANGED: return "unchanged";
	case WL_IMPORT_CONFIG_CHANGED: return "config-changed";
	case WL_IMPORT_UPSTREAM_CHANGED: return "upstream-changed";
	}
	return "unknown";
}

const char *wl_import_decision_name(wl_import_decision decision)
{
	switch (decision) {
	case WL_IMPORT_KEEP: return "keep";
	case WL_IMPORT_PACK: return "pack";
	case WL_IMPORT_REPACK: return "repack";
	}
	return "unknown";
}

/* Why a weight is packed (the status) or repacked (§11.7 rule 1). */
static const char REASON_NEW[] = "new";
static const char REASON_DECLARATION[] = "declaration changed";
static const char REASON_UPSTREAM[] = "files changed upstream";
static const char REASON_REPACK[] = "--repack given";
static const char REASON_ENVELOPE[] = "the lockfile's envelope is another packer's";
static const char REASON_LAYERS[] = "the recorded layers do not match the plan";
static const char REASON_FOREIGN[] = "packed by another packer";

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Cog's plan sizes: units of 1024 with one decimal ("1.5GB", "512B"). */
static void format_size(char *out, size_t cap, int64_t n)
{
	static const char *units[] = {"KB", "MB", "GB", "TB", "PB"};
	if (n < 1024) {
		snprintf(out, cap, "%lldB", (long long)n);
		return;
	}
	double v = (double)n / 1024.0;
	int u = 0;
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, cap, "%.1f%s", v, units[u]);
}

static char *quoted(wl_string s)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, s) != 0)
		return NULL;
	return q;
}

static char *dup_printf(const char *fmt, ...) WL_PRINTF(1, 2);
static char *dup_printf(const char *fmt, ...)
{
	wl_buf b;
	wl_buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	char tmp[1];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(tmp, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !wl_buf_reserve(&b, (size_t)n)) {
		va_end(ap2);
		return NULL;
	}
	vsnprintf(b.data, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return b.data;
}

/* Go's %v of a pattern list. */
static void put_list(wl_buf *b, const wl_string *list, size_t n)
{
	wl_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			wl_buf_putc(b, ' ');
		wl_buf_put_str(b, list[i]);
	}
	wl_buf_putc(b, ']');
}

/* ------------------------------------------------------------------------ */
/* One weight                                                               */
/* ------------------------------------------------------------------------ */

typedef struct weight_job {
	const wl_config_weight *decl;
	const wl_source *src;         /* decl->sources[0] */
	wl_import_result *result;
	wl_source_tree *tree;
	wl_source_file *set;          /* the filtered files, sorted by path */
	size_t set_count;
	size_t *set_to_tree;          /* index of each set file in the tree */
	wl_plan *plan;
	wl_packed_layer *packed;      /* per plan layer */
	bool *produced;               /* per plan layer: packed this run */
	char fingerprint[WL__FINGERPRINT_MAX + 1];
	wl__remote *remote;           /* an hf:// or https:// source, listed */
	char **locations;             /* per set file: its content-store path (remote) */
	bool kept;                    /* the recorded entry stands (remote fast path) */
	bool hash_only;               /* a part of a multi-source weight: produce no layer */
	const char *stop_fingerprint; /* a part: stop listing when this is still the fingerprint */
	wl_source *sources;           /* a multi-source weight's entry sources (owned) */
	char (*fingerprints)[WL__FINGERPRINT_MAX + 1];
	wl_entry entry;               /* the assembled entry (owned arrays) */
	wl_file *entry_files;
	wl_layer *entry_layers;
	wl_source entry_source;
	char (*layer_digests)[WL_DIGEST_LEN + 1];
	char set_digest[WL_DIGEST_LEN + 1];
	char manifest_digest[WL_DIGEST_LEN + 1];
} weight_job;

static void weight_job_release(weight_job *w)
{
	for (size_t i = 0; w->locations != NULL && i < w->set_count; i++)
		free(w->locations[i]);
	free(w->locations);
	wl__remote_free(w->remote);
	free(w->sources);
	free(w->fingerprints);
	wl_source_tree_free(w->tree);
	free(w->set);
	free(w->set_to_tree);
	wl_plan_free(w->plan);
	free(w->packed);
	free(w->produced);
	free(w->entry_files);
	free(w->entry_layers);
	free(w->layer_digests);
	memset(w, 0, sizeof *w);
}

/* Who made the layer records of the lockfile, by its envelope (§11.6). */
typedef enum records_kind {
	RECORDS_OURS,  /* this packer, same settings: its bytes can be made again */
	RECORDS_COGS,  /* Cog, same plan settings: reusable, gzip bytes not reproducible */
	RECORDS_OTHER, /* anything else: never reused */
} records_kind;

typedef struct importer {
	const wl_config *config;
	const wl_import_options *opts;
	wl_pack_options pack;
	char envelope[WL_DIGEST_LEN + 1];
	char cog_envelope[WL_DIGEST_LEN + 1];
	records_kind records;
	wl_hash_cache *cache;
	wl_oci_layout *layout;
	const wl_lock *recorded; /* the lockfile as loaded under the guard */
	int threads;
	wl_import_report *report;
	wl__http *http;              /* for remote sources; made when first needed */
	wl_store *store;
	wl__remote_options remote;
} importer;

/* Adds a warning to the report; without memory it is lost, nothing else. */
static void warn(importer *im, char *text)
{
	wl_import_report *r = im->report;
	char **p = text ? realloc(r->warnings, (r->warning_count + 1) * sizeof *p) : NULL;
	if (p == NULL) {
		free(text);
		return;
	}
	r->warnings = p;
	r->warnings[r->warning_count++] = text;
}

static void progress(importer *im, wl_phase phase, const char *weight, uint64_t items_done,
                     uint64_t items_total, uint64_t bytes_done, uint64_t bytes_total)
{
	if (im->opts->progress == NULL)
		return;
	wl_progress p = {phase, weight, items_done, items_total, bytes_done, bytes_total};
	im->opts->progress(im->opts->progress_ctx, &p);
}

static bool entry_has_gzip(const wl_entry *x)
{
	for (size_t i = 0; x != NULL && i < x->layer_count; i++)
		if (!wl_string_equal(x->layers[i].media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR)))
			return true;
	return false;
}

/* Recorded layers may stand at all (the first conditions of rule 1). */
static bool records_reusable(const importer *im)
{
	return im->records != RECORDS_OTHER && !im->opts->repack;
}

/* For a weight whose declaration and fingerprint are as recorded in `x`:
 * why its recorded layers cannot stand, or NULL when they can. */
static const char *repack_reason(const importer *im, const wl_entry *x, bool layers_match)
{
	if (im->opts->repack)
		return REASON_REPACK;
	if (im->records == RECORDS_OTHER)
		return REASON_ENVELOPE;
	if (!layers_match)
		return REASON_LAYERS;
	/* A layout needs the layer bytes, and Cog's gzip bytes cannot be made here. */
	if (im->records == RECORDS_COGS && im->opts->oci_layout != NULL && entry_has_gzip(x))
		return REASON_FOREIGN;
	return NULL;
}

/*
 * The decision for one weight, from its status (§11.9) and rule 1 of
 * §11.7, made once for the dry run and the import alike; also what it
 * would do to the lockfile, which the import later replaces by what it
 * did. `layers_match`: the recorded layers hold the planned files.
 */
static void decide(const importer *im, weight_job *w, const wl_entry *x, bool layers_match)
{
	wl_import_result *r = w->result;
	const char *why = NULL;
	switch (r->status) {
	case WL_IMPORT_NEW: r->reason = REASON_NEW; break;
	case WL_IMPORT_CONFIG_CHANGED: r->reason = REASON_DECLARATION; break;
	case WL_IMPORT_UPSTREAM_CHANGED: r->reason = REASON_UPSTREAM; break;
	case WL_IMPORT_UNCHANGED: why = repack_reason(im, x, layers_match); break;
	}
	if (r->status != WL_IMPORT_UNCHANGED) {
		r->decision = WL_IMPORT_PACK;
		r->entry_changed = true;
	} else if (why != NULL) {
		r->decision = WL_IMPORT_REPACK;
		r->reason = why;
		/* Plain tar layers come out the same from any packer; gzip ones
		 * only from this one with the same envelope. */
		r->entry_changed = why == REASON_LAYERS || why == REASON_FOREIGN ||
		                   (im->records != RECORDS_OURS && entry_has_gzip(x));
	} else {
		r->decision = WL_IMPORT_KEEP;
		r->reason = "";
		r->entry_changed = false;
		snprintf(r->digest, sizeof r->digest, "%.*s", (int)x->digest.len, x->digest.ptr ? x->digest.ptr : "");
	}
	r->changes_lockfile = r->entry_changed || im->records == RECORDS_OTHER;
}

/* Status and Cog's "changed" lines against the recorded entry (§11.9). */
static int describe_changes(weight_job *w, const wl_entry *x)
{
	wl_import_result *r = w->result;
	const wl_source *d = w->src;
	if (x == NULL) {
		r->status = WL_IMPORT_NEW;
		return 0;
	}
	const wl_source *xs = wl_entry_source(x);
	static const wl_source none;
	if (xs == NULL)
		xs = &none;
	char *lines[4];
	size_t n = 0;
	if (!wl_string_equal(xs->uri, d->uri)) {
		char *a = quoted(xs->uri), *b = quoted(d->uri);
		lines[n++] = a && b ? dup_printf("uri: %s \xe2\x86\x92 %s", a, b) : NULL;
		free(a);
		free(b);
	}
	if (!wl_string_equal(x->target, w->decl->target)) {
		char *a = quoted(x->target), *b = quoted(w->decl->target);
		lines[n++] = a && b ? dup_printf("target: %s \xe2\x86\x92 %s", a, b) : NULL;
		free(a);
		free(b);
	}
	for (int k = 0; k < 2; k++) {
		const wl_string *xl = k ? xs->exclude : xs->include, *dl = k ? d->exclude : d->include;
		size_t xn = k ? xs->exclude_count : xs->include_count;
		size_t dn = k ? d->exclude_count : d->include_count;
		if (wl__strings_equal(xl, xn, dl, dn))
			continue;
		wl_buf b;
		wl_buf_init(&b);
		wl_buf_puts(&b, k ? "exclude: " : "include: ");
		put_list(&b, xl, xn);
		wl_buf_puts(&b, " \xe2\x86\x92 ");
		put_list(&b, dl, dn);
		char *line = NULL;
		if (wl_buf_finish(&b, &line, NULL) != 0)
			line = NULL;
		lines[n++] = line;
	}
	if (n > 0) {
		r->status = WL_IMPORT_CONFIG_CHANGED;
	} else if (!wl_string_equal(xs->fingerprint, wl_str(w->fingerprint))) {
		r->status = WL_IMPORT_UPSTREAM_CHANGED;
		lines[n++] = dup_printf("fingerprint: %.*s \xe2\x86\x92 %s", (int)xs->fingerprint.len,
		                        xs->fingerprint.ptr ? xs->fingerprint.ptr : "", w->fingerprint);
	} else {
		r->status = WL_IMPORT_UNCHANGED;
	}
	if (n == 0)
		return 0;
	r->changes = calloc(n, sizeof(char *));
	if (r->changes == NULL) {
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
		return wl__nomem();
	}
	for (size_t i = 0; i < n; i++) {
		if (lines[i] == NULL) {
			for (size_t k = 0; k < n; k++)
				free(lines[k]);
			free(r->changes);
			r->changes = NULL;
			return wl__nomem();
		}
		r->changes[i] = lines[i];
	}
	r->change_count = n;
	return 0;
}

/* The included and excluded file lists for the verbose plan. */
static int list_files(weight_job *w, const bool *keep)
{
	wl_import_result *r = w->result;
	size_t n = w->tree->file_count;
	r->included = calloc(w->set_count ? w->set_count : 1, sizeof(char *));
	r->excluded = calloc(n - w->set_count ? n - w->set_count : 1, sizeof(char *));
	if (r->included == NULL || r->excluded == NULL)
		return wl__nomem();
	for (size_t i = 0; i < n; i++) {
		const wl_source_file *f = &w->tree->files[i];
		char size[32];
		format_size(size, sizeof size, f->size);
		char *line = dup_printf("%.*s (%s)", (int)f->path.len, f->path.ptr, size);
		if (line == NULL)
			return wl__nomem();
		if (keep[i])
			r->included[r->included_count++] = line;
		else
			r->excluded[r->excluded_count++] = line;
	}
	return 0;
}

/* Sizes and the layer plan of the filtered set (again when a download
 * told sizes the listing did not). */
static int plan_set(importer *im, weight_job *w)
{
	int64_t total = 0;
	for (size_t i = 0; i < w->set_count; i++)
		total += w->set[i].size;
	w->result->file_count = w->set_count;
	w->result->size = total;
	wl_plan_free(w->plan);
	free(w->packed);
	free(w->produced);
	w->packed = NULL;
	w->produced = NULL;
	int rc = wl_plan_layers(&w->plan, w->set, w->set_count, &im->pack);
	if (rc != 0)
		return rc;
	w->packed = calloc(w->plan->layer_count, sizeof(wl_packed_layer));
	w->produced = calloc(w->plan->layer_count, sizeof(bool));
	if (w->packed == NULL || w->produced == NULL)
		return wl__nomem();
	return 0;
}

/* The HTTP client and the store, made for the first remote source. */
static int remote_setup(importer *im)
{
	if (im->http != NULL)
		return 0;
	if (im->opts->store_dir == NULL)
		return wl__fail(WL_EINVALID, "importing a remote source needs a content store directory");
	wl__http_options ho;
	wl__http_options_init(&ho);
	ho.cacert = im->opts->cacert;
	ho.cancel = im->opts->cancel;
	int rc = wl_store_open(&im->store, im->opts->store_dir);
	if (rc == 0)
		rc = wl__http_new(&im->http, &ho);
	im->remote.http = im->http;
	im->remote.hf_endpoint = im->opts->hf_endpoint;
	im->remote.hf_token = im->opts->hf_token;
	return rc;
}

static bool declaration_matches(const weight_job *w, const wl_entry *x);

/* A remote listing as a tree (no root: files get store locations). */
static int list_remote(importer *im, weight_job *w)
{
	int rc = remote_setup(im);
	/* The fast path needs only the fingerprint: the rest of the listing
	 * waits until it differs. */
	const wl_entry *x = wl_lock_find(im->recorded, w->decl->name);
	wl__remote_options o = im->remote;
	if (x != NULL && im->opts->oci_layout == NULL && records_reusable(im) && declaration_matches(w, x) &&
	    wl_entry_source(x) != NULL && wl_entry_source(x)->fingerprint.len > 0)
		o.stop_if_fingerprint = wl_entry_source(x)->fingerprint.ptr;
	if (w->hash_only)
		o.stop_if_fingerprint = w->stop_fingerprint;
	if (rc == 0)
		rc = wl__remote_list(&w->remote, w->src->uri, &o);
	if (rc != 0)
		return rc;
	const wl__remote *r = w->remote;
	if (r->has_query)
		warn(im, dup_printf("weight \"%s\": the source URI %.*s has a query string; it is recorded in the "
		                    "lockfile as written",
		                    w->decl->name.ptr, (int)w->src->uri.len, w->src->uri.ptr));
	snprintf(w->fingerprint, sizeof w->fingerprint, "%s", r->fingerprint);
	wl_source_tree *t = calloc(1, sizeof *t);
	if (t == NULL || (t->storage = wl_storage_new()) == NULL || (t->root = wl_storage_alloc(t->storage, 1)) == NULL) {
		wl_source_tree_free(t);
		return wl__nomem();
	}
	w->tree = t;
	t->root[0] = '\0';
	if (r->count > 0) {
		t->files = wl_storage_alloc(t->storage, r->count * sizeof *t->files);
		if (t->files == NULL)
			return wl__nomem();
		memset(t->files, 0, r->count * sizeof *t->files);
	}
	for (size_t i = 0; i < r->count; i++) {
		t->files[i].path = r->files[i].path;
		t->files[i].size = r->files[i].size < 0 ? 0 : r->files[i].size;
		memcpy(t->files[i].digest, r->files[i].digest, sizeof t->files[i].digest);
	}
	t->file_count = r->count;
	return 0;
}

/* Walk (or list), filter, plan (steps 1-3 of §11.1). */
static int inventory(importer *im, weight_job *w)
{
	const char *name = w->decl->name.ptr ? w->decl->name.ptr : "";
	int rc;
	progress(im, WL_PHASE_WALK, name, 0, 0, 0, 0);
	if (wl__remote_uri(w->src->uri)) {
		rc = list_remote(im, w);
		if (rc == 0 && w->remote->unchanged)
			return 0; /* the recorded entry stands: nothing to filter or plan */
	} else {
		char *dir = NULL;
		rc = wl_source_resolve(&dir, im->opts->project_dir ? im->opts->project_dir : ".", w->src->uri);
		if (rc == 0)
			rc = wl_source_walk(&w->tree, dir);
		wl_free(dir);
	}
	if (rc != 0)
		return rc;
	wl_filter *filter = NULL;
	rc = wl_filter_new(&filter, w->src->include, w->src->include_count, w->src->exclude,
	                   w->src->exclude_count);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < wl_filter_warning_count(filter); i++)
		warn(im, dup_printf("weight \"%s\": %s", name, wl_filter_warning(filter, i)));
	size_t n = w->tree->file_count;
	bool *keep = calloc(n ? n : 1, sizeof(bool));
	if (keep == NULL) {
		wl_filter_free(filter);
		return wl__nomem();
	}
	size_t kept = 0;
	rc = wl_filter_select(keep, &kept, filter, w->tree->files, n);
	wl_filter_free(filter);
	if (rc != 0) {
		free(keep);
		return wl__error_prefix("filter weight \"%s\"", name);
	}
	if (kept == 0) {
		free(keep);
		return wl__fail(WL_EINVALID, "inventory is empty");
	}
	w->set = calloc(kept, sizeof(wl_source_file));
	w->set_to_tree = calloc(kept, sizeof(size_t));
	if (w->set == NULL || w->set_to_tree == NULL) {
		free(keep);
		return wl__nomem();
	}
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		w->set_to_tree[w->set_count] = i;
		w->set[w->set_count++] = w->tree->files[i];
	}
	rc = list_files(w, keep);
	free(keep);
	if (rc != 0)
		return rc;
	return plan_set(im, w);
}

/* Copies digests between the filtered set and the whole tree. */
static void set_to_tree(weight_job *w)
{
	for (size_t i = 0; i < w->set_count; i++)
		memcpy(w->tree->files[w->set_to_tree[i]].digest, w->set[i].digest, sizeof w->set[i].digest);
}

static void tree_to_set(weight_job *w)
{
	for (size_t i = 0; i < w->set_count; i++)
		memcpy(w->set[i].digest, w->tree->files[w->set_to_tree[i]].digest, sizeof w->set[i].digest);
}

/* ---- packing jobs ---- */

typedef struct pack_run {
	importer *im;
	weight_job *w;
	size_t *layers; /* plan layer indexes to produce */
	size_t count;
	int threads_each;
} pack_run;

/* Produces one planned layer, into the layout when there is one. */
static int produce_layer(importer *im, weight_job *w, size_t li, int threads)
{
	const wl_plan_layer *pl = &w->plan->layers[li];
	wl_oci_blob *blob = NULL;
	int rc;
	if (im->layout != NULL && (rc = wl_oci_blob_begin(&blob, im->layout)) != 0)
		return rc;
	int64_t started = now_ns();
	rc = wl_pack_layer(&w->packed[li], w->tree->root, w->set, pl, threads,
	                   blob ? wl_oci_blob_write : NULL, blob, im->opts->cancel);
	if (rc != 0) {
		wl_oci_blob_abort(blob);
		return rc;
	}
	if (blob != NULL && (rc = wl_oci_blob_commit(blob, w->packed[li].digest)) != 0)
		return rc;
	w->produced[li] = true;
	if (im->cache != NULL)
		for (size_t k = 0; k < pl->file_count; k++)
			wl_hash_cache_put(im->cache, &w->set[pl->files[k]], started);
	return 0;
}

static int pack_job(void *ctx, size_t job)
{
	pack_run *run = ctx;
	return produce_layer(run->im, run->w, run->layers[job], run->threads_each);
}

/*
 * Produces the listed layers: plain tar layers side by side, one thread
 * each (the file and layer hashes come from one read); then the gzip
 * layers, also side by side (as many at once as there are threads), each
 * compressing its blocks on every thread, so small layers never leave a
 * core idle. Gzip bytes do not depend on the thread count.
 */
static int produce_layers(importer *im, weight_job *w, const size_t *layers, size_t count)
{
	size_t *raw = calloc(count ? count : 1, sizeof(size_t));
	size_t *gz = calloc(count ? count : 1, sizeof(size_t));
	if (raw == NULL || gz == NULL) {
		free(raw);
		free(gz);
		return wl__nomem();
	}
	size_t nraw = 0, ngz = 0;
	int rc = 0;
	for (size_t i = 0; i < count; i++) {
		if (w->plan->layers[layers[i]].gzip)
			gz[ngz++] = layers[i];
		else
			raw[nraw++] = layers[i];
	}
	if (nraw > 0) {
		pack_run run = {im, w, raw, nraw, 1};
		rc = wl__run_parallel(nraw, im->threads, pack_job, &run, NULL, NULL, im->opts->cancel);
	}
	if (rc == 0 && ngz > 0) {
		pack_run run = {im, w, gz, ngz, im->threads};
		rc = wl__run_parallel(ngz, im->threads, pack_job, &run, NULL, NULL, im->opts->cancel);
	}
	free(raw);
	free(gz);
	return rc;
}

/* Hashes every file of the tree (§9.3): cached digests first, then the
 * uncached files of plain tar layers through the layer producer (unless
 * this is a dry run), then everything else. */
static int hash_tree(importer *im, weight_job *w)
{
	const char *name = w->decl->name.ptr;
	wl_source_tree *t = w->tree;
	if (im->cache != NULL)
		for (size_t i = 0; i < t->file_count; i++)
			if (t->files[i].digest[0] == '\0')
				wl_hash_cache_get(im->cache, &t->files[i], t->files[i].digest);
	tree_to_set(w);
	if (!im->opts->dry_run && !w->hash_only) {
		size_t *todo = calloc(w->plan->layer_count ? w->plan->layer_count : 1, sizeof(size_t));
		if (todo == NULL)
			return wl__nomem();
		size_t n = 0;
		for (size_t li = 0; li < w->plan->layer_count; li++) {
			const wl_plan_layer *pl = &w->plan->layers[li];
			if (!pl->gzip && pl->file_count == 1 && w->set[pl->files[0]].digest[0] == '\0')
				todo[n++] = li;
		}
		int rc = 0;
		if (n > 0) {
			progress(im, WL_PHASE_HASH, name, 0, n, 0, 0);
			rc = produce_layers(im, w, todo, n);
		}
		free(todo);
		if (rc != 0)
			return rc;
		set_to_tree(w);
	}
	wl_hash_options ho = {
		.threads = im->threads,
		.cache = im->cache,
		.progress = im->opts->progress,
		.progress_ctx = im->opts->progress_ctx,
		.weight = name,
		.cancel = im->opts->cancel,
		.map_files = im->opts->map_files,
	};
	int rc = wl_source_hash(t, &ho);
	if (rc != 0)
		return rc;
	tree_to_set(w);
	wl_dirhash_part *parts = calloc(t->file_count ? t->file_count : 1, sizeof *parts);
	if (parts == NULL)
		return wl__nomem();
	for (size_t i = 0; i < t->file_count; i++) {
		parts[i].path = t->files[i].path;
		parts[i].digest = wl_str(t->files[i].digest);
	}
	rc = wl_dirhash(w->fingerprint, parts, t->file_count);
	free(parts);
	return rc;
}

/* ---- the fast path (§11.7 rule 1) ---- */

typedef struct layer_key {
	char *key;
	size_t len;
} layer_key;

static int key_cmp(const void *a, const void *b)
{
	const layer_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int path_ptr_cmp(const void *a, const void *b)
{
	const wl_file *x = *(const wl_file *const *)a, *y = *(const wl_file *const *)b;
	return wl_string_compare(x->path, y->path);
}

/* "path NUL digest" lines joined by LF. */
static char *make_key(size_t *len, const wl_file *const *files, size_t n)
{
	wl_buf b;
	wl_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i)
			wl_buf_putc(&b, '\n');
		wl_buf_put_str(&b, files[i]->path);
		wl_buf_putc(&b, '\0');
		wl_buf_put_str(&b, files[i]->digest);
	}
	char *out = NULL;
	if (wl_buf_finish(&b, &out, len) != 0)
		return NULL;
	return out;
}

/*
 * Whether the recorded entry's layers can stand for the plan: same number,
 * and every recorded layer's key equals some planned layer's key. When
 * they can, each planned layer takes the matching record.
 */
static bool reuse_recorded_layers(weight_job *w, const wl_entry *x)
{
	size_t n = w->plan->layer_count;
	if (x->layer_count != n)
		return false;
	bool ok = false;
	layer_key *planned = calloc(n, sizeof *planned);
	size_t *order = calloc(n, sizeof *order);
	const wl_file **scratch = calloc(x->file_count + w->set_count + 1, sizeof *scratch);
	wl_file *tmp = calloc(w->set_count + 1, sizeof *tmp);
	if (planned == NULL || order == NULL || scratch == NULL || tmp == NULL)
		goto out;
	for (size_t li = 0; li < n; li++) {
		const wl_plan_layer *pl = &w->plan->layers[li];
		for (size_t k = 0; k < pl->file_count; k++) {
			const wl_source_file *f = &w->set[pl->files[k]];
			tmp[k].path = f->path;
			tmp[k].digest = wl_str(f->digest);
			scratch[k] = &tmp[k];
		}
		planned[li].key = make_key(&planned[li].len, scratch, pl->file_count);
		if (planned[li].key == NULL)
			goto out;
	}
	for (size_t ri = 0; ri < n; ri++) {
		const wl_layer *rl = &x->layers[ri];
		size_t m = 0;
		for (size_t k = 0; k < x->file_count; k++)
			if (wl_string_equal(x->files[k].layer, rl->digest))
				scratch[m++] = &x->files[k];
		qsort(scratch, m, sizeof *scratch, path_ptr_cmp);
		layer_key rk;
		rk.key = make_key(&rk.len, scratch, m);
		if (rk.key == NULL)
			goto out;
		size_t match = n;
		for (size_t li = 0; li < n && match == n; li++)
			if (key_cmp(&rk, &planned[li]) == 0)
				match = li;
		free(rk.key);
		if (match == n)
			goto out;
		order[match] = ri + 1;
	}
	for (size_t li = 0; li < n; li++)
		if (order[li] == 0)
			goto out;
	for (size_t li = 0; li < n; li++) {
		const wl_layer *rl = &x->layers[order[li] - 1];
		if (rl->digest.len != WL_DIGEST_LEN)
			goto out;
		memcpy(w->packed[li].digest, rl->digest.ptr, WL_DIGEST_LEN);
		w->packed[li].digest[WL_DIGEST_LEN] = '\0';
		w->packed[li].size = rl->size;
		w->packed[li].media_type = wl_string_equal(rl->media_type, wl_str(WL_MEDIA_TYPE_LAYER_TAR))
		                               ? WL_MEDIA_TYPE_LAYER_TAR
		                               : WL_MEDIA_TYPE_LAYER_TAR_GZIP;
	}
	ok = true;
out:
	if (planned != NULL)
		for (size_t li = 0; li < n; li++)
			free(planned[li].key);
	free(planned);
	free(order);
	free(scratch);
	free(tmp);
	return ok;
}

static bool declaration_matches(const weight_job *w, const wl_entry *x)
{
	const wl_source *xs = wl_entry_source(x);
	const wl_source *d = w->src;
	return xs != NULL && wl_string_equal(x->target, w->decl->target) &&
	       wl_string_equal(xs->uri, d->uri) &&
	       wl__strings_equal(xs->include, xs->include_count, d->include, d->include_count) &&
	       wl__strings_equal(xs->exclude, xs->exclude_count, d->exclude, d->exclude_count);
}

/* ---- entry assembly (§11.5) ---- */

static int file_cmp(const void *a, const void *b)
{
	return wl_string_compare(((const wl_file *)a)->path, ((const wl_file *)b)->path);
}

static int assemble(importer *im, weight_job *w)
{
	(void)im;
	size_t nl = w->plan->layer_count;
	w->entry_files = calloc(w->set_count, sizeof(wl_file));
	w->entry_layers = calloc(nl, sizeof(wl_layer));
	w->layer_digests = calloc(nl, sizeof *w->layer_digests);
	if (w->entry_files == NULL || w->entry_layers == NULL || w->layer_digests == NULL)
		return wl__nomem();
	int64_t size = 0, compressed = 0;
	size_t nf = 0;
	for (size_t li = 0; li < nl; li++) {
		const wl_plan_layer *pl = &w->plan->layers[li];
		memcpy(w->layer_digests[li], w->packed[li].digest, sizeof w->layer_digests[li]);
		wl_layer *l = &w->entry_layers[li];
		l->digest = wl_str(w->layer_digests[li]);
		l->media_type = wl_str(w->packed[li].media_type);
		l->size = w->packed[li].size;
		l->size_uncompressed = pl->size_uncompressed;
		if (wl_add_overflows_i64(size, l->size_uncompressed, &size) ||
		    wl_add_overflows_i64(compressed, l->size, &compressed))
			return wl__fail(WL_EINVALID, "total size overflows");
		for (size_t k = 0; k < pl->file_count; k++) {
			const wl_source_file *f = &w->set[pl->files[k]];
			wl_file *ef = &w->entry_files[nf++];
			ef->path = f->path;
			ef->size = f->size;
			ef->digest = wl_str(f->digest);
			ef->layer = l->digest;
		}
	}
	qsort(w->entry_files, nf, sizeof(wl_file), file_cmp);
	wl_source *s = &w->entry_source;
	*s = *w->src;
	s->fingerprint = wl_str(w->fingerprint);
	wl_entry *e = &w->entry;
	memset(e, 0, sizeof *e);
	e->name = w->decl->name;
	e->target = w->decl->target;
	e->sources = w->sources != NULL ? w->sources : s;
	e->source_count = w->sources != NULL ? w->decl->source_count : 1;
	e->sources_present = true;
	e->imported_at = wl_time_now();
	e->size = size;
	e->size_compressed = compressed;
	e->files = w->entry_files;
	e->file_count = nf;
	e->files_present = true;
	e->layers = w->entry_layers;
	e->layer_count = nl;
	e->layers_present = true;
	wl_entry_normalize(e);
	int rc = wl_entry_set_digest(w->set_digest, e);
	if (rc != 0)
		return rc;
	e->set_digest = wl_str(w->set_digest);
	char *manifest = NULL;
	size_t mlen = 0;
	rc = wl_entry_manifest(&manifest, &mlen, e);
	if (rc != 0)
		return wl__error_prefix("build weight manifest");
	wl_sha256_digest(w->manifest_digest, manifest, mlen);
	wl_free(manifest);
	e->digest = wl_str(w->manifest_digest);
	return 0;
}

/* ---- remote sources (§16.3) ---- */

typedef struct fetch_run {
	importer *im;
	weight_job *w;
	size_t *remote_index; /* per set file: its index in the listing */
	long *stream_layer;   /* per set file: the plan layer digested as it arrives, or -1 */
	_Atomic uint64_t bytes_done;
	_Atomic uint64_t files_done;
	uint64_t bytes_total;
} fetch_run;

static void fetch_tick(void *ctx)
{
	fetch_run *run = ctx;
	progress(run->im, WL_PHASE_FETCH, run->w->decl->name.ptr, atomic_load(&run->files_done), run->w->set_count,
	         atomic_load(&run->bytes_done), run->bytes_total);
}

static int stream_restart(void *ctx)
{
	return wl__layer_stream_restart(ctx);
}

static int fetch_job(void *ctx, size_t i)
{
	fetch_run *run = ctx;
	weight_job *w = run->w;
	size_t k = run->remote_index[i];
	wl__remote_options o = run->im->remote;
	o.bytes_done = &run->bytes_done;
	/* A file that is a plain tar layer of its own: the layer is digested
	 * from the download itself, so its bytes are not read again. */
	long li = run->stream_layer != NULL ? run->stream_layer[i] : -1;
	wl__layer_stream *stream = NULL;
	bool fed = false;
	int rc = li >= 0 ? wl__layer_stream_begin(&stream, w->set[i].path, w->set[i].size) : 0;
	wl__remote_tee tee = {wl__layer_stream_write, stream_restart, stream, &fed};
	if (rc == 0)
		rc = wl__remote_fetch(w->remote, k, run->im->store, &o, &w->locations[i], stream ? &tee : NULL);
	if (rc == 0 && fed) {
		rc = wl__layer_stream_finish(stream, &w->packed[li]);
		if (rc == 0)
			w->produced[li] = true;
	}
	wl__layer_stream_free(stream);
	if (rc != 0)
		return rc;
	atomic_fetch_add(&run->files_done, 1);
	memcpy(w->set[i].digest, w->remote->files[k].digest, sizeof w->set[i].digest);
	w->set[i].location = w->locations[i];
	if (w->remote->files[k].size < 0) {
		/* A size only the download told. */
		struct stat st;
		if (stat(w->locations[i], &st) != 0)
			return wl__fail_errno(WL_EIO, errno, "stat %s", w->locations[i]);
		w->set[i].size = (int64_t)st.st_size;
	}
	return 0;
}

/* Every file of the filtered set into the store (already there: not
 * downloaded); the set then reads from the store. */
static int fetch_set(importer *im, weight_job *w)
{
	w->locations = calloc(w->set_count ? w->set_count : 1, sizeof(char *));
	size_t *index = calloc(w->set_count ? w->set_count : 1, sizeof(size_t));
	if (w->locations == NULL || index == NULL) {
		free(index);
		return wl__nomem();
	}
	/* The set and the listing are both sorted by path. */
	for (size_t i = 0, k = 0; i < w->set_count; i++) {
		while (!wl_string_equal(w->remote->files[k].path, w->set[i].path))
			k++;
		index[i] = k;
	}
	/* Without a layout to write, standalone plain layers of files whose
	 * size is known are digested as they download. */
	long *stream_layer = NULL;
	if (im->layout == NULL && w->plan != NULL && (stream_layer = malloc(w->set_count * sizeof(long) + 1)) != NULL) {
		for (size_t i = 0; i < w->set_count; i++)
			stream_layer[i] = -1;
		for (size_t li = 0; li < w->plan->layer_count; li++) {
			const wl_plan_layer *pl = &w->plan->layers[li];
			if (!pl->gzip && pl->file_count == 1 && w->remote->files[index[pl->files[0]]].size >= 0)
				stream_layer[pl->files[0]] = (long)li;
		}
	}
	fetch_run run = {.im = im, .w = w, .remote_index = index, .stream_layer = stream_layer};
	atomic_init(&run.bytes_done, 0);
	atomic_init(&run.files_done, 0);
	for (size_t i = 0; i < w->set_count; i++)
		run.bytes_total += (uint64_t)w->set[i].size;
	fetch_tick(&run);
	/* Downloads wait on the network more than on a core: more of them at
	 * once than there are threads. */
	int threads = im->threads > 0 ? im->threads * 2 : 8;
	int rc = wl__run_parallel(w->set_count, threads, fetch_job, &run,
	                          im->opts->progress != NULL ? fetch_tick : NULL, &run, im->opts->cancel);
	if (rc == 0)
		fetch_tick(&run);
	bool sized = true;
	for (size_t i = 0; i < w->set_count; i++)
		sized = sized && w->remote->files[index[i]].size >= 0;
	free(index);
	free(stream_layer);
	if (rc == 0 && w->fingerprint[0] == '\0') {
		/* An https:// file without a strong ETag: its content digest. */
		rc = wl__remote_set_content_fingerprint(w->remote);
		snprintf(w->fingerprint, sizeof w->fingerprint, "%s", w->remote->fingerprint);
	}
	if (rc == 0 && !sized)
		rc = plan_set(im, w);
	return rc;
}

static void result_release(wl_import_result *r)
{
	for (size_t k = 0; k < r->change_count; k++)
		free(r->changes[k]);
	for (size_t k = 0; k < r->included_count; k++)
		free(r->included[k]);
	for (size_t k = 0; k < r->excluded_count; k++)
		free(r->excluded[k]);
	free(r->changes);
	free(r->included);
	free(r->excluded);
}

/* Rule 7: a weight decided "keep" whose layers were produced anyway (for a
 * layout) and came out other than recorded was packed by another packer. */
static void confirm_kept(weight_job *w, const wl_entry *x)
{
	wl_import_result *r = w->result;
	if (r->decision == WL_IMPORT_KEEP && !wl_entries_equal(x, &w->entry)) {
		r->decision = WL_IMPORT_REPACK;
		r->reason = REASON_FOREIGN;
		r->digest[0] = '\0';
	}
}

/* Is the file of path `p` in `set` (sorted) already? Its index, or -1. */
static long find_in_set(const wl_source_file *set, size_t n, wl_string p)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = wl_string_compare(set[mid].path, p);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int set_cmp(const void *a, const void *b)
{
	return wl_string_compare(((const wl_source_file *)a)->path, ((const wl_source_file *)b)->path);
}

/* Source `k` of a multi-source weight as a job of its own. */
static weight_job *part_init(weight_job *parts, wl_import_result *results, const weight_job *w, size_t k)
{
	weight_job *pj = &parts[k];
	pj->decl = w->decl;
	pj->src = &w->decl->sources[k];
	pj->result = &results[k];
	pj->result->name = w->decl->name;
	pj->hash_only = true;
	return pj;
}

/*
 * A weight declared with several sources (§16.3): each source listed,
 * filtered and read on its own (local files hashed, remote files fetched),
 * then merged in declaration order, a later source's file replacing an
 * earlier one's of the same path; every file is read from where it lives
 * (its location). The entry records one source per declaration.
 */
static int import_multi(importer *im, weight_job *w)
{
	size_t ns = w->decl->source_count;
	weight_job *parts = calloc(ns, sizeof *parts);
	wl_import_result *results = calloc(ns, sizeof *results);
	w->sources = calloc(ns, sizeof *w->sources);
	w->fingerprints = calloc(ns, sizeof *w->fingerprints);
	if (parts == NULL || results == NULL || w->sources == NULL || w->fingerprints == NULL) {
		free(parts);
		free(results);
		return wl__nomem();
	}
	int rc = 0;
	size_t total = 0;
	/* Fast path: the recorded entry has these very sources (same
	 * declaration, same envelope, no layout to fill); if every source's
	 * fingerprint is unchanged it stands, and remote files are not fetched. */
	const wl_entry *x = wl_lock_find(im->recorded, w->decl->name);
	bool declared_same = x != NULL && x->source_count == ns && wl_string_equal(x->target, w->decl->target);
	bool recorded_fingerprints = declared_same;
	for (size_t k = 0; declared_same && k < ns; k++) {
		const wl_source *a = &x->sources[k], *d = &w->decl->sources[k];
		declared_same = wl_string_equal(a->uri, d->uri) &&
		                wl__strings_equal(a->include, a->include_count, d->include, d->include_count) &&
		                wl__strings_equal(a->exclude, a->exclude_count, d->exclude, d->exclude_count);
		recorded_fingerprints = recorded_fingerprints && a->fingerprint.len > 0;
	}
	bool fast = declared_same && recorded_fingerprints && records_reusable(im) && im->opts->oci_layout == NULL;
	for (size_t k = 0; fast && k < ns && rc == 0; k++) {
		weight_job *pj = part_init(parts, results, w, k);
		pj->stop_fingerprint = x->sources[k].fingerprint.ptr;
		rc = inventory(im, pj);
		if (rc == 0 && pj->remote == NULL)
			rc = hash_tree(im, pj);
		fast = rc == 0 && (pj->remote != NULL ? pj->remote->unchanged
		                                      : wl_string_equal(x->sources[k].fingerprint, wl_str(pj->fingerprint)));
	}
	for (size_t k = 0; k < ns; k++) {
		weight_job_release(&parts[k]);
		result_release(&results[k]);
		memset(&results[k], 0, sizeof results[k]);
	}
	if (rc == 0 && fast) {
		free(parts);
		free(results);
		w->entry = *x;
		w->kept = true;
		w->result->status = WL_IMPORT_UNCHANGED;
		decide(im, w, x, true);
		w->result->file_count = x->file_count;
		w->result->size = x->size;
		return 0;
	}
	for (size_t k = 0; k < ns && rc == 0; k++) {
		weight_job *pj = part_init(parts, results, w, k);
		rc = inventory(im, pj);
		if (rc == 0 && pj->remote != NULL && !im->opts->dry_run)
			rc = fetch_set(im, pj);
		else if (rc == 0 && pj->remote == NULL)
			rc = hash_tree(im, pj);
		if (rc == 0) {
			memcpy(w->fingerprints[k], pj->fingerprint, sizeof w->fingerprints[k]);
			w->sources[k] = *pj->src;
			w->sources[k].fingerprint = wl_str(w->fingerprints[k]);
			total += pj->set_count;
		}
	}
	/* Merged, later sources winning. */
	wl_source_file *set = rc == 0 ? calloc(total ? total : 1, sizeof *set) : NULL;
	char **locations = rc == 0 ? calloc(total ? total : 1, sizeof(char *)) : NULL;
	if (rc == 0 && (set == NULL || locations == NULL))
		rc = wl__nomem();
	size_t n = 0;
	for (size_t k = 0; k < ns && rc == 0; k++) {
		weight_job *pj = &parts[k];
		size_t before = n;
		for (size_t i = 0; i < pj->set_count && rc == 0; i++) {
			wl_source_file f = pj->set[i];
			char *loc = NULL;
			if (f.location != NULL)
				loc = strdup(f.location);
			else if (asprintf(&loc, "%s/%.*s", pj->tree->root, (int)f.path.len, f.path.ptr) < 0)
				loc = NULL;
			if (loc == NULL) {
				rc = wl__nomem();
				break;
			}
			/* Paths live in the part's storage: copied into ours. */
			wl_string path;
			if (!wl_storage_string(w->tree->storage, &path, f.path.ptr, f.path.len)) {
				free(loc);
				rc = wl__nomem();
				break;
			}
			f.path = path;
			f.location = loc;
			f.dev = f.ino = 0; /* read by location; the digest is checked */
			long at = find_in_set(set, before, f.path);
			if (at >= 0) {
				free(locations[at]);
				locations[at] = loc;
				set[at] = f;
			} else {
				locations[n] = loc;
				set[n++] = f;
			}
		}
		/* Keep the merged set sorted for the next source's lookups;
		 * locations follow their files. */
		qsort(set, n, sizeof *set, set_cmp);
		for (size_t i = 0; i < n; i++)
			locations[i] = (char *)set[i].location;
	}
	for (size_t k = 0; k < ns; k++)
		weight_job_release(&parts[k]);
	for (size_t k = 0; k < ns; k++)
		result_release(&results[k]);
	free(parts);
	free(results);
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			free(locations[i]);
		free(locations);
		free(set);
		return rc;
	}
	w->set = set;
	w->set_count = n;
	w->locations = locations;
	rc = plan_set(im, w);
	if (rc != 0)
		return rc;
	bool same_fingerprints = declared_same;
	for (size_t k = 0; same_fingerprints && k < ns; k++)
		same_fingerprints = wl_string_equal(x->sources[k].fingerprint, wl_str(w->fingerprints[k]));
	w->result->status = x == NULL          ? WL_IMPORT_NEW
	                    : !declared_same   ? WL_IMPORT_CONFIG_CHANGED
	                    : !same_fingerprints ? WL_IMPORT_UPSTREAM_CHANGED
	                                       : WL_IMPORT_UNCHANGED;
	/* The layers of a multi-source weight are packed whenever it is not
	 * kept above; packed the same, its entry stays as recorded. */
	decide(im, w, x, true);
	if (im->opts->dry_run)
		return 0;
	size_t nl = w->plan->layer_count;
	size_t *todo = calloc(nl ? nl : 1, sizeof(size_t));
	if (todo == NULL)
		return wl__nomem();
	for (size_t li = 0; li < nl; li++)
		todo[li] = li;
	progress(im, WL_PHASE_PACK, w->decl->name.ptr, 0, nl, 0, 0);
	rc = produce_layers(im, w, todo, nl);
	free(todo);
	if (rc != 0)
		return rc;
	w->result->packed = nl > 0;
	rc = assemble(im, w);
	if (rc == 0)
		confirm_kept(w, x);
	return rc;
}

/* Everything for one weight short of touching the lockfile. */
static int import_weight(importer *im, weight_job *w)
{
	if (w->decl->source_count > 1) {
		/* An empty tree: the merged files carry their own locations. */
		w->tree = calloc(1, sizeof *w->tree);
		if (w->tree == NULL || (w->tree->storage = wl_storage_new()) == NULL ||
		    (w->tree->root = wl_storage_alloc(w->tree->storage, 1)) == NULL)
			return wl__nomem();
		w->tree->root[0] = '\0';
		return import_multi(im, w);
	}
	int rc = inventory(im, w);
	const wl_entry *x = wl_lock_find(im->recorded, w->decl->name);
	if (rc == 0 && w->remote != NULL) {
		/* Fast path: same commit or strong ETag, same declaration and
		 * envelope: the recorded entry stands and nothing is fetched. */
		if (w->remote->unchanged) {
			rc = describe_changes(w, x);
			decide(im, w, x, true);
			w->entry = *x;
			w->kept = true;
			w->result->file_count = x->file_count;
			w->result->size = x->size;
			return rc;
		}
		if (!im->opts->dry_run) {
			rc = fetch_set(im, w);
		} else if (w->fingerprint[0] == '\0' && w->remote->count == 1 && w->set_count == 1) {
			/* An https:// file without a strong ETag: a dry run hashes
			 * its bytes as they come and keeps none of them. */
			rc = wl__remote_hash(w->remote, 0, &im->remote);
			if (rc == 0)
				rc = wl__remote_set_content_fingerprint(w->remote);
			if (rc == 0) {
				memcpy(w->set[0].digest, w->remote->files[0].digest, sizeof w->set[0].digest);
				snprintf(w->fingerprint, sizeof w->fingerprint, "%s", w->remote->fingerprint);
			}
		}
	} else if (rc == 0) {
		rc = hash_tree(im, w);
	}
	if (rc == 0)
		rc = describe_changes(w, x);
	if (rc != 0)
		return rc;

	/* Rule 1: the recorded layers stand for the plan only if the
	 * envelope, the declaration and the fingerprint are unchanged and the
	 * layers hold the same files. */
	size_t nl = w->plan->layer_count;
	wl_packed_layer *fresh = calloc(nl, sizeof *fresh);
	size_t *todo = calloc(nl, sizeof(size_t));
	if (fresh == NULL || todo == NULL) {
		free(fresh);
		free(todo);
		return wl__nomem();
	}
	memcpy(fresh, w->packed, nl * sizeof *fresh);
	bool layers_match = false;
	if (x != NULL && w->result->status == WL_IMPORT_UNCHANGED) {
		/* A dry run of a remote source has only the listing's digests:
		 * the same commit or ETag is taken to hold the recorded files. */
		bool known = true;
		for (size_t i = 0; i < w->set_count && known; i++)
			known = w->set[i].digest[0] != '\0';
		layers_match = known ? reuse_recorded_layers(w, x) : im->opts->dry_run;
	}
	decide(im, w, x, layers_match);
	if (im->opts->dry_run) {
		free(fresh);
		free(todo);
		return 0;
	}
	bool fast = w->result->decision == WL_IMPORT_KEEP;
	/* Rule 7: a layer produced while hashing must agree with its record. */
	for (size_t li = 0; li < nl && fast; li++)
		if (w->produced[li] && strcmp(fresh[li].digest, w->packed[li].digest) != 0)
			fast = false;
	size_t n = 0;
	for (size_t li = 0; li < nl; li++) {
		if (w->produced[li]) {
			w->packed[li] = fresh[li];
			continue;
		}
		/* With a layout every layer is produced, and the produced
		 * values are the ones recorded (rule 7). */
		if (!fast || im->layout != NULL)
			todo[n++] = li;
	}
	free(fresh);
	if (n > 0) {
		progress(im, WL_PHASE_PACK, w->decl->name.ptr, 0, n, 0, 0);
		rc = produce_layers(im, w, todo, n);
		progress(im, WL_PHASE_PACK, w->decl->name.ptr, n, n, 0, 0);
	}
	free(todo);
	if (rc != 0)
		return rc;
	bool any = n > 0;
	for (size_t li = 0; li < nl; li++)
		any = any || w->produced[li];
	w->result->packed = any;
	rc = assemble(im, w);
	if (rc == 0)
		confirm_kept(w, x);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Selection and the lockfile update                                        */
/* ------------------------------------------------------------------------ */

static bool is_file_source(const wl_config_weight *d)
{
	return d->source_count == 1 && ((d->sources[0].uri.len >= 7 && memcmp(d->sources[0].uri.ptr, "file://", 7) == 0) ||
	                                wl__remote_uri(d->sources[0].uri));
}

/* The declarations to import, in cog.yaml order (§11.1). */
static int select_weights(const wl_config_weight ***out, size_t *count, const wl_config *config,
                          const wl_import_options *opts)
{
	*out = NULL;
	*count = 0;
	if (config->weight_count == 0)
		return wl__fail(WL_EINVALID, "no weights defined in cog.yaml");
	for (size_t i = 0; i < opts->name_count; i++) {
		bool found = false;
		for (size_t k = 0; k < config->weight_count && !found; k++)
			found = wl_string_equal(config->weights[k].name, opts->names[i]);
		if (!found) {
			char *q = quoted(opts->names[i]);
			int rc = wl__fail(WL_ENOENTRY, "weight %s not found in cog.yaml", q ? q : "");
			free(q);
			return rc;
		}
	}
	const wl_config_weight **sel = calloc(config->weight_count, sizeof *sel);
	if (sel == NULL)
		return wl__nomem();
	size_t n = 0;
	for (size_t k = 0; k < config->weight_count; k++) {
		const wl_config_weight *d = &config->weights[k];
		bool named = opts->names == NULL;
		for (size_t i = 0; i < opts->name_count && !named; i++)
			named = wl_string_equal(d->name, opts->names[i]);
		if (!named)
			continue;
		char *q = quoted(d->name);
		if (d->source_count == 0) {
			int rc = wl__fail(WL_EINVALID, "weight %s: no source declared", q ? q : "");
			free(q);
			free(sel);
			return rc;
		}
		if (d->source_count == 1 && !is_file_source(d)) {
			if (opts->names != NULL) {
				int rc = wl__fail(WL_EINVALID,
				                  "weight %s: only file://, hf:// and https:// sources can be imported, not %.*s",
				                  q ? q : "", (int)d->sources[0].uri.len, d->sources[0].uri.ptr);
				free(q);
				free(sel);
				return rc;
			}
			free(q);
			continue; /* left untouched */
		}
		free(q);
		sel[n++] = d;
	}
	*out = sel;
	*count = n;
	return 0;
}

/* The names of the entries no weight of cog.yaml declares (rule 5). */
static int list_undeclared(importer *im, const wl_lock *lock, wl_import_report *report)
{
	for (size_t i = 0; i < lock->entry_count; i++) {
		const wl_entry *e = &lock->entries[i];
		bool declared = false;
		for (size_t k = 0; k < im->config->weight_count && !declared; k++)
			declared = wl_string_equal(im->config->weights[k].name, e->name);
		if (declared)
			continue;
		char **p = realloc(report->removed, (report->pruned + 1) * sizeof *p);
		if (p == NULL)
			return wl__nomem();
		report->removed = p;
		if ((p[report->pruned] = strndup(e->name.ptr ? e->name.ptr : "", e->name.len)) == NULL)
			return wl__nomem();
		report->pruned++;
	}
	return 0;
}

/* A weight declared as a list turns a single-source file into the §13
 * shape. */
static bool reshapes(const wl_lock *lock, const weight_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].decl->source_is_list && !lock->multi_source)
			return true;
	return false;
}

/* What the dry run's decisions would do to the lockfile. */
static int predict(importer *im, const wl_lock *lock, weight_job *jobs, size_t n, wl_import_report *report)
{
	report->reshaped = reshapes(lock, jobs, n);
	bool changed = report->reshaped || (im->records == RECORDS_OTHER && n > 0);
	for (size_t i = 0; i < n; i++)
		changed = changed || jobs[i].result->changes_lockfile;
	int rc = list_undeclared(im, lock, report);
	report->changed = changed || report->pruned > 0;
	return rc;
}

/* Rules 3-5 of §11.7 on the lockfile loaded under the guard lock: an entry
 * equal to its record keeps it; the envelope is restamped only when an
 * entry changes or the records were not reusable (a file of Cog's records
 * that nothing changed keeps Cog's stamp). Returns 1 when the lockfile
 * changed, 0 when not, or an error. */
static int apply(importer *im, wl_lock *lock, weight_job *jobs, size_t n, wl_import_report *report)
{
	report->reshaped = reshapes(lock, jobs, n);
	bool changed = report->reshaped || (im->records == RECORDS_OTHER && n > 0);
	for (size_t i = 0; i < n; i++) {
		weight_job *w = &jobs[i];
		const wl_entry *x = wl_lock_find(lock, w->entry.name);
		w->result->entry_changed = !wl_entries_equal(x, &w->entry);
		if (!w->result->entry_changed)
			w->entry.imported_at = x->imported_at;
		w->result->changes_lockfile = w->result->entry_changed || im->records == RECORDS_OTHER;
		changed = changed || w->result->entry_changed;
		snprintf(w->result->digest, sizeof w->result->digest, "%.*s", (int)w->entry.digest.len,
		         w->entry.digest.ptr ? w->entry.digest.ptr : "");
	}
	if (changed) {
		if (!wl_storage_string(lock->storage, &lock->envelope_format, im->envelope, WL_DIGEST_LEN))
			return wl__nomem();
		if (report->reshaped)
			lock->multi_source = true;
		for (size_t i = 0; i < n; i++) {
			int rc = wl_lock_upsert(lock, &jobs[i].entry);
			if (rc != 0)
				return rc;
		}
	}
	int rc = list_undeclared(im, lock, report);
	if (rc != 0)
		return rc;
	size_t declared = im->config->weight_count;
	wl_string *keep = calloc(declared ? declared : 1, sizeof *keep);
	if (keep == NULL)
		return wl__nomem();
	for (size_t k = 0; k < declared; k++)
		keep[k] = im->config->weights[k].name;
	bool present = lock->entries_present;
	size_t pruned = wl_lock_retain(lock, keep, declared);
	free(keep);
	if (pruned == 0)
		lock->entries_present = present; /* retain alone must not change the file */
	report->changed = changed || pruned > 0;
	return report->changed ? 1 : 0;
}

void wl_import_report_free(wl_import_report *report)
{
	if (report == NULL)
		return;
	for (size_t i = 0; i < report->result_count; i++)
		result_release(&report->results[i]);
	free(report->results);
	for (size_t i = 0; i < report->warning_count; i++)
		free(report->warnings[i]);
	free(report->warnings);
	for (size_t i = 0; i < report->pruned; i++)
		free(report->removed[i]);
	free(report->removed);
	free(report);
}

int wl_import(wl_import_report **out, const wl_config *config, const wl_import_options *opts)
{
	*out = NULL;
	importer im = {.config = config, .opts = opts, .pack = opts->pack};
	im.threads = opts->threads > 0 ? opts->threads : wl__cpu_count();
	int rc = wl_envelope_digest(im.envelope, &im.pack);
	if (rc == 0)
		rc = wl_cog_envelope_digest(im.cog_envelope, &im.pack);
	if (rc != 0)
		return rc;
	const wl_config_weight **sel = NULL;
	size_t n = 0;
	rc = select_weights(&sel, &n, config, opts);
	if (rc != 0)
		return rc;
	wl_import_report *report = calloc(1, sizeof *report);
	weight_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	if (report == NULL || jobs == NULL || (n && (report->results = calloc(n, sizeof(wl_import_result))) == NULL)) {
		free(sel);
		free(jobs);
		wl_import_report_free(report);
		return wl__nomem();
	}
	report->result_count = n;
	im.report = report;
	wl_guard *guard = NULL;
	wl_lock *lock = NULL;
	if (!opts->dry_run) {
		rc = wl_guard_acquire(&guard, opts->lockfile, opts->lock_timeout, opts->cancel);
		if (rc != 0)
			goto done;
	}
	rc = wl_lock_load(&lock, opts->lockfile);
	if (rc == WL_ENOTFOUND)
		rc = wl_lock_new(&lock);
	if (rc != 0)
		goto done;
	im.recorded = lock;
	im.records = wl_string_equal(lock->envelope_format, wl_str(im.envelope))       ? RECORDS_OURS
	             : wl_string_equal(lock->envelope_format, wl_str(im.cog_envelope)) ? RECORDS_COGS
	                                                                               : RECORDS_OTHER;
	if (opts->cache_dir != NULL && wl_hash_cache_open(&im.cache, opts->cache_dir) != 0)
		im.cache = NULL; /* a cache is an optimization; without it we read */
	if (wl_hash_cache_warning(im.cache) != NULL)
		warn(&im, dup_printf("%s", wl_hash_cache_warning(im.cache)));
	if (opts->oci_layout != NULL && !opts->dry_run && (rc = wl_oci_layout_open(&im.layout, opts->oci_layout)) != 0)
		goto done;
	wl__oci_layout_use_cache(im.layout, im.cache);
	for (size_t i = 0; i < n && rc == 0; i++) {
		weight_job *w = &jobs[i];
		w->decl = sel[i];
		w->src = &sel[i]->sources[0];
		w->result = &report->results[i];
		w->result->name = sel[i]->name;
		w->result->uri = w->src->uri;
		w->result->target = sel[i]->target;
		rc = import_weight(&im, w);
		if (rc != 0) {
			const char *m = wl_error_last()->message;
			char *q = quoted(sel[i]->name);
			/* Messages that already name the weight keep their text. */
			if (strncmp(m, "weight ", 7) != 0 && strncmp(m, "filter weight ", 14) != 0)
				wl__error_prefix("weight %s", q ? q : "");
			free(q);
		}
	}
	if (rc == 0 && opts->dry_run)
		rc = predict(&im, lock, jobs, n, report);
	if (rc != 0 || opts->dry_run)
		goto done;
	if (im.layout != NULL) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = wl_oci_layout_add_entry(im.layout, &jobs[i].entry);
		if (rc == 0)
			rc = wl_oci_layout_commit(im.layout);
		if (rc != 0)
			goto done;
	}
	rc = apply(&im, lock, jobs, n, report);
	if (rc < 0)
		goto done;
	if (rc == 1) {
		rc = wl_lock_save(lock, opts->lockfile);
		if (rc != 0)
			goto done;
		report->lockfile_written = true;
	}
	rc = 0;
done:
	if (im.cache != NULL) {
		if (!opts->dry_run && wl_hash_cache_save(im.cache) != 0)
			warn(&im, dup_printf("hash cache not saved: %s", wl_error_last()->message));
		wl_hash_cache_free(im.cache);
	}
	if (guard != NULL) {
		wl__saved_error saved;
		wl__error_save(&saved);
		int rel = wl_guard_release(guard);
		if (rc != 0)
			wl__error_restore(&saved);
		else
			rc = rel;
	}
	wl_oci_layout_free(im.layout);
	wl__http_free(im.http);
	wl_store_free(im.store);
	for (size_t i = 0; i < n; i++)
		weight_job_release(&jobs[i]);
	free(jobs);
	free(sel);
	wl_lock_free(lock);
	/* on failure too: the warnings gathered before it are the caller's to show */
	*out = report;
	return rc;
}
