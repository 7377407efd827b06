/*
 * tools/coil-bench/gen.c - the load generator (see gen.h).
 *
 * Per thread: one coil_loop, its share of the connections (cb_split()),
 * one tick timer (req/s samples, the --timeout sweep, the progress
 * counters, --hdr-log intervals) and one end timer. Per connection: a TCP
 * stream (coil/stream.h), a ring of the requests in flight with their
 * intended and actual start times, one write request per pipeline slot,
 * and with -R a lane of the global schedule (schedule.h) with its own
 * timer.
 *
 * The hot path allocates nothing: requests are pre-built bytes written as
 * they are; responses are parsed where the kernel put them (the loop's
 * provided buffers, multishot recv); only a head split across two reads
 * is copied into a small per-connection buffer, allocated the first time
 * that happens. Every write of a turn leaves in one sendmsg per
 * connection (the stream coalesces), and every send of a turn in one
 * io_uring_enter(2) (the loop batches).
 *
 * Accounting: every request sent ends as exactly one of: a response
 * (counted in requests and its status), or an error of the class that
 * lost it (a connection failure with N requests in flight counts N
 * errors; a failure with none in flight, one). Requests the server
 * refused to read because it closed the connection after an earlier
 * response ("Connection: close") were not served: they are sent again on
 * the next connection. At the end no new request goes out and those in
 * flight are awaited, each bounded by --timeout, so the request count is
 * what the server answered.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "coil/engine.h"
#include "coil/hist.h"
#include "coil/http.h"
#include "coil/stream.h"
#ifdef COIL_BENCH_TLS
#include "coil/tls.h"
#endif
#include "gen.h"
#include "schedule.h"

#define TICK_MAX_NS 100000000ull /* 100 ms: wrk's req/s sample */
#define HDR_INTERVAL_NS 1000000000ull
#define BACKOFF_MIN_NS 1000000ull   /* reconnect after failures: 1 ms */
#define BACKOFF_MAX_NS 100000000ull /* ... doubling to 100 ms */
#define MAX_HEADERS 256
#define ACC_MIN 4096

uint64_t cb_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu(uint64_t *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	*sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull +
	       (uint64_t)ru.ru_stime.tv_usec * 1000ull;
	return (uint64_t)ru.ru_utime.tv_sec * 1000000000ull +
	       (uint64_t)ru.ru_utime.tv_usec * 1000ull;
}

/* ---- state ---------------------------------------------------------------
 */

enum conn_state {
	C_IDLE,	      /* no stream; maybe a reconnect timer */
	C_CONNECTING, /* TCP connect in flight */
	C_HANDSHAKE,  /* TLS handshake in flight */
	C_OPEN,
	C_CLOSING, /* close called, waiting for its callback */
	C_DONE,	   /* finished for good */
};

/* A request taken from the schedule (or the closed model's budget). */
struct slot {
	uint64_t intended; /* latency is measured from here */
	uint64_t start;	   /* sent (or connect start without keep-alive);
			      0 = not sent yet */
	uint32_t url;	   /* index into the target's requests */
};

struct wslot {
	struct coil_stream_write w;
	struct conn *c;
	int busy;
};

struct conn {
	struct cb_gen *g;
	struct coil_tcp tcp;
#ifdef COIL_BENCH_TLS
	struct coil_tls tls;
#endif
	struct coil_stream *s; /* &tcp.s or &tls.s */
	enum conn_state st;
	uint64_t idx; /* global connection index: the lane */
	uint64_t url_next;

	/* requests taken, oldest first: ring of P */
	struct slot *ring;
	unsigned head, count, unsent;
	struct wslot *ws; /* P write requests, used round robin */
	unsigned wnext;
	int wblocked; /* a send waits for a write slot */
	int no_more;  /* the server said close: send nothing more here */
	int used;     /* --no-keepalive: the one request was taken */

	/* response parsing */
	struct coil_http_msg msg;
	struct coil_http_body body;
	int in_body;
	char *acc; /* a head split across reads */
	unsigned acc_len, acc_cap;

	/* open model */
	struct cb_sched sched;
	struct coil_op tmr; /* next intended time */
	/* reconnect back-off */
	struct coil_op retry;
	unsigned fails;
	uint64_t connect_ns;
};

struct cb_gen {
	struct cb_thread *th;
	struct cb_run *run;
	const struct cb_opts *o;
	const struct cb_target *t;
	struct coil_loop *loop;
	struct conn *conns;
	unsigned n;
	unsigned pipeline;
	struct coil_http_header headers[MAX_HEADERS];
	uint64_t *due; /* scratch for cb_sched_due(), [pipeline] */

	uint64_t t0, measure, end; /* end: no new request from here */
	uint64_t budget;	   /* closed model with -n: requests left */
	int limited;		   /* budget applies */
	int stopping;
	int connecting; /* pre-connect phase: connects outstanding */
	int preconnect;
	unsigned live; /* connections not C_DONE */
	int finished;

	struct coil_op tick, endt;
	uint64_t tick_ns, next_tick, last_sample, sample_done;
	uint64_t responses; /* every response, warmup included */
	uint64_t errors;
	uint64_t next_hdr;
	uint64_t hdr_interval;
	struct coil_hist *ih, *ihu; /* this interval's histograms */
	uint64_t outside_syscalls;
	uint64_t enters0, cpu_u0, cpu_s0;
	int measuring;

#ifdef COIL_BENCH_TLS
	struct coil_tls_cache *tls_cache;
#endif
};

