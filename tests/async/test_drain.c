/* tests/async/test_drain.c - graceful shutdown: wait for in-flight work
 * up to a timeout, then cancel what is left and count it */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* short work finishes, the rest is cancelled when the timeout passes:
 * kernel ops (timers, a recv), waits on a semaphore, a queue, an event, a
 * rate limiter, and a job queued on the offload pool */
static void test_drain_timeout_cancels_what_is_left(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_loop *other = tu_loop(NULL);
	struct coil_pool *pool;
	struct coil_pool_opts po = {.threads = 1};
	struct rec shortt[5], longt[5], recv, semw, qget, evw, job, rate1,
		rate2, gatej;
	struct coil_sem sem;
	struct coil_queue q;
	struct coil_event ev;
	struct coil_rate r;
	struct gate gate;
	int fds[2];
	char buf[8];
	void *slot;

	tu_tcp_pair(fds);
	gate_init(&gate);
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	/* the only worker is busy with another loop's job */
	rec_init(&gatej);
	assert_int_equal(
		coil_pool_submit(other, pool, &gatej.op, gate_job, &gate), 0);
	gate_wait_blocked(&gate, 1);

	for (int i = 0; i < 5; i++) {
		rec_init(&shortt[i]);
		rec_init(&longt[i]);
		assert_int_equal(coil_timeout(loop, &shortt[i].op, 20 * MS, 0),
				 0);
		assert_int_equal(coil_timeout(loop, &longt[i].op, 30 * SEC, 0),
				 0);
	}
	rec_init(&recv);
	assert_int_equal(coil_recv(loop, &recv.op, fds[0], buf, 8, 0), 0);
	assert_int_equal(coil_sem_init(&sem, loop, 0, 0), 0);
	rec_init(&semw);
	assert_int_equal(coil_sem_acquire(&sem, &semw.op), 0);
	assert_int_equal(coil_queue_init(&q, loop, 4), 0);
	rec_init(&qget);
	assert_int_equal(coil_queue_get(&q, &qget.op, &slot), 0);
	assert_int_equal(coil_event_init(&ev, loop), 0);
	rec_init(&evw);
	assert_int_equal(coil_event_wait(&ev, &evw.op), 0);
	rec_init(&job);
	assert_int_equal(coil_pool_submit(loop, pool, &job.op, gate_job, &gate),
			 0);
	assert_int_equal(coil_rate_init(&r, loop, 1, 3600 * SEC, 1), 0);
	rec_init(&rate1);
	rec_init(&rate2);
	assert_int_equal(coil_rate_acquire(&r, &rate1.op), 0);
	assert_int_equal(coil_rate_acquire(&r, &rate2.op), 0); /* in 1 h */

	uint64_t t0 = tu_mono_ns();
	int n = coil_loop_drain(loop, 100 * MS);
	uint64_t dt = tu_mono_ns() - t0;
	print_message("drain: %d cancelled in %.1f ms\n", n, dt / 1e6);

	/* 5 timers, recv, sem, queue, event, pool job, rate waiter */
	assert_int_equal(n, 11);
	assert_true(dt >= 100 * MS);
	assert_true(dt < 1500 * MS);
	assert_int_equal(coil_loop_inflight(loop), 0);
	assert_int_equal(coil_loop_draining(loop), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(shortt[i].calls, 1);
		assert_int_equal(shortt[i].res, 0);
		assert_int_equal(longt[i].calls, 1);
		assert_int_equal(longt[i].res, -ECANCELED);
	}
	assert_int_equal(recv.res, -ECANCELED);
	assert_int_equal(semw.res, -ECANCELED);
	assert_int_equal(qget.res, -ECANCELED);
	assert_int_equal(evw.res, -ECANCELED);
	assert_int_equal(job.res, -ECANCELED);
	assert_int_equal(job.calls, 1);
	assert_int_equal(rate1.res, 0);
	assert_int_equal(rate2.res, -ECANCELED);
	assert_int_equal(gatej.calls, 0); /* another loop's: untouched */

	/* the loop works again afterwards */
	struct rec after;
	rec_init(&after);
	assert_int_equal(coil_nop(loop, &after.op), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(after.res, 0);

	gate_open(&gate);
	assert_int_equal(run_idle(other, 5 * SEC), 0);
	assert_int_equal(gatej.res, 1000);
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_queue_destroy(&q);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
	coil_loop_free(other);
}

/* nothing in flight: returns 0 at once; everything done in time: 0 and
 * it returns when the work is done, not at the timeout */
static void test_drain_returns_when_work_is_done(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct rec t[3];

	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_loop_drain(loop, 5 * SEC), 0);
	assert_true(tu_mono_ns() - t0 < 500 * MS);

	for (int i = 0; i < 3; i++) {
		rec_init(&t[i]);
		assert_int_equal(coil_timeout(loop, &t[i].op,
					      (uint64_t)(i + 1) * 10 * MS, 0),
				 0);
	}
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_drain(loop, 10 * SEC), 0);
	uint64_t dt = tu_mono_ns() - t0;
	assert_true(dt >= 30 * MS / 2);
	assert_true(dt < 3 * SEC);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t[i].res, 0);
	coil_loop_free(loop);
}

