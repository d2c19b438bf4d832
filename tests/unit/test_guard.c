/*
 * test_guard.c - the guard lock (SPEC.md §4.8, §15): exclusion across
 * processes and with flock(1), the project lock `.cog/cog.lock` taken
 * before `<lockfile>.guard`, one timeout for both, cancellation, directory
 * and file handling, and refusal of anything but a regular file.
 *
 * Timing is only bounded loosely: a timeout must not end much earlier than
 * asked, and a cancellation must end the wait long before any timeout.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char scratch[1024];

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void join_path(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", scratch, rel);
}

/* A child process holding the guard of `lockfile` until told to exit. */
typedef struct holder {
	pid_t pid;
	int release_fd; /* closing it lets the child go */
} holder;

static bool holder_start(holder *h, const char *lockfile)
{
	int ready[2], release[2];
	if (pipe(ready) != 0 || pipe(release) != 0)
		return false;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		wl_guard *g;
		if (wl_guard_acquire(&g, lockfile, 5, NULL) != 0)
			_exit(3);
		if (write(ready[1], "x", 1) != 1)
			_exit(4);
		char c;
		while (read(release[0], &c, 1) > 0)
			;
		_exit(wl_guard_release(g) == 0 ? 0 : 5);
	}
	close(ready[1]);
	close(release[0]);
	char c;
	ssize_t n = read(ready[0], &c, 1);
	close(ready[0]);
	h->pid = pid;
	h->release_fd = release[1];
	return n == 1;
}

