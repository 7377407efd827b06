/* tests/async/test_group.c - gather (collect-all) and TaskGroup
 * (fail-fast) over real timers, sockets and waits */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull

struct kid {
	struct coil_group_child c;
	int calls;
	int res;
	int order;
	/* task children */
	struct coil_op timer;
	struct coil_loop *loop;
	int value;
	int cancelled;
};

static int kid_seq;

static void kid_cb(struct coil_op *op, int res, unsigned flags)
{
	struct kid *k = coil_container_of(op, struct kid, c.op);
	(void)flags;
	k->calls++;
	k->res = res;
	k->order = kid_seq++;
}

/* gather of 100 timeouts where 3 fail: 97 results and 3 errors, in the
 * order the children were added, although they end in reverse order */
static void test_group_gather_100_timeouts_3_fail_in_order(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	static struct kid kids[100];
	struct coil_group g;
	struct rec done;
	int fds[2], results[100];
	char buf[3][8];
	int nfail = 0;

	tu_tcp_pair(fds);
	memset(kids, 0, sizeof(kids));
	kid_seq = 0;
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	for (int i = 0; i < 100; i++) {
		struct kid *k = &kids[i];
		assert_int_equal(coil_group_add(&g, &k->c, kid_cb), i);
		uint64_t ns = (uint64_t)(100 - i) * 200000ull; /* 20..0.2 ms */
		if (i == 13 || i == 42 || i == 77) {
			/* nobody writes: the linked timeout fails it */
			coil_op_timeout(&k->c.op, ns);
			assert_int_equal(coil_recv(loop, &k->c.op, fds[0],
						   buf[nfail++], 8, 0),
					 0);
		} else {
			assert_int_equal(coil_timeout(loop, &k->c.op, ns, 0),
					 0);
		}
	}
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(done.calls, 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);

	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, 3); /* three children failed */
	assert_int_equal(coil_group_results(&g, results, 100), 100);
	for (int i = 0; i < 100; i++) {
		int want = (i == 13 || i == 42 || i == 77) ? -ETIMEDOUT : 0;
		assert_int_equal(results[i], want);
		assert_int_equal(kids[i].c.res, want);
		assert_int_equal(kids[i].calls, 1);
		assert_int_equal(kids[i].res, want);
	}
	/* they ended in reverse: the last added (shortest) came first */
	assert_true(kids[99].order < kids[0].order);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* task children: a timer then a result; results kept in order */
static void task_timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct kid *k = coil_container_of(op, struct kid, timer);
	(void)flags;
	if (res == -ECANCELED || k->cancelled)
		coil_group_child_done(&k->c, -ECANCELED);
	else
		coil_group_child_done(&k->c, k->value);
}

static void task_cancel(struct coil_group_child *c)
{
	struct kid *k = coil_container_of(c, struct kid, c);
	k->cancelled = 1;
	coil_cancel(k->loop, &k->timer);
}

static void test_group_gather_tasks_keep_order(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct kid kids[20];
	struct coil_group g;
	struct rec done;
	int results[20];

	memset(kids, 0, sizeof(kids));
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	for (int i = 0; i < 20; i++) {
		struct kid *k = &kids[i];
		k->loop = loop;
		k->value = (i % 7 == 3) ? -EIO : i * 10;
		assert_int_equal(
			coil_group_add_task(&g, &k->c, task_cancel, kid_cb), i);
		coil_op_init(&k->timer, task_timer_cb);
		assert_int_equal(coil_timeout(loop, &k->timer,
					      (uint64_t)(20 - i) * 300000ull,
					      0),
				 0);
	}
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, 3); /* i = 3, 10, 17 */
	assert_int_equal(coil_group_results(&g, results, 20), 20);
	for (int i = 0; i < 20; i++)
		assert_int_equal(results[i], (i % 7 == 3) ? -EIO : i * 10);
	coil_loop_free(loop);
}

/* fail-fast: the first error cancels the slow siblings (their callbacks
 * see -ECANCELED) - timers, a task, a semaphore wait - and the group ends
 * long before the slowest would have */
