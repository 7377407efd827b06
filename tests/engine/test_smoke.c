/* tests/engine/test_smoke.c - the loop comes up and runs the simplest ops */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

struct counted {
	struct coil_op op;
	int calls;
	int res;
};

static void on_done(struct coil_op *op, int res, unsigned flags)
{
	struct counted *c = coil_container_of(op, struct counted, op);
	c->calls++;
	c->res = res;
}

static void test_smoke_nop_runs_callback_once(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct counted c = {0};
	coil_op_init(&c.op, on_done);
	assert_int_equal(coil_nop(loop, &c.op), 0);
	assert_int_equal(c.calls, 0); /* never inline */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	coil_loop_free(loop);
}

static void test_smoke_linked_timeout_recv_expires(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct counted c = {0};
	int fds[2];
	char buf[16];
	tu_tcp_pair(fds);
	coil_op_init(&c.op, on_done);
	coil_op_timeout(&c.op, 20 * 1000000ull);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	uint64_t dt = tu_mono_ns() - t0;
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ETIMEDOUT);
	assert_true(dt >= 20 * 1000000ull && dt < 200 * 1000000ull);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smoke_nop_runs_callback_once),
		cmocka_unit_test(test_smoke_linked_timeout_recv_expires),
	};
	return cmocka_run_group_tests_name("engine.smoke", tests, NULL, NULL);
}
