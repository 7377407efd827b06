/*
 * bench/stream-echo/stream_echo.c - TCP ping-pong through coil streams
 * (include/coil/stream.h) on 127.0.0.1: N connections made with
 * coil_tcp_connect() to a coil_listener, one message in flight per
 * connection, the server on one loop/thread (CPU 0) echoing with
 * back-pressure (reading paused while its write is out), the client on
 * another (CPU 1). The client may split each message into K writes
 * (--split) to show the write queue gathering them into one send.
 *
 * Printed per run: round trips/s, the loops' io_uring_enter(2) calls per
 * round trip (coil_loop_stats), sends per write on each side (stream
 * stats), CPU per round trip, and the allocator calls made by the whole
 * process during the measured window (this binary counts malloc, calloc
 * and realloc by defining them over glibc's): the data path should make
 * none.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "../common/benchutil.h"
#include "coil/stream.h"

/* ---- allocator calls ---- */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
static atomic_ulong allocs;

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

/* ---- options and shared state ---- */

#define MAX_SPLIT 64
#define MAX_MSG 4096

struct opts {
	int conns;
	int secs;
	int msg;
	int split;
};

static struct opts o = {.conns = 50, .secs = 5, .msg = 64, .split = 1};
static unsigned short port;
static atomic_int srv_ready;
static uint64_t t_start, t_end; /* the measured window (monotonic ns) */
static unsigned long allocs_start, allocs_end;

static void die(const char *what, int err)
{
	fprintf(stderr, "stream-echo: %s: %s\n", what, coil_strerror(err));
	exit(1);
}

/* What each side measures over the window. */
struct side {
	struct coil_loop_stats st0, st1;
	struct bu_cpu cpu0, cpu1;
	uint64_t sends0, sends1, writes0, writes1;
	int opened, closed;
};

static void window(struct side *sd, struct coil_loop *loop, int *phase,
		   uint64_t sends, uint64_t writes)
{
	uint64_t now = bu_mono_ns();
	if (*phase == 0 && now >= t_start) {
		coil_loop_stats(loop, &sd->st0);
		sd->cpu0 = bu_thread_cpu();
		sd->sends0 = sends;
		sd->writes0 = writes;
		*phase = 1;
	} else if (*phase == 1 && now >= t_end) {
		coil_loop_stats(loop, &sd->st1);
		sd->cpu1 = bu_thread_cpu();
		sd->sends1 = sends;
		sd->writes1 = writes;
		*phase = 2;
	}
}

/* ---- server ---- */

struct sconn {
	struct coil_tcp t;
	struct coil_stream_write w;
	unsigned char buf[MAX_MSG];
};

static struct sconn *sconns;
static struct side srv;
static uint64_t srv_sends, srv_writes;

static void s_read(struct coil_stream *s, ssize_t n, const void *b);

static void s_closed(struct coil_stream *s)
{
	struct sconn *c = coil_container_of(s, struct sconn, t.s);
	srv_sends += coil_stream_stats(&c->t.s).sends;
	srv_writes += coil_stream_stats(&c->t.s).writes;
	srv.closed++;
}

static void s_written(struct coil_stream_write *w, int status)
{
	struct sconn *c = coil_container_of(w, struct sconn, w);
	if (status < 0 || coil_stream_read_start(&c->t.s, s_read) < 0)
		coil_stream_close(&c->t.s, s_closed);
}

static void s_read(struct coil_stream *s, ssize_t n, const void *b)
{
	struct sconn *c = coil_container_of(s, struct sconn, t.s);
	if (n <= 0) {
		coil_stream_close(s, s_closed);
		return;
	}
	if ((size_t)n > sizeof(c->buf))
		n = sizeof(c->buf);
	memcpy(c->buf, b, (size_t)n);
	coil_stream_read_stop(s); /* one write out at a time */
	if (coil_stream_write(s, &c->w, c->buf, (size_t)n, s_written) < 0)
		coil_stream_close(s, s_closed);
}

