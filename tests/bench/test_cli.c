/*
 * tests/bench/test_cli.c - coil-bench's command line: every option in its
 * short and long form, wrk's number and time suffixes, and every usage
 * error (cb_cli_parse() returns them; main() exits 2).
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
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "coil/version.h"
#include "testutil.h"

#define MAXARGS 64

struct run {
	char *argv[MAXARGS];
	int argc;
	char err[256];
	struct cb_opts o;
	int ret;
};

/* Parse "coil-bench" + the NULL-terminated arguments (copied: getopt
 * permutes argv). */
static struct run *parse(const char *first, ...)
{
	struct run *r = calloc(1, sizeof(*r));
	va_list ap;
	const char *a;
	assert_non_null(r);
	r->argv[r->argc++] = strdup("coil-bench");
	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *)) {
		assert_true(r->argc < MAXARGS - 1);
		r->argv[r->argc++] = strdup(a);
	}
	va_end(ap);
	memset(r->err, 'x', sizeof(r->err));
	r->ret = cb_cli_parse(&r->o, r->argc, r->argv, r->err, sizeof(r->err));
	return r;
}

static void run_free(struct run *r)
{
	cb_cli_free(&r->o);
	for (int i = 0; i < r->argc; i++)
		free(r->argv[i]);
	free(r);
}

/* parse must succeed */
#define OK(...)                                                                \
	({                                                                     \
		struct run *r_ = parse(__VA_ARGS__, NULL);                     \
		if (r_->ret != 0)                                              \
			fail_msg("unexpected error %d: %s", r_->ret, r_->err); \
		r_;                                                            \
	})

/* parse must fail with @code and a message containing @msg */
static void expect_error(int code, const char *msg, struct run *r)
{
	if (r->ret != code)
		fail_msg("expected %d, got %d (%s)", code, r->ret,
			 r->ret ? r->err : "no error");
	if (!strstr(r->err, msg))
		fail_msg("message '%s' lacks '%s'", r->err, msg);
	assert_null(strchr(r->err, '\n')); /* one line */
	run_free(r);
}
#define ERR(code, msg, ...) expect_error(code, msg, parse(__VA_ARGS__, NULL))

static void test_cli_defaults_are_wrks(void **state)
{
	struct run *r = OK("http://127.0.0.1:8080/");
	struct cb_opts *o = &r->o;
	assert_int_equal(o->action, CB_RUN);
	assert_string_equal(o->url, "http://127.0.0.1:8080/");
	assert_int_equal(o->n_urls, 1);
	assert_string_equal(o->urls[0], "http://127.0.0.1:8080/");
	assert_int_equal(o->threads, 2);
	assert_int_equal(o->connections, 10);
	assert_int_equal(o->duration_ns, 10000000000ull);
	assert_int_equal(o->timeout_ns, 2000000000ull);
	assert_int_equal(o->warmup_ns, 0);
	assert_int_equal(o->rate, 0);
	assert_int_equal(o->requests, 0);
	assert_int_equal(o->pipeline, 1);
	assert_true(o->keepalive);
	/* batched waits on by default (kernel receive times keep latencies
	 * exact); not "set", so dropped without receive timestamps */
	assert_int_equal(o->batch_wait_ns, CB_DEFAULT_BATCH_WAIT_NS);
	assert_false(o->batch_wait_set || o->reap_time);
	assert_false(o->insecure || o->latency || o->uncorrected || o->json);
	assert_string_equal(o->method, "GET");
	assert_int_equal(o->n_headers, 0);
	assert_null(o->body);
	assert_null(o->output);
	assert_null(o->hdr_log);
	assert_null(o->urls_file);
	assert_string_equal(r->err, "");
	run_free(r);
}

