/*
 * check.c - the consistency check of a lockfile's entries (CLI `check`,
 * SPEC.md §2.6): digests recomputed from the entry, size sums, the links
 * between files and layers, and the rules on paths.
 *
 * Every check is O(n log n) in the number of files: the entry is sorted
 * first (as marshal does), layers are found by binary search, and the
 * file/directory clash is found with one search per path.
 *
 * Names and media types travel to registries (a name becomes a tag, a
 * media type a header), so both must keep to their grammars
 * (common/grammar.h): an entry that cannot be pushed safely is not
 * consistent.
 */
#include "common/grammar.h"
#include "common/internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct problem_list {
	wl_problem *items;
	size_t count;
	size_t cap;
} problem_list;

/* Appends a problem whose message is the content of `msg` (released). */
static int add_problem(problem_list *list, wl_string name, wl_buf *msg)
{
	char *text;
	int rc = wl_buf_finish(msg, &text, NULL);
	if (rc != 0)
		return rc;
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8, bytes;
		if (wl_mul_overflows_size(cap, sizeof(wl_problem), &bytes)) {
			free(text);
			return wl__nomem();
		}
		wl_problem *p = realloc(list->items, bytes);
		if (p == NULL) {
			free(text);
			return wl__nomem();
		}
		list->items = p;
		list->cap = cap;
	}
	list->items[list->count++] = (wl_problem){name, text};
	return 0;
}

/* A string from the lockfile, quoted as Go's %q. */
static void put_quoted(wl_buf *b, wl_string s)
{
	char *q;
	size_t n;
	if (wl_quote(&q, &n, s) != 0) {
		b->failed = true;
		return;
	}
	wl_buf_put(b, q, n);
	wl_free(q);
}

/* A digest as is when it is well formed, else quoted (it may hold any byte). */
static void put_digest(wl_buf *b, wl_string s)
{
	if (wl_digest_valid(s))
		wl_buf_put_str(b, s);
	else
		put_quoted(b, s);
}

/* The first file (in sorted files) under the directory `dir`, or NULL. */
static const wl_file *first_under(const wl_entry *e, wl_string dir)
{
	size_t i = wl__path_first_under(e->files, e->file_count, sizeof *e->files, offsetof(wl_file, path), 0, dir);
	return i < e->file_count ? &e->files[i] : NULL;
}

/* Index of the first layer (in sorted layers) with that digest, or -1. */
static ptrdiff_t find_layer(const wl_entry *e, wl_string digest)
{
	size_t lo = 0, hi = e->layer_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (wl_string_compare(e->layers[mid].digest, digest) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < e->layer_count && wl_string_equal(e->layers[lo].digest, digest))
		return (ptrdiff_t)lo;
	return -1;
}

static int check_digests(problem_list *list, wl_entry *e)
{
	wl_buf msg;
	char computed[WL_DIGEST_LEN + 1];
	int rc = wl_entry_set_digest(computed, e);
	if (rc != 0)
		return rc;
	if (!wl_string_equal(e->set_digest, wl_str(computed))) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "setDigest is ");
		put_digest(&msg, e->set_digest);
		wl_buf_printf(&msg, " but the files give %s", computed);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}

	char *manifest;
	size_t manifest_len;
	rc = wl_entry_manifest(&manifest, &manifest_len, e);
	if (rc == WL_EINVALID) {
		wl_buf_init(&msg);
		wl_buf_printf(&msg, "cannot project the manifest: %s", wl_error_last()->message);
		return add_problem(list, e->name, &msg);
	}
	if (rc != 0)
		return rc;
	wl_sha256_digest(computed, manifest, manifest_len);
	wl_free(manifest);
	if (!wl_string_equal(e->digest, wl_str(computed))) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "digest is ");
		put_digest(&msg, e->digest);
		wl_buf_printf(&msg, " but the manifest gives %s", computed);
		return add_problem(list, e->name, &msg);
	}
	return 0;
}

