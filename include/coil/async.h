/*
 * coil/async.h - the async patterns, in C: group (gather / TaskGroup),
 * semaphore, rate limiter, retry with backoff, queue, event, loop drain,
 * the offload pool (run_in_executor) and name resolution on it.
 *
 * Rules every function below follows, on top of coil/engine.h's:
 *  - A primitive (group, semaphore, rate limiter, retry, queue, event,
 *    resolver) belongs to one loop and is used only on that loop's thread;
 *    nothing here takes a lock except the offload pool, which several loops
 *    may share.
 *  - Waiting is an op: a call that may wait takes a struct coil_op (set up
 *    with coil_op_init()) and returns 0 when it accepted it; the op's
 *    callback then runs exactly once, on the loop, never inline from the
 *    call, even when nothing had to wait. A call that returns an error did
 *    not accept the op and its callback will not run.
 *  - A waiting op counts as in flight (coil_loop_inflight()), so
 *    coil_loop_run(COIL_RUN_DEFAULT) keeps running while something waits.
 *  - coil_cancel() works on every waiting op here too: the op's callback
 *    runs with -ECANCELED (next turn). coil_loop_drain() cancels them all.
 *  - Waits honour time limits like kernel ops do: the earliest of the
 *    op's coil_op_timeout(), the deadline scope's (coil_deadline_enter())
 *    and the task's carried deadline (coil_task_deadline_enter()) bounds
 *    the wait, and a wait still waiting then completes with -ETIMEDOUT
 *    (having taken nothing: no permit, no item). A wait started after its
 *    deadline completes with -ETIMEDOUT on the next turn, even if it could
 *    have been granted at once. This covers a semaphore, rate limiter,
 *    queue put/get/join, event, a group's end (the group is cancelled:
 *    see coil_group_wait()) and a pool job that has not started yet.
 *    The loop keeps one IORING_OP_TIMEOUT for all of them
 *    (engine/deadline.c), so a timed wait costs no extra SQE per wait.
 *  - Durations are uint64_t nanoseconds; times are coil_now() values
 *    (CLOCK_MONOTONIC).
 */
#ifndef COIL_ASYNC_H
#define COIL_ASYNC_H

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Private: a FIFO of ops waiting on a primitive, linked into its loop's
 * list while it holds waiters so that coil_cancel() and coil_loop_drain()
 * can find them. Embedded in the primitives below; never touch it.
 */
struct coil__waitq {
	struct coil__waitq *next, *prev; /* the loop's list, while linked */
	struct coil_loop *loop;
	struct coil_op *head, *tail; /* waiting ops, oldest first */
	unsigned count;
	unsigned pinned; /* stay linked even without waiters */
	unsigned linked;
	unsigned long epoch; /* drain's visit mark */
	/* Cancel @op (NULL: everything) when the waiters are not plain
	 * FIFO entries; 0 if handled, -ENOENT if @op is not this queue's. */
	int (*cancel)(struct coil__waitq *wq, struct coil_op *op);
};

/* ==== wait list: waits of your own ====================================== */

struct coil_waitlist;

/* Told that @op left the list by coil_cancel() (res -ECANCELED), its
 * deadline (-ETIMEDOUT) or coil_loop_drain() (-ECANCELED); the op's own
 * callback follows on the next turn with @res. */
typedef void (*coil_waitlist_fn)(struct coil_waitlist *wl, struct coil_op *op,
				 int res);

/*
 * A FIFO of waiting ops for layers that complete ops in user space (a
 * protocol's requests waiting for their replies), with what every wait
 * here gets from the engine: ops in it count as in flight, honour
 * coil_op_timeout(), deadline scopes and carried deadlines, and can be
 * cancelled with coil_cancel() or by coil_loop_drain().
 */
struct coil_waitlist {
	/* private */
	struct coil__waitq wq;
	coil_waitlist_fn left;
	unsigned defer;
};

/* coil_waitlist_init() - an empty list on @loop; @left (may be NULL) hears
 * of ops that leave it by cancel or deadline. Return: 0; -EINVAL. */
int coil_waitlist_init(struct coil_waitlist *wl, struct coil_loop *loop,
		       coil_waitlist_fn left);

/*
 * coil_waitlist_add() - append @op (initialised, not in flight); it waits
 * until coil_waitlist_complete(). A wait started past its deadline
 * completes with -ETIMEDOUT on the next turn instead (and is not added).
 * Return: 0; -EINVAL; -EBUSY if @op is in flight; -ECANCELED while the
 * loop is cancelling.
 */
int coil_waitlist_add(struct coil_waitlist *wl, struct coil_op *op);

/*
 * coil_waitlist_defer() - for ops that stand for work which must be
 * stopped before they may end (a request on a connection): from now on
 * an op cancelled or past its deadline stays in the list and @left is
 * asked (with -ECANCELED or -ETIMEDOUT) to stop the work; the layer then
 * completes the op itself with coil_waitlist_complete(), where an
 * -ECANCELED result reads -ETIMEDOUT if the deadline was the cause.
 */
void coil_waitlist_defer(struct coil_waitlist *wl);

/* coil_waitlist_remove() - undo coil_waitlist_add(): @op leaves, is no
 * longer in flight and its callback will not run (for a layer whose own
 * start failed right after adding). Return: 0; -ENOENT. */
int coil_waitlist_remove(struct coil_waitlist *wl, struct coil_op *op);

