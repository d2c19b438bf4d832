/*
 * crash_writer - saves numbered versions of a lockfile, for the crash-safety
 * test, which kills it with SIGKILL at random moments.
 *
 *   crash_writer LOCKFILE FIRST COUNT   saves versions FIRST.. (COUNT 0: forever)
 *   crash_writer --print K              writes the bytes of version K to stdout
 *
 * Version K holds one entry "crash" with 1 + K % 500 files, so versions differ
 * in size and a save takes a little time; K is spelled in its digests so each
 * version is distinguishable. tests/cli/test_robustness.py computes the same
 * bytes independently.
 */
#include "weightslock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_DIGEST_BUF 80
#define PATH_BUF 32

static int build_version(wl_lock **out, uint64_t k)
{
	size_t n = 1 + (size_t)(k % 500);
	wl_lock *lock = NULL;
	int rc = wl_lock_new(&lock);
	if (rc != 0)
		return rc;
	lock->envelope_format = wl_str("sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");

	char digest[HEX_DIGEST_BUF], set_digest[HEX_DIGEST_BUF], fingerprint[HEX_DIGEST_BUF];
	snprintf(digest, sizeof digest, "sha256:%064" PRIx64, k);
	snprintf(set_digest, sizeof set_digest, "sha256:%064" PRIx64, k + 1);
	snprintf(fingerprint, sizeof fingerprint, "sha256:%064" PRIx64, k + 2);
	const char *layer_digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

	wl_file *files = calloc(n, sizeof *files);
	char *paths = calloc(n, PATH_BUF);
	char *digests = calloc(n, HEX_DIGEST_BUF);
	if (files == NULL || paths == NULL || digests == NULL) {
		free(files);
		free(paths);
		free(digests);
		wl_lock_free(lock);
		return WL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = paths + i * PATH_BUF, *d = digests + i * HEX_DIGEST_BUF;
		snprintf(p, PATH_BUF, "d%02zu/f%05zu.bin", i / 50, i);
		snprintf(d, HEX_DIGEST_BUF, "sha256:%064" PRIx64, k * 1000 + i);
		files[i].path = wl_str(p);
		files[i].size = 1000;
		files[i].digest = wl_str(d);
		files[i].layer = wl_str(layer_digest);
	}
	wl_layer layer = {
		.digest = wl_str(layer_digest),
		.media_type = wl_str("application/vnd.oci.image.layer.v1.tar+gzip"),
		.size = 12345,
		.size_uncompressed = (int64_t)n * 1000,
	};
	wl_string exclude = wl_str("*.tmp");
	wl_source source = {
		.uri = wl_str("file://./weights"),
		.fingerprint = wl_str(fingerprint),
		.exclude = &exclude,
		.exclude_count = 1,
	};
	wl_entry entry = {
		.name = wl_str("crash"),
		.target = wl_str("/src/weights"),
		.sources = &source,
		.source_count = 1,
		.sources_present = true,
		.imported_at = {2026, 4, 16, 17, 27, 7, 500000000, 7200},
		.digest = wl_str(digest),
		.set_digest = wl_str(set_digest),
		.size = (int64_t)n * 1000,
		.size_compressed = 12345,
		.files = files,
		.file_count = n,
		.files_present = true,
		.layers = &layer,
		.layer_count = 1,
		.layers_present = true,
	};
	rc = wl_lock_upsert(lock, &entry);
	free(files);
	free(paths);
	free(digests);
	if (rc != 0) {
		wl_lock_free(lock);
		return rc;
	}
	*out = lock;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--print") == 0) {
		wl_lock *lock;
		char *bytes;
		size_t len;
		if (build_version(&lock, strtoull(argv[2], NULL, 10)) != 0 ||
		    wl_lock_marshal(&bytes, &len, lock) != 0) {
			fprintf(stderr, "crash_writer: %s\n", wl_error_last()->message);
			return 1;
		}
		fwrite(bytes, 1, len, stdout);
		wl_free(bytes);
		wl_lock_free(lock);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: crash_writer LOCKFILE FIRST COUNT | --print K\n");
		return 2;
	}
	uint64_t first = strtoull(argv[2], NULL, 10);
	uint64_t count = strtoull(argv[3], NULL, 10);
	for (uint64_t k = first; count == 0 || k < first + count; k++) {
		wl_lock *lock;
		if (build_version(&lock, k) != 0 || wl_lock_save(lock, argv[1]) != 0) {
			fprintf(stderr, "crash_writer: %s\n", wl_error_last()->message);
			return 1;
		}
		wl_lock_free(lock);
	}
	return 0;
}
