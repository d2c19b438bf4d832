/*
 * test_cogyaml.c - the cog.yaml weights stanza: reading, the validation
 * table of SPEC.md §8.1, the normalization of §8.2 (NormalizeURI and
 * patterns) and `source:` as a sequence (§13).
 */
#include "harness.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static wl_config *parse(const char *yaml)
{
	wl_config *config = NULL;
	if (wl_config_parse(&config, yaml, strlen(yaml), NULL) != 0) {
		printf("  parse failed: %s\n", wl_error_last()->message);
		return NULL;
	}
	return config;
}

/* Parsing must fail with WL_EPARSE and exactly this message. */
static int parse_fails(const char *yaml, const char *message)
{
	wl_config *config = (wl_config *)1;
	int rc = wl_config_parse(&config, yaml, strlen(yaml), NULL);
	if (rc != WL_EPARSE || config != NULL) {
		printf("  rc %d, want %d (%s)\n", rc, WL_EPARSE, wl_error_last()->message);
		return 0;
	}
	if (message != NULL && strcmp(wl_error_last()->message, message) != 0) {
		printf("  message \"%s\"\n     want \"%s\"\n", wl_error_last()->message, message);
		return 0;
	}
	return 1;
}

/* Parsing must fail and the message contain `part`. */
static int parse_fails_with(const char *yaml, const char *part)
{
	if (!parse_fails(yaml, NULL))
		return 0;
	if (strstr(wl_error_last()->message, part) == NULL) {
		printf("  message \"%s\" lacks \"%s\"\n", wl_error_last()->message, part);
		return 0;
	}
	return 1;
}

static int str_is(wl_string s, const char *want)
{
	if (s.len != strlen(want) || (s.len && memcmp(s.ptr, want, s.len) != 0)) {
		printf("  got \"%.*s\", want \"%s\"\n", (int)s.len, s.ptr ? s.ptr : "", want);
		return 0;
	}
	if (s.len && s.ptr[s.len] != '\0') {
		printf("  \"%s\" is not NUL-terminated\n", want);
		return 0;
	}
	return 1;
}

#define W1(body) "image: r8.im/x\nweights:\n  - name: w\n    target: /src/w\n" body
#define TWO(n1, t1, n2, t2)                                                                   \
	"weights:\n  - name: " n1 "\n    target: " t1 "\n    source: {uri: a}\n"                   \
	"  - name: " n2 "\n    target: " t2 "\n    source: {uri: b}\n"

/* ---- the stanza ---- */

TEST(stanza_reads_only_the_weights_key)
{
	wl_config *c = parse("image: r8.im/x\nbuild:\n  gpu: true\n  odd: [1, {a: b}]\n"
	                     "weights:\n  - name: parakeet\n    target: /src/weights/parakeet\n"
	                     "    source:\n      uri: weights\n"
	                     "      include: [\"*.safetensors\", \"*.json\"]\n      exclude: []\n"
	                     "predict: predict.py:Predictor\n");
	CHECK(c != NULL);
	CHECK_INT(c->weight_count, 1);
	wl_config_weight *w = &c->weights[0];
	CHECK(str_is(w->name, "parakeet"));
	CHECK(str_is(w->target, "/src/weights/parakeet"));
	CHECK_INT(w->source_count, 1);
	CHECK(!w->source_is_list);
	CHECK(str_is(w->sources[0].uri, "file://./weights"));
	CHECK(str_is(w->sources[0].fingerprint, ""));
	CHECK_INT(w->sources[0].include_count, 2);
	CHECK(str_is(w->sources[0].include[0], "*.json"));
	CHECK(str_is(w->sources[0].include[1], "*.safetensors"));
	CHECK_INT(w->sources[0].exclude_count, 0);
	wl_config_free(c);
}

TEST(stanza_absent_null_or_empty_declares_nothing)
{
	static const char *const docs[] = {
		"image: r8.im/x\n", "weights:\n", "weights: null\n", "weights: ~\n", "weights: []\n",
		"", "---\n", "# only a comment\n",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		wl_config *c = parse(docs[i]);
		CHECK(c != NULL);
		CHECK_INT(c->weight_count, 0);
		CHECK(c->weights == NULL);
		wl_config_free(c);
	}
}

TEST(stanza_keeps_declaration_order)
{
	wl_config *c = parse("weights:\n"
	                     "  - {name: zz, target: /z, source: {uri: z}}\n"
	                     "  - {name: aa, target: /a, source: {uri: a}}\n"
	                     "  - {name: mm, target: /m, source: {uri: m}}\n");
	CHECK(c != NULL);
	CHECK_INT(c->weight_count, 3);
	CHECK(str_is(c->weights[0].name, "zz"));
	CHECK(str_is(c->weights[1].name, "aa"));
	CHECK(str_is(c->weights[2].name, "mm"));
	wl_config_free(c);
}

TEST(stanza_scalars_are_taken_as_their_text)
{
	wl_config *c = parse("weights:\n  - name: 123\n    target: '/src/w'\n"
	                     "    source: {uri: \"weights\", include: [1.50, true, 'null']}\n");
	CHECK(c != NULL);
	CHECK(str_is(c->weights[0].name, "123"));
	CHECK(str_is(c->weights[0].target, "/src/w"));
	CHECK_INT(c->weights[0].sources[0].include_count, 3);
	CHECK(str_is(c->weights[0].sources[0].include[0], "1.50"));
	CHECK(str_is(c->weights[0].sources[0].include[1], "null"));
	CHECK(str_is(c->weights[0].sources[0].include[2], "true"));
	wl_config_free(c);
}

