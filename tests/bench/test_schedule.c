/*
 * tests/bench/test_schedule.c - the open model's schedule on a fake clock:
 * exact intended times, no drift, lanes that add up to the global
 * schedule, and a stall the generator catches up from with the intended
 * times kept and the late sends counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

#define S 1000000000ull
#define MS 1000000ull
#define T0 5000000000000ull /* an arbitrary monotonic start */

static void test_sched_init_rejects_bad_arguments(void **state)
{
	struct cb_sched s;
	assert_int_equal(cb_sched_init(&s, T0, 0, 0, 1, 0, MS), -EINVAL);
	assert_int_equal(cb_sched_init(&s, T0, 10, 0, 0, 0, MS), -EINVAL);
	assert_int_equal(cb_sched_init(&s, T0, 10, 4, 4, 0, MS), -EINVAL);
	assert_int_equal(cb_sched_init(&s, T0, 10, 3, 4, 0, MS), 0);
}

/* t_i = t0 + floor(i * 1e9 / R), exactly, also far into a run */
static void test_sched_times_are_exact(void **state)
{
	struct cb_sched s;
	assert_int_equal(cb_sched_init(&s, T0, 3, 0, 1, 0, MS), 0);
	assert_int_equal(cb_sched_time(&s, 0), T0);
	assert_int_equal(cb_sched_time(&s, 1), T0 + 333333333);
	assert_int_equal(cb_sched_time(&s, 2), T0 + 666666666);
	assert_int_equal(cb_sched_time(&s, 3), T0 + S);
	assert_int_equal(cb_sched_time(&s, 10800), T0 + 3600 * S);

	assert_int_equal(cb_sched_init(&s, T0, 7, 0, 1, 0, MS), 0);
	/* i * 1e9 overflows 64 bits here; the result does not */
	uint64_t i = 100000000000ull; /* 1e11 */
	uint64_t want = T0 + (i / 7) * S + (i % 7) * S / 7;
	assert_int_equal(cb_sched_time(&s, i), want);
	/* beyond 64 bits: saturates */
	assert_int_equal(cb_sched_time(&s, UINT64_MAX), UINT64_MAX);
}

/*
 * A generator that wakes at each cb_sched_next_ns() for an hour of 997
 * req/s sends every request exactly on time: the 3,589,200th is due at
 * t0 + 3600 s to the nanosecond, however the steps rounded.
 */
static void test_sched_no_drift_over_an_hour(void **state)
{
	struct cb_sched s;
	uint64_t now = T0, t, n = 0, prev = 0;
	assert_int_equal(cb_sched_init(&s, T0, 997, 0, 1, 0, MS), 0);
	while ((now = cb_sched_next_ns(&s)) <= T0 + 3600 * S) {
		assert_int_equal(cb_sched_due(&s, now, &t, 1), 1);
		assert_int_equal(t, now);
		assert_true(n == 0 || t > prev);
		prev = t;
		n++;
	}
	assert_int_equal(n, 997 * 3600 + 1);
	assert_int_equal(prev, T0 + 3600 * S);
	assert_int_equal(s.late, 0);
	assert_int_equal(s.max_lag_ns, 0);
	assert_int_equal(s.taken, n);
}

/* nothing is due before t0; exactly the due ones at any instant */
static void test_sched_due_counts_at_instants(void **state)
{
	struct cb_sched s;
	uint64_t t[16];
	assert_int_equal(cb_sched_init(&s, T0, 1000, 0, 1, 0, MS), 0);
	assert_int_equal(cb_sched_backlog(&s, 0), 0);
	assert_int_equal(cb_sched_backlog(&s, T0 - 1), 0);
	assert_int_equal(cb_sched_due(&s, T0 - 1, t, 16), 0);
	assert_int_equal(cb_sched_next_ns(&s), T0);
	assert_int_equal(cb_sched_backlog(&s, T0), 1);
	assert_int_equal(cb_sched_backlog(&s, T0 + MS - 1), 1);
	assert_int_equal(cb_sched_backlog(&s, T0 + MS), 2);
	assert_int_equal(cb_sched_backlog(&s, T0 + 10 * MS), 11);
	assert_int_equal(cb_sched_due(&s, T0 + 10 * MS, t, 16), 11);
	for (int k = 0; k < 11; k++)
		assert_int_equal(t[k], T0 + (uint64_t)k * MS);
	assert_int_equal(cb_sched_next_ns(&s), T0 + 11 * MS);
	assert_int_equal(cb_sched_due(&s, T0 + 10 * MS, t, 16), 0);
}

