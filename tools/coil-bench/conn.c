/*
 * tools/coil-bench/conn.c - one generator connection (gen_internal.h):
 * connect and TLS handshake, the requests taken from the model and
 * written (one write request per pipeline slot), the responses parsed
 * where the kernel put them, failures counted by class, reconnects with
 * back-off. The hot path allocates nothing; only a head split across two
 * reads is copied into a small per-connection buffer.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/grow.h"
#include "gen_internal.h"

#define BACKOFF_MIN_NS 1000000ull   /* reconnect after failures: 1 ms */
#define BACKOFF_MAX_NS 100000000ull /* ... doubling to 100 ms */
#define ACC_MIN 4096

/* ---- writing requests ---------------------------------------------------
 */

static void write_cb(struct coil_stream_write *w, int status)
{
	struct cb_wslot *ws = coil_container_of(w, struct cb_wslot, w);
	struct cb_conn *c = ws->c;

	ws->busy = 0;
	if (status < 0) {
		if (status != -ECANCELED)
			cb_conn_fail(c, CB_ERR_WRITE, status);
		return;
	}
	if (c->wblocked && c->state == C_OPEN) {
		c->wblocked = 0;
		cb_conn_send_more(c);
	}
}

/* Write the request in slot @i (taken, not sent). 0, or -EAGAIN when no
 * write request is free (retried from the write callback). */
static int write_slot(struct cb_conn *c, struct cb_slot *sl)
{
	struct cb_gen *g = c->g;
	struct cb_wslot *ws = &c->ws[c->wnext];
	/* the clock read again (a vDSO read, tens of ns): a turn that reaps
	 * a batch of responses writes their connections' next requests one
	 * after another, and the turn's own time would date the last of
	 * them by the whole batch's work early (the send side of the
	 * latency; the receive side is the kernel's timestamp) */
	uint64_t now = coil_now_update(g->loop);
	const char *p = g->reqs + g->req_off[sl->url];
	size_t len = g->req_len[sl->url];
	int ret;

	if (g->h2) {
		/* a stream of the session: its bytes are counted there */
		if ((ret = g->h2->submit(c, sl)) < 0)
			return ret;
		len = 0;
	} else {
		if (ws->busy) {
			c->wblocked = 1;
			return -EAGAIN;
		}
		if (g->dynamic) {
			p = sl->buf;
			len = sl->len;
		}
		ret = coil_stream_write(c->s, &ws->w, p, len, write_cb);
		if (ret < 0)
			return ret;
		ws->busy = 1;
		c->wnext = (c->wnext + 1) % g->pipeline;
	}
	if (g->o->keepalive)
		sl->start = now;
	else
		sl->start = c->connect_ns;
	if (!g->o->rate)
		sl->intended = sl->start;
	if (measured(g, sl->intended))
		g->th->r.bytes_written += len;
	return 0;
}

/* -s with request(): the script makes the slot's bytes. 0, or -1 when it
 * gave nothing to send (counted as a script error, or the run halts). */
static int script_take(struct cb_conn *c, struct cb_slot *sl)
{
	struct cb_gen *g = c->g;
	const char *p;
	size_t len;
	unsigned n;
	int code = 0, ret;

	ret = cb_script_request(g->script, &p, &len, &n, &code);
	if (ret == CB_SCRIPT_BAD) {
		count_error(g, CB_ERR_SCRIPT, code, 1);
		return -1;
	}
	if (ret != CB_SCRIPT_OK)
		return -1;
	if (len > sl->cap) {
		char *b = coil__grow(sl->buf, &sl->cap, len, 256);
		if (!b) {
			count_error(g, CB_ERR_SCRIPT, -ENOMEM, 1);
			return -1;
		}
		sl->buf = b;
	}
	memcpy(sl->buf, p, len);
	sl->len = len;
	sl->nreq = sl->left = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	sl->head_req = len > 5 && !memcmp(p, "HEAD ", 5);
	return 0;
}

