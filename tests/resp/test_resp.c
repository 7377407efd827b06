/* tests/resp/test_resp.c - the Redis client against a real redis-server
 * started by the test: commands and replies of every type, errors as
 * values, pipelining, pub/sub, command timeouts, health checks, and a
 * server killed in the middle of a pipeline */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "coil/resp.h"
#include "redis.h"

#define MS 1000000ull

static struct redis srv;

struct call {
	struct coil_resp_cmd cmd;
	int calls;
	int res;
	int order;
};

static int call_seq;

static void call_cb(struct coil_op *op, int res, unsigned flags)
{
	struct call *c = coil_container_of(op, struct call, cmd.op);
	(void)flags;
	c->calls++;
	c->res = res;
	c->order = call_seq++;
}

static void call_init(struct call *c, int argc, const char *const *argv)
{
	memset(c, 0, sizeof(*c));
	coil_resp_cmd_init(&c->cmd, call_cb);
	assert_int_equal(coil_resp_cmd_args(&c->cmd, argc, argv, NULL), 0);
}

static void run_until(struct coil_loop *loop, int *flag)
{
	uint64_t end = tu_mono_ns() + 10000 * MS;
	while (!*flag && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_true(*flag);
}

static struct coil_resp_client *client(struct coil_loop *loop,
				       struct coil_resp_opts *o)
{
	struct coil_resp_client *c;
	redis_addr(&srv, &o->addr);
	assert_int_equal(coil_resp_client_new(&c, loop, o), 0);
	return c;
}

static void client_done(struct coil_loop *loop, struct coil_resp_client *c)
{
	struct call done;
	memset(&done, 0, sizeof(done));
	coil_op_init(&done.cmd.op, call_cb);
	assert_int_equal(coil_resp_client_close(c, &done.cmd.op), 0);
	run_until(loop, &done.calls);
	assert_int_equal(done.res, 0);
	coil_resp_client_free(c);
}

/* one command on a pooled connection, synchronously from the test */
static const struct coil_resp_value *do_cmd(struct coil_loop *loop,
					    struct coil_resp_client *c,
					    struct call *k, int argc,
					    const char *const *argv)
{
	call_init(k, argc, argv);
	assert_int_equal(coil_resp_command(c, &k->cmd), 0);
	run_until(loop, &k->calls);
	assert_int_equal(k->res, 0);
	return k->cmd.reply;
}

static void test_resp_commands_and_reply_types(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 2};
	struct coil_resp_client *c = client(loop, &o);
	const struct coil_resp_value *v;
	struct call k;
	const char bin[] = {'a', 0, 'b', '\r', '\n'};

	v = do_cmd(loop, c, &k, 3, (const char *const[]){"SET", "k1", "v1"});
	assert_int_equal(v->type, COIL_RESP_STRING);
	assert_string_equal(v->str, "OK");
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 2, (const char *const[]){"GET", "k1"});
	assert_int_equal(v->type, COIL_RESP_BULK);
	assert_int_equal(v->len, 2);
	assert_string_equal(v->str, "v1");
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 2, (const char *const[]){"GET", "nokey"});
	assert_int_equal(v->type, COIL_RESP_NIL);
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 2, (const char *const[]){"INCR", "n"});
	assert_int_equal(v->type, COIL_RESP_INT);
	assert_int_equal(v->integer, 1);
	coil_resp_cmd_free(&k.cmd);
	/* an error reply is a value: result 0, type ERROR */
	v = do_cmd(loop, c, &k, 2, (const char *const[]){"INCR", "k1"});
	assert_int_equal(v->type, COIL_RESP_ERROR);
	assert_true(strstr(v->str, "not an integer") != NULL);
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 1, (const char *const[]){"NOSUCHCOMMAND"});
	assert_int_equal(v->type, COIL_RESP_ERROR);
	coil_resp_cmd_free(&k.cmd);
	/* binary-safe values */
	call_init(&k, 3, (const char *const[]){"SET", "bin", bin});
	assert_int_equal(
		coil_resp_cmd_args(&k.cmd, 3,
				   (const char *const[]){"SET", "bin", bin},
				   (const size_t[]){3, 3, 5}),
		0);
	assert_int_equal(coil_resp_command(c, &k.cmd), 0);
	run_until(loop, &k.calls);
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 2, (const char *const[]){"GET", "bin"});
	assert_int_equal(v->len, 5);
	assert_memory_equal(v->str, bin, 5);
	coil_resp_cmd_free(&k.cmd);
	/* arrays, nested */
	do_cmd(loop, c, &k, 5,
	       (const char *const[]){"RPUSH", "list", "a", "bb", "ccc"});
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 4,
		   (const char *const[]){"LRANGE", "list", "0", "-1"});
	assert_int_equal(v->type, COIL_RESP_ARRAY);
	assert_int_equal(v->len, 3);
	assert_string_equal(v->elem[2].str, "ccc");
	coil_resp_cmd_free(&k.cmd);
	v = do_cmd(loop, c, &k, 4,
		   (const char *const[]){"MGET", "k1", "nokey", "list"});
	assert_int_equal(v->len, 3);
	assert_int_equal(v->elem[1].type, COIL_RESP_NIL);
	coil_resp_cmd_free(&k.cmd);
	client_done(loop, c);
	coil_loop_free(loop);
}

