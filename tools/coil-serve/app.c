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
 *
 * always under /_coil (/_coil/, /_coil/bytes/N ...), and at the paths
 * above too without --root. With --root every other path is the file
 * tree's (coil_http_serve_root(): index.html, 301 for a directory without
 * its '/', 304, ranges, 405, --autoindex listings), and "/" is the
 * built-in page only while the root has no index.html (root_has_index()).
 *
 * The access log, in nginx's "combined" format (log_line()): each thread
 * appends lines to a queue of 256 KiB buffers
 * and writes them in order with IORING_OP_WRITE to the O_APPEND file (one
 * write at a time per thread; each appends atomically, so threads never
 * interleave inside a line): the last buffer once it is half full, or
 * once a second. When the disk falls behind, buffers queue up (64 MiB per
 * thread) before lines are dropped and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

#define PATTERN_LEN (64 * 1024)
#define LOG_BUF (256 * 1024)
#define LOG_MAX_BUFS 256 /* 64 MiB per thread queued before dropping */
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

/* Whether @path (@len bytes) starts with @p (@n bytes) and goes on. */
static int prefix(const char *path, size_t len, const char *p, size_t n)
{
	return len > n && memcmp(path, p, n) == 0;
}

static void bad_request(struct coil_http_sreq *req)
{
	static const char body[] = "400 Bad Request\n";
	coil_http_respond(req, 400, &text_plain, 1, body, sizeof(body) - 1);
}

/* ---- /bytes/N ---- */

_Static_assert(UINTPTR_MAX >= SERVE_BYTES_MAX,
	       "the offset of /bytes/N lives in req->data");

/* N again from the path's last segment (the request keeps only the
 * offset sent so far, in req->data: nothing is allocated per request). */
static uint64_t bytes_total(const struct coil_http_sreq *req)
{
	size_t i = req->path_len;
	uint64_t n = 0;
	while (i && req->path[i - 1] != '/')
		i--;
	parse_u64(req->path + i, req->path_len - i, SERVE_BYTES_MAX, &n);
	return n;
}

static void bytes_next(struct coil_http_sreq *req, int status, void *arg)
{
	uint64_t off = (uint64_t)(uintptr_t)req->data;
	uint64_t len = bytes_total(req);
	size_t n;

	if (status < 0 || off >= len) {
		coil_http_respond_end(req);
		return;
	}
	n = len - off < PATTERN_LEN ? (size_t)(len - off) : PATTERN_LEN;
	req->data = (void *)(uintptr_t)(off + n);
	if (coil_http_respond_write(req, pattern + off % 26, n, bytes_next,
				    NULL) < 0)
		coil_http_respond_end(req);
}