/* Take one more request of @lane's into @c's ring (not sent yet; @lane is
 * @c but for a lent request, whose URL stays its lane's turn of --urls or
 * --targets); NULL when a script's request() gave nothing to send. */
static struct cb_slot *take_of(struct cb_conn *c, struct cb_conn *lane,
			       uint64_t intended)
{
	struct cb_gen *g = c->g;
	struct cb_slot *sl = &c->ring[(c->head + c->count) % g->pipeline];
	if (g->o->rate)
		cb_late_cause(g, intended);
	sl->intended = intended;
	sl->start = 0;
	if (lane->host) /* --targets: its host's requests, round robin */
		sl->url =
			lane->host->reqs[lane->url_next++ % lane->host->n_reqs];
	else
		sl->url = (uint32_t)(lane->url_next++ % g->n_reqs);
	sl->nreq = sl->left = 1;
	if (g->dynamic && script_take(c, sl) < 0)
		return NULL;
	c->count++;
	c->unsent++;
	return sl;
}

static struct cb_slot *take(struct cb_conn *c, uint64_t intended)
{
	return take_of(c, c, intended);
}

/* Write every taken request not yet sent, oldest first. */
static int flush_unsent(struct cb_conn *c)
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

/* Whether this connection has nothing left to do in the run. */
static int conn_spent(const struct cb_conn *c)
{
	const struct cb_gen *g = c->g;
	if (g->stopping)
		return 1;
	if (c->count)
		return 0;
	if (g->o->rate)
		return cb_sched_done(&c->sched);
	if (!conn_active(c))
		return 0; /* closed --stages: may send later */
	return g->limited && !g->budget;
}

/* -s with delay(), closed model: 1 when the wait before the next request
 * is over; else start it (c->tmr) and return 0. */
static unsigned script_delay(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	uint64_t ms;
	if (c->delay_state == 2) {
		c->delay_state = 0;
		return 1;
	}
	if (cb_script_delay(g->script, &ms) != CB_SCRIPT_OK)
		return 0;
	c->delay_state = 1;
	coil_timeout(g->loop, &c->tmr, ms * 1000000ull, 0);
	return 0;
}

/* Requests @c may take now: free pipeline slots, and with --http2 the
 * streams the server still allows beyond the ones not sent yet. */
static unsigned conn_room(const struct cb_conn *c)
{
	const struct cb_gen *g = c->g;
	unsigned room = g->pipeline - c->count;
	if (g->h2) { /* the server's MAX_CONCURRENT_STREAMS */
		unsigned h2room = g->h2->room(c);
		h2room = h2room > c->unsent ? h2room - c->unsent : 0;
		if (room > h2room)
			room = h2room;
	}
	return room;
}

/*
 * The open model with keep-alive (HTTP/1.1 or --http2): requests of @c's
 * lane that are due and that @c has no room for (its pipeline or its
 * streams full, or @c not open) go to the least-loaded open connection of
 * the thread that has room, so a slow response or a reconnect does not
 * hold the next ones back while other connections are free: an open
 * model's arrivals do not wait for one another, and -c is the bound on
 * concurrency, as h2load's -m is per connection. (wrk2 queues them on
 * their connection instead and charges the wait to the server: at -R 40000
 * -c100 against nginx, 0.9-2.9% of requests were handed out more than 1 ms
 * late that way, each behind one slow answer on its own connection.)
 * Their intended times stay the lane's; O(connections) per hand-out,
 * which happens only with such a backlog.
 */
