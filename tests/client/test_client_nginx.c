/*
 * tests/client/test_client_nginx.c - the client against a real peer: an
 * nginx of the test's own on 127.0.0.1 (nginx.h). Keep-alive reuse and
 * the per-host limit are checked at the server, from nginx's access log
 * ($connection, $connection_requests); chunked responses (sub_filter
 * drops the length), HEAD, 204, 304, redirects (absolute and relative
 * Locations) and large bodies (hashed against the files on disk).
 * Skips (77) without nginx.
 */
#include "cl.h"
#include "nginx.h"

struct env {
	struct ngx g;
	struct fx f;
	int fds;
	char url[256];
	char cfg[4096];
};

static void env_open(struct env *e, const struct coil_http_client_opts *o)
{
	char dir[600];
	e->fds = tu_count_fds();
	/* /chunked/X serves X through sub_filter, which drops the length:
	 * nginx answers chunked */
	snprintf(e->cfg, sizeof(e->cfg), "%s",
		 "    location /chunked/ {\n"
		 "      rewrite ^/chunked/(.*)$ /$1 break;\n"
		 "      sub_filter_types *;\n"
		 "      sub_filter 'never-in-the-files' 'x';\n"
		 "    }\n"
		 "    location = /empty { return 204; }\n"
		 "    location = /abs { return 302 /files/small; }\n"
		 "    location = /rel { absolute_redirect off; "
		 "return 301 /abs; }\n");
	ngx_start(&e->g, e->cfg);
	snprintf(dir, sizeof(dir), "%s/files", e->g.root);
	if (mkdir(dir, 0755))
		abort();
	ngx_file(&e->g, "files/small", 1000, 1);
	fx_open(&e->f, o);
}

static const char *url(struct env *e, const char *path)
{
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u%s",
		 (unsigned)e->g.port, path);
	return e->url;
}

/* Shut the client and nginx down; the log's line count. */
static int env_close(struct env *e, int *nconns, int *max_reqs)
{
	int lines;
	fx_close(&e->f);
	ngx_stop(&e->g);
	lines = ngx_log(&e->g, nconns, max_reqs);
	ngx_clean(&e->g);
	assert_int_equal(tu_count_fds(), e->fds);
	return lines;
}

static void test_nginx_keepalive_reuse(void **state)
{
	struct env e;
	struct res x;
	int conns, maxr;

	env_open(&e, NULL);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(
			cl_get(&e.f, url(&e, "/files/small"), NULL, &x), 200);
		cl_free(&x);
	}
	assert_int_equal(env_close(&e, &conns, &maxr), 20);
	print_message("nginx: 20 requests on %d connection(s), up to %d "
		      "requests each\n",
		      conns, maxr);
	assert_int_equal(conns, 1);
	assert_int_equal(maxr, 20);
}

static int all_done(const struct res *x, int n)
{
	for (int i = 0; i < n; i++) {
		if (!x[i].done)
			return 0;
	}
	return 1;
}

/* 120 requests at once with a per-host limit of 6: nginx sees exactly 6
 * connections (none closes during the run, so 6 distinct connections
 * means never more than 6 at once), and every body is right */
static void test_nginx_per_host_limit(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 6};
	struct coil_http_req_opts o = {.on_body = cl_body};
	static struct res x[120];
	char names[120][32];
	uint64_t want[20];
	struct env e;
	int conns, maxr;
	size_t len;

	env_open(&e, &co);
	for (int i = 0; i < 20; i++) {
		char n[32];
		snprintf(n, sizeof(n), "files/f%d", i);
		ngx_file(&e.g, n, 100 + (size_t)i * 997, (unsigned)i + 7);
		want[i] = cl_file_hash(e.g.root, n, &len);
	}
	for (int i = 0; i < 120; i++) {
		snprintf(names[i], sizeof(names[i]), "/files/f%d", i % 20);
		cl_start(&e.f, url(&e, names[i]), &o, &x[i]);
	}
	CL_RUN_UNTIL(e.f.loop, all_done(x, 120), 20000);
	for (int i = 0; i < 120; i++) {
		assert_int_equal(x[i].res, 200);
		assert_true(x[i].hash == want[i % 20]);
		cl_free(&x[i]);
	}
	assert_int_equal(env_close(&e, &conns, &maxr), 120);
	print_message("nginx: 120 requests on %d connections\n", conns);
	assert_int_equal(conns, 6);
}

static void test_nginx_chunked(void **state)
{
	struct coil_http_req_opts o = {.on_body = cl_body};
	struct env e;
	struct res x;
	size_t len, vlen;
	uint64_t want;
	const char *te;

	env_open(&e, NULL);
	ngx_file(&e.g, "big", 3 << 20, 99);
	want = cl_file_hash(e.g.root, "big", &len);
	assert_int_equal(cl_get(&e.f, url(&e, "/chunked/big"), &o, &x), 200);
	te = coil_http_req_header(x.req, "Transfer-Encoding", &vlen);
	assert_non_null(te);
	assert_int_equal(vlen, 7);
	assert_memory_equal(te, "chunked", 7);
	assert_null(coil_http_req_header(x.req, "content-length", NULL));
	assert_int_equal(x.got, len);
	assert_true(x.hash == want);
	cl_free(&x);
	/* buffered, and the connection carries on after it */
	assert_int_equal(
		cl_get(&e.f, url(&e, "/chunked/files/small"), NULL, &x), 200);
	coil_http_req_body(x.req, &vlen);
	assert_int_equal(vlen, 1000);
	assert_int_equal(x.info.reused, 1);
	cl_free(&x);
	env_close(&e, NULL, NULL);
}