TEST(stanza_null_pattern_lists_are_absent)
{
	wl_config *c = parse(W1("    source:\n      uri: w\n      include:\n      exclude: ~\n"));
	CHECK(c != NULL);
	CHECK_INT(c->weights[0].sources[0].include_count, 0);
	CHECK_INT(c->weights[0].sources[0].exclude_count, 0);
	wl_config_free(c);
}

TEST(stanza_resolves_anchors_and_aliases)
{
	wl_config *c = parse("weights:\n"
	                     "  - {name: a, target: /a, source: &src {uri: w, include: &inc [x]}}\n"
	                     "  - {name: b, target: /b, source: *src}\n"
	                     "  - {name: c, target: /c, source: {uri: v, exclude: *inc}}\n");
	CHECK(c != NULL);
	CHECK_INT(c->weight_count, 3);
	CHECK(str_is(c->weights[1].sources[0].uri, "file://./w"));
	CHECK(str_is(c->weights[1].sources[0].include[0], "x"));
	CHECK(str_is(c->weights[2].sources[0].exclude[0], "x"));
	wl_config_free(c);
}

TEST(stanza_rejects_merge_keys)
{
	CHECK(parse_fails_with("base: &b {target: /a, source: {uri: w}}\n"
	                       "weights:\n  - <<: *b\n    name: a\n",
	                       "weights[0]: YAML merge keys (<<) are not supported"));
}

TEST(stanza_rejects_unknown_keys_in_weight)
{
	CHECK(parse_fails(W1("    source: {uri: w}\n    Name: x\n"),
	                  "cog.yaml: weights[0]: unknown key \"Name\" (line 6, column 5)"));
}

TEST(stanza_rejects_unknown_keys_in_source)
{
	CHECK(parse_fails(W1("    source:\n      uri: w\n      fingerprint: x\n"),
	                  "cog.yaml: weights[0].source: unknown key \"fingerprint\" (line 7, column 7)"));
	CHECK(parse_fails_with(W1("    source:\n      - uri: w\n      - {uri: v, includes: []}\n"),
	                       "weights[0].source[1]: unknown key \"includes\""));
}

TEST(stanza_rejects_duplicate_keys)
{
	CHECK(parse_fails_with(W1("    source: {uri: w}\n    name: v\n"),
	                       "weights[0]: duplicate key \"name\""));
	CHECK(parse_fails_with(W1("    source: {uri: w, uri: v}\n"),
	                       "weights[0].source: duplicate key \"uri\""));
	CHECK(parse_fails_with("weights: []\nweights: []\n", "duplicate key \"weights\""));
}

TEST(stanza_rejects_wrong_node_types)
{
	CHECK(parse_fails_with("- a\n- b\n", "cog.yaml: top level: expected a mapping"));
	CHECK(parse_fails_with("weights: {a: b}\n", "cog.yaml: weights: expected a sequence"));
	CHECK(parse_fails_with("weights: [x]\n", "cog.yaml: weights[0]: expected a mapping"));
	CHECK(parse_fails_with(W1("    source: weights\n"),
	                       "weights[0].source: expected a mapping or a sequence of mappings"));
	CHECK(parse_fails_with(W1("    source: [weights]\n"),
	                       "weights[0].source[0]: expected a mapping"));
	CHECK(parse_fails_with(W1("    source: {uri: [a]}\n"),
	                       "weights[0].source.uri: expected a string"));
	CHECK(parse_fails_with(W1("    source: {uri: w, include: '*.bin'}\n"),
	                       "weights[0].source.include: expected a sequence of strings"));
	CHECK(parse_fails_with(W1("    source: {uri: w, exclude: [{a: b}]}\n"),
	                       "weights[0].source.exclude[0]: expected a string"));
	CHECK(parse_fails_with("weights:\n  - name: {a: b}\n    target: /a\n    source: {uri: w}\n",
	                       "weights[0].name: expected a string"));
	CHECK(parse_fails_with("weights:\n  - {? [a] : b}\n", "mapping keys must be strings"));
}

TEST(stanza_yaml_syntax_error_names_file_line_and_column)
{
	CHECK(parse_fails_with("weights:\n  - name: [a\n", "cog.yaml: YAML error at line "));
	CHECK(parse_fails_with("weights:\n  - name: a\n   target: b\n", "line 3, column "));
	CHECK(parse_fails_with("weights: *nope\n", "cog.yaml: YAML error"));
	wl_config *c = NULL;
	CHECK_ERR(wl_config_parse(&c, "a: \"\xff\"\n", 7, "my.yaml"), WL_EPARSE, "my.yaml: YAML error");
	CHECK(c == NULL);
}

/* ---- §8.1 validation, one test per row ---- */

TEST(rule_name_is_required)
{
	CHECK(parse_fails("weights:\n  - target: /a\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].name: name is required"));
	CHECK(parse_fails("weights:\n  - name: ''\n    target: /a\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].name: name is required"));
	CHECK(parse_fails("weights:\n  - name: ~\n    target: /a\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].name: name is required"));
}

