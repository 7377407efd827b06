/*
 * coil/stream.h - connected byte streams (TCP now, TLS on top of it later)
 * and TCP listeners.
 *
 * One interface, several implementations, the way curl stacks its TLS
 * connection filter on its socket filter (lib/cfilters.h): every stream
 * starts with a struct coil_stream whose vt points to a small table of
 * functions (struct coil_stream_vt). Callers only use the coil_stream_*()
 * functions below, which check their arguments and dispatch through vt; a
 * TLS stream is another vt whose functions read and write a lower stream
 * (normally a struct coil_tcp) with those same coil_stream_*() calls. Code
 * written against struct coil_stream works unchanged over TCP or TLS.
 *
 * Who allocates (libuv's rule, docs/src/handle.rst): the caller. A stream
 * (struct coil_tcp), a write request (struct coil_stream_write) and a
 * listener (struct coil_listener) are embedded in the caller's own structs;
 * coil never allocates them and never frees them. Nothing on the data path
 * allocates once warm: reads land in the loop's provided buffers (or,
 * without multishot recv, in one buffer per stream allocated when reading
 * starts), writes are gathered from the caller's memory, and what a TCP
 * stream needs beyond an armed read (its write part and its extension,
 * see struct coil_tcp) comes from lists the loop keeps. The one exception is a
 * paused stream that received more than COIL_TCP_HELD buffers before the pause
 * took effect (see coil_stream_read_stop()).
 *
 * Lifetime rules:
 *  - A stream is "open" from a successful coil_tcp_connect() / coil_tcp_open()
 *    until its close callback has run. While open, its memory must not move
 *    or be freed. coil_stream_close() is the only way to end it; the close
 *    callback runs exactly once, on the loop, after every op of the stream
 *    has completed and its fd is closed. In or after the close callback the
 *    memory may be freed or reused. No callback of the stream (read, write,
 *    connect) runs after its close callback.
 *  - Exception: a connect that fails on its own (its callback gets an
 *    error other than the -ECANCELED of a close) leaves the stream holding
 *    nothing (no fd, no op): the caller may free it at once,
 *    coil_tcp_connect() it again, or close it as usual. After -ECANCELED
 *    (coil_stream_close() during the connect) wait for the close callback.
 *  - A write request and the memory it points to (buffers and the iovec
 *    array) belong to the stream from coil_stream_write*() returning 0 until
 *    its callback starts. Its callback runs exactly once.
 *  - Everything runs on the loop's thread; callbacks never run inline from
 *    the call that caused them.
 *
 * Results: 0 or a count on success, the kernel's -errno on failure
 * (-ECONNREFUSED, -ECONNRESET, -EPIPE, -ETIMEDOUT ...), coil's COIL_E* codes
 * from engine.h for the rest.
 */
#ifndef COIL_STREAM_H
#define COIL_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "coil/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct coil_stream;
struct coil_stream_write;

/* ---- callbacks ----------------------------------------------------------- */

/*
 * The read callback (coil_stream_read_start()).
 * @nread > 0: @buf holds @nread bytes, readable only during the call (it is
 *             a provided buffer that goes back to the ring afterwards).
 * @nread == 0: end of stream: the peer shut down its sending side (FIN).
 *             No read callback follows; the stream can still be written.
 * @nread < 0: -errno: the stream failed (-ECONNRESET, -ETIMEDOUT from a
 *             deadline, ...). No read callback follows; close the stream.
 * Bytes received before an EOF or an error are always delivered first.
 * The kernel reports a reset (RST) only once per socket: when a send took
 * it first, the read side gets -ECONNRESET instead of the EOF the kernel
 * then shows it, so an aborted connection never looks like a clean end.
 * The callback may call any coil_stream_*() function, including
 * coil_stream_read_stop() (no further callback until read_start) and
 * coil_stream_close() (no further read callback at all).
 */
typedef void (*coil_stream_read_cb)(struct coil_stream *s, ssize_t nread,
				    const void *buf);

/*
 * A write request's callback. @status: 0 when all its bytes were handed to
 * the kernel (a send completed for the last of them) or, for a shutdown
 * request, when shutdown(2) completed; -errno when the stream could not
 * send them (-EPIPE, -ECONNRESET, -ETIMEDOUT for the write deadline,
 * -ECANCELED when the stream was closed first). Writes complete in the
 * order they were queued, so a callback with 0 means every earlier write
 * of the stream was sent too. The request is the caller's again when this
 * starts (it may be reused or freed in the callback).
 */
