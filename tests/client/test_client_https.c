/*
 * tests/client/test_client_https.c - the client over TLS against nginx
 * (nginx.h, `listen ... ssl`) with the TLS tests' certificates (made at
 * run time by tests/tls/mkcerts.sh with the openssl command): keep-alive
 * reuse and the per-host limit counted in nginx's log, session
 * resumption on a new connection, a large streamed body, chunked, and the
 * handshake failures (unknown CA, wrong name) with their reasons; TLS 1.3
 * (nginx ssl_protocols TLSv1.3): the ticket kept by the per-host session
 * cache resumes the next connection, as nginx says; then coil-get with
 * --cacert, without it, with -k and with --tls-version. Skips (77) without
 * nginx or openssl.
 */
#include "cl.h"
#include "nginx.h"
#include "coil/tls.h"

#ifndef COIL_TLS_MKCERTS
#error "COIL_TLS_MKCERTS must name tests/tls/mkcerts.sh"
#endif

static char *certs; /* the certificates' temp dir */
/* more of nginx's server block for the next env_open(), then cleared */
static const char *env_extra = "";

static int make_certs(void **state)
{
	(void)state;
	certs = tu_tmpdir();
	tu_mkcerts(COIL_TLS_MKCERTS, certs);
	return 0;
}

static int drop_certs(void **state)
{
	(void)state;
	ngx_rm(certs);
	free(certs);
	return 0;
}

struct env {
	struct ngx g;
	struct fx f;
	struct coil_tls_config *tls;
	int fds;
	char url[256];
};

/* nginx over TLS with certificate @crt of the test set */
static void env_open(struct env *e, const char *crt,
		     const struct coil_http_client_opts *o, unsigned tflags)
{
	struct coil_http_client_opts co = {0};
	struct coil_tls_config_opts to = {.flags = tflags};
	char conf[2048], ca[600], dir[600], err[256];

	e->fds = tu_count_fds();
	e->tls = NULL;
	snprintf(conf, sizeof(conf),
		 "%s"
		 "    ssl_certificate %s/%s.crt;\n"
		 "    ssl_certificate_key %s/server.key;\n"
		 "    location /chunked/ {\n"
		 "      rewrite ^/chunked/(.*)$ /$1 break;\n"
		 "      sub_filter_types *;\n"
		 "      sub_filter 'never-in-the-files' 'x';\n"
		 "    }\n",
		 env_extra, certs, crt, certs);
	env_extra = "";
	ngx_start_listen(&e->g, conf, " ssl");
	snprintf(dir, sizeof(dir), "%s/files", e->g.root);
	if (mkdir(dir, 0755))
		abort();
	ngx_file(&e->g, "files/small", 1000, 1);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	if (!(tflags & COIL_TLS_INSECURE))
		to.ca_file = ca;
	if (tflags != ~0u) {
		assert_int_equal(
			coil_tls_config_new(&e->tls, &to, err, sizeof(err)), 0);
	}
	if (o)
		co = *o;
	co.tls = e->tls;
	fx_open(&e->f, &co);
}

static const char *url(struct env *e, const char *host, const char *path)
{
	snprintf(e->url, sizeof(e->url), "https://%s:%u%s", host,
		 (unsigned)e->g.port, path);
	return e->url;
}

static int env_close(struct env *e, int *nconns)
{
	int lines;
	fx_close(&e->f);
	assert_int_equal(coil_tls_config_free(e->tls), 0);
	ngx_stop(&e->g);
	lines = ngx_log(&e->g, nconns, NULL);
	ngx_clean(&e->g);
	assert_int_equal(tu_count_fds(), e->fds);
	return lines;
}

/* 20 requests on one connection; then, the idle connection gone, the
 * next one resumes the session */
