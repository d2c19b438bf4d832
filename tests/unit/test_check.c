/*
 * test_check.c - the consistency check (CLI.md `check`, SPEC.md §2.6): one
 * test per rule on Appendix A's entry, then Cog's example lockfiles and the
 * conformance `check` inputs end to end.
 */
#include "harness.h"

#include <dirent.h>
#include <time.h>

#include "appendix_a.h"
#include "cases.h"

/* SPEC.md §5.2 as decided for check: the longest name whose tag
 * "weights-NAME-<12 hex>" is at most 128 characters. */
#define WL__NAME_TEST_MAX 107

static wl_problem *problems;
static size_t problem_count;

static int run_check(wl_lock *lock)
{
	wl_problems_free(problems, problem_count);
	problems = NULL;
	problem_count = 0;
	return wl_lock_check(&problems, &problem_count, lock);
}

/* Checks one in-memory entry. */
static int check_entry(wl_entry *e)
{
	wl_lock lock = {0};
	lock.version = 1;
	lock.entries = e;
	lock.entry_count = 1;
	lock.entries_present = true;
	return run_check(&lock);
}

static const char *find_problem(const char *part)
{
	for (size_t i = 0; i < problem_count; i++)
		if (strstr(problems[i].message, part) != NULL)
			return problems[i].message;
	return NULL;
}

static void show_problems(void)
{
	for (size_t i = 0; i < problem_count; i++)
		printf("  problem: %.*s: %s\n", (int)problems[i].name.len,
		       problems[i].name.ptr ? problems[i].name.ptr : "", problems[i].message);
}

#define CHECK_PROBLEM(part)                                                                            \
	do {                                                                                           \
		if (find_problem(part) == NULL) {                                                      \
			show_problems();                                                               \
			HARNESS_FAIL("no problem says \"%s\"", part);                                  \
			return;                                                                        \
		}                                                                                      \
	} while (0)

#define CHECK_NO_PROBLEM()                                                                             \
	do {                                                                                           \
		if (problem_count != 0) {                                                              \
			show_problems();                                                               \
			HARNESS_FAIL("%zu problems, want none", problem_count);                        \
			return;                                                                        \
		}                                                                                      \
	} while (0)

/* Recomputes `digest` and `setDigest` so only the rule under test breaks. */
static int refresh_digests(wl_entry *e, char set_digest[WL_DIGEST_LEN + 1], char digest[WL_DIGEST_LEN + 1])
{
	int rc = wl_entry_set_digest(set_digest, e);
	if (rc != 0)
		return rc;
	e->set_digest = wl_str(set_digest);
	char *m;
	size_t n;
	if ((rc = wl_entry_manifest(&m, &n, e)) != 0)
		return rc;
	wl_sha256_digest(digest, m, n);
	wl_free(m);
	e->digest = wl_str(digest);
	return 0;
}

TEST(consistent_entry_has_no_problem)
{
	example_entry x;
	example_init(&x);
	CHECK_OK(check_entry(&x.entry));
	CHECK_NO_PROBLEM();
	CHECK(problems == NULL);
}

TEST(set_digest_must_be_the_set_digest_of_the_files)
{
	example_entry x;
	example_init(&x);
	x.entry.set_digest = wl_str(A_FINGERPRINT);
	char digest[WL_DIGEST_LEN + 1], unused[WL_DIGEST_LEN + 1];
	(void)unused;
	char *m;
	size_t n;
	CHECK_OK(wl_entry_manifest(&m, &n, &x.entry));
	wl_sha256_digest(digest, m, n);
	wl_free(m);
	x.entry.digest = wl_str(digest);
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "setDigest is " A_FINGERPRINT " but the files give " A_SET_DIGEST);
	CHECK_MEM(problems[0].name.ptr, problems[0].name.len, "demo");
}

TEST(set_digest_that_is_not_a_digest_is_quoted)
{
	example_entry x;
	example_init(&x);
	x.entry.set_digest = wl_str("sha256:\n");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("setDigest is \"sha256:\\n\" but the files give " A_SET_DIGEST);
}

