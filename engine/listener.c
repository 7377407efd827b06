/*
 * engine/listener.c - TCP listeners: bind/listen done synchronously, then a
 * multishot accept (kernel 5.19) re-armed after each final completion, or
 * one single-shot accept after another without it. Accepted fds go to the
 * caller's callback, which makes streams of them (coil_tcp_open()).
 *
 * Two ops: acc (the accept, and last the close of the socket) and tmr (the
 * back-off after EMFILE and friends). Stop cancels the accept; connections
 * the kernel still hands over before the cancel lands are handed out (a
 * client's connection is not reset because of a race), while after close
 * they are closed here (an fd nobody waits for must still be closed).
 */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "coil/stream.h"

/* l->st bits */
#define L_OPEN (1u << 0)
#define L_ACCEPTING (1u << 1) /* wanted: started and not stopped */
#define L_CLOSING (1u << 2)
#define L_BACKOFF (1u << 3)  /* tmr is the back-off */
#define L_CANCEL (1u << 4)   /* we cancelled acc: its -ECANCELED is ours */
#define L_CLOSE_FD (1u << 5) /* acc is the close of the fd */

#define BACKOFF_MIN_NS (5ull * 1000000)
#define BACKOFF_MAX_NS (1000ull * 1000000)

static void acc_cb(struct coil_op *op, int res, unsigned flags);
static void tmr_cb(struct coil_op *op, int res, unsigned flags);

/* accept(2): "Linux accept() passes already-pending network errors on the
 * new socket as an error code from accept() ... should treat them like
 * EAGAIN by retrying." */
static int transient(int err)
{
	switch (err) {
	case -ECONNABORTED:
	case -EINTR:
	case -EAGAIN:
	case -EPROTO:
	case -ENETDOWN:
	case -ENOPROTOOPT:
	case -EHOSTDOWN:
	case -ENONET:
	case -EHOSTUNREACH:
	case -EOPNOTSUPP:
	case -ENETUNREACH:
	case -ETIMEDOUT:
	case -EPERM: /* firewall rules */
		return 1;
	}
	return 0;
}

static int resource(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
	       err == -ENOMEM;
}

static void backoff(struct coil_listener *l)
{
	l->backoff_ns = l->backoff_ns ? l->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (l->backoff_ns > BACKOFF_MAX_NS)
		l->backoff_ns = BACKOFF_MAX_NS;
	if (coil_timeout(l->loop, &l->tmr, l->backoff_ns, 0) == 0)
		l->st |= L_BACKOFF;
}

static void arm(struct coil_listener *l)
{
	int ret;
	if (!(l->st & L_ACCEPTING) || (l->st & (L_CLOSING | L_BACKOFF)) ||
	    coil_op_busy(&l->acc))
		return;
	ret = coil_accept(l->loop, &l->acc, l->fd, COIL_ACCEPT_MULTISHOT);
	if (ret < 0)
		backoff(l); /* out of memory for a parked SQE: retry later */
}

static void close_step(struct coil_listener *l)
{
	if (coil_op_busy(&l->acc) || coil_op_busy(&l->tmr) ||
	    (l->st & L_CLOSE_FD))
		return;
	l->st |= L_CLOSE_FD;
	coil_op_init(&l->acc, acc_cb);
	if (coil_close(l->loop, &l->acc, l->fd) < 0) {
		close(l->fd);
		coil_loop_post(l->loop, &l->acc, 0);
	}
}

static void close_done(struct coil_listener *l)
{
	coil_listener_close_cb cb = l->close_cb;
	l->fd = -1;
	l->st = 0;
	l->cb = NULL;
	l->close_cb = NULL;
	if (cb)
		cb(l);
}