static void lend_due(struct cb_conn *c, uint64_t now)
{
	struct cb_gen *g = c->g;
	uint64_t at = now < g->end ? now : g->end - 1;

	while (!g->stopping && cb_sched_backlog(&c->sched, at)) {
		struct cb_conn *best = NULL;
		unsigned room = 0, n;
		int ret;
		for (unsigned i = 0; i < g->n; i++) {
			struct cb_conn *o = &g->conns[i];
			unsigned r;
			if (o == c || o->state != C_OPEN || o->no_more ||
			    o->host != c->host || /* --targets: its host's */
			    (best && o->count >= best->count))
				continue;
			if ((r = conn_room(o))) {
				best = o;
				room = r;
			}
		}
		if (!best)
			return;
		n = cb_sched_due(&c->sched, at, g->due, room);
		for (unsigned i = 0; i < n; i++)
			take_of(best, c, g->due[i]);
		if ((ret = flush_unsent(best)) < 0)
			cb_conn_fail(best, CB_ERR_WRITE, ret);
		if (!n)
			return;
	}
}

/* Take and send what the model allows now. */
void cb_conn_send_more(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	uint64_t now = coil_now(g->loop);
	unsigned room, n;
	int ret;

	if (c->state != C_OPEN || c->no_more || g->preconnect)
		return;
	if (g->stopping) {
		/* no new request; close once the last answer is in */
		if (c->count == c->unsent)
			cb_conn_close(c);
		return;
	}
	if ((ret = flush_unsent(c)) < 0)
		goto fail;
	if (c->wblocked)
		return;
	room = conn_room(c);
	if (coil_op_busy(&c->tmr) && !g->o->rate)
		room = 0; /* delay() or a retry pending */
	if (!g->o->keepalive)
		room = c->used ? 0 : 1;
	if (!conn_active(c))
		room = 0; /* closed --stages: not its turn yet */
	n = 0;
	if (room && g->o->rate) {
		/* the run holds the requests due before its end */
		n = cb_sched_due(&c->sched, now < g->end ? now : g->end - 1,
				 g->due, room);
		for (unsigned i = 0; i < n; i++)
			take(c, g->due[i]);
	} else if (room && !g->halted) {
		if (g->has_delay) /* one at a time, each after delay() */
			room = c->count ? 0 : script_delay(c);
		n = room;
		if (g->limited && n > g->budget)
			n = (unsigned)g->budget;
		for (unsigned i = 0; i < n; i++)
			take(c, now);
		if (g->limited)
			g->budget -= n;
		if (g->dynamic && !c->count && n && !g->halted)
			/* request() gave nothing to send: ask again soon */
			coil_timeout(g->loop, &c->tmr, 1000000, 0);
	}
	if (c->count && !g->o->keepalive)
		c->used = 1;
	if ((ret = flush_unsent(c)) < 0)
		goto fail;
	if (g->o->rate && g->o->keepalive) /* what this one has no room for */
		lend_due(c, now);
	if (conn_spent(c))
		cb_conn_close(c);
	return;
fail:
	cb_conn_fail(c, CB_ERR_WRITE, ret);
}

/* The closed model's timer: delay() waited, or a retry of a script's
 * request() that gave nothing (the open model's times are the pacer's). */
void cb_conn_sched_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_conn *c = coil_container_of(op, struct cb_conn, tmr);
	struct cb_gen *g = c->g;
	(void)flags;
	if (res < 0 || g->stopping || g->o->rate)
		return;
	if (c->delay_state == 1)
		c->delay_state = 2;
	cb_conn_send_more(c);
}

void cb_conn_due(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	uint64_t now;

	if (g->stopping)
		return;
	if (g->o->keepalive) {
		if (c->state != C_OPEN) /* connecting: others take */
			lend_due(c, coil_now(g->loop));
		cb_conn_send_more(c);
		return;
	}
	/* a connection per request: connect once one is due (a busy one
	 * takes it when it is done: cb_conn_next()) */
	if (c->state != C_IDLE || c->count)
		return;
	now = coil_now(g->loop);
	if (cb_sched_due(&c->sched, now < g->end ? now : g->end - 1, g->due,
			 1) &&
	    take(c, g->due[0])) {
		c->used = 1;
		cb_conn_connect(c);
	}
}

/* ---- responses ------------------------------------------------------------
 */

