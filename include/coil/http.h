/*
 * coil/http.h - HTTP/1.1: URLs, the message writer and parser shared by the
 * client (coil-get), the server (coil-serve) and the load tester
 * (coil-bench), and (in later sections) the client and server themselves.
 *
 * The message layer below does no I/O and allocates nothing: the URL parser
 * copies into the caller's struct, the writers fill a caller buffer, and the
 * parser returns pointers into the caller's buffer (picohttpparser's
 * contract). Sources: RFC 3986 (URIs), RFC 9110 (HTTP semantics), RFC 9112
 * (HTTP/1.1 message syntax and framing).
 *
 * Results follow the project's rule: >= 0 is a count or success, negative is
 * -errno or a COIL_E* code from coil/engine.h (coil_strerror() names it).
 */
#ifndef COIL_HTTP_H
#define COIL_HTTP_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/async.h"
#include "coil/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== URL (RFC 3986) ================================================= */

/* Longest URL coil_url_parse() takes: RFC 9110 §4.1 recommends that every
 * recipient support at least 8000 octets. */
#define COIL_URL_MAX_LEN 8000

#define COIL_URL_HOST_NAME 0 /* a registered name, to resolve */
#define COIL_URL_HOST_IPV4 1 /* dotted-quad literal */
#define COIL_URL_HOST_IPV6 2 /* bracketed literal; host() is without [] */

/*
 * A parsed http or https URL. coil_url_parse() copies what it keeps into
 * the struct itself (buf), so the input string may be freed right after the
 * call, and the struct may be copied with memcpy or assignment (it holds
 * offsets, not pointers). The strings returned by the accessors below live
 * as long as the struct and are NUL-terminated. About 8.3 KiB: keep it in
 * a request object, not in large arrays.
 */
struct coil_url {
	int https;	   /* 1 for https, 0 for http */
	int host_kind;	   /* COIL_URL_HOST_* */
	uint16_t port;	   /* the port given, or 80 / 443 */
	uint16_t host_off; /* offsets into buf; use the accessors */
	uint16_t host_len;
	uint16_t auth_off;
	uint16_t auth_len;
	uint16_t target_off;
	uint16_t target_len;
	/* on failure: a static one-line reason ("port out of range", ...),
	 * NULL on success */
	const char *why;
	char buf[COIL_URL_MAX_LEN + 288];
};

/*
 * coil_url_parse() - parse an absolute http:// or https:// URL.
 * @u:   receives the result; on failure only u->why is meaningful.
 * @s:   the URL, not necessarily NUL-terminated; read only during the call.
 * @len: bytes in @s.
 *
 * Follows RFC 3986 §3 with the http(s) rules of RFC 9110 §4.2:
 *  - the scheme is "http" or "https" in any case, followed by "//";
 *  - userinfo ("user:pass@") is refused: RFC 9110 §4.2.4 forbids sending
 *    it and it is a known phishing vector;
 *  - the host is a name (letters, digits, '-', '_', dot-separated labels of
 *    1-63 bytes, at most 253 bytes), a dotted-quad IPv4 address (a host
 *    whose last label is numeric must be one), or an IPv6 literal in
 *    brackets; IPv6 zone identifiers (RFC 6874, "%25eth0") and IPvFuture
 *    are refused. The host is kept as written (not lowercased);
 *  - the port is 1-65535; absent or empty (RFC 3986 §6.2.3) means 80 for
 *    http and 443 for https;
 *  - the request target is path plus "?query" exactly as written
 *    (percent-encoding left intact, RFC 3986 §2.1), "/" prepended when the
 *    path is empty (RFC 9112 §3.2.1); the fragment is dropped (RFC 9110
 *    §4.2.5: it is never sent);
 *  - control characters, space, DEL and bytes >= 0x80 are refused anywhere
 *    (percent-encode them), as is '%' not followed by two hex digits.
 *
 * Return: 0; -EINVAL for a malformed URL (u->why says what);
 * -EPROTONOSUPPORT for a well-formed scheme other than http/https;
 * COIL_ELIMIT when @len exceeds COIL_URL_MAX_LEN.
 */
int coil_url_parse(struct coil_url *u, const char *s, size_t len);

