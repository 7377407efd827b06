/*
 * tests/bench/test_nginx.c - coil-bench against nginx (a peer no one here
 * wrote): the request count coil-bench reports equals the number of lines
 * nginx wrote to its access log, with no error, in the closed model for
 * 2 s, with pipelining, without keep-alive and in the open model. Skips
 * (77) without nginx.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"

static char dir[] = "/tmp/coil-bench-nginx-XXXXXX";
static unsigned short port;
static pid_t nginx_pid;
static char url[64];

/* The lines in nginx's access log. */
static uint64_t log_lines(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/access.log", dir);
	return ngx_count_lines(p);
}

static void log_clear(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/access.log", dir);
	truncate(p, 0);
}

static int start_nginx(void **state)
{
	char http[1024];
	(void)state;
	port = ngx_prepare(NGINX, dir);
	snprintf(http, sizeof(http),
		 "  access_log %s/access.log;\n"
		 "  keepalive_requests 1000000;\n"
		 "  gzip on; gzip_min_length 1;\n"
		 "  server { listen 127.0.0.1:%u; root %s; }\n",
		 dir, port, dir);
	ngx_put(dir, "index.html", "hello from nginx\n");
	{ /* 1 MiB for bodies across many reads */
		char *big = malloc(1 << 20);
		memset(big, 'x', 1 << 20);
		big[(1 << 20) - 1] = '\0';
		ngx_put(dir, "big.html", big);
		free(big);
	}
	/* ready once it accepts (bounded: 5 s) */
	nginx_pid = ngx_start(NGINX, dir, port, "", 1024, http);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	return 0;
}

static int stop_nginx(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* nginx writes a request's log line after sending its response: give
 * its worker up to 3 s to write the ones coil-bench saw answered */
static uint64_t log_lines_settled(uint64_t want)
{
	uint64_t n = log_lines();
	for (int i = 0; i < 300 && n < want; i++) {
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
		n = log_lines();
	}
	return n;
}

static void check(struct cb_out r, double min)
{
	uint64_t lines = log_lines_settled((uint64_t)j_requests(r.out));
	cb_expect_ok(&r);
	fprintf(stderr, "coil-bench %.0f requests, nginx logged %llu\n",
		j_requests(r.out), (unsigned long long)lines);
	assert_true(j_requests(r.out) >= min);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_int_equal((uint64_t)jnum(r.out, "\"status\"", "200"), lines);
	cb_out_free(&r);
	log_clear();
}

static void test_nginx_closed_2s(void **state)
{
	(void)state;
	log_clear();
	check(RUN("-t2", "-c16", "-d2s", "--json", url), 1000);
}

static void test_nginx_pipelined(void **state)
{
	(void)state;
	log_clear();
	check(RUN("-t1", "-c8", "-P16", "-d500ms", "--json", url), 1000);
}

static void test_nginx_no_keepalive(void **state)
{
	(void)state;
	log_clear();
	check(RUN("-t1", "-c4", "-d500ms", "--no-keepalive", "--json", url),
	      100);
}

/* every scheduled request is answered, or reported as never sent (a
 * loaded machine can hold a generator thread back at the end) */
static void test_nginx_open_model(void **state)
{
	struct cb_out r;
	double unsent;
	(void)state;
	log_clear();
	r = RUN("-t2", "-c8", "-d1s", "-R3000", "--json", url);
	unsent = jnum(r.out, "\"open_model\"", "unsent");
	assert_int_equal((uint64_t)(j_requests(r.out) + unsent), 3000);
	check(r, 2500);
}

/* a body (POST to a static file: nginx answers 405) and HEAD (a head
 * announcing a length with no body after it) */
static void test_nginx_post_and_head(void **state)
{
	struct cb_out r;
	uint64_t lines;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c2", "-d300ms", "-b", "hello=1", url);
	lines = log_lines_settled(1);
	cb_expect_none_succeeded(&r); /* every response a 405 */
	assert_non_null(strstr(r.out, "  Non-2xx or 3xx responses: "));
	assert_non_null(strstr(r.out, "  Responses by status: 405 "));
	assert_null(strstr(r.out, "Socket errors"));
	assert_true(lines > 10);
	cb_out_free(&r);
	log_clear();
	r = RUN("-t1", "-c2", "-d300ms", "-m", "HEAD", "--json", url);
	check(r, 10);
}

/* a 1 MiB body (Content-Length, across many provided buffers) and a
 * chunked one (nginx compresses on the fly when asked: no length known
 * in advance) */
static void test_nginx_large_and_chunked(void **state)
{
	char big[96];
	struct cb_out r;
	double n;
	(void)state;
	snprintf(big, sizeof(big), "%sbig.html", url);
	log_clear();
	r = RUN("-t1", "-c2", "-d500ms", "--json", big);
	n = j_requests(r.out);
	assert_true(jnum(r.out, NULL, "bytes_read") >= n * (1 << 20));
	check(r, 10);
	r = RUN("-t1", "-c2", "-d500ms", "-H", "Accept-Encoding: gzip",
		"--json", big);
	n = j_requests(r.out);
	/* compressed: far fewer bytes than 1 MiB each */
	assert_true(jnum(r.out, NULL, "bytes_read") < n * 100000);
	check(r, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nginx_closed_2s),
		cmocka_unit_test(test_nginx_pipelined),
		cmocka_unit_test(test_nginx_no_keepalive),
		cmocka_unit_test(test_nginx_open_model),
		cmocka_unit_test(test_nginx_post_and_head),
		cmocka_unit_test(test_nginx_large_and_chunked),
	};
	return cmocka_run_group_tests_name("bench.nginx", tests, start_nginx,
					   stop_nginx);
}
