/* tests/engine/test_setup.c - loop set-up, features and forced fallbacks,
 * error strings, run modes, stop, posting, and bad input to the loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

#define ALL_FEATS                                                              \
	(COIL_FEAT_SINGLE_ISSUER | COIL_FEAT_DEFER_TASKRUN |                   \
	 COIL_FEAT_COOP_TASKRUN | COIL_FEAT_SUBMIT_ALL |                       \
	 COIL_FEAT_MULTISHOT_ACCEPT | COIL_FEAT_MULTISHOT_RECV |               \
	 COIL_FEAT_BUF_RING | COIL_FEAT_MSG_RING | COIL_FEAT_SOCKET |          \
	 COIL_FEAT_SEND_ZC | COIL_FEAT_EXT_ARG | COIL_FEAT_MIN_WAIT |          \
	 COIL_FEAT_CQE_SKIP)

static void test_setup_features_are_sane(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	unsigned f = coil_loop_features(loop);
	const char *env = getenv("COIL_FALLBACK");

	assert_int_equal(f & ~ALL_FEATS, 0);
	/* implications */
	if (f & COIL_FEAT_DEFER_TASKRUN)
		assert_true(f & COIL_FEAT_SINGLE_ISSUER);
	if (f & COIL_FEAT_MULTISHOT_RECV)
		assert_true(f & COIL_FEAT_BUF_RING);
	assert_true(coil_loop_ring_fd(loop) >= 0);
	assert_true(coil_buf_size(loop) > 0 || !(f & COIL_FEAT_BUF_RING));
	/* the environment's forced fallbacks show */
	if (env && strstr(env, "nodefer"))
		assert_false(f & COIL_FEAT_DEFER_TASKRUN);
	if (env && strstr(env, "nocoop"))
		assert_false(
			f & (COIL_FEAT_COOP_TASKRUN | COIL_FEAT_DEFER_TASKRUN));
	if (env && strstr(env, "nomultishot"))
		assert_false(f & (COIL_FEAT_MULTISHOT_ACCEPT |
				  COIL_FEAT_MULTISHOT_RECV));
	if (env && strstr(env, "nobufring"))
		assert_false(f &
			     (COIL_FEAT_BUF_RING | COIL_FEAT_MULTISHOT_RECV));
	if (env && strstr(env, "nomsgring"))
		assert_false(f & COIL_FEAT_MSG_RING);
	print_message("features 0x%x (COIL_FALLBACK=%s)\n", f, env ? env : "");
	te_end(loop);
}

static void test_setup_each_forced_fallback_removes_its_feature(void **state)
{
	static const struct {
		unsigned flag, feat;
	} cases[] = {
		{COIL_LOOP_NO_DEFER, COIL_FEAT_DEFER_TASKRUN},
		{COIL_LOOP_NO_COOP, COIL_FEAT_COOP_TASKRUN},
		{COIL_LOOP_NO_MULTISHOT,
		 COIL_FEAT_MULTISHOT_ACCEPT | COIL_FEAT_MULTISHOT_RECV},
		{COIL_LOOP_NO_BUFRING,
		 COIL_FEAT_BUF_RING | COIL_FEAT_MULTISHOT_RECV},
		{COIL_LOOP_NO_MSG_RING, COIL_FEAT_MSG_RING},
	};
	int fds0 = tu_count_fds();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct coil_loop_opts o = {.flags = cases[i].flag};
		struct coil_loop *loop = tu_loop(&o);
		struct cop c;
		assert_int_equal(coil_loop_features(loop) & cases[i].feat, 0);
		/* and the loop still works */
		cop_init(&c);
		assert_int_equal(coil_nop(loop, &c.op), 0);
		assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
		assert_int_equal(c.calls, 1);
		coil_loop_free(loop);
	}
	assert_int_equal(tu_count_fds(), fds0);
}

