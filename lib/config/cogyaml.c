/*
 * cogyaml.c - the `weights:` stanza of cog.yaml: reading, Cog's validation
 * and the normalization of each declaration (SPEC.md §8.1, §8.2, §13),
 * including Cog's NormalizeURI.
 *
 * libyaml does the YAML (its document API resolves anchors and aliases),
 * after one pass over its events has bounded alias expansion and nesting
 * as Go's yaml.v3 does (SPEC.md §15); what is hand-written here is Cog's
 * schema for the stanza and its rules, which no library knows. Every string of a wl_config lives in its arena.
 */
#include "common/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Field paths such as "weights[3].source[1].include[12]" fit easily. */
#define FIELD_MAX 128

struct reader {
	yaml_document_t *doc;
	wl_storage *storage;
	const char *file;
};

/* ---- small helpers ---- */

static void field_printf(char *buf, const char *fmt, ...) WL_PRINTF(2, 3);

static void field_printf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, FIELD_MAX, fmt, ap);
	va_end(ap);
}

/* The text of `s` quoted like Go's %q, owned by the arena; NULL on ENOMEM. */
static const char *arena_quote(wl_storage *storage, wl_string s)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, s) != 0)
		return NULL;
	if (!wl_storage_adopt(storage, q)) {
		free(q);
		return NULL;
	}
	return q;
}

static bool is_null(const yaml_node_t *node)
{
	if (node == NULL)
		return true;
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)node->data.scalar.value;
	size_t n = node->data.scalar.length;
	static const char *const forms[] = {"", "~", "null", "Null", "NULL"};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
		if (n == strlen(forms[i]) && memcmp(v, forms[i], n) == 0)
			return true;
	return false;
}

static bool scalar_is(const yaml_node_t *node, const char *text)
{
	return node != NULL && node->type == YAML_SCALAR_NODE &&
	       node->data.scalar.length == strlen(text) &&
	       memcmp(node->data.scalar.value, text, node->data.scalar.length) == 0;
}

static int fail_node(const struct reader *r, const yaml_node_t *node, const char *field,
                     const char *what)
{
	if (node == NULL)
		return wl__fail(WL_EPARSE, "%s: %s: %s", r->file, field, what);
	return wl__fail(WL_EPARSE, "%s: %s: %s (line %zu, column %zu)", r->file, field, what,
	                (size_t)node->start_mark.line + 1, (size_t)node->start_mark.column + 1);
}

static int fail_rule(const struct reader *r, const char *field, const char *what)
{
	return wl__fail(WL_EPARSE, "%s: %s: %s", r->file, field, what);
}

static int fail_key(const struct reader *r, const yaml_node_t *key, const char *field,
                    const char *what)
{
	wl_string text = {(const char *)key->data.scalar.value, key->data.scalar.length};
	const char *q = arena_quote(r->storage, text);
	if (q == NULL)
		return wl__nomem();
	return wl__fail(WL_EPARSE, "%s: %s: %s %s (line %zu, column %zu)", r->file, field, what, q,
	                (size_t)key->start_mark.line + 1, (size_t)key->start_mark.column + 1);
}

/* Stores a scalar's text; YAML null becomes the empty string, as Cog's
 * decoder leaves a string field empty for it. */
static int read_string(const struct reader *r, wl_string *out, const yaml_node_t *node,
                       const char *field)
{
	if (is_null(node)) {
		*out = WL__EMPTY;
		return 0;
	}
	if (node->type != YAML_SCALAR_NODE)
		return fail_node(r, node, field, "expected a string");
	if (!wl_storage_string(r->storage, out, (const char *)node->data.scalar.value,
	                       node->data.scalar.length))
		return wl__nomem();
	return 0;
}

static void *arena_array(wl_storage *storage, size_t count, size_t size)
{
	size_t bytes;
	if (count == 0)
		return NULL;
	if (wl_mul_overflows_size(count, size, &bytes))
		return NULL;
	void *p = wl_storage_alloc(storage, bytes);
	if (p != NULL)
		memset(p, 0, bytes);
	return p;
}

/* Checks a mapping key: a scalar, not a merge key, not seen before among
 * `seen` (a bit per known key). Returns the known key's index or fails. */
