/*
 * test_extract.c - materializing an entry from an OCI image layout
 * (SPEC.md §12.2, §12.3) with the state markers of §7.2: a real import
 * extracted and compared, tar/gzip/zstd layers, resuming, sweeping a
 * target extract owns, refusing one it does not, and one hostile layer per
 * rule, each rejected naming weight, layer and entry, with `failed`
 * written, `ready` absent and nothing written outside the target.
 */
#include "harness.h"
#include "scratch_tree.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "extract_fixture.h"

/* ---- helpers ---- */

/* a + b, freshly allocated (paths built at run time). */
static char *cat(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *p = malloc(n);
	snprintf(p, n, "%s%s", a, b);
	return p;
}

static bool exists(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0;
}

static ino_t inode_of(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0 ? st.st_ino : 0;
}

/* The whole file, NUL-terminated (NULL when unreadable). */
static char *slurp(const char *rel, size_t *len)
{
	FILE *f = fopen(at(rel), "rb");
	if (f == NULL)
		return NULL;
	wl_buf b;
	wl_buf_init(&b);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		wl_buf_put(&b, chunk, n);
	fclose(f);
	char *out = NULL;
	size_t out_len = 0;
	if (wl_buf_finish(&b, &out, &out_len) != 0)
		return NULL;
	if (len != NULL)
		*len = out_len;
	return out;
}

static bool file_is(const char *rel, const char *content)
{
	size_t n = 0;
	char *got = slurp(rel, &n);
	bool ok = got != NULL && n == strlen(content) && memcmp(got, content, n) == 0;
	free(got);
	return ok;
}

/* What makes a target extract's own (its content is not read). */
#define OWNER_LINE "{\"name\":\"w\",\"digest\":\"sha256:0\"}\n"

static int extract_into(const fx_entry *f, const char *dest, bool force)
{
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.threads = 2;
	o.force = force;
	return wl_extract(&f->e, at("layout"), at(dest), &o);
}

/* The blob of `media` type for a tar stream. */
static void encode(wl_buf *blob, const wl_buf *tar, const char *media)
{
	wl_buf_init(blob);
	if (strcmp(media, WL_MEDIA_TYPE_LAYER_TAR_GZIP) == 0)
		tx_gzip(blob, tar->data, tar->len, 6);
	else if (strcmp(media, WL_MEDIA_TYPE_LAYER_TAR_ZSTD) == 0)
		tx_zstd(blob, tar->data, tar->len, 3);
	else
		wl_buf_put(blob, tar->data, tar->len);
}

/* An entry "w" of one layer (`tar` stored as `media`) recording the files
 * given as path, content pairs (NULL ends them), stored in scratch/layout. */
static int one_layer(fx_entry *f, const wl_buf *tar, const char *media, ...)
{
	fx_entry_init(f, "w");
	wl_oci_layout *layout = NULL;
	int rc = wl_oci_layout_open(&layout, at("layout"));
	if (rc != 0)
		return rc;
	wl_buf blob;
	encode(&blob, tar, media);
	size_t l = fx_layer(f, layout, media, blob.data, blob.len);
	wl_buf_release(&blob);
	va_list ap;
	va_start(ap, media);
	for (const char *path; (path = va_arg(ap, const char *)) != NULL;)
		fx_file_text(f, l, path, va_arg(ap, const char *));
	va_end(ap);
	rc = fx_entry_finish(f, layout);
	wl_oci_layout_free(layout);
	return rc;
}

/* The call fails with `code`; the message starts with the weight, names
 * the layer and contains `part`; `failed` holds it, `ready` and
 * `downloading` are gone. */
#define CHECK_REJECTED(call, code, part)                                                            \
	do {                                                                                        \
		CHECK_ERR(call, code, part);                                                        \
		const char *m_ = wl_error_last()->message;                                          \
		CHECK(strncmp(m_, "weight \"w\": layer sha256:", 25) == 0);                         \
		CHECK(!exists("dest/.cog/ready"));                                                  \
		CHECK(!exists("dest/.cog/downloading"));                                            \
		char *failed_ = slurp("dest/.cog/failed", NULL);                                    \
		CHECK(failed_ != NULL);                                                             \
		bool same_ = strncmp(failed_, m_, strlen(m_)) == 0 && failed_[strlen(m_)] == '\n'; \
		free(failed_);                                                                      \
		CHECK(same_);                                                                       \
	} while (0)

/* Regular files below scratch/rel, .cog/ at its top excluded. */
static size_t count_files_in(const char *rel)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s", at(rel));
	size_t n = 0;
	char *stack[256];
	size_t depth = 0;
	stack[depth++] = strdup(path);
	while (depth > 0) {
		char *dir = stack[--depth];
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (strcmp(dir, path) == 0 && strcmp(de->d_name, ".cog") == 0)
				continue;
			char child[PATH_MAX + 64];
			snprintf(child, sizeof child, "%s/%s", dir, de->d_name);
			struct stat st;
			if (lstat(child, &st) != 0)
				continue;
			if (S_ISDIR(st.st_mode) && depth < 256)
				stack[depth++] = strdup(child);
			else
				n++;
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
	return n;
}

static size_t count_entries_in(const char *rel)
{
	DIR *d = opendir(at(rel));
	size_t n = 0;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	if (d != NULL)
		closedir(d);
	return n;
}

/* ---- a real import, extracted ---- */

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 7);
	}
}

#define LONG_NAME                                                                                  \
	"deep/a-rather-long-directory-name-that-goes-on-and-on/and-a-file-name-that-makes-the-path-" \
	"longer-than-one-hundred-bytes.bin"

/* Imports scratch/proj/src as weight "w" with a layout in scratch/layout,
 * and loads the lockfile entry into *lock. */