static void test_setup_loop_strerror_explains(void **state)
{
	assert_non_null(strstr(coil_loop_strerror(-ENOSYS), "not available"));
	assert_non_null(strstr(coil_loop_strerror(-ENOSYS), "kernel"));
	assert_non_null(
		strstr(coil_loop_strerror(-EPERM), "kernel.io_uring_disabled"));
	assert_non_null(strstr(coil_loop_strerror(-EPERM), "seccomp"));
	assert_non_null(strstr(coil_loop_strerror(-ENOMEM), "RLIMIT_MEMLOCK"));
	assert_non_null(strstr(coil_loop_strerror(-EINVAL), "options"));
	/* anything else: coil_strerror */
	assert_string_equal(coil_loop_strerror(-EBADF), coil_strerror(-EBADF));
}

static void test_setup_strerror_covers_errno_and_coil_codes(void **state)
{
	assert_string_equal(coil_strerror(0), "success");
	assert_string_equal(coil_strerror(-ENOENT),
			    "No such file or directory");
	assert_string_equal(coil_strerror(-ETIMEDOUT), "Connection timed out");
	assert_string_equal(coil_strerror(-ECANCELED), "Operation canceled");
	const int codes[] = {COIL_EPARSE,  COIL_ETLS,	COIL_ELIMIT,
			     COIL_ECLOSED, COIL_ETRUNC, COIL_ERESOLVE,
			     COIL_EHTTP};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = coil_strerror(codes[i]);
		assert_non_null(s);
		assert_string_not_equal(s, "unknown error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, coil_strerror(codes[j]));
	}
	assert_non_null(strstr(coil_strerror(COIL_EPARSE), "HTTP"));
	assert_non_null(strstr(coil_strerror(COIL_ERESOLVE), "resolution"));
	/* outside every range: a string all the same */
	assert_string_equal(coil_strerror(COIL_ELAST), "unknown error");
	assert_string_equal(coil_strerror(5), "unknown error");
	assert_string_equal(coil_strerror(-4000), "unknown error");
}

static void test_setup_bad_options_rejected(void **state)
{
	struct coil_loop *loop = NULL;
	struct coil_loop_opts o;
	int fds0 = tu_count_fds();

	o = (struct coil_loop_opts){.sq_entries = 100000};
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	o = (struct coil_loop_opts){.cq_factor = 1000};
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	o = (struct coil_loop_opts){.buf_count = 65536};
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	o = (struct coil_loop_opts){.flags = 1u << 30};
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	assert_null(loop);
	assert_int_equal(tu_count_fds(), fds0);
	coil_loop_free(NULL); /* harmless */

	/* small but valid sizes work, rounded up to powers of two; an SQ of
	 * 1 still takes an op with its linked timeout (two SQEs) */
	for (unsigned sq = 1; sq <= 3; sq++) {
		o = (struct coil_loop_opts){.sq_entries = sq,
					    .cq_factor = 1,
					    .buf_count = 3,
					    .buf_size = 8};
		loop = te_begin(&o);
		struct cop c, r[3];
		int fds[2];
		char buf[3][4];
		tu_tcp_pair(fds);
		cop_init(&c);
		assert_int_equal(coil_nop(loop, &c.op), 0);
		for (int i = 0; i < 3; i++) {
			cop_init(&r[i]);
			coil_op_timeout(&r[i].op, 10 * MS);
			assert_int_equal(
				coil_recv(loop, &r[i].op, fds[0], buf[i], 4, 0),
				0);
		}
		assert_int_equal(te_drain(loop, 5000 * MS), 0);
		assert_int_equal(c.calls, 1);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(r[i].calls, 1);
			assert_int_equal(r[i].res, -ETIMEDOUT);
		}
		close(fds[0]);
		close(fds[1]);
		te_end(loop);
	}
}

/* Unknown flag bits and absurd lengths: a clear answer, never a crash. */
static void test_setup_bad_op_arguments(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	unsigned short port;
	int lfd = tu_listen(&port);
	static char small[16];

	cop_init(&c);
	assert_int_equal(coil_accept(loop, &c.op, lfd, 1u << 7), -EINVAL);
	assert_int_equal(coil_timeout(loop, &c.op, MS, 1u << 5), -EINVAL);
	assert_false(coil_op_busy(&c.op));
	assert_int_equal(coil_loop_inflight(loop), 0);
	close(lfd);

	/* a length above 4 GiB is clamped, not wrapped to a small number:
	 * /dev/null takes the whole clamped write without reading it */
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(coil_write(loop, &c.op, fd, small,
				    (size_t)(1ull << 32) + 4, -1),
			 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.res > 4);
	close(fd);
	te_end(loop);
}

