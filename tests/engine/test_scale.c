/* tests/engine/test_scale.c - many ops at once: 10,000 in flight, more SQEs
 * than the SQ holds (early submit and the user-space queue), and far more
 * completions than the CQ holds (overflow). Every callback exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

#define N 10000

static struct cop ops[N];

static void check_all_once(int n, int res)
{
	for (int i = 0; i < n; i++) {
		if (ops[i].calls != 1 || ops[i].res != res)
			fail_msg("op %d: %d calls, res %d", i, ops[i].calls,
				 ops[i].res);
	}
}

static void test_scale_10k_timeouts_in_flight(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct coil_loop_stats st;

	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		assert_int_equal(coil_timeout(loop, &ops[i].op,
					      (uint64_t)(20 + i % 30) * MS, 0),
				 0);
	}
	assert_int_equal(coil_loop_inflight(loop), N);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	check_all_once(N, 0);
	coil_loop_stats(loop, &st);
	assert_true(st.cqes >= N);
	print_message("10k timers: %llu enters, %llu turns, %llu overflow\n",
		      (unsigned long long)st.enters,
		      (unsigned long long)st.turns,
		      (unsigned long long)st.overflow);
	te_end(loop);
}

static void test_scale_10k_recvs_with_linked_timeouts(void **state)
{
	/* 10,000 recvs on a few sockets nobody writes to, each with a
	 * linked timeout: 20,000 SQEs, 20,000 CQEs, 10,000 callbacks */
	enum { NSOCK = 16 };
	struct coil_loop *loop = te_begin(NULL);
	int fds[NSOCK][2];
	static char buf[N];

	for (int s = 0; s < NSOCK; s++)
		tu_tcp_pair(fds[s]);
	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		coil_op_timeout(&ops[i].op, (uint64_t)(20 + i % 20) * MS);
		assert_int_equal(coil_recv(loop, &ops[i].op, fds[i % NSOCK][0],
					   &buf[i], 1, 0),
				 0);
	}
	assert_int_equal(coil_loop_inflight(loop), N);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	check_all_once(N, -ETIMEDOUT);
	for (int s = 0; s < NSOCK; s++) {
		close(fds[s][0]);
		close(fds[s][1]);
	}
	te_end(loop);
}

