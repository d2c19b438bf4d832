/*
 * filter.c - include/exclude filters (SPEC.md §10).
 *
 * Owns: go-gitignore's textual rewrite of a pattern into a regular
 * expression (§10.2), the project's policy on which expressions it accepts
 * (§10.4), a matcher for the accepted subset of RE2, and the zero-survivor
 * rule with Cog's message (§10.5).
 *
 * Hand-written because what must be reproduced is a quirky rewrite
 * evaluated by Go's RE2 dialect: fnmatch(3) and glob(3) have different
 * semantics (patterns float, `?` is literal, `**` is special only next to
 * `/`), POSIX regcomp(3) and PCRE differ from RE2 on classes, newlines and
 * UTF-8, and libre2 is C++. The subset the policy accepts (literals, `.`,
 * `[...]` classes of ASCII characters and the fixed groups the rewrite
 * inserts) needs only a small Thompson-NFA simulation, which is linear in
 * the path length for every pattern.
 *
 * Where Cog silently drops a pattern because RE2 cannot compile its
 * rewrite (an unterminated class, a `*` whose rewrite a class swallows, a
 * reversed range, invalid UTF-8), the filter drops it too, so the file set
 * is Cog's, and keeps a warning naming it for the caller to show (§10.4).
 * Comments (`#...`) are dropped as Cog drops them, without a warning; an
 * include list of only comments or dropped patterns matches nothing.
 */
#include "common/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest accepted pattern. Each pattern byte becomes at most three
 * instructions, so programs stay below WL_PROG_MAX and the matcher's
 * scratch space fits on the stack. */
#define WL_PATTERN_MAX 1024
#define WL_PROG_MAX 4096

/* ---- go-gitignore's rewrite (§10.2) ---- */

/* Replaces every non-overlapping `from`, left to right. */
static void replace_all(wl_buf *out, const char *s, size_t n, const char *from, const char *to)
{
	size_t from_len = strlen(from);
	for (size_t i = 0; i < n;) {
		if (n - i >= from_len && memcmp(s + i, from, from_len) == 0) {
			wl_buf_puts(out, to);
			i += from_len;
		} else {
			wl_buf_putc(out, s[i++]);
		}
	}
}

/* One rewrite step: `text` becomes text with `from` replaced by `to`. */
static void rewrite(wl_buf *text, const char *from, const char *to)
{
	wl_buf next;
	wl_buf_init(&next);
	replace_all(&next, text->data ? text->data : "", text->len, from, to);
	if (next.failed || text->failed) {
		wl_buf_release(&next);
		text->failed = true;
		return;
	}
	wl_buf_release(text);
	*text = next;
}

/* Step 7: does `[^/+]/.*\*\.` match somewhere in s? `.` stops at LF.
 * Byte-wise is exact: the last byte of a multi-byte code point is never
 * `/` or `+`, and an invalid byte is U+FFFD to Go, also outside `[/+]`. */
static bool anchoring_quirk(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == '/' || s[i] == '+' || s[i + 1] != '/')
			continue;
		for (size_t j = i + 2; j + 1 < n && s[j] != '\n'; j++)
			if (s[j] == '*' && s[j + 1] == '.')
				return true;
	}
	return false;
}

/* Steps 1-6: the pattern's body, or false when the pattern is dropped. */
static bool pattern_body(wl_string pattern, wl_string *body, bool *negated)
{
	const char *s = pattern.ptr;
	size_t n = pattern.len;
	while (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > 0 && s[0] == '#')
		return false;
	while (n > 0 && s[0] == ' ')
		s++, n--;
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n == 0)
		return false;
	*negated = s[0] == '!';
	if (*negated)
		s++, n--;
	if (n > 0 && (s[0] == '#' || s[0] == '!'))
		s++, n--;
	*body = (wl_string){s, n};
	return true;
}