typedef void (*coil_stream_write_cb)(struct coil_stream_write *w, int status);

/* A connect callback: @status 0 when connected, -errno when not. */
typedef void (*coil_stream_connect_cb)(struct coil_stream *s, int status);

/* The close callback: runs once; the stream's memory is free to go. */
typedef void (*coil_stream_close_cb)(struct coil_stream *s);

/* ---- the interface --------------------------------------------------------
 */

/*
 * Per-stream counters, kept by every implementation for its own level (a
 * TLS stream counts plaintext; its TCP stream counts ciphertext), as
 * coil_stream_stats() reports them.
 */
struct coil_stream_stats {
	uint64_t bytes_in;   /* bytes delivered to / received for reading */
	uint64_t bytes_out;  /* bytes sent */
	uint64_t recvs;	     /* recv completions that carried data */
	uint64_t sends;	     /* send/sendmsg operations completed */
	uint64_t writes;     /* write requests accepted */
	uint64_t queued;     /* bytes queued and not yet sent, now */
	uint64_t queued_max; /* the most bytes ever queued at once */
	uint64_t held;	     /* provided buffers held while paused, now */
	uint64_t held_max;   /* the most buffers ever held at once */
	uint64_t spilled;    /* bytes copied aside while paused (see below) */
	uint64_t spill_max;  /* the most bytes ever copied aside at once */
	uint64_t pauses;     /* times reading was paused */
	uint64_t rx_stamped; /* recv completions with a kernel timestamp */
};

/*
 * The counters as a stream keeps them (struct coil_stream's stats; read
 * them with coil_stream_stats()): byte totals in 64 bits; counts in 32,
 * which wrap after 2^32 (four billion sends of one connection); the
 * largest queue and spill saturating at UINT32_MAX bytes; held buffers
 * (at most COIL_TCP_HELD) in 8. 64 bytes where the reported form takes
 * 104, in every stream.
 */
struct coil__stream_ctr {
	uint64_t bytes_in, bytes_out, queued, spilled;
	uint32_t recvs, sends, writes, pauses, rx_stamped;
	uint32_t queued_max, spill_max;
	uint8_t held, held_max;
};

/*
 * The function table behind a stream. Implementations (TCP here, TLS in
 * coil/tls.h) provide one static const table. The coil_stream_*() wrappers
 * check arguments and the common state (closing, busy requests) before
 * calling these, so an implementation only sees valid calls:
 *  - read_start: s->read_cb is set; start or resume reading. Return 0/-errno.
 *  - read_stop:  pause reading (no read callback until read_start again).
 *  - write:      @w is filled in (iov, iovcnt, len, cb) and marked
 *                COIL_STREAM_W_QUEUED; queue it. Return 0, or -errno (its cb
 *                won't run; the wrapper clears the mark). Clear the mark
 *                before calling w->cb (if not NULL).
 *  - shutdown:   @w is a shutdown request (no bytes); queue it after every
 *                write queued before it.
 *  - close:      COIL_STREAM_CLOSING is set and s->close_cb stored; end
 *                every op, complete the queued requests, then call
 *                coil_stream_finish_close() once, from the loop.
 *  - set_timeouts: change the deadlines (see coil_stream_set_timeouts()).
 *  - fd:         the socket underneath, or -1.
 */
struct coil_stream_vt {
	const char *name; /* "tcp", "tls" */
	int (*read_start)(struct coil_stream *s);
	int (*read_stop)(struct coil_stream *s);
	int (*write)(struct coil_stream *s, struct coil_stream_write *w);
	int (*shutdown)(struct coil_stream *s, struct coil_stream_write *w);
	int (*close)(struct coil_stream *s);
	int (*set_timeouts)(struct coil_stream *s, uint64_t idle_ns,
			    uint64_t read_ns, uint64_t write_ns);
	int (*fd)(const struct coil_stream *s);
};

/* struct coil_stream flags */
#define COIL_STREAM_OPEN (1u << 0)    /* initialised, close not yet done */
#define COIL_STREAM_CLOSING (1u << 1) /* coil_stream_close() was called */
/* the current read's coil_stream_rx_time() is the kernel's timestamp */
#define COIL_STREAM_RX_KERNEL (1u << 2)

/*
 * The common head of every stream. Embed an implementation's struct (which
 * starts with this) and pass &impl->s to the coil_stream_*() functions.
 * @data is the caller's; the rest is read-only for callers and written by
 * the wrappers and the implementation.
 */
