/*
 * test_strings.c - every wl_string the library hands out has a non-NULL,
 * NUL-terminated `ptr`, the empty string included (weightslock.h): walks
 * every string of locks and configs whose fields are absent, null or
 * empty, and of what is computed from them.
 */
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

static int bad_strings;

static void check_string(wl_string s, const char *what)
{
	if (s.ptr == NULL) {
		printf("  %s: ptr is NULL\n", what);
		bad_strings++;
	} else if (s.ptr[s.len] != '\0') {
		printf("  %s: not NUL-terminated\n", what);
		bad_strings++;
	}
}

static void check_source(const wl_source *s)
{
	check_string(s->uri, "source uri");
	check_string(s->fingerprint, "source fingerprint");
	for (size_t i = 0; i < s->include_count; i++)
		check_string(s->include[i], "source include");
	for (size_t i = 0; i < s->exclude_count; i++)
		check_string(s->exclude[i], "source exclude");
}

static void check_entry(const wl_entry *e)
{
	check_string(e->name, "entry name");
	check_string(e->target, "entry target");
	check_string(e->digest, "entry digest");
	check_string(e->set_digest, "entry setDigest");
	for (size_t i = 0; i < e->source_count; i++)
		check_source(&e->sources[i]);
	for (size_t i = 0; i < e->file_count; i++) {
		check_string(e->files[i].path, "file path");
		check_string(e->files[i].digest, "file digest");
		check_string(e->files[i].layer, "file layer");
	}
	for (size_t i = 0; i < e->layer_count; i++) {
		check_string(e->layers[i].digest, "layer digest");
		check_string(e->layers[i].media_type, "layer mediaType");
	}
}

static void check_lock(const wl_lock *lock)
{
	check_string(lock->envelope_format, "envelopeFormat");
	for (size_t i = 0; i < lock->entry_count; i++)
		check_entry(&lock->entries[i]);
}

static void check_config(const wl_config *c)
{
	check_string(c->image, "config image");
	check_string(c->model, "config model");
	for (size_t i = 0; i < c->weight_count; i++) {
		check_string(c->weights[i].name, "weight name");
		check_string(c->weights[i].target, "weight target");
		for (size_t k = 0; k < c->weights[i].source_count; k++)
			check_source(&c->weights[i].sources[k]);
	}
}

static wl_lock *parse_lock(const char *json)
{
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, json, strlen(json), NULL) != 0)
		printf("  parse failed: %s\n", wl_error_last()->message);
	return lock;
}

/* Lockfiles that leave out, null or empty every string field they can. */
static const char *const sparse_locks[] = {
	"{\"version\":1}",
	"{\"version\":1,\"weights\":null}",
	"{\"version\":1,\"envelopeFormat\":null,\"weights\":[]}",
	"{\"version\":1,\"weights\":[null]}",
	"{\"version\":1,\"weights\":[{}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\"}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\",\"target\":null,\"source\":{}}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"b\",\"source\":{\"uri\":null,"
	"\"include\":[null,\"\",\"x\"],\"exclude\":[null]}}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\",\"sources\":[{},null,{\"include\":[null]}]}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\",\"sources\":null,\"importedAt\":\"0001-01-01T00:00:00Z\"}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[null,{\"path\":\"f\"}],"
	"\"layers\":[null,{\"digest\":\"\"}]}]}",
	"{\"version\":1,\"weights\":[{\"name\":\"a\",\"digest\":\"\",\"setDigest\":null,"
	"\"files\":[{\"path\":\"f\",\"digest\":null,\"layer\":\"\"}],\"layers\":[{\"mediaType\":null}]}]}",
};

/* Parses DOC and walks its strings; false if it does not parse. */
static bool walk_lock(const char *doc)
{
	wl_lock *lock = parse_lock(doc);
	if (lock == NULL)
		return false;
	check_lock(lock);
	wl_lock_free(lock);
	return true;
}

