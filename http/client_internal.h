/*
 * http/client_internal.h - what the files of the HTTP client share: the
 * client, its hosts (one per scheme+host+port, holding the per-host limit,
 * the idle connections and the requests waiting), its connections and its
 * requests. Private to http/; the public side is
 * include/coil/http_client.h.
 *
 * The files are layers, and calls run one way, down (docs/ARCHITECTURE.md,
 * "The client's layers"):
 *   client.c           the request: it owns coil_http_req and its state,
 *                      and drives attempts (coil_retry), hops, redirects,
 *                      reuse-retries and deadlines; the public API.
 *   client_exchange.c  one request and its response on one connection;
 *                      reports how it ended as an enum coil__xout through
 *                      the callback client.c gave it, never calling up.
 *   client_exchange_h2.c  its HTTP/2 sibling: one request as a stream of
 *                      a connection's coil_h2 session, reporting the same
 *                      enum coil__xout.
 *   client_response.c  below both: the final head's decisions (redirect,
 *                      retry, limits) and the body's sink.
 *   client_pool.c      hosts (a coil_connpool each: per-host limit, idle
 *                      reuse and expiry), a host's one HTTP/2 session and
 *                      its stream slots; hands a connection to a waiter
 *                      (struct coil__pool_wait) through the waiter's
 *                      callback, and knows nothing of requests' policy.
 *   client_conn.c      below it: one connection's life (resolve, connect,
 *                      TLS, ALPN, reading while pooled, closing), the
 *                      global limit, the pools' open and close hooks;
 *                      reports through engine/connpool.c and
 *                      c->on_conn_gone, never calling up.
 *   client_policy.c    pure helpers: which results retry, failure words.
 *   client_ref.c       pure helpers: Location references, Retry-After.
 * What a lower layer tells the one above goes through a callback the
 * upper one registered (a waiter's cb, a connection's on_read, an
 * exchange's done, the pool's hooks), as an engine op reports to its
 * owner.
 */
#ifndef COIL_HTTP_CLIENT_INTERNAL_H
#define COIL_HTTP_CLIENT_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "coil/async.h"
#include "coil/connpool.h"
#include "coil/http.h"
#include "coil/http_h2.h"
#include "coil/stream.h"
#include "coil/tls.h"

#define CLIENT_MAX_HEADERS 100 /* response fields kept per message */
#define CLIENT_DRAIN_MAX 65536 /* discarded bodies longer than this close */
#define CLIENT_BUFFERED_MAX (64ull << 20) /* default buffered body limit */

struct cconn;
struct coil_http_req;
struct coil__pool_wait;

/*
 * A waiter for a connection (embedded in a request): an acquire on its
 * host's pool (engine/connpool.c), answered once through @cb with an
 * open connection or why none came.
 */
struct coil__pool_wait {
	/* set by the waiter before coil__pool_wait() */
	void (*cb)(struct coil__pool_wait *w, struct cconn *cn, int err);
	int fresh;		     /* needs a new connection */
	uint64_t deadline_ns;	     /* of the attempt, 0 = none */
	uint64_t connect_timeout_ns; /* 0 = none */
	char *why;		     /* receives a failure in words */
	size_t why_cap;
	/* the pool's */
	struct host *host;	 /* while its acquire is in flight */
	struct coil_op op;	 /* the acquire */
	struct coil_pconn *slot; /* what it got */
	unsigned fail_seq;	 /* the host's open failures when it began */
	int dropped;		 /* withdrawn after its answer was due */
	struct coil__pool_wait *h2next; /* in its host's h2 queue */
	int h2queued;			/* ... while there */
};

