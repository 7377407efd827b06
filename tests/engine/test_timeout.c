/* tests/engine/test_timeout.c - timers, timer removal, linked timeouts and
 * deadline scopes. Time bounds are generous: the suite runs on two loaded
 * cores and under sanitizers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

/* Late by at most this much (loaded machine, sanitizers). */
#define SLACK (500 * MS)

static void test_timeout_relative_fires_on_time(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;

	cop_init(&c);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &c.op, 50 * MS, 0), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0); /* -ETIME is "fired", reported as 0 */
	assert_true(c.at_ns - t0 >= 50 * MS);
	assert_true(c.at_ns - t0 < 50 * MS + SLACK);

	/* a zero timer fires at once, still from the loop */
	cop_init(&c);
	assert_int_equal(coil_timeout(loop, &c.op, 0, 0), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	te_end(loop);
}

static void test_timeout_absolute_fires_on_time(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c, past;

	cop_init(&c);
	cop_init(&past);
	uint64_t when = coil_now_update(loop) + 60 * MS;
	assert_int_equal(coil_timeout(loop, &c.op, when, COIL_TIMEOUT_ABS), 0);
	/* an absolute time already gone fires at once */
	assert_int_equal(coil_timeout(loop, &past.op, coil_now(loop) - 1000,
				      COIL_TIMEOUT_ABS),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	assert_true(c.at_ns >= when);
	assert_true(c.at_ns < when + SLACK);
	assert_int_equal(past.calls, 1);
	assert_int_equal(past.res, 0);
	assert_true(past.at_ns < when);
	te_end(loop);
}

static void test_timeout_remove_gives_ecanceled(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c, other;

	cop_init(&c);
	cop_init(&other);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &c.op, 10000 * MS, 0), 0);
	/* removal in the same batch as the timer's own SQE */
	assert_int_equal(coil_timeout_remove(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);

	/* removal of a timer armed in an earlier turn */
	cop_init(&c);
	assert_int_equal(coil_timeout(loop, &c.op, 10000 * MS, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(coil_timeout_remove(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);

	/* not a timer, or not in flight: -EINVAL, nothing runs */
	assert_int_equal(coil_timeout_remove(loop, &c.op), -EINVAL);
	assert_int_equal(coil_nop(loop, &other.op), 0);
	assert_int_equal(coil_timeout_remove(loop, &other.op), -EINVAL);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(c.calls, 1);
	te_end(loop);
}

static void test_timeout_linked_recv_expires(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	int fds[2];
	char buf[16];

	tu_tcp_pair(fds);
	cop_init(&c);
	coil_op_timeout(&c.op, 20 * MS);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ETIMEDOUT);
	assert_true(c.at_ns - t0 >= 20 * MS);
	assert_true(c.at_ns - t0 < 20 * MS + SLACK);

	/* the setting was consumed: the next recv has no timeout, and data
	 * that arrives late is still delivered */
	cop_init(&c);
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	struct cop t;
	cop_init(&t);
	assert_int_equal(coil_timeout(loop, &t.op, 60 * MS, 0), 0);
	assert_int_equal(te_run_calls(loop, &t.calls, 1, 5000 * MS), 1);
	assert_int_equal(c.calls, 0);
	assert_int_equal(send(fds[1], "late", 4, 0), 4);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 4);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* The op wins: data arrives before the timeout. Both CQEs (the recv's and
 * the timeout's -ECANCELED) must be consumed and the callback run once. */
static void test_timeout_linked_recv_wins(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	int fds[2];
	char buf[16];

	tu_tcp_pair(fds);
	/* data already there */
	assert_int_equal(send(fds[1], "early", 5, 0), 5);
	cop_init(&c);
	coil_op_timeout(&c.op, 5000 * MS);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_true(coil_op_busy(&c.op));
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 5);
	assert_memory_equal(buf, "early", 5);
	assert_false(coil_op_busy(&c.op));
	assert_true(tu_mono_ns() - t0 < 2000 * MS); /* did not wait it out */

	/* data arrives while the recv waits */
	cop_init(&c);
	coil_op_timeout(&c.op, 5000 * MS);
	t0 = tu_mono_ns();
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(send(fds[1], "later", 5, 0), 5);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 5);
	assert_memory_equal(buf, "later", 5);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* Resubmit from the callback: the op is the caller's again once its one
 * callback ran, even with a linked timeout's CQE involved. */
struct chain {
	struct coil_op op;
	struct coil_loop *loop;
	int fd;
	int calls, timeouts, data;
	char buf[8];
};

static void on_chain(struct coil_op *op, int res, unsigned flags)
{
	struct chain *ch = coil_container_of(op, struct chain, op);
	ch->calls++;
	if (res == -ETIMEDOUT)
		ch->timeouts++;
	else if (res > 0)
		ch->data++;
	else
		fail_msg("unexpected result %d", res);
	if (ch->calls < 20) {
		coil_op_timeout(op, 2 * MS);
		assert_int_equal(coil_recv(ch->loop, op, ch->fd, ch->buf, 1, 0),
				 0);
	}
}

/* Races on purpose: a 1-2 ms timeout against data sent at about that time,
 * so the op's CQE and the timeout's arrive in either order. */
static void test_timeout_linked_pairing_either_order(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct chain ch = {.loop = loop};
	int fds[2];

	tu_tcp_pair(fds);
	ch.fd = fds[0];
	coil_op_init(&ch.op, on_chain);
	coil_op_timeout(&ch.op, 2 * MS);
	assert_int_equal(coil_recv(loop, &ch.op, ch.fd, ch.buf, 1, 0), 0);
	for (int i = 0; i < 200 && ch.calls < 20; i++) {
		struct cop t;
		cop_init(&t);
		assert_int_equal(
			coil_timeout(loop, &t.op, 1 * MS + i * 10000, 0), 0);
		assert_int_equal(te_run_calls(loop, &t.calls, 1, 5000 * MS), 1);
		assert_int_equal(send(fds[1], "x", 1, 0), 1);
	}
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(ch.calls, 20);
	assert_int_equal(ch.timeouts + ch.data, 20);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

static void test_timeout_deadline_scope(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop a, b, own, after;
	int fds[2];
	char b1[8], b2[8], b3[8], b4[8];

	tu_tcp_pair(fds);
	cop_init(&a);
	cop_init(&b);
	cop_init(&own);
	uint64_t t0 = coil_now_update(loop);
	uint64_t prev = coil_deadline_enter(loop, t0 + 100 * MS);
	assert_int_equal(prev, 0);
	/* no own timeout: gets the remaining ~100 ms */
	assert_int_equal(coil_recv(loop, &a.op, fds[0], b1, 8, 0), 0);
	/* a longer own timeout: the deadline wins */
	coil_op_timeout(&b.op, 5000 * MS);
	assert_int_equal(coil_recv(loop, &b.op, fds[0], b2, 8, 0), 0);
	/* a shorter own timeout wins over the deadline */
	coil_op_timeout(&own.op, 20 * MS);
	assert_int_equal(coil_recv(loop, &own.op, fds[0], b3, 8, 0), 0);

	/* an inner scope can only shorten */
	uint64_t p2 = coil_deadline_enter(loop, t0 + 10000 * MS);
	assert_int_equal(p2, t0 + 100 * MS);
	coil_deadline_leave(loop, p2);
	coil_deadline_leave(loop, prev);

	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(own.calls, 1);
	assert_int_equal(own.res, -ETIMEDOUT);
	assert_true(own.at_ns - t0 >= 20 * MS);
	assert_true(own.at_ns - t0 < 20 * MS + SLACK);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -ETIMEDOUT);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, -ETIMEDOUT);
	assert_true(a.at_ns - t0 >= 90 * MS); /* cached clock: allow 10ms */
	assert_true(a.at_ns - t0 < 100 * MS + SLACK);
	assert_true(b.at_ns - t0 >= 90 * MS);
	assert_true(b.at_ns - t0 < 100 * MS + SLACK);

	/* after the deadline: fails with -ETIMEDOUT, through the callback,
	 * on the next turn, and never reaches the kernel */
	cop_init(&after);
	uint64_t now = coil_now_update(loop);
	prev = coil_deadline_enter(loop, now - 1);
	assert_int_equal(coil_recv(loop, &after.op, fds[0], b4, 8, 0), 0);
	assert_int_equal(after.calls, 0);
	assert_true(coil_op_busy(&after.op));
	assert_int_equal(coil_loop_inflight(loop), 1);
	/* an op that cannot carry a timeout is not subject to the scope */
	struct cop tm;
	cop_init(&tm);
	assert_int_equal(coil_timeout(loop, &tm.op, 1 * MS, 0), 0);
	coil_deadline_leave(loop, prev);
	assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
	assert_int_equal(after.calls, 1);
	assert_int_equal(after.res, -ETIMEDOUT);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(tm.calls, 1);
	assert_int_equal(tm.res, 0);

	/* the scope is gone: a recv with data succeeds */
	cop_init(&a);
	assert_int_equal(send(fds[1], "ok", 2, 0), 2);
	assert_int_equal(coil_recv(loop, &a.op, fds[0], b1, 8, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, 2);

	/* data inside the deadline: delivered, the deadline does not fire */
	cop_init(&a);
	prev = coil_deadline_enter(loop, coil_now_update(loop) + 5000 * MS);
	assert_int_equal(coil_recv(loop, &a.op, fds[0], b1, 8, 0), 0);
	coil_deadline_leave(loop, prev);
	assert_int_equal(send(fds[1], "in", 2, 0), 2);
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, 2);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

static void test_timeout_refused_on_multishot(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	unsigned short port;
	int lfd = tu_listen(&port);

	cop_init(&c);
	coil_op_timeout(&c.op, 10 * MS);
	if (coil_loop_features(loop) & COIL_FEAT_MULTISHOT_ACCEPT) {
		assert_int_equal(
			coil_accept(loop, &c.op, lfd, COIL_ACCEPT_MULTISHOT),
			-EINVAL);
		assert_false(coil_op_busy(&c.op));
	}
	/* a timer cannot take a linked timeout either */
	assert_int_equal(coil_timeout(loop, &c.op, 10 * MS, 0), -EINVAL);
	assert_int_equal(coil_loop_inflight(loop), 0);
	assert_int_equal(c.calls, 0);
	close(lfd);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_relative_fires_on_time),
		cmocka_unit_test(test_timeout_absolute_fires_on_time),
		cmocka_unit_test(test_timeout_remove_gives_ecanceled),
		cmocka_unit_test(test_timeout_linked_recv_expires),
		cmocka_unit_test(test_timeout_linked_recv_wins),
		cmocka_unit_test(test_timeout_linked_pairing_either_order),
		cmocka_unit_test(test_timeout_deadline_scope),
		cmocka_unit_test(test_timeout_refused_on_multishot),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.timeout", tests, NULL, NULL);
}