/* The oldest waiting op, or NULL. */
struct coil_op *coil_waitlist_first(const struct coil_waitlist *wl);

/* coil_waitlist_complete() - take @op out and complete it with @res on the
 * next turn. Return: 0; -ENOENT if @op does not wait here. */
int coil_waitlist_complete(struct coil_waitlist *wl, struct coil_op *op,
			   int res);

/* Ops waiting. */
unsigned coil_waitlist_len(const struct coil_waitlist *wl);

/* ==== group: gather / TaskGroup ========================================= */

/* Collect-all: done when every child has ended; each child's result is
 * kept (asyncio.gather(..., return_exceptions=True)). */
#define COIL_GROUP_ALL 0
/* Fail-fast: the first child that fails (result < 0) cancels every other
 * child; done when all have ended, reporting that first error (TaskGroup). */
#define COIL_GROUP_FAIL_FAST 1

struct coil_group_child;

/* A task child's cancel hook: asked, on the loop thread, to make the task
 * end soon (cancel its ops). The task must still report its end with
 * coil_group_child_done(). Must not free the child. */
typedef void (*coil_group_cancel_fn)(struct coil_group_child *c);

/*
 * A child of a group. Embed it in your own struct and keep it in place
 * until the group's done callback has run (the group reads it until then).
 * Op children: after coil_group_add(), submit @op with any coil_* call
 * (a socket op, a timer, a coil_sem_acquire(), a coil_pool_submit(), ...).
 * Task children (several ops in a row, your own state machine): after
 * coil_group_add_task(), end the task with coil_group_child_done().
 */
struct coil_group_child {
	struct coil_op op; /* the op children submit; the group owns op.cb */
	void *data;	   /* the caller's */
	int res;	   /* the child's result, once it has ended */
	/* private */
	coil_op_cb cb;
	coil_group_cancel_fn cancel;
	struct coil_group *group;
	struct coil_group_child *next;
	unsigned index;
	unsigned state;
};

struct coil_group {
	/* private */
	struct coil__waitq wq; /* holds the done op */
	struct coil_group_child *head, *tail;
	unsigned mode;
	unsigned nchildren, nlive, nfailed;
	int first_err;
	unsigned cancelled;
	unsigned timed_out;
	unsigned done;
};

/*
 * coil_group_init() - set up an empty group.
 * @g:    caller-owned; kept in place until the done callback has run.
 * @loop: the loop every child runs on.
 * @mode: COIL_GROUP_ALL or COIL_GROUP_FAIL_FAST.
 *
 * Also re-initialises a group whose done callback has run.
 * Return: 0; -EINVAL for a NULL argument, an unknown @mode, or a group
 * whose children are still running.
 */
int coil_group_init(struct coil_group *g, struct coil_loop *loop,
		    unsigned mode);

/*
 * coil_group_add() - add an op child.
 * @c:  caller-owned, not in flight; c->op is (re)initialised here, keep
 *      c->data.
 * @cb: optional; runs after the group has recorded the child's result,
 *      with the op's own (op, res, flags) - recover your struct with
 *      coil_container_of(op, ..., child.op). Multishot callbacks with
 *      COIL_MORE are passed through; the final one ends the child.
 *
 * Then submit c->op. If that submission fails, report it with
 * coil_group_child_done(c, err) so that the group does not wait forever.
 * Return: the child's index (>= 0, in the order added); -EINVAL for NULL
 * arguments or a group that is done; -EBUSY if c->op is in flight;
 * -ECANCELED if the group is cancelling (fail-fast after an error, or
 * coil_group_cancel()): do not start the child.
 */
int coil_group_add(struct coil_group *g, struct coil_group_child *c,
		   coil_op_cb cb);

/*
 * coil_group_add_task() - add a task child (your own sequence of ops).
 * @cancel: called when the group cancels (NULL: the task cannot be
 *          stopped and the group waits for it).
 * @cb:     optional, as for coil_group_add().
 *
 * The child counts as in flight on the loop until coil_group_child_done().
 * Return: as coil_group_add().
 */
int coil_group_add_task(struct coil_group *g, struct coil_group_child *c,
			coil_group_cancel_fn cancel, coil_op_cb cb);

/*
 * coil_group_child_done() - end a task child, or an op child whose
 * submission failed.
 * @res: the child's result (< 0 is a failure).
 *
 * The group records it on the next turn (never inline).
 * Return: 0; -EINVAL if @c is not a live child of a group; -EBUSY if c->op
 * is in flight in the kernel (an op child ends through its own callback).
 */
int coil_group_child_done(struct coil_group_child *c, int res);

/*
 * coil_group_wait() - get @op's callback when every child has ended.
 * @op: initialised, not in flight.
 *
 * Result to @op's callback: COIL_GROUP_ALL: the number of children that
 * failed (0..n); COIL_GROUP_FAIL_FAST: 0, or the first child's error;
 * -ECANCELED in either mode after coil_group_cancel() or coil_cancel(@op);
 * -ETIMEDOUT if the wait's deadline passed first.
 *
 * A timeout around a group (asyncio.timeout around a TaskGroup): give the
 * wait one, with coil_op_timeout(@op, ns) before this call or a deadline
 * scope around it. When it passes, the group cancels every child still
 * running (as coil_group_cancel()), waits for them all to end (each
 * child's callback runs once, with -ECANCELED or its own result) and
 * then completes @op with -ETIMEDOUT. Called after the deadline has
 * passed, it cancels the children at once and ends the same way.
 * Children may still be added while waiting (from children's callbacks).
 * Return: 0; -EINVAL for NULL arguments or a group that is done; -EBUSY if
 * @op is in flight or the group already has a waiter.
 */
