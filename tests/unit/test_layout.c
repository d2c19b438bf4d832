/*
 * test_layout.c - the OCI image layout (SPEC.md §6.6): the oci-layout
 * marker, blobs written under their digest and nowhere else, index.json
 * (Appendix A's bytes, tags replaced in place, foreign descriptors kept byte
 * for byte, malformed files refused untouched), idempotent re-runs and a
 * full disk.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "appendix_a.h"
#include "pack/pack_internal.h"

#define INDEX_PREFIX                                                                                   \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
#define MARKER "{\"imageLayoutVersion\":\"1.0.0\"}"

static char scratch[1024];
static int dir_counter;

/* A new empty directory under the scratch directory, for one test. */
static void fresh_dir(char *out, const char *what)
{
	if (snprintf(out, PATH_MAX, "%s/%s-%d", scratch, what, ++dir_counter) >= PATH_MAX)
		abort();
}

static void join(char *out, const char *dir, const char *rel)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
		abort();
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	size_t n = strlen(text);
	int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

/* The whole file as a NUL-terminated string (NULL when unreadable). */
static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The number of entries of a directory other than . and .. (-1: none). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* True when some entry of `dir` starts with `prefix`. */
static bool has_entry_starting(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	bool found = false;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			found = true;
	closedir(d);
	return found;
}

static void blob_file(char *out, const char *layout_dir, const char *digest)
{
	if (snprintf(out, PATH_MAX, "%s/blobs/sha256/%s", layout_dir, digest + 7) >= PATH_MAX)
		abort();
}

/* ---- a small entry whose layers are real bytes ---- */

typedef struct small_entry {
	wl_entry entry;
	wl_file files[3];
	wl_layer layers[2];
	char layer_bytes[2][64];
	char layer_digest[2][WL_DIGEST_LEN + 1];
	char file_digest[3][WL_DIGEST_LEN + 1];
	char set_digest[WL_DIGEST_LEN + 1];
	char digest[WL_DIGEST_LEN + 1];
	char name[32];
} small_entry;

/* Fills `x` with a consistent entry named `name`; `variant` changes the
 * layer bytes (and so every digest). */
static int small_init(small_entry *x, const char *name, int variant)
{
	memset(x, 0, sizeof *x);
	snprintf(x->name, sizeof x->name, "%s", name);
	for (int i = 0; i < 2; i++) {
		snprintf(x->layer_bytes[i], sizeof x->layer_bytes[i], "layer %d of %s, variant %d", i, name,
		         variant);
		wl_sha256_digest(x->layer_digest[i], x->layer_bytes[i], strlen(x->layer_bytes[i]));
	}
	static const char *const contents[3] = {"alpha\n", "beta beta\n", "gamma!\n"};
	for (int i = 0; i < 3; i++)
		wl_sha256_digest(x->file_digest[i], contents[i], strlen(contents[i]));
	x->files[0] = (wl_file){wl_str("a.txt"), 6, wl_str(x->file_digest[0]), wl_str(x->layer_digest[0])};
	x->files[1] = (wl_file){wl_str("b.txt"), 10, wl_str(x->file_digest[1]), wl_str(x->layer_digest[0])};
	x->files[2] = (wl_file){wl_str("c/d.bin"), 7, wl_str(x->file_digest[2]), wl_str(x->layer_digest[1])};
	x->layers[0] = (wl_layer){wl_str(x->layer_digest[0]), wl_str(WL_MEDIA_TYPE_LAYER_TAR),
	                          (int64_t)strlen(x->layer_bytes[0]), 16};
	x->layers[1] = (wl_layer){wl_str(x->layer_digest[1]), wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP),
	                          (int64_t)strlen(x->layer_bytes[1]), 7};
	wl_entry *e = &x->entry;
	e->name = wl_str(x->name);
	e->target = wl_str("/src/weights/small");
	e->size = 23;
	e->size_compressed = x->layers[0].size + x->layers[1].size;
	e->files = x->files;
	e->file_count = 3;
	e->files_present = true;
	e->layers = x->layers;
	e->layer_count = 2;
	e->layers_present = true;
	int rc = wl_entry_set_digest(x->set_digest, e);
	if (rc != 0)
		return rc;
	e->set_digest = wl_str(x->set_digest);
	char *manifest;
	size_t manifest_len;
	rc = wl_entry_manifest(&manifest, &manifest_len, e);
	if (rc != 0)
		return rc;
	wl_sha256_digest(x->digest, manifest, manifest_len);
	wl_free(manifest);
	e->digest = wl_str(x->digest);
	return 0;
}

/* The §6.5 descriptor plus the ref name, spelled out here from the SPEC's
 * template rather than taken from the library. */
static void expected_descriptor(char *out, size_t cap, const small_entry *x)
{
	char *manifest;
	size_t manifest_len;
	if (wl_entry_manifest(&manifest, &manifest_len, &x->entry) != 0) {
		snprintf(out, cap, "(no manifest)");
		return;
	}
	wl_free(manifest);
	snprintf(out, cap,
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":%zu,"
	         "\"digest\":\"%s\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\","
	         "\"run.cog.weight.name\":\"%s\",\"run.cog.weight.set-digest\":\"%s\","
	         "\"run.cog.weight.size.uncompressed\":\"%lld\"},\"platform\":{\"architecture\":"
	         "\"unknown\",\"os\":\"unknown\"},\"artifactType\":\"application/vnd.cog.weight.v1\"}",
	         manifest_len, x->digest, x->name, x->name, x->set_digest, (long long)x->entry.size);
}

