/* tests/async/test_connpool.c - the generic connection pool over real TCP
 * streams to a listener on 127.0.0.1: limits and FIFO hand-over, acquire
 * deadlines, health checks, idle expiry with min_idle, open failures,
 * discard, close; what the HTTP client's pool uses of it: try_acquire,
 * max_idle, fresh acquires, close_idle, withdraw, pass */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "asyncutil.h"
#include "coil/connpool.h"
#include "coil/stream.h"

#define MS 1000000ull

/* The "protocol": a TCP stream per connection; the check answers from a
 * flag the test sets (posted, so it reports on a later turn). */
struct tconn {
	struct coil_pconn pc;
	struct coil_tcp tcp;
	struct coil_op check;
	struct proto *pr;
	int bad;
};

struct proto {
	struct coil_loop *loop;
	struct coil_connpool *pool;
	struct sockaddr_storage addr;
	int opens, closes, checks;
};

static void tconn_connected(struct coil_stream *s, int status)
{
	struct tconn *c = coil_container_of(s, struct tconn, tcp.s);
	struct coil_connpool *pool = c->pr->pool;
	if (status < 0) {
		c->pr->opens--; /* (count the connections that existed) */
		free(c);
		coil_connpool_opened(pool, NULL, status);
		return;
	}
	coil_connpool_opened(pool, &c->pc, 0);
}

static int proto_open(struct coil_connpool *p)
{
	struct proto *pr = coil_connpool_arg(p);
	struct tconn *c = calloc(1, sizeof(*c));
	int ret;

	assert_non_null(c);
	c->pr = pr;
	pr->opens++;
	ret = coil_tcp_connect(pr->loop, &c->tcp, &pr->addr, 1, NULL,
			       tconn_connected);
	if (ret < 0)
		free(c);
	return ret;
}

static void tconn_closed(struct coil_stream *s)
{
	struct tconn *c = coil_container_of(s, struct tconn, tcp.s);
	struct coil_connpool *pool = c->pr->pool;
	c->pr->closes++;
	coil_connpool_closed(pool, &c->pc);
	free(c);
}

static void proto_close(struct coil_connpool *p, struct coil_pconn *pc)
{
	struct tconn *c = coil_container_of(pc, struct tconn, pc);
	(void)p;
	assert_int_equal(coil_stream_close(&c->tcp.s, tconn_closed), 0);
}

static void tconn_checked(struct coil_op *op, int res, unsigned flags)
{
	struct tconn *c = coil_container_of(op, struct tconn, check);
	(void)res;
	(void)flags;
	coil_connpool_checked(c->pr->pool, &c->pc, !c->bad);
}

static int proto_check(struct coil_connpool *p, struct coil_pconn *pc)
{
	struct tconn *c = coil_container_of(pc, struct tconn, pc);
	(void)p;
	c->pr->checks++;
	coil_op_init(&c->check, tconn_checked);
	return coil_loop_post(c->pr->loop, &c->check, 0);
}

static const struct coil_connpool_ops ops_nocheck = {
	.open = proto_open,
	.close = proto_close,
};
static const struct coil_connpool_ops ops_check = {
	.open = proto_open,
	.close = proto_close,
	.check = proto_check,
};

/* an acquire that remembers its slot */
struct acq {
	struct rec r;
	struct coil_pconn *pc;
};

static void acq_init(struct acq *a)
{
	rec_init(&a->r);
	a->pc = NULL;
}

static int lfd;

static void proto_setup(struct proto *pr, struct coil_loop *loop,
			unsigned short port)
{
	struct sockaddr_in a = tu_addr(port);
	memset(pr, 0, sizeof(*pr));
	pr->loop = loop;
	memcpy(&pr->addr, &a, sizeof(a));
}

