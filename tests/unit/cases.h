/*
 * cases.h - finds the test material of the source tree and reads files
 * from it: Cog's example lockfiles in tests/fixtures (always there), and the
 * external conformance suite in ../shared/conformance beside the source
 * tree, or wherever $WL_CONFORMANCE_DIR says (optional: its tests are run
 * with RUN_CONFORMANCE, which reports them as not run when it is absent).
 */
#ifndef WL_CASES_H
#define WL_CASES_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char fixtures_dir[1024];
static char conformance_dir[1024];

static int is_source_tree(const char *dir)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof p, "%s/include/weightslock.h", dir);
	return stat(p, &st) == 0;
}

static int is_directory(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Looks for the source tree at the working directory, then upwards from
 * the test binary, and sets `fixtures_dir` and `conformance_dir` from it.
 * Returns whether the fixtures were found. */
static int cases_find(const char *argv0)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s", argv0);
	int found = is_source_tree(".");
	if (found)
		snprintf(dir, sizeof dir, ".");
	for (int up = 0; !found && up < 6; up++) {
		char *slash = strrchr(dir, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		found = is_source_tree(dir);
	}
	const char *env = getenv("WL_CONFORMANCE_DIR");
	if (env != NULL && *env != '\0')
		snprintf(conformance_dir, sizeof conformance_dir, "%s", env);
	else if (found && strcmp(dir, ".") == 0)
		snprintf(conformance_dir, sizeof conformance_dir, "../shared/conformance");
	else if (found)
		snprintf(conformance_dir, sizeof conformance_dir, "%s/../shared/conformance", dir);
	if (!found)
		return 0;
	snprintf(fixtures_dir, sizeof fixtures_dir, "%s/tests/fixtures", dir);
	return is_directory(fixtures_dir);
}

/* Whether the conformance suite's cases are there to be run. */
static int conformance_present(void)
{
	char p[1100];
	snprintf(p, sizeof p, "%s/cases", conformance_dir);
	return conformance_dir[0] != '\0' && is_directory(p);
}

/* Runs a test that reads the conformance cases, or reports it as not run. */
#define RUN_CONFORMANCE(name)                                                        \
	RUN_IF(conformance_present(), name, "no conformance suite at %s",              \
	       conformance_dir[0] ? conformance_dir : "../shared/conformance")

/* dir/rel into a malloc'd NUL-terminated buffer, or NULL. */
static char *case_read(const char *dir, const char *rel, size_t *len)
{
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
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

/* Loads dir/rel as a lockfile. */
static int case_load(wl_lock **out, const char *dir, const char *rel)
{
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return wl_lock_load(out, p);
}

#endif
