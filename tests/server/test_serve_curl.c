/*
 * tests/server/test_serve_curl.c - coil-serve against curl (peer): requests
 * kept alive on one connection, HEAD, a range of statuses, 100-continue,
 * large uploads and downloads compared byte for byte, chunked uploads,
 * HTTP/1.0, and refused paths. Exits 77 without curl.
 *
 * curl no longer pipelines HTTP/1.1 (removed in 7.65); --http1.1 with
 * several URLs sends them one after another on the kept-alive connection.
 * Pipelining proper is tested with wrk (test_serve_wrk) and in-process.
 */
#include "peer.h"

static char *tmp;
static struct served sv;

static int setup(void **state)
{
	char root[4200], path[4300];
	const char *args[] = {"-t",	    "2",    "--root", root,
			      "--max-body", "256m", NULL};

	require_prog("curl");
	tmp = tu_tmpdir();
	snprintf(root, sizeof(root), "%s/root", tmp);
	if (mkdir(root, 0755) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/big.bin", root);
	make_file(path, (24u << 20) + 777, 7);
	snprintf(path, sizeof(path), "%s/index.html", root);
	make_file(path, 1000, 8);
	snprintf(path, sizeof(path), "%s/escape", root);
	if (symlink("/etc/hostname", path) != 0)
		return -1;
	serve_start(&sv, NULL, args);
	return 0;
}

static int teardown(void **state)
{
	/* exit 0 after SIGTERM (and, under AddressSanitizer, no leak) */
	return serve_teardown(&sv, tmp);
}

static void test_curl_keepalive(void **state)
{
	char *out;
	assert_int_equal(curl_each((const char *const[]){"--http1.1", NULL},
				   "%{http_code} %{num_connects}\n",
				   (const char *const[]){
					   serve_url(&sv, "/_coil/"),
					   serve_url(&sv, "/_coil/bytes/1000"),
					   serve_url(&sv, "/_coil/status/201"),
					   serve_url(&sv, "/_coil/echo"), NULL},
				   &out, 20000),
			 0);
	/* four answers, one connection made */
	assert_string_equal(out, "200 1\n200 0\n201 0\n200 0\n");
	free(out);
}

static void test_curl_hello_and_head(void **state)
{
	char *out;
	char *get[] = {"curl", "-s", serve_url(&sv, "/_coil/"), NULL};
	char *head[] = {"curl", "-s", "-I",
			serve_url(&sv, "/_coil/bytes/12345"), NULL};

	assert_int_equal(run(get, NULL, &out, 20000), 0);
	assert_string_equal(out, "Hello, World!");
	free(out);
	assert_int_equal(run(head, NULL, &out, 20000), 0);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Length: 12345\r\n"));
	assert_non_null(strstr(out, "Date: "));
	/* the head only: it ends with the empty line */
	assert_int_equal(strcmp(out + strlen(out) - 4, "\r\n\r\n"), 0);
	free(out);
}

static void test_curl_statuses(void **state)
{
	static const int codes[] = {200, 201, 202, 204, 206, 301, 302, 304,
				    400, 401, 403, 404, 405, 409, 410, 418,
				    429, 500, 501, 502, 503, 504, 599};
	char *argv[96];
	char urls[32][128];
	char expect[512] = "";
	char *out;
	int n = 0;

	argv[n++] = "curl";
	argv[n++] = "-s";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s/_coil/status/%d", sv.url,
			 codes[i]);
		argv[n++] = "-o";
		argv[n++] = "/dev/null";
		argv[n++] = urls[i];
		snprintf(expect + strlen(expect),
			 sizeof(expect) - strlen(expect), "%d\n", codes[i]);
	}
	argv[n++] = "-w";
	argv[n++] = "%{http_code}\n";
	argv[n] = NULL;
	assert_int_equal(run(argv, NULL, &out, 30000), 0);
	assert_string_equal(out, expect);
	free(out);
}

static void test_curl_100_continue_upload(void **state)
{
	char in[4200], outp[4200], data[4300];
	char *out;
	char *argv[] = {"curl",
			"-sv",
			"-H",
			"Expect: 100-continue",
			"--data-binary",
			data,
			"-o",
			outp,
			serve_url(&sv, "/_coil/echo"),
			NULL};

	snprintf(in, sizeof(in), "%s/up.bin", tmp);
	snprintf(outp, sizeof(outp), "%s/up.out", tmp);
	snprintf(data, sizeof(data), "@%s", in);
	make_file(in, (32u << 20) + 3, 11);
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	assert_non_null(strstr(out, "HTTP/1.1 100 Continue"));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	free(out);
	assert_true(same_file(in, outp));
	unlink(in);
	unlink(outp);
}

