/*
 * tools/coil-bench/maxrate.h - --find-max-rate: the highest open-model
 * rate at which every --slo holds ("what rate does this service take with
 * p99 under 50 ms?"), found by a search of runs at fixed rates.
 *
 * From the start rate the search doubles while steps pass (or halves
 * while they fail) until one rate passes and one fails: the bracket. Then
 * it bisects between them until they are within the tolerance (5%) of
 * each other; the answer is the highest rate that passed. A step in which
 * the generator itself fell behind (its own lateness, not the server's
 * backpressure, or saturated CPU) says nothing about the server: it is
 * run up to twice more, and if it is generator-bound every time the search
 * stops there and says so, reporting the highest passing rate as a lower
 * bound. A failing step is run once more, and the second run decides: one
 * stall of a shared machine does not set the limit.
 *
 * The search is plain arithmetic over a step function the caller gives
 * (main.c runs the load; the unit test uses a model), so it is tested
 * without a network.
 */
#ifndef COIL_BENCH_MAXRATE_H
#define COIL_BENCH_MAXRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CB_SEARCH_TOLERANCE 0.05
#define CB_SEARCH_MAX_STEPS 80

/* One step of the search, as the step function measured it. */
struct cb_step {
	uint64_t rate;	 /* requests/s asked for */
	double achieved; /* responses/s measured */
	uint64_t p50_ns, p99_ns, p999_ns;
	double errors_pct; /* errors + non-2xx/3xx over tries */
	bool pass;	   /* every --slo held */
	bool gen_bound;	   /* the generator fell behind: no verdict */
	char why[96];	   /* gen_bound: what showed it */
};

/* Run the load at @rate and fill @out (rate set by the caller). Return 0,
 * or -errno to abort the search. */
typedef int (*cb_step_fn)(void *ctx, uint64_t rate, struct cb_step *out);

struct cb_search {
	struct cb_step steps[CB_SEARCH_MAX_STEPS];
	unsigned n;
	uint64_t best;	    /* the highest rate that passed; 0: none did */
	uint64_t fail;	    /* the lowest rate that failed; 0: none did */
	uint64_t gen_bound; /* the rate where the generator fell behind
			     * (twice), 0 if it never did */
	bool converged;	    /* best and fail within the tolerance */
};

/*
 * cb_search_max_rate() - search from @start (>= @min) with @fn.
 * @min: the lowest rate to try (e.g. the thread count); @max the highest.
 * Return: 0 (the outcome in @out); a step function's error.
 */
int cb_search_max_rate(struct cb_search *out, uint64_t start, uint64_t min,
		       uint64_t max, double tolerance, cb_step_fn fn,
		       void *ctx);

/* cb_search_report_text() - the table of steps and the conclusion. */
void cb_search_report_text(FILE *f, const struct cb_search *s);

/* cb_search_report_json() - the same as one JSON object and a newline. */
void cb_search_report_json(FILE *f, const struct cb_search *s);

#endif
