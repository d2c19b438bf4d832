/*
 * remote.c - hf:// and https:// weight sources (SPEC.md §16).
 *
 * Owns the Hub protocol Cog calls (§16.2: the revision pinned to a commit,
 * the paginated recursive tree, files resolved at that commit, LFS digests
 * taken from the listing), the one-file https:// source (§16.1: a strong
 * ETag as fingerprint, else the content digest), validation of every
 * listed path as a local walk validates names, and fetching a listed file
 * into the content store, verified against its listed size and digest.
 * Transfers go through net/http; Hub responses are read with the project's
 * JSON reader (common/json_read), not a second parser.
 */
#include "source/remote.h"

#include "common/json_read.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HF_DEFAULT_ENDPOINT "https://huggingface.co"
/* Pages of a tree listing followed at most (a loop ends sooner). */
#define MAX_PAGES 100000
/* Listed files kept at most. */
#define MAX_FILES ((size_t)10000000)

typedef struct lister {
	wl__remote *remote;
	const wl__remote_options *opts;
	wl_string uri;
	size_t cap;
	/* hf */
	char *endpoint;
	wl_string org_repo;
	wl_string ref;
	char sha[41];
} lister;

bool wl__remote_uri(wl_string uri)
{
	static const char *const schemes[] = {"hf://", "huggingface://", "https://", "http://"};
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (uri.len >= n && memcmp(uri.ptr, schemes[i], n) == 0)
			return true;
	}
	return false;
}

void wl__remote_free(wl__remote *remote)
{
	if (remote == NULL)
		return;
	for (size_t i = 0; i < remote->count; i++)
		free(remote->files[i].url);
	free(remote->files);
	free(remote->authorization);
	free(remote->origin);
	wl_storage_free(remote->storage);
	free(remote);
}

/* "URI: " + the message. */
static int fail_uri(const lister *l, int code, const char *fmt, ...) WL_PRINTF(3, 4);
static int fail_uri(const lister *l, int code, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return wl__fail(code, "%.*s: %s", (int)l->uri.len, l->uri.ptr, what);
}

/* Percent-escapes `s` (every byte but RFC 3986's unreserved ones, and '/'
 * when `keep_slash`). */
static void escape(wl_buf *b, wl_string s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			wl_buf_putc(b, (char)c);
		} else {
			wl_buf_putc(b, '%');
			wl_buf_putc(b, hex[c >> 4]);
			wl_buf_putc(b, hex[c & 15]);
		}
	}
}

static char *buf_take(wl_buf *b)
{
	wl_buf_putc(b, '\0');
	if (b->failed) {
		wl_buf_release(b);
		return NULL;
	}
	return b->data;
}

/* "URI: the listing holds PATH<what>", PATH quoted as messages quote paths. */
static int fail_path(const lister *l, wl_string path, const char *what)
{
	char *q = NULL;
	if (wl_quote(&q, NULL, path) != 0)
		return WL_ENOMEM;
	int rc = fail_uri(l, WL_EINVALID, "the listing holds %s%s", q, what);
	free(q);
	return rc;
}

/* True when a directory of `path` (a component other than the last) is
 * named exactly ".cog": a local walk skips such a directory with all it
 * holds (§9.2), so no weight can hold the file. */
static bool under_cog(wl_string path)
{
	size_t start = 0;
	for (const char *slash; (slash = memchr(path.ptr + start, '/', path.len - start)) != NULL;) {
		size_t end = (size_t)(slash - path.ptr);
		if (end - start == 4 && memcmp(path.ptr + start, ".cog", 4) == 0)
			return true;
		start = end + 1;
	}
	return false;
}

/* Adds a listed file; the path is validated here, duplicates and files
 * that are also directories once sorted. */
