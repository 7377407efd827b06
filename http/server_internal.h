/*
 * http/server_internal.h - what the files of the HTTP/1.1 server share:
 * the server, its connections (struct sconn) and their flag words, the
 * time-limit lists and the output slots. Private to http/; the public side
 * is include/coil/http_server.h.
 *
 * Files, by the seams of one connection's life (docs/ARCHITECTURE.md,
 * "The server's phases"):
 *   server.c          the server object, connections (set-up, input,
 *                     failure, release) and the phase machine (the pump,
 *                     coil__sconn_process());
 *   server_time.c     time limits: sorted lists under one ticking timer;
 *   server_body.c     the request: head fields, cancel hook, bodies
 *                     (buffered, streamed, discarded);
 *   server_respond.c  the output buffer and its writes, answers from
 *                     memory, streamed responses;
 *   server_file.c     file bodies (read + send, or sendfile) and
 *                     coil_http_serve_file().
 * The runner for N loops on N threads is http/server_threads.c.
 *
 * Calls: server_time.c calls no other file of the server, server_body.c
 * only server_respond.c (100 Continue). server.c, server_respond.c and
 * server_file.c still call each other: the completions of stream writes
 * (slot_cb()) and of file ops re-enter the pump and the connection's
 * failure and release paths in server.c, and a file body's head is a
 * response. They are one state machine in three files; cutting the loop
 * (completions that only record their outcome and kick the pump) is for
 * after the file-body rewrite (issue #19).
 */
#ifndef COIL_HTTP_SERVER_INTERNAL_H
#define COIL_HTTP_SERVER_INTERNAL_H

#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "coil/http.h"
#include "coil/stream.h"
#include "coil/tls.h"

#define OBUF_SIZE 8192	   /* per-connection output buffer */
#define HDRS_INLINE 64	   /* header fields a connection holds itself */
#define OBUF_RESERVE 512   /* room a new request needs to be started */
#define IBUF_INIT 4096	   /* initial input buffer */
#define FCHUNK (64 * 1024) /* file piece */
/* File bodies of at least this much go by coil_sendfile() on plain TCP
 * (sendfile(2) from the loop: no copy through user space, no io-wq);
 * smaller ones are read into a buffer and leave in one send with their
 * head (docs/BENCHMARKS.md, section serve). opts.sendfile_min_bytes. */
#define SENDFILE_MIN (16 * 1024)
#define FBUF_CACHE 32	    /* file buffers kept per server */
#define NSLOT 4		    /* inline write slots per connection */
#define DISCARD_MAX 65536   /* unread body bytes read and dropped */
#define FREE_CONNS_MAX 4096 /* connection structs kept for reuse */
#define MAX_TIMEOUT_NS (86400ull * 1000000000ull)

/* Time-limit lists. */
enum { TL_NONE, TL_HEADER, TL_WRITE, TL_BODY, TL_IDLE, TL_LINGER, TL_N };

/* Phases of a connection. */
enum {
	P_HEAD,	   /* waiting for / reading a request head */
	P_REQ,	   /* a request is being handled or answered */
	P_DISCARD, /* dropping the unread body of a finished request */
	P_CLOSING, /* last output, then FIN and lingering, then close */
};

/* sconn->st, the connection's flag word */
#define C_OWNED (1u << 0)	 /* the handler (or serve_file) holds req */
#define C_BEGUN (1u << 1)	 /* a response head was written */
#define C_DONE (1u << 2)	 /* the response is completely queued */
#define C_EOF (1u << 3)		 /* the client sent FIN */
#define C_PAUSED (1u << 4)	 /* reading stopped by us */
#define C_INPROC (1u << 5)	 /* the pump is on the stack */
#define C_CLOSE (1u << 6)	 /* close after this response */
#define C_DEAD (1u << 7)	 /* the stream is closing or closed */
#define C_CLOSED (1u << 8)	 /* the stream's close callback ran */
#define C_CANCELLED (1u << 9)	 /* the cancel hook ran */
#define C_SHUT (1u << 10)	 /* FIN queued (lingering) */
#define C_HOLD (1u << 11)	 /* keep output: a file head waits */
#define C_FILE (1u << 12)	 /* a file body is being sent */
#define C_STREAM (1u << 13)	 /* a streamed response is begun */
#define C_CHUNKED (1u << 14)	 /* ... with chunked framing */
#define C_NOBODY (1u << 15)	 /* HEAD / 204 / 304: body bytes dropped */
#define C_WBUSY (1u << 16)	 /* a respond_write is outstanding */
#define C_SHORT (1u << 17)	 /* body ended short: close afterwards */
#define C_INTERNAL (1u << 18)	 /* serve_file holds req, not the handler */
#define C_REPORTED (1u << 19)	 /* on_done ran for this request */
#define C_LENT (1u << 20)	 /* a body piece is lent to the handler */
#define C_CLOSE_CLEAN (1u << 21) /* close without lingering */
#define C_SENDFILE (1u << 22)	 /* the file body goes by sendfile */
#define C_NONBLOCK (1u << 23)	 /* the socket is O_NONBLOCK (sendfile) */

