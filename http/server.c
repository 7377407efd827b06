/*
 * http/server.c - the HTTP/1.1 server (RFC 9112, RFC 9110): a listener per
 * loop, connections from a free list, one request at a time per connection
 * (pipelined requests wait in the input buffer, so responses leave in
 * order), graceful shutdown. This file holds the server object, the
 * connections' set-up, input, failure and release, and the phase machine
 * (coil__sconn_process(), the connection's pump, guarded by C_INPROC and
 * run from the kick: docs/ARCHITECTURE.md, "The kick and the pump" and
 * "The server's phases"). Time limits are
 * http/server_time.c, request bodies http/server_body.c, output and
 * responses http/server_respond.c, file bodies http/server_file.c; what
 * they share is http/server_internal.h. The runner for N loops on N
 * threads is http/server_threads.c; path decoding and content types are
 * http/path.c.
 *
 * A connection's memory (http/server_mem.c has the lists): an idle
 * keep-alive connection holds its struct sconn only. When a request's
 * first bytes arrive it takes an exchange (struct sexch: the request,
 * its head buffer of max_head_bytes, where the head is copied so that the
 * handler may keep it across callbacks while further input arrives, the
 * header array, the output buffer and its writes, the file body), and
 * gives it back when it is idle again (conn_rest()). A head that arrives
 * whole in one read is parsed straight from the stream's buffer; an input
 * buffer is taken only for bytes that must outlive the read callback.
 *
 * Why one file of over 1,000 lines: the phase machine and the set-up,
 * input, HTTP/2 hand-over and release paths call each other through the
 * connection's flag word; every part that calls nothing back is in the
 * files named above. The hand-over (preface and ALPN, about 230 lines)
 * is the next to move out if it grows.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chars.h"
#include "filecache.h"
#include "server_internal.h"
#include "../engine/grow.h"

/* ---- connections: set-up and release ----------------------------------------
 */

static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf);

/* Reset the per-request state for the next request. */
static void req_reset(struct sconn *c)
{
	struct sexch *x = c->x;

	c->st &= ~(C_OWNED | C_BEGUN | C_DONE | C_CANCELLED | C_HOLD | C_FILE |
		   C_STREAM | C_CHUNKED | C_NOBODY | C_WBUSY | C_INTERNAL |
		   C_REPORTED | C_LENT);
	if (!x)
		return;
	coil_http_msg_reset(&x->msg);
	memset(&x->req, 0, sizeof(x->req));
	x->req.server = c->srv;
	x->req.loop = c->srv->loop;
	x->bmode = B_NONE;
	x->bstate = BS_GOING;
	x->berr = 0;
	x->expect = 0;
	x->sent_continue = 0;
	x->blen = 0;
	x->bcb = NULL;
	x->ccb = NULL;
	x->barg = NULL;
	x->rstatus = 0;
	x->rbytes = 0;
	x->rleft = 0;
	x->wcb = NULL;
	x->warg = NULL;
	x->cancel_fn = NULL;
	x->cancel_arg = NULL;
}

/* The connection's exchange, taken when a request begins. Return: 0;
 * -ENOMEM. */
static int x_attach(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct sexch *x;

	if (c->x)
		return 0;
	x = coil__x_new(srv);
	if (!x)
		return -ENOMEM;
	x->c = c;
	x->olen = x->oq = 0;
	x->o_inflight = 0;
	x->slot_busy = 0;
	x->heap_slots = 0;
	x->ffd = -1;
	x->fent = NULL;
	x->fb = NULL;
	x->fwait = 0;
	x->berr_pending = 0;
	coil_http_msg_init(&x->msg, x->hdrs, srv->hdrs_inline);
	x->msg.max_head_bytes = srv->o.max_head_bytes;
	coil_op_init(&x->fop, coil__file_op_cb);
	coil_op_init(&x->fsf.op, coil__file_sendfile_cb);
	coil_op_init(&x->cop, coil__file_close_cb);
	coil_op_init(&x->wop, coil__respond_wop_cb);
	memset(&x->wshut, 0, sizeof(x->wshut));
	c->x = x;
	req_reset(c);
	return 0;
}

/* Nothing of the exchange is in use (no request, write or file op)? */
static int x_unused(const struct sconn *c)
{
	const struct sexch *x = c->x;
	return !(c->st & (C_OWNED | C_FILE)) && !x->slot_busy &&
	       !x->heap_slots && !coil_op_busy(&x->fop) &&
	       !coil_op_busy(&x->fsf.op) && !coil_op_busy(&x->cop) &&
	       !coil_op_busy(&x->wop) && x->ffd < 0;
}

/* The exchange goes back to the server's list (its file buffer to the
 * server's cache). */
static void x_drop(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct sexch *x = c->x;

	if (x->fb) {
		if (srv->nfbufs < FBUF_CACHE) {
			x->fb->next = srv->fbufs;
			srv->fbufs = x->fb;
			srv->nfbufs++;
		} else {
			free(x->fb);
		}
		x->fb = NULL;
	}
	c->x = NULL;
	c->st &= ~C_FSENT;
	coil__x_put(srv, x);
}

/* Give the input buffer back once everything in it is consumed (and no
 * body piece in it is lent to the handler). */
