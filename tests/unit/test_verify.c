/*
 * test_verify.c - whether a directory materializes an entry (SPEC.md
 * §12.1): one test per rule of wl_verify_dir.
 *
 * Each test writes a tree into its scratch directory and an entry listing
 * what the tree should hold; recorded digests are computed here with
 * OpenSSL's one-shot SHA256(), independently of the code under test.
 */
#include "harness.h"
#include "scratch_tree.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

/* ---- an entry built alongside the tree ---- */

enum { MAX_FILES = 1200 };

typedef struct fixture {
	wl_entry entry;
	wl_file files[MAX_FILES];
	char paths[MAX_FILES][128];
	char digests[MAX_FILES][WL_DIGEST_LEN + 1];
} fixture;

static fixture fx;

static void one_shot(char out[WL_DIGEST_LEN + 1], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	SHA256(data, len, md);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[WL_DIGEST_LEN] = '\0';
}

static void fixture_reset(void)
{
	memset(&fx, 0, sizeof fx);
	fx.entry.name = wl_str("w");
	fx.entry.files = fx.files;
	fx.entry.files_present = true;
}

/* Records `rel` with these bytes, without writing anything. */
static void record_bytes(const char *rel, const void *data, size_t len)
{
	size_t i = fx.entry.file_count++;
	snprintf(fx.paths[i], sizeof fx.paths[i], "%s", rel);
	one_shot(fx.digests[i], data, len);
	fx.files[i].path = wl_str(fx.paths[i]);
	fx.files[i].size = (int64_t)len;
	fx.files[i].digest = wl_str(fx.digests[i]);
}

/* "d/" + rel, in one of a few rotating buffers. */
static const char *in_d(const char *rel)
{
	static char *bufs[4];
	static int next;
	char **b = &bufs[next++ & 3];
	free(*b);
	if (asprintf(b, "d/%s", rel) < 0)
		*b = NULL;
	return *b;
}

/* Writes DIR/rel and records it. */
static bool add_bytes(const char *rel, const void *data, size_t len)
{
	record_bytes(rel, data, len);
	return put_bytes(in_d(rel), data, len);
}

static bool add_text(const char *rel, const char *text)
{
	return add_bytes(rel, text, strlen(text));
}

/* Writes DIR/rel without recording it. */
static bool disk_text(const char *rel, const char *text)
{
	return put_text(in_d(rel), text);
}

static const char *d(const char *rel)
{
	return at(in_d(rel));
}

/* A fresh scratch directory with an empty DIR "d" and an empty entry. */
static void fresh(void)
{
	scratch_new();
	put_dir("d");
	fixture_reset();
}

static int verify(wl_verify_report **out, bool sizes_only, int threads)
{
	wl_verify_options o = {.threads = threads, .sizes_only = sizes_only};
	return wl_verify_dir(out, &fx.entry, at("d"), &o);
}

/* "a,b,c" for a list, to compare with one string. */
static const char *joined(char **list, size_t count)
{
	static char buf[8][4096];
	static int next;
	char *b = buf[next++ & 7];
	size_t n = 0;
	b[0] = '\0';
	for (size_t i = 0; i < count; i++)
		n += (size_t)snprintf(b + n, sizeof buf[0] - n, "%s%s", i ? "," : "", list[i]);
	return b;
}

#define CHECK_REPORT(r, want_missing, want_extra, want_modified)                         \
	do {                                                                             \
		CHECK_STR(joined((r)->missing, (r)->missing_count), want_missing);       \
		CHECK_STR(joined((r)->extra, (r)->extra_count), want_extra);             \
		CHECK_STR(joined((r)->modified, (r)->modified_count), want_modified);    \
	} while (0)

