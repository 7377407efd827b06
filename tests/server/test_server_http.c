/*
 * tests/server/test_server_http.c - the HTTP/1.1 server in-process, with
 * coil-serve's own handler (tools/coil-serve/app.c) and a few test
 * handlers, against a raw-socket client: keep-alive, pipelining in order,
 * HEAD, HTTP/1.0, the statuses the server makes itself (400, 408, 413,
 * 417, 431, 505), 100-continue, slowloris, resets, limits per connection,
 * a file to a stalled reader, and no descriptor left behind. Bodies,
 * graceful shutdown, threads and the per-loop API are
 * test_server_http_run.c's.
 */
#include <pthread.h>
#include <signal.h>

#include "srv_http.h"

/* ---- basics ---- */

static void test_server_hello(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	struct resp r;
	char v[128];

	opts_default(&o);
	srv_start(&s, &o, NULL);
	assert_int_equal(
		cl_once(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 13);
	assert_string_equal(r.body, "Hello, World!");
	assert_non_null(resp_field(&r, "Date", v, sizeof(v)));
	assert_int_equal(strlen(v), 29);
	assert_string_equal(resp_field(&r, "Content-Length", v, sizeof(v)),
			    "13");
	assert_true(r.keep_alive);
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
}

static void test_server_keepalive_three_requests(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	fd = start_connected(&s, &o);
	for (int i = 0; i < 3; i++) {
		cl_sends(fd, "GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_int_equal(r.status, 201);
		assert_string_equal(r.body, "201 Created\n");
		free(r.body);
	}
	close_then_stop(fd, in, &s, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.requests, 3);
}

/* 40 requests in one send, one of them answered later (a timer): the
 * answers come back complete and in order. */
static void test_server_pipelined_in_order(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	char *req = malloc(65536);
	size_t len = 0;
	struct srv s;
	struct resp r;
	int fd;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	for (int i = 0; i < 40; i++) {
		if (i == 7)
			len += (size_t)sprintf(req + len,
					       "GET /delay/50 HTTP/1.1\r\n"
					       "Host: x\r\n\r\n");
		else
			len += (size_t)sprintf(req + len,
					       "GET /bytes/%d HTTP/1.1\r\n"
					       "Host: x\r\n\r\n",
					       i + 1);
	}
	fd = cl_connect(s.port);
	cl_send(fd, req, len);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		if (i == 7) {
			assert_string_equal(r.body, "delayed 50 ms\n");
		} else {
			assert_int_equal(r.body_len, i + 1);
			for (int k = 0; k <= i; k++)
				assert_int_equal(r.body[k], serve_byte_at(k));
		}
		free(r.body);
	}
	close_then_stop(fd, in, &s, NULL);
	free(req);
}

/* Two pipelined requests, then the client's FIN while the first is still
 * being handled (a timer): both are answered (RFC 9112 §9.6), then the
 * server closes. */
static void test_server_pipelined_then_fin(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	char v[64];
	int fd;

	fd = start_connected(&s, &o);
	cl_sends(fd, "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "delayed 50 ms\n");
	assert_null(resp_field(&r, "Connection", v, sizeof(v)));
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "abc");
	assert_string_equal(resp_field(&r, "Connection", v, sizeof(v)),
			    "close");
	free(r.body);
	expect_closed_then_stop(fd, in, &s);
}

static void test_server_head_has_length_no_body(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	char v[64];
	int fd;

	fd = start_connected(&s, &o);
	/* HEAD then GET on one connection: framing must stay right */
	cl_sends(fd, "HEAD /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n"
		     "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 1, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(resp_field(&r, "Content-Length", v, sizeof(v)),
			    "100000");
	assert_int_equal(r.body_len, 0);
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 1, 0), 0);
	assert_string_equal(resp_field(&r, "Content-Length", v, sizeof(v)),
			    "13");
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "abc");
	free(r.body);
	close_then_stop(fd, in, &s, NULL);
}

