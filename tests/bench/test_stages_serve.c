/*
 * tests/bench/test_stages_serve.c - --stages end to end against
 * coil-serve's access log: a ramp from 0 to 600/s over 2 s (600 requests),
 * a 2.5 s pause, then 400/s for 1 s (400 requests), then 0.5 s more in
 * which a generator stalled by a busy machine sends what it owes (late,
 * its latency corrected) rather than leaving it unsent. The log's lines (one
 * per request, stamped to the second) fall into two bursts separated by
 * the pause; each burst holds the ramp's integral within 1%, and so do
 * coil-bench's own per-stage counts. The closed model's stages ramp the
 * connections that send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

/* "127.0.0.1 - - [05/Dec/2026:12:19:35 +0000] ..." (nginx's combined
 * format) -> seconds since midnight (the test does not run across
 * midnight for long enough to matter: a jump backwards also starts a
 * burst) */
static long log_second(const char *line)
{
	int h, m, s;
	const char *p = strchr(line, '[');
	if (!p || !(p = strchr(p, ':')) ||
	    sscanf(p + 1, "%d:%d:%d", &h, &m, &s) != 3)
		return -1;
	return h * 3600L + m * 60L + s;
}

/* Bursts of lines: a new one where the stamp moves by 2 s or more (or
 * back). Return: how many; their sizes in @sizes. */
static int bursts(const char *log, uint64_t *sizes, int max)
{
	long prev = -1;
	int n = 0;
	for (const char *l = log; *l;) {
		const char *nl = strchr(l, '\n');
		long t = log_second(l);
		assert_true(t >= 0);
		if (prev < 0 || t - prev >= 2 || t < prev) {
			assert_true(n < max);
			sizes[n++] = 0;
		}
		sizes[n - 1]++;
		prev = t;
		if (!nl)
			break;
		l = nl + 1;
	}
	return n;
}

static void within_1pct(double got, double want, const char *what)
{
	fprintf(stderr, "%s: %.0f (the ramp's integral %.0f)\n", what, got,
		want);
	assert_true(got >= want * 0.99 && got <= want * 1.01);
}

static void test_stages_serve_open_counts(void **state)
{
	struct serve srv;
	struct cb_out r;
	uint64_t b[8];
	char *log;
	const char *p;
	int n;
	(void)state;
	serve_start(&srv, "1");
	r = RUN("-t2", "-c8", "-R", "0", "--stages",
		"2s:600,0s:0,2500ms:0,0s:400,1s:400,0s:0,500ms:0", "--json",
		serve_url(&srv, "/"));
	log = serve_stop(&srv);
	cb_expect_ok(&r);
	n = bursts(log, b, 8);
	assert_int_equal(n, 2);
	within_1pct((double)b[0], 600, "access log, ramp 0 -> 600/s over 2s");
	within_1pct((double)b[1], 400, "access log, 400/s for 1s");

	/* coil-bench's own account: scheduled exactly, answered within 1% */
	p = strstr(r.out, "\"stages\"");
	assert_non_null(p);
	assert_true(jnum(p, NULL, "scheduled") == 600);
	within_1pct(jnum(p, NULL, "requests"), 600, "coil-bench, stage 1");
	for (int k = 0; k < 5; k++) /* the fifth stage */
		p = strstr(p + 1, "\"start_ns\"");
	assert_true(jnum(p, NULL, "start_ns") == 4.5e9);
	assert_true(jnum(p, NULL, "scheduled") == 400);
	within_1pct(jnum(p, NULL, "requests"), 400, "coil-bench, stage 5");
	/* the per-second series covers the run: 6 s -> 6 points */
	assert_non_null(strstr(r.out, "\"t\": 5,"));
	assert_null(strstr(r.out, "\"t\": 7,"));
	free(log);
	cb_out_free(&r);
}

/* closed model: connections ramp 1 -> 4 against /delay/20, so the
 * second stage (4 connections held) answers about 4x what 1 would */
static void test_stages_serve_closed_ramps_connections(void **state)
{
	struct serve srv;
	struct cb_out r;
	const char *p;
	double first, held;
	char *log;
	(void)state;
	serve_start(&srv, "1");
	r = RUN("-t1", "-c1", "--stages", "0s:1,1s:1,0s:4,1s:4", "--json",
		serve_url(&srv, "/delay/20"));
	log = serve_stop(&srv);
	cb_expect_ok(&r);
	p = strstr(r.out, "\"stages\"");
	assert_non_null(strstr(p, "\"model\": \"closed\""));
	p = strstr(p, "\"length_ns\": 1000000000");
	first = jnum(p, NULL, "requests");
	p = strstr(p + 1, "\"length_ns\": 1000000000");
	held = jnum(p, NULL, "requests");
	fprintf(stderr, "1 connection: %.0f, 4 connections: %.0f\n", first,
		held);
	/* 1000 / 20 = 50 per connection-second at most */
	assert_true(first >= 25 && first <= 51);
	assert_true(held >= 2.5 * first && held <= 204);
	free(log);
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stages_serve_open_counts),
		cmocka_unit_test(test_stages_serve_closed_ramps_connections),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.stages_serve", tests, NULL,
					   NULL);
}