/* 200 commands pipelined on one held connection: replies in order, one
 * connection, all of a turn's commands in one write */
struct held {
	struct coil_op op;
	struct coil_pconn *pc;
	int calls, res;
};

static void held_cb(struct coil_op *op, int res, unsigned flags)
{
	struct held *h = coil_container_of(op, struct held, op);
	(void)flags;
	h->calls++;
	h->res = res;
}

static struct coil_resp_conn *acquire(struct coil_loop *loop,
				      struct coil_resp_client *c)
{
	struct held h = {0};
	coil_op_init(&h.op, held_cb);
	assert_int_equal(coil_resp_acquire(c, &h.op, &h.pc), 0);
	run_until(loop, &h.calls);
	assert_int_equal(h.res, 0);
	return coil_resp_conn(h.pc);
}

static void test_resp_pipeline_in_order(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 1};
	struct coil_resp_client *c = client(loop, &o);
	enum { N = 200 };
	struct call *k = calloc(N, sizeof(*k));
	struct coil_resp_conn *conn = acquire(loop, c);
	struct coil_connpool_stats st;
	char num[16];

	call_seq = 0;
	for (int i = 0; i < N; i++) {
		snprintf(num, sizeof(num), "%d", i);
		if (i % 2 == 0)
			call_init(&k[i], 3,
				  (const char *const[]){"SET", "p", num});
		else
			call_init(&k[i], 2, (const char *const[]){"GET", "p"});
		assert_int_equal(coil_resp_send(conn, &k[i].cmd), 0);
	}
	run_until(loop, &k[N - 1].calls);
	for (int i = 0; i < N; i++) {
		assert_int_equal(k[i].calls, 1);
		assert_int_equal(k[i].res, 0);
		assert_int_equal(k[i].order, i);
		if (i % 2) {
			snprintf(num, sizeof(num), "%d", i - 1);
			assert_string_equal(k[i].cmd.reply->str, num);
		}
		coil_resp_cmd_free(&k[i].cmd);
	}
	assert_int_equal(coil_resp_release(conn), 0);
	coil_resp_client_stats(c, &st);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.idle, 1);
	free(k);
	client_done(loop, c);
	coil_loop_free(loop);
}

/* pub/sub: a subscribed connection gets what PUBLISH sends */
struct sub {
	int msgs, confirms;
	char last[32];
	int err;
};

static void on_msg(struct coil_resp_conn *conn, const struct coil_resp_value *m,
		   int err, void *arg)
{
	struct sub *s = arg;
	(void)conn;
	if (!m) {
		s->err = err;
		return;
	}
	if (!strcmp(m->elem[0].str, "message")) {
		s->msgs++;
		snprintf(s->last, sizeof(s->last), "%s", m->elem[2].str);
	} else {
		s->confirms++;
	}
}

static void test_resp_pubsub(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 2};
	struct coil_resp_client *c = client(loop, &o);
	struct coil_resp_conn *conn = acquire(loop, c);
	struct call subc, pub;
	struct sub s = {0};
	struct coil_connpool_stats st;

	call_init(&subc, 3, (const char *const[]){"SUBSCRIBE", "ch1", "ch2"});
	assert_int_equal(coil_resp_subscribe(conn, &subc.cmd, on_msg, &s), 0);
	run_until(loop, &subc.calls);
	assert_int_equal(subc.res, 0);
	assert_string_equal(subc.cmd.reply->elem[0].str, "subscribe");
	while (s.confirms < 1) /* ch2's confirmation */
		coil_loop_run(loop, COIL_RUN_ONCE);
	for (int i = 0; i < 3; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "hello%d", i);
		do_cmd(loop, c, &pub, 3,
		       (const char *const[]){"PUBLISH", "ch2", msg});
		assert_int_equal(pub.cmd.reply->integer, 1);
		coil_resp_cmd_free(&pub.cmd);
	}
	while (s.msgs < 3)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_string_equal(s.last, "hello2");
	/* release closes a subscriber */
	assert_int_equal(coil_resp_release(conn), 0);
	coil_resp_client_stats(c, &st);
	assert_int_equal(st.discarded, 1);
	coil_resp_cmd_free(&subc.cmd);
	client_done(loop, c);
	coil_loop_free(loop);
}

/* a command that waits longer than its timeout ends -ETIMEDOUT; its
 * connection is not reused (out of step) and the next command works */
