/*
 * tools/coil-serve/app.c - coil-serve's endpoints and access log.
 *
 *   /             "Hello, World!" (13 bytes, text/plain)
 *   /bytes/N      N bytes of serve_byte_at(), streamed from a 64 KiB
 *                 pattern with Content-Length N
 *   /delay/MS     answers after MS milliseconds: a ring timeout, no thread
 *                 blocked; a client that goes away cancels the timer
 *   /status/CODE  status CODE (200-599) with its reason as body
 *   /echo         the request body streamed back as it arrives
 *   anything else a file under --root (coil_http_serve_file()), else 404
 *
 * The access log: each thread appends lines to one of two 256 KiB buffers
 * and writes a full one, or whatever is there once a second, with
 * IORING_OP_WRITE at the end of the O_APPEND file (each write(2) appends
 * atomically, so threads never interleave inside a line).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"

#define PATTERN_LEN (64 * 1024)
#define LOG_BUF (256 * 1024)
#define LOG_FLUSH_NS 1000000000ull

/* 64 KiB of the pattern plus one period, so that a piece may start at
 * any offset modulo 26 */
static char pattern[PATTERN_LEN + 26];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = serve_byte_at(i);
}

static const struct coil_http_header text_plain = {
	"Content-Type", 12, "text/plain; charset=utf-8", 25};
static const struct coil_http_header octets = {"Content-Type", 12,
					       "application/octet-stream", 24};

/* Digits only, no sign, no leading '+', at most @max. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int prefix(const struct coil_http_sreq *r, const char *p, size_t n)
{
	return r->path_len > n && memcmp(r->path, p, n) == 0;
}

static void bad_request(struct coil_http_sreq *req)
{
	static const char body[] = "400 Bad Request\n";
	coil_http_respond(req, 400, &text_plain, 1, body, sizeof(body) - 1);
}

/* ---- /bytes/N ---- */

struct bytes_state {
	uint64_t off, len;
};

static void bytes_next(struct coil_http_sreq *req, int status, void *arg)
{
	struct bytes_state *b = req->data;
	size_t n;

	if (status < 0 || b->off >= b->len) {
		coil_http_respond_end(req);
		free(b);
		return;
	}
	n = b->len - b->off < PATTERN_LEN ? (size_t)(b->len - b->off)
					  : PATTERN_LEN;
	b->off += n;
	if (coil_http_respond_write(req, pattern + (b->off - n) % 26, n,
				    bytes_next, NULL) < 0) {
		coil_http_respond_end(req);
		free(b);
	}
}

static void serve_bytes(struct coil_http_sreq *req, uint64_t n)
{
	struct bytes_state *b;

	if (n <= 4096) {
		/* small: one copy into the output buffer */
		coil_http_respond(req, 200, &octets, 1, pattern, (size_t)n);
		return;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		coil_http_respond(req, 503, NULL, 0, NULL, 0);
		return;
	}
	b->off = 0;
	b->len = n;
	req->data = b;
	if (coil_http_respond_begin(req, 200, &octets, 1, n) < 0) {
		free(b);
		return;
	}
	bytes_next(req, 0, NULL);
}

/* ---- /delay/MS ---- */

struct delay {
	struct coil_op op;
	struct coil_http_sreq *req;
	uint64_t ms;
};

static void delay_fired(struct coil_op *op, int res, unsigned flags)
{
	struct delay *d = coil_container_of(op, struct delay, op);
	char body[48];
	int n = snprintf(body, sizeof(body), "delayed %llu ms\n",
			 (unsigned long long)d->ms);
	/* after a cancel the connection is gone: the answer is dropped */
	coil_http_respond(d->req, 200, &text_plain, 1, body, (size_t)n);
	free(d);
}

static void delay_cancel(struct coil_http_sreq *req, void *arg)
{
	struct delay *d = arg;
	coil_cancel(req->loop, &d->op);
}

static void serve_delay(struct coil_http_sreq *req, uint64_t ms)
{
	struct delay *d = malloc(sizeof(*d));
	if (!d) {
		coil_http_respond(req, 503, NULL, 0, NULL, 0);
		return;
	}
	d->req = req;
	d->ms = ms;
	coil_op_init(&d->op, delay_fired);
	if (coil_timeout(req->loop, &d->op, ms * 1000000ull, 0) < 0) {
		free(d);
		coil_http_respond(req, 503, NULL, 0, NULL, 0);
		return;
	}
	coil_http_sreq_on_cancel(req, delay_cancel, d);
}

/* ---- /status/CODE ---- */

static void serve_status(struct coil_http_sreq *req, uint64_t code)
{
	char body[64];
	int n;

	if (code < 200 || code > 599) {
		bad_request(req);
		return;
	}
	if (code == 204 || code == 304) {
		coil_http_respond(req, (int)code, NULL, 0, NULL, 0);
		return;
	}
	n = snprintf(body, sizeof(body), "%d %s\n", (int)code,
		     coil_http_reason((int)code));
	coil_http_respond(req, (int)code, &text_plain, 1, body, (size_t)n);
}

