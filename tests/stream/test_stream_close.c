/* tests/stream/test_stream_close.c - closing a TCP stream with ops in
 * flight: every op completes first, queued writes report -ECANCELED, one
 * close callback, nothing after it, no fd left behind */
#include "st.h"

#define BIG (1u << 20)
#define NBIG 4

static int wcalls[NBIG], wres[NBIG];
static int order_ok, seq, closed_at_seq;

static void big_written(struct coil_stream_write *w, int status)
{
	int i = (int)(intptr_t)w->data;
	wcalls[i]++;
	wres[i] = status;
	if (i != seq)
		order_ok = 0;
	seq++;
}

static void closed_record(struct coil_stream *s)
{
	struct client *c = st_client(s);
	if (c->closed)
		c->cbs_after_close++;
	c->closed = 1;
	closed_at_seq = seq;
}

/* Run some more turns. */
static void spin(struct coil_loop *loop)
{
	for (int i = 0; i < 10; i++)
		coil_loop_run(loop, COIL_RUN_NOWAIT);
}

static void test_stream_close_with_ops_in_flight(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0}; /* accepts, never reads */
	struct client c = {0};
	struct coil_tcp_opts o = {.sndbuf = 64 << 10,
				  .idle_timeout_ns = 10000 * MS};
	static struct coil_stream_write w[NBIG];
	unsigned char *big = calloc(NBIG, BIG);
	int fds_open;

	assert_non_null(big);
	srv.topts.rcvbuf = 64 << 10;
	st_server_open(&srv, loop, NULL);
	assert_int_equal(st_connect(loop, &c, srv.port, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	memset(wcalls, 0, sizeof(wcalls));
	order_ok = 1;
	seq = 0;
	for (int i = 0; i < NBIG; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].data = (void *)(intptr_t)i;
		assert_int_equal(coil_stream_write(&c.t.s, &w[i],
						   big + (size_t)i * BIG, BIG,
						   big_written),
				 0);
	}
	/* run until a first (short) send completed and the next one waits
	 * in the kernel for room in the socket buffer */
	ST_RUN_UNTIL(loop, coil_stream_stats(&c.t.s).sends >= 1, 10000);
	spin(loop);
	assert_true(coil_stream_stats(&c.t.s).bytes_out < NBIG * BIG);
	/* writing and a deadline: the stream holds its write part and
	 * its extension */
	assert_non_null(c.t.w);
	assert_non_null(c.t.x);
	assert_true(coil_op_busy(&c.t.w->wr));	/* a send in flight */
	assert_true(coil_op_busy(&c.t.rd));	/* a recv in flight */
	assert_true(coil_op_busy(&c.t.x->tmr)); /* the idle timer */
	assert_int_equal(srv.accepted, 1);
	fds_open = tu_count_fds();

	assert_int_equal(coil_stream_close(&c.t.s, closed_record), 0);
	assert_int_equal(c.closed, 0); /* never inline */
	for (int i = 0; i < NBIG; i++)
		assert_int_equal(wcalls[i], 0);
	ST_RUN_UNTIL(loop, c.closed, 10000);
	assert_int_equal(c.closed, 1);
	/* every write reported once, in order, before the close callback;
	 * the one in flight and the queued ones were cancelled */
	for (int i = 0; i < NBIG; i++)
		assert_int_equal(wcalls[i], 1);
	assert_int_equal(order_ok, 1);
	assert_int_equal(closed_at_seq, NBIG);
	assert_int_equal(wres[NBIG - 1], -ECANCELED);
	/* no read callback: the peer sent nothing and close stops reads */
	assert_int_equal(c.got, 0);
	assert_int_equal(c.eof + c.err, 0);
	/* nothing in flight, and the extension given back */
	assert_false(coil_op_busy(&c.t.rd));
	assert_null(c.t.w);
	assert_null(c.t.x);
	assert_int_equal(tu_count_fds(), fds_open - 1);

	/* nothing arrives late */
	spin(loop);
	assert_int_equal(c.cbs_after_close, 0);
	for (int i = 0; i < NBIG; i++)
		assert_int_equal(wcalls[i], 1);
	st_server_close(&srv);
	st_loop_free(loop);
	free(big);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Close from inside the read callback: no read callback after it. */
static int reads_seen;

static void read_then_close(struct coil_stream *s, ssize_t n, const void *b)
{
	struct client *c = st_client(s);
	reads_seen++;
	if (c->closed)
		c->cbs_after_close++;
	assert_true(n > 0);
	assert_int_equal(coil_stream_close(s, st_client_closed), 0);
	assert_int_equal(coil_stream_close(s, st_client_closed), -EALREADY);
	/* reading calls are harmless now */
	assert_int_equal(coil_stream_read_stop(s), 0);
}

static void test_stream_close_in_read_callback(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop_opts lo = {.buf_size = 512};
	struct coil_loop *loop = tu_loop(&lo);
	struct client c = {0};
	int fds[2];
	char junk[64 << 10];

	memset(junk, 'j', sizeof(junk));
	tu_tcp_pair(fds);
	/* many buffers' worth already waiting: many CQEs in one batch */
	assert_int_equal(write(fds[1], junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(
		coil_tcp_open(loop, &c.t, fds[0],
			      &(struct coil_tcp_opts){.rbuf_size = 512}),
		0);
	reads_seen = 0;
	assert_int_equal(coil_stream_read_start(&c.t.s, read_then_close), 0);
	ST_RUN_UNTIL(loop, c.closed, 10000);
	assert_int_equal(c.closed, 1);
	spin(loop);
	assert_int_equal(reads_seen, 1);
	assert_int_equal(c.cbs_after_close, 0);
	assert_int_equal(coil_stream_stats(&c.t.s).held, 0);
	close(fds[1]);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Close while paused with bytes held: the buffers go back to the ring
 * (the loop can still receive through a small ring afterwards). */
static void pause_first(struct coil_stream *s, ssize_t n, const void *b)
{
	struct client *c = st_client(s);
	if (n > 0)
		c->got += (size_t)n;
	coil_stream_read_stop(s);
}

static void test_stream_close_while_paused_returns_buffers(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop_opts lo = {.buf_count = 8, .buf_size = 1024};
	struct coil_loop *loop = tu_loop(&lo);
	struct client c = {0}, d = {0};
	int fds[2], fds2[2];
	static char junk[256 << 10];

	for (int round = 0; round < 4; round++) {
		memset(&c, 0, sizeof(c));
		tu_tcp_pair(fds);
		assert_int_equal(write(fds[1], junk, 16 << 10), 16 << 10);
		assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], NULL), 0);
		assert_int_equal(coil_stream_read_start(&c.t.s, pause_first),
				 0);
		ST_RUN_UNTIL(loop, c.got > 0, 10000);
		spin(loop);
		assert_true(c.got > 0);
		st_client_close(loop, &c);
		assert_int_equal(coil_stream_stats(&c.t.s).held, 0);
		close(fds[1]);
	}
	/* the ring still has its buffers: a whole transfer goes through */
	tu_tcp_pair(fds2);
	assert_int_equal(coil_tcp_open(loop, &d.t, fds2[0], NULL), 0);
	assert_int_equal(coil_stream_read_start(&d.t.s, st_client_read), 0);
	assert_int_equal(write(fds2[1], junk, sizeof(junk)), sizeof(junk));
	shutdown(fds2[1], SHUT_WR);
	ST_RUN_UNTIL(loop, d.eof || d.err, 10000);
	assert_int_equal(d.err, 0);
	assert_int_equal(d.got, sizeof(junk));
	st_client_close(loop, &d);
	close(fds2[1]);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Close while connecting (SYNs dropped by a full accept queue): the
 * connect callback gets -ECANCELED, then the close callback runs. */
static int connect_seen_before_close;

static void connect_then(struct coil_stream *s, int status)
{
	struct client *c = st_client(s);
	c->status = status;
	c->connected = -1;
	connect_seen_before_close = !c->closed;
}

static void test_stream_close_while_connecting(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct sockaddr_in a = tu_addr(0);
	socklen_t len = sizeof(a);
	struct sockaddr_storage ss;
	int lfd, filler;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
	ss = st_v4(ntohs(a.sin_port));
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, &ss, 1, NULL, connect_then), 0);
	for (int i = 0; i < 3; i++)
		coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(c.connected, 0); /* still trying */
	assert_int_equal(coil_stream_close(&c.t.s, st_client_closed), 0);
	ST_RUN_UNTIL(loop, c.closed, 10000);
	assert_int_equal(c.status, -ECANCELED);
	assert_int_equal(connect_seen_before_close, 1);
	assert_int_equal(c.cbs_after_close, 0);
	close(filler);
	close(lfd);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_close_with_ops_in_flight),
		cmocka_unit_test(test_stream_close_in_read_callback),
		cmocka_unit_test(
			test_stream_close_while_paused_returns_buffers),
		cmocka_unit_test(test_stream_close_while_connecting),
	};
	return cmocka_run_group_tests_name("stream.close", tests, NULL, NULL);
}
