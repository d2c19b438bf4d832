/*
 * bench_pack.c - produces the layer of one file with wl_pack_layer (as the
 * importer would: a standalone layer, gzip for a compressible extension)
 * and prints its time, digest and size. Used by bench/import.py.
 *
 *   bench_pack FILE [THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "weightslock.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_pack FILE [THREADS]\n");
		return 2;
	}
	char *dir = strdup(argv[1]);
	char *slash = strrchr(dir, '/');
	const char *name = argv[1];
	if (slash != NULL) {
		*slash = '\0';
		name = slash + 1;
	} else {
		strcpy(dir, ".");
	}
	struct stat st;
	if (stat(argv[1], &st) != 0) {
		perror(argv[1]);
		return 2;
	}
	wl_source_file file;
	memset(&file, 0, sizeof file);
	file.path = wl_str(name);
	file.size = st.st_size;
	wl_plan *plan = NULL;
	if (wl_plan_layers(&plan, &file, 1, NULL) != 0 || plan->layer_count != 1) {
		fprintf(stderr, "bench_pack: %s\n", wl_error_last()->message);
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wl_packed_layer out;
	int threads = argc > 2 ? atoi(argv[2]) : 0;
	if (wl_pack_layer(&out, dir, &file, &plan->layers[0], threads, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "bench_pack: %s\n", wl_error_last()->message);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s %lld bytes %s in %.3f s\n", out.digest, (long long)out.size, out.media_type, s);
	wl_plan_free(plan);
	free(dir);
	return 0;
}
