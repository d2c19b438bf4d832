/*
 * test_drift.c - CheckDrift (SPEC.md §8.3), its details text (§8.4) and
 * the rules for weights with other than one source (§13). Locks are built
 * in memory; declarations come from wl_config_parse. Expected texts are the
 * SPEC's examples or follow directly from its rules.
 */
#include "harness.h"

#define ARROW " \xE2\x86\x92 "

/* ---- building locks in memory ---- */

#define MAX_ENTRIES 8
#define MAX_SOURCES 4
#define MAX_PATTERNS 8

typedef struct {
	wl_lock lock;
	wl_entry entries[MAX_ENTRIES];
	wl_source sources[MAX_ENTRIES][MAX_SOURCES];
	wl_string patterns[MAX_ENTRIES][MAX_SOURCES][2][MAX_PATTERNS];
} fake_lock;

static void lock_init(fake_lock *f)
{
	memset(f, 0, sizeof *f);
	f->lock.version = 1;
	f->lock.entries = f->entries;
	f->lock.entries_present = true;
}

/* Splits "a|b|c" into patterns ("" gives none). */
static size_t split(wl_string *out, const char *list)
{
	size_t n = 0;
	while (list != NULL && *list != '\0' && n < MAX_PATTERNS) {
		const char *bar = strchr(list, '|');
		size_t len = bar ? (size_t)(bar - list) : strlen(list);
		out[n++] = (wl_string){len ? list : NULL, len};
		list = bar ? bar + 1 : list + len;
	}
	return n;
}

/* Adds an entry with no sources; returns it. */
static wl_entry *add_entry(fake_lock *f, const char *name, const char *target)
{
	size_t i = f->lock.entry_count++;
	wl_entry *e = &f->entries[i];
	e->name = wl_str(name);
	e->target = wl_str(target);
	e->sources = f->sources[i];
	e->sources_present = true;
	/* Values drift must ignore. */
	e->digest = wl_str("sha256:1111111111111111111111111111111111111111111111111111111111111111");
	e->set_digest = wl_str("sha256:2222222222222222222222222222222222222222222222222222222222222222");
	e->size = 42;
	e->imported_at = (wl_time){2025, 1, 2, 3, 4, 5, 6, 0};
	return e;
}

static void add_source(fake_lock *f, wl_entry *e, const char *uri, const char *include,
                       const char *exclude)
{
	size_t i = (size_t)(e - f->entries), s = e->source_count++;
	wl_source *src = &f->sources[i][s];
	src->uri = wl_str(uri);
	src->fingerprint = wl_str("sha256:abc");
	src->include = f->patterns[i][s][0];
	src->include_count = split(src->include, include);
	src->exclude = f->patterns[i][s][1];
	src->exclude_count = split(src->exclude, exclude);
}

/* A single-source entry. */
static void add_single(fake_lock *f, const char *name, const char *target, const char *uri,
                       const char *include, const char *exclude)
{
	add_source(f, add_entry(f, name, target), uri, include, exclude);
}

/* ---- running drift ---- */

static wl_config *config_of(const char *yaml)
{
	wl_config *c = NULL;
	if (wl_config_parse(&c, yaml, strlen(yaml), NULL) != 0) {
		printf("  config: %s\n", wl_error_last()->message);
		return NULL;
	}
	return c;
}

typedef struct {
	const char *name;
	wl_drift_kind kind;
	const char *details;
} want_result;

