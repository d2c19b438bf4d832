/*
 * http.c - the HTTP client (see net/http.h): requests, retries, resumed
 * downloads, redirects that keep Authorization on its origin, and bounds
 * on what a response may make us keep. Built on libcurl.
 *
 * libcurl does the wire work. Everything with a policy is here, on top of
 * it: curl never follows a redirect itself (so the Authorization header is
 * added per hop, only on the original origin), never retries, and its
 * callbacks feed the header parsers of http_headers.c and the body sink.
 * A transfer that moves no byte for stall_timeout seconds is ended from
 * the progress callback, which also watches the cancel flag.
 */
#include "net/http.h"

#include "common/grammar.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define POOL_MAX 8
#define REDIRECTS_MAX 10
#define BACKOFF_MAX 30.0
#define ERROR_BODY_MAX ((size_t)64 << 10)
#define MEMORY_BODY_DEFAULT ((size_t)16 << 20)
#define CA_FILE_MAX ((size_t)16 << 20)
#define WAIT_SLICE 0.05
#define DOWNLOAD_BUFFER (512L << 10)
/* The slowest a body may move on average, for a request's overall
 * deadline and for the low-speed guard against a server that drips. */
#define RATE_FLOOR ((int64_t)64 << 10)
#define LOW_SPEED_FLOOR 1024L

struct wl__http {
	wl__http_options opts;
	char *proxy;
	char *ca_file; /* the extra CA file, or NULL */
	char *ca_blob; /* the system CAs then that file, or NULL */
	size_t ca_blob_len;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_MAX];
	size_t idle_count;
	char user_agent[40];
};

/* ---- time and jitter ---- */

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A uniform value in [0, 1) from a per-thread xorshift generator. */
static double jitter_unit(void)
{
	static _Thread_local uint64_t state;
	if (state == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
		if (state == 0)
			state = 0x9E3779B97F4A7C15ULL;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) / 9007199254740992.0;
}

static bool canceled(const wl__http *http)
{
	return http->opts.cancel != NULL && *http->opts.cancel != 0;
}

