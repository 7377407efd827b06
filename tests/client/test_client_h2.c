/*
 * tests/client/test_client_h2.c - the HTTP client over HTTP/2 against
 * nginx's http2 (nginx.h): h2c by prior knowledge and TLS with ALPN "h2"
 * (certificates from tests/tls/mkcerts.sh). 100 requests with a per-host
 * limit of 10 share exactly one connection (nginx's access log: one
 * $connection, 100 lines of HTTP/2.0), every body byte-exact (hashed
 * against the file), never more than 10 streams at once (the client's
 * peak); a redirect followed over the same connection; a TLS nginx
 * without http2 chooses http/1.1 by ALPN and the client speaks HTTP/1.1
 * to it. coil-get --http2 / --http2-prior-knowledge fetches N URLs over
 * one connection into files byte-equal to nginx's (and to curl's output
 * where curl speaks HTTP/2), its JSON saying "http_version":"2". A
 * paused stream's bytes come after the resume, in order, while another
 * stream goes on; body and head limits, HEAD, a 404 and a cancel each end
 * one stream on the one connection. No fd left open. Skips (77) without nginx
 * or openssl.
 */
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "cl.h"
#include "nginx.h"

#ifndef COIL_GET_BIN
#error "COIL_GET_BIN must name the coil-get binary"
#endif
#ifndef COIL_TLS_MKCERTS
#error "COIL_TLS_MKCERTS must name tests/tls/mkcerts.sh"
#endif

#define PROTO_LOG "    add_header X-Proto $server_protocol always;\n"

static char *certs;

static int make_certs(void **state)
{
	char cmd[1024];
	int rc;

	(void)state;
	certs = tu_tmpdir();
	snprintf(cmd, sizeof(cmd), "sh %s %s", COIL_TLS_MKCERTS, certs);
	rc = system(cmd);
	if (rc != 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
		fprintf(stderr, "skip: openssl is not installed\n");
		exit(77);
	}
	assert_int_equal(rc, 0);
	return 0;
}

/* @n GETs of /f (and /redir → /f when @redir), streamed and hashed, all
 * started at once; nginx's log must show one connection. */
static void run_many(struct ngx *g, const char *scheme,
		     struct coil_tls_config *tls, unsigned version, int n,
		     int expect_version)
{
	struct coil_http_client_opts o = {
		.max_conns_per_host = 10, .http_version = version, .tls = tls};
	struct coil_http_req_opts ro = {
		.on_body = cl_body, .timeout_ns = 30 * SEC, .max_redirects = 2};
	struct coil_http_client_stats st;
	struct res *x = calloc((size_t)n, sizeof(*x));
	char url[256];
	size_t flen;
	uint64_t fh = cl_file_hash(g->root, "f", &flen);
	struct fx f;
	int done = 0, conns = 0, lines;

	assert_non_null(x);
	fx_open(&f, &o);
	for (int i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "%s://localhost:%u/%s", scheme,
			 (unsigned)g->port, i % 10 == 9 ? "redir" : "f");
		cl_start(&f, url, &ro, &x[i]);
	}
	for (;;) {
		done = 0;
		for (int i = 0; i < n; i++)
			done += x[i].done;
		if (done == n)
			break;
		CL_RUN_UNTIL(f.loop, 0, 50);
		if (tu_mono_ns() > x[0].t_start + 60 * SEC)
			break;
	}
	for (int i = 0; i < n; i++) {
		if (x[i].res != 200)
			fail_msg("request %d: %d (%s)", i, x[i].res, x[i].err);
		assert_int_equal(x[i].done, 1);
		assert_int_equal(x[i].got, flen);
		assert_true(x[i].hash == fh);
		assert_int_equal(x[i].info.http_version, expect_version);
		assert_int_equal(x[i].info.redirects, i % 10 == 9 ? 1 : 0);
		coil_http_req_free(x[i].req);
	}
	coil_http_client_stats(f.c, &st);
	if (expect_version == 20) {
		assert_int_equal(st.conns_opened, 1);
		assert_int_equal(st.h2_conns, 1);
		assert_int_equal(st.h2_streams, (uint64_t)(n + n / 10));
		assert_true(st.peak_h2_streams >= 1);
		assert_true(st.peak_h2_streams <= 10);
	} else {
		assert_int_equal(st.h2_conns, 0);
		assert_int_equal(st.h2_streams, 0);
	}
	fx_close(&f);
	free(x);
	ngx_stop(g);
	lines = ngx_log(g, &conns, NULL);
	assert_int_equal(lines, n + n / 10);
	if (expect_version == 20)
		assert_int_equal(conns, 1);
	else
		assert_true(conns >= 1 && conns <= 10);
}

