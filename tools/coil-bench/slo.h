/*
 * tools/coil-bench/slo.h - --slo: conditions on a run's result that decide
 * its exit status, for CI (k6's thresholds). An expression is
 *
 *	METRIC OP LIMIT	e.g. p99<50ms  p99.9<=200ms  max<1s  mean<10ms
 *			     errors<0.1%  errors<1  rps>=5000
 *
 * METRIC: pN (the N-th percentile latency, 0 < N <= 100), max, mean,
 * errors (errors of every class plus responses that are not 2xx/3xx: as
 * a percentage of requests with '%', else a count), rps (responses per
 * second of the measured period). OP: <, <=, >, >=. A latency LIMIT needs
 * a time unit (ns, us, ms, s, m, h); rps takes k, M, G. Latencies are the
 * corrected ones in -R runs (measured from the intended send time).
 *
 * Parsing is separate from the run (cli.c calls cb_slo_parse()); the
 * verdict needs only the merged struct cb_result.
 */
#ifndef COIL_BENCH_SLO_H
#define COIL_BENCH_SLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cb_result;

enum cb_slo_metric {
	CB_SLO_PCT,	    /* pN */
	CB_SLO_MAX,	    /* max */
	CB_SLO_MEAN,	    /* mean */
	CB_SLO_ERROR_PCT,   /* errors<X% */
	CB_SLO_ERROR_COUNT, /* errors<N */
	CB_SLO_RPS,	    /* rps */
};

enum cb_slo_cmp { CB_SLO_LT, CB_SLO_LE, CB_SLO_GT, CB_SLO_GE };

/* One parsed condition. Plain data. */
struct cb_slo {
	char text[64]; /* the expression as typed, blanks removed */
	enum cb_slo_metric metric;
	double pct; /* CB_SLO_PCT: the percentile, 0 < pct <= 100 */
	enum cb_slo_cmp cmp;
	double limit; /* ns for latencies, percent, count or req/s */
};

/* What a condition found in a result. */
struct cb_slo_verdict {
	double value; /* in the unit of cb_slo.limit */
	bool no_data; /* nothing to measure (no response): fails */
	bool pass;
};

/*
 * cb_slo_parse() - parse one expression (no commas: split those first).
 * @err: a one-line reason on failure (no program name, no newline).
 * Return: 0; -EINVAL for a malformed expression.
 */
int cb_slo_parse(const char *s, struct cb_slo *out, char *err, size_t err_len);

/* cb_slo_eval() - the condition's value in @r and whether it holds. */
void cb_slo_eval(const struct cb_slo *s, const struct cb_result *r,
		 struct cb_slo_verdict *v);

/* cb_slo_all_pass() - whether every one of the @n conditions holds in @r
 * (true for none). */
bool cb_slo_all_pass(const struct cb_slo *s, size_t n,
		     const struct cb_result *r);

/*
 * cb_slo_format() - @value of @s's metric with its unit, for people:
 * "12.35ms", "0.12%", "3 errors", "5012.0/s".
 */
void cb_slo_format(const struct cb_slo *s, double value, char *buf, size_t len);

/* cb_slo_name() - the metric as typed: "p99.9", "max", "errors", "rps". */
void cb_slo_name(const struct cb_slo *s, char *buf, size_t len);

/* cb_slo_unit() - the unit of value and limit: "ns", "%", "count",
 * "req/s" (the JSON's). */
const char *cb_slo_unit(const struct cb_slo *s);

/* cb_slo_op() - "<", "<=", ">", ">=". */
const char *cb_slo_op(const struct cb_slo *s);

#endif
