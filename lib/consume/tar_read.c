/*
 * tar_read.c - reading an untrusted layer tar (SPEC.md §12.2 steps 3-5 and
 * 7) as a stream, and the table of an entry's paths the reader checks names
 * against.
 *
 * Owns every rule about what a layer may hold: 512-byte ustar headers with
 * verified checksums; PAX extended headers whose `path` and `size` records
 * replace the next header's; regular files listed for this very layer, once
 * each, of the recorded size and digest; directories, which are checked and
 * otherwise ignored (a file's parent directories are made as it is written,
 * so a directory entry adds nothing to the result). Everything else is
 * rejected naming the entry. The content of each accepted file goes to a
 * sink (extract.c writes it into the target; the fuzz target drops it).
 *
 * Hand-written rather than libarchive: libarchive accepts far more than
 * this format allows (GNU, old V7, sparse and base-256 variants, global
 * headers), and follows its own rules for links and for names, so a safe
 * extractor would have to undo its choices one by one. The few entry kinds
 * Cog writes are simpler to accept than everything else is to reject.
 */
#include "consume/extract_internal.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

/* ------------------------------------------------------------------------ */
/* The entry's paths                                                        */
/* ------------------------------------------------------------------------ */

/*
 * The paths as a tree: a directory is named by its parent's id and its own
 * component, a file by its directory's id and its base name, so one lookup
 * hashes and compares one component, and a walk over a path of n bytes
 * costs O(n) however deep it goes (comparing whole prefixes would cost
 * O(n^2) on a path of many short components). The root directory is id 0.
 */
typedef struct slot {
	const char *ptr; /* NULL: empty */
	size_t len;
	long parent;
	long value;
} slot;

typedef struct name_table {
	slot *slots;
	size_t mask;
	size_t count;
} name_table;

struct wl__path_table {
	name_table files; /* (directory, base name) -> index in entry->files */
	name_table dirs;  /* (directory, component) -> directory id */
	wl_string *dir_list; /* id - 1 -> the directory's path */
	size_t dir_count;
	size_t longest; /* the longest file path */
};

static uint64_t hash_name(long parent, const char *p, size_t n)
{
	/* FNV-1a, then a final mix so the low bits (the slot) depend on all. */
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)parent * 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int table_init(name_table *t, size_t expected)
{
	size_t cap = 16;
	while (cap < expected * 2 + 1) {
		if (cap > SIZE_MAX / 4)
			return wl__nomem();
		cap *= 2;
	}
	t->slots = calloc(cap, sizeof *t->slots);
	if (t->slots == NULL)
		return wl__nomem();
	t->mask = cap - 1;
	t->count = 0;
	return 0;
}

static slot *table_slot(const name_table *t, long parent, const char *p, size_t n)
{
	size_t i = (size_t)hash_name(parent, p, n) & t->mask;
	for (;;) {
		slot *s = &t->slots[i];
		if (s->ptr == NULL || (s->parent == parent && s->len == n && memcmp(s->ptr, p, n) == 0))
			return s;
		i = (i + 1) & t->mask;
	}
}

/* Inserts; returns the slot, whose value is kept when the key was present
 * (`*added` false). The table never fills: it is sized for twice the keys. */
static slot *table_put(name_table *t, long parent, const char *p, size_t n, long value, bool *added)
{
	slot *s = table_slot(t, parent, p, n);
	*added = s->ptr == NULL;
	if (*added) {
		s->ptr = p;
		s->len = n;
		s->parent = parent;
		s->value = value;
		t->count++;
	}
	return s;
}

static long table_get(const name_table *t, long parent, const char *p, size_t n)
{
	if (t->slots == NULL || parent < 0)
		return -1;
	const slot *s = table_slot(t, parent, p, n);
	return s->ptr ? s->value : -1;
}

void wl__path_table_free(wl__path_table *pt)
{
	if (pt == NULL)
		return;
	free(pt->files.slots);
	free(pt->dirs.slots);
	free(pt->dir_list);
	free(pt);
}

static int digest_ptr_cmp(const void *a, const void *b)
{
	return wl_string_compare(**(const wl_string *const *)a, **(const wl_string *const *)b);
}

