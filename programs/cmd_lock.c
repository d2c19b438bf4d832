/*
 * cmd_lock.c - the commands that read one lockfile: fmt, check, show,
 * runtime-manifest and manifest.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int expect_operands(const cli_invocation *cli, size_t min, size_t max)
{
	if (cli->operand_count < min)
		return cli_usage_error(cli->command, "missing %s", cli->command->operands);
	if (cli->operand_count > max)
		return cli_usage_error(cli->command, "unexpected argument '%s'",
		                       cli->operands[max]);
	return -1;
}

/* The lockfile: the operand if given, else --lock, else the default. */
static int lockfile_from(const cli_invocation *cli, const char *operand, const char **out)
{
	*out = operand != NULL ? operand : cli_lock_path(cli);
	if (operand != NULL && cli->lock_path != NULL && strcmp(operand, cli->lock_path) != 0)
		return cli_usage_error(cli->command,
		                       "give the lockfile as LOCKFILE or with --lock, not both");
	return -1;
}

/* ---- fmt ---- */

/* Reads and parses the lockfile, keeping its bytes. Returns 0 or 2. */
static int read_lock(wl_lock **lock, char **data, size_t *len, const char *path)
{
	char why[1024];
	*lock = NULL;
	*data = NULL;
	if (cli_read_file(data, len, path, WL_LOCK_SIZE_MAX, why, sizeof why) != 0)
		return cli_error("%s", why);
	int rc = wl_lock_parse(lock, *data, *len, cli_display_name(path));
	if (rc != 0) {
		free(*data);
		*data = NULL;
		return cli_lib_error_in(cli_display_name(path), rc);
	}
	return EXIT_OK;
}

/* A marshal sink that compares the canonical bytes with the file's own,
 * chunk by chunk, so no second copy of a large lockfile is made. */
typedef struct compare_sink {
	const char *data;
	size_t len;
	size_t offset;
	bool same;
} compare_sink;

static int compare_chunk(void *ctx, const void *chunk, size_t n)
{
	compare_sink *c = ctx;
	if (c->same && (n > c->len - c->offset || memcmp(c->data + c->offset, chunk, n) != 0))
		c->same = false;
	c->offset += n;
	return 0;
}

/* Whether `data` is the canonical form of `lock`. Returns 0 or 2. */
static int is_canonical(bool *same, wl_lock *lock, const char *data, size_t len, const char *path)
{
	compare_sink c = {data, len, 0, true};
	int rc = wl_lock_marshal_to(lock, compare_chunk, &c);
	if (rc != 0)
		return cli_lib_error_in(cli_display_name(path), rc);
	*same = c.same && c.offset == len;
	return EXIT_OK;
}

static int write_stdout_chunk(void *ctx, const void *chunk, size_t n)
{
	int *err = ctx;
	*err = cli_write_all(STDOUT_FILENO, chunk, n);
	return *err;
}

/* fmt --stdout: the canonical bytes, streamed as they are encoded. */
static int print_canonical(const char *path)
{
	wl_lock *lock = NULL;
	int status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;
	int err = 0;
	int rc = wl_lock_marshal_to(lock, write_stdout_chunk, &err);
	wl_lock_free(lock);
	if (err != 0)
		return cli_error("write standard output: %s", strerror(err));
	if (rc != 0)
		return cli_lib_error_in(cli_display_name(path), rc);
	return EXIT_OK;
}

/* Rewrites the lockfile under the guard lock, re-reading it there since
 * another writer may have replaced it meanwhile. */
static int rewrite_locked(const cli_invocation *cli, const char *path, bool *written)
{
	wl_guard *guard = NULL;
	int status = cli_acquire_guard(&guard, cli, path);
	if (status != EXIT_OK)
		return status;
	wl_lock *lock = NULL;
	char *data = NULL;
	size_t len = 0;
	bool same = false;
	status = read_lock(&lock, &data, &len, path);
	if (status == EXIT_OK)
		status = is_canonical(&same, lock, data, len, path);
	free(data);
	if (status == EXIT_OK && !same) {
		int rc = wl_lock_save(lock, path);
		if (rc != 0)
			status = cli_lib_error_in(path, rc);
		else
			*written = true;
	}
	wl_lock_free(lock);
	int released = cli_release_guard(guard);
	return status != EXIT_OK ? status : released;
}

