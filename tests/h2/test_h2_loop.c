/*
 * tests/h2/test_h2_loop.c - both roles of coil_h2 on one loop, over a TCP
 * pair on 127.0.0.1: a request body pulled through read() (deferred with
 * -EAGAIN, then coil_h2_resume()), the server's whole-body signal
 * (on_data with 0 bytes), a response larger than the 65,535-byte window
 * a stream opens with; the h2c preface partly read by the caller and
 * handed to coil_h2_server(); a reset by the server; the server's GOAWAY
 * refusing a later stream; an answer begun and reset in the same turn
 * (its head reaches the client before the reset, RFC 9113 §8.1); a
 * client that asks for no HPACK table
 * (COIL_H2_TABLE_NONE: the same fields arrive, unindexed); bad arguments.
 * No fd left open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "coil/engine.h"
#include "coil/http_h2.h"
#include "coil/stream.h"
#include "testutil.h"

#define BIG (300 * 1000) /* response body bytes */

struct side {
	struct coil_tcp tcp;
	struct coil_h2 *h;
	int ended, end_err, closed;
};

struct pair {
	struct coil_loop *loop;
	struct side cli, srv;
	/* client: one result per stream */
	int status[4];
	size_t fill[4]; /* "fields": the x-fill value's length */
	size_t got[4];
	int err[4];
	uint32_t code[4];
	int nclosed;
	/* server */
	size_t body_in;
	int body_done; /* on_data(NULL, 0) seen */
	int srv_closes, srv_err;
	int32_t srv_sid;
	const char *mode; /* "echo", "reset", "goaway", "fields", "begun" */
	/* the client's request body, pulled */
	struct coil_op later;
	int pulls, deferred;
	int goaway_seen, late;
	uint32_t room_at_end;
	size_t sent;
	unsigned char *big;
};

/* close callbacks: @data is the session's, the pair */
static void cli_closed(void *data)
{
	((struct pair *)data)->cli.closed = 1;
}

static void srv_closed(void *data)
{
	((struct pair *)data)->srv.closed = 1;
}

/* ---- server ---------------------------------------------------------------
 */

/* a streamed answer's body with nothing ready yet */
static ssize_t none_yet(struct coil_h2 *h, int32_t sid, void *sdata, void *dst,
			size_t cap)
{
	(void)h;
	(void)sid;
	(void)sdata;
	(void)dst;
	(void)cap;
	return -EAGAIN;
}

static void srv_head(struct coil_h2 *h, int32_t sid, void *sdata,
		     const struct coil_http_header *f, unsigned n,
		     unsigned flags)
{
	struct pair *p = coil_h2_data(h);
	(void)sdata;
	(void)flags;
	assert_true(n >= 4);
	assert_int_equal(f[0].name_len, 7); /* ":method" first */
	p->srv_sid = sid;
	assert_int_equal(coil_h2_set_stream_data(h, sid, p), 0);
	if (!strcmp(p->mode, "reset")) {
		assert_int_equal(coil_h2_reset(h, sid, 8), 0); /* CANCEL */
		return;
	}
	if (!strcmp(p->mode, "begun")) {
		/* a streamed answer begun, then aborted before the session
		 * sent anything (a request body over the limit): the head is
		 * still in nghttp2's queue when the reset is asked for */
		static const struct coil_http_header ok[] = {
			{":status", 7, "200", 3}};
		struct coil_h2_body b = {.read = none_yet};
		assert_int_equal(coil_h2_respond(h, sid, ok, 1, &b), 0);
		assert_int_equal(coil_h2_reset(h, sid, 2), 0); /* INTERNAL */
		return;
	}
	if (!strcmp(p->mode, "fields")) {
		/* the same long field in every response: an encoder with a
		 * table sends it once and refers to it after */
		static char fill[200];
		static const struct coil_http_header ok[] = {
			{":status", 7, "200", 3},
			{"x-fill", 6, fill, sizeof(fill)}};
		memset(fill, 'f', sizeof(fill));
		assert_int_equal(coil_h2_respond(h, sid, ok, 2, NULL), 0);
		return;
	}
	if (!strcmp(p->mode, "goaway")) {
		static const struct coil_http_header ok[] = {
			{":status", 7, "204", 3}};
		assert_int_equal(coil_h2_respond(h, sid, ok, 1, NULL), 0);
		assert_int_equal(coil_h2_shutdown(h), 0);
	}
}

