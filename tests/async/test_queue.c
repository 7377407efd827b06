/* tests/async/test_queue.c - bounded queue: producer/consumer in order,
 * put waits when full, get waits when empty, close wakes everyone */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define ITEMS 100000

struct producer {
	struct coil_op op;
	struct coil_queue *q;
	uintptr_t next, last, stride, base;
	int done;
};

struct consumer {
	struct coil_op op;
	struct coil_queue *q;
	void *item;
	uintptr_t got;
	uintptr_t expect; /* single-producer order check */
	int closed;
	uintptr_t *seen; /* multi-producer: last item seen per producer */
	unsigned nprod;
	int bad_order;
};

static void put_done(struct coil_op *op, int res, unsigned flags)
{
	struct producer *p = coil_container_of(op, struct producer, op);
	(void)flags;
	assert_int_equal(res, 0);
	if (p->next > p->last) {
		p->done = 1;
		return;
	}
	void *item = (void *)(p->base + p->next);
	p->next += 1;
	assert_int_equal(coil_queue_put(p->q, &p->op, item), 0);
}

static void got(struct coil_op *op, int res, unsigned flags)
{
	struct consumer *c = coil_container_of(op, struct consumer, op);
	(void)flags;
	if (res == COIL_ECLOSED) {
		c->closed = 1;
		return;
	}
	assert_int_equal(res, 0);
	uintptr_t v = (uintptr_t)c->item;
	if (c->seen) {
		unsigned who = (unsigned)(v >> 32);
		uintptr_t n = v & 0xffffffffu;
		if (n <= c->seen[who])
			c->bad_order++;
		c->seen[who] = n;
	} else {
		if (v != c->expect)
			c->bad_order++;
		c->expect++;
	}
	c->got++;
	int ret = coil_queue_get(c->q, &c->op, &c->item);
	if (ret == COIL_ECLOSED) /* closed and empty: refused at once */
		c->closed = 1;
	else
		assert_int_equal(ret, 0);
}

static void closer(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	coil_queue_close((struct coil_queue *)op->data);
}

/* one producer, one consumer, 100,000 items through a queue of 64, in
 * order; then close ends the consumer */
