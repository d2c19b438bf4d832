/*
 * project.c - where the lockfile and cog.yaml are, loading the lockfile,
 * and taking the guard lock with a timeout that SIGINT/SIGTERM cut short.
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char *cli_lock_path(const cli_invocation *cli)
{
	return cli->lock_path != NULL ? cli->lock_path : WL_LOCK_FILENAME;
}

const char *cli_config_path(const cli_invocation *cli)
{
	return cli->config_path != NULL ? cli->config_path : "cog.yaml";
}

const char *cli_display_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

int cli_load_lock(wl_lock **out, const char *path)
{
	*out = NULL;
	if (strcmp(path, "-") != 0) {
		int rc = wl_lock_load(out, path);
		return rc == 0 ? EXIT_OK : cli_lib_error_in(path, rc);
	}
	char *data = NULL;
	size_t len = 0;
	char why[1024];
	if (cli_read_file(&data, &len, path, WL_LOCK_SIZE_MAX, why, sizeof why) != 0)
		return cli_error("%s", why);
	int rc = wl_lock_parse(out, data, len, cli_display_name(path));
	free(data);
	return rc == 0 ? EXIT_OK : cli_lib_error_in(cli_display_name(path), rc);
}

int cli_load_optional_lock(wl_lock **out, const char *path)
{
	*out = NULL;
	if (strcmp(path, "-") == 0)
		return cli_load_lock(out, path);
	int rc = wl_lock_load(out, path);
	if (rc == WL_ENOTFOUND) {
		*out = NULL;
		return EXIT_OK;
	}
	return rc == 0 ? EXIT_OK : cli_lib_error_in(path, rc);
}

int cli_load_config(wl_config **out, const cli_invocation *cli)
{
	int rc = wl_config_load(out, cli_config_path(cli));
	return rc == 0 ? EXIT_OK : cli_lib_error_in(cli_config_path(cli), rc);
}

volatile sig_atomic_t cli_cancel = 0;

static void on_cancel_signal(int sig)
{
	(void)sig;
	cli_cancel = 1;
}

void cli_install_cancel_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_cancel_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_acquire_guard(wl_guard **out, const cli_invocation *cli, const char *lockfile)
{
	cli_install_cancel_handlers();
	int rc = wl_guard_acquire(out, lockfile, cli->timeout, &cli_cancel);
	if (rc != 0)
		return cli_lib_error_in(lockfile, rc);
	return EXIT_OK;
}

int cli_release_guard(wl_guard *guard)
{
	int rc = wl_guard_release(guard);
	return rc == 0 ? EXIT_OK : cli_lib_error(rc);
}