static const char *locations = "    location = /redir { return 302 /f; }\n";

static void test_client_h2_prior_knowledge_one_connection(void **state)
{
	struct ngx g;
	int fds = tu_count_fds();

	(void)state;
	ngx_start_listen(&g, locations, " http2");
	ngx_file(&g, "f", 70000, 3);
	run_many(&g, "http", NULL, COIL_HTTP_VERSION_2_PRIOR, 100, 20);
	ngx_clean(&g);
	assert_int_equal(tu_count_fds(), fds);
}

static struct coil_tls_config *ca_config(void)
{
	struct coil_tls_config *tls = NULL;
	struct coil_tls_config_opts to = {0};
	char ca[600], err[256];

	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	to.ca_file = ca;
	to.alpn = coil_h2_alpn;
	assert_int_equal(coil_tls_config_new(&tls, &to, err, sizeof(err)), 0);
	return tls;
}

static void start_tls(struct ngx *g, const char *listen)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
		 "    ssl_certificate %s/server.crt;\n"
		 "    ssl_certificate_key %s/server.key;\n%s%s",
		 certs, certs, PROTO_LOG, locations);
	ngx_start_listen(g, conf, listen);
	ngx_file(g, "f", 70000, 4);
}

static void test_client_h2_tls_alpn_one_connection(void **state)
{
	struct coil_tls_config *tls = ca_config();
	struct ngx g;
	int fds = tu_count_fds();

	(void)state;
	start_tls(&g, " ssl http2");
	run_many(&g, "https", tls, COIL_HTTP_VERSION_2, 100, 20);
	ngx_clean(&g);
	assert_int_equal(coil_tls_config_free(tls), 0);
	assert_int_equal(tu_count_fds(), fds);
}

/* the server picks http/1.1 by ALPN: HTTP/1.1 it is, on several
 * connections under the per-host limit */
static void test_client_h2_tls_server_picks_http11(void **state)
{
	struct coil_tls_config *tls = ca_config();
	struct ngx g;
	int fds = tu_count_fds();

	(void)state;
	start_tls(&g, " ssl");
	run_many(&g, "https", tls, COIL_HTTP_VERSION_2, 30, 11);
	ngx_clean(&g);
	assert_int_equal(coil_tls_config_free(tls), 0);
	assert_int_equal(tu_count_fds(), fds);
}

/* Run @argv (NULL-terminated) with stdout into @out; its exit status. */
static int run_child(const char *const *argv, const char *out)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int o = creat(out, 0600), e = open("/dev/null", O_WRONLY);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* curl with HTTP/2 (nghttp2), or NULL */
static const char *curl_h2(void)
{
	if (access("/usr/bin/curl", X_OK) ||
	    system("/usr/bin/curl --version 2>/dev/null | grep -q HTTP2"))
		return NULL;
	return "/usr/bin/curl";
}

#define GET_FILES 12

/* coil-get @flag fetches GET_FILES files of nginx's into a directory:
 * exit 0, one JSON line each with "http_version":"2", every file equal to
 * nginx's and to curl's output, one connection at nginx. */
