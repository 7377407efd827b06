/* tests/engine/test_msgring.c - completions across loops and threads:
 * coil_msg_ring between two loops, coil_loop_expect keeping the target's
 * run alive, coil_loop_post_remote from a plain thread. Runs under the
 * nomsgring fallback (eventfd inbox) as well. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

#define NMSG 100

/* The target: a loop on its own thread, created there (SINGLE_ISSUER). */
struct target {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct coil_loop *loop;
	int ready;
	int nops; /* ops armed with coil_loop_expect */
	struct cop ops[NMSG];
	int run_ret; /* coil_loop_run(DEFAULT)'s return */
	int inflight_end;
};

static void *target_main(void *arg)
{
	struct target *t = arg;
	struct coil_loop *loop = tu_loop(NULL);
	for (int i = 0; i < t->nops; i++) {
		cop_init(&t->ops[i]);
		coil_loop_expect(loop, &t->ops[i].op);
	}
	pthread_mutex_lock(&t->mu);
	t->loop = loop;
	t->ready = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	/* returns only once every expected op has its message */
	t->run_ret = coil_loop_run(loop, COIL_RUN_DEFAULT);
	t->inflight_end = (int)coil_loop_inflight(loop);
	coil_loop_free(loop);
	return NULL;
}

static void target_start(struct target *t, int nops)
{
	memset(t, 0, sizeof(*t));
	t->nops = nops;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	assert_int_equal(pthread_create(&t->thread, NULL, target_main, t), 0);
	pthread_mutex_lock(&t->mu);
	while (!t->ready)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

static void target_join(struct target *t)
{
	assert_int_equal(pthread_join(t->thread, NULL), 0);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	assert_int_equal(t->run_ret, 0);
	assert_int_equal(t->inflight_end, 0);
	for (int i = 0; i < t->nops; i++) {
		assert_int_equal(t->ops[i].calls, 1);
		assert_true(pthread_equal(t->ops[i].thread, t->thread));
	}
}

static void test_msgring_between_two_loops(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct target t;
	struct cop c;

	target_start(&t, 1);
	cop_init(&c);
	assert_int_equal(coil_msg_ring(loop, &c.op, t.loop, &t.ops[0].op, 42),
			 0);
	assert_int_equal(c.calls, 0); /* never inline */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	assert_true(pthread_equal(c.thread, pthread_self()));
	target_join(&t);
	assert_int_equal(t.ops[0].res, 42);
	te_end(loop);
}

static void test_msgring_many_messages_and_negative_results(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct target t;
	static struct cop c[NMSG];

	target_start(&t, NMSG);
	for (int i = 0; i < NMSG; i++) {
		cop_init(&c[i]);
		int res = i % 2 ? i : -ECONNRESET;
		assert_int_equal(coil_msg_ring(loop, &c[i].op, t.loop,
					       &t.ops[i].op, res),
				 0);
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < NMSG; i++) {
		assert_int_equal(c[i].calls, 1);
		assert_int_equal(c[i].res, 0);
	}
	target_join(&t);
	for (int i = 0; i < NMSG; i++)
		assert_int_equal(t.ops[i].res, i % 2 ? i : -ECONNRESET);
	te_end(loop);
}

/* A loop may message itself; the callback still runs from the loop. */
static void test_msgring_to_own_loop(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c, target;

	cop_init(&c);
	cop_init(&target);
	coil_loop_expect(loop, &target.op);
	assert_int_equal(coil_msg_ring(loop, &c.op, loop, &target.op, 5), 0);
	assert_int_equal(c.calls + target.calls, 0);
	assert_int_equal(coil_loop_inflight(loop), 2);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	assert_int_equal(target.calls, 1);
	assert_int_equal(target.res, 5);
	te_end(loop);
}

/* The forced fallback on the sender's side only: the eventfd path. */
static void test_msgring_forced_eventfd_fallback(void **state)
{
	struct coil_loop_opts o = {.flags = COIL_LOOP_NO_MSG_RING};
	struct coil_loop *loop = te_begin(&o);
	struct target t;
	struct cop c;

	assert_false(coil_loop_features(loop) & COIL_FEAT_MSG_RING);
	target_start(&t, 1);
	cop_init(&c);
	assert_int_equal(coil_msg_ring(loop, &c.op, t.loop, &t.ops[0].op, 9),
			 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	target_join(&t);
	assert_int_equal(t.ops[0].res, 9);
	te_end(loop);
}

struct poster {
	struct coil_loop *target;
	struct coil_op *ops[NMSG];
	int n;
	int errors;
};

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	for (int i = 0; i < p->n; i++)
		if (coil_loop_post_remote(p->target, p->ops[i], 1000 + i) != 0)
			p->errors++;
	return NULL;
}

static void test_msgring_post_remote_from_plain_thread(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	static struct cop c[NMSG];
	struct poster p = {.target = loop, .n = NMSG};
	pthread_t th;

	for (int i = 0; i < NMSG; i++) {
		cop_init(&c[i]);
		coil_loop_expect(loop, &c[i].op);
		p.ops[i] = &c[i].op;
	}
	assert_int_equal(coil_loop_inflight(loop), NMSG);
	/* an expected op cannot be cancelled: its message is still due */
	assert_int_equal(coil_cancel(loop, &c[0].op), -ENOENT);
	assert_int_equal(pthread_create(&th, NULL, poster_main, &p), 0);
	/* DEFAULT stays until every expected op got its message */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(p.errors, 0);
	for (int i = 0; i < NMSG; i++) {
		assert_int_equal(c[i].calls, 1);
		assert_int_equal(c[i].res, 1000 + i);
		assert_true(pthread_equal(c[i].thread, pthread_self()));
	}
	/* the inbox is re-armed: a second round works too */
	cop_init(&c[0]);
	coil_loop_expect(loop, &c[0].op);
	p.n = 1;
	assert_int_equal(pthread_create(&th, NULL, poster_main, &p), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c[0].calls, 1);
	assert_int_equal(c[0].res, 1000);
	te_end(loop);
}

/* Several plain threads posting to one loop at once: every op arrives
 * exactly once, on the loop's thread. */
struct multi_poster {
	struct coil_loop *target;
	struct cop *ops;
	int from, n;
	int errors;
};

static void *multi_poster_main(void *arg)
{
	struct multi_poster *p = arg;
	for (int i = p->from; i < p->from + p->n; i++)
		if (coil_loop_post_remote(p->target, &p->ops[i].op, i) != 0)
			p->errors++;
	return NULL;
}

static void test_msgring_post_remote_from_many_threads(void **state)
{
	enum { THREADS = 4, EACH = 500 };
	struct coil_loop *loop = te_begin(NULL);
	static struct cop ops[THREADS * EACH];
	struct multi_poster p[THREADS];
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS * EACH; i++) {
		cop_init(&ops[i]);
		coil_loop_expect(loop, &ops[i].op);
	}
	for (int t = 0; t < THREADS; t++) {
		p[t] = (struct multi_poster){.target = loop,
					     .ops = ops,
					     .from = t * EACH,
					     .n = EACH};
		assert_int_equal(
			pthread_create(&th[t], NULL, multi_poster_main, &p[t]),
			0);
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(p[t].errors, 0);
	}
	for (int i = 0; i < THREADS * EACH; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, i);
		assert_true(pthread_equal(ops[i].thread, pthread_self()));
	}
	te_end(loop);
}

