/* tests/async/test_resolve.c - getaddrinfo on the pool, cached: localhost,
 * a name from /etc/hosts, a name that does not exist, numeric addresses,
 * TTL, shared lookups, cancel. No traffic leaves the machine: every name
 * here is answered by /etc/hosts or refused before any DNS query. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netdb.h>

#include "asyncutil.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct fixture {
	struct coil_loop *loop;
	struct coil_pool *pool;
	struct coil_resolver *r;
};

struct req {
	struct coil_resolve_req rq;
	int calls;
	int res;
	pid_t tid;
};

static void req_cb(struct coil_op *op, int res, unsigned flags)
{
	struct req *q = coil_container_of(op, struct req, rq.op);
	(void)flags;
	q->calls++;
	q->res = res;
	q->tid = tu_gettid();
}

static void req_init(struct req *q)
{
	memset(q, 0, sizeof(*q));
	coil_op_init(&q->rq.op, req_cb);
}

static void setup(struct fixture *f, const struct coil_resolver_opts *o)
{
	struct coil_pool_opts po = {.threads = 2};
	f->loop = tu_loop(NULL);
	assert_int_equal(coil_pool_new(&f->pool, &po), 0);
	assert_int_equal(coil_resolver_new(&f->r, f->loop, f->pool, o), 0);
}

static void teardown(struct fixture *f)
{
	coil_resolver_free(f->r);
	assert_int_equal(run_idle(f->loop, 10 * SEC), 0);
	coil_pool_free(f->pool);
	coil_loop_free(f->loop);
}

static int resolve_sync(struct fixture *f, struct req *q, const char *host,
			uint16_t port)
{
	req_init(q);
	assert_int_equal(coil_resolve(f->r, &q->rq, host, port), 0);
	assert_int_equal(q->calls, 0); /* never inline, not even cached */
	assert_int_equal(run_idle(f->loop, 20 * SEC), 0);
	assert_int_equal(q->calls, 1);
	return q->res;
}

/* Whether @want (numeric) is among the answers, with @port. */
static int has_addr(const struct coil_resolve_req *rq, const char *want,
		    uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];
	for (unsigned i = 0; i < rq->naddr; i++) {
		const union coil_sockaddr *a = &rq->addr[i];
		if (a->sa.sa_family == AF_INET) {
			inet_ntop(AF_INET, &a->in.sin_addr, buf, sizeof(buf));
			if (ntohs(a->in.sin_port) != port)
				return 0;
		} else {
			inet_ntop(AF_INET6, &a->in6.sin6_addr, buf,
				  sizeof(buf));
			if (ntohs(a->in6.sin6_port) != port)
				return 0;
		}
		if (strcmp(buf, want) == 0)
			return 1;
	}
	return 0;
}

/* localhost: 127.0.0.1 among all addresses, port set, the answer on the
 * loop thread; the second time from the cache, without a lookup */
static void test_resolve_localhost_then_cached(void **state)
{
	struct fixture f;
	struct req q;
	struct coil_pool_stats st1, st2;

	setup(&f, NULL);
	int n = resolve_sync(&f, &q, "localhost", 8080);
	assert_true(n >= 1);
	assert_int_equal((unsigned)n, q.rq.naddr);
	assert_true(has_addr(&q.rq, "127.0.0.1", 8080));
	assert_int_equal(q.rq.cached, 0);
	assert_int_equal(q.tid, tu_gettid());
	for (unsigned i = 0; i < q.rq.naddr; i++) {
		int fam = q.rq.addr[i].sa.sa_family;
		assert_true(fam == AF_INET || fam == AF_INET6);
		assert_int_equal(coil_sockaddr_len(&q.rq.addr[i]),
				 fam == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6));
	}
	coil_pool_stats(f.pool, &st1);
	assert_int_equal(resolve_sync(&f, &q, "localhost", 443), n);
	assert_int_equal(q.rq.cached, 1);
	assert_true(has_addr(&q.rq, "127.0.0.1", 443)); /* the new port */
	coil_pool_stats(f.pool, &st2);
	assert_int_equal(st2.submitted, st1.submitted);
	teardown(&f);
}

/* A name /etc/hosts maps (other than localhost), and its address. */
static int hosts_entry(char *name, size_t nlen, char *addr, size_t alen)
{
	FILE *fp = fopen("/etc/hosts", "r");
	char line[512];
	int found = 0;

	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp)) {
		char *save, *a, *h;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		a = strtok_r(line, " \t\n", &save);
		if (!a || !strchr(a, '.')) /* IPv4 entries: simplest */
			continue;
		while ((h = strtok_r(NULL, " \t\n", &save))) {
			if (strcmp(h, "localhost") == 0 || strlen(h) >= nlen ||
			    strlen(a) >= alen)
				continue;
			snprintf(name, nlen, "%s", h);
			snprintf(addr, alen, "%s", a);
			found = 1;
			break;
		}
	}
	fclose(fp);
	return found;
}

