/*
 * guard.c - the guard lock (SPEC.md §4.8).
 *
 * Owns wl_guard_acquire, wl_guard_release and wl_with_lock: exclusive
 * flock(2) locks that serialize load-modify-save across processes and
 * interoperate with Cog and flock(1). Two files are locked, in this order:
 * `<dir of the lockfile>/.cog/cog.lock` (the project lock of Cog v0.20 and
 * later) and `<lockfile>.guard` (Cog v0.19's guard), so that writers of
 * every Cog release are excluded. Both are created as needed, never
 * written and never deleted; neither may be anything but a regular file.
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
	int project_fd; /* <dir>/.cog/cog.lock, taken first */
	int guard_fd;   /* <lockfile>.guard, taken second */
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


/* Opens a lock file for flock without following a symbolic link or waiting
 * on a FIFO, and accepts only a regular file. `access` is O_RDONLY |
 * O_CREAT, or O_RDWR for the NFS retry. */
static int open_lock_file(int *out, const char *lockfile, const char *path, int access)
{
	int fd = open(path, access | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	int err = errno;
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return wl__fail_errno(WL_EIO, err, "acquire %s guard: stat %s", lockfile, path);
	}
	/* A failed open names what is in the way when something is. */
	if (fd < 0 && (lstat(path, &st) != 0 || S_ISREG(st.st_mode)))
		return wl__fail_errno(WL_EIO, err, "acquire %s guard: open %s", lockfile, path);
	if (!S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return wl__fail(WL_EIO, "acquire %s guard: %s is not a regular file (%s)", lockfile, path,
		                wl__file_kind(st.st_mode));
	}
	*out = fd;
	return 0;
}

/* The outcome of one attempt: held, busy (someone else holds it), or an
 * error already recorded. */
enum attempt { ATTEMPT_HELD, ATTEMPT_BUSY, ATTEMPT_FAILED };

static enum attempt try_lock(int *fd_out, int *code, const char *lockfile, const char *path)
{
	int fd;
	if ((*code = open_lock_file(&fd, lockfile, path, O_RDONLY | O_CREAT)) != 0)
		return ATTEMPT_FAILED;
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
			if ((*code = open_lock_file(&fd, lockfile, path, O_RDWR)) != 0)
				return ATTEMPT_FAILED;
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
	*code = wl__fail_errno(WL_EIO, err, "acquire %s guard: flock %s", lockfile, path);
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

/* The wait every lock of one acquisition shares. */
typedef struct budget {
	int64_t deadline; /* monotonic ns; INT64_MAX: forever */
	double timeout_seconds;
	const volatile sig_atomic_t *cancel;
} budget;

/* Takes the flock on `path`, polling every 100 ms within the budget. */
static int lock_one(int *fd_out, const char *lockfile, const char *path, const budget *b)
{
	for (;;) {
		int code = 0;
		enum attempt a = try_lock(fd_out, &code, lockfile, path);
		if (a == ATTEMPT_HELD)
			return 0;
		if (a == ATTEMPT_FAILED)
			return code;
		int64_t now = monotonic_ns();
		if (!canceled(b->cancel) && now >= b->deadline)
			return wl__fail(WL_ETIMEOUT,
			                "acquire %s guard: timed out after %gs waiting for the lock on %s",
			                lockfile, b->timeout_seconds, path);
		int64_t next = now + GUARD_RETRY_NS;
		if (next > b->deadline)
			next = b->deadline;
		if (!wait_until(next, b->cancel))
			return wl__fail(WL_ECANCELED, "acquire %s guard: canceled", lockfile);
	}
}

/* Unlocks and closes one lock file; the errno of a failed unlock, or 0. */
static int unlock_one(int fd)
{
	if (fd < 0)
		return 0;
	int err = flock(fd, LOCK_UN) != 0 ? errno : 0;
	close(fd);
	return err;
}

/* malloc'd `prefix` + `suffix`, where prefix is the first `n` bytes. */
static char *concat(const char *prefix, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	char *s = malloc(n + m + 1);
	if (s != NULL) {
		memcpy(s, prefix, n);
		memcpy(s + n, suffix, m + 1);
	}
	return s;
}

static void guard_free(wl_guard *g)
{
	free(g->lockfile);
	free(g);
}

int wl_guard_acquire(wl_guard **out, const char *lockfile, double timeout_seconds,
                     const volatile sig_atomic_t *cancel)
{
	*out = NULL;
	if (lockfile == NULL || lockfile[0] == '\0')
		return wl__fail(WL_EINVALID, "acquire guard: empty lockfile path");
	if (canceled(cancel))
		return wl__fail(WL_ECANCELED, "acquire %s guard: canceled", lockfile);

	bool forever = timeout_seconds < 0 || timeout_seconds != timeout_seconds ||
	               timeout_seconds > 9.0e9;
	budget b = {forever ? INT64_MAX : monotonic_ns() + (int64_t)(timeout_seconds * 1e9),
	            timeout_seconds, cancel};

	wl_guard *g = calloc(1, sizeof *g);
	if (g == NULL)
		return wl__nomem();
	g->project_fd = g->guard_fd = -1;
	g->lockfile = strdup(lockfile);
	/* The lockfile's directory, with its slash ("" for the current one). */
	const char *slash = strrchr(lockfile, '/');
	size_t dir_len = slash == NULL ? 0 : (size_t)(slash - lockfile) + 1;
	char *cog_dir = concat(lockfile, dir_len, WL_PROJECT_LOCK_DIR);
	char *project_path = concat(lockfile, dir_len, WL_PROJECT_LOCK_PATH);
	char *guard_path = concat(lockfile, strlen(lockfile), WL_GUARD_SUFFIX);
	int code = 0;
	if (g->lockfile == NULL || cog_dir == NULL || project_path == NULL || guard_path == NULL)
		code = wl__nomem();
	if (code == 0)
		code = wl__make_dirs(cog_dir, 0755, "acquire %s guard", lockfile);
	/* Later Cog's lock first, then the guard: one budget for both. */
	if (code == 0)
		code = lock_one(&g->project_fd, lockfile, project_path, &b);
	if (code == 0 && (code = lock_one(&g->guard_fd, lockfile, guard_path, &b)) != 0)
		unlock_one(g->project_fd);
	free(cog_dir);
	free(project_path);
	free(guard_path);
	if (code != 0) {
		guard_free(g);
		return code;
	}
	*out = g;
	return 0;
}

/* Unlocks in the reverse order of acquisition and frees; records an error
 * only when `report` is set, so a failure of the protected work keeps its
 * own message. */
static int guard_release(wl_guard *guard, bool report)
{
	if (guard == NULL)
		return 0;
	int err = unlock_one(guard->guard_fd);
	int project_err = unlock_one(guard->project_fd);
	if (err == 0)
		err = project_err;
	int code = 0;
	if (err != 0 && report)
		code = wl__fail_errno(WL_EIO, err, "release %s guard", guard->lockfile);
	guard_free(guard);
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