/* Two loops on two threads sending to each other. */
struct peer {
	pthread_t thread;
	struct coil_loop *loop;
	struct peer *other;
	pthread_barrier_t *bar;
	struct cop in[NMSG];  /* completed by the other loop */
	struct cop out[NMSG]; /* our sends */
	int ok;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	p->loop = tu_loop(NULL);
	for (int i = 0; i < NMSG; i++) {
		cop_init(&p->in[i]);
		coil_loop_expect(p->loop, &p->in[i].op);
	}
	pthread_barrier_wait(p->bar); /* both loops exist */
	for (int i = 0; i < NMSG; i++) {
		cop_init(&p->out[i]);
		if (coil_msg_ring(p->loop, &p->out[i].op, p->other->loop,
				  &p->other->in[i].op, i) != 0)
			return NULL;
	}
	if (coil_loop_run(p->loop, COIL_RUN_DEFAULT) != 0)
		return NULL;
	p->ok = 1;
	for (int i = 0; i < NMSG; i++)
		if (p->in[i].calls != 1 || p->in[i].res != i ||
		    p->out[i].calls != 1 || p->out[i].res != 0 ||
		    !pthread_equal(p->in[i].thread, pthread_self()))
			p->ok = 0;
	pthread_barrier_wait(p->bar); /* nobody frees a loop still a target */
	coil_loop_free(p->loop);
	return NULL;
}

static void test_msgring_two_threads_both_ways(void **state)
{
	static struct peer a, b;
	pthread_barrier_t bar;
	int fds0 = tu_count_fds();

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	pthread_barrier_init(&bar, NULL, 2);
	a.other = &b;
	b.other = &a;
	a.bar = b.bar = &bar;
	assert_int_equal(pthread_create(&a.thread, NULL, peer_main, &a), 0);
	assert_int_equal(pthread_create(&b.thread, NULL, peer_main, &b), 0);
	assert_int_equal(pthread_join(a.thread, NULL), 0);
	assert_int_equal(pthread_join(b.thread, NULL), 0);
	pthread_barrier_destroy(&bar);
	assert_int_equal(a.ok, 1);
	assert_int_equal(b.ok, 1);
	assert_int_equal(tu_count_fds(), fds0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgring_between_two_loops),
		cmocka_unit_test(
			test_msgring_many_messages_and_negative_results),
		cmocka_unit_test(test_msgring_to_own_loop),
		cmocka_unit_test(test_msgring_forced_eventfd_fallback),
		cmocka_unit_test(test_msgring_post_remote_from_plain_thread),
		cmocka_unit_test(test_msgring_post_remote_from_many_threads),
		cmocka_unit_test(test_msgring_two_threads_both_ways),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.msgring", tests, NULL, NULL);
}
