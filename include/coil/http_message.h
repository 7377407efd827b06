/*
 * coil/http_message.h - HTTP/1.1 messages without I/O: URLs, the message
 * writer, the parser and body decoding, shared by the client (coil-get),
 * the server (coil-serve) and the load tester (coil-bench). Included by
 * coil/http.h, which is what users include.
 *
 * This layer does no I/O and allocates nothing: the URL parser copies into
 * the caller's struct, the writers fill a caller buffer, and the parser
 * returns pointers into the caller's buffer (picohttpparser's contract).
 * Sources: RFC 3986 (URIs), RFC 9110 (HTTP semantics), RFC 9112 (HTTP/1.1
 * message syntax and framing).
 *
 * Results follow the project's rule: >= 0 is a count or success, negative is
 * -errno or a COIL_E* code from coil/engine.h (coil_strerror() names it).
 */
#ifndef COIL_HTTP_MESSAGE_H
#define COIL_HTTP_MESSAGE_H

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

/*
 * coil_http_date_parse() - the Unix time of an HTTP-date (RFC 9110
 * §5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), rfc850-date
 * ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime-date ("Sun Nov  6
 * 08:49:37 1994"). The weekday is not checked against the date.
 * @s, @len:   the value, without surrounding whitespace; not NUL-terminated.
 * @now_unix:  the current time, which places an rfc850-date's two-digit
 *             year (more than 50 years ahead means the century before).
 * Return: seconds since 1970 (>= 0); -1 when @s is none of the three.
 */
int64_t coil_http_date_parse(const char *s, size_t len, int64_t now_unix);

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

#ifdef __cplusplus
}
#endif
#endif /* COIL_HTTP_MESSAGE_H */
