/*
 * cmd_consume.c - the commands of the consumer side (SPEC.md §12): verify
 * a materialized directory against a lockfile entry.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A path as printed in a line: as is when that is unambiguous, else
 * quoted (a leading '"' would read as a quoted path). */
static void put_path(cli_buf *b, const char *path)
{
	wl_string s = wl_str(path);
	if (cli_plain_text(s) && path[0] != '"')
		cli_buf_put(b, s.ptr, s.len);
	else
		cli_buf_quoted(b, s);
}

/* One line per difference, the three sorted lists merged by path. */
static void verify_text(cli_buf *b, const wl_verify_report *r)
{
	static const char *const kinds[3] = {"missing ", "extra ", "modified "};
	char **lists[3] = {r->missing, r->extra, r->modified};
	size_t counts[3] = {r->missing_count, r->extra_count, r->modified_count};
	size_t next[3] = {0, 0, 0};
	for (;;) {
		int pick = -1;
		for (int k = 0; k < 3; k++)
			if (next[k] < counts[k] &&
			    (pick < 0 || strcmp(lists[k][next[k]], lists[pick][next[pick]]) < 0))
				pick = k;
		if (pick < 0)
			break;
		cli_buf_puts(b, kinds[pick]);
		put_path(b, lists[pick][next[pick]++]);
		cli_buf_puts(b, "\n");
	}
}

static void json_list(cli_buf *b, const char *key, char **list, size_t count, bool last)
{
	cli_buf_printf(b, "  \"%s\": [", key);
	for (size_t i = 0; i < count; i++) {
		cli_buf_puts(b, i ? ",\n    " : "\n    ");
		cli_buf_json_string(b, wl_str(list[i]));
	}
	cli_buf_puts(b, count ? "\n  ]" : "]");
	cli_buf_puts(b, last ? "\n" : ",\n");
}

static void verify_json(cli_buf *b, const wl_verify_report *r)
{
	cli_buf_puts(b, "{\n");
	json_list(b, "missing", r->missing, r->missing_count, false);
	json_list(b, "extra", r->extra, r->extra_count, false);
	json_list(b, "modified", r->modified, r->modified_count, true);
	cli_buf_puts(b, "}\n");
}

/* Loads the lockfile and finds the entry named by the first operand.
 * Returns 0, or 2 after printing the error (nothing to free then). */
static int load_entry(wl_lock **lock, const wl_entry **entry, const cli_invocation *cli)
{
	const char *path = cli_lock_path(cli);
	*entry = NULL;
	int status = cli_load_lock(lock, path);
	if (status != EXIT_OK)
		return status;
	wl_string name = wl_str(cli->operands[0]);
	*entry = wl_lock_find(*lock, name);
	if (*entry != NULL)
		return EXIT_OK;
	cli_buf q = {0};
	cli_buf_quoted(&q, name);
	cli_buf_put(&q, "", 1);
	status = cli_error("%s: no weight named %s", cli_display_name(path), q.failed ? "?" : q.data);
	cli_buf_release(&q);
	wl_lock_free(*lock);
	*lock = NULL;
	return status;
}

int cmd_verify(cli_invocation *cli)
{
	if (cli->operand_count < 2)
		return cli_usage_error(cli->command, "missing %s", cli->operand_count ? "DIR" : "NAME DIR");
	if (cli->operand_count > 2)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[2]);
	const char *dir = cli->operands[1];
	wl_lock *lock = NULL;
	const wl_entry *entry = NULL;
	int status = load_entry(&lock, &entry, cli);
	if (status != EXIT_OK)
		return status;
	cli_buf q = {0};
	cli_buf_human(&q, entry->name);
	cli_buf_put(&q, "", 1);
	const char *shown = q.failed ? "?" : q.data;
	cli_progress progress;
	cli_progress_init(&progress, cli);
	cli_install_cancel_handlers();
	wl_verify_options opts = {
		.threads = cli->jobs,
		.sizes_only = cli->sizes_only,
		.map_files = true, /* main() installed the SIGBUS handler */
		.progress = cli_progress_report,
		.progress_ctx = &progress,
		.cancel = &cli_cancel,
	};
	wl_verify_report *report = NULL;
	int rc = wl_verify_dir(&report, entry, dir, &opts);
	cli_progress_done(&progress);
	if (rc != 0) {
		status = cli_lib_error_in(dir, rc);
	} else {
		cli_buf b = {0};
		if (cli->json)
			verify_json(&b, report);
		else
			verify_text(&b, report);
		status = cli_flush_stdout(&b);
		cli_buf_release(&b);
		size_t differences = report->missing_count + report->extra_count + report->modified_count;
		if (status == EXIT_OK && differences > 0) {
			status = EXIT_FOUND;
		} else if (status == EXIT_OK) {
			cli_note(cli, "%s: %s matches (%zu files%s)", shown, dir, entry->file_count,
			         cli->sizes_only ? ", sizes only" : "");
		}
	}
	wl_verify_report_free(report);
	cli_buf_release(&q);
	wl_lock_free(lock);
	return status;
}

int cmd_extract(cli_invocation *cli)
{
	if (cli->operand_count < 2)
		return cli_usage_error(cli->command, "missing %s", cli->operand_count ? "DEST" : "NAME DEST");
	if (cli->operand_count > 2)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[2]);
	if ((cli->oci_layout == NULL) == (cli->registry == NULL))
		return cli_usage_error(cli->command, "one of --oci-layout LAYOUT and --registry REPOSITORY is required");
	const char *dest = cli->operands[1];
	wl_lock *lock = NULL;
	const wl_entry *entry = NULL;
	int status = load_entry(&lock, &entry, cli);
	if (status != EXIT_OK)
		return status;
	cli_progress progress;
	cli_progress_init(&progress, cli);
	cli_install_cancel_handlers();
	size_t others = 0;
	wl_extract_options opts = {
		.threads = cli->jobs,
		.force = cli->force,
		.progress = cli_progress_report,
		.progress_ctx = &progress,
		.cancel = &cli_cancel,
		.lock_timeout = cli->timeout,
		.others_left = &others,
	};
	int rc;
	cli_registry reg;
	if (cli->registry != NULL) {
		cli_registry_init(&reg, cli, cli->registry);
		reg.opts.timeout = 0; /* extract's --timeout is the wait for the target's lock */
		rc = wl_extract_registry(entry, &reg.opts, dest, &opts);
	} else {
		rc = wl_extract(entry, cli->oci_layout, dest, &opts);
	}
	cli_progress_done(&progress);
	if (rc == WL_EMISMATCH) {
		/* The command ran and found content that is not the lockfile's. */
		cli_lib_error(rc);
		status = EXIT_FOUND;
	} else if (rc != 0) {
		status = cli->registry != NULL ? cli_registry_error(&reg, rc) : cli_lib_error(rc);
	} else {
		cli_note(cli, "%s: %zu files extracted and verified in %s", cli->operands[0], entry->file_count, dest);
		if (others > 0)
			cli_note(cli, "%s: %zu other entries in %s were left as they are (--force)", cli->operands[0],
			         others, dest);
	}
	if (cli->registry != NULL)
		cli_registry_release(&reg);
	wl_lock_free(lock);
	return status;
}
