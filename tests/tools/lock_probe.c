/*
 * lock_probe - loads a lockfile with wl_lock_load and lists its entries.
 *
 *   lock_probe LOCKFILE
 *
 * Prints "<name> <size>" per entry and exits 0, or prints the library's
 * message and exits 1.
 */
#include "weightslock.h"

#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lock_probe LOCKFILE\n");
		return 2;
	}
	wl_lock *lock;
	if (wl_lock_load(&lock, argv[1]) != 0) {
		fprintf(stderr, "lock_probe: %s\n", wl_error_last()->message);
		return 1;
	}
	for (size_t i = 0; i < lock->entry_count; i++)
		printf("%s %" PRId64 "\n", lock->entries[i].name.ptr ? lock->entries[i].name.ptr : "",
		       lock->entries[i].size);
	wl_lock_free(lock);
	return 0;
}
