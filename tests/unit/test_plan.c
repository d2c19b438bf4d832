/*
 * test_plan.c - the layer plan (SPEC.md §11.2) and the envelope (§11.6),
 * one test per rule.
 */
#include "harness.h"
#include "pack_fixture.h"

#include <libdeflate.h>

#define MIB ((int64_t)1 << 20)

static wl_plan *plan_of(const wl_source_file *files, size_t n, int64_t file_max, int64_t size_max)
{
	wl_pack_options o = {file_max, size_max};
	wl_plan *p = NULL;
	if (wl_plan_layers(&p, files, n, &o) != 0)
		return NULL;
	return p;
}

/* The path of file `k` of layer `l`. */
#define PATH_OF(fs, pl, l, k) ((fs)[(pl)->layers[l].files[k]].path.ptr)

TEST(small_is_strictly_below_bundle_file_max)
{
	wl_source_file f[] = {fx_file("a.txt", 64 * MIB - 1), fx_file("b.txt", 64 * MIB)};
	wl_plan *p = plan_of(f, 2, 0, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 2);
	CHECK(p->layers[0].bundle);
	CHECK_INT(p->layers[0].file_count, 1);
	CHECK_STR(PATH_OF(f, p, 0, 0), "a.txt");
	CHECK(!p->layers[1].bundle);
	CHECK_STR(PATH_OF(f, p, 1, 0), "b.txt");
	wl_plan_free(p);
}

TEST(exactly_64_mib_is_large)
{
	wl_source_file f[] = {fx_file("w.safetensors", 67108864)};
	wl_plan *p = plan_of(f, 1, 0, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 1);
	CHECK(!p->layers[0].bundle);
	CHECK(!p->layers[0].gzip);
	CHECK_INT(p->layers[0].size_uncompressed, 67108864);
	wl_plan_free(p);
}

TEST(bundle_closes_when_total_plus_size_exceeds_max)
{
	/* 60 + 40 = 100 does not exceed 100; the next byte does. */
	wl_source_file f[] = {fx_file("a", 60), fx_file("b", 40), fx_file("c", 1), fx_file("d", 99),
	                      fx_file("e", 1)};
	wl_plan *p = plan_of(f, 5, 1000, 100);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 3);
	CHECK_INT(p->layers[0].file_count, 2);
	CHECK_INT(p->layers[0].size_uncompressed, 100);
	CHECK_INT(p->layers[1].file_count, 2);
	CHECK_STR(PATH_OF(f, p, 1, 0), "c");
	CHECK_STR(PATH_OF(f, p, 1, 1), "d");
	CHECK_INT(p->layers[2].file_count, 1);
	CHECK_STR(PATH_OF(f, p, 2, 0), "e");
	wl_plan_free(p);
}

TEST(zero_size_files_never_split_a_bundle)
{
	/* A full bundle still takes empty files; a bundle holding only empty
	 * files has total 0, so even an oversized small file joins it. */
	wl_source_file f[] = {fx_file("a", 100), fx_file("b", 0), fx_file("c", 0), fx_file("d", 5)};
	wl_plan *p = plan_of(f, 4, 1000, 100);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 2);
	CHECK_INT(p->layers[0].file_count, 3);
	CHECK_INT(p->layers[1].file_count, 1);
	wl_plan_free(p);

	wl_source_file g[] = {fx_file("a", 0), fx_file("b", 500), fx_file("c", 1)};
	p = plan_of(g, 3, 1000, 100);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 2);
	CHECK_INT(p->layers[0].file_count, 2);
	CHECK_INT(p->layers[0].size_uncompressed, 500);
	CHECK_STR(PATH_OF(g, p, 1, 0), "c");
	wl_plan_free(p);
}

TEST(small_file_larger_than_bundle_size_max_joins_an_empty_bundle)
{
	wl_source_file f[] = {fx_file("a", 10), fx_file("b", 500), fx_file("c", 10)};
	wl_plan *p = plan_of(f, 3, 1000, 100);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 3);
	for (size_t i = 0; i < 3; i++) {
		CHECK(p->layers[i].bundle);
		CHECK(p->layers[i].gzip);
		CHECK_INT(p->layers[i].file_count, 1);
	}
	CHECK_INT(p->layers[1].size_uncompressed, 500);
	wl_plan_free(p);
}

