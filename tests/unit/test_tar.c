/*
 * test_tar.c - the tar stream (SPEC.md §11.3): PAX records and their
 * length rule, header fields, name filtering and truncation, large sizes,
 * directory entries, the size formula (§2.6 invariant 9), and python's
 * tarfile reading what the packer writes.
 */
#include "harness.h"
#include "pack_fixture.h"

/* One entry's header bytes: PAX block, records (padded), ustar block. */
typedef struct hdr {
	wl_buf b;
	const unsigned char *pax, *rec, *ustar;
	size_t rec_padded;
} hdr;

static int make_hdr(hdr *h, const char *name, size_t len, bool dir, int64_t size)
{
	wl_buf_init(&h->b);
	int rc = wl__tar_header(&h->b, name, len, dir, size);
	if (rc != 0)
		return rc;
	h->pax = (const unsigned char *)h->b.data;
	h->rec = h->pax + 512;
	h->rec_padded = h->b.len - 1024;
	h->ustar = h->rec + h->rec_padded;
	return 0;
}

/* Octal text of a numeric field as written (digits before the NUL). */
static long long octal_field(const unsigned char *f, size_t width)
{
	long long v = 0;
	for (size_t i = 0; i < width && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (f[i] - '0');
	return v;
}

/* The checksum rule, computed here from scratch. */
static bool checksum_ok(const unsigned char *blk)
{
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : blk[i];
	char want[8];
	snprintf(want, sizeof want, "%06o", sum);
	return memcmp(blk + 148, want, 6) == 0 && blk[154] == 0 && blk[155] == ' ';
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Smallest L with L == digits(L) + len(" k=v\n"). */
static size_t reference_record_len(size_t k, size_t v)
{
	for (size_t len = 1;; len++) {
		char d[32];
		int nd = snprintf(d, sizeof d, "%zu", len);
		if (len == (size_t)nd + 1 + k + 1 + v + 1)
			return len;
	}
}

TEST(pax_record_length_counts_its_own_digits)
{
	CHECK_INT(wl__tar_pax_record_len(5, 1), 11);   /* "11 atime=0\n" */
	CHECK_INT(wl__tar_pax_record_len(4, 101), 111); /* a 101-byte path */
	CHECK_INT(wl__tar_pax_record_len(4, 10), 19);   /* "19 size=9663676416\n" */
	/* Digit boundaries: n = 9 -> 11, n = 98 -> 101, n = 997 -> 1001. */
	CHECK_INT(wl__tar_pax_record_len(1, 5), 11);
	CHECK_INT(wl__tar_pax_record_len(4, 91), 101);
	CHECK_INT(wl__tar_pax_record_len(4, 990), 1001);
	for (size_t v = 0; v < 10050; v++)
		for (size_t k = 1; k <= 5; k += 3)
			if (wl__tar_pax_record_len(k, v) != reference_record_len(k, v)) {
				HARNESS_FAIL("key %zu value %zu: %zu, want %zu", k, v, wl__tar_pax_record_len(k, v),
				             reference_record_len(k, v));
				return;
			}
}

TEST(common_entry_has_22_bytes_of_records)
{
	hdr h;
	CHECK_OK(make_hdr(&h, "model.safetensors", 17, false, 100));
	CHECK_INT(h.b.len, 1536);
	CHECK(memcmp(h.pax, "PaxHeaders.0/model.safetensors\0", 31) == 0);
	CHECK(memcmp(h.pax + 100, "0000000\0" "0000000\0" "0000000\0" "00000000026\0" "00000000000\0", 44) == 0);
	CHECK(memcmp(h.pax + 148, "013575\0 ", 8) == 0);
	CHECK_INT(h.pax[156], 'x');
	CHECK(memcmp(h.pax + 257, "ustar\0" "00", 8) == 0);
	CHECK(all_zero(h.pax + 329, 16));
	CHECK(memcmp(h.rec, "11 atime=0\n11 ctime=0\n", 22) == 0);
	CHECK(all_zero(h.rec + 22, 512 - 22));
	wl_buf_release(&h.b);
}

/* SPEC.md Appendix A: the ustar block of model.safetensors (layer offset
 * 0x400), from the hex dump. */
TEST(ustar_block_matches_appendix_a_dump)
{
	static const unsigned char row400[16] = "model.safetensor";
	static const unsigned char row410[16] = {'s', 0};
	static const unsigned char rows460[64] = {
		0, 0, 0, 0, '0', '0', '0', '0', '6', '4', '4', 0, '0', '0', '0', '0',
		'0', '0', '0', 0, '0', '0', '0', '0', '0', '0', '0', 0, '0', '0', '0', '0',
		'0', '0', '0', '0', '1', '4', '4', 0, '0', '0', '0', '0', '0', '0', '0', '0',
		'0', '0', '0', 0, '0', '1', '2', '5', '6', '2', 0, ' ', '0', 0, 0, 0,
	};
	hdr h;
	CHECK_OK(make_hdr(&h, "model.safetensors", 17, false, 100));
	CHECK(memcmp(h.ustar, row400, 16) == 0);
	CHECK(memcmp(h.ustar + 0x10, row410, 16) == 0);
	CHECK(all_zero(h.ustar + 0x20, 0x60 - 0x20));
	CHECK(memcmp(h.ustar + 0x60, rows460, 64) == 0);
	CHECK(memcmp(h.ustar + 0x101, "ustar\0" "00", 8) == 0);
	CHECK(all_zero(h.ustar + 0x109, 64));
	CHECK(memcmp(h.ustar + 0x149, "0000000\0" "0000000\0", 16) == 0);
	CHECK(all_zero(h.ustar + 0x159, 512 - 0x159));
	wl_buf_release(&h.b);
}

TEST(directory_entry_fields)
{
	hdr h;
	CHECK_OK(make_hdr(&h, "text_encoder/", 13, true, 0));
	CHECK_INT(h.b.len, 1536);
	CHECK(memcmp(h.pax, "text_encoder/PaxHeaders.0\0", 26) == 0);
	CHECK(memcmp(h.ustar, "text_encoder/\0", 14) == 0);
	CHECK(memcmp(h.ustar + 100, "0000755\0", 8) == 0);
	CHECK(memcmp(h.ustar + 124, "00000000000\0", 12) == 0);
	CHECK_INT(h.ustar[156], '5');
	CHECK(checksum_ok(h.pax));
	CHECK(checksum_ok(h.ustar));
	wl_buf_release(&h.b);
}

TEST(checksum_sums_the_block_with_spaces_in_the_field)
{
	const char *names[] = {"a", "model.safetensors", "dé/", "a/b/c/d.bin"};
	for (size_t i = 0; i < 4; i++) {
		hdr h;
		CHECK_OK(make_hdr(&h, names[i], strlen(names[i]), names[i][strlen(names[i]) - 1] == '/', 12345));
		CHECK(checksum_ok(h.pax));
		CHECK(checksum_ok(h.ustar));
		wl_buf_release(&h.b);
	}
}

TEST(path_record_for_names_longer_than_100_bytes)
{
	char name[102];
	memset(name, 'a', 97);
	memcpy(name + 97, ".bin", 5);
	CHECK_INT(strlen(name), 101);
	hdr h;
	CHECK_OK(make_hdr(&h, name, 101, false, 5));
	char want[160];
	snprintf(want, sizeof want, "11 atime=0\n11 ctime=0\n111 path=%s\n", name);
	CHECK_INT(octal_field(h.pax + 124, 12), strlen(want));
	CHECK(memcmp(h.rec, want, strlen(want)) == 0);
	/* Main name: the first 100 bytes, no terminator. */
	CHECK(memcmp(h.ustar, name, 100) == 0);
	CHECK_INT(h.ustar[100], '0');
	/* PAX block name: "PaxHeaders.0/" + name, cut to 100. */
	CHECK(memcmp(h.pax, "PaxHeaders.0/", 13) == 0);
	CHECK(memcmp(h.pax + 13, name, 87) == 0);
	wl_buf_release(&h.b);

	/* Exactly 100 bytes: no path record, no terminator. */
	CHECK_OK(make_hdr(&h, name, 100, false, 5));
	CHECK_INT(octal_field(h.pax + 124, 12), 22);
	CHECK(memcmp(h.ustar, name, 100) == 0);
	wl_buf_release(&h.b);
}

TEST(non_ascii_directory_example)
{
	/* SPEC.md §11.3: `dé/` -> main `d/`, PAX block `d/PaxHeaders.0`,
	 * record path=dé/. */
	hdr h;
	CHECK_OK(make_hdr(&h, "d\xc3\xa9/", 4, true, 0));
	CHECK(memcmp(h.ustar, "d/\0", 3) == 0);
	CHECK(memcmp(h.pax, "d/PaxHeaders.0\0", 15) == 0);
	const char *want = "11 atime=0\n11 ctime=0\n13 path=d\xc3\xa9/\n";
	CHECK_INT(octal_field(h.pax + 124, 12), strlen(want));
	CHECK(memcmp(h.rec, want, strlen(want)) == 0);
	wl_buf_release(&h.b);
}

TEST(non_ascii_and_invalid_bytes_are_filtered_from_header_names)
{
	hdr h;
	const char *name = "mod\xc3\xa8le/\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9.safetensors";
	CHECK_OK(make_hdr(&h, name, strlen(name), false, 1));
	CHECK(memcmp(h.ustar, "modle/ncd.safetensors\0", 22) == 0);
	CHECK(memcmp(h.pax, "modle/PaxHeaders.0/ncd.safetensors\0", 35) == 0);
	wl_buf_release(&h.b);
	/* An invalid byte and a 4-byte emoji vanish; the record keeps them. */
	CHECK_OK(make_hdr(&h, "a\xff" "b\xf0\x9f\x98\x80.pt", 10, false, 1));
	CHECK(memcmp(h.ustar, "ab.pt\0", 6) == 0);
	CHECK(memcmp(h.rec + 22, "19 path=a\xff" "b\xf0\x9f\x98\x80.pt\n", 19) == 0);
	wl_buf_release(&h.b);
}

TEST(long_directory_example)
{
	/* `x…x/` of 101 bytes: main name 100 `x` (no slash, no NUL), PAX block
	 * name 100 `x`. */
	char name[102];
	memset(name, 'x', 100);
	name[100] = '/';
	name[101] = 0;
	hdr h;
	CHECK_OK(make_hdr(&h, name, 101, true, 0));
	CHECK(memcmp(h.ustar, name, 100) == 0);
	CHECK(memcmp(h.pax, name, 100) == 0);
	CHECK_INT(h.pax[100], '0');
	CHECK(memcmp(h.rec + 22, "111 path=", 9) == 0);
	wl_buf_release(&h.b);
}

TEST(cut_name_ending_in_slash_gets_a_nul)
{
	/* Byte 99 of the cut field is '/': a NUL goes at the length of the
	 * first 99 bytes without trailing slashes. */
	char name[128];
	memset(name, 'y', 99);
	strcpy(name + 99, "/f.bin");
	hdr h;
	CHECK_OK(make_hdr(&h, name, strlen(name), false, 1));
	CHECK(memcmp(h.ustar, name, 99) == 0);
	CHECK_INT(h.ustar[99], 0);
	wl_buf_release(&h.b);

	memset(name, 'y', 98);
	strcpy(name + 98, "//z.bin");
	CHECK_OK(make_hdr(&h, name, strlen(name), false, 1));
	CHECK(memcmp(h.ustar, name, 98) == 0);
	CHECK_INT(h.ustar[98], 0);
	CHECK_INT(h.ustar[99], '/');
	wl_buf_release(&h.b);
}

TEST(size_above_octal_77777777777_moves_to_a_pax_record)
{
	hdr h;
	CHECK_OK(make_hdr(&h, "f.bin", 5, false, 8589934591LL));
	CHECK(memcmp(h.ustar + 124, "77777777777\0", 12) == 0);
	CHECK_INT(octal_field(h.pax + 124, 12), 22);
	wl_buf_release(&h.b);

	CHECK_OK(make_hdr(&h, "f.bin", 5, false, 8589934592LL));
	CHECK(memcmp(h.ustar + 124, "00000000000\0", 12) == 0);
	CHECK(memcmp(h.rec, "11 atime=0\n11 ctime=0\n19 size=8589934592\n", 41) == 0);
	CHECK_INT(octal_field(h.pax + 124, 12), 41);
	wl_buf_release(&h.b);

	/* Both records: path sorts before size. */
	char name[160];
	memset(name, 'q', 150);
	name[150] = 0;
	CHECK_OK(make_hdr(&h, name, 150, false, 9663676416LL));
	CHECK(memcmp(h.rec + 22, "160 path=", 9) == 0);
	CHECK(memcmp(h.rec + 22 + 160, "19 size=9663676416\n", 19) == 0);
	wl_buf_release(&h.b);
}

/* A plan layer over files[0..n). */
static wl_plan_layer layer_over(size_t *index, size_t n, bool gzip)
{
	for (size_t i = 0; i < n; i++)
		index[i] = i;
	wl_plan_layer l;
	memset(&l, 0, sizeof l);
	l.files = index;
	l.file_count = n;
	l.gzip = gzip;
	l.gzip_level = n > 1 ? 9 : 6;
	return l;
}

TEST(size_formula_matches_cogs_layers)
{
	/* SPEC.md §11.3: top-level file of size S -> 2560 + roundup512(S). */
	static const int64_t sizes[][2] = {
		{2508311120LL, 2508314112LL}, {90868376, 90871296}, {102482854, 102485504}, {100, 3072}};
	size_t index[1];
	for (size_t i = 0; i < 4; i++) {
		wl_source_file f[] = {fx_file("model.safetensors", sizes[i][0])};
		wl_plan_layer l = layer_over(index, 1, false);
		int64_t got;
		CHECK_OK(wl__tar_layer_size(&got, f, &l));
		CHECK_INT(got, sizes[i][1]);
	}
	/* Each parent directory adds 1536 (26 of them here). */
	wl_source_file deep[] = {fx_file("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/deep.pt", 4)};
	wl_plan_layer l = layer_over(index, 1, false);
	int64_t got;
	CHECK_OK(wl__tar_layer_size(&got, deep, &l));
	CHECK_INT(got, 3072 + 26 * 1536);
	/* A 9 GiB file adds its size record inside the same records block. */
	wl_source_file big[] = {fx_file("big.bin", 9663676416LL)};
	CHECK_OK(wl__tar_layer_size(&got, big, &l));
	CHECK_INT(got, 2560 + 9663676416LL);
}

TEST(directory_entries_cover_every_ancestor_once_sorted_as_paths)
{
	/* Cog sorts directory paths, then appends '/': "a" < "a-b" < "a/c". */
	wl_source_file f[] = {fx_file("b/c/x", 1), fx_file("a/y", 1), fx_file("b/z", 1), fx_file("a-b/q", 1),
	                      fx_file("a/c/w", 1), fx_file("top", 1)};
	size_t index[6];
	wl_plan_layer l = layer_over(index, 6, true);
	wl_string *dirs;
	size_t n;
	CHECK_OK(wl__tar_dirs(&dirs, &n, f, l.files, l.file_count));
	const char *want[] = {"a/", "a-b/", "a/c/", "b/", "b/c/"};
	if (n != 5) {
		free(dirs);
		CHECK_INT(n, 5);
	}
	for (size_t i = 0; i < 5; i++) {
		if (dirs[i].len != strlen(want[i]) || memcmp(dirs[i].ptr, want[i], dirs[i].len) != 0) {
			HARNESS_FAIL("dir %zu is %.*s, want %s", i, (int)dirs[i].len, dirs[i].ptr, want[i]);
			free(dirs);
			return;
		}
	}
	free(dirs);
	wl_source_file t[] = {fx_file("x.bin", 1)};
	CHECK_OK(wl__tar_dirs(&dirs, &n, t, l.files, 1));
	CHECK_INT(n, 0);
	CHECK(dirs == NULL);
}

static const char tarfile_script[] =
	"import hashlib, sys, tarfile\n"
	"with tarfile.open(sys.argv[1], 'r:') as t:\n"
	"    for m in t.getmembers():\n"
	"        data = t.extractfile(m).read() if m.isfile() else b''\n"
	"        kind = 'd' if m.isdir() else 'f' if m.isfile() else '?'\n"
	"        name = m.name.rstrip('/').encode('utf-8', 'surrogateescape').hex()\n"
	"        print(kind, m.size, m.mode, m.uid, m.gid, m.mtime, hashlib.sha256(data).hexdigest(), name)\n";

TEST(python_tarfile_reads_names_sizes_and_content)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	char longname[200];
	memset(longname, 'L', 150);
	strcpy(longname + 150, "/tail.bin");
	char longdir[220];
	memset(longdir, 'x', 100);
	strcpy(longdir + 100, "/y.bin");
	const char *paths[] = {"a.bin", "empty.txt", "d\xc3\xa9/\xc3\xbcn\xc3\xaf.txt", longname, longdir,
	                       "n/e/s/t/ed.txt"};
	const size_t nf = sizeof paths / sizeof *paths;
	wl_source_file files[6];
	unsigned char content[6][700];
	for (size_t i = 0; i < nf; i++) {
		size_t len = i == 1 ? 0 : 100 + 97 * i;
		for (size_t k = 0; k < len; k++)
			content[i][k] = (unsigned char)(k * 7 + i);
		if (fx_write(dir, paths[i], content[i], len) != 0) {
			HARNESS_FAIL("cannot write %s", paths[i]);
			fx_remove(dir);
			return;
		}
		files[i] = fx_file(paths[i], (int64_t)len);
	}
	size_t index[6];
	wl_plan_layer l = layer_over(index, nf, false);
	fx_sink sink = {0};
	wl_buf_init(&sink.buf);
	wl_packed_layer out;
	int rc = wl_pack_layer(&out, dir, files, &l, 1, fx_sink_write, &sink, NULL);
	int64_t formula = 0;
	if (rc == 0)
		rc = wl__tar_layer_size(&formula, files, &l);
	if (rc == 0)
		rc = fx_write(dir, "layer.tar", sink.buf.data, sink.buf.len);
	char *tar_path = fx_join(dir, "layer.tar");
	char *listing = rc == 0 ? fx_python(dir, tarfile_script, tar_path) : NULL;
	free(tar_path);
	size_t tar_len = sink.buf.len;
	wl_buf_release(&sink.buf);

	/* Expected: directories (sorted as paths), then the files in order. */
	wl_buf want;
	wl_buf_init(&want);
	const char *dirs[] = {"d\xc3\xa9", "n", "n/e", "n/e/s", "n/e/s/t", NULL, NULL};
	char longdir_only[101], longname_dir[151];
	memcpy(longname_dir, longname, 150);
	longname_dir[150] = 0;
	memcpy(longdir_only, longdir, 100);
	longdir_only[100] = 0;
	/* "LLL…" < "d…" < "n…" < "xxx…" byte-wise. */
	const char *sorted_dirs[] = {longname_dir, dirs[0], dirs[1], dirs[2], dirs[3], dirs[4], longdir_only};
	for (size_t i = 0; i < 7; i++) {
		wl_buf_puts(&want, "d 0 493 0 0 0 ");
		wl_buf_puts(&want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ");
		for (const char *p = sorted_dirs[i]; *p; p++)
			wl_buf_printf(&want, "%02x", (unsigned char)*p);
		wl_buf_putc(&want, '\n');
	}
	for (size_t i = 0; i < nf; i++) {
		char d[WL_DIGEST_LEN + 1];
		wl_sha256_digest(d, content[i], (size_t)files[i].size);
		wl_buf_printf(&want, "f %lld 420 0 0 0 %s ", (long long)files[i].size, d + 7);
		for (const char *p = paths[i]; *p; p++)
			wl_buf_printf(&want, "%02x", (unsigned char)*p);
		wl_buf_putc(&want, '\n');
	}
	wl_buf_putc(&want, '\0');
	fx_remove(dir);
	if (rc != 0) {
		wl_buf_release(&want);
		HARNESS_FAIL("packing failed: %s", wl_error_last()->message);
		return;
	}
	if (listing == NULL) {
		wl_buf_release(&want);
		HARNESS_FAIL("python3 tarfile could not read the layer");
		return;
	}
	int same = strcmp(listing, want.data) == 0;
	if (!same)
		HARNESS_FAIL("tarfile listing:\n%swant:\n%s", listing, want.data);
	free(listing);
	wl_buf_release(&want);
	if (!same)
		return;
	CHECK_INT(out.size, (int64_t)tar_len);
	CHECK_INT(out.size, formula);
}

int main(void)
{
	RUN(pax_record_length_counts_its_own_digits);
	RUN(common_entry_has_22_bytes_of_records);
	RUN(ustar_block_matches_appendix_a_dump);
	RUN(directory_entry_fields);
	RUN(checksum_sums_the_block_with_spaces_in_the_field);
	RUN(path_record_for_names_longer_than_100_bytes);
	RUN(non_ascii_directory_example);
	RUN(non_ascii_and_invalid_bytes_are_filtered_from_header_names);
	RUN(long_directory_example);
	RUN(cut_name_ending_in_slash_gets_a_nul);
	RUN(size_above_octal_77777777777_moves_to_a_pax_record);
	RUN(size_formula_matches_cogs_layers);
	RUN(directory_entries_cover_every_ancestor_once_sorted_as_paths);
	RUN(python_tarfile_reads_names_sizes_and_content);
	return harness_summary("tar");
}
