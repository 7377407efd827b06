/*
 * http/client_conn.c - the client's connections, one at a time: opening
 * (resolve, connect, TLS with the client's session cache, the ALPN
 * check), reading while pooled, closing, under the client's global limit;
 * and the hooks each host's coil_connpool calls (open, close). Below
 * http/client_pool.c (hosts and their waiters), which it never calls: it
 * reports to the pool through engine/connpool.c (coil_connpool_opened(),
 * _closed(), _lost()) and to client.c through c->on_conn_gone.
 *
 * The global limit lives in the open hook: a connection holds one of
 * o.max_conns permits (counted in stats.conns) from the moment it is
 * decided until its close callback, so the server never sees more, not
 * even while one closes. A pool that must open but finds no permit
 * leaves the open pending (it still counts as opening for the pool): its
 * host joins the client's queue of hosts waiting for a permit, and the
 * oldest idle connection of any host is closed to make room (httpx's
 * pool does the same). A permit coming back starts the oldest pending
 * open.
 *
 * Pooled connections keep reading: a close, a reset or stray bytes from
 * the server while idle close them at once (coil_connpool_lost()), so a
 * reused connection has at least not been seen dead.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* ---- the global limit ---------------------------------------------------- */

static void gwait_add(struct host *h)
{
	struct coil_http_client *c = h->c;

	if (h->in_gwait)
		return;
	h->in_gwait = 1;
	h->gnext = NULL;
	if (c->gwait_tail)
		c->gwait_tail->gnext = h;
	else
		c->gwait_head = h;
	c->gwait_tail = h;
}

static struct host *gwait_pop(struct coil_http_client *c)
{
	struct host *h = c->gwait_head;

	c->gwait_head = h->gnext;
	if (!c->gwait_head)
		c->gwait_tail = NULL;
	h->gnext = NULL;
	h->in_gwait = 0;
	return h;
}

/* The host whose oldest idle connection is the oldest of the client. */
static struct host *oldest_idle_host(struct coil_http_client *c)
{
	struct host *best = NULL;
	uint64_t best_at = 0;

	for (struct host *h = c->hosts; h; h = h->next) {
		struct coil_connpool_stats st;
		coil_connpool_stats(h->pool, &st);
		if (st.idle && (!best || st.idle_since < best_at)) {
			best = h;
			best_at = st.idle_since;
		}
	}
	return best;
}

/* Close idle connections (oldest first) until every pending open has
 * one closing for it. */
void coil__conn_evict_idle(struct coil_http_client *c)
{
	while (c->evicting < c->gpending) {
		struct host *h = oldest_idle_host(c);
		if (!h)
			return;
		c->in_evict = 1; /* (the close hook counts it) */
		coil_connpool_close_idle(h->pool, 1);
		c->in_evict = 0;
	}
}

static int conn_new(struct host *h, const struct coil__pool_wait *w);

/* Start the pending opens that permits allow, oldest host first. */
static void global_dispatch(struct coil_http_client *c)
{
	while (c->gwait_head && c->stats.conns < c->o.max_conns) {
		struct host *h = c->gwait_head;
		struct coil_connpool_stats st;
		int ret = -ECANCELED;

		h->gpending--;
		c->gpending--;
		if (!h->gpending)
			gwait_pop(c);
		/* nobody waits any more: the open is not needed */
		coil_connpool_stats(h->pool, &st);
		if (st.waiting)
			ret = conn_new(h, NULL);
		if (ret < 0)
			coil_connpool_opened(h->pool, NULL, ret);
	}
}

/* ---- connections ----------------------------------------------------------
 */

/* The connection is over: its permit back, the pool told, memory freed,
 * pending opens started. */
static void conn_gone(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct host *h = cn->h;

	*cn->apprev = cn->anext;
	if (cn->anext)
		cn->anext->apprev = cn->apprev;
	if (cn->evicted)
		c->evicting--;
	h->nconn--;
	c->stats.conns--;
	if (cn->in_pool)
		coil_connpool_closed(h->pool, &cn->pc);
	else
		coil_connpool_opened(h->pool, NULL,
				     cn->err < 0 ? cn->err : -ECANCELED);
	free(cn);
	global_dispatch(c);
	c->on_conn_gone(c);
}

static void conn_closed(struct coil_stream *s)
{
	struct cconn *cn = s->data;

	cn->stream_open = 0;
	conn_gone(cn);
}

/* Opening failed (@err), h->why says why: counted, and the pool told. */
static void open_failed(struct cconn *cn, int err)
{
	cn->h->fail_seq++;
	cn->c->stats.connect_errors++;
	cn->err = err;
	conn_gone(cn);
}

/* Opening failed (@err): the host keeps the words for the waiter the
 * pool gives the error to. @detail: what went wrong in words, or NULL
 * for coil_strerror(@err). */
