/*
 * engine/retry.c - retry with exponential backoff and jitter: attempt,
 * and if the result is one the policy retries, wait
 * d = min(cap, base * multiplier^(n-1)) (jittered, see
 * coil_retry_delay_bounds()) on an IORING_OP_TIMEOUT and attempt again,
 * up to max_attempts. Jitter as in "Exponential Backoff And Jitter"
 * (AWS Architecture Blog, 2015): full = U[0, d], equal = d/2 + U[0, d/2].
 *
 * The retry is a wait queue holding its done op, so coil_cancel(done) and
 * coil_loop_drain() reach it.
 */

#include <errno.h>

#include "async_internal.h"

enum { R_IDLE, R_ATTEMPT, R_BACKOFF };

static const int default_on[] = {COIL_RETRY_DEFAULT_ON};

/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
 * xorshift generators", 2016): fast, and plenty for jitter. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* A uniform value in [0, n]. */
static uint64_t rng_upto(uint64_t *s, uint64_t n)
{
	if (n == UINT64_MAX)
		return rng_next(s);
	return rng_next(s) % (n + 1);
}

static void fill_defaults(struct coil_retry_policy *p)
{
	if (!p->max_attempts)
		p->max_attempts = 3;
	if (!p->base_ns)
		p->base_ns = 100000000ull;
	if (!p->cap_ns)
		p->cap_ns = 30000000000ull;
	if (p->multiplier == 0)
		p->multiplier = 2.0;
	if (!p->retry_on) {
		p->retry_on = default_on;
		p->retry_on_len = sizeof(default_on) / sizeof(default_on[0]);
	}
}

static uint64_t ceiling(const struct coil_retry_policy *p, unsigned n)
{
	double d = (double)p->base_ns;

	/* multiply step by step (no libm), stopping at the cap */
	for (unsigned i = 1; i < n && d < (double)p->cap_ns; i++)
		d *= p->multiplier;
	if (!(d < (double)p->cap_ns)) /* also catches inf */
		return p->cap_ns;
	return (uint64_t)d;
}

int coil_retry_delay_bounds(const struct coil_retry_policy *p, unsigned n,
			    uint64_t *lo_ns, uint64_t *hi_ns)
{
	struct coil_retry_policy q;
	uint64_t d;

	if (!p || !n || !lo_ns || !hi_ns || p->jitter > COIL_JITTER_EQUAL ||
	    (p->multiplier != 0 && !(p->multiplier >= 1.0)))
		return -EINVAL;
	q = *p;
	fill_defaults(&q);
	d = ceiling(&q, n);
	*hi_ns = d;
	*lo_ns = q.jitter == COIL_JITTER_FULL	 ? 0
		 : q.jitter == COIL_JITTER_EQUAL ? d / 2
						 : d;
	return 0;
}

static uint64_t backoff(struct coil_retry *r, unsigned n)
{
	uint64_t d = ceiling(&r->p, n);

	switch (r->p.jitter) {
	case COIL_JITTER_FULL:
		return rng_upto(&r->rng, d);
	case COIL_JITTER_EQUAL:
		return d / 2 + rng_upto(&r->rng, d - d / 2);
	default:
		return d;
	}
}

static int retryable(const struct coil_retry *r, int res)
{
	if (res == -ECANCELED)
		return 0;
	for (unsigned i = 0; i < r->p.retry_on_len; i++) {
		if (r->p.retry_on[i] == res)
			return 1;
	}
	return 0;
}

static void finish(struct coil_retry *r, int res)
{
	struct coil_op *done = coil__waitq_pop(&r->wq);

	r->state = R_IDLE;
	r->wq.pinned = 0;
	coil__waitq_update(&r->wq);
	if (done)
		coil__post(r->wq.loop, done, r->cancelled ? -ECANCELED : res);
}

static void attempt_cb(struct coil_op *op, int res, unsigned flags);
static void timer_cb(struct coil_op *op, int res, unsigned flags);

static void attempt(struct coil_retry *r);

