/*
 * gzip.c - the gzip member of a `tar+gzip` layer (SPEC.md §11.4): Go's
 * framing around a raw deflate stream, compressed in independent blocks on
 * a fixed set of threads.
 *
 * libdeflate does the deflating of each block (at its levels 6 and 9, about
 * five times zlib's speed at the same size); zlib's inflate is used only to
 * find where a block's final deflate block starts. What is hand-written is
 * the framing (zlib's gzip wrapper writes OS byte 03, Go's writes ff), the
 * joining of blocks into one stream and the parallel scheme. pigz does a
 * similar scheme as a program, not a library, and its block boundaries,
 * dictionaries and flushes are not the ones the envelope records.
 *
 * Blocks: block k holds input bytes [kB, (k+1)B) and is deflated alone,
 * without a preset dictionary (libdeflate has none), as a complete deflate
 * stream. For every block but the last, the BFINAL bit of its final deflate
 * block is cleared and an empty stored block (what zlib's sync flush
 * writes: three zero bits, alignment, 00 00 ff ff) appended, so the
 * concatenated outputs form one deflate stream whose bytes depend only on
 * the input, the level, B and the libdeflate version. A full block is
 * submitted only once more input arrives, so the last block is never empty
 * (except for empty input).
 *
 * With block size 0 the member is one zlib deflate stream instead: the bytes
 * of SPEC.md Appendix A, which the tests reproduce. The packer always uses
 * blocks.
 *
 * Pipeline: the caller fills blocks into a ring of 2T+2 slots; T workers
 * take submitted blocks in order and compress them; the caller writes
 * finished blocks to the sink in order and reuses their slots. Memory is
 * the ring, about 2T+2 times (B plus its compressed size), whatever the
 * layer size. Workers start only when a second block exists.
 */
#include "pack/pack_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#define SCAN_OUT 262144
#define PLAIN_OUT 262144
#define MAX_WORKERS 64

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_BUSY, SLOT_DONE };

typedef struct gz_slot {
	unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len, out_cap;
	uint32_t crc;
	bool last;
	int state;
	int rc; /* a worker's failure, raised on the caller's thread */
} gz_slot;

struct wl_gzip {
	int level;
	size_t block;
	int threads;
	wl_write_fn sink;
	void *sink_ctx;
	int rc; /* sticky failure */
	bool header_done;
	uint32_t crc;
	uint64_t total;

	/* block == 0: one plain deflate stream */
	z_stream plain;
	bool plain_init;
	unsigned char *plain_out;

	/* blocked */
	gz_slot *slots;
	size_t slot_count;
	gz_slot *cur;       /* being filled, or NULL */
	uint64_t submitted; /* blocks handed to compression */
	uint64_t taken;     /* blocks a worker has started */
	uint64_t emitted;   /* blocks written to the sink */
	struct block_coder *inline_coder;

	pthread_t *tids;
	int workers;
	bool workers_tried;
	bool sync_init;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
};

static int call_sink(wl_gzip *gz, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	wl_error_clear();
	int r = gz->sink(gz->sink_ctx, data, len);
	if (r == 0)
		return 0;
	if (r < 0 && wl_error_last()->code == r)
		return r;
	return wl__fail(WL_EIO, "gzip output: write failed");
}

static int put_header(wl_gzip *gz)
{
	if (gz->header_done)
		return 0;
	unsigned char h[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff};
	h[8] = gz->level == 9 ? 0x02 : gz->level == 1 ? 0x04 : 0x00;
	gz->header_done = true;
	return call_sink(gz, h, sizeof h);
}

