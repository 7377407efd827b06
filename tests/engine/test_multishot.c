/* tests/engine/test_multishot.c - multishot recv into the provided buffer
 * ring: many messages in order, every buffer put back, and a ring that runs
 * dry (-ENOBUFS), which the engine hides by parking and re-arming. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

/* The byte at stream offset @i. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) & 0xff);
}

/* A TCP pair whose fds[0] already holds @len bytes of pattern() (in
 * @data, filled here); @eof: and the peer's FIN after them. */
static void pair_preloaded(int fds[2], unsigned char *data, size_t len, int eof)
{
	tu_tcp_pair(fds);
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(i);
	assert_int_equal(send(fds[1], data, len, 0), (ssize_t)len);
	if (eof)
		shutdown(fds[1], SHUT_WR);
}

struct reader {
	struct coil_op op;
	struct coil_loop *loop;
	size_t got; /* bytes received, checked against pattern() */
	int datas;  /* callbacks with data */
	int finals; /* callbacks without COIL_MORE */
	int final_res;
	int enobufs; /* callbacks that saw -ENOBUFS (must stay 0) */
	int bad;     /* out-of-order or corrupt bytes */
	int hold;    /* keep buffers instead of putting them back */
	unsigned held[64];
	int nheld;
	unsigned char out[1024]; /* bids currently out (double-put check) */
	int fd;
	int cancel_at;	  /* coil_cancel when datas reaches this */
	int cancel_by_fd; /* ... coil_cancel_fd instead */
	int data_finals;  /* final callbacks that carried data */
};

static void reader_put(struct reader *r, unsigned bid)
{
	assert_true(bid < sizeof(r->out));
	assert_int_equal(r->out[bid], 1);
	r->out[bid] = 0;
	assert_int_equal(coil_buf_put(r->loop, bid), 0);
}

static void reader_put_all(struct reader *r)
{
	for (int i = 0; i < r->nheld; i++)
		reader_put(r, r->held[i]);
	r->nheld = 0;
}

static void on_read(struct coil_op *op, int res, unsigned flags)
{
	struct reader *r = coil_container_of(op, struct reader, op);
	if (res == -ENOBUFS)
		r->enobufs++;
	if (res > 0) {
		assert_true(flags & COIL_BUFFER);
		unsigned bid = coil_buf_id(flags);
		const unsigned char *p = coil_buf_ptr(r->loop, bid);
		assert_true((unsigned)res <= coil_buf_size(r->loop));
		assert_true(bid < sizeof(r->out));
		assert_int_equal(r->out[bid], 0); /* not handed out twice */
		r->out[bid] = 1;
		for (int i = 0; i < res; i++)
			if (p[i] != pattern(r->got + (size_t)i))
				r->bad++;
		r->got += (size_t)res;
		r->datas++;
		if (r->hold) {
			assert_true(r->nheld < 64);
			r->held[r->nheld++] = bid;
		} else {
			reader_put(r, bid);
		}
		if (r->cancel_at && r->datas == r->cancel_at)
			assert_int_equal(
				r->cancel_by_fd ? coil_cancel_fd(r->loop, r->fd)
						: coil_cancel(r->loop, op),
				0);
	} else if (flags & COIL_BUFFER) {
		fail_msg("buffer flag on a result of %d", res);
	}
	if (!(flags & COIL_MORE)) {
		r->finals++;
		r->final_res = res;
		if (res > 0)
			r->data_finals++;
	}
}

static void reader_init(struct reader *r, struct coil_loop *loop)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	coil_op_init(&r->op, on_read);
}

/* The writer: @n sends of @msg bytes each, chained from their callbacks,
 * then a shutdown(SHUT_WR) so the reader ends with EOF. */
struct writer {
	struct coil_op op;
	struct coil_loop *loop;
	int fd;
	size_t msg, total, sent;
	int sends, shut, errors;
	unsigned char *data;
};

static void writer_next(struct writer *w);

static void on_write(struct coil_op *op, int res, unsigned flags)
{
	struct writer *w = coil_container_of(op, struct writer, op);
	if (w->shut) {
		if (res != 0)
			w->errors++;
		w->shut = 2;
		return;
	}
	if (res <= 0) {
		w->errors++;
		return;
	}
	w->sent += (size_t)res; /* a short send just continues */
	w->sends++;
	writer_next(w);
}

