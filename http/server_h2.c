/*
 * http/server_h2.c - the server's HTTP/2 connections (RFC 9113): what a
 * connection does once http/server.c handed it over (ALPN "h2" after the
 * TLS handshake, or the client preface on plain TCP: h2c with prior
 * knowledge, §3.3), and the HTTP/2 half of the request API.
 *
 * The framing, HPACK and flow control are libnghttp2's, driven by the
 * session of http/h2.c (coil/http_h2.h): it feeds the stream's reads to
 * nghttp2 and gathers the session's output into one stream write per loop
 * turn. This file is the server role on top: each request stream becomes a
 * struct coil_http_sreq handed to the same handler as an HTTP/1.1 request,
 * and the public calls (coil_http_respond() ... in server_respond.c,
 * server_body.c, server_file.c) come here for a request whose
 * major_version is 2.
 *
 * The limits are HTTP/1.1's, answered per stream: a head above
 * max_head_bytes (names, values and 32 per field, RFC 9113 §6.5.2) or
 * max_headers fields gets 431, a declared body above max_body_bytes 413, a
 * body that grows past it COIL_ELIMIT to the handler (then 413 from
 * coil_http_sreq_abort()); an aborted request's stream is reset
 * (INTERNAL_ERROR), and a request body still coming after the answer is
 * dropped (the session resets the stream, CANCEL, once it runs past
 * twice max_body_bytes and 1 MiB).
 * The session itself refuses what
 * breaks the protocol (its own limits: header lists four times
 * max_head_bytes, CONTINUATION and control-frame floods). The connection
 * ends after header_timeout_ns without a first request or idle_timeout_ns
 * without a stream (GOAWAY NO_ERROR), after max_requests streams (GOAWAY
 * naming the last), or at a shutdown (GOAWAY; the streams in progress
 * finish, cut when the drain time runs out). A reader that stalls meets
 * write_timeout_ns twice: a stream whose send window stays closed that
 * long is reset (the session's flow_timeout_ns), a connection whose send
 * makes no progress that long ends (the stream's write deadline).
 *
 * Request bodies are kept in memory as they arrive (the session gives the
 * window back once each DATA frame is read), up to max_body_bytes per
 * stream; coil_http_sreq_stream_body() lends them piece by piece.
 *
 * This file is the connection: the session's callbacks, request heads,
 * the connection's time limit, the hand-over and the end; a stream's
 * answers, body and events are http/server_h2_stream.c. Calls run one
 * way: server.c and server_conn.c call in here, this file calls
 * server_h2_stream.c, and it reports back to server.c only through the
 * function pointer server.c gave (coil__h2_serve()'s @gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chars.h"
#include "server_h2.h"

static void conn_end_check(struct h2conn *hc);

/* ---- the session's callbacks ------------------------------------------------
 */

/* The field named @name (lower case), or NULL. */
static const char *field_find(const struct h2s *s, unsigned n, const char *name,
			      size_t *len)
{
	size_t nl = strlen(name);
	for (unsigned i = 0; i < n; i++) {
		if (s->hdrs[i].name_len == nl &&
		    !memcmp(s->hdrs[i].name, name, nl)) {
			*len = s->hdrs[i].value_len;
			return s->hdrs[i].value;
		}
	}
	return NULL;
}

/*
 * Copy the head into the stream (the session's fields live during the
 * call only) and point the request at it. Pseudo-fields come first
 * (nghttp2 checked them, RFC 9113 §8.3.1). Return: 0; -ENOMEM.
 */