TEST(digest_must_be_the_sha256_of_the_projected_manifest)
{
	example_entry x;
	example_init(&x);
	x.entry.digest = wl_str(A_CONFIG_DIGEST);
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "digest is " A_CONFIG_DIGEST " but the manifest gives " A_DIGEST);
}

TEST(entry_that_cannot_be_projected_is_a_problem)
{
	example_entry x;
	example_init(&x);
	x.entry.target = wl_str("");
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "cannot project the manifest: weight target is required");
}

TEST(size_must_be_the_sum_of_layer_uncompressed_sizes)
{
	example_entry x;
	example_init(&x);
	x.entry.size = 151;
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "size is 151 but the layers' sizeUncompressed sum to 150");
}

TEST(size_compressed_must_be_the_sum_of_layer_sizes)
{
	example_entry x;
	example_init(&x);
	x.entry.size_compressed = 150;
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "sizeCompressed is 150 but the layers' size sum to 3355");
}

TEST(size_sums_that_overflow_are_problems)
{
	example_entry x;
	example_init(&x);
	x.layers[0].size = INT64_MAX;
	x.layers[0].size_uncompressed = INT64_MAX;
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("the sum of the layers' sizeUncompressed overflows int64");
	CHECK_PROBLEM("the sum of the layers' size overflows int64");
}

TEST(every_file_layer_must_name_a_layer)
{
	example_entry x;
	example_init(&x);
	/* The gzip layer now holds only config.json (38 bytes). */
	x.files[2].layer = wl_str(A_FILE_VOCAB);
	x.layers[1].size_uncompressed = 38;
	x.entry.size = 138;
	char s[WL_DIGEST_LEN + 1], d[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, s, d));
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message,
	          "file \"tokenizer/vocab.txt\" names layer " A_FILE_VOCAB ", which is not in layers");
}

TEST(every_layer_must_hold_a_file)
{
	example_entry x;
	example_init(&x);
	x.files[1].layer = wl_str(A_LAYER_GZ);
	x.layers[1].size_uncompressed = 150;
	char s[WL_DIGEST_LEN + 1], d[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, s, d));
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("layer " A_LAYER_TAR " holds no file");
	CHECK_INT(problem_count, 2); /* and its 100 bytes are counted in `size` */
	CHECK_PROBLEM("size is 150 but the layers' sizeUncompressed sum to 250");
}

TEST(layer_uncompressed_size_must_be_the_sum_of_its_files)
{
	example_entry x;
	example_init(&x);
	x.layers[1].size_uncompressed = 49;
	x.entry.size = 149;
	char s[WL_DIGEST_LEN + 1], d[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, s, d));
	CHECK_OK(check_entry(&x.entry));
	CHECK_INT(problem_count, 1);
	CHECK_STR(problems[0].message, "layer " A_LAYER_GZ " has sizeUncompressed 49 but its files sum to 50");
}

TEST(layer_file_sizes_that_overflow_are_a_problem)
{
	example_entry x;
	example_init(&x);
	x.files[0].size = INT64_MAX;
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("the sizes of the files in layer " A_LAYER_GZ " overflow int64");
}

TEST(paths_must_be_valid)
{
	example_entry x;
	example_init(&x);
	x.files[2].path = wl_str("tokenizer/../vocab.txt");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("invalid path \"tokenizer/../vocab.txt\": ");
	x.files[2].path = wl_str("a\\b\x01");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("invalid path \"a\\\\b\\x01\": ");
}

TEST(paths_must_be_unique)
{
	example_entry x;
	example_init(&x);
	x.files[1].path = wl_str("config.json");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("duplicate path \"config.json\"");
	x.files[2].path = wl_str("config.json");
	CHECK_OK(check_entry(&x.entry));
	size_t dup = 0;
	for (size_t i = 0; i < problem_count; i++)
		dup += strstr(problems[i].message, "duplicate path") != NULL;
	CHECK_INT(dup, 1);
}