static void writer_next(struct writer *w)
{
	if (w->sent == w->total) {
		w->shut = 1;
		assert_int_equal(coil_shutdown(w->loop, &w->op, w->fd, SHUT_WR),
				 0);
		return;
	}
	size_t n = w->total - w->sent < w->msg ? w->total - w->sent : w->msg;
	assert_int_equal(
		coil_send(w->loop, &w->op, w->fd, w->data + w->sent, n, 0), 0);
}

static void test_multishot_recv_many_messages_in_order(void **state)
{
	enum { NMSG = 1000, MSG = 100 };
	struct coil_loop *loop = te_begin(NULL);
	struct reader r;
	struct writer w = {0};
	int fds[2];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	tu_tcp_pair(fds);
	reader_init(&r, loop);
	w.loop = loop;
	w.fd = fds[1];
	w.msg = MSG;
	w.total = (size_t)NMSG * MSG;
	w.data = malloc(w.total);
	for (size_t i = 0; i < w.total; i++)
		w.data[i] = pattern(i);
	coil_op_init(&w.op, on_write);

	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	writer_next(&w);
	assert_int_equal(te_drain(loop, 20000 * MS), 0);
	assert_int_equal(w.errors, 0);
	assert_int_equal(w.sends, NMSG);
	assert_int_equal(w.shut, 2);
	assert_int_equal(r.got, w.total);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.enobufs, 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0); /* EOF */
	assert_true(r.datas > 0);
	for (size_t i = 0; i < sizeof(r.out); i++)
		assert_int_equal(r.out[i], 0); /* every buffer back */
	free(w.data);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* A ring of 4 buffers of 64 bytes and a consumer that holds every buffer
 * it gets until a later turn: the kernel runs out, the engine parks the
 * recv (-ENOBUFS never reaches the callback) and re-arms it once buffers
 * come back. All data still arrives, in order. */
struct releaser {
	struct coil_op op;
	struct reader *r;
	int runs;
};

static void on_release(struct coil_op *op, int res, unsigned flags)
{
	struct releaser *rl = coil_container_of(op, struct releaser, op);
	rl->runs++;
	reader_put_all(rl->r);
}

