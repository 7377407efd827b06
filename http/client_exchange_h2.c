/*
 * http/client_exchange_h2.c - one request and its response as a stream of
 * a connection's HTTP/2 session (coil/http_h2.h, RFC 9113): the sibling of
 * client_exchange.c, reporting the same enum coil__xout to the same owner
 * (client.c's hop_end()), so that redirects, retries and deadlines are
 * one piece of code over both protocols.
 *
 * The request goes out as a HEADERS frame (":method", ":scheme",
 * ":authority", ":path", then the fields in lower case, §8.3.1, without
 * the connection-specific ones §8.2.2 forbids) and its body as DATA from
 * the request's buffer. The pool's session handler forwards the stream's
 * callbacks to req->x.hs: the final head becomes a struct coil_http_msg
 * (its fields copied into the request's head buffer), which
 * client_response.c judges as it judges an HTTP/1.1 head, and DATA goes
 * to the same sink. A body not wanted (a redirect followed, a status
 * retried) is not drained: the stream is reset (CANCEL), which costs the
 * connection nothing.
 *
 * The exchange ends when the stream does (its on_close: x.sid > 0 until
 * then), so a stream slot is given back (coil__conn_release()) only once
 * the session closed the stream too. Ending early (a limit, a deadline, a
 * cancel) resets the stream with RST_STREAM CANCEL (§6.4) and waits for
 * its on_close; the connection and its other streams go on.
 *
 * How a stream's failure is reported: refused without being processed
 * (the server's GOAWAY named a lower last stream id, §6.8, or its
 * RST_STREAM said REFUSED_STREAM, §8.7) → XO_REUSE_RETRY, whatever the
 * method, once per attempt; the connection lost before any response byte
 * on a connection that carried streams before → XO_REUSE_RETRY for
 * idempotent methods (RFC 9112 §9.3.1's rule, as over HTTP/1.1);
 * otherwise the error (COIL_EH2_RESET with the code in words, ...), which
 * the retry policy judges.
 *
 * Pausing (coil_http_req_pause()) cannot stop reading a connection other
 * streams share: body bytes that arrive meanwhile are held in the
 * request's scratch buffer (within max_body_bytes) and delivered from the
 * request's kick after the resume (docs/ARCHITECTURE.md, "The kick and
 * the pump", its delivery step).
 */

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../engine/grow.h"
#include "chars.h"
#include "client_internal.h"

#define H2_CANCEL 0x8u	       /* RFC 9113 §7 */
#define H2_REFUSED_STREAM 0x7u /* ... */

static void hs_head(struct coil__h2stream *st, const struct coil_http_header *f,
		    unsigned n, unsigned flags);
static void hs_data(struct coil__h2stream *st, const void *buf, size_t len);
static void hs_close(struct coil__h2stream *st, int err, uint32_t code);

static struct coil_http_req *req_of(struct coil__h2stream *st)
{
	return coil_container_of(st, struct coil_http_req, x.hs);
}

/* Give the stream slot back and report how the exchange ended. */
static void complete(struct coil_http_req *req)
{
	struct cconn *cn = req->x.conn;
	enum coil__xout out = req->x.out;
	int res = req->x.res;

	req->x.conn = NULL;
	coil__conn_release(cn);
	if (out == XO_REDIRECT)
		res = req->x.status_pending;
	else if (out == XO_DONE && res < 0)
		out = XO_FAILED;
	req->x.done(req, out, res);
}

/* The result is @res: reset the stream if it is still open (its on_close
 * completes), else complete now. */
static void finish(struct coil_http_req *req, int res)
{
	if (req->x.ended)
		return;
	req->x.ended = 1;
	req->x.res = res;
	req->x.phase = X_END;
	if (req->x.sid > 0) {
		/* on_close follows whatever this returns (-ENOENT: it is
		 * on its way; COIL_ECLOSED: the close delivers it) */
		(void)coil_h2_reset(req->x.conn->h2, req->x.sid, H2_CANCEL);
		return;
	}
	complete(req);
}

/* Names in lower case (RFC 9113 §8.2.1) and without the fields §8.2.2
 * forbids; @buf receives the lowered names. Return: fields written. */
static unsigned user_fields(const struct coil_http_req *req,
			    struct coil_http_header *out, char *buf)
{
	static const char *const conn_specific[] = {
		"connection",	     "keep-alive", "proxy-connection",
		"transfer-encoding", "upgrade",	   "host"};
	unsigned n = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct coil_http_header *h = &req->headers[i];
		int skip = coil__header_dropped(req, h);
		for (size_t k = 0;
		     !skip &&
		     k < sizeof(conn_specific) / sizeof(conn_specific[0]);
		     k++)
			skip = h->name_len == strlen(conn_specific[k]) &&
			       !strncasecmp(h->name, conn_specific[k],
					    h->name_len);
		if (skip)
			continue;
		for (size_t k = 0; k < h->name_len; k++)
			buf[k] = ch_lower(h->name[k]);
		out[n].name = buf;
		out[n].name_len = h->name_len;
		out[n].value = h->value;
		out[n].value_len = h->value_len;
		buf += h->name_len;
		n++;
	}
	return n;
}