static void conn_connect(struct conn *c);
static void conn_close(struct conn *c);
static void conn_fail(struct conn *c, enum cb_err_class cls, int code);
static void send_more(struct conn *c);
static void maybe_finish(struct cb_gen *g);

static int measured(const struct cb_gen *g, uint64_t t)
{
	return g->measuring && t >= g->measure;
}

static void count_error(struct cb_gen *g, enum cb_err_class cls, int code,
			uint64_t n)
{
	g->errors += n;
	if (!measured(g, coil_now(g->loop)))
		return;
	for (uint64_t i = 0; i < n; i++)
		cb_result_error(&g->th->r, cls, code);
}

/* ---- hdr-log intervals --------------------------------------------------
 */

static int hdr_write_slot(struct cb_hdr *hd, struct cb_hdr_slot *s)
{
	uint64_t start = s->interval * HDR_INTERVAL_NS;
	uint64_t len = s->end_ns > start ? s->end_ns - start : 0;
	int ret;
	if (len > HDR_INTERVAL_NS)
		len = HDR_INTERVAL_NS;
	ret = cb_hdrlog_write(hd->log, NULL, start, len, s->h);
	if (!ret && hd->uncorrected)
		ret = cb_hdrlog_write(hd->log, "uncorrected", start, len,
				      s->hu);
	if (ret && !hd->err)
		hd->err = ret;
	coil_hist_reset(s->h);
	if (s->hu)
		coil_hist_reset(s->hu);
	s->contrib = 0;
	s->end_ns = 0;
	return ret;
}

/* Add one thread's histograms for @interval, which ended at @end_ns
 * (relative to the measured start). */
static void hdr_add(struct cb_hdr *hd, uint64_t interval, uint64_t end_ns,
		    struct coil_hist *h, struct coil_hist *hu)
{
	struct cb_hdr_slot *s = &hd->slot[interval % CB_HDR_SLOTS];

	pthread_mutex_lock(&hd->mu);
	if (s->contrib && s->interval != interval)
		hdr_write_slot(hd, s); /* a thread far behind: flush early */
	s->interval = interval;
	coil_hist_merge(s->h, h);
	if (hu && s->hu)
		coil_hist_merge(s->hu, hu);
	if (end_ns > s->end_ns)
		s->end_ns = end_ns;
	if (++s->contrib == hd->threads)
		hdr_write_slot(hd, s);
	pthread_mutex_unlock(&hd->mu);
}

int cb_hdr_new(struct cb_hdr **out, struct cb_hdrlog *log, unsigned threads,
	       int uncorrected)
{
	struct cb_hdr *hd = calloc(1, sizeof(*hd));
	if (!hd)
		return -ENOMEM;
	pthread_mutex_init(&hd->mu, NULL);
	hd->log = log;
	hd->threads = threads;
	hd->uncorrected = uncorrected;
	for (int i = 0; i < CB_HDR_SLOTS; i++) {
		if (coil_hist_new(&hd->slot[i].h, NULL) < 0 ||
		    (uncorrected && coil_hist_new(&hd->slot[i].hu, NULL) < 0)) {
			cb_hdr_free(hd, 0);
			return -ENOMEM;
		}
	}
	*out = hd;
	return 0;
}

int cb_hdr_free(struct cb_hdr *hd, uint64_t base_ns)
{
	int err;
	(void)base_ns;
	if (!hd)
		return 0;
	/* intervals not completed by every thread (a thread failed): write
	 * them in order */
	for (;;) {
		struct cb_hdr_slot *min = NULL;
		for (int i = 0; i < CB_HDR_SLOTS; i++) {
			struct cb_hdr_slot *s = &hd->slot[i];
			if (s->contrib && (!min || s->interval < min->interval))
				min = s;
		}
		if (!min || !hd->log)
			break;
		hdr_write_slot(hd, min);
	}
	for (int i = 0; i < CB_HDR_SLOTS; i++) {
		coil_hist_free(hd->slot[i].h);
		coil_hist_free(hd->slot[i].hu);
	}
	err = hd->err;
	pthread_mutex_destroy(&hd->mu);
	free(hd);
	return err;
}

/* ---- writing requests ---------------------------------------------------
 */

static void write_cb(struct coil_stream_write *w, int status)
{
	struct wslot *ws = coil_container_of(w, struct wslot, w);
	struct conn *c = ws->c;

	ws->busy = 0;
	if (status < 0) {
		if (status != -ECANCELED)
			conn_fail(c, CB_ERR_WRITE, status);
		return;
	}
	if (c->wblocked && c->st == C_OPEN) {
		c->wblocked = 0;
		send_more(c);
	}
}

/* Write the request in slot @i (taken, not sent). 0, or -EAGAIN when no
 * write request is free (retried from the write callback). */
static int write_slot(struct conn *c, struct slot *sl)
{
	struct cb_gen *g = c->g;
	const struct cb_target *t = g->t;
	struct wslot *ws = &c->ws[c->wnext];
	uint64_t now = coil_now(g->loop);
	int ret;

	if (ws->busy) {
		c->wblocked = 1;
		return -EAGAIN;
	}
	ret = coil_stream_write(c->s, &ws->w, t->reqs + t->req_off[sl->url],
				t->req_len[sl->url], write_cb);
	if (ret < 0)
		return ret;
	ws->busy = 1;
	c->wnext = (c->wnext + 1) % g->pipeline;
	if (g->o->keepalive)
		sl->start = now;
	else
		sl->start = c->connect_ns;
	if (!g->o->rate)
		sl->intended = sl->start;
	if (measured(g, sl->intended))
		g->th->r.bytes_written += t->req_len[sl->url];
	return 0;
}

