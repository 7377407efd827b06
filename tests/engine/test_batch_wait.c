/* tests/engine/test_batch_wait.c - coil_loop_opts.batch_wait_ns: a waiting
 * turn gathers completions up to the min-wait, never holds one back longer,
 * and an idle wait still ends only when something completes;
 * COIL_BATCH_WAIT_TIMER gathers up to the loop's alarm and without one
 * waits the plain way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "testutil.h"

#define MS 1000000ull

struct counted {
	struct coil_op op;
	int calls;
	int res;
	uint64_t at_ns;
};

static void on_done(struct coil_op *op, int res, unsigned flags)
{
	struct counted *c = coil_container_of(op, struct counted, op);
	(void)flags;
	c->calls++;
	c->res = res;
	c->at_ns = tu_mono_ns();
}

static struct coil_loop *batch_loop(uint64_t batch_wait_ns)
{
	struct coil_loop_opts o = {.batch_wait_ns = batch_wait_ns};
	return tu_loop(&o);
}

static void test_batch_wait_rejects_more_than_one_second(void **state)
{
	struct coil_loop_opts o = {.batch_wait_ns = 1000000001ull};
	struct coil_loop *loop = NULL;
	(void)state;
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	assert_null(loop);
}

static void test_batch_wait_nop_completes(void **state)
{
	struct coil_loop *loop = batch_loop(5 * MS);
	struct counted c = {0};
	(void)state;
	coil_op_init(&c.op, on_done);
	assert_int_equal(coil_nop(loop, &c.op), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	coil_loop_free(loop);
}

struct writer {
	int fds[2];
	pid_t waiter; /* the loop's thread */
};

/* Whether thread @tid sleeps (state S in /proc/self/task/TID/stat). */
static int thread_sleeps(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Once the loop's thread sleeps in its wait, writes one byte to fds[0],
 * then, a moment later, one to fds[1]. Without the first step, a plain
 * ring (no COOP_TASKRUN) may run the first recv's task work when the loop
 * thread returns from any system call, so the turn would find a CQE ready
 * and not wait at all. */
static void *write_two(void *arg)
{
	struct writer *w = arg;
	int *fds = w->fds;
	uint64_t end = tu_mono_ns() + 2000 * MS;
	while (!thread_sleeps(w->waiter) && tu_mono_ns() < end)
		usleep(100);
	if (write(fds[0], "a", 1) != 1)
		abort();
	usleep(2000); /* a gap between the two arrivals, not a wait */
	if (write(fds[1], "b", 1) != 1)
		abort();
	return NULL;
}

/* Two recvs whose data arrive 2 ms apart: the waiting turn gathers both
 * (the second comes well inside the batch wait), so one COIL_RUN_ONCE
 * delivers both. (Timers would not show it: they always wake the waiter.) */
static void test_batch_wait_gathers_completions_in_one_turn(void **state)
{
	struct coil_loop *loop = batch_loop(1000 * MS);
	struct counted a = {0}, b = {0};
	int pa[2], pb[2];
	struct writer wr = {.waiter = gettid()};
	char ba[4], bb[4];
	pthread_t th;
	(void)state;
	if (!(coil_loop_features(loop) & COIL_FEAT_MIN_WAIT)) {
		coil_loop_free(loop); /* kernel < 6.12: nothing to gather */
		skip();
	}
	tu_tcp_pair(pa);
	tu_tcp_pair(pb);
	coil_op_init(&a.op, on_done);
	coil_op_init(&b.op, on_done);
	assert_int_equal(coil_recv(loop, &a.op, pa[0], ba, sizeof(ba), 0), 0);
	assert_int_equal(coil_recv(loop, &b.op, pb[0], bb, sizeof(bb), 0), 0);
	/* submit both recvs (nothing to read yet) before the data comes */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 2);
	assert_int_equal(a.calls + b.calls, 0);
	wr.fds[0] = pa[1];
	wr.fds[1] = pb[1];
	assert_int_equal(pthread_create(&th, NULL, write_two, &wr), 0);
	assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.res, 1);
	assert_int_equal(b.res, 1);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	coil_loop_free(loop);
}

/* A lone completion while another op idles: the turn cannot gather as many
 * completions as ops in flight, and must deliver the one it has once the
 * batch wait is over, not hold it until the idle op ends. */
