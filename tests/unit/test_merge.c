/*
 * test_merge.c - the three-way merge behind git's merge driver (SPEC.md
 * §19): one test per rule, each asserting the merged bytes, which must be
 * the canonical encoding of the expected lockfile.
 */
#include "harness.h"

/* One single-source entry: `v` stands for its content (digest, file),
 * `t` for its import time (seconds). */
static void entry_json(char *out, size_t size, const char *name, int v, int t)
{
	snprintf(out, size,
	         "{\"name\":\"%s\",\"target\":\"/src/weights/%s\","
	         "\"source\":{\"uri\":\"file://./%s\",\"fingerprint\":\"sha256:%02d\",\"include\":[],"
	         "\"exclude\":[],\"importedAt\":\"2026-01-01T00:00:%02dZ\"},"
	         "\"digest\":\"sha256:d%02d\",\"setDigest\":\"sha256:s%02d\",\"size\":%d,\"sizeCompressed\":%d,"
	         "\"files\":[{\"path\":\"f%02d.bin\",\"size\":%d,\"digest\":\"sha256:f%02d\",\"layer\":\"sha256:l%02d\"}],"
	         "\"layers\":[{\"digest\":\"sha256:l%02d\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
	         "\"size\":%d,\"sizeUncompressed\":%d}]}",
	         name, name, name, v, t, v, v, v, v, v, v, v, v, v, v + 1000, v);
}

/*
 * A lockfile from a spec like "a1 b2@5": weight a at content 1, weight b
 * at content 2 imported at second 5 (default 0). "-" is the empty lockfile.
 */
static wl_lock *lock_of(const char *spec, const char *envelope)
{
	char json[16384];
	size_t n = (size_t)snprintf(json, sizeof json, "{\"version\":1,\"envelopeFormat\":\"%s\",\"weights\":[",
	                            envelope ? envelope : "");
	const char *p = spec;
	bool first = true;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '-')
			break;
		char name[16];
		size_t k = 0;
		while (*p >= 'a' && *p <= 'z' && k + 1 < sizeof name)
			name[k++] = *p++;
		name[k] = '\0';
		int v = (int)strtol(p, (char **)&p, 10);
		int t = 0;
		if (*p == '@')
			t = (int)strtol(p + 1, (char **)&p, 10);
		char e[2048];
		entry_json(e, sizeof e, name, v, t);
		n += (size_t)snprintf(json + n, sizeof json - n, "%s%s", first ? "" : ",", e);
		first = false;
	}
	snprintf(json + n, sizeof json - n, "]}");
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, json, strlen(json), "t.lock") != 0)
		printf("  parse failed: %s\n", wl_error_last()->message);
	return lock;
}

static wl_merge_report *report;
static wl_lock *base, *ours, *theirs;

static void reset(void)
{
	wl_merge_report_free(report);
	wl_lock_free(base);
	wl_lock_free(ours);
	wl_lock_free(theirs);
	report = NULL;
	base = ours = theirs = NULL;
}

/* Merges the three specs; returns the report's conflict count, or -1. */
static int merge3(const char *b, const char *o, const char *t)
{
	reset();
	base = lock_of(b, NULL);
	ours = lock_of(o, NULL);
	theirs = lock_of(t, NULL);
	if (base == NULL || ours == NULL || theirs == NULL)
		return -1;
	if (wl_lock_merge3(&report, base, ours, theirs) != 0) {
		printf("  merge failed: %s\n", wl_error_last()->message);
		return -1;
	}
	return (int)report->conflict_count;
}

/* True when `lock` encodes exactly as the lockfile of `spec` does. */
static bool encodes_as(wl_lock *lock, const char *spec, const char *envelope)
{
	wl_lock *want = lock_of(spec, envelope);
	char *got = NULL, *expected = NULL;
	size_t got_len = 0, expected_len = 0;
	bool same = want != NULL && wl_lock_marshal(&got, &got_len, lock) == 0 &&
	            wl_lock_marshal(&expected, &expected_len, want) == 0 && got_len == expected_len &&
	            memcmp(got, expected, got_len) == 0;
	if (!same && got != NULL && expected != NULL)
		printf("  got:\n%s\n  want:\n%s\n", got, expected);
	wl_free(got);
	wl_free(expected);
	wl_lock_free(want);
	return same;
}

