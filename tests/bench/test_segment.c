/*
 * tests/bench/test_segment.c - one test split over N workers (--segment,
 * --segments, --start-at; segment.h): the shares of -c, -n and the closed
 * model's --stages add up to the whole, the open model's lanes of all
 * workers are exactly the one schedule (with -n and --stages too), I and N
 * come from Slurm's and Kubernetes' variables, and every bad value is
 * refused with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "schedule.h"
#include "segment.h"

/* Parse "ARGS" (space-separated) plus the URL; 0 or the error. */
static int parse(struct cb_opts *o, char *err, const char *fmt, ...)
{
	static char line[512];
	char *argv[64], *save = NULL;
	int argc = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[argc++] = "coil-bench";
	for (char *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc++] = "http://127.0.0.1:1/";
	argv[argc] = NULL;
	return cb_cli_parse(o, argc, argv, err, 256);
}

static void ok(struct cb_opts *o, const char *fmt, const char *seg)
{
	char err[256];
	if (parse(o, err, fmt, seg))
		fail_msg("'%s' with %s: %s", fmt, seg, err);
}

static void refused(const char *args, const char *why)
{
	struct cb_opts o;
	char err[256];
	if (parse(&o, err, "%s", args) == 0)
		fail_msg("'%s' was accepted", args);
	if (!strstr(err, why))
		fail_msg("'%s': '%s' does not say '%s'", args, err, why);
	cb_cli_free(&o);
}

/* -c and the closed model's -n: shares of the whole, the first workers
 * taking the remainders; threads never above the connections. */
static void test_segment_splits_connections_and_requests(void **state)
{
	static const uint32_t conns[4] = {3, 3, 2, 2};
	static const uint64_t reqs[4] = {251, 250, 250, 250};
	uint64_t first = 0, nsum = 0;
	char seg[16];
	(void)state;
	for (uint32_t i = 1; i <= 4; i++) {
		struct cb_opts o;
		snprintf(seg, sizeof(seg), "%u/4", i);
		ok(&o, "-t 3 -c 10 -n 1001 --segment %s", seg);
		assert_int_equal(o.connections, conns[i - 1]);
		assert_int_equal(o.threads, conns[i - 1] < 3 ? 2 : 3);
		assert_int_equal(o.seg.conn_first, first);
		assert_int_equal(o.seg.connections, 10);
		assert_int_equal(o.seg.threads, 3);
		assert_int_equal(o.seg.requests, 1001);
		assert_int_equal(o.requests, reqs[i - 1]);
		assert_int_equal(cb_lanes(&o), 10);
		first += o.connections;
		nsum += o.requests;
		cb_cli_free(&o);
	}
	assert_int_equal(first, 10);
	assert_int_equal(nsum, 1001);
}

/* Requests of the lanes of worker @seg due by @t_ns. */
static uint64_t worker_due(const char *args, const char *seg, uint64_t t_ns)
{
	struct cb_opts o;
	uint64_t n = 0;
	ok(&o, args, seg);
	for (uint64_t c = 0; c < o.connections; c++) {
		struct cb_sched s;
		assert_int_equal(cb_sched_init(&s, 0, o.rate,
					       o.seg.conn_first + c,
					       cb_lanes(&o), o.requests,
					       CB_SCHED_LATE_NS),
				 0);
		if (o.stages.n)
			cb_sched_use_stages(&s, &o.stages);
		n += cb_sched_backlog(&s, t_ns);
	}
	cb_cli_free(&o);
	return n;
}

/* The open model: the N workers' lanes are the one schedule, with -n and
 * --stages too: together they send exactly what one generator would. */
static void test_segment_open_model_is_the_one_schedule(void **state)
{
	static const char *const runs[] = {
		"-t 1 -c 10 -R 4000 -d 3s --segment %s",
		"-t 1 -c 7 -R 999 -n 1234 -d 3s --segment %s",
		"-t 1 -c 9 -R 0 --stages 1s:3000,1s:3000,1s:500 --segment %s",
	};
	static const uint64_t t[] = {1000000000ull, 1234567891ull,
				     2999999999ull};
	(void)state;
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		struct cb_opts one;
		struct cb_sched s;
		char fmt[128];
		/* one generator: the same command line without --segment */
		snprintf(fmt, sizeof(fmt), "%.*s",
			 (int)(strstr(runs[r], " --segment") - runs[r]),
			 runs[r]);
		ok(&one, fmt, "");
		assert_int_equal(cb_sched_init(&s, 0, one.rate, 0, 1,
					       one.requests, CB_SCHED_LATE_NS),
				 0);
		if (one.stages.n)
			cb_sched_use_stages(&s, &one.stages);
		for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
			uint64_t sum = 0;
			for (int n = 1; n <= 3; n++) {
				char seg[8];
				snprintf(seg, sizeof(seg), "%d/3", n);
				sum += worker_due(runs[r], seg, t[k]);
			}
			assert_int_equal(sum, cb_sched_total_due(&s, t[k]));
		}
		cb_cli_free(&one);
	}
}