static void test_cli_short_options(void **state)
{
	struct run *r =
		OK("-t", "4", "-c", "100", "-d", "2m", "-H", "Host: example",
		   "-H", "X-A: 1", "-L", "-R", "10k", "-U", "-n", "1M", "-m",
		   "PUT", "-b", "hello", "-k", "-P", "16", "http://h/");
	struct cb_opts *o = &r->o;
	assert_int_equal(o->threads, 4);
	assert_int_equal(o->connections, 100);
	assert_int_equal(o->duration_ns, 120000000000ull);
	assert_int_equal(o->n_headers, 2);
	assert_string_equal(o->headers[0], "Host: example");
	assert_string_equal(o->headers[1], "X-A: 1");
	assert_true(o->latency);
	assert_int_equal(o->rate, 10000);
	assert_true(o->uncorrected);
	assert_int_equal(o->requests, 1000000);
	assert_string_equal(o->method, "PUT");
	assert_int_equal(o->body_len, 5);
	assert_memory_equal(o->body, "hello", 5);
	assert_true(o->insecure);
	assert_int_equal(o->pipeline, 16);
	assert_string_equal(o->url, "http://h/");
	run_free(r);

	/* bundled flags and attached values, as getopt allows */
	r = OK("-Lkt3", "-c3", "http://h/");
	assert_true(r->o.latency && r->o.insecure);
	assert_int_equal(r->o.threads, 3);
	assert_int_equal(r->o.connections, 3);
	run_free(r);
}

static void test_cli_long_options(void **state)
{
	char *dir = tu_tmpdir(), *bodyf, *urlsf;
	FILE *f;
	assert_true(asprintf(&bodyf, "%s/body", dir) > 0);
	assert_true(asprintf(&urlsf, "%s/urls", dir) > 0);
	f = fopen(bodyf, "w");
	fwrite("a\0b\n", 1, 4, f); /* binary, with a NUL */
	fclose(f);
	f = fopen(urlsf, "w");
	fputs("# comment\n\nhttp://a/1\r\n  http://a/2  \n\t#x\nhttp://a/3", f);
	fclose(f);

	struct run *r = OK("--threads", "3", "--connections=30", "--duration",
			   "1h", "--header", "A: b", "--latency", "--timeout",
			   "500ms", "--rate", "300", "--requests", "5k",
			   "--method", "DELETE", "--body-file", bodyf,
			   "--insecure", "--warmup", "5s", "--json", "--output",
			   "out.json", "--hdr-log", "run.hlog", "--pipeline",
			   "1", "--no-keepalive", "--urls", urlsf, "http://u/");
	struct cb_opts *o = &r->o;
	assert_int_equal(o->threads, 3);
	assert_int_equal(o->connections, 30);
	assert_int_equal(o->duration_ns, 3600000000000ull);
	assert_int_equal(o->n_headers, 1);
	assert_true(o->latency);
	assert_int_equal(o->timeout_ns, 500000000ull);
	assert_int_equal(o->rate, 300);
	assert_int_equal(o->requests, 5000);
	assert_string_equal(o->method, "DELETE");
	assert_int_equal(o->body_len, 4);
	assert_memory_equal(o->body, "a\0b\n", 4);
	assert_string_equal(o->body_file, bodyf);
	assert_true(o->insecure);
	assert_int_equal(o->warmup_ns, 5000000000ull);
	assert_true(o->json);
	assert_string_equal(o->output, "out.json");
	assert_string_equal(o->hdr_log, "run.hlog");
	assert_int_equal(o->pipeline, 1);
	assert_false(o->keepalive);
	assert_string_equal(o->urls_file, urlsf);
	/* the positional URL first, then the file's, trimmed */
	assert_int_equal(o->n_urls, 4);
	assert_string_equal(o->urls[0], "http://u/");
	assert_string_equal(o->urls[1], "http://a/1");
	assert_string_equal(o->urls[2], "http://a/2");
	assert_string_equal(o->urls[3], "http://a/3");
	run_free(r);

	/* --urls alone: the URL argument is optional */
	r = OK("--urls", urlsf);
	assert_null(r->o.url);
	assert_int_equal(r->o.n_urls, 3);
	assert_string_equal(r->o.urls[0], "http://a/1");
	run_free(r);

	/* -U alone needs -R; with --rate it is fine */
	r = OK("--rate", "100", "-U", "http://h/");
	assert_true(r->o.uncorrected);
	run_free(r);

	unlink(bodyf);
	unlink(urlsf);
	rmdir(dir);
	free(bodyf);
	free(urlsf);
	free(dir);
}

