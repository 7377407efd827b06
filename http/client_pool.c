/*
 * http/client_pool.c - the client's connection pool: hosts (one per
 * scheme+host+port), the limits, opening connections (resolve, connect),
 * idle keep-alive connections, and handing connections to waiting
 * requests.
 *
 * A permit of the host's coil_sem and one of the client's global coil_sem
 * belong to each open connection, from the moment it is decided until its
 * close callback: the server never sees more connections than the limits,
 * not even while one is closing. The number of connections is therefore
 * exactly the number of permits taken (h->nconn, counted for the stats).
 * Requests never wait on the semaphores themselves: they queue FIFO on
 * their host, because what frees up for them is either an idle connection
 * (handed over as it is) or a permit (to open a new one). A host that has
 * a host permit but finds the global limit reached joins the client's
 * queue of hosts waiting for a global permit, and an idle connection
 * elsewhere is closed to make room (httpx's pool does the same).
 *
 * Idle connections keep reading: a close, a reset or stray bytes from the
 * server while idle close them at once, so a reused connection has at
 * least not been seen dead. Idle connections are reused most recently
 * used first (the least likely to have been timed out by the server) and
 * closed after the idle timeout, oldest first.
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

static struct host *host_get(struct coil_http_client *c,
			     const struct coil_url *u)
{
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
	memcpy(h->name, name, n + 1);
	coil_sem_init(&h->sem, c->loop, c->o.max_conns_per_host,
		      c->o.max_conns_per_host);
	h->hnext = c->tab[hash & (c->tab_cap - 1)];
	c->tab[hash & (c->tab_cap - 1)] = h;
	c->nhosts++;
	return h;
}

static void host_enqueue(struct host *h, struct coil__pool_wait *req)
{
	req->host = h;
	req->conn = NULL;
	req->wnext = NULL;
	req->wprev = h->wait_tail;
	if (h->wait_tail)
		h->wait_tail->wnext = req;
	else
		h->wait_head = req;
	h->wait_tail = req;
	h->nwait++;
	h->c->stats.waiting++;
}

static void host_unqueue(struct coil__pool_wait *req)
{
	struct host *h = req->host;

	if (req->wprev)
		req->wprev->wnext = req->wnext;
	else
		h->wait_head = req->wnext;
	if (req->wnext)
		req->wnext->wprev = req->wprev;
	else
		h->wait_tail = req->wprev;
	req->wnext = req->wprev = NULL;
	req->host = NULL;
	h->nwait--;
	h->c->stats.waiting--;
}

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
	c->gwaiting++;
}

static struct host *gwait_pop(struct coil_http_client *c)
{
	struct host *h = c->gwait_head;

	c->gwait_head = h->gnext;
	if (!c->gwait_head)
		c->gwait_tail = NULL;
	h->gnext = NULL;
	h->in_gwait = 0;
	c->gwaiting--;
	return h;
}

/* ---- idle lists ---------------------------------------------------------- */

static void idle_push(struct cconn *cn)
{
	struct host *h = cn->h;
	struct coil_http_client *c = cn->c;

	cn->iprev = NULL;
	cn->inext = h->idle_head;
	if (h->idle_head)
		h->idle_head->iprev = cn;
	else
		h->idle_tail = cn;
	h->idle_head = cn;
	h->nidle++;

	cn->lprev = NULL;
	cn->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = cn;
	else
		c->lru_tail = cn;
	c->lru_head = cn;
	c->stats.idle++;
}

static void idle_unlink(struct cconn *cn)
{
	struct host *h = cn->h;
	struct coil_http_client *c = cn->c;

	if (cn->iprev)
		cn->iprev->inext = cn->inext;
	else
		h->idle_head = cn->inext;
	if (cn->inext)
		cn->inext->iprev = cn->iprev;
	else
		h->idle_tail = cn->iprev;
	cn->inext = cn->iprev = NULL;
	h->nidle--;

	if (cn->lprev)
		cn->lprev->lnext = cn->lnext;
	else
		c->lru_head = cn->lnext;
	if (cn->lnext)
		cn->lnext->lprev = cn->lprev;
	else
		c->lru_tail = cn->lprev;
	cn->lnext = cn->lprev = NULL;
	c->stats.idle--;
}

/* ---- connections ----------------------------------------------------------
 */

static void global_dispatch(struct coil_http_client *c);
static void host_dispatch(struct host *h);