static void test_setup_busy_op_refused(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;

	cop_init(&c);
	assert_false(coil_op_busy(&c.op));
	assert_int_equal(coil_timeout(loop, &c.op, 5000 * MS, 0), 0);
	assert_true(coil_op_busy(&c.op));
	/* every submitting call refuses an op in flight */
	assert_int_equal(coil_nop(loop, &c.op), -EBUSY);
	assert_int_equal(coil_timeout(loop, &c.op, 1, 0), -EBUSY);
	assert_int_equal(coil_loop_post(loop, &c.op, 0), -EBUSY);
	assert_int_equal(coil_loop_inflight(loop), 1);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);
	assert_false(coil_op_busy(&c.op));
	te_end(loop);
}

static void test_setup_run_modes(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop slow, fast;

	/* nothing in flight: every mode returns 0 at once */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_ONCE), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);

	cop_init(&slow);
	cop_init(&fast);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &slow.op, 700 * MS, 0), 0);
	assert_int_equal(coil_timeout(loop, &fast.op, 200 * MS, 0), 0);
	/* NOWAIT: submits, does not wait */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 2);
	assert_true(tu_mono_ns() - t0 < 150 * MS);
	assert_int_equal(fast.calls + slow.calls, 0);
	/* ONCE: waits for the first completion only */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_ONCE), 1);
	assert_int_equal(fast.calls, 1);
	assert_int_equal(slow.calls, 0);
	assert_true(tu_mono_ns() - t0 >= 200 * MS);
	/* DEFAULT: until nothing is in flight */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(slow.calls, 1);
	assert_true(tu_mono_ns() - t0 >= 700 * MS);
	te_end(loop);
}

struct stopper {
	struct coil_op op;
	struct coil_loop *loop;
	int calls;
};

static void on_stop(struct coil_op *op, int res, unsigned flags)
{
	struct stopper *s = coil_container_of(op, struct stopper, op);
	s->calls++;
	coil_loop_stop(s->loop);
}