/* Steps 7-18 on a body; the result is in `out` (may have failed). */
static void translate_body(wl_buf *out, wl_string body)
{
	wl_buf text;
	wl_buf_init(&text);
	if (body.len > 0 && body.ptr[0] != '/' && anchoring_quirk(body.ptr, body.len))
		wl_buf_putc(&text, '/');
	replace_all(&text, body.ptr, body.len, ".", "\\.");
	if (text.len >= 4 && memcmp(text.data, "/**/", 4) == 0) {
		memmove(text.data, text.data + 1, text.len - 1);
		text.len--;
		text.data[text.len] = '\0';
	}
	rewrite(&text, "/**/", "(/|/.+/)");
	rewrite(&text, "**/", "(|.#$~/)");
	rewrite(&text, "/**", "(|/.#$~)");
	rewrite(&text, "\\*", "\\#$~");
	rewrite(&text, "*", "([^/]*)");
	rewrite(&text, "?", "\\?");
	rewrite(&text, "#$~", "*");
	if (text.len > 0 && text.data[text.len - 1] == '/')
		wl_buf_puts(&text, "(|.*)$");
	else
		wl_buf_puts(&text, "(|/.*)$");
	if (text.len > 0 && text.data[0] == '/') {
		wl_buf_puts(out, "^(|/)");
		wl_buf_put(out, text.data + 1, text.len - 1);
	} else {
		wl_buf_puts(out, "^(|.*/)");
		wl_buf_put(out, text.data, text.len);
	}
	if (text.failed)
		out->failed = true;
	wl_buf_release(&text);
}

int wl_filter_translate(char **out, size_t *out_len, wl_string pattern)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_string body;
	bool negated;
	if (pattern_body(pattern, &body, &negated))
		translate_body(&b, body);
	else
		wl_buf_reserve(&b, 1);
	int rc = wl_buf_finish(&b, out, out_len);
	return rc != 0 ? wl__nomem() : 0;
}

/* ---- the compiled subset ---- */

enum op {
	OP_CHAR,  /* one code point */
	OP_ANY,   /* `.`: any code point but LF */
	OP_CLASS, /* `[...]` of ASCII members, maybe negated */
	OP_SPLIT, /* continue at x and at y */
	OP_JMP,   /* continue at x */
	OP_MATCH,
};

struct inst {
	uint8_t op;
	bool negated;
	uint16_t x, y;
	uint32_t cp;
	uint64_t members[2]; /* bit c: ASCII character c is in the class */
};

struct matcher {
	struct inst *prog;
	size_t len;
};

struct pattern_list {
	wl_string *patterns; /* as given (trimmed), for messages */
	size_t count;
	struct matcher *matchers; /* the patterns not dropped */
	size_t matcher_count;
};

struct wl_filter {
	struct pattern_list include, exclude;
	wl_storage *storage;
	char **warnings; /* one per pattern dropped because RE2 rejects it */
	size_t warning_count;
};

struct builder {
	struct inst prog[WL_PROG_MAX];
	size_t len;
	bool overflow;
};

static size_t emit(struct builder *b, enum op op)
{
	if (b->len >= WL_PROG_MAX) {
		b->overflow = true;
		return WL_PROG_MAX - 1;
	}
	struct inst *in = &b->prog[b->len];
	memset(in, 0, sizeof *in);
	in->op = (uint8_t)op;
	return b->len++;
}

static void emit_char(struct builder *b, uint32_t cp)
{
	b->prog[emit(b, OP_CHAR)].cp = cp;
}

/* A single-code-point matcher repeated zero or more times. */
static void emit_star(struct builder *b, const struct inst *one)
{
	size_t split = emit(b, OP_SPLIT);
	size_t body = emit(b, (enum op)one->op);
	b->prog[body] = *one;
	size_t jmp = emit(b, OP_JMP);
	b->prog[jmp].x = (uint16_t)split;
	b->prog[split].x = (uint16_t)body;
	b->prog[split].y = (uint16_t)b->len;
}

