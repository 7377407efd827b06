/*
 * http/server_respond.c - the server's output and responses.
 *
 * Answering a request from memory writes the head and body into the
 * connection's output buffer with coil_http_response_write() and queues
 * one stream write for everything the turn produced: nothing is allocated.
 * The output buffer is append-only while any write that points into it is
 * in flight; it is compacted when none is. Each queued write (a "slot")
 * carries the pending part of the output buffer plus, optionally, borrowed
 * bytes (a file piece, a streamed body piece with its chunk framing), so a
 * head and the first piece of its body leave in one send.
 *
 * An answer queued whole while nothing else of its exchange is in use
 * (the common case: a request answered at once, no more input) leaves
 * instead from a block of its own (coil__out_detach(), server_mem.c's
 * answer chunks), so that the exchange goes back to the free list when
 * the response is queued rather than when its send completed.
 *
 * Also here: error answers, coil_http_respond(), and streamed responses
 * (coil_http_respond_begin/write/end()).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* ---- output -----------------------------------------------------------------
 */

static void slot_cb(struct coil_stream_write *w, int status);
static void user_sent(struct sconn *c, int status);

static struct oslot *slot_get(struct sconn *c)
{
	struct oslot *sl;
	for (unsigned i = 0; i < NSLOT; i++) {
		if (!(c->x->slot_busy & (1u << i))) {
			c->x->slot_busy |= 1u << i;
			sl = &c->x->slot[i];
			memset(&sl->w, 0, sizeof(sl->w));
			sl->index = i;
			goto init;
		}
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return NULL;
	sl->index = NSLOT;
	c->x->heap_slots++;
init:
	sl->c = c;
	sl->heap = NULL;
	sl->obytes = 0;
	sl->kind = SK_PLAIN;
	return sl;
}

static void slot_put(struct sconn *c, struct oslot *sl)
{
	if (sl->index < NSLOT) {
		c->x->slot_busy &= ~(1u << sl->index);
	} else {
		c->x->heap_slots--;
		free(sl);
	}
}

static unsigned slots_free(const struct sconn *c)
{
	return (unsigned)(NSLOT - __builtin_popcount(c->x->slot_busy));
}

/*
 * Queue one write: the pending output-buffer bytes, then @n more iovecs
 * (borrowed). On a failure to queue, the slot completes through the same
 * path as a failed send (posted, never inline).
 */
int coil__out_send(struct sconn *c, unsigned kind, void *heap,
		   const struct iovec *extra, unsigned n)
{
	struct oslot *sl;
	unsigned k = 0;
	int ret;

	if (c->st & C_DEAD) {
		free(heap);
		return -EPIPE;
	}
	sl = slot_get(c);
	if (!sl) {
		free(heap);
		coil__sconn_fail(c, -ENOMEM);
		return -ENOMEM;
	}
	sl->kind = kind;
	sl->heap = heap;
	if (c->x->olen > c->x->oq) {
		sl->iov[k].iov_base = c->x->obuf + c->x->oq;
		sl->iov[k].iov_len = c->x->olen - c->x->oq;
		sl->obytes = c->x->olen - c->x->oq;
		c->x->oq = c->x->olen;
		c->x->o_inflight++;
		k++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (extra[i].iov_len)
			sl->iov[k++] = extra[i];
	}
	/* SK_MORE: a head whose body follows by sendfile (MSG_MORE) */
	ret = kind == SK_MORE
		      ? coil_stream_writev_more(c->s, &sl->w, sl->iov, k,
						slot_cb)
		      : coil_stream_writev(c->s, &sl->w, sl->iov, k, slot_cb);
	if (ret < 0) {
		/* the stream failed: undo and fail the connection */
		if (sl->obytes)
			c->x->o_inflight--;
		free(sl->heap);
		slot_put(c, sl);
		coil__sconn_fail(c, ret);
		return ret;
	}
	return 0;
}

/* Send what the output buffer holds, unless a file head waits for its
 * first piece. */
void coil__out_flush(struct sconn *c)
{
	if (c->x->olen > c->x->oq && !(c->st & (C_HOLD | C_DEAD)))
		coil__out_send(c, SK_PLAIN, NULL, NULL, 0);
}

/* A detached answer was sent (or failed): its block goes back; the pump
 * goes on from the kick (the time limit, closing, a release). */
static void ans_cb(struct coil_stream_write *w, int status)
{
	struct answer *a = coil_container_of(w, struct answer, w);
	struct sconn *c = w->data;

	coil__ans_put(c->srv, a);
	c->st &= ~C_ANS;
	if (status < 0)
		coil__sconn_fail(c, status);
	else
		coil__sconn_progress(c, TL_WRITE);
	coil__sconn_kick(c);
}

int coil__out_detach(struct sconn *c)
{
	struct sexch *x = c->x;
	size_t n = x->olen - x->oq;
	struct answer *a;
	const char *at;
	int ret;

	if (!n || (c->st & (C_ANS | C_HOLD | C_DEAD)) ||
	    !(a = coil__ans_new(c->srv, x->obuf + x->oq, n, &at)))
		return -1;
	x->olen = x->oq = 0;
	a->w.data = c;
	c->st |= C_ANS;
	ret = coil_stream_write(c->s, &a->w, at, n, ans_cb);
	if (ret < 0) {
		c->st &= ~C_ANS;
		coil__ans_put(c->srv, a);
		coil__sconn_fail(c, ret);
	}
	return 0;
}

void coil__obuf_compact(struct sconn *c)
{
	if (c->x->o_inflight)
		return;
	if (c->x->oq == c->x->olen) {
		c->x->olen = c->x->oq = 0;
	} else if (c->x->oq) {
		memmove(c->x->obuf, c->x->obuf + c->x->oq,
			c->x->olen - c->x->oq);
		c->x->olen -= c->x->oq;
		c->x->oq = 0;
	}
}

/* Room to start answering another request. */
int coil__out_room(struct sconn *c)
{
	coil__obuf_compact(c);
	return slots_free(c) >= 2 && OBUF_SIZE - c->x->olen >= OBUF_RESERVE;
}

/* A write was sent (or failed): the slot is free; what follows (a file
 * body's next piece, more requests, closing) is the pump's, from the
 * kick. */
static void slot_cb(struct coil_stream_write *w, int status)
{
	struct oslot *sl = coil_container_of(w, struct oslot, w);
	struct sconn *c = sl->c;
	unsigned kind = sl->kind;

	if (sl->obytes) {
		c->x->o_inflight--;
		coil__obuf_compact(c);
	}
	free(sl->heap);
	slot_put(c, sl);
	if (status < 0)
		coil__sconn_fail(c, status);
	else
		coil__sconn_progress(c, TL_WRITE);
	if (kind == SK_FILE)
		c->st |= C_FSENT;
	else if (kind == SK_USER)
		user_sent(c, status);
	coil__sconn_kick(c);
}

/*
 * Write a response head (and body, unless HEAD_ONLY) into the output
 * buffer, or into a heap buffer queued at once when it does not fit.
 * Return: 0; -EINVAL from the writer; -ENOMEM.
 */
int coil__out_head(struct sconn *c, const struct coil_http_response_spec *sp)
{
	size_t est;
	char *h;
	int r;

	r = coil_http_response_write(c->x->obuf + c->x->olen,
				     OBUF_SIZE - c->x->olen, sp);
	if (r > 0) {
		c->x->olen += (size_t)r;
		return 0;
	}
	if (r != -ENOSPC)
		return r;
	coil__obuf_compact(c);
	r = coil_http_response_write(c->x->obuf + c->x->olen,
				     OBUF_SIZE - c->x->olen, sp);
	if (r > 0) {
		c->x->olen += (size_t)r;
		return 0;
	}
	if (r != -ENOSPC)
		return r;
	est = 512 + (sp->reason ? strlen(sp->reason) : 0);
	for (size_t i = 0; i < sp->nheaders; i++)
		est += sp->headers[i].name_len + sp->headers[i].value_len + 4;
	if (!(sp->flags & COIL_HTTP_HEAD_ONLY)) {
		if (sp->body_len > INT_MAX - est)
			return -ENOMEM;
		est += (size_t)sp->body_len;
	}
	h = malloc(est);
	if (!h)
		return -ENOMEM;
	r = coil_http_response_write(h, est, sp);
	if (r < 0) {
		free(h);
		return r == -ENOSPC ? -ENOMEM : r;
	}
	if (c->st & C_HOLD) {
		/* cannot happen: a held head is the last thing written */
		free(h);
		return -EINVAL;
	}
	{
		struct iovec v = {h, (size_t)r};
		coil__out_send(c, SK_HEAP, h, &v, 1);
	}
	return 0;
}

void coil__send_error(struct sconn *c, int status)
{
	struct coil_http_server *srv = c->srv;
	char body[64];
	struct coil_http_header h = {"Content-Type", 12,
				     "text/plain; charset=utf-8", 25};
	struct coil_http_response_spec sp = {0};
	int n;

	if (c->st & C_DEAD)
		return;
	if (!c->x) {
		/* no request begun: nothing to answer */
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
		return;
	}
	n = snprintf(body, sizeof(body), "%d %s\n", status,
		     coil_http_reason(status));
	sp.status = status;
	sp.headers = &h;
	sp.nheaders = 1;
	sp.body = body;
	sp.body_len = (uint64_t)n;
	sp.flags = COIL_HTTP_CLOSE;
	if (c->x->req.is_head)
		sp.flags |= COIL_HTTP_HEAD_ONLY;
	c->st &= ~C_HOLD;
	if (coil__out_head(c, &sp) < 0) {
		coil__sconn_fail(c, -ENOMEM);
		return;
	}
	srv->stats.errors++;
	c->x->rstatus = status;
	c->x->rbytes = c->x->req.is_head ? 0 : (uint64_t)n;
	c->st |= C_CLOSE | C_BEGUN | C_DONE;
	coil__sconn_report(c);
	coil__tl_remove(c);
	c->phase = P_CLOSING;
}

/* 100 Continue (RFC 9110 §10.1.1), if the client waits for it. */
static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

void coil__body_continue(struct sconn *c)
{
	if (!c->x->expect || c->x->sent_continue || sconn_in_left(c) ||
	    c->x->body.done || (c->st & C_DEAD))
		return;
	struct iovec v = {(void *)continue_100, sizeof(continue_100) - 1};
	c->x->sent_continue = 1;
	coil__out_send(c, SK_PLAIN, NULL, &v, 1);
}

/* Connection flags for a response head; decides keep-alive. Called just
 * before a final head is written: a 100 Continue the handler's body
 * reading asked for goes out first. */
unsigned coil__resp_conn_flags(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;

	if (c->x->bmode == B_BUFFER || c->x->bmode == B_STREAM)
		coil__body_continue(c);
	/* the client's FIN after pipelined requests (RFC 9112 §9.6): keep
	 * going while a further request waits in the input buffer */
	int eof_close =
		(c->st & C_EOF) && (!sconn_in_left(c) || !c->x->body.done);
	int close_it = (c->st & C_CLOSE) || eof_close ||
		       !c->x->msg.keep_alive || (srv->st & S_SHUTDOWN) ||
		       (srv->o.max_requests && c->nreq >= srv->o.max_requests);
	if (!close_it && c->x->bmode == B_NONE && c->x->body.kind != 0 &&
	    !c->x->body.done && !coil__body_discardable(c))
		close_it = 1;
	if (close_it) {
		c->st |= C_CLOSE;
		return COIL_HTTP_CLOSE;
	}
	return c->x->req.minor_version == 0 ? COIL_HTTP_KEEP_ALIVE : 0;
}

/* Answer 500 instead of a response the writer refused. */
void coil__respond_500(struct sconn *c)
{
	c->st &= ~C_HOLD;
	coil__send_error(c, 500);
	c->st |= C_DONE;
}

int coil__respond_mem(struct sconn *c, int status,
		      const struct coil_http_header *headers, size_t nheaders,
		      const void *body, size_t len)
{
	struct coil_http_response_spec sp = {0};
	int ret;

	if (status < 200 || status > 599 || (nobody_status(status) && len) ||
	    (len && !body) || (nheaders && !headers)) {
		if (!(c->st & C_DEAD))
			coil__respond_500(c);
		coil__sreq_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN;
	if (c->st & C_DEAD) {
		c->x->rstatus = status;
		coil__sreq_complete(c);
		return 0;
	}
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = coil__resp_conn_flags(c);
	if (!nobody_status(status)) {
		sp.body_len = len;
		if (c->x->req.is_head)
			sp.flags |= COIL_HTTP_HEAD_ONLY;
		else
			sp.body = body;
	}
	ret = coil__out_head(c, &sp);
	if (ret == -EINVAL) {
		coil__respond_500(c);
		coil__sreq_complete(c);
		return ret;
	}
	if (ret < 0) {
		coil__sconn_fail(c, ret);
		coil__sreq_complete(c);
		return ret;
	}
	c->x->rstatus = status;
	c->x->rbytes = (c->x->req.is_head || nobody_status(status)) ? 0 : len;
	c->st |= C_DONE;
	coil__sreq_complete(c);
	return 0;
}

int coil_http_respond(struct coil_http_sreq *req, int status,
		      const struct coil_http_header *headers, size_t nheaders,
		      const void *body, size_t len)
{
	struct sconn *c;
	if (sreq_h2(req))
		return coil__h2_respond(req, status, headers, nheaders, body,
					len);
	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (c->st & C_BEGUN)
		return -EINVAL;
	return coil__respond_mem(c, status, headers, nheaders, body, len);
}

/* ---- streamed responses -----------------------------------------------------
 */

/*
 * HTTP/1.0 and an unknown length: the body is delimited by the close
 * (RFC 9112 §6.3 rule 8), so the head must carry no Content-Length, which
 * coil_http_response_write() always writes, last, for a response with
 * content. Write it with an empty body and drop that field (a rare path:
 * the head goes out from a heap copy).
 */
static int out_head_close_delimited(struct sconn *c,
				    struct coil_http_response_spec *sp)
{
	static const char cl0[] = "Content-Length: 0\r\n\r\n";
	const size_t l = sizeof(cl0) - 1;
	size_t est = 512 + (sp->reason ? strlen(sp->reason) : 0);
	struct iovec v;
	char *h;
	int r;

	for (size_t i = 0; i < sp->nheaders; i++)
		est += sp->headers[i].name_len + sp->headers[i].value_len + 4;
	sp->flags |= COIL_HTTP_HEAD_ONLY;
	sp->body_len = 0;
	h = malloc(est);
	if (!h)
		return -ENOMEM;
	r = coil_http_response_write(h, est, sp);
	if (r < 0 || (size_t)r < l || memcmp(h + r - l, cl0, l) != 0) {
		free(h);
		return r < 0 && r != -ENOSPC ? r : -EINVAL;
	}
	memcpy(h + r - l, "\r\n", 2);
	v.iov_base = h;
	v.iov_len = (size_t)r - l + 2;
	return coil__out_send(c, SK_HEAP, h, &v, 1) < 0 && !(c->st & C_DEAD)
		       ? -ENOMEM
		       : 0;
}

int coil_http_respond_begin(struct coil_http_sreq *req, int status,
			    const struct coil_http_header *headers,
			    size_t nheaders, uint64_t content_length)
{
	struct coil_http_response_spec sp = {0};
	struct sconn *c;
	int ret;

	if (sreq_h2(req))
		return coil__h2_respond_begin(req, status, headers, nheaders,
					      content_length);
	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (c->st & C_BEGUN)
		return -EALREADY;
	if (status < 200 || status > 599 || (nheaders && !headers) ||
	    (nobody_status(status) && content_length &&
	     content_length != COIL_HTTP_LENGTH_UNKNOWN)) {
		if (!(c->st & C_DEAD))
			coil__respond_500(c);
		coil__sreq_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN | C_STREAM;
	c->x->rstatus = status;
	if (c->x->req.is_head || nobody_status(status))
		c->st |= C_NOBODY;
	if (c->st & C_DEAD)
		return 0;
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = coil__resp_conn_flags(c);
	if (!nobody_status(status)) {
		if (content_length == COIL_HTTP_LENGTH_UNKNOWN) {
			if (c->x->req.minor_version >= 1) {
				sp.flags |= COIL_HTTP_CHUNKED;
				c->st |= C_CHUNKED;
			} else {
				/* close-delimited (RFC 9112 §6.3 rule 8):
				 * the writer would add a Content-Length,
				 * so announce none by hand below */
				sp.flags &= ~COIL_HTTP_KEEP_ALIVE;
				sp.flags |= COIL_HTTP_CLOSE;
				c->st |= C_CLOSE;
			}
		} else {
			sp.flags |= COIL_HTTP_HEAD_ONLY;
			sp.body_len = content_length;
			c->x->rleft = content_length;
		}
	}
	if (content_length == COIL_HTTP_LENGTH_UNKNOWN &&
	    c->x->req.minor_version == 0 && !nobody_status(status)) {
		ret = out_head_close_delimited(c, &sp);
		c->x->rleft = UINT64_MAX;
	} else {
		ret = coil__out_head(c, &sp);
	}
	if (ret < 0) {
		c->st &= ~(C_STREAM | C_BEGUN);
		if (ret == -EINVAL)
			coil__respond_500(c);
		else
			coil__sconn_fail(c, ret);
		coil__sreq_complete(c);
		return ret;
	}
	if (!(c->st & C_INPROC))
		coil__sconn_kick(c); /* flush the head */
	return 0;
}

void coil__respond_wop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, wop)->c;
	user_sent(c, res);
	if (c->st & C_DEAD)
		coil__sconn_kick(c); /* the pump releases it */
}

static void user_sent(struct sconn *c, int status)
{
	coil_http_sent_fn cb = c->x->wcb;
	void *arg = c->x->warg;

	if (!(c->st & C_WBUSY))
		return;
	c->st &= ~C_WBUSY;
	c->x->wcb = NULL;
	if (cb && (c->st & C_OWNED))
		cb(&c->x->req, status, arg);
}

int coil_http_respond_write(struct coil_http_sreq *req, const void *data,
			    size_t len, coil_http_sent_fn cb, void *arg)
{
	struct sconn *c;
	struct iovec v[3];
	void *heap = NULL;
	unsigned n = 0;
	int ret;

	if (sreq_h2(req))
		return coil__h2_respond_write(req, data, len, cb, arg);
	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (!(c->st & C_STREAM) || (!data && len))
		return -EINVAL;
	if (c->st & C_WBUSY)
		return -EBUSY;
	if (!(c->st & C_CHUNKED) && len > c->x->rleft)
		return -EINVAL;
	if (c->st & C_DEAD)
		return -EPIPE;
	c->x->wcb = cb;
	c->x->warg = arg;
	c->st |= C_WBUSY;
	if ((c->st & C_NOBODY) || len == 0) {
		if (!(c->st & C_CHUNKED) && !(c->st & C_NOBODY))
			c->x->rleft -= len;
		coil_loop_post(c->srv->loop, &c->x->wop, 0);
		return 0;
	}
	if (c->st & C_CHUNKED) {
		/* size line into the output buffer (sent first, with what
		 * precedes), the data borrowed, the CRLF from static memory */
		char pre[24];
		int k = coil_http_chunk_head(pre, sizeof(pre), len);
		if (OBUF_SIZE - c->x->olen < (size_t)k)
			coil__obuf_compact(c);
		if (OBUF_SIZE - c->x->olen >= (size_t)k) {
			memcpy(c->x->obuf + c->x->olen, pre, (size_t)k);
			c->x->olen += (size_t)k;
		} else {
			char *h = malloc((size_t)k);
			if (!h) {
				c->st &= ~C_WBUSY;
				coil__sconn_fail(c, -ENOMEM);
				return -ENOMEM;
			}
			memcpy(h, pre, (size_t)k);
			heap = h;
			v[n].iov_base = h;
			v[n++].iov_len = (size_t)k;
		}
		v[n].iov_base = (void *)data;
		v[n++].iov_len = len;
		v[n].iov_base = (void *)"\r\n";
		v[n++].iov_len = 2;
	} else {
		if (c->x->rleft != UINT64_MAX)
			c->x->rleft -= len;
		v[n].iov_base = (void *)data;
		v[n++].iov_len = len;
	}
	c->x->rbytes += len;
	ret = coil__out_send(c, SK_USER, heap, v, n);
	if (ret < 0) {
		c->st &= ~C_WBUSY;
		return ret;
	}
	return 0;
}

int coil_http_respond_end(struct coil_http_sreq *req)
{
	struct sconn *c;

	if (sreq_h2(req))
		return coil__h2_respond_end(req);
	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (!(c->st & C_STREAM))
		return -EINVAL;
	if (!(c->st & C_DEAD) && !(c->st & C_NOBODY)) {
		if (c->st & C_CHUNKED) {
			static const char end[] = "0\r\n\r\n";
			if (OBUF_SIZE - c->x->olen < sizeof(end))
				coil__obuf_compact(c);
			if (OBUF_SIZE - c->x->olen >= sizeof(end)) {
				memcpy(c->x->obuf + c->x->olen, end,
				       sizeof(end) - 1);
				c->x->olen += sizeof(end) - 1;
			} else {
				struct iovec v = {(void *)end, sizeof(end) - 1};
				coil__out_send(c, SK_PLAIN, NULL, &v, 1);
			}
		} else if (c->x->rleft == UINT64_MAX) {
			c->st |= C_CLOSE; /* close-delimited */
		} else if (c->x->rleft) {
			c->st |= C_SHORT | C_CLOSE;
		}
	}
	c->st |= C_DONE;
	c->st &= ~C_WBUSY;
	c->x->wcb = NULL;
	coil__sreq_complete(c);
	return 0;
}

int coil_http_sreq_abort(struct coil_http_sreq *req)
{
	struct sconn *c;
	if (!req)
		return -EINVAL;
	if (sreq_h2(req))
		return coil__h2_abort(req);
	c = sconn_of(req);
	if (!(c->st & C_OWNED) || (c->st & C_INTERNAL))
		return -EINVAL;
	c->st &= ~C_WBUSY;
	c->x->wcb = NULL;
	if (!(c->st & (C_DEAD | C_BEGUN)) &&
	    (c->x->bstate == BS_FAILED || c->x->bstate == BS_REPORTED) &&
	    (c->x->berr == COIL_EPARSE || c->x->berr == COIL_ELIMIT)) {
		/* the client's body was at fault and no status went out */
		coil__send_error(c, c->x->berr == COIL_ELIMIT ? 413 : 400);
		coil__sreq_complete(c);
		return 0;
	}
	c->st |= C_DONE | C_CLOSE;
	if (!(c->st & C_DEAD)) {
		c->st |= C_CLOSE_CLEAN;
		coil__sconn_fail(c, 0);
	}
	coil__sreq_complete(c);
	return 0;
}
