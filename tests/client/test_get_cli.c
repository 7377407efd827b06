/*
 * tests/client/test_get_cli.c - coil-get's command line (tools/coil-get/
 * cli.c): defaults, every option, the -i list and -d @file, and a clear
 * one-line message for each mistake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "testutil.h"

static char err[512];

static int parse(struct cg_opts *o, const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = "coil-get";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return cg_cli_parse(o, argc, argv, 1, err, sizeof(err));
}

/* a parse that must fail with a message containing @want */
#define BAD(want, ...)                                                         \
	do {                                                                   \
		struct cg_opts o_;                                             \
		int r_ = parse(&o_, __VA_ARGS__, NULL);                        \
		if (r_ >= 0)                                                   \
			fail_msg("parse succeeded, expected '%s'", want);      \
		if (!strstr(err, want))                                        \
			fail_msg("message '%s' lacks '%s'", err, want);        \
		assert_null(strchr(err, '\n'));                                \
		cg_cli_free(&o_);                                              \
	} while (0)

static void test_get_cli_defaults(void **state)
{
	struct cg_opts o;
	assert_int_equal(parse(&o, "http://a/", "http://b/x", NULL), 0);
	assert_int_equal(o.action, CG_RUN);
	assert_int_equal(o.n_urls, 2);
	assert_string_equal(o.urls[1], "http://b/x");
	assert_int_equal(o.parallel, 50);
	assert_int_equal(o.per_host, 6);
	assert_int_equal(o.max_redirs, 20);
	assert_string_equal(o.method, "GET");
	assert_int_equal(o.timeout_ns, 0);
	assert_int_equal(o.retries, 0);
	assert_null(o.outdir);
	assert_false(o.to_stdout);
	assert_false(o.json);
	assert_int_equal(o.http_version, 0); /* the client's: HTTP/1.1 */
	assert_true(o.progress);	     /* a TTY, not quiet */
	cg_cli_free(&o);
}

/* curl's protocol flags; the last one wins, as in curl */
static void test_get_cli_http_versions(void **state)
{
	struct cg_opts o;

	(void)state;
	assert_int_equal(parse(&o, "--http2", "https://a/", NULL), 0);
	assert_int_equal(o.http_version, COIL_HTTP_VERSION_2);
	cg_cli_free(&o);
	assert_int_equal(
		parse(&o, "--http2-prior-knowledge", "http://a/", NULL), 0);
	assert_int_equal(o.http_version, COIL_HTTP_VERSION_2_PRIOR);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "--http2", "--http1.1", "http://a/", NULL),
			 0);
	assert_int_equal(o.http_version, COIL_HTTP_VERSION_1_1);
	cg_cli_free(&o);
	assert_non_null(strstr(cg_cli_usage(), "--http2-prior-knowledge"));
}

static void test_get_cli_options(void **state)
{
	struct cg_opts o;
	assert_int_equal(
		parse(&o, "-o", "dir", "--parallel", "100", "--per-host", "3",
		      "--timeout", "2.5", "--connect-timeout", "0.25",
		      "--retry", "4", "--retry-max-time", "30", "-H",
		      "X-A:  b c ", "-H", "Accept: text/plain", "-X", "PUT",
		      "-k", "--cacert", "ca.pem", "--max-redirs", "3", "--rate",
		      "10/m", "--json", "-q", "--max-filesize", "1000", "-A",
		      "me/1", "http://a/", NULL),
		0);
	assert_string_equal(o.outdir, "dir");
	assert_int_equal(o.parallel, 100);
	assert_int_equal(o.per_host, 3);
	assert_int_equal(o.timeout_ns, 2500000000ull);
	assert_int_equal(o.connect_timeout_ns, 250000000ull);
	assert_int_equal(o.retries, 4);
	assert_int_equal(o.retry_max_time_ns, 30000000000ull);
	assert_int_equal(o.n_headers, 2);
	assert_int_equal(o.headers[0].name_len, 3);
	assert_memory_equal(o.headers[0].name, "X-A", 3);
	assert_int_equal(o.headers[0].value_len, 3);
	assert_memory_equal(o.headers[0].value, "b c", 3);
	assert_string_equal(o.method, "PUT");
	assert_true(o.insecure);
	assert_string_equal(o.cacert, "ca.pem");
	assert_int_equal(o.max_redirs, 3);
	assert_int_equal(o.rate_permits, 10);
	assert_int_equal(o.rate_period_ns, 60000000000ull);
	assert_true(o.json);
	assert_true(o.quiet);
	assert_false(o.progress);
	assert_int_equal(o.max_filesize, 1000);
	assert_string_equal(o.user_agent, "me/1");
	cg_cli_free(&o);

	assert_int_equal(parse(&o, "--no-location", "-O", "http://a/", NULL),
			 0);
	assert_int_equal(o.max_redirs, 0);
	assert_true(o.to_stdout);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "-h", NULL), 0);
	assert_int_equal(o.action, CG_HELP);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "--version", NULL), 0);
	assert_int_equal(o.action, CG_VERSION);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "-V", NULL), 0);
	assert_int_equal(o.action, CG_VERSION);
	cg_cli_free(&o);
	/* the help: units, the exit-status table */
	assert_non_null(strstr(cg_cli_usage(), "a plain number is seconds"));
	assert_non_null(strstr(cg_cli_usage(),
			       "Exit status:\n  0  success\n  1  a URL"));
}

/* Every duration option, with a unit and without (a plain number is
 * seconds, as curl's -m and --connect-timeout). */