struct coil_stream {
	const struct coil_stream_vt *vt;
	struct coil_loop *loop;
	void *data; /* the caller's, untouched by coil */
	coil_stream_read_cb read_cb;
	coil_stream_close_cb close_cb;
	unsigned flags;		       /* COIL_STREAM_* */
	struct coil__stream_ctr stats; /* coil_stream_stats() */
	uint64_t rx_ns;		       /* see coil_stream_rx_time() */
};

/* request flags (private) */
#define COIL_STREAM_W_QUEUED (1u << 0)
#define COIL_STREAM_W_SHUTDOWN (1u << 1)
#define COIL_STREAM_W_MORE (1u << 2) /* coil_stream_writev_more() */

/*
 * A write (or shutdown) request. Embed it; set nothing by hand: the
 * coil_stream_write*() and coil_stream_shutdown() calls fill it in. @data
 * is the caller's. Below that the fields belong to the stream while the
 * request is queued; implementations use them to track progress.
 */
struct coil_stream_write {
	coil_stream_write_cb cb;
	void *data; /* the caller's, untouched by coil */
	/* private to the stream implementation below this line */
	struct coil_stream_write *next;
	const struct iovec *iov; /* the caller's array, or &one */
	struct iovec one;	 /* coil_stream_write()'s single buffer */
	unsigned iovcnt;
	unsigned idx;	/* first iovec not completely sent */
	size_t off;	/* bytes of iov[idx] already sent */
	size_t len;	/* total bytes of the request */
	unsigned flags; /* COIL_STREAM_W_* */
};

/* ---- using a stream (any implementation) ----------------------------------
 */

/*
 * coil_stream_read_start() - start or resume delivering received bytes.
 * @s:  an open stream, not closing.
 * @cb: the read callback (replaces an earlier one).
 *
 * TCP reads through a multishot recv into the loop's provided buffers
 * (io_uring_prep_recv_multishot(3), kernel 6.0); without
 * COIL_FEAT_MULTISHOT_RECV, through single-shot recvs into one buffer of
 * the stream's own (coil_tcp_opts.rbuf_size), re-armed after each callback.
 * Bytes held while reading was paused are delivered first, on the loop,
 * never inline from this call. Calling it on a stream that is not connected
 * yet is fine: reading starts when it is. After the read side ended (EOF or
 * error delivered) it does nothing.
 *
 * Return: 0; -EINVAL for a NULL argument or a stream that is not open;
 * COIL_ECLOSED when the stream is closing; -ENOMEM when the single-shot
 * buffer cannot be allocated.
 */
int coil_stream_read_start(struct coil_stream *s, coil_stream_read_cb cb);

/*
 * coil_stream_read_stop() - pause reading (back-pressure).
 * @s: an open stream.
 *
 * No read callback runs until coil_stream_read_start() again; error
 * reports are the exception: a deadline failure is delivered to the read
 * callback even while paused (the stream is finished anyway). TCP cancels
 * its multishot recv (coil_cancel()) and re-arms it on resume, so the kernel
 * stops taking data and TCP flow control pushes back on the sender. Bytes
 * that arrived before the cancel took effect (the rest of that turn's
 * completions) are kept until reading resumes: the first COIL_TCP_HELD
 * in the provided buffers they came in (stats.held), the rest copied into
 * a spill buffer of the stream's (stats.spilled) so that a paused stream
 * never keeps more than COIL_TCP_HELD buffers of the loop's shared ring
 * from the other streams; the spill buffer is freed once delivered. The
 * single-shot path simply does not re-arm (at most its one buffer is held).
 * The read deadline does not run while paused.
 *
 * Return: 0; -EINVAL for NULL or a stream that is not open; -ENOMEM when
 * a TCP stream cannot take its extension (where held bytes are kept).
 */
int coil_stream_read_stop(struct coil_stream *s);

/*
 * coil_stream_write() - queue @len bytes at @buf for sending.
 * @s:   a connected stream, not closing or shut down for writing.
 * @w:   zeroed memory, or a request whose callback has run; filled in
 *       here.
 * @buf: kept unchanged by the caller until @cb runs. May be NULL if @len 0.
 * @cb:  runs once, from the loop, when the bytes are sent (see
 *       coil_stream_write_cb); may be NULL, then the request is the
 *       caller's again when any later write's callback reports 0, or at the
 *       close callback.
 *
 * Writes are queued in order. A TCP stream keeps at most one send in
 * flight: everything queued while one is in flight, or during the same
 * loop turn, leaves in a single sendmsg(2) (up to COIL_TCP_IOV iovecs
 * gathered across requests), so many small writes cost few sends
 * (stats.sends vs stats.writes). Short sends are resumed where they stopped.
 *
 * Return: 0; -EINVAL for NULL @s/@w, or NULL @buf with @len > 0; -EBUSY if
 * @w is still queued; -ENOTCONN before the stream is connected;
 * COIL_ECLOSED when closing; -EPIPE after coil_stream_shutdown(); the
 * stream's error (-ECONNRESET, -EPIPE, -ETIMEDOUT ...) once a send failed
 * or a deadline expired; -ENOMEM when a TCP stream cannot take its
 * write part (the write queue lives there).
 */