static int import_project(wl_lock **lock)
{
	static const char yaml[] = "weights:\n  - name: w\n    target: /src/weights/w\n    source: {uri: ./src}\n";
	if (!put_text("proj/cog.yaml", yaml))
		return -1;
	wl_config *config = NULL;
	int rc = wl_config_load(&config, at("proj/cog.yaml"));
	if (rc != 0)
		return rc;
	char project[PATH_MAX], lockfile[PATH_MAX], layout[PATH_MAX];
	snprintf(project, sizeof project, "%s", at("proj"));
	snprintf(lockfile, sizeof lockfile, "%s", at("proj/weights.lock"));
	snprintf(layout, sizeof layout, "%s", at("layout"));
	wl_import_options o;
	memset(&o, 0, sizeof o);
	o.project_dir = project;
	o.lockfile = lockfile;
	o.oci_layout = layout;
	o.threads = 2;
	o.lock_timeout = 10;
	o.pack.bundle_file_max = 4096; /* small files bundled, the rest standalone */
	wl_import_report *report = NULL;
	rc = wl_import(&report, config, &o);
	wl_import_report_free(report);
	wl_config_free(config);
	if (rc != 0)
		return rc;
	return wl_lock_load(lock, lockfile);
}

static const char *const source_files[] = {"big.bin", "mid.bin", "sub/dir/a.txt", "sub/b.txt", "top.txt",
                                           "d\xc3\xa9/\xc3\xbc.txt", "empty.txt", LONG_NAME};
static const size_t source_sizes[] = {300000, 9000, 100, 2000, 7, 33, 0, 5000};
#define SOURCE_COUNT (sizeof source_sizes / sizeof *source_sizes)

static bool make_source(void)
{
	for (size_t i = 0; i < SOURCE_COUNT; i++) {
		char *rel = cat("proj/src/", source_files[i]);
		unsigned char *data = malloc(source_sizes[i] + 1);
		fill(data, source_sizes[i], (uint32_t)i + 7);
		bool ok = put_bytes(rel, data, source_sizes[i]);
		free(data);
		free(rel);
		if (!ok)
			return false;
	}
	return true;
}

/* dest holds exactly the source files, byte for byte. */
static bool dest_matches_source(const char *dest)
{
	if (count_files_in(dest) != SOURCE_COUNT)
		return false;
	for (size_t i = 0; i < SOURCE_COUNT; i++) {
		char *a = cat("proj/src/", source_files[i]);
		char *d = cat(dest, "/");
		char *b = cat(d, source_files[i]);
		size_t na = 0, nb = 0;
		char *x = slurp(a, &na), *y = slurp(b, &nb);
		bool same = x && y && na == nb && memcmp(x, y, na) == 0;
		struct stat st;
		same = same && lstat(at(b), &st) == 0 && (st.st_mode & 07777) == 0644;
		free(x);
		free(y);
		free(a);
		free(b);
		free(d);
		if (!same)
			return false;
	}
	return true;
}

static int progress_calls;
static void count_progress(void *ctx, const wl_progress *p)
{
	(void)ctx;
	(void)p;
	progress_calls++;
}

TEST(extracts_an_imported_entry_into_a_fresh_directory)
{
	scratch_new();
	CHECK(make_source());
	wl_lock *lock = NULL;
	CHECK_OK(import_project(&lock));
	wl_entry *e = wl_lock_find(lock, wl_str("w"));
	CHECK(e != NULL);
	CHECK(e->layer_count >= 3); /* standalone raw layers and a gzip bundle */
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.threads = 2;
	o.progress = count_progress;
	progress_calls = 0;
	int rc = wl_extract(e, at("layout"), at("out/nested/dest"), &o);
	wl_lock_free(lock);
	CHECK_OK(rc);
	CHECK(dest_matches_source("out/nested/dest"));
	CHECK(exists("out/nested/dest/.cog/ready"));
	CHECK(!exists("out/nested/dest/.cog/downloading"));
	CHECK(!exists("out/nested/dest/.cog/failed"));
	CHECK(progress_calls > 0);
	/* Only ready, the owner file and the lock in .cog/, no temporary file
	 * anywhere. */
	CHECK_INT(count_entries_in("out/nested/dest/.cog"), 3);
	CHECK(exists("out/nested/dest/.cog/extract.lock"));
	char *owner = slurp("out/nested/dest/.cog/weightslock", NULL);
	CHECK(owner != NULL && strncmp(owner, "{\"name\":\"", 9) == 0 && strstr(owner, "\",\"digest\":\"sha256:") != NULL);
	free(owner);
}

TEST(extracts_with_one_thread_and_again_into_a_ready_directory)
{
	scratch_new();
	CHECK(make_source());
	wl_lock *lock = NULL;
	CHECK_OK(import_project(&lock));
	wl_entry *e = wl_lock_find(lock, wl_str("w"));
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.threads = 1;
	int rc = wl_extract(e, at("layout"), at("dest"), &o);
	ino_t before = inode_of("dest/big.bin");
	int rc2 = rc == 0 ? wl_extract(e, at("layout"), at("dest"), NULL) : rc;
	wl_lock_free(lock);
	CHECK_OK(rc);
	CHECK_OK(rc2);
	CHECK(dest_matches_source("dest"));
	CHECK(inode_of("dest/big.bin") == before);
	CHECK(exists("dest/.cog/ready"));
}

/* ---- layer formats ---- */

TEST(extracts_tar_gzip_and_zstd_layers)
{
	scratch_new();
	fx_entry f;
	fx_entry_init(&f, "w");
	wl_oci_layout *layout = NULL;
	CHECK_OK(wl_oci_layout_open(&layout, at("layout")));
	const char *media[] = {WL_MEDIA_TYPE_LAYER_TAR, WL_MEDIA_TYPE_LAYER_TAR_GZIP, WL_MEDIA_TYPE_LAYER_TAR_ZSTD};
	const char *names[] = {"raw/one.txt", "gz/two.txt", "zst/three.txt"};
	for (size_t i = 0; i < 3; i++) {
		wl_buf tar, blob;
		wl_buf_init(&tar);
		char dir[16];
		snprintf(dir, sizeof dir, "%.*s/", (int)(strchr(names[i], '/') - names[i]), names[i]);
		tx_header(&tar, dir, '5', 0);
		tx_file(&tar, names[i], names[i]);
		tx_end(&tar);
		encode(&blob, &tar, media[i]);
		size_t l = fx_layer(&f, layout, media[i], blob.data, blob.len);
		fx_file_text(&f, l, names[i], names[i]);
		wl_buf_release(&tar);
		wl_buf_release(&blob);
	}
	int rc = fx_entry_finish(&f, layout);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK(file_is("dest/raw/one.txt", "raw/one.txt"));
	CHECK(file_is("dest/gz/two.txt", "gz/two.txt"));
	CHECK(file_is("dest/zst/three.txt", "zst/three.txt"));
	CHECK(exists("dest/.cog/ready"));
}

