/*
 * test_store.c - the content store (SPEC.md §17): files named by digest
 * under files/sha256/<2 hex>/, mode 0644, entering only whole and verified,
 * nothing left behind by a failed put, concurrent writers harmless.
 */
#include "harness.h"
#include "scratch_tree.h"
#include "source/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELLO "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

/* Entries (recursively) whose name starts with "put-". */
static int temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
		n += strncmp(e->d_name, "put-", 4) == 0;
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			n += temporaries(sub);
	}
	closedir(d);
	return n;
}

static int put(wl_store *s, const char *digest, int64_t size, const char *bytes, char out[WL_DIGEST_LEN + 1])
{
	wl_store_put *p = NULL;
	int rc = wl_store_put_begin(&p, s, digest, size);
	if (rc != 0)
		return rc;
	size_t n = strlen(bytes);
	/* In two pieces, as a download delivers them. */
	rc = wl_store_put_write(p, bytes, n / 2);
	if (rc == 0)
		rc = wl_store_put_write(p, bytes + n / 2, n - n / 2);
	if (rc != 0) {
		wl_store_put_abort(p);
		return rc;
	}
	return wl_store_put_commit(p, out);
}

TEST(a_verified_file_lands_under_its_digest_with_mode_0644)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	CHECK_INT(wl_store_has(s, HELLO, 5), 0);
	char got[WL_DIGEST_LEN + 1];
	CHECK_OK(put(s, HELLO, 5, "hello", got));
	CHECK_STR(got, HELLO);
	char *path = wl_store_path(s, HELLO);
	CHECK_STR(path, at("store/files/sha256/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 && st.st_size == 5);
	free(path);
	CHECK_INT(wl_store_has(s, HELLO, 5), 1);
	CHECK_INT(wl_store_has(s, HELLO, -1), 1);
	CHECK_INT(wl_store_has(s, HELLO, 6), 0);
	/* Unknown digest: computed, and the same place. */
	CHECK_OK(put(s, NULL, -1, "hello", got));
	CHECK_STR(got, HELLO);
	CHECK_INT(temporaries(at("store")), 0);
	CHECK(wl_store_path(s, "sha256:xyz") == NULL);
	wl_store_free(s);
}

TEST(wrong_bytes_or_sizes_leave_nothing)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	char got[WL_DIGEST_LEN + 1];
	CHECK_ERR(put(s, HELLO, 5, "jello", got), WL_EMISMATCH, "hash to sha256:");
	CHECK_ERR(put(s, HELLO, 5, "hell", got), WL_EMISMATCH, "4 bytes received, 5 expected");
	CHECK_ERR(put(s, HELLO, 5, "hello!", got), WL_EMISMATCH, "more than the 5 bytes expected");
	CHECK_ERR(put(s, NULL, 3, "hello", got), WL_EMISMATCH, "more than the 3 bytes expected");
	CHECK_INT(wl_store_has(s, HELLO, -1), 0);
	CHECK_INT(temporaries(at("store")), 0);
	wl_store_put *p = NULL;
	CHECK_ERR(wl_store_put_begin(&p, s, "sha256:nothex", 1), WL_EINVALID, "invalid digest");
	CHECK(p == NULL);
	wl_store_free(s);
	CHECK_ERR(wl_store_open(&s, ""), WL_EINVALID, "empty");
}

TEST(a_restarted_download_keeps_only_the_second_attempt)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	wl_store_put *p = NULL;
	CHECK_OK(wl_store_put_begin(&p, s, HELLO, 5));
	CHECK_OK(wl_store_put_write(p, "hel", 3));
	CHECK_OK(wl_store_put_restart(p));
	CHECK_OK(wl_store_put_write(p, "hello", 5));
	char got[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_store_put_commit(p, got));
	CHECK_STR(got, HELLO);
	wl_store_free(s);
}

TEST(a_store_path_that_is_a_file_fails_naming_it)
{
	scratch_new();
	put_text("store", "not a directory");
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	wl_store_put *p = NULL;
	CHECK_ERR(wl_store_put_begin(&p, s, HELLO, 5), WL_EIO, "create directory");
	CHECK(strstr(wl_error_last()->message, at("store")) != NULL);
	wl_store_free(s);
}

