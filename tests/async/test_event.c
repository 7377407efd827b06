/* tests/async/test_event.c - set / clear / wait */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define SEC 1000000000ull

/* set wakes every waiter (through the loop); waits after set complete at
 * once; after clear they wait again */
static void test_event_set_wakes_all_waiters(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_event ev;
	struct rec w[10], late;

	assert_int_equal(coil_event_init(&ev, loop), 0);
	assert_int_equal(coil_event_is_set(&ev), 0);
	for (int i = 0; i < 10; i++) {
		rec_init(&w[i]);
		assert_int_equal(coil_event_wait(&ev, &w[i].op), 0);
	}
	assert_int_equal(coil_loop_inflight(loop), 10);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(w[0].calls, 0);
	coil_event_set(&ev);
	assert_int_equal(w[0].calls, 0); /* not inline */
	assert_int_equal(coil_event_is_set(&ev), 1);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(w[i].calls, 1);
		assert_int_equal(w[i].res, 0);
	}
	rec_init(&late);
	assert_int_equal(coil_event_wait(&ev, &late.op), 0);
	assert_int_equal(late.calls, 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(late.calls, 1);
	coil_event_clear(&ev);
	assert_int_equal(coil_event_is_set(&ev), 0);
	rec_init(&late);
	assert_int_equal(coil_event_wait(&ev, &late.op), 0);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(late.calls, 0);
	assert_int_equal(coil_cancel(loop, &late.op), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(late.res, -ECANCELED);
	coil_loop_free(loop);
}

/* set from a callback (a timer), as another task would */
static void set_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	coil_event_set((struct coil_event *)op->data);
}

static void test_event_set_from_timer(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_event ev;
	struct coil_op t;
	struct rec w;

	assert_int_equal(coil_event_init(&ev, loop), 0);
	rec_init(&w);
	assert_int_equal(coil_event_wait(&ev, &w.op), 0);
	coil_op_init(&t, set_cb);
	t.data = &ev;
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &t, 10000000ull, 0), 0);
	assert_int_equal(run_idle(loop, 5 * SEC), 0);
	assert_int_equal(w.res, 0);
	assert_true(w.at_ns - t0 >= 10000000ull);
	coil_loop_free(loop);
}

static void test_event_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_event ev;
	struct rec w;

	rec_init(&w);
	assert_int_equal(coil_event_init(NULL, loop), -EINVAL);
	assert_int_equal(coil_event_init(&ev, NULL), -EINVAL);
	assert_int_equal(coil_event_init(&ev, loop), 0);
	assert_int_equal(coil_event_wait(NULL, &w.op), -EINVAL);
	assert_int_equal(coil_event_wait(&ev, NULL), -EINVAL);
	assert_int_equal(coil_event_wait(&ev, &w.op), 0);
	assert_int_equal(coil_event_wait(&ev, &w.op), -EBUSY);
	coil_event_set(NULL);
	coil_event_clear(NULL);
	assert_int_equal(coil_event_is_set(NULL), 0);
	coil_event_set(&ev);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(w.res, 0);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_set_wakes_all_waiters),
		cmocka_unit_test(test_event_set_from_timer),
		cmocka_unit_test(test_event_bad_input),
	};
	return cmocka_run_group_tests_name("async.event", tests, NULL, NULL);
}
