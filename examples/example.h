/*
 * examples/example.h - the few lines every example repeats: a loop (or
 * an exit with the reason), the peer's address from argv[1]
 * ("127.0.0.1:PORT", given by run-with-peer.sh), and a check that ends
 * the program with a message when an example's expectation fails.
 */
#ifndef COIL_EXAMPLE_H
#define COIL_EXAMPLE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <coil/coil.h>

#define MS 1000000ull
#define SEC 1000000000ull

static inline struct coil_loop *ex_loop(void)
{
	struct coil_loop *loop;
	int ret = coil_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "%s\n", coil_loop_strerror(ret));
		exit(ret == -ENOSYS || ret == -EPERM ? 77 : 1);
	}
	return loop;
}

/* "host:port" -> an IPv4 address (the examples' peers are local). */
static inline struct sockaddr_storage ex_addr(const char *hostport)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	char host[64];
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : 0;

	if (!colon || n >= sizeof(host)) {
		fprintf(stderr, "want host:port, got %s\n", hostport);
		exit(2);
	}
	memcpy(host, hostport, n);
	host[n] = '\0';
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		exit(2);
	return ss;
}

static inline void ex_nop_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
}

/* Run @loop until *@flag is set, 30 s at most (coil_loop_run_until();
 * coil_loop_run(COIL_RUN_DEFAULT) would also wait for the HTTP client's
 * idle keep-alive connections, which stay in flight until their idle
 * timeout). */
static inline void ex_run_until(struct coil_loop *loop, const int *flag)
{
	if (coil_loop_run_until(loop, flag, 30 * SEC) < 0) {
		fprintf(stderr, "gave up waiting after 30 s\n");
		exit(1);
	}
}

/* Shut an HTTP client down (its connections closed) and free it. */
static inline void ex_http_free(struct coil_loop *loop,
				struct coil_http_client *c)
{
	struct coil_op done;
	coil_op_init(&done, ex_nop_cb);
	if (coil_http_client_shutdown(c, &done) == 0)
		coil_loop_run(loop, COIL_RUN_DEFAULT);
	coil_http_client_free(c);
}

#define EX_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__,      \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#endif
