/*
 * lock.c - the lockfile: its structure as Go decodes it, the canonical
 * encoding, loading, saving, upsert and prune (SPEC.md §3, §4, §13).
 *
 * Decoding goes through common/json_read (Go's encoding/json rules) with
 * the lockfile's key tables and list elements; what is specific to the
 * lockfile stays here: the two entry shapes (`source` or `sources`),
 * settled once an entry is fully decoded since repeated keys may carry
 * both, and the checks after decoding (version, duplicate names and
 * targets). The encoder is Go's MarshalIndent output, escaping included.
 *
 * Memory: the input buffer is owned by the lock and decoded in place where
 * possible, so plain strings (nearly all of them) cost no copy; strings
 * that need unescaping go to the lock's arena. Lists are malloc'd arrays.
 */
#include "common/internal.h"
#include "common/json_read.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Lock allocation                                                          */
/* ------------------------------------------------------------------------ */

static void source_free_lists(wl_source *s)
{
	free(s->include);
	free(s->exclude);
	s->include = s->exclude = NULL;
	s->include_count = s->exclude_count = 0;
}

void wl__entry_free_lists(wl_entry *e)
{
	for (size_t i = 0; i < e->source_count; i++)
		source_free_lists(&e->sources[i]);
	free(e->sources);
	free(e->files);
	free(e->layers);
	e->sources = NULL;
	e->files = NULL;
	e->layers = NULL;
	e->source_count = e->file_count = e->layer_count = 0;
}

void wl__source_fill(wl_source *src)
{
	wl__string_fill(&src->uri);
	wl__string_fill(&src->fingerprint);
	for (size_t i = 0; i < src->include_count; i++)
		wl__string_fill(&src->include[i]);
	for (size_t i = 0; i < src->exclude_count; i++)
		wl__string_fill(&src->exclude[i]);
}

void wl__entry_fill(wl_entry *e)
{
	wl__string_fill(&e->name);
	wl__string_fill(&e->target);
	wl__string_fill(&e->digest);
	wl__string_fill(&e->set_digest);
	for (size_t i = 0; i < e->source_count; i++)
		wl__source_fill(&e->sources[i]);
	for (size_t i = 0; i < e->file_count; i++) {
		wl__string_fill(&e->files[i].path);
		wl__string_fill(&e->files[i].digest);
		wl__string_fill(&e->files[i].layer);
	}
	for (size_t i = 0; i < e->layer_count; i++) {
		wl__string_fill(&e->layers[i].digest);
		wl__string_fill(&e->layers[i].media_type);
	}
}

int wl_lock_new(wl_lock **out)
{
	*out = NULL;
	wl_lock *lock = calloc(1, sizeof *lock);
	if (lock == NULL)
		return wl__nomem();
	lock->storage = wl_storage_new();
	if (lock->storage == NULL) {
		free(lock);
		return wl__nomem();
	}
	lock->version = WL_LOCK_VERSION;
	lock->envelope_format = WL__EMPTY;
	*out = lock;
	return 0;
}

void wl_lock_free(wl_lock *lock)
{
	if (lock == NULL)
		return;
	for (size_t i = 0; i < lock->entry_count; i++)
		wl__entry_free_lists(&lock->entries[i]);
	free(lock->entries);
	wl_storage_free(lock->storage);
	free(lock);
}

/* ------------------------------------------------------------------------ */
/* Decoder state                                                            */
/* ------------------------------------------------------------------------ */

/* Per-entry decoding state: an entry may carry both shapes while being
 * decoded (repeated keys), so the decision is made at the end. */
typedef struct entry_state {
	wl_entry e;          /* sources/source_count: the `sources` list */
	wl_source single;    /* the `source` object */
	wl_time single_time; /* source.importedAt */
	bool has_single;
	const char *entry_time; /* raw entry-level importedAt (quotes included) */
	size_t entry_time_len;
	size_t entry_time_at;
} entry_state;

typedef struct entry_vec {
	entry_state *items;
	size_t count, cap;
	bool present;
} entry_vec;

/* ------------------------------------------------------------------------ */
/* Structures                                                               */
/* ------------------------------------------------------------------------ */

static const wl__json_key file_fields[] = {
	WL__JSON_KEY("path", "PATH"),
	WL__JSON_KEY("size", "SIZE"),
	WL__JSON_KEY("digest", "DIGEST"),
	WL__JSON_KEY("layer", "LAYER"),
};
static const wl__json_slot file_slots[] = {
	{false, offsetof(wl_file, path), {"WeightLockFile", "weights.files.path", "string"}},
	{true, offsetof(wl_file, size), {"WeightLockFile", "weights.files.size", "int64"}},
	{false, offsetof(wl_file, digest), {"WeightLockFile", "weights.files.digest", "string"}},
	{false, offsetof(wl_file, layer), {"WeightLockFile", "weights.files.layer", "string"}},
};

static bool file_elem(wl__json_reader *p, void *elem, void *ctx)
{
	(void)ctx;
	static const wl__json_ctx self = {"WeightLockEntry", "weights.files", "wl.WeightLockFile"};
	int open = wl__json_open_object(p, &self);
	if (open <= 0)
		return open == 0;
	return wl__json_read_scalar_object(p, elem, file_fields, file_slots, 4);
}

