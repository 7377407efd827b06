/*
 * tests/engine/test_buftrim.c - coil_loop_trim(): the pages of provided
 * buffers that reads touched and that were put back leave the process
 * (mincore(2) shows them not resident) at the next turn; a buffer still
 * held keeps its bytes; reads after the trim arrive whole into fresh
 * pages. Skipped (cmocka skip) on a ring without DEFER_TASKRUN or
 * multishot recv, where the call says -EOPNOTSUPP (checked too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/mman.h>

#include "engtest.h"

struct rd {
	struct coil_op op;
	struct coil_loop *loop;
	unsigned bids[8];
	int lens[8];
	int n;
};

static void rd_cb(struct coil_op *op, int res, unsigned flags)
{
	struct rd *r = coil_container_of(op, struct rd, op);
	if (res > 0 && (flags & COIL_BUFFER) && r->n < 8) {
		r->bids[r->n] = coil_buf_id(flags);
		r->lens[r->n++] = res;
	}
}

/* Is the first page of buffer @bid resident? */
static int resident(struct coil_loop *loop, unsigned bid)
{
	unsigned char v = 0;
	assert_int_equal(mincore(coil_buf_ptr(loop, bid), 4096, &v), 0);
	return v & 1;
}

/* Send @msg into fds[1] and run the loop until @r has one more read. */
static void one_read(struct coil_loop *loop, int fds[2], struct rd *r,
		     const char *msg)
{
	int want = r->n + 1;
	uint64_t end = tu_mono_ns() + 5000 * MS;
	assert_int_equal(send(fds[1], msg, strlen(msg), 0),
			 (ssize_t)strlen(msg));
	while (r->n < want && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(r->n, want);
	assert_int_equal(r->lens[want - 1], (int)strlen(msg));
	assert_memory_equal(coil_buf_ptr(loop, r->bids[want - 1]), msg,
			    strlen(msg));
}

static void test_buftrim_drops_returned_keeps_held(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	struct coil_loop_stats st;
	struct rd r = {.loop = loop};
	int fds[2];

	(void)state;
	if ((coil_loop_features(loop) &
	     (COIL_FEAT_DEFER_TASKRUN | COIL_FEAT_MULTISHOT_RECV)) !=
	    (COIL_FEAT_DEFER_TASKRUN | COIL_FEAT_MULTISHOT_RECV)) {
		if (!(coil_loop_features(loop) & COIL_FEAT_DEFER_TASKRUN))
			assert_int_equal(coil_loop_trim(loop), -EOPNOTSUPP);
		coil_loop_free(loop);
		skip();
	}
	assert_int_equal(coil_loop_trim(NULL), -EINVAL);
	tu_tcp_pair(fds);
	coil_op_init(&r.op, rd_cb);
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);

	one_read(loop, fds, &r, "kept: still held by the reader");
	one_read(loop, fds, &r, "returned");
	assert_true(r.bids[0] != r.bids[1]);
	assert_true(resident(loop, r.bids[0]));
	assert_true(resident(loop, r.bids[1]));
	assert_int_equal(coil_buf_put(loop, r.bids[1]), 0);

	/* not inline: at the next turn */
	assert_int_equal(coil_loop_trim(loop), 0);
	assert_true(resident(loop, r.bids[1]));
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	coil_loop_stats(loop, &st);
	assert_int_equal(st.buf_trims, 1);
	assert_false(resident(loop, r.bids[1]));
	assert_true(resident(loop, r.bids[0]));
	assert_memory_equal(coil_buf_ptr(loop, r.bids[0]),
			    "kept: still held by the reader", 30);

	/* the ring goes on: more reads arrive whole */
	for (int i = 0; i < 4; i++) {
		one_read(loop, fds, &r, "after the trim");
		assert_int_equal(coil_buf_put(loop, r.bids[r.n - 1]), 0);
	}
	assert_int_equal(coil_buf_put(loop, r.bids[0]), 0);
	coil_cancel(loop, &r.op);
	while (coil_op_busy(&r.op))
		coil_loop_run(loop, COIL_RUN_ONCE);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buftrim_drops_returned_keeps_held),
	};
	return cmocka_run_group_tests_name("engine.buftrim", tests, NULL, NULL);
}