/* Sleeps `seconds` in short slices; false when canceled meanwhile. */
static bool wait_for(const wl__http *http, double seconds)
{
	double until = monotonic_now() + seconds;
	for (;;) {
		if (canceled(http))
			return false;
		double left = until - monotonic_now();
		if (left <= 0)
			return true;
		if (left > WAIT_SLICE)
			left = WAIT_SLICE;
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

/* ---- the client ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void wl__http_options_init(wl__http_options *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->stall_timeout = 30;
	opts->connect_timeout = 30;
	opts->max_retries = 5;
	opts->retry_base = 0.5;
	opts->retry_after_max = 60;
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)handle;
	(void)access;
	wl__http *http = ctx;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *ctx)
{
	(void)handle;
	wl__http *http = ctx;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&http->share_locks[data]);
}

/* Reads a whole regular file of at most CA_FILE_MAX bytes, NUL-terminated;
 * returns an errno value. */
static int read_small_file(const char *path, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno;
	struct stat st;
	int err = 0;
	if (fstat(fd, &st) != 0)
		err = errno;
	else if (!S_ISREG(st.st_mode))
		err = EINVAL;
	else if ((uint64_t)st.st_size > CA_FILE_MAX)
		err = EFBIG;
	size_t cap = err == 0 ? (size_t)st.st_size + 1 : 0, len = 0;
	char *data = err == 0 ? malloc(cap) : NULL;
	if (err == 0 && data == NULL)
		err = ENOMEM;
	while (err == 0 && len + 1 < cap) {
		ssize_t got = read(fd, data + len, cap - 1 - len);
		if (got < 0 && errno != EINTR)
			err = errno;
		if (got == 0)
			break;
		if (got > 0)
			len += (size_t)got;
	}
	close(fd);
	if (err != 0) {
		free(data);
		return err;
	}
	data[len] = '\0';
	*out = data;
	*out_len = len;
	return 0;
}

/* The extra CA file is checked at once. Where libcurl takes a CA blob
 * (OpenSSL and others) the file is appended to the system bundle, so both
 * are trusted; elsewhere the file is the CA file, with the default CA
 * directory. */
static int load_cacert(wl__http *http, const char *path)
{
	char *extra = NULL;
	size_t extra_len = 0;
	int err = read_small_file(path, &extra, &extra_len);
	if (err == ENOMEM)
		return wl__nomem();
	if (err != 0)
		return wl__fail_errno(WL_EINVALID, err, "read CA file %s", path);
	if (strstr(extra, "-----BEGIN CERTIFICATE-----") == NULL) {
		free(extra);
		return wl__fail(WL_EINVALID, "CA file %s holds no PEM certificate", path);
	}
	http->ca_file = strdup(path);
	if (http->ca_file == NULL) {
		free(extra);
		return wl__nomem();
	}
#if LIBCURL_VERSION_NUM >= 0x074d00
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
	char *system = NULL;
	size_t system_len = 0;
	if (info->age >= CURLVERSION_SEVENTH && info->cainfo != NULL &&
	    read_small_file(info->cainfo, &system, &system_len) == 0) {
		http->ca_blob = malloc(system_len + 1 + extra_len + 1);
		if (http->ca_blob != NULL) {
			memcpy(http->ca_blob, system, system_len);
			http->ca_blob[system_len] = '\n';
			memcpy(http->ca_blob + system_len + 1, extra, extra_len + 1);
			http->ca_blob_len = system_len + 1 + extra_len;
		}
		free(system);
		if (http->ca_blob == NULL) {
			free(extra);
			return wl__nomem();
		}
	}
#endif
	free(extra);
	return 0;
}

int wl__http_new(wl__http **out, const wl__http_options *opts)
{
	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return wl__fail(WL_EINVALID, "libcurl initialization failed: %s", curl_easy_strerror(global_rc));
	wl__http *http = calloc(1, sizeof *http);
	if (http == NULL)
		return wl__nomem();
	if (opts != NULL)
		http->opts = *opts;
	else
		wl__http_options_init(&http->opts);
	if (http->opts.stall_timeout <= 0)
		http->opts.stall_timeout = 30;
	if (http->opts.connect_timeout <= 0)
		http->opts.connect_timeout = 30;
	if (http->opts.max_retries < 0)
		http->opts.max_retries = 0;
	if (http->opts.retry_base < 0)
		http->opts.retry_base = 0;
	if (http->opts.retry_after_max < 0)
		http->opts.retry_after_max = 0;
	snprintf(http->user_agent, sizeof http->user_agent, "weightslock/%s", WL_VERSION_STRING);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http->share_locks[i], NULL);
	pthread_mutex_init(&http->pool_lock, NULL);
	http->opts.cacert = NULL;
	http->opts.proxy = NULL;
	int rc = 0;
	if (opts != NULL && opts->proxy != NULL && (http->proxy = strdup(opts->proxy)) == NULL)
		rc = wl__nomem();
	if (rc == 0 && opts != NULL && opts->cacert != NULL)
		rc = load_cacert(http, opts->cacert);
	if (rc == 0) {
		http->share = curl_share_init();
		if (http->share == NULL)
			rc = wl__nomem();
	}
	if (rc == 0) {
		curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
		curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	}
	if (rc != 0) {
		wl__http_free(http);
		return rc;
	}
	*out = http;
	return 0;
}

void wl__http_free(wl__http *http)
{
	if (http == NULL)
		return;
	for (size_t i = 0; i < http->idle_count; i++)
		curl_easy_cleanup(http->idle[i]);
	if (http->share != NULL)
		curl_share_cleanup(http->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&http->share_locks[i]);
	pthread_mutex_destroy(&http->pool_lock);
	free(http->proxy);
	free(http->ca_blob);
	free(http->ca_file);
	free(http);
}

static CURL *take_handle(wl__http *http)
{
	CURL *e = NULL;
	pthread_mutex_lock(&http->pool_lock);
	if (http->idle_count > 0)
		e = http->idle[--http->idle_count];
	pthread_mutex_unlock(&http->pool_lock);
	return e != NULL ? e : curl_easy_init();
}

/* Back to the pool with its options cleared (they point at the request). */
static void give_handle(wl__http *http, CURL *e)
{
	curl_easy_reset(e);
	pthread_mutex_lock(&http->pool_lock);
	if (http->idle_count < POOL_MAX) {
		http->idle[http->idle_count++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&http->pool_lock);
	if (e != NULL)
		curl_easy_cleanup(e);
}

/* ---- URLs ---- */

const char *wl__http_method_name(wl__http_method method)
{
	switch (method) {
	case WL__HTTP_GET:
		return "GET";
	case WL__HTTP_HEAD:
		return "HEAD";
	case WL__HTTP_PUT:
		return "PUT";
	case WL__HTTP_POST:
		return "POST";
	case WL__HTTP_PATCH:
		return "PATCH";
	case WL__HTTP_DELETE:
		return "DELETE";
	}
	return "GET";
}

static CURLU *parse_url(const char *url)
{
	CURLU *u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

int wl__http_resolve(const char *base, const char *ref, char **out)
{
	*out = NULL;
	pthread_once(&global_once, global_init);
	CURLU *u = parse_url(base);
	if (u == NULL)
		return wl__fail(WL_EINVALID, "not a valid URL");
	char *joined = NULL;
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, ref, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_URL, &joined, 0);
	curl_url_cleanup(u);
	if (uc == CURLUE_OUT_OF_MEMORY)
		return wl__nomem();
	if (uc != CURLUE_OK || joined == NULL)
		return wl__fail(WL_EINVALID, "not a valid URL reference: %s", curl_url_strerror(uc));
	*out = strdup(joined);
	curl_free(joined);
	return *out == NULL ? wl__nomem() : 0;
}

char *wl__http_url_for_message(const char *url)
{
	CURLU *u = url != NULL ? parse_url(url) : NULL;
	char *shown = NULL;
	if (u != NULL) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
		char *s = NULL;
		if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && s != NULL) {
			shown = strdup(s);
			curl_free(s);
		} else {
			shown = strdup("<invalid URL>");
		}
		curl_url_cleanup(u);
	} else {
		shown = strdup("<invalid URL>");
	}
	return shown;
}

/* scheme://host:port of a URL (lowercase, default port filled in), malloc'd. */
static char *origin_of(const char *url)
{
	CURLU *u = parse_url(url);
	if (u == NULL)
		return NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *origin = NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		if (asprintf(&origin, "%s://%s:%s", scheme, host, port) < 0)
			origin = NULL;
		for (char *c = origin; c != NULL && *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return origin;
}

bool wl__http_same_origin(const char *a, const char *b)
{
	pthread_once(&global_once, global_init);
	char *oa = origin_of(a), *ob = origin_of(b);
	bool same = oa != NULL && ob != NULL && strcmp(oa, ob) == 0;
	free(oa);
	free(ob);
	return same;
}

bool wl__http_host_is_loopback(const char *host, size_t len)
{
	if (host == NULL)
		return false;
	if ((len == 9 || (len == 10 && host[9] == '.')) && strncasecmp(host, "localhost", 9) == 0)
		return true;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	char text[INET6_ADDRSTRLEN + 1];
	if (len == 0 || len >= sizeof text || memchr(host, '\0', len) != NULL)
		return false;
	memcpy(text, host, len);
	text[len] = '\0';
	unsigned char addr[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, text, addr) == 1)
		return addr[0] == 127;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return memcmp(addr, &in6addr_loopback, sizeof in6addr_loopback) == 0;
	return false;
}