/* coil_url_host() - the host, NUL-terminated, for name resolution and TLS
 * SNI; an IPv6 literal comes without brackets. Length in u->host_len. */
static inline const char *coil_url_host(const struct coil_url *u)
{
	return u->buf + u->host_off;
}

/* coil_url_authority() - the value for a Host header field (RFC 9110
 * §7.2): the host as written (IPv6 in brackets) plus ":port" when the URL
 * gave a port other than the scheme's default. NUL-terminated; length in
 * u->auth_len. */
static inline const char *coil_url_authority(const struct coil_url *u)
{
	return u->buf + u->auth_off;
}

/* coil_url_target() - the request target (origin-form, RFC 9112 §3.2.1):
 * path and query as written, at least "/". NUL-terminated; length in
 * u->target_len. */
static inline const char *coil_url_target(const struct coil_url *u)
{
	return u->buf + u->target_off;
}

/* ==== message parts shared by the writer and the parser ============== */

/* One header field. From the parser: name and value point into the
 * parsed buffer, the value without leading or trailing whitespace, neither
 * NUL-terminated. To the writers: the caller's bytes, copied out. */
struct coil_http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/*
 * coil_http_reason() - the standard reason phrase of a status code
 * (RFC 9110 §15), e.g. "Not Found" for 404.
 * Return: a static string; "" for a code without a registered phrase.
 */
const char *coil_http_reason(int status);

/* ==== writer (RFC 9112 §3, §4, §6, §7.1) ============================== */

/* Flags for the writers. */
/* send "Connection: close" */
#define COIL_HTTP_CLOSE (1u << 0)
/* send "Connection: keep-alive" (for HTTP/1.0 peers, RFC 9112 §9.3) */
#define COIL_HTTP_KEEP_ALIVE (1u << 1)
/* send "Transfer-Encoding: chunked": the body follows as chunks, written
 * with coil_http_chunk_*() */
#define COIL_HTTP_CHUNKED (1u << 2)
/* announce body_len in Content-Length but do not copy the body: it is sent
 * separately (a file), or never (a HEAD response) */
#define COIL_HTTP_HEAD_ONLY (1u << 3)
/* response: no Date field */
#define COIL_HTTP_NO_DATE (1u << 4)

/* A request to write. Strings are read only during the call. */
struct coil_http_request_spec {
	/* NUL-terminated token: "GET", "POST" */
	const char *method;
	/* request target, e.g. coil_url_target() */
	const char *target;
	size_t target_len;
	/* Host value (coil_url_authority()), or NULL to omit it (then give
	 * one in headers, as HTTP/1.1 requires) */
	const char *host;
	size_t host_len;
	/* NUL-terminated, or NULL for none */
	const char *user_agent;
	/* more fields, written in order after Host and User-Agent */
	const struct coil_http_header *headers;
	size_t nheaders;
	/* body bytes; may be NULL when body_len is 0 or with
	 * COIL_HTTP_HEAD_ONLY */
	const void *body;
	uint64_t body_len;
	/* COIL_HTTP_CLOSE, _KEEP_ALIVE, _CHUNKED, _HEAD_ONLY */
	unsigned flags;
};

/*
 * coil_http_request_write() - write an HTTP/1.1 request into a buffer.
 * @buf: the caller's buffer; on failure its contents are unspecified.
 * @cap: bytes available in @buf.
 * @r:   what to write; read only during the call.
 *
 * Writes the request line, Host, User-Agent, the caller's fields in order,
 * then the framing and the body (RFC 9112 §6): with COIL_HTTP_CHUNKED
 * "Transfer-Encoding: chunked" and no body (send it with coil_http_chunk_*
 * afterwards); otherwise "Content-Length: body_len" when body_len > 0 or
 * the method is POST, PUT or PATCH (RFC 9110 §8.6), followed by the body
 * unless COIL_HTTP_HEAD_ONLY. The result is plain bytes, so a load tester
 * can build a request once and send it many times.
 *
 * Refused with -EINVAL (RFC 9110 §5.5: CR, LF and NUL in fields are
 * forbidden; §5.1, §9.1: names and methods are tokens): a method or field
 * name that is not a token; a target that is empty or holds control bytes,
 * space or DEL; a host, user agent or field value holding CR, LF, NUL or
 * another control byte except HTAB; a caller field Content-Length or
 * Transfer-Encoding (framing is the writer's), or Host / User-Agent /
 * Connection when the writer sends that field itself; both
 * COIL_HTTP_CLOSE and COIL_HTTP_KEEP_ALIVE; COIL_HTTP_CHUNKED with a body
 * or with COIL_HTTP_HEAD_ONLY; body NULL with body_len > 0 (without
 * COIL_HTTP_HEAD_ONLY); unknown flags.
 *
 * Return: bytes written (> 0); -EINVAL as above; -ENOSPC when @cap is too
 * small; -E2BIG when the result would exceed INT_MAX bytes.
 */
