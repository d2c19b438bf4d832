/*
 * tar.c - the header bytes of Cog's deterministic layer tar (SPEC.md
 * §11.3): PAX extended header, records, ustar block, and the directory
 * entries a layer needs.
 *
 * Hand-written because the layer digests must equal Go archive/tar's
 * output byte for byte: libarchive (and GNU tar) name the PAX header
 * `PaxHeaders.N`/`PaxHeaders.<pid>`, emit other records (mtime, and no
 * atime/ctime of 0), fill uname/gname and pad the archive to 10240 bytes;
 * none of that can be switched off. Content never passes through here: the
 * packer streams it between these headers.
 */
#include "pack/pack_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field offsets and widths of a ustar header block. */
enum {
	F_NAME = 0,
	W_NAME = 100,
	F_MODE = 100,
	F_UID = 108,
	F_GID = 116,
	W_ID = 8,
	F_SIZE = 124,
	F_MTIME = 136,
	W_NUM12 = 12,
	F_CHKSUM = 148,
	F_TYPE = 156,
	F_MAGIC = 257,
	F_VERSION = 263,
	F_DEVMAJOR = 329,
	F_DEVMINOR = 337,
};

static size_t decimal_digits(uint64_t v)
{
	size_t d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

size_t wl__tar_pax_record_len(size_t key_len, size_t value_len)
{
	size_t n = key_len + value_len + 3; /* ' ', '=', '\n' */
	size_t len = n + decimal_digits(n);
	if (decimal_digits(len) != decimal_digits(n))
		len = n + decimal_digits(len);
	return len;
}

static void put_record(wl_buf *b, const char *key, const char *value, size_t value_len)
{
	size_t key_len = strlen(key);
	wl_buf_printf(b, "%zu ", wl__tar_pax_record_len(key_len, value_len));
	wl_buf_put(b, key, key_len);
	wl_buf_putc(b, '=');
	wl_buf_put(b, value, value_len);
	wl_buf_putc(b, '\n');
}

/* Go's formatString: the first W bytes, NUL after a shorter value, and a
 * NUL over a trailing '/' of a cut value (so no reader mistakes a cut file
 * name for a directory). */
static void put_string(unsigned char *field, size_t width, const unsigned char *s, size_t n)
{
	memcpy(field, s, n < width ? n : width);
	if (n < width)
		field[n] = 0;
	if (n > width && field[width - 1] == '/') {
		size_t k = width - 1;
		while (k > 0 && s[k - 1] == '/')
			k--;
		field[k] = 0;
	}
}

/* Go's formatOctal: W-1 zero-padded octal digits and a NUL; a value that
 * does not fit is written as zero. */
static void put_octal(unsigned char *field, size_t width, int64_t v)
{
	size_t digits = width - 1;
	if (v < 0 || (digits < 21 && (uint64_t)v >= (uint64_t)1 << (3 * digits)))
		v = 0;
	uint64_t u = (uint64_t)v;
	field[digits] = 0;
	for (size_t i = digits; i-- > 0;) {
		field[i] = (unsigned char)('0' + (u & 7));
		u >>= 3;
	}
}

/* The ASCII-filtered prefix of `s` (code points below U+0080 other than
 * NUL), at most `cap` bytes; returns how many were kept. */
static size_t ascii_prefix(unsigned char *out, size_t cap, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t kept = 0;
	for (size_t i = 0; i < n && kept < cap;) {
		if (p[i] < 0x80) {
			if (p[i] != 0)
				out[kept++] = p[i];
			i++;
			continue;
		}
		uint32_t cp;
		i += wl_utf8_decode(p + i, n - i, &cp);
	}
	return kept;
}

static void finish_block(unsigned char *blk)
{
	memcpy(blk + F_MAGIC, "ustar\0", 6);
	memcpy(blk + F_VERSION, "00", 2);
	memset(blk + F_CHKSUM, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < WL_TAR_BLOCK; i++)
		sum += blk[i];
	put_octal(blk + F_CHKSUM, 7, (int64_t)sum);
	blk[F_CHKSUM + 7] = ' ';
}

static bool needs_pax_path(const char *name, size_t n)
{
	if (n > W_NAME)
		return true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] >= 0x80)
			return true;
	return false;
}