int cmd_fmt(cli_invocation *cli)
{
	int status = expect_operands(cli, 0, 1);
	if (status >= 0)
		return status;
	if (cli->check && cli->to_stdout)
		return cli_usage_error(cli->command, "--check and --stdout cannot be combined");
	const char *path = NULL;
	status = lockfile_from(cli, cli->operand_count ? cli->operands[0] : NULL, &path);
	if (status >= 0)
		return status;
	if (cli->to_stdout || (strcmp(path, "-") == 0 && !cli->check))
		return print_canonical(path);

	wl_lock *lock = NULL;
	char *data = NULL;
	size_t len = 0;
	bool same = false;
	status = read_lock(&lock, &data, &len, path);
	if (status == EXIT_OK)
		status = is_canonical(&same, lock, data, len, path);
	free(data);
	wl_lock_free(lock);
	if (status != EXIT_OK)
		return status;
	if (cli->check) {
		if (same) {
			if (cli->verbose)
				cli_note(cli, "%s: canonical", cli_display_name(path));
		} else {
			cli_note(cli, "%s: not in canonical form (run 'weightslock fmt' to rewrite it)",
			         cli_display_name(path));
			status = EXIT_FOUND;
		}
	} else if (same) {
		if (cli->verbose)
			cli_note(cli, "%s: already canonical, left untouched", path);
	} else {
		bool written = false;
		status = rewrite_locked(cli, path, &written);
		if (status == EXIT_OK && written)
			cli_note(cli, "%s: rewritten in canonical form", path);
	}
	return status;
}

/* ---- check ---- */

int cmd_check(cli_invocation *cli)
{
	int status = expect_operands(cli, 0, 1);
	if (status >= 0)
		return status;
	const char *path = NULL;
	status = lockfile_from(cli, cli->operand_count ? cli->operands[0] : NULL, &path);
	if (status >= 0)
		return status;
	wl_lock *lock = NULL;
	status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;
	wl_problem *problems = NULL;
	size_t count = 0;
	int rc = wl_lock_check(&problems, &count, lock);
	if (rc != 0) {
		status = cli_lib_error_in(cli_display_name(path), rc);
	} else {
		cli_buf out = {0};
		for (size_t i = 0; i < count; i++) {
			if (wl_weight_name_valid(problems[i].name))
				cli_buf_put(&out, problems[i].name.ptr, problems[i].name.len);
			else
				cli_buf_quoted(&out, problems[i].name);
			cli_buf_puts(&out, ": ");
			cli_buf_text(&out, problems[i].message);
			cli_buf_puts(&out, "\n");
		}
		status = cli_flush_stdout(&out);
		cli_buf_release(&out);
		if (status == EXIT_OK && count > 0)
			status = EXIT_FOUND;
		else if (status == EXIT_OK)
			cli_note(cli, "%s: %zu %s, all consistent", cli_display_name(path),
			         lock->entry_count, lock->entry_count == 1 ? "entry" : "entries");
	}
	wl_problems_free(problems, count);
	wl_lock_free(lock);
	return status;
}

/* ---- show ---- */

/* True when an operand of `show` names the lockfile (see its --help). */
static bool looks_like_lockfile(const char *s)
{
	size_t n = strlen(s);
	if (strcmp(s, "-") == 0 || strchr(s, '/') != NULL)
		return true;
	if (n >= 5 && strcmp(s + n - 5, ".lock") == 0)
		return true;
	struct stat st;
	return stat(s, &st) == 0 && S_ISREG(st.st_mode);
}

static void label(cli_buf *b, const char *name, size_t index, bool indexed)
{
	char text[64];
	if (indexed)
		snprintf(text, sizeof text, "%s[%zu]:", name, index);
	else
		snprintf(text, sizeof text, "%s:", name);
	cli_buf_printf(b, "  %-16s", text);
}

