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
 * (RFC 9112 §9.3) and nothing odd happened, else it is closed.
 *
 * Every path that can run a caller's callback (on_head, on_body) checks
 * afterwards that the request is still on this connection and still going:
 * the callback may have cancelled it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/grow.h"
#include "client_internal.h"

static void finish(struct coil_http_req *req, int res, int reuse);

static void written(struct coil_stream_write *w, int status);

/* Detach from the connection and let the request go on. */
static void complete(struct coil_http_req *req)
{
	struct conn *cn = req->conn;

	req->conn = NULL;
	cn->req = NULL;
	if (req->xreuse && cn->state == C_ACTIVE)
		coil__conn_release(cn);
	else
		coil__conn_close(cn);
	coil__req_hop_end(req, req->xres);
}

static void finish(struct coil_http_req *req, int res, int reuse)
{
	if (req->xended)
		return;
	req->xended = 1;
	req->xres = res;
	req->phase = X_END;
	/* the response ended before our request was sent: the server did
	 * not wait for it, so the connection's state is unknown */
	if (req->writing)
		reuse = 0;
	req->xreuse = reuse;
	if (!reuse)
		coil__conn_close(req->conn);
	if (req->writing)
		return; /* written() completes, the close makes it come */
	complete(req);
}

/* The exchange failed before any response byte: resend once on a new
 * connection if the first one had been used before (RFC 9112 §9.3.1). */
static int try_reuse_retry(struct coil_http_req *req)
{
	if (req->got_bytes || !req->reused || !req->idempotent ||
	    req->reuse_retried)
		return 0;
	req->reuse_retry = 1;
	req->reuse_retried = 1;
	finish(req, COIL_ETRUNC, 0);
	return 1;
}

void coil__exchange_start(struct conn *cn, struct coil_http_req *req)
{
	struct coil_http_client *c = cn->c;
	int ret;

	cn->state = C_ACTIVE;
	cn->req = req;
	cn->nreq++;
	req->conn = cn;
	req->state = RQ_EXCHANGE;
	req->reused = cn->nreq > 1;
	req->phase = X_HEAD;
	req->sink = SINK_USER;
	req->xended = 0;
	req->xres = 0;
	req->xreuse = 0;
	req->got_bytes = 0;
	req->werr = 0;
	req->hlen = 0;
	req->head_len = 0;
	req->pend_len = 0;
	req->pending = 0;
	req->have_head = 0;
	req->paused = 0;
	req->blen = 0;
	req->retry_after_ns = 0;
	req->retry_decided = 0;
	req->follow = 0;
	coil_http_msg_init(&req->msg, req->hdrs, CLIENT_MAX_HEADERS);
	req->msg.max_head_bytes = req->max_head;
	c->st.exchanges++;
	if (req->reused)
		c->st.reused++;

	ret = coil_stream_writev(cn->s, &req->w, req->iov, req->niov, written);
	if (ret < 0) {
		/* the connection died while idle and we had not seen it */
		if (try_reuse_retry(req))
			return;
		coil__req_why(req, ret, "send the request");
		finish(req, ret, 0);
		return;
	}
	req->writing = 1;
	req->sent = 1;
}

