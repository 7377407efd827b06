/* tests/async/test_deadline.c - time limits over waits and compound work:
 * queue, event and pool waits that time out, queue join, a timeout around
 * a group, and a deadline a task carries across its callbacks */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull

/* a get on an empty queue and a put on a full one time out; neither
 * takes nor leaves an item; later waits are served normally */
static void test_queue_get_and_put_time_out(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct rec g, p, p2;
	void *slot = NULL, *item = NULL;
	int x = 1, y = 2;
	uint64_t t0;

	assert_int_equal(coil_queue_init(&q, loop, 1), 0);
	rec_init(&g);
	t0 = tu_mono_ns();
	coil_op_timeout(&g.op, 20 * MS);
	assert_int_equal(coil_queue_get(&q, &g.op, &slot), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res, -ETIMEDOUT);
	assert_true(g.at_ns - t0 >= 20 * MS && g.at_ns - t0 < 500 * MS);
	assert_null(slot);

	assert_int_equal(coil_queue_try_put(&q, &x), 0); /* now full */
	rec_init(&p);
	rec_init(&p2);
	coil_op_timeout(&p.op, 20 * MS);
	assert_int_equal(coil_queue_put(&q, &p.op, &y), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(p.res, -ETIMEDOUT);
	assert_int_equal(coil_queue_len(&q), 1);
	assert_int_equal(coil_queue_try_get(&q, &item), 0);
	assert_ptr_equal(item, &x); /* y never went in */
	assert_int_equal(coil_queue_try_get(&q, &item), -EAGAIN);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* an event wait times out at its own timeout; a second one without a
 * timeout still gets the set */
static void test_event_wait_times_out(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_event ev;
	struct rec a, b;

	assert_int_equal(coil_event_init(&ev, loop), 0);
	rec_init(&a);
	rec_init(&b);
	coil_op_timeout(&a.op, 10 * MS);
	assert_int_equal(coil_event_wait(&ev, &a.op), 0);
	assert_int_equal(coil_event_wait(&ev, &b.op), 0);
	while (!a.calls)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(a.res, -ETIMEDOUT);
	assert_int_equal(b.calls, 0);
	coil_event_set(&ev);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, 0);
	coil_loop_free(loop);
}

/* many timed waits with scattered deadlines: each ends once, in deadline
 * order (the loop's one timer is re-armed for each) */
static void test_many_timed_waits_end_in_deadline_order(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	enum { N = 64 };
	struct rec r[N];
	struct coil_sem sem;
	uint64_t t0 = tu_mono_ns();

	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	rec_seq = 0;
	for (int i = 0; i < N; i++) {
		rec_init(&r[i]);
		/* 5..68 ms, in a shuffled order */
		coil_op_timeout(&r[i].op, (5 + (i * 37) % N) * MS);
		assert_int_equal(coil_sem_acquire(&sem, &r[i].op), 0);
	}
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].res, -ETIMEDOUT);
		assert_true(r[i].at_ns - t0 >= (5 + (i * 37) % N) * MS);
		for (int j = 0; j < N; j++)
			if ((i * 37) % N < (j * 37) % N)
				assert_true(r[i].order < r[j].order);
	}
	assert_int_equal(coil_sem_waiting(&sem), 0);
	coil_loop_free(loop);
}

/* join waits until every item put has been marked done; a join with a
 * timeout that the consumers miss times out */
struct consumer {
	struct coil_op get, work;
	struct coil_queue *q;
	struct coil_loop *loop;
	void *item;
	int handled;
};

static void consumer_get(struct consumer *c);

static void consumer_worked(struct coil_op *op, int res, unsigned flags)
{
	struct consumer *c = coil_container_of(op, struct consumer, work);
	(void)res;
	(void)flags;
	c->handled++;
	assert_int_equal(coil_queue_task_done(c->q), 0);
	consumer_get(c);
}

static void consumer_got(struct coil_op *op, int res, unsigned flags)
{
	struct consumer *c = coil_container_of(op, struct consumer, get);
	(void)flags;
	if (res < 0)
		return; /* closed */
	coil_op_init(&c->work, consumer_worked);
	assert_int_equal(coil_timeout(c->loop, &c->work, 2 * MS, 0), 0);
}

