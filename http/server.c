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
 * A connection's memory: the struct, its head buffer (max_head_bytes: the
 * current request's head, copied there from the input buffer so that the
 * handler may keep it across callbacks while further input arrives), its
 * header array and its output buffer, all in one allocation that goes back
 * to the server's free list when the connection ends; the input buffer is
 * separate because it grows (pipelined bursts, request bodies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chars.h"
#include "server_internal.h"
#include "../engine/grow.h"

/* ---- connections: set-up and release ----------------------------------------
 */

static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf);
static void kick_cb(struct coil_op *op, int res, unsigned flags);

static struct sconn *conn_alloc(struct coil_http_server *srv)
{
	struct sconn *c = srv->free;
	if (c) {
		srv->free = c->all_next;
		srv->nfree--;
		return c;
	}
	c = calloc(1, srv->conn_bytes);
	if (!c)
		return NULL;
	c->hbuf = (char *)(c + 1);
	c->hdrs = (struct coil_http_header *)(void *)(c->hbuf +
						      ((srv->o.max_head_bytes +
							15) &
						       ~(size_t)15));
	c->obuf = (char *)(c->hdrs + srv->hdrs_inline);
	if (srv->o.tls)
		c->tls = (struct coil_tls *)(void *)(c->obuf + OBUF_SIZE);
	c->ibuf = malloc(IBUF_INIT);
	if (!c->ibuf) {
		free(c);
		return NULL;
	}
	c->icap = IBUF_INIT;
	c->srv = srv;
	return c;
}

static void conn_free_mem(struct sconn *c)
{
	free(c->ibuf);
	free(c->bbuf);
	free(c->aux);
	free(c->xhdrs);
	free(c);
}

/* Reset the per-request state for the next request. */
static void req_reset(struct sconn *c)
{
	coil_http_msg_reset(&c->msg);
	memset(&c->req, 0, sizeof(c->req));
	c->req.server = c->srv;
	c->req.loop = c->srv->loop;
	c->st &= ~(C_OWNED | C_BEGUN | C_DONE | C_CANCELLED | C_HOLD | C_FILE |
		   C_STREAM | C_CHUNKED | C_NOBODY | C_WBUSY | C_INTERNAL |
		   C_REPORTED | C_LENT);
	c->bmode = B_NONE;
	c->bstate = BS_GOING;
	c->berr = 0;
	c->expect = 0;
	c->sent_continue = 0;
	c->blen = 0;
	c->bcb = NULL;
	c->ccb = NULL;
	c->barg = NULL;
	c->rstatus = 0;
	c->rbytes = 0;
	c->rleft = 0;
	c->wcb = NULL;
	c->warg = NULL;
	c->cancel_fn = NULL;
	c->cancel_arg = NULL;
}

static void srv_listener_cb(struct coil_listener *l, int fd);

/* The handshake ended: a failure ends the connection (the lower stream is
 * closed already; closing the TLS stream completes it). */
static void tls_done_cb(struct coil_stream *s, int status)
{
	struct sconn *c = s->data;
	if (status < 0) {
		c->srv->stats.tls_failures++;
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, status);
	}
}

static void conn_start(struct coil_http_server *srv, int fd)
{
	struct sconn *c = conn_alloc(srv);
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
		c->all_next = srv->free;
		srv->free = c;
		srv->nfree++;
		return;
	}
	c->s = &c->tcp.s;
	if (srv->o.tls) {
		/* the handshake must fit in the time a first head has */
		struct coil_tls_opts to = {.handshake_timeout_ns =
						   srv->o.header_timeout_ns};
		c->tls->s.data = c;
		ret = coil_tls_open(c->tls, &c->tcp.s, srv->o.tls, &to,
				    tls_done_cb);
		if (ret == 0)
			c->s = &c->tls->s;
	}
	c->st = 0;
	c->phase = P_HEAD;
	c->nreq = 0;
	c->ipos = c->ilen = 0;
	c->olen = c->oq = 0;
	c->o_inflight = 0;
	c->slot_busy = 0;
	c->heap_slots = 0;
	c->ffd = -1;
	c->fb = NULL;
	c->fwait = 0;
	c->tlist = TL_NONE;
	c->t_prev = c->t_next = NULL;
	c->head_start = srv_now(srv);
	coil_http_msg_init(&c->msg, c->hdrs, srv->hdrs_inline);
	c->msg.max_head_bytes = srv->o.max_head_bytes;
	coil_op_init(&c->kick, kick_cb);
	coil_op_init(&c->fop, coil__file_op_cb);
	coil_op_init(&c->fsf.op, coil__file_sendfile_cb);
	coil_op_init(&c->cop, coil__file_close_cb);
	coil_op_init(&c->wop, coil__respond_wop_cb);
	memset(&c->wshut, 0, sizeof(c->wshut));
	req_reset(c);
	/* link */
	c->all_prev = NULL;
	c->all_next = srv->all;
	if (srv->all)
		srv->all->all_prev = c;
	srv->all = c;
	srv->stats.conns++;
	if (srv->stats.conns > srv->stats.conns_max)
		srv->stats.conns_max = srv->stats.conns;
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