/* Stores the entry's layers the way the packer does: streamed, in pieces. */
static int store_layers(wl_oci_layout *layout, const small_entry *x)
{
	for (int i = 0; i < 2; i++) {
		wl_oci_blob *blob;
		int rc = wl_oci_blob_begin(&blob, layout);
		if (rc != 0)
			return rc;
		size_t n = strlen(x->layer_bytes[i]), half = n / 2;
		rc = wl_oci_blob_write(blob, x->layer_bytes[i], half);
		if (rc == 0)
			rc = wl_oci_blob_write(blob, x->layer_bytes[i] + half, n - half);
		if (rc != 0) {
			wl_oci_blob_abort(blob);
			return rc;
		}
		rc = wl_oci_blob_commit(blob, x->layer_digest[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* One import run: open, layers, entries, commit. */
static int run_import(const char *dir, small_entry *const *entries, size_t count)
{
	wl_oci_layout *layout;
	int rc = wl_oci_layout_open(&layout, dir);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < count && rc == 0; i++) {
		rc = store_layers(layout, entries[i]);
		if (rc == 0)
			rc = wl_oci_layout_add_entry(layout, &entries[i]->entry);
	}
	if (rc == 0)
		rc = wl_oci_layout_commit(layout);
	wl_oci_layout_free(layout);
	return rc;
}

/* ---- Appendix A ---- */

TEST(appendix_a_index_descriptor_is_the_spec_element)
{
	example_entry x;
	example_init(&x);
	char *d;
	size_t n;
	CHECK_OK(wl_entry_index_descriptor(&d, &n, &x.entry, "demo"));
	CHECK_MEM(d, n, A_INDEX_DESCRIPTOR);
	wl_free(d);
}

TEST(appendix_a_index_json_bytes)
{
	/* The appendix's layers are made by the packer; the layout only checks
	 * that a layer blob is present with its recorded size, so stand-ins of
	 * the right sizes are put in place by hand. */
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "appendix");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	static char filler[3072];
	const char *digests[2] = {A_LAYER_TAR, A_LAYER_GZ};
	size_t sizes[2] = {3072, 283};
	for (int i = 0; i < 2; i++) {
		blob_file(path, dir, digests[i]);
		FILE *f = fopen(path, "wb");
		CHECK(f != NULL);
		CHECK(fwrite(filler, 1, sizes[i], f) == sizes[i]);
		CHECK(fclose(f) == 0);
	}
	example_entry x;
	example_init(&x);
	int rc = wl_oci_layout_add_entry(layout, &x.entry);
	if (rc == 0)
		rc = wl_oci_layout_commit(layout);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);

	size_t len;
	join(path, dir, "index.json");
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, index, len);
	int ok = len == 571 &&
	         strcmp(digest, "sha256:3e359d72e15160b76cbaea459acdabc5f86830adb7fbad01d26bfd3e70367b99") == 0 &&
	         strcmp(index, INDEX_PREFIX A_INDEX_DESCRIPTOR "]}") == 0;
	free(index);
	CHECK(ok);

	blob_file(path, dir, A_CONFIG_DIGEST);
	char *config = read_text(path, &len);
	CHECK(config != NULL);
	ok = strcmp(config, A_CONFIG_BLOB) == 0;
	free(config);
	CHECK(ok);
	blob_file(path, dir, A_DIGEST);
	char *manifest = read_text(path, &len);
	CHECK(manifest != NULL);
	ok = len == 903 && strcmp(manifest, A_MANIFEST) == 0;
	free(manifest);
	CHECK(ok);
	CHECK_INT(count_entries(dir), 3); /* oci-layout, index.json, blobs */
	join(path, dir, "blobs");
	CHECK_INT(count_entries(path), 1);
	join(path, dir, "blobs/sha256");
	CHECK_INT(count_entries(path), 4);
}

/* ---- the oci-layout marker ---- */

TEST(marker_written_exactly_with_blob_directory)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "marker");
	strcat(dir, "/made/deep"); /* parents are created too */
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_layout_free(layout);
	join(path, dir, "oci-layout");
	size_t len;
	char *text = read_text(path, &len);
	CHECK(text != NULL);
	int ok = len == strlen(MARKER) && strcmp(text, MARKER) == 0;
	free(text);
	CHECK(ok);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	join(path, dir, "blobs/sha256");
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(count_entries(path), 0);
	/* Nothing but the marker and the blob directory; index.json comes last. */
	CHECK_INT(count_entries(dir), 2);
}

TEST(marker_with_other_content_is_refused_and_left_alone)
{
	static const char *const foreign[] = {
		"{\"imageLayoutVersion\": \"1.0.0\"}",   /* spaced, as the spec example */
		MARKER "\n",                             /* trailing newline */
		"{\"imageLayoutVersion\":\"2.0.0\"}",
		"",
	};
	for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
		char dir[PATH_MAX], path[PATH_MAX];
		fresh_dir(dir, "marker-foreign");
		CHECK(mkdir(dir, 0755) == 0);
		join(path, dir, "oci-layout");
		CHECK(write_text(path, foreign[i]) == 0);
		wl_oci_layout *layout = (wl_oci_layout *)&layout;
		CHECK_ERR(wl_oci_layout_open(&layout, dir), WL_EINVALID, path);
		CHECK(layout == NULL);
		size_t len;
		char *text = read_text(path, &len);
		CHECK(text != NULL);
		int same = strcmp(text, foreign[i]) == 0;
		free(text);
		CHECK(same);
		join(path, dir, "blobs");
		CHECK(!exists(path));
	}
}