static int fail_path(int code, wl_string path, const char *what)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, path) != 0)
		return WL_ENOMEM;
	wl__fail(code, "file %s: %s", q, what);
	free(q);
	return code;
}

/* A path with a component extract keeps for itself (target.c). */
static bool is_reserved(wl_string path)
{
	for (size_t start = 0; start <= path.len;) {
		const char *slash = memchr(path.ptr + start, '/', path.len - start);
		size_t end = slash ? (size_t)(slash - path.ptr) : path.len;
		if (wl__extract_reserved_name(path.ptr + start, end - start, start == 0))
			return true;
		start = end + 1;
	}
	return false;
}

int wl__path_table_new(wl__path_table **out, const wl_entry *entry)
{
	*out = NULL;
	wl__path_table *pt = calloc(1, sizeof *pt);
	if (pt == NULL)
		return wl__nomem();
	size_t slashes = 0;
	for (size_t i = 0; i < entry->file_count; i++)
		for (size_t k = 0; k < entry->files[i].path.len; k++)
			slashes += entry->files[i].path.ptr[k] == '/';
	const wl_string **layers = NULL;
	int rc = table_init(&pt->files, entry->file_count);
	if (rc == 0)
		rc = table_init(&pt->dirs, slashes);
	if (rc == 0 && slashes > 0 && (pt->dir_list = malloc(slashes * sizeof *pt->dir_list)) == NULL)
		rc = wl__nomem();
	if (rc == 0 && entry->layer_count > 0 &&
	    (layers = malloc(entry->layer_count * sizeof *layers)) == NULL)
		rc = wl__nomem();
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < entry->layer_count; i++)
		layers[i] = &entry->layers[i].digest;
	if (entry->layer_count > 0)
		qsort(layers, entry->layer_count, sizeof *layers, digest_ptr_cmp);

	for (size_t i = 0; i < entry->file_count && rc == 0; i++) {
		const wl_file *f = &entry->files[i];
		const char *why = NULL;
		if (!wl_path_valid(f->path, &why)) {
			rc = fail_path(WL_EINVALID, f->path, why);
			break;
		}
		if (is_reserved(f->path)) {
			rc = fail_path(WL_EINVALID, f->path, "path inside .cog/ (which holds the state markers) or a name extract reserves");
			break;
		}
		/* Its directories, made as they are first seen. */
		long dir = 0;
		size_t start = 0;
		for (const char *slash; (slash = memchr(f->path.ptr + start, '/', f->path.len - start)) != NULL;) {
			size_t end = (size_t)(slash - f->path.ptr);
			bool added;
			slot *d = table_put(&pt->dirs, dir, f->path.ptr + start, end - start, (long)pt->dir_count + 1, &added);
			if (added)
				pt->dir_list[pt->dir_count++] = (wl_string){f->path.ptr, end};
			dir = d->value;
			start = end + 1;
		}
		bool added;
		table_put(&pt->files, dir, f->path.ptr + start, f->path.len - start, (long)i, &added);
		if (!added) {
			rc = fail_path(WL_EINVALID, f->path, "recorded twice");
		} else if (f->size < 0) {
			rc = fail_path(WL_EINVALID, f->path, "negative size");
		} else if (!wl_digest_valid(f->digest)) {
			rc = fail_path(WL_EINVALID, f->path, "recorded digest is not a sha256 digest");
		} else {
			const wl_string *key = &f->layer;
			if (entry->layer_count == 0 ||
			    bsearch(&key, layers, entry->layer_count, sizeof *layers, digest_ptr_cmp) == NULL)
				rc = fail_path(WL_EINVALID, f->path, "its layer is not one of the entry's layers");
		}
		if (f->path.len > pt->longest)
			pt->longest = f->path.len;
	}
	/* No name may be both a file and a directory (§5.1); the first such
	 * file in the entry's order is named. */
	long clash = -1;
	for (size_t i = 0; i <= pt->dirs.mask && rc == 0; i++) {
		const slot *d = &pt->dirs.slots[i];
		long file = d->ptr ? table_get(&pt->files, d->parent, d->ptr, d->len) : -1;
		if (file >= 0 && (clash < 0 || file < clash))
			clash = file;
	}
	if (clash >= 0)
		rc = fail_path(WL_EINVALID, entry->files[clash].path, "recorded both as a file and as a directory");
