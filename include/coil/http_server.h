/*
 * coil/http_server.h - the HTTP/1.1 server (http/server*.c) and its runner
 * for N loops on N threads. Included by coil/http.h, which is what users
 * include; the message layer it builds on is coil/http_message.h.
 */
#ifndef COIL_HTTP_SERVER_H
#define COIL_HTTP_SERVER_H

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

/* ==== server (RFC 9112 §9, RFC 9110 §15) ================================
 * The HTTP/1.1 server: http/server*.c. One struct coil_http_server per loop
 * (a listener with a multishot accept, the loop's connections, its timers);
 * N loops on N threads share a port with SO_REUSEPORT, either run by the
 * caller or by coil_http_threads_start() below.
 *
 * A connection answers its requests one at a time and in order: the next
 * pipelined request is parsed once the current response is completely
 * queued, so responses can never overtake each other. Responses of
 * pipelined requests handled in one loop turn leave in one send. Request
 * heads are parsed with coil_http_parse_request() and copied into the
 * connection's own buffer; responses are written with
 * coil_http_response_write() into a per-connection output buffer.
 * Connections come from a free list: answering a request from memory
 * allocates nothing.
 *
 * The server answers by itself, with "Connection: close": 400 for a
 * malformed head or framing (RFC 9112 §3, §6.3), 408 when a head does not
 * arrive within header_timeout_ns (RFC 9110 §15.5.9), 413 for a
 * Content-Length above max_body_bytes (§15.5.14), 417 for an Expect other
 * than 100-continue (RFC 9110 §10.1.1), 431 for a head above
 * max_head_bytes or max_headers fields (RFC 6585 §5), 505 for an HTTP
 * version other than 1.x (§15.6.6). After a response with "Connection:
 * close" it shuts down its sending side and reads until the client closes
 * or linger_ns passes (lingering close, RFC 9112 §9.6), so that unread
 * request bytes do not turn into a reset that destroys the response.
 *
 * With COIL_HTTP_SERVER_H2 a connection may speak HTTP/2 instead (RFC
 * 9113, http/server_h2*.c over the session of coil/http_h2.h): ALPN "h2"
 * over TLS, the client preface on plain TCP (h2c, prior knowledge; no
 * Upgrade). Each stream is a request for the same handler and the same
 * calls below, with major_version 2; streams are answered as they
 * finish, up to h2_max_streams at once. The limits hold per stream: 431
 * for a header list above max_head_bytes (names, values and 32 per field,
 * §6.5.2) or max_headers fields, 413 for a content-length above
 * max_body_bytes, COIL_ELIMIT to a body read that grows past it; a
 * request aborted, or a body that ends short of its announced length, is
 * reset (RST_STREAM INTERNAL_ERROR, §8.1.1), and a request body still
 * coming after the answer is read and dropped (the stream is reset,
 * CANCEL, once it runs past twice max_body_bytes and 1 MiB).
 * The connection sends GOAWAY NO_ERROR after header_timeout_ns without a
 * first stream or idle_timeout_ns without one, after max_requests
 * streams, and at a shutdown (the streams begun finish within the drain
 * time). Bodies are not flow-controlled by the handler's reading: a
 * stream's DATA is kept until read, at most max_body_bytes.
 */

struct sockaddr;
struct coil_tls_config;
struct coil_http_server;
struct coil_http_sreq;

/*
 * The request handler. Runs on the server's loop when a request head has
 * arrived (the body, if any, has not been read yet: see
 * coil_http_sreq_read_body() and coil_http_sreq_stream_body()). @req is the
 * handler's from here until it completes it with exactly one of
 * coil_http_respond(), coil_http_respond_file(), coil_http_serve_file(),
 * coil_http_serve_root(), coil_http_respond_end() (after
 * coil_http_respond_begin()) or
 * coil_http_sreq_abort(), now or later from another callback of the same
 * loop. The server never frees or reuses @req before that.
 */
typedef void (*coil_http_handler)(struct coil_http_sreq *req, void *arg);

/*
 * Called once per request when its response has been completely queued (or
 * the connection failed first), just before the request is recycled: for
 * access logs. @status: the status sent (0 if none was); @body_bytes: body
 * bytes queued; @req: readable during the call only (method may be NULL
 * for a request the server refused before it had a request line).
 */
typedef void (*coil_http_done_fn)(struct coil_http_sreq *req, int status,
				  uint64_t body_bytes, void *arg);

