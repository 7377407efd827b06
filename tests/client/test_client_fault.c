/*
 * tests/client/test_client_fault.c - the client against a misbehaving
 * server (fsrv.h: plain sockets and threads on 127.0.0.1). Each fault ends
 * the request with its own error, on time, with no descriptor left open
 * (counted before the server starts and after it stopped and the loop is
 * freed; ASan checks the memory) and nothing hanging.
 */
#include "fenv.h"

static const char *url(struct env *e, const char *path)
{
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u%s",
		 (unsigned)e->s.port, path);
	return e->url;
}

/* one request, one fault: the error, the time it took */
static int fault(const char *path, const struct coil_http_req_opts *o,
		 struct res *x)
{
	struct env e;
	int r;
	env_open(&e, NULL);
	r = cl_get(&e.f, url(&e, path), o, x);
	print_message("%s -> %d (%s) in %.0f ms: %s\n", path, r,
		      coil_strerror(r), cl_ms(x), x->err);
	cl_free(x);
	env_close(&e);
	return r;
}

static void test_client_fault_close_mid_headers(void **state)
{
	struct res x;
	assert_int_equal(fault("/close-mid-headers", NULL, &x), COIL_ETRUNC);
	assert_non_null(strstr(x.err, "in the response head"));
	assert_int_equal(x.heads, 0);
}

static void test_client_fault_close_mid_body(void **state)
{
	struct res x;
	assert_int_equal(fault("/close-mid-body", NULL, &x), COIL_ETRUNC);
	assert_non_null(strstr(x.err, "before the last chunk"));
	assert_int_equal(x.heads, 1); /* the head was fine */
	assert_int_equal(x.info.body_bytes, 4);
}

static void test_client_fault_short_content_length(void **state)
{
	struct res x;
	assert_int_equal(fault("/short-cl", NULL, &x), COIL_ETRUNC);
	assert_non_null(strstr(x.err, "after 10 of 100 body bytes"));
	assert_int_equal(x.info.body_bytes, 10);
}

static void test_client_fault_reset(void **state)
{
	struct res x;
	assert_int_equal(fault("/reset", NULL, &x), -ECONNRESET);
}

/* a head dripping one byte every 100 ms: the deadline ends it */
static void test_client_fault_drip_deadline(void **state)
{
	struct coil_http_req_opts o = {.timeout_ns = 400 * MS};
	struct res x;
	assert_int_equal(fault("/drip", &o, &x), -ETIMEDOUT);
	assert_true(cl_ms(&x) >= 390);
	assert_true(cl_ms(&x) < 3000);
	assert_non_null(strstr(x.err, "deadline"));
}

static void test_client_fault_never_answers(void **state)
{
	struct coil_http_req_opts o = {.timeout_ns = 300 * MS};
	struct res x;
	assert_int_equal(fault("/never", &o, &x), -ETIMEDOUT);
	assert_true(cl_ms(&x) >= 290);
	assert_true(cl_ms(&x) < 3000);
}

static void test_client_fault_huge_header(void **state)
{
	struct res x;
	assert_int_equal(fault("/bighead", NULL, &x), COIL_ELIMIT);
	assert_non_null(strstr(x.err, "response head over 65536 bytes"));
}

static void test_client_fault_invalid_chunk_size(void **state)
{
	struct res x;
	struct coil_http_req_opts o = {.on_body = cl_body};
	assert_int_equal(fault("/badchunk", NULL, &x), COIL_EPARSE);
	assert_non_null(strstr(x.err, "chunked"));
	/* the same through the streaming path */
	assert_int_equal(fault("/badchunk", &o, &x), COIL_EPARSE);
	assert_int_equal(x.got, 0);
}

static void test_client_fault_body_limit(void **state)
{
	struct coil_http_req_opts o = {.max_body_bytes = 1000};
	struct res x;
	/* a Content-Length over the limit fails at the head */
	assert_int_equal(fault("/ok?n=1001", &o, &x), COIL_ELIMIT);
	assert_int_equal(fault("/ok?n=1000", &o, &x), 200);
	/* a chunked body over the limit fails as it grows */
	o.on_body = cl_body;
	assert_int_equal(fault("/chunked?n=5000&c=100", &o, &x), COIL_ELIMIT);
	assert_true(x.got <= 1000);
}

