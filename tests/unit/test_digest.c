/*
 * test_digest.c - sha256 digests, the set digest (SPEC.md §4.6) and
 * fingerprint parts (SPEC.md §4.7).
 */
#include "harness.h"

#include "appendix_a.h"

#define EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

TEST(sha256_digest_is_prefixed_lowercase_hex)
{
	char d[WL_DIGEST_LEN + 1];
	wl_sha256_digest(d, "# demo\n", 7);
	CHECK_STR(d, A_FILE_README);
	wl_sha256_digest(d, NULL, 0);
	CHECK_STR(d, EMPTY_SHA256);
}

TEST(digest_valid_requires_sha256_and_64_lowercase_hex)
{
	CHECK(wl_digest_valid(wl_str(A_DIGEST)));
	CHECK(!wl_digest_valid(wl_str("")));
	CHECK(!wl_digest_valid(wl_str("sha256:")));
	/* uppercase hex */
	CHECK(!wl_digest_valid(wl_str("sha256:D79DBBD85AA90A2B4F39196D6DF9BAD049BC3A3E2B19CC1DED0B98C456B08091")));
	/* 63 and 65 digits */
	CHECK(!wl_digest_valid(wl_str("sha256:d79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b0809")));
	CHECK(!wl_digest_valid(wl_str("sha256:d79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b080911")));
	/* another algorithm, a non-hex digit, a missing prefix */
	CHECK(!wl_digest_valid(wl_str("sha512:d79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b08091")));
	CHECK(!wl_digest_valid(wl_str("sha256:g79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b08091")));
	CHECK(!wl_digest_valid(wl_str("d79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b08091abcdefg")));
}

TEST(set_digest_of_empty_set_is_sha256_of_nothing)
{
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, NULL, 0));
	CHECK_STR(d, EMPTY_SHA256);
}

TEST(set_digest_sorts_lines_by_hash_not_by_path)
{
	/* Appendix A's fingerprint: the four files, given in path order. */
	wl_dirhash_part parts[] = {
		{wl_str("README.md"), wl_str(A_FILE_README)},
		{wl_str("config.json"), wl_str(A_FILE_CONFIG)},
		{wl_str("model.safetensors"), wl_str(A_FILE_MODEL)},
		{wl_str("tokenizer/vocab.txt"), wl_str(A_FILE_VOCAB)},
	};
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, parts, 4));
	CHECK_STR(d, A_FINGERPRINT);
	CHECK_OK(wl_dirhash(d, parts + 1, 3));
	CHECK_STR(d, A_SET_DIGEST);
}

TEST(set_digest_does_not_depend_on_input_order)
{
	wl_dirhash_part parts[] = {
		{wl_str("tokenizer/vocab.txt"), wl_str(A_FILE_VOCAB)},
		{wl_str("model.safetensors"), wl_str(A_FILE_MODEL)},
		{wl_str("config.json"), wl_str(A_FILE_CONFIG)},
	};
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, parts, 3));
	CHECK_STR(d, A_SET_DIGEST);
}

/* Expected values below were computed with python3 hashlib from the rule. */
TEST(set_digest_digest_without_colon_gives_empty_hex)
{
	wl_dirhash_part parts[] = {
		{wl_str("b"), wl_str("nocolon")},
		{wl_str("a"), wl_str("sha256:ff")},
	};
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, parts, 2));
	CHECK_STR(d, "sha256:5e09130a65f322e6f13e90b748fa241239f4817d2c70cb401368cde8aa05bf30");
}

TEST(set_digest_hex_is_text_after_first_colon)
{
	wl_dirhash_part parts[] = {{wl_str("a"), wl_str("sha256:ab:cd")}};
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, parts, 1));
	CHECK_STR(d, "sha256:08fec2fe608a6ffd2f63bc08596806292b4ddf406756035b882b6597e17a4260");
}

