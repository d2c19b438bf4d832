/*
 * shared_cases.h - finds the shared test material (Cog's example lockfiles
 * and the conformance cases) in the `shared` directory beside the source
 * tree, and reads files from it.
 */
#ifndef WL_SHARED_CASES_H
#define WL_SHARED_CASES_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char shared_dir[1024];

static int is_source_tree(const char *dir)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof p, "%s/include/weightslock.h", dir);
	return stat(p, &st) == 0;
}

/* Looks for the source tree at the working directory, then upwards from
 * the test binary; the shared directory is its sibling. */
static int shared_find(const char *argv0)
{
	char dir[512];
	if (is_source_tree(".")) {
		snprintf(shared_dir, sizeof shared_dir, "../shared");
		return 1;
	}
	snprintf(dir, sizeof dir, "%s", argv0);
	for (int up = 0; up < 6; up++) {
		char *slash = strrchr(dir, '/');
		if (slash == NULL)
			return 0;
		*slash = '\0';
		if (is_source_tree(dir)) {
			snprintf(shared_dir, sizeof shared_dir, "%s/../shared", dir);
			return 1;
		}
	}
	return 0;
}

/* `shared_dir`/rel into a malloc'd NUL-terminated buffer, or NULL. */
static char *shared_read(const char *rel, size_t *len)
{
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", shared_dir, rel);
	FILE *f = fopen(p, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL)
			break;
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		char *bigger = realloc(buf, cap * 2);
		if (bigger == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		if (len != NULL)
			*len = n;
	}
	return buf;
}

/* Loads `shared_dir`/rel as a lockfile. */
static int shared_load(wl_lock **out, const char *rel)
{
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", shared_dir, rel);
	return wl_lock_load(out, p);
}

#endif
