/*
 * entry.c - operations on entries and on the entry list of a lock that do
 * not involve encoding: find, equality, normalization (SPEC.md §4).
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

const wl_source *wl_entry_source(const wl_entry *entry)
{
	if (entry == NULL || entry->source_count != 1)
		return NULL;
	return &entry->sources[0];
}

wl_entry *wl_lock_find(const wl_lock *lock, wl_string name)
{
	if (lock == NULL)
		return NULL;
	for (size_t i = 0; i < lock->entry_count; i++)
		if (wl_string_equal(lock->entries[i].name, name))
			return &lock->entries[i];
	return NULL;
}

static int name_ref_cmp(const void *a, const void *b)
{
	return wl_string_compare(((const wl__name_ref *)a)->name, ((const wl__name_ref *)b)->name);
}

wl__name_ref *wl__sorted_names(size_t n, wl_string (*name_of)(const void *, size_t), const void *owner)
{
	wl__name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
	if (refs == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		refs[i] = (wl__name_ref){name_of(owner, i), i};
	qsort(refs, n, sizeof *refs, name_ref_cmp);
	return refs;
}

long wl__name_lookup(const wl__name_ref *refs, size_t n, wl_string name)
{
	wl__name_ref key = {name, 0};
	const wl__name_ref *hit = n ? bsearch(&key, refs, n, sizeof *refs, name_ref_cmp) : NULL;
	return hit ? (long)hit->index : -1;
}

wl_string wl__lock_entry_name(const void *lock, size_t i)
{
	return ((const wl_lock *)lock)->entries[i].name;
}

bool wl__strings_equal(const wl_string *a, size_t na, const wl_string *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!wl_string_equal(a[i], b[i]))
			return false;
	return true;
}

static bool sources_equal(const wl_source *a, const wl_source *b)
{
	return wl_string_equal(a->uri, b->uri) && wl_string_equal(a->fingerprint, b->fingerprint) &&
	       wl__strings_equal(a->include, a->include_count, b->include, b->include_count) &&
	       wl__strings_equal(a->exclude, a->exclude_count, b->exclude, b->exclude_count);
}

bool wl_entries_equal(const wl_entry *a, const wl_entry *b)
{
	if (a == NULL || b == NULL)
		return false;
	if (!wl_string_equal(a->name, b->name) || !wl_string_equal(a->target, b->target) ||
	    !wl_string_equal(a->digest, b->digest) || !wl_string_equal(a->set_digest, b->set_digest) ||
	    a->size != b->size || a->size_compressed != b->size_compressed)
		return false;
	if (a->file_count != b->file_count || a->layer_count != b->layer_count ||
	    a->source_count != b->source_count)
		return false;
	for (size_t i = 0; i < a->file_count; i++) {
		const wl_file *x = &a->files[i], *y = &b->files[i];
		if (!wl_string_equal(x->path, y->path) || x->size != y->size ||
		    !wl_string_equal(x->digest, y->digest) || !wl_string_equal(x->layer, y->layer))
			return false;
	}
	for (size_t i = 0; i < a->layer_count; i++) {
		const wl_layer *x = &a->layers[i], *y = &b->layers[i];
		if (!wl_string_equal(x->digest, y->digest) || !wl_string_equal(x->media_type, y->media_type) ||
		    x->size != y->size || x->size_uncompressed != y->size_uncompressed)
			return false;
	}
	for (size_t i = 0; i < a->source_count; i++)
		if (!sources_equal(&a->sources[i], &b->sources[i]))
			return false;
	return true;
}

/* Stable merge sort of `n` elements of `size` bytes, skipped when already
 * sorted (the common case for files written by Cog or by us). */
static void stable_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *a = base;
	size_t i;
	for (i = 1; i < n; i++)
		if (cmp(a + (i - 1) * size, a + i * size) > 0)
			break;
	if (i >= n)
		return;
	char *tmp = malloc(n * size);
	if (tmp == NULL) {
		/* Insertion sort needs no memory and is stable. */
		char one[64];
		for (i = 1; i < n; i++) {
			memcpy(one, a + i * size, size);
			size_t j = i;
			while (j > 0 && cmp(a + (j - 1) * size, one) > 0) {
				memcpy(a + j * size, a + (j - 1) * size, size);
				j--;
			}
			memcpy(a + j * size, one, size);
		}
		return;
	}
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t x = lo, y = mid, k = lo;
			while (x < mid && y < hi) {
				if (cmp(a + y * size, a + x * size) < 0)
					memcpy(tmp + (k++) * size, a + (y++) * size, size);
				else
					memcpy(tmp + (k++) * size, a + (x++) * size, size);
			}
			memcpy(tmp + k * size, a + x * size, (mid - x) * size);
			k += mid - x;
			memcpy(tmp + k * size, a + y * size, (hi - y) * size);
		}
		memcpy(a, tmp, n * size);
	}
	free(tmp);
}

static int file_cmp(const void *x, const void *y)
{
	return wl_string_compare(((const wl_file *)x)->path, ((const wl_file *)y)->path);
}

static int layer_cmp(const void *x, const void *y)
{
	return wl_string_compare(((const wl_layer *)x)->digest, ((const wl_layer *)y)->digest);
}

void wl_entry_normalize(wl_entry *entry)
{
	_Static_assert(sizeof(wl_file) <= 64 && sizeof(wl_layer) <= 64, "insertion sort buffer");
	stable_sort(entry->files, entry->file_count, sizeof(wl_file), file_cmp);
	stable_sort(entry->layers, entry->layer_count, sizeof(wl_layer), layer_cmp);
}
