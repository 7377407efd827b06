/* tests/async/test_taskset.c - background tasks: added at any time, each
 * leaves the set as it ends, failures reach the error hook, shutdown gives
 * a grace period and then cuts what is left */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull

static int errors, last_error, ends;

static void on_error(struct coil_task *t, int res)
{
	(void)t;
	errors++;
	last_error = res;
}

/* a heap-allocated op task: a timer, or a recv that never completes */
struct bg {
	struct coil_task t;
	int id;
};

static void bg_end(struct coil_op *op, int res, unsigned flags)
{
	struct bg *b = coil_container_of(op, struct bg, t.op);
	(void)res;
	(void)flags;
	ends++;
	free(b); /* already out of the set */
}

/* 200 tasks added over time (10 from each of 20 callbacks): every one
 * leaves the set as it ends and is freed in its end callback (ASan would
 * catch the set touching it later); failures reach the hook */
struct adder {
	struct coil_op tick;
	struct coil_loop *loop;
	struct coil_taskset *ts;
	int fd;
	int rounds;
};

static void add_bg(struct adder *a, int id)
{
	struct bg *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->id = id;
	assert_int_equal(coil_taskset_add(a->ts, &b->t, bg_end), 0);
	if (id % 10 == 3) /* fails: recv on a bad fd */
		assert_int_equal(coil_recv(a->loop, &b->t.op, 999, NULL, 0, 0),
				 0);
	else
		assert_int_equal(coil_timeout(a->loop, &b->t.op,
					      (uint64_t)(1 + id % 5) * MS, 0),
				 0);
}

static void adder_tick(struct coil_op *op, int res, unsigned flags)
{
	struct adder *a = coil_container_of(op, struct adder, tick);
	(void)res;
	(void)flags;
	for (int i = 0; i < 10; i++)
		add_bg(a, a->rounds * 10 + i);
	if (++a->rounds < 20)
		assert_int_equal(coil_timeout(a->loop, op, 1 * MS, 0), 0);
}