/* Whether the URL's host is a loopback one (see above). */
static bool url_is_loopback(const char *url)
{
	CURLU *u = parse_url(url);
	char *host = NULL;
	bool loopback = u != NULL && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != NULL &&
	                wl__http_host_is_loopback(host, strlen(host));
	curl_free(host);
	curl_url_cleanup(u);
	return loopback;
}

static bool scheme_is(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);
	return strncasecmp(url, scheme, n) == 0 && url[n] == ':';
}

/* ---- responses ---- */

void wl__http_response_release(wl__http_response *resp)
{
	free(resp->body);
	free(resp->url);
	free(resp->etag);
	free(resp->content_type);
	free(resp->location);
	free(resp->link_next);
	free(resp->docker_content_digest);
	free(resp->range);
	free(resp->www_authenticate);
	memset(resp, 0, sizeof *resp);
	resp->content_length = -1;
	resp->retry_after = -1;
}

/* ---- one transfer (one hop of one attempt) ---- */

typedef enum sink_kind {
	SINK_UNDECIDED = 0,
	SINK_DISCARD, /* a redirect's body */
	SINK_DATA,    /* a 2xx body, to on_data */
	SINK_MEMORY,  /* a 2xx body, kept */
	SINK_ERROR,   /* any other body: its start kept for messages */
} sink_kind;

/* What survives from attempt to attempt of one request. */
typedef struct request_state {
	wl__http *http;
	const wl__http_request *req;
	const char *method;
	char *shown;          /* the URL for messages */
	char *origin;         /* scheme://host:port the request belongs to */
	int64_t delivered;    /* 2xx body bytes delivered so far */
	char *strong_etag;    /* of the first 2xx, for If-Range */
	bool body_consumed;   /* a read_body source was read from */
} request_state;

typedef struct transfer {
	request_state *rs;
	wl__http_headers headers;
	bool follow;          /* a 3xx with Location is a hop */
	int64_t resume_from;  /* the Range start sent, or 0 */
	sink_kind sink;
	char *mem;            /* memory or error body */
	size_t mem_len, mem_cap;
	bool truncated;
	/* A failure decided in a callback: code with its message saved. */
	int fail_code;
	bool fail_retryable;
	wl__saved_error fail;
	/* progress */
	double last_move;
	curl_off_t last_moved;
	bool stalled, was_canceled;
	/* The transfer was ended on purpose: an error body past its cap, a
	 * redirect's body. Its status stands; curl's write error does not. */
	bool cut_short;
	/* upload */
	size_t body_pos;
	int64_t body_sent;
	char errbuf[CURL_ERROR_SIZE];
} transfer;

/* Records a callback's failure (the error record already set). */
static void fail_in_callback(transfer *t, int code)
{
	if (t->fail_code != 0)
		return;
	t->fail_code = code;
	wl__error_save(&t->fail);
}

static int mem_append(transfer *t, const void *p, size_t n)
{
	if (n > SIZE_MAX - 1 - t->mem_len)
		return WL_ENOMEM;
	size_t need = t->mem_len + n + 1;
	if (need > t->mem_cap) {
		size_t cap = t->mem_cap < 4096 ? 4096 : t->mem_cap;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		char *grown = realloc(t->mem, cap);
		if (grown == NULL)
			return WL_ENOMEM;
		t->mem = grown;
		t->mem_cap = cap;
	}
	memcpy(t->mem + t->mem_len, p, n);
	t->mem_len += n;
	t->mem[t->mem_len] = '\0';
	return 0;
}