int coil_group_wait(struct coil_group *g, struct coil_op *op);

/*
 * coil_group_cancel() - cancel every child still running (coil_cancel() on
 * op children, the cancel hook of task children). The group stays
 * cancelled: later coil_group_add() calls fail with -ECANCELED.
 * Return: 0; -EINVAL for NULL or a group that is done.
 */
int coil_group_cancel(struct coil_group *g);

/*
 * coil_group_results() - copy the children's results in the order added.
 * @out: room for @n ints. Results of children still running read as
 *       -EINPROGRESS.
 * Return: the number of children (may exceed @n; only @n are written).
 */
unsigned coil_group_results(const struct coil_group *g, int *out, unsigned n);

/* ==== semaphore ========================================================== */

/*
 * The lock (asyncio.Lock) is coil_sem_init(&s, loop, 1, 1): acquire takes
 * it (FIFO among waiters, so nobody starves), coil_sem_release() gives it
 * to the oldest waiter, and the bound of 1 turns a double release into
 * -EOVERFLOW instead of a second holder. A lock held across callbacks is
 * the same object: nothing here is reentrant or tied to a thread. A
 * timeout on the acquire (coil_op_timeout()) is asyncio's
 * wait_for(lock.acquire(), t).
 */

struct coil_sem {
	/* private */
	struct coil__waitq wq;
	unsigned count, max;
};

/*
 * coil_sem_init() - a counting semaphore (asyncio.Semaphore; with @max,
 * BoundedSemaphore) with a FIFO of waiting ops.
 * @count: permits available now.
 * @max:   most permits it may hold (release beyond fails); 0 = no bound.
 * Return: 0; -EINVAL for NULL arguments or @count > @max.
 */
int coil_sem_init(struct coil_sem *sem, struct coil_loop *loop, unsigned count,
		  unsigned max);

/*
 * coil_sem_acquire() - take one permit, waiting in FIFO order if none.
 * @op: initialised, not in flight.
 *
 * Callback: 0 once the permit is yours (release it with coil_sem_release());
 * -ECANCELED if cancelled while waiting (no permit taken); -ETIMEDOUT if
 * its deadline passed first (no permit taken). A permit that is
 * free is taken at once; the callback still runs on the next turn. A new
 * acquire never overtakes an older waiter.
 * Return: 0; -EINVAL for NULL arguments; -EBUSY if @op is in flight;
 * -ECANCELED if the loop is cancelling (coil_loop_drain()).
 */
int coil_sem_acquire(struct coil_sem *sem, struct coil_op *op);

/* coil_sem_try_acquire() - take a permit only if one is free and nobody
 * waits. Return: 0; -EAGAIN; -EINVAL for NULL. */
int coil_sem_try_acquire(struct coil_sem *sem);

/*
 * coil_sem_release() - give a permit back. If ops wait, the oldest gets it
 * (its callback runs on the next turn, never inline); otherwise the count
 * goes up.
 * Return: 0; -EOVERFLOW if the count would exceed @max; -EINVAL for NULL.
 */
int coil_sem_release(struct coil_sem *sem);

/* Free permits, and ops waiting. */
unsigned coil_sem_value(const struct coil_sem *sem);
unsigned coil_sem_waiting(const struct coil_sem *sem);

/* ==== rate limiter ======================================================= */

struct coil_rate {
	/* private */
	struct coil__waitq wq;
	uint64_t permits, period_ns; /* rate: permits per period */
	uint64_t burst;
	uint64_t max_lag_ns;
	uint64_t epoch_ns; /* the schedule's origin */
	uint64_t k;	   /* permits granted since epoch_ns */
	struct coil_op timer;
	unsigned armed;
};

/*
 * coil_rate_init() - a GCRA rate limiter (the token bucket's exact form):
 * @permits per @period_ns, up to @burst at once after an idle spell.
 * @permits:   > 0.
 * @period_ns: > 0 (1000000000 for "per second").
 * @burst:     >= 1 (0 is taken as 1).
 *
 * Permit k of a busy spell is due at epoch + (k - burst + 1) * period /
 * permits, computed from the spell's start (epoch), never by adding up
 * sleeps, so the rate does not drift over long runs: a timer that fires
 * late releases every permit that has come due, in order. If the schedule
 * falls behind by more than the maximum lag (default 1 s; see
 * coil_rate_set_max_lag()), for instance because the loop was stalled, it
 * restarts from now with a full burst rather than releasing the backlog at
 * once. Waiters are released by an IORING_OP_TIMEOUT with IORING_TIMEOUT_ABS
 * (io_uring_prep_timeout(3)). Algorithm: GCRA, ITU-T I.371 "virtual
 * scheduling".
 * Return: 0; -EINVAL for NULL, @permits == 0 or @period_ns == 0.
 */
int coil_rate_init(struct coil_rate *r, struct coil_loop *loop,
		   uint64_t permits, uint64_t period_ns, unsigned burst);

/* coil_rate_set_max_lag() - how far behind the schedule may fall before it
 * restarts (see coil_rate_init()); 0 restores the default 1 s. Return: 0;
 * -EINVAL for NULL. */