/* Take one more request into the ring (not sent yet). */
static struct slot *take(struct conn *c, uint64_t intended)
{
	struct cb_gen *g = c->g;
	struct slot *sl = &c->ring[(c->head + c->count) % g->pipeline];
	sl->intended = intended;
	sl->start = 0;
	sl->url = (uint32_t)(c->url_next++ % g->t->n_reqs);
	c->count++;
	c->unsent++;
	return sl;
}

/* Write every taken request not yet sent, oldest first. */
static int flush_unsent(struct conn *c)
{
	struct cb_gen *g = c->g;
	while (c->unsent) {
		unsigned i = (c->head + c->count - c->unsent) % g->pipeline;
		int ret = write_slot(c, &c->ring[i]);
		if (ret == -EAGAIN)
			return 0;
		if (ret < 0)
			return ret;
		c->unsent--;
	}
	return 0;
}

static void arm_sched(struct conn *c)
{
	struct cb_gen *g = c->g;
	uint64_t next;
	if (coil_op_busy(&c->tmr) || g->stopping)
		return;
	next = cb_sched_next_ns(&c->sched);
	if (next >= g->end)
		return;
	coil_timeout(g->loop, &c->tmr, next, COIL_TIMEOUT_ABS);
}

/* Whether this connection has nothing left to do in the run. */
static int conn_spent(const struct conn *c)
{
	const struct cb_gen *g = c->g;
	if (g->stopping)
		return 1;
	if (c->count)
		return 0;
	if (g->o->rate)
		return cb_sched_done(&c->sched);
	return g->limited && !g->budget;
}

/* Take and send what the model allows now. */
static void send_more(struct conn *c)
{
	struct cb_gen *g = c->g;
	uint64_t now = coil_now(g->loop);
	unsigned room, n;
	int ret;

	if (c->st != C_OPEN || c->no_more)
		return;
	if (g->stopping) {
		/* no new request; close once the last answer is in */
		if (c->count == c->unsent)
			conn_close(c);
		return;
	}
	if ((ret = flush_unsent(c)) < 0)
		goto fail;
	if (c->wblocked)
		return;
	room = g->pipeline - c->count;
	if (!g->o->keepalive)
		room = c->used ? 0 : 1;
	n = 0;
	if (room && g->o->rate) {
		/* the run holds the requests due before its end */
		n = cb_sched_due(&c->sched, now < g->end ? now : g->end - 1,
				 g->due, room);
		for (unsigned i = 0; i < n; i++)
			take(c, g->due[i]);
		if (c->count < g->pipeline && g->o->keepalive)
			arm_sched(c);
	} else if (room) {
		n = room;
		if (g->limited && n > g->budget)
			n = (unsigned)g->budget;
		for (unsigned i = 0; i < n; i++)
			take(c, now);
		if (g->limited)
			g->budget -= n;
	}
	if (n && !g->o->keepalive)
		c->used = 1;
	if ((ret = flush_unsent(c)) < 0)
		goto fail;
	if (conn_spent(c))
		conn_close(c);
	return;
fail:
	conn_fail(c, CB_ERR_WRITE, ret);
}

static void sched_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, tmr);
	struct cb_gen *g = c->g;
	(void)flags;
	if (res < 0 || g->stopping)
		return;
	if (!g->o->keepalive) {
		/* a connection per request: connect once one is due */
		if (c->st == C_IDLE && !c->count) {
			uint64_t now = coil_now(g->loop);
			unsigned n = cb_sched_due(
				&c->sched, now < g->end ? now : g->end - 1,
				g->due, 1);
			if (n) {
				take(c, g->due[0]);
				c->used = 1;
				conn_connect(c);
			} else {
				arm_sched(c);
			}
		}
		return;
	}
	send_more(c);
}

/* ---- responses ------------------------------------------------------------
 */

static void response_done(struct conn *c)
{
	struct cb_gen *g = c->g;
	struct cb_result *r = &g->th->r;
	struct slot *sl = &c->ring[c->head];
	uint64_t now = coil_now(g->loop);
	int status = c->msg.status;
	int keep = c->msg.keep_alive && g->o->keepalive;

	c->head = (c->head + 1) % g->pipeline;
	c->count--;
	g->responses++;
	if (measured(g, sl->intended)) {
		uint64_t lat = now > sl->intended ? now - sl->intended : 0;
		coil_hist_record(r->latency, lat);
		if (g->ih)
			coil_hist_record(g->ih, lat);
		if (g->o->rate) {
			uint64_t u = now > sl->start ? now - sl->start : 0;
			coil_hist_record(r->latency_uncorrected, u);
			if (g->ihu)
				coil_hist_record(g->ihu, u);
		}
		cb_result_status(r, (unsigned)status);
		r->requests++;
	}
	coil_http_msg_reset(&c->msg);
	c->in_body = 0;
	c->fails = 0;
	if (!keep) {
		/* the server closes: what was pipelined behind this one was
		 * not served; it goes again on the next connection */
		c->no_more = 1;
		c->unsent = c->count;
		for (unsigned i = 0; i < c->count; i++)
			c->ring[(c->head + i) % g->pipeline].start = 0;
	}
}

