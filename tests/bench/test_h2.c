/*
 * tests/bench/test_h2.c - coil-bench --http2 against nginx's HTTP/2:
 * prior knowledge (h2c, `listen ... http2`) and TLS with ALPN h2, many
 * streams per connection (--max-streams), in the closed and the open
 * model. Exact accounting holds over HTTP/2: the request count
 * coil-bench reports equals the lines nginx logged with protocol
 * HTTP/2.0, with no error; the report names the protocol. A TLS server
 * without h2 is refused with a TLS-class error. Skips (77) without nginx
 * or openssl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>

#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"

#ifndef COIL_H2PEER
#error "COIL_H2PEER must name tests/h2/h2peer.py"
#endif
#ifndef COIL_TLS_MKCERTS
#error "COIL_TLS_MKCERTS must name tests/tls/mkcerts.sh"
#endif

static char dir[] = "/tmp/coil-bench-h2-XXXXXX";
static unsigned short port, tls_port, h1_port;
static pid_t nginx_pid;
static char url[64], tls_url[64], h1_url[64];

static void put(const char *name, const char *text)
{
	ngx_put(dir, name, text);
}

/* log lines, and those whose protocol was HTTP/2.0 */
static uint64_t log_lines(uint64_t *h2)
{
	char p[256];
	char *text, *line;
	uint64_t n = 0;
	snprintf(p, sizeof(p), "%s/access.log", dir);
	text = slurp(p);
	*h2 = 0;
	for (line = text; *line;) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		n++;
		*h2 += strstr(line, " HTTP/2.0") != NULL;
		line = nl + 1;
	}
	free(text);
	return n;
}

static void log_clear(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/access.log", dir);
	if (truncate(p, 0))
		abort();
}

static int start_nginx(void **state)
{
	char conf[4096], cpath[256];
	(void)state;
	port = ngx_prepare(NGINX, dir);
	tls_port = tu_free_port();
	h1_port = tu_free_port();
	tu_mkcerts(COIL_TLS_MKCERTS, dir);
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process on;\nworker_processes 1;\n"
		 "pid %1$s/nginx.pid;\nerror_log %1$s/error.log;\n"
		 "events { worker_connections 1024; }\n"
		 "http {\n"
		 "  log_format h2 '$connection $request $status "
		 "$server_protocol';\n"
		 "  access_log %1$s/access.log h2;\n"
		 "  keepalive_requests 1000000;\n"
		 "  http2_max_concurrent_streams 128;\n"
		 "  client_body_temp_path %1$s;\n  proxy_temp_path %1$s;\n"
		 "  fastcgi_temp_path %1$s;\n  uwsgi_temp_path %1$s;\n"
		 "  scgi_temp_path %1$s;\n"
		 "  ssl_certificate %1$s/server.crt;\n"
		 "  ssl_certificate_key %1$s/server.key;\n"
		 "  server { listen 127.0.0.1:%2$u http2; root %1$s; }\n"
		 "  server { listen 127.0.0.1:%3$u ssl http2; root %1$s; }\n"
		 "  server { listen 127.0.0.1:%4$u ssl; root %1$s; }\n"
		 "}\n",
		 dir, port, tls_port, h1_port);
	put("nginx.conf", conf);
	put("index.html", "hello from nginx over HTTP/2\n");
	snprintf(cpath, sizeof(cpath), "%s/nginx.conf", dir);
	nginx_pid = ngx_spawn(NGINX, dir, cpath, port);
	port_accepting(tls_port, 5000);
	port_accepting(h1_port, 5000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	snprintf(tls_url, sizeof(tls_url), "https://127.0.0.1:%u/", tls_port);
	snprintf(h1_url, sizeof(h1_url), "https://127.0.0.1:%u/", h1_port);
	return 0;
}

