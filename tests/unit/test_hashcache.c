/*
 * test_hashcache.c - the hash cache: exact-key lookups, the racy-timestamp
 * rule, the versioned self-checking file format (documented in
 * lib/source/hashcache.c), distrust of foreign and damaged files, and merging
 * saves from concurrent processes and threads.
 *
 * Files are never read here: the cache only sees wl_source_file keys.
 */
#include "harness.h"
#include "scratch_tree.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#define SEC ((int64_t)1000000000)
#define T0 ((int64_t)1700000000 * SEC)
#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static wl_source_file key(uint64_t dev, uint64_t ino, int64_t size, const char *digest)
{
	wl_source_file f;
	memset(&f, 0, sizeof f);
	f.path = wl_str("x.bin");
	f.dev = dev;
	f.ino = ino;
	f.size = size;
	f.mtime_ns = T0;
	f.ctime_ns = T0 + 5;
	f.verified = true;
	snprintf(f.digest, sizeof f.digest, "%s", digest);
	return f;
}

/* A digest whose hex is `n` in decimal digits, left-padded with zeros. */
static void numbered_digest(char out[WL_DIGEST_LEN + 1], unsigned long n)
{
	snprintf(out, WL_DIGEST_LEN + 1, "sha256:%064lu", n);
}

static bool has(wl_hash_cache *c, const wl_source_file *f, const char *want)
{
	char got[WL_DIGEST_LEN + 1] = "";
	if (!wl_hash_cache_get(c, f, got))
		return false;
	if (strcmp(got, want) != 0) {
		printf("  cached %s, want %s\n", got, want);
		return false;
	}
	return true;
}

static bool read_all(const char *path, unsigned char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return false;
	size_t cap = 1 << 16, n = 0;
	unsigned char *p = malloc(cap);
	size_t r;
	while ((r = fread(p + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	fclose(fp);
	*out = p;
	*len = n;
	return true;
}

static bool write_all(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return false;
	bool ok = fwrite(data, 1, len, fp) == len;
	return fclose(fp) == 0 && ok;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

TEST(missing_cache_is_empty_and_save_creates_private_directories)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("a/b/cache")));
	wl_source_file f = key(1, 2, 3, D1);
	CHECK(!has(c, &f, D1));
	/* Nothing recorded: nothing written. */
	CHECK_OK(wl_hash_cache_save(c));
	struct stat st;
	CHECK(stat(at("a"), &st) != 0);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK_OK(wl_hash_cache_save(c));
	CHECK(stat(at("a/b/cache"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 0777, 0700);
	CHECK(stat(at("a"), &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	CHECK(stat(at("a/b/cache/hashes"), &st) == 0 && S_ISREG(st.st_mode));
	wl_hash_cache_free(c);
}

TEST(lookup_needs_device_inode_size_and_both_times_to_match)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(10, 20, 30, D1);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK(has(c, &f, D1));
	wl_source_file g = f;
	g.dev++;
	CHECK(!has(c, &g, D1));
	g = f;
	g.ino++;
	CHECK(!has(c, &g, D1));
	g = f;
	g.size++;
	CHECK(!has(c, &g, D1));
	g = f;
	g.mtime_ns++;
	CHECK(!has(c, &g, D1));
	g = f;
	g.ctime_ns--;
	CHECK(!has(c, &g, D1));
	/* The path is not part of the key (a rename keeps the inode). */
	g = f;
	g.path = wl_str("renamed.bin");
	CHECK(has(c, &g, D1));
	/* A new record for the same file replaces the old one. */
	wl_source_file h = f;
	h.mtime_ns += SEC;
	h.ctime_ns += SEC;
	snprintf(h.digest, sizeof h.digest, "%s", D2);
	wl_hash_cache_put(c, &h, T0 + 20 * SEC);
	CHECK(has(c, &h, D2));
	CHECK(!has(c, &f, D1));
	wl_hash_cache_free(c);
}

TEST(racy_rule_records_only_times_two_seconds_before_the_read)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(1, 1, 1, D1); /* mtime T0, ctime T0+5ns */
	wl_hash_cache_put(c, &f, T0 + 2 * SEC); /* ctime 2 s - 5 ns before */
	CHECK(!has(c, &f, D1));
	f.ctime_ns = T0;
	f.mtime_ns = T0 + 1;
	wl_hash_cache_put(c, &f, T0 + 2 * SEC); /* mtime too recent */
	CHECK(!has(c, &f, D1));
	f.mtime_ns = T0;
	wl_hash_cache_put(c, &f, T0 + 2 * SEC); /* both exactly 2 s before */
	CHECK(has(c, &f, D1));
	/* Times in the future of the read are never recorded. */
	wl_source_file g = key(1, 2, 1, D1);
	g.mtime_ns = T0 + 100 * SEC;
	wl_hash_cache_put(c, &g, T0);
	CHECK(!has(c, &g, D1));
	wl_hash_cache_free(c);
}

TEST(put_ignores_a_file_without_a_valid_digest)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(1, 1, 1, "");
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK(!has(c, &f, ""));
	f = key(1, 1, 1, "sha256:ABCDEF1111111111111111111111111111111111111111111111111111111111");
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	char got[WL_DIGEST_LEN + 1];
	CHECK(!wl_hash_cache_get(c, &f, got));
	wl_hash_cache_free(c);
}

TEST(saved_records_are_found_after_reopening)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	for (unsigned long i = 0; i < 1000; i++) {
		wl_source_file f = key(7, 1000 + i, (int64_t)i, "");
		numbered_digest(f.digest, i);
		wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	}
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	for (unsigned long i = 0; i < 1000; i++) {
		wl_source_file f = key(7, 1000 + i, (int64_t)i, "");
		char want[WL_DIGEST_LEN + 1];
		numbered_digest(want, i);
		CHECK(has(c, &f, want));
	}
	wl_hash_cache_free(c);
}

TEST(file_format_is_magic_version_records_and_trailing_sha256)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(0x0102030405060708ULL, 0x1112131415161718ULL, 12345, D2);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	unsigned char *p = NULL;
	size_t len = 0;
	CHECK(read_all(at("cache/hashes"), &p, &len));
	bool ok = len == 24 + 80 + 32 && memcmp(p, "wlhashc\n", 8) == 0 && p[8] == 1 && p[9] == 0 &&
	          p[10] == 0 && p[11] == 0 && p[12] == 80 && le64(p + 16) == 1 &&
	          le64(p + 24) == 0x0102030405060708ULL && le64(p + 32) == 0x1112131415161718ULL &&
	          le64(p + 40) == 12345 && le64(p + 48) == (uint64_t)T0 &&
	          le64(p + 56) == (uint64_t)(T0 + 5) && le64(p + 64) == (uint64_t)(T0 + 10 * SEC) &&
	          p[72] == 0x22 && p[103] == 0x22;
	unsigned char md[32];
	SHA256(p, len - 32, md);
	ok = ok && memcmp(md, p + len - 32, 32) == 0;
	free(p);
	CHECK(ok);
}

