/*
 * tests/bench/test_merge.c - coil-bench merge on recorded data: worker
 * results with latencies drawn at random are written as --json, merged by
 * cb_merge_main(), and the merged figures compared with those of one
 * histogram of every latency recorded (the union): same count, min, max,
 * percentiles, counts added. Then the refusals: a missing segment (named),
 * a duplicate, mixed configs, a result that is not a segment, and the
 * histogram text's round trip (hdrlog.h) with clamped values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hdrlog.h"
#include "merge.h"
#include "report.h"
#include "series.h"
#include "testutil.h"

#define WORKERS 3

/* A worker's options: the command line every worker of the test got, with
 * its own --segment. */
static void parse(struct cb_opts *o, const char *seg, const char *rate)
{
	char *argv[] = {"coil-bench", "-t",
			"2",	      "-c",
			"12",	      "-d",
			"2s",	      "-R",
			(char *)rate, "--slo",
			"p99<1h",     "--segment",
			(char *)seg,  "http://127.0.0.1:1/x",
			NULL};
	char err[256];
	if (cb_cli_parse(o, 14, argv, err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A latency in ns from 20 us to 2 s, heavy-tailed. */
static uint64_t latency(void)
{
	uint64_t v = 20000 + rnd() % 2000000;
	if (rnd() % 100 == 0)
		v *= 1 + rnd() % 1000;
	return v;
}

struct fixture {
	char path[WORKERS][64];
	struct coil_hist *all, *all_sec[2];
	uint64_t requests, errors, s404;
};

/* Worker @k's result with @n latencies (into fx->all too), its per-second
 * series of two seconds, as a --json file. */
static void write_worker(struct fixture *fx, int k, unsigned n,
			 const char *rate, const char *seg)
{
	struct cb_opts o;
	struct cb_result r;
	struct cb_series_point pt[2];
	struct coil_hist *sec[2];
	FILE *f;
	int fd;

	parse(&o, seg, rate);
	assert_int_equal(cb_result_init(&r), 0);
	memset(pt, 0, sizeof(pt));
	assert_int_equal(coil_hist_new(&sec[0], NULL), 0);
	assert_int_equal(coil_hist_new(&sec[1], NULL), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = latency();
		coil_hist_record(r.latency, v);
		coil_hist_record(r.latency_uncorrected, v / 2);
		coil_hist_record(fx->all, v);
		coil_hist_record(sec[i & 1], v);
		coil_hist_record(fx->all_sec[i & 1], v);
		pt[i & 1].requests++;
		cb_result_status(&r, i % 10 ? 200 : 404);
	}
	for (int i = 0; i < 5; i++)
		coil_hist_record(r.req_per_sec, 1000 + rnd() % 100);
	r.requests = n;
	r.runtime_ns = 2000000000ull;
	cb_result_error(&r, CB_ERR_TIMEOUT, -ETIMEDOUT);
	cb_result_error(&r, CB_ERR_CONNECT, -ECONNREFUSED);
	r.late = 3;
	r.late_by.held = 2;
	r.late_by.timer = 1;
	r.unsent = (uint64_t)k;
	r.start_late_ns = 1000u * (unsigned)(k + 1);
	snprintf(r.host, sizeof(r.host), "node%d", k);
	for (int s = 0; s < 2; s++) {
		pt[s].p50_ns = coil_hist_value_at_percentile(sec[s], 50);
		pt[s].p99_ns = coil_hist_value_at_percentile(sec[s], 99);
		assert_int_equal(cb_hdr_text_make(&pt[s].hist, sec[s]), 0);
	}
	r.series = pt;
	r.nseries = 2;
	fx->requests += n;
	fx->errors += 2;
	fx->s404 += (n + 9) / 10;
	snprintf(fx->path[k], sizeof(fx->path[k]),
		 "/tmp/coil-merge-test-XXXXXX");
	fd = mkstemp(fx->path[k]);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_int_equal(cb_report_json(f, &o, &r), 0);
	fclose(f);
	for (int s = 0; s < 2; s++) {
		cb_hdr_text_free(&pt[s].hist);
		coil_hist_free(sec[s]);
	}
	cb_result_free(&r);
	cb_cli_free(&o);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	static const char *seg[WORKERS] = {"1/3", "2/3", "3/3"};
	coil_hist_new(&fx->all, NULL);
	coil_hist_new(&fx->all_sec[0], NULL);
	coil_hist_new(&fx->all_sec[1], NULL);
	for (int k = 0; k < WORKERS; k++)
		write_worker(fx, k, 3000 + 1000 * (unsigned)k, "300", seg[k]);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	for (int k = 0; k < WORKERS; k++)
		unlink(fx->path[k]);
	coil_hist_free(fx->all);
	coil_hist_free(fx->all_sec[0]);
	coil_hist_free(fx->all_sec[1]);
	free(fx);
	return 0;
}

/* Run cb_merge_main() with @args (NULL-terminated, after "merge");
 * stdout and stderr into *out and *err (freed by the caller). */
static int merge(char **out, char **err, const char *const *args)
{
	char *argv[32];
	char o[] = "/tmp/coil-merge-out-XXXXXX",
	     e[] = "/tmp/coil-merge-err-XXXXXX";
	int argc = 0, ofd = mkstemp(o), efd = mkstemp(e), so, se, status;
	argv[argc++] = "merge";
	for (int i = 0; args[i]; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	dup2(ofd, 1);
	dup2(efd, 2);
	status = cb_merge_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(ofd);
	close(efd);
	{
		FILE *f;
		long n;
		char *bufs[2];
		const char *paths[2] = {o, e};
		for (int i = 0; i < 2; i++) {
			f = fopen(paths[i], "r");
			fseek(f, 0, SEEK_END);
			n = ftell(f);
			fseek(f, 0, SEEK_SET);
			bufs[i] = calloc(1, (size_t)n + 1);
			if (fread(bufs[i], 1, (size_t)n, f) != (size_t)n)
				bufs[i][0] = '\0';
			fclose(f);
			unlink(paths[i]);
		}
		*out = bufs[0];
		*err = bufs[1];
	}
	return status;
}

static uint64_t jget(json_t *root, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(root, a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	if (!json_is_integer(v))
		fail_msg("no integer at %s.%s.%s", a, b ? b : "", c ? c : "");
	return (uint64_t)json_integer_value(v);
}

/* The merged histogram is the histogram of the union: count, min, max and
 * every percentile; the counts add; each second's p50/p99 too. */
static void test_merge_equals_union(void **state)
{
	struct fixture *fx = *state;
	static const char *const labels[] = {"50",   "75",    "90",	"99",
					     "99.9", "99.99", "99.999", "100"};
	static const double pcts[] = {50, 75, 90, 99, 99.9, 99.99, 99.999, 100};
	const char *args[] = {"--json", fx->path[2], fx->path[0], fx->path[1],
			      NULL};
	char *out, *err;
	json_error_t je;
	json_t *root, *pts;
	int status = merge(&out, &err, args);

	if (status)
		fail_msg("merge exit %d: %s", status, err);
	root = json_loads(out, 0, &je);
	assert_non_null(root);
	assert_int_equal(jget(root, "requests", NULL, NULL), fx->requests);
	assert_int_equal(jget(root, "latency_ns", "count", NULL),
			 coil_hist_count(fx->all));
	assert_int_equal(jget(root, "latency_ns", "min", NULL),
			 coil_hist_min(fx->all));
	assert_int_equal(jget(root, "latency_ns", "max", NULL),
			 coil_hist_max(fx->all));
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		assert_int_equal(
			jget(root, "latency_ns", "percentiles", labels[i]),
			coil_hist_value_at_percentile(fx->all, pcts[i]));
	assert_int_equal(jget(root, "status", "404", NULL), fx->s404);
	assert_int_equal(jget(root, "status", "200", NULL),
			 fx->requests - fx->s404);
	assert_int_equal(jget(root, "errors", "timeout", "count"), WORKERS);
	assert_int_equal(jget(root, "errors", "connect", "count"), WORKERS);
	assert_int_equal(jget(root, "open_model", "late", NULL), 3 * WORKERS);
	/* its causes too, read back and summed */
	assert_int_equal(jget(root, "open_model", "late_causes", "held"),
			 2 * WORKERS);
	assert_int_equal(jget(root, "open_model", "late_causes", "busy"), 0);
	assert_int_equal(jget(root, "open_model", "late_causes", "timer"),
			 WORKERS);
	assert_int_equal(jget(root, "open_model", "unsent", NULL), 0 + 1 + 2);
	assert_int_equal(jget(root, "config", "connections", NULL), 12);
	assert_int_equal(jget(root, "config", "threads", NULL), 6);
	assert_int_equal(jget(root, "start", "late_ns", NULL), 3000);
	assert_int_equal(jget(root, "thread_requests_per_sec", "count", NULL),
			 5 * WORKERS);
	pts = json_object_get(json_object_get(root, "series"), "points");
	assert_int_equal(json_array_size(pts), 2);
	for (size_t s = 0; s < 2; s++) {
		json_t *p = json_array_get(pts, s);
		assert_int_equal(
			json_integer_value(json_object_get(p, "p99_ns")),
			coil_hist_value_at_percentile(fx->all_sec[s], 99));
		assert_int_equal(
			json_integer_value(json_object_get(p, "p50_ns")),
			coil_hist_value_at_percentile(fx->all_sec[s], 50));
		assert_int_equal(
			json_integer_value(json_object_get(p, "requests")),
			coil_hist_count(fx->all_sec[s]));
	}
	/* one line per worker, in the order given */
	assert_int_equal(json_array_size(json_object_get(root, "workers")),
			 WORKERS);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(root, "workers"), 0),
			"index")),
		3);
	json_decref(root);
	free(out);
	free(err);
}

/* The text report: wrk's layout, -L, the workers' lines, the SLO. */
static void test_merge_text_report(void **state)
{
	struct fixture *fx = *state;
	const char *args[] = {"-L", fx->path[0], fx->path[1], fx->path[2],
			      NULL};
	char *out, *err, want[64];
	int status = merge(&out, &err, args);
	if (status)
		fail_msg("merge exit %d: %s", status, err);
	assert_non_null(strstr(out, "Latency Distribution"));
	assert_non_null(strstr(out, "Workers (3 segments merged)"));
	assert_non_null(strstr(out, "node2"));
	assert_non_null(strstr(out, "SLO p99<1h"));
	snprintf(want, sizeof(want), "%llu requests in",
		 (unsigned long long)fx->requests);
	assert_non_null(strstr(out, want));
	free(out);
	free(err);
}

/* A failing --slo given to merge fails the merged run: exit 1. */
static void test_merge_slo_fails(void **state)
{
	struct fixture *fx = *state;
	const char *args[] = {"--slo",	   "p99<1us",	fx->path[0],
			      fx->path[1], fx->path[2], NULL};
	char *out, *err;
	assert_int_equal(merge(&out, &err, args), 1);
	assert_non_null(strstr(out, "FAIL"));
	assert_non_null(strstr(err, "1 of 1 --slo conditions failed"));
	free(out);
	free(err);
}

static void expect_refused(const char *const *args, const char *why)
{
	char *out, *err;
	int status = merge(&out, &err, args);
	if (status != 2 || !strstr(err, why))
		fail_msg("exit %d, stderr '%s' (wanted 2 and '%s')", status,
			 err, why);
	assert_string_equal(out, "");
	free(out);
	free(err);
}

static void test_merge_missing_segment_named(void **state)
{
	struct fixture *fx = *state;
	const char *args[] = {fx->path[0], fx->path[2], NULL};
	expect_refused(args, "1 of 3 segments missing: 2");
}

static void test_merge_duplicate_segment(void **state)
{
	struct fixture *fx = *state;
	const char *args[] = {fx->path[0], fx->path[1], fx->path[1],
			      fx->path[2], NULL};
	expect_refused(args, "segment 2/3 given twice");
}

static void test_merge_mixed_configs_refused(void **state)
{
	struct fixture *fx = *state, other;
	const char *args[] = {fx->path[0], fx->path[1], other.path[2], NULL};
	memset(&other, 0, sizeof(other));
	coil_hist_new(&other.all, NULL);
	coil_hist_new(&other.all_sec[0], NULL);
	coil_hist_new(&other.all_sec[1], NULL);
	write_worker(&other, 2, 100, "600", "3/3"); /* another -R */
	expect_refused(args, "\"config.rate\" differs");
	unlink(other.path[2]);
	coil_hist_free(other.all);
	coil_hist_free(other.all_sec[0]);
	coil_hist_free(other.all_sec[1]);
}

static void test_merge_not_a_segment_refused(void **state)
{
	const char *args[] = {"/tmp/coil-merge-plain.json", NULL};
	struct cb_opts o;
	struct cb_result r;
	char *argv[] = {"coil-bench", "http://127.0.0.1:1/", NULL}, err[128];
	FILE *f = fopen(args[0], "w");
	(void)state;
	assert_int_equal(cb_cli_parse(&o, 2, argv, err, sizeof(err)), 0);
	assert_int_equal(cb_result_init(&r), 0);
	assert_int_equal(cb_report_json(f, &o, &r), 0);
	fclose(f);
	expect_refused(args, "is not a segment");
	unlink(args[0]);
	cb_result_free(&r);
	cb_cli_free(&o);
	/* not JSON at all, and not a coil-bench result */
	f = fopen(args[0], "w");
	fputs("{\"tool\": \"wrk\"}", f);
	fclose(f);
	expect_refused(args, "not a coil-bench --json result");
	f = fopen(args[0], "w");
	fputs("{\"tool\": ", f);
	fclose(f);
	expect_refused(args, "not JSON");
	unlink(args[0]);
}

static char *slurp_file(const char *path, size_t *len)
{
	char *buf = tu_slurp(path, len);
	assert_non_null(buf);
	return buf;
}

/* One stream of the three objects, and the same as `srun -l` prints it:
 * every line labelled "TASK: ", the tasks' lines interleaved. Both merge
 * to the same result as the three files. */
static void test_merge_stream_and_srun_labels(void **state)
{
	struct fixture *fx = *state;
	char cat[] = "/tmp/coil-merge-cat-XXXXXX",
	     lab[] = "/tmp/coil-merge-l-XXXXXX";
	char *text[WORKERS], *pos[WORKERS], *out[3], *err;
	const char *a1[] = {"--json", fx->path[0], fx->path[1], fx->path[2],
			    NULL};
	const char *a2[] = {"--json", cat, NULL}, *a3[] = {"--json", lab, NULL};
	FILE *c = fdopen(mkstemp(cat), "w"), *l = fdopen(mkstemp(lab), "w");
	size_t len;
	bool more = true;

	for (int k = 0; k < WORKERS; k++) {
		text[k] = pos[k] = slurp_file(fx->path[k], &len);
		fputs(text[k], c);
	}
	fclose(c);
	/* round robin, one line of each task in turn */
	while (more) {
		more = false;
		for (int k = 0; k < WORKERS; k++) {
			char *nl = strchr(pos[k], '\n');
			if (!*pos[k])
				continue;
			more = true;
			if (!nl)
				nl = pos[k] + strlen(pos[k]) - 1;
			fprintf(l, "%d: %.*s\n", k, (int)(nl - pos[k]), pos[k]);
			pos[k] = nl + 1;
		}
	}
	fclose(l);
	assert_int_equal(merge(&out[0], &err, a1), 0);
	free(err);
	assert_int_equal(merge(&out[1], &err, a2), 0);
	free(err);
	assert_int_equal(merge(&out[2], &err, a3), 0);
	free(err);
	/* the same figures; only the inputs' names differ */
	for (int i = 1; i < 3; i++) {
		json_t *x = json_loads(out[0], 0, NULL),
		       *y = json_loads(out[i], 0, NULL);
		json_object_del(x, "workers");
		json_object_del(y, "workers");
		assert_true(json_equal(x, y));
		json_decref(x);
		json_decref(y);
	}
	for (int i = 0; i < 3; i++)
		free(out[i]);
	for (int k = 0; k < WORKERS; k++)
		free(text[k]);
	unlink(cat);
	unlink(lab);
}

/* The text form of a histogram (hdrlog.h) reads back as the same
 * histogram: slots, count, exact min and max, clamped values. */
static void test_hdr_text_round_trip(void **state)
{
	struct coil_hist *a, *b;
	struct cb_hdr_text t;
	(void)state;
	assert_int_equal(coil_hist_new(&a, NULL), 0);
	assert_int_equal(coil_hist_new(&b, NULL), 0);
	for (int i = 0; i < 20000; i++)
		coil_hist_record(a, latency());
	coil_hist_record(a, 10);		       /* below 1 us: clamped */
	coil_hist_record(a, 2 * COIL_HIST_HIGHEST_NS); /* above 1 h */
	coil_hist_record(a, 123456789);
	assert_int_equal(cb_hdr_text_make(&t, a), 0);
	assert_int_equal(cb_hdr_text_add(&t, b), 0);
	assert_int_equal(coil_hist_count(b), coil_hist_count(a));
	assert_int_equal(coil_hist_min(b), coil_hist_min(a));
	assert_int_equal(coil_hist_max(b), coil_hist_max(a));
	assert_int_equal(coil_hist_underflows(b), 1);
	assert_int_equal(coil_hist_overflows(b), 1);
	for (double p = 0; p <= 100; p += 0.25)
		assert_int_equal(coil_hist_value_at_percentile(b, p),
				 coil_hist_value_at_percentile(a, p));
	assert_true(coil_hist_mean(b) == coil_hist_mean(a));
	assert_true(coil_hist_stdev(b) == coil_hist_stdev(a));
	/* damaged text, or counts that disagree with it, are refused */
	t.count++;
	assert_int_equal(cb_hdr_text_add(&t, b), -EINVAL);
	t.count--;
	t.hdr[10] = '#';
	assert_int_equal(cb_hdr_text_add(&t, b), -EINVAL);
	cb_hdr_text_free(&t);
	coil_hist_free(a);
	coil_hist_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_text_round_trip),
		cmocka_unit_test(test_merge_equals_union),
		cmocka_unit_test(test_merge_text_report),
		cmocka_unit_test(test_merge_slo_fails),
		cmocka_unit_test(test_merge_missing_segment_named),
		cmocka_unit_test(test_merge_duplicate_segment),
		cmocka_unit_test(test_merge_mixed_configs_refused),
		cmocka_unit_test(test_merge_not_a_segment_refused),
		cmocka_unit_test(test_merge_stream_and_srun_labels),
	};
	return cmocka_run_group_tests_name("bench.merge", tests, setup,
					   teardown);
}
