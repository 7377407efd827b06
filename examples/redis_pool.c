/*
 * examples/redis_pool.c - Redis through a connection pool: commands,
 * a pipeline, pub/sub, errors as values, a timeout (redis.asyncio with a
 * ConnectionPool; asyncpg's pool for the pooling part):
 *
 *     pool = redis.asyncio.ConnectionPool(max_connections=4)
 *     r = redis.asyncio.Redis(connection_pool=pool)
 *     await r.set("k", "v"); await r.get("k")
 *     async with r.pipeline(transaction=False) as p: ...
 *
 * In coil: coil_resp_client_new() makes the client and its pool (4
 * connections at most). coil_resp_command() runs one command on a
 * pooled connection; coil_resp_acquire() + coil_resp_send() x N
 * pipelines on one held connection (one write per loop turn); a reply
 * "-ERR ..." is a value of type COIL_RESP_ERROR, not a failure; a
 * command's coil_op_timeout() bounds it (BLPOP on an empty list here).
 *
 * Run: run-with-peer.sh redis redis_pool
 */
#include "example.h"

struct cmd {
	struct coil_resp_cmd c;
	int done, res;
};

static void cmd_done(struct coil_op *op, int res, unsigned flags)
{
	struct cmd *k = coil_container_of(op, struct cmd, c.op);
	(void)flags;
	k->res = res;
	k->done = 1;
}

static struct coil_loop *loop;
static struct coil_resp_client *redis;

/* Run one command and wait for it (for the example's flow). */
static const struct coil_resp_value *
run(struct cmd *k, int argc, const char *const *argv, uint64_t timeout_ns)
{
	k->done = 0; /* (@k was set up once: its buffers are reused) */
	coil_resp_cmd_args(&k->c, argc, argv, NULL);
	if (timeout_ns)
		coil_op_timeout(&k->c.op, timeout_ns);
	EX_CHECK(coil_resp_command(redis, &k->c) == 0);
	ex_run_until(loop, &k->done);
	return k->res == 0 ? k->c.reply : NULL;
}

struct held {
	struct coil_op op;
	struct coil_pconn *pc;
	int done;
};

static void held_cb(struct coil_op *op, int res, unsigned flags)
{
	struct held *h = coil_container_of(op, struct held, op);
	(void)flags;
	EX_CHECK(res == 0);
	h->done = 1;
}

static int msgs;
static void on_message(struct coil_resp_conn *conn,
		       const struct coil_resp_value *m, int err, void *arg)
{
	(void)conn;
	(void)arg;
	if (m && !strcmp(m->elem[0].str, "message")) {
		printf("message on %s: %s\n", m->elem[1].str, m->elem[2].str);
		msgs++;
	}
	(void)err;
}

int main(int argc, char **argv)
{
	struct coil_resp_opts o = {.max_conns = 4};
	struct cmd k;
	const struct coil_resp_value *v;

	if (argc < 2)
		return 2;
	loop = ex_loop();
	o.addr = ex_addr(argv[1]);
	EX_CHECK(coil_resp_client_new(&redis, loop, &o) == 0);
	coil_resp_cmd_init(&k.c, cmd_done);

	/* commands */
	run(&k, 3, (const char *const[]){"SET", "greeting", "hello"}, 0);
	v = run(&k, 2, (const char *const[]){"GET", "greeting"}, 0);
	printf("GET greeting -> %s\n", v->str);
	EX_CHECK(v->type == COIL_RESP_BULK && !strcmp(v->str, "hello"));
	v = run(&k, 2, (const char *const[]){"INCR", "greeting"}, 0);
	printf("INCR greeting -> error value: %s\n", v->str);
	EX_CHECK(v->type == COIL_RESP_ERROR);

	/* a pipeline of 100 INCRs on one held connection */
	struct held h = {0};
	static struct cmd p[100];
	coil_op_init(&h.op, held_cb);
	coil_resp_acquire(redis, &h.op, &h.pc);
	ex_run_until(loop, &h.done);
	struct coil_resp_conn *conn = coil_resp_conn(h.pc);
	for (int i = 0; i < 100; i++) {
		coil_resp_cmd_init(&p[i].c, cmd_done);
		coil_resp_cmd_args(&p[i].c, 2,
				   (const char *const[]){"INCR", "counter"},
				   NULL);
		coil_resp_send(conn, &p[i].c);
	}
	ex_run_until(loop, &p[99].done);
	printf("pipeline: last INCR -> %lld\n", p[99].c.reply->integer);
	EX_CHECK(p[99].c.reply->integer == 100);
	coil_resp_release(conn);

	/* pub/sub: a held connection subscribes; PUBLISH from the pool */
	struct held hs = {0};
	struct cmd sub;
	coil_op_init(&hs.op, held_cb);
	coil_resp_acquire(redis, &hs.op, &hs.pc);
	ex_run_until(loop, &hs.done);
	coil_resp_cmd_init(&sub.c, cmd_done);
	sub.done = 0;
	coil_resp_cmd_args(&sub.c, 2,
			   (const char *const[]){"SUBSCRIBE", "news"}, NULL);
	coil_resp_subscribe(coil_resp_conn(hs.pc), &sub.c, on_message, NULL);
	ex_run_until(loop, &sub.done);
	run(&k, 3, (const char *const[]){"PUBLISH", "news", "coil 1.0"}, 0);
	while (!msgs)
		coil_loop_run(loop, COIL_RUN_ONCE);
	coil_resp_release(coil_resp_conn(hs.pc)); /* closes the subscriber */

	/* a timeout: BLPOP would wait 5 s; the op's bound is 100 ms */
	v = run(&k, 3, (const char *const[]){"BLPOP", "empty", "5"}, 100 * MS);
	printf("BLPOP with a 100 ms timeout -> %s\n", coil_strerror(k.res));
	EX_CHECK(k.res == -ETIMEDOUT);

	struct coil_connpool_stats st;
	coil_resp_client_stats(redis, &st);
	printf("pool: %llu opened, %llu acquired, %llu reused\n",
	       (unsigned long long)st.opened, (unsigned long long)st.acquired,
	       (unsigned long long)st.reused);
	struct cmd closed;
	coil_op_init(&closed.c.op, cmd_done);
	closed.done = 0;
	coil_resp_client_close(redis, &closed.c.op);
	ex_run_until(loop, &closed.done);
	coil_resp_client_free(redis);
	coil_resp_cmd_free(&k.c);
	coil_resp_cmd_free(&sub.c);
	for (int i = 0; i < 100; i++)
		coil_resp_cmd_free(&p[i].c);
	coil_loop_free(loop);
	return 0;
}