static void serve_bytes(struct coil_http_sreq *req, uint64_t n)
{
	if (n <= 4096) {
		/* small: one copy into the output buffer */
		coil_http_respond(req, 200, &octets, 1, pattern, (size_t)n);
		return;
	}
	req->data = (void *)(uintptr_t)0;
	if (coil_http_respond_begin(req, 200, &octets, 1, n) < 0)
		return;
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

/* The response's head goes out with the first piece (or the end), so
 * that a malformed body found first still gets a status (400, from
 * coil_http_sreq_abort()); req->data marks the head as begun. */
static int echo_begin(struct coil_http_sreq *req)
{
	uint64_t len = req->body_kind == COIL_HTTP_BODY_LENGTH
			       ? req->content_length
			       : COIL_HTTP_LENGTH_UNKNOWN;
	if (req->data)
		return 0;
	req->data = (void *)1;
	return coil_http_respond_begin(req, 200, &octets, 1, len);
}

static void echo_piece(struct coil_http_sreq *req, int status, const void *data,
		       size_t len, void *arg)
{
	if (status == 0) {
		if (echo_begin(req) < 0 ||
		    coil_http_respond_write(req, data, len, echo_sent, NULL) <
			    0)
			coil_http_sreq_body_next(req);
	} else if (status == COIL_HTTP_BODY_END) {
		if (echo_begin(req) < 0)
			coil_http_sreq_abort(req);
		else
			coil_http_respond_end(req);
	} else {
		/* a broken body: 400 when the head is not out yet, else the
		 * connection ends */
		coil_http_sreq_abort(req);
	}
}

static void serve_echo(struct coil_http_sreq *req)
{
	if (req->body_kind == COIL_HTTP_BODY_NONE) {
		coil_http_respond(req, 200, &octets, 1, NULL, 0);
		return;
	}
	req->data = NULL;
	if (coil_http_sreq_stream_body(req, echo_piece, NULL) < 0)
		coil_http_sreq_abort(req);
}

/* ---- routing ---- */

static void serve_hello(struct coil_http_sreq *req, void *arg)
{
	coil_http_respond(req, 200, &text_plain, 1, SERVE_HELLO,
			  sizeof(SERVE_HELLO) - 1);
}

/* The built-in endpoint at @p (the path, without the /_coil prefix).
 * Return: 1 answered; 0 no such endpoint. */
static int builtin(struct coil_http_sreq *req, const char *p, size_t n)
{
	uint64_t v;

	if (n == 1 && p[0] == '/') {
		serve_hello(req, NULL);
	} else if (prefix(p, n, "/bytes/", 7)) {
		if (parse_u64(p + 7, n - 7, SERVE_BYTES_MAX, &v) < 0) {
			bad_request(req);
			return 1;
		}
		pthread_once(&pattern_once, pattern_init);
		serve_bytes(req, v);
	} else if (prefix(p, n, "/delay/", 7)) {
		if (parse_u64(p + 7, n - 7, SERVE_DELAY_MAX_MS, &v) < 0)
			bad_request(req);
		else
			serve_delay(req, v);
	} else if (prefix(p, n, "/status/", 8)) {
		if (parse_u64(p + 8, n - 8, 999, &v) < 0)
			bad_request(req);
		else
			serve_status(req, v);
	} else if (n == 5 && memcmp(p, "/echo", 5) == 0) {
		serve_echo(req);
	} else {
		return 0;
	}
	return 1;
}

/*
 * Whether the root has an index.html, looked at (faccessat(2), a dentry
 * cache lookup) at most once a second per thread: "/" without one is the
 * built-in page at the cost of the page alone, which bench/serve measures
 * beside nginx's `return 200`. An index.html that appears is served
 * within a second; one that goes away falls back to the page at once.
 */
static int root_has_index(const struct coil_http_sreq *req,
			  const struct serve_app *app)
{
	static __thread uint64_t checked_ns;
	static __thread int has;
	uint64_t now = coil_now(req->loop);

	if (!checked_ns || now - checked_ns >= 1000000000ull) {
		has = faccessat(app->root_fd, "index.html", F_OK, 0) == 0;
		checked_ns = now ? now : 1;
	}
	return has;
}

void serve_handler(struct coil_http_sreq *req, void *arg)
{
	static const char nf[] = "404 Not Found\n";
	struct serve_app *app = arg;
	const char *p = req->path;
	size_t n = req->path_len;
	struct coil_http_serve_opts so = {0};

	if (n == 6 && memcmp(p, SERVE_PREFIX, 6) == 0) {
		serve_hello(req, NULL);
		return;
	}
	if (n >= 7 && memcmp(p, SERVE_PREFIX "/", 7) == 0) {
		if (!builtin(req, p + 6, n - 6))
			coil_http_respond(req, 404, &text_plain, 1, nf,
					  sizeof(nf) - 1);
		return;
	}
	if (!app || app->root_fd < 0) {
		/* no --root: the built-ins at their first paths too */
		if (!builtin(req, p, n))
			coil_http_respond(req, 404, &text_plain, 1, nf,
					  sizeof(nf) - 1);
		return;
	}
	/* --root: the files; "/" falls back to the built-in page when the
	 * root has no index.html (and no listing is asked for) */
	so.flags = app->autoindex ? COIL_HTTP_SERVE_AUTOINDEX : 0;
	if (n == 1 && p[0] == '/' && !app->autoindex) {
		if (!root_has_index(req, app)) {
			serve_hello(req, NULL);
			return;
		}
		so.fallback = serve_hello;
	}
	coil_http_serve_root(req, app->root_fd, &so);
}

/* ---- access log ---- */

/* One buffer of the log's queue: lines are appended to the last one,
 * written from the first. */
struct logbuf {
	struct logbuf *next;
	size_t len;
	char data[LOG_BUF];
};

struct serve_log {
	struct serve_app *app;
	struct coil_loop *loop;
	struct logbuf *head, *last; /* the queue: written from head */
	struct logbuf *open;	    /* the buffer lines go to (last), or NULL */
	struct logbuf *spare;	    /* one buffer kept for reuse */
	unsigned nbufs;		    /* in the queue */
	size_t off;		    /* bytes of head already written */
	struct coil_op wr;	    /* the write of head */
	struct coil_op tmr;	    /* the once-a-second flush */
	int stopping;
	int64_t date_sec;
	char date[32];
};

static void log_free(struct serve_log *lg)
{
	while (lg->head) {
		struct logbuf *b = lg->head;
		lg->head = b->next;
		free(b);
	}
	free(lg->spare);
	free(lg);
}

/* Start writing the head buffer if nothing is being written. The tail
 * is written only once it is half full, on the timer, or when stopping;
 * from then on lines go to a new buffer (the kernel reads this one). */
static void log_kick(struct serve_log *lg, int force)
{
	struct logbuf *b = lg->head;

	if (coil_op_busy(&lg->wr) || !b || b->len == 0)
		return;
	if (b == lg->open) {
		if (!force && b->len < LOG_BUF / 2)
			return;
		lg->open = NULL; /* sealed: the kernel reads it now */
	}
	if (coil_write(lg->loop, &lg->wr, lg->app->log_fd, b->data + lg->off,
		       b->len - lg->off, -1) < 0) {
		__atomic_fetch_add(&lg->app->log_dropped, 1, __ATOMIC_RELAXED);
		lg->off = b->len; /* give it up */
	}
}

static void log_wr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, wr);
	struct logbuf *b = lg->head;

	if (res > 0)
		lg->off += (size_t)res;
	else
		lg->off = b->len; /* a failed write: those lines are lost */
	if (res <= 0)
		__atomic_fetch_add(&lg->app->log_dropped, 1, __ATOMIC_RELAXED);
	if (lg->off >= b->len) {
		lg->head = b->next;
		if (!lg->head)
			lg->last = NULL;
		lg->nbufs--;
		lg->off = 0;
		if (!lg->spare)
			lg->spare = b;
		else
			free(b);
	}
	log_kick(lg, lg->stopping || (lg->head && lg->head != lg->open));
	if (lg->stopping && !coil_op_busy(&lg->wr) && !coil_op_busy(&lg->tmr))
		log_free(lg);
}