static void test_server_http10(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	char v[64];
	int fd;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	/* 1.0 without keep-alive: answered, then closed */
	assert_int_equal(cl_once(s.port, "GET / HTTP/1.0\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_false(r.keep_alive);
	assert_true(r.closed);
	free(r.body);
	/* 1.0 with keep-alive: kept */
	fd = cl_connect(s.port);
	for (int i = 0; i < 2; i++) {
		cl_sends(fd,
			 "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_true(r.keep_alive);
		assert_string_equal(resp_field(&r, "Connection", v, sizeof(v)),
				    "keep-alive");
		free(r.body);
	}
	close(fd);
	/* 1.1 with close */
	assert_int_equal(cl_once(s.port,
				 "GET / HTTP/1.1\r\nHost: x\r\n"
				 "Connection: close\r\n\r\n",
				 &r),
			 0);
	assert_false(r.keep_alive);
	assert_true(r.closed);
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

static void test_server_204_304_no_body(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	struct resp r;
	char v[64];

	opts_default(&o);
	srv_start(&s, &o, NULL);
	assert_int_equal(cl_once(s.port,
				 "GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n",
				 &r),
			 0);
	assert_int_equal(r.status, 204);
	assert_null(resp_field(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(r.body_len, 0);
	free(r.body);
	assert_int_equal(cl_once(s.port,
				 "GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n",
				 &r),
			 0);
	assert_int_equal(r.status, 304);
	free(r.body);
	assert_int_equal(cl_once(s.port,
				 "GET /status/100 HTTP/1.1\r\nHost: x\r\n\r\n",
				 &r),
			 0);
	assert_int_equal(r.status, 400);
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
}

/* ---- what the client got wrong ---- */

static void test_server_400_malformed(void **state)
{
	static const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n", /* no Host */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
		"G\x80T / HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	struct srv s;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status_and_close(s.port, bad[i], 400);
	/* the server still serves */
	expect_status_and_close(
		s.port,
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200);
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.errors, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(st.requests, 1);
}

/* An absolute-form target (RFC 9112 §3.2.2): accepted, the path after
 * the authority, the host from the target rather than the Host field. */
static void host_handler(struct coil_http_sreq *req, void *arg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%.*s|%.*s|%.*s",
			 (int)req->host_len, req->host ? req->host : "",
			 (int)req->path_len, req->path, (int)req->query_len,
			 req->query);
	coil_http_respond(req, 200, NULL, 0, body, (size_t)n);
}

static void test_server_absolute_form(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	struct resp r;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	/* coil-serve's own handler: the path after the authority */
	assert_int_equal(cl_once(s.port,
				 "GET http://example.com/bytes/3 HTTP/1.1\r\n"
				 "Host: example.com\r\n\r\n",
				 &r),
			 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "abc");
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);

	opts_default(&o);
	o.handler = host_handler;
	srv_start(&s, &o, NULL);
	assert_int_equal(
		cl_once(s.port,
			"GET HTTP://a.example:8080/p/q?x=1 HTTP/1.1\r\n"
			"Host: other\r\n\r\n",
			&r),
		0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "a.example:8080|/p/q|x=1");
	free(r.body);
	/* no path: "/" */
	assert_int_equal(cl_once(s.port,
				 "GET https://h?k HTTP/1.1\r\nHost: h\r\n\r\n",
				 &r),
			 0);
	assert_string_equal(r.body, "h|/|k");
	free(r.body);
	/* origin-form: the Host field */
	assert_int_equal(
		cl_once(s.port, "GET /z HTTP/1.1\r\nHost: hh\r\n\r\n", &r), 0);
	assert_string_equal(r.body, "hh|/z|");
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
}

static void test_server_505_version(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	expect_status_and_close(s.port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
				505);
	expect_status_and_close(s.port, "GET / HTTP/3.1\r\nHost: x\r\n\r\n",
				505);
	expect_status_and_close(s.port, "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
				400);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
}

static void test_server_431_head_limits(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	char *req = malloc(20000);
	size_t len;

	opts_default(&o);
	o.max_head_bytes = 4096;
	o.max_headers = 16;
	srv_start(&s, &o, NULL);
	/* one header beyond max_head_bytes */
	len = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + len, 'a', 6000);
	len += 6000;
	memcpy(req + len, "\r\n\r\n", 5);
	expect_status_and_close(s.port, req, 431);
	/* too many fields */
	len = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 20; i++)
		len += (size_t)sprintf(req + len, "X-%d: v\r\n", i);
	strcpy(req + len, "\r\n");
	expect_status_and_close(s.port, req, 431);
	/* a head that never ends, sent as a stream of bytes */
	memset(req, 'a', 19999);
	memcpy(req, "GET /", 5);
	req[19999] = '\0';
	expect_status_and_close(s.port, req, 431);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(req);
}

/* The default limits: a head is limited by its bytes (max_head_bytes,
 * 8 KiB), not by a small field count: 256 fields pass (more than the 64 a
 * connection holds itself), keep-alive goes on; 300 fields get 431. */
static void test_server_many_fields(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	char *req = malloc(8192);
	struct srv s;
	struct resp r;
	size_t len;
	int fd;

	fd = start_connected(&s, &o);
	for (int round = 0; round < 2; round++) {
		len = (size_t)sprintf(req,
				      "GET /bytes/2 HTTP/1.1\r\nHost: x\r\n");
		for (int i = 0; i < 255; i++)
			len += (size_t)sprintf(req + len, "X%d: v\r\n", i);
		strcpy(req + len, "\r\n");
		assert_true(len < 8000);
		cl_sends(fd, req);
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "ab");
		assert_true(r.keep_alive);
		free(r.body);
	}
	cl_sends(fd, "GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "a");
	free(r.body);
	close(fd);
	len = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(req + len, "X%d: v\r\n", i);
	strcpy(req + len, "\r\n");
	expect_status_and_close(s.port, req, 431);
	expect_serving(s.port);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(req);
	free(in);
}

static void test_server_413_declared_body(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	struct srv s;

	opts_default(&o);
	o.max_body_bytes = 1000;
	srv_start(&s, &o, NULL);
	expect_status_and_close(s.port,
				"POST /echo HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 1001\r\n\r\n",
				413);
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.requests, 0); /* the handler never ran */
}

static void test_server_expect_continue(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	fd = start_connected(&s, &o);
	cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		     "Expect: 100-continue\r\n\r\n");
	/* the interim response comes before any body byte was sent */
	assert_int_equal(cl_response(fd, in, &r, 0, 1), 0);
	assert_int_equal(r.status, 100);
	free(r.body);
	cl_sends(fd, "hello");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	assert_true(r.keep_alive);
	free(r.body);
	close(fd);
	/* a final answer without reading the body: the connection closes */
	expect_status_and_close(s.port,
				"POST /status/403 HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 100000\r\n"
				"Expect: 100-continue\r\n\r\n",
				403);
	/* an expectation the server cannot meet */
	expect_status_and_close(s.port,
				"POST /echo HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 5\r\nExpect: teapot\r\n\r\n",
				417);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

/* A body the handler does not read: a small one is read and dropped and
 * the connection goes on; a large one closes it. */
static void test_server_unread_body(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	char *body = calloc(1, 200000);
	struct srv s;
	struct resp r;
	int fd;

	fd = start_connected(&s, &o);
	cl_sends(fd, "POST /status/202 HTTP/1.1\r\nHost: x\r\n"
		     "Content-Length: 10\r\n\r\n0123456789"
		     "GET /bytes/2 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 202);
	assert_true(r.keep_alive);
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "ab");
	free(r.body);
	close(fd);

	fd = cl_connect(s.port);
	cl_sends(fd, "POST /status/202 HTTP/1.1\r\nHost: x\r\n"
		     "Content-Length: 200000\r\n\r\n");
	cl_send(fd, body, 1000);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 202);
	assert_false(r.keep_alive);
	free(r.body);
	expect_closed_then_stop(fd, in, &s);
	free(body);
}