static int stop_nginx(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* nginx writes a request's log line after its response: up to 3 s */
static uint64_t log_lines_settled(uint64_t want, uint64_t *h2)
{
	uint64_t n = log_lines(h2);
	for (int i = 0; i < 300 && n < want; i++) {
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
		n = log_lines(h2);
	}
	return n;
}

static void check(struct cb_out r, double min, const char *proto)
{
	uint64_t h2,
		lines = log_lines_settled((uint64_t)j_requests(r.out), &h2);
	char want[64];
	cb_expect_ok(&r);
	fprintf(stderr,
		"coil-bench %.0f requests, nginx logged %llu (%llu "
		"HTTP/2.0)\n",
		j_requests(r.out), (unsigned long long)lines,
		(unsigned long long)h2);
	assert_true(j_requests(r.out) >= min);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal(h2, lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_int_equal((uint64_t)jnum(r.out, "\"status\"", "200"), lines);
	snprintf(want, sizeof(want), "\"protocol\": \"%s\"", proto);
	assert_non_null(strstr(r.out, want));
	assert_true(jnum(r.out, NULL, "h2_sessions") >= 1);
	cb_out_free(&r);
	log_clear();
}

/* many streams per connection gather 500 us per wait by default; one
 * stream, or a --batch-wait given, as HTTP/1.1 (the options' value) */
static void test_bench_h2c_closed_max_streams(void **state)
{
	struct cb_out r;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c4", "-d1s", "--http2", "--max-streams", "10",
		"--json", url);
	assert_int_equal(jnum(r.out, NULL, "batch_wait_ns"), 500000);
	check(r, 1000, "h2c");
	r = RUN("-t1", "-c2", "-n", "100", "--http2", "--json", url);
	assert_int_equal(jnum(r.out, NULL, "batch_wait_ns"), 100000);
	check(r, 100, "h2c");
	r = RUN("-t1", "-c2", "-n", "100", "--http2", "--max-streams", "4",
		"--batch-wait", "50", "--json", url);
	assert_int_equal(jnum(r.out, NULL, "batch_wait_ns"), 50000);
	check(r, 100, "h2c");
}

/* --header-table-size: h2load's option; 0 asks for no HPACK table and
 * the answers are counted as with one; only with --http2, at most 1 MiB */
static void test_bench_h2c_header_table_size(void **state)
{
	struct cb_out r;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c2", "-n", "200", "--http2", "--max-streams", "4",
		"--header-table-size", "0", "--json", url);
	check(r, 200, "h2c");
	r = RUN("-t1", "-c1", "-n", "10", "--header-table-size", "0", url);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--header-table-size needs --http2"));
	cb_out_free(&r);
	r = RUN("-t1", "-c1", "-n", "10", "--http2", "--header-table-size",
		"2000000", url);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "too large"));
	cb_out_free(&r);
	log_clear();
}

static void test_bench_h2c_requests_exact(void **state)
{
	struct cb_out r;
	(void)state;
	log_clear();
	r = RUN("-t2", "-c4", "-n", "5000", "--http2", "--max-streams", "16",
		"--json", url);
	assert_int_equal((uint64_t)j_requests(r.out), 5000);
	check(r, 5000, "h2c");
}

/* every scheduled request is answered, or reported as never sent */
static void test_bench_h2c_open_model(void **state)
{
	struct cb_out r;
	double unsent;
	(void)state;
	log_clear();
	r = RUN("-t2", "-c4", "-d1s", "-R3000", "--http2", "--max-streams", "8",
		"--json", url);
	unsent = jnum(r.out, "\"open_model\"", "unsent");
	assert_int_equal((uint64_t)(j_requests(r.out) + unsent), 3000);
	check(r, 2500, "h2c");
}

static void test_bench_h2_tls_alpn(void **state)
{
	struct cb_out r;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c4", "-d1s", "-k", "--http2", "--max-streams", "10",
		"--json", tls_url);
	check(r, 500, "h2");
	/* the text report names it */
	r = RUN("-t1", "-c2", "-d200ms", "-k", "--http2", tls_url);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "  Protocol: HTTP/2 (h2), "));
	cb_out_free(&r);
	log_clear();
}

/* a TLS server that picks http/1.1: each connection refused (tls class,
 * EPROTONOSUPPORT), no request sent */
static void test_bench_h2_tls_without_h2_refused(void **state)
{
	struct cb_out r;
	uint64_t h2;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c1", "-d200ms", "-k", "--http2", "--json", h1_url);
	assert_int_equal(r.status, 1); /* no request succeeded */
	assert_true(jnum(r.out, "\"tls\"", "count") >= 1);
	assert_non_null(strstr(r.out, "EPROTONOSUPPORT"));
	assert_int_equal(log_lines(&h2), 0);
	cb_out_free(&r);
}