static void log_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct serve_log *lg = coil_container_of(op, struct serve_log, tmr);
	if (!lg->stopping) {
		log_kick(lg, 1);
		return;
	}
	if (!coil_op_busy(&lg->wr))
		log_free(lg);
}

/* Room for @n bytes: a new buffer when the open one is full or
 * sealed. NULL when LOG_MAX_BUFS are queued (the disk cannot keep up). */
static struct logbuf *log_room(struct serve_log *lg, size_t n)
{
	struct logbuf *b = lg->open;
	if (b && LOG_BUF - b->len > n)
		return b;
	if (lg->nbufs >= LOG_MAX_BUFS)
		return NULL;
	b = lg->spare;
	lg->spare = NULL;
	if (!b)
		b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->next = NULL;
	b->len = 0;
	if (lg->last)
		lg->last->next = b;
	else
		lg->head = b;
	lg->last = b;
	lg->open = b;
	lg->nbufs++;
	return b;
}

/*
 * @len bytes of @s into @out as nginx writes a logged variable: '"', '\\',
 * control bytes, DEL and bytes >= 0x80 become \xHH, so that no client
 * can end the quoted field or forge a line. @out holds 4 * @len bytes.
 * Return: the bytes written.
 */
static int log_escape(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		} else {
			*o++ = (char)ch;
		}
	}
	return (int)(o - out);
}

/* A request field for the log: its value escaped between quotes, "-"
 * when absent (nginx's "$http_referer" ...), at most @max bytes of it. */
static int log_field(char *out, const struct coil_http_sreq *req,
		     const char *name, size_t max)
{
	size_t len = 0;
	const char *v = coil_http_sreq_header(req, name, &len);
	int n = 0;

	out[n++] = '"';
	if (!v || !len)
		out[n++] = '-';
	else
		n += log_escape(out + n, v, len > max ? max : len);
	out[n++] = '"';
	return n;
}

