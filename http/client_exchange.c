/*
 * http/client_exchange.c - one request and its response on one connection.
 *
 * The request bytes go out as one write (head, and the body as a second
 * iovec when it is large). The response head is gathered in the
 * request's head buffer and parsed incrementally (coil_http_parse_
 * response); the body is decoded as it arrives (coil_http_body_decode)
 * and goes to one of three sinks: the caller (on_body, or the buffer),
 * or nowhere when the response is a redirect being followed or an attempt
 * about to be retried. Such bodies are drained when short, so that the
 * connection stays usable, and cut (the connection closed) when long.
 *
 * An exchange ends once its result is known and its write request is back
 * from the stream (the write's memory is the request's). Then the
 * connection goes back to the pool if the response said it may persist
 * (RFC 9112 §9.3) and nothing odd happened, else it is closed, and the
 * exchange reports how it ended (enum coil__xout) through the done
 * callback its owner, http/client.c, gave coil__exchange_start(). The
 * exchange decides nothing about the request's future: a redirect or a
 * retry is only reported (with next_url, or Retry-After in req->x).
 *
 * A resume posts the request's kick, whose callback delivers the body
 * bytes held while paused: the kick and pump idiom of docs/ARCHITECTURE.md
 * ("The kick and the pump"), reduced to its delivery step.
 *
 * Every path that can run a caller's callback (on_head, on_body) checks
 * afterwards that the request is still on this connection and still going:
 * the callback may have cancelled it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/grow.h"
#include "client_internal.h"

static void finish(struct coil_http_req *req, int res, int reuse);

static void written(struct coil_stream_write *w, int status);
static void exchange_read(struct cconn *cn, ssize_t n, const void *buf);

/* Detach from the connection (back to the pool, or closed) and report
 * how the exchange ended to its owner. */
static void complete(struct coil_http_req *req)
{
	struct cconn *cn = req->x.conn;
	enum coil__xout out = req->x.out;
	int res = req->x.res;

	req->x.conn = NULL;
	cn->on_read = NULL;
	cn->user = NULL;
	if (req->x.reuse && cn->state == C_ACTIVE)
		coil__conn_release(cn);
	else
		coil__conn_close(cn);
	if (out == XO_REDIRECT)
		res = req->x.status_pending; /* what the redirect was */
	else if (out == XO_DONE && res < 0)
		out = XO_FAILED;
	req->x.done(req, out, res);
}

static void finish(struct coil_http_req *req, int res, int reuse)
{
	if (req->x.ended)
		return;
	req->x.ended = 1;
	req->x.res = res;
	req->x.phase = X_END;
	/* the response ended before our request was sent: the server did
	 * not wait for it, so the connection's state is unknown */
	if (req->x.writing)
		reuse = 0;
	req->x.reuse = reuse;
	if (!reuse)
		coil__conn_close(req->x.conn);
	if (req->x.writing)
		return; /* written() completes, the close makes it come */
	complete(req);
}

/* The exchange failed before any response byte: resend once on a new
 * connection if the first one had been used before (RFC 9112 §9.3.1). */
static int try_reuse_retry(struct coil_http_req *req)
{
	if (req->x.got_bytes || !req->x.reused || !req->idempotent ||
	    req->reuse_retried)
		return 0;
	req->x.out = XO_REUSE_RETRY;
	finish(req, COIL_ETRUNC, 0);
	return 1;
}

void coil__exchange_start(struct coil_http_req *req, struct cconn *cn,
			  void (*done)(struct coil_http_req *req,
				       enum coil__xout out, int res))
{
	struct coil_http_client *c = cn->c;
	int ret;

	memset(&req->x, 0, sizeof(req->x));
	req->x.conn = cn;
	req->x.done = done;
	req->x.reused = cn->nreq > 1;
	req->x.phase = X_HEAD;
	req->x.sink = SINK_USER;
	req->x.out = XO_DONE;
	cn->on_read = exchange_read;
	cn->user = req;
	coil_http_msg_init(&req->x.msg, req->hdrs, CLIENT_MAX_HEADERS);
	req->x.msg.max_head_bytes = req->max_head;
	c->stats.exchanges++;
	if (req->x.reused)
		c->stats.reused++;

	ret = coil_stream_writev(cn->s, &req->w, req->iov, req->niov, written);
	if (ret < 0) {
		/* the connection died while idle and we had not seen it */
		if (try_reuse_retry(req))
			return;
		coil__req_why(req, ret, "send the request");
		finish(req, ret, 0);
		return;
	}
	req->x.writing = 1;
	req->x.wrote = 1;
}