static void written(struct coil_stream_write *w, int status)
{
	struct coil_http_req *req = w->data;

	req->writing = 0;
	if (req->xended) {
		complete(req);
		return;
	}
	/* A failed send: the server may still have answered (and closed);
	 * the read side reports how the connection ended. */
	if (status < 0)
		req->werr = status;
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

static int buffer_body(struct coil_http_req *req, const char *p, size_t n)
{
	return append(&req->bbuf, &req->blen, &req->bcap, p, n, 16384);
}

/* Feed body bytes (@writable: @data may be decoded in place). */
static void body_feed(struct coil_http_req *req, const void *data, size_t n,
		      int writable)
{
	struct conn *cn = req->conn;
	char *p = (char *)data;
	size_t len = n;
	int r;

	if (req->body.kind == COIL_HTTP_BODY_CHUNKED && !writable &&
	    req->sink == SINK_USER) {
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
	r = coil_http_body_decode(&req->body, p, &len);
	if (r < 0 && r != COIL_HTTP_PARTIAL) {
		coil__req_why(req, r, "chunked body framing");
		finish(req, r, 0);
		return;
	}
	if (len) {
		if (req->sink != SINK_USER) {
			if (req->body.received > CLIENT_DRAIN_MAX) {
				/* not worth draining: cut the connection */
				finish(req, req->xres_pending, 0);
				return;
			}
		} else if (req->body.received > req->max_body) {
			coil__req_why(req, COIL_ELIMIT,
				      "response body over %llu bytes",
				      (unsigned long long)req->max_body);
			finish(req, COIL_ELIMIT, 0);
			return;
		} else if (req->on_body) {
			req->on_body(req, p, len);
			if (req->conn != cn || req->xended)
				return;
		} else if (buffer_body(req, p, len) < 0) {
			coil__req_why(req, -ENOMEM, "body buffer");
			finish(req, -ENOMEM, 0);
			return;
		}
	}
	if (r >= 0) /* the body ended; @r bytes after it nobody asked for */
		finish(req, req->xres_pending, req->msg.keep_alive && r == 0);
}

/* The bytes that came after the head (maybe none: the decoder still has
 * to see them, a zero Content-Length ends the body here), held while
 * paused. */
static void deliver_pending(struct coil_http_req *req)
{
	size_t off = req->pend_off, n = req->pend_len;

	if (!req->pending || req->paused)
		return;
	req->pending = 0;
	req->pend_len = 0;
	body_feed(req, req->hbuf + off, n, 1);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_req *req =
		coil_container_of(op, struct coil_http_req, kick);

	(void)res;
	(void)flags;
	if (req->state == RQ_EXCHANGE && !req->xended && req->phase == X_BODY)
		deliver_pending(req);
}

/* The kick is posted, so it runs before any done callback that could
 * follow a cancel made after this resume: ending a request takes two
 * posts (the attempt's result through coil_retry, then its done op), and
 * posted callbacks run in order. */
void coil__exchange_resume(struct coil_http_req *req)
{
	if (req->pending && !coil_op_busy(&req->kick)) {
		coil_op_init(&req->kick, kick_cb);
		coil_loop_post(req->c->loop, &req->kick, 0);
	}
}

/* ---- the head ------------------------------------------------------------ */

static int is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/* A redirect to follow: 1 (req->next_url set), 0 (deliver the 3xx as
 * the final response), or -ELOOP. */
static int want_redirect(struct coil_http_req *req)
{
	const struct coil_http_header *loc;
	char *buf;
	int n, ret;

	if (!req->max_redirects || !is_redirect(req->msg.status) ||
	    (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")))
		return 0;
	loc = coil_http_header_find(&req->msg, "location", NULL);
	if (!loc || !loc->value_len)
		return 0;
	if (req->redirects >= req->max_redirects)
		return -ELOOP;
	if (!req->next_url) {
		req->next_url = malloc(sizeof(*req->next_url));
		if (!req->next_url)
			return 0;
	}
	buf = malloc(COIL_URL_MAX_LEN + 1);
	if (!buf)
		return 0;
	n = coil__url_join(buf, COIL_URL_MAX_LEN + 1, &req->url, loc->value,
			   loc->value_len);
	ret = n > 0 ? coil_url_parse(req->next_url, buf, (size_t)n) : n;
	free(buf);
	return ret == 0;
}

/* A status this attempt would be retried for. */
static int want_retry(struct coil_http_req *req)
{
	const struct coil_http_header *ra;
	int64_t d = 0;

	if (!coil__req_retryable(req, req->msg.status))
		return 0;
	ra = coil_http_header_find(&req->msg, "retry-after", NULL);
	if (ra) {
		d = coil__retry_after(ra->value, ra->value_len,
				      (int64_t)time(NULL));
		if (d < 0)
			d = 0;
	}
	req->retry_after_ns = (uint64_t)d;
	if (!coil__req_may_retry(req))
		return 0;
	req->retry_decided = 1;
	return 1;
}

static void head_done(struct coil_http_req *req)
{
	struct conn *cn = req->conn;
	int status = req->msg.status, r;

	req->xres_pending = status;
	r = want_redirect(req);
	if (r < 0) {
		coil__req_why(req, r, "more than %u redirects",
			      req->max_redirects);
		finish(req, r, 0);
		return;
	}
	if (r > 0) {
		req->sink = SINK_REDIRECT;
		req->follow = 1;
	} else if (want_retry(req)) {
		req->sink = SINK_RETRY;
	}
	coil_http_body_init(&req->body, &req->msg, req->sink != SINK_USER);
	if (req->sink != SINK_USER) {
		if (req->body.kind == COIL_HTTP_BODY_CLOSE ||
		    (req->body.kind == COIL_HTTP_BODY_LENGTH &&
		     req->msg.content_length > CLIENT_DRAIN_MAX)) {
			finish(req, status, 0);
			return;
		}
	} else {
		if (req->body.kind == COIL_HTTP_BODY_LENGTH &&
		    req->msg.content_length > req->max_body) {
			coil__req_why(
				req, COIL_ELIMIT,
				"Content-Length %llu over the limit of "
				"%llu bytes",
				(unsigned long long)req->msg.content_length,
				(unsigned long long)req->max_body);
			finish(req, COIL_ELIMIT, 0);
			return;
		}
		if (!req->on_body && req->body.kind == COIL_HTTP_BODY_LENGTH &&
		    req->msg.content_length > req->bcap) {
			char *b = realloc(req->bbuf,
					  (size_t)req->msg.content_length);
			if (b) {
				req->bbuf = b;
				req->bcap = (size_t)req->msg.content_length;
			}
		}
		req->have_head = 1;
		req->status = status;
		if (req->on_head) {
			req->on_head(req);
			if (req->conn != cn || req->xended)
				return;
		}
	}
	req->phase = X_BODY;
	if (req->body.kind == COIL_HTTP_BODY_NONE) {
		/* bytes after a bodiless response: nobody asked for them */
		finish(req, status,
		       req->msg.keep_alive && req->hlen == req->head_len);
		return;
	}
	req->pend_off = req->head_len;
	req->pend_len = req->hlen - req->head_len;
	req->pending = 1;
	deliver_pending(req);
}

static void head_parse(struct coil_http_req *req)
{
	unsigned flags = req->head ? COIL_HTTP_PARSE_HEAD : 0;
	int r;

	for (;;) {
		r = coil_http_parse_response(&req->msg, req->hbuf, req->hlen,
					     flags);
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
		if (req->msg.status >= 200)
			break;
		if (req->msg.status == 101) {
			coil__req_why(req, COIL_EPARSE,
				      "unexpected 101 Switching Protocols");
			finish(req, COIL_EPARSE, 0);
			return;
		}
		/* an interim response (100 Continue, 103 Early Hints ...):
		 * skip it, the final one follows (RFC 9110 §15.2) */
		memmove(req->hbuf, req->hbuf + r, req->hlen - (size_t)r);
		req->hlen -= (size_t)r;
		coil_http_msg_reset(&req->msg);
		if (!req->hlen)
			return;
	}
	req->head_len = (size_t)r;
	head_done(req);
}

static void head_feed(struct coil_http_req *req, const void *buf, size_t n)
{
	if (append(&req->hbuf, &req->hlen, &req->hcap, buf, n, 4096) < 0) {
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
	if (req->phase == X_HEAD) {
		if (try_reuse_retry(req))
			return;
		if (err == 0) {
			err = req->werr ? req->werr : COIL_ETRUNC;
			coil__req_why(req, err,
				      req->got_bytes
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
		err = coil_http_body_eof(&req->body);
		if (err == 0) {
			finish(req, req->xres_pending, 0);
			return;
		}
		if (req->body.kind == COIL_HTTP_BODY_LENGTH)
			coil__req_why(
				req, err,
				"server closed the connection after "
				"%llu of %llu body bytes",
				(unsigned long long)req->body.received,
				(unsigned long long)req->msg.content_length);
		else
			coil__req_why(req, err,
				      "server closed the connection before "
				      "the last chunk");
	} else {
		coil__req_why(req, err, "reading the response body");
	}
	finish(req, err, 0);
}

void coil__exchange_read(struct conn *cn, ssize_t n, const void *buf)
{
	struct coil_http_req *req = cn->req;

	if (req->phase == X_END) {
		/* done, waiting for our write: the connection is closing */
		return;
	}
	if (n <= 0) {
		ended(req, (int)n);
		return;
	}
	req->got_bytes = 1;
	if (req->phase == X_HEAD)
		head_feed(req, buf, (size_t)n);
	else
		body_feed(req, buf, (size_t)n, 0);
}

void coil__exchange_abort(struct coil_http_req *req, int err)
{
	req->follow = 0;
	req->reuse_retry = 0;
	req->retry_decided = 0;
	if (req->xended) {
		/* finishing already, waiting for the write: make it come
		 * soon, and report @err */
		req->xres = err;
		req->xreuse = 0;
		coil__conn_close(req->conn);
		return;
	}
	finish(req, err, 0);
}