/* The bytes of `lock`, for proving a conflict left it as it was. */
static char *bytes_of(wl_lock *lock)
{
	char *out = NULL;
	size_t len = 0;
	if (wl_lock_marshal(&out, &len, lock) != 0)
		return NULL;
	return out;
}

TEST(a_weight_changed_on_their_side_only_takes_theirs)
{
	CHECK_INT(merge3("a1 b1", "a1 b1", "a1 b2@7"), 0);
	CHECK(encodes_as(ours, "a1 b2@7", NULL));
	CHECK_INT(report->taken, 1);
}

TEST(a_weight_changed_on_our_side_only_keeps_ours)
{
	CHECK_INT(merge3("a1 b1", "a3@4 b1", "a1 b1"), 0);
	CHECK(encodes_as(ours, "a3@4 b1", NULL));
	CHECK_INT(report->taken, 0);
}

TEST(changes_on_different_weights_are_combined)
{
	CHECK_INT(merge3("a1 b1", "a2 b1", "a1 b3"), 0);
	CHECK(encodes_as(ours, "a2 b3", NULL));
}

TEST(a_weight_changed_identically_on_both_sides_keeps_ours)
{
	CHECK_INT(merge3("a1", "a2@3", "a2@9"), 0);
	CHECK(encodes_as(ours, "a2@3", NULL));
}

TEST(a_difference_in_import_time_alone_is_no_change)
{
	/* Their side re-imported with the same result: ours (a real change) wins. */
	CHECK_INT(merge3("a1@1", "a2@2", "a1@8"), 0);
	CHECK(encodes_as(ours, "a2@2", NULL));
	/* Only import times moved on both sides: ours's time is kept. */
	CHECK_INT(merge3("a1@1", "a1@2", "a1@8"), 0);
	CHECK(encodes_as(ours, "a1@2", NULL));
}

TEST(a_weight_changed_differently_on_both_sides_is_a_conflict)
{
	CHECK_INT(merge3("a1 b1", "a1 b2", "a1 b3"), 1);
	CHECK_INT(report->conflicts[0].kind, WL_CONFLICT_BOTH_CHANGED);
	CHECK_MEM(report->conflicts[0].name.ptr, report->conflicts[0].name.len, "b");
	CHECK(report->conflicts[0].base != NULL && report->conflicts[0].ours != NULL &&
	      report->conflicts[0].theirs != NULL);
	CHECK(encodes_as(ours, "a1 b2", NULL));
}

TEST(a_conflict_leaves_ours_exactly_as_it_was)
{
	wl_lock *o = lock_of("c1 a2 b2@4", NULL);
	char *before = bytes_of(o);
	CHECK(before != NULL);
	reset();
	base = lock_of("a1 b1", NULL);
	theirs = lock_of("a3 b1 d1", NULL);
	ours = o;
	CHECK_OK(wl_lock_merge3(&report, base, ours, theirs));
	CHECK_INT(report->conflict_count, 1);
	char *after = bytes_of(ours);
	CHECK(after != NULL && strcmp(before, after) == 0);
	wl_free(before);
	wl_free(after);
}

TEST(every_conflict_is_reported_in_result_order)
{
	CHECK_INT(merge3("a1 b1 c1", "a2 b1 c2", "a3 b1 c3"), 2);
	CHECK_MEM(report->conflicts[0].name.ptr, report->conflicts[0].name.len, "a");
	CHECK_MEM(report->conflicts[1].name.ptr, report->conflicts[1].name.len, "c");
}

TEST(the_same_weight_added_equally_on_both_sides_is_merged)
{
	CHECK_INT(merge3("a1", "a1 n5@1", "a1 n5@2"), 0);
	CHECK(encodes_as(ours, "a1 n5@1", NULL));
}

TEST(the_same_weight_added_differently_on_both_sides_is_a_conflict)
{
	CHECK_INT(merge3("a1", "a1 n5", "a1 n6"), 1);
	CHECK_INT(report->conflicts[0].kind, WL_CONFLICT_BOTH_ADDED);
	CHECK(report->conflicts[0].base == NULL);
	CHECK(encodes_as(ours, "a1 n5", NULL));
}

