/*
 * tests/async/asyncutil.h - what the async tests share: a recording op,
 * a gate that holds pool workers until the test opens it.
 */
#ifndef COIL_ASYNCUTIL_H
#define COIL_ASYNCUTIL_H

#include <pthread.h>
#include <sys/syscall.h>

#include "coil/async.h"
#include "testutil.h"

/* An op that remembers its callbacks. */
struct rec {
	struct coil_op op;
	int calls;
	int res;
	uint64_t at_ns; /* when the callback ran */
	int order;	/* position among callbacks (set by the test) */
};

static int rec_seq;

static inline void rec_cb(struct coil_op *op, int res, unsigned flags)
{
	struct rec *r = coil_container_of(op, struct rec, op);
	(void)flags;
	r->calls++;
	r->res = res;
	r->at_ns = tu_mono_ns();
	r->order = rec_seq++;
}

static inline void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	coil_op_init(&r->op, rec_cb);
}

/* Run the loop until nothing is in flight, bounded by @limit_ns.
 * Return: ops still in flight. */
static inline unsigned run_idle(struct coil_loop *loop, uint64_t limit_ns)
{
	uint64_t end = tu_mono_ns() + limit_ns;
	while (coil_loop_inflight(loop) && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	return coil_loop_inflight(loop);
}

/* A gate pool jobs block on until the test opens it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
	int waiting; /* jobs blocked on it */
};

static inline void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = 0;
	g->waiting = 0;
}

static inline void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Wait until @n jobs are blocked on the gate (they have started). */
static inline void gate_wait_blocked(struct gate *g, int n)
{
	pthread_mutex_lock(&g->mu);
	while (g->waiting < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static inline void gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* A pool job: blocks until the gate opens, returns 1000. */
static inline int gate_job(void *arg)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->mu);
	g->waiting++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return 1000;
}

static inline pid_t tu_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

#endif
