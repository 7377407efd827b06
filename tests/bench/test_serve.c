/*
 * tests/bench/test_serve.c - coil-bench against coil-serve: the request
 * count coil-bench reports equals the lines coil-serve wrote to its
 * access log, with no error, and /delay/20 shows a median of 20-22 ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "serveutil.h"

static struct serve srv;

/* SIGTERM: coil-serve finishes its requests, flushes its log, exits. */
static uint64_t serve_stop_count_lines(void)
{
	char *text = serve_stop(&srv);
	uint64_t n = 0;
	for (char *c = text; *c; c++)
		n += *c == '\n';
	free(text);
	return n;
}

static void test_serve_counts_match_log(void **state)
{
	char url[96];
	struct cb_out r;
	uint64_t lines;
	(void)state;
	serve_start(&srv, "1");
	snprintf(url, sizeof(url), "%s/", srv.base);
	r = RUN("-t2", "-c16", "-d2s", "--json", url);
	lines = serve_stop_count_lines();
	cb_expect_ok(&r);
	fprintf(stderr, "coil-bench %.0f requests, coil-serve logged %llu\n",
		j_requests(r.out), (unsigned long long)lines);
	assert_true(lines >= 1000);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	cb_out_free(&r);
}

static void test_serve_delay_median(void **state)
{
	char url[96];
	struct cb_out r;
	uint64_t lines;
	double p50;
	(void)state;
	serve_start(&srv, "1");
	snprintf(url, sizeof(url), "%s/delay/20", srv.base);
	r = RUN("-t1", "-c10", "-d2s", "--json", url);
	lines = serve_stop_count_lines();
	cb_expect_ok(&r);
	p50 = jnum(r.out, "\"latency_ns\"", "50");
	fprintf(stderr, "p50 %.3f ms over %.0f requests\n", p50 / 1e6,
		j_requests(r.out));
	assert_true(p50 >= 20e6 && p50 <= 22e6);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	cb_out_free(&r);
}

/*
 * A lone connection to /delay/20, the default batched waits beside
 * --batch-wait 0, both runs at the same time (the same moments of a
 * shared host's noise), two rounds: the p50s agree within 2% and 50 us
 * (means of the rounds).
 * (The loop's adaptive rule waits the plain way while each wake finds one
 * completion, as a lone connection's do.)
 */
static void test_serve_delay_lone_batching(void **state)
{
	char url[96];
	double on50[2], on99[2], off50[2], off99[2], m[4];
	(void)state;
	serve_start(&srv, "1");
	snprintf(url, sizeof(url), "%s/delay/20", srv.base);
	for (int i = 0; i < 2; i++) {
		char *av[] = {NULL, "-t1", "-c1", "-d3s", "--json", url, NULL};
		char *bv[] = {NULL,	      "-t1", "-c1", "-d3s", "--json",
			      "--batch-wait", "0",   url,   NULL};
		struct cb_job ja, jb;
		struct cb_out a, b;
		cb_start(&ja, av);
		cb_start(&jb, bv);
		a = cb_join(&ja);
		b = cb_join(&jb);
		cb_expect_ok(&a);
		cb_expect_ok(&b);
		assert_non_null(strstr(a.out, "\"source\": \"kernel\""));
		on50[i] = jnum(a.out, "\"latency_ns\"", "50") / 1e3;
		on99[i] = jnum(a.out, "\"latency_ns\"", "99") / 1e3;
		off50[i] = jnum(b.out, "\"latency_ns\"", "50") / 1e3;
		off99[i] = jnum(b.out, "\"latency_ns\"", "99") / 1e3;
		fprintf(stderr,
			"round %d: batched p50 %.1f p99 %.1f us; --batch-wait "
			"0 p50 %.1f p99 %.1f us\n",
			i + 1, on50[i], on99[i], off50[i], off99[i]);
		cb_out_free(&a);
		cb_out_free(&b);
	}
	serve_stop_count_lines();
	m[0] = (on50[0] + on50[1]) / 2;
	m[1] = (off50[0] + off50[1]) / 2;
	m[2] = (on99[0] + on99[1]) / 2;
	m[3] = (off99[0] + off99[1]) / 2;
	assert_true(fabs(m[0] - m[1]) <= 50 &&
		    fabs(m[0] - m[1]) <= 0.02 * m[1]);
	/* The p99 of a lone 3 s run is the host's scheduling noise here
	 * (23-43 ms for a 20 ms delay on the loaded 2-vCPU machine), larger
	 * than anything batching could add (at most the 100 us wait): it is
	 * shown, and compared by bench/serve on a quiet host, not asserted. */
	fprintf(stderr, "p99 means: batched %.1f us, --batch-wait 0 %.1f us\n",
		m[2], m[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_counts_match_log),
		cmocka_unit_test(test_serve_delay_median),
		cmocka_unit_test(test_serve_delay_lone_batching),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.serve", tests, NULL, NULL);
}