/* Report the request to on_done once. */
void coil__sconn_report(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	if ((c->st & C_REPORTED) || !(c->req.method || c->rstatus))
		return;
	c->st |= C_REPORTED;
	if (c->rstatus)
		srv->stats.responses++;
	if (srv->o.on_done)
		srv->o.on_done(&c->req, c->rstatus, c->rbytes, srv->o.arg);
}

static void conn_closed_cb(struct coil_stream *s)
{
	struct sconn *c = s->data;
	c->st |= C_CLOSED;
	coil__sconn_release(c);
}

/* Give the connection back once nothing refers to it any more. */
void coil__sconn_release(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;

	if (!(c->st & C_CLOSED) || (c->st & C_OWNED) ||
	    coil_op_busy(&c->kick) || coil_op_busy(&c->fop) ||
	    coil_op_busy(&c->fsf.op) || coil_op_busy(&c->cop) ||
	    coil_op_busy(&c->wop) || c->slot_busy || c->heap_slots)
		return;
	if (c->ffd >= 0) {
		/* a file body cut short: close it through the ring */
		int fd = c->ffd;
		c->ffd = -1;
		if (coil_close(srv->loop, &c->cop, fd) == 0)
			return;
		close(fd);
	}
	coil__sconn_report(c);
	if (c->fb) {
		if (srv->nfbufs < FBUF_CACHE) {
			c->fb->next = srv->fbufs;
			srv->fbufs = c->fb;
			srv->nfbufs++;
		} else {
			free(c->fb);
		}
		c->fb = NULL;
	}
	coil__tl_remove(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		srv->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	srv->stats.conns--;
	c->st = 0;
	free(c->xhdrs);
	c->xhdrs = NULL;
	if (srv->nfree < FREE_CONNS_MAX && !(srv->st & S_SHUTDOWN)) {
		/* keep small body buffers; drop big ones */
		if (c->bcap > 65536) {
			free(c->bbuf);
			c->bbuf = NULL;
			c->bcap = 0;
		}
		if (c->icap > 65536) {
			char *p = realloc(c->ibuf, IBUF_INIT);
			if (p) {
				c->ibuf = p;
				c->icap = IBUF_INIT;
			}
		}
		c->all_next = srv->free;
		srv->free = c;
		srv->nfree++;
	} else {
		conn_free_mem(c);
	}
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
	if (c->cancel_fn)
		c->cancel_fn(&c->req, c->cancel_arg);
}

/*
 * End the connection now (@err < 0: it failed; 0: a clean close, e.g. an
 * idle keep-alive connection or the end of lingering). The handler hears
 * of it from the loop (kick_cb): its body callback gets the error, then
 * its cancel hook runs; never inline from whatever call found the failure.
 */
void coil__sconn_fail(struct sconn *c, int err)
{
	if (c->st & C_DEAD)
		return;
	c->st |= C_DEAD;
	c->berr_pending = err < 0 ? err : COIL_ETRUNC;
	coil__tl_remove(c);
	if (err < 0 && !(c->st & C_CLOSE_CLEAN))
		c->srv->stats.resets++;
	/* -EINVAL: the stream holds nothing any more (a TLS stream whose
	 * handshake failed has closed its lower stream itself) */
	if (coil_stream_close(c->s, conn_closed_cb) == -EINVAL)
		c->st |= C_CLOSED;
	if (coil_op_busy(&c->fsf.op)) /* a file body waiting for room */
		coil_cancel(c->srv->loop, &c->fsf.op);
	coil__sconn_kick(c);
}

/* Tell the handler that its connection is gone (from the loop). */
static void conn_notify(struct sconn *c)
{
	if (c->phase == P_REQ && c->bstate == BS_GOING && (c->st & C_OWNED) &&
	    (c->bmode == B_BUFFER || c->bmode == B_STREAM))
		coil__body_fail(c, c->berr_pending);
	conn_cancel_hook(c);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, kick);
	if (c->st & C_DEAD) {
		conn_notify(c);
		coil__sconn_release(c);
		return;
	}
	coil__sconn_process(c);
}

/* ---- input ------------------------------------------------------------------
 */

