/*
 * tests/bench/test_slo.c - --slo: good and bad expressions, through the
 * command line too (comma lists, repeats), and the verdict on results
 * built by hand (a known latency distribution, errors, status codes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "slo.h"

static struct cb_slo parse_ok(const char *s)
{
	struct cb_slo v;
	char err[256] = "";
	int ret = cb_slo_parse(s, &v, err, sizeof(err));
	if (ret)
		fail_msg("'%s' refused: %s", s, err);
	return v;
}

static void test_slo_parse_good(void **state)
{
	struct cb_slo s;
	(void)state;
	s = parse_ok("p99<50ms");
	assert_int_equal(s.metric, CB_SLO_PCT);
	assert_true(s.pct == 99.0);
	assert_int_equal(s.cmp, CB_SLO_LT);
	assert_true(s.limit == 50e6);
	assert_string_equal(s.text, "p99<50ms");

	s = parse_ok(" p99.9 <= 200ms ");
	assert_true(s.pct == 99.9);
	assert_int_equal(s.cmp, CB_SLO_LE);
	assert_true(s.limit == 200e6);
	assert_string_equal(s.text, "p99.9<=200ms");

	s = parse_ok("max<1s");
	assert_int_equal(s.metric, CB_SLO_MAX);
	assert_true(s.limit == 1e9);
	s = parse_ok("mean<10ms");
	assert_int_equal(s.metric, CB_SLO_MEAN);
	s = parse_ok("p50<0.5ms");
	assert_true(s.limit == 500e3);
	s = parse_ok("p100<250us");
	assert_true(s.pct == 100.0 && s.limit == 250e3);
	s = parse_ok("errors<0.1%");
	assert_int_equal(s.metric, CB_SLO_ERROR_PCT);
	assert_true(s.limit == 0.1);
	s = parse_ok("errors<=10");
	assert_int_equal(s.metric, CB_SLO_ERROR_COUNT);
	assert_int_equal(s.cmp, CB_SLO_LE);
	assert_true(s.limit == 10);
	s = parse_ok("rps>=5000");
	assert_int_equal(s.metric, CB_SLO_RPS);
	assert_int_equal(s.cmp, CB_SLO_GE);
	assert_true(s.limit == 5000);
	s = parse_ok("rps>1.5k");
	assert_int_equal(s.cmp, CB_SLO_GT);
	assert_true(s.limit == 1500);
}

static void test_slo_parse_bad(void **state)
{
	static const struct {
		const char *expr, *why;
	} bad[] = {
		{"", "needs a condition"},
		{"p99", "expected <, <=, > or >="},
		{"p99<", "expected a number"},
		{"p99<50", "needs a unit"},
		{"p99<50parsecs", "unknown time unit"},
		{"p0<1ms", "above 0"},
		{"p101<1ms", "at most"},
		{"p<1ms", "a percentile is p"},
		{"latency<1ms", "the metric is one of"},
		{"p99=1ms", "expected <, <=, > or >="},
		{"p99<-1ms", "expected a number"},
		{"p99<1e3ms", "expected a number"},
		{"errors<101%", "above 100"},
		{"errors<5ms", "a count"},
		{"rps>=5x", "unknown suffix"},
		{"p99<50ms<60ms", "unknown time unit"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cb_slo v;
		char err[256] = "";
		int ret = cb_slo_parse(bad[i].expr, &v, err, sizeof(err));
		if (ret != -EINVAL || !strstr(err, bad[i].why))
			fail_msg("'%s': ret %d, '%s' (want '%s')", bad[i].expr,
				 ret, err, bad[i].why);
		assert_null(strchr(err, '\n'));
	}
}

/* --slo on the command line: comma lists and repeats, in order; a bad
 * one is a usage error naming it */
