/*
 * drift.c - Cog's CheckDrift: the declarations of cog.yaml against the
 * lockfile, with Cog's result order and details text (SPEC.md §8.3, §8.4)
 * and the later Cog's rules for weights with other than one source (§13).
 *
 * Lockfile values are compared as stored, never re-normalized: a lockfile
 * written with an older spelling must show up as changed, as it does in Cog.
 * Hand-written because the rules and texts are Cog's own; no library has them.
 */
#include "common/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARROW " \xE2\x86\x92 " /* " → " */

const char *wl_drift_kind_name(wl_drift_kind kind)
{
	switch (kind) {
	case WL_DRIFT_PENDING: return "pending";
	case WL_DRIFT_ORPHANED: return "orphaned";
	case WL_DRIFT_CONFIG_CHANGED: return "config-changed";
	}
	return "unknown";
}

/* Go's %v of a []string: "[a b c]", "[]" when empty or absent. */
static void put_list(wl_buf *b, const wl_string *list, size_t n)
{
	wl_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			wl_buf_putc(b, ' ');
		wl_buf_put_str(b, list[i]);
	}
	wl_buf_putc(b, ']');
}

/* Starts one "FIELD: " item, separated from the previous by "; ". */
static void begin_item(wl_buf *b, const char *prefix, const char *field)
{
	if (b->len > 0)
		wl_buf_puts(b, "; ");
	wl_buf_puts(b, prefix);
	wl_buf_puts(b, field);
	wl_buf_puts(b, ": ");
}

static void diff_string(wl_buf *b, const char *prefix, const char *field, wl_string old,
                        wl_string now)
{
	if (wl_string_equal(old, now))
		return;
	begin_item(b, prefix, field);
	wl_buf_put_str(b, old);
	wl_buf_puts(b, ARROW);
	wl_buf_put_str(b, now);
}

static void diff_list(wl_buf *b, const char *prefix, const char *field, const wl_string *old,
                      size_t old_n, const wl_string *now, size_t now_n)
{
	if (wl__strings_equal(old, old_n, now, now_n))
		return;
	begin_item(b, prefix, field);
	put_list(b, old, old_n);
	wl_buf_puts(b, ARROW);
	put_list(b, now, now_n);
}

static void diff_patterns(wl_buf *b, const char *prefix, const wl_source *old,
                          const wl_source *now)
{
	diff_list(b, prefix, "include", old->include, old->include_count, now->include,
	          now->include_count);
	diff_list(b, prefix, "exclude", old->exclude, old->exclude_count, now->exclude,
	          now->exclude_count);
}

/* The details of one declared weight against its entry; "" when equal. */
void wl__drift_details(wl_buf *b, const wl_entry *entry, const wl_config_weight *w)
{
	if (entry->source_count == 1 && w->source_count == 1) {
		/* Cog v0.19.3: uri, target, include, exclude. */
		const wl_source *old = &entry->sources[0], *now = &w->sources[0];
		diff_string(b, "", "uri", old->uri, now->uri);
		diff_string(b, "", "target", entry->target, w->target);
		diff_patterns(b, "", old, now);
		return;
	}
	/* The later Cog: target first, then the count or each source. */
	diff_string(b, "", "target", entry->target, w->target);
	if (entry->source_count != w->source_count) {
		begin_item(b, "", "source count");
		wl_buf_printf(b, "%zu" ARROW "%zu", entry->source_count, w->source_count);
		return;
	}
	for (size_t i = 0; i < w->source_count; i++) {
		char prefix[40] = "";
		if (w->source_count > 1)
			snprintf(prefix, sizeof prefix, "source[%zu].", i);
		const wl_source *old = &entry->sources[i], *now = &w->sources[i];
		diff_string(b, prefix, "uri", old->uri, now->uri);
		diff_patterns(b, prefix, old, now);
	}
}

/* Names are looked up in sorted tables, so drift costs O(n log n) (§15). */

wl_string wl__config_weight_name(const void *config, size_t i)
{
	return ((const wl_config *)config)->weights[i].name;
}

static int add_result(wl_drift_result **list, size_t *count, size_t *cap, wl_string name,
                      wl_drift_kind kind, char *details)
{
	if (*count == *cap) {
		size_t want = *cap ? *cap * 2 : 8, bytes;
		if (wl_mul_overflows_size(want, sizeof **list, &bytes))
			return wl__nomem();
		wl_drift_result *grown = realloc(*list, bytes);
		if (grown == NULL)
			return wl__nomem();
		*list = grown;
		*cap = want;
	}
	if (details == NULL) {
		details = calloc(1, 1);
		if (details == NULL)
			return wl__nomem();
	}
	(*list)[(*count)++] = (wl_drift_result){name, kind, details};
	return 0;
}

int wl_check_drift(wl_drift_result **out, size_t *count, const wl_lock *lock,
                   const wl_config *config)
{
	*out = NULL;
	*count = 0;
	if (config == NULL)
		return wl__fail(WL_EINVALID, "drift: no configuration given");
	wl_drift_result *list = NULL;
	size_t n = 0, cap = 0;
	size_t entries = lock != NULL ? lock->entry_count : 0;
	wl__name_ref *by_entry = wl__sorted_names(entries, wl__lock_entry_name, lock);
	wl__name_ref *by_weight = wl__sorted_names(config->weight_count, wl__config_weight_name, config);
	int rc = by_entry == NULL || by_weight == NULL ? wl__nomem() : 0;
	for (size_t i = 0; i < config->weight_count && rc == 0; i++) {
		const wl_config_weight *w = &config->weights[i];
		long at = wl__name_lookup(by_entry, entries, w->name);
		const wl_entry *entry = at >= 0 ? &lock->entries[at] : NULL;
		if (entry == NULL) {
			rc = add_result(&list, &n, &cap, w->name, WL_DRIFT_PENDING, NULL);
			continue;
		}
		wl_buf b;
		wl_buf_init(&b);
		wl__drift_details(&b, entry, w);
		if (b.len == 0 && !b.failed) {
			wl_buf_release(&b);
			continue;
		}
		char *details = NULL;
		rc = wl_buf_finish(&b, &details, NULL);
		if (rc == 0) {
			rc = add_result(&list, &n, &cap, w->name, WL_DRIFT_CONFIG_CHANGED, details);
			if (rc != 0)
				free(details);
		}
	}
	for (size_t i = 0; i < entries && rc == 0; i++)
		if (wl__name_lookup(by_weight, config->weight_count, lock->entries[i].name) < 0)
			rc = add_result(&list, &n, &cap, lock->entries[i].name, WL_DRIFT_ORPHANED, NULL);
	free(by_entry);
	free(by_weight);
	if (rc != 0) {
		wl_drift_results_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

void wl_drift_results_free(wl_drift_result *results, size_t count)
{
	if (results == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(results[i].details);
	free(results);
}