static void run_until_called(struct coil_loop *loop, struct rec *r)
{
	uint64_t end = tu_mono_ns() + 5000 * MS;
	while (!r->calls && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(r->calls, 1);
}

static void close_pool(struct coil_loop *loop, struct proto *pr)
{
	struct rec done;
	rec_init(&done);
	assert_int_equal(coil_connpool_close(pr->pool, &done.op), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.res, 0);
	assert_int_equal(pr->opens, pr->closes);
	coil_connpool_free(pr->pool);
}

/* Listen on a free port and make pr->pool with @ops and @o. */
static void pool_start(struct proto *pr, struct coil_loop *loop,
		       const struct coil_connpool_ops *ops,
		       const struct coil_connpool_opts *o)
{
	unsigned short port;

	lfd = tu_listen(&port);
	proto_setup(pr, loop, port);
	assert_int_equal(coil_connpool_new(&pr->pool, loop, ops, pr, o), 0);
}

/* close_pool(), then the listener and the loop. */
static void pool_end(struct coil_loop *loop, struct proto *pr)
{
	close_pool(loop, pr);
	close(lfd);
	coil_loop_free(loop);
}

static void acquire_ok(struct proto *pr, struct acq *a)
{
	assert_int_equal(coil_connpool_acquire(pr->pool, &a->r.op, &a->pc), 0);
}

/* max_size 3 and 10 acquires: 3 connections open, 7 wait and get them in
 * FIFO order as they are released; the pool never has more than 3 */
static void test_connpool_limit_and_fifo(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 3};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a[10];

	pool_start(&pr, loop, &ops_nocheck, &o);
	rec_seq = 0;
	for (int i = 0; i < 10; i++) {
		acq_init(&a[i]);
		acquire_ok(&pr, &a[i]);
	}
	run_until_called(loop, &a[2].r);
	for (int i = 0; i < 3; i++)
		run_until_called(loop, &a[i].r);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.size, 3);
	assert_int_equal(st.in_use, 3);
	assert_int_equal(st.waiting, 7);
	assert_int_equal(pr.opens, 3);
	/* release one at a time: the oldest waiter gets it */
	for (int i = 0; i < 7; i++) {
		assert_int_equal(a[i + 3].r.calls, 0);
		assert_int_equal(coil_connpool_release(pr.pool, a[i].pc), 0);
		run_until_called(loop, &a[i + 3].r);
		assert_int_equal(a[i + 3].r.res, 0);
		assert_ptr_equal(a[i + 3].pc, a[i].pc);
		if (i + 4 < 10)
			assert_int_equal(a[i + 4].r.calls, 0);
	}
	assert_int_equal(coil_connpool_release(pr.pool, a[9].pc), 0);
	assert_int_equal(coil_connpool_release(pr.pool, a[9].pc), -EINVAL);
	for (int i = 7; i < 9; i++)
		assert_int_equal(coil_connpool_release(pr.pool, a[i].pc), 0);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.opened, 3);
	assert_int_equal(st.idle, 3);
	assert_int_equal(st.acquired, 10);
	assert_int_equal(st.waited, 10); /* 3 opens, 7 releases */
	pool_end(loop, &pr);
}

/* an acquire with a 20 ms timeout on a full pool ends -ETIMEDOUT and is
 * counted; a deadline scope does the same; the pool goes on working */
static void test_connpool_acquire_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 1};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq held, late, scoped, after;
	uint64_t t0, prev;

	pool_start(&pr, loop, &ops_nocheck, &o);
	acq_init(&held);
	acquire_ok(&pr, &held);
	run_until_called(loop, &held.r);
	assert_int_equal(held.r.res, 0);
	acq_init(&late);
	acq_init(&scoped);
	t0 = tu_mono_ns();
	coil_op_timeout(&late.r.op, 20 * MS);
	acquire_ok(&pr, &late);
	prev = coil_deadline_enter(loop, coil_now_update(loop) + 40 * MS);
	acquire_ok(&pr, &scoped);
	coil_deadline_leave(loop, prev);
	run_until_called(loop, &scoped.r);
	assert_int_equal(late.r.res, -ETIMEDOUT);
	assert_int_equal(scoped.r.res, -ETIMEDOUT);
	assert_true(late.r.at_ns - t0 >= 20 * MS);
	assert_true(scoped.r.at_ns - t0 >= 40 * MS);
	assert_null(late.pc);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.waiting, 0);
	/* the connection still goes to the next acquire */
	acq_init(&after);
	acquire_ok(&pr, &after);
	assert_int_equal(coil_connpool_release(pr.pool, held.pc), 0);
	run_until_called(loop, &after.r);
	assert_ptr_equal(after.pc, held.pc);
	assert_int_equal(coil_connpool_release(pr.pool, after.pc), 0);
	pool_end(loop, &pr);
}