/* An attempt ended with @res: finish, or back off and go again. */
static void ended(struct coil_retry *r, int res)
{
	uint64_t d;
	int ret;

	if (res < 0 || retryable(r, res))
		r->last_err = res;
	if (r->cancelled || !retryable(r, res) ||
	    r->attempts >= r->p.max_attempts) {
		finish(r, res);
		return;
	}
	d = backoff(r, r->attempts);
	r->last_delay_ns = d;
	r->state = R_BACKOFF;
	coil_op_init(&r->timer, timer_cb);
	ret = coil_timeout(r->wq.loop, &r->timer, d, 0);
	if (ret < 0) {
		finish(r, res); /* cannot wait: report what we have */
		return;
	}
	coil__mark_internal(&r->timer);
}

static void attempt(struct coil_retry *r)
{
	int ret;

	r->attempts++;
	r->state = R_ATTEMPT;
	coil_op_init(&r->op, attempt_cb);
	ret = r->fn(r, &r->op, r->arg);
	if (ret < 0) {
		/* not started: the result goes through the loop, like any */
		if (!coil_op_busy(&r->op))
			coil__post(r->wq.loop, &r->op, ret);
		return;
	}
	coil__mark_internal(&r->op);
}

static void attempt_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_retry *r = coil_container_of(op, struct coil_retry, op);
	(void)flags;
	if (r->state != R_ATTEMPT)
		return;
	ended(r, res);
}

static void timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_retry *r = coil_container_of(op, struct coil_retry, timer);
	(void)flags;
	if (res < 0 || r->cancelled) { /* removed: cancelled or draining */
		r->cancelled = 1;
		finish(r, -ECANCELED);
		return;
	}
	if (coil__accepting(r->wq.loop)) {
		finish(r, -ECANCELED);
		return;
	}
	attempt(r);
}

static int retry_cancel_hook(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_retry *r = coil_container_of(wq, struct coil_retry, wq);

	if (op && op != wq->head)
		return -ENOENT;
	coil_retry_cancel(r);
	return 0;
}

int coil_retry_start(struct coil_retry *r, struct coil_loop *loop,
		     const struct coil_retry_policy *p, coil_retry_fn fn,
		     void *arg, struct coil_op *done)
{
	int ret;

	if (!r || !loop || !p || !fn || !done ||
	    p->jitter > COIL_JITTER_EQUAL ||
	    (p->multiplier != 0 && !(p->multiplier >= 1.0)) ||
	    (p->retry_on && !p->retry_on_len))
		return -EINVAL;
	ret = coil__can_start(loop, done);
	if (ret)
		return ret;
	r->p = *p;
	fill_defaults(&r->p);
	r->fn = fn;
	r->arg = arg;
	r->attempts = 0;
	r->last_err = 0;
	r->last_delay_ns = 0;
	r->cancelled = 0;
	r->rng = p->seed ? p->seed
			 : coil_now_update(loop) ^ (uint64_t)(uintptr_t)r;
	r->rng |= 1; /* xorshift must not start at 0 */
	coil_op_init(&r->op, attempt_cb);
	coil_op_init(&r->timer, timer_cb);
	coil__waitq_init(&r->wq, loop, retry_cancel_hook);
	ret = coil__waitq_push(&r->wq, done, NULL);
	if (ret < 0)
		return ret;
	r->wq.pinned = 1;
	attempt(r);
	return 0;
}

int coil_retry_done(struct coil_retry *r, int res)
{
	if (!r || r->state != R_ATTEMPT || coil_op_busy(&r->op))
		return -EINVAL;
	coil__post(r->wq.loop, &r->op, res);
	coil__mark_internal(&r->op);
	return 0;
}

int coil_retry_cancel(struct coil_retry *r)
{
	if (!r || r->state == R_IDLE)
		return -EINVAL;
	r->cancelled = 1;
	if (r->state == R_BACKOFF)
		coil_timeout_remove(r->wq.loop, &r->timer);
	else if (coil_op_busy(&r->op))
		coil_cancel(r->wq.loop, &r->op);
	return 0;
}