out:
	free(layers);
	if (rc != 0) {
		wl__path_table_free(pt);
		return rc;
	}
	*out = pt;
	return 0;
}

long wl__path_table_child_dir(const wl__path_table *pt, long dir, const char *name, size_t len)
{
	return table_get(&pt->dirs, dir, name, len);
}

long wl__path_table_child_file(const wl__path_table *pt, long dir, const char *name, size_t len)
{
	return table_get(&pt->files, dir, name, len);
}

/* The id of the directory holding `path`'s last component (-1: none
 * recorded); `*base` is where that component starts. */
static long parent_dir(const wl__path_table *pt, const char *path, size_t len, size_t *base)
{
	long dir = 0;
	size_t start = 0;
	for (const char *slash; dir >= 0 && (slash = memchr(path + start, '/', len - start)) != NULL;) {
		size_t end = (size_t)(slash - path);
		dir = table_get(&pt->dirs, dir, path + start, end - start);
		start = end + 1;
	}
	*base = start;
	return dir;
}

long wl__path_table_file(const wl__path_table *pt, const char *path, size_t len)
{
	size_t base;
	long dir = parent_dir(pt, path, len, &base);
	return table_get(&pt->files, dir, path + base, len - base);
}

bool wl__path_table_dir(const wl__path_table *pt, const char *path, size_t len)
{
	size_t base;
	long dir = parent_dir(pt, path, len, &base);
	return len > 0 && table_get(&pt->dirs, dir, path + base, len - base) >= 0;
}

size_t wl__path_table_longest(const wl__path_table *pt)
{
	return pt->longest;
}

size_t wl__path_table_dir_count(const wl__path_table *pt)
{
	return pt->dir_count;
}

wl_string wl__path_table_dir_at(const wl__path_table *pt, size_t i)
{
	return pt->dir_list[i];
}

/* ------------------------------------------------------------------------ */
/* The reader                                                               */
/* ------------------------------------------------------------------------ */

enum state { S_HEADER, S_PAX, S_CONTENT, S_PAD, S_DONE, S_FAILED };

struct wl__tar_reader {
	const wl_entry *entry;
	const wl__path_table *table;
	wl_string layer;
	wl__tar_sink sink;
	uint8_t *seen; /* per file of the entry */
	enum state state;
	int failure;       /* the code S_FAILED repeats */
	uint64_t offset;   /* stream bytes consumed */
	uint64_t header_at; /* where the current header started */
	unsigned char block[BLOCK];
	size_t block_fill;
	bool zero_block; /* the previous header block was all zeros */
	/* The PAX header read and not yet applied. */
	bool pax_pending;
	unsigned char *pax;
	size_t pax_len, pax_need;
	uint64_t pax_at;
	char *pax_path;
	size_t pax_path_len;
	bool have_pax_path;
	int64_t pax_size;
	bool have_pax_size;
	/* The current entry. */
	char *name;
	size_t name_len;
	size_t name_max; /* the longest recorded path, plus a directory's '/' */
	long file;           /* the file being read, or -1 */
	bool file_open;      /* the sink has begun it */
	int64_t remaining;   /* content bytes still to come */
	uint64_t pad;        /* padding bytes still to skip */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
};

static int reader_fail(wl__tar_reader *r, int code)
{
	if (r->file_open && r->sink.abort != NULL)
		r->sink.abort(r->sink.ctx);
	r->file_open = false;
	r->state = S_FAILED;
	r->failure = code;
	return code;
}

static int fail_entry(wl__tar_reader *r, int code, const char *fmt, ...) WL_PRINTF(3, 4);

/* `entry "NAME": <what>` */
static int fail_entry(wl__tar_reader *r, int code, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	char *q = NULL;
	if (wl_quote(&q, NULL, (wl_string){r->name, r->name_len}) != 0)
		return reader_fail(r, WL_ENOMEM);
	wl__fail(code, "entry %s: %s", q, what);
	free(q);
	return reader_fail(r, code);
}

static int fail_at(wl__tar_reader *r, int code, uint64_t at, const char *fmt, ...) WL_PRINTF(4, 5);

/* `header at offset N: <what>`, before a name is known. */
static int fail_at(wl__tar_reader *r, int code, uint64_t at, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	wl__fail(code, "header at offset %llu: %s", (unsigned long long)at, what);
	return reader_fail(r, code);
}

