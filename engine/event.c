/*
 * engine/event.c - asyncio.Event: set wakes every waiter (each callback on
 * the next turn), clear makes later waits wait.
 */

#include <errno.h>

#include "async_internal.h"

int coil_event_init(struct coil_event *ev, struct coil_loop *loop)
{
	if (!ev || !loop)
		return -EINVAL;
	coil__waitq_init(&ev->wq, loop, NULL);
	ev->set = 0;
	return 0;
}

void coil_event_set(struct coil_event *ev)
{
	struct coil_op *op;

	if (!ev)
		return;
	ev->set = 1;
	while ((op = coil__waitq_pop(&ev->wq)))
		coil__post(ev->wq.loop, op, 0);
}

void coil_event_clear(struct coil_event *ev)
{
	if (ev)
		ev->set = 0;
}

int coil_event_is_set(const struct coil_event *ev)
{
	return ev && ev->set;
}

int coil_event_wait(struct coil_event *ev, struct coil_op *op)
{
	int ret;

	if (!ev || !op)
		return -EINVAL;
	ret = coil__can_start(ev->wq.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(ev->wq.loop)) {
		coil__post_new(ev->wq.loop, op, -ETIMEDOUT);
		return 0;
	}
	if (ev->set) {
		coil__post_new(ev->wq.loop, op, 0);
		return 0;
	}
	return coil__waitq_push(&ev->wq, op, NULL);
}