TEST(data_after_the_end_of_archive_is_ignored)
{
	scratch_new();
	const char *media[] = {WL_MEDIA_TYPE_LAYER_TAR, WL_MEDIA_TYPE_LAYER_TAR_GZIP};
	for (size_t i = 0; i < 2; i++) {
		wl_buf tar;
		wl_buf_init(&tar);
		tx_file(&tar, "x", "hello");
		tx_end(&tar);
		/* Not a header: a reader that went on would fail. */
		wl_buf_puts(&tar, "garbage after the end of the archive");
		fx_entry f;
		CHECK_OK(one_layer(&f, &tar, media[i], "x", "hello", NULL));
		wl_buf_release(&tar);
		char dest[32];
		snprintf(dest, sizeof dest, "dest%zu", i);
		int rc = extract_into(&f, dest, false);
		fx_entry_release(&f);
		CHECK_OK(rc);
		snprintf(dest, sizeof dest, "dest%zu/x", i);
		CHECK(file_is(dest, "hello"));
	}
}

TEST(accepts_a_pax_path_for_a_long_name)
{
	scratch_new();
	char name[200];
	memset(name, 'n', 150);
	memcpy(name, "dir/", 4);
	name[150] = 0;
	wl_buf tar, rec;
	wl_buf_init(&tar);
	wl_buf_init(&rec);
	tx_record(&rec, "mtime", "0");
	tx_record(&rec, "path", name);
	tx_pax_raw(&tar, 'x', rec.data, rec.len);
	tx_file(&tar, name, "long");
	tx_end(&tar);
	fx_entry f;
	CHECK_OK(one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, name, "long", NULL));
	wl_buf_release(&tar);
	wl_buf_release(&rec);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	char *rel = cat("dest/", name);
	bool ok = file_is(rel, "long");
	free(rel);
	CHECK(ok);
}

/* ---- the target directory ---- */

/* `trailer` bytes of zeros follow the end-of-archive blocks. */
static int simple_entry_with(fx_entry *f, size_t trailer)
{
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "a/one.txt", "one");
	tx_file(&tar, "a/two.txt", "two");
	tx_file(&tar, "three.txt", "three");
	tx_end(&tar);
	for (size_t i = 0; i < trailer; i++)
		wl_buf_putc(&tar, 0);
	int rc = one_layer(f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "a/one.txt", "one", "a/two.txt", "two", "three.txt",
	                   "three", NULL);
	wl_buf_release(&tar);
	return rc;
}

static int simple_entry(fx_entry *f)
{
	return simple_entry_with(f, 0);
}

TEST(resume_keeps_correct_files_and_replaces_wrong_ones)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	/* An interrupted run: downloading, one good file, one wrong, one of
	 * the right size but wrong bytes. */
	CHECK(put_text("dest/.cog/downloading", ""));
	CHECK(put_text("dest/.cog/weightslock", OWNER_LINE));
	CHECK(put_text("dest/a/one.txt", "one"));
	CHECK(put_text("dest/a/two.txt", "TWO"));
	CHECK(put_text("dest/three.txt", "short"));
	ino_t good = inode_of("dest/a/one.txt"), wrong = inode_of("dest/a/two.txt");
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK(inode_of("dest/a/one.txt") == good);
	CHECK(inode_of("dest/a/two.txt") != wrong);
	CHECK(file_is("dest/a/two.txt", "two"));
	CHECK(file_is("dest/three.txt", "three"));
	CHECK(exists("dest/.cog/ready"));
	CHECK(!exists("dest/.cog/downloading"));
}

TEST(an_owned_target_is_swept_of_what_the_entry_does_not_record)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_text("dest/.cog/failed", "old failure"));
	CHECK(put_text("dest/.cog/weightslock", OWNER_LINE));
	CHECK(put_text("dest/.cog/other", "kept: .cog/ is not swept"));
	CHECK(put_text("dest/extra.txt", "x"));
	CHECK(put_text("dest/a/extra.txt", "x"));
	CHECK(put_text("dest/junk/deep/file", "x"));
	CHECK(put_dir("dest/empty"));
	CHECK(put_symlink("dest/junk/link", "/etc"));
	CHECK(put_dir("dest/three.txt"));           /* a directory where a file goes */
	CHECK(put_text("dest/three.txt/inside", "x"));
	CHECK(put_fifo("dest/fifo"));
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK_INT(count_files_in("dest"), 3);
	CHECK_INT(count_entries_in("dest"), 3); /* .cog, a, three.txt */
	CHECK_INT(count_entries_in("dest/a"), 2);
	CHECK(file_is("dest/three.txt", "three"));
	CHECK(file_is("dest/.cog/other", "kept: .cog/ is not swept"));
	CHECK(!exists("dest/.cog/failed"));
	CHECK(exists("dest/.cog/ready"));
}

TEST(a_link_where_a_directory_goes_is_removed_in_an_owned_target)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_dir("outside"));
	CHECK(put_text("dest/.cog/weightslock", OWNER_LINE));
	CHECK(put_symlink("dest/a", "../outside"));
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK_INT(count_entries_in("outside"), 0);
	struct stat st;
	CHECK(lstat(at("dest/a"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(file_is("dest/a/one.txt", "one"));
}

TEST(a_link_where_a_directory_goes_is_an_error_in_a_forced_target)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_dir("outside"));
	CHECK(put_symlink("dest/a", "../outside"));
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.force = true;
	int rc = wl_extract(&f.e, at("layout"), at("dest"), &o);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EINVALID, "\"a\" is not a directory");
	CHECK_INT(count_entries_in("outside"), 0);
	char target[64] = {0};
	CHECK(readlink(at("dest/a"), target, sizeof target - 1) > 0);
	CHECK_STR(target, "../outside");
}

