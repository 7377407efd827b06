/* tests/stream/test_stream_echo.c - TCP streams: echo with write
 * coalescing, half-close, connect over an address list, bad arguments */
#include "st.h"

#define NW 1000
#define WLEN 10

static int wdone, wbad_order, wstatus;

static void count_write(struct coil_stream_write *w, int status)
{
	if ((intptr_t)w->data != wdone)
		wbad_order++;
	if (status != 0)
		wstatus = status;
	wdone++;
}

static void test_stream_echo_small_writes_coalesce(void **state)
{
	static struct coil_stream_write w[NW];
	static unsigned char out[NW * WLEN];
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct coil_stream_stats st;

	st_server_open(&srv, loop, st_echo_read);
	assert_int_equal(st_connect(loop, &c, srv.port, NULL), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	wdone = wbad_order = wstatus = 0;
	for (int i = 0; i < NW; i++) {
		for (int j = 0; j < WLEN; j++)
			out[i * WLEN + j] = (unsigned char)(i * 31 + j * 7);
		memset(&w[i], 0, sizeof(w[i]));
		w[i].data = (void *)(intptr_t)i;
		assert_int_equal(coil_stream_write(&c.t.s, &w[i],
						   out + i * WLEN, WLEN,
						   count_write),
				 0);
	}
	assert_int_equal(wdone, 0); /* never inline */
	ST_RUN_UNTIL(loop, c.got >= sizeof(out) && wdone == NW, 10000);
	assert_int_equal(c.got, sizeof(out));
	assert_memory_equal(c.in, out, sizeof(out));
	assert_int_equal(wdone, NW);
	assert_int_equal(wbad_order, 0);
	assert_int_equal(wstatus, 0);

	st = coil_stream_stats(&c.t.s);
	assert_int_equal(st.writes, NW);
	assert_int_equal(st.bytes_out, sizeof(out));
	assert_int_equal(st.bytes_in, sizeof(out));
	assert_int_equal(st.queued, 0);
	/* gathered: at most COIL_TCP_IOV writes per send */
	assert_true(st.sends < NW);
	assert_true(st.sends <= NW / COIL_TCP_IOV + 4);
	print_message("%u writes left in %llu sends; %llu recvs\n", NW,
		      (unsigned long long)st.sends,
		      (unsigned long long)st.recvs);
	assert_true(st.recvs >= 1);

	st_client_close(loop, &c);
	assert_int_equal(c.cbs_after_close, 0);
	/* the server saw EOF, shut down and closed by itself */
	ST_RUN_UNTIL(loop, srv.open == 0, 10000);
	assert_int_equal(srv.accepted, 1);
	assert_int_equal(srv.peers->eof, 1);
	assert_int_equal(srv.peers->got, sizeof(out));
	st_server_close(&srv);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Writes made from inside callbacks during one turn leave together. */
static struct coil_stream_write cbw[64];
static unsigned char cbout[64];

static void write_burst(struct coil_stream *s, int status)
{
	struct client *c = st_client(s);
	c->status = status;
	c->connected = 1;
	for (int i = 0; i < 64; i++) {
		cbout[i] = (unsigned char)i;
		memset(&cbw[i], 0, sizeof(cbw[i]));
		cbw[i].data = (void *)(intptr_t)i;
		assert_int_equal(coil_stream_write(s, &cbw[i], &cbout[i], 1,
						   count_write),
				 0);
	}
	assert_int_equal(coil_stream_read_start(s, st_client_read), 0);
}

static void test_stream_writes_in_callback_coalesce(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct sockaddr_storage ss;

	st_server_open(&srv, loop, st_echo_read);
	ss = st_v4(srv.port);
	wdone = wbad_order = wstatus = 0;
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, &ss, 1, NULL, write_burst), 0);
	ST_RUN_UNTIL(loop, c.got >= 64 && wdone == 64, 10000);
	assert_int_equal(c.got, 64);
	assert_memory_equal(c.in, cbout, 64);
	assert_int_equal(wbad_order, 0);
	/* 64 one-byte writes: 2 sendmsgs of COIL_TCP_IOV iovecs */
	assert_int_equal(coil_stream_stats(&c.t.s).sends, 64 / COIL_TCP_IOV);
	st_client_close(loop, &c);
	st_server_close(&srv);
	st_loop_free(loop);
}

