/*
 * tests/bench/test_e2e.c - coil-bench end to end against a test server of
 * its own (e2eutil.h): the request count it reports is what the server
 * served, errors land in their class once each, and the run ends by
 * awaiting what is in flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2eutil.h"

static void expect_ok(const struct cb_out *r)
{
	/* shown by ctest --output-on-failure: what the run saw */
	const char *line = strstr(r->out, "requests in");
	if (r->out[0] == '{')
		fprintf(stderr, "  requests %.0f, socket errors %.0f\n",
			j_requests(r->out), j_errors(r->out));
	else if (line)
		fprintf(stderr, "  %.*s\n", (int)strcspn(line, "\n"), line);
	cb_expect_ok(r);
}

/* Stop the server, then check the run: coil-bench exited 0, answered
 * more than @min requests, each one the server served in full, and no
 * error. */
static void expect_counted(const struct cb_out *r, struct ts_server *s,
			   double min)
{
	expect_ok(r);
	ts_stop(s);
	assert_true(j_requests(r->out) > min);
	assert_int_equal((uint64_t)j_requests(r->out), atomic_load(&s->served));
	assert_int_equal((uint64_t)j_errors(r->out), 0);
}

/* Every line of @want (NULL-terminated) stands in the report @out. */
static void expect_in(const char *out, const char *const want[])
{
	for (size_t i = 0; want[i]; i++) {
		if (!strstr(out, want[i]))
			fail_msg("'%s' is not in the report:\n%s", want[i],
				 out);
	}
}

/* closed model, two threads: every response counted, nothing else */
static void test_e2e_counts_match_server(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t2", "-c8", "-d1s", "--json", ts_url(s, "/"));
	(void)state;
	expect_counted(&r, s, 100);
	assert_int_equal((uint64_t)jnum(r.out, "\"status\"", "200"),
			 (uint64_t)j_requests(r.out));
	ts_free(s);
	cb_out_free(&r);
}

/* the text report: wrk's layout, coil's extras */
static void test_e2e_text_report_layout(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c2", "-d300ms", "-L", ts_url(s, "/"));
	(void)state;
	expect_ok(&r);
	ts_stop(s);
	expect_in(r.out,
		  (const char *const[]){"Running 300ms test @ http://127.0.0.1",
					"  1 threads and 2 connections\n",
					"  Thread Stats   Avg      Stdev",
					"  Latency Distribution\n", " 99.999%",
					"Requests/sec: ", "Transfer/sec: ",
					"  Responses by status: 200 ",
					"  Per request: ", NULL});
	assert_null(strstr(r.out, "Socket errors"));
	ts_free(s);
	cb_out_free(&r);
}

/* a slow server: the responses in flight when the time is up are
 * awaited and counted. Bounds from the run itself: a loaded machine stops
 * the server (this process) or coil-bench for hundreds of ms, so rounds
 * take 300 ms or longer; 2 s leave room for such a stall. */
static void test_e2e_end_awaits_in_flight(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r =
		RUN("-t1", "-c4", "-d2s", "--json", ts_url(s, "/delay/300"));
	double n, rounds;
	(void)state;
	expect_ok(&r);
	ts_stop(s);
	n = j_requests(r.out);
	assert_true(n >= 12); /* idle: 7 rounds of 4 */
	/* what the server answered, every answer counted: nothing in
	 * flight was dropped at the end */
	assert_int_equal((uint64_t)n, atomic_load(&s->served));
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	/* the report's window is -d; the wait for the last answers is
	 * reported apart: a connection waited 300 ms for each of its
	 * answers, one had n / 4 of them */
	rounds = (double)(((uint64_t)n + 3) / 4);
	assert_true(jnum(r.out, NULL, "runtime_ns") == 2e9);
	assert_true(jnum(r.out, NULL, "drain_ns") > 0);
	assert_true(jnum(r.out, NULL, "runtime_ns") +
			    jnum(r.out, NULL, "drain_ns") >=
		    rounds * 300e6);
	ts_free(s);
	cb_out_free(&r);
}

/* -P: many requests in flight per connection */
static void test_e2e_pipeline_counts(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r =
		RUN("-t1", "-c4", "-P8", "-d1s", "--json", ts_url(s, "/"));
	(void)state;
	expect_counted(&r, s, 100);
	ts_free(s);
	cb_out_free(&r);
}

/* --no-keepalive: a connection per request */
static void test_e2e_no_keepalive(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c4", "-d500ms", "--no-keepalive",
			      "--json", ts_url(s, "/"));
	(void)state;
	expect_counted(&r, s, 10);
	assert_true(jnum(r.out, NULL, "connections_opened") >=
		    j_requests(r.out));
	/* and no other: at most the 4 connecting at the end sent nothing */
	assert_true(atomic_load(&s->nconns) >= (int)atomic_load(&s->served));
	assert_true(atomic_load(&s->nconns) <=
		    (int)atomic_load(&s->served) + 4);
	ts_free(s);
	cb_out_free(&r);
}

