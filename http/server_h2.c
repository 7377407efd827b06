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
 * dropped, and cut past max_body_bytes with RST_STREAM NO_ERROR (§8.1).
 * The session itself refuses what
 * breaks the protocol (its own limits: header lists four times
 * max_head_bytes, CONTINUATION and control-frame floods). The connection
 * ends after header_timeout_ns without a first request or idle_timeout_ns
 * without a stream (GOAWAY NO_ERROR), after max_requests streams (GOAWAY
 * naming the last), or at a shutdown (GOAWAY; the streams in progress
 * finish, cut when the drain time runs out).
 *
 * Request bodies are kept in memory as they arrive (the session gives the
 * window back once each DATA frame is read), up to max_body_bytes per
 * stream; coil_http_sreq_stream_body() lends them piece by piece.
 *
 * Calls run one way: server.c and the API files call in here; this file
 * reports back only through the function pointer server.c gave
 * (coil__h2_serve()'s @gone), and calls nothing of server*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chars.h"
#include "server_internal.h"

#define H2_MAX_STREAMS 128
#define H2_MEM_INLINE 64      /* answer bodies kept in the stream itself */
#define H2_FCHUNK (64 * 1024) /* file piece */
#define H2_FIELD_COST 32      /* per field (RFC 9113 §6.5.2) */
#define H2_SPARE 16	      /* stream structs a connection keeps */
/* RFC 9113 §7 error codes */
#define H2_NO_ERROR 0x0
#define H2_INTERNAL_ERROR 0x2
#define H2_REFUSED_STREAM 0x7

/* struct h2conn.st */
#define HC_CLOSING (1u << 0)  /* GOAWAY sent: no new streams */
#define HC_DEAD (1u << 1)     /* the session is gone */
#define HC_GONE (1u << 2)     /* server.c was told */
#define HC_CLOSE (1u << 3)    /* coil_h2_close() called */
#define HC_SHUTDOWN (1u << 4) /* the server shuts down */

/* struct h2s.st */
#define HS_OWNED (1u << 0)     /* the handler (or serve_file) holds req */
#define HS_BEGUN (1u << 1)     /* a response was begun */
#define HS_DONE (1u << 2)      /* the response's last byte went out */
#define HS_CLOSED (1u << 3)    /* the session ended the stream */
#define HS_CANCELLED (1u << 4) /* the cancel hook ran */
#define HS_REPORTED (1u << 5)  /* on_done ran */
#define HS_LENT (1u << 6)      /* a body piece is lent to the handler */
#define HS_WBUSY (1u << 7)     /* a respond_write is outstanding */
#define HS_WDONE (1u << 8)     /* ... and its bytes went to the session */
#define HS_ENDED (1u << 9)     /* respond_end: EOF once drained */
#define HS_NOBODY (1u << 10)   /* HEAD / 204 / 304 */
#define HS_FILE (1u << 11)     /* the body comes from a file */
#define HS_IN_END (1u << 12)   /* the request's END_STREAM came */
#define HS_INTERNAL (1u << 13) /* serve_file holds req, not the handler */
#define HS_DEFERRED (1u << 14) /* the body source said -EAGAIN */
#define HS_HEADERR (1u << 15)  /* the head broke a limit: 431 */
#define HS_RST (1u << 16)      /* we reset the stream */

/* A piece of request body kept for the handler. */
struct bpiece {
	struct bpiece *next;
	size_t len;
	char data[];
};

struct h2conn;

/* One request stream. */
struct h2s {
	struct coil_http_sreq req;
	struct h2conn *hc;
	struct h2s *prev, *next; /* the connection's streams */
	int32_t id;
	unsigned st;
	/* the head: the fields, then the bytes they point to, in one
	 * allocation of hdrs_bytes kept when the struct is reused */
	struct coil_http_header *hdrs;
	size_t hdrs_bytes;
	/* the request body */
	unsigned bmode, bstate;
	int berr;
	struct bpiece *bq, *bq_tail; /* received, not yet handed over */
	char *bbuf;		     /* B_BUFFER: the whole body */
	size_t blen, bcap;
	uint64_t brecv;
	coil_http_body_fn bcb;
	coil_http_chunk_fn ccb;
	void *barg;
	/* the response */
	int rstatus;
	uint64_t rbytes;
	uint64_t rleft;	 /* streamed or file: bytes still due */
	const char *out; /* streamed: bytes the session has still to take */
	size_t olen;
	char *heap; /* a copy of an answer from memory */
	char inl[H2_MEM_INLINE];
	coil_http_sent_fn wcb;
	void *warg;
	int wstatus;
	/* a file body */
	int ffd;
	uint64_t foff;
	char *fbuf;
	size_t fpos, flen;
	struct coil_op fop; /* reads, open, statx */
	struct coil_op cop; /* close */
	struct aux *aux;    /* serve_file's scratch */
	/* events for the handler, run from the loop */
	struct coil_op ev;
	void (*cancel_fn)(struct coil_http_sreq *req, void *arg);
	void *cancel_arg;
};

struct h2conn {
	struct sconn *c;
	struct coil_http_server *srv;
	struct coil_h2 *h2; /* NULL once the session is gone */
	struct h2s *streams;
	unsigned nstreams; /* structs alive */
	struct h2s *spare; /* freed structs kept for reuse (H2_SPARE) */
	unsigned nspare;
	unsigned nreq; /* streams begun */
	unsigned st;
	int err;
	struct coil_op tmr; /* idle / first-request limit */
	uint64_t active_ns; /* last time a stream began or ended */
	void (*gone)(struct sconn *c, int err);
	int64_t date_sec;
	char date[32];
};

static inline struct h2s *h2s_of(struct coil_http_sreq *req)
{
	return coil_container_of(req, struct h2s, req);
}

static void stream_kick(struct h2s *s);
static void conn_end_check(struct h2conn *hc);

static int live(const struct h2s *s)
{
	return !(s->st & HS_CLOSED) && s->hc->h2 &&
	       !(s->hc->st & (HC_DEAD | HC_CLOSE));
}

/* ---- accounting
 * ---------------------------------------------------------------
 */

static void stream_report(struct h2s *s)
{
	struct coil_http_server *srv = s->hc->srv;
	if ((s->st & HS_REPORTED) || !(s->req.method || s->rstatus))
		return;
	s->st |= HS_REPORTED;
	if (s->rstatus)
		srv->stats.responses++;
	if (srv->o.on_done)
		srv->o.on_done(&s->req, s->rstatus, s->rbytes, srv->o.arg);
}

/* The response is completely queued (or never will be): on_done. */
static void stream_done(struct h2s *s)
{
	if (s->st & HS_DONE)
		return;
	s->st |= HS_DONE;
	stream_report(s);
}

static void stream_rst(struct h2s *s, uint32_t code)
{
	if (live(s))
		coil_h2_reset(s->hc->h2, s->id, code);
}

/* ---- the response head ------------------------------------------------------
 */

static const char *conn_date(struct h2conn *hc)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != hc->date_sec) {
		coil_http_date(hc->date, sizeof(hc->date), ts.tv_sec);
		hc->date_sec = ts.tv_sec;
	}
	return hc->date;
}

