/*
 * cmd_source.c - the commands that read local weight directories: digest
 * and import.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Trims the patterns as cog.yaml normalization does and sorts them
 * byte-wise; an empty pattern is an error. Returns 0 or 2. */
static int normalize_patterns(wl_string **out, const char **given, size_t count, const char *flag)
{
	*out = calloc(count ? count : 1, sizeof(wl_string));
	if (*out == NULL)
		return cli_error("out of memory");
	for (size_t i = 0; i < count; i++) {
		wl_string t = wl_pattern_trim(wl_str(given[i]));
		if (t.len == 0) {
			free(*out);
			*out = NULL;
			return cli_error("--%s: pattern must not be empty", flag);
		}
		/* Insertion keeps the list sorted; lists are short. */
		size_t k = i;
		while (k > 0 && wl_string_compare((*out)[k - 1], t) > 0) {
			(*out)[k] = (*out)[k - 1];
			k--;
		}
		(*out)[k] = t;
	}
	return EXIT_OK;
}

int cmd_digest(cli_invocation *cli)
{
	if (cli->operand_count == 0)
		return cli_usage_error(cli->command, "missing DIR");
	if (cli->operand_count > 1)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[1]);
	const char *dir = cli->operands[0];
	wl_string *include = NULL, *exclude = NULL;
	int status = normalize_patterns(&include, cli->include, cli->include_count, "include");
	if (status == EXIT_OK)
		status = normalize_patterns(&exclude, cli->exclude, cli->exclude_count, "exclude");
	wl_filter *filter = NULL;
	wl_source_tree *tree = NULL;
	bool *keep = NULL;
	cli_progress progress;
	cli_progress_init(&progress, cli);
	if (status != EXIT_OK)
		goto out;
	int rc = wl_filter_new(&filter, include, cli->include_count, exclude, cli->exclude_count);
	if (rc != 0) {
		status = cli_lib_error(rc);
		goto out;
	}
	for (size_t i = 0; i < wl_filter_warning_count(filter); i++)
		cli_warn("%s", wl_filter_warning(filter, i));
	rc = wl_source_walk(&tree, dir);
	if (rc != 0) {
		status = cli_lib_error_in(dir, rc);
		goto out;
	}
	/* main() installed the SIGBUS handler that mapped reads need. */
	wl_hash_options ho = {.threads = cli->jobs, .progress = cli_progress_report, .progress_ctx = &progress,
	                      .cancel = &cli_cancel, .map_files = true};
	cli_install_cancel_handlers();
	rc = wl_source_hash(tree, &ho);
	cli_progress_done(&progress);
	if (rc != 0) {
		status = cli_lib_error_in(dir, rc);
		goto out;
	}
	keep = calloc(tree->file_count ? tree->file_count : 1, sizeof(bool));
	size_t kept = 0;
	if (keep == NULL) {
		status = cli_error("out of memory");
		goto out;
	}
	rc = wl_filter_select(keep, &kept, filter, tree->files, tree->file_count);
	if (rc != 0) {
		status = cli_lib_error_in(dir, rc);
		goto out;
	}
	wl_dirhash_part *parts = calloc(kept ? kept : 1, sizeof *parts);
	if (parts == NULL) {
		status = cli_error("out of memory");
		goto out;
	}
	cli_buf b = {0};
	size_t n = 0;
	for (size_t i = 0; i < tree->file_count; i++) {
		if (!keep[i])
			continue;
		const wl_source_file *f = &tree->files[i];
		parts[n].path = f->path;
		parts[n++].digest = wl_str(f->digest);
		if (cli->list) {
			cli_buf_puts(&b, f->digest + 7);
			cli_buf_puts(&b, "  ");
			cli_buf_put(&b, f->path.ptr, f->path.len);
			cli_buf_puts(&b, "\n");
		}
	}
	char set[WL_DIGEST_LEN + 1];
	rc = wl_dirhash(set, parts, n);
	free(parts);
	if (rc != 0) {
		cli_buf_release(&b);
		status = cli_lib_error(rc);
		goto out;
	}
	cli_buf_puts(&b, set);
	cli_buf_puts(&b, "\n");
	status = cli_flush_stdout(&b);
	cli_buf_release(&b);
