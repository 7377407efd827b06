/*
 * tests/engine/engtest.h - what the engine tests share beyond testutil.h:
 * a loop per test with an end check (nothing in flight, no fd leaked), a
 * counting op, bounded runs, and a watchdog so a hang fails instead of
 * blocking ctest.
 *
 * Include after <cmocka.h>.
 */
#ifndef COIL_ENGTEST_H
#define COIL_ENGTEST_H

#include <ftw.h>
#include <pthread.h>
#include <signal.h>

#include "testutil.h"

#define MS (1000000ull)

/* Open fds when the current test began (te_begin), checked by te_end. */
static int te_fds0;

/* A loop for one test; records the fd count first. */
static inline struct coil_loop *te_begin(const struct coil_loop_opts *o)
{
	te_fds0 = tu_count_fds();
	return tu_loop(o);
}

/* The end of every test: nothing in flight, loop freed, no fd leaked. */
static inline void te_end(struct coil_loop *loop)
{
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_loop_free(loop);
	assert_int_equal(tu_count_fds(), te_fds0);
}

/* Skip this test (cmocka skip) when @loop lacks @feat; frees the loop
 * first so the sanitizer sees no leak. */
#define te_require(loop, feat)                                                 \
	do {                                                                   \
		if ((coil_loop_features(loop) & (feat)) != (feat)) {           \
			coil_loop_free(loop);                                  \
			skip();                                                \
		}                                                              \
	} while (0)

/* An op that counts its callbacks. */
struct cop {
	struct coil_op op;
	int calls; /* final callbacks (without COIL_MORE) */
	int more;  /* callbacks with COIL_MORE */
	int res;
	unsigned flags;
	uint64_t at_ns; /* tu_mono_ns() at the final callback */
	pthread_t thread;
};

static inline void cop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cop *c = coil_container_of(op, struct cop, op);
	if (flags & COIL_MORE) {
		c->more++;
		return;
	}
	c->calls++;
	c->res = res;
	c->flags = flags;
	c->at_ns = tu_mono_ns();
	c->thread = pthread_self();
}

static inline void cop_init(struct cop *c)
{
	memset(c, 0, sizeof(*c));
	coil_op_init(&c->op, cop_cb);
}

/* Run ONCE turns until nothing is in flight or @limit_ns passes. Returns
 * what is still in flight. */
static inline unsigned te_drain(struct coil_loop *loop, uint64_t limit_ns)
{
	uint64_t end = tu_mono_ns() + limit_ns;
	while (coil_loop_inflight(loop) > 0 && tu_mono_ns() < end)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	return coil_loop_inflight(loop);
}

/* Run ONCE turns until *@calls reaches @n or @limit_ns passes. */
static inline int te_run_calls(struct coil_loop *loop, const int *calls, int n,
			       uint64_t limit_ns)
{
	uint64_t end = tu_mono_ns() + limit_ns;
	while (*calls < n && tu_mono_ns() < end)
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	return *calls;
}

/* The current test's temp dir: made by te_tmpdir(), removed with all it
 * holds by te_rm_tmp() (a cmocka teardown), also when the test failed. */
static char *te_dir;

static inline char *te_tmpdir(void)
{
	te_dir = tu_tmpdir();
	return te_dir;
}

static inline int te_rm_one(const char *path, const struct stat *sb, int flag,
			    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int te_rm_tmp(void **state)
{
	(void)state;
	if (te_dir) {
		nftw(te_dir, te_rm_one, 8, FTW_DEPTH | FTW_PHYS);
		free(te_dir);
		te_dir = NULL;
	}
	return 0;
}

/* A hung test dies by SIGALRM (ctest reports the failure) instead of
 * running into ctest's timeout. */
static inline void te_watchdog(unsigned seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

#endif
