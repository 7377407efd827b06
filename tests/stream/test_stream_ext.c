/*
 * tests/stream/test_stream_ext.c - what a TCP stream holds: its core
 * (struct coil_tcp: the socket, the flag word, the read op) always, its
 * write part (struct coil__tcp_wr: the send op and the write queue) only
 * while a write is queued or in flight, and its extension (struct
 * coil__tcp_ext: the deadline timer, held bytes, the connect's state)
 * only while it is paused, connects or keeps deadlines (coil/stream.h).
 * Read from the stream (t.w, t.x) and the loop's counts
 * (coil_loop_stats.tcp_wrs, tcp_exts) after each step, over real TCP
 * pairs; on a loop without multishot recv the single-shot buffer lives in
 * the extension, which stays.
 */
#include "st.h"

struct ext_conn {
	struct coil_tcp t;
	struct coil_stream_write w;
	size_t got;
	int written;
	int closed;
};

static void ext_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct ext_conn *c = coil_container_of(s, struct ext_conn, t.s);
	(void)buf;
	if (n > 0)
		c->got += (size_t)n;
}

static void ext_written(struct coil_stream_write *w, int status)
{
	struct ext_conn *c = coil_container_of(w, struct ext_conn, w);
	assert_int_equal(status, 0);
	c->written++;
}

static void ext_closed(struct coil_stream *s)
{
	coil_container_of(s, struct ext_conn, t.s)->closed = 1;
}

static uint64_t exts(struct coil_loop *loop)
{
	struct coil_loop_stats st;
	coil_loop_stats(loop, &st);
	return st.tcp_exts;
}

static uint64_t wrs(struct coil_loop *loop)
{
	struct coil_loop_stats st;
	coil_loop_stats(loop, &st);
	return st.tcp_wrs;
}

static void peer_send(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_stream_idle_holds_core_only(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct ext_conn c = {0};
	int multi = (coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) != 0;
	char in[64];
	int fds[2];

	(void)state;
	/* the core: the common head, six ints, the read op, two pointers;
	 * a write in flight: its op, the queue and a few words */
	assert_true(sizeof(struct coil_tcp) <= sizeof(struct coil_stream) + 24 +
						       sizeof(struct coil_op) +
						       2 * sizeof(void *));
	assert_true(sizeof(struct coil__tcp_wr) <= 128);
	/* x86-64: the counters kept in 64 bytes (struct coil__stream_ctr),
	 * the head in 120, the core in 232 */
	if (sizeof(void *) == 8) {
		assert_true(sizeof(struct coil__stream_ctr) <= 64);
		assert_true(sizeof(struct coil_stream) <= 120);
		assert_true(sizeof(struct coil_tcp) <= 232);
	}
	tu_tcp_pair(fds);
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], NULL), 0);
	assert_null(c.t.x); /* opened without deadlines: nothing more */
	assert_null(c.t.w);
	assert_int_equal(exts(loop), 0);
	assert_int_equal(wrs(loop), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, ext_read), 0);
	peer_send(fds[1], "ping");
	ST_RUN_UNTIL(loop, c.got == 4, 10000);
	assert_int_equal(c.got, 4);
	/* reading, between messages: an armed multishot read only */
	if (multi) {
		assert_null(c.t.x);
		assert_int_equal(exts(loop), 0);
	} else {
		assert_non_null(c.t.x); /* the single-shot buffer */
		assert_int_equal(exts(loop), 1);
	}

	assert_null(c.t.w);
	assert_int_equal(wrs(loop), 0);

	/* a write takes the write part until its send completed, and no
	 * extension */
	assert_int_equal(
		coil_stream_write(&c.t.s, &c.w, "pong", 4, ext_written), 0);
	assert_non_null(c.t.w);
	assert_int_equal(wrs(loop), 1);
	assert_int_equal(exts(loop), multi ? 0 : 1);
	if (multi)
		assert_null(c.t.x);
	ST_RUN_UNTIL(loop, c.written == 1 && !c.t.w, 10000);
	assert_int_equal(c.written, 1);
	assert_null(c.t.w);
	assert_int_equal(wrs(loop), 0);
	assert_int_equal(read(fds[1], in, sizeof(in)), 4);
	assert_int_equal(exts(loop), multi ? 0 : 1);

	/* paused: held bytes would go in it */
	assert_int_equal(coil_stream_read_stop(&c.t.s), 0);
	assert_non_null(c.t.x);
	peer_send(fds[1], "held");
	ST_RUN_UNTIL(loop, 0, 50); /* nothing may arrive while paused */
	assert_int_equal(c.got, 4);
	assert_non_null(c.t.x);
	assert_int_equal(coil_stream_read_start(&c.t.s, ext_read), 0);
	ST_RUN_UNTIL(loop, c.got == 8 && (!multi || !c.t.x), 10000);
	assert_int_equal(c.got, 8);
	assert_int_equal(exts(loop), multi ? 0 : 1);

	/* deadlines keep it (their timer), until turned off and the next
	 * completion finds it idle */
	assert_int_equal(coil_stream_set_timeouts(&c.t.s, 60000 * MS, 0, 0), 0);
	assert_non_null(c.t.x);
	peer_send(fds[1], "more");
	ST_RUN_UNTIL(loop, c.got == 12, 10000);
	assert_non_null(c.t.x);
	assert_int_equal(coil_stream_set_timeouts(&c.t.s, 0, 0, 0), 0);
	peer_send(fds[1], "last");
	ST_RUN_UNTIL(loop, c.got == 16 && (!multi || !c.t.x), 10000);
	assert_int_equal(c.got, 16);
	assert_int_equal(exts(loop), multi ? 0 : 1);

	/* closing without an extension: the read op closes the fd */
	assert_int_equal(coil_stream_close(&c.t.s, ext_closed), 0);
	ST_RUN_UNTIL(loop, c.closed, 10000);
	assert_int_equal(c.closed, 1);
	assert_null(c.t.x);
	assert_null(c.t.w);
	assert_int_equal(exts(loop), 0);
	assert_int_equal(wrs(loop), 0);
	close(fds[1]);
	st_loop_free(loop);
}

