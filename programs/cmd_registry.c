/*
 * cmd_registry.c - the registry commands: push, pull and status. The program's part is
 * what the library must not do: find the repository in cog.yaml when none
 * is given, and the credentials files in the environment (SPEC.md §18.2).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The credentials files, in the order SPEC.md §18.2 gives. */
typedef struct auth_files {
	char *paths[6];
	size_t count;
} auth_files;

static void add_path(auth_files *f, const char *a, const char *b)
{
	if (a == NULL || a[0] == '\0' || f->count == sizeof f->paths / sizeof f->paths[0])
		return;
	size_t n = strlen(a) + (b ? strlen(b) : 0) + 1;
	char *p = malloc(n);
	if (p == NULL)
		return;
	snprintf(p, n, "%s%s", a, b ? b : "");
	f->paths[f->count++] = p;
}

static void find_auth_files(auth_files *f, const cli_invocation *cli)
{
	memset(f, 0, sizeof *f);
	add_path(f, cli->authfile, NULL);
	add_path(f, getenv("REGISTRY_AUTH_FILE"), NULL);
	add_path(f, getenv("XDG_RUNTIME_DIR"), "/containers/auth.json");
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg != NULL && xdg[0] != '\0')
		add_path(f, xdg, "/containers/auth.json");
	else
		add_path(f, home, "/.config/containers/auth.json");
	const char *docker = getenv("DOCKER_CONFIG");
	if (docker != NULL && docker[0] != '\0')
		add_path(f, docker, "/config.json");
	else
		add_path(f, home, "/.docker/config.json");
}

/* --repository, else cog.yaml's model:, else image:; NULL when there is
 * none. `*owned` is what to free; `*key` the cog.yaml key it came from,
 * or NULL for --repository. */
static const char *repository_of(const cli_invocation *cli, const wl_config *config, char **owned, const char **key)
{
	*owned = NULL;
	*key = NULL;
	if (cli->repository != NULL)
		return cli->repository;
	*key = config->model.len > 0 ? "model" : "image";
	wl_string s = config->model.len > 0 ? config->model : config->image;
	if (s.len > 0)
		*owned = strndup(s.ptr, s.len);
	return *owned;
}

/* Where the repository came from, for messages. */
static void set_origin(cli_registry *r, const cli_invocation *cli, const char *key)
{
	if (key != NULL)
		snprintf(r->origin, sizeof r->origin, "%s: %s:", cli_display_name(cli_config_path(cli)), key);
}

int cli_registry_error(const cli_registry *r, int code)
{
	if (code == WL_EINVALID && r->opts.repository != NULL && r->origin[0] != '\0' &&
	    wl_registry_reference_check(r->opts.repository) != 0)
		return cli_error("%s %s", r->origin, wl_error_last()->message);
	return cli_lib_error(code);
}

static int no_repository(const cli_invocation *cli)
{
	return cli_error("no --repository given, and %s has neither model: nor image:",
	                 cli_display_name(cli_config_path(cli)));
}

/* repository_of, reading cog.yaml unless --repository is given. NULL after
 * printing the error. */
static const char *repository(const cli_invocation *cli, char **owned, const char **key)
{
	*owned = NULL;
	*key = NULL;
	if (cli->repository != NULL)
		return cli->repository;
	const char *path = cli_config_path(cli);
	wl_config *config = NULL;
	int rc = wl_config_load(&config, path);
	if (rc == WL_ENOTFOUND) {
		cli_error("no --repository given, and no %s to take model: or image: from", cli_display_name(path));
		return NULL;
	}
	if (rc != 0) {
		cli_lib_error(rc);
		return NULL;
	}
	const char *repo = repository_of(cli, config, owned, key);
	wl_config_free(config);
	if (repo == NULL)
		no_repository(cli);
	return repo;
}

/* What push and pull share: the repository, the lockfile, the registry
 * options with progress and cancel. */
typedef struct session {
	char *owned;
	wl_lock *lock;
	cli_registry reg;
	cli_progress progress;
} session;