/* ---- MSG_MORE ---- */

/* A head written with coil_stream_writev_more(), then, from its callback,
 * a body by plain write (as a sendfile would follow it): the peer gets
 * both, in order; then a "more" write with nothing after it but the
 * shutdown still reaches the peer. */
static struct coil_stream_write more_w[3];
static struct iovec more_iov[2];
static const char more_head[] = "HEAD:";
static unsigned char more_body[100000];

static void more_head_sent(struct coil_stream_write *w, int status)
{
	struct client *c = w->data;
	assert_int_equal(status, 0);
	memset(&more_w[1], 0, sizeof(more_w[1]));
	more_w[1].data = c;
	assert_int_equal(coil_stream_write(&c->t.s, &more_w[1], more_body,
					   sizeof(more_body), NULL),
			 0);
}

static void test_stream_writev_more_then_more_bytes(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	size_t hl = sizeof(more_head) - 1, total;

	st_server_open(&srv, loop, st_echo_read);
	assert_int_equal(st_connect(loop, &c, srv.port, NULL), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	for (size_t i = 0; i < sizeof(more_body); i++)
		more_body[i] = (unsigned char)(i * 13);
	more_iov[0].iov_base = (void *)more_head;
	more_iov[0].iov_len = hl;
	memset(&more_w[0], 0, sizeof(more_w[0]));
	more_w[0].data = &c;
	assert_int_equal(coil_stream_writev_more(&c.t.s, &more_w[0], more_iov,
						 1, more_head_sent),
			 0);
	total = hl + sizeof(more_body);
	ST_RUN_UNTIL(loop, c.got >= total, 10000);
	assert_int_equal(c.got, total);
	assert_memory_equal(c.in, more_head, hl);
	assert_memory_equal(c.in + hl, more_body, sizeof(more_body));
	/* a last "more" write, then only the shutdown: it is not held */
	more_iov[1].iov_base = (void *)"tail";
	more_iov[1].iov_len = 4;
	memset(&more_w[2], 0, sizeof(more_w[2]));
	assert_int_equal(coil_stream_writev_more(&c.t.s, &more_w[2],
						 &more_iov[1], 1, NULL),
			 0);
	memset(&more_w[1], 0, sizeof(more_w[1]));
	assert_int_equal(coil_stream_shutdown(&c.t.s, &more_w[1], NULL), 0);
	ST_RUN_UNTIL(loop, c.got >= total + 4, 10000);
	assert_int_equal(c.got, total + 4);
	assert_memory_equal(c.in + total, "tail", 4);
	st_client_close(loop, &c);
	ST_RUN_UNTIL(loop, srv.open == 0, 10000);
	st_server_close(&srv);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* ---- half-close ---- */

static void shut_done(struct coil_stream_write *w, int status)
{
	*(int *)w->data = status == 0 ? 1 : status;
}

static void reply_written(struct coil_stream_write *w, int status)
{
	struct peer *p = w->data;
	p->user = status == 0 ? 1 : status;
}

/* Server side: collect until EOF, then answer "bye:" + what came. */
static void answer_after_eof(struct coil_stream *s, ssize_t n, const void *buf)
{
	static struct coil_stream_write w;
	static struct iovec iov[2];
	struct peer *p = st_peer(s);

	if (n > 0) {
		st_collect(p, buf, (size_t)n);
		return;
	}
	assert_int_equal(n, 0);
	p->eof++;
	iov[0].iov_base = "bye:";
	iov[0].iov_len = 4;
	iov[1].iov_base = p->in;
	iov[1].iov_len = p->got;
	memset(&w, 0, sizeof(w));
	w.data = p;
	assert_int_equal(coil_stream_writev(s, &w, iov, 2, reply_written), 0);
}

static void test_stream_half_close_peer_sees_eof_and_answers(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct coil_stream_write w = {0}, sw = {0}, late = {0};
	int shut = 0;

	st_server_open(&srv, loop, answer_after_eof);
	assert_int_equal(st_connect(loop, &c, srv.port, NULL), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	assert_int_equal(coil_stream_write(&c.t.s, &w, "hello", 5, NULL), 0);
	sw.data = &shut;
	assert_int_equal(coil_stream_shutdown(&c.t.s, &sw, shut_done), 0);
	/* nothing more goes out after a shutdown */
	assert_int_equal(coil_stream_write(&c.t.s, &late, "x", 1, NULL),
			 -EPIPE);
	assert_int_equal(coil_stream_shutdown(&c.t.s, &late, NULL), -EPIPE);
	/* a queued request cannot be queued again */
	assert_int_equal(coil_stream_write(&c.t.s, &sw, "x", 1, NULL), -EBUSY);

	/* IORING_OP_SHUTDOWN runs in an io-wq worker (its prep forces
	 * async issue): the FIN is out, and the server may have
	 * answered it, before that worker posts our completion - on a loaded
	 * machine it can be preempted in between. So wait for both. */
	ST_RUN_UNTIL(loop, shut && srv.peers && srv.peers->user != 0, 10000);
	assert_int_equal(shut, 1);
	assert_int_equal(srv.accepted, 1);
	assert_int_equal(srv.peers->eof, 1); /* exactly one EOF */
	assert_int_equal(srv.peers->got, 5);
	/* the server wrote after our shutdown, then closes: we read both */
	assert_int_equal(srv.peers->user, 1);
	assert_int_equal(coil_stream_close(&srv.peers->t.s, st_peer_closed), 0);
	ST_RUN_UNTIL(loop, c.eof, 10000);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.eof, 1);
	assert_int_equal(c.got, 9);
	assert_memory_equal(c.in, "bye:hello", 9);
	assert_int_equal(c.reads_after_end, 0);
	st_client_close(loop, &c);
	st_server_close(&srv);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* ---- connect ---- */

static void test_stream_connect_refused(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct client c = {0};
	int bound;
	unsigned short port = st_refused_port(&bound);

	assert_int_equal(st_connect(loop, &c, port, NULL), -ECONNREFUSED);
	assert_int_equal(c.connected, -1);
	/* a failed connect holds nothing: no fd, no op */
	assert_int_equal(coil_stream_fd(&c.t.s), -1);
	assert_int_equal(coil_loop_inflight(loop), 0);
	/* closing it still works and calls back once */
	st_client_close(loop, &c);
	close(bound);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

static void test_stream_connect_tries_next_address(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct sockaddr_storage ss[3];
	int b1, b2;

	st_server_open(&srv, loop, st_echo_read);
	ss[0] = st_v4(st_refused_port(&b1));
	ss[1] = st_v4(st_refused_port(&b2));
	ss[2] = st_v4(srv.port);
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, ss, 3, NULL, st_client_connected),
		0);
	ST_RUN_UNTIL(loop, c.connected && srv.accepted, 10000);
	assert_int_equal(c.status, 0);
	assert_int_equal(srv.accepted, 1);
	st_client_close(loop, &c);
	st_server_close(&srv);
	close(b1);
	close(b2);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* A ::1 port that refuses connections, or -1 without IPv6 loopback. */
static int v6_refused(struct sockaddr_storage *ss, int *fd)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	socklen_t len = sizeof(*ss);
	a6.sin6_addr = in6addr_loopback;
	*fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -1;
	if (bind(*fd, (struct sockaddr *)&a6, sizeof(a6)) < 0 ||
	    getsockname(*fd, (struct sockaddr *)ss, &len) < 0) {
		close(*fd);
		return -1;
	}
	return 0;
}

/* Happy Eyeballs order (RFC 8305 section 4): [v6 refused, v6 refused, v4
 * listening] tries the v4 address second, alternating families; in the
 * resolver's order it would be third. */
/* The addresses tried, read in the connect callback (the connect's
 * bookkeeping lives in the stream's extension, given back after it). */
static unsigned tried_at_connect;

static void connected_note_tried(struct coil_stream *s, int status)
{
	struct coil_tcp *t = coil_container_of(s, struct coil_tcp, s);
	tried_at_connect = t->x->tried;
	st_client_connected(s, status);
}

static void test_stream_connect_alternates_families(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server s4 = {0};
	struct client c = {0};
	struct sockaddr_storage ss[3];
	int f1, f2;

	if (v6_refused(&ss[0], &f1) < 0) {
		coil_loop_free(loop);
		skip();
	}
	if (v6_refused(&ss[1], &f2) < 0) {
		close(f1);
		coil_loop_free(loop);
		skip();
	}
	st_server_open(&s4, loop, NULL);
	ss[2] = st_v4(s4.port);
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, ss, 3, NULL, connected_note_tried),
		0);
	ST_RUN_UNTIL(loop, c.connected && s4.accepted, 10000);
	assert_int_equal(c.status, 0);
	assert_int_equal(s4.accepted, 1);
	assert_int_equal(tried_at_connect, 2); /* ::1 refused, 127.0.0.1 */
	st_client_close(loop, &c);
	st_server_close(&s4);
	close(f1);
	close(f2);
	st_loop_free(loop);
}

