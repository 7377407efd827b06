/*
 * http/client_internal.h - what the files of the HTTP client share: the
 * client, its hosts (one per scheme+host+port, holding the per-host limit,
 * the idle connections and the requests waiting), its connections and its
 * requests. Private to http/; the public side is
 * include/coil/http_client.h.
 *
 * Files: client.c (requests: attempts, retries, redirects, deadlines,
 * the API), client_pool.c (hosts, limits, connections, idle reuse,
 * dispatch), client_exchange.c (one request and its response on a
 * connection), client_ref.c (Location references, Retry-After).
 */
#ifndef COIL_HTTP_CLIENT_INTERNAL_H
#define COIL_HTTP_CLIENT_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "coil/async.h"
#include "coil/http.h"
#include "coil/stream.h"
/* https needs the TLS layer, which comes with its header */
#if defined(__has_include)
#if __has_include("coil/tls.h")
#include "coil/tls.h"
#define COIL_HAVE_TLS 1
#endif
#endif
#ifndef COIL_HAVE_TLS
#define COIL_HAVE_TLS 0
#endif

#define CLIENT_MAX_HEADERS 100 /* response fields kept per message */
#define CLIENT_DRAIN_MAX 65536 /* discarded bodies longer than this close */
#define CLIENT_BUFFERED_MAX (64ull << 20) /* default buffered body limit */

struct conn;
struct coil_http_req;

/* One scheme+host+port. Lives until the client is freed. */
struct host {
	struct coil_http_client *c;
	struct host *hnext; /* hash chain */
	uint32_t hash;
	int https;
	uint16_t port;
	int kind;	     /* COIL_URL_HOST_* */
	struct coil_sem sem; /* per-host connection permits */
	/* idle connections, most recently used first */
	struct conn *idle_head, *idle_tail;
	unsigned nidle;
	/* requests waiting for a connection, FIFO */
	struct coil_http_req *wait_head, *wait_tail;
	unsigned nwait;
	unsigned nconn;	   /* open connections (all states) */
	unsigned evicting; /* idle connections closing to make room here */
	struct host *gnext;
	int in_gwait;	/* queued for a global permit */
	char name[256]; /* lowercased; IPv6 without brackets */
};

enum conn_state {
	C_RESOLVING,
	C_CONNECTING,
	C_ACTIVE,
	C_IDLE,
	C_CLOSING,
};

struct conn {
	struct coil_tcp tcp;
#if COIL_HAVE_TLS
	struct coil_tls tls;
#endif
	struct coil_stream *s; /* the top stream: &tcp.s or &tls.s */
	struct coil_http_client *c;
	struct host *h;
	struct coil_http_req *req;  /* the request using it, or its owner
				       while connecting; NULL when idle */
	struct conn *inext, *iprev; /* host idle list */
	struct conn *lnext, *lprev; /* client idle list, newest first */
	struct conn *anext, *aprev; /* every connection of the client */
	enum conn_state state;
	int stream_open; /* the stream needs coil_stream_close() */
	int evicted;	 /* closed to make room (counted in h->evicting) */
	int paused;	 /* reading stopped for back-pressure */
	unsigned nreq;	 /* exchanges started on it */
	uint64_t idle_at;
	struct coil_resolve_req rr;
	struct sockaddr_storage addrs[COIL_RESOLVE_MAX];
	unsigned naddrs;
};

