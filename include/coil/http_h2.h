/*
 * coil/http_h2.h - an HTTP/2 session (RFC 9113) over any coil stream (TCP
 * or TLS), for the client or the server role.
 *
 * libnghttp2 (Debian 12: 1.52) does the framing, HPACK (RFC 7541), the
 * stream states and the flow-control arithmetic; coil does the I/O, the
 * scheduling and the limits:
 *  - input: the session reads its stream (coil_stream_read_start()) and
 *    feeds each read to nghttp2_session_mem_recv(); the handler's
 *    callbacks run from there, on the loop, inside the stream's read
 *    callback (so coil_stream_rx_time() is the time of the read that
 *    completed a response);
 *  - output: frames are gathered with nghttp2_session_mem_send() into two
 *    buffers of the session's, written alternately, so everything a loop
 *    turn produced (the answers to one read, the requests its callbacks
 *    submitted, SETTINGS and PING acknowledgements, WINDOW_UPDATEs) leaves
 *    in one write, never one per frame: the kick and the pump of
 *    docs/ARCHITECTURE.md;
 *  - limits (struct coil_h2_opts): the header list and its frames, the
 *    body per stream, control frames per second (SETTINGS, PING,
 *    RST_STREAM floods), a send window that stays closed.
 *
 * Roles: coil_h2_client() sends the connection preface (RFC 9113 §3.4);
 * coil_h2_server() expects it. Negotiation is the caller's: ALPN "h2" over
 * TLS (coil_h2_alpn for coil_tls_opts.alpn; coil_tls_info()->alpn says what
 * was chosen, RFC 9113 §3.2) or prior knowledge over TCP (h2c, §3.3).
 *
 * Lifetime: the session takes over the stream from coil_h2_client() /
 * coil_h2_server() returning 0: its read callback and s->data are the
 * session's, and the caller must not read, write or close the stream
 * itself. coil_h2_close() closes the stream; the close callback runs once
 * the stream's close callback ran, and then the session is freed. No
 * handler callback runs after coil_h2_close() returned, except on_close
 * for the streams still open (with -ECANCELED), just before the close
 * callback. Everything runs on the stream's loop thread.
 *
 * Errors a stream or the session can end with, besides the stream's own
 * (-ECONNRESET, -ETIMEDOUT, COIL_ETLS ...): COIL_EH2_RESET (the peer reset
 * the stream), COIL_EH2_GOAWAY (the peer went away: the stream was not
 * processed, or the session ended with the peer's error code),
 * COIL_EH2_FLOW (the peer's flow-control window stayed closed),
 * COIL_EH2 (the peer broke the protocol: we sent GOAWAY or RST_STREAM),
 * COIL_ELIMIT (a limit of coil_h2_opts), COIL_ETRUNC (the stream ended with
 * the HTTP/2 stream still open). The RFC 9113 §7 error code travels
 * beside them.
 */
#ifndef COIL_HTTP_H2_H
#define COIL_HTTP_H2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coil/http_message.h"
#include "coil/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

struct coil_h2;

/* ALPN list for an HTTP/2 client or server that also speaks HTTP/1.1, in
 * preference order (RFC 7301, RFC 9113 §3.2): {"h2", "http/1.1", NULL}. */
extern const char *const coil_h2_alpn[];

