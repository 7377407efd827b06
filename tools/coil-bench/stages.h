/*
 * tools/coil-bench/stages.h - --stages: a load that changes over the run
 * (k6's ramping-arrival-rate and ramping-vus executors).
 *
 * "30s:1k,60s:5k,30s:5k,10s:0" is four stages; in each the value moves
 * linearly from where the previous stage ended (the first starts from
 * @start: -R, or -c in the closed model) to the stage's target over the
 * stage's length. A stage of length 0 jumps. In the open model the value
 * is the rate in requests/s; in the closed model, the number of
 * connections that send.
 *
 * The open model's schedule (schedule.h) stays exact: with r(t) the
 * piecewise linear rate and N(t) = integral of r from 0 to t (a piecewise
 * quadratic), request i is due at
 *
 *	t_i = inf { t : N(t) > i }
 *
 * (for a constant rate that is i * 10^9 / rate, as without stages). The
 * stage boundaries' N are kept as exact integers (rates times ns); inside
 * a stage t_i is the root of the quadratic, in long double, from t0 and i
 * alone, so nothing accumulates over a run. cb_stages_due() is the exact
 * count of requests with t_i <= t, so a lane's schedule (i = lane,
 * lane + lanes, ...) and the global one agree as with a constant rate.
 */
#ifndef COIL_BENCH_STAGES_H
#define COIL_BENCH_STAGES_H

#include <stddef.h>
#include <stdint.h>

#define CB_MAX_STAGES 100

struct cb_stage {
	uint64_t len_ns; /* may be 0: a jump */
	uint64_t target; /* requests/s, or connections */
	/* derived by cb_stages_parse() */
	uint64_t from;	      /* the value at the stage's start */
	uint64_t start_ns;    /* from the run's start */
	unsigned __int128 n2; /* 2 * 10^9 * N(start): exact */
};

struct cb_stages {
	struct cb_stage *st; /* [n] (owned) */
	unsigned n;
	uint64_t start;		    /* the value at t = 0 */
	uint64_t total_ns;	    /* the stages' lengths summed */
	uint64_t peak;		    /* the largest value reached */
	unsigned __int128 n2_total; /* 2 * 10^9 * N(total_ns) */
};

/*
 * cb_stages_init() - take @n stages (len_ns and target set; cli.c parses
 * the text) and derive the rest.
 * @start: the value before the first stage (-R, or -c).
 * Return: 0; -EINVAL for no stage or all of length 0; -ENOMEM.
 * cb_stages_free() either way.
 */
int cb_stages_init(struct cb_stages *s, const struct cb_stage *st, unsigned n,
		   uint64_t start);

/* cb_stages_free() - free what cb_stages_parse() allocated; zeroes @s. */
void cb_stages_free(struct cb_stages *s);

/* cb_stages_index() - the stage that holds @t_ns (from the run's start):
 * the last one whose start is <= @t_ns and whose length is not 0; n - 1
 * past the end. */
unsigned cb_stages_index(const struct cb_stages *s, uint64_t t_ns);

/* cb_stages_value() - the value (rate or connections) at @t_ns. */
double cb_stages_value(const struct cb_stages *s, uint64_t t_ns);

/* cb_stages_integral() - N(@t_ns): requests scheduled in [0, t_ns]. */
double cb_stages_integral(const struct cb_stages *s, uint64_t t_ns);

/*
 * cb_stages_time() - t_i of request @i (ns from the run's start), or
 * UINT64_MAX when the stages never schedule it (N stays <= i).
 */
uint64_t cb_stages_time(const struct cb_stages *s, uint64_t i);

/* cb_stages_due() - how many requests have t_i <= @t_ns. */
uint64_t cb_stages_due(const struct cb_stages *s, uint64_t t_ns);

/* cb_stages_scheduled() - how many requests the schedule puts in stage
 * @k (t_i in [start, start + len)): the ramp's integral, whole. */
uint64_t cb_stages_scheduled(const struct cb_stages *s, unsigned k);

#endif