static void test_https_reuse_and_resume(void **state)
{
	struct coil_http_client_opts co = {.idle_timeout_ns = 50 * MS};
	struct coil_http_client_stats st;
	struct env e;
	struct res x;
	int conns;
	size_t len;

	env_open(&e, "server", &co, 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(cl_get(&e.f,
					url(&e, "localhost", "/files/small"),
					NULL, &x),
				 200);
		coil_http_req_body(x.req, &len);
		assert_int_equal(len, 1000);
		cl_free(&x);
	}
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.tls_handshakes, 1);
	assert_int_equal(st.tls_resumed, 0);
	CL_RUN_UNTIL(e.f.loop,
		     (coil_http_client_stats(e.f.c, &st), st.conns == 0), 5000);
	assert_int_equal(st.conns, 0);
	assert_int_equal(
		cl_get(&e.f, url(&e, "localhost", "/files/small"), NULL, &x),
		200);
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	print_message("handshakes %llu, resumed %llu\n",
		      (unsigned long long)st.tls_handshakes,
		      (unsigned long long)st.tls_resumed);
	assert_int_equal(st.tls_handshakes, 2);
	assert_int_equal(st.tls_resumed, 1);
	assert_int_equal(env_close(&e, &conns), 21);
	assert_int_equal(conns, 2);
}

/* nginx's word for the TLS of @x's connection: "$ssl_protocol
 * $ssl_session_reused" (add_header X-TLS) */
static void expect_tls(const struct res *x, const char *want)
{
	size_t len;
	const char *v = coil_http_req_header(x->req, "X-TLS", &len);
	assert_non_null(v);
	print_message("X-TLS: %.*s\n", (int)len, v);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(v, want, len);
}

/* nginx with ssl_protocols TLSv1.3: the per-host session cache keeps the
 * TLS 1.3 ticket that comes after the handshake, and the next connection
 * resumes with it, as nginx itself says ($ssl_session_reused) */
static void test_https_tls13_resume(void **state)
{
	struct coil_http_client_opts co = {.idle_timeout_ns = 50 * MS};
	struct coil_http_client_stats st;
	struct env e;
	struct res x;
	int conns;

	if (!tu_have_tls13())
		skip();
	env_extra =
		"    ssl_protocols TLSv1.3;\n"
		"    add_header X-TLS \"$ssl_protocol $ssl_session_reused\" "
		"always;\n";
	env_open(&e, "server", &co, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cl_get(&e.f,
					url(&e, "localhost", "/files/small"),
					NULL, &x),
				 200);
		/* the first connection's handshake is a full one */
		expect_tls(&x, i == 0 ? "TLSv1.3 ." : "TLSv1.3 r");
		cl_free(&x);
		/* the idle connection goes: the next request reconnects */
		CL_RUN_UNTIL(
			e.f.loop,
			(coil_http_client_stats(e.f.c, &st), st.conns == 0),
			5000);
		assert_int_equal(st.conns, 0);
	}
	coil_http_client_stats(e.f.c, &st);
	print_message("handshakes %llu, resumed %llu\n",
		      (unsigned long long)st.tls_handshakes,
		      (unsigned long long)st.tls_resumed);
	assert_int_equal(st.tls_handshakes, 3);
	assert_int_equal(st.tls_resumed, 2);
	assert_int_equal(env_close(&e, &conns), 3);
	assert_int_equal(conns, 3);
}

static int all_done(const struct res *x, int n)
{
	for (int i = 0; i < n; i++) {
		if (!x[i].done)
			return 0;
	}
	return 1;
}

static void test_https_per_host_limit_and_bodies(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 4};
	struct coil_http_req_opts str = {.on_body = cl_body};
	static struct res x[60];
	struct env e;
	struct res y;
	int conns;
	char path[1024];
	FILE *f;
	char buf[65536];
	size_t n, len = 0;
	uint64_t want = CL_FNV0;

	env_open(&e, "server", &co, 0);
	ngx_file(&e.g, "big", 16 << 20, 77);
	snprintf(path, sizeof(path), "%s/big", e.g.root);
	f = fopen(path, "rb");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		want = cl_fnv(want, buf, n);
		len += n;
	}
	fclose(f);
	for (int i = 0; i < 60; i++)
		cl_start(&e.f, url(&e, "127.0.0.1", "/files/small"), NULL,
			 &x[i]);
	CL_RUN_UNTIL(e.f.loop, all_done(x, 60), 20000);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(x[i].res, 200);
		cl_free(&x[i]);
	}
	/* 16 MiB streamed, and through sub_filter (chunked) */
	assert_int_equal(cl_get(&e.f, url(&e, "127.0.0.1", "/big"), &str, &y),
			 200);
	assert_int_equal(y.got, len);
	assert_true(y.hash == want);
	cl_free(&y);
	assert_int_equal(
		cl_get(&e.f, url(&e, "127.0.0.1", "/chunked/big"), &str, &y),
		200);
	assert_non_null(coil_http_req_header(y.req, "transfer-encoding", NULL));
	assert_true(y.hash == want);
	cl_free(&y);
	assert_int_equal(env_close(&e, &conns), 62);
	print_message("nginx: 62 requests on %d TLS connections\n", conns);
	assert_int_equal(conns, 4);
}

