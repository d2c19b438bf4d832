/*
 * merge.c - the three-way merge of lockfiles keyed by weight name, behind
 * git's merge driver (SPEC.md §19).
 *
 * Two passes. The first decides every weight and collects the conflicts
 * without touching OURS, so that a conflict leaves it exactly as it was;
 * the second applies the decisions in place, copying only the entries
 * taken from THEIRS. Weights are found through sorted name tables, so the
 * merge costs O(n log n) in weights, and each comparison is linear in the
 * entry's files.
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

typedef enum decision {
	KEEP, /* ours's entry as it is */
	TAKE, /* replaced by theirs's */
	DROP, /* removed */
} decision;

/* A weight of the result: where it comes from. */
typedef struct outcome {
	const wl_entry *entry; /* ours's or theirs's */
	size_t ours_index;     /* SIZE_MAX: appended from theirs */
} outcome;

typedef struct merge {
	wl_lock *base, *ours, *theirs;
	wl__name_ref *base_names, *ours_names, *theirs_names;
	decision *decisions; /* per entry of ours */
	outcome *result;
	size_t result_count;
	wl_merge_report *report;
	size_t conflict_cap;
} merge;

static const wl_entry *find(const wl__name_ref *names, const wl_lock *lock, wl_string name)
{
	long at = wl__name_lookup(names, lock->entry_count, name);
	return at < 0 ? NULL : &lock->entries[at];
}

static bool changed(const wl_entry *from, const wl_entry *to)
{
	return !wl_entries_equal(from, to);
}

static int add_conflict(merge *m, wl_conflict_kind kind, wl_string name, const wl_entry *base,
                        const wl_entry *ours, const wl_entry *theirs, wl_string other)
{
	wl_merge_report *r = m->report;
	if (r->conflict_count == m->conflict_cap) {
		size_t cap = m->conflict_cap ? m->conflict_cap * 2 : 8;
		wl_merge_conflict *grown = realloc(r->conflicts, cap * sizeof *grown);
		if (grown == NULL)
			return wl__nomem();
		r->conflicts = grown;
		m->conflict_cap = cap;
	}
	r->conflicts[r->conflict_count++] = (wl_merge_conflict){kind, name, base, ours, theirs, other};
	return 0;
}

/* The weight `o` of ours, against its base and theirs versions. */
static int decide_ours(merge *m, size_t i)
{
	const wl_entry *o = &m->ours->entries[i];
	const wl_entry *b = find(m->base_names, m->base, o->name);
	const wl_entry *t = find(m->theirs_names, m->theirs, o->name);
	wl_string none = WL__EMPTY;
	decision d = KEEP;
	int rc = 0;
	if (t == NULL) {
		if (b != NULL && !changed(b, o))
			d = DROP; /* removed on their side, unchanged on ours */
		else if (b != NULL)
			rc = add_conflict(m, WL_CONFLICT_THEIRS_REMOVED, o->name, b, o, NULL, none);
	} else if (b == NULL) {
		if (changed(o, t))
			rc = add_conflict(m, WL_CONFLICT_BOTH_ADDED, o->name, NULL, o, t, none);
	} else if (changed(b, t)) {
		if (!changed(b, o))
			d = TAKE;
		else if (changed(o, t))
			rc = add_conflict(m, WL_CONFLICT_BOTH_CHANGED, o->name, b, o, t, none);
	}
	m->decisions[i] = d;
	if (d == DROP)
		m->report->removed++;
	else
		m->result[m->result_count++] = (outcome){d == TAKE ? t : o, i};
	if (d == TAKE)
		m->report->taken++;
	return rc;
}

/* A weight of theirs that ours does not have. */
static int decide_theirs(merge *m, size_t i)
{
	const wl_entry *t = &m->theirs->entries[i];
	if (find(m->ours_names, m->ours, t->name) != NULL)
		return 0;
	const wl_entry *b = find(m->base_names, m->base, t->name);
	if (b == NULL) {
		m->result[m->result_count++] = (outcome){t, SIZE_MAX};
		m->report->added++;
		return 0;
	}
	if (!changed(b, t))
		return 0; /* removed on our side, unchanged on theirs */
	wl_string none = WL__EMPTY;
	return add_conflict(m, WL_CONFLICT_OURS_REMOVED, t->name, b, NULL, t, none);
}

/* A target of the result, cleaned as validation compares them. */
typedef struct target_ref {
	char *cleaned;
	size_t len;
	size_t at; /* index in the result */
} target_ref;

static int target_cmp(const void *x, const void *y)
{
	const target_ref *a = x, *b = y;
	int c = wl_string_compare((wl_string){a->cleaned, a->len}, (wl_string){b->cleaned, b->len});
	return c != 0 ? c : (a->at > b->at) - (a->at < b->at);
}

/* Two weights of the result with one target would make a lockfile that no
 * longer parses: each pair is a conflict, named by the later weight. */
static int check_targets(merge *m)
{
	target_ref *refs = calloc(m->result_count ? m->result_count : 1, sizeof *refs);
	if (refs == NULL)
		return wl__nomem();
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < m->result_count && rc == 0; i++) {
		wl_string target = m->result[i].entry->target;
		if (target.len == 0)
			continue;
		if (wl_path_clean(&refs[n].cleaned, &refs[n].len, target) != 0)
			rc = WL_ENOMEM;
		else
			refs[n++].at = i;
	}
	if (rc == 0)
		qsort(refs, n, sizeof *refs, target_cmp);
	for (size_t i = 1; i < n && rc == 0; i++) {
		if (!wl_string_equal((wl_string){refs[i - 1].cleaned, refs[i - 1].len},
		                     (wl_string){refs[i].cleaned, refs[i].len}))
			continue;
		const wl_entry *first = m->result[refs[i - 1].at].entry;
		const wl_entry *later = m->result[refs[i].at].entry;
		const wl_entry *o = find(m->ours_names, m->ours, later->name);
		const wl_entry *t = find(m->theirs_names, m->theirs, later->name);
		rc = add_conflict(m, WL_CONFLICT_SAME_TARGET, later->name,
		                  find(m->base_names, m->base, later->name), o, t, first->name);
	}
	for (size_t i = 0; i < n; i++)
		free(refs[i].cleaned);
	free(refs);
	return rc;
}

