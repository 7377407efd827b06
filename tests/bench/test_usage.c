/*
 * tests/bench/test_usage.c - bad input to the coil-bench binary: one line
 * on stderr naming the problem, exit status 2, no load sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2eutil.h"

/* exit 2, nothing on stdout, exactly one line on stderr holding @what */
static void expect_usage(struct cb_out r, const char *what)
{
	char *nl = strchr(r.err, '\n');
	if (r.status != 2 || !strstr(r.err, what))
		fprintf(stderr, "exit %d, stderr: %s", r.status, r.err);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "coil-bench: "));
	assert_non_null(strstr(r.err, what));
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	cb_out_free(&r);
}

static void test_usage_unknown_flag(void **state)
{
	(void)state;
	expect_usage(RUN("--frobnicate", "http://127.0.0.1:1/"),
		     "unknown option '--frobnicate'");
	expect_usage(RUN("-Z", "http://127.0.0.1:1/"), "unknown option '-Z'");
}

static void test_usage_bad_url(void **state)
{
	(void)state;
	expect_usage(RUN("-d1s", "http://exa mple.com/"),
		     "bad URL 'http://exa mple.com/'");
	expect_usage(RUN("-d1s", "ftp://127.0.0.1/"),
		     "bad URL 'ftp://127.0.0.1/': unsupported scheme");
	expect_usage(RUN("-d1s", "127.0.0.1:8080/"),
		     "bad URL '127.0.0.1:8080/': missing scheme");
	expect_usage(RUN("-d1s", "http://127.0.0.1:99999/"), "bad URL");
	expect_usage(RUN("-d1s"), "missing URL");
}

static void test_usage_unresolvable_host(void **state)
{
	(void)state;
	/* RFC 6761: .invalid never resolves */
	expect_usage(RUN("-d1s", "http://no-such-host.invalid/"),
		     "cannot resolve 'no-such-host.invalid'");
}

static void test_usage_counts(void **state)
{
	(void)state;
	expect_usage(RUN("-t4", "-c2", "http://127.0.0.1:1/"),
		     "-c 2 is less than -t 4");
	expect_usage(RUN("-t4", "-c8", "-R2", "http://127.0.0.1:1/"),
		     "-R 2 is less than -t 4");
	expect_usage(RUN("-d0", "http://127.0.0.1:1/"),
		     "-d must be more than 0");
	expect_usage(RUN("-d", "soon", "http://127.0.0.1:1/"),
		     "bad time for -d");
}

static void test_usage_body_file(void **state)
{
	(void)state;
	expect_usage(
		RUN("--body-file", "/nonexistent/body", "http://127.0.0.1:1/"),
		"cannot read --body-file '/nonexistent/body': No such "
		"file or directory");
}

static void test_usage_request_and_urls(void **state)
{
	char path[] = "/tmp/coil-bench-urls-XXXXXX";
	int fd = mkstemp(path);
	(void)state;
	/* framing is the writer's */
	expect_usage(RUN("-H", "Content-Length: 5", "http://127.0.0.1:1/"),
		     "cannot build the request");
	/* every URL of a run goes to one server */
	dprintf(fd, "http://127.0.0.1:2/\n");
	close(fd);
	expect_usage(RUN("--urls", path, "http://127.0.0.1:1/"),
		     "is on another server");
	unlink(path);
	expect_usage(
		RUN("--output", "/nonexistent/dir/out", "http://127.0.0.1:1/"),
		"cannot write --output");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_unknown_flag),
		cmocka_unit_test(test_usage_bad_url),
		cmocka_unit_test(test_usage_unresolvable_host),
		cmocka_unit_test(test_usage_counts),
		cmocka_unit_test(test_usage_body_file),
		cmocka_unit_test(test_usage_request_and_urls),
	};
	return cmocka_run_group_tests_name("bench.usage", tests, NULL, NULL);
}
