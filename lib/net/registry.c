/*
 * registry.c - the OCI distribution API client (SPEC.md §18.2). See
 * registry.h. Requests go through the HTTP client (net/http.c), which owns
 * retries, Range resumption of downloads and redirects; what is here is
 * the protocol above it: URLs, authentication rounds, the upload state
 * machine, and the registry's error bodies.
 */
#include "net/registry.h"

#include "common/grammar.h"
#include "common/json_read.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MONOLITHIC_MAX_DEFAULT ((int64_t)128 << 20)
#define CHUNK_DEFAULT ((int64_t)64 << 20)
#define CHUNK_MIN ((int64_t)1 << 20)
#define RESUMES_MAX 8
#define TOKENS_MAX 32
/* A registry verifies the whole blob before it answers the final PUT: a
 * multi-GB blob may keep it silent for minutes. */
#define FINAL_PUT_STALL 600.0

static const char *const MANIFEST_ACCEPT =
	"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json";

typedef enum auth_mode { AUTH_UNKNOWN, AUTH_NONE, AUTH_BASIC, AUTH_BEARER } auth_mode;

typedef struct token {
	char *scope;
	char *value;
	double expires; /* monotonic seconds */
} token;

struct wl__registry {
	wl__http *http;
	char *base;       /* scheme://host/v2/, as first tried */
	char *plain_base; /* http://host/v2/ when a loopback https registry may fall back to it, else NULL */
	char *host;
	wl_notice_fn notice;
	void *notice_ctx;
	/* The fallback is decided once: the first handshake failure probes
	 * plain http, holding probe_mu; `plain` (under mu) is the answer. */
	pthread_mutex_t probe_mu;
	bool probed, plain;
	wl__credentials cred;
	int64_t monolithic_max, chunk_size;
	bool pushing;
	char *mount_from; /* a repository on this registry to mount blobs from, or NULL */

	pthread_mutex_t mu;
	auth_mode mode;
	char *realm, *service;
	token tokens[TOKENS_MAX];
	size_t token_count;
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *out = NULL;
	if (vasprintf(&out, f, ap) < 0)
		out = NULL;
	va_end(ap);
	return out;
}

static void one_line(char *out, size_t cap, wl_string text);

bool wl__registry_may_fall_back(const char *host, bool plain_http)
{
	if (plain_http || host == NULL)
		return false;
	size_t n = strlen(host);
	/* the port, after the last ':' that follows the host ("[::1]:5000",
	 * "localhost:5000"); a bare IPv6 address has no port */
	const char *colon = strrchr(host, ':');
	const char *close = strrchr(host, ']');
	bool bare_v6 = host[0] != '[' && colon != NULL && strchr(host, ':') != colon;
	if (colon != NULL && !bare_v6 && (close == NULL || colon > close))
		n = (size_t)(colon - host);
	return wl__http_host_is_loopback(host, n);
}

/* The base URL in use: the https one, or plain http once a loopback
 * registry turned out not to speak TLS. Both strings live as long as r. */
static const char *base_of(wl__registry *r)
{
	pthread_mutex_lock(&r->mu);
	const char *b = r->plain ? r->plain_base : r->base;
	pthread_mutex_unlock(&r->mu);
	return b;
}

bool wl__registry_repo_valid(const char *repo)
{
	return wl__repository_valid(repo, strlen(repo));
}

int wl__registry_new(wl__registry **out, wl__http *http, const wl__registry_options *o)
{
	*out = NULL;
	if (o->host == NULL || o->host[0] == '\0' || strpbrk(o->host, "/?#@ ") != NULL)
		return wl__fail(WL_EINVALID, "registry host \"%s\" is not a host[:port]", o->host ? o->host : "");
	wl__registry *r = calloc(1, sizeof *r);
	if (r == NULL)
		return wl__nomem();
	r->http = http;
	r->host = strdup(o->host);
	r->base = fmt("%s://%s/v2/", o->plain_http ? "http" : "https", o->host);
	r->notice = o->notice;
	r->notice_ctx = o->notice_ctx;
	if (wl__registry_may_fall_back(o->host, o->plain_http) && (r->plain_base = fmt("http://%s/v2/", o->host)) == NULL) {
		free(r->base);
		r->base = NULL;
	}
	r->monolithic_max = o->monolithic_max > 0 ? o->monolithic_max : MONOLITHIC_MAX_DEFAULT;
	r->chunk_size = o->chunk_size > 0 ? o->chunk_size : CHUNK_DEFAULT;
	r->pushing = o->pushing;
	char why[256];
	if (o->mount_from != NULL && !wl__repository_explain(o->mount_from, strlen(o->mount_from), why, sizeof why)) {
		char shown[160];
		one_line(shown, sizeof shown, (wl_string){o->mount_from, strlen(o->mount_from)});
		wl__registry_free(r);
		return wl__fail(WL_EINVALID, "--mount-from: \"%s\" is not a valid repository name: %s", shown, why);
	}
	if (o->mount_from != NULL && (r->mount_from = strdup(o->mount_from)) == NULL) {
		wl__registry_free(r);
		return wl__nomem();
	}
	if (o->credentials != NULL && o->credentials->username != NULL) {
		r->cred.username = strdup(o->credentials->username);
		r->cred.password = strdup(o->credentials->password ? o->credentials->password : "");
		r->cred.source = strdup(o->credentials->source ? o->credentials->source : "the credentials files");
		if (r->cred.username == NULL || r->cred.password == NULL || r->cred.source == NULL) {
			wl__registry_free(r);
			return wl__nomem();
		}
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->probe_mu, NULL);
	if (r->host == NULL || r->base == NULL) {
		wl__registry_free(r);
		return wl__nomem();
	}
	*out = r;
	return 0;
}

void wl__registry_free(wl__registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->token_count; i++) {
		free(r->tokens[i].scope);
		free(r->tokens[i].value);
	}
	wl__credentials_release(&r->cred);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->probe_mu);
	free(r->realm);
	free(r->service);
	free(r->mount_from);
	free(r->base);
	free(r->plain_base);
	free(r->host);
	free(r);
}

