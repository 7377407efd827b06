/*
 * resp/client.c - the Redis client: connections (a TCP or TLS stream, the
 * reply parser, the commands waiting for replies) kept by the generic
 * pool (engine/connpool.c), which calls conn_open(), conn_close() and
 * conn_check() here.
 *
 * Commands waiting for their replies sit in two lists kept in step: the
 * connection's coil_waitlist (so the engine applies their deadlines,
 * coil_cancel() and drain) and a FIFO of the commands themselves (which
 * reply is whose: RESP answers in order). A command that leaves the wait
 * list any other way than by its reply breaks that order: the connection
 * fails (every other waiting command ends with -ECONNABORTED) and is
 * closed when given back.
 *
 * Output: commands sent during one loop turn are copied into the
 * connection's collecting buffer and go out in one stream write when the
 * posted kick runs at the end of the turn (pipelining costs no extra
 * system call per command); while that write is in flight the next
 * turn's commands collect in the other buffer.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil/tls.h"
#include "resp_internal.h"

#define CMD_RUNNING 1u /* between coil_resp_command() and its callback */

struct coil_resp_client {
	struct coil_loop *loop;
	struct coil_connpool *pool;
	struct coil_resp_opts o;
	char *tls_host;
	char *username, *password;
	int closing;
};

enum { PHASE_HELLO, PHASE_READY, PHASE_CHECK };

struct coil_resp_conn {
	struct coil_pconn pc;
	struct coil_resp_client *c;
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_stream *s;
	struct coil_waitlist wl;
	/* the commands of wl, in order */
	struct coil_resp_cmd **fifo;
	unsigned fifo_head, fifo_len, fifo_cap;
	/* input not yet parsed */
	char *rbuf;
	size_t rlen, rcap;
	/* output: nbuf collects, obuf is being written */
	char *obuf, *nbuf;
	size_t olen, ocap, nlen, ncap;
	struct coil_stream_write w;
	int writing;
	struct coil_op kick;
	int kicked;
	/* AUTH, SELECT, PING of our own */
	struct coil_resp_cmd hello;
	int phase;
	int hello_step; /* 1 AUTH sent, 2 SELECT sent, 3 done */
	int hello_busy;
	/* subscriber */
	coil_resp_msg_fn sub_fn;
	void *sub_arg;
	void *sub_arena;
	size_t sub_cap;
	int err;
	int pooled; /* the pool knows it (open reported) */
	int closed; /* stream closed */
};

static void conn_fail(struct coil_resp_conn *conn, int err);
static int conn_send(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd,
		     struct coil_op *op);

/* ---- memory ------------------------------------------------------------- */

static void conn_free(struct coil_resp_conn *conn)
{
	free(conn->fifo);
	free(conn->rbuf);
	free(conn->obuf);
	free(conn->nbuf);
	free(conn->sub_arena);
	coil_resp_cmd_free(&conn->hello);
	free(conn);
}

/* Free once the stream is closed and no op of ours is still due. */
static void conn_maybe_free(struct coil_resp_conn *conn)
{
	if (conn->closed && !conn->kicked && !conn->hello_busy)
		conn_free(conn);
}

/* ---- the FIFO of waiting commands --------------------------------------- */

