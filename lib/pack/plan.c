/*
 * plan.c - which files go into which layer, in which order, stored how
 * (SPEC.md §11.2): small files bundled greedily into tar+gzip layers, each
 * large file alone, raw tar for incompressible extensions.
 *
 * A few comparisons and one sort; nothing a library would add. The plan
 * is one allocation (header, layers, index arrays), freed with one call.
 */
#include "pack/pack_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const incompressible_exts[] = {
	".bin", ".gguf", ".onnx", ".parquet", ".pt", ".pth", ".safetensors",
};

/* True when the lower-cased extension of the last path component is one
 * whose content does not compress (Go's filepath.Ext: from the last '.'
 * of the last component). */
static bool incompressible(wl_string path)
{
	size_t dot = path.len;
	for (size_t i = path.len; i-- > 0;) {
		if (path.ptr[i] == '/')
			break;
		if (path.ptr[i] == '.') {
			dot = i;
			break;
		}
	}
	if (dot == path.len)
		return false;
	size_t n = path.len - dot;
	for (size_t e = 0; e < sizeof incompressible_exts / sizeof *incompressible_exts; e++) {
		const char *ext = incompressible_exts[e];
		if (strlen(ext) != n)
			continue;
		size_t k = 0;
		while (k < n) {
			char c = path.ptr[dot + k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != ext[k])
				break;
			k++;
		}
		if (k == n)
			return true;
	}
	return false;
}

typedef struct sort_ctx_item {
	const wl_source_file *file;
	size_t index;
} sort_item;

static int sort_item_compare(const void *a, const void *b)
{
	const sort_item *x = a, *y = b;
	int c = wl_string_compare(x->file->path, y->file->path);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

int wl_plan_layers(wl_plan **out, const wl_source_file *files, size_t count, const wl_pack_options *options)
{
	*out = NULL;
	int64_t file_max, size_max;
	int rc = wl__pack_thresholds(&file_max, &size_max, options);
	if (rc != 0)
		return rc;
	if (count == 0)
		return wl__fail(WL_EINVALID, "inventory is empty");
	for (size_t i = 0; i < count; i++)
		if (files[i].size < 0)
			return wl__fail(WL_EINVALID, "file %zu has a negative size", i);

	/* Files in path order (stable), so the plan does not depend on how
	 * the caller sorted ties. */
	sort_item *items = malloc(count * sizeof *items);
	if (items == NULL)
		return wl__nomem();
	for (size_t i = 0; i < count; i++)
		items[i] = (sort_item){&files[i], i};
	qsort(items, count, sizeof *items, sort_item_compare);

	/* Count the layers first, so the plan is a single allocation. */
	size_t bundles = 0, large = 0;
	int64_t total = 0;
	for (size_t i = 0; i < count; i++) {
		int64_t size = items[i].file->size;
		if (size >= file_max) {
			large++;
			continue;
		}
		int64_t sum;
		if (bundles == 0 || (total > 0 && (wl_add_overflows_i64(total, size, &sum) || sum > size_max))) {
			bundles++;
			total = 0;
		}
		total += size;
	}
	size_t layer_count = bundles + large;
	size_t bytes = sizeof(wl_plan) + layer_count * sizeof(wl_plan_layer) + count * sizeof(size_t);
	wl_plan *plan = calloc(1, bytes);
	if (plan == NULL) {
		free(items);
		return wl__nomem();
	}
	plan->layers = (wl_plan_layer *)(plan + 1);
	plan->layer_count = layer_count;
	size_t *slots = (size_t *)(plan->layers + layer_count);

	/* Bundles, in path order. */
	wl_plan_layer *cur = NULL;
	size_t next_layer = 0;
	for (size_t i = 0; i < count; i++) {
		int64_t size = items[i].file->size;
		if (size >= file_max)
			continue;
		int64_t sum;
		if (cur == NULL || (cur->size_uncompressed > 0 &&
		                    (wl_add_overflows_i64(cur->size_uncompressed, size, &sum) || sum > size_max))) {
			cur = &plan->layers[next_layer++];
			cur->files = slots;
			cur->gzip = true;
			cur->bundle = true;
		}
		cur->files[cur->file_count++] = items[i].index;
		slots++;
		cur->size_uncompressed += size;
	}
	/* Then one layer per large file, in path order. */
	for (size_t i = 0; i < count; i++) {
		const wl_source_file *f = items[i].file;
		if (f->size < file_max)
			continue;
		wl_plan_layer *l = &plan->layers[next_layer++];
		l->files = slots++;
		l->files[0] = items[i].index;
		l->file_count = 1;
		l->gzip = !incompressible(f->path);
		l->size_uncompressed = f->size;
	}
	for (size_t i = 0; i < layer_count; i++)
		plan->layers[i].gzip_level = plan->layers[i].file_count > 1 ? 9 : 6;
	free(items);
	*out = plan;
	return 0;
}

void wl_plan_free(wl_plan *plan)
{
	free(plan);
}
