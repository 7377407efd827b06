/*
 * coil/http_client.h - the HTTP/1.1 and HTTP/2 client (http/client*.c).
 * Included by coil/http.h, which is what users include; the message layer it
 * builds on is coil/http_message.h.
 */
#ifndef COIL_HTTP_CLIENT_H
#define COIL_HTTP_CLIENT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/async.h"
#include "coil/engine.h"
#include "coil/http_message.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== client ========================================================== */
/*
 * An HTTP/1.1 (and, when asked, HTTP/2) client for one loop: what people do in
 * Python with asyncio.gather + Semaphore + httpx.AsyncClient(limits=...) +
 * retry with backoff. A client keeps a pool of connections keyed by scheme,
 * host and port; requests wait FIFO per host for a connection under a per-host
 * and a global limit, reuse idle keep-alive connections (the most recently used
 * first), and run each attempt under a deadline, with retries and redirects as
 * asked.
 *
 * Requests are allocated by coil_http_request() and freed by the caller
 * with coil_http_req_free() in or after their done callback; the header
 * array and body a request borrows stay the caller's until then. All of
 * it runs on the loop's thread, and no callback runs inline from the call
 * that caused it. Sources: RFC 9110 (redirects §15.4, Retry-After
 * §10.2.3, idempotent methods §9.2.2), RFC 9112 (framing §6, persistence
 * and retrying requests §9.3, §9.3.1), RFC 3986 §5.2 (resolving a
 * Location reference).
 *
 * https URLs go over TLS streams (coil/tls.h) with the client's TLS
 * configuration, verifying the server's certificate and name by default,
 * and resuming sessions per host:port.
 *
 * HTTP/2 (RFC 9113, through coil/http_h2.h) when asked for
 * (coil_http_client_opts.http_version): a host that speaks it gets one
 * connection, and its requests become streams on it, at most
 * min(the server's SETTINGS_MAX_CONCURRENT_STREAMS, max_conns_per_host)
 * at once, the others waiting FIFO as they wait for a connection over
 * HTTP/1.1. Limits, deadlines, retries and redirects are the same; a
 * deadline or a cancel resets the request's stream (RST_STREAM CANCEL,
 * §6.4), not the connection; streams a GOAWAY refused (§6.8: above its
 * last stream id, not processed) or the server refused (REFUSED_STREAM,
 * §8.7) are sent again on a new connection, whatever the method, once
 * per attempt.
 */

struct coil_http_client;
struct coil_http_req;
struct coil_resolver;
struct coil_retry_policy;
struct coil_tls_config;

/* The protocol a client speaks (coil_http_client_opts.http_version);
 * curl's --http1.1, --http2 and --http2-prior-knowledge. */
#define COIL_HTTP_VERSION_DEFAULT 0 /* COIL_HTTP_VERSION_1_1 */
/* HTTP/1.1 only: no ALPN is offered over TLS */
#define COIL_HTTP_VERSION_1_1 1
/* https: ALPN offers "h2" then "http/1.1" (RFC 7301, RFC 9113 §3.2) and
 * the server's choice is used; http: HTTP/1.1 (no h2c upgrade) */
#define COIL_HTTP_VERSION_2 2
/* as COIL_HTTP_VERSION_2 for https; http: HTTP/2 by prior knowledge
 * (h2c, RFC 9113 §3.3): the connection preface at once, for servers known
 * to take it (one that does not fails the requests with COIL_EH2 or
 * COIL_ETRUNC) */
#define COIL_HTTP_VERSION_2_PRIOR 3

