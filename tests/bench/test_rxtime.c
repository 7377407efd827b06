/*
 * tests/bench/test_rxtime.c - coil-bench's response times with batched
 * waits (on by default) against a server that knows the latencies it
 * produced: it holds every request and releases the held responses
 * together every BURST_US, timing each request from its kernel receive
 * timestamp to the write of its response. coil-bench's percentiles,
 * taken from the kernel's receive timestamps, match the server's; the
 * report says where the times came from; with --reap-time (and under a
 * forced fallback without multishot recv) the times are reap times and
 * the default batched wait is off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/epoll.h>
#include <time.h>

#include "e2eutil.h"
#include "coil/hist.h"

#define BURST_US 1000
#define MAXC 64

static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

struct bconn {
	int fd;
	char buf[4096];
	size_t len;
};

struct held {
	int fd;
	uint64_t arrived; /* CLOCK_MONOTONIC ns */
};

struct burst {
	int lfd, ep;
	unsigned short port;
	pthread_t th;
	atomic_int stop;
	struct bconn conns[MAXC];
	struct held q[MAXC * 4];
	unsigned nq;
	struct coil_hist *lat; /* the latencies the server produced */
	uint64_t stamped, unstamped;
};

static uint64_t rt_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read what is there; one held entry per complete request head. */
static int b_read(struct burst *b, struct bconn *c)
{
	char ctl[256];
	struct iovec iov = {c->buf + c->len, sizeof(c->buf) - c->len};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	uint64_t now = tu_mono_ns(), at = now;
	ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT);
	char *p, *end;

	if (n == 0 || (n < 0 && errno != EAGAIN))
		return -1;
	if (n < 0)
		return 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm;
	     cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPING) {
			struct scm_timestamping ts;
			uint64_t rt, off;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			rt = (uint64_t)ts.ts[0].tv_sec * 1000000000ull +
			     (uint64_t)ts.ts[0].tv_nsec;
			off = rt_ns() - tu_mono_ns();
			if (rt && rt - off <= now)
				at = rt - off;
		}
	}
	if (at == now)
		b->unstamped++;
	else
		b->stamped++;
	c->len += (size_t)n;
	p = c->buf;
	end = c->buf + c->len;
	for (;;) {
		char *e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!e)
			break;
		if (b->nq < sizeof(b->q) / sizeof(b->q[0]))
			b->q[b->nq++] = (struct held){c->fd, at};
		p = e + 4;
	}
	memmove(c->buf, p, (size_t)(end - p));
	c->len = (size_t)(end - p);
	return 0;
}

/* Release every held response, one write each, back to back. */
static void b_release(struct burst *b)
{
	for (unsigned i = 0; i < b->nq; i++) {
		uint64_t t = tu_mono_ns();
		if (write(b->q[i].fd, resp, sizeof(resp) - 1) !=
		    (ssize_t)sizeof(resp) - 1)
			continue;
		coil_hist_record(b->lat, t - b->q[i].arrived);
	}
	b->nq = 0;
}

static void *b_main(void *arg)
{
	struct burst *b = arg;
	uint64_t next = tu_mono_ns() + BURST_US * 1000ull;
	int tsf = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	while (!atomic_load(&b->stop)) {
		struct epoll_event ev[16];
		uint64_t now = tu_mono_ns(), d = now >= next ? 0 : next - now;
		struct timespec to = {(time_t)(d / 1000000000ull),
				      (long)(d % 1000000000ull)};
		int n = epoll_pwait2(b->ep, ev, 16, &to, NULL);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL) {
				int fd = accept4(b->lfd, NULL, NULL,
						 SOCK_CLOEXEC);
				struct epoll_event e = {.events = EPOLLIN};
				if (fd < 0 || fd >= MAXC) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING,
					   &tsf, sizeof(tsf));
				b->conns[fd].fd = fd;
				b->conns[fd].len = 0;
				e.data.ptr = &b->conns[fd];
				epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &e);
				continue;
			}
			struct bconn *c = ev[i].data.ptr;
			if (b_read(b, c) < 0) {
				/* drop its held requests */
				unsigned k = 0;
				for (unsigned j = 0; j < b->nq; j++)
					if (b->q[j].fd != c->fd)
						b->q[k++] = b->q[j];
				b->nq = k;
				epoll_ctl(b->ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
			}
		}
		if (tu_mono_ns() >= next) {
			b_release(b);
			next += BURST_US * 1000ull;
			if (next < tu_mono_ns())
				next = tu_mono_ns() + BURST_US * 1000ull;
		}
	}
	return NULL;
}

