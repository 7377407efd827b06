/* tests/stream/test_stream_quiet.c - COIL_TCP_QUIET_SENDS: request/response
 * exchanges whose sends post no completion (IOSQE_CQE_SKIP_SUCCESS), the
 * write callbacks run when the answer arrives, a write queued before the
 * answer waits for it, and a close before the answer cancels the write.
 * Skips (77) without COIL_FEAT_CQE_SKIP (kernel 5.17). */
#include "st.h"

#define N 200
#define LEN 16

static unsigned char out[N][LEN];
static struct coil_stream_write w[N];
static int done[N], status[N], bad_order;
static size_t got_at_done[N];
static struct client *cur;

static void wrote(struct coil_stream_write *wr, int st)
{
	int i = (int)(intptr_t)wr->data;
	if (i > 0 && !done[i - 1])
		bad_order++;
	done[i] = 1;
	status[i] = st;
	got_at_done[i] = cur ? cur->got : 0;
}

static void need_skip(struct coil_loop *loop)
{
	if (!(coil_loop_features(loop) & COIL_FEAT_CQE_SKIP)) {
		print_message(
			"skip: no IOSQE_CQE_SKIP_SUCCESS (kernel 5.17)\n");
		coil_loop_free(loop);
		exit(COIL_SKIP);
	}
}

/* N exchanges on one connection, one write at a time; the CQEs the loop
 * reaped for them (both ends share the loop). */
static uint64_t exchanges(struct coil_loop *loop, struct server *srv,
			  unsigned flags)
{
	struct coil_tcp_opts o = {.flags = flags};
	struct coil_loop_stats a, b;
	struct client c = {0};

	memset(done, 0, sizeof(done));
	memset(status, 0, sizeof(status));
	bad_order = 0;
	assert_int_equal(st_connect(loop, &c, srv->port, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	cur = &c;
	coil_loop_stats(loop, &a);
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < LEN; j++)
			out[i][j] = (unsigned char)(i * 13 + j);
		memset(&w[i], 0, sizeof(w[i]));
		w[i].data = (void *)(intptr_t)i;
		assert_int_equal(
			coil_stream_write(&c.t.s, &w[i], out[i], LEN, wrote),
			0);
		ST_RUN_UNTIL(loop, c.got >= (size_t)(i + 1) * LEN && done[i],
			     5000);
		assert_true(done[i]);
		assert_int_equal(status[i], 0);
		assert_int_equal(c.got, (size_t)(i + 1) * LEN);
		if (flags & COIL_TCP_QUIET_SENDS) /* at the answer, before it */
			assert_int_equal(got_at_done[i], (size_t)i * LEN);
	}
	coil_loop_stats(loop, &b);
	assert_memory_equal(c.in, out, sizeof(out));
	assert_int_equal(bad_order, 0);
	assert_int_equal(coil_stream_stats(&c.t.s).sends, N);
	assert_int_equal(coil_stream_stats(&c.t.s).bytes_out, sizeof(out));
	cur = NULL;
	st_client_close(loop, &c);
	return b.cqes - a.cqes;
}

/* the same exchanges cost one completion fewer each */
static void test_stream_quiet_sends_post_no_completion(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	uint64_t plain, quiet;
	(void)state;
	need_skip(loop);
	st_server_open(&srv, loop, st_echo_read);
	plain = exchanges(loop, &srv, 0);
	quiet = exchanges(loop, &srv, COIL_TCP_QUIET_SENDS);
	print_message("%d exchanges: %llu CQEs with ordinary sends, %llu "
		      "quiet\n",
		      N, (unsigned long long)plain, (unsigned long long)quiet);
	/* N send completions fewer (the 20 ms ticks of the waits add a
	 * few either way) */
	assert_true(quiet + N - N / 10 <= plain);
	st_server_close(&srv);
	st_loop_free(loop);
}

/* A write queued while the quiet send waits for its answer goes out
 * after the answer, never beside it */
static void test_stream_quiet_later_write_waits(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_tcp_opts o = {.flags = COIL_TCP_QUIET_SENDS};
	struct server srv = {0};
	struct client c = {0};
	(void)state;
	need_skip(loop);
	memset(done, 0, sizeof(done));
	bad_order = 0;
	st_server_open(&srv, loop, st_echo_read);
	assert_int_equal(st_connect(loop, &c, srv.port, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	cur = &c;
	memset(out[0], 'a', LEN);
	memset(out[1], 'b', LEN);
	memset(&w[0], 0, sizeof(w[0]));
	memset(&w[1], 0, sizeof(w[1]));
	w[1].data = (void *)(intptr_t)1;
	assert_int_equal(coil_stream_write(&c.t.s, &w[0], out[0], LEN, wrote),
			 0);
	/* the first send leaves (quiet), the answer has not come yet */
	ST_RUN_UNTIL(loop, coil_stream_stats(&c.t.s).sends == 1, 5000);
	assert_int_equal(coil_stream_stats(&c.t.s).sends, 1);
	assert_int_equal(coil_stream_write(&c.t.s, &w[1], out[1], LEN, wrote),
			 0);
	ST_RUN_UNTIL(loop, done[1] && c.got == 2 * LEN, 5000);
	assert_true(done[0] && done[1]);
	assert_int_equal(bad_order, 0);
	assert_int_equal(got_at_done[0], 0); /* at its answer */
	assert_int_equal(got_at_done[1], LEN);
	assert_int_equal(coil_stream_stats(&c.t.s).sends, 2);
	assert_memory_equal(c.in, out[0], LEN);
	assert_memory_equal(c.in + LEN, out[1], LEN);
	cur = NULL;
	st_client_close(loop, &c);
	st_server_close(&srv);
	st_loop_free(loop);
}

/* Closed before an answer that never comes: the write completes with
 * -ECANCELED, the close completes, nothing is left in flight */
static void test_stream_quiet_close_unanswered(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_tcp_opts o = {.flags = COIL_TCP_QUIET_SENDS};
	struct server srv = {0};
	struct client c = {0};
	(void)state;
	need_skip(loop);
	memset(done, 0, sizeof(done));
	st_server_open(&srv, loop, NULL); /* accepts, never answers */
	assert_int_equal(st_connect(loop, &c, srv.port, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.t.s, st_client_read), 0);
	memset(out[0], 'q', LEN);
	memset(&w[0], 0, sizeof(w[0]));
	assert_int_equal(coil_stream_write(&c.t.s, &w[0], out[0], LEN, wrote),
			 0);
	ST_RUN_UNTIL(loop, coil_stream_stats(&c.t.s).sends == 1, 5000);
	assert_int_equal(coil_stream_stats(&c.t.s).sends, 1);
	assert_false(done[0]);
	st_client_close(loop, &c);
	assert_true(done[0]);
	assert_int_equal(status[0], -ECANCELED);
	assert_int_equal(c.cbs_after_close, 0);
	st_server_close(&srv);
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_quiet_sends_post_no_completion),
		cmocka_unit_test(test_stream_quiet_later_write_waits),
		cmocka_unit_test(test_stream_quiet_close_unanswered),
	};
	return cmocka_run_group_tests_name("stream.quiet", tests, NULL, NULL);
}