TEST(set_digest_compares_whole_lines_when_hex_lengths_differ)
{
	/* Lines "abc  x", "ab  y", "ab   z", "ab  w": the separator takes part. */
	wl_dirhash_part parts[] = {
		{wl_str("x"), wl_str("md5:abc")},
		{wl_str("y"), wl_str("x:ab")},
		{wl_str("z"), wl_str("q:ab ")},
		{wl_str("w"), wl_str("q:ab")},
	};
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(d, parts, 4));
	CHECK_STR(d, "sha256:6cf5ae70c24acc60844a7497d90be2b13fcc7050b28be21077c561effb80d2fc");
}

TEST(set_digest_of_100000_files)
{
	size_t n = 100000;
	wl_dirhash_part *parts = calloc(n, sizeof *parts);
	char *paths = malloc(n * 32), *digests = malloc(n * (WL_DIGEST_LEN + 1));
	CHECK(parts && paths && digests);
	for (size_t i = 0; i < n; i++) {
		char num[24];
		int k = snprintf(num, sizeof num, "%zu", i);
		char *d = digests + i * (WL_DIGEST_LEN + 1);
		wl_sha256_digest(d, num, (size_t)k);
		char *p = paths + i * 32;
		snprintf(p, 32, "dir%zu/file%06zu.bin", i % 97, i);
		parts[i].path = wl_str(p);
		parts[i].digest = wl_str(d);
	}
	char d[WL_DIGEST_LEN + 1];
	int rc = wl_dirhash(d, parts, n);
	free(parts);
	free(paths);
	free(digests);
	CHECK_OK(rc);
	CHECK_STR(d, "sha256:60d2162fa5c30a40b2b81afdaad3815246a84151a95f0e905db491910c67632d");
}

TEST(entry_set_digest_normalizes_the_entry_first)
{
	example_entry x;
	example_init(&x);
	wl_file t = x.files[0];
	x.files[0] = x.files[2];
	x.files[2] = t;
	wl_layer l = x.layers[0];
	x.layers[0] = x.layers[1];
	x.layers[1] = l;
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_entry_set_digest(d, &x.entry));
	CHECK_STR(d, A_SET_DIGEST);
	CHECK_STR(x.files[0].path.ptr, "config.json");
	CHECK_STR(x.files[2].path.ptr, "tokenizer/vocab.txt");
	CHECK_STR(x.layers[0].digest.ptr, A_LAYER_TAR);
}

TEST(set_digest_ignores_sizes_and_layers)
{
	example_entry x;
	example_init(&x);
	x.files[0].size = 1;
	x.files[1].layer = wl_str("sha256:00");
	char d[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_entry_set_digest(d, &x.entry));
	CHECK_STR(d, A_SET_DIGEST);
}

TEST(fingerprint_scheme_is_text_before_first_colon)
{
	wl_string s;
	CHECK(wl_fingerprint_scheme(&s, wl_str("commit:34c2154c194f829b11125337b98c8f5f9965ff19")));
	CHECK_MEM(s.ptr, s.len, "commit");
	CHECK(wl_fingerprint_scheme(&s, wl_str("timestamp:2026-05-04T12:00:00Z")));
	CHECK_MEM(s.ptr, s.len, "timestamp");
	CHECK(wl_fingerprint_scheme(&s, wl_str(":x")));
	CHECK_INT(s.len, 0);
}

TEST(fingerprint_without_colon_or_empty_is_malformed)
{
	wl_string s;
	CHECK(!wl_fingerprint_scheme(&s, wl_str("")));
	CHECK(!wl_fingerprint_scheme(&s, wl_str("sha256")));
	CHECK(!wl_fingerprint_value(&s, wl_str("")));
	CHECK(!wl_fingerprint_value(&s, wl_str("abc")));
}

TEST(fingerprint_value_is_text_after_first_colon)
{
	wl_string s;
	CHECK(wl_fingerprint_value(&s, wl_str("timestamp:2026-05-04T12:00:00Z")));
	CHECK_MEM(s.ptr, s.len, "2026-05-04T12:00:00Z");
	CHECK(wl_fingerprint_value(&s, wl_str(A_FINGERPRINT)));
	CHECK_MEM(s.ptr, s.len, A_FINGERPRINT + 7);
	CHECK(wl_fingerprint_value(&s, wl_str("etag:")));
	CHECK_INT(s.len, 0);
}