/* ---- bad input ---- */

static void never_read(struct coil_stream *s, ssize_t n, const void *b)
{
	fail();
}

static void never_connect(struct coil_stream *s, int status)
{
	fail();
}

static void test_stream_bad_arguments(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_tcp t = {0};
	struct coil_stream_write w = {0};
	struct sockaddr_storage ss = st_v4(1), bad;
	struct coil_listener l = {0};
	struct sockaddr_in a = tu_addr(0);
	struct coil_listener_opts lo = {.backlog = -1};
	struct iovec iov[2] = {{NULL, 5}, {NULL, 0}};
	int fds[2];

	memset(&bad, 0, sizeof(bad));
	bad.ss_family = AF_PACKET; /* AF_UNIX is taken: test_stream_unix */
	/* connect */
	assert_int_equal(
		coil_tcp_connect(NULL, &t, &ss, 1, NULL, never_connect),
		-EINVAL);
	assert_int_equal(
		coil_tcp_connect(loop, NULL, &ss, 1, NULL, never_connect),
		-EINVAL);
	assert_int_equal(
		coil_tcp_connect(loop, &t, NULL, 1, NULL, never_connect),
		-EINVAL);
	assert_int_equal(
		coil_tcp_connect(loop, &t, &ss, 0, NULL, never_connect),
		-EINVAL);
	assert_int_equal(
		coil_tcp_connect(loop, &t, &ss, 70000, NULL, never_connect),
		-EINVAL);
	assert_int_equal(coil_tcp_connect(loop, &t, &ss, 1, NULL, NULL),
			 -EINVAL);
	assert_int_equal(
		coil_tcp_connect(loop, &t, &bad, 1, NULL, never_connect),
		-EAFNOSUPPORT);
	/* open */
	assert_int_equal(coil_tcp_open(NULL, &t, 0, NULL), -EINVAL);
	assert_int_equal(coil_tcp_open(loop, &t, -1, NULL), -EBADF);
	assert_int_equal(coil_tcp_open(loop, &t, 1000000, NULL), -EBADF);
	{
		char *dir = tu_tmpdir();
		char path[4096];
		int fd;
		snprintf(path, sizeof(path), "%s/f", dir);
		fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(coil_tcp_open(loop, &t, fd, NULL), -ENOTSOCK);
		close(fd);
		unlink(path);
		rmdir(dir);
		free(dir);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds),
			 0);
	assert_int_equal(coil_tcp_open(loop, &t, fds[0], NULL), -EPROTOTYPE);
	close(fds[0]);
	close(fds[1]);

	/* a stream that was never opened */
	assert_int_equal(coil_stream_read_start(&t.s, never_read), -EINVAL);
	assert_int_equal(coil_stream_read_stop(&t.s), -EINVAL);
	assert_int_equal(coil_stream_write(&t.s, &w, "x", 1, NULL), -EINVAL);
	assert_int_equal(coil_stream_close(&t.s, NULL), -EINVAL);
	assert_int_equal(coil_stream_set_timeouts(&t.s, 0, 0, 0), -EINVAL);
	assert_int_equal(coil_stream_fd(&t.s), -1);
	assert_int_equal(coil_stream_read_start(NULL, never_read), -EINVAL);
	assert_int_equal(coil_stream_write(NULL, &w, "x", 1, NULL), -EINVAL);
	assert_int_equal(coil_stream_close(NULL, NULL), -EINVAL);
	assert_int_equal(coil_stream_fd(NULL), -1);
	assert_int_equal(coil_stream_stats(NULL).bytes_in, 0);

	/* an open stream (a unix socketpair works as a byte stream) */
	assert_int_equal(
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	assert_int_equal(coil_tcp_open(loop, &t, fds[0], NULL), 0);
	assert_int_equal(coil_stream_fd(&t.s), fds[0]);
	assert_int_equal(coil_stream_read_start(&t.s, NULL), -EINVAL);
	assert_int_equal(coil_stream_write(&t.s, NULL, "x", 1, NULL), -EINVAL);
	assert_int_equal(coil_stream_write(&t.s, &w, NULL, 1, NULL), -EINVAL);
	assert_int_equal(coil_stream_writev(&t.s, &w, NULL, 1, NULL), -EINVAL);
	assert_int_equal(coil_stream_writev(&t.s, &w, iov, 2000, NULL),
			 -EINVAL);
	assert_int_equal(coil_stream_writev(&t.s, &w, iov, 2, NULL), -EINVAL);
	assert_int_equal(coil_stream_shutdown(&t.s, NULL, NULL), -EINVAL);
	assert_int_equal(coil_stream_close(&t.s, NULL), 0);
	assert_int_equal(coil_stream_close(&t.s, NULL), -EALREADY);
	assert_int_equal(coil_stream_write(&t.s, &w, "x", 1, NULL),
			 COIL_ECLOSED);
	assert_int_equal(coil_stream_shutdown(&t.s, &w, NULL), COIL_ECLOSED);
	assert_int_equal(coil_stream_read_start(&t.s, never_read),
			 COIL_ECLOSED);
	assert_int_equal(coil_stream_set_timeouts(&t.s, 1, 1, 1), COIL_ECLOSED);
	ST_RUN_UNTIL(loop, !(t.s.flags & COIL_STREAM_OPEN), 5000);
	assert_false(t.s.flags & COIL_STREAM_OPEN);
	assert_int_equal(fcntl(fds[0], F_GETFD), -1); /* the stream closed it */
	close(fds[1]);

	/* listener */
	assert_int_equal(coil_listener_open(NULL, &l, (struct sockaddr *)&a,
					    sizeof(a), NULL, st_on_conn),
			 -EINVAL);
	assert_int_equal(
		coil_listener_open(loop, &l, NULL, sizeof(a), NULL, st_on_conn),
		-EINVAL);
	assert_int_equal(coil_listener_open(loop, &l, (struct sockaddr *)&a,
					    sizeof(a), NULL, NULL),
			 -EINVAL);
	assert_int_equal(coil_listener_open(loop, &l, (struct sockaddr *)&a, 4,
					    NULL, st_on_conn),
			 -EINVAL);
	assert_int_equal(coil_listener_open(loop, &l, (struct sockaddr *)&a,
					    sizeof(a), &lo, st_on_conn),
			 -EINVAL);
	assert_int_equal(coil_listener_open(loop, &l, (struct sockaddr *)&bad,
					    sizeof(bad), NULL, st_on_conn),
			 -EAFNOSUPPORT);
	assert_int_equal(coil_listener_stop(&l), -EINVAL);
	assert_int_equal(coil_listener_start(&l), -EINVAL);
	assert_int_equal(coil_listener_close(&l, NULL), -EINVAL);
	assert_int_equal(coil_listener_fd(&l), -1);
	assert_int_equal(coil_listener_fd(NULL), -1);
	{
		struct sockaddr_storage x;
		socklen_t xl;
		assert_int_equal(coil_listener_addr(&l, &x, &xl), -EINVAL);
	}
	/* address in use: a second listener on a bound port, no reuseport */
	{
		struct coil_listener l2 = {0};
		struct sockaddr_storage x;
		socklen_t xl;
		assert_int_equal(
			coil_listener_open(loop, &l, (struct sockaddr *)&a,
					   sizeof(a), NULL, st_on_conn),
			0);
		assert_int_equal(coil_listener_addr(&l, &x, &xl), 0);
		assert_int_equal(coil_listener_open(loop, &l2,
						    (struct sockaddr *)&x, xl,
						    NULL, st_on_conn),
				 -EADDRINUSE);
		assert_int_equal(coil_listener_close(&l, NULL), 0);
		assert_int_equal(coil_listener_close(&l, NULL), -EALREADY);
		assert_int_equal(coil_listener_stop(&l), COIL_ECLOSED);
		assert_int_equal(coil_listener_start(&l), COIL_ECLOSED);
	}
	st_loop_free(loop);
}