static int fifo_push(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd)
{
	if (conn->fifo_len == conn->fifo_cap) {
		unsigned cap = conn->fifo_cap ? conn->fifo_cap * 2 : 16;
		struct coil_resp_cmd **f = malloc(cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		for (unsigned i = 0; i < conn->fifo_len; i++)
			f[i] = conn->fifo[(conn->fifo_head + i) %
					  conn->fifo_cap];
		free(conn->fifo);
		conn->fifo = f;
		conn->fifo_cap = cap;
		conn->fifo_head = 0;
	}
	conn->fifo[(conn->fifo_head + conn->fifo_len) % conn->fifo_cap] = cmd;
	conn->fifo_len++;
	return 0;
}

static struct coil_resp_cmd *fifo_pop(struct coil_resp_conn *conn)
{
	struct coil_resp_cmd *cmd;

	if (!conn->fifo_len)
		return NULL;
	cmd = conn->fifo[conn->fifo_head];
	conn->fifo_head = (conn->fifo_head + 1) % conn->fifo_cap;
	conn->fifo_len--;
	return cmd;
}

/* The op of @cmd that waits in the list: its own, or the inner one of
 * coil_resp_command(). */
static struct coil_op *cmd_waiting_op(struct coil_resp_cmd *cmd)
{
	return (cmd->flags & CMD_RUNNING) ? &cmd->inner : &cmd->op;
}

/* ---- output ------------------------------------------------------------- */

static void write_cb(struct coil_stream_write *w, int status);

static void flush(struct coil_resp_conn *conn)
{
	char *b;
	size_t cap;

	if (conn->writing || !conn->nlen || conn->err)
		return;
	/* swap: what collected goes out, the other buffer collects */
	b = conn->obuf;
	cap = conn->ocap;
	conn->obuf = conn->nbuf;
	conn->ocap = conn->ncap;
	conn->olen = conn->nlen;
	conn->nbuf = b;
	conn->ncap = cap;
	conn->nlen = 0;
	conn->writing = 1;
	int ret = coil_stream_write(conn->s, &conn->w, conn->obuf, conn->olen,
				    write_cb);
	if (ret < 0) {
		conn->writing = 0;
		conn_fail(conn, ret);
	}
}

static void write_cb(struct coil_stream_write *w, int status)
{
	struct coil_resp_conn *conn =
		coil_container_of(w, struct coil_resp_conn, w);

	conn->writing = 0;
	if (status < 0) {
		conn_fail(conn, status);
		return;
	}
	flush(conn);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_resp_conn *conn =
		coil_container_of(op, struct coil_resp_conn, kick);

	(void)res;
	(void)flags;
	conn->kicked = 0;
	if (conn->closed) {
		conn_maybe_free(conn);
		return;
	}
	flush(conn);
}

/* ---- failure ------------------------------------------------------------ */

static void conn_fail(struct coil_resp_conn *conn, int err)
{
	struct coil_resp_cmd *cmd;

	if (conn->err)
		return;
	conn->err = err;
	while ((cmd = fifo_pop(conn)))
		coil_waitlist_complete(&conn->wl, cmd_waiting_op(cmd), err);
	if (conn->sub_fn)
		conn->sub_fn(conn, NULL, err, conn->sub_arg);
	/* an idle connection the server dropped: the pool closes it */
	if (conn->pooled && conn->phase == PHASE_READY)
		coil_connpool_lost(conn->c->pool, &conn->pc);
}

/* A command left the wait list by cancel or deadline: the replies no
 * longer match the commands, so the connection is done for. */
static void conn_left(struct coil_waitlist *wl, struct coil_op *op, int res)
{
	struct coil_resp_conn *conn =
		coil_container_of(wl, struct coil_resp_conn, wl);

	(void)res;
	/* take its command out of the FIFO (the others fail below) */
	for (unsigned i = 0; i < conn->fifo_len; i++) {
		unsigned k = (conn->fifo_head + i) % conn->fifo_cap;
		struct coil_resp_cmd *cmd = conn->fifo[k];
		if (&cmd->op == op || &cmd->inner == op) {
			for (unsigned j = i; j + 1 < conn->fifo_len; j++)
				conn->fifo[(conn->fifo_head + j) %
					   conn->fifo_cap] =
					conn->fifo[(conn->fifo_head + j + 1) %
						   conn->fifo_cap];
			conn->fifo_len--;
			break;
		}
	}
	conn_fail(conn, -ECONNABORTED);
}

/* ---- input -------------------------------------------------------------- */

static int is_push_message(const struct coil_resp_value *v)
{
	return v->type == COIL_RESP_ARRAY && v->len >= 3 &&
	       v->elem[0].type == COIL_RESP_BULK &&
	       ((v->elem[0].len == 7 &&
		 !memcmp(v->elem[0].str, "message", 7)) ||
		(v->elem[0].len == 8 &&
		 !memcmp(v->elem[0].str, "pmessage", 8)));
}

/* One complete reply at @p. */
static void deliver(struct coil_resp_conn *conn, const char *p, size_t len,
		    size_t nvals, size_t nbytes)
{
	struct coil_resp_cmd *cmd;

	if (conn->sub_fn) {
		struct coil_resp_value *v =
			coil__resp_build(p, len, nvals, nbytes,
					 &conn->sub_arena, &conn->sub_cap);
		if (!v) {
			conn_fail(conn, -ENOMEM);
			return;
		}
		if (!conn->fifo_len || is_push_message(v)) {
			conn->sub_fn(conn, v, 0, conn->sub_arg);
			return;
		}
	}
	cmd = fifo_pop(conn);
	if (!cmd) { /* a reply nobody asked for */
		conn_fail(conn, COIL_EPARSE);
		return;
	}
	cmd->reply = coil__resp_build(p, len, nvals, nbytes, &cmd->arena,
				      &cmd->arena_cap);
	coil_waitlist_complete(&conn->wl, cmd_waiting_op(cmd),
			       cmd->reply ? 0 : -ENOMEM);
}

/* Deliver every complete reply in p[0..len); return the bytes used. */
static size_t parse_all(struct coil_resp_conn *conn, const char *p, size_t len)
{
	size_t off = 0, nvals, nbytes;

	while (off < len && !conn->err) {
		long r = coil_resp_parse(p + off, len - off, &nvals, &nbytes);
		if (r == 0)
			break;
		if (r < 0) {
			conn_fail(conn, (int)r);
			break;
		}
		deliver(conn, p + off, (size_t)r, nvals, nbytes);
		off += (size_t)r;
	}
	return off;
}

static void conn_read(struct coil_stream *s, ssize_t nread, const void *buf)
{
	struct coil_resp_conn *conn = s->data;
	size_t used;

	if (nread <= 0) {
		conn_fail(conn, nread == 0 ? COIL_ETRUNC : (int)nread);
		return;
	}
	if (conn->err)
		return;
	if (!conn->rlen) { /* the usual case: parse in place */
		used = parse_all(conn, buf, (size_t)nread);
		if (used == (size_t)nread || conn->err)
			return;
		buf = (const char *)buf + used;
		nread -= (ssize_t)used;
	}
	if (conn->rlen + (size_t)nread > conn->rcap) {
		char *b = coil__grow(conn->rbuf, &conn->rcap,
				     conn->rlen + (size_t)nread, 4096);
		if (!b) {
			conn_fail(conn, -ENOMEM);
			return;
		}
		conn->rbuf = b;
	}
	memcpy(conn->rbuf + conn->rlen, buf, (size_t)nread);
	conn->rlen += (size_t)nread;
	used = parse_all(conn, conn->rbuf, conn->rlen);
	if (conn->err)
		return;
	memmove(conn->rbuf, conn->rbuf + used, conn->rlen - used);
	conn->rlen -= used;
}

/* ---- sending ------------------------------------------------------------ */

/* Queue @cmd's bytes and make @op (its own or its inner op) wait for the
 * reply, under the deadline cmd->deadline_ns. */
static int conn_send(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd,
		     struct coil_op *op)
{
	struct coil_loop *loop = conn->c->loop;
	uint64_t prev;
	int ret;

	if (conn->err)
		return conn->err;
	if (!cmd->out_len)
		return -EINVAL;
	if (cmd->deadline_ns && cmd->deadline_ns <= coil_now_update(loop))
		return -ETIMEDOUT;
	if (conn->nlen + cmd->out_len > conn->ncap) {
		char *b = coil__grow(conn->nbuf, &conn->ncap,
				     conn->nlen + cmd->out_len, 4096);
		if (!b)
			return -ENOMEM;
		conn->nbuf = b;
	}
	ret = fifo_push(conn, cmd);
	if (ret < 0)
		return ret;
	prev = coil_deadline_enter(loop, cmd->deadline_ns);
	ret = coil_waitlist_add(&conn->wl, op);
	coil_deadline_leave(loop, prev);
	if (ret < 0) {
		conn->fifo_len--;
		return ret;
	}
	cmd->conn = conn;
	memcpy(conn->nbuf + conn->nlen, cmd->out, cmd->out_len);
	conn->nlen += cmd->out_len;
	if (!conn->kicked && !conn->writing) {
		coil_op_init(&conn->kick, kick_cb);
		if (coil_loop_post(loop, &conn->kick, 0) == 0)
			conn->kicked = 1;
	}
	return 0;
}

int coil_resp_send(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd)
{
	struct coil_loop *loop;

	if (!conn || !cmd)
		return -EINVAL;
	if (coil_op_busy(&cmd->op) || (cmd->flags & CMD_RUNNING))
		return -EBUSY;
	loop = conn->c->loop;
	cmd->client = conn->c;
	cmd->deadline_ns = coil_op_take_deadline(loop, &cmd->op);
	if (cmd->deadline_ns && cmd->deadline_ns <= coil_now(loop))
		return coil_loop_post(loop, &cmd->op, -ETIMEDOUT);
	return conn_send(conn, cmd, &cmd->op);
}

int coil_resp_subscribe(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd,
			coil_resp_msg_fn fn, void *arg)
{
	int ret;

	if (!conn || !fn)
		return -EINVAL;
	ret = coil_resp_send(conn, cmd);
	if (ret == 0) {
		conn->sub_fn = fn;
		conn->sub_arg = arg;
	}
	return ret;
}

/* ---- coil_resp_command(): acquire, send, release ------------------------ */

/* The user's callback, straight from ours (a callback already, never
 * inline from coil_resp_command()). */
static void cmd_finish(struct coil_resp_cmd *cmd, int res)
{
	cmd->flags &= ~CMD_RUNNING;
	cmd->op.cb(&cmd->op, res, 0);
}

static void cmd_replied(struct coil_op *op, int res, unsigned flags)
{
	struct coil_resp_cmd *cmd =
		coil_container_of(op, struct coil_resp_cmd, inner);

	(void)flags;
	coil_resp_release(cmd->conn);
	cmd->conn = NULL;
	cmd_finish(cmd, res);
}

static void cmd_acquired(struct coil_op *op, int res, unsigned flags)
{
	struct coil_resp_cmd *cmd =
		coil_container_of(op, struct coil_resp_cmd, inner);
	struct coil_resp_conn *conn;

	(void)flags;
	if (res < 0) {
		cmd_finish(cmd, res);
		return;
	}
	conn = coil_resp_conn(cmd->pc);
	coil_op_init(&cmd->inner, cmd_replied);
	res = conn_send(conn, cmd, &cmd->inner);
	if (res < 0) {
		coil_resp_release(conn);
		cmd_finish(cmd, res);
	}
}

int coil_resp_command(struct coil_resp_client *c, struct coil_resp_cmd *cmd)
{
	uint64_t prev, dl;
	int ret;

	if (!c || !cmd || !cmd->op.cb || !cmd->out_len)
		return -EINVAL;
	if (coil_op_busy(&cmd->op) || (cmd->flags & CMD_RUNNING))
		return -EBUSY;
	if (c->closing)
		return COIL_ECLOSED;
	cmd->client = c;
	cmd->conn = NULL;
	dl = coil_op_take_deadline(c->loop, &cmd->op);
	cmd->deadline_ns = dl;
	cmd->flags |= CMD_RUNNING;
	coil_op_init(&cmd->inner, cmd_acquired);
	prev = coil_deadline_enter(c->loop, dl);
	ret = coil_connpool_acquire(c->pool, &cmd->inner, &cmd->pc);
	coil_deadline_leave(c->loop, prev);
	if (ret < 0)
		cmd->flags &= ~CMD_RUNNING;
	return ret;
}

/* ---- the pool's hooks --------------------------------------------------- */

static void hello_next(struct coil_resp_conn *conn);

static void conn_closed(struct coil_stream *s)
{
	struct coil_resp_conn *conn = s->data;

	conn->closed = 1;
	if (conn->pooled)
		coil_connpool_closed(conn->c->pool, &conn->pc);
	conn_maybe_free(conn);
}

/* An open that failed after the connect: report it, close the stream. */
static void conn_abandon(struct coil_resp_conn *conn, int err)
{
	struct coil_connpool *pool = conn->c->pool;

	conn_fail(conn, err);
	coil_stream_close(conn->s, conn_closed);
	coil_connpool_opened(pool, NULL, err);
}

static void hello_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_resp_conn *conn =
		coil_container_of(op, struct coil_resp_conn, hello.op);
	const struct coil_resp_value *v = conn->hello.reply;
	int ok = res == 0 && v && v->type != COIL_RESP_ERROR;

	(void)flags;
	conn->hello_busy = 0;
	if (conn->closed) {
		conn_maybe_free(conn);
		return;
	}
	if (conn->phase == PHASE_CHECK) {
		ok = ok && v->type == COIL_RESP_STRING && v->len == 4 &&
		     !memcmp(v->str, "PONG", 4);
		conn->phase = PHASE_READY;
		coil_connpool_checked(conn->c->pool, &conn->pc, ok);
		return;
	}
	if (!ok) {
		conn_abandon(conn, res < 0 ? res : -EACCES);
		return;
	}
	hello_next(conn);
}

