/*
 * engine/deadline.c - deadlines that are not linked timeouts: those of
 * ops waiting in user space (a semaphore, a queue, an event, a group's
 * end, a pool job), and the deadline a task carries across its callbacks.
 *
 * A wait cannot link an IORING_OP_LINK_TIMEOUT (it never reaches the
 * kernel), so the loop keeps a binary min-heap of (deadline, op) for the
 * waits that have one, with the op's heap index in op->fd (a waiting op
 * has no file), and one IORING_OP_TIMEOUT with IORING_TIMEOUT_ABS armed
 * for the earliest deadline (io_uring_prep_timeout(3)). When it fires,
 * every wait that is due is cancelled through its primitive's own cancel
 * path (coil__cancel_wait()) with ST_TIMED_OUT set, which coil__post()
 * turns from -ECANCELED into -ETIMEDOUT. An op leaves the heap when its
 * callback is due (finish() in loop.c), however it ended. A deadline
 * earlier than the armed one removes the timer (IORING_OP_TIMEOUT_REMOVE)
 * and its completion re-arms it for the new earliest.
 *
 * The carried deadline (coil_task_deadline_enter()) is loop->
 * task_deadline_ns while a task's code runs; submit() stores it in the
 * op's timeout_ns (free while the op is in flight) and finish() restores
 * it around the op's callback, so the task's next op gets it too.
 */

#include <errno.h>
#include <stdlib.h>

#include "async_internal.h"

static void heap_set(struct coil_loop *loop, unsigned i, struct coil__wdl e)
{
	loop->wdl[i] = e;
	e.op->fd = (int32_t)i;
}

static void sift_up(struct coil_loop *loop, unsigned i)
{
	struct coil__wdl e = loop->wdl[i];
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (loop->wdl[parent].at <= e.at)
			break;
		heap_set(loop, i, loop->wdl[parent]);
		i = parent;
	}
	heap_set(loop, i, e);
}

static void sift_down(struct coil_loop *loop, unsigned i)
{
	struct coil__wdl e = loop->wdl[i];
	unsigned n = loop->wdl_len;
	for (;;) {
		unsigned c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && loop->wdl[c + 1].at < loop->wdl[c].at)
			c++;
		if (e.at <= loop->wdl[c].at)
			break;
		heap_set(loop, i, loop->wdl[c]);
		i = c;
	}
	heap_set(loop, i, e);
}

static void heap_del(struct coil_loop *loop, unsigned i)
{
	struct coil_op *op = loop->wdl[i].op;
	unsigned last = --loop->wdl_len;

	op->state &= (uint16_t)~ST_WAIT_TIMED;
	op->fd = -1;
	if (i == last)
		return;
	heap_set(loop, i, loop->wdl[last]);
	if (i > 0 && loop->wdl[i].at < loop->wdl[(i - 1) / 2].at)
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

static void timer_cb(struct coil_op *op, int res, unsigned flags);

/* Keep the timer armed for the earliest deadline, or not at all. */
static void timer_sync(struct coil_loop *loop)
{
	if (loop->wdl_removing)
		return; /* the removal's completion syncs again */
	if (!loop->wdl_len) {
		if (loop->wdl_armed_at &&
		    coil_timeout_remove(loop, &loop->wdl_timer) == 0)
			loop->wdl_removing = 1;
		return;
	}
	uint64_t at = loop->wdl[0].at;
	if (!loop->wdl_armed_at) {
		coil_op_init(&loop->wdl_timer, timer_cb);
		/* while cancelling (drain) this fails; the waits are being
		 * cancelled anyway, and the next timed wait re-arms */
		if (coil_timeout(loop, &loop->wdl_timer, at, COIL_TIMEOUT_ABS))
			return;
		coil__mark_internal(&loop->wdl_timer);
		loop->wdl_armed_at = at;
	} else if (at < loop->wdl_armed_at &&
		   coil_timeout_remove(loop, &loop->wdl_timer) == 0) {
		loop->wdl_removing = 1;
	}
}

static void timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_loop *loop =
		coil_container_of(op, struct coil_loop, wdl_timer);
	uint64_t now = coil_now_update(loop);

	(void)res;
	(void)flags;
	loop->wdl_armed_at = 0;
	loop->wdl_removing = 0;
	while (loop->wdl_len && loop->wdl[0].at <= now) {
		struct coil_op *w = loop->wdl[0].op;
		heap_del(loop, 0);
		if (!(w->state & ST_EXPECT) || (w->state & ST_POSTED))
			continue; /* already completing with its result */
		w->state |= ST_TIMED_OUT;
		/* -EALREADY: a pool job that has started; its result comes */
		if (coil__cancel_wait(loop, w) != 0)
			w->state &= (uint16_t)~ST_TIMED_OUT;
	}
	timer_sync(loop);
}

