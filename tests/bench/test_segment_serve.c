/*
 * tests/bench/test_segment_serve.c - --segment and --start-at end to end:
 * three workers run at once against coil-serve send what one generator
 * sends (the access log's count of each URL of --urls the same, the total
 * the same), and --start-at is honoured within 10 ms (the first request
 * reaches a server of the test's own no sooner than the moment and at most
 * 10 ms after it; the worker reports how late it started).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "serveutil.h"

#define NURLS 4

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Requests of each of /bytes/1../bytes/4 (the test's four URLs) in
 * coil-serve's access log. */
static void url_counts(const char *log, uint64_t *n)
{
	memset(n, 0, NURLS * sizeof(*n));
	for (const char *p = log; (p = strstr(p, " /bytes/")); p += 8)
		if (p[8] >= '1' && p[8] < '1' + NURLS)
			n[p[8] - '1']++;
}

struct job {
	char *argv[32];
	struct cb_out out;
	pthread_t tid;
};

static void *job_main(void *arg)
{
	struct job *j = arg;
	j->out = cb_exec(j->argv);
	return NULL;
}

/* The file after "--urls" in @args: /bytes/2../bytes/4 of @srv (the URL
 * given on the command line is /bytes/1). */
static void write_urls(const struct serve *srv, const char *const *args)
{
	for (int i = 0; args[i]; i++) {
		FILE *f;
		if (strcmp(args[i], "--urls"))
			continue;
		f = fopen(args[i + 1], "w");
		assert_non_null(f);
		for (int u = 1; u < NURLS; u++)
			fprintf(f, "%s/bytes/%d\n", srv->base, u + 1);
		fclose(f);
	}
}

/* Run coil-bench with @args (NULL-terminated) plus "--segment I/N" for
 * I = 1..@n at once (@n = 0: once, without --segment); the access log's
 * URL counts in @counts; the requests counted by the workers returned. */
static uint64_t run_workers(const char *const *args, int n, uint64_t *counts)
{
	struct serve srv;
	struct job jobs[3];
	char seg[3][24];
	uint64_t total = 0;
	char *log;
	int runs = n ? n : 1;

	serve_start(&srv, "2");
	write_urls(&srv, args);
	for (int w = 0; w < runs; w++) {
		int k = 1;
		for (int i = 0; args[i]; i++)
			jobs[w].argv[k++] = (char *)args[i];
		if (n) {
			snprintf(seg[w], sizeof(seg[w]), "%d/%d", w + 1, n);
			jobs[w].argv[k++] = "--segment";
			jobs[w].argv[k++] = seg[w];
		}
		jobs[w].argv[k++] = "--json";
		jobs[w].argv[k++] = serve_url(&srv, "/bytes/1");
		jobs[w].argv[k] = NULL;
		assert_int_equal(
			pthread_create(&jobs[w].tid, NULL, job_main, &jobs[w]),
			0);
	}
	for (int w = 0; w < runs; w++) {
		pthread_join(jobs[w].tid, NULL);
		cb_expect_ok(&jobs[w].out);
		total += (uint64_t)j_requests(jobs[w].out.out);
		assert_true(j_errors(jobs[w].out.out) == 0);
		/* a worker's threads have one lane of six each: the gaps
		 * where the others' requests fall are no backlog of their
		 * own (pacer.c), so 540/s is no saturation */
		if (!strstr(jobs[w].out.out, "\"backlog\": false"))
			fprintf(stderr, "%s\n", jobs[w].out.out);
		assert_non_null(strstr(jobs[w].out.out, "\"backlog\": false"));
		cb_out_free(&jobs[w].out);
	}
	log = serve_stop(&srv);
	url_counts(log, counts);
	free(log);
	return total;
}

/* The open model with --urls: connection c (a lane) starts at URL c mod 4,
 * so the URL counts tell whether each worker's connections kept their
 * place in the whole test. */
