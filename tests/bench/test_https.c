/*
 * tests/bench/test_https.c - coil-bench over HTTPS against nginx with a
 * throwaway self-signed certificate: the counts match nginx's access log
 * with no error, the SNI nginx saw is the URL's host, a connection per
 * request (--no-keepalive) resumes its TLS session and reports the
 * handshake time, and a certificate that does not verify ends in the TLS
 * error class with its reason. Skips (77) without nginx or openssl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"

static char dir[] = "/tmp/coil-bench-https-XXXXXX";
static unsigned short port;
static pid_t nginx_pid;
static char url[64];

static char *path_of(const char *name)
{
	static char p[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static int spawn_wait(char **argv)
{
	pid_t pid;
	int st;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int start_nginx(void **state)
{
	char conf[2048];
	char *req[] = {"openssl",
		       "req",
		       "-x509",
		       "-newkey",
		       "ec",
		       "-pkeyopt",
		       "ec_paramgen_curve:P-256",
		       "-nodes",
		       "-keyout",
		       path_of("key.pem"),
		       "-out",
		       path_of("cert.pem"),
		       "-days",
		       "1",
		       "-subj",
		       "/CN=localhost",
		       "-addext",
		       "subjectAltName=DNS:localhost",
		       NULL};
	FILE *f;
	(void)state;
	port = ngx_prepare(NGINX, dir);
	req[9] = path_of("key.pem");
	req[11] = path_of("cert.pem");
	if (spawn_wait(req) != 0) {
		fprintf(stderr, "skip: openssl cannot make a certificate\n");
		exit(COIL_SKIP);
	}
	chmod(path_of("key.pem"), 0644);
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process on;\nworker_processes 1;\n"
		 "pid %s/nginx.pid;\nerror_log %s/error.log;\n"
		 "events { worker_connections 1024; }\n"
		 "http {\n"
		 "  log_format t 'sni=$ssl_server_name "
		 "reused=$ssl_session_reused';\n"
		 "  access_log %s/access.log t;\n"
		 "  keepalive_requests 1000000;\n"
		 "  client_body_temp_path %s;\n  proxy_temp_path %s;\n"
		 "  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n"
		 "  scgi_temp_path %s;\n"
		 "  server { listen 127.0.0.1:%u ssl; root %s;\n"
		 "    ssl_certificate %s/cert.pem;\n"
		 "    ssl_certificate_key %s/key.pem;\n"
		 "    ssl_session_tickets on; }\n}\n",
		 dir, dir, dir, dir, dir, dir, dir, dir, port, dir, dir, dir);
	f = fopen(path_of("nginx.conf"), "w");
	fputs(conf, f);
	fclose(f);
	f = fopen(path_of("index.html"), "w");
	fputs("hello over TLS\n", f);
	fclose(f);
	chmod(path_of("index.html"), 0644);
	/* ready once it accepts: <= 5 s */
	nginx_pid = ngx_spawn(NGINX, dir, path_of("nginx.conf"), port);
	snprintf(url, sizeof(url), "https://localhost:%u/", port);
	return 0;
}

static int stop_nginx(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* lines of the access log holding @what (NULL: all), then clear it */
static uint64_t log_count(const char *what, int clear)
{
	char *text = slurp(path_of("access.log"));
	uint64_t n = 0;
	for (char *l = text, *e; *l; l = e + 1) {
		if (!(e = strchr(l, '\n')))
			break;
		*e = '\0';
		n += !what || strstr(l, what) != NULL;
	}
	free(text);
	if (clear && truncate(path_of("access.log"), 0) != 0)
		abort();
	return n;
}

/* nginx writes a request's log line after sending its response: give
 * its worker up to 3 s to write the ones coil-bench saw answered */
static void log_settle(uint64_t want)
{
	for (int i = 0; i < 300 && log_count(NULL, 0) < want; i++) {
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
	}
}

/* keep-alive: counts match, SNI is the URL's host */
static void test_https_counts_and_sni(void **state)
{
	struct cb_out r;
	uint64_t lines;
	(void)state;
	log_count(NULL, 1);
	r = RUN("-t1", "-c4", "-d2s", "-k", "--json", url);
	cb_expect_ok(&r);
	log_settle((uint64_t)j_requests(r.out));
	lines = log_count(NULL, 0);
	fprintf(stderr, "coil-bench %.0f requests, nginx logged %llu\n",
		j_requests(r.out), (unsigned long long)lines);
	assert_true(lines >= 1000);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_int_equal(log_count("sni=localhost ", 1), lines);
	/* the 4 handshakes of the pre-connect are reported */
	assert_true(jnum(r.out, "\"tls\"", "handshakes") >= 4);
	assert_true(jnum(r.out, "\"tls\"", "handshake_mean_ns") > 0);
	cb_out_free(&r);
}

/* a connection per request: sessions resume; handshake time shown */
static void test_https_no_keepalive_resumes(void **state)
{
	struct cb_out r;
	uint64_t lines, reused;
	double hs, resumed;
	(void)state;
	log_count(NULL, 1);
	r = RUN("-t1", "-c2", "-d500ms", "-k", "--no-keepalive", "--json", url);
	cb_expect_ok(&r);
	reused = log_count("reused=r", 0);
	lines = log_count(NULL, 1);
	hs = jnum(r.out, "\"tls\"", "handshakes");
	resumed = jnum(r.out, "\"tls\"", "resumed");
	fprintf(stderr,
		"%.0f requests, %.0f handshakes, %.0f resumed; "
		"nginx: %llu lines, %llu reused\n",
		j_requests(r.out), hs, resumed, (unsigned long long)lines,
		(unsigned long long)reused);
	assert_true(lines >= 20);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_true(hs >= j_requests(r.out));
	/* every connection but the first of each thread resumes */
	assert_true(resumed >= hs - 2);
	assert_true(reused >= lines - 2);
	cb_out_free(&r);
}

/* without -k the self-signed certificate is refused: TLS errors, with
 * the reason, and no request */
static void test_https_verify_fails(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN("-t1", "-c1", "-d300ms", url);
	cb_expect_none_succeeded(&r);
	assert_non_null(strstr(r.out, "  0 requests in"));
	assert_non_null(strstr(r.out, "    tls "));
	assert_non_null(strstr(r.out, "COIL_ETLS"));
	assert_int_equal(log_count(NULL, 1), 0);
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_https_counts_and_sni),
		cmocka_unit_test(test_https_no_keepalive_resumes),
		cmocka_unit_test(test_https_verify_fails),
	};
	return cmocka_run_group_tests_name("bench.https", tests, start_nginx,
					   stop_nginx);
}
