/*
 * pool.c - the library's one way to use several cores: a parallel for
 * over numbered jobs on a fixed set of worker threads.
 *
 * Jobs are handed out one at a time from a shared counter, so large and
 * small jobs balance themselves. The calling thread does not run jobs: it
 * wakes every 100 ms to call the caller's tick (progress), so progress keeps
 * flowing while a worker is deep in a multi-gigabyte file. The first error
 * stops the hand-out and is re-raised on the calling thread with its
 * message (error records are thread-local).
 */
#include "common/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct pool {
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	size_t next, jobs;
	int running; /* workers still in the loop */
	int rc;      /* first failure */
	int sys_errno;
	char message[2048];
	wl_job_fn fn;
	void *ctx;
	const volatile sig_atomic_t *cancel;
} pool;

int wl__cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 256 ? 256 : (int)n;
}

static void record_failure(pool *p, int rc)
{
	/* Called with the mutex held, on the failing thread. */
	if (p->rc != 0)
		return;
	p->rc = rc;
	const wl_error *e = wl_error_last();
	p->sys_errno = e->sys_errno;
	snprintf(p->message, sizeof p->message, "%s", e->code == rc ? e->message : "job failed");
}

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->rc == 0 && p->cancel != NULL && *p->cancel) {
			wl__fail(WL_ECANCELED, "canceled");
			record_failure(p, WL_ECANCELED);
		}
		if (p->rc != 0 || p->next >= p->jobs) {
			if (--p->running == 0)
				pthread_cond_broadcast(&p->done_cv);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		size_t job = p->next++;
		pthread_mutex_unlock(&p->mu);
		int rc = p->fn(p->ctx, job);
		if (rc != 0) {
			pthread_mutex_lock(&p->mu);
			record_failure(p, rc);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

int wl__run_parallel(size_t jobs, int threads, wl_job_fn fn, void *ctx, wl_tick_fn tick, void *tick_ctx,
                     const volatile sig_atomic_t *cancel)
{
	if (threads <= 0)
		threads = wl__cpu_count();
	if ((size_t)threads > jobs)
		threads = jobs > 0 ? (int)jobs : 1;
	if (jobs == 0) {
		if (tick != NULL)
			tick(tick_ctx);
		return 0;
	}
	if (threads == 1 && tick == NULL) {
		for (size_t i = 0; i < jobs; i++) {
			if (cancel != NULL && *cancel)
				return wl__fail(WL_ECANCELED, "canceled");
			int rc = fn(ctx, i);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	pool p;
	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p.done_cv, &ca);
	pthread_condattr_destroy(&ca);
	p.jobs = jobs;
	p.fn = fn;
	p.ctx = ctx;
	p.cancel = cancel;
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (tids == NULL)
		return wl__nomem();
	int started = 0;
	pthread_mutex_lock(&p.mu);
	for (int i = 0; i < threads; i++) {
		p.running++;
		if (pthread_create(&tids[i], NULL, worker, &p) != 0) {
			p.running--;
			break;
		}
		started++;
	}
	if (started == 0) {
		pthread_mutex_unlock(&p.mu);
		free(tids);
		pthread_mutex_destroy(&p.mu);
		pthread_cond_destroy(&p.done_cv);
		return wl__fail_errno(WL_EIO, EAGAIN, "cannot start worker threads");
	}
	while (p.running > 0) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p.done_cv, &p.mu, &until);
		if (p.running > 0 && tick != NULL) {
			pthread_mutex_unlock(&p.mu);
			tick(tick_ctx);
			pthread_mutex_lock(&p.mu);
		}
	}
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	if (tick != NULL)
		tick(tick_ctx);
	int rc = p.rc;
	if (rc != 0) {
		/* The message already carries the strerror text, if any. */
		wl__fail(rc, "%s", p.message);
		wl__error_set_errno(p.sys_errno);
	}
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.done_cv);
	return rc;
}
