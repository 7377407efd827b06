/*
 * tests/server/test_server_kick.c - the server's kick list
 * (http/server_internal.h, coil__sconn_kick()): a connection holds a link,
 * not an op of its own, and one posted op serves the list. Many
 * connections kicked in one turn are all served, in the order they were
 * kicked (their on_done reports come in that order); a connection that
 * closes while listed (its request aborted) is released only after it was
 * served, never touched after its free (run under ASan in CI). The
 * handler holds every request until the last one arrives, then answers
 * or aborts them all from that one callback: one turn's kicks. A third
 * The even requests' answers are the same bytes: carved one after the
 * other, they share the first one's copy (answers_shared), and every
 * client still reads its own. A third
 * run holds them all and the clients reset: each cancel hook lets go of
 * its request from inside the kick that tells it (kicking its connection
 * again while its release is being decided).
 */
#include "srv.h"

enum { N = 48 };

static struct coil_http_sreq *held[N];
static unsigned arrived;
/* the order the handler let go of the requests, and on_done's */
static unsigned let_go[N], nlet_go;
static unsigned done_order[N], ndone;
static unsigned aborted_done;
static int abort_some;
/* what went wrong on the server's thread (asserted on the test's) */
static unsigned bad;
/* the reset run: hold every request, tell the test of each (a pipe) */
static int hold_all, arrived_fd[2] = {-1, -1};

/* request k of the test: path "/k" */
static unsigned req_index(const struct coil_http_sreq *req)
{
	unsigned k = 0;
	for (size_t i = 1; i < req->path_len; i++)
		k = k * 10 + (unsigned)(req->path[i] - '0');
	return k;
}

/* aborted when abort_some: every fifth */
static int is_aborted(unsigned k)
{
	return abort_some && k % 5 == 2;
}

/* the body of request k's answer: the same for the even ones (whose
 * answers, let go of one after the other, share their bytes) */
static int body_of(unsigned k, char *body, size_t cap)
{
	return k % 2 ? snprintf(body, cap, "%u", k)
		     : snprintf(body, cap, "even");
}

static void let_go_one(unsigned k)
{
	char body[16];
	int n = body_of(k, body, sizeof(body));

	let_go[nlet_go++] = k;
	if (is_aborted(k))
		bad += coil_http_sreq_abort(held[k]) != 0;
	else
		bad += coil_http_respond(held[k], 200, NULL, 0, body,
					 (size_t)n) != 0;
}

/* The client is gone: let go of the request from the hook. */
static void cancel_lets_go(struct coil_http_sreq *req, void *arg)
{
	(void)arg;
	bad += coil_http_sreq_abort(req) != 0;
}

static void kick_handler(struct coil_http_sreq *req, void *arg)
{
	unsigned k = req_index(req);

	if (hold_all) {
		bad += coil_http_sreq_on_cancel(req, cancel_lets_go, NULL) != 0;
		bad += write(arrived_fd[1], "a", 1) != 1;
		return;
	}
	(void)arg;
	if (k >= N || held[k]) {
		bad++;
		coil_http_respond(req, 400, NULL, 0, NULL, 0);
		return;
	}
	held[k] = req;
	if (++arrived < N)
		return; /* held: answered from the last one's callback */
	/* every other request, in an order that is neither theirs nor its
	 * reverse (each one kicks its connection): the even ones first,
	 * then the odd ones; then this one */
	for (unsigned odd = 0; odd < 2; odd++) {
		for (unsigned i = 0; i < N; i++) {
			unsigned j = (i * 7 + 3) % N;
			if (j != k && j % 2 == odd)
				let_go_one(j);
		}
	}
	let_go_one(k);
}

static void kick_done(struct coil_http_sreq *req, int status, uint64_t bytes,
		      void *arg)
{
	unsigned k = req_index(req);

	(void)bytes;
	(void)arg;
	if (hold_all || is_aborted(k)) {
		bad += status != 0;
		aborted_done++;
		return;
	}
	bad += status != 200 || ndone >= N;
	if (ndone < N)
		done_order[ndone++] = k;
}

