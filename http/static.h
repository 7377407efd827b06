/*
 * http/static.h - what the static file server decides without I/O
 * (http/server_static.c): what a path found on disk gets (405, 301, 403 or
 * the file), validators, conditional requests, byte ranges, the answer's
 * header fields, and the escaping a directory listing needs. Private to
 * http/; one decision for both protocols: used by http/server_file.c
 * (HTTP/1.1), http/server_h2_stream.c (HTTP/2) and http/server_dir.c.
 */
#ifndef COIL_HTTP_STATIC_H
#define COIL_HTTP_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "coil/http.h"

/* An ETag's room: two quotes, 16 + 1 + 16 hex digits, NUL. */
#define STATIC_ETAG_MAX 40

/* What a GET or HEAD of a regular file gets (RFC 9110 §13.2.2, §14). */
struct static_plan {
	int status;	   /* 200, 206, 304, 412 or 416 */
	uint64_t off, len; /* the body: the whole file, or the range */
};

/*
 * coil__static_etag() - a file's entity tag as nginx writes it: the
 * modification time (seconds) and size in hex, "5f5e1000-3e8", quoted
 * (a strong validator, RFC 9110 §8.8.3).
 * Return: its length; @out holds STATIC_ETAG_MAX bytes.
 */
int coil__static_etag(char *out, int64_t mtime_sec, uint64_t size);

/*
 * coil__static_plan() - evaluate the request's preconditions (If-Match,
 * If-Unmodified-Since, If-None-Match, If-Modified-Since, in RFC 9110
 * §13.2.2's order) against the file's validators, then its Range (GET
 * only, §14.2) and If-Range (§13.1.5).
 * @etag:     from coil__static_etag().
 * @now_sec:  the current time (for two-digit years in obsolete dates).
 *
 * One satisfiable range gives 206 with it; one unsatisfiable, or several
 * none of which is satisfiable, 416. Several ranges with one satisfiable
 * give 200 and the whole file (multipart/byteranges is not sent: RFC
 * 9110 §14.2 lets a server ignore Range). A Range that does not parse,
 * or whose unit is not "bytes", is ignored (200).
 */
void coil__static_plan(const struct coil_http_sreq *req, int64_t mtime_sec,
		       uint64_t size, const char *etag, int64_t now_sec,
		       struct static_plan *p);

/* The fields of a file's answer: Content-Type, Last-Modified, ETag,
 * Accept-Ranges, Content-Range at most. */
#define STATIC_FIELDS 5

/*
 * A regular file's whole answer: the plan and its header fields (names as
 * HTTP/1.1 writes them; HTTP/2 lowers them), pointing into the struct's
 * own storage and the content type's static string.
 */
struct static_answer {
	struct static_plan p;
	struct coil_http_header h[STATIC_FIELDS];
	size_t nh;
	char etag[STATIC_ETAG_MAX], lm[32], cr[64];
};

/*
 * coil__static_answer() - what a GET or HEAD of the regular file at @path
 * (for its Content-Type) of @size bytes, modified at @mtime_sec, gets:
 * coil__static_plan()'s status and range, and the fields that go with it
 * (200 and 206: the type, the validators, Accept-Ranges, 206's
 * Content-Range; 304: the validators; 412: none; 416: a Content-Range
 * of "*" and the size, RFC 9110 §14.4). A 412 or 416 has the body of
 * coil__static_status_body(), a 304 none, 200 and 206 the file's
 * [p.off, p.off + p.len).
 */
void coil__static_answer(const struct coil_http_sreq *req, const char *path,
			 int64_t mtime_sec, uint64_t size, int64_t now_sec,
			 struct static_answer *a);

/*
 * coil__static_found() - what a path found on disk gets before its
 * content: 301 for a directory named without its final '/' (@slash 0),
 * 405 for a method other than GET and HEAD (RFC 9110 §15.5.6; a directory
 * with its '/' is checked once its listing is due), 403 for what is not a
 * regular file or directory, 200 for a regular file.
 * @mode: the statx mode.
 */
int coil__static_found(const struct coil_http_sreq *req, unsigned mode,
		       int slash);

/*
 * coil__static_target() - @req's path percent-decoded into @path (@cap
 * bytes, of which the last 16 stay free for "index.html"), with
 * "index.html" appended when it ends in '/' (or is empty), as both
 * protocols' coil_http_serve_root() start.
 * @plen: the decoded length, without index.html; @slash: 1 if appended.
 * Return: 0; or the status to answer: 414 (too long), 400 (malformed).
 */
int coil__static_target(const struct coil_http_sreq *req, char *path,
			size_t cap, unsigned *plen, unsigned *slash);

/* The directory of a target whose index.html was not found: @path cut
 * back to its @plen decoded bytes, or "." for the root. */
void coil__static_dir_path(char *path, unsigned plen);

/* Whether the request's method is GET or HEAD (the others get 405). */
int coil__static_method_ok(const struct coil_http_sreq *req);

/* 405's field: "Allow: GET, HEAD". */
extern const struct coil_http_header coil__static_allow;

/*
 * coil__static_location() - a 301's Location for a directory named
 * without its '/', as nginx builds it: @scheme ("http://", "https://")
 * and the Host (HTTP/2: :authority), the path as sent with '/' appended,
 * the query kept; relative without a host.
 * Return: the value (malloc'd; the caller frees it), its length in
 * *@len; NULL when out of memory.
 */
char *coil__static_location(const struct coil_http_sreq *req,
			    const char *scheme, size_t *len);

/*
 * coil__static_status_body() - the text body of an answer without a file
 * (404, 403, 405, 412, 416 ...): "STATUS REASON\n", in text/plain.
 * Return: its length; @out holds 64 bytes.
 */
int coil__static_status_body(char *out, int status);

/*
 * coil__static_range_parse() - the byte range a Range value selects from
 * @size bytes, for a value with exactly one range.
 * Return: 1 and *off, *len for one satisfiable range; 0 for one
 * unsatisfiable range (416); 2 for several ranges of which at least one
 * is satisfiable; 3 for several, none satisfiable; -1 when the value does
 * not parse (or is not in bytes): ignore it.
 */
int coil__static_range_parse(const char *v, size_t len, uint64_t size,
			     uint64_t *off, uint64_t *rlen);

/*
 * coil__html_escape() - @len bytes of @s with &, <, >, " and ' written as
 * character references (&amp; ...). @out holds 6 * @len bytes.
 * Return: bytes written.
 */
size_t coil__html_escape(char *out, const char *s, size_t len);

/*
 * coil__url_escape() - @len bytes of @s percent-encoded for a path
 * segment of an href (RFC 3986 §3.3): unreserved characters and the
 * sub-delims harmless in an HTML attribute stay, every other byte
 * (':' too: a name must not read as a scheme) becomes %HH. @out holds 3 * @len
 * bytes. Return: bytes written.
 */
size_t coil__url_escape(char *out, const char *s, size_t len);

#endif
