/*
 * tests/bench/test_slo_serve.c - --slo end to end against coil-serve,
 * whose /delay/MS answers after a known time: p99<5ms fails at /delay/20
 * (exit 1, the failing line in the report and in the JSON), passes at /
 * (exit 0); a run where nothing succeeds exits 1 whatever the SLOs say.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

static struct serve srv;

static int setup(void **state)
{
	(void)state;
	serve_start(&srv, "1");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(serve_stop(&srv));
	return 0;
}

static void test_slo_serve_delay_fails(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN("-t1", "-c4", "-d1s", "-R", "50", "--slo", "p99<5ms,errors<1%",
		serve_url(&srv, "/delay/20"));
	if (r.status != 1)
		fprintf(stderr, "exit %d\n%s\n%s\n", r.status, r.out, r.err);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "SLO p99<5ms: "));
	assert_non_null(strstr(r.out, "(limit < 5.00ms) FAIL\n"));
	assert_non_null(strstr(r.out, "SLO errors<1%: 0% (limit < 1%) pass\n"));
	assert_non_null(strstr(r.out, "SLO: 1 of 2 conditions failed\n"));
	assert_non_null(strstr(r.err, "1 of 2 --slo conditions failed"));
	/* the value is /delay/20's latency: at least 20 ms */
	{
		const char *v = strstr(r.out, "SLO p99<5ms: ") + 13;
		assert_true(strtod(v, NULL) >= 20.0);
	}
	cb_out_free(&r);

	/* the same in JSON */
	r = RUN("-t1", "-c4", "-d1s", "-R", "50", "--slo", "p99<5ms", "--json",
		serve_url(&srv, "/delay/20"));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "\"expr\": \"p99<5ms\""));
	assert_non_null(strstr(r.out, "\"pass\": false"));
	assert_non_null(strstr(r.out, "\"slo_pass\": false"));
	assert_true(jnum(r.out, "\"slo\"", "value") >= 20e6);
	assert_true(jnum(r.out, "\"slo\"", "limit") == 5e6);
	cb_out_free(&r);
}

/* The same condition passes where the server answers at once. Closed
 * model: a scheduling stall of a machine shared with other jobs then
 * delays only the two requests in flight, not the p99 of thousands (in
 * -R runs the corrected latency rightly charges a stall to every request
 * due during it, and 150 samples' p99 failed at a load of 15). Up to five
 * tries, one must pass. */
static void test_slo_serve_fast_passes(void **state)
{
	struct cb_out r;
	(void)state;
	for (int i = 0; i < 5; i++) {
		r = RUN("-t1", "-c2", "-d500ms", "--slo", "p99<5ms", "--slo",
			"rps>=50", "--json", serve_url(&srv, "/"));
		if (r.status == 0 || i == 4)
			break;
		fprintf(stderr, "try %d: p99 %.0f ns, exit %d\n", i + 1,
			jnum(r.out, "\"slo\"", "value"), r.status);
		cb_out_free(&r);
	}
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "\"slo_pass\": true"));
	assert_null(strstr(r.out, "\"pass\": false"));
	assert_true(jnum(r.out, "\"slo\"", "value") < 5e6);
	cb_out_free(&r);
}

/* 404s only: no request succeeded, exit 1 even with an SLO met */
static void test_slo_serve_nothing_succeeds(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN("-t1", "-c2", "-d300ms", "--slo", "max<1h",
		serve_url(&srv, "/status/503"));
	cb_expect_none_succeeded(&r);
	assert_non_null(strstr(r.out, "SLO max<1h: "));
	assert_non_null(strstr(r.out, "SLO: all 1 conditions met"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slo_serve_delay_fails),
		cmocka_unit_test(test_slo_serve_fast_passes),
		cmocka_unit_test(test_slo_serve_nothing_succeeds),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.slo_serve", tests, setup,
					   teardown);
}