static void in_release(struct sconn *c)
{
	struct ibuf *b = sconn_ibuf(c);

	if (!b || b->v.pos != b->v.len || (c->st & C_LENT))
		return;
	coil__ibuf_put(c->srv, b);
	c->in = NULL;
}

/* Consume whatever input is held (the connection no longer reads it). */
static void in_drop(struct sconn *c)
{
	if (c->in)
		c->in->pos = c->in->len;
}

/*
 * Between requests with nothing in flight, the connection is idle: its
 * exchange and input buffer go back to the server's lists, so an idle
 * keep-alive connection holds only its struct.
 */
static void conn_rest(struct sconn *c)
{
	struct sexch *x = c->x;

	if (c->phase != P_HEAD || sconn_in_left(c) ||
	    (c->st & (C_DEAD | C_BORROWED)))
		return;
	in_release(c);
	if (!x || !x_unused(c) || x->olen > x->oq)
		return;
	x_drop(c);
}

/*
 * The connection is about to rest (a request answered at once, no more
 * input, nothing else of its exchange in use): its answer leaves from a
 * block of its own, so that conn_rest() gives the exchange back now, not
 * when the send completed (a burst of N first requests then needs one
 * exchange, not N). Return: 1 if it did.
 */
static int out_detach(struct sconn *c)
{
	if (c->phase != P_HEAD || sconn_in_left(c) || (c->st & C_EOF) ||
	    !x_unused(c))
		return 0;
	return coil__out_detach(c) == 0;
}

static void srv_listener_cb(struct coil_listener *l, int fd);
static void conn_release(struct sconn *c);

/* ---- HTTP/2: the hand-over to http/server_h2.c ------------------------------
 */

/* The HTTP/2 session and its streams are over and the stream is closed:
 * the connection goes back (server_h2.c's only way back into this file). */
static void h2_gone(struct sconn *c, int err)
{
	c->h2 = NULL;
	if (err < 0)
		c->srv->stats.resets++;
	c->st |= C_DEAD | C_CLOSED;
	conn_release(c);
}

/* From here on the connection is HTTP/2's (RFC 9113 §3.2, §3.3): the
 * session reads and writes the stream; @pre, bytes read already, are its
 * first input (copied). */
static void h2_start(struct sconn *c, const void *pre, size_t n)
{
	int ret;

	coil__tl_remove(c);
	c->phase = P_H2;
	ret = coil__h2_serve(c, pre, n, h2_gone);
	in_drop(c);
	in_release(c);
	if (ret < 0) {
		c->phase = P_CLOSING;
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, ret);
	}
}

/* The client preface of HTTP/2 with prior knowledge (RFC 9113 §3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/*
 * A first request on plain TCP, with HTTP/2 on: 1 when the input is the
 * preface (0: the start of it, wait for more), -1 when it is not.
 */
static int h2_prior_knowledge(const struct sconn *c)
{
	size_t n = sconn_in_left(c), k = sizeof(h2_preface) - 1;

	if (!(c->srv->o.flags & COIL_HTTP_SERVER_H2) || c->nreq ||
	    c->s != &c->tcp.s)
		return -1;
	if (memcmp(sconn_in_at(c), h2_preface, n < k ? n : k) != 0)
		return -1;
	return n >= k ? 1 : 0;
}

/* The handshake ended: a failure ends the connection (the lower stream is
 * closed already; closing the TLS stream completes it). ALPN "h2" with
 * HTTP/2 on hands the connection over. */
static void tls_done_cb(struct coil_stream *s, int status)
{
	struct sconn *c = s->data;
	if (status < 0) {
		c->srv->stats.tls_failures++;
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, status);
		return;
	}
	if ((c->srv->o.flags & COIL_HTTP_SERVER_H2) &&
	    !strcmp(coil_tls_info(sconn_tls(c))->alpn, "h2"))
		h2_start(c, NULL, 0);
}

static void conn_start(struct coil_http_server *srv, int fd)
{
	struct sconn *c = coil__conn_new(srv);
	int ret;

	if (!c) {
		close(fd);
		srv->stats.refused++;
		return;
	}
	c->tcp.s.data = c;
	ret = coil_tcp_open(srv->loop, &c->tcp, fd, &srv->topts);
	if (ret < 0) {
		close(fd);
		coil__conn_put(c);
		return;
	}
	c->s = &c->tcp.s;
	if (srv->o.tls) {
		/* the handshake must fit in the time a first head has */
		struct coil_tls_opts to = {.handshake_timeout_ns =
						   srv->o.header_timeout_ns};
		struct coil_tls *tls = sconn_tls(c);
		tls->s.data = c;
		ret = coil_tls_open(tls, &c->tcp.s, srv->o.tls, &to,
				    tls_done_cb);
		if (ret == 0)
			c->s = &tls->s;
	}
	c->x = NULL;
	c->h2 = NULL;
	c->st = 0;
	c->phase = P_HEAD;
	c->nreq = 0;
	c->in = NULL;
	c->peer4 = 0;
	c->tlist = TL_NONE;
	c->t_prev = c->t_next = NULL;
	sconn_head_begins(c);
	/* link */
	c->all_prev = NULL;
	c->all_next = srv->all;
	if (srv->all)
		srv->all->all_prev = c;
	srv->all = c;
	srv->stats.conns++;
	if (srv->stats.conns > srv->stats.conns_max)
		srv->stats.conns_max = srv->stats.conns;
	coil__mem_opened(srv);
	if (ret == 0)
		ret = coil_stream_read_start(c->s, conn_read_cb);
	if (ret < 0) {
		coil__sconn_fail(c, ret);
		return;
	}
	coil__sconn_retime(c);
}

