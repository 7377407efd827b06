/*
 * engine/taskset.c - a set of background tasks for the life of a loop
 * (the "set of tasks" asyncio programs keep with add_done_callback
 * (discard), or an anyio task group that is never awaited): add any
 * number at any time, each ends on its own and leaves the set at once
 * (unlinked before its end callback, so that callback may free it), a
 * failure goes to an error hook instead of vanishing, and shutdown(timeout)
 * gives what is still running that long to end, then cancels it and
 * reports how many it cut.
 *
 * Tasks are the caller's memory, linked in a doubly linked list, so adding
 * and ending are O(1) and nothing is allocated. The set sits in the loop's
 * list of wait queues while tasks live, so that coil_cancel() of a task's
 * op reaches a task-style task's cancel hook and coil_loop_drain() cuts
 * them all; the shutdown waiter waits on the same queue.
 */

#include <errno.h>

#include "async_internal.h"

/* task->state bits */
#define TASK_LIVE 1u
#define TASK_FN 2u  /* task-style: ends with coil_task_done() */
#define TASK_CUT 4u /* cancelled by shutdown */

static void set_update(struct coil_taskset *ts)
{
	ts->wq.pinned = ts->live > 0;
	coil__waitq_update(&ts->wq);
}

static void maybe_shut(struct coil_taskset *ts)
{
	struct coil_op *w;

	if (ts->live || !ts->wq.count)
		return;
	if (ts->timer_armed) {
		/* the waiter may free the set: wait for the timer's end */
		if (coil_timeout_remove(ts->wq.loop, &ts->timer) < 0)
			coil_cancel(ts->wq.loop, &ts->timer);
		return;
	}
	w = coil__waitq_pop(&ts->wq);
	set_update(ts);
	coil__post(ts->wq.loop, w, (int)ts->shut_cut);
}

static void cancel_one(struct coil_taskset *ts, struct coil_task *t)
{
	if (t->state & TASK_FN) {
		if ((t->op.state & ST_EXPECT) && t->cancel)
			t->cancel(t);
	} else if (coil_op_busy(&t->op)) {
		coil_cancel(ts->wq.loop, &t->op);
	}
}

/* Cancel every live task; count those cut by shutdown. */
static void cut_all(struct coil_taskset *ts)
{
	struct coil_task *t, *next;

	ts->cutting = 1;
	for (t = ts->head; t; t = next) {
		next = t->next; /* (a cancel hook may end its task inline) */
		if (t->state & TASK_CUT)
			continue;
		t->state |= TASK_CUT;
		ts->shut_cut++;
		ts->stats.cut++;
		cancel_one(ts, t);
	}
}

static void task_end(struct coil_op *op, int res, unsigned flags)
{
	struct coil_task *t = coil_container_of(op, struct coil_task, op);
	struct coil_taskset *ts = t->set;
	coil_task_error_fn on_error = t->on_error ? t->on_error : ts->on_error;

	if (flags & COIL_MORE) {
		if (t->cb)
			t->cb(op, res, flags);
		return;
	}
	/* out of the set before anyone sees the end: the callback may free
	 * or re-add @t */
	if (t->prev)
		t->prev->next = t->next;
	else
		ts->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->state &= ~TASK_LIVE;
	ts->live--;
	ts->stats.ended++;
	if (res < 0 && res != -ECANCELED) {
		ts->stats.failed++;
		if (on_error)
			on_error(t, res);
	}
	if (t->cb)
		t->cb(op, res, flags);
	set_update(ts);
	maybe_shut(ts);
}

static void timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_taskset *ts =
		coil_container_of(op, struct coil_taskset, timer);

	(void)flags;
	ts->timer_armed = 0;
	if (res == 0 && ts->live) /* the grace period is over */
		cut_all(ts);
	maybe_shut(ts);
}