/* A connection failed with requests in flight (or unsolicited data). */
static void conn_fail(struct conn *c, enum cb_err_class cls, int code)
{
	unsigned lost = c->count - c->unsent;
	if (c->st != C_OPEN && c->st != C_HANDSHAKE)
		return;
	count_error(c->g, cls, code, lost ? lost : 1);
	/* taken but unsent requests stay for the next connection */
	c->head = (c->head + lost) % c->g->pipeline;
	c->count -= lost;
	conn_close(c);
}

static int acc_reserve(struct conn *c, size_t need)
{
	size_t cap = c->acc_cap ? c->acc_cap : ACC_MIN;
	char *p;
	if (need <= c->acc_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > COIL_HTTP_MAX_HEAD_DEFAULT)
		cap = COIL_HTTP_MAX_HEAD_DEFAULT;
	if (cap < need)
		return COIL_ELIMIT;
	p = realloc(c->acc, cap);
	if (!p)
		return -ENOMEM;
	c->acc = p;
	c->acc_cap = (unsigned)cap;
	return 0;
}

/* Parse a head from @buf, or from the accumulated bytes plus @buf.
 * Return: bytes of @buf used (the head's end, or all of it when it is
 * incomplete: *done 0); or an error. */
static int parse_head(struct conn *c, const char *buf, size_t n, int *done)
{
	struct cb_gen *g = c->g;
	size_t want, take;
	int ret;

	*done = 0;
	if (!c->acc_len) {
		ret = coil_http_parse_response(&c->msg, buf, n,
					       g->t->parse_flags);
		if (ret > 0) {
			*done = 1;
			return ret;
		}
		if (ret != COIL_HTTP_PARTIAL)
			return ret;
		if ((ret = acc_reserve(c, n)) < 0)
			return ret;
		memcpy(c->acc, buf, n);
		c->acc_len = (unsigned)n;
		return (int)n;
	}
	/* the head started in an earlier read: parse it whole again (the
	 * header array is shared by the thread's connections). Copy at most
	 * up to the head limit: a head that does not end within it fails. */
	want = c->acc_len + n;
	if (want > COIL_HTTP_MAX_HEAD_DEFAULT)
		want = COIL_HTTP_MAX_HEAD_DEFAULT;
	if ((ret = acc_reserve(c, want)) < 0)
		return ret;
	take = want > c->acc_len ? want - c->acc_len : 0;
	memcpy(c->acc + c->acc_len, buf, take);
	coil_http_msg_reset(&c->msg);
	ret = coil_http_parse_response(&c->msg, c->acc, c->acc_len + take,
				       g->t->parse_flags);
	if (ret == COIL_HTTP_PARTIAL) {
		if (c->acc_len + take >= COIL_HTTP_MAX_HEAD_DEFAULT)
			return COIL_ELIMIT;
		c->acc_len += (unsigned)take; /* take == n here */
		return (int)take;
	}
	if (ret < 0)
		return ret;
	*done = 1;
	ret -= (int)c->acc_len; /* the head's end inside @buf */
	c->acc_len = 0;
	return ret;
}

static void on_read(struct coil_stream *s, ssize_t nread, const void *data)
{
	struct conn *c = s->data;
	struct cb_gen *g = c->g;
	const char *buf = data;
	size_t n;

	if (c->st != C_OPEN)
		return;
	if (nread <= 0) {
		if (nread == 0 && c->in_body &&
		    c->body.kind == COIL_HTTP_BODY_CLOSE) {
			response_done(c);
			nread = 0;
		}
		if (c->count - c->unsent || c->in_body || c->acc_len) {
			if (nread == 0)
				conn_fail(c, CB_ERR_RESET, COIL_ETRUNC);
			else if (nread == -ECONNRESET || nread == -EPIPE ||
				 nread == COIL_ETRUNC)
				conn_fail(c, CB_ERR_RESET, (int)nread);
			else if (nread == -ETIMEDOUT)
				conn_fail(c, CB_ERR_TIMEOUT, (int)nread);
			else
				conn_fail(c, CB_ERR_READ, (int)nread);
		} else if (nread < 0 && nread != -ECONNRESET &&
			   nread != COIL_ETRUNC) {
			/* (an idle connection closed without TLS close_notify
			 * or reset ended nothing: it is replaced, above) */
			conn_fail(c, CB_ERR_READ, (int)nread);
		} else {
			conn_close(c); /* an idle connection ended: replace */
		}
		return;
	}
	n = (size_t)nread;
	if (measured(g, coil_now(g->loop)))
		g->th->r.bytes_read += n;
	for (;;) {
		int ret;
		if (!c->in_body) {
			int done;
			if (!n)
				break;
			if (c->count == c->unsent) {
				/* bytes nobody asked for */
				conn_fail(c, CB_ERR_PARSE, COIL_EPARSE);
				return;
			}
			ret = parse_head(c, buf, n, &done);
			if (ret < 0) {
				conn_fail(c, CB_ERR_PARSE, ret);
				return;
			}
			buf += ret;
			n -= (size_t)ret;
			if (!done)
				return;
			if (c->msg.status < 200 && c->msg.status != 101) {
				coil_http_msg_reset(&c->msg); /* interim */
				continue;
			}
			coil_http_body_init(&c->body, &c->msg, 1);
			c->in_body = 1;
			/* HEAD, 204, 304, Content-Length: 0: ends here */
			if (c->body.kind == COIL_HTTP_BODY_NONE ||
			    (c->body.kind == COIL_HTTP_BODY_LENGTH &&
			     !c->body.remaining)) {
				response_done(c);
				if (c->no_more) {
					conn_close(c);
					return;
				}
				continue;
			}
		}
		if (!n)
			break;
		{
			size_t len = n;
			/* discarding: the decoder only counts, never writes */
			ret = coil_http_body_decode(&c->body, (char *)buf,
						    &len);
			if (ret == COIL_HTTP_PARTIAL)
				break;
			if (ret < 0) {
				conn_fail(c, CB_ERR_PARSE, ret);
				return;
			}
			buf += n - (size_t)ret;
			n = (size_t)ret;
			response_done(c);
			if (c->no_more) {
				conn_close(c);
				return;
			}
		}
	}
	send_more(c);
}

