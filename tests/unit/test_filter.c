/*
 * test_filter.c - include/exclude filters (SPEC.md §10): go-gitignore's
 * translation step by step, every row of the §10.3 table, the matching
 * rules, the project's policy on regular-expression syntax (§10.4, §8.1)
 * and the zero-survivor message (§10.5). Expected expressions are the
 * SPEC's, or follow from applying its steps by hand; expected matches are
 * the SPEC's, or were checked against the translated expression with an
 * independent regular-expression engine.
 */
#include "harness.h"

/* ---- helpers ---- */

static int translates_to(const char *pattern, size_t len, const char *want)
{
	char *out = NULL;
	size_t out_len = 0;
	if (wl_filter_translate(&out, &out_len, (wl_string){pattern, len}) != 0) {
		printf("  translate(\"%s\") failed: %s\n", pattern, wl_error_last()->message);
		return 0;
	}
	int ok = out_len == strlen(want) && memcmp(out, want, out_len) == 0 && out[out_len] == '\0';
	if (!ok)
		printf("  translate(\"%s\") = \"%s\", want \"%s\"\n", pattern, out, want);
	wl_free(out);
	return ok;
}

#define CHECK_TRANSLATE(pattern, want) CHECK(translates_to(pattern, strlen(pattern), want))

/* Whether `path` passes a filter of one include pattern. */
static int include_passes(const char *pattern, const char *path, size_t path_len)
{
	wl_filter *f = NULL;
	wl_string inc = wl_str(pattern);
	if (wl_filter_new(&f, &inc, 1, NULL, 0) != 0) {
		printf("  filter \"%s\" refused: %s\n", pattern, wl_error_last()->message);
		return -1;
	}
	int r = wl_filter_pass(f, (wl_string){path, path_len});
	wl_filter_free(f);
	return r;
}

static int matches(const char *pattern, const char *path, int want)
{
	int got = include_passes(pattern, path, strlen(path));
	if (got != want)
		printf("  \"%s\" on \"%s\": got %d, want %d\n", pattern, path, got, want);
	return got == want;
}

#define CHECK_MATCH(pattern, path) CHECK(matches(pattern, path, 1))
#define CHECK_NO_MATCH(pattern, path) CHECK(matches(pattern, path, 0))

/* The pattern, as an include or an exclude, is refused with `part`. */
static int refused(const char *pattern, size_t len, const char *part)
{
	wl_string p = {pattern, len};
	for (int as_exclude = 0; as_exclude < 2; as_exclude++) {
		wl_filter *f = (wl_filter *)1;
		int rc = as_exclude ? wl_filter_new(&f, NULL, 0, &p, 1) : wl_filter_new(&f, &p, 1, NULL, 0);
		const char *msg = wl_error_last()->message;
		const char *list = as_exclude ? "exclude pattern " : "include pattern ";
		if (rc != WL_EINVALID || f != NULL || strstr(msg, part) == NULL || strstr(msg, list) != msg) {
			printf("  \"%s\": rc %d, message \"%s\", want \"%s...%s\"\n", pattern, rc, msg, list,
			       part);
			if (rc == 0)
				wl_filter_free(f);
			return 0;
		}
	}
	return 1;
}

#define CHECK_REFUSED(pattern, part) CHECK(refused(pattern, strlen(pattern), part))

/* The pattern, as an include or an exclude, is dropped as Cog drops it
 * (§10.4): the filter compiles, with one warning naming the pattern and
 * `why`; as the only include it selects nothing, as the only exclude it
 * removes nothing. */
static int dropped(const char *pattern, size_t len, const char *why)
{
	wl_string p = {pattern, len};
	for (int as_exclude = 0; as_exclude < 2; as_exclude++) {
		wl_filter *f = NULL;
		int rc = as_exclude ? wl_filter_new(&f, NULL, 0, &p, 1) : wl_filter_new(&f, &p, 1, NULL, 0);
		if (rc != 0) {
			printf("  \"%s\" refused: %s\n", pattern, wl_error_last()->message);
			return 0;
		}
		const char *w = wl_filter_warning(f, 0);
		char want[64];
		snprintf(want, sizeof want, "%s pattern ", as_exclude ? "exclude" : "include");
		bool ok = wl_filter_warning_count(f) == 1 && w != NULL && strstr(w, want) == w &&
		          strstr(w, " dropped: ") != NULL && strstr(w, why) != NULL && strstr(w, "Cog ignores it") &&
		          wl_filter_warning(f, 1) == NULL;
		bool passes = wl_filter_pass(f, wl_str(pattern)) && wl_filter_pass(f, wl_str("a/b.bin"));
		ok = ok && passes == (bool)as_exclude;
		if (!ok)
			printf("  \"%s\": warning \"%s\", passes %d\n", pattern, w ? w : "(none)", passes);
		wl_filter_free(f);
		if (!ok)
			return 0;
	}
	return 1;
}

