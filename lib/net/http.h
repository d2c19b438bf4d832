/*
 * http.h - the HTTP client that the remote sources and the registry client
 * call; not installed.
 *
 * Owns: one client object (a small pool of reusable connections shared by
 * the threads that make requests, TLS with the system CAs plus an optional
 * extra CA file), requests with retries (429, 408, 5xx, dropped or stalled
 * connections; jittered exponential backoff, Retry-After honoured),
 * resumption of interrupted downloads with Range, redirects followed here
 * so that Authorization never leaves the origin it was meant for, bounds
 * on what a response may make us keep, and the parsers of the response
 * headers those rules read. It moves bytes and knows nothing of lockfiles.
 *
 * Built on libcurl (easy handles kept in a pool, one CURLSH sharing
 * connections, DNS answers and TLS sessions). Like the rest of the library
 * it never prints, never exits and reads no environment variable (a proxy
 * is an option, never taken from http_proxy).
 *
 * Errors: 0 or a negative wl_error_code with the thread's error record
 * set. Messages name the request as "METHOD scheme://host[:port]/path",
 * never with user information or a query string.
 */
#ifndef WL_NET_HTTP_H
#define WL_NET_HTTP_H

#include "common/internal.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- the client ---- */

typedef struct wl__http wl__http;

typedef struct wl__http_options {
	const char *cacert;      /* an extra CA file (PEM) trusted besides the system CAs, or NULL */
	const char *proxy;       /* a proxy URL, or NULL: none (never from the environment) */
	double stall_timeout;    /* seconds without a byte moving before a transfer fails */
	double connect_timeout;  /* seconds to connect (and finish the TLS handshake) */
	int max_retries;         /* attempts after the first; 0: none */
	double retry_base;       /* the first backoff in seconds; doubles, at most 30 s, jittered */
	double retry_after_max;  /* a longer Retry-After is cut to this many seconds */
	const volatile sig_atomic_t *cancel; /* non-zero ends requests with WL_ECANCELED; may be NULL */
} wl__http_options;

/** The defaults: system CAs, no proxy, stall 30 s, connect 30 s, 5 retries
 *  from 0.5 s, Retry-After at most 60 s, no cancel flag. */
void wl__http_options_init(wl__http_options *opts);

/** A new client (`opts` NULL: the defaults; copied). WL_EINVALID when the
 *  CA file is not readable or libcurl cannot be set up; WL_ENOMEM. Safe to
 *  use from several threads at once; each request takes a pooled handle. */
int wl__http_new(wl__http **out, const wl__http_options *opts);
/** Frees the client and closes its connections; NULL is a no-op. No
 *  request may be running. */
void wl__http_free(wl__http *http);

/* ---- one request ---- */

typedef enum wl__http_method {
	WL__HTTP_GET = 0,
	WL__HTTP_HEAD,
	WL__HTTP_PUT,
	WL__HTTP_POST,
	WL__HTTP_PATCH,
	WL__HTTP_DELETE,
} wl__http_method;

/** "GET", "HEAD", ... */
const char *wl__http_method_name(wl__http_method method);

/**
 * A body sink: gets the bytes of a 2xx response in order; returns 0, or a
 * wl_error_code (with the error record set) to abort the request with it.
 */
typedef int (*wl__http_data_fn)(void *ctx, const void *data, size_t len);
/** Called when a resumed download must start over from byte 0 (the server
 *  answered a ranged request with the whole body): forget what was
 *  delivered. Returns 0 or a wl_error_code. */
typedef int (*wl__http_restart_fn)(void *ctx);
/** An upload source: stores up to `cap` bytes at `buf` and their number in
 *  `*got` (0 only at the end); returns 0 or a wl_error_code. */
typedef int (*wl__http_read_fn)(void *ctx, void *buf, size_t cap, size_t *got);
/** Rewinds an upload source to its first byte for a retry; 0 or a code. */
typedef int (*wl__http_rewind_fn)(void *ctx);

