/*
 * paths.c - weight file paths, weight names, Go's path.Clean, and Go's %q
 * quoting for messages (SPEC.md §5, Appendix B).
 */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>

wl_string wl_str(const char *cstr)
{
	if (cstr == NULL)
		return WL__EMPTY;
	return (wl_string){cstr, strlen(cstr)};
}

bool wl_string_equal(wl_string a, wl_string b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int wl_string_compare(wl_string a, wl_string b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* Strings first, then position in the array, so equal strings keep their
 * order and the first of each run is the earliest. */
static int compare_refs(const void *a, const void *b)
{
	const wl_string *x = *(const wl_string *const *)a, *y = *(const wl_string *const *)b;
	int c = wl_string_compare(*x, *y);
	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

const wl_string *wl__earliest_repeat(const wl_string **refs, size_t n)
{
	if (n < 2)
		return NULL;
	qsort(refs, n, sizeof *refs, compare_refs);
	const wl_string *found = NULL;
	for (size_t k = 1; k < n; k++)
		if (wl_string_equal(*refs[k - 1], *refs[k]) && (found == NULL || refs[k] < found))
			found = refs[k];
	return found;
}

bool wl_path_valid(wl_string path, const char **why)
{
	const char *reason = NULL;
	const unsigned char *p = (const unsigned char *)path.ptr;
	size_t n = path.len;
	if (n == 0) {
		reason = "empty path";
		goto out;
	}
	if (p[0] == '/') {
		reason = "absolute path";
		goto out;
	}
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		if (c == 0 || c == '\\' || c < 0x20 || c == 0x7F) {
			reason = c == '\\' ? "backslash in path" : "control character in path";
			goto out;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t len = wl_utf8_decode(p + i, n - i, &cp);
			if (cp == 0xFFFD && len == 1) {
				reason = "path is not valid UTF-8";
				goto out;
			}
			i += len;
			continue;
		}
		i++;
	}
	/* Components: non-empty, not "." or "..". */
	for (size_t start = 0; start <= n;) {
		const unsigned char *slash = memchr(p + start, '/', n - start);
		size_t end = slash ? (size_t)(slash - p) : n;
		size_t len = end - start;
		if (len == 0) {
			reason = end == n ? "trailing slash in path" : "empty path component";
			goto out;
		}
		if ((len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.')) {
			reason = len == 1 ? "\".\" component in path" : "\"..\" component in path";
			goto out;
		}
		if (slash == NULL)
			break;
		start = end + 1;
	}
out:
	if (why != NULL)
		*why = reason;
	return reason == NULL;
}

int wl_path_clean(char **out, size_t *out_len, wl_string path)
{
	const char *p = path.ptr;
	size_t n = path.len;
	if (n == 0) {
		*out = strdup(".");
		if (*out == NULL)
			return wl__nomem();
		if (out_len)
			*out_len = 1;
		return 0;
	}
	bool rooted = p[0] == '/';
	char *buf = malloc(n + 2);
	if (buf == NULL)
		return wl__nomem();
	size_t w = 0, r = 0, dotdot = 0;
	if (rooted) {
		buf[w++] = '/';
		r = 1;
		dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && buf[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					buf[w++] = '/';
				buf[w++] = '.';
				buf[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				buf[w++] = '/';
			while (r < n && p[r] != '/')
				buf[w++] = p[r++];
		}
	}
	if (w == 0)
		buf[w++] = '.';
	buf[w] = '\0';
	*out = buf;
	if (out_len)
		*out_len = w;
	return 0;
}

/* Sign of the comparison of `s` with `dir` + "/" (byte-wise): with paths
 * sorted, bisection finds the first one under `dir`. */
int wl__path_compare_with_dir(wl_string s, wl_string dir)
{
	size_t n = s.len < dir.len ? s.len : dir.len;
	int c = n ? memcmp(s.ptr, dir.ptr, n) : 0;
	if (c != 0)
		return c;
	if (s.len <= dir.len)
		return -1;
	unsigned char next = (unsigned char)s.ptr[dir.len];
	if (next != '/')
		return next < '/' ? -1 : 1;
	return s.len == dir.len + 1 ? 0 : 1;
}

size_t wl__path_first_under(const void *items, size_t count, size_t stride, size_t path_offset, size_t from,
                            wl_string dir)
{
	const char *base = items;
	wl_string path;
	size_t lo = from, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		memcpy(&path, base + mid * stride + path_offset, sizeof path);
		if (wl__path_compare_with_dir(path, dir) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == count)
		return count;
	memcpy(&path, base + lo * stride + path_offset, sizeof path);
	bool under = path.len > dir.len && memcmp(path.ptr, dir.ptr, dir.len) == 0 && path.ptr[dir.len] == '/';
	return under ? lo : count;
}

bool wl_weight_name_valid(wl_string name)
{
	/* ^[a-z0-9]+([._-][a-z0-9]+)*$ */
	const char *p = name.ptr;
	size_t n = name.len;
	if (n == 0)
		return false;
	bool need_alnum = true;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (alnum) {
			need_alnum = false;
		} else if ((c == '.' || c == '_' || c == '-') && !need_alnum) {
			need_alnum = true;
		} else {
			return false;
		}
	}
	return !need_alnum;
}

/* Approximates Go's strconv.IsPrint as SPEC.md Appendix B allows. */
static bool printable(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7F)
		return false;
	if (cp < 0x7F)
		return true;
	if (cp < 0xA0)
		return false;
	if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
	    cp == 0x205F || cp == 0x3000)
		return false; /* space separators other than U+0020 */
	if (cp == 0x2028 || cp == 0x2029)
		return false;
	/* Format characters (Cf), the common ones. */
	if (cp == 0xAD || (cp >= 0x600 && cp <= 0x605) || cp == 0x61C || cp == 0x6DD || cp == 0x70F ||
	    cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F) || cp == 0xFEFF ||
	    (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0xE0000 && cp <= 0xE007F))
		return false;
	/* Private use and noncharacters. */
	if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000 || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
	    (cp & 0xFFFE) == 0xFFFE)
		return false;
	return true;
}