/* ---- errors ---- */

static const wl__json_key err_keys[] = {
	WL__JSON_KEY("code", "CODE"),
	WL__JSON_KEY("message", "MESSAGE"),
};
static const wl__json_key errs_keys[] = {WL__JSON_KEY("errors", "ERRORS")};

typedef struct reg_error {
	wl_string code, message;
} reg_error;

static bool read_error(wl__json_reader *rd, void *elem, void *ctx)
{
	(void)ctx;
	reg_error *e = elem;
	static const wl__json_ctx self = {"Error", "errors", "object"};
	static const wl__json_ctx str = {"Error", "errors.code", "string"};
	int open = wl__json_open_object(rd, &self);
	if (open < 0)
		return false;
	bool ok = true, first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(rd, &first, &key)) != 0;) {
		if (m < 0)
			return false;
		int k = wl__json_match_key(err_keys, 2, key.ptr, key.len);
		ok = k == 0 ? wl__json_read_string(rd, &str, &e->code)
		     : k == 1 ? wl__json_read_string(rd, &str, &e->message)
		              : wl__json_skip_value(rd);
	}
	return ok;
}

/* A server's text as one line: control characters (and DEL) become
 * spaces, cut to fit `cap`. */
static void one_line(char *out, size_t cap, wl_string text)
{
	size_t n = text.len < cap - 1 ? text.len : cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text.ptr[i];
		out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[n] = '\0';
}

/* Words a registry's error answer: "status 404: MANIFEST_UNKNOWN: manifest
 * unknown", or for an HTML page "status 502 (an HTML page, not the
 * registry's answer: a proxy?)". Sets the message with `what` in front. */
int wl__registry_fail_status(int code, const wl__http_response *resp, const char *what)
{
	long st = resp->status;
	const char *b = resp->body;
	size_t n = resp->body_len;
	while (n > 0 && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')) {
		b++;
		n--;
	}
	if (n > 0 && *b == '<')
		return wl__fail(code, "%s: status %ld (an HTML page, not the registry's answer: a proxy?)", what, st);
	if (n > 0 && *b == '{') {
		char *copy = strndup(b, n);
		wl_storage *stg = wl_storage_new();
		reg_error *errs = NULL;
		size_t count = 0, cap = 0;
		bool present = false;
		int rc = -1;
		if (copy != NULL && stg != NULL) {
			wl__json_reader rd;
			wl__json_init(&rd, copy, strlen(copy), "error", stg);
			static const wl__json_ctx self = {"Errors", NULL, "object"};
			static const wl__json_ctx list = {"Errors", "errors", "[]Error"};
			int open = wl__json_open_top(&rd, &self);
			bool ok = open >= 0, first = true;
			wl_string key;
			for (int m; ok && open == 1 && (m = wl__json_next_member(&rd, &first, &key)) != 0;) {
				if (m < 0) {
					ok = false;
					break;
				}
				if (wl__json_match_key(errs_keys, 1, key.ptr, key.len) == 0)
					ok = wl__json_read_list(&rd, &list, (void **)&errs, &count, &cap, &present,
					                        sizeof *errs, read_error, NULL, NULL);
				else
					ok = wl__json_skip_value(&rd);
			}
			rc = wl__json_finish(&rd, ok);
			wl_error_clear();
		}
		int out = 0;
		if (rc == 0 && count > 0 && errs[0].code.len > 0) {
			reg_error fe = errs[0];
			/* code and message are the registry's: one short line each */
			char cd[64], msg[200];
			one_line(cd, sizeof cd, fe.code);
			one_line(msg, sizeof msg, fe.message);
			out = wl__fail(code, "%s: status %ld: %s%s%s", what, st, cd, msg[0] ? ": " : "", msg);
		}
		free(errs);
		free(copy);
		wl_storage_free(stg);
		if (out != 0)
			return out;
	}
	return wl__fail(code, "%s: status %ld", what, st);
}

/* An answer the caller did not expect: wl__registry_fail_status with the
 * request described by the format. */
static int fail_answer(const wl__http_response *resp, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int fail_answer(const wl__http_response *resp, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *what = NULL;
	if (vasprintf(&what, f, ap) < 0)
		what = NULL;
	va_end(ap);
	int rc = wl__registry_fail_status(WL_EIO, resp, what ? what : "request");
	free(what);
	return rc;
}

/* ---- authentication ---- */

/* A pushing session asks for one token that covers everything it does. */
static char *scope_for_push(const char *repo, bool push)
{
	return fmt("repository:%s:%s", repo, push ? "pull,push" : "pull");
}
#define scope_for(repo, push) scope_for_push((repo), (push) || r->pushing)

/* Tokens are cached per realm, service and scope: one realm's token is
 * never offered where another realm was asked for. Called with r->mu held. */
static char *token_key(const wl__registry *r, const char *scope)
{
	return fmt("%s\n%s\n%s", r->realm ? r->realm : "", r->service ? r->service : "", scope);
}

/* The Authorization value for a request in `scope`, malloc'd, or NULL. */
static char *authorization(wl__registry *r, const char *scope_only)
{
	char *out = NULL;
	pthread_mutex_lock(&r->mu);
	char *scope = token_key(r, scope_only);
	if (r->mode == AUTH_BASIC && r->cred.username != NULL) {
		char *b = wl__auth_basic(&r->cred);
		out = b ? fmt("Basic %s", b) : NULL;
		free(b);
	} else if (r->mode == AUTH_BEARER) {
		double t = now_mono();
		for (size_t i = 0; i < r->token_count; i++)
			if (scope != NULL && strcmp(r->tokens[i].scope, scope) == 0 && r->tokens[i].expires > t)
				out = fmt("Bearer %s", r->tokens[i].value);
	}
	pthread_mutex_unlock(&r->mu);
	free(scope);
	return out;
}

static void url_escape(wl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
			wl_buf_putc(b, (char)c);
		else {
			wl_buf_putc(b, '%');
			wl_buf_putc(b, hex[c >> 4]);
			wl_buf_putc(b, hex[c & 15]);
		}
	}
}