static void test_client_fault_connect_refused(void **state)
{
	struct coil_retry_policy p = {.max_attempts = 3, .base_ns = 10 * MS};
	struct coil_http_req_opts o = {.retry = &p};
	unsigned short port;
	int fds = tu_count_fds();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = tu_addr(0);
	socklen_t len = sizeof(a);
	char u[64];
	struct fx f;
	struct res x;

	/* bound, not listening: connects are refused */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", (unsigned)port);
	fx_open(&f, NULL);
	assert_int_equal(cl_get(&f, u, &o, &x), -ECONNREFUSED);
	assert_int_equal(x.info.attempts, 3);
	assert_non_null(strstr(x.err, "connect to 127.0.0.1 port"));
	print_message("%s\n", x.err);
	cl_free(&x);
	fx_close(&f);
	close(fd);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_client_fault_connect_timeout(void **state)
{
	int fds = tu_count_fds(), lfd, filler;
	unsigned short port = tu_syn_sink(&lfd, &filler);
	struct coil_http_req_opts ct = {.connect_timeout_ns = 300 * MS};
	struct coil_http_req_opts dl = {.timeout_ns = 300 * MS};
	char u[64];
	struct fx f;
	struct res x;

	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", (unsigned)port);
	fx_open(&f, NULL);
	/* the connect timeout */
	assert_int_equal(cl_get(&f, u, &ct, &x), -ETIMEDOUT);
	print_message("connect timeout: %.0f ms: %s\n", cl_ms(&x), x.err);
	assert_true(cl_ms(&x) >= 290 && cl_ms(&x) < 3000);
	assert_non_null(strstr(x.err, "connect to 127.0.0.1 port"));
	cl_free(&x);
	/* the attempt's deadline bounds the connect too */
	assert_int_equal(cl_get(&f, u, &dl, &x), -ETIMEDOUT);
	print_message("deadline: %.0f ms: %s\n", cl_ms(&x), x.err);
	assert_true(cl_ms(&x) >= 290 && cl_ms(&x) < 3000);
	cl_free(&x);
	fx_close(&f);
	close(filler);
	close(lfd);
	assert_int_equal(tu_count_fds(), fds);
}

/* a host name the resolver refuses (glibc rejects it before any DNS
 * query: a label may not start with '-') */
static void test_client_fault_resolve_error(void **state)
{
	struct fx f;
	struct res x;
	int fds = tu_count_fds();

	fx_open(&f, NULL);
	assert_int_equal(cl_get(&f, "http://-bad.invalid/", NULL, &x),
			 COIL_ERESOLVE);
	assert_non_null(strstr(x.err, "cannot resolve -bad.invalid"));
	print_message("%s\n", x.err);
	cl_free(&x);
	fx_close(&f);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_client_retry_503_then_200(void **state)
{
	struct coil_retry_policy p = {.max_attempts = 4, .base_ns = 20 * MS};
	struct coil_http_req_opts o = {.retry = &p, .on_body = cl_body};
	struct env e;
	struct res x;

	env_open(&e, NULL);
	assert_int_equal(cl_get(&e.f, url(&e, "/flaky?k=a&f=2"), &o, &x), 200);
	assert_int_equal(x.info.attempts, 3);
	assert_int_equal(fsrv_hits(&e.s, "a", NULL), 3);
	assert_int_equal(x.heads, 1); /* the 503s never reached the caller */
	assert_int_equal(x.got, 2);
	cl_free(&x);
	/* more failures than attempts: the last 503 is the answer, body
	 * and all */
	p.max_attempts = 2;
	assert_int_equal(cl_get(&e.f, url(&e, "/flaky?k=b&f=5"), &o, &x), 503);
	assert_int_equal(x.info.attempts, 2);
	assert_int_equal(x.got, 4);
	cl_free(&x);
	/* 404 is not retried */
	assert_int_equal(cl_get(&e.f, url(&e, "/flaky?k=c&f=5&s=404"), &o, &x),
			 404);
	assert_int_equal(x.info.attempts, 1);
	cl_free(&x);
	/* and none of it needed more than one connection */
	struct coil_http_client_stats st;
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.retries, 3);
	env_close(&e);
}

static void test_client_retry_after(void **state)
{
	struct coil_retry_policy p = {.max_attempts = 3, .base_ns = 1 * MS};
	struct coil_http_req_opts o = {.retry = &p};
	struct env e;
	struct res x;
	uint64_t at[8] = {0};
	char path[128];

	env_open(&e, NULL);
	/* delay-seconds */
	assert_int_equal(cl_get(&e.f, url(&e, "/retry-after?k=a&v=1"), &o, &x),
			 200);
	assert_int_equal(fsrv_hits(&e.s, "a", at), 2);
	print_message("Retry-After: 1 -> %.0f ms between attempts\n",
		      (double)(at[1] - at[0]) / 1e6);
	assert_true(at[1] - at[0] >= 990 * MS);
	assert_true(at[1] - at[0] < 3000 * MS);
	cl_free(&x);

	/* a Retry-After beyond retry_max_time: the 503 is final, at once */
	o.retry_max_time_ns = 2 * SEC;
	assert_int_equal(
		cl_get(&e.f, url(&e, "/retry-after?k=b&v=100"), &o, &x), 503);
	assert_int_equal(x.info.attempts, 1);
	assert_true(cl_ms(&x) < 1000);
	cl_free(&x);

	/* an HTTP-date two seconds ahead */
	{
		char date[64];
		time_t t = time(NULL) + 2;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a,_%d_%b_%Y_%H:%M:%S_GMT", &tm);
		snprintf(path, sizeof(path), "/retry-after?k=c&v=%s", date);
	}
	o.retry_max_time_ns = 0;
	assert_int_equal(cl_get(&e.f, url(&e, path), &o, &x), 200);
	assert_int_equal(fsrv_hits(&e.s, "c", at), 2);
	print_message("Retry-After: <date +2 s> -> %.0f ms\n",
		      (double)(at[1] - at[0]) / 1e6);
	assert_true(at[1] - at[0] >= 900 * MS); /* whole seconds */
	cl_free(&x);
	env_close(&e);
}

/* RFC 9112 §9.3.1: the server drops a keep-alive connection just as the
 * next request arrives; an idempotent request is sent again on a new
 * connection, a POST is not */
static void test_client_reuse_retry(void **state)
{
	struct coil_http_client_stats st;
	struct coil_http_req_opts post = {
		.method = "POST", .body = "x", .body_len = 1};
	struct env e;
	struct res x;
	int accepted;

	env_open(&e, NULL);
	assert_int_equal(cl_get(&e.f, url(&e, "/once-per-conn"), NULL, &x),
			 200);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url(&e, "/once-per-conn"), NULL, &x),
			 200);
	assert_int_equal(x.info.reuse_retries, 1);
	assert_int_equal(x.info.attempts, 1);
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.reuse_retries, 1);
	assert_int_equal(st.conns_opened, 2);
	fsrv_get(&e.s, NULL, &accepted, NULL);
	assert_int_equal(accepted, 2);

	assert_int_equal(cl_get(&e.f, url(&e, "/once-per-conn"), &post, &x),
			 COIL_ETRUNC);
	assert_int_equal(x.info.reuse_retries, 0);
	print_message("POST: %s\n", x.err);
	cl_free(&x);
	env_close(&e);
}

