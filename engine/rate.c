/*
 * engine/rate.c - GCRA rate limiter (ITU-T I.371 virtual scheduling, the
 * exact form of a token bucket): @permits per @period_ns, @burst at once.
 *
 * The schedule of a busy spell is anchored at its start: permit k is due
 * at epoch + (k - burst + 1) * period / permits (k counted from the
 * epoch, 128-bit arithmetic, never a sum of sleeps), so timer lateness
 * does not accumulate into drift: a late timer releases every permit that
 * is due by now, in order. The spell ends, and the next one starts with a
 * full burst, when nobody has asked for a permit past the theoretical
 * arrival time (the bucket refilled), or when the schedule has fallen
 * behind by more than max_lag (a stalled loop must not unleash its whole
 * backlog at once).
 *
 * One IORING_OP_TIMEOUT with IORING_TIMEOUT_ABS (io_uring_prep_timeout(3),
 * CLOCK_MONOTONIC like coil_now()) is armed for the oldest waiter's due
 * time while anyone waits.
 */

#include <errno.h>

#include "async_internal.h"

#define DEFAULT_MAX_LAG_NS 1000000000ull

/* epoch + n * period / permits */
static uint64_t at(const struct coil_rate *r, uint64_t n)
{
	unsigned __int128 x = (unsigned __int128)n * r->period_ns;
	return r->epoch_ns + (uint64_t)(x / r->permits);
}

/* Theoretical arrival time: when the bucket is full again. */
static uint64_t tat(const struct coil_rate *r)
{
	return at(r, r->k);
}

/* When permit k (the next) conforms. */
static uint64_t due(const struct coil_rate *r)
{
	if (r->k + 1 <= r->burst)
		return r->epoch_ns;
	return at(r, r->k + 1 - r->burst);
}

/* Start a new spell at @now if the bucket has refilled while nobody
 * waited, or if the schedule lags @now by more than max_lag. */
static void rebase(struct coil_rate *r, uint64_t now)
{
	if (tat(r) <= now && !r->wq.count) {
		r->epoch_ns = now; /* idle: the bucket is full again */
		r->k = 0;
		return;
	}
	uint64_t d = due(r);
	if (d < now && now - d > r->max_lag_ns) {
		r->epoch_ns = now;
		r->k = 0;
	}
}

static void rate_timer_cb(struct coil_op *op, int res, unsigned flags);

static int arm(struct coil_rate *r)
{
	uint64_t when = due(r);
	int ret;

	/* An armed timer is for the same permit (k only moves when permits
	 * go out, which re-arms), or was removed and re-arms when its
	 * -ECANCELED arrives. */
	if (r->armed)
		return 0;
	coil_op_init(&r->timer, rate_timer_cb);
	ret = coil_timeout(r->wq.loop, &r->timer, when, COIL_TIMEOUT_ABS);
	if (ret < 0)
		return ret;
	coil__mark_internal(&r->timer);
	r->armed = 1;
	return 0;
}

/* Release every waiter whose permit is due by @now, in order. */
static void release_due(struct coil_rate *r, uint64_t now)
{
	struct coil_op *op;

	rebase(r, now);
	while (r->wq.count && due(r) <= now) {
		op = coil__waitq_pop(&r->wq);
		r->k++;
		coil__post(r->wq.loop, op, 0);
	}
}

static void rate_timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_rate *r = coil_container_of(op, struct coil_rate, timer);
	struct coil_op *w;
	int ret;

	r->armed = 0;
	if (res == -ECANCELED && r->wq.loop->draining == 2)
		return; /* coil_loop_drain() cancels the waiters too */
	release_due(r, coil_now(r->wq.loop));
	if (!r->wq.count)
		return;
	ret = arm(r);
	if (ret < 0) { /* no timer, no release: fail the waiters */
		while ((w = coil__waitq_pop(&r->wq)))
			coil__post(r->wq.loop, w, ret);
	}
}

/* coil_cancel() of a waiter: plain FIFO removal; the timer goes too once
 * nobody waits, so that it does not keep the loop running. */
static int rate_cancel(struct coil__waitq *wq, struct coil_op *op)
{
	struct coil_rate *r = coil_container_of(wq, struct coil_rate, wq);
	int ret = coil__waitq_cancel_default(wq, op);

	if (ret == 0 && !wq->count && r->armed)
		coil_timeout_remove(wq->loop, &r->timer);
	return ret;
}

int coil_rate_init(struct coil_rate *r, struct coil_loop *loop,
		   uint64_t permits, uint64_t period_ns, unsigned burst)
{
	if (!r || !loop || !permits || !period_ns)
		return -EINVAL;
	coil__waitq_init(&r->wq, loop, rate_cancel);
	r->permits = permits;
	r->period_ns = period_ns;
	r->burst = burst ? burst : 1;
	r->max_lag_ns = DEFAULT_MAX_LAG_NS;
	r->epoch_ns = coil_now(loop);
	r->k = 0;
	r->armed = 0;
	coil_op_init(&r->timer, rate_timer_cb);
	return 0;
}

int coil_rate_set_max_lag(struct coil_rate *r, uint64_t max_lag_ns)
{
	if (!r)
		return -EINVAL;
	r->max_lag_ns = max_lag_ns ? max_lag_ns : DEFAULT_MAX_LAG_NS;
	return 0;
}

int coil_rate_try(struct coil_rate *r)
{
	uint64_t now;

	if (!r)
		return -EINVAL;
	if (r->wq.count)
		return -EAGAIN;
	now = coil_now_update(r->wq.loop);
	rebase(r, now);
	if (due(r) > now)
		return -EAGAIN;
	r->k++;
	return 0;
}

uint64_t coil_rate_next_ns(const struct coil_rate *r)
{
	struct coil_rate c;

	if (!r)
		return 0;
	c = *r;
	rebase(&c, coil_now(r->wq.loop));
	return due(&c) + (uint64_t)r->wq.count * r->period_ns / r->permits;
}

int coil_rate_acquire(struct coil_rate *r, struct coil_op *op)
{
	uint64_t now;
	int ret;

	if (!r || !op)
		return -EINVAL;
	ret = coil__can_start(r->wq.loop, op);
	if (ret)
		return ret;
	if (coil__wait_due(r->wq.loop)) {
		coil__post_new(r->wq.loop, op, -ETIMEDOUT);
		return 0;
	}
	now = coil_now_update(r->wq.loop);
	if (!r->wq.count) {
		rebase(r, now);
		if (due(r) <= now) {
			r->k++;
			coil__post_new(r->wq.loop, op, 0);
			return 0;
		}
	}
	ret = arm(r); /* before queueing: a failure leaves nothing behind */
	if (ret < 0)
		return ret;
	return coil__waitq_push(&r->wq, op, NULL);
}