/* Fields a handler may not set: the server's (Date, Content-Length) and
 * HTTP/1.1's connection-specific ones (RFC 9113 §8.2.2). */
static int field_taken(const char *n, size_t len)
{
	static const char *const taken[] = {
		"date",
		"content-length",
		"connection",
		"keep-alive",
		"upgrade",
		"transfer-encoding",
		"proxy-connection",
	};
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		if (strlen(taken[i]) == len && ch_ieq(n, taken[i], len))
			return 1;
	}
	return 0;
}

static int field_ok(const struct coil_http_header *h)
{
	if (!h->name || !h->name_len || (h->value_len && !h->value))
		return 0;
	for (size_t i = 0; i < h->name_len; i++) {
		if (!ch_is((unsigned char)h->name[i], CH_TCHAR))
			return 0;
	}
	for (size_t i = 0; i < h->value_len; i++) {
		if (!ch_is((unsigned char)h->value[i], CH_VALUE))
			return 0;
	}
	return !field_taken(h->name, h->name_len);
}

#define FIELD(n, v, vl)                                                        \
	((struct coil_http_header){(n), sizeof(n) - 1, (v), (vl)})

/*
 * Send the response head: :status, date, the caller's fields (names in
 * lower case, as HTTP/2 requires, §8.2.1), content-length when @len is
 * known (UINT64_MAX: not), then @body (NULL: none, END_STREAM on the head).
 * Return: 0; -EINVAL for a field the server refuses; -ENOMEM; the
 * session's error.
 */
