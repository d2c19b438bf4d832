/*
 * oci.c - the OCI projection of an entry (SPEC.md §6): the config blob,
 * the manifest, the preconditions Cog enforces before building them, and
 * the index descriptor of the manifest.
 *
 * The entry is read-only here: files and layers are visited in sorted order
 * through an array of pointers when the entry is not already sorted.
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

/* Pointers to the elements of a list in sorted (stable) order. When the list
 * is already sorted no array is built and `items` is NULL. */
typedef struct sorted_view {
	const void **items;
	const char *base;
	size_t size;
	size_t count;
} sorted_view;

static const void *view_at(const sorted_view *v, size_t i)
{
	return v->items ? v->items[i] : v->base + i * v->size;
}

static int file_ptr_cmp(const void *x, const void *y)
{
	const wl_file *a = *(const wl_file *const *)x, *b = *(const wl_file *const *)y;
	int c = wl_string_compare(a->path, b->path);
	/* Ties keep list order: elements of one array, compared by address. */
	return c ? c : (a > b) - (a < b);
}

static int layer_ptr_cmp(const void *x, const void *y)
{
	const wl_layer *a = *(const wl_layer *const *)x, *b = *(const wl_layer *const *)y;
	int c = wl_string_compare(a->digest, b->digest);
	return c ? c : (a > b) - (a < b);
}

static int view_init(sorted_view *v, const void *base, size_t count, size_t size,
                     int (*ptr_cmp)(const void *, const void *))
{
	v->items = NULL;
	v->base = base;
	v->size = size;
	v->count = count;
	size_t i;
	for (i = 1; i < count; i++) {
		const void *prev = v->base + (i - 1) * size, *cur = v->base + i * size;
		if (ptr_cmp(&prev, &cur) > 0)
			break;
	}
	if (i >= count)
		return 0;
	size_t bytes;
	if (wl_mul_overflows_size(count, sizeof(void *), &bytes))
		return wl__nomem();
	v->items = malloc(bytes);
	if (v->items == NULL)
		return wl__nomem();
	for (i = 0; i < count; i++)
		v->items[i] = v->base + i * size;
	qsort(v->items, count, sizeof(void *), ptr_cmp);
	return 0;
}

static void view_release(sorted_view *v)
{
	free(v->items);
	v->items = NULL;
}

static void put_json(wl_buf *b, wl_string s)
{
	wl_json_put_string(b, s.len ? s.ptr : "", s.len);
}

/* SPEC.md §6.4, in Cog's order, with Cog's messages. */
static int check_preconditions(const wl_entry *entry, const sorted_view *layers)
{
	if (entry->name.len == 0)
		return wl__fail(WL_EINVALID, "weight name is required");
	if (entry->target.len == 0)
		return wl__fail(WL_EINVALID, "weight target is required");
	if (entry->set_digest.len == 0)
		return wl__fail(WL_EINVALID, "weight set digest is required");
	if (entry->file_count == 0)
		return wl__fail(WL_EINVALID, "weight files are required for config blob");
	if (entry->layer_count == 0)
		return wl__fail(WL_EINVALID, "at least one layer is required");
	for (size_t i = 0; i < layers->count; i++) {
		const wl_layer *l = view_at(layers, i);
		if (!wl_digest_valid(l->digest))
			return wl__fail(WL_EINVALID, "layer %zu: missing digest", i);
		if (l->size <= 0)
			return wl__fail(WL_EINVALID, "layer %zu (%s): invalid size %lld", i, l->digest.ptr,
			                (long long)l->size);
		if (l->size_uncompressed <= 0)
			return wl__fail(WL_EINVALID, "layer %zu (%s): invalid uncompressed size %lld", i,
			                l->digest.ptr, (long long)l->size_uncompressed);
		if (l->media_type.len == 0)
			return wl__fail(WL_EINVALID, "layer %zu (%s): missing media type", i, l->digest.ptr);
	}
	return 0;
}

static void put_config_blob(wl_buf *b, const wl_entry *entry, const sorted_view *files)
{
	wl_buf_puts(b, "{\"name\":");
	put_json(b, entry->name);
	wl_buf_puts(b, ",\"target\":");
	put_json(b, entry->target);
	wl_buf_puts(b, ",\"setDigest\":");
	put_json(b, entry->set_digest);
	wl_buf_puts(b, ",\"files\":[");
	for (size_t i = 0; i < files->count; i++) {
		const wl_file *f = view_at(files, i);
		wl_buf_puts(b, i ? ",{\"path\":" : "{\"path\":");
		put_json(b, f->path);
		wl_buf_puts(b, ",\"layer\":");
		put_json(b, f->layer);
		wl_buf_puts(b, ",\"size\":");
		wl_buf_put_int64(b, f->size);
		wl_buf_puts(b, ",\"digest\":");
		put_json(b, f->digest);
		wl_buf_putc(b, '}');
	}
	wl_buf_puts(b, "]}");
}