int coil_rate_set_max_lag(struct coil_rate *r, uint64_t max_lag_ns);

/*
 * coil_rate_acquire() - wait for a permit; waiters are served in order.
 * Callback: 0 when the permit is due; -ECANCELED if cancelled first.
 * Return: 0; -EINVAL for NULL; -EBUSY if @op is in flight; -ECANCELED if
 * the loop is cancelling; -errno if the timer could not be submitted.
 */
int coil_rate_acquire(struct coil_rate *r, struct coil_op *op);

/* coil_rate_try() - take a permit now if one is due and nobody waits.
 * Return: 0; -EAGAIN; -EINVAL for NULL. */
int coil_rate_try(struct coil_rate *r);

/* coil_rate_next_ns() - when the next permit is due (coil_now() time;
 * now or earlier if one is free). */
uint64_t coil_rate_next_ns(const struct coil_rate *r);

/* ==== retry with backoff ================================================= */

#define COIL_JITTER_NONE 0  /* delay = d */
#define COIL_JITTER_FULL 1  /* delay uniform in [0, d] (AWS "full jitter") */
#define COIL_JITTER_EQUAL 2 /* delay uniform in [d/2, d] ("equal jitter") */

/* The results retried when a policy names none (transport errors). */
#define COIL_RETRY_DEFAULT_ON                                                  \
	-ECONNRESET, -ETIMEDOUT, -ECONNREFUSED, -ECONNABORTED, -EPIPE,         \
		-EAGAIN, -ENETUNREACH, -EHOSTUNREACH
/* HTTP statuses worth retrying (RFC 9110 §15.6.3-15.6.5), for attempts
 * that report the status as their result. */
#define COIL_RETRY_HTTP_ON 502, 503, 504

struct coil_retry_policy {
	unsigned max_attempts; /* attempts in all, the first included; 0 = 3 */
	uint64_t base_ns;      /* d before the 2nd attempt; 0 = 100 ms */
	uint64_t cap_ns;       /* no d exceeds it; 0 = 30 s */
	double multiplier;     /* d grows by it per attempt; 0 = 2.0 */
	unsigned jitter;       /* COIL_JITTER_* */
	const int *retry_on;   /* results that retry; NULL = DEFAULT_ON */
	unsigned retry_on_len;
	uint64_t seed; /* jitter PRNG seed; 0 = from the clock */
};

struct coil_retry;

/*
 * An attempt. Start it and return 0: either submit @op (its result ends
 * the attempt), or run your own ops and end the attempt later with
 * coil_retry_done(). A negative return is the attempt's result (and may be
 * retried). Runs on the loop thread: the first attempt from
 * coil_retry_start(), later ones from the backoff timer's completion.
 */
typedef int (*coil_retry_fn)(struct coil_retry *r, struct coil_op *op,
			     void *arg);

struct coil_retry {
	/* read-only for the caller */
	unsigned attempts; /* attempts started so far */
	int last_err;	   /* the latest failed attempt's result, or 0 */
	uint64_t
		last_delay_ns; /* the backoff slept before the latest attempt */
	/* private */
	struct coil__waitq wq; /* holds the done op */
	struct coil_retry_policy p;
	coil_retry_fn fn;
	void *arg;
	uint64_t rng;
	struct coil_op op;    /* the attempt */
	struct coil_op timer; /* the backoff */
	unsigned state;
	unsigned cancelled;
};

/*
 * coil_retry_delay_bounds() - the range the backoff after attempt @n (1 =
 * after the first) is drawn from under @p: d = min(cap, base *
 * multiplier^(n-1)); [0, d] for full jitter, [d/2, d] for equal, [d, d]
 * for none. Return: 0; -EINVAL for NULL or @n == 0.
 */
int coil_retry_delay_bounds(const struct coil_retry_policy *p, unsigned n,
			    uint64_t *lo_ns, uint64_t *hi_ns);

/*
 * coil_retry_start() - run @fn until it succeeds, fails with a result the
 * policy does not retry, or max_attempts have been made.
 * @r:    caller-owned, kept in place until @done's callback.
 * @p:    copied.
 * @done: initialised, not in flight. Callback: the final attempt's result
 *        (>= 0 success, or the last error); -ECANCELED after
 *        coil_retry_cancel() / coil_cancel(@done). r->attempts and
 *        r->last_err tell how it went.
 *
 * Between attempts it waits d (coil_retry_delay_bounds()) on an
 * IORING_OP_TIMEOUT. -ECANCELED is never retried.
 * Return: 0; -EINVAL for NULL arguments or multiplier < 1; -EBUSY if @done
 * is in flight; -ECANCELED if the loop is cancelling.
 */
int coil_retry_start(struct coil_retry *r, struct coil_loop *loop,
		     const struct coil_retry_policy *p, coil_retry_fn fn,
		     void *arg, struct coil_op *done);

/*
 * coil_retry_done() - end the current attempt of a task-style @fn.
 * Return: 0 (recorded on the next turn); -EINVAL if no such attempt is
 * running or the attempt's op is in flight (it ends through its callback).
 */
int coil_retry_done(struct coil_retry *r, int res);

/*
 * coil_retry_cancel() - stop: cancels the backoff timer or the attempt's
 * op (a task-style attempt is left to finish); no further attempts.
 * Return: 0; -EINVAL if @r is not running.
 */