/* Writing before the connect finished is refused. */
static void test_stream_write_before_connect_is_refused(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct coil_stream_write w = {0};
	struct sockaddr_storage ss;

	st_server_open(&srv, loop, NULL);
	ss = st_v4(srv.port);
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, &ss, 1, NULL, st_client_connected),
		0);
	assert_int_equal(coil_stream_write(&c.t.s, &w, "x", 1, NULL),
			 -ENOTCONN);
	assert_int_equal(coil_stream_shutdown(&c.t.s, &w, NULL), -ENOTCONN);
	/* reading may start early: it begins once connected */
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	ST_RUN_UNTIL(loop, c.connected, 10000);
	assert_int_equal(c.status, 0);
	st_client_close(loop, &c);
	st_server_close(&srv);
	st_loop_free(loop);
}

/* TCP_NODELAY by default, Nagle on request; buffer sizes applied. */
static int nodelay(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	return v;
}

static void test_stream_socket_options(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0}, d = {0};
	struct coil_tcp_opts nagle = {.flags = COIL_TCP_NO_NODELAY,
				      .sndbuf = 100000,
				      .rcvbuf = 100000};
	int v = 0;
	socklen_t len = sizeof(v);

	st_server_open(&srv, loop, NULL);
	assert_int_equal(st_connect(loop, &c, srv.port, NULL), 0);
	assert_int_equal(nodelay(coil_stream_fd(&c.t.s)), 1);
	assert_int_equal(st_connect(loop, &d, srv.port, &nagle), 0);
	assert_int_equal(nodelay(coil_stream_fd(&d.t.s)), 0);
	assert_int_equal(getsockopt(coil_stream_fd(&d.t.s), SOL_SOCKET,
				    SO_SNDBUF, &v, &len),
			 0);
	assert_int_equal(v, 200000); /* the kernel doubles it, socket(7) */
	ST_RUN_UNTIL(loop, srv.accepted == 2, 10000);
	for (struct peer *p = srv.peers; p; p = p->next)
		assert_int_equal(nodelay(coil_stream_fd(&p->t.s)), 1);
	st_client_close(loop, &c);
	st_client_close(loop, &d);
	st_server_close(&srv);
	st_loop_free(loop);
}