static bool walk_config(const char *doc)
{
	wl_config *c = NULL;
	if (wl_config_parse(&c, doc, strlen(doc), NULL) != 0) {
		printf("  parse failed: %s\n", wl_error_last()->message);
		return false;
	}
	check_config(c);
	wl_config_free(c);
	return true;
}

/* Every document parses and hands out no bad string. */
static void walk_all(const char *const *docs, size_t n, const char *kind, bool (*walk)(const char *))
{
	for (size_t i = 0; i < n; i++) {
		bad_strings = 0;
		if (!walk(docs[i]))
			HARNESS_FAIL("%s %zu does not parse: %s", kind, i, docs[i]);
		if (bad_strings)
			HARNESS_FAIL("%s %zu: %s", kind, i, docs[i]);
		CHECK_INT(bad_strings, 0);
	}
}

TEST(parsed_locks_hand_out_no_null_string)
{
	walk_all(sparse_locks, sizeof sparse_locks / sizeof *sparse_locks, "lockfile", walk_lock);
}

TEST(new_and_upserted_locks_hand_out_no_null_string)
{
	bad_strings = 0;
	wl_lock *lock;
	CHECK_INT(wl_lock_new(&lock), 0);
	check_lock(lock);
	/* A caller's entry left zero: the copy in the lock has "" for each. */
	wl_file file = {0};
	wl_layer layer = {0};
	wl_string pattern = {NULL, 0};
	wl_source src = {0};
	src.include = &pattern;
	src.include_count = 1;
	wl_entry e = {0};
	e.name = wl_str("a");
	e.files = &file;
	e.file_count = 1;
	e.layers = &layer;
	e.layer_count = 1;
	CHECK_INT(wl_lock_upsert(lock, &e), 0);
	e.name = wl_str("b");
	e.sources = &src;
	e.source_count = 1;
	CHECK_INT(wl_lock_upsert(lock, &e), 0);
	CHECK_INT(lock->entry_count, 2);
	check_lock(lock);
	CHECK_INT(wl_lock_convert(lock, true), 0);
	check_lock(lock);
	wl_lock_free(lock);
	CHECK_INT(bad_strings, 0);
}

TEST(string_helpers_give_the_empty_string)
{
	bad_strings = 0;
	check_string(wl_str(NULL), "wl_str(NULL)");
	check_string(wl_str(""), "wl_str(\"\")");
	check_string(wl_pattern_trim(wl_str(" \t ")), "trimmed blank pattern");
	check_string(wl_pattern_trim((wl_string){NULL, 0}), "trimmed empty pattern");
	wl_string part;
	/* A scheme is a slice of its fingerprint: not NUL-terminated, but
	 * never NULL. */
	CHECK(wl_fingerprint_scheme(&part, wl_str(":abc")));
	CHECK(part.ptr != NULL && part.len == 0);
	CHECK(wl_fingerprint_value(&part, wl_str("sha256:")));
	check_string(part, "empty fingerprint value");
	CHECK_INT(bad_strings, 0);
	CHECK_INT(wl_str(NULL).len, 0);
}

static const char *const sparse_configs[] = {
	"",
	"weights:\n",
	"image: ~\nweights: []\n",
	"model:\nweights:\n  - name: w\n    target: /src/w\n    source: {uri: a}\n",
	"weights:\n  - name: w\n    target: /src/w\n    source:\n      uri: a\n"
	"      include: []\n      exclude: ~\n",
	"weights:\n  - name: w\n    target: /src/w\n    source:\n      uri: a\n"
	"      include: [\" *.json \"]\n      exclude: [\"x\"]\n",
	"weights:\n  - name: w\n    target: /src/w\n    source:\n      - uri: a\n      - uri: b\n"
	"        include: [\"x\"]\n",
};

TEST(parsed_configs_hand_out_no_null_string)
{
	walk_all(sparse_configs, sizeof sparse_configs / sizeof *sparse_configs, "cog.yaml", walk_config);
}

/* What is computed from sparse documents: drift, status, the runtime
 * manifest, diff and merge results. */
