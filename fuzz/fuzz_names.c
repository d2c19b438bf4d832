/*
 * fuzz_names.c - libFuzzer target for the grammars of values sent to
 * servers (common/grammar.c): repository names, tags, digests, media types,
 * header values and lines, b64tokens and weight names.
 *
 * Properties, for any input: every validator returns (linear time, no
 * reads past the length); what a validator accepts never holds a byte that
 * could end a header or leave a URL path component (CR, LF, NUL, space,
 * '?', '#', '%'; '/' only where the grammar has it); a weight name it
 * accepts is a repository component and makes a valid tag
 * "weights-NAME-<12 hex>"; a repository name has no empty, "." or ".."
 * component. The explaining checks (wl__repository_explain,
 * wl__registry_host_explain) agree with the plain ones and say why in one
 * line of printable ASCII that fits its buffer, also a small one; a host
 * they accept holds no byte that could leave the URL's authority; the
 * loopback test (wl__http_host_is_loopback) returns, and accepts only
 * what a loopback name or address may hold.
 */
#include "common/grammar.h"
#include "net/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *s, size_t n)
{
	fprintf(stderr, "property broken: %s (%zu bytes: %.*s)\n", what, n, (int)(n < 200 ? n : 200), (const char *)s);
	abort();
}

static bool holds_any(const uint8_t *s, size_t n, const char *set, size_t set_len)
{
	for (size_t i = 0; i < n; i++)
		if (memchr(set, s[i], set_len) != NULL)
			return true;
	return false;
}

/* An explanation: NUL-terminated within its buffer, printable ASCII. */
static void check_why(const char *why, size_t cap, const uint8_t *s, size_t n)
{
	size_t len = strnlen(why, cap);
	if (len == cap)
		fail("an explanation without its NUL", s, n);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] >= 0x7f)
			fail("an explanation with a byte that is not printable", s, n);
}

/* Bytes that may end a header or leave a path component. */
#define URL_HOSTILE "\r\n\0 ?#%\\\"<>"
#define URL_HOSTILE_LEN (sizeof URL_HOSTILE - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly `size` bytes: ASan sees any read past it. */
	char *s = malloc(size ? size : 1);
	if (s == NULL)
		return 0;
	if (size)
		memcpy(s, data, size);
	const uint8_t *u = (const uint8_t *)s;

	if (wl__repository_valid(s, size)) {
		if (holds_any(u, size, URL_HOSTILE, URL_HOSTILE_LEN) || size > WL__REPOSITORY_MAX)
			fail("repository with a hostile byte", u, size);
		if (u[0] == '/' || u[size - 1] == '/' || memmem(s, size, "//", 2) != NULL ||
		    memmem(s, size, "/./", 3) != NULL || memmem(s, size, "/../", 4) != NULL ||
		    (size >= 2 && memcmp(s, "..", 2) == 0))
			fail("repository with an empty or dot component", u, size);
		for (size_t i = 0; i < size; i++)
			if (u[i] >= 'A' && u[i] <= 'Z')
				fail("repository with upper case", u, size);
	}
	if (wl__tag_valid(s, size) && (holds_any(u, size, URL_HOSTILE "/:", URL_HOSTILE_LEN + 2) || size > WL__TAG_MAX))
		fail("tag with a hostile byte", u, size);
	if (wl__digest_valid(s, size) && (holds_any(u, size, URL_HOSTILE "/", URL_HOSTILE_LEN + 1) || size < 71))
		fail("digest with a hostile byte", u, size);
	if (wl__media_type_valid(s, size)) {
		/* it travels in headers ('#' and '$' are RFC 6838's own) */
		if (holds_any(u, size, "\r\n\0 ;,\"\\%?", 11))
			fail("media type with a hostile byte", u, size);
		const char *slash = memchr(s, '/', size);
		if (slash == NULL || memchr(slash + 1, '/', size - (size_t)(slash - s) - 1) != NULL)
			fail("media type without exactly one '/'", u, size);
	}
	if (wl__header_value_valid(s, size) && holds_any(u, size, "\r\n\0\x7f", 4))
		fail("header value with a line break", u, size);
	if (wl__header_line_valid(s, size) && (holds_any(u, size, "\r\n\0", 3) || memchr(s, ':', size) == NULL))
		fail("header line with a line break or no colon", u, size);
	if (wl__b64token_valid(s, size) && holds_any(u, size, URL_HOSTILE ",;:", URL_HOSTILE_LEN + 3))
		fail("b64token with a hostile byte", u, size);
	if (wl__weight_name_taggable(s, size)) {
		if (!wl__repository_valid(s, size))
			fail("a weight name that is not a repository component", u, size);
		char tag[WL__TAG_MAX + 32];
		int n = snprintf(tag, sizeof tag, "weights-%.*s-0123456789ab", (int)size, s);
		if (n < 0 || (size_t)n >= sizeof tag || !wl__tag_valid(tag, (size_t)n))
			fail("a weight name whose tag is not a tag", u, size);
	}
	char why[256], small[16];
	bool explained = wl__repository_explain(s, size, why, sizeof why);
	if (explained != wl__repository_valid(s, size))
		fail("repository explanation disagrees", u, size);
	if (!explained)
		check_why(why, sizeof why, u, size);
	if (!wl__repository_explain(s, size, small, sizeof small))
		check_why(small, sizeof small, u, size);
	if (wl__registry_host_explain(s, size, why, sizeof why)) {
		if (holds_any(u, size, URL_HOSTILE "/@", URL_HOSTILE_LEN + 2))
			fail("registry host with a hostile byte", u, size);
	} else {
		check_why(why, sizeof why, u, size);
		if (!wl__registry_host_explain(s, size, small, sizeof small))
			check_why(small, sizeof small, u, size);
	}
	if (wl__http_host_is_loopback(s, size))
		for (size_t i = 0; i < size; i++)
			if (u[i] == '\0' || !((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f') ||
			                        (u[i] >= 'A' && u[i] <= 'F') || strchr(".:[]lLoOcCaAhHsStT", u[i]) != NULL))
				fail("a loopback host with an odd byte", u, size);
	free(s);
	return 0;
}
