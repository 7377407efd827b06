/*
 * tests/server/test_server_h2.c - the request API over HTTP/2, in-process
 * (COIL_HTTP_SERVER_H2, h2c), with a handler of the test's own driven by
 * curl --http2-prior-knowledge (peer): the fields a request carries
 * (major_version 2, :authority as host, path and query), a body read
 * whole (coil_http_sreq_read_body()) and one that grows past
 * max_body_bytes (413 from the abort), a streamed answer of unknown
 * length, one that ends short (reset), an abort (reset), a field the
 * server refuses (500 instead), a file range (coil_http_respond_file()),
 * the cancel hook when the client goes away, and on_done once per
 * request. Exits 77 without curl.
 */
#include <stdatomic.h>

#include "peer.h"

static char *tmp;
static char fpath[4200];
static struct srv s;
static atomic_int cancels, dones, handled;

/* ---- the handler ---- */

static int path_is(const struct coil_http_sreq *req, const char *p)
{
	return req->path_len == strlen(p) &&
	       !memcmp(req->path, p, req->path_len);
}

static void read_done(struct coil_http_sreq *req, int status, void *arg)
{
	char body[64];
	int n;
	(void)arg;
	if (status < 0) {
		coil_http_sreq_abort(req); /* 413 for COIL_ELIMIT */
		return;
	}
	n = snprintf(body, sizeof(body), "%zu %d", req->body_len,
		     req->body_len ? ((const unsigned char *)req->body)[0]
				   : -1);
	coil_http_respond(req, 200, NULL, 0, body, (size_t)n);
}

struct delay {
	struct coil_op op;
	struct coil_http_sreq *req;
};

static void delay_fired(struct coil_op *op, int res, unsigned flags)
{
	struct delay *d = coil_container_of(op, struct delay, op);
	(void)res;
	(void)flags;
	coil_http_respond(d->req, 200, NULL, 0, "late", 4);
	free(d);
}

static void delay_cancel(struct coil_http_sreq *req, void *arg)
{
	struct delay *d = arg;
	atomic_fetch_add(&cancels, 1);
	coil_cancel(req->loop, &d->op);
}

static void stream_next(struct coil_http_sreq *req, int status, void *arg)
{
	uintptr_t k = (uintptr_t)req->data;
	(void)arg;
	if (status < 0 || k == 3) {
		coil_http_respond_end(req);
		return;
	}
	req->data = (void *)(k + 1);
	if (coil_http_respond_write(req, "abc", 3, stream_next, NULL) < 0)
		coil_http_respond_end(req);
}

static void handler(struct coil_http_sreq *req, void *arg)
{
	static const struct coil_http_header bad = {"Connection", 10, "x", 1};
	(void)arg;
	atomic_fetch_add(&handled, 1);
	if (path_is(req, "/read")) {
		coil_http_sreq_read_body(req, read_done, NULL);
	} else if (path_is(req, "/fields")) {
		char body[512];
		int n = snprintf(body, sizeof(body), "%d.%d %.*s %.*s %.*s %d",
				 req->major_version, req->minor_version,
				 (int)req->method_len, req->method,
				 (int)req->host_len, req->host,
				 (int)req->query_len, req->query,
				 req->body_kind);
		coil_http_respond(req, 200, NULL, 0, body, (size_t)n);
	} else if (path_is(req, "/delay")) {
		struct delay *d = malloc(sizeof(*d));
		assert_non_null(d);
		d->req = req;
		coil_op_init(&d->op, delay_fired);
		coil_timeout(req->loop, &d->op, 5000 * MS, 0);
		coil_http_sreq_on_cancel(req, delay_cancel, d);
	} else if (path_is(req, "/stream")) {
		req->data = NULL;
		coil_http_respond_begin(req, 200, NULL, 0,
					COIL_HTTP_LENGTH_UNKNOWN);
		stream_next(req, 0, NULL);
	} else if (path_is(req, "/short")) {
		coil_http_respond_begin(req, 200, NULL, 0, 10);
		coil_http_respond_write(req, "12345", 5, NULL, NULL);
		coil_http_respond_end(req);
	} else if (path_is(req, "/abort")) {
		coil_http_sreq_abort(req);
	} else if (path_is(req, "/badfield")) {
		assert_int_equal(coil_http_respond(req, 200, &bad, 1, "x", 1),
				 -EINVAL);
	} else if (path_is(req, "/file")) {
		int fd = open(fpath, O_RDONLY | O_CLOEXEC);
		coil_http_respond_file(req, 200, NULL, 0, fd, 10, 100000);
	} else {
		coil_http_respond(req, 404, NULL, 0, NULL, 0);
	}
}

