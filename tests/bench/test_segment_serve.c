/*
 * tests/bench/test_segment_serve.c - --segment and --start-at end to end:
 * three workers run at once against coil-serve send what one generator
 * sends (the access log's count of each URL of --urls the same, the total
 * the same; a worker's pacer counts no other worker's requests as its
 * backlog), and --start-at is honoured: the first request reaches a server
 * of the test's own no sooner than the moment, nor sooner than the worker
 * says it started (the kernel's receive timestamp of its bytes against the
 * worker's own reading of its lateness). How late, within 10 ms on a
 * quiet host, is the host's: bench/segment/start-at.sh measures it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

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
		 * own (pacer.c), so 540/s is no saturation: what backlog a
		 * loaded host makes, the run's own late requests cover
		 * (6 lanes at 540/s: 11.1 ms between a lane's requests, and
		 * a grid step) */
		j_expect_backlog_explained(jobs[w].out.out, 6e9 / 540 + 1e6);
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

/* A server of the test's own for --start-at: one connection, its reads
 * stamped by the kernel in its receive path (SO_TIMESTAMPING,
 * CLOCK_REALTIME), so that when the first request came is known however
 * late the test's own threads run; each request head answered "ok". */
struct stamped {
	int lfd;
	unsigned short port;
	pthread_t tid;
	uint64_t first_ns; /* the first request's bytes, CLOCK_REALTIME */
	unsigned requests;
};

/* The kernel's software receive time in @m's control data, or 0. */
static uint64_t rx_stamp(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		struct scm_timestamping ts;
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_TIMESTAMPING)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		return (uint64_t)ts.ts[0].tv_sec * 1000000000ull +
		       (uint64_t)ts.ts[0].tv_nsec;
	}
	return 0;
}

static void *stamped_main(void *arg)
{
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct stamped *s = arg;
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};
	int tsf = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	char buf[8192], *e;
	size_t len = 0;
	int fd;

	if (poll(&p, 1, 30000) <= 0)
		return NULL;
	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &tsf, sizeof(tsf));
	p.fd = fd;
	while (poll(&p, 1, 30000) > 0) {
		char ctl[256];
		struct iovec iov = {buf + len, sizeof(buf) - 1 - len};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(fd, &m, 0);
		if (n <= 0)
			break;
		if (!s->first_ns)
			s->first_ns = rx_stamp(&m);
		len += (size_t)n;
		buf[len] = '\0';
		while ((e = strstr(buf, "\r\n\r\n"))) {
			size_t used = (size_t)(e + 4 - buf);
			s->requests++;
			if (ts_write_all(fd, ok, sizeof(ok) - 1) < 0)
				break;
			memmove(buf, buf + used, len - used + 1);
			len -= used;
		}
	}
	close(fd);
	return NULL;
}

/* --start-at T: the first request reaches the server at T or after, and
 * after the moment the worker says it started (T + its start.late_ns:
 * it sends only once it woke); its five requests answered. */
static void test_segment_serve_start_at_honoured(void **state)
{
	struct stamped sv = {0};
	int tsf = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	uint64_t at, late;
	char arg[64], url[64];
	struct cb_out r;
	(void)state;
	/* on the listener first: the kernel stamps from then on */
	sv.lfd = tu_listen(&sv.port);
	assert_int_equal(setsockopt(sv.lfd, SOL_SOCKET, SO_TIMESTAMPING, &tsf,
				    sizeof(tsf)),
			 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", sv.port);
	assert_int_equal(pthread_create(&sv.tid, NULL, stamped_main, &sv), 0);
	at = real_ns() + 700000000ull;
	snprintf(arg, sizeof(arg), "%llu.%09llu",
		 (unsigned long long)(at / 1000000000ull),
		 (unsigned long long)(at % 1000000000ull));
	r = RUN("-t1", "-c1", "-n", "5", "--start-at", arg, "--json", url);
	pthread_join(sv.tid, NULL);
	close(sv.lfd);
	cb_expect_ok(&r);
	late = (uint64_t)jnum(r.out, "\"start\"", "late_ns");
	fprintf(stderr,
		"first request %.3f ms after --start-at (the kernel's "
		"receive time); coil-bench says it started %.3f ms late\n",
		((double)sv.first_ns - (double)at) / 1e6, (double)late / 1e6);
	assert_int_equal(sv.requests, 5);
	assert_int_equal((uint64_t)j_requests(r.out), 5);
	assert_true(sv.first_ns != 0);
	assert_true(sv.first_ns >= at);
	assert_true(sv.first_ns >= at + late);
	assert_true(jnum(r.out, "\"start\"", "at_unix_ns") == (double)at);
	cb_out_free(&r);
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
		cmocka_unit_test(test_segment_serve_start_at_honoured),
	};
	return cmocka_run_group_tests_name("bench.segment_serve", tests, NULL,
					   NULL);
}
