/*
 * auth.h - what registry authentication needs besides HTTP (SPEC.md §18.2):
 * the parser of WWW-Authenticate challenges (RFC 7235), the reader of a
 * token server's answer, and the lookup of a registry's credentials in
 * containers auth.json and docker config.json files (auths, credHelpers,
 * credsStore through docker-credential-NAME). Not installed.
 *
 * Every input here is untrusted (headers and bodies from the network,
 * files a user may have edited): parsing is linear and bounded. Secrets
 * never appear in an error message.
 */
#ifndef WL_NET_AUTH_H
#define WL_NET_AUTH_H

#include "common/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- challenges ---- */

#define WL__AUTH_CHALLENGES_MAX 8

typedef enum wl__auth_scheme {
	WL__AUTH_OTHER = 0,
	WL__AUTH_BASIC,
	WL__AUTH_BEARER,
} wl__auth_scheme;

typedef struct wl__auth_challenge {
	wl__auth_scheme scheme;
	char *realm;   /* malloc'd, unquoted; NULL when absent */
	char *service;
	char *scope;
} wl__auth_challenge;

/**
 * Parses a WWW-Authenticate value (several headers joined with ", " are
 * one value): challenges "scheme param=value, param="quoted, value"", a
 * new challenge where a token is not followed by "=". Keeps at most
 * WL__AUTH_CHALLENGES_MAX; unknown schemes are kept as WL__AUTH_OTHER.
 * Returns the number kept (0 when nothing parses), or WL_ENOMEM.
 */
int wl__auth_parse_challenges(const char *value, size_t len, wl__auth_challenge *out);
void wl__auth_challenges_release(wl__auth_challenge *c, int count);

/* ---- tokens ---- */

/**
 * Reads a token server's JSON answer: "token", else "access_token";
 * "expires_in" seconds (absent or below 60: 60, as the distribution spec
 * says). `*token` is malloc'd. WL_EPARSE when there is no token.
 */
int wl__auth_parse_token(const char *body, size_t len, char **token, int64_t *expires_in);

/* ---- credentials ---- */

typedef struct wl__credentials {
	char *username; /* malloc'd; NULL: anonymous */
	char *password;
	char *source;   /* where they came from, for messages: "FILE", or "docker-credential-NAME (the
	                 * credsStore of FILE)"; malloc'd, may be NULL */
} wl__credentials;

void wl__credentials_release(wl__credentials *c);

/**
 * The credentials for `host` (e.g. "ghcr.io", "127.0.0.1:5000"): the
 * first of `files` (paths; a missing file is skipped) that has them wins.
 * In a file: "credHelpers"[host] (run docker-credential-NAME get), then
 * "auths"[host] ("auth" = base64 user:password, or "username" and
 * "password"; keys may carry a scheme and a path, as docker writes
 * "https://index.docker.io/v1/"), then "credsStore". Nothing found:
 * anonymous (0 with NULL fields). A helper that answers "credentials not
 * found" is nothing found; a helper that fails, or a file that is not
 * valid JSON, is WL_EINVALID naming the file or the helper.
 */
int wl__auth_lookup(wl__credentials *out, const char *const *files, size_t file_count, const char *host);
/** wl__auth_lookup with a deadline for a credential helper (seconds; 0 or
 *  less: 30): a helper still running then is killed, and the lookup fails
 *  naming it. wl__auth_lookup uses 30 s. */
int wl__auth_lookup_timeout(wl__credentials *out, const char *const *files, size_t file_count, const char *host,
                            double timeout);
/** wl__auth_lookup_timeout where a configured helper that is not
 *  installed (docker-credential-NAME not on PATH) is nothing found in
 *  that file, with a WL_NOTICE_WARNING through `notice` (may be NULL)
 *  naming the helper and the file; the lookup goes on with the next file.
 *  Every error names the file (and the helper) it came from. */
int wl__auth_lookup_noting(wl__credentials *out, const char *const *files, size_t file_count, const char *host,
                           double timeout, wl_notice_fn notice, void *notice_ctx);

/** What a credentials file says for one host, before any helper runs:
 *  strings point into the parsed text or `st`. */
typedef struct wl__auth_config {
	wl_string auth, user, pass; /* from "auths" */
	bool in_auths;              /* "auths" has the host */
	wl_string helper;           /* "credHelpers"[host] */
	wl_string store;            /* "credsStore" */
} wl__auth_config;

/** Parses a credentials file's text (NUL at text[len]; decoded in place)
 *  for `host`. WL_EINVALID "NAME is not a valid credentials file: ... at
 *  byte N" (what is wrong, never the bytes there: they may be secret). */
int wl__auth_parse_config(wl__auth_config *out, char *text, size_t len, const char *name, const char *host,
                          wl_storage *st);

/** base64 of "user:password" for a Basic Authorization, malloc'd; NULL
 *  on out of memory. */
char *wl__auth_basic(const wl__credentials *c);

#endif