static void test_client_redirects(void **state)
{
	struct coil_http_req_opts o = {.max_redirects = 2};
	struct env e;
	struct res x;
	size_t len;
	const char *body;

	env_open(&e, NULL);
	/* relative Location, resolved against the request's URL */
	assert_int_equal(cl_get(&e.f, url(&e, "/redirect?to=ok?n=3"), &o, &x),
			 200);
	assert_int_equal(x.info.redirects, 1);
	body = coil_http_req_body(x.req, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(body, "abc", 3);
	assert_string_equal(coil_url_target(coil_http_req_url(x.req)),
			    "/ok?n=3");
	cl_free(&x);
	/* too many */
	assert_int_equal(
		cl_get(&e.f,
		       url(&e, "/redirect?to=/redirect?to=/redirect?to=/ok"),
		       &o, &x),
		-ELOOP);
	assert_non_null(strstr(x.err, "more than 2 redirects"));
	cl_free(&x);
	/* credentials go along to the same origin only (curl's rule) */
	{
		static const struct coil_http_header auth[] = {
			{"Authorization", 13, "Bearer t", 8},
			{"X-Keep", 6, "1", 1},
		};
		struct coil_http_req_opts ao = {
			.max_redirects = 2, .headers = auth, .nheaders = 2};
		char to[128];
		const char *b;
		snprintf(to, sizeof(to), "/redirect?to=/echo");
		assert_int_equal(cl_get(&e.f, url(&e, to), &ao, &x), 200);
		b = coil_http_req_body(x.req, &len);
		assert_non_null(memmem(b, len, "Authorization: Bearer t", 23));
		cl_free(&x);
		snprintf(to, sizeof(to),
			 "/redirect?to=http://localhost:%u/echo",
			 (unsigned)e.s.port);
		assert_int_equal(cl_get(&e.f, url(&e, to), &ao, &x), 200);
		b = coil_http_req_body(x.req, &len);
		assert_null(memmem(b, len, "Authorization", 13));
		assert_non_null(memmem(b, len, "X-Keep: 1", 9));
		assert_non_null(memmem(b, len, "Host: localhost:", 16));
		cl_free(&x);
	}
	/* not followed by default: the 302 is the answer */
	assert_int_equal(cl_get(&e.f, url(&e, "/redirect?to=/ok"), NULL, &x),
			 302);
	assert_int_equal(x.info.redirects, 0);
	cl_free(&x);
	/* nor for a POST */
	o.method = "POST";
	assert_int_equal(cl_get(&e.f, url(&e, "/redirect?to=/ok"), &o, &x),
			 302);
	cl_free(&x);
	env_close(&e);
}

/* a body delivered in callbacks, paused after every fourth one and
 * resumed from a timer (cl_bp_body): nothing arrives while paused,
 * everything arrives in order */
static void test_client_streaming_backpressure(void **state)
{
	struct coil_http_req_opts o = {.on_body = cl_bp_body};
	struct env e;
	struct cl_bp b;
	uint64_t want = CL_FNV0;
	char *ref = malloc(4 << 20);

	for (size_t i = 0; i < (4u << 20); i++)
		ref[i] = (char)('a' + (i % 16384) % 26);
	want = cl_fnv(want, ref, 4 << 20);
	free(ref);
	env_open(&e, NULL);
	memset(&b, 0, sizeof(b));
	b.loop = e.f.loop;
	cl_start(&e.f, url(&e, "/ok?n=4194304"), &o, &b.x);
	/* cl_start cleared b.x; the data pointer is b.x == &b */
	CL_RUN_UNTIL(e.f.loop, b.x.done && !coil_op_busy(&b.tmr), 20000);
	assert_int_equal(b.x.res, 200);
	assert_int_equal(b.x.got, 4 << 20);
	assert_true(b.x.hash == want);
	assert_int_equal(b.while_paused, 0);
	print_message("%d body callbacks, %d pauses\n", b.x.bodies,
		      (b.pauses + 3) / 4);
	cl_free(&b.x);
	env_close(&e);
}

/* chunked, HEAD, 204, 304: no body where there is none, and the
 * connection carries on */
static void test_client_bodiless_and_chunked(void **state)
{
	struct coil_http_req_opts head = {.method = "HEAD"};
	struct coil_http_req_opts str = {.on_body = cl_body};
	struct coil_http_client_stats st;
	struct env e;
	struct res x;
	size_t len;

	env_open(&e, NULL);
	assert_int_equal(cl_get(&e.f, url(&e, "/ok?n=100"), &head, &x), 200);
	assert_non_null(coil_http_req_body(x.req, &len));
	assert_int_equal(len, 0);
	assert_non_null(coil_http_req_header(x.req, "content-length", &len));
	cl_free(&x);
	/* an empty body by Content-Length, buffered and streamed */
	assert_int_equal(cl_get(&e.f, url(&e, "/ok?n=0"), NULL, &x), 200);
	assert_non_null(coil_http_req_body(x.req, &len));
	assert_int_equal(len, 0);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url(&e, "/ok?n=0"), &str, &x), 200);
	assert_int_equal(x.bodies, 0);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url(&e, "/status?s=204"), NULL, &x), 204);
	cl_free(&x);
	assert_int_equal(cl_get(&e.f, url(&e, "/status?s=304"), NULL, &x), 304);
	cl_free(&x);
	assert_int_equal(
		cl_get(&e.f, url(&e, "/chunked?n=100000&c=333"), &str, &x),
		200);
	assert_int_equal(x.got, 100000);
	cl_free(&x);
	assert_int_equal(
		cl_get(&e.f, url(&e, "/chunked?n=1000&c=10"), NULL, &x), 200);
	assert_int_equal(coil_http_req_body(x.req, &len) != NULL, 1);
	assert_int_equal(len, 1000);
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.conns_opened, 1);
	assert_int_equal(st.reused, 6);
	env_close(&e);
}