TEST(concurrent_writers_of_one_digest_are_harmless)
{
	scratch_new();
	pid_t kids[6];
	for (int i = 0; i < 6; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			wl_store *s = NULL;
			int rc = wl_store_open(&s, at("store"));
			for (int k = 0; rc == 0 && k < 50; k++)
				rc = put(s, HELLO, 5, "hello", NULL);
			wl_store_free(s);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	int failed = 0;
	for (int i = 0; i < 6; i++) {
		int status = 0;
		waitpid(kids[i], &status, 0);
		failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_INT(failed, 0);
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	CHECK_INT(wl_store_has(s, HELLO, 5), 1);
	CHECK_INT(temporaries(at("store")), 0);
	wl_store_free(s);
}

/* n bytes of a pattern no shift of itself matches. */
static unsigned char *pattern(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void digest_of(const unsigned char *p, size_t n, char out[WL_DIGEST_LEN + 1])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static bool file_is(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	unsigned char *bytes = malloc(n + 1);
	size_t got = bytes ? fread(bytes, 1, n + 1, f) : 0;
	fclose(f);
	bool same = bytes != NULL && got == n && memcmp(bytes, p, n) == 0;
	free(bytes);
	return same;
}

TEST(a_large_file_lands_whole_through_odd_pieces_and_a_restart)
{
	/* Over the size written with O_DIRECT, not a multiple of any block,
	 * delivered in pieces that never align. */
	scratch_new();
	size_t n = ((size_t)20 << 20) + 1234;
	unsigned char *data = pattern(n, 7);
	char digest[WL_DIGEST_LEN + 1];
	digest_of(data, n, digest);
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	wl_store_put *p = NULL;
	CHECK_OK(wl_store_put_begin(&p, s, digest, (int64_t)n));
	CHECK_OK(wl_store_put_write(p, data, 9 << 20)); /* then the download starts over */
	CHECK_OK(wl_store_put_restart(p));
	for (size_t at_ = 0; at_ < n;) {
		size_t k = n - at_ < 100003 ? n - at_ : 100003;
		CHECK_OK(wl_store_put_write(p, data + at_, k));
		at_ += k;
	}
	char got[WL_DIGEST_LEN + 1];
	CHECK_OK(wl_store_put_commit(p, got));
	CHECK_STR(got, digest);
	char *path = wl_store_path(s, digest);
	CHECK(file_is(path, data, n));
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	free(path);
	/* One byte too many fails at once, and nothing is left. */
	CHECK_OK(wl_store_put_begin(&p, s, digest, (int64_t)n));
	CHECK_OK(wl_store_put_write(p, data, n));
	CHECK_ERR(wl_store_put_write(p, "x", 1), WL_EMISMATCH, "more than the");
	wl_store_put_abort(p);
	CHECK_INT(temporaries(at("store")), 0);
	free(data);
	wl_store_free(s);
}

TEST(a_batch_makes_small_files_durable_together)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	wl__store_batch *b = NULL;
	CHECK_OK(wl__store_batch_new(&b, s));
	char digests[300][WL_DIGEST_LEN + 1];
	for (int i = 0; i < 300; i++) {
		unsigned char *d = pattern(100 + (size_t)i, (unsigned)i + 100);
		digest_of(d, 100 + (size_t)i, digests[i]);
		wl_store_put *p = NULL;
		CHECK_OK(wl__store_put_begin_hashed(&p, s, digests[i], 100 + i, NULL));
		CHECK_OK(wl_store_put_write(p, d, 100 + (size_t)i));
		CHECK_OK(wl__store_batch_add(b, p));
		free(d);
	}
	/* The first 256 went in together; the rest wait for the flush. */
	CHECK_INT(wl_store_has(s, digests[255], 355), 1);
	CHECK_INT(wl_store_has(s, digests[256], 356), 0);
	CHECK_INT(temporaries(at("store")), 44);
	CHECK_OK(wl__store_batch_flush(b));
	CHECK_INT(wl_store_has(s, digests[299], 399), 1);
	CHECK_INT(temporaries(at("store")), 0);
	/* Dropped unflushed: their temporary files go, nothing lands. */
	unsigned char *d = pattern(50, 1);
	char dg[WL_DIGEST_LEN + 1];
	digest_of(d, 50, dg);
	wl_store_put *p = NULL;
	CHECK_OK(wl__store_put_begin_hashed(&p, s, dg, 50, NULL));
	CHECK_OK(wl_store_put_write(p, d, 50));
	CHECK_OK(wl__store_batch_add(b, p));
	CHECK_INT(temporaries(at("store")), 1);
	wl__store_batch_free(b);
	CHECK_INT(temporaries(at("store")), 0);
	CHECK_INT(wl_store_has(s, dg, 50), 0);
	/* A short file is refused when added, and removed. */
	CHECK_OK(wl__store_batch_new(&b, s));
	CHECK_OK(wl__store_put_begin_hashed(&p, s, dg, 50, NULL));
	CHECK_OK(wl_store_put_write(p, d, 49));
	CHECK_ERR(wl__store_batch_add(b, p), WL_EMISMATCH, "49 bytes received, 50 expected");
	CHECK_OK(wl__store_batch_flush(b));
	CHECK_INT(temporaries(at("store")), 0);
	wl__store_batch_free(b);
	free(d);
	wl_store_free(s);
}

TEST(a_named_temporary_is_reused_but_never_through_a_link)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	char temp[WL__STORE_TEMP_MAX];
	const char *layer = "sha256:abababababababababababababababababababababababababababababababab";
	wl__store_layer_temp(temp, layer, 3);
	CHECK_STR(temp, "ab/put-layer-abababababababababababababababababababababababababababababababab-3");
	/* A stale one a killed pull left is taken over. */
	mkdir(at("store/files"), 0755);
	mkdir(at("store/files/sha256"), 0755);
	mkdir(at("store/files/sha256/ab"), 0755);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", at("store/files/sha256"), temp);
	put_text("store/files/sha256/ab/put-layer-abababababababababababababababababababababababababababababababab-3",
	         "stale bytes of a killed pull");
	wl_store_put *p = NULL;
	CHECK_OK(wl__store_put_begin_hashed(&p, s, HELLO, 5, temp));
	CHECK_OK(wl_store_put_write(p, "hello", 5));
	CHECK_OK(wl_store_put_commit(p, NULL));
	CHECK(access(path, F_OK) != 0);
	CHECK_INT(wl_store_has(s, HELLO, 5), 1);
	/* A hard link under the name: another name is used, the linked file
	 * keeps its bytes. */
	put_text("outside", "not the store's");
	CHECK(link(at("outside"), path) == 0);
	CHECK_OK(wl__store_put_begin_hashed(&p, s, HELLO, 5, temp));
	CHECK_OK(wl_store_put_write(p, "hello", 5));
	CHECK_OK(wl_store_put_commit(p, NULL));
	CHECK(file_is(at("outside"), (const unsigned char *)"not the store's", 15));
	unlink(path);
	CHECK_INT(temporaries(at("store")), 0);
	/* A symbolic link under the name: the same. */
	CHECK(symlink(at("outside"), path) == 0);
	CHECK_OK(wl__store_put_begin_hashed(&p, s, HELLO, 5, temp));
	wl_store_put_abort(p);
	CHECK(file_is(at("outside"), (const unsigned char *)"not the store's", 15));
	unlink(path);
	wl_store_free(s);
}

TEST(a_layer_partial_is_held_by_one_pull_at_a_time)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	const char *layer = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	int fd = -1, fd2 = -1;
	char *path = NULL, *path2 = NULL;
	CHECK_OK(wl__store_partial_open(s, layer, &fd, &path));
	CHECK(fd >= 0 && strstr(path, "/files/sha256/cd/put-layer-cdcd") != NULL);
	CHECK_INT(wl__store_partial_open(s, layer, &fd2, &path2), 1);
	CHECK(fd2 < 0 && path2 == NULL);
	/* Removed by its holder after others opened it: the next one gets a
	 * file under the name, not the removed one. */
	CHECK(write(fd, "abc", 3) == 3);
	unlink(path);
	close(fd);
	CHECK_OK(wl__store_partial_open(s, layer, &fd2, &path2));
	struct stat st;
	CHECK(fstat(fd2, &st) == 0 && st.st_size == 0 && st.st_nlink == 1);
	close(fd2);
	free(path2);
	CHECK_ERR(wl__store_partial_open(s, "sha256:zz", &fd, &path2), WL_EINVALID, "invalid digest");
	CHECK(fd < 0 && path2 == NULL);
	free(path);
	wl_store_free(s);
}