static const wl__json_key layer_fields[] = {
	WL__JSON_KEY("digest", "DIGEST"),
	WL__JSON_KEY("mediaType", "MEDIATYPE"),
	WL__JSON_KEY("size", "SIZE"),
	WL__JSON_KEY("sizeUncompressed", "SIZEUNCOMPRESSED"),
};
static const wl__json_slot layer_slots[] = {
	{false, offsetof(wl_layer, digest), {"WeightLockLayer", "weights.layers.digest", "string"}},
	{false, offsetof(wl_layer, media_type), {"WeightLockLayer", "weights.layers.mediaType", "string"}},
	{true, offsetof(wl_layer, size), {"WeightLockLayer", "weights.layers.size", "int64"}},
	{true, offsetof(wl_layer, size_uncompressed),
	 {"WeightLockLayer", "weights.layers.sizeUncompressed", "int64"}},
};

static bool layer_elem(wl__json_reader *p, void *elem, void *ctx)
{
	(void)ctx;
	static const wl__json_ctx self = {"WeightLockEntry", "weights.layers", "wl.WeightLockLayer"};
	int open = wl__json_open_object(p, &self);
	if (open <= 0)
		return open == 0;
	return wl__json_read_scalar_object(p, elem, layer_fields, layer_slots, 4);
}

enum { S_URI, S_FINGERPRINT, S_INCLUDE, S_EXCLUDE, S_IMPORTED_AT };
static const wl__json_key source_fields[] = {
	WL__JSON_KEY("uri", "URI"),
	WL__JSON_KEY("fingerprint", "FINGERPRINT"),
	WL__JSON_KEY("include", "INCLUDE"),
	WL__JSON_KEY("exclude", "EXCLUDE"),
	WL__JSON_KEY("importedAt", "IMPORTEDAT"),
};

/* A source object. `time` is NULL for elements of `sources`, which carry
 * no timestamp (their importedAt is an unknown key). */
static bool read_source(wl__json_reader *p, wl_source *s, wl_time *time)
{
	bool single = time != NULL;
	const char *base = single ? "weights.source" : "weights.sources";
	char fpath[64];
	wl__json_ctx self = {"WeightLockEntry", base, single ? "wl.WeightLockSource" : "wl.WeightSource"};
	int open = wl__json_open_object(p, &self);
	if (open <= 0)
		return open == 0;
	bool first = true;
	wl_string key;
	int r;
	while ((r = wl__json_next_member(p, &first, &key)) == 1) {
		int k = wl__json_match_key(source_fields, single ? 5 : 4, key.ptr, key.len);
		switch (k) {
		case S_URI:
		case S_FINGERPRINT: {
			snprintf(fpath, sizeof fpath, "%s.%s", base, source_fields[k].name);
			wl__json_ctx fc = {"WeightLockSource", fpath, "string"};
			if (!wl__json_read_string(p, &fc, k == S_URI ? &s->uri : &s->fingerprint))
				return false;
			break;
		}
		case S_INCLUDE:
			snprintf(fpath, sizeof fpath, "%s.include", base);
			if (!wl__json_read_string_list(p, "WeightLockSource", fpath, &s->include, &s->include_count))
				return false;
			break;
		case S_EXCLUDE:
			snprintf(fpath, sizeof fpath, "%s.exclude", base);
			if (!wl__json_read_string_list(p, "WeightLockSource", fpath, &s->exclude, &s->exclude_count))
				return false;
			break;
		case S_IMPORTED_AT:
			if (!wl__json_read_time(p, time))
				return false;
			break;
		default:
			if (!wl__json_skip_value(p))
				return false;
		}
	}
	return r == 0;
}

static void drop_source(void *elem)
{
	source_free_lists(elem);
	memset(elem, 0, sizeof(wl_source));
}

static bool sources_elem(wl__json_reader *p, void *elem, void *ctx)
{
	(void)ctx;
	return read_source(p, elem, NULL);
}

enum {
	E_NAME, E_TARGET, E_SOURCE, E_SOURCES, E_IMPORTED_AT, E_DIGEST, E_SET_DIGEST,
	E_SIZE, E_SIZE_COMPRESSED, E_FILES, E_LAYERS
};
static const wl__json_key entry_fields[] = {
	WL__JSON_KEY("name", "NAME"),
	WL__JSON_KEY("target", "TARGET"),
	WL__JSON_KEY("source", "SOURCE"),
	WL__JSON_KEY("sources", "SOURCES"),
	WL__JSON_KEY("importedAt", "IMPORTEDAT"),
	WL__JSON_KEY("digest", "DIGEST"),
	WL__JSON_KEY("setDigest", "SETDIGEST"),
	WL__JSON_KEY("size", "SIZE"),
	WL__JSON_KEY("sizeCompressed", "SIZECOMPRESSED"),
	WL__JSON_KEY("files", "FILES"),
	WL__JSON_KEY("layers", "LAYERS"),
};

/* Capacities of an entry's lists while decoding. */
typedef struct entry_caps {
	size_t files, layers, sources;
} entry_caps;