int wl_quote(char **out, size_t *out_len, wl_string s)
{
	static const char hex[] = "0123456789abcdef";
	wl_buf b;
	wl_buf_init(&b);
	const unsigned char *p = (const unsigned char *)s.ptr;
	wl_buf_putc(&b, '"');
	for (size_t i = 0; i < s.len;) {
		uint32_t cp;
		size_t len = wl_utf8_decode(p + i, s.len - i, &cp);
		if (cp == 0xFFFD && len == 1 && !(s.len - i >= 3 && p[i] == 0xEF && p[i + 1] == 0xBF &&
		                                   p[i + 2] == 0xBD)) {
			char t[4] = {'\\', 'x', hex[p[i] >> 4], hex[p[i] & 15]};
			wl_buf_put(&b, t, 4);
			i++;
			continue;
		}
		i += len;
		switch (cp) {
		case '"': wl_buf_puts(&b, "\\\""); continue;
		case '\\': wl_buf_puts(&b, "\\\\"); continue;
		case '\a': wl_buf_puts(&b, "\\a"); continue;
		case '\b': wl_buf_puts(&b, "\\b"); continue;
		case '\f': wl_buf_puts(&b, "\\f"); continue;
		case '\n': wl_buf_puts(&b, "\\n"); continue;
		case '\r': wl_buf_puts(&b, "\\r"); continue;
		case '\t': wl_buf_puts(&b, "\\t"); continue;
		case '\v': wl_buf_puts(&b, "\\v"); continue;
		default: break;
		}
		if (printable(cp)) {
			wl_buf_put(&b, p + i - len, len);
		} else if (cp < 0x80) {
			char t[4] = {'\\', 'x', hex[cp >> 4], hex[cp & 15]};
			wl_buf_put(&b, t, 4);
		} else if (cp < 0x10000) {
			wl_buf_printf(&b, "\\u%04x", (unsigned)cp);
		} else {
			wl_buf_printf(&b, "\\U%08x", (unsigned)cp);
		}
	}
	wl_buf_putc(&b, '"');
	return wl_buf_finish(&b, out, out_len);
}