static int send_head(struct h2s *s, int status,
		     const struct coil_http_header *hs, size_t n, uint64_t len,
		     const struct coil_h2_body *body)
{
	struct h2conn *hc = s->hc;
	struct coil_http_header stack_f[16], *f = stack_f;
	char stack_names[512], *names = stack_names;
	char st[4], cl[24];
	size_t nn = 0;
	unsigned k = 0;
	int ret;

	if (n && !hs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!field_ok(&hs[i]))
			return -EINVAL;
		nn += hs[i].name_len;
	}
	if (n + 3 > sizeof(stack_f) / sizeof(stack_f[0]) ||
	    nn > sizeof(stack_names)) {
		f = malloc((n + 3) * sizeof(*f) + nn);
		if (!f)
			return -ENOMEM;
		names = (char *)(f + n + 3);
	}
	snprintf(st, sizeof(st), "%03d", status);
	f[k++] = FIELD(":status", st, 3);
	f[k++] = FIELD("date", conn_date(hc), strlen(hc->date));
	nn = 0;
	for (size_t i = 0; i < n; i++) {
		char *p = names + nn;
		for (size_t j = 0; j < hs[i].name_len; j++)
			p[j] = ch_lower(hs[i].name[j]);
		nn += hs[i].name_len;
		f[k++] = (struct coil_http_header){
			p, hs[i].name_len, hs[i].value, hs[i].value_len};
	}
	if (len != UINT64_MAX && !nobody_status(status)) {
		int l = snprintf(cl, sizeof(cl), "%llu",
				 (unsigned long long)len);
		f[k++] = FIELD("content-length", cl, (size_t)l);
	}
	ret = coil_h2_respond(hc->h2, s->id, f, k, body);
	if (f != stack_f)
		free(f);
	if (ret < 0)
		return ret;
	s->st |= HS_BEGUN;
	s->rstatus = status;
	return 0;
}

/* ---- the response body: one source for streamed and file bodies -------------
 */

static void file_read(struct h2s *s);

/*
 * The session's body source (struct coil_h2_body.read): copies what the
 * stream has ready: a streamed write's bytes at s->out, or the piece of a
 * file read into s->fbuf. Nothing ready: -EAGAIN, and the stream resumes
 * the body when it is (body_resume()). 0: the end.
 */
static ssize_t body_read(struct coil_h2 *h, int32_t sid, void *sdata, void *dst,
			 size_t cap)
{
	struct h2s *s = sdata;
	size_t n;

	(void)h;
	(void)sid;
	if (s->st & HS_FILE) {
		if (s->rleft == 0) {
			stream_done(s);
			return 0;
		}
		n = s->flen - s->fpos;
		if (n == 0) {
			file_read(s);
			s->st |= HS_DEFERRED;
			return -EAGAIN;
		}
		if (n > cap)
			n = cap;
		memcpy(dst, s->fbuf + s->fpos, n);
		s->fpos += n;
		s->rleft -= n;
		if (s->fpos == s->flen && s->rleft)
			file_read(s); /* the next piece while this one goes */
		return (ssize_t)n;
	}
	n = s->olen < cap ? s->olen : cap;
	memcpy(dst, s->out, n);
	s->out += n;
	s->olen -= n;
	if (s->olen == 0 && (s->st & HS_WBUSY) && !(s->st & HS_WDONE)) {
		s->st |= HS_WDONE;
		s->wstatus = 0;
		stream_kick(s);
	}
	if (n)
		return (ssize_t)n;
	if (s->st & HS_ENDED) {
		stream_done(s);
		return 0;
	}
	s->st |= HS_DEFERRED;
	return -EAGAIN;
}

/* More body is ready: wake the source. */
static void body_resume(struct h2s *s)
{
	if (!(s->st & HS_DEFERRED) || !live(s))
		return;
	s->st &= ~HS_DEFERRED;
	coil_h2_resume(s->hc->h2, s->id);
}

/* ---- file bodies: IORING_OP_READ into a buffer, then the source -------------
 */

static void file_close(struct h2s *s)
{
	int fd = s->ffd;
	s->ffd = -1;
	if (fd < 0)
		return;
	if (coil_op_busy(&s->cop) ||
	    coil_close(s->hc->srv->loop, &s->cop, fd) < 0)
		close(fd);
}

/* A read failed, or the file is shorter than announced: the stream is
 * reset, so that the client sees a truncated body (RFC 9113 §8.1.1). */
static void file_fail(struct h2s *s)
{
	file_close(s);
	stream_done(s);
	stream_rst(s, H2_INTERNAL_ERROR);
}

