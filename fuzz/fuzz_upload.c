/*
 * fuzz_upload.c - libFuzzer target for the registry's upload answers that
 * steer the client: the Range of an upload's status (where a chunked upload
 * resumes), the Location of the next request, and a Docker-Upload-UUID.
 *
 * Input: three fields separated by NUL bytes (Range, Location, UUID), then
 * 8 bytes of "bytes sent so far". Properties: the resume offset is never
 * negative and never beyond what was sent; a Location that resolves keeps
 * to http or https; the message form of any URL holds no query, no user
 * information and no control character; a UUID is only ever taken as a
 * header value when it is one.
 */
#include "common/grammar.h"
#include "net/http.h"
#include "net/registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "property broken: %s: %s\n", what, detail);
	abort();
}

static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
	size_t n = nul != NULL ? (size_t)(nul - *p) : (size_t)(end - *p);
	char *s = strndup((const char *)*p, n);
	*p += n + (nul != NULL ? 1 : 0);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int64_t sent;
	memcpy(&sent, data + size - 8, 8);
	const uint8_t *p = data, *end = data + size - 8;
	char *range = field(&p, end), *location = field(&p, end), *uuid = field(&p, end);
	if (range == NULL || location == NULL || uuid == NULL)
		goto out;

	int64_t next = wl__registry_upload_next(range, sent);
	if (next < 0 || (next > 0 && next > sent))
		fail("resume offset beyond what was sent", range);

	char *joined = NULL;
	if (wl__http_resolve("https://registry.example:5000/v2/m/w/blobs/uploads/", location, &joined) == 0) {
		char *shown = wl__http_url_for_message(joined);
		if (shown == NULL)
			fail("no message form", joined);
		for (const unsigned char *c = (const unsigned char *)shown; *c; c++)
			if (*c < 0x20 || *c == 0x7f)
				fail("a control character in a message URL", shown);
		const char *authority = strstr(shown, "://");
		if (authority != NULL) {
			authority += 3;
			size_t n = strcspn(authority, "/");
			if (memchr(authority, '@', n) != NULL || strchr(shown, '?') != NULL)
				fail("a query or user information in a message URL", shown);
		}
		(void)wl__http_same_origin(joined, "https://registry.example:5000/");
		free(shown);
		free(joined);
	}
	wl_error_clear();

	if (wl__header_value_valid(uuid, strlen(uuid)) && (strchr(uuid, '\r') != NULL || strchr(uuid, '\n') != NULL))
		fail("a UUID with a line break taken as a header value", uuid);
out:
	free(range);
	free(location);
	free(uuid);
	return 0;
}
