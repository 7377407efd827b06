/*
 * tests/bench/test_serve.c - coil-bench against coil-serve: the request
 * count coil-bench reports equals the lines coil-serve wrote to its
 * access log, with no error, and /delay/20 shows a median of 20-22 ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2eutil.h"

static char logpath[] = "/tmp/coil-bench-serve-log-XXXXXX";
static pid_t serve_pid;
static char base[64];

/* Start coil-serve on a free port with an access log; read the port from
 * its "listening http://127.0.0.1:PORT ..." line. */
static void serve_start(void)
{
	char *argv[] = {COIL_SERVE_BIN, "-p",	 "0", "-t", "1",
			"--access-log", logpath, NULL};
	posix_spawn_file_actions_t fa;
	char line[256];
	unsigned port = 0;
	int p[2], fd;
	FILE *f;

	fd = mkstemp(logpath);
	close(fd);
	if (pipe(p) != 0)
		abort();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&serve_pid, COIL_SERVE_BIN, &fa, NULL, argv, environ) !=
	    0)
		abort();
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "listening http://127.0.0.1:%u", &port) != 1) {
		fprintf(stderr, "coil-serve said: %s\n", line);
		abort();
	}
	fclose(f);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
}

/* SIGTERM: coil-serve finishes its requests, flushes its log, exits. */
static uint64_t serve_stop_count_lines(void)
{
	int st;
	char *text;
	uint64_t n = 0;
	kill(serve_pid, SIGTERM);
	waitpid(serve_pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = slurp(logpath);
	for (char *c = text; *c; c++)
		n += *c == '\n';
	free(text);
	unlink(logpath);
	return n;
}

static void test_serve_counts_match_log(void **state)
{
	char url[96];
	struct cb_out r;
	uint64_t lines;
	(void)state;
	serve_start();
	snprintf(url, sizeof(url), "%s/", base);
	r = RUN("-t2", "-c16", "-d2s", "--json", url);
	lines = serve_stop_count_lines();
	cb_expect_ok(&r);
	fprintf(stderr, "coil-bench %.0f requests, coil-serve logged %llu\n",
		j_requests(r.out), (unsigned long long)lines);
	assert_true(lines >= 1000);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	cb_out_free(&r);
}

static void test_serve_delay_median(void **state)
{
	char url[96];
	struct cb_out r;
	uint64_t lines;
	double p50;
	(void)state;
	serve_start();
	snprintf(url, sizeof(url), "%s/delay/20", base);
	r = RUN("-t1", "-c10", "-d2s", "--json", url);
	lines = serve_stop_count_lines();
	cb_expect_ok(&r);
	p50 = jnum(r.out, "\"latency_ns\"", "50");
	fprintf(stderr, "p50 %.3f ms over %.0f requests\n", p50 / 1e6,
		j_requests(r.out));
	assert_true(p50 >= 20e6 && p50 <= 22e6);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_counts_match_log),
		cmocka_unit_test(test_serve_delay_median),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.serve", tests, NULL, NULL);
}