/* Empty, or holding nothing (a directory a planted link pointed at). */
static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	bool empty = true;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
	closedir(d);
	return empty;
}

/* A path below store/files/sha256 (at() cannot take names this long). */
static const char *below_sha256(const char *rel)
{
	static char bufs[2][PATH_MAX + 256];
	static int next;
	char *b = bufs[next++ & 1];
	snprintf(b, PATH_MAX + 256, "%s/%s", at("store/files/sha256"), rel);
	return b;
}

#define HELLO_FILE below_sha256("2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")

TEST(a_link_planted_at_a_prefix_directory_is_refused_naming_it)
{
	scratch_new();
	mkdir(at("victim"), 0755);
	mkdir(at("store"), 0755);
	mkdir(at("store/files"), 0755);
	mkdir(at("store/files/sha256"), 0755);
	CHECK(symlink(at("victim"), at("store/files/sha256/2c")) == 0);
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	wl_store_put *p = NULL;
	CHECK_ERR(wl_store_put_begin(&p, s, HELLO, 5), WL_EINVALID, "files/sha256/2c is a symbolic link: refused");
	CHECK_ERR(wl__store_put_begin_hashed(&p, s, HELLO, 5, NULL), WL_EINVALID, "symbolic link: refused");
	CHECK_ERR(wl_store_has(s, HELLO, 5), WL_EINVALID, "files/sha256/2c is a symbolic link: refused");
	/* Known only once hashed: refused at the rename. */
	CHECK_ERR(put(s, NULL, -1, "hello", NULL), WL_EINVALID, "files/sha256/2c is a symbolic link: refused");
	int fd = -1;
	char *path = NULL;
	CHECK_ERR(wl__store_partial_open(s, "sha256:2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c", &fd, &path),
	          WL_EINVALID, "symbolic link: refused");
	CHECK(fd < 0 && path == NULL);
	CHECK(dir_empty(at("victim")));
	/* The same one level up. */
	unlink(at("store/files/sha256/2c"));
	rmdir(at("store/files/sha256"));
	CHECK(symlink(at("victim"), at("store/files/sha256")) == 0);
	CHECK_ERR(put(s, HELLO, 5, "hello", NULL), WL_EINVALID, "files/sha256 is a symbolic link: refused");
	CHECK(dir_empty(at("victim")));
	CHECK_INT(temporaries(at("store")), 0);
	wl_store_free(s);
}

