/*
 * test_lock.c - the lockfile codec and entry operations: one test per rule
 * of SPEC.md §3 (decoding, validation, canonical encoding, save, load),
 * §4.1–§4.5 and §13. Expected bytes come from SPEC.md.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses `json`, marshals, and compares with `want`. */
static int roundtrip(const char *json, const char *want)
{
	wl_lock *lock;
	if (wl_lock_parse(&lock, json, strlen(json), NULL) != 0) {
		printf("  parse failed: %s\n", wl_error_last()->message);
		return 0;
	}
	char *out;
	size_t len;
	int ok = wl_lock_marshal(&out, &len, lock) == 0;
	if (ok && (len != strlen(want) || memcmp(out, want, len) != 0)) {
		printf("  got:\n%.*s\n  want:\n%s\n", (int)len, out, want);
		ok = 0;
	}
	if (ok)
		wl_free(out);
	wl_lock_free(lock);
	return ok;
}

/* Parses and returns the error code (0 on success, lock freed). */
static int parse_rc(const char *json)
{
	wl_lock *lock;
	int rc = wl_lock_parse(&lock, json, strlen(json), "t.lock");
	wl_lock_free(lock);
	return rc;
}

static wl_lock *parse_ok(const char *json)
{
	wl_lock *lock = NULL;
	if (wl_lock_parse(&lock, json, strlen(json), NULL) != 0)
		printf("  parse failed: %s\n", wl_error_last()->message);
	return lock;
}

#define ENTRY_TAIL                                                                       \
	"      \"digest\": \"\",\n"                                                          \
	"      \"setDigest\": \"\",\n"                                                       \
	"      \"size\": 0,\n"                                                               \
	"      \"sizeCompressed\": 0,\n"                                                     \
	"      \"files\": null,\n"                                                           \
	"      \"layers\": null\n"                                                           \
	"    }\n"                                                                            \
	"  ]\n"                                                                              \
	"}"

#define ZERO_SOURCE                                                                      \
	"      \"source\": {\n"                                                              \
	"        \"uri\": \"\",\n"                                                           \
	"        \"fingerprint\": \"\",\n"                                                   \
	"        \"include\": [],\n"                                                         \
	"        \"exclude\": [],\n"                                                         \
	"        \"importedAt\": \"0001-01-01T00:00:00Z\"\n"                                 \
	"      },\n"

static const char minimal_entry_out[] = "{\n"
                                        "  \"version\": 1,\n"
                                        "  \"envelopeFormat\": \"\",\n"
                                        "  \"weights\": [\n"
                                        "    {\n"
                                        "      \"name\": \"a\",\n"
                                        "      \"target\": \"\",\n" ZERO_SOURCE ENTRY_TAIL;

/* ---- §3.1 decoding ---- */

TEST(syntax_rejects_non_standard_json)
{
	const char *bad[] = {
		"",
		"   \n\t",
		"{\"version\":1,}",
		"{\"version\":1 /* c */}",
		"{'version':1}",
		"{\"version\":NaN}",
		"\xef\xbb\xbf{\"version\":1}",
		"{\"version\":1} x",
		"{\"version\":1}{}",
		"{\"version\":+1}",
		"{\"version\":01}",
		"{\"version\":.5}",
		"{\"version\":1.}",
		"{\"version\":1e}",
		"{\"x\":[1,]}",
		"{\"x\":tru}",
		"{\"version\":1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wl_lock *lock;
		int rc = wl_lock_parse(&lock, bad[i], strlen(bad[i]), "t.lock");
		if (rc != WL_EPARSE) {
			HARNESS_FAIL("input %zu (%s) gave %d", i, bad[i], rc);
			wl_lock_free(lock);
			return;
		}
		CHECK(strstr(wl_error_last()->message, "t.lock") != NULL);
		CHECK(strstr(wl_error_last()->message, "at byte") != NULL);
	}
}

TEST(syntax_error_names_the_byte_offset)
{
	CHECK_ERR(parse_rc("{\"version\": 1, \"weights\": [}"), WL_EPARSE,
	          "invalid character '}' looking for beginning of value (at byte 27)");
	CHECK_ERR(parse_rc("{\"version\":1"), WL_EPARSE, "unexpected end of JSON input");
	CHECK_ERR(parse_rc("{\"version\":\"a\\x\"}"), WL_EPARSE, "in string escape code");
	CHECK_ERR(parse_rc("{\"version\":\"a\nb\"}"), WL_EPARSE, "in string literal");
}

TEST(syntax_error_wins_over_earlier_type_error)
{
	CHECK_ERR(parse_rc("{\"version\":\"1\",\"weights\":[}"), WL_EPARSE, "invalid character");
}

TEST(nesting_deeper_than_10000_is_an_error)
{
	/* The top-level object is level 1; `depth` arrays inside it. */
	size_t depth = 10000;
	char *doc = malloc(depth * 2 + 64);
	size_t n = 0;
	n += (size_t)sprintf(doc + n, "{\"version\":1,\"x\":");
	for (size_t i = 0; i < depth - 1; i++)
		doc[n++] = '[';
	for (size_t i = 0; i < depth - 1; i++)
		doc[n++] = ']';
	doc[n++] = '}';
	doc[n] = '\0';
	CHECK_INT(parse_rc(doc), 0);
	n = 0;
	n += (size_t)sprintf(doc + n, "{\"version\":1,\"x\":");
	for (size_t i = 0; i < depth; i++)
		doc[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		doc[n++] = ']';
	doc[n++] = '}';
	doc[n] = '\0';
	int rc = parse_rc(doc);
	free(doc);
	CHECK_ERR(rc, WL_EPARSE, "exceeded max depth");
}

TEST(string_escapes_decode)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\"}]}");
	CHECK(lock != NULL);
	wl_string n = lock->entries[0].name;
	CHECK_MEM(n.ptr, n.len, "\"\\/\b\f\n\r\tA\xc3\xa9");
	wl_lock_free(lock);
}

TEST(surrogate_pair_decodes_to_one_code_point)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"\\ud83d\\ude00\"}]}");
	CHECK(lock != NULL);
	CHECK_MEM(lock->entries[0].name.ptr, lock->entries[0].name.len, "\xf0\x9f\x98\x80");
	wl_lock_free(lock);
}

TEST(lone_surrogates_become_replacement_characters)
{
	/* high+high: the first is replaced, the second processed on its own
	 * (and replaced too, having no low partner); a lone low is replaced. */
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"\\ud800\\ud800x\\udc00\"}]}");
	CHECK(lock != NULL);
	CHECK_MEM(lock->entries[0].name.ptr, lock->entries[0].name.len,
	          "\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd");
	wl_lock_free(lock);
}