/* the server closes after every response: reconnect, no error */
static void test_e2e_server_closes(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c4", "-P4", "-d500ms", "--json",
			      ts_url(s, "/close"));
	(void)state;
	expect_counted(&r, s, 10);
	ts_free(s);
	cb_out_free(&r);
}

/* a body without a length ends when the server closes (RFC 9112 §6.3) */
static void test_e2e_close_delimited_body(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r =
		RUN("-t1", "-c2", "-d300ms", "--json", ts_url(s, "/eof"));
	(void)state;
	expect_counted(&r, s, 10);
	ts_free(s);
	cb_out_free(&r);
}

/* heads split across many reads are put together (the copy path) */
static void test_e2e_split_heads(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r =
		RUN("-t1", "-c2", "-n", "6", "--json", ts_url(s, "/slowhead"));
	(void)state;
	expect_ok(&r);
	ts_stop(s);
	assert_int_equal((uint64_t)j_requests(r.out), 6);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	/* every byte of the 69-byte responses, heads included */
	assert_int_equal((uint64_t)jnum(r.out, NULL, "bytes_read"), 6 * 69);
	ts_free(s);
	cb_out_free(&r);
}

/* a head beyond 64 KiB is refused: a parse error (COIL_ELIMIT) */
static void test_e2e_head_over_limit(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c1", "-d200ms", ts_url(s, "/bighead"));
	(void)state;
	cb_expect_none_succeeded(&r);
	ts_stop(s);
	expect_in(r.out, (const char *const[]){"  0 requests in", "    parse ",
					       "COIL_ELIMIT", NULL});
	ts_free(s);
	cb_out_free(&r);
}

/* a server that never answers: each request times out once, its
 * connection is replaced, and nothing is dropped from the counts */
static void test_e2e_timeouts_counted_once(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c2", "-d1s", "--timeout", "200ms",
			      "--json", ts_url(s, "/hang"));
	double to, opened;
	(void)state;
	cb_expect_none_succeeded(&r);
	ts_stop(s);
	to = jnum(r.out, "\"socket_errors\"", "timeout");
	opened = jnum(r.out, NULL, "connections_opened");
	assert_int_equal((uint64_t)j_requests(r.out), 0);
	assert_true(to >= 4 && to <= 14); /* 2 x 1 s / 200 ms at most */
	/* every timeout is a request that was sent; the server may not have
	 * read the last one of each connection (2) before it was stopped */
	assert_true((uint64_t)to >= atomic_load(&s->received) &&
		    (uint64_t)to <= atomic_load(&s->received) + 2);
	assert_true(opened >= to - 2);
	/* the code and its text */
	assert_non_null(strstr(r.out, "\"name\": \"ETIMEDOUT\""));
	ts_free(s);
	cb_out_free(&r);
}

/* responses that are not HTTP: parse errors, once per request */
static void test_e2e_parse_errors(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c2", "-d300ms", ts_url(s, "/garbage"));
	(void)state;
	cb_expect_none_succeeded(&r);
	ts_stop(s);
	expect_in(r.out,
		  (const char *const[]){"  0 requests in",
					"Socket errors: connect 0, read ",
					"    parse ", "COIL_EPARSE", NULL});
	ts_free(s);
	cb_out_free(&r);
}

/* nothing listens: connect errors with their errno text */
static void test_e2e_connect_refused(void **state)
{
	unsigned short port;
	int fd = tu_listen(&port);
	char u[64];
	struct cb_out r;
	(void)state;
	close(fd); /* the port is free again: connecting is refused */
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", port);
	r = RUN("-t1", "-c2", "-d300ms", u);
	cb_expect_none_succeeded(&r);
	expect_in(r.out, (const char *const[]){
				 "  0 requests in", "Socket errors: connect ",
				 "ECONNREFUSED", "Connection refused", NULL});
	cb_out_free(&r);
}

/* -n: exactly that many, over both threads */
static void test_e2e_request_limit(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r =
		RUN("-t2", "-c6", "-n", "1001", "--json", ts_url(s, "/"));
	(void)state;
	expect_ok(&r);
	ts_stop(s);
	assert_int_equal((uint64_t)j_requests(r.out), 1001);
	assert_int_equal(atomic_load(&s->served), 1001);
	ts_free(s);
	cb_out_free(&r);
}

/* --urls: round robin over several targets of one server */
static void test_e2e_urls_round_robin(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	char path[] = "/tmp/coil-bench-urls-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct cb_out r;
	(void)state;
	fprintf(f, "%s\n", ts_url(s, "/a"));
	fprintf(f, "%s\n", ts_url(s, "/b?x=1"));
	fclose(f);
	r = RUN("-t1", "-c2", "-n", "100", "--urls", path, "--json");
	expect_ok(&r);
	ts_stop(s);
	unlink(path);
	assert_int_equal((uint64_t)j_requests(r.out), 100);
	ts_free(s);
	cb_out_free(&r);
}