int wl__tar_reader_new(wl__tar_reader **out, const wl_entry *entry, const wl__path_table *table,
                       wl_string layer, const wl__tar_sink *sink)
{
	*out = NULL;
	wl__tar_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return wl__nomem();
	r->entry = entry;
	r->table = table;
	r->name_max = wl__path_table_longest(table) + 1;
	r->layer = layer;
	r->sink = *sink;
	r->file = -1;
	r->seen = calloc(entry->file_count ? entry->file_count : 1, 1);
	r->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	r->md = EVP_MD_CTX_new();
	if (r->seen == NULL || r->sha256 == NULL || r->md == NULL) {
		wl__tar_reader_free(r);
		return wl__nomem();
	}
	*out = r;
	return 0;
}

void wl__tar_reader_free(wl__tar_reader *r)
{
	if (r == NULL)
		return;
	if (r->file_open && r->sink.abort != NULL)
		r->sink.abort(r->sink.ctx);
	free(r->seen);
	free(r->pax);
	free(r->pax_path);
	free(r->name);
	EVP_MD_CTX_free(r->md);
	EVP_MD_free(r->sha256);
	free(r);
}

bool wl__tar_reader_done(const wl__tar_reader *r)
{
	return r->state == S_DONE;
}

/* A numeric field: optional leading spaces, octal digits, then only NULs
 * and spaces. Base-256 and anything else are refused. */
static bool parse_octal(int64_t *out, const unsigned char *f, size_t width)
{
	size_t i = 0;
	while (i < width && f[i] == ' ')
		i++;
	uint64_t v = 0;
	size_t digits = 0;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v > (UINT64_C(1) << 60))
			return false;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] != 0 && f[i] != ' ')
			return false;
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool all_zero(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static bool checksum_ok(const unsigned char *b)
{
	int64_t want;
	if (!parse_octal(&want, b + 148, 8))
		return false;
	uint64_t usum = 0;
	int64_t ssum = 0;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = i >= 148 && i < 156 ? ' ' : b[i];
		usum += c;
		ssum += (signed char)c;
	}
	/* Unsigned per POSIX; some old writers summed signed bytes. */
	return (uint64_t)want == usum || want == ssum;
}

static int set_name(wl__tar_reader *r, const char *p, size_t n)
{
	char *copy = malloc(n + 1);
	if (copy == NULL)
		return reader_fail(r, wl__nomem());
	memcpy(copy, p, n);
	copy[n] = 0;
	free(r->name);
	r->name = copy;
	r->name_len = n;
	return 0;
}

/* The entry's name: the PAX path, else ustar prefix + '/' + name. */
static int header_name(wl__tar_reader *r, const unsigned char *b)
{
	if (r->have_pax_path)
		return set_name(r, r->pax_path, r->pax_path_len);
	size_t nl = strnlen((const char *)b, 100);
	size_t pl = strnlen((const char *)b + 345, 155);
	char buf[100 + 1 + 155];
	size_t n = 0;
	if (pl > 0) {
		memcpy(buf, b + 345, pl);
		n = pl;
		buf[n++] = '/';
	}
	memcpy(buf + n, b, nl);
	if (n + nl > r->name_max)
		return fail_at(r, WL_EINVALID, r->header_at, "name of %zu bytes is longer than any path the entry records",
		               n + nl);
	return set_name(r, buf, n + nl);
}

/* SPEC.md §12.2 step 4 for the name as it stands (one trailing '/' of a
 * directory already removed). */
static int check_name(wl__tar_reader *r, const char *p, size_t n)
{
	const char *why = NULL;
	if (!wl_path_valid((wl_string){p, n}, &why))
		return fail_entry(r, WL_EINVALID, "%s", why);
	for (size_t start = 0; start < n;) {
		const char *slash = memchr(p + start, '/', n - start);
		size_t end = slash ? (size_t)(slash - p) : n;
		if (end - start >= 4 && memcmp(p + start, ".wh.", 4) == 0)
			return fail_entry(r, WL_EINVALID, "whiteout file");
		start = end + 1;
	}
	return 0;
}

