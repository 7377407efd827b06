/*
 * tests/bench/test_plot.c - --plot and `coil-bench plot`: the SVG parses
 * as XML (python3's xml.etree, through svg_check.py), holds both panels
 * and nothing external, and draws exactly the points the JSON result
 * holds: one per percentile tick of each latency curve (corrected and
 * uncorrected with -R), one per second of the series, one line per stage
 * boundary; saved results overlay with a legend; bad input exits 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

static struct serve srv;
static char dir[] = "/tmp/coil-bench-plot-XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "skip: python3 (xml.etree) not installed\n");
		exit(COIL_SKIP);
	}
	if (!mkdtemp(dir))
		abort();
	serve_start(&srv, "1");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	free(serve_stop(&srv));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* svg_check.py's "key value" lines for @svg */
static char *check(const char *svg)
{
	char cmd[512], *out;
	FILE *p;
	size_t len = 0;
	FILE *m;
	int c;
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' 2>&1", SVG_CHECK, svg);
	p = popen(cmd, "r");
	assert_non_null(p);
	m = open_memstream(&out, &len);
	while ((c = getc(p)) != EOF)
		putc(c, m);
	fclose(m);
	if (pclose(p) != 0)
		fail_msg("%s does not parse:\n%s", svg, out);
	return out;
}

/* the number after "@key " in svg_check.py's output, -1 if absent */
static long val(const char *out, const char *key)
{
	char k[96];
	const char *p;
	snprintf(k, sizeof(k), "\n%s ", key);
	p = strstr(out, k);
	if (!p && !strncmp(out, k + 1, strlen(k + 1)))
		p = out - 1;
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* entries of the JSON array after @key (looking from @anchor): the
 * curve's "[[p, v], ...]" or the series' objects */
static long json_count(const char *json, const char *anchor, const char *key,
		       char open, char close)
{
	const char *p = strstr(json, anchor);
	long n = 0;
	int depth = 0;
	assert_non_null(p);
	p = strstr(p, key);
	assert_non_null(p);
	p = strchr(p, '[');
	for (p++; *p; p++) {
		if (*p == ']' && depth == 0)
			break; /* the array's end */
		if (*p == open && depth++ == 0)
			n++;
		else if (*p == close)
			depth--;
	}
	return n;
}

static void test_plot_svg_of_a_run(void **state)
{
	char svg[128], *out;
	struct cb_out r;
	long curve, secs;
	(void)state;
	snprintf(svg, sizeof(svg), "%s/run.svg", dir);
	r = RUN("-t2", "-c4", "-R", "0", "--stages",
		"1s:300,1s:300,0s:100,1s:100", "-U", "--plot", svg, "--json",
		serve_url(&srv, "/"));
	cb_expect_ok(&r);
	out = check(svg);
	fprintf(stderr, "%s", out);
	assert_non_null(strstr(out, "root svg\n"));
	assert_int_equal(val(out, "external"), 0);
	assert_non_null(strstr(out, "panel latency\n"));
	assert_non_null(strstr(out, "panel time\n"));
	curve = json_count(r.out, "\"latency_ns\"", "\"curve\"", '[', ']');
	secs = json_count(r.out, "\"series\"", "\"points\"", '{', '}');
	assert_true(curve > 30);
	assert_int_equal(secs, 3);
	assert_int_equal(val(out, "points lat.corrected.r0"), curve);
	assert_int_equal(val(out, "points lat.uncorrected.r0"), curve);
	assert_int_equal(val(out, "points rps.r0"), secs);
	assert_int_equal(val(out, "points p99.r0"), secs);
	/* boundaries at 1 s and 2 s (the jump at 2 s is the same line) */
	assert_int_equal(val(out, "stages"), 2);
	free(out);
	cb_out_free(&r);
}

/* two saved results, before and after, in one plot with a legend; the
 * closed model has no uncorrected curve */
static void test_plot_overlay_from_json(void **state)
{
	char a[128], b[128], svg[128], *out;
	struct cb_out r;
	FILE *f;
	(void)state;
	snprintf(a, sizeof(a), "%s/before.json", dir);
	snprintf(b, sizeof(b), "%s/after.json", dir);
	snprintf(svg, sizeof(svg), "%s/both.svg", dir);
	r = RUN("-t1", "-c2", "-d2s", "--json", "--output", a,
		serve_url(&srv, "/delay/5"));
	cb_expect_ok(&r);
	cb_out_free(&r);
	r = RUN("-t1", "-c2", "-d2s", "-R", "100", "--json", "--output", b,
		serve_url(&srv, "/"));
	cb_expect_ok(&r);
	cb_out_free(&r);
	r = RUN("plot", a, b, "-o", svg, "--title", "before <& after>");
	cb_expect_ok(&r);
	cb_out_free(&r);
	out = check(svg);
	fprintf(stderr, "%s", out);
	assert_non_null(strstr(out, "label before\n"));
	assert_non_null(strstr(out, "label after\n"));
	assert_true(val(out, "points lat.corrected.r0") > 30);
	assert_int_equal(val(out, "points lat.uncorrected.r0"), -1);
	assert_int_equal(val(out, "points lat.uncorrected.r1"),
			 val(out, "points lat.corrected.r1"));
	assert_int_equal(val(out, "points rps.r0"), 2);
	assert_int_equal(val(out, "points rps.r1"), 2);
	assert_int_equal(val(out, "stages"), 0);
	free(out);
	/* the title is escaped: the file still parses (check() above) */
	f = fopen(svg, "r");
	assert_non_null(f);
	fclose(f);
}

static void test_plot_bad_input(void **state)
{
	char bad[128], svg[128];
	struct cb_out r;
	FILE *f;
	(void)state;
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	snprintf(svg, sizeof(svg), "%s/bad.svg", dir);
	f = fopen(bad, "w");
	fputs("{\"not\": \"a result\"", f);
	fclose(f);
	r = RUN("plot", bad, "-o", svg);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "not JSON"));
	cb_out_free(&r);
	r = RUN("plot", "/nonexistent.json", "-o", svg);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "cannot read"));
	cb_out_free(&r);
	r = RUN("plot", bad);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "usage"));
	cb_out_free(&r);
	r = RUN("-d1s", "--plot", "/nonexistent/dir/x.svg",
		serve_url(&srv, "/"));
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "cannot write --plot"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plot_svg_of_a_run),
		cmocka_unit_test(test_plot_overlay_from_json),
		cmocka_unit_test(test_plot_bad_input),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.plot", tests, setup,
					   teardown);
}
