/*
 * http/server.c - the HTTP/1.1 server (RFC 9112, RFC 9110): a listener per
 * loop, connections from a free list, one request at a time per connection
 * (pipelined requests wait in the input buffer, so responses leave in
 * order), time limits kept in sorted lists under one ring timer per server,
 * graceful shutdown. The runner for N loops on N threads is
 * http/server_threads.c; path decoding and content types are http/path.c.
 *
 * A connection's memory: the struct, its head buffer (max_head_bytes: the
 * current request's head, copied there from the input buffer so that the
 * handler may keep it across callbacks while further input arrives), its
 * header array and its output buffer, all in one allocation that goes back
 * to the server's free list when the connection ends; the input buffer is
 * separate because it grows (pipelined bursts, request bodies). Answering
 * a request from memory writes the head and body into the output buffer
 * with coil_http_response_write() and queues one stream write for
 * everything the turn produced: nothing is allocated.
 *
 * Output: the output buffer is append-only while any write that points
 * into it is in flight; it is compacted when none is. Each queued write (a
 * "slot") carries the pending part of the output buffer plus, optionally,
 * borrowed bytes (a file piece, a streamed body piece with its chunk
 * framing), so a head and the first piece of its body leave in one send.
 *
 * Time limits: every connection waiting on something with a limit sits in
 * one list per kind (header, write, body, idle, linger), sorted by
 * deadline; while any list holds a connection, one ring timeout per server
 * ticks (a quarter of the shortest limit, 10 ms to 1 s) and expires the
 * heads that are due. Activity only moves a connection within or between
 * lists: serving a request costs no timer operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coil/http.h"
#include "coil/stream.h"
#include "chars.h"
#include "../engine/grow.h"

/* TLS is a layer of its own (tls/), present when coil was built with it */
#if __has_include("coil/tls.h")
#include "coil/tls.h"
#define HAVE_TLS 1
#else
#define HAVE_TLS 0
#endif

#define OBUF_SIZE 8192	   /* per-connection output buffer */
#define OBUF_RESERVE 512   /* room a new request needs to be started */
#define IBUF_INIT 4096	   /* initial input buffer */
#define FCHUNK (64 * 1024) /* file piece */
/* File bodies of at least this much go by splice(2) (file -> pipe ->
 * socket, no copy through user space) on plain TCP: the kernel runs every
 * splice in an io-wq worker, a hand-off that 64 KiB pieces do not repay
 * but 1 MiB ones do by far (docs/BENCHMARKS.md, section serve). */
#define SPLICE_MIN (256 * 1024)
#define PIPE_SIZE (1024 * 1024) /* asked for with F_SETPIPE_SZ */
#define PIPE_CACHE 64		/* empty pipes kept per server (2 fds each) */
#define FBUF_CACHE 32		/* file buffers kept per server */
#define NSLOT 4			/* inline write slots per connection */
#define DISCARD_MAX 65536	/* unread body bytes read and dropped */
#define FREE_CONNS_MAX 4096	/* connection structs kept for reuse */
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

/* conn->st */
#define C_OWNED (1u << 0)	 /* the handler (or serve_file) holds req */
#define C_BEGUN (1u << 1)	 /* a response head was written */
#define C_DONE (1u << 2)	 /* the response is completely queued */
#define C_EOF (1u << 3)		 /* the client sent FIN */
#define C_PAUSED (1u << 4)	 /* reading stopped by us */
#define C_INPROC (1u << 5)	 /* conn_process() is on the stack */
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
#define C_SPLICE (1u << 22)	 /* the file body goes by splice */
#define C_NONBLOCK (1u << 23)	 /* the socket is O_NONBLOCK (for splice) */

/* body modes */
enum { B_NONE, B_BUFFER, B_STREAM, B_DISCARD };
/* body states */
enum { BS_GOING, BS_ENDED, BS_FAILED, BS_REPORTED };

/* slot kinds */
enum { SK_PLAIN, SK_HEAP, SK_FILE, SK_USER };

struct conn;

struct oslot {
	struct coil_stream_write w;
	struct iovec iov[4];
	struct conn *c;
	void *heap;	/* SK_HEAP: freed when sent */
	size_t obytes;	/* output-buffer bytes this write carries */
	unsigned kind;	/* SK_* */
	unsigned index; /* inline slot number, or NSLOT for a heap slot */
};

struct fbuf {
	struct fbuf *next;
	char data[FCHUNK];
};

/* A pipe for splicing file bodies (server-wide cache of empty ones). */
struct spipe {
	struct spipe *next;
	int r, w;
	size_t cap;
};

/* splice steps (conn->fstep) */
enum { FS_IN = 1, FS_OUT, FS_POLL };

/* serve_file's scratch: kept with the connection once used. */
struct aux {
	struct open_how how;
	struct statx stx;
	char ctype[64];
	char path[4096 + 16];
};

struct conn {
	struct coil_tcp tcp;
	struct coil_stream *s; /* &tcp.s, or the TLS stream over it */
#if HAVE_TLS
	struct coil_tls *tls; /* in the same allocation, when TLS is on */
#endif
	struct coil_http_server *srv;
	struct coil_http_sreq req;
	struct conn *all_prev, *all_next; /* the server's live connections */
	struct conn *t_prev, *t_next;	  /* a time-limit list */
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
	struct spipe *pipe; /* splice: the pipe, and the bytes in it */
	size_t pbytes;
	unsigned fstep;	    /* FS_* while splicing */
	int fwait;	    /* splice out waits for stream writes to end */
	struct coil_op fop; /* open, statx, reads, splices */
	struct coil_op cop; /* close of a file */
	struct aux *aux;
	/* misc */
	struct coil_op kick;
	struct coil_stream_write wshut;
	void (*cancel_fn)(struct coil_http_sreq *req, void *arg);
	void *cancel_arg;
};

struct tlist {
	struct conn *head, *tail;
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
	struct conn *all;
	struct conn *free;
	unsigned nfree;
	size_t conn_bytes;
	struct tlist tl[TL_N];
	struct coil_op tmr;
	uint64_t tick_ns;
	struct coil_op dtmr;
	struct coil_op *done;
	struct fbuf *fbufs;
	unsigned nfbufs;
	struct spipe *pipes;
	unsigned npipes;
	struct coil_http_server_stats stats;
	struct coil_tcp_opts topts;
};

static void conn_process(struct conn *c);
static void conn_fail(struct conn *c, int err);
static void conn_kick(struct conn *c);
static void conn_retime(struct conn *c);
static void maybe_release(struct conn *c);
static void shutdown_check(struct coil_http_server *srv);
static void out_flush(struct conn *c);

static struct conn *conn_of(struct coil_http_sreq *req)
{
	return coil_container_of(req, struct conn, req);
}

static uint64_t now(const struct coil_http_server *srv)
{
	return coil_now(srv->loop);
}

/* ---- time limits ---------------------------------------------------------
 */

static void tl_remove(struct conn *c)
{
	struct tlist *l;
	if (c->tlist == TL_NONE)
		return;
	l = &c->srv->tl[c->tlist];
	if (c->t_prev)
		c->t_prev->t_next = c->t_next;
	else
		l->head = c->t_next;
	if (c->t_next)
		c->t_next->t_prev = c->t_prev;
	else
		l->tail = c->t_prev;
	c->t_prev = c->t_next = NULL;
	c->tlist = TL_NONE;
}

static void tmr_arm(struct coil_http_server *srv);

/* Put @c in list @kind with @deadline, sorted (from the tail: deadlines
 * mostly grow). */
static void tl_insert(struct conn *c, unsigned kind, uint64_t deadline)
{
	struct coil_http_server *srv = c->srv;
	struct tlist *l = &srv->tl[kind];
	struct conn *p;

	tl_remove(c);
	p = l->tail;
	while (p && p->deadline > deadline)
		p = p->t_prev;
	c->t_prev = p;
	c->t_next = p ? p->t_next : l->head;
	if (c->t_next)
		c->t_next->t_prev = c;
	else
		l->tail = c;
	if (p)
		p->t_next = c;
	else
		l->head = c;
	c->tlist = kind;
	c->deadline = deadline;
	tmr_arm(srv);
}

static int tl_any(const struct coil_http_server *srv)
{
	for (unsigned k = 1; k < TL_N; k++) {
		if (srv->tl[k].head)
			return 1;
	}
	return 0;
}

/*
 * The tick: while any connection has a deadline, one relative ring
 * timeout every tick_ns (a quarter of the shortest time limit, 10 ms to
 * 1 s) expires what is due. A deadline fires at most one tick late, and
 * no timer is ever removed or re-armed because a connection moved.
 */
static void tmr_arm(struct coil_http_server *srv)
{
	if (coil_op_busy(&srv->tmr) || (srv->st & (S_DONE | S_SHUTDOWN_T)) ||
	    !tl_any(srv))
		return;
	coil_timeout(srv->loop, &srv->tmr, srv->tick_ns, 0);
}

static void send_error(struct conn *c, int status);
static void body_fail(struct conn *c, int err);

static void expire(struct conn *c, unsigned kind)
{
	struct coil_http_server *srv = c->srv;

	tl_remove(c);
	srv->stats.timeouts++;
	switch (kind) {
	case TL_HEADER:
		if (c->phase == P_HEAD && c->ipos == c->ilen) {
			/* a connection that never sent a byte */
			c->st |= C_CLOSE_CLEAN;
			conn_fail(c, 0);
			break;
		}
		send_error(c, 408);
		conn_process(c);
		break;
	case TL_BODY:
		if (c->phase == P_REQ && c->bstate == BS_GOING) {
			body_fail(c, -ETIMEDOUT);
			conn_process(c);
		} else {
			conn_fail(c, -ETIMEDOUT);
		}
		break;
	case TL_IDLE:
	case TL_LINGER:
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, 0);
		break;
	default:
		conn_fail(c, -ETIMEDOUT);
		break;
	}
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_server *srv =
		coil_container_of(op, struct coil_http_server, tmr);
	uint64_t t = coil_now(srv->loop);

	if (srv->st & S_DONE)
		return;
	for (unsigned k = 1; k < TL_N; k++) {
		struct conn *c;
		while ((c = srv->tl[k].head) && c->deadline <= t)
			expire(c, k);
	}
	tmr_arm(srv);
	shutdown_check(srv);
}