/* Runs verify with one thread and with four, expecting the same report. */
#define CHECK_VERIFY(sizes_only, want_missing, want_extra, want_modified)                \
	do {                                                                             \
		for (int t_ = 1; t_ <= 4; t_ += 3) {                                     \
			wl_verify_report *r_ = NULL;                                     \
			CHECK_OK(verify(&r_, sizes_only, t_));                           \
			const char *m_ = joined(r_->missing, r_->missing_count);         \
			const char *e_ = joined(r_->extra, r_->extra_count);             \
			const char *o_ = joined(r_->modified, r_->modified_count);       \
			wl_verify_report_free(r_);                                       \
			CHECK_STR(m_, want_missing);                                     \
			CHECK_STR(e_, want_extra);                                       \
			CHECK_STR(o_, want_modified);                                    \
		}                                                                        \
	} while (0)

static void basic_tree(void)
{
	add_text("config.json", "{\"a\":1}\n");
	add_text("model.safetensors", "0123456789abcdef");
	add_text("tokenizer/vocab.txt", "hello\nworld\n");
	add_bytes("empty", "", 0);
}

/* ---- the rules ---- */

TEST(exact_match_reports_nothing)
{
	fresh();
	basic_tree();
	wl_verify_report *r = NULL;
	CHECK_OK(verify(&r, false, 0));
	CHECK_INT(r->missing_count + r->extra_count + r->modified_count, 0);
	CHECK(r->missing == NULL && r->extra == NULL && r->modified == NULL);
	wl_verify_report_free(r);
	CHECK_VERIFY(true, "", "", "");
}

TEST(empty_directories_are_not_compared)
{
	fresh();
	basic_tree();
	put_dir("d/empty-dir");
	put_dir("d/tokenizer/deeper/still");
	CHECK_VERIFY(false, "", "", "");
}

TEST(recorded_file_absent_is_missing)
{
	fresh();
	basic_tree();
	record_bytes("gone.bin", "x", 1);
	record_bytes("tokenizer/merges.txt", "m", 1);
	record_bytes("never/made/a.bin", "y", 1);
	CHECK_VERIFY(false, "gone.bin,never/made/a.bin,tokenizer/merges.txt", "", "");
}

TEST(unrecorded_regular_file_is_extra)
{
	fresh();
	basic_tree();
	disk_text("notes.txt", "n");
	disk_text("tokenizer/extra.txt", "e");
	CHECK_VERIFY(false, "", "notes.txt,tokenizer/extra.txt", "");
}

TEST(symlink_is_extra_whatever_it_points_to)
{
	fresh();
	basic_tree();
	put_symlink("d/link-to-file", "config.json");
	put_symlink("d/link-to-dir", "tokenizer");
	put_symlink("d/dangling", "nowhere");
	put_symlink("d/outside", "/etc");
	/* Only the links themselves: nothing below link-to-dir is listed. */
	CHECK_VERIFY(false, "", "dangling,link-to-dir,link-to-file,outside", "");
}

TEST(fifo_and_socket_are_extra)
{
	fresh();
	basic_tree();
	CHECK(put_fifo("d/pipe"));
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(s >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d("sock"));
	bool bound = strlen(d("sock")) < sizeof sa.sun_path && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(s);
	if (bound)
		CHECK_VERIFY(false, "", "pipe,sock", "");
	else
		CHECK_VERIFY(false, "", "pipe", "");
}

TEST(character_device_is_extra)
{
	fresh();
	basic_tree();
	/* As root the tests can make a device node; elsewhere skip quietly. */
	if (mknod(d("null"), S_IFCHR | 0666, makedev(1, 3)) != 0)
		return;
	CHECK_VERIFY(false, "", "null", "");
}

TEST(same_size_other_content_is_modified)
{
	fresh();
	basic_tree();
	disk_text("model.safetensors", "0123456789abcdeF");
	CHECK_VERIFY(false, "", "", "model.safetensors");
}

TEST(other_size_is_modified)
{
	fresh();
	basic_tree();
	disk_text("config.json", "{\"a\":12}\n");
	disk_text("empty", "now with bytes");
	CHECK_VERIFY(false, "", "", "config.json,empty");
}

TEST(recorded_path_that_is_a_directory_is_modified)
{
	fresh();
	basic_tree();
	record_bytes("sub", "s", 1);
	disk_text("sub/inner.txt", "i");
	CHECK_VERIFY(false, "", "sub/inner.txt", "sub");
	/* Even empty, a directory is not the recorded file. */
	fresh();
	basic_tree();
	record_bytes("sub", "s", 1);
	put_dir("d/sub");
	CHECK_VERIFY(false, "", "", "sub");
}

