/*
 * cmd_git.c - weights.lock in git (SPEC.md §19): the semantic diff, the
 * merge driver, and install-git, which registers both with git.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* One lockfile to load, possibly on its own thread. */
typedef struct side {
	const char *path;
	bool empty_ok; /* /dev/null and a file of no bytes have no weights */
	wl_lock *lock;
	int rc;
	char why[1024];
} side;

/* True for /dev/null and an empty regular file. */
static bool is_empty_file(const char *path)
{
	struct stat st;
	if (strcmp(path, "/dev/null") == 0)
		return true;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

/* Loads a lockfile ("-": stdin). With `empty_ok`, /dev/null and a file of
 * no bytes (what git passes for a side that does not exist) are a lockfile
 * without weights. Sets no message but `why`, so it may run on any
 * thread. */
static void *load_side(void *arg)
{
	side *s = arg;
	const char *name = cli_display_name(s->path);
	if (strcmp(s->path, "-") == 0) {
		char *data = NULL;
		size_t len = 0;
		s->rc = cli_read_file(&data, &len, s->path, WL_LOCK_SIZE_MAX, s->why, sizeof s->why);
		if (s->rc != 0)
			return NULL;
		s->rc = len == 0 && s->empty_ok ? wl_lock_new(&s->lock) : wl_lock_parse(&s->lock, data, len, name);
		free(data);
	} else if (s->empty_ok && is_empty_file(s->path)) {
		s->rc = wl_lock_new(&s->lock);
	} else {
		/* The file's buffer becomes the lock's: no copy of a large file. */
		s->rc = wl_lock_load(&s->lock, s->path);
	}
	if (s->rc != 0) {
		const char *m = wl_error_last()->message;
		if (m == NULL || m[0] == '\0')
			m = "invalid lockfile";
		if (strstr(m, name) != NULL)
			snprintf(s->why, sizeof s->why, "%s", m);
		else
			snprintf(s->why, sizeof s->why, "%s: %s", name, m);
	}
	return NULL;
}

/* Loads the sides, each but the first on a thread of its own (parsing is
 * most of the work of diff and merge-driver); on failure prints the first
 * side's error in order. Returns 0 or 2. */
static int load_sides(side *sides, size_t n)
{
	pthread_t threads[3];
	bool started[3] = {false, false, false};
	for (size_t i = 1; i < n && i < 3; i++)
		started[i] = pthread_create(&threads[i], NULL, load_side, &sides[i]) == 0;
	load_side(&sides[0]);
	for (size_t i = 1; i < n; i++) {
		if (i < 3 && started[i])
			pthread_join(threads[i], NULL);
		else
			load_side(&sides[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (sides[i].rc != 0)
			return cli_error("%s", sides[i].why);
	return EXIT_OK;
}

static void release_sides(side *sides, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wl_lock_free(sides[i].lock);
}

/* ------------------------------------------------------------------------ */
/* diff                                                                     */
/* ------------------------------------------------------------------------ */

static const char *shape_name(const wl_lock *lock)
{
	return lock->multi_source ? "multi" : "single";
}

static void text_change(cli_buf *b, const char *label, wl_string old, wl_string now)
{
	cli_buf_printf(b, "    %s: ", label);
	cli_buf_human(b, old);
	cli_buf_puts(b, " → ");
	cli_buf_human(b, now);
	cli_buf_puts(b, "\n");
}

/* "label: [old] → [new]" when the rendered lists differ. */
static void text_pattern_change(cli_buf *b, const char *label, const wl_string *old, size_t nold,
                                const wl_string *now, size_t nnow)
{
	cli_buf x = {0}, y = {0};
	cli_buf_patterns(&x, old, nold);
	cli_buf_patterns(&y, now, nnow);
	if (x.failed || y.failed) {
		b->failed = true;
	} else if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0) {
		cli_buf_printf(b, "    %s: %.*s → %.*s\n", label, (int)x.len, x.data, (int)y.len, y.data);
	}
	cli_buf_release(&x);
	cli_buf_release(&y);
}

static void text_sources(cli_buf *b, const wl_entry *a, const wl_entry *z)
{
	size_t n = a->source_count > z->source_count ? a->source_count : z->source_count;
	bool indexed = a->source_count != 1 || z->source_count != 1;
	if (a->source_count != z->source_count)
		cli_buf_printf(b, "    sources: %zu → %zu\n", a->source_count, z->source_count);
	static const wl_source none;
	for (size_t i = 0; i < n; i++) {
		const wl_source *x = i < a->source_count ? &a->sources[i] : &none;
		const wl_source *y = i < z->source_count ? &z->sources[i] : &none;
		char label[64];
		const char *names[] = {"source", "fingerprint", "include", "exclude"};
		for (size_t k = 0; k < 4; k++) {
			if (indexed)
				snprintf(label, sizeof label, "source[%zu].%s", i, k == 0 ? "uri" : names[k]);
			else
				snprintf(label, sizeof label, "%s", names[k]);
			if (k == 0 && !wl_string_equal(x->uri, y->uri))
				text_change(b, label, x->uri, y->uri);
			else if (k == 1 && !wl_string_equal(x->fingerprint, y->fingerprint))
				text_change(b, label, x->fingerprint, y->fingerprint);
			else if (k == 2)
				text_pattern_change(b, label, x->include, x->include_count, y->include,
				                    y->include_count);
			else if (k == 3)
				text_pattern_change(b, label, x->exclude, x->exclude_count, y->exclude,
				                    y->exclude_count);
		}
	}
}

static void text_entry_summary(cli_buf *b, char mark, const wl_entry *e)
{
	cli_buf_printf(b, "%c ", mark);
	cli_buf_human(b, e->name);
	cli_buf_puts(b, "  ");
	cli_buf_human(b, e->target);
	cli_buf_printf(b, "  %zu %s, ", e->file_count, e->file_count == 1 ? "file" : "files");
	cli_buf_size(b, e->size, false);
	cli_buf_puts(b, "\n");
}

static void text_file(cli_buf *b, const wl_file_change *fc)
{
	const wl_file *f = fc->new_file != NULL ? fc->new_file : fc->old_file;
	static const char marks[] = {'+', '-', '~', '>'};
	cli_buf_printf(b, "    %c ", marks[fc->change]);
	cli_buf_human(b, f->path);
	cli_buf_puts(b, " (");
	if (fc->change == WL_CHANGE_MODIFIED && fc->old_file->size != fc->new_file->size) {
		cli_buf old = {0}, now = {0};
		cli_buf_size(&old, fc->old_file->size, false);
		cli_buf_size(&now, fc->new_file->size, false);
		if (old.failed || now.failed || (old.len == now.len && memcmp(old.data, now.data, old.len) == 0))
			cli_buf_printf(b, "%" PRId64 " → %" PRId64 " bytes", fc->old_file->size, fc->new_file->size);
		else
			cli_buf_printf(b, "%.*s → %.*s", (int)old.len, old.data, (int)now.len, now.data);
		cli_buf_release(&old);
		cli_buf_release(&now);
	} else {
		cli_buf_size(b, f->size, false);
		if (fc->change == WL_CHANGE_MODIFIED)
			cli_buf_puts(b, ", content changed");
		else if (fc->change == WL_CHANGE_MOVED)
			cli_buf_puts(b, ", in another layer");
	}
	cli_buf_puts(b, ")\n");
}

static void text_layer(cli_buf *b, const wl_layer_change *lc)
{
	const wl_layer *l = lc->new_layer != NULL ? lc->new_layer : lc->old_layer;
	static const char marks[] = {'+', '-', '~', '>'};
	cli_buf_printf(b, "    %c layer ", marks[lc->change]);
	cli_buf_human(b, l->digest);
	cli_buf_puts(b, " (");
	cli_buf_human(b, l->media_type);
	cli_buf_puts(b, ", ");
	cli_buf_size(b, l->size, false);
	cli_buf_puts(b, ")\n");
}

static void text_modified(cli_buf *b, const wl_weight_diff *w, bool verbose)
{
	const wl_entry *a = w->old_entry, *z = w->new_entry;
	cli_buf_puts(b, "~ ");
	cli_buf_human(b, z->name);
	cli_buf_printf(b, "  %zu %s (+%zu -%zu ~%zu", z->file_count, z->file_count == 1 ? "file" : "files",
	               w->files_added, w->files_removed, w->files_modified);
	if (w->files_moved)
		cli_buf_printf(b, ", %zu moved", w->files_moved);
	cli_buf_puts(b, ")");
	if (w->layer_count)
		cli_buf_printf(b, ", layers +%zu -%zu", w->layers_added, w->layers_removed);
	if (w->layers_modified)
		cli_buf_printf(b, " ~%zu", w->layers_modified);
	cli_buf_puts(b, ", ");
	if (w->fields & WL_DIFF_SIZE) {
		cli_buf_size(b, a->size, false);
		cli_buf_puts(b, " → ");
	}
	cli_buf_size(b, z->size, false);
	cli_buf_puts(b, "\n");
	if (w->fields & WL_DIFF_TARGET)
		text_change(b, "target", a->target, z->target);
	if (w->fields & WL_DIFF_SOURCES)
		text_sources(b, a, z);
	if (w->fields & WL_DIFF_DIGEST)
		text_change(b, "digest", a->digest, z->digest);
	if (w->fields & WL_DIFF_SET_DIGEST)
		text_change(b, "set digest", a->set_digest, z->set_digest);
	if (w->fields & WL_DIFF_SIZE_COMPRESSED) {
		cli_buf_puts(b, "    compressed: ");
		cli_buf_size(b, a->size_compressed, false);
		cli_buf_puts(b, " → ");
		cli_buf_size(b, z->size_compressed, false);
		cli_buf_puts(b, "\n");
	}
	for (size_t i = 0; i < w->file_count; i++)
		if (w->files[i].change != WL_CHANGE_MOVED || verbose)
			text_file(b, &w->files[i]);
	for (size_t i = 0; i < w->layer_count; i++)
		text_layer(b, &w->layers[i]);
}

static void text_diff(cli_buf *b, const wl_diff *d, const wl_lock *old_lock, const wl_lock *new_lock,
                      bool verbose)
{
	if (d->envelope_changed) {
		cli_buf_puts(b, "envelopeFormat: ");
		cli_buf_human(b, old_lock->envelope_format);
		cli_buf_puts(b, " → ");
		cli_buf_human(b, new_lock->envelope_format);
		cli_buf_puts(b, "\n");
	}
	if (d->shape_changed)
		cli_buf_printf(b, "shape: %s-source → %s-source\n", shape_name(old_lock), shape_name(new_lock));
	for (size_t i = 0; i < d->weight_count; i++) {
		const wl_weight_diff *w = &d->weights[i];
		if (w->change == WL_CHANGE_ADDED)
			text_entry_summary(b, '+', w->new_entry);
		else if (w->change == WL_CHANGE_REMOVED)
			text_entry_summary(b, '-', w->old_entry);
		else
			text_modified(b, w, verbose);
	}
}

/* ---- diff --json ---- */

static void json_strings(cli_buf *b, const wl_string *items, size_t count)
{
	cli_buf_puts(b, "[");
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			cli_buf_puts(b, ", ");
		cli_buf_json_string(b, items[i]);
	}
	cli_buf_puts(b, "]");
}

static void json_entry(cli_buf *b, const wl_entry *e)
{
	cli_buf_puts(b, "{\"target\": ");
	cli_buf_json_string(b, e->target);
	cli_buf_puts(b, ", \"sources\": [");
	for (size_t i = 0; i < e->source_count; i++) {
		const wl_source *s = &e->sources[i];
		cli_buf_puts(b, i > 0 ? ", {\"uri\": " : "{\"uri\": ");
		cli_buf_json_string(b, s->uri);
		cli_buf_puts(b, ", \"fingerprint\": ");
		cli_buf_json_string(b, s->fingerprint);
		cli_buf_puts(b, ", \"include\": ");
		json_strings(b, s->include, s->include_count);
		cli_buf_puts(b, ", \"exclude\": ");
		json_strings(b, s->exclude, s->exclude_count);
		cli_buf_puts(b, "}");
	}
	cli_buf_puts(b, "], \"digest\": ");
	cli_buf_json_string(b, e->digest);
	cli_buf_puts(b, ", \"setDigest\": ");
	cli_buf_json_string(b, e->set_digest);
	cli_buf_printf(b, ", \"size\": %" PRId64 ", \"sizeCompressed\": %" PRId64
	                  ", \"fileCount\": %zu, \"layerCount\": %zu}",
	               e->size, e->size_compressed, e->file_count, e->layer_count);
}

static void json_file(cli_buf *b, const char *key, const wl_file *f)
{
	if (f == NULL)
		return;
	cli_buf_printf(b, ", \"%s\": {\"size\": %" PRId64 ", \"digest\": ", key, f->size);
	cli_buf_json_string(b, f->digest);
	cli_buf_puts(b, ", \"layer\": ");
	cli_buf_json_string(b, f->layer);
	cli_buf_puts(b, "}");
}

static void json_layer(cli_buf *b, const char *key, const wl_layer *l)
{
	if (l == NULL)
		return;
	cli_buf_printf(b, ", \"%s\": {\"mediaType\": ", key);
	cli_buf_json_string(b, l->media_type);
	cli_buf_printf(b, ", \"size\": %" PRId64 ", \"sizeUncompressed\": %" PRId64 "}", l->size,
	               l->size_uncompressed);
}

static void json_weight(cli_buf *b, const wl_weight_diff *w)
{
	const wl_entry *e = w->new_entry != NULL ? w->new_entry : w->old_entry;
	cli_buf_puts(b, "    {\"name\": ");
	cli_buf_json_string(b, e->name);
	cli_buf_printf(b, ", \"change\": \"%s\"", wl_change_name(w->change));
	if (w->old_entry != NULL) {
		cli_buf_puts(b, ",\n     \"old\": ");
		json_entry(b, w->old_entry);
	}
	if (w->new_entry != NULL) {
		cli_buf_puts(b, ",\n     \"new\": ");
		json_entry(b, w->new_entry);
	}
	if (w->change != WL_CHANGE_MODIFIED) {
		cli_buf_puts(b, "}");
		return;
	}
	static const char *const fields[] = {"target", "sources", "digest", "setDigest",
	                                     "size", "sizeCompressed", "files", "layers"};
	cli_buf_puts(b, ",\n     \"fields\": [");
	bool first = true;
	for (size_t k = 0; k < 8; k++) {
		if (w->fields & (1u << k)) {
			cli_buf_printf(b, "%s\"%s\"", first ? "" : ", ", fields[k]);
			first = false;
		}
	}
	cli_buf_puts(b, "],\n     \"files\": [");
	for (size_t i = 0; i < w->file_count; i++) {
		const wl_file_change *fc = &w->files[i];
		cli_buf_puts(b, i > 0 ? ",\n       {\"path\": " : "\n       {\"path\": ");
		cli_buf_json_string(b, (fc->new_file ? fc->new_file : fc->old_file)->path);
		cli_buf_printf(b, ", \"change\": \"%s\"", wl_change_name(fc->change));
		json_file(b, "old", fc->old_file);
		json_file(b, "new", fc->new_file);
		cli_buf_puts(b, "}");
	}
	cli_buf_puts(b, "],\n     \"layers\": [");
	for (size_t i = 0; i < w->layer_count; i++) {
		const wl_layer_change *lc = &w->layers[i];
		cli_buf_puts(b, i > 0 ? ",\n       {\"digest\": " : "\n       {\"digest\": ");
		cli_buf_json_string(b, (lc->new_layer ? lc->new_layer : lc->old_layer)->digest);
		cli_buf_printf(b, ", \"change\": \"%s\"", wl_change_name(lc->change));
		json_layer(b, "old", lc->old_layer);
		json_layer(b, "new", lc->new_layer);
		cli_buf_puts(b, "}");
	}
	cli_buf_puts(b, "]}");
}

static void json_diff(cli_buf *b, const wl_diff *d, const wl_lock *old_lock, const wl_lock *new_lock)
{
	cli_buf_printf(b, "{\n  \"same\": %s,\n", wl_diff_empty(d) ? "true" : "false");
	if (d->envelope_changed) {
		cli_buf_puts(b, "  \"envelopeFormat\": {\"old\": ");
		cli_buf_json_string(b, old_lock->envelope_format);
		cli_buf_puts(b, ", \"new\": ");
		cli_buf_json_string(b, new_lock->envelope_format);
		cli_buf_puts(b, "},\n");
	}
	if (d->shape_changed)
		cli_buf_printf(b, "  \"shape\": {\"old\": \"%s\", \"new\": \"%s\"},\n", shape_name(old_lock),
		               shape_name(new_lock));
	cli_buf_puts(b, d->weight_count ? "  \"weights\": [\n" : "  \"weights\": []\n}\n");
	for (size_t i = 0; i < d->weight_count; i++) {
		json_weight(b, &d->weights[i]);
		cli_buf_puts(b, i + 1 < d->weight_count ? ",\n" : "\n  ]\n}\n");
	}
}

/* git's diff driver: PATH OLD-FILE OLD-HEX OLD-MODE NEW-FILE NEW-HEX
 * NEW-MODE [NEW-PATH XFRM] or, for an unmerged path, PATH alone. */
static int git_operands(const cli_invocation *cli, const char **old_path, const char **new_path)
{
	size_t n = cli->operand_count;
	if (n != 1 && n != 7 && n != 9)
		return cli_usage_error(cli->command,
		                       "--git wants git's 7 diff-driver arguments (or 9, or 1), not %zu", n);
	if (n == 1)
		return -1;
	*old_path = cli->operands[1];
	*new_path = cli->operands[4];
	return -1;
}

int cmd_diff(cli_invocation *cli)
{
	const char *old_path = NULL, *new_path = NULL;
	if (cli->git_driver) {
		int status = git_operands(cli, &old_path, &new_path);
		if (status >= 0)
			return status;
		if (cli->json)
			return cli_usage_error(cli->command, "--git and --json cannot be combined");
		if (cli->operand_count == 1) {
			cli_buf b = {0};
			cli_buf_puts(&b, "weightslock diff ");
			cli_buf_human(&b, wl_str(cli->operands[0]));
			cli_buf_puts(&b, ": unmerged\n");
			status = cli_flush_stdout(&b);
			cli_buf_release(&b);
			return status;
		}
	} else {
		if (cli->operand_count != 2)
			return cli_usage_error(cli->command, cli->operand_count < 2 ? "missing %s"
			                                                            : "unexpected argument '%s'",
			                       cli->operand_count < 2 ? "A B" : cli->operands[2]);
		old_path = cli->operands[0];
		new_path = cli->operands[1];
		if (strcmp(old_path, "-") == 0 && strcmp(new_path, "-") == 0)
			return cli_usage_error(cli->command, "only one of A and B can be - (standard input)");
	}
	side sides[2] = {{.path = old_path, .empty_ok = true}, {.path = new_path, .empty_ok = true}};
	int status = load_sides(sides, 2);
	wl_lock *a = sides[0].lock, *z = sides[1].lock;
	wl_diff *d = NULL;
	if (status == EXIT_OK) {
		int rc = wl_lock_diff(&d, a, z);
		if (rc != 0)
			status = cli_lib_error(rc);
	}
	if (status == EXIT_OK) {
		cli_buf out = {0};
		if (cli->json) {
			json_diff(&out, d, a, z);
		} else {
			if (cli->git_driver) {
				cli_buf_puts(&out, "weightslock diff a/");
				cli_buf_human(&out, wl_str(cli->operands[0]));
				cli_buf_puts(&out, " b/");
				cli_buf_human(&out, wl_str(cli->operand_count == 9 ? cli->operands[7] : cli->operands[0]));
				cli_buf_puts(&out, "\n");
				if (wl_diff_empty(d))
					cli_buf_puts(&out, "  (same weights: only import times or formatting differ)\n");
			}
			text_diff(&out, d, a, z, cli->verbose);
		}
		status = cli_flush_stdout(&out);
		cli_buf_release(&out);
		if (status == EXIT_OK && !wl_diff_empty(d) && !cli->git_driver)
			status = EXIT_FOUND;
	}
	wl_diff_free(d);
	release_sides(sides, 2);
	return status;
}

/* ------------------------------------------------------------------------ */
/* merge-driver                                                             */
/* ------------------------------------------------------------------------ */

static void describe_version(cli_buf *b, const char *who, const wl_entry *e)
{
	cli_buf_printf(b, "%s: ", who);
	if (e == NULL) {
		cli_buf_puts(b, "removed");
		return;
	}
	cli_buf_puts(b, "digest ");
	cli_buf_human(b, e->digest);
	cli_buf_printf(b, ", %zu %s, ", e->file_count, e->file_count == 1 ? "file" : "files");
	cli_buf_size(b, e->size, false);
}

static void describe_conflict(cli_buf *b, const wl_merge_conflict *c)
{
	static const char *const what[] = {
		[WL_CONFLICT_BOTH_CHANGED] = "changed differently on both sides",
		[WL_CONFLICT_BOTH_ADDED] = "added differently on both sides",
		[WL_CONFLICT_OURS_REMOVED] = "removed on our side, changed on theirs",
		[WL_CONFLICT_THEIRS_REMOVED] = "changed on our side, removed on theirs",
		[WL_CONFLICT_SAME_TARGET] = "would have the same target as weight ",
	};
	cli_buf_puts(b, "weightslock: merge conflict: weight ");
	cli_buf_quoted(b, c->name);
	cli_buf_puts(b, " ");
	cli_buf_puts(b, what[c->kind]);
	if (c->kind == WL_CONFLICT_SAME_TARGET) {
		cli_buf_quoted(b, c->other);
		cli_buf_puts(b, " (");
		cli_buf_human(b, (c->theirs ? c->theirs : c->ours)->target);
		cli_buf_puts(b, ")\n");
		return;
	}
	cli_buf_puts(b, " (");
	describe_version(b, "ours", c->ours);
	cli_buf_puts(b, "; ");
	describe_version(b, "theirs", c->theirs);
	cli_buf_puts(b, ")\n");
}

/* Compares encoded bytes with a file's as they are encoded, stopping at
 * the first difference. */
typedef struct file_compare {
	int fd;
	char *buf;
	size_t cap;
	bool differs;
	int err;
} file_compare;

static int compare_with_file(void *ctx, const void *chunk, size_t n)
{
	file_compare *c = ctx;
	if (n > c->cap) {
		char *grown = realloc(c->buf, n);
		if (grown == NULL)
			return c->err = ENOMEM, 1;
		c->buf = grown;
		c->cap = n;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(c->fd, c->buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return c->err = errno, 1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got < n || memcmp(c->buf, chunk, n) != 0) {
		c->differs = true;
		return 1;
	}
	return 0;
}

/* Whether the file at `path` holds exactly the encoding of `lock`. Returns
 * 0 or 2 (printed). */
static int file_holds(bool *same, const char *path, wl_lock *lock)
{
	file_compare c = {.fd = open(path, O_RDONLY | O_CLOEXEC)};
	*same = false;
	if (c.fd < 0)
		return cli_error("read %s: %s", path, strerror(errno));
	int rc = wl_lock_marshal_to(lock, compare_with_file, &c);
	char extra;
	ssize_t tail = rc == 0 ? read(c.fd, &extra, 1) : 0;
	close(c.fd);
	free(c.buf);
	if (c.err != 0)
		return cli_error("read %s: %s", path, strerror(c.err));
	if (rc != 0 && !c.differs)
		return cli_lib_error_in(path, rc);
	*same = rc == 0 && tail == 0;
	return EXIT_OK;
}

int cmd_merge_driver(cli_invocation *cli)
{
	if (cli->operand_count != 3)
		return cli_usage_error(cli->command, cli->operand_count < 3 ? "missing %s" : "unexpected argument '%s'",
		                       cli->operand_count < 3 ? "BASE OURS THEIRS" : cli->operands[3]);
	const char *base_path = cli->operands[0], *ours_path = cli->operands[1],
	           *theirs_path = cli->operands[2];
	if (strcmp(ours_path, "-") == 0)
		return cli_usage_error(cli->command, "OURS is written: it cannot be - (standard input)");
	side sides[3] = {{.path = base_path, .empty_ok = true},
	                 {.path = ours_path},
	                 {.path = theirs_path}};
	int status = load_sides(sides, 3);
	wl_lock *base = sides[0].lock, *ours = sides[1].lock, *theirs = sides[2].lock;
	wl_merge_report *report = NULL;
	if (status == EXIT_OK) {
		int rc = wl_lock_merge3(&report, base, ours, theirs);
		if (rc != 0)
			status = cli_lib_error(rc);
	}
	if (status == EXIT_OK && report->conflict_count > 0) {
		cli_buf err = {0};
		for (size_t i = 0; i < report->conflict_count; i++)
			describe_conflict(&err, &report->conflicts[i]);
		cli_buf_printf(&err, "weightslock: %zu %s in conflict; %s left as it was\n",
		               report->conflict_count, report->conflict_count == 1 ? "weight" : "weights",
		               ours_path);
		if (!err.failed)
			cli_write_all(STDERR_FILENO, err.data, err.len);
		cli_buf_release(&err);
		status = EXIT_FOUND;
	} else if (status == EXIT_OK) {
		if (report->envelope_conflict)
			cli_warn("envelopeFormat changed on both sides; ours kept (import re-checks layers against it)");
		if (report->became_multi)
			cli_warn("%s: a merged weight does not have exactly one source: written in the "
			         "multi-source shape", ours_path);
		/* Not rewritten when the merge is OURS's own bytes, which can only
		 * be when no weight came from THEIRS or went away. */
		bool same = false;
		if (report->taken + report->added + report->removed == 0)
			status = file_holds(&same, ours_path, ours);
		if (status == EXIT_OK && !same) {
			/* %A is git's temporary copy: git writes the work tree's
			 * weights.lock from it, so atomic is enough, durable buys nothing */
			int rc = wl_lock_save_to(ours, ours_path, false);
			if (rc != 0)
				status = cli_lib_error_in(ours_path, rc);
		}
		if (status == EXIT_OK && cli->verbose)
			cli_note(cli, "%s: merged (%zu taken from theirs, %zu added, %zu removed)", ours_path,
			         report->taken, report->added, report->removed);
	}
	wl_merge_report_free(report);
	release_sides(sides, 3);
	return status;
}

/* ------------------------------------------------------------------------ */
/* install-git                                                              */
/* ------------------------------------------------------------------------ */

#define ATTRIBUTES_LINE "weights.lock merge=weightslock diff=weightslock"

/* Runs git with `args` (NULL-terminated, without "git"); `*out` receives
 * its standard output (malloc'd), `err` its standard error, trimmed.
 * Returns git's exit status, or -1 when it could not be run (err says
 * why). */
static int run_git(char *const args[], char **out, char *err, size_t errlen)
{
	char *argv[16];
	size_t n = 0;
	argv[n++] = "git";
	for (size_t i = 0; args[i] != NULL && n + 1 < sizeof argv / sizeof argv[0]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	*out = NULL;
	err[0] = '\0';
	int out_pipe[2], err_pipe[2];
	if (pipe2(out_pipe, O_CLOEXEC) != 0)
		return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
	if (pipe2(err_pipe, O_CLOEXEC) != 0) {
		close(out_pipe[0]);
		close(out_pipe[1]);
		return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], STDERR_FILENO);
	pid_t pid;
	int rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out_pipe[1]);
	close(err_pipe[1]);
	if (rc != 0) {
		close(out_pipe[0]);
		close(err_pipe[0]);
		snprintf(err, errlen, "cannot run git: %s", strerror(rc));
		return -1;
	}
	cli_buf o = {0};
	size_t elen = 0;
	struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (fds[k].fd < 0 || fds[k].revents == 0)
				continue;
			char chunk[4096];
			ssize_t got = read(fds[k].fd, chunk, sizeof chunk);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(fds[k].fd);
				fds[k].fd = -1;
				open_fds--;
			} else if (k == 0) {
				cli_buf_put(&o, chunk, (size_t)got);
			} else if (elen + 1 < errlen) {
				size_t take = (size_t)got < errlen - 1 - elen ? (size_t)got : errlen - 1 - elen;
				memcpy(err + elen, chunk, take);
				elen += take;
				err[elen] = '\0';
			}
		}
	}
	for (int k = 0; k < 2; k++)
		if (fds[k].fd >= 0)
			close(fds[k].fd);
	int wstatus = 0;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	while (elen > 0 && (err[elen - 1] == '\n' || err[elen - 1] == '\r'))
		err[--elen] = '\0';
	for (size_t i = 0; i < elen; i++)
		if (err[i] == '\n')
			err[i] = ' ';
	cli_buf_put(&o, "", 1);
	if (o.failed) {
		cli_buf_release(&o);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = o.data;
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
}