/* a POST body larger than what is copied after the head goes out as a
 * second iovec; the server echoes the request */
static void test_client_post_body(void **state)
{
	static const struct coil_http_header h[] = {
		{"X-Test", 6, "yes", 3},
	};
	size_t n = 100000, len;
	char *body = malloc(n);
	struct coil_http_req_opts o = {
		.method = "POST", .headers = h, .nheaders = 1};
	struct env e;
	struct res x;
	const char *got;

	for (size_t i = 0; i < n; i++)
		body[i] = (char)('A' + i % 23);
	o.body = body;
	o.body_len = n;
	env_open(&e, NULL);
	assert_int_equal(cl_get(&e.f, url(&e, "/echo"), &o, &x), 200);
	got = coil_http_req_body(x.req, &len);
	assert_true(len > n);
	assert_memory_equal(got + len - n, body, n);
	assert_non_null(memmem(got, len - n, "X-Test: yes\r\n", 13));
	assert_non_null(memmem(got, len - n, "Content-Length: 100000\r\n", 24));
	assert_non_null(memmem(got, len - n, "Accept: */*\r\n", 13));
	cl_free(&x);
	env_close(&e);
	free(body);
}

/* cancel: a request nobody answers, cancelled from a timer */
struct cx {
	struct res x;
	struct coil_op tmr;
};