static void conn_fail(struct cconn *cn, int err, const char *what,
		      const char *detail)
{
	struct host *h = cn->h;

	if (detail)
		coil__why(h->why, sizeof(h->why), 0, "%s %s port %u: %s", what,
			  h->name, (unsigned)h->port, detail);
	else
		coil__why(h->why, sizeof(h->why), err, "%s %s port %u", what,
			  h->name, (unsigned)h->port);
	open_failed(cn, err);
}

/* Stop opening @cn (a shutdown): its callback comes with -ECANCELED (or
 * its result) and reports to the pool. */
static void conn_abort(struct cconn *cn)
{
	enum conn_state prev = cn->state;

	if (prev == C_ACTIVE) {
		coil__conn_close(cn);
		return;
	}
	if (prev != C_RESOLVING && prev != C_CONNECTING)
		return;
	cn->state = C_CLOSING;
	if (prev == C_RESOLVING)
		coil_cancel(cn->c->loop, &cn->rr.op);
	else if (cn->stream_open)
		coil_stream_close(cn->s, conn_closed);
}

static void conn_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct cconn *cn = s->data;

	if (cn->state == C_ACTIVE && cn->on_read) {
		cn->on_read(cn, n, buf);
		return;
	}
	if (cn->state != C_POOLED || cn->dead)
		return;
	/* pooled: the server closed, reset, or sent what nobody asked for.
	 * An idle one the pool closes now; one on its way to a waiter is
	 * discarded when it arrives (acquired()). */
	cn->dead = 1;
	coil_connpool_lost(cn->h->pool, &cn->pc);
}

/* Will @cn carry the host's HTTP/2 session (its TLS chose h2, or prior
 * knowledge)? */
static int will_h2(const struct cconn *cn)
{
	const struct host *h = cn->h;

	if (!h->h2_ok || h->h1_only)
		return 0;
	return !h->https || !strcmp(coil_tls_info(&cn->tls)->alpn, "h2");
}

static void conn_connected(struct coil_stream *s, int status)
{
	struct cconn *cn = s->data;
	struct coil_http_client *c = cn->c;

	if (cn->state == C_CLOSING)
		return; /* -ECANCELED by our close: its callback follows */
	if (status < 0) {
		cn->stream_open = 0;
		if (cn->h->https && status == COIL_ETLS) {
			char why[256];
			const char *e = coil_tls_error(&cn->tls.s);
			snprintf(why, sizeof(why), "%s",
				 e && *e ? e : coil_strerror(status));
			conn_fail(cn, status, "TLS handshake with", why);
			return;
		}
		conn_fail(cn, status, "connect to", NULL);
		return;
	}
	if (cn->h->https && !cn->h->h2_ok &&
	    !strcmp(coil_tls_info(&cn->tls)->alpn, "h2")) {
		/* a caller's configuration offered h2 to a client not asked
		 * to speak it */
		cn->stream_open = 1;
		coil__why(cn->h->why, sizeof(cn->h->why), 0,
			  "TLS handshake with %s port %u: the server chose h2 "
			  "(ALPN), HTTP/2 not asked for",
			  cn->h->name, (unsigned)cn->h->port);
		cn->h->fail_seq++;
		c->stats.connect_errors++;
		cn->err = COIL_ETLS;
		cn->state = C_CLOSING;
		coil_stream_close(cn->s, conn_closed);
		return;
	}
	c->stats.conns_opened++;
	if (cn->h->https) {
		c->stats.tls_handshakes++;
		if (coil_tls_info(&cn->tls)->resumed)
			c->stats.tls_resumed++;
	}
	/* A connection for an HTTP/2 session does not read until the session
	 * starts (coil_h2_client()): a TLS server sends its SETTINGS at
	 * once, which must not read as a pooled connection's stray bytes. */
	if (!will_h2(cn) && coil_stream_read_start(cn->s, conn_read) < 0) {
		coil__why(cn->h->why, sizeof(cn->h->why), -ENOMEM,
			  "read from %s", cn->h->name);
		cn->h->fail_seq++;
		c->stats.connect_errors++;
		cn->err = -ENOMEM;
		cn->state = C_CLOSING;
		coil_stream_close(cn->s, conn_closed); /* → conn_gone() */
		return;
	}
	cn->state = C_POOLED;
	cn->in_pool = 1;
	coil_connpool_opened(cn->h->pool, &cn->pc, 0);
}