out:
	free(keep);
	wl_source_tree_free(tree);
	wl_filter_free(filter);
	free(include);
	free(exclude);
	return status;
}

/* The hash cache's directory: --cache-dir, else $XDG_CACHE_HOME/weightslock,
 * else $HOME/.cache/weightslock; NULL when none can be named. */
static char *cache_dir(const cli_invocation *cli)
{
	if (cli->no_cache)
		return NULL;
	if (cli->cache_dir != NULL)
		return strdup(cli->cache_dir);
	const char *xdg = getenv("XDG_CACHE_HOME");
	cli_buf b = {0};
	if (xdg != NULL && xdg[0] == '/') {
		cli_buf_printf(&b, "%s/weightslock", xdg);
	} else {
		const char *home = getenv("HOME");
		if (home == NULL || home[0] != '/')
			return NULL;
		cli_buf_printf(&b, "%s/.cache/weightslock", home);
	}
	cli_buf_put(&b, "", 1);
	return b.failed ? NULL : b.data;
}

/* The content store Cog shares (SPEC.md §17): --store, else
 * $COG_CACHE_DIR/weights, else $XDG_CACHE_HOME/cog/weights, else
 * $HOME/.cache/cog/weights; NULL when none can be named. */
char *cli_store_dir(const cli_invocation *cli)
{
	if (cli->store != NULL)
		return strdup(cli->store);
	const char *cog = getenv("COG_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	cli_buf b = {0};
	if (cog != NULL && cog[0] != '\0')
		cli_buf_printf(&b, "%s/weights", cog);
	else if (xdg != NULL && xdg[0] == '/')
		cli_buf_printf(&b, "%s/cog/weights", xdg);
	else if (home != NULL && home[0] == '/')
		cli_buf_printf(&b, "%s/.cache/cog/weights", home);
	else
		return NULL;
	cli_buf_put(&b, "", 1);
	return b.failed ? NULL : b.data;
}

/* HF_TOKEN, else HUGGING_FACE_HUB_TOKEN (SPEC.md §16.2). */
static const char *hf_token(void)
{
	const char *t = getenv("HF_TOKEN");
	if (t == NULL || t[0] == '\0')
		t = getenv("HUGGING_FACE_HUB_TOKEN");
	return t != NULL && t[0] != '\0' ? t : NULL;
}

/* The directory holding cog.yaml: relative sources resolve against it. */
char *cli_project_dir(const char *config_path)
{
	const char *slash = strrchr(config_path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == config_path)
		return strdup("/");
	return strndup(config_path, (size_t)(slash - config_path));
}

static const char *status_icon(wl_import_status s)
{
	switch (s) {
	case WL_IMPORT_NEW: return "+";
	case WL_IMPORT_UNCHANGED: return "=";
	default: return "~";
	}
}

/* Cog's plan text (SPEC.md §11.9). */
static void print_plan(cli_buf *b, const wl_import_report *report, bool verbose)
{
	for (size_t i = 0; i < report->result_count; i++) {
		const wl_import_result *r = &report->results[i];
		char size[32];
		int64_t n = r->size;
		if (n < 1024) {
			snprintf(size, sizeof size, "%lldB", (long long)n);
		} else {
			static const char *units[] = {"KB", "MB", "GB", "TB", "PB"};
			double v = (double)n / 1024.0;
			int u = 0;
			while (v >= 1024.0 && u < 4) {
				v /= 1024.0;
				u++;
			}
			snprintf(size, sizeof size, "%.1f%s", v, units[u]);
		}
		cli_buf_printf(b, "%s ", status_icon(r->status));
		cli_buf_human(b, r->name);
		cli_buf_puts(b, "  ");
		cli_buf_human(b, r->uri);
		cli_buf_puts(b, " \xe2\x86\x92 ");
		cli_buf_human(b, r->target);
		cli_buf_printf(b, "\n  status: %s\n", wl_import_status_name(r->status));
		if (r->decision == WL_IMPORT_REPACK) {
			/* Beyond Cog's plan: the recorded layers will not be reused. */
			cli_buf_puts(b, "  repack: ");
			cli_buf_text(b, r->reason);
			cli_buf_puts(b, "\n");
		}
		for (size_t k = 0; k < r->change_count; k++) {
			cli_buf_puts(b, "  changed: ");
			cli_buf_text(b, r->changes[k]);
			cli_buf_puts(b, "\n");
		}
		cli_buf_printf(b, "  files: %zu  size: %s\n", r->file_count, size);
		if (verbose) {
			for (size_t k = 0; k < r->excluded_count; k++) {
				cli_buf_puts(b, "    - ");
				cli_buf_text(b, r->excluded[k]);
				cli_buf_puts(b, "\n");
			}
			for (size_t k = 0; k < r->included_count; k++) {
				cli_buf_puts(b, "    + ");
				cli_buf_text(b, r->included[k]);
				cli_buf_puts(b, "\n");
			}
		}
		cli_buf_puts(b, "\n");
	}
}

/* import --check: one line per weight that changes the lockfile, naming
 * why, and per entry that would be removed. */
static void print_check(cli_buf *b, const wl_import_report *report, const char *lock_path)
{
	for (size_t i = 0; i < report->result_count; i++) {
		const wl_import_result *r = &report->results[i];
		if (!r->changes_lockfile)
			continue;
		cli_buf_human(b, r->name);
		if (r->decision == WL_IMPORT_REPACK) {
			cli_buf_puts(b, ": packing changed (");
			cli_buf_text(b, r->reason);
			cli_buf_puts(b, ")");
		} else {
			cli_buf_puts(b, ": ");
			cli_buf_text(b, r->reason);
			for (size_t k = 0; k < r->change_count; k++) {
				cli_buf_puts(b, k == 0 ? " (" : "; ");
				cli_buf_text(b, r->changes[k]);
			}
			if (r->change_count > 0)
				cli_buf_puts(b, ")");
		}
		cli_buf_puts(b, "\n");
	}
	for (size_t i = 0; i < report->pruned; i++) {
		cli_buf_human(b, wl_str(report->removed[i]));
		cli_buf_puts(b, ": undeclared, would be removed\n");
	}
	if (report->reshaped) {
		cli_buf_human(b, wl_str(lock_path));
		cli_buf_puts(b, ": would be rewritten in the multi-source shape\n");
	}
}

/* import --json (schema weightslock.import/1). */
static void print_json(cli_buf *b, const wl_import_report *report, const char *lock_path)
{
	cli_buf_puts(b, "{\n  \"schema\": \"weightslock.import/1\",\n  \"lockfile\": ");
	cli_buf_json_string(b, wl_str(lock_path));
	cli_buf_printf(b, ",\n  \"changed\": %s,\n  \"written\": %s,\n  \"weights\": [",
	               report->changed ? "true" : "false", report->lockfile_written ? "true" : "false");
	for (size_t i = 0; i < report->result_count; i++) {
		const wl_import_result *r = &report->results[i];
		cli_buf_puts(b, i ? ",\n    {\n      \"name\": " : "\n    {\n      \"name\": ");
		cli_buf_json_string(b, r->name);
		cli_buf_printf(b, ",\n      \"status\": \"%s\",\n      \"decision\": \"%s\",\n      \"reason\": ",
		               wl_import_status_name(r->status), wl_import_decision_name(r->decision));
		cli_buf_json_string(b, wl_str(r->reason));
		cli_buf_puts(b, ",\n      \"changes\": [");
		for (size_t k = 0; k < r->change_count; k++) {
			cli_buf_puts(b, k ? ", " : "");
			cli_buf_json_string(b, wl_str(r->changes[k]));
		}
		cli_buf_printf(b, "],\n      \"files\": %zu,\n      \"bytes\": %lld,\n      \"digest\": ", r->file_count,
		               (long long)r->size);
		if (r->digest[0] != '\0')
			cli_buf_json_string(b, wl_str(r->digest));
		else
			cli_buf_puts(b, "null");
		cli_buf_puts(b, "\n    }");
	}
	cli_buf_puts(b, report->result_count ? "\n  ],\n  \"removed\": [" : "],\n  \"removed\": [");
	for (size_t i = 0; i < report->pruned; i++) {
		cli_buf_puts(b, i ? ", " : "");
		cli_buf_json_string(b, wl_str(report->removed[i]));
	}
	cli_buf_puts(b, "]\n}\n");
}

int cmd_import(cli_invocation *cli)
{
	const char *config_path = cli_config_path(cli);
	const char *lock_path = cli_lock_path(cli);
	wl_config *config = NULL;
	int rc = wl_config_load(&config, config_path);
	if (rc != 0)
		return cli_lib_error_in(config_path, rc);
	wl_string *names = NULL;
	if (cli->operand_count > 0) {
		names = calloc(cli->operand_count, sizeof *names);
		if (names == NULL) {
			wl_config_free(config);
			return cli_error("out of memory");
		}
		for (size_t i = 0; i < cli->operand_count; i++)
			names[i] = wl_str(cli->operands[i]);
	}
	char *cache = cache_dir(cli);
	char *store = cli_store_dir(cli);
	char *project = cli_project_dir(config_path);
	cli_progress progress;
	cli_progress_init(&progress, cli);
	cli_install_cancel_handlers();
	wl_import_options opts = {
		.project_dir = project,
		.lockfile = lock_path,
		.names = names,
		.name_count = cli->operand_count,
		.pack = {cli->bundle_file_max, cli->bundle_size_max},
		.oci_layout = cli->oci_layout,
		.cache_dir = cache,
		.store_dir = store,
		.hf_endpoint = getenv("HF_ENDPOINT"),
		.hf_token = hf_token(),
		.cacert = cli->cacert,
		.threads = cli->jobs,
		.dry_run = cli->dry_run || cli->check,
		.repack = cli->repack,
		.lock_timeout = cli->timeout,
		.map_files = true,
		.progress = cli_progress_report,
		.progress_ctx = &progress,
		.cancel = &cli_cancel,
	};
	wl_import_report *report = NULL;
	rc = wl_import(&report, config, &opts);
	cli_progress_done(&progress);
	int status = EXIT_OK;
	for (size_t i = 0; rc != 0 && report != NULL && i < report->warning_count; i++)
		cli_warn("%s", report->warnings[i]);
	if (rc != 0) {
		status = cli_lib_error(rc);
	} else if (cli->json || cli->dry_run || cli->check) {
		cli_buf b = {0};
		if (cli->json)
			print_json(&b, report, lock_path);
		else if (cli->dry_run)
			print_plan(&b, report, cli->verbose);
		if (cli->check && !cli->json)
			print_check(&b, report, lock_path);
		status = cli_flush_stdout(&b);
		cli_buf_release(&b);
		if (cli->check && status == EXIT_OK) {
			cli_note(cli, "%s: %s", lock_path, report->changed ? "would change" : "up to date");
			status = report->changed ? EXIT_FOUND : EXIT_OK;
		}
	}
	if (rc == 0 && !cli->dry_run && !cli->check) {
		for (size_t i = 0; i < report->result_count; i++) {
			const wl_import_result *r = &report->results[i];
			cli_buf b = {0};
			cli_buf_human(&b, r->name);
			cli_buf_put(&b, "", 1);
			if (b.failed)
				continue;
			const char *outcome = !r->entry_changed ? ", entry unchanged" : r->packed ? ", packed" : ", entry updated";
			if (r->decision == WL_IMPORT_REPACK)
				cli_note(cli, "%s: %s, %zu files, %lld bytes, repacked (%s)%s", b.data,
				         wl_import_status_name(r->status), r->file_count, (long long)r->size, r->reason,
				         !r->entry_changed ? ", entry unchanged" : ", entry updated");
			else
				cli_note(cli, "%s: %s, %zu files, %lld bytes%s", b.data, wl_import_status_name(r->status),
				         r->file_count, (long long)r->size, outcome);
			cli_buf_release(&b);
		}
		if (report->pruned > 0)
			cli_note(cli, "%s: removed %zu undeclared entr%s", lock_path, report->pruned,
			         report->pruned == 1 ? "y" : "ies");
		cli_note(cli, "%s: %s", lock_path, report->lockfile_written ? "written" : "unchanged");
	}
	for (size_t i = 0; rc == 0 && i < report->warning_count; i++)
		cli_warn("%s", report->warnings[i]);
	wl_import_report_free(report);
	free(cache);
	free(store);
	free(project);
	free(names);
	wl_config_free(config);
	return status;
}