static void put_token(wl__registry *r, const char *scope_only, char *value, int64_t expires_in)
{
	pthread_mutex_lock(&r->mu);
	char *scope = token_key(r, scope_only);
	if (scope == NULL) {
		pthread_mutex_unlock(&r->mu);
		free(value);
		return;
	}
	size_t slot = r->token_count;
	for (size_t i = 0; i < r->token_count; i++)
		if (strcmp(r->tokens[i].scope, scope) == 0)
			slot = i;
	if (slot == TOKENS_MAX)
		slot = 0; /* a full cache drops its oldest entry */
	if (slot < r->token_count) {
		free(r->tokens[slot].scope);
		free(r->tokens[slot].value);
	} else {
		r->token_count++;
	}
	r->tokens[slot].scope = scope;
	r->tokens[slot].value = value;
	/* renew a little before the server's end */
	r->tokens[slot].expires = now_mono() + (double)expires_in - (expires_in > 20 ? 10 : 0);
	if (r->tokens[slot].scope == NULL)
		r->tokens[slot].expires = 0;
	pthread_mutex_unlock(&r->mu);
}

/* Says what to do about a TLS failure, after its message. */
static int tls_hint(int rc, const wl__http_response *resp)
{
	if (rc == 0 || (resp->failure != WL__HTTP_FAILURE_TLS_HANDSHAKE && resp->failure != WL__HTTP_FAILURE_TLS_VERIFY))
		return rc;
	char *msg = strdup(wl_error_last()->message);
	if (msg == NULL)
		return rc;
	rc = wl__fail(rc, "%s (give --cacert FILE to trust the registry's CA, or --plain-http if it speaks plain HTTP)",
	              msg);
	free(msg);
	return rc;
}

/* Asks the token server for `scope`. */
static int fetch_token(wl__registry *r, const char *scope)
{
	pthread_mutex_lock(&r->mu);
	char *realm = r->realm ? strdup(r->realm) : NULL;
	char *service = r->service ? strdup(r->service) : NULL;
	pthread_mutex_unlock(&r->mu);
	if (realm == NULL) {
		free(service);
		return wl__nomem();
	}
	wl_buf u;
	wl_buf_init(&u);
	wl_buf_puts(&u, realm);
	wl_buf_putc(&u, strchr(realm, '?') ? '&' : '?');
	if (service != NULL) {
		wl_buf_puts(&u, "service=");
		url_escape(&u, service);
		wl_buf_putc(&u, '&');
	}
	/* several scopes, space-separated, are several scope= parameters */
	for (const char *sc = scope; *sc;) {
		const char *sp = strchr(sc, ' ');
		size_t n = sp ? (size_t)(sp - sc) : strlen(sc);
		char *one = strndup(sc, n);
		if (one == NULL) {
			wl_buf_release(&u);
			return wl__nomem();
		}
		wl_buf_puts(&u, sc == scope ? "scope=" : "&scope=");
		url_escape(&u, one);
		free(one);
		sc += n;
		while (*sc == ' ')
			sc++;
	}
	char *url = NULL;
	int rc = wl_buf_finish(&u, &url, NULL);
	free(realm);
	free(service);
	if (rc != 0)
		return rc;
	char *authz = NULL;
	if (r->cred.username != NULL) {
		char *b = wl__auth_basic(&r->cred);
		authz = b ? fmt("Basic %s", b) : NULL;
		free(b);
	}
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	req.origin = url; /* the realm's own origin */
	req.authorization = authz;
	req.max_body = 1 << 20;
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	rc = tls_hint(wl__http_perform(r->http, &req, &resp), &resp);
	if (rc == 0 && resp.status == 200) {
		char *tok = NULL;
		int64_t exp = 0;
		rc = wl__auth_parse_token(resp.body ? resp.body : "", resp.body_len, &tok, &exp);
		if (rc == 0)
			put_token(r, scope, tok, exp);
	} else if (rc == 0 && (resp.status == 401 || resp.status == 403)) {
		rc = r->cred.username != NULL
		         ? wl__fail(WL_EINVALID, "%s: the token server refused the credentials of user \"%s\" (from %s)",
		                    r->host, r->cred.username, r->cred.source)
		         : wl__fail(WL_EINVALID, "%s: the token server wants credentials and none were found "
		                                 "(--authfile, or docker login)",
		                    r->host);
	} else if (rc == 0) {
		rc = fail_answer(&resp, "%s: token request", r->host);
	}
	if (authz != NULL)
		OPENSSL_cleanse(authz, strlen(authz));
	free(authz);
	free(url);
	wl__http_response_release(&resp);
	return rc;
}

/* A 401 came: learn the scheme, get what it needs. `sent` is what the
 * request carried. */
static int unauthorized(wl__registry *r, const char *scope, const char *challenge, bool sent)
{
	wl__auth_challenge ch[WL__AUTH_CHALLENGES_MAX];
	int n = wl__auth_parse_challenges(challenge ? challenge : "", challenge ? strlen(challenge) : 0, ch);
	if (n < 0)
		return n;
	int bearer = -1, basic = -1;
	for (int i = 0; i < n; i++) {
		if (ch[i].scheme == WL__AUTH_BEARER && ch[i].realm != NULL && bearer < 0)
			bearer = i;
		if (ch[i].scheme == WL__AUTH_BASIC && basic < 0)
			basic = i;
	}
	int rc = 0;
	if (bearer >= 0) {
		if (strncmp(ch[bearer].realm, "https://", 8) != 0 && strncmp(ch[bearer].realm, "http://", 7) != 0) {
			rc = wl__fail(WL_EINVALID, "%s: the token realm is not an http(s) URL", r->host);
		} else if (strncmp(base_of(r), "https://", 8) == 0 && strncmp(ch[bearer].realm, "https://", 8) != 0) {
			char *shown = wl__http_url_for_message(ch[bearer].realm);
			rc = wl__fail(WL_EINVALID, "%s: the token realm %s is plain http for an https registry: refused",
			              r->host, shown ? shown : "");
			free(shown);
		} else {
			pthread_mutex_lock(&r->mu);
			r->mode = AUTH_BEARER;
			free(r->realm);
			free(r->service);
			r->realm = ch[bearer].realm;
			r->service = ch[bearer].service;
			ch[bearer].realm = ch[bearer].service = NULL;
			pthread_mutex_unlock(&r->mu);
			rc = fetch_token(r, scope);
		}
	} else if (basic >= 0) {
		pthread_mutex_lock(&r->mu);
		bool was_basic = r->mode == AUTH_BASIC;
		r->mode = AUTH_BASIC;
		pthread_mutex_unlock(&r->mu);
		if (r->cred.username == NULL)
			rc = wl__fail(WL_EINVALID, "%s wants credentials and none were found (--authfile, or docker login)",
			              r->host);
		else if (was_basic && sent)
			rc = wl__fail(WL_EINVALID, "%s refused the credentials of user \"%s\" (from %s)", r->host,
			              r->cred.username, r->cred.source);
	} else {
		rc = wl__fail(WL_EINVALID, "%s answered 401 without a Basic or Bearer challenge", r->host);
	}
	wl__auth_challenges_release(ch, n);
	return rc;
}