TEST(invalid_utf8_bytes_each_become_one_replacement)
{
	/* a truncated 3-byte sequence, an encoded surrogate, an overlong form */
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"\xe2\x82!\xed\xa0\x80\xc0\xaf\"}]}");
	CHECK(lock != NULL);
	CHECK_MEM(lock->entries[0].name.ptr, lock->entries[0].name.len,
	          "\xef\xbf\xbd\xef\xbf\xbd!\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	wl_lock_free(lock);
}

TEST(escaped_nul_is_kept_in_the_value)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\\u0000b\"}]}");
	CHECK(lock != NULL);
	CHECK_INT(lock->entries[0].name.len, 3);
	CHECK(memcmp(lock->entries[0].name.ptr, "a\0b", 3) == 0);
	wl_lock_free(lock);
}

TEST(top_level_null_is_an_empty_lockfile_of_version_0)
{
	CHECK_ERR(parse_rc("null"), WL_EVERSION, "unsupported weights.lock version 0 (want 1)");
}

TEST(top_level_other_kinds_are_type_errors)
{
	CHECK_ERR(parse_rc("[]"), WL_EPARSE, "cannot unmarshal array into Go value of type wl.WeightsLock");
	CHECK_ERR(parse_rc("\"x\""), WL_EPARSE, "cannot unmarshal string");
	CHECK_ERR(parse_rc("7"), WL_EPARSE, "cannot unmarshal number");
}

TEST(keys_match_case_insensitively_with_simple_folding)
{
	/* "ſize" (U+017F) matches size, the Kelvin sign matches k, escaped
	 * keys are unescaped first. */
	wl_lock *lock = parse_ok("{\"VERSION\":1,\"\\u0077eights\":[{\"NaMe\":\"a\",\"\xc5\xbfize\":5,"
	                         "\"sizecompressed\":6}]}");
	CHECK(lock != NULL);
	CHECK_INT(lock->entries[0].size, 5);
	CHECK_INT(lock->entries[0].size_compressed, 6);
	wl_lock_free(lock);
	lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[{\"path\":\"p\",\"layer\":\"x\","
	                "\"\xe2\x84\xaa\":1}]}]}");
	CHECK(lock != NULL);
	wl_lock_free(lock);
}

TEST(dotless_i_does_not_match_i)
{
	/* "fıles" (U+0131) is an unknown key: files stays absent. */
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"f\xc4\xb1les\":[{\"path\":\"x\"}]}]}");
	CHECK(lock != NULL);
	CHECK(!lock->entries[0].files_present);
	wl_lock_free(lock);
}

TEST(unknown_keys_are_skipped_but_must_be_valid)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"extra\":{\"a\":[1,{\"b\":null}],\"c\":true},\"weights\":null}");
	CHECK(lock != NULL);
	wl_lock_free(lock);
	CHECK_ERR(parse_rc("{\"version\":1,\"extra\":{\"a\" 1}}"), WL_EPARSE, "after object key");
}

TEST(repeated_scalar_key_last_wins)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"name\":\"b\"}]}");
	CHECK(lock != NULL);
	CHECK_MEM(lock->entries[0].name.ptr, lock->entries[0].name.len, "b");
	wl_lock_free(lock);
}

TEST(repeated_object_key_merges_fields)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{\"uri\":\"u\"},"
	                         "\"source\":{\"fingerprint\":\"f\"}}]}");
	CHECK(lock != NULL);
	const wl_source *s = wl_entry_source(&lock->entries[0]);
	CHECK(s != NULL);
	CHECK_MEM(s->uri.ptr, s->uri.len, "u");
	CHECK_MEM(s->fingerprint.ptr, s->fingerprint.len, "f");
	wl_lock_free(lock);
}

TEST(repeated_array_key_merges_elements_and_takes_the_new_length)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"m\",\"files\":[{\"path\":\"a\",\"size\":1},"
	                         "{\"path\":\"b\",\"size\":2}],\"files\":[{\"path\":\"c\"}]}]}");
	CHECK(lock != NULL);
	CHECK_INT(lock->entries[0].file_count, 1);
	CHECK_MEM(lock->entries[0].files[0].path.ptr, lock->entries[0].files[0].path.len, "c");
	CHECK_INT(lock->entries[0].files[0].size, 1);
	wl_lock_free(lock);
	lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"m\",\"files\":[{\"path\":\"a\"}],\"files\":[]}]}");
	CHECK(lock != NULL);
	CHECK(lock->entries[0].files_present);
	CHECK_INT(lock->entries[0].file_count, 0);
	wl_lock_free(lock);
}

TEST(null_leaves_scalars_and_objects_unchanged)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"envelopeFormat\":\"e\",\"envelopeFormat\":null,"
	                         "\"weights\":[{\"name\":\"a\",\"size\":3,\"size\":null,\"source\":null}]}");
	CHECK(lock != NULL);
	CHECK_MEM(lock->envelope_format.ptr, lock->envelope_format.len, "e");
	CHECK_INT(lock->entries[0].size, 3);
	wl_lock_free(lock);
}

TEST(null_list_becomes_absent_as_a_go_nil_slice)
{
	/* Go's decoder sets a slice to nil on null, even after an earlier
	 * occurrence: the list encodes as null. */
	CHECK(roundtrip("{\"version\":1,\"weights\":[{\"name\":\"a\",\"layers\":[{\"digest\":\"d\"}],\"layers\":null}]}",
	                minimal_entry_out));
}

TEST(null_array_element_is_a_zero_element)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[null,{\"name\":\"b\",\"source\":{\"include\":[null,\"x\"]}}]}");
	CHECK(lock != NULL);
	CHECK_INT(lock->entry_count, 2);
	CHECK_INT(lock->entries[0].name.len, 0);
	const wl_source *s = wl_entry_source(&lock->entries[1]);
	CHECK_INT(s->include_count, 2);
	CHECK_INT(s->include[0].len, 0);
	wl_lock_free(lock);
}

TEST(integer_fields_accept_only_integer_literals_in_int64)
{
	CHECK_ERR(parse_rc("{\"version\":1.0}"), WL_EPARSE, "cannot unmarshal number 1.0 into Go struct field WeightsLock.version of type int");
	CHECK_ERR(parse_rc("{\"version\":1e0}"), WL_EPARSE, "number 1e0");
	CHECK_ERR(parse_rc("{\"version\":\"1\"}"), WL_EPARSE, "cannot unmarshal string");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"size\":9223372036854775808}]}"), WL_EPARSE,
	          "number 9223372036854775808 into Go struct field WeightLockEntry.weights.size of type int64");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"size\":-9223372036854775809}]}"), WL_EPARSE, "number -9223372036854775809");
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"size\":-9223372036854775808,\"sizeCompressed\":9223372036854775807}]}");
	CHECK(lock != NULL);
	CHECK(lock->entries[0].size == INT64_MIN);
	CHECK(lock->entries[0].size_compressed == INT64_MAX);
	wl_lock_free(lock);
}