/* Checks the preconditions and encodes the config blob into `b`. */
static int build_config_blob(wl_buf *b, const wl_entry *entry)
{
	sorted_view files, layers;
	int rc = view_init(&layers, entry->layers, entry->layer_count, sizeof(wl_layer), layer_ptr_cmp);
	if (rc != 0)
		return rc;
	rc = check_preconditions(entry, &layers);
	view_release(&layers);
	if (rc != 0)
		return rc;
	rc = view_init(&files, entry->files, entry->file_count, sizeof(wl_file), file_ptr_cmp);
	if (rc != 0)
		return rc;
	put_config_blob(b, entry, &files);
	view_release(&files);
	return b->failed ? wl__nomem() : 0;
}

int wl_entry_config_blob(char **out, size_t *out_len, const wl_entry *entry)
{
	wl_buf b;
	wl_buf_init(&b);
	int rc = build_config_blob(&b, entry);
	if (rc != 0) {
		wl_buf_release(&b);
		return rc;
	}
	return wl_buf_finish(&b, out, out_len);
}

int wl_entry_manifest(char **out, size_t *out_len, const wl_entry *entry)
{
	wl_buf config;
	wl_buf_init(&config);
	int rc = build_config_blob(&config, entry);
	if (rc != 0) {
		wl_buf_release(&config);
		return rc;
	}
	char config_digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(config_digest, config.data, config.len);
	size_t config_len = config.len;
	wl_buf_release(&config);

	sorted_view layers;
	rc = view_init(&layers, entry->layers, entry->layer_count, sizeof(wl_layer), layer_ptr_cmp);
	if (rc != 0)
		return rc;
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" WL_MEDIA_TYPE_MANIFEST
	                "\",\"artifactType\":\"" WL_ARTIFACT_TYPE_WEIGHT
	                "\",\"config\":{\"mediaType\":\"" WL_MEDIA_TYPE_CONFIG "\",\"size\":");
	wl_buf_put_int64(&b, (int64_t)config_len);
	wl_buf_puts(&b, ",\"digest\":\"");
	wl_buf_puts(&b, config_digest);
	wl_buf_puts(&b, "\"},\"layers\":[");
	for (size_t i = 0; i < layers.count; i++) {
		const wl_layer *l = view_at(&layers, i);
		wl_buf_puts(&b, i ? ",{\"mediaType\":" : "{\"mediaType\":");
		put_json(&b, l->media_type);
		wl_buf_puts(&b, ",\"size\":");
		wl_buf_put_int64(&b, l->size);
		wl_buf_puts(&b, ",\"digest\":");
		put_json(&b, l->digest);
		wl_buf_puts(&b, ",\"annotations\":{\"run.cog.weight.size.uncompressed\":\"");
		wl_buf_put_int64(&b, l->size_uncompressed);
		wl_buf_puts(&b, "\"}}");
	}
	view_release(&layers);
	wl_buf_puts(&b, "],\"annotations\":{\"run.cog.weight.name\":");
	put_json(&b, entry->name);
	wl_buf_puts(&b, ",\"run.cog.weight.set-digest\":");
	put_json(&b, entry->set_digest);
	wl_buf_puts(&b, ",\"run.cog.weight.target\":");
	put_json(&b, entry->target);
	wl_buf_puts(&b, "}}");
	return wl_buf_finish(&b, out, out_len);
}

/* One annotation of the index descriptor, written when `present`. */
typedef struct annotation {
	const char *key;
	wl_string value;
	bool present;
} annotation;

int wl_entry_index_descriptor(char **out, size_t *out_len, const wl_entry *entry,
                              const char *ref_name)
{
	char *manifest;
	size_t manifest_len;
	int rc = wl_entry_manifest(&manifest, &manifest_len, entry);
	if (rc != 0)
		return rc;
	char manifest_digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(manifest_digest, manifest, manifest_len);
	wl_free(manifest);

	wl_buf size_text;
	wl_buf_init(&size_text);
	wl_buf_put_int64(&size_text, entry->size);
	if (size_text.failed) {
		wl_buf_release(&size_text);
		return wl__nomem();
	}

	/* Keys in byte-wise order; the ref name sorts first. */
	annotation notes[] = {
		{"org.opencontainers.image.ref.name", wl_str(ref_name), ref_name && *ref_name},
		{"run.cog.weight.name", entry->name, entry->name.len > 0},
		{"run.cog.weight.set-digest", entry->set_digest, entry->set_digest.len > 0},
		{"run.cog.weight.size.uncompressed", {size_text.data, size_text.len}, entry->size > 0},
	};

	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "{\"mediaType\":\"" WL_MEDIA_TYPE_MANIFEST "\",\"size\":");
	wl_buf_put_int64(&b, (int64_t)manifest_len);
	wl_buf_puts(&b, ",\"digest\":\"");
	wl_buf_puts(&b, manifest_digest);
	wl_buf_putc(&b, '"');
	bool any = false;
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
		if (!notes[i].present)
			continue;
		wl_buf_puts(&b, any ? "," : ",\"annotations\":{");
		any = true;
		wl_json_put_string(&b, notes[i].key, strlen(notes[i].key));
		wl_buf_putc(&b, ':');
		put_json(&b, notes[i].value);
	}
	if (any)
		wl_buf_putc(&b, '}');
	wl_buf_puts(&b, ",\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
	                "\"artifactType\":\"" WL_ARTIFACT_TYPE_WEIGHT "\"}");
	wl_buf_release(&size_text);
	return wl_buf_finish(&b, out, out_len);
}