/* ---- time limits ---- */

static void test_server_slowloris_408(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	uint64_t t0, dt;
	int fd, fd2;

	opts_default(&o);
	o.header_timeout_ns = 300 * MS;
	srv_start(&s, &o, NULL);
	/* half a head, then nothing */
	fd = cl_connect(s.port);
	t0 = tu_mono_ns();
	cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	dt = tu_mono_ns() - t0;
	assert_int_equal(r.status, 408);
	assert_true(cl_closed(fd, in, 5000));
	assert_true(dt >= 250 * MS);
	assert_true(dt < 5000 * MS);
	free(r.body);
	close(fd);

	/* a byte every 40 ms keeps the connection busy, not alive: the
	 * head's time limit counts from its first byte */
	fd = cl_connect(s.port);
	fd2 = cl_connect(s.port); /* meanwhile others are served */
	t0 = tu_mono_ns();
	{
		const char *h =
			"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
		struct pollfd p = {fd, POLLIN, 0};
		for (size_t i = 0; h[i]; i++) {
			if (send(fd, h + i, 1, MSG_NOSIGNAL) != 1)
				break;
			if (poll(&p, 1, 40) > 0)
				break; /* the server answered */
			if (i == 3) {
				cl_sends(fd2, "GET / HTTP/1.1\r\nHost: x\r\n"
					      "\r\n");
				struct cl_in *in2 = calloc(1, sizeof(*in2));
				assert_int_equal(
					cl_response(fd2, in2, &r, 0, 0), 0);
				assert_int_equal(r.status, 200);
				free(r.body);
				free(in2);
			}
		}
	}
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	dt = tu_mono_ns() - t0;
	assert_int_equal(r.status, 408);
	assert_true(dt < 3000 * MS);
	free(r.body);
	close(fd);
	close(fd2);

	/* a connection that never sends a byte is closed, silently */
	fd = cl_connect(s.port);
	in->len = 0;
	in->eof = 0;
	assert_true(cl_closed(fd, in, 5000));
	assert_int_equal(in->len, 0);
	close_then_stop(fd, in, &s, NULL);
}

