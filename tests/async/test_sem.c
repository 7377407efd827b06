/* tests/async/test_sem.c - semaphore: a limit on concurrent work, FIFO
 * waiters, releases through the loop */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull

struct worker {
	struct coil_op acq;
	struct coil_op work;
	struct coil_sem *sem;
	struct coil_loop *loop;
	int id;
	int acquired_at; /* position in acquisition order */
	int done;
};

static int running, peak, acq_seq, finished;

static void work_done(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, work);
	(void)flags;
	assert_int_equal(res, 0);
	running--;
	w->done = 1;
	finished++;
	assert_int_equal(coil_sem_release(w->sem), 0);
}

static void acquired(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, acq);
	(void)flags;
	assert_int_equal(res, 0);
	running++;
	if (running > peak)
		peak = running;
	w->acquired_at = acq_seq++;
	/* the "work": a real timer of 1-4 ms */
	coil_op_init(&w->work, work_done);
	assert_int_equal(coil_timeout(w->loop, &w->work,
				      (uint64_t)(1 + w->id % 4) * MS, 0),
			 0);
}

/* a semaphore of 5 never lets more than 5 ops run: 50 workers, measure
 * the peak; permits go in FIFO order */
static void test_sem_of_5_never_more_than_5_running(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct worker w[50];
	struct coil_sem sem;

	running = peak = acq_seq = finished = 0;
	assert_int_equal(coil_sem_init(&sem, loop, 5, 5), 0);
	for (int i = 0; i < 50; i++) {
		w[i].sem = &sem;
		w[i].loop = loop;
		w[i].id = i;
		w[i].done = 0;
		coil_op_init(&w[i].acq, acquired);
		assert_int_equal(coil_sem_acquire(&sem, &w[i].acq), 0);
	}
	assert_int_equal(running, 0); /* never inline */
	assert_int_equal(coil_sem_value(&sem), 0);
	assert_int_equal(coil_sem_waiting(&sem), 45);
	assert_int_equal(run_idle(loop, 10000 * MS), 0);
	assert_int_equal(finished, 50);
	assert_int_equal(peak, 5);
	for (int i = 0; i < 50; i++)
		assert_int_equal(w[i].acquired_at, i); /* FIFO */
	assert_int_equal(coil_sem_value(&sem), 5);
	coil_loop_free(loop);
}

/* release wakes the oldest waiter, on the next turn, not inline */
static void test_sem_release_wakes_oldest_through_loop(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem sem;
	struct rec a, b;

	rec_seq = 0;
	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	rec_init(&a);
	rec_init(&b);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), 0);
	assert_int_equal(coil_sem_acquire(&sem, &b.op), 0);
	assert_int_equal(coil_loop_inflight(loop), 2); /* waits count */
	assert_int_equal(coil_sem_try_acquire(&sem), -EAGAIN);
	assert_int_equal(coil_sem_release(&sem), 0);
	assert_int_equal(a.calls, 0);		   /* not inline */
	assert_int_equal(coil_sem_value(&sem), 0); /* handed to a */
	coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(coil_sem_release(&sem), 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, 0);
	/* a newcomer does not overtake a waiter */
	rec_init(&a);
	rec_init(&b);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), 0);
	assert_int_equal(coil_sem_release(&sem), 0); /* to a */
	assert_int_equal(coil_sem_try_acquire(&sem), -EAGAIN);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(a.res, 0);
	coil_loop_free(loop);
}

/* coil_cancel() of a waiter: -ECANCELED, no permit taken, the next one
 * gets the release */
static void test_sem_cancel_waiter(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem sem;
	struct rec a, b;

	assert_int_equal(coil_sem_init(&sem, loop, 0, 1), 0);
	rec_init(&a);
	rec_init(&b);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), 0);
	assert_int_equal(coil_sem_acquire(&sem, &b.op), 0);
	assert_int_equal(coil_cancel(loop, &a.op), 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(coil_sem_waiting(&sem), 1);
	assert_int_equal(coil_sem_release(&sem), 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -ECANCELED);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, 0);
	assert_int_equal(coil_cancel(loop, &a.op), -ENOENT); /* not in flight */
	coil_loop_free(loop);
}

/* a wait honours coil_op_timeout(): it completes with -ETIMEDOUT having
 * taken no permit, the permit then goes to the next waiter, and the op's
 * next kernel submission does not carry the stale timeout */
struct relay {
	struct coil_op timer;
	struct coil_sem *sem;
	struct coil_loop *loop;
	struct coil_op *victim;
};

static void relay_release(struct coil_op *op, int res, unsigned flags)
{
	struct relay *r = coil_container_of(op, struct relay, timer);
	(void)res;
	(void)flags;
	coil_sem_release(r->sem);
}

