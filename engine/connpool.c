/*
 * engine/connpool.c - the protocol-independent connection pool
 * (coil/connpool.h). Connections are the protocol's structs with a
 * struct coil_pconn inside; the pool only moves them between states
 * (checking, idle, in use, closing) and counts them. Acquires are waits
 * on the pool's wait queue (engine/wait.c), so deadlines, cancel and
 * drain come from the engine; serve() matches waiters with what can feed
 * them: an idle connection (newest first, checked if idle long enough) or
 * a new one while below max_size. Opens and checks in progress count as
 * supply already promised to the oldest waiters, so a burst of N acquires
 * starts at most N opens.
 *
 * A "fresh" acquire (coil_connpool_acquire_fresh()) waits on a queue of
 * its own and is fed by opens only: opens in progress are promised to
 * the fresh waiters first, idle connections and checks to the others; a
 * full pool closes idle connections to make room for a fresh waiter.
 *
 * Idle connections are closed by one absolute timer armed for the oldest
 * one's expiry (the idle list is in release order: its tail is always the
 * oldest), and beyond max_idle at once, oldest first.
 *
 * The HTTP client's pool (http/client_pool.c) is one of these per host,
 * with its global limit in its open hook.
 */

#include <errno.h>
#include <stdlib.h>

#include "async_internal.h"
#include "coil/connpool.h"

enum { PC_CHECKING = 1, PC_IDLE, PC_IN_USE, PC_CLOSING };

struct coil_connpool {
	struct coil_loop *loop;
	const struct coil_connpool_ops *ops;
	void *arg;
	struct coil_connpool_opts o;
	struct coil__waitq wq;			  /* acquires; arg = the slot */
	struct coil__waitq fq;			  /* fresh acquires, the same */
	struct coil__waitq closeq;		  /* the close's done op */
	struct coil_pconn *idle_head, *idle_tail; /* newest .. oldest */
	unsigned size, nidle, in_use, opening, checking, nclosing;
	struct coil_op timer; /* idle expiry */
	uint64_t timer_at;    /* 0 = not armed */
	int closing;
	struct coil_connpool_stats st;
};

static void serve(struct coil_connpool *p);

/* ---- idle list ---------------------------------------------------------- */

static void idle_unlink(struct coil_connpool *p, struct coil_pconn *pc)
{
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		p->idle_head = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	else
		p->idle_tail = pc->prev;
	pc->next = pc->prev = NULL;
	p->nidle--;
}

static void timer_cb(struct coil_op *op, int res, unsigned flags);

/* Keep the expiry timer armed for the oldest idle connection. */
static void timer_sync(struct coil_connpool *p)
{
	uint64_t at;

	if (p->timer_at || !p->idle_tail || p->closing ||
	    p->o.idle_timeout_ns == UINT64_MAX)
		return;
	at = p->idle_tail->idle_since + p->o.idle_timeout_ns;
	coil_op_init(&p->timer, timer_cb);
	if (coil_timeout(p->loop, &p->timer, at, COIL_TIMEOUT_ABS) == 0) {
		coil__mark_internal(&p->timer);
		p->timer_at = at;
	}
}

static void close_pc(struct coil_connpool *p, struct coil_pconn *pc);

/* Close the oldest idle connection (to keep max_idle, or make room). */
static void close_oldest_idle(struct coil_connpool *p)
{
	struct coil_pconn *pc = p->idle_tail;

	idle_unlink(p, pc);
	p->st.idle_closed++;
	close_pc(p, pc);
}

static void idle_push(struct coil_connpool *p, struct coil_pconn *pc)
{
	if (p->nidle >= p->o.max_idle)
		close_oldest_idle(p);
	pc->state = PC_IDLE;
	pc->idle_since = coil_now(p->loop);
	pc->prev = NULL;
	pc->next = p->idle_head;
	if (p->idle_head)
		p->idle_head->prev = pc;
	else
		p->idle_tail = pc;
	p->idle_head = pc;
	p->nidle++;
	timer_sync(p);
}

/* ---- states ------------------------------------------------------------- */

static void close_pc(struct coil_connpool *p, struct coil_pconn *pc)
{
	pc->state = PC_CLOSING;
	p->nclosing++;
	p->ops->close(p, pc);
}

static void maybe_done(struct coil_connpool *p)
{
	struct coil_op *d;

	if (!p->closing || p->size || p->timer_at)
		return;
	d = coil__waitq_pop(&p->closeq);
	if (d)
		coil__post(p->loop, d, 0);
}

