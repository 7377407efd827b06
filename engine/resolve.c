/*
 * engine/resolve.c - name resolution: getaddrinfo(3) on the offload pool,
 * with a small per-loop cache.
 *
 * A cache entry per name holds every address getaddrinfo returned, in its
 * order (RFC 6724 destination address selection), until its TTL runs out
 * (getaddrinfo does not report the DNS TTL, so the TTL is configured).
 * While a lookup runs, every request for that name waits on it, so a
 * burst of connections to one host makes one lookup. Requests wait in the
 * resolver's wait queue, so coil_cancel() and coil_loop_drain() reach
 * them; a cancelled request leaves the lookup running to fill the cache.
 */

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "async_internal.h"

#define HOST_MAX 253 /* RFC 1035 §2.3.4, in text form */

enum { E_RESOLVING, E_READY, E_FAILED };

struct lookup;

struct entry {
	struct entry *next;
	char *host;
	int state;
	uint64_t expires_ns;
	union coil_sockaddr *addr;
	unsigned naddr;
	int gai_err, sys_err;
	struct lookup *job; /* while E_RESOLVING */
};

struct lookup {
	struct coil_op op; /* the pool job */
	struct coil_resolver *r;
	struct entry *e; /* NULL once the resolver let go of it */
	struct addrinfo hints;
	struct addrinfo *ai;
	int gai_err, sys_err;
	char host[];
};

struct coil_resolver {
	struct coil__waitq wq; /* waiting requests, by req->op */
	struct coil_loop *loop;
	struct coil_pool *pool;
	struct coil_resolver_opts o;
	struct entry *entries;
	unsigned nentries;
	unsigned jobs; /* lookups on the pool */
	int freeing;
};

socklen_t coil_sockaddr_len(const union coil_sockaddr *a)
{
	if (a && a->sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return sizeof(struct sockaddr_in);
}

const char *coil_resolve_strerror(const struct coil_resolve_req *req, int res)
{
	if (req && res == COIL_ERESOLVE) {
		if (req->gai_err == EAI_SYSTEM && req->sys_err)
			return coil_strerror(-req->sys_err);
		if (req->gai_err)
			return gai_strerror(req->gai_err);
	}
	return coil_strerror(res);
}

int coil_resolver_new(struct coil_resolver **out, struct coil_loop *loop,
		      struct coil_pool *pool,
		      const struct coil_resolver_opts *opts)
{
	struct coil_resolver *r;

	if (!out || !loop || !pool)
		return -EINVAL;
	if (opts && opts->family != AF_UNSPEC && opts->family != AF_INET &&
	    opts->family != AF_INET6)
		return -EINVAL;
	if (opts && (opts->flags & ~COIL_RESOLVER_NOCACHE))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (opts)
		r->o = *opts;
	if (!r->o.ttl_ns)
		r->o.ttl_ns = 60000000000ull;
	if (!r->o.max_entries)
		r->o.max_entries = 256;
	r->loop = loop;
	r->pool = pool;
	coil__waitq_init(&r->wq, loop, NULL);
	*out = r;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->host);
	free(e->addr);
	free(e);
}

static void entry_unlink(struct coil_resolver *r, struct entry *e)
{
	struct entry **pp = &r->entries;
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = e->next;
		r->nentries--;
	}
}

static void entry_drop(struct coil_resolver *r, struct entry *e)
{
	entry_unlink(r, e);
	if (e->job)
		e->job->e = NULL;
	entry_free(e);
}

static struct entry *entry_find(struct coil_resolver *r, const char *host)
{
	for (struct entry *e = r->entries; e; e = e->next) {
		if (strcmp(e->host, host) == 0)
			return e;
	}
	return NULL;
}

/* Make room for one more entry: drop expired ones, then the one closest
 * to expiry. Entries being resolved stay (the cache may overshoot). */
static void make_room(struct coil_resolver *r, uint64_t now)
{
	struct entry *e, *next, *victim = NULL;

	if (r->nentries < r->o.max_entries)
		return;
	for (e = r->entries; e; e = next) {
		next = e->next;
		if (e->state != E_RESOLVING && e->expires_ns <= now)
			entry_drop(r, e);
	}
	if (r->nentries < r->o.max_entries)
		return;
	for (e = r->entries; e; e = e->next) {
		if (e->state != E_RESOLVING &&
		    (!victim || e->expires_ns < victim->expires_ns))
			victim = e;
	}
	if (victim)
		entry_drop(r, victim);
}

/* Copy @e's answer into @req and complete it. */
static void answer(struct coil_resolver *r, struct coil_resolve_req *req,
		   const struct entry *e, int cached)
{
	uint16_t nport = htons(req->port);
	int res;

	req->cached = (unsigned)cached;
	req->naddr = 0;
	req->total = 0;
	req->gai_err = 0;
	req->sys_err = 0;
	if (e->state == E_READY) {
		req->total = e->naddr;
		req->naddr = e->naddr < COIL_RESOLVE_MAX ? e->naddr
							 : COIL_RESOLVE_MAX;
		for (unsigned i = 0; i < req->naddr; i++) {
			req->addr[i] = e->addr[i];
			if (req->addr[i].sa.sa_family == AF_INET6)
				req->addr[i].in6.sin6_port = nport;
			else
				req->addr[i].in.sin_port = nport;
		}
		res = (int)req->naddr;
	} else {
		req->gai_err = e->gai_err;
		req->sys_err = e->sys_err;
		res = COIL_ERESOLVE;
	}
	coil__post_new(r->loop, &req->op, res);
}

/* On a worker. */
static int lookup_fn(void *arg)
{
	struct lookup *l = arg;
	l->ai = NULL;
	l->gai_err = getaddrinfo(l->host, NULL, &l->hints, &l->ai);
	l->sys_err = l->gai_err == EAI_SYSTEM ? errno : 0;
	return l->gai_err;
}