/* Which list @c belongs in now, and its deadline. */
static void conn_retime(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	unsigned kind = TL_NONE;
	uint64_t t = now(srv), dl = 0;
	int out_busy = c->slot_busy || c->heap_slots;

	if (c->st & C_DEAD)
		kind = TL_NONE;
	else if (c->phase == P_CLOSING)
		kind = (c->st & C_SHUT) ? TL_LINGER : TL_WRITE;
	else if (c->phase == P_HEAD &&
		 (c->ipos < c->ilen || (c->nreq == 0 && !out_busy)))
		kind = TL_HEADER; /* a head arriving, or a first one awaited */
	else if (out_busy)
		kind = TL_WRITE;
	else if (c->phase == P_HEAD)
		kind = TL_IDLE;
	else if (c->phase == P_DISCARD ||
		 (c->phase == P_REQ &&
		  (c->bmode == B_BUFFER || c->bmode == B_STREAM) &&
		  c->bstate == BS_GOING && !(c->st & C_LENT)))
		kind = TL_BODY;

	if (kind == TL_NONE) {
		tl_remove(c);
		return;
	}
	if (kind == c->tlist && (kind == TL_HEADER || kind == TL_LINGER ||
				 kind == TL_WRITE || kind == TL_BODY))
		return; /* progress refreshes these explicitly */
	if (kind == TL_HEADER)
		dl = c->head_start + srv->tl[kind].dur;
	else
		dl = t + srv->tl[kind].dur;
	tl_insert(c, kind, dl);
}

/* Progress on a list whose deadline slides (write, body). */
static void conn_progress(struct conn *c, unsigned kind)
{
	if (c->tlist == kind)
		tl_insert(c, kind, now(c->srv) + c->srv->tl[kind].dur);
}

/* ---- output -----------------------------------------------------------------
 */

static void slot_cb(struct coil_stream_write *w, int status);

static struct oslot *slot_get(struct conn *c)
{
	struct oslot *sl;
	for (unsigned i = 0; i < NSLOT; i++) {
		if (!(c->slot_busy & (1u << i))) {
			c->slot_busy |= 1u << i;
			sl = &c->slot[i];
			memset(&sl->w, 0, sizeof(sl->w));
			sl->index = i;
			goto init;
		}
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return NULL;
	sl->index = NSLOT;
	c->heap_slots++;
init:
	sl->c = c;
	sl->heap = NULL;
	sl->obytes = 0;
	sl->kind = SK_PLAIN;
	return sl;
}

static void slot_put(struct conn *c, struct oslot *sl)
{
	if (sl->index < NSLOT) {
		c->slot_busy &= ~(1u << sl->index);
	} else {
		c->heap_slots--;
		free(sl);
	}
}

static unsigned slots_free(const struct conn *c)
{
	return (unsigned)(NSLOT - __builtin_popcount(c->slot_busy));
}

/*
 * Queue one write: the pending output-buffer bytes, then @n more iovecs
 * (borrowed). On a failure to queue, the slot completes through the same
 * path as a failed send (posted, never inline).
 */
static int out_send(struct conn *c, unsigned kind, void *heap,
		    const struct iovec *extra, unsigned n)
{
	struct oslot *sl;
	unsigned k = 0;
	int ret;

	if (c->st & C_DEAD) {
		free(heap);
		return -EPIPE;
	}
	sl = slot_get(c);
	if (!sl) {
		free(heap);
		conn_fail(c, -ENOMEM);
		return -ENOMEM;
	}
	sl->kind = kind;
	sl->heap = heap;
	if (c->olen > c->oq) {
		sl->iov[k].iov_base = c->obuf + c->oq;
		sl->iov[k].iov_len = c->olen - c->oq;
		sl->obytes = c->olen - c->oq;
		c->oq = c->olen;
		c->o_inflight++;
		k++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (extra[i].iov_len)
			sl->iov[k++] = extra[i];
	}
	ret = coil_stream_writev(c->s, &sl->w, sl->iov, k, slot_cb);
	if (ret < 0) {
		/* the stream failed: undo and fail the connection */
		if (sl->obytes)
			c->o_inflight--;
		free(sl->heap);
		slot_put(c, sl);
		conn_fail(c, ret);
		return ret;
	}
	return 0;
}

/* Send what the output buffer holds, unless a file head waits for its
 * first piece. */
static void out_flush(struct conn *c)
{
	if (c->olen > c->oq && !(c->st & (C_HOLD | C_DEAD)))
		out_send(c, SK_PLAIN, NULL, NULL, 0);
}

static void obuf_compact(struct conn *c)
{
	if (c->o_inflight)
		return;
	if (c->oq == c->olen) {
		c->olen = c->oq = 0;
	} else if (c->oq) {
		memmove(c->obuf, c->obuf + c->oq, c->olen - c->oq);
		c->olen -= c->oq;
		c->oq = 0;
	}
}

/* Room to start answering another request. */
static int out_room(struct conn *c)
{
	obuf_compact(c);
	return slots_free(c) >= 2 && OBUF_SIZE - c->olen >= OBUF_RESERVE;
}

static void file_step(struct conn *c, int status);
static void file_end(struct conn *c);
static void splice_next(struct conn *c);
static void user_sent(struct conn *c, int status);

static void slot_cb(struct coil_stream_write *w, int status)
{
	struct oslot *sl = coil_container_of(w, struct oslot, w);
	struct conn *c = sl->c;
	unsigned kind = sl->kind;

	if (sl->obytes) {
		c->o_inflight--;
		obuf_compact(c);
	}
	free(sl->heap);
	slot_put(c, sl);
	if (status < 0)
		conn_fail(c, status);
	else
		conn_progress(c, TL_WRITE);
	if (kind == SK_FILE)
		file_step(c, status);
	else if (kind == SK_USER)
		user_sent(c, status);
	if (c->fwait && !c->slot_busy && !c->heap_slots) {
		c->fwait = 0;
		if (status < 0 || (c->st & C_DEAD))
			file_end(c);
		else
			splice_next(c);
	}
	if (c->st & C_DEAD) {
		maybe_release(c);
		return;
	}
	conn_process(c);
}

/*
 * Write a response head (and body, unless HEAD_ONLY) into the output
 * buffer, or into a heap buffer queued at once when it does not fit.
 * Return: 0; -EINVAL from the writer; -ENOMEM.
 */
static int out_head(struct conn *c, const struct coil_http_response_spec *sp)
{
	size_t est;
	char *h;
	int r;

	r = coil_http_response_write(c->obuf + c->olen, OBUF_SIZE - c->olen,
				     sp);
	if (r > 0) {
		c->olen += (size_t)r;
		return 0;
	}
	if (r != -ENOSPC)
		return r;
	obuf_compact(c);
	r = coil_http_response_write(c->obuf + c->olen, OBUF_SIZE - c->olen,
				     sp);
	if (r > 0) {
		c->olen += (size_t)r;
		return 0;
	}
	if (r != -ENOSPC)
		return r;
	est = 512 + (sp->reason ? strlen(sp->reason) : 0);
	for (size_t i = 0; i < sp->nheaders; i++)
		est += sp->headers[i].name_len + sp->headers[i].value_len + 4;
	if (!(sp->flags & COIL_HTTP_HEAD_ONLY)) {
		if (sp->body_len > INT_MAX - est)
			return -ENOMEM;
		est += (size_t)sp->body_len;
	}
	h = malloc(est);
	if (!h)
		return -ENOMEM;
	r = coil_http_response_write(h, est, sp);
	if (r < 0) {
		free(h);
		return r == -ENOSPC ? -ENOMEM : r;
	}
	if (c->st & C_HOLD) {
		/* cannot happen: a held head is the last thing written */
		free(h);
		return -EINVAL;
	}
	{
		struct iovec v = {h, (size_t)r};
		out_send(c, SK_HEAP, h, &v, 1);
	}
	return 0;
}

/* ---- connections: set-up and release ----------------------------------------
 */

static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf);
static void kick_cb(struct coil_op *op, int res, unsigned flags);
static void fop_cb(struct coil_op *op, int res, unsigned flags);
static void cop_cb(struct coil_op *op, int res, unsigned flags);
static void wop_cb(struct coil_op *op, int res, unsigned flags);

static struct conn *conn_alloc(struct coil_http_server *srv)
{
	struct conn *c = srv->free;
	if (c) {
		srv->free = c->all_next;
		srv->nfree--;
		return c;
	}
	c = calloc(1, srv->conn_bytes);
	if (!c)
		return NULL;
	c->hbuf = (char *)(c + 1);
	c->hdrs = (struct coil_http_header *)(void *)(c->hbuf +
						      ((srv->o.max_head_bytes +
							15) &
						       ~(size_t)15));
	c->obuf = (char *)(c->hdrs + srv->o.max_headers);
#if HAVE_TLS
	if (srv->o.tls)
		c->tls = (struct coil_tls *)(void *)(c->obuf + OBUF_SIZE);
#endif
	c->ibuf = malloc(IBUF_INIT);
	if (!c->ibuf) {
		free(c);
		return NULL;
	}
	c->icap = IBUF_INIT;
	c->srv = srv;
	return c;
}

static void conn_free_mem(struct conn *c)
{
	free(c->ibuf);
	free(c->bbuf);
	free(c->aux);
	free(c);
}

/* Reset the per-request state for the next request. */
static void req_reset(struct conn *c)
{
	coil_http_msg_reset(&c->msg);
	memset(&c->req, 0, sizeof(c->req));
	c->req.server = c->srv;
	c->req.loop = c->srv->loop;
	c->st &= ~(C_OWNED | C_BEGUN | C_DONE | C_CANCELLED | C_HOLD | C_FILE |
		   C_STREAM | C_CHUNKED | C_NOBODY | C_WBUSY | C_INTERNAL |
		   C_REPORTED | C_LENT);
	c->bmode = B_NONE;
	c->bstate = BS_GOING;
	c->berr = 0;
	c->expect = 0;
	c->sent_continue = 0;
	c->blen = 0;
	c->bcb = NULL;
	c->ccb = NULL;
	c->barg = NULL;
	c->rstatus = 0;
	c->rbytes = 0;
	c->rleft = 0;
	c->wcb = NULL;
	c->warg = NULL;
	c->cancel_fn = NULL;
	c->cancel_arg = NULL;
}