/* Server options. Zero means "default" for every field but addr. */
struct coil_http_server_opts {
	/* where to listen: AF_INET or AF_INET6; port 0 picks one (read it
	 * with coil_http_server_addr()) */
	const struct sockaddr *addr;
	socklen_t addr_len;
	int backlog;	/* listen(2) backlog, default 511 */
	unsigned flags; /* COIL_HTTP_SERVER_* */
	coil_http_handler handler;
	void *arg;		   /* passed to handler and on_done */
	coil_http_done_fn on_done; /* NULL: none */
	/* limits */
	size_t max_head_bytes;	 /* request line + fields, default 8192 */
	unsigned max_headers;	 /* fields per head, default 256 */
	uint64_t max_body_bytes; /* request body, default 1 MiB */
	unsigned max_requests;	 /* per connection, default unlimited */
	unsigned max_conns;	 /* open connections, default 16384 */
	/* time limits, ns */
	uint64_t header_timeout_ns; /* a head's first byte to its end, 10 s */
	uint64_t idle_timeout_ns;   /* keep-alive wait for a request, 60 s */
	uint64_t body_timeout_ns; /* no request body byte for this long, 30 s */
	uint64_t write_timeout_ns; /* no output progress for this long, 30 s */
	uint64_t linger_ns;	   /* lingering close, 2 s */
	/* TLS: a server-side configuration (coil/tls.h) shared by every
	 * connection, or NULL for plain HTTP; borrowed, kept by the caller
	 * until the server is freed */
	const struct coil_tls_config *tls;
	/* file bodies (coil_http_respond_file(), coil_http_serve_file()) of
	 * at least this many bytes go by coil_sendfile() on plain TCP;
	 * default 16 KiB; SIZE_MAX: never (read + send) */
	size_t sendfile_min_bytes;
	/* open-file cache of coil_http_serve_file(), on by default: a
	 * path's open descriptor and statx(2) result are kept, and trusted
	 * until inotify(7) reports a change to the file (written, truncated,
	 * chmod, deleted, renamed) or to a directory on its path from the
	 * root (an entry of the path created, deleted or renamed, chmod), so
	 * the first request after a change opens the path anew: a change is
	 * never served late (HTTP/1.1; HTTP/2 streams open their files).
	 * Files whose changes inotify may not see are not cached: on a file
	 * system other than the local ones (ext2-4, xfs, btrfs, tmpfs,
	 * f2fs, zfs, bcachefs, overlayfs, read-only ones; not NFS, CIFS,
	 * FUSE), reached through a symbolic link, or when no watch can be
	 * added (fs.inotify.max_user_watches); nor any file when no inotify
	 * instance can be made (fs.inotify.max_user_instances). Writes
	 * through a shared mmap(2) raise no event (publish by rename(2)).
	 * Entries (open descriptors) at most, least recently used evicted:
	 * default 1024, at most 2^20; UINT_MAX: no cache, every request
	 * opens its file. Per server, so per loop and thread; one inotify
	 * instance each, one watch per file and per directory. */
	unsigned file_cache_files;
	/* memory for the contents of files of up to 64 KiB, kept from the
	 * one read of the whole file on a first request (such files are
	 * read then, not sent by sendfile): later requests' bodies leave
	 * from memory with their head in one send (one copy into the
	 * socket, no read, no sendfile). Larger files, up to this much
	 * each, are pinned under the same cap on plain TCP: when all their
	 * pages are in the page cache (cachestat(2)), mapped (mmap(2)) and
	 * locked (mlock(2)), so that their bodies too leave from memory in
	 * one ring send, with no system call and no check; where mlock(2)
	 * is refused (RLIMIT_MEMLOCK, EPERM) they go by sendfile. Least
	 * recently used contents go to make room. Default 16 MiB;
	 * SIZE_MAX: no contents (descriptors only). */
	size_t file_cache_mem_bytes;
	/* HTTP/2: streams a client may open at once on one connection
	 * (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2), default 128 */
	unsigned h2_max_streams;
};

/* SO_REUSEPORT on the listening socket (socket(7)): N servers, one per
 * loop/thread, on one port, the kernel spreading connections. */
#define COIL_HTTP_SERVER_REUSEPORT (1u << 0)
/* IPV6_V6ONLY for an AF_INET6 address. */
#define COIL_HTTP_SERVER_V6ONLY (1u << 1)
/* HTTP/2 (RFC 9113, through libnghttp2) beside HTTP/1.1: on plain TCP a
 * connection that opens with the client preface is HTTP/2 "with prior
 * knowledge" (h2c, §3.3); over TLS a connection whose ALPN chose "h2"
 * (§3.2; list "h2" first in the TLS configuration's alpn). */
