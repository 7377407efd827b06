/*
 * engine/async_internal.h - what the async primitives (group.c, sem.c,
 * rate.c, retry.c, queue.c, event.c, drain.c, pool.c, resolve.c) share:
 * the user-space wait queue (wait.c) and the pool hooks drain and cancel
 * use. Private to engine/.
 *
 * A waiting op is an op the loop counts as in flight (ST_BUSY|ST_EXPECT,
 * coil_loop_expect()) that sits in a primitive's FIFO, linked by op->next,
 * until the primitive completes it with coil__post() (its callback then
 * runs on the next turn, never inline). While it waits the op is never in
 * the SQ, so the fields submit() uses for a linked timeout's timespec
 * (ts_sec, ts_nsec) are free: a primitive keeps the wait's argument there
 * (coil__wait_arg()), the pool its job's function and argument.
 */
#ifndef COIL_ASYNC_INTERNAL_H
#define COIL_ASYNC_INTERNAL_H

#include "coil/async.h"
#include "internal.h"

/* ---- wait.c ------------------------------------------------------------- */

void coil__waitq_init(struct coil__waitq *wq, struct coil_loop *loop,
		      int (*cancel)(struct coil__waitq *, struct coil_op *));

/* 0 if new work may start on @loop, else the error to return
 * (-ECANCELED while coil_loop_drain() cancels). */
int coil__accepting(const struct coil_loop *loop);

/* 0 if @op may start on @loop now, else the error to return: -EBUSY
 * while @op is in flight, coil__accepting()'s while @loop drains. */
static inline int coil__can_start(const struct coil_loop *loop,
				  const struct coil_op *op)
{
	if (op->state & ST_BUSY)
		return -EBUSY;
	return coil__accepting(loop);
}

/* Park @op (initialised, not busy) at the tail: it becomes in flight.
 * Return: 0; -EBUSY; -ECANCELED (drain). */
int coil__waitq_push(struct coil__waitq *wq, struct coil_op *op, void *arg);
/* The same; @timed = 0 ignores the op's timeout and the scope's deadline
 * (the caller has dealt with them). */
int coil__waitq_park(struct coil__waitq *wq, struct coil_op *op, void *arg,
		     int timed);

/* Oldest waiter, taken out (still in flight: complete it with
 * coil__post()), or NULL. */
struct coil_op *coil__waitq_pop(struct coil__waitq *wq);

/* Take @op out. Return: 1 if it was there. */
int coil__waitq_remove(struct coil__waitq *wq, struct coil_op *op);

/* Take @op out and undo its wait: no longer in flight, no callback.
 * Return: 0; -ENOENT if it does not wait here. */
int coil__waitq_withdraw(struct coil__waitq *wq, struct coil_op *op);

/* Link into / unlink from the loop's list as the queue's state says. */
void coil__waitq_update(struct coil__waitq *wq);

/* Complete every waiter (or @op only) with -ECANCELED. Return: 0; -ENOENT
 * if @op does not wait here. */
int coil__waitq_cancel_default(struct coil__waitq *wq, struct coil_op *op);

/* drain.c: cancel every op waiting on @loop's primitives. */
void coil__cancel_all_waits(struct coil_loop *loop);

static inline void coil__wait_set_arg(struct coil_op *op, void *arg)
{
	op->ts_sec = (int64_t)(intptr_t)arg;
}

static inline void *coil__wait_arg(const struct coil_op *op)
{
	return (void *)(intptr_t)op->ts_sec;
}

/* Complete a new op (not yet in flight) on the next turn. Like any
 * submission, this consumes a pending coil_op_timeout(); the op carries
 * the task's deadline (deadline.c) to its callback. */
static inline void coil__post_new(struct coil_loop *loop, struct coil_op *op,
				  int res)
{
	op->timeout_ns = loop->task_deadline_ns;
	coil__post(loop, op, res);
}

/* ---- deadline.c ---------------------------------------------------------- */

/* Whether a wait started now is past its deadline (scope or carried):
 * it then completes with -ETIMEDOUT, like any op submitted too late. */
static inline int coil__wait_due(const struct coil_loop *loop)
{
	uint64_t dl = coil__scope_deadline(loop);
	return dl && dl <= loop->now_ns;
}

/* Give @op, just made a waiting op (coil_loop_expect()), its deadline:
 * the earliest of its coil_op_timeout() and the scope's. Return: 0 (it
 * waits, cancelled with -ETIMEDOUT at the deadline); 1 if it was
 * completed instead (-ETIMEDOUT already due, -ENOMEM): do not queue it. */
int coil__wait_timed(struct coil_loop *loop, struct coil_op *op);

/* Mark an op a primitive submitted for itself (drain does not count it). */
static inline void coil__mark_internal(struct coil_op *op)
{
	if (op->state & ST_BUSY)
		op->state |= ST_INTERNAL;
}

/* ---- pool.c -------------------------------------------------------------- */

/* coil_cancel() of a pool job queued for @loop on any pool.
 * Return: 0; -EALREADY (running); -ENOENT. */
int coil__pool_cancel_op(struct coil_loop *loop, struct coil_op *op);

/* Cancel every job queued for @loop on any pool. Return: how many. */
unsigned coil__pool_cancel_loop(struct coil_loop *loop);

#endif