/* --hdr-log: one interval line per second (and the last part) */
static void test_e2e_hdr_log(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	char path[] = "/tmp/coil-bench-hdr-XXXXXX";
	int fd = mkstemp(path);
	struct cb_out r;
	char *log;
	int lines = 0;
	(void)state;
	close(fd);
	r = RUN("-t2", "-c4", "-d1500ms", "--hdr-log", path, ts_url(s, "/"));
	expect_ok(&r);
	ts_stop(s);
	log = slurp(path);
	unlink(path);
	assert_non_null(strstr(log, "#[Histogram log format version 1.3]"));
	for (char *p = log; (p = strstr(p, ",HISTF")); p++)
		lines++;
	assert_true(lines >= 2 && lines <= 3);
	free(log);
	ts_free(s);
	cb_out_free(&r);
}

/* --warmup: load from the start, counted only after it (1 s each: a
 * loaded machine stops the server for hundreds of ms at times) */
static void test_e2e_warmup_not_counted(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c2", "--warmup", "1s", "-d1s", "--json",
			      ts_url(s, "/delay/10"));
	double n;
	(void)state;
	expect_ok(&r);
	ts_stop(s);
	n = j_requests(r.out);
	/* 2 connections at ~10 ms: ~200 in 1 s, as many again unseen */
	assert_true(n >= 20);
	assert_true(atomic_load(&s->served) >= n + 20);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	/* the runtime is the counted part's: 1 s, not 2 */
	assert_true(jnum(r.out, NULL, "runtime_ns") < 2e9);
	ts_free(s);
	cb_out_free(&r);
}

/* the progress line: on a terminal every 500 ms, never on a pipe */
static void test_e2e_progress_only_on_tty(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	char *argv[] = {COIL_BENCH_BIN, "-t1",		"-c2",
			"-d1200ms",	ts_url(s, "/"), NULL};
	posix_spawn_file_actions_t fa;
	char buf[8192];
	size_t len = 0;
	pid_t pid;
	int m, st;
	(void)state;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, ptsname(m), O_RDWR, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(
		posix_spawn(&pid, COIL_BENCH_BIN, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (;;) { /* until the child's end closes the terminal: EIO */
		ssize_t n = read(m, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	waitpid(pid, &st, 0);
	close(m);
	ts_stop(s);
	ts_free(s);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(buf, "req/s"));
	assert_non_null(strstr(buf, "errors"));
	assert_non_null(strstr(buf, "\r\033[K"));

	/* on a pipe (cb_exec): nothing but the report */
	s = ts_start(0, 0);
	struct cb_out r = RUN("-t1", "-c2", "-d600ms", ts_url(s, "/"));
	expect_ok(&r);
	ts_stop(s);
	assert_string_equal(r.err, "");
	ts_free(s);
	cb_out_free(&r);
}

/* SIGINT ends the run like the end of -d: what was in flight is
 * awaited and counted, and the report is printed */
static void test_e2e_interrupt_reports(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	char *argv[] = {COIL_BENCH_BIN,		"-t2", "-c4", "-d30s", "--json",
			ts_url(s, "/delay/50"), NULL};
	char path[] = "/tmp/coil-bench-int-XXXXXX";
	posix_spawn_file_actions_t fa;
	int fd = mkstemp(path), st;
	pid_t pid;
	char *out;
	(void)state;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(
		posix_spawn(&pid, COIL_BENCH_BIN, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	/* once the server has answered a few (bounded: 10 s), interrupt */
	for (int i = 0; i < 2000 && atomic_load(&s->served) < 8; i++) {
		struct timespec d = {0, 5000000};
		nanosleep(&d, NULL);
	}
	kill(pid, SIGINT);
	waitpid(pid, &st, 0);
	ts_stop(s);
	out = slurp(path);
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(j_requests(out) >= 8);
	assert_int_equal((uint64_t)j_requests(out), atomic_load(&s->served));
	assert_int_equal((uint64_t)j_errors(out), 0);
	assert_true(jnum(out, NULL, "runtime_ns") < 10e9);
	free(out);
	ts_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e2e_counts_match_server),
		cmocka_unit_test(test_e2e_text_report_layout),
		cmocka_unit_test(test_e2e_end_awaits_in_flight),
		cmocka_unit_test(test_e2e_pipeline_counts),
		cmocka_unit_test(test_e2e_no_keepalive),
		cmocka_unit_test(test_e2e_server_closes),
		cmocka_unit_test(test_e2e_close_delimited_body),
		cmocka_unit_test(test_e2e_split_heads),
		cmocka_unit_test(test_e2e_head_over_limit),
		cmocka_unit_test(test_e2e_timeouts_counted_once),
		cmocka_unit_test(test_e2e_parse_errors),
		cmocka_unit_test(test_e2e_connect_refused),
		cmocka_unit_test(test_e2e_request_limit),
		cmocka_unit_test(test_e2e_urls_round_robin),
		cmocka_unit_test(test_e2e_hdr_log),
		cmocka_unit_test(test_e2e_warmup_not_counted),
		cmocka_unit_test(test_e2e_progress_only_on_tty),
		cmocka_unit_test(test_e2e_interrupt_reports),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.e2e", tests, NULL, NULL);
}