/* request states */
enum req_state {
	RQ_NEW,
	RQ_WAIT,     /* in its host's wait queue */
	RQ_CONNECT,  /* owner of a connection being opened */
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
	int writing; /* w is queued on a stream */
	int sent;    /* bytes may have reached the server this attempt */
	/* state */
	enum req_state state;
	struct host *host; /* while waiting */
	struct conn *conn; /* while connecting or exchanging */
	struct coil_http_req *wnext, *wprev; /* host wait queue */
	struct coil_http_req *tnext, *tprev; /* client deadline list */
	struct coil_http_req *anext, *aprev; /* every live request */
	uint64_t deadline_ns;		     /* of the attempt, 0 = none */
	int timed;			     /* on the deadline list */
	int fresh;			     /* needs a new connection */
	int cancelled;
	int paused;
	int reuse_retry;   /* resend on a new connection */
	int reuse_retried; /* done once this attempt */
	/* exchange */
	enum xphase phase;
	enum xsink sink;
	int xended; /* exchange result decided, waiting for the write */
	int xres;
	int xreuse; /* the connection may carry another exchange */
	int got_bytes;
	char *hbuf; /* response head (and the bytes after it) */
	size_t hlen, hcap, head_len;
	size_t pend_off, pend_len; /* body bytes in hbuf not delivered */
	int pending;		   /* ... and not fed to the decoder yet */
	struct coil_http_msg msg;
	struct coil_http_body body;
	int have_head; /* a final head is readable */
	char *scratch; /* chunked bodies are decoded in a copy */
	size_t scratch_cap;
	char *bbuf; /* the buffered body */
	size_t blen, bcap;
	struct coil_url *next_url; /* where a redirect being followed goes */
	int follow;		   /* follow next_url when the exchange ends */
	int xres_pending;	   /* the result once the body has ended */
	int werr;		   /* a failed send of this exchange */
	uint64_t retry_after_ns;
	int retry_decided;   /* the head said: retry this attempt */
	struct coil_op kick; /* posted: deliver held body after resume */
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
	int reused;
	int status;
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
#if COIL_HAVE_TLS
	const struct coil_tls_config *tls; /* the caller's, or own_tls */
	struct coil_tls_config *own_tls;
	struct coil_tls_cache *tls_cache;
	int tls_fail; /* making the default configuration failed */
	char tls_err[256];
#endif
	struct coil_sem global;
	struct host **tab;
	unsigned tab_cap, nhosts;
	struct host *gwait_head, *gwait_tail;
	unsigned gwaiting;
	unsigned evicting; /* idle conns closing to free a global permit */
	struct conn *lru_head, *lru_tail; /* idle, newest first */
	struct conn *conns;
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
	struct coil_http_client_stats st;
};

/* client_pool.c */
struct host *coil__host_get(struct coil_http_client *c,
			    const struct coil_url *u);
void coil__host_enqueue(struct host *h, struct coil_http_req *req);
void coil__host_unqueue(struct coil_http_req *req);
void coil__host_dispatch(struct host *h);
void coil__conn_release(struct conn *cn);
void coil__conn_close(struct conn *cn);
void coil__conn_disown(struct conn *cn);
void coil__conn_pause(struct conn *cn, int pause);
void coil__pool_expire(struct coil_http_client *c, uint64_t now);
void coil__pool_shutdown(struct coil_http_client *c);
void coil__pool_free(struct coil_http_client *c);
uint64_t coil__pool_next_expiry(const struct coil_http_client *c);

/* client_exchange.c */
void coil__exchange_start(struct conn *cn, struct coil_http_req *req);
void coil__exchange_read(struct conn *cn, ssize_t n, const void *buf);
void coil__exchange_abort(struct coil_http_req *req, int err);
void coil__exchange_resume(struct coil_http_req *req);

/* client.c */
void coil__req_hop_end(struct coil_http_req *req, int res);
void coil__req_connect_failed(struct coil_http_req *req, int err);
void coil__client_timer_update(struct coil_http_client *c);
void coil__client_maybe_done(struct coil_http_client *c);
#if COIL_HAVE_TLS
/* The TLS configuration and session cache, made on first use; 0, or
 * COIL_ETLS / -errno with c->tls_err saying why. */
int coil__client_tls(struct coil_http_client *c);
#endif
int coil__req_retryable(const struct coil_http_req *req, int res);
int coil__req_may_retry(const struct coil_http_req *req);
/* Say what failed: "@fmt...: coil_strerror(@res)" (@res 0: just @fmt). */
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