/* COIL_TCP_SINGLESHOT reads through the stream's own buffer even where
 * the loop has multishot recv; a small rbuf makes many recvs. */
static void test_stream_singleshot_option(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct client c = {0};
	struct coil_tcp_opts o = {.flags = COIL_TCP_SINGLESHOT,
				  .rbuf_size = 1000};
	struct coil_stream_write w = {0};
	static unsigned char out[100000];

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 13);
	st_server_open(&srv, loop, st_echo_read);
	assert_int_equal(st_connect(loop, &c, srv.port, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	assert_int_equal(coil_stream_write(&c.t.s, &w, out, sizeof(out), NULL),
			 0);
	ST_RUN_UNTIL(loop, c.got >= sizeof(out), 10000);
	assert_int_equal(c.got, sizeof(out));
	assert_memory_equal(c.in, out, sizeof(out));
	assert_true(coil_stream_stats(&c.t.s).recvs >= sizeof(out) / 1000);
	st_client_close(loop, &c);
	st_server_close(&srv);
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_echo_small_writes_coalesce),
		cmocka_unit_test(test_stream_writes_in_callback_coalesce),
		cmocka_unit_test(test_stream_writev_more_then_more_bytes),
		cmocka_unit_test(
			test_stream_half_close_peer_sees_eof_and_answers),
		cmocka_unit_test(test_stream_connect_refused),
		cmocka_unit_test(test_stream_connect_tries_next_address),
		cmocka_unit_test(test_stream_connect_alternates_families),
		cmocka_unit_test(test_stream_bad_arguments),
		cmocka_unit_test(test_stream_write_before_connect_is_refused),
		cmocka_unit_test(test_stream_socket_options),
		cmocka_unit_test(test_stream_singleshot_option),
	};
	return cmocka_run_group_tests_name("stream.echo", tests, NULL, NULL);
}