static void clear_pax(wl__tar_reader *r)
{
	r->pax_pending = false;
	r->have_pax_path = false;
	r->have_pax_size = false;
	free(r->pax_path);
	r->pax_path = NULL;
	r->pax_path_len = 0;
}

/* Records `LEN KEY=VALUE\n`, parsed strictly: a decimal LEN counting the
 * whole record, a space, a non-empty key, '=', the value, a newline. */
static int parse_pax(wl__tar_reader *r)
{
	const unsigned char *p = r->pax;
	size_t n = r->pax_len, pos = 0;
	while (pos < n) {
		size_t i = pos, len = 0;
		if (p[i] < '1' || p[i] > '9')
			return fail_at(r, WL_EINVALID, r->pax_at, "malformed PAX record at byte %zu", pos);
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			if (len > n)
				break;
			len = len * 10 + (size_t)(p[i] - '0');
			i++;
		}
		if (i >= n || p[i] != ' ' || len > n - pos || len < i - pos + 4 || p[pos + len - 1] != '\n')
			return fail_at(r, WL_EINVALID, r->pax_at, "malformed PAX record at byte %zu", pos);
		const unsigned char *key = p + i + 1, *end = p + pos + len - 1;
		const unsigned char *eq = memchr(key, '=', (size_t)(end - key));
		if (eq == NULL || eq == key)
			return fail_at(r, WL_EINVALID, r->pax_at, "malformed PAX record at byte %zu", pos);
		size_t key_len = (size_t)(eq - key), value_len = (size_t)(end - eq - 1);
		const char *value = (const char *)eq + 1;
		if (key_len == 4 && memcmp(key, "path", 4) == 0) {
			if (r->have_pax_path)
				return fail_at(r, WL_EINVALID, r->pax_at, "PAX record path repeated");
			if (value_len > r->name_max)
				return fail_at(r, WL_EINVALID, r->pax_at,
				               "PAX path of %zu bytes is longer than any path the entry records", value_len);
			r->pax_path = malloc(value_len + 1);
			if (r->pax_path == NULL)
				return reader_fail(r, wl__nomem());
			memcpy(r->pax_path, value, value_len);
			r->pax_path[value_len] = 0;
			r->pax_path_len = value_len;
			r->have_pax_path = true;
		} else if (key_len == 4 && memcmp(key, "size", 4) == 0) {
			if (r->have_pax_size)
				return fail_at(r, WL_EINVALID, r->pax_at, "PAX record size repeated");
			int64_t v = 0;
			bool ok = value_len > 0 && value_len <= 18;
			for (size_t k = 0; ok && k < value_len; k++) {
				ok = value[k] >= '0' && value[k] <= '9';
				v = v * 10 + (value[k] - '0');
			}
			if (!ok)
				return fail_at(r, WL_EINVALID, r->pax_at, "PAX record size is not a decimal size");
			r->pax_size = v;
			r->have_pax_size = true;
		}
		/* Other records (times, owners, ...) are not applied. */
		pos += len;
	}
	return 0;
}

static const char *kind_of(unsigned char type)
{
	switch (type) {
	case '1':
		return "hard link";
	case '2':
		return "symbolic link";
	case '3':
		return "character device";
	case '4':
		return "block device";
	case '6':
		return "FIFO";
	case '7':
		return "contiguous file";
	case 'g':
		return "global PAX header";
	case 'L':
		return "GNU long name";
	case 'K':
		return "GNU long link name";
	case 'S':
		return "GNU sparse file";
	case 'D':
		return "GNU directory dump";
	case 'M':
		return "GNU multi-volume continuation";
	case 'V':
		return "volume label";
	default:
		return NULL;
	}
}

static int sink_failed(wl__tar_reader *r, int rc);