/* an idle connection is checked before reuse; one that fails the check
 * is closed and the acquire gets a freshly opened one */
static void test_connpool_health_check(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 2};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a, b, c;

	pool_start(&pr, loop, &ops_check, &o);
	acq_init(&a);
	acquire_ok(&pr, &a);
	run_until_called(loop, &a.r);
	assert_int_equal(pr.checks, 0); /* new: not checked */
	assert_int_equal(coil_connpool_release(pr.pool, a.pc), 0);
	acq_init(&b);
	acquire_ok(&pr, &b);
	run_until_called(loop, &b.r);
	assert_int_equal(pr.checks, 1);
	assert_ptr_equal(b.pc, a.pc); /* passed: reused */
	coil_container_of(b.pc, struct tconn, pc)->bad = 1;
	assert_int_equal(coil_connpool_release(pr.pool, b.pc), 0);
	acq_init(&c);
	acquire_ok(&pr, &c);
	run_until_called(loop, &c.r);
	assert_int_equal(c.r.res, 0);
	assert_int_equal(pr.checks, 2);
	assert_ptr_not_equal(c.pc, NULL);
	assert_int_equal(pr.opens, 2);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.check_failed, 1);
	assert_int_equal(st.checks, 2);
	assert_int_equal(coil_connpool_release(pr.pool, c.pc), 0);
	pool_end(loop, &pr);
}

/* idle connections expire after idle_timeout, down to min_idle; min_idle
 * connections are opened at start */
static void test_connpool_idle_expiry_and_min_idle(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {
		.max_size = 4, .min_idle = 1, .idle_timeout_ns = 30 * MS};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a[3];
	uint64_t end;

	pool_start(&pr, loop, &ops_nocheck, &o);
	assert_int_equal(pr.opens, 1); /* min_idle, in the background */
	end = tu_mono_ns() + 5000 * MS;
	do {
		coil_loop_run(loop, COIL_RUN_ONCE);
		coil_connpool_stats(pr.pool, &st);
	} while (st.idle < 1 && tu_mono_ns() < end);
	assert_int_equal(st.idle, 1);
	for (int i = 0; i < 3; i++) {
		acq_init(&a[i]);
		acquire_ok(&pr, &a[i]);
	}
	for (int i = 0; i < 3; i++)
		run_until_called(loop, &a[i].r);
	assert_int_equal(pr.opens, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(coil_connpool_release(pr.pool, a[i].pc), 0);
	end = tu_mono_ns() + 5000 * MS;
	while (pr.closes < 2 && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.idle_expired, 2);
	assert_int_equal(st.idle, 1); /* min_idle kept */
	assert_int_equal(st.size, 1);
	pool_end(loop, &pr);
}

/* a refused open fails the acquire it was for; a discarded connection
 * is closed and replaced for the next waiter */
static void test_connpool_open_failure_and_discard(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 1};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a, b, c;
	unsigned short port;
	int fd;

	fd = tu_listen(&port);
	close(fd); /* nobody listens there now */
	proto_setup(&pr, loop, port);
	assert_int_equal(
		coil_connpool_new(&pr.pool, loop, &ops_nocheck, &pr, &o), 0);
	acq_init(&a);
	acquire_ok(&pr, &a);
	run_until_called(loop, &a.r);
	assert_int_equal(a.r.res, -ECONNREFUSED);
	close_pool(loop, &pr);

	pool_start(&pr, loop, &ops_nocheck, &o);
	acq_init(&b);
	acq_init(&c);
	acquire_ok(&pr, &b);
	acquire_ok(&pr, &c);
	run_until_called(loop, &b.r);
	assert_int_equal(coil_connpool_discard(pr.pool, b.pc), 0);
	run_until_called(loop, &c.r);
	assert_int_equal(c.r.res, 0);
	assert_int_equal(pr.opens, 2);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.discarded, 1);
	assert_int_equal(st.size, 1);
	/* closing with one in use: waiters fail, done waits for it */
	acq_init(&b);
	acquire_ok(&pr, &b);
	struct rec done;
	rec_init(&done);
	assert_int_equal(coil_connpool_close(pr.pool, &done.op), 0);
	assert_int_equal(coil_connpool_acquire(pr.pool, &a.r.op, &a.pc),
			 COIL_ECLOSED);
	run_until_called(loop, &b.r);
	assert_int_equal(b.r.res, COIL_ECLOSED);
	assert_int_equal(done.calls, 0);
	assert_int_equal(coil_connpool_release(pr.pool, c.pc), 0);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(done.res, 0);
	assert_int_equal(pr.opens, pr.closes);
	coil_connpool_free(pr.pool);
	close(lfd);
	coil_loop_free(loop);
}