int coil_retry_cancel(struct coil_retry *r);

/* ==== queue ============================================================== */

struct coil_queue {
	/* private */
	struct coil__waitq getters, putters, joiners;
	void **items;
	unsigned cap, head, len;
	unsigned closed;
	unsigned unfinished; /* items put and not yet marked done */
};

/*
 * coil_queue_init() - a bounded FIFO of pointers with waiting producers and
 * consumers (asyncio.Queue(maxsize)).
 * @capacity: items it holds; 0 makes a rendezvous queue (a put waits for a
 *            get and hands its item over directly).
 * Return: 0; -EINVAL for NULL arguments; -ENOMEM.
 */
int coil_queue_init(struct coil_queue *q, struct coil_loop *loop,
		    unsigned capacity);

/* coil_queue_destroy() - close (waiters get COIL_ECLOSED) and free the
 * storage. Items still queued are dropped (they are the caller's).
 * NULL is ignored. */
void coil_queue_destroy(struct coil_queue *q);

/*
 * coil_queue_put() - add @item at the tail, waiting while the queue is full.
 * Callback: 0 once @item is in the queue (or handed to a waiting get);
 * COIL_ECLOSED if the queue was closed while waiting (@item not added);
 * -ECANCELED if cancelled first.
 * Return: 0; -EINVAL for NULL @q/@op; -EBUSY if @op is in flight;
 * COIL_ECLOSED if closed; -ECANCELED if the loop is cancelling.
 */
int coil_queue_put(struct coil_queue *q, struct coil_op *op, void *item);

/*
 * coil_queue_get() - take the head item, waiting while the queue is empty.
 * @slot: receives the item before the callback runs; kept until then.
 * Callback: 0 with *slot set; COIL_ECLOSED once the queue is closed and
 * empty; -ECANCELED if cancelled first.
 * Return: 0; -EINVAL for NULL; -EBUSY if @op is in flight; COIL_ECLOSED if
 * closed and empty; -ECANCELED if the loop is cancelling.
 */
int coil_queue_get(struct coil_queue *q, struct coil_op *op, void **slot);

/* Without waiting. Return: 0; -EAGAIN (full / empty); COIL_ECLOSED;
 * -EINVAL for NULL. */
int coil_queue_try_put(struct coil_queue *q, void *item);
int coil_queue_try_get(struct coil_queue *q, void **item);

/* coil_queue_close() - no more puts: waiting puts and gets complete with
 * COIL_ECLOSED; queued items can still be got, then gets fail too. */
void coil_queue_close(struct coil_queue *q);

/* Items queued now. */
unsigned coil_queue_len(const struct coil_queue *q);

/*
 * coil_queue_task_done() - a consumer is done with one item it got
 * (asyncio.Queue.task_done()). Every item put counts as unfinished until
 * this is called once for it; when the count reaches 0, every
 * coil_queue_join() waiter completes with 0 (next turn).
 * Return: 0; -EOVERFLOW if called more times than items were put;
 * -EINVAL for NULL.
 */
int coil_queue_task_done(struct coil_queue *q);

/*
 * coil_queue_join() - wait until every item put so far has been got and
 * marked done (asyncio.Queue.join()).
 * Callback: 0 (at once, next turn, if nothing is unfinished);
 * -ETIMEDOUT at its deadline; -ECANCELED; COIL_ECLOSED if the queue is
 * destroyed while waiting.
 * Return: 0; -EINVAL for NULL; -EBUSY if @op is in flight; -ECANCELED if
 * the loop is cancelling.
 */
int coil_queue_join(struct coil_queue *q, struct coil_op *op);

/* Items put and not yet marked done. */
unsigned coil_queue_unfinished(const struct coil_queue *q);

/* ==== event ============================================================== */

struct coil_event {
	/* private */
	struct coil__waitq wq;
	unsigned set;
};

/* coil_event_init() - an event, initially clear (asyncio.Event).
 * Return: 0; -EINVAL for NULL. */
int coil_event_init(struct coil_event *ev, struct coil_loop *loop);

/* coil_event_set() - set it: every waiting op completes with 0 (next
 * turn), and later waits complete at once until coil_event_clear(). */
void coil_event_set(struct coil_event *ev);

/* coil_event_clear() - clear it; later waits wait. */
void coil_event_clear(struct coil_event *ev);

/* 1 if set. */
int coil_event_is_set(const struct coil_event *ev);

/*
 * coil_event_wait() - wait until the event is set.
 * Callback: 0; -ECANCELED if cancelled first.
 * Return: 0; -EINVAL for NULL; -EBUSY if @op is in flight; -ECANCELED if
 * the loop is cancelling.
 */
int coil_event_wait(struct coil_event *ev, struct coil_op *op);

/* ==== task set: background tasks ========================================= */

struct coil_task;

/* A task's cancel hook: make the task end soon (cancel its ops); it must
 * still end with coil_task_done(). Must not free the task. */
typedef void (*coil_task_cancel_fn)(struct coil_task *t);
/* Called when a task ends with a failure (res < 0, not -ECANCELED), on
 * the loop thread, before the task's own end callback. */
typedef void (*coil_task_error_fn)(struct coil_task *t, int res);

/*
 * A background task. Embed it and keep it in place until its end callback
 * (or, without one, until it has ended: coil_taskset_live() drops). Op
 * tasks: after coil_taskset_add(), submit @op with any coil_* call. Task
 * tasks (several ops in a row): after coil_taskset_add_task(), end with
 * coil_task_done().
 */