void cb_record(struct cb_conn *c, struct cb_slot *sl, int status)
{
	struct cb_gen *g = c->g;
	struct cb_result *r = &g->th->r;
	uint64_t now = c->rx_ns; /* when the kernel received it */

	g->responses++;
	c->fails = 0;
	if (!measured(g, sl->intended))
		return;
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
	if (c->host) { /* --targets: its host's row too */
		struct cb_host_result *h = &r->by_host[c->host_k];
		h->requests++;
		h->non_2xx_3xx += status < 200 || status > 399;
		coil_hist_record(h->latency, lat);
	}
	cb_track_response(g, sl->intended, now, lat, (unsigned)status);
}

void cb_conn_warmed(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	/* the server accepted it: the connection is up */
	c->warming = 0;
	g->th->r.connect_requests++;
	if (g->connecting)
		g->connecting--;
	coil_stream_set_timeouts(c->s, 0, 0, 0);
}

static void response_done(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	struct cb_slot *sl = &c->ring[c->head];
	int status = c->msg.status;
	int keep = c->msg.keep_alive && g->o->keepalive;

	cb_record(c, sl, status);
	if (--sl->left == 0) {
		c->head = (c->head + 1) % g->pipeline;
		c->count--;
	}
	coil_http_msg_reset(&c->msg);
	c->in_body = 0;
	if (c->warming)
		cb_conn_warmed(c);
	if (g->want_response) {
		cb_script_response(g->script, status, &c->head_ref, c->rb,
				   c->rb_len);
		c->rb_len = 0;
	}
	if (!keep) {
		/* the server closes: what was pipelined behind this one was
		 * not served; it goes again on the next connection */
		c->no_more = 1;
		c->unsent = c->count;
		for (unsigned i = 0; i < c->count; i++) {
			struct cb_slot *s =
				&c->ring[(c->head + i) % g->pipeline];
			s->start = 0;
			s->left = s->nreq; /* sent again whole */
		}
	}
}

/* A connection failed with requests in flight (or unsolicited data). */
void cb_conn_fail(struct cb_conn *c, enum cb_err_class cls, int code)
{
	unsigned lost = c->count - c->unsent;
	if (c->state != C_OPEN && c->state != C_HANDSHAKE)
		return;
	count_conn_error(c, cls, code, lost ? lost : 1);
	/* taken but unsent requests stay for the next connection */
	c->head = (c->head + lost) % c->g->pipeline;
	c->count -= lost;
	cb_conn_close(c);
}

static int acc_reserve(struct cb_conn *c, size_t need)
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

/* HEAD's responses have no body: the thread's request says, or with
 * request() the oldest request in flight. */
static unsigned parse_flags(const struct cb_conn *c)
{
	const struct cb_gen *g = c->g;
	if (g->dynamic)
		return c->ring[c->head].head_req ? COIL_HTTP_PARSE_HEAD : 0;
	if (g->t->req_head) /* --targets: each request its own method */
		return g->t->req_head[c->ring[c->head].url]
			       ? COIL_HTTP_PARSE_HEAD
			       : 0;
	return g->parse_flags;
}

/* Parse a head from @buf, or from the accumulated bytes plus @buf.
 * Return: bytes of @buf used (the head's end, or all of it when it is
 * incomplete: *done 0); or an error. */
