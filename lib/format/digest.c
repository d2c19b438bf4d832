/*
 * digest.c - sha256 digests, the set digest of a file set (Cog's DirHash,
 * SPEC.md §4.6) and the parts of a fingerprint (SPEC.md §4.7).
 *
 * The set digest sorts references to (hex, path) pairs and streams the
 * lines into the hash, so a set of any size costs one small array and no
 * joined copy of the text.
 */
#include "common/internal.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

static void format_digest(char out[WL_DIGEST_LEN + 1], const unsigned char md[SHA256_DIGEST_LENGTH])
{
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[7 + 2 * i] = hex_digits[md[i] >> 4];
		out[7 + 2 * i + 1] = hex_digits[md[i] & 0x0f];
	}
	out[WL_DIGEST_LEN] = '\0';
}

bool wl__digest_final(struct evp_md_ctx_st *md, char out[WL_DIGEST_LEN + 1])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(md, sum, &len) != 1 || len != SHA256_DIGEST_LENGTH)
		return false;
	format_digest(out, sum);
	return true;
}

void wl_sha256_digest(char out[WL_DIGEST_LEN + 1], const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	static const unsigned char empty = 0;
	SHA256(len ? data : &empty, len, md);
	format_digest(out, md);
}

bool wl_digest_valid(wl_string s)
{
	if (s.len != WL_DIGEST_LEN || memcmp(s.ptr, "sha256:", 7) != 0)
		return false;
	for (size_t i = 7; i < s.len; i++) {
		char c = s.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* One line of the set digest: `<hex>  <path>`, kept as references. */
typedef struct line_ref {
	uint64_t key; /* the line's first 8 bytes, big-endian, zero-padded */
	const char *hex;
	size_t hex_len;
	const char *path;
	size_t path_len;
} line_ref;

/* A cursor over the three segments of a line (hex, two spaces, path). */
typedef struct line_cursor {
	const char *seg[3];
	size_t len[3];
	int at;
	size_t off;
} line_cursor;

static void cursor_init(line_cursor *c, const line_ref *r)
{
	c->seg[0] = r->hex;
	c->len[0] = r->hex_len;
	c->seg[1] = "  ";
	c->len[1] = 2;
	c->seg[2] = r->path;
	c->len[2] = r->path_len;
	c->at = 0;
	c->off = 0;
	while (c->at < 3 && c->len[c->at] == 0)
		c->at++;
}

static void cursor_advance(line_cursor *c, size_t n)
{
	c->off += n;
	while (c->at < 3 && c->off == c->len[c->at]) {
		c->at++;
		c->off = 0;
	}
}

/* The first 8 bytes of the line as a big-endian number: different keys
 * order the lines as their bytes do (zero padding sorts a shorter line
 * first), equal keys leave it to the full comparison. */
static uint64_t line_key(const line_ref *r)
{
	line_cursor c;
	cursor_init(&c, r);
	uint64_t key = 0;
	for (int k = 0; k < 8; k++) {
		unsigned char byte = 0;
		if (c.at < 3) {
			byte = (unsigned char)c.seg[c.at][c.off];
			cursor_advance(&c, 1);
		}
		key = key << 8 | byte;
	}
	return key;
}

/* Byte-wise comparison of the two whole lines, without joining them. */
static int line_compare(const void *x, const void *y)
{
	const line_ref *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->hex_len == b->hex_len) {
		/* The usual case: equal-length hex, so the lines split alike. */
		int c = a->hex_len ? memcmp(a->hex, b->hex, a->hex_len) : 0;
		if (c != 0)
			return c;
		return wl_string_compare((wl_string){a->path, a->path_len},
		                         (wl_string){b->path, b->path_len});
	}
	line_cursor ca, cb;
	cursor_init(&ca, a);
	cursor_init(&cb, b);
	while (ca.at < 3 && cb.at < 3) {
		size_t ra = ca.len[ca.at] - ca.off, rb = cb.len[cb.at] - cb.off;
		size_t n = ra < rb ? ra : rb;
		int c = memcmp(ca.seg[ca.at] + ca.off, cb.seg[cb.at] + cb.off, n);
		if (c != 0)
			return c;
		cursor_advance(&ca, n);
		cursor_advance(&cb, n);
	}
	if (ca.at < 3)
		return 1;
	return cb.at < 3 ? -1 : 0;
}

/* Feeds bytes to the hash through a buffer, to keep update calls few. */
typedef struct hash_stream {
	EVP_MD_CTX *ctx;
	size_t used;
	bool failed;
	unsigned char buf[1 << 16];
} hash_stream;

static void stream_flush(hash_stream *s)
{
	if (s->used && !s->failed && EVP_DigestUpdate(s->ctx, s->buf, s->used) != 1)
		s->failed = true;
	s->used = 0;
}

static void stream_put(hash_stream *s, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = sizeof s->buf - s->used;
		if (room == 0) {
			stream_flush(s);
			room = sizeof s->buf;
		}
		size_t k = n < room ? n : room;
		memcpy(s->buf + s->used, p, k);
		s->used += k;
		p += k;
		n -= k;
	}
}