static int add_file(lister *l, wl_string path, int64_t size, const char *digest, char *url)
{
	wl__remote *r = l->remote;
	const char *why = NULL;
	if (url == NULL)
		return wl__nomem();
	if (!wl_path_valid(path, &why) || size < 0) {
		free(url);
		char *q = NULL;
		if (wl_quote(&q, NULL, path) != 0)
			return WL_ENOMEM;
		int rc = fail_uri(l, WL_EINVALID, "the listing holds an invalid file %s: %s", q,
		                  why ? why : "negative size");
		free(q);
		return rc;
	}
	if (under_cog(path)) {
		free(url);
		return fail_path(l, path, " under a .cog directory, which a local walk skips; refused");
	}
	if (r->count == MAX_FILES) {
		free(url);
		return fail_uri(l, WL_EINVALID, "the listing holds more than %zu files", MAX_FILES);
	}
	if (r->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		wl__remote_file *p = realloc(r->files, cap * sizeof *p);
		if (p == NULL) {
			free(url);
			return wl__nomem();
		}
		r->files = p;
		l->cap = cap;
	}
	wl__remote_file *f = &r->files[r->count];
	memset(f, 0, sizeof *f);
	if (!wl_storage_string(r->storage, &f->path, path.ptr, path.len)) {
		free(url);
		return wl__nomem();
	}
	f->size = size;
	if (digest != NULL)
		snprintf(f->digest, sizeof f->digest, "%s", digest);
	f->url = url;
	r->count++;
	return 0;
}

static int compare_files(const void *a, const void *b)
{
	return wl_string_compare(((const wl__remote_file *)a)->path, ((const wl__remote_file *)b)->path);
}

/* True when a path in files[from, count) (sorted) starts with `dir` + '/'. */
static bool has_descendant(const wl__remote *r, size_t from, wl_string dir)
{
	return wl__path_first_under(r->files, r->count, sizeof *r->files, offsetof(wl__remote_file, path), from,
	                            dir) < r->count;
}

/* Sorted by path, then what a local walk cannot give is refused (§16.2):
 * a path twice (adjacent once sorted), a path that is a file and also a
 * directory of another (the paths under "P/" follow P, past those that
 * continue P with a byte below '/': one bisection each). O(n log n). */
static int sort_and_check(lister *l)
{
	wl__remote *r = l->remote;
	if (r->count > 1)
		qsort(r->files, r->count, sizeof *r->files, compare_files);
	for (size_t i = 1; i < r->count; i++)
		if (wl_string_equal(r->files[i].path, r->files[i - 1].path))
			return fail_path(l, r->files[i].path, " twice");
	for (size_t i = 0; i + 1 < r->count; i++)
		if (has_descendant(r, i + 1, r->files[i].path))
			return fail_path(l, r->files[i].path, " both as a file and as a directory");
	return 0;
}

/* ---- requests ---- */

/* GET `url` into memory; a status other than 2xx is the caller's. The
 * token goes only with a URL of the endpoint's origin (§16.2), and the
 * request names that origin so that no redirect hop elsewhere gets it. */
static int get_json(lister *l, const char *url, wl__http_response *resp)
{
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	const char *accept[] = {"Accept: application/json", NULL};
	req.headers = accept;
	if (l->remote->authorization != NULL && l->remote->origin != NULL &&
	    wl__hub_page_policy(l->remote->origin, NULL, url) == WL__HUB_PAGE_TOKEN) {
		req.origin = l->remote->origin;
		req.authorization = l->remote->authorization;
	}
	int rc = wl__http_perform(l->opts->http, &req, resp);
	if (rc != 0)
		return wl__error_prefix("%.*s", (int)l->uri.len, l->uri.ptr);
	return 0;
}

/* The Hub's answer to a request that did not succeed, in words (§16.2). */
static int hub_status(lister *l, const wl__http_response *resp, const char *what)
{
	switch (resp->status) {
	case 401:
		return fail_uri(l, WL_EIO,
		                "the Hub answered 401 Unauthorized for %s: the repository is private or gated, or the "
		                "token is not valid; set HF_TOKEN to a token with access",
		                what);
	case 403:
		return fail_uri(l, WL_EIO,
		                "the Hub answered 403 Forbidden for %s: the token has no access to this repository "
		                "(a gated repository needs its terms accepted)",
		                what);
	case 404:
		return fail_uri(l, WL_ENOTFOUND, "repository %.*s or revision \"%.*s\" not found on the Hub (404)",
		                (int)l->org_repo.len, l->org_repo.ptr, (int)l->ref.len, l->ref.ptr);
	default:
		return fail_uri(l, WL_EIO, "the Hub answered status %ld for %s", resp->status, what);
	}
}