static void file_read_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);

	(void)flags;
	if (!live(s)) {
		stream_kick(s); /* may be freed now */
		return;
	}
	if (res <= 0) {
		file_fail(s);
		return;
	}
	s->fpos = 0;
	s->flen = (size_t)res < s->rleft ? (size_t)res : (size_t)s->rleft;
	s->foff += (uint64_t)res;
	if (s->flen == s->rleft)
		file_close(s); /* all read */
	body_resume(s);
}

/* Read the next piece, once the last one was taken. */
static void file_read(struct h2s *s)
{
	uint64_t want = s->rleft;
	size_t n = want < H2_FCHUNK ? (size_t)want : H2_FCHUNK;

	if (coil_op_busy(&s->fop) || !n || s->ffd < 0 || s->fpos < s->flen)
		return;
	s->fop.cb = file_read_cb;
	if (coil_read(s->hc->srv->loop, &s->fop, s->ffd, s->fbuf, n,
		      (int64_t)s->foff) < 0)
		file_fail(s);
}

/* ---- events for the handler: the stream's kick and pump ---------------------
 */

static void stream_body_fail(struct h2s *s, int err)
{
	if (s->bstate != BS_GOING)
		return;
	s->bstate = BS_FAILED;
	s->berr = err;
	stream_kick(s);
}

static void cop_cb(struct coil_op *op, int res, unsigned flags);

/* Free the stream once the session, the handler and the ring are done
 * with it. */
static void stream_free_check(struct h2s *s)
{
	struct h2conn *hc = s->hc;

	if (!(s->st & HS_CLOSED) || (s->st & HS_OWNED) ||
	    coil_op_busy(&s->ev) || coil_op_busy(&s->fop))
		return;
	file_close(s);
	if (coil_op_busy(&s->cop))
		return;
	stream_report(s);
	while (s->bq) {
		struct bpiece *p = s->bq;
		s->bq = p->next;
		free(p);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		hc->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	hc->nstreams--;
	hc->active_ns = coil_now(hc->srv->loop);
	free(s->bbuf);
	free(s->heap);
	free(s->fbuf);
	free(s->aux);
	if (hc->nspare < H2_SPARE) {
		/* kept with its head buffer for the connection's next one */
		s->next = hc->spare;
		hc->spare = s;
		hc->nspare++;
	} else {
		free(s->hdrs);
		free(s);
	}
	conn_end_check(hc);
}

static void cop_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	stream_free_check(coil_container_of(op, struct h2s, cop));
}

/* Deliver the body, a finished write and the cancel hook, in that order
 * (the HTTP/1.1 server's order, http/server.c conn_notify()). */
static void stream_pump(struct h2s *s)
{
	if ((s->st & HS_OWNED) && !(s->st & HS_LENT)) {
		if (s->bmode == B_BUFFER && s->bstate == BS_ENDED) {
			s->bstate = BS_REPORTED;
			s->req.body = s->bbuf;
			s->req.body_len = s->blen;
			s->bcb(&s->req, 0, s->barg);
		} else if (s->bmode == B_STREAM && s->bq &&
			   (s->bstate == BS_GOING || s->bstate == BS_ENDED)) {
			s->st |= HS_LENT;
			s->ccb(&s->req, 0, s->bq->data, s->bq->len, s->barg);
		} else if (s->bmode == B_STREAM && s->bstate == BS_ENDED) {
			s->bstate = BS_REPORTED;
			s->ccb(&s->req, COIL_HTTP_BODY_END, NULL, 0, s->barg);
		} else if (s->bstate == BS_FAILED &&
			   (s->bmode == B_BUFFER || s->bmode == B_STREAM)) {
			s->bstate = BS_REPORTED;
			if (s->bmode == B_BUFFER)
				s->bcb(&s->req, s->berr, s->barg);
			else
				s->ccb(&s->req, s->berr, NULL, 0, s->barg);
		}
	}
	if ((s->st & HS_WDONE) && (s->st & HS_WBUSY)) {
		coil_http_sent_fn cb = s->wcb;
		s->st &= ~(HS_WBUSY | HS_WDONE);
		s->wcb = NULL;
		if (cb && (s->st & HS_OWNED))
			cb(&s->req, s->wstatus, s->warg);
	}
	if ((s->st & (HS_CLOSED | HS_OWNED)) == (HS_CLOSED | HS_OWNED) &&
	    !(s->st & (HS_CANCELLED | HS_INTERNAL))) {
		s->st |= HS_CANCELLED;
		if (s->cancel_fn)
			s->cancel_fn(&s->req, s->cancel_arg);
	}
	stream_free_check(s);
}

