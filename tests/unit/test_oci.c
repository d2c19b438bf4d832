/*
 * test_oci.c - the OCI projection of an entry (SPEC.md §6): config blob,
 * manifest, preconditions and index descriptor, against Appendix A and
 * Cog's example lockfiles.
 */
#include "harness.h"

#include <dirent.h>

#include "appendix_a.h"
#include "cases.h"

/* The projection's bytes and their sha256. */
static char *got;
static size_t got_len;
static char got_digest[WL_DIGEST_LEN + 1];

static int project(int (*fn)(char **, size_t *, const wl_entry *), const wl_entry *e)
{
	wl_free(got);
	got = NULL;
	got_len = 0;
	int rc = fn(&got, &got_len, e);
	if (rc == 0)
		wl_sha256_digest(got_digest, got, got_len);
	return rc;
}

TEST(config_blob_is_compact_json_of_the_file_index)
{
	example_entry x;
	example_init(&x);
	CHECK_OK(project(wl_entry_config_blob, &x.entry));
	CHECK_INT(got_len, 749);
	CHECK_MEM(got, got_len, A_CONFIG_BLOB);
	CHECK_STR(got_digest, A_CONFIG_DIGEST);
}

TEST(config_blob_sorts_files_by_path_without_touching_the_entry)
{
	example_entry x;
	example_init(&x);
	wl_file t = x.files[0];
	x.files[0] = x.files[2];
	x.files[2] = t;
	CHECK_OK(project(wl_entry_config_blob, &x.entry));
	CHECK_MEM(got, got_len, A_CONFIG_BLOB);
	CHECK_STR(x.files[0].path.ptr, "tokenizer/vocab.txt");
	CHECK_STR(x.files[2].path.ptr, "config.json");
}

TEST(config_blob_file_sort_is_stable)
{
	example_entry x;
	example_init(&x);
	/* Two files named alike keep their list order: sizes 12 then 38. */
	x.files[0] = (wl_file){wl_str("b"), 12, wl_str(A_FILE_VOCAB), wl_str(A_LAYER_GZ)};
	x.files[1] = (wl_file){wl_str("a"), 100, wl_str(A_FILE_MODEL), wl_str(A_LAYER_TAR)};
	x.files[2] = (wl_file){wl_str("b"), 38, wl_str(A_FILE_CONFIG), wl_str(A_LAYER_GZ)};
	CHECK_OK(project(wl_entry_config_blob, &x.entry));
	const char *a = strstr(got, "\"path\":\"a\"");
	const char *b12 = strstr(got, "\"size\":12");
	const char *b38 = strstr(got, "\"size\":38");
	CHECK(a && b12 && b38);
	CHECK(a < b12 && b12 < b38);
}

TEST(manifest_is_the_exact_bytes_whose_sha256_is_the_entry_digest)
{
	example_entry x;
	example_init(&x);
	CHECK_OK(project(wl_entry_manifest, &x.entry));
	CHECK_INT(got_len, 903);
	CHECK_MEM(got, got_len, A_MANIFEST);
	CHECK_STR(got_digest, A_DIGEST);
}

TEST(manifest_sorts_layers_by_digest_without_touching_the_entry)
{
	example_entry x;
	example_init(&x);
	wl_layer t = x.layers[0];
	x.layers[0] = x.layers[1];
	x.layers[1] = t;
	CHECK_OK(project(wl_entry_manifest, &x.entry));
	CHECK_STR(got_digest, A_DIGEST);
	CHECK_STR(x.layers[0].digest.ptr, A_LAYER_GZ);
}

TEST(manifest_strings_are_escaped_like_go)
{
	example_entry x;
	example_init(&x);
	x.entry.name = wl_str("a<b>&\"c\"");
	CHECK_OK(project(wl_entry_manifest, &x.entry));
	CHECK(strstr(got, "\"run.cog.weight.name\":\"a\\u003cb\\u003e\\u0026\\\"c\\\"\"") != NULL);
	CHECK_OK(project(wl_entry_config_blob, &x.entry));
	CHECK(strncmp(got, "{\"name\":\"a\\u003cb\\u003e\\u0026\\\"c\\\"\",", 36) == 0);
}