/* The connection is over: permits back, memory freed, waiters served. */
static void conn_gone(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct host *h = cn->h;

	if (cn->aprev)
		cn->aprev->anext = cn->anext;
	else
		c->conns = cn->anext;
	if (cn->anext)
		cn->anext->aprev = cn->aprev;
	if (cn->evicted == 1)
		h->evicting--;
	else if (cn->evicted == 2)
		c->evicting--;
	h->nconn--;
	c->stats.conns--;
	coil_sem_release(&h->sem);
	coil_sem_release(&c->global);
	free(cn);
	host_dispatch(h);
	global_dispatch(c);
	c->on_conn_gone(c);
}

static void conn_closed(struct coil_stream *s)
{
	struct cconn *cn = s->data;

	cn->stream_open = 0;
	conn_gone(cn);
}

void coil__conn_close(struct cconn *cn)
{
	struct coil_loop *loop = cn->c->loop;
	enum conn_state prev = cn->state;

	if (prev == C_CLOSING)
		return;
	if (prev == C_IDLE)
		idle_unlink(cn);
	cn->state = C_CLOSING;
	if (prev == C_RESOLVING) {
		/* its callback comes with -ECANCELED (or the answer) and
		 * finishes the job */
		coil_cancel(loop, &cn->rr.op);
		return;
	}
	if (cn->stream_open)
		coil_stream_close(cn->s, conn_closed);
}

/* Close an idle connection to make room for a request that waits (@why:
 * 1 for the host's own fresh waiters, 2 for the global limit). */
static void evict(struct cconn *cn, int why)
{
	cn->evicted = why;
	if (why == 1)
		cn->h->evicting++;
	else
		cn->c->evicting++;
	cn->c->stats.idle_closed++;
	coil__conn_close(cn);
}

/* Give @cn to the waiter @w, taken off its queue. */
static void hand_over(struct coil__pool_wait *w, struct cconn *cn)
{
	cn->state = C_ACTIVE;
	cn->nreq++;
	w->cb(w, cn, 0);
}

/* Tell the waiter @w that the connection it waited on failed (@err);
 * the words are already in w->why. */
static void owner_failed(struct coil__pool_wait *w, int err)
{
	w->conn = NULL;
	w->cb(w, NULL, err);
}

/* Opening the connection failed: its owner (if any) ends its attempt.
 * @detail: what went wrong in words, or NULL for coil_strerror(@err). */
static void conn_fail(struct cconn *cn, int err, const char *what,
		      const char *detail)
{
	struct coil__pool_wait *owner = cn->owner;

	cn->owner = NULL;
	cn->c->stats.connect_errors++;
	if (owner) {
		if (detail)
			coil__why(owner->why, owner->why_cap, 0,
				  "%s %s port %u: %s", what, cn->h->name,
				  (unsigned)cn->h->port, detail);
		else
			coil__why(owner->why, owner->why_cap, err,
				  "%s %s port %u", what, cn->h->name,
				  (unsigned)cn->h->port);
		owner_failed(owner, err);
	}
	conn_gone(cn);
}

static void conn_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct cconn *cn = s->data;

	if (cn->state == C_ACTIVE && cn->on_read) {
		cn->on_read(cn, n, buf);
		return;
	}
	/* idle: the server closed, reset, or sent what nobody asked for */
	if (cn->state == C_IDLE)
		cn->c->stats.idle_closed++;
	coil__conn_close(cn);
}

static void conn_connected(struct coil_stream *s, int status)
{
	struct cconn *cn = s->data;
	struct coil__pool_wait *owner = cn->owner;

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
	cn->c->stats.conns_opened++;
	if (cn->h->https) {
		cn->c->stats.tls_handshakes++;
		if (coil_tls_info(&cn->tls)->resumed)
			cn->c->stats.tls_resumed++;
	}
	if (coil_stream_read_start(cn->s, conn_read) < 0) {
		cn->c->stats.connect_errors++;
		cn->owner = NULL;
		if (owner) {
			coil__why(owner->why, owner->why_cap, -ENOMEM,
				  "read from %s", cn->h->name);
			owner_failed(owner, -ENOMEM);
		}
		coil__conn_close(cn);
		return;
	}
	if (owner) {
		cn->owner = NULL;
		owner->conn = NULL;
		hand_over(owner, cn);
	} else {
		coil__conn_release(cn);
	}
}