TEST(type_errors_name_the_field)
{
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"source\":{\"include\":\"x\"}}]}"), WL_EPARSE,
	          "Go struct field WeightLockSource.weights.source.include of type []string");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"files\":{}}]}"), WL_EPARSE,
	          "cannot unmarshal object into Go struct field WeightLockEntry.weights.files");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[1]}"), WL_EPARSE,
	          "cannot unmarshal number into Go struct field WeightsLock.weights of type wl.WeightLockEntry");
	CHECK_ERR(parse_rc("{\"version\":true}"), WL_EPARSE, "cannot unmarshal bool");
}

TEST(first_type_error_is_reported_after_decoding_the_rest)
{
	/* The later valid occurrence does not clear the earlier mismatch. */
	CHECK_ERR(parse_rc("{\"version\":\"1\",\"version\":1,\"weights\":[]}"), WL_EPARSE,
	          "cannot unmarshal string into Go struct field WeightsLock.version");
	CHECK_ERR(parse_rc("{\"version\":\"1\",\"weights\":[{\"size\":\"2\"}]}"), WL_EPARSE, "WeightsLock.version");
}

TEST(imported_at_is_parsed_from_the_raw_bytes)
{
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"source\":{\"importedAt\":\"2026-04-16T17:27:07\\u005a\"}}]}"),
	          WL_EPARSE, "parsing time");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"source\":{\"importedAt\":1714000000}}]}"), WL_EPARSE,
	          "Time.UnmarshalJSON: input is not a JSON string");
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"source\":{\"importedAt\":null}}]}");
	CHECK(lock != NULL);
	CHECK(wl_time_is_zero(&lock->entries[0].imported_at));
	wl_lock_free(lock);
}

TEST(every_truncation_of_a_document_is_rejected_without_leaks)
{
	/* Run under LeakSanitizer in the sanitizer build: stopping anywhere
	 * must free what was decoded so far. */
	const char *doc = "{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{\"uri\":\"u\",\"include\":[\"x\"]},"
	                  "\"files\":[{\"path\":\"p\",\"size\":1}],\"layers\":[{\"digest\":\"d\"}]},"
	                  "{\"name\":\"b\",\"sources\":[{\"uri\":\"v\",\"exclude\":[\"y\"]}],"
	                  "\"importedAt\":\"2026-01-01T00:00:00Z\",\"files\":[{\"path\":\"q\"}]}]}";
	size_t n = strlen(doc);
	CHECK_INT(parse_rc(doc), 0);
	for (size_t k = 0; k < n; k++) {
		wl_lock *lock;
		int rc = wl_lock_parse(&lock, doc, k, NULL);
		if (rc != WL_EPARSE) {
			HARNESS_FAIL("prefix of %zu bytes gave %d", k, rc);
			wl_lock_free(lock);
			return;
		}
	}
}

/* ---- §3.3 validation ---- */

TEST(only_version_1_is_supported)
{
	CHECK_ERR(parse_rc("{\"version\":2}"), WL_EVERSION, "unsupported weights.lock version 2 (want 1)");
	CHECK_ERR(parse_rc("{\"version\":-1}"), WL_EVERSION, "version -1");
	CHECK_ERR(parse_rc("{}"), WL_EVERSION, "version 0");
	CHECK_ERR(parse_rc("{\"version\":\"v1\"}"), WL_EPARSE, "cannot unmarshal string");
}

TEST(duplicate_names_are_rejected)
{
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"}]}"),
	          WL_EPARSE, "duplicate weight name \"a\"");
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{},{}]}"), WL_EPARSE, "duplicate weight name \"\"");
}

TEST(duplicate_cleaned_targets_are_rejected_empty_ones_are_not)
{
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\",\"target\":\"/src/w\"},"
	                   "{\"name\":\"b\",\"target\":\"/src//w/\"}]}"),
	          WL_EPARSE, "duplicate weight target \"/src//w/\"");
	CHECK_INT(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"), 0);
}

/* Builds {"version":1,"weights":[...]} from "name target" pairs ("-" for
 * no target). */
static int parse_entries(const char *const *pairs, size_t n)
{
	char json[2048];
	size_t w = (size_t)snprintf(json, sizeof json, "{\"version\":1,\"weights\":[");
	for (size_t i = 0; i < n; i++) {
		char name[64], target[64];
		if (sscanf(pairs[i], "%63s %63s", name, target) != 2)
			return -1000;
		w += (size_t)snprintf(json + w, sizeof json - w, "%s{\"name\":\"%s\"", i ? "," : "", name);
		if (strcmp(target, "-") != 0)
			w += (size_t)snprintf(json + w, sizeof json - w, ",\"target\":\"%s\"", target);
		w += (size_t)snprintf(json + w, sizeof json - w, "}");
	}
	snprintf(json + w, sizeof json - w, "]}");
	return parse_rc(json);
}

TEST(the_first_duplicate_in_file_order_is_named)
{
	/* Sorted, "a" and "b" repeat before "m"; in file order "m" does. */
	static const char *const names[] = {"m -", "b -", "m -", "b -", "a -", "a -", "b -"};
	CHECK_ERR(parse_entries(names, 7), WL_EPARSE, "duplicate weight name \"m\"");
	static const char *const targets[] = {"e /t/z", "d /t/a", "c /t/z/", "b /t//a", "a /t/c", "f /t/c"};
	CHECK_ERR(parse_entries(targets, 6), WL_EPARSE, "duplicate weight target \"/t/z/\"");
	/* A name and a target repeated by different entries: the earlier one. */
	static const char *const target_first[] = {"a /t/a", "b /t/b", "c /t/a/", "a /t/d"};
	CHECK_ERR(parse_entries(target_first, 4), WL_EPARSE, "duplicate weight target \"/t/a/\"");
	static const char *const name_first[] = {"a /t/a", "b /t/b", "a /t/c", "c /t/b"};
	CHECK_ERR(parse_entries(name_first, 4), WL_EPARSE, "duplicate weight name \"a\"");
	/* Both by the same entry: its name is checked first. */
	static const char *const same[] = {"a /t/a", "b /t/b", "b /t/a", "b /t/b"};
	CHECK_ERR(parse_entries(same, 4), WL_EPARSE, "duplicate weight name \"b\"");
}