static void relay_cancel(struct coil_op *op, int res, unsigned flags)
{
	struct relay *r = coil_container_of(op, struct relay, timer);
	(void)res;
	(void)flags;
	coil_cancel(r->loop, r->victim);
}

static void test_sem_wait_times_out(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem sem;
	struct relay rl = {.loop = loop, .sem = &sem};
	struct rec a, b;
	int fds[2];
	char buf[4];
	uint64_t t0;

	tu_tcp_pair(fds);
	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	rec_init(&a);
	rec_init(&b);
	t0 = tu_mono_ns();
	coil_op_timeout(&a.op, 20 * MS);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), 0);
	assert_int_equal(coil_sem_acquire(&sem, &b.op), 0); /* no timeout */
	coil_op_init(&rl.timer, relay_release);
	assert_int_equal(coil_timeout(loop, &rl.timer, 100 * MS, 0), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -ETIMEDOUT);
	assert_true(a.at_ns - t0 >= 20 * MS && a.at_ns - t0 < 90 * MS);
	/* the release at 100 ms went to b, not to the timed-out a */
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, 0);
	assert_true(b.at_ns - t0 >= 100 * MS);
	assert_int_equal(coil_sem_value(&sem), 0);
	assert_int_equal(coil_sem_waiting(&sem), 0);
	/* a recv on the same op: no stale 20 ms timeout on it */
	rl.victim = &a.op;
	coil_op_init(&rl.timer, relay_cancel);
	assert_int_equal(coil_recv(loop, &a.op, fds[0], buf, 4, 0), 0);
	assert_int_equal(coil_timeout(loop, &rl.timer, 60 * MS, 0), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(a.res, -ECANCELED);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* the lock: coil_sem(1, 1); a deadline scope bounds the wait for it, and
 * an acquire started after the deadline fails even though it is free */
static void test_sem_lock_under_deadline_scope(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem lock;
	struct rec a, b, c;
	uint64_t prev, now;

	assert_int_equal(coil_sem_init(&lock, loop, 1, 1), 0);
	rec_init(&a);
	rec_init(&b);
	rec_init(&c);
	now = coil_now_update(loop);
	prev = coil_deadline_enter(loop, now + 30 * MS);
	assert_int_equal(coil_sem_acquire(&lock, &a.op), 0); /* free */
	assert_int_equal(coil_sem_acquire(&lock, &b.op), 0); /* waits */
	coil_deadline_leave(loop, prev);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(a.res, 0);
	assert_int_equal(b.res, -ETIMEDOUT);
	assert_int_equal(coil_sem_release(&lock), 0);
	assert_int_equal(coil_sem_release(&lock), -EOVERFLOW); /* one holder */
	prev = coil_deadline_enter(loop, coil_now_update(loop) - 1);
	assert_int_equal(coil_sem_acquire(&lock, &c.op), 0);
	coil_deadline_leave(loop, prev);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(c.res, -ETIMEDOUT);
	assert_int_equal(coil_sem_value(&lock), 1); /* not taken */
	coil_loop_free(loop);
}

static void test_sem_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem sem;
	struct rec a;

	rec_init(&a);
	assert_int_equal(coil_sem_init(NULL, loop, 1, 0), -EINVAL);
	assert_int_equal(coil_sem_init(&sem, NULL, 1, 0), -EINVAL);
	assert_int_equal(coil_sem_init(&sem, loop, 3, 2), -EINVAL);
	assert_int_equal(coil_sem_init(&sem, loop, 2, 2), 0);
	assert_int_equal(coil_sem_acquire(NULL, &a.op), -EINVAL);
	assert_int_equal(coil_sem_acquire(&sem, NULL), -EINVAL);
	assert_int_equal(coil_sem_try_acquire(NULL), -EINVAL);
	assert_int_equal(coil_sem_release(NULL), -EINVAL);
	assert_int_equal(coil_sem_release(&sem), -EOVERFLOW); /* bounded */
	assert_int_equal(coil_sem_try_acquire(&sem), 0);
	assert_int_equal(coil_sem_value(&sem), 1);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), 0);
	assert_int_equal(coil_sem_acquire(&sem, &a.op), -EBUSY);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(a.res, 0);
	assert_int_equal(coil_sem_release(&sem), 0);
	assert_int_equal(coil_sem_release(&sem), 0);
	assert_int_equal(coil_sem_release(&sem), -EOVERFLOW);
	assert_int_equal(coil_sem_value(NULL), 0);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sem_of_5_never_more_than_5_running),
		cmocka_unit_test(test_sem_release_wakes_oldest_through_loop),
		cmocka_unit_test(test_sem_cancel_waiter),
		cmocka_unit_test(test_sem_wait_times_out),
		cmocka_unit_test(test_sem_lock_under_deadline_scope),
		cmocka_unit_test(test_sem_bad_input),
	};
	return cmocka_run_group_tests_name("async.sem", tests, NULL, NULL);
}