/* no new connections: armed accepts end, new accepts are refused, while
 * other work still runs to the end */
struct acc {
	struct coil_op op;
	struct coil_op try_op;
	struct coil_loop *loop;
	int lfd;
	int accept_ret;
	int draining_seen;
	int res;
	int calls;
};

static void acc_cb(struct coil_op *op, int res, unsigned flags)
{
	struct acc *a = coil_container_of(op, struct acc, op);
	if (res >= 0) {
		close(res);
		return;
	}
	if (!(flags & COIL_MORE)) {
		a->calls++;
		a->res = res;
	}
}

static void try_accept_cb(struct coil_op *op, int res, unsigned flags)
{
	struct acc *a = coil_container_of(op, struct acc, try_op);
	struct coil_op *tmp = calloc(1, sizeof(*tmp));
	(void)res;
	(void)flags;
	a->draining_seen = coil_loop_draining(a->loop);
	coil_op_init(tmp, acc_cb);
	a->accept_ret = coil_accept(a->loop, tmp, a->lfd, 0);
	free(tmp); /* refused: never handed to the kernel */
}

static void test_drain_stops_accepting(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	unsigned short port;
	struct acc a = {.loop = loop};

	a.lfd = tu_listen(&port);
	coil_op_init(&a.op, acc_cb);
	assert_int_equal(coil_accept(loop, &a.op, a.lfd, COIL_ACCEPT_MULTISHOT),
			 0);
	coil_op_init(&a.try_op, try_accept_cb);
	assert_int_equal(coil_timeout(loop, &a.try_op, 10 * MS, 0), 0);
	int n = coil_loop_drain(loop, 50 * MS);
	assert_true(n >= 1); /* the accept */
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -ECANCELED);
	assert_int_equal(a.draining_seen, 1);
	assert_int_equal(a.accept_ret, -ESHUTDOWN);
	assert_int_equal(coil_loop_inflight(loop), 0);
	/* afterwards accepts are fine again */
	coil_op_init(&a.op, acc_cb);
	assert_int_equal(coil_accept(loop, &a.op, a.lfd, 0), 0);
	assert_int_equal(coil_cancel(loop, &a.op), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	close(a.lfd);
	coil_loop_free(loop);
}

/* a timer that re-arms itself forever: after the timeout it is
 * cancelled and its callback cannot start it again */
struct ticker {
	struct coil_op op;
	struct coil_loop *loop;
	int ticks;
	int last_res;
	int rearm_ret;
};

static void tick(struct coil_op *op, int res, unsigned flags)
{
	struct ticker *t = coil_container_of(op, struct ticker, op);
	(void)flags;
	t->ticks++;
	t->last_res = res;
	t->rearm_ret = coil_timeout(t->loop, &t->op, 1 * MS, 0);
}

static void test_drain_callbacks_cannot_restart_work(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct ticker t = {.loop = loop};

	coil_op_init(&t.op, tick);
	assert_int_equal(coil_timeout(loop, &t.op, 1 * MS, 0), 0);
	uint64_t t0 = tu_mono_ns();
	int n = coil_loop_drain(loop, 50 * MS);
	assert_true(tu_mono_ns() - t0 < 1500 * MS);
	assert_true(t.ticks >= 2); /* it ran during the grace period */
	/* cancelled, or it fired just before the cancel went in; either
	 * way it could not re-arm */
	assert_true(t.last_res == -ECANCELED || t.last_res == 0);
	assert_int_equal(n, t.last_res == -ECANCELED);
	assert_int_equal(t.rearm_ret, -ECANCELED);
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_loop_free(loop);
}

