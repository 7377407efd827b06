/*
 * http/client.c - the HTTP client's requests: attempts, retries,
 * redirects, deadlines, and the public API (coil_http_client_*,
 * coil_http_request, coil_http_req_*).
 *
 * The top of the client's layers (http/client_internal.h): this file owns
 * the request and its state, and calls down only: the pool for a
 * connection (coil__pool_wait(), answered through the waiter's callback),
 * the exchange on it (coil__exchange_start(), answered with an enum
 * coil__xout through hop_end()).
 *
 * A request runs as a coil_retry whose attempts are tasks: an attempt
 * sets its deadline and starts a hop (one exchange on one connection);
 * a redirect, or a reused connection that failed before any response
 * byte, starts the next hop within the same attempt; the attempt
 * ends with a status or an error, which coil_retry retries or reports to
 * the done op. Decisions coil_retry cannot make are made here before the
 * attempt is reported: a transport error after the request was sent is
 * final for a non-idempotent method (RFC 9110 §9.2.2), a retry that would
 * start after retry_max_time_ns is not made, and a Retry-After is waited
 * out (less the backoff's lower bound, which coil_retry adds) before the
 * attempt is reported. A result that is retryable but will not be retried
 * is reported as STOP, which no policy lists, and replaced by the real
 * result in the done callback.
 *
 * Deadlines: every request with a deadline is on one list sorted by
 * deadline (insertion scans from the tail: deadlines mostly arrive in
 * order), watched by one ring timer for the whole client, armed for the
 * earliest deadline (idle connections expire in their host's pool). One
 * timer per client
 * instead of one per request keeps the SQE count per request down.
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define STOP COIL__RETRY_STOP

static const int default_retry_on[] = {COIL_HTTP_RETRY_ON};

/* ---- deadlines --------------------------------------------------------------
 */

static void tmr_cb(struct coil_op *op, int res, unsigned flags);
static void maybe_done(struct coil_http_client *c);

static void timer_update(struct coil_http_client *c)
{
	uint64_t next = c->thead ? c->thead->deadline_ns : 0;

	if (!next || c->shutting)
		return;
	if (coil_op_busy(&c->tmr)) {
		/* armed for earlier (it re-checks when it fires) or being
		 * removed to be re-armed */
		if (c->tmr_at <= next || c->tmr_rearm)
			return;
		if (coil_timeout_remove(c->loop, &c->tmr) == 0)
			c->tmr_rearm = 1;
		return;
	}
	c->tmr_at = next;
	coil_op_init(&c->tmr, tmr_cb);
	/* It fails only while coil_loop_drain() cancels everything (the
	 * requests' ops included); the next update tries again. */
	(void)coil_timeout(c->loop, &c->tmr, next, COIL_TIMEOUT_ABS);
}

static void timed_insert(struct coil_http_req *req)
{
	struct coil_http_client *c = req->c;
	struct coil_http_req *p = c->ttail;

	while (p && p->deadline_ns > req->deadline_ns)
		p = p->tprev;
	req->tprev = p;
	req->tnext = p ? p->tnext : c->thead;
	if (req->tnext)
		req->tnext->tprev = req;
	else
		c->ttail = req;
	if (p)
		p->tnext = req;
	else
		c->thead = req;
	req->timed = 1;
	if (c->thead == req)
		timer_update(c);
}

static void timed_remove(struct coil_http_req *req)
{
	struct coil_http_client *c = req->c;

	if (!req->timed)
		return;
	if (req->tprev)
		req->tprev->tnext = req->tnext;
	else
		c->thead = req->tnext;
	if (req->tnext)
		req->tnext->tprev = req->tprev;
	else
		c->ttail = req->tprev;
	req->tnext = req->tprev = NULL;
	req->timed = 0;
}

static void abort_attempt(struct coil_http_req *req, int err);

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_client *c =
		coil_container_of(op, struct coil_http_client, tmr);
	uint64_t now = coil_now(c->loop);

	(void)res;
	(void)flags;
	c->tmr_rearm = 0;
	if (c->shutting) {
		maybe_done(c);
		return;
	}
	while (c->thead && c->thead->deadline_ns <= now) {
		struct coil_http_req *req = c->thead;
		timed_remove(req);
		coil__req_why(req, -ETIMEDOUT, "deadline of %.3f s passed",
			      (double)req->timeout_ns / 1e9);
		abort_attempt(req, -ETIMEDOUT);
	}
	timer_update(c);
}