/* Saves one record, lets `damage` alter the file, and checks that the
 * reopened cache trusts nothing and that the next save replaces it. */
static bool damaged_file_is_ignored(void (*damage)(unsigned char *p, size_t *len))
{
	scratch_new();
	wl_hash_cache *c = NULL;
	if (wl_hash_cache_open(&c, at("cache")) != 0)
		return false;
	wl_source_file f = key(3, 4, 5, D1);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	if (wl_hash_cache_save(c) != 0)
		return false;
	wl_hash_cache_free(c);
	unsigned char *p = NULL;
	size_t len = 0;
	if (!read_all(at("cache/hashes"), &p, &len))
		return false;
	unsigned char *q = realloc(p, len + 64);
	p = q;
	damage(p, &len);
	bool ok = write_all(at("cache/hashes"), p, len);
	free(p);
	if (!ok || wl_hash_cache_open(&c, at("cache")) != 0)
		return false;
	ok = !has(c, &f, D1);
	/* Replaced on save even with nothing new to record. */
	ok = ok && wl_hash_cache_save(c) == 0;
	wl_hash_cache_free(c);
	if (!ok || !read_all(at("cache/hashes"), &p, &len))
		return false;
	unsigned char md[32];
	SHA256(p, len - 32, md);
	ok = len == 24 + 32 && memcmp(p, "wlhashc\n", 8) == 0 && memcmp(md, p + len - 32, 32) == 0;
	free(p);
	return ok;
}

