/*
 * http_headers.c - the parsers of HTTP response headers that net/http.c
 * acts on: header lines, ETag strength, Retry-After, Content-Range and the
 * rel="next" link of Link. They read untrusted bytes: each is one pass over
 * its input with no backtracking, and what they keep is bounded by
 * WL__HTTP_HEADERS_MAX. No network here, so the fuzz target calls them
 * directly.
 */
#include "net/http.h"

#include <stdlib.h>
#include <string.h>

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Case-insensitive comparison of p[0..n) with the lowercase `word`. */
static bool equals_word(const char *p, size_t n, const char *word)
{
	size_t i = 0;
	for (; i < n && word[i] != '\0'; i++)
		if (lower(p[i]) != word[i])
			return false;
	return i == n && word[i] == '\0';
}

static void trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ows(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*p)[*n - 1]))
		(*n)--;
}

bool wl__http_etag_is_strong(const char *etag, size_t len)
{
	if (etag == NULL || len < 2 || etag[0] != '"' || etag[len - 1] != '"')
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)etag[i];
		/* etagc: %x21 / %x23-7E / obs-text */
		if (c < 0x21 || c == '"' || c == 0x7F)
			return false;
	}
	return true;
}

/* Reads digits at *p as a non-negative int64 (saturating at INT64_MAX).
 * False when there is no digit. */
static bool read_int64(const char **p, const char *end, int64_t *out, bool *saturated)
{
	const char *s = *p;
	int64_t v = 0;
	*saturated = false;
	while (s < end && is_digit(*s)) {
		int d = *s - '0';
		if (v > (INT64_MAX - d) / 10)
			*saturated = true;
		else
			v = v * 10 + d;
		s++;
	}
	if (s == *p)
		return false;
	*out = *saturated ? INT64_MAX : v;
	*p = s;
	return true;
}

/* ---- Retry-After ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool two_digits(const char *p, int *out)
{
	if (!is_digit(p[0]) || !is_digit(p[1]))
		return false;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return true;
}

/* IMF-fixdate, exactly 29 bytes: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool parse_imf_fixdate(const char *p, size_t n, int64_t *epoch)
{
	static const char days[] = "sunmontuewedthufrisat";
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (n != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
	    p[19] != ':' || p[22] != ':' || p[25] != ' ' || !equals_word(p + 26, 3, "gmt"))
		return false;
	bool day_ok = false;
	for (int i = 0; i < 7 && !day_ok; i++)
		day_ok = equals_word(p, 3, (char[4]){days[3 * i], days[3 * i + 1], days[3 * i + 2], 0});
	int month = 0;
	for (int i = 0; i < 12 && month == 0; i++)
		if (equals_word(p + 8, 3, (char[4]){months[3 * i], months[3 * i + 1], months[3 * i + 2], 0}))
			month = i + 1;
	int day, year_hi, year_lo, hh, mm, ss;
	if (!day_ok || month == 0 || !two_digits(p + 5, &day) || !two_digits(p + 12, &year_hi) ||
	    !two_digits(p + 14, &year_lo) || !two_digits(p + 17, &hh) || !two_digits(p + 20, &mm) ||
	    !two_digits(p + 23, &ss))
		return false;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	int64_t days_since = days_from_civil(year_hi * 100 + year_lo, month, day);
	*epoch = days_since * 86400 + hh * 3600 + mm * 60 + ss;
	return true;
}

bool wl__http_parse_retry_after(const char *value, size_t len, time_t now, double *seconds)
{
	const char *p = value;
	size_t n = len;
	trim(&p, &n);
	if (n == 0)
		return false;
	if (is_digit(p[0])) {
		const char *s = p;
		int64_t v;
		bool saturated;
		if (!read_int64(&s, p + n, &v, &saturated) || s != p + n)
			return false;
		*seconds = (double)v;
		return true;
	}
	int64_t when;
	if (!parse_imf_fixdate(p, n, &when))
		return false;
	double delta = (double)when - (double)now;
	*seconds = delta > 0 ? delta : 0;
	return true;
}

/* ---- Content-Range ---- */