static int head_take(struct h2s *s, const struct coil_http_header *f,
		     unsigned n)
{
	struct coil_http_server *srv = s->hc->srv;
	struct coil_http_sreq *r = &s->req;
	size_t bytes = 0, off = 0, len;
	unsigned nh = 0;
	const char *q, *v;
	char *h;

	for (unsigned i = 0; i < n; i++) {
		bytes += f[i].name_len + f[i].value_len;
		nh += f[i].name_len && f[i].name[0] != ':';
	}
	if (bytes + (size_t)n * H2_FIELD_COST > srv->o.max_head_bytes ||
	    nh > srv->o.max_headers) {
		s->st |= HS_HEADERR;
		return 0;
	}
	/* one allocation: the fields, then their bytes */
	if (nh * sizeof(*s->hdrs) + bytes + 1 > s->hdrs_bytes) {
		size_t want = nh * sizeof(*s->hdrs) + bytes + 1;
		free(s->hdrs);
		s->hdrs_bytes = 0;
		s->hdrs = malloc(want < 1024 ? 1024 : want);
		if (!s->hdrs)
			return -ENOMEM;
		s->hdrs_bytes = want < 1024 ? 1024 : want;
	}
	h = (char *)(s->hdrs + nh);
	nh = 0;
	for (unsigned i = 0; i < n; i++) {
		const char *nm = h + off;
		memcpy(h + off, f[i].name, f[i].name_len);
		off += f[i].name_len;
		v = h + off;
		memcpy(h + off, f[i].value, f[i].value_len);
		off += f[i].value_len;
		len = f[i].value_len;
		if (f[i].name_len && f[i].name[0] != ':') {
			s->hdrs[nh++] = (struct coil_http_header){
				nm, f[i].name_len, v, len};
		} else if (f[i].name_len == 7 && !memcmp(nm, ":method", 7)) {
			r->method = v;
			r->method_len = len;
		} else if (f[i].name_len == 5 && !memcmp(nm, ":path", 5)) {
			r->target = v;
			r->target_len = len;
		} else if (f[i].name_len == 10 &&
			   !memcmp(nm, ":authority", 10)) {
			r->host = v;
			r->host_len = len;
		}
	}
	r->headers = s->hdrs;
	r->nheaders = nh;
	if (!r->host)
		r->host = field_find(s, nh, "host", &r->host_len);
	if (!r->target) {
		/* CONNECT (RFC 9113 §8.5): the authority is the target */
		r->target = r->host ? r->host : "";
		r->target_len = r->host ? r->host_len : 0;
	}
	if (!r->method) {
		r->method = "";
		r->method_len = 0;
	}
	r->is_head = r->method_len == 4 && !memcmp(r->method, "HEAD", 4);
	r->path = r->target;
	q = memchr(r->target, '?', r->target_len);
	if (q) {
		r->path_len = (size_t)(q - r->target);
		r->query = q + 1;
		r->query_len = r->target_len - r->path_len - 1;
	} else {
		r->path_len = r->target_len;
		r->query = r->target + r->target_len;
		r->query_len = 0;
	}
	v = field_find(s, nh, "content-length", &len);
	if (s->st & HS_IN_END) {
		r->body_kind = COIL_HTTP_BODY_NONE;
	} else if (v) {
		/* digits only: nghttp2 checked it (RFC 9113 §8.1.1) */
		r->body_kind = COIL_HTTP_BODY_LENGTH;
		for (size_t i = 0; i < len; i++)
			r->content_length =
				r->content_length * 10 + (uint64_t)(v[i] - '0');
	} else {
		r->body_kind = COIL_HTTP_BODY_CHUNKED;
	}
	return 0;
}

/* A request head: a new stream, answered by the server (431, 413) or
 * handed to the handler. */
static void start_request(struct h2conn *hc, int32_t sid,
			  const struct coil_http_header *f, unsigned n,
			  unsigned flags)
{
	struct coil_http_server *srv = hc->srv;
	struct h2s *s;

	if (hc->st & HC_CLOSING) {
		coil_h2_reset(hc->h2, sid, H2_REFUSED_STREAM);
		return;
	}
	s = coil__h2s_new(hc, sid);
	if (!s) {
		coil_h2_reset(hc->h2, sid, H2_INTERNAL_ERROR);
		return;
	}
	coil_h2_set_stream_data(hc->h2, sid, s);
	hc->nreq++;
	if (srv->o.max_requests && hc->nreq >= srv->o.max_requests) {
		/* the last stream this connection takes */
		hc->st |= HC_CLOSING;
		coil_h2_shutdown(hc->h2);
	}
	if (flags & COIL_H2_END_STREAM)
		s->st |= HS_IN_END;
	if (head_take(s, f, n) < 0) {
		coil__h2s_refuse(s, 500);
		coil__h2s_release(s);
		return;
	}
	if (s->st & HS_HEADERR) {
		coil__h2s_refuse(s, 431);
		coil__h2s_release(s);
		return;
	}
	if (s->req.body_kind == COIL_HTTP_BODY_LENGTH &&
	    s->req.content_length > srv->o.max_body_bytes) {
		coil__h2s_refuse(s, 413);
		coil__h2s_release(s);
		return;
	}
	s->bstate = (s->st & HS_IN_END) ? BS_ENDED : BS_GOING;
	s->st |= HS_OWNED;
	srv->stats.requests++;
	srv->o.handler(&s->req, srv->o.arg);
}

