/*
 * tests/server/srv.h - what the server tests share: an in-process server
 * (coil_http_threads_start() with one thread) and a blocking client that
 * speaks raw bytes over 127.0.0.1 and reads responses back with coil's own
 * response parser, with a receive timeout so that no test can hang.
 */
#ifndef COIL_TEST_SRV_H
#define COIL_TEST_SRV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/time.h>

#include "testutil.h"
#include "coil/http.h"

#define MS (1000000ull)

/* ---- the server ---- */

struct srv {
	struct coil_http_threads *t;
	unsigned short port;
};

/* Start @threads server threads on 127.0.0.1, port 0, with @o (addr and
 * handler filled in if unset). Exit 77 when io_uring is unavailable. */
static inline void srv_start(struct srv *s, struct coil_http_server_opts *o,
			     const struct coil_http_threads_opts *to)
{
	struct sockaddr_in a = tu_addr(0);
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	if (!o->addr) {
		o->addr = (const struct sockaddr *)&a;
		o->addr_len = sizeof(a);
	}
	ret = coil_http_threads_start(&s->t, o, to);
	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "skip: %s\n", coil_loop_strerror(ret));
		exit(COIL_SKIP);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(coil_http_threads_addr(s->t, &ss, &len), 0);
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	o->addr = NULL;
}

/* Stop (drain @drain_ms) and wait; returns coil_http_threads_wait(). */
static inline int srv_stop(struct srv *s, uint64_t drain_ms,
			   struct coil_http_server_stats *st)
{
	int ret;
	coil_http_threads_stop(s->t, drain_ms * MS);
	ret = coil_http_threads_wait(s->t, st);
	coil_http_threads_free(s->t);
	s->t = NULL;
	return ret;
}

/* ---- the client ---- */

/* A blocking TCP connection to 127.0.0.1:@port; reads time out after
 * @timeout_ms (so a missing answer fails the test instead of hanging). */
/* A blocking client connected to @a, with send and receive timeouts of
 * @timeout_ms. */