static int match_key(const struct reader *r, const yaml_node_t *key, const char *field,
                     const char *const *known, size_t known_count, unsigned *seen, size_t *index)
{
	if (key == NULL || key->type != YAML_SCALAR_NODE)
		return fail_node(r, key, field, "mapping keys must be strings");
	for (size_t k = 0; k < known_count; k++) {
		if (scalar_is(key, known[k])) {
			if (*seen & (1u << k))
				return fail_key(r, key, field, "duplicate key");
			*seen |= 1u << k;
			*index = k;
			return 0;
		}
	}
	if (scalar_is(key, "<<"))
		return fail_node(r, key, field, "YAML merge keys (<<) are not supported");
	return fail_key(r, key, field, "unknown key");
}

/* ---- reading the stanza ---- */

static int read_patterns(const struct reader *r, wl_string **out, size_t *count,
                         const yaml_node_t *node, const char *field)
{
	*out = NULL;
	*count = 0;
	if (is_null(node))
		return 0; /* absent and empty are the same */
	if (node->type != YAML_SEQUENCE_NODE)
		return fail_node(r, node, field, "expected a sequence of strings");
	yaml_node_item_t *items = node->data.sequence.items.start;
	size_t n = (size_t)(node->data.sequence.items.top - items);
	wl_string *list = arena_array(r->storage, n, sizeof *list);
	if (n > 0 && list == NULL)
		return wl__nomem();
	for (size_t j = 0; j < n; j++) {
		char where[FIELD_MAX];
		field_printf(where, "%s[%zu]", field, j);
		int rc = read_string(r, &list[j], yaml_document_get_node(r->doc, items[j]), where);
		if (rc != 0)
			return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

static int read_source(const struct reader *r, wl_source *src, const yaml_node_t *node,
                       const char *field)
{
	static const char *const known[] = {"uri", "include", "exclude"};
	if (node == NULL || node->type != YAML_MAPPING_NODE)
		return fail_node(r, node, field, "expected a mapping");
	bool have_uri = false;
	unsigned seen = 0;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		const yaml_node_t *value = yaml_document_get_node(r->doc, p->value);
		size_t k = 0;
		int rc = match_key(r, key, field, known, 3, &seen, &k);
		if (rc != 0)
			return rc;
		char where[FIELD_MAX];
		field_printf(where, "%s.%s", field, known[k]);
		if (k == 0) {
			have_uri = !is_null(value);
			rc = read_string(r, &src->uri, value, where);
		} else if (k == 1) {
			rc = read_patterns(r, &src->include, &src->include_count, value, where);
		} else {
			rc = read_patterns(r, &src->exclude, &src->exclude_count, value, where);
		}
		if (rc != 0)
			return rc;
	}
	if (!have_uri)
		return fail_node(r, node, field, "uri is required");
	return 0;
}

static int read_sources(const struct reader *r, wl_config_weight *w, const yaml_node_t *node,
                        const char *field)
{
	if (node->type == YAML_MAPPING_NODE) {
		w->sources = arena_array(r->storage, 1, sizeof *w->sources);
		if (w->sources == NULL)
			return wl__nomem();
		w->source_count = 1;
		return read_source(r, &w->sources[0], node, field);
	}
	if (node->type != YAML_SEQUENCE_NODE)
		return fail_node(r, node, field, "expected a mapping or a sequence of mappings");
	yaml_node_item_t *items = node->data.sequence.items.start;
	size_t n = (size_t)(node->data.sequence.items.top - items);
	if (n == 0)
		return fail_node(r, node, field, "at least one source is required");
	w->sources = arena_array(r->storage, n, sizeof *w->sources);
	if (w->sources == NULL)
		return wl__nomem();
	w->source_count = n;
	w->source_is_list = true;
	for (size_t j = 0; j < n; j++) {
		char where[FIELD_MAX];
		field_printf(where, "%s[%zu]", field, j);
		int rc = read_source(r, &w->sources[j], yaml_document_get_node(r->doc, items[j]), where);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int read_weight(const struct reader *r, wl_config_weight *w, const yaml_node_t *node,
                       size_t i)
{
	static const char *const known[] = {"name", "target", "source"};
	char field[FIELD_MAX];
	field_printf(field, "weights[%zu]", i);
	if (node == NULL || node->type != YAML_MAPPING_NODE)
		return fail_node(r, node, field, "expected a mapping");
	const yaml_node_t *source = NULL;
	unsigned seen = 0;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		const yaml_node_t *value = yaml_document_get_node(r->doc, p->value);
		size_t k = 0;
		int rc = match_key(r, key, field, known, 3, &seen, &k);
		if (rc != 0)
			return rc;
		char where[FIELD_MAX];
		field_printf(where, "%s.%s", field, known[k]);
		if (k == 0)
			rc = read_string(r, &w->name, value, where);
		else if (k == 1)
			rc = read_string(r, &w->target, value, where);
		else
			source = is_null(value) ? NULL : value;
		if (rc != 0)
			return rc;
	}
	if (source == NULL)
		return fail_node(r, node, field, "source is required");
	char where[FIELD_MAX];
	field_printf(where, "%s.source", field);
	return read_sources(r, w, source, where);
}

static int read_stanza(const struct reader *r, wl_config *config)
{
	const yaml_node_t *root = yaml_document_get_root_node(r->doc);
	if (is_null(root))
		return 0; /* an empty document declares no weights */
	if (root->type != YAML_MAPPING_NODE)
		return fail_node(r, root, "top level", "expected a mapping");
	const yaml_node_t *weights = NULL;
	bool found = false;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		/* the registry repository of the model (SPEC.md §18.1) */
		bool is_image = scalar_is(key, "image");
		if (is_image || scalar_is(key, "model")) {
			const yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
			if (v != NULL && v->type == YAML_SCALAR_NODE) {
				int rc = read_string(r, is_image ? &config->image : &config->model, v,
				                     is_image ? "image" : "model");
				if (rc != 0)
					return rc;
			}
			continue;
		}
		if (!scalar_is(key, "weights"))
			continue;
		if (found)
			return fail_node(r, key, "weights", "duplicate key \"weights\"");
		found = true;
		weights = yaml_document_get_node(r->doc, p->value);
	}
	if (is_null(weights))
		return 0;
	if (weights->type != YAML_SEQUENCE_NODE)
		return fail_node(r, weights, "weights", "expected a sequence of mappings");
	yaml_node_item_t *items = weights->data.sequence.items.start;
	size_t n = (size_t)(weights->data.sequence.items.top - items);
	config->weights = arena_array(r->storage, n, sizeof *config->weights);
	if (n > 0 && config->weights == NULL)
		return wl__nomem();
	config->weight_count = n;
	for (size_t i = 0; i < n; i++) {
		int rc = read_weight(r, &config->weights[i], yaml_document_get_node(r->doc, items[i]), i);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- validation (SPEC.md §8.1) ---- */

/* Go's unicode.IsSpace, which strings.TrimSpace uses. */
static bool is_space(uint32_t cp)
{
	switch (cp) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200A;
	}
}

wl_string wl_pattern_trim(wl_string s)
{
	const unsigned char *p = (const unsigned char *)s.ptr;
	size_t start = s.len, end = 0;
	for (size_t i = 0; i < s.len;) {
		uint32_t cp;
		size_t len = wl_utf8_decode(p + i, s.len - i, &cp);
		if (!is_space(cp)) {
			if (start == s.len)
				start = i;
			end = i + len;
		}
		i += len;
	}
	if (start >= end)
		return WL__EMPTY;
	return (wl_string){s.ptr + start, end - start};
}

static int validate_patterns(const struct reader *r, const wl_string *list, size_t count,
                             const char *field)
{
	for (size_t j = 0; j < count; j++) {
		wl_string t = wl_pattern_trim(list[j]);
		const char *what = NULL;
		if (t.len == 0)
			what = "pattern must not be empty";
		else if (t.ptr[0] == '!')
			what = "negation patterns (starting with '!') are not supported";
		else if (memchr(t.ptr, '\\', t.len) != NULL)
			what = "patterns must use forward slashes, not backslashes";
		if (what != NULL) {
			char where[FIELD_MAX];
			field_printf(where, "%s[%zu]", field, j);
			return fail_rule(r, where, what);
		}
	}
	return 0;
}

/* True when `a` lies strictly below `b`: a == b + "/" + more. */
static bool below(wl_string a, wl_string b)
{
	if (b.len == 1 && b.ptr[0] == '/')
		return false; /* the root is rejected before this is asked */
	return a.len > b.len + 1 && memcmp(a.ptr, b.ptr, b.len) == 0 && a.ptr[b.len] == '/';
}

/* The first of `refs` (sorted by wl__earliest_repeat) holding `s`: the
 * earliest element with that string; NULL when none does. */
static const wl_string *find_sorted(const wl_string *const *refs, size_t n, wl_string s)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (wl_string_compare(*refs[mid], s) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && wl_string_equal(*refs[lo], s) ? refs[lo] : NULL;
}

/*
 * Where the rules that compare weights with the weights before them first
 * fail, so the scan in validate() stops where Cog's pairwise one does
 * while costing O(n log n): the earliest weight whose name, whose cleaned
 * target, or whose target's overlap (one below the other) repeats an
 * earlier weight's; `n` for none. `cleaned[i]` is empty for targets that
 * are not absolute paths: they fail before any of these rules is asked.
 */
struct repeats {
	size_t name, target, overlap;
};

static int find_repeats(struct repeats *out, const wl_config *config, const wl_string *cleaned)
{
	size_t n = config->weight_count;
	*out = (struct repeats){n, n, n};
	if (n < 2)
		return 0;
	const wl_string **refs = malloc(n * sizeof *refs);
	if (refs == NULL)
		return wl__nomem();
	for (size_t i = 0; i < n; i++)
		refs[i] = &config->weights[i].name;
	const wl_string *repeat = wl__earliest_repeat(refs, n);
	if (repeat != NULL)
		out->name = (size_t)((const char *)repeat - (const char *)&config->weights[0].name) /
		            sizeof(wl_config_weight);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (cleaned[i].len > 0)
			refs[m++] = &cleaned[i];
	repeat = wl__earliest_repeat(refs, m);
	if (repeat != NULL)
		out->target = (size_t)(repeat - cleaned);
	/* A pair of overlapping targets fails at the later of the two; each
	 * target looks up its ancestors (cleaned paths have no "//" and no
	 * trailing "/"), and the earliest weight holding one stands for all. */
	for (size_t i = 0; i < n; i++) {
		wl_string t = cleaned[i];
		for (size_t k = 1; k + 1 < t.len; k++) {
			if (t.ptr[k] != '/')
				continue;
			const wl_string *above = find_sorted(refs, m, (wl_string){t.ptr, k});
			if (above == NULL)
				continue;
			size_t a = (size_t)(above - cleaned);
			size_t later = a > i ? a : i;
			if (later < out->overlap)
				out->overlap = later;
		}
	}
	free(refs);
	return 0;
}

static int validate(const struct reader *r, wl_config *config)
{
	size_t n = config->weight_count;
	wl_string *cleaned = arena_array(r->storage, n, sizeof *cleaned);
	if (n > 0 && cleaned == NULL)
		return wl__nomem();
	for (size_t i = 0; i < n; i++) {
		wl_string target = config->weights[i].target;
		if (target.len == 0 || target.ptr[0] != '/')
			continue;
		char *clean = NULL;
		size_t clean_len = 0;
		int rc = wl_path_clean(&clean, &clean_len, target);
		if (rc != 0)
			return rc;
		bool stored = wl_storage_string(r->storage, &cleaned[i], clean, clean_len);
		free(clean);
		if (!stored)
			return wl__nomem();
	}
	struct repeats repeats;
	int rc = find_repeats(&repeats, config, cleaned);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const wl_config_weight *w = &config->weights[i];
		char field[FIELD_MAX];
		field_printf(field, "weights[%zu].name", i);
		if (w->name.len == 0)
			return fail_rule(r, field, "name is required");
		if (!wl_weight_name_valid(w->name))
			return fail_rule(r, field,
			                 "must contain only lowercase alphanumeric characters, hyphens, dots, "
			                 "or underscores (e.g. \"my-model-weights\")");
		if (i == repeats.name)
			return fail_rule(r, field, "duplicate weight name");

		field_printf(field, "weights[%zu].target", i);
		if (w->target.len == 0)
			return fail_rule(r, field, "target is required");
		if (w->target.ptr[0] != '/')
			return fail_rule(r, field, "target must be an absolute path");
		if (cleaned[i].len == 1)
			return fail_rule(r, field, "target must not be the container root \"/\"");
		if (i == repeats.target)
			return fail_rule(r, field, "duplicate weight target");
		for (size_t j = 0; i == repeats.overlap && j < i; j++) {
			if (below(cleaned[i], cleaned[j]) || below(cleaned[j], cleaned[i])) {
				const char *q = arena_quote(r->storage, cleaned[j]);
				if (q == NULL)
					return wl__nomem();
				return wl__fail(WL_EPARSE,
				                "%s: %s: target overlaps with %s; weight targets must be disjoint",
				                r->file, field, q);
			}
		}

		for (size_t s = 0; s < w->source_count; s++) {
			const wl_source *src = &w->sources[s];
			char base[FIELD_MAX];
			if (w->source_is_list)
				field_printf(base, "weights[%zu].source[%zu]", i, s);
			else
				field_printf(base, "weights[%zu].source", i);
			field_printf(field, "%s.include", base);
			rc = validate_patterns(r, src->include, src->include_count, field);
			if (rc == 0) {
				field_printf(field, "%s.exclude", base);
				rc = validate_patterns(r, src->exclude, src->exclude_count, field);
			}
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- normalization (SPEC.md §8.2) ---- */

static int compare_strings(const void *a, const void *b)
{
	return wl_string_compare(*(const wl_string *)a, *(const wl_string *)b);
}

static void normalize_patterns(wl_string *list, size_t count)
{
	for (size_t j = 0; j < count; j++)
		list[j] = wl_pattern_trim(list[j]); /* a prefix of arena bytes: re-terminate below */
	if (count > 1)
		qsort(list, count, sizeof *list, compare_strings);
}

/* Trimming may leave a string whose NUL is further on; copy those. */
static int terminate_patterns(wl_storage *storage, wl_string *list, size_t count)
{
	for (size_t j = 0; j < count; j++) {
		if (list[j].len == 0 || list[j].ptr[list[j].len] == '\0')
			continue;
		if (!wl_storage_string(storage, &list[j], list[j].ptr, list[j].len))
			return wl__nomem();
	}
	return 0;
}

static int normalize(const struct reader *r, wl_config *config)
{
	for (size_t i = 0; i < config->weight_count; i++) {
		wl_config_weight *w = &config->weights[i];
		for (size_t s = 0; s < w->source_count; s++) {
			wl_source *src = &w->sources[s];
			normalize_patterns(src->include, src->include_count);
			normalize_patterns(src->exclude, src->exclude_count);
			int rc = terminate_patterns(r->storage, src->include, src->include_count);
			if (rc == 0)
				rc = terminate_patterns(r->storage, src->exclude, src->exclude_count);
			if (rc != 0)
				return rc;
			char *uri = NULL;
			size_t uri_len = 0;
			rc = wl_normalize_uri(&uri, &uri_len, src->uri);
			if (rc == WL_ENOMEM)
				return rc;
			if (rc != 0) {
				const char *q = arena_quote(r->storage, w->name);
				if (q == NULL)
					return wl__nomem();
				char *why = strdup(wl_error_last()->message);
				if (why == NULL)
					return wl__nomem();
				wl__fail(WL_EPARSE, "%s: weight %s: %s", r->file, q, why);
				free(why);
				return WL_EPARSE;
			}
			bool stored = wl_storage_string(r->storage, &src->uri, uri, uri_len);
			free(uri);
			if (!stored)
				return wl__nomem();
		}
	}
	return 0;
}

/* ---- bounded aliasing and nesting (SPEC.md §15) ---- */

/*
 * libyaml's document shares an anchored node among its aliases, but what
 * reads the stanza copies and scans every reference: one 1 MiB scalar
 * aliased 4,000 times would be 4 GiB of work. Before loading, one pass
 * over the events measures what decoding would cost, the way Go's yaml.v3
 * counts it (one operation per node decoded, aliases expanded), and
 * refuses the document with yaml.v3's rule: more than 100 operations from
 * alias expansion, more than 1,000 in all, and a share from aliases above
 * 0.99 up to 400,000 operations, 0.10 from 4,000,000, linear between. A
 * scalar costs one operation per byte on top of its node, so a big anchor
 * weighs what copying it costs. The whole document is measured, as if
 * every key mattered. Each anchor's cost is computed once, when its node
 * ends, so measuring is linear however deep aliases nest.
 *
 * Nesting deeper than yaml.v3's limit is refused in the same pass, before
 * libyaml builds anything (its scanner slows down quadratically with depth).
 */
#define MAX_DEPTH 10000
#define RATIO_LOW 400000.0
#define RATIO_HIGH 4000000.0
#define COST_MAX ((uint64_t)1 << 62)

static uint64_t add_cost(uint64_t a, uint64_t b)
{
	return a >= COST_MAX - b || b >= COST_MAX ? COST_MAX : a + b;
}

static double allowed_alias_share(double decoded)
{
	if (decoded <= RATIO_LOW)
		return 0.99;
	if (decoded >= RATIO_HIGH)
		return 0.10;
	return 0.99 - 0.89 * (decoded - RATIO_LOW) / (RATIO_HIGH - RATIO_LOW);
}

/* Anchors by name (a later definition replaces an earlier one), open
 * while their node is being read. Open addressing, power-of-two size. */
struct anchor {
	char *name;
	uint64_t cost;
	bool open;
};

struct anchors {
	struct anchor *slots;
	size_t cap, count;
};

static size_t anchor_hash(const char *s)
{
	size_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static struct anchor *anchor_find(const struct anchors *t, const char *name)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = anchor_hash(name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].name == NULL)
			return NULL;
		if (strcmp(t->slots[i].name, name) == 0)
			return &t->slots[i];
	}
}

static struct anchor *anchor_define(struct anchors *t, const char *name)
{
	struct anchor *a = anchor_find(t, name);
	if (a != NULL)
		return a;
	if ((t->count + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct anchor *slots = calloc(ncap, sizeof *slots);
		if (slots == NULL)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (t->slots[k].name == NULL)
				continue;
			size_t i = anchor_hash(t->slots[k].name) & (ncap - 1);
			while (slots[i].name != NULL)
				i = (i + 1) & (ncap - 1);
			slots[i] = t->slots[k];
		}
		free(t->slots);
		t->slots = slots;
		t->cap = ncap;
	}
	size_t i = anchor_hash(name) & (t->cap - 1);
	while (t->slots[i].name != NULL)
		i = (i + 1) & (t->cap - 1);
	t->slots[i].name = strdup(name);
	if (t->slots[i].name == NULL)
		return NULL;
	t->count++;
	return &t->slots[i];
}

static void anchors_free(struct anchors *t)
{
	for (size_t k = 0; k < t->cap; k++)
		free(t->slots[k].name);
	free(t->slots);
}

/* An open sequence or mapping: its cost so far and its anchor, if any. */
struct open_node {
	uint64_t cost;
	char *anchor;
};

struct measure {
	const char *file;
	struct anchors anchors;
	struct open_node *stack;
	size_t depth;
	uint64_t decoded, aliased;
};

static int measure_fail(const struct measure *m, const yaml_event_t *ev, const char *what)
{
	return wl__fail(WL_EPARSE, "%s: YAML error at line %zu, column %zu: %s", m->file,
	                (size_t)ev->start_mark.line + 1, (size_t)ev->start_mark.column + 1, what);
}

/* A node of `cost` is complete: it counts for its container, and for its
 * anchor's aliases. */
static int measure_done(struct measure *m, const char *anchor, uint64_t cost)
{
	if (m->depth > 0)
		m->stack[m->depth - 1].cost = add_cost(m->stack[m->depth - 1].cost, cost);
	if (anchor == NULL)
		return 0;
	struct anchor *a = anchor_define(&m->anchors, anchor);
	if (a == NULL)
		return wl__nomem();
	a->cost = cost;
	a->open = false;
	return 0;
}

/* One event; 1 when the document is over. */
static int measure_event(struct measure *m, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		uint64_t cost = add_cost(1, ev->data.scalar.length);
		m->decoded = add_cost(m->decoded, cost);
		return measure_done(m, (const char *)ev->data.scalar.anchor, cost);
	}
	case YAML_ALIAS_EVENT: {
		const struct anchor *a = anchor_find(&m->anchors, (const char *)ev->data.alias.anchor);
		if (a == NULL)
			return 0; /* undefined: loading reports it */
		if (a->open)
			return measure_fail(m, ev, "an anchor's value contains an alias of itself");
		m->decoded = add_cost(m->decoded, add_cost(1, a->cost));
		m->aliased = add_cost(m->aliased, a->cost);
		if (m->aliased > 100 && m->decoded > 1000 &&
		    (double)m->aliased / (double)m->decoded > allowed_alias_share((double)m->decoded))
			return wl__fail(WL_EPARSE, "%s: document contains excessive aliasing", m->file);
		return measure_done(m, NULL, add_cost(1, a->cost));
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		if (m->depth >= MAX_DEPTH)
			return measure_fail(m, ev, "exceeded max depth of 10000");
		const char *anchor = (const char *)(ev->type == YAML_SEQUENCE_START_EVENT
		                                        ? ev->data.sequence_start.anchor
		                                        : ev->data.mapping_start.anchor);
		struct open_node *node = &m->stack[m->depth++];
		*node = (struct open_node){1, NULL};
		m->decoded = add_cost(m->decoded, 1);
		if (anchor == NULL)
			return 0;
		struct anchor *a = anchor_define(&m->anchors, anchor);
		if (a == NULL || (node->anchor = strdup(anchor)) == NULL)
			return wl__nomem();
		a->open = true;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (m->depth == 0)
			return 0;
		struct open_node node = m->stack[--m->depth];
		int rc = measure_done(m, node.anchor, node.cost);
		free(node.anchor);
		return rc;
	}
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

/* Measures the first document; syntax errors are left to the loader. */
static int measure_document(const void *data, size_t len, const char *file)
{
	struct measure m = {.file = file};
	m.stack = malloc(MAX_DEPTH * sizeof *m.stack);
	yaml_parser_t parser;
	if (m.stack == NULL || !yaml_parser_initialize(&parser)) {
		free(m.stack);
		return wl__nomem();
	}
	yaml_parser_set_input_string(&parser, data, len);
	int rc = 0;
	while (rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev))
			break;
		rc = measure_event(&m, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	while (m.depth > 0)
		free(m.stack[--m.depth].anchor);
	free(m.stack);
	anchors_free(&m.anchors);
	return rc < 0 ? rc : 0;
}

/* ---- public API ---- */

static int syntax_error(const yaml_parser_t *parser, const char *file)
{
	const char *problem = parser->problem != NULL ? parser->problem : "invalid YAML";
	if (parser->error == YAML_MEMORY_ERROR)
		return wl__nomem();
	if (parser->error == YAML_READER_ERROR)
		return wl__fail(WL_EPARSE, "%s: YAML error at byte offset %zu: %s", file,
		                parser->problem_offset, problem);
	if (parser->context != NULL)
		return wl__fail(WL_EPARSE, "%s: YAML error at line %zu, column %zu: %s (%s at line %zu, column %zu)",
		                file, parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
		                parser->context, parser->context_mark.line + 1,
		                parser->context_mark.column + 1);
	return wl__fail(WL_EPARSE, "%s: YAML error at line %zu, column %zu: %s", file,
	                parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
}

int wl_config_parse(wl_config **out, const void *data, size_t len, const char *name)
{
	*out = NULL;
	const char *file = name != NULL ? name : "cog.yaml";
	wl_config *config = calloc(1, sizeof *config);
	if (config == NULL)
		return wl__nomem();
	config->storage = wl_storage_new();
	if (config->storage == NULL) {
		free(config);
		return wl__nomem();
	}
	if (data == NULL)
		data = "";
	int rc = measure_document(data, len, file);
	if (rc != 0) {
		wl_config_free(config);
		return rc;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		wl_config_free(config);
		return wl__nomem();
	}
	yaml_parser_set_input_string(&parser, data, len);
	yaml_document_t doc;
	/* Only the first document counts, as with Cog's decoder. */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(&parser, file);
		yaml_parser_delete(&parser);
		wl_config_free(config);
		return rc;
	}
	struct reader r = {&doc, config->storage, file};
	rc = read_stanza(&r, config);
	if (rc == 0)
		rc = validate(&r, config);
	if (rc == 0)
		rc = normalize(&r, config);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc != 0) {
		wl_config_free(config);
		return rc;
	}
	/* What cog.yaml leaves out reads as the empty string. */
	for (size_t i = 0; i < config->weight_count; i++) {
		wl_config_weight *w = &config->weights[i];
		wl__string_fill(&w->name);
		wl__string_fill(&w->target);
		for (size_t k = 0; k < w->source_count; k++)
			wl__source_fill(&w->sources[k]);
	}
	wl__string_fill(&config->image);
	wl__string_fill(&config->model);
	*out = config;
	return 0;
}

int wl_config_load(wl_config **out, const char *path)
{
	*out = NULL;
	char *data = NULL;
	size_t len = 0;
	int rc = wl_read_file(&data, &len, path, 0);
	if (rc != 0)
		return rc;
	rc = wl_config_parse(out, data, len, path);
	free(data);
	return rc;
}

void wl_config_free(wl_config *config)
{
	if (config == NULL)
		return;
	wl_storage_free(config->storage);
	free(config);
}

/* ---- NormalizeURI ---- */

/* Fails with WL_EINVALID and a message holding `a` and (optionally) `b`
 * quoted like Go's %q. */
static int uri_error(const char *fmt, wl_string a, const wl_string *b)
{
	char *qa = NULL, *qb = NULL;
	if (wl_quote(&qa, NULL, a) != 0)
		return WL_ENOMEM;
	if (b != NULL && wl_quote(&qb, NULL, *b) != 0) {
		free(qa);
		return WL_ENOMEM;
	}
	if (b != NULL)
		wl__fail(WL_EINVALID, fmt, qa, qb);
	else
		wl__fail(WL_EINVALID, fmt, qa);
	free(qa);
	free(qb);
	return WL_EINVALID;
}

static int finish(char **out, size_t *out_len, const char *prefix, const char *p, size_t n)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, prefix);
	wl_buf_put(&b, p, n);
	return wl_buf_finish(&b, out, out_len);
}

