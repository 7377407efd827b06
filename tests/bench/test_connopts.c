/*
 * tests/bench/test_connopts.c - coil-bench's connection options end to end
 * against nginx, each count checked in nginx's access logs (the Host
 * header, the TLS server name and the client certificate's subject are in
 * them):
 *  - --connect-to (curl's semantics: empty fields, first match wins) and
 *    --resolve ('*', a list tried in order) send to another address while
 *    Host and SNI keep the URL's host;
 *  - --unix-socket: HTTP over nginx's Unix socket;
 *  - --targets: vegeta's format over two servers, the connections dealt
 *    by targets, each server's log equal to coil-bench's per-host count,
 *    POST bodies from '@' files; errors with file:line and exit 2;
 *  - --cacert, --cert/--key against `ssl_verify_client on`: accepted with
 *    the certificate, refused (400) without, and against `openssl s_server
 *    -Verify 1` (refused in the handshake); a CA that does not verify the
 *    server, unreadable or mismatched files: one line and exit 2; coil-get
 *    takes the same flags.
 * Skips (77) without nginx or openssl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "e2eutil.h"

#define NGINX "/usr/sbin/nginx"

static char dir[] = "/tmp/coil-bench-connopts-XXXXXX";
static unsigned short p1, p2, p4;
static pid_t nginx_pid;

static char *path_of(const char *name)
{
	static char p[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* A string in one of eight static buffers. */
static char *fmt(const char *f, ...)
{
	static char b[8][512];
	static int i;
	va_list ap;
	i = (i + 1) % 8;
	va_start(ap, f);
	vsnprintf(b[i], sizeof(b[i]), f, ap);
	va_end(ap);
	return b[i];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
}

/* Lines of log @name containing @needle. */
static unsigned log_count(const char *name, const char *needle)
{
	char *text = slurp(path_of(name)), *line, *save = NULL;
	unsigned n = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		n += strstr(line, needle) != NULL;
	free(text);
	return n;
}

/* log_count() once it reaches @want (nginx writes a request's line after
 * its response went out, so the client may be done first), or after 5 s */
static unsigned log_wait(const char *name, const char *needle, unsigned want)
{
	unsigned n = 0;
	for (int i = 0; i < 500 && (n = log_count(name, needle)) < want; i++) {
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
	}
	return n;
}

/* A CA, another CA, a server certificate for bench.test (and 127.0.0.1)
 * and a client certificate, both from the first CA. */
static int make_certs(void)
{
	char cmd[3000];
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >/dev/null 2>&1 && "
		 "openssl req -x509 %s -keyout ca.key -out ca.pem -days 1 "
		 "-subj '/CN=coil test CA' && "
		 "openssl req -x509 %s -keyout other-ca.key -out other-ca.pem "
		 "-days 1 -subj '/CN=other CA' && "
		 "openssl req %s -keyout server.key -out server.csr "
		 "-subj '/CN=bench.test' && "
		 "printf 'subjectAltName=DNS:bench.test,IP:127.0.0.1\\n' > "
		 "san.ext && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out server.pem -days 1 -extfile san.ext && "
		 "openssl req %s -keyout client.key -out client.csr "
		 "-subj '/CN=coil-bench client' && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out client.pem -days 1 && "
		 "cat client.pem client.key > client-both.pem && "
		 "echo 'not a certificate' > garbage.pem && chmod 644 *",
		 dir, ec, ec, ec, ec);
	return system(cmd) == 0 ? 0 : -1;
}