static int in_append(struct sconn *c, const void *buf, size_t n)
{
	if (c->ipos == c->ilen)
		c->ipos = c->ilen = 0;
	if (c->icap - c->ilen < n) {
		if (c->ipos) {
			memmove(c->ibuf, c->ibuf + c->ipos, c->ilen - c->ipos);
			c->ilen -= c->ipos;
			c->ipos = 0;
		}
		if (c->icap - c->ilen < n) {
			char *p = coil__grow(c->ibuf, &c->icap, c->ilen + n,
					     IBUF_INIT);
			if (!p)
				return -ENOMEM;
			c->ibuf = p;
		}
	}
	memcpy(c->ibuf + c->ilen, buf, n);
	c->ilen += n;
	return 0;
}

/* Bytes of input a connection may hold without consuming them. */
static size_t in_high(const struct sconn *c)
{
	size_t h = c->srv->o.max_head_bytes;
	return h < 16384 ? 16384 : h;
}

static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct sconn *c = s->data;

	if (c->st & C_DEAD)
		return;
	if (n > 0) {
		if (c->phase == P_CLOSING && (c->st & C_SHUT))
			return; /* lingering: drop */
		if (c->phase == P_HEAD && c->ipos == c->ilen)
			c->head_start = srv_now(c->srv);
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
	const char *p = c->ibuf + c->ipos;
	size_t len = c->ilen - c->ipos, i;
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
	struct coil_http_msg *m = &c->msg;

	if (m->nheaders < m->max_headers || c->xhdrs ||
	    srv->o.max_headers <= srv->hdrs_inline)
		return -1;
	c->xhdrs = malloc(srv->o.max_headers * sizeof(*c->xhdrs));
	if (!c->xhdrs)
		return -1;
	coil_http_msg_reset(m);
	m->headers = c->xhdrs;
	m->max_headers = srv->o.max_headers;
	return 0;
}

static void head_take(struct sconn *c, size_t hlen)
{
	const char *base = c->ibuf + c->ipos;
	char *h = c->hbuf;
	struct coil_http_msg *m = &c->msg;
	struct coil_http_sreq *r = &c->req;
	const char *q;

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
	c->ipos += hlen;
}

/* A complete head: checks the server makes, then the handler. */
static void start_request(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	size_t elen;
	const char *ev;

	c->nreq++;
	coil_http_body_init(&c->body, &c->msg, 0);
	if (c->body.kind == COIL_HTTP_BODY_NONE ||
	    (c->body.kind == COIL_HTTP_BODY_LENGTH && !c->body.remaining))
		c->body.done = 1; /* nothing to read (RFC 9112 §6.3) */
	c->phase = P_REQ;
	c->st |= C_OWNED;
	if (!c->msg.keep_alive)
		c->st |= C_CLOSE;
	ev = coil_http_sreq_header(&c->req, "expect", &elen);
	if (ev) {
		if (elen == 12 && ch_ieq(ev, "100-continue", 12)) {
			c->expect = c->req.minor_version >= 1;
		} else {
			c->st &= ~C_OWNED;
			coil__send_error(c, 417);
			return;
		}
	}
	if (c->msg.body == COIL_HTTP_BODY_LENGTH &&
	    c->msg.content_length > srv->o.max_body_bytes) {
		c->st &= ~C_OWNED;
		coil__send_error(c, 413);
		return;
	}
	srv->stats.requests++;
	srv->o.handler(&c->req, srv->o.arg);
}

/* The response is out and the handler let go: on to the next request. */
static void finish_request(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	int close_it = (c->st & (C_CLOSE | C_SHORT)) != 0;

	coil__sconn_report(c);
	if (!close_it && c->bstate == BS_GOING && c->body.kind != 0 &&
	    !c->body.done) {
		if (coil__body_discardable(c)) {
			c->bmode = B_DISCARD;
			c->discard_left = DISCARD_MAX;
			c->phase = P_DISCARD;
			return;
		}
		close_it = 1;
	}
	if (c->bstate == BS_FAILED)
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
	c->head_start = srv_now(srv);
}