TEST(results_hand_out_no_null_string)
{
	bad_strings = 0;
	wl_lock *old_lock = parse_lock("{\"version\":1,\"weights\":[{\"name\":\"w\"},{\"name\":\"gone\"}]}");
	wl_lock *new_lock = parse_lock("{\"version\":1,\"envelopeFormat\":\"e\",\"weights\":"
	                               "[{\"name\":\"w\",\"target\":\"/t\"},{\"name\":\"n\"}]}");
	CHECK(old_lock != NULL && new_lock != NULL);
	const char *yaml = "weights:\n  - name: w\n    target: /src/w\n    source: {uri: a}\n"
	                   "  - name: p\n    target: /src/p\n    source: {uri: b}\n";
	wl_config *c = NULL;
	CHECK_INT(wl_config_parse(&c, yaml, strlen(yaml), NULL), 0);

	wl_drift_result *drift;
	size_t n;
	CHECK_INT(wl_check_drift(&drift, &n, old_lock, c), 0);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++)
		check_string(drift[i].name, "drift name");
	wl_drift_results_free(drift, n);

	wl_status_report *status;
	/* Neither weight is locked as declared: no request is made. */
	wl_registry_options reg = {0};
	reg.repository = "localhost:1/none";
	CHECK_INT(wl_status(&status, c, old_lock, &reg), 0);
	for (size_t i = 0; i < status->result_count; i++) {
		check_string(status->results[i].name, "status name");
		check_string(status->results[i].target, "status target");
	}
	wl_status_report_free(status);

	wl_runtime_manifest *rm;
	CHECK_INT(wl_lock_runtime_manifest(&rm, old_lock), 0);
	for (size_t i = 0; i < rm->entry_count; i++) {
		check_string(rm->entries[i].name, "runtime name");
		check_string(rm->entries[i].target, "runtime target");
		check_string(rm->entries[i].set_digest, "runtime setDigest");
	}
	wl_runtime_manifest_free(rm);

	wl_diff *d;
	CHECK_INT(wl_lock_diff(&d, old_lock, new_lock), 0);
	for (size_t i = 0; i < d->weight_count; i++) {
		if (d->weights[i].old_entry != NULL)
			check_entry(d->weights[i].old_entry);
		if (d->weights[i].new_entry != NULL)
			check_entry(d->weights[i].new_entry);
	}
	wl_diff_free(d);

	/* A conflict-free merge against no base, then one with conflicts. */
	wl_merge_report *m;
	wl_lock *ours = parse_lock("{\"version\":1,\"weights\":[{\"name\":\"o\",\"target\":\"/o\"}]}");
	CHECK(ours != NULL);
	CHECK_INT(wl_lock_merge3(&m, NULL, ours, new_lock), 0);
	CHECK_INT(m->conflict_count, 0);
	check_lock(ours);
	wl_merge_report_free(m);
	wl_lock *base = parse_lock("{\"version\":1,\"weights\":[{\"name\":\"w\",\"target\":\"/b\"}]}");
	wl_lock *mine = parse_lock("{\"version\":1,\"weights\":[{\"name\":\"w\",\"target\":\"/m\"}]}");
	CHECK(base != NULL && mine != NULL);
	CHECK_INT(wl_lock_merge3(&m, base, mine, new_lock), 0);
	CHECK(m->conflict_count > 0);
	for (size_t i = 0; i < m->conflict_count; i++) {
		check_string(m->conflicts[i].name, "conflict name");
		check_string(m->conflicts[i].other, "conflict other");
	}
	wl_merge_report_free(m);

	wl_lock_free(base);
	wl_lock_free(mine);
	wl_lock_free(ours);
	wl_config_free(c);
	wl_lock_free(old_lock);
	wl_lock_free(new_lock);
	CHECK_INT(bad_strings, 0);
}

int main(void)
{
	RUN(parsed_locks_hand_out_no_null_string);
	RUN(new_and_upserted_locks_hand_out_no_null_string);
	RUN(string_helpers_give_the_empty_string);
	RUN(parsed_configs_hand_out_no_null_string);
	RUN(results_hand_out_no_null_string);
	return harness_summary("strings");
}
