/*
 * engine/group.c - a group of children, ops or tasks: collect-all
 * (asyncio.gather(..., return_exceptions=True)) or fail-fast (TaskGroup:
 * the first failure cancels the rest). Every child's op ends in
 * child_cb(), which records the result, runs the caller's callback and
 * completes the group's waiter once nothing is left running.
 *
 * The group sits in the loop's list of wait queues while it has live
 * children or a waiter, so coil_cancel() of its done op or of a task
 * child, and coil_loop_drain(), reach it.
 */

#include <errno.h>

#include "async_internal.h"

/* child->state: its phase, plus CHILD_TASK for task children */
enum { CHILD_IDLE, CHILD_LIVE, CHILD_ENDED };
#define CHILD_PHASE 3u
#define CHILD_TASK 4u

static int is_live(const struct coil_group_child *c)
{
	return (c->state & CHILD_PHASE) == CHILD_LIVE;
}

/* A task child whose task has not reported its end yet. */
static int task_running(const struct coil_group_child *c)
{
	return (c->state & CHILD_TASK) && (c->op.state & ST_EXPECT);
}

static void group_update(struct coil_group *g)
{
	g->wq.pinned = g->nlive > 0;
	coil__waitq_update(&g->wq);
}

static void cancel_children(struct coil_group *g)
{
	for (struct coil_group_child *c = g->head; c; c = c->next) {
		if (!is_live(c))
			continue;
		if (c->state & CHILD_TASK) {
			if (task_running(c) && c->cancel)
				c->cancel(c);
		} else if (coil_op_busy(&c->op)) {
			coil_cancel(g->wq.loop, &c->op);
		}
	}
}

static void maybe_done(struct coil_group *g)
{
	struct coil_op *w;
	int res;

	if (g->nlive || !g->wq.count)
		return;
	w = coil__waitq_pop(&g->wq);
	if (g->timed_out)
		res = -ETIMEDOUT;
	else if (g->cancelled)
		res = -ECANCELED;
	else if (g->mode == COIL_GROUP_FAIL_FAST)
		res = g->first_err;
	else
		res = (int)g->nfailed;
	g->done = 1;
	group_update(g);
	coil__post(g->wq.loop, w, res);
}

static void child_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_group_child *c =
		coil_container_of(op, struct coil_group_child, op);
	struct coil_group *g = c->group;

	if (flags & COIL_MORE) {
		if (c->cb)
			c->cb(op, res, flags);
		return;
	}
	c->res = res;
	c->state = (c->state & ~CHILD_PHASE) | CHILD_ENDED;
	g->nlive--;
	if (res < 0) {
		g->nfailed++;
		if (g->mode == COIL_GROUP_FAIL_FAST && !g->first_err) {
			g->first_err = res;
			cancel_children(g);
		}
	}
	if (c->cb)
		c->cb(op, res, flags);
	group_update(g);
	maybe_done(g);
}

static int group_cancel_hook(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_group *g = coil_container_of(wq, struct coil_group, wq);

	if (!op || op == wq->head) {
		coil_group_cancel(g);
		return 0;
	}
	/* a task child: ask the task (an op child waits elsewhere) */
	for (struct coil_group_child *c = g->head; c; c = c->next) {
		if (&c->op == op && is_live(c) && task_running(c)) {
			if (c->cancel)
				c->cancel(c);
			return 0;
		}
	}
	return -ENOENT;
}

int coil_group_init(struct coil_group *g, struct coil_loop *loop, unsigned mode)
{
	if (!g || !loop || mode > COIL_GROUP_FAIL_FAST)
		return -EINVAL;
	coil__waitq_init(&g->wq, loop, group_cancel_hook);
	g->head = g->tail = NULL;
	g->mode = mode;
	g->nchildren = g->nlive = g->nfailed = 0;
	g->first_err = 0;
	g->cancelled = 0;
	g->timed_out = 0;
	g->done = 0;
	return 0;
}

static int add(struct coil_group *g, struct coil_group_child *c,
	       coil_group_cancel_fn cancel, coil_op_cb cb)
{
	int ret;

	if (!g || !c || g->done)
		return -EINVAL;
	/* (the group's end and the loop's drain give the same -ECANCELED) */
	ret = coil__can_start(g->wq.loop, &c->op);
	if (ret)
		return ret;
	if (g->cancelled || (g->mode == COIL_GROUP_FAIL_FAST && g->first_err))
		return -ECANCELED;
	coil_op_init(&c->op, child_cb);
	c->cb = cb;
	c->cancel = cancel;
	c->group = g;
	c->next = NULL;
	c->index = g->nchildren++;
	c->state = CHILD_LIVE;
	c->res = -EINPROGRESS;
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	g->nlive++;
	group_update(g);
	return (int)c->index;
}

int coil_group_add(struct coil_group *g, struct coil_group_child *c,
		   coil_op_cb cb)
{
	return add(g, c, NULL, cb);
}

int coil_group_add_task(struct coil_group *g, struct coil_group_child *c,
			coil_group_cancel_fn cancel, coil_op_cb cb)
{
	int ret = add(g, c, cancel, cb);
	if (ret >= 0) {
		/* in flight until coil_group_child_done() */
		c->state |= CHILD_TASK;
		coil_loop_expect(g->wq.loop, &c->op);
	}
	return ret;
}

int coil_group_child_done(struct coil_group_child *c, int res)
{
	if (!c || !c->group || !is_live(c))
		return -EINVAL;
	if ((c->state & CHILD_TASK) ? !task_running(c) : coil_op_busy(&c->op))
		return -EBUSY; /* in flight, or its end already reported */
	coil__post_new(c->group->wq.loop, &c->op, res);
	return 0;
}

int coil_group_wait(struct coil_group *g, struct coil_op *op)
{
	int ret;

	if (!g || !op || g->done)
		return -EINVAL;
	if (g->wq.count)
		return -EBUSY;
	if (coil__wait_due(g->wq.loop) && !coil__can_start(g->wq.loop, op)) {
		/* past the deadline already: cut the children now, and
		 * report -ETIMEDOUT once they have ended */
		g->timed_out = 1;
		ret = coil__waitq_park(&g->wq, op, NULL, 0);
		if (ret < 0)
			return ret;
		coil_group_cancel(g);
	} else {
		/* a deadline that passes while waiting cancels the wait
		 * through group_cancel_hook(), which cancels the children;
		 * the -ECANCELED then reads -ETIMEDOUT (deadline.c) */
		ret = coil__waitq_push(&g->wq, op, NULL);
		if (ret < 0)
			return ret;
	}
	maybe_done(g);
	return 0;
}

int coil_group_cancel(struct coil_group *g)
{
	if (!g || g->done)
		return -EINVAL;
	if (!g->cancelled) {
		g->cancelled = 1;
		if (!g->first_err)
			g->first_err = -ECANCELED;
	}
	cancel_children(g);
	return 0;
}

unsigned coil_group_results(const struct coil_group *g, int *out, unsigned n)
{
	unsigned i = 0;

	if (!g)
		return 0;
	for (const struct coil_group_child *c = g->head; c; c = c->next, i++) {
		if (out && i < n)
			out[i] = (c->state & CHILD_PHASE) == CHILD_ENDED
					 ? c->res
					 : -EINPROGRESS;
	}
	return i;
}