static int start_nginx(void **state)
{
	char conf[4096];
	(void)state;
	p1 = ngx_prepare(NGINX, dir);
	close(tu_listen(&p2)); /* more free ports, for nginx */
	close(tu_listen(&p4));
	if (make_certs() != 0) {
		fprintf(stderr, "skip: openssl cannot make certificates\n");
		exit(COIL_SKIP);
	}
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process on;\nworker_processes 1;\n"
		 "pid %s/nginx.pid;\nerror_log %s/error.log;\n"
		 "events { worker_connections 1024; }\n"
		 "http {\n"
		 "  log_format t '$http_host|$request_method|$request_uri|"
		 "$http_x_tag|$content_length|$ssl_server_name|"
		 "$ssl_client_s_dn|$status';\n"
		 "  keepalive_requests 1000000;\n"
		 "  client_body_temp_path %s;\n  proxy_temp_path %s;\n"
		 "  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n"
		 "  scgi_temp_path %s;\n"
		 "  server { listen 127.0.0.1:%u; root %s; "
		 "access_log %s/a1.log t;\n"
		 "    location /post { return 200 'posted\\n'; } }\n"
		 "  server { listen 127.0.0.1:%u; root %s; "
		 "access_log %s/a2.log t;\n"
		 "    location /post { return 200 'posted\\n'; } }\n"
		 "  server { listen unix:%s/nginx.sock; root %s; "
		 "access_log %s/a3.log t; }\n"
		 "  server { listen 127.0.0.1:%u ssl; root %s; "
		 "access_log %s/a4.log t;\n"
		 "    ssl_certificate %s/server.pem;\n"
		 "    ssl_certificate_key %s/server.key;\n"
		 "    ssl_client_certificate %s/ca.pem;\n"
		 "    ssl_verify_client on; }\n}\n",
		 dir, dir, dir, dir, dir, dir, dir, p1, dir, dir, p2, dir, dir,
		 dir, dir, dir, p4, dir, dir, dir, dir, dir);
	write_file(path_of("nginx.conf"), conf);
	write_file(path_of("index.html"), "hello\n");
	write_file(path_of("body.json"), "{\"n\":12345}");
	nginx_pid = ngx_spawn(NGINX, dir, path_of("nginx.conf"), p1);
	port_accepting(p2, 5000);
	port_accepting(p4, 5000);
	return 0;
}

static int stop_nginx(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* The run's "requests" from its --json report */
static double requests_of(const struct cb_out *r)
{
	return j_requests(r->out);
}

/* exit 2 with one line on stderr holding @what */
static void expect_usage(const struct cb_out *r, const char *what)
{
	if (r->status != 2 || !strstr(r->err, what) ||
	    strchr(r->err, '\n') != r->err + strlen(r->err) - 1)
		fprintf(stderr, "exit %d\nstdout:\n%s\nstderr:\n%s\n",
			r->status, r->out, r->err);
	assert_int_equal(r->status, 2);
	assert_string_equal(r->out, "");
	assert_non_null(strstr(r->err, what));
	assert_ptr_equal(strchr(r->err, '\n'), r->err + strlen(r->err) - 1);
}

static void test_connopts_connect_to(void **state)
{
	struct cb_out r;
	(void)state;

	/* bench.test:80 goes to 127.0.0.1:p1; Host stays bench.test */
	r = RUN("-t1", "-c2", "-n20", "--json", "-H", "X-Tag: ct1",
		"--connect-to", fmt("bench.test:80:127.0.0.1:%u", p1),
		"http://bench.test/index.html");
	cb_expect_ok(&r);
	assert_int_equal(requests_of(&r), 20);
	assert_int_equal(
		log_wait("a1.log", "bench.test|GET|/index.html|ct1|", 20), 20);
	cb_out_free(&r);

	/* empty HOST1 and PORT1: any request; the URL's port stays in Host */
	r = RUN("-t1", "-c2", "-n10", "--json", "-H", "X-Tag: ct2",
		"--connect-to", fmt("::127.0.0.1:%u", p2),
		"http://other.test:9/index.html");
	cb_expect_ok(&r);
	assert_int_equal(
		log_wait("a2.log", "other.test:9|GET|/index.html|ct2|", 10),
		10);
	cb_out_free(&r);

	/* empty PORT2: the URL's port (p1) on the other host */
	r = RUN("-t1", "-c1", "-n10", "--json", "-H", "X-Tag: ct3",
		"--connect-to", "other.test::127.0.0.1:",
		fmt("http://other.test:%u/index.html", p1));
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a1.log",
				  fmt("other.test:%u|GET|/index.html|ct3|", p1),
				  10),
			 10);
	cb_out_free(&r);

	/* the first entry that matches wins */
	r = RUN("-t1", "-c1", "-n10", "--json", "-H", "X-Tag: ct4",
		"--connect-to", "nomatch.test:80:127.0.0.1:1", "--connect-to",
		fmt("bench.test:80:127.0.0.1:%u", p2), "--connect-to",
		fmt("bench.test:80:127.0.0.1:%u", p1),
		"http://bench.test/index.html");
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a2.log", "|ct4|", 10), 10);
	assert_int_equal(log_count("a1.log", "|ct4|"), 0);
	cb_out_free(&r);

	/* malformed: one line, exit 2, before any load */
	r = RUN("-n1", "--connect-to", "bench.test:80", "http://bench.test/");
	expect_usage(&r, "bad --connect-to 'bench.test:80'");
	cb_out_free(&r);
	r = RUN("-n1", "--connect-to", "a:80:b:99999", "http://bench.test/");
	expect_usage(&r, "a port must be empty or 1-65535");
	cb_out_free(&r);
}

