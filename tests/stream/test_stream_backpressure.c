/* tests/stream/test_stream_backpressure.c - 64 MiB through one TCP stream
 * to a slow reader that pauses all the time: the data arrives intact (hashed
 * and compared at both ends) and memory stays bounded (buffers held by the
 * paused stream, bytes queued by the writer, the sender stalls while the
 * reader is paused) */
#include "st.h"

#define TOTAL (64ull << 20)
#define CHUNK (256u << 10)
#define NREQ 4
#define PLEN ((1u << 20) + 13) /* not a divisor of anything we use */
#define RING 64		       /* provided buffers in the loop */

static unsigned char *pattern;

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- the writer: NREQ requests of CHUNK bytes in flight ---- */

struct writer {
	struct client c;
	struct coil_stream_write w[NREQ];
	struct iovec iov[NREQ][2];
	uint64_t queued; /* bytes handed to coil_stream_write* */
	uint64_t hash;
	int errors;
};

static struct writer wr;

static void write_next(struct coil_stream_write *w, int status);

static void queue_chunk(int i)
{
	size_t off = (size_t)(wr.queued % PLEN);
	size_t n = CHUNK, first = PLEN - off < n ? PLEN - off : n;
	unsigned cnt = 1;

	if (TOTAL - wr.queued < n)
		n = (size_t)(TOTAL - wr.queued);
	if (first > n)
		first = n;
	wr.iov[i][0].iov_base = pattern + off;
	wr.iov[i][0].iov_len = first;
	if (n > first) {
		wr.iov[i][1].iov_base = pattern;
		wr.iov[i][1].iov_len = n - first;
		cnt = 2;
	}
	wr.hash = fnv(wr.hash, pattern + off, first);
	if (cnt == 2)
		wr.hash = fnv(wr.hash, pattern, n - first);
	wr.queued += n;
	wr.w[i].data = (void *)(intptr_t)i;
	assert_int_equal(coil_stream_writev(&wr.c.t.s, &wr.w[i], wr.iov[i], cnt,
					    write_next),
			 0);
}

static void write_next(struct coil_stream_write *w, int status)
{
	if (status != 0) {
		wr.errors++;
		return;
	}
	if (wr.queued < TOTAL)
		queue_chunk((int)(intptr_t)w->data);
}

/* ---- the reader: pauses after every callback ---- */

struct reader {
	struct coil_stream *s;
	struct coil_loop *loop;
	struct coil_op resume; /* a nop: resume next turn */
	struct coil_op stall;  /* a timer: resume later */
	uint64_t got;
	uint64_t hash;
	int bad;
	int eof;
	int err;
	uint64_t reads;
	uint64_t max_held;
	/* the long stall at 8 MiB */
	int stalled;
	uint64_t sent_at_stall_start, sent_at_stall_end;
};

static struct reader rd;

static void slow_read(struct coil_stream *s, ssize_t n, const void *buf);

static void resume_cb(struct coil_op *op, int res, unsigned flags)
{
	if (rd.stalled == 1) {
		rd.sent_at_stall_end = coil_stream_stats(&wr.c.t.s).bytes_out;
		rd.stalled = 2;
	}
	if (rd.got >= TOTAL)
		return; /* all in: the test is closing the streams */
	assert_int_equal(coil_stream_read_start(rd.s, slow_read), 0);
}

static void slow_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	const unsigned char *p = buf;
	const struct coil_stream_stats st = coil_stream_stats(s);

	if (n <= 0) {
		if (n == 0)
			rd.eof = 1;
		else
			rd.err = (int)n;
		return;
	}
	/* compare with the pattern at this stream offset */
	for (size_t done = 0; done < (size_t)n;) {
		size_t off = (size_t)((rd.got + done) % PLEN);
		size_t k = (size_t)n - done;
		if (k > PLEN - off)
			k = PLEN - off;
		if (memcmp(p + done, pattern + off, k) != 0)
			rd.bad++;
		done += k;
	}
	rd.hash = fnv(rd.hash, p, (size_t)n);
	rd.got += (uint64_t)n;
	rd.reads++;
	if (st.held > rd.max_held)
		rd.max_held = st.held;

	/* back-pressure: pause now, resume next turn (or much later) */
	assert_int_equal(coil_stream_read_stop(s), 0);
	if (!rd.stalled && rd.got >= (8ull << 20)) {
		rd.stalled = 1;
		rd.sent_at_stall_start = coil_stream_stats(&wr.c.t.s).bytes_out;
		assert_int_equal(coil_timeout(rd.loop, &rd.stall, 200 * MS, 0),
				 0);
	} else if (rd.reads % 64 == 0) {
		assert_int_equal(coil_timeout(rd.loop, &rd.stall, 1 * MS, 0),
				 0);
	} else {
		assert_int_equal(coil_nop(rd.loop, &rd.resume), 0);
	}
}