#define CHECK_DROPPED(pattern, why) CHECK(dropped(pattern, strlen(pattern), why))
#define UNSUPPORTED "is not supported: "

/* ---- §10.3: every row of the table ---- */

TEST(table_expressions)
{
	CHECK_TRANSLATE("*.bin", "^(|.*/)([^/]*)\\.bin(|/.*)$");
	CHECK_TRANSLATE("config.json", "^(|.*/)config\\.json(|/.*)$");
	CHECK_TRANSLATE("onnx/*.bin", "^(|/)onnx/([^/]*)\\.bin(|/.*)$");
	CHECK_TRANSLATE("onnx/model.bin", "^(|.*/)onnx/model\\.bin(|/.*)$");
	CHECK_TRANSLATE("onnx/*", "^(|.*/)onnx/([^/]*)(|/.*)$");
	CHECK_TRANSLATE("onnx/", "^(|.*/)onnx/(|.*)$");
	CHECK_TRANSLATE("onnx", "^(|.*/)onnx(|/.*)$");
	CHECK_TRANSLATE("/model.bin", "^(|/)model\\.bin(|/.*)$");
	CHECK_TRANSLATE("**/*.safetensors", "^(|.*/)(|.*/)([^/]*)\\.safetensors(|/.*)$");
	CHECK_TRANSLATE("x/**/*.json", "^(|/)x(/|/.+/)([^/]*)\\.json(|/.*)$");
	CHECK_TRANSLATE("a/**/b", "^(|.*/)a(/|/.+/)b(|/.*)$");
	CHECK_TRANSLATE("abc/**", "^(|.*/)abc(|/.*)(|/.*)$");
	CHECK_TRANSLATE("a/*/b", "^(|.*/)a/([^/]*)/b(|/.*)$");
	CHECK_TRANSLATE("*.BIN", "^(|.*/)([^/]*)\\.BIN(|/.*)$");
	CHECK_TRANSLATE("model-0000?-of-00003.safetensors",
	                "^(|.*/)model-0000\\?-of-00003\\.safetensors(|/.*)$");
	CHECK_TRANSLATE("[ab].txt", "^(|.*/)[ab]\\.txt(|/.*)$");
	CHECK_TRANSLATE("a+b.txt", "^(|.*/)a+b\\.txt(|/.*)$");
	CHECK_TRANSLATE("model(1).bin", "^(|.*/)model(1)\\.bin(|/.*)$");
	CHECK_TRANSLATE("a|b", "^(|.*/)a|b(|/.*)$");
	CHECK_TRANSLATE("^a", "^(|.*/)^a(|/.*)$");
	CHECK_TRANSLATE("#x", "");
}

TEST(table_star_bin)
{
	CHECK_MATCH("*.bin", "x.bin");
	CHECK_MATCH("*.bin", "a/b/x.bin");
	CHECK_MATCH("*.bin", "x.bin/y");
	CHECK_MATCH("*.bin", ".bin");
	CHECK_NO_MATCH("*.bin", "x.binz");
}

TEST(table_config_json)
{
	CHECK_MATCH("config.json", "config.json");
	CHECK_MATCH("config.json", "a/config.json");
	CHECK_MATCH("config.json", "config.json/x");
	CHECK_NO_MATCH("config.json", "configXjson");
}

TEST(table_anchored_by_star_dot)
{
	CHECK_MATCH("onnx/*.bin", "onnx/a.bin");
	CHECK_MATCH("onnx/*.bin", "onnx/a.bin/c");
	CHECK_NO_MATCH("onnx/*.bin", "x/onnx/a.bin");
	CHECK_NO_MATCH("onnx/*.bin", "onnx/b/a.bin");
}

TEST(table_slash_pattern_floats)
{
	CHECK_MATCH("onnx/model.bin", "onnx/model.bin");
	CHECK_MATCH("onnx/model.bin", "x/onnx/model.bin");
}

TEST(table_dir_star)
{
	CHECK_MATCH("onnx/*", "onnx/a");
	CHECK_MATCH("onnx/*", "onnx/a/b");
	CHECK_MATCH("onnx/*", "x/onnx/a");
	CHECK_NO_MATCH("onnx/*", "onnx");
}

TEST(table_trailing_slash)
{
	CHECK_MATCH("onnx/", "onnx/a");
	CHECK_MATCH("onnx/", "x/onnx/a");
	CHECK_NO_MATCH("onnx/", "onnx");
	CHECK_NO_MATCH("onnx/", "onnxx/a");
}

TEST(table_bare_name)
{
	CHECK_MATCH("onnx", "onnx");
	CHECK_MATCH("onnx", "onnx/a");
	CHECK_MATCH("onnx", "x/onnx/b");
	CHECK_NO_MATCH("onnx", "onnxx");
}