TEST(path_cannot_be_both_a_file_and_a_directory)
{
	example_entry x;
	example_init(&x);
	/* "tokenizer" < "tokenizer.json" < "tokenizer/vocab.txt": not adjacent. */
	x.files[0].path = wl_str("tokenizer");
	x.files[1].path = wl_str("tokenizer.json");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("path \"tokenizer\" is a file and also the directory of \"tokenizer/vocab.txt\"");
	/* A mere name prefix is fine. */
	x.files[0].path = wl_str("tokenize");
	char s[WL_DIGEST_LEN + 1], d[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, s, d));
	CHECK_OK(check_entry(&x.entry));
	CHECK_NO_PROBLEM();
}

TEST(file_digests_must_be_valid)
{
	example_entry x;
	example_init(&x);
	x.files[0].digest = wl_str("sha256:A774917976EEACE378D7B0FB665B2E8803EE1183A5186169AD23D4C264D862C9");
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("file \"config.json\" has invalid digest \"sha256:A7749179");
}

TEST(file_sizes_cannot_be_negative)
{
	example_entry x;
	example_init(&x);
	x.files[0].size = -1;
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("file \"config.json\" has negative size -1");
}

TEST(layer_digests_must_be_valid)
{
	example_entry x;
	example_init(&x);
	x.layers[1].digest = wl_str("sha256:cb9f");
	x.files[0].layer = x.layers[1].digest;
	x.files[2].layer = x.layers[1].digest;
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("invalid layer digest \"sha256:cb9f\"");
	CHECK_PROBLEM("cannot project the manifest: layer 1: missing digest");
}

TEST(weight_names_must_be_able_to_form_a_tag)
{
	static const char *const bad[] = {
		"a/../../../victim/manifests/latest?x=", "Demo", "..", "a--b", "-a", "caf\xc3\xa9", "a b",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		example_entry x;
		example_init(&x);
		x.entry.name = wl_str(bad[i]);
		char set_digest[WL_DIGEST_LEN + 1], digest[WL_DIGEST_LEN + 1];
		CHECK_OK(refresh_digests(&x.entry, set_digest, digest));
		CHECK_OK(check_entry(&x.entry));
		CHECK_INT(problem_count, 1);
		CHECK(strncmp(problems[0].message, "invalid weight name \"", 21) == 0);
		CHECK(strstr(problems[0].message, "lower-case letters and digits") != NULL);
	}
	example_entry x;
	example_init(&x);
	char longest[WL__NAME_TEST_MAX + 2];
	memset(longest, 'n', sizeof longest);
	longest[WL__NAME_TEST_MAX] = '\0';
	x.entry.name = wl_str(longest);
	char set_digest[WL_DIGEST_LEN + 1], digest[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, set_digest, digest));
	CHECK_OK(check_entry(&x.entry));
	CHECK_NO_PROBLEM();
	longest[WL__NAME_TEST_MAX] = 'n';
	longest[WL__NAME_TEST_MAX + 1] = '\0';
	x.entry.name = wl_str(longest);
	CHECK_OK(refresh_digests(&x.entry, set_digest, digest));
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("longer than 107 bytes, too long for its tag");
}

TEST(layer_media_types_must_follow_rfc_6838)
{
	static const char *const bad[] = {
		"application/vnd.oci.image.layer.v1.tar\r\nX-Evil: 1", "application", "text/plain; x=y",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		example_entry x;
		example_init(&x);
		x.layers[0].media_type = wl_str(bad[i]);
		char set_digest[WL_DIGEST_LEN + 1], digest[WL_DIGEST_LEN + 1];
		CHECK_OK(refresh_digests(&x.entry, set_digest, digest));
		CHECK_OK(check_entry(&x.entry));
		CHECK_PROBLEM("has an invalid mediaType");
	}
	example_entry x;
	example_init(&x);
	x.layers[0].media_type = wl_str("application/vnd.oci.image.layer.v1.tar+zstd");
	char set_digest[WL_DIGEST_LEN + 1], digest[WL_DIGEST_LEN + 1];
	CHECK_OK(refresh_digests(&x.entry, set_digest, digest));
	CHECK_OK(check_entry(&x.entry));
	CHECK_NO_PROBLEM();
}