/* One scheme+host+port. Lives until the client is freed. */
struct host {
	struct coil_http_client *c;
	struct host *hnext; /* hash chain */
	struct host *next;  /* every host of the client */
	uint32_t hash;
	int https;
	uint16_t port;
	int kind;			   /* COIL_URL_HOST_* */
	struct coil_connpool *pool;	   /* its connections, per-host limit */
	struct coil_op pool_closed;	   /* the pool's close, at shutdown */
	struct coil__pool_wait *acquiring; /* whose acquire runs now */
	uint64_t connect_timeout_ns; /* the last waiter's, for later opens */
	unsigned nconn;		     /* open connections (all states) */
	unsigned gpending;	     /* opens waiting for a global permit */
	struct host *gnext;
	int in_gwait;	   /* queued for a global permit */
	unsigned fail_seq; /* open failures so far */
	char why[320];	   /* the last one, in words */
	/* HTTP/2 (client_pool.c's "HTTP/2 hosts"): requests to a host that
	 * may speak it wait here for a stream of its one session */
	int h2_ok;	   /* offered (ALPN "h2") or prior knowledge */
	int h1_only;	   /* the server chose HTTP/1.1: the pool's way */
	struct cconn *h2c; /* the session taking new streams, or NULL */
	int h2_opening;	   /* h2w's acquire is under way */
	struct coil__pool_wait h2w; /* the host's own acquire for it */
	struct coil__pool_wait *h2q_head, *h2q_tail; /* waiting for a stream */
	char h2why[320]; /* why h2w's acquire failed */
	char name[256];	 /* lowercased; IPv6 without brackets */
};

enum conn_state {
	C_RESOLVING,
	C_CONNECTING,
	C_ACTIVE, /* an exchange's */
	C_POOLED, /* given back to the pool: idle, or on its way to a waiter */
	C_CLOSING,
};

struct cconn {
	struct coil_pconn pc; /* in its host's pool, once open */
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_stream *s; /* the top stream: &tcp.s or &tls.s */
	struct coil_http_client *c;
	struct host *h;
	/* while active: the exchange's reader, and its argument */
	void (*on_read)(struct cconn *cn, ssize_t n, const void *buf);
	void *user;
	struct cconn *anext, **apprev; /* every connection of the client */
	enum conn_state state;
	int in_pool;	 /* open: the pool counts it as a connection */
	int stream_open; /* the stream needs coil_stream_close() */
	int evicted;	 /* closed to free a global permit (c->evicting) */
	int dead;	 /* the server closed it while it was pooled */
	int paused;	 /* reading stopped for back-pressure */
	int err;	 /* why it failed to open */
	unsigned nreq;	 /* exchanges started on it */
	/* HTTP/2: the session over s (it owns the stream's reads then) */
	struct coil_h2 *h2;
	unsigned h2_streams; /* streams handed to exchanges, not ended */
	int h2_ready;	     /* the server's first SETTINGS arrived */
	int h2_dead;	     /* the session ended */
	uint64_t deadline_ns, connect_timeout_ns; /* of its connect */
	struct coil_resolve_req rr;
	struct sockaddr_storage addrs[COIL_RESOLVE_MAX];
	unsigned naddrs;
};

/* request states (client.c's) */
enum req_state {
	RQ_NEW,
	RQ_POOL,     /* waiting for a connection (queued, or opening one) */
	RQ_EXCHANGE, /* on a connection */
	RQ_BETWEEN,  /* attempt over: backoff, Retry-After wait */
	RQ_DONE,
};

/* exchange phases */
enum xphase {
	X_HEAD,
	X_BODY,
	X_END,
};

/* what to do with the body of the response being read */
enum xsink {
	SINK_USER,     /* on_body or the buffer */
	SINK_REDIRECT, /* discard, then follow the Location */
	SINK_RETRY,    /* discard, then end the attempt for a retry */
};

/*
 * What an HTTP/2 stream's owner hears: embedded in the exchange, given as
 * the stream's data to coil_h2_request(); the pool's session handler
 * forwards the stream callbacks of struct coil_h2_handler to it.
 */
struct coil__h2stream {
	void (*on_head)(struct coil__h2stream *st,
			const struct coil_http_header *f, unsigned n,
			unsigned flags);
	void (*on_data)(struct coil__h2stream *st, const void *buf, size_t len);
	void (*on_close)(struct coil__h2stream *st, int err, uint32_t code);
};

