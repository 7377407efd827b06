/*
 * tests/server/test_serve_cli.c - coil-serve's command line parser
 * (tools/coil-serve/cli.c): defaults, every option, one-line errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "cli.h"

static int parse(struct serve_cfg *cfg, char *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	argv[argc++] = "coil-serve";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return serve_cli_parse(cfg, argc, argv, err, 256);
}

static void test_cli_defaults(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, NULL), 0);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.port, 8080);
	assert_true(c.threads >= 1);
	assert_null(c.root);
	assert_null(c.access_log);
	assert_int_equal(c.max_body, 1ull << 30);
	assert_int_equal(c.drain_ns, 5000000000ull);
	assert_int_equal(c.batch_wait_ns, SERVE_BATCH_WAIT_US * 1000ull);
	assert_int_equal(c.recv_bufs, SERVE_RECV_BUFS);
	assert_int_equal(c.recv_buf_size, SERVE_RECV_BUF_SIZE);
}

/* The provided buffer ring: a count and a size, each within what the
 * loop takes for buffers consumed incrementally. */
static void test_cli_recv_bufs(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, "--recv-bufs", "16", "--recv-buf-size",
			       "4k", NULL),
			 0);
	assert_int_equal(c.recv_bufs, 16);
	assert_int_equal(c.recv_buf_size, 4096);
	assert_int_equal(parse(&c, err, "--recv-bufs", "32768",
			       "--recv-buf-size", "65535", NULL),
			 0);
	assert_int_equal(c.recv_bufs, 32768);
	assert_int_equal(c.recv_buf_size, 65535);
	assert_int_equal(
		parse(&c, err, "--recv-bufs=1", "--recv-buf-size=1k", NULL), 0);
	assert_int_equal(c.recv_bufs, 1);
	assert_int_equal(c.recv_buf_size, 1024);
}

static void test_cli_all_options(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, "-p", "0", "-b", "::1", "-t", "3",
			       "--root", "/tmp", "--cert", "c.pem", "--key",
			       "k.pem", "--access-log", "log", "--max-body",
			       "16m", "--max-requests", "100", "--max-conns",
			       "50", "--header-timeout", "250",
			       "--idle-timeout=1000", "--drain", "0", "--stats",
			       "--batch-wait", "0", NULL),
			 0);
	assert_int_equal(c.port, 0);
	assert_string_equal(c.bind, "::1");
	assert_int_equal(c.threads, 3);
	assert_string_equal(c.root, "/tmp");
	assert_string_equal(c.cert, "c.pem");
	assert_string_equal(c.key, "k.pem");
	assert_string_equal(c.access_log, "log");
	assert_int_equal(c.max_body, 16u << 20);
	assert_int_equal(c.max_requests, 100);
	assert_int_equal(c.max_conns, 50);
	assert_int_equal(c.header_timeout_ns, 250000000ull);
	assert_int_equal(c.idle_timeout_ns, 1000000000ull);
	assert_int_equal(c.drain_ns, 0);
	assert_int_equal(c.stats, 1);
	assert_int_equal(c.batch_wait_ns, 0);
	assert_int_equal(parse(&c, err, "-p8081", "-t", "1", NULL), 0);
	assert_int_equal(c.port, 8081);
}

static void test_cli_help(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, "--help", NULL), 1);
	assert_int_equal(parse(&c, err, "-p", "1", "-h", NULL), 1);
	assert_int_equal(parse(&c, err, "-V", NULL), 2);
	assert_int_equal(parse(&c, err, "--version", NULL), 2);
}

/* Every duration option, with a unit and without (tools/common/cli.h: a
 * plain number is ms for the timeouts, us for --batch-wait). */
static void test_cli_durations(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, "--header-timeout", "2s",
			       "--idle-timeout", "1m", "--drain", "1.5s",
			       "--batch-wait", "50us", NULL),
			 0);
	assert_int_equal(c.header_timeout_ns, 2000000000ull);
	assert_int_equal(c.idle_timeout_ns, 60000000000ull);
	assert_int_equal(c.drain_ns, 1500000000ull);
	assert_int_equal(c.batch_wait_ns, 50000ull);
	assert_int_equal(parse(&c, err, "--header-timeout", "300ms",
			       "--idle-timeout", "2500", "--drain", "100",
			       "--batch-wait", "30", NULL),
			 0);
	assert_int_equal(c.header_timeout_ns, 300000000ull);
	assert_int_equal(c.idle_timeout_ns, 2500000000ull);
	assert_int_equal(c.drain_ns, 100000000ull);
	assert_int_equal(c.batch_wait_ns, 30000ull);
	assert_int_equal(parse(&c, err, "--batch-wait", "1ms", NULL), 0);
	assert_int_equal(c.batch_wait_ns, 1000000ull);
}