static void srv_listener_cb(struct coil_listener *l, int fd);

#if HAVE_TLS
/* The handshake ended: a failure ends the connection (the lower stream is
 * closed already; closing the TLS stream completes it). */
static void tls_done_cb(struct coil_stream *s, int status)
{
	struct conn *c = s->data;
	if (status < 0) {
		c->srv->stats.tls_failures++;
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, status);
	}
}
#endif

static void conn_start(struct coil_http_server *srv, int fd)
{
	struct conn *c = conn_alloc(srv);
	int ret;

	if (!c) {
		close(fd);
		srv->stats.refused++;
		return;
	}
	c->tcp.s.data = c;
	ret = coil_tcp_open(srv->loop, &c->tcp, fd, &srv->topts);
	if (ret < 0) {
		close(fd);
		c->all_next = srv->free;
		srv->free = c;
		srv->nfree++;
		return;
	}
	c->s = &c->tcp.s;
#if HAVE_TLS
	if (srv->o.tls) {
		/* the handshake must fit in the time a first head has */
		struct coil_tls_opts to = {.handshake_timeout_ns =
						   srv->o.header_timeout_ns};
		c->tls->s.data = c;
		ret = coil_tls_open(c->tls, &c->tcp.s, srv->o.tls, &to,
				    tls_done_cb);
		if (ret == 0)
			c->s = &c->tls->s;
	}
#endif
	c->st = 0;
	c->phase = P_HEAD;
	c->nreq = 0;
	c->ipos = c->ilen = 0;
	c->olen = c->oq = 0;
	c->o_inflight = 0;
	c->slot_busy = 0;
	c->heap_slots = 0;
	c->ffd = -1;
	c->fb = NULL;
	c->pipe = NULL;
	c->pbytes = 0;
	c->fstep = 0;
	c->fwait = 0;
	c->tlist = TL_NONE;
	c->t_prev = c->t_next = NULL;
	c->head_start = now(srv);
	coil_http_msg_init(&c->msg, c->hdrs, srv->o.max_headers);
	c->msg.max_head_bytes = srv->o.max_head_bytes;
	coil_op_init(&c->kick, kick_cb);
	coil_op_init(&c->fop, fop_cb);
	coil_op_init(&c->cop, cop_cb);
	coil_op_init(&c->wop, wop_cb);
	memset(&c->wshut, 0, sizeof(c->wshut));
	req_reset(c);
	/* link */
	c->all_prev = NULL;
	c->all_next = srv->all;
	if (srv->all)
		srv->all->all_prev = c;
	srv->all = c;
	srv->stats.conns++;
	if (srv->stats.conns > srv->stats.conns_max)
		srv->stats.conns_max = srv->stats.conns;
	if (ret == 0)
		ret = coil_stream_read_start(c->s, conn_read_cb);
	if (ret < 0) {
		conn_fail(c, ret);
		return;
	}
	conn_retime(c);
}

static void srv_listener_cb(struct coil_listener *l, int fd)
{
	struct coil_http_server *srv =
		coil_container_of(l, struct coil_http_server, lis);

	if (fd < 0)
		return; /* the listener backs off by itself (EMFILE ...) */
	srv->stats.accepted++;
	if (srv->st & S_SHUTDOWN) {
		close(fd);
		return;
	}
	conn_start(srv, fd);
	if (srv->stats.conns >= srv->o.max_conns &&
	    !(srv->st & (S_LIS_FULL | S_SHUTDOWN))) {
		if (coil_listener_stop(&srv->lis) == 0)
			srv->st |= S_LIS_FULL;
	}
}

/* Report the request to on_done once. */
static void report(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	if ((c->st & C_REPORTED) || !(c->req.method || c->rstatus))
		return;
	c->st |= C_REPORTED;
	if (c->rstatus)
		srv->stats.responses++;
	if (srv->o.on_done)
		srv->o.on_done(&c->req, c->rstatus, c->rbytes, srv->o.arg);
}

static void conn_closed_cb(struct coil_stream *s)
{
	struct conn *c = s->data;
	c->st |= C_CLOSED;
	maybe_release(c);
}

/* Give the connection back once nothing refers to it any more. */
static void maybe_release(struct conn *c)
{
	struct coil_http_server *srv = c->srv;

	if (!(c->st & C_CLOSED) || (c->st & C_OWNED) ||
	    coil_op_busy(&c->kick) || coil_op_busy(&c->fop) ||
	    coil_op_busy(&c->cop) || coil_op_busy(&c->wop) || c->slot_busy ||
	    c->heap_slots)
		return;
	if (c->ffd >= 0) {
		/* a file body cut short: close it through the ring */
		int fd = c->ffd;
		c->ffd = -1;
		if (coil_close(srv->loop, &c->cop, fd) == 0)
			return;
		close(fd);
	}
	report(c);
	if (c->fb) {
		if (srv->nfbufs < FBUF_CACHE) {
			c->fb->next = srv->fbufs;
			srv->fbufs = c->fb;
			srv->nfbufs++;
		} else {
			free(c->fb);
		}
		c->fb = NULL;
	}
	tl_remove(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		srv->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	srv->stats.conns--;
	c->st = 0;
	if (srv->nfree < FREE_CONNS_MAX && !(srv->st & S_SHUTDOWN)) {
		/* keep small body buffers; drop big ones */
		if (c->bcap > 65536) {
			free(c->bbuf);
			c->bbuf = NULL;
			c->bcap = 0;
		}
		if (c->icap > 65536) {
			char *p = realloc(c->ibuf, IBUF_INIT);
			if (p) {
				c->ibuf = p;
				c->icap = IBUF_INIT;
			}
		}
		c->all_next = srv->free;
		srv->free = c;
		srv->nfree++;
	} else {
		conn_free_mem(c);
	}
	if ((srv->st & S_LIS_FULL) && srv->stats.conns < srv->o.max_conns &&
	    !(srv->st & S_SHUTDOWN)) {
		srv->st &= ~S_LIS_FULL;
		coil_listener_start(&srv->lis);
	}
	shutdown_check(srv);
}

/* Call the handler's cancel hook once, if it holds the request. */
static void conn_cancel_hook(struct conn *c)
{
	if (!(c->st & C_OWNED) || (c->st & (C_INTERNAL | C_CANCELLED)))
		return;
	c->st |= C_CANCELLED;
	if (c->cancel_fn)
		c->cancel_fn(&c->req, c->cancel_arg);
}

/*
 * End the connection now (@err < 0: it failed; 0: a clean close, e.g. an
 * idle keep-alive connection or the end of lingering). The handler hears
 * of it from the loop (kick_cb): its body callback gets the error, then
 * its cancel hook runs; never inline from whatever call found the failure.
 */
static void conn_fail(struct conn *c, int err)
{
	if (c->st & C_DEAD)
		return;
	c->st |= C_DEAD;
	c->berr_pending = err < 0 ? err : COIL_ETRUNC;
	tl_remove(c);
	if (err < 0 && !(c->st & C_CLOSE_CLEAN))
		c->srv->stats.resets++;
	/* -EINVAL: the stream holds nothing any more (a TLS stream whose
	 * handshake failed has closed its lower stream itself) */
	if (coil_stream_close(c->s, conn_closed_cb) == -EINVAL)
		c->st |= C_CLOSED;
	conn_kick(c);
}

/* Tell the handler that its connection is gone (from the loop). */
static void conn_notify(struct conn *c)
{
	if (c->phase == P_REQ && c->bstate == BS_GOING && (c->st & C_OWNED) &&
	    (c->bmode == B_BUFFER || c->bmode == B_STREAM))
		body_fail(c, c->berr_pending);
	conn_cancel_hook(c);
}

static void conn_kick(struct conn *c)
{
	if (!coil_op_busy(&c->kick))
		coil_loop_post(c->srv->loop, &c->kick, 0);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, kick);
	if (c->st & C_DEAD) {
		conn_notify(c);
		maybe_release(c);
		return;
	}
	conn_process(c);
}

/* ---- input ------------------------------------------------------------------
 */

static int in_append(struct conn *c, const void *buf, size_t n)
{
	if (c->ipos == c->ilen)
		c->ipos = c->ilen = 0;
	if (c->icap - c->ilen < n) {
		if (c->ipos) {
			memmove(c->ibuf, c->ibuf + c->ipos, c->ilen - c->ipos);
			c->ilen -= c->ipos;
			c->ipos = 0;
		}
		if (c->icap - c->ilen < n) {
			char *p = coil__grow(c->ibuf, &c->icap, c->ilen + n,
					     IBUF_INIT);
			if (!p)
				return -ENOMEM;
			c->ibuf = p;
		}
	}
	memcpy(c->ibuf + c->ilen, buf, n);
	c->ilen += n;
	return 0;
}

/* Bytes of input a connection may hold without consuming them. */
static size_t in_high(const struct conn *c)
{
	size_t h = c->srv->o.max_head_bytes;
	return h < 16384 ? 16384 : h;
}

static void conn_read_cb(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct conn *c = s->data;

	if (c->st & C_DEAD)
		return;
	if (n > 0) {
		if (c->phase == P_CLOSING && (c->st & C_SHUT))
			return; /* lingering: drop */
		if (c->phase == P_HEAD && c->ipos == c->ilen)
			c->head_start = now(c->srv);
		if (in_append(c, buf, (size_t)n) < 0) {
			conn_fail(c, -ENOMEM);
			return;
		}
		if (c->phase == P_REQ || c->phase == P_DISCARD)
			conn_progress(c, TL_BODY);
	} else if (n == 0 || n == COIL_ETRUNC) {
		/* COIL_ETRUNC: a TLS client that closed without close_notify;
		 * HTTP's own framing tells whether anything is missing */
		c->st |= C_EOF;
	} else {
		conn_fail(c, (int)n);
		return;
	}
	conn_process(c);
}

