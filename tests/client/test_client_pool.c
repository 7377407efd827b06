/*
 * tests/client/test_client_pool.c - the client's connection pool against
 * the test server (fsrv.h), which counts connections itself: keep-alive
 * reuse, the per-host and global limits never exceeded (the server's own
 * peak of concurrent connections), reuse of the most recently used
 * connection, max idle per host, eviction of idle connections for another
 * host, host names compared without case, a stale reuse resent on a new
 * connection at the per-host limit.
 */
#include "fenv.h"

static const char *url_on(struct env *e, const char *host, const char *path)
{
	snprintf(e->url, sizeof(e->url), "http://%s:%u%s", host,
		 (unsigned)e->s.port, path);
	return e->url;
}

static const char *url(struct env *e, const char *path)
{
	return url_on(e, "127.0.0.1", path);
}

static int all_done(const struct res *x, int n)
{
	for (int i = 0; i < n; i++) {
		if (!x[i].done)
			return 0;
	}
	return 1;
}

/* Start @n requests at once, run until all are done; each must be 200. */
static void burst(struct env *e, const char *const *urls, int n, struct res *x)
{
	for (int i = 0; i < n; i++)
		cl_start(&e->f, urls[i], NULL, &x[i]);
	CL_RUN_UNTIL(e->f.loop, all_done(x, n), 20000);
	for (int i = 0; i < n; i++) {
		if (x[i].res != 200)
			fail_msg("request %d: %d (%s)", i, x[i].res, x[i].err);
		cl_free(&x[i]);
	}
}

static void test_pool_keepalive_reuse(void **state)
{
	struct coil_http_client_stats st;
	struct env e;
	struct res x;
	int accepted, requests;

	env_open(&e, NULL);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(cl_get(&e.f, url(&e, "/conn"), NULL, &x), 200);
		assert_int_equal(x.info.reused, i > 0);
		cl_free(&x);
	}
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.exchanges, 20);
	assert_int_equal(st.reused, 19);
	fsrv_get(&e.s, NULL, &accepted, &requests);
	assert_int_equal(accepted, 1);
	assert_int_equal(requests, 20);
	env_close(&e);
}

/* 40 slow requests at once to one host with a limit of 4: the server
 * never sees more than 4 connections, and sees exactly 4 */
static void test_pool_per_host_limit(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 4};
	struct coil_http_client_stats st;
	const char *urls[40];
	struct res x[40];
	struct env e;
	int peak, accepted;

	env_open(&e, &co);
	for (int i = 0; i < 40; i++)
		urls[i] = strdup(url(&e, "/slow?ms=20"));
	burst(&e, urls, 40, x);
	fsrv_get(&e.s, &peak, &accepted, NULL);
	coil_http_client_stats(e.f.c, &st);
	print_message("server: peak %d connections, %d accepted; client "
		      "peak %u\n",
		      peak, accepted, st.peak_conns_per_host);
	assert_int_equal(peak, 4);
	assert_int_equal(accepted, 4);
	assert_int_equal(st.peak_conns_per_host, 4);
	assert_int_equal(st.reused, 36);
	for (int i = 0; i < 40; i++)
		free((void *)urls[i]);
	env_close(&e);
}

/* two host keys (127.0.0.1 and localhost: one server), 2 per host, 3 in
 * all: the server never sees more than 3; localhost goes through the
 * resolver */
static void test_pool_global_limit(void **state)
{
	struct coil_http_client_opts co = {.max_conns = 3,
					   .max_conns_per_host = 2};
	struct coil_http_client_stats st;
	const char *urls[30];
	struct res x[30];
	struct env e;
	int peak;

	env_open(&e, &co);
	for (int i = 0; i < 30; i++)
		urls[i] = strdup(url_on(&e, i % 2 ? "localhost" : "127.0.0.1",
					"/slow?ms=20"));
	burst(&e, urls, 30, x);
	fsrv_get(&e.s, &peak, NULL, NULL);
	coil_http_client_stats(e.f.c, &st);
	print_message("server peak %d, client peak %u (per host %u)\n", peak,
		      st.peak_conns, st.peak_conns_per_host);
	assert_true(peak <= 3);
	assert_int_equal(st.peak_conns, 3);
	assert_int_equal(st.peak_conns_per_host, 2);
	for (int i = 0; i < 30; i++)
		free((void *)urls[i]);
	env_close(&e);
}

/* the global limit is full of idle connections to one host: a request
 * for another host closes one of them and goes ahead */
