/*
 * tools/coil-bench/schedule.c - the open model's schedule: intended send
 * times from t0 and the request number only (see schedule.h).
 */

#include <errno.h>

#include "schedule.h"

#define NS_PER_S 1000000000ull

int cb_sched_init(struct cb_sched *s, uint64_t t0_ns, uint64_t rate,
		  uint64_t lane, uint64_t lanes, uint64_t limit,
		  uint64_t late_ns)
{
	if (!rate || !lanes || lane >= lanes)
		return -EINVAL;
	*s = (struct cb_sched){
		.t0_ns = t0_ns,
		.rate = rate,
		.lane = lane,
		.lanes = lanes,
		.limit = limit ? limit : UINT64_MAX,
		.late_ns = late_ns,
	};
	return 0;
}

void cb_sched_use_stages(struct cb_sched *s, const struct cb_stages *stages)
{
	s->stages = stages;
}

uint64_t cb_sched_time(const struct cb_sched *s, uint64_t i)
{
	if (s->stages) {
		uint64_t t = cb_stages_time(s->stages, i);
		if (t == UINT64_MAX || t > UINT64_MAX - s->t0_ns)
			return UINT64_MAX;
		return s->t0_ns + t;
	}
	unsigned __int128 t =
		(unsigned __int128)i * NS_PER_S / s->rate + s->t0_ns;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/* Global index of the lane's j-th request; UINT64_MAX if beyond 64 bits. */
static uint64_t global_index(const struct cb_sched *s, uint64_t j)
{
	unsigned __int128 i = (unsigned __int128)j * s->lanes + s->lane;
	return i >= UINT64_MAX ? UINT64_MAX : (uint64_t)i;
}

bool cb_sched_done(const struct cb_sched *s)
{
	return global_index(s, s->next) >= s->limit;
}

uint64_t cb_sched_next_ns(const struct cb_sched *s)
{
	if (cb_sched_done(s))
		return UINT64_MAX;
	return cb_sched_time(s, global_index(s, s->next));
}

/*
 * How many global requests are due at @now: t_i <= now holds for
 * i * 10^9 / rate < d + 1 (d = now - t0), i.e. i * 10^9 < (d + 1) * rate,
 * i.e. i <= ((d + 1) * rate - 1) / 10^9. Capped at the limit.
 */
uint64_t cb_sched_total_due(const struct cb_sched *s, uint64_t now_ns)
{
	unsigned __int128 n;
	if (now_ns < s->t0_ns)
		return 0;
	if (s->stages) {
		uint64_t d = cb_stages_due(s->stages, now_ns - s->t0_ns);
		return d > s->limit ? s->limit : d;
	}
	n = ((unsigned __int128)(now_ns - s->t0_ns) + 1) * s->rate - 1;
	n = n / NS_PER_S + 1;
	return n > s->limit ? s->limit : (uint64_t)n;
}

uint64_t cb_sched_backlog(const struct cb_sched *s, uint64_t now_ns)
{
	uint64_t g = cb_sched_total_due(s, now_ns), mine;
	if (g <= s->lane)
		return 0;
	mine = (g - s->lane - 1) / s->lanes + 1; /* i < g, i = lane mod L */
	return mine > s->next ? mine - s->next : 0;
}

unsigned cb_sched_due(struct cb_sched *s, uint64_t now_ns,
		      uint64_t *intended_ns, unsigned max)
{
	uint64_t n = cb_sched_backlog(s, now_ns);
	unsigned k;
	if (n > max)
		n = max;
	for (k = 0; k < n; k++) {
		uint64_t t = cb_sched_time(s, global_index(s, s->next));
		uint64_t lag = now_ns - t; /* t <= now: it is due */
		intended_ns[k] = t;
		if (lag > s->late_ns)
			s->late++;
		if (lag > s->max_lag_ns)
			s->max_lag_ns = lag;
		s->next++;
	}
	s->taken += k;
	return k;
}

void cb_split(uint64_t total, uint64_t parts, uint64_t k, uint64_t *first,
	      uint64_t *count)
{
	uint64_t base, extra;
	if (!parts || k >= parts) {
		*first = 0;
		*count = 0;
		return;
	}
	base = total / parts;
	extra = total % parts;
	*count = base + (k < extra);
	*first = k * base + (k < extra ? k : extra);
}
