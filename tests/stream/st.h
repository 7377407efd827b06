/*
 * tests/stream/st.h - what the stream tests share: addresses, a listener
 * that makes a struct peer (a coil_tcp stream) of each connection with the
 * test's read callback, an echo read callback, and clean-up checks.
 */
#ifndef COIL_TEST_ST_H
#define COIL_TEST_ST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"
#include "coil/stream.h"

#define MS (1000000ull)

/* A 20 ms tick keeps a waiting loop turn from blocking past the limit
 * when nothing else completes. */
struct st_tick {
	struct coil_op op;
	int armed;
};

static inline void st_tick_cb(struct coil_op *op, int res, unsigned flags)
{
	coil_container_of(op, struct st_tick, op)->armed = 0;
}

static inline void st_tick_arm(struct coil_loop *loop, struct st_tick *tk)
{
	if (!tk->armed && coil_timeout(loop, &tk->op, 20 * MS, 0) == 0)
		tk->armed = 1;
}

static inline void st_tick_end(struct coil_loop *loop, struct st_tick *tk)
{
	if (tk->armed) {
		coil_timeout_remove(loop, &tk->op);
		while (tk->armed)
			coil_loop_run(loop, COIL_RUN_ONCE);
	}
}

/* Run loop turns until @cond holds or @ms milliseconds passed. */
#define ST_RUN_UNTIL(loop, cond, ms)                                           \
	do {                                                                   \
		uint64_t end_ = tu_mono_ns() + (uint64_t)(ms)*MS;              \
		struct st_tick tk_ = {0};                                      \
		coil_op_init(&tk_.op, st_tick_cb);                             \
		while (!(cond) && tu_mono_ns() < end_) {                       \
			st_tick_arm((loop), &tk_);                             \
			coil_loop_run((loop), COIL_RUN_ONCE);                  \
		}                                                              \
		st_tick_end((loop), &tk_);                                     \
	} while (0)

/* Run until no op is in flight (or @ms passed). Return: ops left. */
static inline unsigned st_quiesce(struct coil_loop *loop, unsigned ms)
{
	uint64_t end = tu_mono_ns() + (uint64_t)ms * MS;
	struct st_tick tk = {0};
	coil_op_init(&tk.op, st_tick_cb);
	while (coil_loop_inflight(loop) > (unsigned)tk.armed &&
	       tu_mono_ns() < end) {
		st_tick_arm(loop, &tk);
		coil_loop_run(loop, COIL_RUN_ONCE);
	}
	st_tick_end(loop, &tk);
	return coil_loop_inflight(loop);
}

static inline struct sockaddr_storage st_v4(unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in a = tu_addr(port);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &a, sizeof(a));
	return ss;
}

static inline struct sockaddr_storage st_v6(unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	memset(&ss, 0, sizeof(ss));
	a.sin6_addr = in6addr_loopback;
	a.sin6_port = htons(port);
	memcpy(&ss, &a, sizeof(a));
	return ss;
}

/* A port on 127.0.0.1 that refuses connections: bound, not listening.
 * Keep *fd open while the port must stay refused. */