/* Options of coil_http_client_new(). Zero means "default" for every field. */
struct coil_http_client_opts {
	/* open connections, all hosts together, idle ones included; default
	 * 100 */
	unsigned max_conns;
	/* open connections to one scheme+host+port; default 6 (as
	 * browsers), or max_conns if smaller */
	unsigned max_conns_per_host;
	/* idle keep-alive connections kept per host; default
	 * max_conns_per_host */
	unsigned max_idle_per_host;
	/* an idle connection is closed after this long; default 30 s */
	uint64_t idle_timeout_ns;
	/* name resolution: a resolver of the client's loop, borrowed (it
	 * must outlive the client); NULL: the client makes its own
	 * (coil_resolver_new() on a 2-thread coil_pool) on the first host
	 * name it has to resolve; IP literals need none */
	struct coil_resolver *resolver;
	/* User-Agent of every request; NULL: "coil/0.1"; "": none. Copied. */
	const char *user_agent;
	/* TLS for https URLs: a client configuration (coil_tls_config_new()),
	 * borrowed, outliving the client; NULL: the client makes the
	 * verifying default (the system CA bundle) on its first https URL.
	 * Either way the client keeps a session cache (coil_tls_cache_new())
	 * so that new connections to a host resume. Its ALPN list
	 * (coil_tls_config_opts.alpn) is what is offered: coil_h2_alpn for
	 * HTTP/2 (the default configuration offers it when http_version
	 * asks for HTTP/2); a server choosing "h2" when HTTP/2 was not
	 * asked for fails the connect with COIL_ETLS. */
	const struct coil_tls_config *tls;
	/* COIL_HTTP_VERSION_*; default HTTP/1.1 (unlike curl, which offers
	 * h2 on https by default: HTTP/2 is asked for here). Over HTTP/2, a
	 * host has one connection at a time (another only once a GOAWAY or
	 * a lost connection retired it) carrying up to max_conns_per_host
	 * streams; idle, it is kept and expires as idle connections do. */
	unsigned http_version;
};

/*
 * The head callback: the final response's head has arrived (after the
 * redirects followed and the attempts retried). Status and fields are
 * readable (coil_http_req_status(), coil_http_req_header()); the body
 * follows. It may call coil_http_req_pause() or coil_http_req_cancel().
 */
typedef void (*coil_http_head_cb)(struct coil_http_req *req);

/*
 * The body callback (streaming): @len > 0 bytes of the final response's
 * body (chunked framing removed), in order, readable only during the
 * call. It may call coil_http_req_pause(): no body callback until
 * coil_http_req_resume(), while TCP flow control pushes back on the
 * server; or coil_http_req_cancel().
 */
typedef void (*coil_http_body_cb)(struct coil_http_req *req, const void *data,
				  size_t len);

/*
 * The done callback: runs once per request, from the loop. @res is the
 * final response's status code (100-999; which codes count as failure is
 * the caller's call), or a negative error (see coil_http_request()). The
 * request may be freed in it.
 */
typedef void (*coil_http_done_cb)(struct coil_http_req *req, int res);

/* What a request does. Zero / NULL means "default" for every field. */
struct coil_http_req_opts {
	/* method token ("GET", "HEAD", "POST" ...), at most 31 bytes; NULL:
	 * "GET". Copied. */
	const char *method;
	/* absolute http:// or https:// URL, as coil_url_parse() takes it;
	 * copied */
	const char *url;
	size_t url_len; /* 0: strlen(url) */
	/* more header fields, sent in order after Host, User-Agent and
	 * Accept ("*" "/" "*" unless one is given here). Not Host,
	 * Content-Length, Transfer-Encoding or Connection: the client
	 * writes those. Borrowed until the done callback. Authorization,
	 * Cookie and Proxy-Authorization are dropped after a redirect to
	 * another scheme, host or port (as curl does). */
	const struct coil_http_header *headers;
	size_t nheaders;
	/* request body, borrowed until the done callback; Content-Length is
	 * sent when body_len > 0 or the method is POST, PUT or PATCH */
	const void *body;
	uint64_t body_len;
	/* each connect (all addresses of the host together); 0: only the
	 * attempt's deadline bounds it */
	uint64_t connect_timeout_ns;
	/* deadline of each attempt, from its start to the last body byte:
	 * waiting for a connection, name resolution, connect, sending, the
	 * response, redirects followed. The connect gets the time left as
	 * a linked timeout (a deadline scope); the rest is watched by the
	 * client's timer. 0: none. */
	uint64_t timeout_ns;
	/* largest response body taken (COIL_ELIMIT beyond); 0: no limit
	 * when streaming, 64 MiB when buffered */
	uint64_t max_body_bytes;
	/* largest response head (COIL_ELIMIT beyond); 0:
	 * COIL_HTTP_MAX_HEAD_DEFAULT. At most 100 fields. */
	size_t max_head_bytes;
	/* redirects followed (301, 302, 303, 307, 308 with a usable
	 * Location, GET and HEAD only); 0: none, the 3xx is the final
	 * response */
	unsigned max_redirects;
	/* retry policy (copied, its retry_on list too), or NULL for a single
	 * attempt; retry_on NULL means COIL_HTTP_RETRY_ON. A list must not
	 * hold COIL_ELAST (used inside). */
	const struct coil_retry_policy *retry;
	/* no retry starts later than this after coil_http_request(); 0: no
	 * limit */
	uint64_t retry_max_time_ns;
	coil_http_head_cb on_head; /* optional */
	coil_http_body_cb on_body; /* NULL: the body is buffered */
	coil_http_done_cb done;	   /* required */
	void *data;		   /* the caller's (coil_http_req_data()) */
};