static void test_segment_serve_workers_send_what_one_would(void **state)
{
	char path[] = "/tmp/coil-bench-urls-XXXXXX";
	int fd = mkstemp(path);
	uint64_t one[NURLS], three[NURLS], n1, n3, sum1 = 0, sum3 = 0;
	/* -n: the first 540 requests of the schedule, sent however late a
	 * busy machine makes them (-d only bounds the run) */
	const char *args[] = {"-t2", "-c6", "-R",     "540", "-n", "540",
			      "-d",  "10s", "--urls", path,  NULL};
	(void)state;
	assert_true(fd >= 0);
	close(fd);
	n1 = run_workers(args, 0, one);
	n3 = run_workers(args, 3, three);
	unlink(path);
	fprintf(stderr, "one generator: %llu requests, three workers: %llu\n",
		(unsigned long long)n1, (unsigned long long)n3);
	for (int i = 0; i < NURLS; i++) {
		fprintf(stderr, "  /bytes/%d: %llu and %llu\n", i + 1,
			(unsigned long long)one[i],
			(unsigned long long)three[i]);
		sum1 += one[i];
		sum3 += three[i];
		/* a lane's k-th request goes to URL (lane + k) mod 4: 90
		 * requests a lane leave two URLs one more each, which ones
		 * set by the lane's place in the whole test */
		assert_int_equal(one[i], three[i]);
	}
	/* the schedule's 540, by both */
	assert_int_equal(n1, 540);
	assert_int_equal(n3, 540);
	assert_int_equal(sum1, 540);
	assert_int_equal(sum3, 540);
}

struct watch {
	struct ts_server *s;
	uint64_t first_ns; /* CLOCK_REALTIME when the first request came */
	atomic_int stop;
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct timespec d = {0, 100000}; /* 100 us between looks */
	while (!atomic_load(&w->stop)) {
		if (atomic_load(&w->s->received)) {
			w->first_ns = real_ns();
			return NULL;
		}
		nanosleep(&d, NULL);
	}
	return NULL;
}

/* --start-at T: connected before T, the first request at T + < 10 ms. */
static void test_segment_serve_start_at_within_10ms(void **state)
{
	struct ts_server *s = ts_start(0, 0);
	struct watch w = {.s = s};
	uint64_t at = real_ns() + 700000000ull, late;
	char arg[64];
	pthread_t tid;
	struct cb_out r;
	(void)state;
	snprintf(arg, sizeof(arg), "%llu.%09llu",
		 (unsigned long long)(at / 1000000000ull),
		 (unsigned long long)(at % 1000000000ull));
	assert_int_equal(pthread_create(&tid, NULL, watch_main, &w), 0);
	r = RUN("-t1", "-c1", "-n", "5", "--start-at", arg, "--json",
		ts_url(s, "/"));
	atomic_store(&w.stop, 1);
	pthread_join(tid, NULL);
	ts_stop(s);
	cb_expect_ok(&r);
	late = (uint64_t)jnum(r.out, "\"start\"", "late_ns");
	fprintf(stderr,
		"first request %.3f ms after --start-at; coil-bench says it "
		"started %.3f ms late\n",
		((double)w.first_ns - (double)at) / 1e6, (double)late / 1e6);
	assert_true(w.first_ns >= at);
	assert_true(w.first_ns - at <= 10000000ull);
	assert_true(late <= 10000000ull);
	assert_true(jnum(r.out, "\"start\"", "at_unix_ns") == (double)at);
	cb_out_free(&r);
	ts_free(s);
	/* a moment already gone is refused before any load */
	r = RUN("-c1", "--start-at", "1700000000", "http://127.0.0.1:1/");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "in the past"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_segment_serve_workers_send_what_one_would),
		cmocka_unit_test(test_segment_serve_start_at_within_10ms),
	};
	return cmocka_run_group_tests_name("bench.segment_serve", tests, NULL,
					   NULL);
}
