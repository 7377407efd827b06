/* tests/stream/test_stream_errors.c - the kernel's errors through streams:
 * connect timeout (SYNs dropped by a full accept queue), reset by peer,
 * and the idle / read / write deadlines */
#include "st.h"

/* A client stream, reading, on one end of a TCP pair (@o may be NULL);
 * fds[1] is the raw peer. */
static void pair_open(struct coil_loop *loop, struct client *c, int fds[2],
		      const struct coil_tcp_opts *o)
{
	tu_tcp_pair(fds);
	assert_int_equal(coil_tcp_open(loop, &c->t, fds[0], o), 0);
	assert_int_equal(coil_stream_read_start(&c->t.s, st_client_read), 0);
}

/* The end of a pair_open() test: the client, the raw @peer, the loop. */
static void pair_close(struct coil_loop *loop, struct client *c, int peer)
{
	st_client_close(loop, c);
	close(peer);
	st_loop_free(loop);
}

/* The stream ended with -ETIMEDOUT, no sooner than @min_ms after @t0
 * and within 2 s. */
static void expect_timeout_since(const struct client *c, uint64_t t0,
				 uint64_t min_ms)
{
	assert_int_equal(c->err, -ETIMEDOUT);
	assert_true(c->t_done - t0 >= min_ms * MS);
	assert_true(c->t_done - t0 < 2000 * MS);
}

static void test_stream_connect_timeout_when_syns_dropped(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.connect_timeout_ns = 300 * MS};
	int lfd, filler;
	unsigned short port = tu_syn_sink(&lfd, &filler);
	uint64_t t0 = tu_mono_ns(), dt;

	assert_int_equal(st_connect(loop, &c, port, &o), -ETIMEDOUT);
	dt = c.t_done - t0;
	print_message("connect timed out after %.1f ms (deadline 300)\n",
		      (double)dt / 1e6);
	assert_true(dt >= 290 * MS);
	assert_true(dt < 3000 * MS);
	assert_int_equal(coil_stream_fd(&c.t.s), -1);
	assert_int_equal(coil_loop_inflight(loop), 0);
	close(filler);
	close(lfd);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Two addresses and a 1.2 s budget: the first (dropping SYNs) gets half,
 * then the second connects well before the deadline (600 ms left: a
 * loaded machine stops the process for 200 ms and more at times). */
static void
test_stream_connect_timeout_is_shared_between_addresses(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct coil_tcp_opts o = {.connect_timeout_ns = 1200 * MS};
	struct sockaddr_storage ss[2];
	int lfd, filler;
	uint64_t t0, dt;

	ss[0] = st_v4(tu_syn_sink(&lfd, &filler));
	st_server_open(&srv, loop, NULL);
	ss[1] = st_v4(srv.port);
	t0 = tu_mono_ns();
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, ss, 2, &o, st_client_connected),
		0);
	ST_RUN_UNTIL(loop, c.connected, 10000);
	dt = c.t_done - t0;
	assert_int_equal(c.status, 0);
	assert_true(dt >= 590 * MS);
	assert_true(dt < 3000 * MS);
	st_client_close(loop, &c);
	st_server_close(&srv);
	close(filler);
	close(lfd);
	st_loop_free(loop);
}

/* ---- reset by peer ---- */

static void rst_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
			 0);
	close(fd);
}

static int wstatus_seen;

static void note_write(struct coil_stream_write *w, int status)
{
	wstatus_seen = status == 0 ? 1 : status;
}