#define COIL_HTTP_SERVER_H2 (1u << 2)
/* The open-file cache's bodies by sendfile(2) rather than from memory:
 * it keeps copies only of files under opts.sendfile_min_bytes (at most
 * 64 KiB), pins larger ones (mmap(2) and mlock(2), once resident) and
 * sends their bodies on plain TCP with coil_sendfile() and
 * COIL_SENDFILE_RESIDENT: no copy in the server, the page cache's pages
 * handed to the socket, at one sendfile(2) per socket-full (no
 * cachestat(2)). Without it (the default) pinned files, like copies, go
 * from memory in ring sends: no system call, one copy into the socket.
 * Which is cheaper depends on the host (docs/BENCHMARKS.md, "Pinned large
 * files"); over TLS bodies always go from memory or by read. */
#define COIL_HTTP_SERVER_FILE_SENDFILE (1u << 3)

/* Counters of one server (coil_http_server_stats()). */
struct coil_http_server_stats {
	uint64_t accepted;  /* connections accepted */
	uint64_t refused;   /* accepted and closed at once (max_conns) */
	uint64_t requests;  /* request heads handed to the handler */
	uint64_t responses; /* responses queued, server errors included */
	uint64_t errors;    /* responses the server made itself (4xx/5xx) */
	uint64_t timeouts;  /* connections ended by a time limit */
	uint64_t resets;    /* connections that failed (reset, write error) */
	uint64_t tls_failures; /* TLS handshakes that failed */
	unsigned conns;	       /* connections open now */
	unsigned conns_max;    /* the most open at once */
	/* memory: an idle keep-alive connection holds neither of the next
	 * two, only its connection struct */
	unsigned exchanges; /* connections holding a request's state now */
	unsigned inbufs;    /* input buffers held now (partial input) */
	/* the most exchanges held at once since the server started: a
	 * request answered at once holds one from its first bytes until its
	 * answer is queued (not sent), so a burst of first requests needs
	 * few */
	unsigned exchanges_max;
	/* answers being sent from the server's answer blocks now (small
	 * answers queued whole, copied out of their exchange: one at most a
	 * connection, at most 2 KiB each, in 4 KiB chunks) */
	unsigned answers;
	uint64_t trims; /* memory given back after a burst (times) */
	/* memory given back once requests went quiet for a tick of the
	 * server's timer (a quarter of its shortest time limit, 10 ms to
	 * 1 s): the provided buffers' pages their reads touched, the free
	 * lists beyond 16 entries, the heap's free pages (times) */
	uint64_t quiet_trims;
	/* memory given back under load: the heap's free space grew by
	 * 1 MiB since its low after the last trim (a burst's memory freed
	 * while the connections stay busy), its pages returned (times) */
	uint64_t load_trims;
	/* the bytes of one connection's own struct, all that an idle
	 * keep-alive connection holds (its TCP stream's core, the list
	 * links, one input pointer, its kick-list link; with TLS the TLS
	 * stream) */
	size_t conn_bytes;
	/* the bytes an answer block holds beside its answer's own (the
	 * write request the stream keeps until the send completes, and its
	 * chunk's address); the block is that sum rounded up to 8 */
	size_t answer_overhead_bytes;
	/* answers sent from the bytes of an equal answer before them (same
	 * bytes, carved one after the other from the same chunk): they held
	 * only their block's overhead (times, since the server started) */
	uint64_t answers_shared;
	/* the open-file cache (opts.file_cache_files) */
	uint64_t file_cache_hits;      /* requests served from an entry */
	uint64_t file_cache_misses;    /* paths opened (no entry) */
	unsigned file_cache_files;     /* entries now */
	size_t file_cache_bytes;       /* file contents held now */
	uint64_t file_cache_drops;     /* entries dropped by a change on disk */
	uint64_t file_cache_overflows; /* inotify queue overflows */
	uint64_t file_cache_unwatched; /* files opened but not cached */
	/* of file_cache_bytes, the files over 64 KiB pinned in memory
	 * (mapped and locked: sent from their pages, no sendfile(2)) */
	size_t file_cache_pinned;
	uint64_t file_cache_pin_fails; /* mmap(2)/mlock(2) refused them */
};

