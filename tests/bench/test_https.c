/*
 * tests/bench/test_https.c - coil-bench over HTTPS against nginx with a
 * throwaway self-signed certificate: the counts match nginx's access log
 * with no error, the SNI nginx saw is the URL's host, a connection per
 * request (--no-keepalive) resumes its TLS session and reports the
 * handshake time, kept-alive connections resume the first one's session, and a
 * certificate that does not verify ends in the TLS error class with its reason.
 * Two servers: TLS 1.2 only (it still works with a client that prefers 1.3) and
 * TLS 1.3 only (`ssl_protocols TLSv1.3`: version, group and cipher suite in the
 * report, tickets resume, seen from nginx's $ssl_session_reused); --tls-version
 * picks or refuses each. Skips (77) without nginx or openssl; the TLS 1.3 cases
 * skip with mbedTLS 2.28.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "coil/tls.h"
#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"

static char dir[] = "/tmp/coil-bench-https-XXXXXX";
static unsigned short port, port13;
static pid_t nginx_pid;
static char url[64], url13[64];

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
	close(tu_listen(&port13)); /* a second free port, for nginx */
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
		 "reused=$ssl_session_reused proto=$ssl_protocol';\n"
		 "  access_log %s/access.log t;\n"
		 "  keepalive_requests 1000000;\n"
		 "  client_body_temp_path %s;\n  proxy_temp_path %s;\n"
		 "  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n"
		 "  scgi_temp_path %s;\n"
		 "  server { listen 127.0.0.1:%u ssl; root %s;\n"
		 "    ssl_protocols TLSv1.2;\n"
		 "    ssl_certificate %s/cert.pem;\n"
		 "    ssl_certificate_key %s/key.pem;\n"
		 "    ssl_session_tickets on; }\n"
		 "  server { listen 127.0.0.1:%u ssl; root %s;\n"
		 "    ssl_protocols TLSv1.3;\n"
		 "    ssl_certificate %s/cert.pem;\n"
		 "    ssl_certificate_key %s/key.pem;\n"
		 "    ssl_session_tickets on; }\n}\n",
		 dir, dir, dir, dir, dir, dir, dir, dir, port, dir, dir, dir,
		 port13, dir, dir, dir);
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
	snprintf(url13, sizeof(url13), "https://localhost:%u/", port13);
	port_accepting(port13, 5000);
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
	assert_int_equal(log_count("sni=localhost ", 0), lines);
	/* the 4 handshakes of the pre-connect are reported */
	assert_true(jnum(r.out, "\"tls\"", "handshakes") >= 4);
	assert_true(jnum(r.out, "\"tls\"", "handshake_mean_ns") > 0);
	/* a TLS-1.2-only server: 1.2, ECDHE on X25519, what was negotiated
	 * is in the JSON */
	assert_non_null(strstr(r.out, "\"version\": \"TLSv1.2\""));
	assert_non_null(strstr(r.out, "\"group\": \"x25519\""));
	assert_non_null(strstr(r.out, "\"cipher\": \"TLS-ECDHE-ECDSA-WITH-"));
	assert_int_equal(log_count("proto=TLSv1.2", 1), lines);
	/* decrypted responses carry their TCP reads' kernel timestamps
	 * (unless a forced fallback has no multishot recv) */
	if (!getenv("COIL_FALLBACK"))
		assert_non_null(strstr(r.out, "\"source\": \"kernel\""));
	cb_out_free(&r);
}

/* TLS 1.3 only (nginx ssl_protocols TLSv1.3): a connection per request,
 * the 1.3 tickets resume, as nginx says too; negotiated parameters in the
 * text report */
