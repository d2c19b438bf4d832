/*
 * pull.c - the content store filled from a registry (SPEC.md §18.3): an
 * entry whose every file is in the store costs no request; otherwise only
 * the layers holding a missing file are streamed through extract's checks
 * straight into the store (extract.c, wl__pull_entry). No layer blob is
 * kept.
 */
#include "consume/extract_internal.h"
#include "net/registry.h"

#include <stdlib.h>
#include <string.h>

void wl_pull_report_free(wl_pull_report *report)
{
	if (report == NULL)
		return;
	free(report->results);
	free(report);
}

static int all_present(const wl_entry *e, wl_store *store, bool *yes)
{
	*yes = true;
	for (size_t i = 0; i < e->file_count && *yes; i++) {
		int has = wl_store_has(store, e->files[i].digest.ptr, e->files[i].size);
		if (has < 0)
			return has;
		*yes = has == 1;
	}
	return 0;
}

int wl_pull(wl_pull_report **out, const wl_lock *lock, const char *const *names, size_t name_count,
            const char *store_dir, const wl_registry_options *opts)
{
	*out = NULL;
	int rc = wl__lock_check_names(lock, names, name_count);
	if (rc != 0)
		return rc;
	wl_pull_report *report = calloc(1, sizeof *report);
	if (report == NULL ||
	    (lock->entry_count > 0 && (report->results = calloc(lock->entry_count, sizeof *report->results)) == NULL)) {
		free(report);
		return wl__nomem();
	}
	wl_store *store = NULL;
	rc = wl_store_open(&store, store_dir);
	wl__registry *reg = NULL;
	wl__http *http = NULL;
	char *repo = NULL;
	wl_extract_options xo;
	memset(&xo, 0, sizeof xo);
	xo.threads = opts->jobs > 0 ? opts->jobs : 4;
	xo.progress = opts->progress;
	xo.progress_ctx = opts->progress_ctx;
	xo.cancel = opts->cancel;
	for (size_t k = 0; rc == 0 && k < lock->entry_count; k++) {
		const wl_entry *e = &lock->entries[k];
		if (!wl__names_select(names, name_count, e->name))
			continue;
		wl_pull_result *res = &report->results[report->result_count];
		res->name = e->name.ptr;
		bool cached;
		rc = all_present(e, store, &cached);
		if (rc == 0 && cached) {
			res->cached = true;
			report->result_count++;
			continue;
		}
		/* the first entry that needs the registry opens it */
		if (rc == 0 && reg == NULL)
			rc = wl__registry_open(&reg, &http, &repo, opts, false);
		if (rc == 0)
			rc = wl__pull_entry(e, reg, repo, store, &xo, &res->files_fetched, &res->bytes_fetched,
			                    &res->layers_fetched);
		if (rc == 0)
			report->result_count++;
	}
	wl__registry_free(reg);
	wl__http_free(http);
	free(repo);
	wl_store_free(store);
	*out = report;
	return rc;
}