static void test_connopts_resolve(void **state)
{
	struct cb_out r;
	(void)state;

	r = RUN("-t1", "-c2", "-n10", "--json", "-H", "X-Tag: rs1", "--resolve",
		fmt("bench.test:%u:127.0.0.1", p1),
		fmt("http://bench.test:%u/index.html", p1));
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a1.log",
				  fmt("bench.test:%u|GET|/index.html|rs1|", p1),
				  10),
			 10);
	cb_out_free(&r);

	/* '*' for any host; a list: 127.0.0.2 refuses, 127.0.0.1 answers */
	r = RUN("-t1", "-c1", "-n10", "--json", "-H", "X-Tag: rs2", "--resolve",
		fmt("*:%u:127.0.0.2,127.0.0.1", p2),
		fmt("http://any.test:%u/index.html", p2));
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a2.log", "|rs2|", 10), 10);
	cb_out_free(&r);

	/* --resolve answers the --connect-to host, as curl's DNS cache does */
	r = RUN("-t1", "-c1", "-n10", "--json", "-H", "X-Tag: rs3",
		"--connect-to", fmt("bench.test:80:backend.test:%u", p2),
		"--resolve", fmt("backend.test:%u:127.0.0.1", p2),
		"http://bench.test/index.html");
	cb_expect_ok(&r);
	assert_int_equal(
		log_wait("a2.log", "bench.test|GET|/index.html|rs3|", 10), 10);
	cb_out_free(&r);

	r = RUN("-n1", "--resolve", "bench.test:80:not-an-address",
		"http://bench.test/");
	expect_usage(&r, "is not an IPv4 or IPv6 address");
	cb_out_free(&r);
}

static void test_connopts_unix_socket(void **state)
{
	struct cb_out r;
	(void)state;

	r = RUN("-t1", "-c2", "-n20", "--json", "-H", "X-Tag: ux1",
		"--unix-socket", path_of("nginx.sock"),
		"http://bench.test/index.html");
	cb_expect_ok(&r);
	assert_int_equal(requests_of(&r), 20);
	assert_int_equal(
		log_wait("a3.log", "bench.test|GET|/index.html|ux1|", 20), 20);
	cb_out_free(&r);

	/* nobody there: every connect fails, as with a refusing port */
	r = RUN("-t1", "-c1", "-d300ms", "--json", "--unix-socket",
		path_of("missing.sock"), "http://bench.test/");
	cb_expect_none_succeeded(&r);
	assert_true(jnum(r.out, "\"socket_errors\"", "connect") >= 1);
	cb_out_free(&r);

	r = RUN("-n1", "--unix-socket", path_of("nginx.sock"), "--resolve",
		"a:80:127.0.0.1", "http://bench.test/");
	expect_usage(&r, "--unix-socket excludes --connect-to and --resolve");
	cb_out_free(&r);
}

