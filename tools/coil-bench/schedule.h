/*
 * tools/coil-bench/schedule.h - the open model (-R): when each request is
 * due, for coordinated-omission-corrected latency (wrk2's method).
 *
 * The global schedule of a run at @rate requests/s starting at t0 puts
 * request i (i = 0, 1, ...) at
 *
 *	t_i = t0 + floor(i * 10^9 / rate)   ns
 *
 * computed from t0 and i alone in 128-bit integer arithmetic: no drift and
 * no accumulated rounding, however long the run. The schedule is split into
 * "lanes": lane l of L owns the requests i = l, l + L, l + 2L, ... so L
 * lanes interleave evenly and together send exactly the global schedule.
 * A lane is typically one connection (L = all connections of all threads,
 * wrk2's per-connection rate) or one thread (L = threads; the thread hands
 * due requests to whichever connection is free). cb_split() gives thread k
 * its share of the connections, hence its lanes.
 *
 * A request's latency is measured from its intended time t_i, not from
 * when it was actually sent: a generator that falls behind (a slow server
 * holding the connection, a stalled thread) keeps the intended times of
 * the requests it owes, sends them late, and their latencies include the
 * wait. Late sends are counted.
 *
 * No clock is read here: every function takes "now" (CLOCK_MONOTONIC ns,
 * e.g. coil_now()), so the schedule is tested with a fake clock.
 */
#ifndef COIL_BENCH_SCHEDULE_H
#define COIL_BENCH_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "stages.h"

/* A send more than this after its intended time counts as late, unless
 * the caller chooses another bound. */
#define CB_SCHED_LATE_NS 1000000ull /* 1 ms */

/* One lane of the schedule. Plain data: embed it, no free needed. */
struct cb_sched {
	/* set by cb_sched_init(), read-only after */
	uint64_t t0_ns;	  /* start of the global schedule */
	uint64_t rate;	  /* global requests/s */
	uint64_t lane;	  /* this lane's index, < lanes */
	uint64_t lanes;	  /* how many lanes share the schedule */
	uint64_t limit;	  /* only requests i < limit exist (-n); UINT64_MAX
			   * for none */
	uint64_t late_ns; /* lateness bound */
	const struct cb_stages *stages; /* NULL: the constant rate */
	/* progress */
	uint64_t next; /* the lane's next request: i = lane + next * lanes */
	/* statistics */
	uint64_t taken;	     /* requests handed out by cb_sched_due() */
	uint64_t late;	     /* of those, handed out > late_ns after t_i */
	uint64_t max_lag_ns; /* the largest now - t_i seen at hand-out */
};

/*
 * cb_sched_init() - lane @lane of @lanes of the schedule at @rate from t0.
 * @t0_ns:   when request 0 is due (CLOCK_MONOTONIC ns).
 * @rate:    requests/s over all lanes, >= 1.
 * @limit:   total requests over all lanes (-n), or 0 for no limit.
 * @late_ns: lateness bound (CB_SCHED_LATE_NS is a sane default).
 *
 * Return: 0; -EINVAL if @rate or @lanes is 0 or @lane >= @lanes.
 */
int cb_sched_init(struct cb_sched *s, uint64_t t0_ns, uint64_t rate,
		  uint64_t lane, uint64_t lanes, uint64_t limit,
		  uint64_t late_ns);

/*
 * cb_sched_use_stages() - from now on the lane follows @stages (borrowed,
 * read-only, outliving @s): t_i = t0 + cb_stages_time(i) instead of the
 * constant rate's (see stages.h); rate is kept only as a flag.
 */
void cb_sched_use_stages(struct cb_sched *s, const struct cb_stages *stages);

/*
 * cb_sched_time() - t_i of global request @i: t0 + floor(i * 10^9 / rate)
 * (UINT64_MAX if that does not fit).
 */
uint64_t cb_sched_time(const struct cb_sched *s, uint64_t i);

/*
 * cb_sched_next_ns() - the intended time of the lane's next request (arm a
 * timer for it: coil_timeout(..., COIL_TIMEOUT_ABS)), or UINT64_MAX when the
 * lane has sent all of its share of the limit.
 */
uint64_t cb_sched_next_ns(const struct cb_sched *s);

/*
 * cb_sched_total_due() - how many requests of the global schedule (all
 * lanes) are due at @now_ns: the number of i with t_i <= now, capped at
 * the limit. The pacer (pacer.c) walks the lanes of the requests that
 * became due since its last wake with it. O(1).
 */
uint64_t cb_sched_total_due(const struct cb_sched *s, uint64_t now_ns);

/*
 * cb_sched_backlog() - how many of the lane's requests are due at @now_ns
 * (t_i <= now) and not yet handed out. At the end of a run, the backlog is
 * the number of requests that were due but never sent.
 */
uint64_t cb_sched_backlog(const struct cb_sched *s, uint64_t now_ns);

/*
 * cb_sched_due() - hand out the requests due at @now_ns, oldest first.
 * @intended_ns: receives the intended time t_i of each (measure the
 *               latency from it); room for @max entries.
 * @max:         at most this many (e.g. the connection's free pipeline
 *               slots); the rest stay due for the next call.
 *
 * Each one handed out more than late_ns after its t_i counts in s->late;
 * s->max_lag_ns keeps the largest lag. O(returned count).
 * Return: how many were handed out (0 .. @max).
 */
unsigned cb_sched_due(struct cb_sched *s, uint64_t now_ns,
		      uint64_t *intended_ns, unsigned max);

/* cb_sched_done() - the lane has handed out its whole share of the limit
 * (never true without a limit). */
bool cb_sched_done(const struct cb_sched *s);

/*
 * cb_split() - part @k of @total items split over @parts: the first
 * total % parts parts get one more. Gives thread k its connections (and
 * hence its lanes: *first .. *first + *count - 1) or its share of -n.
 * @parts >= 1 and @k < @parts, else *first = *count = 0.
 */
void cb_split(uint64_t total, uint64_t parts, uint64_t k, uint64_t *first,
	      uint64_t *count);

#endif