static void test_https_tls13_resumes(void **state)
{
	struct cb_out r;
	uint64_t lines, reused;
	double hs, resumed;
	(void)state;
	if (!tu_have_tls13())
		skip();
	log_count(NULL, 1);
	/* a count, not a duration: a loaded machine made only 14 requests
	 * in 500 ms */
	r = RUN("-t1", "-c2", "-n", "40", "-k", "--no-keepalive", "--json",
		url13);
	cb_expect_ok(&r);
	reused = log_count("reused=r proto=TLSv1.3", 0);
	lines = log_count("proto=TLSv1.3", 1);
	hs = jnum(r.out, "\"tls\"", "handshakes");
	resumed = jnum(r.out, "\"tls\"", "resumed");
	fprintf(stderr,
		"TLS 1.3: %.0f requests, %.0f handshakes, %.0f resumed; "
		"nginx: %llu lines, %llu reused\n",
		j_requests(r.out), hs, resumed, (unsigned long long)lines,
		(unsigned long long)reused);
	assert_non_null(strstr(r.out, "\"version\": \"TLSv1.3\""));
	assert_non_null(strstr(r.out, "\"group\": \"x25519\""));
	assert_non_null(
		strstr(r.out, "\"cipher\": \"TLS1-3-AES-128-GCM-SHA256\""));
	assert_true(lines >= 20);
	assert_int_equal((uint64_t)j_requests(r.out), lines);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	/* every connection but the first of each thread resumes; the
	 * ticket of one comes while it reads its response */
	assert_true(resumed >= hs - 2);
	assert_true(reused >= lines - 2);
	cb_out_free(&r);

	r = RUN("-t1", "-c1", "-n3", "-k", url13);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "  TLS negotiated: TLSv1.3 "
				      "TLS1-3-AES-128-GCM-SHA256 x25519\n"));
	cb_out_free(&r);
	log_count(NULL, 1);
}

/* --tls-version picks the version, and refuses a server without it */
static void test_https_tls_version_flag(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN("-t1", "-c1", "-n3", "-k", "--tls-version", "1.2", "--json",
		url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 3);
	assert_non_null(strstr(r.out, "\"version\": \"TLSv1.2\""));
	cb_out_free(&r);
	r = RUN("-t1", "-c1", "-n3", "-k", "--tls-version", "1.1", url);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "--tls-version"));
	cb_out_free(&r);
	if (!tu_have_tls13()) {
		log_count(NULL, 1);
		skip();
	}
	/* 1.2 only against a 1.3-only server, and the other way round */
	r = RUN("-t1", "-c1", "-d300ms", "-k", "--tls-version", "1.2", url13);
	cb_expect_none_succeeded(&r);
	assert_non_null(strstr(r.out, "  0 requests in"));
	assert_non_null(strstr(r.out, "    tls "));
	cb_out_free(&r);
	r = RUN("-t1", "-c1", "-d300ms", "-k", "--tls-version", "1.3", url);
	cb_expect_none_succeeded(&r);
	assert_non_null(strstr(r.out, "  0 requests in"));
	assert_non_null(strstr(r.out, "    tls "));
	cb_out_free(&r);
	r = RUN("-t1", "-c1", "-n3", "-k", "--tls-version", "1.2-1.3", url13);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "TLS negotiated: TLSv1.3"));
	cb_out_free(&r);
	log_count(NULL, 1);
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

/* kept-alive connections: the first handshake ends before the others
 * start, so they resume its session (pre-connect, gen.c); nginx sees
 * one full handshake, the connections' requests all answered */
static void test_https_preconnect_resumes(void **state)
{
	struct cb_out r;
	uint64_t lines, reused;
	(void)state;
	log_count(NULL, 1);
	r = RUN("-t1", "-c4", "-n", "8", "-k", "--json", url);
	cb_expect_ok(&r);
	reused = log_count("reused=r", 0);
	lines = log_count(NULL, 1);
	assert_int_equal((uint64_t)j_requests(r.out), 8);
	assert_int_equal(lines, 8);
	assert_int_equal((uint64_t)j_errors(r.out), 0);
	assert_int_equal(jnum(r.out, "\"tls\"", "handshakes"), 4);
	assert_int_equal(jnum(r.out, "\"tls\"", "resumed"), 3);
	/* the requests of the one full handshake's connection are the
	 * lines nginx logs without "reused=r" */
	assert_true(reused >= 3 && reused < 8);
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
		cmocka_unit_test(test_https_preconnect_resumes),
		cmocka_unit_test(test_https_tls13_resumes),
		cmocka_unit_test(test_https_tls_version_flag),
		cmocka_unit_test(test_https_verify_fails),
	};
	return cmocka_run_group_tests_name("bench.https", tests, start_nginx,
					   stop_nginx);
}