static void test_resp_command_timeout(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 1};
	struct coil_resp_client *c = client(loop, &o);
	struct coil_connpool_stats st;
	struct call k, after;
	uint64_t t0 = tu_mono_ns();
	const struct coil_resp_value *v;

	call_init(&k, 3, (const char *const[]){"BLPOP", "emptylist", "5"});
	coil_op_timeout(&k.cmd.op, 50 * MS);
	assert_int_equal(coil_resp_command(c, &k.cmd), 0);
	run_until(loop, &k.calls);
	assert_int_equal(k.res, -ETIMEDOUT);
	assert_true(tu_mono_ns() - t0 >= 50 * MS);
	assert_true(tu_mono_ns() - t0 < 4000 * MS);
	v = do_cmd(loop, c, &after, 1, (const char *const[]){"PING"});
	assert_string_equal(v->str, "PONG");
	coil_resp_client_stats(c, &st);
	assert_int_equal(st.opened, 2); /* the first was discarded */
	assert_int_equal(st.discarded, 1);
	coil_resp_cmd_free(&k.cmd);
	coil_resp_cmd_free(&after.cmd);
	client_done(loop, c);
	coil_loop_free(loop);
}

/* the server killed while a pipeline waits: every command's callback runs
 * once with an error; a new server on the same port and the client
 * recovers (the dead idle connection is dropped, a new one opened) */
static void test_resp_server_killed_mid_pipeline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 2, .check_idle_ns = 1};
	struct coil_resp_client *c = client(loop, &o);
	enum { N = 50 };
	struct call *k = calloc(N, sizeof(*k));
	struct coil_resp_conn *conn = acquire(loop, c);
	struct coil_connpool_stats st;
	struct call after;
	unsigned short port = srv.port;
	const struct coil_resp_value *v;

	/* a BLPOP holds the connection while the rest queue behind it */
	call_init(&k[0], 3, (const char *const[]){"BLPOP", "nolist", "5"});
	assert_int_equal(coil_resp_send(conn, &k[0].cmd), 0);
	for (int i = 1; i < N; i++) {
		call_init(&k[i], 2, (const char *const[]){"GET", "x"});
		assert_int_equal(coil_resp_send(conn, &k[i].cmd), 0);
	}
	for (int i = 0; i < 5; i++) /* let the writes go out */
		coil_loop_run(loop, COIL_RUN_NOWAIT);
	redis_kill(&srv, SIGKILL);
	run_until(loop, &k[N - 1].calls);
	for (int i = 0; i < N; i++) {
		assert_int_equal(k[i].calls, 1);
		assert_true(k[i].res < 0);
		coil_resp_cmd_free(&k[i].cmd);
	}
	assert_true(coil_resp_conn_error(conn) < 0);
	assert_int_equal(coil_resp_send(conn, &k[0].cmd),
			 coil_resp_conn_error(conn));
	assert_int_equal(coil_resp_release(conn), 0); /* closed, not kept */
	redis_start(&srv, port);
	v = do_cmd(loop, c, &after, 1, (const char *const[]){"PING"});
	assert_string_equal(v->str, "PONG");
	coil_resp_cmd_free(&after.cmd);
	/* an idle connection that the server drops is noticed */
	redis_kill(&srv, SIGKILL);
	redis_start(&srv, port);
	v = do_cmd(loop, c, &after, 1, (const char *const[]){"PING"});
	assert_string_equal(v->str, "PONG");
	coil_resp_cmd_free(&after.cmd);
	coil_resp_client_stats(c, &st);
	assert_int_equal(st.opened, 3);
	free(k);
	client_done(loop, c);
	coil_loop_free(loop);
}

/* 20 commands under one deadline scope on a pool of 4: each ends once */
static void test_resp_commands_under_a_deadline(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_resp_opts o = {.max_conns = 4};
	struct coil_resp_client *c = client(loop, &o);
	enum { N = 20 };
	struct call k[N];
	struct coil_connpool_stats st;

	/* 20 commands, at most 4 at once (the pool's size), all within a
	 * deadline scope of 5 s */
	uint64_t prev =
		coil_deadline_enter(loop, coil_now_update(loop) + 5000 * MS);
	for (int i = 0; i < N; i++) {
		char key[16];
		snprintf(key, sizeof(key), "g%d", i);
		call_init(&k[i], 3, (const char *const[]){"SET", key, "1"});
		assert_int_equal(coil_resp_command(c, &k[i].cmd), 0);
	}
	coil_deadline_leave(loop, prev);
	for (int i = 0; i < N; i++) {
		run_until(loop, &k[i].calls);
		assert_int_equal(k[i].res, 0);
		assert_int_equal(k[i].calls, 1);
		coil_resp_cmd_free(&k[i].cmd);
	}
	coil_resp_client_stats(c, &st);
	assert_true(st.opened <= 4);
	assert_int_equal(st.acquired, N);
	client_done(loop, c);
	coil_loop_free(loop);
}

static int setup(void **state)
{
	(void)state;
	redis_start(&srv, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redis_kill(&srv, SIGTERM);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_commands_and_reply_types),
		cmocka_unit_test(test_resp_pipeline_in_order),
		cmocka_unit_test(test_resp_pubsub),
		cmocka_unit_test(test_resp_command_timeout),
		cmocka_unit_test(test_resp_server_killed_mid_pipeline),
		cmocka_unit_test(test_resp_commands_under_a_deadline),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("resp", tests, setup, teardown);
}