static void emit_any_star(struct builder *b)
{
	struct inst any = {.op = OP_ANY};
	emit_star(b, &any);
}

/* `(|...)`: returns the split whose y is patched by optional_end. */
static size_t optional_begin(struct builder *b)
{
	size_t split = emit(b, OP_SPLIT);
	b->prog[split].x = (uint16_t)(split + 1);
	return split;
}

static void optional_end(struct builder *b, size_t split)
{
	b->prog[split].y = (uint16_t)b->len;
}

/* The groups go-gitignore inserts, each with the code that matches it. */
enum group { G_ROOT_SLASH, G_ANY_DIRS, G_DIR_SEPARATOR, G_BELOW, G_REST, G_NOT_SLASH_STAR };

static void emit_group(struct builder *b, enum group g)
{
	size_t split;
	switch (g) {
	case G_ROOT_SLASH: /* (|/) */
		split = optional_begin(b);
		emit_char(b, '/');
		optional_end(b, split);
		break;
	case G_ANY_DIRS: /* (|.*\/) */
		split = optional_begin(b);
		emit_any_star(b);
		emit_char(b, '/');
		optional_end(b, split);
		break;
	case G_DIR_SEPARATOR: /* (/|/.+/) is / followed by (|.+/) */
		emit_char(b, '/');
		split = optional_begin(b);
		emit(b, OP_ANY);
		emit_any_star(b);
		emit_char(b, '/');
		optional_end(b, split);
		break;
	case G_BELOW: /* (|/.*) */
		split = optional_begin(b);
		emit_char(b, '/');
		emit_any_star(b);
		optional_end(b, split);
		break;
	case G_REST: /* (|.*) */
		emit_any_star(b);
		break;
	case G_NOT_SLASH_STAR: { /* ([^/]*) */
		struct inst not_slash = {.op = OP_CLASS, .negated = true};
		not_slash.members[0] = (uint64_t)1 << '/';
		emit_star(b, &not_slash);
		break;
	}
	}
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t len = strlen(prefix);
	return n >= len && memcmp(s, prefix, len) == 0;
}

/* Why a pattern is refused: a reason, or the operator at fault; `drop`
 * when RE2 rejects the rewrite, so that Cog drops the pattern. */
struct refusal {
	const char *why;
	char op;
	bool drop;
};

/* A class member as Go's parseClassChar reads it, within the subset: an
 * ASCII character, or `\.` / `\?` (the rewrite's escapes of `.` and `?`).
 * A class may swallow a whole group the rewrite made of `**` next to `/`
 * (as in the pattern "[a**" "/b]"): the group's characters are then
 * members like any other.
 * Anything non-ASCII is refused. */
static bool class_char(const char *s, size_t end, size_t *i, unsigned char *c, struct refusal *r)
{
	if (*i >= end) {
		r->why = "unterminated character class '['";
		r->drop = true;
		return false;
	}
	unsigned char ch = (unsigned char)s[*i];
	if (ch == '\\') {
		if (*i + 1 < end && (s[*i + 1] == '.' || s[*i + 1] == '?')) {
			*c = (unsigned char)s[*i + 1];
			*i += 2;
			return true;
		}
		r->why = "a backslash inside [...]";
		return false;
	}
	if (ch >= 0x80) {
		r->why = "a character class with a non-ASCII member";
		return false;
	}
	*c = ch;
	(*i)++;
	return true;
}

/* Go's parseClass (Perl flags) on the rewritten text at s[*i] == '['.
 * `end` is where the suffix go-gitignore appends begins: it holds no `]`,
 * so a class still open there is unterminated for RE2 as well. */
