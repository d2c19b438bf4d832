/* A program outside the project that links libweightslock the way other
 * tools do: through the installed header and pkg-config. It parses a
 * lockfile given on stdin and prints its runtime manifest. */
#include <stdio.h>
#include <stdlib.h>

#include <weightslock.h>

int main(void)
{
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, stdin);
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, buf, n, "stdin") != 0) {
		fprintf(stderr, "consumer: %s\n", wl_error_last()->message);
		return 2;
	}
	wl_runtime_manifest *m = NULL;
	char *out = NULL;
	size_t len = 0;
	if (wl_lock_runtime_manifest(&m, lock) != 0 || wl_runtime_manifest_marshal(&out, &len, m) != 0) {
		fprintf(stderr, "consumer: %s\n", wl_error_last()->message);
		return 2;
	}
	fwrite(out, 1, len, stdout);
	wl_free(out);
	wl_runtime_manifest_free(m);
	wl_lock_free(lock);
	return 0;
}
