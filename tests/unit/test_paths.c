/*
 * test_paths.c - SPEC.md §5 (file paths, weight names, cleaning) and
 * Appendix B (Go's %q). Expected values come from the SPEC's examples and
 * from Go's documented path.Clean and strconv.Quote behaviour.
 */
#include "harness.h"

static int clean_is(const char *in, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	if (wl_path_clean(&out, &len, wl_str(in)) != 0)
		return 0;
	int ok = len == strlen(want) && memcmp(out, want, len) == 0 && out[len] == '\0';
	if (!ok)
		printf("  path.Clean(\"%s\") = \"%s\", want \"%s\"\n", in, out, want);
	wl_free(out);
	return ok;
}

#define CHECK_CLEAN(in, want) CHECK(clean_is(in, want))

TEST(clean_spec_examples)
{
	CHECK_CLEAN("/src//w/", "/src/w");
	CHECK_CLEAN("/a/b/../c", "/a/c");
	CHECK_CLEAN("/..", "/");
	CHECK_CLEAN("a/../..", "..");
	CHECK_CLEAN("./w", "w");
}

TEST(clean_runs_of_slashes_become_one)
{
	CHECK_CLEAN("abc//def//ghi", "abc/def/ghi");
	CHECK_CLEAN("//abc", "/abc");
	CHECK_CLEAN("///abc", "/abc");
	CHECK_CLEAN("//abc//", "/abc");
	CHECK_CLEAN("abc//", "abc");
}

TEST(clean_drops_dot_components)
{
	CHECK_CLEAN("abc/./def", "abc/def");
	CHECK_CLEAN("/./abc/def", "/abc/def");
	CHECK_CLEAN("abc/.", "abc");
	CHECK_CLEAN("./", ".");
	CHECK_CLEAN(".", ".");
}

TEST(clean_removes_dotdot_with_previous_component)
{
	CHECK_CLEAN("abc/def/ghi/../jkl", "abc/def/jkl");
	CHECK_CLEAN("abc/def/../ghi/../jkl", "abc/jkl");
	CHECK_CLEAN("abc/def/..", "abc");
	CHECK_CLEAN("abc/def/../..", ".");
	CHECK_CLEAN("abc/./../def", "def");
	CHECK_CLEAN("abc//./../def", "def");
}

TEST(clean_keeps_leading_dotdot_of_relative_path)
{
	CHECK_CLEAN("..", "..");
	CHECK_CLEAN("../", "..");
	CHECK_CLEAN("../..", "../..");
	CHECK_CLEAN("../../abc", "../../abc");
	CHECK_CLEAN("abc/def/../../..", "..");
	CHECK_CLEAN("abc/def/../../../ghi/jkl/../../../mno", "../../mno");
	CHECK_CLEAN("abc/../../././../def", "../../def");
}

TEST(clean_drops_dotdot_at_start_of_rooted_path)
{
	CHECK_CLEAN("/../", "/");
	CHECK_CLEAN("/abc/def/../..", "/");
	CHECK_CLEAN("/abc/def/../../..", "/");
	CHECK_CLEAN("/../../x", "/x");
}

TEST(clean_removes_trailing_slash_unless_root)
{
	CHECK_CLEAN("/", "/");
	CHECK_CLEAN("abc/", "abc");
	CHECK_CLEAN("abc/def/", "abc/def");
	CHECK_CLEAN("/abc/def/", "/abc/def");
}

TEST(clean_empty_becomes_dot)
{
	CHECK_CLEAN("", ".");
	char *out = NULL;
	size_t len = 9;
	CHECK_OK(wl_path_clean(&out, &len, (wl_string){NULL, 0}));
	CHECK_MEM(out, len, ".");
	wl_free(out);
}

TEST(clean_leaves_names_with_dots_alone)
{
	CHECK_CLEAN("...", "...");
	CHECK_CLEAN("..a/b", "..a/b");
	CHECK_CLEAN("a../.b", "a../.b");
	CHECK_CLEAN("abc", "abc");
	CHECK_CLEAN("/abc", "/abc");
}

/* ---- §5.1 file paths ---- */

static int valid(const char *p, size_t n)
{
	const char *why = "unset";
	bool ok = wl_path_valid((wl_string){n ? p : NULL, n}, &why);
	if (ok && why != NULL)
		return -1; /* why must be NULL on success */
	if (!ok && (why == NULL || why[0] == '\0'))
		return -1; /* and say something on failure */
	return ok ? 1 : 0;
}

#define VALID(lit) valid(lit, sizeof(lit) - 1)