/* Fresh waiters not covered by an open in progress. */
static unsigned fresh_unserved(const struct coil_connpool *p)
{
	return p->fq.count > p->opening ? p->fq.count - p->opening : 0;
}

/* Other waiters not covered by a check, or an open left over once the
 * fresh waiters have theirs. */
static unsigned any_unserved(const struct coil_connpool *p)
{
	unsigned opens =
		p->opening > p->fq.count ? p->opening - p->fq.count : 0;
	unsigned supply = opens + p->checking;

	return p->wq.count > supply ? p->wq.count - supply : 0;
}

/* Hand @pc to the oldest waiter of @q. */
static void give(struct coil_connpool *p, struct coil__waitq *q,
		 struct coil_pconn *pc)
{
	struct coil_op *op = coil__waitq_pop(q);
	struct coil_pconn **slot = coil__wait_arg(op);

	pc->state = PC_IN_USE;
	p->in_use++;
	p->st.acquired++;
	*slot = pc;
	coil__post(p->loop, op, 0);
}

/* A connection ready for use (opened: @fresh, or checked): to the oldest
 * waiter that may take it, else idle; closed if the pool is closing. */
static void settle(struct coil_connpool *p, struct coil_pconn *pc, int fresh)
{
	if (p->closing)
		close_pc(p, pc);
	else if (fresh && p->fq.count)
		give(p, &p->fq, pc);
	else if (p->wq.count)
		give(p, &p->wq, pc);
	else
		idle_push(p, pc);
}

/* An open failed: the oldest waiter it was promised to gets @err. */
static void fail_oldest(struct coil_connpool *p, int err)
{
	struct coil__waitq *q = fresh_unserved(p) ? &p->fq : &p->wq;
	struct coil_op *op = coil__waitq_pop(q);
	if (op)
		coil__post(p->loop, op, err);
}

static int start_open(struct coil_connpool *p)
{
	int ret;

	p->size++;
	p->opening++;
	ret = p->ops->open(p);
	if (ret < 0) {
		p->size--;
		p->opening--;
		p->st.open_failed++;
	}
	return ret;
}

static void start_check(struct coil_connpool *p, struct coil_pconn *pc)
{
	pc->state = PC_CHECKING;
	p->checking++;
	p->st.checks++;
	if (p->ops->check(p, pc) < 0) {
		p->checking--;
		p->st.check_failed++;
		close_pc(p, pc);
	}
}

/* Keep min_idle connections open (never after a failed open: the next
 * acquire tries again, so a dead server is not hammered). */
static void maintain(struct coil_connpool *p)
{
	while (!p->closing && p->size - p->nclosing < p->o.min_idle &&
	       p->size < p->o.max_size) {
		if (start_open(p) < 0)
			break;
	}
}

static void serve(struct coil_connpool *p)
{
	/* (the idle time decides a check: read the clock, not the turn's) */
	uint64_t now = p->ops->check && p->idle_head ? coil_now_update(p->loop)
						     : coil_now(p->loop);

	while (!p->closing) {
		struct coil_pconn *pc = p->idle_head;
		unsigned fresh = fresh_unserved(p);
		unsigned any = any_unserved(p);

		if (any && pc) {
			idle_unlink(p, pc);
			if (p->ops->check &&
			    now - pc->idle_since >= p->o.check_idle_ns) {
				start_check(p, pc);
				continue;
			}
			p->st.reused++;
			give(p, &p->wq, pc);
			continue;
		}
		if (!fresh && !any)
			break;
		if (p->size < p->o.max_size) {
			int ret = start_open(p);
			if (ret < 0)
				fail_oldest(p, ret);
			continue;
		}
		/* full: a fresh waiter gets room by closing an idle one
		 * (every connection closing makes room when it is gone) */
		if (fresh > p->nclosing && p->idle_tail) {
			close_oldest_idle(p);
			continue;
		}
		break;
	}
}

static void timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_connpool *p =
		coil_container_of(op, struct coil_connpool, timer);
	uint64_t now = coil_now_update(p->loop);

	(void)res;
	(void)flags;
	p->timer_at = 0;
	while (!p->closing && p->idle_tail &&
	       p->idle_tail->idle_since + p->o.idle_timeout_ns <= now &&
	       p->size - p->nclosing > p->o.min_idle) {
		struct coil_pconn *pc = p->idle_tail;
		idle_unlink(p, pc);
		p->st.idle_expired++;
		p->st.idle_closed++;
		close_pc(p, pc);
	}
	/* kept for min_idle: look again a timeout later */
	if (p->idle_tail &&
	    p->idle_tail->idle_since + p->o.idle_timeout_ns <= now)
		p->idle_tail->idle_since = now;
	timer_sync(p);
	maybe_done(p);
}