/* envelopeFormat, three-way; a change on both sides keeps ours's. */
static int merge_envelope(merge *m, wl_string *out)
{
	wl_string b = m->base->envelope_format, o = m->ours->envelope_format,
	          t = m->theirs->envelope_format;
	*out = o;
	if (wl_string_equal(o, t) || wl_string_equal(b, t))
		return 0;
	if (!wl_string_equal(b, o)) {
		m->report->envelope_conflict = true;
		return 0;
	}
	return wl_storage_string(m->ours->storage, out, t.ptr, t.len) ? 0 : wl__nomem();
}

/* Rebuilds ours's entry list from the outcomes. */
static int apply(merge *m)
{
	wl_lock *ours = m->ours;
	wl_entry *entries = calloc(m->result_count ? m->result_count : 1, sizeof *entries);
	if (entries == NULL)
		return wl__nomem();
	wl_string envelope;
	int rc = merge_envelope(m, &envelope);
	size_t n = 0;
	for (size_t k = 0; k < m->result_count && rc == 0; k++) {
		const outcome *r = &m->result[k];
		if (r->ours_index != SIZE_MAX && m->decisions[r->ours_index] == KEEP) {
			entries[n++] = ours->entries[r->ours_index];
			memset(&ours->entries[r->ours_index], 0, sizeof(wl_entry));
			continue;
		}
		/* Their strings stay where they are: `ours` absorbs their
		 * storage below, so a 100,000-file entry costs no string copy. */
		if (!wl__entry_copy(NULL, &entries[n], r->entry)) {
			wl__entry_free_lists(&entries[n]);
			rc = wl__nomem();
			break;
		}
		n++;
	}
	if (rc != 0) {
		/* Out of memory: kept entries go back where they were, copies
		 * are dropped, and `ours` is as it was. */
		for (size_t k = 0; k < n; k++) {
			const outcome *r = &m->result[k];
			if (r->ours_index != SIZE_MAX && m->decisions[r->ours_index] == KEEP)
				ours->entries[r->ours_index] = entries[k];
			else
				wl__entry_free_lists(&entries[k]);
		}
		free(entries);
		return rc;
	}
	if (m->report->taken + m->report->added > 0)
		wl_storage_absorb(ours->storage, m->theirs->storage);
	for (size_t i = 0; i < ours->entry_count; i++)
		wl__entry_free_lists(&ours->entries[i]);
	free(ours->entries);
	bool multi = ours->entry_count > 0 ? ours->multi_source : m->theirs->multi_source;
	ours->entries = entries;
	ours->entry_count = n;
	ours->envelope_format = envelope;
	ours->entries_present = ours->entries_present || n > 0 || m->report->removed > 0;
	for (size_t i = 0; i < n && !multi; i++) {
		if (entries[i].source_count != 1) {
			multi = true;
			m->report->became_multi = true;
		}
	}
	ours->multi_source = multi;
	return 0;
}

void wl_merge_report_free(wl_merge_report *report)
{
	if (report == NULL)
		return;
	free(report->conflicts);
	free(report);
}

int wl_lock_merge3(wl_merge_report **out, wl_lock *base, wl_lock *ours, wl_lock *theirs)
{
	*out = NULL;
	wl_lock *empty = NULL;
	if (base == NULL) {
		int rc = wl_lock_new(&empty);
		if (rc != 0)
			return rc;
		base = empty;
	}
	wl_lock *locks[] = {base, ours, theirs};
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < locks[k]->entry_count; i++)
			wl_entry_normalize(&locks[k]->entries[i]);
	merge m = {.base = base, .ours = ours, .theirs = theirs};
	m.report = calloc(1, sizeof *m.report);
	m.base_names = wl__sorted_names(base->entry_count, wl__lock_entry_name, base);
	m.ours_names = wl__sorted_names(ours->entry_count, wl__lock_entry_name, ours);
	m.theirs_names = wl__sorted_names(theirs->entry_count, wl__lock_entry_name, theirs);
	m.decisions = calloc(ours->entry_count ? ours->entry_count : 1, sizeof *m.decisions);
	size_t most = ours->entry_count + theirs->entry_count;
	m.result = calloc(most ? most : 1, sizeof *m.result);
	int rc = 0;
	if (m.report == NULL || m.base_names == NULL || m.ours_names == NULL ||
	    m.theirs_names == NULL || m.decisions == NULL || m.result == NULL)
		rc = wl__nomem();
	for (size_t i = 0; i < ours->entry_count && rc == 0; i++)
		rc = decide_ours(&m, i);
	for (size_t i = 0; i < theirs->entry_count && rc == 0; i++)
		rc = decide_theirs(&m, i);
	if (rc == 0 && m.report->conflict_count == 0)
		rc = check_targets(&m);
	if (rc == 0 && m.report->conflict_count == 0)
		rc = apply(&m);
	free(m.base_names);
	free(m.ours_names);
	free(m.theirs_names);
	free(m.decisions);
	free(m.result);
	if (rc != 0) {
		wl_merge_report_free(m.report);
		wl_lock_free(empty);
		return rc;
	}
	/* Conflicts may point into the empty base only as NULL. */
	wl_lock_free(empty);
	*out = m.report;
	return 0;
}
