/*
 * http/client_pool.c - the client's connections: hosts (one per
 * scheme+host+port), each a coil_connpool (engine/connpool.c: the
 * per-host limit, waiters in FIFO order, keep-alive reuse most recently
 * used first, max idle, idle expiry, fresh connections after a stale
 * reuse), the client's global limit, and opening connections (resolve,
 * connect, TLS with the client's session cache) for the pools' open hook.
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
 *
 * HTTP/2 hosts (the section of that name) share one connection among
 * their requests: see there.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "client_internal.h"

/* ---- hosts ------------------------------------------------------------ */

static uint32_t host_hash(int https, uint16_t port, const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ (uint32_t)port) * 16777619u;
	return (h ^ (uint32_t)https) * 16777619u;
}

static int host_grow(struct coil_http_client *c)
{
	unsigned cap = c->tab_cap ? c->tab_cap * 2 : 64;
	struct host **tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (unsigned i = 0; i < c->tab_cap; i++) {
		struct host *h = c->tab[i], *next;
		for (; h; h = next) {
			next = h->hnext;
			h->hnext = tab[h->hash & (cap - 1)];
			tab[h->hash & (cap - 1)] = h;
		}
	}
	free(c->tab);
	c->tab = tab;
	c->tab_cap = cap;
	return 0;
}

static const struct coil_connpool_ops pool_ops;

static struct host *host_get(struct coil_http_client *c,
			     const struct coil_url *u)
{
	struct coil_connpool_opts po = {
		.max_size = c->o.max_conns_per_host,
		.max_idle = c->o.max_idle_per_host,
		.idle_timeout_ns = c->o.idle_timeout_ns,
	};
	char name[sizeof(((struct host *)0)->name)];
	const char *src = coil_url_host(u);
	struct host *h;
	uint32_t hash;
	size_t n;

	if (u->host_len >= sizeof(name))
		return NULL;
	/* host names are case-insensitive (RFC 3986 §3.2.2) */
	for (n = 0; n < u->host_len; n++)
		name[n] = ch_lower(src[n]);
	name[n] = 0;
	hash = host_hash(u->https, u->port, name);
	if (c->tab_cap) {
		for (h = c->tab[hash & (c->tab_cap - 1)]; h; h = h->hnext) {
			if (h->hash == hash && h->https == u->https &&
			    h->port == u->port && !strcmp(h->name, name))
				return h;
		}
	}
	if ((c->nhosts + 1) * 4 > c->tab_cap * 3 && host_grow(c) < 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->c = c;
	h->hash = hash;
	h->https = u->https;
	h->port = u->port;
	h->kind = u->host_kind;
	h->h2_ok = c->http_version == COIL_HTTP_VERSION_2_PRIOR ||
		   (u->https && c->http_version == COIL_HTTP_VERSION_2);
	memcpy(h->name, name, n + 1);
	if (coil_connpool_new(&h->pool, c->loop, &pool_ops, h, &po) < 0) {
		free(h);
		return NULL;
	}
	h->hnext = c->tab[hash & (c->tab_cap - 1)];
	c->tab[hash & (c->tab_cap - 1)] = h;
	h->next = c->hosts;
	c->hosts = h;
	c->nhosts++;
	c->pools_open++;
	return h;
}

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
static void evict_for_global(struct coil_http_client *c)
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
	evict_for_global(c);
	return 0;
}

static void h2_closed(void *data);

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

static const struct coil_connpool_ops pool_ops = {
	.open = pool_open,
	.close = pool_close,
};

/* ---- waiters --------------------------------------------------------------
 */

/* Give @cn to the waiter @w. */
static void hand_over(struct coil__pool_wait *w, struct cconn *cn)
{
	cn->state = C_ACTIVE;
	cn->nreq++;
	w->cb(w, cn, 0);
}

static int pool_acquire(struct host *h, struct coil__pool_wait *w);

