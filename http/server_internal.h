/*
 * http/server_internal.h - what the files of the HTTP/1.1 server share:
 * the server, its connections (struct sconn) and their flag words, the
 * time-limit lists and the output slots. Private to http/; the public side
 * is include/coil/http_server.h.
 *
 * Files, by the seams of one connection's life (docs/ARCHITECTURE.md,
 * "The server's phases"), each calling only the ones below it:
 *   server.c          the server object, connections (set-up, input,
 *                     release) and the phase machine (the pump,
 *                     coil__sconn_process(), and its kick, where every
 *                     completion below lands);
 *   server_file.c     file bodies (read + send, or sendfile) and
 *                     coil_http_serve_root(): open, statx, the answer
 *                     (calls server_dir.c and server_static.c);
 *   server_filecache.c its open-file cache (filecache.h; calls nothing
 *                     of http/);
 *   server_body.c     the request: head fields, cancel hook, bodies
 *                     (buffered, streamed, discarded);
 *   server_respond.c  the output buffer and its writes, answers from
 *                     memory, streamed responses;
 *   server_conn.c     what any of them may do to a connection: end it,
 *                     report its request, let go of a request;
 *   server_time.c     time limits: sorted lists under one ticking timer;
 *   server_mem.c      connection structs, exchanges and input buffers
 *                     from capped free lists, the trim after a burst;
 *   server_h2.c       HTTP/2 connections once handed over (P_H2), called
 *                     by server.c (hand-over, GOAWAY) and server_conn.c
 *                     (the cut); server_h2_stream.c, below it, the HTTP/2
 *                     half of the request API, called by the API's files
 *                     (one test, sreq_h2(), at each entry). Neither calls
 *                     the files above; a connection goes back to server.c
 *                     through the function pointer it passed.
 *   server_static.c   serve_root's decisions without I/O (validators,
 *                     304/412, ranges, escaping);
 *   server_dir.c      serve_root's directory listings.
 * The runner for N loops on N threads is http/server_threads.c.
 *
 * A completion below the pump (a write's slot_cb, a file op's callback,
 * the stream's close callback) updates its own state and the flag word
 * (C_FSENT, C_DEAD, C_CLOSED ...) and kicks the connection (puts it on
 * the server's kick list, served by one posted op); the pump reads that
 * state and decides (tests/http/test_layers.c checks
 * that no call goes up).
 */
#ifndef COIL_HTTP_SERVER_INTERNAL_H
#define COIL_HTTP_SERVER_INTERNAL_H

#include <errno.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "coil/http.h"
#include "coil/stream.h"
#include "coil/tls.h"

#define OBUF_SIZE 8192	   /* per-connection output buffer */
#define HDRS_INLINE 64	   /* header fields an exchange holds itself */
#define HBUF_INLINE 2048   /* head bytes an exchange holds itself */
#define OBUF_RESERVE 512   /* room a new request needs to be started */
#define IBUF_INIT 4096	   /* initial input buffer */
#define FCHUNK (64 * 1024) /* file piece */
/* File bodies of at least this much go by coil_sendfile() on plain TCP
 * (sendfile(2) from the loop: no copy through user space, no io-wq);
 * smaller ones are read into a buffer and leave in one send with their
 * head (docs/BENCHMARKS.md, section serve). opts.sendfile_min_bytes. */
#define SENDFILE_MIN (16 * 1024)
#define FBUF_CACHE 32 /* file buffers kept per server */
/* The open-file cache's defaults (opts.file_cache_*): entries, the memory
 * for small files' contents, and the most entries one may ask for. */
#define FCACHE_FILES 1024
#define FCACHE_MEM_BYTES (16u << 20)
#define FCACHE_FILES_MAX (1u << 20)
#define NSLOT 4		  /* inline write slots per connection */
#define DISCARD_MAX 65536 /* unread body bytes read and dropped */
/* Free lists: what is kept for reuse, so that serving allocates nothing
 * once warm. After a burst (the open connections fell to a quarter of
 * their peak, a peak of at least TRIM_PEAK) each list is cut to FREE_KEEP
 * and malloc_trim(3) gives the freed pages back to the system. */
#define FREE_CONNS_MAX 1024 /* idle connection structs */
#define FREE_X_MAX 256	    /* exchanges (struct sexch and its buffers) */
#define FREE_IBUF_MAX 256   /* input buffers of IBUF_INIT */
#define FREE_KEEP 16
#define TRIM_PEAK 256
/* Under load (requests every tick, so no quiet trim): once the heap's
 * free space grew by this much since its low after the last trim,
 * malloc_trim(3) gives its pages back (what a burst of first requests
 * freed beyond the lists' caps would stay in the RSS while the load
 * lasts; server_mem.c, coil__mem_tick()). */