/* 20,000 entries (names and targets distinct), then `last` appended. */
static char *many_entries(const char *last)
{
	size_t cap = 20000 * 64 + 256, w = 0;
	char *json = malloc(cap);
	if (json == NULL)
		return NULL;
	w += (size_t)snprintf(json + w, cap - w, "{\"version\":1,\"weights\":[");
	for (int i = 0; i < 20000; i++)
		w += (size_t)snprintf(json + w, cap - w, "%s{\"name\":\"w%05d\",\"target\":\"/w/%05d\"}",
		                      i ? "," : "", 19999 - i, i);
	snprintf(json + w, cap - w, "%s]}", last);
	return json;
}

TEST(twenty_thousand_entries_load_and_a_last_duplicate_is_found)
{
	char *json = many_entries("");
	CHECK(json != NULL);
	wl_lock *lock = NULL;
	int rc = wl_lock_parse(&lock, json, strlen(json), NULL);
	free(json);
	CHECK_INT(rc, 0);
	CHECK_INT(lock->entry_count, 20000);
	wl_lock_free(lock);
	json = many_entries(",{\"name\":\"x\",\"target\":\"/w/07/../00007\"},{\"name\":\"w00000\"}");
	CHECK(json != NULL);
	CHECK_ERR(parse_rc(json), WL_EPARSE, "duplicate weight target \"/w/07/../00007\"");
	free(json);
	json = many_entries(",{\"name\":\"w12345\"},{\"name\":\"y\",\"target\":\"/w/00001\"}");
	CHECK(json != NULL);
	CHECK_ERR(parse_rc(json), WL_EPARSE, "duplicate weight name \"w12345\"");
	free(json);
}

TEST(decoding_errors_come_before_version_errors)
{
	CHECK_ERR(parse_rc("{\"version\":2,\"weights\":{}}"), WL_EPARSE, "cannot unmarshal object");
}

/* ---- §3.4 canonical encoding ---- */

TEST(version_only_encodes_with_null_weights)
{
	CHECK(roundtrip("{\"version\":1}", "{\n  \"version\": 1,\n  \"envelopeFormat\": \"\",\n  \"weights\": null\n}"));
	CHECK(roundtrip("{\"version\":1,\"weights\":[]}", "{\n  \"version\": 1,\n  \"envelopeFormat\": \"\",\n  \"weights\": []\n}"));
}

TEST(missing_fields_encode_as_zero_values)
{
	CHECK(roundtrip("{\"version\":1,\"weights\":[{\"name\":\"a\"}]}", minimal_entry_out));
}

TEST(files_sorted_by_path_and_layers_by_digest_bytewise)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[{\"path\":\"b\"},"
	                         "{\"path\":\"B\"},{\"path\":\"a/b\"},{\"path\":\"a\"}],\"layers\":[{\"digest\":\"z\"},"
	                         "{\"digest\":\"Z\"}]}]}");
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	const wl_entry *e = &lock->entries[0];
	CHECK_STR(e->files[0].path.ptr, "B");
	CHECK_STR(e->files[1].path.ptr, "a");
	CHECK_STR(e->files[2].path.ptr, "a/b");
	CHECK_STR(e->files[3].path.ptr, "b");
	CHECK_STR(e->layers[0].digest.ptr, "Z");
	wl_free(out);
	wl_lock_free(lock);
}

TEST(sort_is_stable_for_equal_keys)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[{\"path\":\"b\",\"size\":1},"
	                         "{\"path\":\"a\",\"size\":2},{\"path\":\"b\",\"size\":3},{\"path\":\"a\",\"size\":4}]}]}");
	CHECK(lock != NULL);
	wl_entry_normalize(&lock->entries[0]);
	CHECK_INT(lock->entries[0].files[0].size, 2);
	CHECK_INT(lock->entries[0].files[1].size, 4);
	CHECK_INT(lock->entries[0].files[2].size, 1);
	CHECK_INT(lock->entries[0].files[3].size, 3);
	wl_lock_free(lock);
}

TEST(pattern_lists_are_not_sorted_by_encoding)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{\"include\":[\"b\",\"a\"]}}]}");
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK(strstr(out, "\"include\": [\n          \"b\",\n          \"a\"\n        ]") != NULL);
	wl_free(out);
	wl_lock_free(lock);
}

TEST(strings_are_escaped_like_go)
{
	/* quote, backslash, named controls, other controls, HTML characters,
	 * U+2028/2029, DEL and '/' unescaped, U+FFFD from decoding raw. */
	wl_lock *lock = parse_ok("{\"version\":1,\"envelopeFormat\":\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f<>&"
	                         "\\u2028\\u2029\\u007f/\\u00e9\\ud800\"}");
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK(strstr(out, "\"envelopeFormat\": \"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\\u003c\\u003e\\u0026"
	                  "\\u2028\\u2029\x7f/\xc3\xa9\xef\xbf\xbd\",") != NULL);
	wl_free(out);
	wl_lock_free(lock);
}

TEST(invalid_utf8_in_memory_encodes_as_escaped_replacement)
{
	wl_lock *lock;
	CHECK_OK(wl_lock_new(&lock));
	lock->envelope_format = (wl_string){"a\xff", 2};
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK(strstr(out, "\"envelopeFormat\": \"a\\ufffd\"") != NULL);
	wl_free(out);
	lock->envelope_format = (wl_string){NULL, 0};
	wl_lock_free(lock);
}

TEST(encoding_is_a_fixed_point)
{
	const char *in = "{\"weights\":[{\"layers\":[{\"size\":1,\"digest\":\"sha256:b\"},{\"digest\":\"sha256:a\"}],"
	                 "\"name\":\"x\\u00e9\\u2028\",\"source\":{\"importedAt\":\"2026-04-16T7:27:07,5+02:00\","
	                 "\"exclude\":[\"*.md\"]},\"files\":[]}],\"version\":1}";
	wl_lock *a = parse_ok(in);
	CHECK(a != NULL);
	char *o1, *o2;
	size_t l1, l2;
	CHECK_OK(wl_lock_marshal(&o1, &l1, a));
	wl_lock *b = parse_ok(o1);
	CHECK(b != NULL);
	CHECK_OK(wl_lock_marshal(&o2, &l2, b));
	CHECK(l1 == l2 && memcmp(o1, o2, l1) == 0);
	CHECK(strstr(o1, "\"importedAt\": \"2026-04-16T07:27:07.5+02:00\"") != NULL);
	wl_free(o1);
	wl_free(o2);
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(version_0_in_memory_becomes_1)
{
	wl_lock *lock;
	CHECK_OK(wl_lock_new(&lock));
	lock->version = 0;
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK_INT(lock->version, 1);
	CHECK_STR(out, "{\n  \"version\": 1,\n  \"envelopeFormat\": \"\",\n  \"weights\": null\n}");
	wl_free(out);
	wl_lock_free(lock);
}

TEST(offset_of_24_hours_cannot_be_encoded)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"source\":{\"importedAt\":\"2026-04-16T17:27:07+24:00\"}}]}");
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_ERR(wl_lock_marshal(&out, &len, lock), WL_EINVALID, "timezone hour outside of range [0,23]");
	wl_lock_free(lock);
}