static void s_conn(struct coil_listener *l, int fd)
{
	struct sconn *c;
	if (fd < 0)
		return;
	if (srv.opened >= o.conns) {
		close(fd);
		return;
	}
	c = &sconns[srv.opened];
	if (coil_tcp_open(l->loop, &c->t, fd, NULL) < 0) {
		close(fd);
		return;
	}
	srv.opened++;
	coil_stream_read_start(&c->t.s, s_read);
}

static void *server_main(void *arg)
{
	struct coil_loop *loop;
	struct coil_listener l = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct sockaddr_storage ss;
	struct coil_loop_opts lo = {.sq_entries = 4096};
	socklen_t len;
	int ret, phase = 0, lclosed = 0;

	bu_pin(0);
	ret = coil_loop_new(&loop, &lo);
	if (ret < 0)
		die("server loop", ret);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ret = coil_listener_open(loop, &l, (struct sockaddr *)&a, sizeof(a),
				 &(struct coil_listener_opts){.backlog = 4096},
				 s_conn);
	if (ret < 0 || (ret = coil_listener_addr(&l, &ss, &len)) < 0)
		die("listener", ret);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	atomic_store(&srv_ready, 1);
	while (!(srv.opened == o.conns && srv.closed == o.conns)) {
		uint64_t sends = 0;
		if (coil_loop_run(loop, COIL_RUN_ONCE) < 0)
			break;
		if (phase < 2 && bu_mono_ns() >= t_start && t_start) {
			for (int i = 0; i < srv.opened; i++)
				sends +=
					coil_stream_stats(&sconns[i].t.s).sends;
			window(&srv, loop, &phase, sends, 0);
		}
		if (!lclosed && srv.opened == o.conns) {
			coil_listener_close(&l, NULL);
			lclosed = 1;
		}
	}
	if (!lclosed)
		coil_listener_close(&l, NULL);
	while (coil_loop_inflight(loop))
		coil_loop_run(loop, COIL_RUN_ONCE);
	coil_loop_free(loop);
	return NULL;
}

/* ---- client ---- */

struct cconn {
	struct coil_tcp t;
	struct coil_stream_write w[MAX_SPLIT];
	unsigned char out[MAX_MSG];
	int got;
	int done;
};

static struct cconn *cconns;
static struct side cli;
static uint64_t rts_window, rts_total;
static int cli_phase, connected, failed, stopping;
static struct sockaddr_storage target;

static void c_send(struct cconn *c)
{
	int piece = o.msg / o.split;
	for (int i = 0; i < o.split; i++) {
		int off = i * piece;
		int len = i == o.split - 1 ? o.msg - off : piece;
		if (coil_stream_write(&c->t.s, &c->w[i], c->out + off,
				      (size_t)len, NULL) < 0)
			failed++;
	}
}

static void c_closed(struct coil_stream *s)
{
	cli.closed++;
}

static void c_read(struct coil_stream *s, ssize_t n, const void *b)
{
	struct cconn *c = coil_container_of(s, struct cconn, t.s);
	if (n <= 0) {
		failed++;
		coil_stream_close(s, c_closed);
		return;
	}
	c->got += (int)n;
	if (c->got < o.msg)
		return;
	c->got = 0;
	rts_total++;
	if (cli_phase == 1)
		rts_window++;
	if (stopping) {
		c->done = 1;
		coil_stream_close(s, c_closed);
		return;
	}
	c_send(c);
}

static void c_connected(struct coil_stream *s, int status)
{
	struct cconn *c = coil_container_of(s, struct cconn, t.s);
	if (status < 0) {
		failed++;
		die("connect", status);
	}
	connected++;
	coil_stream_read_start(s, c_read);
	(void)c;
}