TEST(a_file_planted_at_a_partial_name_is_never_written_through)
{
	scratch_new();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	const char *layer = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	char name[PATH_MAX + 256];
	snprintf(name, sizeof name, "%s", below_sha256("cd/put-layer-cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"));
	mkdir(at("store"), 0755);
	mkdir(at("store/files"), 0755);
	mkdir(at("store/files/sha256"), 0755);
	mkdir(at("store/files/sha256/cd"), 0755);
	put_text("outside", "not the store's");
	const char *plants[] = {"hard link", "symbolic link", "another user's file"};
	for (int i = 0; i < 3; i++) {
		if (i == 0)
			CHECK(link(at("outside"), name) == 0);
		else if (i == 1)
			CHECK(symlink(at("outside"), name) == 0);
		else {
			{
				FILE *f = fopen(name, "w");
				CHECK(f != NULL && fputs("planted bytes", f) >= 0 && fclose(f) == 0);
			}
			CHECK(chown(name, 65534, 65534) == 0);
		}
		int fd = -1;
		char *path = NULL;
		CHECK_OK(wl__store_partial_open(s, layer, &fd, &path));
		struct stat st;
		CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && st.st_nlink == 1 &&
		      st.st_uid == geteuid());
		CHECK(write(fd, "abc", 3) == 3);
		CHECK(file_is(at("outside"), (const unsigned char *)"not the store's", 15));
		if (lstat(name, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 3) {
			HARNESS_FAIL("planted %s: the partial is not the file written", plants[i]);
			return;
		}
		close(fd);
		wl__store_partial_remove(s, layer);
		CHECK(access(name, F_OK) != 0);
		free(path);
	}
	/* A named temporary: the same. */
	char temp[WL__STORE_TEMP_MAX];
	wl__store_layer_temp(temp, layer, 0);
	char tpath[PATH_MAX];
	snprintf(tpath, sizeof tpath, "%s/%s", at("store/files/sha256"), temp);
	CHECK(symlink(at("outside"), tpath) == 0);
	wl_store_put *p = NULL;
	CHECK_OK(wl__store_put_begin_hashed(&p, s, HELLO, 5, temp));
	struct stat st;
	CHECK(lstat(tpath, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_OK(wl_store_put_write(p, "hello", 5));
	CHECK_OK(wl_store_put_commit(p, NULL));
	CHECK(file_is(at("outside"), (const unsigned char *)"not the store's", 15));
	CHECK(file_is(HELLO_FILE, (const unsigned char *)"hello", 5));
	CHECK_INT(temporaries(at("store")), 0);
	wl_store_free(s);
}

/* A same-size file with the wrong bytes under HELLO's name. */
static void plant_wrong_hello(void)
{
	mkdir(at("store"), 0755);
	mkdir(at("store/files"), 0755);
	mkdir(at("store/files/sha256"), 0755);
	mkdir(at("store/files/sha256/2c"), 0755);
	FILE *f = fopen(HELLO_FILE, "w");
	if (f != NULL && fputs("HELLO", f) >= 0)
		fclose(f);
}

TEST(in_a_store_others_may_write_to_a_file_is_rehashed_before_it_counts)
{
	/* Each way the rule fails: a directory writable by others, or owned by
	 * someone else, at each level; and the file owned by someone else. */
	const char *dirs[] = {"store", "store/files", "store/files/sha256", "store/files/sha256/2c"};
	for (int i = 0; i < 9; i++) {
		scratch_new();
		plant_wrong_hello();
		if (i < 4)
			CHECK(chmod(at(dirs[i]), 0757) == 0);
		else if (i < 8)
			CHECK(chown(at(dirs[i - 4]), 65534, 65534) == 0);
		else
			CHECK(chown(HELLO_FILE, 65534, 65534) == 0);
		wl_store *s = NULL;
		CHECK_OK(wl_store_open(&s, at("store")));
		int has = wl_store_has(s, HELLO, 5);
		if (has != 0) {
			HARNESS_FAIL("case %d: wl_store_has is %d, want 0 (re-hashed)", i, has);
			return;
		}
		/* Fetched again: the right bytes replace the wrong ones. */
		CHECK_OK(put(s, HELLO, 5, "hello", NULL));
		CHECK(file_is(HELLO_FILE, (const unsigned char *)"hello", 5));
		CHECK_INT(wl_store_has(s, HELLO, 5), 1);
		CHECK_INT(temporaries(at("store")), 0);
		wl_store_free(s);
	}
}

TEST(in_a_store_of_ours_a_file_is_trusted_by_name_and_size)
{
	/* The rule, documented: no re-hashing where no one else could have
	 * put the file, so a same-size wrong file (only we could have made
	 * it) counts as present. */
	scratch_new();
	plant_wrong_hello();
	wl_store *s = NULL;
	CHECK_OK(wl_store_open(&s, at("store")));
	CHECK_INT(wl_store_has(s, HELLO, 5), 1);
	CHECK_INT(wl_store_has(s, HELLO, 4), 0);
	wl_store_free(s);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!scratch_init("store")) {
		perror("mkdtemp");
		return 1;
	}
	RUN(a_verified_file_lands_under_its_digest_with_mode_0644);
	RUN(wrong_bytes_or_sizes_leave_nothing);
	RUN(a_restarted_download_keeps_only_the_second_attempt);
	RUN(a_store_path_that_is_a_file_fails_naming_it);
	RUN(concurrent_writers_of_one_digest_are_harmless);
	RUN(a_large_file_lands_whole_through_odd_pieces_and_a_restart);
	RUN(a_batch_makes_small_files_durable_together);
	RUN(a_named_temporary_is_reused_but_never_through_a_link);
	RUN(a_layer_partial_is_held_by_one_pull_at_a_time);
	RUN(a_link_planted_at_a_prefix_directory_is_refused_naming_it);
	RUN(a_file_planted_at_a_partial_name_is_never_written_through);
	RUN(in_a_store_others_may_write_to_a_file_is_rehashed_before_it_counts);
	RUN(in_a_store_of_ours_a_file_is_trusted_by_name_and_size);
	scratch_remove(scratch_root);
	return harness_summary("store");
}