static int has_field(const struct coil_http_header *f, unsigned n,
		     const char *name)
{
	for (unsigned i = 0; i < n; i++) {
		if (f[i].name_len == strlen(name) &&
		    !memcmp(f[i].name, name, f[i].name_len))
			return 1;
	}
	return 0;
}

#define PUT(f, n, nm, v, vl)                                                   \
	do {                                                                   \
		(f)[n].name = (nm);                                            \
		(f)[n].name_len = strlen(nm);                                  \
		(f)[n].value = (v);                                            \
		(f)[n].value_len = (vl);                                       \
		(n)++;                                                         \
	} while (0)

/* Open the stream. Return: its id, or an error of coil_h2_request(). */
static int32_t submit(struct coil_http_req *req, struct cconn *cn)
{
	const struct coil_url *u = &req->url;
	const char *ua = req->c->user_agent;
	uint64_t blen = req->send_body ? req->rbody_len : 0;
	size_t names = 0;
	struct coil_http_header *f;
	struct coil_h2_body body = {0};
	char *buf, clen[24];
	unsigned n = 0, k;
	int32_t sid;

	for (size_t i = 0; i < req->nheaders; i++)
		names += req->headers[i].name_len;
	f = malloc((req->nheaders + 8) * sizeof(*f) + names + 1);
	if (!f)
		return -ENOMEM;
	buf = (char *)(f + req->nheaders + 8);
	PUT(f, n, ":method", req->method, strlen(req->method));
	PUT(f, n, ":scheme", u->https ? "https" : "http", u->https ? 5 : 4);
	PUT(f, n, ":authority", coil_url_authority(u), u->auth_len);
	PUT(f, n, ":path", coil_url_target(u), u->target_len);
	k = n;
	n += user_fields(req, f + n, buf);
	if (ua && *ua && !has_field(f + k, n - k, "user-agent"))
		PUT(f, n, "user-agent", ua, strlen(ua));
	if (!has_field(f + k, n - k, "accept"))
		PUT(f, n, "accept", "*/*", 3);
	if (blen || !strcmp(req->method, "POST") ||
	    !strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH")) {
		int l = snprintf(clen, sizeof(clen), "%llu",
				 (unsigned long long)blen);
		PUT(f, n, "content-length", clen, (size_t)l);
	}
	body.buf = req->rbody;
	body.len = (size_t)blen;
	sid = coil_h2_request(cn->h2, f, n, blen ? &body : NULL, &req->x.hs);
	free(f);
	return sid;
}

void coil__exchange_h2_start(struct coil_http_req *req, struct cconn *cn,
			     void (*done)(struct coil_http_req *req,
					  enum coil__xout out, int res))
{
	struct coil_http_client *c = cn->c;
	int32_t sid;

	memset(&req->x, 0, sizeof(req->x));
	req->x.conn = cn;
	req->x.done = done;
	req->x.h2 = 1;
	req->x.reused = cn->nreq > 1;
	req->x.phase = X_HEAD;
	req->x.sink = SINK_USER;
	req->x.out = XO_DONE;
	req->x.hs.on_head = hs_head;
	req->x.hs.on_data = hs_data;
	req->x.hs.on_close = hs_close;
	coil_http_msg_init(&req->x.msg, req->hdrs, CLIENT_MAX_HEADERS);
	req->x.msg.max_head_bytes = req->max_head;
	c->stats.exchanges++;
	c->stats.h2_streams++;
	if (req->x.reused)
		c->stats.reused++;

	sid = submit(req, cn);
	if (sid < 0) {
		if (sid == COIL_EH2_GOAWAY && !req->reuse_retried) {
			/* the GOAWAY came first: not sent, go elsewhere */
			req->x.out = XO_REUSE_RETRY;
			finish(req, COIL_EH2_GOAWAY);
			return;
		}
		coil__req_why(req, sid, "open an HTTP/2 stream");
		finish(req, sid);
		return;
	}
	req->x.sid = sid;
	req->x.wrote = 1;
}

/* ---- the head ------------------------------------------------------------ */

/* ":status" as a number, or -1. */
static int status_of(const struct coil_http_header *f, unsigned n)
{
	int v = 0;

	if (!n || f[0].name_len != 7 || memcmp(f[0].name, ":status", 7) ||
	    f[0].value_len != 3)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (!(f[0].value[i] >= '0' && f[0].value[i] <= '9'))
			return -1;
		v = v * 10 + (f[0].value[i] - '0');
	}
	return v;
}

