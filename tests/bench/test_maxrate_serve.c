/*
 * tests/bench/test_maxrate_serve.c - --find-max-rate against a server of
 * known capacity: a small server of the test's own answers at most 200
 * requests/s (a token bucket of 200/s holding at most 20: 100 ms of
 * burst, so a stall of the shared machine costs no error) and 503 to the
 * rest. With errors<2% as the SLO the search (short steps: 1 s after a
 * 200 ms warm-up) finds 200/s within 10%: above it the 503s are the
 * excess share of the rate (9% at 220/s), below it none. Errors, not
 * latency, make the test hold on a busy machine. And a condition nothing
 * meets (p50<1ms at coil-serve's /delay/20) exits 1 with "none".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serveutil.h"

#define CAPACITY 200.0 /* requests/s */
#define BURST 20.0

struct bucket_srv {
	int lfd;
	unsigned short port;
	pthread_t acceptor;
	pthread_mutex_t mu;
	double tokens;
	uint64_t last_ns;
	atomic_int stop;
	atomic_int active;
	atomic_ullong ok, refused;
};

/* one token, if the bucket has one (refilled at CAPACITY/s, up to BURST) */
static int bucket_take(struct bucket_srv *b)
{
	uint64_t now = ts_now();
	int ok;
	pthread_mutex_lock(&b->mu);
	b->tokens += (double)(now - b->last_ns) * CAPACITY / 1e9;
	if (b->tokens > BURST)
		b->tokens = BURST;
	b->last_ns = now;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&b->mu);
	return ok;
}

struct bucket_conn {
	struct bucket_srv *b;
	int fd;
};

static void *bucket_conn_main(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
				 "ok";
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Length: 4\r\n\r\nbusy";
	struct bucket_conn *c = arg;
	struct bucket_srv *b = c->b;
	int fd = c->fd;
	char buf[8192];
	size_t len = 0;

	free(c);
	while (!atomic_load(&b->stop)) {
		if (ts_recv_more(fd, buf, sizeof(buf), &len) < 0)
			break;
		while (ts_take_head(buf, &len, NULL)) {
			int take = bucket_take(b);
			atomic_fetch_add(take ? &b->ok : &b->refused, 1);
			if (ts_write_all(fd, take ? ok : busy,
					 take ? sizeof(ok) - 1
					      : sizeof(busy) - 1))
				goto out;
		}
	}
out:
	close(fd);
	atomic_fetch_sub(&b->active, 1);
	return NULL;
}

static void *bucket_accept_main(void *arg)
{
	struct bucket_srv *b = arg;
	while (!atomic_load(&b->stop)) {
		struct pollfd p = {.fd = b->lfd, .events = POLLIN};
		struct bucket_conn *c;
		pthread_t tid;
		int fd;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		c->b = b;
		c->fd = fd;
		atomic_fetch_add(&b->active, 1);
		if (pthread_create(&tid, NULL, bucket_conn_main, c) != 0) {
			atomic_fetch_sub(&b->active, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(tid);
	}
	return NULL;
}

static void test_maxrate_serve_known_capacity(void **state)
{
	struct bucket_srv b = {.tokens = BURST};
	struct cb_out r;
	char url[64];
	double best;
	(void)state;
	pthread_mutex_init(&b.mu, NULL);
	b.last_ns = ts_now();
	b.lfd = tu_listen(&b.port);
	assert_int_equal(
		pthread_create(&b.acceptor, NULL, bucket_accept_main, &b), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", b.port);
	r = RUN("-t1", "-c4", "--find-max-rate", "--step", "1s", "--warmup",
		"200ms", "-R", "150", "--slo", "errors<2%", "--json", url);
	atomic_store(&b.stop, 1);
	pthread_join(b.acceptor, NULL);
	while (atomic_load(&b.active)) {
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL); /* the connection threads see stop */
	}
	close(b.lfd);
	pthread_mutex_destroy(&b.mu);
	fprintf(stderr, "%s%s", r.err, r.out);
	fprintf(stderr, "server: %llu answered, %llu refused\n",
		(unsigned long long)atomic_load(&b.ok),
		(unsigned long long)atomic_load(&b.refused));
	cb_expect_ok(&r);
	best = jnum(r.out, NULL, "max_rate");
	assert_true(best >= 180 && best <= 220);
	/* a failing step above it, each step's verdict in the table */
	assert_true(jnum(r.out, NULL, "lowest_failing_rate") > best);
	assert_non_null(strstr(r.out, "\"pass\": false"));
	assert_non_null(strstr(r.out, "\"converged\": true"));
	assert_true(atomic_load(&b.refused) > 0);
	cb_out_free(&r);
}

/* nothing meets an impossible SLO: exit 1, "none" */
static void test_maxrate_serve_none(void **state)
{
	struct serve srv;
	struct cb_out r;
	(void)state;
	serve_start(&srv, "1");
	r = RUN("-t1", "-c2", "--find-max-rate", "--step", "300ms", "--warmup",
		"100ms", "-R", "4", "--slo", "p50<1ms",
		serve_url(&srv, "/delay/20"));
	free(serve_stop(&srv));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "Max rate: none"));
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxrate_serve_known_capacity),
		cmocka_unit_test(test_maxrate_serve_none),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bench.maxrate_serve", tests, NULL,
					   NULL);
}