/* ---- attempts ---------------------------------------------------------------
 */

static void ra_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_req *req =
		coil_container_of(op, struct coil_http_req, ra_timer);

	(void)flags;
	coil_retry_done(&req->retry, res < 0 || req->cancelled
					     ? -ECANCELED
					     : req->final_res);
}

/* The attempt ended with @res; @decided: the head already said to retry
 * (the policy was asked then). */
static void attempt_end(struct coil_http_req *req, int res, int decided)
{
	uint64_t lo, hi;
	int retry;

	timed_remove(req);
	req->state = RQ_BETWEEN;
	if (req->cancelled) {
		coil_retry_done(&req->retry, -ECANCELED);
		return;
	}
	retry = coil__req_retryable(req, res);
	if (retry &&
	    (decided || coil__req_may_retry(req, req->retry_after_ns))) {
		req->final_res = res;
		if (req->retry_after_ns &&
		    coil_retry_delay_bounds(&req->policy, req->retry.attempts,
					    &lo, &hi) == 0 &&
		    req->retry_after_ns > lo) {
			/* coil_retry adds a backoff of at least lo */
			coil_op_init(&req->ra_timer, ra_cb);
			if (coil_timeout(req->c->loop, &req->ra_timer,
					 req->retry_after_ns - lo, 0) == 0)
				return;
		}
		coil_retry_done(&req->retry, res);
		return;
	}
	/* not retried: STOP even when the policy lists @res (a POST's
	 * transport error after sending, RFC 9110 §9.2.2, would otherwise be
	 * retried by coil_retry's own check of the list) */
	req->final_res = res;
	coil_retry_done(&req->retry, STOP);
}

static void conn_ready(struct coil__pool_wait *w, struct cconn *cn, int err);

/* A hop: wait for a connection to the URL's host (fresh, if @fresh). */
static void hop_start(struct coil_http_req *req, int fresh)
{
	struct coil__pool_wait *w = &req->pw;
	int ret;

	w->cb = conn_ready;
	w->fresh = fresh;
	w->deadline_ns = req->deadline_ns;
	w->connect_timeout_ns = req->connect_timeout_ns;
	w->why = req->errbuf;
	w->why_cap = sizeof(req->errbuf);
	req->state = RQ_POOL;
	ret = coil__pool_wait(req->c, &req->url, w);
	if (ret < 0) {
		coil__req_why(req, ret, "wait for a connection");
		attempt_end(req, ret, 0);
	}
}

static int build_request(struct coil_http_req *req);

/* Follow the redirect (@status) to req->next_url, in the same attempt. */
static void follow(struct coil_http_req *req, int status)
{
	struct coil_url *u = req->next_url;
	int ret;

	if (u->https != req->url.https || u->port != req->url.port ||
	    u->host_len != req->url.host_len ||
	    strncasecmp(coil_url_host(u), coil_url_host(&req->url),
			u->host_len))
		req->strip_auth = 1;
	/* RFC 9110 §15.4: 303 means GET (HEAD stays HEAD); 301 and 302
	 * are followed with GET/HEAD here anyway; 307/308 keep the method
	 * and body */
	if (status == 303 && strcmp(req->method, "HEAD"))
		strcpy(req->method, "GET");
	if (status == 301 || status == 302 || status == 303)
		req->send_body = 0;
	memcpy(&req->url, u, sizeof(*u));
	req->redirects++;
	req->c->stats.redirects++;
	ret = build_request(req);
	if (ret < 0) {
		coil__req_why(req, ret, "request to the redirect target");
		attempt_end(req, ret, 0);
		return;
	}
	req->reuse_retried = 0;
	hop_start(req, 0);
}

/* The exchange is over (its connection released or closed): act on how
 * it ended. */
static void hop_end(struct coil_http_req *req, enum coil__xout out, int res)
{
	if (req->x.wrote)
		req->sent = 1;
	req->retry_after_ns = req->x.retry_after_ns;
	switch (out) {
	case XO_REUSE_RETRY:
		req->reuse_retried = 1;
		req->reuse_retries++;
		req->c->stats.reuse_retries++;
		hop_start(req, 1);
		return;
	case XO_REDIRECT:
		follow(req, res);
		return;
	case XO_RETRY:
		attempt_end(req, res, 1);
		return;
	case XO_DONE:
	case XO_FAILED:
		attempt_end(req, res, 0);
		return;
	}
}

