/*
 * tests/server/test_serve_bin.c - the coil-serve program: --help, one-line
 * errors with exit 2, the listening line with -p 0, SIGTERM/SIGINT exit 0
 * (under AddressSanitizer a leak would make it non-zero), the access log
 * written through the ring, files under --root with path escapes refused,
 * and bad input that leaves no descriptor behind in the server.
 */
#include "peer.h"

static char *tmp;

static int setup(void **state)
{
	tmp = tu_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	peer_cleanup();
	rm_tree(tmp);
	free(tmp);
	return 0;
}

static void test_serve_help_and_errors(void **state)
{
	char *out;
	char *help[] = {COIL_SERVE_BIN, "--help", NULL};
	char *unk[] = {COIL_SERVE_BIN, "--frobnicate", NULL};
	char *badp[] = {COIL_SERVE_BIN, "-p", "70000", NULL};
	char *alone[] = {COIL_SERVE_BIN, "--cert", "x.pem", NULL};

	assert_int_equal(run(help, NULL, &out, 5000), 0);
	assert_non_null(strstr(out, "Usage: coil-serve"));
	assert_non_null(strstr(out, "--root DIR"));
	free(out);
	/* an unknown flag: exactly one line, exit 2 */
	assert_int_equal(run(unk, NULL, &out, 5000), 2);
	assert_non_null(strstr(out, "--frobnicate"));
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n')[1], '\0');
	free(out);
	assert_int_equal(run(badp, NULL, &out, 5000), 2);
	assert_non_null(strstr(out, "--port"));
	free(out);
	assert_int_equal(run(alone, NULL, &out, 5000), 2);
	free(out);
}