static bool status_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static bool status_is_retried(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* Called once the final headers of a response are in: picks the sink and
 * checks what a resumed download got. Non-zero aborts the transfer. */
static int begin_body(transfer *t)
{
	request_state *rs = t->rs;
	const wl__http_request *req = rs->req;
	long status = t->headers.status;
	if (t->follow && status_is_redirect(status) && t->headers.location != NULL) {
		t->sink = SINK_DISCARD;
		return 0;
	}
	if (status < 200 || status > 299) {
		t->sink = SINK_ERROR;
		return 0;
	}
	if (req->method == WL__HTTP_HEAD) {
		t->sink = SINK_DISCARD;
		return 0;
	}
	if (t->resume_from > 0) {
		int64_t first, last, total;
		if (status == 206) {
			if (t->headers.content_range == NULL ||
			    !wl__http_parse_content_range(t->headers.content_range, strlen(t->headers.content_range),
			                                  &first, &last, &total) ||
			    first != t->resume_from) {
				wl__fail(WL_EIO, "%s %s: resumed at byte %" PRId64 ", the server sent another range (%s)",
				         rs->method, rs->shown, t->resume_from,
				         t->headers.content_range != NULL ? t->headers.content_range : "none");
				fail_in_callback(t, WL_EIO);
				return -1;
			}
		} else if (status == 200) {
			int rc = req->on_restart != NULL
			             ? req->on_restart(req->ctx)
			             : wl__fail(WL_EIO, "%s %s: the server ignored the range to resume at byte %" PRId64,
			                        rs->method, rs->shown, t->resume_from);
			if (rc != 0) {
				fail_in_callback(t, rc);
				return -1;
			}
			rs->delivered = 0;
		} else {
			wl__fail(WL_EIO, "%s %s: resumed at byte %" PRId64 ", got status %ld", rs->method, rs->shown,
			         t->resume_from, status);
			fail_in_callback(t, WL_EIO);
			return -1;
		}
	} else if (status == 206) {
		wl__fail(WL_EIO, "%s %s: status 206 to a request for the whole body", rs->method, rs->shown);
		fail_in_callback(t, WL_EIO);
		return -1;
	}
	if (rs->strong_etag == NULL && t->headers.etag != NULL &&
	    wl__http_etag_is_strong(t->headers.etag, strlen(t->headers.etag))) {
		rs->strong_etag = strdup(t->headers.etag);
		if (rs->strong_etag == NULL) {
			fail_in_callback(t, wl__nomem());
			return -1;
		}
	}
	int64_t cl = t->headers.content_length;
	if (req->expect_size >= 0 && cl >= 0 && cl > req->expect_size - rs->delivered) {
		wl__fail(WL_EMISMATCH, "%s %s: more bytes than the %" PRId64 " expected (Content-Length %" PRId64 ")",
		         rs->method, rs->shown, req->expect_size, rs->delivered + cl);
		fail_in_callback(t, WL_EMISMATCH);
		return -1;
	}
	size_t max_body = req->max_body > 0 ? req->max_body : MEMORY_BODY_DEFAULT;
	if (req->on_data == NULL && cl >= 0 && (uint64_t)cl > max_body) {
		wl__fail(WL_EINVALID, "%s %s: response body larger than %zu bytes", rs->method, rs->shown, max_body);
		fail_in_callback(t, WL_EINVALID);
		return -1;
	}
	t->sink = req->on_data != NULL ? SINK_DATA : SINK_MEMORY;
	return 0;
}

static size_t on_header(char *line, size_t size, size_t count, void *ud)
{
	transfer *t = ud;
	size_t n = size * count;
	int rc = wl__http_headers_line(&t->headers, line, n);
	if (rc != 0) {
		if (rc == WL_EPARSE)
			wl__fail(WL_EIO, "%s %s: response headers larger than %zu bytes", t->rs->method, t->rs->shown,
			         WL__HTTP_HEADERS_MAX);
		else
			wl__nomem();
		fail_in_callback(t, rc == WL_EPARSE ? WL_EIO : rc);
		return 0;
	}
	bool blank = n == 0 || line[0] == '\n' || (line[0] == '\r' && (n == 1 || line[1] == '\n'));
	if (blank && t->headers.status >= 200 && t->sink == SINK_UNDECIDED && begin_body(t) != 0)
		return 0;
	return n;
}

static size_t on_write(char *data, size_t size, size_t count, void *ud)
{
	transfer *t = ud;
	request_state *rs = t->rs;
	const wl__http_request *req = rs->req;
	size_t n = size * count;
	if (t->sink == SINK_UNDECIDED && begin_body(t) != 0)
		return 0;
	switch (t->sink) {
	case SINK_UNDECIDED:
		return n;
	case SINK_DISCARD:
		/* A redirect's body is never read: the connection is dropped. */
		t->cut_short = true;
		return 0;
	case SINK_ERROR: {
		size_t room = ERROR_BODY_MAX - t->mem_len;
		size_t take = n < room ? n : room;
		if (take > 0 && mem_append(t, data, take) != 0) {
			fail_in_callback(t, wl__nomem());
			return 0;
		}
		if (take < n) {
			/* Enough for a message; the rest may never end. */
			t->truncated = true;
			t->cut_short = true;
			return 0;
		}
		return n;
	}
	case SINK_DATA:
	case SINK_MEMORY:
		break;
	}
	size_t take = n;
	bool too_long = false;
	if (req->expect_size >= 0 && (uint64_t)n > (uint64_t)(req->expect_size - rs->delivered)) {
		take = (size_t)(req->expect_size - rs->delivered);
		too_long = true;
	}
	if (t->sink == SINK_MEMORY) {
		size_t max_body = req->max_body > 0 ? req->max_body : MEMORY_BODY_DEFAULT;
		if (take > max_body - t->mem_len) {
			wl__fail(WL_EINVALID, "%s %s: response body larger than %zu bytes", rs->method, rs->shown,
			         max_body);
			fail_in_callback(t, WL_EINVALID);
			return 0;
		}
		if (take > 0 && mem_append(t, data, take) != 0) {
			fail_in_callback(t, wl__nomem());
			return 0;
		}
	} else if (take > 0) {
		int rc = req->on_data(req->ctx, data, take);
		if (rc != 0) {
			fail_in_callback(t, rc);
			return 0;
		}
	}
	rs->delivered += (int64_t)take;
	if (too_long) {
		wl__fail(WL_EMISMATCH, "%s %s: more bytes than the %" PRId64 " expected", rs->method, rs->shown,
		         req->expect_size);
		fail_in_callback(t, WL_EMISMATCH);
		return 0;
	}
	return n;
}

static size_t on_read(char *buf, size_t size, size_t count, void *ud)
{
	transfer *t = ud;
	request_state *rs = t->rs;
	const wl__http_request *req = rs->req;
	size_t cap = size * count;
	if (req->read_body == NULL) {
		size_t left = req->body_len - t->body_pos;
		size_t take = left < cap ? left : cap;
		if (take > 0)
			memcpy(buf, (const char *)req->body + t->body_pos, take);
		t->body_pos += take;
		return take;
	}
	int64_t left = req->body_size - t->body_sent;
	if ((uint64_t)left < cap)
		cap = (size_t)left;
	if (cap == 0)
		return 0;
	size_t got = 0;
	rs->body_consumed = true;
	int rc = req->read_body(req->body_ctx, buf, cap, &got);
	if (rc == 0 && got == 0)
		rc = wl__fail(WL_EINVALID, "%s %s: the request body ended at byte %" PRId64 " of %" PRId64, rs->method,
		              rs->shown, t->body_sent, req->body_size);
	if (rc == 0 && got > cap)
		rc = wl__fail(WL_EINVALID, "%s %s: the request body source overran its buffer", rs->method, rs->shown);
	if (rc != 0) {
		fail_in_callback(t, rc);
		return CURL_READFUNC_ABORT;
	}
	t->body_sent += (int64_t)got;
	return got;
}

/* The request's own stall limit, else the client's. */
static double stall_limit(const request_state *rs)
{
	return rs->req->stall_timeout > 0 ? rs->req->stall_timeout : rs->http->opts.stall_timeout;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	transfer *t = ud;
	if (canceled(t->rs->http)) {
		t->was_canceled = true;
		return 1;
	}
	double now = monotonic_now();
	curl_off_t moved = dlnow + ulnow;
	if (moved != t->last_moved) {
		t->last_moved = moved;
		t->last_move = now;
	} else if (now - t->last_move > stall_limit(t->rs)) {
		t->stalled = true;
		return 1;
	}
	return 0;
}

/* Adds a header line to a curl list; false on out of memory. */
static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);
	if (l == NULL)
		return false;
	*list = l;
	return true;
}