static void on_done(struct coil_http_sreq *req, int status, uint64_t bytes,
		    void *arg)
{
	(void)req;
	(void)status;
	(void)bytes;
	(void)arg;
	atomic_fetch_add(&dones, 1);
}

static int setup(void **state)
{
	struct coil_http_server_opts o = {0};
	(void)state;
	require_prog("curl");
	tmp = tu_tmpdir();
	snprintf(fpath, sizeof(fpath), "%s/file.bin", tmp);
	make_file(fpath, 200000, 3);
	o.handler = handler;
	o.on_done = on_done;
	o.flags = COIL_HTTP_SERVER_H2;
	o.max_body_bytes = 100000;
	srv_start(&s, &o, NULL);
	return 0;
}

static int teardown(void **state)
{
	struct coil_http_server_stats st;
	int ret;
	(void)state;
	ret = srv_stop(&s, 2000, &st);
	rm_tree(tmp);
	free(tmp);
	/* every request reached on_done once (status 0 for the aborted
	 * and the cancelled ones) */
	if (ret != 0 || atomic_load(&dones) != atomic_load(&handled) ||
	    st.requests != (uint64_t)atomic_load(&handled)) {
		fprintf(stderr,
			"drain %d, on_done %d, handled %d, requests %llu\n",
			ret, atomic_load(&dones), atomic_load(&handled),
			(unsigned long long)st.requests);
		return -1;
	}
	return 0;
}

/* curl --http2-prior-knowledge @extra... URL: -w's output in *out, the
 * body to @body_path (or /dev/null). Return: curl's exit code. */
static int curl_h2(const char *path, const char *body_path,
		   const char *const extra[], char **out)
{
	char url[128], *argv[32];
	int argc = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s.port, path);
	argv[argc++] = "curl";
	argv[argc++] = "-s";
	argv[argc++] = "--http2-prior-knowledge";
	argv[argc++] = "-o";
	argv[argc++] = (char *)(body_path ? body_path : "/dev/null");
	argv[argc++] = "-w";
	argv[argc++] = "%{http_version} %{http_code}";
	for (size_t i = 0; extra && extra[i]; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc++] = url;
	argv[argc] = NULL;
	return run(argv, NULL, out, 20000);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = calloc(1, 1 << 20);
	assert_non_null(f);
	assert_non_null(b);
	if (fread(b, 1, (1 << 20) - 1, f) == 0)
		b[0] = '\0';
	fclose(f);
	return b;
}

static void test_h2_request_fields(void **state)
{
	char body[4300], *out, *b;
	(void)state;
	snprintf(body, sizeof(body), "%s/fields.out", tmp);
	assert_int_equal(
		curl_h2("/fields?a=1&b", body,
			(const char *const[]){"-H", "Host: ignored", NULL},
			&out),
		0);
	assert_string_equal(out, "2 200");
	free(out);
	b = slurp(body);
	/* curl sends the Host field as :authority over HTTP/2 */
	assert_string_equal(b, "2.0 GET ignored a=1&b 0");
	free(b);
}