/* four lanes together send the global schedule, each i exactly once */
static void test_sched_lanes_partition_the_schedule(void **state)
{
	enum { LANES = 4, N = 4000 };
	struct cb_sched lane[LANES], global;
	uint64_t seen[N] = {0}, t[64], total = 0;
	assert_int_equal(cb_sched_init(&global, T0, 1000, 0, 1, 0, MS), 0);
	for (int l = 0; l < LANES; l++)
		assert_int_equal(
			cb_sched_init(&lane[l], T0, 1000, l, LANES, N, MS), 0);
	/* a coarse fake clock: every 7 ms, until every lane is done */
	for (uint64_t now = T0; now < T0 + (N + 7) * MS; now += 7 * MS) {
		for (int l = 0; l < LANES; l++) {
			unsigned n = cb_sched_due(&lane[l], now, t, 64);
			for (unsigned k = 0; k < n; k++) {
				uint64_t i = (t[k] - T0) / MS;
				assert_int_equal(t[k],
						 cb_sched_time(&global, i));
				assert_int_equal(i % LANES, (uint64_t)l);
				assert_true(i < N);
				seen[i]++;
				total++;
			}
		}
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(total, N);
	for (int l = 0; l < LANES; l++)
		assert_true(cb_sched_done(&lane[l]));

	/* each lane runs at a quarter of the rate, staggered by 1 ms */
	for (int l = 0; l < LANES; l++) {
		assert_int_equal(
			cb_sched_init(&lane[l], T0, 1000, l, LANES, 0, MS), 0);
		assert_int_equal(cb_sched_next_ns(&lane[l]),
				 T0 + (uint64_t)l * MS);
		assert_int_equal(cb_sched_due(&lane[l], T0 + 3 * MS, t, 64), 1);
		assert_int_equal(cb_sched_next_ns(&lane[l]),
				 T0 + (uint64_t)(l + LANES) * MS);
	}
}

/*
 * The generator runs on time at 1000 req/s, then stalls for 100 ms, then
 * catches up: the owed requests keep their intended times (so their
 * latencies include the stall), the ones more than 1 ms late are counted,
 * and afterwards everything is on time again.
 */
static void test_sched_stall_keeps_intended_times(void **state)
{
	struct cb_sched s;
	uint64_t t[256], now;
	unsigned n;
	assert_int_equal(cb_sched_init(&s, T0, 1000, 0, 1, 0, MS), 0);
	for (now = T0; now < T0 + 50 * MS; now += MS / 2)
		cb_sched_due(&s, now, t, 256);
	assert_int_equal(s.taken, 50);
	assert_int_equal(s.late, 0);

	/* woke at 149.5 ms instead of 50 ms */
	now = T0 + 149 * MS + MS / 2;
	assert_int_equal(cb_sched_backlog(&s, now), 100);
	/* the connection had room for 30 only */
	n = cb_sched_due(&s, now, t, 30);
	assert_int_equal(n, 30);
	for (unsigned k = 0; k < n; k++)
		assert_int_equal(t[k], T0 + (50 + k) * MS);
	assert_int_equal(cb_sched_backlog(&s, now), 70);
	n = cb_sched_due(&s, now, t, 256);
	assert_int_equal(n, 70);
	assert_int_equal(t[0], T0 + 80 * MS);
	assert_int_equal(t[69], T0 + 149 * MS);
	/* lags 99.5 .. 0.5 ms: the 99 above 1 ms (requests 50..148) are
	 * late */
	assert_int_equal(s.late, 99);
	assert_int_equal(s.max_lag_ns, 99 * MS + MS / 2);
	assert_int_equal(s.taken, 150);

	/* caught up: on time again */
	uint64_t late = s.late;
	for (now = T0 + 150 * MS; now < T0 + 300 * MS; now += MS) {
		assert_int_equal(cb_sched_due(&s, now, t, 256), 1);
		assert_int_equal(t[0], now);
	}
	assert_int_equal(s.late, late);
}

/* -n: the lanes stop after their share of the limit */
static void test_sched_limit_ends_the_lanes(void **state)
{
	struct cb_sched lane[3];
	uint64_t t[64], total = 0;
	for (int l = 0; l < 3; l++)
		assert_int_equal(cb_sched_init(&lane[l], T0, 100, l, 3, 10, MS),
				 0);
	for (int l = 0; l < 3; l++) {
		unsigned n = cb_sched_due(&lane[l], T0 + 3600 * S, t, 64);
		total += n;
		assert_int_equal(n, l == 0 ? 4 : 3); /* i = 0,3,6,9 | 1,4,7 */
		assert_true(cb_sched_done(&lane[l]));
		assert_int_equal(cb_sched_next_ns(&lane[l]), UINT64_MAX);
		assert_int_equal(cb_sched_backlog(&lane[l], UINT64_MAX), 0);
	}
	assert_int_equal(total, 10);
	/* without a limit, never done */
	assert_int_equal(cb_sched_init(&lane[0], T0, 100, 0, 1, 0, MS), 0);
	assert_false(cb_sched_done(&lane[0]));
}

static void test_sched_split_shares(void **state)
{
	uint64_t first, count, sum = 0, next = 0;
	/* 10 connections over 3 threads: 4, 3, 3 */
	static const uint64_t want[3][2] = {{0, 4}, {4, 3}, {7, 3}};
	for (uint64_t k = 0; k < 3; k++) {
		cb_split(10, 3, k, &first, &count);
		assert_int_equal(first, want[k][0]);
		assert_int_equal(count, want[k][1]);
	}
	/* contiguous and complete for any shape */
	for (uint64_t total = 0; total < 50; total++) {
		for (uint64_t parts = 1; parts < 9; parts++) {
			sum = 0;
			next = 0;
			for (uint64_t k = 0; k < parts; k++) {
				cb_split(total, parts, k, &first, &count);
				assert_int_equal(first, next);
				next += count;
				sum += count;
			}
			assert_int_equal(sum, total);
		}
	}
	cb_split(10, 0, 0, &first, &count);
	assert_int_equal(count, 0);
	cb_split(10, 3, 3, &first, &count);
	assert_int_equal(count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_init_rejects_bad_arguments),
		cmocka_unit_test(test_sched_times_are_exact),
		cmocka_unit_test(test_sched_no_drift_over_an_hour),
		cmocka_unit_test(test_sched_due_counts_at_instants),
		cmocka_unit_test(test_sched_lanes_partition_the_schedule),
		cmocka_unit_test(test_sched_stall_keeps_intended_times),
		cmocka_unit_test(test_sched_limit_ends_the_lanes),
		cmocka_unit_test(test_sched_split_shares),
	};
	return cmocka_run_group_tests_name("bench.schedule", tests, NULL, NULL);
}
