/*
 * lock_adder - one of several concurrent writers, for the concurrency test.
 *
 *   lock_adder LOCKFILE ID ROUNDS
 *
 * Reads stdin to EOF first (the common start signal), then ROUNDS times:
 * takes the guard lock, loads the lockfile (a missing file is a new empty
 * one), adds its own entry "w<ID>-<round>", increments the size of the
 * shared entry "counter", saves, releases. A lost update shows as a missing
 * entry or a short counter.
 */
#include "weightslock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
	const char *lockfile;
	const char *id;
	int round;
} job;

static int add_entry(void *arg)
{
	job *j = arg;
	wl_lock *lock = NULL;
	int rc = wl_lock_load(&lock, j->lockfile);
	if (rc == WL_ENOTFOUND)
		rc = wl_lock_new(&lock);
	if (rc != 0)
		return rc;

	char name[64], target[80];
	snprintf(name, sizeof name, "w%s-%d", j->id, j->round);
	snprintf(target, sizeof target, "/src/weights/%s", name);
	wl_source source = {.uri = wl_str("file://./weights"), .fingerprint = wl_str("sha256:0")};
	wl_entry entry = {
		.name = wl_str(name),
		.target = wl_str(target),
		.sources = &source,
		.source_count = 1,
		.sources_present = true,
		.imported_at = wl_time_now(),
		.files_present = true,
		.layers_present = true,
	};
	rc = wl_lock_upsert(lock, &entry);

	if (rc == 0) {
		wl_entry counter = {
			.name = wl_str("counter"),
			.sources = &source,
			.source_count = 1,
			.sources_present = true,
		};
		const wl_entry *old = wl_lock_find(lock, wl_str("counter"));
		counter.size = (old != NULL ? old->size : 0) + 1;
		rc = wl_lock_upsert(lock, &counter);
	}
	if (rc == 0)
		rc = wl_lock_save(lock, j->lockfile);
	wl_lock_free(lock);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: lock_adder LOCKFILE ID ROUNDS\n");
		return 2;
	}
	char buf[256];
	while (read(0, buf, sizeof buf) > 0)
		;
	job j = {argv[1], argv[2], 0};
	int rounds = atoi(argv[3]);
	for (j.round = 0; j.round < rounds; j.round++) {
		if (wl_with_lock(j.lockfile, 60, NULL, add_entry, &j) != 0) {
			fprintf(stderr, "lock_adder %s: %s\n", j.id, wl_error_last()->message);
			return 1;
		}
	}
	return 0;
}