static void set_reading(struct conn *c, int want)
{
	if (c->st & (C_DEAD | C_EOF))
		return;
	if (want && (c->st & C_PAUSED)) {
		c->st &= ~C_PAUSED;
		if (coil_stream_read_start(c->s, conn_read_cb) < 0)
			conn_fail(c, -EPIPE);
	} else if (!want && !(c->st & C_PAUSED)) {
		c->st |= C_PAUSED;
		coil_stream_read_stop(c->s);
	}
}

/* ---- request bodies
 * -----------------------------------------------------------
 */

static void body_fail(struct conn *c, int err)
{
	if (c->bstate != BS_GOING)
		return;
	c->bstate = BS_FAILED;
	c->berr = err;
	c->st |= C_CLOSE;
	if (c->bmode == B_BUFFER && c->bcb) {
		coil_http_body_fn cb = c->bcb;
		c->bstate = BS_REPORTED;
		cb(&c->req, err, c->barg);
	} else if (c->bmode == B_STREAM && c->ccb && !(c->st & C_LENT)) {
		coil_http_chunk_fn cb = c->ccb;
		c->bstate = BS_REPORTED;
		cb(&c->req, err, NULL, 0, c->barg);
	}
}

static int body_grow(struct conn *c, size_t need)
{
	size_t cap = c->bcap ? c->bcap : 4096;
	char *p;
	while (cap < need)
		cap *= 2;
	if (cap == c->bcap)
		return 0;
	p = realloc(c->bbuf, cap);
	if (!p)
		return -ENOMEM;
	c->bbuf = p;
	c->bcap = cap;
	return 0;
}

/*
 * Consume body bytes from the input for the current body mode. Return 1
 * when something happened that may let the connection go on.
 */
static int body_step(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	int moved = 0;

	while (c->bstate == BS_GOING && !(c->st & (C_LENT | C_DEAD))) {
		size_t in, n;
		char *p;
		int r;

		if (c->body.done) {
			c->bstate = BS_ENDED;
			break;
		}
		if (c->ipos == c->ilen) {
			if (c->st & C_EOF) {
				r = coil_http_body_eof(&c->body);
				if (r == 0) {
					c->bstate = BS_ENDED;
				} else if (c->bmode == B_DISCARD) {
					c->bstate = BS_FAILED;
					c->st |= C_CLOSE;
				} else {
					body_fail(c, r);
				}
				moved = 1;
			}
			break;
		}
		p = c->ibuf + c->ipos;
		in = n = c->ilen - c->ipos;
		r = coil_http_body_decode(&c->body, p, &n);
		if (r < 0 && r != COIL_HTTP_PARTIAL) {
			if (c->bmode == B_DISCARD) {
				c->bstate = BS_FAILED;
				c->st |= C_CLOSE;
			} else {
				body_fail(c, r);
			}
			return 1;
		}
		c->ipos =
			r == COIL_HTTP_PARTIAL ? c->ilen : c->ilen - (size_t)r;
		(void)in;
		moved = 1;
		if (n) {
			if (c->bmode == B_DISCARD) {
				if (n > c->discard_left) {
					c->bstate = BS_FAILED;
					c->st |= C_CLOSE;
					break;
				}
				c->discard_left -= n;
			} else if (c->body.received > srv->o.max_body_bytes) {
				body_fail(c, COIL_ELIMIT);
				return 1;
			} else if (c->bmode == B_BUFFER) {
				if (body_grow(c, c->blen + n) < 0) {
					body_fail(c, -ENOMEM);
					return 1;
				}
				memcpy(c->bbuf + c->blen, p, n);
				c->blen += n;
			} else {
				c->st |= C_LENT;
				c->ccb(&c->req, 0, p, n, c->barg);
			}
		}
		if (c->body.done && !(c->st & C_LENT))
			c->bstate = BS_ENDED;
	}
	if (c->bstate == BS_ENDED && !(c->st & C_LENT)) {
		if (c->bmode == B_BUFFER) {
			c->bstate = BS_REPORTED;
			c->req.body = c->bbuf;
			c->req.body_len = c->blen;
			c->bcb(&c->req, 0, c->barg);
			moved = 1;
		} else if (c->bmode == B_STREAM) {
			c->bstate = BS_REPORTED;
			c->ccb(&c->req, COIL_HTTP_BODY_END, NULL, 0, c->barg);
			moved = 1;
		}
	}
	return moved;
}

/* The unread body of a request whose response is out: can it be read and
 * dropped (keeping the connection), or must the connection close? */
static int body_discardable(const struct conn *c)
{
	if (c->bstate != BS_GOING)
		return c->bstate != BS_FAILED;
	if (c->expect && !c->sent_continue)
		return 0; /* the client may never send it */
	if (c->body.kind == COIL_HTTP_BODY_LENGTH)
		return c->body.remaining <= DISCARD_MAX;
	return 0;
}

/* ---- the state machine ------------------------------------------------------
 */

/* Status for a head the parser refused: 431 for a limit, 505 when the
 * request line names a major version other than 1 (the parser stops at
 * the version's first digit, so the line may be incomplete), else 400. */
static int head_error_status(const struct conn *c, int err)
{
	const char *p = c->ibuf + c->ipos;
	size_t len = c->ilen - c->ipos, i;
	const char *eol;

	if (err == COIL_ELIMIT)
		return 431;
	eol = memchr(p, '\n', len);
	if (eol)
		len = (size_t)(eol - p);
	for (i = 0; i + 6 < len; i++) {
		if (p[i] == ' ' && memcmp(p + i + 1, "HTTP/", 5) == 0) {
			char d = p[i + 6];
			if (d >= '0' && d <= '9' && d != '1')
				return 505;
			break;
		}
	}
	return 400;
}

static void send_error(struct conn *c, int status)
{
	struct coil_http_server *srv = c->srv;
	char body[64];
	struct coil_http_header h = {"Content-Type", 12,
				     "text/plain; charset=utf-8", 25};
	struct coil_http_response_spec sp = {0};
	int n;

	if (c->st & C_DEAD)
		return;
	n = snprintf(body, sizeof(body), "%d %s\n", status,
		     coil_http_reason(status));
	sp.status = status;
	sp.headers = &h;
	sp.nheaders = 1;
	sp.body = body;
	sp.body_len = (uint64_t)n;
	sp.flags = COIL_HTTP_CLOSE;
	if (c->req.is_head)
		sp.flags |= COIL_HTTP_HEAD_ONLY;
	c->st &= ~C_HOLD;
	if (out_head(c, &sp) < 0) {
		conn_fail(c, -ENOMEM);
		return;
	}
	srv->stats.errors++;
	c->rstatus = status;
	c->rbytes = c->req.is_head ? 0 : (uint64_t)n;
	c->st |= C_CLOSE | C_BEGUN | C_DONE;
	report(c);
	tl_remove(c);
	c->phase = P_CLOSING;
}

/* Copy the parsed head into hbuf and point the request at it. */
static void head_take(struct conn *c, size_t hlen)
{
	const char *base = c->ibuf + c->ipos;
	char *h = c->hbuf;
	struct coil_http_msg *m = &c->msg;
	struct coil_http_sreq *r = &c->req;
	const char *q;

#define RELOC(p) (h + ((p)-base))
	memcpy(h, base, hlen);
	r->method = RELOC(m->method);
	r->method_len = m->method_len;
	r->target = RELOC(m->target);
	r->target_len = m->target_len;
	for (unsigned i = 0; i < m->nheaders; i++) {
		c->hdrs[i].name = RELOC(c->hdrs[i].name);
		c->hdrs[i].value = RELOC(c->hdrs[i].value);
	}
#undef RELOC
	r->headers = c->hdrs;
	r->nheaders = m->nheaders;
	r->minor_version = m->minor_version;
	r->body_kind = m->body;
	r->content_length = m->content_length;
	r->is_head = m->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
	q = memchr(r->target, '?', r->target_len);
	r->path = r->target;
	if (q) {
		r->path_len = (size_t)(q - r->target);
		r->query = q + 1;
		r->query_len = r->target_len - r->path_len - 1;
	} else {
		r->path_len = r->target_len;
		r->query = r->target + r->target_len;
		r->query_len = 0;
	}
	c->ipos += hlen;
}

/* A complete head: checks the server makes, then the handler. */
static void start_request(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	size_t elen;
	const char *ev;

	c->nreq++;
	coil_http_body_init(&c->body, &c->msg, 0);
	if (c->body.kind == COIL_HTTP_BODY_NONE ||
	    (c->body.kind == COIL_HTTP_BODY_LENGTH && !c->body.remaining))
		c->body.done = 1; /* nothing to read (RFC 9112 §6.3) */
	c->phase = P_REQ;
	c->st |= C_OWNED;
	if (!c->msg.keep_alive)
		c->st |= C_CLOSE;
	ev = coil_http_sreq_header(&c->req, "expect", &elen);
	if (ev) {
		if (elen == 12 && ch_ieq(ev, "100-continue", 12)) {
			c->expect = c->req.minor_version >= 1;
		} else {
			c->st &= ~C_OWNED;
			send_error(c, 417);
			return;
		}
	}
	if (c->msg.body == COIL_HTTP_BODY_LENGTH &&
	    c->msg.content_length > srv->o.max_body_bytes) {
		c->st &= ~C_OWNED;
		send_error(c, 413);
		return;
	}
	srv->stats.requests++;
	srv->o.handler(&c->req, srv->o.arg);
}

/* The response is out and the handler let go: on to the next request. */
static void finish_request(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	int close_it = (c->st & (C_CLOSE | C_SHORT)) != 0;

	report(c);
	if (!close_it && c->bstate == BS_GOING && c->body.kind != 0 &&
	    !c->body.done) {
		if (body_discardable(c)) {
			c->bmode = B_DISCARD;
			c->discard_left = DISCARD_MAX;
			c->phase = P_DISCARD;
			return;
		}
		close_it = 1;
	}
	if (c->bstate == BS_FAILED)
		close_it = 1;
	if (srv->o.max_requests && c->nreq >= srv->o.max_requests)
		close_it = 1;
	if (srv->st & S_SHUTDOWN)
		close_it = 1;
	if (close_it) {
		c->st |= C_CLOSE;
		c->phase = P_CLOSING;
		return;
	}
	req_reset(c);
	c->phase = P_HEAD;
	c->head_start = now(srv);
}