static struct burst *b_start(void)
{
	struct burst *b = calloc(1, sizeof(*b));
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
	assert_non_null(b);
	assert_int_equal(coil_hist_new(&b->lat, NULL), 0);
	b->lfd = tu_listen(&b->port);
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_ctl(b->ep, EPOLL_CTL_ADD, b->lfd, &e);
	assert_int_equal(pthread_create(&b->th, NULL, b_main, b), 0);
	return b;
}

static void b_stop_thread(struct burst *b)
{
	atomic_store(&b->stop, 1);
	pthread_join(b->th, NULL);
}

static void b_free(struct burst *b)
{
	for (int fd = 0; fd < MAXC; fd++)
		if (b->conns[fd].fd > 0)
			close(b->conns[fd].fd);
	close(b->ep);
	close(b->lfd);
	coil_hist_free(b->lat);
	free(b);
}

static char *b_url(const struct burst *b)
{
	static char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", b->port);
	return u;
}

/* One run against a fresh burst server: client and server percentiles
 * (us) into cp/sp [p50, p99]; the report in *out. Both sides see the
 * same requests (no warmup). */
static void b_run(const char *label, char **extra, double cp[2], double sp[2],
		  struct cb_out *out)
{
	struct burst *b = b_start();
	char *av[16] = {NULL, "-t1", "-c20", "-d2s", "--json"};
	int n = 5;
	for (; *extra; extra++)
		av[n++] = *extra;
	av[n++] = b_url(b);
	av[n] = NULL;
	*out = cb_exec(av);
	b_stop_thread(b);
	cb_expect_ok(out);
	cp[0] = jnum(out->out, "\"latency_ns\"", "50") / 1e3;
	cp[1] = jnum(out->out, "\"latency_ns\"", "99") / 1e3;
	sp[0] = (double)coil_hist_value_at_percentile(b->lat, 50.0) / 1e3;
	sp[1] = (double)coil_hist_value_at_percentile(b->lat, 99.0) / 1e3;
	fprintf(stderr,
		"%-31s client p50 %7.1f p99 %7.1f us, server p50 %7.1f p99 "
		"%7.1f us (%llu responses; server stamped %llu of %llu "
		"reads)\n",
		label, cp[0], cp[1], sp[0], sp[1],
		(unsigned long long)coil_hist_count(b->lat),
		(unsigned long long)b->stamped,
		(unsigned long long)(b->stamped + b->unstamped));
	b_free(b);
}

/* coil-bench's p50/p99 minus the server's, in us */
struct err {
	double p50, p99;
};

/*
 * One run: where its times came from (@source), and the order the
 * clocks guarantee whatever the host's load: each request left
 * coil-bench (its send timed at the start of the turn that queued it)
 * before the server's kernel received it, and the server wrote the
 * answer before coil-bench's kernel received it, so each of coil-bench's
 * latencies is at least the server's for the same request, and so is
 * each percentile (less 1% and 20 us: the histograms' rounding and the
 * clocks' offset, read once per turn). A time taken later than the
 * kernel's stamp only adds; one that came before the send breaks it.
 */
static struct err b_err(const char *label, char **extra, const char *source)
{
	double c[2], sv[2];
	struct cb_out r;
	char want[64];
	b_run(label, extra, c, sv, &r);
	snprintf(want, sizeof(want), "\"source\": \"%s\"", source);
	if (!strstr(r.out, want))
		fprintf(stderr, "%s\n", r.out);
	assert_non_null(strstr(r.out, want));
	for (int i = 0; i < 2; i++)
		assert_true(c[i] >= sv[i] * 0.99 - 20);
	cb_out_free(&r);
	return (struct err){c[0] - sv[0], c[1] - sv[1]};
}