/* How an exchange ended: what it reports to its owner (client.c). */
enum coil__xout {
	XO_DONE,	/* a final response: res is its status */
	XO_FAILED,	/* res < 0: the error */
	XO_RETRY,	/* the head asked for a retry (retryable status, and the
			 * policy allows one): res is the status, or an error that
			 * cut the discarded body */
	XO_REDIRECT,	/* follow req->next_url: res is the 3xx status */
	XO_REUSE_RETRY, /* a reused connection failed before any response
			 * byte: send again on a new one (RFC 9112 §9.3.1) */
};

/*
 * One exchange: the per-attempt fields, reset as a whole by
 * coil__exchange_start() (the buffers they index, hbuf and bbuf, are the
 * request's and outlive it). After the exchange, the response's head and
 * body stay readable here until the next one starts.
 */
struct coil__exchange {
	struct cconn *conn; /* NULL once it ended */
	void (*done)(struct coil_http_req *req, enum coil__xout out, int res);
	enum xphase phase;
	enum xsink sink;
	enum coil__xout out; /* decided so far (XO_DONE: none) */
	int ended;	     /* result decided, waiting for the write */
	int res;
	int reuse;	    /* the connection may carry another exchange */
	int status_pending; /* the result once the body has ended */
	int writing;	    /* req->w is queued on the stream */
	int wrote;	    /* the request may have reached the server */
	int werr;	    /* a failed send */
	int got_bytes;
	int reused; /* the connection had carried an exchange before */
	int paused;
	int have_head; /* a final head is readable */
	int status;
	size_t hlen, head_len;	   /* bytes in req->hbuf, the head's */
	size_t pend_off, pend_len; /* body bytes in hbuf not delivered */
	int pending;		   /* ... and not fed to the decoder yet */
	size_t blen;		   /* bytes in req->bbuf */
	uint64_t retry_after_ns;   /* the head's Retry-After */
	struct coil_http_msg msg;
	struct coil_http_body body;
	/* HTTP/2 (client_exchange_h2.c) */
	int h2;			  /* this exchange is a stream */
	int32_t sid;		  /* > 0 while the stream's on_close is due */
	int h2_closed;		  /* the stream ended cleanly, body held */
	size_t held;		  /* body bytes in req->scratch while paused */
	struct coil__h2stream hs; /* the stream's callbacks */
};

struct coil_http_req {
	struct coil_http_client *c;
	void *data;
	coil_http_head_cb on_head;
	coil_http_body_cb on_body;
	coil_http_done_cb done;
	/* what to send */
	char method[32];
	const struct coil_http_header *headers;
	size_t nheaders;
	const void *rbody; /* the request's body */
	uint64_t rbody_len;
	int send_body; /* 0 once a redirect dropped the body */
	int idempotent;
	int head; /* method HEAD: responses have no body */
	uint64_t connect_timeout_ns;
	uint64_t timeout_ns;
	uint64_t max_body;
	size_t max_head;
	unsigned max_redirects;
	uint64_t retry_max_time_ns;
	struct coil_retry_policy policy;
	int *retry_on;	/* the policy's list, owned */
	int strip_auth; /* a redirect changed the origin */
	/* request bytes */
	char *wbuf;
	size_t wlen, wcap;
	struct iovec iov[2];
	unsigned niov;
	struct coil_stream_write w;
	/* state (client.c's) */
	enum req_state state;
	struct coil__pool_wait pw;	     /* while RQ_POOL */
	struct coil_http_req *tnext, *tprev; /* client deadline list */
	struct coil_http_req *anext, *aprev; /* every live request */
	uint64_t deadline_ns;		     /* of the attempt, 0 = none */
	int timed;			     /* on the deadline list */
	int cancelled;
	int sent;	   /* bytes may have reached the server this attempt */
	int reuse_retried; /* done once this attempt */
	uint64_t retry_after_ns; /* the attempt's last Retry-After */
	/* the exchange (client_exchange.c's) */
	struct coil__exchange x;
	struct coil_op kick; /* posted: deliver held body after resume */
	/* response buffers, kept across exchanges */
	char *hbuf; /* response head (and the bytes after it) */
	size_t hcap;
	char *scratch; /* chunked bodies are decoded in a copy */
	size_t scratch_cap;
	char *bbuf; /* the buffered body */
	size_t bcap;
	struct coil_url *next_url; /* where a redirect being followed goes */
	/* attempts */
	struct coil_retry retry;
	struct coil_op retry_done;
	struct coil_op ra_timer; /* Retry-After wait */
	int final_res;
	int result; /* what the done callback got */
	/* info */
	uint64_t start_ns, end_ns;
	unsigned redirects;
	unsigned reuse_retries;
	char errbuf[320]; /* what failed, in words */
	/* large and filled before use: not zeroed at allocation */
	struct coil_url url;
	struct coil_http_header hdrs[CLIENT_MAX_HEADERS];
};