static int parse_head(struct cb_conn *c, const char *buf, size_t n, int *done)
{
	size_t want, take;
	int ret;

	*done = 0;
	if (!c->acc_len) {
		ret = coil_http_parse_response(&c->msg, buf, n, parse_flags(c));
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
				       parse_flags(c));
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

/* response(): room for @n more body bytes, copied there from @buf. */
static char *body_room(struct cb_conn *c, const char *buf, size_t n)
{
	if (c->rb_len + n > c->rb_cap) {
		char *b = coil__grow(c->rb, &c->rb_cap, c->rb_len + n, 4096);
		if (!b)
			return NULL;
		c->rb = b;
	}
	memcpy(c->rb + c->rb_len, buf, n);
	return c->rb + c->rb_len;
}

static void on_read(struct coil_stream *s, ssize_t nread, const void *data)
{
	struct cb_conn *c = s->data;
	struct cb_gen *g = c->g;
	const char *buf = data;
	size_t n;

	if (c->state != C_OPEN)
		return;
	cb_rx_read(c, s, nread);
	if (nread <= 0) {
		if (nread == 0 && c->in_body &&
		    c->body.kind == COIL_HTTP_BODY_CLOSE) {
			response_done(c);
			nread = 0;
		}
		if (c->count - c->unsent || c->in_body || c->acc_len) {
			if (nread == 0)
				cb_conn_fail(c, CB_ERR_RESET, COIL_ETRUNC);
			else if (nread == -ECONNRESET || nread == -EPIPE ||
				 nread == COIL_ETRUNC)
				cb_conn_fail(c, CB_ERR_RESET, (int)nread);
			else if (nread == -ETIMEDOUT)
				cb_conn_fail(c, CB_ERR_TIMEOUT, (int)nread);
			else
				cb_conn_fail(c, CB_ERR_READ, (int)nread);
		} else if (nread < 0 && nread != -ECONNRESET &&
			   nread != COIL_ETRUNC) {
			/* (an idle connection closed without TLS close_notify
			 * or reset ended nothing: it is replaced, above) */
			cb_conn_fail(c, CB_ERR_READ, (int)nread);
		} else {
			cb_conn_close(
				c); /* an idle connection ended: replace */
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
				cb_conn_fail(c, CB_ERR_PARSE, COIL_EPARSE);
				return;
			}
			ret = parse_head(c, buf, n, &done);
			if (ret < 0) {
				cb_conn_fail(c, CB_ERR_PARSE, ret);
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
			c->keep_body = g->want_response && g->script->resp_body;
			coil_http_body_init(&c->body, &c->msg, !c->keep_body);
			c->in_body = 1;
			c->rb_len = 0;
			if (g->want_response && g->script->resp_headers)
				cb_script_head(g->script, &c->msg,
					       &c->head_ref);
			/* HEAD, 204, 304, Content-Length: 0: ends here */
			if (c->body.kind == COIL_HTTP_BODY_NONE ||
			    (c->body.kind == COIL_HTTP_BODY_LENGTH &&
			     !c->body.remaining)) {
				response_done(c);
				if (c->no_more) {
					cb_conn_close(c);
					return;
				}
				continue;
			}
		}
		if (!n)
			break;
		{
			size_t len = n;
			char *at = (char *)buf;
			/* discarding: the decoder only counts, never writes;
			 * for response() it decodes a copy in place */
			if (c->keep_body && !(at = body_room(c, buf, n))) {
				cb_conn_fail(c, CB_ERR_READ, -ENOMEM);
				return;
			}
			ret = coil_http_body_decode(&c->body, at, &len);
			if (c->keep_body &&
			    (ret >= 0 || ret == COIL_HTTP_PARTIAL))
				c->rb_len += len;
			if (ret == COIL_HTTP_PARTIAL)
				break;
			if (ret < 0) {
				cb_conn_fail(c, CB_ERR_PARSE, ret);
				return;
			}
			buf += n - (size_t)ret;
			n = (size_t)ret;
			response_done(c);
			if (c->no_more) {
				cb_conn_close(c);
				return;
			}
		}
	}
	cb_conn_send_more(c);
}

/* ---- connections ------------------------------------------------------------
 */

/* Before the run, with many connections (gen_preconnect()): one request
 * on the new connection, whose answer proves the server accepted it;
 * bounded by --timeout like any request. */
static void confirm_start(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	int ret;

	if (!take(c, coil_now(g->loop))) {
		c->warming = 0;
		if (g->connecting)
			g->connecting--;
		return;
	}
	coil_stream_set_timeouts(c->s, 0, g->o->timeout_ns, 0);
	if ((ret = flush_unsent(c)) < 0)
		cb_conn_fail(c, CB_ERR_WRITE, ret);
}

static void conn_ready(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	int ret;

	c->state = C_OPEN;
	c->no_more = 0;
	c->in_body = 0;
	c->acc_len = 0;
	c->wblocked = 0;
	c->delay_state = 0;
	coil_http_msg_reset(&c->msg);
	if (g->preconnect && g->confirm)
		c->warming = 1; /* connecting until its answer */
	else if (g->connecting)
		g->connecting--;
	if (g->h2)
		ret = g->h2->start(c);
	else
		ret = coil_stream_read_start(c->s, on_read);
	if (ret < 0) {
		cb_conn_fail(c,
			     ret == -EPROTONOSUPPORT ? CB_ERR_TLS : CB_ERR_READ,
			     ret);
		return;
	}
	if (c->warming) {
		confirm_start(c);
		return;
	}
	if (g->preconnect)
		return; /* the run starts once every thread has connected */
	cb_conn_send_more(c);
}

void cb_conn_retry_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_conn *c = coil_container_of(op, struct cb_conn, retry);
	(void)flags;
	(void)res;
	if (c->g->stopping) {
		if (c->state == C_IDLE) {
			c->state = C_DONE;
			c->g->live--;
			maybe_finish(c->g);
		}
		return;
	}
	cb_conn_connect(c);
}

