/*
 * tests/server/test_server_http_run.c - the HTTP/1.1 server in-process
 * (as test_server_http.c, with coil-serve's handler and test handlers,
 * against a raw-socket client), how it runs: request bodies (chunked,
 * malformed, large, buffered reads), streamed responses, graceful
 * shutdown (draining, cut), several threads on one port, bad options and
 * the per-loop API.
 */
#include <pthread.h>
#include <signal.h>

#include "srv_http.h"

/* ---- bodies ---- */

static void test_server_chunked_echo(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	fd = start_connected(&s, &o);
	cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n"
		     "Trailer: x\r\n\r\n"
		     "GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.chunked);
	assert_string_equal(r.body, "hello world");
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "a");
	free(r.body);
	/* broken chunk framing after the head: the connection ends */
	cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		     "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
	expect_closed_then_stop(fd, in, &s);
}

/* A malformed chunked body before any status went out: 400, then the
 * connection ends; after the head (200) went out: the connection ends. */
static void test_server_chunked_malformed_400(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	expect_status_and_close(s.port,
				"POST /echo HTTP/1.1\r\nHost: x\r\n"
				"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
				400);
	expect_status_and_close(s.port,
				"POST /echo HTTP/1.1\r\nHost: x\r\n"
				"Transfer-Encoding: chunked\r\n\r\n"
				"-1\r\n",
				400);
	/* one good chunk first: its 200 head is out, then the break */
	fd = cl_connect(s.port);
	cl_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
	assert_int_equal(cl_fill(fd, in) > 0, 1);
	assert_int_equal(memcmp(in->buf, "HTTP/1.1 200", 12), 0);
	cl_sends(fd, "zz\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), -1);
	assert_true(cl_closed(fd, in, 5000) || in->eof || in->err);
	close(fd);
	expect_serving(s.port);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

struct sender {
	int fd;
	size_t len;
};

static void *send_pattern(void *arg)
{
	struct sender *sd = arg;
	char buf[7919]; /* a prime: pieces never line up with anything */
	size_t off = 0;
	while (off < sd->len) {
		size_t n = sd->len - off < sizeof(buf) ? sd->len - off
						       : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)((off + i) * 131 % 251);
		if (send(sd->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		off += n;
	}
	return NULL;
}

/* 8 MiB up and back down at once (the echo streams with back-pressure);
 * every byte checked. */
static void test_server_echo_large(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct sender sd;
	pthread_t th;
	struct srv s;
	struct resp r;
	char head[128];
	const size_t len = 8u << 20;

	opts_default(&o);
	o.max_body_bytes = 64 << 20;
	srv_start(&s, &o, NULL);
	sd.fd = cl_connect(s.port);
	sd.len = len;
	snprintf(
		head, sizeof(head),
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		len);
	cl_sends(sd.fd, head);
	assert_int_equal(pthread_create(&th, NULL, send_pattern, &sd), 0);
	assert_int_equal(cl_response(sd.fd, in, &r, 0, 0), 0);
	pthread_join(th, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, len);
	for (size_t i = 0; i < len; i++) {
		if (r.body[i] != (char)(i * 131 % 251))
			fail_msg("byte %zu differs", i);
	}
	free(r.body);
	close(sd.fd);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

/* A handler that reads the whole body and answers with its length. */
static void buffered_got(struct coil_http_sreq *req, int status, void *arg)
{
	char out[64];
	int n;
	if (status == COIL_ELIMIT) {
		coil_http_respond(req, 413, NULL, 0, NULL, 0);
		return;
	}
	if (status < 0) {
		coil_http_respond(req, 400, NULL, 0, NULL, 0);
		return;
	}
	n = snprintf(out, sizeof(out), "%zu:%.*s", req->body_len,
		     (int)(req->body_len < 10 ? req->body_len : 10),
		     (const char *)req->body);
	coil_http_respond(req, 200, NULL, 0, out, (size_t)n);
}

static void buffered_handler(struct coil_http_sreq *req, void *arg)
{
	assert_int_equal(coil_http_sreq_read_body(req, buffered_got, NULL), 0);
	assert_int_equal(coil_http_sreq_read_body(req, buffered_got, NULL),
			 -EALREADY);
}

static void test_server_read_body_buffered(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	int fd;

	memset(&o, 0, sizeof(o));
	o.handler = buffered_handler;
	o.max_body_bytes = 20;
	fd = start_with(&s, &o);
	cl_sends(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"
		     "hello world!"
		     "POST / HTTP/1.1\r\nHost: x\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		     "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "12:hello worl");
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "3:abc");
	free(r.body);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_string_equal(r.body, "0:");
	free(r.body);
	/* a chunked body beyond max_body_bytes: the handler hears
	 * COIL_ELIMIT and answers 413; the connection closes */
	cl_sends(fd, "POST / HTTP/1.1\r\nHost: x\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n"
		     "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 413);
	assert_false(r.keep_alive);
	free(r.body);
	expect_closed_then_stop(fd, in, &s);
}

/* ---- streamed responses ---- */

static const char *pieces[] = {"one ", "two ", "three"};

static void stream_next(struct coil_http_sreq *req, int status, void *arg)
{
	uintptr_t i = (uintptr_t)req->data;
	if (status < 0 || i == 3) {
		coil_http_respond_end(req);
		return;
	}
	req->data = (void *)(i + 1);
	assert_int_equal(coil_http_respond_write(req, pieces[i],
						 strlen(pieces[i]), stream_next,
						 NULL),
			 0);
	assert_int_equal(coil_http_respond_write(req, "x", 1, NULL, NULL),
			 -EBUSY);
}

static void stream_handler(struct coil_http_sreq *req, void *arg)
{
	if (req->path_len > 1 && req->path[1] == 'b') {
		/* a header the writer refuses: the server answers 500 */
		struct coil_http_header h = {"X-Bad", 5, "a\r\nb", 4};
		assert_int_equal(coil_http_respond(req, 200, &h, 1, "x", 1),
				 -EINVAL);
		return;
	}
	if (req->path_len > 1 && req->path[1] == 's') {
		/* announced 10, sent 3: the connection closes after */
		assert_int_equal(coil_http_respond_begin(req, 200, NULL, 0, 10),
				 0);
		assert_int_equal(
			coil_http_respond_write(req, "abc", 3, NULL, NULL), 0);
		assert_int_equal(coil_http_respond_end(req), 0);
		return;
	}
	assert_int_equal(coil_http_respond_begin(req, 200, NULL, 0,
						 COIL_HTTP_LENGTH_UNKNOWN),
			 0);
	assert_int_equal(coil_http_respond_begin(req, 200, NULL, 0, 0),
			 -EALREADY);
	req->data = (void *)0;
	stream_next(req, 0, NULL);
}

static void test_server_streamed_response(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	char v[64];
	int fd;

	memset(&o, 0, sizeof(o));
	o.handler = stream_handler;
	srv_start(&s, &o, NULL);
	/* 1.1: chunked, kept alive */
	fd = cl_connect(s.port);
	for (int i = 0; i < 2; i++) {
		cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_true(r.chunked);
		assert_true(r.keep_alive);
		assert_string_equal(r.body, "one two three");
		free(r.body);
	}
	close(fd);
	/* 1.0 keep-alive: no length known, so delimited by the close */
	assert_int_equal(cl_once(s.port,
				 "GET / HTTP/1.0\r\n"
				 "Connection: keep-alive\r\n\r\n",
				 &r),
			 0);
	assert_false(r.chunked);
	assert_null(resp_field(&r, "Content-Length", v, sizeof(v)));
	assert_null(resp_field(&r, "Transfer-Encoding", v, sizeof(v)));
	assert_string_equal(r.body, "one two three");
	assert_true(r.closed);
	free(r.body);
	/* HEAD: the writes are dropped */
	assert_int_equal(
		cl_once(s.port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	free(r.body);
	/* bad header: 500 */
	expect_status_and_close(s.port, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
				500);
	/* short body: what was announced cannot be kept, so the client
	 * sees a truncated message and the close */
	fd = cl_connect(s.port);
	cl_sends(fd, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(fd, in, &r, 0, 0), -1);
	assert_true(in->eof || in->err);
	close_then_stop(fd, in, &s, NULL);
}

/* ---- graceful shutdown ---- */

struct stopper {
	struct srv *s;
	uint64_t drain_ms;
	int ret;
	struct coil_http_server_stats st;
};

static void *stop_thread(void *arg)
{
	struct stopper *sp = arg;
	sp->ret = srv_stop(sp->s, sp->drain_ms, &sp->st);
	return NULL;
}

static void test_server_shutdown_drains(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct cl_in *in2 = calloc(1, sizeof(*in2));
	struct stopper sp;
	pthread_t th;
	struct srv s;
	struct resp r;
	char v[64];
	int busy, idle;
	uint64_t t0;

	opts_default(&o);
	srv_start(&s, &o, NULL);
	idle = cl_connect(s.port);
	cl_sends(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(cl_response(idle, in2, &r, 0, 0), 0);
	free(r.body);
	busy = cl_connect(s.port);
	cl_sends(busy, "GET /delay/400 HTTP/1.1\r\nHost: x\r\n\r\n");
	/* let the request reach its handler */
	{
		struct resp r2;
		assert_int_equal(cl_once(s.port,
					 "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
					 &r2),
				 0);
		free(r2.body);
	}
	sp.s = &s;
	sp.drain_ms = 10000;
	t0 = tu_mono_ns();
	assert_int_equal(pthread_create(&th, NULL, stop_thread, &sp), 0);
	/* the idle keep-alive connection is closed at once */
	assert_true(cl_closed(idle, in2, 2000));
	assert_true(tu_mono_ns() - t0 < 350 * MS);
	/* the request in flight is answered, with Connection: close */
	assert_int_equal(cl_response(busy, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(resp_field(&r, "Connection", v, sizeof(v)),
			    "close");
	free(r.body);
	assert_true(cl_closed(busy, in, 5000));
	pthread_join(th, NULL);
	assert_int_equal(sp.ret, 0);
	assert_true(tu_mono_ns() - t0 < 5000 * MS);
	/* nobody listens any more */
	{
		struct sockaddr_in a = tu_addr(s.port);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)),
				 -1);
		close(fd);
	}
	close(idle);
	close(busy);
	free(in);
	free(in2);
}

static void test_server_shutdown_cut(void **state)
{
	struct coil_http_server_opts o;
	struct cl_in *in = calloc(1, sizeof(*in));
	struct srv s;
	struct resp r;
	uint64_t t0;
	int fd;

	fd = start_connected(&s, &o);
	cl_sends(fd, "GET /delay/20000 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(
		cl_once(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	free(r.body);
	t0 = tu_mono_ns();
	/* drain time runs out: cut, the handler's timer cancelled */
	assert_int_equal(srv_stop(&s, 200, NULL), 1);
	assert_true(tu_mono_ns() - t0 < 5000 * MS);
	assert_true(cl_closed(fd, in, 2000));
	assert_int_equal(in->len, 0);
	close(fd);
	free(in);
}

/* ---- several threads on one port ---- */

static void test_server_threads_share_port(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_threads_opts to = {.threads = 3};
	struct coil_http_server_stats st;
	struct srv s;

	opts_default(&o);
	srv_start(&s, &o, &to);
	for (int i = 0; i < 30; i++) {
		expect_serving(s.port);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.requests, 30);
	assert_int_equal(st.accepted, 30);
}

static void test_server_bad_options(void **state)
{
	struct coil_http_server_opts o;
	struct coil_http_threads *t = NULL;
	struct coil_http_threads_opts to = {.threads = 2000};
	struct sockaddr_in a = tu_addr(0);

	opts_default(&o);
	o.addr = (const struct sockaddr *)&a;
	o.addr_len = sizeof(a);
	assert_int_equal(coil_http_threads_start(&t, &o, &to), -EINVAL);
	to.threads = 1;
	o.max_head_bytes = 10;
	assert_int_equal(coil_http_threads_start(&t, &o, &to), -EINVAL);
	o.max_head_bytes = 0;
	o.handler = NULL;
	assert_int_equal(coil_http_threads_start(&t, &o, &to), -EINVAL);
}

/* The per-loop API on the test's own loop: serve, shut down, free. */
struct client_job {
	unsigned short port;
	struct coil_loop *loop;
	struct coil_op wake; /* posted to the loop when the client is done */
	int done;
	int status;
};

static void *client_thread(void *arg)
{
	struct client_job *j = arg;
	struct resp r;
	if (cl_once(j->port, "GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n", &r) ==
	    0) {
		j->status = r.status;
		free(r.body);
	}
	coil_loop_post_remote(j->loop, &j->wake, 0);
	return NULL;
}

static void wake_cb(struct coil_op *op, int res, unsigned flags)
{
	struct client_job *j = coil_container_of(op, struct client_job, wake);
	j->done = 1;
}

static void done_cb(struct coil_op *op, int res, unsigned flags)
{
	*(int *)op->data = res + 1;
}

static void test_server_per_loop_api(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_http_server_opts o;
	struct coil_http_server *srv = NULL, *srv2 = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_in a = tu_addr(0);
	struct client_job j = {0};
	struct coil_op done;
	socklen_t len;
	pthread_t th;
	int fin = 0;

	opts_default(&o);
	o.addr = (const struct sockaddr *)&a;
	o.addr_len = sizeof(a);
	assert_int_equal(coil_http_server_new(&srv, loop, &o), 0);
	assert_int_equal(coil_http_server_addr(srv, &ss, &len), 0);
	j.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_ptr_equal(coil_http_server_loop(srv), loop);
	coil_http_server_set_data(srv, &j);
	assert_ptr_equal(coil_http_server_data(srv), &j);
	/* the same port without SO_REUSEPORT: in use */
	a = tu_addr(j.port);
	assert_int_equal(coil_http_server_new(&srv2, loop, &o), -EADDRINUSE);
	j.loop = loop;
	coil_op_init(&j.wake, wake_cb);
	coil_loop_expect(loop, &j.wake);
	assert_int_equal(pthread_create(&th, NULL, client_thread, &j), 0);
	tu_run_until(loop, &j.done, 10000 * MS);
	pthread_join(th, NULL);
	assert_int_equal(j.done, 1);
	assert_int_equal(j.status, 200);
	coil_op_init(&done, done_cb);
	done.data = &fin;
	assert_int_equal(coil_http_server_shutdown(srv, 1000 * MS, &done), 0);
	assert_int_equal(coil_http_server_shutdown(srv, 1000 * MS, &done),
			 -EALREADY);
	tu_run_until(loop, &fin, 5000 * MS);
	assert_int_equal(fin, 1); /* 0 + 1: drained, nothing cut */
	assert_int_equal(coil_loop_run(loop, COIL_RUN_DEFAULT), 0);
	assert_int_equal(coil_http_server_addr(srv, &ss, &len), -EINVAL);
	coil_http_server_free(srv);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_chunked_echo),
		cmocka_unit_test(test_server_chunked_malformed_400),
		cmocka_unit_test(test_server_echo_large),
		cmocka_unit_test(test_server_read_body_buffered),
		cmocka_unit_test(test_server_streamed_response),
		cmocka_unit_test(test_server_shutdown_drains),
		cmocka_unit_test(test_server_shutdown_cut),
		cmocka_unit_test(test_server_threads_share_port),
		cmocka_unit_test(test_server_bad_options),
		cmocka_unit_test(test_server_per_loop_api),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.http_run", tests, NULL,
					   NULL);
}