static void test_connopts_targets_two_servers(void **state)
{
	char text[1024];
	struct cb_out r;
	double a_req, b_req;
	unsigned a_log, b_get, b_post;
	(void)state;

	snprintf(text, sizeof(text),
		 "# two servers, vegeta's format\n"
		 "GET http://127.0.0.1:%u/index.html\n"
		 "X-Tag: tg\n"
		 "\n"
		 "GET http://127.0.0.1:%u/index.html\n"
		 "X-Tag: tg\n"
		 "\n"
		 "POST http://127.0.0.1:%u/post\n"
		 "X-Tag: tg\n"
		 "Content-Type: application/json\n"
		 "@%s\n",
		 p1, p2, p2, path_of("body.json"));
	write_file(path_of("targets.txt"), text);
	r = RUN("-t1", "-c4", "-n60", "--json", "--targets",
		path_of("targets.txt"));
	cb_expect_ok(&r);
	assert_int_equal(requests_of(&r), 60);
	/* slots A1 B1 B2: 4 connections, 2 to each server */
	a_req = jnum(r.out, fmt("\"host\": \"http://127.0.0.1:%u\"", p1),
		     "requests");
	b_req = jnum(r.out, fmt("\"host\": \"http://127.0.0.1:%u\"", p2),
		     "requests");
	assert_int_equal(jnum(r.out,
			      fmt("\"host\": \"http://127.0.0.1:%u\"", p1),
			      "connections"),
			 2);
	assert_int_equal(jnum(r.out,
			      fmt("\"host\": \"http://127.0.0.1:%u\"", p2),
			      "connections"),
			 2);
	a_log = log_wait("a1.log", "|tg|", (unsigned)a_req);
	log_wait("a2.log", "|tg|", (unsigned)b_req);
	b_get = log_count("a2.log", "|GET|/index.html|tg|");
	b_post = log_count("a2.log", "|POST|/post|tg|11|");
	print_message("host 1: %.0f requests (log %u); host 2: %.0f (log %u "
		      "GET + %u POST)\n",
		      a_req, a_log, b_req, b_get, b_post);
	assert_int_equal(a_req + b_req, 60);
	assert_int_equal(a_log, (unsigned)a_req);
	assert_int_equal(b_get + b_post, (unsigned)b_req);
	assert_int_equal(log_count("a2.log", "|tg|"), (unsigned)b_req);
	assert_true(a_req > 0 && b_get > 0 && b_post > 0);
	/* each of host 2's connections alternates its two targets */
	assert_true(b_get >= b_post ? b_get - b_post <= 2
				    : b_post - b_get <= 2);
	cb_out_free(&r);

	/* the open model: the rate split over the connections, so over the
	 * hosts as the connections are; every response in its host's row */
	r = RUN("-t2", "-c4", "-R", "200", "-d1s", "--json", "--targets",
		path_of("targets.txt"));
	cb_expect_ok(&r);
	a_req = jnum(r.out, fmt("\"host\": \"http://127.0.0.1:%u\"", p1),
		     "requests");
	b_req = jnum(r.out, fmt("\"host\": \"http://127.0.0.1:%u\"", p2),
		     "requests");
	print_message("-R 200: host 1 %.0f, host 2 %.0f of %.0f\n", a_req,
		      b_req, requests_of(&r));
	assert_int_equal(a_req + b_req, requests_of(&r));
	assert_true(requests_of(&r) >= 150);
	/* two connections each: half the rate each, within 10% */
	assert_true(a_req >= 0.4 * requests_of(&r) &&
		    b_req >= 0.4 * requests_of(&r));
	assert_int_equal(log_wait("a1.log", "|tg|", a_log + (unsigned)a_req),
			 a_log + (unsigned)a_req);
	cb_out_free(&r);

	/* the text report has a row per host */
	r = RUN("-t1", "-c2", "-n10", "--targets", path_of("targets.txt"));
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "Hosts (--targets):"));
	assert_non_null(strstr(r.out, fmt("http://127.0.0.1:%u", p2)));
	cb_out_free(&r);
}