struct collected {
	char *data;
	size_t len;
	size_t calls;
};

static int collect(void *ctx, const void *data, size_t len)
{
	struct collected *c = ctx;
	c->data = realloc(c->data, c->len + len);
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->calls++;
	return 0;
}

static int refuse(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return -1;
}

/* A lock with one entry of `n` files, built through the public API. */
static wl_lock *many_files(size_t n)
{
	wl_lock *lock;
	if (wl_lock_new(&lock) != 0)
		return NULL;
	wl_file *files = calloc(n, sizeof *files);
	char (*paths)[32] = calloc(n, 32);
	for (size_t i = 0; i < n; i++) {
		snprintf(paths[i], 32, "dir/f%06zu.bin", n - i);
		files[i].path = wl_str(paths[i]);
		files[i].size = (int64_t)i;
		files[i].digest = wl_str("sha256:00");
		files[i].layer = wl_str("sha256:11");
	}
	wl_source src = {.uri = wl_str("file://./w")};
	wl_entry e = {.name = wl_str("w"), .sources = &src, .source_count = 1, .files = files,
	              .file_count = n, .files_present = true};
	int rc = wl_lock_upsert(lock, &e);
	free(files);
	free(paths);
	if (rc != 0) {
		wl_lock_free(lock);
		return NULL;
	}
	return lock;
}

TEST(streamed_encoding_equals_the_buffered_one)
{
	wl_lock *lock = many_files(5000);
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	struct collected c = {0};
	CHECK_OK(wl_lock_marshal_to(lock, collect, &c));
	CHECK(c.calls > 1); /* written in several chunks */
	CHECK(c.len == len && memcmp(c.data, out, len) == 0);
	free(c.data);
	CHECK_ERR(wl_lock_marshal_to(lock, refuse, NULL), WL_EIO, "write");
	wl_free(out);
	wl_lock_free(lock);
}

TEST(streamed_encoding_checks_timestamps_before_writing)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"},{\"name\":\"b\",\"source\":{\"importedAt\":\"2026-04-16T17:27:07-23:60\"}}]}");
	CHECK(lock != NULL);
	struct collected c = {0};
	CHECK_ERR(wl_lock_marshal_to(lock, collect, &c), WL_EINVALID, "weights[1].importedAt");
	CHECK_INT(c.len, 0);
	wl_lock_free(lock);
}

/* ---- §3.5 save, §3.6 load ---- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char buf[256];
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/wl-test-lock-XXXXXX");
		if (mkdtemp(tmpdir) == NULL)
			abort();
	}
	snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
	return buf;
}

static size_t count_temp_files(void)
{
	char cmd[160];
	snprintf(cmd, sizeof cmd, "ls -a %s | grep -c '^\\.weights-.*\\.lock\\.tmp$'", tmpdir);
	FILE *f = popen(cmd, "r");
	int n = 0;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return (size_t)n;
}

/* The file a save of the minimal entry leaves: its bytes, mode 0644, no
 * temporary file beside it. */
static void check_saved_minimal(const char *path)
{
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0644);
	char buf[4096];
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	CHECK_MEM(buf, n, minimal_entry_out);
	CHECK_INT(count_temp_files(), 0);
}

TEST(save_writes_canonical_bytes_mode_0644_and_leaves_no_temp_file)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"}]}");
	CHECK(lock != NULL);
	const char *path = tmp_path("save.lock");
	mode_t old = umask(077);
	int rc = wl_lock_save(lock, path);
	umask(old);
	CHECK_OK(rc);
	check_saved_minimal(path);
	wl_lock_free(lock);
}

TEST(a_save_that_need_not_be_durable_writes_the_same_bytes_the_same_way)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"}]}");
	CHECK(lock != NULL);
	const char *path = tmp_path("nosync.lock");
	CHECK_OK(wl_lock_save_to(lock, path, false));
	check_saved_minimal(path);
	wl_lock_free(lock);
}

TEST(save_replaces_a_symlink_with_a_regular_file)
{
	const char *target = tmp_path("target.lock");
	char t[256];
	snprintf(t, sizeof t, "%s", target);
	FILE *f = fopen(t, "w");
	fputs("old", f);
	fclose(f);
	const char *link = tmp_path("link.lock");
	char l[256];
	snprintf(l, sizeof l, "%s", link);
	CHECK(symlink(t, l) == 0);
	wl_lock *lock = parse_ok("{\"version\":1}");
	CHECK_OK(wl_lock_save(lock, l));
	struct stat st;
	CHECK(lstat(l, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(stat(t, &st) == 0 && st.st_size == 3);
	wl_lock_free(lock);
}

TEST(save_into_a_missing_directory_fails_and_creates_nothing)
{
	wl_lock *lock = parse_ok("{\"version\":1}");
	const char *path = tmp_path("nodir/sub/w.lock");
	char p[256];
	snprintf(p, sizeof p, "%s", path);
	CHECK_ERR(wl_lock_save(lock, p), WL_EIO, "nodir/sub/w.lock");
	CHECK(access(tmp_path("nodir"), F_OK) != 0);
	wl_lock_free(lock);
}

TEST(save_that_cannot_encode_leaves_the_file_alone)
{
	const char *path = tmp_path("keep.lock");
	char p[256];
	snprintf(p, sizeof p, "%s", path);
	FILE *f = fopen(p, "w");
	fputs("previous", f);
	fclose(f);
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"source\":{\"importedAt\":\"2026-01-01T00:00:00+24:00\"}}]}");
	CHECK(lock != NULL);
	CHECK_ERR(wl_lock_save(lock, p), WL_EINVALID, "timezone hour");
	char buf[64];
	f = fopen(p, "r");
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	CHECK_MEM(buf, n, "previous");
	CHECK_INT(count_temp_files(), 0);
	wl_lock_free(lock);
}

TEST(load_tells_a_missing_file_from_other_failures)
{
	wl_lock *lock;
	CHECK_ERR(wl_lock_load(&lock, tmp_path("absent.lock")), WL_ENOTFOUND, "absent.lock");
	CHECK(lock == NULL);
	CHECK_ERR(wl_lock_load(&lock, tmpdir), WL_EIO, "Is a directory");
	char p[256];
	snprintf(p, sizeof p, "%s/notdir", tmpdir);
	FILE *f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof p, "%s/notdir/w.lock", tmpdir);
	CHECK_ERR(wl_lock_load(&lock, p), WL_EIO, "Not a directory");
}