int coil__wait_timed(struct coil_loop *loop, struct coil_op *op)
{
	uint64_t t = op->timeout_ns, at = coil__scope_deadline(loop);
	/* a relative timeout counts from the call, as a linked timeout
	 * counts from the submission, not from the turn's start */
	uint64_t now = t ? coil_now_update(loop) : loop->now_ns;
	struct coil__wdl e;

	if (t && (!at || now + t < at))
		at = now + t;
	/* the carried deadline rides along to the callback */
	op->timeout_ns = loop->task_deadline_ns;
	if (!at)
		return 0;
	if (at <= now) {
		coil__post(loop, op, -ETIMEDOUT);
		return 1;
	}
	if (loop->wdl_len == loop->wdl_cap) {
		unsigned cap = loop->wdl_cap ? 2 * loop->wdl_cap : 16;
		struct coil__wdl *n = realloc(loop->wdl, cap * sizeof(*n));
		if (!n) {
			coil__post(loop, op, -ENOMEM);
			return 1;
		}
		loop->wdl = n;
		loop->wdl_cap = cap;
	}
	e.at = at;
	e.op = op;
	op->state |= ST_WAIT_TIMED;
	loop->wdl[loop->wdl_len++] = e;
	sift_up(loop, loop->wdl_len - 1);
	timer_sync(loop);
	return 0;
}

void coil__wait_untime(struct coil_loop *loop, struct coil_op *op)
{
	unsigned i = (unsigned)op->fd;

	if (op->fd < 0 || i >= loop->wdl_len || loop->wdl[i].op != op) {
		op->state &= (uint16_t)~ST_WAIT_TIMED;
		return;
	}
	heap_del(loop, i);
	timer_sync(loop);
}

void coil__wait_free(struct coil_loop *loop)
{
	free(loop->wdl);
	loop->wdl = NULL;
	loop->wdl_len = loop->wdl_cap = 0;
}

uint64_t coil_task_deadline_enter(struct coil_loop *loop, uint64_t deadline_ns)
{
	uint64_t prev = loop->task_deadline_ns;
	if (deadline_ns && (!prev || deadline_ns < prev))
		loop->task_deadline_ns = deadline_ns;
	return prev;
}

void coil_task_deadline_leave(struct coil_loop *loop, uint64_t prev_deadline_ns)
{
	loop->task_deadline_ns = prev_deadline_ns;
}

uint64_t coil_deadline_get(const struct coil_loop *loop)
{
	return coil__scope_deadline(loop);
}

uint64_t coil_op_take_deadline(struct coil_loop *loop, struct coil_op *op)
{
	uint64_t t = op->timeout_ns, at = coil__scope_deadline(loop);

	if (op->state & ST_BUSY)
		return at; /* (in flight: its timeout_ns is not a request) */
	op->timeout_ns = 0;
	if (t) {
		uint64_t own = coil_now_update(loop) + t;
		if (!at || own < at)
			at = own;
	}
	return at;
}