static void srv_listener_cb(struct coil_listener *l, int fd)
{
	struct coil_http_server *srv =
		coil_container_of(l, struct coil_http_server, lis);

	if (fd < 0)
		return; /* the listener backs off by itself (EMFILE ...) */
	srv->stats.accepted++;
	if (srv->st & S_SHUTDOWN) {
		close(fd);
		return;
	}
	conn_start(srv, fd);
	if (srv->stats.conns >= srv->o.max_conns &&
	    !(srv->st & (S_LIS_FULL | S_SHUTDOWN))) {
		if (coil_listener_stop(&srv->lis) == 0)
			srv->st |= S_LIS_FULL;
	}
}

/* Give the connection back once nothing refers to it any more. */
static void conn_release(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct sexch *x = c->x;
	struct ibuf *b = sconn_ibuf(c);

	if (!(c->st & C_CLOSED) || (c->st & (C_OWNED | C_ANS | C_KICKED)))
		return;
	if (x && (coil_op_busy(&x->fop) || coil_op_busy(&x->fsf.op) ||
		  coil_op_busy(&x->cop) || coil_op_busy(&x->wop) ||
		  x->slot_busy || x->heap_slots))
		return;
	if (x && x->fent) {
		/* a file body cut short: the cache's descriptor stays open */
		coil__fcache_unref(srv->fc, x->fent);
		x->fent = NULL;
		x->ffd = -1;
	}
	if (x && x->ffd >= 0) {
		/* a file body cut short: close it through the ring */
		int fd = x->ffd;
		x->ffd = -1;
		if (coil_close(srv->loop, &x->cop, fd) == 0)
			return;
		close(fd);
	}
	coil__sconn_report(c);
	coil__tl_remove(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		srv->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	srv->stats.conns--;
	c->st = 0;
	if (x)
		x_drop(c);
	if (b)
		coil__ibuf_put(srv, b);
	c->in = NULL;
	coil__conn_put(c);
	coil__mem_closed(srv);
	if ((srv->st & S_LIS_FULL) && srv->stats.conns < srv->o.max_conns &&
	    !(srv->st & S_SHUTDOWN)) {
		srv->st &= ~S_LIS_FULL;
		coil_listener_start(&srv->lis);
	}
	coil__srv_shutdown_check(srv);
}

/* Call the handler's cancel hook once, if it holds the request. */
static void conn_cancel_hook(struct sconn *c)
{
	if (!(c->st & C_OWNED) || (c->st & (C_INTERNAL | C_CANCELLED)))
		return;
	c->st |= C_CANCELLED;
	if (c->x->cancel_fn)
		c->x->cancel_fn(&c->x->req, c->x->cancel_arg);
}

/* Tell the handler that its connection is gone (from the loop). */
static void conn_notify(struct sconn *c)
{
	if (!c->x)
		return;
	if (c->phase == P_REQ && c->x->bstate == BS_GOING &&
	    (c->st & C_OWNED) &&
	    (c->x->bmode == B_BUFFER || c->x->bmode == B_STREAM))
		coil__body_fail(c, c->x->berr_pending);
	conn_cancel_hook(c);
}

static void conn_kicked(struct sconn *c)
{
	if (c->st & C_DEAD) {
		conn_notify(c);
		if (c->x)
			coil__file_resume(c); /* ends a file body */
		conn_release(c);
		return;
	}
	coil__sconn_process(c);
}

/*
 * The server's kick op: the pumps of the connections kicked since it was
 * posted, in the order they were kicked. The list is taken whole first,
 * so a connection kicked again from a pump (or a new one) waits for the
 * next turn, as its own posted op would. A listed connection is never
 * released (conn_release() waits for C_KICKED to clear), so the next
 * one's link stays valid while this one is served and maybe freed.
 */
static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_server *srv =
		coil_container_of(op, struct coil_http_server, kick);
	struct sconn *c = srv->kq_head, *next;

	srv->kq_head = srv->kq_tail = NULL;
	for (; c; c = next) {
		next = c->k_next;
		c->st &= ~C_KICKED;
		conn_kicked(c);
	}
}

/* ---- input ------------------------------------------------------------------
 */

/* Keep @n bytes of input in the connection's own buffer (taken from the
 * server's list when it has none). */
static int in_append(struct sconn *c, const void *buf, size_t n)
{
	struct ibuf *b = sconn_ibuf(c);

	if (!b) {
		b = coil__ibuf_new(c->srv);
		if (!b)
			return -ENOMEM;
		c->in = &b->v;
	}
	if (b->v.pos == b->v.len)
		b->v.pos = b->v.len = 0;
	if (b->cap - sizeof(*b) - b->v.len < n) {
		if (b->v.pos) {
			memmove(b->data, b->data + b->v.pos,
				b->v.len - b->v.pos);
			b->v.len -= b->v.pos;
			b->v.pos = 0;
		}
		if (b->cap - sizeof(*b) - b->v.len < n) {
			size_t cap = b->cap;
			struct ibuf *nb = coil__grow(
				b, &cap, sizeof(*b) + b->v.len + n, IBUF_INIT);
			if (!nb)
				return -ENOMEM;
			nb->cap = cap;
			nb->v.base = nb->data;
			c->in = &nb->v;
			b = nb;
		}
	}
	memcpy(b->data + b->v.len, buf, n);
	b->v.len += n;
	return 0;
}

