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