/* The top of the repository of the current directory, or NULL (`err`
 * holds git's message). */
static char *repository_top(char *err, size_t errlen)
{
	char *args[] = {"rev-parse", "--show-toplevel", NULL};
	char *out = NULL;
	int rc = run_git(args, &out, err, errlen);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	size_t n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (n == 0) {
		free(out);
		snprintf(err, errlen, "git rev-parse --show-toplevel printed nothing (a bare repository?)");
		return NULL;
	}
	return out;
}

/* The program the drivers run: `weightslock` when PATH finds this very
 * program, else its absolute path, quoted for the shell git runs. */
static int driver_program(cli_buf *b)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return cli_error("install-git: cannot find this program's path: %s", strerror(errno));
	self[n] = '\0';
	struct stat me;
	if (stat(self, &me) != 0)
		return cli_error("install-git: stat %s: %s", self, strerror(errno));
	const char *path = getenv("PATH");
	while (path != NULL && *path != '\0') {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		char candidate[4096];
		struct stat st;
		if (len > 0 && len < sizeof candidate - 16) {
			snprintf(candidate, sizeof candidate, "%.*s/weightslock", (int)len, path);
			if (stat(candidate, &st) == 0) {
				/* The first hit is what the shell would run. */
				if (st.st_dev == me.st_dev && st.st_ino == me.st_ino) {
					cli_buf_puts(b, "weightslock");
					return EXIT_OK;
				}
				break;
			}
		}
		path = colon ? colon + 1 : NULL;
	}
	bool plain = true;
	for (const char *p = self; *p && plain; p++)
		plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+", *p) != NULL;
	if (plain) {
		cli_buf_puts(b, self);
		return EXIT_OK;
	}
	cli_buf_puts(b, "'");
	for (const char *p = self; *p; p++) {
		if (*p == '\'')
			cli_buf_puts(b, "'\\''");
		else
			cli_buf_put(b, p, 1);
	}
	cli_buf_puts(b, "'");
	return EXIT_OK;
}