TEST(table_leading_slash)
{
	CHECK_MATCH("/model.bin", "model.bin");
	CHECK_NO_MATCH("/model.bin", "a/model.bin");
}

TEST(table_double_star_forms)
{
	CHECK_MATCH("**/*.safetensors", "m.safetensors");
	CHECK_MATCH("**/*.safetensors", "d/e/m.safetensors");
	CHECK_MATCH("x/**/*.json", "x/a.json");
	CHECK_MATCH("x/**/*.json", "x/y/z/a.json");
	CHECK_NO_MATCH("x/**/*.json", "q/x/a.json");
	CHECK_MATCH("a/**/b", "a/b");
	CHECK_MATCH("a/**/b", "a/x/y/b");
	CHECK_MATCH("a/**/b", "z/a/b");
	CHECK_MATCH("abc/**", "abc");
	CHECK_MATCH("abc/**", "abc/x");
	CHECK_MATCH("abc/**", "x/abc/y");
}

TEST(table_trailing_double_star_slash_matches_no_file)
{
	static const char *const paths[] = {"a", "a/b", "dir/x", "x/dir/y", "dir/a/b/c"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		CHECK_NO_MATCH("**/", paths[i]);
		CHECK_NO_MATCH("dir/**/", paths[i]);
	}
}

TEST(table_star_crosses_no_slash)
{
	CHECK_MATCH("a/*/b", "a/x/b");
	CHECK_MATCH("a/*/b", "q/a/x/b");
	CHECK_NO_MATCH("a/*/b", "a/x/y/b");
}

TEST(table_case_sensitive)
{
	CHECK_MATCH("*.BIN", "x.BIN");
	CHECK_NO_MATCH("*.BIN", "x.bin");
}

TEST(table_question_mark_is_literal)
{
	CHECK_MATCH("model-0000?-of-00003.safetensors", "model-0000?-of-00003.safetensors");
	CHECK_NO_MATCH("model-0000?-of-00003.safetensors", "model-00001-of-00003.safetensors");
}

TEST(table_class)
{
	CHECK_MATCH("[ab].txt", "a.txt");
	CHECK_NO_MATCH("[ab].txt", "c.txt");
	CHECK_NO_MATCH("[ab].txt", "[ab].txt");
}

TEST(table_match_everything)
{
	static const char *const paths[] = {"a", "a/b", "x.bin", "d/e/f.g", ".hidden"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		CHECK_MATCH("*", paths[i]);
		CHECK_MATCH("**", paths[i]);
		CHECK_MATCH("/", paths[i]);
	}
}

TEST(table_comment_is_dropped)
{
	CHECK_NO_MATCH("#x", "#x");
	CHECK_NO_MATCH("#x", "x");
}

/* Rows whose patterns use RE2 syntax beyond the subset: refused (§10.4). */
TEST(table_regex_rows_are_refused)
{
	CHECK_REFUSED("a+b.txt", UNSUPPORTED "'+'");
	CHECK_REFUSED("model(1).bin", UNSUPPORTED "'('");
	CHECK_REFUSED("a|b", UNSUPPORTED "'|'");
	CHECK_REFUSED("^a", UNSUPPORTED "'^'");
	CHECK_REFUSED("a$b", UNSUPPORTED "'$'");
	CHECK_REFUSED("(", UNSUPPORTED "'('");
	CHECK_REFUSED("a++", UNSUPPORTED "'+'");
	CHECK_REFUSED("x{1001}", UNSUPPORTED "'{'");
	CHECK_DROPPED("[", "unterminated character class");
}

/* ---- §10.2: the translation, step by step ---- */

TEST(step1_trailing_cr_removed)
{
	CHECK_TRANSLATE("a\r\r", "^(|.*/)a(|/.*)$");
	CHECK_TRANSLATE("a\rb", "^(|.*/)a\rb(|/.*)$");
}

TEST(step2_comment_dropped)
{
	CHECK_TRANSLATE("#", "");
	CHECK_TRANSLATE("#*.bin", "");
	CHECK_TRANSLATE("#a\r", "");
}

TEST(step3_ascii_spaces_trimmed_after_comment_check)
{
	CHECK_TRANSLATE("  a b  ", "^(|.*/)a b(|/.*)$");
	/* " #x" is no comment at step 2; step 6 then removes the '#'. */
	CHECK_TRANSLATE(" #x", "^(|.*/)x(|/.*)$");
	/* Only U+0020: a tab stays. */
	CHECK_TRANSLATE("\ta", "^(|.*/)\ta(|/.*)$");
}

TEST(step4_blank_dropped)
{
	CHECK_TRANSLATE("", "");
	CHECK_TRANSLATE("   ", "");
	CHECK_TRANSLATE(" \r", "");
}

TEST(step5_negation_mark_removed)
{
	CHECK_TRANSLATE("!a", "^(|.*/)a(|/.*)$");
}

