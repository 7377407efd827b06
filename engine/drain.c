/*
 * engine/drain.c - graceful shutdown of a loop (asyncio's "close the
 * server, wait for the tasks with a timeout, cancel the rest"):
 * coil_loop_drain() stops new connections, runs the loop until in-flight
 * work is done or the timeout passes, then cancels what is left - the
 * ring's requests with one IORING_OP_ASYNC_CANCEL (ANY | ALL), SQEs still
 * queued in user space, ops waiting on primitives, jobs queued on pools -
 * and runs the loop for their callbacks.
 *
 * The waits are bounded by internal timers whose CQEs the loop ignores
 * (TAG_IGNORE), so they neither count as in flight nor reach a callback.
 */

#include <errno.h>

#include "async_internal.h"

#ifndef IORING_ASYNC_CANCEL_OP
#define IORING_ASYNC_CANCEL_OP (1U << 5) /* kernel 6.6; liburing 2.5 */
#endif

#define MIN_CANCEL_WAIT_NS 1000000000ull

int coil_loop_draining(const struct coil_loop *loop)
{
	return loop ? loop->draining : 0;
}

/* An SQE straight into the ring for an internal request, flushing the SQ
 * once if it is full (as the inbox read does). */
static struct io_uring_sqe *internal_sqe(struct coil_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		io_uring_submit(&loop->ring);
		loop->st.enters++;
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

/* A timer at absolute @at_ns whose CQE only wakes the loop. */
static int arm_wakeup(struct coil_loop *loop, struct __kernel_timespec *ts,
		      uint64_t at_ns)
{
	struct io_uring_sqe *sqe = internal_sqe(loop);
	if (!sqe)
		return -EBUSY;
	ts->tv_sec = (long long)(at_ns / 1000000000ull);
	ts->tv_nsec = (long long)(at_ns % 1000000000ull);
	io_uring_prep_timeout(sqe, ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)ts | TAG_IGNORE);
	return 0;
}

static void disarm_wakeup(struct coil_loop *loop, struct __kernel_timespec *ts)
{
	struct io_uring_sqe *sqe = internal_sqe(loop);
	if (!sqe)
		return; /* it fires later into TAG_IGNORE: harmless */
	io_uring_prep_timeout_remove(sqe, (uint64_t)(uintptr_t)ts | TAG_IGNORE,
				     0);
	io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

static void cancel_ring(struct coil_loop *loop, unsigned flags, unsigned op)
{
	struct io_uring_sqe *sqe = internal_sqe(loop);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, (int)flags);
	if (flags & IORING_ASYNC_CANCEL_OP)
		sqe->len = op; /* the opcode to match */
	io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

/* Run turns until nothing is in flight or coil_now() reaches @until.
 * Return: 0 or -errno from coil_loop_run(). */
static int run_until(struct coil_loop *loop, uint64_t until)
{
	struct __kernel_timespec ts;
	int ret = 0;

	if (!loop->inflight && !loop->pend_head)
		return 0;
	if (arm_wakeup(loop, &ts, until) < 0)
		return -EBUSY;
	while ((loop->inflight || loop->pend_head) && coil_now(loop) < until) {
		ret = coil_loop_run(loop, COIL_RUN_ONCE);
		if (ret < 0)
			break;
		ret = 0;
	}
	disarm_wakeup(loop, &ts);
	return ret;
}

void coil__cancel_all_waits(struct coil_loop *loop)
{
	static unsigned long epoch_counter;
	unsigned long epoch =
		__atomic_add_fetch(&epoch_counter, 1, __ATOMIC_RELAXED);
	struct coil__waitq *wq;

	/* Cancelling one queue may link or unlink others (a group cancels
	 * its children, which wait elsewhere): restart from the head each
	 * time and skip the queues already visited. */
	for (;;) {
		for (wq = loop->waitqs; wq && wq->epoch == epoch; wq = wq->next)
			;
		if (!wq)
			break;
		wq->epoch = epoch;
		if (wq->cancel)
			wq->cancel(wq, NULL);
		else
			coil__waitq_cancel_default(wq, NULL);
	}
}

int coil_loop_drain(struct coil_loop *loop, uint64_t timeout_ns)
{
	uint64_t now, wait2;
	int ret;

	if (!loop)
		return -EINVAL;
	if (loop->draining || loop->running)
		return -EBUSY; /* nested, or from one of its callbacks */
	loop->draining = 1;
	loop->drain_cancelled = 0;

	/* 1. no new connections */
	cancel_ring(loop, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_OP,
		    IORING_OP_ACCEPT);

	/* 2. let the work in flight finish */
	now = coil_now_update(loop);
	if (timeout_ns > UINT64_MAX - now)
		timeout_ns = UINT64_MAX - now;
	ret = run_until(loop, now + timeout_ns);
	if (ret < 0)
		goto out;

	/* 3. cancel the rest and collect the callbacks */
	if (loop->inflight || loop->pend_head) {
		loop->draining = 2;
		coil__cancel_all_waits(loop);
		coil__pool_cancel_loop(loop);
		for (struct pending *p = loop->pend_head, *next; p; p = next) {
			next = p->next;
			if (p->op)
				coil_cancel(loop, p->op);
		}
		for (struct coil_op *op = loop->parked, *next; op; op = next) {
			next = op->next;
			coil_cancel(loop, op);
		}
		cancel_ring(loop,
			    IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
			    0);
		wait2 = timeout_ns > MIN_CANCEL_WAIT_NS ? timeout_ns
							: MIN_CANCEL_WAIT_NS;
		now = coil_now_update(loop);
		if (wait2 > UINT64_MAX - now)
			wait2 = UINT64_MAX - now;
		ret = run_until(loop, now + wait2);
	}
out:
	/* the timer removals go out now, not whenever the loop runs again */
	if (io_uring_sq_ready(&loop->ring)) {
		io_uring_submit(&loop->ring);
		loop->st.enters++;
	}
	loop->draining = 0;
	return ret < 0 ? ret : (int)loop->drain_cancelled;
}