/*
 * coil_http_server_new() - listen and serve on @loop.
 * @out:  receives the server; free it with coil_http_server_free() after
 *        coil_http_server_shutdown() completed.
 * @loop: the loop (its thread); the server is used only on it.
 * @opts: read during the call (addr and tls are borrowed as described).
 *
 * Opens a listener (coil_listener_open(): socket, SO_REUSEADDR, optional
 * SO_REUSEPORT, bind, listen, then a multishot accept,
 * io_uring_prep_multishot_accept(3)). Each connection becomes a TCP stream
 * (coil/stream.h) reading by multishot recv, or with opts->tls a TLS
 * stream over it (coil_tls_open(), coil/tls.h) whose handshake must end
 * within header_timeout_ns; a failed handshake closes the connection
 * (counted in tls_failures). A TLS client that closes without close_notify
 * is taken as closing (HTTP's framing shows whether a message was cut).
 *
 * Return: 0; -EINVAL for NULL arguments, no handler, no address, a
 * max_head_bytes below 64 or above 1 MiB, max_headers 0 or above 1024,
 * a timeout above one day, file_cache_files above 2^20 (but UINT_MAX);
 * -ENOTSUP for opts->tls when coil was built without the TLS layer (no
 * coil/tls.h); -ENOMEM; the listener's errors (-EADDRINUSE, -EACCES,
 * -EAFNOSUPPORT, -EMFILE ...).
 */
int coil_http_server_new(struct coil_http_server **out, struct coil_loop *loop,
			 const struct coil_http_server_opts *opts);

/*
 * coil_http_server_addr() - the bound address (getsockname(2)).
 * Return: 0; -EINVAL for NULL arguments or a server whose listener is
 * closed (after coil_http_server_shutdown()).
 */
int coil_http_server_addr(const struct coil_http_server *srv,
			  struct sockaddr_storage *ss, socklen_t *len);

/*
 * coil_http_server_shutdown() - stop gracefully.
 * @drain_ns: how long in-flight requests may take to finish.
 * @done:     initialised, not in flight; its callback runs on the loop
 *            with 0 once every connection is closed and the listener is
 *            closed (the server may then be freed), or with 1 if the drain
 *            time ran out and connections had to be cut.
 *
 * Stops accepting (the listener is closed at once), closes idle keep-alive
 * connections, lets each request in progress finish (its response carries
 * "Connection: close"), then closes its connection. When @drain_ns passes,
 * the remaining connections are closed; a handler still holding a request
 * gets its cancel hook (coil_http_sreq_on_cancel()) and must still complete
 * the request, after which the server is done.
 *
 * Return: 0; -EINVAL for NULL; -EALREADY if a shutdown was started.
 */
int coil_http_server_shutdown(struct coil_http_server *srv, uint64_t drain_ns,
			      struct coil_op *done);

/*
 * coil_http_server_free() - free a server whose shutdown completed, or
 * NULL. A server that is still running (not shut down) must not be freed.
 */
void coil_http_server_free(struct coil_http_server *srv);

/* coil_http_server_stats() - the server's counters. */
void coil_http_server_stats(const struct coil_http_server *srv,
			    struct coil_http_server_stats *st);

/* coil_http_server_loop() - the server's loop. */
struct coil_loop *coil_http_server_loop(const struct coil_http_server *srv);

/* coil_http_server_set_data(), coil_http_server_data() - a pointer of the
 * caller's, kept with the server (per-loop state of the application). */
void coil_http_server_set_data(struct coil_http_server *srv, void *data);
void *coil_http_server_data(const struct coil_http_server *srv);

/*
 * A request. Handed to the handler; the fields above "private" are
 * read-only for it, except data. The strings point into the connection's
 * head buffer and are valid until the request is completed; they are not
 * NUL-terminated.
 */
struct coil_http_sreq {
	const char *method; /* token, e.g. "GET" */
	size_t method_len;
	const char *target; /* request target as sent (RFC 9112 §3.2) */
	size_t target_len;
	const char *path; /* target before '?' (still percent-encoded) */
	size_t path_len;
	const char *query; /* after '?', without it; length 0 if none */
	size_t query_len;
	/* the authority the request names: an absolute-form target's
	 * (RFC 9112 §3.2.2; path is then the part after it, "/" when empty),
	 * else the Host field's value; NULL when neither */
	const char *host;
	size_t host_len;
	int major_version; /* 1, or 2 for HTTP/2 (RFC 9113) */
	int minor_version; /* HTTP/1.minor: 0 or 1; 0 with HTTP/2 */
	int is_head;	   /* the method is HEAD: responses carry no body */
	const struct coil_http_header *headers;
	unsigned nheaders;
	/* COIL_HTTP_BODY_NONE, _LENGTH or _CHUNKED; with HTTP/2, _CHUNKED
	 * stands for a body without content-length (DATA frames up to
	 * END_STREAM, RFC 9113 §8.1) */
	int body_kind;
	uint64_t content_length; /* with COIL_HTTP_BODY_LENGTH */
	/* the whole body, once coil_http_sreq_read_body() reported 0 */
	const void *body;
	size_t body_len;
	struct coil_http_server *server;
	struct coil_loop *loop;
	void *data; /* the handler's; NULL when the request arrives */
};

