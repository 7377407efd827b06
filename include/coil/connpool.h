/*
 * coil/connpool.h - a connection pool for request/response protocols
 * (asyncpg's Pool, redis-py's ConnectionPool), independent of the
 * protocol: the pool decides when to open, hand out, check, keep and
 * close connections; the protocol says how, through a small table of
 * functions (struct coil_connpool_ops), and embeds a struct coil_pconn in
 * its own connection struct (a TCP or TLS coil_stream and its parser).
 *
 * Limits: at most max_size connections exist at once, counting those
 * being opened, checked, in use, idle and closing (a connection counts
 * until the protocol reports it closed, so the server never sees more).
 * The pool keeps min_idle connections open even when nobody asks (opened
 * in the background, never closed for idleness), closes connections idle
 * longer than idle_timeout_ns (oldest first), and reuses the most recently
 * used idle connection first (the least likely to have been dropped by
 * the server).
 *
 * Acquiring is a wait (coil/async.h): it takes a struct coil_op, honours
 * coil_op_timeout(), deadline scopes and carried deadlines (-ETIMEDOUT),
 * coil_cancel() (-ECANCELED) and coil_loop_drain(), and waiters are
 * served in FIFO order. A connection idle for longer than check_idle_ns is
 * health-checked (the ops' check hook, e.g. a PING) before it is handed
 * out; one that fails is closed and the waiter gets another.
 *
 * The HTTP client's per-host pools are this pool (one per host, with the
 * client's global limit kept by its open hook): its keep-alive reuse,
 * max_idle, fresh acquires after a stale reuse and idle expiry are the
 * ones below.
 *
 * Loop thread only, like every primitive of coil/async.h.
 */
#ifndef COIL_CONNPOOL_H
#define COIL_CONNPOOL_H

#include <stdint.h>

#include "coil/async.h"