/* ---- API ---------------------------------------------------------------- */

static int cancel_counted(struct coil_connpool *p, struct coil__waitq *wq,
			  struct coil_op *op)
{
	int timed = op && (op->state & ST_TIMED_OUT);
	int ret = coil__waitq_cancel_default(wq, op);

	if (ret == 0 && timed)
		p->st.timed_out++;
	return ret;
}

static int pool_cancel_hook(struct coil__waitq *wq, struct coil_op *op)
{
	return cancel_counted(coil_container_of(wq, struct coil_connpool, wq),
			      wq, op);
}

static int fresh_cancel_hook(struct coil__waitq *wq, struct coil_op *op)
{
	return cancel_counted(coil_container_of(wq, struct coil_connpool, fq),
			      wq, op);
}

int coil_connpool_new(struct coil_connpool **out, struct coil_loop *loop,
		      const struct coil_connpool_ops *ops, void *arg,
		      const struct coil_connpool_opts *opts)
{
	struct coil_connpool *p;

	if (!out || !loop || !ops || !ops->open || !ops->close)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts)
		p->o = *opts;
	if (!p->o.max_size)
		p->o.max_size = 10;
	if (!p->o.idle_timeout_ns)
		p->o.idle_timeout_ns = 60000000000ull;
	if (!p->o.max_idle)
		p->o.max_idle = p->o.max_size;
	if (p->o.min_idle > p->o.max_size || p->o.max_idle > p->o.max_size ||
	    p->o.min_idle > p->o.max_idle) {
		free(p);
		return -EINVAL;
	}
	p->loop = loop;
	p->ops = ops;
	p->arg = arg;
	coil__waitq_init(&p->wq, loop, pool_cancel_hook);
	coil__waitq_init(&p->fq, loop, fresh_cancel_hook);
	coil__waitq_init(&p->closeq, loop, NULL);
	*out = p;
	maintain(p);
	return 0;
}

void *coil_connpool_arg(const struct coil_connpool *p)
{
	return p ? p->arg : NULL;
}

int coil_connpool_try_acquire(struct coil_connpool *p, struct coil_pconn **slot)
{
	struct coil_pconn *pc;

	if (!p || !slot)
		return -EINVAL;
	if (p->closing)
		return COIL_ECLOSED;
	pc = p->idle_head;
	/* (older waiters first; a connection due for a check is not
	 * handed out unchecked) */
	if (!pc || p->wq.count || p->fq.count ||
	    (p->ops->check &&
	     coil_now_update(p->loop) - pc->idle_since >= p->o.check_idle_ns))
		return -EAGAIN;
	idle_unlink(p, pc);
	pc->state = PC_IN_USE;
	p->in_use++;
	p->st.acquired++;
	p->st.reused++;
	*slot = pc;
	return 0;
}

static int acquire(struct coil_connpool *p, struct coil__waitq *q,
		   struct coil_op *op, struct coil_pconn **slot)
{
	int ret;

	if (!p || !op || !slot)
		return -EINVAL;
	ret = coil__can_start(p->loop, op);
	if (ret)
		return ret;
	if (p->closing)
		return COIL_ECLOSED;
	if (coil__wait_due(p->loop)) {
		coil__post_new(p->loop, op, -ETIMEDOUT);
		return 0;
	}
	/* everyone queues, so nobody overtakes an older waiter; serve()
	 * hands out at once what is there */
	ret = coil__waitq_push(q, op, slot);
	if (ret < 0)
		return ret;
	serve(p);
	if (!(op->state & ST_POSTED))
		p->st.waited++;
	return 0;
}

int coil_connpool_acquire(struct coil_connpool *p, struct coil_op *op,
			  struct coil_pconn **slot)
{
	return acquire(p, p ? &p->wq : NULL, op, slot);
}

int coil_connpool_acquire_fresh(struct coil_connpool *p, struct coil_op *op,
				struct coil_pconn **slot)
{
	return acquire(p, p ? &p->fq : NULL, op, slot);
}

int coil_connpool_withdraw(struct coil_connpool *p, struct coil_op *op)
{
	if (!p || !op)
		return -EINVAL;
	if (coil__waitq_withdraw(&p->wq, op) == 0 ||
	    coil__waitq_withdraw(&p->fq, op) == 0)
		return 0;
	return -ENOENT;
}

struct coil_op *coil_connpool_pass(struct coil_connpool *p,
				   struct coil_pconn *pc)
{
	struct coil_op *op;
	struct coil_pconn **slot;