int coil_http_request_write(char *buf, size_t cap,
			    const struct coil_http_request_spec *r);

/* A response to write. Strings are read only during the call. */
struct coil_http_response_spec {
	/* 100-599 */
	int status;
	/* NUL-terminated, or NULL for coil_http_reason(status) */
	const char *reason;
	/* more fields, written in order after Date and Connection */
	const struct coil_http_header *headers;
	size_t nheaders;
	/* body bytes (see COIL_HTTP_HEAD_ONLY) */
	const void *body;
	uint64_t body_len;
	/* Unix time for the Date field, 0 = now */
	int64_t date_sec;
	/* COIL_HTTP_CLOSE, _KEEP_ALIVE, _CHUNKED, _HEAD_ONLY, _NO_DATE */
	unsigned flags;
};

/*
 * coil_http_response_write() - write an HTTP/1.1 response into a buffer.
 * @buf: the caller's buffer; on failure its contents are unspecified.
 * @cap: bytes available in @buf.
 * @r:   what to write; read only during the call.
 *
 * Writes "HTTP/1.1 status reason", Date (IMF-fixdate, RFC 9110 §6.6.1,
 * §5.6.7; the formatted string is cached per second and per thread),
 * Connection per the flags, the caller's fields, then the framing
 * (RFC 9112 §6.3): no length field for 1xx, 204 and 304 (RFC 9110 §8.6);
 * "Transfer-Encoding: chunked" with COIL_HTTP_CHUNKED; otherwise
 * "Content-Length: body_len" followed by the body unless
 * COIL_HTTP_HEAD_ONLY. A server must not send chunked to an HTTP/1.0
 * client (RFC 9112 §7): that is the caller's call.
 *
 * Refused with -EINVAL: status outside 100-599; a reason with control
 * bytes other than HTAB; a field name that is not a token or a value with
 * CR, LF, NUL or another control byte except HTAB; a caller field
 * Content-Length or Transfer-Encoding, Date (unless COIL_HTTP_NO_DATE) or
 * Connection (when a connection flag is set); a body with 1xx, 204 or 304;
 * COIL_HTTP_CHUNKED with a body, with HEAD_ONLY or with 1xx/204/304; both
 * connection flags; body NULL with body_len > 0 (without HEAD_ONLY); a
 * date before 1970 or after 9999; unknown flags.
 *
 * Return: bytes written (> 0); -EINVAL as above; -ENOSPC when @cap is too
 * small; -E2BIG when the result would exceed INT_MAX bytes.
 */
int coil_http_response_write(char *buf, size_t cap,
			     const struct coil_http_response_spec *r);

/*
 * coil_http_chunk_head() - write a chunk header, "<hex size>\r\n"
 * (RFC 9112 §7.1), for a chunk whose @len data bytes the caller sends
 * itself, followed by coil_http_chunk_tail().
 * Return: bytes written; -EINVAL if @len is 0 (that is the last chunk:
 * coil_http_chunk_end()); -ENOSPC.
 */
int coil_http_chunk_head(char *buf, size_t cap, uint64_t len);

/* coil_http_chunk_tail() - write the CRLF that ends a chunk's data.
 * Return: 2; -ENOSPC. */
int coil_http_chunk_tail(char *buf, size_t cap);

/*
 * coil_http_chunk_write() - write one whole chunk: size line, @len bytes
 * of @data, CRLF (RFC 9112 §7.1).
 * Return: bytes written; -EINVAL if @len is 0 (use coil_http_chunk_end())
 * or @data is NULL; -ENOSPC; -E2BIG beyond INT_MAX bytes.
 */