/* The pool's answer to the hop's wait: a connection, or why none. */
static void conn_ready(struct coil__pool_wait *w, struct cconn *cn, int err)
{
	struct coil_http_req *req =
		coil_container_of(w, struct coil_http_req, pw);

	if (err < 0) {
		attempt_end(req, err, 0);
		return;
	}
	req->state = RQ_EXCHANGE;
	if (cn->h2)
		coil__exchange_h2_start(req, cn, hop_end);
	else
		coil__exchange_start(req, cn, hop_end);
}

static void abort_attempt(struct coil_http_req *req, int err)
{
	switch (req->state) {
	case RQ_POOL:
		coil__pool_unwait(&req->pw);
		attempt_end(req, err, 0);
		break;
	case RQ_EXCHANGE:
		if (req->x.h2)
			coil__exchange_h2_abort(req, err);
		else
			coil__exchange_abort(req, err);
		break;
	default:
		break;
	}
}

static int attempt_fn(struct coil_retry *r, struct coil_op *op, void *arg)
{
	struct coil_http_req *req = arg;
	struct coil_http_client *c = req->c;

	(void)op;
	if (req->cancelled || c->shutting)
		return -ECANCELED;
	if (r->attempts > 1)
		c->stats.retries++;
	req->errbuf[0] = 0;
	req->sent = 0;
	req->reuse_retried = 0;
	req->retry_after_ns = 0;
	req->deadline_ns = 0;
	if (req->timeout_ns) {
		req->deadline_ns = coil_now_update(c->loop) + req->timeout_ns;
		timed_insert(req);
	}
	hop_start(req, 0);
	return 0;
}

static void unlink_req(struct coil_http_req *req)
{
	struct coil_http_client *c = req->c;

	if (req->aprev)
		req->aprev->anext = req->anext;
	else
		c->reqs = req->anext;
	if (req->anext)
		req->anext->aprev = req->aprev;
	req->anext = req->aprev = NULL;
	c->nreq--;
}

static void retry_done_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_req *req =
		coil_container_of(op, struct coil_http_req, retry_done);
	struct coil_http_client *c = req->c;

	(void)flags;
	if (res == STOP)
		res = req->final_res;
	timed_remove(req);
	req->state = RQ_DONE;
	req->end_ns = coil_now_update(c->loop);
	if (res >= 0) {
		req->errbuf[0] = 0;
	} else if (!req->errbuf[0] || res == -ECANCELED) {
		snprintf(req->errbuf, sizeof(req->errbuf), "%s",
			 res == -ECANCELED ? "cancelled" : coil_strerror(res));
	}
	req->result = res;
	unlink_req(req);
	req->done(req, res);
	maybe_done(c);
}

/* ---- the request bytes ------------------------------------------------------
 */

#define INLINE_BODY_MAX 16384 /* copied after the head, else a 2nd iovec */

static int build_request(struct coil_http_req *req)
{
	struct coil_http_request_spec sp = {0};
	struct coil_http_header *hs;
	const char *ua = req->c->user_agent;
	size_t n = 0, est;
	int accept = 0, ret;
	uint64_t blen = req->send_body ? req->rbody_len : 0;

	hs = malloc((req->nheaders + 1) * sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	est = 128 + strlen(req->method) + req->url.target_len +
	      req->url.auth_len + (ua ? strlen(ua) : 0);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct coil_http_header *h = &req->headers[i];
		if (!h->name || (!h->value && h->value_len)) {
			free(hs);
			return -EINVAL;
		}
		if (coil__header_dropped(req, h))
			continue;
		if (h->name_len == 6 && !strncasecmp(h->name, "accept", 6))
			accept = 1;
		hs[n++] = *h;
		est += h->name_len + h->value_len + 4;
	}
	if (!accept) {
		hs[n].name = "Accept";
		hs[n].name_len = 6;
		hs[n].value = "*/*";
		hs[n].value_len = 3;
		n++;
		est += 16;
	}
	sp.method = req->method;
	sp.target = coil_url_target(&req->url);
	sp.target_len = req->url.target_len;
	sp.host = coil_url_authority(&req->url);
	sp.host_len = req->url.auth_len;
	sp.user_agent = (ua && *ua) ? ua : NULL;
	sp.headers = hs;
	sp.nheaders = n;
	sp.body = req->rbody;
	sp.body_len = blen;
	if (blen > INLINE_BODY_MAX)
		sp.flags |= COIL_HTTP_HEAD_ONLY;
	else
		est += blen;
	for (;;) {
		if (est > req->wcap) {
			char *b = realloc(req->wbuf, est);
			if (!b) {
				ret = -ENOMEM;
				break;
			}
			req->wbuf = b;
			req->wcap = est;
		}
		ret = coil_http_request_write(req->wbuf, req->wcap, &sp);
		if (ret != -ENOSPC)
			break;
		est = req->wcap * 2;
	}
	free(hs);
	if (ret < 0)
		return ret;
	req->wlen = (size_t)ret;
	req->iov[0].iov_base = req->wbuf;
	req->iov[0].iov_len = req->wlen;
	req->niov = 1;
	if (sp.flags & COIL_HTTP_HEAD_ONLY) {
		req->iov[1].iov_base = (void *)req->rbody;
		req->iov[1].iov_len = (size_t)blen;
		req->niov = 2;
	}
	return 0;
}