/* Options. Zero means "default" for every field. */
struct coil_h2_opts {
	/* SETTINGS_MAX_CONCURRENT_STREAMS we send: streams the peer may
	 * open at once (a server's limit; a client sends 0: no push).
	 * Default 100 (RFC 9113 §6.5.2 recommends no less). */
	uint32_t max_concurrent_streams;
	/* SETTINGS_INITIAL_WINDOW_SIZE we send: bytes the peer may send on
	 * one stream before our WINDOW_UPDATE. Default 1 MiB. */
	uint32_t stream_window_bytes;
	/* the connection's receive window (§6.9.2). Default 16 MiB. */
	uint32_t conn_window_bytes;
	/* SETTINGS_MAX_HEADER_LIST_SIZE we send and enforce on each header
	 * block received: the sum of name + value + 32 per field (§6.5.2).
	 * Over it the stream is reset and ends with COIL_ELIMIT. Default
	 * 64 KiB. */
	uint32_t max_header_list_bytes;
	/* HEADERS + CONTINUATION frames in one header block; more ends the
	 * session with COIL_ELIMIT (a CONTINUATION flood). Default 16. */
	uint32_t max_header_frames;
	/* DATA bytes received per stream; more resets the stream (CANCEL)
	 * and ends it with COIL_ELIMIT. 0 = no limit. */
	uint64_t max_body_bytes;
	/* SETTINGS, PING, RST_STREAM and PRIORITY frames received in any one
	 * second of the session; more ends the session with COIL_ELIMIT
	 * (floods that cost the receiver, RFC 9113 §10.5). Default 1000. */
	uint32_t max_control_per_sec;
	/* A stream with a body to send whose send window (the stream's or
	 * the connection's) stays at 0 this long is reset and ends with
	 * COIL_EH2_FLOW. Default 10 s. */
	uint64_t flow_timeout_ns;
	/* SETTINGS_HEADER_TABLE_SIZE we send: the bytes of HPACK dynamic
	 * table our decoder keeps for the peer's header blocks (RFC 7541
	 * §4.2, §6.3; RFC 9113 §6.5.2), at most 1 MiB (more: -EINVAL).
	 * Default 4096, the protocol's initial size. COIL_H2_TABLE_NONE
	 * asks for none: the peer's encoder says so at the start of its
	 * next header block and indexes nothing after, which saves our
	 * decoder an insertion and an eviction per field the peer would
	 * have indexed (nginx marks every response field so), at the cost
	 * of fields it would have referred to coming literal. */
	uint32_t header_table_bytes;
};

/* coil_h2_opts.header_table_bytes: no dynamic table (size 0) */
#define COIL_H2_TABLE_NONE UINT32_MAX

/* on_head flags */
#define COIL_H2_END_STREAM (1u << 0) /* no DATA follows on the stream */
#define COIL_H2_TRAILERS (1u << 1)   /* a trailer section (§8.1) */

/*
 * What the session tells its owner. Every callback is optional but
 * on_close and on_end. @sdata is the stream's data (coil_h2_request(),
 * coil_h2_set_stream_data()). Callbacks may call any coil_h2_*() function;
 * submissions made from them leave with the same write as the rest of the
 * turn's output.
 */
struct coil_h2_handler {
	/*
	 * A header block arrived complete (HEADERS and its CONTINUATIONs): a
	 * response head (client: ":status" first), a request head (server:
	 * ":method", ":scheme", ":authority", ":path"; the stream is new and
	 * @sdata NULL until coil_h2_set_stream_data()), an interim 1xx head,
	 * or trailers (COIL_H2_TRAILERS). Pseudo-headers come first, as
	 * nghttp2 checked them (RFC 9113 §8.3). @fields and the bytes they
	 * point to are valid during the call only.
	 */
	void (*on_head)(struct coil_h2 *h, int32_t sid, void *sdata,
			const struct coil_http_header *fields, unsigned n,
			unsigned flags);
	/* DATA payload of a stream, in order; valid during the call only.
	 * Flow control: the window is given back once the call returned.
	 * @len 0 (@buf NULL): the peer's END_STREAM came on a DATA frame:
	 * its body is complete (a server answers a whole body then). */
	void (*on_data)(struct coil_h2 *h, int32_t sid, void *sdata,
			const void *buf, size_t len);
	/*
	 * The stream ended (its last callback). @err 0: both sides ended it
	 * (END_STREAM sent and received). Otherwise COIL_EH2_RESET (the peer's
	 * RST_STREAM, @code its error code), COIL_EH2_GOAWAY (refused by the
	 * peer's GOAWAY: not processed, safe to retry), COIL_EH2 (we reset
	 * it: the peer broke the protocol, @code what we sent), COIL_EH2_FLOW,
	 * COIL_ELIMIT, or the session's error (-ECONNRESET, COIL_ETRUNC, ...);
	 * -ECANCELED from coil_h2_close() or coil_h2_reset().
	 */
	void (*on_close)(struct coil_h2 *h, int32_t sid, void *sdata, int err,
			 uint32_t code);
	/*
	 * The session ended: no stream is open any more (each had on_close)
	 * and nothing more will be read or sent. @err 0: a clean end (GOAWAY
	 * without error once the last stream ended, or the peer closed with
	 * no stream open). Otherwise the stream's error, COIL_ETRUNC,
	 * COIL_EH2 (we sent GOAWAY with an error, e.g. PROTOCOL_ERROR),
	 * COIL_EH2_GOAWAY (the peer's GOAWAY carried an error), COIL_ELIMIT.
	 * Call coil_h2_close() (here or later).
	 */
	void (*on_end)(struct coil_h2 *h, int err);
	/* The peer's SETTINGS arrived (coil_h2_room() may have changed). */
	void (*on_settings)(struct coil_h2 *h);
};