static bool compile_class(struct builder *b, const char *s, size_t end, size_t *i, struct refusal *r)
{
	struct inst cls = {.op = OP_CLASS};
	size_t k = *i + 1;
	if (k < end && s[k] == '^') {
		cls.negated = true;
		k++;
	}
	bool first = true;
	while (k >= end || s[k] != ']' || first) {
		first = false;
		if (end - k >= 2 && s[k] == '[' && s[k + 1] == ':') {
			r->why = "a POSIX class [:name:] inside [...]";
			return false;
		}
		unsigned char lo, hi;
		if (!class_char(s, end, &k, &lo, r))
			return false;
		hi = lo;
		if (end - k >= 2 && s[k] == '-' && s[k + 1] != ']') {
			k++;
			if (!class_char(s, end, &k, &hi, r))
				return false;
			if (hi < lo) {
				r->why = "a reversed range in [...]";
				r->drop = true;
				return false;
			}
		}
		for (unsigned c = lo; c <= hi; c++)
			cls.members[c >> 6] |= (uint64_t)1 << (c & 63);
	}
	*i = k + 1;
	size_t at = emit(b, OP_CLASS);
	b->prog[at] = cls;
	return true;
}

/* Compiles a rewritten expression; false (with r set) when it leaves the
 * subset whose RE2 meaning is reproduced here. */
static bool compile_expression(struct builder *b, const char *s, size_t n, struct refusal *r)
{
	static const struct {
		const char *text;
		enum group group;
	} groups[] = {
		{"(/|/.+/)", G_DIR_SEPARATOR},
		{"(|.*/)", G_ANY_DIRS},
		{"(|/.*)", G_BELOW},
		{"([^/]*)", G_NOT_SLASH_STAR},
	};
	size_t i;
	if (starts_with(s, n, "^(|/)")) {
		emit_group(b, G_ROOT_SLASH);
		i = 5;
	} else {
		emit_group(b, G_ANY_DIRS); /* ^(|.*\/) */
		i = 7;
	}
	size_t end;
	bool rest = n >= 6 && memcmp(s + n - 6, "(|.*)$", 6) == 0;
	end = rest ? n - 6 : n - 7; /* else (|/.*)$ */
	while (i < end) {
		bool grouped = false;
		for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
			if (starts_with(s + i, n - i, groups[g].text)) {
				emit_group(b, groups[g].group);
				i += strlen(groups[g].text);
				grouped = true;
				break;
			}
		}
		if (grouped)
			continue;
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' && i + 1 < end && (s[i + 1] == '.' || s[i + 1] == '?')) {
			emit_char(b, (unsigned char)s[i + 1]);
			i += 2;
		} else if (c == '[') {
			if (!compile_class(b, s, end, &i, r))
				return false;
			/* A class that swallowed the start of a `*`'s `([^/]*)` ends
			 * at its `]`; the `*)` left over has no '(' to close. */
			if (i < end && (s[i] == '*' || s[i] == ')')) {
				r->why = "a '*' inside [...] (its rewrite leaves an unmatched ')')";
				r->drop = true;
				return false;
			}
		} else if (c != '\0' && strchr("\\().*+?|{}^$", c) != NULL) {
			r->op = (char)c;
			return false;
		} else {
			uint32_t cp;
			size_t len = wl_utf8_decode((const unsigned char *)s + i, end - i, &cp);
			emit_char(b, cp);
			i += len;
		}
	}
	emit_group(b, rest ? G_REST : G_BELOW);
	emit(b, OP_MATCH);
	if (b->overflow) {
		r->why = "too long";
		return false;
	}
	return true;
}

static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = wl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (cp == 0xFFFD && len == 1)
			return false;
		i += len;
	}
	return true;
}

/* ---- matching ---- */

static bool step_matches(const struct inst *in, uint32_t cp)
{
	switch (in->op) {
	case OP_CHAR:
		return in->cp == cp;
	case OP_ANY:
		return cp != '\n';
	case OP_CLASS: {
		bool member = cp < 128 && (in->members[cp >> 6] >> (cp & 63) & 1);
		return member != in->negated;
	}
	default:
		return false;
	}
}