static void cx_fire(struct coil_op *op, int res, unsigned flags)
{
	struct cx *c = coil_container_of(op, struct cx, tmr);
	(void)res;
	(void)flags;
	assert_int_equal(coil_http_req_cancel(c->x.req), 0);
	assert_int_equal(coil_http_req_cancel(c->x.req), -EALREADY);
}

/* a cancel cuts a Retry-After wait and a backoff short */
static void test_client_cancel_while_waiting_to_retry(void **state)
{
	struct coil_retry_policy p = {.max_attempts = 3,
				      .base_ns = 5 * SEC,
				      .jitter = COIL_JITTER_NONE};
	struct coil_http_req_opts o = {.retry = &p};
	struct env e;
	struct cx c;

	env_open(&e, NULL);
	/* Retry-After: 5 */
	cl_start(&e.f, url(&e, "/retry-after?k=w&v=5"), &o, &c.x);
	coil_op_init(&c.tmr, cx_fire);
	assert_int_equal(coil_timeout(e.f.loop, &c.tmr, 200 * MS, 0), 0);
	CL_RUN_UNTIL(e.f.loop, c.x.done, 5000);
	assert_int_equal(c.x.res, -ECANCELED);
	assert_true(cl_ms(&c.x) < 2000);
	assert_int_equal(fsrv_hits(&e.s, "w", NULL), 1);
	cl_free(&c.x);
	/* a 5 s backoff after a 503 */
	cl_start(&e.f, url(&e, "/flaky?k=v&f=5"), &o, &c.x);
	coil_op_init(&c.tmr, cx_fire);
	assert_int_equal(coil_timeout(e.f.loop, &c.tmr, 200 * MS, 0), 0);
	CL_RUN_UNTIL(e.f.loop, c.x.done, 5000);
	assert_int_equal(c.x.res, -ECANCELED);
	assert_true(cl_ms(&c.x) < 2000);
	assert_int_equal(c.x.info.attempts, 1);
	cl_free(&c.x);
	env_close(&e);
}

