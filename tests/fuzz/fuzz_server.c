/*
 * tests/fuzz/fuzz_server.c - the server's path from the socket up: each
 * input is sent over a real loopback connection to one in-process server
 * (coil_http_threads_start(), one thread, coil-serve's handler from
 * tools/coil-serve/app.c, short time limits), in pieces, and then ended
 * with the client's FIN, a plain close or a reset.
 *
 * Input: byte 0 how the connection ends (bits 0-1: 0 FIN and read to the
 * end, 1 close, 2 reset (SO_LINGER 0), 3 FIN and close at once); byte 1
 * the size of each write (0: all at once); the rest is sent.
 *
 * Beyond the sanitizers' checks: whatever the server sends parses as
 * HTTP/1.1 responses up to the point the connection ended (a response
 * head is never malformed), and every 64 inputs a fresh connection still
 * gets 200 for GET / (the server neither crashed nor stalled).
 *
 * This target runs on the engine (io_uring, a thread per loop), so it is
 * always linked with driver.c against the project's library (built with
 * its sanitizers in the CI's ASan run), not with libFuzzer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coil/http.h"
#include "app.h"

#define OUT_MAX (1 << 16)
#define END_MS 300 /* how long a FIN'd connection is read */

static struct serve_app app = {.root_fd = -1, .log_fd = -1};
static struct coil_http_threads *srv;
static struct sockaddr_in addr;
static unsigned long inputs;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_server: broken: %s\n", what);
		abort();
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void start(void)
{
	struct coil_http_server_opts o = {0};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int ret;

	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o.addr = (const struct sockaddr *)&addr;
	o.addr_len = sizeof(addr);
	o.handler = serve_handler;
	o.arg = &app;
	o.header_timeout_ns = 200000000ull;
	o.body_timeout_ns = 200000000ull;
	o.linger_ns = 50000000ull;
	ret = coil_http_threads_start(&srv, &o, NULL);
	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "skip: %s\n", coil_loop_strerror(ret));
		exit(77);
	}
	check(ret == 0, "server start");
	check(coil_http_threads_addr(srv, &ss, &len) == 0, "server address");
	addr.sin_port = ((struct sockaddr_in *)&ss)->sin_port;
}

static int conn(void)
{
	struct timeval tv = {2, 0};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd >= 0, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	check(connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0,
	      "connect");
	return fd;
}

/* Read what arrives within @ms (0: what is there now); the first
 * OUT_MAX bytes are kept in @out. Return 1 at EOF or reset. */
static int drain(int fd, char *out, size_t *len, unsigned ms)
{
	static char sink[OUT_MAX];
	uint64_t end = now_ms() + ms;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		uint64_t t = now_ms();
		char *to = *len < OUT_MAX ? out + *len : sink;
		size_t room = *len < OUT_MAX ? OUT_MAX - *len : sizeof(sink);
		ssize_t n;
		if (poll(&p, 1, t < end ? (int)(end - t) : 0) <= 0)
			return 0;
		n = recv(fd, to, room, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
		if (n > 0 && to != sink)
			*len += (size_t)n;
	}
}

/* The responses at the start of @out parse (a partial one at the end is
 * fine: the connection may have ended there). */
static void check_output(const char *out, size_t len)
{
	struct coil_http_header hs[64];
	struct coil_http_msg m;
	int r;

	if (len == 0)
		return;
	coil_http_msg_init(&m, hs, 64);
	r = coil_http_parse_response(&m, out, len, 0);
	check(r > 0 || r == COIL_HTTP_PARTIAL, "response head parses");
	if (r > 0)
		check(m.status >= 100 && m.status <= 599, "status in range");
}

static void expect_serving(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n";
	char *out = malloc(OUT_MAX);
	size_t len = 0;
	int fd = conn();
	check(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) ==
		      (ssize_t)(sizeof(req) - 1),
	      "send GET /");
	check(drain(fd, out, &len, 5000), "GET / answered and closed");
	close(fd);
	check(len > 12 && memcmp(out, "HTTP/1.1 200", 12) == 0,
	      "GET / gets 200");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *out;
	size_t len = 0, piece, off = 2;
	unsigned how;
	int fd;

	if (!srv) {
		start();
		out = malloc(OUT_MAX);
		check(out != NULL, "malloc");
	}
	if (size < 2)
		return 0;
	how = data[0] & 3;
	piece = data[1] ? data[1] : size;
	fd = conn();
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		ssize_t k = send(fd, data + off, n, MSG_NOSIGNAL);
		if (k <= 0)
			break; /* the server ended the connection */
		off += (size_t)k;
		if (data[1])
			drain(fd, out, &len, 0);
	}
	if (how == 2) {
		struct linger lg = {1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	} else if (how != 1) {
		shutdown(fd, SHUT_WR);
		if (how == 0)
			drain(fd, out, &len, END_MS);
	}
	close(fd);
	check_output(out, len);
	if (++inputs % 64 == 0)
		expect_serving();
	return 0;
}
