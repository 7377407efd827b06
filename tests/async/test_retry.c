/* tests/async/test_retry.c - retry with exponential backoff: delays
 * within the jitter bounds, stop at max attempts, which results retry */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct script {
	struct coil_loop *loop;
	int results[8]; /* result of attempt i (1-based: results[i-1]) */
	uint64_t at[8]; /* when attempt i started */
	uint64_t delay[8];
	int n;
	int use_task;
	struct coil_op task_timer;
	struct coil_retry *r;
};

/* An attempt that ends, through the loop, with the scripted result. */
static int scripted(struct coil_retry *r, struct coil_op *op, void *arg)
{
	struct script *s = arg;
	int i = s->n++;
	s->at[i] = tu_mono_ns();
	s->delay[i] = r->last_delay_ns;
	assert_int_equal((int)r->attempts, i + 1);
	return coil_loop_post(s->loop, op, s->results[i]);
}

static void run_policy(const struct coil_retry_policy *p, struct script *s,
		       struct coil_retry *r, struct rec *done)
{
	struct coil_loop *loop = s->loop;
	rec_init(done);
	assert_int_equal(coil_retry_start(r, loop, p, scripted, s, &done->op),
			 0);
	assert_int_equal(run_idle(loop, 20 * SEC), 0);
	assert_int_equal(done->calls, 1);
}

/* each backoff lies within the policy's bounds, the timer waits at least
 * that long, and it stops after max_attempts with the last error */
static void check_backoffs(unsigned jitter)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {
		.max_attempts = 5,
		.base_ns = 10 * MS,
		.cap_ns = 40 * MS,
		.multiplier = 2.0,
		.jitter = jitter,
	};
	struct script s = {.loop = loop};
	struct coil_retry r;
	struct rec done;

	for (int i = 0; i < 8; i++)
		s.results[i] = -ECONNRESET;
	run_policy(&p, &s, &r, &done);
	assert_int_equal(done.res, -ECONNRESET);
	assert_int_equal(r.attempts, 5);
	assert_int_equal(s.n, 5); /* stopped at max attempts */
	assert_int_equal(r.last_err, -ECONNRESET);
	for (unsigned n = 1; n < 5; n++) {
		uint64_t lo, hi, d = s.delay[n];
		assert_int_equal(coil_retry_delay_bounds(&p, n, &lo, &hi), 0);
		if (d < lo || d > hi) {
			print_error("backoff %u = %llu not in [%llu, %llu]\n",
				    n, (unsigned long long)d,
				    (unsigned long long)lo,
				    (unsigned long long)hi);
			fail();
		}
		uint64_t gap = s.at[n] - s.at[n - 1];
		assert_true(gap >= d);		  /* the timer waited */
		assert_true(gap <= d + 300 * MS); /* and not much longer */
	}
	coil_loop_free(loop);
}

static void test_retry_full_jitter_within_bounds_stops_at_max(void **state)
{
	check_backoffs(COIL_JITTER_FULL);
}

static void test_retry_equal_jitter_within_bounds(void **state)
{
	check_backoffs(COIL_JITTER_EQUAL);
}

/* no jitter: 10, 20, 40 (cap), 40 ms exactly */
static void test_retry_no_jitter_doubles_to_cap(void **state)
{
	struct coil_retry_policy p = {.base_ns = 10 * MS,
				      .cap_ns = 40 * MS,
				      .jitter = COIL_JITTER_NONE};
	uint64_t lo, hi;
	uint64_t want[] = {10 * MS, 20 * MS, 40 * MS, 40 * MS};
	for (unsigned n = 1; n <= 4; n++) {
		assert_int_equal(coil_retry_delay_bounds(&p, n, &lo, &hi), 0);
		assert_int_equal(lo, want[n - 1]);
		assert_int_equal(hi, want[n - 1]);
	}
	check_backoffs(COIL_JITTER_NONE);
	/* full jitter over many draws fills its range */
	p.jitter = COIL_JITTER_FULL;
	assert_int_equal(coil_retry_delay_bounds(&p, 3, &lo, &hi), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 40 * MS);
}