struct threads {
	uint16_t pc[WL_PROG_MAX];
	size_t count;
};

struct scratch {
	struct threads a, b;
	uint16_t stack[WL_PROG_MAX];
	uint64_t seen[WL_PROG_MAX / 64];
};

/* Adds pc and everything reachable from it without consuming input. */
static void add_thread(struct scratch *sc, const struct matcher *m, struct threads *t, uint16_t pc)
{
	size_t sp = 0;
	if (sc->seen[pc >> 6] >> (pc & 63) & 1)
		return;
	sc->seen[pc >> 6] |= (uint64_t)1 << (pc & 63);
	sc->stack[sp++] = pc;
	while (sp > 0) {
		const struct inst *in = &m->prog[sc->stack[--sp]];
		uint16_t next[2];
		size_t nn = 0;
		if (in->op == OP_SPLIT) {
			next[nn++] = in->y;
			next[nn++] = in->x;
		} else if (in->op == OP_JMP) {
			next[nn++] = in->x;
		} else {
			t->pc[t->count++] = (uint16_t)(in - m->prog);
			continue;
		}
		for (size_t k = 0; k < nn; k++) {
			uint16_t p = next[k];
			if (sc->seen[p >> 6] >> (p & 63) & 1)
				continue;
			sc->seen[p >> 6] |= (uint64_t)1 << (p & 63);
			sc->stack[sp++] = p;
		}
	}
}

/* Whole-path match (the expression is anchored at both ends). */
static bool matcher_run(const struct matcher *m, const char *path, size_t n)
{
	struct scratch sc;
	size_t words = (m->len + 63) / 64;
	struct threads *cur = &sc.a, *next = &sc.b;
	memset(sc.seen, 0, words * sizeof sc.seen[0]);
	cur->count = 0;
	add_thread(&sc, m, cur, 0);
	for (size_t i = 0; i < n;) {
		if (cur->count == 0)
			return false;
		uint32_t cp;
		size_t len = wl_utf8_decode((const unsigned char *)path + i, n - i, &cp);
		i += len;
		memset(sc.seen, 0, words * sizeof sc.seen[0]);
		next->count = 0;
		for (size_t k = 0; k < cur->count; k++) {
			const struct inst *in = &m->prog[cur->pc[k]];
			if (step_matches(in, cp))
				add_thread(&sc, m, next, (uint16_t)(cur->pc[k] + 1));
		}
		struct threads *t = cur;
		cur = next;
		next = t;
	}
	for (size_t k = 0; k < cur->count; k++)
		if (m->prog[cur->pc[k]].op == OP_MATCH)
			return true;
	return false;
}

static bool list_matches(const struct pattern_list *list, wl_string path)
{
	for (size_t i = 0; i < list->matcher_count; i++)
		if (matcher_run(&list->matchers[i], path.ptr ? path.ptr : "", path.len))
			return true;
	return false;
}

/* ---- building a filter ---- */

/* "<list> pattern <%q>: <why>", or "... is not supported: <why>". */
static int refuse(const char *list_name, wl_string pattern, bool unsupported, const char *why)
{
	char *quoted = NULL;
	size_t quoted_len;
	if (wl_quote(&quoted, &quoted_len, pattern) != 0)
		return wl__nomem();
	int rc = wl__fail(WL_EINVALID, "%s pattern %s%s %s", list_name, quoted,
	                  unsupported ? " is not supported:" : ":", why);
	wl_free(quoted);
	return rc;
}

static int refuse_operator(const char *list_name, wl_string pattern, char op)
{
	char why[160];
	snprintf(why, sizeof why,
	         "'%c' is a regular-expression operator in Cog's matcher "
	         "(use *, **, ?, / and [...] classes of ASCII characters)",
	         op);
	return refuse(list_name, pattern, true, why);
}

