/*
 * runtime.c - the runtime manifest `/.cog/weights.json` (SPEC.md §7.1):
 * its projection from a lockfile and its exact bytes.
 */
#include "common/internal.h"

#include <stdlib.h>

int wl_lock_runtime_manifest(wl_runtime_manifest **out, const wl_lock *lock)
{
	*out = NULL;
	wl_runtime_manifest *m = calloc(1, sizeof *m);
	if (m == NULL)
		return wl__nomem();
	size_t count = lock ? lock->entry_count : 0;
	if (count > 0) {
		m->entries = calloc(count, sizeof *m->entries);
		if (m->entries == NULL) {
			free(m);
			return wl__nomem();
		}
	}
	for (size_t i = 0; i < count; i++) {
		const wl_entry *e = &lock->entries[i];
		m->entries[i] = (wl_runtime_entry){e->name, e->target, e->set_digest};
	}
	m->entry_count = count;
	*out = m;
	return 0;
}

void wl_runtime_manifest_free(wl_runtime_manifest *manifest)
{
	if (manifest == NULL)
		return;
	free(manifest->entries);
	free(manifest);
}

static void put_member(wl_buf *b, const char *key_line, wl_string value, bool last)
{
	wl_buf_puts(b, key_line);
	wl_json_put_string(b, value.len ? value.ptr : "", value.len);
	wl_buf_puts(b, last ? "\n" : ",\n");
}

int wl_runtime_manifest_marshal(char **out, size_t *out_len, const wl_runtime_manifest *manifest)
{
	wl_buf b;
	wl_buf_init(&b);
	size_t count = manifest ? manifest->entry_count : 0;
	if (count == 0) {
		wl_buf_puts(&b, "{\n  \"weights\": []\n}");
		return wl_buf_finish(&b, out, out_len);
	}
	wl_buf_puts(&b, "{\n  \"weights\": [\n");
	for (size_t i = 0; i < count; i++) {
		const wl_runtime_entry *e = &manifest->entries[i];
		wl_buf_puts(&b, "    {\n");
		put_member(&b, "      \"name\": ", e->name, false);
		put_member(&b, "      \"target\": ", e->target, false);
		put_member(&b, "      \"setDigest\": ", e->set_digest, true);
		wl_buf_puts(&b, i + 1 < count ? "    },\n" : "    }\n");
	}
	wl_buf_puts(&b, "  ]\n}");
	return wl_buf_finish(&b, out, out_len);
}