/* The fields of a final head into req->x.msg, their bytes copied into
 * req->hbuf. Return: 0; COIL_ELIMIT; -ENOMEM. */
static int head_copy(struct coil_http_req *req,
		     const struct coil_http_header *f, unsigned n)
{
	struct coil_http_msg *m = &req->x.msg;
	size_t need = 0, off = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (f[i].name_len && f[i].name[0] == ':')
			continue;
		need += f[i].name_len + f[i].value_len;
		k++;
	}
	if (k > m->max_headers || need + 4 * (size_t)k > req->max_head) {
		coil__req_why(req, COIL_ELIMIT,
			      "response head over %zu bytes or %u fields",
			      req->max_head, (unsigned)CLIENT_MAX_HEADERS);
		return COIL_ELIMIT;
	}
	if (need > req->hcap) {
		char *b = coil__grow(req->hbuf, &req->hcap, need, 4096);
		if (!b) {
			coil__req_why(req, -ENOMEM, "head buffer");
			return -ENOMEM;
		}
		req->hbuf = b;
	}
	k = 0;
	for (unsigned i = 0; i < n; i++) {
		struct coil_http_header *h = &m->headers[k];
		if (f[i].name_len && f[i].name[0] == ':')
			continue;
		memcpy(req->hbuf + off, f[i].name, f[i].name_len);
		h->name = req->hbuf + off;
		h->name_len = f[i].name_len;
		off += f[i].name_len;
		memcpy(req->hbuf + off, f[i].value, f[i].value_len);
		h->value = req->hbuf + off;
		h->value_len = f[i].value_len;
		off += f[i].value_len;
		k++;
	}
	m->nheaders = k;
	return 0;
}

/* Content-Length as a number (nghttp2 checked the DATA against it), or
 * -1 for none or one that is not a number. */
static int64_t content_length(const struct coil_http_msg *m)
{
	const struct coil_http_header *h =
		coil_http_header_find(m, "content-length", NULL);
	uint64_t v = 0;

	if (!h || !h->value_len || h->value_len > 18)
		return -1;
	for (size_t i = 0; i < h->value_len; i++) {
		if (!(h->value[i] >= '0' && h->value[i] <= '9'))
			return -1;
		v = v * 10 + (uint64_t)(h->value[i] - '0');
	}
	return (int64_t)v;
}

static void hs_head(struct coil__h2stream *st, const struct coil_http_header *f,
		    unsigned n, unsigned flags)
{
	struct coil_http_req *req = req_of(st);
	struct coil_http_msg *m = &req->x.msg;
	int status = status_of(f, n), r;
	int64_t cl;

	if (req->x.ended || req->x.phase != X_HEAD)
		return; /* trailers, or a response being reset */
	req->x.got_bytes = 1;
	if (status < 100) {
		coil__req_why(req, COIL_EPARSE, "response without a :status");
		finish(req, COIL_EPARSE);
		return;
	}
	if (status < 200) {
		if (status == 101) {
			coil__req_why(req, COIL_EPARSE,
				      "101 Switching Protocols over HTTP/2");
			finish(req, COIL_EPARSE);
		}
		return; /* an interim head (RFC 9110 §15.2) */
	}
	r = head_copy(req, f, n);
	if (r < 0) {
		finish(req, r);
		return;
	}
	m->status = status;
	m->reason = "";
	m->reason_len = 0;
	m->minor_version = 1;
	m->keep_alive = 1;
	m->content_length = 0;
	cl = content_length(m);
	if (req->head || status == 204 || status == 304 ||
	    (flags & COIL_H2_END_STREAM)) {
		m->body = COIL_HTTP_BODY_NONE;
	} else if (cl >= 0) {
		m->body = COIL_HTTP_BODY_LENGTH;
		m->content_length = (uint64_t)cl;
	} else {
		m->body = COIL_HTTP_BODY_CLOSE; /* to END_STREAM */
	}
	req->x.body.kind = m->body;
	r = coil__resp_head(req);
	if (r < 0) {
		finish(req, r);
		return;
	}
	if (req->x.sink != SINK_USER) {
		/* its body is of no use: reset rather than drain */
		finish(req, req->x.status_pending);
		return;
	}
	req->x.phase = X_BODY;
	if (req->on_head) {
		struct cconn *cn = req->x.conn;
		req->on_head(req);
		if (req->x.conn != cn || req->x.ended)
			return;
	}
}

/* ---- the body ------------------------------------------------------------ */