/* Keeps "<list> pattern <%q> dropped: <why>, as Cog drops it". */
static int warn_dropped(wl_filter *f, const char *list_name, wl_string pattern, const char *why)
{
	char *quoted = NULL;
	if (wl_quote(&quoted, NULL, pattern) != 0)
		return wl__nomem();
	char *w = NULL;
	int n = asprintf(&w, "%s pattern %s dropped: its regular expression does not compile (%s), so Cog ignores it",
	                 list_name, quoted, why);
	wl_free(quoted);
	char **p = n < 0 ? NULL : realloc(f->warnings, (f->warning_count + 1) * sizeof *p);
	if (p == NULL) {
		if (n >= 0)
			free(w);
		return wl__nomem();
	}
	f->warnings = p;
	f->warnings[f->warning_count++] = w;
	return 0;
}

/* The policy checks of §8.1 and §10.4 on a trimmed pattern, then the
 * rewrite and compilation. `*m` stays empty for a dropped pattern. */
static int compile_pattern(wl_filter *f, struct matcher *m, wl_string pattern, const char *list_name)
{
	m->prog = NULL;
	m->len = 0;
	if (pattern.len == 0)
		return refuse(list_name, pattern, false, "pattern must not be empty");
	if (pattern.ptr[0] == '!')
		return refuse(list_name, pattern, false,
		              "negation patterns (starting with '!') are not supported");
	if (memchr(pattern.ptr, '\\', pattern.len) != NULL)
		return refuse(list_name, pattern, false,
		              "patterns must use forward slashes, not backslashes");
	wl_string body;
	bool negated;
	if (!pattern_body(pattern, &body, &negated))
		return 0; /* a comment: dropped, as Cog drops it */
	if (negated) /* unreachable after trimming; kept as a guard */
		return refuse(list_name, pattern, false,
		              "negation patterns (starting with '!') are not supported");
	if (pattern.len > WL_PATTERN_MAX)
		return refuse(list_name, pattern, true, "longer than 1024 bytes");
	if (!valid_utf8(pattern.ptr, pattern.len))
		return warn_dropped(f, list_name, pattern, "not valid UTF-8");
	for (size_t i = 0; i < pattern.len; i++) {
		char c = pattern.ptr[i];
		if (c != '\0' && strchr("+()|{}$", c) != NULL)
			return refuse_operator(list_name, pattern, c);
	}

	wl_buf expr;
	wl_buf_init(&expr);
	translate_body(&expr, body);
	if (expr.failed) {
		wl_buf_release(&expr);
		return wl__nomem();
	}
	struct builder *b = malloc(sizeof *b);
	if (b == NULL) {
		wl_buf_release(&expr);
		return wl__nomem();
	}
	b->len = 0;
	b->overflow = false;
	struct refusal r = {"", '\0', false};
	bool ok = compile_expression(b, expr.data, expr.len, &r);
	wl_buf_release(&expr);
	if (!ok) {
		free(b);
		if (r.drop)
			return warn_dropped(f, list_name, pattern, r.why);
		if (r.op != '\0')
			return refuse_operator(list_name, pattern, r.op);
		return refuse(list_name, pattern, true, r.why);
	}
	m->prog = malloc(b->len * sizeof *m->prog);
	if (m->prog == NULL) {
		free(b);
		return wl__nomem();
	}
	memcpy(m->prog, b->prog, b->len * sizeof *m->prog);
	m->len = b->len;
	free(b);
	return 0;
}

static int build_list(wl_filter *f, struct pattern_list *list, const wl_string *patterns, size_t count,
                      const char *list_name)
{
	wl_storage *storage = f->storage;
	if (count == 0)
		return 0;
	size_t bytes;
	if (wl_mul_overflows_size(count, sizeof *list->patterns, &bytes))
		return wl__nomem();
	list->patterns = wl_storage_alloc(storage, bytes);
	list->matchers = calloc(count, sizeof *list->matchers);
	if (list->patterns == NULL || list->matchers == NULL)
		return wl__nomem();
	list->count = count;
	for (size_t i = 0; i < count; i++) {
		wl_string t = wl_pattern_trim(patterns[i]);
		if (!wl_storage_string(storage, &list->patterns[i], t.ptr, t.len))
			return wl__nomem();
		struct matcher *m = &list->matchers[list->matcher_count];
		int rc = compile_pattern(f, m, list->patterns[i], list_name);
		if (rc != 0)
			return rc;
		if (m->prog != NULL)
			list->matcher_count++;
	}
	return 0;
}