static void test_stream_reset_by_peer_mid_stream(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_stream_write w = {0}, w2 = {0};
	int fds[2];
	char msg[1000];

	memset(msg, 'm', sizeof(msg));
	pair_open(loop, &c, fds, NULL);
	assert_int_equal(write(fds[1], msg, sizeof(msg)), sizeof(msg));
	ST_RUN_UNTIL(loop, c.got == sizeof(msg), 10000);
	assert_int_equal(c.got, sizeof(msg));
	/* the peer aborts: SO_LINGER 0 close sends RST */
	rst_close(fds[1]);
	ST_RUN_UNTIL(loop, c.err || c.eof, 10000);
	assert_int_equal(c.err, -ECONNRESET);
	assert_int_equal(c.eof, 0);
	assert_int_equal(c.reads_after_end, 0);
	/* writing to the reset connection fails through the callback, then
	 * at once */
	wstatus_seen = 0;
	assert_int_equal(coil_stream_write(&c.t.s, &w, "x", 1, note_write), 0);
	ST_RUN_UNTIL(loop, wstatus_seen, 10000);
	assert_true(wstatus_seen == -EPIPE || wstatus_seen == -ECONNRESET);
	assert_int_equal(coil_stream_write(&c.t.s, &w2, "x", 1, NULL),
			 wstatus_seen);
	st_client_close(loop, &c);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Our writes in flight when the peer resets: they fail with the error. */
static void test_stream_reset_by_peer_fails_pending_writes(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_stream_write w = {0};
	struct coil_tcp_opts o = {.sndbuf = 32 << 10};
	int fds[2];
	size_t n = 8u << 20;
	char *big = calloc(1, n);

	assert_non_null(big);
	pair_open(loop, &c, fds, &o);
	wstatus_seen = 0;
	assert_int_equal(coil_stream_write(&c.t.s, &w, big, n, note_write), 0);
	ST_RUN_UNTIL(loop, coil_stream_stats(&c.t.s).sends >= 1, 10000);
	assert_int_equal(wstatus_seen, 0); /* still sending */
	rst_close(fds[1]);
	ST_RUN_UNTIL(loop, wstatus_seen && c.err, 10000);
	assert_true(wstatus_seen == -ECONNRESET || wstatus_seen == -EPIPE);
	/* whichever op the kernel told first, reading ends with the reset,
	 * not with a clean EOF */
	assert_int_equal(c.err, -ECONNRESET);
	assert_int_equal(c.eof, 0);
	st_client_close(loop, &c);
	st_loop_free(loop);
	free(big);
}

/* ---- deadlines ---- */

#define DRIPS 6

struct drip {
	struct coil_op op;
	struct coil_loop *loop;
	int fd;
	int sent;
	uint64_t at[DRIPS]; /* when each byte was written */
};

static void drip_cb(struct coil_op *op, int res, unsigned flags)
{
	struct drip *d = coil_container_of(op, struct drip, op);
	assert_int_equal(write(d->fd, "d", 1), 1);
	d->at[d->sent++] = tu_mono_ns();
	if (d->sent < DRIPS)
		assert_int_equal(coil_timeout(d->loop, op, 40 * MS, 0), 0);
}

/*
 * A byte every 40 ms keeps a 150 ms read deadline away; silence after
 * the last byte ends the stream with -ETIMEDOUT about 150 ms later.
 *
 * The drip runs on the same loop: a loaded machine that stops the process
 * for 120 ms or more (seen: over 100 ms) delays a byte past the deadline
 * and the timeout is then right. So: every byte written before such a
 * stall was read, none after the timeout, and the timeout came no sooner
 * than 140 ms after the last byte read - and all six bytes when nothing
 * stalled.
 */
static void test_stream_read_deadline_counts_from_last_byte(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.read_timeout_ns = 150 * MS};
	struct drip d = {0};
	struct coil_stream_write w = {0};
	int fds[2], in_time = 1;
	uint64_t after_last, gap;

	tu_tcp_pair(fds);
	d.fd = fds[1];
	d.loop = loop;
	coil_op_init(&d.op, drip_cb);
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	assert_int_equal(coil_timeout(loop, &d.op, 40 * MS, 0), 0);
	ST_RUN_UNTIL(loop, c.err || c.eof, 10000);
	assert_int_equal(c.err, -ETIMEDOUT);
	/* the bytes still to come are written (and not read) */
	ST_RUN_UNTIL(loop, d.sent == DRIPS, 10000);
	assert_int_equal(d.sent, DRIPS);
	while (in_time < DRIPS && d.at[in_time] - d.at[in_time - 1] < 120 * MS)
		in_time++;
	for (int i = 1; i < DRIPS; i++) {
		gap = d.at[i] - d.at[i - 1];
		if (gap >= 120 * MS)
			print_message("drip %d came %.1f ms after the one "
				      "before: the machine stalled\n",
				      i, (double)gap / 1e6);
	}
	assert_true(c.got >= (size_t)in_time);
	assert_true(c.got <= DRIPS);
	after_last = c.t_done - d.at[c.got - 1];
	print_message("read deadline fired %.1f ms after the last byte read "
		      "(%zu of %d)\n",
		      (double)after_last / 1e6, (size_t)c.got, DRIPS);
	assert_true(after_last >= 140 * MS);
	assert_true(after_last < 2000 * MS);
	/* the stream is finished: writes refuse with its error */
	assert_int_equal(coil_stream_write(&c.t.s, &w, "x", 1, NULL),
			 -ETIMEDOUT);
	pair_close(loop, &c, fds[1]);
}

/* The read deadline does not run while reading is paused. */
struct waiter {
	struct coil_op op;
	int done;
};

static void waiter_cb(struct coil_op *op, int res, unsigned flags)
{
	coil_container_of(op, struct waiter, op)->done = 1;
}

static void test_stream_read_deadline_paused_does_not_count(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.read_timeout_ns = 100 * MS};
	struct waiter wt = {0};
	int fds[2];
	uint64_t t0;

	pair_open(loop, &c, fds, &o);
	assert_int_equal(coil_stream_read_stop(&c.t.s), 0);
	coil_op_init(&wt.op, waiter_cb);
	assert_int_equal(coil_timeout(loop, &wt.op, 300 * MS, 0), 0);
	ST_RUN_UNTIL(loop, wt.done, 10000);
	assert_int_equal(c.err, 0); /* 300 ms paused: no deadline */
	t0 = tu_mono_ns();
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	ST_RUN_UNTIL(loop, c.err, 10000);
	expect_timeout_since(&c, t0, 90);
	pair_close(loop, &c, fds[1]);
}

