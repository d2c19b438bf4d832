/*
 * fuzz_http_headers.c - libFuzzer target for the HTTP response header
 * parsers (lib/net/http_headers.c), the code that reads what a server
 * sends before any byte of a body is trusted.
 *
 * The input is a header block: split at each LF, every line is fed to
 * wl__http_headers_line as libcurl would hand it, and the value after the
 * first colon of each line also goes straight to the Retry-After,
 * Content-Range, Link and ETag parsers. The rel="next" target found is
 * resolved against a fixed URL, as a response's link is.
 * Properties: no crash or sanitizer report; a Link target lies inside the
 * value parsed; a parsed Content-Range has FIRST <= LAST < TOTAL (or an
 * unknown TOTAL); a Retry-After is never negative; the header record stays
 * within WL__HTTP_HEADERS_MAX.
 */
#include "net/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_value(const char *v, size_t n)
{
	double seconds;
	if (wl__http_parse_retry_after(v, n, 1700000000, &seconds) && !(seconds >= 0))
		abort();
	int64_t first, last, total;
	if (wl__http_parse_content_range(v, n, &first, &last, &total) &&
	    (first < 0 || first > last || (total >= 0 && last >= total) || total < -1))
		abort();
	const char *target;
	size_t target_len;
	if (wl__http_link_next(v, n, &target, &target_len)) {
		if (target < v || target + target_len > v + n)
			abort();
		char *ref = strndup(target, target_len);
		char *url = NULL;
		if (ref != NULL && memchr(target, '\0', target_len) == NULL &&
		    wl__http_resolve("https://example.com/api/models?cursor=1", ref, &url) == 0 && url == NULL)
			abort();
		free(url);
		free(ref);
	}
	(void)wl__http_etag_is_strong(v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	wl__http_headers h;
	wl__http_headers_init(&h);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		int rc = wl__http_headers_line(&h, p, n);
		if (rc != 0 && rc != WL_EPARSE && rc != WL_ENOMEM)
			abort();
		if (h.bytes > WL__HTTP_HEADERS_MAX)
			abort();
		const char *colon = memchr(p, ':', n);
		if (colon != NULL)
			parse_value(colon + 1, n - (size_t)(colon + 1 - p));
		p += n;
	}
	if (h.content_length < -1)
		abort();
	wl__http_headers_release(&h);
	return 0;
}