static void test_get_cli_durations(void **state)
{
	struct cg_opts o;
	assert_int_equal(parse(&o, "--timeout", "300ms", "--connect-timeout",
			       "2s", "--retry-max-time", "1m", "http://a/",
			       NULL),
			 0);
	assert_int_equal(o.timeout_ns, 300000000ull);
	assert_int_equal(o.connect_timeout_ns, 2000000000ull);
	assert_int_equal(o.retry_max_time_ns, 60000000000ull);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "-m", "2", "--connect-timeout", "0.25",
			       "--retry-max-time", "30", "http://a/", NULL),
			 0);
	assert_int_equal(o.timeout_ns, 2000000000ull);
	assert_int_equal(o.connect_timeout_ns, 250000000ull);
	assert_int_equal(o.retry_max_time_ns, 30000000000ull);
	cg_cli_free(&o);
	assert_int_equal(parse(&o, "--max-time", "1.5s", "http://a/", NULL), 0);
	assert_int_equal(o.timeout_ns, 1500000000ull);
	cg_cli_free(&o);
	BAD("bad time for --connect-timeout: '2y'", "--connect-timeout", "2y",
	    "http://a/");
	BAD("--retry-max-time 9000h is too long", "--retry-max-time", "9000h",
	    "http://a/");
	BAD("--timeout 10000h is too long", "--timeout", "10000h", "http://a/");
}

static void test_get_cli_data_and_list(void **state)
{
	char *dir = tu_tmpdir(), path[512], body[512];
	struct cg_opts o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/list", dir);
	f = fopen(path, "w");
	fputs("  http://a/1 \r\n\n# a comment\nhttp://a/2", f);
	fclose(f);
	snprintf(body, sizeof(body), "%s/body", dir);
	f = fopen(body, "w");
	fwrite("a\0b\n", 1, 4, f);
	fclose(f);
	{
		char at[520];
		snprintf(at, sizeof(at), "@%s", body);
		assert_int_equal(
			parse(&o, "http://a/0", "-i", path, "-d", at, NULL), 0);
	}
	assert_int_equal(o.n_urls, 3);
	assert_string_equal(o.urls[0], "http://a/0");
	assert_string_equal(o.urls[1], "http://a/1");
	assert_string_equal(o.urls[2], "http://a/2");
	assert_int_equal(o.data_len, 4);
	assert_memory_equal(o.data, "a\0b\n", 4);
	assert_string_equal(o.method, "POST");
	assert_int_equal(o.n_headers, 1);
	assert_memory_equal(o.headers[0].name, "Content-Type", 12);
	cg_cli_free(&o);
	/* -X wins over -d's POST; a given Content-Type is kept */
	assert_int_equal(parse(&o, "-d", "x=1", "-X", "PATCH", "-H",
			       "content-type: text/plain", "http://a/", NULL),
			 0);
	assert_string_equal(o.method, "PATCH");
	assert_int_equal(o.n_headers, 1);
	assert_int_equal(o.data_len, 3);
	cg_cli_free(&o);
	unlink(path);
	unlink(body);
	rmdir(dir);
	free(dir);
}

static void test_get_cli_mistakes(void **state)
{
	BAD("unknown option '--bogus'", "--bogus", "http://a/");
	BAD("unknown option '-Z'", "-Z", "http://a/");
	BAD("needs a value", "http://a/", "-o");
	BAD("needs a value", "http://a/", "--parallel");
	BAD("no URL given", "-q");
	BAD("--parallel wants", "--parallel", "0", "http://a/");
	BAD("--parallel wants", "--parallel", "ten", "http://a/");
	BAD("--per-host wants", "--per-host", "-1", "http://a/");
	BAD("bad time for --timeout: '-1'", "--timeout", "-1", "http://a/");
	BAD("a plain number is seconds", "--timeout", "inf", "http://a/");
	BAD("bad time for --timeout: '1e3'", "--timeout", "1e3", "http://a/");
	BAD("bad time for --timeout: '0x10'", "-m", "0x10", "http://a/");
	BAD("--retry wants", "--retry", "x", "http://a/");
	BAD("--rate wants", "--rate", "5/w", "http://a/");
	BAD("--rate wants", "--rate", "0/s", "http://a/");
	BAD("-H wants", "-H", "NoColon", "http://a/");
	BAD("-H wants", "-H", "Bad Name: x", "http://a/");
	BAD("-X wants a method", "-X", "GE T", "http://a/");
	BAD("pick one", "-O", "--json", "http://a/");
	BAD("pick one", "-O", "-o", "d", "http://a/");
	BAD("cannot read /nonexistent/list", "-i", "/nonexistent/list");
	BAD("cannot read /nonexistent/body", "-d", "@/nonexistent/body",
	    "http://a/");
}

static void test_get_cli_values(void **state)
{
	uint64_t p, per;
	assert_int_equal(cg_parse_rate("7", &p, &per), 0);
	assert_int_equal(p, 7);
	assert_int_equal(per, 1000000000ull);
	assert_int_equal(cg_parse_rate("3/h", &p, &per), 0);
	assert_int_equal(per, 3600000000000ull);
	assert_int_equal(cg_parse_rate("/s", &p, &per), -EINVAL);
	assert_int_equal(cg_parse_rate("2/", &p, &per), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_cli_defaults),
		cmocka_unit_test(test_get_cli_options),
		cmocka_unit_test(test_get_cli_http_versions),
		cmocka_unit_test(test_get_cli_durations),
		cmocka_unit_test(test_get_cli_data_and_list),
		cmocka_unit_test(test_get_cli_mistakes),
		cmocka_unit_test(test_get_cli_values),
	};
	return cmocka_run_group_tests_name("coil-get.cli", tests, NULL, NULL);
}