static void on_head(struct coil_h2 *h, int32_t sid, void *sdata,
		    const struct coil_http_header *f, unsigned n,
		    unsigned flags)
{
	struct h2conn *hc = coil_h2_data(h);
	struct h2s *s = sdata;

	if (!s) {
		start_request(hc, sid, f, n, flags);
		return;
	}
	/* trailers (RFC 9113 §8.1): not kept; they end the body */
	if (flags & COIL_H2_END_STREAM) {
		s->st |= HS_IN_END;
		if (s->bstate == BS_GOING) {
			s->bstate = BS_ENDED;
			coil__h2s_kick(s);
		}
	}
}

static void on_data(struct coil_h2 *h, int32_t sid, void *sdata,
		    const void *buf, size_t len)
{
	struct h2conn *hc = coil_h2_data(h);
	struct h2s *s = sdata;
	struct bpiece *p;

	(void)sid;
	if (!s)
		return;
	if (!len) {
		/* the request's END_STREAM: its body is complete */
		s->st |= HS_IN_END;
		if (s->bstate == BS_GOING) {
			s->bstate = BS_ENDED;
			coil__h2s_kick(s);
		}
		return;
	}
	s->brecv += len;
	if (s->brecv > hc->srv->o.max_body_bytes) {
		/* dropped, not reset: nghttp2 sends a RST_STREAM ahead of an
		 * answer still queued (a 413), which would be lost; the
		 * session resets a stream whose body runs far past it */
		coil__h2s_body_fail(s, COIL_ELIMIT);
		return;
	}
	if (s->bstate != BS_GOING)
		return;
	if (s->bmode == B_BUFFER) {
		if (coil__h2s_body_grow(s, s->blen + len) < 0) {
			coil__h2s_body_fail(s, -ENOMEM);
			return;
		}
		memcpy(s->bbuf + s->blen, buf, len);
		s->blen += len;
		return;
	}
	if ((s->st & HS_DONE) && s->bmode == B_NONE)
		return; /* answered without reading it: dropped */
	p = malloc(sizeof(*p) + len);
	if (!p) {
		coil__h2s_body_fail(s, -ENOMEM);
		return;
	}
	p->next = NULL;
	p->len = len;
	memcpy(p->data, buf, len);
	if (s->bq_tail)
		s->bq_tail->next = p;
	else
		s->bq = p;
	s->bq_tail = p;
	if (s->bmode == B_STREAM)
		coil__h2s_kick(s);
}

/* The stream ended (the session's last word on it): a reset or a cut
 * fails the body and the write in progress; the handler hears of it from
 * the loop, and its cancel hook runs if it still holds the request. */
static void on_close(struct coil_h2 *h, int32_t sid, void *sdata, int err,
		     uint32_t code)
{
	struct h2s *s = sdata;

	(void)h;
	(void)sid;
	(void)code;
	if (!s)
		return;
	s->st |= HS_CLOSED;
	if (s->st & HS_WBUSY) {
		s->st |= HS_WDONE;
		s->wstatus = err ? -ECONNRESET : 0;
	}
	if (s->bstate == BS_GOING) {
		if (err)
			coil__h2s_body_fail(s, -ECONNRESET);
		else
			s->bstate = BS_ENDED;
	}
	coil__h2s_kick(s);
}

static void conn_closed(void *data);

static void on_end(struct coil_h2 *h, int err)
{
	struct h2conn *hc = coil_h2_data(h);
	if (err < 0 && !hc->err)
		hc->err = err;
	if (!(hc->st & HC_CLOSE)) {
		hc->st |= HC_CLOSE;
		coil_h2_close(h, conn_closed);
	}
}

static const struct coil_h2_handler server_role = {
	.on_head = on_head,
	.on_data = on_data,
	.on_close = on_close,
	.on_end = on_end,
};

/* ---- the connection
 * -----------------------------------------------------------
 */

/* Every stream is gone and the session freed: tell server.c. */
static void conn_end_check(struct h2conn *hc)
{
	struct sconn *c = hc->c;
	void (*gone)(struct sconn *, int) = hc->gone;
	int err = hc->err;

	if (!(hc->st & HC_DEAD) || hc->nstreams || coil_op_busy(&hc->tmr) ||
	    (hc->st & HC_GONE))
		return;
	hc->st |= HC_GONE;
	while (hc->spare) {
		struct h2s *s = hc->spare;
		hc->spare = s->next;
		free(s->hdrs);
		free(s);
	}
	free(hc);
	gone(c, err);
}

/* The session is freed and its stream closed (coil_h2_close()'s
 * callback): the streams were told (on_close), their handlers hear of it
 * from the loop. */
