/*
 * bench_pack.c - produces one layer with wl_pack_layer, as the importer
 * would, and prints its time, digest and size. Used by bench/import.py.
 *
 *   bench_pack FILE [THREADS]   the standalone layer of FILE (gzip for a
 *                               compressible extension)
 *   bench_pack DIR [THREADS]    the first layer of the regular files
 *                               directly in DIR (a bundle when they are
 *                               small)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "weightslock.h"

static int by_path(const void *a, const void *b)
{
	const wl_source_file *x = a, *y = b;
	return strcmp(x->path.ptr, y->path.ptr);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_pack FILE|DIR [THREADS]\n");
		return 2;
	}
	struct stat st;
	if (stat(argv[1], &st) != 0) {
		perror(argv[1]);
		return 2;
	}
	char *dir = strdup(argv[1]);
	wl_source_file *files = NULL;
	size_t count = 0, cap = 0;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[4096];
			struct stat fs;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (e->d_name[0] == '.' || stat(path, &fs) != 0 || !S_ISREG(fs.st_mode))
				continue;
			if (count == cap) {
				cap = cap ? 2 * cap : 256;
				files = realloc(files, cap * sizeof *files);
			}
			memset(&files[count], 0, sizeof files[count]);
			files[count].path = wl_str(strdup(e->d_name));
			files[count].size = fs.st_size;
			count++;
		}
		if (d != NULL)
			closedir(d);
		qsort(files, count, sizeof *files, by_path);
	} else {
		char *slash = strrchr(dir, '/');
		const char *name = argv[1];
		if (slash != NULL) {
			*slash = '\0';
			name = slash + 1;
		} else {
			strcpy(dir, ".");
		}
		files = calloc(1, sizeof *files);
		files[0].path = wl_str(name);
		files[0].size = st.st_size;
		count = 1;
	}
	wl_plan *plan = NULL;
	if (count == 0 || wl_plan_layers(&plan, files, count, NULL) != 0) {
		fprintf(stderr, "bench_pack: %s\n", count ? wl_error_last()->message : "no files");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wl_packed_layer out;
	int threads = argc > 2 ? atoi(argv[2]) : 0;
	if (wl_pack_layer(&out, dir, files, &plan->layers[0], threads, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "bench_pack: %s\n", wl_error_last()->message);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s %lld bytes %s in %.3f s\n", out.digest, (long long)out.size, out.media_type, s);
	wl_plan_free(plan);
	free(files);
	free(dir);
	return 0;
}