TEST(layout_path_that_is_a_file_is_an_io_error)
{
	char dir[PATH_MAX];
	fresh_dir(dir, "plainfile");
	CHECK(write_text(dir, "x") == 0);
	wl_oci_layout *layout;
	CHECK_ERR(wl_oci_layout_open(&layout, dir), WL_EIO, dir);
}

TEST(layout_documents_that_are_fifos_are_refused_at_once)
{
	/* Neither index.json nor oci-layout may hold up the open (SPEC.md §15). */
	const char *const names[] = {"index.json", "oci-layout"};
	for (int i = 0; i < 2; i++) {
		char dir[PATH_MAX], path[PATH_MAX], marker[PATH_MAX];
		fresh_dir(dir, "fifo-doc");
		CHECK(mkdir(dir, 0755) == 0);
		join(path, dir, names[i]);
		join(marker, dir, "oci-layout");
		if (i == 0)
			CHECK(write_text(marker, MARKER) == 0);
		CHECK(mkfifo(path, 0600) == 0);
		wl_oci_layout *layout = NULL;
		CHECK_ERR(wl_oci_layout_open(&layout, dir), WL_EIO, "not a regular file (a FIFO)");
		CHECK(strstr(wl_error_last()->message, path) != NULL);
		CHECK(layout == NULL);
		struct stat st;
		CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
		/* Nothing was created: no blob directory, and the FIFO is kept. */
		CHECK_INT(count_entries(dir), i == 0 ? 2 : 1);
	}
}

/* ---- blobs ---- */

TEST(blob_is_named_by_its_digest_mode_0644_no_temporary_left)
{
	char dir[PATH_MAX], path[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "blob");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_blob *blob;
	CHECK_OK(wl_oci_blob_begin(&blob, layout));
	join(blobs, dir, "blobs/sha256");
	CHECK(has_entry_starting(blobs, ".tmp-"));
	/* sha256("abc"), FIPS 180-2 example. */
	const char *digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	int rc = wl_oci_blob_write(blob, "a", 1);
	if (rc == 0)
		rc = wl_oci_blob_write(blob, "", 0);
	if (rc == 0)
		rc = wl_oci_blob_write(blob, "bc", 2);
	if (rc == 0)
		rc = wl_oci_blob_commit(blob, digest);
	else
		wl_oci_blob_abort(blob);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	blob_file(path, dir, digest);
	size_t len;
	char *text = read_text(path, &len);
	CHECK(text != NULL);
	int ok = len == 3 && memcmp(text, "abc", 3) == 0;
	free(text);
	CHECK(ok);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_INT(count_entries(blobs), 1);
}

TEST(blob_temporary_file_is_close_on_exec)
{
	char dir[PATH_MAX];
	fresh_dir(dir, "cloexec");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_blob *blob;
	CHECK_OK(wl_oci_blob_begin(&blob, layout));
	/* The newest descriptor is the temporary file's. */
	int probe = dup(0);
	bool cloexec = false;
	for (int fd = probe - 1; fd > 2; fd--) {
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0) {
			cloexec = (flags & FD_CLOEXEC) != 0;
			break;
		}
	}
	close(probe);
	wl_oci_blob_abort(blob);
	wl_oci_layout_free(layout);
	CHECK(cloexec);
}

TEST(blob_digest_mismatch_is_refused_and_temporary_removed)
{
	char dir[PATH_MAX], path[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "mismatch");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_blob *blob;
	CHECK_OK(wl_oci_blob_begin(&blob, layout));
	const char *abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	int wrc = wl_oci_blob_write(blob, "abd", 3);
	int rc = wl_oci_blob_commit(blob, abc);
	wl_oci_layout_free(layout);
	CHECK_OK(wrc);
	CHECK_INT(rc, WL_EINVALID);
	CHECK(strstr(wl_error_last()->message, abc) != NULL);
	CHECK(strstr(wl_error_last()->message, dir) != NULL);
	join(blobs, dir, "blobs/sha256");
	CHECK_INT(count_entries(blobs), 0);
	blob_file(path, dir, abc);
	CHECK(!exists(path));
}

TEST(blob_commit_with_an_invalid_digest_is_refused)
{
	char dir[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "baddigest");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_blob *blob;
	CHECK_OK(wl_oci_blob_begin(&blob, layout));
	CHECK_OK(wl_oci_blob_write(blob, "abc", 3));
	int rc = wl_oci_blob_commit(blob, "sha256:../../escape");
	wl_oci_layout_free(layout);
	CHECK_INT(rc, WL_EINVALID);
	join(blobs, dir, "blobs/sha256");
	CHECK_INT(count_entries(blobs), 0);
}

