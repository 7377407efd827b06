/*
 * http/client_pool.c - the client's hosts and their waiters: hosts (one
 * per scheme+host+port), each a coil_connpool (engine/connpool.c: the
 * per-host limit, waiters in FIFO order, keep-alive reuse most recently
 * used first, max idle, idle expiry, fresh connections after a stale
 * reuse); the waiters' acquires and the connections handed to them and
 * given back. Opening and closing a connection, the global limit and the
 * pools' hooks are http/client_conn.c's, below this file.
 *
 * HTTP/2 hosts (the section of that name) share one connection among
 * their requests: see there.
 */

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
	int ret;

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
	ret = coil_connpool_new(&h->pool, c->loop, &coil__conn_hooks, h, &po);
	if (ret < 0) {
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
		coil__conn_evict_idle(c);
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
	/* pending opens will not get a permit: the pools hear it now */
	coil__conn_cancel_pending(c);
	/* idle connections close now, those in use when given back */
	for (struct host *h = c->hosts; h; h = h->next) {
		coil_op_init(&h->pool_closed, pool_closed);
		if (coil_connpool_close(h->pool, &h->pool_closed) < 0)
			c->pools_open--;
	}
	/* and those still opening or in use are stopped */
	coil__conn_abort_all(c);
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
