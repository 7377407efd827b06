/*
 * tools/coil-bench/slo.c - --slo expressions: parsed once from the command
 * line, evaluated on the merged result (see slo.h).
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/parse.h"
#include "report.h"
#include "slo.h"

struct unit {
	const char *name;
	double mult;
};

static const struct unit time_units[] = {
	{"ns", 1},   {"us", 1e3},   {"ms", 1e6}, {"s", 1e9},
	{"m", 60e9}, {"h", 3600e9}, {NULL, 0},
};

static const struct unit count_units[] = {
	{"k", 1e3},
	{"m", 1e6},
	{"g", 1e9},
	{NULL, 0},
};

/* A plain decimal number (digits, an optional fraction): no sign, no
 * exponent, no hex, no "inf"; strtod() alone would take all of those. */
static int number(const char *s, double *v, const char **end)
{
	const char *p = s;
	char *e;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	*v = strtod(s, &e);
	if (e != p || !isfinite(*v))
		return -EINVAL;
	*end = p;
	return 0;
}

static const struct unit *find_unit(const struct unit *u, const char *s)
{
	for (; u->name; u++) {
		if (!strcasecmp(u->name, s))
			return u;
	}
	return NULL;
}

int cb_slo_parse(const char *in, struct cb_slo *out, char *err, size_t err_len)
{
	char s[64];
	size_t n = 0;
	const char *p, *rest;
	double v;
	const struct unit *u;

	memset(out, 0, sizeof(*out));
	for (p = in; *p; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (n + 1 >= sizeof(s))
			return tools_fail(err, err_len,
					  "--slo '%s' is too long", in);
		s[n++] = *p;
	}
	s[n] = '\0';
	if (!n)
		return tools_fail(err, err_len,
				  "--slo needs a condition (e.g. p99<50ms, "
				  "errors<0.1%%, rps>=1000)");
	memcpy(out->text, s, n + 1);

	/* the metric */
	p = s;
	if (*p == 'p' || *p == 'P') {
		if (number(p + 1, &out->pct, &rest) < 0 || out->pct <= 0 ||
		    out->pct > 100)
			return tools_fail(
				err, err_len,
				"bad --slo '%s': a percentile is p "
				"followed by a number above 0 and at most "
				"100 (p50, p99, p99.9)",
				in);
		out->metric = CB_SLO_PCT;
		p = rest;
	} else if (!strncasecmp(p, "max", 3)) {
		out->metric = CB_SLO_MAX;
		p += 3;
	} else if (!strncasecmp(p, "mean", 4)) {
		out->metric = CB_SLO_MEAN;
		p += 4;
	} else if (!strncasecmp(p, "errors", 6)) {
		out->metric = CB_SLO_ERROR_COUNT;
		p += 6;
	} else if (!strncasecmp(p, "rps", 3)) {
		out->metric = CB_SLO_RPS;
		p += 3;
	} else {
		return tools_fail(
			err, err_len,
			"bad --slo '%s': the metric is one of pN (p99, "
			"p99.9), max, mean, errors, rps",
			in);
	}

	/* the comparison */
	if (p[0] == '<' && p[1] == '=') {
		out->cmp = CB_SLO_LE;
		p += 2;
	} else if (p[0] == '>' && p[1] == '=') {
		out->cmp = CB_SLO_GE;
		p += 2;
	} else if (p[0] == '<') {
		out->cmp = CB_SLO_LT;
		p++;
	} else if (p[0] == '>') {
		out->cmp = CB_SLO_GT;
		p++;
	} else {
		return tools_fail(
			err, err_len,
			"bad --slo '%s': expected <, <=, > or >= after "
			"the metric",
			in);
	}

	/* the limit */
	if (number(p, &v, &rest) < 0)
		return tools_fail(err, err_len,
				  "bad --slo '%s': expected a number "
				  "after the comparison",
				  in);
	switch (out->metric) {
	case CB_SLO_PCT:
	case CB_SLO_MAX:
	case CB_SLO_MEAN:
		if (!*rest)
			return tools_fail(
				err, err_len,
				"bad --slo '%s': a latency needs a unit "
				"(ns, us, ms, s, m, h), e.g. 50ms",
				in);
		if (!(u = find_unit(time_units, rest)))
			return tools_fail(
				err, err_len,
				"bad --slo '%s': unknown time unit '%s' "
				"(ns, us, ms, s, m, h)",
				in, rest);
		v *= u->mult;
		break;
	case CB_SLO_ERROR_COUNT:
		if (!strcmp(rest, "%")) {
			if (v > 100)
				return tools_fail(
					err, err_len,
					"bad --slo '%s': a percentage "
					"above 100",
					in);
			out->metric = CB_SLO_ERROR_PCT;
		} else if (*rest) {
			return tools_fail(
				err, err_len,
				"bad --slo '%s': errors are a count (10) "
				"or a percentage (0.1%%)",
				in);
		}
		break;
	case CB_SLO_RPS:
		if (*rest) {
			if (!(u = find_unit(count_units, rest)))
				return tools_fail(
					err, err_len,
					"bad --slo '%s': unknown suffix "
					"'%s' (k, M, G)",
					in, rest);
			v *= u->mult;
		}
		break;
	default:
		break;
	}
	out->limit = v;
	return 0;
}