/* Whether a loopback registry that failed the TLS handshake speaks plain
 * http: asked once per run (GET /v2/ over http, one attempt, any HTTP
 * answer will do), by the first request that failed; the others wait for
 * the answer. True when requests now go to plain_base. */
static bool falls_back(wl__registry *r)
{
	if (r->plain_base == NULL)
		return false;
	pthread_mutex_lock(&r->probe_mu);
	if (!r->probed) {
		wl__saved_error saved;
		wl__error_save(&saved);
		wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, r->plain_base);
		req.once = true;
		wl__http_response resp;
		memset(&resp, 0, sizeof resp);
		bool speaks_http = wl__http_perform(r->http, &req, &resp) == 0 && resp.status >= 100;
		wl__http_response_release(&resp);
		wl__error_restore(&saved);
		pthread_mutex_lock(&r->mu);
		r->plain = speaks_http;
		r->probed = true;
		pthread_mutex_unlock(&r->mu);
		if (speaks_http && r->notice != NULL) {
			char *line = fmt("%s does not speak TLS: using plain http for it (a loopback registry)", r->host);
			if (line != NULL)
				r->notice(r->notice_ctx, WL_NOTICE_INFO, line);
			free(line);
		}
	}
	pthread_mutex_unlock(&r->probe_mu);
	return base_of(r) != r->base;
}

/* Performs `req` in `scope`, authenticating as the registry asks: a 401
 * gets new credentials or a new token and the same request again (the
 * body rewound), at most twice. A URL on the https base of a registry
 * that fell back to plain http goes to the plain one (*moved, malloc'd). */
static int request_rounds(wl__registry *r, const char *scope, wl__http_request *req, wl__http_response *resp,
                          char **moved)
{
	size_t base_len = strlen(r->base);
	for (int round = 0;; round++) {
		const char *base = base_of(r);
		if (*moved == NULL && base != r->base && strncmp(req->url, r->base, base_len) == 0) {
			if ((*moved = fmt("%s%s", base, req->url + base_len)) == NULL)
				return wl__nomem();
			req->url = *moved;
		}
		pthread_mutex_lock(&r->mu);
		bool need_token = r->mode == AUTH_BEARER;
		pthread_mutex_unlock(&r->mu);
		char *authz = authorization(r, scope);
		if (authz == NULL && need_token) {
			int rc = fetch_token(r, scope);
			if (rc != 0)
				return rc;
			authz = authorization(r, scope);
		}
		/* Credentials belong to the registry as first contacted: a URL the
		 * registry handed out (an upload Location) on another origin is
		 * asked without them. */
		if (authz != NULL && !wl__http_same_origin(req->url, base)) {
			OPENSSL_cleanse(authz, strlen(authz));
			free(authz);
			authz = NULL;
		}
		if (round > 0 && req->rewind_body != NULL) {
			int rc = req->rewind_body(req->body_ctx);
			if (rc != 0) {
				free(authz);
				return rc;
			}
		}
		req->origin = base;
		req->authorization = authz;
		int rc = wl__http_perform(r->http, req, resp);
		req->authorization = NULL;
		bool sent = authz != NULL;
		if (authz != NULL)
			OPENSSL_cleanse(authz, strlen(authz));
		free(authz);
		if (rc != 0 && resp->failure == WL__HTTP_FAILURE_TLS_HANDSHAKE && base == r->base &&
		    strncmp(req->url, r->base, base_len) == 0 && falls_back(r)) {
			/* nothing was sent: the same request, over plain http, in
			 * the same round */
			wl_error_clear();
			if (req->rewind_body != NULL && (rc = req->rewind_body(req->body_ctx)) != 0)
				return rc;
			round--;
			continue;
		}
		if (rc != 0 || resp->status != 401)
			return tls_hint(rc, resp);
		/* A download cut off, then refused when resumed: the next round
		 * resumes where the bytes stopped. */
		if (req->on_data != NULL && resp->delivered > req->start_at)
			req->start_at = resp->delivered;
		if (round == 2)
			return wl__fail(WL_EINVALID, "%s: still unauthorized (401) after authenticating", r->host);
		if (sent) {
			/* an expired or revoked token: forget it */
			pthread_mutex_lock(&r->mu);
			char *key = token_key(r, scope);
			for (size_t i = 0; i < r->token_count; i++)
				if (key == NULL || strcmp(r->tokens[i].scope, key) == 0)
					r->tokens[i].expires = 0;
			pthread_mutex_unlock(&r->mu);
			free(key);
		}
		rc = unauthorized(r, scope, resp->www_authenticate, sent);
		if (rc != 0)
			return rc;
	}
}

static int request(wl__registry *r, const char *scope, wl__http_request *req, wl__http_response *resp)
{
	const char *url = req->url;
	char *moved = NULL;
	int rc = request_rounds(r, scope, req, resp, &moved);
	req->url = url;
	free(moved);
	return rc;
}

