/*
 * tests/client/test_client_h2_peer.c - the HTTP client over HTTP/2 (h2c
 * by prior knowledge) against a scripted server of the tests' own
 * (h2srv.py, raw frames), which counts from the server's side: streams
 * open at once never exceed the per-host limit, nor the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS; a deadline on one stream the server
 * never answers resets that stream (RST_STREAM CANCEL) and fails that
 * request only, on the one connection; a RST_STREAM from the server fails
 * its request with COIL_EH2_RESET and the code in words; a GOAWAY with
 * streams in flight: those above its last stream id are sent again on a
 * new connection (a POST too: they were not processed) and succeed; a
 * connection lost with two streams in flight: the GET is retried by its
 * policy, the POST fails (RFC 9110 §9.2.2); a shutdown with a stream in
 * flight cancels it. No fd left open. Skips (77)
 * without python3.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cl.h"

#ifndef COIL_H2SRV
#error "COIL_H2SRV must name tests/client/h2srv.py"
#endif

struct peer {
	pid_t pid;
	unsigned short port;
	char *dir; /* a temp dir of the test's, for the report */
	char report[512];
	/* from the report */
	int conns, served, max_open;
	int nrst;
	int rst_sid[16];
	unsigned rst_code[16];
};

static void peer_start(struct peer *p, const char *const *args)
{
	const char *argv[10];
	int n = 0;

	memset(p, 0, sizeof(*p));
	p->dir = tu_tmpdir();
	snprintf(p->report, sizeof(p->report), "%s/report", p->dir);
	argv[n++] = p->report;
	while (*args && n < 9)
		argv[n++] = *args++;
	argv[n] = NULL;
	p->port = tu_py_peer(COIL_H2SRV, argv, &p->pid);
	assert_true(p->port > 0);
}

/* Wait for the peer to write its report and exit (it does once the
 * client closed: at most its own 20 s), then read the report. */
static void peer_end(struct peer *p)
{
	char line[128];
	int status = 0;
	FILE *f;

	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(p->report, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		int sid;
		unsigned code;
		if (sscanf(line, "conns %d", &p->conns) == 1 ||
		    sscanf(line, "served %d", &p->served) == 1 ||
		    sscanf(line, "max_open %d", &p->max_open) == 1)
			continue;
		if (sscanf(line, "rst %d %u", &sid, &code) == 2 &&
		    p->nrst < 16) {
			p->rst_sid[p->nrst] = sid;
			p->rst_code[p->nrst++] = code;
		}
	}
	fclose(f);
	unlink(p->report);
	rmdir(p->dir);
	free(p->dir);
}

struct run {
	struct fx f;
	struct res x[64];
	char url[128];
	int n;
	int fds;
};

/* The peer started with @args, then a client of h2c by prior knowledge
 * with @per_host streams per host; run_close() ends both. */
static struct run *run_open(struct peer *p, const char *const *args,
			    unsigned per_host)
{
	struct coil_http_client_opts o = {
		.max_conns_per_host = per_host,
		.http_version = COIL_HTTP_VERSION_2_PRIOR,
	};
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	peer_start(p, args);
	r->fds = tu_count_fds();
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%u/x",
		 (unsigned)p->port);
	fx_open(&r->f, &o);
	return r;
}

static void run_add(struct run *r, const struct coil_http_req_opts *o)
{
	assert_true(r->n < 64);
	cl_start(&r->f, r->url, o, &r->x[r->n++]);
}

static void run_wait(struct run *r)
{
	int done = 0;
	uint64_t end = tu_mono_ns() + 30 * SEC;

	while (done < r->n && tu_mono_ns() < end) {
		cl_turn(r->f.loop);
		done = 0;
		for (int i = 0; i < r->n; i++)
			done += r->x[i].done;
	}
	assert_int_equal(done, r->n);
}

