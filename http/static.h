/*
 * http/static.h - what the static file server decides without I/O
 * (http/server_static.c): validators, conditional requests, byte ranges,
 * and the escaping a directory listing needs. Private to http/; used by
 * http/server_file.c and http/server_dir.c.
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