TEST(blob_abort_removes_the_temporary_file)
{
	char dir[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "abort");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	wl_oci_blob *blob;
	CHECK_OK(wl_oci_blob_begin(&blob, layout));
	CHECK_OK(wl_oci_blob_write(blob, "partial", 7));
	wl_oci_blob_abort(blob);
	wl_oci_blob_abort(NULL);
	wl_oci_layout_free(layout);
	wl_oci_layout_free(NULL);
	join(blobs, dir, "blobs/sha256");
	CHECK_INT(count_entries(blobs), 0);
}

TEST(existing_blob_of_the_right_size_is_kept)
{
	char dir[PATH_MAX], path[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "keep");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	char digest[WL_DIGEST_LEN + 1], want[WL_DIGEST_LEN + 1];
	wl_sha256_digest(want, "hello", 5);
	int rc = wl_oci_layout_put(layout, "hello", 5, digest);
	struct stat before, after;
	blob_file(path, dir, want);
	if (rc == 0 && stat(path, &before) != 0)
		rc = -100;
	/* Streamed again: the temporary file goes, the first file stays. */
	wl_oci_blob *blob = NULL;
	if (rc == 0)
		rc = wl_oci_blob_begin(&blob, layout);
	if (rc == 0) {
		rc = wl_oci_blob_write(blob, "hello", 5);
		if (rc == 0)
			rc = wl_oci_blob_commit(blob, want);
		else
			wl_oci_blob_abort(blob);
	}
	if (rc == 0)
		rc = wl_oci_layout_put(layout, "hello", 5, NULL);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	CHECK_STR(digest, want);
	CHECK(stat(path, &after) == 0);
	CHECK_INT(after.st_ino, before.st_ino);
	CHECK_INT(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	CHECK_INT(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	join(blobs, dir, "blobs/sha256");
	CHECK_INT(count_entries(blobs), 1);
}

TEST(existing_blob_of_the_wrong_size_is_replaced)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "truncated");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	char want[WL_DIGEST_LEN + 1];
	wl_sha256_digest(want, "hello", 5);
	blob_file(path, dir, want);
	CHECK(write_text(path, "hel") == 0);
	int rc = wl_oci_layout_put(layout, "hello", 5, NULL);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	size_t len;
	char *text = read_text(path, &len);
	CHECK(text != NULL);
	int ok = strcmp(text, "hello") == 0;
	free(text);
	CHECK(ok);
}

/* §15: an existing blob is kept only when its bytes hash to its name. */
TEST(existing_blob_of_the_right_size_with_wrong_bytes_is_rewritten)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "corrupt");
	char want[WL_DIGEST_LEN + 1];
	wl_sha256_digest(want, "hello", 5);
	blob_file(path, dir, want);
	for (int streamed = 0; streamed < 2; streamed++) {
		wl_oci_layout *layout;
		CHECK_OK(wl_oci_layout_open(&layout, dir));
		CHECK(write_text(path, "jello") == 0);
		int rc;
		if (streamed) {
			wl_oci_blob *blob = NULL;
			rc = wl_oci_blob_begin(&blob, layout);
			if (rc == 0 && (rc = wl_oci_blob_write(blob, "hello", 5)) != 0)
				wl_oci_blob_abort(blob);
			else if (rc == 0)
				rc = wl_oci_blob_commit(blob, want);
		} else {
			rc = wl_oci_layout_put(layout, "hello", 5, NULL);
		}
		wl_oci_layout_free(layout);
		CHECK_OK(rc);
		size_t len;
		char *text = read_text(path, &len);
		CHECK(text != NULL && len == 5 && memcmp(text, "hello", 5) == 0);
		free(text);
	}
}

TEST(a_link_at_a_blob_name_is_replaced_never_followed)
{
	char dir[PATH_MAX], path[PATH_MAX], victim[PATH_MAX];
	fresh_dir(dir, "link");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	join(victim, dir, "victim");
	CHECK(write_text(victim, "hello") == 0);
	struct stat vbefore, vafter, st;
	CHECK(stat(victim, &vbefore) == 0);
	char want[WL_DIGEST_LEN + 1];
	wl_sha256_digest(want, "hello", 5);
	blob_file(path, dir, want);
	CHECK(symlink(victim, path) == 0);
	int rc = wl_oci_layout_put(layout, "hello", 5, NULL);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino != vbefore.st_ino);
	CHECK(stat(victim, &vafter) == 0 && vafter.st_ino == vbefore.st_ino &&
	      vafter.st_mtim.tv_nsec == vbefore.st_mtim.tv_nsec && vafter.st_size == 5);
}

/* A blob verified once is remembered by identity and times; the racy
 * rule (times two seconds older than the read) applies as for sources. */
TEST(a_verified_blob_is_remembered_in_the_hash_cache)
{
	char dir[PATH_MAX], path[PATH_MAX], cache_dir[PATH_MAX];
	fresh_dir(dir, "cached");
	join(cache_dir, dir, "cache");
	char want[WL_DIGEST_LEN + 1];
	wl_sha256_digest(want, "hello", 5);
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	blob_file(path, dir, want);
	CHECK(write_text(path, "hello") == 0);
	struct timespec pause = {2, 200000000};
	nanosleep(&pause, NULL);
	wl_hash_cache *cache = NULL;
	CHECK_OK(wl_hash_cache_open(&cache, cache_dir));
	wl__oci_layout_use_cache(layout, cache);
	CHECK_OK(wl_oci_layout_put(layout, "hello", 5, NULL));
	struct stat st;
	CHECK(stat(path, &st) == 0);
	wl_source_file id;
	memset(&id, 0, sizeof id);
	id.dev = (uint64_t)st.st_dev;
	id.ino = (uint64_t)st.st_ino;
	id.size = st.st_size;
	id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	id.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	char got[WL_DIGEST_LEN + 1] = "";
	CHECK(wl_hash_cache_get(cache, &id, got));
	CHECK_STR(got, want);
	wl_oci_layout_free(layout);
	wl_hash_cache_free(cache);
}