static struct curl_slist *build_headers(const request_state *rs, const char *url, int64_t resume_from)
{
	const wl__http_request *req = rs->req;
	struct curl_slist *list = NULL;
	bool ok = add_header(&list, "Expect:");
	for (const char *const *h = req->headers; ok && h != NULL && *h != NULL; h++)
		ok = add_header(&list, *h);
	char line[64];
	if (ok && resume_from > 0) {
		snprintf(line, sizeof line, "Range: bytes=%" PRId64 "-", resume_from);
		ok = add_header(&list, line);
		char *if_range = NULL;
		if (ok && rs->strong_etag != NULL && wl__header_value_valid(rs->strong_etag, strlen(rs->strong_etag))) {
			ok = asprintf(&if_range, "If-Range: %s", rs->strong_etag) >= 0 && add_header(&list, if_range);
			free(if_range);
		}
	}
	char *hop_origin = req->authorization != NULL ? origin_of(url) : NULL;
	bool at_origin = hop_origin != NULL && strcmp(hop_origin, rs->origin) == 0;
	free(hop_origin);
	if (ok && req->authorization != NULL && at_origin) {
		char *auth = NULL;
		ok = asprintf(&auth, "Authorization: %s", req->authorization) >= 0 && add_header(&list, auth);
		if (auth != NULL) {
			/* The value is a credential: do not leave it in freed memory. */
			volatile char *v = auth;
			while (*v != '\0')
				*v++ = '\0';
		}
		free(auth);
	}
	if (!ok) {
		curl_slist_free_all(list);
		return NULL;
	}
	return list;
}

static void set_method(CURL *e, const wl__http_request *req, transfer *t)
{
	switch (req->method) {
	case WL__HTTP_GET:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		return;
	case WL__HTTP_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		return;
	case WL__HTTP_DELETE:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		return;
	case WL__HTTP_PUT:
	case WL__HTTP_POST:
	case WL__HTTP_PATCH:
		break;
	}
	/* Every upload is a PUT for curl (no form Content-Type, Content-Length
	 * always sent, 0 for none) with the real method name. */
	int64_t size = req->read_body != NULL ? req->body_size : (int64_t)req->body_len;
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, t);
	if (req->method != WL__HTTP_PUT)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, wl__http_method_name(req->method));
}

/* The overall deadline of one transfer: four stall periods for the
 * exchange, plus the bytes it may move at RATE_FLOOR (the rest of an
 * expected download, an upload's body, a kept body's bound, an error
 * body's 64 KiB). A streamed download of unknown size has none; the
 * low-speed guard still ends one that drips. */
static long deadline_ms(const request_state *rs, int64_t resume_from)
{
	const wl__http_request *req = rs->req;
	int64_t bytes = (int64_t)ERROR_BODY_MAX;
	if (req->method == WL__HTTP_PUT || req->method == WL__HTTP_POST || req->method == WL__HTTP_PATCH)
		bytes += req->read_body != NULL ? req->body_size : (int64_t)req->body_len;
	if (req->method == WL__HTTP_GET && req->on_data != NULL) {
		if (req->expect_size < 0)
			return 0;
		bytes += req->expect_size - resume_from;
	} else if (req->on_data == NULL && req->method != WL__HTTP_HEAD) {
		bytes += (int64_t)(req->max_body > 0 ? req->max_body : MEMORY_BODY_DEFAULT);
	}
	double seconds = 4 * stall_limit(rs) + (double)bytes / (double)RATE_FLOOR;
	return seconds < (double)(LONG_MAX / 1000) ? (long)(seconds * 1000) : LONG_MAX;
}

