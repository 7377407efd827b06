/* tests/async/test_pool.c - the offload pool: results on the loop
 * thread, many jobs, cancel of queued jobs, back-pressure, shutdown with
 * jobs pending, several loops sharing one pool. Runs under every engine
 * fallback: nomsgring takes the eventfd path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct job {
	struct coil_op op;
	int in;
	pid_t worker_tid; /* written by the worker */
	int calls;
	int res;
	pid_t cb_tid;
	int seq;
};

static int job_seq;

static int triple(void *arg)
{
	struct job *j = arg;
	j->worker_tid = tu_gettid();
	return j->in * 3;
}

static void job_cb(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, op);
	(void)flags;
	j->calls++;
	j->res = res;
	j->cb_tid = tu_gettid();
	j->seq = job_seq++;
}

static void job_init(struct job *j, int in)
{
	memset(j, 0, sizeof(*j));
	j->in = in;
	coil_op_init(&j->op, job_cb);
}

/* 10,000 jobs on 4 workers: every result arrives once, on the loop's
 * thread (checked by thread id), computed on a worker thread */
static void test_pool_10000_jobs_results_on_loop_thread(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 4, .queue_max = 64};
	struct coil_pool *pool;
	struct coil_pool_stats st;
	struct job *jobs = calloc(10000, sizeof(*jobs));
	pid_t me = tu_gettid();

	assert_non_null(jobs);
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	for (int i = 0; i < 10000; i++) {
		job_init(&jobs[i], i);
		/* beyond queue_max the jobs wait their turn (default) */
		assert_int_equal(coil_pool_submit(loop, pool, &jobs[i].op,
						  triple, &jobs[i]),
				 0);
	}
	assert_int_equal(jobs[0].calls, 0); /* never inline */
	assert_int_equal(coil_loop_inflight(loop), 10000);
	assert_int_equal(run_idle(loop, 60 * SEC), 0);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(jobs[i].calls, 1);
		assert_int_equal(jobs[i].res, i * 3);
		assert_int_equal(jobs[i].cb_tid, me);
		assert_true(jobs[i].worker_tid != me);
		assert_true(jobs[i].worker_tid > 0);
	}
	/* the counters trail the results a little; after shutdown (which
	 * joins the workers) they are exact */
	assert_int_equal(coil_pool_shutdown(pool, COIL_POOL_DRAIN), 0);
	coil_pool_stats(pool, &st);
	assert_int_equal(st.submitted, 10000);
	assert_int_equal(st.completed, 10000);
	assert_int_equal(st.via_msg_ring + st.via_eventfd, 10000);
	assert_int_equal(st.threads, 4);
	if (coil_loop_features(loop) & COIL_FEAT_MSG_RING) {
		/* batches: a doorbell carries one result or more */
		assert_int_equal(st.via_msg_ring, 10000);
		assert_true(st.doorbells > 0);
		assert_true(st.doorbells <= st.via_msg_ring);
	} else {
		assert_int_equal(st.via_eventfd, 10000);
		assert_int_equal(st.doorbells, 0);
	}
	print_message("msg_ring %llu (%llu doorbells), eventfd %llu\n",
		      (unsigned long long)st.via_msg_ring,
		      (unsigned long long)st.doorbells,
		      (unsigned long long)st.via_eventfd);
	coil_pool_free(pool);
	free(jobs);
	coil_loop_free(loop);
}

/* cancel jobs that have not started: -ECANCELED through the loop; the
 * running one answers -EALREADY; the rest run in order */
static void test_pool_cancel_queued_jobs(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 1};
	struct coil_pool *pool;
	struct coil_pool_stats st;
	struct gate gate;
	struct job g, jobs[10], stranger;

	gate_init(&gate);
	job_seq = 0;
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	job_init(&g, 0);
	assert_int_equal(coil_pool_submit(loop, pool, &g.op, gate_job, &gate),
			 0);
	gate_wait_blocked(&gate, 1);
	for (int i = 0; i < 10; i++) {
		job_init(&jobs[i], i);
		assert_int_equal(coil_pool_submit(loop, pool, &jobs[i].op,
						  triple, &jobs[i]),
				 0);
	}
	for (int i = 0; i < 10; i += 2)
		assert_int_equal(coil_cancel(loop, &jobs[i].op), 0);
	assert_int_equal(jobs[0].calls, 0); /* not inline */
	assert_int_equal(coil_cancel(loop, &g.op), -EALREADY);
	assert_int_equal(coil_pool_cancel(loop, pool, &g.op), -EALREADY);
	job_init(&stranger, 0);
	assert_int_equal(coil_pool_cancel(loop, pool, &stranger.op), -ENOENT);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	for (int i = 0; i < 10; i += 2) {
		assert_int_equal(jobs[i].calls, 1);
		assert_int_equal(jobs[i].res, -ECANCELED);
		assert_int_equal(jobs[i].worker_tid, 0); /* never ran */
	}
	coil_pool_stats(pool, &st);
	assert_int_equal(st.cancelled, 5);
	assert_int_equal(st.queued, 5);
	assert_int_equal(st.running, 1);
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	assert_int_equal(g.res, 1000);
	int last = -1;
	for (int i = 1; i < 10; i += 2) {
		assert_int_equal(jobs[i].res, i * 3);
		assert_true(jobs[i].seq > last); /* one worker: in order */
		last = jobs[i].seq;
	}
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_loop_free(loop);
}