/* Go's path.Join(dir, "PaxHeaders.0", base) for path.Split(name). */
static int pax_block_name(char **out, size_t *out_len, const char *name, size_t n)
{
	size_t split = n;
	while (split > 0 && name[split - 1] != '/')
		split--;
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_put(&b, name, split);
	wl_buf_puts(&b, "/PaxHeaders.0");
	if (split < n) {
		wl_buf_putc(&b, '/');
		wl_buf_put(&b, name + split, n - split);
	}
	char *joined;
	size_t joined_len;
	int rc = wl_buf_finish(&b, &joined, &joined_len);
	if (rc != 0)
		return rc;
	/* A leading '/' only appears from an empty dir; Join drops empty
	 * elements, so skip it before cleaning. */
	wl_string j = {joined, joined_len};
	if (split == 0) {
		j.ptr++;
		j.len--;
	}
	rc = wl_path_clean(out, out_len, j);
	free(joined);
	return rc;
}

int wl__tar_header(wl_buf *out, const char *name, size_t name_len, bool is_dir, int64_t size)
{
	if (is_dir)
		size = 0;
	bool big = size > WL_TAR_USTAR_SIZE_MAX;
	bool long_name = needs_pax_path(name, name_len);

	/* Records, sorted by key: atime, ctime, path, size. */
	wl_buf rec;
	wl_buf_init(&rec);
	put_record(&rec, "atime", "0", 1);
	put_record(&rec, "ctime", "0", 1);
	if (long_name)
		put_record(&rec, "path", name, name_len);
	if (big) {
		char digits[24];
		int dn = snprintf(digits, sizeof digits, "%lld", (long long)size);
		put_record(&rec, "size", digits, (size_t)dn);
	}
	if (rec.failed) {
		wl_buf_release(&rec);
		return wl__nomem();
	}

	char *pax_name;
	size_t pax_name_len;
	int rc = pax_block_name(&pax_name, &pax_name_len, name, name_len);
	if (rc != 0) {
		wl_buf_release(&rec);
		return rc;
	}

	size_t rec_padded = (rec.len + WL_TAR_BLOCK - 1) / WL_TAR_BLOCK * WL_TAR_BLOCK;
	if (!wl_buf_reserve(out, 2 * WL_TAR_BLOCK + rec_padded)) {
		free(pax_name);
		wl_buf_release(&rec);
		return wl__nomem();
	}

	unsigned char *pax = (unsigned char *)out->data + out->len;
	memset(pax, 0, 2 * WL_TAR_BLOCK + rec_padded);
	unsigned char field[W_NAME + 1];
	size_t kept = ascii_prefix(field, W_NAME, pax_name, pax_name_len);
	while (kept > 0 && field[kept - 1] == '/')
		kept--;
	put_string(pax + F_NAME, W_NAME, field, kept);
	put_octal(pax + F_MODE, W_ID, 0);
	put_octal(pax + F_UID, W_ID, 0);
	put_octal(pax + F_GID, W_ID, 0);
	put_octal(pax + F_SIZE, W_NUM12, (int64_t)rec.len);
	put_octal(pax + F_MTIME, W_NUM12, 0);
	pax[F_TYPE] = 'x';
	finish_block(pax);
	memcpy(pax + WL_TAR_BLOCK, rec.data, rec.len);

	unsigned char *hdr = pax + WL_TAR_BLOCK + rec_padded;
	/* One byte past the field tells a value longer than the field. */
	kept = ascii_prefix(field, W_NAME + 1, name, name_len);
	put_string(hdr + F_NAME, W_NAME, field, kept);
	put_octal(hdr + F_MODE, W_ID, is_dir ? 0755 : 0644);
	put_octal(hdr + F_UID, W_ID, 0);
	put_octal(hdr + F_GID, W_ID, 0);
	put_octal(hdr + F_SIZE, W_NUM12, size);
	put_octal(hdr + F_MTIME, W_NUM12, 0);
	hdr[F_TYPE] = is_dir ? '5' : '0';
	put_octal(hdr + F_DEVMAJOR, W_ID, 0);
	put_octal(hdr + F_DEVMINOR, W_ID, 0);
	finish_block(hdr);

	out->len += 2 * WL_TAR_BLOCK + rec_padded;
	free(pax_name);
	wl_buf_release(&rec);
	return 0;
}