int coil_stream_write(struct coil_stream *s, struct coil_stream_write *w,
		      const void *buf, size_t len, coil_stream_write_cb cb);

/*
 * coil_stream_writev() - queue the bytes of @iovcnt iovecs for sending.
 * @iov: the array and the memory it points to are kept unchanged by the
 *       caller until @cb runs (no copy is made).
 * @iovcnt: 0 .. 1024 (IOV_MAX).
 *
 * As coil_stream_write() otherwise. Return: as coil_stream_write(), and
 * -EINVAL for NULL @iov with @iovcnt > 0, or @iovcnt > 1024.
 */
int coil_stream_writev(struct coil_stream *s, struct coil_stream_write *w,
		       const struct iovec *iov, unsigned iovcnt,
		       coil_stream_write_cb cb);

/*
 * coil_stream_writev_more() - as coil_stream_writev(), for bytes that more
 * will follow at once through the same socket by other means (a
 * coil_sendfile() after @cb, say): the TCP stream sends them with
 * MSG_MORE (send(2)) when nothing else is queued behind them, so that
 * they leave in one segment with what follows instead of a small one of
 * their own. The caller must send more, or shut down or close the stream:
 * until then the kernel may hold the bytes back. Other streams (TLS)
 * treat it as coil_stream_writev().
 */
int coil_stream_writev_more(struct coil_stream *s, struct coil_stream_write *w,
			    const struct iovec *iov, unsigned iovcnt,
			    coil_stream_write_cb cb);

/*
 * coil_stream_shutdown() - half-close: shut down the sending side once
 * every write queued before it was sent (shutdown(2) with SHUT_WR,
 * io_uring_prep_shutdown(3)). The peer reads EOF; this stream can still
 * read what the peer sends back.
 * @w:  a request not queued elsewhere, used as the shutdown request.
 * @cb: runs once when shutdown(2) completed (0) or failed (-errno,
 *      -ECANCELED if closed first); may be NULL.
 *
 * Return: 0; -EINVAL for NULL @s/@w; -EBUSY if @w is queued; -ENOTCONN
 * before connected; COIL_ECLOSED when closing; -EPIPE if already shut down;
 * the stream's error once it failed; -ENOMEM as coil_stream_write().
 */
int coil_stream_shutdown(struct coil_stream *s, struct coil_stream_write *w,
			 coil_stream_write_cb cb);

/*
 * coil_stream_close() - close the stream.
 * @s:  an open stream (connected, connecting, or after a failed connect).
 * @cb: runs once, from the loop, when everything is done; may be NULL.
 *
 * Stops reading at once (no read callback from here on), cancels every op
 * in flight on the socket (coil_cancel() on each: one kernel hash lookup;
 * IORING_ASYNC_CANCEL_FD would scan every poll entry of the ring) and
 * the deadline timer, waits for all their completions, completes the
 * connect callback (-ECANCELED) and every queued write (-ECANCELED, or 0 if
 * its send had completed) in order, gives held buffers back to the ring,
 * closes the fd through the ring (io_uring_prep_close(3)), then runs @cb.
 * Unsent bytes are dropped; to send them first, wait for the last write's
 * callback (or shut down) before closing.
 *
 * Return: 0; -EINVAL for NULL or a stream that is not open; -EALREADY if
 * close was already called.
 */
int coil_stream_close(struct coil_stream *s, coil_stream_close_cb cb);

/*
 * coil_stream_set_timeouts() - set the stream's deadlines, counted from
 * now. 0 turns one off. All three end the stream with -ETIMEDOUT: the read
 * callback gets it (also when paused), queued writes complete with it.
 * @idle_ns:  no byte received or sent for this long.
 * @read_ns:  no byte received for this long while reading is active (not
 *            counted while paused or before read_start).
 * @write_ns: a send makes no progress for this long (a linked timeout on
 *            every send, io_uring_prep_link_timeout(3)).
 * TCP checks idle and read with one ring timer per stream
 * (IORING_OP_TIMEOUT, absolute), re-armed lazily: activity only updates a
 * timestamp, the timer re-checks when it fires.
 *
 * Return: 0; -EINVAL for NULL or a stream that is not open; COIL_ECLOSED
 * when closing; -ENOMEM when a TCP stream cannot take its extension (its
 * timer lives there; turning every deadline off needs none).
 */
