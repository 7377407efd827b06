/* tests/engine/test_cancel.c - coil_cancel and coil_cancel_fd: every
 * cancelled op ends in its own callback exactly once, with -ECANCELED or
 * with its real result if it won the race. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "engtest.h"

static void test_cancel_pending_accept(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	unsigned short port;
	int lfd = tu_listen(&port);

	cop_init(&c);
	assert_int_equal(coil_accept(loop, &c.op, lfd, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(c.calls, 0); /* never inline */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);

	/* multishot accept too: one final callback, no COIL_MORE */
	cop_init(&c);
	assert_int_equal(coil_accept(loop, &c.op, lfd, COIL_ACCEPT_MULTISHOT),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.more, 0);
	assert_int_equal(c.res, -ECANCELED);
	close(lfd);
	te_end(loop);
}

static void test_cancel_pending_recv(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	int fds[2];
	char buf[8];

	tu_tcp_pair(fds);
	/* cancel in the same batch as the recv's own SQE */
	cop_init(&c);
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);

	/* cancel of a recv armed in an earlier turn, with a linked timeout:
	 * -ECANCELED, not -ETIMEDOUT, and only once for the two CQEs */
	cop_init(&c);
	coil_op_timeout(&c.op, 5000 * MS);
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);

	/* the socket still works afterwards */
	cop_init(&c);
	assert_int_equal(send(fds[1], "z", 1, 0), 1);
	assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, sizeof(buf), 0),
			 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 1);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

static void test_cancel_pending_timeout(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;

	cop_init(&c);
	assert_int_equal(coil_timeout(loop, &c.op, 10000 * MS, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);
	te_end(loop);
}

/* Cancel against completion, three ways round: the data is there before
 * the recv is submitted (the recv wins), the data arrives after the recv
 * was armed and just before the cancel is submitted (a real race), or the
 * cancel is submitted first and the data sent after (the cancel wins).
 * Each ends in exactly one callback, with the data or with -ECANCELED. */
static void test_cancel_racing_completion(void **state)
{
	enum { ROUNDS = 300 };
	struct coil_loop *loop = te_begin(NULL);
	int fds[2];
	int got_data = 0, got_cancel = 0;

	tu_tcp_pair(fds);
	for (int i = 0; i < ROUNDS; i++) {
		struct cop c;
		char buf[4];
		int mode = i % 3;
		cop_init(&c);
		if (mode == 0)
			assert_int_equal(send(fds[1], "d", 1, 0), 1);
		assert_int_equal(coil_recv(loop, &c.op, fds[0], buf, 1, 0), 0);
		if (mode != 0)
			assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT),
					 1);
		if (mode == 1)
			assert_int_equal(send(fds[1], "d", 1, 0), 1);
		/* 0 while in flight; -ENOENT if it already finished */
		int r = coil_cancel(loop, &c.op);
		assert_true(r == 0 || (r == -ENOENT && c.calls == 1));
		if (mode == 2) {
			/* the cancel reaches the kernel before the data */
			coil_loop_run(loop, COIL_RUN_NOWAIT);
			assert_int_equal(send(fds[1], "d", 1, 0), 1);
		}
		assert_int_equal(te_drain(loop, 5000 * MS), 0);
		assert_int_equal(c.calls, 1);
		if (c.res == 1) {
			assert_int_equal(buf[0], 'd');
			got_data++;
		} else {
			assert_int_equal(c.res, -ECANCELED);
			got_cancel++;
			/* the byte stays in the socket: drain it */
			assert_int_equal(recv(fds[0], buf, 1, 0), 1);
		}
		if (mode == 0)
			assert_int_equal(c.res, 1);
		if (mode == 2)
			assert_int_equal(c.res, -ECANCELED);
	}
	assert_int_equal(got_data + got_cancel, ROUNDS);
	print_message("racing cancel: %d data, %d cancelled\n", got_data,
		      got_cancel);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* An op that an io-wq worker is running, blocked: an openat with O_CREAT
 * (always handed to a worker) of a FIFO for writing waits for a reader.
 * The kernel interrupts it (the cancel answers -EALREADY, the op ends with
 * -EINTR or a restart code such as -512); the callback still sees
 * -ECANCELED, once. */
static void test_cancel_op_blocked_in_worker(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	char *dir = te_tmpdir();
	char *path;
	struct cop c, t;

	assert_true(asprintf(&path, "%s/fifo", dir) > 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	cop_init(&c);
	assert_int_equal(coil_openat(loop, &c.op, AT_FDCWD, path,
				     O_WRONLY | O_CREAT, 0600),
			 0);
	/* let the worker block in open(2) */
	cop_init(&t);
	assert_int_equal(coil_timeout(loop, &t.op, 50 * MS, 0), 0);
	assert_int_equal(te_run_calls(loop, &t.calls, 1, 5000 * MS), 1);
	assert_int_equal(c.calls, 0);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -ECANCELED);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	te_end(loop);
}