/* ---- one request ---- */

/* A request to the registry's /v2/REPO/PATH in the making: its URL, its
 * token scope, the request and the answer. */
typedef struct call {
	char *url, *scope;
	wl__http_request req;
	wl__http_response resp;
} call;

static int call_begin(call *c, wl__registry *r, wl__http_method method, const char *repo, bool push, const char *path)
{
	memset(c, 0, sizeof *c);
	if (!wl__repository_valid(repo, strlen(repo)))
		return wl__fail(WL_EINVALID, "\"%s\" is not a valid repository name", repo);
	c->url = fmt("%s%s/%s", base_of(r), repo, path);
	c->scope = scope_for(repo, push);
	if (c->url == NULL || c->scope == NULL) {
		free(c->url);
		free(c->scope);
		return wl__nomem();
	}
	c->req = WL__HTTP_REQUEST_INIT(method, c->url);
	return 0;
}

static int call_run(wl__registry *r, call *c)
{
	return request(r, c->scope, &c->req, &c->resp);
}

static void call_end(call *c)
{
	wl__http_response_release(&c->resp);
	free(c->url);
	free(c->scope);
}


/* A manifest reference must be a tag or a digest, a blob's a digest: they
 * go into the URL's path as they are, so nothing else may pass. */
static int check_reference(const char *ref, bool tag_allowed)
{
	size_t n = strlen(ref);
	if (wl__digest_valid(ref, n) || (tag_allowed && wl__tag_valid(ref, n)))
		return 0;
	char shown[160];
	one_line(shown, sizeof shown, (wl_string){ref, n});
	return wl__fail(WL_EINVALID, "\"%s\" is not a valid %s", shown, tag_allowed ? "tag or digest" : "digest");
}

/* HEAD of /v2/REPO/KIND/REF: 200 exists, 404 not, anything else fails. */
static int head_exists(wl__registry *r, const char *repo, const char *kind, const char *ref,
                       const char *const *headers, bool *exists)
{
	*exists = false;
	int bad = check_reference(ref, strcmp(kind, "manifests") == 0);
	if (bad != 0)
		return bad;
	char *path = fmt("%s/%s", kind, ref);
	call c;
	int rc = path ? call_begin(&c, r, WL__HTTP_HEAD, repo, false, path) : wl__nomem();
	free(path);
	if (rc != 0)
		return rc;
	c.req.headers = headers;
	rc = call_run(r, &c);
	if (rc == 0 && c.resp.status == 200)
		*exists = true;
	else if (rc == 0 && c.resp.status != 404)
		rc = fail_answer(&c.resp, "HEAD %s/%s/%s %s", r->host, repo, kind, ref);
	call_end(&c);
	return rc;
}

int wl__registry_blob_exists(wl__registry *r, const char *repo, const char *digest, bool *exists)
{
	return head_exists(r, repo, "blobs", digest, NULL, exists);
}

/* The body of one PUT or PATCH: [start, end) of the upload. */
typedef struct body_src {
	wl__registry_upload *up;
	int64_t start, pos, end;
} body_src;

static int body_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	body_src *b = ctx;
	*got = 0;
	if (b->pos >= b->end)
		return 0;
	if ((int64_t)cap > b->end - b->pos)
		cap = (size_t)(b->end - b->pos);
	int rc = b->up->read_at(b->up->ctx, b->pos, buf, cap, got);
	if (rc != 0)
		return rc;
	if (*got == 0)
		return wl__fail(WL_EIO, "blob %s ended at byte %lld of %lld", b->up->digest, (long long)b->pos,
		                (long long)b->up->size);
	b->pos += (int64_t)*got;
	b->up->bytes_sent += (int64_t)*got;
	return 0;
}

static int body_rewind(void *ctx)
{
	body_src *b = ctx;
	b->pos = b->start;
	return 0;
}

/* `loc` (maybe relative) resolved against the request's URL. */
static int take_location(char **loc, const char *base, const wl__http_response *resp)
{
	if (resp->location == NULL || resp->location[0] == '\0')
		return wl__fail(WL_EIO, "the registry's upload answer has no Location");
	char *next = NULL;
	int rc = wl__http_resolve(resp->url ? resp->url : base, resp->location, &next);
	if (rc != 0)
		return rc;
	/* the request as made (a registry that fell back asked over http) */
	const char *asked = resp->url ? resp->url : base;
	if (strncmp(asked, "https://", 8) == 0 && strncmp(next, "https://", 8) != 0) {
		char *shown = wl__http_url_for_message(next);
		rc = wl__fail(WL_EIO, "the registry's upload Location %s leaves https for plain http: refused",
		              shown ? shown : "<invalid URL>");
		free(shown);
		free(next);
		return rc;
	}
	free(*loc);
	*loc = next;
	return 0;
}

static int start_upload(wl__registry *r, const char *repo, char **loc)
{
	call c;
	int rc = call_begin(&c, r, WL__HTTP_POST, repo, true, "blobs/uploads/");
	if (rc != 0)
		return rc;
	c.req.body = "";
	c.req.body_len = 0;
	rc = call_run(r, &c);
	if (rc == 0 && c.resp.status == 202)
		rc = take_location(loc, c.url, &c.resp);
	else if (rc == 0)
		rc = fail_answer(&c.resp, "POST %s upload", repo);
	call_end(&c);
	return rc;
}

static void abandon(wl__registry *r, const char *scope, const char *loc)
{
	if (loc == NULL)
		return;
	wl__saved_error saved;
	wl__error_save(&saved);
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_DELETE, loc);
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	(void)request(r, scope, &req, &resp); /* errors ignored */
	wl__http_response_release(&resp);
	wl__error_restore(&saved);
}

static char *with_digest(const char *loc, const char *digest)
{
	wl_buf b;
	wl_buf_init(&b);
	wl_buf_puts(&b, loc);
	wl_buf_putc(&b, strchr(loc, '?') ? '&' : '?');
	wl_buf_puts(&b, "digest=");
	url_escape(&b, digest);
	char *out;
	return wl_buf_finish(&b, &out, NULL) == 0 ? out : NULL;
}