static void nops_beyond_sq(unsigned flags, int expect_queued)
{
	struct coil_loop_opts o = {.sq_entries = 64, .flags = flags};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;

	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		assert_int_equal(coil_nop(loop, &ops[i].op), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(ops[i].calls, 0); /* never inline */
	assert_int_equal(coil_loop_inflight(loop), N);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	check_all_once(N, 0);
	coil_loop_stats(loop, &st);
	if (expect_queued)
		assert_true(st.queued > 0);
	else
		assert_int_equal(st.queued, 0);
	assert_true(st.sqes >= N);
	assert_int_equal(st.cqes, N);
	print_message(
		"10k nops, SQ 64%s: %llu enters, %llu turns, %llu "
		"queued, %llu overflow\n",
		expect_queued ? ", no early submit" : "",
		(unsigned long long)st.enters, (unsigned long long)st.turns,
		(unsigned long long)st.queued, (unsigned long long)st.overflow);
	te_end(loop);
}

static void test_scale_nops_beyond_sq_early_submit(void **state)
{
	nops_beyond_sq(0, 0);
}

static void test_scale_nops_beyond_sq_queued(void **state)
{
	nops_beyond_sq(COIL_LOOP_NO_EARLY_SUBMIT, 1);
}

/* SQ 8, CQ 16: 5,000 nops complete in the kernel long before anyone reaps
 * them; the overflowed CQEs must all come back. */
static void test_scale_cq_overflow_nops(void **state)
{
	enum { M = 5000 };
	struct coil_loop_opts o = {.sq_entries = 8, .cq_factor = 2};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;

	for (int i = 0; i < M; i++) {
		cop_init(&ops[i]);
		assert_int_equal(coil_nop(loop, &ops[i].op), 0);
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	check_all_once(M, 0);
	coil_loop_stats(loop, &st);
	assert_int_equal(st.cqes, M);
	assert_true(st.overflow > 0);
	print_message("CQ 16, 5000 nops: %llu overflow turns, %llu enters\n",
		      (unsigned long long)st.overflow,
		      (unsigned long long)st.enters);
	te_end(loop);
}

/* SQ 8, CQ 16: 2,000 timers that expire together while the loop sleeps,
 * plus linked recvs timing out together: the kernel overflows the CQ
 * while we wait. */
static void test_scale_cq_overflow_timers_and_links(void **state)
{
	enum { M = 2000, NSOCK = 4 };
	struct coil_loop_opts o = {.sq_entries = 8, .cq_factor = 2};
	struct coil_loop *loop = te_begin(&o);
	int fds[NSOCK][2];
	static char buf[M];

	for (int s = 0; s < NSOCK; s++)
		tu_tcp_pair(fds[s]);
	for (int i = 0; i < M; i++) {
		cop_init(&ops[i]);
		if (i % 2) {
			coil_op_timeout(&ops[i].op, 30 * MS);
			assert_int_equal(coil_recv(loop, &ops[i].op,
						   fds[i % NSOCK][0], &buf[i],
						   1, 0),
					 0);
		} else {
			assert_int_equal(
				coil_timeout(loop, &ops[i].op, 30 * MS, 0), 0);
		}
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < M; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, i % 2 ? -ETIMEDOUT : 0);
	}
	for (int s = 0; s < NSOCK; s++) {
		close(fds[s][0]);
		close(fds[s][1]);
	}
	te_end(loop);
}

/* Callbacks that submit more while the CQ is overflowing: each nop's
 * callback submits the next nop of its chain. */
struct chainer {
	struct coil_op op;
	struct coil_loop *loop;
	int left, calls;
};

static void on_chain(struct coil_op *op, int res, unsigned flags)
{
	struct chainer *c = coil_container_of(op, struct chainer, op);
	assert_int_equal(res, 0);
	c->calls++;
	if (--c->left > 0)
		assert_int_equal(coil_nop(c->loop, op), 0);
}

static void test_scale_chained_submits_under_overflow(void **state)
{
	enum { CHAINS = 100, LEN = 100 };
	struct coil_loop_opts o = {.sq_entries = 8, .cq_factor = 2};
	struct coil_loop *loop = te_begin(&o);
	static struct chainer ch[CHAINS];

	for (int i = 0; i < CHAINS; i++) {
		ch[i].loop = loop;
		ch[i].left = LEN;
		ch[i].calls = 0;
		coil_op_init(&ch[i].op, on_chain);
		assert_int_equal(coil_nop(loop, &ch[i].op), 0);
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < CHAINS; i++)
		assert_int_equal(ch[i].calls, LEN);
	te_end(loop);
}

/* A random mix of recvs with and without linked timeouts, timers, timer
 * removals, nops, posts and cancels, resubmitted from callbacks, on a
 * small ring: each submission gets exactly one final callback. */
enum { SLOTS = 256, NSOCK = 8 };

struct slot {
	struct coil_op op;
	struct mix *mix;
	int submits, finals;
	int kind;
	char buf[4];
};

struct mix {
	struct coil_loop *loop;
	struct slot slots[SLOTS];
	int fds[NSOCK][2];
	uint64_t rng;
	int resubmit; /* callbacks may resubmit while set */
	int errors;
	int results[8]; /* 0 ok, 1 timedout, 2 canceled, 3 other */
};

static unsigned mix_rand(struct mix *m, unsigned n)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return (unsigned)(m->rng % n);
}

static void mix_submit(struct mix *m, struct slot *sl);

static void on_mix(struct coil_op *op, int res, unsigned flags)
{
	struct slot *sl = coil_container_of(op, struct slot, op);
	struct mix *m = sl->mix;
	if (flags & COIL_MORE) {
		m->errors++;
		return;
	}
	sl->finals++;
	if (sl->finals != sl->submits)
		m->errors++;
	if (res >= 0)
		m->results[0]++;
	else if (res == -ETIMEDOUT)
		m->results[1]++;
	else if (res == -ECANCELED)
		m->results[2]++;
	else
		m->results[3]++;
	if (m->resubmit && mix_rand(m, 3) == 0)
		mix_submit(m, sl);
}

static void mix_submit(struct mix *m, struct slot *sl)
{
	struct coil_loop *loop = m->loop;
	int ret;
	sl->kind = (int)mix_rand(m, 5);
	switch (sl->kind) {
	case 0: /* recv, maybe with a linked timeout */
	case 1:
		if (mix_rand(m, 3))
			coil_op_timeout(&sl->op, mix_rand(m, 3000) * 1000ull);
		ret = coil_recv(loop, &sl->op, m->fds[mix_rand(m, NSOCK)][0],
				sl->buf, 1 + mix_rand(m, 3), 0);
		break;
	case 2:
		ret = coil_timeout(loop, &sl->op, mix_rand(m, 5000) * 1000ull,
				   0);
		break;
	case 3:
		ret = coil_nop(loop, &sl->op);
		break;
	default:
		ret = coil_loop_post(loop, &sl->op, 0);
		break;
	}
	if (ret != 0) {
		m->errors++;
		return;
	}
	sl->submits++;
}

