/*
 * timestamp.c - `importedAt` timestamps with Go's time package rules
 * (SPEC.md §3.2): the union of Go's strict RFC 3339 fast path and its
 * lenient layout parser on read, RFC 3339 with nanoseconds on write.
 *
 * Hand-written because the accepted set is Go's, quirks included (one-digit
 * hours, a comma before the fraction, zone hour 24, a signed year), which no
 * C time library reproduces.
 */
#include "common/internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in(int month, int64_t year)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month == 2 && is_leap(year))
		return 29;
	return days[month - 1];
}

static bool digit(const char *s, size_t n, size_t i)
{
	return i < n && s[i] >= '0' && s[i] <= '9';
}

/* Go's getnum: one or two digits (exactly two when `fixed`). */
static bool getnum(const char *s, size_t n, size_t *pos, bool fixed, int *out)
{
	size_t i = *pos;
	if (!digit(s, n, i))
		return false;
	if (!digit(s, n, i + 1)) {
		if (fixed)
			return false;
		*out = s[i] - '0';
		*pos = i + 1;
		return true;
	}
	*out = (s[i] - '0') * 10 + (s[i + 1] - '0');
	*pos = i + 2;
	return true;
}

static int bad(const char *s, size_t n, const char *why)
{
	return wl__fail(WL_EPARSE, "parsing time \"%.*s\": %s", (int)(n > 64 ? 64 : n), s, why);
}

int wl_time_parse(wl_time *out, const char *s, size_t n)
{
	size_t i = 0;
	/* Year: four bytes, Go's atoi (an optional sign, then digits). */
	if (n < 4)
		return bad(s, n, "cannot parse year");
	int64_t year = 0;
	bool neg = false;
	size_t k = 0;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		k = 1;
	}
	if (k == 4)
		return bad(s, n, "cannot parse year");
	for (; k < 4; k++) {
		if (s[k] < '0' || s[k] > '9')
			return bad(s, n, "cannot parse year");
		year = year * 10 + (s[k] - '0');
	}
	if (neg)
		year = -year;
	i = 4;
	int month, day, hour, minute, second;
	if (i >= n || s[i++] != '-' || !getnum(s, n, &i, true, &month))
		return bad(s, n, "cannot parse month");
	if (month < 1 || month > 12)
		return bad(s, n, "month out of range");
	if (i >= n || s[i++] != '-' || !getnum(s, n, &i, true, &day))
		return bad(s, n, "cannot parse day");
	if (i >= n || s[i++] != 'T' || !getnum(s, n, &i, false, &hour))
		return bad(s, n, "cannot parse hour");
	if (hour > 23)
		return bad(s, n, "hour out of range");
	if (i >= n || s[i++] != ':' || !getnum(s, n, &i, true, &minute))
		return bad(s, n, "cannot parse minute");
	if (minute > 59)
		return bad(s, n, "minute out of range");
	if (i >= n || s[i++] != ':' || !getnum(s, n, &i, true, &second))
		return bad(s, n, "cannot parse second");
	if (second > 59)
		return bad(s, n, "second out of range");
	int32_t nsec = 0;
	if (i + 1 < n && (s[i] == '.' || s[i] == ',') && digit(s, n, i + 1)) {
		size_t j = i + 1;
		int digits = 0;
		while (digit(s, n, j)) {
			if (digits < 9) {
				nsec = nsec * 10 + (s[j] - '0');
				digits++;
			}
			j++;
		}
		for (; digits < 9; digits++)
			nsec *= 10;
		i = j;
	}
	int32_t offset = 0;
	if (i < n && s[i] == 'Z') {
		i++;
	} else {
		if (n - i < 6 || s[i + 3] != ':')
			return bad(s, n, "cannot parse time zone");
		char sign = s[i];
		size_t h = i + 1, m = i + 4;
		int zh, zm;
		if (!getnum(s, n, &h, true, &zh) || !getnum(s, n, &m, true, &zm))
			return bad(s, n, "cannot parse time zone");
		if (zh > 24 || zm > 60)
			return bad(s, n, "time zone offset out of range");
		if (sign != '+' && sign != '-')
			return bad(s, n, "cannot parse time zone");
		offset = (zh * 60 + zm) * 60;
		if (sign == '-')
			offset = -offset;
		i += 6;
	}
	if (i != n)
		return bad(s, n, "extra text after the time zone");
	if (day < 1 || day > days_in(month, year))
		return bad(s, n, "day out of range");
	out->year = (int32_t)year;
	out->month = month;
	out->day = day;
	out->hour = hour;
	out->minute = minute;
	out->second = second;
	out->nanosecond = nsec;
	out->offset_seconds = offset;
	return 0;
}

bool wl_time_is_zero(const wl_time *t)
{
	if (t->month == 0)
		return true;
	return t->year == 1 && t->month == 1 && t->day == 1 && t->hour == 0 && t->minute == 0 &&
	       t->second == 0 && t->nanosecond == 0 && t->offset_seconds == 0;
}

int wl_time_format(char *buf, size_t size, const wl_time *t)
{
	if (size < 40)
		return wl__fail(WL_EINVALID, "time buffer too small");
	if (t->month == 0) {
		memcpy(buf, "0001-01-01T00:00:00Z", 21);
		return 0;
	}
	if (t->year < 0 || t->year > 9999)
		return wl__fail(WL_EINVALID, "Time.MarshalJSON: year outside of range [0,9999]");
	int off = t->offset_seconds;
	int aoff = off < 0 ? -off : off;
	if (aoff >= 24 * 3600)
		return wl__fail(WL_EINVALID, "Time.MarshalJSON: timezone hour outside of range [0,23]");
	int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", (int)t->year, (int)t->month,
	                 (int)t->day, (int)t->hour, (int)t->minute, (int)t->second);
	if (t->nanosecond != 0) {
		char frac[16];
		snprintf(frac, sizeof frac, ".%09d", (int)t->nanosecond);
		size_t fl = strlen(frac);
		while (frac[fl - 1] == '0')
			fl--;
		memcpy(buf + n, frac, fl);
		n += (int)fl;
	}
	if (off == 0) {
		buf[n++] = 'Z';
		buf[n] = '\0';
	} else {
		snprintf(buf + n, size - (size_t)n, "%c%02d:%02d", off < 0 ? '-' : '+', aoff / 3600,
		         (aoff / 60) % 60);
	}
	return 0;
}

wl_time wl_time_now(void)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	wl_time t = {
		.year = tm.tm_year + 1900,
		.month = tm.tm_mon + 1,
		.day = tm.tm_mday,
		.hour = tm.tm_hour,
		.minute = tm.tm_min,
		.second = tm.tm_sec,
		.nanosecond = (int32_t)ts.tv_nsec,
		.offset_seconds = 0,
	};
	return t;
}