#ifdef __cplusplus
extern "C" {
#endif

struct coil_connpool;

/* A pooled connection: embed it in the protocol's connection struct. */
struct coil_pconn {
	void *data; /* the protocol's, untouched by the pool */
	/* private */
	struct coil_connpool *pool;
	struct coil_pconn *next, *prev; /* idle list, or the open list */
	uint64_t idle_since;
	unsigned state;
};

/*
 * What the protocol provides. Each hook runs on the loop thread and
 * reports back later (or from inside the hook) with the matching
 * coil_connpool_*() call below.
 *  - open:  start opening a new connection (connect, TLS, AUTH/SELECT ...)
 *           and report with coil_connpool_opened(). Return 0, or -errno
 *           if it failed at once (then do not report).
 *  - close: close @pc and report with coil_connpool_closed() when its
 *           resources are gone (the stream's close callback).
 *  - check: optional; test an idle connection before reuse (a PING) and
 *           report with coil_connpool_checked(). Return 0, or -errno if
 *           it failed at once (then do not report).
 */
struct coil_connpool_ops {
	int (*open)(struct coil_connpool *p);
	void (*close)(struct coil_connpool *p, struct coil_pconn *pc);
	int (*check)(struct coil_connpool *p, struct coil_pconn *pc);
};

/* Options; zero means default. */
struct coil_connpool_opts {
	unsigned max_size;	  /* connections at most, default 10 */
	unsigned min_idle;	  /* kept open even when unused, default 0 */
	unsigned max_idle;	  /* idle ones kept at most, default max_size:
				     a release beyond closes the oldest */
	uint64_t idle_timeout_ns; /* close idle ones after, default 60 s;
				     UINT64_MAX = never */
	uint64_t check_idle_ns;	  /* check before reuse if idle this long;
				     default 0 = every reuse from idle
				     (only with a check hook) */
};

struct coil_connpool_stats {
	/* now */
	unsigned size;	     /* connections counted against max_size */
	unsigned idle;	     /* idle, ready to hand out */
	unsigned in_use;     /* handed out, not yet released */
	unsigned opening;    /* being opened */
	unsigned waiting;    /* acquires waiting (fresh ones too) */
	uint64_t idle_since; /* when the oldest idle one went idle
				(coil_now() ns), 0 if none is idle */
	/* since coil_connpool_new() */
	uint64_t opened;       /* opens that succeeded */
	uint64_t open_failed;  /* opens that failed */
	uint64_t closed;       /* connections closed (reported) */
	uint64_t acquired;     /* acquires that got a connection */
	uint64_t reused;       /* ... of which an idle one */
	uint64_t waited;       /* acquires not served at once (open,
				  check or a release needed) */
	uint64_t timed_out;    /* acquires that ended -ETIMEDOUT */
	uint64_t checks;       /* health checks run */
	uint64_t check_failed; /* ... that failed */
	uint64_t idle_expired; /* closed for idleness */
	uint64_t idle_closed;  /* idle ones closed before reuse: expired,
				  lost, beyond max_idle, to make room, or by
				  coil_connpool_close_idle() */
	uint64_t discarded;    /* coil_connpool_discard() calls */
};

/*
 * coil_connpool_new() - a pool for @loop.
 * @ops: kept by reference; must outlive the pool.
 * @arg: the protocol's, returned by coil_connpool_arg().
 * Opens min_idle connections in the background at once.
 * Return: 0; -EINVAL for NULL arguments, no open/close hook, min_idle >
 * max_idle or max_idle > max_size; -ENOMEM.
 */
int coil_connpool_new(struct coil_connpool **out, struct coil_loop *loop,
		      const struct coil_connpool_ops *ops, void *arg,
		      const struct coil_connpool_opts *opts);

/* The @arg given to coil_connpool_new(). */
void *coil_connpool_arg(const struct coil_connpool *p);

/*
 * coil_connpool_acquire() - get a connection for exclusive use.
 * @op:   initialised, not in flight.
 * @slot: receives the connection before @op's callback runs.
 * Hands out an idle connection (checked first if idle long enough), else
 * opens one if the pool is below max_size, else waits (FIFO) for a
 * release.
 * Callback: 0 (*slot is yours: coil_connpool_release() or
 * coil_connpool_discard() it); -ETIMEDOUT; -ECANCELED; the open's error
 * when the connection opened for this waiter failed (-ECONNREFUSED ...);
 * COIL_ECLOSED if the pool is closed while waiting.
 * Return: 0; -EINVAL for NULL; -EBUSY if @op is in flight; COIL_ECLOSED
 * after coil_connpool_close(); -ECANCELED if the loop is cancelling.
 */
int coil_connpool_acquire(struct coil_connpool *p, struct coil_op *op,
			  struct coil_pconn **slot);

/*
 * coil_connpool_acquire_fresh() - coil_connpool_acquire() for a
 * connection opened for it, never an idle or released one: what a
 * protocol needs after a reused connection failed before any answer
 * (RFC 9112 §9.3.1: retry on a new connection). Fresh acquires queue
 * FIFO among themselves and are served by opens first; when the pool is
 * at max_size, idle connections are closed to make room.
 * Callback and return: as coil_connpool_acquire().
 */
int coil_connpool_acquire_fresh(struct coil_connpool *p, struct coil_op *op,
				struct coil_pconn **slot);

/*
 * coil_connpool_try_acquire() - take the most recently used idle
 * connection now, without waiting or a callback (the fast path of a
 * keep-alive client): only when no acquire waits (FIFO stays fair) and
 * the connection needs no health check.
 * Return: 0 (*slot is yours, as after an acquire); -EAGAIN when none can
 * be had at once (acquire instead); -EINVAL for NULL; COIL_ECLOSED after
 * coil_connpool_close().
 */
int coil_connpool_try_acquire(struct coil_connpool *p,
			      struct coil_pconn **slot);

/*
 * coil_connpool_withdraw() - undo an acquire that still waits: @op
 * leaves the queue, is no longer in flight and its callback will not
 * run (coil_waitlist_remove()'s rule; coil_cancel() instead ends it
 * with -ECANCELED on the next turn). An open started for it goes on and
 * serves the next waiter, or the idle list.
 * Return: 0; -EINVAL for NULL; -ENOENT if @op does not wait (its
 * callback is due: with a connection in its slot, or an error).
 */
int coil_connpool_withdraw(struct coil_connpool *p, struct coil_op *op);

/* coil_connpool_release() - give a healthy connection back: to the oldest
 * waiter, else to the idle list. Return: 0; -EINVAL if @pc is not in use. */
int coil_connpool_release(struct coil_connpool *p, struct coil_pconn *pc);

/*
 * coil_connpool_pass() - hand @pc, in use, straight to the oldest waiting
 * acquire, the way coil_connpool_release() would, but without its
 * callback: the acquire leaves the queue (no longer in flight, its
 * callback will not run) with @pc in its slot, and is returned for the
 * protocol to carry on inline (a keep-alive client starts the next
 * queued request in the same turn, as it did before the pool: no loop
 * turn in between). Fresh acquires are never passed a connection.
 * Return: the acquire's op; NULL when none waits for a connection (or
 * @pc is not in use, or the pool is closing): release @pc instead.
 */
struct coil_op *coil_connpool_pass(struct coil_connpool *p,
				   struct coil_pconn *pc);

/* coil_connpool_discard() - give back a connection that must not be
 * reused (out of sync, broken): the pool closes it (and may open another
 * for waiters). Return: 0; -EINVAL if @pc is not in use. */
int coil_connpool_discard(struct coil_connpool *p, struct coil_pconn *pc);

/* coil_connpool_close_idle() - close up to @n idle connections, oldest
 * first (room for another pool under a limit the protocol shares between
 * pools, as the HTTP client's global one). Return: how many it closed. */
unsigned coil_connpool_close_idle(struct coil_connpool *p, unsigned n);

/* ---- the protocol's reports ------------------------------------------- */

/* An open finished: @pc (its memory the protocol's, embedded in its
 * connection) with @status 0, or @pc NULL with @status -errno. */
void coil_connpool_opened(struct coil_connpool *p, struct coil_pconn *pc,
			  int status);

/* A close finished: the pool forgets @pc (the protocol may free it now). */
void coil_connpool_closed(struct coil_connpool *p, struct coil_pconn *pc);

/* An idle connection died on its own (the server closed it, a reset): the
 * pool takes it off the idle list and closes it. Ignored for connections
 * not idle (give those back with coil_connpool_discard()). */
void coil_connpool_lost(struct coil_connpool *p, struct coil_pconn *pc);

/* A check finished: @ok nonzero if the connection may be used. */
void coil_connpool_checked(struct coil_connpool *p, struct coil_pconn *pc,
			   int ok);

/* ---- the end ------------------------------------------------------------ */

/*
 * coil_connpool_close() - stop: waiting acquires complete with
 * COIL_ECLOSED, idle connections are closed now and those in use when
 * released (or discarded); @done (may be NULL) completes with 0 once every
 * connection has been reported closed. Then free the pool.
 * Return: 0; -EINVAL; -EALREADY if already closing.
 */
int coil_connpool_close(struct coil_connpool *p, struct coil_op *done);

/* coil_connpool_free() - free a pool whose close is done (or that never
 * opened anything). NULL is ignored. */
void coil_connpool_free(struct coil_connpool *p);

void coil_connpool_stats(const struct coil_connpool *p,
			 struct coil_connpool_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* COIL_CONNPOOL_H */