static void test_connopts_targets_errors(void **state)
{
	struct cb_out r;
	(void)state;

	write_file(path_of("bad1.txt"), "GET http://127.0.0.1:1/\n"
					"X-Tag: ok\n"
					"Broken header line\n");
	r = RUN("--targets", path_of("bad1.txt"));
	expect_usage(&r, fmt("%s:3: bad header", path_of("bad1.txt")));
	cb_out_free(&r);

	write_file(path_of("bad2.txt"), "\nPOST http://127.0.0.1:1/\n"
					"@/nonexistent/body.json\n");
	r = RUN("--targets", path_of("bad2.txt"));
	expect_usage(&r,
		     fmt("%s:3: cannot read body file", path_of("bad2.txt")));
	cb_out_free(&r);

	write_file(path_of("bad3.txt"), "GET http://127.0.0.1:1/\n\n"
					"GET gopher://x/\n");
	r = RUN("--targets", path_of("bad3.txt"));
	expect_usage(&r,
		     fmt("%s:3: bad URL 'gopher://x/'", path_of("bad3.txt")));
	cb_out_free(&r);

	r = RUN("--targets", path_of("nonexistent.txt"));
	expect_usage(&r, "cannot read --targets");
	cb_out_free(&r);

	r = RUN("--targets", path_of("targets.txt"), "http://127.0.0.1:1/");
	expect_usage(&r, "--targets gives the URLs");
	cb_out_free(&r);

	r = RUN("-t1", "-c1", "--targets", path_of("targets.txt"));
	expect_usage(&r, "-c 1 is less than the 2 hosts");
	cb_out_free(&r);
}