/* ---- the Hub's JSON ---- */

static const wl__json_key revision_keys[] = {WL__JSON_KEY("sha", "SHA")};
static const wl__json_key entry_keys[] = {
	WL__JSON_KEY("type", "TYPE"),
	WL__JSON_KEY("path", "PATH"),
	WL__JSON_KEY("size", "SIZE"),
	WL__JSON_KEY("lfs", "LFS"),
};
static const wl__json_key lfs_keys[] = {WL__JSON_KEY("oid", "OID"), WL__JSON_KEY("size", "SIZE")};

static int parse_revision(lister *l, char *body, size_t len)
{
	wl__json_reader r;
	wl__json_init(&r, body, len, "the Hub's revision answer", l->remote->storage);
	static const wl__json_ctx self = {"Revision", NULL, "object"};
	static const wl__json_ctx sha_ctx = {"Revision", "sha", "string"};
	wl_string sha = {NULL, 0};
	int open = wl__json_open_top(&r, &self);
	bool ok = open >= 0;
	bool first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(&r, &first, &key)) != 0;) {
		if (m < 0) {
			ok = false;
			break;
		}
		int k = wl__json_match_key(revision_keys, 1, key.ptr, key.len);
		ok = k == 0 ? wl__json_read_string(&r, &sha_ctx, &sha) : wl__json_skip_value(&r);
	}
	int rc = wl__json_finish(&r, ok);
	if (rc != 0)
		return wl__error_prefix("%.*s", (int)l->uri.len, l->uri.ptr);
	bool hex = sha.len == 40;
	for (size_t i = 0; hex && i < 40; i++)
		hex = (sha.ptr[i] >= '0' && sha.ptr[i] <= '9') || (sha.ptr[i] >= 'a' && sha.ptr[i] <= 'f');
	if (!hex)
		return fail_uri(l, WL_EPARSE, "the Hub's revision answer has no 40-hex commit sha");
	memcpy(l->sha, sha.ptr, 40);
	l->sha[40] = '\0';
	return 0;
}

/* The URL of a file at the pinned commit. */
static char *resolve_url(const lister *l, wl_string path)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, l->endpoint);
	wl_buf_putc(&b, '/');
	escape(&b, l->org_repo, true);
	wl_buf_puts(&b, "/resolve/");
	wl_buf_puts(&b, l->sha);
	wl_buf_putc(&b, '/');
	escape(&b, path, true);
	return buf_take(&b);
}