TEST(rule_name_matches_pattern)
{
	CHECK(parse_fails("weights:\n  - name: My_Model\n    target: /a\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].name: must contain only lowercase alphanumeric "
	                  "characters, hyphens, dots, or underscores (e.g. \"my-model-weights\")"));
	CHECK(parse_fails_with("weights:\n  - name: a--b\n    target: /a\n    source: {uri: w}\n",
	                       "weights[0].name: must contain only lowercase"));
}

TEST(rule_name_is_unique)
{
	CHECK(parse_fails(TWO("w", "/a", "w", "/b"), "cog.yaml: weights[1].name: duplicate weight name"));
}

TEST(rule_target_is_required)
{
	CHECK(parse_fails("weights:\n  - name: w\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].target: target is required"));
	CHECK(parse_fails("weights:\n  - name: w\n    target: \"\"\n    source: {uri: w}\n",
	                  "cog.yaml: weights[0].target: target is required"));
}

TEST(rule_target_is_absolute)
{
	CHECK(parse_fails(TWO("a", "/a", "b", "src/w"),
	                  "cog.yaml: weights[1].target: target must be an absolute path"));
	CHECK(parse_fails(TWO("a", "/a", "b", "./src"),
	                  "cog.yaml: weights[1].target: target must be an absolute path"));
}

TEST(rule_target_must_not_clean_to_root)
{
	CHECK(parse_fails(TWO("a", "/a", "b", "/"),
	                  "cog.yaml: weights[1].target: target must not be the container root \"/\""));
	CHECK(parse_fails_with(TWO("a", "/a", "b", "//"), "container root"));
	CHECK(parse_fails_with(TWO("a", "/a", "b", "/src/.."), "container root"));
	CHECK(parse_fails_with(TWO("a", "/a", "b", "/./"), "container root"));
}

TEST(rule_target_unique_after_cleaning)
{
	CHECK(parse_fails(TWO("a", "/src/w", "b", "/src//w/"),
	                  "cog.yaml: weights[1].target: duplicate weight target"));
	CHECK(parse_fails_with(TWO("a", "/src/x/../w", "b", "/src/w"), "duplicate weight target"));
}

TEST(rule_targets_are_disjoint)
{
	CHECK(parse_fails(TWO("a", "/src/w", "b", "/src/w/sub"),
	                  "cog.yaml: weights[1].target: target overlaps with \"/src/w\"; weight "
	                  "targets must be disjoint"));
	CHECK(parse_fails(TWO("a", "/src/w/sub/", "b", "/src/w"),
	                  "cog.yaml: weights[1].target: target overlaps with \"/src/w/sub\"; weight "
	                  "targets must be disjoint"));
	wl_config *c = parse(TWO("a", "/src/w", "b", "/src/w2"));
	CHECK(c != NULL);
	wl_config_free(c);
	c = parse(TWO("a", "/src/w2/x", "b", "/src/w"));
	CHECK(c != NULL);
	wl_config_free(c);
}

/* A stanza from "name target" pairs. */
static const char *stanza(char *out, size_t cap, const char *const *pairs, size_t n)
{
	size_t w = (size_t)snprintf(out, cap, "weights:\n");
	for (size_t i = 0; i < n && w < cap; i++) {
		char name[64], target[64];
		if (sscanf(pairs[i], "%63s %63s", name, target) != 2)
			return "";
		w += (size_t)snprintf(out + w, cap - w,
		                      "  - name: %s\n    target: %s\n    source: {uri: w}\n", name, target);
	}
	return out;
}

TEST(rules_comparing_weights_name_the_first_failing_weight)
{
	char y[2048];
	/* Sorted, "a" and "b" repeat before "m"; in file order "m" does. */
	static const char *const names[] = {"m /t/1", "b /t/2", "m /t/3", "b /t/4", "a /t/5", "a /t/6"};
	CHECK(parse_fails(stanza(y, sizeof y, names, 6),
	                  "cog.yaml: weights[2].name: duplicate weight name"));
	static const char *const targets[] = {"f /t/z", "e /t/a", "d /t/z/", "c /t//a", "b /t/c", "a /t/c"};
	CHECK(parse_fails(stanza(y, sizeof y, targets, 6),
	                  "cog.yaml: weights[2].target: duplicate weight target"));
	/* Overlaps fail at the later weight, naming the first earlier one. */
	static const char *const overlaps[] = {"a /x/a/b", "b /y", "c /y/z/w", "d /x/a"};
	CHECK(parse_fails(stanza(y, sizeof y, overlaps, 4),
	                  "cog.yaml: weights[2].target: target overlaps with \"/y\"; weight "
	                  "targets must be disjoint"));
	static const char *const several[] = {"a /p/q/r", "b /p/q/t", "c /p/q", "d /p"};
	CHECK(parse_fails(stanza(y, sizeof y, several, 4),
	                  "cog.yaml: weights[2].target: target overlaps with \"/p/q/r\"; weight "
	                  "targets must be disjoint"));
	/* Different rules: the earlier weight, and within one weight the
	 * table's order. */
	static const char *const mixed[] = {"a /t/a", "b /t/b", "c /t/a/", "a /t/d"};
	CHECK(parse_fails(stanza(y, sizeof y, mixed, 4),
	                  "cog.yaml: weights[2].target: duplicate weight target"));
	static const char *const same[] = {"a /t/a", "b /t/b", "b /t/b/c", "c /t/b"};
	CHECK(parse_fails(stanza(y, sizeof y, same, 4),
	                  "cog.yaml: weights[2].name: duplicate weight name"));
	static const char *const invalid_later[] = {"a /t/a", "b /t/a/b", "B /t/a"};
	CHECK(parse_fails(stanza(y, sizeof y, invalid_later, 3),
	                  "cog.yaml: weights[1].target: target overlaps with \"/t/a\"; weight "
	                  "targets must be disjoint"));
}

