/*
 * engine/sem.c - counting semaphore with a FIFO of waiting ops
 * (asyncio.Semaphore / BoundedSemaphore). A release hands its permit
 * straight to the oldest waiter, so a newcomer can never barge past it;
 * the waiter's callback runs on the next turn, never inline.
 */

#include <errno.h>
#include <limits.h>

#include "async_internal.h"

int coil_sem_init(struct coil_sem *sem, struct coil_loop *loop, unsigned count,
		  unsigned max)
{
	if (!sem || !loop)
		return -EINVAL;
	if (!max)
		max = UINT_MAX;
	if (count > max)
		return -EINVAL;
	coil__waitq_init(&sem->wq, loop, NULL);
	sem->count = count;
	sem->max = max;
	return 0;
}

int coil_sem_acquire(struct coil_sem *sem, struct coil_op *op)
{
	int ret;

	if (!sem || !op)
		return -EINVAL;
	ret = coil__can_start(sem->wq.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(sem->wq.loop)) {
		coil__post_new(sem->wq.loop, op, -ETIMEDOUT);
		return 0;
	}
	if (sem->count > 0 && !sem->wq.count) {
		sem->count--;
		coil__post_new(sem->wq.loop, op, 0);
		return 0;
	}
	return coil__waitq_push(&sem->wq, op, NULL);
}

int coil_sem_try_acquire(struct coil_sem *sem)
{
	if (!sem)
		return -EINVAL;
	if (sem->count == 0 || sem->wq.count)
		return -EAGAIN;
	sem->count--;
	return 0;
}

int coil_sem_release(struct coil_sem *sem)
{
	struct coil_op *op;

	if (!sem)
		return -EINVAL;
	op = coil__waitq_pop(&sem->wq);
	if (op) {
		coil__post(sem->wq.loop, op, 0);
		return 0;
	}
	if (sem->count >= sem->max)
		return -EOVERFLOW;
	sem->count++;
	return 0;
}

unsigned coil_sem_value(const struct coil_sem *sem)
{
	return sem ? sem->count : 0;
}

unsigned coil_sem_waiting(const struct coil_sem *sem)
{
	return sem ? sem->wq.count : 0;
}