/* Cog's examples/resnet lockfile, entry resnet50 (SPEC.md Appendix A). */
TEST(manifest_of_cog_resnet50_matches_its_digest)
{
	wl_file files[] = {
		{wl_str("config.json"), 69556,
		 wl_str("sha256:a1be0f56d516d0b55f9844ce0fbfe5fb359195cba6c6c102d41ae6c202c84d5e"),
		 wl_str("sha256:d3458267e3c3179135ab97c11fb1a0da870c44be7c32d65c5d2b35bc91c46bf8")},
		{wl_str("model.safetensors"), 102482854,
		 wl_str("sha256:9c6061af1f450bb0847e529fd742aa5066017be379c71bbf5546b198e5b13a1e"),
		 wl_str("sha256:dec23f069d100ce2979619413133cd208a35069daed2b13e77879ac2404994c5")},
		{wl_str("preprocessor_config.json"), 266,
		 wl_str("sha256:fd575b890da5a949493e1d1e7a70bfcb9e4b99fe444004d2dbfa253add254741"),
		 wl_str("sha256:d3458267e3c3179135ab97c11fb1a0da870c44be7c32d65c5d2b35bc91c46bf8")},
	};
	wl_layer layers[] = {
		{wl_str("sha256:d3458267e3c3179135ab97c11fb1a0da870c44be7c32d65c5d2b35bc91c46bf8"),
		 wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP), 23727, 69822},
		{wl_str("sha256:dec23f069d100ce2979619413133cd208a35069daed2b13e77879ac2404994c5"),
		 wl_str(WL_MEDIA_TYPE_LAYER_TAR), 102485504, 102482854},
	};
	wl_entry e = {0};
	e.name = wl_str("resnet50");
	e.target = wl_str("/src/weights/resnet50");
	e.set_digest = wl_str("sha256:52924993c7eff45d5d1deaecf1f375d774c30faa1b4ce61379f5d552fd376744");
	e.files = files;
	e.file_count = 3;
	e.layers = layers;
	e.layer_count = 2;
	CHECK_OK(project(wl_entry_config_blob, &e));
	CHECK_INT(got_len, 772);
	CHECK_STR(got_digest, "sha256:88cad29d01ba27bc0e4e051028f8cca7992237bc2bd6b937e9d4d1f7e5492129");
	CHECK_OK(project(wl_entry_manifest, &e));
	CHECK_INT(got_len, 927);
	CHECK_STR(got_digest, "sha256:d2daafad96409df82d69df3c92192d2e651344f579a12683a59e4a6140a5abf5");
}

/* ---- SPEC.md §6.4, one test per precondition, then their order ---- */

TEST(precondition_name_is_required)
{
	example_entry x;
	example_init(&x);
	x.entry.name = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight name is required");
}

TEST(precondition_target_is_required)
{
	example_entry x;
	example_init(&x);
	x.entry.target = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight target is required");
}

TEST(precondition_set_digest_is_required)
{
	example_entry x;
	example_init(&x);
	x.entry.set_digest = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight set digest is required");
}

TEST(precondition_files_are_required)
{
	example_entry x;
	example_init(&x);
	x.entry.file_count = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "weight files are required for config blob");
	x.entry.files = NULL;
	x.entry.files_present = false;
	CHECK_ERR(project(wl_entry_config_blob, &x.entry), WL_EINVALID,
	          "weight files are required for config blob");
}

TEST(precondition_at_least_one_layer)
{
	example_entry x;
	example_init(&x);
	x.entry.layer_count = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "at least one layer is required");
}

TEST(precondition_layer_digest_must_be_valid)
{
	example_entry x;
	example_init(&x);
	/* "sha256:zz" sorts after the other layer: position 1. */
	x.layers[1].digest = wl_str("sha256:zz");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "layer 1: missing digest");
	x.layers[1].digest = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "layer 0: missing digest");
}

TEST(precondition_layer_size_must_be_positive)
{
	example_entry x;
	example_init(&x);
	x.layers[0].size = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "layer 0 (" A_LAYER_TAR "): invalid size 0");
	x.layers[0].size = 3072;
	x.layers[1].size = -5;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "layer 1 (" A_LAYER_GZ "): invalid size -5");
}

TEST(precondition_layer_uncompressed_size_must_be_positive)
{
	example_entry x;
	example_init(&x);
	x.layers[1].size_uncompressed = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "layer 1 (" A_LAYER_GZ "): invalid uncompressed size 0");
}

TEST(precondition_layer_media_type_is_required)
{
	example_entry x;
	example_init(&x);
	x.layers[0].media_type = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "layer 0 (" A_LAYER_TAR "): missing media type");
}

TEST(preconditions_are_checked_in_order)
{
	example_entry x;
	example_init(&x);
	x.entry.target = wl_str("");
	x.entry.set_digest = wl_str("");
	x.entry.name = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight name is required");
	example_init(&x);
	x.entry.set_digest = wl_str("");
	x.entry.file_count = 0;
	x.entry.layer_count = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight set digest is required");
	example_init(&x);
	x.entry.file_count = 0;
	x.entry.layer_count = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "weight files are required");
}

