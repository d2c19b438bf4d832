/*
 * diff.c - the semantic diff of two lockfiles (SPEC.md §19): weights by
 * name, then the files of a changed weight by path and its layers by
 * digest.
 *
 * Weights are matched through a sorted name table (O(n log n)); files and
 * layers are sorted by normalization, so they are matched by one merge
 * walk, linear in their number. Import times are never compared.
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

const char *wl_change_name(wl_change change)
{
	switch (change) {
	case WL_CHANGE_ADDED: return "added";
	case WL_CHANGE_REMOVED: return "removed";
	case WL_CHANGE_MODIFIED: return "modified";
	case WL_CHANGE_MOVED: return "moved";
	}
	return "?";
}

/* A growable array of `size`-byte elements. */
static bool push(void **items, size_t *count, size_t *cap, size_t size, const void *item)
{
	if (*count == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		size_t bytes;
		if (wl_mul_overflows_size(n, size, &bytes))
			return false;
		void *grown = realloc(*items, bytes);
		if (grown == NULL)
			return false;
		*items = grown;
		*cap = n;
	}
	memcpy((char *)*items + *count * size, item, size);
	(*count)++;
	return true;
}

static int compare_paths(const wl_file *a, const wl_file *b)
{
	return wl_string_compare(a->path, b->path);
}

static bool diff_files(wl_weight_diff *w, const wl_entry *a, const wl_entry *b)
{
	size_t i = 0, j = 0, cap = 0;
	while (i < a->file_count || j < b->file_count) {
		const wl_file *x = i < a->file_count ? &a->files[i] : NULL;
		const wl_file *y = j < b->file_count ? &b->files[j] : NULL;
		int c = x == NULL ? 1 : y == NULL ? -1 : compare_paths(x, y);
		wl_file_change fc = {WL_CHANGE_MODIFIED, c <= 0 ? x : NULL, c >= 0 ? y : NULL};
		if (c < 0) {
			fc.change = WL_CHANGE_REMOVED;
			w->files_removed++;
			i++;
		} else if (c > 0) {
			fc.change = WL_CHANGE_ADDED;
			w->files_added++;
			j++;
		} else {
			i++;
			j++;
			if (x->size != y->size || !wl_string_equal(x->digest, y->digest)) {
				w->files_modified++;
			} else if (!wl_string_equal(x->layer, y->layer)) {
				fc.change = WL_CHANGE_MOVED;
				w->files_moved++;
			} else {
				continue;
			}
		}
		if (!push((void **)&w->files, &w->file_count, &cap, sizeof fc, &fc))
			return false;
	}
	return true;
}

static bool diff_layers(wl_weight_diff *w, const wl_entry *a, const wl_entry *b)
{
	size_t i = 0, j = 0, cap = 0;
	while (i < a->layer_count || j < b->layer_count) {
		const wl_layer *x = i < a->layer_count ? &a->layers[i] : NULL;
		const wl_layer *y = j < b->layer_count ? &b->layers[j] : NULL;
		int c = x == NULL ? 1 : y == NULL ? -1 : wl_string_compare(x->digest, y->digest);
		wl_layer_change lc = {WL_CHANGE_MODIFIED, c <= 0 ? x : NULL, c >= 0 ? y : NULL};
		if (c < 0) {
			lc.change = WL_CHANGE_REMOVED;
			w->layers_removed++;
			i++;
		} else if (c > 0) {
			lc.change = WL_CHANGE_ADDED;
			w->layers_added++;
			j++;
		} else {
			i++;
			j++;
			if (wl_string_equal(x->media_type, y->media_type) && x->size == y->size &&
			    x->size_uncompressed == y->size_uncompressed)
				continue;
			w->layers_modified++;
		}
		if (!push((void **)&w->layers, &w->layer_count, &cap, sizeof lc, &lc))
			return false;
	}
	return true;
}

static bool sources_differ(const wl_entry *a, const wl_entry *b)
{
	if (a->source_count != b->source_count)
		return true;
	for (size_t i = 0; i < a->source_count; i++) {
		const wl_source *x = &a->sources[i], *y = &b->sources[i];
		if (!wl_string_equal(x->uri, y->uri) || !wl_string_equal(x->fingerprint, y->fingerprint) ||
		    !wl__strings_equal(x->include, x->include_count, y->include, y->include_count) ||
		    !wl__strings_equal(x->exclude, x->exclude_count, y->exclude, y->exclude_count))
			return true;
	}
	return false;
}