/* ---- the client
 * ---------------------------------------------------------------
 */

int coil_http_client_new(struct coil_http_client **out, struct coil_loop *loop,
			 const struct coil_http_client_opts *opts)
{
	struct coil_http_client_opts o = {0};
	struct coil_http_client *c;

	if (!out || !loop)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (!o.max_conns)
		o.max_conns = 100;
	if (!o.max_conns_per_host)
		o.max_conns_per_host = o.max_conns < 6 ? o.max_conns : 6;
	if (!o.max_idle_per_host)
		o.max_idle_per_host = o.max_conns_per_host;
	if (!o.idle_timeout_ns)
		o.idle_timeout_ns = 30000000000ull;
	if (o.max_idle_per_host > o.max_conns_per_host ||
	    o.max_conns_per_host > o.max_conns ||
	    o.http_version > COIL_HTTP_VERSION_2_PRIOR)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->user_agent = strdup(o.user_agent ? o.user_agent : "coil/0.1");
	if (!c->user_agent) {
		free(c);
		return -ENOMEM;
	}
	o.user_agent = NULL;
	c->loop = loop;
	c->o = o;
	c->resolver = o.resolver;
	c->tls = o.tls;
	c->http_version =
		o.http_version ? o.http_version : COIL_HTTP_VERSION_1_1;
	coil_op_init(&c->tmr, tmr_cb);
	c->on_conn_gone = maybe_done;
	*out = c;
	return 0;
}

static void maybe_done(struct coil_http_client *c)
{
	if (!c->shutting || c->shut_posted || c->nreq || c->conns ||
	    c->pools_open || coil_op_busy(&c->tmr))
		return;
	c->shut_posted = 1;
	if (c->own_resolver) {
		/* lookups still on the pool come back to the loop, which
		 * frees them; the pool stops taking new ones */
		coil_resolver_free(c->resolver);
		c->resolver = NULL;
		c->own_resolver = 0;
		coil_pool_shutdown(c->own_pool, COIL_POOL_DISCARD);
	}
	if (c->shut_op)
		coil_loop_post(c->loop, c->shut_op, 0);
}

int coil_http_client_shutdown(struct coil_http_client *c, struct coil_op *done)
{
	struct coil_http_req *req, *next;

	if (!c)
		return -EINVAL;
	if (c->shutting)
		return -EALREADY;
	if (done && coil_op_busy(done))
		return -EBUSY;
	c->shutting = 1;
	c->shut_op = done;
	for (req = c->reqs; req; req = next) {
		next = req->anext;
		coil_http_req_cancel(req);
	}
	coil__pool_shutdown(c);
	if (coil_op_busy(&c->tmr) && !c->tmr_rearm)
		coil_timeout_remove(c->loop, &c->tmr);
	maybe_done(c);
	return 0;
}

int coil_http_client_free(struct coil_http_client *c)
{
	if (!c)
		return 0;
	/* (a pool that had connections may have its expiry timer armed
	 * until its close completes) */
	if (c->nreq || c->conns || coil_op_busy(&c->tmr) ||
	    (c->pools_open && c->stats.conns_opened))
		return -EBUSY;
	if (c->own_resolver)
		coil_resolver_free(c->resolver);
	coil_pool_free(c->own_pool);
	coil__pool_free(c);
	free(c->user_agent);
	free(c);
	return 0;
}