/* True when a line of .gitattributes is our line, give or take spacing. */
static bool is_our_line(const char *line, size_t len)
{
	static const char *const words[] = {"weights.lock", "merge=weightslock", "diff=weightslock"};
	size_t w = 0, i = 0;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		if (w == 3 || i - start != strlen(words[w]) || memcmp(line + start, words[w], i - start) != 0)
			return false;
		w++;
	}
	return w == 3;
}

static int install_attributes(const cli_invocation *cli, const char *top)
{
	cli_buf path = {0};
	cli_buf_printf(&path, "%s/.gitattributes", top);
	cli_buf_put(&path, "", 1);
	if (path.failed)
		return cli_error("out of memory");
	char *data = NULL;
	size_t len = 0;
	char why[1024];
	int rc = wl_read_file(&data, &len, path.data, 1 << 20);
	int status = EXIT_OK;
	if (rc != 0 && rc != WL_ENOTFOUND) {
		snprintf(why, sizeof why, "%s", wl_error_last()->message);
		status = cli_error("install-git: %s", why);
	}
	bool present = false;
	for (size_t i = 0; status == EXIT_OK && data != NULL && i < len && !present;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		present = is_our_line(data + i, end - i);
		i = end + 1;
	}
	if (status == EXIT_OK && present) {
		if (cli->verbose)
			cli_note(cli, "%s: already has `%s`", path.data, ATTRIBUTES_LINE);
	} else if (status == EXIT_OK) {
		cli_buf text = {0};
		if (len > 0)
			cli_buf_put(&text, data, len);
		if (len > 0 && data[len - 1] != '\n')
			cli_buf_puts(&text, "\n");
		cli_buf_puts(&text, ATTRIBUTES_LINE "\n");
		if (text.failed)
			status = cli_error("out of memory");
		else if ((rc = wl_write_file_atomic(path.data, text.data, text.len)) != 0)
			status = cli_lib_error_in(path.data, rc);
		else
			cli_note(cli, "%s: added `%s`", path.data, ATTRIBUTES_LINE);
		cli_buf_release(&text);
	}
	free(data);
	cli_buf_release(&path);
	return status;
}