static void test_slo_cli(void **state)
{
	char *ok[] = {"coil-bench", "--slo",   "p99<50ms,errors<1%",
		      "--slo",	    "rps>=10", "http://127.0.0.1/",
		      NULL};
	char *bad[] = {"coil-bench", "--slo", "p99<50ms,p99<", "http://x/",
		       NULL};
	struct cb_opts o;
	char err[256];
	(void)state;
	assert_int_equal(cb_cli_parse(&o, 6, ok, err, sizeof(err)), 0);
	assert_int_equal(o.n_slos, 3);
	assert_string_equal(o.slos[0].text, "p99<50ms");
	assert_string_equal(o.slos[1].text, "errors<1%");
	assert_string_equal(o.slos[2].text, "rps>=10");
	cb_cli_free(&o);
	assert_int_equal(cb_cli_parse(&o, 4, bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad --slo 'p99<'"));
	cb_cli_free(&o);
}

static int verdict(const char *expr, const struct cb_result *r, double *val)
{
	struct cb_slo s = parse_ok(expr);
	struct cb_slo_verdict v;
	cb_slo_eval(&s, r, &v);
	if (val)
		*val = v.value;
	return v.no_data ? -1 : v.pass;
}

/* 1000 responses: 990 at 1 ms, 10 at 100 ms, over 2 s; 5 errors and 5
 * responses with status 500 */
static void test_slo_eval(void **state)
{
	struct cb_result r;
	double v;
	(void)state;
	assert_int_equal(cb_result_init(&r), 0);
	coil_hist_record_n(r.latency, 1000000, 990);
	coil_hist_record_n(r.latency, 100000000, 10);
	r.requests = 1000;
	r.status[200] = 995;
	r.status[500] = 5;
	r.runtime_ns = 2000000000ull;
	cb_result_error(&r, CB_ERR_TIMEOUT, -ETIMEDOUT);
	for (int i = 0; i < 4; i++)
		cb_result_error(&r, CB_ERR_CONNECT, -ECONNREFUSED);

	assert_int_equal(verdict("p99<2ms", &r, &v), 1);
	assert_true(v >= 1e6 && v < 1.001e6);
	assert_int_equal(verdict("p99.5<2ms", &r, NULL), 0);
	assert_int_equal(verdict("p99.5<=101ms", &r, NULL), 1);
	assert_int_equal(verdict("max<100ms", &r, NULL), 0);
	assert_int_equal(verdict("max<101ms", &r, NULL), 1);
	assert_int_equal(verdict("mean<2ms", &r, &v), 1);
	assert_true(v > 1.9e6 && v < 2.0e6); /* (990 + 1000) / 1000 ms */
	/* 5 errors + 5 bad statuses over 1005 tries */
	assert_int_equal(verdict("errors<1%", &r, &v), 1);
	assert_true(v > 0.99 && v < 1.0);
	assert_int_equal(verdict("errors<0.9%", &r, NULL), 0);
	assert_int_equal(verdict("errors<=10", &r, &v), 1);
	assert_true(v == 10);
	assert_int_equal(verdict("errors<10", &r, NULL), 0);
	assert_int_equal(verdict("rps>=500", &r, &v), 1);
	assert_true(v == 500);
	assert_int_equal(verdict("rps>500", &r, NULL), 0);
	assert_false(cb_slo_all_pass(
		(struct cb_slo[]){parse_ok("p99<2ms"), parse_ok("max<1ms")}, 2,
		&r));
	assert_true(cb_slo_all_pass(
		(struct cb_slo[]){parse_ok("p99<2ms"), parse_ok("rps>1")}, 2,
		&r));
	cb_result_free(&r);
}

/* no response at all: latency conditions have no data and fail, even
 * those a zero would meet */
static void test_slo_eval_no_data(void **state)
{
	struct cb_result r;
	(void)state;
	assert_int_equal(cb_result_init(&r), 0);
	r.runtime_ns = 1000000000ull;
	assert_int_equal(verdict("p99<1s", &r, NULL), -1);
	assert_int_equal(verdict("mean<1s", &r, NULL), -1);
	assert_int_equal(verdict("errors<1%", &r, NULL), -1);
	assert_int_equal(verdict("errors<1", &r, NULL), 1);
	assert_int_equal(verdict("rps<1", &r, NULL), 1);
	assert_false(
		cb_slo_all_pass((struct cb_slo[]){parse_ok("p99<1s")}, 1, &r));
	cb_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slo_parse_good),
		cmocka_unit_test(test_slo_parse_bad),
		cmocka_unit_test(test_slo_cli),
		cmocka_unit_test(test_slo_eval),
		cmocka_unit_test(test_slo_eval_no_data),
	};
	return cmocka_run_group_tests_name("bench.slo", tests, NULL, NULL);
}