/*
 * The server releases its held responses together every millisecond;
 * 20 connections. Timed by the kernel, with or without batched waits and
 * however long the batched wait, coil-bench's percentiles are the
 * server's plus the way there and back (the request's send is timed at
 * the start of the turn that queues it: tens of us): never below them.
 * How close above them (on a quiet host within 100 us at p50 and 250 us
 * at p99, and a 500 us batched wait timed when reaped over 100 us more:
 * measured +56 us timed by the kernel, +385 us when reaped) is the
 * host's: printed here, not asserted (at load 10-20 a turn preempted
 * between its start and its sends moves them by milliseconds).
 */
static void test_rxtime_burst_server(void **state)
{
	char *none[] = {NULL};
	char *off[] = {"--batch-wait", "0", NULL};
	char *k500[] = {"--batch-wait", "500us", NULL};
	char *r500[] = {"--reap-time", "--batch-wait", "500us", NULL};
	struct err e[3], reap;
	(void)state;
	e[0] = b_err("default (batched 100us)", none, "kernel");
	e[1] = b_err("--batch-wait 0", off, "kernel");
	e[2] = b_err("--batch-wait 500us", k500, "kernel");
	reap = b_err("--reap-time --batch-wait 500us", r500, "reap");
	fprintf(stderr,
		"over the server's: p50 %.1f, %.1f, %.1f us timed by the "
		"kernel, %.1f us when reaped; p99 %.1f, %.1f, %.1f and "
		"%.1f us\n",
		e[0].p50, e[1].p50, e[2].p50, reap.p50, e[0].p99, e[1].p99,
		e[2].p99, reap.p99);
}

/* Without multishot recv (forced) there are no receive timestamps:
 * reap times, the default batched wait off, and the report says so. */
static void test_rxtime_fallback_says_so(void **state)
{
	struct burst *b = b_start();
	struct cb_out r, t;
	(void)state;
	setenv("COIL_FALLBACK", "nomultishot", 1);
	r = RUN("-t1", "-c4", "-d300ms", "--json", b_url(b));
	t = RUN("-t1", "-c4", "-d300ms", b_url(b));
	unsetenv("COIL_FALLBACK");
	b_stop_thread(b);
	b_free(b);
	cb_expect_ok(&r);
	cb_expect_ok(&t);
	fprintf(stderr, "%s", t.out);
	assert_non_null(strstr(r.out, "\"source\": \"reap\""));
	assert_non_null(strstr(r.out, "\"fallback\": \"no multishot recv"));
	assert_int_equal(jnum(r.out, "\"response_times\"", "batch_wait_ns"), 0);
	assert_non_null(strstr(t.out, "Response times: when reaped (no "
				      "multishot recv"));
	assert_non_null(strstr(t.out, "batched waits off"));
	cb_out_free(&r);
	cb_out_free(&t);
}

/* By default: kernel times, the 100 us batched wait, and the report
 * keeps quiet about it; every read of a response was stamped. */
static void test_rxtime_default_json(void **state)
{
	struct burst *b = b_start();
	struct cb_out r, t;
	double reads, stamped;
	(void)state;
	r = RUN("-t1", "-c4", "-d300ms", "--json", b_url(b));
	t = RUN("-t1", "-c4", "-d300ms", b_url(b));
	b_stop_thread(b);
	b_free(b);
	cb_expect_ok(&r);
	cb_expect_ok(&t);
	reads = jnum(r.out, "\"response_times\"", "reads");
	stamped = jnum(r.out, "\"response_times\"", "stamped_reads");
	fprintf(stderr, "%.0f reads, %.0f stamped\n", reads, stamped);
	assert_non_null(strstr(r.out, "\"source\": \"kernel\""));
	assert_non_null(strstr(r.out, "\"fallback\": \"none\""));
	assert_true(reads > 100 && stamped == reads);
	assert_int_equal(jnum(r.out, "\"response_times\"", "batch_wait_ns"),
			 100000);
	assert_null(strstr(t.out, "Response times"));
	cb_out_free(&r);
	cb_out_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rxtime_default_json),
		cmocka_unit_test(test_rxtime_fallback_says_so),
		cmocka_unit_test(test_rxtime_burst_server),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.rxtime", tests, NULL, NULL);
}