/*
 * Many keep-alive exchanges at once, as a server answers a turn's
 * requests: each of NX streams reads a request and answers it with three
 * writes from its read callback. Every answer leaves in one send of its
 * own stream, in the turn the request was read (all NX of them flushed by
 * the loop's one kick), each stream holds its write part (and no
 * extension) only until its send completed, and the parts go back to the
 * loop's list; over ROUNDS rounds on the same streams.
 */
enum { NX = 64, ROUNDS = 3 };

struct xconn {
	struct coil_tcp t;
	struct coil_stream_write w[3];
	int peer;
	unsigned got, written;
};

static uint64_t max_wrs, max_exts;

static void x_written(struct coil_stream_write *w, int status)
{
	struct xconn *c = w->data;
	assert_int_equal(status, 0);
	c->written++;
}

static void x_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct xconn *c = coil_container_of(s, struct xconn, t.s);
	static const char *part[3] = {"HTTP/1.1 200 OK\r\n",
				      "Content-Length: 2\r\n\r\n", "ok"};
	struct coil_loop_stats st;

	(void)buf;
	assert_true(n > 0);
	c->got++;
	for (int i = 0; i < 3; i++) {
		c->w[i].data = c;
		assert_int_equal(coil_stream_write(s, &c->w[i], part[i],
						   strlen(part[i]), x_written),
				 0);
	}
	coil_loop_stats(s->loop, &st);
	if (st.tcp_wrs > max_wrs)
		max_wrs = st.tcp_wrs;
	if (st.tcp_exts > max_exts)
		max_exts = st.tcp_exts;
}

/* Streams whose round-@r answer was sent and whose write part is back. */
static unsigned answered(const struct xconn *c, unsigned r)
{
	unsigned n = 0;
	for (int i = 0; i < NX; i++)
		n += c[i].written == 3 * r && !c[i].t.w;
	return n;
}

