/*
 * cmd_with_lock.c - `with-lock`: run a command while holding the guard
 * lock of a lockfile, the way Cog's writers serialize.
 *
 * The guard lock is two flocks (.cog/cog.lock, then LOCKFILE.guard); their
 * descriptors are close-on-exec, so the child does not hold them; this
 * process keeps both until the child exits and passes SIGINT and SIGTERM on
 * to the child meanwhile.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid = 0;

static void on_signal(int sig)
{
	cli_cancel = 1;
	pid_t pid = (pid_t)child_pid;
	if (pid > 0)
		kill(pid, sig);
}

/* The dispositions found at start, given back to the command. */
static struct sigaction saved_int, saved_term;

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &saved_int);
	sigaction(SIGTERM, &sa, &saved_term);
}

/* In the child: the original signal dispositions, then exec; on failure,
 * send errno to the parent through the close-on-exec pipe. */
static void run_child(char **argv, int report_fd, const sigset_t *old_mask)
{
	sigaction(SIGINT, &saved_int, NULL);
	sigaction(SIGTERM, &saved_term, NULL);
	sigprocmask(SIG_SETMASK, old_mask, NULL);
	execvp(argv[0], argv);
	int err = errno;
	ssize_t w;
	do {
		w = write(report_fd, &err, sizeof err);
	} while (w < 0 && errno == EINTR);
	_exit(EXIT_EXEC_FAILED);
}

/* Starts the command and waits for it; returns the exit status to pass on. */
static int run_command(const cli_invocation *cli)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return cli_error("cannot create a pipe: %s", strerror(errno));
	sigset_t block, old_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		run_child(cli->exec_argv, fds[1], &old_mask);
	}
	int fork_err = errno;
	if (pid > 0)
		child_pid = (sig_atomic_t)pid;
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return cli_error("cannot start '%s': %s", cli->exec_argv[0], strerror(fork_err));
	}

	int exec_err = 0;
	ssize_t got;
	do {
		got = read(fds[0], &exec_err, sizeof exec_err);
	} while (got < 0 && errno == EINTR);
	close(fds[0]);

	int wstatus = 0;
	pid_t waited;
	do {
		waited = waitpid(pid, &wstatus, 0);
	} while (waited < 0 && errno == EINTR);
	child_pid = 0;
	if (got == (ssize_t)sizeof exec_err) {
		cli_error("cannot run '%s': %s", cli->exec_argv[0], strerror(exec_err));
		return EXIT_EXEC_FAILED;
	}
	if (waited < 0)
		return cli_error("wait for '%s': %s", cli->exec_argv[0], strerror(errno));
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_ERROR;
}

int cmd_with_lock(cli_invocation *cli)
{
	if (cli->operand_count > 1)
		return cli_usage_error(cli->command, "unexpected argument '%s' (missing '--'?)",
		                       cli->operands[1]);
	if (!cli->saw_dashdash)
		return cli_usage_error(cli->command, "missing '--' before COMMAND");
	if (cli->exec_argc == 0)
		return cli_usage_error(cli->command, "missing COMMAND after '--'");
	const char *path = cli_lock_path(cli);
	if (cli->operand_count == 1) {
		if (cli->lock_path != NULL && strcmp(cli->lock_path, cli->operands[0]) != 0)
			return cli_usage_error(cli->command,
			                       "give the lockfile as LOCKFILE or with --lock, not both");
		path = cli->operands[0];
	}
	if (path[0] == '\0' || strcmp(path, "-") == 0)
		return cli_usage_error(cli->command, "LOCKFILE must name a file");

	install_handlers();
	wl_guard *guard = NULL;
	int rc = wl_guard_acquire(&guard, path, cli->timeout, &cli_cancel);
	if (rc != 0)
		return cli_lib_error_in(path, rc);
	if (cli->verbose)
		cli_note(cli, "holding the guard lock of %s", path);
	int status;
	if (cli_cancel)
		status = cli_error("acquire %s guard: interrupted; '%s' not run", path,
		                   cli->exec_argv[0]);
	else
		status = run_command(cli);
	int released = cli_release_guard(guard);
	return released != EXIT_OK && status == EXIT_OK ? released : status;
}
