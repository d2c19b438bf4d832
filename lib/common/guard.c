/*
 * guard.c - the guard lock (SPEC.md §4.8).
 *
 * Owns wl_guard_acquire, wl_guard_release and wl_with_lock: an exclusive
 * flock(2) on `<lockfile>.guard` that serializes load-modify-save across
 * processes and interoperates with Cog and flock(1). The guard file is
 * created as needed, never written and never deleted.
 */
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Cog retries every 100 ms; the wait is sliced so cancellation is prompt. */
#define GUARD_RETRY_NS 100000000LL
#define GUARD_SLICE_NS 10000000LL

struct wl_guard {
	int fd;
	char *lockfile; /* for messages */
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool canceled(const volatile sig_atomic_t *cancel)
{
	return cancel != NULL && *cancel != 0;
}

/* mkdir -p of the directory holding `lockfile`, mode 0755. */
static int make_parent_dirs(const char *lockfile)
{
	const char *slash = strrchr(lockfile, '/');
	if (slash == NULL || slash == lockfile)
		return 0;
	char *dir = strndup(lockfile, (size_t)(slash - lockfile));
	if (dir == NULL)
		return wl__nomem();
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		free(dir);
		return 0;
	}
	/* Create each prefix in turn; existing components are fine. */
	for (char *p = dir + 1;; p++) {
		bool end = *p == '\0';
		if (!end && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			int err = errno;
			int code = wl__fail_errno(WL_EIO, err, "acquire %s guard: create directory %s",
			                          lockfile, dir);
			free(dir);
			return code;
		}
		if (end)
			break;
		*p = '/';
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		int code = wl__fail_errno(WL_EIO, ENOTDIR, "acquire %s guard: create directory %s",
		                          lockfile, dir);
		free(dir);
		return code;
	}
	free(dir);
	return 0;
}

/* The outcome of one attempt: held, busy (someone else holds it), or an
 * error already recorded. */
enum attempt { ATTEMPT_HELD, ATTEMPT_BUSY, ATTEMPT_FAILED };

static enum attempt try_lock(int *fd_out, int *code, const char *lockfile, const char *guard_path)
{
	int fd = open(guard_path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*code = wl__fail_errno(WL_EIO, errno, "acquire %s guard: open %s", lockfile,
		                       guard_path);
		return ATTEMPT_FAILED;
	}
	int rc;
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (rc != 0 && (errno == EIO || errno == EBADF)) {
		/* flock emulated over NFS byte-range locks needs a writable
		 * descriptor; retry once read-write if the mode allows it. */
		int first = errno;
		struct stat st;
		if (fstat(fd, &st) == 0 && (st.st_mode & 0600) == 0600) {
			close(fd);
			fd = open(guard_path, O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				*code = wl__fail_errno(WL_EIO, errno, "acquire %s guard: open %s",
				                       lockfile, guard_path);
				return ATTEMPT_FAILED;
			}
			while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
				;
		} else {
			errno = first;
		}
	}
	if (rc == 0) {
		*fd_out = fd;
		return ATTEMPT_HELD;
	}
	int err = errno;
	close(fd);
	if (err == EWOULDBLOCK || err == EAGAIN)
		return ATTEMPT_BUSY;
	*code = wl__fail_errno(WL_EIO, err, "acquire %s guard: flock %s", lockfile, guard_path);
	return ATTEMPT_FAILED;
}

/* Sleeps until `until_ns` (monotonic) in short slices; false as soon as
 * the cancel flag is seen. A signal interrupting the sleep ends the slice
 * early, so a handler that sets the flag is noticed at once. */
static bool wait_until(int64_t until_ns, const volatile sig_atomic_t *cancel)
{
	for (;;) {
		if (canceled(cancel))
			return false;
		int64_t left = until_ns - monotonic_ns();
		if (left <= 0)
			return true;
		if (left > GUARD_SLICE_NS)
			left = GUARD_SLICE_NS;
		struct timespec ts = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
		nanosleep(&ts, NULL);
	}
}

int wl_guard_acquire(wl_guard **out, const char *lockfile, double timeout_seconds,
                     const volatile sig_atomic_t *cancel)
{
	*out = NULL;
	if (lockfile == NULL || lockfile[0] == '\0')
		return wl__fail(WL_EINVALID, "acquire guard: empty lockfile path");
	if (canceled(cancel))
		return wl__fail(WL_ECANCELED, "acquire %s guard: canceled", lockfile);

	int64_t start = monotonic_ns();
	bool forever = timeout_seconds < 0 || timeout_seconds != timeout_seconds ||
	               timeout_seconds > 9.0e9;
	int64_t deadline = forever ? INT64_MAX : start + (int64_t)(timeout_seconds * 1e9);

	int code = make_parent_dirs(lockfile);
	if (code != 0)
		return code;

	wl_guard *g = calloc(1, sizeof *g);
	if (g == NULL)
		return wl__nomem();
	g->fd = -1;
	g->lockfile = strdup(lockfile);
	size_t n = strlen(lockfile);
	char *guard_path = malloc(n + sizeof ".guard");
	if (g->lockfile == NULL || guard_path == NULL) {
		free(guard_path);
		free(g->lockfile);
		free(g);
		return wl__nomem();
	}
	memcpy(guard_path, lockfile, n);
	memcpy(guard_path + n, ".guard", sizeof ".guard");

	for (;;) {
		enum attempt a = try_lock(&g->fd, &code, lockfile, guard_path);
		if (a == ATTEMPT_HELD)
			break;
		if (a == ATTEMPT_FAILED)
			goto fail;
		int64_t now = monotonic_ns();
		if (!canceled(cancel) && now >= deadline) {
			code = wl__fail(WL_ETIMEOUT,
			                "acquire %s guard: timed out after %gs waiting for the lock on %s",
			                lockfile, timeout_seconds, guard_path);
			goto fail;
		}
		int64_t next = now + GUARD_RETRY_NS;
		if (next > deadline)
			next = deadline;
		if (!wait_until(next, cancel)) {
			code = wl__fail(WL_ECANCELED, "acquire %s guard: canceled", lockfile);
			goto fail;
		}
	}
	free(guard_path);
	*out = g;
	return 0;

fail:
	free(guard_path);
	free(g->lockfile);
	free(g);
	return code;
}

/* Unlocks and frees; records an error only when `report` is set, so a
 * failure of the protected work keeps its own message. */
static int guard_release(wl_guard *guard, bool report)
{
	if (guard == NULL)
		return 0;
	int code = 0;
	if (flock(guard->fd, LOCK_UN) != 0 && report)
		code = wl__fail_errno(WL_EIO, errno, "release %s guard", guard->lockfile);
	close(guard->fd);
	free(guard->lockfile);
	free(guard);
	return code;
}

int wl_guard_release(wl_guard *guard)
{
	return guard_release(guard, true);
}

int wl_with_lock(const char *lockfile, double timeout_seconds, const volatile sig_atomic_t *cancel,
                 int (*fn)(void *ctx), void *ctx)
{
	wl_guard *guard;
	int code = wl_guard_acquire(&guard, lockfile, timeout_seconds, cancel);
	if (code != 0)
		return code;
	code = fn(ctx);
	int released = guard_release(guard, code == 0);
	return code != 0 ? code : released;
}
