/*
 * test_source.c - local directory sources: resolving a file:// URI
 * (SPEC.md §9.1) and walking a directory into an inventory (§9.2, §9.5,
 * §5.1 for names, Appendix B for how they are quoted in messages).
 */
#include "harness.h"
#include "scratch_tree.h"
#include "source/remote.h"

#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#define NON_REGULAR(rel, type)                                                                 \
	"weight source contains non-regular entry " rel " (" type                              \
	"); resolve to regular files before importing"

static wl_source_tree *walk_ok(const char *dir)
{
	wl_source_tree *t = NULL;
	int rc = wl_source_walk(&t, dir);
	if (rc != 0) {
		printf("  walk %s: %s\n", dir, wl_error_last()->message);
		return NULL;
	}
	return t;
}

/* "p1,p2,..." of the inventory, for compact comparisons. */
static const char *paths_of(const wl_source_tree *t)
{
	static char out[4096];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < t->file_count && n < sizeof out - 1; i++)
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "," : "", t->files[i].path.ptr);
	return out;
}

/* Walks `dir` expecting failure with exactly `message`. */
static bool walk_fails_with(const char *dir, int code, const char *message)
{
	wl_source_tree *t = (wl_source_tree *)1;
	int rc = wl_source_walk(&t, dir);
	if (rc != code || t != NULL || strcmp(wl_error_last()->message, message) != 0) {
		printf("  walk returned %d: \"%s\"\n  want %d: \"%s\"\n", rc, wl_error_last()->message, code,
		       message);
		if (rc == 0)
			wl_source_tree_free(t);
		return false;
	}
	return true;
}

static void make_appendix_a(void)
{
	unsigned char model[100];
	for (int i = 0; i < 100; i++)
		model[i] = (unsigned char)i;
	put_text("weights/README.md", "# demo\n");
	put_text("weights/config.json", "{\"model_type\":\"demo\",\"hidden_size\":8}\n");
	put_bytes("weights/model.safetensors", model, sizeof model);
	put_text("weights/tokenizer/vocab.txt", "hello\nworld\n");
	put_bytes("weights/.cog/ready", "", 0);
}

/* ---- §9.1 resolve ---- */

TEST(resolve_relative_uri_joins_the_project_directory)
{
	scratch_new();
	put_dir("weights/sub");
	char *dir = NULL;
	CHECK_OK(wl_source_resolve(&dir, scratch_dir, wl_str("file://./weights/sub")));
	CHECK_STR(dir, at("weights/sub"));
	wl_free(dir);
	/* A trailing slash on the project directory is not doubled. */
	char project[PATH_MAX + 2];
	snprintf(project, sizeof project, "%s/", scratch_dir);
	CHECK_OK(wl_source_resolve(&dir, project, wl_str("file://./weights")));
	CHECK_STR(dir, at("weights"));
	wl_free(dir);
}

TEST(resolve_absolute_uri_ignores_the_project_directory)
{
	scratch_new();
	put_dir("abs");
	char uri[PATH_MAX + 16];
	snprintf(uri, sizeof uri, "file://%s", at("abs"));
	char *dir = NULL;
	CHECK_OK(wl_source_resolve(&dir, "/nonexistent-project", wl_str(uri)));
	CHECK_STR(dir, at("abs"));
	wl_free(dir);
}

TEST(resolve_missing_directory_is_cogs_not_found)
{
	scratch_new();
	char *dir = (char *)1;
	CHECK_ERR(wl_source_resolve(&dir, scratch_dir, wl_str("file://./nope")), WL_ENOTFOUND, "");
	CHECK_STR(wl_error_last()->message, "weight source not found: file://./nope");
	CHECK(dir == NULL);
}

TEST(resolve_regular_file_is_cogs_not_a_directory)
{
	scratch_new();
	put_text("file.bin", "x");
	char *dir = NULL;
	CHECK_ERR(wl_source_resolve(&dir, scratch_dir, wl_str("file://./file.bin")), WL_EINVALID, "");
	CHECK_STR(wl_error_last()->message,
	          "weight source file://./file.bin is not a directory (file:// sources must be directories)");
}

