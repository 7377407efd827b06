/*
 * tests/bench/test_hdrlog_java.c - our interval logs read by HdrHistogram's
 * own Java reader: HistogramLogProcessor from Debian's libhdrhistogram-java
 * must find the counts, percentiles and max we wrote. Exits 77 (skip) when
 * java or the jar is absent (COIL_HDRHISTOGRAM_JAR overrides the path).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coil/hist.h"
#include "hdrlog.h"
#include "testutil.h"

static const char *jar;

struct interval {
	unsigned long long count;
	unsigned long long p50, p90, max;
};

/* Run HistogramLogProcessor on @log for @tag (NULL: untagged lines) and
 * read its per-interval lines "T: I:count ( p50 p90 max ) T:...". */
static int run_processor(const char *dir, const char *log, const char *tag,
			 struct interval *out, int max)
{
	char *cmd, *outpath, *line = NULL;
	size_t cap = 0;
	FILE *f;
	int n = 0;

	assert_true(asprintf(&outpath, "%s/out", dir) > 0);
	assert_true(
		asprintf(&cmd,
			 "java -cp '%s' org.HdrHistogram.HistogramLogProcessor"
			 " -i '%s' -o '%s' -outputValueUnitRatio 1 %s%s",
			 jar, log, outpath, tag ? "-tag " : "",
			 tag ? tag : "") > 0);
	assert_int_equal(system(cmd), 0);
	f = fopen(outpath, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0 && n < max) {
		double t, p50, p90, mx;
		unsigned long long c;
		if (sscanf(line, "%lf: I:%llu ( %lf %lf %lf )", &t, &c, &p50,
			   &p90, &mx) == 5) {
			out[n].count = c;
			out[n].p50 = (unsigned long long)p50;
			out[n].p90 = (unsigned long long)p90;
			out[n].max = (unsigned long long)mx;
			n++;
		}
	}
	free(line);
	fclose(f);
	unlink(outpath);
	free(cmd);
	assert_true(asprintf(&cmd, "%s.hgrm", outpath) > 0);
	unlink(cmd);
	free(cmd);
	free(outpath);
	return n;
}

static void assert_interval(const struct interval *iv,
			    const struct coil_hist *h)
{
	assert_int_equal(iv->count, coil_hist_count(h));
	/* Java reports the top of the slot; ours is bounded by the exact
	 * max, so compare slots */
	assert_int_equal(coil_hist_highest_equivalent(h, iv->p50),
			 coil_hist_highest_equivalent(
				 h, coil_hist_value_at_percentile(h, 50)));
	assert_int_equal(coil_hist_highest_equivalent(h, iv->p90),
			 coil_hist_highest_equivalent(
				 h, coil_hist_value_at_percentile(h, 90)));
	assert_int_equal(iv->max,
			 coil_hist_highest_equivalent(h, coil_hist_max(h)));
}

static void test_hdrlog_java_reader_reads_our_log(void **state)
{
	char *dir = tu_tmpdir(), *path;
	struct coil_hist *h[3];
	struct cb_hdrlog *log;
	struct interval iv[8];

	assert_true(asprintf(&path, "%s/run.hlog", dir) > 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(coil_hist_new(&h[i], NULL), 0);
	for (uint64_t v = 1000; v <= 2000000; v += 997)
		coil_hist_record(h[0], v);
	for (uint64_t v = 50000; v <= 90000000; v = v * 21 / 20)
		coil_hist_record_n(h[1], v, v % 7 + 1);
	coil_hist_record_n(h[1], 3000000000ull, 1ull << 40);
	coil_hist_record_corrected(h[2], 200000000, 1000000);

	assert_int_equal(cb_hdrlog_open(&log, path, 1700000000000000000ull,
					"coil-bench test"),
			 0);
	assert_int_equal(cb_hdrlog_write(log, NULL, 0, 1000000000, h[0]), 0);
	assert_int_equal(cb_hdrlog_write(log, "corr", 0, 1000000000, h[2]), 0);
	assert_int_equal(
		cb_hdrlog_write(log, NULL, 1000000000, 1000000000, h[1]), 0);
	assert_int_equal(cb_hdrlog_close(log), 0);

	assert_int_equal(run_processor(dir, path, NULL, iv, 8), 2);
	assert_interval(&iv[0], h[0]);
	assert_interval(&iv[1], h[1]);
	assert_int_equal(run_processor(dir, path, "corr", iv, 8), 1);
	assert_interval(&iv[0], h[2]);
	assert_int_equal(iv[0].count, 200);

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	for (int i = 0; i < 3; i++)
		coil_hist_free(h[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdrlog_java_reader_reads_our_log),
	};
	jar = getenv("COIL_HDRHISTOGRAM_JAR");
	if (!jar)
		jar = "/usr/share/java/hdrhistogram.jar";
	if (access(jar, R_OK) != 0 ||
	    system("java -version >/dev/null 2>&1") != 0) {
		fprintf(stderr,
			"skip: needs java and %s (Debian packages "
			"default-jre-headless, libhdrhistogram-java)\n",
			jar);
		return COIL_SKIP;
	}
	return cmocka_run_group_tests_name("bench.hdrlog_java", tests, NULL,
					   NULL);
}
