/*
 * engine/pool.c - the offload pool (run_in_executor): worker threads run
 * fn(arg) for CPU-bound or blocking work, and the int result comes back as
 * the op's completion on the loop that submitted it, on that loop's
 * thread.
 *
 * A job is its op: the pool keeps fn and arg in the op's free timespec
 * fields and queues it by op->next (see async_internal.h), so a
 * submission allocates nothing. The queue is shared by every loop that
 * uses the pool and guarded by one mutex; a condition variable wakes the
 * workers.
 *
 * Results go back in batches. Each loop that uses the pool has an
 * attachment: a list of finished jobs and a doorbell op. A worker appends
 * its job (result in op->res) and, if the list was empty, rings the
 * doorbell with IORING_OP_MSG_RING from its own small ring into the loop's
 * ring (io_uring_prep_msg_ring(3), kernel 5.18; the CQE's user_data is the
 * doorbell op, which the loop dispatches like any completion). The
 * doorbell's callback takes the whole list and completes each job on the
 * loop. So one CQE and one worker system call carry every result finished
 * meanwhile; one message per result costs the loop a CQE (and, into a
 * DEFER_TASKRUN ring, a task-work item) each, which bench/pool measured
 * at 0.83x the eventfd path's throughput (docs/BENCHMARKS.md, "pool"),
 * the doorbell at 1.17x. If the message fails, the doorbell goes through
 * the loop's eventfd inbox (coil_loop_post_remote()). Without MSG_RING
 * (kernel, forced fallback, COIL_POOL_NO_MSG_RING, a worker without a
 * ring) each result goes through that inbox directly.
 *
 * Every pool is in a process-wide list so that coil_cancel() and
 * coil_loop_drain() on a loop can find its queued jobs.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_internal.h"

#define MAX_THREADS 1024

struct worker {
	struct coil_pool *pool;
	pthread_t tid;
	struct io_uring ring;
	int ring_init; /* ring set up (to tear down) */
	int have_ring; /* ring usable for MSG_RING */
	unsigned idx;
	struct coil_op *current; /* the job it runs (pool->mu) */
};

/* A loop's doorbell and its finished jobs (see the top). Freed with the
 * pool, or by the doorbell's callback if a ring is still on its way then. */
struct attach {
	struct attach *next; /* pool->atts (pool->mu) */
	struct coil_loop *loop;
	pthread_mutex_t mu;
	struct coil_op bell;
	struct coil_op *head, *tail; /* finished jobs, result in op->res */
	int rung;		     /* a doorbell is on its way */
	int orphan;		     /* the pool is gone: the callback frees */
};

struct coil_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct coil_op *head, *tail; /* jobs not started */
	unsigned queued, queue_max, running;
	unsigned nthreads, nring;
	unsigned flags;
	int stopping; /* no new jobs */
	int exit;     /* workers leave once the queue is empty */
	struct worker *w;
	struct attach *atts;
	uint64_t submitted, completed, cancelled, rejected, via_msg, via_efd;
	uint64_t doorbells;
	struct coil_pool *gnext, *gprev; /* all pools (g_mu) */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct coil_pool *g_pools;

static void job_set(struct coil_op *op, coil_pool_fn fn, void *arg)
{
	op->ts_sec = (int64_t)(intptr_t)arg;
	op->ts_nsec = (int64_t)(intptr_t)fn;
}

static coil_pool_fn job_fn(const struct coil_op *op)
{
	return (coil_pool_fn)(intptr_t)op->ts_nsec;
}

static void *job_arg(const struct coil_op *op)
{
	return (void *)(intptr_t)op->ts_sec;
}