static void shut_cb(struct coil_stream_write *w, int status)
{
	struct conn *c = coil_container_of(w, struct conn, wshut);
	if (status < 0) {
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, 0);
		return;
	}
	conn_retime(c);
}

/* P_CLOSING: once everything queued is sent, FIN and linger (or close at
 * once when the client already closed its side). */
static void closing_step(struct conn *c)
{
	if (c->slot_busy || c->heap_slots || (c->st & (C_OWNED | C_FILE)))
		return;
	if (c->olen > c->oq) {
		out_flush(c);
		return;
	}
	if (c->st & C_SHUT) {
		if (c->st & C_EOF) {
			c->st |= C_CLOSE_CLEAN;
			conn_fail(c, 0);
		}
		return;
	}
	if ((c->st & (C_EOF | C_CLOSE_CLEAN)) || c->srv->o.linger_ns == 0) {
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, 0);
		return;
	}
	if (coil_stream_shutdown(c->s, &c->wshut, shut_cb) < 0) {
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, 0);
		return;
	}
	c->st |= C_SHUT;
	/* lingering: read and drop whatever the client still sends */
	c->ipos = c->ilen = 0;
	set_reading(c, 1);
}

static void conn_process(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	int r;

	if (c->st & (C_INPROC | C_DEAD))
		return;
	c->st |= C_INPROC;
	for (;;) {
		if (c->st & C_DEAD)
			break;
		if (c->phase == P_HEAD) {
			if (srv->st & S_SHUTDOWN && c->ipos == c->ilen) {
				c->st |= C_CLOSE | C_CLOSE_CLEAN;
				c->phase = P_CLOSING;
				continue;
			}
			if (c->ipos == c->ilen) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (!out_room(c)) {
				out_flush(c);
				break;
			}
			r = coil_http_parse_request(&c->msg, c->ibuf + c->ipos,
						    c->ilen - c->ipos);
			if (r == COIL_HTTP_PARTIAL) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (r < 0) {
				send_error(c, head_error_status(c, r));
				continue;
			}
			head_take(c, (size_t)r);
			start_request(c);
			continue;
		}
		if (c->phase == P_REQ) {
			if ((c->st & C_OWNED) && c->bmode != B_NONE &&
			    (c->bstate == BS_GOING || c->bstate == BS_ENDED) &&
			    body_step(c))
				continue;
			if ((c->st & C_OWNED) || !(c->st & C_DONE))
				break;
			finish_request(c);
			continue;
		}
		if (c->phase == P_DISCARD) {
			body_step(c);
			if (c->bstate == BS_GOING) {
				if (c->st & C_EOF) {
					c->st |= C_CLOSE_CLEAN;
					c->phase = P_CLOSING;
					continue;
				}
				break;
			}
			if (c->bstate == BS_FAILED) {
				c->phase = P_CLOSING;
				continue;
			}
			req_reset(c);
			c->phase = P_HEAD;
			c->head_start = now(srv);
			continue;
		}
		/* P_CLOSING */
		closing_step(c);
		break;
	}
	c->st &= ~C_INPROC;
	if (!(c->st & C_DEAD))
		out_flush(c);
	if (c->st & C_DEAD)
		return; /* kick_cb tells the handler and releases */
	/* reading: keep going while input is consumed or small */
	{
		int want;
		if (c->phase == P_CLOSING)
			want = (c->st & C_SHUT) != 0;
		else if (c->st & C_LENT)
			want = 0;
		else if (c->phase == P_DISCARD ||
			 (c->phase == P_REQ && c->bstate == BS_GOING &&
			  (c->bmode == B_BUFFER || c->bmode == B_STREAM)))
			want = 1;
		else
			want = c->ilen - c->ipos < in_high(c);
		set_reading(c, want);
	}
	conn_retime(c);
}

/* ---- the request API
 * -----------------------------------------------------------
 */

const char *coil_http_sreq_header(const struct coil_http_sreq *req,
				  const char *name, size_t *len)
{
	size_t nl;
	if (!req || !name)
		return NULL;
	nl = strlen(name);
	for (unsigned i = 0; i < req->nheaders; i++) {
		const struct coil_http_header *h = &req->headers[i];
		if (h->name_len != nl)
			continue;
		size_t k = 0;
		for (; k < nl; k++) {
			if (ch_lower(h->name[k]) != ch_lower(name[k]))
				break;
		}
		if (k == nl) {
			if (len)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

static int owned(struct coil_http_sreq *req)
{
	struct conn *c;
	if (!req)
		return 0;
	c = conn_of(req);
	return (c->st & C_OWNED) && !(c->st & C_INTERNAL);
}

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void maybe_continue(struct conn *c)
{
	if (!c->expect || c->sent_continue || c->ipos < c->ilen ||
	    c->body.done || (c->st & C_DEAD))
		return;
	struct iovec v = {(void *)continue_100, sizeof(continue_100) - 1};
	c->sent_continue = 1;
	out_send(c, SK_PLAIN, NULL, &v, 1);
}

static int body_begin(struct coil_http_sreq *req, unsigned mode)
{
	struct conn *c = conn_of(req);
	if (c->bmode != B_NONE)
		return -EALREADY;
	c->bmode = mode;
	/* a dead connection stays BS_GOING: kick_cb reports the failure */
	if (c->body.done && !(c->st & C_DEAD))
		c->bstate = BS_ENDED;
	maybe_continue(c);
	conn_kick(c);
	return 0;
}

int coil_http_sreq_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
			     void *arg)
{
	struct conn *c;
	if (!owned(req) || !cb)
		return -EINVAL;
	c = conn_of(req);
	c->bcb = cb;
	c->barg = arg;
	return body_begin(req, B_BUFFER);
}

int coil_http_sreq_stream_body(struct coil_http_sreq *req,
			       coil_http_chunk_fn cb, void *arg)
{
	struct conn *c;
	if (!owned(req) || !cb)
		return -EINVAL;
	c = conn_of(req);
	c->ccb = cb;
	c->barg = arg;
	return body_begin(req, B_STREAM);
}

int coil_http_sreq_body_next(struct coil_http_sreq *req)
{
	struct conn *c;
	if (!req)
		return -EINVAL;
	c = conn_of(req);
	if (!(c->st & C_LENT))
		return -EINVAL;
	c->st &= ~C_LENT;
	conn_kick(c);
	return 0;
}

int coil_http_sreq_on_cancel(struct coil_http_sreq *req,
			     void (*fn)(struct coil_http_sreq *req, void *arg),
			     void *arg)
{
	struct conn *c;
	if (!req)
		return -EINVAL;
	c = conn_of(req);
	c->cancel_fn = fn;
	c->cancel_arg = arg;
	return 0;
}

/* The handler (or serve_file) let go of the request. */
static void req_complete(struct conn *c)
{
	c->st &= ~(C_OWNED | C_INTERNAL | C_LENT);
	if (c->st & C_DEAD) {
		if (!(c->st & C_INPROC))
			maybe_release(c);
		return;
	}
	if (!(c->st & C_INPROC))
		conn_kick(c);
}

static void maybe_continue(struct conn *c);

/* Connection flags for a response head; decides keep-alive. Called just
 * before a final head is written: a 100 Continue the handler's body
 * reading asked for goes out first. */
static unsigned resp_conn_flags(struct conn *c)
{
	struct coil_http_server *srv = c->srv;

	if (c->bmode == B_BUFFER || c->bmode == B_STREAM)
		maybe_continue(c);
	int close_it = (c->st & (C_CLOSE | C_EOF)) || !c->msg.keep_alive ||
		       (srv->st & S_SHUTDOWN) ||
		       (srv->o.max_requests && c->nreq >= srv->o.max_requests);
	if (!close_it && c->bmode == B_NONE && c->body.kind != 0 &&
	    !c->body.done && !body_discardable(c))
		close_it = 1;
	if (close_it) {
		c->st |= C_CLOSE;
		return COIL_HTTP_CLOSE;
	}
	return c->req.minor_version == 0 ? COIL_HTTP_KEEP_ALIVE : 0;
}

/* Answer 500 instead of a response the writer refused. */
static void respond_500(struct conn *c)
{
	c->st &= ~C_HOLD;
	send_error(c, 500);
	c->st |= C_DONE;
}

static int nobody_status(int status)
{
	return status == 204 || status == 304;
}

static int respond_mem(struct conn *c, int status,
		       const struct coil_http_header *headers, size_t nheaders,
		       const void *body, size_t len)
{
	struct coil_http_response_spec sp = {0};
	int ret;

	if (status < 200 || status > 599 || (nobody_status(status) && len) ||
	    (len && !body) || (nheaders && !headers)) {
		if (!(c->st & C_DEAD))
			respond_500(c);
		req_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN;
	if (c->st & C_DEAD) {
		c->rstatus = status;
		req_complete(c);
		return 0;
	}
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = resp_conn_flags(c);
	if (!nobody_status(status)) {
		sp.body_len = len;
		if (c->req.is_head)
			sp.flags |= COIL_HTTP_HEAD_ONLY;
		else
			sp.body = body;
	}
	ret = out_head(c, &sp);
	if (ret == -EINVAL) {
		respond_500(c);
		req_complete(c);
		return ret;
	}
	if (ret < 0) {
		conn_fail(c, ret);
		req_complete(c);
		return ret;
	}
	c->rstatus = status;
	c->rbytes = (c->req.is_head || nobody_status(status)) ? 0 : len;
	c->st |= C_DONE;
	req_complete(c);
	return 0;
}

int coil_http_respond(struct coil_http_sreq *req, int status,
		      const struct coil_http_header *headers, size_t nheaders,
		      const void *body, size_t len)
{
	struct conn *c;
	if (!owned(req))
		return -EINVAL;
	c = conn_of(req);
	if (c->st & C_BEGUN)
		return -EINVAL;
	return respond_mem(c, status, headers, nheaders, body, len);
}

/* ---- file bodies -----------------------------------------------------------
 */

static struct fbuf *fbuf_get(struct coil_http_server *srv)
{
	struct fbuf *b = srv->fbufs;
	if (b) {
		srv->fbufs = b->next;
		srv->nfbufs--;
		return b;
	}
	return malloc(sizeof(*b));
}

static void fbuf_put(struct coil_http_server *srv, struct fbuf *b)
{
	if (srv->nfbufs < FBUF_CACHE && !(srv->st & S_SHUTDOWN)) {
		b->next = srv->fbufs;
		srv->fbufs = b;
		srv->nfbufs++;
	} else {
		free(b);
	}
}

static void file_close(struct conn *c)
{
	int fd = c->ffd;
	c->ffd = -1;
	if (fd < 0)
		return;
	if (coil_op_busy(&c->cop) || coil_close(c->srv->loop, &c->cop, fd) < 0)
		close(fd);
}

static void cop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, cop);
	if (c->st & C_DEAD)
		maybe_release(c);
}

/* The file body is over (sent, or cut by a failure). */
static void pipe_put(struct conn *c);

static void file_end(struct conn *c)
{
	file_close(c);
	if (c->fb) {
		fbuf_put(c->srv, c->fb);
		c->fb = NULL;
	}
	pipe_put(c);
	c->st &= ~(C_FILE | C_HOLD | C_SPLICE);
	c->fstep = 0;
	c->fwait = 0;
	c->st |= C_DONE;
}

static void file_read(struct conn *c)
{
	size_t n = c->fleft < FCHUNK ? (size_t)c->fleft : FCHUNK;
	int ret;

	c->fop.cb = fop_cb;
	ret = coil_read(c->srv->loop, &c->fop, c->ffd, c->fb->data, n,
			(int64_t)c->foff);
	if (ret < 0) {
		file_end(c);
		conn_fail(c, ret);
	}
}

/* A file piece was sent (or failed): read the next or finish. */
static void file_step(struct conn *c, int status)
{
	if (status < 0 || (c->st & C_DEAD)) {
		file_end(c);
		return;
	}
	if (c->st & C_SPLICE)
		splice_next(c);
	else if (c->fleft)
		file_read(c);
	else
		file_end(c);
}

/* ---- splice: file -> pipe -> socket ---- */

static struct spipe *pipe_get(struct coil_http_server *srv)
{
	struct spipe *p = srv->pipes;
	int fds[2];
	if (p) {
		srv->pipes = p->next;
		srv->npipes--;
		return p;
	}
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(p);
		return NULL;
	}
	p->r = fds[0];
	p->w = fds[1];
	/* 1 MiB where allowed (fs.pipe-max-size), else what the pipe has */
	(void)fcntl(p->w, F_SETPIPE_SZ, PIPE_SIZE);
	int sz = fcntl(p->w, F_GETPIPE_SZ);
	p->cap = sz > 0 ? (size_t)sz : 65536;
	return p;
}