/* The answer to @w's acquire. */
static void acquired(struct coil_op *op, int res, unsigned flags)
{
	struct coil__pool_wait *w =
		coil_container_of(op, struct coil__pool_wait, op);
	struct host *h = w->host;
	struct cconn *cn = res == 0 ? w->slot->data : NULL;
	int ret;

	(void)flags;
	w->host = NULL;
	h->c->stats.waiting--;
	if (cn)
		cn->state = C_ACTIVE; /* ours now, whatever follows */
	if (cn && (cn->dead || w->dropped)) {
		/* withdrawn: given back; closed by the server on its way
		 * here: dropped, and the waiter waits for another */
		if (!cn->dead)
			coil__conn_release(cn);
		else
			coil__conn_close(cn);
		if (w->dropped)
			return;
		ret = pool_acquire(h, w);
		if (ret == 0)
			return;
		res = ret;
		cn = NULL;
	}
	if (w->dropped)
		return;
	if (!cn) {
		if (h->fail_seq != w->fail_seq)
			coil__why(w->why, w->why_cap, 0, "%s", h->why);
		else
			coil__why(w->why, w->why_cap, res,
				  "wait for a connection to %s port %u",
				  h->name, (unsigned)h->port);
		w->cb(w, NULL, res);
		return;
	}
	hand_over(w, cn);
}

static int pool_acquire(struct host *h, struct coil__pool_wait *w)
{
	int ret;

	w->host = h;
	w->slot = NULL;
	w->dropped = 0;
	w->fail_seq = h->fail_seq;
	coil_op_init(&w->op, acquired);
	h->acquiring = w; /* (an open it starts has its limits) */
	ret = w->fresh ? coil_connpool_acquire_fresh(h->pool, &w->op, &w->slot)
		       : coil_connpool_acquire(h->pool, &w->op, &w->slot);
	h->acquiring = NULL;
	if (ret < 0) {
		w->host = NULL;
		return ret;
	}
	h->c->stats.waiting++;
	return 0;
}

/* ---- HTTP/2 hosts -----------------------------------------------------------
 *
 * A host that may speak HTTP/2 (ALPN "h2" offered over TLS, or h2c by
 * prior knowledge) queues its waiters here (FIFO), not in its
 * coil_connpool. The host acquires one connection from its pool for
 * itself (h2w: the pool's limits and the global one apply as to any
 * open), and once it is open:
 *  - the server chose HTTP/1.1 (ALPN): the host speaks HTTP/1.1 from then
 *    on (h1_only), the connection goes back to the pool and the queue
 *    moves, in order, to the pool's acquire;
 *  - h2: a coil_h2 session starts on it and, once the server's SETTINGS
 *    came (so its MAX_CONCURRENT_STREAMS is known, RFC 9113 §6.5.2), the
 *    waiters in turn get the connection while fewer than
 *    min(max_conns_per_host, coil_h2_room()) streams are out.
 * An exchange gives its stream slot back with coil__conn_release(). A
 * session without streams goes back to the pool as an idle connection,
 * so idle expiry, max idle, the global limit's eviction and shutdown
 * treat it as any other, and the next waiter takes it back. After a
 * GOAWAY or the session's end the host retires it (its streams finish,
 * then it closes) and opens another for those still waiting; a session
 * that ends before its SETTINGS fails the waiters as a failed connect.
 */

static void h2q_push(struct host *h, struct coil__pool_wait *w)
{
	w->h2next = NULL;
	w->h2queued = 1;
	if (h->h2q_tail)
		h->h2q_tail->h2next = w;
	else
		h->h2q_head = w;
	h->h2q_tail = w;
	h->c->stats.waiting++;
}

static struct coil__pool_wait *h2q_pop(struct host *h)
{
	struct coil__pool_wait *w = h->h2q_head;

	if (!w)
		return NULL;
	h->h2q_head = w->h2next;
	if (!h->h2q_head)
		h->h2q_tail = NULL;
	w->h2next = NULL;
	w->h2queued = 0;
	w->host = NULL;
	h->c->stats.waiting--;
	return w;
}

static void h2q_remove(struct host *h, struct coil__pool_wait *w)
{
	struct coil__pool_wait **pp = &h->h2q_head, *prev = NULL;

	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->h2next;
	}
	if (!*pp)
		return;
	*pp = w->h2next;
	if (h->h2q_tail == w)
		h->h2q_tail = prev;
	w->h2next = NULL;
	w->h2queued = 0;
	w->host = NULL;
	h->c->stats.waiting--;
}

