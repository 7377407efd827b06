/* tests/engine/test_bufinc.c - provided buffers consumed incrementally
 * (COIL_LOOP_BUF_INC, IOU_PBUF_RING_INC, kernel 6.12): small reads of
 * several connections share one buffer, one after another, so a ring of
 * four buffers takes a turn's reads of eight connections without running
 * dry; a delivery that is held keeps its bytes while the ring goes round
 * past its buffer, which returns once it is put back. A kernel without
 * the feature gets the default ring instead (checked, then skipped). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engtest.h"

/* The byte at offset @i of connection @k's stream. */
static unsigned char pattern(unsigned k, size_t i)
{
	return (unsigned char)((i * 13 + k * 29 + i / 241) & 0xff);
}

/* What the test saw of every delivery, across connections. */
struct seen {
	const unsigned char *last_end; /* where the last delivery ended */
	unsigned last_bid;
	int deliveries, adjacent; /* ... that began where the last ended */
	unsigned bids;		  /* bitmap of the buffers used */
	int hold_first;		  /* keep the first delivery (test 2) */
	const unsigned char *held;
	unsigned held_bid, held_len;
};

struct inc_reader {
	struct coil_op op;
	struct coil_loop *loop;
	struct seen *seen;
	unsigned k;
	size_t got;
	int bad, finals, final_res;
};

static void inc_on_read(struct coil_op *op, int res, unsigned flags)
{
	struct inc_reader *r = coil_container_of(op, struct inc_reader, op);
	struct seen *s = r->seen;

	if (res > 0) {
		unsigned bid = coil_buf_id(flags);
		const unsigned char *p = coil_buf_ptr(r->loop, bid);
		assert_true(flags & COIL_BUFFER);
		assert_non_null(p);
		for (int i = 0; i < res; i++)
			if (p[i] != pattern(r->k, r->got + (size_t)i))
				r->bad++;
		if (s->deliveries && bid == s->last_bid && p == s->last_end)
			s->adjacent++;
		s->deliveries++;
		s->last_bid = bid;
		s->last_end = p + res;
		s->bids |= 1u << (bid & 31);
		r->got += (size_t)res;
		if (s->hold_first && !s->held) {
			s->held = p;
			s->held_bid = bid;
			s->held_len = (unsigned)res;
		} else {
			assert_int_equal(coil_buf_put(r->loop, bid), 0);
		}
	}
	if (!(flags & COIL_MORE)) {
		r->finals++;
		r->final_res = res;
	}
}

/* A loop of four 4 KiB buffers consumed incrementally, or a skip (after
 * checking the fallback to the default ring). */
static struct coil_loop *inc_loop(void)
{
	struct coil_loop_opts o = {
		.buf_count = 4, .buf_size = 4096, .flags = COIL_LOOP_BUF_INC};
	struct coil_loop *loop = te_begin(&o);

	te_require(loop, COIL_FEAT_MULTISHOT_RECV);
	if (!(coil_loop_features(loop) & COIL_FEAT_BUF_INC)) {
		/* kernel before 6.12: whole buffers, as many as by default */
		assert_int_equal(coil_buf_size(loop), 16384);
		coil_loop_free(loop);
		skip();
	}
	assert_int_equal(coil_buf_size(loop), 4096);
	return loop;
}

/* Send @n bytes of connection @k's stream from offset @off. */
static void send_part(int fd, unsigned k, size_t off, size_t n)
{
	unsigned char b[4096];
	assert_true(n <= sizeof(b));
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(k, off + i);
	assert_int_equal(send(fd, b, n, 0), (ssize_t)n);
}

/* Run turns until every reader got @want bytes (10 s at most). */
static void run_until_got(struct coil_loop *loop, struct inc_reader *r,
			  unsigned n, size_t want)
{
	uint64_t end = tu_mono_ns() + 10000 * MS;
	for (;;) {
		unsigned done = 0;
		for (unsigned k = 0; k < n; k++)
			done += r[k].got >= want;
		if (done == n)
			return;
		assert_true(tu_mono_ns() < end);
		assert_true(coil_loop_run(loop, COIL_RUN_ONCE) >= 0);
	}
}

/* Eight connections' 100-byte messages, all in the sockets before each
 * turn: one buffer takes the eight of a turn side by side; 32,000 bytes
 * go round the 16 KiB ring twice without -ENOBUFS. */
