/*
 * test_runtime.c - the runtime manifest /.cog/weights.json (SPEC.md §7.1).
 */
#include "harness.h"

#include <dirent.h>

#include "appendix_a.h"
#include "cases.h"

#define A_RUNTIME                                                                                      \
	"{\n  \"weights\": [\n    {\n      \"name\": \"demo\",\n      \"target\": \"/src/weights/demo\",\n" \
	"      \"setDigest\": \"" A_SET_DIGEST "\"\n    }\n  ]\n}"

static int marshal_lock(char **out, size_t *len, const wl_lock *lock)
{
	wl_runtime_manifest *m;
	int rc = wl_lock_runtime_manifest(&m, lock);
	if (rc != 0)
		return rc;
	rc = wl_runtime_manifest_marshal(out, len, m);
	wl_runtime_manifest_free(m);
	return rc;
}

TEST(runtime_manifest_is_indented_json_of_name_target_set_digest)
{
	example_entry x;
	example_init(&x);
	wl_lock lock = {0};
	lock.version = 1;
	lock.entries = &x.entry;
	lock.entry_count = 1;
	lock.entries_present = true;
	char *out;
	size_t len;
	CHECK_OK(marshal_lock(&out, &len, &lock));
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, out, len);
	int same = len == strlen(A_RUNTIME) && memcmp(out, A_RUNTIME, len) == 0;
	wl_free(out);
	CHECK(same);
	CHECK_INT(len, 186);
	CHECK_STR(digest, "sha256:670f85347a2511152e6088de4898e0e153f49baea7543fa1ac5b9a249ec80060");
}

TEST(runtime_manifest_without_entries_is_an_empty_list)
{
	wl_lock lock = {0};
	lock.version = 1;
	char *out;
	size_t len;
	CHECK_OK(marshal_lock(&out, &len, &lock));
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, out, len);
	int same = len == 19 && memcmp(out, "{\n  \"weights\": []\n}", 19) == 0;
	wl_free(out);
	CHECK(same);
	CHECK_STR(digest, "sha256:27e2cd79c211f6dad276fcb6c2c4776c865d810b5a1e7170117de004b25b6e20");
	/* A present, empty list gives the same bytes. */
	lock.entries_present = true;
	CHECK_OK(marshal_lock(&out, &len, &lock));
	same = len == 19 && memcmp(out, "{\n  \"weights\": []\n}", 19) == 0;
	wl_free(out);
	CHECK(same);
}

TEST(runtime_manifest_keeps_lockfile_order_and_escapes_strings)
{
	wl_entry entries[2];
	memset(entries, 0, sizeof entries);
	entries[0].name = wl_str("zeta");
	entries[0].target = wl_str("/w/<z>");
	entries[0].set_digest = wl_str("sha256:01");
	entries[1].name = wl_str("alpha\n");
	entries[1].target = wl_str("/w/a&b");
	wl_lock lock = {0};
	lock.entries = entries;
	lock.entry_count = 2;
	lock.entries_present = true;
	char *out;
	size_t len;
	CHECK_OK(marshal_lock(&out, &len, &lock));
	const char *want = "{\n  \"weights\": [\n"
	                   "    {\n      \"name\": \"zeta\",\n      \"target\": \"/w/\\u003cz\\u003e\",\n"
	                   "      \"setDigest\": \"sha256:01\"\n    },\n"
	                   "    {\n      \"name\": \"alpha\\n\",\n      \"target\": \"/w/a\\u0026b\",\n"
	                   "      \"setDigest\": \"\"\n    }\n  ]\n}";
	int same = len == strlen(want) && memcmp(out, want, len) == 0;
	if (!same)
		printf("%.*s\n", (int)len, out);
	wl_free(out);
	CHECK(same);
}

TEST(runtime_manifest_points_into_the_lock)
{
	example_entry x;
	example_init(&x);
	wl_lock lock = {0};
	lock.entries = &x.entry;
	lock.entry_count = 1;
	wl_runtime_manifest *m;
	CHECK_OK(wl_lock_runtime_manifest(&m, &lock));
	int ok = m->entry_count == 1 && m->entries[0].name.ptr == x.entry.name.ptr &&
	         m->entries[0].target.ptr == x.entry.target.ptr &&
	         m->entries[0].set_digest.ptr == x.entry.set_digest.ptr;
	wl_runtime_manifest_free(m);
	wl_runtime_manifest_free(NULL);
	CHECK(ok);
}

/* The runtime manifest of the lockfile dir/in must be the bytes of dir/out. */
static int same_as_file(const char *dir, const char *in, const char *out)
{
	size_t want_len;
	char *want = case_read(dir, out, &want_len);
	if (want == NULL)
		return WL_ENOTFOUND;
	wl_lock *lock;
	int rc = case_load(&lock, dir, in);
	char *bytes = NULL;
	size_t len = 0;
	if (rc == 0) {
		rc = marshal_lock(&bytes, &len, lock);
		wl_lock_free(lock);
	}
	if (rc == 0 && (len != want_len || memcmp(bytes, want, len) != 0)) {
		printf("  %s: runtime manifest differs from %s\n", in, out);
		rc = WL_EINVALID;
	}
	wl_free(bytes);
	free(want);
	return rc;
}

TEST(cog_example_runtime_manifests_are_reproduced)
{
	const char *names[] = {"managed-weights", "resnet", "resnet-multisource"};
	for (size_t i = 0; i < 3; i++) {
		char in[128], out[128];
		snprintf(in, sizeof in, "cog-examples/%s.lock", names[i]);
		snprintf(out, sizeof out, "cog-examples/%s.runtime.json", names[i]);
		CHECK_OK(same_as_file(fixtures_dir, in, out));
	}
}

TEST(conformance_runtime_cases_are_reproduced)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/cases/runtime", conformance_dir);
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t cases = 0, failed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".out") != 0)
			continue;
		char in[PATH_MAX], out[PATH_MAX];
		snprintf(in, sizeof in, "cases/runtime/%.*s.in", (int)(len - 4), de->d_name);
		snprintf(out, sizeof out, "cases/runtime/%s", de->d_name);
		cases++;
		if (same_as_file(conformance_dir, in, out) != 0)
			failed++;
	}
	closedir(d);
	CHECK(cases >= 10);
	CHECK_INT(failed, 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	int have_fixtures = cases_find(argv[0]);
	RUN(runtime_manifest_is_indented_json_of_name_target_set_digest);
	RUN(runtime_manifest_without_entries_is_an_empty_list);
	RUN(runtime_manifest_keeps_lockfile_order_and_escapes_strings);
	RUN(runtime_manifest_points_into_the_lock);
	if (!have_fixtures)
		printf("FAIL test fixtures not found in the source tree (tests/fixtures)\n");
	RUN(cog_example_runtime_manifests_are_reproduced);
	RUN_CONFORMANCE(conformance_runtime_cases_are_reproduced);
	return harness_summary("runtime") || !have_fixtures;
}
