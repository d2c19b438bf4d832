/*
 * hashcache.c - the hash cache: file digests remembered between imports,
 * keyed by device, inode, size, modification and change times, so an
 * unchanged file is not read again.
 *
 * A digest is recorded only when both of the file's times were at least
 * two seconds older than the moment its read began (git's racy-timestamp
 * rule): a file written in the same clock tick as it was hashed could
 * change again without its times moving, and must be read next time.
 *
 * The cache lives in `<dir>/hashes`, one binary file, all integers little
 * endian:
 *
 *     offset  size  field
 *     0       8     magic "wlhashc\n"
 *     8       4     format version, 1
 *     12      4     record size, 80
 *     16      8     record count N
 *     24      80*N  records: dev u64, ino u64, size i64, mtime_ns i64,
 *                   ctime_ns i64, stamp i64 (when it was last recorded or
 *                   used, CLOCK_REALTIME ns), sha256 (32 raw bytes)
 *     24+80N  32    sha256 of every byte before it
 *
 * Any file that is not exactly this (foreign, truncated, corrupt) reads as
 * an empty cache and is replaced on the next save. Saving takes an
 * exclusive flock on `<dir>/hashes.lock`, re-reads the file, merges (per
 * (dev, ino) the record with the later stamp wins), keeps the
 * MAX_RECORDS most recent records, writes atomically and unlocks, so
 * concurrent imports lose nothing but the older of two competing records.
 */
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "wlhashc\n"
#define FORMAT_VERSION 1
#define HEADER_SIZE 24
#define RECORD_SIZE 80
#define TRAILER_SIZE 32
#define MAX_RECORDS ((size_t)1000000)
#define RACY_NS ((int64_t)2000000000)
/* A record used again is re-stamped at most once a day, so a run where
 * every file hits does not rewrite the whole cache. */
#define RESTAMP_NS ((int64_t)86400 * 1000000000)

typedef struct record {
	uint64_t dev, ino;
	int64_t size, mtime_ns, ctime_ns, stamp;
	unsigned char sha256[32];
} record;

struct wl_hash_cache {
	pthread_mutex_t mu;
	char *dir;
	record *records;
	size_t count, cap;
	uint32_t *slots; /* open addressing on (dev, ino): record index + 1, 0 = free */
	size_t slot_count; /* a power of two, more than twice `count` */
	bool dirty;        /* something to save */
	bool untrusted;    /* §15: ignored, never read nor written */
	char *warning;     /* why, when untrusted */
};

/* ---- the in-memory table ---- */

static size_t slot_of(const wl_hash_cache *c, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9E3779B97F4A7C15ULL) ^ (dev * 0xC2B2AE3D27D4EB4FULL);
	h ^= h >> 29;
	return (size_t)h & (c->slot_count - 1);
}

static record *find(const wl_hash_cache *c, uint64_t dev, uint64_t ino)
{
	if (c->slot_count == 0)
		return NULL;
	for (size_t s = slot_of(c, dev, ino);; s = (s + 1) & (c->slot_count - 1)) {
		uint32_t v = c->slots[s];
		if (v == 0)
			return NULL;
		record *r = &c->records[v - 1];
		if (r->dev == dev && r->ino == ino)
			return r;
	}
}

