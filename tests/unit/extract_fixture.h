/*
 * extract_fixture.h - what the extraction tests share: raw tar blocks
 * written by hand (so hostile archives can say anything), gzip and zstd
 * framing, and an entry assembled around layer blobs of the test's choice
 * and stored in an OCI image layout with the library's own writer.
 */
#ifndef WL_EXTRACT_FIXTURE_H
#define WL_EXTRACT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/internal.h"

/* ---- raw tar ---- */

/* W-1 octal digits and a NUL. */
static inline void tx_octal(unsigned char *f, size_t width, unsigned long long v)
{
	f[width - 1] = 0;
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		f[i] = (unsigned char)('0' + (v & 7));
}

static inline void tx_checksum(unsigned char *blk)
{
	memset(blk + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += blk[i];
	tx_octal(blk + 148, 7, sum);
	blk[155] = ' ';
}

/* One ustar header block; `name` is cut to 100 bytes, `prefix` (may be
 * NULL) fills the ustar prefix field. */
static inline void tx_header_ex(wl_buf *b, const char *name, const char *prefix, char type,
                                unsigned long long size, const char *link)
{
	unsigned char blk[512];
	memset(blk, 0, sizeof blk);
	size_t n = strlen(name);
	memcpy(blk, name, n > 100 ? 100 : n);
	tx_octal(blk + 100, 8, type == '5' ? 0755 : 0644);
	tx_octal(blk + 108, 8, 0);
	tx_octal(blk + 116, 8, 0);
	tx_octal(blk + 124, 12, size);
	tx_octal(blk + 136, 12, 0);
	blk[156] = (unsigned char)type;
	if (link != NULL)
		memcpy(blk + 157, link, strlen(link) > 100 ? 100 : strlen(link));
	memcpy(blk + 257, "ustar\0", 6);
	memcpy(blk + 263, "00", 2);
	if (prefix != NULL)
		memcpy(blk + 345, prefix, strlen(prefix) > 155 ? 155 : strlen(prefix));
	tx_checksum(blk);
	wl_buf_put(b, blk, sizeof blk);
}

static inline void tx_header(wl_buf *b, const char *name, char type, unsigned long long size)
{
	tx_header_ex(b, name, NULL, type, size, NULL);
}

static inline void tx_pad(wl_buf *b)
{
	static const char zeros[512];
	if (b->len % 512)
		wl_buf_put(b, zeros, 512 - b->len % 512);
}

/* Content of `len` bytes and its padding. */
static inline void tx_content(wl_buf *b, const void *data, size_t len)
{
	wl_buf_put(b, data, len);
	tx_pad(b);
}

/* A regular file entry with its content. */
static inline void tx_file(wl_buf *b, const char *name, const char *content)
{
	tx_header(b, name, '0', strlen(content));
	tx_content(b, content, strlen(content));
}

/* A PAX extended header (typeflag `type`, normally 'x') holding `records`
 * verbatim. */
static inline void tx_pax_raw(wl_buf *b, char type, const char *records, size_t len)
{
	tx_header(b, "PaxHeaders.0/x", type, len);
	tx_content(b, records, len);
}

/* One PAX record `LEN KEY=VALUE\n` appended to `out`. */
static inline void tx_record(wl_buf *out, const char *key, const char *value)
{
	size_t n = strlen(key) + strlen(value) + 3, len = n;
	char digits[32];
	for (;;) {
		int d = snprintf(digits, sizeof digits, "%zu", len);
		if (n + (size_t)d == len)
			break;
		len = n + (size_t)d;
	}
	wl_buf_printf(out, "%zu %s=%s\n", len, key, value);
}

static inline void tx_end(wl_buf *b)
{
	static const char zeros[1024];
	wl_buf_put(b, zeros, sizeof zeros);
}

/* ---- compression ---- */

static inline void tx_gzip(wl_buf *out, const void *data, size_t len, int level)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	uLong cap = deflateBound(&z, (uLong)len) + 64;
	wl_buf_reserve(out, cap);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)out->data + out->len;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	out->len += cap - z.avail_out;
	deflateEnd(&z);
}