/* 20,000 weights (names and targets distinct and disjoint), then `last`. */
static char *many_weights(const char *last)
{
	size_t cap = 20000 * 80 + 256, w = 0;
	char *yaml = malloc(cap);
	if (yaml == NULL)
		return NULL;
	w += (size_t)snprintf(yaml + w, cap - w, "weights:\n");
	for (int i = 0; i < 20000; i++)
		w += (size_t)snprintf(yaml + w, cap - w,
		                      "  - name: w%05d\n    target: /w/%05d\n    source: {uri: w}\n",
		                      19999 - i, i);
	snprintf(yaml + w, cap - w, "%s", last);
	return yaml;
}

TEST(twenty_thousand_weights_load_and_a_last_duplicate_is_found)
{
	char *yaml = many_weights("");
	CHECK(yaml != NULL);
	wl_config *c = parse(yaml);
	free(yaml);
	CHECK(c != NULL);
	CHECK_INT(c->weight_count, 20000);
	wl_config_free(c);
	yaml = many_weights("  - name: w12345\n    target: /x\n    source: {uri: w}\n");
	CHECK(yaml != NULL);
	int ok = parse_fails(yaml, "cog.yaml: weights[20000].name: duplicate weight name");
	free(yaml);
	CHECK(ok);
	yaml = many_weights("  - name: x\n    target: /w/07/../00007\n    source: {uri: w}\n");
	CHECK(yaml != NULL);
	ok = parse_fails(yaml, "cog.yaml: weights[20000].target: duplicate weight target");
	free(yaml);
	CHECK(ok);
	yaml = many_weights("  - name: x\n    target: /w/19999/sub\n    source: {uri: w}\n");
	CHECK(yaml != NULL);
	ok = parse_fails(yaml, "cog.yaml: weights[20000].target: target overlaps with "
	                       "\"/w/19999\"; weight targets must be disjoint");
	free(yaml);
	CHECK(ok);
}

/* ---- §15 bounded aliasing and nesting ---- */

#define WEIGHT_W "  - name: w\n    target: /src/w\n    source:\n      uri: w\n"

TEST(aliases_of_a_big_anchor_are_refused_before_any_copy)
{
	size_t big = (size_t)1 << 20, refs = 4000;
	size_t cap = big + refs * 8 + 256, w = 0;
	char *yaml = malloc(cap);
	CHECK(yaml != NULL);
	w += (size_t)snprintf(yaml + w, cap - w, "big: &big \"");
	memset(yaml + w, 'x', big);
	w += big;
	w += (size_t)snprintf(yaml + w, cap - w, "\"\nweights:\n" WEIGHT_W "      include: [*big");
	for (size_t i = 1; i < refs; i++)
		w += (size_t)snprintf(yaml + w, cap - w, ", *big");
	snprintf(yaml + w, cap - w, "]\n");
	int ok = parse_fails(yaml, "cog.yaml: document contains excessive aliasing");
	free(yaml);
	CHECK(ok);
}

TEST(billion_laughs_is_refused)
{
	char yaml[1024];
	size_t w = (size_t)snprintf(yaml, sizeof yaml, "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (char c = 'b'; c <= 'j'; c++) {
		w += (size_t)snprintf(yaml + w, sizeof yaml - w, "%c: &%c [", c, c);
		for (int k = 0; k < 9; k++)
			w += (size_t)snprintf(yaml + w, sizeof yaml - w, "%s*%c", k ? ", " : "", c - 1);
		w += (size_t)snprintf(yaml + w, sizeof yaml - w, "]\n");
	}
	snprintf(yaml + w, sizeof yaml - w, "weights: []\n");
	CHECK(parse_fails(yaml, "cog.yaml: document contains excessive aliasing"));
}