static bool rebuild_slots(wl_hash_cache *c, size_t want)
{
	size_t n = 64;
	while (n < want * 2 + 2)
		n *= 2;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (slots == NULL)
		return false;
	free(c->slots);
	c->slots = slots;
	c->slot_count = n;
	for (size_t i = 0; i < c->count; i++) {
		size_t s = slot_of(c, c->records[i].dev, c->records[i].ino);
		while (slots[s] != 0)
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	return true;
}

/* Adds `r`, or replaces the record of the same (dev, ino) when `force`
 * is set or `r` is at least as recent. */
static bool upsert(wl_hash_cache *c, const record *r, bool force)
{
	record *old = find(c, r->dev, r->ino);
	if (old != NULL) {
		if (force || r->stamp >= old->stamp)
			*old = *r;
		return true;
	}
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		record *p = realloc(c->records, cap * sizeof *p);
		if (p == NULL)
			return false;
		c->records = p;
		c->cap = cap;
	}
	if ((c->count + 1) * 2 + 2 > c->slot_count && !rebuild_slots(c, c->count + 1))
		return false;
	c->records[c->count++] = *r;
	size_t s = slot_of(c, r->dev, r->ino);
	while (c->slots[s] != 0)
		s = (s + 1) & (c->slot_count - 1);
	c->slots[s] = (uint32_t)c->count;
	return true;
}

static int newer_first(const void *a, const void *b)
{
	const record *x = a, *y = b;
	return x->stamp > y->stamp ? -1 : x->stamp < y->stamp ? 1 : 0;
}

static bool enforce_cap(wl_hash_cache *c)
{
	if (c->count <= MAX_RECORDS)
		return true;
	qsort(c->records, c->count, sizeof *c->records, newer_first);
	c->count = MAX_RECORDS;
	return rebuild_slots(c, c->count);
}

/* ---- the file format ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Merges the records of file bytes into the table. Returns 1 when the
 * bytes are a valid cache file, 0 when they are not (nothing merged), or
 * a negative error code. */
static int merge_bytes(wl_hash_cache *c, const unsigned char *p, size_t len)
{
	if (len < HEADER_SIZE + TRAILER_SIZE || memcmp(p, MAGIC, 8) != 0 ||
	    get_u32(p + 8) != FORMAT_VERSION || get_u32(p + 12) != RECORD_SIZE)
		return 0;
	uint64_t n = get_u64(p + 16);
	if (n > (len - HEADER_SIZE - TRAILER_SIZE) / RECORD_SIZE ||
	    HEADER_SIZE + n * RECORD_SIZE + TRAILER_SIZE != len)
		return 0;
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(p, len - TRAILER_SIZE, md);
	if (memcmp(md, p + len - TRAILER_SIZE, TRAILER_SIZE) != 0)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *q = p + HEADER_SIZE + i * RECORD_SIZE;
		record r;
		r.dev = get_u64(q);
		r.ino = get_u64(q + 8);
		r.size = (int64_t)get_u64(q + 16);
		r.mtime_ns = (int64_t)get_u64(q + 24);
		r.ctime_ns = (int64_t)get_u64(q + 32);
		r.stamp = (int64_t)get_u64(q + 40);
		memcpy(r.sha256, q + 48, 32);
		if (r.size < 0)
			continue;
		if (!upsert(c, &r, false))
			return wl__nomem();
	}
	return 1;
}