/* Post @res to @op on @loop by MSG_RING. Return: 1 if delivered. */
static int deliver_msg_ring(struct worker *w, struct coil_loop *loop,
			    struct coil_op *op, int res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct io_uring_cqe *cqe;
	int ret, tries = 0;

	if (!sqe)
		return 0;
	io_uring_prep_msg_ring(sqe, coil_loop_ring_fd(loop), (unsigned)res,
			       (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data64(sqe, 1);
	do {
		ret = io_uring_submit_and_wait(&w->ring, 1);
	} while ((ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) &&
		 ++tries < 1000);
	if (ret < 1) {
		/* Not submitted. Stop using this ring, so the SQE left in it
		 * can never go out after the fallback delivered too. */
		w->have_ring = 0;
		return 0;
	}
	do {
		ret = io_uring_wait_cqe(&w->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0) {
		/* Submitted, outcome unknown: a second delivery could
		 * complete a reused op; the first most likely went. */
		w->have_ring = 0;
		return 1;
	}
	ret = cqe->res; /* -EOVERFLOW (target CQ full), -EBADFD, ... */
	io_uring_cqe_seen(&w->ring, cqe);
	return ret >= 0;
}

/* The attachment of @loop, if results go to it by doorbell. pool->mu. */
static struct attach *find_attach(struct coil_pool *pool,
				  struct coil_loop *loop)
{
	for (struct attach *a = pool->atts; a; a = a->next) {
		if (a->loop == loop)
			return a;
	}
	return NULL;
}

/* On the loop: complete every job the workers have finished. */
static void bell_cb(struct coil_op *op, int res, unsigned flags)
{
	struct attach *a = coil_container_of(op, struct attach, bell);
	struct coil_loop *loop = a->loop;
	struct coil_op *list;
	int orphan;
	(void)res;
	(void)flags;

	pthread_mutex_lock(&a->mu);
	list = a->head;
	a->head = a->tail = NULL;
	a->rung = 0;
	orphan = a->orphan;
	pthread_mutex_unlock(&a->mu);
	while (list) {
		struct coil_op *next = list->next;
		coil__post(loop, list, list->res);
		list = next;
	}
	if (orphan) {
		pthread_mutex_destroy(&a->mu);
		free(a);
	}
}

/* Queue @op's result on its loop's list; the worker that finds the list
 * empty rings. Return: 1 if this call sent a MSG_RING. */
static int ring_doorbell(struct worker *w, struct attach *a, struct coil_op *op,
			 int res)
{
	int ring;

	pthread_mutex_lock(&a->mu);
	op->res = res;
	op->next = NULL;
	if (a->tail)
		a->tail->next = op;
	else
		a->head = op;
	a->tail = op;
	ring = !a->rung;
	a->rung = 1;
	pthread_mutex_unlock(&a->mu);
	if (!ring)
		return 0;
	if (deliver_msg_ring(w, a->loop, &a->bell, 0))
		return 1;
	coil_loop_post_remote(a->loop, &a->bell, 0);
	return 0;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct coil_pool *pool = w->pool;
	char name[16];

	snprintf(name, sizeof(name), "coil-pool-%u", w->idx);
	pthread_setname_np(pthread_self(), name);

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		struct coil_op *op;
		struct coil_loop *loop;
		coil_pool_fn fn;
		void *arg;
		struct attach *att;
		int res, rang = 0;

		while (!pool->head && !pool->exit)
			pthread_cond_wait(&pool->cv, &pool->mu);
		op = pool->head;
		if (!op)
			break;
		pool->head = op->next;
		if (!pool->head)
			pool->tail = NULL;
		op->next = NULL;
		pool->queued--;
		pool->running++;
		w->current = op;
		fn = job_fn(op);
		arg = job_arg(op);
		loop = op->loop;
		att = find_attach(pool, loop);
		pthread_mutex_unlock(&pool->mu);

		res = fn(arg);

		/* After this the op is the loop's again: do not touch it. */
		if (att && w->have_ring)
			rang = ring_doorbell(w, att, op, res);
		else
			coil_loop_post_remote(loop, op, res);

		pthread_mutex_lock(&pool->mu);
		w->current = NULL;
		pool->running--;
		pool->completed++;
		if (att && w->have_ring)
			pool->via_msg++;
		else
			pool->via_efd++;
		if (rang)
			pool->doorbells++;
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

static void join_workers(struct coil_pool *pool, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pthread_join(pool->w[i].tid, NULL);
		if (pool->w[i].ring_init)
			io_uring_queue_exit(&pool->w[i].ring);
	}
}

int coil_pool_new(struct coil_pool **out, const struct coil_pool_opts *opts)
{
	struct coil_pool_opts o = {0};
	struct coil_pool *pool;
	sigset_t all, old;
	unsigned i;
	int ret = 0;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (!o.threads)
		o.threads = 4;
	if (!o.queue_max)
		o.queue_max = 1024;
	if (o.threads > MAX_THREADS || (o.flags & ~COIL_POOL_NO_MSG_RING))
		return -EINVAL;

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->w = calloc(o.threads, sizeof(*pool->w));
	if (!pool->w) {
		free(pool);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	pool->queue_max = o.queue_max;
	pool->flags = o.flags;

	/* Workers take no signals: the application's handlers run on its
	 * own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < o.threads; i++) {
		struct worker *w = &pool->w[i];
		w->pool = pool;
		w->idx = i;
		/* A ring of its own to send MSG_RING from; without one (no
		 * io_uring, memlock) the worker uses the eventfd path. */
		if (!(o.flags & COIL_POOL_NO_MSG_RING) &&
		    io_uring_queue_init(4, &w->ring, 0) == 0) {
			w->ring_init = 1;
			w->have_ring = 1;
			pool->nring++;
		}
		ret = -pthread_create(&w->tid, NULL, worker_main, w);
		if (ret) {
			if (w->ring_init)
				io_uring_queue_exit(&w->ring);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool->nthreads = i;
	if (ret) {
		pthread_mutex_lock(&pool->mu);
		pool->exit = 1;
		pthread_cond_broadcast(&pool->cv);
		pthread_mutex_unlock(&pool->mu);
		join_workers(pool, i);
		pthread_cond_destroy(&pool->cv);
		pthread_mutex_destroy(&pool->mu);
		free(pool->w);
		free(pool);
		return ret == -ENOMEM ? -ENOMEM : -EAGAIN;
	}

	pthread_mutex_lock(&g_mu);
	pool->gnext = g_pools;
	if (g_pools)
		g_pools->gprev = pool;
	g_pools = pool;
	pthread_mutex_unlock(&g_mu);
	*out = pool;
	return 0;
}

int coil_pool_submit_flags(struct coil_loop *loop, struct coil_pool *pool,
			   struct coil_op *op, coil_pool_fn fn, void *arg,
			   unsigned flags)
{
	int ret;

	if (!loop || !pool || !op || !fn || (flags & ~COIL_POOL_NOWAIT))
		return -EINVAL;
	ret = coil__can_start(loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(loop)) {
		coil__post_new(loop, op, -ETIMEDOUT);
		return 0;
	}
	pthread_mutex_lock(&pool->mu);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->mu);
		return -ESHUTDOWN;
	}
	if ((flags & COIL_POOL_NOWAIT) && pool->queued >= pool->queue_max) {
		pool->rejected++;
		pthread_mutex_unlock(&pool->mu);
		return -EAGAIN;
	}
	if (!(pool->flags & COIL_POOL_NO_MSG_RING) && pool->nring &&
	    (coil_loop_features(loop) & COIL_FEAT_MSG_RING) &&
	    !find_attach(pool, loop)) {
		struct attach *a = calloc(1, sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&pool->mu);
			return -ENOMEM;
		}
		a->loop = loop;
		pthread_mutex_init(&a->mu, NULL);
		coil_op_init(&a->bell, bell_cb);
		a->next = pool->atts;
		pool->atts = a;
	}
	coil_loop_expect(loop, op); /* op->loop = loop */
	if (coil__wait_timed(loop, op)) {
		pthread_mutex_unlock(&pool->mu);
		return 0; /* completes next turn (-ETIMEDOUT) */
	}
	job_set(op, fn, arg);
	op->next = NULL;
	if (pool->tail)
		pool->tail->next = op;
	else
		pool->head = op;
	pool->tail = op;
	pool->queued++;
	pool->submitted++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	return 0;
}

int coil_pool_submit(struct coil_loop *loop, struct coil_pool *pool,
		     struct coil_op *op, coil_pool_fn fn, void *arg)
{
	return coil_pool_submit_flags(loop, pool, op, fn, arg, COIL_POOL_WAIT);
}

/* Take @op (queued for @loop) out of @pool's queue. pool->mu held.
 * Return: 0 removed; -EALREADY running; -ENOENT. */
static int unqueue(struct coil_pool *pool, struct coil_loop *loop,
		   struct coil_op *op)
{
	struct coil_op **pp = &pool->head, *prev = NULL;

	while (*pp && *pp != op) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp && op->loop == loop) {
		*pp = op->next;
		if (pool->tail == op)
			pool->tail = prev;
		op->next = NULL;
		pool->queued--;
		pool->cancelled++;
		return 0;
	}
	for (unsigned i = 0; i < pool->nthreads; i++) {
		if (pool->w[i].current == op)
			return -EALREADY;
	}
	return -ENOENT;
}

int coil_pool_cancel(struct coil_loop *loop, struct coil_pool *pool,
		     struct coil_op *op)
{
	int ret;

	if (!loop || !pool || !op)
		return -EINVAL;
	if (!(op->state & ST_EXPECT) || op->loop != loop)
		return -ENOENT;
	pthread_mutex_lock(&pool->mu);
	ret = unqueue(pool, loop, op);
	pthread_mutex_unlock(&pool->mu);
	if (ret == 0)
		coil__post(loop, op, -ECANCELED);
	return ret;
}

int coil__pool_cancel_op(struct coil_loop *loop, struct coil_op *op)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&g_mu);
	for (struct coil_pool *p = g_pools; p && ret == -ENOENT; p = p->gnext)
		ret = coil_pool_cancel(loop, p, op);
	pthread_mutex_unlock(&g_mu);
	return ret;
}

