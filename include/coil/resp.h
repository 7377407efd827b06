/*
 * coil/resp.h - a Redis client (RESP2, the Redis serialization protocol,
 * https://redis.io/docs/reference/protocol-spec/) on the generic
 * connection pool (coil/connpool.h), over TCP or TLS streams.
 *
 * Commands are ops: a struct coil_resp_cmd embeds the struct coil_op
 * whose callback gets the reply, so coil_op_timeout(), deadline scopes,
 * carried deadlines and coil_loop_drain() apply to them as to any op, and
 * coil_cancel() to those sent with coil_resp_send() (a command run by
 * coil_resp_command() is bounded by its deadline instead). Error replies are
 * values, not failures: the callback gets 0 and a reply of type
 * COIL_RESP_ERROR; a negative result means the command got no reply
 * (-ETIMEDOUT, -ECONNRESET, -ECANCELED, COIL_EPARSE for a reply that is not
 * RESP, -ECONNABORTED when an earlier command on the same connection lost its
 * reply so this one's cannot be told apart).
 *
 * Two ways to run commands:
 *  - coil_resp_command(): one command on a pooled connection, acquired
 *    and given back for you (redis-py's client.execute_command()).
 *  - coil_resp_acquire() a connection, coil_resp_send() any number of
 *    commands on it without waiting (pipelining: replies come in order,
 *    and everything sent in one loop turn leaves in one write), then
 *    coil_resp_release() it. Publish/subscribe uses a connection this
 *    way (coil_resp_subscribe()); it is closed, not reused, on release.
 *
 * A connection whose command timed out or was cancelled, or that failed,
 * is out of step with the server: its other waiting commands end with
 * -ECONNABORTED and release closes it (the pool opens another).
 *
 * Loop thread only.
 */
#ifndef COIL_RESP_H
#define COIL_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/connpool.h"
#include "coil/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- replies --------------------------------------------------------- */

#define COIL_RESP_STRING 1 /* +simple string */
#define COIL_RESP_ERROR 2  /* -error message (a value, not a failure) */
#define COIL_RESP_INT 3	   /* :integer */
#define COIL_RESP_BULK 4   /* $bulk string (binary safe) */
#define COIL_RESP_NIL 5	   /* $-1 or *-1: no value */
#define COIL_RESP_ARRAY 6  /* *array of values */

/* A reply. Strings are NUL-terminated (and may hold NULs: use len). */
struct coil_resp_value {
	int type;
	size_t len; /* bytes of str, or elements of elem */
	long long integer;
	const char *str;	      /* STRING, ERROR, BULK */
	struct coil_resp_value *elem; /* ARRAY */
};

/*
 * coil_resp_parse() - one reply from @buf, without copying.
 * Return: the bytes it spans (> 0) with *@nvals values and *@nbytes
 * string bytes (with their NULs) needed to build it; 0 if @buf holds only
 * part of it; COIL_EPARSE if it is not RESP (or nests deeper than 64).
 */
long coil_resp_parse(const char *buf, size_t len, size_t *nvals,
		     size_t *nbytes);

/* ---- commands ---------------------------------------------------------- */

struct coil_resp_client;
struct coil_resp_conn;

/* A command. Embed it; set it up with coil_resp_cmd_init(), give it its
 * arguments with coil_resp_cmd_args(), then run it. Reusable once its
 * callback ran; its buffers are kept for the next use until
 * coil_resp_cmd_free(). */
struct coil_resp_cmd {
	struct coil_op op;	       /* callback: 0 with ->reply, or -errno */
	struct coil_resp_value *reply; /* valid until the next use */
	void *data;		       /* the caller's */
	/* private */
	struct coil_resp_client *client;
	struct coil_resp_conn *conn;
	struct coil_op inner; /* coil_resp_command(): acquire, then reply */
	struct coil_pconn *pc;
	uint64_t deadline_ns;
	unsigned flags;
	char *out;
	size_t out_len, out_cap;
	void *arena;
	size_t arena_cap;
};

/* coil_resp_cmd_init() - prepare @cmd (zeroes it except ->data). */
void coil_resp_cmd_init(struct coil_resp_cmd *cmd, coil_op_cb cb);

/*
 * coil_resp_cmd_args() - encode a command: @argc arguments, the command
 * name first (e.g. "SET", "key", "value"). @lens may be NULL for
 * NUL-terminated arguments. Copied: the arguments may go after the call.
 * Return: 0; -EINVAL for argc 0 or NULL arguments; -EBUSY if @cmd is in
 * flight; -ENOMEM.
 */
int coil_resp_cmd_args(struct coil_resp_cmd *cmd, int argc,
		       const char *const *argv, const size_t *lens);