static void flip_digest_byte(unsigned char *p, size_t *len)
{
	(void)len;
	p[24 + 48] ^= 1;
}
static void flip_checksum_byte(unsigned char *p, size_t *len)
{
	p[*len - 1] ^= 0x80;
}
static void truncate_record(unsigned char *p, size_t *len)
{
	(void)p;
	*len -= 40;
}
static void append_garbage(unsigned char *p, size_t *len)
{
	memcpy(p + *len, "garbage", 7);
	*len += 7;
}
static void wrong_magic(unsigned char *p, size_t *len)
{
	(void)len;
	p[0] = 'W';
}
static void other_version(unsigned char *p, size_t *len)
{
	/* A future version, its checksum recomputed: still not trusted. */
	p[8] = 2;
	SHA256(p, *len - 32, p + *len - 32);
}
static void count_too_large(unsigned char *p, size_t *len)
{
	p[16] = 2;
	SHA256(p, *len - 32, p + *len - 32);
}
static void foreign_bytes(unsigned char *p, size_t *len)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < *len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
}
static void empty_file(unsigned char *p, size_t *len)
{
	(void)p;
	*len = 0;
}

TEST(corrupt_cache_file_is_ignored_and_rebuilt)
{
	CHECK(damaged_file_is_ignored(flip_digest_byte));
	CHECK(damaged_file_is_ignored(flip_checksum_byte));
}

TEST(truncated_or_extended_cache_file_is_ignored)
{
	CHECK(damaged_file_is_ignored(truncate_record));
	CHECK(damaged_file_is_ignored(append_garbage));
	CHECK(damaged_file_is_ignored(empty_file));
	CHECK(damaged_file_is_ignored(count_too_large));
}

TEST(foreign_cache_file_is_ignored)
{
	CHECK(damaged_file_is_ignored(wrong_magic));
	CHECK(damaged_file_is_ignored(other_version));
	CHECK(damaged_file_is_ignored(foreign_bytes));
}

TEST(a_directory_in_place_of_the_cache_file_is_an_empty_cache)
{
	scratch_new();
	CHECK(put_dir("cache/hashes"));
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(1, 2, 3, D1);
	CHECK(!has(c, &f, D1));
	/* Not a cache file to trust: ignored, said so, and left alone. */
	CHECK(wl_hash_cache_warning(c) != NULL && strstr(wl_hash_cache_warning(c), "its file is not a regular file"));
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK(!has(c, &f, D1));
	CHECK_OK(wl_hash_cache_save(c));
	struct stat st;
	CHECK(stat(at("cache/hashes"), &st) == 0 && S_ISDIR(st.st_mode));
	wl_hash_cache_free(c);
}

/* A cache with one record saved by us in `cache/`, then `spoil` applied;
 * checks the reopened cache is ignored with `why`, and that neither a put
 * nor a save touches the directory. */
static void planted_cache_is_ignored(void (*spoil)(void), const char *why)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	CHECK(wl_hash_cache_warning(c) == NULL);
	wl_source_file f = key(3, 4, 5, D1);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	spoil();
	unsigned char *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0;
	bool had = read_all(at("cache/hashes"), &before, &before_len);
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	const char *w = wl_hash_cache_warning(c);
	CHECK(w != NULL && strstr(w, "hash cache ") == w && strstr(w, " ignored: ") && strstr(w, why));
	CHECK(!has(c, &f, D1));
	wl_source_file g = key(3, 5, 5, D2);
	wl_hash_cache_put(c, &g, T0 + 10 * SEC);
	CHECK(!has(c, &g, D2));
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	bool has_now = read_all(at("cache/hashes"), &after, &after_len);
	CHECK(had == has_now && before_len == after_len &&
	      (before_len == 0 || memcmp(before, after, before_len) == 0));
	struct stat st;
	CHECK(lstat(at("cache/hashes.lock"), &st) != 0 || had);
	free(before);
	free(after);
}

static void dir_writable_by_all(void)
{
	chmod(at("cache"), 0777);
}

static void dir_writable_by_group(void)
{
	chmod(at("cache"), 0770);
}

static void file_writable_by_others(void)
{
	chmod(at("cache/hashes"), 0666);
}

static void file_owned_by_another_user(void)
{
	if (chown(at("cache/hashes"), 12345, 12345) != 0)
		perror("chown");
}

static void file_is_a_symlink(void)
{
	rename(at("cache/hashes"), at("elsewhere"));
	if (symlink(at("elsewhere"), at("cache/hashes")) != 0)
		perror("symlink");
}