unsigned coil__pool_cancel_loop(struct coil_loop *loop)
{
	struct coil_op *list = NULL, **tail = &list;
	unsigned n = 0;

	pthread_mutex_lock(&g_mu);
	for (struct coil_pool *p = g_pools; p; p = p->gnext) {
		pthread_mutex_lock(&p->mu);
		struct coil_op **pp = &p->head, *prev = NULL;
		while (*pp) {
			struct coil_op *op = *pp;
			if (op->loop != loop) {
				prev = op;
				pp = &op->next;
				continue;
			}
			*pp = op->next;
			if (p->tail == op)
				p->tail = prev;
			op->next = NULL;
			p->queued--;
			p->cancelled++;
			*tail = op;
			tail = &op->next;
		}
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&g_mu);
	while (list) {
		struct coil_op *next = list->next;
		coil__post(loop, list, -ECANCELED);
		list = next;
		n++;
	}
	return n;
}

int coil_pool_shutdown(struct coil_pool *pool, unsigned how)
{
	struct coil_op *list = NULL;
	int n = 0;

	if (!pool || how > COIL_POOL_DISCARD)
		return -EINVAL;
	pthread_mutex_lock(&pool->mu);
	for (unsigned i = 0; i < pool->nthreads; i++) {
		if (pthread_equal(pool->w[i].tid, pthread_self())) {
			pthread_mutex_unlock(&pool->mu);
			return -EDEADLK; /* a job cannot join its own worker */
		}
	}
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->mu);
		return -EALREADY;
	}
	pool->stopping = 1;
	if (how == COIL_POOL_DISCARD) {
		list = pool->head;
		pool->head = pool->tail = NULL;
		n = (int)pool->queued;
		pool->cancelled += pool->queued;
		pool->queued = 0;
	}
	pool->exit = 1;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);

	/* Discarded jobs complete on their own loops, through the inbox:
	 * this thread may be any loop's, or none. */
	while (list) {
		struct coil_op *next = list->next;
		coil_loop_post_remote(list->loop, list, -ECANCELED);
		list = next;
	}
	join_workers(pool, pool->nthreads);
	return n;
}

