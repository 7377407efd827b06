/*
 * http/server_body.c - the request's side of the handler API: its head
 * fields (coil_http_sreq_header()), the client's address
 * (coil_http_sreq_peer()), its cancel hook, and its body: read
 * whole into a buffer (coil_http_sreq_read_body()), lent piece by piece to
 * the handler (coil_http_sreq_stream_body()), or read and dropped after
 * the response (P_DISCARD). The 100 Continue a body read asks for (RFC
 * 9110 §10.1.1) is written by server_respond.c; the decoding itself is
 * http/body.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chars.h"
#include "server_h2.h"
#include "server_internal.h"
#include "../engine/grow.h"

/* ---- request bodies
 * -----------------------------------------------------------
 */

void coil__body_fail(struct sconn *c, int err)
{
	if (c->x->bstate != BS_GOING)
		return;
	c->x->bstate = BS_FAILED;
	c->x->berr = err;
	c->st |= C_CLOSE;
	if (c->x->bmode == B_BUFFER && c->x->bcb) {
		coil_http_body_fn cb = c->x->bcb;
		c->x->bstate = BS_REPORTED;
		cb(&c->x->req, err, c->x->barg);
	} else if (c->x->bmode == B_STREAM && c->x->ccb && !(c->st & C_LENT)) {
		coil_http_chunk_fn cb = c->x->ccb;
		c->x->bstate = BS_REPORTED;
		cb(&c->x->req, err, NULL, 0, c->x->barg);
	}
}

/* Room for @need bytes in the body buffer: engine/grow.h's rule. */
static int body_grow(struct sconn *c, size_t need)
{
	char *p;

	if (need <= c->x->bcap)
		return 0;
	p = coil__grow(c->x->bbuf, &c->x->bcap, need, 4096);
	if (!p)
		return -ENOMEM;
	c->x->bbuf = p;
	return 0;
}

/*
 * Consume body bytes from the input for the current body mode. Return 1
 * when something happened that may let the connection go on.
 */
int coil__body_step(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	int moved = 0;

	while (c->x->bstate == BS_GOING && !(c->st & (C_LENT | C_DEAD))) {
		struct ibuf *b;
		size_t in, n;
		char *p;
		int r;

		if (c->x->body.done) {
			c->x->bstate = BS_ENDED;
			break;
		}
		if (!sconn_in_left(c)) {
			if (c->st & C_EOF) {
				r = coil_http_body_eof(&c->x->body);
				if (r == 0) {
					c->x->bstate = BS_ENDED;
				} else if (c->x->bmode == B_DISCARD) {
					c->x->bstate = BS_FAILED;
					c->st |= C_CLOSE;
				} else {
					coil__body_fail(c, r);
				}
				moved = 1;
			}
			break;
		}
		/* the connection's own buffer (never the stream's, which
		 * server.c copies from before a body): chunked framing is
		 * decoded in place */
		b = sconn_ibuf(c);
		p = b->data + b->v.pos;
		in = n = b->v.len - b->v.pos;
		r = coil_http_body_decode(&c->x->body, p, &n);
		if (r < 0 && r != COIL_HTTP_PARTIAL) {
			if (c->x->bmode == B_DISCARD) {
				c->x->bstate = BS_FAILED;
				c->st |= C_CLOSE;
			} else {
				coil__body_fail(c, r);
			}
			return 1;
		}
		b->v.pos = r == COIL_HTTP_PARTIAL ? b->v.len
						  : b->v.len - (size_t)r;
		(void)in;
		moved = 1;
		if (n) {
			if (c->x->bmode == B_DISCARD) {
				if (n > c->x->discard_left) {
					c->x->bstate = BS_FAILED;
					c->st |= C_CLOSE;
					break;
				}
				c->x->discard_left -= n;
			} else if (c->x->body.received >
				   srv->o.max_body_bytes) {
				coil__body_fail(c, COIL_ELIMIT);
				return 1;
			} else if (c->x->bmode == B_BUFFER) {
				if (body_grow(c, c->x->blen + n) < 0) {
					coil__body_fail(c, -ENOMEM);
					return 1;
				}
				memcpy(c->x->bbuf + c->x->blen, p, n);
				c->x->blen += n;
			} else {
				c->st |= C_LENT;
				c->x->ccb(&c->x->req, 0, p, n, c->x->barg);
			}
		}
		if (c->x->body.done && !(c->st & C_LENT))
			c->x->bstate = BS_ENDED;
	}
	if (c->x->bstate == BS_ENDED && !(c->st & C_LENT)) {
		if (c->x->bmode == B_BUFFER) {
			c->x->bstate = BS_REPORTED;
			c->x->req.body = c->x->bbuf;
			c->x->req.body_len = c->x->blen;
			c->x->bcb(&c->x->req, 0, c->x->barg);
			moved = 1;
		} else if (c->x->bmode == B_STREAM) {
			c->x->bstate = BS_REPORTED;
			c->x->ccb(&c->x->req, COIL_HTTP_BODY_END, NULL, 0,
				  c->x->barg);
			moved = 1;
		}
	}
	return moved;
}