int coil_stream_set_timeouts(struct coil_stream *s, uint64_t idle_ns,
			     uint64_t read_ns, uint64_t write_ns);

/*
 * coil_stream_rx_time() - when the bytes of the current read arrived.
 * @s: a stream, read from inside its read callback.
 *
 * On coil_now()'s clock (CLOCK_MONOTONIC ns). For a TCP stream opened with
 * COIL_TCP_RX_TIME on a loop with COIL_FEAT_MULTISHOT_RECV, the kernel's
 * receive timestamp of the read (see coil_buf_recvmsg(): when the last
 * packet of the read reached the socket, before the loop woke up or
 * reaped it), so a turn that reaps late (a batched wait, a busy
 * callback) does not shift it; s->flags has COIL_STREAM_RX_KERNEL then,
 * and stats.rx_stamped counts the reads that had one. Otherwise, or when a read
 * came without one (or with one a clock step made useless: coil_buf_recvmsg()),
 * the time the loop reaped the read (coil_now() of its turn).
 * Bytes held while paused keep their own read's time; bytes copied aside
 * (stats.spilled) carry the latest copied read's. A TLS stream (coil/tls.h)
 * reports the time of the latest TCP read under it when it delivers plaintext,
 * which is the read that completed the record being delivered (or a later one).
 * At the end of the stream or an error: the time it was delivered.
 * Return: that time; 0 before the first read or for NULL @s.
 */
uint64_t coil_stream_rx_time(const struct coil_stream *s);

/* coil_stream_fd() - the socket under @s, or -1 (none, or NULL @s). */
int coil_stream_fd(const struct coil_stream *s);

/*
 * coil_stream_stats() - a copy of the stream's counters.
 * @s: any stream, open or not (its counters live until it is reused), or
 *     NULL.
 *
 * The counts are kept in 32 bits (struct coil__stream_ctr) and wrap after
 * 2^32; queued_max and spill_max stop at UINT32_MAX. The copy is the
 * caller's: it does not change with the stream.
 *
 * Return: the counters; all zero for NULL @s.
 */
struct coil_stream_stats coil_stream_stats(const struct coil_stream *s);

/*
 * coil_stream_init() - for implementations: set up the common head.
 * @s: the head of a new stream; zeroed except @s->data, which is kept.
 * Sets vt, loop, COIL_STREAM_OPEN. Callers of streams never need it.
 */
void coil_stream_init(struct coil_stream *s, struct coil_loop *loop,
		      const struct coil_stream_vt *vt);

/*
 * coil_stream_finish_close() - for implementations: the close is done.
 * Clears the stream's flags and runs s->close_cb (if any) once. Call it
 * from the loop, as the very last thing that touches the stream.
 */
void coil_stream_finish_close(struct coil_stream *s);

/* ---- TCP streams ------------------------------------------------------------
 */

/* iovecs gathered into one sendmsg(2) */
#define COIL_TCP_IOV 32
/* provided buffers a paused stream keeps at most (the rest is copied) */
#define COIL_TCP_HELD 4

/* Options for a TCP stream. Zero means "default" for every field. */
struct coil_tcp_opts {
	uint64_t connect_timeout_ns; /* whole connect; 0 = the kernel's */
	uint64_t idle_timeout_ns;    /* see coil_stream_set_timeouts() */
	uint64_t read_timeout_ns;
	uint64_t write_timeout_ns;
	unsigned rbuf_size; /* single-shot recv buffer, default 16384 */
	int sndbuf;	    /* SO_SNDBUF if > 0 (socket(7)) */
	int rcvbuf;	    /* SO_RCVBUF if > 0 */
	unsigned flags;	    /* COIL_TCP_* */
};

#define COIL_TCP_NO_NODELAY (1u << 0) /* keep Nagle (default: TCP_NODELAY) */
#define COIL_TCP_SINGLESHOT (1u << 1) /* single-shot recv even if multishot */
/* Receive timestamps: SO_TIMESTAMPING (SOF_TIMESTAMPING_RX_SOFTWARE |
 * SOF_TIMESTAMPING_SOFTWARE) on the socket and a multishot recvmsg that
 * brings them (coil_recv_multishot_ts()), so coil_stream_rx_time() is the
 * kernel's arrival time. Needs COIL_FEAT_MULTISHOT_RECV; without it (or if
 * the socket refuses the option) reads are timed when reaped. */