/* Runs drift and compares every result (name, kind, details) in order. */
static int drift_is(const wl_lock *lock, const char *yaml, const want_result *want, size_t n)
{
	wl_config *c = config_of(yaml);
	if (c == NULL)
		return 0;
	wl_drift_result *got = (wl_drift_result *)1;
	size_t count = 99;
	int ok = 1;
	if (wl_check_drift(&got, &count, lock, c) != 0) {
		printf("  drift failed: %s\n", wl_error_last()->message);
		wl_config_free(c);
		return 0;
	}
	if (count != n) {
		printf("  %zu results, want %zu\n", count, n);
		ok = 0;
	}
	if (n == 0 && got != NULL) {
		printf("  results not NULL when empty\n");
		ok = 0;
	}
	for (size_t i = 0; ok && i < n; i++) {
		const wl_drift_result *r = &got[i];
		if (r->details == NULL || r->kind != want[i].kind ||
		    r->name.len != strlen(want[i].name) || memcmp(r->name.ptr, want[i].name, r->name.len) ||
		    strcmp(r->details, want[i].details) != 0) {
			printf("  result %zu: %.*s %s \"%s\"\n        want %s %s \"%s\"\n", i,
			       (int)r->name.len, r->name.ptr, wl_drift_kind_name(r->kind),
			       r->details ? r->details : "(null)", want[i].name,
			       wl_drift_kind_name(want[i].kind), want[i].details);
			ok = 0;
		}
	}
	wl_drift_results_free(got, count);
	wl_config_free(c);
	return ok;
}

#define DRIFT(lock, yaml, ...)                                                               \
	do {                                                                                 \
		const want_result w_[] = {__VA_ARGS__};                                      \
		CHECK(drift_is(lock, yaml, w_, sizeof w_ / sizeof w_[0]));                   \
	} while (0)
#define NO_DRIFT(lock, yaml) CHECK(drift_is(lock, yaml, NULL, 0))

#define PENDING(n) {n, WL_DRIFT_PENDING, ""}
#define ORPHANED(n) {n, WL_DRIFT_ORPHANED, ""}
#define CHANGED(n, d) {n, WL_DRIFT_CONFIG_CHANGED, d}

#define ONE(name, target, source)                                                             \
	"  - name: " name "\n    target: " target "\n    source: " source "\n"

/* ---- §8.3 comparison ---- */

TEST(kind_names)
{
	CHECK_STR(wl_drift_kind_name(WL_DRIFT_PENDING), "pending");
	CHECK_STR(wl_drift_kind_name(WL_DRIFT_ORPHANED), "orphaned");
	CHECK_STR(wl_drift_kind_name(WL_DRIFT_CONFIG_CHANGED), "config-changed");
}

TEST(agreement_gives_no_results)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "parakeet", "/src/weights/parakeet", "file://./weights", "*.json|*.safetensors",
	           "");
	NO_DRIFT(&f.lock, "weights:\n" ONE("parakeet", "/src/weights/parakeet",
	                                   "{uri: weights, include: ['*.safetensors', '*.json']}"));
}

TEST(declared_but_not_in_lockfile_is_pending)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "a", "/a", "file://./a", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("a", "/a", "{uri: a}") ONE("b", "/b", "{uri: b}"),
	      PENDING("b"));
}

TEST(no_lockfile_makes_every_declaration_pending)
{
	DRIFT(NULL, "weights:\n" ONE("parakeet", "/p", "{uri: weights}") ONE("minilm", "/m",
	                                                                     "{uri: 'hf://s/m'}"),
	      PENDING("parakeet"), PENDING("minilm"));
	NO_DRIFT(NULL, "weights: []\n");
}

TEST(in_lockfile_but_not_declared_is_orphaned)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "old", "/old", "file://./old", "", "");
	DRIFT(&f.lock, "weights: []\n", ORPHANED("old"));
}

TEST(lockfile_without_declarations_orphans_every_entry)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "x", "/x", "file://./x", "", "");
	add_single(&f, "y", "/y", "file://./y", "", "");
	DRIFT(&f.lock, "image: r8.im/x\n", ORPHANED("x"), ORPHANED("y"));
}

TEST(empty_lockfile_lists_make_everything_pending)
{
	fake_lock f;
	lock_init(&f);
	f.lock.entries_present = false;
	DRIFT(&f.lock, "weights:\n" ONE("a", "/a", "{uri: a}"), PENDING("a"));
}