static void set_options(CURL *e, const wl__http *http, const char *url, struct curl_slist *headers, transfer *t)
{
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_SHARE, http->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_USERAGENT, http->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(http->opts.connect_timeout * 1000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, deadline_ms(t->rs, t->resume_from));
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_FLOOR);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(stall_limit(t->rs) + 0.999));
	curl_easy_setopt(e, CURLOPT_PROXY, http->proxy != NULL ? http->proxy : "");
	curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	/* A streamed body arrives in pieces of up to this size: fewer calls
	 * to the socket and to the consumer (libcurl caps it at 512 KiB). */
	if (t->rs->req->on_data != NULL)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)DOWNLOAD_BUFFER);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	bool blob_set = false;
#if LIBCURL_VERSION_NUM >= 0x074d00
	if (http->ca_blob != NULL) {
		struct curl_blob blob = {http->ca_blob, http->ca_blob_len, CURL_BLOB_NOCOPY};
		blob_set = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
	}
#endif
	if (!blob_set && http->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, http->ca_file);
	set_method(e, t->rs->req, t);
}

/* How one attempt ended. */
typedef enum outcome {
	DONE,  /* rc (0 or an error) is final */
	RETRY, /* what happened is in `why`; may be retried */
} outcome;

typedef struct attempt_result {
	outcome outcome;
	int rc;
	char why[WL__MESSAGE_MAX];
	double retry_after; /* seconds, or -1 */
	bool connect_only;  /* failed before a byte of the request could be sent */
} attempt_result;

/* Words a curl failure; *retry says whether it is a transient one. */
static void describe_curl_error(CURLcode cc, const char *errbuf, char *why, size_t cap, bool *retry,
                                bool *connect_only, int *code)
{
	const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
	const char *kind = "";
	*retry = false;
	*connect_only = false;
	*code = WL_EIO;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		kind = "cannot connect: ";
		*retry = *connect_only = true;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		kind = "timed out: ";
		*retry = true;
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		kind = "connection dropped: ";
		*retry = true;
		break;
	case CURLE_SSL_CONNECT_ERROR:
		/* a server that speaks plain HTTP, or no TLS version or cipher
		 * in common: the next attempt fails the same way */
		kind = "TLS handshake failed: ";
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
	case CURLE_SSL_CACERT:
#endif
		kind = "TLS certificate not trusted (a CA file may be needed): ";
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		kind = "cannot resolve the name: ";
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		kind = "invalid URL: ";
		*code = WL_EINVALID;
		break;
	case CURLE_OUT_OF_MEMORY:
		*code = WL_ENOMEM;
		break;
	default:
		break;
	}
	snprintf(why, cap, "%s%s", kind, detail);
	size_t n = strlen(why);
	while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r'))
		why[--n] = '\0';
}

/* What the caller may decide on, for a transfer that got no answer. */
static wl__http_failure failure_of(CURLcode cc, long os_errno)
{
	switch (cc) {
	case CURLE_OK:
		return WL__HTTP_FAILURE_NONE;
	case CURLE_SSL_CONNECT_ERROR:
		return WL__HTTP_FAILURE_TLS_HANDSHAKE;
	case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
	case CURLE_SSL_CACERT:
#endif
		return WL__HTTP_FAILURE_TLS_VERIFY;
	case CURLE_COULDNT_RESOLVE_HOST:
		return WL__HTTP_FAILURE_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return os_errno == ECONNREFUSED ? WL__HTTP_FAILURE_REFUSED : WL__HTTP_FAILURE_OTHER;
	default:
		return WL__HTTP_FAILURE_OTHER;
	}
}

static void fill_response(wl__http_response *resp, transfer *t, const char *url)
{
	wl__http_response_release(resp);
	resp->status = t->headers.status;
	resp->body = t->mem;
	resp->body_len = t->mem_len;
	resp->body_truncated = t->truncated;
	t->mem = NULL;
	t->mem_len = t->mem_cap = 0;
	resp->url = strdup(url);
	resp->etag = t->headers.etag;
	resp->content_type = t->headers.content_type;
	resp->location = t->headers.location;
	resp->docker_content_digest = t->headers.docker_content_digest;
	resp->www_authenticate = t->headers.www_authenticate;
	resp->range = t->headers.range;
	t->headers.etag = t->headers.content_type = t->headers.location = NULL;
	t->headers.docker_content_digest = t->headers.www_authenticate = t->headers.range = NULL;
	resp->content_length = t->headers.content_length;
	if (t->headers.link_next != NULL && resp->url != NULL &&
	    wl__http_resolve(resp->url, t->headers.link_next, &resp->link_next) != 0)
		resp->link_next = NULL;
	if (t->headers.retry_after != NULL)
		if (!wl__http_parse_retry_after(t->headers.retry_after, strlen(t->headers.retry_after), time(NULL),
		                                &resp->retry_after))
			resp->retry_after = -1;
}

