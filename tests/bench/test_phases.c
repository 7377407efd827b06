/*
 * tests/bench/test_phases.c - a run's phases as coil-bench reports them:
 * the connections opened at a bounded pace before the measured window
 * (8,000 of them against nginx with a listen backlog of 128: no SYN
 * dropped, no error), and -d as the length of the sending window however
 * many connections were opened first. Skips (77) without nginx or without
 * the file descriptors for 8,000 connections on both ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"
#define MANY 8000
#define BACKLOG 128

static char dir[] = "/tmp/coil-bench-phases-XXXXXX";
static pid_t nginx_pid;
static char url[64];

/* Descriptors for MANY connections in each of coil-bench (it raises its
 * soft limit to the hard one) and nginx's worker (worker_rlimit_nofile):
 * raise the hard limit if it is lower, or skip. */
static void need_fds(void)
{
	struct rlimit rl;
	rlim_t want = MANY + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		abort();
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		rl.rlim_max = want;
		if (rl.rlim_cur > want)
			rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			fprintf(stderr,
				"skip: RLIMIT_NOFILE cannot reach %llu for "
				"%d connections\n",
				(unsigned long long)want, MANY);
			exit(COIL_SKIP);
		}
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* nginx with listen backlog=128: the accept queue a connect storm would
 * overflow (the kernel drops the SYNs that find it full). Twice the
 * worker_connections in use: below 1/16 free, nginx closes idle
 * keep-alive connections to make room (ngx_drain_connections()). */
static int start_nginx(void **state)
{
	char top[64], http[512];
	unsigned short port;
	(void)state;
	port = ngx_prepare(NGINX, dir);
	need_fds();
	snprintf(top, sizeof(top), "worker_rlimit_nofile %d;\n", MANY + 1024);
	snprintf(http, sizeof(http),
		 "  access_log off;\n  keepalive_requests 1000000;\n"
		 "  server { listen 127.0.0.1:%u backlog=%d; root %s; }\n",
		 port, BACKLOG, dir);
	ngx_put(dir, "index.html", "hello from nginx\n");
	nginx_pid = ngx_start(NGINX, dir, port, top, 2 * MANY, http);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	return 0;
}

static int stop_nginx(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* The kernel's count of SYNs dropped at full accept queues (all sockets
 * of the host: informative, since other tests may run beside this one). */
static uint64_t listen_overflows(void)
{
	char *t = slurp("/proc/net/netstat"), *hdr, *val;
	uint64_t n = 0;
	hdr = strstr(t, "TcpExt:");
	val = hdr ? strstr(hdr + 1, "TcpExt:") : NULL;
	if (hdr && val) {
		char *h = hdr + 7, *v = val + 7;
		for (;;) {
			size_t hl = strcspn(h + 1, " \n"), vl;
			h++;
			v += strspn(v, " ");
			vl = strcspn(v, " \n");
			if (hl == 15 && !strncmp(h, "ListenOverflows", 15)) {
				n = strtoull(v, NULL, 10);
				break;
			}
			if (h[hl] != ' ' || v[vl] != ' ')
				break;
			h += hl;
			v += vl;
		}
	}
	free(t);
	return n;
}

/* 8,000 connections against a backlog of 128: all opened, none after a
 * dropped SYN (its retry comes 1 s later: the slowest connect would show
 * it), no error, and the connect time reported apart from the window */
static void test_phases_connects_paced(void **state)
{
	uint64_t ovf0 = listen_overflows(), ovf;
	struct cb_out r = RUN("-t1", "-c8000", "-d1s", "-R2000", "--timeout",
			      "5s", "--json", url);
	double slowest, opened;
	(void)state;
	ovf = listen_overflows() - ovf0;
	cb_expect_ok(&r);
	slowest = jnum(r.out, NULL, "connect_max_ns");
	opened = jnum(r.out, NULL, "connections_opened");
	fprintf(stderr,
		"%.0f connections in %.1f ms, the slowest %.1f ms; "
		"listen overflows on the host: %llu\n",
		opened, jnum(r.out, NULL, "connect_ns") / 1e6, slowest / 1e6,
		(unsigned long long)ovf);
	assert_true(opened >= MANY);
	assert_true(slowest > 0 && slowest < 1e9);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_true(jnum(r.out, NULL, "connect_ns") > 0);
	assert_true(j_requests(r.out) >= 1000);
	cb_out_free(&r);
}

/* -d2s is the sending window, whether 10 or 2,000 connections were
 * opened first and however long the last answers took */
static void test_phases_duration_is_the_window(void **state)
{
	char *conns[] = {"-c10", "-c2000"};
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct cb_out r =
			RUN("-t1", conns[i], "-d2s", "-R2000", "--json", url);
		double rt;
		cb_expect_ok(&r);
		rt = jnum(r.out, NULL, "runtime_ns");
		fprintf(stderr,
			"%s: window %.3f s, connect %.1f ms, drain "
			"%.1f ms, %.0f requests/s\n",
			conns[i], rt / 1e9,
			jnum(r.out, NULL, "connect_ns") / 1e6,
			jnum(r.out, NULL, "drain_ns") / 1e6,
			jnum(r.out, NULL, "requests_per_sec"));
		assert_true(rt == 2e9);
		/* the schedule's 4,000 requests, over the 2 s */
		assert_int_equal(
			(uint64_t)(j_requests(r.out) +
				   jnum(r.out, "\"open_model\"", "unsent")),
			4000);
		assert_true(jnum(r.out, NULL, "requests_per_sec") >= 1900);
		cb_out_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phases_connects_paced),
		cmocka_unit_test(test_phases_duration_is_the_window),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.phases", tests, start_nginx,
					   stop_nginx);
}