/* End borrowing the stream's read buffer: what is left of it (a partial
 * head, a body, pipelined requests) is copied into the connection's own
 * buffer. Return: 0; -ENOMEM. */
static int in_keep(struct sconn *c)
{
	const struct sinput *v = c->in;

	if (!(c->st & C_BORROWED))
		return 0;
	c->st &= ~C_BORROWED;
	c->in = NULL;
	if (!v || v->pos == v->len || (c->st & C_DEAD))
		return 0;
	return in_append(c, v->base + v->pos, v->len - v->pos);
}

/* Bytes of input a connection may hold without consuming them. */
static size_t in_high(const struct sconn *c)
{
	size_t h = c->srv->o.max_head_bytes;
	return h < 16384 ? 16384 : h;
}

/* A head arrived with no input held: parse it where it lies (the view
 * @v on this stack frame), then keep what is left. */
static void in_borrow(struct sconn *c, const void *buf, size_t n)
{
	struct sinput v = {.base = buf, .len = n, .pos = 0};

	sconn_head_begins(c);
	c->in = &v;
	c->st |= C_BORROWED;
	coil__sconn_process(c);
	if (in_keep(c) < 0)
		coil__sconn_fail(c, -ENOMEM);
	else
		conn_rest(c);
}

/*
 * Bytes arrived. Between requests, with nothing kept from before, the
 * head is parsed straight from the stream's buffer (C_BORROWED), so a
 * connection whose requests come whole never needs an input buffer;
 * otherwise the bytes join the connection's own.
 */
static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct sconn *c = s->data;

	if (c->st & C_DEAD)
		return;
	if (n > 0) {
		if (c->phase == P_CLOSING && (c->st & C_SHUT))
			return; /* lingering: drop */
		if (c->phase == P_HEAD && !sconn_in_left(c)) {
			in_release(c);
			if (!c->in) {
				in_borrow(c, buf, (size_t)n);
				return;
			}
		}
		if (in_append(c, buf, (size_t)n) < 0) {
			coil__sconn_fail(c, -ENOMEM);
			return;
		}
		if (c->phase == P_REQ || c->phase == P_DISCARD)
			coil__sconn_progress(c, TL_BODY);
	} else if (n == 0 || n == COIL_ETRUNC) {
		/* COIL_ETRUNC: a TLS client that closed without close_notify;
		 * HTTP's own framing tells whether anything is missing */
		c->st |= C_EOF;
	} else {
		coil__sconn_fail(c, (int)n);
		return;
	}
	coil__sconn_process(c);
}

static void set_reading(struct sconn *c, int want)
{
	if (c->st & (C_DEAD | C_EOF))
		return;
	if (want && (c->st & C_PAUSED)) {
		c->st &= ~C_PAUSED;
		if (coil_stream_read_start(c->s, conn_read_cb) < 0)
			coil__sconn_fail(c, -EPIPE);
	} else if (!want && !(c->st & C_PAUSED)) {
		c->st |= C_PAUSED;
		coil_stream_read_stop(c->s);
	}
}

/* ---- the state machine ------------------------------------------------------
 */

/* Status for a head the parser refused: 431 for a limit, 505 when the
 * request line names a major version other than 1 (the parser stops at
 * the version's first digit, so the line may be incomplete), else 400. */
static int head_error_status(const struct sconn *c, int err)
{
	const char *p = sconn_in_at(c);
	size_t len = sconn_in_left(c), i;
	const char *eol;

	if (err == COIL_ELIMIT)
		return 431;
	eol = memchr(p, '\n', len);
	if (eol)
		len = (size_t)(eol - p);
	for (i = 0; i + 6 < len; i++) {
		if (p[i] == ' ' && memcmp(p + i + 1, "HTTP/", 5) == 0) {
			char d = p[i + 6];
			if (d >= '0' && d <= '9' && d != '1')
				return 505;
			break;
		}
	}
	return 400;
}

/* scheme "://" at the start of @p (any case), its length or 0 */
static size_t abs_scheme(const char *p, size_t len)
{
	if (len >= 7 && ch_ieq(p, "http://", 7))
		return 7;
	if (len >= 8 && ch_ieq(p, "https://", 8))
		return 8;
	return 0;
}

/*
 * An absolute-form target (RFC 9112 §3.2.2, "GET http://x/p?q HTTP/1.1"):
 * a server MUST accept it; the host is the target's authority (it wins
 * over the Host field) and the path starts after it ("/" when empty).
 */
static void target_absolute(struct coil_http_sreq *r)
{
	size_t sl = abs_scheme(r->target, r->path_len), a;

	if (!sl)
		return;
	for (a = sl; a < r->path_len && r->target[a] != '/'; a++)
		;
	r->host = r->target + sl;
	r->host_len = a - sl;
	if (a < r->path_len) {
		r->path = r->target + a;
		r->path_len -= a;
	} else {
		r->path = "/";
		r->path_len = 1;
	}
}