static void conn_closed(void *data)
{
	struct h2conn *hc = data;

	hc->st |= HC_DEAD;
	hc->h2 = NULL;
	if (coil_op_busy(&hc->tmr))
		coil_timeout_remove(hc->srv->loop, &hc->tmr);
	for (struct h2s *s = hc->streams; s; s = s->next) {
		s->st |= HS_CLOSED;
		coil__h2s_kick(s);
	}
	conn_end_check(hc);
}

static void tmr_arm(struct h2conn *hc, uint64_t ns)
{
	if (!coil_op_busy(&hc->tmr))
		coil_timeout(hc->srv->loop, &hc->tmr, ns, 0);
}

/* The idle limit: no stream for idle_timeout_ns (before the first one,
 * header_timeout_ns) ends the connection with GOAWAY NO_ERROR. */
static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2conn *hc = coil_container_of(op, struct h2conn, tmr);
	struct coil_http_server *srv = hc->srv;
	uint64_t now = coil_now(srv->loop), lim;

	(void)res;
	(void)flags;
	if (hc->st & (HC_DEAD | HC_CLOSE)) {
		conn_end_check(hc);
		return;
	}
	lim = hc->nreq ? srv->o.idle_timeout_ns : srv->o.header_timeout_ns;
	if (hc->nstreams || now - hc->active_ns < lim) {
		tmr_arm(hc, hc->nstreams ? lim : lim - (now - hc->active_ns));
		return;
	}
	if (!(hc->st & HC_CLOSING)) {
		/* GOAWAY NO_ERROR; the session ends once it is sent
		 * (on_end); a peer that takes nothing is cut one limit on */
		srv->stats.timeouts++;
		hc->st |= HC_CLOSING;
		if (coil_h2_shutdown(hc->h2) == 0) {
			tmr_arm(hc, srv->o.linger_ns);
			return;
		}
	}
	hc->st |= HC_CLOSE;
	coil_h2_close(hc->h2, conn_closed);
}

int coil__h2_serve(struct sconn *c, const void *pre, size_t n,
		   void (*gone)(struct sconn *c, int err))
{
	struct coil_http_server *srv = c->srv;
	struct h2conn *hc = calloc(1, sizeof(*hc));
	struct coil_h2_opts o = {0};
	size_t hl = srv->o.max_head_bytes * 4;
	int ret;

	if (!hc)
		return -ENOMEM;
	hc->c = c;
	hc->srv = srv;
	hc->gone = gone;
	hc->stream_freed = conn_end_check;
	hc->date_sec = -1;
	hc->active_ns = coil_now(srv->loop);
	coil_op_init(&hc->tmr, tmr_cb);
	o.max_concurrent_streams =
		srv->o.h2_max_streams ? srv->o.h2_max_streams : H2_MAX_STREAMS;
	/* the session resets a stream whose header list is far over the
	 * limit; over max_head_bytes alone it is answered 431 here */
	o.max_header_list_bytes = hl < 65536 ? 65536 : (uint32_t)hl;
	/* past twice the body limit (and 1 MiB more) the session resets
	 * the stream (CANCEL): a body nobody reads is not taken forever */
	o.max_body_bytes = srv->o.max_body_bytes > UINT64_MAX / 4
				   ? 0
				   : srv->o.max_body_bytes * 2 + (1u << 20);
	/* a reader that stalls is cut at the write limit, as over HTTP/1.1:
	 * a stream whose flow-control window stays closed is reset (the
	 * others go on); a connection whose sends make no progress ends */
	o.flow_timeout_ns = srv->o.write_timeout_ns;
	ret = coil_h2_server(c->s, &o, &server_role, hc, pre, n, &hc->h2);
	if (ret < 0) {
		free(hc);
		return ret;
	}
	coil_stream_set_timeouts(c->s, 0, 0, srv->o.write_timeout_ns);
	c->h2 = hc;
	tmr_arm(hc, srv->o.header_timeout_ns);
	return 0;
}

void coil__h2_shutdown(struct h2conn *hc)
{
	if (hc->st & (HC_DEAD | HC_CLOSE | HC_SHUTDOWN))
		return;
	hc->st |= HC_SHUTDOWN | HC_CLOSING;
	/* GOAWAY naming the last stream begun: those finish, then the
	 * session ends (on_end); the drain timer cuts what is left */
	if (coil_h2_shutdown(hc->h2) < 0) {
		hc->st |= HC_CLOSE;
		coil_h2_close(hc->h2, conn_closed);
	}
}

void coil__h2_cut(struct h2conn *hc, int err)
{
	if (hc->st & (HC_DEAD | HC_CLOSE))
		return;
	hc->st |= HC_CLOSING | HC_CLOSE;
	if (!hc->err)
		hc->err = err;
	coil_h2_close(hc->h2, conn_closed);
}
