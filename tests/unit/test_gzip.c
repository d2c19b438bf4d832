/*
 * test_gzip.c - the gzip member of tar+gzip layers (SPEC.md §11.4): the
 * framing bytes; the blocked deflate checked block by block against
 * libdeflate's own command-line tool and read back with python's zlib;
 * the one-stream zlib mode against python's zlib; identical bytes for any
 * thread count and write pattern.
 */
#include "harness.h"
#include "pack_fixture.h"

#define MIB ((size_t)1 << 20)

/* The one-stream rule (block size 0), written independently with python's
 * zlib bindings: the bytes of SPEC.md Appendix A. */
static const char zlib_reference_script[] =
	"import gzip, hashlib, struct, sys, zlib\n"
	"data = open(sys.argv[1], 'rb').read()\n"
	"level = int(sys.argv[2])\n"
	"out = bytearray(b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00' + bytes([2 if level == 9 else 0, 255]))\n"
	"c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)\n"
	"out += c.compress(data) + c.flush(zlib.Z_FINISH)\n"
	"out += struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff)\n"
	"assert gzip.decompress(bytes(out)) == data\n"
	"print(len(out), hashlib.sha256(out).hexdigest(), end='')\n";

/* The blocked rule, checked on the project's output: block k of B bytes is
 * the raw deflate stream libdeflate-gzip makes of it at the same level,
 * with exactly one bit cleared (its final block's BFINAL) for every block
 * but the last, followed by an empty stored block (00 00 ff ff after
 * alignment); the whole is one gzip member with Go's header, the CRC-32
 * and the length. Prints "ok" or what differs. */
static const char blocked_check_script[] =
	"import struct, subprocess, sys, zlib\n"
	"data = open(sys.argv[1], 'rb').read()\n"
	"out = open(sys.argv[2], 'rb').read()\n"
	"level, B = int(sys.argv[3]), int(sys.argv[4])\n"
	"def raw(blk):\n"
	"    g = subprocess.run(['libdeflate-gzip', '-%d' % level, '-c'], input=blk,\n"
	"                       stdout=subprocess.PIPE, check=True).stdout\n"
	"    assert g[:4] == b'\\x1f\\x8b\\x08\\x00', 'libdeflate-gzip header'\n"
	"    return g[10:-8]\n"
	"def fail(why):\n"
	"    print(why, end='')\n"
	"    sys.exit(0)\n"
	"if out[:10] != b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00' + bytes([2 if level == 9 else 0, 255]):\n"
	"    fail('header %s' % out[:10].hex())\n"
	"blocks = [data[i:i + B] for i in range(0, len(data), B)] or [b'']\n"
	"pos = 10\n"
	"for k, blk in enumerate(blocks):\n"
	"    r = raw(blk)\n"
	"    if k == len(blocks) - 1:\n"
	"        if out[pos:pos + len(r)] != r:\n"
	"            fail('last block %d differs' % k)\n"
	"        pos += len(r)\n"
	"        break\n"
	"    for extra in (4, 5):\n"
	"        seg = out[pos:pos + len(r) + extra]\n"
	"        core = seg[:len(r)]\n"
	"        if len(seg) != len(r) + extra or seg[-4:] != b'\\x00\\x00\\xff\\xff':\n"
	"            continue\n"
	"        if extra == 5 and seg[len(r)] != 0:\n"
	"            continue\n"
	"        x = int.from_bytes(core, 'little') ^ int.from_bytes(r, 'little')\n"
	"        if x != 0 and x & (x - 1) == 0 and int.from_bytes(r, 'little') & x:\n"
	"            pos += len(r) + extra\n"
	"            break\n"
	"    else:\n"
	"        fail('block %d is not libdeflate\\'s stream with BFINAL cleared and a stored block' % k)\n"
	"if out[pos:] != struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff):\n"
	"    fail('trailer')\n"
	"d = zlib.decompressobj(31)\n"
	"if d.decompress(out) != data or not d.eof or d.unused_data:\n"
	"    fail('does not inflate as one member')\n"
	"print('ok', end='')\n";

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

/* The python zlib reference for one stream of data at level, or NULL. */
static char *zlib_reference(const char *dir, const unsigned char *data, size_t len, int level)
{
	if (fx_write(dir, "input", data, len) != 0)
		return NULL;
	char args[512];
	snprintf(args, sizeof args, "'%s/input' %d", dir, level);
	return fx_python(dir, zlib_reference_script, args);
}

/* "ok", or what the blocked check found wrong in `out`; NULL when python
 * could not run. */