#define COIL_TCP_RX_TIME (1u << 2)
/*
 * COIL_TCP_QUIET_SENDS: sends nobody waits for, for a request/response
 * client that writes again only once the peer answered everything written
 * before (one request in flight, like a load generator's open model). A
 * send of one buffer then leaves with coil_send_quiet()
 * (IOSQE_CQE_SKIP_SUCCESS): its success posts no completion, which saves
 * a wake-up and usually one io_uring_enter(2) per request. The stream takes
 * the bytes as sent when the next byte arrives on the read side (the peer
 * could only answer what it received) and runs the write callbacks (0)
 * just before that read callback; writes queued meanwhile wait for it, so
 * sends never overtake one another. A failed quiet send is reported
 * nowhere: the peer does not answer, and the read side ends with the
 * connection's error, or the caller's own time limit fires. Closing with a
 * quiet send unanswered completes its write with -ECANCELED and cancels the
 * send by the fd. The written bytes stay valid until their callback or, for
 * a write still unanswered at close, until the loop is freed (a load
 * generator's pre-built requests). Sends of several buffers, ending in
 * coil_stream_writev_more(), with a write deadline, and a loop without
 * COIL_FEAT_CQE_SKIP take the ordinary way.
 */
#define COIL_TCP_QUIET_SENDS (1u << 3)

/*
 * A TCP stream. Embed it; pass &t->s to the coil_stream_*() functions.
 * Everything after s is private.
 *
 * What an idle stream with a multishot read armed needs is in struct
 * coil_tcp itself (the socket, the flag word, the read op). The rest is
 * in two blocks of the loop's, each taken when the stream first needs it
 * and given back once it is idle again, so that a keep-alive server
 * connection between requests holds neither:
 *  - its write part (struct coil__tcp_wr: the send op, the write queue,
 *    the link in the loop's list of streams to kick), taken by a write or
 *    a kick and held until the queue is sent: what a write in flight
 *    costs;
 *  - its extension (struct coil__tcp_ext: the deadline timer, bytes held
 *    while paused, the single-shot buffer, the connect's addresses),
 *    taken only by a pause, deadlines, single-shot reads or a connect.
 */
struct coil__sendv;
struct coil_tcp;

struct coil__tcp_wr {
	struct coil_tcp *t;
	struct coil__tcp_wr *kick_next; /* the loop's list of streams to kick */
	struct coil_op wr;		/* send/sendmsg, shutdown */
	struct coil_stream_write *wq_head, *wq_tail; /* write queue */
	/* a sendmsg's header and iovecs, from the loop's list while one is
	 * in flight (the kernel reads them until it completes), else NULL */
	struct coil__sendv *sv;
	size_t sending; /* bytes in the send in flight */
};

struct coil__tcp_ext {
	struct coil_tcp *t;
	struct coil_op tmr; /* idle/read deadline timer */
	/* bytes kept while paused: provided buffers (see held) ... */
	uint64_t held[COIL_TCP_HELD];	 /* bid << 48 | offset << 32 | len */
	uint64_t held_rx[COIL_TCP_HELD]; /* their receive times */
	uint64_t spill_rx, rbuf_rx;
	unsigned held_head, held_n;
	/* ... then copies of what came after them */
	unsigned char *spill;
	size_t spill_off, spill_len, spill_cap;
	/* ... or the single-shot buffer */
	unsigned char *rbuf;
	unsigned rbuf_off, rbuf_len;
	/* connect */
	const struct sockaddr_storage *addrs;
	unsigned naddrs, tried;
	unsigned next4, next6;
	int last_family;
	int sndbuf, rcvbuf;
	uint64_t connect_deadline_ns;
	coil_stream_connect_cb connect_cb;
	/* deadlines */
	uint64_t idle_ns, read_ns, write_ns;
	uint64_t last_rd_ns, last_any_ns, tmr_at_ns;
};

struct coil_tcp {
	struct coil_stream s;
	/* private to engine/tcp.c below this line */
	int fd;
	unsigned st; /* TCP state bits */
	int fail;    /* the stream's error once failed, else 0 */
	int wfail;   /* the write side's error once a send failed, else 0 */
	int rd_end;  /* EOF (0) or -errno waiting behind held bytes */
	unsigned rbuf_size;	 /* single-shot recv buffer's size */
	struct coil_op rd;	 /* connect, then recv; last the close */
	struct coil__tcp_wr *w;	 /* the write part, while used; else NULL */
	struct coil__tcp_ext *x; /* the extension, while used; else NULL */
};

