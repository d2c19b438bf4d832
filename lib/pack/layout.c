/*
 * layout.c - the OCI image layout written by `import --oci-layout DIR`
 * (SPEC.md §6.6): the `oci-layout` marker file, the content-addressed blobs
 * under blobs/sha256/, and index.json with one tagged descriptor per weight.
 *
 * A blob is written to a temporary file in blobs/sha256/ while it is hashed,
 * and gets its digest as name only once its bytes are checked and synced, so
 * a blob name never holds partial or wrong content. index.json is written
 * last, and only when its bytes change.
 *
 * index.json is read with a small strict JSON reader of its own rather than
 * the lockfile codec: the codec decodes into the lockfile model with Go's
 * rules, whereas an existing index (perhaps rewritten by another tool, with
 * fields this project does not know) must have every descriptor it does not
 * replace carried through byte for byte. So the reader only checks the
 * syntax, records the byte span of each descriptor and of each unknown
 * top-level member, and decodes the few strings it needs: keys, the media
 * type and the ref name annotation.
 */
#include "common/internal.h"
#include "pack/pack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OCI_LAYOUT_FILE "oci-layout"
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define INDEX_FILE "index.json"
#define REF_NAME_KEY "org.opencontainers.image.ref.name"
/* Deeper nesting than any index needs; bounds the reader's recursion. */
#define JSON_MAX_DEPTH 64

/* One descriptor of the index, as bytes. */
typedef struct index_item {
	char *raw;
	size_t raw_len;
	char *ref_name; /* decoded; NULL when the descriptor has none */
	size_t ref_len;
} index_item;

struct wl_oci_layout {
	char *dir;        /* as given, for messages */
	char *blob_dir;   /* DIR/blobs/sha256 */
	char *index_path; /* DIR/index.json */
	index_item *items;
	size_t item_count;
	size_t item_cap;
	wl_buf extra;      /* unknown top-level members of the index, each after a ',' */
	char *index_bytes; /* index.json as last read or written; NULL when absent */
	size_t index_len;
	wl_hash_cache *cache; /* remembers verified blobs; may be NULL */
};

struct wl_oci_blob {
	wl_oci_layout *layout;
	int fd;         /* -1 once closed */
	char *tmp_path; /* NULL once renamed or removed */
	EVP_MD_CTX *sha;
	int64_t size;
	int err;          /* errno of the first failure; the blob is dead then */
	const char *step; /* what failed */
};

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* DIR + "/" + name, without doubling a trailing slash of DIR. */
static char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl > 0 && dir[dl - 1] == '/';
	char *p = malloc(dl + nl + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (!slash)
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}



static int fsync_dir(const char *layout_dir, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wl__fail_errno(WL_EIO, errno, "OCI layout %s: open %s", layout_dir, dir);
	int err = 0;
	if (fsync(fd) != 0 && errno != EINVAL)
		err = errno;
	close(fd);
	if (err != 0)
		return wl__fail_errno(WL_EIO, err, "OCI layout %s: fsync %s", layout_dir, dir);
	return 0;
}

/* The path of the blob named by a valid digest. */
static char *blob_path(const wl_oci_layout *layout, const char *digest)
{
	return path_join(layout->blob_dir, digest + 7);
}

static int64_t stat_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 1 when the blob `digest` exists as a regular file of `size` bytes whose
 * bytes hash to its name (§15), 0 when not (missing, or anything else: it
 * is then replaced), or a negative error when it cannot be looked at. A
 * blob verified once is remembered in the hash cache by its identity and
 * times, so an unchanged layout is not read again. */
static int blob_present(const wl_oci_layout *layout, const char *path, int64_t size, const char *digest)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENXIO)
			return 0;
		return wl__fail_errno(WL_EIO, errno, "OCI layout %s: open %s", layout->dir, path);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return wl__fail_errno(WL_EIO, err, "OCI layout %s: stat %s", layout->dir, path);
	}
	if (!S_ISREG(st.st_mode) || (int64_t)st.st_size != size) {
		close(fd);
		return 0;
	}
	wl_source_file id;
	memset(&id, 0, sizeof id);
	id.path = wl_str(digest);
	id.size = size;
	id.dev = (uint64_t)st.st_dev;
	id.ino = (uint64_t)st.st_ino;
	id.mtime_ns = stat_ns(st.st_mtim);
	id.ctime_ns = stat_ns(st.st_ctim);
	char known[WL_DIGEST_LEN + 1];
	if (wl_hash_cache_get(layout->cache, &id, known)) {
		close(fd);
		return strcmp(known, digest) == 0;
	}
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	wl__hash_io io = {.md = EVP_sha256()};
	uint64_t seen = 0;
	int rc = wl__hash_fd(id.digest, &seen, fd, size, &io);
	struct stat after;
	id.verified = rc == 0 && seen == (uint64_t)size && fstat(fd, &after) == 0 && after.st_ino == st.st_ino &&
	              after.st_dev == st.st_dev && after.st_size == st.st_size &&
	              stat_ns(after.st_mtim) == id.mtime_ns && stat_ns(after.st_ctim) == id.ctime_ns;
	close(fd);
	if (rc == WL_EIO)
		return wl__fail_errno(WL_EIO, io.sys_errno, "OCI layout %s: %s %s", layout->dir,
		                      io.failed_step ? io.failed_step : "read", path);
	if (rc != 0)
		return rc;
	if (!id.verified || strcmp(id.digest, digest) != 0)
		return 0;
	wl_hash_cache_put(layout->cache, &id, stat_ns(started));
	return 1;
}