struct coil_http_client {
	struct coil_loop *loop;
	struct coil_http_client_opts o;
	char *user_agent;
	struct coil_pool *own_pool;
	struct coil_resolver *resolver;
	int own_resolver;
	const struct coil_tls_config *tls; /* the caller's, or own_tls */
	struct coil_tls_config *own_tls;
	struct coil_tls_cache *tls_cache;
	int tls_fail; /* making the default configuration failed */
	char tls_err[256];
	struct host **tab;
	unsigned tab_cap, nhosts;
	struct host *hosts;  /* every host, newest first */
	unsigned pools_open; /* host pools whose close has not completed */
	/* the global limit (o.max_conns, counted in stats.conns): hosts with
	 * opens waiting for a permit, and idle connections of other hosts
	 * closing to free one */
	struct host *gwait_head, *gwait_tail;
	unsigned gpending;
	unsigned evicting;
	int in_evict; /* (closing an idle one for the global limit) */
	struct cconn *conns;
	/* what the pool tells client.c (set by coil_http_client_new()): one
	 * connection or pool is gone (a shutdown may be complete) */
	void (*on_conn_gone)(struct coil_http_client *c);
	struct coil_http_req *reqs;
	unsigned nreq;
	/* deadlines: requests sorted by deadline, one ring timer */
	struct coil_http_req *thead, *ttail;
	struct coil_op tmr;
	uint64_t tmr_at;
	int tmr_rearm;
	/* shutdown */
	int shutting;
	int shut_posted;
	struct coil_op *shut_op;
	struct coil_http_client_stats stats;
	/* COIL_HTTP_VERSION_* asked for (o.http_version, defaulted) */
	unsigned http_version;
};

/* ---- client_pool.c: hosts and their waiters ---- */

/* Acquire a connection on the host of @u (at once when an idle one is
 * there: then @w->cb runs before this returns). Return: 0; -ENOMEM (host
 * table); the pool's refusal (COIL_ECLOSED at shutdown, -ECANCELED while
 * the loop drains). */
int coil__pool_wait(struct coil_http_client *c, const struct coil_url *u,
		    struct coil__pool_wait *w);
/* Withdraw @w before its callback ran; the callback will not run. */
void coil__pool_unwait(struct coil__pool_wait *w);
/* An exchange is over: keep @cn for reuse (or hand it on), or close it. */
void coil__conn_release(struct cconn *cn);
void coil__pool_shutdown(struct coil_http_client *c);
void coil__pool_free(struct coil_http_client *c);
/* The pools' part of the counters: idle now, idle ones closed. */
void coil__pool_stats(const struct coil_http_client *c,
		      struct coil_http_client_stats *st);

/* ---- client_conn.c: connections, the global limit ---- */

/* Each host's coil_connpool hooks: open (under a global permit, or
 * pending until one comes back) and close. */
extern const struct coil_connpool_ops coil__conn_hooks;
/* An exchange's connection is not to be reused: the pool closes it. */
void coil__conn_close(struct cconn *cn);
/* Stop or restart reading (back-pressure; not for an HTTP/2 session). */
void coil__conn_pause(struct cconn *cn, int pause);
/* Close idle connections, oldest first, until every open pending for a
 * global permit has one closing for it. */
void coil__conn_evict_idle(struct coil_http_client *c);
/* Shutdown: the opens pending for a permit fail with -ECANCELED ... */
void coil__conn_cancel_pending(struct coil_http_client *c);
/* ... and every connection still opening or in use is stopped. */
void coil__conn_abort_all(struct coil_http_client *c);