TEST(aliasing_within_yaml_v3s_ratio_is_accepted)
{
	/* Two levels of laughs: 81 aliased scalars, under 1,000 operations. */
	wl_config *c = parse("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	                     "b: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nweights: []\n");
	CHECK(c != NULL);
	wl_config_free(c);
	/* A pattern list shared by weights. */
	c = parse("common: &p [\"*.bin\", \"*.json\"]\nweights:\n"
	          "  - {name: a, target: /a, source: {uri: a, include: *p}}\n"
	          "  - {name: b, target: /b, source: {uri: b, include: *p}}\n");
	CHECK(c != NULL);
	CHECK_INT(c->weights[1].sources[0].include_count, 2);
	CHECK(str_is(c->weights[1].sources[0].include[1], "*.json"));
	wl_config_free(c);
	/* 99% from aliases is allowed in a small document, not more: a
	 * 2,000-byte anchor aliased 150 times is 99.9% of the cost alone, and
	 * 98.0% beside 4,000 bytes of the document's own. */
	char *yaml = malloc(8192);
	CHECK(yaml != NULL);
	char pad[4001];
	memset(pad, 'y', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int own = 0; own < 2; own++) {
		size_t w = (size_t)snprintf(yaml, 8192, "s: &s %.*s\nown: %s\nl: [*s", 2000, pad,
		                            own ? pad : "z");
		for (int k = 1; k < 150; k++)
			w += (size_t)snprintf(yaml + w, 8192 - w, ", *s");
		snprintf(yaml + w, 8192 - w, "]\nweights: []\n");
		wl_config *cc = NULL;
		int rc = wl_config_parse(&cc, yaml, strlen(yaml), NULL);
		wl_config_free(cc);
		if (own) {
			CHECK_INT(rc, 0);
		} else {
			CHECK_INT(rc, WL_EPARSE);
			CHECK(strcmp(wl_error_last()->message,
			             "cog.yaml: document contains excessive aliasing") == 0);
		}
	}
	free(yaml);
}

TEST(an_anchor_containing_its_own_alias_is_refused)
{
	CHECK(parse_fails("a: &a [1, [2, *a]]\nweights: []\n",
	                  "cog.yaml: YAML error at line 1, column 15: an anchor's value contains an "
	                  "alias of itself"));
}

/* n nested flow sequences under `x:`, beside an empty stanza. */
static char *nested(size_t n, const char *open, const char *inner, const char *close)
{
	size_t cap = n * (strlen(open) + strlen(close)) + 64, w = 0;
	char *yaml = malloc(cap);
	if (yaml == NULL)
		return NULL;
	w += (size_t)snprintf(yaml, cap, "x: ");
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(yaml + w, cap - w, "%s", open);
	w += (size_t)snprintf(yaml + w, cap - w, "%s", inner);
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(yaml + w, cap - w, "%s", close);
	snprintf(yaml + w, cap - w, "\nweights: []\n");
	return yaml;
}

TEST(nesting_is_capped_at_yaml_v3s_depth)
{
	/* The top-level mapping is one level: 9,999 more are allowed. */
	char *yaml = nested(9999, "[", "", "]");
	CHECK(yaml != NULL);
	wl_config *c = parse(yaml);
	free(yaml);
	CHECK(c != NULL);
	wl_config_free(c);
	yaml = nested(10000, "[", "", "]");
	CHECK(yaml != NULL);
	int ok = parse_fails(yaml, "cog.yaml: YAML error at line 1, column 10003: exceeded max depth "
	                           "of 10000");
	free(yaml);
	CHECK(ok);
	yaml = nested(100000, "{a: ", "1", "}");
	CHECK(yaml != NULL);
	ok = parse_fails_with(yaml, "exceeded max depth of 10000");
	free(yaml);
	CHECK(ok);
	/* Block sequences nest one level per "- " on a single line. */
	size_t n = 100000;
	yaml = malloc(2 * n + 32);
	CHECK(yaml != NULL);
	memcpy(yaml, "weights:\n", 9);
	for (size_t i = 0; i < n; i++)
		memcpy(yaml + 9 + 2 * i, "- ", 2);
	memcpy(yaml + 9 + 2 * n, "x\n", 3);
	ok = parse_fails(yaml, "cog.yaml: YAML error at line 2, column 19999: exceeded max depth of "
	                       "10000");
	free(yaml);
	CHECK(ok);
}

TEST(rule_source_and_uri_are_present)
{
	CHECK(parse_fails_with("weights:\n  - name: w\n    target: /a\n",
	                       "cog.yaml: weights[0]: source is required"));
	CHECK(parse_fails_with("weights:\n  - name: w\n    target: /a\n    source:\n",
	                       "weights[0]: source is required"));
	CHECK(parse_fails_with(W1("    source:\n      include: ['*.bin']\n"),
	                       "cog.yaml: weights[0].source: uri is required"));
	CHECK(parse_fails_with(W1("    source: {uri: ~}\n"), "weights[0].source: uri is required"));
	CHECK(parse_fails_with(W1("    source: []\n"), "weights[0].source: at least one source"));
}

TEST(rule_pattern_not_empty_after_trimming)
{
	CHECK(parse_fails(W1("    source: {uri: w, include: [a, '  ']}\n"),
	                  "cog.yaml: weights[0].source.include[1]: pattern must not be empty"));
	CHECK(parse_fails(W1("    source: {uri: w, exclude: ['\xe3\x80\x80\xc2\xa0']}\n"),
	                  "cog.yaml: weights[0].source.exclude[0]: pattern must not be empty"));
	CHECK(parse_fails(W1("    source: {uri: w, exclude: ['']}\n"),
	                  "cog.yaml: weights[0].source.exclude[0]: pattern must not be empty"));
	CHECK(parse_fails_with(W1("    source: {uri: w, exclude: [~]}\n"), "pattern must not be empty"));
}

TEST(rule_pattern_no_leading_negation)
{
	CHECK(parse_fails(W1("    source: {uri: w, include: ['  !*.bin']}\n"),
	                  "cog.yaml: weights[0].source.include[0]: negation patterns (starting with "
	                  "'!') are not supported"));
	wl_config *c = parse(W1("    source: {uri: w, include: ['a!b']}\n"));
	CHECK(c != NULL);
	wl_config_free(c);
}

TEST(rule_pattern_no_backslash)
{
	CHECK(parse_fails(W1("    source: {uri: w, exclude: [ok, 'sub\\dir']}\n"),
	                  "cog.yaml: weights[0].source.exclude[1]: patterns must use forward "
	                  "slashes, not backslashes"));
}

TEST(rule_patterns_of_a_source_list_name_the_source)
{
	CHECK(parse_fails(W1("    source:\n      - {uri: a}\n      - {uri: b, include: ['!x']}\n"),
	                  "cog.yaml: weights[0].source[1].include[0]: negation patterns (starting "
	                  "with '!') are not supported"));
}

TEST(rule_first_problem_wins)
{
	/* Rows apply per weight in table order, weights in order. */
	CHECK(parse_fails_with("weights:\n  - name: a\n    target: rel\n    source: {uri: w}\n"
	                       "  - name: B\n    target: /b\n    source: {uri: w}\n",
	                       "weights[0].target: target must be an absolute path"));
	CHECK(parse_fails_with("weights:\n  - name: A\n    target: rel\n"
	                       "    source: {uri: w, include: ['!x']}\n",
	                       "weights[0].name:"));
	CHECK(parse_fails_with("weights:\n  - name: a\n    target: /a\n"
	                       "    source: {uri: w, include: ['!x'], exclude: ['']}\n",
	                       "weights[0].source.include[0]: negation"));
	/* Validation comes before URI normalization. */
	CHECK(parse_fails_with("weights:\n  - name: a\n    target: /a\n    source: {uri: '..'}\n"
	                       "  - name: b\n    target: b\n    source: {uri: w}\n",
	                       "weights[1].target"));
}

TEST(rule_file_name_is_used_in_messages)
{
	const char *yaml = "weights:\n  - name: W\n    target: /a\n    source: {uri: w}\n";
	wl_config *c = NULL;
	CHECK_ERR(wl_config_parse(&c, yaml, strlen(yaml), "proj/cog.yaml"), WL_EPARSE,
	          "proj/cog.yaml: weights[0].name: ");
}

/* ---- §8.2 normalization ---- */

static int uri_is(const char *in, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	int rc = wl_normalize_uri(&out, &len, wl_str(in));
	if (rc != 0) {
		printf("  NormalizeURI(\"%s\") failed: %s\n", in, wl_error_last()->message);
		return 0;
	}
	int ok = len == strlen(want) && strcmp(out, want) == 0;
	if (!ok)
		printf("  NormalizeURI(\"%s\") = \"%s\", want \"%s\"\n", in, out, want);
	wl_free(out);
	return ok;
}

static int uri_fails(const char *in, const char *message)
{
	char *out = (char *)1;
	int rc = wl_normalize_uri(&out, NULL, wl_str(in));
	if (rc != WL_EINVALID || out != NULL) {
		printf("  NormalizeURI(\"%s\") returned %d\n", in, rc);
		return 0;
	}
	if (strcmp(wl_error_last()->message, message) != 0) {
		printf("  message \"%s\"\n     want \"%s\"\n", wl_error_last()->message, message);
		return 0;
	}
	return 1;
}

TEST(normalize_relative_paths_become_file_dot_slash)
{
	CHECK(uri_is("weights", "file://./weights"));
	CHECK(uri_is("./weights", "file://./weights"));
	CHECK(uri_is("file://weights", "file://./weights"));
	CHECK(uri_is("file://./weights", "file://./weights"));
	CHECK(uri_is("./weights/./", "file://./weights"));
	CHECK(uri_is("./weights//models", "file://./weights/models"));
	CHECK(uri_is("./models//base/.", "file://./models/base"));
	CHECK(uri_is("a/../b", "file://./b"));
}

TEST(normalize_absolute_paths_become_file_triple_slash)
{
	CHECK(uri_is("/data//weights", "file:///data/weights"));
	CHECK(uri_is("file:///data/weights/", "file:///data/weights"));
	CHECK(uri_is("/data//models/./x/", "file:///data/models/x"));
	CHECK(uri_is("/..", "file:///"));
}

TEST(normalize_hf_and_huggingface)
{
	CHECK(uri_is("hf://org/repo@main", "hf://org/repo"));
	CHECK(uri_is("huggingface://org/repo", "hf://org/repo"));
	CHECK(uri_is("hf://org/repo", "hf://org/repo"));
	CHECK(uri_is("huggingface://org/repo@v2", "hf://org/repo@v2"));
	CHECK(uri_is("hf://org/repo@refs/pr/1", "hf://org/repo@refs/pr/1"));
	CHECK(uri_is("hf://microsoft/resnet-50@main", "hf://microsoft/resnet-50"));
	CHECK(uri_is("hf://org/re@po@main", "hf://org/re@po")); /* split at the last '@' */
}

TEST(normalize_error_empty_uri)
{
	CHECK(uri_fails("", "weight source.uri is required"));
	CHECK(parse_fails(W1("    source: {uri: ''}\n"),
	                  "cog.yaml: weight \"w\": weight source.uri is required"));
}

TEST(normalize_error_project_directory)
{
	CHECK(uri_fails(".", "weight source cannot be the project directory itself"));
	CHECK(uri_fails("./", "weight source cannot be the project directory itself"));
	CHECK(uri_fails("file://.", "weight source cannot be the project directory itself"));
	CHECK(uri_fails("a/..", "weight source cannot be the project directory itself"));
}

TEST(normalize_error_escapes_project)
{
	CHECK(uri_fails("../x", "weight source \"../x\" escapes the project directory"));
	CHECK(uri_fails("file://../x", "weight source \"../x\" escapes the project directory"));
	CHECK(uri_fails("a/../../x", "weight source \"a/../../x\" escapes the project directory"));
	/* A prefix test: names starting with ".." are rejected too. */
	CHECK(uri_fails("..foo", "weight source \"..foo\" escapes the project directory"));
	CHECK(uri_fails("...", "weight source \"...\" escapes the project directory"));
}

TEST(normalize_error_empty_file_path)
{
	CHECK(uri_fails("file://", "empty weight source path"));
}

TEST(normalize_error_hf)
{
	CHECK(uri_fails("hf://", "empty hf:// URI"));
	CHECK(uri_fails("huggingface://", "empty hf:// URI"));
	CHECK(uri_fails("hf://org", "invalid hf:// repo \"org\": expected org/repo"));
	CHECK(uri_fails("hf://a/b/c", "invalid hf:// repo \"a/b/c\": expected org/repo"));
	CHECK(uri_fails("hf:///repo", "invalid hf:// repo \"/repo\": expected org/repo"));
	CHECK(uri_fails("hf://org/", "invalid hf:// repo \"org/\": expected org/repo"));
	CHECK(uri_fails("hf://org/repo@", "empty ref in hf:// URI: \"hf://org/repo@\""));
	/* An '@' at position 0 does not split. */
	CHECK(uri_fails("hf://@main", "invalid hf:// repo \"@main\": expected org/repo"));
}

TEST(normalize_error_unsupported_scheme)
{
	CHECK(uri_fails("s3://b/k", "unsupported weight source scheme \"s3\" in URI \"s3://b/k\""));
	CHECK(uri_fails("HF://org/repo",
	                "unsupported weight source scheme \"HF\" in URI \"HF://org/repo\""));
	CHECK(uri_fails("File:///x", "unsupported weight source scheme \"File\" in URI \"File:///x\""));
}

TEST(normalize_error_names_the_weight)
{
	CHECK(parse_fails("weights:\n  - name: up\n    target: /src/up\n    source: {uri: ../weights}\n",
	                  "cog.yaml: weight \"up\": weight source \"../weights\" escapes the project "
	                  "directory"));
	CHECK(parse_fails("weights:\n  - name: s3\n    target: /s\n    source:\n"
	                  "      - {uri: a}\n      - {uri: 's3://b/k'}\n",
	                  "cog.yaml: weight \"s3\": unsupported weight source scheme \"s3\" in URI "
	                  "\"s3://b/k\""));
}

TEST(normalize_target_is_kept_as_written)
{
	wl_config *c = parse("weights:\n  - {name: w, target: /src//w/, source: {uri: w}}\n");
	CHECK(c != NULL);
	CHECK(str_is(c->weights[0].target, "/src//w/"));
	wl_config_free(c);
}

TEST(normalize_patterns_trimmed_of_unicode_white_space)
{
	/* TAB, NEL, NBSP, U+1680, U+2000, U+200A, U+2028, U+2029, U+202F,
	 * U+205F, U+3000 around the text; U+200B is not white space. */
	wl_config *c = parse(W1("    source:\n      uri: w\n      include:\n"
	                        "        - \"\\t\\u0085\\u00a0a.bin\\u1680\\u2000\\u200a\"\n"
	                        "        - \"\\u2028\\u2029\\u202f b \\u205f\\u3000\\v\\f\\r\\n\"\n"
	                        "        - \"\\u200bc\"\n"));
	CHECK(c != NULL);
	const wl_source *s = &c->weights[0].sources[0];
	CHECK_INT(s->include_count, 3);
	CHECK(str_is(s->include[0], "a.bin"));
	CHECK(str_is(s->include[1], "b"));
	CHECK(str_is(s->include[2], "\xe2\x80\x8b" "c"));
	wl_config_free(c);
}

TEST(normalize_patterns_sorted_bytewise_duplicates_kept)
{
	wl_config *c = parse(W1("    source:\n      uri: w\n"
	                        "      exclude: [b, '\xc3\xa9', a, _, B, 'x ', x, ' x', ab]\n"));
	CHECK(c != NULL);
	const wl_source *s = &c->weights[0].sources[0];
	static const char *const want[] = {"B", "_", "a", "ab", "b", "x", "x", "x", "\xc3\xa9"};
	CHECK_INT(s->exclude_count, 9);
	for (size_t i = 0; i < 9; i++)
		CHECK(str_is(s->exclude[i], want[i]));
	wl_config_free(c);
}

TEST(normalize_absent_list_stays_absent)
{
	wl_config *c = parse(W1("    source: {uri: w, exclude: []}\n"));
	CHECK(c != NULL);
	CHECK_INT(c->weights[0].sources[0].include_count, 0);
	CHECK_INT(c->weights[0].sources[0].exclude_count, 0);
	wl_config_free(c);
}

/* ---- §13 source as a sequence ---- */

TEST(source_as_sequence_of_mappings)
{
	wl_config *c = parse(W1("    source:\n      - uri: hf://org/repo@main\n"
	                        "        include: [z, a]\n      - {uri: ./extra/}\n"));
	CHECK(c != NULL);
	const wl_config_weight *w = &c->weights[0];
	CHECK(w->source_is_list);
	CHECK_INT(w->source_count, 2);
	CHECK(str_is(w->sources[0].uri, "hf://org/repo"));
	CHECK(str_is(w->sources[0].include[0], "a"));
	CHECK(str_is(w->sources[0].include[1], "z"));
	CHECK(str_is(w->sources[1].uri, "file://./extra"));
	CHECK_INT(w->sources[1].include_count, 0);
	wl_config_free(c);
}

TEST(source_as_sequence_of_one_is_a_single_source)
{
	wl_config *c = parse(W1("    source:\n      - uri: w\n"));
	CHECK(c != NULL);
	CHECK(c->weights[0].source_is_list);
	CHECK_INT(c->weights[0].source_count, 1);
	CHECK(str_is(c->weights[0].sources[0].uri, "file://./w"));
	wl_config_free(c);
}

/* ---- loading ---- */

TEST(load_missing_file_is_not_found)
{
	wl_config *c = (wl_config *)1;
	CHECK_ERR(wl_config_load(&c, "no/such/dir/cog.yaml"), WL_ENOTFOUND, "no/such/dir/cog.yaml");
	CHECK(c == NULL);
}

TEST(load_refuses_a_fifo_at_once)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/wl-cogyaml-fifo-%d", dir != NULL && dir[0] ? dir : "/tmp",
	         (int)getpid());
	CHECK(mkfifo(path, 0600) == 0);
	wl_config *c = (wl_config *)1;
	char want[600];
	snprintf(want, sizeof want, "read %s: not a regular file (a FIFO)", path);
	int rc = wl_config_load(&c, path);
	unlink(path);
	CHECK_INT(rc, WL_EIO);
	CHECK_STR(wl_error_last()->message, want);
	CHECK(c == NULL);
}