int coil_http_chunk_write(char *buf, size_t cap, const void *data, size_t len);

/* coil_http_chunk_end() - write the last chunk and an empty trailer
 * section, "0\r\n\r\n" (RFC 9112 §7.1). Return: 5; -ENOSPC. */
int coil_http_chunk_end(char *buf, size_t cap);

/*
 * coil_http_date() - format @unix_sec as an IMF-fixdate (RFC 9110 §5.6.7),
 * "Sun, 06 Nov 1994 08:49:37 GMT", NUL-terminated, into @out.
 * @cap: at least 30.
 * Return: 29 (characters written before the NUL); -ENOSPC when @cap < 30;
 * -EINVAL for a time before 1970 or after year 9999.
 */
int coil_http_date(char *out, size_t cap, int64_t unix_sec);

/* ==== parser (RFC 9112 §2-§7) ========================================= */

/* "Need more bytes": a message (or body) is incomplete so far. Not an
 * error; call again when more has arrived. Equal to -EAGAIN so that it
 * reads sensibly through coil_strerror() should it ever escape. */
#define COIL_HTTP_PARTIAL (-EAGAIN)

/* Defaults installed by coil_http_msg_init() and coil_http_chunked_init(). */
#define COIL_HTTP_MAX_HEAD_DEFAULT 65536 /* start line + fields + CRLF */
#define COIL_HTTP_MAX_TRAILER_DEFAULT 8192
#define COIL_HTTP_MAX_CHUNK_LINE 4096 /* chunk size + extensions */

/* How a message's body is delimited (RFC 9112 §6.3). */
#define COIL_HTTP_BODY_NONE 0	 /* no body */
#define COIL_HTTP_BODY_LENGTH 1	 /* content_length bytes */
#define COIL_HTTP_BODY_CHUNKED 2 /* chunked transfer coding */
#define COIL_HTTP_BODY_CLOSE 3	 /* response: until the server closes */

/* Flags for coil_http_parse_response(). */
#define COIL_HTTP_PARSE_HEAD (1u << 0) /* the request was HEAD: no body */

/*
 * One parsed message head. Set up with coil_http_msg_init(), reset with
 * coil_http_msg_reset() before each new message on a connection.
 */
struct coil_http_msg {
	/* inputs: set by coil_http_msg_init(), may be changed before parsing */
	struct coil_http_header *headers; /* caller's array */
	unsigned max_headers;  /* its capacity: the header count limit */
	size_t max_head_bytes; /* limit on the whole head, CRLFs included */

	/* outputs, valid once a parse returned > 0; pointers go into the
	 * buffer passed to the last parse call */
	unsigned nheaders;
	int minor_version;  /* 0 or 1 (1.x > 1 reads as 1) */
	const char *method; /* request: method token */
	size_t method_len;
	const char *target; /* request: request target */
	size_t target_len;
	int status;	    /* response: 100-999 */
	const char *reason; /* response: reason phrase, may be empty */
	size_t reason_len;
	int body;		 /* COIL_HTTP_BODY_* */
	uint64_t content_length; /* with COIL_HTTP_BODY_LENGTH */
	int keep_alive;		 /* 1: the connection may carry another
				    message after this one (RFC 9112 §9.3) */

	/* private to the parser below this line */
	const char *base; /* buffer of the previous call */
	size_t off;	  /* start of the first line not parsed yet */
	size_t scan;	  /* bytes of an incomplete line already checked */
	int phase;
};

/*
 * coil_http_msg_init() - prepare a message for parsing.
 * @m:           the caller's; holds no resources (nothing to free).
 * @headers:     array that receives the header fields; must stay valid
 *               while @m is used.
 * @max_headers: its length: a head with more fields fails with
 *               COIL_ELIMIT.
 *
 * Sets max_head_bytes to COIL_HTTP_MAX_HEAD_DEFAULT.
 */
void coil_http_msg_init(struct coil_http_msg *m,
			struct coil_http_header *headers, unsigned max_headers);

/* coil_http_msg_reset() - forget the parsed message, keep the header
 * array and the limits: ready for the next message. */