TEST(recorded_path_that_is_a_symlink_or_fifo_is_modified)
{
	fresh();
	basic_tree();
	put_text("real.bin", "0123456789abcdef");
	record_bytes("weights.bin", "0123456789abcdef", 16);
	put_symlink("d/weights.bin", at("real.bin"));
	record_bytes("pipe", "", 0);
	CHECK(put_fifo("d/pipe"));
	CHECK_VERIFY(false, "", "", "pipe,weights.bin");
	CHECK_VERIFY(true, "", "", "pipe,weights.bin");
}

TEST(top_level_cog_directory_is_ignored)
{
	fresh();
	basic_tree();
	put_text("d/.cog/ready", "");
	put_text("d/.cog/state/anything", "x");
	put_symlink("d/.cog/link", "/etc");
	CHECK_VERIFY(false, "", "", "");
}

TEST(top_level_cog_that_is_not_a_directory_is_extra)
{
	fresh();
	basic_tree();
	disk_text(".cog", "a file named .cog");
	CHECK_VERIFY(false, "", ".cog", "");
}

TEST(cog_directory_below_the_top_is_not_special)
{
	fresh();
	basic_tree();
	put_text("d/tokenizer/.cog/ready", "");
	put_text("d/sub/.cog/x", "x");
	CHECK_VERIFY(false, "", "sub/.cog/x,tokenizer/.cog/ready", "");
}

TEST(symlinked_directory_is_not_followed)
{
	fresh();
	add_text("real/b.txt", "b");
	record_bytes("a/b.txt", "b", 1);
	put_symlink("d/a", "real");
	CHECK_VERIFY(false, "a/b.txt", "a", "");
}

TEST(recorded_path_below_a_file_is_missing)
{
	fresh();
	record_bytes("a/b.txt", "b", 1);
	disk_text("a", "a file where a directory should be");
	CHECK_VERIFY(false, "a/b.txt", "a", "");
}

TEST(sizes_only_reads_no_content)
{
	fresh();
	basic_tree();
	disk_text("model.safetensors", "0123456789abcdeF"); /* same size */
	disk_text("config.json", "{}");                     /* other size */
	CHECK_VERIFY(true, "", "", "config.json");
	/* Proof that nothing is read: an unreadable file of the right size. */
	fresh();
	add_text("locked.bin", "secret");
	CHECK(chmod(d("locked.bin"), 0) == 0);
	if (geteuid() != 0) {
		CHECK_VERIFY(true, "", "", "");
		wl_verify_report *r = NULL;
		CHECK_ERR(verify(&r, false, 1), WL_EIO, "locked.bin");
	}
}

TEST(lists_are_sorted_by_path_byte_wise)
{
	fresh();
	/* Depth-first order would give a/b before a.txt; '.' < '/'. */
	disk_text("a/b", "1");
	disk_text("a.txt", "2");
	disk_text("a-z", "3");
	disk_text("B", "4");
	disk_text("\xc3\xa9", "5");
	record_bytes("m/x", "x", 1);
	record_bytes("m.x", "x", 1);
	record_bytes("m-x", "x", 1);
	add_text("z/y", "1");
	add_text("z.y", "22");
	disk_text("z/y", "9");
	disk_text("z.y", "99");
	CHECK_VERIFY(false, "m-x,m.x,m/x", "B,a-z,a.txt,a/b,\xc3\xa9", "z.y,z/y");
}

TEST(names_that_are_not_valid_paths_are_extra_with_their_bytes)
{
	fresh();
	basic_tree();
	disk_text("new\nline", "x");
	disk_text("bad\xff" "utf8", "x");
	disk_text("back\\slash", "x");
	wl_verify_report *r = NULL;
	CHECK_OK(verify(&r, false, 2));
	CHECK_INT(r->extra_count, 3);
	CHECK_STR(r->extra[0], "back\\slash");
	CHECK_STR(r->extra[1], "bad\xff" "utf8");
	CHECK_STR(r->extra[2], "new\nline");
	wl_verify_report_free(r);
}