static void test_stream_exchanges_take_write_part_only(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct xconn *c = calloc(NX, sizeof(*c));
	int multi = (coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) != 0;
	int fds[2];
	char in[128];
	size_t want = strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

	(void)state;
	assert_non_null(c);
	if (!multi) { /* single-shot reads keep the extension (their buffer) */
		free(c);
		st_loop_free(loop);
		skip();
	}
	for (int i = 0; i < NX; i++) {
		tu_tcp_pair(fds);
		assert_int_equal(coil_tcp_open(loop, &c[i].t, fds[0], NULL), 0);
		c[i].peer = fds[1];
		assert_int_equal(coil_stream_read_start(&c[i].t.s, x_read), 0);
	}
	for (unsigned r = 1; r <= ROUNDS; r++) {
		max_wrs = max_exts = 0;
		for (int i = 0; i < NX; i++)
			peer_send(c[i].peer, "GET / HTTP/1.1\r\n\r\n");
		ST_RUN_UNTIL(loop, answered(c, r) == NX, 10000);
		assert_int_equal(answered(c, r), NX);
		for (int i = 0; i < NX; i++) {
			const struct coil_stream_stats st =
				coil_stream_stats(&c[i].t.s);
			assert_int_equal(c[i].got, r);
			/* three writes, one send per answer */
			assert_int_equal(st.writes, 3 * r);
			assert_int_equal(st.sends, r);
			assert_int_equal(read(c[i].peer, in, sizeof(in)),
					 (ssize_t)want);
			assert_null(c[i].t.w);
			assert_null(c[i].t.x);
		}
		/* while answering: write parts, never an extension */
		assert_true(max_wrs >= 1 && max_wrs <= NX);
		assert_int_equal(max_exts, 0);
		/* and all given back */
		assert_int_equal(wrs(loop), 0);
		assert_int_equal(exts(loop), 0);
	}
	for (int i = 0; i < NX; i++) {
		assert_int_equal(coil_stream_close(&c[i].t.s, NULL), 0);
		close(c[i].peer);
	}
	ST_RUN_UNTIL(loop, 0, 50);
	assert_int_equal(wrs(loop), 0);
	assert_int_equal(exts(loop), 0);
	free(c);
	st_loop_free(loop);
}

/* A client stream holds the extension while it connects (the addresses,
 * the callback), and gives it back once it only reads. */
static void test_stream_connect_gives_ext_back(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	int multi = (coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) != 0;

	(void)state;
	st_server_open(&srv, loop, NULL);
	assert_int_equal(st_connect(loop, &c, srv.port, NULL), 0);
	/* connected, not reading yet: kept for read_start */
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	ST_RUN_UNTIL(loop, !multi || !c.t.x, 10000);
	if (multi)
		assert_null(c.t.x);
	st_client_close(loop, &c);
	st_server_close(&srv);
	assert_int_equal(exts(loop), 0);
	st_loop_free(loop);
}

/*
 * Streams closed while their kick is due: each of NK streams queues a
 * write and is closed in the same turn, and its close callback frees it
 * while the loop's kick list is still being walked. Every write is
 * cancelled (the close came before the flush), nothing is sent, every
 * close callback runs once, and the write parts go back (under ASan, a
 * walk that touched a freed stream would be reported).
 */
enum { NK = 16 };

static unsigned k_closed, k_cancelled, k_other;

static void k_written(struct coil_stream_write *w, int status)
{
	(void)w;
	if (status == -ECANCELED)
		k_cancelled++;
	else
		k_other++;
}

static void k_free(struct coil_stream *s)
{
	k_closed++;
	free(coil_container_of(s, struct ext_conn, t.s));
}

static void test_stream_closed_while_kicked(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	int peers[NK], fds[2];
	char in[8];

	(void)state;
	k_closed = k_cancelled = k_other = 0;
	for (int i = 0; i < NK; i++) {
		struct ext_conn *c = calloc(1, sizeof(*c));
		assert_non_null(c);
		tu_tcp_pair(fds);
		peers[i] = fds[1];
		assert_int_equal(coil_tcp_open(loop, &c->t, fds[0], NULL), 0);
		assert_int_equal(
			coil_stream_write(&c->t.s, &c->w, "x", 1, k_written),
			0);
		assert_non_null(c->t.w); /* queued, its kick due */
		assert_int_equal(coil_stream_close(&c->t.s, k_free), 0);
	}
	assert_int_equal(wrs(loop), NK);
	ST_RUN_UNTIL(loop, k_closed == NK, 10000);
	assert_int_equal(k_closed, NK);
	assert_int_equal(k_cancelled, NK);
	assert_int_equal(k_other, 0);
	assert_int_equal(wrs(loop), 0);
	assert_int_equal(exts(loop), 0);
	for (int i = 0; i < NK; i++) { /* EOF, and not a byte */
		assert_int_equal(read(peers[i], in, sizeof(in)), 0);
		close(peers[i]);
	}
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_idle_holds_core_only),
		cmocka_unit_test(test_stream_connect_gives_ext_back),
		cmocka_unit_test(test_stream_exchanges_take_write_part_only),
		cmocka_unit_test(test_stream_closed_while_kicked),
	};
	return cmocka_run_group_tests_name("stream.ext", tests, NULL, NULL);
}
