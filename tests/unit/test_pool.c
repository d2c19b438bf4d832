/*
 * test_pool.c - the parallel-for behind hashing and packing: every job runs
 * once, the first failure comes back with its message, cancellation stops
 * the hand-out, progress ticks run on the calling thread.
 */
#include "harness.h"
#include "common/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct counts {
	atomic_int runs[1000];
	atomic_int total;
	size_t fail_at;
	int ticks;
	pthread_t caller;
	int tick_on_other_thread;
	volatile sig_atomic_t *cancel_after;
} counts;

static int count_job(void *ctx, size_t job)
{
	counts *c = ctx;
	atomic_fetch_add(&c->runs[job], 1);
	atomic_fetch_add(&c->total, 1);
	if (c->fail_at == job)
		return wl__fail(WL_EIO, "job %zu failed on purpose", job);
	if (c->cancel_after != NULL && job == 5)
		*c->cancel_after = 1;
	if (job % 97 == 0)
		usleep(2000);
	return 0;
}

static void tick(void *ctx)
{
	counts *c = ctx;
	c->ticks++;
	if (!pthread_equal(pthread_self(), c->caller))
		c->tick_on_other_thread = 1;
}

TEST(every_job_runs_exactly_once)
{
	static counts c;
	memset(&c, 0, sizeof c);
	c.fail_at = (size_t)-1;
	c.caller = pthread_self();
	CHECK_OK(wl__run_parallel(1000, 4, count_job, &c, tick, &c, NULL));
	for (int i = 0; i < 1000; i++)
		CHECK_INT(atomic_load(&c.runs[i]), 1);
	CHECK(c.ticks >= 1);
	CHECK(!c.tick_on_other_thread);
}

TEST(single_thread_without_ticks_runs_inline)
{
	static counts c;
	memset(&c, 0, sizeof c);
	c.fail_at = (size_t)-1;
	CHECK_OK(wl__run_parallel(50, 1, count_job, &c, NULL, NULL, NULL));
	CHECK_INT(atomic_load(&c.total), 50);
}

TEST(first_failure_returns_with_its_message_on_the_calling_thread)
{
	static counts c;
	memset(&c, 0, sizeof c);
	c.fail_at = 10;
	CHECK_ERR(wl__run_parallel(1000, 2, count_job, &c, NULL, NULL, NULL), WL_EIO,
	          "job 10 failed on purpose");
	/* The hand-out stopped: far fewer than all jobs ran. */
	CHECK(atomic_load(&c.total) < 1000);
}

TEST(cancellation_stops_handing_out_jobs)
{
	static counts c;
	static volatile sig_atomic_t cancel;
	memset(&c, 0, sizeof c);
	cancel = 0;
	c.fail_at = (size_t)-1;
	c.cancel_after = &cancel;
	CHECK_ERR(wl__run_parallel(1000, 2, count_job, &c, NULL, NULL, &cancel), WL_ECANCELED, "canceled");
	CHECK(atomic_load(&c.total) < 1000);
}

TEST(no_jobs_is_success)
{
	static counts c;
	memset(&c, 0, sizeof c);
	c.caller = pthread_self();
	CHECK_OK(wl__run_parallel(0, 4, count_job, &c, tick, &c, NULL));
	CHECK_INT(c.ticks, 1);
}

int main(void)
{
	RUN(every_job_runs_exactly_once);
	RUN(single_thread_without_ticks_runs_inline);
	RUN(first_failure_returns_with_its_message_on_the_calling_thread);
	RUN(cancellation_stops_handing_out_jobs);
	RUN(no_jobs_is_success);
	return harness_summary("pool");
}
