/*
 * grammar.c - the grammars of names and values sent to servers (see
 * common/grammar.h). Hand-written: each is a short scan, linear in its
 * input, that allocates nothing.
 */
#include "common/grammar.h"

#include "common/internal.h"

#include <string.h>

static bool lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(unsigned char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool hex_lower(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. */
static bool repository_component(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t run = 0;
		while (i < n && lower_alnum(p[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return false;
		if (i == n)
			return true;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n)
			return false; /* a separator must be followed by alphanumerics */
	}
	return false; /* empty */
}

bool wl__repository_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > WL__REPOSITORY_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (!repository_component(p + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool wl__tag_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > WL__TAG_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	if (!alnum(p[0]) && p[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!alnum(p[i]) && p[i] != '_' && p[i] != '.' && p[i] != '-')
			return false;
	return true;
}

static bool hex_run(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!hex_lower(p[i]))
			return false;
	return true;
}

bool wl__digest_valid(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	if (n == 7 + 64 && memcmp(s, "sha256:", 7) == 0)
		return hex_run(p + 7, 64);
	if (n == 7 + 128 && memcmp(s, "sha512:", 7) == 0)
		return hex_run(p + 7, 128);
	return false;
}

/* RFC 6838 §4.2: restricted-name = restricted-name-first *126restricted-name-chars. */
static bool restricted_name(const unsigned char *p, size_t n)
{
	if (n == 0 || n > 127 || !alnum(p[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!alnum(p[i]) && (p[i] == '\0' || strchr("!#$&-^_.+", p[i]) == NULL))
			return false;
	return true;
}

bool wl__media_type_valid(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *slash = memchr(p, '/', n);
	if (slash == NULL)
		return false;
	size_t type_len = (size_t)(slash - p);
	return restricted_name(p, type_len) && restricted_name(slash + 1, n - type_len - 1);
}

static bool field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool wl__header_value_valid(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++)
		if (!field_char(p[i]))
			return false;
	if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		return false;
	return true;
}

/* RFC 9110 tchar. */
static bool token_char(unsigned char c)
{
	return alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool wl__header_line_valid(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n && token_char(p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return false;
	i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return wl__header_value_valid(s + i, n - i);
}

bool wl__b64token_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n && (alnum(p[i]) || (p[i] != '\0' && strchr("-._~+/", p[i]) != NULL)))
		i++;
	if (i == 0)
		return false;
	while (i < n && p[i] == '=')
		i++;
	return i == n;
}

bool wl__weight_name_taggable(const char *s, size_t n)
{
	if (s == NULL || n > WL__WEIGHT_NAME_MAX)
		return false;
	return wl_weight_name_valid((wl_string){s, n});
}