static void test_nginx_head_204_304(void **state)
{
	struct coil_http_req_opts head = {.method = "HEAD"};
	struct coil_http_header inm = {"If-None-Match", 13, NULL, 0};
	struct coil_http_req_opts cond = {.headers = &inm, .nheaders = 1};
	struct env e;
	struct res x;
	size_t len;
	const char *cl, *etag;
	char tag[128];
	int conns;

	env_open(&e, NULL);
	ngx_file(&e.g, "big", 5 << 20, 3);
	assert_int_equal(cl_get(&e.f, url(&e, "/big"), &head, &x), 200);
	cl = coil_http_req_header(x.req, "content-length", &len);
	assert_non_null(cl);
	assert_int_equal(strtoul(cl, NULL, 10), 5 << 20);
	coil_http_req_body(x.req, &len);
	assert_int_equal(len, 0);
	etag = coil_http_req_header(x.req, "ETag", &len);
	assert_non_null(etag);
	assert_true(len < sizeof(tag));
	memcpy(tag, etag, len);
	inm.value = tag;
	inm.value_len = len;
	cl_free(&x);

	assert_int_equal(cl_get(&e.f, url(&e, "/empty"), NULL, &x), 204);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url(&e, "/big"), &cond, &x), 304);
	coil_http_req_body(x.req, &len);
	assert_int_equal(len, 0);
	assert_int_equal(x.info.reused, 1);
	cl_free(&x);
	assert_int_equal(env_close(&e, &conns, NULL), 3);
	assert_int_equal(conns, 1);
}

static void test_nginx_redirects(void **state)
{
	struct coil_http_req_opts o = {.max_redirects = 5};
	struct env e;
	struct res x;
	size_t len;

	env_open(&e, NULL);
	/* /rel -> "/abs" (relative) -> "http://127.0.0.1:port/files/small" */
	assert_int_equal(cl_get(&e.f, url(&e, "/rel"), &o, &x), 200);
	assert_int_equal(x.info.redirects, 2);
	assert_string_equal(coil_url_target(coil_http_req_url(x.req)),
			    "/files/small");
	coil_http_req_body(x.req, &len);
	assert_int_equal(len, 1000);
	cl_free(&x);
	o.max_redirects = 1;
	assert_int_equal(cl_get(&e.f, url(&e, "/rel"), &o, &x), -ELOOP);
	cl_free(&x);
	env_close(&e, NULL, NULL);
}

static void test_nginx_large_bodies(void **state)
{
	struct coil_http_req_opts o = {.on_body = cl_body};
	struct coil_http_req_opts b = {.max_body_bytes = 16 << 20};
	struct env e;
	struct res x;
	size_t len, blen;
	uint64_t want;
	const void *body;

	env_open(&e, NULL);
	ngx_file(&e.g, "huge", 32 << 20, 5);
	ngx_file(&e.g, "mid", 8 << 20, 6);
	want = cl_file_hash(e.g.root, "huge", &len);
	assert_int_equal(cl_get(&e.f, url(&e, "/huge"), &o, &x), 200);
	assert_int_equal(x.got, len);
	assert_true(x.hash == want);
	print_message("32 MiB streamed in %d callbacks, %.0f ms\n", x.bodies,
		      cl_ms(&x));
	cl_free(&x);
	want = cl_file_hash(e.g.root, "mid", &len);
	assert_int_equal(cl_get(&e.f, url(&e, "/mid"), &b, &x), 200);
	body = coil_http_req_body(x.req, &blen);
	assert_int_equal(blen, len);
	assert_true(cl_fnv(CL_FNV0, body, blen) == want);
	cl_free(&x);
	/* over the buffered limit */
	b.max_body_bytes = 1 << 20;
	assert_int_equal(cl_get(&e.f, url(&e, "/mid"), &b, &x), COIL_ELIMIT);
	cl_free(&x);
	env_close(&e, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_nginx_keepalive_reuse,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_nginx_per_host_limit,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_nginx_chunked, ngx_teardown),
		cmocka_unit_test_teardown(test_nginx_head_204_304,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_nginx_redirects, ngx_teardown),
		cmocka_unit_test_teardown(test_nginx_large_bodies,
					  ngx_teardown),
	};
	if (!ngx_bin()) {
		fprintf(stderr, "skip: nginx is not installed\n");
		return 77;
	}
	return cmocka_run_group_tests_name("client.nginx", tests, NULL, NULL);
}