/* Back to the cache if empty, else closed (it holds someone's bytes). */
static void pipe_put(struct conn *c)
{
	struct coil_http_server *srv = c->srv;
	struct spipe *p = c->pipe;
	if (!p)
		return;
	c->pipe = NULL;
	if (c->pbytes == 0 && srv->npipes < PIPE_CACHE &&
	    !(srv->st & S_SHUTDOWN)) {
		p->next = srv->pipes;
		srv->pipes = p;
		srv->npipes++;
	} else {
		close(p->r);
		close(p->w);
		free(p);
	}
	c->pbytes = 0;
}

static void splice_cb(struct coil_op *op, int res, unsigned flags);

static void splice_fail(struct conn *c, int err)
{
	if (err == -ETIMEDOUT)
		c->srv->stats.timeouts++; /* a reader that stalled */
	file_end(c);
	conn_fail(c, err);
	maybe_release(c);
}

/*
 * The next step: fill the pipe from the file; or, once every stream write
 * before it has been sent (the head), empty it into the socket. When the
 * socket is full (-EAGAIN: it is O_NONBLOCK, so no io-wq worker waits on
 * a slow client) a poll for POLLOUT, under the write time limit, comes
 * first.
 */
static void splice_next(struct conn *c)
{
	struct coil_loop *loop = c->srv->loop;
	int ret;

	if (c->st & C_DEAD) {
		file_end(c);
		return;
	}
	c->fop.cb = splice_cb;
	if (c->pbytes == 0) {
		size_t n;
		if (c->fleft == 0) {
			file_end(c);
			return;
		}
		n = c->fleft < c->pipe->cap ? (size_t)c->fleft : c->pipe->cap;
		c->fstep = FS_IN;
		ret = coil_splice(loop, &c->fop, c->ffd, (int64_t)c->foff,
				  c->pipe->w, -1, n, SPLICE_F_MOVE);
	} else if (c->slot_busy || c->heap_slots) {
		c->fwait = 1; /* slot_cb calls again */
		return;
	} else {
		c->fstep = FS_OUT;
		ret = coil_splice(loop, &c->fop, c->pipe->r, -1,
				  coil_stream_fd(c->s), -1, c->pbytes,
				  SPLICE_F_MOVE |
					  (c->fleft ? SPLICE_F_MORE : 0));
	}
	if (ret < 0)
		splice_fail(c, ret);
}

static void splice_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, fop);
	unsigned step = c->fstep;

	c->fop.cb = fop_cb;
	c->fstep = 0;
	if (c->st & C_DEAD) {
		if (step == FS_IN && res > 0)
			c->pbytes += (size_t)res; /* the pipe is not empty */
		file_end(c);
		maybe_release(c);
		return;
	}
	switch (step) {
	case FS_IN:
		if (res <= 0) {
			/* the file shrank under the announced length */
			splice_fail(c, res ? res : COIL_ETRUNC);
			return;
		}
		c->pbytes += (size_t)res;
		c->foff += (uint64_t)res;
		c->fleft -= (uint64_t)res;
		break;
	case FS_OUT:
		if (res == -EAGAIN) {
			/* the socket is full: wait for room, but not forever */
			c->fstep = FS_POLL;
			c->fop.cb = splice_cb;
			coil_op_timeout(&c->fop, c->srv->o.write_timeout_ns);
			res = coil_poll(c->srv->loop, &c->fop,
					coil_stream_fd(c->s), POLLOUT);
			if (res < 0)
				splice_fail(c, res);
			return;
		}
		if (res <= 0) {
			splice_fail(c, res ? res : -EPIPE);
			return;
		}
		c->pbytes -= (size_t)res;
		c->rbytes += (uint64_t)res;
		conn_progress(c, TL_WRITE);
		break;
	case FS_POLL:
		if (res < 0) {
			splice_fail(c, res); /* -ETIMEDOUT: a stalled reader */
			return;
		}
		break;
	}
	splice_next(c);
	if (c->st & C_DONE) {
		conn_retime(c);
		conn_process(c);
	}
}

/* Splice this body? Plain TCP only (TLS needs the bytes), large ones. */
static int splice_start(struct conn *c)
{
	int fd, fl;

	if (c->s != &c->tcp.s || c->fleft < SPLICE_MIN)
		return 0;
	fd = coil_stream_fd(c->s);
	if (!(c->st & C_NONBLOCK)) {
		/* io_uring's own recv and send poll either way */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return 0;
		c->st |= C_NONBLOCK;
	}
	c->pipe = pipe_get(c->srv);
	if (!c->pipe)
		return 0;
	c->pbytes = 0;
	c->st |= C_SPLICE;
	splice_next(c);
	return 1;
}

static void fop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, fop);

	if (c->st & C_DEAD) {
		file_end(c);
		maybe_release(c);
		return;
	}
	if (res == -EAGAIN) {
		/* an O_NONBLOCK file on a file system without async reads */
		int fl = fcntl(c->ffd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK) &&
		    fcntl(c->ffd, F_SETFL, fl & ~O_NONBLOCK) == 0) {
			file_read(c);
			return;
		}
	}
	if (res <= 0) {
		/* the head announced more: the connection cannot go on */
		file_end(c);
		conn_fail(c, res ? res : COIL_ETRUNC);
		maybe_release(c);
		return;
	}
	c->st &= ~C_HOLD;
	c->foff += (uint64_t)res;
	c->fleft -= (uint64_t)res;
	c->rbytes += (uint64_t)res;
	{
		struct iovec v = {c->fb->data, (size_t)res};
		out_send(c, SK_FILE, NULL, &v, 1);
	}
	if (c->st & C_DEAD) {
		file_end(c);
		maybe_release(c);
	}
}

static int respond_file(struct conn *c, int status,
			const struct coil_http_header *headers, size_t nheaders,
			int fd, uint64_t off, uint64_t len)
{
	struct coil_http_response_spec sp = {0};
	int ret;

	c->ffd = fd;
	if (status < 200 || status > 599 || nobody_status(status) ||
	    (nheaders && !headers)) {
		file_close(c);
		if (!(c->st & C_DEAD))
			respond_500(c);
		req_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN;
	c->rstatus = status;
	if (c->st & C_DEAD) {
		file_close(c);
		req_complete(c);
		return 0;
	}
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = resp_conn_flags(c) | COIL_HTTP_HEAD_ONLY;
	sp.body_len = len;
	ret = out_head(c, &sp);
	if (ret < 0) {
		file_close(c);
		if (ret == -EINVAL)
			respond_500(c);
		else
			conn_fail(c, ret);
		req_complete(c);
		return ret;
	}
	if (c->req.is_head || len == 0) {
		file_close(c);
		c->st |= C_DONE;
		req_complete(c);
		return 0;
	}
	c->foff = off;
	c->fleft = len;
	c->st |= C_FILE;
	if (splice_start(c)) {
		req_complete(c);
		return 0;
	}
	c->fb = fbuf_get(c->srv);
	if (!c->fb) {
		file_close(c);
		c->st &= ~C_FILE;
		conn_fail(c, -ENOMEM);
		req_complete(c);
		return -ENOMEM;
	}
	c->st |= C_HOLD;
	file_read(c);
	req_complete(c);
	return 0;
}

int coil_http_respond_file(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, int fd, uint64_t off, uint64_t len)
{
	struct conn *c;
	if (!owned(req)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	c = conn_of(req);
	if (c->st & C_BEGUN) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (fd < 0) {
		respond_500(c);
		req_complete(c);
		return -EBADF;
	}
	return respond_file(c, status, headers, nheaders, fd, off, len);
}

/* ---- static files -----------------------------------------------------------
 */

/* serve_file's answer without a file. */
static void serve_status(struct conn *c, int status)
{
	char body[64];
	struct coil_http_header h = {"Content-Type", 12,
				     "text/plain; charset=utf-8", 25};
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 coil_http_reason(status));
	c->st &= ~C_INTERNAL;
	respond_mem(c, status, &h, 1, body, (size_t)n);
}

static void statx_cb(struct coil_op *op, int res, unsigned flags);

static void open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, fop);
	int ret;

	if (res >= 0)
		c->ffd = res;
	if (c->st & C_DEAD) {
		file_close(c);
		c->st &= ~C_INTERNAL;
		req_complete(c);
		maybe_release(c);
		return;
	}
	if (res < 0) {
		int st;
		switch (res) {
		case -ENOENT:
		case -ENOTDIR:
			st = 404;
			break;
		case -EACCES:
		case -EPERM:
		case -EXDEV:
		case -ELOOP:
			st = 403;
			break;
		case -ENAMETOOLONG:
			st = 414;
			break;
		default:
			st = 500;
		}
		serve_status(c, st);
		return;
	}
	c->fop.cb = statx_cb;
	ret = coil_statx(c->srv->loop, &c->fop, c->ffd, "", AT_EMPTY_PATH,
			 STATX_TYPE | STATX_SIZE, &c->aux->stx);
	if (ret < 0) {
		file_close(c);
		serve_status(c, 500);
	}
}