TEST(a_cache_others_could_have_written_is_ignored_with_a_warning)
{
	planted_cache_is_ignored(dir_writable_by_all, "its directory is writable by others");
	planted_cache_is_ignored(dir_writable_by_group, "its directory is writable by others");
	planted_cache_is_ignored(file_writable_by_others, "its file is writable by others");
	planted_cache_is_ignored(file_is_a_symlink, "its file is a symbolic link");
	/* Changing a file's owner needs privilege; without it, a directory
	 * the user does not own stands in for it. */
	if (geteuid() == 0) {
		planted_cache_is_ignored(file_owned_by_another_user, "its file is not owned by you");
	} else {
		wl_hash_cache *c = NULL;
		CHECK_OK(wl_hash_cache_open(&c, "/"));
		const char *w = wl_hash_cache_warning(c);
		CHECK(w != NULL && strstr(w, "its directory is not owned by you"));
		wl_hash_cache_free(c);
	}
}

TEST(a_digest_not_read_from_the_walked_file_is_not_recorded)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(1, 2, 3, D1);
	f.verified = false;
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK(!has(c, &f, D1));
	f.verified = true;
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK(has(c, &f, D1));
	wl_hash_cache_free(c);
}

TEST(unusable_cache_directory_fails_the_save_naming_it)
{
	scratch_new();
	put_text("file", "not a directory");
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("file/cache")));
	wl_source_file f = key(1, 2, 3, D1);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC);
	CHECK_ERR(wl_hash_cache_save(c), WL_EIO, "file/cache");
	wl_hash_cache_free(c);
	wl_hash_cache_free(NULL);
	CHECK_OK(wl_hash_cache_save(NULL));
	CHECK(!wl_hash_cache_get(NULL, &f, f.digest));
	CHECK_ERR(wl_hash_cache_open(&c, ""), WL_EINVALID, "directory");
}