/*
 * coil_http_sreq_header() - the value of the first field named @name
 * (NUL-terminated, any case, RFC 9110 §5.1).
 * @len: receives the value's length; may be NULL.
 * Return: the value (not NUL-terminated), or NULL when absent.
 */
const char *coil_http_sreq_header(const struct coil_http_sreq *req,
				  const char *name, size_t *len);

/*
 * coil_http_sreq_peer() - the client's address (getpeername(2), called
 * once per connection and kept).
 * @ss, @len: receive the address (AF_INET or AF_INET6) and its length.
 * Return: 0; -EINVAL for NULL arguments; getpeername(2)'s -errno
 * (-ENOTCONN once the client has gone).
 */
int coil_http_sreq_peer(const struct coil_http_sreq *req,
			struct sockaddr_storage *ss, socklen_t *len);

/* A status for the callbacks below: the body has ended. */
#define COIL_HTTP_BODY_END 1

/*
 * Callback of coil_http_sreq_read_body(): @status 0 when the whole body is
 * in req->body / req->body_len; COIL_ELIMIT when it exceeds
 * max_body_bytes (a chunked body; a declared length above it was refused
 * before the handler ran); COIL_EPARSE for malformed chunked framing;
 * COIL_ETRUNC when the client closed first; -ETIMEDOUT after
 * body_timeout_ns without a byte; -ECONNRESET or another -errno when the
 * connection failed. After an error the connection is not reused; the
 * handler still completes the request (with a response such as 413 or 400,
 * which the server sends if it still can, or with coil_http_sreq_abort()).
 */
typedef void (*coil_http_body_fn)(struct coil_http_sreq *req, int status,
				  void *arg);

/*
 * coil_http_sreq_read_body() - read the whole request body into memory.
 * @cb: runs once, from the loop, never inline.
 *
 * Sends "100 Continue" first when the client asked for it (Expect:
 * 100-continue, RFC 9110 §10.1.1) and sent no body byte yet. The body is
 * gathered in a buffer of the connection (kept for its next requests),
 * decoded from chunked if need be. A request without a body reports 0 with
 * body_len 0.
 * Return: 0; -EINVAL for NULL @req/@cb; -EALREADY if the body was already
 * asked for.
 */
int coil_http_sreq_read_body(struct coil_http_sreq *req, coil_http_body_fn cb,
			     void *arg);

/*
 * Callback of coil_http_sreq_stream_body(), once per piece.
 * @status 0: @data holds @len (> 0) body bytes (chunked framing removed).
 *            They stay valid, and no further piece comes, until
 *            coil_http_sreq_body_next() (which may be called in the
 *            callback or later, e.g. once the bytes were written
 *            elsewhere): back-pressure.
 * @status COIL_HTTP_BODY_END: the body ended (@len 0); the last call.
 * @status < 0: as for coil_http_body_fn (the last call).
 */
typedef void (*coil_http_chunk_fn)(struct coil_http_sreq *req, int status,
				   const void *data, size_t len, void *arg);

/*
 * coil_http_sreq_stream_body() - receive the body piece by piece, without
 * gathering it (uploads of any size within max_body_bytes).
 * @cb: see coil_http_chunk_fn; runs from the loop, never inline.
 *
 * "100 Continue" as for coil_http_sreq_read_body().
 * Return: 0; -EINVAL for NULL @req/@cb; -EALREADY if the body was already
 * asked for.
 */
int coil_http_sreq_stream_body(struct coil_http_sreq *req,
			       coil_http_chunk_fn cb, void *arg);

/* coil_http_sreq_body_next() - done with the piece the stream callback got:
 * the next piece may come. Return: 0; -EINVAL if no piece is lent. */
int coil_http_sreq_body_next(struct coil_http_sreq *req);

/*
 * coil_http_sreq_on_cancel() - set the request's cancel hook: called at most
 * once, from the loop, when the connection failed (reset, write error,
 * time limit) or a shutdown's drain time ran out while the handler holds
 * the request. The handler should stop its work (cancel its timers ...)
 * and complete the request; responses are then dropped.
 * Return: 0; -EINVAL for NULL @req.
 */
int coil_http_sreq_on_cancel(struct coil_http_sreq *req,
			     void (*fn)(struct coil_http_sreq *req, void *arg),
			     void *arg);