/* coil_resp_cmd_free() - free @cmd's buffers (not @cmd; not in flight). */
void coil_resp_cmd_free(struct coil_resp_cmd *cmd);

/* ---- the client -------------------------------------------------------- */

struct coil_tls_config;

/* Options; zero means default. */
struct coil_resp_opts {
	struct sockaddr_storage addr; /* the server (IPv4 or IPv6) */
	unsigned max_conns;	      /* pool size, default 10 */
	unsigned min_idle;	      /* default 0 */
	uint64_t idle_timeout_ns;     /* default 60 s */
	uint64_t connect_timeout_ns;  /* default 10 s */
	/* PING an idle connection before reuse when idle this long; default
	 * 5 s; UINT64_MAX never */
	uint64_t check_idle_ns;
	const char *username; /* AUTH username password (ACL), or NULL */
	const char *password; /* AUTH password, or NULL */
	int db;		      /* SELECT db when > 0 */
	/* TLS (redis-server --tls-port): NULL for plain TCP */
	const struct coil_tls_config *tls;
	const char *tls_host; /* name to verify; copied */
};

/*
 * coil_resp_client_new() - a client with its pool for @loop.
 * Return: 0; -EINVAL (NULL, no address); -ENOMEM.
 */
int coil_resp_client_new(struct coil_resp_client **out, struct coil_loop *loop,
			 const struct coil_resp_opts *opts);

/*
 * coil_resp_command() - run one command on a pooled connection.
 * The op's coil_op_timeout() and the scope's deadline bound the whole
 * command, the wait for a connection included.
 * Callback (cmd->op): 0 with cmd->reply; -errno (see the top).
 * Return: 0; -EINVAL; -EBUSY if @cmd is in flight; COIL_ECLOSED after
 * coil_resp_client_close().
 */
int coil_resp_command(struct coil_resp_client *c, struct coil_resp_cmd *cmd);

/* coil_resp_acquire() - a connection of the pool for your own use
 * (coil_connpool_acquire()); convert the slot with coil_resp_conn(). */
int coil_resp_acquire(struct coil_resp_client *c, struct coil_op *op,
		      struct coil_pconn **slot);
struct coil_resp_conn *coil_resp_conn(struct coil_pconn *pc);

/*
 * coil_resp_send() - send @cmd on a held connection; do not wait for
 * earlier replies (pipelining).
 * Callback (cmd->op): 0 with cmd->reply; -errno.
 * Return: 0; -EINVAL; -EBUSY if @cmd is in flight; the connection's error
 * once it failed (then send nothing more on it).
 */
int coil_resp_send(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd);

/* coil_resp_release() - give a held connection back; one that failed, is
 * subscribed or still waits for replies is closed instead.
 * Return: 0; -EINVAL. */
int coil_resp_release(struct coil_resp_conn *conn);

/* The connection's error once it failed, else 0. */
int coil_resp_conn_error(const struct coil_resp_conn *conn);

/*
 * A message on a subscribed connection: @msg is the array the server
 * pushed ("message", channel, payload; "pmessage", pattern, channel,
 * payload; or a (un)subscribe confirmation), valid during the call.
 * @msg is NULL with @err < 0 once the connection failed.
 */
typedef void (*coil_resp_msg_fn)(struct coil_resp_conn *conn,
				 const struct coil_resp_value *msg, int err,
				 void *arg);

/*
 * coil_resp_subscribe() - send @cmd (SUBSCRIBE or PSUBSCRIBE ...) on a
 * held connection and turn it into a subscriber: @cmd completes with the
 * first confirmation; every later push goes to @fn. More (P)SUBSCRIBE /
 * (P)UNSUBSCRIBE may be sent with coil_resp_send() (their confirmations
 * go to @fn). Release closes the connection.
 * Return: as coil_resp_send().
 */
int coil_resp_subscribe(struct coil_resp_conn *conn, struct coil_resp_cmd *cmd,
			coil_resp_msg_fn fn, void *arg);

/* The client's pool statistics. */
void coil_resp_client_stats(const struct coil_resp_client *c,
			    struct coil_connpool_stats *st);

/*
 * coil_resp_client_close() - close the pool (coil_connpool_close()):
 * @done (may be NULL) completes once every connection is closed; then
 * coil_resp_client_free(). Return: 0; -EINVAL; -EALREADY.
 */
int coil_resp_client_close(struct coil_resp_client *c, struct coil_op *done);
void coil_resp_client_free(struct coil_resp_client *c);

#ifdef __cplusplus
}
#endif
#endif /* COIL_RESP_H */