static int hello_send(struct coil_resp_conn *conn, int argc,
		      const char *const *argv)
{
	int ret;

	coil_op_init(&conn->hello.op, hello_cb);
	ret = coil_resp_cmd_args(&conn->hello, argc, argv, NULL);
	if (ret == 0)
		ret = coil_resp_send(conn, &conn->hello);
	if (ret == 0)
		conn->hello_busy = 1;
	return ret;
}

/* AUTH, then SELECT, then the connection is ready. */
static void hello_next(struct coil_resp_conn *conn)
{
	struct coil_resp_client *c = conn->c;
	char db[16];
	int ret = 0;

	if (conn->hello_step == 0 && c->password) {
		conn->hello_step = 1;
		if (c->username)
			ret = hello_send(conn, 3,
					 (const char *const[]){"AUTH",
							       c->username,
							       c->password});
		else
			ret = hello_send(
				conn, 2,
				(const char *const[]){"AUTH", c->password});
	} else if (conn->hello_step < 2 && c->o.db > 0) {
		conn->hello_step = 2;
		snprintf(db, sizeof(db), "%d", c->o.db);
		ret = hello_send(conn, 2, (const char *const[]){"SELECT", db});
	} else {
		conn->hello_step = 3;
		conn->phase = PHASE_READY;
		conn->pooled = 1;
		coil_connpool_opened(c->pool, &conn->pc, 0);
		return;
	}
	if (ret < 0)
		conn_abandon(conn, ret);
}