static void test_pool_evicts_idle_for_other_host(void **state)
{
	struct coil_http_client_opts co = {.max_conns = 2,
					   .max_conns_per_host = 2};
	struct coil_http_client_stats st;
	const char *a[2], *b[2];
	struct res x[2];
	struct env e;

	env_open(&e, &co);
	a[0] = a[1] = strdup(url(&e, "/slow?ms=10"));
	b[0] = b[1] = strdup(url_on(&e, "localhost", "/slow?ms=10"));
	burst(&e, a, 2, x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.idle, 2);
	burst(&e, b, 2, x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.idle_closed, 2);
	assert_int_equal(st.peak_conns, 2);
	assert_int_equal(st.conns_opened, 4);
	free((void *)a[0]);
	free((void *)b[0]);
	env_close(&e);
}

/* idle connections are reused most recently used first: after a burst
 * that opened 3, sequential requests all go to the one freed last */
static void test_pool_reuses_most_recent(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 3};
	const char *urls[3];
	struct res x[3], y;
	struct env e;
	size_t len;
	int first = -1;

	env_open(&e, &co);
	urls[0] = urls[1] = urls[2] = strdup(url(&e, "/conn?ms=10"));
	burst(&e, urls, 3, x);
	for (int i = 0; i < 6; i++) {
		int cid, nth;
		char body[32] = {0};
		assert_int_equal(cl_get(&e.f, url(&e, "/conn"), NULL, &y), 200);
		const char *b = coil_http_req_body(y.req, &len);
		assert_true(len < sizeof(body));
		memcpy(body, b, len);
		assert_int_equal(sscanf(body, "%d %d", &cid, &nth), 2);
		if (first < 0)
			first = cid;
		assert_int_equal(cid, first);
		assert_int_equal(nth, 2 + i);
		cl_free(&y);
	}
	free((void *)urls[0]);
	env_close(&e);
}

static void test_pool_max_idle_per_host(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 4,
					   .max_idle_per_host = 1};
	struct coil_http_client_stats st;
	const char *urls[4];
	struct res x[4];
	struct env e;

	env_open(&e, &co);
	urls[0] = urls[1] = urls[2] = urls[3] = strdup(url(&e, "/slow?ms=20"));
	burst(&e, urls, 4, x);
	CL_RUN_UNTIL(e.f.loop,
		     (coil_http_client_stats(e.f.c, &st), st.conns == 1), 5000);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.idle, 1);
	assert_int_equal(st.idle_closed, 3);
	free((void *)urls[0]);
	env_close(&e);
}

static void test_pool_host_case_insensitive(void **state)
{
	struct coil_http_client_stats st;
	struct env e;
	struct res x;

	env_open(&e, NULL);
	assert_int_equal(cl_get(&e.f, url_on(&e, "localhost", "/ok"), NULL, &x),
			 200);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url_on(&e, "LocalHost", "/ok"), NULL, &x),
			 200);
	assert_int_equal(x.info.reused, 1);
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	env_close(&e);
}

/* at the per-host limit (1), a request resent after a stale reuse (RFC
 * 9112 §9.3.1) waits for the dead connection to close and gets a new
 * one: the limit holds and the request succeeds */
static void test_pool_reuse_retry_at_host_limit(void **state)
{
	struct coil_http_client_opts co = {.max_conns_per_host = 1};
	struct coil_http_client_stats st;
	struct env e;
	struct res x;
	int accepted;

	env_open(&e, &co);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			cl_get(&e.f, url(&e, "/once-per-conn"), NULL, &x), 200);
		assert_int_equal(x.info.reuse_retries, i > 0);
		cl_free(&x);
	}
	coil_http_client_stats(e.f.c, &st);
	fsrv_get(&e.s, NULL, &accepted, NULL);
	assert_int_equal(st.reuse_retries, 2);
	assert_int_equal(st.conns_opened, 3);
	assert_int_equal(st.peak_conns_per_host, 1);
	assert_int_equal(accepted, 3);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_keepalive_reuse),
		cmocka_unit_test(test_pool_per_host_limit),
		cmocka_unit_test(test_pool_global_limit),
		cmocka_unit_test(test_pool_evicts_idle_for_other_host),
		cmocka_unit_test(test_pool_reuses_most_recent),
		cmocka_unit_test(test_pool_max_idle_per_host),
		cmocka_unit_test(test_pool_host_case_insensitive),
		cmocka_unit_test(test_pool_reuse_retry_at_host_limit),
	};
	return cmocka_run_group_tests_name("client.pool", tests, NULL, NULL);
}