/* ---- entries ---- */

TEST(entry_manifest_and_config_blob_stored_under_their_digests)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "entry");
	small_entry x;
	CHECK_OK(small_init(&x, "small", 0));
	small_entry *list[] = {&x};
	CHECK_OK(run_import(dir, list, 1));
	blob_file(path, dir, x.digest);
	size_t len;
	char *manifest = read_text(path, &len);
	CHECK(manifest != NULL);
	char digest[WL_DIGEST_LEN + 1];
	wl_sha256_digest(digest, manifest, len);
	free(manifest);
	CHECK_STR(digest, x.digest);
	char *config;
	size_t config_len;
	CHECK_OK(wl_entry_config_blob(&config, &config_len, &x.entry));
	wl_sha256_digest(digest, config, config_len);
	wl_free(config);
	blob_file(path, dir, digest);
	CHECK(exists(path));
	for (int i = 0; i < 2; i++) {
		blob_file(path, dir, x.layer_digest[i]);
		CHECK(exists(path));
	}
	join(path, dir, "blobs/sha256");
	CHECK_INT(count_entries(path), 4);

	char want[4096];
	expected_descriptor(want, sizeof want, &x);
	join(path, dir, "index.json");
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	char whole[4200];
	snprintf(whole, sizeof whole, INDEX_PREFIX "%s]}", want);
	int ok = strcmp(index, whole) == 0;
	if (!ok)
		printf("index.json: %s\nwant:       %s\n", index, whole);
	free(index);
	CHECK(ok);
}

TEST(entry_whose_digest_disagrees_with_its_manifest_is_refused)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "disagree");
	small_entry x;
	CHECK_OK(small_init(&x, "small", 0));
	x.entry.digest = wl_str(A_DIGEST);
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	int rc = store_layers(layout, &x);
	if (rc == 0)
		rc = wl_oci_layout_add_entry(layout, &x.entry);
	if (rc == WL_EINVALID && strstr(wl_error_last()->message, A_DIGEST) == NULL)
		rc = -100;
	int commit_rc = wl_oci_layout_commit(layout);
	wl_oci_layout_free(layout);
	CHECK_INT(rc, WL_EINVALID);
	CHECK_OK(commit_rc);
	/* Nothing of the entry was stored or tagged. */
	join(path, dir, "blobs/sha256");
	CHECK_INT(count_entries(path), 2);
	join(path, dir, "index.json");
	size_t len;
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	int ok = strcmp(index, INDEX_PREFIX "]}") == 0;
	free(index);
	CHECK(ok);
}

TEST(entry_with_a_missing_or_short_layer_is_refused)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "missing");
	small_entry x;
	CHECK_OK(small_init(&x, "small", 0));
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	CHECK_OK(wl_oci_layout_put(layout, x.layer_bytes[0], strlen(x.layer_bytes[0]), NULL));
	int rc = wl_oci_layout_add_entry(layout, &x.entry);
	char message[1024];
	snprintf(message, sizeof message, "%s", wl_error_last()->message);
	/* The second layer present but shorter than recorded. */
	blob_file(path, dir, x.layer_digest[1]);
	int short_rc = write_text(path, "short") == 0 ? wl_oci_layout_add_entry(layout, &x.entry) : -100;
	wl_oci_layout_free(layout);
	CHECK_INT(rc, WL_EINVALID);
	CHECK(strstr(message, x.layer_digest[1]) != NULL);
	CHECK(strstr(message, "missing") != NULL);
	CHECK_INT(short_rc, WL_EINVALID);
	CHECK(strstr(wl_error_last()->message, x.layer_digest[1]) != NULL);
}

TEST(entry_failing_a_projection_precondition_is_refused)
{
	char dir[PATH_MAX];
	fresh_dir(dir, "precondition");
	small_entry x;
	CHECK_OK(small_init(&x, "small", 0));
	x.entry.target = wl_str(NULL);
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	int rc = wl_oci_layout_add_entry(layout, &x.entry);
	wl_oci_layout_free(layout);
	CHECK_INT(rc, WL_EINVALID);
	CHECK(strstr(wl_error_last()->message, "weight target is required") != NULL);
}

/* ---- index.json ---- */

#define DESC_OTHER                                                                                     \
	"{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n      \"digest\": "              \
	"\"sha256:1111111111111111111111111111111111111111111111111111111111111111\", \"size\": 7,\n"     \
	"      \"annotations\": {\"x\": \"\\u00e9\", \"org.opencontainers.image.ref.name\": \"other\"},\n" \
	"      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}, \"data\": [1, 2.5e3, true, "  \
	"null, {}]}"