static int normalize_file(char **out, size_t *out_len, wl_string path)
{
	if (path.len == 0)
		return wl__fail(WL_EINVALID, "empty weight source path");
	char *clean = NULL;
	size_t clean_len = 0;
	int rc = wl_path_clean(&clean, &clean_len, path);
	if (rc != 0)
		return rc;
	if (clean[0] == '/') {
		rc = finish(out, out_len, "file://", clean, clean_len);
	} else if (clean_len == 1 && clean[0] == '.') {
		rc = wl__fail(WL_EINVALID, "weight source cannot be the project directory itself");
	} else if (clean_len >= 2 && clean[0] == '.' && clean[1] == '.') {
		/* A prefix test, as Cog does: "..foo" is rejected too. */
		rc = uri_error("weight source %s escapes the project directory", path, NULL);
	} else {
		rc = finish(out, out_len, "file://./", clean, clean_len);
	}
	free(clean);
	return rc;
}

static int normalize_hf(char **out, size_t *out_len, wl_string uri, wl_string rest)
{
	if (rest.len == 0)
		return wl__fail(WL_EINVALID, "empty hf:// URI");
	wl_string repo = rest, ref = {"main", 4};
	size_t at = rest.len;
	while (at > 0 && rest.ptr[at - 1] != '@')
		at--;
	if (at > 1) { /* the last '@' is not the first character */
		repo = (wl_string){rest.ptr, at - 1};
		ref = (wl_string){rest.ptr + at, rest.len - at};
		if (ref.len == 0)
			return uri_error("empty ref in hf:// URI: %s", uri, NULL);
	}
	const char *slash = memchr(repo.ptr, '/', repo.len);
	size_t org_len = slash != NULL ? (size_t)(slash - repo.ptr) : 0;
	if (slash == NULL || org_len == 0 || org_len + 1 == repo.len ||
	    memchr(slash + 1, '/', repo.len - org_len - 1) != NULL)
		return uri_error("invalid hf:// repo %s: expected org/repo", repo, NULL);
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, "hf://");
	wl_buf_put_str(&b, repo);
	if (!(ref.len == 4 && memcmp(ref.ptr, "main", 4) == 0)) {
		wl_buf_putc(&b, '@');
		wl_buf_put_str(&b, ref);
	}
	return wl_buf_finish(&b, out, out_len);
}