/*
 * The head has more fields than the connection's own array holds (64):
 * move to one of max_headers and parse the head again (rare, so idle
 * connections stay small; the limit that matters is max_head_bytes, as
 * with nginx's large_client_header_buffers). Return: 0 to parse again,
 * else the limit stands.
 */
static int heads_grow(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct coil_http_msg *m = &c->x->msg;

	if (m->nheaders < m->max_headers || c->x->xhdrs ||
	    srv->o.max_headers <= srv->hdrs_inline)
		return -1;
	c->x->xhdrs = malloc(srv->o.max_headers * sizeof(*c->x->xhdrs));
	if (!c->x->xhdrs)
		return -1;
	coil_http_msg_reset(m);
	m->headers = c->x->xhdrs;
	m->max_headers = srv->o.max_headers;
	return 0;
}

/* Copy the head (@hlen bytes of input) where the request keeps it and
 * point the request at it. Return: 0; -ENOMEM. */
static int head_take(struct sconn *c, size_t hlen)
{
	const char *base = sconn_in_at(c);
	struct sexch *x = c->x;
	char *h = x->hbuf;
	struct coil_http_msg *m = &c->x->msg;
	struct coil_http_sreq *r = &c->x->req;
	const char *q;

	if (hlen > c->srv->hbuf_inline) {
		/* a long head (cookies...): one of max_head_bytes */
		if (!x->xhbuf)
			x->xhbuf = malloc(c->srv->o.max_head_bytes);
		if (!x->xhbuf)
			return -ENOMEM;
		h = x->xhbuf;
	}
#define RELOC(p) (h + ((p)-base))
	memcpy(h, base, hlen);
	r->method = RELOC(m->method);
	r->method_len = m->method_len;
	r->target = RELOC(m->target);
	r->target_len = m->target_len;
	for (unsigned i = 0; i < m->nheaders; i++) {
		m->headers[i].name = RELOC(m->headers[i].name);
		m->headers[i].value = RELOC(m->headers[i].value);
	}
#undef RELOC
	r->headers = m->headers;
	r->nheaders = m->nheaders;
	r->major_version = 1;
	r->minor_version = m->minor_version;
	r->body_kind = m->body;
	r->content_length = m->content_length;
	r->is_head = m->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
	q = memchr(r->target, '?', r->target_len);
	r->path = r->target;
	if (q) {
		r->path_len = (size_t)(q - r->target);
		r->query = q + 1;
		r->query_len = r->target_len - r->path_len - 1;
	} else {
		r->path_len = r->target_len;
		r->query = r->target + r->target_len;
		r->query_len = 0;
	}
	r->host = coil_http_sreq_header(r, "host", &r->host_len);
	target_absolute(r);
	c->in->pos += hlen;
	return 0;
}

/* A complete head: checks the server makes, then the handler. */
static void start_request(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	size_t elen;
	const char *ev;

	c->nreq++;
	coil_http_body_init(&c->x->body, &c->x->msg, 0);
	if (c->x->body.kind == COIL_HTTP_BODY_NONE ||
	    (c->x->body.kind == COIL_HTTP_BODY_LENGTH && !c->x->body.remaining))
		c->x->body.done = 1; /* nothing to read (RFC 9112 §6.3) */
	c->phase = P_REQ;
	c->st |= C_OWNED;
	if (!c->x->msg.keep_alive)
		c->st |= C_CLOSE;
	ev = coil_http_sreq_header(&c->x->req, "expect", &elen);
	if (ev) {
		if (elen == 12 && ch_ieq(ev, "100-continue", 12)) {
			c->x->expect = c->x->req.minor_version >= 1;
		} else {
			c->st &= ~C_OWNED;
			coil__send_error(c, 417);
			return;
		}
	}
	if (c->x->msg.body == COIL_HTTP_BODY_LENGTH &&
	    c->x->msg.content_length > srv->o.max_body_bytes) {
		c->st &= ~C_OWNED;
		coil__send_error(c, 413);
		return;
	}
	srv->stats.requests++;
	srv->o.handler(&c->x->req, srv->o.arg);
}

/* The response is out and the handler let go: on to the next request. */
static void finish_request(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	int close_it = (c->st & (C_CLOSE | C_SHORT)) != 0;

	coil__sconn_report(c);
	if (!close_it && c->x->bstate == BS_GOING && c->x->body.kind != 0 &&
	    !c->x->body.done) {
		if (coil__body_discardable(c)) {
			c->x->bmode = B_DISCARD;
			c->x->discard_left = DISCARD_MAX;
			c->phase = P_DISCARD;
			return;
		}
		close_it = 1;
	}
	if (c->x->bstate == BS_FAILED)
		close_it = 1;
	if (srv->o.max_requests && c->nreq >= srv->o.max_requests)
		close_it = 1;
	if (srv->st & S_SHUTDOWN)
		close_it = 1;
	if (close_it) {
		c->st |= C_CLOSE;
		c->phase = P_CLOSING;
		return;
	}
	req_reset(c);
	c->phase = P_HEAD;
	sconn_head_begins(c);
}