struct coil_task {
	struct coil_op op; /* the op tasks submit; the set owns op.cb */
	void *data;	   /* the caller's */
	coil_task_error_fn on_error; /* NULL: the set's hook */
	/* private */
	coil_op_cb cb;
	coil_task_cancel_fn cancel;
	struct coil_taskset *set;
	struct coil_task *next, *prev;
	unsigned state;
};

struct coil_taskset_stats {
	uint64_t added;	 /* tasks added */
	uint64_t ended;	 /* tasks ended (all causes) */
	uint64_t failed; /* ended with res < 0, not -ECANCELED */
	uint64_t cut;	 /* cancelled by coil_taskset_shutdown() or drain */
};

struct coil_taskset {
	/* private */
	struct coil__waitq wq; /* the shutdown waiter */
	struct coil_task *head;
	coil_task_error_fn on_error;
	unsigned live;
	unsigned shutting, cutting;
	unsigned shut_cut;
	unsigned timer_armed;
	struct coil_op timer;
	struct coil_taskset_stats stats;
};

/*
 * coil_taskset_init() - an empty set of background tasks for @loop.
 * @on_error: the hook for tasks that have none (NULL: failures are only
 *            counted in the statistics).
 * Return: 0; -EINVAL for NULL @ts or @loop.
 */
int coil_taskset_init(struct coil_taskset *ts, struct coil_loop *loop,
		      coil_task_error_fn on_error);

/*
 * coil_taskset_add() - add an op task: then submit t->op. Set t->data and
 * t->on_error before or after; t->op is (re)initialised here.
 * @cb: optional end callback, with the op's (op, res, flags): recover your
 *      struct with coil_container_of(op, ..., task.op). It runs after the
 *      task has left the set (and after on_error), so it may free it.
 * If submitting t->op fails, end the task with coil_task_done(t, err) so
 * that it leaves the set.
 * Return: 0; -EINVAL for NULL; -EBUSY if t->op is in flight; -ESHUTDOWN
 * after coil_taskset_shutdown(); -ECANCELED if the loop is cancelling.
 */
int coil_taskset_add(struct coil_taskset *ts, struct coil_task *t,
		     coil_op_cb cb);

/*
 * coil_taskset_add_task() - add a task-style task, ended by
 * coil_task_done(). It counts as in flight on the loop until then.
 * @cancel: asked to stop the task at shutdown, drain or coil_cancel(&t->op)
 *          (NULL: the task cannot be stopped and shutdown waits for it).
 * Return: as coil_taskset_add().
 */
int coil_taskset_add_task(struct coil_taskset *ts, struct coil_task *t,
			  coil_task_cancel_fn cancel, coil_op_cb cb);

/*
 * coil_task_done() - end a task-style task (recorded on the next turn), or
 * an op task whose op could not be submitted.
 * Return: 0; -EINVAL if @t is not a live task; -EBUSY if its op is in
 * flight in the kernel (it ends through that op) or its end was already
 * reported.
 */
int coil_task_done(struct coil_task *t, int res);

/* coil_task_cut() - 1 if @t was cancelled by shutdown or drain. */
int coil_task_cut(const struct coil_task *t);

/*
 * coil_taskset_shutdown() - stop the set: no more adds (-ESHUTDOWN); give
 * the live tasks @timeout_ns to end on their own, then cancel what is left
 * (op tasks with coil_cancel(), task tasks with their cancel hook); @done
 * completes once every task has ended.
 * @timeout_ns: the grace period; 0 cancels at once.
 * @done: initialised, not in flight; coil_cancel(@done) cuts the grace
 *        period short (the callback still waits for the tasks to end).
 * Callback: the number of tasks cancelled ("cut"; 0 if all ended in
 * time); each cut task's end callback ran before it.
 * Return: 0; -EINVAL for NULL; -EALREADY if already shut down; -EBUSY if
 * @done is in flight; -ECANCELED if the loop is cancelling.
 */
int coil_taskset_shutdown(struct coil_taskset *ts, uint64_t timeout_ns,
			  struct coil_op *done);

/* Tasks in the set now. */
unsigned coil_taskset_live(const struct coil_taskset *ts);
void coil_taskset_stats(const struct coil_taskset *ts,
			struct coil_taskset_stats *st);

/* ==== drain: graceful shutdown =========================================== */

/*
 * coil_loop_drain() - finish what is running, then cancel what is left.
 * @loop:       not called from one of its own callbacks.
 * @timeout_ns: how long in-flight ops may take to finish.
 *
 * 1. Stops accepting new work: coil_loop_draining() turns 1, new
 *    coil_accept() calls fail with -ESHUTDOWN and armed accepts are
 *    cancelled (IORING_ASYNC_CANCEL_OP, kernel 6.6; older kernels leave
 *    them to step 3). Ops in flight run on, and their callbacks may submit
 *    the follow-up ops they need (a request's next recv).
 * 2. Runs the loop until nothing is in flight or @timeout_ns has passed.
 * 3. Cancels everything left: every request in the ring
 *    (IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL, kernel 5.19), SQEs
 *    still queued in user space, every op waiting on a primitive above,
 *    and jobs still queued on any offload pool for this loop. From here
 *    until it returns, submissions other than coil_close() and new waits
 *    fail with -ECANCELED, so callbacks cannot restart work. It then runs
 *    the loop for the cancelled ops' callbacks, up to another @timeout_ns
 *    (at least 1 s).
 * Afterwards the loop accepts work again. Ops it could not end (a pool job
 * running on a worker, an op another loop will complete by coil_msg_ring())
 * are still in flight: see coil_loop_inflight().
 *
 * Return: the number of ops whose callbacks ran with -ECANCELED during the
 * drain (the primitives' own timers and jobs not counted: a waiting op
 * counts once); -EBUSY if called from one of @loop's callbacks (a drain
 * runs the loop itself); -EINVAL for NULL; -errno if entering the ring
 * failed.
 */