/*
 * coil_http_respond() - answer with a body from memory, and complete the
 * request.
 * @status:   200-599 (100-199 are the server's: 100 Continue).
 * @headers:  the caller's fields (e.g. Content-Type); the server writes
 *            Date, Connection and Content-Length (RFC 9110 §6.6.1, RFC 9112
 *            §6.2, §9.6) and refuses them here, as coil_http_response_write()
 *            does.
 * @body:     copied (into the connection's output buffer, or a heap copy
 *            when it does not fit there); not sent for HEAD (but counted
 *            in Content-Length), nor with 204 and 304, which take none.
 *
 * Whatever it returns, @req is no longer the caller's afterwards.
 * Return: 0 (also when the connection already failed: the response is
 * dropped); -EINVAL for a NULL @req, a request already completed, a status
 * outside 200-599, a body with 204/304, or fields the writer refuses: the
 * server then answers 500 instead; -ENOMEM (a large body could not be
 * copied): the connection is closed.
 */
int coil_http_respond(struct coil_http_sreq *req, int status,
		      const struct coil_http_header *headers, size_t nheaders,
		      const void *body, size_t len);

/*
 * coil_http_respond_file() - answer with @len bytes of file @fd from
 * offset @off, and complete the request.
 * @fd: taken over by the server whatever the result: closed through the
 *      ring (io_uring_prep_close(3)) when the response is done.
 *
 * The head is sent with Content-Length @len. On plain TCP a body of at
 * least opts.sendfile_min_bytes (16 KiB) goes by coil_sendfile() once the
 * head is sent: sendfile(2) from the loop hands the page cache's pages to
 * the socket without a copy while the page cache holds them; from the
 * first range it does not hold, the rest is read as below (the loop never
 * waits on the disk). A reader that takes nothing for write_timeout_ns is
 * cut. Smaller bodies, and all over
 * TLS, are read with IORING_OP_READ into 64 KiB buffers of the server (a
 * free list) and each piece leaves in one send together with whatever
 * precedes it. A file that turns out shorter than @len ends the
 * connection (the client sees a truncated body, RFC 9112 §8). HEAD sends
 * the head only.
 * Return: as coil_http_respond(); -EBADF for a negative @fd.
 */
int coil_http_respond_file(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, int fd, uint64_t off, uint64_t len);

/* Options of coil_http_serve_root(). Zero means default. */
struct coil_http_serve_opts {
	unsigned flags; /* COIL_HTTP_SERVE_* */
	/* Called instead of answering 404 (nothing at the path) or 403 (a
	 * directory without index.html, listing off): the request is the
	 * handler's again, as if just handed to it, and @fallback answers
	 * it (nginx's try_files). NULL: 404 or 403. */
	coil_http_handler fallback;
	void *fallback_arg;
};

/* A directory without index.html answers with an HTML listing of its
 * entries (nginx's autoindex): names HTML-escaped, hrefs percent-encoded,
 * subdirectories first, then by name; names starting with '.' left out. */
#define COIL_HTTP_SERVE_AUTOINDEX (1u << 0)

/*
 * coil_http_serve_root() - answer with what the request's path names under
 * a root directory, as a static file server (nginx's static module) does.
 * @root_fd: an O_PATH or O_DIRECTORY fd of the root, kept open by the
 *           caller while the server runs.
 * @opts:    NULL for defaults; copied.
 *
 * Decodes req->path with coil_http_path_decode() (400 for what it
 * refuses), appends "index.html" to a path ending in '/', then opens it
 * through the ring with openat2(2) and RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS (coil_openat2()): a path or symbolic link that
 * leads out of the root is refused by the kernel (403), as are special
 * files (403: FIFOs, devices); a missing file is 404.
 *
 * Found, it takes GET and HEAD only: other methods get 405 with "Allow:
 * GET, HEAD" (RFC 9110 §15.5.6). A directory named without its final
 * '/' gets 301 with Location: the path with '/' appended (and the query
 * kept), absolute from the Host field and the connection's scheme as
 * nginx builds it, relative without a Host. A directory without
 * index.html gets its listing with COIL_HTTP_SERVE_AUTOINDEX, else 403
 * (or the fallback).
 *
 * A regular file is sent as by coil_http_respond_file(), with a
 * Content-Type from its extension, Last-Modified (its mtime), ETag
 * ("MTIME-SIZE" in hex, nginx's strong validator, RFC 9110 §8.8.3) and
 * "Accept-Ranges: bytes". Preconditions are evaluated in RFC 9110
 * §13.2.2's order: If-Match / If-Unmodified-Since failing give 412;
 * If-None-Match matching (weak comparison), or else If-Modified-Since not
 * older than the mtime, give 304 with the validators. Then a GET's
 * Range (§14.2; HEAD's is ignored), if If-Range (§13.1.5) holds: one
 * satisfiable range gives 206 with Content-Range, one unsatisfiable 416
 * with a Content-Range of "*" and the length (RFC 9110 §14.4); several
 * ranges give the whole file
 * with 200 (no multipart/byteranges; 416 when none is satisfiable); a
 * Range that does not parse is ignored. Completes the request (or hands
 * it to the fallback).
 * Unless opts.file_cache_files is UINT_MAX, a path opened before and
 * unchanged since (inotify) is answered from the server's open-file
 * cache (its descriptor and statx, and a file of up to 64 KiB from
 * memory) without opening it again; (@root_fd, path) is the key, so the
 * root's fd must not be reused for another directory while the server
 * runs.
 * Over HTTP/2 (req->major_version 2, COIL_HTTP_SERVER_H2) the answers are
 * the same, decided by the same code, with the fields in lower case and
 * none of HTTP/1.1's connection-specific ones (RFC 9113 §8.2.2): the
 * file's body is read through the ring in 64 KiB pieces as the session
 * pulls it (or lent from the open-file cache's copy, the same cache as
 * HTTP/1.1's), so it goes out as the client's flow-control window opens
 * (RFC 9113 §5.2); a stream whose window stays closed for
 * write_timeout_ns is reset (CANCEL), and a file found shorter than its
 * content-length resets the stream (INTERNAL_ERROR) after the bytes it
 * had; the other streams of the connection go on.
 * Return: as coil_http_respond().
 */