TEST(path_valid_accepts_ordinary_relative_paths)
{
	CHECK_INT(VALID("a"), 1);
	CHECK_INT(VALID("a/b/c.safetensors"), 1);
	CHECK_INT(VALID("dir with space/x.bin"), 1);
	CHECK_INT(VALID("..a/b.."), 1);
	CHECK_INT(VALID(".gitattributes"), 1);
	CHECK_INT(VALID("unet/\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9.md"), 1);
	CHECK(wl_path_valid(wl_str("a"), NULL));
}

TEST(path_valid_rejects_empty)
{
	CHECK_INT(VALID(""), 0);
}

TEST(path_valid_rejects_invalid_utf8)
{
	CHECK_INT(VALID("a\xff"), 0);
	CHECK_INT(VALID("\xc3"), 0);
	CHECK_INT(VALID("\xed\xa0\x80"), 0); /* a surrogate */
	CHECK_INT(VALID("\xc0\xaf"), 0);     /* overlong '/' */
}

TEST(path_valid_rejects_absolute_and_dot_slash_start)
{
	CHECK_INT(VALID("/a"), 0);
	CHECK_INT(VALID("./a"), 0);
}

TEST(path_valid_rejects_empty_components)
{
	CHECK_INT(VALID("a//b"), 0);
	CHECK_INT(VALID("a/"), 0);
	CHECK_INT(VALID("/"), 0);
}

TEST(path_valid_rejects_dot_and_dotdot_components)
{
	CHECK_INT(VALID("."), 0);
	CHECK_INT(VALID(".."), 0);
	CHECK_INT(VALID("a/./b"), 0);
	CHECK_INT(VALID("a/../b"), 0);
	CHECK_INT(VALID("a/.."), 0);
	CHECK_INT(VALID("../a"), 0);
}

TEST(path_valid_rejects_nul_backslash_and_controls)
{
	CHECK_INT(VALID("a\0b"), 0);
	CHECK_INT(VALID("a\\b"), 0);
	CHECK_INT(VALID("a\x01"), 0);
	CHECK_INT(VALID("a\nb"), 0);
	CHECK_INT(VALID("a\x1f"), 0);
	CHECK_INT(VALID("a\x7f"), 0);
	CHECK_INT(VALID("a\x20" "b"), 1); /* space is fine */
}

/* ---- §5.2 weight names ---- */

TEST(weight_name_matches_lowercase_alnum_separated_by_single_punct)
{
	CHECK(wl_weight_name_valid(wl_str("a")));
	CHECK(wl_weight_name_valid(wl_str("123")));
	CHECK(wl_weight_name_valid(wl_str("parakeet")));
	CHECK(wl_weight_name_valid(wl_str("my-model.v2_x")));
	CHECK(wl_weight_name_valid(wl_str("resnet-50")));
	CHECK(!wl_weight_name_valid(wl_str("")));
	CHECK(!wl_weight_name_valid(wl_str("A")));
	CHECK(!wl_weight_name_valid(wl_str("My_Model")));
	CHECK(!wl_weight_name_valid(wl_str("a--b")));
	CHECK(!wl_weight_name_valid(wl_str("a-.b")));
	CHECK(!wl_weight_name_valid(wl_str("-a")));
	CHECK(!wl_weight_name_valid(wl_str("a-")));
	CHECK(!wl_weight_name_valid(wl_str("a b")));
	CHECK(!wl_weight_name_valid(wl_str("a/b")));
	CHECK(!wl_weight_name_valid(wl_str("caf\xc3\xa9")));
	CHECK(!wl_weight_name_valid((wl_string){"a\0b", 3}));
}

/* ---- Appendix B %q ---- */

static int quote_is(const char *in, size_t n, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	if (wl_quote(&out, &len, (wl_string){n ? in : NULL, n}) != 0)
		return 0;
	int ok = len == strlen(want) && memcmp(out, want, len) == 0 && out[len] == '\0';
	if (!ok)
		printf("  quote gave %s, want %s\n", out, want);
	wl_free(out);
	return ok;
}

#define CHECK_QUOTE(lit, want) CHECK(quote_is(lit, sizeof(lit) - 1, want))

TEST(quote_wraps_plain_text_in_double_quotes)
{
	CHECK_QUOTE("", "\"\"");
	CHECK_QUOTE("parakeet", "\"parakeet\"");
	CHECK_QUOTE("a b", "\"a b\"");
}

TEST(quote_escapes_quote_and_backslash)
{
	CHECK_QUOTE("a\"b\\c", "\"a\\\"b\\\\c\"");
}