void coil_http_msg_reset(struct coil_http_msg *m);

/*
 * coil_http_parse_response() - parse a response head, incrementally.
 * @m:     initialised (coil_http_msg_init()/reset()).
 * @buf:   the bytes received so far for this message, from its first byte.
 *         Between calls the caller may append bytes (and may even move the
 *         buffer, keeping the bytes), but must not change or drop bytes
 *         already passed. Only read.
 * @len:   bytes in @buf; never less than in the previous call.
 * @flags: COIL_HTTP_PARSE_HEAD if the request was HEAD.
 *
 * Parses the status line (HTTP/1.0 or 1.x, reason phrase optional) and the
 * header fields (RFC 9112 §4, §5), then computes the body framing (RFC 9112
 * §6.3) into m->body / m->content_length and m->keep_alive (RFC 9112 §9.3:
 * 1.1 persists unless "Connection: close", 1.0 only with "keep-alive"; a
 * close-delimited body ends the connection). Responses to HEAD and 1xx, 204
 * and 304 have no body; 101 ends HTTP on the connection (keep_alive 0); a
 * 1xx other than 101 is an interim response: parse the next one after it.
 *
 * Each call examines only bytes not yet examined (resuming at the line
 * where the previous call stopped), so feeding a head byte by byte costs
 * the same as feeding it whole, and gives the same result. Lines may end in
 * CRLF or a bare LF (RFC 9112 §2.2).
 *
 * Refused with COIL_EPARSE: a malformed status line; a field name that is
 * not a token or is followed by whitespace before the colon (§5.1); a field
 * value with a control byte other than HTAB, or a bare CR; obs-fold (§5.2);
 * Content-Length that is not digits, overflows 2^63-1, or repeats with a
 * different value; Transfer-Encoding other than exactly "chunked", or in an
 * HTTP/1.0 message (§6.1); Transfer-Encoding together with Content-Length
 * (§6.1, request smuggling). Refused with COIL_ELIMIT: no complete head
 * within max_head_bytes, or more than max_headers fields.
 *
 * Return: the head's length in bytes (> 0; the body starts there);
 * COIL_HTTP_PARTIAL when the head is incomplete; COIL_EPARSE; COIL_ELIMIT;
 * -EINVAL when @len is smaller than in the previous call. After an error
 * the message is unusable until coil_http_msg_reset().
 */
int coil_http_parse_response(struct coil_http_msg *m, const char *buf,
			     size_t len, unsigned flags);

/*
 * coil_http_parse_request() - parse a request head, incrementally.
 *
 * As coil_http_parse_response(), for a request line "method SP target SP
 * HTTP/1.x" (RFC 9112 §3), single spaces, a non-empty target without
 * control bytes or spaces. Empty lines before the request line are skipped
 * (RFC 9112 §2.2). An HTTP/1.1 request must carry exactly one Host field
 * (RFC 9112 §3.2), else COIL_EPARSE. Framing: chunked, Content-Length, or
 * no body (§6.3 rule 6); Transfer-Encoding not ending in chunked is
 * COIL_EPARSE (§6.3 rule 4).
 *
 * Return: as coil_http_parse_response().
 */
int coil_http_parse_request(struct coil_http_msg *m, const char *buf,
			    size_t len);

/*
 * coil_http_header_find() - find a header field by name, ignoring case
 * (RFC 9110 §5.1).
 * @m:     a parsed message.
 * @name:  NUL-terminated field name.
 * @after: NULL to find the first, or a previous result to find the next.
 * Return: the field, or NULL.
 */
const struct coil_http_header *
coil_http_header_find(const struct coil_http_msg *m, const char *name,
		      const struct coil_http_header *after);

/* ==== body decoding (RFC 9112 §6.3, §7.1) ============================= */

/* In-place decoder of the chunked transfer coding (picohttpparser's
 * phr_decode_chunked contract). */
struct coil_http_chunked {
	size_t max_trailer_bytes; /* limit, COIL_HTTP_MAX_TRAILER_DEFAULT */
	int discard;		  /* 1: count data bytes, do not move them */
	/* private to the decoder below this line */
	uint64_t remaining;
	size_t line_bytes;
	int state;
};