/* Fills in what differs between two versions of a weight. */
static bool diff_weight(wl_weight_diff *w, const wl_entry *a, const wl_entry *b)
{
	unsigned f = 0;
	if (!wl_string_equal(a->target, b->target))
		f |= WL_DIFF_TARGET;
	if (sources_differ(a, b))
		f |= WL_DIFF_SOURCES;
	if (!wl_string_equal(a->digest, b->digest))
		f |= WL_DIFF_DIGEST;
	if (!wl_string_equal(a->set_digest, b->set_digest))
		f |= WL_DIFF_SET_DIGEST;
	if (a->size != b->size)
		f |= WL_DIFF_SIZE;
	if (a->size_compressed != b->size_compressed)
		f |= WL_DIFF_SIZE_COMPRESSED;
	if (!diff_files(w, a, b) || !diff_layers(w, a, b))
		return false;
	if (w->file_count > 0)
		f |= WL_DIFF_FILES;
	if (w->layer_count > 0)
		f |= WL_DIFF_LAYERS;
	w->fields = f;
	return true;
}

static void weight_diff_release(wl_weight_diff *w)
{
	free(w->files);
	free(w->layers);
}

void wl_diff_free(wl_diff *diff)
{
	if (diff == NULL)
		return;
	for (size_t i = 0; i < diff->weight_count; i++)
		weight_diff_release(&diff->weights[i]);
	free(diff->weights);
	free(diff);
}

bool wl_diff_empty(const wl_diff *diff)
{
	return !diff->envelope_changed && !diff->shape_changed && diff->weight_count == 0;
}

int wl_lock_diff(wl_diff **out, wl_lock *old_lock, wl_lock *new_lock)
{
	*out = NULL;
	for (size_t i = 0; i < old_lock->entry_count; i++)
		wl_entry_normalize(&old_lock->entries[i]);
	for (size_t i = 0; i < new_lock->entry_count; i++)
		wl_entry_normalize(&new_lock->entries[i]);
	wl_diff *d = calloc(1, sizeof *d);
	size_t nn = new_lock->entry_count;
	wl__name_ref *names = wl__sorted_names(nn, wl__lock_entry_name, new_lock);
	bool *matched = calloc(nn ? nn : 1, sizeof *matched);
	bool ok = d != NULL && names != NULL && matched != NULL;
	size_t cap = 0;
	if (ok) {
		d->envelope_changed = !wl_string_equal(old_lock->envelope_format, new_lock->envelope_format);
		d->shape_changed = old_lock->entry_count > 0 && nn > 0 &&
		                   old_lock->multi_source != new_lock->multi_source;
	}
	for (size_t i = 0; ok && i < old_lock->entry_count; i++) {
		const wl_entry *a = &old_lock->entries[i];
		long at = wl__name_lookup(names, nn, a->name);
		const wl_entry *b = at >= 0 ? &new_lock->entries[at] : NULL;
		if (b != NULL)
			matched[at] = true;
		if (b != NULL && wl_entries_equal(a, b))
			continue;
		wl_weight_diff w = {b ? WL_CHANGE_MODIFIED : WL_CHANGE_REMOVED, a, b, 0, NULL, 0, 0, 0, 0, 0,
		                    NULL, 0, 0, 0, 0};
		if (b != NULL && !diff_weight(&w, a, b)) {
			weight_diff_release(&w);
			ok = false;
		} else if (!push((void **)&d->weights, &d->weight_count, &cap, sizeof w, &w)) {
			weight_diff_release(&w);
			ok = false;
		}
	}
	for (size_t i = 0; ok && i < nn; i++) {
		if (matched[i])
			continue;
		wl_weight_diff w = {WL_CHANGE_ADDED, NULL, &new_lock->entries[i], 0, NULL, 0, 0, 0, 0, 0,
		                    NULL, 0, 0, 0, 0};
		ok = push((void **)&d->weights, &d->weight_count, &cap, sizeof w, &w);
	}
	free(names);
	free(matched);
	if (!ok) {
		wl_diff_free(d);
		return wl__nomem();
	}
	*out = d;
	return 0;
}
