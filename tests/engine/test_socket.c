/* tests/engine/test_socket.c - every socket op on real TCP sockets over
 * 127.0.0.1: socket, connect, accept (single-shot and multishot), recv,
 * send, sendmsg, shutdown, close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

/* A client socket: through IORING_OP_SOCKET when the loop has it. */
static int make_socket(struct coil_loop *loop)
{
	struct cop c;
	if (!(coil_loop_features(loop) & COIL_FEAT_SOCKET)) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		return fd;
	}
	cop_init(&c);
	assert_int_equal(coil_socket(loop, &c.op, AF_INET,
				     SOCK_STREAM | SOCK_CLOEXEC, 0),
			 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.res >= 0);
	return c.res;
}

static void close_op(struct coil_loop *loop, int fd)
{
	struct cop c;
	cop_init(&c);
	assert_int_equal(coil_close(loop, &c.op, fd), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, 0);
	assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
}

static void test_socket_op_socket_makes_a_tcp_socket(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	int type = 0;
	socklen_t len = sizeof(type);

	te_require(loop, COIL_FEAT_SOCKET);
	cop_init(&c);
	assert_int_equal(coil_socket(loop, &c.op, AF_INET,
				     SOCK_STREAM | SOCK_CLOEXEC, 0),
			 0);
	assert_int_equal(c.calls, 0); /* never inline */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.res >= 0);
	assert_int_equal(getsockopt(c.res, SOL_SOCKET, SO_TYPE, &type, &len),
			 0);
	assert_int_equal(type, SOCK_STREAM);
	assert_true(fcntl(c.res, F_GETFD) & FD_CLOEXEC);
	close_op(loop, c.res);

	/* a bad domain fails through the callback */
	cop_init(&c);
	assert_int_equal(coil_socket(loop, &c.op, 12345, SOCK_STREAM, 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -EAFNOSUPPORT);
	te_end(loop);
}