static void test_taskset_tasks_leave_as_they_end(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_taskset ts;
	struct adder a = {.loop = loop, .ts = &ts};
	struct coil_taskset_stats st;
	struct rec done;

	errors = ends = 0;
	assert_int_equal(coil_taskset_init(&ts, loop, on_error), 0);
	coil_op_init(&a.tick, adder_tick);
	assert_int_equal(coil_timeout(loop, &a.tick, 0, 0), 0);
	assert_int_equal(run_idle(loop, 10000 * MS), 0);
	assert_int_equal(a.rounds, 20);
	assert_int_equal(coil_taskset_live(&ts), 0);
	assert_int_equal(ends, 200);
	assert_int_equal(errors, 20);
	assert_int_equal(last_error, -EBADF);
	coil_taskset_stats(&ts, &st);
	assert_int_equal(st.added, 200);
	assert_int_equal(st.ended, 200);
	assert_int_equal(st.failed, 20);
	assert_int_equal(st.cut, 0);
	/* shutdown of an empty set: done at once with 0 cut */
	rec_init(&done);
	assert_int_equal(coil_taskset_shutdown(&ts, 1000 * MS, &done.op), 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(done.res, 0);
	coil_loop_free(loop);
}

/* a task-style task: a loop of 5 ms timers until cancelled */
struct ticker {
	struct coil_task t;
	struct coil_op tmr;
	struct coil_loop *loop;
	int ticks;
	int stop;
	int ended;
	int end_res;
};

static void ticker_tick(struct coil_op *op, int res, unsigned flags)
{
	struct ticker *k = coil_container_of(op, struct ticker, tmr);
	(void)flags;
	if (res < 0 || k->stop) {
		assert_int_equal(coil_task_done(&k->t, -ECANCELED), 0);
		return;
	}
	k->ticks++;
	assert_int_equal(coil_timeout(k->loop, op, 5 * MS, 0), 0);
}

static void ticker_cancel(struct coil_task *t)
{
	struct ticker *k = coil_container_of(t, struct ticker, t);
	k->stop = 1;
	coil_cancel(k->loop, &k->tmr);
}

static void ticker_end(struct coil_op *op, int res, unsigned flags)
{
	struct ticker *k = coil_container_of(op, struct ticker, t.op);
	(void)flags;
	k->ended++;
	k->end_res = res;
}

static void start_ticker(struct coil_taskset *ts, struct ticker *k,
			 struct coil_loop *loop)
{
	memset(k, 0, sizeof(*k));
	k->loop = loop;
	assert_int_equal(
		coil_taskset_add_task(ts, &k->t, ticker_cancel, ticker_end), 0);
	coil_op_init(&k->tmr, ticker_tick);
	assert_int_equal(coil_timeout(loop, &k->tmr, 5 * MS, 0), 0);
}

/* shutdown mid-flight: a short task ends within the grace period, two
 * tickers and a recv that never completes are cut at its end; the
 * callback reports 3 cut; later adds fail */
static void test_taskset_shutdown_cuts_what_is_left(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_taskset ts;
	struct ticker k[2];
	struct bg *quick = calloc(1, sizeof(*quick));
	struct bg *stuck = calloc(1, sizeof(*stuck));
	struct bg late;
	struct rec done;
	struct coil_taskset_stats st;
	int fds[2];
	char buf[4];
	uint64_t t0;

	tu_tcp_pair(fds);
	errors = ends = 0;
	assert_int_equal(coil_taskset_init(&ts, loop, on_error), 0);
	start_ticker(&ts, &k[0], loop);
	start_ticker(&ts, &k[1], loop);
	assert_int_equal(coil_taskset_add(&ts, &quick->t, bg_end), 0);
	assert_int_equal(coil_timeout(loop, &quick->t.op, 10 * MS, 0), 0);
	assert_int_equal(coil_taskset_add(&ts, &stuck->t, bg_end), 0);
	assert_int_equal(coil_recv(loop, &stuck->t.op, fds[0], buf, 4, 0), 0);
	assert_int_equal(coil_taskset_live(&ts), 4);
	/* let them run a little, then shut down with a 40 ms grace */
	while (k[0].ticks < 2)
		coil_loop_run(loop, COIL_RUN_ONCE);
	rec_init(&done);
	t0 = tu_mono_ns();
	assert_int_equal(coil_taskset_shutdown(&ts, 40 * MS, &done.op), 0);
	assert_int_equal(coil_taskset_shutdown(&ts, 40 * MS, &done.op),
			 -EALREADY);
	memset(&late, 0, sizeof(late));
	assert_int_equal(coil_taskset_add(&ts, &late.t, bg_end), -ESHUTDOWN);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, 3);
	assert_true(done.at_ns - t0 >= 40 * MS && done.at_ns - t0 < 1000 * MS);
	assert_int_equal(ends, 2); /* quick and stuck, both freed */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(k[i].ended, 1);
		assert_int_equal(k[i].end_res, -ECANCELED);
		assert_true(coil_task_cut(&k[i].t));
		assert_true(k[i].ticks >= 2);
	}
	assert_int_equal(errors, 0); /* cancellation is not a failure */
	coil_taskset_stats(&ts, &st);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.ended, 4);
	assert_int_equal(st.cut, 3);
	assert_int_equal(coil_taskset_live(&ts), 0);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* coil_cancel() of one task's op cancels that task only; coil_cancel of
 * the shutdown op cuts the grace short; drain cuts a set too */
static void test_taskset_cancel_one_and_drain(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_taskset ts;
	struct ticker k[3];
	struct rec done;

	assert_int_equal(coil_taskset_init(&ts, loop, NULL), 0);
	for (int i = 0; i < 3; i++)
		start_ticker(&ts, &k[i], loop);
	assert_int_equal(coil_cancel(loop, &k[1].t.op), 0);
	while (!k[1].ended)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(k[0].ended + k[2].ended, 0);
	assert_int_equal(coil_taskset_live(&ts), 2);
	/* a long grace, cut short by cancelling the shutdown op */
	rec_init(&done);
	assert_int_equal(coil_taskset_shutdown(&ts, 60000 * MS, &done.op), 0);
	assert_int_equal(coil_cancel(loop, &done.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.res, 2);
	assert_int_equal(k[0].ended + k[2].ended, 2);

	/* drain: a fresh set, cut by the loop's drain */
	assert_int_equal(coil_taskset_init(&ts, loop, NULL), 0);
	for (int i = 0; i < 3; i++)
		start_ticker(&ts, &k[i], loop);
	assert_true(coil_loop_drain(loop, 10 * MS) >= 1);
	assert_int_equal(run_idle(loop, 2000 * MS), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(k[i].ended, 1);
	assert_int_equal(coil_taskset_live(&ts), 0);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taskset_tasks_leave_as_they_end),
		cmocka_unit_test(test_taskset_shutdown_cuts_what_is_left),
		cmocka_unit_test(test_taskset_cancel_one_and_drain),
	};
	return cmocka_run_group_tests_name("async.taskset", tests, NULL, NULL);
}