static void test_batch_wait_delivers_lone_completion(void **state)
{
	struct coil_loop *loop = batch_loop(20 * MS);
	struct counted idle = {0}, t = {0};
	int fds[2];
	char buf[8];
	(void)state;
	tu_tcp_pair(fds);
	coil_op_init(&idle.op, on_done);
	coil_op_init(&t.op, on_done);
	assert_int_equal(coil_recv(loop, &idle.op, fds[0], buf, sizeof(buf), 0),
			 0);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &t.op, 1 * MS, 0), 0);
	while (!t.calls && tu_mono_ns() - t0 < 5000 * MS)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(t.calls, 1);
	/* 1 ms timer + 20 ms batch wait; generous bound for loaded CI */
	assert_true(t.at_ns - t0 < 900 * MS);
	assert_int_equal(idle.calls, 0);

	assert_int_equal(coil_cancel(loop, &idle.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(idle.calls, 1);
	assert_int_equal(idle.res, -ECANCELED);
	close(fds[0]);
	close(fds[1]);
	coil_loop_free(loop);
}

/* An idle wait longer than the engine's internal 1 s bound: COIL_RUN_ONCE
 * still returns only once the timer has fired. */
static void test_batch_wait_idle_turn_waits_for_completion(void **state)
{
	struct coil_loop *loop = batch_loop(1 * MS);
	struct counted t = {0};
	(void)state;
	coil_op_init(&t.op, on_done);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_timeout(loop, &t.op, 1300 * MS, 0), 0);
	assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.res, 0);
	assert_true(t.at_ns - t0 >= 1300 * MS);
	coil_loop_free(loop);
}

/* Adaptive batching, the quiet side: lone exchanges on one connection
 * while another op idles (a server's listener, a timer). A batched wait
 * would hold each exchange for the whole min-wait (wait_nr is the count in
 * flight, which the idle op keeps out of reach); after the first turn
 * finds a single completion, the loop waits the plain way. */