TEST(resolve_other_stat_error_is_cogs_stat_message)
{
	scratch_new();
	put_text("file.bin", "x");
	char *dir = NULL;
	/* A path through a regular file: ENOTDIR, not "not found". */
	CHECK_ERR(wl_source_resolve(&dir, scratch_dir, wl_str("file://./file.bin/sub")), WL_EIO,
	          "stat weight source file://./file.bin/sub: ");
	CHECK_INT(wl_error_last()->sys_errno, ENOTDIR);
}

TEST(resolve_follows_symbolic_links)
{
	scratch_new();
	put_dir("real");
	put_symlink("link", "real");
	char *dir = NULL;
	CHECK_OK(wl_source_resolve(&dir, scratch_dir, wl_str("file://./link")));
	CHECK_STR(dir, at("link"));
	wl_free(dir);
}

TEST(resolve_rejects_what_is_not_a_normalized_file_uri)
{
	scratch_new();
	put_dir("w");
	static const char *bad[] = {"w", "./w", "file://w", "file://./", "file://.", "file://./w/",
	                            "file://./w//x", "file://./a/../w", "file://./../w", "file://..",
	                            "hf://org/repo", "s3://b/k", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *dir = NULL;
		int rc = wl_source_resolve(&dir, scratch_dir, wl_str(bad[i]));
		if (rc != WL_EINVALID) {
			HARNESS_FAIL("resolve(\"%s\") returned %d (%s)", bad[i], rc, wl_error_last()->message);
			wl_free(dir);
			return;
		}
	}
	char *dir = NULL;
	CHECK_ERR(wl_source_resolve(&dir, scratch_dir, wl_str("hf://org/repo")), WL_EINVALID,
	          "\"hf://org/repo\"");
}

/* ---- §9.2 walk ---- */

TEST(appendix_a_tree_walks_to_its_four_files_skipping_cog)
{
	scratch_new();
	make_appendix_a();
	wl_source_tree *t = walk_ok(at("weights"));
	CHECK(t != NULL);
	CHECK_STR(t->root, at("weights"));
	CHECK_STR(paths_of(t), "README.md,config.json,model.safetensors,tokenizer/vocab.txt");
	CHECK_INT(t->files[0].size, 7);
	CHECK_INT(t->files[1].size, 38);
	CHECK_INT(t->files[2].size, 100);
	CHECK_INT(t->files[3].size, 12);
	for (size_t i = 0; i < t->file_count; i++)
		CHECK_STR(t->files[i].digest, "");
	wl_source_tree_free(t);
}

TEST(walk_records_size_device_inode_and_nanosecond_times)
{
	scratch_new();
	put_text("d/f.bin", "twelve bytes");
	struct timespec times[2] = {{1234567890, 123456789}, {1234567891, 987654321}};
	CHECK(utimensat(AT_FDCWD, at("d/f.bin"), times, 0) == 0);
	struct stat st;
	CHECK(lstat(at("d/f.bin"), &st) == 0);
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL && t->file_count == 1);
	const wl_source_file *f = &t->files[0];
	CHECK_STR(f->path.ptr, "d/f.bin");
	CHECK_INT(f->path.len, 7);
	CHECK_INT(f->size, 12);
	CHECK(f->dev == (uint64_t)st.st_dev);
	CHECK(f->ino == (uint64_t)st.st_ino);
	CHECK_INT(f->mtime_ns, 1234567891987654321LL);
	CHECK_INT(f->ctime_ns, (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
	wl_source_tree_free(t);
}

TEST(walk_orders_paths_bytewise)
{
	scratch_new();
	/* Upper case before lower case, '-' (0x2d) and '.' (0x2e) before
	 * '/' (0x2f), multi-byte UTF-8 after ASCII: the final list is in
	 * byte order of whole paths, not in walk (per-component) order. */
	static const char *names[] = {"b",     "B",   "a.txt", "a/b", "a-c", "a/B/z",
	                              "\xc3\xa9", "z",   "a0",    "_",   "a/a"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		CHECK(put_text(names[i], names[i]));
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), "B,_,a-c,a.txt,a/B/z,a/a,a/b,a0,b,z,\xc3\xa9");
	wl_source_tree_free(t);
}

