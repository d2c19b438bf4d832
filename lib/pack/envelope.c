/*
 * envelope.c - the project's envelope (SPEC.md §11.6): the JSON naming
 * everything that determines layer bytes, and its digest, stamped as the
 * lockfile's `envelopeFormat`; and Cog's, whose records import may reuse.
 *
 * A dozen fixed keys in a fixed order: a JSON library would only add a
 * dependency and a key-ordering question, so the bytes are written here.
 */
#include "pack/pack_internal.h"

#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>

int wl__pack_thresholds(int64_t *file_max, int64_t *size_max, const wl_pack_options *options)
{
	int64_t f = options != NULL ? options->bundle_file_max : 0;
	int64_t s = options != NULL ? options->bundle_size_max : 0;
	if (f < 0)
		return wl__fail(WL_EINVALID, "bundle file max %lld is negative", (long long)f);
	if (s < 0)
		return wl__fail(WL_EINVALID, "bundle size max %lld is negative", (long long)s);
	*file_max = f != 0 ? f : WL_BUNDLE_FILE_MAX_DEFAULT;
	*size_max = s != 0 ? s : WL_BUNDLE_SIZE_MAX_DEFAULT;
	return 0;
}

/* The keys both envelopes share, in the same order in both. */
#define EXTS_AND_MEDIA_TYPES                                                                             \
	"\"incompressibleExts\":[\".bin\",\".gguf\",\".onnx\",\".parquet\",\".pt\",\".pth\",\".safetensors\"],"      \
	"\"mediaTypeCompressed\":\"" WL_MEDIA_TYPE_LAYER_TAR_GZIP "\",\"mediaTypeRaw\":\"" WL_MEDIA_TYPE_LAYER_TAR "\""

/* "bundleFileMax":F,"bundleSizeMax":S with the effective thresholds. */
static int put_thresholds(wl_buf *b, const wl_pack_options *options)
{
	int64_t file_max, size_max;
	int rc = wl__pack_thresholds(&file_max, &size_max, options);
	if (rc != 0)
		return rc;
	wl_buf_puts(b, "\"bundleFileMax\":");
	wl_buf_put_int64(b, file_max);
	wl_buf_puts(b, ",\"bundleSizeMax\":");
	wl_buf_put_int64(b, size_max);
	return 0;
}

static int finish(wl_buf *b, int rc, char **out, size_t *out_len)
{
	if (rc != 0) {
		wl_buf_release(b);
		return rc;
	}
	return wl_buf_finish(b, out, out_len);
}

int wl__envelope_with(char **out, size_t *out_len, const wl_pack_options *options, int revision,
                      const char *compressor, int64_t gzip_block_size)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "{\"producer\":\"weightslock\",\"revision\":");
	wl_buf_put_int64(&b, revision);
	wl_buf_puts(&b, ",\"compressor\":");
	wl_json_put_string(&b, compressor, strlen(compressor));
	wl_buf_puts(&b, ",\"gzipBlockSize\":");
	wl_buf_put_int64(&b, gzip_block_size);
	wl_buf_putc(&b, ',');
	int rc = put_thresholds(&b, options);
	wl_buf_puts(&b, ",\"gzipLevelBundle\":9,\"gzipLevelLarge\":6," EXTS_AND_MEDIA_TYPES "}");
	return finish(&b, rc, out, out_len);
}

static int envelope_default(char **out, size_t *out_len, const wl_pack_options *options)
{
	/* libdeflate 1.14 reports no runtime version: the header's is the one
	 * of the library it links, Debian ships the two in lockstep. */
	return wl__envelope_with(out, out_len, options, WL_PACKER_REVISION, "libdeflate " LIBDEFLATE_VERSION_STRING,
	                         WL_GZIP_BLOCK_SIZE);
}

int wl_envelope(char **out, size_t *out_len, const wl_pack_options *options)
{
	return envelope_default(out, out_len, options);
}

static int digest_of(char out[WL_DIGEST_LEN + 1], const wl_pack_options *options,
                     int (*make)(char **, size_t *, const wl_pack_options *))
{
	char *json;
	size_t len;
	int rc = make(&json, &len, options);
	if (rc != 0)
		return rc;
	wl_sha256_digest(out, json, len);
	free(json);
	return 0;
}

int wl_envelope_digest(char out[WL_DIGEST_LEN + 1], const wl_pack_options *options)
{
	return digest_of(out, options, envelope_default);
}

/* Cog's envelope (§11.6): its keys in Go's sorted order, its values in
 * v0.19.3, with the effective thresholds. */
int wl_cog_envelope(char **out, size_t *out_len, const wl_pack_options *options)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_putc(&b, '{');
	int rc = put_thresholds(&b, options);
	wl_buf_puts(&b, ",\"gzipLevelBundle\":9,\"gzipLevelLarge\":-1," EXTS_AND_MEDIA_TYPES ",\"revision\":1}");
	return finish(&b, rc, out, out_len);
}

int wl_cog_envelope_digest(char out[WL_DIGEST_LEN + 1], const wl_pack_options *options)
{
	return digest_of(out, options, wl_cog_envelope);
}
