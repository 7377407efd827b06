/*
 * tests/server/test_serve_h2.c - coil-serve --http2 against HTTP/2 clients
 * no one here wrote (peer): curl --http2-prior-knowledge (h2c, RFC 9113
 * §3.3) and curl --http2 over TLS (ALPN h2, §3.2): the protocol each
 * reports, several requests on one connection, statuses, HEAD, 204,
 * bodies up and down compared byte for byte, files under --root; the
 * limits answered per stream (431 for a head over the limit, 413 for a
 * body declared or grown over --max-body; a body that grows over it once
 * the answer began: the 200, then the stream's reset, in that order for
 * curl and for nghttp's frames); h2load with -m10 over h2c and
 * TLS: every request answered 2xx, and the access log holds exactly the
 * requests h2load counted; nghttp's view of the SETTINGS; HTTP/1.1 still
 * served on the same ports. Each server stops with exit 0 (under
 * AddressSanitizer: nothing leaked). Exits 77 without curl, h2load,
 * nghttp or openssl.
 */
#include "serve_h2.h"

static char *tmp;
static char cert[4200], key[4200], root[4200], logp[4200];
static struct served h2c, h2s;

static int setup(void **state)
{
	char path[4300];
	const char *a1[] = {"-t",      "1",
			    "--http2", "--root",
			    root,      "--max-body",
			    "1m",      "--access-log",
			    logp,      "--header-timeout",
			    "400",     "--idle-timeout",
			    "400",     NULL};
	const char *a2[] = {"-t",    "2", "--http2",	"--cert", cert,
			    "--key", key, "--max-body", "64m",	  NULL};

	(void)state;
	if (serve_h2_prepare(&tmp, cert, key, root, logp, sizeof(cert)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/big.bin", root);
	make_file(path, (3u << 20) + 333, 11);
	snprintf(path, sizeof(path), "%s/index.html", root);
	make_file(path, 1000, 12);
	serve_start(&h2c, NULL, a1);
	serve_start(&h2s, NULL, a2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return serve_h2_teardown(&h2c, &h2s, tmp);
}

/* curl --http2-prior-knowledge @path: "version status bytes\n" in *out.
 * One URL per curl: curl 7.88 fails a second transfer on an h2c
 * connection (nginx's as well); one connection carrying many streams is
 * h2load's and nghttp's to show. */
static int curl_h2c(const char *path, char **out)
{
	return curl_each((const char *const[]){"--http2-prior-knowledge",
					       "--path-as-is", NULL},
			 "%{http_version} %{http_code} %{size_download}\n",
			 (const char *const[]){serve_url(&h2c, path), NULL},
			 out, 20000);
}

/* h2c: curl speaks HTTP/2 from the first byte; each request answered as
 * HTTP/1.1 would be (with --root the built-ins are under /_coil). */
static void test_h2c_curl_prior_knowledge(void **state)
{
	static const char *const want[][2] = {
		{"/_coil/", "2 200 13\n"},
		{"/_coil/bytes/100000", "2 200 100000\n"},
		{"/_coil/status/503", "2 503 24\n"},
		{"/_coil/status/204", "2 204 0\n"},
		{"/nothing", "2 404 14\n"},
		{"/index.html", "2 200 1000\n"},
		{"/_coil/bytes/x", "2 400 16\n"},
		{"/../etc/passwd", "2 400 16\n"},
	};
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(curl_h2c(want[i][0], &out), 0);
		if (strcmp(out, want[i][1]) != 0)
			fail_msg("%s: '%s', want '%s'", want[i][0], out,
				 want[i][1]);
		free(out);
	}
}

/* The bytes themselves: "/", HEAD (content-length, no body), /echo of a
 * 700 KB body, a 3 MB file from --root, all compared. */
static void test_h2c_bodies(void **state)
{
	char in[4200], outp[4200], data[4300], file[4300];
	char *out;
	char *hello[] = {"curl", "-s", "--http2-prior-knowledge",
			 serve_url(&h2c, "/_coil/"), NULL};
	char *head[] = {"curl", "-sI", "--http2-prior-knowledge",
			serve_url(&h2c, "/_coil/bytes/5000"), NULL};
	char *up[] = {"curl",
		      "-s",
		      "--http2-prior-knowledge",
		      "--data-binary",
		      data,
		      "-o",
		      outp,
		      serve_url(&h2c, "/_coil/echo"),
		      NULL};
	char *down[] = {"curl", "-s", "--http2-prior-knowledge",
			"-o",	outp, serve_url(&h2c, "/big.bin"),
			NULL};

	(void)state;
	assert_int_equal(run(hello, NULL, &out, 20000), 0);
	assert_string_equal(out, "Hello, World!");
	free(out);
	assert_int_equal(run(head, NULL, &out, 20000), 0);
	assert_non_null(strstr(out, "HTTP/2 200"));
	assert_non_null(strstr(out, "content-length: 5000"));
	assert_non_null(strstr(out, "content-type: application/octet-stream"));
	assert_non_null(strstr(out, "date: "));
	free(out);
	snprintf(in, sizeof(in), "%s/up.bin", tmp);
	snprintf(outp, sizeof(outp), "%s/up.out", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	make_file(in, 700001, 13);
	assert_int_equal(run(up, NULL, &out, 30000), 0);
	free(out);
	assert_true(same_file(in, outp));
	snprintf(file, sizeof(file), "%s/big.bin", root);
	assert_int_equal(run(down, NULL, &out, 30000), 0);
	free(out);
	assert_true(same_file(file, outp));
}

/* The limits, per stream: a head over 8 KiB is answered 431, a body
 * declared over --max-body 413, a body of no declared length that grows
 * over it once /echo's answer began: the 200, then RST_STREAM
 * INTERNAL_ERROR (the handler's abort; RFC 9113 §8.1: the client sees the
 * answer before the reset), the stream's end and not the connection's. */
static void test_h2c_limits(void **state)
{
	char big[12000], hdr[12100], in[4200], data[4300];
	char *out;
	char *h431[] = {"curl",
			"-s",
			"--http2-prior-knowledge",
			"-o",
			"/dev/null",
			"-w",
			"%{http_version} %{http_code}\n",
			"-H",
			hdr,
			serve_url(&h2c, "/_coil/"),
			NULL};
	char *h413[] = {"curl",
			"-s",
			"--http2-prior-knowledge",
			"-o",
			"/dev/null",
			"-w",
			"%{http_version} %{http_code}\n",
			"--data-binary",
			data,
			serve_url(&h2c, "/_coil/echo"),
			NULL};
	char *h413s[] = {"curl",
			 "-sv",
			 "--http2-prior-knowledge",
			 "-o",
			 "/dev/null",
			 "-T",
			 "-",
			 serve_url(&h2c, "/_coil/echo"),
			 NULL};
	char *h413n[] = {"nghttp",
			 "-v",
			 "-n",
			 "--no-content-length",
			 "-d",
			 in,
			 serve_url(&h2c, "/_coil/echo"),
			 NULL};
	const char *ok, *rst;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(hdr, sizeof(hdr), "X-Big: %s", big);
	assert_int_equal(run(h431, NULL, &out, 20000), 0);
	assert_string_equal(out, "2 431\n");
	free(out);
	snprintf(in, sizeof(in), "%s/over.bin", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	make_file(in, (1u << 20) + 1, 14);
	assert_int_equal(run(h413, NULL, &out, 20000), 0);
	assert_string_equal(out, "2 413\n");
	free(out);
	/* from stdin: no content-length; /echo's answer has begun when
	 * the body grows past the limit, so the stream is reset (as an
	 * HTTP/1.1 connection would be closed), not the connection; the
	 * reset follows the answer's head even when the limit is crossed in
	 * the turn the answer began, before the session sent anything (once
	 * the reset went first and nghttp2 dropped the head: seen under ASan
	 * at ctest -j2; http/h2_record.c, coil__h2_rst()). Three rounds: the
	 * turns fall differently each time. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(run(h413s, in, &out, 20000), 92);
		ok = strstr(out, "< HTTP/2 200");
		rst = strstr(out, "was not closed cleanly: INTERNAL_ERROR");
		if (!ok || !rst || ok > rst)
			fail_msg("curl, round %d: the 200, then the reset, "
				 "wanted:\n%s",
				 i + 1, out);
		free(out);
	}
	/* nghttp's frames, as they came: HEADERS with :status 200, then
	 * RST_STREAM INTERNAL_ERROR on the same stream */
	assert_true(run(h413n, NULL, &out, 20000) >= 0);
	ok = strstr(out, "(stream_id=13) :status: 200");
	rst = strstr(out, "recv RST_STREAM frame <length=4, flags=0x00, "
			  "stream_id=13>\n          "
			  "(error_code=INTERNAL_ERROR(0x02))");
	if (!ok || !rst || ok > rst)
		fail_msg("nghttp: the 200, then the reset, wanted:\n%s", out);
	free(out);
}

/* TLS: ALPN chooses h2; curl verifies the certificate; several requests
 * on one connection; a 20 MB upload echoed back and compared; and a
 * client that offers only http/1.1 still gets HTTP/1.1. */
static void test_h2_tls_curl(void **state)
{
	char in[4200], outp[4200], data[4300];
	char *out;
	char *up[] = {"curl",	 "-s",
		      "--http2", "--cacert",
		      cert,	 "--data-binary",
		      data,	 "-o",
		      outp,	 serve_url(&h2s, "/echo"),
		      NULL};

	(void)state;
	assert_int_equal(
		curl_each((const char *const[]){"--http2", "--cacert", cert,
						NULL},
			  "%{http_version} %{http_code} %{num_connects} "
			  "%{ssl_verify_result} %{size_download}\n",
			  (const char *const[]){serve_url(&h2s, "/"),
						serve_url(&h2s, "/bytes/70000"),
						serve_url(&h2s, "/status/202"),
						NULL},
			  &out, 20000),
		0);
	assert_string_equal(out, "2 200 1 0 13\n2 200 0 0 70000\n"
				 "2 202 0 0 13\n");
	free(out);
	assert_int_equal(
		curl_each((const char *const[]){"--http1.1", "--cacert", cert,
						NULL},
			  "%{http_version} %{http_code}\n",
			  (const char *const[]){serve_url(&h2s, "/"), NULL},
			  &out, 20000),
		0);
	assert_string_equal(out, "1.1 200\n");
	free(out);
	snprintf(in, sizeof(in), "%s/up20.bin", tmp);
	snprintf(outp, sizeof(outp), "%s/up20.out", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	make_file(in, (20u << 20) + 7, 15);
	assert_int_equal(run(up, NULL, &out, 60000), 0);
	free(out);
	assert_true(same_file(in, outp));
}

/* HTTP/1.1 is still served on the h2c port. */
static void test_h2c_port_speaks_http11(void **state)
{
	char *out;
	(void)state;
	assert_int_equal(
		curl_each((const char *const[]){"--http1.1", NULL},
			  "%{http_version} %{http_code}\n",
			  (const char *const[]){
				  serve_url(&h2c, "/_coil/"),
				  serve_url(&h2c, "/_coil/status/201"), NULL},
			  &out, 20000),
		0);
	assert_string_equal(out, "1.1 200\n1.1 201\n");
	free(out);
}

/* h2load -c4 -m10 over h2c: 4000 requests, all 2xx; the access log
 * counts exactly them. */
static void test_h2c_h2load_access_log(void **state)
{
	char *out;
	long before, after;
	char *argv[] = {"h2load", "-n", "4000", "-c",
			"4",	  "-m", "10",	serve_url(&h2c, "/_coil/"),
			NULL};

	(void)state;
	before = log_lines_flushed(logp);
	assert_true(before >= 0);
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	check_h2load(out, 4000);
	free(out);
	after = log_lines_settled(logp, before + 4000);
	assert_int_equal(after - before, 4000);
}

/* h2load -c8 -m10 over TLS with streamed bodies (/bytes/20000 each). */
static void test_h2_tls_h2load(void **state)
{
	char *out;
	char *argv[] = {"h2load", "-n", "2000", "-c",
			"8",	  "-m", "10",	serve_url(&h2s, "/bytes/20000"),
			NULL};
	(void)state;
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	check_h2load(out, 2000);
	assert_non_null(strstr(out, "traffic: "));
	free(out);
}

/* HTTP/2 frames read from a raw connection: the types seen, in order,
 * until EOF (or @ms pass); the GOAWAY's error code in *@code. */
static int read_frames(int fd, char *types, size_t cap, uint32_t *code,
		       unsigned ms)
{
	struct cl_in *in = calloc(1, sizeof(*in));
	size_t nt = 0, left;
	const unsigned char *p;
	int eof;

	assert_non_null(in);
	eof = cl_closed(fd, in, ms);
	p = (const unsigned char *)in->buf;
	left = in->len;
	while (left >= 9 && nt + 1 < cap) {
		size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
		if (left < 9 + len)
			break;
		types[nt++] = (char)('0' + p[3]);
		if (p[3] == 7 && len >= 8)
			*code = (uint32_t)p[13] << 24 | (uint32_t)p[14] << 16 |
				(uint32_t)p[15] << 8 | p[16];
		p += 9 + len;
		left -= 9 + len;
	}
	types[nt] = '\0';
	free(in);
	return eof;
}

/* A client that sends the preface and SETTINGS and then nothing: after
 * --header-timeout (400 ms) the server sends GOAWAY NO_ERROR and closes. */
static void test_h2c_silent_client_goaway(void **state)
{
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				  "\0\0\0\x04\0\0\0\0\0";
	char types[32];
	uint32_t code = 99;
	uint64_t t0 = tu_mono_ns(), dt;
	int fd = cl_connect(h2c.port);

	(void)state;
	cl_send(fd, pre, sizeof(pre) - 1);
	assert_true(read_frames(fd, types, sizeof(types), &code, 5000));
	dt = (tu_mono_ns() - t0) / MS;
	close(fd);
	/* our SETTINGS first, ..., GOAWAY last */
	assert_int_equal(types[0], '4');
	assert_int_equal(types[strlen(types) - 1], '7');
	assert_int_equal(code, 0);
	assert_true(dt >= 300 && dt < 4000);
}

/* Not the preface after all: HTTP/1.1 takes the bytes and answers 505
 * for "HTTP/2.0" in a request line, as without --http2. */
static void test_h2c_bad_preface(void **state)
{
	struct resp r;
	(void)state;
	assert_int_equal(
		cl_once(h2c.port, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 505);
	free(r.body);
}

/* nghttp -v: the server's SETTINGS carry its limits; three requests on
 * one connection at once, each answered on its own stream. */
static void test_h2c_nghttp_settings(void **state)
{
	char *out;
	char *argv[] = {"nghttp",
			"-v",
			"-n",
			serve_url(&h2c, "/_coil/"),
			serve_url(&h2c, "/_coil/status/201"),
			serve_url(&h2c, "/_coil/bytes/70000"),
			NULL};
	(void)state;
	assert_int_equal(run(argv, NULL, &out, 20000), 0);
	assert_non_null(
		strstr(out, "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128"));
	assert_non_null(strstr(out, "(stream_id=13) :status: 200"));
	assert_non_null(strstr(out, "(stream_id=15) :status: 201"));
	assert_non_null(strstr(out, "(stream_id=17) :status: 200"));
	assert_non_null(strstr(out, "(stream_id=17) content-length: 70000"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2c_curl_prior_knowledge),
		cmocka_unit_test(test_h2c_bodies),
		cmocka_unit_test(test_h2c_limits),
		cmocka_unit_test(test_h2c_port_speaks_http11),
		cmocka_unit_test(test_h2_tls_curl),
		cmocka_unit_test(test_h2c_h2load_access_log),
		cmocka_unit_test(test_h2_tls_h2load),
		cmocka_unit_test(test_h2c_nghttp_settings),
		cmocka_unit_test(test_h2c_silent_client_goaway),
		cmocka_unit_test(test_h2c_bad_preface),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.h2", tests, setup, teardown);
}