static int holder_stop(holder *h)
{
	close(h->release_fd);
	int status = 0;
	waitpid(h->pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

/* The file descriptor of this process open on `path`, or -1. */
static int find_fd(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	struct dirent *de;
	int found = -1;
	while ((de = readdir(d)) != NULL) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* Whether an flock on `path` (a new open file description) is refused
 * right now; -1 when the file cannot be opened. */
static int flock_refused(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

/* Holds an flock on `path` (created if missing) in this process, as
 * flock(1) or another writer would; returns the descriptor or -1. */
static int hold_flock(const char *path)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

TEST(creates_directory_and_guard_file)
{
	char lockfile[PATH_MAX], guard_path[PATH_MAX], dir[PATH_MAX], cog_dir[PATH_MAX],
	    project_lock[PATH_MAX];
	join_path(dir, "made/deep/er");
	join_path(lockfile, "made/deep/er/weights.lock");
	join_path(guard_path, "made/deep/er/weights.lock.guard");
	join_path(cog_dir, "made/deep/er/.cog");
	join_path(project_lock, "made/deep/er/.cog/cog.lock");
	wl_guard *g = NULL;
	CHECK_OK(wl_guard_acquire(&g, lockfile, 1, NULL));
	CHECK(g != NULL);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK(stat(guard_path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(st.st_size, 0);
	CHECK(stat(cog_dir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK(stat(project_lock, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(st.st_size, 0);
	/* Both are held. */
	CHECK_INT(flock_refused(guard_path), 1);
	CHECK_INT(flock_refused(project_lock), 1);
	CHECK_OK(wl_guard_release(g));
	CHECK_INT(flock_refused(guard_path), 0);
	CHECK_INT(flock_refused(project_lock), 0);
	/* Never deleted, and the lockfile itself is not created. */
	CHECK(stat(guard_path, &st) == 0);
	CHECK(stat(project_lock, &st) == 0);
	CHECK(stat(lockfile, &st) != 0 && errno == ENOENT);
}

TEST(project_lock_is_beside_a_lockfile_in_the_current_directory)
{
	char here[PATH_MAX];
	CHECK(getcwd(here, sizeof here) != NULL);
	char dir[PATH_MAX];
	join_path(dir, "cwd");
	CHECK(mkdir(dir, 0755) == 0 && chdir(dir) == 0);
	wl_guard *g = NULL;
	int rc = wl_guard_acquire(&g, "weights.lock", 1, NULL);
	int held = flock_refused(".cog/cog.lock");
	if (rc == 0)
		wl_guard_release(g);
	int fd = hold_flock(".cog/cog.lock");
	int timed_out = wl_guard_acquire(&g, "weights.lock", 0, NULL);
	char message[512];
	snprintf(message, sizeof message, "%s", wl_error_last()->message);
	if (fd >= 0)
		close(fd);
	CHECK(chdir(here) == 0);
	CHECK_OK(rc);
	CHECK_INT(held, 1);
	CHECK_INT(timed_out, WL_ETIMEOUT);
	CHECK_STR(message, "acquire weights.lock guard: timed out after 0s waiting for the lock on "
	                   ".cog/cog.lock");
}

TEST(guard_fd_is_close_on_exec)
{
	char lockfile[PATH_MAX], guard_path[PATH_MAX];
	join_path(lockfile, "cloexec.lock");
	join_path(guard_path, "cloexec.lock.guard");
	wl_guard *g = NULL;
	CHECK_OK(wl_guard_acquire(&g, lockfile, 1, NULL));
	char project_lock[PATH_MAX];
	join_path(project_lock, ".cog/cog.lock");
	int fd = find_fd(guard_path), project_fd = find_fd(project_lock);
	if (fd < 0 || project_fd < 0) {
		wl_guard_release(g);
		CHECK(fd >= 0 && project_fd >= 0);
	}
	int flags = fcntl(fd, F_GETFD), project_flags = fcntl(project_fd, F_GETFD);
	CHECK_OK(wl_guard_release(g));
	CHECK(flags >= 0 && (flags & FD_CLOEXEC));
	CHECK(project_flags >= 0 && (project_flags & FD_CLOEXEC));
	CHECK_INT(find_fd(guard_path), -1);
	CHECK_INT(find_fd(project_lock), -1);
}

TEST(second_open_file_description_times_out)
{
	/* flock conflicts between open file descriptions, even in one process. */
	char lockfile[PATH_MAX];
	join_path(lockfile, "self.lock");
	wl_guard *a = NULL, *b = NULL;
	CHECK_OK(wl_guard_acquire(&a, lockfile, 0, NULL));
	int rc = wl_guard_acquire(&b, lockfile, 0, NULL);
	wl_guard_release(a);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK(b == NULL);
	CHECK_OK(wl_guard_acquire(&b, lockfile, 0, NULL));
	CHECK_OK(wl_guard_release(b));
}

TEST(timeout_while_another_process_holds_it)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "held/weights.lock");
	holder h;
	CHECK(holder_start(&h, lockfile));
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, 0.35, NULL);
	double waited = now_seconds() - t0;
	if (rc == 0)
		wl_guard_release(g);
	int child = holder_stop(&h);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK_INT(child, 0);
	CHECK(waited >= 0.3);
	/* The holder has both; the project lock is the first one waited for. */
	CHECK(strstr(wl_error_last()->message, "held/.cog/cog.lock") != NULL);
	CHECK(strstr(wl_error_last()->message, "0.35s") != NULL);
	CHECK(strstr(wl_error_last()->message, "acquire ") == wl_error_last()->message);
}

TEST(project_lock_held_elsewhere_times_out_and_takes_no_guard)
{
	char lockfile[PATH_MAX], cog_dir[PATH_MAX], project_lock[PATH_MAX], guard_path[PATH_MAX];
	join_path(lockfile, "cog-held/weights.lock");
	join_path(cog_dir, "cog-held/.cog");
	join_path(project_lock, "cog-held/.cog/cog.lock");
	join_path(guard_path, "cog-held/weights.lock.guard");
	char dir[PATH_MAX];
	join_path(dir, "cog-held");
	CHECK(mkdir(dir, 0755) == 0 && mkdir(cog_dir, 0755) == 0);
	int fd = hold_flock(project_lock);
	CHECK(fd >= 0);
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, 0.3, NULL);
	double waited = now_seconds() - t0;
	char message[1024];
	snprintf(message, sizeof message, "%s", wl_error_last()->message);
	if (rc == 0)
		wl_guard_release(g);
	close(fd);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK(g == NULL);
	CHECK(waited >= 0.25 && waited < 5);
	CHECK(strstr(message, "timed out after 0.3s waiting for the lock on ") != NULL);
	CHECK(strstr(message, "cog-held/.cog/cog.lock") != NULL);
	/* The guard was never created: the project lock comes first. */
	struct stat st;
	CHECK(stat(guard_path, &st) != 0 && errno == ENOENT);
}

TEST(guard_held_elsewhere_times_out_and_releases_the_project_lock)
{
	char lockfile[PATH_MAX], project_lock[PATH_MAX], guard_path[PATH_MAX], dir[PATH_MAX];
	join_path(dir, "guard-held");
	join_path(lockfile, "guard-held/weights.lock");
	join_path(project_lock, "guard-held/.cog/cog.lock");
	join_path(guard_path, "guard-held/weights.lock.guard");
	CHECK(mkdir(dir, 0755) == 0);
	int fd = hold_flock(guard_path);
	CHECK(fd >= 0);
	wl_guard *g = NULL;
	int rc = wl_guard_acquire(&g, lockfile, 0.2, NULL);
	char message[1024];
	snprintf(message, sizeof message, "%s", wl_error_last()->message);
	if (rc == 0)
		wl_guard_release(g);
	int project_busy = flock_refused(project_lock);
	close(fd);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK(strstr(message, "waiting for the lock on ") != NULL);
	CHECK(strstr(message, "guard-held/weights.lock.guard") != NULL);
	CHECK_INT(project_busy, 0);
}

typedef struct late_close {
	int fd;
	long delay_ns;
} late_close;

static void *close_later(void *arg)
{
	late_close *c = arg;
	struct timespec ts = {c->delay_ns / 1000000000L, c->delay_ns % 1000000000L};
	nanosleep(&ts, NULL);
	close(c->fd);
	return NULL;
}

TEST(one_timeout_covers_both_locks)
{
	/* The project lock is let go after 0.6 s, the guard never: with a
	 * 1 s budget the whole wait ends after about 1 s, not 0.6 + 1 s. */
	char lockfile[PATH_MAX], cog_dir[PATH_MAX], project_lock[PATH_MAX], guard_path[PATH_MAX];
	join_path(cog_dir, "budget");
	CHECK(mkdir(cog_dir, 0755) == 0);
	join_path(cog_dir, "budget/.cog");
	CHECK(mkdir(cog_dir, 0755) == 0);
	join_path(lockfile, "budget/weights.lock");
	join_path(project_lock, "budget/.cog/cog.lock");
	join_path(guard_path, "budget/weights.lock.guard");
	int guard_fd = hold_flock(guard_path);
	late_close c = {hold_flock(project_lock), 600000000L};
	CHECK(guard_fd >= 0 && c.fd >= 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, close_later, &c) == 0);
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, 1.0, NULL);
	double waited = now_seconds() - t0;
	pthread_join(th, NULL);
	if (rc == 0)
		wl_guard_release(g);
	close(guard_fd);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK(strstr(wl_error_last()->message, "budget/weights.lock.guard") != NULL);
	CHECK(waited >= 0.95);
	CHECK(waited < 1.45);
	CHECK_INT(flock_refused(project_lock), 0);
}

/* What may sit where a lock file belongs; each is refused at once. */
enum squatter { SQUAT_FIFO, SQUAT_DIRECTORY, SQUAT_DANGLING_LINK, SQUAT_LINK_TO_FILE };

static bool put_squatter(const char *path, enum squatter kind, const char *target)
{
	switch (kind) {
	case SQUAT_FIFO: return mkfifo(path, 0600) == 0;
	case SQUAT_DIRECTORY: return mkdir(path, 0755) == 0;
	case SQUAT_DANGLING_LINK: return symlink(target, path) == 0;
	case SQUAT_LINK_TO_FILE: {
		FILE *f = fopen(target, "w");
		if (f == NULL)
			return false;
		fclose(f);
		return symlink(target, path) == 0;
	}
	}
	return false;
}

static const char *const squatter_kind[] = {"(a FIFO)", "(a directory)", "(a symbolic link)",
                                            "(a symbolic link)"};

TEST(anything_but_a_regular_file_is_refused_at_once)
{
	const char *const which[] = {".cog/cog.lock", "weights.lock.guard"};
	for (int w = 0; w < 2; w++) {
		for (int k = SQUAT_FIFO; k <= SQUAT_LINK_TO_FILE; k++) {
			char dir[PATH_MAX], lockfile[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
			char other[PATH_MAX], cog[PATH_MAX], rel[64];
			/* squat-W-K/ holds the lockfile and, already, its .cog/. */
#define SQUAT_PATH(out, name)                                            \
	do {                                                             \
		snprintf(rel, sizeof rel, "squat-%d-%d%s%s", w, k,       \
		         (name)[0] ? "/" : "", (name));                  \
		join_path(out, rel);                                     \
	} while (0)
			SQUAT_PATH(dir, "");
			CHECK(mkdir(dir, 0755) == 0);
			SQUAT_PATH(cog, ".cog");
			CHECK(mkdir(cog, 0755) == 0);
			SQUAT_PATH(lockfile, "weights.lock");
			SQUAT_PATH(path, which[w]);
			SQUAT_PATH(other, which[1 - w]);
			SQUAT_PATH(target, "target");
#undef SQUAT_PATH
			CHECK(put_squatter(path, (enum squatter)k, target));
			struct stat before;
			bool had_target = stat(target, &before) == 0;
			wl_guard *g = NULL;
			double t0 = now_seconds();
			/* Forever: a FIFO must neither block the open nor be waited on. */
			int rc = wl_guard_acquire(&g, lockfile, -1, NULL);
			double waited = now_seconds() - t0;
			if (rc == 0)
				wl_guard_release(g);
			CHECK_INT(rc, WL_EIO);
			CHECK(waited < 2);
			char want[3 * PATH_MAX];
			snprintf(want, sizeof want, "acquire %s guard: %s is not a regular file %s", lockfile,
			         path, squatter_kind[k]);
			CHECK_STR(wl_error_last()->message, want);
			/* The link's target is neither created nor touched; nothing is held. */
			struct stat st;
			if (had_target)
				CHECK(stat(target, &st) == 0 && st.st_size == 0 && st.st_ino == before.st_ino);
			else
				CHECK(lstat(target, &st) != 0 && errno == ENOENT);
			CHECK(lstat(path, &st) == 0);
			CHECK_INT(flock_refused(other), w == 0 ? -1 : 0);
		}
	}
}

TEST(a_file_named_cog_is_an_error)
{
	char dir[PATH_MAX], cog[PATH_MAX], lockfile[PATH_MAX], guard_path[PATH_MAX];
	join_path(dir, "cog-file");
	CHECK(mkdir(dir, 0755) == 0);
	join_path(cog, "cog-file/.cog");
	FILE *f = fopen(cog, "w");
	CHECK(f != NULL);
	fclose(f);
	join_path(lockfile, "cog-file/weights.lock");
	join_path(guard_path, "cog-file/weights.lock.guard");
	wl_guard *g = NULL;
	CHECK_ERR(wl_guard_acquire(&g, lockfile, 0, NULL), WL_EIO, "create directory ");
	CHECK(strstr(wl_error_last()->message, "cog-file/.cog: Not a directory") != NULL);
	struct stat st;
	CHECK(stat(guard_path, &st) != 0);
}

TEST(acquired_once_the_holder_exits)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "handover.lock");
	holder h;
	CHECK(holder_start(&h, lockfile));
	/* The holder exits when every copy of its release pipe is closed: a
	 * helper keeps a copy for 300 ms while we are already waiting. */
	pid_t releaser = fork();
	if (releaser == 0) {
		struct timespec ts = {0, 300000000L};
		nanosleep(&ts, NULL);
		_exit(0);
	}
	close(h.release_fd);
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, 20, NULL);
	double waited = now_seconds() - t0;
	int status;
	waitpid(releaser, &status, 0);
	waitpid(h.pid, &status, 0);
	CHECK_OK(rc);
	CHECK_OK(wl_guard_release(g));
	CHECK(waited >= 0.2);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

typedef struct canceler {
	volatile sig_atomic_t *flag;
	long delay_ns;
} canceler;

static void *cancel_later(void *arg)
{
	canceler *c = arg;
	struct timespec ts = {0, c->delay_ns};
	nanosleep(&ts, NULL);
	*c->flag = 1;
	return NULL;
}

TEST(cancel_from_another_thread_ends_the_wait)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "cancel.lock");
	holder h;
	CHECK(holder_start(&h, lockfile));
	static volatile sig_atomic_t flag;
	flag = 0;
	canceler c = {&flag, 250000000L};
	pthread_t th;
	CHECK(pthread_create(&th, NULL, cancel_later, &c) == 0);
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, -1, &flag);
	double waited = now_seconds() - t0;
	pthread_join(th, NULL);
	if (rc == 0)
		wl_guard_release(g);
	int child = holder_stop(&h);
	CHECK_INT(rc, WL_ECANCELED);
	CHECK_INT(child, 0);
	CHECK(waited >= 0.2);
	CHECK(waited < 5);
	CHECK(strstr(wl_error_last()->message, "cancel.lock guard: canceled") != NULL);
}