static void test_connopts_client_certificate(void **state)
{
	char url[128], res[128];
	struct cb_out r;
	(void)state;

	snprintf(url, sizeof(url), "https://bench.test:%u/index.html", p4);
	snprintf(res, sizeof(res), "bench.test:%u:127.0.0.1", p4);

	/* the CA and a client certificate: accepted, SNI the URL's host */
	r = RUN("-t1", "-c2", "-n20", "--json", "-H", "X-Tag: mt1", "--resolve",
		res, "--cacert", path_of("ca.pem"), "--cert",
		path_of("client.pem"), "--key", path_of("client.key"), url);
	cb_expect_ok(&r);
	assert_int_equal(requests_of(&r), 20);
	assert_int_equal(log_wait("a4.log", "|mt1|", 20), 20);
	assert_int_equal(log_wait("a4.log",
				  "|mt1|-|bench.test|CN=coil-bench client|200",
				  20),
			 20);
	cb_out_free(&r);

	/* the key inside the --cert file, as curl allows */
	r = RUN("-t1", "-c1", "-n5", "--json", "-H", "X-Tag: mt2", "--resolve",
		res, "--cacert", path_of("ca.pem"), "--cert",
		path_of("client-both.pem"), url);
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a4.log",
				  "|mt2|-|bench.test|CN=coil-bench "
				  "client|200",
				  5),
			 5);
	cb_out_free(&r);

	/* --connect-to with https: SNI and Host stay the URL's host */
	r = RUN("-t1", "-c1", "-n5", "--json", "-H", "X-Tag: mt6",
		"--connect-to", fmt("bench.test:443:127.0.0.1:%u", p4),
		"--cacert", path_of("ca.pem"), "--cert", path_of("client.pem"),
		"--key", path_of("client.key"),
		"https://bench.test/index.html");
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a4.log",
				  "bench.test|GET|/index.html|mt6|-|bench.test|"
				  "CN=coil-bench client|200",
				  5),
			 5);
	cb_out_free(&r);

	/* without a client certificate nginx refuses every request (400) */
	r = RUN("-t1", "-c1", "-n5", "--json", "-H", "X-Tag: mt3", "--resolve",
		res, "--cacert", path_of("ca.pem"), url);
	cb_expect_none_succeeded(&r);
	assert_int_equal(jnum(r.out, "\"status\"", "400"), 5);
	assert_int_equal(log_wait("a4.log", "|mt3|-|bench.test|-|400", 5), 5);
	cb_out_free(&r);

	/* a --cacert that did not sign the server's certificate: one line
	 * before any load, exit 2 */
	r = RUN("-t1", "-c1", "-n5", "-H", "X-Tag: mt4", "--resolve", res,
		"--cacert", path_of("other-ca.pem"), "--cert",
		path_of("client.pem"), "--key", path_of("client.key"), url);
	expect_usage(&r, "the certificate of 'bench.test' does not verify");
	assert_non_null(strstr(r.err, "unknown CA"));
	assert_non_null(strstr(r.err, "other-ca.pem"));
	cb_out_free(&r);
	assert_int_equal(log_count("a4.log", "|mt4|"), 0);
	/* no --cacert: the system's CAs do not know it either; like coil-get,
	 * that is the work failing (TLS errors, exit 1), not the command
	 * line */
	r = RUN("-t1", "-c1", "-d300ms", "--json", "-H", "X-Tag: mt4",
		"--resolve", res, url);
	cb_expect_none_succeeded(&r);
	assert_true(jnum(r.out, "\"tls\"", "count") >= 1);
	cb_out_free(&r);
	assert_int_equal(log_count("a4.log", "|mt4|"), 0);

	/* -k skips the check and still presents the certificate */
	r = RUN("-t1", "-c1", "-n5", "-k", "-H", "X-Tag: mt5", "--resolve", res,
		"--cert", path_of("client.pem"), "--key", path_of("client.key"),
		url);
	cb_expect_ok(&r);
	assert_int_equal(log_wait("a4.log",
				  "|mt5|-|bench.test|CN=coil-bench "
				  "client|200",
				  5),
			 5);
	cb_out_free(&r);
}

/* openssl s_server -Verify 1: the refusal comes in the handshake (an
 * alert), not as an HTTP status */