static void acc_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_listener *l =
		coil_container_of(op, struct coil_listener, acc);

	if (l->st & L_CLOSE_FD) {
		close_done(l);
		return;
	}
	if (res >= 0) {
		/* A stop is asynchronous: what the kernel accepted before
		 * the cancel landed is handed out rather than reset. */
		if (!(l->st & L_CLOSING)) {
			l->accepted++;
			l->backoff_ns = 0;
			l->cb(l, res);
		} else {
			close(res);
		}
	} else if (res == -ECANCELED && (l->st & L_CANCEL)) {
		/* our stop */
	} else if (transient(res)) {
		/* re-armed below */
	} else if ((l->st & L_ACCEPTING) && !(l->st & L_CLOSING)) {
		if (resource(res)) {
			l->cb(l, res);
			if (!(l->st & L_CLOSING) && !(l->st & L_BACKOFF) &&
			    !coil_op_busy(&l->tmr))
				backoff(l);
		} else {
			l->st &= ~L_ACCEPTING;
			l->cb(l, res);
		}
	}
	if (flags & COIL_MORE)
		return;
	l->st &= ~L_CANCEL;
	if (l->st & L_CLOSING) {
		close_step(l);
		return;
	}
	arm(l);
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_listener *l =
		coil_container_of(op, struct coil_listener, tmr);
	l->st &= ~L_BACKOFF;
	if (l->st & L_CLOSING) {
		close_step(l);
		return;
	}
	arm(l);
}

int coil_listener_open(struct coil_loop *loop, struct coil_listener *l,
		       const struct sockaddr *addr, socklen_t len,
		       const struct coil_listener_opts *opts,
		       coil_listener_cb cb)
{
	struct coil_listener_opts o = {0};
	int one = 1, fd, backlog;
	void *data;

	if (!loop || !l || !addr || !cb)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (o.backlog < 0)
		return -EINVAL;
	if (addr->sa_family == AF_INET) {
		if (len < sizeof(struct sockaddr_in))
			return -EINVAL;
	} else if (addr->sa_family == AF_INET6) {
		if (len < sizeof(struct sockaddr_in6))
			return -EINVAL;
	} else {
		return -EAFNOSUPPORT;
	}
	backlog = o.backlog ? o.backlog : 511;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* accepted sockets inherit TCP_NODELAY on Linux; coil_tcp_open sets
	 * it again anyway */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    ((o.flags & COIL_LISTEN_REUSEPORT) &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    (addr->sa_family == AF_INET6 && (o.flags & COIL_LISTEN_V6ONLY) &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
		     0) ||
	    bind(fd, addr, len) < 0 || listen(fd, backlog) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}

	data = l->data;
	memset(l, 0, sizeof(*l));
	l->data = data;
	l->loop = loop;
	l->fd = fd;
	l->cb = cb;
	l->st = L_OPEN | L_ACCEPTING;
	coil_op_init(&l->acc, acc_cb);
	coil_op_init(&l->tmr, tmr_cb);
	arm(l);
	return 0;
}

static int check(const struct coil_listener *l)
{
	if (!l || !(l->st & L_OPEN))
		return -EINVAL;
	if (l->st & L_CLOSING)
		return COIL_ECLOSED;
	return 0;
}

int coil_listener_stop(struct coil_listener *l)
{
	int ret = check(l);
	if (ret < 0)
		return ret;
	l->st &= ~L_ACCEPTING;
	if (coil_op_busy(&l->acc) && !(l->st & L_CANCEL) &&
	    coil_cancel(l->loop, &l->acc) == 0)
		l->st |= L_CANCEL;
	if (l->st & L_BACKOFF)
		coil_timeout_remove(l->loop, &l->tmr);
	return 0;
}

int coil_listener_start(struct coil_listener *l)
{
	int ret = check(l);
	if (ret < 0)
		return ret;
	l->st |= L_ACCEPTING;
	arm(l);
	return 0;
}

int coil_listener_close(struct coil_listener *l, coil_listener_close_cb cb)
{
	if (!l || !(l->st & L_OPEN))
		return -EINVAL;
	if (l->st & L_CLOSING)
		return -EALREADY;
	coil_listener_stop(l);
	l->st |= L_CLOSING;
	l->close_cb = cb;
	close_step(l);
	return 0;
}

int coil_listener_addr(const struct coil_listener *l,
		       struct sockaddr_storage *ss, socklen_t *len)
{
	if (!l || !ss || !len || !(l->st & L_OPEN) || (l->st & L_CLOSE_FD))
		return -EINVAL;
	*len = sizeof(*ss);
	if (getsockname(l->fd, (struct sockaddr *)ss, len) < 0)
		return -errno;
	return 0;
}

int coil_listener_fd(const struct coil_listener *l)
{
	if (!l || !(l->st & L_OPEN) || (l->st & L_CLOSE_FD))
		return -1;
	return l->fd;
}