static int begin_file(wl__tar_reader *r, int64_t size)
{
	int rc = check_name(r, r->name, r->name_len);
	if (rc != 0)
		return rc;
	long i = wl__path_table_file(r->table, r->name, r->name_len);
	if (i < 0)
		return fail_entry(r, WL_EINVALID, "file not listed in the entry");
	const wl_file *f = &r->entry->files[i];
	if (!wl_string_equal(f->layer, r->layer))
		return fail_entry(r, WL_EINVALID, "file listed for layer %s, not this one", f->layer.ptr);
	if (r->seen[i])
		return fail_entry(r, WL_EINVALID, "file appears twice in the layer");
	if (size != f->size)
		return fail_entry(r, WL_EMISMATCH, "size %lld in the layer, recorded %lld", (long long)size,
		                  (long long)f->size);
	r->seen[i] = 1;
	r->file = i;
	r->remaining = size;
	r->pad = (uint64_t)((BLOCK - size % BLOCK) % BLOCK);
	if (EVP_DigestInit_ex(r->md, r->sha256, NULL) != 1)
		return reader_fail(r, wl__fail(WL_ENOMEM, "sha256: cannot initialise"));
	r->file_open = true;
	if (r->sink.begin != NULL && (rc = r->sink.begin(r->sink.ctx, (size_t)i)) != 0)
		return sink_failed(r, rc);
	r->state = S_CONTENT;
	return 0;
}

/* The sink's own message, with the entry's name in front; the sink's
 * abort then cleans up whatever it began. */
static int sink_failed(wl__tar_reader *r, int rc)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, (wl_string){r->name, r->name_len}) != 0)
		return reader_fail(r, WL_ENOMEM);
	wl__error_prefix("entry %s", q); /* keeps the sink's errno */
	free(q);
	return reader_fail(r, rc);
}

static int end_file(wl__tar_reader *r)
{
	const wl_file *f = &r->entry->files[r->file];
	char digest[WL_DIGEST_LEN + 1];
	if (!wl__digest_final(r->md, digest))
		return reader_fail(r, wl__fail(WL_ENOMEM, "sha256: cannot finish"));
	if (!wl_string_equal((wl_string){digest, WL_DIGEST_LEN}, f->digest))
		return fail_entry(r, WL_EMISMATCH, "content hashes to %s, recorded %s", digest, f->digest.ptr);
	int rc = 0;
	if (r->sink.commit != NULL && (rc = r->sink.commit(r->sink.ctx, (size_t)r->file)) != 0)
		return sink_failed(r, rc);
	r->file_open = false;
	r->file = -1;
	r->state = r->pad ? S_PAD : S_HEADER;
	return 0;
}

static int process_header(wl__tar_reader *r)
{
	const unsigned char *b = r->block;
	if (all_zero(b)) {
		if (r->pax_pending)
			return fail_at(r, WL_EINVALID, r->pax_at, "PAX header not followed by an entry");
		if (r->zero_block)
			r->state = S_DONE;
		r->zero_block = true;
		return 0;
	}
	if (r->zero_block)
		return fail_at(r, WL_EINVALID, r->header_at, "a header follows a single zero block (corrupt archive)");
	if (!checksum_ok(b))
		return fail_at(r, WL_EINVALID, r->header_at, "header checksum mismatch (corrupt archive)");
	if (memcmp(b + 257, "ustar\0", 6) != 0 || memcmp(b + 263, "00", 2) != 0)
		return fail_at(r, WL_EINVALID, r->header_at, "not a POSIX ustar header");
	unsigned char type = b[156];
	int64_t size;
	if (!parse_octal(&size, b + 124, 12))
		return fail_at(r, WL_EINVALID, r->header_at, "size field is not an octal number");

	if (type == 'x') {
		if (r->pax_pending)
			return fail_at(r, WL_EINVALID, r->header_at, "PAX header follows another PAX header");
		if (size > WL_TAR_PAX_MAX)
			return fail_at(r, WL_EINVALID, r->header_at, "PAX header of %lld bytes (limit %lld)",
			               (long long)size, (long long)WL_TAR_PAX_MAX);
		unsigned char *p = realloc(r->pax, (size_t)size + 1);
		if (p == NULL)
			return reader_fail(r, wl__nomem());
		r->pax = p;
		r->pax_len = 0;
		r->pax_need = (size_t)size;
		r->pax_at = r->header_at;
		r->pax_pending = true;
		r->pad = (uint64_t)((BLOCK - size % BLOCK) % BLOCK);
		r->state = S_PAX;
		return 0;
	}

	int rc = header_name(r, b);
	if (rc != 0)
		return rc;
	if (r->have_pax_size)
		size = r->pax_size;
	clear_pax(r);
	if (type == '5') {
		if (r->name_len > 0 && r->name[r->name_len - 1] == '/')
			r->name_len--;
		if ((rc = check_name(r, r->name, r->name_len)) != 0)
			return rc;
		if (size != 0)
			return fail_entry(r, WL_EINVALID, "directory with %lld bytes of content", (long long)size);
		/* Component by component: linear in the name. */
		long dir = 0;
		for (size_t start = 0; dir >= 0 && start < r->name_len;) {
			const char *slash = memchr(r->name + start, '/', r->name_len - start);
			size_t end = slash ? (size_t)(slash - r->name) : r->name_len;
			if (wl__path_table_child_file(r->table, dir, r->name + start, end - start) >= 0)
				return fail_entry(r, WL_EINVALID, "directory where the entry records a file");
			dir = wl__path_table_child_dir(r->table, dir, r->name + start, end - start);
			start = end + 1;
		}
		return 0;
	}
	if (type == '0' || type == 0)
		return begin_file(r, size);
	const char *kind = kind_of(type);
	if (kind != NULL)
		return fail_entry(r, WL_EINVALID, "%s not allowed in a weight layer", kind);
	if (type >= 0x20 && type < 0x7f)
		return fail_entry(r, WL_EINVALID, "unsupported entry type '%c'", type);
	return fail_entry(r, WL_EINVALID, "unsupported entry type 0x%02x", type);
}