/* PUT loc?digest= with [start, end) as body. Sets *too_large on a 413. */
static int put_final(wl__registry *r, const char *scope, const char *loc, wl__registry_upload *up, int64_t start,
                     int64_t end, bool *too_large)
{
	*too_large = false;
	char *url = with_digest(loc, up->digest);
	char *mt = up->media_type ? fmt("OCI-Layer-Media-Type: %s", up->media_type) : NULL;
	if (url == NULL || (up->media_type && mt == NULL)) {
		free(url);
		free(mt);
		return wl__nomem();
	}
	const char *headers[] = {"Content-Type: application/octet-stream", mt, NULL};
	body_src src = {up, start, start, end};
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_PUT, url);
	req.headers = headers;
	req.read_body = body_read;
	req.rewind_body = body_rewind;
	req.body_ctx = &src;
	req.body_size = end - start;
	req.stall_timeout = FINAL_PUT_STALL;
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = request(r, scope, &req, &resp);
	if (rc == 0 && resp.status == 413) {
		*too_large = true;
	} else if (rc == 0 && resp.status != 201 && resp.status != 204) {
		rc = fail_answer(&resp, "PUT blob %s", up->digest);
	} else if (rc == 0 && resp.docker_content_digest != NULL && strcmp(resp.docker_content_digest, up->digest) != 0) {
		rc = wl__fail(WL_EMISMATCH, "the registry stored blob %s as %s", up->digest, resp.docker_content_digest);
	}
	wl__http_response_release(&resp);
	free(url);
	free(mt);
	return rc;
}

/* GET of the upload's status: the next offset (the reported Range's end +
 * 1, or 0), and its newest Location; *gone on a 404. */
int64_t wl__registry_upload_next(const char *range, int64_t sent)
{
	if (range == NULL || sent <= 0)
		return 0;
	const char *p = range;
	if (strncmp(p, "bytes=", 6) == 0)
		p += 6;
	/* "FIRST-LAST", both unsigned decimal; FIRST must be 0 */
	if (*p != '0' || p[1] != '-')
		return 0;
	p += 2;
	uint64_t last = 0;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (last > (uint64_t)(sent - 1) / 10 + 1) /* far beyond what was sent: stop before it overflows */
			return 0;
		last = last * 10 + (uint64_t)(*p - '0');
	}
	/* "0-0" is what registries answer for an empty upload too */
	if (digits == 0 || *p != '\0' || last == 0 || last >= (uint64_t)sent)
		return 0;
	return (int64_t)last + 1;
}

static int upload_status(wl__registry *r, const char *scope, char **loc, int64_t *next, bool *gone, int64_t sent)
{
	*gone = false;
	*next = 0;
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, *loc);
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = request(r, scope, &req, &resp);
	if (rc == 0 && resp.status == 404) {
		*gone = true;
	} else if (rc == 0 && (resp.status == 204 || resp.status == 200)) {
		*next = wl__registry_upload_next(resp.range, sent);
		if (resp.location != NULL)
			rc = take_location(loc, *loc, &resp);
	} else if (rc == 0) {
		rc = wl__registry_fail_status(WL_EIO, &resp, "GET upload status");
	}
	wl__http_response_release(&resp);
	return rc;
}

static int chunked(wl__registry *r, const char *repo, const char *scope, wl__registry_upload *up, char **loc)
{
	up->chunked = true;
	int64_t chunk = r->chunk_size, off = 0;
	int resumes = 0;
	while (off < up->size) {
		int64_t n = up->size - off < chunk ? up->size - off : chunk;
		char range[96];
		snprintf(range, sizeof range, "Content-Range: %lld-%lld", (long long)off, (long long)(off + n - 1));
		const char *headers[] = {"Content-Type: application/octet-stream", range, NULL};
		body_src src = {up, off, off, off + n};
		wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_PATCH, *loc);
		req.headers = headers;
		req.read_body = body_read;
		req.rewind_body = body_rewind;
		req.body_ctx = &src;
		req.body_size = n;
		wl__http_response resp;
		memset(&resp, 0, sizeof resp);
		int rc = request(r, scope, &req, &resp);
		bool resume = false;
		if (rc == 0 && (resp.status == 202 || resp.status == 201 || resp.status == 204)) {
			rc = take_location(loc, *loc, &resp);
			off += n;
		} else if (rc == 0 && resp.status == 413 && chunk > CHUNK_MIN) {
			chunk = chunk / 2 > CHUNK_MIN ? chunk / 2 : CHUNK_MIN;
			resume = true;
		} else if (rc == WL_EIO || rc == WL_EMISMATCH || (rc == 0 && resp.status >= 500)) {
			/* the PATCH failed on the way: ask where the registry is */
			wl_error_clear();
			rc = 0;
			resume = true;
		} else if (rc == 0) {
			rc = wl__registry_fail_status(WL_EIO, &resp, "PATCH upload");
		}
		wl__http_response_release(&resp);
		if (rc != 0)
			return rc;
		if (!resume)
			continue;
		if (++resumes > RESUMES_MAX)
			return wl__fail(WL_EIO, "PATCH of blob %s: failed %d times", up->digest, RESUMES_MAX);
		bool gone;
		int64_t next;
		rc = upload_status(r, scope, loc, &next, &gone, off + n);
		if (rc != 0)
			return rc;
		if (gone) {
			rc = start_upload(r, repo, loc);
			if (rc != 0)
				return rc;
			next = 0;
		}
		/* never ahead of what was sent, never out of order */
		off = next <= off + n ? next : off;
	}
	bool too_large;
	int rc = put_final(r, scope, *loc, up, up->size, up->size, &too_large);
	if (rc == 0 && too_large)
		rc = wl__fail(WL_EIO, "PUT blob %s: 413 for an empty body", up->digest);
	return rc;
}

/* POST ?mount=&from=: 201 when the registry linked the blob from the other
 * repository (*mounted), 202 a new upload session at *loc. */