/* EXIT_OK, or the status after printing the error (nothing to close). */
static int session_open(session *s, cli_invocation *cli)
{
	memset(s, 0, sizeof *s);
	const char *key = NULL;
	const char *repo = repository(cli, &s->owned, &key);
	if (repo == NULL)
		return EXIT_ERROR;
	int status = cli_load_lock(&s->lock, cli_lock_path(cli));
	if (status != EXIT_OK) {
		free(s->owned);
		return status;
	}
	cli_registry_init(&s->reg, cli, repo);
	set_origin(&s->reg, cli, key);
	cli_progress_init(&s->progress, cli);
	cli_install_cancel_handlers();
	s->reg.opts.progress = cli_progress_report;
	s->reg.opts.progress_ctx = &s->progress;
	return EXIT_OK;
}

static void session_close(session *s)
{
	cli_registry_release(&s->reg);
	wl_lock_free(s->lock);
	free(s->owned);
}

int cmd_push(cli_invocation *cli)
{
	session s;
	int status = session_open(&s, cli);
	if (status != EXIT_OK)
		return status;
	/* without a layout, layers are packed again from the sources: local
	 * ones resolve against cog.yaml's directory, remote files are in the store */
	char *project = NULL, *store = NULL;
	if (cli->oci_layout == NULL) {
		project = cli_project_dir(cli_config_path(cli));
		store = cli_store_dir(cli);
	}
	wl_push_source src = {cli->oci_layout, project, store};
	wl_push_report *report = NULL;
	int rc = wl_push(&report, s.lock, cli->operand_count ? cli->operands : NULL, cli->operand_count, &src,
	                 &s.reg.opts);
	free(project);
	free(store);
	cli_progress_done(&s.progress);
	/* the references are results: on stdout, even with -q */
	cli_buf out = {0};
	for (size_t i = 0; report != NULL && i < report->result_count; i++) {
		const wl_push_result *r = &report->results[i];
		cli_buf_human(&out, wl_str(r->name));
		cli_buf_puts(&out, r->already_present ? ": already present " : ": pushed ");
		cli_buf_puts(&out, r->reference);
		cli_buf_puts(&out, "\n");
	}
	int flushed = cli_flush_stdout(&out);
	cli_buf_release(&out);
	status = rc != 0 ? cli_registry_error(&s.reg, rc) : flushed;
	wl_push_report_free(report);
	session_close(&s);
	return status;
}

/* The library's notices: a decision it made for the user (with -v), or a
 * warning (always). */
static void registry_notice(void *ctx, wl_notice_level level, const char *message)
{
	const cli_registry *r = ctx;
	if (level == WL_NOTICE_WARNING)
		cli_warn("%s", message);
	else if (r->cli->verbose)
		cli_note(r->cli, "%s", message);
}

void cli_registry_init(cli_registry *r, const cli_invocation *cli, const char *repository)
{
	memset(r, 0, sizeof *r);
	auth_files files;
	find_auth_files(&files, cli);
	memcpy(r->auth_paths, files.paths, sizeof r->auth_paths);
	r->auth_count = files.count;
	r->opts.repository = repository;
	r->opts.plain_http = cli->plain_http;
	r->opts.cacert = cli->cacert;
	r->opts.auth_files = (const char *const *)r->auth_paths;
	r->opts.auth_file_count = r->auth_count;
	r->opts.jobs = cli->jobs;
	r->opts.retries = cli->retries;
	r->opts.mount_from = cli->mount_from;
	r->opts.timeout = cli->timeout > 0 ? cli->timeout : 0;
	r->opts.cancel = &cli_cancel;
	r->cli = cli;
	if (repository != NULL && repository == cli->repository)
		snprintf(r->origin, sizeof r->origin, "--repository:");
	else if (repository != NULL && repository == cli->registry)
		snprintf(r->origin, sizeof r->origin, "--registry:");
	r->opts.notice = registry_notice;
	r->opts.notice_ctx = r;
}

void cli_registry_release(cli_registry *r)
{
	for (size_t i = 0; i < r->auth_count; i++)
		free(r->auth_paths[i]);
	r->auth_count = 0;
}