TEST(step6_one_hash_or_bang_removed)
{
	CHECK_TRANSLATE("!#a", "^(|.*/)a(|/.*)$");
	CHECK_TRANSLATE("!!a", "^(|.*/)a(|/.*)$");
	CHECK_TRANSLATE("!!!a", "^(|.*/)!a(|/.*)$");
}

TEST(step7_anchoring_quirk)
{
	CHECK_TRANSLATE("a/b*.c", "^(|/)a/b([^/]*)\\.c(|/.*)$");
	CHECK_TRANSLATE("a/b/c/x*.y", "^(|/)a/b/c/x([^/]*)\\.y(|/.*)$");
	/* No `*.` after the slash: floats. */
	CHECK_TRANSLATE("dir/*bin", "^(|.*/)dir/([^/]*)bin(|/.*)$");
	CHECK_TRANSLATE("*.c/x", "^(|.*/)([^/]*)\\.c/x(|/.*)$");
	/* The character before the slash must not be '+' or '/'. */
	CHECK_TRANSLATE("a+/*.bin", "^(|.*/)a+/([^/]*)\\.bin(|/.*)$");
	CHECK_TRANSLATE("+/x/*.c", "^(|/)+/x/([^/]*)\\.c(|/.*)$");
	/* Already anchored: no second slash. */
	CHECK_TRANSLATE("/x/*.y", "^(|/)x/([^/]*)\\.y(|/.*)$");
	/* `.*` in the quirk's expression does not cross a line feed. */
	CHECK_TRANSLATE("a/\n*.c", "^(|.*/)a/\n([^/]*)\\.c(|/.*)$");
	/* A multi-byte character before the slash counts. */
	CHECK_TRANSLATE("\xC3\xA9/*.c", "^(|/)\xC3\xA9/([^/]*)\\.c(|/.*)$");
}

TEST(step8_dots_escaped)
{
	CHECK_TRANSLATE("a.b.c", "^(|.*/)a\\.b\\.c(|/.*)$");
	CHECK_TRANSLATE("[.]", "^(|.*/)[\\.](|/.*)$");
}

TEST(step9_leading_slash_double_star_slash)
{
	CHECK_TRANSLATE("/**/a", "^(|.*/)(|.*/)a(|/.*)$");
}

TEST(step10_slash_double_star_slash)
{
	CHECK_TRANSLATE("a/**/b/**/c", "^(|.*/)a(/|/.+/)b(/|/.+/)c(|/.*)$");
}

TEST(step11_double_star_slash_left_to_right)
{
	CHECK_TRANSLATE("**/a", "^(|.*/)(|.*/)a(|/.*)$");
	/* Non-overlapping, left to right: `***\/` is `*` then `**\/`. */
	CHECK_TRANSLATE("***/x", "^(|.*/)([^/]*)(|.*/)x(|/.*)$");
}

TEST(step12_slash_double_star)
{
	CHECK_TRANSLATE("a/**", "^(|.*/)a(|/.*)(|/.*)$");
	CHECK_TRANSLATE("/**", "^(|.*/)(|/.*)(|/.*)$");
}

TEST(step13_escaped_star_kept)
{
	CHECK_TRANSLATE("a\\*b", "^(|.*/)a\\*b(|/.*)$");
}

TEST(step14_star_never_crosses_slash)
{
	CHECK_TRANSLATE("a*b*", "^(|.*/)a([^/]*)b([^/]*)(|/.*)$");
}

TEST(step15_question_mark_escaped)
{
	CHECK_TRANSLATE("a?", "^(|.*/)a\\?(|/.*)$");
}

TEST(step16_placeholder_typed_by_user)
{
	CHECK_TRANSLATE("a#$~b", "^(|.*/)a*b(|/.*)$");
}

TEST(step17_suffix_after_slash_or_not)
{
	CHECK_TRANSLATE("a/", "^(|.*/)a/(|.*)$");
	CHECK_TRANSLATE("**/", "^(|.*/)(|.*/)(|/.*)$");
}

TEST(step18_leading_slash_anchors)
{
	CHECK_TRANSLATE("/a", "^(|/)a(|/.*)$");
	CHECK_TRANSLATE("/", "^(|/)(|.*)$");
	CHECK_TRANSLATE("//a", "^(|/)/a(|/.*)$");
}

/* ---- §10.2 consequences ---- */

TEST(floating_pattern_matches_at_any_depth_and_below)
{
	CHECK_MATCH("weights.bin", "a/b/c/weights.bin");
	CHECK_MATCH("weights.bin", "weights.bin/inner");
	CHECK_MATCH("sub", "a/sub/x/y");
	CHECK_NO_MATCH("sub", "a/xsub/y");
	CHECK_NO_MATCH("sub", "a/subx");
}