static void srv_data(struct coil_h2 *h, int32_t sid, void *sdata,
		     const void *buf, size_t len)
{
	struct pair *p = sdata;
	static const struct coil_http_header ok[] = {{":status", 7, "200", 3},
						     {"x-a", 3, "b", 1}};
	struct coil_h2_body b;
	if (len) {
		assert_non_null(buf);
		p->body_in += len;
		return;
	}
	p->body_done = 1;
	b.buf = p->big;
	b.len = BIG;
	b.read = NULL;
	assert_int_equal(coil_h2_respond(h, sid, ok, 2, &b), 0);
}

static void srv_close(struct coil_h2 *h, int32_t sid, void *sdata, int err,
		      uint32_t code)
{
	struct pair *p = coil_h2_data(h);
	(void)sid;
	(void)sdata;
	(void)code;
	p->srv_closes++;
	p->srv_err = err;
}

static void srv_end(struct coil_h2 *h, int err)
{
	struct pair *p = coil_h2_data(h);
	p->srv.ended = 1;
	p->srv.end_err = err;
	coil_h2_close(h, srv_closed);
}

static const struct coil_h2_handler srv_hd = {
	.on_head = srv_head,
	.on_data = srv_data,
	.on_close = srv_close,
	.on_end = srv_end,
};

/* ---- client ---------------------------------------------------------------
 */

static int slots[4] = {0, 1, 2, 3};

static const struct coil_http_header req_get[] = {
	{":method", 7, "GET", 3},
	{":scheme", 7, "http", 4},
	{":authority", 10, "localhost", 9},
	{":path", 5, "/", 1},
};
static const struct coil_http_header req_post[] = {
	{":method", 7, "POST", 4},
	{":scheme", 7, "http", 4},
	{":authority", 10, "localhost", 9},
	{":path", 5, "/up", 3},
};

static void later_cb(struct coil_op *op, int res, unsigned flags)
{
	struct pair *p = coil_container_of(op, struct pair, later);
	(void)res;
	(void)flags;
	assert_int_equal(coil_h2_resume(p->cli.h, 1), 0);
}

/* 3 pieces of 1,000 bytes; nothing ready before each (a 5 ms timer) */
static ssize_t pull(struct coil_h2 *h, int32_t sid, void *sdata, void *dst,
		    size_t cap)
{
	struct pair *p = coil_h2_data(h);
	(void)sid;
	(void)sdata;
	p->pulls++;
	if (p->sent == 3000)
		return 0;
	if (!p->deferred) {
		p->deferred = 1;
		coil_op_init(&p->later, later_cb);
		coil_timeout(p->loop, &p->later, 5000000, 0);
		return -EAGAIN;
	}
	p->deferred = 0;
	if (cap > 1000)
		cap = 1000;
	memset(dst, 'q', cap);
	p->sent += cap;
	return (ssize_t)cap;
}

static void cli_head(struct coil_h2 *h, int32_t sid, void *sdata,
		     const struct coil_http_header *f, unsigned n,
		     unsigned flags)
{
	int *slot = sdata;
	struct pair *p = coil_h2_data(h);
	(void)sid;
	(void)flags;
	assert_true(n >= 1);
	p->status[*slot] = atoi(f[0].value);
	if (n >= 2 && f[1].name_len == 6 && !memcmp(f[1].name, "x-fill", 6))
		for (size_t i = 0; i < f[1].value_len; i++)
			p->fill[*slot] += f[1].value[i] == 'f';
}

static void cli_data(struct coil_h2 *h, int32_t sid, void *sdata,
		     const void *buf, size_t len)
{
	int *slot = sdata;
	struct pair *p = coil_h2_data(h);
	(void)sid;
	(void)buf;
	p->got[*slot] += len;
}

