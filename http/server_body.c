/*
 * http/server_body.c - the request's side of the handler API: its head
 * fields (coil_http_sreq_header()), its cancel hook, and its body: read
 * whole into a buffer (coil_http_sreq_read_body()), lent piece by piece to
 * the handler (coil_http_sreq_stream_body()), or read and dropped after
 * the response (P_DISCARD). The 100 Continue a body read asks for (RFC
 * 9110 §10.1.1) is written by server_respond.c; the decoding itself is
 * http/body.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "server_internal.h"
#include "../engine/grow.h"

/* ---- request bodies
 * -----------------------------------------------------------
 */

void coil__body_fail(struct sconn *c, int err)
{
	if (c->bstate != BS_GOING)
		return;
	c->bstate = BS_FAILED;
	c->berr = err;
	c->st |= C_CLOSE;
	if (c->bmode == B_BUFFER && c->bcb) {
		coil_http_body_fn cb = c->bcb;
		c->bstate = BS_REPORTED;
		cb(&c->req, err, c->barg);
	} else if (c->bmode == B_STREAM && c->ccb && !(c->st & C_LENT)) {
		coil_http_chunk_fn cb = c->ccb;
		c->bstate = BS_REPORTED;
		cb(&c->req, err, NULL, 0, c->barg);
	}
}

/* Room for @need bytes in the body buffer: engine/grow.h's rule. */
static int body_grow(struct sconn *c, size_t need)
{
	char *p;

	if (need <= c->bcap)
		return 0;
	p = coil__grow(c->bbuf, &c->bcap, need, 4096);
	if (!p)
		return -ENOMEM;
	c->bbuf = p;
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

	while (c->bstate == BS_GOING && !(c->st & (C_LENT | C_DEAD))) {
		size_t in, n;
		char *p;
		int r;

		if (c->body.done) {
			c->bstate = BS_ENDED;
			break;
		}
		if (c->ipos == c->ilen) {
			if (c->st & C_EOF) {
				r = coil_http_body_eof(&c->body);
				if (r == 0) {
					c->bstate = BS_ENDED;
				} else if (c->bmode == B_DISCARD) {
					c->bstate = BS_FAILED;
					c->st |= C_CLOSE;
				} else {
					coil__body_fail(c, r);
				}
				moved = 1;
			}
			break;
		}
		p = c->ibuf + c->ipos;
		in = n = c->ilen - c->ipos;
		r = coil_http_body_decode(&c->body, p, &n);
		if (r < 0 && r != COIL_HTTP_PARTIAL) {
			if (c->bmode == B_DISCARD) {
				c->bstate = BS_FAILED;
				c->st |= C_CLOSE;
			} else {
				coil__body_fail(c, r);
			}
			return 1;
		}
		c->ipos =
			r == COIL_HTTP_PARTIAL ? c->ilen : c->ilen - (size_t)r;
		(void)in;
		moved = 1;
		if (n) {
			if (c->bmode == B_DISCARD) {
				if (n > c->discard_left) {
					c->bstate = BS_FAILED;
					c->st |= C_CLOSE;
					break;
				}
				c->discard_left -= n;
			} else if (c->body.received > srv->o.max_body_bytes) {
				coil__body_fail(c, COIL_ELIMIT);
				return 1;
			} else if (c->bmode == B_BUFFER) {
				if (body_grow(c, c->blen + n) < 0) {
					coil__body_fail(c, -ENOMEM);
					return 1;
				}
				memcpy(c->bbuf + c->blen, p, n);
				c->blen += n;
			} else {
				c->st |= C_LENT;
				c->ccb(&c->req, 0, p, n, c->barg);
			}
		}
		if (c->body.done && !(c->st & C_LENT))
			c->bstate = BS_ENDED;
	}
	if (c->bstate == BS_ENDED && !(c->st & C_LENT)) {
		if (c->bmode == B_BUFFER) {
			c->bstate = BS_REPORTED;
			c->req.body = c->bbuf;
			c->req.body_len = c->blen;
			c->bcb(&c->req, 0, c->barg);
			moved = 1;
		} else if (c->bmode == B_STREAM) {
			c->bstate = BS_REPORTED;
			c->ccb(&c->req, COIL_HTTP_BODY_END, NULL, 0, c->barg);
			moved = 1;
		}
	}
	return moved;
}

static int body_begin(struct coil_http_sreq *req, unsigned mode)
{
	struct sconn *c = sconn_of(req);
	if (c->bmode != B_NONE)
		return -EALREADY;
	c->bmode = mode;
	/* a dead connection stays BS_GOING: kick_cb reports the failure */
	if (c->body.done && !(c->st & C_DEAD))
		c->bstate = BS_ENDED;
	coil__body_continue(c);
	coil__sconn_kick(c);
	return 0;
}

int coil_http_sreq_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
			     void *arg)
{
	struct sconn *c;
	if (!sreq_owned(req) || !cb)
		return -EINVAL;
	c = sconn_of(req);
	c->bcb = cb;
	c->barg = arg;
	return body_begin(req, B_BUFFER);
}

int coil_http_sreq_stream_body(struct coil_http_sreq *req,
			       coil_http_chunk_fn cb, void *arg)
{
	struct sconn *c;
	if (!sreq_owned(req) || !cb)
		return -EINVAL;
	c = sconn_of(req);
	c->ccb = cb;
	c->barg = arg;
	return body_begin(req, B_STREAM);
}

int coil_http_sreq_body_next(struct coil_http_sreq *req)
{
	struct sconn *c;
	if (!req)
		return -EINVAL;
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

int coil_http_sreq_on_cancel(struct coil_http_sreq *req,
			     void (*fn)(struct coil_http_sreq *req, void *arg),
			     void *arg)
{
	struct sconn *c;
	if (!req)
		return -EINVAL;
	c = sconn_of(req);
	c->cancel_fn = fn;
	c->cancel_arg = arg;
	return 0;
}