static inline unsigned short st_refused_port(int *fd)
{
	struct sockaddr_in a = tu_addr(0);
	socklen_t len = sizeof(a);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(*fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	return ntohs(a.sin_port);
}

/* ---- a server: listener + one struct peer per accepted connection ---- */

struct server;

struct peer {
	struct coil_tcp t;
	struct server *srv;
	struct peer *next;
	int closed;
	int eof;
	int err;
	size_t got;
	unsigned char *in; /* what arrived, if collecting */
	size_t in_cap;
	int user; /* the test's */
};

struct server {
	struct coil_loop *loop;
	struct coil_listener l;
	unsigned short port;
	coil_stream_read_cb read_cb; /* NULL: do not read */
	struct coil_tcp_opts topts;
	struct peer *peers;
	int accepted;
	int open; /* peers not closed yet */
	int listener_closed;
	int accept_errors;
	int accept_err;			 /* the last one */
	void (*on_peer)(struct peer *p); /* after the stream is set up */
};

static inline struct peer *st_peer(struct coil_stream *s)
{
	return coil_container_of(s, struct peer, t.s);
}

static inline void st_peer_closed(struct coil_stream *s)
{
	struct peer *p = st_peer(s);
	p->closed = 1;
	p->srv->open--;
}

static inline void st_on_conn(struct coil_listener *l, int fd)
{
	struct server *srv = l->data;
	struct peer *p;
	if (fd < 0) {
		srv->accept_errors++;
		srv->accept_err = fd;
		return;
	}
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->srv = srv;
	p->t.s.data = p;
	assert_int_equal(coil_tcp_open(srv->loop, &p->t, fd, &srv->topts), 0);
	p->next = srv->peers;
	srv->peers = p;
	srv->accepted++;
	srv->open++;
	if (srv->read_cb)
		assert_int_equal(coil_stream_read_start(&p->t.s, srv->read_cb),
				 0);
	if (srv->on_peer)
		srv->on_peer(p);
}

static inline void st_server_open(struct server *srv, struct coil_loop *loop,
				  coil_stream_read_cb read_cb)
{
	struct sockaddr_in a = tu_addr(0);
	struct sockaddr_storage ss;
	socklen_t len;
	srv->loop = loop;
	srv->read_cb = read_cb;
	srv->l.data = srv;
	assert_int_equal(coil_listener_open(loop, &srv->l,
					    (struct sockaddr *)&a, sizeof(a),
					    NULL, st_on_conn),
			 0);
	assert_int_equal(coil_listener_addr(&srv->l, &ss, &len), 0);
	srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static inline void st_listener_closed(struct coil_listener *l)
{
	struct server *srv = l->data;
	srv->listener_closed = 1;
}

/* Close the listener and every peer still open, run until all closed,
 * free the peers. */
static inline void st_server_close(struct server *srv)
{
	assert_int_equal(coil_listener_close(&srv->l, st_listener_closed), 0);
	for (struct peer *p = srv->peers; p; p = p->next) {
		if (!p->closed && !(p->t.s.flags & COIL_STREAM_CLOSING))
			assert_int_equal(
				coil_stream_close(&p->t.s, st_peer_closed), 0);
	}
	ST_RUN_UNTIL(srv->loop, srv->listener_closed && srv->open == 0, 10000);
	assert_true(srv->listener_closed);
	assert_int_equal(srv->open, 0);
	while (srv->peers) {
		struct peer *p = srv->peers;
		srv->peers = p->next;
		free(p->in);
		free(p);
	}
}

/* Append received bytes to p->in. */
static inline void st_collect(struct peer *p, const void *buf, size_t n)
{
	if (p->got + n > p->in_cap) {
		p->in_cap = (p->got + n) * 2;
		p->in = realloc(p->in, p->in_cap);
		assert_non_null(p->in);
	}
	memcpy(p->in + p->got, buf, n);
	p->got += n;
}

/* ---- echo: a read callback that writes back what came ---- */

struct echo_chunk {
	struct coil_stream_write w;
	size_t n;
	unsigned char data[];
};

static inline void st_echo_written(struct coil_stream_write *w, int status)
{
	free(w->data);
}

static inline void st_echo_shut(struct coil_stream_write *w, int status)
{
	struct peer *p = w->data;
	free(w);
	if (!p->closed && !(p->t.s.flags & COIL_STREAM_CLOSING))
		coil_stream_close(&p->t.s, st_peer_closed);
}

/* Echo; on EOF shut down our side after the echoes, then close. */
static inline void st_echo_read(struct coil_stream *s, ssize_t n,
				const void *buf)
{
	struct peer *p = st_peer(s);
	if (n > 0) {
		struct echo_chunk *c = malloc(sizeof(*c) + (size_t)n);
		assert_non_null(c);
		memset(&c->w, 0, sizeof(c->w));
		c->w.data = c;
		c->n = (size_t)n;
		memcpy(c->data, buf, (size_t)n);
		p->got += (size_t)n;
		if (coil_stream_write(s, &c->w, c->data, c->n,
				      st_echo_written) < 0)
			free(c);
		return;
	}
	if (n == 0) {
		struct coil_stream_write *w = calloc(1, sizeof(*w));
		assert_non_null(w);
		p->eof = 1;
		w->data = p;
		if (coil_stream_shutdown(s, w, st_echo_shut) < 0) {
			free(w);
			coil_stream_close(s, st_peer_closed);
		}
		return;
	}
	p->err = (int)n;
	coil_stream_close(s, st_peer_closed);
}

/* ---- a client ---- */

struct client {
	struct coil_tcp t;
	int connected; /* 1 ok, -1 failed */
	int status;
	int closed;
	int eof;
	int err;
	int reads_after_end;
	int cbs_after_close;
	size_t got;
	unsigned char *in;
	size_t in_cap;
	uint64_t t_done;
};

static inline struct client *st_client(struct coil_stream *s)
{
	return coil_container_of(s, struct client, t.s);
}

static inline void st_client_connected(struct coil_stream *s, int status)
{
	struct client *c = st_client(s);
	if (c->closed)
		c->cbs_after_close++;
	c->status = status;
	c->connected = status == 0 ? 1 : -1;
	c->t_done = tu_mono_ns();
}

static inline void st_client_closed(struct coil_stream *s)
{
	struct client *c = st_client(s);
	if (c->closed)
		c->cbs_after_close++;
	c->closed = 1;
}

/* Collect everything; remember EOF / error. */
static inline void st_client_read(struct coil_stream *s, ssize_t n,
				  const void *buf)
{
	struct client *c = st_client(s);
	if (c->closed)
		c->cbs_after_close++;
	if (c->eof || c->err)
		c->reads_after_end++;
	if (n > 0) {
		if (c->got + (size_t)n > c->in_cap) {
			c->in_cap = (c->got + (size_t)n) * 2;
			c->in = realloc(c->in, c->in_cap);
			assert_non_null(c->in);
		}
		memcpy(c->in + c->got, buf, (size_t)n);
		c->got += (size_t)n;
	} else if (n == 0) {
		c->eof = 1;
	} else {
		c->err = (int)n;
		c->t_done = tu_mono_ns();
	}
}

/* Connect c to 127.0.0.1:port and wait for the result. */
static inline int st_connect(struct coil_loop *loop, struct client *c,
			     unsigned short port, const struct coil_tcp_opts *o)
{
	static struct sockaddr_storage ss;
	ss = st_v4(port);
	assert_int_equal(
		coil_tcp_connect(loop, &c->t, &ss, 1, o, st_client_connected),
		0);
	ST_RUN_UNTIL(loop, c->connected, 10000);
	return c->status;
}

static inline void st_client_close(struct coil_loop *loop, struct client *c)
{
	assert_int_equal(coil_stream_close(&c->t.s, st_client_closed), 0);
	ST_RUN_UNTIL(loop, c->closed, 10000);
	assert_true(c->closed);
	free(c->in);
	c->in = NULL;
}

/* A loop with every op finished, then freed. */
static inline void st_loop_free(struct coil_loop *loop)
{
	assert_int_equal(st_quiesce(loop, 10000), 0);
	coil_loop_free(loop);
}

#endif
