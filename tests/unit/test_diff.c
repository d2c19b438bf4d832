/*
 * test_diff.c - the semantic diff of two lockfiles (SPEC.md §19) and the
 * shape conversion (§13): one test per rule.
 */
#include "harness.h"

#define LAYER_A "sha256:la"
#define LAYER_B "sha256:lb"

/* An entry; `files` is the inside of its files list. */
static void entry_json(char *out, size_t size, const char *name, const char *digest, const char *time,
                       const char *files)
{
	snprintf(out, size,
	         "{\"name\":\"%s\",\"target\":\"/w/%s\",\"source\":{\"uri\":\"file://./%s\","
	         "\"fingerprint\":\"sha256:fp\",\"importedAt\":\"%s\"},\"digest\":\"%s\",\"setDigest\":\"\","
	         "\"size\":0,\"sizeCompressed\":0,\"files\":[%s],"
	         "\"layers\":[{\"digest\":\"" LAYER_A "\",\"mediaType\":\"t\",\"size\":1,\"sizeUncompressed\":1},"
	         "{\"digest\":\"" LAYER_B "\",\"mediaType\":\"t\",\"size\":1,\"sizeUncompressed\":1}]}",
	         name, name, name, time, digest, files);
}

static wl_lock *parse(const char *envelope, const char *e1, const char *e2)
{
	char json[16384];
	snprintf(json, sizeof json, "{\"version\":1,\"envelopeFormat\":\"%s\",\"weights\":[%s%s%s]}", envelope,
	         e1 ? e1 : "", e1 && e2 ? "," : "", e2 ? e2 : "");
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, json, strlen(json), "t.lock") != 0)
		printf("  parse failed: %s\n", wl_error_last()->message);
	return lock;
}

#define FILE_JSON(path, size, digest, layer)                                                          \
	"{\"path\":\"" path "\",\"size\":" #size ",\"digest\":\"" digest "\",\"layer\":\"" layer "\"}"

static const char *const files_old = FILE_JSON("a", 1, "sha256:1", LAYER_A) "," FILE_JSON("b", 2, "sha256:2", LAYER_A) "," FILE_JSON("c", 3, "sha256:3", LAYER_A) "," FILE_JSON("d", 4, "sha256:4", LAYER_A);
/* b removed, c content changed, d moved to another layer, e added; given
 * out of order, as a hand edit might. */
static const char *const files_new = FILE_JSON("e", 5, "sha256:5", LAYER_B) "," FILE_JSON("a", 1, "sha256:1", LAYER_A) "," FILE_JSON("c", 3, "sha256:x", LAYER_A) "," FILE_JSON("d", 4, "sha256:4", LAYER_B);

