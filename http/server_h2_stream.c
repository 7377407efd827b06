/*
 * http/server_h2_stream.c - one HTTP/2 request stream of the server: the
 * HTTP/2 half of the request API (coil_http_respond() and the others
 * come here for a request whose major_version is 2: answers from memory,
 * streamed answers, files, the body calls, the cancel hook, the abort;
 * coil_http_serve_root()'s is server_h2_static.c, above), the stream's events
 * for the handler (its own kick and pump, docs/ARCHITECTURE.md, "The kick and
 * the pump"), and its memory. Its connection and the session's callbacks are
 * http/server_h2.c, which calls in here (http/server_h2.h); nothing here calls
 * up.
 *
 * Answers go through the session of coil/http_h2.h: the head with
 * coil_h2_respond(), a body from memory borrowed until the stream ends,
 * streamed and file bodies pulled by the session's read callback as the
 * flow-control window opens (body_read()), so a slow reader holds back a
 * stream, not the loop. A file is read through the ring (IORING_OP_READ)
 * into a buffer of the stream's, a piece ahead of the session; a file
 * the open-file cache holds the content of (http/filecache.h) is lent to
 * the session from there, and a small one read whole is given to the
 * cache to keep.
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

void coil__h2s_rst(struct h2s *s, uint32_t code)
{
	if (h2s_live(s))
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
		coil__h2s_kick(s);
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
	if (!(s->st & HS_DEFERRED) || !h2s_live(s))
		return;
	s->st &= ~HS_DEFERRED;
	coil_h2_resume(s->hc->h2, s->id);
}

/* ---- file bodies: IORING_OP_READ into a buffer, then the source -------------
 */

void coil__h2s_file_close(struct h2s *s)
{
	int fd = s->ffd;
	s->ffd = -1;
	if (s->fent) {
		/* the cache's descriptor (and content): it stays open there */
		coil__fcache_unref(s->hc->srv->fc, s->fent);
		s->fent = NULL;
		return;
	}
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
	coil__h2s_file_close(s);
	stream_done(s);
	coil__h2s_rst(s, H2_INTERNAL_ERROR);
}

static void file_read_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);

	(void)flags;
	if (!h2s_live(s)) {
		coil__h2s_kick(s); /* may be freed now */
		return;
	}
	if (res <= 0) {
		file_fail(s);
		return;
	}
	if (s->fent && s->foff == 0)
		/* the whole file in one read: the cache keeps it, if it may */
		coil__fcache_fill(s->hc->srv->fc, s->fent, s->fbuf,
				  (size_t)res);
	s->fpos = 0;
	s->flen = (size_t)res < s->rleft ? (size_t)res : (size_t)s->rleft;
	s->foff += (uint64_t)res;
	if (s->flen == s->rleft)
		coil__h2s_file_close(s); /* all read */
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

void coil__h2s_body_fail(struct h2s *s, int err)
{
	if (s->bstate != BS_GOING)
		return;
	s->bstate = BS_FAILED;
	s->berr = err;
	coil__h2s_kick(s);
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
	coil__h2s_file_close(s);
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
	hc->stream_freed(hc);
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
void coil__h2s_kick(struct h2s *s)
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

/* The handler (or serve_root) let go of the request. A request body
 * still coming is read and dropped (on_data()) rather than cut: curl 7.88
 * fails a transfer whose answer is followed by RST_STREAM NO_ERROR,
 * though RFC 9113 §8.1 allows it, and nghttp2 sends a reset ahead of an
 * answer still queued. */
void coil__h2s_release(struct h2s *s)
{
	s->st &= ~(HS_OWNED | HS_INTERNAL | HS_LENT);
	coil__h2s_kick(s);
}

/* A plain-text answer "STATUS REASON" (coil__h2s_refuse()'s).
 */
static void send_status(struct h2s *s, int status)
{
	static const struct coil_http_header tp = {
		"content-type", 12, "text/plain; charset=utf-8", 25};
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 coil_http_reason(status));

	if (!h2s_live(s)) {
		s->rstatus = status;
		return;
	}
	if (send_mem(s, status, &tp, 1, body, (size_t)n) < 0) {
		stream_done(s);
		coil__h2s_rst(s, H2_INTERNAL_ERROR);
	}
}

/* An answer the server makes itself, an error (431, 413, 400, 500). */
void coil__h2s_refuse(struct h2s *s, int status)
{
	s->hc->srv->stats.errors++;
	send_status(s, status);
}

/* A call the server refused: 500 instead (or a reset once a response
 * began), and the request is complete. */
