/*
 * tests/bench/test_plot_render.c - a real browser draws the --plot SVG:
 * Debian's chromium, headless, takes a screenshot of the file at its own
 * size (960 x 800), and the run's colour (#1f77b4) covers pixels inside
 * both panels: (a) latency by percentile, y 100..370, and (b) the time
 * series, y 460..730 (png_check.py decodes the PNG with zlib alone).
 * Exits 77 (skipped) without chromium or python3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

#define CHROMIUM "/usr/bin/chromium"

static char *run_cmd(const char *cmd, int *status)
{
	char *out = NULL;
	size_t len = 0;
	FILE *p = popen(cmd, "r"), *m;
	int c;
	assert_non_null(p);
	m = open_memstream(&out, &len);
	while ((c = getc(p)) != EOF)
		putc(c, m);
	fclose(m);
	*status = pclose(p);
	return out;
}

static long band(const char *out, int top, int bot)
{
	char k[64];
	const char *p;
	snprintf(k, sizeof(k), "band %d %d ", top, bot);
	p = strstr(out, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

static void test_plot_render_chromium(void **state)
{
	char dir[] = "/tmp/coil-bench-render-XXXXXX", svg[96], png[96],
	     cmd[1024], *out;
	struct serve srv;
	struct cb_out r;
	int st;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(svg, sizeof(svg), "%s/plot.svg", dir);
	snprintf(png, sizeof(png), "%s/plot.png", dir);
	serve_start(&srv, "1");
	r = RUN("-t1", "-c4", "-R", "0", "--stages", "1s:200,1s:200", "-U",
		"--plot", svg, serve_url(&srv, "/"));
	free(serve_stop(&srv));
	cb_expect_ok(&r);
	cb_out_free(&r);

	/* a fresh profile, nothing fetched, no sandbox (root) */
	snprintf(cmd, sizeof(cmd),
		 "timeout 60 " CHROMIUM " --headless --no-sandbox "
		 "--disable-gpu --disable-background-networking "
		 "--disable-component-update --disable-sync --no-first-run "
		 "--user-data-dir=%s/profile --screenshot=%s "
		 "--window-size=960,800 file://%s 2>&1",
		 dir, png, svg);
	out = run_cmd(cmd, &st);
	if (st != 0 || access(png, R_OK) != 0)
		fail_msg("chromium failed (%d):\n%s", st, out);
	free(out);

	snprintf(cmd, sizeof(cmd),
		 "python3 '%s' '%s' 1f77b4 100 370 460 730 0 80 2>&1",
		 PNG_CHECK, png);
	out = run_cmd(cmd, &st);
	fprintf(stderr, "%s", out);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "size 960 800\n"));
	/* the curves: a few hundred pixels each; the legend's swatch above
	 * the panels is small */
	assert_true(band(out, 100, 370) > 300);
	assert_true(band(out, 460, 730) > 300);
	assert_true(band(out, 0, 80) < 200);
	free(out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plot_render_chromium),
	};
	if (access(CHROMIUM, X_OK) != 0 ||
	    access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "skip: chromium or python3 not installed\n");
		return COIL_SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.plot_render", tests, NULL,
					   NULL);
}