/* What requests retry when their policy names nothing: transport errors
 * (those of COIL_RETRY_DEFAULT_ON, and a server that closed early) and
 * 502, 503, 504 (RFC 9110 §15.6.3-15.6.5). A transport error after the
 * request was (possibly) sent is retried only for idempotent methods
 * (RFC 9110 §9.2.2), whatever the list says. */
#define COIL_HTTP_RETRY_ON                                                     \
	COIL_RETRY_DEFAULT_ON, COIL_ETRUNC, COIL_RETRY_HTTP_ON

/*
 * coil_http_client_new() - a client for @loop.
 * @out:  receives the client: coil_http_client_shutdown(), then
 *        coil_http_client_free().
 * @loop: the loop; the client is used only on its thread.
 * @opts: options, or NULL for defaults; read during the call only
 *        (opts->resolver is borrowed).
 *
 * The per-host limit is a coil_sem per host, the global one a coil_sem of
 * the client; a permit of each belongs to every open connection, from the
 * moment it is decided (resolving, connecting) until its close callback,
 * so the server never sees more connections than the limits, not even
 * while one is closing.
 *
 * An idle keep-alive connection keeps a read in flight (to see the
 * server close it) and the client its expiry timer, so
 * coil_loop_run(COIL_RUN_DEFAULT) goes on until they end (idle_timeout_ns,
 * 30 s by default): call coil_http_client_shutdown() once no request is
 * left (README's fetch.c does it from the last done callback), or wait
 * for a result with coil_loop_run_until(), which ignores them.
 *
 * Return: 0; -EINVAL for NULL @out/@loop, max_idle_per_host >
 * max_conns_per_host, max_conns_per_host > max_conns or an http_version
 * not COIL_HTTP_VERSION_*; -ENOMEM.
 */
int coil_http_client_new(struct coil_http_client **out, struct coil_loop *loop,
			 const struct coil_http_client_opts *opts);

/*
 * coil_http_request() - start a request.
 * @c:   the client.
 * @o:   what to do; read during the call (the header array and body are
 *       borrowed until the done callback).
 * @out: receives the request, the caller's until coil_http_req_free().
 *
 * Each attempt takes an idle connection to the URL's scheme+host+port
 * (the most recently used one), or opens one when the limits allow
 * (resolving the name with coil_resolve(), using IP literals as they
 * are), or waits FIFO until one of those is possible. It sends the
 * request, skips 1xx interim responses, and reads the response. A
 * request that fails on a reused connection before any response byte
 * (the server closed or reset it) is sent once more on a new connection
 * if its method is idempotent (RFC 9112 §9.3.1); that is not an attempt.
 * A redirect is followed within the attempt (see max_redirects), its
 * Location resolved against the current URL (RFC 3986 §5.2). A response
 * or error the policy retries ends the attempt: the response's body is
 * drained (short) or its connection closed (long, or close-delimited),
 * and the next attempt starts after the policy's backoff (coil_retry);
 * a Retry-After (delay-seconds or HTTP-date) makes that wait at least as
 * long; a Retry-After over the policy's cap_ns, or one that would start
 * the attempt after retry_max_time_ns, ends the retries with that
 * response. Nothing of a retried attempt or a followed redirect reaches
 * on_head or on_body.
 *
 * Results to @o->done: the status code; -ETIMEDOUT (the attempt's
 * deadline or the connect timeout passed); the connect's -errno
 * (-ECONNREFUSED, -ENETUNREACH, ...); COIL_ERESOLVE (name not found);
 * -ECONNRESET, -EPIPE; COIL_ETRUNC (the server closed the connection
 * before the response ended: no response, mid-head, short of its
 * Content-Length or last chunk); COIL_EPARSE (malformed response: status
 * line, field, invalid chunk size, conflicting framing, an unexpected
 * 101); COIL_ELIMIT (head over max_head_bytes or 100 fields, body over
 * max_body_bytes); -ELOOP (more redirects than max_redirects); COIL_ETLS
 * (the handshake failed: certificate refused, no common protocol, an
 * alert; or the default configuration could not be made);
 * -ECANCELED (coil_http_req_cancel(), coil_http_client_shutdown());
 * over HTTP/2 (coil/http_h2.h): COIL_EH2_RESET (the server reset the
 * stream: RST_STREAM, its error code in coil_http_req_strerror()),
 * COIL_EH2_GOAWAY (refused twice in one attempt, or the server went away
 * with an error), COIL_EH2 (the server broke the protocol), COIL_EH2_FLOW
 * (its window stayed closed while the body was sent);
 * -ENOMEM. coil_http_req_strerror() says what failed in words.
 *
 * Return: 0 (the done callback will run); -EINVAL for NULL @c/@o/@out/
 * url/done, NULL headers with nheaders > 0 or NULL body with body_len >
 * 0, a malformed URL, a method over 31 bytes or not a token, a header
 * field the writer refuses (coil_http_request_write()), a bad retry
 * policy (coil_retry_start()) or one listing COIL_ELAST;
 * -EPROTONOSUPPORT for a scheme other than http and https; COIL_ELIMIT for a
 * URL longer than COIL_URL_MAX_LEN; -ESHUTDOWN after
 * coil_http_client_shutdown(); -ENOMEM.
 */