TEST(preconditions_visit_layers_in_digest_order)
{
	example_entry x;
	example_init(&x);
	/* Stored in reverse order; the tar layer (position 0 by digest) fails
	 * on its media type, the gzip layer (position 1) on its size. */
	wl_layer t = x.layers[0];
	x.layers[0] = x.layers[1];
	x.layers[1] = t;
	x.layers[0].size = 0;
	x.layers[1].media_type = wl_str("");
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID,
	          "layer 0 (" A_LAYER_TAR "): missing media type");
	/* Within one layer: size before uncompressed size before media type. */
	example_init(&x);
	x.layers[0].media_type = wl_str("");
	x.layers[0].size_uncompressed = -1;
	x.layers[0].size = 0;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "invalid size 0");
	x.layers[0].size = 1;
	CHECK_ERR(project(wl_entry_manifest, &x.entry), WL_EINVALID, "invalid uncompressed size -1");
}

TEST(preconditions_also_guard_the_config_blob)
{
	example_entry x;
	example_init(&x);
	x.layers[1].size = 0;
	CHECK_ERR(project(wl_entry_config_blob, &x.entry), WL_EINVALID, "invalid size 0");
}

/* ---- SPEC.md §6.5, §6.6 ---- */

TEST(index_descriptor_with_ref_name_matches_appendix_index)
{
	example_entry x;
	example_init(&x);
	char *d;
	size_t n;
	CHECK_OK(wl_entry_index_descriptor(&d, &n, &x.entry, "demo"));
	int same = n == strlen(A_INDEX_DESCRIPTOR) && memcmp(d, A_INDEX_DESCRIPTOR, n) == 0;
	/* The whole index.json of the appendix: 571 bytes, sha256 3e359d... */
	char index[1024];
	int len = snprintf(index, sizeof index,
	                   "{\"schemaVersion\":2,\"mediaType\":\"" WL_MEDIA_TYPE_INDEX
	                   "\",\"manifests\":[%s]}",
	                   d);
	wl_free(d);
	CHECK(same);
	CHECK_INT(len, 571);
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, index, (size_t)len);
	CHECK_STR(digest, "sha256:3e359d72e15160b76cbaea459acdabc5f86830adb7fbad01d26bfd3e70367b99");
}

TEST(index_descriptor_without_ref_name_has_no_ref_annotation)
{
	example_entry x;
	example_init(&x);
	char *d;
	size_t n;
	CHECK_OK(wl_entry_index_descriptor(&d, &n, &x.entry, NULL));
	int ok = strstr(d, "org.opencontainers") == NULL &&
	         strstr(d, ",\"annotations\":{\"run.cog.weight.name\":\"demo\",") != NULL &&
	         strstr(d, "target") == NULL;
	wl_free(d);
	CHECK(ok);
}

TEST(index_descriptor_size_annotation_only_when_positive)
{
	example_entry x;
	example_init(&x);
	x.entry.size = 0;
	char *d;
	size_t n;
	CHECK_OK(wl_entry_index_descriptor(&d, &n, &x.entry, NULL));
	int ok = strstr(d, "size.uncompressed") == NULL &&
	         strstr(d, "\"run.cog.weight.set-digest\":\"" A_SET_DIGEST "\"},\"platform\"") != NULL;
	wl_free(d);
	CHECK(ok);
}

TEST(index_descriptor_refuses_an_entry_that_cannot_be_projected)
{
	example_entry x;
	example_init(&x);
	x.entry.layer_count = 0;
	char *d = NULL;
	size_t n;
	CHECK_ERR(wl_entry_index_descriptor(&d, &n, &x.entry, "demo"), WL_EINVALID,
	          "at least one layer is required");
}

/* ---- end to end: parsed lockfiles ---- */

TEST(cog_example_digests_are_sha256_of_the_projected_manifests)
{
	const char *names[] = {"managed-weights.lock", "resnet.lock", "resnet-multisource.lock"};
	size_t entries = 0;
	for (size_t i = 0; i < 3; i++) {
		char rel[128];
		snprintf(rel, sizeof rel, "cog-examples/%s", names[i]);
		wl_lock *lock;
		CHECK_OK(case_load(&lock, fixtures_dir, rel));
		for (size_t k = 0; k < lock->entry_count; k++) {
			const wl_entry *e = &lock->entries[k];
			int rc = project(wl_entry_manifest, e);
			int same = rc == 0 && wl_string_equal(e->digest, wl_str(got_digest));
			if (!same)
				printf("  %s %s: %s\n", names[i], e->name.ptr, rc ? wl_error_last()->message : got_digest);
			entries += same;
		}
		wl_lock_free(lock);
	}
	CHECK_INT(entries, 4);
}