int coil_loop_drain(struct coil_loop *loop, uint64_t timeout_ns);

/* coil_loop_draining() - 0, 1 while waiting for ops to finish, 2 while
 * cancelling. Servers check it before starting new work. */
int coil_loop_draining(const struct coil_loop *loop);

/* ==== offload pool: run_in_executor ====================================== */

struct coil_pool;

/* Runs on a worker thread; its return value is the op's result. It must
 * not touch a loop (use the result, or coil_loop_post_remote()). */
typedef int (*coil_pool_fn)(void *arg);

/* Pool options; zero means default. */
struct coil_pool_opts {
	unsigned threads;   /* workers, default 4, at most 1024 */
	unsigned queue_max; /* jobs waiting to start, default 1024 */
	unsigned flags;	    /* COIL_POOL_* below */
};
/* Never use IORING_OP_MSG_RING; each result goes by eventfd
 * (coil_loop_post_remote()); for benchmarks and comparisons. */
#define COIL_POOL_NO_MSG_RING (1u << 0)

/*
 * coil_pool_new() - start a pool of worker threads for CPU-bound or
 * blocking work. Each worker gets a small ring of its own to post results
 * with IORING_OP_MSG_RING (io_uring_prep_msg_ring(3), kernel 5.18).
 * @out:  receives the pool (coil_pool_free()).
 * Return: 0; -EINVAL for NULL or more than 1024 threads; -ENOMEM; -EAGAIN
 * if a thread could not be created (pthread_create(3)).
 */
int coil_pool_new(struct coil_pool **out, const struct coil_pool_opts *opts);

/* Flags of coil_pool_submit_flags(). */
#define COIL_POOL_WAIT 0	   /* queue full: the job waits its turn */
#define COIL_POOL_NOWAIT (1u << 0) /* queue full: fail with -EAGAIN */

/*
 * coil_pool_submit() - run fn(arg) on a worker; its int result becomes
 * @op's completion on @loop, on @loop's thread.
 * @loop: the calling thread's loop; @op counts as in flight on it.
 * @op:   initialised, not in flight; kept until its callback. The pool
 *        keeps the job's bookkeeping inside @op (no allocation).
 * @arg:  passed to @fn; the caller keeps it valid until the callback.
 *
 * Delivery: the result joins a per-loop list of finished jobs and the
 * worker that finds the list empty posts an IORING_OP_MSG_RING from its own
 * ring into @loop's ring (a doorbell); its completion on the loop
 * completes every job on the list, so results come in batches. When @loop
 * lacks COIL_FEAT_MSG_RING, the worker has no ring or the pool has
 * COIL_POOL_NO_MSG_RING, each result goes by coil_loop_post_remote()
 * (eventfd) instead; so does a doorbell whose message fails.
 * When queue_max jobs wait to start, the job waits behind them (its memory
 * is @op, so nothing grows in the pool); with COIL_POOL_NOWAIT
 * (coil_pool_submit_flags()) the call fails with -EAGAIN instead and the
 * caller can retry after a completion.
 * Callback: fn's result; -ECANCELED if cancelled before it started
 * (coil_cancel(), coil_pool_shutdown(COIL_POOL_DISCARD), coil_loop_drain()).
 * Return: 0; -EINVAL for NULL arguments; -EBUSY if @op is in flight;
 * -EAGAIN (NOWAIT, queue full); -ESHUTDOWN after coil_pool_shutdown();
 * -ECANCELED if @loop is cancelling; -ENOMEM (the first submit from a
 * loop allocates its doorbell).
 */
int coil_pool_submit(struct coil_loop *loop, struct coil_pool *pool,
		     struct coil_op *op, coil_pool_fn fn, void *arg);
int coil_pool_submit_flags(struct coil_loop *loop, struct coil_pool *pool,
			   struct coil_op *op, coil_pool_fn fn, void *arg,
			   unsigned flags);

/*
 * coil_pool_cancel() - cancel a job that has not started (what
 * coil_cancel() does for pool jobs).
 * Return: 0 (callback gets -ECANCELED next turn); -EALREADY if it is
 * running (its result will come); -ENOENT if it is not queued on @pool
 * for @loop; -EINVAL for NULL.
 */
int coil_pool_cancel(struct coil_loop *loop, struct coil_pool *pool,
		     struct coil_op *op);

#define COIL_POOL_DRAIN 0   /* run every queued job first */
#define COIL_POOL_DISCARD 1 /* queued jobs complete with -ECANCELED */

/*
 * coil_pool_shutdown() - stop accepting jobs, finish or discard the queue,
 * and join the workers (blocks until running jobs return). Callable from
 * any thread but a worker, e.g. a loop thread: results still reach loops,
 * which must run afterwards to see them.
 * Return: the number of jobs discarded (>= 0); -EALREADY if already shut
 * down; -EINVAL for NULL or a bad @how.
 */