/* Start the connect; 0, or -errno (the stream could not start). */
static int conn_connect(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct coil_tcp_opts to = {0};
	uint64_t prev, deadline = cn->deadline_ns;
	int ret;

	cn->state = C_CONNECTING;
	to.connect_timeout_ns = cn->connect_timeout_ns;
	if (deadline) {
		uint64_t now = coil_now_update(c->loop);
		uint64_t left = deadline > now ? deadline - now : 1;
		if (!to.connect_timeout_ns || left < to.connect_timeout_ns)
			to.connect_timeout_ns = left;
	}
	cn->tcp.s.data = cn;
	cn->s = &cn->tcp.s;
	/* the deadline scope gives the connect op the time left */
	prev = coil_deadline_enter(c->loop, deadline);
	if (cn->h->https) {
		/* curl's --connect-timeout covers the handshake too */
		struct coil_tls_opts tlo = {
			.host = cn->h->name,
			.cache = c->tls_cache,
			.handshake_timeout_ns = to.connect_timeout_ns,
		};
		cn->tls.s.data = cn;
		cn->s = &cn->tls.s;
		ret = coil_tls_connect(c->loop, &cn->tls, &cn->tcp, cn->addrs,
				       cn->naddrs, &to, c->tls, &tlo,
				       conn_connected);
	} else {
		ret = coil_tcp_connect(c->loop, &cn->tcp, cn->addrs, cn->naddrs,
				       &to, conn_connected);
	}
	coil_deadline_leave(c->loop, prev);
	if (ret == 0)
		cn->stream_open = 1;
	return ret;
}

static void conn_resolved(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *cn = coil_container_of(op, struct cconn, rr.op);
	int ret;

	(void)flags;
	if (cn->state == C_CLOSING) {
		conn_gone(cn);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			res = COIL_ERESOLVE;
		coil__why(cn->h->why, sizeof(cn->h->why), 0,
			  "cannot resolve %s: %s", cn->h->name,
			  coil_resolve_strerror(&cn->rr, res));
		open_failed(cn, res);
		return;
	}
	cn->naddrs = cn->rr.naddr;
	for (unsigned i = 0; i < cn->naddrs; i++) {
		memset(&cn->addrs[i], 0, sizeof(cn->addrs[i]));
		memcpy(&cn->addrs[i], &cn->rr.addr[i],
		       coil_sockaddr_len(&cn->rr.addr[i]));
	}
	ret = conn_connect(cn);
	if (ret < 0)
		conn_fail(cn, ret, "socket for", NULL);
}

static int ensure_resolver(struct coil_http_client *c)
{
	struct coil_pool_opts po = {.threads = 2};
	int ret;

	if (c->resolver)
		return 0;
	ret = coil_pool_new(&c->own_pool, &po);
	if (ret < 0)
		return ret;
	ret = coil_resolver_new(&c->resolver, c->loop, c->own_pool, NULL);
	if (ret < 0) {
		coil_pool_free(c->own_pool);
		c->own_pool = NULL;
		return ret;
	}
	c->own_resolver = 1;
	return 0;
}

/* The TLS configuration and session cache, made on first use; 0, or
 * COIL_ETLS / -errno with c->tls_err saying why. */
static int client_tls(struct coil_http_client *c)
{
	int ret;

	if (c->tls_fail)
		return c->tls_fail;
	if (!c->tls) {
		/* ALPN offers h2 when HTTP/2 is asked for (RFC 9113 §3.2) */
		struct coil_tls_config_opts co = {0};
		if (c->http_version >= COIL_HTTP_VERSION_2)
			co.alpn = coil_h2_alpn;
		ret = coil_tls_config_new(&c->own_tls, &co, c->tls_err,
					  sizeof(c->tls_err));
		if (ret < 0) {
			c->tls_fail = ret == -ENOMEM ? ret : COIL_ETLS;
			return c->tls_fail;
		}
		c->tls = c->own_tls;
	}
	if (!c->tls_cache) {
		ret = coil_tls_cache_new(&c->tls_cache, 1024);
		if (ret < 0) {
			snprintf(c->tls_err, sizeof(c->tls_err), "%s",
				 coil_strerror(ret));
			return ret;
		}
	}
	return 0;
}

/* The address of an IP literal host into cn->addrs[0]. */
static void literal_addr(struct cconn *cn)
{
	struct host *h = cn->h;

	if (h->kind == COIL_URL_HOST_IPV4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&cn->addrs[0];
		a->sin_family = AF_INET;
		a->sin_port = htons(h->port);
		inet_pton(AF_INET, h->name, &a->sin_addr);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&cn->addrs[0];
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(h->port);
		inet_pton(AF_INET6, h->name, &a->sin6_addr);
	}
	cn->naddrs = 1;
}