int coil_http_request(struct coil_http_client *c,
		      const struct coil_http_req_opts *o,
		      struct coil_http_req **out);

/*
 * coil_http_req_pause() - stop the body callbacks (back-pressure): the
 * connection stops reading (coil_stream_read_stop()), so the kernel's
 * buffers fill and TCP flow control slows the server. Over HTTP/2 the
 * connection carries other streams and goes on reading: the body bytes
 * that arrive meanwhile are held (up to max_body_bytes) and delivered,
 * in order, after coil_http_req_resume().
 * @req: a request whose head callback has run and whose body is not over.
 * Return: 0; -EINVAL for NULL or a request in another state.
 */
int coil_http_req_pause(struct coil_http_req *req);

/*
 * coil_http_req_resume() - body callbacks again, from the loop (never
 * inline from this call); bytes held meanwhile come first.
 * Return: 0 (also when not paused, or already over); -EINVAL for NULL.
 */
int coil_http_req_resume(struct coil_http_req *req);

/*
 * coil_http_req_cancel() - end the request: the done callback runs with
 * -ECANCELED (next turn or later, never inline). A connection in the
 * middle of the exchange is closed; a backoff or Retry-After wait is cut
 * short. May be called from the request's own callbacks.
 * Return: 0; -EINVAL for NULL; -EALREADY if it is done or already
 * cancelled (a done callback already on its way keeps its result).
 */
int coil_http_req_cancel(struct coil_http_req *req);

/* coil_http_req_free() - free a request whose done callback has started
 * (or NULL). Every pointer read from it goes with it. */
void coil_http_req_free(struct coil_http_req *req);

/* coil_http_req_status() - the final response's status once its head
 * callback could run, else 0 (no response, or NULL). */
int coil_http_req_status(const struct coil_http_req *req);

/*
 * coil_http_req_header() - a field of the final response, by name,
 * ignoring case (RFC 9110 §5.1); the first if it repeats.
 * @len: receives the value's length (the value is not NUL-terminated);
 *       may be NULL.
 * Return: the value, valid until coil_http_req_free(); NULL if absent or
 * if there is no final response (yet).
 */
const char *coil_http_req_header(const struct coil_http_req *req,
				 const char *name, size_t *len);

/* coil_http_req_msg() - the final response's parsed head (every field,
 * version, framing, keep_alive), valid until coil_http_req_free(); NULL
 * if there is none (yet). */
const struct coil_http_msg *coil_http_req_msg(const struct coil_http_req *req);

/*
 * coil_http_req_body() - the buffered body (requests without on_body).
 * @len: receives its length (0 if none); may be NULL.
 * Return: the bytes (complete once done reported a status), valid until
 * coil_http_req_free(); NULL for a streaming request or before a final
 * response head.
 */