static int64_t round512(int64_t v)
{
	return (v + WL_TAR_BLOCK - 1) / WL_TAR_BLOCK * WL_TAR_BLOCK;
}

int64_t wl__tar_entry_size(const char *name, size_t name_len, bool is_dir, int64_t size)
{
	if (is_dir)
		size = 0;
	size_t records = 2 * wl__tar_pax_record_len(5, 1);
	if (needs_pax_path(name, name_len))
		records += wl__tar_pax_record_len(4, name_len);
	if (size > WL_TAR_USTAR_SIZE_MAX)
		records += wl__tar_pax_record_len(4, decimal_digits((uint64_t)size));
	return 2 * WL_TAR_BLOCK + round512((int64_t)records) + round512(size);
}

typedef struct dir_ref {
	const char *path;
	size_t len; /* without the '/' */
} dir_ref;

static int dir_ref_compare(const void *a, const void *b)
{
	const dir_ref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->path, y->path, n);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

int wl__tar_dirs(wl_string **out, size_t *count, const wl_source_file *files, const size_t *index,
                 size_t index_count)
{
	*out = NULL;
	*count = 0;
	size_t total = 0;
	for (size_t i = 0; i < index_count; i++) {
		wl_string p = files[index[i]].path;
		for (size_t k = 0; k < p.len; k++)
			if (p.ptr[k] == '/')
				total++;
	}
	if (total == 0)
		return 0;
	dir_ref *refs = malloc(total * sizeof *refs);
	if (refs == NULL)
		return wl__nomem();
	size_t n = 0;
	for (size_t i = 0; i < index_count; i++) {
		wl_string p = files[index[i]].path;
		for (size_t k = 0; k < p.len; k++)
			if (p.ptr[k] == '/')
				refs[n++] = (dir_ref){p.ptr, k};
	}
	/* Sorted as directory paths (Cog sorts before appending the '/'). */
	qsort(refs, n, sizeof *refs, dir_ref_compare);
	wl_string *dirs = malloc(n * sizeof *dirs);
	if (dirs == NULL) {
		free(refs);
		return wl__nomem();
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && dir_ref_compare(&refs[i - 1], &refs[i]) == 0)
			continue;
		dirs[m++] = (wl_string){refs[i].path, refs[i].len + 1};
	}
	free(refs);
	*out = dirs;
	*count = m;
	return 0;
}

int wl__tar_layer_size(int64_t *out, const wl_source_file *files, const wl_plan_layer *layer)
{
	wl_string *dirs;
	size_t dir_count;
	int rc = wl__tar_dirs(&dirs, &dir_count, files, layer->files, layer->file_count);
	if (rc != 0)
		return rc;
	int64_t total = 2 * WL_TAR_BLOCK;
	bool overflow = false;
	for (size_t i = 0; i < dir_count; i++)
		overflow |= wl_add_overflows_i64(total, wl__tar_entry_size(dirs[i].ptr, dirs[i].len, true, 0),
		                                 &total);
	free(dirs);
	for (size_t i = 0; i < layer->file_count; i++) {
		const wl_source_file *f = &files[layer->files[i]];
		if (f->size < 0 || f->size > INT64_MAX - 2 * WL_TAR_BLOCK) {
			overflow = true;
			break;
		}
		overflow |= wl_add_overflows_i64(total, wl__tar_entry_size(f->path.ptr, f->path.len, false, f->size),
		                                 &total);
	}
	if (overflow)
		return wl__fail(WL_EINVALID, "layer is too large for a tar stream");
	*out = total;
	return 0;
}
