/*
 * tests/bench/test_maxrate_serve.c - --find-max-rate against a server of
 * known capacity: coil-serve answering /delay/20 on 4 connections can
 * answer at most 4 x 1000 / 20 = 200 requests/s. With p99<40ms as the
 * SLO the search (short steps: 500 ms after a 200 ms warm-up) finds it
 * within 10%, and says so in the text and in the JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

static void test_maxrate_serve_known_capacity(void **state)
{
	struct serve srv;
	struct cb_out r;
	double best;
	(void)state;
	serve_start(&srv, "1");
	r = RUN("-t1", "-c4", "--find-max-rate", "--step", "500ms", "--warmup",
		"200ms", "-R", "150", "--slo", "p99<40ms", "--json",
		serve_url(&srv, "/delay/20"));
	free(serve_stop(&srv));
	fprintf(stderr, "%s%s", r.err, r.out);
	cb_expect_ok(&r);
	best = jnum(r.out, NULL, "max_rate");
	assert_true(best >= 180 && best <= 220);
	/* a failing step above it, each step's verdict in the table */
	assert_true(jnum(r.out, NULL, "lowest_failing_rate") > best);
	assert_non_null(strstr(r.out, "\"pass\": false"));
	assert_non_null(strstr(r.out, "\"converged\": true"));
	cb_out_free(&r);
}

/* nothing meets an impossible SLO: exit 1, "none" */
static void test_maxrate_serve_none(void **state)
{
	struct serve srv;
	struct cb_out r;
	(void)state;
	serve_start(&srv, "1");
	r = RUN("-t1", "-c2", "--find-max-rate", "--step", "300ms", "--warmup",
		"100ms", "-R", "4", "--slo", "p50<1ms",
		serve_url(&srv, "/delay/20"));
	free(serve_stop(&srv));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "Max rate: none"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxrate_serve_known_capacity),
		cmocka_unit_test(test_maxrate_serve_none),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.maxrate_serve", tests, NULL,
					   NULL);
}