static inline int cl_connect_addr(const struct sockaddr_in *a,
				  unsigned timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		struct pollfd p = {fd, POLLOUT, 0};
		int err = 0;
		socklen_t el = sizeof(err);
		/* interrupted: the connect goes on; wait for its result */
		assert_int_equal(errno, EINTR);
		assert_int_equal(poll(&p, 1, (int)timeout_ms), 1);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		assert_int_equal(err, 0);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static inline int cl_connect_to(unsigned short port, unsigned timeout_ms)
{
	struct sockaddr_in a = tu_addr(port);
	return cl_connect_addr(&a, timeout_ms);
}

static inline int cl_connect(unsigned short port)
{
	return cl_connect_to(port, 10000);
}

static inline void cl_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static inline void cl_sends(int fd, const char *s)
{
	cl_send(fd, s, strlen(s));
}

/* Close with a reset (SO_LINGER 0): the peer's recv gets ECONNRESET. */
static inline void cl_reset(int fd)
{
	struct linger lg = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A response read back. */
struct resp {
	int status;
	int minor;
	int keep_alive;
	char head[8192];
	size_t head_len;
	char *body;
	size_t body_len;
	int chunked;
	int closed; /* the server closed after it (EOF seen) */
};

/* Input buffer of a client connection (bytes past the last response). */
struct cl_in {
	char buf[1 << 16];
	size_t len;
	int eof;
	int err;
};

static inline int cl_fill(int fd, struct cl_in *in)
{
	ssize_t n;
	if (in->len == sizeof(in->buf))
		return -ENOSPC;
	/* EINTR: a socket with SO_RCVTIMEO fails with it after the process
	 * was stopped and resumed, even without signal handlers (signal(7)) */
	do
		n = recv(fd, in->buf + in->len, sizeof(in->buf) - in->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		in->len += (size_t)n;
		return (int)n;
	}
	if (n == 0) {
		in->eof = 1;
		return 0;
	}
	in->err = -errno;
	return -errno;
}

static inline void cl_consume(struct cl_in *in, size_t n)
{
	memmove(in->buf, in->buf + n, in->len - n);
	in->len -= n;
}

/*
 * Read one response (after any 1xx, which it skips unless @keep_1xx).
 * Return: 0 and @r filled; -1 when the connection ended (or timed out)
 * before a complete response; r->body is malloc'd (free it).
 */
static inline int cl_response(int fd, struct cl_in *in, struct resp *r,
			      int head_req, int keep_1xx)
{
	struct coil_http_header hs[64];
	struct coil_http_msg m;
	struct coil_http_body b;
	size_t cap = 4096;
	int ret;

	memset(r, 0, sizeof(*r));
again:
	coil_http_msg_init(&m, hs, 64);
	for (;;) {
		ret = coil_http_parse_response(&m, in->buf, in->len,
					       head_req ? COIL_HTTP_PARSE_HEAD
							: 0);
		if (ret > 0)
			break;
		if (ret != COIL_HTTP_PARTIAL)
			return -1;
		if (cl_fill(fd, in) <= 0)
			return -1;
	}
	if (m.status < 200 && !keep_1xx) {
		cl_consume(in, (size_t)ret);
		goto again;
	}
	r->status = m.status;
	r->minor = m.minor_version;
	r->keep_alive = m.keep_alive;
	r->chunked = m.body == COIL_HTTP_BODY_CHUNKED;
	r->head_len = (size_t)ret < sizeof(r->head) - 1 ? (size_t)ret
							: sizeof(r->head) - 1;
	memcpy(r->head, in->buf, r->head_len);
	r->head[r->head_len] = '\0';
	cl_consume(in, (size_t)ret);
	coil_http_body_init(&b, &m, 0);
	if (b.kind == COIL_HTTP_BODY_NONE ||
	    (b.kind == COIL_HTTP_BODY_LENGTH && !b.remaining))
		b.done = 1;
	r->body = malloc(cap);
	assert_non_null(r->body);
	while (!b.done) {
		size_t n;
		if (in->len == 0) {
			int k = cl_fill(fd, in);
			if (k <= 0) {
				if (k == 0 && coil_http_body_eof(&b) == 0)
					break; /* close-delimited */
				goto fail;
			}
		}
		n = in->len;
		ret = coil_http_body_decode(&b, in->buf, &n);
		if (ret < 0 && ret != COIL_HTTP_PARTIAL)
			goto fail;
		while (r->body_len + n + 1 > cap)
			cap *= 2;
		r->body = realloc(r->body, cap);
		assert_non_null(r->body);
		memcpy(r->body + r->body_len, in->buf, n);
		r->body_len += n;
		if (ret == COIL_HTTP_PARTIAL)
			in->len = 0;
		else
			cl_consume(in, in->len - (size_t)ret);
	}
	r->body[r->body_len] = '\0';
	return 0;
fail:
	free(r->body);
	r->body = NULL;
	return -1;
}

/* Whether the server closes the connection within @ms (EOF or reset). */
static inline int cl_closed(int fd, struct cl_in *in, unsigned ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	uint64_t end = tu_mono_ns() + ms * MS;
	while (tu_mono_ns() < end) {
		int left = (int)((end - tu_mono_ns()) / MS) + 1;
		if (poll(&p, 1, left) <= 0)
			continue;
		int k = cl_fill(fd, in);
		if (k == 0 || k == -ECONNRESET)
			return 1;
		if (k < 0 && k != -EAGAIN && k != -ENOSPC)
			return 1;
		if (k == -ENOSPC)
			in->len = 0;
	}
	return 0;
}

/* A field's value in a response head, NUL-terminated in @out, or NULL. */
static inline const char *resp_field(const struct resp *r, const char *name,
				     char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = r->head;
	while ((p = strchr(p, '\n'))) {
		p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			if (!e || (size_t)(e - v) >= cap)
				return NULL;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return out;
		}
	}
	return NULL;
}

/* A client to 127.0.0.1:@port with a receive buffer of @rcvbuf bytes,
 * set before the connect so that the window the server sees stays small
 * (a slow or a stalled reader); reads time out after @timeout_ms. */
static inline int cl_connect_rcvbuf(unsigned short port, int rcvbuf,
				    unsigned timeout_ms)
{
	struct sockaddr_in a = tu_addr(port);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return c;
}

/* A reader that stalls: @req sent from a 2 KiB receive buffer, the
 * answer's first bytes read (the server has the request), nothing more.
 * Return: its descriptor, to close once the test is done with it. */
static inline int cl_stalled_reader(unsigned short port, const char *req)
{
	int c = cl_connect_rcvbuf(port, 2048, 10000);
	char head[64];
	ssize_t n;
	cl_sends(c, req);
	do
		n = recv(c, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	assert_true(n > 0);
	return c;
}

/*
 * A file cut short while it is sent: a client with a 4 KiB receive buffer
 * asks the server on @port for @target (the file at @path, @len bytes)
 * and reads the head (its Content-Length: @len) and 64 KiB of body; then
 * @path is truncated to 100 KiB and the client reads on. The response
 * must end (EOF or reset) within 5 s, short of its length.
 */
static inline void cl_truncate_while_sent(unsigned short port,
					  const char *target, const char *path,
					  uint64_t len)
{
	int c;
	char buf[4096], cl[64], *e;
	size_t got = 0, hlen = 0;
	ssize_t n;
	uint64_t t0;

	c = cl_connect_rcvbuf(port, 4096, 5000);
	snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
		 target);
	cl_sends(c, buf);
	snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n",
		 (unsigned long long)len);
	/* the head and the first bytes of the body */
	while (got < 65536) {
		n = recv(c, buf, sizeof(buf), 0);
		assert_true(n > 0);
		if (!hlen) {
			e = memmem(buf, (size_t)n, "\r\n\r\n", 4);
			assert_non_null(e);
			assert_non_null(memmem(buf, (size_t)(e + 2 - buf), cl,
					       strlen(cl)));
			hlen = (size_t)(e + 4 - buf);
		}
		got += (size_t)n;
	}
	assert_int_equal(truncate(path, 100 << 10), 0);
	/* then read on: the rest of what was queued, then the end */
	t0 = tu_mono_ns();
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
		got += (size_t)n;
	assert_true(n == 0 || errno == ECONNRESET);
	assert_true(tu_mono_ns() - t0 < 5000 * MS);
	assert_true(got - hlen < len);
	close(c);
}

/* cl_truncate_while_sent() of @path made a 32 MiB file (sparse) first. */
static inline void cl_truncated_while_sent(unsigned short port,
					   const char *target, const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 32 << 20), 0);
	close(fd);
	cl_truncate_while_sent(port, target, path, 32u << 20);
}

/* One request on a fresh connection: send @req, read one response. */
static inline int cl_once(unsigned short port, const char *req, struct resp *r)
{
	struct cl_in *in = calloc(1, sizeof(*in));
	int fd = cl_connect(port), ret;
	assert_non_null(in);
	cl_sends(fd, req);
	ret = cl_response(fd, in, r, strncmp(req, "HEAD ", 5) == 0, 0);
	if (ret == 0)
		r->closed = cl_closed(fd, in, r->keep_alive ? 0 : 2000);
	close(fd);
	free(in);
	return ret;
}

#endif