/* After a failed connect or a close: connect again, or finish. */
void cb_conn_next(struct cb_conn *c, int failed)
{
	struct cb_gen *g = c->g;
	uint64_t wait = 0;

	c->state = C_IDLE;
	if (c->warming) { /* closed before its confirming answer */
		c->warming = 0;
		if (g->connecting)
			g->connecting--;
	}
	if (g->preconnect)
		return; /* the run connects it again from t0 */
	if (conn_spent(c)) {
		if (g->o->rate && c->unsent && g->measuring)
			g->th->r.unsent += c->unsent;
		c->head = c->count = c->unsent = 0;
		c->state = C_DONE;
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
		/* connect when the next request is due: now, or when the
		 * pacer says so */
		cb_conn_due(c);
		return;
	}
	if (wait) {
		coil_timeout(g->loop, &c->retry, wait, 0);
		return;
	}
	cb_conn_connect(c);
}

static void close_cb(struct coil_stream *s)
{
	struct cb_conn *c = s->data;
	cb_conn_next(c, 0);
}

void cb_conn_close(struct cb_conn *c)
{
	if (c->state != C_OPEN && c->state != C_HANDSHAKE)
		return;
	c->state = C_CLOSING;
	if (coil_op_busy(&c->tmr))
		coil_timeout_remove(c->g->loop, &c->tmr);
	if (c->h2) { /* the session closes its stream */
		if (c->g->h2->close(c) < 0)
			cb_conn_next(c, 0);
		return;
	}
	if (coil_stream_close(c->s, close_cb) < 0)
		cb_conn_next(c, 0);
}

static void tls_done(struct coil_stream *s, int status);

static void connect_cb(struct coil_stream *s, int status)
{
	struct cb_conn *c = s->data;
	struct cb_gen *g = c->g;

	if (status < 0) {
		if (status != -ECANCELED || !g->stopping) {
			count_conn_error(c, CB_ERR_CONNECT, status, 1);
		}
		if (g->connecting)
			g->connecting--;
		cb_conn_next(c, 1);
		return;
	}
	g->th->r.connections_opened++; /* pre-connects included */
	if (g->preconnect &&
	    coil_now(g->loop) - c->connect_ns > g->th->r.connect_max_ns)
		g->th->r.connect_max_ns = coil_now(g->loop) - c->connect_ns;
	if (g->stopping) {
		c->state = C_OPEN;
		cb_conn_close(c);
		return;
	}
	if (conn_https(c)) {
		struct coil_tls_opts to = {0};
		int ret;
		c->tls.s.data = c;
		to.host = conn_server_name(c);
		to.cache = g->tls_cache;
		c->state = C_HANDSHAKE;
		ret = coil_tls_open(&c->tls, &c->tcp.s, g->t->tls, &to,
				    tls_done);
		if (ret < 0) {
			count_conn_error(c, CB_ERR_TLS, ret, 1);
			c->state = C_OPEN;
			c->s = &c->tcp.s;
			cb_conn_close(c);
			return;
		}
		/* the TLS stream owns the TCP one now: closing during the
		 * handshake goes through it (coil_tls_open()) */
		c->s = &c->tls.s;
		return;
	}
	conn_ready(c);
}