static void stream_ev_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	stream_pump(coil_container_of(op, struct h2s, ev));
}

/* Post the stream's pump once: its events run from the loop, never inline
 * from the call that caused them. */
static void stream_kick(struct h2s *s)
{
	if (!coil_op_busy(&s->ev))
		coil_loop_post(s->hc->srv->loop, &s->ev, 0);
}

/* ---- answers from memory ----------------------------------------------------
 */

static int send_mem(struct h2s *s, int status,
		    const struct coil_http_header *headers, size_t nheaders,
		    const void *body, size_t len)
{
	struct coil_h2_body b = {0};
	int nobody = s->req.is_head || nobody_status(status) || !len;
	int ret;

	if (!nobody) {
		char *p = s->inl;
		if (len > sizeof(s->inl)) {
			p = malloc(len);
			if (!p)
				return -ENOMEM;
			free(s->heap);
			s->heap = p;
		}
		memcpy(p, body, len);
		b.buf = p; /* borrowed by the session until the stream ends */
		b.len = len;
	}
	ret = send_head(s, status, headers, nheaders,
			nobody_status(status) ? UINT64_MAX : len,
			nobody ? NULL : &b);
	if (ret < 0)
		return ret;
	s->rbytes = nobody ? 0 : len;
	stream_done(s);
	return 0;
}

/* The handler (or serve_file) let go of the request. A request body
 * still coming is read and dropped (on_data()) rather than cut: curl 7.88
 * fails a transfer whose answer is followed by RST_STREAM NO_ERROR,
 * though RFC 9113 §8.1 allows it; past max_body_bytes it is cut. */
static void stream_release(struct h2s *s)
{
	s->st &= ~(HS_OWNED | HS_INTERNAL | HS_LENT);
	stream_kick(s);
}

/* A plain-text answer "STATUS REASON" (serve_file's, and refuse()'s). */
static void send_status(struct h2s *s, int status)
{
	static const struct coil_http_header tp = {
		"content-type", 12, "text/plain; charset=utf-8", 25};
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 coil_http_reason(status));

	if (!live(s)) {
		s->rstatus = status;
		return;
	}
	if (send_mem(s, status, &tp, 1, body, (size_t)n) < 0) {
		stream_done(s);
		stream_rst(s, H2_INTERNAL_ERROR);
	}
}

/* An answer the server makes itself, an error (431, 413, 400, 500). */
static void refuse(struct h2s *s, int status)
{
	s->hc->srv->stats.errors++;
	send_status(s, status);
}

/* A call the server refused: 500 instead (or a reset once a response
 * began), and the request is complete. */
static int stream_500(struct h2s *s, int err)
{
	if (!(s->st & HS_BEGUN))
		refuse(s, 500);
	else
		stream_rst(s, H2_INTERNAL_ERROR);
	stream_done(s);
	stream_release(s);
	return err;
}

static int owned(struct coil_http_sreq *req)
{
	struct h2s *s = h2s_of(req);
	return (s->st & HS_OWNED) && !(s->st & HS_INTERNAL);
}

int coil__h2_respond(struct coil_http_sreq *req, int status,
		     const struct coil_http_header *headers, size_t nheaders,
		     const void *body, size_t len)
{
	struct h2s *s = h2s_of(req);
	int ret;

	if (!owned(req) || (s->st & HS_BEGUN))
		return -EINVAL;
	if (status < 200 || status > 599 || (nobody_status(status) && len) ||
	    (len && !body))
		return stream_500(s, -EINVAL);
	if (!live(s)) {
		s->rstatus = status;
		stream_release(s);
		return 0;
	}
	ret = send_mem(s, status, headers, nheaders, body, len);
	if (ret < 0)
		return stream_500(s, ret);
	stream_release(s);
	return 0;
}

/* ---- streamed answers
 * ---------------------------------------------------------
 */