static void test_curl_chunked_upload(void **state)
{
	char in[4200], outp[4200];
	char *out;
	/* -T - reads stdin: curl sends it chunked */
	char *argv[] = {"curl", "-s",		"-T",
			"-",	"-o",		outp,
			"-w",	"%{http_code}", serve_url(&sv, "/_coil/echo"),
			NULL};

	snprintf(in, sizeof(in), "%s/chunk.bin", tmp);
	snprintf(outp, sizeof(outp), "%s/chunk.out", tmp);
	make_file(in, (3u << 20) + 99, 12);
	assert_int_equal(run(argv, in, &out, 60000), 0);
	assert_string_equal(out, "200");
	free(out);
	assert_true(same_file(in, outp));
	unlink(in);
	unlink(outp);
}

static void test_curl_downloads(void **state)
{
	char outp[4200], want[4300], ref[4300];
	char *out;
	char *file[] = {"curl",
			"-s",
			"-o",
			outp,
			"-w",
			"%{http_code} %{size_download}",
			serve_url(&sv, "/big.bin"),
			NULL};
	char *bytes[] = {"curl",
			 "-s",
			 "-o",
			 outp,
			 "-w",
			 "%{size_download}",
			 serve_url(&sv, "/_coil/bytes/50000017"),
			 NULL};
	char *http10[] = {"curl",
			  "-s",
			  "-0",
			  "-o",
			  outp,
			  "-w",
			  "%{http_version} %{size_download}",
			  serve_url(&sv, "/_coil/bytes/3000000"),
			  NULL};

	snprintf(outp, sizeof(outp), "%s/dl.out", tmp);
	snprintf(ref, sizeof(ref), "%s/root/big.bin", tmp);
	assert_int_equal(run(file, NULL, &out, 60000), 0);
	snprintf(want, sizeof(want), "200 %u", (24u << 20) + 777);
	assert_string_equal(out, want);
	free(out);
	assert_true(same_file(ref, outp));

	/* the /bytes pattern, regenerated here */
	assert_int_equal(run(bytes, NULL, &out, 60000), 0);
	assert_string_equal(out, "50000017");
	free(out);
	{
		int fd = open(outp, O_RDONLY | O_CLOEXEC);
		char buf[65536];
		uint64_t off = 0;
		ssize_t n;
		assert_true(fd >= 0);
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] !=
				    (char)('a' + (off + (uint64_t)i) % 26))
					fail_msg(
						"byte %llu",
						(unsigned long long)(off +
								     (uint64_t)
									     i));
			}
			off += (uint64_t)n;
		}
		close(fd);
		assert_int_equal(off, 50000017);
	}
	assert_int_equal(run(http10, NULL, &out, 60000), 0);
	/* the server answers with its own version (RFC 9110 §6.2) */
	assert_string_equal(out, "1.1 3000000");
	free(out);
	unlink(outp);
}

static void test_curl_refused_paths(void **state)
{
	char *out;
	assert_int_equal(
		curl_each((const char *const[]){"--path-as-is", NULL},
			  "%{http_code}\n",
			  (const char *const[]){
				  serve_url(&sv, "/../../etc/passwd"),
				  serve_url(&sv, "/%2e%2e/%2e%2e/etc/passwd"),
				  serve_url(&sv, "/escape"),
				  serve_url(&sv, "/a%2fb"),
				  serve_url(&sv, "/nothing.txt"),
				  serve_url(&sv, "/index.html"), NULL},
			  &out, 20000),
		0);
	assert_string_equal(out, "400\n400\n403\n400\n404\n200\n");
	free(out);
}

static void test_curl_413(void **state)
{
	char *out;
	char *argv[] = {"curl",
			"-s",
			"-o",
			"/dev/null",
			"-w",
			"%{http_code}",
			"-H",
			"Content-Length: 999999999999",
			"-H",
			"Expect: 100-continue",
			"-X",
			"POST",
			serve_url(&sv, "/_coil/echo"),
			NULL};

	assert_int_equal(run(argv, NULL, &out, 20000), 0);
	assert_string_equal(out, "413");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curl_keepalive),
		cmocka_unit_test(test_curl_hello_and_head),
		cmocka_unit_test(test_curl_statuses),
		cmocka_unit_test(test_curl_100_continue_upload),
		cmocka_unit_test(test_curl_chunked_upload),
		cmocka_unit_test(test_curl_downloads),
		cmocka_unit_test(test_curl_refused_paths),
		cmocka_unit_test(test_curl_413),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.curl", tests, setup,
					   teardown);
}