void coil_pool_free(struct coil_pool *pool)
{
	if (!pool)
		return;
	if (coil_pool_shutdown(pool, COIL_POOL_DRAIN) == -EDEADLK)
		return; /* called from a job: leak rather than free under it */
	pthread_mutex_lock(&g_mu);
	if (pool->gprev)
		pool->gprev->gnext = pool->gnext;
	else
		g_pools = pool->gnext;
	if (pool->gnext)
		pool->gnext->gprev = pool->gprev;
	pthread_mutex_unlock(&g_mu);
	while (pool->atts) {
		struct attach *a = pool->atts;
		int rung;
		pool->atts = a->next;
		pthread_mutex_lock(&a->mu);
		rung = a->rung;
		a->orphan = rung;
		pthread_mutex_unlock(&a->mu);
		if (!rung) {
			pthread_mutex_destroy(&a->mu);
			free(a);
		}
	}
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool->w);
	free(pool);
}

void coil_pool_stats(struct coil_pool *pool, struct coil_pool_stats *st)
{
	if (!pool || !st)
		return;
	pthread_mutex_lock(&pool->mu);
	st->submitted = pool->submitted;
	st->completed = pool->completed;
	st->cancelled = pool->cancelled;
	st->rejected = pool->rejected;
	st->via_msg_ring = pool->via_msg;
	st->via_eventfd = pool->via_efd;
	st->doorbells = pool->doorbells;
	st->queued = pool->queued;
	st->running = pool->running;
	st->threads = pool->nthreads;
	st->msg_ring_workers = pool->nring;
	pthread_mutex_unlock(&pool->mu);
}