static void written(struct coil_stream_write *w, int status)
{
	struct coil_http_req *req = w->data;

	req->x.writing = 0;
	if (req->x.ended) {
		complete(req);
		return;
	}
	/* A failed send: the server may still have answered (and closed);
	 * the read side reports how the connection ended. */
	if (status < 0)
		req->x.werr = status;
}

/* ---- the body ---------------------------------------------------------- */

/* Append @n bytes at @p to the heap buffer *@buf holding *@len bytes in
 * *@cap, which grows by doubling from @min_cap. Return: 0 or -ENOMEM (the
 * buffer is as it was). */
static int append(char **buf, size_t *len, size_t *cap, const void *p, size_t n,
		  size_t min_cap)
{
	if (*len + n > *cap) {
		char *b = coil__grow(*buf, cap, *len + n, min_cap);
		if (!b)
			return -ENOMEM;
		*buf = b;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* Feed body bytes (@writable: @data may be decoded in place). */
static void body_feed(struct coil_http_req *req, const void *data, size_t n,
		      int writable)
{
	struct cconn *cn = req->x.conn;
	char *p = (char *)data;
	size_t len = n;
	int r;

	if (req->x.body.kind == COIL_HTTP_BODY_CHUNKED && !writable &&
	    req->x.sink == SINK_USER) {
		/* the decoder works in place; the stream's buffer is not
		 * ours to write */
		if (n > req->scratch_cap) {
			char *s = realloc(req->scratch, n);
			if (!s) {
				coil__req_why(req, -ENOMEM, "body buffer");
				finish(req, -ENOMEM, 0);
				return;
			}
			req->scratch = s;
			req->scratch_cap = n;
		}
		memcpy(req->scratch, data, n);
		p = req->scratch;
	}
	/* Lengths and close-delimited bodies are only counted by the
	 * decoder, as are chunked bodies being discarded (discard mode):
	 * @p is written only for a chunked body kept, which is a copy. */
	r = coil_http_body_decode(&req->x.body, p, &len);
	if (r < 0 && r != COIL_HTTP_PARTIAL) {
		coil__req_why(req, r, "chunked body framing");
		finish(req, r, 0);
		return;
	}
	if (len) {
		if (req->x.sink != SINK_USER) {
			if (req->x.body.received > CLIENT_DRAIN_MAX) {
				/* not worth draining: cut the connection */
				finish(req, req->x.status_pending, 0);
				return;
			}
		} else {
			int e = coil__resp_body(req, p, len);
			if (e < 0) {
				finish(req, e, 0);
				return;
			}
			if (req->x.conn != cn || req->x.ended)
				return;
		}
	}
	if (r >= 0) /* the body ended; @r bytes after it nobody asked for */
		finish(req, req->x.status_pending,
		       req->x.msg.keep_alive && r == 0);
}

/* The bytes that came after the head (maybe none: the decoder still has
 * to see them, a zero Content-Length ends the body here), held while
 * paused. */
static void deliver_pending(struct coil_http_req *req)
{
	size_t off = req->x.pend_off, n = req->x.pend_len;

	if (!req->x.pending || req->x.paused)
		return;
	req->x.pending = 0;
	req->x.pend_len = 0;
	body_feed(req, req->hbuf + off, n, 1);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_req *req =
		coil_container_of(op, struct coil_http_req, kick);

	(void)res;
	(void)flags;
	if (req->x.conn && !req->x.ended && req->x.phase == X_BODY)
		deliver_pending(req);
}

/* The kick is posted, so it runs before any done callback that could
 * follow a cancel made after this resume: ending a request takes two
 * posts (the attempt's result through coil_retry, then its done op), and
 * posted callbacks run in order. */
int coil__exchange_pause(struct coil_http_req *req, int pause)
{
	if (pause) {
		if (!req->x.have_head || req->x.ended)
			return -EINVAL;
		req->x.paused = 1;
		coil__conn_pause(req->x.conn, 1);
		return 0;
	}
	if (!req->x.paused)
		return 0;
	req->x.paused = 0;
	if (req->x.ended)
		return 0;
	coil__conn_pause(req->x.conn, 0);
	if (req->x.pending && !coil_op_busy(&req->kick)) {
		coil_op_init(&req->kick, kick_cb);
		coil_loop_post(req->c->loop, &req->kick, 0);
	}
	return 0;
}

/* ---- the head ------------------------------------------------------------ */

static void head_done(struct coil_http_req *req)
{
	struct cconn *cn = req->x.conn;
	int status = req->x.msg.status, r;

	r = coil__resp_head(req);
	if (r < 0) {
		finish(req, r, 0);
		return;
	}
	coil_http_body_init(&req->x.body, &req->x.msg,
			    req->x.sink != SINK_USER);
	if (req->x.sink != SINK_USER) {
		if (req->x.body.kind == COIL_HTTP_BODY_CLOSE ||
		    (req->x.body.kind == COIL_HTTP_BODY_LENGTH &&
		     req->x.msg.content_length > CLIENT_DRAIN_MAX)) {
			finish(req, status, 0);
			return;
		}
	} else if (req->on_head) {
		req->on_head(req);
		if (req->x.conn != cn || req->x.ended)
			return;
	}
	req->x.phase = X_BODY;
	if (req->x.body.kind == COIL_HTTP_BODY_NONE) {
		/* bytes after a bodiless response: nobody asked for them */
		finish(req, status,
		       req->x.msg.keep_alive && req->x.hlen == req->x.head_len);
		return;
	}
	req->x.pend_off = req->x.head_len;
	req->x.pend_len = req->x.hlen - req->x.head_len;
	req->x.pending = 1;
	deliver_pending(req);
}

static void head_parse(struct coil_http_req *req)
{
	unsigned flags = req->head ? COIL_HTTP_PARSE_HEAD : 0;
	int r;

	for (;;) {
		r = coil_http_parse_response(&req->x.msg, req->hbuf,
					     req->x.hlen, flags);
		if (r == COIL_HTTP_PARTIAL)
			return;
		if (r < 0) {
			if (r == COIL_ELIMIT)
				coil__req_why(req, r,
					      "response head over %zu bytes "
					      "or %u fields",
					      req->max_head,
					      (unsigned)CLIENT_MAX_HEADERS);
			else
				coil__req_why(req, r, "response head");
			finish(req, r, 0);
			return;
		}
		if (req->x.msg.status >= 200)
			break;
		if (req->x.msg.status == 101) {
			coil__req_why(req, COIL_EPARSE,
				      "unexpected 101 Switching Protocols");
			finish(req, COIL_EPARSE, 0);
			return;
		}
		/* an interim response (100 Continue, 103 Early Hints ...):
		 * skip it, the final one follows (RFC 9110 §15.2) */
		memmove(req->hbuf, req->hbuf + r, req->x.hlen - (size_t)r);
		req->x.hlen -= (size_t)r;
		coil_http_msg_reset(&req->x.msg);
		if (!req->x.hlen)
			return;
	}
	req->x.head_len = (size_t)r;
	head_done(req);
}

static void head_feed(struct coil_http_req *req, const void *buf, size_t n)
{
	if (append(&req->hbuf, &req->x.hlen, &req->hcap, buf, n, 4096) < 0) {
		coil__req_why(req, -ENOMEM, "head buffer");
		finish(req, -ENOMEM, 0);
		return;
	}
	head_parse(req);
}

/* ---- reading ---------------------------------------------------------------
 */

static void ended(struct coil_http_req *req, int err)
{
	if (req->x.phase == X_HEAD) {
		if (try_reuse_retry(req))
			return;
		if (err == 0) {
			err = req->x.werr ? req->x.werr : COIL_ETRUNC;
			coil__req_why(req, err,
				      req->x.got_bytes
					      ? "server closed the connection "
						"in the response head"
					      : "server closed the connection "
						"without a response");
		} else {
			coil__req_why(req, err, "reading the response");
		}
		finish(req, err, 0);
		return;
	}
	if (err == 0) {
		err = coil_http_body_eof(&req->x.body);
		if (err == 0) {
			finish(req, req->x.status_pending, 0);
			return;
		}
		if (req->x.body.kind == COIL_HTTP_BODY_LENGTH)
			coil__req_why(
				req, err,
				"server closed the connection after "
				"%llu of %llu body bytes",
				(unsigned long long)req->x.body.received,
				(unsigned long long)req->x.msg.content_length);
		else
			coil__req_why(req, err,
				      "server closed the connection before "
				      "the last chunk");
	} else {
		coil__req_why(req, err, "reading the response body");
	}
	finish(req, err, 0);
}

/* The connection's reader while the exchange has it (cn->on_read). */
static void exchange_read(struct cconn *cn, ssize_t n, const void *buf)
{
	struct coil_http_req *req = cn->user;

	if (req->x.phase == X_END) {
		/* done, waiting for our write: the connection is closing */
		return;
	}
	if (n <= 0) {
		ended(req, (int)n);
		return;
	}
	req->x.got_bytes = 1;
	if (req->x.phase == X_HEAD)
		head_feed(req, buf, (size_t)n);
	else
		body_feed(req, buf, (size_t)n, 0);
}

void coil__exchange_abort(struct coil_http_req *req, int err)
{
	req->x.out = XO_DONE; /* whatever the head decided */
	if (req->x.ended) {
		/* finishing already, waiting for the write: make it come
		 * soon, and report @err */
		req->x.res = err;
		req->x.reuse = 0;
		coil__conn_close(req->x.conn);
		return;
	}
	finish(req, err, 0);
}
