/*
 * tests/h2/test_h2_hostile.c - coil_h2's client against a hostile HTTP/2
 * server of the tests' own (h2peer.py, raw frames): a SETTINGS flood, a
 * send window that never opens, RST_STREAM in the middle of a body,
 * GOAWAY with streams in flight, a response head over the header-list
 * limit, a CONTINUATION flood. Each ends with its own clear error, the
 * session is closed and no fd is left open (memory: the ASan run).
 * Skips (77) without python3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h2/h2util.h"

#ifndef COIL_H2PEER
#error "COIL_H2PEER must name tests/h2/h2peer.py"
#endif

struct peer {
	pid_t pid;
	unsigned short port;
};

static void peer_start(struct peer *p, const char *mode)
{
	p->port = tu_py_peer(COIL_H2PEER, (const char *const[]){mode, NULL},
			     &p->pid);
	assert_true(p->port > 0);
}

static void peer_stop(struct peer *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
}

/* Run @total requests against the peer in @mode; the session must close
 * within 10 s and leave no fd. */
static struct h2t *run(const char *mode, struct h2t *t)
{
	struct peer p;
	int fds = tu_count_fds();

	peer_start(&p, mode);
	t->loop = tu_loop(NULL);
	if (!t->total)
		t->total = 1;
	if (!t->inflight)
		t->inflight = t->total;
	assert_true(h2t_run(t, p.port, 10000000000ull));
	assert_int_equal(t->connect_err, 0);
	h2t_drain(t->loop);
	coil_loop_free(t->loop);
	peer_stop(&p);
	assert_int_equal(tu_count_fds(), fds);
	return t;
}

static void test_h2_settings_flood_ends_elimit(void **state)
{
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;
	t->o.max_control_per_sec = 100;
	run("settings_flood", t);
	assert_int_equal(t->end_err, COIL_ELIMIT);
	assert_int_equal(t->r[0].err, COIL_ELIMIT);
	free(t);
}

static void test_h2_window_never_opens_ends_flow(void **state)
{
	/* more than the 65,535 bytes a window opens with (RFC 9113 §6.9.2):
	 * the peer's SETTINGS may come after the first of it is out */
	static const char body[100000] = "x";
	struct coil_h2_body b = {.buf = body, .len = sizeof(body)};
	struct h2t *t = calloc(1, sizeof(*t));
	uint64_t t0 = tu_mono_ns();
	(void)state;
	t->o.flow_timeout_ns = 200000000ull;
	t->method = "POST";
	t->body = &b;
	run("window_closed", t);
	assert_int_equal(t->r[0].err, COIL_EH2_FLOW);
	assert_true(tu_mono_ns() - t0 >= 200000000ull);
	assert_int_equal(t->end_err, 0); /* the session itself ended well */
	free(t);
}

static void test_h2_rst_mid_body_ends_reset(void **state)
{
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;
	run("rst_mid_body", t);
	assert_int_equal(t->r[0].status, 200);
	assert_int_equal(t->r[0].body, 5);
	assert_int_equal(t->r[0].err, COIL_EH2_RESET);
	assert_int_equal(t->r[0].code, 2); /* INTERNAL_ERROR */
	assert_string_equal(coil_h2_strcode(t->r[0].code), "INTERNAL_ERROR");
	free(t);
}

static void test_h2_goaway_in_flight_refuses_later_streams(void **state)
{
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;
	t->total = 3;
	run("goaway_inflight", t);
	assert_int_equal(t->r[0].err, 0);
	assert_int_equal(t->r[0].status, 200);
	assert_int_equal(t->r[1].err, COIL_EH2_GOAWAY);
	assert_int_equal(t->r[2].err, COIL_EH2_GOAWAY);
	assert_int_equal(t->r[1].heads, 0);
	assert_int_equal(t->end_err, 0);
	free(t);
}

static void test_h2_headers_over_limit_reset_elimit(void **state)
{
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;
	run("big_headers", t);
	assert_int_equal(t->r[0].err, COIL_ELIMIT);
	assert_int_equal(t->r[0].heads, 0); /* never delivered */
	free(t);
}

static void test_h2_continuation_flood_ends_elimit(void **state)
{
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;
	run("continuation_flood", t);
	assert_int_equal(t->end_err, COIL_ELIMIT);
	assert_int_equal(t->r[0].err, COIL_ELIMIT);
	assert_int_equal(t->r[0].heads, 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2_settings_flood_ends_elimit),
		cmocka_unit_test(test_h2_window_never_opens_ends_flow),
		cmocka_unit_test(test_h2_rst_mid_body_ends_reset),
		cmocka_unit_test(
			test_h2_goaway_in_flight_refuses_later_streams),
		cmocka_unit_test(test_h2_headers_over_limit_reset_elimit),
		cmocka_unit_test(test_h2_continuation_flood_ends_elimit),
	};
	return cmocka_run_group_tests_name("h2.hostile", tests, NULL, NULL);
}
