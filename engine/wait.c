/*
 * engine/wait.c - the user-space wait queue every primitive is built on:
 * a FIFO of waiting ops (linked by op->next) plus the loop's list of
 * queues that hold waiters, which is how coil_cancel() finds a waiting op
 * and coil_loop_drain() finds them all. Loop thread only, no locks.
 */

#include <errno.h>

#include "async_internal.h"

void coil__waitq_init(struct coil__waitq *wq, struct coil_loop *loop,
		      int (*cancel)(struct coil__waitq *, struct coil_op *))
{
	wq->next = wq->prev = NULL;
	wq->loop = loop;
	wq->head = wq->tail = NULL;
	wq->count = 0;
	wq->pinned = 0;
	wq->linked = 0;
	wq->epoch = 0;
	wq->cancel = cancel;
}

int coil__accepting(const struct coil_loop *loop)
{
	return loop->draining == 2 ? -ECANCELED : 0;
}

void coil__waitq_update(struct coil__waitq *wq)
{
	struct coil_loop *loop = wq->loop;
	int want = wq->count > 0 || wq->pinned;

	if (want && !wq->linked) {
		wq->prev = NULL;
		wq->next = loop->waitqs;
		if (loop->waitqs)
			loop->waitqs->prev = wq;
		loop->waitqs = wq;
		wq->linked = 1;
	} else if (!want && wq->linked) {
		if (wq->prev)
			wq->prev->next = wq->next;
		else
			loop->waitqs = wq->next;
		if (wq->next)
			wq->next->prev = wq->prev;
		wq->next = wq->prev = NULL;
		wq->linked = 0;
	}
}

int coil__waitq_park(struct coil__waitq *wq, struct coil_op *op, void *arg,
		     int timed)
{
	int ret;

	ret = coil__can_start(wq->loop, op);
	if (ret)
		return ret;
	coil_loop_expect(wq->loop, op);
	if (!timed)
		op->timeout_ns = wq->loop->task_deadline_ns;
	else if (coil__wait_timed(wq->loop, op))
		return 0; /* completes next turn (-ETIMEDOUT) */
	coil__wait_set_arg(op, arg);
	op->next = NULL;
	if (wq->tail)
		wq->tail->next = op;
	else
		wq->head = op;
	wq->tail = op;
	wq->count++;
	coil__waitq_update(wq);
	return 0;
}

int coil__waitq_push(struct coil__waitq *wq, struct coil_op *op, void *arg)
{
	return coil__waitq_park(wq, op, arg, 1);
}

struct coil_op *coil__waitq_pop(struct coil__waitq *wq)
{
	struct coil_op *op = wq->head;

	if (!op)
		return NULL;
	wq->head = op->next;
	if (!wq->head)
		wq->tail = NULL;
	op->next = NULL;
	wq->count--;
	coil__waitq_update(wq);
	return op;
}

int coil__waitq_remove(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_op **pp = &wq->head, *prev = NULL;

	while (*pp && *pp != op) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return 0;
	*pp = op->next;
	if (wq->tail == op)
		wq->tail = prev;
	op->next = NULL;
	wq->count--;
	coil__waitq_update(wq);
	return 1;
}

int coil__waitq_cancel_default(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_op *o;

	if (!op) {
		while ((o = coil__waitq_pop(wq)))
			coil__post(wq->loop, o, -ECANCELED);
		return 0;
	}
	if (!coil__waitq_remove(wq, op))
		return -ENOENT;
	coil__post(wq->loop, op, -ECANCELED);
	return 0;
}

/* coil_cancel() of an op in ST_EXPECT: whoever holds it completes it with
 * -ECANCELED on the next turn. An op armed with coil_loop_expect() for a
 * coil_msg_ring() from another loop is nobody's here: -ENOENT. */
int coil__cancel_wait(struct coil_loop *loop, struct coil_op *op)
{
	for (struct coil__waitq *wq = loop->waitqs; wq; wq = wq->next) {
		int ret = wq->cancel ? wq->cancel(wq, op)
				     : coil__waitq_cancel_default(wq, op);
		if (ret != -ENOENT)
			return ret;
	}
	return coil__pool_cancel_op(loop, op);
}

/* ---- the public wait list ------------------------------------------------ */

static int waitlist_hook(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_waitlist *wl =
		coil_container_of(wq, struct coil_waitlist, wq);
	struct coil_op *o, *next;

	if (wl->defer) { /* the layer stops the work, then completes */
		int found = 0;
		for (o = wq->head; o; o = next) {
			next = o->next;
			if (op && o != op)
				continue;
			found = 1;
			if (wl->left)
				wl->left(wl, o,
					 (o->state & ST_TIMED_OUT)
						 ? -ETIMEDOUT
						 : -ECANCELED);
			if (op)
				break;
		}
		return found || !op ? 0 : -ENOENT;
	}
	if (!op) { /* drain: everything */
		while ((o = coil__waitq_pop(wq))) {
			coil__post(wq->loop, o, -ECANCELED);
			if (wl->left)
				wl->left(wl, o, -ECANCELED);
		}
		return 0;
	}
	if (!coil__waitq_remove(wq, op))
		return -ENOENT;
	int res = (op->state & ST_TIMED_OUT) ? -ETIMEDOUT : -ECANCELED;
	coil__post(wq->loop, op, -ECANCELED); /* (reads -ETIMEDOUT if so) */
	if (wl->left)
		wl->left(wl, op, res);
	return 0;
}

int coil_waitlist_init(struct coil_waitlist *wl, struct coil_loop *loop,
		       coil_waitlist_fn left)
{
	if (!wl || !loop)
		return -EINVAL;
	coil__waitq_init(&wl->wq, loop, waitlist_hook);
	wl->left = left;
	wl->defer = 0;
	return 0;
}

void coil_waitlist_defer(struct coil_waitlist *wl)
{
	if (wl)
		wl->defer = 1;
}

int coil_waitlist_add(struct coil_waitlist *wl, struct coil_op *op)
{
	int ret;

	if (!wl || !op)
		return -EINVAL;
	ret = coil__can_start(wl->wq.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(wl->wq.loop)) {
		coil__post_new(wl->wq.loop, op, -ETIMEDOUT);
		return 0;
	}
	return coil__waitq_push(&wl->wq, op, NULL);
}

struct coil_op *coil_waitlist_first(const struct coil_waitlist *wl)
{
	return wl ? wl->wq.head : NULL;
}

int coil_waitlist_complete(struct coil_waitlist *wl, struct coil_op *op,
			   int res)
{
	if (!wl || !op)
		return -EINVAL;
	if (wl->wq.head == op)
		coil__waitq_pop(&wl->wq);
	else if (!coil__waitq_remove(&wl->wq, op))
		return -ENOENT;
	coil__post(wl->wq.loop, op, res);
	return 0;
}

unsigned coil_waitlist_len(const struct coil_waitlist *wl)
{
	return wl ? wl->wq.count : 0;
}

int coil__waitq_withdraw(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_loop *loop = wq->loop;

	if (!coil__waitq_remove(wq, op))
		return -ENOENT;
	if (op->state & ST_WAIT_TIMED)
		coil__wait_untime(loop, op);
	loop->inflight--;
	op->state = 0;
	op->timeout_ns = 0;
	return 0;
}

int coil_waitlist_remove(struct coil_waitlist *wl, struct coil_op *op)
{
	if (!wl || !op)
		return -EINVAL;
	return coil__waitq_withdraw(&wl->wq, op);
}