static void test_client_cancel_and_shutdown(void **state)
{
	struct env e;
	struct cx c;
	struct res more[5];

	env_open(&e, NULL);
	cl_start(&e.f, url(&e, "/never"), NULL, &c.x);
	coil_op_init(&c.tmr, cx_fire);
	assert_int_equal(coil_timeout(e.f.loop, &c.tmr, 100 * MS, 0), 0);
	CL_RUN_UNTIL(e.f.loop, c.x.done, 5000);
	assert_int_equal(c.x.res, -ECANCELED);
	assert_true(cl_ms(&c.x) >= 90 && cl_ms(&c.x) < 3000);
	assert_string_equal(c.x.err, "cancelled");
	cl_free(&c.x);
	/* shutdown ends whatever is still going */
	for (int i = 0; i < 5; i++)
		cl_start(&e.f, url(&e, "/never"), NULL, &more[i]);
	CL_RUN_UNTIL(e.f.loop, fsrv_get(&e.s, NULL, NULL, NULL) >= 5, 5000);
	coil_op_init(&e.f.shut, fx_shut_cb);
	assert_int_equal(coil_http_client_shutdown(e.f.c, &e.f.shut), 0);
	assert_int_equal(coil_http_client_shutdown(e.f.c, NULL), -EALREADY);
	CL_RUN_UNTIL(e.f.loop, e.f.shut_done, 5000);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(more[i].done, 1);
		assert_int_equal(more[i].res, -ECANCELED);
		cl_free(&more[i]);
	}
	{
		struct coil_http_req_opts o = {.url = "http://127.0.0.1/",
					       .done = cl_done};
		struct coil_http_req *r;
		assert_int_equal(coil_http_request(e.f.c, &o, &r), -ESHUTDOWN);
	}
	CL_RUN_UNTIL(e.f.loop, coil_loop_inflight(e.f.loop) == 0, 5000);
	assert_int_equal(coil_http_client_free(e.f.c), 0);
	coil_loop_free(e.f.loop);
	fsrv_stop(&e.s);
	assert_int_equal(tu_count_fds(), e.fds);
}