static volatile sig_atomic_t alarm_flag;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_flag = 1;
}

TEST(cancel_from_a_signal_handler_ends_the_wait)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "signal.lock");
	holder h;
	CHECK(holder_start(&h, lockfile));
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarm_flag = 0;
	struct itimerval it = {{0, 0}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	wl_guard *g = NULL;
	double t0 = now_seconds();
	int rc = wl_guard_acquire(&g, lockfile, 30, &alarm_flag);
	double waited = now_seconds() - t0;
	sigaction(SIGALRM, &old, NULL);
	if (rc == 0)
		wl_guard_release(g);
	int child = holder_stop(&h);
	CHECK_INT(rc, WL_ECANCELED);
	CHECK_INT(child, 0);
	CHECK(waited < 5);
}

TEST(cancel_already_set_fails_without_trying)
{
	char lockfile[PATH_MAX], dir[PATH_MAX];
	join_path(dir, "never");
	join_path(lockfile, "never/weights.lock");
	volatile sig_atomic_t flag = 1;
	wl_guard *g = (wl_guard *)&flag;
	CHECK_ERR(wl_guard_acquire(&g, lockfile, -1, &flag), WL_ECANCELED,
	          "weights.lock guard: canceled");
	CHECK(g == NULL);
	struct stat st;
	CHECK(stat(dir, &st) != 0);
}