TEST(a_non_empty_target_without_cog_is_refused_untouched)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_text("dest/mine.txt", "user data"));
	CHECK(put_text("dest/a/one.txt", "not the entry's"));
	struct stat before;
	CHECK(lstat(at("dest/a/one.txt"), &before) == 0);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_EINVALID, "was not made by extract (no .cog/weightslock)");
	CHECK(strncmp(wl_error_last()->message, "weight \"w\": ", 12) == 0);
	CHECK(!exists("dest/.cog"));
	CHECK(file_is("dest/mine.txt", "user data"));
	CHECK(file_is("dest/a/one.txt", "not the entry's"));
	struct stat after;
	CHECK(lstat(at("dest/a/one.txt"), &after) == 0);
	CHECK(after.st_ino == before.st_ino && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	CHECK_INT(count_entries_in("dest"), 2);
}

TEST(force_extracts_into_a_foreign_target_and_removes_nothing)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_text("dest/mine.txt", "user data"));
	CHECK(put_text("dest/a/one.txt", "not the entry's"));
	CHECK(put_text("dest/a/mine.txt", "user data"));
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.force = true;
	int rc = wl_extract(&f.e, at("layout"), at("dest"), &o);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK(file_is("dest/mine.txt", "user data"));
	CHECK(file_is("dest/a/mine.txt", "user data"));
	CHECK(file_is("dest/a/one.txt", "one"));
	CHECK(exists("dest/.cog/ready"));
}

TEST(a_cog_that_is_not_a_directory_is_refused)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_dir("elsewhere"));
	CHECK(put_symlink("dest/.cog", "../elsewhere"));
	int rc = extract_into(&f, "dest", true);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_EINVALID, ".cog is not a directory");
	CHECK_INT(count_entries_in("elsewhere"), 0);
}

TEST(a_failure_removes_an_old_ready_marker)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry_with(&f, 512));
	CHECK_OK(extract_into(&f, "dest", false));
	CHECK(exists("dest/.cog/ready"));
	/* The blob changes under the same name: same size, other bytes. */
	char *blob = cat("layout/blobs/sha256/", f.layer_digest[0] + 7);
	size_t n = 0;
	char *bytes = slurp(blob, &n);
	CHECK(bytes != NULL);
	bytes[n - 1] ^= 1; /* after the end-of-archive blocks */
	bool ok = put_bytes(blob, bytes, n);
	free(bytes);
	free(blob);
	CHECK(ok);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EMISMATCH, "blob hashes to");
}

/* ---- the layout ---- */

TEST(a_manifest_that_differs_from_the_projection_is_refused)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	/* Same digest, but the entry now says something the manifest does not:
	 * the entry fails check, and nothing is written. */
	f.e.target = wl_str("/elsewhere");
	int rc = extract_into(&f, "dest", false);
	CHECK_ERR(rc, WL_EINVALID, "the entry fails check: digest is sha256:");
	CHECK(!exists("dest"));
	f.e.target = wl_str("/src/weights/w");
	/* Tampered manifest bytes. */
	char *path = cat("layout/blobs/sha256/", f.digest + 7);
	bool ok = put_text(path, "{}");
	rc = extract_into(&f, "dest", false);
	int removed = unlink(at(path));
	free(path);
	CHECK(ok);
	CHECK_ERR(rc, WL_EMISMATCH, "manifest sha256:");
	/* A missing manifest. */
	CHECK(removed == 0);
	rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_ENOTFOUND, "manifest");
	CHECK(!exists("dest/.cog/ready"));
}

TEST(a_tampered_config_blob_is_refused)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	char *config = NULL;
	size_t len = 0;
	CHECK_OK(wl_entry_config_blob(&config, &len, &f.e));
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, config, len);
	free(config);
	char *path = cat("layout/blobs/sha256/", digest + 7);
	bool ok = put_text(path, "{\"name\":\"w\"}");
	free(path);
	CHECK(ok);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_EMISMATCH, "config blob");
	CHECK(!exists("dest/.cog/ready"));
}

TEST(the_layout_marker_may_be_spaced_but_must_be_there)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	CHECK(put_text("layout/oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}\n"));
	CHECK_OK(extract_into(&f, "dest", false));
	CHECK(put_text("layout/oci-layout", "{\"imageLayoutVersion\": \"2.0.0\"}"));
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_EINVALID, "not an OCI image layout");
}

TEST(a_truncated_blob_is_refused)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	char *path = cat(at("layout/blobs/sha256/"), f.layer_digest[0] + 7);
	int cut = truncate(path, 1024);
	free(path);
	CHECK(cut == 0);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EMISMATCH, "blob is 1024 bytes, recorded");
}

TEST(an_unknown_media_type_is_refused)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	fx_entry f;
	CHECK_OK(one_layer(&f, &tar, "application/vnd.oci.image.layer.v1.tar+lz4", "x", "hello", NULL));
	wl_buf_release(&tar);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EINVALID, "unsupported media type");
}

/* ---- hostile layers ---- */

/* A one-layer entry recording x = "hello" whose tar is `tar`, extracted
 * into scratch/dest (stored as `media`). */
/* The entry records "x" and a long path, so the reader's length limit
 * (the longest recorded path) leaves room for the names the tests try. */
static int hostile(const wl_buf *tar, const char *media)
{
	char longest[301];
	memset(longest, 'n', 300);
	memcpy(longest, "deep/", 5);
	longest[300] = 0;
	fx_entry f;
	int rc = one_layer(&f, tar, media, "x", "hello", longest, "far", NULL);
	if (rc == 0)
		rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	return rc;
}

TEST(rejects_an_absolute_path)
{
	scratch_new();
	char name[PATH_MAX];
	snprintf(name, sizeof name, "%s", at("escape"));
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, name, "hello");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "absolute path");
	CHECK(strstr(wl_error_last()->message, name) != NULL);
	CHECK(!exists("escape"));
}

