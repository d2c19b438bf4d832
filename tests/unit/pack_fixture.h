/*
 * pack_fixture.h - what the packing tests share: a temporary directory
 * with files in it, a memory sink for layer bytes, gzip inflation with
 * zlib (an independent decoder), and running a python3 script whose
 * output is the expected value.
 */
#ifndef WL_PACK_FIXTURE_H
#define WL_PACK_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/internal.h"
#include "pack/pack_internal.h"

/* A new directory under /tmp; NULL on failure. Free with fx_remove. */
static inline char *fx_tmpdir(void)
{
	char tmpl[] = "/tmp/wl-pack-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline int fx_unlink_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void fx_remove(char *dir)
{
	if (dir != NULL)
		nftw(dir, fx_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* dir/rel, freshly allocated. */
static inline char *fx_join(const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

/* Writes dir/rel (creating parents); 0 on success. */
static inline int fx_write(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = fx_join(dir, rel);
	for (char *s = p + strlen(dir) + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	}
	FILE *f = fopen(p, "wb");
	free(p);
	if (f == NULL)
		return -1;
	size_t w = len ? fwrite(data, 1, len, f) : 0;
	return fclose(f) == 0 && w == len ? 0 : -1;
}

/* A wl_source_file naming `path` with `size`, digest empty. */
static inline wl_source_file fx_file(const char *path, int64_t size)
{
	wl_source_file f;
	memset(&f, 0, sizeof f);
	f.path.ptr = path;
	f.path.len = strlen(path);
	f.size = size;
	return f;
}

/* A sink collecting bytes in memory. */
typedef struct fx_sink {
	wl_buf buf;
	size_t calls;
} fx_sink;

static inline int fx_sink_write(void *ctx, const void *data, size_t len)
{
	fx_sink *s = ctx;
	wl_buf_put(&s->buf, data, len);
	s->calls++;
	return s->buf.failed ? -1 : 0;
}

/* Inflates a whole gzip member with zlib; NULL unless it decodes and
 * ends exactly at the end of `data`. */
static inline unsigned char *fx_gunzip(const void *data, size_t len, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 31) != Z_OK)
		return NULL;
	size_t cap = len * 4 + 65536, n = 0;
	unsigned char *out = malloc(cap);
	zs.next_in = (unsigned char *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	int zr;
	do {
		if (cap - n < 65536) {
			cap *= 2;
			out = realloc(out, cap);
		}
		zs.next_out = out + n;
		zs.avail_out = (uInt)(cap - n);
		zr = inflate(&zs, Z_NO_FLUSH);
		n = cap - zs.avail_out;
	} while (zr == Z_OK);
	bool ok = zr == Z_STREAM_END && zs.avail_in == 0;
	inflateEnd(&zs);
	if (!ok) {
		free(out);
		return NULL;
	}
	*out_len = n;
	return out;
}

/* Runs `python3 SCRIPT ARGS` (the script text is written to dir) and
 * returns its stdout (malloc'd, NUL-terminated), or NULL when python3 is
 * missing or the script fails. */
static inline char *fx_python(const char *dir, const char *script, const char *args)
{
	if (fx_write(dir, "fixture.py", script, strlen(script)) != 0)
		return NULL;
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "python3 '%s/fixture.py' %s", dir, args);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	wl_buf b;
	wl_buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
		wl_buf_put(&b, chunk, n);
	int status = pclose(p);
	char *out;
	if (wl_buf_finish(&b, &out, NULL) != 0)
		return NULL;
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Deterministic text that compresses, for gzip tests. */
static inline void fx_text(unsigned char *out, size_t len, uint32_t seed)
{
	static const char *words[] = {"weights", "layer", "tensor", "model", "shard", "cog", "bundle",
	                              "gzip", "deflate", "block", "0", "1", "2", "3", "\n"};
	uint32_t x = seed | 1;
	size_t i = 0;
	while (i < len) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		const char *w = words[x % (sizeof words / sizeof *words)];
		for (size_t k = 0; w[k] && i < len; k++)
			out[i++] = (unsigned char)w[k];
		if (i < len)
			out[i++] = (unsigned char)(x & 0x100 ? ' ' : 'a' + (x >> 24) % 26);
	}
}

#endif
