/*
 * registry.h - the OCI distribution API client (SPEC.md §18.2): blobs,
 * uploads, manifests, and the authentication around them. Not installed.
 *
 * Owns: one registry host's URLs, its authentication state (Basic
 * credentials, Bearer tokens cached per scope and renewed on a 401, also in
 * the middle of a chunked upload), the upload protocol (HEAD first, a
 * monolithic POST + PUT below a threshold, chunked PATCHes above it or
 * after a 413, resumed from the registry's reported Range after a failed
 * PATCH, always at the newest Location, a DELETE of a session given up)
 * and the reading of the registry's JSON errors, and the scheme: https,
 * or plain http when asked, or for the rest of the run once a loopback
 * registry turned out not to speak TLS. It moves bytes and checks
 * digests; it knows nothing of lockfiles.
 *
 * Thread-safe: several transfers may run at once on one registry object.
 */
#ifndef WL_NET_REGISTRY_H
#define WL_NET_REGISTRY_H

#include "net/auth.h"
#include "net/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wl__registry wl__registry;

typedef struct wl__registry_options {
	const char *host;                   /* "host[:port]" */
	bool plain_http;                    /* http:// instead of https:// */
	const wl__credentials *credentials; /* copied; NULL or empty: anonymous */
	int64_t monolithic_max;             /* 0: 128 MiB */
	int64_t chunk_size;                 /* 0: 64 MiB */
	bool pushing;                       /* ask for push access from the start */
	const char *mount_from;             /* mount blobs from this repository first, or NULL */
	wl_notice_fn notice;                /* told when a loopback registry is used over plain http; may be NULL */
	void *notice_ctx;
} wl__registry_options;

int wl__registry_new(wl__registry **out, wl__http *http, const wl__registry_options *opts);
void wl__registry_free(wl__registry *r);

/** Whether a registry at `host` ("host[:port]") that does not speak TLS
 *  is asked over plain http instead (docker's rule): only a loopback host
 *  (wl__http_host_is_loopback), and never when plain http was chosen. */
bool wl__registry_may_fall_back(const char *host, bool plain_http);

/** True when `repo` is a valid repository name (lower-case path
 *  components of [a-z0-9] separated by ., _, __ or -). */
bool wl__registry_repo_valid(const char *repo);

/** The offset an interrupted chunked upload resumes at, from the Range
 *  header of its status ("0-LAST" or "bytes=0-LAST", unsigned decimal):
 *  LAST + 1 when 0 < LAST < `sent` (the bytes sent so far), else 0 (start
 *  over): never beyond what was sent, whatever the registry claims. */
int64_t wl__registry_upload_next(const char *range, int64_t sent);

/** Whether the blob is in `repo` (HEAD). */
int wl__registry_blob_exists(wl__registry *r, const char *repo, const char *digest, bool *exists);

/** Reads up to `cap` bytes of an upload's content from offset `off`. */
typedef int (*wl__registry_read_fn)(void *ctx, int64_t off, void *buf, size_t cap, size_t *got);

typedef struct wl__registry_upload {
	const char *digest;
	int64_t size;
	const char *media_type;        /* sent as OCI-Layer-Media-Type, or NULL */
	wl__registry_read_fn read_at;  /* the bytes, repeatable from any offset */
	void *ctx;
	/* out: what was sent, counting resends */
	int64_t bytes_sent;
	bool chunked;
	bool mounted; /* linked from mount_from: nothing sent */
} wl__registry_upload;

/** Uploads one blob (no HEAD: the caller asks first). */
int wl__registry_blob_put(wl__registry *r, const char *repo, wl__registry_upload *up);

/** Streams a blob of known size to on_data from byte `start_at` (0: all
 *  of it; Range-resumed; on_restart when the registry answers a ranged
 *  request with the whole blob, which then comes from byte 0). */
int wl__registry_blob_get(wl__registry *r, const char *repo, const char *digest, int64_t size, int64_t start_at,
                          wl__http_data_fn on_data, wl__http_restart_fn on_restart, void *ctx);

/** PUTs a manifest by tag or digest; its digest as the registry reports
 *  it must equal `digest` (when reported). */
int wl__registry_manifest_put(wl__registry *r, const char *repo, const char *ref, const char *media_type,
                              const void *body, size_t len, const char *digest);

/** GETs a manifest (OCI and Docker types accepted); WL_ENOTFOUND for a
 *  404. `*body` is malloc'd. */
int wl__registry_manifest_get(wl__registry *r, const char *repo, const char *ref, char **body, size_t *len);

/** A client, a registry and the repository name from the public options
 *  (credentials looked up in their auth files). Free the registry, then
 *  the client, then the name. */
int wl__registry_open(wl__registry **reg, wl__http **http, char **repo, const wl_registry_options *opts,
                      bool pushing);

const char *wl__registry_host(const wl__registry *r);

/** Fails with `code` and a message for a registry's unexpected answer:
 *  "WHAT: status N: CODE: message" from its JSON errors, a note for an
 *  HTML page, else "WHAT: status N". Returns `code`. */
int wl__registry_fail_status(int code, const wl__http_response *resp, const char *what);

/** Whether a manifest is there (HEAD, OCI and Docker types accepted). */
int wl__registry_manifest_exists(wl__registry *r, const char *repo, const char *ref, bool *exists);

#endif