static int init_deflate(z_stream *zs, int level)
{
	memset(zs, 0, sizeof *zs);
	int zr = deflateInit2(zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	return zr == Z_OK ? 0 : zr == Z_MEM_ERROR ? WL_ENOMEM : WL_EINVALID;
}

/* What one thread needs to compress blocks: a libdeflate compressor, and
 * zlib's inflate to walk the output. */
typedef struct block_coder {
	struct libdeflate_compressor *c;
	z_stream zs;
	bool zs_init;
	unsigned char *scratch;
} block_coder;

static void coder_free(block_coder *bc)
{
	if (bc == NULL)
		return;
	if (bc->c != NULL)
		libdeflate_free_compressor(bc->c);
	if (bc->zs_init)
		inflateEnd(&bc->zs);
	free(bc->scratch);
	free(bc);
}

static int coder_new(block_coder **out, int level)
{
	block_coder *bc = calloc(1, sizeof *bc);
	if (bc == NULL)
		return WL_ENOMEM;
	bc->c = libdeflate_alloc_compressor(level);
	bc->scratch = malloc(SCAN_OUT);
	if (bc->c == NULL || bc->scratch == NULL) {
		coder_free(bc);
		return WL_ENOMEM;
	}
	if (inflateInit2(&bc->zs, -15) != Z_OK) {
		coder_free(bc);
		return WL_ENOMEM;
	}
	bc->zs_init = true;
	*out = bc;
	return 0;
}

/* Walks the complete deflate stream out[0, len) block by block: sets
 * *final_at to the bit offset of its final block's header and *end_at to
 * the bit offset just past its end-of-block code. The walk also checks the
 * stream inflates to exactly `want` bytes, so a compressor fault never
 * reaches a layer. */
static int walk_stream(block_coder *bc, const unsigned char *out, size_t len, size_t want, uint64_t *final_at,
                       uint64_t *end_at)
{
	z_stream *zs = &bc->zs;
	if (inflateReset(zs) != Z_OK)
		return WL_EINVALID;
	zs->next_in = (unsigned char *)(uintptr_t)out;
	zs->avail_in = (uInt)len;
	uint64_t block_at = 0, produced = 0;
	bool ended = false;
	for (;;) {
		zs->next_out = bc->scratch;
		zs->avail_out = SCAN_OUT;
		int zr = inflate(zs, Z_BLOCK);
		produced += SCAN_OUT - zs->avail_out;
		if (zr == Z_STREAM_END) {
			if (!ended || produced != want || zs->avail_in != 0)
				return WL_EINVALID;
			*final_at = block_at;
			return 0;
		}
		if (zr != Z_OK)
			return WL_EINVALID;
		/* data_type: bits left unread in the last byte taken, +128 at the
		 * end of a deflate block, +64 if that block was the final one */
		if (zs->data_type & 128) {
			uint64_t at = (uint64_t)(len - zs->avail_in) * 8 - (uint64_t)(zs->data_type & 63);
			if (zs->data_type & 64) {
				*end_at = at;
				ended = true;
			} else {
				block_at = at; /* the next deflate block starts here */
			}
		}
	}
}

/* Deflates one block into its slot. Runs on a worker (no error record:
 * returns the code, the caller raises it). */
static int compress_block(block_coder **bcp, int level, gz_slot *s)
{
	if (*bcp == NULL) {
		int rc = coder_new(bcp, level);
		if (rc != 0)
			return rc;
	}
	block_coder *bc = *bcp;
	/* 5 bytes past the bound: the empty stored block that joins blocks */
	size_t need = libdeflate_deflate_compress_bound(bc->c, s->in_len) + 5;
	if (s->out_cap < need) {
		unsigned char *p = realloc(s->out, need);
		if (p == NULL)
			return WL_ENOMEM;
		s->out = p;
		s->out_cap = need;
	}
	size_t n = libdeflate_deflate_compress(bc->c, s->in, s->in_len, s->out, s->out_cap - 5);
	if (n == 0 || n > UINT_MAX)
		return WL_EINVALID;
	s->out_len = n;
	if (!s->last) {
		uint64_t final_at = 0, end_at = 0;
		int rc = walk_stream(bc, s->out, n, s->in_len, &final_at, &end_at);
		if (rc != 0)
			return rc;
		s->out[final_at / 8] &= (unsigned char)~(1u << (final_at % 8)); /* BFINAL = 0 */
		/* an empty stored block at end_at: BFINAL 0, BTYPE 00, align, LEN 0, NLEN ffff */
		uint64_t aligned = (end_at + 3 + 7) / 8;
		if (end_at % 8 != 0)
			s->out[end_at / 8] &= (unsigned char)((1u << (end_at % 8)) - 1);
		for (uint64_t i = (end_at + 7) / 8; i < aligned; i++)
			s->out[i] = 0;
		static const unsigned char stored[4] = {0x00, 0x00, 0xff, 0xff};
		memcpy(s->out + aligned, stored, sizeof stored);
		s->out_len = (size_t)aligned + sizeof stored;
	}
	s->crc = (uint32_t)libdeflate_crc32(0, s->in, s->in_len);
	return 0;
}

static void *worker(void *arg)
{
	wl_gzip *gz = arg;
	block_coder *bc = NULL;
	pthread_mutex_lock(&gz->mu);
	for (;;) {
		while (!gz->stop && gz->taken == gz->submitted)
			pthread_cond_wait(&gz->work_cv, &gz->mu);
		if (gz->stop)
			break;
		gz_slot *s = &gz->slots[gz->taken++ % gz->slot_count];
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&gz->mu);
		int rc = compress_block(&bc, gz->level, s);
		pthread_mutex_lock(&gz->mu);
		s->rc = rc;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&gz->done_cv);
	}
	pthread_mutex_unlock(&gz->mu);
	coder_free(bc);
	return NULL;
}