TEST(anchoring_quirk_pins_to_root)
{
	CHECK_MATCH("dir/*.bin", "dir/a.bin");
	CHECK_NO_MATCH("dir/*.bin", "x/dir/b.bin");
	CHECK_MATCH("dir/*bin", "x/dir/cbin");
	CHECK_MATCH("dir/*bin", "dir/abin");
}

TEST(double_star_next_to_slash_only)
{
	CHECK_MATCH("**/x.bin", "x.bin");
	CHECK_MATCH("**/x.bin", "a/b/x.bin");
	CHECK_MATCH("a/**/b.bin", "q/a/b/b.bin");
	CHECK_MATCH("a/**", "q/a/y.pt");
	CHECK_NO_MATCH("a/**", "b/y.pt");
	/* `**` inside a name is two stars: it stays within one component. */
	CHECK_MATCH("a**b", "axyb");
	CHECK_NO_MATCH("a**b", "ax/yb");
	/* A lone slash-star-star needs a path ending in `/` or holding `//`. */
	CHECK_NO_MATCH("/**", "a");
	CHECK_NO_MATCH("/**", "a/b");
}

TEST(dot_is_literal)
{
	CHECK_NO_MATCH("a.b", "axb");
	CHECK_MATCH("a.b", "a.b");
}

TEST(dot_does_not_match_line_feed_but_classes_do)
{
	/* (|.*\/) cannot cross the LF; ([^/]*) can. */
	CHECK(include_passes("x/", "a\nb/x/c", 7) == 0);
	CHECK(include_passes("x/", "ab/x/c", 6) == 1);
	CHECK(include_passes("*.bin", "a\nb.bin", 7) == 1);
}

TEST(non_ascii_paths)
{
	CHECK_MATCH("*.bin", "mod\xC3\xA8le/\xC3\xBCn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9.bin");
	CHECK_MATCH("\xE6\x97\xA5\xE6\x9C\xAC/", "\xE6\x97\xA5\xE6\x9C\xAC/x.safetensors");
	CHECK_MATCH("emoji*.pt", "emoji\xF0\x9F\x98\x80.pt");
	/* A negated class takes one code point, not one byte. */
	CHECK_MATCH("[^a].bin", "\xC3\xA9.bin");
	CHECK_MATCH("[^a].bin", "\xE6\x97\xA5.bin");
	CHECK_NO_MATCH("[^a].bin", "\xC3\xA9\xC3\xA9.bin");
	/* A positive ASCII class never matches a non-ASCII character. */
	CHECK_NO_MATCH("[a-z].bin", "\xC3\xA9.bin");
	/* A non-ASCII literal matches itself only. */
	CHECK_MATCH("\xC3\xA9*", "x/\xC3\xA9t\xC3\xA9");
	CHECK_NO_MATCH("\xC3\xA9*", "e");
}

TEST(invalid_utf8_in_a_path_reads_as_replacement_character)
{
	/* Go decodes each invalid byte as U+FFFD, width 1. */
	CHECK(include_passes("\xEF\xBF\xBD*", "\xFF.bin", 5) == 1);
	CHECK(include_passes("[^a]", "\xFF", 1) == 1);
	CHECK(include_passes("[^a]", "\xFF\xFF", 2) == 0);
}

TEST(classes_follow_re2)
{
	CHECK_MATCH("[a-c]x", "bx");
	CHECK_NO_MATCH("[a-c]x", "dx");
	CHECK_MATCH("[^ab]x", "cx");
	CHECK_NO_MATCH("[^ab]x", "ax");
	/* `]` first is a member; so is `-` last or after a range. */
	CHECK_MATCH("[]a]", "]");
	CHECK_MATCH("[^]a]", "b");
	CHECK_NO_MATCH("[^]a]", "]");
	CHECK_MATCH("[a-]", "-");
	CHECK_MATCH("[a-b-d]", "-");
	CHECK_MATCH("[a-b-d]", "d");
	CHECK_NO_MATCH("[a-b-d]", "c");
	/* `.` and `?` inside brackets are members (escaped by steps 8 and 15). */
	CHECK_MATCH("[.]", ".");
	CHECK_NO_MATCH("[.]", "x");
	CHECK_MATCH("[?]", "?");
	CHECK_NO_MATCH("[?]", "x");
	CHECK_MATCH("[!-.]", ",");
	/* `^` and `[` not at the start are members. */
	CHECK_MATCH("[a^]", "^");
	CHECK_MATCH("[[]", "[");
	/* A class may hold `/`. */
	CHECK_MATCH("a[/]b", "a/b");
	/* `]` outside a class is a literal. */
	CHECK_MATCH("a]", "a]");
}