static inline void tx_zstd(wl_buf *out, const void *data, size_t len, int level)
{
	size_t cap = ZSTD_compressBound(len);
	wl_buf_reserve(out, cap);
	size_t n = ZSTD_compress(out->data + out->len, cap, data, len, level);
	if (!ZSTD_isError(n))
		out->len += n;
}

/* ---- an entry around blobs of the test's choice ---- */

#define FX_MAX_FILES 64
#define FX_MAX_LAYERS 8

typedef struct fx_entry {
	wl_file files[FX_MAX_FILES];
	char file_digest[FX_MAX_FILES][WL_DIGEST_LEN + 1];
	size_t file_layer[FX_MAX_FILES];
	char *file_path[FX_MAX_FILES];
	size_t nf;
	wl_layer layers[FX_MAX_LAYERS];
	char layer_digest[FX_MAX_LAYERS][WL_DIGEST_LEN + 1];
	size_t nl;
	char set_digest[WL_DIGEST_LEN + 1];
	char digest[WL_DIGEST_LEN + 1];
	wl_entry e;
} fx_entry;

static inline void fx_entry_init(fx_entry *f, const char *name)
{
	memset(f, 0, sizeof *f);
	f->e.name = wl_str(name);
	f->e.target = wl_str("/src/weights/w");
	f->e.files = f->files;
	f->e.layers = f->layers;
	f->e.files_present = f->e.layers_present = true;
}

/* A layer blob (stored in `layout` at once). Returns its index. */
static inline size_t fx_layer(fx_entry *f, wl_oci_layout *layout, const char *media_type, const void *blob,
                              size_t len)
{
	size_t i = f->nl++;
	wl_oci_layout_put(layout, blob, len, f->layer_digest[i]);
	f->layers[i].digest = wl_str(f->layer_digest[i]);
	f->layers[i].media_type = wl_str(media_type);
	f->layers[i].size = (int64_t)len;
	return i;
}

/* A recorded file of layer `layer` with `content`. */
static inline void fx_file_rec(fx_entry *f, size_t layer, const char *path, const void *content, size_t len)
{
	size_t i = f->nf++;
	f->file_path[i] = strdup(path);
	wl_sha256_digest(f->file_digest[i], content, len);
	f->files[i].path = wl_str(f->file_path[i]);
	f->files[i].size = (int64_t)len;
	f->files[i].digest = wl_str(f->file_digest[i]);
	f->file_layer[i] = layer;
}

static inline void fx_file_text(fx_entry *f, size_t layer, const char *path, const char *content)
{
	fx_file_rec(f, layer, path, content, strlen(content));
}

/* Fills in the derived fields and stores config blob and manifest. */
static inline int fx_entry_finish(fx_entry *f, wl_oci_layout *layout)
{
	f->e.file_count = f->nf;
	f->e.layer_count = f->nl;
	f->e.size = f->e.size_compressed = 0;
	for (size_t l = 0; l < f->nl; l++) {
		int64_t sum = 0;
		for (size_t i = 0; i < f->nf; i++)
			if (f->file_layer[i] == l)
				sum += f->files[i].size;
		f->layers[l].size_uncompressed = sum > 0 ? sum : 1;
		f->e.size += f->layers[l].size_uncompressed;
		f->e.size_compressed += f->layers[l].size;
	}
	for (size_t i = 0; i < f->nf; i++)
		f->files[i].layer = f->layers[f->file_layer[i]].digest;
	int rc = wl_entry_set_digest(f->set_digest, &f->e);
	if (rc != 0)
		return rc;
	f->e.set_digest = wl_str(f->set_digest);
	char *m = NULL;
	size_t mlen = 0;
	if ((rc = wl_entry_manifest(&m, &mlen, &f->e)) != 0)
		return rc;
	wl_sha256_digest(f->digest, m, mlen);
	free(m);
	f->e.digest = wl_str(f->digest);
	if ((rc = wl_oci_layout_add_entry(layout, &f->e)) != 0)
		return rc;
	return wl_oci_layout_commit(layout);
}

static inline void fx_entry_release(fx_entry *f)
{
	for (size_t i = 0; i < FX_MAX_FILES; i++)
		free(f->file_path[i]);
}

#endif