static void conn_connect(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct coil__pool_wait *owner = cn->owner;
	struct coil_tcp_opts to = {0};
	uint64_t prev, deadline = 0;
	int ret;

	cn->state = C_CONNECTING;
	if (owner) {
		uint64_t now = coil_now_update(c->loop);
		deadline = owner->deadline_ns;
		to.connect_timeout_ns = owner->connect_timeout_ns;
		if (deadline) {
			uint64_t left = deadline > now ? deadline - now : 1;
			if (!to.connect_timeout_ns ||
			    left < to.connect_timeout_ns)
				to.connect_timeout_ns = left;
		}
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
	if (ret < 0) {
		conn_fail(cn, ret, "socket for", NULL);
		return;
	}
	cn->stream_open = 1;
}

static void conn_resolved(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *cn = coil_container_of(op, struct cconn, rr.op);
	struct coil__pool_wait *owner = cn->owner;

	(void)flags;
	if (cn->state == C_CLOSING) {
		conn_gone(cn);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			res = COIL_ERESOLVE;
		cn->owner = NULL;
		cn->c->stats.connect_errors++;
		if (owner) {
			coil__why(owner->why, owner->why_cap, 0,
				  "cannot resolve %s: %s", cn->h->name,
				  coil_resolve_strerror(&cn->rr, res));
			owner_failed(owner, res);
		}
		conn_gone(cn);
		return;
	}
	cn->naddrs = cn->rr.naddr;
	for (unsigned i = 0; i < cn->naddrs; i++) {
		memset(&cn->addrs[i], 0, sizeof(cn->addrs[i]));
		memcpy(&cn->addrs[i], &cn->rr.addr[i],
		       coil_sockaddr_len(&cn->rr.addr[i]));
	}
	conn_connect(cn);
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
		ret = coil_tls_config_new(&c->own_tls, NULL, c->tls_err,
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

/* Open a connection for @owner; the caller took both permits. */
static void conn_new(struct host *h, struct coil__pool_wait *owner)
{
	struct coil_http_client *c = h->c;
	struct cconn *cn = calloc(1, sizeof(*cn));
	int ret;

	if (!cn) {
		coil_sem_release(&h->sem);
		coil_sem_release(&c->global);
		coil__why(owner->why, owner->why_cap, -ENOMEM,
			  "new connection");
		owner_failed(owner, -ENOMEM);
		return;
	}
	cn->c = c;
	cn->h = h;
	cn->owner = owner;
	owner->conn = cn;
	cn->anext = c->conns;
	if (c->conns)
		c->conns->aprev = cn;
	c->conns = cn;
	h->nconn++;
	c->stats.conns++;
	if (c->stats.conns > c->stats.peak_conns)
		c->stats.peak_conns = c->stats.conns;
	if (h->nconn > c->stats.peak_conns_per_host)
		c->stats.peak_conns_per_host = h->nconn;

	if (h->https) {
		ret = client_tls(c);
		if (ret < 0) {
			cn->owner = NULL;
			c->stats.connect_errors++;
			coil__why(owner->why, owner->why_cap, 0,
				  "TLS configuration: %s", c->tls_err);
			owner_failed(owner, ret);
			conn_gone(cn);
			return;
		}
	}
	if (h->kind == COIL_URL_HOST_IPV4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&cn->addrs[0];
		a->sin_family = AF_INET;
		a->sin_port = htons(h->port);
		inet_pton(AF_INET, h->name, &a->sin_addr);
		cn->naddrs = 1;
		conn_connect(cn);
		return;
	}
	if (h->kind == COIL_URL_HOST_IPV6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&cn->addrs[0];
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(h->port);
		inet_pton(AF_INET6, h->name, &a->sin6_addr);
		cn->naddrs = 1;
		conn_connect(cn);
		return;
	}
	cn->state = C_RESOLVING;
	ret = ensure_resolver(c);
	if (ret == 0) {
		coil_op_init(&cn->rr.op, conn_resolved);
		ret = coil_resolve(c->resolver, &cn->rr, h->name, h->port);
	}
	if (ret < 0) {
		cn->owner = NULL;
		c->stats.connect_errors++;
		coil__why(owner->why, owner->why_cap, ret, "resolve %s",
			  h->name);
		owner_failed(owner, ret);
		conn_gone(cn);
	}
}

static void conn_disown(struct cconn *cn)
{
	cn->owner = NULL;
	/* nobody else wants it: stop opening it */
	if (!cn->h->wait_head)
		coil__conn_close(cn);
}

void coil__conn_pause(struct cconn *cn, int pause)
{
	if (cn->state == C_CLOSING || pause == cn->paused)
		return;
	cn->paused = pause;
	if (pause)
		coil_stream_read_stop(cn->s);
	else if (coil_stream_read_start(cn->s, conn_read) < 0)
		coil__conn_close(cn);
}

int coil__pool_wait(struct coil_http_client *c, const struct coil_url *u,
		    struct coil__pool_wait *w)
{
	struct host *h = host_get(c, u);

	if (!h)
		return -ENOMEM;
	host_enqueue(h, w);
	host_dispatch(h);
	return 0;
}

void coil__pool_unwait(struct coil__pool_wait *w)
{
	struct cconn *cn = w->conn;

	if (cn) {
		w->conn = NULL;
		conn_disown(cn);
	} else if (w->host) {
		host_unqueue(w);
	}
}

/* The first waiter that may take a connection already used. */
static struct coil__pool_wait *first_taker(struct host *h)
{
	for (struct coil__pool_wait *r = h->wait_head; r; r = r->wnext) {
		if (!r->fresh)
			return r;
	}
	return NULL;
}

void coil__conn_release(struct cconn *cn)
{
	struct coil_http_client *c = cn->c;
	struct host *h = cn->h;
	struct coil__pool_wait *req;

	cn->owner = NULL;
	cn->on_read = NULL;
	cn->user = NULL;
	if (c->shutting) {
		coil__conn_close(cn);
		return;
	}
	if (cn->paused)
		coil__conn_pause(cn, 0);
	if (cn->state == C_CLOSING)
		return;
	req = first_taker(h);
	if (req) {
		host_unqueue(req);
		hand_over(req, cn);
		return;
	}
	/* other hosts wait for a global permit that idling here would hold */
	if (c->gwaiting > c->evicting) {
		evict(cn, 2);
		return;
	}
	if (h->nidle >= c->o.max_idle_per_host) {
		c->stats.idle_closed++;
		coil__conn_close(h->idle_tail);
	}
	cn->state = C_IDLE;
	cn->idle_at = coil_now(c->loop);
	idle_push(cn);
	c->on_idle(c);
	if (h->wait_head)
		host_dispatch(h); /* fresh waiters may need room */
}

static void host_dispatch(struct host *h)
{
	struct coil_http_client *c = h->c;
	struct coil__pool_wait *req;

	while ((req = h->wait_head)) {
		if (!req->fresh && h->idle_head) {
			struct cconn *cn = h->idle_head;
			idle_unlink(cn);
			host_unqueue(req);
			hand_over(req, cn);
			continue;
		}
		if (coil_sem_try_acquire(&h->sem) == 0) {
			if (coil_sem_try_acquire(&c->global) == 0) {
				host_unqueue(req);
				conn_new(h, req);
				continue;
			}
			coil_sem_release(&h->sem);
			gwait_add(h);
			if (c->evicting < c->gwaiting && c->lru_tail)
				evict(c->lru_tail, 2);
			break;
		}
		/* the host is full; a request that must not reuse a
		 * connection gets room by closing an idle one */
		if (req->fresh && h->idle_tail && !h->evicting)
			evict(h->idle_tail, 1);
		break;
	}
}

static void global_dispatch(struct coil_http_client *c)
{
	while (c->gwait_head && coil_sem_value(&c->global) > 0) {
		struct host *h = gwait_pop(c);
		host_dispatch(h);
		if (h->in_gwait)
			break;
	}
}

/* ---- timers and shutdown --------------------------------------------------
 */

void coil__pool_expire(struct coil_http_client *c, uint64_t now)
{
	while (c->lru_tail &&
	       c->lru_tail->idle_at + c->o.idle_timeout_ns <= now) {
		c->stats.idle_closed++;
		coil__conn_close(c->lru_tail);
	}
}

uint64_t coil__pool_next_expiry(const struct coil_http_client *c)
{
	return c->lru_tail ? c->lru_tail->idle_at + c->o.idle_timeout_ns : 0;
}

void coil__pool_shutdown(struct coil_http_client *c)
{
	struct cconn *cn, *next;

	for (cn = c->conns; cn; cn = next) {
		next = cn->anext;
		coil__conn_close(cn);
	}
}

void coil__pool_free(struct coil_http_client *c)
{
	coil_tls_cache_free(c->tls_cache);
	coil_tls_config_free(c->own_tls);
	for (unsigned i = 0; i < c->tab_cap; i++) {
		struct host *h = c->tab[i], *next;
		for (; h; h = next) {
			next = h->hnext;
			free(h);
		}
	}
	free(c->tab);
	c->tab = NULL;
	c->tab_cap = c->nhosts = 0;
}
