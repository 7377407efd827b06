/*
 * engine/queue.c - a bounded FIFO of pointers with waiting producers and
 * consumers (asyncio.Queue). Invariants: gets wait only while the queue is
 * empty and no put waits; puts wait only while it is full and no get
 * waits. So a put that finds a waiting get hands its item over directly,
 * and a get that frees a slot pulls in the oldest waiting put; with
 * capacity 0 every item goes hand to hand (rendezvous). Each waiter keeps
 * its item (put) or its slot (get) in the wait argument. Every item that
 * goes in counts as unfinished until coil_queue_task_done(); joiners wait
 * for that count to reach 0 (asyncio's task_done()/join()).
 */

#include <errno.h>
#include <stdlib.h>

#include "async_internal.h"

int coil_queue_init(struct coil_queue *q, struct coil_loop *loop,
		    unsigned capacity)
{
	if (!q || !loop)
		return -EINVAL;
	q->items = NULL;
	if (capacity) {
		q->items = calloc(capacity, sizeof(*q->items));
		if (!q->items)
			return -ENOMEM;
	}
	coil__waitq_init(&q->getters, loop, NULL);
	coil__waitq_init(&q->putters, loop, NULL);
	coil__waitq_init(&q->joiners, loop, NULL);
	q->unfinished = 0;
	q->cap = capacity;
	q->head = q->len = 0;
	q->closed = 0;
	return 0;
}

static void wake_all(struct coil__waitq *wq, int res)
{
	struct coil_op *op;
	while ((op = coil__waitq_pop(wq)))
		coil__post(wq->loop, op, res);
}

void coil_queue_close(struct coil_queue *q)
{
	if (!q)
		return;
	q->closed = 1;
	wake_all(&q->getters, COIL_ECLOSED);
	wake_all(&q->putters, COIL_ECLOSED);
}

void coil_queue_destroy(struct coil_queue *q)
{
	if (!q)
		return;
	coil_queue_close(q);
	wake_all(&q->joiners, COIL_ECLOSED);
	free(q->items);
	q->items = NULL;
	q->cap = q->len = q->head = 0;
}

unsigned coil_queue_len(const struct coil_queue *q)
{
	return q ? q->len : 0;
}

static void push_item(struct coil_queue *q, void *item)
{
	q->items[(q->head + q->len) % q->cap] = item;
	q->len++;
}

static void *pop_item(struct coil_queue *q)
{
	void *item = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return item;
}

/* Put @item without waiting. Return: 0, or -EAGAIN if it would wait. */
static int put_now(struct coil_queue *q, void *item)
{
	struct coil_op *g = coil__waitq_pop(&q->getters);
	if (g) { /* the queue is empty: hand over */
		*(void **)coil__wait_arg(g) = item;
		coil__post(q->getters.loop, g, 0);
		q->unfinished++;
		return 0;
	}
	if (q->len >= q->cap)
		return -EAGAIN;
	push_item(q, item);
	q->unfinished++;
	return 0;
}

/* Get without waiting. Return: 0, or -EAGAIN if it would wait. */
static int get_now(struct coil_queue *q, void **slot)
{
	struct coil_op *p;

	if (q->len) {
		*slot = pop_item(q);
		p = coil__waitq_pop(&q->putters);
		if (p) { /* a slot came free: the oldest put goes in */
			push_item(q, coil__wait_arg(p));
			coil__post(q->putters.loop, p, 0);
			q->unfinished++;
		}
		return 0;
	}
	p = coil__waitq_pop(&q->putters); /* capacity 0: hand to hand */
	if (p) {
		*slot = coil__wait_arg(p);
		coil__post(q->putters.loop, p, 0);
		q->unfinished++;
		return 0;
	}
	return -EAGAIN;
}

int coil_queue_try_put(struct coil_queue *q, void *item)
{
	if (!q)
		return -EINVAL;
	if (q->closed)
		return COIL_ECLOSED;
	if (q->putters.count) /* keep FIFO order behind waiting puts */
		return -EAGAIN;
	return put_now(q, item);
}

int coil_queue_try_get(struct coil_queue *q, void **item)
{
	int ret;

	if (!q || !item)
		return -EINVAL;
	if (q->getters.count)
		return -EAGAIN;
	ret = get_now(q, item);
	if (ret == -EAGAIN && q->closed)
		return COIL_ECLOSED;
	return ret;
}

int coil_queue_put(struct coil_queue *q, struct coil_op *op, void *item)
{
	int ret;

	if (!q || !op)
		return -EINVAL;
	ret = coil__can_start(q->putters.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(q->putters.loop)) {
		coil__post_new(q->putters.loop, op, -ETIMEDOUT);
		return 0;
	}
	if (q->closed)
		return COIL_ECLOSED;
	if (!q->putters.count && put_now(q, item) == 0) {
		coil__post_new(q->putters.loop, op, 0);
		return 0;
	}
	return coil__waitq_push(&q->putters, op, item);
}

int coil_queue_get(struct coil_queue *q, struct coil_op *op, void **slot)
{
	int ret;

	if (!q || !op || !slot)
		return -EINVAL;
	ret = coil__can_start(q->getters.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(q->getters.loop)) {
		coil__post_new(q->getters.loop, op, -ETIMEDOUT);
		return 0;
	}
	if (!q->getters.count && get_now(q, slot) == 0) {
		coil__post_new(q->getters.loop, op, 0);
		return 0;
	}
	if (q->closed)
		return COIL_ECLOSED;
	return coil__waitq_push(&q->getters, op, slot);
}

int coil_queue_task_done(struct coil_queue *q)
{
	if (!q)
		return -EINVAL;
	if (!q->unfinished)
		return -EOVERFLOW; /* more calls than items (asyncio:
				      ValueError) */
	if (--q->unfinished == 0)
		wake_all(&q->joiners, 0);
	return 0;
}

unsigned coil_queue_unfinished(const struct coil_queue *q)
{
	return q ? q->unfinished : 0;
}

int coil_queue_join(struct coil_queue *q, struct coil_op *op)
{
	int ret;

	if (!q || !op)
		return -EINVAL;
	ret = coil__can_start(q->joiners.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(q->joiners.loop)) {
		coil__post_new(q->joiners.loop, op, -ETIMEDOUT);
		return 0;
	}
	if (!q->unfinished) {
		coil__post_new(q->joiners.loop, op, 0);
		return 0;
	}
	return coil__waitq_push(&q->joiners, op, NULL);
}