/* two waiters beyond max_size 2 against a closed port: every acquire
 * gets its own -ECONNREFUSED (those the limit held back get an open when
 * one fails), none is left waiting */
static void test_connpool_failed_opens_serve_all(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 2};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a[4];
	unsigned short port;
	int fd;

	fd = tu_listen(&port);
	close(fd);
	proto_setup(&pr, loop, port);
	assert_int_equal(
		coil_connpool_new(&pr.pool, loop, &ops_nocheck, &pr, &o), 0);
	for (int i = 0; i < 4; i++) {
		acq_init(&a[i]);
		acquire_ok(&pr, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		run_until_called(loop, &a[i].r);
		assert_int_equal(a[i].r.res, -ECONNREFUSED);
	}
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.open_failed, 4);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.size, 0);
	close_pool(loop, &pr);
	coil_loop_free(loop);
}

/* try_acquire: -EAGAIN with nothing idle, the newest idle one at once
 * otherwise (no callback), -EAGAIN while an acquire waits (FIFO) or when
 * a check is due; max_idle closes the oldest idle beyond it */
static void test_connpool_try_acquire_and_max_idle(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 3, .max_idle = 2};
	struct coil_connpool_opts bad = {.max_size = 2, .max_idle = 3};
	struct coil_connpool_stats st;
	struct coil_connpool *np;
	struct coil_pconn *pc;
	struct proto pr;
	struct acq a[2], w;
	unsigned short port;

	lfd = tu_listen(&port);
	proto_setup(&pr, loop, port);
	assert_int_equal(coil_connpool_new(&np, loop, &ops_nocheck, &pr, &bad),
			 -EINVAL);
	assert_int_equal(
		coil_connpool_new(&pr.pool, loop, &ops_nocheck, &pr, &o), 0);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), -EAGAIN);
	for (int i = 0; i < 2; i++) {
		acq_init(&a[i]);
		acquire_ok(&pr, &a[i]);
	}
	for (int i = 0; i < 2; i++)
		run_until_called(loop, &a[i].r);
	/* w waits on an open; a[0] released meanwhile goes idle, and
	 * try_acquire does not take it ahead of w */
	acq_init(&w);
	acquire_ok(&pr, &w);
	assert_int_equal(coil_connpool_release(pr.pool, a[0].pc), 0);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.idle, 1);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), -EAGAIN);
	run_until_called(loop, &w.r);
	assert_int_equal(w.r.res, 0);
	assert_int_equal(pr.opens, 3);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), 0);
	assert_ptr_equal(pc, a[0].pc);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.in_use, 3);
	assert_int_equal(st.reused, 1);
	/* three released, max_idle 2: the oldest (a[0]) is closed */
	assert_int_equal(coil_connpool_release(pr.pool, a[0].pc), 0);
	assert_int_equal(coil_connpool_release(pr.pool, a[1].pc), 0);
	assert_int_equal(coil_connpool_release(pr.pool, w.pc), 0);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.idle, 2);
	assert_int_equal(st.idle_closed, 1);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), 0);
	assert_ptr_equal(pc, w.pc); /* the most recently released */
	assert_int_equal(coil_connpool_release(pr.pool, pc), 0);
	close_pool(loop, &pr);

	/* with a check hook and check_idle_ns 0, every reuse is checked:
	 * try_acquire leaves it to acquire */
	proto_setup(&pr, loop, port);
	assert_int_equal(coil_connpool_new(&pr.pool, loop, &ops_check, &pr, &o),
			 0);
	acq_init(&w);
	acquire_ok(&pr, &w);
	run_until_called(loop, &w.r);
	assert_int_equal(coil_connpool_release(pr.pool, w.pc), 0);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), -EAGAIN);
	assert_int_equal(coil_connpool_close(pr.pool, NULL), 0);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, &pc), COIL_ECLOSED);
	assert_int_equal(run_idle(loop, 5000 * MS), 0);
	assert_int_equal(pr.opens, pr.closes);
	coil_connpool_free(pr.pool);
	close(lfd);
	coil_loop_free(loop);
}