/* N clients, client k sending GET /k on its own connection. */
static void send_all(int *fds, unsigned short port)
{
	char req[64];

	for (unsigned k = 0; k < N; k++) {
		fds[k] = cl_connect(port);
		snprintf(req, sizeof(req),
			 "GET /%u HTTP/1.1\r\nHost: x\r\n\r\n", k);
		cl_sends(fds[k], req);
	}
}

static void run(int with_aborts)
{
	struct coil_http_server_opts o = {.handler = kick_handler,
					  .on_done = kick_done};
	struct cl_in *in = calloc(N, sizeof(*in));
	unsigned want[N], nwant = 0, naborted = 0;
	struct coil_http_server_stats st;
	char want_body[16];
	struct srv s;
	int fds[N];

	assert_non_null(in);
	arrived = nlet_go = ndone = aborted_done = bad = 0;
	memset(held, 0, sizeof(held));
	abort_some = with_aborts;
	srv_start(&s, &o, NULL);
	send_all(fds, s.port);
	for (unsigned k = 0; k < N; k++) {
		struct resp r;
		if (is_aborted(k)) {
			/* closed without an answer */
			assert_int_equal(cl_response(fds[k], &in[k], &r, 0, 0),
					 -1);
			naborted++;
			close(fds[k]);
			continue;
		}
		assert_int_equal(cl_response(fds[k], &in[k], &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		body_of(k, want_body, sizeof(want_body));
		assert_string_equal(r.body, want_body);
		free(r.body);
		close(fds[k]);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(bad, 0);
	/* the even answers, carved one after the other in one turn, shared
	 * the first one's bytes (all but those where a chunk filled or the
	 * Date's second changed), and each client got its own answer */
	assert_true(st.answers_shared >= 1);
	/* the last request is let go of inside its own pump, which reports
	 * it at once; the others in the turn after, in the order they were
	 * kicked */
	assert_int_equal(nlet_go, N);
	if (!is_aborted(let_go[N - 1]))
		want[nwant++] = let_go[N - 1];
	for (unsigned i = 0; i + 1 < N; i++) {
		if (!is_aborted(let_go[i]))
			want[nwant++] = let_go[i];
	}
	assert_int_equal(ndone, nwant);
	for (unsigned i = 0; i < nwant; i++)
		assert_int_equal(done_order[i], want[i]);
	assert_int_equal(aborted_done, naborted);
	free(in);
}

static void test_server_kicked_cancel_lets_go(void **state)
{
	struct coil_http_server_opts o = {.handler = kick_handler,
					  .on_done = kick_done};
	struct srv s;
	int fds[N];
	char b;

	(void)state;
	assert_int_equal(pipe(arrived_fd), 0);
	aborted_done = bad = 0;
	hold_all = 1;
	srv_start(&s, &o, NULL);
	send_all(fds, s.port);
	for (unsigned k = 0; k < N; k++) {
		struct pollfd p = {.fd = arrived_fd[0], .events = POLLIN};
		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(read(arrived_fd[0], &b, 1), 1);
	}
	for (unsigned k = 0; k < N; k++)
		cl_reset(fds[k]);
	/* every connection released in the drain: none left to cut */
	assert_int_equal(srv_stop(&s, 10000, NULL), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(aborted_done, N);
	hold_all = 0;
	close(arrived_fd[0]);
	close(arrived_fd[1]);
}

static void test_server_kicks_served_in_order(void **state)
{
	(void)state;
	run(0);
}

static void test_server_kicked_conn_closes_listed(void **state)
{
	(void)state;
	run(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_kicks_served_in_order),
		cmocka_unit_test(test_server_kicked_conn_closes_listed),
		cmocka_unit_test(test_server_kicked_cancel_lets_go),
	};
	return cmocka_run_group_tests_name("server.kick", tests, NULL, NULL);
}