/* The body of a buffered 200: "conn=C sid=S"; returns C. */
static int body_conn(const struct res *x)
{
	size_t len = 0;
	const char *b = coil_http_req_body(x->req, &len);
	char buf[64];
	int conn = 0, sid = 0;

	assert_int_equal(x->res, 200);
	assert_true(len > 0 && len < sizeof(buf));
	memcpy(buf, b, len);
	buf[len] = 0;
	assert_int_equal(sscanf(buf, "conn=%d sid=%d", &conn, &sid), 2);
	return conn;
}

/* Requests freed, the client closed, the peer's report read: no fd left
 * open; @r freed. */
static void run_close(struct run *r, struct peer *p)
{
	int fds = r->fds;

	for (int i = 0; i < r->n; i++)
		coil_http_req_free(r->x[i].req);
	fx_close(&r->f);
	free(r);
	peer_end(p);
	assert_int_equal(tu_count_fds(), fds);
}

/* @n GETs at once, per-host limit @per_host, the server's limit @max:
 * the server never sees more than min of both open at once */
static void limit_run(unsigned per_host, unsigned max, int n)
{
	char smax[16], sat[16], stotal[16];
	unsigned lim = per_host < max ? per_host : max;
	const char *args[] = {"limit", smax, sat, stotal, NULL};
	struct coil_http_client_stats st;
	struct peer p;
	struct run *r;

	snprintf(smax, sizeof(smax), "%u", max);
	snprintf(sat, sizeof(sat), "%u", lim);
	snprintf(stotal, sizeof(stotal), "%d", n);
	r = run_open(&p, args, per_host);
	for (int i = 0; i < n; i++)
		run_add(r, NULL);
	run_wait(r);
	for (int i = 0; i < n; i++) {
		assert_int_equal(body_conn(&r->x[i]), 1);
		assert_int_equal(r->x[i].info.http_version, 20);
	}
	coil_http_client_stats(r->f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.peak_h2_streams, lim);
	run_close(r, &p);
	assert_int_equal(p.conns, 1);
	assert_int_equal(p.served, n);
	assert_int_equal(p.max_open, (int)lim);
}

static void test_client_h2_per_host_limit_bounds_streams(void **state)
{
	(void)state;
	limit_run(4, 100, 40);
}

static void test_client_h2_server_max_streams_bounds_streams(void **state)
{
	(void)state;
	limit_run(10, 3, 30);
}

static void test_client_h2_timeout_resets_one_stream(void **state)
{
	const char *args[] = {"slow", "9", NULL};
	struct coil_http_req_opts slow = {.timeout_ns = 300 * MS};
	struct coil_http_client_stats st;
	struct peer p;
	struct run *r;

	(void)state;
	r = run_open(&p, args, 10);
	run_add(r, &slow); /* the first stream: 1, never answered */
	for (int i = 0; i < 9; i++)
		run_add(r, NULL);
	run_wait(r);
	assert_int_equal(r->x[0].res, -ETIMEDOUT);
	assert_non_null(strstr(r->x[0].err, "deadline"));
	for (int i = 1; i < 10; i++)
		assert_int_equal(body_conn(&r->x[i]), 1);
	coil_http_client_stats(r->f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	run_close(r, &p);
	assert_int_equal(p.conns, 1);
	assert_int_equal(p.served, 9);
	assert_int_equal(p.nrst, 1);
	assert_int_equal(p.rst_sid[0], 1);
	assert_int_equal(p.rst_code[0], 8); /* CANCEL */
}

static void test_client_h2_server_reset_fails_that_request(void **state)
{
	const char *args[] = {"rst", "2", NULL};
	struct peer p;
	struct run *r;

	(void)state;
	r = run_open(&p, args, 10);
	for (int i = 0; i < 3; i++)
		run_add(r, NULL);
	run_wait(r);
	assert_int_equal(r->x[0].res, COIL_EH2_RESET);
	assert_non_null(strstr(r->x[0].err, "INTERNAL_ERROR"));
	assert_int_equal(body_conn(&r->x[1]), 1);
	assert_int_equal(body_conn(&r->x[2]), 1);
	run_close(r, &p);
	assert_int_equal(p.conns, 1);
	assert_int_equal(p.nrst, 0); /* nothing reset by the client */
}

static void test_client_h2_goaway_retries_unprocessed(void **state)
{
	const char *args[] = {"goaway", "3", NULL};
	struct coil_http_req_opts post = {
		.method = "POST", .body = "abc", .body_len = 3};
	struct coil_http_client_stats st;
	struct peer p;
	struct run *r;

	(void)state;
	r = run_open(&p, args, 10);
	run_add(r, NULL);
	run_add(r, NULL);
	run_add(r, &post);
	run_wait(r);
	assert_int_equal(body_conn(&r->x[0]), 1);
	assert_int_equal(r->x[0].info.reuse_retries, 0);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(body_conn(&r->x[i]), 2);
		assert_int_equal(r->x[i].info.reuse_retries, 1);
		assert_int_equal(r->x[i].info.attempts, 1);
	}
	coil_http_client_stats(r->f.c, &st);
	assert_int_equal(st.conns_opened, 2);
	assert_int_equal(st.h2_conns, 2);
	run_close(r, &p);
	assert_int_equal(p.conns, 2);
	assert_int_equal(p.served, 3);
}