static void shut_cb(struct coil_stream_write *w, int status)
{
	struct sconn *c = coil_container_of(w, struct sconn, wshut);
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
	if (c->slot_busy || c->heap_slots || (c->st & (C_OWNED | C_FILE)))
		return;
	if (c->olen > c->oq) {
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
	if ((c->st & (C_EOF | C_CLOSE_CLEAN)) || c->srv->o.linger_ns == 0) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	if (coil_stream_shutdown(c->s, &c->wshut, shut_cb) < 0) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	c->st |= C_SHUT;
	/* lingering: read and drop whatever the client still sends */
	c->ipos = c->ilen = 0;
	set_reading(c, 1);
}

void coil__sconn_process(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	int r;

	if (c->st & (C_INPROC | C_DEAD))
		return;
	c->st |= C_INPROC;
	for (;;) {
		if (c->st & C_DEAD)
			break;
		if (c->phase == P_HEAD) {
			if (srv->st & S_SHUTDOWN && c->ipos == c->ilen) {
				c->st |= C_CLOSE | C_CLOSE_CLEAN;
				c->phase = P_CLOSING;
				continue;
			}
			if (c->ipos == c->ilen) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (!coil__out_room(c)) {
				coil__out_flush(c);
				break;
			}
			r = coil_http_parse_request(&c->msg, c->ibuf + c->ipos,
						    c->ilen - c->ipos);
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
			head_take(c, (size_t)r);
			start_request(c);
			continue;
		}
		if (c->phase == P_REQ) {
			if ((c->st & C_OWNED) && c->bmode != B_NONE &&
			    (c->bstate == BS_GOING || c->bstate == BS_ENDED) &&
			    coil__body_step(c))
				continue;
			if ((c->st & C_OWNED) || !(c->st & C_DONE))
				break;
			finish_request(c);
			continue;
		}
		if (c->phase == P_DISCARD) {
			coil__body_step(c);
			if (c->bstate == BS_GOING) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (c->bstate == BS_FAILED) {
				c->phase = P_CLOSING;
				continue;
			}
			req_reset(c);
			c->phase = P_HEAD;
			c->head_start = srv_now(srv);
			continue;
		}
		/* P_CLOSING */
		closing_step(c);
		break;
	}
	c->st &= ~C_INPROC;
	if (!(c->st & C_DEAD))
		coil__out_flush(c);
	if (c->st & C_DEAD)
		return; /* kick_cb tells the handler and releases */
	/* reading: keep going while input is consumed or small */
	{
		int want;
		if (c->phase == P_CLOSING)
			want = (c->st & C_SHUT) != 0;
		else if (c->st & C_LENT)
			want = 0;
		else if (c->phase == P_DISCARD ||
			 (c->phase == P_REQ && c->bstate == BS_GOING &&
			  (c->bmode == B_BUFFER || c->bmode == B_STREAM)))
			want = 1;
		else
			want = c->ilen - c->ipos < in_high(c);
		set_reading(c, want);
	}
	coil__sconn_retime(c);
}

/* The handler (or serve_file) let go of the request. */
void coil__sreq_complete(struct sconn *c)
{
	c->st &= ~(C_OWNED | C_INTERNAL | C_LENT);
	if (c->st & C_DEAD) {
		if (!(c->st & C_INPROC))
			coil__sconn_release(c);
		return;
	}
	if (!(c->st & C_INPROC))
		coil__sconn_kick(c);
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
		if (c->phase == P_HEAD && c->ipos == c->ilen) {
			/* a connection that never sent a byte */
			c->st |= C_CLOSE_CLEAN;
			coil__sconn_fail(c, 0);
			break;
		}
		coil__send_error(c, 408);
		coil__sconn_process(c);
		break;
	case TL_BODY:
		if (c->phase == P_REQ && c->bstate == BS_GOING) {
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
	srv->st |= S_DONE;
	if (srv->done)
		coil_loop_post(srv->loop, srv->done, (srv->st & S_CUT) ? 1 : 0);
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
	if (coil_listener_close(&srv->lis, lis_closed_cb) < 0)
		srv->st |= S_LIS_CLOSED;
	/* idle connections go now; the others after their response */
	for (struct sconn *c = srv->all, *next; c; c = next) {
		next = c->all_next;
		if (c->st & C_DEAD)
			continue;
		if (c->phase == P_HEAD && c->ipos == c->ilen && !c->slot_busy &&
		    !c->heap_slots) {
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
	if (o.max_head_bytes < 64 || o.max_head_bytes > (1u << 20) ||
	    o.max_headers > 1024 || o.header_timeout_ns > MAX_TIMEOUT_NS ||
	    o.idle_timeout_ns > MAX_TIMEOUT_NS ||
	    o.body_timeout_ns > MAX_TIMEOUT_NS ||
	    o.write_timeout_ns > MAX_TIMEOUT_NS ||
	    o.linger_ns > MAX_TIMEOUT_NS || o.backlog < 0)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->o = o;
	srv->o.addr = NULL;
	srv->hdrs_inline =
		o.max_headers < HDRS_INLINE ? o.max_headers : HDRS_INLINE;
	srv->conn_bytes =
		sizeof(struct sconn) + ((o.max_head_bytes + 15) & ~(size_t)15) +
		srv->hdrs_inline * sizeof(struct coil_http_header) + OBUF_SIZE;
	if (o.tls)
		srv->conn_bytes += sizeof(struct coil_tls);
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
	while (srv->free) {
		struct sconn *c = srv->free;
		srv->free = c->all_next;
		conn_free_mem(c);
	}
	while (srv->fbufs) {
		struct fbuf *b = srv->fbufs;
		srv->fbufs = b->next;
		free(b);
	}
	free(srv);
}

void coil_http_server_stats(const struct coil_http_server *srv,
			    struct coil_http_server_stats *st)
{
	if (srv && st)
		*st = srv->stats;
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