static bool entry_elem(wl__json_reader *p, void *elem, void *ctx)
{
	(void)ctx;
	entry_state *es = elem;
	wl_entry *e = &es->e;
	static const wl__json_ctx self = {"WeightsLock", "weights", "wl.WeightLockEntry"};
	int open = wl__json_open_object(p, &self);
	if (open <= 0)
		return open == 0;
	bool first = true;
	wl_string key;
	int r;
	/* Lists were trimmed to their counts, so capacity == count here. */
	size_t files_cap = e->file_count, layers_cap = e->layer_count, sources_cap = e->source_count;
	while ((r = wl__json_next_member(p, &first, &key)) == 1) {
		int k = wl__json_match_key(entry_fields, 11, key.ptr, key.len);
		switch (k) {
		case E_NAME:
		case E_TARGET:
		case E_DIGEST:
		case E_SET_DIGEST: {
			static const char *paths[] = {"weights.name", "weights.target", NULL, NULL, NULL,
			                              "weights.digest", "weights.setDigest"};
			wl__json_ctx fc = {"WeightLockEntry", paths[k], "string"};
			wl_string *dst = k == E_NAME ? &e->name
			                 : k == E_TARGET ? &e->target
			                 : k == E_DIGEST ? &e->digest
			                                 : &e->set_digest;
			if (!wl__json_read_string(p, &fc, dst))
				return false;
			break;
		}
		case E_SIZE:
		case E_SIZE_COMPRESSED: {
			wl__json_ctx fc = {"WeightLockEntry",
			                k == E_SIZE ? "weights.size" : "weights.sizeCompressed", "int64"};
			if (!wl__json_read_int(p, &fc, k == E_SIZE ? &e->size : &e->size_compressed))
				return false;
			break;
		}
		case E_SOURCE:
			if (wl__json_peek(p) == '{')
				es->has_single = true;
			if (!read_source(p, &es->single, &es->single_time))
				return false;
			break;
		case E_SOURCES: {
			static const wl__json_ctx fc = {"WeightLockEntry", "weights.sources", "[]wl.WeightSource"};
			if (!wl__json_read_list(p, &fc, (void **)&e->sources, &e->source_count, &sources_cap,
			               &e->sources_present, sizeof(wl_source), sources_elem, NULL, drop_source))
				return false;
			break;
		}
		case E_IMPORTED_AT: {
			/* Only meaningful in the multi-source shape: keep the raw
			 * value and interpret it once the shape is known. */
			size_t at = p->pos;
			if (wl__json_peek(p) == 'n') {
				if (!wl__json_is_null(p))
					return false;
				break;
			}
			if (!wl__json_skip_value(p))
				return false;
			es->entry_time = p->buf + at;
			es->entry_time_len = p->pos - at;
			es->entry_time_at = at;
			break;
		}
		case E_FILES: {
			static const wl__json_ctx fc = {"WeightLockEntry", "weights.files", "[]wl.WeightLockFile"};
			if (!wl__json_read_list(p, &fc, (void **)&e->files, &e->file_count, &files_cap,
			               &e->files_present, sizeof(wl_file), file_elem, NULL, NULL))
				return false;
			break;
		}
		case E_LAYERS: {
			static const wl__json_ctx fc = {"WeightLockEntry", "weights.layers",
			                             "[]wl.WeightLockLayer"};
			if (!wl__json_read_list(p, &fc, (void **)&e->layers, &e->layer_count, &layers_cap,
			               &e->layers_present, sizeof(wl_layer), layer_elem, NULL, NULL))
				return false;
			break;
		}
		default:
			if (!wl__json_skip_value(p))
				return false;
		}
	}
	return r == 0;
}

enum { T_VERSION, T_ENVELOPE, T_WEIGHTS };
static const wl__json_key lock_fields[] = {
	WL__JSON_KEY("version", "VERSION"),
	WL__JSON_KEY("envelopeFormat", "ENVELOPEFORMAT"),
	WL__JSON_KEY("weights", "WEIGHTS"),
};

static void entry_state_free(entry_state *es);

static void drop_entry_state(void *elem)
{
	entry_state_free(elem);
	memset(elem, 0, sizeof(entry_state));
}

/* The whole document: an object, null (nothing set), or a type error. */
static bool read_lock(wl__json_reader *p, wl_lock *lock, entry_vec *ev)
{
	static const wl__json_ctx self = {NULL, NULL, "wl.WeightsLock"};
	int open = wl__json_open_top(p, &self);
	if (open <= 0)
		return open == 0;
	bool first = true;
	wl_string key;
	int r;
	while ((r = wl__json_next_member(p, &first, &key)) == 1) {
		switch (wl__json_match_key(lock_fields, 3, key.ptr, key.len)) {
		case T_VERSION: {
			static const wl__json_ctx fc = {"WeightsLock", "version", "int"};
			if (!wl__json_read_int(p, &fc, &lock->version))
				return false;
			break;
		}
		case T_ENVELOPE: {
			static const wl__json_ctx fc = {"WeightsLock", "envelopeFormat", "string"};
			if (!wl__json_read_string(p, &fc, &lock->envelope_format))
				return false;
			break;
		}
		case T_WEIGHTS: {
			static const wl__json_ctx fc = {"WeightsLock", "weights", "[]wl.WeightLockEntry"};
			if (!wl__json_read_list(p, &fc, (void **)&ev->items, &ev->count, &ev->cap, &ev->present,
			               sizeof(entry_state), entry_elem, NULL, drop_entry_state))
				return false;
			break;
		}
		default:
			if (!wl__json_skip_value(p))
				return false;
		}
	}
	return r == 0;
}

