/*
 * weightslock.c - the command-line program: parse the invocation, move to
 * the project directory, run the command. See CLI.md and `weightslock
 * --help`.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
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