static void test_multishot_recv_survives_enobufs(void **state)
{
	enum { TOTAL = 16384 };
	struct coil_loop_opts o = {.buf_count = 4, .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;
	struct reader r;
	struct releaser rl = {0};
	int fds[2];
	static unsigned char data[TOTAL];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	assert_int_equal(coil_buf_size(loop), 64);
	/* all of it is in the socket before the recv starts */
	pair_preloaded(fds, data, TOTAL, 1);

	reader_init(&r, loop);
	r.hold = 1;
	rl.r = &r;
	coil_op_init(&rl.op, on_release);
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	uint64_t end = tu_mono_ns() + 20000 * MS;
	while (r.finals == 0 && tu_mono_ns() < end) {
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
		/* hand the held buffers back on the next turn, from the loop */
		if (r.nheld && !coil_op_busy(&rl.op))
			assert_int_equal(coil_loop_post(loop, &rl.op, 0), 0);
	}
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	reader_put_all(&r);
	coil_loop_stats(loop, &st);
	assert_true(st.nobufs > 0);
	assert_int_equal(r.enobufs, 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0);
	assert_int_equal(r.got, TOTAL);
	assert_int_equal(r.bad, 0);
	assert_true(r.datas >= TOTAL / 64);
	print_message("enobufs: %d data callbacks, %llu parks, %d releases\n",
		      r.datas, (unsigned long long)st.nobufs, rl.runs);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* Buffers handed back outside any turn (between coil_loop_run calls) must
 * still get the parked recv going: the next run may not sleep on a ring
 * with nothing armed in it. */
static void test_multishot_rearm_after_put_outside_turn(void **state)
{
	enum { TOTAL = 4096 };
	struct coil_loop_opts o = {.buf_count = 4, .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;
	struct reader r;
	int fds[2];
	static unsigned char data[TOTAL];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	pair_preloaded(fds, data, TOTAL, 1);

	reader_init(&r, loop);
	r.hold = 1;
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	int rounds = 0;
	uint64_t before = 0;
	while (r.finals == 0 && rounds < 1000) {
		/* run until the recv is parked (nothing the kernel will
		 * complete), then give the buffers back from here */
		uint64_t end = tu_mono_ns() + 5000 * MS;
		while (r.finals == 0 && tu_mono_ns() < end) {
			coil_loop_stats(loop, &st);
			if (st.nobufs > before)
				break;
			assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
		}
		coil_loop_stats(loop, &st);
		before = st.nobufs;
		reader_put_all(&r);
		/* ONCE must not hang: the engine re-arms first, then waits */
		if (r.finals == 0)
			assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
		rounds++;
	}
	reader_put_all(&r);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	coil_loop_stats(loop, &st);
	assert_true(st.nobufs > 0);
	assert_int_equal(r.enobufs, 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0);
	assert_int_equal(r.got, TOTAL);
	assert_int_equal(r.bad, 0);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* Cancel a recv parked on -ENOBUFS: -ECANCELED once, from the loop. */
static void test_multishot_cancel_parked(void **state)
{
	struct coil_loop_opts o = {.buf_count = 4, .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;
	struct reader r;
	int fds[2];
	static unsigned char data[2048];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	pair_preloaded(fds, data, sizeof(data), 0);
	reader_init(&r, loop);
	r.hold = 1;
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	uint64_t end = tu_mono_ns() + 5000 * MS;
	do {
		assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
		coil_loop_stats(loop, &st);
	} while (st.nobufs == 0 && tu_mono_ns() < end);
	assert_true(st.nobufs > 0);
	assert_int_equal(r.finals, 0);
	assert_int_equal(r.nheld, 4);
	assert_int_equal(coil_cancel(loop, &r.op), 0);
	assert_int_equal(r.finals, 0); /* never inline */
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, -ECANCELED);
	assert_int_equal(r.enobufs, 0);
	reader_put_all(&r);
	/* and the buffers are usable again: a fresh recv gets the rest */
	r.hold = 0;
	r.finals = 0;
	shutdown(fds[1], SHUT_WR);
	coil_op_init(&r.op, on_read);
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0);
	assert_int_equal(r.got, sizeof(data));
	assert_int_equal(r.bad, 0);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* A cancel asked for while the recv is still in the kernel, when the
 * kernel then ends it with -ENOBUFS before seeing the cancel: the engine
 * must not park (and later re-arm) an op whose cancel is pending. */
static void cancel_while_running_dry(int by_fd)
{
	struct coil_loop_opts o = {.buf_count = 4, .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct reader r;
	int fds[2];
	static unsigned char data[2048];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	pair_preloaded(fds, data, sizeof(data), 1);
	int rounds = 0;
	struct coil_loop_stats st;
	for (int round = 0; round < 20; round++) {
		reader_init(&r, loop);
		r.hold = 1;
		r.cancel_at = 4; /* the 4th buffer is the last one */
		r.cancel_by_fd = by_fd;
		r.fd = fds[0];
		assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
		uint64_t end = tu_mono_ns() + 5000 * MS;
		while (r.finals == 0 && tu_mono_ns() < end) {
			assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
			/* once cancelled, hand buffers back: a wrongly parked
			 * recv would now be re-armed and read on */
			if (r.datas >= 4)
				reader_put_all(&r);
		}
		reader_put_all(&r);
		assert_int_equal(te_drain(loop, 5000 * MS), 0);
		assert_int_equal(r.finals, 1);
		assert_int_equal(r.enobufs, 0);
		if (r.datas < 4) {
			/* the data ran out before the cancel: EOF */
			assert_int_equal(r.final_res, 0);
			break;
		}
		assert_int_equal(r.final_res, -ECANCELED);
		rounds++;
	}
	assert_true(rounds > 0);
	coil_loop_stats(loop, &st);
	print_message("cancel%s vs -ENOBUFS: %d rounds, %llu parks\n",
		      by_fd ? "_fd" : "", rounds,
		      (unsigned long long)st.nobufs);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

static void test_multishot_cancel_while_running_dry(void **state)
{
	cancel_while_running_dry(0);
}

/* The same race through coil_cancel_fd(), which names no op. */
static void test_multishot_cancel_fd_while_running_dry(void **state)
{
	cancel_while_running_dry(1);
}

/* A CQ of 16 and 256 buffers' worth of data waiting: the kernel cannot
 * post a CQE per buffer and ends the multishot recv early, its last CQE
 * carrying data but no F_MORE. The engine re-arms it: the callback sees
 * COIL_MORE on every data callback and one final EOF. */
static void test_multishot_recv_survives_cq_overflow(void **state)
{
	enum { TOTAL = 16384 };
	struct coil_loop_opts o = {.sq_entries = 8,
				   .cq_factor = 2,
				   .buf_count = 512,
				   .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct coil_loop_stats st;
	struct reader r;
	int fds[2];
	static unsigned char data[TOTAL];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	pair_preloaded(fds, data, TOTAL, 1);
	reader_init(&r, loop);
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	assert_int_equal(te_drain(loop, 10000 * MS), 0);
	coil_loop_stats(loop, &st);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0);
	assert_int_equal(r.data_finals, 0);
	assert_int_equal(r.got, TOTAL);
	assert_int_equal(r.bad, 0);
	print_message("CQ 16: %d data callbacks, %llu overflow turns\n",
		      r.datas, (unsigned long long)st.overflow);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* A buffer goes back once: a second put, or a put of a buffer never
 * handed out, is refused and does not publish the buffer twice. */
static void test_multishot_bad_buf_put_refused(void **state)
{
	struct coil_loop_opts o = {.buf_count = 4, .buf_size = 64};
	struct coil_loop *loop = te_begin(&o);
	struct reader r;
	int fds[2];
	static unsigned char data[64 * 12];

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	assert_int_equal(coil_buf_put(loop, 0), -EINVAL); /* never out */
	assert_int_equal(coil_buf_put(loop, 4), -EINVAL); /* not a buffer */
	assert_null(coil_buf_ptr(loop, 4));
	assert_non_null(coil_buf_ptr(loop, 3));
	tu_tcp_pair(fds);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	assert_int_equal(send(fds[1], data, 64, 0), 64);
	reader_init(&r, loop);
	r.hold = 1;
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	assert_int_equal(te_run_calls(loop, &r.datas, 1, 5000 * MS), 1);
	assert_int_equal(r.nheld, 1);
	unsigned bid = r.held[0];
	reader_put_all(&r);
	assert_int_equal(coil_buf_put(loop, bid), -EINVAL); /* twice */
	/* the ring still holds each buffer once: the rest of the data comes
	 * through intact while buffers cycle */
	r.hold = 0;
	assert_int_equal(send(fds[1], data + 64, sizeof(data) - 64, 0),
			 sizeof(data) - 64);
	shutdown(fds[1], SHUT_WR);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(r.finals, 1);
	assert_int_equal(r.final_res, 0);
	assert_int_equal(r.got, sizeof(data));
	assert_int_equal(r.bad, 0);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

static void test_multishot_refused_without_feature(void **state)
{
	struct coil_loop_opts o = {.flags = COIL_LOOP_NO_BUFRING};
	struct coil_loop *loop = te_begin(&o);
	struct cop c;
	int fds[2];

	tu_tcp_pair(fds);
	assert_false(coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV);
	cop_init(&c);
	assert_int_equal(coil_recv_multishot(loop, &c.op, fds[0]), -EOPNOTSUPP);
	assert_false(coil_op_busy(&c.op));
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 0);
	assert_int_equal(c.calls, 0);
	/* no buffer ring: any id is refused, not a crash */
	assert_int_equal(coil_buf_put(loop, 0), -EINVAL);
	assert_int_equal(coil_buf_put(loop, 12345), -EINVAL);
	assert_null(coil_buf_ptr(loop, 0));
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multishot_recv_many_messages_in_order),
		cmocka_unit_test(test_multishot_recv_survives_enobufs),
		cmocka_unit_test(test_multishot_rearm_after_put_outside_turn),
		cmocka_unit_test(test_multishot_cancel_parked),
		cmocka_unit_test(test_multishot_cancel_while_running_dry),
		cmocka_unit_test(test_multishot_cancel_fd_while_running_dry),
		cmocka_unit_test(test_multishot_recv_survives_cq_overflow),
		cmocka_unit_test(test_multishot_bad_buf_put_refused),
		cmocka_unit_test(test_multishot_refused_without_feature),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.multishot", tests, NULL,
					   NULL);
}