/* coil_http_chunked_init() - ready to decode a new chunked body, with the
 * default trailer limit. @discard: see coil_http_chunked_decode(). */
void coil_http_chunked_init(struct coil_http_chunked *d, int discard);

/*
 * coil_http_chunked_decode() - decode the next piece of a chunked body.
 * @d:   the decoder.
 * @buf: body bytes as they arrived (chunk framing included); modified.
 * @len: in: bytes in @buf (at most INT_MAX); out: decoded data bytes.
 *
 * Removes the chunk framing in place: the data bytes of this piece end up
 * at buf[0, *len) (with d->discard the bytes are not moved, *len only
 * counts them). Chunk extensions are skipped (checked for control bytes,
 * limited to COIL_HTTP_MAX_CHUNK_LINE per size line); the trailer section
 * is checked like header fields and dropped, limited to
 * d->max_trailer_bytes. Every line must end in CRLF (a bare LF is
 * refused here, unlike in the head: lax chunk line ends enable request
 * smuggling).
 *
 * Return: COIL_HTTP_PARTIAL when the body continues (every input byte was
 * used); >= 0 when the body ended: the number of input bytes after it
 * (the next message's), which stay where they were, at
 * buf[in_len - ret, in_len); COIL_EPARSE for a malformed size line (no hex
 * digit, a size of 2^60 or more, junk after it), a line not ended by CRLF,
 * data not followed by CRLF, or a malformed trailer field (obs-fold, no
 * colon, control bytes); COIL_ELIMIT for a size line or trailer section
 * over its limit; -EINVAL when *len > INT_MAX. After an error the decoder
 * is unusable until coil_http_chunked_init().
 */
int coil_http_chunked_decode(struct coil_http_chunked *d, char *buf,
			     size_t *len);

/* A body reader over all four framings. */
struct coil_http_body {
	int kind;	    /* COIL_HTTP_BODY_* of the message */
	int done;	    /* 1 once the body is complete */
	uint64_t remaining; /* COIL_HTTP_BODY_LENGTH: bytes still due */
	uint64_t received;  /* body data bytes delivered so far */
	struct coil_http_chunked chunked;
};

/*
 * coil_http_body_init() - prepare to read the body of a parsed head.
 * @b:       the caller's.
 * @m:       a message whose parse returned > 0 (only read here).
 * @discard: chunked bodies: 1 to count data without moving it.
 */
void coil_http_body_init(struct coil_http_body *b,
			 const struct coil_http_msg *m, int discard);

/*
 * coil_http_body_decode() - consume the next bytes of the body.
 * @buf: bytes received after the head (or after the previous call's input).
 * @len: in: bytes in @buf (at most INT_MAX); out: body data bytes, at
 *       buf[0, *len) (a chunked body is decoded in place there unless
 *       discarding).
 *
 * Return: COIL_HTTP_PARTIAL when the body continues (all input was body);
 * >= 0 when it ended: the bytes after it, left at buf[in_len - ret,
 * in_len); errors of coil_http_chunked_decode(); -EINVAL when *len >
 * INT_MAX or the body had already ended. A close-delimited body never ends
 * here: call coil_http_body_eof() when the peer closes.
 */
int coil_http_body_decode(struct coil_http_body *b, char *buf, size_t *len);

/*
 * coil_http_body_eof() - the peer closed the connection: was the body
 * complete?
 * Return: 0 if it was (a close-delimited body always is); COIL_ETRUNC if
 * the peer closed before the announced length or the last chunk.
 */
int coil_http_body_eof(struct coil_http_body *b);

/* ==== client ========================================================== */
/*
 * An HTTP/1.1 client for one loop: what people do in Python with
 * asyncio.gather + Semaphore + httpx.AsyncClient(limits=...) + retry with
 * backoff. A client keeps a pool of connections keyed by scheme, host and
 * port; requests wait FIFO per host for a connection under a per-host and
 * a global limit, reuse idle keep-alive connections (the most recently
 * used first), and run each attempt under a deadline, with retries and
 * redirects as asked.
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
 * and resuming sessions per host:port; a coil built without its TLS layer
 * refuses them with -EPROTONOSUPPORT.
 */