/* a script's request() per request (a new path and header each), turned
 * into HTTP/2 fields per request: nginx logs each path once */
static void test_bench_h2_script_request(void **state)
{
	static const char lua[] = "counter = 0\n"
				  "request = function()\n"
				  "  local path = '/c/' .. counter\n"
				  "  wrk.headers['X-Counter'] = counter\n"
				  "  counter = counter + 1\n"
				  "  return wrk.format(nil, path)\n"
				  "end\n";
	char script[256], p[256];
	struct cb_out r;
	uint64_t h2;
	char *text;
	(void)state;
	put("counter.lua", lua);
	snprintf(script, sizeof(script), "%s/counter.lua", dir);
	log_clear();
	r = RUN("-t1", "-c1", "-n", "200", "--http2", "--max-streams", "4",
		"-s", script, "--json", url);
	if (strstr(r.err, "LuaJIT")) { /* built without -s */
		cb_out_free(&r);
		skip();
	}
	assert_int_equal((uint64_t)j_requests(r.out), 200);
	assert_int_equal(log_lines_settled(200, &h2), 200);
	assert_int_equal(h2, 200);
	snprintf(p, sizeof(p), "%s/access.log", dir);
	text = slurp(p);
	assert_non_null(strstr(text, "GET /c/0 HTTP/2.0"));
	assert_non_null(strstr(text, "GET /c/199 HTTP/2.0"));
	free(text);
	cb_out_free(&r);
	log_clear();
}

/* the error classes, against tests/h2/h2peer.py (one connection): a
 * stream reset mid-body is h2-reset with its RST_STREAM code; streams
 * refused by GOAWAY are goaway */
static void peer_run(const char *mode, char *streams, struct cb_out *r)
{
	char purl[64], line[32];
	int fds[2];
	ssize_t n;
	pid_t pid;

	if (pipe(fds))
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl("/usr/bin/python3", "python3", COIL_H2PEER, mode,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	assert_true(n > 0);
	line[n] = 0;
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d/", atoi(line));
	*r = RUN("-t1", "-c1", "-n", streams, "--http2", "--max-streams",
		 streams, "--timeout", "2s", purl);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_bench_h2_error_classes(void **state)
{
	struct cb_out r;
	(void)state;
	if (access("/usr/bin/python3", X_OK))
		skip();
	peer_run("rst_mid_body", (char *)"1", &r);
	assert_non_null(strstr(r.out, "h2-reset"));
	assert_non_null(strstr(r.out, "INTERNAL_ERROR 1 (HTTP/2 error code)"));
	cb_out_free(&r);
	peer_run("goaway_inflight", (char *)"3", &r);
	assert_non_null(strstr(r.out, "1 requests in"));
	assert_non_null(strstr(r.out, "    goaway          2  "));
	cb_out_free(&r);
}

/* --slo over HTTP/2: met, exit 0 */
static void test_bench_h2_slo(void **state)
{
	struct cb_out r;
	(void)state;
	log_clear();
	r = RUN("-t1", "-c2", "-d300ms", "--http2", "--max-streams", "4",
		"--slo", "errors<0.1%,rps>10", url);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "errors<0.1%"));
	cb_out_free(&r);
	log_clear();
}

static void test_bench_h2_cli_errors(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN("--max-streams", "4", url);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--max-streams needs --http2"));
	cb_out_free(&r);
	r = RUN("--http2", "-P4", url);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--max-streams N sets"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_h2c_closed_max_streams),
		cmocka_unit_test(test_bench_h2c_header_table_size),
		cmocka_unit_test(test_bench_h2c_requests_exact),
		cmocka_unit_test(test_bench_h2c_open_model),
		cmocka_unit_test(test_bench_h2_tls_alpn),
		cmocka_unit_test(test_bench_h2_tls_without_h2_refused),
		cmocka_unit_test(test_bench_h2_script_request),
		cmocka_unit_test(test_bench_h2_error_classes),
		cmocka_unit_test(test_bench_h2_slo),
		cmocka_unit_test(test_bench_h2_cli_errors),
	};
	return cmocka_run_group_tests_name("bench.h2", tests, start_nginx,
					   stop_nginx);
}
