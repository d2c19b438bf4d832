/*
 * remote.h - remote weight sources (SPEC.md §16): listing an hf:// model
 * repository or an https:// file into the same inventory a local walk
 * gives, and fetching listed files into the content store. Not installed.
 */
#ifndef WL_SOURCE_REMOTE_H
#define WL_SOURCE_REMOTE_H

#include "common/internal.h"
#include "net/http.h"

#include <stdatomic.h>

/** Longest fingerprint kept ("etag:" + a strong ETag); a longer ETag is
 *  treated as none (the content digest stands in). */
#define WL__FINGERPRINT_MAX 512

typedef struct wl__remote_file {
	wl_string path;                 /* valid (§5.1), unique */
	int64_t size;
	char digest[WL_DIGEST_LEN + 1]; /* known from the listing (LFS), else "" */
	char *url;                      /* where its bytes are fetched */
} wl__remote_file;

typedef struct wl__remote {
	wl_storage *storage;
	char fingerprint[WL__FINGERPRINT_MAX + 1]; /* "commit:<sha>", "etag:<ETag>"; "" until known */
	wl__remote_file *files; /* sorted by path */
	size_t count;
	char *authorization; /* "Bearer TOKEN" for the Hub's origin, or NULL */
	char *origin;        /* the Hub's endpoint (base URL), the only origin the token goes to; or NULL */
	bool has_query;      /* an https:// URI with a query string */
	bool unchanged;      /* stopped at options.stop_if_fingerprint */
} wl__remote;

typedef struct wl__remote_options {
	wl__http *http;
	const char *hf_endpoint; /* NULL: https://huggingface.co */
	const char *hf_token;    /* NULL: none */
	/* When the fingerprint turns out to be this one, listing stops there
	 * (`unchanged` set, no files): the fast path's one request. */
	const char *stop_if_fingerprint;
	/* Bytes downloaded so far, for progress (may be NULL). */
	_Atomic uint64_t *bytes_done;
} wl__remote_options;

/** True for the URI schemes this module lists (hf, http, https). */
bool wl__remote_uri(wl_string uri);

/**
 * Lists the normalized remote `uri`: for hf:// the commit its ref points
 * at and the repository's files at that commit (LFS digests from the
 * listing); for https:// the one file the URL names (its strong ETag as
 * fingerprint when it has one). Errors name the URI.
 */
int wl__remote_list(wl__remote **out, wl_string uri, const wl__remote_options *opts);
void wl__remote_free(wl__remote *remote);

/** A second consumer of a downloaded file's bytes (a layer digested as they
 *  come); `*fed` is set when the download went through it. */
typedef struct wl__remote_tee {
	wl_write_fn write;
	int (*restart)(void *ctx);
	void *ctx;
	bool *fed;
} wl__remote_tee;

/**
 * Makes sure file `i` is in the store, downloading it (verified against
 * its listed size and, when known, digest) unless it is there already;
 * fills in its digest. `*location` receives the store path (malloc'd).
 * `tee` (may be NULL) also gets the bytes of a download.
 */
int wl__remote_fetch(wl__remote *remote, size_t i, wl_store *store, const wl__remote_options *opts,
                     char **location, const struct wl__remote_tee *tee);

/* ---- the Hub's answers, parsed without a network (for the fuzz target) ---- */

/** The commit `sha` (40 lowercase hex, NUL-terminated) of a revision
 *  answer; `body` is modified (NUL at body[len] required). */
int wl__hub_parse_revision(char *body, size_t len, char sha[41]);
/** Adds the files of one tree page to `remote` (paths validated, LFS
 *  digests taken), as if listed from `endpoint` at commit `sha`. */
int wl__hub_parse_tree_page(wl__remote *remote, char *body, size_t len, const char *endpoint,
                            const char *org_repo, const char *sha);
/** Sorts the files and refuses what a local walk could not give (§16.2,
 *  §9.2): a duplicate path, a path that is both a file and a directory.
 *  (A path under a `.cog` directory is refused as each file is added.) */
int wl__remote_check(wl__remote *remote);
/** A new empty listing (for parsing pages). */
int wl__remote_new(wl__remote **out);

/** What a listing request to `url` may carry (§16.2): the token only when
 *  `url` is of the Hub endpoint's origin; a page that `from` links to over
 *  plain http is refused when the endpoint or `from` is https. */
typedef enum wl__hub_page_auth {
	WL__HUB_PAGE_TOKEN = 0, /* the endpoint's origin: with the token */
	WL__HUB_PAGE_BARE,      /* another origin: followed without the token */
	WL__HUB_PAGE_REFUSED,   /* a downgrade from https to http */
} wl__hub_page_auth;
wl__hub_page_auth wl__hub_page_policy(const char *endpoint, const char *from, const char *url);

/** The content digest of an https:// source without a strong ETag: the
 *  fingerprint, once its one file was fetched. */
int wl__remote_set_content_fingerprint(wl__remote *remote);

/** Downloads file `i` only to hash it (a dry run's content fingerprint):
 *  its digest is set; nothing is written anywhere. */
int wl__remote_hash(wl__remote *remote, size_t i, const wl__remote_options *opts);

#endif