TEST(rejects_dot_dot_components)
{
	const char *names[] = {"../escape", "a/../../escape", "./x", "a//x"};
	const char *why[] = {"entry \"../escape\": \"..\" component in path", "\"..\" component",
	                     "\".\" component", "empty path component"};
	for (size_t i = 0; i < 4; i++) {
		scratch_new();
		wl_buf tar;
		wl_buf_init(&tar);
		tx_file(&tar, names[i], "hello");
		tx_end(&tar);
		int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
		wl_buf_release(&tar);
		CHECK_REJECTED(rc, WL_EINVALID, why[i]);
		CHECK(!exists("escape"));
	}
}

TEST(rejects_a_ustar_prefix_that_climbs_out)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_header_ex(&tar, "escape", "..", '0', 5, NULL);
	tx_content(&tar, "hello", 5);
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"../escape\": \"..\" component");
	CHECK(!exists("escape"));
}

TEST(rejects_links_devices_fifos_and_gnu_or_global_headers)
{
	const char types[] = {'1', '2', '3', '4', '6', '7', 'g', 'L', 'K', 'S', 'V', 'Z'};
	const char *why[] = {"hard link", "symbolic link", "character device", "block device", "FIFO",
	                     "contiguous file", "global PAX header", "GNU long name", "GNU long link name",
	                     "GNU sparse file", "volume label", "unsupported entry type 'Z'"};
	for (size_t i = 0; i < sizeof types; i++) {
		scratch_new();
		wl_buf tar;
		wl_buf_init(&tar);
		if (types[i] == 'g' || types[i] == 'L' || types[i] == 'K') {
			tx_header(&tar, "x", types[i], 12);
			tx_content(&tar, "12 path=yy\n", 12);
		} else {
			tx_header_ex(&tar, "x", NULL, types[i], 0, "../../etc/passwd");
		}
		tx_file(&tar, "x", "hello");
		tx_end(&tar);
		int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
		wl_buf_release(&tar);
		CHECK_REJECTED(rc, WL_EINVALID, why[i]);
		CHECK(strstr(wl_error_last()->message, "entry \"x\"") != NULL);
		CHECK(!exists("dest/x"));
	}
}

TEST(rejects_whiteouts)
{
	const char *names[] = {".wh.x", "a/.wh..wh..opq", "a/.wh.b/x"};
	for (size_t i = 0; i < 3; i++) {
		scratch_new();
		wl_buf tar;
		wl_buf_init(&tar);
		tx_file(&tar, "x", "hello");
		if (i == 1)
			tx_header(&tar, names[i], '0', 0);
		else
			tx_file(&tar, names[i], "hello");
		tx_end(&tar);
		int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
		wl_buf_release(&tar);
		CHECK_REJECTED(rc, WL_EINVALID, "whiteout file");
	}
}

TEST(rejects_a_file_not_listed_for_the_layer)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_file(&tar, "y", "stowaway");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"y\": file not listed in the entry");
	CHECK(!exists("dest/y"));
}

TEST(rejects_a_file_listed_for_another_layer)
{
	scratch_new();
	fx_entry f;
	fx_entry_init(&f, "w");
	wl_oci_layout *layout = NULL;
	CHECK_OK(wl_oci_layout_open(&layout, at("layout")));
	wl_buf a, b;
	wl_buf_init(&a);
	wl_buf_init(&b);
	tx_file(&a, "x", "hello");
	tx_file(&a, "y", "why");
	tx_end(&a);
	tx_file(&b, "y", "why");
	tx_end(&b);
	size_t la = fx_layer(&f, layout, WL_MEDIA_TYPE_LAYER_TAR, a.data, a.len);
	size_t lb = fx_layer(&f, layout, WL_MEDIA_TYPE_LAYER_TAR, b.data, b.len);
	fx_file_text(&f, la, "x", "hello");
	fx_file_text(&f, lb, "y", "why");
	int rc = fx_entry_finish(&f, layout);
	wl_oci_layout_free(layout);
	wl_buf_release(&a);
	wl_buf_release(&b);
	CHECK_OK(rc);
	wl_extract_options o;
	memset(&o, 0, sizeof o);
	o.threads = 1;
	rc = wl_extract(&f.e, at("layout"), at("dest"), &o);
	char want[160];
	snprintf(want, sizeof want, "entry \"y\": file listed for layer %s, not this one", f.layer_digest[lb]);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EINVALID, want);
}

TEST(rejects_a_file_listed_twice)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"x\": file appears twice in the layer");
}

TEST(rejects_size_and_digest_mismatches)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello!");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EMISMATCH, "entry \"x\": size 6 in the layer, recorded 5");
	CHECK(!exists("dest/x"));

	scratch_new();
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hellO");
	tx_end(&tar);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EMISMATCH, "entry \"x\": content hashes to sha256:");
	CHECK(!exists("dest/x"));
	CHECK_INT(count_entries_in("dest"), 1); /* no temporary file left */
}

TEST(rejects_a_recorded_file_missing_from_its_layer)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	fx_entry f;
	CHECK_OK(one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "x", "hello", "y", "absent", NULL));
	wl_buf_release(&tar);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_REJECTED(rc, WL_EMISMATCH, "file \"y\" recorded for this layer is not in it");
}