/* back-pressure: with NOWAIT a full queue answers -EAGAIN; the default
 * waits its turn */
static void test_pool_full_queue_eagain_or_wait(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 1, .queue_max = 4};
	struct coil_pool *pool;
	struct coil_pool_stats st;
	struct gate gate;
	struct job g, jobs[6];

	gate_init(&gate);
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	job_init(&g, 0);
	assert_int_equal(coil_pool_submit(loop, pool, &g.op, gate_job, &gate),
			 0);
	gate_wait_blocked(&gate, 1);
	for (int i = 0; i < 6; i++)
		job_init(&jobs[i], i);
	for (int i = 0; i < 4; i++)
		assert_int_equal(coil_pool_submit_flags(loop, pool, &jobs[i].op,
							triple, &jobs[i],
							COIL_POOL_NOWAIT),
				 0);
	assert_int_equal(coil_pool_submit_flags(loop, pool, &jobs[4].op, triple,
						&jobs[4], COIL_POOL_NOWAIT),
			 -EAGAIN);
	assert_false(coil_op_busy(&jobs[4].op)); /* refused: not in flight */
	assert_int_equal(coil_pool_submit_flags(loop, pool, &jobs[4].op, triple,
						&jobs[4], COIL_POOL_WAIT),
			 0);
	assert_int_equal(
		coil_pool_submit(loop, pool, &jobs[5].op, triple, &jobs[5]), 0);
	coil_pool_stats(pool, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.queued, 6);
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(jobs[i].res, i * 3);
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_loop_free(loop);
}

/* shutdown with jobs pending, discarding: run from another thread (it
 * blocks joining the worker held by the gate); the loop sees the
 * discarded jobs' -ECANCELED, then opens the gate */
struct shut {
	struct coil_pool *pool;
	int ret;
};

static void *shutdown_thread(void *arg)
{
	struct shut *s = arg;
	s->ret = coil_pool_shutdown(s->pool, COIL_POOL_DISCARD);
	return NULL;
}

static void test_pool_shutdown_discard_with_jobs_pending(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 1};
	struct coil_pool *pool;
	struct gate gate;
	struct job g, jobs[100], late;
	struct shut s;
	pthread_t th;

	gate_init(&gate);
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	job_init(&g, 0);
	assert_int_equal(coil_pool_submit(loop, pool, &g.op, gate_job, &gate),
			 0);
	gate_wait_blocked(&gate, 1);
	for (int i = 0; i < 100; i++) {
		job_init(&jobs[i], i);
		assert_int_equal(coil_pool_submit(loop, pool, &jobs[i].op,
						  triple, &jobs[i]),
				 0);
	}
	s.pool = pool;
	s.ret = -1;
	assert_int_equal(pthread_create(&th, NULL, shutdown_thread, &s), 0);

	/* wait for the 100 cancellations (they come through the loop) */
	int cancelled = 0;
	uint64_t end = tu_mono_ns() + 10 * SEC;
	while (cancelled < 100 && tu_mono_ns() < end) {
		coil_loop_run(loop, COIL_RUN_ONCE);
		cancelled = 0;
		for (int i = 0; i < 100; i++)
			cancelled += jobs[i].res == -ECANCELED;
	}
	assert_int_equal(cancelled, 100);
	job_init(&late, 1);
	assert_int_equal(coil_pool_submit(loop, pool, &late.op, triple, &late),
			 -ESHUTDOWN);
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	pthread_join(th, NULL);
	assert_int_equal(s.ret, 100);
	assert_int_equal(g.res, 1000); /* the running job finished */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(jobs[i].calls, 1);
		assert_int_equal(jobs[i].worker_tid, 0);
	}
	assert_int_equal(coil_pool_shutdown(pool, COIL_POOL_DRAIN), -EALREADY);
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_loop_free(loop);
}

/* shutdown that drains: every queued job runs before the workers go */
static void test_pool_shutdown_drain_runs_pending(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 2};
	struct coil_pool *pool;
	struct job *jobs = calloc(1000, sizeof(*jobs));

	assert_int_equal(coil_pool_new(&pool, &po), 0);
	for (int i = 0; i < 1000; i++) {
		job_init(&jobs[i], i);
		assert_int_equal(coil_pool_submit(loop, pool, &jobs[i].op,
						  triple, &jobs[i]),
				 0);
	}
	assert_int_equal(coil_pool_shutdown(pool, COIL_POOL_DRAIN), 0);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(jobs[i].res, i * 3);
	coil_pool_free(pool);
	free(jobs);
	coil_loop_free(loop);
}

/* the pool may go before its results have reached the loop: they are
 * on their way (doorbell or inbox) and still arrive, nothing leaks */
