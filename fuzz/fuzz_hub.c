/*
 * fuzz_hub.c - libFuzzer target for the readers of the Hugging Face Hub's
 * answers (lib/source/remote.c): a revision object and tree listing pages,
 * the JSON a Hub (or anything posing as one) sends before any file is
 * fetched.
 *
 * The input is split at its first NUL byte: the part before is parsed as a
 * revision answer, the part after as two tree pages (split again at the
 * next NUL) added to one listing, which is then checked for duplicates.
 * Properties: no crash or sanitizer report; a revision's commit is 40
 * lowercase hex digits; every listed file has a valid path, a size of at
 * least 0, a digest that is empty or a sha256 digest, and a URL under the
 * endpoint; after the check the paths are sorted and unique, none is
 * under a .cog directory and none is also a directory (checked against
 * the next 64 paths).
 */
#include "source/remote.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *copy(const uint8_t *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c != NULL) {
		memcpy(c, p, n);
		c[n] = '\0';
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t first = nul ? (size_t)(nul - data) : size;
	char *rev = copy(data, first);
	if (rev == NULL)
		return 0;
	char sha[41] = "";
	if (wl__hub_parse_revision(rev, first, sha) == 0) {
		if (strlen(sha) != 40 || strspn(sha, "0123456789abcdef") != 40)
			abort();
	}
	free(rev);
	wl__remote *r = NULL;
	if (nul == NULL || wl__remote_new(&r) != 0)
		return 0;
	const uint8_t *rest = nul + 1;
	size_t rest_len = size - first - 1;
	const uint8_t *nul2 = memchr(rest, 0, rest_len);
	size_t a = nul2 ? (size_t)(nul2 - rest) : rest_len;
	const char *ep = "https://hub.example";
	const char *commit = "0123456789abcdef0123456789abcdef01234567";
	char *page = copy(rest, a);
	int rc = page ? wl__hub_parse_tree_page(r, page, a, ep, "org/repo", commit) : -1;
	free(page);
	if (rc == 0 && nul2 != NULL) {
		page = copy(nul2 + 1, rest_len - a - 1);
		rc = page ? wl__hub_parse_tree_page(r, page, rest_len - a - 1, ep, "org/repo", commit) : -1;
		free(page);
	}
	if (rc == 0 && wl__remote_check(r) == 0) {
		for (size_t i = 0; i < r->count; i++) {
			const wl__remote_file *f = &r->files[i];
			const char *why = NULL;
			if (!wl_path_valid(f->path, &why) || f->size < 0 ||
			    (f->digest[0] != '\0' && !wl_digest_valid(wl_str(f->digest))) ||
			    strncmp(f->url, ep, strlen(ep)) != 0)
				abort();
			if (i > 0 && wl_string_compare(r->files[i - 1].path, f->path) >= 0)
				abort();
			/* No directory named .cog; no file that is also a directory. */
			if (memmem(f->path.ptr, f->path.len, ".cog/", 5) != NULL &&
			    (f->path.len >= 5 && (memcmp(f->path.ptr, ".cog/", 5) == 0 ||
			                          memmem(f->path.ptr, f->path.len, "/.cog/", 6) != NULL)))
				abort();
			for (size_t j = i + 1; j < r->count && j < i + 64; j++) {
				wl_string g = r->files[j].path;
				if (g.len > f->path.len && memcmp(g.ptr, f->path.ptr, f->path.len) == 0 &&
				    g.ptr[f->path.len] == '/')
					abort();
			}
		}
	}
	wl__remote_free(r);
	return 0;
}