/* A whole-document read must not wait on a FIFO nor read a device
 * forever (SPEC.md §15): both fail at once, naming the file. */
TEST(load_refuses_fifos_and_devices_at_once)
{
	char fifo[256], link[256];
	snprintf(fifo, sizeof fifo, "%s", tmp_path("fifo.lock"));
	snprintf(link, sizeof link, "%s", tmp_path("zero.lock"));
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(symlink("/dev/zero", link) == 0);
	wl_lock *lock = NULL;
	char want[320];
	snprintf(want, sizeof want, "read %s: not a regular file (a FIFO)", fifo);
	CHECK_ERR(wl_lock_load(&lock, fifo), WL_EIO, want);
	CHECK(lock == NULL);
	snprintf(want, sizeof want, "read %s: not a regular file (a character device)", link);
	CHECK_ERR(wl_lock_load(&lock, link), WL_EIO, want);
	CHECK(lock == NULL);
	char *data = NULL;
	size_t len = 7;
	CHECK_ERR(wl_read_file(&data, &len, fifo, 0), WL_EIO, "not a regular file (a FIFO)");
	CHECK(data == NULL && len == 0);
}

TEST(load_refuses_a_lockfile_larger_than_1_gib_before_reading)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("huge.lock"));
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	/* Sparse: costs no disk, and reading it would cost a GiB of memory. */
	int rc = ftruncate(fd, WL_LOCK_SIZE_MAX + 1);
	close(fd);
	CHECK_INT(rc, 0);
	wl_lock *lock = NULL;
	char want[320];
	snprintf(want, sizeof want, "read %s: larger than 1 GiB (1073741825 bytes)", p);
	CHECK_ERR(wl_lock_load(&lock, p), WL_EINVALID, want);
	CHECK(lock == NULL);
	unlink(p);
}

TEST(read_limits_count_every_byte)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("limit.json"));
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	fputs("0123456789", f);
	fclose(f);
	char *data = NULL;
	size_t len = 0;
	CHECK_OK(wl_read_file(&data, &len, p, 10));
	CHECK_MEM(data, len, "0123456789");
	wl_free(data);
	CHECK_ERR(wl_read_file(&data, &len, p, 9), WL_EINVALID, "larger than 9 bytes (10 bytes)");
	/* A pipe has no size to look at: the limit holds while reading. */
	int fds[2];
	CHECK(pipe(fds) == 0);
	CHECK(write(fds[1], "0123456789", 10) == 10);
	close(fds[1]);
	int rc = wl_read_fd(&data, &len, fds[0], "<stdin>", 9);
	close(fds[0]);
	CHECK_INT(rc, WL_EINVALID);
	CHECK_STR(wl_error_last()->message, "read <stdin>: larger than 9 bytes");
	CHECK(pipe(fds) == 0);
	CHECK(write(fds[1], "{}", 2) == 2);
	close(fds[1]);
	rc = wl_read_fd(&data, &len, fds[0], "<stdin>", WL_LOCK_SIZE_MAX);
	close(fds[0]);
	CHECK_OK(rc);
	CHECK_MEM(data, len, "{}");
	wl_free(data);
}

TEST(load_names_the_file_in_parse_errors)
{
	const char *path = tmp_path("bad.lock");
	char p[256];
	snprintf(p, sizeof p, "%s", path);
	FILE *f = fopen(p, "w");
	fputs("{\"version\":1,}", f);
	fclose(f);
	wl_lock *lock;
	CHECK_ERR(wl_lock_load(&lock, p), WL_EPARSE, "bad.lock: invalid character '}'");
}

/* ---- §4 operations ---- */

TEST(find_returns_the_first_entry_of_that_name)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"size\":1},{\"name\":\"b\",\"size\":2}]}");
	CHECK(lock != NULL);
	CHECK(wl_lock_find(lock, wl_str("b"))->size == 2);
	CHECK(wl_lock_find(lock, wl_str("c")) == NULL);
	CHECK(wl_lock_find(NULL, wl_str("a")) == NULL);
	wl_lock_free(lock);
}

TEST(upsert_replaces_in_place_or_appends)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
	CHECK(lock != NULL);
	wl_source s = {.uri = wl_str("u")};
	wl_entry e = {.name = wl_str("a"), .size = 7, .sources = &s, .source_count = 1};
	CHECK_OK(wl_lock_upsert(lock, &e));
	CHECK_INT(lock->entry_count, 2);
	CHECK_STR(lock->entries[0].name.ptr, "a");
	CHECK_INT(lock->entries[0].size, 7);
	e.name = wl_str("c");
	CHECK_OK(wl_lock_upsert(lock, &e));
	CHECK_INT(lock->entry_count, 3);
	CHECK_STR(lock->entries[2].name.ptr, "c");
	/* The entry was copied: changing the caller's data changes nothing. */
	s.uri = wl_str("changed");
	CHECK_STR(wl_entry_source(&lock->entries[2])->uri.ptr, "u");
	wl_lock_free(lock);
}

TEST(upsert_into_a_lock_with_absent_weights_makes_them_present)
{
	wl_lock *lock;
	CHECK_OK(wl_lock_new(&lock));
	wl_entry e = {.name = wl_str("a")};
	CHECK_OK(wl_lock_upsert(lock, &e));
	CHECK(lock->entries_present);
	CHECK_INT(lock->entries[0].source_count, 1);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK_STR(out, minimal_entry_out);
	wl_free(out);
	wl_lock_free(lock);
}

TEST(retain_keeps_order_ignores_unknown_names_and_leaves_a_present_list)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}");
	CHECK(lock != NULL);
	wl_string keep[] = {wl_str("c"), wl_str("zz"), wl_str("a")};
	CHECK_INT(wl_lock_retain(lock, keep, 3), 1);
	CHECK_INT(lock->entry_count, 2);
	CHECK_STR(lock->entries[0].name.ptr, "a");
	CHECK_STR(lock->entries[1].name.ptr, "c");
	CHECK_INT(wl_lock_retain(lock, NULL, 0), 2);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK_STR(out, "{\n  \"version\": 1,\n  \"envelopeFormat\": \"\",\n  \"weights\": []\n}");
	wl_free(out);
	wl_lock_free(lock);
}

static int write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	fputs(data, f);
	return fclose(f);
}