/* body modes */
enum { B_NONE, B_BUFFER, B_STREAM, B_DISCARD };
/* body states */
enum { BS_GOING, BS_ENDED, BS_FAILED, BS_REPORTED };

/* slot kinds */
enum { SK_PLAIN, SK_HEAP, SK_FILE, SK_USER, SK_MORE };

struct sconn;

struct oslot {
	struct coil_stream_write w;
	struct iovec iov[4];
	struct sconn *c;
	void *heap;	/* SK_HEAP: freed when sent */
	size_t obytes;	/* output-buffer bytes this write carries */
	unsigned kind;	/* SK_* */
	unsigned index; /* inline slot number, or NSLOT for a heap slot */
};

struct fbuf {
	struct fbuf *next;
	char data[FCHUNK];
};

/* serve_file's scratch: kept with the connection once used. */
struct aux {
	struct open_how how;
	struct statx stx;
	char ctype[64];
	char path[4096 + 16];
};

struct sconn {
	struct coil_tcp tcp;
	struct coil_stream *s; /* &tcp.s, or the TLS stream over it */
	struct coil_tls *tls;  /* in the same allocation, when TLS is on */
	struct coil_http_server *srv;
	struct coil_http_sreq req;
	struct sconn *all_prev, *all_next; /* the server's live connections */
	struct sconn *t_prev, *t_next;	   /* a time-limit list */
	unsigned tlist;
	uint64_t deadline;
	uint64_t head_start;
	unsigned st;
	unsigned phase;
	unsigned nreq; /* requests started on this connection */
	/* input */
	char *ibuf;
	size_t icap, ilen, ipos;
	/* head */
	char *hbuf;
	struct coil_http_msg msg;
	struct coil_http_header *hdrs;
	/* a head with more fields than hdrs holds: max_headers of them, kept
	 * until the connection ends */
	struct coil_http_header *xhdrs;
	/* request body */
	struct coil_http_body body;
	unsigned bmode, bstate;
	int berr;
	int berr_pending; /* what the body callback hears if the link fails */
	int expect;	  /* 100-continue asked */
	int sent_continue;
	char *bbuf;
	size_t bcap, blen;
	coil_http_body_fn bcb;
	coil_http_chunk_fn ccb;
	void *barg;
	uint64_t discard_left;
	/* output */
	char *obuf;
	size_t olen, oq;
	unsigned o_inflight; /* slots pointing into obuf */
	unsigned slot_busy;  /* bitmask of inline slots */
	unsigned heap_slots; /* heap slots in flight */
	struct oslot slot[NSLOT];
	/* response */
	int rstatus;
	uint64_t rbytes;
	uint64_t rleft; /* streamed: announced bytes still due */
	coil_http_sent_fn wcb;
	void *warg;
	struct coil_op wop; /* posted completion of a dropped write */
	/* file body */
	int ffd;
	uint64_t foff, fleft;
	struct fbuf *fb;
	int fwait;		  /* sendfile waits for stream writes to end */
	struct coil_sendfile fsf; /* the body by sendfile */
	struct coil_op fop;	  /* open, statx, reads */
	struct coil_op cop;	  /* close of a file */
	struct aux *aux;
	/* misc */
	struct coil_op kick;
	struct coil_stream_write wshut;
	void (*cancel_fn)(struct coil_http_sreq *req, void *arg);
	void *cancel_arg;
};

struct tlist {
	struct sconn *head, *tail;
	uint64_t dur;
};

/* srv->st */
#define S_SHUTDOWN (1u << 0)
#define S_LIS_CLOSED (1u << 1)
#define S_LIS_FULL (1u << 2)   /* stopped at max_conns */
#define S_CUT (1u << 3)	       /* drain time ran out */
#define S_DONE (1u << 4)       /* shutdown's done op posted */
#define S_SHUTDOWN_T (1u << 5) /* the tick is being removed */

struct coil_http_server {
	struct coil_loop *loop;
	struct coil_listener lis;
	struct coil_http_server_opts o;
	void *data;
	unsigned st;
	struct sconn *all;
	struct sconn *free;
	unsigned nfree;
	size_t conn_bytes;
	unsigned hdrs_inline; /* fields in a connection's own array */
	struct tlist tl[TL_N];
	struct coil_op tmr;
	uint64_t tick_ns;
	struct coil_op dtmr;
	struct coil_op *done;
	struct fbuf *fbufs;
	unsigned nfbufs;
	struct coil_http_server_stats stats;
	struct coil_tcp_opts topts;
};