static void test_cancel_idle_op_gives_enoent(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;

	cop_init(&c);
	assert_int_equal(coil_cancel(loop, &c.op), -ENOENT);
	/* and after it completed */
	assert_int_equal(coil_nop(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(coil_cancel(loop, &c.op), -ENOENT);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 0);
	assert_int_equal(c.calls, 1);

	/* a posted op completes with its posted result */
	cop_init(&c);
	assert_int_equal(coil_loop_post(loop, &c.op, 7), 0);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 7);
	te_end(loop);
}

static void test_cancel_fd_cancels_every_op_on_it(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop r1, r2, other, acc;
	int a[2], b[2];
	char b1[4], b2[4], b3[4];
	unsigned short port;
	int lfd = tu_listen(&port);

	tu_tcp_pair(a);
	tu_tcp_pair(b);
	cop_init(&r1);
	cop_init(&r2);
	cop_init(&other);
	cop_init(&acc);
	assert_int_equal(coil_recv(loop, &r1.op, a[0], b1, 4, 0), 0);
	coil_op_timeout(&r2.op, 5000 * MS);
	assert_int_equal(coil_recv(loop, &r2.op, a[0], b2, 4, 0), 0);
	assert_int_equal(coil_recv(loop, &other.op, b[0], b3, 4, 0), 0);
	assert_int_equal(coil_accept(loop, &acc.op, lfd, 0), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 4);

	assert_int_equal(coil_cancel_fd(loop, a[0]), 0);
	uint64_t end = tu_mono_ns() + 5000 * MS;
	while ((r1.calls == 0 || r2.calls == 0) && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.res, -ECANCELED);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.res, -ECANCELED);
	/* the ops on other fds are untouched */
	assert_int_equal(other.calls, 0);
	assert_int_equal(acc.calls, 0);
	assert_int_equal(coil_loop_inflight(loop), 2);

	assert_int_equal(coil_cancel_fd(loop, -1), -EBADF);
	/* nothing on the fd: still 0, nothing happens */
	assert_int_equal(coil_cancel_fd(loop, a[0]), 0);
	assert_int_equal(coil_cancel_fd(loop, lfd), 0);
	assert_int_equal(send(b[1], "ok", 2, 0), 2);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.res, 2);
	assert_int_equal(acc.calls, 1);
	assert_int_equal(acc.res, -ECANCELED);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.calls, 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	close(lfd);
	te_end(loop);
}

/* With COIL_LOOP_NO_EARLY_SUBMIT, SQEs that find the SQ full wait in user
 * space until the next turn: cancelling them there completes them with
 * -ECANCELED without the kernel ever seeing them. */
static void test_cancel_queued_ops(void **state)
{
	enum { N = 40 };
	struct coil_loop_opts o = {.sq_entries = 8,
				   .flags = COIL_LOOP_NO_EARLY_SUBMIT};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;
	static struct cop ops[N];
	int fds[2];
	char buf[N][4];

	tu_tcp_pair(fds);
	/* the loop's inbox read takes one SQE; fill the rest and more */
	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		if (i % 4 == 1)
			coil_op_timeout(&ops[i].op, 5000 * MS);
		if (i % 2)
			assert_int_equal(coil_recv(loop, &ops[i].op, fds[0],
						   buf[i], 4, 0),
					 0);
		else
			assert_int_equal(coil_nop(loop, &ops[i].op), 0);
	}
	coil_loop_stats(loop, &st);
	assert_true(st.queued > 0);
	assert_int_equal(st.enters, 0); /* nothing entered the kernel yet */
	assert_int_equal(coil_loop_inflight(loop), N);

	/* cancel every recv (some in the SQ, most queued) one by one */
	for (int i = 1; i < N; i += 2)
		assert_int_equal(coil_cancel(loop, &ops[i].op), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, i % 2 ? -ECANCELED : 0);
	}

	/* coil_cancel_fd reaches queued ops too */
	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		if (i % 3 == 0)
			coil_op_timeout(&ops[i].op, 5000 * MS);
		assert_int_equal(
			coil_recv(loop, &ops[i].op, fds[0], buf[i], 4, 0), 0);
	}
	assert_int_equal(coil_cancel_fd(loop, fds[0]), 0);
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, -ECANCELED);
	}

	/* a queued timer removed before it reached the kernel */
	for (int i = 0; i < N; i++) {
		cop_init(&ops[i]);
		assert_int_equal(coil_timeout(loop, &ops[i].op, 10000 * MS, 0),
				 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(coil_timeout_remove(loop, &ops[i].op), 0);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_true(tu_mono_ns() - t0 < 2000 * MS);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, -ECANCELED);
	}
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_pending_accept),
		cmocka_unit_test(test_cancel_pending_recv),
		cmocka_unit_test(test_cancel_pending_timeout),
		cmocka_unit_test(test_cancel_racing_completion),
		cmocka_unit_test_teardown(test_cancel_op_blocked_in_worker,
					  te_rm_tmp),
		cmocka_unit_test(test_cancel_idle_op_gives_enoent),
		cmocka_unit_test(test_cancel_fd_cancels_every_op_on_it),
		cmocka_unit_test(test_cancel_queued_ops),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.cancel", tests, NULL, NULL);
}