static int check_sizes(problem_list *list, const wl_entry *e)
{
	int64_t uncompressed = 0, compressed = 0;
	bool uncompressed_overflow = false, compressed_overflow = false;
	for (size_t i = 0; i < e->layer_count; i++) {
		if (!uncompressed_overflow)
			uncompressed_overflow = wl_add_overflows_i64(uncompressed, e->layers[i].size_uncompressed,
			                                             &uncompressed);
		if (!compressed_overflow)
			compressed_overflow = wl_add_overflows_i64(compressed, e->layers[i].size, &compressed);
	}
	wl_buf msg;
	int rc;
	if (uncompressed_overflow) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "the sum of the layers' sizeUncompressed overflows int64");
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	} else if (e->size != uncompressed) {
		wl_buf_init(&msg);
		wl_buf_printf(&msg, "size is %lld but the layers' sizeUncompressed sum to %lld",
		              (long long)e->size, (long long)uncompressed);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	if (compressed_overflow) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "the sum of the layers' size overflows int64");
		return add_problem(list, e->name, &msg);
	}
	if (e->size_compressed != compressed) {
		wl_buf_init(&msg);
		wl_buf_printf(&msg, "sizeCompressed is %lld but the layers' size sum to %lld",
		              (long long)e->size_compressed, (long long)compressed);
		return add_problem(list, e->name, &msg);
	}
	return 0;
}

/* What the files say about each layer. */
typedef struct layer_tally {
	int64_t sum;
	bool overflow;
	bool used;
} layer_tally;

static int check_file(problem_list *list, const wl_entry *e, size_t i, layer_tally *tally)
{
	const wl_file *f = &e->files[i];
	wl_buf msg;
	int rc;
	const char *why = NULL;
	bool path_ok = wl_path_valid(f->path, &why);
	if (!path_ok) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "invalid path ");
		put_quoted(&msg, f->path);
		wl_buf_printf(&msg, ": %s", why ? why : "not a valid relative path");
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	bool duplicate = i > 0 && wl_string_equal(e->files[i - 1].path, f->path);
	if (duplicate && !(i > 1 && wl_string_equal(e->files[i - 2].path, f->path))) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "duplicate path ");
		put_quoted(&msg, f->path);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	const wl_file *inner = path_ok && !duplicate ? first_under(e, f->path) : NULL;
	if (inner != NULL) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "path ");
		put_quoted(&msg, f->path);
		wl_buf_puts(&msg, " is a file and also the directory of ");
		put_quoted(&msg, inner->path);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	if (f->size < 0) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "file ");
		put_quoted(&msg, f->path);
		wl_buf_printf(&msg, " has negative size %lld", (long long)f->size);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	if (!wl_digest_valid(f->digest)) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "file ");
		put_quoted(&msg, f->path);
		wl_buf_puts(&msg, " has invalid digest ");
		put_quoted(&msg, f->digest);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	ptrdiff_t k = find_layer(e, f->layer);
	if (k < 0) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "file ");
		put_quoted(&msg, f->path);
		wl_buf_puts(&msg, " names layer ");
		put_digest(&msg, f->layer);
		wl_buf_puts(&msg, ", which is not in layers");
		return add_problem(list, e->name, &msg);
	}
	layer_tally *t = &tally[k];
	t->used = true;
	if (!t->overflow)
		t->overflow = wl_add_overflows_i64(t->sum, f->size, &t->sum);
	return 0;
}

static int check_layer(problem_list *list, const wl_entry *e, size_t i, const layer_tally *t)
{
	const wl_layer *l = &e->layers[i];
	wl_buf msg;
	int rc;
	if (!wl_digest_valid(l->digest)) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "invalid layer digest ");
		put_quoted(&msg, l->digest);
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	if (!wl__media_type_valid(l->media_type.ptr, l->media_type.len)) {
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "layer ");
		put_digest(&msg, l->digest);
		wl_buf_puts(&msg, " has an invalid mediaType ");
		put_quoted(&msg, l->media_type);
		wl_buf_puts(&msg, " (RFC 6838: type/subtype)");
		if ((rc = add_problem(list, e->name, &msg)) != 0)
			return rc;
	}
	if (i > 0 && wl_string_equal(e->layers[i - 1].digest, l->digest)) {
		/* The files were counted for the first layer of that digest. */
		if (i > 1 && wl_string_equal(e->layers[i - 2].digest, l->digest))
			return 0;
		wl_buf_init(&msg);
		wl_buf_puts(&msg, "duplicate layer ");
		put_digest(&msg, l->digest);
		return add_problem(list, e->name, &msg);
	}
	wl_buf_init(&msg);
	if (!t->used) {
		wl_buf_puts(&msg, "layer ");
		put_digest(&msg, l->digest);
		wl_buf_puts(&msg, " holds no file");
	} else if (t->overflow) {
		wl_buf_puts(&msg, "the sizes of the files in layer ");
		put_digest(&msg, l->digest);
		wl_buf_puts(&msg, " overflow int64");
	} else if (t->sum != l->size_uncompressed) {
		wl_buf_puts(&msg, "layer ");
		put_digest(&msg, l->digest);
		wl_buf_printf(&msg, " has sizeUncompressed %lld but its files sum to %lld",
		              (long long)l->size_uncompressed, (long long)t->sum);
	} else {
		wl_buf_release(&msg);
		return 0;
	}
	return add_problem(list, e->name, &msg);
}