TEST(rejects_pax_records_that_break_the_rules)
{
	struct {
		const char *key, *value, *why;
		int code;
	} cases[] = {
		{"path", "../escape", "entry \"../escape\": \"..\" component in path", WL_EINVALID},
		{"path", "/abs/escape", "absolute path", WL_EINVALID},
		{"path", "y", "entry \"y\": file not listed", WL_EINVALID},
		{"path", "a\\b", "backslash", WL_EINVALID},
		{"path", ".wh.x", "whiteout", WL_EINVALID},
		{"size", "6", "size 6 in the layer, recorded 5", WL_EMISMATCH},
		{"size", "5x", "PAX record size is not a decimal size", WL_EINVALID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		scratch_new();
		wl_buf tar, rec;
		wl_buf_init(&tar);
		wl_buf_init(&rec);
		tx_record(&rec, cases[i].key, cases[i].value);
		tx_pax_raw(&tar, 'x', rec.data, rec.len);
		tx_file(&tar, "x", "hello");
		tx_end(&tar);
		int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
		wl_buf_release(&tar);
		wl_buf_release(&rec);
		CHECK_REJECTED(rc, cases[i].code, cases[i].why);
		CHECK(!exists("escape"));
	}
}

/* §15: a name longer than every recorded path (plus a directory's '/')
 * is refused from its length, before any work on it. */
TEST(a_name_longer_than_any_recorded_path_is_refused_at_once)
{
	/* PAX: 512 KiB of "a/" components in front of a directory entry. */
	scratch_new();
	size_t n = (size_t)512 << 10;
	char *name = malloc(n + 1);
	for (size_t i = 0; i < n; i += 2)
		memcpy(name + i, "a/", 2);
	name[n] = 0;
	wl_buf tar, rec;
	wl_buf_init(&tar);
	wl_buf_init(&rec);
	tx_record(&rec, "path", name);
	tx_pax_raw(&tar, 'x', rec.data, rec.len);
	tx_header(&tar, "d/", '5', 0);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	CHECK_REJECTED(rc, WL_EINVALID, "PAX path of 524288 bytes is longer than any path the entry records");
	wl_buf_release(&tar);
	wl_buf_release(&rec);
	free(name);
	/* ustar: prefix + name, against an entry whose only path is "x". */
	scratch_new();
	wl_buf_init(&tar);
	tx_header(&tar, "abc/", '5', 0);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	fx_entry f;
	rc = one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "x", "hello", NULL);
	if (rc == 0)
		rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "header at offset 0: name of 4 bytes is longer than any path the entry records");
	/* The limit is the longest path plus one: "x/" passes it and is
	 * refused for what it is. */
	scratch_new();
	wl_buf_init(&tar);
	tx_header(&tar, "x/", '5', 0);
	tx_end(&tar);
	rc = one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "x", "hello", NULL);
	if (rc == 0)
		rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "directory where the entry records a file");
}

TEST(rejects_malformed_or_oversized_pax_headers)
{
	struct {
		const char *records, *why;
	} cases[] = {
		{"7 path=x", "malformed PAX record"},
		{"06 path=x\n", "malformed PAX record"},
		{"8 path=x\n", "malformed PAX record"},
		{"9 path=x\n1", "malformed PAX record"},
		{"6 =xy\n", "malformed PAX record"},
		{"10 path=x\n10 path=x\n", "PAX record path repeated"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		scratch_new();
		wl_buf tar;
		wl_buf_init(&tar);
		tx_pax_raw(&tar, 'x', cases[i].records, strlen(cases[i].records));
		tx_file(&tar, "x", "hello");
		tx_end(&tar);
		int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
		wl_buf_release(&tar);
		CHECK_REJECTED(rc, WL_EINVALID, cases[i].why);
	}
	/* A PAX header of more than 1 MiB is refused from its header. */
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_header(&tar, "PaxHeaders.0/x", 'x', (1 << 20) + 1);
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "PAX header of 1048577 bytes");
	/* Two in a row, and one before the end. */
	scratch_new();
	wl_buf_init(&tar);
	tx_pax_raw(&tar, 'x', "11 atime=0\n", 11);
	tx_pax_raw(&tar, 'x', "11 atime=0\n", 11);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "PAX header follows another PAX header");
	scratch_new();
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_pax_raw(&tar, 'x', "11 atime=0\n", 11);
	tx_end(&tar);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "PAX header not followed by an entry");
}

TEST(rejects_a_directory_where_a_file_is_recorded)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_header(&tar, "x/", '5', 0);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"x\": directory where the entry records a file");
	scratch_new();
	wl_buf_init(&tar);
	tx_header(&tar, "x/sub/", '5', 0);
	tx_end(&tar);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "directory where the entry records a file");
	scratch_new();
	wl_buf_init(&tar);
	tx_header(&tar, "../up/", '5', 0);
	tx_end(&tar);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"../up\": \"..\" component");
	CHECK(!exists("up"));
}

TEST(rejects_truncated_and_corrupt_archives)
{
	/* No end-of-archive blocks. */
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	int rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	CHECK_REJECTED(rc, WL_EINVALID, "archive truncated: no end-of-archive blocks");
	/* Cut inside the content. */
	scratch_new();
	tar.len = 512 + 3;
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	CHECK_REJECTED(rc, WL_EINVALID, "entry \"x\": archive truncated inside the file's content");
	CHECK(!exists("dest/x"));
	CHECK_INT(count_entries_in("dest"), 1);
	/* The same, gzip-compressed. */
	scratch_new();
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR_GZIP);
	CHECK_REJECTED(rc, WL_EINVALID, "archive truncated inside the file's content");
	/* A header whose checksum does not add up. */
	scratch_new();
	tar.len = 0;
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	tar.data[0] = 'y';
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	CHECK_REJECTED(rc, WL_EINVALID, "header at offset 0: header checksum mismatch");
	/* Not ustar. */
	scratch_new();
	tar.data[0] = 'x';
	memcpy(tar.data + 257, "ustar  \0", 8);
	tx_checksum((unsigned char *)tar.data);
	rc = hostile(&tar, WL_MEDIA_TYPE_LAYER_TAR);
	wl_buf_release(&tar);
	CHECK_REJECTED(rc, WL_EINVALID, "not a POSIX ustar header");
}

TEST(rejects_corrupt_gzip_and_zstd_streams)
{
	const char *media[] = {WL_MEDIA_TYPE_LAYER_TAR_GZIP, WL_MEDIA_TYPE_LAYER_TAR_ZSTD};
	const char *why[] = {"corrupt gzip stream", "corrupt zstd stream"};
	for (size_t i = 0; i < 2; i++) {
		scratch_new();
		wl_buf tar, blob;
		wl_buf_init(&tar);
		tx_file(&tar, "x", "hello");
		tx_end(&tar);
		encode(&blob, &tar, media[i]);
		/* Stored as is: the digest matches, the stream does not decode. */
		memset(blob.data + 10, 0xff, 8);
		fx_entry f;
		fx_entry_init(&f, "w");
		wl_oci_layout *layout = NULL;
		CHECK_OK(wl_oci_layout_open(&layout, at("layout")));
		size_t l = fx_layer(&f, layout, media[i], blob.data, blob.len);
		fx_file_text(&f, l, "x", "hello");
		int rc = fx_entry_finish(&f, layout);
		wl_oci_layout_free(layout);
		wl_buf_release(&tar);
		wl_buf_release(&blob);
		CHECK_OK(rc);
		rc = extract_into(&f, "dest", false);
		fx_entry_release(&f);
		CHECK_REJECTED(rc, WL_EINVALID, why[i]);
	}
}

