/*
 * test_gzip.c - the gzip member of tar+gzip layers (SPEC.md §11.4): the
 * framing bytes, the blocked deflate checked against an independent
 * python zlib implementation of the same rule, identical bytes for any
 * thread count and write pattern, and standard decoders reading it all.
 */
#include "harness.h"
#include "pack_fixture.h"

#define MIB ((size_t)1 << 20)

/* The rule, written independently with python's zlib bindings. */
static const char reference_script[] =
	"import gzip, hashlib, struct, sys, zlib\n"
	"data = open(sys.argv[1], 'rb').read()\n"
	"level, B = int(sys.argv[2]), int(sys.argv[3])\n"
	"out = bytearray(b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00' + bytes([2 if level == 9 else 0, 255]))\n"
	"blocks = [data] if B == 0 else ([data[i:i + B] for i in range(0, len(data), B)] or [b''])\n"
	"for k, blk in enumerate(blocks):\n"
	"    kw = {'zdict': blocks[k - 1][-32768:]} if k > 0 else {}\n"
	"    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, **kw)\n"
	"    out += c.compress(blk)\n"
	"    out += c.flush(zlib.Z_FINISH if k == len(blocks) - 1 else zlib.Z_SYNC_FLUSH)\n"
	"out += struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff)\n"
	"assert gzip.decompress(bytes(out)) == data\n"
	"print(len(out), hashlib.sha256(out).hexdigest(), end='')\n";

/* Compresses `data` with the given block size, thread count and write
 * chunk; returns 0 and the output in `sink`. */
static int gz_compress(fx_sink *sink, const unsigned char *data, size_t len, int level, size_t block, int threads,
                    size_t chunk)
{
	wl_buf_init(&sink->buf);
	sink->calls = 0;
	wl_gzip *gz;
	int rc = wl__gzip_new(&gz, level, block, threads, fx_sink_write, sink);
	if (rc != 0)
		return rc;
	for (size_t off = 0; off < len && rc == 0; off += chunk)
		rc = wl__gzip_write(gz, data + off, len - off < chunk ? len - off : chunk);
	if (rc == 0)
		rc = wl__gzip_finish(gz);
	wl__gzip_free(gz);
	return rc;
}

/* "LEN HEX" of the gzip bytes. */
static void describe(char out[96], const fx_sink *s)
{
	char d[WL_DIGEST_LEN + 1];
	wl_sha256_digest(d, s->buf.data, s->buf.len);
	snprintf(out, 96, "%zu %s", s->buf.len, d + 7);
}

/* The python reference for data/level/B, or NULL. */
static char *reference(const char *dir, const unsigned char *data, size_t len, int level, size_t block)
{
	if (fx_write(dir, "input", data, len) != 0)
		return NULL;
	char args[512];
	snprintf(args, sizeof args, "'%s/input' %d %zu", dir, level, block);
	return fx_python(dir, reference_script, args);
}

static bool inflates_to(const fx_sink *s, const unsigned char *data, size_t len)
{
	size_t n = 0;
	unsigned char *back = fx_gunzip(s->buf.data, s->buf.len, &n);
	bool ok = back != NULL && n == len && (len == 0 || memcmp(back, data, len) == 0);
	free(back);
	return ok;
}

TEST(header_is_go_framing_with_xfl_by_level)
{
	static const unsigned char h9[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff};
	static const unsigned char h6[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x00, 0xff};
	const unsigned char data[] = "hello, hello, hello";
	fx_sink s;
	CHECK_OK(gz_compress(&s, data, sizeof data, 9, MIB, 1, 64));
	int ok9 = s.buf.len > 18 && memcmp(s.buf.data, h9, 10) == 0;
	wl_buf_release(&s.buf);
	CHECK(ok9);
	CHECK_OK(gz_compress(&s, data, sizeof data, 6, MIB, 1, 64));
	int ok6 = s.buf.len > 18 && memcmp(s.buf.data, h6, 10) == 0;
	wl_buf_release(&s.buf);
	CHECK(ok6);
}

TEST(trailer_is_crc32_and_length_little_endian)
{
	size_t len = 3 * MIB + 12345;
	unsigned char *data = malloc(len);
	fx_text(data, len, 7);
	uLong crc = crc32(0, data, (uInt)len);
	fx_sink s;
	CHECK_OK(gz_compress(&s, data, len, 6, MIB, 2, 100000));
	const unsigned char *t = (const unsigned char *)s.buf.data + s.buf.len - 8;
	uint32_t got_crc = t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24;
	uint32_t got_len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
	bool back = inflates_to(&s, data, len);
	wl_buf_release(&s.buf);
	free(data);
	CHECK_INT(got_crc, (uint32_t)crc);
	CHECK_INT(got_len, (uint32_t)len);
	CHECK(back);
}

TEST(input_below_one_block_is_one_plain_deflate_stream)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	size_t len = 200000;
	unsigned char *data = malloc(len);
	fx_text(data, len, 3);
	fx_sink blocked, plain;
	int rc = gz_compress(&blocked, data, len, 9, MIB, 8, 4096);
	if (rc == 0)
		rc = gz_compress(&plain, data, len, 9, 0, 1, 4096);
	char *want = rc == 0 ? reference(dir, data, len, 9, 0) : NULL;
	fx_remove(dir);
	free(data);
	CHECK_OK(rc);
	char got_blocked[96], got_plain[96];
	describe(got_blocked, &blocked);
	describe(got_plain, &plain);
	wl_buf_release(&blocked.buf);
	wl_buf_release(&plain.buf);
	CHECK(want != NULL);
	int same = strcmp(got_blocked, want) == 0 && strcmp(got_plain, want) == 0;
	if (!same)
		HARNESS_FAIL("blocked %s, plain %s, reference %s", got_blocked, got_plain, want);
	free(want);
}