int coil__h2_respond_begin(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, uint64_t content_length)
{
	struct h2s *s = h2s_of(req);
	struct coil_h2_body b = {.read = body_read};
	int nobody = req->is_head || nobody_status(status);
	int ret;

	if (!owned(req))
		return -EINVAL;
	if (s->st & HS_BEGUN)
		return -EALREADY;
	if (status < 200 || status > 599 ||
	    (nobody_status(status) && content_length &&
	     content_length != COIL_HTTP_LENGTH_UNKNOWN))
		return stream_500(s, -EINVAL);
	s->rleft = content_length;
	if (nobody)
		s->st |= HS_NOBODY;
	if (!live(s)) {
		s->st |= HS_BEGUN;
		s->rstatus = status;
		return 0;
	}
	ret = send_head(s, status, headers, nheaders,
			content_length == COIL_HTTP_LENGTH_UNKNOWN
				? UINT64_MAX
				: content_length,
			nobody ? NULL : &b);
	if (ret < 0)
		return stream_500(s, ret);
	if (nobody)
		stream_done(s);
	return 0;
}

int coil__h2_respond_write(struct coil_http_sreq *req, const void *data,
			   size_t len, coil_http_sent_fn cb, void *arg)
{
	struct h2s *s = h2s_of(req);

	if (!owned(req) || !(s->st & HS_BEGUN) || (s->st & HS_FILE) ||
	    (!data && len))
		return -EINVAL;
	if (s->st & HS_WBUSY)
		return -EBUSY;
	if (s->rleft != COIL_HTTP_LENGTH_UNKNOWN && len > s->rleft)
		return -EINVAL;
	if (!live(s))
		return -EPIPE;
	s->wcb = cb;
	s->warg = arg;
	s->st |= HS_WBUSY;
	if (s->rleft != COIL_HTTP_LENGTH_UNKNOWN)
		s->rleft -= len;
	if ((s->st & HS_NOBODY) || len == 0) {
		s->st |= HS_WDONE;
		s->wstatus = 0;
		stream_kick(s);
		return 0;
	}
	s->rbytes += len;
	s->out = data;
	s->olen = len;
	body_resume(s);
	return 0;
}

int coil__h2_respond_end(struct coil_http_sreq *req)
{
	struct h2s *s = h2s_of(req);

	if (!owned(req) || !(s->st & HS_BEGUN) || (s->st & HS_FILE))
		return -EINVAL;
	/* a write still outstanding ends here: its callback will not run */
	s->st &= ~(HS_WBUSY | HS_WDONE);
	s->wcb = NULL;
	if (s->rleft && s->rleft != COIL_HTTP_LENGTH_UNKNOWN &&
	    !(s->st & HS_NOBODY)) {
		/* shorter than announced: reset, so that the client sees a
		 * truncated message (RFC 9113 §8.1.1) */
		s->olen = 0;
		stream_done(s);
		stream_rst(s, H2_INTERNAL_ERROR);
	} else if (!(s->st & HS_NOBODY)) {
		s->st |= HS_ENDED;
		body_resume(s);
	}
	stream_release(s);
	return 0;
}

/* ---- file answers
 * ---------------------------------------------------------------
 */

int coil__h2_respond_file(struct coil_http_sreq *req, int status,
			  const struct coil_http_header *headers,
			  size_t nheaders, int fd, uint64_t off, uint64_t len)
{
	struct h2s *s = h2s_of(req);
	struct coil_h2_body b = {.read = body_read};
	int nobody = req->is_head || len == 0;
	int ret;

	if (!owned(req) || (s->st & HS_BEGUN)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (fd < 0)
		return stream_500(s, -EBADF);
	s->ffd = fd;
	if (status < 200 || status > 599 || nobody_status(status)) {
		file_close(s);
		return stream_500(s, -EINVAL);
	}
	if (!live(s)) {
		file_close(s);
		s->rstatus = status;
		stream_release(s);
		return 0;
	}
	if (!nobody) {
		s->fbuf = malloc(len < H2_FCHUNK ? (size_t)len : H2_FCHUNK);
		if (!s->fbuf) {
			file_close(s);
			return stream_500(s, -ENOMEM);
		}
		s->st |= HS_FILE;
		s->foff = off;
		s->rleft = len;
		s->rbytes = len;
	}
	ret = send_head(s, status, headers, nheaders, len, nobody ? NULL : &b);
	if (ret < 0) {
		file_close(s);
		s->st &= ~HS_FILE;
		return stream_500(s, ret);
	}
	if (nobody) {
		file_close(s);
		stream_done(s);
	} else {
		file_read(s);
	}
	stream_release(s);
	return 0;
}

static void serve_status(struct h2s *s, int status)
{
	s->st &= ~HS_INTERNAL;
	send_status(s, status);
	stream_release(s);
}

static void statx_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);
	struct aux *a = s->aux;
	struct coil_http_header h;
	const char *ct;
	int fd = s->ffd;

	(void)flags;
	s->fop.cb = file_read_cb;
	if (res < 0 || !S_ISREG(a->stx.stx_mode) || !live(s)) {
		file_close(s);
		serve_status(s, res < 0 ? 500 : 403);
		return;
	}
	ct = coil_http_content_type(a->path, strlen(a->path));
	h.name = "content-type";
	h.name_len = 12;
	h.value = ct;
	h.value_len = strlen(ct);
	s->ffd = -1;
	s->st &= ~HS_INTERNAL;
	coil__h2_respond_file(&s->req, 200, &h, 1, fd, 0, a->stx.stx_size);
}

