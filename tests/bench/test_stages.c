/*
 * tests/bench/test_stages.c - --stages: the ramp's value and integral, the
 * exact inverse that gives each request's intended time, lanes that
 * together send exactly the global schedule, and the command line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "schedule.h"
#include "stages.h"

#define S 1000000000ull

static void init(struct cb_stages *s, uint64_t start, unsigned n,
		 const uint64_t (*lt)[2])
{
	struct cb_stage st[16];
	memset(st, 0, sizeof(st));
	for (unsigned k = 0; k < n; k++) {
		st[k].len_ns = lt[k][0];
		st[k].target = lt[k][1];
	}
	assert_int_equal(cb_stages_init(s, st, n, start), 0);
}

/* a constant rate gives the same times as the schedule without stages */
static void test_stages_constant_matches_schedule(void **state)
{
	struct cb_stages s;
	struct cb_sched plain;
	(void)state;
	init(&s, 997, 1, (const uint64_t[][2]){{10 * S, 997}});
	assert_int_equal(cb_sched_init(&plain, 0, 997, 0, 1, 0, 1000), 0);
	for (uint64_t i = 0; i < 9970; i++)
		assert_int_equal(cb_stages_time(&s, i),
				 cb_sched_time(&plain, i));
	assert_int_equal(cb_stages_time(&s, 9970), UINT64_MAX);
	assert_int_equal(cb_stages_due(&s, 10 * S - 1), 9970);
	assert_int_equal(cb_stages_scheduled(&s, 0), 9970);
	cb_stages_free(&s);
}

/* 0 -> 1000/s over 10 s, 1000/s for 5 s, down to 0 over 5 s: value,
 * integral (5000, 5000, 2500 requests), each request's time the root of
 * the quadratic, times non-decreasing, due() exact around every time */
static void test_stages_ramp_integral_and_inverse(void **state)
{
	struct cb_stages s;
	uint64_t prev = 0;
	(void)state;
	init(&s, 0, 3,
	     (const uint64_t[][2]){{10 * S, 1000}, {5 * S, 1000}, {5 * S, 0}});
	assert_int_equal(s.total_ns, 20 * S);
	assert_int_equal(s.peak, 1000);
	assert_true(cb_stages_value(&s, 0) == 0);
	assert_true(fabs(cb_stages_value(&s, 5 * S) - 500) < 1e-9);
	assert_true(fabs(cb_stages_value(&s, 17500000000ull) - 500) < 1e-9);
	assert_true(fabs(cb_stages_integral(&s, 10 * S) - 5000) < 1e-6);
	assert_true(fabs(cb_stages_integral(&s, 20 * S) - 12500) < 1e-6);
	assert_int_equal(cb_stages_scheduled(&s, 0), 5000);
	assert_int_equal(cb_stages_scheduled(&s, 1), 5000);
	assert_int_equal(cb_stages_scheduled(&s, 2), 2500);
	for (uint64_t i = 0; i < 12500; i++) {
		uint64_t t = cb_stages_time(&s, i);
		double exact;
		assert_true(t >= prev);
		prev = t;
		/* in the ramp up, N(t) = 50 t^2 (t in s): t_i = sqrt(i / 50) */
		if (i < 5000) {
			exact = sqrt((double)i / 50.0) * 1e9;
			assert_true(fabs((double)t - exact) <= 2.0);
		}
		assert_int_equal(cb_stages_due(&s, t), i + 1);
		if (t)
			assert_true(cb_stages_due(&s, t - 1) <= i);
	}
	assert_int_equal(cb_stages_time(&s, 12500), UINT64_MAX);
	cb_stages_free(&s);
}

/* a jump (length 0) and a pause (rate 0): nothing is scheduled in the
 * pause, the next request waits for its end */
static void test_stages_jump_and_pause(void **state)
{
	struct cb_stages s;
	(void)state;
	init(&s, 300, 4,
	     (const uint64_t[][2]){
		     {1 * S, 300}, {0, 0}, {2 * S, 0}, {1 * S, 0}});
	/* 300/s for 1 s, a jump to 0, 2 s of nothing, then 0 -> 0 */
	assert_int_equal(cb_stages_scheduled(&s, 0), 300);
	assert_int_equal(cb_stages_scheduled(&s, 1), 0);
	assert_int_equal(cb_stages_scheduled(&s, 2), 0);
	assert_int_equal(cb_stages_time(&s, 299), 299 * S / 300);
	assert_int_equal(cb_stages_time(&s, 300), UINT64_MAX);
	assert_int_equal(cb_stages_index(&s, 1 * S), 2);
	assert_int_equal(cb_stages_index(&s, 3 * S), 3);
	cb_stages_free(&s);

	init(&s, 200, 3,
	     (const uint64_t[][2]){{1 * S, 200}, {1 * S, 0}, {0, 500}});
	/* 200, ramp down to 0 over 1 s (100 more), then a jump to 500
	 * that lasts no time: nothing after */
	assert_int_equal(cb_stages_scheduled(&s, 1), 100);
	assert_int_equal(cb_stages_time(&s, 300), UINT64_MAX);
	cb_stages_free(&s);
}