/* Resolve or connect: 0, or -errno with h->why set (nothing started). */
static int conn_start(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct host *h = cn->h;
	int ret;

	if (h->https) {
		ret = client_tls(c);
		if (ret < 0) {
			coil__why(h->why, sizeof(h->why), 0,
				  "TLS configuration: %s", c->tls_err);
			return ret;
		}
	}
	if (h->kind == COIL_URL_HOST_IPV4 || h->kind == COIL_URL_HOST_IPV6) {
		literal_addr(cn);
		ret = conn_connect(cn);
		if (ret < 0)
			coil__why(h->why, sizeof(h->why), ret,
				  "socket for %s port %u", h->name,
				  (unsigned)h->port);
		return ret;
	}
	cn->state = C_RESOLVING;
	ret = ensure_resolver(c);
	if (ret == 0) {
		coil_op_init(&cn->rr.op, conn_resolved);
		ret = coil_resolve(c->resolver, &cn->rr, h->name, h->port);
	}
	if (ret < 0)
		coil__why(h->why, sizeof(h->why), ret, "resolve %s", h->name);
	return ret;
}

/* Open a connection to @h under a global permit (counted here), with the
 * connect limits of @w, or the host's last waiter's. Return: 0 (it
 * reports to the pool when open or failed); -errno with h->why set
 * (nothing to report). */
static int conn_new(struct host *h, const struct coil__pool_wait *w)
{
	struct coil_http_client *c = h->c;
	struct cconn *cn = calloc(1, sizeof(*cn));
	int ret;

	if (!cn) {
		coil__why(h->why, sizeof(h->why), -ENOMEM, "new connection");
		ret = -ENOMEM;
		goto fail;
	}
	cn->c = c;
	cn->h = h;
	cn->pc.data = cn;
	cn->deadline_ns = w ? w->deadline_ns : 0;
	cn->connect_timeout_ns =
		w ? w->connect_timeout_ns : h->connect_timeout_ns;
	ret = conn_start(cn);
	if (ret < 0) {
		free(cn);
		goto fail;
	}
	/* (linked by the address of the link to it: unlinking needs no
	 * head) */
	cn->anext = c->conns;
	cn->apprev = &c->conns;
	if (c->conns)
		c->conns->apprev = &cn->anext;
	c->conns = cn;
	h->nconn++;
	c->stats.conns++;
	if (c->stats.conns > c->stats.peak_conns)
		c->stats.peak_conns = c->stats.conns;
	if (h->nconn > c->stats.peak_conns_per_host)
		c->stats.peak_conns_per_host = h->nconn;
	return 0;
fail:
	h->fail_seq++;
	c->stats.connect_errors++;
	return ret;
}

/* ---- the pool's hooks -----------------------------------------------------
 */

static int pool_open(struct coil_connpool *p)
{
	struct host *h = coil_connpool_arg(p);
	struct coil_http_client *c = h->c;

	if (c->stats.conns < c->o.max_conns)
		return conn_new(h, h->acquiring);
	/* no global permit: pending until one comes back */
	h->gpending++;
	c->gpending++;
	gwait_add(h);
	coil__conn_evict_idle(c);
	return 0;
}

/* The session of a connection closed by the pool is gone, and with it
 * the stream it owned. */
static void h2_closed(void *data)
{
	struct cconn *cn = data;

	cn->h2 = NULL;
	cn->stream_open = 0;
	conn_gone(cn);
}

static void pool_close(struct coil_connpool *p, struct coil_pconn *pc)
{
	struct cconn *cn = pc->data;
	struct coil_http_client *c = cn->c;

	(void)p;
	if (c->in_evict) {
		cn->evicted = 1;
		c->evicting++;
	}
	cn->state = C_CLOSING;
	if (cn->h2) {
		/* the session owns the stream: it closes it */
		if (cn->h->h2c == cn)
			cn->h->h2c = NULL;
		coil_h2_close(cn->h2, h2_closed);
		return;
	}
	coil_stream_close(cn->s, conn_closed);
}

const struct coil_connpool_ops coil__conn_hooks = {
	.open = pool_open,
	.close = pool_close,
};

/* ---- connections in use -----------------------------------------------------
 */

void coil__conn_close(struct cconn *cn)
{
	if (cn->state != C_ACTIVE)
		return;
	coil_connpool_discard(cn->h->pool, &cn->pc);
}

void coil__conn_pause(struct cconn *cn, int pause)
{
	if (cn->h2 || cn->state != C_ACTIVE || pause == cn->paused)
		return;
	cn->paused = pause;
	if (pause)
		coil_stream_read_stop(cn->s);
	else if (coil_stream_read_start(cn->s, conn_read) < 0)
		coil__conn_close(cn);
}

/* ---- shutdown ---------------------------------------------------------------
 */

void coil__conn_cancel_pending(struct coil_http_client *c)
{
	while (c->gwait_head) {
		struct host *h = gwait_pop(c);
		for (; h->gpending; h->gpending--, c->gpending--)
			coil_connpool_opened(h->pool, NULL, -ECANCELED);
	}
}

void coil__conn_abort_all(struct coil_http_client *c)
{
	struct cconn *cn, *next;

	for (cn = c->conns; cn; cn = next) {
		next = cn->anext;
		conn_abort(cn);
	}
}