static void cli_close(struct coil_h2 *h, int32_t sid, void *sdata, int err,
		      uint32_t code)
{
	int *slot = sdata;
	struct pair *p = coil_h2_data(h);
	(void)sid;
	p->err[*slot] = err;
	p->code[*slot] = code;
	p->nclosed++;
}

static void cli_end(struct coil_h2 *h, int err)
{
	struct pair *p = coil_h2_data(h);
	/* what the session says at its end (it is freed after the close) */
	p->goaway_seen = coil_h2_info(h)->goaway_received;
	p->room_at_end = coil_h2_room(h);
	p->late = coil_h2_request(h, req_get, 4, NULL, &slots[1]);
	p->cli.ended = 1;
	p->cli.end_err = err;
	coil_h2_close(h, cli_closed);
}

static const struct coil_h2_handler cli_hd = {
	.on_head = cli_head,
	.on_data = cli_data,
	.on_close = cli_close,
	.on_end = cli_end,
};

/* ---- set-up ---------------------------------------------------------------
 */

/* the client's options for the next pair_open() (NULL: defaults) */
static const struct coil_h2_opts *cli_opts;

/* A connected pair, both sessions started; @pre_n bytes of the client's
 * preface read by the test and given to coil_h2_server(). */
static struct pair *pair_open(const char *mode, size_t pre_n)
{
	struct pair *p = calloc(1, sizeof(*p));
	int fds[2];
	char pre[24];

	assert_non_null(p);
	p->mode = mode;
	p->loop = tu_loop(NULL);
	p->big = malloc(BIG);
	memset(p->big, 'z', BIG);
	tu_tcp_pair(fds);
	assert_int_equal(coil_tcp_open(p->loop, &p->cli.tcp, fds[0], NULL), 0);
	assert_int_equal(
		coil_h2_client(&p->cli.tcp.s, cli_opts, &cli_hd, p, &p->cli.h),
		0);
	if (pre_n) {
		/* the client's first bytes, as an HTTP/1.1 server would have
		 * read them before it saw "PRI * HTTP/2.0" */
		size_t have = 0;
		while (!coil_stream_stats(&p->cli.tcp.s).bytes_out)
			coil_loop_run(p->loop, COIL_RUN_ONCE);
		while (have < pre_n) {
			ssize_t n = read(fds[1], pre + have, pre_n - have);
			assert_true(n > 0);
			have += (size_t)n;
		}
		assert_memory_equal(pre, "PRI * HTTP/2.0",
				    pre_n < 14 ? pre_n : 14);
	}
	assert_int_equal(coil_tcp_open(p->loop, &p->srv.tcp, fds[1], NULL), 0);
	assert_int_equal(coil_h2_server(&p->srv.tcp.s, NULL, &srv_hd, p,
					pre_n ? pre : NULL, pre_n, &p->srv.h),
			 0);
	return p;
}

static void pair_run(struct pair *p, volatile int *flag)
{
	assert_true(tu_run_until(p->loop, flag, 10000000000ull));
}

static void pair_close(struct pair *p)
{
	volatile int *c = &p->cli.closed, *s = &p->srv.closed;
	if (!p->cli.closed && !p->cli.ended)
		coil_h2_close(p->cli.h, cli_closed);
	if (!p->srv.closed && !p->srv.ended)
		coil_h2_close(p->srv.h, srv_closed);
	assert_true(tu_run_until(p->loop, c, 5000000000ull));
	assert_true(tu_run_until(p->loop, s, 5000000000ull));
	while (coil_loop_inflight(p->loop))
		coil_loop_run(p->loop, COIL_RUN_ONCE);
	coil_loop_free(p->loop);
	free(p->big);
	free(p);
}

/* ---- tests ------------------------------------------------------------------
 */