bool wl__http_parse_content_range(const char *value, size_t len, int64_t *first, int64_t *last,
                                  int64_t *total)
{
	const char *p = value;
	size_t n = len;
	trim(&p, &n);
	const char *end = p + n;
	if (n < 6 || !equals_word(p, 5, "bytes") || !is_ows(p[5]))
		return false;
	p += 6;
	while (p < end && is_ows(*p))
		p++;
	bool sat1, sat2, sat3 = false;
	int64_t a, b, t = -1;
	if (!read_int64(&p, end, &a, &sat1) || p >= end || *p++ != '-' || !read_int64(&p, end, &b, &sat2) ||
	    p >= end || *p++ != '/')
		return false;
	if (p < end && *p == '*' && p + 1 == end)
		p++;
	else if (!read_int64(&p, end, &t, &sat3))
		return false;
	if (p != end || sat1 || sat2 || sat3 || a > b || (t >= 0 && b >= t))
		return false;
	*first = a;
	*last = b;
	*total = t;
	return true;
}

/* ---- Link ---- */

/* Skips a quoted-string starting at *p (at the opening quote). */
static void skip_quoted(const char **p, const char *end)
{
	const char *s = *p + 1;
	while (s < end && *s != '"') {
		if (*s == '\\' && s + 1 < end)
			s++;
		s++;
	}
	*p = s < end ? s + 1 : end;
}

/* True when the relation-type list (space separated) holds "next". */
static bool rel_has_next(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_ows(p[i]) || p[i] == '\\'))
			i++;
		size_t start = i;
		while (i < n && !is_ows(p[i]))
			i++;
		if (equals_word(p + start, i - start, "next"))
			return true;
	}
	return false;
}

bool wl__http_link_next(const char *value, size_t len, const char **target, size_t *target_len)
{
	const char *p = value, *end = value + len;
	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		if (*p != '<') {
			/* Not a link-value: skip to the next comma outside quotes. */
			while (p < end && *p != ',') {
				if (*p == '"')
					skip_quoted(&p, end);
				else
					p++;
			}
			continue;
		}
		const char *t = ++p;
		while (p < end && *p != '>')
			p++;
		if (p >= end)
			return false;
		size_t tn = (size_t)(p - t);
		p++;
		bool next = false;
		/* link-params: *( OWS ";" OWS link-param ), ended by a comma. */
		while (p < end && *p != ',') {
			if (*p != ';') {
				if (*p == '"')
					skip_quoted(&p, end);
				else
					p++;
				continue;
			}
			p++;
			while (p < end && is_ows(*p))
				p++;
			const char *name = p;
			while (p < end && *p != '=' && *p != ';' && *p != ',' && !is_ows(*p))
				p++;
			size_t name_n = (size_t)(p - name);
			while (p < end && is_ows(*p))
				p++;
			if (p >= end || *p != '=')
				continue;
			p++;
			while (p < end && is_ows(*p))
				p++;
			const char *v = p;
			size_t vn;
			if (p < end && *p == '"') {
				skip_quoted(&p, end);
				v++;
				vn = (size_t)(p - v);
				if (vn > 0 && v[vn - 1] == '"')
					vn--;
			} else {
				while (p < end && *p != ';' && *p != ',' && !is_ows(*p))
					p++;
				vn = (size_t)(p - v);
			}
			if (equals_word(name, name_n, "rel") && rel_has_next(v, vn))
				next = true;
		}
		if (next) {
			*target = t;
			*target_len = tn;
			return true;
		}
	}
	return false;
}

/* ---- header lines ---- */

void wl__http_headers_init(wl__http_headers *h)
{
	memset(h, 0, sizeof *h);
	h->content_length = -1;
}

void wl__http_headers_release(wl__http_headers *h)
{
	free(h->etag);
	free(h->content_type);
	free(h->location);
	free(h->link_next);
	free(h->docker_content_digest);
	free(h->www_authenticate);
	free(h->content_range);
	free(h->retry_after);
	free(h->range);
	wl__http_headers_init(h);
}