TEST(identical_lockfiles_have_an_empty_diff_whatever_the_import_times)
{
	char x[4096], y[4096];
	entry_json(x, sizeof x, "w", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	entry_json(y, sizeof y, "w", "sha256:d1", "2027-05-05T10:00:00+02:00", files_old);
	wl_lock *a = parse("e", x, NULL), *b = parse("e", y, NULL);
	wl_diff *d = NULL;
	CHECK(a && b);
	CHECK_OK(wl_lock_diff(&d, a, b));
	CHECK(wl_diff_empty(d));
	wl_diff_free(d);
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(weights_are_matched_by_name_removed_and_modified_first_then_added)
{
	char p[4096], q[4096], r[4096], q2[4096];
	entry_json(p, sizeof p, "p", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	entry_json(q, sizeof q, "q", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	entry_json(q2, sizeof q2, "q", "sha256:d2", "2026-01-01T00:00:00Z", files_old);
	entry_json(r, sizeof r, "r", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	wl_lock *a = parse("", p, q), *b = parse("", r, q2);
	wl_diff *d = NULL;
	CHECK(a && b);
	CHECK_OK(wl_lock_diff(&d, a, b));
	CHECK_INT(d->weight_count, 3);
	CHECK_INT(d->weights[0].change, WL_CHANGE_REMOVED);
	CHECK_MEM(d->weights[0].old_entry->name.ptr, d->weights[0].old_entry->name.len, "p");
	CHECK_INT(d->weights[1].change, WL_CHANGE_MODIFIED);
	CHECK_INT(d->weights[1].fields, WL_DIFF_DIGEST);
	CHECK_INT(d->weights[2].change, WL_CHANGE_ADDED);
	CHECK_MEM(d->weights[2].new_entry->name.ptr, d->weights[2].new_entry->name.len, "r");
	wl_diff_free(d);
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(files_are_matched_by_path_and_layers_by_digest)
{
	char x[4096], y[4096];
	entry_json(x, sizeof x, "w", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	entry_json(y, sizeof y, "w", "sha256:d1", "2026-01-01T00:00:00Z", files_new);
	char *swap = strstr(y, LAYER_A "\",\"mediaType\"");
	CHECK(swap != NULL);
	swap[strlen(LAYER_A) - 1] = 'z'; /* layer la becomes lz: one removed, one added */
	wl_lock *a = parse("", x, NULL), *b = parse("", y, NULL);
	wl_diff *d = NULL;
	CHECK(a && b);
	CHECK_OK(wl_lock_diff(&d, a, b));
	CHECK_INT(d->weight_count, 1);
	const wl_weight_diff *w = &d->weights[0];
	CHECK_INT(w->fields, WL_DIFF_FILES | WL_DIFF_LAYERS);
	CHECK_INT(w->file_count, 4);
	CHECK_INT(w->files_removed, 1);
	CHECK_INT(w->files_modified, 1);
	CHECK_INT(w->files_moved, 1);
	CHECK_INT(w->files_added, 1);
	CHECK_MEM(w->files[0].old_file->path.ptr, w->files[0].old_file->path.len, "b");
	CHECK_INT(w->files[0].change, WL_CHANGE_REMOVED);
	CHECK_INT(w->files[1].change, WL_CHANGE_MODIFIED);
	CHECK_INT(w->files[2].change, WL_CHANGE_MOVED);
	CHECK_INT(w->files[3].change, WL_CHANGE_ADDED);
	CHECK(w->files[3].old_file == NULL);
	CHECK_INT(w->layer_count, 2);
	CHECK_INT(w->layers[0].change, WL_CHANGE_REMOVED);
	CHECK_INT(w->layers[1].change, WL_CHANGE_ADDED);
	wl_diff_free(d);
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(envelope_format_and_shape_are_compared)
{
	char x[4096];
	entry_json(x, sizeof x, "w", "sha256:d1", "2026-01-01T00:00:00Z", files_old);
	wl_lock *a = parse("e1", x, NULL), *b = parse("e2", x, NULL);
	wl_diff *d = NULL;
	CHECK(a && b);
	CHECK_OK(wl_lock_convert(b, true));
	CHECK_OK(wl_lock_diff(&d, a, b));
	CHECK(d->envelope_changed && d->shape_changed && d->weight_count == 0);
	CHECK(!wl_diff_empty(d));
	wl_diff_free(d);
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(convert_to_multi_and_back_gives_the_same_bytes)
{
	char x[4096];
	entry_json(x, sizeof x, "w", "sha256:d1", "2026-01-01T00:00:00.5+01:00", files_old);
	wl_lock *a = parse("e1", x, NULL);
	CHECK(a != NULL);
	char *single = NULL, *multi = NULL, *back = NULL;
	size_t n1, n2, n3;
	CHECK_OK(wl_lock_marshal(&single, &n1, a));
	CHECK_OK(wl_lock_convert(a, true));
	CHECK_OK(wl_lock_marshal(&multi, &n2, a));
	CHECK(strstr(multi, "\"sources\": [") != NULL);
	wl_lock *m = NULL;
	CHECK_OK(wl_lock_parse(&m, multi, n2, "m.lock"));
	CHECK(m->multi_source);
	CHECK_OK(wl_lock_convert(m, false));
	CHECK_OK(wl_lock_marshal(&back, &n3, m));
	CHECK(n1 == n3 && memcmp(single, back, n1) == 0);
	wl_free(single);
	wl_free(multi);
	wl_free(back);
	wl_lock_free(a);
	wl_lock_free(m);
}

TEST(convert_to_single_refuses_an_entry_without_exactly_one_source)
{
	const char *two = "{\"version\":1,\"weights\":[{\"name\":\"w\",\"sources\":[{\"uri\":\"a\"},{\"uri\":\"b\"}]}]}";
	const char *none = "{\"version\":1,\"weights\":[{\"name\":\"v\",\"sources\":[]}]}";
	wl_lock *lock = NULL;
	CHECK_OK(wl_lock_parse(&lock, two, strlen(two), "t.lock"));
	CHECK_ERR(wl_lock_convert(lock, false), WL_EINVALID, "weight \"w\" has 2 sources");
	CHECK(lock->multi_source);
	wl_lock_free(lock);
	CHECK_OK(wl_lock_parse(&lock, none, strlen(none), "t.lock"));
	CHECK_ERR(wl_lock_convert(lock, false), WL_EINVALID, "weight \"v\" has no source");
	CHECK(lock->multi_source);
	wl_lock_free(lock);
}

int main(void)
{
	RUN(identical_lockfiles_have_an_empty_diff_whatever_the_import_times);
	RUN(weights_are_matched_by_name_removed_and_modified_first_then_added);
	RUN(files_are_matched_by_path_and_layers_by_digest);
	RUN(envelope_format_and_shape_are_compared);
	RUN(convert_to_multi_and_back_gives_the_same_bytes);
	RUN(convert_to_single_refuses_an_entry_without_exactly_one_source);
	return harness_summary("diff");
}
