/*
 * store.h - the content store's internal entry points (SPEC.md §17).
 */
#ifndef WL_SOURCE_STORE_H
#define WL_SOURCE_STORE_H

#include "weightslock.h"

#include <stdbool.h>

/* wl_store_put_begin for a caller that hashes the bytes itself and checks
 * them against `digest` before it commits (the tar reader of a pull): the
 * put then hashes nothing and takes the digest on trust at the commit.
 * `digest` is required. `temp` (may be NULL): the temporary file's name
 * below files/sha256, one the caller owns (wl__store_layer_temp), reused
 * when a killed pull left it. */
int wl__store_put_begin_hashed(wl_store_put **out, wl_store *store, const char *digest, int64_t size,
                               const char *temp);

/* Small files made durable together: each added put is checked as by
 * wl_store_put_commit and closed; at a flush (every 256 files or 32 MiB,
 * or when asked) the filesystem is synced once, the files are renamed
 * into place and it is synced again. A put of 8 MiB or more is committed
 * at once. The batch takes the put whatever the result; a failed flush
 * removes the temporary files it did not place. */
typedef struct wl__store_batch wl__store_batch;

int wl__store_batch_new(wl__store_batch **out, wl_store *store);
int wl__store_batch_add(wl__store_batch *b, wl_store_put *put);
int wl__store_batch_flush(wl__store_batch *b);
/** Drops the puts not yet flushed (their temporary files removed). */
void wl__store_batch_free(wl__store_batch *b);

/* The bytes of a multi-file layer as a pull receives them, kept under
 * `put-layer-<64 hex>` in the layer digest's prefix directory so that a
 * pull killed in the middle replays them instead of fetching them again.
 * Opens (creating) and locks it: 0 with the descriptor and the path, 1
 * when another pull holds it (nothing opened), or an error. The caller
 * removes it once the layer is done, and whenever its bytes fail. */
int wl__store_partial_open(wl_store *store, const char *layer_digest, int *fd_out, char **path_out);
/** Removes a layer's partial (by the store's walk, never through a link). */
void wl__store_partial_remove(wl_store *store, const char *layer_digest);

/* While it holds a layer's partial: the temporary name of the layer's k-th
 * file, `<2 hex>/put-layer-<64 hex>-<k>`, and its removal (a file that a
 * killed pull wrote and the next one does not need). */
#define WL__STORE_TEMP_MAX 96
void wl__store_layer_temp(char out[WL__STORE_TEMP_MAX], const char *layer_digest, size_t k);
void wl__store_remove_temp(wl_store *store, const char *temp);

#endif