/*
 * coil_tcp_connect() - open a TCP stream to the first address that
 * answers.
 * @loop:   the loop (its thread).
 * @t:      unused memory (or a stream whose close callback ran, or whose
 *          connect failed); initialised here. @t->s.data is kept.
 * @addrs:  resolved addresses (AF_INET / AF_INET6, port set), borrowed
 *          until @cb runs; 1 .. 65535 of them, in the resolver's order.
 *          Or AF_UNIX addresses only (a pathname or abstract socket,
 *          unix(7)): a Unix stream socket, tried in order; TCP_NODELAY
 *          does not apply to it.
 * @opts:   options, or NULL for defaults; read during the call only.
 * @cb:     runs once, from the loop: 0 when connected, or the error.
 *
 * Tries the addresses one at a time (socket(2), then IORING_OP_CONNECT,
 * io_uring_prep_connect(3)), moving to the next on failure. The order
 * alternates address families starting with the first address's, as Happy
 * Eyeballs sorts them (RFC 8305 section 4); attempts are sequential, not
 * raced. With a connect timeout, the time left is shared out: each attempt
 * gets (time left) / (addresses left) as a linked timeout, so one address
 * that drops SYNs cannot eat the whole budget. Sockets get TCP_NODELAY
 * (tcp(7)) unless COIL_TCP_NO_NODELAY, and SO_SNDBUF/SO_RCVBUF if asked.
 * An address whose family the host lacks (socket(2) -EAFNOSUPPORT) is
 * skipped. Errors to @cb: the last attempt's -errno (-ECONNREFUSED,
 * -ENETUNREACH, ...), or -ETIMEDOUT when the connect timeout passed;
 * -ECANCELED if the stream was closed first (its close callback follows).
 * After another error the stream holds nothing (see the lifetime rules at
 * the top).
 *
 * The first attempt is submitted from this call, so a deadline scope open
 * around it (coil_deadline_enter()) also limits that attempt; use
 * connect_timeout_ns for the whole connect. The stream's other ops are
 * submitted from the loop and ignore the caller's scopes: streams keep
 * time with their own timeouts.
 *
 * Return: 0 (the callback will run); -EINVAL for NULL @loop/@t/@addrs/@cb
 * or @naddrs 0 or > 65535; -ENOMEM for the stream's extension (which
 * holds the connect's state); -EAFNOSUPPORT for an address that is neither
 * AF_INET, AF_INET6 nor AF_UNIX, or AF_UNIX mixed with the others; -EMFILE,
 * -ENFILE, -ENOBUFS, -ENOMEM from socket(2) for the first attempt (the callback
 * will not run).
 */
int coil_tcp_connect(struct coil_loop *loop, struct coil_tcp *t,
		     const struct sockaddr_storage *addrs, unsigned naddrs,
		     const struct coil_tcp_opts *opts,
		     coil_stream_connect_cb cb);

/*
 * coil_tcp_open() - make a stream of a connected socket (an fd from a
 * listener callback, accept4(2), socketpair(2) ...).
 * @fd: a connected SOCK_STREAM socket; on success the stream owns it and
 *      closes it at coil_stream_close(); on failure it stays the caller's.
 *
 * Applies TCP_NODELAY (ignored where it does not apply, e.g. AF_UNIX) and
 * the buffer sizes from @opts, and arms the deadline timer if @opts sets
 * idle or read timeouts. The stream is connected at once.
 *
 * Return: 0; -EINVAL for NULL @loop/@t; -EBADF for a negative or closed
 * @fd; -ENOTSOCK if @fd is not a socket; -EPROTOTYPE if it is not
 * SOCK_STREAM; -ENOMEM when @opts sets a deadline and the stream cannot
 * take its extension.
 */
int coil_tcp_open(struct coil_loop *loop, struct coil_tcp *t, int fd,
		  const struct coil_tcp_opts *opts);

/* ---- listeners ------------------------------------------------------------
 */

struct coil_listener;

/*
 * The listener callback.
 * @fd >= 0: an accepted connection (SOCK_CLOEXEC), now the caller's: make a
 *           stream of it with coil_tcp_open() into memory of the caller's
 *           choosing, or close(2) it.
 * @fd < 0:  -errno. -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM: the listener
 *           keeps going and retries after a back-off (5 ms doubling to 1 s,
 *           as Go's net/http does); any other error stopped it (restart with
 *           coil_listener_start() or close it). Transient per-connection
 *           errors (ECONNABORTED and the others accept(2) says to treat like
 *           EAGAIN) are not reported.
 */