int cmd_pull(cli_invocation *cli)
{
	char *store = cli_store_dir(cli);
	if (store == NULL)
		return cli_error("no content store: give --store DIR (or set COG_CACHE_DIR or HOME)");
	session s;
	int status = session_open(&s, cli);
	if (status != EXIT_OK) {
		free(store);
		return status;
	}
	wl_pull_report *report = NULL;
	int rc = wl_pull(&report, s.lock, cli->operand_count ? cli->operands : NULL, cli->operand_count, store,
	                 &s.reg.opts);
	cli_progress_done(&s.progress);
	cli_buf out = {0};
	for (size_t i = 0; report != NULL && i < report->result_count; i++) {
		const wl_pull_result *r = &report->results[i];
		cli_buf_human(&out, wl_str(r->name));
		if (r->cached)
			cli_buf_puts(&out, ": cached\n");
		else
			cli_buf_printf(&out, ": pulled %zu file%s, %lld bytes\n", r->files_fetched,
			               r->files_fetched == 1 ? "" : "s", (long long)r->bytes_fetched);
	}
	int flushed = cli_flush_stdout(&out);
	cli_buf_release(&out);
	if (rc == WL_EMISMATCH) {
		cli_lib_error(rc);
		status = EXIT_FOUND;
	} else {
		status = rc != 0 ? cli_registry_error(&s.reg, rc) : flushed;
	}
	wl_pull_report_free(report);
	session_close(&s);
	free(store);
	return status;
}

/* ---- status ---- */

/* Cog's formatSize: "512B", "3.3KB", "1.2MB", "4.0GB" (binary units). */
static void put_cog_size(cli_buf *b, int64_t v)
{
	const double kb = 1024.0, mb = kb * 1024, gb = mb * 1024;
	if (v >= (int64_t)gb)
		cli_buf_printf(b, "%.1fGB", (double)v / gb);
	else if (v >= (int64_t)mb)
		cli_buf_printf(b, "%.1fMB", (double)v / mb);
	else if (v >= (int64_t)kb)
		cli_buf_printf(b, "%.1fKB", (double)v / kb);
	else
		cli_buf_printf(b, "%lldB", (long long)v);
}

/* "sha256:" and the first 12 hex digits, as Cog shortens a digest. */
static void put_short_digest(cli_buf *b, wl_string d)
{
	const char *colon = memchr(d.ptr, ':', d.len);
	size_t hex = colon != NULL ? d.len - (size_t)(colon - d.ptr) - 1 : 0;
	if (hex == 0) {
		cli_buf_human(b, d);
		return;
	}
	size_t n = (size_t)(colon - d.ptr) + 1 + (hex < 12 ? hex : 12);
	cli_buf_human(b, (wl_string){d.ptr, n});
}

enum { STATUS_COLUMNS = 6 };

typedef struct status_table {
	cli_buf (*rows)[STATUS_COLUMNS];
	size_t count;
} status_table;

/* A cell's width in code points, as Go's tabwriter counts it. */
static size_t cell_width(const cli_buf *cell)
{
	size_t w = 0;
	for (size_t i = 0; i < cell->len; i++)
		w += ((unsigned char)cell->data[i] & 0xC0) != 0x80;
	return w;
}

/* Prints the table as Go's tabwriter does with padding 2: every column but
 * the last as wide as its widest cell (in code points) plus two spaces. */
static void put_table(cli_buf *out, const status_table *t)
{
	size_t width[STATUS_COLUMNS] = {0};
	for (size_t r = 0; r < t->count; r++)
		for (size_t c = 0; c + 1 < STATUS_COLUMNS; c++)
			if (cell_width(&t->rows[r][c]) > width[c])
				width[c] = cell_width(&t->rows[r][c]);
	for (size_t r = 0; r < t->count; r++) {
		for (size_t c = 0; c < STATUS_COLUMNS; c++) {
			const cli_buf *cell = &t->rows[r][c];
			cli_buf_put(out, cell->data, cell->len);
			if (c + 1 == STATUS_COLUMNS)
				break;
			for (size_t w = cell_width(cell); w < width[c] + 2; w++)
				cli_buf_puts(out, " ");
		}
		cli_buf_puts(out, "\n");
	}
}