static void test_cli_help_and_version(void **state)
{
	struct run *r = OK("-h");
	assert_int_equal(r->o.action, CB_HELP);
	run_free(r);
	r = OK("--help", "--bogus");
	assert_int_equal(r->o.action, CB_HELP);
	run_free(r);
	r = OK("-v");
	assert_int_equal(r->o.action, CB_VERSION);
	run_free(r);
	r = OK("--version");
	assert_int_equal(r->o.action, CB_VERSION);
	run_free(r);
	r = OK("-V");
	assert_int_equal(r->o.action, CB_VERSION);
	run_free(r);

	/* the help names every option */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cb_cli_usage(f);
	fclose(f);
	static const char *names[] = {
		"--threads",
		"--connections",
		"--duration",
		"--header",
		"--latency",
		"--timeout",
		"--rate",
		"-U",
		"--requests",
		"--method",
		"--body",
		"--body-file",
		"--insecure",
		"--warmup",
		"--json",
		"--output",
		"--hdr-log",
		"--pipeline",
		"--no-keepalive",
		"--urls",
		"--version",
		"--help",
		"--connect-timeout",
		"-V,",
		"Exit status:\n  0  success\n  1  the work failed"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(strstr(text, names[i]));
	free(text);
	f = open_memstream(&text, &len);
	cb_cli_version(f);
	fclose(f);
	assert_string_equal(text, "coil-bench " COIL_VERSION_STRING "\n");
	free(text);
}

static void test_cli_order_and_reparse(void **state)
{
	/* options after the URL (GNU permutation) */
	struct run *r = OK("http://h/", "-t", "1", "-c", "1");
	assert_int_equal(r->o.threads, 1);
	assert_string_equal(r->o.url, "http://h/");
	run_free(r);
	/* "--" ends the options */
	r = OK("-t", "1", "--", "-odd-url");
	assert_string_equal(r->o.url, "-odd-url");
	run_free(r);
	/* a failed parse leaves nothing behind for the next */
	ERR(-EINVAL, "unknown option", "-x", "http://h/");
	r = OK("http://h/");
	assert_int_equal(r->o.threads, 2);
	run_free(r);
}

static void test_cli_requests_and_body_rules(void **state)
{
	/* -n alone: no time limit; with -d: both */
	struct run *r = OK("-n", "100", "http://h/");
	assert_int_equal(r->o.duration_ns, 0);
	run_free(r);
	r = OK("-n", "100", "-d", "3s", "http://h/");
	assert_int_equal(r->o.duration_ns, 3000000000ull);
	run_free(r);
	/* a body makes POST the default method; -m wins */
	r = OK("-b", "{}", "http://h/");
	assert_string_equal(r->o.method, "POST");
	run_free(r);
	r = OK("-b", "", "http://h/");
	assert_string_equal(r->o.method, "POST");
	assert_int_equal(r->o.body_len, 0);
	assert_non_null(r->o.body);
	run_free(r);
	r = OK("-m", "PATCH", "--body", "x", "http://h/");
	assert_string_equal(r->o.method, "PATCH");
	run_free(r);
	/* an empty header value is fine, and so are tabs and obs-text */
	r = OK("-H", "X-Empty:", "-H", "X-T: a\tb \xe9", "http://h/");
	assert_int_equal(r->o.n_headers, 2);
	run_free(r);
	/* -R equal to -t is the least allowed */
	r = OK("-t", "4", "-c", "4", "-R", "4", "http://h/");
	assert_int_equal(r->o.rate, 4);
	run_free(r);
}

static void test_cli_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{"10s", 10000000000ull},
		{"10", 10000000000ull},
		{"2m", 120000000000ull},
		{"1h", 3600000000000ull},
		{"500ms", 500000000ull},
		{"100us", 100000ull},
		{"250ns", 250ull},
		{"1.5s", 1500000000ull},
		{"0.5m", 30000000000ull},
		{"0.25", 250000000ull},
		{"1S", 1000000000ull},
		{"3MS", 3000000ull},
		{"1.0000000001s", 1000000000ull}, /* below 1 ns: dropped */
		{"0", 0},
		{"5124095h", 18446742000000000000ull},
	};
	static const char *bad[] = {"",	   "s",	  "-1",	  "+1",	  "1x",
				    "1.s", ".5s", "10 s", "1e3",  "1..2",
				    "ms1", "1sm", " 1s",  "1.5.s"};
	uint64_t ns;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ns = 7;
		if (cb_parse_duration(good[i].s, &ns) != 0)
			fail_msg("'%s' rejected", good[i].s);
		assert_int_equal(ns, good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cb_parse_duration(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(cb_parse_duration(NULL, &ns), -EINVAL);
	assert_int_equal(cb_parse_duration("5124096h", &ns), -ERANGE);
	assert_int_equal(cb_parse_duration("99999999999999999999", &ns),
			 -ERANGE);
}

static void test_cli_counts(void **state)
{
	static const struct {
		const char *s;
		uint64_t n;
	} good[] = {
		{"100", 100},
		{"10k", 10000},
		{"10K", 10000},
		{"1.5M", 1500000},
		{"1.5m", 1500000}, /* wrk: case-insensitive */
		{"2G", 2000000000ull},
		{"0.001k", 1},
		{"18446744073709551615", UINT64_MAX},
		{"18446744073.709551615G", UINT64_MAX},
	};
	static const char *bad[] = {"",	    "k",   "1.5", "1.2345k",
				    "-5",   "1x",  "1 k", "1.k",
				    "0x10", "1kk", "1T",  "1.0001k"};
	uint64_t n;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = 7;
		if (cb_parse_count(good[i].s, &n) != 0)
			fail_msg("'%s' rejected", good[i].s);
		assert_int_equal(n, good[i].n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cb_parse_count(bad[i], &n) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(cb_parse_count("18446744073709551616", &n), -ERANGE);
	assert_int_equal(cb_parse_count("18446744074G", &n), -ERANGE);
}

static void test_cli_usage_errors(void **state)
{
	/* unknown flags, missing values */
	ERR(-EINVAL, "unknown option '-x'", "-x", "http://h/");
	ERR(-EINVAL, "unknown option '--bogus'", "--bogus", "http://h/");
	ERR(-EINVAL, "unknown option '-Z'", "-LZ", "http://h/");
	ERR(-EINVAL, "-t needs a value", "http://h/", "-t");
	ERR(-EINVAL, "--timeout needs a value", "http://h/", "--timeout");
	ERR(-EINVAL, "--hdr-log needs a value", "http://h/", "--hdr-log");
	ERR(-EINVAL, "option '--json' takes no value", "--json=1", "http://h/");
	ERR(-EINVAL, "option '--latency' takes no value", "--latency=yes",
	    "http://h/");
	/* the URL */
	ERR(-EINVAL, "missing URL", "-t", "1");
	ERR(-EINVAL, "missing URL", NULL);
	ERR(-EINVAL, "unexpected argument 'http://b/'", "http://a/",
	    "http://b/");
	/* bad numbers and times */
	ERR(-EINVAL, "bad number for -t: 'abc'", "-t", "abc", "http://h/");
	ERR(-EINVAL, "bad number for -c: '1.5'", "-c", "1.5", "http://h/");
	ERR(-EINVAL, "bad number for -R: '10q'", "-R", "10q", "http://h/");
	ERR(-EINVAL, "bad number for -n: '-1'", "-n", "-1", "http://h/");
	ERR(-EINVAL, "bad number for -P: 'x'", "-P", "x", "http://h/");
	ERR(-EINVAL, "bad time for -d: '10x'", "-d", "10x", "http://h/");
	ERR(-EINVAL, "bad time for --timeout: 'soon'", "--timeout", "soon",
	    "http://h/");
	ERR(-EINVAL, "bad time for --warmup: '-1s'", "--warmup", "-1s",
	    "http://h/");
	ERR(-EINVAL, "-d 9999999h is too long", "-d", "9999999h", "http://h/");
	/* zeros and limits */
	ERR(-EINVAL, "-d must be more than 0", "-d", "0", "http://h/");
	ERR(-EINVAL, "-d must be more than 0", "-d", "0ms", "http://h/");
	ERR(-EINVAL, "--timeout must be more than 0", "--timeout", "0",
	    "http://h/");
	ERR(-EINVAL, "-t must be at least 1", "-t", "0", "http://h/");
	ERR(-EINVAL, "-c must be at least 1", "-c", "0", "http://h/");
	ERR(-EINVAL, "-n must be at least 1", "-n", "0", "http://h/");
	ERR(-EINVAL, "-R must be at least 1", "-R", "0", "http://h/");
	ERR(-EINVAL, "-P must be at least 1", "-P", "0", "http://h/");
	ERR(-EINVAL, "-t 5000 is too large", "-t", "5000", "http://h/");
	ERR(-EINVAL, "-c 20M is too large", "-c", "20M", "http://h/");
	ERR(-EINVAL, "-P 2k is too large", "-P", "2k", "http://h/");
	ERR(-EINVAL, "-R 2G is too large", "-R", "2G", "http://h/");
	/* relations */
	ERR(-EINVAL, "-c 2 is less than -t 4", "-t", "4", "-c", "2",
	    "http://h/");
	ERR(-EINVAL, "-c 10 is less than -t 16", "-t", "16", "http://h/");
	ERR(-EINVAL, "-R 1 is less than -t 2", "-R", "1", "http://h/");
	ERR(-EINVAL, "-U needs -R", "-U", "http://h/");
	ERR(-EINVAL, "-P 2 needs keep-alive", "-P", "2", "--no-keepalive",
	    "http://h/");
	ERR(-EINVAL, "-b and --body-file exclude each other", "-b", "x",
	    "--body-file", "/etc/hostname", "http://h/");
	/* request shape */
	ERR(-EINVAL, "bad header for -H: 'NoColon'", "-H", "NoColon",
	    "http://h/");
	ERR(-EINVAL, "bad header for -H: ': v'", "-H", ": v", "http://h/");
	ERR(-EINVAL, "bad header for -H: 'Bad Name: v'", "-H", "Bad Name: v",
	    "http://h/");
	ERR(-EINVAL, "a line break in 'X-A'", "-H", "X-A: 1\r\nX-B: 2",
	    "http://h/");
	ERR(-EINVAL, "a control character in 'X-A'", "-H", "X-A: 1\x01",
	    "http://h/");
	ERR(-EINVAL, "a control character in 'X-A'", "-H", "X-A: \x7f",
	    "http://h/");
	ERR(-EINVAL, "bad method for -m: 'G T'", "-m", "G T", "http://h/");
	ERR(-EINVAL, "bad method for -m: ''", "-m", "", "http://h/");
	/* batched waiting */
	ERR(-EINVAL, "bad time for --batch-wait: 'x'", "--batch-wait", "x",
	    "http://h/");
	ERR(-EINVAL, "--batch-wait 2s is too long (at most 1s)", "--batch-wait",
	    "2s", "http://h/");
}

static void test_cli_batch_wait(void **state)
{
	struct run *r = OK("--batch-wait", "100us", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, 100000);
	assert_true(r->o.batch_wait_set);
	run_free(r);
	r = OK("--batch-wait=0", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, 0);
	assert_true(r->o.batch_wait_set);
	run_free(r);
	r = OK("--reap-time", "http://h/");
	assert_true(r->o.reap_time);
	assert_int_equal(r->o.batch_wait_ns, CB_DEFAULT_BATCH_WAIT_NS);
	run_free(r);
	r = OK("--batch-wait", "1s", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, 1000000000ull);
	run_free(r);
	/* 50 connections or more per thread: the longer default */
	r = OK("-t1", "-c50", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, CB_WIDE_BATCH_WAIT_NS);
	assert_false(r->o.batch_wait_set);
	run_free(r);
	r = OK("-t2", "-c99", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, CB_DEFAULT_BATCH_WAIT_NS);
	run_free(r);
	r = OK("-t1", "-c50", "--batch-wait", "100us", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, 100000);
	run_free(r);
	r = OK("-t1", "-c50", "--http2", "--max-streams", "10", "http://h/");
	assert_int_equal(r->o.batch_wait_ns, CB_H2_BATCH_WAIT_NS);
	run_free(r);
}

/* Every duration option, with a unit and without: a plain number is
 * seconds (wrk), microseconds for --batch-wait (coil-serve's). */
static void test_cli_duration_options(void **state)
{
	struct run *r =
		OK("-d", "1500ms", "--timeout", "250ms", "--connect-timeout",
		   "1m", "--warmup", "2s", "--batch-wait", "50us", "http://h/");
	assert_int_equal(r->o.duration_ns, 1500000000ull);
	assert_int_equal(r->o.timeout_ns, 250000000ull);
	assert_int_equal(r->o.connect_timeout_ns, 60000000000ull);
	assert_int_equal(r->o.warmup_ns, 2000000000ull);
	assert_int_equal(r->o.batch_wait_ns, 50000ull);
	run_free(r);
	r = OK("-d", "3", "--timeout", "2", "--connect-timeout", "0.5",
	       "--warmup", "1", "--batch-wait", "30", "http://h/");
	assert_int_equal(r->o.duration_ns, 3000000000ull);
	assert_int_equal(r->o.timeout_ns, 2000000000ull);
	assert_int_equal(r->o.connect_timeout_ns, 500000000ull);
	assert_int_equal(r->o.warmup_ns, 1000000000ull);
	assert_int_equal(r->o.batch_wait_ns, 30000ull);
	run_free(r);
	r = OK("--find-max-rate", "--slo", "p99<1s", "--step", "500ms",
	       "http://h/");
	assert_int_equal(r->o.step_ns, 500000000ull);
	run_free(r);
	r = OK("--find-max-rate", "--slo", "p99<1s", "--step", "3",
	       "http://h/");
	assert_int_equal(r->o.step_ns, 3000000000ull);
	run_free(r);
	r = OK("--stages", "1500ms:5,2:0", "http://h/");
	assert_int_equal(r->o.duration_ns, 3500000000ull);
	run_free(r);
	ERR(-EINVAL, "a plain number is seconds", "--connect-timeout", "1x",
	    "http://h/");
	ERR(-EINVAL, "a plain number is microseconds", "--batch-wait", "1q",
	    "http://h/");
}

static void test_cli_file_errors(void **state)
{
	char *dir = tu_tmpdir(), *missing, *empty;
	FILE *f;
	assert_true(asprintf(&missing, "%s/nope", dir) > 0);
	assert_true(asprintf(&empty, "%s/empty", dir) > 0);
	f = fopen(empty, "w");
	fputs("# only a comment\n\n   \n", f);
	fclose(f);

	ERR(-ENOENT, "cannot read --body-file", "--body-file", missing,
	    "http://h/");
	ERR(-ENOENT, "No such file or directory", "--body-file", missing,
	    "http://h/");
	ERR(-EISDIR, "Is a directory", "--body-file", dir, "http://h/");
	ERR(-ENOENT, "cannot read --urls", "--urls", missing);
	ERR(-EINVAL, "has no URL", "--urls", empty);
	ERR(-EINVAL, "has no URL", "--urls", "/dev/null", "http://h/");
	if (geteuid() != 0) { /* root reads anything */
		chmod(empty, 0);
		ERR(-EACCES, "Permission denied", "--body-file", empty,
		    "http://h/");
	}
	unlink(empty);
	rmdir(dir);
	free(missing);
	free(empty);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_defaults_are_wrks),
		cmocka_unit_test(test_cli_short_options),
		cmocka_unit_test(test_cli_long_options),
		cmocka_unit_test(test_cli_help_and_version),
		cmocka_unit_test(test_cli_duration_options),
		cmocka_unit_test(test_cli_order_and_reparse),
		cmocka_unit_test(test_cli_requests_and_body_rules),
		cmocka_unit_test(test_cli_durations),
		cmocka_unit_test(test_cli_counts),
		cmocka_unit_test(test_cli_usage_errors),
		cmocka_unit_test(test_cli_batch_wait),
		cmocka_unit_test(test_cli_file_errors),
	};
	return cmocka_run_group_tests_name("bench.cli", tests, NULL, NULL);
}