static void tls_done(struct coil_stream *s, int status)
{
	struct cb_conn *c = s->data;
	struct cb_gen *g = c->g;
	uint64_t now = coil_now(g->loop);

	if (status < 0) {
		if (c->state == C_CLOSING)
			return; /* closed with a callback: close_cb goes on */
		if (status != -ECANCELED || !g->stopping) {
			const char *why = coil_tls_error(&c->tls.s);
			count_conn_error(c, CB_ERR_TLS, status, 1);
			/* mbedTLS's reason, as coil-get reports it */
			if (!g->th->r.tls_error[0] && why && why[0])
				snprintf(g->th->r.tls_error,
					 sizeof(g->th->r.tls_error), "%s", why);
		}
		if (g->connecting)
			g->connecting--;
		cb_conn_next(c, 1);
		return;
	}
	{ /* every handshake, pre-connects included */
		const struct coil_tls_info *info = coil_tls_info(&c->tls);
		g->th->r.tls_handshakes++;
		g->th->r.tls_handshake_ns += now - c->connect_ns;
		if (info && info->resumed)
			g->th->r.tls_resumed++;
		if (info && !g->th->r.tls_version[0] && info->version[0]) {
			struct cb_result *r = &g->th->r;
			snprintf(r->tls_version, sizeof(r->tls_version), "%s",
				 info->version);
			snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s",
				 info->cipher);
			snprintf(r->tls_group, sizeof(r->tls_group), "%s",
				 info->group);
		}
	}
	c->s = &c->tls.s;
	conn_ready(c);
}

void cb_conn_connect(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	struct coil_tcp_opts to = {0};
	int ret;

	to.connect_timeout_ns = g->o->connect_timeout_ns
					? g->o->connect_timeout_ns
					: g->o->timeout_ns;
	to.flags = g->tcp_flags;
	/* one request in flight, answered before the next is written: no
	 * send's completion is waited for, so sends post none
	 * (coil/stream.h). The pre-built requests outlive the loop; a
	 * script's request() bytes do not. TLS writes of its own (alerts,
	 * tickets) break the rule. With batched waits (the default) the
	 * send completions ride along with the answers' already, and the
	 * CQEs they add keep the adaptive batching engaged: only unbatched
	 * (--batch-wait 0). */
	if (g->pipeline == 1 && !conn_https(c) && !g->dynamic && !g->h2 &&
	    !g->run->batch_wait_ns)
		to.flags |= COIL_TCP_QUIET_SENDS;
	c->tcp.s.data = c;
	c->s = &c->tcp.s;
	c->state = C_CONNECTING;
	c->connect_ns = coil_now_update(g->loop);
	ret = coil_tcp_connect(
		g->loop, &c->tcp, c->host ? c->host->addrs : g->addrs,
		c->host ? c->host->naddrs : g->naddrs, &to, connect_cb);
	g->outside_syscalls += 2; /* socket(2), setsockopt(2) TCP_NODELAY */
	if (ret < 0) {
		count_conn_error(c, CB_ERR_CONNECT, ret, 1);
		if (g->connecting)
			g->connecting--;
		cb_conn_next(c, 1);
	}
}