TEST(no_blowup_on_many_stars)
{
	char path[4001];
	memset(path, 'a', 4000);
	path[4000] = '\0';
	CHECK_NO_MATCH("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path);
	path[3999] = 'b';
	CHECK_MATCH("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path);
}

/* ---- §10.4 and §8.1: the project's policy ---- */

TEST(negation_refused)
{
	CHECK_REFUSED("!keep.bin", "pattern \"!keep.bin\": negation patterns (starting with '!') are not supported");
	CHECK_REFUSED("!", "negation patterns");
}

TEST(backslash_refused)
{
	CHECK_REFUSED("a\\b", "pattern \"a\\\\b\": patterns must use forward slashes, not backslashes");
	CHECK_REFUSED("\\*", "not backslashes");
	/* Cog validates comments too. */
	CHECK_REFUSED("#a\\b", "not backslashes");
}

TEST(empty_pattern_refused)
{
	CHECK_REFUSED("", "pattern must not be empty");
	CHECK_REFUSED(" \t", "pattern must not be empty");
}

TEST(regex_operators_refused)
{
	static const char *const patterns[] = {"a+", "(a)", "a)", "a|b", "a{2}", "a}", "^a", "a$",
	                                       "a/^b", "[ab]+"};
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
		CHECK(refused(patterns[i], strlen(patterns[i]), UNSUPPORTED));
	CHECK_REFUSED("a+b", "pattern \"a+b\" is not supported: '+' is a regular-expression operator");
}

TEST(classes_beyond_the_subset_refused)
{
	CHECK_REFUSED("[\xC3\xA9]", UNSUPPORTED "a character class with a non-ASCII member");
	CHECK_REFUSED("[[:alpha:]]", UNSUPPORTED "a POSIX class");
	/* What RE2 cannot compile, Cog drops; so does the project, saying so. */
	CHECK_DROPPED("[*]", "a '*' inside [...]");
	CHECK_DROPPED("[a*", "a '*' inside [...]");
	CHECK_DROPPED("x/[ab*]/y", "a '*' inside [...]");
	CHECK_DROPPED("[a", "unterminated character class");
	CHECK_DROPPED("[]", "unterminated character class");
	CHECK_DROPPED("[^]", "unterminated character class");
	CHECK_DROPPED("a-[", "unterminated character class");
	CHECK_DROPPED("[z-a]", "a reversed range");
	CHECK_DROPPED("a\xFF", "not valid UTF-8");
	/* A class that swallows a whole `**` group compiles: its characters
	 * are members (RE2 reads "[a(|.*" "/)b]" as one class). */
	CHECK_MATCH("[a**/b]", "(");
	CHECK_MATCH("[a**/b]", "x/*");
	CHECK_MATCH("[a**/b]", "b");
	CHECK_NO_MATCH("[a**/b]", "c");
	CHECK_MATCH("[?]", "?");
	CHECK_NO_MATCH("[?]", "a");
}

/* Dropped patterns leave the others working, in either list. */
TEST(a_dropped_pattern_leaves_the_rest_of_its_list)
{
	wl_string inc[] = {wl_str("*.bin"), wl_str("[")};
	wl_string exc[] = {wl_str("[z-a]"), wl_str("skip.bin")};
	wl_filter *f = NULL;
	CHECK_OK(wl_filter_new(&f, inc, 2, exc, 2));
	CHECK_INT(wl_filter_warning_count(f), 2);
	CHECK(strstr(wl_filter_warning(f, 0), "include pattern \"[\" dropped") != NULL);
	CHECK(strstr(wl_filter_warning(f, 1), "exclude pattern \"[z-a]\" dropped") != NULL);
	CHECK(wl_filter_pass(f, wl_str("a.bin")));
	CHECK(!wl_filter_pass(f, wl_str("skip.bin")));
	CHECK(!wl_filter_pass(f, wl_str("a.txt")));
	wl_filter_free(f);
}

TEST(overlong_pattern_refused)
{
	char *p = malloc(1026);
	CHECK(p != NULL);
	memset(p, 'a', 1025);
	p[1025] = '\0';
	int ok = refused(p, 1025, UNSUPPORTED "longer than 1024 bytes");
	p[1024] = '\0';
	int fine = include_passes(p, p, 1024);
	free(p);
	CHECK(ok);
	CHECK(fine == 1);
}

TEST(refused_pattern_named_with_go_quoting)
{
	CHECK_REFUSED("!\"x\"\t", "pattern \"!\\\"x\\\"\": negation");
	CHECK_REFUSED("a\"+", "pattern \"a\\\"+\" is not supported");
}

TEST(patterns_trimmed_of_unicode_space)
{
	/* U+3000 and U+00A0 around a pattern are trimmed as Cog's normalization does. */
	CHECK_MATCH("\xE3\x80\x80*.bin\xC2\xA0", "a/x.bin");
	CHECK_MATCH("*.bin   ", "sub/dir/weights.bin");
	CHECK_REFUSED("\xE3\x80\x80!x", "negation patterns");
}

/* ---- §10.1: semantics ---- */

static wl_source_file file(const char *path)
{
	wl_source_file f;
	memset(&f, 0, sizeof f);
	f.path = wl_str(path);
	return f;
}

/* Runs a filter; writes the kept paths joined by ' ' into got. */
static int select_paths(char *got, size_t got_size, const wl_string *inc, size_t ni, const wl_string *exc,
                        size_t ne, const wl_source_file *files, size_t n)
{
	wl_filter *f = NULL;
	int rc = wl_filter_new(&f, inc, ni, exc, ne);
	if (rc != 0)
		return rc;
	bool keep[16];
	size_t kept = 99;
	rc = wl_filter_select(keep, &kept, f, files, n);
	wl_filter_free(f);
	got[0] = '\0';
	size_t count = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!keep[i])
			continue;
		count++;
		if (got[0] != '\0')
			strncat(got, " ", got_size - strlen(got) - 1);
		strncat(got, files[i].path.ptr, got_size - strlen(got) - 1);
	}
	if (rc == 0 && count != kept)
		return 1;
	return rc;
}