int coil_http_serve_root(struct coil_http_sreq *req, int root_fd,
			 const struct coil_http_serve_opts *opts);

/* coil_http_serve_file() - coil_http_serve_root() with default options
 * (no listing, no fallback). */
int coil_http_serve_file(struct coil_http_sreq *req, int root_fd);

/*
 * coil_http_path_decode() - percent-decode a request path (RFC 3986 §2.1)
 * into a path relative to a root, safe to open beneath it.
 * @path:  e.g. req->path: must start with '/'.
 * @out:   receives the decoded path without its leading '/',
 *         NUL-terminated ("" for "/").
 * @cap:   bytes at @out.
 *
 * Refused with -EINVAL: no leading '/'; '%' not followed by two hex
 * digits; an encoded '/' or '\' (%2F, %5C: a segment that would become
 * two); NUL (raw or %00) and other control bytes; a "." or ".." segment
 * (raw or encoded), and empty segments ("//"). -ENAMETOOLONG when the
 * result does not fit in @cap.
 * Return: the decoded length (>= 0); -EINVAL; -ENAMETOOLONG.
 */
int coil_http_path_decode(const char *path, size_t len, char *out, size_t cap);

/* coil_http_content_type() - a Content-Type for a file name's extension
 * ("text/html; charset=utf-8" for .html ...), or
 * "application/octet-stream". Return: a static string. */
const char *coil_http_content_type(const char *name, size_t len);

/* coil_http_respond_begin() with an unknown length: chunked for HTTP/1.1
 * clients (RFC 9112 §7.1), close-delimited for HTTP/1.0 (§6.3 rule 8). */
#define COIL_HTTP_LENGTH_UNKNOWN UINT64_MAX

/*
 * coil_http_respond_begin() - start a streamed response.
 * @content_length: the body's length, or COIL_HTTP_LENGTH_UNKNOWN.
 *
 * Writes the head; the body follows with coil_http_respond_write() and
 * ends with coil_http_respond_end(), which completes the request. For
 * HEAD (and 204/304) the writes are accepted and dropped.
 * Return: 0; -EINVAL as for coil_http_respond() (then the server has
 * answered 500 and completed the request); -EALREADY if a response was
 * begun already.
 */
int coil_http_respond_begin(struct coil_http_sreq *req, int status,
			    const struct coil_http_header *headers,
			    size_t nheaders, uint64_t content_length);

/* Callback of coil_http_respond_write(): @status 0 when the bytes were
 * handed to the kernel, -errno when the connection failed (the handler
 * should then end the response). */
typedef void (*coil_http_sent_fn)(struct coil_http_sreq *req, int status,
				  void *arg);

/*
 * coil_http_respond_write() - send @len body bytes of a streamed response.
 * @data: borrowed until @cb runs (no copy; a chunk of a chunked response
 *        is framed around it).
 * @cb:   runs once, from the loop, never inline; may be NULL (then @data
 *        must stay valid until the request completes).
 *
 * At most one write is outstanding per request: call again from @cb
 * (back-pressure follows the client's reading).
 * Return: 0; -EINVAL for NULL @req, no response begun, or more bytes than
 * the announced length; -EBUSY while a write is outstanding; -EPIPE or the
 * connection's error once it failed (@cb will not run).
 */