TEST(interoperates_with_flock_command)
{
	if (access("/usr/bin/flock", X_OK) != 0) {
		printf("skip interoperates_with_flock_command: no flock(1)\n");
		return;
	}
	char lockfile[PATH_MAX], guard_path[PATH_MAX], cmd[3 * PATH_MAX];
	join_path(lockfile, "flock1.lock");
	join_path(guard_path, "flock1.lock.guard");
	wl_guard *g = NULL;
	CHECK_OK(wl_guard_acquire(&g, lockfile, 1, NULL));
	/* While we hold it, flock(1) cannot take it... */
	snprintf(cmd, sizeof cmd, "flock -n -x '%s' true", guard_path);
	int busy = system(cmd);
	CHECK_OK(wl_guard_release(g));
	CHECK(WIFEXITED(busy) && WEXITSTATUS(busy) == 1);
	/* ...and once released it can. */
	int free_rc = system(cmd);
	CHECK(WIFEXITED(free_rc) && WEXITSTATUS(free_rc) == 0);

	/* flock(1) holding it makes us wait. */
	int in[2], out[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/flock", "flock", "-x", guard_path, "sh", "-c",
		      "echo held; read line", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	char buf[8] = {0};
	ssize_t n = read(out[0], buf, 5);
	close(out[0]);
	int rc = wl_guard_acquire(&g, lockfile, 0.2, NULL);
	if (rc == 0)
		wl_guard_release(g);
	close(in[1]);
	int status;
	waitpid(pid, &status, 0);
	CHECK_INT(n, 5);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK_OK(wl_guard_acquire(&g, lockfile, 5, NULL));
	CHECK_OK(wl_guard_release(g));
}

typedef struct work {
	const char *lockfile;
	int calls;
	int probe; /* what another process got when trying the lock meanwhile */
	int result;
} work;

static int probe_lock(void *arg)
{
	work *w = arg;
	w->calls++;
	pid_t pid = fork();
	if (pid == 0) {
		wl_guard *g;
		int rc = wl_guard_acquire(&g, w->lockfile, 0, NULL);
		_exit(rc == WL_ETIMEOUT ? 7 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	w->probe = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (w->result != 0) {
		/* Fail with a message recorded by the library itself. */
		wl_guard *g;
		return wl_guard_acquire(&g, "", 0, NULL);
	}
	return 0;
}

TEST(with_lock_runs_the_work_while_held)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "with/weights.lock");
	work w = {lockfile, 0, 0, 0};
	CHECK_OK(wl_with_lock(lockfile, 1, NULL, probe_lock, &w));
	CHECK_INT(w.calls, 1);
	CHECK_INT(w.probe, 7);
	/* Released afterwards. */
	wl_guard *g;
	CHECK_OK(wl_guard_acquire(&g, lockfile, 0, NULL));
	CHECK_OK(wl_guard_release(g));
}

TEST(with_lock_returns_the_work_error_and_its_message)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "with-error.lock");
	work w = {lockfile, 0, 0, 1};
	CHECK_ERR(wl_with_lock(lockfile, 1, NULL, probe_lock, &w), WL_EINVALID, "empty lockfile path");
	CHECK_INT(w.calls, 1);
}