static void open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);

	(void)flags;
	s->fop.cb = file_read_cb;
	if (res >= 0)
		s->ffd = res;
	if (res < 0 || !live(s)) {
		file_close(s);
		serve_status(s, coil__http_open_status(res));
		return;
	}
	s->fop.cb = statx_cb;
	if (coil_statx(s->hc->srv->loop, &s->fop, s->ffd, "", AT_EMPTY_PATH,
		       STATX_TYPE | STATX_SIZE, &s->aux->stx) < 0) {
		s->fop.cb = file_read_cb;
		file_close(s);
		serve_status(s, 500);
	}
}

int coil__h2_serve_file(struct coil_http_sreq *req, int root_fd)
{
	struct h2s *s = h2s_of(req);
	struct aux *a;
	int n;

	if (!owned(req) || (s->st & HS_BEGUN))
		return -EINVAL;
	s->aux = a = malloc(sizeof(*a));
	if (!a) {
		serve_status(s, 500);
		return -ENOMEM;
	}
	n = coil_http_path_decode(req->path, req->path_len, a->path,
				  sizeof(a->path) - 16);
	if (n < 0) {
		serve_status(s, n == -ENAMETOOLONG ? 414 : 400);
		return 0;
	}
	if (n == 0 || a->path[n - 1] == '/')
		memcpy(a->path + n, "index.html", 11);
	memset(&a->how, 0, sizeof(a->how));
	/* O_NONBLOCK: opening a FIFO must not block an io-wq worker */
	a->how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	a->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	s->st |= HS_INTERNAL;
	s->fop.cb = open_cb;
	if (coil_openat2(s->hc->srv->loop, &s->fop, root_fd, a->path, &a->how) <
	    0) {
		s->fop.cb = file_read_cb;
		serve_status(s, 500);
	}
	return 0;
}

int coil__h2_abort(struct coil_http_sreq *req)
{
	struct h2s *s = h2s_of(req);

	if (!owned(req))
		return -EINVAL;
	s->st &= ~(HS_WBUSY | HS_WDONE);
	s->wcb = NULL;
	if (!(s->st & HS_BEGUN) && s->bstate == BS_REPORTED &&
	    (s->berr == COIL_EPARSE || s->berr == COIL_ELIMIT)) {
		/* the client's body was at fault and no status went out */
		refuse(s, s->berr == COIL_ELIMIT ? 413 : 400);
		stream_release(s);
		return 0;
	}
	stream_done(s);
	stream_rst(s, H2_INTERNAL_ERROR);
	stream_release(s);
	return 0;
}

/* ---- the request body: the handler's calls ----------------------------------
 */

static int body_grow(struct h2s *s, size_t need)
{
	size_t cap = s->bcap ? s->bcap : 4096;
	char *b;
	if (need <= s->bcap)
		return 0;
	while (cap < need)
		cap *= 2;
	b = realloc(s->bbuf, cap);
	if (!b)
		return -ENOMEM;
	s->bbuf = b;
	s->bcap = cap;
	return 0;
}

static int body_begin(struct h2s *s, unsigned mode)
{
	if (s->bmode != B_NONE)
		return -EALREADY;
	s->bmode = mode;
	/* pieces that came before the call, gathered for a buffered body */
	while (mode == B_BUFFER && s->bq) {
		struct bpiece *p = s->bq;
		if (body_grow(s, s->blen + p->len) < 0) {
			stream_body_fail(s, -ENOMEM);
			break;
		}
		memcpy(s->bbuf + s->blen, p->data, p->len);
		s->blen += p->len;
		s->bq = p->next;
		free(p);
	}
	if (!s->bq)
		s->bq_tail = NULL;
	stream_kick(s);
	return 0;
}

