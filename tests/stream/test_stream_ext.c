/*
 * tests/stream/test_stream_ext.c - what a TCP stream holds: its core
 * (struct coil_tcp: the socket, the flag word, the read op) always, and
 * its extension (struct coil__tcp_ext: the write queue and op, the kick,
 * the deadline timer, held bytes, the connect's state) only while it
 * writes, is paused, connects or keeps deadlines (coil/stream.h). Read
 * from the stream (t.x) and the loop's count (coil_loop_stats.tcp_exts)
 * after each step, over a real TCP pair; on a loop without multishot
 * recv the single-shot buffer lives in the extension, which stays.
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
	/* the core: the common head, six ints, the read op, the pointer */
	assert_true(sizeof(struct coil_tcp) <= sizeof(struct coil_stream) + 24 +
						       sizeof(struct coil_op) +
						       sizeof(void *));
	tu_tcp_pair(fds);
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], NULL), 0);
	assert_null(c.t.x); /* opened without deadlines: nothing more */
	assert_int_equal(exts(loop), 0);
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

	/* a write takes the extension until its send completed */
	assert_int_equal(
		coil_stream_write(&c.t.s, &c.w, "pong", 4, ext_written), 0);
	assert_non_null(c.t.x);
	assert_int_equal(exts(loop), 1);
	ST_RUN_UNTIL(loop, c.written == 1 && (!multi || !c.t.x), 10000);
	assert_int_equal(c.written, 1);
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
	assert_int_equal(exts(loop), 0);
	close(fds[1]);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_idle_holds_core_only),
		cmocka_unit_test(test_stream_connect_gives_ext_back),
	};
	return cmocka_run_group_tests_name("stream.ext", tests, NULL, NULL);
}