/* ---- /echo ---- */

static void echo_sent(struct coil_http_sreq *req, int status, void *arg)
{
	/* done with the piece (sent, or the connection failed: the body
	 * callback hears of that next) */
	coil_http_sreq_body_next(req);
}

static void echo_piece(struct coil_http_sreq *req, int status, const void *data,
		       size_t len, void *arg)
{
	if (status == 0) {
		if (coil_http_respond_write(req, data, len, echo_sent, NULL) <
		    0)
			coil_http_sreq_body_next(req);
	} else if (status == COIL_HTTP_BODY_END) {
		coil_http_respond_end(req);
	} else {
		/* the head (200) is out: a broken body ends the connection */
		coil_http_sreq_abort(req);
	}
}

static void serve_echo(struct coil_http_sreq *req)
{
	uint64_t len;

	if (req->body_kind == COIL_HTTP_BODY_NONE) {
		coil_http_respond(req, 200, &octets, 1, NULL, 0);
		return;
	}
	len = req->body_kind == COIL_HTTP_BODY_LENGTH
		      ? req->content_length
		      : COIL_HTTP_LENGTH_UNKNOWN;
	/* the body first: a 100 Continue must precede the head */
	if (coil_http_sreq_stream_body(req, echo_piece, NULL) < 0) {
		coil_http_sreq_abort(req);
		return;
	}
	coil_http_respond_begin(req, 200, &octets, 1, len);
}

/* ---- routing ---- */

void serve_handler(struct coil_http_sreq *req, void *arg)
{
	struct serve_app *app = arg;
	uint64_t v;

	if (req->path_len == 1 && req->path[0] == '/') {
		coil_http_respond(req, 200, &text_plain, 1, SERVE_HELLO,
				  sizeof(SERVE_HELLO) - 1);
		return;
	}
	if (prefix(req, "/bytes/", 7)) {
		if (parse_u64(req->path + 7, req->path_len - 7, SERVE_BYTES_MAX,
			      &v) < 0) {
			bad_request(req);
			return;
		}
		pthread_once(&pattern_once, pattern_init);
		serve_bytes(req, v);
		return;
	}
	if (prefix(req, "/delay/", 7)) {
		if (parse_u64(req->path + 7, req->path_len - 7,
			      SERVE_DELAY_MAX_MS, &v) < 0) {
			bad_request(req);
			return;
		}
		serve_delay(req, v);
		return;
	}
	if (prefix(req, "/status/", 8)) {
		if (parse_u64(req->path + 8, req->path_len - 8, 999, &v) < 0) {
			bad_request(req);
			return;
		}
		serve_status(req, v);
		return;
	}
	if (req->path_len == 5 && memcmp(req->path, "/echo", 5) == 0) {
		serve_echo(req);
		return;
	}
	if (app && app->root_fd >= 0) {
		coil_http_serve_file(req, app->root_fd);
		return;
	}
	{
		static const char body[] = "404 Not Found\n";
		coil_http_respond(req, 404, &text_plain, 1, body,
				  sizeof(body) - 1);
	}
}

/* ---- access log ---- */

struct serve_log {
	struct serve_app *app;
	struct coil_loop *loop;
	char *buf[2];
	size_t len[2];
	unsigned cur;	    /* the buffer lines go to */
	struct coil_op wr;  /* the write of the other buffer */
	struct coil_op tmr; /* the once-a-second flush */
	size_t wr_off;	    /* bytes of the written buffer done */
	int stopping;
	int64_t date_sec;
	char date[32];
};

static void log_write(struct serve_log *lg);

static void log_wr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, wr);
	unsigned w = lg->cur ^ 1;

	if (res > 0 && lg->wr_off + (size_t)res < lg->len[w]) {
		/* short write: the rest */
		lg->wr_off += (size_t)res;
		if (coil_write(lg->loop, &lg->wr, lg->app->log_fd,
			       lg->buf[w] + lg->wr_off, lg->len[w] - lg->wr_off,
			       -1) == 0)
			return;
	}
	lg->len[w] = 0;
	lg->wr_off = 0;
	if (lg->len[lg->cur] >= LOG_BUF / 2 ||
	    (lg->stopping && lg->len[lg->cur]))
		log_write(lg);
}

/* Write the current buffer (if the other is free) and switch. */
static void log_write(struct serve_log *lg)
{
	unsigned w = lg->cur;

	if (coil_op_busy(&lg->wr) || lg->len[w] == 0)
		return;
	lg->cur ^= 1;
	lg->wr_off = 0;
	if (coil_write(lg->loop, &lg->wr, lg->app->log_fd, lg->buf[w],
		       lg->len[w], -1) < 0) {
		__atomic_fetch_add(&lg->app->log_dropped, 1, __ATOMIC_RELAXED);
		lg->len[w] = 0;
	}
}