/* a fresh acquire never gets an idle or released connection: with room
 * it opens one; on a full pool of idle ones it closes one for room; a
 * release goes to the plain waiter behind it */
static void test_connpool_fresh_acquire(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 2};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq a[2], f, g, plain;

	pool_start(&pr, loop, &ops_nocheck, &o);
	acq_init(&a[0]);
	acquire_ok(&pr, &a[0]);
	run_until_called(loop, &a[0].r);
	assert_int_equal(coil_connpool_release(pr.pool, a[0].pc), 0);
	/* room: a new one, the idle one stays */
	acq_init(&f);
	assert_int_equal(coil_connpool_acquire_fresh(pr.pool, &f.r.op, &f.pc),
			 0);
	run_until_called(loop, &f.r);
	assert_int_equal(f.r.res, 0);
	assert_ptr_not_equal(f.pc, a[0].pc);
	assert_int_equal(pr.opens, 2);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.idle, 1);
	/* full (one idle, one ours): the next fresh one closes the idle
	 * one and gets a new connection; a release while it waits goes
	 * to the plain waiter queued after it, not to it */
	acq_init(&g);
	acq_init(&plain);
	assert_int_equal(coil_connpool_acquire_fresh(pr.pool, &g.r.op, &g.pc),
			 0);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.idle, 0);
	assert_int_equal(st.idle_closed, 1);
	acquire_ok(&pr, &plain);
	assert_int_equal(coil_connpool_release(pr.pool, f.pc), 0);
	run_until_called(loop, &plain.r);
	assert_ptr_equal(plain.pc, f.pc);
	run_until_called(loop, &g.r);
	assert_int_equal(g.r.res, 0);
	assert_ptr_not_equal(g.pc, f.pc);
	assert_int_equal(pr.opens, 3);
	assert_int_equal(coil_connpool_release(pr.pool, g.pc), 0);
	assert_int_equal(coil_connpool_release(pr.pool, plain.pc), 0);
	/* close_idle: oldest first, as many as asked and there are */
	assert_int_equal(coil_connpool_close_idle(pr.pool, 5), 2);
	assert_int_equal(coil_connpool_close_idle(pr.pool, 1), 0);
	pool_end(loop, &pr);
}

/* withdraw: a waiting acquire leaves without a callback and is no longer
 * in flight; one already answered is not withdrawn (-ENOENT) */