static void show_text(cli_buf *b, const wl_entry *e)
{
	cli_buf_human(b, e->name);
	cli_buf_puts(b, "\n");
	label(b, "target", 0, false);
	cli_buf_human(b, e->target);
	cli_buf_puts(b, "\n");
	bool indexed = e->source_count != 1;
	if (e->source_count == 0) {
		label(b, "source", 0, false);
		cli_buf_puts(b, "(none)\n");
	}
	for (size_t i = 0; i < e->source_count; i++) {
		const wl_source *s = &e->sources[i];
		label(b, "source", i, indexed);
		cli_buf_human(b, s->uri);
		cli_buf_puts(b, "\n");
		label(b, "fingerprint", i, indexed);
		cli_buf_human(b, s->fingerprint);
		cli_buf_puts(b, "\n");
		label(b, "include", i, indexed);
		cli_buf_patterns(b, s->include, s->include_count);
		cli_buf_puts(b, "\n");
		label(b, "exclude", i, indexed);
		cli_buf_patterns(b, s->exclude, s->exclude_count);
		cli_buf_puts(b, "\n");
	}
	label(b, "files", 0, false);
	cli_buf_printf(b, "%zu\n", e->file_count);
	label(b, "layers", 0, false);
	cli_buf_printf(b, "%zu\n", e->layer_count);
	label(b, "size", 0, false);
	cli_buf_size(b, e->size, true);
	cli_buf_puts(b, "\n");
	label(b, "compressed", 0, false);
	cli_buf_size(b, e->size_compressed, true);
	cli_buf_puts(b, "\n");
	label(b, "set digest", 0, false);
	cli_buf_human(b, e->set_digest);
	cli_buf_puts(b, "\n");
	label(b, "digest", 0, false);
	cli_buf_human(b, e->digest);
	cli_buf_puts(b, "\n");
	label(b, "imported at", 0, false);
	char when[64];
	if (wl_time_format(when, sizeof when, &e->imported_at) == 0)
		cli_buf_puts(b, when);
	else
		cli_buf_puts(b, "(cannot be encoded)");
	cli_buf_puts(b, "\n");
}

static void json_key(cli_buf *b, int indent, const char *key)
{
	cli_buf_printf(b, "%*s\"%s\": ", indent, "", key);
}

static void json_string_list(cli_buf *b, int indent, const wl_string *items, size_t count)
{
	if (count == 0) {
		cli_buf_puts(b, "[]");
		return;
	}
	cli_buf_puts(b, "[\n");
	for (size_t i = 0; i < count; i++) {
		cli_buf_printf(b, "%*s", indent + 2, "");
		cli_buf_json_string(b, items[i]);
		cli_buf_puts(b, i + 1 < count ? ",\n" : "\n");
	}
	cli_buf_printf(b, "%*s]", indent, "");
}

static void show_json(cli_buf *b, const wl_entry *e)
{
	cli_buf_puts(b, "  {\n");
	json_key(b, 4, "name");
	cli_buf_json_string(b, e->name);
	cli_buf_puts(b, ",\n");
	json_key(b, 4, "target");
	cli_buf_json_string(b, e->target);
	cli_buf_puts(b, ",\n");
	json_key(b, 4, "sources");
	if (e->source_count == 0) {
		cli_buf_puts(b, "[],\n");
	} else {
		cli_buf_puts(b, "[\n");
		for (size_t i = 0; i < e->source_count; i++) {
			const wl_source *s = &e->sources[i];
			cli_buf_puts(b, "      {\n");
			json_key(b, 8, "uri");
			cli_buf_json_string(b, s->uri);
			cli_buf_puts(b, ",\n");
			json_key(b, 8, "fingerprint");
			cli_buf_json_string(b, s->fingerprint);
			cli_buf_puts(b, ",\n");
			json_key(b, 8, "include");
			json_string_list(b, 8, s->include, s->include_count);
			cli_buf_puts(b, ",\n");
			json_key(b, 8, "exclude");
			json_string_list(b, 8, s->exclude, s->exclude_count);
			cli_buf_puts(b, "\n");
			cli_buf_puts(b, i + 1 < e->source_count ? "      },\n" : "      }\n");
		}
		cli_buf_puts(b, "    ],\n");
	}
	json_key(b, 4, "importedAt");
	char when[64];
	if (wl_time_format(when, sizeof when, &e->imported_at) == 0)
		cli_buf_json_string(b, wl_str(when));
	else
		cli_buf_puts(b, "null");
	cli_buf_puts(b, ",\n");
	json_key(b, 4, "digest");
	cli_buf_json_string(b, e->digest);
	cli_buf_puts(b, ",\n");
	json_key(b, 4, "setDigest");
	cli_buf_json_string(b, e->set_digest);
	cli_buf_puts(b, ",\n");
	json_key(b, 4, "size");
	cli_buf_printf(b, "%" PRId64 ",\n", e->size);
	json_key(b, 4, "sizeCompressed");
	cli_buf_printf(b, "%" PRId64 ",\n", e->size_compressed);
	json_key(b, 4, "fileCount");
	cli_buf_printf(b, "%zu,\n", e->file_count);
	json_key(b, 4, "layerCount");
	cli_buf_printf(b, "%zu\n", e->layer_count);
	cli_buf_puts(b, "  }");
}