/* ------------------------------------------------------------------------ */
/* Finishing: shapes, validation                                            */
/* ------------------------------------------------------------------------ */

static void entry_state_free(entry_state *es)
{
	source_free_lists(&es->single);
	wl__entry_free_lists(&es->e);
}

/* Settles each entry's shape and moves the entries into the lock. */
static int finish_entries(wl__json_reader *p, wl_lock *lock, entry_vec *ev)
{
	size_t n = ev->count;
	wl_entry *entries = n ? calloc(n, sizeof *entries) : NULL;
	if (n && entries == NULL)
		return wl__nomem();
	bool multi = false;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		entry_state *es = &ev->items[i];
		if (es->e.sources_present) {
			if (es->has_single) {
				rc = wl__fail(WL_EPARSE,
				              "parse %s: weights[%zu] has both \"source\" and \"sources\"",
				              p->name, i);
				break;
			}
			multi = true;
			if (es->entry_time != NULL) {
				const char *t = es->entry_time;
				size_t tl = es->entry_time_len;
				if (tl < 2 || t[0] != '"') {
					rc = wl__fail(WL_EPARSE,
					              "parse %s: weights[%zu].importedAt: Time.UnmarshalJSON: "
					              "input is not a JSON string (at byte %zu)",
					              p->name, i, es->entry_time_at);
					break;
				}
				if (wl_time_parse(&es->e.imported_at, t + 1, tl - 2) != 0) {
					rc = wl__error_prefix("parse %s: weights[%zu].importedAt (at byte %zu)",
					                      p->name, i, es->entry_time_at);
					break;
				}
			}
		} else {
			/* Single-source shape: whatever `sources` held (an absent
			 * list) is replaced by the one `source`. */
			for (size_t k = 0; k < es->e.source_count; k++)
				source_free_lists(&es->e.sources[k]);
			free(es->e.sources);
			es->e.sources = malloc(sizeof(wl_source));
			if (es->e.sources == NULL) {
				rc = wl__nomem();
				break;
			}
			es->e.sources[0] = es->single;
			memset(&es->single, 0, sizeof es->single);
			es->e.source_count = 1;
			es->e.sources_present = true;
			es->e.imported_at = es->single_time;
		}
	}
	if (rc != 0) {
		free(entries);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		entries[i] = ev->items[i].e;
		memset(&ev->items[i].e, 0, sizeof ev->items[i].e);
	}
	/* What the lockfile leaves out reads as the empty string. */
	for (size_t i = 0; i < n; i++)
		wl__entry_fill(&entries[i]);
	wl__string_fill(&lock->envelope_format);
	lock->entries = entries;
	lock->entry_count = n;
	lock->entries_present = ev->present;
	lock->multi_source = multi;
	return 0;
}

static int duplicate(const char *name, const char *what, wl_string value)
{
	char *q = NULL;
	wl_quote(&q, NULL, value);
	int rc = wl__fail(WL_EPARSE, "parse %s: duplicate weight %s %s", name, what, q ? q : "");
	free(q);
	return rc;
}

/*
 * Cog scans the entries in order and stops at the first one whose name, or
 * else whose cleaned target, an earlier entry has. Sorting finds the same
 * entry in O(n log n): the earliest repeated name, then the earliest
 * repeated target among the entries before it.
 */