TEST(removed_on_one_side_and_unchanged_on_the_other_is_removed)
{
	CHECK_INT(merge3("a1 b1 c1", "a1 c1", "a1 b1 c1@5"), 0);
	CHECK(encodes_as(ours, "a1 c1", NULL));
	CHECK_INT(merge3("a1 b1 c1", "a1 b1@3 c1", "a1 c1"), 0);
	CHECK(encodes_as(ours, "a1 c1", NULL));
	CHECK_INT(report->removed, 1);
}

TEST(removed_on_one_side_and_changed_on_the_other_is_a_conflict)
{
	CHECK_INT(merge3("a1 b1", "a1", "a1 b2"), 1);
	CHECK_INT(report->conflicts[0].kind, WL_CONFLICT_OURS_REMOVED);
	CHECK(report->conflicts[0].ours == NULL && report->conflicts[0].theirs != NULL);
	CHECK(encodes_as(ours, "a1", NULL));
	CHECK_INT(merge3("a1 b1", "a1 b2", "a1"), 1);
	CHECK_INT(report->conflicts[0].kind, WL_CONFLICT_THEIRS_REMOVED);
	CHECK(encodes_as(ours, "a1 b2", NULL));
}

TEST(removed_on_both_sides_is_removed)
{
	CHECK_INT(merge3("a1 b1", "a1", "a1"), 0);
	CHECK(encodes_as(ours, "a1", NULL));
	/* Everything removed: an empty list, not null. */
	CHECK_INT(merge3("a1", "-", "a1"), 0);
	char *got = bytes_of(ours);
	CHECK(got != NULL);
	CHECK_STR(got, "{\n  \"version\": 1,\n  \"envelopeFormat\": \"\",\n  \"weights\": []\n}");
	wl_free(got);
}

TEST(ours_order_is_kept_and_their_new_weights_are_appended_in_their_order)
{
	CHECK_INT(merge3("a1 b1", "b1 o1 a1", "z1 a1 y1 b2"), 0);
	CHECK(encodes_as(ours, "b2 o1 a1 z1 y1", NULL));
	CHECK_INT(report->added, 2);
}

TEST(no_base_merges_as_two_additions)
{
	reset();
	ours = lock_of("a1", NULL);
	theirs = lock_of("b1", NULL);
	CHECK_OK(wl_lock_merge3(&report, NULL, ours, theirs));
	CHECK_INT(report->conflict_count, 0);
	CHECK(encodes_as(ours, "a1 b1", NULL));
}

TEST(two_weights_given_one_target_are_a_conflict)
{
	reset();
	base = lock_of("a1", NULL);
	ours = lock_of("a1 b1", NULL);
	/* Theirs adds "c" with b's target. */
	char json[8192], e[2048];
	entry_json(e, sizeof e, "c", 2, 0);
	char *t = strstr(e, "/src/weights/c");
	t[strlen("/src/weights/")] = 'b';
	char a[2048];
	entry_json(a, sizeof a, "a", 1, 0);
	snprintf(json, sizeof json, "{\"version\":1,\"weights\":[%s,%s]}", a, e);
	CHECK_OK(wl_lock_parse(&theirs, json, strlen(json), "t.lock"));
	char *before = bytes_of(ours);
	CHECK_OK(wl_lock_merge3(&report, base, ours, theirs));
	CHECK_INT(report->conflict_count, 1);
	CHECK_INT(report->conflicts[0].kind, WL_CONFLICT_SAME_TARGET);
	CHECK_MEM(report->conflicts[0].name.ptr, report->conflicts[0].name.len, "c");
	CHECK_MEM(report->conflicts[0].other.ptr, report->conflicts[0].other.len, "b");
	char *after = bytes_of(ours);
	CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
	wl_free(before);
	wl_free(after);
}

/* envelopeFormat: base, ours, theirs; want, and whether both changed. */
static int envelope_case(const char *b, const char *o, const char *t, const char *want, bool conflict)
{
	reset();
	base = lock_of("a1", b);
	ours = lock_of("a1", o);
	theirs = lock_of("a1", t);
	if (wl_lock_merge3(&report, base, ours, theirs) != 0 || report->conflict_count != 0)
		return 0;
	if (report->envelope_conflict != conflict)
		return 0;
	return encodes_as(ours, "a1", want);
}