static void shut_cb(struct coil_stream_write *w, int status)
{
	struct sconn *c = coil_container_of(w, struct sexch, wshut)->c;
	if (status < 0) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	coil__sconn_retime(c);
}

/* P_CLOSING: once everything queued is sent, FIN and linger (or close at
 * once when the client already closed its side). */
static void closing_step(struct sconn *c)
{
	struct sexch *x = c->x;

	if (sconn_out_busy(c) || (c->st & (C_OWNED | C_FILE)))
		return;
	if (x && x->olen > x->oq) {
		coil__out_flush(c);
		return;
	}
	if (c->st & C_SHUT) {
		if (c->st & C_EOF) {
			c->st |= C_CLOSE_CLEAN;
			coil__sconn_fail(c, 0);
		}
		return;
	}
	/* without an exchange the connection sent nothing since its last
	 * response was out: nothing to linger for */
	if ((c->st & (C_EOF | C_CLOSE_CLEAN)) || c->srv->o.linger_ns == 0 ||
	    !x) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	if (coil_stream_shutdown(c->s, &x->wshut, shut_cb) < 0) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	c->st |= C_SHUT;
	/* lingering: read and drop whatever the client still sends */
	in_drop(c);
	set_reading(c, 1);
}

void coil__sconn_process(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	int r;

	if (c->st & (C_INPROC | C_DEAD))
		return;
	c->st |= C_INPROC;
	if (c->x)
		coil__file_resume(c);
	for (;;) {
		if (c->st & C_DEAD)
			break;
		if (c->phase == P_HEAD) {
			if (srv->st & S_SHUTDOWN && !sconn_in_left(c)) {
				c->st |= C_CLOSE | C_CLOSE_CLEAN;
				c->phase = P_CLOSING;
				continue;
			}
			if (!sconn_in_left(c)) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			r = h2_prior_knowledge(c);
			if (r == 0 && !(c->st & C_EOF))
				break;
			if (r == 1) {
				h2_start(c, sconn_in_at(c), sconn_in_left(c));
				break;
			}
			if (!c->x && x_attach(c) < 0) {
				coil__sconn_fail(c, -ENOMEM);
				break;
			}
			if (!coil__out_room(c)) {
				coil__out_flush(c);
				break;
			}
			r = coil_http_parse_request(&c->x->msg, sconn_in_at(c),
						    sconn_in_left(c));
			if (r == COIL_HTTP_PARTIAL) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (r == COIL_ELIMIT && heads_grow(c) == 0)
				continue;
			if (r < 0) {
				coil__send_error(c, head_error_status(c, r));
				continue;
			}
			if (head_take(c, (size_t)r) < 0 || in_keep(c) < 0) {
				coil__sconn_fail(c, -ENOMEM);
				break;
			}
			start_request(c);
			continue;
		}
		if (c->phase == P_REQ) {
			if ((c->st & C_OWNED) && c->x->bmode != B_NONE &&
			    (c->x->bstate == BS_GOING ||
			     c->x->bstate == BS_ENDED) &&
			    coil__body_step(c))
				continue;
			if ((c->st & C_OWNED) || !(c->st & C_DONE))
				break;
			finish_request(c);
			continue;
		}
		if (c->phase == P_DISCARD) {
			coil__body_step(c);
			if (c->x->bstate == BS_GOING) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (c->x->bstate == BS_FAILED) {
				c->phase = P_CLOSING;
				continue;
			}
			req_reset(c);
			c->phase = P_HEAD;
			sconn_head_begins(c);
			continue;
		}
		/* P_CLOSING */
		closing_step(c);
		break;
	}
	c->st &= ~C_INPROC;
	if (c->phase == P_H2)
		return; /* the session's from here on */
	if (!(c->st & C_DEAD) && c->x && !out_detach(c))
		coil__out_flush(c);
	if (c->st & C_DEAD)
		return; /* conn_kicked() tells the handler and releases */
	/* reading: keep going while input is consumed or small */
	{
		int want;
		if (c->phase == P_CLOSING)
			want = (c->st & C_SHUT) != 0;
		else if (c->st & C_LENT)
			want = 0;
		else if (c->phase == P_DISCARD ||
			 (c->phase == P_REQ && c->x->bstate == BS_GOING &&
			  (c->x->bmode == B_BUFFER || c->x->bmode == B_STREAM)))
			want = 1;
		else
			want = sconn_in_left(c) < in_high(c);
		set_reading(c, want);
	}
	conn_rest(c);
	coil__sconn_retime(c);
}

/* ---- time limits: what expiring means (the lists are http/server_time.c)
 */

static void expire(struct sconn *c, unsigned kind)
{
	struct coil_http_server *srv = c->srv;

	coil__tl_remove(c);
	srv->stats.timeouts++;
	switch (kind) {
	case TL_HEADER:
		if (c->phase == P_HEAD && !sconn_in_left(c)) {
			/* a connection that never sent a byte */
			c->st |= C_CLOSE_CLEAN;
			coil__sconn_fail(c, 0);
			break;
		}
		coil__send_error(c, 408);
		coil__sconn_process(c);
		break;
	case TL_BODY:
		if (c->phase == P_REQ && c->x->bstate == BS_GOING) {
			coil__body_fail(c, -ETIMEDOUT);
			coil__sconn_process(c);
		} else {
			coil__sconn_fail(c, -ETIMEDOUT);
		}
		break;
	case TL_IDLE:
	case TL_LINGER:
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		break;
	default:
		coil__sconn_fail(c, -ETIMEDOUT);
		break;
	}
}