static void on_reader(struct peer *p)
{
	rd.s = &p->t.s;
	assert_int_equal(coil_stream_read_start(&p->t.s, slow_read), 0);
}

static void test_stream_64mib_slow_reader_bounded(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop_opts lo = {.buf_count = RING, .buf_size = 16384};
	struct coil_loop *loop = tu_loop(&lo);
	struct server srv = {0};
	struct coil_tcp_opts wo = {.sndbuf = 256 << 10};
	struct coil_stream_stats ws, rs;
	uint64_t x = 0x9e3779b97f4a7c15ull, t0;

	pattern = malloc(PLEN);
	assert_non_null(pattern);
	for (size_t i = 0; i < PLEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (unsigned char)x;
	}
	memset(&wr, 0, sizeof(wr));
	memset(&rd, 0, sizeof(rd));
	wr.hash = rd.hash = 0xcbf29ce484222325ull;
	rd.loop = loop;
	coil_op_init(&rd.resume, resume_cb);
	coil_op_init(&rd.stall, resume_cb);

	srv.topts.rcvbuf = 256 << 10;
	srv.on_peer = on_reader;
	st_server_open(&srv, loop, NULL);
	assert_int_equal(st_connect(loop, &wr.c, srv.port, &wo), 0);
	t0 = tu_mono_ns();
	for (int i = 0; i < NREQ; i++)
		queue_chunk(i);
	ST_RUN_UNTIL(loop, rd.got >= TOTAL || rd.bad || rd.err || wr.errors,
		     60000);
	print_message(
		"64 MiB in %.0f ms: %llu reads, %llu sends, held max %llu, "
		"spilled %llu KiB (max %llu KiB at once), stall let %llu KiB "
		"through\n",
		(double)(tu_mono_ns() - t0) / 1e6, (unsigned long long)rd.reads,
		(unsigned long long)coil_stream_stats(&wr.c.t.s).sends,
		(unsigned long long)coil_stream_stats(rd.s).held_max,
		(unsigned long long)coil_stream_stats(rd.s).spilled >> 10,
		(unsigned long long)coil_stream_stats(rd.s).spill_max >> 10,
		(unsigned long long)(rd.sent_at_stall_end -
				     rd.sent_at_stall_start) >>
			10);
	assert_int_equal(rd.bad, 0);
	assert_int_equal(rd.err, 0);
	assert_int_equal(wr.errors, 0);
	assert_int_equal(rd.got, TOTAL);
	assert_true(rd.hash == wr.hash);

	ws = coil_stream_stats(&wr.c.t.s);
	rs = coil_stream_stats(rd.s);
	assert_int_equal(ws.bytes_out, TOTAL);
	assert_int_equal(rs.bytes_in, TOTAL);
	/* the writer's queue never held more than its NREQ requests */
	assert_true(ws.queued_max <= (uint64_t)NREQ * CHUNK);
	/* the paused reader kept at most COIL_TCP_HELD of the ring's
	 * buffers (so never more than the ring), and what it copied aside
	 * stayed under what the socket buffers can hold */
	assert_true(rs.held_max <= COIL_TCP_HELD);
	assert_true(rs.held_max <= RING);
	/* ... and none with incremental consumption (COIL_FALLBACK=bufinc),
	 * where one held delivery keeps its whole buffer: copies only */
	if (coil_loop_features(loop) & COIL_FEAT_BUF_INC)
		assert_int_equal(rs.held_max, 0);
	assert_true(rd.max_held <= rs.held_max);
	assert_true(rs.spill_max <= RING * 16384ull);
	assert_true(rs.pauses >= rd.reads - 1);
	/* while the reader stalled for 200 ms the sender stalled too: only
	 * what the socket buffers take got through */
	assert_int_equal(rd.stalled, 2);
	assert_true(rd.sent_at_stall_end - rd.sent_at_stall_start <
		    (8ull << 20));

	/* let the write callbacks run, then end cleanly */
	ST_RUN_UNTIL(loop, coil_stream_stats(&wr.c.t.s).queued == 0, 5000);
	st_client_close(loop, &wr.c);
	st_server_close(&srv);
	st_loop_free(loop);
	free(pattern);
	assert_int_equal(tu_count_fds(), fds0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_64mib_slow_reader_bounded),
	};
	return cmocka_run_group_tests_name("stream.backpressure", tests, NULL,
					   NULL);
}
