/* tests/engine/test_alarm.c - coil_loop_alarm(): the loop's own wake-up,
 * the timeout of its waits (no timeout op): it rings once, never before
 * its time, bounds a wait that has nothing else to end it, keeps
 * coil_loop_run() running like an op in flight, can be replaced,
 * cancelled and re-armed from its callback. The gathering wait that sleeps
 * from alarm to alarm (COIL_BATCH_WAIT_TIMER) is in test_batch_wait.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#define MS 1000000ull

struct rung {
	struct coil_op op;
	struct coil_loop *loop;
	int calls;
	int res;
	uint64_t at_ns;
	int rearm; /* ring again this many times, every 2 ms */
};

static void on_idle(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
}

static void on_ring(struct coil_op *op, int res, unsigned flags)
{
	struct rung *r = coil_container_of(op, struct rung, op);
	(void)flags;
	r->calls++;
	r->res = res;
	r->at_ns = tu_mono_ns();
	if (r->rearm-- > 0)
		assert_int_equal(
			coil_loop_alarm(r->loop, op, r->at_ns + 2 * MS), 0);
}

/* A loop with an alarm, or a skip on kernels without EXT_ARG. */
static struct coil_loop *alarm_loop(void)
{
	struct coil_loop *loop = tu_loop(NULL);
	if (!(coil_loop_features(loop) & COIL_FEAT_EXT_ARG)) {
		coil_loop_free(loop);
		skip(); /* kernel < 5.11 */
	}
	return loop;
}

static void test_alarm_rejects_bad_op(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_op op;
	(void)state;
	assert_int_equal(coil_loop_alarm(loop, NULL, 0), -EINVAL);
	coil_op_init(&op, NULL);
	assert_int_equal(coil_loop_alarm(loop, &op, 0), -EINVAL);
	coil_loop_free(loop);
}

/* The only thing armed: coil_loop_run(DEFAULT) waits for it, it rings
 * once with res 0, not before its time, and the run then ends. */
static void test_alarm_rings_once_at_its_time(void **state)
{
	struct coil_loop *loop = alarm_loop();
	struct rung r = {.loop = loop};
	(void)state;
	coil_op_init(&r.op, on_ring);
	uint64_t at = coil_now_update(loop) + 20 * MS;
	assert_int_equal(coil_loop_alarm(loop, &r.op, at), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.res, 0);
	assert_true(r.at_ns >= at);
	assert_true(r.at_ns - at < 900 * MS); /* loaded CI: generous */
	/* no kernel op was used: nothing submitted, nothing reaped */
	struct coil_loop_stats st;
	coil_loop_stats(loop, &st);
	assert_int_equal(st.cqes, 0);
	coil_loop_free(loop);
}

/* A recv that never completes and an alarm: COIL_RUN_ONCE waits, and the
 * alarm ends the wait. */
static void test_alarm_bounds_a_wait(void **state)
{
	struct coil_loop *loop = alarm_loop();
	struct rung r = {.loop = loop};
	struct coil_op idle;
	int fds[2];
	char buf[4];
	(void)state;
	tu_tcp_pair(fds);
	coil_op_init(&idle, on_idle);
	coil_op_init(&r.op, on_ring);
	assert_int_equal(coil_recv(loop, &idle, fds[0], buf, sizeof(buf), 0),
			 0);
	uint64_t at = coil_now_update(loop) + 10 * MS;
	assert_int_equal(coil_loop_alarm(loop, &r.op, at), 0);
	while (!r.calls)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(r.calls, 1);
	assert_true(r.at_ns >= at);
	assert_true(r.at_ns - at < 900 * MS);
	assert_int_equal(coil_cancel(loop, &idle), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* Arming again replaces the alarm; a cancelled one never rings and no
 * longer keeps the loop running. */
static void test_alarm_replace_and_cancel(void **state)
{
	struct coil_loop *loop = alarm_loop();
	struct rung a = {.loop = loop}, b = {.loop = loop};
	(void)state;
	coil_op_init(&a.op, on_ring);
	coil_op_init(&b.op, on_ring);
	uint64_t now = coil_now_update(loop);
	assert_int_equal(coil_loop_alarm(loop, &a.op, now + 5 * MS), 0);
	assert_int_equal(coil_loop_alarm(loop, &b.op, now + 10 * MS), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 1);
	assert_true(b.at_ns >= now + 10 * MS);

	assert_int_equal(coil_loop_alarm(loop, &a.op, now + 5000 * MS), 0);
	coil_loop_alarm_cancel(loop);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_true(tu_mono_ns() - t0 < 1000 * MS);
	assert_int_equal(a.calls, 0);
	coil_loop_free(loop);
}

/* The callback re-arms: five rings, each 2 ms after the last, in order. */
static void test_alarm_rearms_from_its_callback(void **state)
{
	struct coil_loop *loop = alarm_loop();
	struct rung r = {.loop = loop, .rearm = 4};
	(void)state;
	coil_op_init(&r.op, on_ring);
	uint64_t t0 = coil_now_update(loop);
	assert_int_equal(coil_loop_alarm(loop, &r.op, t0 + 2 * MS), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 5);
	assert_true(r.at_ns - t0 >= 10 * MS);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alarm_rejects_bad_op),
		cmocka_unit_test(test_alarm_rings_once_at_its_time),
		cmocka_unit_test(test_alarm_bounds_a_wait),
		cmocka_unit_test(test_alarm_replace_and_cancel),
		cmocka_unit_test(test_alarm_rearms_from_its_callback),
	};
	return cmocka_run_group_tests_name("engine.alarm", tests, NULL, NULL);
}