TEST(results_in_declaration_order_then_orphans_in_lockfile_order)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "old2", "/src/old2", "file://./old2", "", "");
	add_single(&f, "a", "/src/a", "file://./a", "", "");
	add_single(&f, "changed", "/src/c", "file://./c", "", "");
	add_single(&f, "old1", "/src/old1", "file://./old1", "", "");
	add_single(&f, "b", "/src/b", "file://./b", "", "");
	DRIFT(&f.lock,
	      "weights:\n" ONE("b", "/src/b", "{uri: ./b}") ONE("new", "/src/new", "{uri: ./n}")
	          ONE("changed", "/src/c", "{uri: ./c2}") ONE("a", "/src/a", "{uri: 'file://a'}")
	              ONE("new2", "/src/new2", "{uri: n2}"),
	      PENDING("new"), CHANGED("changed", "uri: file://./c" ARROW "file://./c2"),
	      PENDING("new2"), ORPHANED("old2"), ORPHANED("old1"));
}

TEST(details_and_name_of_results)
{
	/* Pending and orphaned carry "" (not NULL) as details; names point
	 * into the config and the lock. */
	fake_lock f;
	lock_init(&f);
	add_single(&f, "gone", "/g", "file://./g", "", "");
	wl_config *c = config_of("weights:\n" ONE("new", "/n", "{uri: n}"));
	CHECK(c != NULL);
	wl_drift_result *r = NULL;
	size_t n = 0;
	CHECK_OK(wl_check_drift(&r, &n, &f.lock, c));
	CHECK_INT(n, 2);
	CHECK(r[0].name.ptr == c->weights[0].name.ptr);
	CHECK(r[1].name.ptr == f.entries[0].name.ptr);
	CHECK(r[0].details != NULL && r[0].details[0] == '\0');
	CHECK(r[1].details != NULL && r[1].details[0] == '\0');
	wl_drift_results_free(r, n);
	wl_config_free(c);
	wl_drift_results_free(NULL, 0);
}

TEST(only_declared_intent_is_compared)
{
	/* Fingerprint, digests, sizes, importedAt and envelope play no part. */
	fake_lock f;
	lock_init(&f);
	f.lock.envelope_format = wl_str("sha256:ffff");
	add_single(&f, "w", "/src/w", "file://./weights", "", "");
	f.entries[0].sources[0].fingerprint = wl_str("commit:123");
	f.entries[0].size_compressed = 7;
	NO_DRIFT(&f.lock, "weights:\n" ONE("w", "/src/w", "{uri: weights}"));
}

TEST(lockfile_uri_is_not_renormalized)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/src/w", "weights", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/src/w", "{uri: weights}"),
	      CHANGED("w", "uri: weights" ARROW "file://./weights"));
}

TEST(lockfile_target_is_not_cleaned)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/src/w", "file://./weights", "", "");
	add_single(&f, "v", "/src/v/", "file://./v", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/src/w/", "{uri: weights}") ONE("v", "/src/v", "{uri: v}"),
	      CHANGED("w", "target: /src/w" ARROW "/src/w/"),
	      CHANGED("v", "target: /src/v/" ARROW "/src/v"));
}

TEST(lockfile_patterns_are_not_resorted)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/src/w", "file://./weights", "b|a", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/src/w", "{uri: weights, include: [b, a]}"),
	      CHANGED("w", "include: [b a]" ARROW "[a b]"));
}

TEST(declared_patterns_are_compared_trimmed_and_sorted)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/src/w", "file://./weights", "*.json|*.safetensors", "");
	NO_DRIFT(&f.lock,
	         "weights:\n" ONE("w", "/src/w", "{uri: weights, include: ['  *.safetensors', '*.json  ']}"));
}

/* ---- §8.4 details ---- */