static void consumer_get(struct consumer *c)
{
	int ret;

	coil_op_init(&c->get, consumer_got);
	ret = coil_queue_get(c->q, &c->get, &c->item);
	assert_true(ret == 0 || ret == COIL_ECLOSED); /* (closed at the end) */
}

static void test_queue_join_waits_for_task_done(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct consumer c[2];
	struct rec join, early;
	int items[10];

	assert_int_equal(coil_queue_init(&q, loop, 4), 0);
	rec_init(&early);
	assert_int_equal(coil_queue_join(&q, &early.op), 0); /* nothing put */
	for (int i = 0; i < 2; i++) {
		c[i] = (struct consumer){.q = &q, .loop = loop};
		consumer_get(&c[i]);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(coil_queue_try_put(&q, &items[i]), 0);
	assert_int_equal(coil_queue_unfinished(&q), 4);
	rec_init(&join);
	assert_int_equal(coil_queue_join(&q, &join.op), 0);
	while (!join.calls)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(early.res, 0);
	assert_int_equal(join.res, 0);
	assert_int_equal(c[0].handled + c[1].handled, 4);
	assert_int_equal(coil_queue_unfinished(&q), 0);
	assert_int_equal(coil_queue_task_done(&q), -EOVERFLOW);

	/* 6 more items at 2 ms each over 2 consumers: ~6 ms; a 1 ms join
	 * bound is missed */
	for (int i = 4; i < 10; i++) {
		while (coil_queue_try_put(&q, &items[i]) == -EAGAIN)
			coil_loop_run(loop, COIL_RUN_ONCE);
	}
	rec_init(&join);
	coil_op_timeout(&join.op, 1 * MS);
	assert_int_equal(coil_queue_join(&q, &join.op), 0);
	while (!join.calls)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(join.res, -ETIMEDOUT);
	assert_true(coil_queue_unfinished(&q) > 0);
	coil_queue_close(&q);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* a pool job still queued at its deadline completes -ETIMEDOUT and never
 * runs; the one running delivers its result */
static int count_job(void *arg)
{
	(*(int *)arg)++;
	return 7;
}

static void test_pool_queued_job_times_out(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_pool_opts o = {.threads = 1};
	struct coil_pool *pool;
	struct gate gate;
	struct rec running, queued;
	int ran = 0;

	gate_init(&gate);
	assert_int_equal(coil_pool_new(&pool, &o), 0);
	rec_init(&running);
	rec_init(&queued);
	coil_op_timeout(&running.op, 10 * MS);
	assert_int_equal(
		coil_pool_submit(loop, pool, &running.op, gate_job, &gate), 0);
	gate_wait_blocked(&gate, 1);
	coil_op_timeout(&queued.op, 10 * MS);
	assert_int_equal(
		coil_pool_submit(loop, pool, &queued.op, count_job, &ran), 0);
	while (!queued.calls)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(queued.res, -ETIMEDOUT);
	assert_int_equal(running.calls, 0); /* started: its result will come */
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(running.res, 1000);
	assert_int_equal(ran, 0);
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_loop_free(loop);
}

/* a timeout around a group: 20 children (timers of 10..200 ms, one
 * blocked forever on a recv), a 50 ms bound on the wait; the children
 * still running are cancelled, each child's callback runs once, and the
 * group completes -ETIMEDOUT at ~50 ms */
struct kid {
	struct coil_group_child c;
	int calls;
	int res;
};

static void kid_cb(struct coil_op *op, int res, unsigned flags)
{
	struct kid *k = coil_container_of(op, struct kid, c.op);
	(void)flags;
	k->calls++;
	k->res = res;
}

static void test_group_timeout_cancels_children(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	enum { N = 20 };
	struct kid k[N];
	struct coil_group g;
	struct rec done;
	int fds[2], ended = 0, cut = 0;
	char buf[8];
	uint64_t t0;

	tu_tcp_pair(fds);
	for (unsigned mode = 0; mode < 2; mode++) {
		assert_int_equal(coil_group_init(&g, loop, mode), 0);
		t0 = tu_mono_ns();
		for (int i = 0; i < N; i++) {
			memset(&k[i], 0, sizeof(k[i]));
			assert_int_equal(coil_group_add(&g, &k[i].c, kid_cb),
					 i);
			if (i == N - 1)
				assert_int_equal(coil_recv(loop, &k[i].c.op,
							   fds[0], buf, 8, 0),
						 0);
			else
				assert_int_equal(
					coil_timeout(loop, &k[i].c.op,
						     (uint64_t)(10 + 10 * i) *
							     MS,
						     0),
					0);
		}
		rec_init(&done);
		coil_op_timeout(&done.op, 50 * MS);
		assert_int_equal(coil_group_wait(&g, &done.op), 0);
		assert_int_equal(run_idle(loop, 5000 * MS), 0);
		assert_int_equal(done.calls, 1);
		assert_int_equal(done.res, -ETIMEDOUT);
		assert_true(done.at_ns - t0 >= 50 * MS);
		assert_true(done.at_ns - t0 < 1000 * MS);
		ended = cut = 0;
		for (int i = 0; i < N; i++) {
			assert_int_equal(k[i].calls, 1);
			if (k[i].res == 0)
				ended++;
			else if (k[i].res == -ECANCELED)
				cut++;
			/* the 10-30 ms timers end well before the bound, those
			 * of 100 ms and more (and the recv) are cut (the ones
			 * near 50 ms may go either way on a loaded machine) */
			if (i <= 2)
				assert_int_equal(k[i].res, 0);
			if (i >= 9)
				assert_int_equal(k[i].res, -ECANCELED);
		}
		assert_int_equal(ended + cut, N);
		assert_int_equal(coil_group_add(&g, &k[0].c, kid_cb),
				 -EINVAL); /* done */
	}
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* a group waited on after its deadline scope has passed: the children
 * are cancelled at once and the group reports -ETIMEDOUT */
static void test_group_wait_after_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct kid k[3];
	struct coil_group g;
	struct rec done;
	uint64_t prev;

	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	for (int i = 0; i < 3; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		assert_int_equal(coil_group_add(&g, &k[i].c, kid_cb), i);
		assert_int_equal(coil_timeout(loop, &k[i].c.op, 10000 * MS, 0),
				 0);
	}
	rec_init(&done);
	prev = coil_deadline_enter(loop, coil_now_update(loop) - 1);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	coil_deadline_leave(loop, prev);
	assert_int_equal(run_idle(loop, 2000 * MS), 0);
	assert_int_equal(done.res, -ETIMEDOUT);
	for (int i = 0; i < 3; i++)
		assert_int_equal(k[i].res, -ECANCELED);
	coil_loop_free(loop);
}

/* a deadline a task carries across callbacks: a chain of 20 ms timers,
 * each started from the previous one's callback, then a recv that never
 * completes; the carried 70 ms deadline bounds the recv although it was
 * submitted three callbacks after the scope was left. Work started
 * outside the task is not bounded. */
struct chain {
	struct coil_op op;
	struct coil_loop *loop;
	int fd;
	int steps;
	int res;
	uint64_t end_ns;
	uint64_t seen_deadline;
	char buf[8];
};

static void chain_cb(struct coil_op *op, int res, unsigned flags)
{
	struct chain *c = coil_container_of(op, struct chain, op);
	(void)flags;
	c->seen_deadline = coil_deadline_get(c->loop);
	if (res < 0 || c->steps == 4) {
		c->res = res;
		c->end_ns = tu_mono_ns();
		return;
	}
	c->steps++;
	if (c->steps < 4)
		assert_int_equal(coil_timeout(c->loop, op, 20 * MS, 0), 0);
	else
		assert_int_equal(coil_recv(c->loop, op, c->fd, c->buf, 8, 0),
				 0);
}

static void test_task_deadline_carried_across_callbacks(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct chain c = {.loop = loop};
	struct rec other;
	int fds[2];
	uint64_t t0, prev, dl;
	struct coil_sem sem;

	tu_tcp_pair(fds);
	c.fd = fds[0];
	coil_op_init(&c.op, chain_cb);
	rec_init(&other);
	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	t0 = tu_mono_ns();
	dl = coil_now_update(loop) + 70 * MS;
	prev = coil_task_deadline_enter(loop, dl);
	assert_int_equal(coil_deadline_get(loop), dl);
	assert_int_equal(coil_timeout(loop, &c.op, 1 * MS, 0), 0);
	coil_task_deadline_leave(loop, prev);
	assert_int_equal(coil_deadline_get(loop), 0);
	/* not the task's: waits past the deadline */
	coil_op_timeout(&other.op, 150 * MS);
	assert_int_equal(coil_sem_acquire(&sem, &other.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(c.steps, 4);
	assert_int_equal(c.res, -ETIMEDOUT);
	assert_int_equal(c.seen_deadline, dl);
	assert_true(c.end_ns - t0 >= 70 * MS && c.end_ns - t0 < 140 * MS);
	assert_int_equal(other.res, -ETIMEDOUT);
	assert_true(other.at_ns - t0 >= 150 * MS);
	assert_int_equal(coil_deadline_get(loop), 0);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* drain cancels timed waits like any other; the loop's deadline timer
 * does not keep it busy afterwards */
static void test_drain_with_timed_waits(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_sem sem;
	struct rec r[3];

	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	for (int i = 0; i < 3; i++) {
		rec_init(&r[i]);
		coil_op_timeout(&r[i].op, 10000 * MS);
		assert_int_equal(coil_sem_acquire(&sem, &r[i].op), 0);
	}
	assert_int_equal(coil_loop_drain(loop, 10 * MS), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].res, -ECANCELED);
	assert_int_equal(run_idle(loop, 2000 * MS), 0);
	/* and timed waits work again after it */
	rec_init(&r[0]);
	coil_op_timeout(&r[0].op, 5 * MS);
	assert_int_equal(coil_sem_acquire(&sem, &r[0].op), 0);
	assert_int_equal(run_idle(loop, 2000 * MS), 0);
	assert_int_equal(r[0].res, -ETIMEDOUT);
	coil_loop_free(loop);
}

/* coil_loop_run_until(): returns when the flag is set, or at its limit
 * even with nothing in flight, and leaves nothing in flight behind */
static int flag_set;

static void set_flag(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
	flag_set = 1;
}

static void test_loop_run_until(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_op t;
	uint64_t t0;
	volatile int never = 0;

	flag_set = 0;
	coil_op_init(&t, set_flag);
	assert_int_equal(coil_timeout(loop, &t, 20 * MS, 0), 0);
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run_until(loop, &flag_set, 5000 * MS), 0);
	assert_true(tu_mono_ns() - t0 >= 20 * MS);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);
	assert_int_equal(coil_loop_inflight(loop), 0);
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run_until(loop, &never, 30 * MS),
			 -ETIMEDOUT);
	assert_true(tu_mono_ns() - t0 >= 30 * MS);
	assert_int_equal(coil_loop_inflight(loop), 0);
	assert_int_equal(coil_loop_run_until(NULL, &never, 1), -EINVAL);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_get_and_put_time_out),
		cmocka_unit_test(test_event_wait_times_out),
		cmocka_unit_test(test_many_timed_waits_end_in_deadline_order),
		cmocka_unit_test(test_queue_join_waits_for_task_done),
		cmocka_unit_test(test_pool_queued_job_times_out),
		cmocka_unit_test(test_group_timeout_cancels_children),
		cmocka_unit_test(test_group_wait_after_deadline),
		cmocka_unit_test(test_task_deadline_carried_across_callbacks),
		cmocka_unit_test(test_drain_with_timed_waits),
		cmocka_unit_test(test_loop_run_until),
	};
	return cmocka_run_group_tests_name("async.deadline", tests, NULL, NULL);
}