/* bad input: refused at once, nothing started */
static void test_client_bad_requests(void **state)
{
	static const struct coil_http_header host = {"Host", 4, "x", 1};
	static const struct coil_http_header crlf = {"X", 1, "a\r\nb", 4};
	static const struct coil_retry_policy bad = {.multiplier = 0.5};
	struct coil_http_req_opts o = {.url = "http://127.0.0.1/",
				       .done = cl_done};
	struct coil_http_req *r = NULL;
	struct fx f;

	fx_open(&f, NULL);
	assert_int_equal(coil_http_request(NULL, &o, &r), -EINVAL);
	assert_int_equal(coil_http_request(f.c, NULL, &r), -EINVAL);
	assert_int_equal(coil_http_request(f.c, &o, NULL), -EINVAL);
	o.done = NULL;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.done = cl_done;
	o.url = "http://exa mple/";
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.url = "ftp://example/";
	assert_int_equal(coil_http_request(f.c, &o, &r), -EPROTONOSUPPORT);
	o.url = "http://127.0.0.1/";
	o.method = "GE T";
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.method = "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABC";
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.method = NULL;
	o.headers = &host;
	o.nheaders = 1;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.headers = &crlf;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.headers = NULL;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.nheaders = 0;
	o.body_len = 5;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	o.body_len = 0;
	o.retry = &bad;
	assert_int_equal(coil_http_request(f.c, &o, &r), -EINVAL);
	assert_null(r);
	{
		struct coil_http_client *c2;
		struct coil_http_client_opts co = {.max_conns = 2,
						   .max_conns_per_host = 3};
		assert_int_equal(coil_http_client_new(&c2, f.loop, &co),
				 -EINVAL);
		assert_int_equal(coil_http_client_new(NULL, f.loop, NULL),
				 -EINVAL);
	}
	assert_int_equal(coil_http_req_pause(NULL), -EINVAL);
	assert_int_equal(coil_http_req_cancel(NULL), -EINVAL);
	fx_close(&f);
}

/* idle connections expire; one the server closed is dropped at once */
static void test_client_idle_timeout(void **state)
{
	struct coil_http_client_opts co = {.idle_timeout_ns = 100 * MS};
	struct coil_http_client_stats st;
	struct env e;
	struct res x;

	env_open(&e, &co);
	assert_int_equal(cl_get(&e.f, url(&e, "/ok"), NULL, &x), 200);
	cl_free(&x);
	coil_http_client_stats(e.f.c, &st);
	assert_int_equal(st.idle, 1);
	uint64_t t0 = tu_mono_ns();
	CL_RUN_UNTIL(e.f.loop,
		     (coil_http_client_stats(e.f.c, &st), st.conns == 0), 5000);
	assert_int_equal(st.conns, 0);
	assert_int_equal(st.idle_closed, 1);
	assert_true(tu_mono_ns() - t0 >= 80 * MS);
	CL_RUN_UNTIL(e.f.loop, fsrv_get(&e.s, NULL, NULL, NULL) == 0, 5000);
	assert_int_equal(fsrv_get(&e.s, NULL, NULL, NULL), 0);
	/* the server closes after its answer: not kept idle */
	assert_int_equal(cl_get(&e.f, url(&e, "/ok?close=1"), NULL, &x), 200);
	cl_free(&x);
	CL_RUN_UNTIL(e.f.loop,
		     (coil_http_client_stats(e.f.c, &st), st.conns == 0), 5000);
	assert_int_equal(st.conns, 0);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_fault_close_mid_headers),
		cmocka_unit_test(test_client_fault_close_mid_body),
		cmocka_unit_test(test_client_fault_short_content_length),
		cmocka_unit_test(test_client_fault_reset),
		cmocka_unit_test(test_client_fault_drip_deadline),
		cmocka_unit_test(test_client_fault_never_answers),
		cmocka_unit_test(test_client_fault_huge_header),
		cmocka_unit_test(test_client_fault_invalid_chunk_size),
		cmocka_unit_test(test_client_fault_body_limit),
		cmocka_unit_test(test_client_fault_connect_refused),
		cmocka_unit_test(test_client_fault_connect_timeout),
		cmocka_unit_test(test_client_fault_resolve_error),
		cmocka_unit_test(test_client_retry_503_then_200),
		cmocka_unit_test(test_client_retry_after),
		cmocka_unit_test(test_client_reuse_retry),
		cmocka_unit_test(test_client_redirects),
		cmocka_unit_test(test_client_streaming_backpressure),
		cmocka_unit_test(test_client_bodiless_and_chunked),
		cmocka_unit_test(test_client_post_body),
		cmocka_unit_test(test_client_cancel_and_shutdown),
		cmocka_unit_test(test_client_cancel_while_waiting_to_retry),
		cmocka_unit_test(test_client_bad_requests),
		cmocka_unit_test(test_client_idle_timeout),
	};
	return cmocka_run_group_tests_name("client.fault", tests, NULL, NULL);
}