/* Idle: nothing either way for 100 ms; set after opening. */
static void test_stream_idle_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	int fds[2];
	uint64_t t0;

	pair_open(loop, &c, fds, NULL);
	t0 = tu_mono_ns();
	assert_int_equal(coil_stream_set_timeouts(&c.t.s, 100 * MS, 0, 0), 0);
	ST_RUN_UNTIL(loop, c.err, 10000);
	expect_timeout_since(&c, t0, 90);
	pair_close(loop, &c, fds[1]);
}

/* Shortening a deadline takes effect although a later timer is armed. */
static void test_stream_deadline_shortened(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.idle_timeout_ns = 60000 * MS};
	int fds[2];
	uint64_t t0;

	pair_open(loop, &c, fds, &o);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	t0 = tu_mono_ns();
	assert_int_equal(coil_stream_set_timeouts(&c.t.s, 0, 100 * MS, 0), 0);
	ST_RUN_UNTIL(loop, c.err, 10000);
	assert_int_equal(c.err, -ETIMEDOUT);
	assert_true(c.t_done - t0 < 2000 * MS);
	pair_close(loop, &c, fds[1]);
}

/* Write deadline: the peer never reads; a send that makes no progress
 * for 100 ms fails the write and the stream with -ETIMEDOUT. */
static void test_stream_write_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.sndbuf = 32 << 10,
				  .write_timeout_ns = 100 * MS};
	struct coil_stream_write w = {0}, w2 = {0};
	int fds[2], rcv = 32 << 10;
	size_t n = 16u << 20;
	char *big = calloc(1, n);

	assert_non_null(big);
	tu_tcp_pair(fds);
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	wstatus_seen = 0;
	assert_int_equal(coil_stream_write(&c.t.s, &w, big, n, note_write), 0);
	assert_int_equal(coil_stream_write(&c.t.s, &w2, big, 1, NULL), 0);
	ST_RUN_UNTIL(loop, wstatus_seen && c.err, 10000);
	assert_int_equal(wstatus_seen, -ETIMEDOUT);
	assert_int_equal(c.err, -ETIMEDOUT); /* the read side learns too */
	assert_true(coil_stream_stats(&c.t.s).bytes_out < n);
	pair_close(loop, &c, fds[1]);
	free(big);
}

/* A stream that fails while reading is paused still tells the read
 * callback (the write deadline fires; nothing is being read). */
static void test_stream_failure_reaches_paused_reader(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.sndbuf = 32 << 10,
				  .write_timeout_ns = 100 * MS};
	struct coil_stream_write w = {0};
	int fds[2], rcv = 32 << 10;
	size_t n = 16u << 20;
	char *big = calloc(1, n);

	assert_non_null(big);
	tu_tcp_pair(fds);
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	assert_int_equal(coil_stream_read_stop(&c.t.s), 0);
	wstatus_seen = 0;
	assert_int_equal(coil_stream_write(&c.t.s, &w, big, n, note_write), 0);
	ST_RUN_UNTIL(loop, wstatus_seen && c.err, 10000);
	assert_int_equal(wstatus_seen, -ETIMEDOUT);
	assert_int_equal(c.err, -ETIMEDOUT);
	/* resuming after the end changes nothing */
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	ST_RUN_UNTIL(loop, 0, 50);
	assert_int_equal(c.reads_after_end, 0);
	pair_close(loop, &c, fds[1]);
	free(big);
}

/* A failure before reading ever started waits for read_start. */
static void test_stream_failure_before_read_start(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	struct coil_tcp_opts o = {.idle_timeout_ns = 50 * MS};
	int fds[2];

	tu_tcp_pair(fds);
	assert_int_equal(coil_tcp_open(loop, &c.t, fds[0], &o), 0);
	assert_non_null(c.t.x); /* a deadline: the extension holds its timer */
	ST_RUN_UNTIL(loop, !coil_op_busy(&c.t.x->tmr), 10000);
	assert_int_equal(c.err, 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	assert_int_equal(c.err, 0); /* never inline */
	ST_RUN_UNTIL(loop, c.err, 10000);
	assert_int_equal(c.err, -ETIMEDOUT);
	pair_close(loop, &c, fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_connect_timeout_when_syns_dropped),
		cmocka_unit_test(
			test_stream_connect_timeout_is_shared_between_addresses),
		cmocka_unit_test(test_stream_reset_by_peer_mid_stream),
		cmocka_unit_test(
			test_stream_reset_by_peer_fails_pending_writes),
		cmocka_unit_test(
			test_stream_read_deadline_counts_from_last_byte),
		cmocka_unit_test(
			test_stream_read_deadline_paused_does_not_count),
		cmocka_unit_test(test_stream_idle_deadline),
		cmocka_unit_test(test_stream_deadline_shortened),
		cmocka_unit_test(test_stream_write_deadline),
		cmocka_unit_test(test_stream_failure_reaches_paused_reader),
		cmocka_unit_test(test_stream_failure_before_read_start),
	};
	return cmocka_run_group_tests_name("stream.errors", tests, NULL, NULL);
}
