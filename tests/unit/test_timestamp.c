/*
 * test_timestamp.c - importedAt timestamps (SPEC.md §3.2): the accepted
 * forms, the rejected ones, and Go's RFC 3339 encoding. Examples are the
 * SPEC's.
 */
#include "harness.h"

/* Parses `in` and checks it formats as `want`. */
static int reformat(const char *in, const char *want)
{
	wl_time t;
	if (wl_time_parse(&t, in, strlen(in)) != 0) {
		printf("  %s: %s\n", in, wl_error_last()->message);
		return 0;
	}
	char buf[48];
	if (wl_time_format(buf, sizeof buf, &t) != 0) {
		printf("  %s: %s\n", in, wl_error_last()->message);
		return 0;
	}
	if (strcmp(buf, want) != 0) {
		printf("  %s -> %s, want %s\n", in, buf, want);
		return 0;
	}
	return 1;
}

static int rejects(const char *in)
{
	wl_time t;
	return wl_time_parse(&t, in, strlen(in)) == WL_EPARSE;
}

TEST(fraction_trailing_zeros_are_dropped)
{
	CHECK(reformat("2026-04-16T17:27:07.500+02:00", "2026-04-16T17:27:07.5+02:00"));
	CHECK(reformat("2026-04-16T17:27:07.000Z", "2026-04-16T17:27:07Z"));
	CHECK(reformat("2026-04-29T17:23:00.414483Z", "2026-04-29T17:23:00.414483Z"));
}

TEST(zero_offset_is_written_as_z)
{
	CHECK(reformat("2026-04-16T17:27:07+00:00", "2026-04-16T17:27:07Z"));
	CHECK(reformat("2026-04-16T17:27:07-00:00", "2026-04-16T17:27:07Z"));
}

TEST(lenient_forms_are_accepted)
{
	CHECK(reformat("2026-04-16T7:27:07,5Z", "2026-04-16T07:27:07.5Z"));
	CHECK(reformat("2026-04-16T17:27:07-05:30", "2026-04-16T17:27:07-05:30"));
}

TEST(fraction_beyond_nine_digits_is_truncated)
{
	CHECK(reformat("2026-04-16T17:27:07.123456789123Z", "2026-04-16T17:27:07.123456789Z"));
	CHECK(reformat("2026-04-16T17:27:07.9999999999Z", "2026-04-16T17:27:07.999999999Z"));
}

TEST(signed_year_as_go_atoi_reads_it)
{
	CHECK(reformat("+999-01-01T00:00:00Z", "0999-01-01T00:00:00Z"));
	wl_time t;
	CHECK_OK(wl_time_parse(&t, "-001-01-01T00:00:00Z", 20));
	char buf[48];
	CHECK_ERR(wl_time_format(buf, sizeof buf, &t), WL_EINVALID, "year outside of range");
}

TEST(zone_hour_24_parses_but_cannot_be_encoded)
{
	wl_time t;
	char buf[48];
	CHECK_OK(wl_time_parse(&t, "2026-04-16T17:27:07+24:00", 25));
	CHECK_ERR(wl_time_format(buf, sizeof buf, &t), WL_EINVALID, "timezone hour outside of range [0,23]");
	CHECK_OK(wl_time_parse(&t, "2026-04-16T17:27:07+23:60", 25));
	CHECK_ERR(wl_time_format(buf, sizeof buf, &t), WL_EINVALID, "timezone hour");
	CHECK(reformat("2026-04-16T17:27:07+23:59", "2026-04-16T17:27:07+23:59"));
}

TEST(calendar_ranges_are_enforced)
{
	CHECK(rejects("2026-13-01T00:00:00Z"));
	CHECK(rejects("2026-00-01T00:00:00Z"));
	CHECK(rejects("2026-02-29T00:00:00Z"));
	CHECK(reformat("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"));
	CHECK(rejects("1900-02-29T00:00:00Z"));
	CHECK(reformat("2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"));
	CHECK(rejects("2026-04-31T00:00:00Z"));
	CHECK(rejects("2026-04-16T24:00:00Z"));
	CHECK(rejects("2026-04-16T17:60:00Z"));
	CHECK(rejects("2026-04-16T17:27:60Z"));
	CHECK(rejects("2026-04-16T17:27:07+25:00"));
	CHECK(rejects("2026-04-16T17:27:07+00:61"));
}

TEST(malformed_text_is_rejected)
{
	CHECK(rejects(""));
	CHECK(rejects("not-a-time"));
	CHECK(rejects("2026-04-16t17:27:07Z"));
	CHECK(rejects("2026-04-16T17:27:07z"));
	CHECK(rejects("2026-04-16T17:27:07"));
	CHECK(rejects("2026-04-16T17:27:07.Z"));
	CHECK(rejects("2026-04-16T17:27:07Z "));
	CHECK(rejects("2026-4-16T17:27:07Z"));
	CHECK(rejects("2026-04-16T17:7:07Z"));
	CHECK(rejects("2026-04-16T17:27:07+0200"));
	CHECK(rejects("2026-04-16T17:27:07+2:00"));
	CHECK(rejects("2026-04-16 17:27:07Z"));
	CHECK_ERR(wl_time_parse(&(wl_time){0}, "2026-13-01T00:00:00Z", 20), WL_EPARSE, "month out of range");
}

TEST(zero_time_encodes_as_year_one)
{
	wl_time zero = {0};
	char buf[48];
	CHECK(wl_time_is_zero(&zero));
	CHECK_OK(wl_time_format(buf, sizeof buf, &zero));
	CHECK_STR(buf, "0001-01-01T00:00:00Z");
	CHECK(reformat("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"));
	wl_time t;
	CHECK_OK(wl_time_parse(&t, "0001-01-01T00:00:00Z", 20));
	CHECK(wl_time_is_zero(&t));
}

TEST(now_is_utc_with_nanoseconds)
{
	wl_time t = wl_time_now();
	CHECK_INT(t.offset_seconds, 0);
	CHECK(t.year >= 2024 && t.month >= 1 && t.month <= 12);
	CHECK(t.nanosecond >= 0 && t.nanosecond < 1000000000);
	char buf[48];
	CHECK_OK(wl_time_format(buf, sizeof buf, &t));
	CHECK(buf[strlen(buf) - 1] == 'Z');
	wl_time back;
	CHECK_OK(wl_time_parse(&back, buf, strlen(buf)));
	CHECK_INT(back.nanosecond, t.nanosecond);
}

int main(void)
{
	RUN(fraction_trailing_zeros_are_dropped);
	RUN(zero_offset_is_written_as_z);
	RUN(lenient_forms_are_accepted);
	RUN(fraction_beyond_nine_digits_is_truncated);
	RUN(signed_year_as_go_atoi_reads_it);
	RUN(zone_hour_24_parses_but_cannot_be_encoded);
	RUN(calendar_ranges_are_enforced);
	RUN(malformed_text_is_rejected);
	RUN(zero_time_encodes_as_year_one);
	RUN(now_is_utc_with_nanoseconds);
	return harness_summary("timestamp");
}