TEST(details_uri_then_target_spec_example)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/old-path", "file://./old", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/new-path", "{uri: ./new}"),
	      CHANGED("w", "uri: file://./old" ARROW "file://./new; target: /old-path" ARROW "/new-path"));
}

TEST(details_include_spec_example)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/w", "file://./w", "*.bin", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: w, include: ['*.safetensors']}"),
	      CHANGED("w", "include: [*.bin]" ARROW "[*.safetensors]"));
}

TEST(details_exclude_spec_example)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/w", "file://./w", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: w, exclude: ['README*']}"),
	      CHANGED("w", "exclude: []" ARROW "[README*]"));
}

TEST(details_all_four_in_order)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/old/target", "hf://org/repo", "*.bin", "a|b|c");
	DRIFT(&f.lock,
	      "weights:\n" ONE("w", "/new/target",
	                       "{uri: 'hf://org/repo@v2', include: ['*.json', '*.gguf'], exclude: [big.gguf]}"),
	      CHANGED("w", "uri: hf://org/repo" ARROW "hf://org/repo@v2; target: /old/target" ARROW
	                   "/new/target; include: [*.bin]" ARROW "[*.gguf *.json]; exclude: [a b c]" ARROW
	                   "[big.gguf]"));
}

TEST(details_list_differs_by_length_or_element)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "a", "/a", "file://./a", "x|y", "");
	add_single(&f, "b", "/b", "file://./b", "x|y", "");
	DRIFT(&f.lock, "weights:\n" ONE("a", "/a", "{uri: a, include: [x]}") ONE("b", "/b", "{uri: b, include: [x, z]}"),
	      CHANGED("a", "include: [x y]" ARROW "[x]"), CHANGED("b", "include: [x y]" ARROW "[x z]"));
}

TEST(details_empty_and_absent_lists_are_equal)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/w", "file://./w", "", "");
	f.entries[0].sources[0].exclude = NULL; /* absent in the lockfile */
	NO_DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: w, include: [], exclude: []}"));
	NO_DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: w, include: ~}"));
}

TEST(details_write_values_raw_without_quoting)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/a b", "file://./a \"b\"", "x y", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/c\"d", "{uri: 'e f', include: ['q\"r']}"),
	      CHANGED("w", "uri: file://./a \"b\"" ARROW "file://./e f; target: /a b" ARROW
	                   "/c\"d; include: [x y]" ARROW "[q\"r]"));
}

TEST(details_empty_lockfile_source_as_cog_reads_later_files)
{
	/* An entry whose one source is empty (Cog v0.19.3's view of a later
	 * file) reports every declared value as new. */
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/w", "", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: weights}"),
	      CHANGED("w", "uri: " ARROW "file://./weights"));
}

/* ---- §13 multi-source ---- */

TEST(multi_one_source_each_side_uses_single_source_rules)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	add_single(&f, "w", "/old", "file://./old", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/new", "[{uri: new}]"),
	      CHANGED("w", "uri: file://./old" ARROW "file://./new; target: /old" ARROW "/new"));
}

TEST(multi_source_count_differs)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	wl_entry *e = add_entry(&f, "w", "/old");
	add_source(&f, e, "file://./a", "", "");
	add_source(&f, e, "file://./b", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/old", "{uri: zzz}"),
	      CHANGED("w", "source count: 2" ARROW "1"));
	/* target first, then the count; sources are then not compared */
	DRIFT(&f.lock, "weights:\n" ONE("w", "/new", "[{uri: a}, {uri: b}, {uri: c}]"),
	      CHANGED("w", "target: /old" ARROW "/new; source count: 2" ARROW "3"));
}

TEST(multi_lockfile_with_no_sources)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	add_entry(&f, "w", "/w");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "{uri: a}"), CHANGED("w", "source count: 0" ARROW "1"));
	f.entries[0].sources_present = false; /* "sources": null */
	DRIFT(&f.lock, "weights:\n" ONE("w", "/x", "{uri: a}"),
	      CHANGED("w", "target: /w" ARROW "/x; source count: 0" ARROW "1"));
}