TEST(prune_of_a_missing_lockfile_creates_nothing)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("prune-missing.lock"));
	size_t removed = 99;
	CHECK_OK(wl_prune_lockfile(p, NULL, 0, &removed));
	CHECK_INT(removed, 0);
	CHECK(access(p, F_OK) != 0);
}

TEST(prune_that_removes_nothing_does_not_write)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("prune-same.lock"));
	/* Not canonical, and must stay so. */
	CHECK(write_file(p, "{\"version\":1,\"weights\":[{\"name\":\"a\"}]}") == 0);
	struct stat before, after;
	stat(p, &before);
	wl_string keep[] = {wl_str("a")};
	CHECK_OK(wl_prune_lockfile(p, keep, 1, NULL));
	stat(p, &after);
	CHECK(before.st_ino == after.st_ino);
	CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	CHECK_INT(after.st_size, strlen("{\"version\":1,\"weights\":[{\"name\":\"a\"}]}"));
}

TEST(prune_rewrites_canonically_without_the_dropped_entries)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("prune.lock"));
	CHECK(write_file(p, "{\"version\":1,\"weights\":[{\"name\":\"b\"},{\"name\":\"a\"}]}") == 0);
	wl_string keep[] = {wl_str("a")};
	size_t removed;
	CHECK_OK(wl_prune_lockfile(p, keep, 1, &removed));
	CHECK_INT(removed, 1);
	char buf[4096];
	FILE *f = fopen(p, "rb");
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	CHECK_MEM(buf, n, minimal_entry_out);
}

TEST(prune_of_an_invalid_lockfile_fails_and_keeps_it)
{
	char p[256];
	snprintf(p, sizeof p, "%s", tmp_path("prune-bad.lock"));
	CHECK(write_file(p, "{\"version\":3}") == 0);
	CHECK_ERR(wl_prune_lockfile(p, NULL, 0, NULL), WL_EVERSION, "version 3");
	char buf[64];
	FILE *f = fopen(p, "rb");
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	CHECK_MEM(buf, n, "{\"version\":3}");
}

TEST(entries_equal_ignores_only_the_import_time)
{
	const char *base = "{\"version\":1,\"weights\":[{\"name\":\"a\",\"target\":\"/t\",\"source\":{\"uri\":\"u\","
	                   "\"fingerprint\":\"f\",\"include\":[\"x\"],\"importedAt\":\"2026-01-01T00:00:00Z\"},"
	                   "\"digest\":\"d\",\"setDigest\":\"s\",\"size\":1,\"sizeCompressed\":2,"
	                   "\"files\":[{\"path\":\"p\",\"size\":1,\"digest\":\"fd\",\"layer\":\"l\"}],"
	                   "\"layers\":[{\"digest\":\"l\",\"mediaType\":\"m\",\"size\":2,\"sizeUncompressed\":1}]}]}";
	wl_lock *a = parse_ok(base);
	wl_lock *b = parse_ok(base);
	CHECK(a != NULL && b != NULL);
	wl_entry *x = &a->entries[0], *y = &b->entries[0];
	CHECK(wl_entries_equal(x, y));
	y->imported_at.year = 2030;
	CHECK(wl_entries_equal(x, y));
	CHECK(!wl_entries_equal(x, NULL));
	CHECK(!wl_entries_equal(NULL, NULL));
	y->files[0].layer = wl_str("other");
	CHECK(!wl_entries_equal(x, y));
	y->files[0].layer = x->files[0].layer;
	y->layers[0].size_uncompressed = 9;
	CHECK(!wl_entries_equal(x, y));
	y->layers[0].size_uncompressed = 1;
	y->sources[0].include_count = 0;
	CHECK(!wl_entries_equal(x, y));
	y->sources[0].include_count = 1;
	y->sources[0].fingerprint = wl_str("g");
	CHECK(!wl_entries_equal(x, y));
	y->sources[0].fingerprint = x->sources[0].fingerprint;
	y->target = wl_str("/t/");
	CHECK(!wl_entries_equal(x, y));
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(entries_equal_treats_absent_and_empty_patterns_alike)
{
	wl_lock *a = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{\"include\":[]}}]}");
	wl_lock *b = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\"}]}");
	CHECK(wl_entries_equal(&a->entries[0], &b->entries[0]));
	wl_lock_free(a);
	wl_lock_free(b);
}

TEST(entries_equal_is_positional)
{
	wl_lock *a = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[{\"path\":\"x\"},{\"path\":\"y\"}]}]}");
	wl_lock *b = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"files\":[{\"path\":\"y\"},{\"path\":\"x\"}]}]}");
	CHECK(!wl_entries_equal(&a->entries[0], &b->entries[0]));
	wl_lock_free(a);
	wl_lock_free(b);
}

/* ---- §13 multi-source ---- */

static const char multi_in[] =
	"{\"version\":1,\"envelopeFormat\":\"\",\"weights\":[{\"name\":\"m\",\"target\":\"/m\","
	"\"sources\":[{\"uri\":\"hf://a/b\",\"fingerprint\":\"commit:1\",\"exclude\":[\"x\"]},{\"uri\":\"file://./w\"}],"
	"\"importedAt\":\"2026-06-11T20:45:55.187706Z\",\"digest\":\"\",\"setDigest\":\"\",\"size\":0,"
	"\"sizeCompressed\":0,\"files\":null,\"layers\":null}]}";

static const char multi_out[] = "{\n"
	"  \"version\": 1,\n"
	"  \"envelopeFormat\": \"\",\n"
	"  \"weights\": [\n"
	"    {\n"
	"      \"name\": \"m\",\n"
	"      \"target\": \"/m\",\n"
	"      \"sources\": [\n"
	"        {\n"
	"          \"uri\": \"hf://a/b\",\n"
	"          \"fingerprint\": \"commit:1\",\n"
	"          \"include\": [],\n"
	"          \"exclude\": [\n"
	"            \"x\"\n"
	"          ]\n"
	"        },\n"
	"        {\n"
	"          \"uri\": \"file://./w\",\n"
	"          \"fingerprint\": \"\",\n"
	"          \"include\": [],\n"
	"          \"exclude\": []\n"
	"        }\n"
	"      ],\n"
	"      \"importedAt\": \"2026-06-11T20:45:55.187706Z\",\n" ENTRY_TAIL;

TEST(multi_source_entries_are_read_and_written_in_their_shape)
{
	wl_lock *lock = parse_ok(multi_in);
	CHECK(lock != NULL);
	CHECK(lock->multi_source);
	CHECK_INT(lock->entries[0].source_count, 2);
	CHECK(wl_entry_source(&lock->entries[0]) == NULL);
	CHECK_INT(lock->entries[0].imported_at.nanosecond, 187706000);
	wl_lock_free(lock);
	CHECK(roundtrip(multi_in, multi_out));
}

