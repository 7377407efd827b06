/*
 * tests/bench/test_hdrlog.c - HdrHistogram interval logs: the lines
 * HistogramLogWriter writes, and counts that survive deflate + base64 +
 * V2 encoding (decoded back by tests/bench/hdrlog_decode.h).
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
#include <unistd.h>

#include "coil/hist.h"
#include "hdrlog.h"
#include "hdrlog_decode.h"
#include "testutil.h"

/* Compare a decoded histogram with the one that was written. */
static void assert_decoded_equals(const struct dec_hist *d,
				  const struct coil_hist *h)
{
	struct coil_hist_iter it = {0};
	uint64_t total = 0;
	assert_int_equal(d->digits, 3);
	assert_int_equal(d->lowest_discernible, 1);
	assert_int_equal(d->highest, COIL_HIST_HIGHEST_NS);
	while (coil_hist_iter_next(h, &it)) {
		assert_true(it.index - 1 < d->len);
		assert_int_equal(d->counts[it.index - 1], it.count);
	}
	for (size_t i = 0; i < d->len; i++)
		total += d->counts[i];
	assert_int_equal(total, coil_hist_count(h));
}

static char *slurp(const char *path)
{
	size_t len = 0;
	char *buf = tu_slurp(path, &len);
	assert_non_null(buf);
	assert_true(len > 0);
	return buf;
}

/* split @text into lines in place; returns the count */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l && n < max;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

static void check_interval(const char *line, const char *prefix,
			   const struct coil_hist *h)
{
	struct dec_hist d;
	const char *b64;
	size_t plen = strlen(prefix);
	assert_memory_equal(line, prefix, plen);
	b64 = line + plen;
	assert_int_equal(dec_hist_parse(&d, b64, strlen(b64)), 0);
	assert_decoded_equals(&d, h);
	dec_hist_free(&d);
}

static void test_hdrlog_round_trips_counts(void **state)
{
	char *dir = tu_tmpdir(), *path, *text, *lines[16];
	struct coil_hist *a, *b, *e;
	struct cb_hdrlog *log;
	int n;

	assert_true(asprintf(&path, "%s/run.hlog", dir) > 0);
	assert_int_equal(coil_hist_new(&a, NULL), 0);
	assert_int_equal(coil_hist_new(&b, NULL), 0);
	assert_int_equal(coil_hist_new(&e, NULL), 0);
	for (uint64_t v = 1000; v < 50000000; v = v * 11 / 10 + 7)
		coil_hist_record_n(a, v, v % 13 + 1);
	coil_hist_record(a, 1234567);		     /* max: 1.235 ms */
	coil_hist_record_n(b, 20000000, 1ull << 60); /* 9-byte varints */
	coil_hist_record(b, 999999999999ull);

	assert_int_equal(cb_hdrlog_open(&log, path, 1700000000123456789ull,
					"coil-bench 0.1.0 http://x/"),
			 0);
	assert_int_equal(cb_hdrlog_write(log, "latency", 0, 1000000000ull, a),
			 0);
	assert_int_equal(
		cb_hdrlog_write(log, NULL, 1000000000ull, 999500000ull, b), 0);
	assert_int_equal(cb_hdrlog_write(log, "uncorrected", 2000400000ull,
					 1000000000ull, e),
			 0);
	assert_int_equal(cb_hdrlog_close(log), 0);

	text = slurp(path);
	n = split_lines(text, lines, 16);
	assert_int_equal(n, 8);
	assert_string_equal(lines[0], "#coil-bench 0.1.0 http://x/");
	assert_string_equal(lines[1], "#[Histogram log format version 1.3]");
	assert_string_equal(lines[2],
			    "#[StartTime: 1700000000.123 (seconds since "
			    "epoch), Tue Nov 14 22:13:20 UTC 2023]");
	assert_string_equal(lines[3], "#[BaseTime: 1700000000.123 (seconds "
				      "since epoch)]");
	assert_string_equal(lines[4], "\"StartTimestamp\",\"Interval_Length\","
				      "\"Interval_Max\",\"Interval_Compressed_"
				      "Histogram\"");
	/* the max of a is its largest value: a's loop ends near 50 ms */
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "Tag=latency,0.000,1.000,%.3f,",
		 (double)coil_hist_max(a) / 1e6);
	check_interval(lines[5], prefix, a);
	check_interval(lines[6], "1.000,1.000,1000000.000,", b);
	check_interval(lines[7], "Tag=uncorrected,2.000,1.000,0.000,", e);

	free(text);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	coil_hist_free(a);
	coil_hist_free(b);
	coil_hist_free(e);
}

