/*
 * tools/coil-bench/maxrate.c - the --find-max-rate search: a bracket by
 * doubling or halving, then a bisection (see maxrate.h).
 */

#include <errno.h>
#include <string.h>

#include "maxrate.h"

/* Run a step at @rate; a failing one once more, a generator-bound one up
 * to twice more (the last run decides: a stall of a shared machine does
 * not set the limit, nor stop the search). Return: 0 and *step, or the
 * step function's error, or -E2BIG when the steps ran out. */
static int step(struct cb_search *s, uint64_t rate, cb_step_fn fn, void *ctx,
		const struct cb_step **out)
{
	for (int tries = 0; tries < 3; tries++) {
		struct cb_step *st;
		int ret;
		if (s->n >= CB_SEARCH_MAX_STEPS)
			return -E2BIG;
		st = &s->steps[s->n];
		memset(st, 0, sizeof(*st));
		st->rate = rate;
		if ((ret = fn(ctx, rate, st)) < 0)
			return ret;
		st->rate = rate;
		s->n++;
		*out = st;
		if (st->pass && !st->gen_bound)
			return 0;
		if (!st->gen_bound && tries == 1)
			return 0; /* failed twice */
	}
	return 0;
}

static int close_enough(uint64_t lo, uint64_t hi, double tol)
{
	return hi <= lo + 1 || (double)(hi - lo) <= tol * (double)lo;
}

int cb_search_max_rate(struct cb_search *s, uint64_t start, uint64_t min,
		       uint64_t max, double tol, cb_step_fn fn, void *ctx)
{
	const struct cb_step *st;
	uint64_t lo = 0, hi = 0, r = start < min ? min : start;
	int ret;

	memset(s, 0, sizeof(*s));
	if (r > max)
		r = max;
	/* the bracket */
	for (;;) {
		if ((ret = step(s, r, fn, ctx, &st)) < 0)
			goto out;
		if (st->gen_bound) {
			s->gen_bound = r;
			goto out;
		}
		if (st->pass) {
			lo = r;
			if (hi)
				break;
			if (r >= max)
				goto out; /* passes at the largest rate */
			r = r > max / 2 ? max : r * 2;
		} else {
			hi = r;
			if (lo)
				break;
			if (r <= min)
				goto out; /* fails at the smallest rate */
			r = r / 2 < min ? min : r / 2;
		}
	}
	/* the bisection */
	while (!close_enough(lo, hi, tol)) {
		r = lo + (hi - lo) / 2;
		if ((ret = step(s, r, fn, ctx, &st)) < 0)
			goto out;
		if (st->gen_bound) {
			s->gen_bound = r;
			goto out;
		}
		if (st->pass)
			lo = r;
		else
			hi = r;
	}
	s->converged = true;
	ret = 0;
out:
	s->best = lo;
	s->fail = hi;
	return ret == -E2BIG ? 0 : ret;
}

static void ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%.2fms", (double)ns / 1e6);
}

void cb_search_report_text(FILE *f, const struct cb_search *s)
{
	fprintf(f, "  Max-rate search (%u steps):\n", s->n);
	fprintf(f, "    %5s %10s %10s %10s %10s %10s %8s  %s\n", "step", "rate",
		"achieved", "p50", "p99", "p99.9", "errors", "verdict");
	for (unsigned i = 0; i < s->n; i++) {
		const struct cb_step *st = &s->steps[i];
		char a[24], b[24], c[24];
		ms(a, sizeof(a), st->p50_ns);
		ms(b, sizeof(b), st->p99_ns);
		ms(c, sizeof(c), st->p999_ns);
		fprintf(f,
			"    %5u %10llu %10.1f %10s %10s %10s %7.2f%%  "
			"%s%s%s\n",
			i + 1, (unsigned long long)st->rate, st->achieved, a, b,
			c, st->errors_pct,
			st->gen_bound ? "generator-bound"
			: st->pass    ? "pass"
				      : "FAIL",
			st->gen_bound ? ": " : "",
			st->gen_bound ? st->why : "");
	}
	if (s->gen_bound)
		fprintf(f,
			"Max rate: generator-bound at %llu/s; add threads or "
			"machines (every SLO held up to %llu/s)\n",
			(unsigned long long)s->gen_bound,
			(unsigned long long)s->best);
	else if (!s->best)
		fprintf(f, "Max rate: none: the SLOs fail even at %llu/s\n",
			(unsigned long long)s->fail);
	else if (!s->fail)
		fprintf(f,
			"Max rate: at least %llu/s (every SLO held at the "
			"largest rate tried)\n",
			(unsigned long long)s->best);
	else
		fprintf(f,
			"Max rate: %llu/s meets every SLO; %llu/s does not%s\n",
			(unsigned long long)s->best,
			(unsigned long long)s->fail,
			s->converged ? "" : " (the search ran out of steps)");
}

void cb_search_report_json(FILE *f, const struct cb_search *s)
{
	fprintf(f, "{\n  \"tool\": \"coil-bench\",\n  \"find_max_rate\": {\n");
	fprintf(f, "    \"max_rate\": %llu,\n", (unsigned long long)s->best);
	fprintf(f, "    \"lowest_failing_rate\": %llu,\n",
		(unsigned long long)s->fail);
	fprintf(f, "    \"generator_bound_rate\": %llu,\n",
		(unsigned long long)s->gen_bound);
	fprintf(f, "    \"converged\": %s,\n", s->converged ? "true" : "false");
	fprintf(f, "    \"steps\": [");
	for (unsigned i = 0; i < s->n; i++) {
		const struct cb_step *st = &s->steps[i];
		fprintf(f,
			"%s\n      {\"rate\": %llu, \"achieved\": %.3f, "
			"\"p50_ns\": %llu, \"p99_ns\": %llu, \"p99.9_ns\": "
			"%llu, \"errors_pct\": %.4f, \"pass\": %s, "
			"\"generator_bound\": %s}",
			i ? "," : "", (unsigned long long)st->rate,
			st->achieved, (unsigned long long)st->p50_ns,
			(unsigned long long)st->p99_ns,
			(unsigned long long)st->p999_ns, st->errors_pct,
			st->pass ? "true" : "false",
			st->gen_bound ? "true" : "false");
	}
	fprintf(f, "\n    ]\n  }\n}\n");
}