int wl__tar_reader_feed(wl__tar_reader *r, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		size_t n;
		switch (r->state) {
		case S_FAILED:
			return r->failure;
		case S_DONE:
			return 0;
		case S_HEADER:
			if (r->block_fill == 0)
				r->header_at = r->offset;
			n = BLOCK - r->block_fill;
			if (n > len)
				n = len;
			memcpy(r->block + r->block_fill, p, n);
			r->block_fill += n;
			break;
		case S_PAX:
			n = r->pax_need - r->pax_len;
			if (n > len)
				n = len;
			memcpy(r->pax + r->pax_len, p, n);
			r->pax_len += n;
			break;
		case S_CONTENT:
			n = r->remaining < 0 || (uint64_t)r->remaining > len ? len : (size_t)r->remaining;
			if (EVP_DigestUpdate(r->md, p, n) != 1)
				return reader_fail(r, wl__fail(WL_ENOMEM, "sha256: cannot update"));
			if (r->sink.data != NULL) {
				int rc = r->sink.data(r->sink.ctx, p, n);
				if (rc != 0)
					return sink_failed(r, rc);
			}
			r->remaining -= (int64_t)n;
			break;
		case S_PAD:
		default:
			n = r->pad > len ? len : (size_t)r->pad;
			r->pad -= n;
			break;
		}
		p += n;
		len -= n;
		r->offset += n;
		int rc = 0;
		if (r->state == S_HEADER && r->block_fill == BLOCK) {
			r->block_fill = 0;
			rc = process_header(r);
		} else if (r->state == S_PAX && r->pax_len == r->pax_need) {
			if ((rc = parse_pax(r)) == 0)
				r->state = r->pad ? S_PAD : S_HEADER;
		} else if (r->state == S_PAD && r->pad == 0) {
			r->state = S_HEADER;
		}
		/* A file of zero bytes ends with its header. */
		if (rc == 0 && r->state == S_CONTENT && r->remaining == 0)
			rc = end_file(r);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int wl__tar_reader_finish(wl__tar_reader *r)
{
	if (r->state == S_FAILED)
		return r->failure;
	if (r->state == S_CONTENT)
		return fail_entry(r, WL_EINVALID, "archive truncated inside the file's content");
	if (r->state != S_DONE)
		return fail_at(r, WL_EINVALID, r->offset, "archive truncated: no end-of-archive blocks");
	for (size_t i = 0; i < r->entry->file_count; i++) {
		const wl_file *f = &r->entry->files[i];
		if (r->seen[i] || !wl_string_equal(f->layer, r->layer))
			continue;
		char *q = NULL;
		if (wl_quote(&q, NULL, f->path) != 0)
			return reader_fail(r, WL_ENOMEM);
		wl__fail(WL_EMISMATCH, "file %s recorded for this layer is not in it", q);
		free(q);
		return reader_fail(r, WL_EMISMATCH);
	}
	return 0;
}