static void coil_get_run(struct ngx *g, const char *scheme, const char *flag)
{
	char *dir = tu_tmpdir(), outdir[600], json[600], ca[600];
	char urls[GET_FILES][128], name[32], path[1024];
	const char *argv[GET_FILES + 16];
	const char *curl = curl_h2();
	size_t len, flen;
	char *out;
	int n = 0, conns = 0;

	for (int i = 0; i < GET_FILES; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		ngx_file(g, name, 1000 + (size_t)i * 7919, (unsigned)i + 20);
		snprintf(urls[i], sizeof(urls[i]), "%s://localhost:%u/g%d",
			 scheme, (unsigned)g->port, i);
	}
	snprintf(outdir, sizeof(outdir), "%s/out", dir);
	snprintf(json, sizeof(json), "%s/json", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	argv[n++] = COIL_GET_BIN;
	argv[n++] = flag;
	argv[n++] = "--json";
	argv[n++] = "-q";
	argv[n++] = "--per-host";
	argv[n++] = "4";
	argv[n++] = "--cacert";
	argv[n++] = ca;
	argv[n++] = "-o";
	argv[n++] = outdir;
	for (int i = 0; i < GET_FILES; i++)
		argv[n++] = urls[i];
	argv[n] = NULL;
	assert_int_equal(run_child(argv, json), 0);
	out = cl_slurp(json, &len);
	for (int i = 0; i < GET_FILES; i++) {
		char key[1700];
		const char *line;
		snprintf(key, sizeof(key), "\"url\":\"%s\",\"status\":200,",
			 urls[i]);
		line = strstr(out, key);
		if (!line)
			fail_msg("no line %s in %s", key, out);
		/* on that line */
		assert_non_null(strstr(line, "\"http_version\":\"2\","));
		assert_true(strstr(line, "\"http_version\":\"2\",") <
			    strchr(line, '\n'));
	}
	free(out);
	for (int i = 0; i < GET_FILES; i++) {
		char *got, *want;
		size_t glen;
		snprintf(path, sizeof(path), "%s/g%d", outdir, i);
		got = cl_slurp(path, &glen);
		snprintf(path, sizeof(path), "%s/g%d", g->root, i);
		want = cl_slurp(path, &flen);
		assert_int_equal(glen, flen);
		assert_memory_equal(got, want, flen);
		free(want);
		if (curl) { /* and what curl writes for the URL */
			const char *cv[] = {curl, "-s",	   flag, "--cacert",
					    ca,	  urls[i], NULL};
			char cout[700];
			size_t clen;
			char *c;
			snprintf(cout, sizeof(cout), "%s/curl", dir);
			assert_int_equal(run_child(cv, cout), 0);
			c = cl_slurp(cout, &clen);
			assert_int_equal(clen, glen);
			assert_memory_equal(c, got, glen);
			free(c);
			unlink(cout);
		}
		free(got);
		snprintf(path, sizeof(path), "%s/g%d", outdir, i);
		unlink(path);
	}
	rmdir(outdir);
	unlink(json);
	rmdir(dir);
	free(dir);
	ngx_stop(g);
	/* coil-get's requests, then curl's (one connection each) */
	assert_int_equal(ngx_log(g, &conns, NULL), GET_FILES * (curl ? 2 : 1));
	assert_int_equal(conns, 1 + (curl ? GET_FILES : 0));
}

static void test_client_h2_coil_get_prior_knowledge(void **state)
{
	struct ngx g;

	(void)state;
	ngx_start_listen(&g, locations, " http2");
	coil_get_run(&g, "http", "--http2-prior-knowledge");
	ngx_clean(&g);
}

static void test_client_h2_coil_get_tls(void **state)
{
	struct ngx g;

	(void)state;
	start_tls(&g, " ssl http2");
	coil_get_run(&g, "https", "--http2");
	ngx_clean(&g);
}

/* pause after some body callbacks, resume from a timer: over HTTP/2 the
 * connection goes on for the other stream meanwhile, the paused one's
 * bytes are held and come after the resume, in order */
static void test_client_h2_pause_resume_in_order(void **state)
{
	struct coil_http_client_opts o = {.http_version =
						  COIL_HTTP_VERSION_2_PRIOR};
	struct coil_http_req_opts po = {.on_body = cl_bp_body};
	struct coil_http_req_opts so = {.on_body = cl_body};
	struct coil_http_client_stats st;
	struct ngx g;
	struct fx f;
	struct cl_bp b;
	struct res other;
	char url[128];
	size_t len;
	uint64_t want;
	int fds = tu_count_fds();

	(void)state;
	ngx_start_listen(&g, NULL, " http2");
	ngx_file(&g, "big", 3u << 20, 9);
	want = cl_file_hash(g.root, "big", &len);
	fx_open(&f, &o);
	memset(&b, 0, sizeof(b));
	b.loop = f.loop;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/big", (unsigned)g.port);
	cl_start(&f, url, &po, &b.x); /* b.x is first in b: data == &b */
	cl_start(&f, url, &so, &other);
	CL_RUN_UNTIL(f.loop, b.x.done && other.done && !coil_op_busy(&b.tmr),
		     30000);
	assert_int_equal(b.x.res, 200);
	assert_int_equal(b.x.got, len);
	assert_true(b.x.hash == want);
	assert_int_equal(b.while_paused, 0);
	assert_true(b.pauses > 4);
	assert_int_equal(other.res, 200);
	assert_true(other.hash == want);
	coil_http_client_stats(f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	coil_http_req_free(b.x.req);
	coil_http_req_free(other.req);
	fx_close(&f);
	ngx_stop(&g);
	ngx_clean(&g);
	assert_int_equal(tu_count_fds(), fds);
}

/* the body and head limits, HEAD, 404 and a cancel end one stream each;
 * the connection carries the rest */
static void test_client_h2_limits_end_one_stream(void **state)
{
	struct coil_http_client_opts o = {.http_version =
						  COIL_HTTP_VERSION_2_PRIOR};
	struct coil_http_req_opts body_lim = {.max_body_bytes = 1000};
	struct coil_http_req_opts str_lim = {.max_body_bytes = 1000,
					     .on_body = cl_body};
	struct coil_http_req_opts head_lim = {.max_head_bytes = 20};
	struct coil_http_req_opts head = {.method = "HEAD"};
	struct coil_http_client_stats st;
	struct res x[7];
	struct ngx g;
	struct fx f;
	char url[128], miss[128], chunked[128];
	size_t len;
	int fds = tu_count_fds(), done;

	(void)state;
	/* /chunked/f: sub_filter drops the length */
	ngx_start_listen(&g,
			 "    location /chunked/ {\n"
			 "      rewrite ^/chunked/(.*)$ /$1 break;\n"
			 "      sub_filter_types *;\n"
			 "      sub_filter 'never-in-the-files' 'x';\n"
			 "    }\n",
			 " http2");
	ngx_file(&g, "f", 70000, 5);
	fx_open(&f, &o);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/f", (unsigned)g.port);
	snprintf(miss, sizeof(miss), "http://127.0.0.1:%u/missing",
		 (unsigned)g.port);
	snprintf(chunked, sizeof(chunked), "http://127.0.0.1:%u/chunked/f",
		 (unsigned)g.port);
	cl_start(&f, url, &body_lim, &x[0]);
	cl_start(&f, chunked, &str_lim, &x[1]);
	cl_start(&f, url, &head_lim, &x[2]);
	cl_start(&f, url, &head, &x[3]);
	cl_start(&f, miss, NULL, &x[4]);
	cl_start(&f, url, NULL, &x[5]);
	cl_start(&f, url, NULL, &x[6]);
	assert_int_equal(coil_http_req_cancel(x[6].req), 0);
	do {
		done = 0;
		for (int i = 0; i < 7; i++)
			done += x[i].done;
		cl_turn(f.loop);
	} while (done < 7 && tu_mono_ns() < x[0].t_start + 30 * SEC);
	assert_int_equal(x[0].res, COIL_ELIMIT);
	assert_non_null(strstr(x[0].err, "Content-Length 70000"));
	assert_int_equal(x[1].res, COIL_ELIMIT);
	assert_true(x[1].got <= 1000);
	assert_int_equal(x[2].res, COIL_ELIMIT);
	assert_int_equal(x[3].res, 200);
	assert_non_null(coil_http_req_body(x[3].req, &len));
	assert_int_equal(len, 0);
	assert_non_null(coil_http_req_header(x[3].req, "content-length", &len));
	assert_int_equal(x[4].res, 404);
	assert_int_equal(x[5].res, 200);
	assert_non_null(coil_http_req_body(x[5].req, &len));
	assert_int_equal(len, 70000);
	assert_int_equal(x[6].res, -ECANCELED);
	coil_http_client_stats(f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	for (int i = 0; i < 7; i++)
		coil_http_req_free(x[i].req);
	fx_close(&f);
	ngx_stop(&g);
	ngx_clean(&g);
	assert_int_equal(tu_count_fds(), fds);
}

/* http_version out of range */
static void test_client_h2_bad_version(void **state)
{
	struct coil_http_client_opts o = {.http_version = 4};
	struct coil_http_client *c = NULL;
	struct coil_loop *loop = tu_loop(NULL);

	(void)state;
	assert_int_equal(coil_http_client_new(&c, loop, &o), -EINVAL);
	assert_null(c);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_h2_bad_version),
		cmocka_unit_test_teardown(
			test_client_h2_prior_knowledge_one_connection,
			ngx_teardown),
		cmocka_unit_test_teardown(
			test_client_h2_tls_alpn_one_connection, ngx_teardown),
		cmocka_unit_test_teardown(
			test_client_h2_tls_server_picks_http11, ngx_teardown),
		cmocka_unit_test_teardown(
			test_client_h2_coil_get_prior_knowledge, ngx_teardown),
		cmocka_unit_test_teardown(test_client_h2_coil_get_tls,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_client_h2_pause_resume_in_order,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_client_h2_limits_end_one_stream,
					  ngx_teardown),
	};
	return cmocka_run_group_tests_name("client.h2", tests, make_certs,
					   NULL);
}