/* Sets one git config entry unless it already has that value. */
static int set_config(const cli_invocation *cli, const char *key, const char *value)
{
	char *scope = cli->global_config ? "--global" : "--local";
	char err[1024];
	char *out = NULL;
	char *get[] = {"config", scope, "--get-all", (char *)key, NULL};
	int rc = run_git(get, &out, err, sizeof err);
	bool same = rc == 0 && out != NULL && strlen(out) == strlen(value) + 1 &&
	            memcmp(out, value, strlen(value)) == 0 && out[strlen(value)] == '\n';
	free(out);
	out = NULL;
	if (rc < 0)
		return cli_error("install-git: %s", err);
	if (same) {
		if (cli->verbose)
			cli_note(cli, "git config %s %s: already set", scope, key);
		return EXIT_OK;
	}
	char *set[] = {"config", scope, "--replace-all", (char *)key, (char *)value, NULL};
	rc = run_git(set, &out, err, sizeof err);
	free(out);
	if (rc != 0)
		return cli_error("install-git: git config %s %s failed: %s", scope, key,
		                 err[0] ? err : "no message");
	cli_note(cli, "git config %s %s '%s'", scope, key, value);
	return EXIT_OK;
}

int cmd_install_git(cli_invocation *cli)
{
	if (cli->operand_count > 0)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[0]);
	char err[1024];
	char *top = repository_top(err, sizeof err);
	if (top == NULL && !cli->global_config)
		return cli_error("install-git: not in a git repository (%s)", err[0] ? err : "git rev-parse failed");
	cli_buf program = {0};
	int status = driver_program(&program);
	cli_buf merge = {0}, diff = {0};
	if (status == EXIT_OK) {
		cli_buf_put(&program, "", 1);
		cli_buf_printf(&merge, "%s merge-driver %%O %%A %%B", program.data);
		cli_buf_put(&merge, "", 1);
		cli_buf_printf(&diff, "%s diff --git", program.data);
		cli_buf_put(&diff, "", 1);
		if (program.failed || merge.failed || diff.failed)
			status = cli_error("out of memory");
	}
	if (status == EXIT_OK && top != NULL)
		status = install_attributes(cli, top);
	if (status == EXIT_OK && top == NULL)
		cli_note(cli, "not in a git repository: only the global config is written; run "
		              "'weightslock install-git' in each repository for its .gitattributes line");
	if (status == EXIT_OK)
		status = set_config(cli, "merge.weightslock.name", "weightslock merge driver for weights.lock");
	if (status == EXIT_OK)
		status = set_config(cli, "merge.weightslock.driver", merge.data);
	if (status == EXIT_OK)
		status = set_config(cli, "diff.weightslock.command", diff.data);
	cli_buf_release(&program);
	cli_buf_release(&merge);
	cli_buf_release(&diff);
	free(top);
	return status;
}
