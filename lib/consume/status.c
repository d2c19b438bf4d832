/*
 * status.c - Cog's `cog weights status` (SPEC.md §18.3): each declared or
 * locked weight is pending, stale or orphaned from cog.yaml and the
 * lockfile alone (the drift comparison of config/drift.c), and the rest are
 * ready or incomplete from the registry: a HEAD per layer blob, as Cog
 * does, and one for the manifest by the entry's digest, which Cog does not.
 */
#include "common/internal.h"

#include "net/registry.h"

#include <stdlib.h>
#include <string.h>

#define JOBS_DEFAULT 4

const char *wl_weight_status_name(wl_weight_status status)
{
	switch (status) {
	case WL_STATUS_READY: return "ready";
	case WL_STATUS_INCOMPLETE: return "incomplete";
	case WL_STATUS_STALE: return "stale";
	case WL_STATUS_PENDING: return "pending";
	case WL_STATUS_ORPHANED: return "orphaned";
	}
	return "unknown";
}

void wl_status_report_free(wl_status_report *report)
{
	if (report == NULL)
		return;
	for (size_t i = 0; i < report->result_count; i++) {
		free(report->results[i].details);
		free(report->results[i].layers);
	}
	free(report->results);
	free(report);
}

/* One HEAD: a layer blob of a result, or (layer == SIZE_MAX) its manifest. */
typedef struct head_job {
	wl_status_result *result;
	size_t layer;
} head_job;

typedef struct head_run {
	wl__registry *reg;
	const char *repo;
	head_job *jobs;
} head_run;

static int head_one(void *ctx, size_t i)
{
	head_run *run = ctx;
	head_job *j = &run->jobs[i];
	wl_status_result *r = j->result;
	int rc;
	if (j->layer == SIZE_MAX)
		rc = wl__registry_manifest_exists(run->reg, run->repo, r->entry->digest.ptr, &r->manifest_present);
	else
		rc = wl__registry_blob_exists(run->reg, run->repo, r->layers[j->layer].digest.ptr,
		                              &r->layers[j->layer].present);
	if (rc != 0)
		wl__error_prefix("weight \"%s\"", r->name.ptr);
	return rc;
}

/* The local status of declaration `w` with its entry (NULL: none); sets
 * up the layers of one to check in the registry. */
static int classify(wl_status_result *r, const wl_config_weight *w, const wl_entry *e, size_t *heads)
{
	r->name = w->name;
	r->target = w->target;
	r->entry = e;
	if (e == NULL) {
		r->status = WL_STATUS_PENDING;
		return 0;
	}
	wl_buf b;
	wl_buf_init(&b);
	wl__drift_details(&b, e, w);
	if (b.failed) {
		wl_buf_release(&b);
		return wl__nomem();
	}
	if (b.len > 0) {
		r->status = WL_STATUS_STALE;
		return wl_buf_finish(&b, &r->details, NULL);
	}
	wl_buf_release(&b);
	r->checked = true;
	r->layer_count = e->layer_count;
	if (e->layer_count > 0 && (r->layers = calloc(e->layer_count, sizeof *r->layers)) == NULL)
		return wl__nomem();
	for (size_t k = 0; k < e->layer_count; k++) {
		r->layers[k].digest = e->layers[k].digest;
		r->layers[k].size = e->layers[k].size;
	}
	*heads += e->layer_count + 1;
	return 0;
}

/* Asks the registry about every result that is checked. */
static int check_registry(wl_status_report *report, size_t heads, const wl_registry_options *opts)
{
	head_run run;
	memset(&run, 0, sizeof run);
	size_t bytes;
	if (wl_mul_overflows_size(heads, sizeof *run.jobs, &bytes) || (run.jobs = malloc(bytes)) == NULL)
		return wl__nomem();
	size_t n = 0;
	for (size_t i = 0; i < report->result_count; i++) {
		wl_status_result *r = &report->results[i];
		if (!r->checked)
			continue;
		for (size_t k = 0; k < r->layer_count; k++)
			run.jobs[n++] = (head_job){r, k};
		run.jobs[n++] = (head_job){r, SIZE_MAX};
	}
	wl__http *http = NULL;
	char *repo = NULL;
	int rc = wl__registry_open(&run.reg, &http, &repo, opts, false);
	run.repo = repo;
	if (rc == 0)
		rc = wl__run_parallel(n, opts->jobs > 0 ? opts->jobs : JOBS_DEFAULT, head_one, &run, NULL, NULL,
		                      opts->cancel);
	wl__registry_free(run.reg);
	wl__http_free(http);
	free(repo);
	free(run.jobs);
	for (size_t i = 0; rc == 0 && i < report->result_count; i++) {
		wl_status_result *r = &report->results[i];
		if (!r->checked)
			continue;
		bool all = r->manifest_present;
		for (size_t k = 0; k < r->layer_count && all; k++)
			all = r->layers[k].present;
		r->status = all ? WL_STATUS_READY : WL_STATUS_INCOMPLETE;
	}
	return rc;
}

int wl_status(wl_status_report **out, const wl_config *config, const wl_lock *lock,
              const wl_registry_options *opts)
{
	*out = NULL;
	if (config == NULL || opts == NULL)
		return wl__fail(WL_EINVALID, "status: no configuration or registry options given");
	size_t entries = lock != NULL ? lock->entry_count : 0, total = config->weight_count + entries;
	wl_status_report *report = calloc(1, sizeof *report);
	if (report == NULL)
		return wl__nomem();
	int rc = 0;
	if (total < entries || (total > 0 && (report->results = calloc(total, sizeof *report->results)) == NULL))
		rc = wl__nomem();
	wl__name_ref *by_entry = wl__sorted_names(entries, wl__lock_entry_name, lock);
	wl__name_ref *by_weight = wl__sorted_names(config->weight_count, wl__config_weight_name, config);
	if (rc == 0 && (by_entry == NULL || by_weight == NULL))
		rc = wl__nomem();
	size_t heads = 0;
	for (size_t i = 0; rc == 0 && i < config->weight_count; i++) {
		const wl_config_weight *w = &config->weights[i];
		long at = wl__name_lookup(by_entry, entries, w->name);
		rc = classify(&report->results[report->result_count++], w, at >= 0 ? &lock->entries[at] : NULL,
		              &heads);
	}
	for (size_t i = 0; rc == 0 && i < entries; i++) {
		const wl_entry *e = &lock->entries[i];
		if (wl__name_lookup(by_weight, config->weight_count, e->name) >= 0)
			continue;
		report->results[report->result_count++] =
		        (wl_status_result){.name = e->name, .target = e->target, .status = WL_STATUS_ORPHANED, .entry = e};
	}
	free(by_entry);
	free(by_weight);
	if (rc == 0 && heads > 0)
		rc = check_registry(report, heads, opts);
	if (rc != 0) {
		wl_status_report_free(report);
		return rc;
	}
	*out = report;
	return 0;
}