TEST(bundles_first_then_standalone_layers_in_path_order)
{
	wl_source_file f[] = {fx_file("a/big2.bin", 70), fx_file("a/small", 1), fx_file("b/big1.txt", 80),
	                      fx_file("c", 2), fx_file("d.pt", 64)};
	wl_plan *p = plan_of(f, 5, 64, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 4);
	CHECK(p->layers[0].bundle);
	CHECK_INT(p->layers[0].file_count, 2);
	CHECK_STR(PATH_OF(f, p, 0, 0), "a/small");
	CHECK_STR(PATH_OF(f, p, 0, 1), "c");
	CHECK_STR(PATH_OF(f, p, 1, 0), "a/big2.bin");
	CHECK_STR(PATH_OF(f, p, 2, 0), "b/big1.txt");
	CHECK_STR(PATH_OF(f, p, 3, 0), "d.pt");
	wl_plan_free(p);
}

TEST(small_files_are_bundled_in_byte_wise_path_order)
{
	/* Given out of order; 'Z' (0x5a) sorts before 'a', "a" before "a/b". */
	wl_source_file f[] = {fx_file("b", 1), fx_file("a/b", 1), fx_file("Z", 1), fx_file("a", 1)};
	wl_plan *p = plan_of(f, 4, 0, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 1);
	CHECK_STR(PATH_OF(f, p, 0, 0), "Z");
	CHECK_STR(PATH_OF(f, p, 0, 1), "a");
	CHECK_STR(PATH_OF(f, p, 0, 2), "a/b");
	CHECK_STR(PATH_OF(f, p, 0, 3), "b");
	wl_plan_free(p);
}

TEST(media_type_by_lower_cased_extension_of_last_component)
{
	static const struct {
		const char *path;
		bool gzip;
	} cases[] = {
		{"model.safetensors", false}, {"x.BIN", false},      {"w.GGuf", false},
		{"m.onnx", false},            {"t.parquet", false},  {"c.pt", false},
		{"c.PTH", false},             {"a/b.tar.gz", true},  {"dir/.bin", false},
		{"noext", true},              {"d.bin/noext", true}, {"model.safetensors.txt", true},
		{"x.bin2", true},             {"x.", true},          {"x.p", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		wl_source_file f[] = {fx_file(cases[i].path, 10)};
		wl_plan *p = plan_of(f, 1, 5, 0);
		CHECK(p != NULL);
		if (p->layers[0].gzip != cases[i].gzip) {
			HARNESS_FAIL("%s: gzip %d, want %d", cases[i].path, p->layers[0].gzip, cases[i].gzip);
			wl_plan_free(p);
			return;
		}
		wl_plan_free(p);
	}
}

TEST(every_bundle_is_gzip_even_with_incompressible_extensions)
{
	wl_source_file f[] = {fx_file("a.bin", 1), fx_file("b.safetensors", 1)};
	wl_plan *p = plan_of(f, 2, 0, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 1);
	CHECK(p->layers[0].gzip);
	CHECK(p->layers[0].bundle);
	wl_plan_free(p);
}

TEST(gzip_level_9_for_several_files_else_6)
{
	/* A bundle of one small file gets 6, as a standalone layer does. */
	wl_source_file f[] = {fx_file("a", 3), fx_file("b", 3), fx_file("c", 9), fx_file("d.txt", 50)};
	wl_plan *p = plan_of(f, 4, 10, 8);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 3);
	CHECK_INT(p->layers[0].file_count, 2);
	CHECK_INT(p->layers[0].gzip_level, 9);
	CHECK_INT(p->layers[1].file_count, 1);
	CHECK(p->layers[1].bundle);
	CHECK_INT(p->layers[1].gzip_level, 6);
	CHECK(!p->layers[2].bundle);
	CHECK(p->layers[2].gzip);
	CHECK_INT(p->layers[2].gzip_level, 6);
	wl_plan_free(p);
}