static void test_resolve_name_from_etc_hosts(void **state)
{
	char name[256], addr[64];
	struct fixture f;
	struct req q;

	if (!hosts_entry(name, sizeof(name), addr, sizeof(addr))) {
		print_message("no name besides localhost in /etc/hosts\n");
		skip();
	}
	setup(&f, NULL);
	int n = resolve_sync(&f, &q, name, 80);
	print_message("%s -> %d address(es), expecting %s\n", name, n, addr);
	assert_true(n >= 1);
	assert_true(has_addr(&q.rq, addr, 80));
	teardown(&f);
}

/* a name that does not exist: COIL_ERESOLVE, the EAI code and its text.
 * The space makes glibc refuse it before querying DNS (res_hnok), so the
 * test sends nothing to the network. */
static void test_resolve_name_that_does_not_exist(void **state)
{
	struct fixture f;
	struct req q;

	setup(&f, NULL);
	int res = resolve_sync(&f, &q, "no such host.invalid", 80);
	assert_int_equal(res, COIL_ERESOLVE);
	assert_int_equal(q.rq.naddr, 0);
	assert_int_equal(q.rq.gai_err, EAI_NONAME);
	const char *msg = coil_resolve_strerror(&q.rq, res);
	assert_non_null(msg);
	assert_string_equal(msg, gai_strerror(EAI_NONAME));
	print_message("error text: %s\n", msg);
	assert_string_equal(coil_strerror(COIL_ERESOLVE),
			    "name resolution failed");
	assert_string_equal(coil_resolve_strerror(&q.rq, -ECANCELED),
			    coil_strerror(-ECANCELED));
	/* failures are not cached by default: a lookup each time */
	assert_int_equal(resolve_sync(&f, &q, "no such host.invalid", 80),
			 COIL_ERESOLVE);
	assert_int_equal(q.rq.cached, 0);
	teardown(&f);
}

/* numeric hosts of both families */
static void test_resolve_numeric_ipv4_and_ipv6(void **state)
{
	struct fixture f;
	struct req q;

	setup(&f, NULL);
	assert_int_equal(resolve_sync(&f, &q, "::1", 9), 1);
	assert_int_equal(q.rq.addr[0].sa.sa_family, AF_INET6);
	assert_true(has_addr(&q.rq, "::1", 9));
	assert_int_equal(resolve_sync(&f, &q, "127.0.0.2", 10), 1);
	assert_int_equal(q.rq.addr[0].sa.sa_family, AF_INET);
	assert_true(has_addr(&q.rq, "127.0.0.2", 10));
	teardown(&f);
}

/* ten requests for one name at once share a single lookup */
static void test_resolve_concurrent_requests_share_lookup(void **state)
{
	struct fixture f;
	struct req q[10];
	struct coil_pool_stats st;

	setup(&f, NULL);
	for (int i = 0; i < 10; i++) {
		req_init(&q[i]);
		assert_int_equal(coil_resolve(f.r, &q[i].rq, "localhost",
					      (uint16_t)(1000 + i)),
				 0);
	}
	assert_int_equal(run_idle(f.loop, 20 * SEC), 0);
	coil_pool_stats(f.pool, &st);
	assert_int_equal(st.submitted, 1);
	for (int i = 0; i < 10; i++) {
		assert_true(q[i].res >= 1);
		assert_true(
			has_addr(&q[i].rq, "127.0.0.1", (uint16_t)(1000 + i)));
	}
	teardown(&f);
}

/* the TTL: fresh answers come from the cache, stale ones are looked up
 * again; failures are kept for the negative TTL */
static void test_resolve_ttl_expires(void **state)
{
	struct coil_resolver_opts o = {.ttl_ns = 30 * MS,
				       .neg_ttl_ns = 10 * SEC};
	struct fixture f;
	struct req q;
	struct rec pause;

	setup(&f, &o);
	assert_true(resolve_sync(&f, &q, "localhost", 1) >= 1);
	assert_int_equal(q.rq.cached, 0);
	assert_true(resolve_sync(&f, &q, "localhost", 1) >= 1);
	assert_int_equal(q.rq.cached, 1);
	rec_init(&pause);
	assert_int_equal(coil_timeout(f.loop, &pause.op, 40 * MS, 0), 0);
	assert_int_equal(run_idle(f.loop, 5 * SEC), 0);
	assert_true(resolve_sync(&f, &q, "localhost", 1) >= 1);
	assert_int_equal(q.rq.cached, 0);
	assert_int_equal(resolve_sync(&f, &q, "no such host", 1),
			 COIL_ERESOLVE);
	assert_int_equal(resolve_sync(&f, &q, "no such host", 1),
			 COIL_ERESOLVE);
	assert_int_equal(q.rq.cached, 1);
	assert_int_equal(q.rq.gai_err, EAI_NONAME);
	teardown(&f);
}