#define DESC_OLD_SMALL                                                                                 \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,\"digest\":"           \
	"\"sha256:2222222222222222222222222222222222222222222222222222222222222222\","                    \
	"\"annotations\":{\"org.opencontainers.image.ref.name\":\"small\"}}"
#define DESC_UNTAGGED                                                                                  \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":2,\"digest\":"           \
	"\"sha256:3333333333333333333333333333333333333333333333333333333333333333\"}"
/* The same tag as DESC_OLD_SMALL, spelled with an escape. */
#define DESC_OLD_SMALL_AGAIN                                                                           \
	"{\"size\":3,\"digest\":\"sha256:4444444444444444444444444444444444444444444444444444444444444444\"," \
	"\"annotations\":{\"org.opencontainers.image.ref.name\":\"sm\\u0061ll\"}}"

TEST(tag_replaced_in_place_new_tag_appended_foreign_descriptors_kept)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "retag");
	CHECK(mkdir(dir, 0755) == 0);
	join(path, dir, "index.json");
	/* As another tool might have written it: indented, no mediaType, an
	 * annotations member of its own. */
	CHECK(write_text(path, "{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n    " DESC_OTHER ",\n    "
	                       DESC_OLD_SMALL ",\n    " DESC_UNTAGGED ", " DESC_OLD_SMALL_AGAIN
	                       "\n  ],\n  \"annotations\": {\"by\": \"hand\"}\n}\n") == 0);
	small_entry small, second;
	CHECK_OK(small_init(&small, "small", 0));
	CHECK_OK(small_init(&second, "second", 0));
	small_entry *list[] = {&second, &small};
	CHECK_OK(run_import(dir, list, 2));

	char small_desc[4096], second_desc[4096], want[12000];
	expected_descriptor(small_desc, sizeof small_desc, &small);
	expected_descriptor(second_desc, sizeof second_desc, &second);
	snprintf(want, sizeof want,
	         INDEX_PREFIX DESC_OTHER ",%s," DESC_UNTAGGED ",%s],\"annotations\": {\"by\": \"hand\"}}",
	         small_desc, second_desc);
	size_t len;
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	int ok = strcmp(index, want) == 0;
	if (!ok)
		printf("index.json: %s\nwant:       %s\n", index, want);
	free(index);
	CHECK(ok);
}

TEST(ref_names_are_compared_after_decoding_escapes)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "escapes");
	CHECK(mkdir(dir, 0755) == 0);
	join(path, dir, "index.json");
	CHECK(write_text(path, "{\"schemaVersion\":2,\"manifests\":["
	                       "{\"annotations\":{\"org.opencontainers.image.ref.name\":\"team\\/w\"}},"
	                       "{\"annotations\":{\"org.opencontainers.image.ref.name\":\"\\ud83d\\ude00x\"}}]}") == 0);
	small_entry slash, emoji;
	CHECK_OK(small_init(&slash, "team/w", 0));
	CHECK_OK(small_init(&emoji, "\xf0\x9f\x98\x80x", 0));
	small_entry *list[] = {&emoji, &slash};
	CHECK_OK(run_import(dir, list, 2));
	char d1[4096], d2[4096], want[9000];
	expected_descriptor(d1, sizeof d1, &slash);
	expected_descriptor(d2, sizeof d2, &emoji);
	snprintf(want, sizeof want, INDEX_PREFIX "%s,%s]}", d1, d2);
	size_t len;
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	int ok = strcmp(index, want) == 0;
	if (!ok)
		printf("index.json: %s\nwant:       %s\n", index, want);
	free(index);
	CHECK(ok);
}

TEST(reimport_of_a_changed_weight_replaces_its_tag)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "changed");
	small_entry a0, b0, a1;
	CHECK_OK(small_init(&a0, "a", 0));
	CHECK_OK(small_init(&b0, "b", 0));
	CHECK_OK(small_init(&a1, "a", 1));
	small_entry *first[] = {&a0, &b0};
	CHECK_OK(run_import(dir, first, 2));
	small_entry *again[] = {&a1};
	CHECK_OK(run_import(dir, again, 1));
	char da[4096], db[4096], want[9000];
	expected_descriptor(da, sizeof da, &a1);
	expected_descriptor(db, sizeof db, &b0);
	snprintf(want, sizeof want, INDEX_PREFIX "%s,%s]}", da, db);
	join(path, dir, "index.json");
	size_t len;
	char *index = read_text(path, &len);
	CHECK(index != NULL);
	int ok = strcmp(index, want) == 0;
	free(index);
	CHECK(ok);
}