void wl__oci_layout_use_cache(wl_oci_layout *layout, wl_hash_cache *cache)
{
	if (layout != NULL)
		layout->cache = cache;
}

/* ------------------------------------------------------------------------ */
/* A strict JSON reader for index.json                                      */
/* ------------------------------------------------------------------------ */

typedef struct json_reader {
	const char *text;
	size_t len;
	size_t pos;
	const char *path; /* for messages */
	int depth;
} json_reader;

/* A syntax error at the current position. */
static int json_syntax(json_reader *r, const char *what)
{
	if (r->pos >= r->len)
		return wl__fail(WL_EPARSE, "parse %s: unexpected end of JSON input (at byte %zu)", r->path,
		                r->len);
	return wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", r->path, what, r->pos);
}

/* Valid JSON that is not a valid index, for the value starting at `at`. */
static int json_invalid(json_reader *r, size_t at, const char *what)
{
	return wl__fail(WL_EPARSE, "parse %s: %s (at byte %zu)", r->path, what, at);
}

static void skip_space(json_reader *r)
{
	while (r->pos < r->len) {
		char c = r->text[r->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		r->pos++;
	}
}


/* Four hex digits at r->pos; -1 when they are not. */
static long read_hex4(json_reader *r)
{
	if (r->len - r->pos < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = wl_hex_value(r->text[r->pos + (size_t)i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	r->pos += 4;
	return v;
}

/* Reads the string at r->pos (a '"'); its decoded bytes go to `out` (may be
 * NULL). Lone surrogate escapes decode to U+FFFD, as Go does. */
static int read_string(json_reader *r, wl_buf *out)
{
	r->pos++;
	for (;;) {
		if (r->pos >= r->len)
			return json_syntax(r, "");
		unsigned char c = (unsigned char)r->text[r->pos];
		if (c == '"') {
			r->pos++;
			return 0;
		}
		if (c < 0x20)
			return json_syntax(r, "control character in string");
		if (c >= 0x80) {
			uint32_t cp;
			size_t n = wl_utf8_decode((const unsigned char *)r->text + r->pos, r->len - r->pos, &cp);
			if (n == 1 && cp == 0xFFFD)
				return json_syntax(r, "invalid UTF-8 in string");
			if (out)
				wl_buf_put(out, r->text + r->pos, n);
			r->pos += n;
			continue;
		}
		if (c != '\\') {
			if (out)
				wl_buf_putc(out, (char)c);
			r->pos++;
			continue;
		}
		r->pos++;
		if (r->pos >= r->len)
			return json_syntax(r, "");
		char e = r->text[r->pos++];
		static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
		const char *simple = e != '\0' ? strchr(escapes, e) : NULL;
		if (simple != NULL) {
			if (out)
				wl_buf_putc(out, decoded[simple - escapes]);
			continue;
		}
		if (e != 'u') {
			r->pos--;
			return json_syntax(r, "invalid escape in string");
		}
		long cp = read_hex4(r);
		if (cp < 0)
			return json_syntax(r, "invalid \\u escape in string");
		if (cp >= 0xD800 && cp < 0xDC00 && r->len - r->pos >= 6 && r->text[r->pos] == '\\' &&
		    r->text[r->pos + 1] == 'u') {
			size_t save = r->pos;
			r->pos += 2;
			long low = read_hex4(r);
			if (low >= 0xDC00 && low < 0xE000)
				cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			else
				r->pos = save; /* decoded on its own next round */
		}
		if (cp >= 0xD800 && cp < 0xE000)
			cp = 0xFFFD;
		if (out)
			wl_utf8_put(out, (uint32_t)cp);
	}
}

static bool is_digit(json_reader *r)
{
	return r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9';
}

static int read_number(json_reader *r)
{
	if (r->text[r->pos] == '-')
		r->pos++;
	if (!is_digit(r))
		return json_syntax(r, "expected a digit");
	if (r->text[r->pos] == '0')
		r->pos++;
	else
		while (is_digit(r))
			r->pos++;
	if (r->pos < r->len && r->text[r->pos] == '.') {
		r->pos++;
		if (!is_digit(r))
			return json_syntax(r, "expected a digit after the decimal point");
		while (is_digit(r))
			r->pos++;
	}
	if (r->pos < r->len && (r->text[r->pos] == 'e' || r->text[r->pos] == 'E')) {
		r->pos++;
		if (r->pos < r->len && (r->text[r->pos] == '+' || r->text[r->pos] == '-'))
			r->pos++;
		if (!is_digit(r))
			return json_syntax(r, "expected a digit in the exponent");
		while (is_digit(r))
			r->pos++;
	}
	return 0;
}

/* Called with r->pos at a member's value; must consume it. `key` is
 * decoded; `key_at` is where the key's opening quote is. */
typedef int (*member_fn)(json_reader *r, void *ctx, const char *key, size_t key_len, size_t key_at);
/* Called with r->pos at an element; must consume it. */
typedef int (*element_fn)(json_reader *r, void *ctx, size_t index);

static int skip_value(json_reader *r);

static int skip_member(json_reader *r, void *ctx, const char *key, size_t key_len, size_t key_at)
{
	(void)ctx;
	(void)key;
	(void)key_len;
	(void)key_at;
	return skip_value(r);
}

static int skip_element(json_reader *r, void *ctx, size_t index)
{
	(void)ctx;
	(void)index;
	return skip_value(r);
}

typedef struct key_ref {
	const char *p;
	size_t len;
	size_t at;
} key_ref;

static int key_ref_cmp(const void *x, const void *y)
{
	const key_ref *a = x, *b = y;
	int c = wl_string_compare((wl_string){a->p, a->len}, (wl_string){b->p, b->len});
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

/* Fails on the later of two equal keys. `offsets` holds (offset, length,
 * position) triples into `keys`. */
static int check_duplicate_keys(json_reader *r, const wl_buf *keys, const size_t *offsets, size_t count)
{
	if (count < 2)
		return 0;
	key_ref *refs = calloc(count, sizeof *refs);
	if (refs == NULL)
		return wl__nomem();
	for (size_t i = 0; i < count; i++)
		refs[i] = (key_ref){keys->data + offsets[3 * i], offsets[3 * i + 1], offsets[3 * i + 2]};
	qsort(refs, count, sizeof *refs, key_ref_cmp);
	int rc = 0;
	for (size_t i = 1; i < count && rc == 0; i++)
		if (refs[i].len == refs[i - 1].len && memcmp(refs[i].p, refs[i - 1].p, refs[i].len) == 0)
			rc = json_invalid(r, refs[i].at, "duplicate key in object");
	free(refs);
	return rc;
}

static int read_object_members(json_reader *r, member_fn fn, void *ctx, wl_buf *keys, wl_buf *offsets)
{
	r->pos++;
	skip_space(r);
	if (r->pos < r->len && r->text[r->pos] == '}') {
		r->pos++;
		return 0;
	}
	for (;;) {
		skip_space(r);
		if (r->pos >= r->len || r->text[r->pos] != '"')
			return json_syntax(r, "expected a string key");
		size_t key_at = r->pos, key_off = keys->len;
		int rc = read_string(r, keys);
		if (rc != 0)
			return rc;
		size_t key_len = keys->len - key_off;
		wl_buf_putc(keys, '\0');
		size_t triple[3] = {key_off, key_len, key_at};
		wl_buf_put(offsets, triple, sizeof triple);
		if (keys->failed || offsets->failed)
			return wl__nomem();
		skip_space(r);
		if (r->pos >= r->len || r->text[r->pos] != ':')
			return json_syntax(r, "expected ':' after object key");
		r->pos++;
		skip_space(r);
		if (r->pos >= r->len)
			return json_syntax(r, "");
		rc = fn(r, ctx, keys->data + key_off, key_len, key_at);
		if (rc != 0)
			return rc;
		skip_space(r);
		if (r->pos < r->len && r->text[r->pos] == ',') {
			r->pos++;
			continue;
		}
		if (r->pos < r->len && r->text[r->pos] == '}') {
			r->pos++;
			return 0;
		}
		return json_syntax(r, "expected ',' or '}' after object member");
	}
}

/* Reads the object at r->pos (a '{'), handing each member to fn; duplicate
 * keys are an error. */
static int read_object(json_reader *r, member_fn fn, void *ctx)
{
	if (++r->depth > JSON_MAX_DEPTH)
		return json_syntax(r, "nested too deeply");
	wl_buf keys, offsets;
	wl_buf_init(&keys);
	wl_buf_init(&offsets);
	int rc = read_object_members(r, fn, ctx, &keys, &offsets);
	if (rc == 0)
		rc = check_duplicate_keys(r, &keys, (const size_t *)(void *)offsets.data,
		                          offsets.len / (3 * sizeof(size_t)));
	wl_buf_release(&keys);
	wl_buf_release(&offsets);
	r->depth--;
	return rc;
}

/* Reads the array at r->pos (a '['), handing each element to fn. */
static int read_array(json_reader *r, element_fn fn, void *ctx)
{
	if (++r->depth > JSON_MAX_DEPTH)
		return json_syntax(r, "nested too deeply");
	r->pos++;
	skip_space(r);
	if (r->pos < r->len && r->text[r->pos] == ']') {
		r->pos++;
		r->depth--;
		return 0;
	}
	for (size_t i = 0;; i++) {
		skip_space(r);
		if (r->pos >= r->len)
			return json_syntax(r, "");
		int rc = fn(r, ctx, i);
		if (rc != 0)
			return rc;
		skip_space(r);
		if (r->pos < r->len && r->text[r->pos] == ',') {
			r->pos++;
			continue;
		}
		if (r->pos < r->len && r->text[r->pos] == ']') {
			r->pos++;
			r->depth--;
			return 0;
		}
		return json_syntax(r, "expected ',' or ']' after array element");
	}
}

static int skip_value(json_reader *r)
{
	if (r->pos >= r->len)
		return json_syntax(r, "");
	char c = r->text[r->pos];
	if (c == '{')
		return read_object(r, skip_member, NULL);
	if (c == '[')
		return read_array(r, skip_element, NULL);
	if (c == '"')
		return read_string(r, NULL);
	if (c == '-' || (c >= '0' && c <= '9'))
		return read_number(r);
	static const char *const literals[] = {"true", "false", "null"};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(literals[i]);
		if (r->len - r->pos >= n && memcmp(r->text + r->pos, literals[i], n) == 0) {
			r->pos += n;
			return 0;
		}
	}
	return json_syntax(r, "expected a JSON value");
}

static bool key_is(const char *key, size_t key_len, const char *want)
{
	return key_len == strlen(want) && memcmp(key, want, key_len) == 0;
}

/* ---- the index's own structure ---- */

typedef struct index_reader {
	wl_oci_layout *layout;
	bool seen_schema;
	bool seen_manifests;
	size_t descriptor;  /* index in manifests, for messages */
	wl_buf ref_name;
	bool has_ref_name;
} index_reader;

static int annotation_member(json_reader *r, void *ctx, const char *key, size_t key_len, size_t key_at)
{
	(void)key_at;
	index_reader *ir = ctx;
	if (r->text[r->pos] != '"')
		return json_invalid(r, r->pos, "an annotation value is not a string");
	if (!key_is(key, key_len, REF_NAME_KEY))
		return read_string(r, NULL);
	ir->has_ref_name = true;
	int rc = read_string(r, &ir->ref_name);
	if (rc == 0 && ir->ref_name.failed)
		return wl__nomem();
	return rc;
}

static int descriptor_member(json_reader *r, void *ctx, const char *key, size_t key_len, size_t key_at)
{
	(void)key_at;
	if (!key_is(key, key_len, "annotations"))
		return skip_value(r);
	if (r->text[r->pos] != '{')
		return json_invalid(r, r->pos, "the annotations of a descriptor are not an object");
	return read_object(r, annotation_member, ctx);
}

static int add_item(wl_oci_layout *layout, const char *raw, size_t raw_len, const char *ref,
                    size_t ref_len, bool has_ref)
{
	if (layout->item_count == layout->item_cap) {
		size_t cap = layout->item_cap ? layout->item_cap * 2 : 8;
		index_item *items = realloc(layout->items, cap * sizeof *items);
		if (items == NULL)
			return wl__nomem();
		layout->items = items;
		layout->item_cap = cap;
	}
	index_item *it = &layout->items[layout->item_count];
	it->raw = malloc(raw_len + 1);
	it->ref_name = has_ref ? malloc(ref_len + 1) : NULL;
	if (it->raw == NULL || (has_ref && it->ref_name == NULL)) {
		free(it->raw);
		free(it->ref_name);
		return wl__nomem();
	}
	memcpy(it->raw, raw, raw_len);
	it->raw[raw_len] = '\0';
	it->raw_len = raw_len;
	if (has_ref) {
		if (ref_len)
			memcpy(it->ref_name, ref, ref_len);
		it->ref_name[ref_len] = '\0';
	}
	it->ref_len = ref_len;
	layout->item_count++;
	return 0;
}

static int descriptor_element(json_reader *r, void *ctx, size_t index)
{
	index_reader *ir = ctx;
	size_t start = r->pos;
	if (r->text[start] != '{')
		return json_invalid(r, start, "an element of manifests is not an object");
	ir->descriptor = index;
	ir->has_ref_name = false;
	ir->ref_name.len = 0;
	int rc = read_object(r, descriptor_member, ir);
	if (rc != 0)
		return rc;
	return add_item(ir->layout, r->text + start, r->pos - start, ir->ref_name.data, ir->ref_name.len,
	                ir->has_ref_name);
}

static int index_member(json_reader *r, void *ctx, const char *key, size_t key_len, size_t key_at)
{
	index_reader *ir = ctx;
	size_t at = r->pos;
	if (key_is(key, key_len, "schemaVersion")) {
		ir->seen_schema = true;
		int rc = skip_value(r);
		if (rc == 0 && !(r->pos - at == 1 && r->text[at] == '2'))
			rc = json_invalid(r, at, "schemaVersion is not 2");
		return rc;
	}
	if (key_is(key, key_len, "mediaType")) {
		if (r->text[at] != '"')
			return json_invalid(r, at, "mediaType is not a string");
		wl_buf mt;
		wl_buf_init(&mt);
		int rc = read_string(r, &mt);
		if (rc == 0 && mt.failed)
			rc = wl__nomem();
		if (rc == 0 && !(mt.len == strlen(WL_MEDIA_TYPE_INDEX) &&
		                 memcmp(mt.data, WL_MEDIA_TYPE_INDEX, mt.len) == 0))
			rc = json_invalid(r, at, "mediaType is not " WL_MEDIA_TYPE_INDEX);
		wl_buf_release(&mt);
		return rc;
	}
	if (key_is(key, key_len, "manifests")) {
		ir->seen_manifests = true;
		if (r->text[at] != '[')
			return json_invalid(r, at, "manifests is not an array");
		return read_array(r, descriptor_element, ir);
	}
	/* Another member (e.g. the index's annotations): kept as written. */
	int rc = skip_value(r);
	if (rc != 0)
		return rc;
	wl_buf_putc(&ir->layout->extra, ',');
	wl_buf_put(&ir->layout->extra, r->text + key_at, r->pos - key_at);
	return ir->layout->extra.failed ? wl__nomem() : 0;
}

static int parse_index(wl_oci_layout *layout, const char *text, size_t len)
{
	json_reader r = {text, len, 0, layout->index_path, 0};
	index_reader ir;
	memset(&ir, 0, sizeof ir);
	ir.layout = layout;
	wl_buf_init(&ir.ref_name);
	skip_space(&r);
	int rc;
	if (r.pos >= r.len || r.text[r.pos] != '{')
		rc = json_syntax(&r, "not a JSON object");
	else
		rc = read_object(&r, index_member, &ir);
	if (rc == 0) {
		skip_space(&r);
		if (r.pos < r.len)
			rc = json_syntax(&r, "invalid character after the top-level value");
	}
	if (rc == 0 && !ir.seen_schema)
		rc = wl__fail(WL_EPARSE, "parse %s: schemaVersion is missing", layout->index_path);
	if (rc == 0 && !ir.seen_manifests)
		rc = wl__fail(WL_EPARSE, "parse %s: manifests is missing", layout->index_path);
	wl_buf_release(&ir.ref_name);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Opening a layout                                                         */
/* ------------------------------------------------------------------------ */

void wl_oci_layout_free(wl_oci_layout *layout)
{
	if (layout == NULL)
		return;
	for (size_t i = 0; i < layout->item_count; i++) {
		free(layout->items[i].raw);
		free(layout->items[i].ref_name);
	}
	free(layout->items);
	wl_buf_release(&layout->extra);
	free(layout->index_bytes);
	free(layout->dir);
	free(layout->blob_dir);
	free(layout->index_path);
	free(layout);
}

/* Checks the marker; `*missing` tells whether it still has to be written. */
static int check_marker(const wl_oci_layout *layout, const char *path, bool *missing)
{
	char *data;
	size_t len;
	int rc = wl_read_file(&data, &len, path, 0);
	*missing = rc == WL_ENOTFOUND;
	if (*missing)
		return 0;
	if (rc != 0)
		return wl__error_prefix("OCI layout %s", layout->dir);
	bool same = len == strlen(OCI_LAYOUT_CONTENT) && memcmp(data, OCI_LAYOUT_CONTENT, len) == 0;
	free(data);
	if (!same)
		return wl__fail(WL_EINVALID, "%s: not the image layout marker this project writes (want %s)",
		                path, OCI_LAYOUT_CONTENT);
	return 0;
}

static int read_index(wl_oci_layout *layout)
{
	char *data;
	size_t len;
	int rc = wl_read_file(&data, &len, layout->index_path, 0);
	if (rc == WL_ENOTFOUND)
		return 0;
	if (rc != 0)
		return wl__error_prefix("OCI layout %s", layout->dir);
	rc = parse_index(layout, data, len);
	if (rc != 0) {
		free(data);
		return rc;
	}
	layout->index_bytes = data;
	layout->index_len = len;
	return 0;
}

static int open_layout(wl_oci_layout *layout)
{
	/* Everything is checked before anything is created inside DIR. */
	int rc = wl__make_dirs(layout->dir, 0755, "OCI layout %s", layout->dir);
	if (rc != 0)
		return rc;
	char *marker = path_join(layout->dir, OCI_LAYOUT_FILE);
	if (marker == NULL)
		return wl__nomem();
	bool marker_missing;
	rc = check_marker(layout, marker, &marker_missing);
	if (rc == 0)
		rc = read_index(layout);
	if (rc == 0)
		rc = wl__make_dirs(layout->blob_dir, 0755, "OCI layout %s", layout->dir);
	if (rc == 0 && marker_missing) {
		rc = wl_write_file_atomic(marker, OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT));
		if (rc != 0)
			rc = wl__error_prefix("OCI layout %s", layout->dir);
	}
	free(marker);
	return rc;
}

int wl_oci_layout_open(wl_oci_layout **out, const char *dir)
{
	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return wl__fail(WL_EINVALID, "OCI layout: no directory given");
	wl_oci_layout *layout = calloc(1, sizeof *layout);
	if (layout == NULL)
		return wl__nomem();
	wl_buf_init(&layout->extra);
	char *blobs = NULL;
	layout->dir = strdup(dir);
	if (layout->dir != NULL)
		blobs = path_join(dir, "blobs");
	if (blobs != NULL)
		layout->blob_dir = path_join(blobs, "sha256");
	free(blobs);
	if (layout->blob_dir != NULL)
		layout->index_path = path_join(dir, INDEX_FILE);
	if (layout->index_path == NULL) {
		wl_oci_layout_free(layout);
		return wl__nomem();
	}
	int rc = open_layout(layout);
	if (rc != 0) {
		wl_oci_layout_free(layout);
		return rc;
	}
	*out = layout;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Blobs                                                                    */
/* ------------------------------------------------------------------------ */

/* Closes and removes the temporary file, keeping the first error. */
static void blob_discard(wl_oci_blob *blob)
{
	if (blob->fd >= 0) {
		close(blob->fd);
		blob->fd = -1;
	}
	if (blob->tmp_path != NULL) {
		unlink(blob->tmp_path);
		free(blob->tmp_path);
		blob->tmp_path = NULL;
	}
}

static void blob_free(wl_oci_blob *blob)
{
	blob_discard(blob);
	EVP_MD_CTX_free(blob->sha);
	free(blob);
}

/* Records the first failure, frees the disk space at once, and reports. */
static int blob_fail(wl_oci_blob *blob, int err, const char *step)
{
	if (blob->err == 0) {
		blob->err = err;
		blob->step = step;
	}
	blob_discard(blob);
	return wl__fail_errno(WL_EIO, blob->err, "OCI layout %s: %s blob", blob->layout->dir, blob->step);
}

int wl_oci_blob_begin(wl_oci_blob **out, wl_oci_layout *layout)
{
	*out = NULL;
	wl_oci_blob *blob = calloc(1, sizeof *blob);
	if (blob == NULL)
		return wl__nomem();
	blob->layout = layout;
	blob->fd = -1;
	blob->tmp_path = path_join(layout->blob_dir, ".tmp-XXXXXX");
	blob->sha = EVP_MD_CTX_new();
	if (blob->tmp_path == NULL || blob->sha == NULL) {
		blob_free(blob);
		return wl__nomem();
	}
	if (EVP_DigestInit_ex(blob->sha, EVP_sha256(), NULL) != 1) {
		blob_free(blob);
		return wl__fail(WL_ENOMEM, "OCI layout %s: cannot start a SHA-256 context", layout->dir);
	}
	blob->fd = mkostemp(blob->tmp_path, O_CLOEXEC);
	if (blob->fd < 0) {
		int err = errno;
		free(blob->tmp_path);
		blob->tmp_path = NULL;
		blob_free(blob);
		return wl__fail_errno(WL_EIO, err, "OCI layout %s: create temporary blob in %s", layout->dir,
		                      layout->blob_dir);
	}
	*out = blob;
	return 0;
}

int wl_oci_blob_write(void *ctx, const void *data, size_t len)
{
	wl_oci_blob *blob = ctx;
	if (blob->err != 0)
		return blob_fail(blob, blob->err, blob->step);
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(blob->sha, data, len) != 1)
		return blob_fail(blob, EIO, "hash");
	int64_t size;
	if (len > (size_t)INT64_MAX || wl_add_overflows_i64(blob->size, (int64_t)len, &size))
		return blob_fail(blob, EFBIG, "write");
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		size_t chunk = left > ((size_t)1 << 30) ? (size_t)1 << 30 : left;
		ssize_t n = write(blob->fd, p, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return blob_fail(blob, errno, "write");
		}
		if (n == 0)
			return blob_fail(blob, EIO, "write");
		p += n;
		left -= (size_t)n;
	}
	blob->size = size;
	return 0;
}

void wl_oci_blob_abort(wl_oci_blob *blob)
{
	if (blob != NULL)
		blob_free(blob);
}

/* Puts the synced temporary file in place under its digest, or drops it
 * when the blob is already there with the right bytes. */
static int blob_install(wl_oci_blob *blob, const char *digest)
{
	wl_oci_layout *layout = blob->layout;
	char *path = blob_path(layout, digest);
	if (path == NULL)
		return wl__nomem();
	int present = blob_present(layout, path, blob->size, digest);
	if (present < 0) {
		free(path);
		return present;
	}
	if (present) {
		free(path);
		blob_discard(blob);
		return 0;
	}
	if (rename(blob->tmp_path, path) != 0) {
		int err = errno;
		free(path);
		return blob_fail(blob, err, "rename");
	}
	free(path);
	free(blob->tmp_path);
	blob->tmp_path = NULL;
	return fsync_dir(layout->dir, layout->blob_dir);
}

static int blob_finish(wl_oci_blob *blob, const char *digest)
{
	wl_oci_layout *layout = blob->layout;
	if (blob->err != 0)
		return blob_fail(blob, blob->err, blob->step);
	if (digest == NULL || !wl_digest_valid(wl_str(digest))) {
		blob_discard(blob);
		return wl__fail(WL_EINVALID, "OCI layout %s: invalid blob digest \"%s\"", layout->dir,
		                digest ? digest : "");
	}
	char got[WL_DIGEST_LEN + 1];
	if (!wl__digest_final(blob->sha, got))
		return blob_fail(blob, EIO, "hash");
	if (strcmp(got, digest) != 0) {
		blob_discard(blob);
		return wl__fail(WL_EINVALID, "OCI layout %s: blob bytes hash to %s, not %s", layout->dir, got,
		                digest);
	}
	if (fchmod(blob->fd, 0644) != 0)
		return blob_fail(blob, errno, "chmod");
	if (fsync(blob->fd) != 0)
		return blob_fail(blob, errno, "fsync");
	int fd = blob->fd;
	blob->fd = -1;
	if (close(fd) != 0)
		return blob_fail(blob, errno, "close");
	return blob_install(blob, digest);
}

int wl_oci_blob_commit(wl_oci_blob *blob, const char *digest)
{
	int rc = blob_finish(blob, digest);
	blob_free(blob);
	return rc;
}

int wl_oci_layout_put(wl_oci_layout *layout, const void *data, size_t len,
                      char digest[WL_DIGEST_LEN + 1])
{
	char d[WL_DIGEST_LEN + 1];
	wl_sha256_digest(d, data, len);
	if (digest != NULL)
		memcpy(digest, d, sizeof d);
	if (len > (size_t)INT64_MAX)
		return wl__fail(WL_EINVALID, "OCI layout %s: blob too large", layout->dir);
	/* Nothing is written when the blob is already there. */
	char *path = blob_path(layout, d);
	if (path == NULL)
		return wl__nomem();
	int present = blob_present(layout, path, (int64_t)len, d);
	free(path);
	if (present != 0)
		return present < 0 ? present : 0;
	wl_oci_blob *blob;
	int rc = wl_oci_blob_begin(&blob, layout);
	if (rc != 0)
		return rc;
	rc = wl_oci_blob_write(blob, data, len);
	if (rc != 0) {
		wl_oci_blob_abort(blob);
		return rc;
	}
	return wl_oci_blob_commit(blob, d);
}

/* ------------------------------------------------------------------------ */
/* Entries and the index                                                    */
/* ------------------------------------------------------------------------ */

/* The layers are what the manifest points at; each must be in place. */
static int check_layers(const wl_oci_layout *layout, const wl_entry *entry)
{
	for (size_t i = 0; i < entry->layer_count; i++) {
		const wl_layer *l = &entry->layers[i];
		/* The manifest was built, so each layer digest is valid. */
		char *path = blob_path(layout, l->digest.ptr);
		if (path == NULL)
			return wl__nomem();
		struct stat st;
		int rc = 0;
		if (lstat(path, &st) != 0) {
			if (errno == ENOENT)
				rc = wl__fail(WL_EINVALID, "OCI layout %s: weight %s: layer %s is missing",
				              layout->dir, entry->name.ptr, l->digest.ptr);
			else
				rc = wl__fail_errno(WL_EIO, errno, "OCI layout %s: stat %s", layout->dir, path);
		} else if (!S_ISREG(st.st_mode) || (int64_t)st.st_size != l->size) {
			rc = wl__fail(WL_EINVALID,
			              "OCI layout %s: weight %s: layer %s has %lld bytes in the layout, "
			              "the entry records %lld",
			              layout->dir, entry->name.ptr, l->digest.ptr, (long long)st.st_size,
			              (long long)l->size);
		}
		free(path);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Puts the descriptor in place of the first one tagged `name` (dropping
 * later ones of that tag, so the tag stays unambiguous), else appends. */
static int record_descriptor(wl_oci_layout *layout, wl_string name, char *raw, size_t raw_len)
{
	size_t found = layout->item_count;
	for (size_t i = 0; i < layout->item_count; i++) {
		index_item *it = &layout->items[i];
		if (it->ref_name == NULL || !wl_string_equal((wl_string){it->ref_name, it->ref_len}, name))
			continue;
		if (found == layout->item_count) {
			found = i;
			continue;
		}
		free(it->raw);
		free(it->ref_name);
		memmove(it, it + 1, (layout->item_count - i - 1) * sizeof *it);
		layout->item_count--;
		i--;
	}
	if (found == layout->item_count)
		return add_item(layout, raw, raw_len, name.ptr, name.len, true);
	index_item *it = &layout->items[found];
	char *copy = malloc(raw_len + 1);
	if (copy == NULL)
		return wl__nomem();
	memcpy(copy, raw, raw_len + 1);
	free(it->raw);
	it->raw = copy;
	it->raw_len = raw_len;
	return 0;
}

static int add_entry(wl_oci_layout *layout, const wl_entry *entry, char **config, size_t *config_len,
                     char **manifest, size_t *manifest_len, char **descriptor, size_t *descriptor_len)
{
	const char *name = entry->name.len ? entry->name.ptr : "";
	if (entry->name.len != strlen(name))
		return wl__fail(WL_EINVALID, "OCI layout %s: a weight name contains a NUL byte", layout->dir);
	int rc = wl_entry_config_blob(config, config_len, entry);
	if (rc == 0)
		rc = wl_entry_manifest(manifest, manifest_len, entry);
	if (rc != 0)
		return wl__error_prefix("OCI layout %s: weight %s", layout->dir, name);
	char manifest_digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(manifest_digest, *manifest, *manifest_len);
	if (entry->digest.len > 0 && !wl_string_equal(entry->digest, wl_str(manifest_digest)))
		return wl__fail(WL_EINVALID,
		                "OCI layout %s: weight %s: the manifest hashes to %s but the entry records "
		                "digest %s",
		                layout->dir, name, manifest_digest, entry->digest.ptr);
	rc = check_layers(layout, entry);
	if (rc != 0)
		return rc;
	rc = wl_entry_index_descriptor(descriptor, descriptor_len, entry, name);
	if (rc != 0)
		return wl__error_prefix("OCI layout %s: weight %s", layout->dir, name);
	/* The config blob before the manifest that points at it. */
	rc = wl_oci_layout_put(layout, *config, *config_len, NULL);
	if (rc == 0)
		rc = wl_oci_layout_put(layout, *manifest, *manifest_len, NULL);
	if (rc == 0)
		rc = record_descriptor(layout, entry->name, *descriptor, *descriptor_len);
	return rc;
}

int wl_oci_layout_add_entry(wl_oci_layout *layout, const wl_entry *entry)
{
	char *config = NULL, *manifest = NULL, *descriptor = NULL;
	size_t config_len = 0, manifest_len = 0, descriptor_len = 0;
	int rc = add_entry(layout, entry, &config, &config_len, &manifest, &manifest_len, &descriptor,
	                   &descriptor_len);
	wl_free(config);
	wl_free(manifest);
	wl_free(descriptor);
	return rc;
}

int wl_oci_layout_commit(wl_oci_layout *layout)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" WL_MEDIA_TYPE_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < layout->item_count; i++) {
		if (i)
			wl_buf_putc(&b, ',');
		wl_buf_put(&b, layout->items[i].raw, layout->items[i].raw_len);
	}
	wl_buf_putc(&b, ']');
	wl_buf_put(&b, layout->extra.data, layout->extra.len);
	wl_buf_putc(&b, '}');
	char *bytes;
	size_t len;
	int rc = wl_buf_finish(&b, &bytes, &len);
	if (rc != 0)
		return rc;
	if (layout->index_bytes != NULL && layout->index_len == len &&
	    memcmp(layout->index_bytes, bytes, len) == 0) {
		free(bytes);
		return 0;
	}
	rc = wl_write_file_atomic(layout->index_path, bytes, len);
	if (rc != 0) {
		free(bytes);
		return wl__error_prefix("OCI layout %s", layout->dir);
	}
	free(layout->index_bytes);
	layout->index_bytes = bytes;
	layout->index_len = len;
	return 0;
}