static void test_queue_producer_consumer_100000_in_order(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct producer p = {0};
	struct consumer c = {0};

	assert_int_equal(coil_queue_init(&q, loop, 64), 0);
	p.q = &q;
	p.next = 2;
	p.last = ITEMS;
	coil_op_init(&p.op, put_done);
	assert_int_equal(coil_queue_put(&q, &p.op, (void *)(uintptr_t)1), 0);
	c.q = &q;
	c.expect = 1;
	coil_op_init(&c.op, got);
	assert_int_equal(coil_queue_get(&q, &c.op, &c.item), 0);

	uint64_t t0 = tu_mono_ns();
	while (!p.done && tu_mono_ns() - t0 < 60 * SEC)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_true(p.done);
	/* let the consumer empty the queue, then close it */
	while (c.got < ITEMS && tu_mono_ns() - t0 < 60 * SEC)
		coil_loop_run(loop, COIL_RUN_ONCE);
	uint64_t dt = tu_mono_ns() - t0;
	assert_int_equal(c.got, ITEMS);
	assert_int_equal(c.bad_order, 0);
	assert_int_equal(c.closed, 0);
	coil_queue_close(&q);
	assert_int_equal(run_idle(loop, 5 * SEC), 0);
	assert_int_equal(c.closed, 1);
	print_message("100000 items in %.1f ms\n", dt / 1e6);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* 4 producers x 5000, 3 consumers: every item once, each producer's
 * items in its order */
static void test_queue_many_producers_consumers(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct producer p[4];
	struct consumer c[3];
	uintptr_t seen[3][4];
	struct coil_op closing;

	memset(p, 0, sizeof(p));
	memset(c, 0, sizeof(c));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(coil_queue_init(&q, loop, 8), 0);
	for (int i = 0; i < 3; i++) {
		c[i].q = &q;
		c[i].seen = seen[i];
		c[i].nprod = 4;
		coil_op_init(&c[i].op, got);
		assert_int_equal(coil_queue_get(&q, &c[i].op, &c[i].item), 0);
	}
	for (int i = 0; i < 4; i++) {
		p[i].q = &q;
		p[i].base = (uintptr_t)i << 32;
		p[i].next = 2;
		p[i].last = 5000;
		coil_op_init(&p[i].op, put_done);
		assert_int_equal(
			coil_queue_put(&q, &p[i].op, (void *)(p[i].base + 1)),
			0);
	}
	uint64_t t0 = tu_mono_ns();
	int all = 0;
	while (!all && tu_mono_ns() - t0 < 30 * SEC) {
		coil_loop_run(loop, COIL_RUN_ONCE);
		all = p[0].done && p[1].done && p[2].done && p[3].done &&
		      coil_queue_len(&q) == 0;
	}
	assert_true(all);
	/* close from a callback, as a producer would */
	coil_op_init(&closing, closer);
	closing.data = &q;
	assert_int_equal(coil_nop(loop, &closing), 0);
	assert_int_equal(run_idle(loop, 5 * SEC), 0);
	uintptr_t total = 0;
	for (int i = 0; i < 3; i++) {
		total += c[i].got;
		assert_int_equal(c[i].bad_order, 0);
		assert_int_equal(c[i].closed, 1);
	}
	assert_int_equal(total, 20000);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* put waits while full, get waits while empty; neither completes inline */
static void test_queue_put_waits_full_get_waits_empty(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct rec p1, p2, p3, g1, g2;
	void *s1 = NULL, *s2 = NULL, *x;

	assert_int_equal(coil_queue_init(&q, loop, 2), 0);
	rec_init(&p1);
	rec_init(&p2);
	rec_init(&p3);
	rec_init(&g1);
	rec_init(&g2);
	assert_int_equal(coil_queue_put(&q, &p1.op, (void *)1), 0);
	assert_int_equal(coil_queue_put(&q, &p2.op, (void *)2), 0);
	assert_int_equal(coil_queue_put(&q, &p3.op, (void *)3), 0); /* waits */
	assert_int_equal(coil_queue_try_put(&q, (void *)4), -EAGAIN);
	assert_int_equal(p1.calls, 0);
	coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(p1.calls, 1);
	assert_int_equal(p2.calls, 1);
	assert_int_equal(p3.calls, 0);
	assert_int_equal(coil_queue_len(&q), 2);
	assert_int_equal(coil_queue_try_get(&q, &x), 0);
	assert_ptr_equal(x, (void *)1);
	/* the freed slot pulled the waiting put in */
	assert_int_equal(coil_queue_len(&q), 2);
	coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(p3.calls, 1);
	assert_int_equal(p3.res, 0);
	assert_int_equal(coil_queue_get(&q, &g1.op, &s1), 0);
	assert_int_equal(coil_queue_try_get(&q, &x), 0);
	assert_ptr_equal(x, (void *)3);
	assert_int_equal(coil_queue_get(&q, &g2.op, &s2), 0); /* waits */
	assert_int_equal(coil_queue_try_get(&q, &x), -EAGAIN);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(g1.calls, 1);
	assert_ptr_equal(s1, (void *)2);
	assert_int_equal(g2.calls, 0);
	assert_int_equal(coil_queue_try_put(&q, (void *)9), 0); /* handed */
	assert_int_equal(coil_queue_len(&q), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(g2.calls, 1);
	assert_ptr_equal(s2, (void *)9);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* close wakes every waiting put and get with COIL_ECLOSED; what was
 * queued can still be got, then gets fail too */
static void test_queue_close_wakes_everyone(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q, e;
	struct rec g[3], p[2], late;
	void *slot[3], *x;

	assert_int_equal(coil_queue_init(&e, loop, 4), 0);
	for (int i = 0; i < 3; i++) {
		rec_init(&g[i]);
		assert_int_equal(coil_queue_get(&e, &g[i].op, &slot[i]), 0);
	}
	assert_int_equal(coil_queue_init(&q, loop, 1), 0);
	assert_int_equal(coil_queue_try_put(&q, (void *)7), 0);
	for (int i = 0; i < 2; i++) {
		rec_init(&p[i]);
		assert_int_equal(coil_queue_put(&q, &p[i].op, (void *)8), 0);
	}
	assert_int_equal(coil_loop_inflight(loop), 5);
	coil_queue_close(&e);
	coil_queue_close(&q);
	assert_int_equal(g[0].calls, 0); /* not inline */
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].res, COIL_ECLOSED);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(p[i].res, COIL_ECLOSED);
	rec_init(&late);
	assert_int_equal(coil_queue_put(&q, &late.op, (void *)1), COIL_ECLOSED);
	assert_int_equal(coil_queue_try_put(&q, (void *)1), COIL_ECLOSED);
	assert_int_equal(coil_queue_get(&q, &late.op, &x), 0); /* the 7 */
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_ptr_equal(x, (void *)7);
	assert_int_equal(coil_queue_get(&q, &late.op, &x), COIL_ECLOSED);
	assert_int_equal(coil_queue_try_get(&q, &x), COIL_ECLOSED);
	coil_queue_destroy(&q);
	coil_queue_destroy(&e);
	coil_loop_free(loop);
}

/* capacity 0: a put waits for a get and hands its item over */
static void test_queue_rendezvous(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct rec p, g;
	void *s = NULL;

	assert_int_equal(coil_queue_init(&q, loop, 0), 0);
	rec_init(&p);
	rec_init(&g);
	assert_int_equal(coil_queue_try_put(&q, (void *)1), -EAGAIN);
	assert_int_equal(coil_queue_put(&q, &p.op, (void *)5), 0);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(p.calls, 0); /* nobody took it yet */
	assert_int_equal(coil_queue_get(&q, &g.op, &s), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(p.res, 0);
	assert_int_equal(g.res, 0);
	assert_ptr_equal(s, (void *)5);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

/* cancel a waiting get: -ECANCELED; the next put goes to the next get */
static void test_queue_cancel_waiting_get(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct rec a, b;
	void *sa = NULL, *sb = NULL;

	assert_int_equal(coil_queue_init(&q, loop, 4), 0);
	rec_init(&a);
	rec_init(&b);
	assert_int_equal(coil_queue_get(&q, &a.op, &sa), 0);
	assert_int_equal(coil_queue_get(&q, &b.op, &sb), 0);
	assert_int_equal(coil_cancel(loop, &a.op), 0);
	assert_int_equal(coil_queue_try_put(&q, (void *)3), 0);
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(a.res, -ECANCELED);
	assert_null(sa);
	assert_int_equal(b.res, 0);
	assert_ptr_equal(sb, (void *)3);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
}

static void test_queue_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_queue q;
	struct rec a;
	void *x;

	rec_init(&a);
	assert_int_equal(coil_queue_init(NULL, loop, 1), -EINVAL);
	assert_int_equal(coil_queue_init(&q, NULL, 1), -EINVAL);
	assert_int_equal(coil_queue_init(&q, loop, 1), 0);
	assert_int_equal(coil_queue_put(NULL, &a.op, NULL), -EINVAL);
	assert_int_equal(coil_queue_put(&q, NULL, NULL), -EINVAL);
	assert_int_equal(coil_queue_get(&q, &a.op, NULL), -EINVAL);
	assert_int_equal(coil_queue_get(NULL, &a.op, &x), -EINVAL);
	assert_int_equal(coil_queue_try_put(NULL, NULL), -EINVAL);
	assert_int_equal(coil_queue_try_get(&q, NULL), -EINVAL);
	assert_int_equal(coil_queue_get(&q, &a.op, &x), 0);
	assert_int_equal(coil_queue_get(&q, &a.op, &x), -EBUSY);
	assert_int_equal(coil_queue_put(&q, &a.op, NULL), -EBUSY);
	coil_queue_destroy(&q); /* wakes the get */
	assert_int_equal(run_idle(loop, 1 * SEC), 0);
	assert_int_equal(a.res, COIL_ECLOSED);
	coil_queue_destroy(NULL);
	coil_queue_close(NULL);
	assert_int_equal(coil_queue_len(NULL), 0);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_producer_consumer_100000_in_order),
		cmocka_unit_test(test_queue_many_producers_consumers),
		cmocka_unit_test(test_queue_put_waits_full_get_waits_empty),
		cmocka_unit_test(test_queue_close_wakes_everyone),
		cmocka_unit_test(test_queue_rendezvous),
		cmocka_unit_test(test_queue_cancel_waiting_get),
		cmocka_unit_test(test_queue_bad_input),
	};
	return cmocka_run_group_tests_name("async.queue", tests, NULL, NULL);
}