struct coil_http_client;
struct coil_http_req;
struct coil_resolver;
struct coil_retry_policy;
struct coil_tls_config;

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
	 * so that new connections to a host resume. */
	const struct coil_tls_config *tls;
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
 * Return: 0; -EINVAL for NULL @out/@loop, max_idle_per_host >
 * max_conns_per_host or max_conns_per_host > max_conns; -ENOMEM.
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
 * -ENOMEM. coil_http_req_strerror() says what failed in words.
 *
 * Return: 0 (the done callback will run); -EINVAL for NULL @c/@o/@out/
 * url/done, NULL headers with nheaders > 0 or NULL body with body_len >
 * 0, a malformed URL, a method over 31 bytes or not a token, a header
 * field the writer refuses (coil_http_request_write()), a bad retry
 * policy (coil_retry_start()) or one listing COIL_ELAST;
 * -EPROTONOSUPPORT for a scheme other than http and https, or https in a
 * coil built without TLS; COIL_ELIMIT for a URL longer than COIL_URL_MAX_LEN;
 * -ESHUTDOWN after coil_http_client_shutdown(); -ENOMEM.
 */
int coil_http_request(struct coil_http_client *c,
		      const struct coil_http_req_opts *o,
		      struct coil_http_req **out);

/*
 * coil_http_req_pause() - stop the body callbacks (back-pressure): the
 * connection stops reading (coil_stream_read_stop()), so the kernel's
 * buffers fill and TCP flow control slows the server.
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
};

/* coil_http_client_stats() - copy the counters (zeroes for NULL @c). */
void coil_http_client_stats(const struct coil_http_client *c,
			    struct coil_http_client_stats *st);

/* ==== server (RFC 9112 §9, RFC 9110 §15) ================================
 * The HTTP/1.1 server: http/server.c. One struct coil_http_server per loop
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
 * coil_http_respond_end() (after coil_http_respond_begin()) or
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
	unsigned max_headers;	 /* fields per head, default 64 */
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
};

/* SO_REUSEPORT on the listening socket (socket(7)): N servers, one per
 * loop/thread, on one port, the kernel spreading connections. */
#define COIL_HTTP_SERVER_REUSEPORT (1u << 0)
/* IPV6_V6ONLY for an AF_INET6 address. */
#define COIL_HTTP_SERVER_V6ONLY (1u << 1)

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
 * or a timeout above one day; -ENOTSUP for opts->tls when coil was built
 * without the TLS layer (no coil/tls.h); -ENOMEM; the listener's errors
 * (-EADDRINUSE, -EACCES, -EAFNOSUPPORT, -EMFILE ...).
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
	int minor_version; /* HTTP/1.minor: 0 or 1 */
	int is_head;	   /* the method is HEAD: responses carry no body */
	const struct coil_http_header *headers;
	unsigned nheaders;
	int body_kind;		 /* COIL_HTTP_BODY_NONE, _LENGTH or _CHUNKED */
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
 * The head is sent with Content-Length @len; the body is read with
 * IORING_OP_READ into 64 KiB buffers of the server (a free list) and each
 * piece leaves in one send together with whatever precedes it. A file that
 * turns out shorter than @len ends the connection (the client sees a
 * truncated body, RFC 9112 §8). HEAD sends the head only.
 * Return: as coil_http_respond(); -EBADF for a negative @fd.
 */
int coil_http_respond_file(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, int fd, uint64_t off, uint64_t len);

/*
 * coil_http_serve_file() - answer with a file under a root directory.
 * @root_fd: an O_PATH or O_DIRECTORY fd of the root, kept open by the
 *           caller while the server runs.
 *
 * Decodes req->path with coil_http_path_decode() (400 for what it
 * refuses), appends "index.html" to a path ending in '/', then opens the
 * file through the ring with openat2(2) and RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS (coil_openat2()): a path or symbolic link that
 * leads out of the root is refused by the kernel (403), as are special
 * files (403: FIFOs, devices) and directories (403); a missing file is 404.
 * A regular file is sent as by coil_http_respond_file(), with a
 * Content-Type chosen from its extension. Completes the request.
 * Return: as coil_http_respond().
 */
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
 * response: the connection is closed.
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
#endif /* COIL_HTTP_H */
