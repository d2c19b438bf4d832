/*
 * fuzz_lock.c - libFuzzer target for the lockfile codec.
 *
 * Property: for any input the parser accepts and the encoder can encode,
 * parse(marshal(x)) succeeds and marshal of that equals marshal(x) (the
 * canonical form is a fixed point, SPEC.md §3.4). The projections and the
 * consistency check run on every accepted input; their errors are fine,
 * crashes and sanitizer reports are not.
 */
#include "weightslock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void project(wl_lock *lock)
{
	wl_runtime_manifest *manifest = NULL;
	if (wl_lock_runtime_manifest(&manifest, lock) == 0) {
		char *out = NULL;
		size_t len = 0;
		if (wl_runtime_manifest_marshal(&out, &len, manifest) == 0)
			wl_free(out);
		wl_runtime_manifest_free(manifest);
	}
	for (size_t i = 0; i < lock->entry_count && i < 8; i++) {
		const wl_entry *e = &lock->entries[i];
		char *out = NULL;
		size_t len = 0;
		if (wl_entry_config_blob(&out, &len, e) == 0)
			wl_free(out);
		if (wl_entry_manifest(&out, &len, e) == 0)
			wl_free(out);
		if (wl_entry_index_descriptor(&out, &len, e, "fuzz") == 0)
			wl_free(out);
		char set_digest[WL_DIGEST_LEN + 1];
		(void)wl_entry_set_digest(set_digest, &lock->entries[i]);
	}
	wl_problem *problems = NULL;
	size_t count = 0;
	if (wl_lock_check(&problems, &count, lock) == 0)
		wl_problems_free(problems, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, data, size, "fuzz.lock") != 0)
		return 0;
	char *first = NULL;
	size_t first_len = 0;
	if (wl_lock_marshal(&first, &first_len, lock) != 0) {
		/* Only an unencodable timestamp may stop the encoder. */
		if (wl_error_last()->code != WL_EINVALID) {
			fprintf(stderr, "marshal failed: %s\n", wl_error_last()->message);
			abort();
		}
		project(lock);
		wl_lock_free(lock);
		return 0;
	}
	wl_lock *again = NULL;
	if (wl_lock_parse(&again, first, first_len, "canonical.lock") != 0) {
		fprintf(stderr, "canonical bytes do not parse: %s\n", wl_error_last()->message);
		abort();
	}
	char *second = NULL;
	size_t second_len = 0;
	if (wl_lock_marshal(&second, &second_len, again) != 0) {
		fprintf(stderr, "second marshal failed: %s\n", wl_error_last()->message);
		abort();
	}
	if (first_len != second_len || memcmp(first, second, first_len) != 0) {
		fprintf(stderr, "marshal is not a fixed point (%zu vs %zu bytes)\n", first_len,
		        second_len);
		abort();
	}
	project(lock);
	wl_free(first);
	wl_free(second);
	wl_lock_free(again);
	wl_lock_free(lock);
	return 0;
}