static void test_h2_read_body(void **state)
{
	char in[4300], data[4400], body[4300], *out, *b;
	(void)state;
	snprintf(in, sizeof(in), "%s/up.bin", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	snprintf(body, sizeof(body), "%s/read.out", tmp);
	make_file(in, 99999, 4);
	assert_int_equal(
		curl_h2("/read", body,
			(const char *const[]){"--data-binary", data, NULL},
			&out),
		0);
	assert_string_equal(out, "2 200");
	free(out);
	b = slurp(body);
	assert_int_equal(strncmp(b, "99999 ", 6), 0);
	free(b);
}

/* A body of no declared length past max_body_bytes: COIL_ELIMIT to the
 * read, then 413 from the abort, whatever of the body still comes
 * dropped (nghttp shows the frames: curl 7.88 drops an answer followed
 * by a reset). */
static void test_h2_read_body_over_limit(void **state)
{
	char in[4300], *out;
	char url[128];
	char *argv[] = {"nghttp", "-v", "-n", "--no-content-length",
			"-d",	  in,	url,  NULL};
	(void)state;
	if (!have_prog("nghttp"))
		skip();
	snprintf(in, sizeof(in), "%s/over.bin", tmp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/read", s.port);
	make_file(in, 300000, 5);
	assert_int_equal(run(argv, NULL, &out, 20000), 0);
	assert_non_null(strstr(out, ":status: 413"));
	assert_null(strstr(out, "recv RST_STREAM"));
	free(out);
}

static void test_h2_streamed_and_short(void **state)
{
	char body[4300], *out, *b;
	(void)state;
	snprintf(body, sizeof(body), "%s/stream.out", tmp);
	assert_int_equal(curl_h2("/stream", body, NULL, &out), 0);
	assert_string_equal(out, "2 200");
	free(out);
	b = slurp(body);
	assert_string_equal(b, "abcabcabc");
	free(b);
	/* 5 of 10 announced bytes, then the end: the stream is reset */
	assert_int_equal(curl_h2("/short", NULL, NULL, &out), 92);
	free(out);
	assert_int_equal(curl_h2("/abort", NULL, NULL, &out), 92);
	free(out);
	assert_int_equal(curl_h2("/badfield", NULL, NULL, &out), 0);
	assert_string_equal(out, "2 500");
	free(out);
}

static void test_h2_respond_file_range(void **state)
{
	char body[4300], *out;
	int fd, gd;
	char *x = malloc(100000), *y = malloc(100000);
	(void)state;
	snprintf(body, sizeof(body), "%s/file.out", tmp);
	assert_int_equal(curl_h2("/file", body, NULL, &out), 0);
	assert_string_equal(out, "2 200");
	free(out);
	fd = open(fpath, O_RDONLY | O_CLOEXEC);
	gd = open(body, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(fd, x, 100000, 10), 100000);
	assert_int_equal(read(gd, y, 100000), 100000);
	assert_memory_equal(x, y, 100000);
	assert_int_equal(read(gd, y, 1), 0);
	close(fd);
	close(gd);
	free(x);
	free(y);
}

/* The client gives up on a request the handler holds: its cancel hook
 * runs once (the handler then completes it). */
static void test_h2_cancel_hook(void **state)
{
	char *out;
	uint64_t end;
	(void)state;
	atomic_store(&cancels, 0);
	assert_int_equal(curl_h2("/delay", NULL,
				 (const char *const[]){"-m", "0.3", NULL},
				 &out),
			 28);
	free(out);
	end = tu_mono_ns() + 5000 * MS;
	while (atomic_load(&cancels) == 0 && tu_mono_ns() < end)
		poll(NULL, 0, 10);
	assert_int_equal(atomic_load(&cancels), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2_request_fields),
		cmocka_unit_test(test_h2_read_body),
		cmocka_unit_test(test_h2_read_body_over_limit),
		cmocka_unit_test(test_h2_streamed_and_short),
		cmocka_unit_test(test_h2_respond_file_range),
		cmocka_unit_test(test_h2_cancel_hook),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.h2", tests, setup, teardown);
}