#define LOAD_TRIM_BYTES (1u << 20)
#define MAX_TIMEOUT_NS (86400ull * 1000000000ull)
/* Answers sent from blocks of their own (server_respond.c,
 * coil__out_detach()), so that the exchange goes back to the free list
 * when the response is queued, not when its send completed: carved from
 * chunks of ACHUNK_BYTES (4 KiB with malloc's header), at most ANS_MAX
 * bytes an answer; FREE_ACHUNK_MAX chunks kept. */
#define ACHUNK_BYTES 4080
#define ANS_MAX 2048
#define FREE_ACHUNK_MAX 64

/* Time-limit lists. */
enum { TL_NONE, TL_HEADER, TL_WRITE, TL_BODY, TL_IDLE, TL_LINGER, TL_N };

/* Phases of a connection. */
enum {
	P_HEAD,	   /* waiting for / reading a request head */
	P_REQ,	   /* a request is being handled or answered */
	P_DISCARD, /* dropping the unread body of a finished request */
	P_CLOSING, /* last output, then FIN and lingering, then close */
	P_H2,	   /* handed over to http/server_h2.c (c->h2) */
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
#define C_BORROWED (1u << 24)	 /* c->in is the stream's read buffer */
#define C_FSENT (1u << 25)	 /* a file piece was sent: read the next */
#define C_ANS (1u << 26)	 /* a detached answer is being sent */
#define C_KICKED (1u << 27)	 /* on the server's kick list */

/* body modes */
enum { B_NONE, B_BUFFER, B_STREAM, B_DISCARD };
/* body states */
enum { BS_GOING, BS_ENDED, BS_FAILED, BS_REPORTED };

/* slot kinds */
enum { SK_PLAIN, SK_HEAP, SK_FILE, SK_USER, SK_MORE };

struct sconn;
struct fc_entry;
struct fcache;

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

/* A chunk that answers are carved from, in order (server_mem.c): it goes
 * back when the last of them was sent. */
struct achunk {
	struct achunk *next; /* the server's free list */
	unsigned refs;	     /* answers carved from it and not yet sent */
	unsigned used;	     /* bytes of data[] carved */
	char data[];
};

/* One answer whose bytes left the exchange (at most one a connection:
 * C_ANS). w.data is the connection. */
struct answer {
	struct coil_stream_write w;
	struct achunk *ch;
	char data[];
};

/* serve_file's scratch: kept with the connection once used. */
struct aux {
	struct open_how how;
	int root_fd;
	struct statx stx;
	struct coil_http_serve_opts o; /* coil_http_serve_root()'s */
	unsigned plen;	/* the decoded path's length, without index.html */
	unsigned slash; /* the path ended in '/': index.html appended */
	char path[4096 + 16];
};

/*
 * One request and its response on a connection: everything that exists
 * only while a request is being received, handled or answered (the head,
 * the body, the output buffer and its writes, a file body). Taken from
 * the server's free list when a request's first bytes arrive, given back
 * when the connection is idle again (server.c, conn_rest()), so an idle
 * keep-alive connection holds only its struct sconn. The header array,
 * the head buffer (HBUF_INLINE) and the output buffer follow it in the
 * same allocation, in that order: a small exchange touches two pages.
 */
struct sexch {
	struct sconn *c;
	struct sexch *next_free;
	struct coil_http_sreq req;
	/* head: copied into hbuf (HBUF_INLINE bytes in the exchange), or a
	 * longer one into xhbuf (max_head_bytes, kept until the exchange
	 * goes back to the list) */
	char *hbuf;
	char *xhbuf;
	struct coil_http_msg msg;
	struct coil_http_header *hdrs;
	/* a head with more fields than hdrs holds: max_headers of them, kept
	 * until the exchange goes back to the free list */
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
	struct aux *aux;	  /* kept with the exchange once used */
	struct fc_entry *fent;	  /* ffd is this cache entry's (filecache.h) */
	struct coil_stream_write wshut;
	void (*cancel_fn)(struct coil_http_sreq *req, void *arg);
	void *cancel_arg;
};

/* Input not consumed yet: [pos, len) of base. */
struct sinput {
	const char *base;
	size_t len, pos;
};

/* An input buffer: this header, then cap - sizeof(struct ibuf) bytes
 * (cap is the whole block's; IBUF_INIT from the server's list). */
struct ibuf {
	struct sinput v; /* v.base is data */
	size_t cap;
	char data[];
};

/*
 * A connection: what it holds for its whole life, idle or not. The
 * input: c->in is NULL while the connection holds none; else it points at
 * the view of the bytes not consumed yet: the header of its input buffer
 * (struct ibuf), or, while the read callback parses a head straight from
 * the stream's buffer, a view on that callback's stack (C_BORROWED), and
 * what is left of it then is copied into an ibuf before the callback
 * returns. The ibuf comes from the server's free list and goes back when
 * the input is consumed between requests: an idle connection holds the
 * one pointer.
 */
struct sconn {
	struct coil_tcp tcp;
	struct coil_stream *s; /* &tcp.s, or the TLS stream over it */
	struct coil_http_server *srv;
	struct sexch *x; /* the request in progress; NULL while idle */
	struct sconn *all_prev, *all_next; /* the server's live connections */
	struct sconn *t_prev, *t_next;	   /* a time-limit list */
	uint64_t deadline;
	unsigned st;
	unsigned nreq; /* requests started on this connection */
	/* when the current head began (its time limit's start): coil_now()
	 * in units of 2^HS_SHIFT ns, 32 bits (sconn_head_start()) */
	uint32_t head_start;
	unsigned char tlist; /* TL_* */
	unsigned char phase; /* P_* */
	struct sinput *in;   /* input held, or NULL */
	/* the server's kick list (C_KICKED): the connections whose pump runs
	 * next turn, in the order they were kicked */
	struct sconn *k_next;
	struct h2conn *h2; /* HTTP/2: the connection once handed over (P_H2) */
	/* the client's IPv4 address, read once (coil_http_sreq_peer()):
	 * 1 << 63 | port << 32 | address, both in network order; 0 until
	 * read, and for an IPv6 client (asked each time: 28 bytes in every
	 * connection would cost more than its getpeername(2)) */
	uint64_t peer4;
	/* with TLS, struct coil_tls follows in the same allocation */
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
	struct sconn *free; /* idle structs, linked by all_next */
	/* the kick list (linked by k_next) and the one op that serves it */
	struct sconn *kq_head, *kq_tail;
	struct coil_op kick;
	unsigned nfree;
	struct sexch *xfree;
	unsigned nxfree;
	/* input buffers of IBUF_INIT bytes, each holding the next one's
	 * address */
	struct ibuf *ifree;
	unsigned nifree;
	unsigned peak; /* the most connections open since the last trim */
	int trim_last; /* trim again when the last connection closed */
	uint64_t tick_req, trim_req; /* stats.requests at the last tick, trim */
	size_t heap_free_low; /* the heap's free bytes: the low since a trim */
	size_t conn_bytes, x_bytes;
	unsigned hdrs_inline; /* fields in an exchange's own array */
	size_t hbuf_inline;   /* head bytes in an exchange's own buffer */
	struct tlist tl[TL_N];
	struct coil_op tmr;
	uint64_t tick_ns;
	struct coil_op dtmr;
	struct coil_op *done;
	struct fbuf *fbufs;
	unsigned nfbufs;
	struct achunk *acur; /* answers are carved from it */
	/* the bytes of the answer carved last in acur with its own copy
	 * (NULL: none), which an equal answer shares */
	const char *alast;
	size_t alast_len;
	struct achunk *afree; /* chunks kept, linked by next */
	unsigned nafree;
	struct fcache *fc;     /* open-file cache, NULL when off */
	struct coil_op fcstop; /* posted when fc's poll has ended */
	struct coil_http_server_stats stats;
	struct coil_tcp_opts topts;
};

/* Bytes of input held and not consumed yet. */
static inline size_t sconn_in_left(const struct sconn *c)
{
	return c->in ? c->in->len - c->in->pos : 0;
}

/* The first of them (only with sconn_in_left() > 0). */
static inline const char *sconn_in_at(const struct sconn *c)
{
	return c->in->base + c->in->pos;
}

/* The connection's own input buffer, or NULL (none, or C_BORROWED). */
static inline struct ibuf *sconn_ibuf(const struct sconn *c)
{
	if (!c->in || (c->st & C_BORROWED))
		return NULL;
	return coil_container_of(c->in, struct ibuf, v);
}

/* The TLS stream of @c (server with TLS), else NULL. */
static inline struct coil_tls *sconn_tls(struct sconn *c)
{
	return c->srv->o.tls ? (struct coil_tls *)(void *)(c + 1) : NULL;
}

/* server_h2_stream.c: the connection an HTTP/2 request came on. */
struct sconn *coil__h2_sconn(struct coil_http_sreq *req);

/* The connection of @req. An HTTP/2 request's is its session's (P_H2):
 * it has no exchange and never C_OWNED, so a call made only for
 * HTTP/1.1 requests refuses it (sreq_owned()) instead of reading an
 * exchange that is not there; what belongs to the connection (the
 * socket, the peer) is the same for both. */
static inline struct sconn *sconn_of(struct coil_http_sreq *req)
{
	if (req->major_version == 2)
		return coil__h2_sconn(req);
	return coil_container_of(req, struct sexch, req)->c;
}

static inline uint64_t srv_now(const struct coil_http_server *srv)
{
	return coil_now(srv->loop);
}

/* A head begins now (c->head_start): 1.05 ms units, which wrap after 52
 * days, far beyond any head's time limit (MAX_TIMEOUT_NS is one day), so
 * the difference to a later now is exact modulo 2^32. */
#define HS_SHIFT 20
static inline void sconn_head_begins(struct sconn *c)
{
	c->head_start = (uint32_t)(srv_now(c->srv) >> HS_SHIFT);
}

/* The time the current head began, in ns (at most 1.05 ms early). */
static inline uint64_t sconn_head_start(const struct sconn *c)
{
	uint64_t t = srv_now(c->srv);
	uint32_t ago = (uint32_t)(t >> HS_SHIFT) - c->head_start;
	return t - ((uint64_t)ago << HS_SHIFT);
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

/* The status for an openat2(2) error of a file to serve (both
 * protocols' coil_http_serve_file()). */
static inline int coil__http_open_status(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
		return 404;
	case -EACCES:
	case -EPERM:
	case -EXDEV:
	case -ELOOP:
		return 403;
	case -ENAMETOOLONG:
		return 414;
	default:
		return 500;
	}
}

/* An HTTP/2 request: the API calls go to http/server_h2.c. */
static inline int sreq_h2(const struct coil_http_sreq *req)
{
	return req && req->major_version == 2;
}

/* Statuses whose responses carry no body (RFC 9110 §15.3.5, §15.4.5). */
static inline int nobody_status(int status)
{
	return status == 204 || status == 304;
}

/* Kick the connection (once until served): its pump,
 * coil__sconn_process(), runs from the loop (docs/ARCHITECTURE.md, "The
 * kick and the pump"). The connection joins the server's kick list, whose
 * one op (srv->kick) is posted for the whole list: a connection holds a
 * link, not an op of its own, and is not released while listed. */
static inline void coil__sconn_kick(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;

	if (c->st & C_KICKED)
		return;
	c->st |= C_KICKED;
	c->k_next = NULL;
	if (srv->kq_tail)
		srv->kq_tail->k_next = c;
	else
		srv->kq_head = c;
	srv->kq_tail = c;
	if (!coil_op_busy(&srv->kick))
		coil_loop_post(srv->loop, &srv->kick, 0);
}

/* The unread body of a request whose response is out: can it be read and
 * dropped (keeping the connection), or must the connection close? */
static inline int coil__body_discardable(const struct sconn *c)
{
	const struct sexch *x = c->x;
	if (x->bstate != BS_GOING)
		return x->bstate != BS_FAILED;
	if (x->expect && !x->sent_continue)
		return 0; /* the client may never send it */
	if (x->body.kind == COIL_HTTP_BODY_LENGTH)
		return x->body.remaining <= DISCARD_MAX;
	return 0;
}

/* Writes of the connection in flight (the exchange's, or a detached
 * answer)? */
static inline int sconn_out_busy(const struct sconn *c)
{
	return (c->st & C_ANS) ||
	       (c->x && (c->x->slot_busy || c->x->heap_slots));
}

/* ---- server.c: connections and phases (calls every file below) ---- */

/* The pump: run the connection's phases until it waits on something. */
void coil__sconn_process(struct sconn *c);
/* Post shutdown's done op once nothing is left. */
void coil__srv_shutdown_check(struct coil_http_server *srv);

/* ---- server_conn.c: what every part may do to a connection ---- */

/* End the connection (@err < 0 failed, 0 clean); the handler hears of it
 * from the loop. */
void coil__sconn_fail(struct sconn *c, int err);
/* Report the request to on_done once. */
void coil__sconn_report(struct sconn *c);
/* The handler (or serve_file) let go of the request. */
void coil__sreq_complete(struct sconn *c);

/* ---- server_mem.c: memory (free lists with caps, trim) ---- */

struct sconn *coil__conn_new(struct coil_http_server *srv);
void coil__conn_put(struct sconn *c);
/* An exchange with its buffers; the caller sets up the rest. */
struct sexch *coil__x_new(struct coil_http_server *srv);
void coil__x_put(struct coil_http_server *srv, struct sexch *x);
/* A block for the answer @bytes of @n bytes (at most ANS_MAX), carved
 * from the server's current chunk, and in *@at where its bytes are: in
 * the block, or, when they equal those of the answer carved last in the
 * same chunk, that answer's (the chunk lives while either block does).
 * NULL without memory. */
struct answer *coil__ans_new(struct coil_http_server *srv, const void *bytes,
			     size_t n, const char **at);
void coil__ans_put(struct coil_http_server *srv, struct answer *a);
/* An input buffer of IBUF_INIT bytes, empty. */
struct ibuf *coil__ibuf_new(struct coil_http_server *srv);
void coil__ibuf_put(struct coil_http_server *srv, struct ibuf *b);
void coil__mem_opened(struct coil_http_server *srv);
void coil__mem_closed(struct coil_http_server *srv);
/* The server's tick: give memory back once requests went quiet. */
void coil__mem_tick(struct coil_http_server *srv);
/* Free what the lists hold (the server ends). */
void coil__mem_free(struct coil_http_server *srv);

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
/* Send what the output buffer holds from an answer block of its own, so
 * that the exchange can go back at once (the caller checked that nothing
 * else of it is in use). Return: 0 (sent, or the connection failed);
 * -1: it does not fit or no memory, flush it the usual way. */
int coil__out_detach(struct sconn *c);
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

/* From the pump: a file piece was sent (C_FSENT), or the writes a
 * sendfile waits for may be out (fwait): go on with the body. */
void coil__file_resume(struct sconn *c);
/* x->fop's callback for file reads; x->cop's for closes; x->fsf's. */
void coil__file_op_cb(struct coil_op *op, int res, unsigned flags);
void coil__file_sendfile_cb(struct coil_op *op, int res, unsigned flags);
void coil__file_close_cb(struct coil_op *op, int res, unsigned flags);

/* ---- server_h2.c and server_h2_stream.c: HTTP/2 (below the others:
 * they call none of them; a connection goes back through @gone) ---- */

struct h2conn;
/* Hand @c over to HTTP/2: a session on c->s (bytes @pre already read
 * come first). @gone runs once the session and every stream are over
 * and the stream is closed. Return: 0; -ENOMEM; the session's errors. */
int coil__h2_serve(struct sconn *c, const void *pre, size_t n,
		   void (*gone)(struct sconn *c, int err));
/* GOAWAY; the streams in progress finish. */
void coil__h2_shutdown(struct h2conn *hc);
/* End now: the streams are cut (their handlers' cancel hooks run). */
void coil__h2_cut(struct h2conn *hc, int err);
/* server_h2_stream.c: the request API for HTTP/2 requests, as the
 * public calls. */
int coil__h2_respond(struct coil_http_sreq *req, int status,
		     const struct coil_http_header *headers, size_t nheaders,
		     const void *body, size_t len);
int coil__h2_respond_begin(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, uint64_t content_length);
int coil__h2_respond_write(struct coil_http_sreq *req, const void *data,
			   size_t len, coil_http_sent_fn cb, void *arg);
int coil__h2_respond_end(struct coil_http_sreq *req);
int coil__h2_respond_file(struct coil_http_sreq *req, int status,
			  const struct coil_http_header *headers,
			  size_t nheaders, int fd, uint64_t off, uint64_t len);
int coil__h2_serve_root(struct coil_http_sreq *req, int root_fd,
			const struct coil_http_serve_opts *opts);
int coil__h2_abort(struct coil_http_sreq *req);
int coil__h2_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
		       void *arg);
int coil__h2_stream_body(struct coil_http_sreq *req, coil_http_chunk_fn cb,
			 void *arg);
int coil__h2_body_next(struct coil_http_sreq *req);
int coil__h2_on_cancel(struct coil_http_sreq *req,
		       void (*fn)(struct coil_http_sreq *req, void *arg),
		       void *arg);

/* ---- server_dir.c: directory listings ---- */

/* The HTML listing of directory @dfd (taken: closed) named @path
 * (decoded, relative to the root, "" or ending in '/'), for either
 * protocol to send as text/html (coil__dir_type). Return: 0 and the page
 * in *@page (malloc'd: the caller frees it), *@len; -errno (the caller
 * answers 403, or 500 for -ENOMEM). */
int coil__dir_page(int dfd, const char *path, size_t plen, char **page,
		   size_t *len);
/* The listing's Content-Type field. */
extern const struct coil_http_header coil__dir_type;

#endif