typedef struct wl__http_request {
	wl__http_method method;
	const char *url;                 /* http:// or https:// */
	const char *const *headers;      /* NULL-terminated "Name: value" lines, or NULL */
	/* The origin ("scheme://host[:port]") the request belongs to: the
	 * registry as first contacted, the Hub's endpoint. `authorization` goes
	 * to URLs of this origin only (the request's own URL and each redirect
	 * hop are compared with it, never with each other), and when it is
	 * https no request or hop goes to plain http. Required with
	 * `authorization`; NULL otherwise means the URL's own origin. */
	const char *origin;
	const char *authorization;       /* the Authorization value, sent only to `origin` */

	/* The request body (PUT, POST, PATCH): `body` and `body_len`, or
	 * `read_body` producing exactly `body_size` bytes. Without
	 * `rewind_body` such a request is not retried once bytes were read. */
	const void *body;
	size_t body_len;
	wl__http_read_fn read_body;
	wl__http_rewind_fn rewind_body;
	void *body_ctx;
	int64_t body_size;

	/* The response body of a 2xx: to `on_data` (GET downloads resume after
	 * a drop; `on_restart` is needed for a server that ignores Range), or,
	 * when on_data is NULL, kept in memory up to `max_body` bytes (0: 16
	 * MiB; more is WL_EINVALID). The body of any other status is kept in
	 * memory, its first 64 KiB at most, for the caller's message. */
	wl__http_data_fn on_data;
	wl__http_restart_fn on_restart;
	void *ctx;
	size_t max_body;

	/* The exact length of a 2xx body, or -1: more bytes fail at once
	 * (nothing past it is delivered), fewer in a complete response fail at
	 * its end; both WL_EMISMATCH. */
	int64_t expect_size;

	/* A GET to on_data that starts at this byte ("Range: bytes=N-"): the
	 * caller holds the bytes before it. A 200 calls on_restart. */
	int64_t start_at;

	/* Seconds without a byte moving before this request fails; 0: the
	 * client's. A registry may think long before answering a final PUT. */
	double stall_timeout;

	/* One attempt only, whatever happens (a probe whose failure has a
	 * meaning of its own). */
	bool once;
} wl__http_request;

/** Initializes a request to the given method and URL, expect_size -1 and
 *  everything else zero. */
#define WL__HTTP_REQUEST_INIT(m, u) ((wl__http_request){.method = (m), .url = (u), .expect_size = -1})

/** Why a request got no HTTP answer: what the caller may decide on. */
typedef enum wl__http_failure {
	WL__HTTP_FAILURE_NONE = 0,   /* an answer came, or the request was not sent */
	WL__HTTP_FAILURE_TLS_HANDSHAKE, /* the TLS handshake failed (e.g. the peer speaks plain HTTP) */
	WL__HTTP_FAILURE_TLS_VERIFY, /* the server's certificate is not trusted */
	WL__HTTP_FAILURE_RESOLVE,    /* the name does not resolve */
	WL__HTTP_FAILURE_REFUSED,    /* the connection was refused */
	WL__HTTP_FAILURE_OTHER,      /* dropped, timed out, stalled, ... */
} wl__http_failure;

typedef struct wl__http_response {
	long status;                 /* the final status (after redirects), 0 when none came */
	char *body;                  /* memory mode, or a non-2xx body; NUL-terminated; may be NULL */
	size_t body_len;
	bool body_truncated;         /* a non-2xx body longer than was kept */
	int64_t delivered;           /* 2xx body bytes given to on_data (or kept) */
	char *url;                   /* the effective URL (after redirects) */
	char *etag;                  /* verbatim, with its quotes and any W/ */
	int64_t content_length;      /* -1 when absent */
	char *content_type;
	char *location;              /* of the final response, verbatim */
	char *link_next;             /* the rel="next" target, resolved against `url` */
	char *docker_content_digest;
	char *www_authenticate;      /* every challenge header, joined with ", " */
	char *range;                 /* the Range header of a response (a registry upload's progress) */
	double retry_after;          /* seconds, or -1 */
	int attempts;                /* requests made, redirects not counted */
	wl__http_failure failure;    /* of the last attempt, when it got no answer */
} wl__http_response;

/** Frees what a response holds and zeroes it; safe on a zeroed response. */
void wl__http_response_release(wl__http_response *resp);