int coil_pool_shutdown(struct coil_pool *pool, unsigned how);

/* coil_pool_free() - shut down (COIL_POOL_DRAIN) if not yet, and free.
 * NULL is ignored. */
void coil_pool_free(struct coil_pool *pool);

struct coil_pool_stats {
	uint64_t submitted;	   /* jobs accepted */
	uint64_t completed;	   /* jobs run to the end */
	uint64_t cancelled;	   /* jobs cancelled before starting */
	uint64_t rejected;	   /* -EAGAIN answers */
	uint64_t via_msg_ring;	   /* results sent by doorbell (MSG_RING) */
	uint64_t via_eventfd;	   /* results sent one by one by eventfd */
	uint64_t doorbells;	   /* MSG_RING messages (one per batch) */
	unsigned queued;	   /* jobs waiting to start now */
	unsigned running;	   /* jobs on a worker now */
	unsigned threads;	   /* workers */
	unsigned msg_ring_workers; /* workers that own a ring */
};
/* coil_pool_stats() - counters, read under the pool's lock. A worker
 * counts a job as completed just after posting its result, so a loop may
 * see the callback first; after coil_pool_shutdown() they are exact. */
void coil_pool_stats(struct coil_pool *pool, struct coil_pool_stats *st);

/* ==== name resolution ==================================================== */

struct coil_resolver;

/* Resolver options; zero means default. */
struct coil_resolver_opts {
	uint64_t ttl_ns;      /* answers are reused this long; default 60 s */
	uint64_t neg_ttl_ns;  /* failures are reused this long; default 0 */
	unsigned max_entries; /* cached names, default 256 */
	int family;	      /* AF_UNSPEC (default), AF_INET or AF_INET6 */
	int ai_flags;	      /* added to getaddrinfo's hints, e.g.
				 AI_ADDRCONFIG */
	unsigned flags;	      /* COIL_RESOLVER_NOCACHE */
};
/* Look every name up again (concurrent requests still share a lookup). */
#define COIL_RESOLVER_NOCACHE (1u << 0)

/* Most addresses one request returns. */
#define COIL_RESOLVE_MAX 16

union coil_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* One resolution. Embed it; keep it in place until its callback. */
struct coil_resolve_req {
	struct coil_op op; /* set up with coil_op_init() before coil_resolve */
	/* results, valid in and after the callback */
	union coil_sockaddr addr[COIL_RESOLVE_MAX]; /* port already set */
	unsigned naddr;				    /* addresses in addr[] */
	unsigned total;	 /* addresses found (> naddr if truncated) */
	int gai_err;	 /* getaddrinfo(3)'s EAI_* when the result is
			    COIL_ERESOLVE, else 0 */
	int sys_err;	 /* errno when gai_err is EAI_SYSTEM */
	unsigned cached; /* 1 if answered from the cache */
	/* private */
	struct coil_resolver *r;
	void *entry;
	uint16_t port;
};

/*
 * coil_resolver_new() - a caching resolver for @loop that runs
 * getaddrinfo(3) on @pool.
 * @pool: shared, outlives the resolver.
 * Return: 0; -EINVAL for NULL arguments or a bad family; -ENOMEM.
 */
int coil_resolver_new(struct coil_resolver **out, struct coil_loop *loop,
		      struct coil_pool *pool,
		      const struct coil_resolver_opts *opts);

/*
 * coil_resolver_free() - cancel waiting requests (-ECANCELED) and free the
 * cache. Lookups still running on the pool finish first: the loop must
 * keep running until they are back (they count as in flight); the memory
 * goes then. NULL is ignored.
 */
void coil_resolver_free(struct coil_resolver *r);

/*
 * coil_resolve() - all addresses (IPv4 and IPv6) of @host, with @port.
 * @req:  req->op initialised, not in flight.
 * @host: a name or a numeric address; copied.
 * @port: host order.
 *
 * Answers come from the cache while fresh; otherwise one getaddrinfo(3)
 * call (AF_UNSPEC, SOCK_STREAM unless configured) runs on the pool, shared
 * by every request for the same name meanwhile. Order is getaddrinfo's
 * (RFC 6724 address selection).
 * Callback: the number of addresses (> 0); COIL_ERESOLVE with req->gai_err
 * (text: coil_resolve_strerror()); -ECANCELED; -ENOMEM.
 * Return: 0; -EINVAL for NULL or an empty @host; -ENAMETOOLONG if @host is
 * longer than 253 characters (RFC 1035 §2.3.4); -EBUSY if req->op is in
 * flight; -ESHUTDOWN if the pool was shut down; -ECANCELED if the loop is
 * cancelling.
 */
int coil_resolve(struct coil_resolver *r, struct coil_resolve_req *req,
		 const char *host, uint16_t port);

/* coil_resolve_strerror() - gai_strerror(3) of req->gai_err, or
 * coil_strerror() of a non-resolver failure. Never NULL. */
const char *coil_resolve_strerror(const struct coil_resolve_req *req, int res);

/* coil_sockaddr_len() - the socklen_t for connect(2) of @a. */
socklen_t coil_sockaddr_len(const union coil_sockaddr *a);

#ifdef __cplusplus
}
#endif
#endif /* COIL_ASYNC_H */