TEST(with_lock_runs_nothing_when_not_acquired)
{
	char lockfile[PATH_MAX];
	join_path(lockfile, "with-busy.lock");
	wl_guard *g;
	CHECK_OK(wl_guard_acquire(&g, lockfile, 0, NULL));
	work w = {lockfile, 0, 0, 0};
	int rc = wl_with_lock(lockfile, 0.15, NULL, probe_lock, &w);
	wl_guard_release(g);
	CHECK_INT(rc, WL_ETIMEOUT);
	CHECK_INT(w.calls, 0);
	volatile sig_atomic_t flag = 1;
	CHECK_INT(wl_with_lock(lockfile, 1, &flag, probe_lock, &w), WL_ECANCELED);
	CHECK_INT(w.calls, 0);
}

TEST(unwritable_directory_is_an_error)
{
	if (geteuid() == 0) {
		/* root ignores directory permissions; use a file as the parent. */
		char file[PATH_MAX], lockfile[PATH_MAX];
		join_path(file, "plain-file");
		FILE *f = fopen(file, "w");
		CHECK(f != NULL);
		fclose(f);
		join_path(lockfile, "plain-file/sub/weights.lock");
		wl_guard *g;
		CHECK_ERR(wl_guard_acquire(&g, lockfile, 0, NULL), WL_EIO, "plain-file");
		return;
	}
	char dir[PATH_MAX], lockfile[PATH_MAX];
	join_path(dir, "readonly");
	CHECK(mkdir(dir, 0555) == 0);
	join_path(lockfile, "readonly/weights.lock");
	wl_guard *g;
	int rc = wl_guard_acquire(&g, lockfile, 0, NULL);
	chmod(dir, 0755);
	CHECK_INT(rc, WL_EIO);
	/* The project lock's directory is the first thing created. */
	CHECK(strstr(wl_error_last()->message, "readonly/.cog") != NULL);
}

static void remove_tree(const char *path)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof scratch, "%s/wl-guard-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(creates_directory_and_guard_file);
	RUN(project_lock_is_beside_a_lockfile_in_the_current_directory);
	RUN(guard_fd_is_close_on_exec);
	RUN(second_open_file_description_times_out);
	RUN(timeout_while_another_process_holds_it);
	RUN(project_lock_held_elsewhere_times_out_and_takes_no_guard);
	RUN(guard_held_elsewhere_times_out_and_releases_the_project_lock);
	RUN(one_timeout_covers_both_locks);
	RUN(anything_but_a_regular_file_is_refused_at_once);
	RUN(a_file_named_cog_is_an_error);
	RUN(acquired_once_the_holder_exits);
	RUN(cancel_from_another_thread_ends_the_wait);
	RUN(cancel_from_a_signal_handler_ends_the_wait);
	RUN(cancel_already_set_fails_without_trying);
	RUN(interoperates_with_flock_command);
	RUN(with_lock_runs_the_work_while_held);
	RUN(with_lock_returns_the_work_error_and_its_message);
	RUN(with_lock_runs_nothing_when_not_acquired);
	RUN(unwritable_directory_is_an_error);
	remove_tree(scratch);
	return harness_summary("guard");
}