TEST(recorded_path_leading_outside_is_only_missing)
{
	fresh();
	basic_tree();
	put_text("outside.txt", "o");
	record_bytes("../outside.txt", "o", 1);
	record_bytes("/etc/hostname", "h", 1);
	CHECK_VERIFY(false, "../outside.txt,/etc/hostname", "", "");
}

TEST(duplicate_recorded_path_is_an_error)
{
	fresh();
	basic_tree();
	record_bytes("config.json", "{\"a\":1}\n", 8);
	wl_verify_report *r = NULL;
	CHECK_ERR(verify(&r, false, 1), WL_EINVALID, "lists file \"config.json\" twice");
	CHECK(r == NULL);
}

TEST(entry_without_files_makes_everything_extra)
{
	fresh();
	disk_text("x", "x");
	fx.entry.files = NULL;
	fx.entry.files_present = false;
	CHECK_VERIFY(false, "", "x", "");
}

/* Sizes around the reader's buffer boundaries, and a few large files. */
static const size_t many_sizes[] = {0,      1,      55,     4096,     32767,         32768,  32769,
                                    65536,  524287, 524288, 524289,   3 << 20,       1000003};

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

TEST(many_files_on_several_threads)
{
	fresh();
	enum { N = 1000 };
	size_t nsizes = sizeof many_sizes / sizeof *many_sizes;
	for (unsigned i = 0; i < N; i++) {
		size_t len = i < nsizes ? many_sizes[i] : (size_t)(i * 37 % 5000);
		unsigned char *data = pattern(len, i);
		char rel[64];
		snprintf(rel, sizeof rel, "d%u/f%04u.bin", i % 13, i);
		bool ok = add_bytes(rel, data, len);
		free(data);
		CHECK(ok);
	}
	CHECK_VERIFY(false, "", "", "");
	/* Flip the last byte of a few files, large and small. */
	const unsigned flip[] = {8, 11, 500, 999};
	for (size_t k = 0; k < sizeof flip / sizeof *flip; k++) {
		unsigned i = flip[k];
		int fd = open(d(fx.paths[i]), O_RDWR);
		CHECK(fd >= 0);
		unsigned char c;
		off_t at_end = (off_t)fx.files[i].size - 1;
		CHECK(pread(fd, &c, 1, at_end) == 1);
		c ^= 1;
		CHECK(pwrite(fd, &c, 1, at_end) == 1);
		close(fd);
	}
	CHECK_VERIFY(false, "", "", "d11/f0011.bin,d11/f0999.bin,d6/f0500.bin,d8/f0008.bin");
	CHECK_VERIFY(true, "", "", "");
}

typedef struct progress_log {
	pthread_t caller;
	bool other_thread;
	int walk_calls, hash_calls;
	wl_progress last_hash;
	bool weight_named;
} progress_log;

static void on_progress(void *ctx, const wl_progress *p)
{
	progress_log *log = ctx;
	if (!pthread_equal(pthread_self(), log->caller))
		log->other_thread = true;
	if (p->weight == NULL || strcmp(p->weight, "w") != 0)
		log->weight_named = false;
	if (p->phase == WL_PHASE_WALK) {
		log->walk_calls++;
	} else if (p->phase == WL_PHASE_VERIFY) {
		log->hash_calls++;
		log->last_hash = *p;
	}
}