/* One attempt: the original URL, then each redirect hop. */
static void run_attempt(request_state *rs, CURL *e, wl__http_response *resp, attempt_result *ar)
{
	const wl__http_request *req = rs->req;
	wl__http *http = rs->http;
	bool follow = req->method == WL__HTTP_GET || req->method == WL__HTTP_HEAD;
	bool resumable = req->method == WL__HTTP_GET && req->on_data != NULL;
	ar->outcome = DONE;
	ar->rc = 0;
	ar->why[0] = '\0';
	ar->retry_after = -1;
	ar->connect_only = false;
	if (!resumable)
		rs->delivered = 0;
	char *url = strdup(req->url);
	if (url == NULL) {
		ar->rc = wl__nomem();
		return;
	}
	for (int hop = 0;; hop++) {
		transfer *t = calloc(1, sizeof *t);
		if (t == NULL) {
			ar->rc = wl__nomem();
			break;
		}
		t->rs = rs;
		t->follow = follow;
		t->resume_from = resumable ? rs->delivered : 0;
		t->last_move = monotonic_now();
		wl__http_headers_init(&t->headers);
		struct curl_slist *headers = build_headers(rs, url, t->resume_from);
		if (headers == NULL) {
			free(t);
			ar->rc = wl__nomem();
			break;
		}
		curl_easy_reset(e);
		set_options(e, http, url, headers, t);
		CURLcode cc = curl_easy_perform(e);
		curl_slist_free_all(headers);
		if (cc == CURLE_WRITE_ERROR && t->cut_short && t->fail_code == 0)
			cc = CURLE_OK;
		if (cc == CURLE_OK && t->sink == SINK_UNDECIDED && t->fail_code == 0)
			begin_body(t);
		long status = t->headers.status;
		wl__http_failure failure = WL__HTTP_FAILURE_NONE;
		bool hop_on = cc == CURLE_OK && t->fail_code == 0 && t->sink == SINK_DISCARD && follow &&
		              status_is_redirect(status) && t->headers.location != NULL;
		char *next = NULL;
		if (hop_on) {
			if (hop >= REDIRECTS_MAX) {
				char *last = wl__http_url_for_message(url);
				ar->rc = wl__fail(WL_EIO, "%s %s: more than %d redirects (the last to %s)", rs->method,
				                  rs->shown, REDIRECTS_MAX, last != NULL ? last : "<invalid URL>");
				free(last);
				hop_on = false;
			} else if ((ar->rc = wl__http_resolve(url, t->headers.location, &next)) != 0) {
				wl__error_prefix("%s %s: redirect Location", rs->method, rs->shown);
				hop_on = false;
			} else if (!scheme_is(next, "http") && !scheme_is(next, "https")) {
				ar->rc = wl__fail(WL_EIO, "%s %s: redirect to a scheme other than http or https",
				                  rs->method, rs->shown);
				hop_on = false;
			} else if ((scheme_is(url, "https") || scheme_is(rs->origin, "https")) && !scheme_is(next, "https")) {
				ar->rc = wl__fail(WL_EIO, "%s %s: redirect from https to plain http refused", rs->method,
				                  rs->shown);
				hop_on = false;
			}
			if (ar->rc != 0) {
				free(next);
				fill_response(resp, t, url);
				wl__http_headers_release(&t->headers);
				free(t->mem);
				free(t);
				break;
			}
		}
		if (hop_on) {
			wl__http_headers_release(&t->headers);
			free(t->mem);
			free(t);
			free(url);
			url = next;
			continue;
		}
		/* The final response of this attempt. */
		if (t->fail_code != 0) {
			ar->rc = wl__error_restore(&t->fail);
		} else if (t->was_canceled || canceled(http)) {
			ar->rc = wl__fail(WL_ECANCELED, "%s %s: canceled", rs->method, rs->shown);
		} else if (t->stalled) {
			failure = WL__HTTP_FAILURE_OTHER;
			ar->outcome = RETRY;
			snprintf(ar->why, sizeof ar->why, "stalled: no data for %g s", stall_limit(rs));
		} else if (cc != CURLE_OK) {
			bool retry;
			int code;
			long os_errno = 0;
			curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
			failure = failure_of(cc, os_errno);
			describe_curl_error(cc, t->errbuf, ar->why, sizeof ar->why, &retry, &ar->connect_only, &code);
			/* nothing listens on this machine's port: it will not start to
			 * within the backoff */
			if (failure == WL__HTTP_FAILURE_REFUSED && url_is_loopback(url))
				retry = false;
			if (retry)
				ar->outcome = RETRY;
			else
				ar->rc = wl__fail(code, "%s %s: %s", rs->method, rs->shown, ar->why);
		} else if (status_is_retried(status)) {
			ar->outcome = RETRY;
			snprintf(ar->why, sizeof ar->why, "status %ld", status);
		} else if (t->resume_from > 0 && (status < 200 || status > 299)) {
			ar->rc = wl__fail(WL_EIO, "%s %s: resumed at byte %" PRId64 ", got status %ld", rs->method,
			                  rs->shown, t->resume_from, status);
		} else if (status >= 200 && status <= 299 && req->method != WL__HTTP_HEAD && req->expect_size >= 0 &&
		           rs->delivered != req->expect_size) {
			ar->rc = wl__fail(WL_EMISMATCH, "%s %s: %" PRId64 " bytes, expected %" PRId64, rs->method,
			                  rs->shown, rs->delivered, req->expect_size);
		}
		fill_response(resp, t, url);
		resp->failure = failure;
		ar->retry_after = resp->retry_after;
		wl__http_headers_release(&t->headers);
		free(t->mem);
		free(t);
		break;
	}
	free(url);
}

/* Appends " (after N attempts)" to the current message. */
static void note_attempts(int attempts)
{
	const wl_error *last = wl_error_last();
	char *copy = strdup(last->message);
	if (copy != NULL)
		wl__fail(last->code, "%s (after %d attempts)", copy, attempts);
	free(copy);
}

/* Whether a failed attempt of this request may be made again. */
static bool may_retry(const request_state *rs, const attempt_result *ar, long status)
{
	const wl__http_request *req = rs->req;
	if (req->read_body != NULL && rs->body_consumed && req->rewind_body == NULL)
		return false;
	if (req->method == WL__HTTP_POST || req->method == WL__HTTP_PATCH)
		/* Not idempotent: only when the server cannot have acted on it. */
		return ar->connect_only || status == 429 || status == 503;
	return true;
}