/* Every waiter fails with @err, h->h2why saying why. */
static void h2_fail_all(struct host *h, int err)
{
	struct coil__pool_wait *w;

	while ((w = h2q_pop(h))) {
		coil__why(w->why, w->why_cap, 0, "%s", h->h2why);
		w->cb(w, NULL, err);
	}
}

/* May the session take new streams? */
static int h2_usable(const struct cconn *cn)
{
	return cn->h2 && !cn->h2_dead && cn->state != C_CLOSING &&
	       !coil_h2_info(cn->h2)->goaway_received;
}

/* The session of h->h2c takes no more streams: it closes once its
 * streams ended. */
static void h2_retire(struct host *h)
{
	struct cconn *cn = h->h2c;

	h->h2c = NULL;
	if (cn->state == C_POOLED) {
		cn->dead = 1;
		coil_connpool_lost(h->pool, &cn->pc);
	} else if (cn->state == C_ACTIVE && !cn->h2_streams) {
		coil_connpool_discard(h->pool, &cn->pc);
	}
}

static void h2_conn_ready(struct coil__pool_wait *w, struct cconn *cn, int err);

/* Acquire a connection for the host's session (one at a time). */
static void h2_open(struct host *h)
{
	struct coil__pool_wait *w = &h->h2w, *first = h->h2q_head;
	int ret;

	if (h->h2_opening || !first)
		return;
	h->h2_opening = 1;
	w->cb = h2_conn_ready;
	w->fresh = 0;
	w->deadline_ns = first->deadline_ns;
	w->connect_timeout_ns = first->connect_timeout_ns;
	w->why = h->h2why;
	w->why_cap = sizeof(h->h2why);
	ret = pool_acquire(h, w);
	if (ret < 0) {
		h->h2_opening = 0;
		coil__why(h->h2why, sizeof(h->h2why), ret,
			  "wait for a connection to %s port %u", h->name,
			  (unsigned)h->port);
		h2_fail_all(h, ret);
	}
}

/* Hand out stream slots while the session has room. */
static void h2_serve(struct host *h)
{
	struct coil_http_client *c = h->c;

	while (h->h2q_head) {
		struct cconn *cn = h->h2c;
		struct coil__pool_wait *w;

		if (cn && !h2_usable(cn)) {
			h2_retire(h);
			cn = NULL;
		}
		if (!cn) {
			h2_open(h);
			return;
		}
		if (!cn->h2_ready)
			return;
		if (cn->state == C_POOLED) {
			/* idle in the pool: take it back */
			struct coil_pconn *pc;
			if (coil_connpool_try_acquire(h->pool, &pc) < 0)
				return;
			cn = pc->data;
			cn->state = C_ACTIVE;
			h->h2c = cn;
			continue;
		}
		if (cn->h2_streams >= c->o.max_conns_per_host ||
		    !coil_h2_room(cn->h2))
			return;
		w = h2q_pop(h);
		cn->h2_streams++;
		if (cn->h2_streams > c->stats.peak_h2_streams)
			c->stats.peak_h2_streams = cn->h2_streams;
		hand_over(w, cn);
	}
}

static void h2_on_head(struct coil_h2 *s, int32_t sid, void *sdata,
		       const struct coil_http_header *f, unsigned n,
		       unsigned flags)
{
	struct coil__h2stream *st = sdata;

	(void)s;
	(void)sid;
	if (st)
		st->on_head(st, f, n, flags);
}

static void h2_on_data(struct coil_h2 *s, int32_t sid, void *sdata,
		       const void *buf, size_t len)
{
	struct coil__h2stream *st = sdata;

	(void)s;
	(void)sid;
	if (st)
		st->on_data(st, buf, len);
}

static void h2_on_close(struct coil_h2 *s, int32_t sid, void *sdata, int err,
			uint32_t code)
{
	struct coil__h2stream *st = sdata;

	(void)s;
	(void)sid;
	if (st)
		st->on_close(st, err, code);
}

static void h2_on_settings(struct coil_h2 *s)
{
	struct cconn *cn = coil_h2_data(s);

	cn->h2_ready = 1;
	h2_serve(cn->h);
}