static void bad(const char *want, ...)
{
	struct serve_cfg c;
	char err[256];
	char *argv[16];
	int argc = 0;
	va_list ap;
	argv[argc++] = "coil-serve";
	va_start(ap, want);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	assert_int_equal(serve_cli_parse(&c, argc, argv, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_null(strchr(err, '\n'));
}

static void test_cli_errors(void **state)
{
	bad("unknown option '--nope'", "--nope", NULL);
	bad("unknown option '-x'", "-x", NULL);
	bad("needs a value", "-p", NULL);
	bad("needs a value", "--root", NULL);
	bad("--port: bad value '65536'", "-p", "65536", NULL);
	bad("--port: bad value '-1'", "-p", "-1", NULL);
	bad("--port: bad value '80x'", "-p", "80x", NULL);
	bad("--threads: bad value '0'", "-t", "0", NULL);
	bad("--recv-bufs: bad value '0'", "--recv-bufs", "0", NULL);
	bad("--recv-bufs: bad value '32769'", "--recv-bufs", "32769", NULL);
	bad("--recv-bufs: bad value '8k'", "--recv-bufs", "8k", NULL);
	bad("--recv-buf-size: bad value '64k'", "--recv-buf-size", "64k", NULL);
	bad("--recv-buf-size: bad value '1023'", "--recv-buf-size", "1023",
	    NULL);
	bad("needs a value", "--recv-bufs", NULL);
	bad("--threads: bad value '1025'", "-t", "1025", NULL);
	bad("not an IPv4 or IPv6 address", "-b", "localhost", NULL);
	bad("--max-body: bad value '5t'", "--max-body", "5t", NULL);
	bad("--max-body: bad value '99999999999999999999'", "--max-body",
	    "99999999999999999999", NULL);
	bad("--header-timeout 0 is too short", "--header-timeout", "0", NULL);
	bad("--header-timeout 500us is too short", "--header-timeout", "500us",
	    NULL);
	bad("bad time for --idle-timeout: '1x' (expected e.g. 500ms",
	    "--idle-timeout", "1x", NULL);
	bad("a plain number is milliseconds", "--drain", "-1", NULL);
	bad("a plain number is microseconds", "--batch-wait", "3 s", NULL);
	bad("--batch-wait 2s is too long", "--batch-wait", "2s", NULL);
	bad("bad time for --drain: '2d'", "--drain", "2d", NULL);
	bad("--idle-timeout 25h is too long", "--idle-timeout", "25h", NULL);
	bad("--cert and --key go together", "--cert", "c.pem", NULL);
	bad("--cert and --key go together", "--key", "k.pem", NULL);
	bad("unexpected argument 'extra'", "extra", NULL);
}

/* --file-cache on|off (on by default; the last one counts),
 * --file-cache-mem BYTES (0: no contents) and --file-send copy|sendfile. */
static void test_cli_file_cache(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, NULL), 0);
	assert_false(c.file_cache_off);
	assert_int_equal(c.file_cache_mem, 0);
	assert_int_equal(parse(&c, err, "--file-cache", "off",
			       "--file-cache-mem", "4m", NULL),
			 0);
	assert_true(c.file_cache_off);
	assert_int_equal(c.file_cache_mem, 4u << 20);
	assert_int_equal(parse(&c, err, "--file-cache", "off", "--file-cache",
			       "on", "--file-cache-mem", "0", NULL),
			 0);
	assert_false(c.file_cache_off);
	assert_int_equal(c.file_cache_mem, UINT64_MAX);
	/* the window of the first version is gone: the cache is exact */
	bad("--file-cache takes on or off, not '1s'", "--file-cache", "1s",
	    NULL);
	bad("--file-cache takes on or off, not 'x'", "--file-cache", "x", NULL);
	bad("--file-cache-mem: bad value '5t'", "--file-cache-mem", "5t", NULL);
	/* --file-send copy|sendfile (copy by default; the last one counts) */
	assert_int_equal(parse(&c, err, NULL), 0);
	assert_false(c.file_send_sendfile);
	assert_int_equal(parse(&c, err, "--file-send", "sendfile", NULL), 0);
	assert_true(c.file_send_sendfile);
	assert_int_equal(parse(&c, err, "--file-send", "sendfile",
			       "--file-send", "copy", NULL),
			 0);
	assert_false(c.file_send_sendfile);
	bad("--file-send takes copy or sendfile, not 'splice'", "--file-send",
	    "splice", NULL);
}

/* --autoindex: off by default, only with --root */
static void test_cli_autoindex(void **state)
{
	struct serve_cfg c;
	char err[256];
	assert_int_equal(parse(&c, err, "--root", "/tmp", NULL), 0);
	assert_int_equal(c.autoindex, 0);
	assert_int_equal(parse(&c, err, "--root", "/tmp", "--autoindex", NULL),
			 0);
	assert_int_equal(c.autoindex, 1);
	bad("--autoindex needs --root", "--autoindex", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_defaults),
		cmocka_unit_test(test_cli_recv_bufs),
		cmocka_unit_test(test_cli_all_options),
		cmocka_unit_test(test_cli_help),
		cmocka_unit_test(test_cli_durations),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_cli_file_cache),
		cmocka_unit_test(test_cli_autoindex),
	};
	return cmocka_run_group_tests_name("serve.cli", tests, NULL, NULL);
}