/* The header's name, for a message that must not show its value. */
static int fail_header(const request_state *rs, const char *line)
{
	size_t n = strcspn(line, ":\r\n");
	char name[64];
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < sizeof name; i++)
		if ((unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f)
			name[k++] = line[i];
	name[k] = '\0';
	return wl__fail(WL_EINVALID, "%s %s: header \"%s\" holds a control character or is malformed", rs->method,
	                rs->shown, name);
}

/* What no request may carry, checked before a byte goes out: a header line
 * or the Authorization value with a control character (CR LF would smuggle
 * headers or a second request), a URL with a control character or a
 * space, credentials without the origin they belong to, a plain-http URL
 * for an https origin. */
static int check_request(const request_state *rs)
{
	const wl__http_request *req = rs->req;
	for (const unsigned char *c = (const unsigned char *)req->url; *c != '\0'; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return wl__fail(WL_EINVALID, "%s %s: the URL holds a control character or a space", rs->method,
			                rs->shown);
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
		if (!wl__header_line_valid(*h, strlen(*h)))
			return fail_header(rs, *h);
	if (req->authorization != NULL) {
		if (req->origin == NULL)
			return wl__fail(WL_EINVALID, "%s %s: Authorization without the origin it belongs to", rs->method,
			                rs->shown);
		if (!wl__header_value_valid(req->authorization, strlen(req->authorization)))
			return fail_header(rs, "Authorization");
	}
	if (scheme_is(rs->origin, "https") && !scheme_is(req->url, "https"))
		return wl__fail(WL_EIO, "%s %s: from https to plain http refused", rs->method, rs->shown);
	return 0;
}

int wl__http_perform(wl__http *http, const wl__http_request *req, wl__http_response *resp)
{
	wl__http_response_release(resp);
	if (req->url == NULL || (req->body != NULL && req->read_body != NULL) ||
	    (req->read_body != NULL && req->body_size < 0) || (int)req->method < 0 || req->method > WL__HTTP_DELETE ||
	    req->start_at < 0 || (req->start_at > 0 && (req->method != WL__HTTP_GET || req->on_data == NULL)) ||
	    (req->start_at > 0 && req->expect_size >= 0 && req->start_at >= req->expect_size))
		return wl__fail(WL_EINVALID, "HTTP request: invalid arguments");
	request_state rs = {http, req, wl__http_method_name(req->method), NULL, NULL, req->start_at, NULL, false};
	rs.shown = wl__http_url_for_message(req->url);
	if (rs.shown == NULL)
		return wl__nomem();
	if (!scheme_is(req->url, "http") && !scheme_is(req->url, "https")) {
		int rc = wl__fail(WL_EINVALID, "%s %s: only http:// and https:// URLs are supported", rs.method,
		                  rs.shown);
		free(rs.shown);
		return rc;
	}
	rs.origin = origin_of(req->origin != NULL ? req->origin : req->url);
	int checked = rs.origin == NULL ? wl__fail(WL_EINVALID, "%s %s: not a valid origin", rs.method, rs.shown)
	                                : check_request(&rs);
	if (checked != 0) {
		free(rs.origin);
		free(rs.shown);
		return checked;
	}
	CURL *e = take_handle(http);
	if (e == NULL) {
		free(rs.origin);
		free(rs.shown);
		return wl__nomem();
	}
	attempt_result *ar = malloc(sizeof *ar);
	if (ar == NULL) {
		give_handle(http, e);
		free(rs.origin);
		free(rs.shown);
		return wl__nomem();
	}
	int rc = 0;
	int attempts = 0;
	for (;;) {
		attempts++;
		run_attempt(&rs, e, resp, ar);
		if (ar->outcome == DONE) {
			rc = ar->rc;
			if (rc == WL_EIO && attempts > 1)
				note_attempts(attempts);
			break;
		}
		if (attempts > http->opts.max_retries || req->once || !may_retry(&rs, ar, resp->status)) {
			if (attempts > 1)
				rc = wl__fail(WL_EIO, "%s %s: %s (after %d attempts)", rs.method, rs.shown, ar->why,
				              attempts);
			else
				rc = wl__fail(WL_EIO, "%s %s: %s", rs.method, rs.shown, ar->why);
			break;
		}
		if (req->read_body != NULL && rs.body_consumed) {
			if ((rc = req->rewind_body(req->body_ctx)) != 0)
				break;
			rs.body_consumed = false;
		}
		double backoff = http->opts.retry_base;
		for (int i = 1; i < attempts && backoff < BACKOFF_MAX; i++)
			backoff *= 2;
		if (backoff > BACKOFF_MAX)
			backoff = BACKOFF_MAX;
		double delay = backoff * (0.5 + 0.5 * jitter_unit());
		if (ar->retry_after >= 0) {
			double ra = ar->retry_after < http->opts.retry_after_max ? ar->retry_after : http->opts.retry_after_max;
			if (ra > delay)
				delay = ra;
		}
		if (!wait_for(http, delay)) {
			rc = wl__fail(WL_ECANCELED, "%s %s: canceled", rs.method, rs.shown);
			break;
		}
	}
	resp->attempts = attempts;
	resp->delivered = rs.delivered;
	free(ar);
	give_handle(http, e);
	free(rs.shown);
	free(rs.origin);
	free(rs.strong_etag);
	return rc;
}