/*
 * A body to send. Either @buf/@len (borrowed until the stream's on_close
 * runs), or @read: called when the send window has room, to copy up to
 * @cap bytes into @dst. It returns the bytes copied (> 0), 0 at the end of
 * the body, -EAGAIN when nothing is ready (call coil_h2_resume() when it
 * is), or another -errno to reset the stream (it ends with that error).
 */
struct coil_h2_body {
	const void *buf;
	size_t len;
	ssize_t (*read)(struct coil_h2 *h, int32_t sid, void *sdata, void *dst,
			size_t cap);
};

/* What the session saw; from coil_h2_info(). */
struct coil_h2_info {
	uint32_t peer_max_streams;  /* the peer's MAX_CONCURRENT_STREAMS */
	uint32_t peer_window_bytes; /* its INITIAL_WINDOW_SIZE */
	uint32_t peer_max_frame;    /* its MAX_FRAME_SIZE */
	int goaway_received;	    /* 1 once the peer sent GOAWAY */
	uint32_t goaway_code;	    /* its error code */
	int32_t goaway_last_sid;    /* its last stream id */
	uint64_t streams_opened;    /* streams started (either side) */
	uint64_t resets_received;   /* RST_STREAM frames received */
	uint64_t writes;	    /* stream writes made */
	uint64_t frames_in, frames_out;
};

/*
 * coil_h2_client() - start a client session on a connected stream.
 * @s:    a connected stream (TCP, or TLS after its handshake chose "h2"),
 *        taken over by the session (see the lifetime rules above).
 * @opts: options, or NULL; read during the call only.
 * @hd:   callbacks, borrowed for the session's life.
 * @data: the caller's (coil_h2_data()).
 * @out:  the session.
 *
 * Queues the connection preface and our SETTINGS (§3.4) and starts
 * reading; requests may be submitted at once (they leave after the
 * preface).
 *
 * Return: 0; -EINVAL for NULL arguments, a stream that is not open, or
 * options out of range (a window over 2^31-1, RFC 9113 §6.9.1; a header
 * table over 1 MiB); -ENOMEM;
 * the stream's error from coil_stream_read_start().
 */
int coil_h2_client(struct coil_stream *s, const struct coil_h2_opts *opts,
		   const struct coil_h2_handler *hd, void *data,
		   struct coil_h2 **out);

/*
 * coil_h2_server() - start a server session on an accepted stream.
 * @pre, @pre_len: bytes already read from the stream (the start of the
 *        client's preface seen by an HTTP/1.1 parser: h2c prior
 *        knowledge), fed first; may be NULL/0. Copied.
 * As coil_h2_client() otherwise: sends our SETTINGS, expects the client's
 * preface (a wrong one ends the session with COIL_EH2).
 */
int coil_h2_server(struct coil_stream *s, const struct coil_h2_opts *opts,
		   const struct coil_h2_handler *hd, void *data,
		   const void *pre, size_t pre_len, struct coil_h2 **out);

/*
 * coil_h2_request() - open a stream with a request (client).
 * @fields: the request head, pseudo-headers first (":method", ":scheme",
 *          ":authority", ":path"; RFC 9113 §8.3.1), names in lower case;
 *          copied during the call.
 * @body:   NULL for none (END_STREAM on the HEADERS frame); else borrowed
 *          as struct coil_h2_body says; the struct itself is copied.
 * @sdata:  the stream's data for the handler.
 *
 * The stream leaves with the turn's output. Check coil_h2_room() first:
 * beyond the peer's MAX_CONCURRENT_STREAMS the stream waits in nghttp2's
 * queue until one ends.
 * Return: the stream id (> 0); -EINVAL for NULL @h/@fields, 0 fields or a
 * server session; COIL_EH2_GOAWAY after the peer's GOAWAY; COIL_ECLOSED
 * once the session ended or is closing; -ENOMEM; COIL_ELIMIT when stream
 * ids are used up (the session must be replaced).
 */