static int encode(const wl_hash_cache *c, unsigned char **out, size_t *out_len)
{
	size_t len = HEADER_SIZE + c->count * RECORD_SIZE + TRAILER_SIZE;
	unsigned char *p = malloc(len);
	if (p == NULL)
		return wl__nomem();
	memcpy(p, MAGIC, 8);
	put_u32(p + 8, FORMAT_VERSION);
	put_u32(p + 12, RECORD_SIZE);
	put_u64(p + 16, c->count);
	for (size_t i = 0; i < c->count; i++) {
		const record *r = &c->records[i];
		unsigned char *q = p + HEADER_SIZE + i * RECORD_SIZE;
		put_u64(q, r->dev);
		put_u64(q + 8, r->ino);
		put_u64(q + 16, (uint64_t)r->size);
		put_u64(q + 24, (uint64_t)r->mtime_ns);
		put_u64(q + 32, (uint64_t)r->ctime_ns);
		put_u64(q + 40, (uint64_t)r->stamp);
		memcpy(q + 48, r->sha256, 32);
	}
	SHA256(p, len - TRAILER_SIZE, p + len - TRAILER_SIZE);
	*out = p;
	*out_len = len;
	return 0;
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* ---- trust (§15) ---- */

static void set_untrusted(wl_hash_cache *c, const char *what, const char *why)
{
	if (c->untrusted)
		return;
	c->untrusted = true;
	c->dirty = false;
	if (asprintf(&c->warning, "hash cache %s ignored: %s %s", c->dir, what, why) < 0)
		c->warning = NULL;
}

/* The cache directory, open, when it exists and may be trusted; else -1
 * (and the cache is marked untrusted when it exists). */
static int open_dir(wl_hash_cache *c)
{
	int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1; /* made (0700) when first saved */
	struct stat st;
	const char *why = fstat(dfd, &st) != 0 ? "cannot be examined" : wl__distrust(&st);
	if (why != NULL) {
		set_untrusted(c, "its directory", why);
		close(dfd);
		return -1;
	}
	return dfd;
}

/* Merges `<dir>/hashes` into the table when the directory and the file
 * may be trusted (else marks the cache untrusted). A missing, unreadable
 * or invalid file merges nothing; `*valid` says whether it was a cache
 * file. */
static int merge_file(wl_hash_cache *c, bool *exists, bool *valid)
{
	*exists = *valid = false;
	int dfd = open_dir(c);
	if (dfd < 0)
		return 0;
	struct stat st;
	const char *why;
	int fd = openat(dfd, "hashes", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int err = errno;
	close(dfd);
	if (fd < 0) {
		if (err == ELOOP)
			set_untrusted(c, "its file", "is a symbolic link");
		else if (err != ENOENT)
			*exists = true; /* unreadable: replaced at the next save */
		return 0;
	}
	*exists = true;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		why = "is not a regular file";
	else
		why = wl__distrust(&st);
	if (why != NULL) {
		set_untrusted(c, "its file", why);
		close(fd);
		return 0;
	}
	char *data = NULL;
	size_t len = 0;
	int rc = wl_read_fd(&data, &len, fd, "hashes", HEADER_SIZE + MAX_RECORDS * RECORD_SIZE + TRAILER_SIZE);
	close(fd);
	if (rc == WL_ENOMEM)
		return rc;
	if (rc != 0) {
		wl_error_clear(); /* unreadable or too large: not a cache file */
		return 0;
	}
	rc = merge_bytes(c, (const unsigned char *)data, len);
	free(data);
	if (rc < 0)
		return rc;
	*valid = rc == 1;
	return 0;
}

/* ---- the public API ---- */

int wl_hash_cache_open(wl_hash_cache **out, const char *dir)
{
	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return wl__fail(WL_EINVALID, "hash cache directory is empty");
	wl_hash_cache *c = calloc(1, sizeof *c);
	if (c == NULL)
		return wl__nomem();
	c->dir = strdup(dir);
	if (c->dir == NULL) {
		free(c);
		return wl__nomem();
	}
	pthread_mutex_init(&c->mu, NULL);
	bool exists, valid;
	int rc = merge_file(c, &exists, &valid);
	if (rc != 0) {
		wl_hash_cache_free(c);
		return rc;
	}
	/* Never trusted, and replaced at the next save. */
	c->dirty = !c->untrusted && exists && !valid;
	*out = c;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

bool wl_hash_cache_get(wl_hash_cache *cache, const wl_source_file *file, char digest[WL_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	if (cache == NULL || cache->untrusted)
		return false;
	pthread_mutex_lock(&cache->mu);
	record *r = find(cache, file->dev, file->ino);
	bool hit = r != NULL && r->size == file->size && r->mtime_ns == file->mtime_ns &&
	           r->ctime_ns == file->ctime_ns;
	if (hit) {
		memcpy(digest, "sha256:", 7);
		for (int i = 0; i < 32; i++) {
			digest[7 + 2 * i] = hex[r->sha256[i] >> 4];
			digest[8 + 2 * i] = hex[r->sha256[i] & 15];
		}
		digest[WL_DIGEST_LEN] = '\0';
		int64_t now = now_ns();
		if (r->stamp < now - RESTAMP_NS) {
			r->stamp = now;
			cache->dirty = true;
		}
	}
	pthread_mutex_unlock(&cache->mu);
	return hit;
}

void wl_hash_cache_put(wl_hash_cache *cache, const wl_source_file *file, int64_t hashed_at_ns)
{
	if (cache == NULL || cache->untrusted || !file->verified || file->size < 0 ||
	    !wl_digest_valid((wl_string){file->digest, strlen(file->digest)}))
		return;
	/* The racy-timestamp rule: times within two seconds of the read may
	 * not move on a later change. */
	if (file->mtime_ns > hashed_at_ns - RACY_NS || file->ctime_ns > hashed_at_ns - RACY_NS)
		return;
	record r;
	r.dev = file->dev;
	r.ino = file->ino;
	r.size = file->size;
	r.mtime_ns = file->mtime_ns;
	r.ctime_ns = file->ctime_ns;
	r.stamp = hashed_at_ns;
	for (int i = 0; i < 32; i++)
		r.sha256[i] = (unsigned char)(hex_value(file->digest[7 + 2 * i]) << 4 |
		                              hex_value(file->digest[8 + 2 * i]));
	pthread_mutex_lock(&cache->mu);
	/* What was just read supersedes whatever was known. Out of memory
	 * only costs a re-read next time. */
	if (upsert(cache, &r, true))
		cache->dirty = true;
	pthread_mutex_unlock(&cache->mu);
}


static int save_locked(wl_hash_cache *c)
{
	bool exists, valid;
	int rc = merge_file(c, &exists, &valid);
	if (rc != 0 || c->untrusted)
		return rc;
	if (!enforce_cap(c))
		return wl__nomem();
	unsigned char *bytes = NULL;
	size_t len = 0;
	rc = encode(c, &bytes, &len);
	if (rc != 0)
		return rc;
	char *path = join(c->dir, "hashes");
	if (path == NULL) {
		free(bytes);
		return wl__nomem();
	}
	rc = wl_write_file_atomic(path, bytes, len);
	free(path);
	free(bytes);
	return rc;
}

int wl_hash_cache_save(wl_hash_cache *cache)
{
	if (cache == NULL)
		return 0;
	pthread_mutex_lock(&cache->mu);
	int rc = 0;
	if (!cache->dirty || cache->untrusted)
		goto out;
	rc = wl__make_dirs(cache->dir, 0700, "hash cache %s", cache->dir);
	if (rc != 0)
		goto out;
	int dfd = open_dir(cache);
	if (dfd < 0)
		goto out; /* not to be trusted (a warning says so), or gone */
	close(dfd);
	char *lock_path = join(cache->dir, "hashes.lock");
	if (lock_path == NULL) {
		rc = wl__nomem();
		goto out;
	}
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = wl__fail_errno(WL_EIO, errno, "open hash cache lock %s", lock_path);
		free(lock_path);
		goto out;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			rc = wl__fail_errno(WL_EIO, errno, "lock hash cache %s", lock_path);
			break;
		}
	}
	free(lock_path);
	if (rc == 0) {
		rc = save_locked(cache);
		flock(fd, LOCK_UN);
	}
	close(fd);
	if (rc == 0)
		cache->dirty = false;
out:
	pthread_mutex_unlock(&cache->mu);
	return rc;
}

const char *wl_hash_cache_warning(const wl_hash_cache *cache)
{
	return cache != NULL ? cache->warning : NULL;
}

void wl_hash_cache_free(wl_hash_cache *cache)
{
	if (cache == NULL)
		return;
	pthread_mutex_destroy(&cache->mu);
	free(cache->warning);
	free(cache->dir);
	free(cache->records);
	free(cache->slots);
	free(cache);
}