static void test_setup_stop_ends_default_run(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct stopper s = {.loop = loop};
	struct cop longer;

	coil_op_init(&s.op, on_stop);
	cop_init(&longer);
	assert_int_equal(coil_timeout(loop, &s.op, 20 * MS, 0), 0);
	assert_int_equal(coil_timeout(loop, &longer.op, 10000 * MS, 0), 0);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 1);
	assert_true(tu_mono_ns() - t0 < 5000 * MS);
	assert_int_equal(s.calls, 1);
	assert_int_equal(longer.calls, 0);
	/* a later run starts afresh */
	assert_int_equal(coil_cancel(loop, &longer.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(longer.calls, 1);
	assert_int_equal(longer.res, -ECANCELED);
	te_end(loop);
}

/* coil_loop_post: next turn, never inline; a callback that posts itself
 * again runs on the following turn, so it cannot starve the ring. */
struct reposter {
	struct coil_op op;
	struct coil_loop *loop;
	int calls, left;
	uint64_t turn_seen[8];
};

static void on_repost(struct coil_op *op, int res, unsigned flags)
{
	struct reposter *r = coil_container_of(op, struct reposter, op);
	struct coil_loop_stats st;
	coil_loop_stats(r->loop, &st);
	assert_int_equal(res, r->calls);
	r->turn_seen[r->calls++] = st.turns;
	if (--r->left > 0)
		assert_int_equal(coil_loop_post(r->loop, op, r->calls), 0);
}

static void test_setup_post_runs_next_turn(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct reposter r = {.loop = loop, .left = 3};
	struct cop c;

	cop_init(&c);
	assert_int_equal(coil_loop_post(loop, &c.op, -EPIPE), 0);
	assert_int_equal(c.calls, 0);
	assert_true(coil_op_busy(&c.op));
	assert_int_equal(coil_loop_inflight(loop), 1);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -EPIPE);

	coil_op_init(&r.op, on_repost);
	assert_int_equal(coil_loop_post(loop, &r.op, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 3);
	assert_true(r.turn_seen[1] > r.turn_seen[0]);
	assert_true(r.turn_seen[2] > r.turn_seen[1]);
	te_end(loop);
}

/* With DEFER_TASKRUN the kernel runs completions only when the loop's
 * thread enters the ring: NOWAIT turns must enter to get them. */
static void test_setup_nowait_delivers_deferred_completions(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	int fds[2];
	char buf[8];

	tu_tcp_pair(fds);
	cop_init(&c);
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	/* armed (the socket is empty: the kernel waits on it) */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(send(fds[1], "tw", 2, 0), 2);
	uint64_t end = tu_mono_ns() + 5000 * MS;
	int turns = 0;
	while (c.calls == 0 && tu_mono_ns() < end) {
		assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
		turns++;
	}
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 2);
	print_message("deferred completion after %d NOWAIT turns\n", turns);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* coil_loop_run() from a callback is refused (a nested run would reap
 * the CQEs the outer run is walking); a bad mode too. */
struct nester {
	struct coil_op op;
	struct coil_loop *loop;
	int calls, nested_ret;
};

static void on_nest(struct coil_op *op, int res, unsigned flags)
{
	struct nester *n = coil_container_of(op, struct nester, op);
	n->calls++;
	n->nested_ret = coil_loop_run(n->loop, COIL_RUN_NOWAIT);
}

static void test_setup_nested_run_refused(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	static struct nester n[4];
	struct cop c;

	for (int i = 0; i < 4; i++) {
		n[i] = (struct nester){.loop = loop};
		coil_op_init(&n[i].op, on_nest);
		if (i < 2)
			assert_int_equal(coil_nop(loop, &n[i].op), 0);
		else
			assert_int_equal(coil_loop_post(loop, &n[i].op, 0), 0);
	}
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(n[i].calls, 1);
		assert_int_equal(n[i].nested_ret, -EBUSY);
	}
	assert_int_equal(coil_loop_run(loop, 7), -EINVAL);
	assert_int_equal(coil_loop_run(loop, -1), -EINVAL);
	/* a linked timeout set before a post is consumed by it */
	cop_init(&c);
	coil_op_timeout(&c.op, 1 * MS);
	assert_int_equal(coil_loop_post(loop, &c.op, 3), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.res, 3);
	assert_int_equal(coil_timeout(loop, &c.op, 1 * MS, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.res, 0);
	te_end(loop);
}

static void test_setup_clock_refreshes_each_turn(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;

	uint64_t a = coil_now(loop);
	assert_true(a > 0);
	assert_int_equal(coil_now(loop), a); /* cached */
	cop_init(&c);
	assert_int_equal(coil_timeout(loop, &c.op, 5 * MS, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	uint64_t b = coil_now(loop);
	assert_true(b >= a + 5 * MS);
	uint64_t d = coil_now_update(loop);
	assert_true(d >= b);
	assert_int_equal(coil_now(loop), d);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_features_are_sane),
		cmocka_unit_test(
			test_setup_each_forced_fallback_removes_its_feature),
		cmocka_unit_test(test_setup_loop_strerror_explains),
		cmocka_unit_test(
			test_setup_strerror_covers_errno_and_coil_codes),
		cmocka_unit_test(test_setup_bad_options_rejected),
		cmocka_unit_test(test_setup_bad_op_arguments),
		cmocka_unit_test(test_setup_busy_op_refused),
		cmocka_unit_test(test_setup_run_modes),
		cmocka_unit_test(test_setup_stop_ends_default_run),
		cmocka_unit_test(test_setup_post_runs_next_turn),
		cmocka_unit_test(
			test_setup_nowait_delivers_deferred_completions),
		cmocka_unit_test(test_setup_nested_run_refused),
		cmocka_unit_test(test_setup_clock_refreshes_each_turn),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.setup", tests, NULL, NULL);
}