/* Fill @e from the lookup. Return: 0; -ENOMEM. */
static int fill(struct entry *e, struct lookup *l,
		const struct coil_resolver *r, uint64_t now)
{
	unsigned n = 0;

	free(e->addr);
	e->addr = NULL;
	e->naddr = 0;
	e->gai_err = l->gai_err;
	e->sys_err = l->sys_err;
	if (l->gai_err) {
		e->state = E_FAILED;
		e->expires_ns = now + r->o.neg_ttl_ns;
		return 0;
	}
	for (struct addrinfo *ai = l->ai; ai; ai = ai->ai_next)
		n++;
	e->addr = calloc(n ? n : 1, sizeof(*e->addr));
	if (!e->addr)
		return -ENOMEM;
	for (struct addrinfo *ai = l->ai; ai; ai = ai->ai_next) {
		union coil_sockaddr a;
		int dup = 0;
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(a))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a, ai->ai_addr, ai->ai_addrlen);
		for (unsigned i = 0; i < e->naddr && !dup; i++)
			dup = memcmp(&e->addr[i], &a, sizeof(a)) == 0;
		if (!dup)
			e->addr[e->naddr++] = a;
	}
	if (!e->naddr) { /* nothing usable: as getaddrinfo would say */
		e->state = E_FAILED;
		e->gai_err = EAI_NONAME;
		e->expires_ns = now + r->o.neg_ttl_ns;
		return 0;
	}
	e->state = E_READY;
	e->expires_ns = now + r->o.ttl_ns;
	return 0;
}

static void lookup_cb(struct coil_op *op, int res, unsigned flags)
{
	struct lookup *l = coil_container_of(op, struct lookup, op);
	struct coil_resolver *r = l->r;
	struct entry *e = l->e;
	uint64_t now = coil_now(r->loop);
	(void)flags;

	r->jobs--;
	if (e) {
		int err = 0;
		e->job = NULL;
		if (res == -ECANCELED)
			err = -ECANCELED; /* drain or pool shutdown */
		else if (fill(e, l, r, now) < 0)
			err = -ENOMEM;
		/* every request waiting for this name, in order */
		for (struct coil_op *w = r->wq.head, *next; w; w = next) {
			struct coil_resolve_req *req = coil_container_of(
				w, struct coil_resolve_req, op);
			next = w->next;
			if (req->entry != e)
				continue;
			coil__waitq_remove(&r->wq, w);
			if (err)
				coil__post(r->loop, w, err);
			else
				answer(r, req, e, 0);
		}
		if (err || (r->o.flags & COIL_RESOLVER_NOCACHE) ||
		    (e->state == E_FAILED && !r->o.neg_ttl_ns))
			entry_drop(r, e);
	}
	if (l->ai)
		freeaddrinfo(l->ai);
	free(l);
	if (r->freeing && !r->jobs)
		free(r);
}

static int start_lookup(struct coil_resolver *r, struct entry *e)
{
	size_t len = strlen(e->host);
	struct lookup *l = calloc(1, sizeof(*l) + len + 1);
	int ret;

	if (!l)
		return -ENOMEM;
	memcpy(l->host, e->host, len + 1);
	l->r = r;
	l->e = e;
	l->hints.ai_family = r->o.family;
	l->hints.ai_socktype = SOCK_STREAM;
	l->hints.ai_flags = r->o.ai_flags;
	coil_op_init(&l->op, lookup_cb);
	ret = coil_pool_submit(r->loop, r->pool, &l->op, lookup_fn, l);
	if (ret < 0) {
		free(l);
		return ret;
	}
	coil__mark_internal(&l->op);
	e->job = l;
	e->state = E_RESOLVING;
	r->jobs++;
	return 0;
}

int coil_resolve(struct coil_resolver *r, struct coil_resolve_req *req,
		 const char *host, uint16_t port)
{
	struct entry *e;
	uint64_t now;
	size_t len;
	int ret;

	if (!r || !req || !host || !*host || r->freeing)
		return -EINVAL;
	len = strlen(host);
	if (len > HOST_MAX + (host[len - 1] == '.'))
		return -ENAMETOOLONG;
	ret = coil__can_start(r->loop, &req->op);
	if (ret)
		return ret;
	req->r = r;
	req->port = port;
	req->naddr = req->total = 0;
	req->gai_err = req->sys_err = 0;
	req->cached = 0;
	now = coil_now_update(r->loop);

	e = entry_find(r, host);
	if (e && e->state != E_RESOLVING &&
	    (e->expires_ns <= now || (r->o.flags & COIL_RESOLVER_NOCACHE))) {
		entry_drop(r, e); /* stale */
		e = NULL;
	}
	if (e && e->state != E_RESOLVING) {
		req->entry = e;
		answer(r, req, e, 1);
		return 0;
	}
	if (!e) {
		make_room(r, now);
		e = calloc(1, sizeof(*e));
		if (!e || !(e->host = strdup(host))) {
			free(e);
			return -ENOMEM;
		}
		ret = start_lookup(r, e);
		if (ret < 0) {
			entry_free(e);
			return ret;
		}
		e->next = r->entries;
		r->entries = e;
		r->nentries++;
	}
	req->entry = e;
	return coil__waitq_push(&r->wq, &req->op, NULL);
}

void coil_resolver_free(struct coil_resolver *r)
{
	struct entry *e, *next;

	if (!r)
		return;
	r->freeing = 1;
	coil__waitq_cancel_default(&r->wq, NULL);
	for (e = r->entries; e; e = next) {
		next = e->next;
		entry_drop(r, e);
	}
	if (!r->jobs)
		free(r);
}