int wl_dirhash(char out[WL_DIGEST_LEN + 1], const wl_dirhash_part *parts, size_t count)
{
	size_t bytes;
	if (wl_mul_overflows_size(count, sizeof(line_ref), &bytes))
		return wl__nomem();
	line_ref *lines = count ? malloc(bytes) : NULL;
	if (count && lines == NULL)
		return wl__nomem();
	for (size_t i = 0; i < count; i++) {
		wl_string d = parts[i].digest;
		const char *colon = d.len ? memchr(d.ptr, ':', d.len) : NULL;
		lines[i].hex = colon ? colon + 1 : "";
		lines[i].hex_len = colon ? d.len - (size_t)(colon + 1 - d.ptr) : 0;
		lines[i].path = parts[i].path.len ? parts[i].path.ptr : "";
		lines[i].path_len = parts[i].path.len;
		lines[i].key = line_key(&lines[i]);
	}
	if (count > 1)
		qsort(lines, count, sizeof *lines, line_compare);

	hash_stream *s = malloc(sizeof *s);
	if (s == NULL) {
		free(lines);
		return wl__nomem();
	}
	s->ctx = EVP_MD_CTX_new();
	s->used = 0;
	s->failed = s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1;
	for (size_t i = 0; i < count && !s->failed; i++) {
		if (i > 0)
			stream_put(s, "\n", 1);
		stream_put(s, lines[i].hex, lines[i].hex_len);
		stream_put(s, "  ", 2);
		stream_put(s, lines[i].path, lines[i].path_len);
	}
	stream_flush(s);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (!s->failed && (EVP_DigestFinal_ex(s->ctx, md, &md_len) != 1 || md_len != SHA256_DIGEST_LENGTH))
		s->failed = true;
	bool failed = s->failed;
	EVP_MD_CTX_free(s->ctx);
	free(s);
	free(lines);
	if (failed)
		return wl__fail(WL_ENOMEM, "sha256 of the set digest failed");
	format_digest(out, md);
	return 0;
}

int wl_entry_set_digest(char out[WL_DIGEST_LEN + 1], wl_entry *entry)
{
	wl_entry_normalize(entry);
	size_t bytes;
	if (wl_mul_overflows_size(entry->file_count, sizeof(wl_dirhash_part), &bytes))
		return wl__nomem();
	wl_dirhash_part *parts = entry->file_count ? malloc(bytes) : NULL;
	if (entry->file_count && parts == NULL)
		return wl__nomem();
	for (size_t i = 0; i < entry->file_count; i++) {
		parts[i].path = entry->files[i].path;
		parts[i].digest = entry->files[i].digest;
	}
	int rc = wl_dirhash(out, parts, entry->file_count);
	free(parts);
	return rc;
}

bool wl_fingerprint_scheme(wl_string *out, wl_string fingerprint)
{
	const char *colon = fingerprint.len ? memchr(fingerprint.ptr, ':', fingerprint.len) : NULL;
	if (colon == NULL)
		return false;
	size_t n = (size_t)(colon - fingerprint.ptr);
	if (out != NULL)
		*out = (wl_string){fingerprint.ptr, n};
	return true;
}

bool wl_fingerprint_value(wl_string *out, wl_string fingerprint)
{
	const char *colon = fingerprint.len ? memchr(fingerprint.ptr, ':', fingerprint.len) : NULL;
	if (colon == NULL)
		return false;
	size_t n = fingerprint.len - (size_t)(colon + 1 - fingerprint.ptr);
	if (out != NULL)
		*out = (wl_string){colon + 1, n};
	return true;
}