static void test_group_fail_fast_cancels_slow_siblings(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct kid slow[8], failing, task, waiter, late;
	struct coil_sem sem;
	struct coil_group g;
	struct rec done;
	int fds[2];
	char buf[8];

	tu_tcp_pair(fds);
	memset(slow, 0, sizeof(slow));
	memset(&failing, 0, sizeof(failing));
	memset(&task, 0, sizeof(task));
	memset(&waiter, 0, sizeof(waiter));
	memset(&late, 0, sizeof(late));
	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_FAIL_FAST), 0);

	uint64_t t0 = tu_mono_ns();
	for (int i = 0; i < 8; i++) {
		assert_true(coil_group_add(&g, &slow[i].c, kid_cb) >= 0);
		assert_int_equal(
			coil_timeout(loop, &slow[i].c.op, 10000 * MS, 0), 0);
	}
	/* a task: a 10 s timer its cancel hook stops */
	task.loop = loop;
	task.value = 1;
	assert_true(coil_group_add_task(&g, &task.c, task_cancel, kid_cb) >= 0);
	coil_op_init(&task.timer, task_timer_cb);
	assert_int_equal(coil_timeout(loop, &task.timer, 10000 * MS, 0), 0);
	/* a semaphore nobody releases */
	assert_true(coil_group_add(&g, &waiter.c, kid_cb) >= 0);
	assert_int_equal(coil_sem_acquire(&sem, &waiter.c.op), 0);
	/* the failing one: a recv that times out after 20 ms */
	assert_true(coil_group_add(&g, &failing.c, kid_cb) >= 0);
	coil_op_timeout(&failing.c.op, 20 * MS);
	assert_int_equal(coil_recv(loop, &failing.c.op, fds[0], buf, 8, 0), 0);

	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	uint64_t dt = tu_mono_ns() - t0;

	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, -ETIMEDOUT); /* the first error */
	assert_int_equal(failing.res, -ETIMEDOUT);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(slow[i].calls, 1);
		assert_int_equal(slow[i].res, -ECANCELED);
	}
	assert_int_equal(task.calls, 1);
	assert_int_equal(task.res, -ECANCELED);
	assert_int_equal(task.cancelled, 1);
	assert_int_equal(waiter.calls, 1);
	assert_int_equal(waiter.res, -ECANCELED);
	assert_int_equal(coil_sem_waiting(&sem), 0);
	/* 10 s children, done in well under 2 s (20 ms + scheduling) */
	assert_true(dt < 2000 * MS);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* once a fail-fast group has failed, new children are refused */
static void test_group_fail_fast_refuses_new_children(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct kid a, b, c;
	struct coil_group g;
	struct rec done;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_FAIL_FAST), 0);
	assert_int_equal(coil_group_add(&g, &a.c, kid_cb), 0);
	/* a submission that fails is reported as the child's end */
	assert_int_equal(coil_group_child_done(&a.c, -EBADF), 0);
	assert_int_equal(coil_group_add(&g, &b.c, kid_cb), 1);
	assert_int_equal(coil_timeout(loop, &b.c.op, 10000 * MS, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_ONCE) >= 0, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -EBADF);
	assert_int_equal(coil_group_add(&g, &c.c, kid_cb), -ECANCELED);
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.res, -EBADF);
	assert_int_equal(b.res, -ECANCELED);
	coil_loop_free(loop);
}

/* coil_cancel() of the group's done op cancels the whole group */
static void test_group_cancel_done_op_cancels_children(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct kid kids[5];
	struct coil_group g;
	struct rec done;

	memset(kids, 0, sizeof(kids));
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(coil_group_add(&g, &kids[i].c, kid_cb), i);
		assert_int_equal(
			coil_timeout(loop, &kids[i].c.op, 10000 * MS, 0), 0);
	}
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(coil_cancel(loop, &done.op), 0);
	assert_int_equal(done.calls, 0); /* never inline */
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, -ECANCELED);
	for (int i = 0; i < 5; i++)
		assert_int_equal(kids[i].res, -ECANCELED);
	coil_loop_free(loop);
}