static void test_pool_freed_before_results_arrive(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 2};
	struct coil_pool *pool;
	struct job jobs[100];

	assert_int_equal(coil_pool_new(&pool, &po), 0);
	for (int i = 0; i < 100; i++) {
		job_init(&jobs[i], i);
		assert_int_equal(coil_pool_submit(loop, pool, &jobs[i].op,
						  triple, &jobs[i]),
				 0);
	}
	coil_pool_free(pool); /* runs them all, joins, frees */
	assert_int_equal(jobs[0].calls, 0);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(jobs[i].calls, 1);
		assert_int_equal(jobs[i].res, i * 3);
	}
	coil_loop_free(loop);
}

/* three loops on three threads share one pool; each result comes back
 * to the thread of the loop that submitted it */
struct loop_thread {
	struct coil_pool *pool;
	struct job jobs[2000];
	int ok;
};

static void *loop_thread_main(void *arg)
{
	struct loop_thread *lt = arg;
	struct coil_loop *loop = tu_loop(NULL);
	pid_t me = tu_gettid();

	for (int i = 0; i < 2000; i++) {
		job_init(&lt->jobs[i], i);
		if (coil_pool_submit(loop, lt->pool, &lt->jobs[i].op, triple,
				     &lt->jobs[i]) != 0)
			return NULL;
	}
	run_idle(loop, 30 * SEC);
	lt->ok = coil_loop_inflight(loop) == 0;
	for (int i = 0; i < 2000; i++) {
		if (lt->jobs[i].calls != 1 || lt->jobs[i].res != i * 3 ||
		    lt->jobs[i].cb_tid != me)
			lt->ok = 0;
	}
	coil_loop_free(loop);
	return NULL;
}

static void test_pool_shared_by_several_loops(void **state)
{
	struct coil_pool_opts po = {.threads = 3};
	struct coil_pool *pool;
	struct loop_thread *lt = calloc(3, sizeof(*lt));
	pthread_t th[3];

	assert_int_equal(coil_pool_new(&pool, &po), 0);
	for (int i = 0; i < 3; i++) {
		lt[i].pool = pool;
		assert_int_equal(
			pthread_create(&th[i], NULL, loop_thread_main, &lt[i]),
			0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(lt[i].ok, 1);
	}
	coil_pool_free(pool);
	free(lt);
}

/* a job cannot shut its own pool down (it would join itself) */
static int self_shutdown(void *arg)
{
	return coil_pool_shutdown((struct coil_pool *)arg, COIL_POOL_DRAIN);
}

static void test_pool_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts po = {.threads = 2000};
	struct coil_pool *pool;
	struct job j;

	job_init(&j, 1);
	assert_int_equal(coil_pool_new(NULL, NULL), -EINVAL);
	assert_int_equal(coil_pool_new(&pool, &po), -EINVAL);
	po.threads = 1;
	po.flags = 1u << 7;
	assert_int_equal(coil_pool_new(&pool, &po), -EINVAL);
	assert_int_equal(coil_pool_new(&pool, NULL), 0); /* defaults */
	assert_int_equal(coil_pool_submit(NULL, pool, &j.op, triple, &j),
			 -EINVAL);
	assert_int_equal(coil_pool_submit(loop, NULL, &j.op, triple, &j),
			 -EINVAL);
	assert_int_equal(coil_pool_submit(loop, pool, NULL, triple, &j),
			 -EINVAL);
	assert_int_equal(coil_pool_submit(loop, pool, &j.op, NULL, &j),
			 -EINVAL);
	assert_int_equal(
		coil_pool_submit_flags(loop, pool, &j.op, triple, &j, 1u << 5),
		-EINVAL);
	assert_int_equal(coil_pool_cancel(NULL, pool, &j.op), -EINVAL);
	assert_int_equal(coil_pool_shutdown(NULL, 0), -EINVAL);
	assert_int_equal(coil_pool_shutdown(pool, 9), -EINVAL);
	assert_int_equal(
		coil_pool_submit(loop, pool, &j.op, self_shutdown, pool), 0);
	assert_int_equal(coil_pool_submit(loop, pool, &j.op, triple, &j),
			 -EBUSY);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	assert_int_equal(j.res, -EDEADLK);
	coil_pool_free(pool);
	coil_pool_free(NULL);
	coil_pool_stats(NULL, NULL);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_10000_jobs_results_on_loop_thread),
		cmocka_unit_test(test_pool_cancel_queued_jobs),
		cmocka_unit_test(test_pool_full_queue_eagain_or_wait),
		cmocka_unit_test(test_pool_shutdown_discard_with_jobs_pending),
		cmocka_unit_test(test_pool_shutdown_drain_runs_pending),
		cmocka_unit_test(test_pool_freed_before_results_arrive),
		cmocka_unit_test(test_pool_shared_by_several_loops),
		cmocka_unit_test(test_pool_bad_input),
	};
	return cmocka_run_group_tests_name("async.pool", tests, NULL, NULL);
}
