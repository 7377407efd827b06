/* tests/client/test_http_op.c - HTTP requests as coil_ops against nginx:
 * a group of 20 requests cut at a batch deadline (every child's callback
 * once), coil_cancel() of a request, a fail-fast group, a request under a
 * semaphore */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "coil/http_op.h"
#include "nginx.h"

#define MS 1000000ull

static struct ngx g;
static char base[64];

struct kid {
	struct coil_group_child c;
	struct coil_http_op http;
	int calls, res;
};

static void kid_cb(struct coil_op *op, int res, unsigned flags)
{
	struct kid *k = coil_container_of(op, struct kid, c.op);
	(void)flags;
	k->calls++;
	k->res = res;
}

struct flag {
	struct coil_op op;
	int calls, res;
};

static void flag_cb(struct coil_op *op, int res, unsigned flags)
{
	struct flag *f = coil_container_of(op, struct flag, op);
	(void)flags;
	f->calls++;
	f->res = res;
}

static void run_until(struct coil_loop *loop, int *x)
{
	uint64_t end = tu_mono_ns() + 10000 * MS;
	while (!*x && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_true(*x);
}

static void start(struct coil_loop *loop, struct coil_http_client *c,
		  struct kid *k, struct coil_group *grp, const char *path)
{
	char url[128];
	struct coil_http_req_opts o = {.url = url};
	snprintf(url, sizeof(url), "%s%s", base, path);
	memset(k, 0, sizeof(*k));
	assert_true(coil_group_add(grp, &k->c, kid_cb) >= 0);
	assert_int_equal(coil_http_op_start(loop, c, &k->http, &k->c.op, &o),
			 0);
}

/* 20 requests (15 fast, 5 that take 8 s) in a group under a 300 ms
 * deadline scope: the fast ones 200, the slow ones -ETIMEDOUT at the
 * deadline, each child's callback exactly once, the group done soon
 * after the deadline */
static void test_http_op_group_cut_at_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_http_client *c;
	struct coil_group grp;
	struct kid k[20];
	struct flag done = {0};
	uint64_t t0, prev;
	int ok = 0, cut = 0;

	assert_int_equal(coil_http_client_new(&c, loop, NULL), 0);
	assert_int_equal(coil_group_init(&grp, loop, COIL_GROUP_ALL), 0);
	t0 = tu_mono_ns();
	prev = coil_deadline_enter(loop, coil_now_update(loop) + 300 * MS);
	for (int i = 0; i < 20; i++)
		start(loop, c, &k[i], &grp, i % 4 == 3 ? "/slow" : "/ok");
	coil_deadline_leave(loop, prev);
	coil_op_init(&done.op, flag_cb);
	assert_int_equal(coil_group_wait(&grp, &done.op), 0);
	run_until(loop, &done.calls);
	assert_true(tu_mono_ns() - t0 >= 300 * MS);
	assert_true(tu_mono_ns() - t0 < 3000 * MS);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(k[i].calls, 1);
		ok += k[i].res == 200;
		cut += k[i].res == -ETIMEDOUT;
		coil_http_op_free(&k[i].http);
	}
	assert_int_equal(ok, 15);
	assert_int_equal(cut, 5);
	assert_int_equal(done.res, 5); /* collect-all: 5 failed */
	/* nothing left running behind the ops */
	struct flag sd = {0};
	coil_op_init(&sd.op, flag_cb);
	assert_int_equal(coil_http_client_shutdown(c, &sd.op), 0);
	coil_loop_run(loop, COIL_RUN_DEFAULT);
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_http_client_free(c);
	coil_loop_free(loop);
}

/* coil_cancel() of a request op: -ECANCELED, once; a fail-fast group
 * whose one child is refused cancels the slow others */
static void test_http_op_cancel_and_fail_fast(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_http_client *c;
	struct coil_group grp;
	struct kid k[4], one;
	struct flag done = {0};
	unsigned short dead;
	int fd = tu_listen(&dead);

	close(fd);
	assert_int_equal(coil_http_client_new(&c, loop, NULL), 0);
	assert_int_equal(coil_group_init(&grp, loop, COIL_GROUP_ALL), 0);
	start(loop, c, &one, &grp, "/slow");
	for (int i = 0; i < 3; i++)
		coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(coil_cancel(loop, &one.c.op), 0);
	coil_op_init(&done.op, flag_cb);
	assert_int_equal(coil_group_wait(&grp, &done.op), 0);
	run_until(loop, &done.calls);
	assert_int_equal(one.calls, 1);
	assert_int_equal(one.res, -ECANCELED);
	coil_http_op_free(&one.http);

	assert_int_equal(coil_group_init(&grp, loop, COIL_GROUP_FAIL_FAST), 0);
	for (int i = 0; i < 3; i++)
		start(loop, c, &k[i], &grp, "/slow");
	{
		char url[64];
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/", dead);
		struct coil_http_req_opts o = {.url = url};
		memset(&k[3], 0, sizeof(k[3]));
		assert_true(coil_group_add(&grp, &k[3].c, kid_cb) >= 0);
		assert_int_equal(
			coil_http_op_start(loop, c, &k[3].http, &k[3].c.op, &o),
			0);
	}
	memset(&done, 0, sizeof(done));
	coil_op_init(&done.op, flag_cb);
	assert_int_equal(coil_group_wait(&grp, &done.op), 0);
	run_until(loop, &done.calls);
	assert_int_equal(done.res, -ECONNREFUSED);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(k[i].calls, 1);
		assert_int_equal(k[i].res, -ECANCELED);
	}
	for (int i = 0; i < 4; i++)
		coil_http_op_free(&k[i].http);
	struct flag sd = {0};
	coil_op_init(&sd.op, flag_cb);
	assert_int_equal(coil_http_client_shutdown(c, &sd.op), 0);
	coil_loop_run(loop, COIL_RUN_DEFAULT);
	coil_http_client_free(c);
	coil_loop_free(loop);
}

static int setup(void **state)
{
	(void)state;
	/* /slow: 64 KiB at 8 KiB/s */
	ngx_start(&g, "    location = /ok { return 200 \"ok\\n\"; }\n"
		      "    location = /slow { limit_rate 8k; }\n");
	ngx_file(&g, "slow", 65536, 1);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", g.port);
	return 0;
}

static int teardown(void **state)
{
	ngx_clean(&g);
	return ngx_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_op_group_cut_at_deadline),
		cmocka_unit_test(test_http_op_cancel_and_fail_fast),
	};
	return cmocka_run_group_tests_name("client.http_op", tests, setup,
					   teardown);
}
