/*
 * grammar.c - the grammars of names and values sent to servers (see
 * common/grammar.h). Hand-written: each is a short scan, linear in its
 * input, that allocates nothing.
 */
#include "common/grammar.h"

#include "common/internal.h"

#include <stdio.h>
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

/* Appends `p[0..n)` to out (at *at, cap bytes), printable ASCII as it is
 * (a quote or backslash escaped), anything else as \xNN; cut to fit. */
static void put_shown(char *out, size_t cap, size_t *at, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && *at + 5 < cap; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[(*at)++] = (char)c;
		} else if (c == '"' || c == '\\') {
			out[(*at)++] = '\\';
			out[(*at)++] = (char)c;
		} else {
			out[(*at)++] = '\\';
			out[(*at)++] = 'x';
			out[(*at)++] = hex[c >> 4];
			out[(*at)++] = hex[c & 15];
		}
	}
	out[*at] = '\0';
}

static void put_text(char *out, size_t cap, size_t *at, const char *text)
{
	size_t n = strlen(text);
	if (*at + n >= cap)
		n = cap - 1 - *at;
	memcpy(out + *at, text, n);
	*at += n;
	out[*at] = '\0';
}

/* "component K "TEXT" " into why, then the reason. */
static void component_why(char *why, size_t cap, size_t k, const unsigned char *p, size_t n, const char *reason,
                          const unsigned char *bad, size_t bad_len, const char *after)
{
	if (why == NULL || cap < 8)
		return;
	size_t at = 0;
	char num[32];
	snprintf(num, sizeof num, "component %zu \"", k);
	why[0] = '\0';
	put_text(why, cap, &at, num);
	put_shown(why, cap, &at, p, n);
	put_text(why, cap, &at, "\" ");
	put_text(why, cap, &at, reason);
	if (bad != NULL) {
		put_text(why, cap, &at, " '");
		put_shown(why, cap, &at, bad, bad_len);
		put_text(why, cap, &at, "'");
	}
	put_text(why, cap, &at, after);
}

/* Why one path component is not [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. */
static void explain_component(char *why, size_t cap, size_t k, const unsigned char *p, size_t n)
{
	static const char *const rule = "; a component is lower-case letters and digits, separated by one '.', "
	                                "one or two '_', or dashes";
	if (n == 0) {
		component_why(why, cap, k, p, n, "is empty (two '/' in a row, or one at an end)", NULL, 0, "");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 'A' && p[i] <= 'Z') {
			component_why(why, cap, k, p, n, "holds the upper-case letter", p + i, 1, "; names are lower case");
			return;
		}
		if (!lower_alnum(p[i]) && p[i] != '.' && p[i] != '_' && p[i] != '-') {
			component_why(why, cap, k, p, n, "holds the character", p + i, 1, rule);
			return;
		}
	}
	if (!lower_alnum(p[0])) {
		component_why(why, cap, k, p, n, "starts with", p, 1, "; it must start with a letter or digit");
		return;
	}
	if (!lower_alnum(p[n - 1])) {
		component_why(why, cap, k, p, n, "ends with", p + n - 1, 1, "; it must end with a letter or digit");
		return;
	}
	/* a run of separators that is not '.', '_', '__' or dashes */
	for (size_t i = 0; i < n;) {
		if (lower_alnum(p[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !lower_alnum(p[j]))
			j++;
		size_t run = j - i;
		bool ok = (run == 1) || (run == 2 && p[i] == '_' && p[i + 1] == '_');
		for (size_t q = i; !ok && q < j && p[q] == '-'; q++)
			ok = q + 1 == j;
		if (!ok) {
			component_why(why, cap, k, p, n, "has the separator", p + i, run, rule);
			return;
		}
		i = j;
	}
	component_why(why, cap, k, p, n, "is not valid", NULL, 0, rule);
}

bool wl__repository_explain(const char *s, size_t n, char *why, size_t cap)
{
	if (wl__repository_valid(s, n))
		return true;
	if (why == NULL || cap == 0)
		return false;
	if (s == NULL || n == 0) {
		snprintf(why, cap, "the name is empty");
		return false;
	}
	if (n > WL__REPOSITORY_MAX) {
		snprintf(why, cap, "the name is %zu bytes long, more than %d", n, WL__REPOSITORY_MAX);
		return false;
	}
	const unsigned char *p = (const unsigned char *)s;
	size_t start = 0, k = 1;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (!repository_component(p + start, i - start)) {
				explain_component(why, cap, k, p + start, i - start);
				return false;
			}
			start = i + 1;
			k++;
		}
	}
	snprintf(why, cap, "not a repository name");
	return false;
}

static void host_why(char *why, size_t cap, const unsigned char *p, size_t n, const char *reason)
{
	if (why == NULL || cap < 8)
		return;
	size_t at = 0;
	why[0] = '\0';
	put_text(why, cap, &at, "registry host \"");
	put_shown(why, cap, &at, p, n);
	put_text(why, cap, &at, "\" ");
	put_text(why, cap, &at, reason);
}

bool wl__registry_host_explain(const char *s, size_t n, char *why, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	if (s == NULL || n == 0) {
		host_why(why, cap, p, 0, "is empty");
		return false;
	}
	size_t i = 0;
	if (p[0] == '[') {
		while (++i < n && p[i] != ']')
			if (!hex_lower(p[i]) && !(p[i] >= 'A' && p[i] <= 'F') && p[i] != ':') {
				host_why(why, cap, p, n, "has a bracketed part that is not an IPv6 address");
				return false;
			}
		if (i == n || i == 1) {
			host_why(why, cap, p, n, "has a bracketed part that is not an IPv6 address");
			return false;
		}
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (i < n && (alnum(p[i]) || p[i] == '-'))
				i++;
			if (i == start || p[start] == '-' || p[i - 1] == '-') {
				host_why(why, cap, p, n,
				         "is not a host name: components of letters, digits and inner dashes, joined by '.'");
				return false;
			}
			if (i < n && p[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return true;
	if (p[i] != ':') {
		if (why != NULL && cap >= 8) {
			size_t at;
			host_why(why, cap, p, n, "holds the character '");
			at = strlen(why);
			put_shown(why, cap, &at, p + i, 1);
			put_text(why, cap, &at, "'; it is HOST[:PORT], the host letters, digits and inner dashes joined by '.'");
		}
		return false;
	}
	size_t digits = n - i - 1;
	unsigned long port = 0;
	for (size_t q = i + 1; q < n; q++) {
		if (p[q] < '0' || p[q] > '9') {
			digits = 0;
			break;
		}
		port = port * 10 + (unsigned long)(p[q] - '0');
		if (port > 65535)
			break;
	}
	if (digits == 0 || digits > 5 || port > 65535) {
		host_why(why, cap, p, n, "has a port that is not a number up to 65535");
		return false;
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