static char *blocked_check(const char *dir, const unsigned char *data, size_t len, const fx_sink *out, int level,
                           size_t block)
{
	if (fx_write(dir, "input", data, len) != 0 || fx_write(dir, "output", out->buf.data, out->buf.len) != 0)
		return NULL;
	char args[512];
	snprintf(args, sizeof args, "'%s/input' '%s/output' %d %zu", dir, dir, level, block);
	return fx_python(dir, blocked_check_script, args);
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

TEST(block_size_0_is_one_zlib_stream_as_in_appendix_a)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	size_t len = 3 * MIB + 5;
	unsigned char *data = malloc(len);
	fx_text(data, len, 3);
	static const int levels[] = {9, 6};
	for (size_t i = 0; i < 2; i++) {
		fx_sink plain;
		int rc = gz_compress(&plain, data, len, levels[i], 0, 1, 4096);
		char got[96] = "";
		if (rc == 0)
			describe(got, &plain);
		wl_buf_release(&plain.buf);
		char *want = rc == 0 ? zlib_reference(dir, data, len, levels[i]) : NULL;
		if (rc != 0 || want == NULL || strcmp(got, want) != 0)
			HARNESS_FAIL("level %d: plain %s, reference %s", levels[i], got, want ? want : "(none)");
		free(want);
	}
	fx_remove(dir);
	free(data);
}

/* Compresses with `block` on two threads and runs the blocked check. */
static void check_blocked(const unsigned char *data, size_t len, int level, size_t block, size_t chunk)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	fx_sink s;
	int rc = gz_compress(&s, data, len, level, block, 2, chunk);
	if (rc != 0) {
		HARNESS_FAIL("B=%zu level %d: compress: %s", block, level, wl_error_last()->message);
		fx_remove(dir);
		return;
	}
	bool back = inflates_to(&s, data, len);
	char *verdict = blocked_check(dir, data, len, &s, level, block);
	wl_buf_release(&s.buf);
	fx_remove(dir);
	if (verdict == NULL || strcmp(verdict, "ok") != 0 || !back)
		HARNESS_FAIL("B=%zu level %d: %s, inflates %d", block, level, verdict ? verdict : "(python failed)",
		             back);
	free(verdict);
}

TEST(input_below_one_block_is_libdeflates_one_stream)
{
	size_t len = 200000;
	unsigned char *data = malloc(len);
	fx_text(data, len, 3);
	check_blocked(data, len, 9, MIB, 4096);
	check_blocked(data, len, 6, MIB, 4096);
	free(data);
}

TEST(blocks_are_libdeflate_streams_joined_by_an_empty_stored_block)
{
	size_t len = 3 * MIB + 777;
	unsigned char *data = malloc(len);
	fx_text(data, len, 11);
	/* The project's B, a small block, and an odd one. */
	check_blocked(data, len, 9, MIB, 65536);
	check_blocked(data, len, 6, MIB, 65536);
	check_blocked(data, len, 6, 4096, 65536);
	check_blocked(data, len, 9, 100003, 65536);
	/* incompressible input (xorshift bytes): libdeflate's stored blocks */
	uint64_t x = 88172645463325252u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)(x >> 32);
	}
	check_blocked(data, len, 6, MIB, 65536);
	free(data);
}

TEST(input_of_whole_blocks_ends_without_an_empty_block)
{
	size_t len = 3 * 65536;
	unsigned char *data = malloc(len);
	fx_text(data, len, 5);
	check_blocked(data, len, 6, 65536, 65536);
	free(data);
}

TEST(empty_input_is_one_final_empty_block)
{
	/* libdeflate ends empty input with a final empty stored block */
	static const unsigned char want[23] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x00, 0xff, 0x01, 0x00,
	                                       0x00, 0xff, 0xff, 0,    0,    0, 0, 0, 0,    0,    0};
	fx_sink s;
	CHECK_OK(gz_compress(&s, NULL, 0, 6, MIB, 4, 1));
	int same = s.buf.len == sizeof want && memcmp(s.buf.data, want, sizeof want) == 0;
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
	RUN(block_size_0_is_one_zlib_stream_as_in_appendix_a);
	RUN(input_below_one_block_is_libdeflates_one_stream);
	RUN(blocks_are_libdeflate_streams_joined_by_an_empty_stored_block);
	RUN(input_of_whole_blocks_ends_without_an_empty_block);
	RUN(empty_input_is_one_final_empty_block);
	RUN(bytes_do_not_depend_on_threads_or_write_sizes);
	RUN(sink_failure_stops_compression);
	return harness_summary("gzip");
}
