/*
 * fuzz_tar.c - libFuzzer target for the layer tar reader (SPEC.md §12.2),
 * the very code wl_extract runs, with a sink that keeps nothing.
 *
 * The entry is fixed: a few files of one layer, one with a long name, one
 * empty. The input is the tar stream, fed in two pieces cut where its last
 * byte says, so the reader's state is crossed at arbitrary offsets.
 * Properties: no crash or sanitizer report; the sink sees each begun file
 * committed or aborted exactly once; bytes given to the sink never exceed
 * the recorded size of the file begun; on success every file was
 * committed once.
 */
#include "consume/extract_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LAYER "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define LONG_PATH                                                                                  \
	"dir/a-long-directory-name-that-needs-a-pax-path-record-because-it-goes-beyond-one-hundred-" \
	"bytes/file.bin"

static wl_file files[] = {
	{{"a.txt", 5}, 5, {"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 71},
	 {LAYER, 71}},
	{{"dir/empty", 9}, 0, {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 71},
	 {LAYER, 71}},
	{{LONG_PATH, sizeof LONG_PATH - 1}, 3,
	 {"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 71}, {LAYER, 71}},
};
static wl_layer layers[] = {{{LAYER, 71}, {WL_MEDIA_TYPE_LAYER_TAR, sizeof WL_MEDIA_TYPE_LAYER_TAR - 1}, 1, 8}};

typedef struct sink_state {
	long open;   /* the file begun, or -1 */
	int64_t fed; /* its bytes so far */
	int commits[3];
} sink_state;

static int on_begin(void *ctx, size_t file)
{
	sink_state *s = ctx;
	if (s->open >= 0 || file >= 3)
		abort();
	s->open = (long)file;
	s->fed = 0;
	return 0;
}

static int on_data(void *ctx, const void *bytes, size_t len)
{
	sink_state *s = ctx;
	(void)bytes;
	if (s->open < 0)
		abort();
	s->fed += (int64_t)len;
	if (s->fed > files[s->open].size)
		abort();
	return 0;
}

static int on_commit(void *ctx, size_t file)
{
	sink_state *s = ctx;
	if (s->open != (long)file || s->fed != files[file].size)
		abort();
	s->commits[file]++;
	s->open = -1;
	return 0;
}

static void on_abort(void *ctx)
{
	sink_state *s = ctx;
	if (s->open < 0)
		abort();
	s->open = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static wl__path_table *table;
	wl_entry entry;
	memset(&entry, 0, sizeof entry);
	entry.name = wl_str("fuzz");
	entry.files = files;
	entry.file_count = 3;
	entry.layers = layers;
	entry.layer_count = 1;
	if (table == NULL && wl__path_table_new(&table, &entry) != 0)
		abort();
	sink_state s;
	memset(&s, 0, sizeof s);
	s.open = -1;
	wl__tar_sink sink = {on_begin, on_data, on_commit, on_abort, &s};
	wl__tar_reader *r = NULL;
	if (wl__tar_reader_new(&r, &entry, table, layers[0].digest, &sink) != 0)
		return 0;
	size_t cut = size > 0 ? (size_t)data[size - 1] * 37 % (size + 1) : 0;
	int rc = wl__tar_reader_feed(r, data, cut);
	if (rc == 0)
		rc = wl__tar_reader_feed(r, data + cut, size - cut);
	if (rc == 0)
		rc = wl__tar_reader_finish(r);
	if (rc == 0 && (s.commits[0] != 1 || s.commits[1] != 1 || s.commits[2] != 1))
		abort();
	wl__tar_reader_free(r);
	if (s.open >= 0)
		abort(); /* freeing aborts what is still open */
	return 0;
}