void coil_http_client_stats(const struct coil_http_client *c,
			    struct coil_http_client_stats *st)
{
	if (!st)
		return;
	if (!c) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = c->stats;
	coil__pool_stats(c, st);
}

/* ---- requests
 * ----------------------------------------------------------------
 */

static int method_ok(const char *m)
{
	size_t n = strlen(m);
	if (!n || n >= sizeof(((struct coil_http_req *)0)->method))
		return 0;
	return 1; /* the writer checks that it is a token */
}

static int idempotent(const char *m)
{
	static const char *const list[] = {"GET",    "HEAD",	"PUT",
					   "DELETE", "OPTIONS", "TRACE"};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		if (!strcmp(m, list[i]))
			return 1;
	}
	return 0;
}

int coil_http_request(struct coil_http_client *c,
		      const struct coil_http_req_opts *o,
		      struct coil_http_req **out)
{
	const char *method;
	struct coil_http_req *req;
	uint64_t lo, hi;
	size_t ulen;
	int ret;

	if (!c || !o || !out || !o->done || !o->url ||
	    (!o->headers && o->nheaders) || (!o->body && o->body_len))
		return -EINVAL;
	if (c->shutting)
		return -ESHUTDOWN;
	method = o->method ? o->method : "GET";
	if (!method_ok(method))
		return -EINVAL;
	/* about 12 KiB, most of it the URL and the field array, which are
	 * filled before they are read: zero only the rest */
	req = malloc(sizeof(*req));
	if (!req)
		return -ENOMEM;
	memset(req, 0, offsetof(struct coil_http_req, url));
	ulen = o->url_len ? o->url_len : strlen(o->url);
	ret = coil_url_parse(&req->url, o->url, ulen);
	if (ret < 0) {
		free(req);
		return ret;
	}
	req->c = c;
	req->data = o->data;
	req->on_head = o->on_head;
	req->on_body = o->on_body;
	req->done = o->done;
	strcpy(req->method, method);
	req->idempotent = idempotent(method);
	req->head = !strcmp(method, "HEAD");
	req->headers = o->headers;
	req->nheaders = o->nheaders;
	req->rbody = o->body;
	req->rbody_len = o->body_len;
	req->send_body = 1;
	req->connect_timeout_ns = o->connect_timeout_ns;
	req->timeout_ns = o->timeout_ns;
	req->max_body = o->max_body_bytes ? o->max_body_bytes
			: o->on_body	  ? UINT64_MAX
					  : CLIENT_BUFFERED_MAX;
	req->max_head = o->max_head_bytes ? o->max_head_bytes
					  : COIL_HTTP_MAX_HEAD_DEFAULT;
	req->max_redirects = o->max_redirects;
	req->retry_max_time_ns = o->retry_max_time_ns;
	req->w.data = req;

	if (o->retry) {
		req->policy = *o->retry;
		if (req->policy.retry_on) {
			size_t n = req->policy.retry_on_len;
			ret = n ? 0 : -EINVAL;
			req->retry_on = ret ? NULL : malloc(n * sizeof(int));
			if (!ret && !req->retry_on)
				ret = -ENOMEM;
			for (size_t i = 0; !ret && i < n; i++) {
				if (req->policy.retry_on[i] == STOP)
					ret = -EINVAL;
				else
					req->retry_on[i] =
						req->policy.retry_on[i];
			}
			req->policy.retry_on = req->retry_on;
		}
	} else {
		req->policy.max_attempts = 1;
	}
	if (!req->policy.retry_on) {
		req->policy.retry_on = default_retry_on;
		req->policy.retry_on_len =
			sizeof(default_retry_on) / sizeof(default_retry_on[0]);
	}
	/* the defaults coil_retry fills in, so that the checks here agree */
	if (!ret && coil_retry_delay_bounds(&req->policy, 1, &lo, &hi) < 0)
		ret = -EINVAL;
	if (!req->policy.max_attempts)
		req->policy.max_attempts = 3;
	if (!req->policy.cap_ns)
		req->policy.cap_ns = 30000000000ull;
	if (!ret)
		ret = build_request(req);
	if (ret < 0) {
		coil_http_req_free(req);
		return ret;
	}

