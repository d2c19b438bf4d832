/*
 * test_store.c - the content store (SPEC.md §17): files named by digest
 * under files/sha256/<2 hex>/, mode 0644, entering only whole and verified,
 * nothing left behind by a failed put, concurrent writers harmless.
 */
#include "harness.h"
#include "scratch_tree.h"

#include <dirent.h>
#include <sys/wait.h>

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
	scratch_remove(scratch_root);
	return harness_summary("store");
}