TEST(progress_reports_walk_then_files_and_bytes_on_the_calling_thread)
{
	fresh();
	unsigned char *big = pattern(5 << 20, 1);
	CHECK(add_bytes("big.bin", big, 5 << 20));
	free(big);
	basic_tree();
	disk_text("model.safetensors", "0123456789"); /* other size: not read */
	progress_log log;
	memset(&log, 0, sizeof log);
	log.caller = pthread_self();
	log.weight_named = true;
	wl_verify_options o = {.threads = 2, .progress = on_progress, .progress_ctx = &log};
	wl_verify_report *r = NULL;
	CHECK_OK(wl_verify_dir(&r, &fx.entry, at("d"), &o));
	CHECK_STR(joined(r->modified, r->modified_count), "model.safetensors");
	wl_verify_report_free(r);
	CHECK(!log.other_thread);
	CHECK(log.weight_named);
	CHECK(log.walk_calls >= 1);
	CHECK(log.hash_calls >= 1);
	CHECK_INT(log.last_hash.items_total, 4);
	CHECK_INT(log.last_hash.items_done, 4);
	CHECK_INT(log.last_hash.bytes_total, (5 << 20) + 8 + 12);
	CHECK_INT(log.last_hash.bytes_done, log.last_hash.bytes_total);
}

TEST(cancel_stops_verification)
{
	fresh();
	basic_tree();
	volatile sig_atomic_t cancel = 1;
	wl_verify_options o = {.threads = 2, .cancel = &cancel};
	wl_verify_report *r = NULL;
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, at("d"), &o), WL_ECANCELED, "canceled");
	CHECK(r == NULL);
}

TEST(nonexistent_directory_is_not_found)
{
	fresh();
	basic_tree();
	wl_verify_report *r = NULL;
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, at("nope"), NULL), WL_ENOTFOUND, "nope");
	CHECK(r == NULL);
	put_symlink("dangling", "nowhere");
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, at("dangling"), NULL), WL_ENOTFOUND, "dangling");
}

TEST(directory_that_is_a_file_is_invalid)
{
	fresh();
	put_text("file", "x");
	wl_verify_report *r = NULL;
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, at("file"), NULL), WL_EINVALID, "is not a directory");
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, at("file/below"), NULL), WL_ENOTFOUND, "file/below");
	CHECK_ERR(wl_verify_dir(&r, &fx.entry, "", NULL), WL_EINVALID, "empty");
	CHECK(r == NULL);
}

TEST(directory_named_through_a_symlink_is_followed_at_the_top_only)
{
	fresh();
	basic_tree();
	put_symlink("alias", "d");
	wl_verify_report *r = NULL;
	CHECK_OK(wl_verify_dir(&r, &fx.entry, at("alias"), NULL));
	CHECK_INT(r->missing_count + r->extra_count + r->modified_count, 0);
	wl_verify_report_free(r);
	wl_verify_report_free(NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!scratch_init("verify")) {
		perror("mkdtemp");
		return 1;
	}
	RUN(exact_match_reports_nothing);
	RUN(empty_directories_are_not_compared);
	RUN(recorded_file_absent_is_missing);
	RUN(unrecorded_regular_file_is_extra);
	RUN(symlink_is_extra_whatever_it_points_to);
	RUN(fifo_and_socket_are_extra);
	RUN(character_device_is_extra);
	RUN(same_size_other_content_is_modified);
	RUN(other_size_is_modified);
	RUN(recorded_path_that_is_a_directory_is_modified);
	RUN(recorded_path_that_is_a_symlink_or_fifo_is_modified);
	RUN(top_level_cog_directory_is_ignored);
	RUN(top_level_cog_that_is_not_a_directory_is_extra);
	RUN(cog_directory_below_the_top_is_not_special);
	RUN(symlinked_directory_is_not_followed);
	RUN(recorded_path_below_a_file_is_missing);
	RUN(sizes_only_reads_no_content);
	RUN(lists_are_sorted_by_path_byte_wise);
	RUN(names_that_are_not_valid_paths_are_extra_with_their_bytes);
	RUN(recorded_path_leading_outside_is_only_missing);
	RUN(duplicate_recorded_path_is_an_error);
	RUN(entry_without_files_makes_everything_extra);
	RUN(many_files_on_several_threads);
	RUN(progress_reports_walk_then_files_and_bytes_on_the_calling_thread);
	RUN(cancel_stops_verification);
	RUN(nonexistent_directory_is_not_found);
	RUN(directory_that_is_a_file_is_invalid);
	RUN(directory_named_through_a_symlink_is_followed_at_the_top_only);
	scratch_remove(scratch_root);
	return harness_summary("verify");
}