int coil__h2_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
		       void *arg)
{
	struct h2s *s = h2s_of(req);
	if (!owned(req) || !cb)
		return -EINVAL;
	s->bcb = cb;
	s->barg = arg;
	return body_begin(s, B_BUFFER);
}

int coil__h2_stream_body(struct coil_http_sreq *req, coil_http_chunk_fn cb,
			 void *arg)
{
	struct h2s *s = h2s_of(req);
	if (!owned(req) || !cb)
		return -EINVAL;
	s->ccb = cb;
	s->barg = arg;
	return body_begin(s, B_STREAM);
}

int coil__h2_body_next(struct coil_http_sreq *req)
{
	struct h2s *s = h2s_of(req);
	struct bpiece *p = s->bq;

	if (!(s->st & HS_LENT) || !p)
		return -EINVAL;
	s->st &= ~HS_LENT;
	s->bq = p->next;
	if (!s->bq)
		s->bq_tail = NULL;
	free(p);
	stream_kick(s);
	return 0;
}

int coil__h2_on_cancel(struct coil_http_sreq *req,
		       void (*fn)(struct coil_http_sreq *req, void *arg),
		       void *arg)
{
	struct h2s *s = h2s_of(req);
	s->cancel_fn = fn;
	s->cancel_arg = arg;
	return 0;
}

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

static struct h2s *stream_new(struct h2conn *hc, int32_t id)
{
	struct h2s *s = hc->spare;

	if (s) {
		struct coil_http_header *hdrs = s->hdrs;
		size_t cap = s->hdrs_bytes;
		hc->spare = s->next;
		hc->nspare--;
		memset(s, 0, sizeof(*s));
		s->hdrs = hdrs;
		s->hdrs_bytes = cap;
	} else if (!(s = calloc(1, sizeof(*s)))) {
		return NULL;
	}
	s->hc = hc;
	s->id = id;
	s->ffd = -1;
	s->req.server = hc->srv;
	s->req.loop = hc->srv->loop;
	s->req.major_version = 2;
	coil_op_init(&s->ev, stream_ev_cb);
	coil_op_init(&s->fop, file_read_cb);
	coil_op_init(&s->cop, cop_cb);
	s->next = hc->streams;
	if (hc->streams)
		hc->streams->prev = s;
	hc->streams = s;
	hc->nstreams++;
	hc->active_ns = coil_now(hc->srv->loop);
	return s;
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
	s = stream_new(hc, sid);
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
		refuse(s, 500);
		stream_release(s);
		return;
	}
	if (s->st & HS_HEADERR) {
		refuse(s, 431);
		stream_release(s);
		return;
	}
	if (s->req.body_kind == COIL_HTTP_BODY_LENGTH &&
	    s->req.content_length > srv->o.max_body_bytes) {
		refuse(s, 413);
		stream_release(s);
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
			stream_kick(s);
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
			stream_kick(s);
		}
		return;
	}
	s->brecv += len;
	if (s->brecv > hc->srv->o.max_body_bytes) {
		/* answered already: the rest is not wanted (§8.1) */
		if ((s->st & HS_DONE) && !(s->st & (HS_OWNED | HS_RST))) {
			s->st |= HS_RST;
			stream_rst(s, H2_NO_ERROR);
		}
		stream_body_fail(s, COIL_ELIMIT);
		return;
	}
	if (s->bstate != BS_GOING)
		return;
	if (s->bmode == B_BUFFER) {
		if (body_grow(s, s->blen + len) < 0) {
			stream_body_fail(s, -ENOMEM);
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
		stream_body_fail(s, -ENOMEM);
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
		stream_kick(s);
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
			stream_body_fail(s, -ECONNRESET);
		else
			s->bstate = BS_ENDED;
	}
	stream_kick(s);
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
		stream_kick(s);
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
	hc->date_sec = -1;
	hc->active_ns = coil_now(srv->loop);
	coil_op_init(&hc->tmr, tmr_cb);
	o.max_concurrent_streams =
		srv->o.h2_max_streams ? srv->o.h2_max_streams : H2_MAX_STREAMS;
	/* the session resets a stream whose header list is far over the
	 * limit; over max_head_bytes alone it is answered 431 here */
	o.max_header_list_bytes = hl < 65536 ? 65536 : (uint32_t)hl;
	ret = coil_h2_server(c->s, &o, &server_role, hc, pre, n, &hc->h2);
	if (ret < 0) {
		free(hc);
		return ret;
	}
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