typedef void (*coil_listener_cb)(struct coil_listener *l, int fd);
typedef void (*coil_listener_close_cb)(struct coil_listener *l);

/* Listener options. Zero means "default". */
struct coil_listener_opts {
	int backlog;	/* listen(2) backlog, default 511 (nginx's) */
	unsigned flags; /* COIL_LISTEN_* */
};

/* SO_REUSEPORT (socket(7)): N listeners (one per loop/thread) on one port,
 * the kernel spreading connections among them. */
#define COIL_LISTEN_REUSEPORT (1u << 0)
#define COIL_LISTEN_V6ONLY (1u << 1) /* IPV6_V6ONLY for AF_INET6 */

/*
 * A listener. Embed it; @data is the caller's, the rest is private.
 */
struct coil_listener {
	struct coil_loop *loop;
	void *data; /* the caller's, untouched by coil */
	/* private to engine/listener.c below this line */
	int fd;
	unsigned st;
	coil_listener_cb cb;
	coil_listener_close_cb close_cb;
	uint64_t backoff_ns;
	uint64_t accepted;  /* connections handed out */
	struct coil_op acc; /* accept (multishot where available) */
	struct coil_op tmr; /* back-off timer, then close */
};

/*
 * coil_listener_open() - listen on @addr and start accepting.
 * @loop: the loop (its thread).
 * @l:    unused memory (or a listener whose close callback ran); @l->data
 *        is kept.
 * @addr: AF_INET or AF_INET6 address (port 0 picks one: read it back with
 *        coil_listener_addr()); read during the call only.
 * @opts: options, or NULL for defaults.
 * @cb:   runs on the loop once per accepted connection (or error).
 *
 * socket(2), SO_REUSEADDR (and SO_REUSEPORT with COIL_LISTEN_REUSEPORT),
 * bind(2), listen(2) with the backlog, all done here; then a multishot
 * accept (io_uring_prep_multishot_accept(3), kernel 5.19), re-armed after
 * its final completion; without COIL_FEAT_MULTISHOT_ACCEPT, one single-shot
 * accept after another.
 *
 * Return: 0; -EINVAL for NULL @loop/@l/@addr/@cb, a bad @len or a negative
 * backlog; -EAFNOSUPPORT for another family; bind(2)'s -EADDRINUSE,
 * -EACCES, -EADDRNOTAVAIL; socket(2)'s -EMFILE, -ENFILE, -ENOMEM.
 */
int coil_listener_open(struct coil_loop *loop, struct coil_listener *l,
		       const struct sockaddr *addr, socklen_t len,
		       const struct coil_listener_opts *opts,
		       coil_listener_cb cb);

/*
 * coil_listener_stop() - stop accepting: cancel the accept (coil_cancel()).
 * The cancel is asynchronous: connections the kernel accepted before it
 * landed (at most those of the current loop turn) are still handed to the
 * callback, so no client is reset by the race; after that, the callback
 * does not run until coil_listener_start(). Connections keep queueing in
 * the kernel's backlog meanwhile.
 * Return: 0; -EINVAL for NULL or a closed listener; COIL_ECLOSED when
 * closing.
 */
int coil_listener_stop(struct coil_listener *l);

/* coil_listener_start() - accept again after stop (or a fatal error).
 * Return: 0; -EINVAL for NULL or a closed listener; COIL_ECLOSED when
 * closing. */
int coil_listener_start(struct coil_listener *l);

/*
 * coil_listener_close() - stop, wait for the accept op and the back-off
 * timer to complete, close the listening socket through the ring, then run
 * @cb (may be NULL) once; in or after it @l may be freed. Connections
 * already handed out are not affected.
 * Return: 0; -EINVAL for NULL or a listener that is not open; -EALREADY if
 * close was already called.
 */
int coil_listener_close(struct coil_listener *l, coil_listener_close_cb cb);

/*
 * coil_listener_addr() - the bound address (getsockname(2)).
 * @ss, @len: filled in.
 * Return: 0; -EINVAL for NULL arguments or a listener that is not open.
 */
int coil_listener_addr(const struct coil_listener *l,
		       struct sockaddr_storage *ss, socklen_t *len);

/* coil_listener_fd() - the listening socket, or -1. */
int coil_listener_fd(const struct coil_listener *l);

#ifdef __cplusplus
}
#endif
#endif /* COIL_STREAM_H */