/**
 * Performs the request, following up to 10 redirects (GET and HEAD only;
 * other methods get the 3xx; https to plain http is refused). Fills `resp`
 * (released first; release it after, also on failure).
 *
 * Retries: 408, 429 and 5xx, and connections refused, dropped, timed out
 * or stalled, at most max_retries times (none with `once`), after a
 * jittered backoff or the Retry-After asked for. What retrying cannot
 * change is not retried: a TLS handshake or certificate failure, a name
 * that does not resolve, a connection refused by a loopback host
 * (wl__http_host_is_loopback). POST and PATCH are retried only when the server
 * cannot have acted (a refused connection, 429, 503). A GET to on_data cut
 * off after N bytes asks for "Range: bytes=N-" (with If-Range for a strong
 * ETag): a 206 from N continues, a 200 calls on_restart, anything else
 * fails.
 *
 * Bounds: a non-2xx body is kept up to 64 KiB and the transfer is then
 * ended (its status stands); a redirect's body is not read. Every transfer
 * has an overall deadline of four stall periods plus its bytes at 64 KiB/s
 * (the rest of an expected download, an upload's body, a kept body's
 * bound; a streamed download of unknown size has none), and is ended, like
 * a stall, when it averages under 1 KiB/s for a stall period. No request
 * goes out with a control character in a header line, the Authorization
 * value or the URL (WL_EINVALID), nor to plain http when `origin` is https
 * (WL_EIO).
 *
 * Returns 0 for any final status that is not retried (2xx, 3xx, 4xx other
 * than 408 and 429): the caller words the message for a 404. WL_EIO when
 * the last attempt failed ("GET URL: status 503 (after 6 attempts)", "GET
 * URL: cannot connect: ... (after 6 attempts)", "GET URL: stalled: no data
 * for 30 s (after 6 attempts)"), when one of the failures above that are
 * not retried happened (resp->failure says which), or when redirects loop.
 * WL_ECANCELED, WL_EMISMATCH (expect_size), WL_EINVALID (max_body, a bad
 * URL), WL_ENOMEM, or what a callback returned.
 */
int wl__http_perform(wl__http *http, const wl__http_request *req, wl__http_response *resp);

/* ---- URLs ---- */

/** `ref` (absolute, or relative like a Location) resolved against `base`,
 *  malloc'd. WL_EINVALID when either is not a valid URL; WL_ENOMEM. */
int wl__http_resolve(const char *base, const char *ref, char **out);
/** `url` as messages show it: scheme://host[:port]/path, without user
 *  information, query or fragment; malloc'd ("<invalid URL>" when it does
 *  not parse); NULL only on out of memory. */
char *wl__http_url_for_message(const char *url);
/** True when both URLs have the same scheme, host and port (the default
 *  port of the scheme when none is written). */
bool wl__http_same_origin(const char *a, const char *b);
/** True when `host` (`len` bytes, no port; an IPv6 address with or
 *  without its brackets) names this machine's loopback: "localhost" (any
 *  case, with or without a final dot), an IPv4 address in 127.0.0.0/8, or ::1. */
bool wl__http_host_is_loopback(const char *host, size_t len);

/* ---- header parsers (untrusted bytes: linear time, bounded memory) ---- */

/** An ETag that is an opaque quoted string without the weak prefix W/. */
bool wl__http_etag_is_strong(const char *etag, size_t len);

/** Retry-After: delta-seconds, or an IMF-fixdate ("Sun, 06 Nov 1994
 *  08:49:37 GMT") taken relative to `now`; a date in the past is 0 s.
 *  Huge values saturate. False when the value is neither. */
bool wl__http_parse_retry_after(const char *value, size_t len, time_t now, double *seconds);

/** Content-Range of a 206: "bytes FIRST-LAST/TOTAL" (TOTAL may be "*",
 *  stored as -1). False unless FIRST <= LAST < TOTAL. */
bool wl__http_parse_content_range(const char *value, size_t len, int64_t *first, int64_t *last,
                                  int64_t *total);

/** The target of the first link of a Link header value whose rel list
 *  holds "next" (case-insensitive), between its < >; stores its start and
 *  length and returns true, or returns false. */
bool wl__http_link_next(const char *value, size_t len, const char **target, size_t *target_len);

/** The headers of one response as the header lines arrive. */
typedef struct wl__http_headers {
	long status;      /* of the status line; a new status line starts over */
	char *etag;
	char *content_type;
	char *location;
	char *link_next;  /* unresolved */
	char *docker_content_digest;
	char *www_authenticate;
	char *content_range;
	char *retry_after;
	char *range;      /* a registry's upload progress, "0-N" */
	int64_t content_length; /* -1: absent or not a number */
	size_t bytes;     /* the size of the lines seen, bounded */
	size_t www_authenticate_len, www_authenticate_cap; /* (the joined list) */
} wl__http_headers;

/** The most header bytes one response may carry (all lines). */
#define WL__HTTP_HEADERS_MAX ((size_t)256 << 10)

void wl__http_headers_init(wl__http_headers *h);
void wl__http_headers_release(wl__http_headers *h);
/**
 * Takes one raw header line as libcurl hands it (status line, "Name:
 * value", or the empty line; with or without CR LF). A repeated header
 * keeps its first value, except WWW-Authenticate (joined) and Link (the
 * first rel="next" of any). WL_EPARSE when the response's lines exceed
 * WL__HTTP_HEADERS_MAX; WL_ENOMEM. Sets no message for WL_EPARSE.
 */
int wl__http_headers_line(wl__http_headers *h, const char *line, size_t len);

#endif