/* Keeps the first value of a header. */
static int keep_first(char **slot, const char *v, size_t n)
{
	if (*slot != NULL)
		return 0;
	*slot = strndup(v, n);
	return *slot == NULL ? WL_ENOMEM : 0;
}

/* Appends a value to the WWW-Authenticate list (", " between values),
 * growing geometrically so that many lines cost linear time. */
static int append_challenge(wl__http_headers *h, const char *v, size_t n)
{
	size_t need = h->www_authenticate_len + 2 + n + 1;
	if (need > h->www_authenticate_cap) {
		size_t cap = h->www_authenticate_cap < 64 ? 64 : h->www_authenticate_cap;
		while (cap < need)
			cap *= 2;
		char *grown = realloc(h->www_authenticate, cap);
		if (grown == NULL)
			return WL_ENOMEM;
		h->www_authenticate = grown;
		h->www_authenticate_cap = cap;
	}
	char *d = h->www_authenticate + h->www_authenticate_len;
	if (h->www_authenticate_len > 0) {
		memcpy(d, ", ", 2);
		d += 2;
	}
	memcpy(d, v, n);
	d[n] = '\0';
	h->www_authenticate_len = (size_t)(d + n - h->www_authenticate);
	return 0;
}

/* "HTTP/1.1 200 OK", "HTTP/2 404": the three-digit code after the first
 * space, or 0. */
static long status_of(const char *p, size_t n)
{
	size_t i = 5;
	while (i < n && p[i] != ' ')
		i++;
	while (i < n && p[i] == ' ')
		i++;
	if (i + 3 > n || !is_digit(p[i]) || !is_digit(p[i + 1]) || !is_digit(p[i + 2]) ||
	    (i + 3 < n && p[i + 3] != ' '))
		return 0;
	return (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
}

int wl__http_headers_line(wl__http_headers *h, const char *line, size_t len)
{
	if (len > 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): its headers replace the old. */
		wl__http_headers_release(h);
		h->bytes = len;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		h->status = status_of(line, len);
		return 0;
	}
	if (len > WL__HTTP_HEADERS_MAX - h->bytes)
		return WL_EPARSE;
	h->bytes += len;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || is_ows(line[0]))
		return 0; /* the end of the headers, or an obsolete folded line */
	const char *colon = memchr(line, ':', len);
	if (colon == NULL)
		return 0;
	const char *name = line;
	size_t name_n = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vn = len - name_n - 1;
	trim(&v, &vn);
	if (equals_word(name, name_n, "etag"))
		return keep_first(&h->etag, v, vn);
	if (equals_word(name, name_n, "content-type"))
		return keep_first(&h->content_type, v, vn);
	if (equals_word(name, name_n, "location"))
		return keep_first(&h->location, v, vn);
	if (equals_word(name, name_n, "docker-content-digest"))
		return keep_first(&h->docker_content_digest, v, vn);
	if (equals_word(name, name_n, "content-range"))
		return keep_first(&h->content_range, v, vn);
	if (equals_word(name, name_n, "retry-after"))
		return keep_first(&h->retry_after, v, vn);
	if (equals_word(name, name_n, "range"))
		return keep_first(&h->range, v, vn);
	if (equals_word(name, name_n, "www-authenticate"))
		return append_challenge(h, v, vn);
	if (equals_word(name, name_n, "content-length")) {
		const char *s = v;
		int64_t cl;
		bool saturated;
		if (h->content_length < 0 && read_int64(&s, v + vn, &cl, &saturated) && s == v + vn && !saturated)
			h->content_length = cl;
		return 0;
	}
	if (equals_word(name, name_n, "link") && h->link_next == NULL) {
		const char *t;
		size_t tn;
		if (wl__http_link_next(v, vn, &t, &tn))
			return keep_first(&h->link_next, t, tn);
	}
	return 0;
}
