/*
 * tests/server/test_serve_tls.c - coil-serve --cert/--key over TLS against
 * clients no one here wrote (peer): curl --cacert (keep-alive, large
 * download and upload compared byte for byte), openssl s_client (the
 * certificate verifies, a request is answered), wrk over https; and what a
 * TLS port must survive: plain HTTP, garbage, a handshake that stalls.
 * Over TLS 1.3 (mbedTLS 3.6; skipped with 2.28): curl --tlsv1.3 and
 * openssl s_client -tls1_3 (a second connection resumes with the first's
 * ticket), and coil-serve --tls-version 1.2 refusing a TLS-1.3-only client
 * while serving a TLS 1.2 one; --tls-no-resume: no resumption. Exits 77
 * without openssl or curl.
 */
#include "coil/tls.h"
#include "peer.h"

static char *tmp;
static char cert[4200], key[4200];
static struct served sv;

static int setup(void **state)
{
	const char *args[] = {"-t",    "2", "--cert",		cert,
			      "--key", key, "--header-timeout", "500",
			      NULL};

	require_prog("openssl");
	require_prog("curl");
	tmp = tu_tmpdir();
	make_cert(tmp, cert, key, sizeof(cert));
	serve_start(&sv, NULL, args);
	return 0;
}

static int teardown(void **state)
{
	return serve_teardown(&sv, tmp);
}

static void test_tls_listening_line(void **state)
{
	assert_int_equal(strncmp(sv.url, "https://127.0.0.1:", 18), 0);
}

static void test_tls_curl_keepalive(void **state)
{
	char *out;

	assert_int_equal(
		curl_each((const char *const[]){"--cacert", cert, NULL},
			  "%{http_code} %{num_connects} %{ssl_verify_result}\n",
			  (const char *const[]){serve_url(&sv, "/"),
						serve_url(&sv, "/status/202"),
						serve_url(&sv, "/bytes/70000"),
						NULL},
			  &out, 20000),
		0);
	assert_string_equal(out, "200 1 0\n202 0 0\n200 0 0\n");
	free(out);
}