static void statx_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, fop);
	struct aux *a = c->aux;
	struct coil_http_header h;
	const char *ct, *name;
	int fd;

	c->fop.cb = fop_cb;
	if (c->st & C_DEAD) {
		file_close(c);
		c->st &= ~C_INTERNAL;
		req_complete(c);
		maybe_release(c);
		return;
	}
	if (res < 0) {
		file_close(c);
		serve_status(c, 500);
		return;
	}
	if (!S_ISREG(a->stx.stx_mode)) {
		file_close(c);
		serve_status(c, 403);
		return;
	}
	name = a->path;
	ct = coil_http_content_type(name, strlen(name));
	h.name = "Content-Type";
	h.name_len = 12;
	h.value = ct;
	h.value_len = strlen(ct);
	fd = c->ffd;
	c->ffd = -1;
	c->st &= ~C_INTERNAL;
	respond_file(c, 200, &h, 1, fd, 0, a->stx.stx_size);
}

int coil_http_serve_file(struct coil_http_sreq *req, int root_fd)
{
	struct conn *c;
	struct aux *a;
	int n, ret;

	if (!owned(req))
		return -EINVAL;
	c = conn_of(req);
	if (c->st & C_BEGUN)
		return -EINVAL;
	if (!c->aux) {
		c->aux = malloc(sizeof(*c->aux));
		if (!c->aux) {
			serve_status(c, 500);
			return -ENOMEM;
		}
	}
	a = c->aux;
	n = coil_http_path_decode(req->path, req->path_len, a->path,
				  sizeof(a->path) - 16);
	if (n < 0) {
		serve_status(c, n == -ENAMETOOLONG ? 414 : 400);
		return 0;
	}
	if (n == 0 || a->path[n - 1] == '/')
		memcpy(a->path + n, "index.html", 11);
	memset(&a->how, 0, sizeof(a->how));
	/* O_NONBLOCK: opening a FIFO must not block an io-wq worker */
	a->how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	a->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	c->st |= C_INTERNAL | C_BEGUN;
	c->fop.cb = open_cb;
	ret = coil_openat2(c->srv->loop, &c->fop, root_fd, a->path, &a->how);
	if (ret < 0) {
		c->fop.cb = fop_cb;
		c->st &= ~C_BEGUN;
		serve_status(c, 500);
		return 0;
	}
	return 0;
}

/* ---- streamed responses -----------------------------------------------------
 */

/*
 * HTTP/1.0 and an unknown length: the body is delimited by the close
 * (RFC 9112 §6.3 rule 8), so the head must carry no Content-Length, which
 * coil_http_response_write() always writes, last, for a response with
 * content. Write it with an empty body and drop that field (a rare path:
 * the head goes out from a heap copy).
 */
static int out_head_close_delimited(struct conn *c,
				    struct coil_http_response_spec *sp)
{
	static const char cl0[] = "Content-Length: 0\r\n\r\n";
	const size_t l = sizeof(cl0) - 1;
	size_t est = 512 + (sp->reason ? strlen(sp->reason) : 0);
	struct iovec v;
	char *h;
	int r;

	for (size_t i = 0; i < sp->nheaders; i++)
		est += sp->headers[i].name_len + sp->headers[i].value_len + 4;
	sp->flags |= COIL_HTTP_HEAD_ONLY;
	sp->body_len = 0;
	h = malloc(est);
	if (!h)
		return -ENOMEM;
	r = coil_http_response_write(h, est, sp);
	if (r < 0 || (size_t)r < l || memcmp(h + r - l, cl0, l) != 0) {
		free(h);
		return r < 0 && r != -ENOSPC ? r : -EINVAL;
	}
	memcpy(h + r - l, "\r\n", 2);
	v.iov_base = h;
	v.iov_len = (size_t)r - l + 2;
	return out_send(c, SK_HEAP, h, &v, 1) < 0 && !(c->st & C_DEAD) ? -ENOMEM
								       : 0;
}

int coil_http_respond_begin(struct coil_http_sreq *req, int status,
			    const struct coil_http_header *headers,
			    size_t nheaders, uint64_t content_length)
{
	struct coil_http_response_spec sp = {0};
	struct conn *c;
	int ret;

	if (!owned(req))
		return -EINVAL;
	c = conn_of(req);
	if (c->st & C_BEGUN)
		return -EALREADY;
	if (status < 200 || status > 599 || (nheaders && !headers) ||
	    (nobody_status(status) && content_length &&
	     content_length != COIL_HTTP_LENGTH_UNKNOWN)) {
		if (!(c->st & C_DEAD))
			respond_500(c);
		req_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN | C_STREAM;
	c->rstatus = status;
	if (c->req.is_head || nobody_status(status))
		c->st |= C_NOBODY;
	if (c->st & C_DEAD)
		return 0;
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = resp_conn_flags(c);
	if (!nobody_status(status)) {
		if (content_length == COIL_HTTP_LENGTH_UNKNOWN) {
			if (c->req.minor_version >= 1) {
				sp.flags |= COIL_HTTP_CHUNKED;
				c->st |= C_CHUNKED;
			} else {
				/* close-delimited (RFC 9112 §6.3 rule 8):
				 * the writer would add a Content-Length,
				 * so announce none by hand below */
				sp.flags &= ~COIL_HTTP_KEEP_ALIVE;
				sp.flags |= COIL_HTTP_CLOSE;
				c->st |= C_CLOSE;
			}
		} else {
			sp.flags |= COIL_HTTP_HEAD_ONLY;
			sp.body_len = content_length;
			c->rleft = content_length;
		}
	}
	if (content_length == COIL_HTTP_LENGTH_UNKNOWN &&
	    c->req.minor_version == 0 && !nobody_status(status)) {
		ret = out_head_close_delimited(c, &sp);
		c->rleft = UINT64_MAX;
	} else {
		ret = out_head(c, &sp);
	}
	if (ret < 0) {
		c->st &= ~(C_STREAM | C_BEGUN);
		if (ret == -EINVAL)
			respond_500(c);
		else
			conn_fail(c, ret);
		req_complete(c);
		return ret;
	}
	if (!(c->st & C_INPROC))
		conn_kick(c); /* flush the head */
	return 0;
}

static void wop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct conn *c = coil_container_of(op, struct conn, wop);
	user_sent(c, res);
	if (c->st & C_DEAD)
		maybe_release(c);
}

static void user_sent(struct conn *c, int status)
{
	coil_http_sent_fn cb = c->wcb;
	void *arg = c->warg;

	if (!(c->st & C_WBUSY))
		return;
	c->st &= ~C_WBUSY;
	c->wcb = NULL;
	if (cb && (c->st & C_OWNED))
		cb(&c->req, status, arg);
}

int coil_http_respond_write(struct coil_http_sreq *req, const void *data,
			    size_t len, coil_http_sent_fn cb, void *arg)
{
	struct conn *c;
	struct iovec v[3];
	void *heap = NULL;
	unsigned n = 0;
	int ret;

	if (!owned(req))
		return -EINVAL;
	c = conn_of(req);
	if (!(c->st & C_STREAM) || (!data && len))
		return -EINVAL;
	if (c->st & C_WBUSY)
		return -EBUSY;
	if (!(c->st & C_CHUNKED) && len > c->rleft)
		return -EINVAL;
	if (c->st & C_DEAD)
		return -EPIPE;
	c->wcb = cb;
	c->warg = arg;
	c->st |= C_WBUSY;
	if ((c->st & C_NOBODY) || len == 0) {
		if (!(c->st & C_CHUNKED) && !(c->st & C_NOBODY))
			c->rleft -= len;
		coil_loop_post(c->srv->loop, &c->wop, 0);
		return 0;
	}
	if (c->st & C_CHUNKED) {
		/* size line into the output buffer (sent first, with what
		 * precedes), the data borrowed, the CRLF from static memory */
		char pre[24];
		int k = coil_http_chunk_head(pre, sizeof(pre), len);
		if (OBUF_SIZE - c->olen < (size_t)k)
			obuf_compact(c);
		if (OBUF_SIZE - c->olen >= (size_t)k) {
			memcpy(c->obuf + c->olen, pre, (size_t)k);
			c->olen += (size_t)k;
		} else {
			char *h = malloc((size_t)k);
			if (!h) {
				c->st &= ~C_WBUSY;
				conn_fail(c, -ENOMEM);
				return -ENOMEM;
			}
			memcpy(h, pre, (size_t)k);
			heap = h;
			v[n].iov_base = h;
			v[n++].iov_len = (size_t)k;
		}
		v[n].iov_base = (void *)data;
		v[n++].iov_len = len;
		v[n].iov_base = (void *)"\r\n";
		v[n++].iov_len = 2;
	} else {
		if (c->rleft != UINT64_MAX)
			c->rleft -= len;
		v[n].iov_base = (void *)data;
		v[n++].iov_len = len;
	}
	c->rbytes += len;
	ret = out_send(c, SK_USER, heap, v, n);
	if (ret < 0) {
		c->st &= ~C_WBUSY;
		return ret;
	}
	return 0;
}