int32_t coil_h2_request(struct coil_h2 *h,
			const struct coil_http_header *fields, unsigned n,
			const struct coil_h2_body *body, void *sdata);

/*
 * coil_h2_respond() - send a response on a stream the peer opened (server).
 * @fields: ":status" first, then the fields; copied.
 * @body:   NULL for none; else as for coil_h2_request().
 * Return: 0; -EINVAL for NULL arguments or a client session; -ENOENT for a
 * stream that is not open; COIL_ECLOSED after the end; -ENOMEM.
 */
int coil_h2_respond(struct coil_h2 *h, int32_t sid,
		    const struct coil_http_header *fields, unsigned n,
		    const struct coil_h2_body *body);

/*
 * coil_h2_resume() - a body's read() said -EAGAIN and has data now.
 * Return: 0; -EINVAL for NULL; -ENOENT for a stream not open or without a
 * deferred body; COIL_ECLOSED after the end.
 */
int coil_h2_resume(struct coil_h2 *h, int32_t sid);

/*
 * coil_h2_reset() - reset a stream (RST_STREAM with @code, RFC 9113 §6.4;
 * 0x8 CANCEL to abandon one). Its on_close follows with -ECANCELED.
 * Return: 0; -EINVAL for NULL; -ENOENT for a stream not open;
 * COIL_ECLOSED after the end.
 */
int coil_h2_reset(struct coil_h2 *h, int32_t sid, uint32_t code);

/*
 * coil_h2_shutdown() - end the session gracefully: GOAWAY with NO_ERROR
 * (§6.8) naming the last stream the peer opened; no new stream is taken or
 * opened, the open ones finish, then on_end(0).
 * Return: 0; -EINVAL for NULL; COIL_ECLOSED after the end.
 */
int coil_h2_shutdown(struct coil_h2 *h);

/*
 * coil_h2_close() - end now: close the stream (open streams get on_close
 * with -ECANCELED), then run @cb(@data of the session) once, after the
 * stream's close callback; the session is freed then. Valid at any time
 * after a successful start, including from a handler callback.
 * Return: 0; -EINVAL for NULL @h; -EALREADY if close was already called.
 */
int coil_h2_close(struct coil_h2 *h, void (*cb)(void *data));

/*
 * coil_h2_room() - how many more streams may be opened now: the peer's
 * MAX_CONCURRENT_STREAMS less the streams we opened that are still open
 * (client), or 0 after GOAWAY, the end, or for NULL @h.
 */
uint32_t coil_h2_room(const struct coil_h2 *h);

/*
 * coil_h2_set_stream_data() - set the data the handler gets for stream
 * @sid (a server names its request's state after on_head; a client may
 * move it). Borrowed: coil never frees it.
 * Return: 0; -EINVAL for NULL @h; -ENOENT for a stream that is not open
 * or a session that ended or is closing.
 */
int coil_h2_set_stream_data(struct coil_h2 *h, int32_t sid, void *sdata);

/* coil_h2_data() - the caller's data given at the start (NULL for NULL). */
void *coil_h2_data(const struct coil_h2 *h);

/* coil_h2_stream() - the stream under the session (NULL for NULL). */
struct coil_stream *coil_h2_stream(const struct coil_h2 *h);

/* coil_h2_info() - what the session saw, updated as frames come and go;
 * valid until the session is freed (never NULL for non-NULL @h). */
const struct coil_h2_info *coil_h2_info(const struct coil_h2 *h);

/* coil_h2_strcode() - the name of an RFC 9113 §7 error code
 * ("PROTOCOL_ERROR", ...), "UNKNOWN" for others. */
const char *coil_h2_strcode(uint32_t code);

#ifdef __cplusplus
}
#endif
#endif /* COIL_HTTP_H2_H */