static void test_serve_listening_line_and_signals(void **state)
{
	const char *args[] = {"-t", "3", NULL};
	struct served sv;
	struct resp r;
	char want[64];

	serve_start(&sv, NULL, args);
	snprintf(want, sizeof(want), " threads 3 pid %ld\n", (long)sv.pid);
	assert_non_null(strstr(sv.line, want));
	assert_int_equal(strncmp(sv.url, "http://127.0.0.1:", 17), 0);
	assert_int_equal(
		cl_once(sv.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_string_equal(r.body, "Hello, World!");
	free(r.body);
	assert_int_equal(serve_stop(&sv, 10000), 0);

	/* SIGINT too, with an idle keep-alive connection open */
	serve_start(&sv, NULL, NULL);
	{
		int fd = cl_connect(sv.port);
		struct cl_in *in = calloc(1, sizeof(*in));
		cl_sends(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		free(r.body);
		kill(sv.pid, SIGINT);
		assert_true(cl_closed(fd, in, 5000));
		close(fd);
		free(in);
	}
	{
		int st = reap(sv.pid, 10000);
		peer_track(sv.pid, 0);
		sv.pid = 0;
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

static void test_serve_start_failures(void **state)
{
	char *out, port[16], root[4200];
	struct served sv;
	char *inuse[] = {COIL_SERVE_BIN, "-b", "127.0.0.1", "-p",
			 port,		 "-t", "1",	    NULL};
	char *noroot[] = {COIL_SERVE_BIN, "-p", "0", "--root", root, NULL};

	serve_start(&sv, NULL, NULL);
	snprintf(port, sizeof(port), "%u", sv.port);
	/* the port is taken by another coil-serve: refused, although both
	 * would use SO_REUSEPORT: could not start, 3 (exit_status.h) */
	assert_int_equal(run(inuse, NULL, &out, 5000), 3);
	assert_non_null(strstr(out, "cannot serve"));
	assert_non_null(strstr(out, "in use"));
	free(out);
	assert_int_equal(serve_stop(&sv, 10000), 0);
	snprintf(root, sizeof(root), "%s/missing", tmp);
	/* a --root that is not there: bad input, 2 */
	assert_int_equal(run(noroot, NULL, &out, 5000), 2);
	assert_non_null(strstr(out, "--root"));
	free(out);
}

static void test_serve_access_log(void **state)
{
	char log[4200], buf[8192];
	const char *args[] = {"-t", "2", "--access-log", log, NULL};
	struct served sv;
	struct resp r;
	ssize_t n;
	int fd, lines = 0;

	snprintf(log, sizeof(log), "%s/access.log", tmp);
	serve_start(&sv, NULL, args);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(
			cl_once(sv.port,
				"GET /status/418 HTTP/1.1\r\nHost: x\r\n\r\n",
				&r),
			0);
		assert_int_equal(r.status, 418);
		free(r.body);
	}
	assert_int_equal(cl_once(sv.port, "BAD\r\n\r\n", &r), 0);
	free(r.body);
	/* a target that tries to end the quoted field and forge another:
	 * '"', '\\' and bytes >= 0x80 are escaped as nginx does */
	assert_int_equal(cl_once(sv.port,
				 "GET /a\"_200_1\\\xff\x80~ HTTP/1.1\r\n"
				 "Host: x\r\n\r\n",
				 &r),
			 0);
	assert_int_equal(r.status, 404);
	free(r.body);
	assert_int_equal(serve_stop(&sv, 10000), 0);
	fd = open(log, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	for (char *p = buf;
	     (p = strstr(p, "\"GET /status/418 HTTP/1.1\" 418 ")); p++)
		lines++;
	assert_int_equal(lines, 10);
	assert_non_null(strstr(buf, "\"-\" 400 "));
	assert_non_null(strstr(
		buf, "\"GET /a\\x22_200_1\\x5C\\xFF\\x80~ HTTP/1.1\" 404 "));
	assert_null(strstr(buf, "\xff"));
	assert_null(strstr(buf, "a\""));
}

static void test_serve_root_files(void **state)
{
	char root[4200], path[4300], out_path[4300], url[256];
	const char *args[] = {"-t", "1", "--root", root, NULL};
	struct served sv;
	struct resp r;
	char req[512];
	static const struct {
		const char *target;
		int status;
	} cases[] = {
		{"/a.txt", 200},
		{"/sub/", 200},
		{"/sub/index.html", 200},
		{"/in", 200},
		{"/out", 403},
		{"/outdir/passwd", 403},
		{"/fifo", 403},
		/* as nginx: a directory without its '/' is redirected, one
		 * without index.html is forbidden */
		{"/sub", 301},
		{"/empty/", 403},
		{"/missing", 404},
		{"/../a.txt", 400},
		{"/sub/../a.txt", 400},
		{"/%2e%2e/a.txt", 400},
		{"/sub%2Findex.html", 400},
		{"/a.txt%00", 400},
		{"//etc/passwd", 400},
	};

	snprintf(root, sizeof(root), "%s/root", tmp);
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(path, sizeof(path), "%s/a.txt", root);
	make_file(path, 3000, 1);
	snprintf(path, sizeof(path), "%s/sub", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/index.html", root);
	make_file(path, 100, 2);
	snprintf(path, sizeof(path), "%s/empty", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/in", root);
	assert_int_equal(symlink("a.txt", path), 0);
	snprintf(path, sizeof(path), "%s/out", root);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/outdir", root);
	assert_int_equal(symlink("/etc", path), 0);
	snprintf(path, sizeof(path), "%s/fifo", root);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/big.bin", root);
	make_file(path, (5u << 20) + 12345, 3);

	serve_start(&sv, NULL, args);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
			 cases[i].target);
		assert_int_equal(cl_once(sv.port, req, &r), 0);
		if (r.status != cases[i].status)
			fail_msg("%s: %d, want %d", cases[i].target, r.status,
				 cases[i].status);
		if (r.status == 200 && strcmp(cases[i].target, "/sub/") != 0 &&
		    strcmp(cases[i].target, "/sub/index.html") != 0)
			assert_int_equal(r.body_len, 3000);
		free(r.body);
	}
	/* a big file comes back whole, also over a kept-alive connection
	 * behind a HEAD */
	{
		struct cl_in *in = calloc(1, sizeof(*in));
		int fd = cl_connect(sv.port), out;
		char v[64];
		cl_sends(fd, "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
			     "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
		assert_int_equal(cl_response(fd, in, &r, 1, 0), 0);
		assert_string_equal(
			resp_field(&r, "Content-Length", v, sizeof(v)),
			"5255225");
		assert_string_equal(
			resp_field(&r, "Content-Type", v, sizeof(v)),
			"application/octet-stream");
		free(r.body);
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_int_equal(r.body_len, (5u << 20) + 12345);
		snprintf(out_path, sizeof(out_path), "%s/big.out", tmp);
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0644);
		assert_int_equal(write(out, r.body, r.body_len),
				 (ssize_t)r.body_len);
		close(out);
		assert_true(same_file(path, out_path));
		free(r.body);
		close(fd);
		free(in);
	}
	(void)url;
	assert_int_equal(serve_stop(&sv, 10000), 0);
}

/* Bad input of every kind, then: the server still serves, holds the
 * descriptors it held before, has not grown, and exits 0. */
static void test_serve_bad_input_no_leak(void **state)
{
	char root[4200];
	const char *args[] = {"-t", "2", "--header-timeout", "300", "--root",
			      root, NULL};
	struct served sv;
	struct resp r;
	char *big = malloc(70000);
	int fds0, fds1;
	long rss0, rss1;

	snprintf(root, sizeof(root), "%s/r2", tmp);
	assert_int_equal(mkdir(root, 0755), 0);
	serve_start(&sv, NULL, args);
	fds0 = proc_fds(sv.pid); /* before any connection */
	/* warm up: every thread has served and allocated its buffers */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(cl_once(sv.port,
					 "GET /_coil/bytes/100000 HTTP/1.1\r\n"
					 "Host: x\r\n\r\n",
					 &r),
				 0);
		free(r.body);
	}
	rss0 = proc_rss_kib(sv.pid);
	assert_true(fds0 > 0);
	for (int round = 0; round < 30; round++) {
		int fd = cl_connect(sv.port);
		switch (round % 6) {
		case 0: /* malformed request line */
			cl_sends(fd, "GET /\tHTTP/1.1\r\n\r\n");
			break;
		case 1: /* oversized head */
			memset(big, 'x', 70000);
			memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
			send(fd, big, 70000, MSG_NOSIGNAL);
			break;
		case 2: /* slowloris: half a head, then silence */
			cl_sends(fd, "GET / HTTP/1.1\r\nHost:");
			break;
		case 3: /* path traversal */
			cl_sends(fd, "GET /../../etc/passwd HTTP/1.1\r\n"
				     "Host: x\r\n\r\n");
			break;
		case 4: /* reset mid-upload */
			cl_sends(fd, "POST /_coil/echo HTTP/1.1\r\nHost: x\r\n"
				     "Content-Length: 1000000\r\n\r\n");
			memset(big, 'u', 65536);
			cl_send(fd, big, 65536);
			cl_reset(fd);
			fd = -1;
			break;
		default: /* reset while a handler holds the request */
			cl_sends(fd,
				 "GET /_coil/delay/3000 HTTP/1.1\r\nHost: x\r\n"
				 "\r\n");
			cl_reset(fd);
			fd = -1;
		}
		if (fd >= 0) {
			struct cl_in *in = calloc(1, sizeof(*in));
			int st = cl_response(fd, in, &r, 0, 0);
			if (st < 0)
				fail_msg("round %d: no answer (eof %d err %d, "
					 "%zu bytes)",
					 round, in->eof, in->err, in->len);
			if (round % 6 == 0 || round % 6 == 3)
				assert_int_equal(r.status, 400);
			else if (round % 6 == 1)
				assert_int_equal(r.status, 431);
			else
				assert_int_equal(r.status, 408);
			assert_int_equal(st, 0);
			free(r.body);
			/* the server's own errors close; a traversal refused
			 * by the file server is an answer like any other */
			if (round % 6 != 3)
				assert_true(cl_closed(fd, in, 5000));
			close(fd);
			free(in);
		}
		/* and others are served meanwhile */
		assert_int_equal(cl_once(sv.port,
					 "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
					 &r),
				 0);
		assert_int_equal(r.status, 200);
		free(r.body);
	}
	/* descriptors come back once the reset connections are noticed */
	fds1 = proc_fds_settled(sv.pid);
	rss1 = proc_rss_kib(sv.pid);
	assert_int_equal(fds1, fds0);
	/* no growth beyond allocator noise (64 MiB would be a leak of
	 * 2 MiB per bad connection) */
	assert_true(rss1 - rss0 < 32 * 1024);
	assert_int_equal(serve_stop(&sv, 10000), 0);
	free(big);
}

/*
 * A ring of two 1 KiB buffers (--recv-bufs 2 --recv-buf-size 1k) under
 * 256 connections whose 650-byte requests all arrive together, twice:
 * the ring runs dry again and again, every recv parked on -ENOBUFS is
 * armed again once buffers come back, and every request is answered
 * (none waits for another's; the client's reads time out after 10 s).
 * --stats counts the re-arms: a few per request.
 */
static void test_serve_dry_ring_answers_all(void **state)
{
	enum { NC = 256, ROUNDS = 2 };
	char errp[4200], req[700], pad[601], *out, *p;
	const char *args[] = {
		"-t", "1",	 "--recv-bufs", "2", "--recv-buf-size",
		"1k", "--stats", NULL};
	struct cl_in *in = calloc(1, sizeof(*in));
	struct served sv;
	struct resp r;
	int fd[NC];
	unsigned long long rearms;

	assert_non_null(in);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
	snprintf(errp, sizeof(errp), "%s/dry.err", tmp);
	serve_start(&sv, errp, args);
	for (int i = 0; i < NC; i++)
		fd[i] = cl_connect(sv.port);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < NC; i++)
			cl_sends(fd[i], req);
		for (int i = 0; i < NC; i++) {
			if (cl_response(fd[i], in, &r, 0, 0) < 0)
				fail_msg("round %d, connection %d: no answer "
					 "(eof %d err %d)",
					 round, i, in->eof, in->err);
			assert_int_equal(r.status, 200);
			assert_string_equal(r.body, "Hello, World!");
			assert_int_equal(in->len, 0);
			free(r.body);
		}
	}
	for (int i = 0; i < NC; i++)
		close(fd[i]);
	assert_int_equal(serve_stop(&sv, 10000), 0);
	out = tu_slurp(errp, NULL);
	assert_non_null(out);
	p = strstr(out, " re-arms after a dry buffer ring");
	if (!p)
		fail_msg("no re-arm count in --stats: %s", out);
	while (p > out && p[-1] >= '0' && p[-1] <= '9')
		p--;
	rearms = strtoull(p, NULL, 10);
	print_message("%d requests through 2 KiB of buffers: %llu re-arms\n",
		      NC * ROUNDS, rearms);
	assert_true(rearms > 0);
	/* armed again as many at a time as the buffers back can take, not
	 * every parked recv each time (19,628 re-arms when they were) */
	assert_true(rearms <= NC * ROUNDS * 8);
	assert_non_null(strstr(out, "512 requests, 512 responses"));
	free(out);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_help_and_errors),
		cmocka_unit_test(test_serve_listening_line_and_signals),
		cmocka_unit_test(test_serve_start_failures),
		cmocka_unit_test(test_serve_access_log),
		cmocka_unit_test(test_serve_root_files),
		cmocka_unit_test(test_serve_bad_input_no_leak),
		cmocka_unit_test(test_serve_dry_ring_answers_all),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.bin", tests, setup, teardown);
}