static void random_mix(const struct coil_loop_opts *o, uint64_t seed)
{
	static struct mix m;
	struct cop guard;
	memset(&m, 0, sizeof(m));
	cop_init(&guard);
	m.loop = te_begin(o);
	m.rng = seed;
	m.resubmit = 1;
	for (int s = 0; s < NSOCK; s++) {
		tu_tcp_pair(m.fds[s]);
		/* many small sends must not block the test */
		int fl = fcntl(m.fds[s][1], F_GETFL);
		fcntl(m.fds[s][1], F_SETFL, fl | O_NONBLOCK);
	}
	for (int i = 0; i < SLOTS; i++) {
		m.slots[i].mix = &m;
		coil_op_init(&m.slots[i].op, on_mix);
	}
	uint64_t end = tu_mono_ns() + 3000 * MS;
	for (int iter = 0; iter < 20000 && tu_mono_ns() < end; iter++) {
		struct slot *sl = &m.slots[mix_rand(&m, SLOTS)];
		switch (mix_rand(&m, 8)) {
		case 0:
		case 1:
		case 2:
			if (!coil_op_busy(&sl->op))
				mix_submit(&m, sl);
			break;
		case 3:
			if (coil_op_busy(&sl->op)) {
				int r = coil_cancel(m.loop, &sl->op);
				if (r != 0 && r != -ENOENT)
					m.errors++;
			}
			break;
		case 4:
			if (coil_op_busy(&sl->op) && sl->kind == 2 &&
			    coil_timeout_remove(m.loop, &sl->op) != 0)
				m.errors++;
			break;
		case 5: {
			int s = (int)mix_rand(&m, NSOCK);
			if (send(m.fds[s][1], "abc", 1 + mix_rand(&m, 3), 0) <
				    0 &&
			    errno != EAGAIN)
				m.errors++;
			break;
		}
		case 6:
			if (coil_loop_run(m.loop, COIL_RUN_NOWAIT) < 0)
				m.errors++;
			break;
		default:
			/* a waiting turn; the guard timer bounds the wait when
			 * all that is in flight are recvs nobody feeds */
			if (!coil_op_busy(&guard.op))
				assert_int_equal(
					coil_timeout(m.loop, &guard.op, MS, 0),
					0);
			if (coil_loop_run(m.loop, COIL_RUN_ONCE) < 0)
				m.errors++;
			break;
		}
	}
	/* wind down: no more resubmits, cancel what waits on sockets */
	m.resubmit = 0;
	for (int s = 0; s < NSOCK; s++)
		assert_int_equal(coil_cancel_fd(m.loop, m.fds[s][0]), 0);
	assert_int_equal(te_drain(m.loop, 10000 * MS), 0);
	assert_int_equal(m.errors, 0);
	int submits = 0;
	for (int i = 0; i < SLOTS; i++) {
		assert_int_equal(m.slots[i].finals, m.slots[i].submits);
		submits += m.slots[i].submits;
	}
	assert_int_equal(m.results[3], 0);
	print_message("mix seed %llu: %d submits, %d ok, %d timed out, %d "
		      "cancelled\n",
		      (unsigned long long)seed, submits, m.results[0],
		      m.results[1], m.results[2]);
	for (int s = 0; s < NSOCK; s++) {
		close(m.fds[s][0]);
		close(m.fds[s][1]);
	}
	te_end(m.loop);
}

static void test_scale_random_mix_exactly_once(void **state)
{
	struct coil_loop_opts small = {.sq_entries = 8, .cq_factor = 2};
	struct coil_loop_opts queued = {.sq_entries = 8,
					.cq_factor = 2,
					.flags = COIL_LOOP_NO_EARLY_SUBMIT};
	random_mix(NULL, 0x9e3779b97f4a7c15ull);
	random_mix(&small, 12345);
	random_mix(&queued, 777);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_10k_timeouts_in_flight),
		cmocka_unit_test(test_scale_10k_recvs_with_linked_timeouts),
		cmocka_unit_test(test_scale_nops_beyond_sq_early_submit),
		cmocka_unit_test(test_scale_nops_beyond_sq_queued),
		cmocka_unit_test(test_scale_cq_overflow_nops),
		cmocka_unit_test(test_scale_cq_overflow_timers_and_links),
		cmocka_unit_test(test_scale_chained_submits_under_overflow),
		cmocka_unit_test(test_scale_random_mix_exactly_once),
	};
	te_watchdog(90);
	return cmocka_run_group_tests_name("engine.scale", tests, NULL, NULL);
}