TEST(entry_with_both_source_and_sources_is_rejected)
{
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{},\"sources\":[]}]}"), WL_EPARSE,
	          "both \"source\" and \"sources\"");
	/* A null `sources` is no list at all. */
	CHECK_INT(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{},\"sources\":null}]}"), 0);
}

TEST(single_source_entries_in_a_multi_source_file_are_written_in_the_multi_shape)
{
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"source\":{\"uri\":\"u\","
	                         "\"importedAt\":\"2026-01-02T03:04:05Z\"}},{\"name\":\"b\",\"sources\":[]}]}");
	CHECK(lock != NULL);
	char *out;
	size_t len;
	CHECK_OK(wl_lock_marshal(&out, &len, lock));
	CHECK(strstr(out, "\"name\": \"a\",\n      \"target\": \"\",\n      \"sources\": [\n        {\n"
	                  "          \"uri\": \"u\",") != NULL);
	CHECK(strstr(out, "      ],\n      \"importedAt\": \"2026-01-02T03:04:05Z\",") != NULL);
	CHECK(strstr(out, "\"sources\": [],") != NULL);
	CHECK(strstr(out, "\"source\":") == NULL);
	wl_free(out);
	wl_lock_free(lock);
}

TEST(entry_level_imported_at_is_ignored_in_the_single_source_shape)
{
	/* Cog v0.19.3 ignores the unknown key, even when it is not a time. */
	wl_lock *lock = parse_ok("{\"version\":1,\"weights\":[{\"name\":\"a\",\"importedAt\":\"nonsense\"}]}");
	CHECK(lock != NULL);
	CHECK(!lock->multi_source);
	wl_lock_free(lock);
	CHECK_ERR(parse_rc("{\"version\":1,\"weights\":[{\"name\":\"a\",\"sources\":[],\"importedAt\":\"nonsense\"}]}"),
	          WL_EPARSE, "weights[0].importedAt");
}

int main(void)
{
	RUN(syntax_rejects_non_standard_json);
	RUN(syntax_error_names_the_byte_offset);
	RUN(syntax_error_wins_over_earlier_type_error);
	RUN(nesting_deeper_than_10000_is_an_error);
	RUN(string_escapes_decode);
	RUN(surrogate_pair_decodes_to_one_code_point);
	RUN(lone_surrogates_become_replacement_characters);
	RUN(invalid_utf8_bytes_each_become_one_replacement);
	RUN(escaped_nul_is_kept_in_the_value);
	RUN(top_level_null_is_an_empty_lockfile_of_version_0);
	RUN(top_level_other_kinds_are_type_errors);
	RUN(keys_match_case_insensitively_with_simple_folding);
	RUN(dotless_i_does_not_match_i);
	RUN(unknown_keys_are_skipped_but_must_be_valid);
	RUN(repeated_scalar_key_last_wins);
	RUN(repeated_object_key_merges_fields);
	RUN(repeated_array_key_merges_elements_and_takes_the_new_length);
	RUN(null_leaves_scalars_and_objects_unchanged);
	RUN(null_list_becomes_absent_as_a_go_nil_slice);
	RUN(null_array_element_is_a_zero_element);
	RUN(integer_fields_accept_only_integer_literals_in_int64);
	RUN(type_errors_name_the_field);
	RUN(first_type_error_is_reported_after_decoding_the_rest);
	RUN(imported_at_is_parsed_from_the_raw_bytes);
	RUN(every_truncation_of_a_document_is_rejected_without_leaks);
	RUN(only_version_1_is_supported);
	RUN(duplicate_names_are_rejected);
	RUN(duplicate_cleaned_targets_are_rejected_empty_ones_are_not);
	RUN(the_first_duplicate_in_file_order_is_named);
	RUN(twenty_thousand_entries_load_and_a_last_duplicate_is_found);
	RUN(decoding_errors_come_before_version_errors);
	RUN(version_only_encodes_with_null_weights);
	RUN(missing_fields_encode_as_zero_values);
	RUN(files_sorted_by_path_and_layers_by_digest_bytewise);
	RUN(sort_is_stable_for_equal_keys);
	RUN(pattern_lists_are_not_sorted_by_encoding);
	RUN(strings_are_escaped_like_go);
	RUN(invalid_utf8_in_memory_encodes_as_escaped_replacement);
	RUN(encoding_is_a_fixed_point);
	RUN(version_0_in_memory_becomes_1);
	RUN(offset_of_24_hours_cannot_be_encoded);
	RUN(streamed_encoding_equals_the_buffered_one);
	RUN(streamed_encoding_checks_timestamps_before_writing);
	RUN(save_writes_canonical_bytes_mode_0644_and_leaves_no_temp_file);
	RUN(a_save_that_need_not_be_durable_writes_the_same_bytes_the_same_way);
	RUN(save_replaces_a_symlink_with_a_regular_file);
	RUN(save_into_a_missing_directory_fails_and_creates_nothing);
	RUN(save_that_cannot_encode_leaves_the_file_alone);
	RUN(load_tells_a_missing_file_from_other_failures);
	RUN(load_refuses_fifos_and_devices_at_once);
	RUN(load_refuses_a_lockfile_larger_than_1_gib_before_reading);
	RUN(read_limits_count_every_byte);
	RUN(load_names_the_file_in_parse_errors);
	RUN(find_returns_the_first_entry_of_that_name);
	RUN(upsert_replaces_in_place_or_appends);
	RUN(upsert_into_a_lock_with_absent_weights_makes_them_present);
	RUN(retain_keeps_order_ignores_unknown_names_and_leaves_a_present_list);
	RUN(prune_of_a_missing_lockfile_creates_nothing);
	RUN(prune_that_removes_nothing_does_not_write);
	RUN(prune_rewrites_canonically_without_the_dropped_entries);
	RUN(prune_of_an_invalid_lockfile_fails_and_keeps_it);
	RUN(entries_equal_ignores_only_the_import_time);
	RUN(entries_equal_treats_absent_and_empty_patterns_alike);
	RUN(entries_equal_is_positional);
	RUN(multi_source_entries_are_read_and_written_in_their_shape);
	RUN(entry_with_both_source_and_sources_is_rejected);
	RUN(single_source_entries_in_a_multi_source_file_are_written_in_the_multi_shape);
	RUN(entry_level_imported_at_is_ignored_in_the_single_source_shape);
	if (tmpdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("could not remove %s\n", tmpdir);
	}
	return harness_summary("lock");
}