/* ---- connections ------------------------------------------------------------
 */

static void conn_ready(struct conn *c)
{
	struct cb_gen *g = c->g;
	int ret;

	c->st = C_OPEN;
	c->no_more = 0;
	c->in_body = 0;
	c->acc_len = 0;
	c->wblocked = 0;
	coil_http_msg_reset(&c->msg);
	if (g->connecting)
		g->connecting--;
	ret = coil_stream_read_start(c->s, on_read);
	if (ret < 0) {
		conn_fail(c, CB_ERR_READ, ret);
		return;
	}
	if (g->preconnect)
		return; /* the run starts once every thread has connected */
	send_more(c);
}

static void retry_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, retry);
	(void)flags;
	(void)res;
	if (c->g->stopping) {
		if (c->st == C_IDLE) {
			c->st = C_DONE;
			c->g->live--;
			maybe_finish(c->g);
		}
		return;
	}
	conn_connect(c);
}

/* After a failed connect or a close: connect again, or finish. */
static void conn_next(struct conn *c, int failed)
{
	struct cb_gen *g = c->g;
	uint64_t wait = 0;

	c->st = C_IDLE;
	if (g->preconnect)
		return; /* the run connects it again from t0 */
	if (conn_spent(c)) {
		if (g->o->rate && c->unsent && g->measuring)
			g->th->r.unsent += c->unsent;
		c->head = c->count = c->unsent = 0;
		c->st = C_DONE;
		g->live--;
		maybe_finish(g);
		return;
	}
	if (!c->count)
		c->used = 0;
	if (failed) {
		wait = BACKOFF_MIN_NS << (c->fails < 7 ? c->fails : 7);
		if (wait > BACKOFF_MAX_NS)
			wait = BACKOFF_MAX_NS;
		if (c->fails++ == 0)
			wait = 0; /* the first one at once */
	}
	if (!g->o->keepalive && g->o->rate && !c->count) {
		/* connect when the next request is due */
		arm_sched(c);
		return;
	}
	if (wait) {
		coil_timeout(g->loop, &c->retry, wait, 0);
		return;
	}
	conn_connect(c);
}

static void close_cb(struct coil_stream *s)
{
	struct conn *c = s->data;
	conn_next(c, 0);
}

static void conn_close(struct conn *c)
{
	if (c->st != C_OPEN && c->st != C_HANDSHAKE)
		return;
	c->st = C_CLOSING;
	if (coil_op_busy(&c->tmr))
		coil_timeout_remove(c->g->loop, &c->tmr);
	if (coil_stream_close(c->s, close_cb) < 0)
		conn_next(c, 0);
}

#ifdef COIL_BENCH_TLS
static void tls_done(struct coil_stream *s, int status);
#endif

static void connect_cb(struct coil_stream *s, int status)
{
	struct conn *c = s->data;
	struct cb_gen *g = c->g;

	if (status < 0) {
		if (status != -ECANCELED || !g->stopping) {
			count_error(g, CB_ERR_CONNECT, status, 1);
		}
		if (g->connecting)
			g->connecting--;
		conn_next(c, 1);
		return;
	}
	g->th->r.connections_opened++; /* pre-connects included */
	if (g->stopping) {
		c->st = C_OPEN;
		conn_close(c);
		return;
	}
#ifdef COIL_BENCH_TLS
	if (g->t->https) {
		struct coil_tls_opts to = {0};
		int ret;
		c->tls.s.data = c;
		to.host = g->t->host;
		to.cache = g->tls_cache;
		c->st = C_HANDSHAKE;
		ret = coil_tls_open(&c->tls, &c->tcp.s, g->t->tls, &to,
				    tls_done);
		if (ret < 0) {
			count_error(g, CB_ERR_TLS, ret, 1);
			c->st = C_OPEN;
			c->s = &c->tcp.s;
			conn_close(c);
			return;
		}
		/* the TLS stream owns the TCP one now: closing during the
		 * handshake goes through it (coil_tls_open()) */
		c->s = &c->tls.s;
		return;
	}
#endif
	conn_ready(c);
}

#ifdef COIL_BENCH_TLS
static void tls_done(struct coil_stream *s, int status)
{
	struct conn *c = s->data;
	struct cb_gen *g = c->g;
	uint64_t now = coil_now(g->loop);

	if (status < 0) {
		if (c->st == C_CLOSING)
			return; /* closed with a callback: close_cb goes on */
		if (status != -ECANCELED || !g->stopping)
			count_error(g, CB_ERR_TLS, status, 1);
		if (g->connecting)
			g->connecting--;
		conn_next(c, 1);
		return;
	}
	{ /* every handshake, pre-connects included */
		const struct coil_tls_info *info = coil_tls_info(&c->tls);
		g->th->r.tls_handshakes++;
		g->th->r.tls_handshake_ns += now - c->connect_ns;
		if (info && info->resumed)
			g->th->r.tls_resumed++;
	}
	c->s = &c->tls.s;
	conn_ready(c);
}
#endif