TEST(malformed_index_is_refused_untouched)
{
	static const struct {
		const char *text;
		const char *part; /* in the message */
	} cases[] = {
		{"", "unexpected end of JSON input (at byte 0)"},
		{"{\"schemaVersion\":2,\"manifests\":[]", "unexpected end of JSON input (at byte 33)"},
		{"{\"schemaVersion\":2,\"manifests\":[],}", "(at byte 34)"},
		{"{\"schemaVersion\":2,\"manifests\":[]} x", "after the top-level value (at byte 35)"},
		{"[]", "not a JSON object (at byte 0)"},
		{"{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion is not 2 (at byte 17)"},
		{"{\"schemaVersion\":2.0,\"manifests\":[]}", "schemaVersion is not 2"},
		{"{\"manifests\":[]}", "schemaVersion is missing"},
		{"{\"schemaVersion\":2}", "manifests is missing"},
		{"{\"schemaVersion\":2,\"manifests\":{}}", "manifests is not an array (at byte 31)"},
		{"{\"schemaVersion\":2,\"manifests\":[1]}", "not an object (at byte 32)"},
		{"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		 "\"manifests\":[]}",
		 "mediaType is not application/vnd.oci.image.index.v1+json"},
		{"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}", "duplicate key in object (at byte 34)"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"annotations\":{\"a\":1}}]}", "not a string"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"annotations\":[]}]}", "not an object"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":\"\\x\"}]}", "invalid escape in string (at byte 39)"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":\"\t\"}]}", "control character"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":\"\xff\"}]}", "invalid UTF-8"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":01}]}", "(at byte 38)"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":tru}]}", "expected a JSON value"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		 "]]]]]]]]]]]]]]]]]]]]]]]}]}",
		 "nested too deeply"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char dir[PATH_MAX], path[PATH_MAX];
		fresh_dir(dir, "malformed");
		CHECK(mkdir(dir, 0755) == 0);
		join(path, dir, "index.json");
		CHECK(write_text(path, cases[i].text) == 0);
		wl_oci_layout *layout = NULL;
		int rc = wl_oci_layout_open(&layout, dir);
		wl_oci_layout_free(layout);
		if (rc != WL_EPARSE || strstr(wl_error_last()->message, cases[i].part) == NULL ||
		    strstr(wl_error_last()->message, path) == NULL)
			HARNESS_FAIL("case %zu: rc %d, message \"%s\", want \"%s\"", i, rc,
			             wl_error_last()->message, cases[i].part);
		CHECK_INT(rc, WL_EPARSE);
		size_t len;
		char *text = read_text(path, &len);
		CHECK(text != NULL);
		int same = strcmp(text, cases[i].text) == 0;
		free(text);
		CHECK(same);
		/* Refused before anything was created. */
		CHECK_INT(count_entries(dir), 1);
	}
}

TEST(well_formed_unusual_index_is_accepted)
{
	static const char *const texts[] = {
		"{\"schemaVersion\":2,\"manifests\":[]}",
		" \r\n\t{ \"manifests\" : [ ] , \"schemaVersion\" : 2 } \n",
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":[{\"annotations\":{}},{\"annotations\":{\"\\ud83d\\ude00\\ud800\":\"\\\"\\\\\\/"
		"\\b\\f\\n\\r\\t\"}}]}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char dir[PATH_MAX];
		fresh_dir(dir, "unusual");
		CHECK(mkdir(dir, 0755) == 0);
		char path[PATH_MAX];
		join(path, dir, "index.json");
		CHECK(write_text(path, texts[i]) == 0);
		wl_oci_layout *layout;
		CHECK_OK(wl_oci_layout_open(&layout, dir));
		wl_oci_layout_free(layout);
	}
}

TEST(commit_without_entries_writes_an_empty_index_once)
{
	char dir[PATH_MAX], path[PATH_MAX];
	fresh_dir(dir, "empty");
	wl_oci_layout *layout;
	CHECK_OK(wl_oci_layout_open(&layout, dir));
	int rc = wl_oci_layout_commit(layout);
	struct stat first, second;
	join(path, dir, "index.json");
	if (rc == 0 && stat(path, &first) != 0)
		rc = -100;
	if (rc == 0)
		rc = wl_oci_layout_commit(layout);
	wl_oci_layout_free(layout);
	CHECK_OK(rc);
	CHECK(stat(path, &second) == 0);
	CHECK_INT(second.st_ino, first.st_ino);
	size_t len;
	char *text = read_text(path, &len);
	CHECK(text != NULL);
	int ok = strcmp(text, INDEX_PREFIX "]}") == 0;
	free(text);
	CHECK(ok);
}

/* ---- idempotence ---- */

typedef struct file_stamp {
	char path[PATH_MAX];
	ino_t ino;
	struct timespec mtime;
} file_stamp;

static file_stamp stamps[64];
static size_t stamp_count;

static int stamp_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F)
		return 0;
	if (stamp_count == sizeof stamps / sizeof stamps[0])
		return 1;
	file_stamp *s = &stamps[stamp_count++];
	snprintf(s->path, sizeof s->path, "%s", path);
	s->ino = st->st_ino;
	s->mtime = st->st_mtim;
	return 0;
}

static size_t take_stamps(const char *dir, file_stamp *out)
{
	stamp_count = 0;
	if (nftw(dir, stamp_one, 16, FTW_PHYS) != 0)
		return 0;
	memcpy(out, stamps, stamp_count * sizeof *out);
	return stamp_count;
}