void cb_slo_eval(const struct cb_slo *s, const struct cb_result *r,
		 struct cb_slo_verdict *v)
{
	uint64_t errs = cb_result_errors(r) + cb_result_non_2xx_3xx(r);
	uint64_t tries = r->requests + cb_result_errors(r);
	double secs = (double)r->runtime_ns / 1e9;

	memset(v, 0, sizeof(*v));
	switch (s->metric) {
	case CB_SLO_PCT:
		v->no_data = !coil_hist_count(r->latency);
		v->value = (double)coil_hist_value_at_percentile(r->latency,
								 s->pct);
		break;
	case CB_SLO_MAX:
		v->no_data = !coil_hist_count(r->latency);
		v->value = (double)coil_hist_max(r->latency);
		break;
	case CB_SLO_MEAN:
		v->no_data = !coil_hist_count(r->latency);
		v->value = coil_hist_mean(r->latency);
		break;
	case CB_SLO_ERROR_PCT:
		v->no_data = !tries;
		v->value = tries ? 100.0 * (double)errs / (double)tries : 0;
		break;
	case CB_SLO_ERROR_COUNT:
		v->value = (double)errs;
		break;
	case CB_SLO_RPS:
		v->no_data = secs <= 0;
		v->value = secs > 0 ? (double)r->requests / secs : 0;
		break;
	}
	if (v->no_data)
		return;
	switch (s->cmp) {
	case CB_SLO_LT:
		v->pass = v->value < s->limit;
		break;
	case CB_SLO_LE:
		v->pass = v->value <= s->limit;
		break;
	case CB_SLO_GT:
		v->pass = v->value > s->limit;
		break;
	case CB_SLO_GE:
		v->pass = v->value >= s->limit;
		break;
	}
}

bool cb_slo_all_pass(const struct cb_slo *s, size_t n,
		     const struct cb_result *r)
{
	for (size_t i = 0; i < n; i++) {
		struct cb_slo_verdict v;
		cb_slo_eval(&s[i], r, &v);
		if (!v.pass)
			return false;
	}
	return true;
}

void cb_slo_format(const struct cb_slo *s, double value, char *buf, size_t len)
{
	switch (s->metric) {
	case CB_SLO_PCT:
	case CB_SLO_MAX:
	case CB_SLO_MEAN:
		if (value >= 1e9)
			snprintf(buf, len, "%.3fs", value / 1e9);
		else if (value >= 1e6)
			snprintf(buf, len, "%.2fms", value / 1e6);
		else
			snprintf(buf, len, "%.2fus", value / 1e3);
		break;
	case CB_SLO_ERROR_PCT:
		snprintf(buf, len, "%.3g%%", value);
		break;
	case CB_SLO_ERROR_COUNT:
		snprintf(buf, len, "%.0f", value);
		break;
	case CB_SLO_RPS:
		snprintf(buf, len, "%.1f/s", value);
		break;
	}
}

void cb_slo_name(const struct cb_slo *s, char *buf, size_t len)
{
	static const char *const names[] = {
		[CB_SLO_MAX] = "max",	       [CB_SLO_MEAN] = "mean",
		[CB_SLO_ERROR_PCT] = "errors", [CB_SLO_ERROR_COUNT] = "errors",
		[CB_SLO_RPS] = "rps",
	};
	if (s->metric == CB_SLO_PCT)
		snprintf(buf, len, "p%g", s->pct);
	else
		snprintf(buf, len, "%s", names[s->metric]);
}

const char *cb_slo_op(const struct cb_slo *s)
{
	static const char *const ops[] = {"<", "<=", ">", ">="};
	return ops[s->cmp];
}

const char *cb_slo_unit(const struct cb_slo *s)
{
	switch (s->metric) {
	case CB_SLO_ERROR_PCT:
		return "%";
	case CB_SLO_ERROR_COUNT:
		return "count";
	case CB_SLO_RPS:
		return "req/s";
	default:
		return "ns";
	}
}