static void *client_main(void *arg)
{
	struct coil_loop *loop;
	struct coil_loop_opts lo = {.sq_entries = 4096};
	struct sockaddr_in a = {.sin_family = AF_INET};
	int ret;

	bu_pin(1);
	ret = coil_loop_new(&loop, &lo);
	if (ret < 0)
		die("client loop", ret);
	while (!atomic_load(&srv_ready))
		sched_yield();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	memcpy(&target, &a, sizeof(a));
	for (int i = 0; i < o.conns; i++) {
		memset(cconns[i].out, 'x', sizeof(cconns[i].out));
		ret = coil_tcp_connect(loop, &cconns[i].t, &target, 1, NULL,
				       c_connected);
		if (ret < 0)
			die("connect", ret);
		if (i % 256 == 255) /* do not overrun the listen backlog */
			coil_loop_run(loop, COIL_RUN_NOWAIT);
	}
	while (connected < o.conns)
		if (coil_loop_run(loop, COIL_RUN_ONCE) < 0)
			break;
	/* all up: start, warm up for 1 s, then measure */
	t_start = bu_mono_ns() + 1000000000ull;
	t_end = t_start + (uint64_t)o.secs * 1000000000ull;
	for (int i = 0; i < o.conns; i++)
		c_send(&cconns[i]);
	while (cli.closed < o.conns) {
		if (coil_loop_run(loop, COIL_RUN_ONCE) < 0)
			break;
		if (cli_phase < 2) {
			uint64_t sends = 0, writes = 0;
			int was = cli_phase;
			for (int i = 0; cli_phase < 2 && i < o.conns; i++) {
				sends +=
					coil_stream_stats(&cconns[i].t.s).sends;
				writes += coil_stream_stats(&cconns[i].t.s)
						  .writes;
			}
			window(&cli, loop, &cli_phase, sends, writes);
			if (was == 0 && cli_phase == 1)
				allocs_start = atomic_load(&allocs);
			if (was == 1 && cli_phase == 2) {
				allocs_end = atomic_load(&allocs);
				stopping = 1;
			}
		}
	}
	while (coil_loop_inflight(loop))
		coil_loop_run(loop, COIL_RUN_ONCE);
	coil_loop_free(loop);
	return NULL;
}

static double cpu_us(const struct side *s)
{
	return (double)(s->cpu1.user_ns - s->cpu0.user_ns + s->cpu1.sys_ns -
			s->cpu0.sys_ns) /
	       1e3;
}

int main(int argc, char **argv)
{
	pthread_t ts, tc;
	double rts, secs;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--conns"))
			o.conns = (int)bu_arg_long(k, v, 1, 9000);
		else if (!strcmp(k, "--secs"))
			o.secs = (int)bu_arg_long(k, v, 1, 60);
		else if (!strcmp(k, "--msg"))
			o.msg = (int)bu_arg_long(k, v, 1, MAX_MSG);
		else if (!strcmp(k, "--split"))
			o.split = (int)bu_arg_long(k, v, 1, MAX_SPLIT);
		else {
			fprintf(stderr, "usage: stream_echo [--conns N] "
					"[--secs S] [--msg B] [--split K]\n");
			return 2;
		}
	}
	if (o.split > o.msg)
		o.split = o.msg;
	sconns = calloc((size_t)o.conns, sizeof(*sconns));
	cconns = calloc((size_t)o.conns, sizeof(*cconns));
	if (!sconns || !cconns)
		die("memory", -ENOMEM);
	pthread_create(&ts, NULL, server_main, NULL);
	pthread_create(&tc, NULL, client_main, NULL);
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	if (failed)
		fprintf(stderr, "stream-echo: %d failures\n", failed);

	secs = (double)(t_end - t_start) / 1e9;
	rts = (double)rts_window;
	printf("conns %d msg %d split %d: %.0f round trips/s\n", o.conns, o.msg,
	       o.split, rts / secs);
	printf("  client enters/rt %.3f  server enters/rt %.3f\n",
	       (double)(cli.st1.enters - cli.st0.enters) / rts,
	       (double)(srv.st1.enters - srv.st0.enters) / rts);
	printf("  client sends/write %.3f (%.3f sends/rt)  server sends/rt "
	       "%.3f\n",
	       (double)(cli.sends1 - cli.sends0) /
		       (double)(cli.writes1 - cli.writes0),
	       (double)(cli.sends1 - cli.sends0) / rts,
	       (double)(srv.sends1 - srv.sends0) / rts);
	printf("  CPU us/rt: client %.2f server %.2f\n", cpu_us(&cli) / rts,
	       cpu_us(&srv) / rts);
	printf("  allocator calls in the window: %lu\n",
	       allocs_end - allocs_start);
	free(sconns);
	free(cconns);
	return failed ? 1 : 0;
}