TEST(layer_digests_must_be_unique)
{
	example_entry x;
	example_init(&x);
	x.layers[0].digest = wl_str(A_LAYER_GZ);
	x.files[1].layer = wl_str(A_LAYER_GZ);
	CHECK_OK(check_entry(&x.entry));
	CHECK_PROBLEM("duplicate layer " A_LAYER_GZ);
	CHECK(find_problem("holds no file") == NULL);
}

TEST(check_normalizes_entries_first)
{
	example_entry x;
	example_init(&x);
	wl_file f = x.files[0];
	x.files[0] = x.files[2];
	x.files[2] = f;
	wl_layer l = x.layers[0];
	x.layers[0] = x.layers[1];
	x.layers[1] = l;
	CHECK_OK(check_entry(&x.entry));
	CHECK_NO_PROBLEM();
	CHECK_STR(x.files[0].path.ptr, "config.json");
	CHECK_STR(x.layers[0].digest.ptr, A_LAYER_TAR);
}

TEST(problems_come_in_entry_order_and_name_their_entry)
{
	example_entry a, b;
	example_init(&a);
	example_init(&b);
	a.entry.size = 1;
	b.entry.name = wl_str("second");
	wl_entry entries[2] = {b.entry, a.entry};
	wl_lock lock = {0};
	lock.entries = entries;
	lock.entry_count = 2;
	CHECK_OK(run_check(&lock));
	CHECK_INT(problem_count, 2);
	CHECK_MEM(problems[0].name.ptr, problems[0].name.len, "second");
	CHECK(strncmp(problems[0].message, "digest is ", 10) == 0);
	CHECK_MEM(problems[1].name.ptr, problems[1].name.len, "demo");
	CHECK(strncmp(problems[1].message, "size is 1 ", 10) == 0);
}

TEST(check_of_100000_files_is_fast)
{
	size_t n = 100000, layers = 1000;
	wl_file *files = calloc(n, sizeof *files);
	wl_layer *ls = calloc(layers, sizeof *ls);
	char *text = malloc(n * 40 + n * (WL_DIGEST_LEN + 1) + layers * (WL_DIGEST_LEN + 1));
	CHECK(files && ls && text);
	char *p = text;
	int64_t total = 0;
	for (size_t k = 0; k < layers; k++) {
		char seed[32];
		int len = snprintf(seed, sizeof seed, "layer %zu", k);
		wl_sha256_digest(p, seed, (size_t)len);
		ls[k] = (wl_layer){wl_str(p), wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP), 1, 0};
		p += WL_DIGEST_LEN + 1;
	}
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(p, 40, "d%zu/f%06zu", i % 300, i);
		files[i].path = wl_str(p);
		p += len + 1;
		wl_sha256_digest(p, files[i].path.ptr, files[i].path.len);
		files[i].digest = wl_str(p);
		p += WL_DIGEST_LEN + 1;
		files[i].size = (int64_t)(i % 5000) + 1;
		files[i].layer = ls[i % layers].digest;
		ls[i % layers].size_uncompressed += files[i].size;
		total += files[i].size;
	}
	wl_entry e = {0};
	e.name = wl_str("big");
	e.target = wl_str("/src/weights/big");
	e.files = files;
	e.file_count = n;
	e.layers = ls;
	e.layer_count = layers;
	e.size = total;
	e.size_compressed = (int64_t)layers;
	char s[WL_DIGEST_LEN + 1], d[WL_DIGEST_LEN + 1];
	int rc = refresh_digests(&e, s, d);
	clock_t start = clock();
	if (rc == 0)
		rc = check_entry(&e);
	double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
	size_t found = problem_count;
	/* A file/directory clash far apart in sorted order is still found. */
	files[0].path = wl_str("d1");
	if (rc == 0)
		rc = check_entry(&e);
	free(files);
	free(ls);
	free(text);
	CHECK_OK(rc);
	CHECK_INT(found, 0);
	CHECK_PROBLEM("path \"d1\" is a file and also the directory of \"d1/f000001\"");
	printf("  check of %zu files: %.3f s\n", n, seconds);
	CHECK(seconds < 5.0);
}