TEST(size_uncompressed_is_the_sum_of_file_sizes)
{
	wl_source_file f[] = {fx_file("a", 7), fx_file("b", 11), fx_file("c", 0), fx_file("big", 1000)};
	wl_plan *p = plan_of(f, 4, 100, 0);
	CHECK(p != NULL);
	CHECK_INT(p->layer_count, 2);
	CHECK_INT(p->layers[0].size_uncompressed, 18);
	CHECK_INT(p->layers[1].size_uncompressed, 1000);
	wl_plan_free(p);
}

TEST(zero_thresholds_mean_the_defaults)
{
	wl_source_file f[] = {fx_file("a", 64 * MIB - 1), fx_file("b", 64 * MIB - 1), fx_file("c", 64 * MIB - 1),
	                      fx_file("d", 64 * MIB - 1), fx_file("e", 64 * MIB - 1)};
	wl_plan *p = NULL;
	CHECK_OK(wl_plan_layers(&p, f, 5, NULL));
	/* Four files fit in 256 MiB, the fifth starts a new bundle. */
	CHECK_INT(p->layer_count, 2);
	CHECK_INT(p->layers[0].file_count, 4);
	wl_plan_free(p);
}

TEST(empty_file_set_is_invalid)
{
	wl_plan *p = (wl_plan *)1;
	CHECK_ERR(wl_plan_layers(&p, NULL, 0, NULL), WL_EINVALID, "inventory is empty");
	CHECK(p == NULL);
	wl_pack_options bad = {-1, 0};
	wl_source_file f[] = {fx_file("a", 1)};
	CHECK_ERR(wl_plan_layers(&p, f, 1, &bad), WL_EINVALID, "negative");
	wl_plan_free(NULL);
}

/* SPEC.md Appendix A, exactly. */
#define A_ENVELOPE                                                                                     \
	"{\"producer\":\"weightslock\",\"revision\":1,\"compressor\":\"zlib 1.2.13\",\"gzipBlockSize\":0,"    \
	"\"bundleFileMax\":64,\"bundleSizeMax\":268435456,\"gzipLevelBundle\":9,\"gzipLevelLarge\":6,"        \
	"\"incompressibleExts\":[\".bin\",\".gguf\",\".onnx\",\".parquet\",\".pt\",\".pth\",\".safetensors\"]," \
	"\"mediaTypeCompressed\":\"application/vnd.oci.image.layer.v1.tar+gzip\","                          \
	"\"mediaTypeRaw\":\"application/vnd.oci.image.layer.v1.tar\"}"

TEST(envelope_reproduces_appendix_a_with_block_size_0)
{
	wl_pack_options o = {64, 0};
	char *json;
	size_t len;
	CHECK_OK(wl__envelope_with(&json, &len, &o, 1, "zlib 1.2.13", 0));
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, json, len);
	int same = len == strlen(A_ENVELOPE) && memcmp(json, A_ENVELOPE, len) == 0;
	free(json);
	CHECK(same);
	CHECK_STR(digest, "sha256:09b958decae8510c1da8acadae6bc4c25ec8e1f4222a9d7400535038c425f7dd");
}

TEST(envelope_records_libdeflate_block_size_and_effective_thresholds)
{
	char want[1024];
	snprintf(want, sizeof want,
	         "{\"producer\":\"weightslock\",\"revision\":2,\"compressor\":\"libdeflate %s\",\"gzipBlockSize\":%lld,"
	         "\"bundleFileMax\":67108864,\"bundleSizeMax\":1000,\"gzipLevelBundle\":9,\"gzipLevelLarge\":6,"
	         "\"incompressibleExts\":[\".bin\",\".gguf\",\".onnx\",\".parquet\",\".pt\",\".pth\","
	         "\".safetensors\"],\"mediaTypeCompressed\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	         "\"mediaTypeRaw\":\"application/vnd.oci.image.layer.v1.tar\"}",
	         LIBDEFLATE_VERSION_STRING, (long long)WL_GZIP_BLOCK_SIZE);
	CHECK_INT(WL_PACKER_REVISION, 2);
	CHECK_INT(WL_GZIP_BLOCK_SIZE, 1048576);
	wl_pack_options o = {0, 1000};
	char *json;
	size_t len;
	CHECK_OK(wl_envelope(&json, &len, &o));
	char got_digest[WL_DIGEST_LEN + 1], want_digest[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_envelope_digest(got_digest, &o));
	wl_sha256_digest(want_digest, want, strlen(want));
	int same = len == strlen(want) && memcmp(json, want, len) == 0;
	if (!same)
		HARNESS_FAIL("envelope is %s", json);
	wl_free(json);
	if (!same)
		return;
	CHECK_STR(got_digest, want_digest);
	/* Never Cog's digest. */
	CHECK(strcmp(got_digest, "sha256:ce2d53f8dd962ace393450e0abadbe227304897be87753a503b61f9c8525726e") != 0);
}