/* The closed model's --stages value (sending connections) is split at
 * every moment: the workers' shares add up to it. */
static void test_segment_closed_stages_shares_add_up(void **state)
{
	(void)state;
	for (uint64_t v = 0; v <= 50; v++) {
		uint64_t sum = 0;
		for (uint32_t i = 1; i <= 7; i++) {
			struct cb_segment s = {
				.source = CB_SEG_FLAG, .index = i, .count = 7};
			uint64_t sh = cb_segment_share(&s, v);
			assert_true(sh == v / 7 || sh == v / 7 + 1);
			sum += sh;
		}
		assert_int_equal(sum, v);
	}
}

/* --segment auto under srun, --segments N in an Indexed Job's pod. */
static void test_segment_from_scheduler_variables(void **state)
{
	struct cb_opts o;
	(void)state;
	setenv("SLURM_PROCID", "2", 1);
	setenv("SLURM_NTASKS", "4", 1);
	ok(&o, "-c 8 --segment %s", "auto");
	assert_int_equal(o.seg.index, 3);
	assert_int_equal(o.seg.count, 4);
	assert_int_equal(o.seg.source, CB_SEG_SLURM);
	assert_int_equal(o.seg.conn_first, 4);
	cb_cli_free(&o);
	setenv("SLURM_PROCID", "4", 1);
	refused("-c 8 --segment auto", "not a task of the job");
	unsetenv("SLURM_PROCID");
	unsetenv("SLURM_NTASKS");
	refused("-c 8 --segment auto", "needs SLURM_PROCID and SLURM_NTASKS");

	setenv("JOB_COMPLETION_INDEX", "0", 1);
	ok(&o, "-c 8 --segments %s", "3");
	assert_int_equal(o.seg.index, 1);
	assert_int_equal(o.seg.count, 3);
	assert_int_equal(o.seg.source, CB_SEG_K8S);
	assert_int_equal(o.connections, 3);
	cb_cli_free(&o);
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	refused("-c 8 --segments 3", "is not in 0..2");
	setenv("JOB_COMPLETION_INDEX", "x", 1);
	refused("-c 8 --segments 3", "is not in 0..2");
	unsetenv("JOB_COMPLETION_INDEX");
	refused("-c 8 --segments 3", "needs JOB_COMPLETION_INDEX");
}

static void test_segment_bad_values_refused(void **state)
{
	(void)state;
	refused("--segment 0/4", "bad --segment '0/4'");
	refused("--segment 5/4", "bad --segment '5/4'");
	refused("--segment 1/0", "bad --segment");
	refused("--segment 2", "bad --segment '2'");
	refused("--segment a/b", "bad --segment");
	refused("--segment 1/4x", "bad --segment");
	refused("--segment 1/100001", "bad --segment");
	refused("-c 3 --segment 1/4", "-c 3 is less than the 4 segments");
	refused("-c 8 -n 3 --segment 4/4", "-n 3 is less than the 4");
	refused("--find-max-rate --slo p99<1s --segment 1/2",
		"--find-max-rate runs on one machine");
}

/* --start-at: UNIX seconds with a fraction, never in the past. */
static void test_segment_start_at(void **state)
{
	uint64_t at, now = cb_realtime_ns();
	char err[256], arg[64];
	struct cb_opts o;
	(void)state;
	assert_int_equal(
		cb_parse_start_at("4102444800.25", now, &at, err, sizeof(err)),
		0);
	assert_int_equal(at, 4102444800250000000ull);
	assert_int_equal(cb_parse_start_at("4102444800.123456789123", now, &at,
					   err, sizeof(err)),
			 0);
	assert_int_equal(at, 4102444800123456789ull);
	assert_int_equal(
		cb_parse_start_at("1000000000", now, &at, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "in the past"));
	assert_int_equal(cb_parse_start_at("soon", now, &at, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad --start-at 'soon'"));
	assert_int_equal(cb_parse_start_at("-5", now, &at, err, sizeof(err)),
			 -EINVAL);
	snprintf(arg, sizeof(arg), "%llu.5",
		 (unsigned long long)(now / 1000000000ull + 100));
	ok(&o, "--start-at %s", arg);
	assert_int_equal(o.start_at_ns,
			 (now / 1000000000ull + 100) * 1000000000ull +
				 500000000ull);
	cb_cli_free(&o);
	refused("--start-at 12", "in the past");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segment_splits_connections_and_requests),
		cmocka_unit_test(test_segment_open_model_is_the_one_schedule),
		cmocka_unit_test(test_segment_closed_stages_shares_add_up),
		cmocka_unit_test(test_segment_from_scheduler_variables),
		cmocka_unit_test(test_segment_bad_values_refused),
		cmocka_unit_test(test_segment_start_at),
	};
	return cmocka_run_group_tests_name("bench.segment", tests, NULL, NULL);
}