static void test_https_handshake_failures(void **state)
{
	struct coil_http_client_stats st;
	struct env e;
	struct res x;

	/* a name the certificate does not have */
	env_open(&e, "wrong", NULL, 0);
	assert_int_equal(
		cl_get(&e.f, url(&e, "localhost", "/files/small"), NULL, &x),
		COIL_ETLS);
	print_message("wrong name: %s\n", x.err);
	assert_non_null(strstr(x.err, "TLS handshake with localhost port"));
	assert_non_null(strstr(x.err, "localhost"));
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.connect_errors, 1);
	env_close(&e, NULL);

	/* the client's default: the system CA bundle, which does not know
	 * the test CA */
	env_open(&e, "server", NULL, ~0u);
	assert_int_equal(
		cl_get(&e.f, url(&e, "localhost", "/files/small"), NULL, &x),
		COIL_ETLS);
	print_message("unknown CA: %s\n", x.err);
	cl_free(&x);
	env_close(&e, NULL);

	/* insecure: anything goes */
	env_open(&e, "wrong", NULL, COIL_TLS_INSECURE);
	assert_int_equal(
		cl_get(&e.f, url(&e, "localhost", "/files/small"), NULL, &x),
		200);
	cl_free(&x);
	env_close(&e, NULL);
}

#ifdef COIL_GET_BIN
static int run_get(const char *const *args, char *out, size_t cap)
{
	char cmd[4096];
	size_t n = 0;
	FILE *p;
	int st;

	n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s", COIL_GET_BIN);
	for (; *args; args++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *args);
	snprintf(cmd + n, sizeof(cmd) - n, " 2>&1");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_https_coil_get(void **state)
{
	struct env e;
	char ca[600], out[8192];

	env_open(&e, "server", NULL, 0);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	{
		const char *a[] = {"--json", "--cacert", ca,
				   url(&e, "localhost", "/files/small"), NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "\"status\":200,\"bytes\":1000"));
	}
	{
		const char *a[] = {"--json",
				   url(&e, "localhost", "/files/small"), NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 1);
		print_message("%s", out);
		assert_non_null(strstr(out, "TLS handshake with localhost"));
	}
	{
		const char *a[] = {"-q", "-k",
				   url(&e, "127.0.0.1", "/files/small"), NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 0);
	}
	{
		const char *a[] = {"--cacert", "/nonexistent.pem",
				   url(&e, "127.0.0.1", "/"), NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 2);
		assert_non_null(strstr(out, "coil-get: TLS set-up failed: "));
	}
	{
		const char *a[] = {"-q",
				   "-k",
				   "--tls-version",
				   "1.1",
				   url(&e, "127.0.0.1", "/"),
				   NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 2);
		assert_non_null(strstr(out, "--tls-version"));
	}
	{
		const char *a[] = {"-q",
				   "-k",
				   "--tls-version",
				   "1.2",
				   url(&e, "127.0.0.1", "/files/small"),
				   NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 0);
	}
	if (tu_have_tls13()) { /* this nginx speaks up to TLS 1.2 */
		const char *a[] = {"-k", "--tls-version", "1.3",
				   url(&e, "127.0.0.1", "/files/small"), NULL};
		assert_int_equal(run_get(a, out, sizeof(out)), 1);
		print_message("%s", out);
	}
	env_close(&e, NULL);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_https_tls13_resume,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_https_reuse_and_resume,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_https_per_host_limit_and_bodies,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_https_handshake_failures,
					  ngx_teardown),
#ifdef COIL_GET_BIN
		cmocka_unit_test_teardown(test_https_coil_get, ngx_teardown),
#endif
	};
	if (!ngx_bin()) {
		fprintf(stderr, "skip: nginx is not installed\n");
		return 77;
	}
	return cmocka_run_group_tests_name("client.https", tests, make_certs,
					   drop_certs);
}