int cmd_show(cli_invocation *cli)
{
	const char *path = cli_lock_path(cli);
	size_t first_name = 0;
	if (cli->lock_path == NULL && cli->operand_count > 0 && looks_like_lockfile(cli->operands[0])) {
		path = cli->operands[0];
		first_name = 1;
	}
	wl_lock *lock = NULL;
	int status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;

	/* The entries to show, in the order asked for. */
	size_t want = cli->operand_count > first_name ? cli->operand_count - first_name
	                                              : lock->entry_count;
	const wl_entry **entries = calloc(want ? want : 1, sizeof *entries);
	if (entries == NULL) {
		wl_lock_free(lock);
		return cli_error("out of memory");
	}
	for (size_t i = 0; i < want && status == EXIT_OK; i++) {
		if (cli->operand_count <= first_name) {
			entries[i] = &lock->entries[i];
			continue;
		}
		wl_string name = wl_str(cli->operands[first_name + i]);
		entries[i] = wl_lock_find(lock, name);
		if (entries[i] == NULL) {
			cli_buf q = {0};
			cli_buf_quoted(&q, name);
			cli_buf_put(&q, "", 1);
			status = cli_error("%s: no weight named %s", cli_display_name(path),
			                   q.failed ? "?" : q.data);
			cli_buf_release(&q);
		}
	}
	if (status == EXIT_OK) {
		cli_buf out = {0};
		if (cli->json)
			cli_buf_puts(&out, want ? "[\n" : "[]\n");
		for (size_t i = 0; i < want; i++) {
			if (cli->json) {
				show_json(&out, entries[i]);
				cli_buf_puts(&out, i + 1 < want ? ",\n" : "\n]\n");
			} else {
				if (i > 0)
					cli_buf_puts(&out, "\n");
				show_text(&out, entries[i]);
			}
		}
		status = cli_flush_stdout(&out);
		cli_buf_release(&out);
		if (status == EXIT_OK && !cli->json && want == 0)
			cli_note(cli, "%s: no weights", cli_display_name(path));
	}
	free(entries);
	wl_lock_free(lock);
	return status;
}

/* ---- runtime-manifest ---- */

/* Writes `data` to FILE atomically unless FILE already holds it. */
static int write_if_changed(const cli_invocation *cli, const char *file, const char *data, size_t len)
{
	char *old = NULL;
	size_t old_len = 0;
	char why[1024];
	if (cli_read_file(&old, &old_len, file, 0, why, sizeof why) == 0) {
		bool same = old_len == len && memcmp(old, data, len) == 0;
		free(old);
		if (same) {
			if (cli->verbose)
				cli_note(cli, "%s: up to date, left untouched", file);
			return EXIT_OK;
		}
	}
	int rc = wl_write_file_atomic(file, data, len);
	if (rc != 0)
		return cli_lib_error_in(file, rc);
	if (cli->verbose)
		cli_note(cli, "%s: written", file);
	return EXIT_OK;
}

int cmd_runtime_manifest(cli_invocation *cli)
{
	int status = expect_operands(cli, 0, 1);
	if (status >= 0)
		return status;
	const char *path = NULL;
	status = lockfile_from(cli, cli->operand_count ? cli->operands[0] : NULL, &path);
	if (status >= 0)
		return status;
	if (cli->output != NULL && cli->output[0] == '\0')
		return cli_usage_error(cli->command, "-o wants a file name");
	wl_lock *lock = NULL;
	status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;
	wl_runtime_manifest *manifest = NULL;
	char *bytes = NULL;
	size_t len = 0;
	int rc = wl_lock_runtime_manifest(&manifest, lock);
	if (rc == 0)
		rc = wl_runtime_manifest_marshal(&bytes, &len, manifest);
	if (rc != 0)
		status = cli_lib_error_in(cli_display_name(path), rc);
	else if (cli->output == NULL || strcmp(cli->output, "-") == 0)
		status = cli_write_stdout(bytes, len);
	else
		status = write_if_changed(cli, cli->output, bytes, len);
	wl_free(bytes);
	wl_runtime_manifest_free(manifest);
	wl_lock_free(lock);
	return status;
}