	req->anext = c->reqs;
	if (c->reqs)
		c->reqs->aprev = req;
	c->reqs = req;
	c->nreq++;
	c->stats.requests++;
	req->start_ns = coil_now_update(c->loop);
	coil_op_init(&req->retry_done, retry_done_cb);
	ret = coil_retry_start(&req->retry, c->loop, &req->policy, attempt_fn,
			       req, &req->retry_done);
	if (ret < 0) {
		unlink_req(req);
		c->stats.requests--;
		coil_http_req_free(req);
		return ret;
	}
	*out = req;
	return 0;
}

int coil_http_req_cancel(struct coil_http_req *req)
{
	if (!req)
		return -EINVAL;
	if (req->state == RQ_DONE || req->cancelled)
		return -EALREADY;
	req->cancelled = 1;
	snprintf(req->errbuf, sizeof(req->errbuf), "cancelled");
	switch (req->state) {
	case RQ_POOL:
	case RQ_EXCHANGE:
		timed_remove(req);
		abort_attempt(req, -ECANCELED);
		break;
	case RQ_BETWEEN:
		if (coil_op_busy(&req->ra_timer))
			coil_timeout_remove(req->c->loop, &req->ra_timer);
		else
			coil_retry_cancel(&req->retry);
		break;
	default:
		break;
	}
	return 0;
}

int coil_http_req_pause(struct coil_http_req *req)
{
	if (!req)
		return -EINVAL;
	if (req->state != RQ_EXCHANGE)
		return -EINVAL;
	return req->x.h2 ? coil__exchange_h2_pause(req, 1)
			 : coil__exchange_pause(req, 1);
}

int coil_http_req_resume(struct coil_http_req *req)
{
	if (!req)
		return -EINVAL;
	if (req->state != RQ_EXCHANGE)
		return 0;
	if (req->x.h2)
		coil__exchange_h2_pause(req, 0);
	else
		coil__exchange_pause(req, 0);
	return 0;
}

void coil_http_req_free(struct coil_http_req *req)
{
	if (!req)
		return;
	free(req->wbuf);
	free(req->hbuf);
	free(req->bbuf);
	free(req->scratch);
	free(req->next_url);
	free(req->retry_on);
	free(req);
}

int coil_http_req_status(const struct coil_http_req *req)
{
	return req && req->x.have_head ? req->x.status : 0;
}

const char *coil_http_req_header(const struct coil_http_req *req,
				 const char *name, size_t *len)
{
	const struct coil_http_header *h;

	if (!req || !name || !req->x.have_head)
		return NULL;
	h = coil_http_header_find(&req->x.msg, name, NULL);
	if (!h)
		return NULL;
	if (len)
		*len = h->value_len;
	return h->value;
}

const struct coil_http_msg *coil_http_req_msg(const struct coil_http_req *req)
{
	return req && req->x.have_head ? &req->x.msg : NULL;
}

const void *coil_http_req_body(const struct coil_http_req *req, size_t *len)
{
	if (len)
		*len = 0;
	if (!req || !req->x.have_head || req->on_body)
		return NULL;
	if (len)
		*len = req->x.blen;
	return req->bbuf ? req->bbuf : "";
}

const struct coil_url *coil_http_req_url(const struct coil_http_req *req)
{
	return req ? &req->url : NULL;
}

void *coil_http_req_data(const struct coil_http_req *req)
{
	return req ? req->data : NULL;
}

void coil_http_req_info(const struct coil_http_req *req,
			struct coil_http_req_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	if (!req)
		return;
	info->status = coil_http_req_status(req);
	info->attempts = req->retry.attempts;
	info->redirects = req->redirects;
	info->reuse_retries = req->reuse_retries;
	info->reused = req->x.reused;
	if (req->x.have_head)
		info->http_version = req->x.h2			? 20
				     : req->x.msg.minor_version ? 11
								: 10;
	info->body_bytes = req->x.have_head ? req->x.body.received : 0;
	info->time_ns =
		(req->state == RQ_DONE ? req->end_ns : coil_now(req->c->loop)) -
		req->start_ns;
}

const char *coil_http_req_strerror(const struct coil_http_req *req)
{
	if (!req)
		return "";
	return req->errbuf;
}