static void test_tls_curl_large(void **state)
{
	char in[4200], outp[4200], data[4300];
	char *out;
	char *up[] = {"curl",
		      "-s",
		      "--cacert",
		      cert,
		      "--data-binary",
		      data,
		      "-o",
		      outp,
		      serve_url(&sv, "/echo"),
		      NULL};
	char *down[] = {"curl",
			"-s",
			"--cacert",
			cert,
			"-o",
			outp,
			serve_url(&sv, "/bytes/20000003"),
			NULL};

	snprintf(in, sizeof(in), "%s/up.bin", tmp);
	snprintf(outp, sizeof(outp), "%s/up.out", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	make_file(in, (16u << 20) + 5, 21);
	assert_int_equal(run(up, NULL, &out, 60000), 0);
	free(out);
	assert_true(same_file(in, outp));
	/* the /bytes pattern, written here, compared */
	{
		int fd = open(in, O_WRONLY | O_TRUNC | O_CLOEXEC);
		char buf[65536];
		uint64_t off = 0;
		while (off < 20000003) {
			size_t n = 20000003 - off < sizeof(buf)
					   ? (size_t)(20000003 - off)
					   : sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = (char)('a' + (off + i) % 26);
			assert_int_equal(write(fd, buf, n), (ssize_t)n);
			off += n;
		}
		close(fd);
	}
	assert_int_equal(run(down, NULL, &out, 60000), 0);
	free(out);
	assert_true(same_file(in, outp));
}

static void test_tls_openssl_s_client(void **state)
{
	char in[4200], *out, hp[64];
	char *argv[] = {"openssl",
			"s_client",
			"-connect",
			hp,
			"-CAfile",
			cert,
			"-verify_return_error",
			"-ign_eof",
			"-servername",
			"localhost",
			NULL};
	FILE *f;

	snprintf(hp, sizeof(hp), "127.0.0.1:%u", sv.port);
	snprintf(in, sizeof(in), "%s/req.txt", tmp);
	f = fopen(in, "w");
	assert_non_null(f);
	fputs("GET /status/418 HTTP/1.1\r\nHost: x\r\n\r\n"
	      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	      f);
	fclose(f);
	assert_int_equal(run(argv, in, &out, 20000), 0);
	assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	assert_non_null(strstr(out, "HTTP/1.1 418 "));
	assert_non_null(strstr(out, "Hello, World!"));
	free(out);
}

/* curl --tlsv1.3 --tls-max 1.3: TLS 1.3, verified */
static void test_tls13_curl(void **state)
{
	char *out;
	char *argv[] = {"curl", "-sv",	    "--tlsv1.3", "--tls-max",
			"1.3",	"--cacert", cert,	 serve_url(&sv, "/"),
			NULL};
	if (!tu_have_tls13())
		skip();
	assert_int_equal(run(argv, NULL, &out, 20000), 0);
	assert_non_null(strstr(out, "SSL connection using TLSv1.3"));
	assert_non_null(strstr(out, "Hello, World!"));
	free(out);
}

/* s_client -tls1_3, then again with the saved session: it resumes */
static void test_tls13_s_client_resumes(void **state)
{
	char in[4200], sess[4200], *out, hp[64];
	char *argv[] = {
		"openssl",  "s_client",	   "-connect",	hp,
		"-tls1_3",  "-CAfile",	   cert,	"-verify_return_error",
		"-ign_eof", "-servername", "localhost", NULL,
		NULL,	    NULL};
	FILE *f;

	if (!tu_have_tls13())
		skip();
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", sv.port);
	snprintf(in, sizeof(in), "%s/req13.txt", tmp);
	snprintf(sess, sizeof(sess), "%s/sess13.pem", tmp);
	f = fopen(in, "w");
	assert_non_null(f);
	fputs("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", f);
	fclose(f);
	argv[11] = "-sess_out";
	argv[12] = sess;
	assert_int_equal(run(argv, in, &out, 20000), 0);
	assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	assert_non_null(strstr(out, "New, TLSv1.3"));
	assert_non_null(strstr(out, "Hello, World!"));
	free(out);
	argv[11] = "-sess_in";
	assert_int_equal(run(argv, in, &out, 20000), 0);
	assert_non_null(strstr(out, "Reused, TLSv1.3"));
	assert_non_null(strstr(out, "Hello, World!"));
	free(out);
}

/* --tls-no-resume: s_client's saved session is not taken */
static void test_tls_no_resume(void **state)
{
	const char *args[] = {"--cert",		 cert, "--key", key,
			      "--tls-no-resume", NULL};
	char in[4200], sess[4200], *out, hp[64];
	/* TLS 1.2: with no ticket in TLS 1.3, s_client has no session to
	 * write out */
	char *argv[] = {"openssl",     "s_client",  "-connect", hp,
			"-tls1_2",     "-CAfile",   cert,	"-ign_eof",
			"-servername", "localhost", NULL,	NULL,
			NULL};
	struct served v2;
	FILE *f;

	serve_start(&v2, NULL, args);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", v2.port);
	snprintf(in, sizeof(in), "%s/req-nr.txt", tmp);
	snprintf(sess, sizeof(sess), "%s/sess-nr.pem", tmp);
	f = fopen(in, "w");
	assert_non_null(f);
	fputs("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", f);
	fclose(f);
	argv[10] = "-sess_out";
	argv[11] = sess;
	assert_int_equal(run(argv, in, &out, 20000), 0);
	assert_non_null(strstr(out, "Hello, World!"));
	free(out);
	argv[10] = "-sess_in";
	assert_int_equal(run(argv, in, &out, 20000), 0);
	assert_non_null(strstr(out, "Hello, World!"));
	assert_null(strstr(out, "Reused,"));
	assert_non_null(strstr(out, "New,"));
	free(out);
	assert_int_equal(serve_stop(&v2, 5000), 0);
}

/* --tls-version 1.2: a TLS-1.3-only client is refused, a 1.2 one served */
static void test_tls_version_12_only(void **state)
{
	const char *args[] = {"--cert",	       cert,  "--key", key,
			      "--tls-version", "1.2", NULL};
	struct served v2;
	char *out;

	if (!tu_have_tls13())
		skip();
	serve_start(&v2, NULL, args);
	{
		char *argv[] = {"curl",	    "-sS", "--tlsv1.3",
				"--cacert", cert,  serve_url(&v2, "/"),
				NULL};
		assert_int_not_equal(run(argv, NULL, &out, 20000), 0);
		free(out);
	}
	{
		char *argv[] = {"curl",	    "-sv", "--tls-max",		"1.2",
				"--cacert", cert,  serve_url(&v2, "/"), NULL};
		assert_int_equal(run(argv, NULL, &out, 20000), 0);
		assert_non_null(strstr(out, "SSL connection using TLSv1.2"));
		assert_non_null(strstr(out, "Hello, World!"));
		free(out);
	}
	/* and the default server takes both */
	{
		char *argv[] = {"curl",	    "-sv", "--tls-max",		"1.2",
				"--cacert", cert,  serve_url(&sv, "/"), NULL};
		assert_int_equal(run(argv, NULL, &out, 20000), 0);
		assert_non_null(strstr(out, "SSL connection using TLSv1.2"));
		free(out);
	}
	assert_int_equal(serve_stop(&v2, 5000), 0);
}

static void test_tls_wrk(void **state)
{
	char *out;
	char *argv[] = {"wrk", "-t1", "-c10", "-d2s", serve_url(&sv, "/"),
			NULL};
	if (!have_prog("wrk"))
		skip();
	assert_int_equal(run(argv, NULL, &out, 30000), 0);
	check_wrk(out);
	free(out);
}

/* Plain HTTP, garbage, a stalled handshake: each connection is closed,
 * the server goes on serving and holds no extra descriptor. */
static void test_tls_bad_input(void **state)
{
	char *out;
	char *ok[] = {"curl", "-s", "--cacert", cert, serve_url(&sv, "/"),
		      NULL};
	int fds0 = proc_fds_settled(sv.pid), fds1;
	struct cl_in *in = calloc(1, sizeof(*in));

	for (int i = 0; i < 6; i++) {
		int fd = cl_connect(sv.port);
		uint64_t t0 = tu_mono_ns();
		in->len = 0;
		in->eof = 0;
		switch (i % 3) {
		case 0:
			cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
			break;
		case 1: {
			char junk[3000];
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] = (char)(k * 7 + 3);
			cl_send(fd, junk, sizeof(junk));
			break;
		}
		default:
			/* the first bytes of a ClientHello record, then
			 * nothing: cut by the handshake time limit */
			cl_send(fd, "\x16\x03\x01\x02\x00\x01", 6);
		}
		assert_true(cl_closed(fd, in, 5000));
		assert_true(tu_mono_ns() - t0 < 5000 * MS);
		cl_reset(fd);
		assert_int_equal(run(ok, NULL, &out, 20000), 0);
		assert_string_equal(out, "Hello, World!");
		free(out);
	}
	fds1 = proc_fds_settled(sv.pid);
	assert_int_equal(fds1, fds0);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_listening_line),
		cmocka_unit_test(test_tls_curl_keepalive),
		cmocka_unit_test(test_tls_curl_large),
		cmocka_unit_test(test_tls_openssl_s_client),
		cmocka_unit_test(test_tls13_curl),
		cmocka_unit_test(test_tls13_s_client_resumes),
		cmocka_unit_test(test_tls_version_12_only),
		cmocka_unit_test(test_tls_no_resume),
		cmocka_unit_test(test_tls_wrk),
		cmocka_unit_test(test_tls_bad_input),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.tls", tests, setup, teardown);
}