/* ---- manifest ---- */

int cmd_manifest(cli_invocation *cli)
{
	int status = expect_operands(cli, 1, 2);
	if (status >= 0)
		return status;
	const char *path = NULL;
	status = lockfile_from(cli, cli->operand_count > 1 ? cli->operands[1] : NULL, &path);
	if (status >= 0)
		return status;
	wl_lock *lock = NULL;
	status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;
	wl_string name = wl_str(cli->operands[0]);
	const wl_entry *entry = wl_lock_find(lock, name);
	if (entry == NULL) {
		cli_buf q = {0};
		cli_buf_quoted(&q, name);
		cli_buf_put(&q, "", 1);
		status = cli_error("%s: no weight named %s", cli_display_name(path),
		                   q.failed ? "?" : q.data);
		cli_buf_release(&q);
		wl_lock_free(lock);
		return status;
	}
	char *bytes = NULL;
	size_t len = 0;
	int rc = cli->config_blob ? wl_entry_config_blob(&bytes, &len, entry)
	                          : wl_entry_manifest(&bytes, &len, entry);
	if (rc != 0) {
		cli_buf q = {0};
		cli_buf_quoted(&q, name);
		cli_buf_put(&q, "", 1);
		const wl_error *e = wl_error_last();
		status = cli_error("%s: weight %s: cannot project the %s: %s", cli_display_name(path),
		                   q.failed ? "?" : q.data, cli->config_blob ? "config blob" : "manifest",
		                   e->message[0] != '\0' ? e->message : "invalid entry");
		cli_buf_release(&q);
	} else {
		status = cli_write_stdout(bytes, len);
	}
	wl_free(bytes);
	wl_lock_free(lock);
	return status;
}

/* ---- convert ---- */

/* Converts the lockfile under the guard lock, re-read there. */
static int convert_locked(const cli_invocation *cli, const char *path, bool multi)
{
	wl_guard *guard = NULL;
	int status = cli_acquire_guard(&guard, cli, path);
	if (status != EXIT_OK)
		return status;
	wl_lock *lock = NULL;
	status = cli_load_lock(&lock, path);
	const char *shape = multi ? "multi-source" : "single-source";
	if (status == EXIT_OK && lock->entry_count == 0) {
		cli_note(cli, "%s: no weights: both shapes are the same bytes, left untouched", path);
	} else if (status == EXIT_OK && lock->multi_source == multi) {
		cli_note(cli, "%s: already in the %s shape, left untouched", path, shape);
	} else if (status == EXIT_OK) {
		int rc = wl_lock_convert(lock, multi);
		if (rc == 0)
			rc = wl_lock_save(lock, path);
		if (rc != 0)
			status = cli_lib_error_in(path, rc);
		else
			cli_note(cli, "%s: rewritten in the %s shape", path, shape);
	}
	wl_lock_free(lock);
	int released = cli_release_guard(guard);
	return status != EXIT_OK ? status : released;
}

int cmd_convert(cli_invocation *cli)
{
	int status = expect_operands(cli, 0, 1);
	if (status >= 0)
		return status;
	if (cli->to_shape == NULL)
		return cli_usage_error(cli->command, "--to single or --to multi is required");
	bool multi = strcmp(cli->to_shape, "multi") == 0;
	if (!multi && strcmp(cli->to_shape, "single") != 0)
		return cli_usage_error(cli->command, "--to wants single or multi, not '%s'", cli->to_shape);
	const char *path = NULL;
	status = lockfile_from(cli, cli->operand_count ? cli->operands[0] : NULL, &path);
	if (status >= 0)
		return status;
	if (!cli->to_stdout && strcmp(path, "-") != 0)
		return convert_locked(cli, path, multi);
	wl_lock *lock = NULL;
	status = cli_load_lock(&lock, path);
	if (status != EXIT_OK)
		return status;
	int rc = wl_lock_convert(lock, multi);
	int err = 0;
	if (rc == 0)
		rc = wl_lock_marshal_to(lock, write_stdout_chunk, &err);
	wl_lock_free(lock);
	if (err != 0)
		return cli_error("write standard output: %s", strerror(err));
	return rc == 0 ? EXIT_OK : cli_lib_error_in(cli_display_name(path), rc);
}