/* Directory headers repeated forever compress to almost nothing and are
 * each acceptable on their own: only the bound stops them. */
static void bomb_tar(wl_buf *tar, size_t copies)
{
	wl_buf_init(tar);
	tx_file(tar, "x", "hello");
	wl_buf one;
	wl_buf_init(&one);
	tx_header(&one, "d/", '5', 0);
	for (size_t i = 0; i < copies; i++)
		wl_buf_put(tar, one.data, one.len);
	wl_buf_release(&one);
	tx_end(tar);
}

TEST(rejects_decompression_beyond_the_declared_size)
{
	const char *media[] = {WL_MEDIA_TYPE_LAYER_TAR_GZIP, WL_MEDIA_TYPE_LAYER_TAR_ZSTD};
	for (size_t i = 0; i < 2; i++) {
		scratch_new();
		wl_buf tar;
		bomb_tar(&tar, (size_t)128 << 10); /* 64 MiB of headers */
		fx_entry f;
		int rc = one_layer(&f, &tar, media[i], "x", "hello", NULL);
		if (rc == 0)
			rc = extract_into(&f, "dest", false);
		fx_entry_release(&f);
		wl_buf_release(&tar);
		CHECK_REJECTED(rc, WL_EINVALID, "decompresses beyond");
		/* The bound for x alone is a few KiB: rejected at once, not
		 * after inflating 64 MiB. */
		CHECK(strstr(wl_error_last()->message, "beyond 3072 bytes") != NULL);
	}
}

TEST(nothing_is_written_through_a_link_in_an_owned_target)
{
	/* An owned target: the link is swept, the file lands in a real
	 * directory; the link's target never sees a byte. */
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "sub/x", "hello");
	tx_end(&tar);
	fx_entry f;
	CHECK_OK(one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "sub/x", "hello", NULL));
	wl_buf_release(&tar);
	CHECK(put_dir("outside"));
	CHECK(put_text("dest/.cog/weightslock", OWNER_LINE));
	CHECK(put_symlink("dest/sub", "../outside"));
	CHECK(put_symlink("dest/sub2", "../outside"));
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK_INT(count_entries_in("outside"), 0);
	CHECK(file_is("dest/sub/x", "hello"));
	CHECK(!exists("dest/sub2"));
}

/* ---- SPEC.md §14: ownership, consistency, kept files ---- */

TEST(an_inconsistent_entry_is_refused_before_anything_is_written)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	/* One byte of a recorded file digest changes: setDigest no longer
	 * matches; the layout and the manifest are untouched. */
	char *d = (char *)f.e.files[0].digest.ptr;
	d[WL_DIGEST_LEN - 1] = d[WL_DIGEST_LEN - 1] == '0' ? '1' : '0';
	int rc = extract_into(&f, "dest", false);
	CHECK_ERR(rc, WL_EINVALID, "the entry fails check: setDigest is sha256:");
	CHECK(!exists("dest"));
	/* Nor into an existing, owned target: its content stays as it was. */
	CHECK(put_text("dest/.cog/weightslock", OWNER_LINE));
	CHECK(put_text("dest/.cog/ready", ""));
	CHECK(put_text("dest/stray.txt", "x"));
	rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_ERR(rc, WL_EINVALID, "the entry fails check");
	CHECK(file_is("dest/stray.txt", "x"));
	CHECK(exists("dest/.cog/ready"));
	CHECK(!exists("dest/.cog/failed"));
	CHECK(!exists("dest/.cog/downloading"));
	CHECK_INT(count_entries_in("dest/.cog"), 2);
}

TEST(reserved_names_are_refused_whatever_their_case)
{
	const char *paths[] = {".COG/ready", ".Cog/x", "sub/.wl-0123456789ABCDEF", ".wl-0123456789abcdef"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		scratch_new();
		wl_buf tar;
		wl_buf_init(&tar);
		tx_file(&tar, paths[i], "x");
		tx_end(&tar);
		fx_entry f;
		CHECK_OK(one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, paths[i], "x", NULL));
		wl_buf_release(&tar);
		int rc = extract_into(&f, "dest", false);
		fx_entry_release(&f);
		CHECK_ERR(rc, WL_EINVALID, "a name extract reserves");
		CHECK(!exists("dest"));
	}
	/* Near misses are ordinary names. */
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "sub/.cog/x", "x");
	tx_file(&tar, ".cogs", "y");
	tx_file(&tar, ".wl-0123", "z");
	tx_end(&tar);
	fx_entry f;
	CHECK_OK(one_layer(&f, &tar, WL_MEDIA_TYPE_LAYER_TAR, "sub/.cog/x", "x", ".cogs", "y", ".wl-0123", "z", NULL));
	wl_buf_release(&tar);
	int rc = extract_into(&f, "dest", false);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK(file_is("dest/sub/.cog/x", "x"));
	CHECK(file_is("dest/.cogs", "y"));
}

