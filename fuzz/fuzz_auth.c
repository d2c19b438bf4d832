/*
 * fuzz_auth.c - libFuzzer target for what registry authentication reads
 * from the network and from files a user edits (lib/net/auth.c,
 * lib/net/registry.c): WWW-Authenticate challenges, a token server's
 * answer, a registry's error body, and a credentials file (auth.json /
 * config.json; parsed only, no helper is run).
 *
 * The input is split at NUL bytes into those four parts, in that order.
 * Properties: no crash or sanitizer report; at most WL__AUTH_CHALLENGES_MAX
 * challenges; a parsed token is non-empty and expires_in at least 60; an
 * error message is one line; what the credentials file gives for the host
 * lies inside the file's text or its decode storage.
 */
#include "net/auth.h"
#include "net/registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p;
	const uint8_t *nul = memchr(start, 0, (size_t)(end - start));
	*len = nul ? (size_t)(nul - start) : (size_t)(end - start);
	*p = nul ? nul + 1 : end;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	size_t n;
	const uint8_t *s = part(&p, end, &n);
	wl__auth_challenge ch[WL__AUTH_CHALLENGES_MAX];
	int count = wl__auth_parse_challenges((const char *)s, n, ch);
	if (count > WL__AUTH_CHALLENGES_MAX)
		abort();
	if (count > 0)
		wl__auth_challenges_release(ch, count);

	s = part(&p, end, &n);
	char *tok = NULL;
	int64_t exp = 0;
	if (wl__auth_parse_token((const char *)s, n, &tok, &exp) == 0 && (tok == NULL || tok[0] == '\0' || exp < 60))
		abort();
	free(tok);

	s = part(&p, end, &n);
	char *body = malloc(n + 1);
	if (body == NULL)
		return 0;
	memcpy(body, s, n);
	body[n] = '\0';
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	resp.status = 400;
	resp.body = body;
	resp.body_len = n;
	wl__registry_fail_status(WL_EIO, &resp, "PUT x");
	if (strchr(wl_error_last()->message, '\n') != NULL)
		abort();
	free(body);

	s = part(&p, end, &n);
	char *text = malloc(n + 1);
	wl_storage *st = wl_storage_new();
	if (text != NULL && st != NULL) {
		memcpy(text, s, n);
		text[n] = '\0';
		wl__auth_config cfg;
		wl__auth_parse_config(&cfg, text, n, "config.json", "registry.example:5000", st);
	}
	free(text);
	wl_storage_free(st);
	return 0;
}