/* §16.1: kept as written; no user information (the URI is committed to
 * git), a host, and a path ending in a file name. */
static int normalize_http(char **out, size_t *out_len, wl_string uri, wl_string rest)
{
	size_t auth = 0;
	while (auth < rest.len && rest.ptr[auth] != '/' && rest.ptr[auth] != '?' && rest.ptr[auth] != '#')
		auth++;
	size_t end = auth;
	while (end < rest.len && rest.ptr[end] != '?' && rest.ptr[end] != '#')
		end++;
	if (auth == 0)
		return uri_error("no host in weight source URI %s", uri, NULL);
	if (memchr(rest.ptr, '@', auth) != NULL)
		return uri_error("weight source URI %s holds credentials; put them elsewhere (the URI is committed "
		                 "to git)",
		                 uri, NULL);
	if (end == auth || rest.ptr[end - 1] == '/')
		return uri_error("weight source URI %s does not name a file", uri, NULL);
	if (end < rest.len && rest.ptr[end] == '#')
		return uri_error("weight source URI %s has a fragment", uri, NULL);
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_put_str(&b, uri);
	return wl_buf_finish(&b, out, out_len);
}

int wl_normalize_uri(char **out, size_t *out_len, wl_string uri)
{
	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (uri.len == 0)
		return wl__fail(WL_EINVALID, "weight source.uri is required");
	const char *sep = NULL;
	for (size_t i = 0; i + 3 <= uri.len; i++) {
		if (memcmp(uri.ptr + i, "://", 3) == 0) {
			sep = uri.ptr + i;
			break;
		}
	}
	if (sep == NULL)
		return normalize_file(out, out_len, uri);
	wl_string scheme = {uri.ptr, (size_t)(sep - uri.ptr)};
	wl_string rest = {sep + 3, uri.len - scheme.len - 3};
	if (wl_string_equal(scheme, wl_str("file")))
		return normalize_file(out, out_len, rest);
	if (wl_string_equal(scheme, wl_str("hf")) || wl_string_equal(scheme, wl_str("huggingface")))
		return normalize_hf(out, out_len, uri, rest);
	if (wl_string_equal(scheme, wl_str("https")) || wl_string_equal(scheme, wl_str("http")))
		return normalize_http(out, out_len, uri, rest);
	return uri_error("unsupported weight source scheme %s in URI %s", scheme, &uri);
}