static void conn_connected(struct coil_stream *s, int status)
{
	struct coil_resp_conn *conn = s->data;
	struct coil_connpool *pool = conn->c->pool;
	int ret;

	if (status < 0) {
		/* the stream holds nothing now (coil/stream.h) */
		conn_free(conn);
		coil_connpool_opened(pool, NULL, status);
		return;
	}
	ret = coil_stream_read_start(conn->s, conn_read);
	if (ret < 0) {
		conn_abandon(conn, ret);
		return;
	}
	hello_next(conn);
}

static int conn_open(struct coil_connpool *p)
{
	struct coil_resp_client *c = coil_connpool_arg(p);
	struct coil_resp_conn *conn = calloc(1, sizeof(*conn));
	struct coil_tcp_opts topts = {.connect_timeout_ns =
					      c->o.connect_timeout_ns};
	int ret;

	if (!conn)
		return -ENOMEM;
	conn->c = c;
	conn->phase = PHASE_HELLO;
	coil_waitlist_init(&conn->wl, c->loop, conn_left);
	if (c->o.tls) {
		struct coil_tls_opts o = {.host = c->tls_host};
		conn->s = &conn->tls.s;
		conn->tls.s.data = conn;
		conn->tcp.s.data = conn;
		ret = coil_tls_connect(c->loop, &conn->tls, &conn->tcp,
				       &c->o.addr, 1, &topts, c->o.tls, &o,
				       conn_connected);
	} else {
		conn->s = &conn->tcp.s;
		conn->tcp.s.data = conn;
		ret = coil_tcp_connect(c->loop, &conn->tcp, &c->o.addr, 1,
				       &topts, conn_connected);
	}
	if (ret < 0)
		free(conn);
	return ret;
}