/* ---- client_exchange.c: one exchange ---- */

/* Start @req's exchange on @cn; @done runs once, when it is over (the
 * connection released or closed), maybe before this returns. */
void coil__exchange_start(struct coil_http_req *req, struct cconn *cn,
			  void (*done)(struct coil_http_req *req,
				       enum coil__xout out, int res));
/* End it now with @err (XO_FAILED). */
void coil__exchange_abort(struct coil_http_req *req, int err);
/* Stop or restart reading; -EINVAL if there is no body being read. */
int coil__exchange_pause(struct coil_http_req *req, int pause);

/* ---- client_exchange_h2.c: one exchange as an HTTP/2 stream ---- */

/* As coil__exchange_start(), on @cn's session (cn->h2): the request
 * becomes a stream; a timeout or cancel resets it (RST_STREAM CANCEL). */
void coil__exchange_h2_start(struct coil_http_req *req, struct cconn *cn,
			     void (*done)(struct coil_http_req *req,
					  enum coil__xout out, int res));
void coil__exchange_h2_abort(struct coil_http_req *req, int err);
int coil__exchange_h2_pause(struct coil_http_req *req, int pause);

/* ---- client_response.c: the response, whatever the framing ---- */

/* A final head is in req->x.msg (msg.body, content_length set): decide
 * its body's sink (SINK_REDIRECT with x.out XO_REDIRECT and next_url,
 * SINK_RETRY with XO_RETRY, else SINK_USER with have_head and status
 * set, the Content-Length checked and the buffer sized). Return: 0;
 * -ELOOP or COIL_ELIMIT (errbuf set): end the exchange with it. */
int coil__resp_head(struct coil_http_req *req);
/* @len decoded body bytes for SINK_USER (x.body.received already counts
 * them): the body limit, then on_body or the buffer. Return: 0 (on_body
 * may have cancelled the request); COIL_ELIMIT or -ENOMEM (errbuf set). */
int coil__resp_body(struct coil_http_req *req, const void *p, size_t len);

/* ---- client_policy.c: pure helpers ---- */

/* A header field of the caller's not to send: Authorization, Cookie and
 * Proxy-Authorization after a redirect to another origin. */
int coil__header_dropped(const struct coil_http_req *req,
			 const struct coil_http_header *h);

#define COIL__RETRY_STOP COIL_ELAST /* a retryable result not to be retried */

/* Would the policy retry @res (a status or an error)? */
int coil__req_retryable(const struct coil_http_req *req, int res);
/* May another attempt start, after @retry_after_ns at least? */
int coil__req_may_retry(const struct coil_http_req *req,
			uint64_t retry_after_ns);
/* "@fmt...: coil_strerror(@res)" into @buf (@res 0: just @fmt). */
void coil__why(char *buf, size_t cap, int res, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same into req->errbuf: what failed, in words. */
void coil__req_why(struct coil_http_req *req, int res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* client_ref.c */
/*
 * coil__url_join() - resolve reference @ref (a Location value, @len
 * bytes) against @base (RFC 3986 §5.2.2, with §5.2.4's dot-segment
 * removal); bytes a URL may not hold (controls, space, >= 0x80) are
 * percent-encoded first, as browsers do.
 * @out: receives the absolute URL, NUL-terminated.
 * Return: its length; -EINVAL for an empty or unusable reference;
 * -ENOSPC when it does not fit @cap.
 */
int coil__url_join(char *out, size_t cap, const struct coil_url *base,
		   const char *ref, size_t len);

/*
 * coil__retry_after() - a Retry-After value (RFC 9110 §10.2.3):
 * delay-seconds, or an HTTP-date in any of its three forms (§5.6.7)
 * compared with @now_unix.
 * Return: the delay in ns (>= 0, dates in the past give 0, capped at
 * 2^62 ns); -EINVAL if the value is neither.
 */
int64_t coil__retry_after(const char *v, size_t len, int64_t now_unix);

#endif
