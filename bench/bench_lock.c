/*
 * bench_lock.c - throughput of the lockfile codec and the consistency
 * check, each timed on its own (best of N runs), in MB/s of lockfile bytes.
 *
 *   bench_lock LOCKFILE [RUNS]
 */
#include "weightslock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *p = realloc(buf, cap * 2);
			if (p == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

static void fail(const char *what)
{
	fprintf(stderr, "bench_lock: %s: %s\n", what, wl_error_last()->message);
	exit(1);
}

static void report(const char *what, double best, size_t bytes)
{
	printf("%-8s %8.1f MB/s  (best %.1f ms)\n", what, (double)bytes / 1e6 / best, best * 1e3);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_lock LOCKFILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	size_t len;
	char *data = read_all(argv[1], &len);
	if (data == NULL) {
		perror(argv[1]);
		return 1;
	}

	double best_parse = 1e9, best_marshal = 1e9, best_check = 1e9;
	size_t problems_seen = 0;
	for (int r = 0; r < runs; r++) {
		wl_lock *lock;
		double t0 = now();
		if (wl_lock_parse(&lock, data, len, argv[1]) != 0)
			fail("parse");
		double t1 = now();
		char *out;
		size_t out_len;
		if (wl_lock_marshal(&out, &out_len, lock) != 0)
			fail("marshal");
		double t2 = now();
		wl_problem *problems;
		size_t count;
		if (wl_lock_check(&problems, &count, lock) != 0)
			fail("check");
		double t3 = now();
		problems_seen = count;
		wl_problems_free(problems, count);
		if (r == 0 && (out_len != len || memcmp(out, data, len) != 0))
			printf("note: marshal output differs from the input (input not canonical)\n");
		wl_free(out);
		wl_lock_free(lock);
		if (t1 - t0 < best_parse)
			best_parse = t1 - t0;
		if (t2 - t1 < best_marshal)
			best_marshal = t2 - t1;
		if (t3 - t2 < best_check)
			best_check = t3 - t2;
	}
	printf("lockfile %.1f MB, best of %d\n", (double)len / 1e6, runs);
	report("parse", best_parse, len);
	report("marshal", best_marshal, len);
	report("check", best_check, len);
	if (problems_seen != 0)
		printf("check found %zu problem(s) in the benchmark lockfile\n", problems_seen);
	free(data);
	return 0;
}