static void status_text(cli_buf *out, const wl_status_report *report, bool layers)
{
	size_t rows = 1 + report->result_count;
	for (size_t i = 0; layers && i < report->result_count; i++)
		rows += report->results[i].layer_count;
	status_table t = {calloc(rows, sizeof *t.rows), 0};
	if (t.rows == NULL) {
		out->failed = true;
		return;
	}
	static const char *const head[STATUS_COLUMNS] = {"NAME", "TARGET", "STATUS", "SIZE", "LAYERS", "DIGEST"};
	for (size_t c = 0; c < STATUS_COLUMNS; c++)
		cli_buf_puts(&t.rows[0][c], head[c]);
	t.count = 1;
	for (size_t i = 0; i < report->result_count; i++) {
		const wl_status_result *r = &report->results[i];
		const wl_entry *e = r->entry;
		cli_buf *row = t.rows[t.count++];
		cli_buf_human(&row[0], r->name);
		cli_buf_human(&row[1], r->target);
		cli_buf_puts(&row[2], wl_weight_status_name(r->status));
		if (e != NULL && e->size > 0)
			put_cog_size(&row[3], e->size);
		else
			cli_buf_puts(&row[3], "-");
		if (e != NULL && e->layer_count > 0)
			cli_buf_printf(&row[4], "%zu", e->layer_count);
		else
			cli_buf_puts(&row[4], "-");
		if (e != NULL && e->digest.len > 0)
			put_short_digest(&row[5], e->digest);
		else
			cli_buf_puts(&row[5], "-");
		for (size_t k = 0; layers && k < r->layer_count; k++) {
			const wl_layer_status *l = &r->layers[k];
			row = t.rows[t.count++];
			cli_buf_puts(&row[0], k + 1 == r->layer_count ? "  \xE2\x94\x94\xE2\x94\x80" : "  \xE2\x94\x9C\xE2\x94\x80");
			cli_buf_puts(&row[2], l->present ? "ready" : "missing");
			put_cog_size(&row[3], l->size);
			put_short_digest(&row[5], l->digest);
		}
	}
	put_table(out, &t);
	for (size_t r = 0; r < t.count; r++)
		for (size_t c = 0; c < STATUS_COLUMNS; c++) {
			out->failed |= t.rows[r][c].failed;
			cli_buf_release(&t.rows[r][c]);
		}
	free(t.rows);
}

/* A "key": value member of a JSON object, after the first. */
static void json_key(cli_buf *b, const char *indent, const char *key)
{
	cli_buf_printf(b, ",\n%s\"%s\": ", indent, key);
}

/* One weight as Cog's WeightStatusEntry encodes it (json.Encoder, indent
 * two spaces; zero sizes and counts, empty strings and lists left out). */
static void status_json_weight(cli_buf *b, const wl_status_result *r)
{
	const char *in = "      ";
	cli_buf_printf(b, "    {\n%s\"name\": ", in);
	cli_buf_json_string(b, r->name);
	json_key(b, in, "target");
	cli_buf_json_string(b, r->target);
	json_key(b, in, "status");
	cli_buf_json_string(b, wl_str(wl_weight_status_name(r->status)));
	const wl_entry *e = r->entry;
	if (e != NULL) {
		if (e->size != 0)
			cli_buf_printf(b, ",\n%s\"size\": %lld", in, (long long)e->size);
		if (e->size_compressed != 0)
			cli_buf_printf(b, ",\n%s\"sizeCompressed\": %lld", in, (long long)e->size_compressed);
		if (e->layer_count > 0)
			cli_buf_printf(b, ",\n%s\"layerCount\": %zu", in, e->layer_count);
		if (e->file_count > 0)
			cli_buf_printf(b, ",\n%s\"fileCount\": %zu", in, e->file_count);
		if (e->digest.len > 0) {
			json_key(b, in, "digest");
			cli_buf_json_string(b, e->digest);
		}
		const wl_source *s = e->source_count > 0 ? &e->sources[0] : NULL;
		if (s != NULL && (s->uri.len > 0 || s->fingerprint.len > 0)) {
			json_key(b, in, "source");
			cli_buf_puts(b, "{");
			const char *sep = "\n";
			if (s->uri.len > 0 || e->source_count > 1) {
				cli_buf_printf(b, "%s%s  \"uri\": ", sep, in);
				if (e->source_count == 1) {
					cli_buf_json_string(b, s->uri);
				} else {
					cli_buf more = {0};
					cli_buf_put(&more, s->uri.ptr, s->uri.len);
					cli_buf_printf(&more, " (+%zu more)", e->source_count - 1);
					cli_buf_json_string(b, (wl_string){more.data ? more.data : "", more.len});
					b->failed |= more.failed;
					cli_buf_release(&more);
				}
				sep = ",\n";
			}
			if (s->fingerprint.len > 0) {
				cli_buf_printf(b, "%s%s  \"fingerprint\": ", sep, in);
				cli_buf_json_string(b, s->fingerprint);
			}
			cli_buf_printf(b, "\n%s}", in);
		}
	}
	if (r->layer_count > 0) {
		json_key(b, in, "layers");
		cli_buf_puts(b, "[\n");
		for (size_t k = 0; k < r->layer_count; k++) {
			const wl_layer_status *l = &r->layers[k];
			cli_buf_printf(b, "%s  {\n%s    \"digest\": ", in, in);
			cli_buf_json_string(b, l->digest);
			cli_buf_printf(b, ",\n%s    \"size\": %lld,\n%s    \"status\": \"%s\"\n%s  }%s\n", in,
			               (long long)l->size, in, l->present ? "ready" : "missing", in,
			               k + 1 < r->layer_count ? "," : "");
		}
		cli_buf_printf(b, "%s]", in);
	}
	cli_buf_puts(b, "\n    }");
}