/* The client's address as nginx's $remote_addr ("-" if it has gone). */
static int log_addr(char *out, size_t cap, const struct coil_http_sreq *req)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const void *a;

	if (coil_http_sreq_peer(req, &ss, &len) < 0)
		return snprintf(out, cap, "-");
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)&ss;
		/* an IPv4 client of a dual-stack socket, as nginx shows it */
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			a = &a6->sin6_addr.s6_addr[12];
			inet_ntop(AF_INET, a, out, (socklen_t)cap);
		} else {
			inet_ntop(AF_INET6, &a6->sin6_addr, out,
				  (socklen_t)cap);
		}
	} else {
		a = &((const struct sockaddr_in *)&ss)->sin_addr;
		inet_ntop(AF_INET, a, out, (socklen_t)cap);
	}
	return (int)strlen(out);
}

/*
 * One line in nginx's "combined" format:
 *   $remote_addr - $remote_user [$time_local] "$request" $status
 *   $body_bytes_sent "$http_referer" "$http_user_agent"
 * with its escaping (log_escape()); a request the server refused before
 * it had a request line logs "-" as its request.
 */
static int log_line(char *line, size_t cap, struct serve_log *lg,
		    const struct coil_http_sreq *req, int status,
		    uint64_t bytes)
{
	int n = log_addr(line, 64, req);

	n += snprintf(line + n, cap - (size_t)n, " - - [%s] \"", lg->date);
	if (req->method) {
		n += log_escape(line + n, req->method,
				req->method_len > 32 ? 32 : req->method_len);
		line[n++] = ' ';
		n += log_escape(line + n, req->target,
				req->target_len > 2048 ? 2048
						       : req->target_len);
		n += snprintf(line + n, cap - (size_t)n, " HTTP/%d.%d",
			      req->major_version == 2 ? 2 : 1,
			      req->minor_version);
	} else {
		line[n++] = '-';
	}
	n += snprintf(line + n, cap - (size_t)n, "\" %d %llu ", status,
		      (unsigned long long)bytes);
	n += log_field(line + n, req, "Referer", 1024);
	line[n++] = ' ';
	n += log_field(line + n, req, "User-Agent", 1024);
	line[n++] = '\n';
	return n;
}

void serve_on_done(struct coil_http_sreq *req, int status, uint64_t bytes,
		   void *arg)
{
	struct serve_app *app = arg;
	struct serve_log *lg;
	struct timespec ts;
	struct logbuf *b;
	/* address, time, request (32 + 2048 bytes escaped), status and
	 * bytes, referer and user agent (1024 each, escaped) */
	char line[64 + 64 + 4 * (32 + 2048) + 64 + 2 * (4 * 1024 + 4) + 8];
	int n;

	if (!app || app->log_fd < 0)
		return;
	lg = coil_http_server_data(req->server);
	if (!lg)
		return;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != lg->date_sec) {
		/* $time_local: "05/Dec/2026:15:12:08 +0000" */
		struct tm tm;
		time_t t = ts.tv_sec;
		if (!localtime_r(&t, &tm) ||
		    !strftime(lg->date, sizeof(lg->date),
			      "%d/%b/%Y:%H:%M:%S %z", &tm))
			snprintf(lg->date, sizeof(lg->date), "-");
		lg->date_sec = ts.tv_sec;
	}
	n = log_line(line, sizeof(line), lg, req, status, bytes);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	b = log_room(lg, (size_t)n);
	if (!b) {
		__atomic_fetch_add(&app->log_dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	memcpy(b->data + b->len, line, (size_t)n);
	b->len += (size_t)n;
	log_kick(lg, 0);
	if (!coil_op_busy(&lg->tmr))
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
	lg->app = app;
	lg->loop = coil_http_server_loop(srv);
	lg->date_sec = -1;
	coil_op_init(&lg->wr, log_wr_cb);
	coil_op_init(&lg->tmr, log_tmr_cb);
	coil_http_server_set_data(srv, lg);
	return 0;
}

/* Write what is left, then free from the last callback (the buffers must
 * outlive the writes; the loop runs until they are done). */
void serve_on_stop(struct coil_http_server *srv, unsigned index, void *arg)
{
	struct serve_log *lg = coil_http_server_data(srv);

	if (!lg)
		return;
	coil_http_server_set_data(srv, NULL);
	lg->stopping = 1;
	if (coil_op_busy(&lg->tmr))
		coil_timeout_remove(lg->loop, &lg->tmr);
	log_kick(lg, 1);
	if (!coil_op_busy(&lg->wr) && !coil_op_busy(&lg->tmr))
		log_free(lg);
}