static int try_mount(wl__registry *r, const char *repo, const char *digest, char **loc, bool *mounted)
{
	*mounted = false;
	wl_buf u;
	wl_buf_init(&u);
	wl_buf_puts(&u, base_of(r));
	wl_buf_puts(&u, repo);
	wl_buf_puts(&u, "/blobs/uploads/?mount=");
	url_escape(&u, digest);
	wl_buf_puts(&u, "&from=");
	url_escape(&u, r->mount_from);
	char *url = NULL;
	char *scope = fmt("repository:%s:pull,push repository:%s:pull", repo, r->mount_from);
	int rc = wl_buf_finish(&u, &url, NULL);
	if (rc == 0 && scope == NULL)
		rc = wl__nomem();
	if (rc != 0) {
		free(url);
		free(scope);
		return rc;
	}
	wl__http_request req = WL__HTTP_REQUEST_INIT(WL__HTTP_POST, url);
	req.body = "";
	req.body_len = 0;
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	rc = request(r, scope, &req, &resp);
	if (rc == 0 && resp.status == 201)
		*mounted = true;
	else if (rc == 0 && resp.status == 202)
		rc = take_location(loc, url, &resp);
	else if (rc == 0) {
		rc = fail_answer(&resp, "POST %s mount from %s", repo, r->mount_from);
	}
	wl__http_response_release(&resp);
	free(url);
	free(scope);
	return rc;
}

int wl__registry_blob_put(wl__registry *r, const char *repo, wl__registry_upload *up)
{
	int bad = check_reference(up->digest, false);
	if (bad == 0 && !wl__repository_valid(repo, strlen(repo)))
		bad = wl__fail(WL_EINVALID, "\"%s\" is not a valid repository name", repo);
	if (bad == 0 && up->media_type != NULL && !wl__media_type_valid(up->media_type, strlen(up->media_type)))
		bad = wl__fail(WL_EINVALID, "blob %s: the media type is not RFC 6838's type/subtype", up->digest);
	if (bad != 0)
		return bad;
	char *scope = scope_for(repo, true);
	if (scope == NULL)
		return wl__nomem();
	char *loc = NULL;
	int rc = 0;
	if (r->mount_from != NULL && strcmp(r->mount_from, repo) != 0) {
		bool mounted = false;
		rc = try_mount(r, repo, up->digest, &loc, &mounted);
		if (rc == 0 && mounted) {
			up->mounted = true;
			free(scope);
			return 0;
		}
	}
	if (rc == 0 && loc == NULL)
		rc = start_upload(r, repo, &loc);
	bool done = false;
	if (rc == 0 && up->size <= r->monolithic_max) {
		bool too_large;
		rc = put_final(r, scope, loc, up, 0, up->size, &too_large);
		done = rc == 0 && !too_large;
		if (rc == 0 && too_large) {
			/* a proxy refuses big bodies: a new session, in chunks */
			abandon(r, scope, loc);
			free(loc);
			loc = NULL;
			rc = start_upload(r, repo, &loc);
		}
	}
	if (rc == 0 && !done)
		rc = chunked(r, repo, scope, up, &loc);
	if (rc == WL_EIO) {
		/* A final PUT may have been done when its answer was lost (and its
		 * retry then finds the session gone): the registry says. */
		wl__saved_error saved;
		wl__error_save(&saved);
		bool there = false;
		if (wl__registry_blob_exists(r, repo, up->digest, &there) == 0 && there)
			rc = 0;
		else
			wl__error_restore(&saved);
	}
	if (rc != 0)
		abandon(r, scope, loc);
	if (rc != 0)
		wl__error_prefix("upload %s to %s/%s", up->digest, r->host, repo);
	free(loc);
	free(scope);
	return rc;
}

int wl__registry_blob_get(wl__registry *r, const char *repo, const char *digest, int64_t size, int64_t start_at,
                          wl__http_data_fn on_data, wl__http_restart_fn on_restart, void *ctx)
{
	int bad = check_reference(digest, false);
	if (bad != 0)
		return bad;
	char *path = fmt("blobs/%s", digest);
	call c;
	int rc = path ? call_begin(&c, r, WL__HTTP_GET, repo, false, path) : wl__nomem();
	free(path);
	if (rc != 0)
		return rc;
	c.req.on_data = on_data;
	c.req.on_restart = on_restart;
	c.req.ctx = ctx;
	c.req.expect_size = size;
	c.req.start_at = start_at;
	rc = call_run(r, &c);
	if (rc == 0 && c.resp.status == 404)
		rc = wl__fail(WL_ENOTFOUND, "blob %s is not in %s/%s", digest, r->host, repo);
	else if (rc == 0 && c.resp.status != 200 && c.resp.status != 206) /* 206: resumed */
		rc = fail_answer(&c.resp, "GET blob %s", digest);
	call_end(&c);
	return rc;
}

/* ---- manifests ---- */

int wl__registry_manifest_put(wl__registry *r, const char *repo, const char *ref, const char *media_type,
                              const void *body, size_t len, const char *digest)
{
	int bad = check_reference(ref, true);
	if (bad == 0 && !wl__media_type_valid(media_type, strlen(media_type)))
		bad = wl__fail(WL_EINVALID, "manifest %s: the media type is not RFC 6838's type/subtype", ref);
	if (bad != 0)
		return bad;
	char *path = fmt("manifests/%s", ref);
	char *ct = fmt("Content-Type: %s", media_type);
	call c;
	int rc = path && ct ? call_begin(&c, r, WL__HTTP_PUT, repo, true, path) : wl__nomem();
	free(path);
	if (rc != 0) {
		free(ct);
		return rc;
	}
	const char *headers[] = {ct, NULL};
	c.req.headers = headers;
	c.req.body = body;
	c.req.body_len = len;
	rc = call_run(r, &c);
	const wl__http_response *resp = &c.resp;
	if (rc == 0 && resp->status != 201 && resp->status != 200 && resp->status != 204)
		rc = fail_answer(resp, "PUT manifest %s/%s:%s", r->host, repo, ref);
	else if (rc == 0 && digest != NULL && resp->docker_content_digest != NULL &&
	         strcmp(resp->docker_content_digest, digest) != 0)
		rc = wl__fail(WL_EMISMATCH, "the registry stored the manifest as %s, the entry records %s",
		              resp->docker_content_digest, digest);
	call_end(&c);
	free(ct);
	return rc;
}