TEST(walk_skips_cog_directories_at_any_depth)
{
	scratch_new();
	put_text("a.bin", "a");
	put_text(".cog/ready", "");
	put_text("sub/.cog/state/x.bin", "x");
	put_text("sub/b.bin", "b");
	put_text("x/y/z/.cog/deep.bin", "d");
	/* Anything inside .cog is never looked at, even what would fail. */
	CHECK(put_symlink(".cog/link", "../a.bin"));
	CHECK(put_fifo("sub/.cog/fifo"));
	CHECK(put_text("sub/.cog/bad\\name", "n"));
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), "a.bin,sub/b.bin");
	wl_source_tree_free(t);
}

TEST(walk_keeps_a_regular_file_named_cog)
{
	scratch_new();
	put_text("other/.cog", "a regular file named .cog");
	put_text(".cog", "top-level file named .cog");
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), ".cog,other/.cog");
	wl_source_tree_free(t);
}

TEST(walk_of_a_root_named_cog_is_empty)
{
	scratch_new();
	put_text("w/.cog/a.bin", "a");
	put_text("w/.cog/sub/b.bin", "b");
	wl_source_tree *t = walk_ok(at("w/.cog"));
	CHECK(t != NULL);
	CHECK_INT(t->file_count, 0);
	wl_source_tree_free(t);
	/* Trailing slashes do not change the root's name. */
	t = walk_ok(at("w/.cog//"));
	CHECK(t != NULL);
	CHECK_INT(t->file_count, 0);
	wl_source_tree_free(t);
}

TEST(walk_drops_empty_directories)
{
	scratch_new();
	put_text("a.bin", "a");
	put_dir("empty");
	put_dir("deep/er/est");
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), "a.bin");
	wl_source_tree_free(t);
	scratch_new();
	put_dir("only/empty");
	put_text(".cog/ready", "");
	t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_INT(t->file_count, 0);
	CHECK(t->files == NULL || t->file_count == 0);
	wl_source_tree_free(t);
}

TEST(walk_keeps_hidden_files)
{
	scratch_new();
	put_text(".gitattributes", "*.bin filter=lfs\n");
	put_text(".hidden/.x", "x");
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), ".gitattributes,.hidden/.x");
	wl_source_tree_free(t);
}

TEST(walk_rejects_symlink_to_a_file)
{
	scratch_new();
	put_text("a.bin", "a");
	put_symlink("link.bin", "a.bin");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"link.bin\"", "L---------")));
}

TEST(walk_rejects_symlink_to_a_directory)
{
	scratch_new();
	put_text("d/a.bin", "a");
	put_symlink("e/dlink", "../d");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"e/dlink\"", "L---------")));
}

TEST(walk_rejects_dangling_symlink)
{
	scratch_new();
	put_symlink("gone", "does-not-exist");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"gone\"", "L---------")));
}

TEST(walk_rejects_fifo)
{
	scratch_new();
	put_text("a.bin", "a");
	put_fifo("sub/pipe");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"sub/pipe\"", "p---------")));
}

TEST(walk_rejects_unix_socket)
{
	scratch_new();
	put_dir("s");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", at("s/sock"));
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	CHECK(rc == 0);
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"s/sock\"", "S---------")));
}

TEST(walk_rejects_devices)
{
	scratch_new();
	if (mknod(at("chr"), S_IFCHR | 0600, makedev(1, 3)) != 0) {
		printf("  note: mknod not permitted here (%s); device cases skipped\n", strerror(errno));
		return;
	}
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"chr\"", "Dc---------")));
	scratch_new();
	CHECK(mknod(at("blk"), S_IFBLK | 0600, makedev(7, 0)) == 0);
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"blk\"", "D---------")));
}