static void start_workers(wl_gzip *gz)
{
	gz->workers_tried = true;
	gz->tids = calloc((size_t)gz->threads, sizeof *gz->tids);
	if (gz->tids == NULL)
		return; /* compress on the calling thread instead */
	pthread_mutex_lock(&gz->mu);
	for (int i = 0; i < gz->threads; i++) {
		if (pthread_create(&gz->tids[i], NULL, worker, gz) != 0)
			break;
		gz->workers++;
	}
	pthread_mutex_unlock(&gz->mu);
}

static int raise_slot_error(int rc)
{
	if (rc == WL_ENOMEM)
		return wl__nomem();
	return wl__fail(rc, "gzip: deflate failed");
}

/* Writes finished blocks to the sink in order, up to block `until`;
 * waits for unfinished ones only when `wait`. */
static int drain(wl_gzip *gz, uint64_t until, bool wait)
{
	while (gz->emitted < until) {
		gz_slot *s = &gz->slots[gz->emitted % gz->slot_count];
		if (gz->workers > 0) {
			pthread_mutex_lock(&gz->mu);
			while (wait && s->state != SLOT_DONE)
				pthread_cond_wait(&gz->done_cv, &gz->mu);
			bool done = s->state == SLOT_DONE;
			pthread_mutex_unlock(&gz->mu);
			if (!done)
				return 0;
		}
		if (s->rc != 0)
			return raise_slot_error(s->rc);
		int rc = put_header(gz);
		if (rc == 0)
			rc = call_sink(gz, s->out, s->out_len);
		if (rc != 0)
			return rc;
		gz->crc = (uint32_t)crc32_combine(gz->crc, s->crc, (z_off_t)s->in_len);
		gz->total += s->in_len;
		s->state = SLOT_FREE;
		gz->emitted++;
	}
	return 0;
}

static int begin_block(wl_gzip *gz)
{
	uint64_t seq = gz->submitted;
	if (seq >= gz->emitted + gz->slot_count) {
		int rc = drain(gz, seq - gz->slot_count + 1, true);
		if (rc != 0)
			return rc;
	}
	gz_slot *s = &gz->slots[seq % gz->slot_count];
	if (s->in == NULL) {
		s->in = malloc(gz->block);
		if (s->in == NULL)
			return wl__nomem();
	}
	s->in_len = 0;
	s->state = SLOT_FILLING;
	s->rc = 0;
	gz->cur = s;
	return 0;
}

static int submit(wl_gzip *gz, bool last)
{
	gz_slot *s = gz->cur;
	s->last = last;
	if (!last && !gz->workers_tried && gz->threads > 1)
		start_workers(gz);
	gz->cur = NULL;
	if (gz->workers == 0) {
		s->rc = compress_block(&gz->inline_coder, gz->level, s);
		s->state = SLOT_DONE;
		gz->submitted++;
		gz->taken++;
	} else {
		pthread_mutex_lock(&gz->mu);
		s->state = SLOT_READY;
		gz->submitted++;
		pthread_cond_signal(&gz->work_cv);
		pthread_mutex_unlock(&gz->mu);
	}
	return drain(gz, gz->submitted, false);
}

int wl__gzip_new(wl_gzip **out, int level, size_t block_size, int threads, wl_write_fn sink, void *sink_ctx)
{
	*out = NULL;
	if (level < 0 || level > 9 || block_size > UINT_MAX)
		return wl__fail(WL_EINVALID, "gzip: level %d or block size %zu out of range", level,
		                block_size);
	wl_gzip *gz = calloc(1, sizeof *gz);
	if (gz == NULL)
		return wl__nomem();
	gz->level = level;
	gz->block = block_size;
	gz->sink = sink;
	gz->sink_ctx = sink_ctx;
	if (threads <= 0)
		threads = wl__cpu_count();
	gz->threads = threads > MAX_WORKERS ? MAX_WORKERS : threads;
	if (block_size == 0) {
		int rc = init_deflate(&gz->plain, level);
		if (rc == 0) {
			gz->plain_init = true;
			gz->plain_out = malloc(PLAIN_OUT);
			if (gz->plain_out == NULL)
				rc = WL_ENOMEM;
		}
		if (rc != 0) {
			wl__gzip_free(gz);
			return rc == WL_ENOMEM ? wl__nomem() : wl__fail(rc, "gzip: deflateInit2 failed");
		}
		*out = gz;
		return 0;
	}
	gz->slot_count = gz->threads > 1 ? 2 * (size_t)gz->threads + 2 : 1;
	gz->slots = calloc(gz->slot_count, sizeof *gz->slots);
	if (gz->slots == NULL) {
		wl__gzip_free(gz);
		return wl__nomem();
	}
	if (gz->threads > 1) {
		pthread_mutex_init(&gz->mu, NULL);
		pthread_cond_init(&gz->work_cv, NULL);
		pthread_cond_init(&gz->done_cv, NULL);
		gz->sync_init = true;
	}
	*out = gz;
	return 0;
}