static void test_batch_wait_lone_exchanges_do_not_wait(void **state)
{
	const uint64_t bw = 200 * MS;
	struct coil_loop *loop = batch_loop(bw);
	struct counted idle = {0}, c = {0};
	struct coil_loop_stats st;
	int ifd[2], fds[2];
	char ibuf[4], buf[4];
	const int rounds = 20;
	(void)state;
	if (!(coil_loop_features(loop) & COIL_FEAT_MIN_WAIT)) {
		coil_loop_free(loop);
		skip();
	}
	tu_tcp_pair(ifd);
	tu_tcp_pair(fds);
	coil_op_init(&idle.op, on_done);
	coil_op_init(&c.op, on_done);
	assert_int_equal(
		coil_recv(loop, &idle.op, ifd[0], ibuf, sizeof(ibuf), 0), 0);
	uint64_t t0 = tu_mono_ns();
	for (int i = 0; i < rounds; i++) {
		/* the peer's byte is there before the loop waits: the wait
		 * returns with the one recv completion */
		assert_int_equal(write(fds[1], "x", 1), 1);
		c.calls = 0;
		assert_int_equal(
			coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0), 0);
		while (!c.calls)
			assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
		assert_int_equal(c.res, 1);
	}
	uint64_t took = tu_mono_ns() - t0;
	coil_loop_stats(loop, &st);
	/* Without adaptivity every round would wait the full 200 ms (4 s in
	 * all); with it, at most the first waits. */
	assert_true(st.batched <= 1);
	assert_true(took < (rounds / 2) * bw);
	assert_int_equal(idle.calls, 0);

	/* Busy again: two completions found by one (plain) wait make the
	 * next wait a batched one, which gathers two arrivals 2 ms apart. */
	struct counted a = {0}, b = {0};
	int pa[2], pb[2];
	char ba[4], bb[4];
	struct writer wr = {.waiter = gettid()};
	pthread_t th;
	tu_tcp_pair(pa);
	tu_tcp_pair(pb);
	coil_op_init(&a.op, on_done);
	coil_op_init(&b.op, on_done);
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);
	assert_int_equal(coil_recv(loop, &a.op, pa[0], ba, sizeof(ba), 0), 0);
	assert_int_equal(coil_recv(loop, &b.op, pb[0], bb, sizeof(bb), 0), 0);
	while (a.calls + b.calls < 2)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	a.calls = b.calls = 0;
	assert_int_equal(coil_recv(loop, &a.op, pa[0], ba, sizeof(ba), 0), 0);
	assert_int_equal(coil_recv(loop, &b.op, pb[0], bb, sizeof(bb), 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 3);
	wr.fds[0] = pa[1];
	wr.fds[1] = pb[1];
	coil_loop_stats(loop, &st);
	uint64_t batched0 = st.batched;
	assert_int_equal(pthread_create(&th, NULL, write_two, &wr), 0);
	assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	coil_loop_stats(loop, &st);
	assert_int_equal(st.batched, batched0 + 1);

	assert_int_equal(coil_cancel(loop, &idle.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(idle.res, -ECANCELED);
	int all[] = {ifd[0], ifd[1], fds[0], fds[1],
		     pa[0],  pa[1],  pb[0],  pb[1]};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		close(all[i]);
	coil_loop_free(loop);
}

/* COIL_BATCH_WAIT_TIMER with an alarm: the waiting turn sleeps until the
 * alarm, gathering both recvs (their data arrive 2 ms apart, long before
 * it): one COIL_RUN_ONCE delivers the two recvs and the alarm, and the
 * recvs' callbacks run only once the alarm's time has come. */
static void on_alarm(struct coil_op *op, int res, unsigned flags)
{
	on_done(op, res, flags);
}

static void test_batch_wait_timer_gathers_until_alarm(void **state)
{
	struct coil_loop *loop = batch_loop(COIL_BATCH_WAIT_TIMER);
	struct counted a = {0}, b = {0}, al = {0}, idle = {0};
	int pa[2], pb[2], pi[2];
	struct writer wr = {.waiter = gettid()};
	char ba[4], bb[4], bi[4];
	pthread_t th;
	(void)state;
	if (!(coil_loop_features(loop) & COIL_FEAT_EXT_ARG)) {
		coil_loop_free(loop); /* kernel < 5.11: no alarm */
		skip();
	}
	tu_tcp_pair(pa);
	tu_tcp_pair(pb);
	tu_tcp_pair(pi);
	coil_op_init(&idle.op, on_done);
	coil_op_init(&a.op, on_done);
	coil_op_init(&b.op, on_done);
	coil_op_init(&al.op, on_alarm);
	assert_int_equal(coil_recv(loop, &a.op, pa[0], ba, sizeof(ba), 0), 0);
	assert_int_equal(coil_recv(loop, &b.op, pb[0], bb, sizeof(bb), 0), 0);
	/* an op that stays in flight (a listener, a multishot recv), so the
	 * wait cannot end by everything in flight completing */
	assert_int_equal(coil_recv(loop, &idle.op, pi[0], bi, sizeof(bi), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 3);
	uint64_t at = coil_now_update(loop) + 500 * MS;
	assert_int_equal(coil_loop_alarm(loop, &al.op, at), 0);
	wr.fds[0] = pa[1];
	wr.fds[1] = pb[1];
	assert_int_equal(pthread_create(&th, NULL, write_two, &wr), 0);
	assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(al.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.res, 1);
	assert_int_equal(b.res, 1);
	assert_true(a.at_ns >= at);
	assert_true(b.at_ns >= at);
	struct coil_loop_stats st;
	coil_loop_stats(loop, &st);
	assert_true(st.batched >= 1);
	assert_int_equal(idle.calls, 0);
	assert_int_equal(coil_cancel(loop, &idle.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	close(pi[0]);
	close(pi[1]);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	coil_loop_free(loop);
}

/* COIL_BATCH_WAIT_TIMER without an alarm armed waits the plain way: a lone
 * completion is delivered when it comes, not held (there is no alarm to
 * end the wait). */
static void test_batch_wait_timer_without_alarm_is_plain(void **state)
{
	struct coil_loop *loop = batch_loop(COIL_BATCH_WAIT_TIMER);
	struct counted a = {0}, idle = {0};
	int pa[2], pi[2];
	char ba[4], bi[4];
	(void)state;
	tu_tcp_pair(pa);
	tu_tcp_pair(pi);
	coil_op_init(&a.op, on_done);
	coil_op_init(&idle.op, on_done);
	assert_int_equal(coil_recv(loop, &idle.op, pi[0], bi, sizeof(bi), 0),
			 0);
	assert_int_equal(coil_recv(loop, &a.op, pa[0], ba, sizeof(ba), 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 2);
	assert_int_equal(write(pa[1], "a", 1), 1);
	uint64_t t0 = tu_mono_ns();
	while (!a.calls && tu_mono_ns() - t0 < 5000 * MS)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(a.calls, 1);
	assert_true(a.at_ns - t0 < 900 * MS); /* not the 1 s bound */
	assert_int_equal(idle.calls, 0);
	assert_int_equal(coil_cancel(loop, &idle.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	close(pa[0]);
	close(pa[1]);
	close(pi[0]);
	close(pi[1]);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_wait_rejects_more_than_one_second),
		cmocka_unit_test(test_batch_wait_nop_completes),
		cmocka_unit_test(
			test_batch_wait_gathers_completions_in_one_turn),
		cmocka_unit_test(test_batch_wait_delivers_lone_completion),
		cmocka_unit_test(
			test_batch_wait_idle_turn_waits_for_completion),
		cmocka_unit_test(test_batch_wait_lone_exchanges_do_not_wait),
		cmocka_unit_test(test_batch_wait_timer_gathers_until_alarm),
		cmocka_unit_test(test_batch_wait_timer_without_alarm_is_plain),
	};
	return cmocka_run_group_tests_name("engine.batch_wait", tests, NULL,
					   NULL);
}