/* A name that is not cog.yaml's grammar, or too long for its tag, would
 * put arbitrary bytes into a registry URL (SPEC.md §5.2, §18.1). */
static int check_name(problem_list *list, const wl_entry *e)
{
	if (wl__weight_name_taggable(e->name.ptr, e->name.len))
		return 0;
	wl_buf msg;
	wl_buf_init(&msg);
	wl_buf_puts(&msg, "invalid weight name ");
	put_quoted(&msg, e->name);
	if (e->name.len > WL__WEIGHT_NAME_MAX && wl_weight_name_valid(e->name))
		wl_buf_printf(&msg, ": longer than %d bytes, too long for its tag", WL__WEIGHT_NAME_MAX);
	else
		wl_buf_puts(&msg, ": lower-case letters and digits separated by single '.', '_' or '-'");
	return add_problem(list, e->name, &msg);
}

static int check_entry(problem_list *list, wl_entry *e)
{
	wl_entry_normalize(e);
	int rc = check_name(list, e);
	if (rc == 0)
		rc = check_digests(list, e);
	if (rc == 0)
		rc = check_sizes(list, e);
	if (rc != 0)
		return rc;
	layer_tally *tally = NULL;
	if (e->layer_count > 0) {
		tally = calloc(e->layer_count, sizeof *tally);
		if (tally == NULL)
			return wl__nomem();
	}
	for (size_t i = 0; i < e->file_count && rc == 0; i++)
		rc = check_file(list, e, i, tally);
	for (size_t i = 0; i < e->layer_count && rc == 0; i++)
		rc = check_layer(list, e, i, &tally[i]);
	free(tally);
	return rc;
}

int wl_lock_check(wl_problem **out, size_t *count, wl_lock *lock)
{
	problem_list list = {NULL, 0, 0};
	*out = NULL;
	*count = 0;
	for (size_t i = 0; lock != NULL && i < lock->entry_count; i++) {
		int rc = check_entry(&list, &lock->entries[i]);
		if (rc != 0) {
			wl_problems_free(list.items, list.count);
			return rc;
		}
	}
	*out = list.items;
	*count = list.count;
	return 0;
}

int wl__entry_check(const wl_entry *entry)
{
	/* check_entry sorts; the caller's entry stays as it is. */
	wl_entry copy = *entry;
	copy.files = NULL;
	copy.layers = NULL;
	int rc = 0;
	if (entry->file_count > 0 && (copy.files = malloc(entry->file_count * sizeof *copy.files)) == NULL)
		rc = wl__nomem();
	if (rc == 0 && entry->layer_count > 0 &&
	    (copy.layers = malloc(entry->layer_count * sizeof *copy.layers)) == NULL)
		rc = wl__nomem();
	problem_list list = {NULL, 0, 0};
	if (rc == 0) {
		if (entry->file_count > 0)
			memcpy(copy.files, entry->files, entry->file_count * sizeof *copy.files);
		if (entry->layer_count > 0)
			memcpy(copy.layers, entry->layers, entry->layer_count * sizeof *copy.layers);
		rc = check_entry(&list, &copy);
	}
	if (rc == 0 && list.count > 0)
		rc = wl__fail(WL_EINVALID, "the entry fails check: %s", list.items[0].message);
	wl_problems_free(list.items, list.count);
	free(copy.files);
	free(copy.layers);
	return rc;
}

void wl_problems_free(wl_problem *problems, size_t count)
{
	if (problems == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(problems[i].message);
	free(problems);
}
