/*
 * cmd_registry.c - the registry commands: push. The program's part is
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

/* --repository, else cog.yaml's model:, else image:. NULL after printing
 * the error. `*owned` is what to free. */
static const char *repository(const cli_invocation *cli, char **owned)
{
	*owned = NULL;
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
	wl_string s = config->model.len > 0 ? config->model : config->image;
	if (s.len > 0)
		*owned = strndup(s.ptr, s.len);
	wl_config_free(config);
	if (*owned == NULL)
		cli_error("no --repository given, and %s has neither model: nor image:", cli_display_name(path));
	return *owned;
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
	const char *repo = repository(cli, &s->owned);
	if (repo == NULL)
		return EXIT_ERROR;
	int status = cli_load_lock(&s->lock, cli_lock_path(cli));
	if (status != EXIT_OK) {
		free(s->owned);
		return status;
	}
	cli_registry_init(&s->reg, cli, repo);
	cli_progress_init(&s->progress, cli);
	cli_install_cancel_handlers();
	s->reg.opts.timeout = cli->timeout > 0 ? cli->timeout : 0;
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
	wl_push_report *report = NULL;
	int rc = wl_push(&report, s.lock, cli->operand_count ? cli->operands : NULL, cli->operand_count,
	                 cli->oci_layout, &s.reg.opts);
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
	status = rc != 0 ? cli_lib_error(rc) : flushed;
	wl_push_report_free(report);
	session_close(&s);
	return status;
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
	r->opts.cancel = &cli_cancel;
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
		status = rc != 0 ? cli_lib_error(rc) : flushed;
	}
	wl_pull_report_free(report);
	session_close(&s);
	free(store);
	return status;
}