int coil_http_respond_end(struct coil_http_sreq *req)
{
	struct conn *c;

	if (!owned(req))
		return -EINVAL;
	c = conn_of(req);
	if (!(c->st & C_STREAM))
		return -EINVAL;
	if (!(c->st & C_DEAD) && !(c->st & C_NOBODY)) {
		if (c->st & C_CHUNKED) {
			static const char end[] = "0\r\n\r\n";
			if (OBUF_SIZE - c->olen < sizeof(end))
				obuf_compact(c);
			if (OBUF_SIZE - c->olen >= sizeof(end)) {
				memcpy(c->obuf + c->olen, end, sizeof(end) - 1);
				c->olen += sizeof(end) - 1;
			} else {
				struct iovec v = {(void *)end, sizeof(end) - 1};
				out_send(c, SK_PLAIN, NULL, &v, 1);
			}
		} else if (c->rleft == UINT64_MAX) {
			c->st |= C_CLOSE; /* close-delimited */
		} else if (c->rleft) {
			c->st |= C_SHORT | C_CLOSE;
		}
	}
	c->st |= C_DONE;
	c->st &= ~C_WBUSY;
	c->wcb = NULL;
	req_complete(c);
	return 0;
}

int coil_http_sreq_abort(struct coil_http_sreq *req)
{
	struct conn *c;
	if (!req)
		return -EINVAL;
	c = conn_of(req);
	if (!(c->st & C_OWNED) || (c->st & C_INTERNAL))
		return -EINVAL;
	c->st |= C_DONE | C_CLOSE;
	c->st &= ~C_WBUSY;
	c->wcb = NULL;
	if (!(c->st & C_DEAD)) {
		c->st |= C_CLOSE_CLEAN;
		conn_fail(c, 0);
	}
	req_complete(c);
	return 0;
}

/* ---- the server
 * ----------------------------------------------------------------
 */

static void lis_closed_cb(struct coil_listener *l)
{
	struct coil_http_server *srv =
		coil_container_of(l, struct coil_http_server, lis);
	srv->st |= S_LIS_CLOSED;
	shutdown_check(srv);
}

static void dtmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_http_server *srv =
		coil_container_of(op, struct coil_http_server, dtmr);
	if (res == 0 && srv->all) {
		/* drain time is up: cut what is left */
		srv->st |= S_CUT;
		for (struct conn *c = srv->all, *next; c; c = next) {
			next = c->all_next;
			if (!(c->st & C_DEAD)) {
				c->st |= C_CLOSE_CLEAN;
				conn_fail(c, -ECANCELED);
			}
		}
	}
	shutdown_check(srv);
}

static void shutdown_check(struct coil_http_server *srv)
{
	if (!(srv->st & S_SHUTDOWN) || (srv->st & S_DONE) || srv->all ||
	    !(srv->st & S_LIS_CLOSED))
		return;
	if (coil_op_busy(&srv->dtmr)) {
		coil_timeout_remove(srv->loop, &srv->dtmr);
		return;
	}
	if (coil_op_busy(&srv->tmr)) {
		if (!(srv->st & S_SHUTDOWN_T) &&
		    coil_timeout_remove(srv->loop, &srv->tmr) == 0)
			srv->st |= S_SHUTDOWN_T;
		return;
	}
	srv->st |= S_DONE;
	if (srv->done)
		coil_loop_post(srv->loop, srv->done, (srv->st & S_CUT) ? 1 : 0);
}

int coil_http_server_shutdown(struct coil_http_server *srv, uint64_t drain_ns,
			      struct coil_op *done)
{
	if (!srv)
		return -EINVAL;
	if (srv->st & S_SHUTDOWN)
		return -EALREADY;
	srv->st |= S_SHUTDOWN;
	srv->done = done;
	if (coil_listener_close(&srv->lis, lis_closed_cb) < 0)
		srv->st |= S_LIS_CLOSED;
	/* idle connections go now; the others after their response */
	for (struct conn *c = srv->all, *next; c; c = next) {
		next = c->all_next;
		if (c->st & C_DEAD)
			continue;
		if (c->phase == P_HEAD && c->ipos == c->ilen && !c->slot_busy &&
		    !c->heap_slots) {
			c->st |= C_CLOSE_CLEAN;
			conn_fail(c, 0);
		} else {
			conn_kick(c);
		}
	}
	if (srv->all) {
		if (drain_ns > MAX_TIMEOUT_NS)
			drain_ns = MAX_TIMEOUT_NS;
		coil_timeout(srv->loop, &srv->dtmr, drain_ns, 0);
	}
	shutdown_check(srv);
	return 0;
}

static uint64_t dflt(uint64_t v, uint64_t d)
{
	return v ? v : d;
}

int coil_http_server_new(struct coil_http_server **out, struct coil_loop *loop,
			 const struct coil_http_server_opts *opts)
{
	struct coil_http_server *srv;
	struct coil_listener_opts lo = {0};
	struct coil_http_server_opts o;
	int ret;

	if (!out || !loop || !opts || !opts->handler || !opts->addr)
		return -EINVAL;
	o = *opts;
	o.max_head_bytes = dflt(o.max_head_bytes, 8192);
	o.max_headers = (unsigned)dflt(o.max_headers, 64);
	o.max_body_bytes = dflt(o.max_body_bytes, 1u << 20);
	o.max_conns = (unsigned)dflt(o.max_conns, 16384);
	o.header_timeout_ns = dflt(o.header_timeout_ns, 10000000000ull);
	o.idle_timeout_ns = dflt(o.idle_timeout_ns, 60000000000ull);
	o.body_timeout_ns = dflt(o.body_timeout_ns, 30000000000ull);
	o.write_timeout_ns = dflt(o.write_timeout_ns, 30000000000ull);
	o.linger_ns = dflt(o.linger_ns, 2000000000ull);
	if (o.max_head_bytes < 64 || o.max_head_bytes > (1u << 20) ||
	    o.max_headers > 1024 || o.header_timeout_ns > MAX_TIMEOUT_NS ||
	    o.idle_timeout_ns > MAX_TIMEOUT_NS ||
	    o.body_timeout_ns > MAX_TIMEOUT_NS ||
	    o.write_timeout_ns > MAX_TIMEOUT_NS ||
	    o.linger_ns > MAX_TIMEOUT_NS || o.backlog < 0)
		return -EINVAL;
	if (o.tls && !HAVE_TLS)
		return -ENOTSUP;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->o = o;
	srv->o.addr = NULL;
	srv->conn_bytes =
		sizeof(struct conn) + ((o.max_head_bytes + 15) & ~(size_t)15) +
		o.max_headers * sizeof(struct coil_http_header) + OBUF_SIZE;
#if HAVE_TLS
	if (o.tls)
		srv->conn_bytes += sizeof(struct coil_tls);
#endif
	srv->tl[TL_HEADER].dur = o.header_timeout_ns;
	srv->tl[TL_WRITE].dur = o.write_timeout_ns;
	srv->tl[TL_BODY].dur = o.body_timeout_ns;
	srv->tl[TL_IDLE].dur = o.idle_timeout_ns;
	srv->tl[TL_LINGER].dur = o.linger_ns;
	srv->tick_ns = UINT64_MAX;
	for (unsigned k = 1; k < TL_N; k++) {
		if (srv->tl[k].dur / 4 < srv->tick_ns)
			srv->tick_ns = srv->tl[k].dur / 4;
	}
	if (srv->tick_ns < 10000000)
		srv->tick_ns = 10000000;
	if (srv->tick_ns > 1000000000)
		srv->tick_ns = 1000000000;
	coil_op_init(&srv->tmr, tmr_cb);
	coil_op_init(&srv->dtmr, dtmr_cb);
	/* accepted sockets inherit TCP_NODELAY from the listener (set by
	 * coil_listener_open()): skip a setsockopt per connection */
	srv->topts.flags = COIL_TCP_NO_NODELAY;
	lo.backlog = o.backlog;
	if (o.flags & COIL_HTTP_SERVER_REUSEPORT)
		lo.flags |= COIL_LISTEN_REUSEPORT;
	if (o.flags & COIL_HTTP_SERVER_V6ONLY)
		lo.flags |= COIL_LISTEN_V6ONLY;
	ret = coil_listener_open(loop, &srv->lis, opts->addr, opts->addr_len,
				 &lo, srv_listener_cb);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

int coil_http_server_addr(const struct coil_http_server *srv,
			  struct sockaddr_storage *ss, socklen_t *len)
{
	if (!srv || (srv->st & S_LIS_CLOSED))
		return -EINVAL;
	return coil_listener_addr(&srv->lis, ss, len);
}

void coil_http_server_free(struct coil_http_server *srv)
{
	if (!srv)
		return;
	while (srv->free) {
		struct conn *c = srv->free;
		srv->free = c->all_next;
		conn_free_mem(c);
	}
	while (srv->fbufs) {
		struct fbuf *b = srv->fbufs;
		srv->fbufs = b->next;
		free(b);
	}
	while (srv->pipes) {
		struct spipe *p = srv->pipes;
		srv->pipes = p->next;
		close(p->r);
		close(p->w);
		free(p);
	}
	free(srv);
}

void coil_http_server_stats(const struct coil_http_server *srv,
			    struct coil_http_server_stats *st)
{
	if (srv && st)
		*st = srv->stats;
}

struct coil_loop *coil_http_server_loop(const struct coil_http_server *srv)
{
	return srv ? srv->loop : NULL;
}

void coil_http_server_set_data(struct coil_http_server *srv, void *data)
{
	if (srv)
		srv->data = data;
}

void *coil_http_server_data(const struct coil_http_server *srv)
{
	return srv ? srv->data : NULL;
}