static void conn_connect(struct conn *c)
{
	struct cb_gen *g = c->g;
	struct coil_tcp_opts to = {0};
	int ret;

	to.connect_timeout_ns = g->o->timeout_ns;
	c->tcp.s.data = c;
	c->s = &c->tcp.s;
	c->st = C_CONNECTING;
	c->connect_ns = coil_now_update(g->loop);
	ret = coil_tcp_connect(g->loop, &c->tcp, g->t->addrs, g->t->naddrs, &to,
			       connect_cb);
	g->outside_syscalls += 2; /* socket(2), setsockopt(2) TCP_NODELAY */
	if (ret < 0) {
		count_error(g, CB_ERR_CONNECT, ret, 1);
		conn_next(c, 1);
	}
}

/* ---- the thread -------------------------------------------------------------
 */

static void maybe_finish(struct cb_gen *g)
{
	if (g->live || g->finished)
		return;
	g->finished = 1;
	if (coil_op_busy(&g->tick))
		coil_timeout_remove(g->loop, &g->tick);
	if (coil_op_busy(&g->endt))
		coil_timeout_remove(g->loop, &g->endt);
}

static void stop_all(struct cb_gen *g)
{
	if (g->stopping)
		return;
	g->stopping = 1;
	for (unsigned i = 0; i < g->n; i++) {
		struct conn *c = &g->conns[i];
		if (g->o->rate && g->measuring)
			g->th->r.unsent +=
				cb_sched_backlog(&c->sched, g->end - 1);
		if (coil_op_busy(&c->tmr))
			coil_timeout_remove(g->loop, &c->tmr);
		switch (c->st) {
		case C_IDLE:
			if (coil_op_busy(&c->retry)) {
				coil_timeout_remove(g->loop, &c->retry);
			} else {
				if (g->o->rate && c->unsent)
					g->th->r.unsent += c->unsent;
				c->count = c->unsent = 0;
				c->st = C_DONE;
				g->live--;
			}
			break;
		case C_CONNECTING:
		case C_HANDSHAKE:
			coil_stream_close(c->s, NULL);
			break;
		case C_OPEN:
			if (c->count == c->unsent)
				conn_close(c);
			break;
		default:
			break;
		}
	}
	maybe_finish(g);
}

/* The --timeout sweep: the oldest request of each connection. */
static void sweep(struct cb_gen *g, uint64_t now)
{
	uint64_t to = g->o->timeout_ns;
	for (unsigned i = 0; i < g->n; i++) {
		struct conn *c = &g->conns[i];
		struct slot *sl;
		if (c->st != C_OPEN || c->count == c->unsent)
			continue;
		sl = &c->ring[c->head];
		if (sl->start && now - sl->start >= to)
			conn_fail(c, CB_ERR_TIMEOUT, -ETIMEDOUT);
	}
}

static void begin_measuring(struct cb_gen *g)
{
	struct coil_loop_stats st;
	g->measuring = 1;
	coil_loop_stats(g->loop, &st);
	g->enters0 = st.enters;
	g->outside_syscalls = 0;
	g->cpu_u0 = thread_cpu(&g->cpu_s0);
	g->last_sample = g->measure;
	g->sample_done = g->responses;
}

static void tick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_gen *g = coil_container_of(op, struct cb_gen, tick);
	uint64_t now = coil_now(g->loop);
	(void)flags;

	if (res < 0 || g->finished)
		return;
	if (!g->measuring && now >= g->measure)
		begin_measuring(g);
	if (!g->stopping &&
	    atomic_load_explicit(&g->run->interrupted, memory_order_relaxed)) {
		if (!g->measuring)
			begin_measuring(g);
		if (now + 1 < g->end)
			g->end = now + 1; /* the run ends here */
		stop_all(g);
		if (g->finished)
			return;
	}
	sweep(g, now);
	if (g->measuring && now - g->last_sample >= TICK_MAX_NS) {
		uint64_t d = now - g->last_sample;
		coil_hist_record(g->th->r.req_per_sec,
				 (g->responses - g->sample_done) *
					 1000000000ull / d);
		g->last_sample = now;
		g->sample_done = g->responses;
	}
	if (g->run->hdr && g->measuring &&
	    now >= g->measure + (g->hdr_interval + 1) * HDR_INTERVAL_NS) {
		hdr_add(g->run->hdr, g->hdr_interval,
			(g->hdr_interval + 1) * HDR_INTERVAL_NS, g->ih, g->ihu);
		coil_hist_reset(g->ih);
		if (g->ihu)
			coil_hist_reset(g->ihu);
		g->hdr_interval++;
	}
	atomic_store_explicit(&g->th->live_requests, g->responses,
			      memory_order_relaxed);
	atomic_store_explicit(&g->th->live_errors, g->errors,
			      memory_order_relaxed);
	while (g->next_tick <= now)
		g->next_tick += g->tick_ns;
	coil_timeout(g->loop, &g->tick, g->next_tick, COIL_TIMEOUT_ABS);
}

static void end_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_gen *g = coil_container_of(op, struct cb_gen, endt);
	(void)flags;
	if (res < 0)
		return;
	if (!g->measuring)
		begin_measuring(g);
	stop_all(g);
}