TEST(walk_rejects_a_root_that_is_a_symlink_as_dot)
{
	scratch_new();
	put_text("real/a.bin", "a");
	put_symlink("link", "real");
	CHECK(walk_fails_with(at("link"), WL_EINVALID, NON_REGULAR("\".\"", "L---------")));
	put_fifo("pipe");
	CHECK(walk_fails_with(at("pipe"), WL_EINVALID, NON_REGULAR("\".\"", "p---------")));
}

TEST(walk_reports_the_first_offending_entry_in_walk_order)
{
	scratch_new();
	/* Byte-wise, "a-x" < "a/b"; in walk order the directory "a" comes
	 * before the name "a-x", so "a/b" is met first. */
	put_fifo("a-x");
	put_symlink("a/b", "nowhere");
	put_fifo("z");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID, NON_REGULAR("\"a/b\"", "L---------")));
	/* An invalid name met before a non-regular entry is reported first. */
	scratch_new();
	put_text("a\\b", "x");
	put_fifo("b");
	CHECK(walk_fails_with(scratch_dir, WL_EINVALID,
	                      "weight source contains invalid path \"a\\\\b\": backslash in path"));
}

TEST(walk_rejects_invalid_paths_naming_them_quoted)
{
	const char *why = NULL;
	struct {
		const char *name, *quoted;
	} cases[] = {
		{"back\\slash", "\"back\\\\slash\""},
		{"ctl\x01", "\"ctl\\x01\""},
		{"tab\there", "\"tab\\there\""},
		{"del\x7f", "\"del\\x7f\""},
		{"bad\xff", "\"bad\\xff\""},
		{"over\xc0\xaflong", "\"over\\xc0\\xaflong\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		scratch_new();
		char rel[64];
		snprintf(rel, sizeof rel, "d/%s", cases[i].name);
		CHECK(put_text(rel, "x"));
		CHECK(!wl_path_valid(wl_str(rel), &why));
		char want[256];
		snprintf(want, sizeof want, "weight source contains invalid path \"d/%s: %s", cases[i].quoted + 1,
		         why);
		CHECK(walk_fails_with(scratch_dir, WL_EINVALID, want));
	}
	/* An invalid name on a directory that holds nothing does not matter. */
	scratch_new();
	put_dir("empty\\dir");
	put_text("ok.bin", "x");
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), "ok.bin");
	wl_source_tree_free(t);
}

TEST(walk_accepts_non_ascii_and_spaces_in_names)
{
	scratch_new();
	put_text("mod\xc3\xa8le/poids \xe6\x97\xa5\xe6\x9c\xac.bin", "x");
	put_text("with space.txt", "y");
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL);
	CHECK_STR(paths_of(t), "mod\xc3\xa8le/poids \xe6\x97\xa5\xe6\x9c\xac.bin,with space.txt");
	wl_source_tree_free(t);
}

TEST(walk_of_a_deep_tree)
{
	scratch_new();
	char rel[4096] = "";
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(rel + n, sizeof rel - n, "%sd", i ? "/" : "");
	snprintf(rel + n, sizeof rel - n, "/leaf.bin");
	/* Deeper than PATH_MAX allows in one string: built step by step. */
	CHECK(chdir(scratch_dir) == 0);
	for (int i = 0; i < 300; i++)
		CHECK(mkdir("d", 0755) == 0 && chdir("d") == 0);
	FILE *fp = fopen("leaf.bin", "w");
	CHECK(fp != NULL);
	fputs("leaf", fp);
	fclose(fp);
	CHECK(chdir("/") == 0);
	wl_source_tree *t = walk_ok(scratch_dir);
	CHECK(t != NULL && t->file_count == 1);
	CHECK_STR(t->files[0].path.ptr, rel);
	wl_source_tree_free(t);
}