static void log_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, tmr);
	log_write(lg);
}

void serve_on_done(struct coil_http_sreq *req, int status, uint64_t bytes,
		   void *arg)
{
	struct serve_app *app = arg;
	struct serve_log *lg;
	struct timespec ts;
	size_t room;
	char *p;
	int n;

	if (!app || app->log_fd < 0)
		return;
	lg = coil_http_server_data(req->server);
	if (!lg)
		return;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != lg->date_sec) {
		coil_http_date(lg->date, sizeof(lg->date), ts.tv_sec);
		lg->date_sec = ts.tv_sec;
	}
	room = LOG_BUF - lg->len[lg->cur];
	p = lg->buf[lg->cur] + lg->len[lg->cur];
	if (req->method)
		n = snprintf(
			p, room, "[%s] \"%.*s %.*s HTTP/1.%d\" %d %llu\n",
			lg->date, (int)req->method_len, req->method,
			(int)(req->target_len > 2048 ? 2048 : req->target_len),
			req->target, req->minor_version, status,
			(unsigned long long)bytes);
	else
		n = snprintf(p, room, "[%s] \"-\" %d %llu\n", lg->date, status,
			     (unsigned long long)bytes);
	if (n < 0 || (size_t)n >= room) {
		__atomic_fetch_add(&app->log_dropped, 1, __ATOMIC_RELAXED);
		log_write(lg);
		return;
	}
	lg->len[lg->cur] += (size_t)n;
	if (lg->len[lg->cur] >= LOG_BUF / 2)
		log_write(lg);
	else if (!coil_op_busy(&lg->tmr) && !lg->stopping)
		coil_timeout(lg->loop, &lg->tmr, LOG_FLUSH_NS, 0);
}

int serve_on_start(struct coil_http_server *srv, unsigned index, void *arg)
{
	struct serve_app *app = arg;
	struct serve_log *lg;

	pthread_once(&pattern_once, pattern_init);
	if (!app || app->log_fd < 0)
		return 0;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	lg->buf[0] = malloc(LOG_BUF);
	lg->buf[1] = malloc(LOG_BUF);
	if (!lg->buf[0] || !lg->buf[1]) {
		free(lg->buf[0]);
		free(lg->buf[1]);
		free(lg);
		return -ENOMEM;
	}
	lg->app = app;
	lg->loop = coil_http_server_loop(srv);
	lg->date_sec = -1;
	coil_op_init(&lg->wr, log_wr_cb);
	coil_op_init(&lg->tmr, log_tmr_cb);
	coil_http_server_set_data(srv, lg);
	return 0;
}

/* The last lines, then free once the loop is idle: the buffers must
 * outlive the write, so the log frees itself from its write callback. */
static void log_final_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, wr);
	unsigned w = lg->cur ^ 1;

	if (res > 0 && lg->wr_off + (size_t)res < lg->len[w]) {
		lg->wr_off += (size_t)res;
		if (coil_write(lg->loop, &lg->wr, lg->app->log_fd,
			       lg->buf[w] + lg->wr_off, lg->len[w] - lg->wr_off,
			       -1) == 0)
			return;
	}
	lg->len[w] = 0;
	lg->wr_off = 0;
	if (lg->len[lg->cur]) {
		unsigned c = lg->cur;
		lg->cur ^= 1;
		if (coil_write(lg->loop, &lg->wr, lg->app->log_fd, lg->buf[c],
			       lg->len[c], -1) == 0)
			return;
	}
	if (coil_op_busy(&lg->tmr))
		return; /* the timer's callback frees */
	free(lg->buf[0]);
	free(lg->buf[1]);
	free(lg);
}

static void log_final_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, tmr);
	if (coil_op_busy(&lg->wr))
		return; /* the write's callback frees */
	free(lg->buf[0]);
	free(lg->buf[1]);
	free(lg);
}

void serve_on_stop(struct coil_http_server *srv, unsigned index, void *arg)
{
	struct serve_log *lg = coil_http_server_data(srv);

	if (!lg)
		return;
	coil_http_server_set_data(srv, NULL);
	lg->stopping = 1;
	lg->tmr.cb = log_final_tmr_cb;
	if (coil_op_busy(&lg->tmr))
		coil_timeout_remove(lg->loop, &lg->tmr);
	if (coil_op_busy(&lg->wr)) {
		lg->wr.cb = log_final_cb;
		return;
	}
	if (lg->len[lg->cur]) {
		unsigned c = lg->cur;
		lg->cur ^= 1;
		lg->wr.cb = log_final_cb;
		lg->wr_off = 0;
		if (coil_write(lg->loop, &lg->wr, lg->app->log_fd, lg->buf[c],
			       lg->len[c], -1) == 0)
			return;
	}
	if (coil_op_busy(&lg->tmr))
		return;
	free(lg->buf[0]);
	free(lg->buf[1]);
	free(lg);
}