/* One tree entry; files are added. */
static bool parse_entry(lister *l, wl__json_reader *r, int *rc)
{
	static const wl__json_ctx self = {"TreeEntry", "[]", "object"};
	static const wl__json_ctx str = {"TreeEntry", "path", "string"};
	static const wl__json_ctx num = {"TreeEntry", "size", "int64"};
	static const wl__json_ctx lfs_ctx = {"TreeEntry", "lfs", "object"};
	wl_string type = {NULL, 0}, path = {NULL, 0}, oid = {NULL, 0};
	int64_t size = -1, lfs_size = -1;
	bool has_lfs = false;
	int open = wl__json_open_object(r, &self);
	if (open < 0)
		return false;
	bool first = true, ok = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(r, &first, &key)) != 0;) {
		if (m < 0)
			return false;
		switch (wl__json_match_key(entry_keys, 4, key.ptr, key.len)) {
		case 0:
			ok = wl__json_read_string(r, &str, &type);
			break;
		case 1:
			ok = wl__json_read_string(r, &str, &path);
			break;
		case 2:
			ok = wl__json_read_int(r, &num, &size);
			break;
		case 3: {
			int lopen = wl__json_open_object(r, &lfs_ctx);
			if (lopen < 0)
				return false;
			has_lfs = lopen == 1;
			bool lfirst = true;
			wl_string lkey;
			for (int lm; ok && lopen == 1 && (lm = wl__json_next_member(r, &lfirst, &lkey)) != 0;) {
				if (lm < 0)
					return false;
				int k = wl__json_match_key(lfs_keys, 2, lkey.ptr, lkey.len);
				ok = k == 0   ? wl__json_read_string(r, &str, &oid)
				     : k == 1 ? wl__json_read_int(r, &num, &lfs_size)
				              : wl__json_skip_value(r);
			}
			break;
		}
		default:
			ok = wl__json_skip_value(r);
		}
	}
	if (!ok || r->type_failed)
		return ok;
	if (!wl_string_equal(type, wl_str("file")))
		return true; /* directories and anything else */
	char digest[WL_DIGEST_LEN + 1] = "";
	if (has_lfs) {
		bool hex = oid.len == 64;
		for (size_t i = 0; hex && i < 64; i++)
			hex = (oid.ptr[i] >= '0' && oid.ptr[i] <= '9') || (oid.ptr[i] >= 'a' && oid.ptr[i] <= 'f');
		if (!hex || lfs_size < 0) {
			*rc = fail_uri(l, WL_EPARSE, "the listing's LFS entry for %.*s has no sha256 oid and size",
			               (int)(path.len > 200 ? 200 : path.len), path.ptr ? path.ptr : "");
			return false;
		}
		snprintf(digest, sizeof digest, "sha256:%.*s", 64, oid.ptr);
		size = lfs_size;
	}
	*rc = add_file(l, path, size, has_lfs ? digest : NULL, resolve_url(l, path));
	return *rc == 0;
}

static int parse_page(lister *l, char *body, size_t len)
{
	wl__json_reader r;
	wl__json_init(&r, body, len, "the Hub's tree listing", l->remote->storage);
	wl__json_skip_ws(&r);
	int rc = 0;
	bool ok = true;
	if (wl__json_peek(&r) != '[') {
		ok = wl__json_syntax(&r, "the tree listing is not an array");
	} else {
		r.pos++;
		r.depth++;
		bool first = true;
		for (int e; ok && (e = wl__json_next_element(&r, &first)) != 0;) {
			if (e < 0) {
				ok = false;
				break;
			}
			ok = parse_entry(l, &r, &rc);
		}
		r.depth--;
	}
	if (rc != 0) {
		wl__saved_error saved;
		wl__error_save(&saved);
		wl__json_finish(&r, false);
		return wl__error_restore(&saved);
	}
	rc = wl__json_finish(&r, ok);
	if (rc != 0)
		return wl__error_prefix("%.*s", (int)l->uri.len, l->uri.ptr);
	return 0;
}

/* ---- hf:// ---- */

static bool scheme_is(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);
	return url != NULL && strncasecmp(url, scheme, n) == 0 && url[n] == ':';
}

wl__hub_page_auth wl__hub_page_policy(const char *endpoint, const char *from, const char *url)
{
	bool https = scheme_is(url, "https");
	if (!https && !scheme_is(url, "http"))
		return WL__HUB_PAGE_REFUSED;
	if (!https && (scheme_is(endpoint, "https") || scheme_is(from, "https")))
		return WL__HUB_PAGE_REFUSED;
	return wl__http_same_origin(url, endpoint) ? WL__HUB_PAGE_TOKEN : WL__HUB_PAGE_BARE;
}

/* The pages of a listing already asked for: an open-addressing hash set of
 * their URLs, so that telling a loop costs O(1) per page. */
typedef struct url_set {
	char **slots;
	size_t mask; /* slots - 1, a power of two less one; 0: none yet */
	size_t count;
} url_set;

static size_t hash_url(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)(h ^ (h >> 29));
}