/* ---- end to end: parsed lockfiles ---- */

TEST(cog_example_lockfiles_are_consistent)
{
	const char *names[] = {"managed-weights.lock", "resnet.lock", "resnet-multisource.lock"};
	for (size_t i = 0; i < 3; i++) {
		char rel[128];
		snprintf(rel, sizeof rel, "cog-examples/%s", names[i]);
		wl_lock *lock;
		CHECK_OK(case_load(&lock, fixtures_dir, rel));
		int rc = run_check(lock);
		size_t entries = lock->entry_count;
		wl_lock_free(lock);
		CHECK_OK(rc);
		CHECK(entries > 0);
		CHECK_NO_PROBLEM();
	}
}

/* Each check case: .expect 0 (consistent), 1 (inconsistent) or 2 (the
 * lockfile itself is invalid). */
TEST(conformance_check_cases_give_the_expected_status)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/cases/check", conformance_dir);
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t cases = 0, wrong = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".in") != 0)
			continue;
		char rel[PATH_MAX];
		snprintf(rel, sizeof rel, "cases/check/%.*s.expect", (int)(len - 3), de->d_name);
		char *expect = case_read(conformance_dir, rel, NULL);
		if (expect == NULL)
			continue;
		int want = atoi(expect);
		free(expect);
		snprintf(rel, sizeof rel, "cases/check/%s", de->d_name);
		wl_lock *lock;
		int got_status;
		if (case_load(&lock, conformance_dir, rel) != 0) {
			got_status = 2;
		} else {
			int rc = run_check(lock);
			got_status = rc != 0 ? -1 : problem_count ? 1 : 0;
			wl_lock_free(lock);
		}
		cases++;
		if (got_status != want) {
			wrong++;
			printf("  %s: status %d, want %d\n", de->d_name, got_status, want);
			show_problems();
		}
	}
	closedir(d);
	CHECK(cases >= 28);
	CHECK_INT(wrong, 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	int have_fixtures = cases_find(argv[0]);
	RUN(consistent_entry_has_no_problem);
	RUN(set_digest_must_be_the_set_digest_of_the_files);
	RUN(set_digest_that_is_not_a_digest_is_quoted);
	RUN(digest_must_be_the_sha256_of_the_projected_manifest);
	RUN(entry_that_cannot_be_projected_is_a_problem);
	RUN(size_must_be_the_sum_of_layer_uncompressed_sizes);
	RUN(size_compressed_must_be_the_sum_of_layer_sizes);
	RUN(size_sums_that_overflow_are_problems);
	RUN(every_file_layer_must_name_a_layer);
	RUN(every_layer_must_hold_a_file);
	RUN(layer_uncompressed_size_must_be_the_sum_of_its_files);
	RUN(layer_file_sizes_that_overflow_are_a_problem);
	RUN(paths_must_be_valid);
	RUN(paths_must_be_unique);
	RUN(path_cannot_be_both_a_file_and_a_directory);
	RUN(file_digests_must_be_valid);
	RUN(file_sizes_cannot_be_negative);
	RUN(layer_digests_must_be_valid);
	RUN(weight_names_must_be_able_to_form_a_tag);
	RUN(layer_media_types_must_follow_rfc_6838);
	RUN(layer_digests_must_be_unique);
	RUN(check_normalizes_entries_first);
	RUN(problems_come_in_entry_order_and_name_their_entry);
	RUN(check_of_100000_files_is_fast);
	if (!have_fixtures)
		printf("FAIL test fixtures not found in the source tree (tests/fixtures)\n");
	RUN(cog_example_lockfiles_are_consistent);
	RUN_CONFORMANCE(conformance_check_cases_give_the_expected_status);
	wl_problems_free(problems, problem_count);
	return harness_summary("check") || !have_fixtures;
}