static int stream_500(struct h2s *s, int err)
{
	if (!(s->st & HS_BEGUN))
		coil__h2s_refuse(s, 500);
	else
		coil__h2s_rst(s, H2_INTERNAL_ERROR);
	stream_done(s);
	coil__h2s_release(s);
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
	if (!h2s_live(s)) {
		s->rstatus = status;
		coil__h2s_release(s);
		return 0;
	}
	ret = send_mem(s, status, headers, nheaders, body, len);
	if (ret < 0)
		return stream_500(s, ret);
	coil__h2s_release(s);
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
	if (!h2s_live(s)) {
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
	if (!h2s_live(s))
		return -EPIPE;
	s->wcb = cb;
	s->warg = arg;
	s->st |= HS_WBUSY;
	if (s->rleft != COIL_HTTP_LENGTH_UNKNOWN)
		s->rleft -= len;
	if ((s->st & HS_NOBODY) || len == 0) {
		s->st |= HS_WDONE;
		s->wstatus = 0;
		coil__h2s_kick(s);
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
		coil__h2s_rst(s, H2_INTERNAL_ERROR);
	} else if (!(s->st & HS_NOBODY)) {
		s->st |= HS_ENDED;
		body_resume(s);
	}
	coil__h2s_release(s);
	return 0;
}

/* ---- file answers
 * ---------------------------------------------------------------
 */

/*
 * The body from the open-file cache's copy of the file (s->fent->data):
 * lent to the session (no read, no copy of ours), the entry held until
 * the stream is freed (stream_free_check() lets go of it).
 */
static int file_from_cache(struct h2s *s, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, uint64_t off, uint64_t len)
{
	struct coil_h2_body b = {0};
	int ret;

	b.buf = s->fent->data + off;
	b.len = (size_t)len;
	ret = send_head(s, status, headers, nheaders, len, &b);
	if (ret < 0) {
		coil__h2s_file_close(s);
		return stream_500(s, ret);
	}
	s->rbytes = len;
	stream_done(s);
	coil__h2s_release(s);
	return 0;
}

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
		coil__h2s_file_close(s);
		return stream_500(s, -EINVAL);
	}
	if (!h2s_live(s)) {
		coil__h2s_file_close(s);
		s->rstatus = status;
		coil__h2s_release(s);
		return 0;
	}
	if (!nobody && s->fent && s->fent->data &&
	    off <= s->fent->stx.stx_size && len <= s->fent->stx.stx_size - off)
		return file_from_cache(s, status, headers, nheaders, off, len);
	if (!nobody) {
		s->fbuf = malloc(len < H2_FCHUNK ? (size_t)len : H2_FCHUNK);
		if (!s->fbuf) {
			coil__h2s_file_close(s);
			return stream_500(s, -ENOMEM);
		}
		s->st |= HS_FILE;
		s->foff = off;
		s->rleft = len;
		s->rbytes = len;
	}
	ret = send_head(s, status, headers, nheaders, len, nobody ? NULL : &b);
	if (ret < 0) {
		coil__h2s_file_close(s);
		s->st &= ~HS_FILE;
		return stream_500(s, ret);
	}
	if (nobody) {
		coil__h2s_file_close(s);
		stream_done(s);
	} else {
		file_read(s);
	}
	coil__h2s_release(s);
	return 0;
}

int coil__h2_abort(struct coil_http_sreq *req)
{
	struct h2s *s = h2s_of(req);

	if (!owned(req))
		return -EINVAL;
	/* a write outstanding ends here: its bytes are the handler's again
	 * (the session's reset follows the head, http/h2_record.c) */
	s->st &= ~(HS_WBUSY | HS_WDONE);
	s->wcb = NULL;
	s->olen = 0;
	if (!(s->st & HS_BEGUN) && s->bstate == BS_REPORTED &&
	    (s->berr == COIL_EPARSE || s->berr == COIL_ELIMIT)) {
		/* the client's body was at fault and no status went out */
		coil__h2s_refuse(s, s->berr == COIL_ELIMIT ? 413 : 400);
		coil__h2s_release(s);
		return 0;
	}
	stream_done(s);
	coil__h2s_rst(s, H2_INTERNAL_ERROR);
	coil__h2s_release(s);
	return 0;
}

/* ---- the request body: the handler's calls ----------------------------------
 */

int coil__h2s_body_grow(struct h2s *s, size_t need)
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
		if (coil__h2s_body_grow(s, s->blen + p->len) < 0) {
			coil__h2s_body_fail(s, -ENOMEM);
			break;
		}
		memcpy(s->bbuf + s->blen, p->data, p->len);
		s->blen += p->len;
		s->bq = p->next;
		free(p);
	}
	if (!s->bq)
		s->bq_tail = NULL;
	coil__h2s_kick(s);
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
	coil__h2s_kick(s);
	return 0;
}

struct sconn *coil__h2_sconn(struct coil_http_sreq *req)
{
	return h2s_of(req)->hc->c;
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

struct h2s *coil__h2s_new(struct h2conn *hc, int32_t id)
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