static void test_server_idle_timeout_closes(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	uint64_t t0;
	int fd;

	opts_default(&o);
	o.idle_timeout_ns = 200 * MS;
	fd = start_with(&s, &o);
	cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	free(r.body);
	t0 = tu_mono_ns();
	assert_true(cl_closed(fd, in, 5000));
	assert_true(tu_mono_ns() - t0 >= 150 * MS);
	assert_int_equal(in->len, 0); /* no bytes, just the close */
	close_then_stop(fd, in, &s, &st);
	assert_int_equal(st.timeouts, 1);
}

static void test_server_body_timeout(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	opts_default(&o);
	o.body_timeout_ns = 200 * MS;
	fd = start_with(&s, &o);
	cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
		     "\r\n0123456789");
	/* the echo's head went out at once; the body stalls: cut */
	assert_int_equal(cl_response(fd, in, &r, 0, 0), -1);
	assert_true(in->eof || in->err);
	close_then_stop(fd, in, &s, NULL);
}

/* ---- resets ---- */

static void test_server_reset_mid_upload(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	char *chunk = calloc(1, 65536);
	struct srv s;
	struct resp r;
	int fd, before = tu_count_fds();

	opts_default(&o);
	o.max_body_bytes = 64 << 20;
	srv_start(&s, &o, NULL);
	for (int k = 0; k < 5; k++) {
		fd = cl_connect(s.port);
		cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
			     "Content-Length: 10000000\r\n\r\n");
		for (int i = 0; i < 4; i++)
			cl_send(fd, chunk, 65536);
		cl_reset(fd);
		/* others are served meanwhile */
		expect_serving(s.port);
	}
	/* a reset while a handler holds the request (a timer): the cancel
	 * hook stops the timer, so the drain does not wait 10 s for it */
	fd = cl_connect(s.port);
	cl_sends(fd, "GET /delay/10000 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(
		cl_once(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	free(r.body);
	cl_reset(fd);
	{
		uint64_t t0 = tu_mono_ns();
		assert_int_equal(srv_stop(&s, 30000, &st), 0);
		assert_true(tu_mono_ns() - t0 < 5000 * MS);
	}
	assert_true(st.resets >= 5);
	assert_int_equal(tu_count_fds(), before);
	free(chunk);
}

/* ---- limits per connection ---- */

static void test_server_max_requests(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	opts_default(&o);
	o.max_requests = 2;
	fd = start_with(&s, &o);
	cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_true(r.keep_alive);
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_false(r.keep_alive);
	free(r.body);
	expect_closed_then_stop(fd, in, &s);
}

static void test_server_max_conns(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	struct resp r;
	struct cl_in *in = calloc(1, sizeof(*in));
	int fd[3];

	opts_default(&o);
	o.max_conns = 2;
	srv_start(&s, &o, NULL);
	for (int i = 0; i < 2; i++) {
		fd[i] = cl_connect(s.port);
		cl_sends(fd[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(cl_response(fd[i], in, &r, 0, 0), 0);
		free(r.body);
	}
	/* the third waits in the backlog until one of the others ends */
	fd[2] = cl_connect_to(s.port, 300);
	cl_sends(fd[2], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd[2], in, &r, 0, 0), -1);
	close(fd[0]);
	{
		struct timeval tv = {10, 0};
		setsockopt(fd[2], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	in->len = 0;
	in->err = 0;
	assert_int_equal(cl_response(fd[2], in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
	close(fd[1]);
	close(fd[2]);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

/* ---- files ---- */

/* A client that asks for 8 MiB and never reads: the write time limit ends
 * the connection, for a file body sent by sendfile and a streamed body
 * (stream writes) alike; the file's descriptors are closed. */
static void test_server_file_stalled_reader(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_server_stats st;
	char *dir = *state, path[4200];
	int before = tu_count_fds(), fd;
	static const char *const names[] = {"/big.bin", "/_coil/bytes/8388608"};
	struct srv s;

	snprintf(path, sizeof(path), "%s/big.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/mid.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_int_equal(ftruncate(fd, 200 << 10), 0);
	close(fd);
	app.root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(app.root_fd >= 0);

	for (int i = 0; i < 2; i++) {
		struct resp r;
		char req[128];
		int c;
		opts_default(&o);
		/* long enough that the first, whole download never stalls that
		 * long under ASan on a loaded machine */
		o.write_timeout_ns = 1000 * MS;
		srv_start(&s, &o, NULL);
		/* first the same file whole, read as it comes */
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
			 names[i]);
		assert_int_equal(cl_once(s.port, req, &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 8 << 20);
		free(r.body);
		/* then never read */
		c = cl_stalled_reader(s.port, req);
		/* the drain waits for it: the time limit must end it */
		assert_int_equal(srv_stop(&s, 10000, &st), 0);
		if (st.timeouts != 1)
			fail_msg("%s: %llu timeouts", names[i],
				 (unsigned long long)st.timeouts);
		close(c);
	}
	close(app.root_fd);
	app.root_fd = -1;
	assert_int_equal(tu_count_fds(), before);
}

/* The temp dir is removed by the teardown, also when the test fails. */
static int dir_setup(void **state)
{
	*state = tu_tmpdir();
	return 0;
}

static int dir_teardown(void **state)
{
	char cmd[4200];
	if (app.root_fd >= 0) {
		close(app.root_fd);
		app.root_fd = -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- no leaks: descriptors come back ---- */

static void test_server_no_fd_leak(void **state)
{
	struct coil_http_server_opts o;
	struct srv s;
	int before = tu_count_fds();

	opts_default(&o);
	o.header_timeout_ns = 200 * MS;
	for (int round = 0; round < 2; round++) {
		srv_start(&s, &o, NULL);
		for (int i = 0; i < 20; i++) {
			int fd = cl_connect(s.port);
			switch (i % 4) {
			case 0:
				cl_sends(fd, "BROKEN\r\n\r\n");
				break;
			case 1:
				cl_sends(fd, "GET / HTTP/1.1\r\n");
				break;
			case 2:
				cl_sends(fd, "GET /delay/5000 HTTP/1.1\r\n"
					     "Host: x\r\n\r\n");
				break;
			default:
				cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n"
					     "\r\n");
			}
			cl_reset(fd);
		}
		expect_serving(s.port);
		assert_true(srv_stop(&s, 300, NULL) >= 0);
	}
	assert_int_equal(tu_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_server_keepalive_three_requests),
		cmocka_unit_test(test_server_pipelined_in_order),
		cmocka_unit_test(test_server_pipelined_then_fin),
		cmocka_unit_test(test_server_head_has_length_no_body),
		cmocka_unit_test(test_server_http10),
		cmocka_unit_test(test_server_204_304_no_body),
		cmocka_unit_test(test_server_400_malformed),
		cmocka_unit_test(test_server_505_version),
		cmocka_unit_test(test_server_absolute_form),
		cmocka_unit_test(test_server_431_head_limits),
		cmocka_unit_test(test_server_many_fields),
		cmocka_unit_test(test_server_413_declared_body),
		cmocka_unit_test(test_server_expect_continue),
		cmocka_unit_test(test_server_unread_body),
		cmocka_unit_test(test_server_slowloris_408),
		cmocka_unit_test(test_server_idle_timeout_closes),
		cmocka_unit_test(test_server_body_timeout),
		cmocka_unit_test(test_server_reset_mid_upload),
		cmocka_unit_test(test_server_max_requests),
		cmocka_unit_test(test_server_max_conns),
		cmocka_unit_test_setup_teardown(test_server_file_stalled_reader,
						dir_setup, dir_teardown),
		cmocka_unit_test(test_server_no_fd_leak),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.http", tests, NULL, NULL);
}