static void test_connopts_s_server_requires_certificate(void **state)
{
	char port[16], url[96], res[96], acc[32];
	char *argv[] = {"openssl", "s_server",
			"-accept", acc,
			"-cert",   path_of("server.pem"),
			"-key",	   path_of("server.key"),
			"-CAfile", path_of("ca.pem"),
			"-Verify", "1",
			"-www",	   "-quiet",
			NULL};
	posix_spawn_file_actions_t fa;
	unsigned short p;
	struct cb_out r;
	pid_t pid;
	int st;
	(void)state;

	close(tu_listen(&p));
	snprintf(port, sizeof(port), "%u", p);
	snprintf(acc, sizeof(acc), "127.0.0.1:%u", p);
	snprintf(url, sizeof(url), "https://bench.test:%u/", p);
	snprintf(res, sizeof(res), "bench.test:%u:127.0.0.1", p);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(
		posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_true(port_accepting(p, 5000));

	/* with the certificate: every page served (-www closes after each) */
	r = RUN("-t1", "-c1", "-n3", "--json", "--resolve", res, "--cacert",
		path_of("ca.pem"), "--cert", path_of("client.pem"), "--key",
		path_of("client.key"), url);
	cb_expect_ok(&r);
	assert_int_equal(requests_of(&r), 3);
	cb_out_free(&r);
	/* without: refused in the handshake, the run's errors, exit 1 */
	r = RUN("-t1", "-c1", "-d500ms", "--json", "--resolve", res, "--cacert",
		path_of("ca.pem"), url);
	cb_expect_none_succeeded(&r);
	assert_true(j_errors(r.out) + jnum(r.out, "\"tls\"", "count") >= 1);
	cb_out_free(&r);

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

static void test_connopts_bad_tls_files(void **state)
{
	char u[] = "https://127.0.0.1:1/";
	struct cb_out r;
	(void)state;

	r = RUN("-n1", "--cacert", path_of("nonexistent.pem"), u);
	expect_usage(&r, "TLS set-up failed: cannot read");
	cb_out_free(&r);
	r = RUN("-n1", "--cacert", path_of("garbage.pem"), u);
	expect_usage(&r, "TLS set-up failed:");
	cb_out_free(&r);
	/* a directory is no key */
	r = RUN("-n1", "--cert", path_of("client.pem"), "--key", dir, u);
	expect_usage(&r, "TLS set-up failed:");
	cb_out_free(&r);
	/* another certificate's key */
	r = RUN("-n1", "--cert", path_of("client.pem"), "--key",
		path_of("server.key"), u);
	expect_usage(&r, "TLS set-up failed:");
	cb_out_free(&r);
	/* a certificate file without a key in it */
	r = RUN("-n1", "--cert", path_of("client.pem"), u);
	expect_usage(&r, "TLS set-up failed:");
	cb_out_free(&r);
	r = RUN("-n1", "--key", path_of("client.key"), u);
	expect_usage(&r, "--key needs --cert");
	cb_out_free(&r);
}

#ifdef COIL_GET_BIN
/* coil-get shares the flags and the code that loads them */
static int run_get(char **argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	argv[0] = COIL_GET_BIN;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, COIL_GET_BIN, &fa, NULL, argv, environ) != 0)
		abort();
	posix_spawn_file_actions_destroy(&fa);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_connopts_coil_get_client_certificate(void **state)
{
	char *url = fmt("https://127.0.0.1:%u/index.html", p4);
	(void)state;
	{
		char *a[] = {NULL,	 "-q",
			     "-H",	 "X-Tag: cg1",
			     "--cacert", path_of("ca.pem"),
			     "--cert",	 path_of("client.pem"),
			     "--key",	 path_of("client.key"),
			     url,	 NULL};
		assert_int_equal(run_get(a), 0);
	}
	/* an IP literal: no SNI ("-") */
	assert_int_equal(
		log_wait("a4.log", "|cg1|-|-|CN=coil-bench client|200", 1), 1);
	{
		char *a[] = {NULL,	   "-q",       "-H",
			     "X-Tag: cg2", "--cacert", path_of("ca.pem"),
			     url,	   NULL};
		assert_int_equal(run_get(a), 1); /* 400 */
	}
	assert_int_equal(log_wait("a4.log", "|cg2|-|-|-|400", 1), 1);
	{
		char *a[] = {NULL, "-q", "--key", path_of("client.key"),
			     url,  NULL};
		assert_int_equal(run_get(a), 2);
	}
	{
		char *a[] = {NULL,     "-q",
			     "--cert", path_of("client.pem"),
			     "--key",  path_of("server.key"),
			     url,      NULL};
		assert_int_equal(run_get(a), 2);
	}
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connopts_connect_to),
		cmocka_unit_test(test_connopts_resolve),
		cmocka_unit_test(test_connopts_unix_socket),
		cmocka_unit_test(test_connopts_targets_two_servers),
		cmocka_unit_test(test_connopts_targets_errors),
		cmocka_unit_test(test_connopts_client_certificate),
		cmocka_unit_test(test_connopts_s_server_requires_certificate),
		cmocka_unit_test(test_connopts_bad_tls_files),
#ifdef COIL_GET_BIN
		cmocka_unit_test(test_connopts_coil_get_client_certificate),
#endif
	};
	return cmocka_run_group_tests_name("bench.connopts", tests, start_nginx,
					   stop_nginx);
}