static void h2_on_end(struct coil_h2 *s, int err)
{
	struct cconn *cn = coil_h2_data(s);
	struct host *h = cn->h;

	cn->h2_dead = 1;
	if (h->h2c == cn) {
		h2_retire(h);
		if (!cn->h2_ready && h->h2q_head) {
			/* it never took a stream: a failed open */
			h->fail_seq++;
			cn->c->stats.connect_errors++;
			coil__why(h->h2why, sizeof(h->h2why),
				  err ? err : COIL_ETRUNC,
				  "HTTP/2 session with %s port %u", h->name,
				  (unsigned)h->port);
			h2_fail_all(h, err ? err : COIL_ETRUNC);
			return;
		}
	} else if (cn->state == C_POOLED) {
		cn->dead = 1;
		coil_connpool_lost(h->pool, &cn->pc);
	} else if (cn->state == C_ACTIVE && !cn->h2_streams) {
		coil_connpool_discard(h->pool, &cn->pc);
	}
	h2_serve(h);
}

static const struct coil_h2_handler h2_handler = {
	.on_head = h2_on_head,
	.on_data = h2_on_data,
	.on_close = h2_on_close,
	.on_end = h2_on_end,
	.on_settings = h2_on_settings,
};

static void h2_closed(void *data)
{
	struct cconn *cn = data;

	cn->h2 = NULL;
	cn->stream_open = 0;
	conn_gone(cn);
}

/* The host's own acquire came back: the connection for its session. */
static void h2_conn_ready(struct coil__pool_wait *w, struct cconn *cn, int err)
{
	struct host *h = coil_container_of(w, struct host, h2w);
	struct coil_http_client *c = h->c;
	struct coil__pool_wait *q;
	int ret;

	h->h2_opening = 0;
	if (err < 0) {
		h2_fail_all(h, err);
		return;
	}
	cn->nreq--;   /* (counted by hand_over(): streams count instead) */
	if (cn->h2) { /* an idle session the pool gave back */
		h->h2c = cn;
		h2_serve(h);
		return;
	}
	if (h->https && strcmp(coil_tls_info(&cn->tls)->alpn, "h2")) {
		/* the server chose HTTP/1.1: the pool's way from now on */
		h->h1_only = 1;
		coil__conn_release(cn);
		while ((q = h2q_pop(h))) {
			ret = pool_acquire(h, q);
			if (ret < 0)
				q->cb(q, NULL, ret);
		}
		return;
	}
	ret = coil_h2_client(cn->s, NULL, &h2_handler, cn, &cn->h2);
	if (ret < 0) {
		coil__why(h->h2why, sizeof(h->h2why), ret,
			  "HTTP/2 session with %s port %u", h->name,
			  (unsigned)h->port);
		coil__conn_close(cn);
		h2_fail_all(h, ret);
		return;
	}
	c->stats.h2_conns++;
	h->h2c = cn;
	/* streams start once the server's SETTINGS came (h2_on_settings) */
}

/* A waiter for a stream of the host's session. */
static int h2_wait(struct host *h, struct coil__pool_wait *w)
{
	w->dropped = 0;
	w->slot = NULL;
	w->fail_seq = h->fail_seq;
	h2q_push(h, w);
	w->host = h;
	h2_serve(h);
	return 0;
}

/* An exchange's stream ended: its slot back. */
static void h2_release(struct cconn *cn)
{
	struct host *h = cn->h;

	if (cn->h2_streams)
		cn->h2_streams--;
	if (cn->state != C_ACTIVE)
		return;
	if (cn != h->h2c || !h2_usable(cn)) {
		/* retired (GOAWAY, or its end): closed once empty */
		if (cn == h->h2c)
			h2_retire(h);
		else if (!cn->h2_streams)
			coil_connpool_discard(h->pool, &cn->pc);
		h2_serve(h);
		return;
	}
	h2_serve(h);
	if (h->h2c == cn && cn->state == C_ACTIVE && !cn->h2_streams &&
	    !h->h2q_head) {
		cn->state = C_POOLED;
		coil_connpool_release(h->pool, &cn->pc);
	}
}