	if (!p || !pc || pc->pool != p || pc->state != PC_IN_USE ||
	    p->closing || !any_unserved(p))
		return NULL;
	op = p->wq.head;
	slot = coil__wait_arg(op);
	coil__waitq_withdraw(&p->wq, op);
	*slot = pc;
	p->st.acquired++;
	return op;
}

int coil_connpool_release(struct coil_connpool *p, struct coil_pconn *pc)
{
	if (!p || !pc || pc->pool != p || pc->state != PC_IN_USE)
		return -EINVAL;
	p->in_use--;
	if (p->closing) {
		close_pc(p, pc);
	} else if (any_unserved(p)) {
		give(p, &p->wq, pc); /* used a moment ago: no check */
	} else {
		idle_push(p, pc);
		if (fresh_unserved(p))
			serve(p); /* room for a fresh one, if full */
	}
	return 0;
}

int coil_connpool_discard(struct coil_connpool *p, struct coil_pconn *pc)
{
	if (!p || !pc || pc->pool != p || pc->state != PC_IN_USE)
		return -EINVAL;
	p->in_use--;
	p->st.discarded++;
	close_pc(p, pc);
	serve(p);
	return 0;
}

void coil_connpool_opened(struct coil_connpool *p, struct coil_pconn *pc,
			  int status)
{
	p->opening--;
	if (status < 0 || !pc) {
		p->size--;
		p->st.open_failed++;
		/* the open was promised to the oldest waiter beyond the rest
		 * of the supply: that one gets the error; the others keep
		 * theirs, and those the limit held back get an open now */
		if (fresh_unserved(p) || any_unserved(p))
			fail_oldest(p, status < 0 ? status : -EINVAL);
		serve(p);
		maybe_done(p);
		return;
	}
	pc->pool = p;
	pc->next = pc->prev = NULL;
	p->st.opened++;
	settle(p, pc, 1);
}

void coil_connpool_lost(struct coil_connpool *p, struct coil_pconn *pc)
{
	if (!p || !pc || pc->pool != p || pc->state != PC_IDLE)
		return;
	idle_unlink(p, pc);
	p->st.idle_closed++;
	close_pc(p, pc);
	maintain(p);
}

unsigned coil_connpool_close_idle(struct coil_connpool *p, unsigned n)
{
	unsigned done = 0;

	while (p && done < n && p->idle_tail) {
		close_oldest_idle(p);
		done++;
	}
	return done;
}

void coil_connpool_checked(struct coil_connpool *p, struct coil_pconn *pc,
			   int ok)
{
	p->checking--;
	if (!ok) {
		p->st.check_failed++;
		close_pc(p, pc);
		serve(p);
		return;
	}
	settle(p, pc, 0);
}

void coil_connpool_closed(struct coil_connpool *p, struct coil_pconn *pc)
{
	pc->pool = NULL;
	pc->state = 0;
	p->size--;
	p->nclosing--;
	p->st.closed++;
	if (p->closing) {
		maybe_done(p);
		return;
	}
	serve(p);
	maintain(p);
}

int coil_connpool_close(struct coil_connpool *p, struct coil_op *done)
{
	struct coil_op *op;

	if (!p)
		return -EINVAL;
	if (p->closing)
		return -EALREADY;
	if (done && coil__can_start(p->loop, done))
		return coil__can_start(p->loop, done);
	p->closing = 1;
	while ((op = coil__waitq_pop(&p->wq)))
		coil__post(p->loop, op, COIL_ECLOSED);
	while ((op = coil__waitq_pop(&p->fq)))
		coil__post(p->loop, op, COIL_ECLOSED);
	while (p->idle_head) {
		struct coil_pconn *pc = p->idle_head;
		idle_unlink(p, pc);
		close_pc(p, pc);
	}
	if (p->timer_at && coil_timeout_remove(p->loop, &p->timer) < 0)
		p->timer_at = 0;
	/* (a wait: in flight until every connection is closed) */
	if (done)
		coil__waitq_park(&p->closeq, done, NULL, 0);
	maybe_done(p);
	return 0;
}

void coil_connpool_free(struct coil_connpool *p)
{
	free(p);
}

void coil_connpool_stats(const struct coil_connpool *p,
			 struct coil_connpool_stats *st)
{
	if (!p || !st)
		return;
	*st = p->st;
	st->size = p->size;
	st->idle = p->nidle;
	st->in_use = p->in_use;
	st->opening = p->opening;
	st->waiting = p->wq.count + p->fq.count;
	st->idle_since = p->idle_tail ? p->idle_tail->idle_since : 0;
}