TEST(multi_config_list_against_single_source_entry)
{
	fake_lock f;
	lock_init(&f);
	add_single(&f, "w", "/w", "file://./a", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "[{uri: a}, {uri: b}]"),
	      CHANGED("w", "source count: 1" ARROW "2"));
}

TEST(multi_same_count_compares_each_source_with_prefix)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	wl_entry *e = add_entry(&f, "w", "/old");
	add_source(&f, e, "file://./a", "x", "");
	add_source(&f, e, "hf://o/r", "", "e");
	DRIFT(&f.lock,
	      "weights:\n" ONE("w", "/new", "[{uri: a2, include: [y]}, {uri: 'hf://o/r@main', exclude: [f]}]"),
	      CHANGED("w", "target: /old" ARROW "/new; source[0].uri: file://./a" ARROW
	                   "file://./a2; source[0].include: [x]" ARROW "[y]; source[1].exclude: [e]" ARROW
	                   "[f]"));
}

TEST(multi_same_sources_agree)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	wl_entry *e = add_entry(&f, "w", "/w");
	add_source(&f, e, "file://./a", "x", "");
	add_source(&f, e, "hf://o/r", "", "e");
	NO_DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "[{uri: a, include: [x]}, {uri: 'hf://o/r', exclude: [e]}]"));
}

TEST(multi_source_order_matters)
{
	fake_lock f;
	lock_init(&f);
	f.lock.multi_source = true;
	wl_entry *e = add_entry(&f, "w", "/w");
	add_source(&f, e, "file://./a", "", "");
	add_source(&f, e, "file://./b", "", "");
	DRIFT(&f.lock, "weights:\n" ONE("w", "/w", "[{uri: b}, {uri: a}]"),
	      CHANGED("w", "source[0].uri: file://./a" ARROW "file://./b; source[1].uri: file://./b" ARROW
	                   "file://./a"));
}

TEST(drift_without_config_is_an_error)
{
	wl_drift_result *r = (wl_drift_result *)1;
	size_t n = 5;
	CHECK(wl_check_drift(&r, &n, NULL, NULL) == WL_EINVALID);
	CHECK(r == NULL && n == 0);
}

int main(void)
{
	RUN(kind_names);
	RUN(agreement_gives_no_results);
	RUN(declared_but_not_in_lockfile_is_pending);
	RUN(no_lockfile_makes_every_declaration_pending);
	RUN(in_lockfile_but_not_declared_is_orphaned);
	RUN(lockfile_without_declarations_orphans_every_entry);
	RUN(empty_lockfile_lists_make_everything_pending);
	RUN(results_in_declaration_order_then_orphans_in_lockfile_order);
	RUN(details_and_name_of_results);
	RUN(only_declared_intent_is_compared);
	RUN(lockfile_uri_is_not_renormalized);
	RUN(lockfile_target_is_not_cleaned);
	RUN(lockfile_patterns_are_not_resorted);
	RUN(declared_patterns_are_compared_trimmed_and_sorted);
	RUN(details_uri_then_target_spec_example);
	RUN(details_include_spec_example);
	RUN(details_exclude_spec_example);
	RUN(details_all_four_in_order);
	RUN(details_list_differs_by_length_or_element);
	RUN(details_empty_and_absent_lists_are_equal);
	RUN(details_write_values_raw_without_quoting);
	RUN(details_empty_lockfile_source_as_cog_reads_later_files);
	RUN(multi_one_source_each_side_uses_single_source_rules);
	RUN(multi_source_count_differs);
	RUN(multi_lockfile_with_no_sources);
	RUN(multi_config_list_against_single_source_entry);
	RUN(multi_same_count_compares_each_source_with_prefix);
	RUN(multi_same_sources_agree);
	RUN(multi_source_order_matters);
	RUN(drift_without_config_is_an_error);
	return harness_summary("drift");
}