int coil_http_respond_write(struct coil_http_sreq *req, const void *data,
			    size_t len, coil_http_sent_fn cb, void *arg);

/*
 * coil_http_respond_end() - end a streamed response (the last chunk for
 * chunked) and complete the request. A body shorter than the announced
 * length closes the connection after it (the client sees a truncated
 * message, RFC 9112 §8). May be called while a write is outstanding (the
 * end follows it).
 * Return: 0; -EINVAL for NULL @req or no response begun.
 */
int coil_http_respond_end(struct coil_http_sreq *req);

/*
 * coil_http_sreq_abort() - complete the request without (the rest of) a
 * response: the connection is closed. When the request body was malformed
 * (COIL_EPARSE) or too large (COIL_ELIMIT) and no response has begun, the
 * server answers 400 or 413 before it closes.
 * Return: 0; -EINVAL for NULL @req or a request already completed.
 */
int coil_http_sreq_abort(struct coil_http_sreq *req);

/* ---- N loops on N threads ---- */

struct coil_http_threads;

/* Options of coil_http_threads_start(). Zero means default. */
struct coil_http_threads_opts {
	unsigned threads; /* loops/threads, default 1, max 1024 */
	const struct coil_loop_opts *loop; /* each thread's loop options */
	/* Run on each thread after its server started / after its shutdown
	 * completed (the loop still runs: ops may be submitted; the thread
	 * ends once nothing is in flight). on_start returning < 0 makes
	 * coil_http_threads_start() fail with that value. */
	int (*on_start)(struct coil_http_server *srv, unsigned index,
			void *arg);
	void (*on_stop)(struct coil_http_server *srv, unsigned index,
			void *arg);
	void *arg;
};

/*
 * coil_http_threads_start() - run @threads servers, each on its own loop
 * and thread, on one port (COIL_HTTP_SERVER_REUSEPORT is set). With port 0
 * the first server picks the port and the others bind the same one.
 * @sopts: as for coil_http_server_new(); read during the call.
 * @topts: NULL for defaults.
 *
 * A port given explicitly must be free: SO_REUSEPORT would let a second
 * server of the same user share it silently, so the port is first bound
 * once without it (and with SO_REUSEADDR), and -EADDRINUSE returned if
 * anything listens there.
 *
 * Returns once every thread is serving, or failed. Threads inherit the
 * caller's signal mask: block SIGINT/SIGTERM first and sigwait(3) for them
 * in the caller, then coil_http_threads_stop().
 * Return: 0; -EINVAL for NULL or bad options; coil_loop_new()'s and
 * coil_http_server_new()'s errors; an on_start error; -errno of
 * pthread_create(3). Nothing is left running on failure.
 */
int coil_http_threads_start(struct coil_http_threads **out,
			    const struct coil_http_server_opts *sopts,
			    const struct coil_http_threads_opts *topts);

/* coil_http_threads_addr() - the bound address. Return: 0; -EINVAL. */
int coil_http_threads_addr(const struct coil_http_threads *t,
			   struct sockaddr_storage *ss, socklen_t *len);

/*
 * coil_http_threads_stop() - shut every server down gracefully
 * (coil_http_server_shutdown() with @drain_ns on each loop). From any
 * thread (not from a signal handler); later calls do nothing.
 * Return: 0; -EINVAL for NULL.
 */
int coil_http_threads_stop(struct coil_http_threads *t, uint64_t drain_ns);

/*
 * coil_http_threads_wait() - wait until every thread has ended.
 * @stats: if not NULL, receives the servers' counters summed (conns_max
 *         summed too).
 * Return: 0 if every server drained in time; 1 if a drain ran out of time
 * and connections were cut; -EINVAL for NULL.
 */
int coil_http_threads_wait(struct coil_http_threads *t,
			   struct coil_http_server_stats *stats);

/* coil_http_threads_loop_stats() - the loops' counters (enters, SQEs ...)
 * summed; valid after coil_http_threads_wait(). */
void coil_http_threads_loop_stats(const struct coil_http_threads *t,
				  struct coil_loop_stats *st);

/* coil_http_threads_free() - stop (drain 0) and wait if need be, then
 * free; NULL is fine. */
void coil_http_threads_free(struct coil_http_threads *t);

#ifdef __cplusplus
}
#endif
#endif /* COIL_HTTP_SERVER_H */