TEST(walk_errors_for_missing_root_and_root_that_is_a_file)
{
	scratch_new();
	wl_source_tree *t = NULL;
	CHECK_ERR(wl_source_walk(&t, at("missing")), WL_ENOTFOUND, "missing");
	put_text("file.bin", "x");
	CHECK_ERR(wl_source_walk(&t, at("file.bin")), WL_EINVALID, "is not a directory");
	CHECK(t == NULL);
	wl_source_tree_free(NULL);
}

/* §16.2: the token goes to the endpoint's origin only; a next page over
 * plain http is refused once https was used. */
TEST(hub_page_policy_keeps_the_token_at_its_origin_and_refuses_downgrades)
{
	const char *ep = "https://hub.example";
	CHECK_INT(wl__hub_page_policy(ep, NULL, "https://hub.example/api/x"), WL__HUB_PAGE_TOKEN);
	CHECK_INT(wl__hub_page_policy(ep, ep, "https://hub.example:443/api/x"), WL__HUB_PAGE_TOKEN);
	CHECK_INT(wl__hub_page_policy(ep, ep, "https://other.example/api/x"), WL__HUB_PAGE_BARE);
	CHECK_INT(wl__hub_page_policy(ep, ep, "https://hub.example:8443/api/x"), WL__HUB_PAGE_BARE);
	CHECK_INT(wl__hub_page_policy(ep, ep, "http://hub.example/api/x"), WL__HUB_PAGE_REFUSED);
	CHECK_INT(wl__hub_page_policy(ep, ep, "ftp://hub.example/x"), WL__HUB_PAGE_REFUSED);
	CHECK_INT(wl__hub_page_policy("http://127.0.0.1:9", "https://cdn.example/p", "http://127.0.0.1:9/p"),
	          WL__HUB_PAGE_REFUSED);
	CHECK_INT(wl__hub_page_policy("http://127.0.0.1:9", NULL, "http://127.0.0.1:9/p"), WL__HUB_PAGE_TOKEN);
	CHECK_INT(wl__hub_page_policy("http://127.0.0.1:9", NULL, "http://127.0.0.1:10/p"), WL__HUB_PAGE_BARE);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (!scratch_init("source")) {
		perror("mkdtemp");
		return 1;
	}
	RUN(hub_page_policy_keeps_the_token_at_its_origin_and_refuses_downgrades);
	RUN(resolve_relative_uri_joins_the_project_directory);
	RUN(resolve_absolute_uri_ignores_the_project_directory);
	RUN(resolve_missing_directory_is_cogs_not_found);
	RUN(resolve_regular_file_is_cogs_not_a_directory);
	RUN(resolve_other_stat_error_is_cogs_stat_message);
	RUN(resolve_follows_symbolic_links);
	RUN(resolve_rejects_what_is_not_a_normalized_file_uri);
	RUN(appendix_a_tree_walks_to_its_four_files_skipping_cog);
	RUN(walk_records_size_device_inode_and_nanosecond_times);
	RUN(walk_orders_paths_bytewise);
	RUN(walk_skips_cog_directories_at_any_depth);
	RUN(walk_keeps_a_regular_file_named_cog);
	RUN(walk_of_a_root_named_cog_is_empty);
	RUN(walk_drops_empty_directories);
	RUN(walk_keeps_hidden_files);
	RUN(walk_rejects_symlink_to_a_file);
	RUN(walk_rejects_symlink_to_a_directory);
	RUN(walk_rejects_dangling_symlink);
	RUN(walk_rejects_fifo);
	RUN(walk_rejects_unix_socket);
	RUN(walk_rejects_devices);
	RUN(walk_rejects_a_root_that_is_a_symlink_as_dot);
	RUN(walk_reports_the_first_offending_entry_in_walk_order);
	RUN(walk_rejects_invalid_paths_naming_them_quoted);
	RUN(walk_accepts_non_ascii_and_spaces_in_names);
	RUN(walk_of_a_deep_tree);
	RUN(walk_errors_for_missing_root_and_root_that_is_a_file);
	scratch_remove(scratch_root);
	return harness_summary("source");
}