TEST(envelope_format_changed_on_one_side_takes_that_side)
{
	CHECK(envelope_case("sha256:e1", "sha256:e1", "sha256:e2", "sha256:e2", false));
	CHECK(envelope_case("sha256:e1", "sha256:e2", "sha256:e1", "sha256:e2", false));
	CHECK(envelope_case("sha256:e1", "sha256:e2", "sha256:e2", "sha256:e2", false));
}

TEST(envelope_format_changed_differently_on_both_sides_keeps_ours)
{
	CHECK(envelope_case("sha256:e1", "sha256:e2", "sha256:e3", "sha256:e2", true));
}

/* A multi-source lockfile with one weight of `n` sources. */
static wl_lock *multi_lock(const char *name, int n)
{
	char json[4096];
	size_t k = (size_t)snprintf(json, sizeof json,
	                            "{\"version\":1,\"weights\":[{\"name\":\"%s\",\"target\":\"/w/%s\",\"sources\":[",
	                            name, name);
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(json + k, sizeof json - k, "%s{\"uri\":\"hf://o/r%d\",\"fingerprint\":\"commit:%d\"}",
		                      i ? "," : "", i, i);
	snprintf(json + k, sizeof json - k, "],\"importedAt\":\"2026-01-01T00:00:00Z\",\"files\":[],\"layers\":[]}]}");
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, json, strlen(json), "m.lock") != 0)
		printf("  parse failed: %s\n", wl_error_last()->message);
	return lock;
}

TEST(the_result_keeps_our_shape)
{
	reset();
	base = lock_of("a1", NULL);
	ours = lock_of("a1", NULL);
	theirs = multi_lock("m", 1);
	CHECK_OK(wl_lock_merge3(&report, base, ours, theirs));
	CHECK(!ours->multi_source && !report->became_multi);
	char *got = bytes_of(ours);
	CHECK(got != NULL && strstr(got, "\"sources\"") == NULL && strstr(got, "hf://o/r0") != NULL);
	wl_free(got);
}

TEST(a_weight_of_several_sources_makes_a_single_source_result_multi_source)
{
	reset();
	base = lock_of("a1", NULL);
	ours = lock_of("a1", NULL);
	theirs = multi_lock("m", 2);
	CHECK_OK(wl_lock_merge3(&report, base, ours, theirs));
	CHECK(ours->multi_source && report->became_multi);
}

TEST(an_empty_ours_takes_their_shape)
{
	reset();
	base = lock_of("-", NULL);
	ours = lock_of("-", NULL);
	theirs = multi_lock("m", 1);
	CHECK_OK(wl_lock_merge3(&report, base, ours, theirs));
	CHECK(ours->multi_source);
	char *got = bytes_of(ours);
	CHECK(got != NULL && strstr(got, "\"sources\"") != NULL);
	wl_free(got);
}

int main(void)
{
	RUN(a_weight_changed_on_their_side_only_takes_theirs);
	RUN(a_weight_changed_on_our_side_only_keeps_ours);
	RUN(changes_on_different_weights_are_combined);
	RUN(a_weight_changed_identically_on_both_sides_keeps_ours);
	RUN(a_difference_in_import_time_alone_is_no_change);
	RUN(a_weight_changed_differently_on_both_sides_is_a_conflict);
	RUN(a_conflict_leaves_ours_exactly_as_it_was);
	RUN(every_conflict_is_reported_in_result_order);
	RUN(the_same_weight_added_equally_on_both_sides_is_merged);
	RUN(the_same_weight_added_differently_on_both_sides_is_a_conflict);
	RUN(removed_on_one_side_and_unchanged_on_the_other_is_removed);
	RUN(removed_on_one_side_and_changed_on_the_other_is_a_conflict);
	RUN(removed_on_both_sides_is_removed);
	RUN(ours_order_is_kept_and_their_new_weights_are_appended_in_their_order);
	RUN(no_base_merges_as_two_additions);
	RUN(two_weights_given_one_target_are_a_conflict);
	RUN(envelope_format_changed_on_one_side_takes_that_side);
	RUN(envelope_format_changed_differently_on_both_sides_keeps_ours);
	RUN(the_result_keeps_our_shape);
	RUN(a_weight_of_several_sources_makes_a_single_source_result_multi_source);
	RUN(an_empty_ours_takes_their_shape);
	reset();
	return harness_summary("merge");
}