/* success on the third attempt ends it with that result */
static void test_retry_success_stops(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {.max_attempts = 6, .base_ns = 1 * MS};
	struct script s = {.loop = loop,
			   .results = {-ETIMEDOUT, -ECONNRESET, 42}};
	struct coil_retry r;
	struct rec done;

	run_policy(&p, &s, &r, &done);
	assert_int_equal(done.res, 42);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.last_err, -ECONNRESET);
	coil_loop_free(loop);
}

/* a result the policy does not name ends it at once */
static void test_retry_non_retryable_stops_at_once(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {.max_attempts = 6, .base_ns = 1 * MS};
	struct script s = {.loop = loop, .results = {-EINVAL}};
	struct coil_retry r;
	struct rec done;

	run_policy(&p, &s, &r, &done);
	assert_int_equal(done.res, -EINVAL);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.last_err, -EINVAL);
	coil_loop_free(loop);
}

/* HTTP 503 twice then 200: statuses as results */
static void test_retry_http_statuses(void **state)
{
	static const int on[] = {-ECONNRESET, COIL_RETRY_HTTP_ON};
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {.max_attempts = 5,
				      .base_ns = 1 * MS,
				      .retry_on = on,
				      .retry_on_len = 4};
	struct script s = {.loop = loop, .results = {503, 502, 200}};
	struct coil_retry r;
	struct rec done;

	run_policy(&p, &s, &r, &done);
	assert_int_equal(done.res, 200);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.last_err, 502);
	coil_loop_free(loop);
}

/* a real failing op: connect to a closed port on 127.0.0.1 */
struct conn_attempt {
	struct coil_loop *loop;
	struct sockaddr_in addr;
	int fd;
};

static int connect_attempt(struct coil_retry *r, struct coil_op *op, void *arg)
{
	struct conn_attempt *c = arg;
	(void)r;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	return coil_connect(c->loop, op, c->fd, (struct sockaddr *)&c->addr,
			    sizeof(c->addr));
}

static void test_retry_connect_refused_real_socket(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	unsigned short port;
	int lfd = tu_listen(&port);
	close(lfd); /* nobody listens there now */
	struct conn_attempt c = {.loop = loop, .addr = tu_addr(port), .fd = -1};
	struct coil_retry_policy p = {.max_attempts = 3, .base_ns = 2 * MS};
	struct coil_retry r;
	struct rec done;

	rec_init(&done);
	assert_int_equal(
		coil_retry_start(&r, loop, &p, connect_attempt, &c, &done.op),
		0);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	assert_int_equal(done.res, -ECONNREFUSED);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.last_err, -ECONNREFUSED);
	close(c.fd);
	coil_loop_free(loop);
}

/* task-style attempts end with coil_retry_done() */
static void task_timer_cb(struct coil_op *op, int res, unsigned flags)
{
	struct script *s = coil_container_of(op, struct script, task_timer);
	(void)flags;
	assert_int_equal(res, 0);
	assert_int_equal(coil_retry_done(s->r, s->results[s->n - 1]), 0);
	/* an attempt ends once */
	assert_int_equal(coil_retry_done(s->r, 99), -EINVAL);
}

static int task_attempt(struct coil_retry *r, struct coil_op *op, void *arg)
{
	struct script *s = arg;
	(void)op;
	s->r = r;
	s->n++;
	coil_op_init(&s->task_timer, task_timer_cb);
	return coil_timeout(s->loop, &s->task_timer, 1 * MS, 0);
}

static void test_retry_task_attempts(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {.max_attempts = 4, .base_ns = 1 * MS};
	struct script s = {.loop = loop, .results = {-ETIMEDOUT, 7}};
	struct coil_retry r;
	struct rec done;

	rec_init(&done);
	assert_int_equal(
		coil_retry_start(&r, loop, &p, task_attempt, &s, &done.op), 0);
	assert_int_equal(run_idle(loop, 10 * SEC), 0);
	assert_int_equal(done.res, 7);
	assert_int_equal(r.attempts, 2);
	coil_loop_free(loop);
}

