/*
 * tests/server/test_server_alloc.c - the server's hot path allocates
 * nothing: once a connection has served its first requests, thousands more
 * on it (one by one and pipelined; from memory, streamed, and a small file
 * under a root) call neither malloc, calloc nor realloc, in any thread.
 * Allocator calls are counted by defining them over glibc's
 * (__libc_malloc ...); under AddressSanitizer, which owns the allocator,
 * the test exits 77.
 */
#include "srv.h"
#include "app.h"

#include <pthread.h>
#include <signal.h>

#include "alloccount.h"

static struct serve_app app = {.root_fd = -1, .log_fd = -1};

/* Send @req @times times in one send, read back @times * @len bytes
 * (every answer has the same length). No allocation here either. */
static void exchange(int fd, const char *req, unsigned times, size_t len)
{
	static char out[16384], in[65536];
	size_t rl = strlen(req), n = 0, want = times * len, got = 0;
	for (unsigned i = 0; i < times; i++) {
		memcpy(out + n, req, rl);
		n += rl;
	}
	cl_send(fd, out, n);
	while (got < want) {
		ssize_t k = recv(fd, in, sizeof(in), 0);
		if (k < 0 && errno == EINTR)
			continue;
		assert_true(k > 0);
		got += (size_t)k;
	}
	assert_int_equal(got, want);
}

/* The length of the answer to @req (all answers of a kind have the same
 * length: the Date field is fixed-width). */
static size_t answer_len(int fd, struct cl_in *in, const char *req)
{
	struct resp r;
	size_t len;
	cl_sends(fd, req);
	assert_int_equal(
		cl_response(fd, in, &r, strncmp(req, "HEAD", 4) == 0, 0), 0);
	assert_int_equal(r.status, 200);
	len = r.head_len + r.body_len;
	free(r.body);
	return len;
}

static void test_server_hot_path_allocates_nothing(void **state)
{
	static const char *const reqs[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /_coil/bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /_coil/bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /_coil/bytes/5000 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	enum { NREQ = sizeof(reqs) / sizeof(reqs[0]) };
	struct coil_http_server_opts o = {0};
	struct cl_in *in = calloc(1, sizeof(*in));
	char *dir = *state, path[4200];
	size_t len[NREQ];
	unsigned long before;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct srv s;
	int fd;

#ifdef ALLOC_NO_COUNT
	fprintf(stderr, "skip: AddressSanitizer owns the allocator\n");
	exit(COIL_SKIP);
#endif
	a.sin_addr.s_addr = htonl(0x7f000000 | 0xa110c); /* 127.0.161.12 */
	snprintf(path, sizeof(path), "%s/f.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_int_equal(ftruncate(fd, 20000), 0);
	close(fd);
	app.root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	o.handler = serve_handler;
	o.arg = &app;
	/* Not on 127.0.0.1, where every other test connects: a port that
	 * one of them still tries (a server it stopped, a refused connect)
	 * can be this server's, and a stranger's connection allocates. */
	o.addr = (const struct sockaddr *)&a;
	o.addr_len = sizeof(a);
	srv_start(&s, &o, NULL);
	a.sin_port = htons(s.port);
	fd = cl_connect_addr(&a, 10000);
	/* warm-up: buffers of the connection, the server, the body state */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NREQ; i++)
			len[i] = answer_len(fd, in, reqs[i]);
	assert_int_equal(in->len, 0);
	for (int i = 0; i < NREQ; i++)
		exchange(fd, reqs[i], 8, len[i]);

	/* counting from 0: the first calls' sites are kept */
	__atomic_store_n(&allocs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&alloc_counting, 1, __ATOMIC_RELAXED);
	before = 0;
	for (int round = 0; round < 300; round++) {
		exchange(fd, reqs[0], 1, len[0]);
		exchange(fd, reqs[0], 16, len[0]); /* pipelined */
		exchange(fd, reqs[1], 4, len[1]);
		exchange(fd, reqs[3], 2, len[3]);
		if (round % 10 == 0) {
			exchange(fd, reqs[2], 1, len[2]);
			exchange(fd, reqs[4], 2, len[4]);
		}
	}
	{
		unsigned long n = alloc_calls() - before;
		if (n) {
			__atomic_store_n(&alloc_counting, 0, __ATOMIC_RELAXED);
			for (unsigned long i = 0; i < n && i < 8; i++)
				fprintf(stderr, "allocator call %lu from %p\n",
					i, alloc_sites[i]);
			fail_msg("%lu allocator calls in steady state", n);
		}
	}
	close(fd);
	{
		struct coil_http_server_stats st;
		assert_int_equal(srv_stop(&s, 1000, &st), 0);
		/* only this test's connection was served */
		assert_int_equal(st.accepted, 1);
	}
	close(app.root_fd);
	app.root_fd = -1;
	free(in);
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
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_server_hot_path_allocates_nothing, dir_setup,
			dir_teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.alloc", tests, NULL, NULL);
}
