/*
 * weightslock.c - the command-line program: parse the invocation, move to
 * the project directory, run the command. See CLI.md and `weightslock
 * --help`.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A file truncated by another process while the library hashes it through
 * a mapping raises SIGBUS: the library turns that into an error ("changed
 * while it was read"); any other SIGBUS keeps its default action. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	(void)context;
	wl_sigbus_recover(info->si_addr);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_sigbus_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

int main(int argc, char **argv)
{
	install_sigbus_handler();
	cli_invocation cli;
	int rc = cli_parse(&cli, argc, argv);
	if (rc >= 0) {
		cli_release(&cli);
		return rc;
	}
	for (size_t i = 0; i < cli.chdir_count; i++) {
		if (chdir(cli.chdirs[i]) != 0) {
			rc = cli_error("cannot change to directory '%s': %s", cli.chdirs[i],
			               strerror(errno));
			cli_release(&cli);
			return rc;
		}
	}
	rc = cli.command->run(&cli);
	cli_release(&cli);
	return rc;
}