int coil__pool_wait(struct coil_http_client *c, const struct coil_url *u,
		    struct coil__pool_wait *w)
{
	struct host *h = host_get(c, u);
	struct coil_pconn *pc;

	if (!h)
		return -ENOMEM;
	h->connect_timeout_ns = w->connect_timeout_ns;
	if (h->h2_ok && !h->h1_only)
		return h2_wait(h, w);
	/* the keep-alive path: an idle connection, at once */
	if (!w->fresh && coil_connpool_try_acquire(h->pool, &pc) == 0) {
		w->host = NULL;
		hand_over(w, pc->data);
		return 0;
	}
	return pool_acquire(h, w);
}

void coil__pool_unwait(struct coil__pool_wait *w)
{
	struct host *h = w->host;

	if (!h || w->dropped)
		return;
	if (w->h2queued) {
		h2q_remove(h, w);
		return;
	}
	if (coil_connpool_withdraw(h->pool, &w->op) == 0) {
		w->host = NULL;
		h->c->stats.waiting--;
		return;
	}
	/* answered already, the callback is due: it gives back what came
	 * (and runs before anything the waiter starts next, posted after) */
	w->dropped = 1;
}

/* ---- connections given back -----------------------------------------------
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

void coil__conn_release(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct coil_op *op;

	cn->on_read = NULL;
	cn->user = NULL;
	if (cn->h2) {
		h2_release(cn);
		return;
	}
	if (cn->paused)
		coil__conn_pause(cn, 0);
	if (cn->state != C_ACTIVE)
		return;
	/* the next queued request takes it now, as before the pool */
	op = coil_connpool_pass(cn->h->pool, &cn->pc);
	if (op) {
		struct coil__pool_wait *w =
			coil_container_of(op, struct coil__pool_wait, op);
		w->host = NULL;
		c->stats.waiting--;
		hand_over(w, cn);
		return;
	}
	cn->state = C_POOLED;
	coil_connpool_release(cn->h->pool, &cn->pc);
	/* other hosts wait for a global permit that idling here holds */
	if (c->gpending > c->evicting)
		evict_for_global(c);
}

/* ---- shutdown and counters ------------------------------------------------
 */

static void pool_closed(struct coil_op *op, int res, unsigned flags)
{
	struct host *h = coil_container_of(op, struct host, pool_closed);

	(void)res;
	(void)flags;
	h->c->pools_open--;
	h->c->on_conn_gone(h->c);
}

void coil__pool_shutdown(struct coil_http_client *c)
{
	struct cconn *cn, *next;

	/* pending opens will not get a permit: the pools hear it now */
	while (c->gwait_head) {
		struct host *h = gwait_pop(c);
		for (; h->gpending; h->gpending--, c->gpending--)
			coil_connpool_opened(h->pool, NULL, -ECANCELED);
	}
	/* idle connections close now, those in use when given back */
	for (struct host *h = c->hosts; h; h = h->next) {
		coil_op_init(&h->pool_closed, pool_closed);
		if (coil_connpool_close(h->pool, &h->pool_closed) < 0)
			c->pools_open--;
	}
	/* and those still opening or in use are stopped */
	for (cn = c->conns; cn; cn = next) {
		next = cn->anext;
		conn_abort(cn);
	}
}

void coil__pool_free(struct coil_http_client *c)
{
	struct host *h, *next;

	coil_tls_cache_free(c->tls_cache);
	coil_tls_config_free(c->own_tls);
	for (h = c->hosts; h; h = next) {
		next = h->next;
		coil_connpool_free(h->pool);
		free(h);
	}
	c->hosts = NULL;
	free(c->tab);
	c->tab = NULL;
	c->tab_cap = c->nhosts = 0;
}

void coil__pool_stats(const struct coil_http_client *c,
		      struct coil_http_client_stats *st)
{
	st->idle = 0;
	st->idle_closed = 0;
	for (const struct host *h = c->hosts; h; h = h->next) {
		struct coil_connpool_stats ps;
		coil_connpool_stats(h->pool, &ps);
		st->idle += ps.idle;
		st->idle_closed += ps.idle_closed;
	}
}