static void status_json(cli_buf *b, const wl_status_report *report)
{
	cli_buf_puts(b, "{\n  \"weights\": [\n");
	for (size_t i = 0; i < report->result_count; i++) {
		status_json_weight(b, &report->results[i]);
		cli_buf_puts(b, i + 1 < report->result_count ? ",\n" : "\n");
	}
	cli_buf_puts(b, "  ]\n}\n");
}

/* What the table does not show, on stderr: why a weight is stale, and a
 * manifest missing while every layer is there. */
static void status_notes(const cli_invocation *cli, const wl_status_report *report)
{
	for (size_t i = 0; i < report->result_count; i++) {
		const wl_status_result *r = &report->results[i];
		if (r->status == WL_STATUS_STALE && r->details != NULL)
			cli_note(cli, "weight \"%s\": config changed (%s)", r->name.ptr, r->details);
		else if (r->checked && !r->manifest_present)
			cli_note(cli, "weight \"%s\": manifest %s is not in the registry", r->name.ptr, r->entry->digest.ptr);
	}
}

int cmd_status(cli_invocation *cli)
{
	if (cli->operand_count > 0)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[0]);
	wl_config *config = NULL;
	int status = cli_load_config(&config, cli);
	if (status != EXIT_OK)
		return status;
	if (config->weight_count == 0) {
		wl_config_free(config);
		return cli_error("no weights defined in %s", cli_display_name(cli_config_path(cli)));
	}
	wl_lock *lock = NULL;
	status = cli_load_optional_lock(&lock, cli_lock_path(cli));
	if (status != EXIT_OK) {
		wl_config_free(config);
		return status;
	}
	char *owned = NULL;
	const char *key = NULL;
	const char *repo = repository_of(cli, config, &owned, &key);
	cli_registry reg;
	cli_registry_init(&reg, cli, repo);
	set_origin(&reg, cli, key);
	cli_install_cancel_handlers();
	wl_status_report *report = NULL;
	int rc = wl_status(&report, config, lock, &reg.opts);
	if (rc != 0) {
		/* without a repository, the library fails only when it needs one */
		status = repo == NULL && rc == WL_EINVALID ? no_repository(cli) : cli_registry_error(&reg, rc);
	} else {
		cli_buf out = {0};
		if (cli->json)
			status_json(&out, report);
		else
			status_text(&out, report, cli->verbose);
		status = cli_flush_stdout(&out);
		cli_buf_release(&out);
		if (!cli->json)
			status_notes(cli, report);
		for (size_t i = 0; status == EXIT_OK && i < report->result_count; i++)
			if (report->results[i].status != WL_STATUS_READY)
				status = EXIT_FOUND;
	}
	wl_status_report_free(report);
	cli_registry_release(&reg);
	free(owned);
	wl_lock_free(lock);
	wl_config_free(config);
	return status;
}