TEST(load_reads_the_file_and_names_it)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/wl-cogyaml-XXXXXX", dir != NULL && dir[0] ? dir : "/tmp");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *yaml = "weights:\n  - {name: w, target: /w, source: {uri: hf://o/r@x}}\n";
	CHECK(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(fd);
	wl_config *c = NULL;
	int rc = wl_config_load(&c, path);
	if (rc == 0 && c->weight_count == 1 && str_is(c->weights[0].sources[0].uri, "hf://o/r@x")) {
		wl_config_free(c);
		c = NULL;
		const char *bad = "weights: [1]\n";
		FILE *f = fopen(path, "w");
		fputs(bad, f);
		fclose(f);
		rc = wl_config_load(&c, path) == WL_EPARSE &&
		             strncmp(wl_error_last()->message, path, strlen(path)) == 0
		         ? 0
		         : -1;
	} else {
		rc = -1;
	}
	unlink(path);
	wl_config_free(c);
	CHECK_INT(rc, 0);
}

TEST(free_null_is_a_no_op)
{
	wl_config_free(NULL);
	CHECK(1);
}

int main(void)
{
	RUN(stanza_reads_only_the_weights_key);
	RUN(stanza_absent_null_or_empty_declares_nothing);
	RUN(stanza_keeps_declaration_order);
	RUN(stanza_scalars_are_taken_as_their_text);
	RUN(stanza_null_pattern_lists_are_absent);
	RUN(stanza_resolves_anchors_and_aliases);
	RUN(stanza_rejects_merge_keys);
	RUN(stanza_rejects_unknown_keys_in_weight);
	RUN(stanza_rejects_unknown_keys_in_source);
	RUN(stanza_rejects_duplicate_keys);
	RUN(stanza_rejects_wrong_node_types);
	RUN(stanza_yaml_syntax_error_names_file_line_and_column);
	RUN(rule_name_is_required);
	RUN(rule_name_matches_pattern);
	RUN(rule_name_is_unique);
	RUN(rule_target_is_required);
	RUN(rule_target_is_absolute);
	RUN(rule_target_must_not_clean_to_root);
	RUN(rule_target_unique_after_cleaning);
	RUN(rule_targets_are_disjoint);
	RUN(rules_comparing_weights_name_the_first_failing_weight);
	RUN(twenty_thousand_weights_load_and_a_last_duplicate_is_found);
	RUN(aliases_of_a_big_anchor_are_refused_before_any_copy);
	RUN(billion_laughs_is_refused);
	RUN(aliasing_within_yaml_v3s_ratio_is_accepted);
	RUN(an_anchor_containing_its_own_alias_is_refused);
	RUN(nesting_is_capped_at_yaml_v3s_depth);
	RUN(rule_source_and_uri_are_present);
	RUN(rule_pattern_not_empty_after_trimming);
	RUN(rule_pattern_no_leading_negation);
	RUN(rule_pattern_no_backslash);
	RUN(rule_patterns_of_a_source_list_name_the_source);
	RUN(rule_first_problem_wins);
	RUN(rule_file_name_is_used_in_messages);
	RUN(normalize_relative_paths_become_file_dot_slash);
	RUN(normalize_absolute_paths_become_file_triple_slash);
	RUN(normalize_hf_and_huggingface);
	RUN(normalize_error_empty_uri);
	RUN(normalize_error_project_directory);
	RUN(normalize_error_escapes_project);
	RUN(normalize_error_empty_file_path);
	RUN(normalize_error_hf);
	RUN(normalize_error_unsupported_scheme);
	RUN(normalize_error_names_the_weight);
	RUN(normalize_target_is_kept_as_written);
	RUN(normalize_patterns_trimmed_of_unicode_white_space);
	RUN(normalize_patterns_sorted_bytewise_duplicates_kept);
	RUN(normalize_absent_list_stays_absent);
	RUN(source_as_sequence_of_mappings);
	RUN(source_as_sequence_of_one_is_a_single_source);
	RUN(load_missing_file_is_not_found);
	RUN(load_refuses_a_fifo_at_once);
	RUN(load_reads_the_file_and_names_it);
	RUN(free_null_is_a_no_op);
	return harness_summary("cogyaml");
}