static void conn_close(struct coil_connpool *p, struct coil_pconn *pc)
{
	struct coil_resp_conn *conn = coil_resp_conn(pc);

	(void)p;
	conn_fail(conn, COIL_ECLOSED);
	coil_stream_close(conn->s, conn_closed);
}

static int conn_check(struct coil_connpool *p, struct coil_pconn *pc)
{
	struct coil_resp_conn *conn = coil_resp_conn(pc);

	(void)p;
	if (conn->err)
		return conn->err;
	conn->phase = PHASE_CHECK;
	return hello_send(conn, 1, (const char *const[]){"PING"});
}

static const struct coil_connpool_ops resp_pool_ops = {
	.open = conn_open,
	.close = conn_close,
	.check = conn_check,
};

/* ---- the client --------------------------------------------------------- */

struct coil_resp_conn *coil_resp_conn(struct coil_pconn *pc)
{
	return pc ? coil_container_of(pc, struct coil_resp_conn, pc) : NULL;
}

int coil_resp_acquire(struct coil_resp_client *c, struct coil_op *op,
		      struct coil_pconn **slot)
{
	if (!c)
		return -EINVAL;
	return coil_connpool_acquire(c->pool, op, slot);
}

int coil_resp_release(struct coil_resp_conn *conn)
{
	if (!conn)
		return -EINVAL;
	if (conn->err || conn->sub_fn || conn->fifo_len)
		return coil_connpool_discard(conn->c->pool, &conn->pc);
	return coil_connpool_release(conn->c->pool, &conn->pc);
}

