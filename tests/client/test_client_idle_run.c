/*
 * tests/client/test_client_idle_run.c - the client's idle keep-alive
 * connections and coil_loop_run(COIL_RUN_DEFAULT), as include/coil/
 * http_client.h documents them (issue 15): an idle connection keeps a
 * read and the client's expiry timer in flight, so the run goes on until
 * it expires; coil_http_client_shutdown() from the last done callback
 * ends the run at once; coil_loop_run_until() returns at the result with
 * the connection still kept for reuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "coil/http.h"
#include "fsrv.h"
#include "testutil.h"

#define MS 1000000ull

struct run {
	struct coil_loop *loop;
	struct coil_http_client *c;
	struct fsrv s;
	char url[96];
	int done, status, shutdown_in_done;
};

static void done_cb(struct coil_http_req *req, int res)
{
	struct run *r = coil_http_req_data(req);
	r->done = 1;
	r->status = res;
	coil_http_req_free(req);
	if (r->shutdown_in_done)
		coil_http_client_shutdown(r->c, NULL);
}

static void start(struct run *r, uint64_t idle_timeout_ns, int shut)
{
	struct coil_http_client_opts co = {.idle_timeout_ns = idle_timeout_ns};
	struct coil_http_req_opts o = {0};
	struct coil_http_req *req;

	memset(r, 0, sizeof(*r));
	fsrv_start(&r->s);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%u/ok?n=5",
		 r->s.port);
	r->loop = tu_loop(NULL);
	r->shutdown_in_done = shut;
	assert_int_equal(coil_http_client_new(&r->c, r->loop, &co), 0);
	o.url = r->url;
	o.done = done_cb;
	o.data = r;
	o.timeout_ns = 10000 * MS;
	assert_int_equal(coil_http_request(r->c, &o, &req), 0);
}

static void finish(struct run *r)
{
	if (!r->shutdown_in_done) {
		assert_int_equal(coil_http_client_shutdown(r->c, NULL), 0);
		assert_int_equal(coil_loop_run(r->loop, COIL_RUN_DEFAULT), 0);
	}
	assert_int_equal(coil_http_client_free(r->c), 0);
	coil_loop_free(r->loop);
	fsrv_stop(&r->s);
}

/* Without the shutdown call the run lasts until the idle connection
 * expires (idle_timeout_ns, here 600 ms): an idle socket is in flight. */
static void test_client_idle_conn_holds_run_until_expiry(void **state)
{
	struct run r;
	struct coil_http_client_stats st;
	uint64_t t0, ms;

	start(&r, 600 * MS, 0);
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(r.loop, COIL_RUN_DEFAULT), 0);
	ms = (tu_mono_ns() - t0) / MS;
	assert_int_equal(r.done, 1);
	assert_int_equal(r.status, 200);
	coil_http_client_stats(r.c, &st);
	assert_int_equal(st.idle_closed, 1);
	if (ms < 550)
		fail_msg("the run ended after %llu ms, before the idle "
			 "connection expired",
			 (unsigned long long)ms);
	finish(&r);
}

/* coil_http_client_shutdown() from the last done callback: the run ends
 * with the request, long before the 30 s idle timeout. */
static void test_client_shutdown_in_done_ends_run(void **state)
{
	struct run r;
	uint64_t t0, ms;

	start(&r, 0 /* 30 s */, 1);
	t0 = tu_mono_ns();
	assert_int_equal(coil_loop_run(r.loop, COIL_RUN_DEFAULT), 0);
	ms = (tu_mono_ns() - t0) / MS;
	assert_int_equal(r.done, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(coil_loop_inflight(r.loop), 0);
	if (ms > 10000)
		fail_msg("the run took %llu ms", (unsigned long long)ms);
	finish(&r);
}

/* coil_loop_run_until(): back at the result, the connection kept idle
 * for the next request. */
static void test_client_run_until_keeps_idle_conn(void **state)
{
	struct run r;
	struct coil_http_client_stats st;

	start(&r, 0, 0);
	assert_int_equal(coil_loop_run_until(r.loop, &r.done, 10000 * MS), 0);
	assert_int_equal(r.status, 200);
	coil_http_client_stats(r.c, &st);
	assert_int_equal(st.idle, 1);
	assert_true(coil_loop_inflight(r.loop) > 0);
	finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_idle_conn_holds_run_until_expiry),
		cmocka_unit_test(test_client_shutdown_in_done_ends_run),
		cmocka_unit_test(test_client_run_until_keeps_idle_conn),
	};
	return cmocka_run_group_tests_name("client.idle_run", tests, NULL,
					   NULL);
}