static void gen_free(struct cb_gen *g)
{
	if (!g)
		return;
	if (g->conns) {
		for (unsigned i = 0; i < g->n; i++)
			free(g->conns[i].acc);
		free(g->conns[0].ring);
		free(g->conns[0].ws);
	}
	free(g->conns);
	free(g->due);
	coil_hist_free(g->ih);
	coil_hist_free(g->ihu);
#ifdef COIL_BENCH_TLS
	coil_tls_cache_free(g->tls_cache);
#endif
	if (g->loop)
		coil_loop_free(g->loop);
	free(g);
}

static int gen_setup(struct cb_thread *th, struct cb_gen **out)
{
	struct cb_run *run = th->run;
	const struct cb_opts *o = run->o;
	struct coil_loop_opts lo = {0};
	struct cb_gen *g;
	struct slot *rings;
	struct wslot *ws;
	uint64_t first, count;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->th = th;
	g->run = run;
	g->o = o;
	g->t = run->t;
	g->pipeline = o->pipeline ? o->pipeline : 1;
	cb_split(o->connections, run->threads, th->k, &first, &count);
	g->n = (unsigned)count;
	lo.batch_wait_ns = run->batch_wait_ns;
	/* enough SQ for one send and one timer per connection per turn */
	lo.sq_entries = g->n * 2 + 64 > 4096 ? 4096 : g->n * 2 + 64;
	ret = coil_loop_new(&g->loop, &lo);
	if (ret < 0) {
		snprintf(th->fatal_msg, sizeof(th->fatal_msg), "%s",
			 coil_loop_strerror(ret));
		free(g);
		return ret;
	}
	g->conns = calloc(g->n, sizeof(*g->conns));
	g->due = calloc(g->pipeline, sizeof(*g->due));
	rings = calloc((size_t)g->n * g->pipeline, sizeof(*rings));
	ws = calloc((size_t)g->n * g->pipeline, sizeof(*ws));
	if (!g->conns || !g->due || !rings || !ws) {
		free(rings);
		free(ws);
		gen_free(g);
		return -ENOMEM;
	}
	if ((run->hdr && (coil_hist_new(&g->ih, NULL) < 0 ||
			  (o->rate && coil_hist_new(&g->ihu, NULL) < 0)))) {
		free(rings);
		free(ws);
		gen_free(g);
		return -ENOMEM;
	}
#ifdef COIL_BENCH_TLS
	if (run->t->https &&
	    (ret = coil_tls_cache_new(&g->tls_cache, 16)) < 0) {
		free(rings);
		free(ws);
		gen_free(g);
		return ret;
	}
#endif
	for (unsigned i = 0; i < g->n; i++) {
		struct conn *c = &g->conns[i];
		c->g = g;
		c->idx = first + i;
		c->url_next = c->idx;
		c->ring = rings + (size_t)i * g->pipeline;
		c->ws = ws + (size_t)i * g->pipeline;
		for (unsigned j = 0; j < g->pipeline; j++)
			c->ws[j].c = c;
		coil_http_msg_init(&c->msg, g->headers, MAX_HEADERS);
		coil_op_init(&c->tmr, sched_cb);
		coil_op_init(&c->retry, retry_cb);
		c->st = C_IDLE;
	}
	coil_op_init(&g->tick, tick_cb);
	coil_op_init(&g->endt, end_cb);
	if (o->requests && !o->rate) {
		uint64_t f, share;
		cb_split(o->requests, run->threads, th->k, &f, &share);
		g->limited = 1;
		g->budget = share;
	}
	g->tick_ns = o->timeout_ns / 10;
	if (g->tick_ns > TICK_MAX_NS)
		g->tick_ns = TICK_MAX_NS;
	if (g->tick_ns < 1000000)
		g->tick_ns = 1000000;
	*out = g;
	return 0;
}

/* The run proper, from t0. */
static int gen_run(struct cb_gen *g)
{
	const struct cb_opts *o = g->o;
	struct coil_loop_stats st;
	uint64_t u, s, end_real;
	int ret;

	g->t0 = g->run->t0_ns;
	coil_now_update(g->loop); /* >= t0: the first requests count */
	g->measure = g->t0 + o->warmup_ns;
	g->end = o->duration_ns ? g->measure + o->duration_ns : UINT64_MAX;
	g->preconnect = 0;
	g->live = g->n;
	if (!o->warmup_ns)
		begin_measuring(g);
	for (unsigned i = 0; i < g->n; i++) {
		struct conn *c = &g->conns[i];
		if (o->rate) {
			ret = cb_sched_init(&c->sched, g->t0, o->rate, c->idx,
					    o->connections, o->requests,
					    CB_SCHED_LATE_NS);
			if (ret < 0)
				return ret;
		}
		if (c->st == C_OPEN) {
			send_more(c);
		} else if (c->st == C_IDLE && !coil_op_busy(&c->retry)) {
			if (!o->keepalive && o->rate)
				conn_next(c, 0);
			else
				conn_connect(c);
		}
	}
	g->next_tick = g->t0 + g->tick_ns;
	coil_timeout(g->loop, &g->tick, g->next_tick, COIL_TIMEOUT_ABS);
	if (g->end != UINT64_MAX)
		coil_timeout(g->loop, &g->endt, g->end, COIL_TIMEOUT_ABS);
	maybe_finish(g);

	ret = coil_loop_run(g->loop, COIL_RUN_DEFAULT);
	if (ret < 0)
		return ret;

	end_real = coil_now_update(g->loop);
	if (!g->measuring)
		begin_measuring(g);
	coil_loop_stats(g->loop, &st);
	u = thread_cpu(&s);
	g->th->r.runtime_ns = end_real > g->measure ? end_real - g->measure : 0;
	g->th->r.syscalls = st.enters - g->enters0 + g->outside_syscalls + 1;
	g->th->r.cpu_user_ns = u - g->cpu_u0;
	g->th->r.cpu_sys_ns = s - g->cpu_s0;
	g->th->r.late_ns = CB_SCHED_LATE_NS;
	if (o->rate) {
		for (unsigned i = 0; i < g->n; i++) {
			const struct cb_sched *sc = &g->conns[i].sched;
			g->th->r.late += sc->late;
			if (sc->max_lag_ns > g->th->r.max_lag_ns)
				g->th->r.max_lag_ns = sc->max_lag_ns;
		}
	}
	if (g->run->hdr)
		hdr_add(g->run->hdr, g->hdr_interval, end_real - g->measure,
			g->ih, g->ihu);
	atomic_store_explicit(&g->th->live_requests, g->responses,
			      memory_order_relaxed);
	atomic_store_explicit(&g->th->live_errors, g->errors,
			      memory_order_relaxed);
	return 0;
}