/* lanes of a staged schedule hand out every global request exactly once
 * and never before its time */
static void test_stages_lanes_cover_schedule(void **state)
{
	struct cb_stages s;
	struct cb_sched lanes[7];
	uint64_t due[64], taken = 0, t0 = 5 * S;
	(void)state;
	init(&s, 50, 2, (const uint64_t[][2]){{2 * S, 3000}, {1 * S, 10}});
	for (unsigned l = 0; l < 7; l++) {
		assert_int_equal(
			cb_sched_init(&lanes[l], t0, s.peak, l, 7, 0, 1000000),
			0);
		cb_sched_use_stages(&lanes[l], &s);
	}
	for (uint64_t now = t0; now < t0 + s.total_ns; now += 1000000) {
		for (unsigned l = 0; l < 7; l++) {
			unsigned n = cb_sched_due(&lanes[l], now, due, 64);
			for (unsigned k = 0; k < n; k++)
				assert_true(due[k] <= now);
			taken += n;
		}
	}
	assert_int_equal(taken, cb_stages_due(&s, s.total_ns - 1));
	assert_int_equal(taken, cb_stages_scheduled(&s, 0) +
					cb_stages_scheduled(&s, 1));
	/* (50 + 3000) / 2 * 2 + (3000 + 10) / 2 * 1 = 4555 */
	assert_int_equal(taken, 4555);
	cb_stages_free(&s);
}

static int parse(struct cb_opts *o, char *err, ...)
{
	char *argv[32] = {"coil-bench"};
	int argc = 1;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	return cb_cli_parse(o, argc, argv, err, 256);
}

static void test_stages_cli(void **state)
{
	struct cb_opts o;
	char err[256];
	(void)state;
	/* open model from -R 0 */
	assert_int_equal(parse(&o, err, "-R", "0", "--stages",
			       "30s:1k,60s:5k,30s:5k,10s:0", "http://x/", NULL),
			 0);
	assert_int_equal(o.stages.n, 4);
	assert_int_equal(o.stages.start, 0);
	assert_int_equal(o.rate, 5000);
	assert_int_equal(o.duration_ns, 130 * S);
	assert_int_equal(o.stages.st[1].from, 1000);
	cb_cli_free(&o);
	/* closed model: connections from -c, raised to the peak */
	assert_int_equal(parse(&o, err, "-c", "4", "--stages", "10s:50,0:1",
			       "http://x/", NULL),
			 0);
	assert_int_equal(o.rate, 0);
	assert_int_equal(o.connections, 50);
	assert_int_equal(o.stages.start, 4);
	cb_cli_free(&o);

	static const struct {
		const char *spec, *why;
	} bad[] = {
		{"10s", "expected LENGTH:TARGET"},
		{"10x:5", "bad --stages length"},
		{"10s:5q", "bad --stages target"},
		{"0s:5", "lasts no time"},
		{"10s:5,", "expected LENGTH:TARGET"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, err, "-R", "10", "--stages",
				       bad[i].spec, "http://x/", NULL),
				 -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("'%s': '%s'", bad[i].spec, err);
		cb_cli_free(&o);
	}
	assert_int_equal(parse(&o, err, "-R", "0", "--stages", "1s:0",
			       "http://x/", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "never sends"));
	cb_cli_free(&o);
	assert_int_equal(parse(&o, err, "--stages", "1s:5", "-d", "1s",
			       "http://x/", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "leave out -d"));
	cb_cli_free(&o);
	assert_int_equal(parse(&o, err, "-R", "0", "http://x/", NULL), -EINVAL);
	assert_non_null(strstr(err, "-R must be at least 1"));
	cb_cli_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stages_constant_matches_schedule),
		cmocka_unit_test(test_stages_ramp_integral_and_inverse),
		cmocka_unit_test(test_stages_jump_and_pause),
		cmocka_unit_test(test_stages_lanes_cover_schedule),
		cmocka_unit_test(test_stages_cli),
	};
	return cmocka_run_group_tests_name("bench.stages", tests, NULL, NULL);
}