static void test_client_h2_lost_connection_retries_idempotent(void **state)
{
	static const int on[] = {COIL_HTTP_RETRY_ON};
	struct coil_retry_policy pol = {.max_attempts = 2,
					.base_ns = 1 * MS,
					.retry_on = on,
					.retry_on_len =
						sizeof(on) / sizeof(on[0])};
	const char *args[] = {"drop", "1", NULL};
	struct coil_http_req_opts get = {.retry = &pol};
	struct coil_http_req_opts post = {
		.method = "POST", .body = "abc", .body_len = 3, .retry = &pol};
	struct peer p;
	struct run *r;

	(void)state;
	r = run_open(&p, args, 10);
	run_add(r, &get);
	run_add(r, &post);
	run_wait(r);
	assert_int_equal(body_conn(&r->x[0]), 2);
	assert_int_equal(r->x[0].info.attempts, 2);
	if (r->x[1].res != COIL_ETRUNC && r->x[1].res != -ECONNRESET)
		fail_msg("POST: %d (%s)", r->x[1].res, r->x[1].err);
	assert_int_equal(r->x[1].info.attempts, 1);
	run_close(r, &p);
	assert_int_equal(p.conns, 2);
	assert_int_equal(p.served, 1);
}

/* the client shut down with a stream the server never answers: that
 * request ends -ECANCELED, the connection closes, nothing is left */
static void test_client_h2_shutdown_with_stream_in_flight(void **state)
{
	const char *args[] = {"slow", "1", NULL};
	struct peer p;
	struct run *r;

	(void)state;
	r = run_open(&p, args, 10);
	run_add(r, NULL); /* stream 1: never answered */
	run_add(r, NULL);
	CL_RUN_UNTIL(r->f.loop, r->x[1].done, 30000);
	assert_int_equal(body_conn(&r->x[1]), 1);
	assert_int_equal(r->x[0].done, 0);
	fx_close(&r->f);
	assert_int_equal(r->x[0].done, 1);
	assert_int_equal(r->x[0].res, -ECANCELED);
	for (int i = 0; i < r->n; i++)
		coil_http_req_free(r->x[i].req);
	peer_end(&p);
	assert_int_equal(p.conns, 1);
	assert_int_equal(tu_count_fds(), r->fds);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_h2_per_host_limit_bounds_streams),
		cmocka_unit_test(
			test_client_h2_server_max_streams_bounds_streams),
		cmocka_unit_test(test_client_h2_timeout_resets_one_stream),
		cmocka_unit_test(
			test_client_h2_server_reset_fails_that_request),
		cmocka_unit_test(test_client_h2_goaway_retries_unprocessed),
		cmocka_unit_test(
			test_client_h2_lost_connection_retries_idempotent),
		cmocka_unit_test(test_client_h2_shutdown_with_stream_in_flight),
	};
	return cmocka_run_group_tests_name("client.h2_peer", tests, NULL, NULL);
}