static const char *const sample_paths[] = {"README.md", "config.json", "model.safetensors",
                                           "sub/dir/weights.bin"};

static size_t sample(wl_source_file *files)
{
	for (size_t i = 0; i < 4; i++)
		files[i] = file(sample_paths[i]);
	return 4;
}

TEST(empty_filter_passes_everything)
{
	wl_source_file files[4];
	size_t n = sample(files);
	char got[256];
	CHECK_OK(select_paths(got, sizeof got, NULL, 0, NULL, 0, files, n));
	CHECK_STR(got, "README.md config.json model.safetensors sub/dir/weights.bin");
	wl_filter *f = NULL;
	CHECK_OK(wl_filter_new(&f, NULL, 0, NULL, 0));
	CHECK(wl_filter_is_empty(f));
	CHECK(wl_filter_pass(f, wl_str("anything")));
	wl_filter_free(f);
}

TEST(empty_filter_accepts_empty_inventory)
{
	char got[8];
	CHECK_OK(select_paths(got, sizeof got, NULL, 0, NULL, 0, NULL, 0));
	CHECK_STR(got, "");
}

TEST(include_list_needs_one_match)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string inc[] = {wl_str("*.bin"), wl_str("*.json")};
	char got[256];
	CHECK_OK(select_paths(got, sizeof got, inc, 2, NULL, 0, files, n));
	CHECK_STR(got, "config.json sub/dir/weights.bin");
}

TEST(exclude_wins_over_include)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string inc[] = {wl_str("*.bin"), wl_str("*.safetensors")};
	wl_string exc[] = {wl_str("weights.bin")};
	char got[256];
	CHECK_OK(select_paths(got, sizeof got, inc, 2, exc, 1, files, n));
	CHECK_STR(got, "model.safetensors");
}

TEST(exclude_only_keeps_the_rest)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string exc[] = {wl_str("sub/")};
	char got[256];
	CHECK_OK(select_paths(got, sizeof got, NULL, 0, exc, 1, files, n));
	CHECK_STR(got, "README.md config.json model.safetensors");
	wl_filter *f = NULL;
	CHECK_OK(wl_filter_new(&f, NULL, 0, exc, 1));
	CHECK(!wl_filter_is_empty(f));
	wl_filter_free(f);
}

TEST(include_of_only_comments_matches_nothing)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string inc[] = {wl_str("#*.bin")};
	char got[256];
	CHECK_ERR(select_paths(got, sizeof got, inc, 1, NULL, 0, files, n), WL_EINVALID,
	          "matched zero files out of 4 in the source; include: [\"#*.bin\"]; check");
}

TEST(exclude_of_only_comments_excludes_nothing)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string exc[] = {wl_str("#README.md")};
	char got[256];
	CHECK_OK(select_paths(got, sizeof got, NULL, 0, exc, 1, files, n));
	CHECK_STR(got, "README.md config.json model.safetensors sub/dir/weights.bin");
}

/* ---- §10.5: zero survivors ---- */

TEST(zero_survivors_message_with_both_lists)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string inc[] = {wl_str("p1"), wl_str("p2")};
	wl_string exc[] = {wl_str("q1")};
	char got[8];
	CHECK_INT(select_paths(got, sizeof got, inc, 2, exc, 1, files, n), WL_EINVALID);
	CHECK_STR(wl_error_last()->message,
	          "include/exclude patterns matched zero files out of 4 in the source; "
	          "include: [\"p1\", \"p2\"]; exclude: [\"q1\"]; "
	          "check your patterns \xE2\x80\x94 did you mean a different glob?");
}