static void test_hdrlog_rejects_bad_input(void **state)
{
	char *dir = tu_tmpdir(), *path, *bad, *text, *lines[8];
	struct cb_hdrlog *log = (struct cb_hdrlog *)1;
	struct coil_hist *h;

	assert_true(asprintf(&path, "%s/x.hlog", dir) > 0);
	assert_true(asprintf(&bad, "%s/no/such/dir/x.hlog", dir) > 0);
	assert_int_equal(coil_hist_new(&h, NULL), 0);
	coil_hist_record(h, 5000);

	assert_int_equal(cb_hdrlog_open(&log, bad, 0, NULL), -ENOENT);
	assert_null(log);
	assert_int_equal(cb_hdrlog_open(&log, NULL, 0, NULL), -EINVAL);
	assert_int_equal(cb_hdrlog_open(&log, path, 0, "two\nlines"), -EINVAL);
	assert_int_equal(access(path, F_OK), -1); /* nothing created */

	assert_int_equal(cb_hdrlog_open(&log, path, 0, NULL), 0);
	assert_int_equal(cb_hdrlog_write(log, "a,b", 0, 1, h), -EINVAL);
	assert_int_equal(cb_hdrlog_write(log, "a b", 0, 1, h), -EINVAL);
	assert_int_equal(cb_hdrlog_write(log, "a\nb", 0, 1, h), -EINVAL);
	assert_int_equal(cb_hdrlog_write(log, "", 0, 1, h), -EINVAL);
	assert_int_equal(cb_hdrlog_write(log, "ok", 0, 1000000000ull, h), 0);
	assert_int_equal(cb_hdrlog_close(log), 0);
	assert_int_equal(cb_hdrlog_close(NULL), 0);

	/* the rejected lines left no trace */
	text = slurp(path);
	assert_int_equal(split_lines(text, lines, 8), 5);
	assert_string_equal(lines[1], "#[StartTime: 0.000 (seconds since "
				      "epoch), Thu Jan 01 00:00:00 UTC 1970]");
	check_interval(lines[4], "Tag=ok,0.000,1.000,0.005,", h);

	free(text);
	unlink(path);
	rmdir(dir);
	free(path);
	free(bad);
	free(dir);
	coil_hist_free(h);
}

/* a full disk shows at the write that hit it, and stays reported */
static void test_hdrlog_reports_write_errors(void **state)
{
	struct cb_hdrlog *log;
	struct coil_hist *h;
	if (access("/dev/full", W_OK) != 0)
		skip();
	assert_int_equal(coil_hist_new(&h, NULL), 0);
	coil_hist_record(h, 5000);
	assert_int_equal(cb_hdrlog_open(&log, "/dev/full", 0, NULL), 0);
	assert_int_equal(cb_hdrlog_write(log, NULL, 0, 1, h), -ENOSPC);
	assert_int_equal(cb_hdrlog_write(log, NULL, 0, 1, h), -ENOSPC);
	assert_int_equal(cb_hdrlog_close(log), -ENOSPC);
	coil_hist_free(h);
}

static void test_hdrlog_encode_empty_and_full(void **state)
{
	struct coil_hist *h;
	struct dec_hist d;
	char *text;
	ssize_t n;

	assert_int_equal(coil_hist_new(&h, NULL), 0);
	n = cb_hdrlog_encode(h, &text);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(text));
	/* every V2 compressed histogram starts with the cookie 1c849314 */
	assert_memory_equal(text, "HISTF", 5);
	assert_int_equal(dec_hist_parse(&d, text, (size_t)n), 0);
	assert_int_equal(d.len, 1);
	assert_int_equal(d.counts[0], 0);
	dec_hist_free(&d);
	free(text);

	/* a value in every slot */
	struct coil_hist_iter it = {0};
	for (uint64_t v = 1000; v <= COIL_HIST_HIGHEST_NS;
	     v = coil_hist_highest_equivalent(h, v) + 1)
		coil_hist_record(h, v);
	n = cb_hdrlog_encode(h, &text);
	assert_true(n > 0);
	assert_int_equal(dec_hist_parse(&d, text, (size_t)n), 0);
	assert_decoded_equals(&d, h);
	while (coil_hist_iter_next(h, &it))
		assert_int_equal(it.count, 1);
	dec_hist_free(&d);
	free(text);
	coil_hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdrlog_round_trips_counts),
		cmocka_unit_test(test_hdrlog_rejects_bad_input),
		cmocka_unit_test(test_hdrlog_reports_write_errors),
		cmocka_unit_test(test_hdrlog_encode_empty_and_full),
	};
	return cmocka_run_group_tests_name("bench.hdrlog", tests, NULL, NULL);
}