/* cancel during the backoff: -ECANCELED at once, no more attempts */
static void test_retry_cancel_during_backoff(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {.max_attempts = 5, .base_ns = 10 * SEC};
	struct script s = {.loop = loop, .results = {-ECONNRESET}};
	struct coil_retry r;
	struct rec done;

	rec_init(&done);
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, &done.op),
			 0);
	/* an op-style attempt ends through its op, not coil_retry_done() */
	assert_int_equal(coil_retry_done(&r, 1), -EINVAL);
	coil_loop_run(loop, COIL_RUN_ONCE); /* attempt 1 fails, backoff */
	assert_int_equal(s.n, 1);
	uint64_t t0 = tu_mono_ns();
	assert_int_equal(coil_cancel(loop, &done.op), 0);
	assert_int_equal(run_idle(loop, 5 * SEC), 0);
	assert_true(tu_mono_ns() - t0 < 2 * SEC);
	assert_int_equal(done.res, -ECANCELED);
	assert_int_equal(s.n, 1);
	assert_int_equal(coil_retry_cancel(&r), -EINVAL); /* over */
	coil_loop_free(loop);
}

static void test_retry_bad_input(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_retry_policy p = {0};
	struct script s = {.loop = loop, .results = {0}};
	struct coil_retry r;
	struct rec done;
	uint64_t lo, hi;

	rec_init(&done);
	assert_int_equal(
		coil_retry_start(NULL, loop, &p, scripted, &s, &done.op),
		-EINVAL);
	assert_int_equal(coil_retry_start(&r, NULL, &p, scripted, &s, &done.op),
			 -EINVAL);
	assert_int_equal(
		coil_retry_start(&r, loop, NULL, scripted, &s, &done.op),
		-EINVAL);
	assert_int_equal(coil_retry_start(&r, loop, &p, NULL, &s, &done.op),
			 -EINVAL);
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, NULL),
			 -EINVAL);
	p.multiplier = 0.5;
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, &done.op),
			 -EINVAL);
	assert_int_equal(coil_retry_delay_bounds(&p, 1, &lo, &hi), -EINVAL);
	p.multiplier = 0;
	p.jitter = 9;
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, &done.op),
			 -EINVAL);
	p.jitter = 0;
	assert_int_equal(coil_retry_delay_bounds(&p, 0, &lo, &hi), -EINVAL);
	assert_int_equal(coil_retry_delay_bounds(NULL, 1, &lo, &hi), -EINVAL);
	static const int on[] = {1};
	p.retry_on = on; /* a list without a length */
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, &done.op),
			 -EINVAL);
	p.retry_on = NULL;
	assert_int_equal(coil_retry_done(NULL, 0), -EINVAL);
	assert_int_equal(coil_retry_cancel(NULL), -EINVAL);
	assert_int_equal(coil_retry_start(&r, loop, &p, scripted, &s, &done.op),
			 0);
	struct coil_retry r2;
	assert_int_equal(
		coil_retry_start(&r2, loop, &p, scripted, &s, &done.op),
		-EBUSY);
	assert_int_equal(run_idle(loop, 5 * SEC), 0);
	assert_int_equal(done.res, 0);
	/* defaults: 3 attempts, 100 ms, x2, 30 s cap */
	assert_int_equal(coil_retry_delay_bounds(&p, 1, &lo, &hi), 0);
	assert_int_equal(hi, 100 * MS);
	assert_int_equal(coil_retry_delay_bounds(&p, 40, &lo, &hi), 0);
	assert_int_equal(hi, 30 * SEC);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_retry_full_jitter_within_bounds_stops_at_max),
		cmocka_unit_test(test_retry_equal_jitter_within_bounds),
		cmocka_unit_test(test_retry_no_jitter_doubles_to_cap),
		cmocka_unit_test(test_retry_success_stops),
		cmocka_unit_test(test_retry_non_retryable_stops_at_once),
		cmocka_unit_test(test_retry_http_statuses),
		cmocka_unit_test(test_retry_connect_refused_real_socket),
		cmocka_unit_test(test_retry_task_attempts),
		cmocka_unit_test(test_retry_cancel_during_backoff),
		cmocka_unit_test(test_retry_bad_input),
	};
	return cmocka_run_group_tests_name("async.retry", tests, NULL, NULL);
}