/* Hold @len bytes while paused. Return: 0; COIL_ELIMIT; -ENOMEM. */
static int hold(struct coil_http_req *req, const void *buf, size_t len)
{
	if (req->x.body.received > req->max_body) {
		coil__req_why(req, COIL_ELIMIT, "response body over %llu bytes",
			      (unsigned long long)req->max_body);
		return COIL_ELIMIT;
	}
	if (req->x.held + len > req->scratch_cap) {
		char *b = coil__grow(req->scratch, &req->scratch_cap,
				     req->x.held + len, 16384);
		if (!b) {
			coil__req_why(req, -ENOMEM, "body buffer");
			return -ENOMEM;
		}
		req->scratch = b;
	}
	memcpy(req->scratch + req->x.held, buf, len);
	req->x.held += len;
	return 0;
}

static void hs_data(struct coil__h2stream *st, const void *buf, size_t len)
{
	struct coil_http_req *req = req_of(st);
	int r;

	if (!len || req->x.ended || req->x.phase != X_BODY)
		return;
	req->x.body.received += len;
	/* held bytes (paused, or a resume's kick not run yet) go first */
	r = req->x.paused || req->x.held ? hold(req, buf, len)
					 : coil__resp_body(req, buf, len);
	if (r < 0)
		finish(req, r);
}

/* After a resume: the held bytes, then the end if the stream ended. */
static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_req *req =
		coil_container_of(op, struct coil_http_req, kick);
	struct cconn *cn = req->x.conn;
	size_t n = req->x.held;
	int r;

	(void)res;
	(void)flags;
	if (!cn || req->x.ended || req->x.paused)
		return;
	if (n) {
		req->x.held = 0;
		r = coil__resp_body(req, req->scratch, n);
		if (r < 0) {
			finish(req, r);
			return;
		}
		if (req->x.conn != cn || req->x.ended || req->x.paused)
			return;
	}
	if (req->x.h2_closed)
		finish(req, req->x.status_pending);
}

int coil__exchange_h2_pause(struct coil_http_req *req, int pause)
{
	if (pause) {
		if (!req->x.have_head || req->x.ended)
			return -EINVAL;
		req->x.paused = 1;
		return 0;
	}
	if (!req->x.paused)
		return 0;
	req->x.paused = 0;
	if (!req->x.ended && (req->x.held || req->x.h2_closed) &&
	    !coil_op_busy(&req->kick)) {
		coil_op_init(&req->kick, kick_cb);
		coil_loop_post(req->c->loop, &req->kick, 0);
	}
	return 0;
}

/* ---- the end ------------------------------------------------------------- */

static int refused(int err, uint32_t code)
{
	return err == COIL_EH2_GOAWAY ||
	       (err == COIL_EH2_RESET && code == H2_REFUSED_STREAM);
}

static void hs_close(struct coil__h2stream *st, int err, uint32_t code)
{
	struct coil_http_req *req = req_of(st);

	req->x.sid = 0;
	if (req->x.ended) {
		complete(req);
		return;
	}
	if (!err) {
		if (req->x.phase == X_HEAD) {
			coil__req_why(req, COIL_ETRUNC,
				      "stream ended without a response");
			finish(req, COIL_ETRUNC);
			return;
		}
		if (req->x.held) {
			/* held bytes first: the resume's kick ends it */
			req->x.h2_closed = 1;
			if (!req->x.paused && !coil_op_busy(&req->kick)) {
				coil_op_init(&req->kick, kick_cb);
				coil_loop_post(req->c->loop, &req->kick, 0);
			}
			return;
		}
		finish(req, req->x.status_pending);
		return;
	}
	if (refused(err, code) && !req->reuse_retried) {
		/* not processed (RFC 9113 §6.8, §8.7): safe to send again */
		req->x.wrote = 0;
		req->x.out = XO_REUSE_RETRY;
		finish(req, err);
		return;
	}
	if (!req->x.got_bytes && req->x.reused && req->idempotent &&
	    !req->reuse_retried && err != COIL_EH2_RESET && err != COIL_EH2 &&
	    err != COIL_ELIMIT) {
		/* the connection was lost before any answer */
		req->x.out = XO_REUSE_RETRY;
		finish(req, err);
		return;
	}
	if (err == COIL_EH2_RESET || err == COIL_EH2)
		coil__req_why(req, err, "HTTP/2 stream %s (%s)",
			      err == COIL_EH2_RESET ? "reset by the server"
						    : "reset for a protocol "
						      "error",
			      coil_h2_strcode(code));
	else
		coil__req_why(req, err, "HTTP/2 stream");
	finish(req, err);
}

void coil__exchange_h2_abort(struct coil_http_req *req, int err)
{
	req->x.out = XO_DONE; /* whatever the head decided */
	if (req->x.ended) {
		req->x.res = err; /* reset already, its on_close is due */
		return;
	}
	finish(req, err);
}