static void test_h2_loop_pulled_body_and_big_response(void **state)
{
	int fds = tu_count_fds();
	struct pair *p = pair_open("echo", 0);
	struct coil_h2_body b = {.read = pull};
	volatile int *done = &p->nclosed;
	(void)state;

	assert_int_equal(coil_h2_request(p->cli.h, req_post, 4, &b, &slots[0]),
			 1);
	pair_run(p, done);
	assert_int_equal(p->err[0], 0);
	assert_int_equal(p->status[0], 200);
	assert_int_equal(p->got[0], BIG);
	assert_int_equal(p->body_in, 3000);
	assert_true(p->body_done);
	assert_true(p->pulls >= 7); /* 3 deferred, 3 pieces, the end */
	assert_int_equal(p->srv_closes, 1);
	assert_int_equal(p->srv_err, 0);
	assert_true(coil_h2_info(p->cli.h)->writes > 0);
	pair_close(p);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_h2_loop_server_takes_read_preface(void **state)
{
	int fds = tu_count_fds();
	struct pair *p = pair_open("goaway", 10);
	volatile int *done = &p->nclosed;
	(void)state;
	assert_int_equal(coil_h2_request(p->cli.h, req_get, 4, NULL, &slots[0]),
			 1);
	pair_run(p, done);
	assert_int_equal(p->status[0], 204);
	assert_int_equal(p->err[0], 0);
	pair_close(p);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_h2_loop_server_reset(void **state)
{
	int fds = tu_count_fds();
	struct pair *p = pair_open("reset", 0);
	volatile int *done = &p->nclosed;
	(void)state;
	assert_int_equal(coil_h2_request(p->cli.h, req_get, 4, NULL, &slots[0]),
			 1);
	pair_run(p, done);
	assert_int_equal(p->err[0], COIL_EH2_RESET);
	assert_int_equal(p->code[0], 8);
	assert_string_equal(coil_h2_strcode(p->code[0]), "CANCEL");
	assert_int_equal(p->srv_err, -ECANCELED);
	assert_int_equal(coil_h2_info(p->cli.h)->resets_received, 1);
	assert_int_equal(coil_h2_info(p->srv.h)->streams_opened, 1);
	pair_close(p);
	assert_int_equal(tu_count_fds(), fds);
}

/* an answer begun and reset in the same turn: the client sees the 200,
 * then the reset (nghttp2 alone drops a HEADERS still queued when the
 * stream is reset, and the client saw only the reset) */
static void test_h2_loop_server_reset_after_head(void **state)
{
	int fds = tu_count_fds();
	struct pair *p = pair_open("begun", 0);
	volatile int *done = &p->nclosed;
	(void)state;
	assert_int_equal(coil_h2_request(p->cli.h, req_get, 4, NULL, &slots[0]),
			 1);
	pair_run(p, done);
	assert_int_equal(p->status[0], 200);
	assert_int_equal(p->err[0], COIL_EH2_RESET);
	assert_int_equal(p->code[0], 2);
	assert_int_equal(p->got[0], 0);
	assert_int_equal(p->srv_err, -ECANCELED);
	assert_int_equal(coil_h2_info(p->cli.h)->resets_received, 1);
	pair_close(p);
	assert_int_equal(tu_count_fds(), fds);
}

/* the server answers and sends GOAWAY (NO_ERROR): a request made after
 * it is refused at once; both sessions end cleanly */
static void test_h2_loop_goaway_then_request_refused(void **state)
{
	int fds = tu_count_fds();
	struct pair *p = pair_open("goaway", 0);
	volatile int *done = &p->nclosed, *ended = &p->cli.ended;
	(void)state;
	assert_int_equal(coil_h2_request(p->cli.h, req_get, 4, NULL, &slots[0]),
			 1);
	pair_run(p, done);
	assert_int_equal(p->status[0], 204);
	pair_run(p, ended);
	assert_int_equal(p->cli.end_err, 0);
	assert_true(p->goaway_seen);
	assert_int_equal(p->room_at_end, 0);
	assert_int_equal(p->late, COIL_ECLOSED);
	pair_close(p);
	assert_int_equal(tu_count_fds(), fds);
}

/* Four responses with the same 200-byte field; the client's bytes in. */
static uint64_t four_fields(const struct coil_h2_opts *o)
{
	struct pair *p;
	volatile int *done;
	uint64_t in, end;

	cli_opts = o;
	p = pair_open("fields", 0);
	cli_opts = NULL;
	done = &p->nclosed;
	for (int i = 0; i < 4; i++)
		assert_true(coil_h2_request(p->cli.h, req_get, 4, NULL,
					    &slots[i]) > 0);
	end = tu_mono_ns() + 10000000000ull;
	while (*done < 4 && tu_mono_ns() < end)
		coil_loop_run(p->loop, COIL_RUN_ONCE);
	assert_int_equal(*done, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p->err[i], 0);
		assert_int_equal(p->status[i], 200);
		assert_int_equal(p->fill[i], 200);
	}
	in = coil_stream_stats(&p->cli.tcp.s).bytes_in;
	pair_close(p);
	return in;
}

/* COIL_H2_TABLE_NONE: the server's encoder (nghttp2's) is told to keep no
 * table, so the field comes literal four times instead of once and then
 * by index: the same fields arrive, in at least 3 x 150 more bytes (a
 * 200-byte value, Huffman-coded) */
static void test_h2_loop_no_header_table(void **state)
{
	int fds = tu_count_fds();
	struct coil_h2_opts none = {.header_table_bytes = COIL_H2_TABLE_NONE};
	uint64_t with, without;
	(void)state;

	with = four_fields(NULL);
	without = four_fields(&none);
	assert_true(without >= with + 3 * 150);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_h2_loop_bad_arguments(void **state)
{
	struct pair *p = pair_open("echo", 0);
	struct coil_tcp t;
	struct coil_h2 *h;
	struct coil_h2_opts o = {.stream_window_bytes = 1u << 31};
	struct coil_h2_opts table = {.header_table_bytes = (1u << 20) + 1};
	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(coil_h2_client(NULL, NULL, &cli_hd, p, &h), -EINVAL);
	assert_int_equal(coil_h2_client(&t.s, NULL, &cli_hd, p, &h), -EINVAL);
	assert_int_equal(coil_h2_client(&p->cli.tcp.s, &o, &cli_hd, p, &h),
			 -EINVAL);
	assert_int_equal(coil_h2_client(&p->cli.tcp.s, &table, &cli_hd, p, &h),
			 -EINVAL);
	assert_int_equal(
		coil_h2_server(&p->srv.tcp.s, NULL, &srv_hd, p, NULL, 3, &h),
		-EINVAL);
	assert_int_equal(coil_h2_request(p->srv.h, req_get, 4, NULL, NULL),
			 -EINVAL);
	assert_int_equal(coil_h2_request(p->cli.h, req_get, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(coil_h2_respond(p->cli.h, 1, req_get, 1, NULL),
			 -EINVAL);
	assert_int_equal(coil_h2_respond(p->srv.h, 99, req_get, 1, NULL),
			 -ENOENT);
	assert_int_equal(coil_h2_reset(p->cli.h, 77, 8), -ENOENT);
	assert_int_equal(coil_h2_resume(p->cli.h, 77), -ENOENT);
	assert_int_equal(coil_h2_set_stream_data(p->cli.h, 77, NULL), -ENOENT);
	assert_int_equal(coil_h2_close(NULL, NULL), -EINVAL);
	assert_int_equal(coil_h2_room(NULL), 0);
	assert_null(coil_h2_info(NULL));
	assert_string_equal(coil_h2_strcode(99), "UNKNOWN");
	assert_int_equal(coil_h2_close(p->cli.h, cli_closed), 0);
	assert_int_equal(coil_h2_close(p->cli.h, cli_closed), -EALREADY);
	p->cli.ended = 1; /* closed here */
	pair_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2_loop_pulled_body_and_big_response),
		cmocka_unit_test(test_h2_loop_server_takes_read_preface),
		cmocka_unit_test(test_h2_loop_server_reset),
		cmocka_unit_test(test_h2_loop_server_reset_after_head),
		cmocka_unit_test(test_h2_loop_goaway_then_request_refused),
		cmocka_unit_test(test_h2_loop_no_header_table),
		cmocka_unit_test(test_h2_loop_bad_arguments),
	};
	return cmocka_run_group_tests_name("h2.loop", tests, NULL, NULL);
}