/* One plain deflate call over the pending input, writing full output. */
static int plain_deflate(wl_gzip *gz, int flush)
{
	for (;;) {
		gz->plain.next_out = gz->plain_out;
		gz->plain.avail_out = PLAIN_OUT;
		int zr = deflate(&gz->plain, flush);
		if (zr == Z_STREAM_ERROR)
			return wl__fail(WL_EINVALID, "gzip: deflate failed");
		size_t have = PLAIN_OUT - gz->plain.avail_out;
		int rc = put_header(gz);
		if (rc == 0)
			rc = call_sink(gz, gz->plain_out, have);
		if (rc != 0)
			return rc;
		if (flush == Z_FINISH ? zr == Z_STREAM_END : gz->plain.avail_out != 0)
			return 0;
	}
}

int wl__gzip_write(wl_gzip *gz, const void *data, size_t len)
{
	if (gz->rc != 0)
		return gz->rc;
	const unsigned char *p = data;
	if (gz->block == 0) {
		gz->crc = (uint32_t)crc32_z(gz->crc, p, len);
		gz->total += len;
		while (len > 0) {
			size_t n = len > UINT_MAX ? UINT_MAX : len;
			gz->plain.next_in = (unsigned char *)(uintptr_t)p;
			gz->plain.avail_in = (uInt)n;
			int rc = plain_deflate(gz, Z_NO_FLUSH);
			if (rc != 0)
				return gz->rc = rc;
			p += n;
			len -= n;
		}
		return 0;
	}
	while (len > 0) {
		if (gz->cur != NULL && gz->cur->in_len == gz->block) {
			int rc = submit(gz, false);
			if (rc != 0)
				return gz->rc = rc;
		}
		if (gz->cur == NULL) {
			int rc = begin_block(gz);
			if (rc != 0)
				return gz->rc = rc;
		}
		size_t room = gz->block - gz->cur->in_len;
		size_t n = len < room ? len : room;
		memcpy(gz->cur->in + gz->cur->in_len, p, n);
		gz->cur->in_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void stop_workers(wl_gzip *gz)
{
	if (gz->workers == 0)
		return;
	pthread_mutex_lock(&gz->mu);
	gz->stop = true;
	pthread_cond_broadcast(&gz->work_cv);
	pthread_mutex_unlock(&gz->mu);
	for (int i = 0; i < gz->workers; i++)
		pthread_join(gz->tids[i], NULL);
	gz->workers = 0;
}

int wl__gzip_finish(wl_gzip *gz)
{
	if (gz->rc != 0)
		return gz->rc;
	int rc;
	if (gz->block == 0) {
		gz->plain.next_in = NULL;
		gz->plain.avail_in = 0;
		rc = plain_deflate(gz, Z_FINISH);
	} else {
		rc = gz->cur == NULL ? begin_block(gz) : 0;
		if (rc == 0)
			rc = submit(gz, true);
		if (rc == 0)
			rc = drain(gz, gz->submitted, true);
		stop_workers(gz);
	}
	if (rc == 0) {
		unsigned char t[8];
		uint32_t crc = gz->crc, n = (uint32_t)gz->total;
		for (int i = 0; i < 4; i++) {
			t[i] = (unsigned char)(crc >> (8 * i));
			t[4 + i] = (unsigned char)(n >> (8 * i));
		}
		rc = put_header(gz);
		if (rc == 0)
			rc = call_sink(gz, t, sizeof t);
	}
	return gz->rc = rc;
}

void wl__gzip_free(wl_gzip *gz)
{
	if (gz == NULL)
		return;
	stop_workers(gz);
	free(gz->tids);
	if (gz->sync_init) {
		pthread_mutex_destroy(&gz->mu);
		pthread_cond_destroy(&gz->work_cv);
		pthread_cond_destroy(&gz->done_cv);
	}
	for (size_t i = 0; i < gz->slot_count; i++) {
		free(gz->slots[i].in);
		free(gz->slots[i].out);
	}
	free(gz->slots);
	coder_free(gz->inline_coder);
	if (gz->plain_init)
		deflateEnd(&gz->plain);
	free(gz->plain_out);
	free(gz);
}
