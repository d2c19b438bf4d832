/*
 * harness.h - a minimal unit-test harness: one binary per module.
 *
 * TEST(name) defines a test; CHECK* macros record a failure and return
 * from the test; main() lists RUN(name) calls and ends with
 * `return harness_summary("module");`, which prints the failures and one
 * "N passed, N failed" line. RUN_IF(cond, name, why...) runs a test only
 * when its material is there; otherwise it prints "NOT RUN name: why" and
 * counts the test as neither passed nor failed.
 */
#ifndef WL_HARNESS_H
#define WL_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weightslock.h"

static int harness_passed, harness_failed, harness_not_run, harness_current_failed;
static const char *harness_current;

#define TEST(name) static void name(void)

#define HARNESS_FAIL(...)                                                            \
	do {                                                                         \
		harness_current_failed = 1;                                          \
		printf("FAIL %s (%s:%d): ", harness_current, __FILE__, __LINE__);    \
		printf(__VA_ARGS__);                                                 \
		printf("\n");                                                        \
	} while (0)

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			HARNESS_FAIL("%s", #cond);                                   \
			return;                                                      \
		}                                                                    \
	} while (0)

#define CHECK_INT(got, want)                                                         \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		if (g_ != w_) {                                                      \
			HARNESS_FAIL("%s is %lld, want %lld", #got, g_, w_);         \
			return;                                                      \
		}                                                                    \
	} while (0)

/* Compares a NUL-terminated or (ptr,len) result with an expected C string. */
#define CHECK_MEM(got, got_len, want)                                                \
	do {                                                                         \
		const char *g_ = (const char *)(got);                                \
		size_t gl_ = (size_t)(got_len);                                      \
		const char *w_ = (want);                                             \
		if (gl_ != strlen(w_) || (gl_ && memcmp(g_, w_, gl_) != 0)) {        \
			HARNESS_FAIL("%s is \"%.*s\", want \"%s\"", #got, (int)gl_,  \
			             g_ ? g_ : "", w_);                              \
			return;                                                      \
		}                                                                    \
	} while (0)

#define CHECK_STR(got, want)                                                         \
	do {                                                                         \
		const char *gs_ = (got);                                             \
		CHECK_MEM(gs_, gs_ ? strlen(gs_) : 0, want);                         \
	} while (0)

/* The call must succeed; on failure prints the library's message. */
#define CHECK_OK(call)                                                               \
	do {                                                                         \
		int rc_ = (call);                                                    \
		if (rc_ != 0) {                                                      \
			HARNESS_FAIL("%s returned %d: %s", #call, rc_,               \
			             wl_error_last()->message);                      \
			return;                                                      \
		}                                                                    \
	} while (0)

/* The call must fail with `code`, and the message must contain `part`. */
#define CHECK_ERR(call, code, part)                                                  \
	do {                                                                         \
		int rc_ = (call);                                                    \
		if (rc_ != (code)) {                                                 \
			HARNESS_FAIL("%s returned %d, want %d (%s)", #call, rc_,     \
			             (int)(code), wl_error_last()->message);         \
			return;                                                      \
		}                                                                    \
		if (strstr(wl_error_last()->message, (part)) == NULL) {              \
			HARNESS_FAIL("%s: message \"%s\" lacks \"%s\"", #call,       \
			             wl_error_last()->message, (part));              \
			return;                                                      \
		}                                                                    \
	} while (0)

#define RUN(name)                                                                    \
	do {                                                                         \
		harness_current = #name;                                             \
		harness_current_failed = 0;                                          \
		name();                                                              \
		if (harness_current_failed)                                          \
			harness_failed++;                                            \
		else                                                                 \
			harness_passed++;                                            \
	} while (0)

#define RUN_IF(cond, name, ...)                                                      \
	do {                                                                         \
		if (cond) {                                                          \
			RUN(name);                                                   \
		} else {                                                             \
			harness_not_run++;                                           \
			printf("NOT RUN %s: ", #name);                               \
			printf(__VA_ARGS__);                                         \
			printf("\n");                                                \
		}                                                                    \
	} while (0)

static inline int harness_summary(const char *module)
{
	if (harness_not_run)
		printf("%s: %d passed, %d failed (%d not run)\n", module, harness_passed, harness_failed,
		       harness_not_run);
	else
		printf("%s: %d passed, %d failed\n", module, harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}

#endif