/* cancel a request while its lookup waits for a worker: -ECANCELED; the
 * lookup still fills the cache. Freeing the resolver with a lookup
 * running lets it finish, then frees everything (checked by ASan). */
static void test_resolve_cancel_and_free_while_looking_up(void **state)
{
	struct coil_pool_opts po = {.threads = 1};
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resolver *r;
	struct coil_pool *pool;
	struct gate gate;
	struct rec g;
	struct req a, b, c;

	gate_init(&gate);
	assert_int_equal(coil_pool_new(&pool, &po), 0);
	assert_int_equal(coil_resolver_new(&r, loop, pool, NULL), 0);
	rec_init(&g);
	assert_int_equal(coil_pool_submit(loop, pool, &g.op, gate_job, &gate),
			 0);
	gate_wait_blocked(&gate, 1);
	req_init(&a);
	req_init(&b);
	assert_int_equal(coil_resolve(r, &a.rq, "localhost", 1), 0);
	assert_int_equal(coil_resolve(r, &b.rq, "localhost", 2), 0);
	assert_int_equal(coil_cancel(loop, &a.rq.op), 0);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, -ECANCELED);
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 20 * SEC), 0);
	assert_true(b.res >= 1);
	req_init(&a);
	assert_int_equal(coil_resolve(r, &a.rq, "localhost", 3), 0);
	assert_int_equal(run_idle(loop, 20 * SEC), 0);
	assert_int_equal(a.rq.cached, 1);

	/* free while a lookup is queued behind a busy worker */
	gate_destroy(&gate);
	gate_init(&gate);
	rec_init(&g);
	assert_int_equal(coil_pool_submit(loop, pool, &g.op, gate_job, &gate),
			 0);
	gate_wait_blocked(&gate, 1);
	req_init(&c);
	assert_int_equal(coil_resolve(r, &c.rq, "127.0.0.3", 4), 0);
	coil_resolver_free(r);
	gate_open(&gate);
	assert_int_equal(run_idle(loop, 20 * SEC), 0);
	assert_int_equal(c.res, -ECANCELED);
	coil_pool_free(pool);
	gate_destroy(&gate);
	coil_loop_free(loop);
}

static void test_resolve_bad_input(void **state)
{
	struct coil_resolver_opts bad = {.family = AF_UNIX};
	struct coil_resolver *r;
	struct fixture f;
	struct req q;
	char longname[300];

	setup(&f, NULL);
	assert_int_equal(coil_resolver_new(NULL, f.loop, f.pool, NULL),
			 -EINVAL);
	assert_int_equal(coil_resolver_new(&r, NULL, f.pool, NULL), -EINVAL);
	assert_int_equal(coil_resolver_new(&r, f.loop, NULL, NULL), -EINVAL);
	assert_int_equal(coil_resolver_new(&r, f.loop, f.pool, &bad), -EINVAL);
	req_init(&q);
	assert_int_equal(coil_resolve(NULL, &q.rq, "localhost", 1), -EINVAL);
	assert_int_equal(coil_resolve(f.r, NULL, "localhost", 1), -EINVAL);
	assert_int_equal(coil_resolve(f.r, &q.rq, NULL, 1), -EINVAL);
	assert_int_equal(coil_resolve(f.r, &q.rq, "", 1), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[299] = 0;
	assert_int_equal(coil_resolve(f.r, &q.rq, longname, 1), -ENAMETOOLONG);
	assert_int_equal(coil_resolve(f.r, &q.rq, "localhost", 1), 0);
	assert_int_equal(coil_resolve(f.r, &q.rq, "localhost", 1), -EBUSY);
	assert_int_equal(run_idle(f.loop, 20 * SEC), 0);
	assert_true(q.res >= 1);
	coil_resolver_free(NULL);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_localhost_then_cached),
		cmocka_unit_test(test_resolve_name_from_etc_hosts),
		cmocka_unit_test(test_resolve_name_that_does_not_exist),
		cmocka_unit_test(test_resolve_numeric_ipv4_and_ipv6),
		cmocka_unit_test(test_resolve_concurrent_requests_share_lookup),
		cmocka_unit_test(test_resolve_ttl_expires),
		cmocka_unit_test(test_resolve_cancel_and_free_while_looking_up),
		cmocka_unit_test(test_resolve_bad_input),
	};
	return cmocka_run_group_tests_name("async.resolve", tests, NULL, NULL);
}