static void free_list(struct pattern_list *list)
{
	for (size_t i = 0; i < list->matcher_count; i++)
		free(list->matchers[i].prog);
	free(list->matchers);
}

int wl_filter_new(wl_filter **out, const wl_string *include, size_t include_count,
                  const wl_string *exclude, size_t exclude_count)
{
	*out = NULL;
	wl_filter *f = calloc(1, sizeof *f);
	if (f == NULL)
		return wl__nomem();
	f->storage = wl_storage_new();
	if (f->storage == NULL) {
		free(f);
		return wl__nomem();
	}
	int rc = build_list(f, &f->include, include, include_count, "include");
	if (rc == 0)
		rc = build_list(f, &f->exclude, exclude, exclude_count, "exclude");
	if (rc != 0) {
		wl_filter_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void wl_filter_free(wl_filter *filter)
{
	if (filter == NULL)
		return;
	free_list(&filter->include);
	free_list(&filter->exclude);
	for (size_t i = 0; i < filter->warning_count; i++)
		free(filter->warnings[i]);
	free(filter->warnings);
	wl_storage_free(filter->storage);
	free(filter);
}

size_t wl_filter_warning_count(const wl_filter *filter)
{
	return filter != NULL ? filter->warning_count : 0;
}

const char *wl_filter_warning(const wl_filter *filter, size_t i)
{
	return filter != NULL && i < filter->warning_count ? filter->warnings[i] : NULL;
}

bool wl_filter_is_empty(const wl_filter *filter)
{
	return filter == NULL || (filter->include.count == 0 && filter->exclude.count == 0);
}

bool wl_filter_pass(const wl_filter *filter, wl_string path)
{
	if (wl_filter_is_empty(filter))
		return true;
	if (list_matches(&filter->exclude, path))
		return false;
	return filter->include.count == 0 || list_matches(&filter->include, path);
}

/* `include: ["p1", "p2"]` with %q quoting. */
static void put_list(wl_buf *b, const char *name, const struct pattern_list *list)
{
	if (list->count == 0)
		return;
	wl_buf_printf(b, "; %s: [", name);
	for (size_t i = 0; i < list->count; i++) {
		char *quoted = NULL;
		size_t len;
		if (wl_quote(&quoted, &len, list->patterns[i]) != 0) {
			b->failed = true;
			return;
		}
		if (i > 0)
			wl_buf_puts(b, ", ");
		wl_buf_put(b, quoted, len);
		wl_free(quoted);
	}
	wl_buf_putc(b, ']');
}

int wl_filter_select(bool *keep, size_t *kept, const wl_filter *filter, const wl_source_file *files,
                     size_t count)
{
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		keep[i] = wl_filter_pass(filter, files[i].path);
		n += keep[i];
	}
	*kept = n;
	if (n > 0 || wl_filter_is_empty(filter))
		return 0;

	wl_buf b;
	wl_buf_init(&b);
	wl_buf_printf(&b, "include/exclude patterns matched zero files out of %zu in the source", count);
	put_list(&b, "include", &filter->include);
	put_list(&b, "exclude", &filter->exclude);
	wl_buf_puts(&b, "; check your patterns \xE2\x80\x94 did you mean a different glob?");
	char *message;
	size_t len;
	if (wl_buf_finish(&b, &message, &len) != 0)
		return wl__nomem();
	int rc = wl__fail(WL_EINVALID, "%s", message);
	free(message);
	return rc;
}
