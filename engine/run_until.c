/*
 * engine/run_until.c - coil_loop_run_until(): run a loop until a flag is
 * set or a time limit passes, the helper every test and example of coil
 * was writing for itself (docs/TESTING.md). The limit is a ring timer of
 * its own, so the wait ends even when nothing else is in flight, and the
 * timer is gone again before the call returns.
 */

#include <errno.h>

#include "async_internal.h"

struct until {
	struct coil_op tmr;
	int fired;
};

static void until_cb(struct coil_op *op, int res, unsigned flags)
{
	struct until *u = coil_container_of(op, struct until, tmr);
	(void)res;
	(void)flags;
	u->fired = 1;
}

int coil_loop_run_until(struct coil_loop *loop, const volatile int *flag,
			uint64_t timeout_ns)
{
	struct until u = {.fired = 0};
	int ret = 0;

	if (!loop || !flag)
		return -EINVAL;
	if (loop->running)
		return -EBUSY;
	coil_op_init(&u.tmr, until_cb);
	ret = coil_timeout(loop, &u.tmr, timeout_ns ? timeout_ns : 1, 0);
	if (ret < 0)
		return ret;
	coil__mark_internal(&u.tmr);
	while (!*flag && !u.fired) {
		ret = coil_loop_run(loop, COIL_RUN_ONCE);
		if (ret < 0)
			break;
	}
	/* the timer lives on this stack: see it end before returning */
	if (!u.fired && coil_timeout_remove(loop, &u.tmr) < 0)
		coil_cancel(loop, &u.tmr);
	while (!u.fired)
		if (coil_loop_run(loop, COIL_RUN_ONCE) < 0 && !u.fired)
			coil_loop_run(loop, COIL_RUN_NOWAIT);
	if (ret < 0)
		return ret;
	return *flag ? 0 : -ETIMEDOUT;
}