static inline struct sconn *sconn_of(struct coil_http_sreq *req)
{
	return coil_container_of(req, struct sconn, req);
}

static inline uint64_t srv_now(const struct coil_http_server *srv)
{
	return coil_now(srv->loop);
}

/* The handler holds @req (not serve_file on its behalf). */
static inline int sreq_owned(struct coil_http_sreq *req)
{
	struct sconn *c;
	if (!req)
		return 0;
	c = sconn_of(req);
	return (c->st & C_OWNED) && !(c->st & C_INTERNAL);
}

/* Statuses whose responses carry no body (RFC 9110 §15.3.5, §15.4.5). */
static inline int nobody_status(int status)
{
	return status == 204 || status == 304;
}

/* Post the connection's kick op (once): its pump, coil__sconn_process(),
 * runs from the loop (docs/ARCHITECTURE.md, "The kick and the pump"). */
static inline void coil__sconn_kick(struct sconn *c)
{
	if (!coil_op_busy(&c->kick))
		coil_loop_post(c->srv->loop, &c->kick, 0);
}

/* The unread body of a request whose response is out: can it be read and
 * dropped (keeping the connection), or must the connection close? */
static inline int coil__body_discardable(const struct sconn *c)
{
	if (c->bstate != BS_GOING)
		return c->bstate != BS_FAILED;
	if (c->expect && !c->sent_continue)
		return 0; /* the client may never send it */
	if (c->body.kind == COIL_HTTP_BODY_LENGTH)
		return c->body.remaining <= DISCARD_MAX;
	return 0;
}

/* ---- server.c: connections and phases ---- */

/* The pump: run the connection's phases until it waits on something. */
void coil__sconn_process(struct sconn *c);
/* End the connection (@err < 0 failed, 0 clean); the handler hears of it
 * from the loop. */
void coil__sconn_fail(struct sconn *c, int err);
/* Give the connection back once nothing refers to it any more. */
void coil__sconn_release(struct sconn *c);
/* Report the request to on_done once. */
void coil__sconn_report(struct sconn *c);
/* The handler (or serve_file) let go of the request. */
void coil__sreq_complete(struct sconn *c);
/* Post shutdown's done op once nothing is left. */
void coil__srv_shutdown_check(struct coil_http_server *srv);

/* ---- server_time.c: time limits ---- */

void coil__tl_remove(struct sconn *c);
/* Which list @c belongs in now, and its deadline. */
void coil__sconn_retime(struct sconn *c);
/* Progress on a list whose deadline slides (write, body). */
void coil__sconn_progress(struct sconn *c, unsigned kind);
/* Arm the server's tick if a list holds a connection and it is not armed. */
void coil__tl_arm(struct coil_http_server *srv);

/* ---- server_body.c: request bodies ---- */

void coil__body_fail(struct sconn *c, int err);
/* Consume body bytes from the input: 1 if the connection may go on. */
int coil__body_step(struct sconn *c);

/* ---- server_respond.c: output and responses ---- */

int coil__out_send(struct sconn *c, unsigned kind, void *heap,
		   const struct iovec *extra, unsigned n);
void coil__out_flush(struct sconn *c);
void coil__obuf_compact(struct sconn *c);
/* Room to start answering another request. */
int coil__out_room(struct sconn *c);
int coil__out_head(struct sconn *c, const struct coil_http_response_spec *sp);
/* Send 100 Continue if the client waits for it. */
void coil__body_continue(struct sconn *c);
/* Answer @status (plain text) and close after it. */
void coil__send_error(struct sconn *c, int status);
/* Connection flags for a final response head; decides keep-alive. */
unsigned coil__resp_conn_flags(struct sconn *c);
/* Answer 500 instead of a response the writer refused. */
void coil__respond_500(struct sconn *c);
int coil__respond_mem(struct sconn *c, int status,
		      const struct coil_http_header *headers, size_t nheaders,
		      const void *body, size_t len);
/* The posted completion of a write that sent nothing (c->wop). */
void coil__respond_wop_cb(struct coil_op *op, int res, unsigned flags);

/* ---- server_file.c: file bodies ---- */

/* A file piece was sent (or failed): read the next or finish. */
void coil__file_step(struct sconn *c, int status);
/* The file body is over (sent, or cut by a failure). */
void coil__file_end(struct sconn *c);
/* Send the next piece of the file by sendfile, once the stream writes
 * before it are sent. */
void coil__sendfile_next(struct sconn *c);
/* c->fop's callback for file reads; c->cop's for closes; c->fsf's. */
void coil__file_op_cb(struct coil_op *op, int res, unsigned flags);
void coil__file_sendfile_cb(struct coil_op *op, int res, unsigned flags);
void coil__file_close_cb(struct coil_op *op, int res, unsigned flags);

#endif