/* SPEC.md §11.6: Cog's envelope bytes and the digest in every Cog v0.19.3
 * lockfile; other thresholds change the digest. */
TEST(cog_envelope_is_cogs_bytes_and_digest)
{
	const char *want = "{\"bundleFileMax\":67108864,\"bundleSizeMax\":268435456,\"gzipLevelBundle\":9,"
	                   "\"gzipLevelLarge\":-1,\"incompressibleExts\":[\".bin\",\".gguf\",\".onnx\",\".parquet\","
	                   "\".pt\",\".pth\",\".safetensors\"],\"mediaTypeCompressed\":"
	                   "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"mediaTypeRaw\":"
	                   "\"application/vnd.oci.image.layer.v1.tar\",\"revision\":1}";
	char *json;
	size_t len;
	CHECK_OK(wl_cog_envelope(&json, &len, NULL));
	int same = len == strlen(want) && memcmp(json, want, len) == 0;
	if (!same)
		HARNESS_FAIL("Cog's envelope is %s", json);
	wl_free(json);
	if (!same)
		return;
	char d[WL_DIGEST_LEN + 1], other[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_cog_envelope_digest(d, NULL));
	CHECK_STR(d, "sha256:ce2d53f8dd962ace393450e0abadbe227304897be87753a503b61f9c8525726e");
	wl_pack_options small = {64, 0};
	CHECK_OK(wl_cog_envelope_digest(other, &small));
	CHECK(strcmp(other, d) != 0);
	CHECK_OK(wl_cog_envelope(&json, &len, &small));
	const char *head = "{\"bundleFileMax\":64,\"bundleSizeMax\":268435456,";
	CHECK(len > strlen(head) && memcmp(json, head, strlen(head)) == 0);
	wl_free(json);
	wl_pack_options bad = {-1, 0};
	CHECK_ERR(wl_cog_envelope_digest(d, &bad), WL_EINVALID, "negative");
}

TEST(envelope_rejects_negative_thresholds)
{
	wl_pack_options o = {0, -5};
	char d[WL_DIGEST_LEN + 1];
	CHECK_ERR(wl_envelope_digest(d, &o), WL_EINVALID, "negative");
}

int main(void)
{
	RUN(cog_envelope_is_cogs_bytes_and_digest);
	RUN(small_is_strictly_below_bundle_file_max);
	RUN(exactly_64_mib_is_large);
	RUN(bundle_closes_when_total_plus_size_exceeds_max);
	RUN(zero_size_files_never_split_a_bundle);
	RUN(small_file_larger_than_bundle_size_max_joins_an_empty_bundle);
	RUN(bundles_first_then_standalone_layers_in_path_order);
	RUN(small_files_are_bundled_in_byte_wise_path_order);
	RUN(media_type_by_lower_cased_extension_of_last_component);
	RUN(every_bundle_is_gzip_even_with_incompressible_extensions);
	RUN(gzip_level_9_for_several_files_else_6);
	RUN(size_uncompressed_is_the_sum_of_file_sizes);
	RUN(zero_thresholds_mean_the_defaults);
	RUN(empty_file_set_is_invalid);
	RUN(envelope_reproduces_appendix_a_with_block_size_0);
	RUN(envelope_records_libdeflate_block_size_and_effective_thresholds);
	RUN(envelope_rejects_negative_thresholds);
	return harness_summary("plan");
}