TEST(concurrent_saves_from_processes_merge)
{
	scratch_new();
	enum { PROCS = 4, ROUNDS = 5, PER_ROUND = 50 };
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		CHECK(pids[p] >= 0);
		if (pids[p] == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				wl_hash_cache *c = NULL;
				if (wl_hash_cache_open(&c, at("cache")) != 0)
					_exit(3);
				for (int i = 0; i < PER_ROUND; i++) {
					unsigned long n = (unsigned long)(p * 100000 + r * 1000 + i);
					wl_source_file f = key(9, n, 1, "");
					numbered_digest(f.digest, n);
					wl_hash_cache_put(c, &f, T0 + 10 * SEC);
				}
				if (wl_hash_cache_save(c) != 0)
					_exit(4);
				wl_hash_cache_free(c);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status = 0;
		waitpid(pids[p], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	for (int p = 0; p < PROCS; p++)
		for (int r = 0; r < ROUNDS; r++)
			for (int i = 0; i < PER_ROUND; i++) {
				unsigned long n = (unsigned long)(p * 100000 + r * 1000 + i);
				wl_source_file f = key(9, n, 1, "");
				char want[WL_DIGEST_LEN + 1];
				numbered_digest(want, n);
				if (!has(c, &f, want)) {
					HARNESS_FAIL("record %lu lost", n);
					wl_hash_cache_free(c);
					return;
				}
			}
	wl_hash_cache_free(c);
}

TEST(merge_keeps_the_more_recent_record_of_a_file)
{
	scratch_new();
	wl_hash_cache *a = NULL, *b = NULL;
	CHECK_OK(wl_hash_cache_open(&a, at("cache")));
	CHECK_OK(wl_hash_cache_open(&b, at("cache")));
	wl_source_file old = key(5, 6, 7, D1);
	wl_source_file newer = old;
	newer.mtime_ns += 50 * SEC;
	newer.ctime_ns += 50 * SEC;
	snprintf(newer.digest, sizeof newer.digest, "%s", D2);
	wl_hash_cache_put(a, &old, T0 + 10 * SEC);
	wl_hash_cache_put(b, &newer, T0 + 60 * SEC);
	CHECK_OK(wl_hash_cache_save(b)); /* the newer one lands first */
	CHECK_OK(wl_hash_cache_save(a));
	wl_hash_cache_free(a);
	wl_hash_cache_free(b);
	CHECK_OK(wl_hash_cache_open(&a, at("cache")));
	CHECK(has(a, &newer, D2));
	CHECK(!has(a, &old, D1));
	wl_hash_cache_free(a);
}

TEST(a_record_used_again_is_restamped_so_it_outlives_unused_ones)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	wl_source_file f = key(8, 9, 10, D1);
	wl_hash_cache_put(c, &f, T0 + 10 * SEC); /* years ago */
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	CHECK(has(c, &f, D1));
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	unsigned char *p = NULL;
	size_t len = 0;
	CHECK(read_all(at("cache/hashes"), &p, &len));
	int64_t stamp = len == 24 + 80 + 32 ? (int64_t)le64(p + 64) : 0;
	free(p);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * SEC + now.tv_nsec;
	CHECK(stamp > now_ns - 60 * SEC && stamp <= now_ns);
}

typedef struct put_job {
	wl_hash_cache *cache;
	unsigned long base;
} put_job;

static void *put_many(void *arg)
{
	put_job *j = arg;
	for (unsigned long i = 0; i < 5000; i++) {
		wl_source_file f = key(2, j->base + i, 1, "");
		numbered_digest(f.digest, j->base + i);
		wl_hash_cache_put(j->cache, &f, T0 + 10 * SEC);
		char got[WL_DIGEST_LEN + 1];
		wl_hash_cache_get(j->cache, &f, got);
	}
	return NULL;
}

TEST(put_and_get_are_thread_safe)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	pthread_t t[4];
	put_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i].cache = c;
		jobs[i].base = (unsigned long)i * 1000000;
		CHECK(pthread_create(&t[i], NULL, put_many, &jobs[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (unsigned long i = 0; i < 4; i++)
		for (unsigned long k = 0; k < 5000; k++) {
			wl_source_file f = key(2, i * 1000000 + k, 1, "");
			char want[WL_DIGEST_LEN + 1];
			numbered_digest(want, i * 1000000 + k);
			CHECK(has(c, &f, want));
		}
	wl_hash_cache_free(c);
}

TEST(cache_keeps_the_most_recent_million_records)
{
	scratch_new();
	wl_hash_cache *c = NULL;
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	const unsigned long n = 1000000 + 10;
	for (unsigned long i = 0; i < n; i++) {
		wl_source_file f = key(4, i, 1, D1);
		wl_hash_cache_put(c, &f, T0 + 10 * SEC + (int64_t)i);
	}
	CHECK_OK(wl_hash_cache_save(c));
	wl_hash_cache_free(c);
	struct stat st;
	CHECK(stat(at("cache/hashes"), &st) == 0);
	CHECK_INT(st.st_size, 24 + 80 * 1000000LL + 32);
	CHECK_OK(wl_hash_cache_open(&c, at("cache")));
	for (unsigned long i = 0; i < 10; i++) {
		wl_source_file f = key(4, i, 1, D1);
		CHECK(!has(c, &f, D1));
	}
	for (unsigned long i = 10; i < n; i += 99991) {
		wl_source_file f = key(4, i, 1, D1);
		CHECK(has(c, &f, D1));
	}
	wl_source_file last = key(4, n - 1, 1, D1);
	CHECK(has(c, &last, D1));
	wl_hash_cache_free(c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!scratch_init("hashcache")) {
		perror("mkdtemp");
		return 1;
	}
	RUN(missing_cache_is_empty_and_save_creates_private_directories);
	RUN(lookup_needs_device_inode_size_and_both_times_to_match);
	RUN(racy_rule_records_only_times_two_seconds_before_the_read);
	RUN(put_ignores_a_file_without_a_valid_digest);
	RUN(saved_records_are_found_after_reopening);
	RUN(file_format_is_magic_version_records_and_trailing_sha256);
	RUN(corrupt_cache_file_is_ignored_and_rebuilt);
	RUN(truncated_or_extended_cache_file_is_ignored);
	RUN(foreign_cache_file_is_ignored);
	RUN(a_directory_in_place_of_the_cache_file_is_an_empty_cache);
	RUN(a_cache_others_could_have_written_is_ignored_with_a_warning);
	RUN(a_digest_not_read_from_the_walked_file_is_not_recorded);
	RUN(unusable_cache_directory_fails_the_save_naming_it);
	RUN(concurrent_saves_from_processes_merge);
	RUN(merge_keeps_the_more_recent_record_of_a_file);
	RUN(a_record_used_again_is_restamped_so_it_outlives_unused_ones);
	RUN(put_and_get_are_thread_safe);
	RUN(cache_keeps_the_most_recent_million_records);
	scratch_remove(scratch_root);
	return harness_summary("hashcache");
}