/* Each manifest case (`in`, under the conformance suite) lists `<name> <manifest hex> <config hex>` per entry;
 * the name is everything before the last two spaces. */
static int check_manifest_case(const char *in, const char *expect_text, size_t *lines)
{
	wl_lock *lock;
	int rc = case_load(&lock, conformance_dir, in);
	if (rc != 0)
		return rc;
	int bad = 0;
	const char *line = expect_text;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *sp2 = NULL, *sp1 = NULL;
		for (size_t i = 0; i < len; i++)
			if (line[i] == ' ') {
				sp1 = sp2;
				sp2 = line + i;
			}
		if (sp1 == NULL) {
			bad = 1;
			break;
		}
		wl_string name = {line, (size_t)(sp1 - line)};
		char want_manifest[WL_DIGEST_LEN + 1], want_config[WL_DIGEST_LEN + 1];
		snprintf(want_manifest, sizeof want_manifest, "sha256:%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
		snprintf(want_config, sizeof want_config, "sha256:%.*s", (int)(line + len - sp2 - 1), sp2 + 1);
		const wl_entry *e = wl_lock_find(lock, name);
		if (e == NULL || project(wl_entry_manifest, e) != 0 || strcmp(got_digest, want_manifest) != 0 ||
		    project(wl_entry_config_blob, e) != 0 || strcmp(got_digest, want_config) != 0) {
			printf("  %s: entry %.*s differs\n", in, (int)name.len, name.ptr);
			bad = 1;
		}
		(*lines)++;
		line += len + (end != NULL);
	}
	wl_lock_free(lock);
	return bad ? WL_EINVALID : 0;
}

TEST(conformance_manifest_cases_hash_as_expected)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/cases/manifest", conformance_dir);
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t cases = 0, lines = 0, failed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".in") != 0)
			continue;
		char in[PATH_MAX], rel[PATH_MAX];
		snprintf(in, sizeof in, "cases/manifest/%s", de->d_name);
		snprintf(rel, sizeof rel, "cases/manifest/%.*s.expect", (int)(len - 3), de->d_name);
		char *expect = case_read(conformance_dir, rel, NULL);
		if (expect == NULL)
			continue;
		cases++;
		if (check_manifest_case(in, expect, &lines) != 0)
			failed++;
		free(expect);
	}
	closedir(d);
	CHECK(cases >= 10);
	CHECK(lines >= cases);
	CHECK_INT(failed, 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	int have_fixtures = cases_find(argv[0]);
	RUN(config_blob_is_compact_json_of_the_file_index);
	RUN(config_blob_sorts_files_by_path_without_touching_the_entry);
	RUN(config_blob_file_sort_is_stable);
	RUN(manifest_is_the_exact_bytes_whose_sha256_is_the_entry_digest);
	RUN(manifest_sorts_layers_by_digest_without_touching_the_entry);
	RUN(manifest_strings_are_escaped_like_go);
	RUN(manifest_of_cog_resnet50_matches_its_digest);
	RUN(precondition_name_is_required);
	RUN(precondition_target_is_required);
	RUN(precondition_set_digest_is_required);
	RUN(precondition_files_are_required);
	RUN(precondition_at_least_one_layer);
	RUN(precondition_layer_digest_must_be_valid);
	RUN(precondition_layer_size_must_be_positive);
	RUN(precondition_layer_uncompressed_size_must_be_positive);
	RUN(precondition_layer_media_type_is_required);
	RUN(preconditions_are_checked_in_order);
	RUN(preconditions_visit_layers_in_digest_order);
	RUN(preconditions_also_guard_the_config_blob);
	RUN(index_descriptor_with_ref_name_matches_appendix_index);
	RUN(index_descriptor_without_ref_name_has_no_ref_annotation);
	RUN(index_descriptor_size_annotation_only_when_positive);
	RUN(index_descriptor_refuses_an_entry_that_cannot_be_projected);
	if (!have_fixtures)
		printf("FAIL test fixtures not found in the source tree (tests/fixtures)\n");
	RUN(cog_example_digests_are_sha256_of_the_projected_manifests);
	RUN_CONFORMANCE(conformance_manifest_cases_hash_as_expected);
	wl_free(got);
	return harness_summary("oci") || !have_fixtures;
}