int coil_resp_conn_error(const struct coil_resp_conn *conn)
{
	return conn ? conn->err : -EINVAL;
}

static char *dup_or_null(const char *s, int *fail)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

int coil_resp_client_new(struct coil_resp_client **out, struct coil_loop *loop,
			 const struct coil_resp_opts *opts)
{
	struct coil_resp_client *c;
	struct coil_connpool_opts po;
	int fail = 0, ret;

	if (!out || !loop || !opts ||
	    (opts->addr.ss_family != AF_INET &&
	     opts->addr.ss_family != AF_INET6))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->o = *opts;
	if (!c->o.connect_timeout_ns)
		c->o.connect_timeout_ns = 10000000000ull;
	c->tls_host = dup_or_null(opts->tls_host, &fail);
	c->username = dup_or_null(opts->username, &fail);
	c->password = dup_or_null(opts->password, &fail);
	c->o.tls_host = c->o.username = c->o.password = NULL;
	if (fail) {
		coil_resp_client_free(c);
		return -ENOMEM;
	}
	po = (struct coil_connpool_opts){
		.max_size = opts->max_conns,
		.min_idle = opts->min_idle,
		.idle_timeout_ns = opts->idle_timeout_ns,
		.check_idle_ns = opts->check_idle_ns ? opts->check_idle_ns
						     : 5000000000ull,
	};
	ret = coil_connpool_new(&c->pool, loop, &resp_pool_ops, c, &po);
	if (ret < 0) {
		coil_resp_client_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void coil_resp_client_stats(const struct coil_resp_client *c,
			    struct coil_connpool_stats *st)
{
	if (c)
		coil_connpool_stats(c->pool, st);
}

int coil_resp_client_close(struct coil_resp_client *c, struct coil_op *done)
{
	if (!c)
		return -EINVAL;
	c->closing = 1;
	return coil_connpool_close(c->pool, done);
}

void coil_resp_client_free(struct coil_resp_client *c)
{
	if (!c)
		return;
	coil_connpool_free(c->pool);
	free(c->tls_host);
	free(c->username);
	free(c->password);
	free(c);
}
