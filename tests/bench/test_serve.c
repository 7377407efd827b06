/*
 * tests/bench/test_serve.c - coil-bench against coil-serve: the request
 * count coil-bench reports equals the lines coil-serve wrote to its
 * access log, with no error, and /delay/20 shows a median of at least
 * 20 ms and latencies that fit in the time the connections had (20-22 ms
 * on a quiet host: bench/serve measures; the tests hold at any load).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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
	assert_true(p50 >= 20e6);
	j_expect_latency_fits(r.out, 10);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	cb_out_free(&r);
}

/*
 * A lone connection to /delay/20, the default batched waits beside
 * --batch-wait 0, both runs at the same time, two rounds. The loop's
 * adaptive rule waits the plain way while each wake finds one completion,
 * as a lone connection's do: the batched run's loop made a batched wait
 * only after a wake that found two (the send's and the answer's
 * completions together: the loop held back for the whole 20 ms delay), so
 * far fewer than one per request, where a rule that always batched makes
 * two (one per completion); the other run none. Both measure the delay
 * from the kernel's receive timestamps: never under 20 ms, and no longer
 * than the time the connection had. (How close the two runs' p50s come
 * is the host's noise: within 2% on a quiet host, bench/serve compares
 * them; at load 10-20 the noise is larger than anything batching could
 * add, at most the 100 us wait.)
 */
static void test_serve_delay_lone_batching(void **state)
{
	char url[96];
	(void)state;
	serve_start(&srv, "1");
	snprintf(url, sizeof(url), "%s/delay/20", srv.base);
	for (int i = 0; i < 2; i++) {
		char *av[] = {NULL, "-t1", "-c1", "-d3s", "--json", url, NULL};
		char *bv[] = {NULL,	      "-t1", "-c1", "-d3s", "--json",
			      "--batch-wait", "0",   url,   NULL};
		struct cb_job ja, jb;
		struct cb_out a, b;
		double na, nb, wa, wb;
		cb_start(&ja, av);
		cb_start(&jb, bv);
		a = cb_join(&ja);
		b = cb_join(&jb);
		cb_expect_ok(&a);
		cb_expect_ok(&b);
		na = j_requests(a.out);
		nb = j_requests(b.out);
		wa = jnum(a.out, "\"response_times\"", "batched_waits");
		wb = jnum(b.out, "\"response_times\"", "batched_waits");
		fprintf(stderr,
			"round %d: batched p50 %.1f p99 %.1f us, %.0f batched "
			"waits in %.0f requests; --batch-wait 0 p50 %.1f p99 "
			"%.1f us, %.0f in %.0f\n",
			i + 1, jnum(a.out, "\"latency_ns\"", "50") / 1e3,
			jnum(a.out, "\"latency_ns\"", "99") / 1e3, wa, na,
			jnum(b.out, "\"latency_ns\"", "50") / 1e3,
			jnum(b.out, "\"latency_ns\"", "99") / 1e3, wb, nb);
		assert_non_null(strstr(a.out, "\"source\": \"kernel\""));
		assert_non_null(strstr(b.out, "\"source\": \"kernel\""));
		assert_true(na >= 1 && nb >= 1);
		assert_true(wa >= 0 && wa < na / 2);
		assert_true(wb == 0);
		assert_true(jnum(a.out, "\"latency_ns\"", "50") >= 20e6);
		assert_true(jnum(b.out, "\"latency_ns\"", "50") >= 20e6);
		j_expect_latency_fits(a.out, 1);
		j_expect_latency_fits(b.out, 1);
		cb_out_free(&a);
		cb_out_free(&b);
	}
	serve_stop_count_lines();
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