static void tick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_server *srv =
		coil_container_of(op, struct coil_http_server, tmr);
	uint64_t t = coil_now(srv->loop);

	if (srv->st & S_DONE)
		return;
	for (unsigned k = 1; k < TL_N; k++) {
		struct sconn *c;
		while ((c = srv->tl[k].head) && c->deadline <= t)
			expire(c, k);
	}
	coil__mem_tick(srv);
	coil__tl_arm(srv);
	coil__srv_shutdown_check(srv);
}

/* ---- the server
 * ----------------------------------------------------------------
 */

static void lis_closed_cb(struct coil_listener *l)
{
	struct coil_http_server *srv =
		coil_container_of(l, struct coil_http_server, lis);
	srv->st |= S_LIS_CLOSED;
	coil__srv_shutdown_check(srv);
}

static void dtmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_server *srv =
		coil_container_of(op, struct coil_http_server, dtmr);
	if (res == 0 && srv->all) {
		/* drain time is up: cut what is left */
		srv->st |= S_CUT;
		for (struct sconn *c = srv->all, *next; c; c = next) {
			next = c->all_next;
			if (!(c->st & C_DEAD)) {
				c->st |= C_CLOSE_CLEAN;
				coil__sconn_fail(c, -ECANCELED);
			}
		}
	}
	coil__srv_shutdown_check(srv);
}

void coil__srv_shutdown_check(struct coil_http_server *srv)
{
	if (!(srv->st & S_SHUTDOWN) || (srv->st & S_DONE) || srv->all ||
	    !(srv->st & S_LIS_CLOSED))
		return;
	if (coil_op_busy(&srv->dtmr)) {
		coil_timeout_remove(srv->loop, &srv->dtmr);
		return;
	}
	if (coil_op_busy(&srv->tmr)) {
		if (!(srv->st & S_SHUTDOWN_T) &&
		    coil_timeout_remove(srv->loop, &srv->tmr) == 0)
			srv->st |= S_SHUTDOWN_T;
		return;
	}
	if (coil__fcache_stop(srv->fc, &srv->fcstop))
		return; /* fcstop_cb checks again */
	srv->st |= S_DONE;
	if (srv->done)
		coil_loop_post(srv->loop, srv->done, (srv->st & S_CUT) ? 1 : 0);
}

/* The open-file cache's poll has ended (coil__fcache_stop()). */
static void fcstop_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	coil__srv_shutdown_check(
		coil_container_of(op, struct coil_http_server, fcstop));
}

int coil_http_server_shutdown(struct coil_http_server *srv, uint64_t drain_ns,
			      struct coil_op *done)
{
	if (!srv)
		return -EINVAL;
	if (srv->st & S_SHUTDOWN)
		return -EALREADY;
	srv->st |= S_SHUTDOWN;
	srv->done = done;
	srv->fcstop.cb = fcstop_cb;
	if (coil_listener_close(&srv->lis, lis_closed_cb) < 0)
		srv->st |= S_LIS_CLOSED;
	/* idle connections go now; the others after their response */
	for (struct sconn *c = srv->all, *next; c; c = next) {
		next = c->all_next;
		if (c->st & C_DEAD)
			continue;
		if (c->phase == P_H2) {
			if (c->h2) /* GOAWAY; its streams finish */
				coil__h2_shutdown(c->h2);
			continue;
		}
		if (c->phase == P_HEAD && !sconn_in_left(c) &&
		    !sconn_out_busy(c)) {
			c->st |= C_CLOSE_CLEAN;
			coil__sconn_fail(c, 0);
		} else {
			coil__sconn_kick(c);
		}
	}
	if (srv->all) {
		if (drain_ns > MAX_TIMEOUT_NS)
			drain_ns = MAX_TIMEOUT_NS;
		coil_timeout(srv->loop, &srv->dtmr, drain_ns, 0);
	}
	coil__srv_shutdown_check(srv);
	return 0;
}

static uint64_t dflt(uint64_t v, uint64_t d)
{
	return v ? v : d;
}