const void *coil_http_req_body(const struct coil_http_req *req, size_t *len);

/* coil_http_req_url() - the URL the request is at: the original, or the
 * last redirect target followed. Valid until coil_http_req_free(). */
const struct coil_url *coil_http_req_url(const struct coil_http_req *req);

/* coil_http_req_data() - the caller's pointer from the options. */
void *coil_http_req_data(const struct coil_http_req *req);

/* How a request went (coil_http_req_info()). */
struct coil_http_req_info {
	int status;		/* as coil_http_req_status() */
	unsigned attempts;	/* attempts started (1 + retries) */
	unsigned redirects;	/* redirects followed */
	unsigned reuse_retries; /* resent after a reused connection failed */
	int reused;		/* the last exchange used a reused connection */
	unsigned http_version;	/* the final response's: 10 (HTTP/1.0), 11
				   (HTTP/1.1), 20 (HTTP/2); 0 before it */
	uint64_t body_bytes;	/* final body bytes received (decoded) */
	uint64_t time_ns;	/* coil_http_request() to done (or to now) */
};

/* coil_http_req_info() - fill @info (zeroes for NULL @req). */
void coil_http_req_info(const struct coil_http_req *req,
			struct coil_http_req_info *info);

/*
 * coil_http_req_strerror() - what failed, in words: "connect to
 * 127.0.0.1 port 8080: Connection refused", "server closed the
 * connection after 10 of 100 body bytes: peer closed the connection
 * before the message ended", "deadline of 2.000 s passed: Connection
 * timed out". Return: the text, "" while it has not failed or after a
 * status; valid until the request is freed.
 */
const char *coil_http_req_strerror(const struct coil_http_req *req);

/*
 * coil_http_client_shutdown() - cancel every request (their done
 * callbacks get -ECANCELED), close every connection, and complete @done
 * (coil_op_init()'d, not in flight, may be NULL) with 0 once all of it
 * has ended. New requests are refused from here on. A resolver the
 * client made is freed and its pool stopped; lookups still running come
 * back to the loop, which must keep running until coil_loop_inflight()
 * is 0 before it is freed.
 * Return: 0; -EINVAL for NULL @c; -EALREADY if called before; -EBUSY if
 * @done is in flight.
 */
int coil_http_client_shutdown(struct coil_http_client *c, struct coil_op *done);

/*
 * coil_http_client_free() - free a client with nothing left: after its
 * shutdown completed, or one that never opened a connection and has no
 * request going (NULL is ignored). Requests already done may outlive it.
 * Return: 0; -EBUSY if requests, connections or its timer are still going
 * (nothing is freed).
 */
int coil_http_client_free(struct coil_http_client *c);

/* Counters of a client (coil_http_client_stats()). */
struct coil_http_client_stats {
	uint64_t requests;	 /* coil_http_request() calls accepted */
	uint64_t exchanges;	 /* requests sent on a connection */
	uint64_t reused;	 /* ... of them on a reused connection */
	uint64_t conns_opened;	 /* connections established */
	uint64_t connect_errors; /* resolve/connect failures */
	uint64_t idle_closed;	 /* idle connections closed (timeout, the
				    server, room for others, max idle) */
	uint64_t reuse_retries;	 /* requests resent (RFC 9112 §9.3.1) */
	uint64_t retries;	 /* attempts after the first */
	uint64_t redirects;	 /* redirects followed */
	uint64_t tls_handshakes; /* TLS handshakes completed */
	uint64_t tls_resumed;	 /* ... of them resuming a saved session */
	unsigned conns;		 /* open connections now */
	unsigned idle;		 /* idle connections now */
	unsigned waiting;	 /* requests waiting for a connection now */
	unsigned peak_conns;	 /* most connections open at once */
	unsigned peak_conns_per_host; /* most open to one host at once */
	uint64_t h2_conns;	      /* connections that spoke HTTP/2 */
	uint64_t h2_streams;	      /* requests sent as HTTP/2 streams */
	unsigned peak_h2_streams;     /* most streams open on one
					 connection at once */
};

/* coil_http_client_stats() - copy the counters (zeroes for NULL @c). */
void coil_http_client_stats(const struct coil_http_client *c,
			    struct coil_http_client_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* COIL_HTTP_CLIENT_H */