/* clean-up still works while cancelling: a cancelled recv closes its
 * socket through the ring */
struct conn {
	struct coil_op rd;
	struct coil_op cl;
	struct coil_loop *loop;
	int fd;
	char buf[8];
	int rd_res;
	int close_ret;
	int close_res;
};

static void conn_closed(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, cl);
	(void)flags;
	c->close_res = res;
}

static void conn_read(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, rd);
	(void)flags;
	c->rd_res = res;
	coil_op_init(&c->cl, conn_closed);
	c->close_ret = coil_close(c->loop, &c->cl, c->fd);
}

static void test_drain_cancelled_ops_can_close(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct conn c = {.loop = loop, .close_res = 1};
	int fds[2];

	tu_tcp_pair(fds);
	c.fd = fds[0];
	coil_op_init(&c.rd, conn_read);
	assert_int_equal(coil_recv(loop, &c.rd, c.fd, c.buf, 8, 0), 0);
	assert_int_equal(coil_loop_drain(loop, 10 * MS), 1);
	assert_int_equal(c.rd_res, -ECANCELED);
	assert_int_equal(c.close_ret, 0);
	assert_int_equal(c.close_res, 0);
	assert_true(fcntl(fds[0], F_GETFD) < 0); /* really closed */
	close(fds[1]);
	coil_loop_free(loop);
}

/* a group and a retry in its backoff end with -ECANCELED */
static int fail_now(struct coil_retry *r, struct coil_op *op, void *arg)
{
	(void)r;
	return coil_loop_post((struct coil_loop *)arg, op, -ECONNRESET);
}

static void test_drain_ends_groups_and_retries(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_group g;
	struct coil_group_child kids[3];
	struct coil_retry r;
	struct coil_retry_policy p = {.max_attempts = 5, .base_ns = 10 * SEC};
	struct rec gdone, rdone;

	memset(kids, 0, sizeof(kids));
	assert_int_equal(coil_group_init(&g, loop, COIL_GROUP_ALL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(coil_group_add(&g, &kids[i], NULL), i);
		assert_int_equal(coil_timeout(loop, &kids[i].op, 30 * SEC, 0),
				 0);
	}
	rec_init(&gdone);
	assert_int_equal(coil_group_wait(&g, &gdone.op), 0);
	rec_init(&rdone);
	assert_int_equal(
		coil_retry_start(&r, loop, &p, fail_now, loop, &rdone.op), 0);
	uint64_t t0 = tu_mono_ns();
	int n = coil_loop_drain(loop, 20 * MS);
	assert_true(tu_mono_ns() - t0 < 1500 * MS);
	assert_int_equal(n, 5); /* 3 children, the group, the retry */
	assert_int_equal(gdone.res, -ECANCELED);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kids[i].res, -ECANCELED);
	assert_int_equal(rdone.res, -ECANCELED);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_loop_free(loop);
}

struct nest {
	struct coil_op op;
	struct coil_loop *loop;
	int ret;
};

static void nested(struct coil_op *op, int res, unsigned flags)
{
	struct nest *n = coil_container_of(op, struct nest, op);
	(void)res;
	(void)flags;
	n->ret = coil_loop_drain(n->loop, 0);
}

static void test_drain_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct nest n = {.loop = loop, .ret = 1};

	assert_int_equal(coil_loop_drain(NULL, 0), -EINVAL);
	assert_int_equal(coil_loop_draining(NULL), 0);
	coil_op_init(&n.op, nested);
	assert_int_equal(coil_nop(loop, &n.op), 0);
	assert_int_equal(coil_loop_drain(loop, 1 * SEC), 0);
	assert_int_equal(n.ret, -EBUSY); /* not from its own callbacks */
	n.ret = 1;
	assert_int_equal(coil_nop(loop, &n.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(n.ret, -EBUSY);
	assert_int_equal(coil_loop_draining(loop), 0); /* nothing started */
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain_timeout_cancels_what_is_left),
		cmocka_unit_test(test_drain_returns_when_work_is_done),
		cmocka_unit_test(test_drain_stops_accepting),
		cmocka_unit_test(test_drain_callbacks_cannot_restart_work),
		cmocka_unit_test(test_drain_cancelled_ops_can_close),
		cmocka_unit_test(test_drain_ends_groups_and_retries),
		cmocka_unit_test(test_drain_bad_input),
	};
	return cmocka_run_group_tests_name("async.drain", tests, NULL, NULL);
}