TEST(zero_survivors_message_exclude_only)
{
	wl_source_file files[4];
	size_t n = sample(files);
	wl_string exc[] = {wl_str("*")};
	char got[8];
	CHECK_INT(select_paths(got, sizeof got, NULL, 0, exc, 1, files, n), WL_EINVALID);
	CHECK_STR(wl_error_last()->message,
	          "include/exclude patterns matched zero files out of 4 in the source; "
	          "exclude: [\"*\"]; check your patterns \xE2\x80\x94 did you mean a different glob?");
}

TEST(zero_survivors_of_empty_inventory)
{
	wl_string inc[] = {wl_str("*.bin")};
	char got[8];
	CHECK_INT(select_paths(got, sizeof got, inc, 1, NULL, 0, NULL, 0), WL_EINVALID);
	CHECK_STR(wl_error_last()->message,
	          "include/exclude patterns matched zero files out of 0 in the source; "
	          "include: [\"*.bin\"]; check your patterns \xE2\x80\x94 did you mean a different glob?");
}

TEST(zero_survivors_patterns_quoted_like_go)
{
	wl_source_file files[1] = {file("a")};
	wl_string inc[] = {wl_str("\"q\".bin"), wl_str("\xC3\xA9\x7f")};
	char got[8];
	CHECK_INT(select_paths(got, sizeof got, inc, 2, NULL, 0, files, 1), WL_EINVALID);
	CHECK_STR(wl_error_last()->message,
	          "include/exclude patterns matched zero files out of 1 in the source; "
	          "include: [\"\\\"q\\\".bin\", \"\xC3\xA9\\x7f\"]; "
	          "check your patterns \xE2\x80\x94 did you mean a different glob?");
}

TEST(free_null_is_a_no_op)
{
	wl_filter_free(NULL);
	CHECK(1);
}

int main(void)
{
	RUN(table_expressions);
	RUN(table_star_bin);
	RUN(table_config_json);
	RUN(table_anchored_by_star_dot);
	RUN(table_slash_pattern_floats);
	RUN(table_dir_star);
	RUN(table_trailing_slash);
	RUN(table_bare_name);
	RUN(table_leading_slash);
	RUN(table_double_star_forms);
	RUN(table_trailing_double_star_slash_matches_no_file);
	RUN(table_star_crosses_no_slash);
	RUN(table_case_sensitive);
	RUN(table_question_mark_is_literal);
	RUN(table_class);
	RUN(table_match_everything);
	RUN(table_comment_is_dropped);
	RUN(table_regex_rows_are_refused);
	RUN(step1_trailing_cr_removed);
	RUN(step2_comment_dropped);
	RUN(step3_ascii_spaces_trimmed_after_comment_check);
	RUN(step4_blank_dropped);
	RUN(step5_negation_mark_removed);
	RUN(step6_one_hash_or_bang_removed);
	RUN(step7_anchoring_quirk);
	RUN(step8_dots_escaped);
	RUN(step9_leading_slash_double_star_slash);
	RUN(step10_slash_double_star_slash);
	RUN(step11_double_star_slash_left_to_right);
	RUN(step12_slash_double_star);
	RUN(step13_escaped_star_kept);
	RUN(step14_star_never_crosses_slash);
	RUN(step15_question_mark_escaped);
	RUN(step16_placeholder_typed_by_user);
	RUN(step17_suffix_after_slash_or_not);
	RUN(step18_leading_slash_anchors);
	RUN(floating_pattern_matches_at_any_depth_and_below);
	RUN(anchoring_quirk_pins_to_root);
	RUN(double_star_next_to_slash_only);
	RUN(dot_is_literal);
	RUN(dot_does_not_match_line_feed_but_classes_do);
	RUN(non_ascii_paths);
	RUN(invalid_utf8_in_a_path_reads_as_replacement_character);
	RUN(classes_follow_re2);
	RUN(no_blowup_on_many_stars);
	RUN(negation_refused);
	RUN(backslash_refused);
	RUN(empty_pattern_refused);
	RUN(regex_operators_refused);
	RUN(classes_beyond_the_subset_refused);
	RUN(overlong_pattern_refused);
	RUN(a_dropped_pattern_leaves_the_rest_of_its_list);
	RUN(refused_pattern_named_with_go_quoting);
	RUN(patterns_trimmed_of_unicode_space);
	RUN(empty_filter_passes_everything);
	RUN(empty_filter_accepts_empty_inventory);
	RUN(include_list_needs_one_match);
	RUN(exclude_wins_over_include);
	RUN(exclude_only_keeps_the_rest);
	RUN(include_of_only_comments_matches_nothing);
	RUN(exclude_of_only_comments_excludes_nothing);
	RUN(zero_survivors_message_with_both_lists);
	RUN(zero_survivors_message_exclude_only);
	RUN(zero_survivors_of_empty_inventory);
	RUN(zero_survivors_patterns_quoted_like_go);
	RUN(free_null_is_a_no_op);
	return harness_summary("filter");
}