int wl__registry_manifest_get(wl__registry *r, const char *repo, const char *ref, char **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	int bad = check_reference(ref, true);
	if (bad != 0)
		return bad;
	char *path = fmt("manifests/%s", ref);
	call c;
	int rc = path ? call_begin(&c, r, WL__HTTP_GET, repo, false, path) : wl__nomem();
	free(path);
	if (rc != 0)
		return rc;
	const char *headers[] = {MANIFEST_ACCEPT, NULL};
	c.req.headers = headers;
	c.req.max_body = 4 << 20;
	rc = call_run(r, &c);
	if (rc == 0 && c.resp.status == 404) {
		rc = wl__fail(WL_ENOTFOUND, "manifest %s is not in %s/%s", ref, r->host, repo);
	} else if (rc == 0 && c.resp.status != 200) {
		rc = fail_answer(&c.resp, "GET manifest %s/%s@%s", r->host, repo, ref);
	} else if (rc == 0) {
		*body = c.resp.body ? c.resp.body : strdup("");
		*len = c.resp.body_len;
		c.resp.body = NULL;
		if (*body == NULL)
			rc = wl__nomem();
	}
	call_end(&c);
	return rc;
}

/* ---- from the public options ---- */

/* HOST[:PORT]/NAME[:TAG][@DIGEST] split into its host and name (malloc'd),
 * each part checked against the distribution spec's grammar, the message
 * naming the bad one. */
static int split_reference(const char *ref, char **host_out, char **name_out)
{
	*host_out = *name_out = NULL;
	if (ref == NULL || ref[0] == '\0')
		return wl__fail(WL_EINVALID, "no registry repository given");
	char shown_ref[300];
	one_line(shown_ref, sizeof shown_ref, (wl_string){ref, strlen(ref)});
	const char *slash = strchr(ref, '/');
	if (slash == NULL || slash == ref)
		return wl__fail(WL_EINVALID, "repository \"%s\" is not REGISTRY/REPOSITORY", shown_ref);
	char *host = strndup(ref, (size_t)(slash - ref));
	char *name = strdup(slash + 1);
	if (host == NULL || name == NULL) {
		free(host);
		free(name);
		return wl__nomem();
	}
	/* a digest, then a tag in the last component, are not part of the name
	 * (but must be what the grammar says) */
	char *at = strchr(name, '@');
	if (at != NULL)
		*at++ = '\0';
	char *last = strrchr(name, '/');
	char *colon = strchr(last ? last : name, ':');
	if (colon != NULL)
		*colon++ = '\0';
	int rc = 0;
	char why[256], shown_name[300];
	one_line(shown_name, sizeof shown_name, (wl_string){name, strlen(name)});
	if (!wl__registry_host_explain(host, strlen(host), why, sizeof why))
		rc = wl__fail(WL_EINVALID, "repository \"%s\": %s", shown_ref, why);
	else if (!wl__repository_explain(name, strlen(name), why, sizeof why))
		rc = wl__fail(WL_EINVALID, "repository \"%s\": \"%s\" is not a valid repository name: %s", shown_ref,
		              shown_name, why);
	else if (colon != NULL && !wl__tag_valid(colon, strlen(colon)))
		rc = wl__fail(WL_EINVALID, "repository \"%s\": the tag is not [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
		              shown_ref);
	else if (at != NULL && !wl__digest_valid(at, strlen(at)))
		rc = wl__fail(WL_EINVALID, "repository \"%s\": the digest is not sha256: or sha512: and lower-case hex",
		              shown_ref);
	if (rc != 0) {
		free(host);
		free(name);
		return rc;
	}
	*host_out = host;
	*name_out = name;
	return 0;
}

int wl_registry_reference_check(const char *reference)
{
	char *host = NULL, *name = NULL;
	int rc = split_reference(reference, &host, &name);
	free(host);
	free(name);
	return rc;
}

int wl__registry_open(wl__registry **reg, wl__http **http, char **repo, const wl_registry_options *o, bool pushing)
{
	*reg = NULL;
	*http = NULL;
	*repo = NULL;
	char *host = NULL, *name = NULL;
	int rc = split_reference(o->repository, &host, &name);
	if (rc != 0)
		return rc;
	wl__credentials cred;
	memset(&cred, 0, sizeof cred);
	if (rc == 0)
		rc = wl__auth_lookup_noting(&cred, o->auth_files, o->auth_file_count, host, o->timeout, o->notice,
		                            o->notice_ctx);
	wl__http_options ho;
	wl__http_options_init(&ho);
	ho.cacert = o->cacert;
	if (o->retries >= 0)
		ho.max_retries = o->retries;
	if (o->timeout > 0)
		ho.stall_timeout = o->timeout;
	ho.cancel = o->cancel;
	if (rc == 0)
		rc = wl__http_new(http, &ho);
	wl__registry_options ro = {
		.host = host,
		.plain_http = o->plain_http,
		.credentials = &cred,
		.monolithic_max = o->monolithic_max,
		.chunk_size = o->chunk_size,
		.pushing = pushing,
		.mount_from = o->mount_from,
		.notice = o->notice,
		.notice_ctx = o->notice_ctx,
	};
	if (rc == 0)
		rc = wl__registry_new(reg, *http, &ro);
	wl__credentials_release(&cred);
	free(host);
	if (rc != 0) {
		wl__http_free(*http);
		*http = NULL;
		free(name);
		return rc;
	}
	*repo = name;
	return 0;
}

const char *wl__registry_host(const wl__registry *r)
{
	return r->host;
}

int wl__registry_manifest_exists(wl__registry *r, const char *repo, const char *ref, bool *exists)
{
	const char *headers[] = {MANIFEST_ACCEPT, NULL};
	return head_exists(r, repo, "manifests", ref, headers, exists);
}
