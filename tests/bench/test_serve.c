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

#include <math.h>

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

/* Start coil-bench with @argv (argv[0] replaced), output to temp files;
 * cb_join() waits for it and reads them. Two at once share the host's
 * noise of the same moments. */
struct cb_job {
	pid_t pid;
	char o[32], e[32];
};

static void cb_start(struct cb_job *j, char **argv)
{
	posix_spawn_file_actions_t fa;
	int ofd, efd;
	strcpy(j->o, "/tmp/coil-bench-out-XXXXXX");
	strcpy(j->e, "/tmp/coil-bench-err-XXXXXX");
	ofd = mkstemp(j->o);
	efd = mkstemp(j->e);
	if (ofd < 0 || efd < 0)
		abort();
	argv[0] = (char *)COIL_BENCH_BIN;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	if (posix_spawn(&j->pid, COIL_BENCH_BIN, &fa, NULL, argv, environ))
		abort();
	posix_spawn_file_actions_destroy(&fa);
	close(ofd);
	close(efd);
}

static struct cb_out cb_join(struct cb_job *j)
{
	struct cb_out r = {0};
	int st;
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(j->o);
	r.err = slurp(j->e);
	unlink(j->o);
	unlink(j->e);
	return r;
}

/*
 * A lone connection to /delay/20, the default batched waits beside
 * --batch-wait 0, both runs at the same time (the same moments of a
 * shared host's noise), two rounds: the p50s agree within 2% and 50 us
 * (means of the rounds).
 * (The loop's adaptive rule waits the plain way while each wake finds one
 * completion, as a lone connection's do.)
 */
static void test_serve_delay_lone_batching(void **state)
{
	char url[96];
	double on50[2], on99[2], off50[2], off99[2], m[4];
	(void)state;
	serve_start();
	snprintf(url, sizeof(url), "%s/delay/20", base);
	for (int i = 0; i < 2; i++) {
		char *av[] = {NULL, "-t1", "-c1", "-d3s", "--json", url, NULL};
		char *bv[] = {NULL,	      "-t1", "-c1", "-d3s", "--json",
			      "--batch-wait", "0",   url,   NULL};
		struct cb_job ja, jb;
		struct cb_out a, b;
		cb_start(&ja, av);
		cb_start(&jb, bv);
		a = cb_join(&ja);
		b = cb_join(&jb);
		cb_expect_ok(&a);
		cb_expect_ok(&b);
		assert_non_null(strstr(a.out, "\"source\": \"kernel\""));
		on50[i] = jnum(a.out, "\"latency_ns\"", "50") / 1e3;
		on99[i] = jnum(a.out, "\"latency_ns\"", "99") / 1e3;
		off50[i] = jnum(b.out, "\"latency_ns\"", "50") / 1e3;
		off99[i] = jnum(b.out, "\"latency_ns\"", "99") / 1e3;
		fprintf(stderr,
			"round %d: batched p50 %.1f p99 %.1f us; --batch-wait "
			"0 p50 %.1f p99 %.1f us\n",
			i + 1, on50[i], on99[i], off50[i], off99[i]);
		cb_out_free(&a);
		cb_out_free(&b);
	}
	serve_stop_count_lines();
	m[0] = (on50[0] + on50[1]) / 2;
	m[1] = (off50[0] + off50[1]) / 2;
	m[2] = (on99[0] + on99[1]) / 2;
	m[3] = (off99[0] + off99[1]) / 2;
	assert_true(fabs(m[0] - m[1]) <= 50 &&
		    fabs(m[0] - m[1]) <= 0.02 * m[1]);
	/* The p99 of a lone 3 s run is the host's scheduling noise here
	 * (23-43 ms for a 20 ms delay on the loaded 2-vCPU machine), larger
	 * than anything batching could add (at most the 100 us wait): it is
	 * shown, and compared by bench/serve on a quiet host, not asserted. */
	fprintf(stderr, "p99 means: batched %.1f us, --batch-wait 0 %.1f us\n",
		m[2], m[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_counts_match_log),
		cmocka_unit_test(test_serve_delay_median),
		cmocka_unit_test(test_serve_delay_lone_batching),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.serve", tests, NULL, NULL);
}