int coil_http_server_new(struct coil_http_server **out, struct coil_loop *loop,
			 const struct coil_http_server_opts *opts)
{
	struct coil_http_server *srv;
	struct coil_listener_opts lo = {0};
	struct coil_http_server_opts o;
	int ret;

	if (!out || !loop || !opts || !opts->handler || !opts->addr)
		return -EINVAL;
	o = *opts;
	o.max_head_bytes = dflt(o.max_head_bytes, 8192);
	o.max_headers = (unsigned)dflt(o.max_headers, 256);
	o.max_body_bytes = dflt(o.max_body_bytes, 1u << 20);
	o.max_conns = (unsigned)dflt(o.max_conns, 16384);
	o.header_timeout_ns = dflt(o.header_timeout_ns, 10000000000ull);
	o.idle_timeout_ns = dflt(o.idle_timeout_ns, 60000000000ull);
	o.body_timeout_ns = dflt(o.body_timeout_ns, 30000000000ull);
	o.write_timeout_ns = dflt(o.write_timeout_ns, 30000000000ull);
	o.linger_ns = dflt(o.linger_ns, 2000000000ull);
	o.sendfile_min_bytes = (size_t)dflt(o.sendfile_min_bytes, SENDFILE_MIN);
	o.file_cache_files = (unsigned)dflt(o.file_cache_files, FCACHE_FILES);
	o.file_cache_mem_bytes =
		(size_t)dflt(o.file_cache_mem_bytes, FCACHE_MEM_BYTES);
	if (o.max_head_bytes < 64 || o.max_head_bytes > (1u << 20) ||
	    o.max_headers > 1024 || o.header_timeout_ns > MAX_TIMEOUT_NS ||
	    o.idle_timeout_ns > MAX_TIMEOUT_NS ||
	    o.body_timeout_ns > MAX_TIMEOUT_NS ||
	    o.write_timeout_ns > MAX_TIMEOUT_NS ||
	    o.linger_ns > MAX_TIMEOUT_NS || o.backlog < 0 ||
	    (o.file_cache_files > FCACHE_FILES_MAX &&
	     o.file_cache_files != UINT_MAX))
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->o = o;
	srv->o.addr = NULL;
	srv->hdrs_inline =
		o.max_headers < HDRS_INLINE ? o.max_headers : HDRS_INLINE;
	srv->conn_bytes = sizeof(struct sconn);
	if (o.tls)
		srv->conn_bytes += sizeof(struct coil_tls);
	srv->hbuf_inline = (o.max_head_bytes + 15) & ~(size_t)15;
	if (srv->hbuf_inline > HBUF_INLINE)
		srv->hbuf_inline = HBUF_INLINE;
	srv->x_bytes = sizeof(struct sexch) +
		       srv->hdrs_inline * sizeof(struct coil_http_header) +
		       srv->hbuf_inline + OBUF_SIZE;
	srv->tl[TL_HEADER].dur = o.header_timeout_ns;
	srv->tl[TL_WRITE].dur = o.write_timeout_ns;
	srv->tl[TL_BODY].dur = o.body_timeout_ns;
	srv->tl[TL_IDLE].dur = o.idle_timeout_ns;
	srv->tl[TL_LINGER].dur = o.linger_ns;
	srv->tick_ns = UINT64_MAX;
	for (unsigned k = 1; k < TL_N; k++) {
		if (srv->tl[k].dur / 4 < srv->tick_ns)
			srv->tick_ns = srv->tl[k].dur / 4;
	}
	if (srv->tick_ns < 10000000)
		srv->tick_ns = 10000000;
	if (srv->tick_ns > 1000000000)
		srv->tick_ns = 1000000000;
	coil_op_init(&srv->tmr, tick_cb);
	coil_op_init(&srv->dtmr, dtmr_cb);
	coil_op_init(&srv->kick, kick_cb);
	/* accepted sockets inherit TCP_NODELAY from the listener (set by
	 * coil_listener_open()): skip a setsockopt per connection */
	srv->topts.flags = COIL_TCP_NO_NODELAY;
	lo.backlog = o.backlog;
	if (o.flags & COIL_HTTP_SERVER_REUSEPORT)
		lo.flags |= COIL_LISTEN_REUSEPORT;
	if (o.flags & COIL_HTTP_SERVER_V6ONLY)
		lo.flags |= COIL_LISTEN_V6ONLY;
	ret = coil_listener_open(loop, &srv->lis, opts->addr, opts->addr_len,
				 &lo, srv_listener_cb);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

int coil_http_server_addr(const struct coil_http_server *srv,
			  struct sockaddr_storage *ss, socklen_t *len)
{
	if (!srv || (srv->st & S_LIS_CLOSED))
		return -EINVAL;
	return coil_listener_addr(&srv->lis, ss, len);
}

void coil_http_server_free(struct coil_http_server *srv)
{
	if (!srv)
		return;
	coil__mem_free(srv);
	coil__fcache_free(srv->fc);
	free(srv);
}

void coil_http_server_stats(const struct coil_http_server *srv,
			    struct coil_http_server_stats *st)
{
	struct fcache_counts fc;

	if (!srv || !st)
		return;
	*st = srv->stats;
	st->conn_bytes = srv->conn_bytes;
	st->answer_overhead_bytes = sizeof(struct answer);
	coil__fcache_counts(srv->fc, &fc);
	st->file_cache_hits = fc.hits;
	st->file_cache_misses = fc.misses;
	st->file_cache_files = fc.files;
	st->file_cache_bytes = fc.mem_bytes;
	st->file_cache_drops = fc.drops;
	st->file_cache_overflows = fc.overflows;
	st->file_cache_unwatched = fc.unwatched;
	st->file_cache_pinned = fc.pin_bytes;
	st->file_cache_pin_fails = fc.pin_fails;
}

struct coil_loop *coil_http_server_loop(const struct coil_http_server *srv)
{
	return srv ? srv->loop : NULL;
}

void coil_http_server_set_data(struct coil_http_server *srv, void *data)
{
	if (srv)
		srv->data = data;
}

void *coil_http_server_data(const struct coil_http_server *srv)
{
	return srv ? srv->data : NULL;
}
