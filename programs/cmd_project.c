/*
 * cmd_project.c - the commands that read cog.yaml: drift and prune.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int no_operands(const cli_invocation *cli)
{
	if (cli->operand_count > 0)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[0]);
	return -1;
}

/* ---- drift ---- */

static void drift_text(cli_buf *b, const char *lock_path, const char *config_path,
                       const wl_drift_result *results, size_t count)
{
	cli_buf_text(b, lock_path);
	cli_buf_puts(b, " is out of sync with ");
	cli_buf_text(b, config_path);
	cli_buf_puts(b, ":\n");
	for (size_t i = 0; i < count; i++) {
		cli_buf_puts(b, "  - ");
		cli_buf_quoted(b, results[i].name);
		switch (results[i].kind) {
		case WL_DRIFT_PENDING: cli_buf_puts(b, ": not imported yet\n"); break;
		case WL_DRIFT_ORPHANED:
			cli_buf_puts(b, ": removed from cog.yaml but still in lockfile\n");
			break;
		case WL_DRIFT_CONFIG_CHANGED:
			cli_buf_puts(b, ": config changed (");
			cli_buf_text(b, results[i].details);
			cli_buf_puts(b, ")\n");
			break;
		}
	}
	cli_buf_puts(b, "Run 'cog weights import' to update.\n");
}

static void drift_json(cli_buf *b, const wl_drift_result *results, size_t count)
{
	if (count == 0) {
		cli_buf_puts(b, "[]\n");
		return;
	}
	cli_buf_puts(b, "[\n");
	for (size_t i = 0; i < count; i++) {
		cli_buf_puts(b, "  {\n    \"name\": ");
		cli_buf_json_string(b, results[i].name);
		cli_buf_puts(b, ",\n    \"kind\": ");
		cli_buf_json_string(b, wl_str(wl_drift_kind_name(results[i].kind)));
		cli_buf_puts(b, ",\n    \"details\": ");
		cli_buf_json_string(b, wl_str(results[i].details));
		cli_buf_puts(b, i + 1 < count ? "\n  },\n" : "\n  }\n");
	}
	cli_buf_puts(b, "]\n");
}

int cmd_drift(cli_invocation *cli)
{
	int status = no_operands(cli);
	if (status >= 0)
		return status;
	wl_config *config = NULL;
	status = cli_load_config(&config, cli);
	if (status != EXIT_OK)
		return status;
	const char *lock_path = cli_lock_path(cli);
	wl_lock *lock = NULL;
	status = cli_load_optional_lock(&lock, lock_path);
	if (status != EXIT_OK) {
		wl_config_free(config);
		return status;
	}
	wl_drift_result *results = NULL;
	size_t count = 0;
	int rc = wl_check_drift(&results, &count, lock, config);
	if (rc != 0) {
		status = cli_lib_error_in(cli_config_path(cli), rc);
	} else {
		cli_buf out = {0};
		if (cli->json)
			drift_json(&out, results, count);
		else if (count > 0)
			drift_text(&out, cli_display_name(lock_path), cli_config_path(cli), results, count);
		status = cli_flush_stdout(&out);
		cli_buf_release(&out);
		if (status == EXIT_OK && count > 0)
			status = EXIT_FOUND;
		else if (status == EXIT_OK && !cli->json)
			cli_note(cli, "%s is in sync with %s", cli_display_name(lock_path),
			         cli_config_path(cli));
	}
	wl_drift_results_free(results, count);
	wl_lock_free(lock);
	wl_config_free(config);
	return status;
}

/* ---- prune ---- */

/* True when every entry's name is in `keep`: pruning would change nothing. */
static bool keeps_all(const wl_lock *lock, const wl_string *keep, size_t count)
{
	for (size_t i = 0; i < lock->entry_count; i++) {
		bool kept = false;
		for (size_t k = 0; k < count && !kept; k++)
			kept = wl_string_equal(lock->entries[i].name, keep[k]);
		if (!kept)
			return false;
	}
	return true;
}

static int prune_locked(const cli_invocation *cli, const char *path, const wl_string *keep, size_t count)
{
	wl_guard *guard = NULL;
	int status = cli_acquire_guard(&guard, cli, path);
	if (status != EXIT_OK)
		return status;
	size_t removed = 0;
	int rc = wl_prune_lockfile(path, keep, count, &removed);
	if (rc != 0)
		status = cli_lib_error_in(path, rc);
	int released = cli_release_guard(guard);
	if (status == EXIT_OK && released == EXIT_OK)
		cli_note(cli, "%s: removed %zu %s", path, removed, removed == 1 ? "entry" : "entries");
	return status != EXIT_OK ? status : released;
}

int cmd_prune(cli_invocation *cli)
{
	int status = no_operands(cli);
	if (status >= 0)
		return status;
	const char *path = cli_lock_path(cli);
	if (strcmp(path, "-") == 0)
		return cli_usage_error(cli->command, "the lockfile cannot be standard input");
	wl_config *config = NULL;
	size_t count = cli->keep_count;
	wl_string *keep = NULL;
	if (count == 0) {
		status = cli_load_config(&config, cli);
		if (status != EXIT_OK)
			return status;
		count = config->weight_count;
	}
	keep = calloc(count ? count : 1, sizeof *keep);
	if (keep == NULL) {
		wl_config_free(config);
		return cli_error("out of memory");
	}
	for (size_t i = 0; i < count; i++)
		keep[i] = config != NULL ? config->weights[i].name : wl_str(cli->keep[i]);

	/* Look first without the guard lock, so that a missing lockfile or one
	 * with nothing to remove leaves no trace (not even a guard file). */
	wl_lock *lock = NULL;
	status = cli_load_optional_lock(&lock, path);
	if (status == EXIT_OK && lock == NULL) {
		cli_note(cli, "%s: no lockfile, nothing to prune", path);
	} else if (status == EXIT_OK && keeps_all(lock, keep, count)) {
		cli_note(cli, "%s: removed 0 entries", path);
	} else if (status == EXIT_OK) {
		status = prune_locked(cli, path, keep, count);
	}
	wl_lock_free(lock);
	free(keep);
	wl_config_free(config);
	return status;
}
