/*
 * storage.c - the arena that owns the bytes of a wl_lock or wl_config.
 *
 * Strings are immutable once stored, so an arena of large chunks is enough:
 * no per-string free, one free for the whole object. Input buffers that the
 * parser decodes in place are adopted here too, so strings may point into
 * them without a copy.
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	_Alignas(16) unsigned char data[];
};

struct adopted {
	struct adopted *next;
	void *buffer;
};

struct wl_lock_storage {
	struct chunk *chunks;
	struct adopted *adopted;
};

wl_storage *wl_storage_new(void)
{
	return calloc(1, sizeof(wl_storage));
}

void wl_storage_free(wl_storage *s)
{
	if (s == NULL)
		return;
	for (struct chunk *c = s->chunks; c != NULL;) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	for (struct adopted *a = s->adopted; a != NULL;) {
		struct adopted *next = a->next;
		free(a->buffer);
		free(a);
		a = next;
	}
	free(s);
}

void *wl_storage_alloc(wl_storage *s, size_t n)
{
	size_t aligned = (n + 7) & ~(size_t)7;
	if (aligned < n)
		return NULL;
	struct chunk *c = s->chunks;
	if (c == NULL || c->size - c->used < aligned) {
		size_t size = aligned > CHUNK_SIZE / 4 ? aligned : CHUNK_SIZE;
		if (size > SIZE_MAX - sizeof(struct chunk))
			return NULL;
		struct chunk *fresh = malloc(sizeof(struct chunk) + size);
		if (fresh == NULL)
			return NULL;
		fresh->used = 0;
		fresh->size = size;
		if (c != NULL && size != CHUNK_SIZE) {
			/* A big one-off allocation: keep the current chunk in front. */
			fresh->next = c->next;
			c->next = fresh;
		} else {
			fresh->next = c;
			s->chunks = fresh;
		}
		c = fresh;
	}
	void *p = c->data + c->used;
	c->used += aligned;
	return p;
}

bool wl_storage_string(wl_storage *s, wl_string *out, const char *p, size_t n)
{
	if (n == 0) {
		*out = WL__EMPTY;
		return true;
	}
	if (n == SIZE_MAX)
		return false;
	char *dst = wl_storage_alloc(s, n + 1);
	if (dst == NULL)
		return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	out->ptr = dst;
	out->len = n;
	return true;
}

bool wl_storage_adopt(wl_storage *s, void *buffer)
{
	struct adopted *a = malloc(sizeof *a);
	if (a == NULL)
		return false;
	a->buffer = buffer;
	a->next = s->adopted;
	s->adopted = a;
	return true;
}

void wl_storage_absorb(wl_storage *dst, wl_storage *src)
{
	/* src's chunks go after dst's, so dst's current chunk stays in front. */
	struct chunk **tail = &dst->chunks;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = src->chunks;
	struct adopted **atail = &dst->adopted;
	while (*atail != NULL)
		atail = &(*atail)->next;
	*atail = src->adopted;
	src->chunks = NULL;
	src->adopted = NULL;
}