/* Before t0: open the keep-alive connections, so the run measures
 * requests, not the connect storm. */
static int gen_preconnect(struct cb_gen *g)
{
	int ret;
	if (!g->o->keepalive)
		return 0;
	g->preconnect = 1;
	g->connecting = g->n;
	for (unsigned i = 0; i < g->n; i++)
		conn_connect(&g->conns[i]);
	while (g->connecting) {
		ret = coil_loop_run(g->loop, COIL_RUN_ONCE);
		if (ret < 0)
			return ret;
	}
	g->preconnect = 0;
	return 0;
}

/* Tell main this thread is ready, wait for t0 (0: the run is off). */
static int gate(struct cb_run *run)
{
	int go;
	pthread_mutex_lock(&run->mu);
	run->ready++;
	pthread_cond_broadcast(&run->cv);
	while (!run->go)
		pthread_cond_wait(&run->cv, &run->mu);
	go = run->go > 0;
	pthread_mutex_unlock(&run->mu);
	return go;
}

static void *thread_main(void *arg)
{
	struct cb_thread *th = arg;
	struct cb_run *run = th->run;
	struct cb_gen *g = NULL;
	sigset_t sigs;
	int ret;

	/* SIGINT and SIGTERM go to main, which tells the threads */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	ret = gen_setup(th, &g);
	if (ret == 0)
		ret = gen_preconnect(g);
	if (ret < 0 && !th->fatal) {
		th->fatal = ret;
		if (!th->fatal_msg[0])
			snprintf(th->fatal_msg, sizeof(th->fatal_msg), "%s",
				 coil_strerror(ret));
	}
	if (gate(run) && !th->fatal) {
		ret = gen_run(g);
		if (ret < 0) {
			th->fatal = ret;
			snprintf(th->fatal_msg, sizeof(th->fatal_msg),
				 "loop failed: %s", coil_strerror(ret));
		}
	}
	gen_free(g);
	pthread_mutex_lock(&run->mu);
	run->finished++;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	return NULL;
}

int cb_run_threads(struct cb_run *run,
		   void (*progress)(struct cb_run *run, uint64_t elapsed_ns),
		   uint64_t progress_ns)
{
	unsigned started = 0;
	int ret = 0;

	pthread_mutex_init(&run->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&run->cv, &ca);
	pthread_condattr_destroy(&ca);
	run->ready = run->finished = 0;
	run->go = 0;
	for (unsigned k = 0; k < run->threads; k++) {
		struct cb_thread *th = &run->th[k];
		th->run = run;
		th->k = k;
		ret = cb_result_init(&th->r);
		if (ret < 0)
			break;
		ret = -pthread_create(&th->tid, NULL, thread_main, th);
		if (ret < 0) {
			cb_result_free(&th->r);
			break;
		}
		started++;
	}

	pthread_mutex_lock(&run->mu);
	while (run->ready < started)
		pthread_cond_wait(&run->cv, &run->mu);
	run->t0_ns = cb_mono_ns();
	run->go = started == run->threads ? 1 : -1;
	pthread_cond_broadcast(&run->cv);
	while (run->finished < started) {
		struct timespec ts;
		uint64_t at;
		if (!progress || run->go < 0) {
			pthread_cond_wait(&run->cv, &run->mu);
			continue;
		}
		at = cb_mono_ns() + progress_ns;
		ts.tv_sec = (time_t)(at / 1000000000ull);
		ts.tv_nsec = (long)(at % 1000000000ull);
		if (pthread_cond_timedwait(&run->cv, &run->mu, &ts) ==
			    ETIMEDOUT &&
		    run->finished < started) {
			pthread_mutex_unlock(&run->mu);
			progress(run, cb_mono_ns() - run->t0_ns);
			pthread_mutex_lock(&run->mu);
		}
	}
	pthread_mutex_unlock(&run->mu);
	for (unsigned k = 0; k < started; k++)
		pthread_join(run->th[k].tid, NULL);
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	if (started < run->threads) {
		for (unsigned k = 0; k < started; k++)
			cb_result_free(&run->th[k].r);
		return ret;
	}
	return 0;
}