/* an empty group, and one whose children all ended before the wait:
 * the done callback still comes from the loop */
static void test_group_wait_after_children_ended_not_inline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_group g;
	struct kid k;
	struct rec done;

	memset(&k, 0, sizeof(k));
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(done.calls, 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, 0);
	/* done: no more children, no second wait */
	assert_int_equal(coil_group_add(&g, &k.c, kid_cb), -EINVAL);
	assert_int_equal(coil_group_wait(&g, &done.op), -EINVAL);

	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_FAIL_FAST), 0);
	assert_int_equal(coil_group_add(&g, &k.c, kid_cb), 0);
	assert_int_equal(coil_nop(loop, &k.c.op), 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(k.res, 0);
	rec_init(&done);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(done.calls, 0);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(done.calls, 1);
	assert_int_equal(done.res, 0);
	coil_loop_free(loop);
}

static void test_group_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_group g;
	struct kid k, t;
	struct rec done, done2;

	memset(&k, 0, sizeof(k));
	memset(&t, 0, sizeof(t));
	assert_int_equal(coil_group_init(NULL, loop, 0), -EINVAL);
	assert_int_equal(coil_group_init(&g, NULL, 0), -EINVAL);
	assert_int_equal(coil_group_init(&g, loop, 7), -EINVAL);
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	assert_int_equal(coil_group_add(NULL, &k.c, NULL), -EINVAL);
	assert_int_equal(coil_group_add(&g, NULL, NULL), -EINVAL);
	assert_int_equal(coil_group_child_done(NULL, 0), -EINVAL);
	assert_int_equal(coil_group_child_done(&k.c, 0),
			 -EINVAL); /* not added */
	assert_int_equal(coil_group_add(&g, &k.c, kid_cb), 0);
	assert_int_equal(coil_timeout(loop, &k.c.op, 1 * MS, 0), 0);
	/* in flight: a child already running cannot be re-added or ended */
	assert_int_equal(coil_group_add(&g, &k.c, kid_cb), -EBUSY);
	assert_int_equal(coil_group_child_done(&k.c, 0), -EBUSY);
	/* a task reports its end once */
	assert_int_equal(coil_group_add_task(&g, &t.c, NULL, kid_cb), 1);
	assert_int_equal(coil_group_child_done(&t.c, 5), 0);
	assert_int_equal(coil_group_child_done(&t.c, 6), -EBUSY);
	rec_init(&done);
	rec_init(&done2);
	assert_int_equal(coil_group_wait(NULL, &done.op), -EINVAL);
	assert_int_equal(coil_group_wait(&g, NULL), -EINVAL);
	assert_int_equal(coil_group_wait(&g, &done.op), 0);
	assert_int_equal(coil_group_wait(&g, &done2.op), -EBUSY);
	assert_int_equal(coil_group_cancel(NULL), -EINVAL);
	assert_int_equal(coil_group_results(NULL, NULL, 0), 0);
	int r[2];
	assert_int_equal(coil_group_results(&g, r, 2), 2);
	assert_int_equal(r[0], -EINPROGRESS);
	assert_int_equal(run_idle(loop, 1000 * MS), 0);
	assert_int_equal(done.res, 0);
	assert_int_equal(t.res, 5);
	assert_int_equal(coil_group_cancel(&g), -EINVAL); /* done */
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_group_gather_100_timeouts_3_fail_in_order),
		cmocka_unit_test(test_group_gather_tasks_keep_order),
		cmocka_unit_test(test_group_fail_fast_cancels_slow_siblings),
		cmocka_unit_test(test_group_fail_fast_refuses_new_children),
		cmocka_unit_test(test_group_cancel_done_op_cancels_children),
		cmocka_unit_test(
			test_group_wait_after_children_ended_not_inline),
		cmocka_unit_test(test_group_bad_input),
	};
	return cmocka_run_group_tests_name("async.group", tests, NULL, NULL);
}