static int set_cancel_hook(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_taskset *ts =
		coil_container_of(wq, struct coil_taskset, wq);

	if (!op) { /* drain: cut everything, the waiter ends with them */
		cut_all(ts);
		return 0;
	}
	if (op == wq->head) { /* the shutdown waiter: cut now */
		cut_all(ts);
		return 0;
	}
	for (struct coil_task *t = ts->head; t; t = t->next) {
		if (&t->op == op && (t->state & TASK_FN) &&
		    (op->state & ST_EXPECT)) {
			if (t->cancel)
				t->cancel(t);
			return 0;
		}
	}
	return -ENOENT;
}

int coil_taskset_init(struct coil_taskset *ts, struct coil_loop *loop,
		      coil_task_error_fn on_error)
{
	if (!ts || !loop)
		return -EINVAL;
	coil__waitq_init(&ts->wq, loop, set_cancel_hook);
	ts->head = NULL;
	ts->on_error = on_error;
	ts->live = 0;
	ts->shutting = ts->cutting = 0;
	ts->shut_cut = 0;
	ts->timer_armed = 0;
	ts->stats = (struct coil_taskset_stats){0};
	coil_op_init(&ts->timer, timer_cb);
	return 0;
}

static int add(struct coil_taskset *ts, struct coil_task *t,
	       coil_task_cancel_fn cancel, coil_op_cb cb, unsigned kind)
{
	int ret;

	if (!ts || !t)
		return -EINVAL;
	ret = coil__can_start(ts->wq.loop, &t->op);
	if (ret)
		return ret;
	if (ts->shutting)
		return -ESHUTDOWN;
	coil_op_init(&t->op, task_end);
	t->cb = cb;
	t->cancel = cancel;
	t->set = ts;
	t->state = TASK_LIVE | kind;
	t->prev = NULL;
	t->next = ts->head;
	if (ts->head)
		ts->head->prev = t;
	ts->head = t;
	ts->live++;
	ts->stats.added++;
	set_update(ts);
	if (kind & TASK_FN)
		coil_loop_expect(ts->wq.loop, &t->op);
	return 0;
}

int coil_taskset_add(struct coil_taskset *ts, struct coil_task *t,
		     coil_op_cb cb)
{
	return add(ts, t, NULL, cb, 0);
}

int coil_taskset_add_task(struct coil_taskset *ts, struct coil_task *t,
			  coil_task_cancel_fn cancel, coil_op_cb cb)
{
	return add(ts, t, cancel, cb, TASK_FN);
}

int coil_task_done(struct coil_task *t, int res)
{
	if (!t || !t->set || !(t->state & TASK_LIVE))
		return -EINVAL;
	if ((t->state & TASK_FN) ? !(t->op.state & ST_EXPECT)
				 : coil_op_busy(&t->op))
		return -EBUSY; /* in flight, or its end already reported */
	coil__post_new(t->set->wq.loop, &t->op, res);
	return 0;
}

int coil_task_cut(const struct coil_task *t)
{
	return t && (t->state & TASK_CUT) != 0;
}

int coil_taskset_shutdown(struct coil_taskset *ts, uint64_t timeout_ns,
			  struct coil_op *done)
{
	int ret;

	if (!ts || !done)
		return -EINVAL;
	if (ts->shutting)
		return -EALREADY;
	/* the grace period is the bound; a pending coil_op_timeout() or a
	 * deadline scope does not shorten it */
	ret = coil__waitq_park(&ts->wq, done, NULL, 0);
	if (ret < 0)
		return ret;
	ts->shutting = 1;
	ts->shut_cut = 0;
	if (ts->live) {
		if (!timeout_ns) {
			cut_all(ts);
		} else if (coil_timeout(ts->wq.loop, &ts->timer, timeout_ns,
					0) == 0) {
			coil__mark_internal(&ts->timer);
			ts->timer_armed = 1;
		} else {
			cut_all(ts); /* no timer (drain): no grace either */
		}
	}
	maybe_shut(ts);
	return 0;
}

unsigned coil_taskset_live(const struct coil_taskset *ts)
{
	return ts ? ts->live : 0;
}

void coil_taskset_stats(const struct coil_taskset *ts,
			struct coil_taskset_stats *st)
{
	if (ts && st)
		*st = ts->stats;
}
