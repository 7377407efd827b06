/*
 * http/server_time.c - the server's time limits. Every connection waiting
 * on something with a limit sits in one list per kind (header, write,
 * body, idle, linger), sorted by deadline; while any list holds a
 * connection, one ring timeout per server ticks (a quarter of the shortest
 * limit, 10 ms to 1 s); at each tick the server (http/server.c,
 * tick_cb()) expires the heads that are due. Activity only moves a
 * connection within or between lists: serving a request costs no timer
 * operation. This file calls no other file of the server.
 */
#include <errno.h>

#include "server_internal.h"

/* ---- time limits ---------------------------------------------------------
 */

void coil__tl_remove(struct sconn *c)
{
	struct tlist *l;
	if (c->tlist == TL_NONE)
		return;
	l = &c->srv->tl[c->tlist];
	if (c->t_prev)
		c->t_prev->t_next = c->t_next;
	else
		l->head = c->t_next;
	if (c->t_next)
		c->t_next->t_prev = c->t_prev;
	else
		l->tail = c->t_prev;
	c->t_prev = c->t_next = NULL;
	c->tlist = TL_NONE;
}

/* Put @c in list @kind with @deadline, sorted (from the tail: deadlines
 * mostly grow). */
static void tl_insert(struct sconn *c, unsigned kind, uint64_t deadline)
{
	struct coil_http_server *srv = c->srv;
	struct tlist *l = &srv->tl[kind];
	struct sconn *p;

	coil__tl_remove(c);
	p = l->tail;
	while (p && p->deadline > deadline)
		p = p->t_prev;
	c->t_prev = p;
	c->t_next = p ? p->t_next : l->head;
	if (c->t_next)
		c->t_next->t_prev = c;
	else
		l->tail = c;
	if (p)
		p->t_next = c;
	else
		l->head = c;
	c->tlist = kind;
	c->deadline = deadline;
	coil__tl_arm(srv);
}

static int tl_any(const struct coil_http_server *srv)
{
	for (unsigned k = 1; k < TL_N; k++) {
		if (srv->tl[k].head)
			return 1;
	}
	return 0;
}

/*
 * The tick: while any connection has a deadline, one relative ring
 * timeout every tick_ns (a quarter of the shortest time limit, 10 ms to
 * 1 s) expires what is due. A deadline fires at most one tick late, and
 * no timer is ever removed or re-armed because a connection moved.
 */
void coil__tl_arm(struct coil_http_server *srv)
{
	if (coil_op_busy(&srv->tmr) || (srv->st & (S_DONE | S_SHUTDOWN_T)) ||
	    !tl_any(srv))
		return;
	coil_timeout(srv->loop, &srv->tmr, srv->tick_ns, 0);
}

/* Which list @c belongs in now, and its deadline. */
void coil__sconn_retime(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	unsigned kind = TL_NONE;
	uint64_t t = srv_now(srv), dl = 0;
	int out_busy = sconn_out_busy(c);

	if (c->st & C_DEAD)
		kind = TL_NONE;
	else if (c->phase == P_CLOSING)
		kind = (c->st & C_SHUT) ? TL_LINGER : TL_WRITE;
	else if (c->phase == P_HEAD &&
		 (sconn_in_left(c) || (c->nreq == 0 && !out_busy)))
		kind = TL_HEADER; /* a head arriving, or a first one awaited */
	else if (out_busy)
		kind = TL_WRITE;
	else if (c->phase == P_HEAD)
		kind = TL_IDLE;
	else if (c->phase == P_DISCARD ||
		 (c->phase == P_REQ &&
		  (c->x->bmode == B_BUFFER || c->x->bmode == B_STREAM) &&
		  c->x->bstate == BS_GOING && !(c->st & C_LENT)))
		kind = TL_BODY;

	if (kind == TL_NONE) {
		coil__tl_remove(c);
		return;
	}
	if (kind == c->tlist && (kind == TL_HEADER || kind == TL_LINGER ||
				 kind == TL_WRITE || kind == TL_BODY))
		return; /* progress refreshes these explicitly */
	if (kind == TL_HEADER)
		dl = sconn_head_start(c) + srv->tl[kind].dur;
	else
		dl = t + srv->tl[kind].dur;
	tl_insert(c, kind, dl);
}

/* Progress on a list whose deadline slides (write, body). */
void coil__sconn_progress(struct sconn *c, unsigned kind)
{
	if (c->tlist == kind)
		tl_insert(c, kind, srv_now(c->srv) + c->srv->tl[kind].dur);
}