static int validate(const char *name, wl_lock *lock)
{
	if (lock->version != WL_LOCK_VERSION)
		return wl__fail(WL_EVERSION, "%s: unsupported weights.lock version %lld (want 1)", name,
		                (long long)lock->version);
	size_t n = lock->entry_count;
	if (n < 2)
		return 0;
	const wl_string **refs = malloc(n * sizeof *refs);
	wl_string *cleaned = calloc(n, sizeof *cleaned);
	if (refs == NULL || cleaned == NULL) {
		free(refs);
		free(cleaned);
		return wl__nomem();
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = &lock->entries[i].name;
	const wl_string *repeat = wl__earliest_repeat(refs, n);
	size_t name_at = repeat == NULL ? n
	                                : (size_t)((const char *)repeat - (const char *)&lock->entries[0].name) /
	                                      sizeof(wl_entry);
	int rc = 0;
	size_t m = 0;
	for (size_t i = 0; i < name_at && rc == 0; i++) {
		if (lock->entries[i].target.len == 0)
			continue;
		char *c = NULL;
		size_t cl = 0;
		if (wl_path_clean(&c, &cl, lock->entries[i].target) != 0) {
			rc = WL_ENOMEM;
			break;
		}
		cleaned[i] = (wl_string){c, cl};
		refs[m++] = &cleaned[i];
	}
	if (rc == 0) {
		repeat = wl__earliest_repeat(refs, m);
		if (repeat != NULL)
			rc = duplicate(name, "target", lock->entries[repeat - cleaned].target);
		else if (name_at < n)
			rc = duplicate(name, "name", lock->entries[name_at].name);
	}
	for (size_t i = 0; i < name_at; i++)
		free((char *)cleaned[i].ptr);
	free(cleaned);
	free(refs);
	return rc;
}

/* Parses a buffer the lock takes ownership of (freed on failure too). */
static int parse_owned(wl_lock **out, char *buf, size_t len, const char *name)
{
	*out = NULL;
	if (name == NULL)
		name = WL_LOCK_FILENAME;
	wl_lock *lock;
	int rc = wl_lock_new(&lock);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	lock->version = 0;
	if (!wl_storage_adopt(lock->storage, buf)) {
		free(buf);
		wl_lock_free(lock);
		return wl__nomem();
	}
	wl__json_reader p;
	wl__json_init(&p, buf, len, name, lock->storage);
	entry_vec ev = {0};
	bool ok = read_lock(&p, lock, &ev);
	rc = wl__json_finish(&p, ok);
	if (rc == 0)
		rc = finish_entries(&p, lock, &ev);
	for (size_t i = 0; i < ev.count; i++)
		entry_state_free(&ev.items[i]);
	free(ev.items);
	if (rc == 0)
		rc = validate(name, lock);
	if (rc != 0) {
		wl_lock_free(lock);
		return rc;
	}
	*out = lock;
	return 0;
}

int wl_lock_parse(wl_lock **out, const void *data, size_t len, const char *name)
{
	*out = NULL;
	if (len == SIZE_MAX)
		return wl__nomem();
	char *buf = malloc(len + 1);
	if (buf == NULL)
		return wl__nomem();
	if (len)
		memcpy(buf, data, len);
	buf[len] = '\0';
	return parse_owned(out, buf, len, name);
}

int wl_lock_load(wl_lock **out, const char *path)
{
	*out = NULL;
	char *buf;
	size_t len;
	int rc = wl_read_file(&buf, &len, path, WL_LOCK_SIZE_MAX);
	if (rc != 0)
		return rc;
	return parse_owned(out, buf, len, path);
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding (SPEC.md §3.4)                                        */
/* ------------------------------------------------------------------------ */

#define STREAM_CHUNK ((size_t)256 * 1024)

/* Where the encoder's bytes go: kept in `b`, or handed to `write` each
 * time `b` holds a chunk. */
typedef struct sink {
	wl_buf b;
	wl_write_fn write;
	void *ctx;
	bool write_failed;
} sink;

static void sink_flush(sink *s, size_t at_least)
{
	if (s->write == NULL || s->b.len < at_least || s->write_failed || s->b.failed)
		return;
	if (s->write(s->ctx, s->b.data, s->b.len) != 0)
		s->write_failed = true;
	s->b.len = 0;
}

static const char spaces[] = "                                ";

static void indent(wl_buf *b, int level)
{
	wl_buf_put(b, spaces, (size_t)level * 2);
}

static void key(wl_buf *b, int level, const char *k)
{
	indent(b, level);
	wl_buf_putc(b, '"');
	wl_buf_puts(b, k);
	wl_buf_put(b, "\": ", 3);
}

static void str_member(wl_buf *b, int level, const char *k, wl_string v, bool last)
{
	key(b, level, k);
	wl_json_put_string(b, v.ptr, v.len);
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void int_member(wl_buf *b, int level, const char *k, int64_t v, bool last)
{
	key(b, level, k);
	wl_buf_put_int64(b, v);
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void patterns_member(wl_buf *b, int level, const char *k, const wl_string *v, size_t n,
                            bool last)
{
	key(b, level, k);
	if (n == 0) {
		wl_buf_put(b, "[]", 2);
	} else {
		wl_buf_put(b, "[\n", 2);
		for (size_t i = 0; i < n; i++) {
			indent(b, level + 1);
			wl_json_put_string(b, v[i].ptr, v[i].len);
			wl_buf_put(b, i + 1 < n ? ",\n" : "\n", i + 1 < n ? 2 : 1);
		}
		indent(b, level);
		wl_buf_putc(b, ']');
	}
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void time_member(wl_buf *b, int level, const wl_time *t, bool last)
{
	char tb[48];
	if (wl_time_format(tb, sizeof tb, t) != 0)
		tb[0] = '\0'; /* unreachable: checked by check_encodable */
	key(b, level, "importedAt");
	wl_buf_putc(b, '"');
	wl_buf_puts(b, tb);
	wl_buf_putc(b, '"');
	wl_buf_put(b, last ? "\n" : ",\n", last ? 1 : 2);
}

static void source_fields_out(wl_buf *b, int level, const wl_source *s, bool more)
{
	str_member(b, level, "uri", s->uri, false);
	str_member(b, level, "fingerprint", s->fingerprint, false);
	patterns_member(b, level, "include", s->include, s->include_count, false);
	patterns_member(b, level, "exclude", s->exclude, s->exclude_count, !more);
}

static void files_out(sink *s, const wl_entry *e)
{
	wl_buf *b = &s->b;
	key(b, 3, "files");
	if (!e->files_present) {
		wl_buf_put(b, "null,\n", 6);
		return;
	}
	if (e->file_count == 0) {
		wl_buf_put(b, "[],\n", 4);
		return;
	}
	wl_buf_put(b, "[\n", 2);
	for (size_t i = 0; i < e->file_count; i++) {
		const wl_file *f = &e->files[i];
		/* The hot loop of large lockfiles: one reservation per file,
		 * then plain stores. */
		size_t need = 120;
		if (f->path.len > (SIZE_MAX / 8 - need) / 6 || f->digest.len > SIZE_MAX / 64 ||
		    f->layer.len > SIZE_MAX / 64) {
			b->failed = true;
			return;
		}
		need += WL_JSON_STRING_MAX(f->path.len) + WL_JSON_STRING_MAX(f->digest.len) +
		        WL_JSON_STRING_MAX(f->layer.len);
		if (!wl_buf_reserve(b, need))
			return;
		char *o = b->data + b->len;
		memcpy(o, "        {\n          \"path\": ", 28);
		o = wl_json_write_string(o + 28, f->path.ptr, f->path.len);
		memcpy(o, ",\n          \"size\": ", 20);
		o = wl_write_int64(o + 20, f->size);
		memcpy(o, ",\n          \"digest\": ", 22);
		o = wl_json_write_string(o + 22, f->digest.ptr, f->digest.len);
		memcpy(o, ",\n          \"layer\": ", 21);
		o = wl_json_write_string(o + 21, f->layer.ptr, f->layer.len);
		if (i + 1 < e->file_count) {
			memcpy(o, "\n        },\n", 12);
			o += 12;
		} else {
			memcpy(o, "\n        }\n", 11);
			o += 11;
		}
		b->len = (size_t)(o - b->data);
		sink_flush(s, STREAM_CHUNK);
		if (s->write_failed)
			return; /* the writer stopped: encoding the rest is wasted */
	}
	wl_buf_put(b, "      ],\n", 9);
}

static void layers_out(sink *s, const wl_entry *e)
{
	wl_buf *b = &s->b;
	key(b, 3, "layers");
	if (!e->layers_present) {
		wl_buf_put(b, "null\n", 5);
		return;
	}
	if (e->layer_count == 0) {
		wl_buf_put(b, "[]\n", 3);
		return;
	}
	wl_buf_put(b, "[\n", 2);
	for (size_t i = 0; i < e->layer_count; i++) {
		const wl_layer *l = &e->layers[i];
		indent(b, 4);
		wl_buf_put(b, "{\n", 2);
		str_member(b, 5, "digest", l->digest, false);
		str_member(b, 5, "mediaType", l->media_type, false);
		int_member(b, 5, "size", l->size, false);
		int_member(b, 5, "sizeUncompressed", l->size_uncompressed, true);
		indent(b, 4);
		wl_buf_put(b, i + 1 < e->layer_count ? "},\n" : "}\n", i + 1 < e->layer_count ? 3 : 2);
		sink_flush(s, STREAM_CHUNK);
	}
	wl_buf_put(b, "      ]\n", 8);
}

static const wl_source empty_source;

/* Timestamps were checked by check_encodable, so this cannot fail. */
static void entry_out(sink *s, const wl_entry *e, bool multi)
{
	wl_buf *b = &s->b;
	wl_buf_put(b, "    {\n", 6);
	str_member(b, 3, "name", e->name, false);
	str_member(b, 3, "target", e->target, false);
	if (multi) {
		key(b, 3, "sources");
		if (!e->sources_present) {
			wl_buf_put(b, "null,\n", 6);
		} else if (e->source_count == 0) {
			wl_buf_put(b, "[],\n", 4);
		} else {
			wl_buf_put(b, "[\n", 2);
			for (size_t i = 0; i < e->source_count; i++) {
				indent(b, 4);
				wl_buf_put(b, "{\n", 2);
				source_fields_out(b, 5, &e->sources[i], false);
				indent(b, 4);
				wl_buf_put(b, i + 1 < e->source_count ? "},\n" : "}\n",
				           i + 1 < e->source_count ? 3 : 2);
			}
			wl_buf_put(b, "      ],\n", 9);
		}
		time_member(b, 3, &e->imported_at, false);
	} else {
		const wl_source *src = e->source_count >= 1 ? &e->sources[0] : &empty_source;
		key(b, 3, "source");
		wl_buf_put(b, "{\n", 2);
		source_fields_out(b, 4, src, true);
		time_member(b, 4, &e->imported_at, true);
		indent(b, 3);
		wl_buf_put(b, "},\n", 3);
	}
	str_member(b, 3, "digest", e->digest, false);
	str_member(b, 3, "setDigest", e->set_digest, false);
	int_member(b, 3, "size", e->size, false);
	int_member(b, 3, "sizeCompressed", e->size_compressed, false);
	files_out(s, e);
	layers_out(s, e);
	wl_buf_put(b, "    }", 5);
}

static size_t estimate_size(const wl_lock *lock)
{
	size_t est = 256;
	for (size_t i = 0; i < lock->entry_count; i++)
		est += 1024 + lock->entries[i].file_count * 300 + lock->entries[i].layer_count * 300;
	return est;
}

/* Checks everything that can make encoding fail, so a stream never stops
 * half-way for a reason other than its writer. */
static int check_encodable(const wl_lock *lock)
{
	char tb[48];
	for (size_t i = 0; i < lock->entry_count; i++)
		if (wl_time_format(tb, sizeof tb, &lock->entries[i].imported_at) != 0)
			return wl__error_prefix("weights[%zu].importedAt", i);
	return 0;
}

static int marshal(wl_lock *lock, sink *s)
{
	if (lock->version == 0)
		lock->version = WL_LOCK_VERSION;
	for (size_t i = 0; i < lock->entry_count; i++)
		wl_entry_normalize(&lock->entries[i]);
	int rc = check_encodable(lock);
	if (rc != 0)
		return rc;
	wl_buf *b = &s->b;
	wl_buf_reserve(b, s->write ? STREAM_CHUNK + 4096 : estimate_size(lock));
	wl_buf_put(b, "{\n", 2);
	int_member(b, 1, "version", lock->version, false);
	str_member(b, 1, "envelopeFormat", lock->envelope_format, false);
	key(b, 1, "weights");
	if (!lock->entries_present) {
		wl_buf_put(b, "null\n}", 6);
	} else if (lock->entry_count == 0) {
		wl_buf_put(b, "[]\n}", 4);
	} else {
		wl_buf_put(b, "[\n", 2);
		for (size_t i = 0; i < lock->entry_count && !s->write_failed; i++) {
			entry_out(s, &lock->entries[i], lock->multi_source);
			wl_buf_put(b, i + 1 < lock->entry_count ? ",\n" : "\n",
			           i + 1 < lock->entry_count ? 2 : 1);
		}
		wl_buf_put(b, "  ]\n}", 5);
	}
	sink_flush(s, 1);
	if (s->b.failed)
		return wl__nomem();
	if (s->write_failed)
		return wl__fail(WL_EIO, "write of the encoded lockfile failed");
	return 0;
}

int wl_lock_marshal(char **out, size_t *out_len, wl_lock *lock)
{
	*out = NULL;
	sink s = {.write = NULL};
	wl_buf_init(&s.b);
	int rc = marshal(lock, &s);
	if (rc != 0) {
		wl_buf_release(&s.b);
		return rc;
	}
	return wl_buf_finish(&s.b, out, out_len);
}

int wl_lock_marshal_to(wl_lock *lock, wl_write_fn write, void *ctx)
{
	sink s = {.write = write, .ctx = ctx};
	wl_buf_init(&s.b);
	int rc = marshal(lock, &s);
	wl_buf_release(&s.b);
	return rc;
}

/* Streams the encoding into the temporary file of wl__write_atomic, so a
 * large lockfile costs no buffer of its size. */
typedef struct fd_sink {
	int fd;
	int err;
} fd_sink;

static int write_to_fd(void *ctx, const void *data, size_t len)
{
	fd_sink *f = ctx;
	f->err = wl__write_all(f->fd, data, len);
	return f->err;
}

static int fill_with_lock(void *ctx, int fd)
{
	wl_lock *lock = ctx;
	fd_sink f = {fd, 0};
	int rc = wl_lock_marshal_to(lock, write_to_fd, &f);
	if (f.err != 0)
		return f.err;
	return rc;
}

int wl_lock_save(wl_lock *lock, const char *path)
{
	return wl_lock_save_to(lock, path, true);
}

int wl_lock_save_to(wl_lock *lock, const char *path, bool durable)
{
	/* Everything but the writes themselves fails before the first byte. */
	int rc = wl__write_atomic_sync(path, fill_with_lock, lock, durable);
	if (rc < 0 && wl_error_last()->sys_errno == 0 && rc != WL_EIO)
		return wl__error_prefix("save %s", path);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Upsert and prune (SPEC.md §4.2, §4.4)                                    */
/* ------------------------------------------------------------------------ */

/* With no storage, the copy shares the source's bytes. */
static bool copy_str(wl_storage *st, wl_string *dst, wl_string src)
{
	if (st == NULL) {
		*dst = src;
		wl__string_fill(dst);
		return true;
	}
	return wl_storage_string(st, dst, src.ptr, src.len);
}

static bool copy_patterns(wl_storage *st, wl_string **dst, const wl_string *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return true;
	*dst = calloc(n, sizeof(wl_string));
	if (*dst == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!copy_str(st, &(*dst)[i], src[i]))
			return false;
	return true;
}

bool wl__entry_copy(wl_storage *st, wl_entry *dst, const wl_entry *src)
{
	memset(dst, 0, sizeof *dst);
	dst->imported_at = src->imported_at;
	dst->size = src->size;
	dst->size_compressed = src->size_compressed;
	dst->files_present = src->files_present || src->file_count > 0;
	dst->layers_present = src->layers_present || src->layer_count > 0;
	dst->sources_present = src->sources_present || src->source_count > 0;
	if (!copy_str(st, &dst->name, src->name) || !copy_str(st, &dst->target, src->target) ||
	    !copy_str(st, &dst->digest, src->digest) || !copy_str(st, &dst->set_digest, src->set_digest))
		return false;
	if (src->source_count) {
		dst->sources = calloc(src->source_count, sizeof(wl_source));
		if (dst->sources == NULL)
			return false;
		dst->source_count = src->source_count;
		for (size_t i = 0; i < src->source_count; i++) {
			const wl_source *s = &src->sources[i];
			wl_source *d = &dst->sources[i];
			if (!copy_str(st, &d->uri, s->uri) || !copy_str(st, &d->fingerprint, s->fingerprint) ||
			    !copy_patterns(st, &d->include, s->include, s->include_count))
				return false;
			d->include_count = s->include_count;
			if (!copy_patterns(st, &d->exclude, s->exclude, s->exclude_count))
				return false;
			d->exclude_count = s->exclude_count;
		}
	}
	if (src->file_count) {
		dst->files = calloc(src->file_count, sizeof(wl_file));
		if (dst->files == NULL)
			return false;
		dst->file_count = src->file_count;
		for (size_t i = 0; i < src->file_count; i++) {
			const wl_file *s = &src->files[i];
			wl_file *d = &dst->files[i];
			d->size = s->size;
			if (!copy_str(st, &d->path, s->path) || !copy_str(st, &d->digest, s->digest) ||
			    !copy_str(st, &d->layer, s->layer))
				return false;
		}
	}
	if (src->layer_count) {
		dst->layers = calloc(src->layer_count, sizeof(wl_layer));
		if (dst->layers == NULL)
			return false;
		dst->layer_count = src->layer_count;
		for (size_t i = 0; i < src->layer_count; i++) {
			const wl_layer *s = &src->layers[i];
			wl_layer *d = &dst->layers[i];
			d->size = s->size;
			d->size_uncompressed = s->size_uncompressed;
			if (!copy_str(st, &d->digest, s->digest) ||
			    !copy_str(st, &d->media_type, s->media_type))
				return false;
		}
	}
	return true;
}

int wl_lock_upsert(wl_lock *lock, const wl_entry *entry)
{
	wl_entry copy;
	if (!wl__entry_copy(lock->storage, &copy, entry)) {
		wl__entry_free_lists(&copy);
		return wl__nomem();
	}
	if (!lock->multi_source && copy.source_count != 1) {
		/* The single-source shape has exactly one source per entry. */
		if (copy.source_count == 0) {
			copy.sources = calloc(1, sizeof(wl_source));
			if (copy.sources == NULL)
				return wl__nomem();
			wl__source_fill(&copy.sources[0]);
			copy.source_count = 1;
			copy.sources_present = true;
		} else {
			lock->multi_source = true;
		}
	}
	wl_entry *existing = wl_lock_find(lock, entry->name);
	if (existing != NULL) {
		wl__entry_free_lists(existing);
		*existing = copy;
		return 0;
	}
	wl_entry *grown = realloc(lock->entries, (lock->entry_count + 1) * sizeof(wl_entry));
	if (grown == NULL) {
		wl__entry_free_lists(&copy);
		return wl__nomem();
	}
	lock->entries = grown;
	lock->entries[lock->entry_count++] = copy;
	lock->entries_present = true;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Shapes (SPEC.md §13)                                                     */
/* ------------------------------------------------------------------------ */

int wl_lock_convert(wl_lock *lock, bool multi_source)
{
	if (!multi_source) {
		for (size_t i = 0; i < lock->entry_count; i++) {
			const wl_entry *e = &lock->entries[i];
			if (e->source_count == 1)
				continue;
			char *q = NULL;
			if (wl_quote(&q, NULL, e->name) != 0)
				return wl__nomem();
			int rc;
			if (e->source_count == 0)
				rc = wl__fail(WL_EINVALID,
				              "weight %s has no source; the single-source shape holds exactly one",
				              q);
			else
				rc = wl__fail(WL_EINVALID,
				              "weight %s has %zu sources; the single-source shape holds exactly one",
				              q, e->source_count);
			free(q);
			return rc;
		}
	}
	lock->multi_source = multi_source;
	return 0;
}

size_t wl_lock_retain(wl_lock *lock, const wl_string *names, size_t count)
{
	size_t w = 0, removed = 0;
	for (size_t i = 0; i < lock->entry_count; i++) {
		bool keep = false;
		for (size_t k = 0; k < count && !keep; k++)
			keep = wl_string_equal(lock->entries[i].name, names[k]);
		if (keep) {
			lock->entries[w++] = lock->entries[i];
		} else {
			wl__entry_free_lists(&lock->entries[i]);
			removed++;
		}
	}
	lock->entry_count = w;
	lock->entries_present = true;
	return removed;
}

int wl_prune_lockfile(const char *path, const wl_string *keep, size_t count, size_t *removed)
{
	if (removed != NULL)
		*removed = 0;
	wl_lock *lock;
	int rc = wl_lock_load(&lock, path);
	if (rc == WL_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	size_t before = lock->entry_count;
	size_t n = wl_lock_retain(lock, keep, count);
	if (removed != NULL)
		*removed = n;
	if (lock->entry_count != before)
		rc = wl_lock_save(lock, path);
	wl_lock_free(lock);
	return rc;
}

int wl__lock_check_names(const wl_lock *lock, const char *const *names, size_t count)
{
	for (size_t i = 0; names != NULL && i < count; i++)
		if (wl_lock_find(lock, wl_str(names[i])) == NULL)
			return wl__fail(WL_ENOTFOUND, "weight \"%s\" is not in the lockfile", names[i]);
	return 0;
}

bool wl__names_select(const char *const *names, size_t count, wl_string name)
{
	if (names == NULL)
		return true;
	for (size_t i = 0; i < count; i++)
		if (wl_string_equal(name, wl_str(names[i])))
			return true;
	return false;
}
