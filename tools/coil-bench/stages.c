/*
 * tools/coil-bench/stages.c - the stages' piecewise linear value and, for
 * the open model, the exact inverse of its integral (see stages.h).
 */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

#define NS_PER_S 1000000000ull

int cb_stages_init(struct cb_stages *s, const struct cb_stage *st, unsigned n,
		   uint64_t start)
{
	uint64_t t = 0, from = start;
	unsigned __int128 n2 = 0;

	memset(s, 0, sizeof(*s));
	if (!n)
		return -EINVAL;
	s->st = calloc(n, sizeof(*s->st));
	if (!s->st)
		return -ENOMEM;
	s->n = n;
	s->start = start;
	s->peak = start;
	for (unsigned k = 0; k < n; k++) {
		struct cb_stage *c = &s->st[k];
		*c = st[k];
		c->from = from;
		c->start_ns = t;
		c->n2 = n2;
		if (__builtin_add_overflow(t, c->len_ns, &t))
			return -EINVAL;
		n2 += (unsigned __int128)(c->from + c->target) * c->len_ns;
		from = c->target;
		if (c->target > s->peak)
			s->peak = c->target;
	}
	s->total_ns = t;
	s->n2_total = n2;
	return t ? 0 : -EINVAL;
}

void cb_stages_free(struct cb_stages *s)
{
	free(s->st);
	memset(s, 0, sizeof(*s));
}

unsigned cb_stages_index(const struct cb_stages *s, uint64_t t_ns)
{
	unsigned lo = 0, hi = s->n; /* the last k with start <= t, len > 0 */
	unsigned k;
	if (t_ns >= s->total_ns)
		return s->n - 1;
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		if (s->st[mid].start_ns <= t_ns)
			lo = mid;
		else
			hi = mid;
	}
	k = lo;
	while (k > 0 && !s->st[k].len_ns)
		k--; /* (t < total: some stage of length > 0 holds it) */
	while (k + 1 < s->n && !s->st[k].len_ns)
		k++;
	return k;
}

double cb_stages_value(const struct cb_stages *s, uint64_t t_ns)
{
	const struct cb_stage *c;
	if (t_ns >= s->total_ns)
		return (double)s->st[s->n - 1].target;
	c = &s->st[cb_stages_index(s, t_ns)];
	return (double)c->from + ((double)c->target - (double)c->from) *
					 (double)(t_ns - c->start_ns) /
					 (double)c->len_ns;
}

double cb_stages_integral(const struct cb_stages *s, uint64_t t_ns)
{
	const struct cb_stage *c;
	long double tau, a, b, d, n2;
	if (t_ns >= s->total_ns)
		return (double)((long double)s->n2_total / (2.0L * NS_PER_S));
	c = &s->st[cb_stages_index(s, t_ns)];
	tau = (long double)(t_ns - c->start_ns);
	a = (long double)c->from;
	b = (long double)c->target;
	d = (long double)c->len_ns;
	n2 = (long double)c->n2 + 2 * a * tau + (b - a) * tau * tau / d;
	return (double)(n2 / (2.0L * NS_PER_S));
}

uint64_t cb_stages_time(const struct cb_stages *s, uint64_t i)
{
	unsigned __int128 x = (unsigned __int128)i * (2 * NS_PER_S), m2;
	const struct cb_stage *c;
	unsigned lo = 0, hi = s->n;
	uint64_t tau;

	if (x >= s->n2_total)
		return UINT64_MAX;
	/* the last stage whose start has n2 <= x: its integral reaches past
	 * x (the later ones start above it) */
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		if (s->st[mid].n2 <= x)
			lo = mid;
		else
			hi = mid;
	}
	c = &s->st[lo];
	m2 = x - c->n2;
	if (!m2) {
		tau = 0; /* the stage's first (also when it starts from 0) */
	} else if (c->from == c->target) {
		tau = (uint64_t)(m2 / (2 * (unsigned __int128)c->from));
	} else {
		/* 2a tau + (b - a) tau^2 / D = m2, the root in [0, D) written
		 * without cancellation */
		long double a = (long double)c->from;
		long double b = (long double)c->target;
		long double m = (long double)m2;
		long double r =
			sqrtl(a * a + (b - a) * m / (long double)c->len_ns);
		long double t = m / (a + r);
		tau = t <= 0 ? 0 : (uint64_t)t;
	}
	if (tau >= c->len_ns)
		tau = c->len_ns - 1;
	return c->start_ns + tau;
}

uint64_t cb_stages_due(const struct cb_stages *s, uint64_t t_ns)
{
	long double n = cb_stages_integral(s, t_ns);
	uint64_t e = n < 0 ? 0 : (uint64_t)n + 1;
	/* the estimate is within one or two of the count: settle it on the
	 * exact times */
	while (e > 0 && cb_stages_time(s, e - 1) > t_ns)
		e--;
	while (cb_stages_time(s, e) <= t_ns)
		e++;
	return e;
}

uint64_t cb_stages_scheduled(const struct cb_stages *s, unsigned k)
{
	const struct cb_stage *c;
	uint64_t before;
	if (k >= s->n || !s->st[k].len_ns)
		return 0;
	c = &s->st[k];
	before = c->start_ns ? cb_stages_due(s, c->start_ns - 1) : 0;
	return cb_stages_due(s, c->start_ns + c->len_ns - 1) - before;
}