/* ---- the sort behind the set digest, against a naive version ---- */

#include <openssl/sha.h>

typedef struct naive_line {
	char bytes[96];
	size_t len;
} naive_line;

static int naive_cmp(const void *x, const void *y)
{
	const naive_line *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->bytes, b->bytes, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

TEST(set_digest_sorts_whole_lines_bytewise_whatever_their_shape)
{
	/* Short, missing and shared-prefix hex parts, NUL bytes and empty
	 * paths: the lines must sort exactly as their joined bytes. */
	enum { N = 400 };
	static char hexes[N][24], paths[N][16];
	static wl_dirhash_part parts[N];
	static naive_line lines[N];
	unsigned seed = 12345;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245 + 12345;
		int hex_len = (int)(seed >> 16) % 12; /* 0..11, often shorter than 8 */
		int path_len = (int)(seed >> 8) % 6;
		size_t hl = 0;
		hexes[i][hl++] = 's';
		hexes[i][hl++] = ':';
		for (int k = 0; k < hex_len; k++) {
			seed = seed * 1103515245 + 12345;
			hexes[i][hl++] = "0a "[(seed >> 16) % 3]; /* few symbols: long shared prefixes */
		}
		for (int k = 0; k < path_len; k++) {
			seed = seed * 1103515245 + 12345;
			paths[i][k] = "\0a "[(seed >> 16) % 3];
		}
		bool no_colon = (seed >> 20) % 7 == 0;
		parts[i].digest = no_colon ? (wl_string){hexes[i] + 2, hl - 2} : (wl_string){hexes[i], hl};
		parts[i].path = (wl_string){paths[i], (size_t)path_len};
		naive_line *l = &lines[i];
		size_t h = no_colon ? 0 : hl - 2; /* the hex part follows the first ':' */
		memcpy(l->bytes, no_colon ? "" : hexes[i] + 2, h);
		memcpy(l->bytes + h, "  ", 2);
		memcpy(l->bytes + h + 2, paths[i], (size_t)path_len);
		l->len = h + 2 + (size_t)path_len;
	}
	qsort(lines, N, sizeof lines[0], naive_cmp);
	static unsigned char joined[N * 97];
	size_t jl = 0;
	for (int i = 0; i < N; i++) {
		if (i)
			joined[jl++] = '\n';
		memcpy(joined + jl, lines[i].bytes, lines[i].len);
		jl += lines[i].len;
	}
	unsigned char md[32];
	SHA256(joined, jl, md);
	char want[WL_DIGEST_LEN + 1] = "sha256:";
	for (int i = 0; i < 32; i++)
		snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
	char got[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_dirhash(got, parts, N));
	CHECK_STR(got, want);
}

int main(void)
{
	RUN(set_digest_sorts_whole_lines_bytewise_whatever_their_shape);
	RUN(sha256_digest_is_prefixed_lowercase_hex);
	RUN(digest_valid_requires_sha256_and_64_lowercase_hex);
	RUN(set_digest_of_empty_set_is_sha256_of_nothing);
	RUN(set_digest_sorts_lines_by_hash_not_by_path);
	RUN(set_digest_does_not_depend_on_input_order);
	RUN(set_digest_digest_without_colon_gives_empty_hex);
	RUN(set_digest_hex_is_text_after_first_colon);
	RUN(set_digest_compares_whole_lines_when_hex_lengths_differ);
	RUN(set_digest_of_100000_files);
	RUN(entry_set_digest_normalizes_the_entry_first);
	RUN(set_digest_ignores_sizes_and_layers);
	RUN(fingerprint_scheme_is_text_before_first_colon);
	RUN(fingerprint_without_colon_or_empty_is_malformed);
	RUN(fingerprint_value_is_text_after_first_colon);
	return harness_summary("digest");
}