static void test_connpool_withdraw(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 1};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq held, w, next;

	pool_start(&pr, loop, &ops_nocheck, &o);
	acq_init(&held);
	acquire_ok(&pr, &held);
	run_until_called(loop, &held.r);
	acq_init(&w);
	acq_init(&next);
	coil_op_timeout(&w.r.op, 10 * MS); /* (its deadline goes too) */
	acquire_ok(&pr, &w);
	acquire_ok(&pr, &next);
	assert_true(coil_op_busy(&w.r.op));
	assert_int_equal(coil_connpool_withdraw(pr.pool, &w.r.op), 0);
	assert_false(coil_op_busy(&w.r.op));
	assert_int_equal(coil_connpool_withdraw(pr.pool, &w.r.op), -ENOENT);
	/* bad arguments */
	assert_int_equal(coil_connpool_withdraw(NULL, &w.r.op), -EINVAL);
	assert_int_equal(coil_connpool_withdraw(pr.pool, NULL), -EINVAL);
	assert_int_equal(coil_connpool_try_acquire(NULL, &w.pc), -EINVAL);
	assert_int_equal(coil_connpool_try_acquire(pr.pool, NULL), -EINVAL);
	assert_int_equal(coil_connpool_acquire_fresh(NULL, &w.r.op, &w.pc),
			 -EINVAL);
	assert_int_equal(coil_connpool_acquire_fresh(pr.pool, &w.r.op, NULL),
			 -EINVAL);
	assert_int_equal(coil_connpool_close_idle(NULL, 1), 0);
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.waiting, 1);
	assert_int_equal(coil_connpool_release(pr.pool, held.pc), 0);
	/* answered (posted), not yet run: no longer withdrawable */
	assert_int_equal(coil_connpool_withdraw(pr.pool, &next.r.op), -ENOENT);
	run_until_called(loop, &next.r);
	assert_int_equal(next.r.res, 0);
	assert_int_equal(coil_connpool_release(pr.pool, next.pc), 0);
	/* past w's 10 ms deadline: it had left the deadline heap too */
	for (uint64_t end = tu_mono_ns() + 50 * MS; tu_mono_ns() < end;)
		coil_loop_run(loop, COIL_RUN_NOWAIT);
	assert_int_equal(w.r.calls, 0);
	pool_end(loop, &pr);
}

/* pass: the oldest plain waiter gets a connection in use at once, with
 * no callback and no longer in flight; a fresh waiter is never passed
 * one; with nobody (plain) waiting, NULL */
static void test_connpool_pass(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_connpool_opts o = {.max_size = 1};
	struct coil_connpool_stats st;
	struct proto pr;
	struct acq held, w, f;

	pool_start(&pr, loop, &ops_nocheck, &o);
	acq_init(&held);
	acquire_ok(&pr, &held);
	run_until_called(loop, &held.r);
	assert_null(coil_connpool_pass(pr.pool, held.pc));
	acq_init(&f);
	assert_int_equal(coil_connpool_acquire_fresh(pr.pool, &f.r.op, &f.pc),
			 0);
	assert_null(coil_connpool_pass(pr.pool, held.pc)); /* fresh only */
	acq_init(&w);
	acquire_ok(&pr, &w);
	assert_ptr_equal(coil_connpool_pass(pr.pool, held.pc), &w.r.op);
	assert_ptr_equal(w.pc, held.pc);
	assert_false(coil_op_busy(&w.r.op));
	coil_connpool_stats(pr.pool, &st);
	assert_int_equal(st.in_use, 1);
	assert_int_equal(st.waiting, 1);
	assert_null(coil_connpool_pass(NULL, held.pc));
	/* given back: the fresh waiter gets a new connection, not it */
	assert_int_equal(coil_connpool_release(pr.pool, w.pc), 0);
	run_until_called(loop, &f.r);
	assert_int_equal(f.r.res, 0);
	assert_ptr_not_equal(f.pc, w.pc);
	assert_int_equal(w.r.calls, 0);
	assert_int_equal(coil_connpool_release(pr.pool, f.pc), 0);
	pool_end(loop, &pr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connpool_limit_and_fifo),
		cmocka_unit_test(test_connpool_acquire_deadline),
		cmocka_unit_test(test_connpool_health_check),
		cmocka_unit_test(test_connpool_idle_expiry_and_min_idle),
		cmocka_unit_test(test_connpool_open_failure_and_discard),
		cmocka_unit_test(test_connpool_failed_opens_serve_all),
		cmocka_unit_test(test_connpool_try_acquire_and_max_idle),
		cmocka_unit_test(test_connpool_fresh_acquire),
		cmocka_unit_test(test_connpool_withdraw),
		cmocka_unit_test(test_connpool_pass),
	};
	return cmocka_run_group_tests_name("async.connpool", tests, NULL, NULL);
}