static void test_bufinc_small_reads_share_a_buffer(void **state)
{
	enum { NP = 8, MSG = 100, ROUNDS = 40 };
	struct coil_loop *loop = inc_loop();
	struct inc_reader r[NP];
	struct coil_loop_stats st;
	struct seen s = {0};
	int fds[NP][2];

	(void)state;
	for (unsigned k = 0; k < NP; k++) {
		tu_tcp_pair(fds[k]);
		memset(&r[k], 0, sizeof(r[k]));
		r[k].loop = loop;
		r[k].seen = &s;
		r[k].k = k;
		coil_op_init(&r[k].op, inc_on_read);
		assert_int_equal(coil_recv_multishot(loop, &r[k].op, fds[k][0]),
				 0);
	}
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned k = 0; k < NP; k++)
			send_part(fds[k][1], k, round * MSG, MSG);
		run_until_got(loop, r, NP, (round + 1) * MSG);
	}
	for (unsigned k = 0; k < NP; k++)
		shutdown(fds[k][1], SHUT_WR);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	coil_loop_stats(loop, &st);
	for (unsigned k = 0; k < NP; k++) {
		assert_int_equal(r[k].got, ROUNDS * MSG);
		assert_int_equal(r[k].bad, 0);
		assert_int_equal(r[k].finals, 1);
		assert_int_equal(r[k].final_res, 0);
		close(fds[k][0]);
		close(fds[k][1]);
	}
	print_message("%d deliveries, %d right after the one before, "
		      "%llu parks\n",
		      s.deliveries, s.adjacent, (unsigned long long)st.nobufs);
	/* the ring never ran dry: whole buffers (one a read) would have */
	assert_int_equal(st.nobufs, 0);
	/* deliveries followed one another inside a buffer ... */
	assert_true(s.adjacent >= s.deliveries / 2);
	/* ... and the four buffers went round (32,000 bytes through 16 KiB) */
	assert_int_equal(s.bids, 0xf);
	te_end(loop);
}

/* The first delivery is held while 20,000 more bytes go round the ring:
 * its buffer does not return to the kernel, so its bytes stay; put back,
 * the buffer serves again, and a second put is refused. */
static void test_bufinc_held_delivery_keeps_its_bytes(void **state)
{
	enum { MSG = 100, ROUNDS = 200, MORE = 100 };
	struct coil_loop *loop = inc_loop();
	struct inc_reader r;
	struct seen s = {.hold_first = 1};
	int fds[2];

	(void)state;
	tu_tcp_pair(fds);
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	r.seen = &s;
	coil_op_init(&r.op, inc_on_read);
	assert_int_equal(coil_recv_multishot(loop, &r.op, fds[0]), 0);
	for (unsigned round = 0; round < ROUNDS; round++) {
		send_part(fds[1], 0, round * MSG, MSG);
		run_until_got(loop, &r, 1, (round + 1) * MSG);
	}
	assert_non_null(s.held);
	assert_int_equal(s.held_len, MSG);
	for (unsigned i = 0; i < s.held_len; i++)
		assert_int_equal(s.held[i], pattern(0, i));
	assert_int_equal(coil_buf_put(loop, s.held_bid), 0);
	assert_int_equal(coil_buf_put(loop, s.held_bid), -EINVAL);
	s.bids = 0;
	for (unsigned round = ROUNDS; round < ROUNDS + MORE; round++) {
		send_part(fds[1], 0, round * MSG, MSG);
		run_until_got(loop, &r, 1, (round + 1) * MSG);
	}
	/* the held buffer is back in the ring: all four serve again */
	assert_int_equal(s.bids, 0xf);
	shutdown(fds[1], SHUT_WR);
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(r.got, (ROUNDS + MORE) * MSG);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.finals, 1);
	close(fds[0]);
	close(fds[1]);
	te_end(loop);
}

/* Offsets into a buffer are 16 bits: a larger buffer is refused. */
static void test_bufinc_large_buffers_refused(void **state)
{
	struct coil_loop_opts o = {.buf_size = 65536,
				   .flags = COIL_LOOP_BUF_INC};
	struct coil_loop *loop = NULL;

	(void)state;
	assert_int_equal(coil_loop_new(&loop, &o), -EINVAL);
	assert_null(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bufinc_small_reads_share_a_buffer),
		cmocka_unit_test(test_bufinc_held_delivery_keeps_its_bytes),
		cmocka_unit_test(test_bufinc_large_buffers_refused),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.bufinc", tests, NULL, NULL);
}