TEST(blocks_are_primed_with_the_previous_32_kib_and_sync_flushed)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	size_t len = 3 * MIB + 777;
	unsigned char *data = malloc(len);
	fx_text(data, len, 11);
	/* The project's B, a block below the dictionary size, and an odd one. */
	static const struct {
		size_t block;
		int level;
	} cases[] = {{MIB, 9}, {MIB, 6}, {4096, 6}, {100003, 9}};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		fx_sink s;
		int rc = gz_compress(&s, data, len, cases[i].level, cases[i].block, 2, 65536);
		if (rc != 0) {
			HARNESS_FAIL("compress: %s", wl_error_last()->message);
			break;
		}
		char got[96];
		describe(got, &s);
		bool back = inflates_to(&s, data, len);
		wl_buf_release(&s.buf);
		char *want = reference(dir, data, len, cases[i].level, cases[i].block);
		if (want == NULL || strcmp(got, want) != 0 || !back) {
			HARNESS_FAIL("B=%zu level %d: got %s, reference %s, inflates %d", cases[i].block,
			             cases[i].level, got, want ? want : "(python failed)", back);
			free(want);
			break;
		}
		free(want);
	}
	fx_remove(dir);
	free(data);
}

TEST(input_of_whole_blocks_ends_without_an_empty_block)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	size_t len = 3 * 65536;
	unsigned char *data = malloc(len);
	fx_text(data, len, 5);
	fx_sink s;
	int rc = gz_compress(&s, data, len, 6, 65536, 2, 65536);
	char got[96] = "";
	if (rc == 0)
		describe(got, &s);
	wl_buf_release(&s.buf);
	char *want = rc == 0 ? reference(dir, data, len, 6, 65536) : NULL;
	fx_remove(dir);
	free(data);
	CHECK_OK(rc);
	CHECK(want != NULL);
	int same = strcmp(got, want) == 0;
	if (!same)
		HARNESS_FAIL("got %s, reference %s", got, want);
	free(want);
}

TEST(empty_input_is_one_final_empty_block)
{
	static const unsigned char want[20] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x00, 0xff,
	                                       0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
	fx_sink s;
	CHECK_OK(gz_compress(&s, NULL, 0, 6, MIB, 4, 1));
	int same = s.buf.len == 20 && memcmp(s.buf.data, want, 20) == 0;
	wl_buf_release(&s.buf);
	CHECK(same);
}

TEST(bytes_do_not_depend_on_threads_or_write_sizes)
{
	size_t len = 5 * MIB / 2 + 99;
	unsigned char *data = malloc(len);
	fx_text(data, len, 23);
	static const struct {
		int threads;
		size_t chunk;
	} runs[] = {{1, 1}, {2, 7}, {8, 65536}, {3, 1 << 22}, {0, 1000000}};
	char first[96] = "";
	for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
		fx_sink s;
		int rc = gz_compress(&s, data, len, 6, MIB, runs[i].threads, runs[i].chunk);
		char got[96] = "";
		if (rc == 0)
			describe(got, &s);
		bool back = rc == 0 && inflates_to(&s, data, len);
		wl_buf_release(&s.buf);
		if (rc != 0 || !back || (i > 0 && strcmp(got, first) != 0)) {
			HARNESS_FAIL("threads %d chunk %zu: %s (first %s), inflates %d", runs[i].threads,
			             runs[i].chunk, got, first, back);
			free(data);
			return;
		}
		if (i == 0)
			memcpy(first, got, sizeof first);
	}
	free(data);
}

static int failing_sink(void *ctx, const void *data, size_t len)
{
	(void)data;
	(void)len;
	int *calls = ctx;
	return ++*calls >= 2 ? -1 : 0;
}

TEST(sink_failure_stops_compression)
{
	size_t len = 4 * MIB;
	unsigned char *data = malloc(len);
	fx_text(data, len, 2);
	int calls = 0;
	wl_gzip *gz;
	CHECK_OK(wl__gzip_new(&gz, 6, MIB, 2, failing_sink, &calls));
	int rc = wl__gzip_write(gz, data, len);
	if (rc == 0)
		rc = wl__gzip_finish(gz);
	wl__gzip_free(gz);
	free(data);
	CHECK_INT(rc, WL_EIO);
	CHECK(strstr(wl_error_last()->message, "write") != NULL);
}

int main(void)
{
	RUN(header_is_go_framing_with_xfl_by_level);
	RUN(trailer_is_crc32_and_length_little_endian);
	RUN(input_below_one_block_is_one_plain_deflate_stream);
	RUN(blocks_are_primed_with_the_previous_32_kib_and_sync_flushed);
	RUN(input_of_whole_blocks_ends_without_an_empty_block);
	RUN(empty_input_is_one_final_empty_block);
	RUN(bytes_do_not_depend_on_threads_or_write_sizes);
	RUN(sink_failure_stops_compression);
	return harness_summary("gzip");
}