static int body_begin(struct coil_http_sreq *req, unsigned mode)
{
	struct sconn *c = sconn_of(req);
	if (c->x->bmode != B_NONE)
		return -EALREADY;
	c->x->bmode = mode;
	/* a dead connection stays BS_GOING: kick_cb reports the failure */
	if (c->x->body.done && !(c->st & C_DEAD))
		c->x->bstate = BS_ENDED;
	coil__body_continue(c);
	coil__sconn_kick(c);
	return 0;
}

int coil_http_sreq_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
			     void *arg)
{
	struct sconn *c;
	if (sreq_h2(req))
		return coil__h2_read_body(req, cb, arg);
	if (!sreq_owned(req) || !cb)
		return -EINVAL;
	c = sconn_of(req);
	c->x->bcb = cb;
	c->x->barg = arg;
	return body_begin(req, B_BUFFER);
}

int coil_http_sreq_stream_body(struct coil_http_sreq *req,
			       coil_http_chunk_fn cb, void *arg)
{
	struct sconn *c;
	if (sreq_h2(req))
		return coil__h2_stream_body(req, cb, arg);
	if (!sreq_owned(req) || !cb)
		return -EINVAL;
	c = sconn_of(req);
	c->x->ccb = cb;
	c->x->barg = arg;
	return body_begin(req, B_STREAM);
}

int coil_http_sreq_body_next(struct coil_http_sreq *req)
{
	struct sconn *c;
	if (!req)
		return -EINVAL;
	if (sreq_h2(req))
		return coil__h2_body_next(req);
	c = sconn_of(req);
	if (!(c->st & C_LENT))
		return -EINVAL;
	c->st &= ~C_LENT;
	coil__sconn_kick(c);
	return 0;
}

/* ---- the request's head fields and cancel hook ---- */

const char *coil_http_sreq_header(const struct coil_http_sreq *req,
				  const char *name, size_t *len)
{
	size_t nl;
	if (!req || !name)
		return NULL;
	nl = strlen(name);
	for (unsigned i = 0; i < req->nheaders; i++) {
		const struct coil_http_header *h = &req->headers[i];
		if (h->name_len != nl)
			continue;
		size_t k = 0;
		for (; k < nl; k++) {
			if (ch_lower(h->name[k]) != ch_lower(name[k]))
				break;
		}
		if (k == nl) {
			if (len)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

int coil_http_sreq_peer(const struct coil_http_sreq *req,
			struct sockaddr_storage *ss, socklen_t *len)
{
	struct sconn *c;

	if (!req || !ss || !len)
		return -EINVAL;
	if (sreq_h2(req)) /* a stream of an HTTP/2 connection */
		c = coil_container_of(req, struct h2s, req)->hc->c;
	else
		c = sconn_of((struct coil_http_sreq *)req);
	memset(ss, 0, sizeof(*ss));
	if (c->peer4) {
		struct sockaddr_in *a = (struct sockaddr_in *)(void *)ss;
		a->sin_family = AF_INET;
		a->sin_port = (in_port_t)(c->peer4 >> 32);
		a->sin_addr.s_addr = (in_addr_t)c->peer4;
		*len = sizeof(*a);
		return 0;
	}
	*len = sizeof(*ss);
	if (getpeername(coil_stream_fd(&c->tcp.s), (struct sockaddr *)ss, len) <
	    0)
		return -errno;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a =
			(const struct sockaddr_in *)(const void *)ss;
		c->peer4 = 1ull << 63 | (uint64_t)a->sin_port << 32 |
			   a->sin_addr.s_addr;
	}
	return 0;
}

int coil_http_sreq_on_cancel(struct coil_http_sreq *req,
			     void (*fn)(struct coil_http_sreq *req, void *arg),
			     void *arg)
{
	struct sconn *c;
	if (!req)
		return -EINVAL;
	if (sreq_h2(req))
		return coil__h2_on_cancel(req, fn, arg);
	c = sconn_of(req);
	c->x->cancel_fn = fn;
	c->x->cancel_arg = arg;
	return 0;
}