static void test_socket_connect_accept_send_recv_shutdown(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop acc, con, snd, rcv, sm, sh;
	unsigned short port;
	int lfd = tu_listen(&port);
	struct sockaddr_in a = tu_addr(port);
	char buf[64];

	int cfd = make_socket(loop);
	cop_init(&acc);
	cop_init(&con);
	assert_int_equal(coil_accept(loop, &acc.op, lfd, 0), 0);
	assert_int_equal(coil_connect(loop, &con.op, cfd, (struct sockaddr *)&a,
				      sizeof(a)),
			 0);
	assert_int_equal(coil_loop_inflight(loop), 2);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(con.calls, 1);
	assert_int_equal(con.res, 0);
	assert_int_equal(acc.calls, 1);
	assert_int_equal(acc.more, 0);
	assert_true(acc.res >= 0);
	int sfd = acc.res;
	assert_true(fcntl(sfd, F_GETFD) & FD_CLOEXEC);

	/* send -> recv */
	cop_init(&snd);
	cop_init(&rcv);
	assert_int_equal(coil_recv(loop, &rcv.op, sfd, buf, sizeof(buf), 0), 0);
	assert_int_equal(coil_send(loop, &snd.op, cfd, "hello", 5, 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(snd.calls, 1);
	assert_int_equal(snd.res, 5);
	assert_int_equal(rcv.calls, 1);
	assert_int_equal(rcv.res, 5);
	assert_memory_equal(buf, "hello", 5);

	/* sendmsg with two iovecs -> recv sees them joined */
	struct iovec iov[2] = {{.iov_base = "abc", .iov_len = 3},
			       {.iov_base = "defgh", .iov_len = 5}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	cop_init(&sm);
	assert_int_equal(coil_sendmsg(loop, &sm.op, cfd, &msg, 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(sm.calls, 1);
	assert_int_equal(sm.res, 8);
	cop_init(&rcv);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(coil_recv(loop, &rcv.op, sfd, buf, 8, MSG_WAITALL), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(rcv.calls, 1);
	assert_int_equal(rcv.res, 8);
	assert_memory_equal(buf, "abcdefgh", 8);

	/* shutdown(SHUT_WR): the peer's recv sees EOF (0) */
	cop_init(&sh);
	cop_init(&rcv);
	assert_int_equal(coil_recv(loop, &rcv.op, sfd, buf, sizeof(buf), 0), 0);
	assert_int_equal(coil_shutdown(loop, &sh.op, cfd, SHUT_WR), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(sh.calls, 1);
	assert_int_equal(sh.res, 0);
	assert_int_equal(rcv.calls, 1);
	assert_int_equal(rcv.res, 0);

	/* the other direction still works after a half-close */
	cop_init(&snd);
	cop_init(&rcv);
	assert_int_equal(coil_send(loop, &snd.op, sfd, "back", 4, 0), 0);
	assert_int_equal(coil_recv(loop, &rcv.op, cfd, buf, sizeof(buf), 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(snd.calls, 1);
	assert_int_equal(snd.res, 4);
	assert_int_equal(rcv.calls, 1);
	assert_int_equal(rcv.res, 4);
	assert_memory_equal(buf, "back", 4);

	close_op(loop, cfd);
	close_op(loop, sfd);
	close(lfd);
	te_end(loop);
}

static void test_socket_connect_refused(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop con;
	unsigned short port;
	/* a port that was just ours and now has no listener */
	int lfd = tu_listen(&port);
	close(lfd);
	struct sockaddr_in a = tu_addr(port);
	int fd = make_socket(loop);

	cop_init(&con);
	assert_int_equal(coil_connect(loop, &con.op, fd, (struct sockaddr *)&a,
				      sizeof(a)),
			 0);
	assert_int_equal(con.calls, 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(con.calls, 1);
	assert_int_equal(con.res, -ECONNREFUSED);
	close_op(loop, fd);
	te_end(loop);
}

/* Accepting several clients: one callback per connection. */
#define NCLIENTS 8
struct acceptor {
	struct coil_op op;
	struct coil_loop *loop;
	int lfd;
	int fds[NCLIENTS + 1];
	int naccepted;
	int nmore; /* callbacks that carried COIL_MORE */
	int finals;
	int final_res;
	int rearm; /* single-shot: re-arm after each connection */
};

static void on_accept(struct coil_op *op, int res, unsigned flags)
{
	struct acceptor *a = coil_container_of(op, struct acceptor, op);
	if (res >= 0) {
		assert_true(a->naccepted < NCLIENTS + 1);
		a->fds[a->naccepted++] = res;
	}
	if (flags & COIL_MORE) {
		a->nmore++;
		return;
	}
	if (res >= 0 && a->rearm) {
		/* single-shot: the op is ours again; arm it once more */
		assert_int_equal(coil_accept(a->loop, op, a->lfd, 0), 0);
		return;
	}
	a->finals++;
	a->final_res = res;
}

static void run_acceptor(struct coil_loop *loop, struct acceptor *a,
			 unsigned accept_flags, int rearm)
{
	int cfd[NCLIENTS];
	unsigned short port;
	struct sockaddr_in sa;

	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->rearm = rearm;
	a->lfd = tu_listen(&port);
	sa = tu_addr(port);
	coil_op_init(&a->op, on_accept);
	assert_int_equal(coil_accept(loop, &a->op, a->lfd, accept_flags), 0);
	/* let the accept be armed before anyone connects */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_NOWAIT), 1);
	for (int i = 0; i < NCLIENTS; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(
			connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	uint64_t end = tu_mono_ns() + 5000 * MS;
	while (a->naccepted < NCLIENTS && tu_mono_ns() < end)
		assert_int_equal(coil_loop_run(loop, COIL_RUN_ONCE), 1);
	assert_int_equal(a->naccepted, NCLIENTS);
	assert_int_equal(a->finals, 0);

	/* the armed accept ends with exactly one -ECANCELED */
	a->rearm = 0;
	assert_int_equal(coil_cancel(loop, &a->op), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(a->finals, 1);
	assert_int_equal(a->final_res, -ECANCELED);
	assert_int_equal(a->naccepted, NCLIENTS);
	for (int i = 0; i < NCLIENTS; i++) {
		assert_true(fcntl(a->fds[i], F_GETFD) & FD_CLOEXEC);
		close(a->fds[i]);
		close(cfd[i]);
	}
	close(a->lfd);
}

static void test_socket_accept_multishot_one_callback_per_client(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct acceptor a;
	int multi = !!(coil_loop_features(loop) & COIL_FEAT_MULTISHOT_ACCEPT);

	/* Without the feature this is the documented single-shot fallback:
	 * callbacks without COIL_MORE, and the caller re-arms. */
	run_acceptor(loop, &a, COIL_ACCEPT_MULTISHOT, !multi);
	assert_int_equal(a.nmore, multi ? NCLIENTS : 0);
	te_end(loop);
}

static void test_socket_accept_multishot_forced_single_shot(void **state)
{
	struct coil_loop_opts o = {.flags = COIL_LOOP_NO_MULTISHOT};
	struct coil_loop *loop = te_begin(&o);
	struct acceptor a;

	assert_false(coil_loop_features(loop) & COIL_FEAT_MULTISHOT_ACCEPT);
	run_acceptor(loop, &a, COIL_ACCEPT_MULTISHOT, 1);
	assert_int_equal(a.nmore, 0);
	te_end(loop);
}

static void test_socket_accept_single_shot_rearmed(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct acceptor a;

	run_acceptor(loop, &a, 0, 1);
	assert_int_equal(a.nmore, 0);
	te_end(loop);
}

/* 40 connections waiting in the backlog and a CQ of 16: the kernel ends
 * the multishot accept early on a full CQ; the engine re-arms it, so every
 * connection still arrives with COIL_MORE and the op ends only by cancel. */
struct collector {
	struct coil_op op;
	int fds[64];
	int n, more, finals, final_res;
};

static void on_collect(struct coil_op *op, int res, unsigned flags)
{
	struct collector *c = coil_container_of(op, struct collector, op);
	if (res >= 0) {
		assert_true(c->n < 64);
		c->fds[c->n++] = res;
	}
	if (flags & COIL_MORE) {
		c->more++;
		return;
	}
	c->finals++;
	c->final_res = res;
}

static void test_socket_accept_multishot_survives_cq_overflow(void **state)
{
	enum { NC = 40 };
	struct coil_loop_opts o = {.sq_entries = 8, .cq_factor = 2};
	struct coil_loop *loop = te_begin(&o);
	static struct collector c;
	unsigned short port;
	int lfd;
	struct sockaddr_in sa;
	int cfd[NC];

	te_require(loop, COIL_FEAT_MULTISHOT_ACCEPT);
	lfd = tu_listen(&port);
	sa = tu_addr(port);
	for (int i = 0; i < NC; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(
			connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	memset(&c, 0, sizeof(c));
	coil_op_init(&c.op, on_collect);
	assert_int_equal(coil_accept(loop, &c.op, lfd, COIL_ACCEPT_MULTISHOT),
			 0);
	uint64_t end = tu_mono_ns() + 5000 * MS;
	while (c.n < NC && c.finals == 0 && tu_mono_ns() < end)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	assert_int_equal(c.n, NC);
	assert_int_equal(c.more, NC);
	assert_int_equal(c.finals, 0);
	assert_int_equal(coil_cancel(loop, &c.op), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.finals, 1);
	assert_int_equal(c.final_res, -ECANCELED);
	assert_int_equal(c.n, NC);
	for (int i = 0; i < NC; i++) {
		close(c.fds[i]);
		close(cfd[i]);
	}
	close(lfd);
	te_end(loop);
}

static void test_socket_recv_on_bad_fd_fails_in_callback(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct cop c;
	char buf[8];
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(fd); /* now surely not open */

	cop_init(&c);
	assert_int_equal(coil_recv(loop, &c.op, fd, buf, sizeof(buf), 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.res, -EBADF);

	/* a send on a socket nobody connected */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cop_init(&c);
	assert_int_equal(coil_send(loop, &c.op, s, "x", 1, 0), 0);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.res == -ENOTCONN || c.res == -EPIPE);
	close(s);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_op_socket_makes_a_tcp_socket),
		cmocka_unit_test(test_socket_connect_accept_send_recv_shutdown),
		cmocka_unit_test(test_socket_connect_refused),
		cmocka_unit_test(
			test_socket_accept_multishot_one_callback_per_client),
		cmocka_unit_test(
			test_socket_accept_multishot_forced_single_shot),
		cmocka_unit_test(test_socket_accept_single_shot_rearmed),
		cmocka_unit_test(
			test_socket_accept_multishot_survives_cq_overflow),
		cmocka_unit_test(test_socket_recv_on_bad_fd_fails_in_callback),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.socket", tests, NULL, NULL);
}