static mode_t mode_of(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

TEST(kept_files_get_modes_0644_and_0755_and_never_share_an_inode)
{
	scratch_new();
	fx_entry f;
	CHECK_OK(simple_entry(&f));
	mode_t old_umask = umask(077);
	CHECK_OK(extract_into(&f, "dest", false));
	CHECK_INT(mode_of("dest/a"), 0755); /* whatever the umask */
	CHECK_INT(mode_of("dest/a/one.txt"), 0644);
	/* The user loosens or tightens modes, and links a kept file to one
	 * outside the target. */
	CHECK(chmod(at("dest/a"), 0700) == 0);
	CHECK(chmod(at("dest/a/one.txt"), 0600) == 0);
	CHECK(chmod(at("dest/three.txt"), 0777) == 0);
	CHECK(put_text("outside.txt", "two"));
	CHECK(chmod(at("outside.txt"), 0600) == 0);
	CHECK(unlink(at("dest/a/two.txt")) == 0);
	CHECK(link(at("outside.txt"), at("dest/a/two.txt")) == 0);
	ino_t outside = inode_of("outside.txt"), one = inode_of("dest/a/one.txt");
	int rc = extract_into(&f, "dest", false);
	umask(old_umask);
	fx_entry_release(&f);
	CHECK_OK(rc);
	CHECK_INT(mode_of("dest/a"), 0755);
	CHECK_INT(mode_of("dest/a/one.txt"), 0644);
	CHECK_INT(mode_of("dest/three.txt"), 0644);
	CHECK(inode_of("dest/a/one.txt") == one); /* kept, not rewritten */
	CHECK(inode_of("dest/a/two.txt") != outside);
	CHECK(file_is("dest/a/two.txt", "two"));
	struct stat st;
	CHECK(stat(at("outside.txt"), &st) == 0 && st.st_nlink == 1 && (st.st_mode & 07777) == 0600);
	CHECK(file_is("outside.txt", "two"));
}

TEST(a_zstd_frame_asking_for_a_huge_window_is_refused)
{
	scratch_new();
	wl_buf tar;
	wl_buf_init(&tar);
	tx_file(&tar, "x", "hello");
	tx_end(&tar);
	/* A frame header of its own: no content size, window descriptor
	 * exponent 21 (2^31 bytes), then the tar as one raw last block. */
	wl_buf blob;
	wl_buf_init(&blob);
	const unsigned char head[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3};
	wl_buf_put(&blob, head, sizeof head);
	uint32_t bh = 1u | ((uint32_t)tar.len << 3);
	unsigned char b3[3] = {(unsigned char)bh, (unsigned char)(bh >> 8), (unsigned char)(bh >> 16)};
	wl_buf_put(&blob, b3, 3);
	wl_buf_put(&blob, tar.data, tar.len);
	/* The same frame with a 1 MiB window decodes. */
	fx_entry f;
	for (int window = 0; window < 2; window++) {
		scratch_new();
		blob.data[5] = (char)((window ? 21 : 10) << 3);
		fx_entry_init(&f, "w");
		wl_oci_layout *layout = NULL;
		CHECK_OK(wl_oci_layout_open(&layout, at("layout")));
		size_t l = fx_layer(&f, layout, WL_MEDIA_TYPE_LAYER_TAR_ZSTD, blob.data, blob.len);
		fx_file_text(&f, l, "x", "hello");
		int rc = fx_entry_finish(&f, layout);
		wl_oci_layout_free(layout);
		CHECK_OK(rc);
		rc = extract_into(&f, "dest", false);
		fx_entry_release(&f);
		if (window) {
			CHECK_REJECTED(rc, WL_EINVALID, "zstd frame needs a window larger than the 128 MiB");
		} else {
			CHECK_OK(rc);
			CHECK(file_is("dest/x", "hello"));
		}
	}
	wl_buf_release(&tar);
	wl_buf_release(&blob);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!scratch_init("extract")) {
		perror("mkdtemp");
		return 1;
	}
	RUN(extracts_an_imported_entry_into_a_fresh_directory);
	RUN(a_name_longer_than_any_recorded_path_is_refused_at_once);
	RUN(extracts_with_one_thread_and_again_into_a_ready_directory);
	RUN(extracts_tar_gzip_and_zstd_layers);
	RUN(data_after_the_end_of_archive_is_ignored);
	RUN(accepts_a_pax_path_for_a_long_name);
	RUN(resume_keeps_correct_files_and_replaces_wrong_ones);
	RUN(an_owned_target_is_swept_of_what_the_entry_does_not_record);
	RUN(a_link_where_a_directory_goes_is_removed_in_an_owned_target);
	RUN(a_link_where_a_directory_goes_is_an_error_in_a_forced_target);
	RUN(a_non_empty_target_without_cog_is_refused_untouched);
	RUN(force_extracts_into_a_foreign_target_and_removes_nothing);
	RUN(a_cog_that_is_not_a_directory_is_refused);
	RUN(a_failure_removes_an_old_ready_marker);
	RUN(a_manifest_that_differs_from_the_projection_is_refused);
	RUN(a_tampered_config_blob_is_refused);
	RUN(the_layout_marker_may_be_spaced_but_must_be_there);
	RUN(a_truncated_blob_is_refused);
	RUN(an_unknown_media_type_is_refused);
	RUN(rejects_an_absolute_path);
	RUN(rejects_dot_dot_components);
	RUN(rejects_a_ustar_prefix_that_climbs_out);
	RUN(rejects_links_devices_fifos_and_gnu_or_global_headers);
	RUN(rejects_whiteouts);
	RUN(rejects_a_file_not_listed_for_the_layer);
	RUN(rejects_a_file_listed_for_another_layer);
	RUN(rejects_a_file_listed_twice);
	RUN(rejects_size_and_digest_mismatches);
	RUN(rejects_a_recorded_file_missing_from_its_layer);
	RUN(rejects_pax_records_that_break_the_rules);
	RUN(rejects_malformed_or_oversized_pax_headers);
	RUN(rejects_a_directory_where_a_file_is_recorded);
	RUN(rejects_truncated_and_corrupt_archives);
	RUN(rejects_corrupt_gzip_and_zstd_streams);
	RUN(rejects_decompression_beyond_the_declared_size);
	RUN(nothing_is_written_through_a_link_in_an_owned_target);
	RUN(an_inconsistent_entry_is_refused_before_anything_is_written);
	RUN(reserved_names_are_refused_whatever_their_case);
	RUN(kept_files_get_modes_0644_and_0755_and_never_share_an_inode);
	RUN(a_zstd_frame_asking_for_a_huge_window_is_refused);
	scratch_remove(scratch_root);
	return harness_summary("extract");
}