TEST(quote_uses_short_escapes_for_bel_bs_ff_lf_cr_tab_vt)
{
	CHECK_QUOTE("\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\"");
}

TEST(quote_uses_hex_for_other_controls_and_del)
{
	CHECK_QUOTE("\x01", "\"\\x01\"");
	CHECK_QUOTE("\x1b[0m", "\"\\x1b[0m\"");
	CHECK_QUOTE("\x7f", "\"\\x7f\"");
	CHECK_QUOTE("a\0b", "\"a\\x00b\"");
}

TEST(quote_escapes_each_invalid_byte_as_hex)
{
	CHECK_QUOTE("\xff", "\"\\xff\"");
	CHECK_QUOTE("a\xc3", "\"a\\xc3\"");
	CHECK_QUOTE("\xed\xa0\x80", "\"\\xed\\xa0\\x80\""); /* surrogate */
	CHECK_QUOTE("\xc0\xaf", "\"\\xc0\\xaf\"");         /* overlong */
	CHECK_QUOTE("\xe6\x97", "\"\\xe6\\x97\"");         /* truncated */
}

TEST(quote_keeps_printable_non_ascii)
{
	CHECK_QUOTE("\xc3\xa9 \xc3\xbc", "\"\xc3\xa9 \xc3\xbc\"");         /* é ü */
	CHECK_QUOTE("\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\""); /* 日本 */
	CHECK_QUOTE("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");                   /* U+FFFD */
	CHECK_QUOTE("\xe2\x86\x92", "\"\xe2\x86\x92\"");                   /* → */
	CHECK_QUOTE("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");           /* U+1F600 */
}

TEST(quote_escapes_non_printable_bmp_as_u4)
{
	CHECK_QUOTE("\xc2\xa0", "\"\\u00a0\"");     /* no-break space */
	CHECK_QUOTE("\xc2\x85", "\"\\u0085\"");     /* NEL, a C1 control */
	CHECK_QUOTE("\xe2\x80\xa8", "\"\\u2028\""); /* line separator */
	CHECK_QUOTE("\xe2\x80\xa9", "\"\\u2029\""); /* paragraph separator */
	CHECK_QUOTE("\xe2\x80\x8b", "\"\\u200b\""); /* zero width space (Cf) */
	CHECK_QUOTE("\xe3\x80\x80", "\"\\u3000\""); /* ideographic space */
	CHECK_QUOTE("\xef\xbb\xbf", "\"\\ufeff\""); /* BOM (Cf) */
	CHECK_QUOTE("\xee\x80\x80", "\"\\ue000\""); /* private use */
}

TEST(quote_escapes_non_printable_supplementary_as_u8)
{
	CHECK_QUOTE("\xf3\xa0\x80\x81", "\"\\U000e0001\""); /* language tag (Cf) */
	CHECK_QUOTE("\xf3\xb0\x80\x80", "\"\\U000f0000\""); /* private use plane 15 */
}

int main(void)
{
	RUN(clean_spec_examples);
	RUN(clean_runs_of_slashes_become_one);
	RUN(clean_drops_dot_components);
	RUN(clean_removes_dotdot_with_previous_component);
	RUN(clean_keeps_leading_dotdot_of_relative_path);
	RUN(clean_drops_dotdot_at_start_of_rooted_path);
	RUN(clean_removes_trailing_slash_unless_root);
	RUN(clean_empty_becomes_dot);
	RUN(clean_leaves_names_with_dots_alone);
	RUN(path_valid_accepts_ordinary_relative_paths);
	RUN(path_valid_rejects_empty);
	RUN(path_valid_rejects_invalid_utf8);
	RUN(path_valid_rejects_absolute_and_dot_slash_start);
	RUN(path_valid_rejects_empty_components);
	RUN(path_valid_rejects_dot_and_dotdot_components);
	RUN(path_valid_rejects_nul_backslash_and_controls);
	RUN(weight_name_matches_lowercase_alnum_separated_by_single_punct);
	RUN(quote_wraps_plain_text_in_double_quotes);
	RUN(quote_escapes_quote_and_backslash);
	RUN(quote_uses_short_escapes_for_bel_bs_ff_lf_cr_tab_vt);
	RUN(quote_uses_hex_for_other_controls_and_del);
	RUN(quote_escapes_each_invalid_byte_as_hex);
	RUN(quote_keeps_printable_non_ascii);
	RUN(quote_escapes_non_printable_bmp_as_u4);
	RUN(quote_escapes_non_printable_supplementary_as_u8);
	return harness_summary("paths");
}