static char **url_slot(char **slots, size_t mask, const char *url)
{
	size_t i = hash_url(url) & mask;
	while (slots[i] != NULL && strcmp(slots[i], url) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

/* Adds `url` (owned by the set once added; freed when already there) and
 * sets `*seen` when it was there. 0 or WL_ENOMEM (`url` freed). */
static int url_set_add(url_set *set, char *url, bool *seen)
{
	*seen = false;
	if (set->mask == 0 || (set->count + 1) * 2 > set->mask + 1) {
		size_t cap = set->mask ? (set->mask + 1) * 2 : 64;
		char **slots = calloc(cap, sizeof *slots);
		if (slots == NULL) {
			free(url);
			return wl__nomem();
		}
		for (size_t i = 0; set->mask != 0 && i <= set->mask; i++)
			if (set->slots[i] != NULL)
				*url_slot(slots, cap - 1, set->slots[i]) = set->slots[i];
		free(set->slots);
		set->slots = slots;
		set->mask = cap - 1;
	}
	char **slot = url_slot(set->slots, set->mask, url);
	if (*slot != NULL) {
		*seen = true;
		free(url);
		return 0;
	}
	*slot = url;
	set->count++;
	return 0;
}

static void url_set_free(url_set *set)
{
	for (size_t i = 0; set->mask != 0 && i <= set->mask; i++)
		free(set->slots[i]);
	free(set->slots);
}

/* The next page `next` that `from` links to, as far as the policy lets it
 * be followed: 0, or the refusal. */
static int check_next_page(lister *l, const char *from, const char *next)
{
	if (wl__hub_page_policy(l->endpoint, from, next) != WL__HUB_PAGE_REFUSED)
		return 0;
	char *shown = wl__http_url_for_message(next);
	if (shown == NULL)
		return wl__nomem();
	int rc = fail_uri(l, WL_EIO,
	                  "the tree listing's next page %s is not https while the Hub is; refused (the token and the "
	                  "listing are not sent or taken over plain http)",
	                  shown);
	free(shown);
	return rc;
}

static int list_hub(lister *l, wl_string rest)
{
	const char *ep = l->opts->hf_endpoint && l->opts->hf_endpoint[0] ? l->opts->hf_endpoint : HF_DEFAULT_ENDPOINT;
	size_t ep_len = strlen(ep);
	while (ep_len > 0 && ep[ep_len - 1] == '/')
		ep_len--;
	if ((l->endpoint = strndup(ep, ep_len)) == NULL || (l->remote->origin = strdup(l->endpoint)) == NULL)
		return wl__nomem();
	/* The URI is normalized: ORG/REPO, then @REF unless main. */
	const char *at = memchr(rest.ptr, '@', rest.len);
	l->org_repo = (wl_string){rest.ptr, at ? (size_t)(at - rest.ptr) : rest.len};
	l->ref = at ? (wl_string){at + 1, rest.len - l->org_repo.len - 1} : wl_str("main");
	const char *token = l->opts->hf_token;
	if (token != NULL && token[0] != '\0' && asprintf(&l->remote->authorization, "Bearer %s", token) < 0) {
		l->remote->authorization = NULL;
		return wl__nomem();
	}
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_printf(&b, "%s/api/models/", l->endpoint);
	escape(&b, l->org_repo, true);
	wl_buf_puts(&b, "/revision/");
	escape(&b, l->ref, false);
	char *url = buf_take(&b);
	if (url == NULL)
		return wl__nomem();
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = get_json(l, url, &resp);
	free(url);
	if (rc == 0 && (resp.status < 200 || resp.status > 299))
		rc = hub_status(l, &resp, "the revision");
	if (rc == 0)
		rc = resp.body != NULL ? parse_revision(l, resp.body, resp.body_len)
		                       : fail_uri(l, WL_EPARSE, "the Hub's revision answer is empty");
	wl__http_response_release(&resp);
	if (rc != 0)
		return rc;
	snprintf(l->remote->fingerprint, sizeof l->remote->fingerprint, "commit:%s", l->sha);
	if (l->opts->stop_if_fingerprint != NULL && strcmp(l->opts->stop_if_fingerprint, l->remote->fingerprint) == 0) {
		l->remote->unchanged = true;
		return 0;
	}

	wl_buf_init(&b);
	wl_buf_printf(&b, "%s/api/models/", l->endpoint);
	escape(&b, l->org_repo, true);
	wl_buf_printf(&b, "/tree/%s?recursive=true", l->sha);
	char *page = buf_take(&b);
	if (page == NULL)
		return wl__nomem();
	/* Each page once: a URL asked for before is a loop. The set owns the
	 * URLs added to it; `page` stays valid while its request runs. */
	url_set seen = {NULL, 0, 0};
	while (rc == 0 && page != NULL) {
		if (seen.count == MAX_PAGES) {
			free(page);
			rc = fail_uri(l, WL_EIO, "the tree listing has more than %d pages", MAX_PAGES);
			break;
		}
		bool again = false;
		if ((rc = url_set_add(&seen, page, &again)) != 0)
			break;
		if (again) {
			rc = fail_uri(l, WL_EIO, "the tree listing's pages loop (page %zu links back to an earlier one)",
			              seen.count);
			break;
		}
		memset(&resp, 0, sizeof resp);
		rc = get_json(l, page, &resp);
		if (rc == 0 && (resp.status < 200 || resp.status > 299))
			rc = hub_status(l, &resp, "the file listing");
		if (rc == 0)
			rc = resp.body != NULL ? parse_page(l, resp.body, resp.body_len)
			                       : fail_uri(l, WL_EPARSE, "the Hub's tree listing is empty");
		const char *from = resp.url != NULL ? resp.url : page;
		page = NULL;
		if (rc == 0 && resp.link_next != NULL && (rc = check_next_page(l, from, resp.link_next)) == 0 &&
		    (page = strdup(resp.link_next)) == NULL)
			rc = wl__nomem();
		wl__http_response_release(&resp);
	}
	url_set_free(&seen);
	return rc == 0 ? sort_and_check(l) : rc;
}

/* ---- https:// ---- */

static int list_http(lister *l)
{
	char *url = strndup(l->uri.ptr, l->uri.len);
	if (url == NULL)
		return wl__nomem();
	/* scheme://authority/path[?query]: no user information, a file name. */
	const char *auth = strstr(url, "://") + 3;
	size_t auth_len = strcspn(auth, "/?#");
	const char *path = auth + auth_len;
	size_t path_len = strcspn(path, "?#");
	const char *name = path + path_len;
	while (name > path && name[-1] != '/')
		name--;
	int rc = 0;
	if (memchr(auth, '@', auth_len) != NULL)
		rc = fail_uri(l, WL_EINVALID, "credentials in the URI are not allowed (the URI is committed to git)");
	else if (auth_len == 0)
		rc = fail_uri(l, WL_EINVALID, "no host in the URI");
	else if (name == path + path_len)
		rc = fail_uri(l, WL_EINVALID, "the URI does not name a file (it must end in a file name)");
	else if (path[path_len] == '#')
		rc = fail_uri(l, WL_EINVALID, "a fragment in the URI is not allowed");
	if (rc != 0) {
		free(url);
		return rc;
	}
	l->remote->has_query = path[path_len] == '?';
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_HEAD, url);
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	rc = wl__http_perform(l->opts->http, &req, &resp);
	if (rc != 0)
		rc = wl__error_prefix("%.*s", (int)l->uri.len, l->uri.ptr);
	else if (resp.status == 404)
		rc = fail_uri(l, WL_ENOTFOUND, "not found (404)");
	else if (resp.status < 200 || resp.status > 299)
		rc = fail_uri(l, WL_EIO, "HEAD answered status %ld", resp.status);
	if (rc == 0 && resp.etag != NULL && wl__http_etag_is_strong(resp.etag, strlen(resp.etag)) &&
	    strlen(resp.etag) + 5 <= WL__FINGERPRINT_MAX)
		snprintf(l->remote->fingerprint, sizeof l->remote->fingerprint, "etag:%s", resp.etag);
	int64_t size = resp.content_length;
	wl__http_response_release(&resp);
	if (rc == 0 && l->opts->stop_if_fingerprint != NULL && l->remote->fingerprint[0] != '\0' &&
	    strcmp(l->opts->stop_if_fingerprint, l->remote->fingerprint) == 0)
		l->remote->unchanged = true;
	if (rc != 0 || l->remote->unchanged) {
		free(url);
		return rc;
	}
	/* The size a HEAD announces is checked when the bytes come; without
	 * one the download says. */
	rc = add_file(l, (wl_string){name, (size_t)(path + path_len - name)}, size < 0 ? 0 : size, NULL, url);
	if (rc == 0 && size < 0)
		l->remote->files[0].size = -1;
	return rc;
}

int wl__remote_new(wl__remote **out)
{
	*out = calloc(1, sizeof **out);
	if (*out == NULL || ((*out)->storage = wl_storage_new()) == NULL) {
		free(*out);
		*out = NULL;
		return wl__nomem();
	}
	return 0;
}

/* A lister for parsing answers outside a listing. */
static void offline_lister(lister *l, wl__remote *r)
{
	memset(l, 0, sizeof *l);
	l->remote = r;
	l->uri = wl_str("hf://");
	l->cap = r->count;
}

int wl__hub_parse_revision(char *body, size_t len, char sha[41])
{
	wl__remote *r = NULL;
	int rc = wl__remote_new(&r);
	lister l;
	if (rc == 0) {
		offline_lister(&l, r);
		rc = parse_revision(&l, body, len);
		memcpy(sha, l.sha, 41);
	}
	wl__remote_free(r);
	return rc;
}

int wl__hub_parse_tree_page(wl__remote *remote, char *body, size_t len, const char *endpoint,
                            const char *org_repo, const char *sha)
{
	lister l;
	offline_lister(&l, remote);
	/* The capacity of the file array is its count: the lister grows it. */
	size_t cap = remote->count;
	l.cap = cap;
	l.endpoint = (char *)endpoint;
	l.org_repo = wl_str(org_repo);
	snprintf(l.sha, sizeof l.sha, "%s", sha);
	return parse_page(&l, body, len);
}

int wl__remote_check(wl__remote *remote)
{
	lister l;
	offline_lister(&l, remote);
	return sort_and_check(&l);
}

int wl__remote_list(wl__remote **out, wl_string uri, const wl__remote_options *opts)
{
	*out = NULL;
	wl__remote *r = NULL;
	if (wl__remote_new(&r) != 0)
		return WL_ENOMEM;
	lister l;
	memset(&l, 0, sizeof l);
	l.remote = r;
	l.opts = opts;
	l.uri = uri;
	int rc;
	if (uri.len > 5 && memcmp(uri.ptr, "hf://", 5) == 0)
		rc = list_hub(&l, (wl_string){uri.ptr + 5, uri.len - 5});
	else if ((uri.len > 8 && memcmp(uri.ptr, "https://", 8) == 0) ||
	         (uri.len > 7 && memcmp(uri.ptr, "http://", 7) == 0))
		rc = list_http(&l);
	else
		rc = fail_uri(&l, WL_EINVALID, "not a remote source this version lists");
	free(l.endpoint);
	if (rc != 0) {
		wl__remote_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- fetching ---- */

typedef struct fetch_sink {
	wl_store_put *put;
	_Atomic uint64_t *bytes_done;
	uint64_t delivered;
	const wl__remote_tee *tee;
} fetch_sink;

static int sink_data(void *ctx, const void *data, size_t len)
{
	fetch_sink *s = ctx;
	int rc = wl_store_put_write(s->put, data, len);
	if (rc == 0 && s->tee != NULL)
		rc = s->tee->write(s->tee->ctx, data, len);
	if (rc == 0 && s->bytes_done != NULL) {
		atomic_fetch_add_explicit(s->bytes_done, len, memory_order_relaxed);
		s->delivered += len;
	}
	return rc;
}

static int sink_restart(void *ctx)
{
	fetch_sink *s = ctx;
	if (s->bytes_done != NULL)
		atomic_fetch_sub_explicit(s->bytes_done, s->delivered, memory_order_relaxed);
	s->delivered = 0;
	int rc = wl_store_put_restart(s->put);
	if (rc == 0 && s->tee != NULL)
		rc = s->tee->restart(s->tee->ctx);
	return rc;
}

/* A GET of file `f`, with the token only for the Hub's own origin (a
 * file's URL is the endpoint's; its redirect to a CDN goes without). */
static void file_request(wl__http_request *req, const wl__remote *remote, const wl__remote_file *f)
{
	if (remote->authorization != NULL && remote->origin != NULL &&
	    wl__hub_page_policy(remote->origin, NULL, f->url) == WL__HUB_PAGE_TOKEN) {
		req->origin = remote->origin;
		req->authorization = remote->authorization;
	}
	req->expect_size = f->size;
}

static int download_status(const wl__http_response *resp)
{
	if (resp->status >= 200 && resp->status <= 299)
		return 0;
	return wl__fail(resp->status == 404 ? WL_ENOTFOUND : WL_EIO, "download answered status %ld", resp->status);
}

/* GETs file `f` into `on_data`; a status other than 2xx is an error. */
static int get_file(const wl__remote *remote, const wl__remote_file *f, const wl__remote_options *opts,
                    wl__http_data_fn on_data, wl__http_restart_fn on_restart, void *ctx)
{
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, f->url);
	file_request(&req, remote, f);
	req.on_data = on_data;
	req.on_restart = on_restart;
	req.ctx = ctx;
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = wl__http_perform(opts->http, &req, &resp);
	if (rc == 0)
		rc = download_status(&resp);
	wl__http_response_release(&resp);
	return rc;
}

static int hash_data(void *ctx, const void *data, size_t len)
{
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : wl__nomem();
}

static int hash_restart(void *ctx)
{
	return EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : wl__nomem();
}

int wl__remote_hash(wl__remote *remote, size_t i, const wl__remote_options *opts)
{
	wl__remote_file *f = &remote->files[i];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md != NULL ? hash_restart(md) : wl__nomem();
	if (rc == 0)
		rc = get_file(remote, f, opts, hash_data, hash_restart, md);
	if (rc == 0 && !wl__digest_final(md, f->digest))
		rc = wl__nomem();
	EVP_MD_CTX_free(md);
	if (rc != 0 && rc != WL_ENOMEM) {
		char *path_q = NULL;
		if (wl_quote(&path_q, NULL, f->path) == 0)
			wl__error_prefix("fetch %s", path_q);
		free(path_q);
	}
	return rc;
}

int wl__remote_fetch(wl__remote *remote, size_t i, wl_store *store, const wl__remote_options *opts,
                     char **location, const wl__remote_tee *tee)
{
	*location = NULL;
	wl__remote_file *f = &remote->files[i];
	char *path_q = NULL;
	if (wl_quote(&path_q, NULL, f->path) != 0)
		return WL_ENOMEM;
	int rc = 0;
	if (f->digest[0] != '\0') {
		int has = wl_store_has(store, f->digest, f->size);
		if (has < 0) {
			free(path_q);
			return has;
		}
		if (has == 1) {
			free(path_q);
			*location = wl_store_path(store, f->digest);
			return *location != NULL ? 0 : wl__nomem();
		}
	}
	fetch_sink sink = {NULL, opts->bytes_done, 0, tee};
	rc = wl_store_put_begin(&sink.put, store, f->digest[0] ? f->digest : NULL, f->size);
	if (rc == 0) {
		rc = get_file(remote, f, opts, sink_data, sink_restart, &sink);
		char digest[WL_DIGEST_LEN + 1];
		if (rc == 0) {
			/* The size the listing gave is checked by the put. */
			rc = wl_store_put_commit(sink.put, digest);
			sink.put = NULL;
		}
		wl_store_put_abort(sink.put);
		if (rc == 0 && tee != NULL && tee->fed != NULL)
			*tee->fed = true;
		if (rc == 0) {
			memcpy(f->digest, digest, sizeof digest);
			*location = wl_store_path(store, digest);
			if (*location == NULL)
				rc = wl__nomem();
		}
	}
	if (rc != 0 && rc != WL_ENOMEM)
		wl__error_prefix("fetch %s", path_q);
	free(path_q);
	return rc;
}

int wl__remote_set_content_fingerprint(wl__remote *remote)
{
	if (remote->count != 1 || remote->files[0].digest[0] == '\0')
		return wl__fail(WL_EINVALID, "the content fingerprint needs the one file's digest");
	snprintf(remote->fingerprint, sizeof remote->fingerprint, "%s", remote->files[0].digest);
	return 0;
}