TEST(rerun_with_the_same_entries_rewrites_nothing)
{
	char dir[PATH_MAX];
	fresh_dir(dir, "rerun");
	small_entry a, b;
	CHECK_OK(small_init(&a, "a", 0));
	CHECK_OK(small_init(&b, "b", 0));
	small_entry *list[] = {&a, &b};
	CHECK_OK(run_import(dir, list, 2));
	static file_stamp before[64], after[64];
	size_t n_before = take_stamps(dir, before);
	/* oci-layout, index.json, 2 x (2 layers, config, manifest). */
	CHECK_INT(n_before, 10);
	/* A coarse clock could hide a rewrite: let it tick first. */
	usleep(20000);
	CHECK_OK(run_import(dir, list, 2));
	size_t n_after = take_stamps(dir, after);
	CHECK_INT(n_after, n_before);
	for (size_t i = 0; i < n_before; i++) {
		size_t j = 0;
		while (j < n_after && strcmp(before[i].path, after[j].path) != 0)
			j++;
		if (j == n_after)
			HARNESS_FAIL("%s disappeared", before[i].path);
		CHECK(j < n_after);
		if (after[j].ino != before[i].ino || after[j].mtime.tv_sec != before[i].mtime.tv_sec ||
		    after[j].mtime.tv_nsec != before[i].mtime.tv_nsec)
			HARNESS_FAIL("%s was rewritten", before[i].path);
		CHECK(after[j].ino == before[i].ino);
		CHECK(after[j].mtime.tv_nsec == before[i].mtime.tv_nsec);
	}
}

/* ---- a full disk ---- */

TEST(full_disk_is_an_io_error_naming_the_layout_and_leaves_no_blob)
{
	char dir[PATH_MAX], blobs[PATH_MAX];
	fresh_dir(dir, "full");
	CHECK(mkdir(dir, 0755) == 0);
	bool mounted = mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755") == 0;
	struct rlimit saved;
	void (*saved_handler)(int) = SIG_DFL;
	if (!mounted) {
		/* No tmpfs (not root): a file size limit fails writes alike. */
		CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
		struct rlimit small = saved;
		small.rlim_cur = 1 << 20;
		saved_handler = signal(SIGXFSZ, SIG_IGN);
		CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
	}
	wl_oci_layout *layout = NULL;
	int open_rc = wl_oci_layout_open(&layout, dir);
	int rc = -100, commit_rc = -100;
	char message[1024] = "";
	static char chunk[64 << 10];
	memset(chunk, 'z', sizeof chunk);
	wl_oci_blob *blob = NULL;
	if (open_rc == 0 && wl_oci_blob_begin(&blob, layout) == 0) {
		for (int i = 0; i < 32; i++) { /* 2 MiB */
			rc = wl_oci_blob_write(blob, chunk, sizeof chunk);
			if (rc != 0)
				break;
		}
		snprintf(message, sizeof message, "%s", wl_error_last()->message);
		/* sha256 of 2 MiB of 'z' is never checked: the write already failed. */
		commit_rc = wl_oci_blob_commit(blob, A_DIGEST);
	}
	wl_oci_layout_free(layout);
	join(blobs, dir, "blobs/sha256");
	int left = count_entries(blobs);
	if (mounted) {
		if (umount2(dir, MNT_DETACH) != 0)
			perror("umount");
	} else {
		setrlimit(RLIMIT_FSIZE, &saved);
		signal(SIGXFSZ, saved_handler);
	}
	CHECK_OK(open_rc);
	CHECK_INT(rc, WL_EIO);
	CHECK(strstr(message, dir) != NULL);
	CHECK(strstr(message, mounted ? "No space left on device" : "File too large") != NULL);
	CHECK_INT(commit_rc, WL_EIO);
	CHECK_INT(left, 0);
}

static void remove_tree(const char *path)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof scratch, "%s/wl-layout-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(appendix_a_index_descriptor_is_the_spec_element);
	RUN(appendix_a_index_json_bytes);
	RUN(marker_written_exactly_with_blob_directory);
	RUN(marker_with_other_content_is_refused_and_left_alone);
	RUN(layout_path_that_is_a_file_is_an_io_error);
	RUN(layout_documents_that_are_fifos_are_refused_at_once);
	RUN(blob_is_named_by_its_digest_mode_0644_no_temporary_left);
	RUN(blob_temporary_file_is_close_on_exec);
	RUN(blob_digest_mismatch_is_refused_and_temporary_removed);
	RUN(blob_commit_with_an_invalid_digest_is_refused);
	RUN(blob_abort_removes_the_temporary_file);
	RUN(existing_blob_of_the_right_size_is_kept);
	RUN(existing_blob_of_the_wrong_size_is_replaced);
	RUN(existing_blob_of_the_right_size_with_wrong_bytes_is_rewritten);
	RUN(a_link_at_a_blob_name_is_replaced_never_followed);
	RUN(a_verified_blob_is_remembered_in_the_hash_cache);
	RUN(entry_manifest_and_config_blob_stored_under_their_digests);
	RUN(entry_whose_digest_disagrees_with_its_manifest_is_refused);
	RUN(entry_with_a_missing_or_short_layer_is_refused);
	RUN(entry_failing_a_projection_precondition_is_refused);
	RUN(tag_replaced_in_place_new_tag_appended_foreign_descriptors_kept);
	RUN(ref_names_are_compared_after_decoding_escapes);
	RUN(reimport_of_a_changed_weight_replaces_its_tag);
	RUN(malformed_index_is_refused_untouched);
	RUN(well_formed_unusual_index_is_accepted);
	RUN(commit_without_entries_writes_an_empty_index_once);
	RUN(rerun_with_the_same_entries_rewrites_nothing);
	RUN(full_disk_is_an_io_error_naming_the_layout_and_leaves_no_blob);
	remove_tree(scratch);
	return harness_summary("layout");
}
