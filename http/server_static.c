/*
 * http/server_static.c - the static file server's decisions, without I/O,
 * one for both protocols (server_file.c's HTTP/1.1 answers and
 * server_h2_stream.c's HTTP/2 ones): what a path found gets (301, 405,
 * 403, the file), the answer's fields, a file's validators (ETag as nginx
 * writes it, Last-Modified), the conditional requests that turn a GET
 * into 304 or 412 (RFC 9110 §13), byte ranges (206, 416: RFC 9110 §14),
 * and the escaping of names in a directory listing. Calls no other file
 * of the server; server_file.c, server_h2_stream.c and server_dir.c call
 * it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chars.h"
#include "static.h"

int coil__static_etag(char *out, int64_t mtime_sec, uint64_t size)
{
	return snprintf(out, STATIC_ETAG_MAX, "\"%llx-%llx\"",
			(unsigned long long)(mtime_sec < 0 ? 0 : mtime_sec),
			(unsigned long long)size);
}

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Whether the list of entity tags @v (If-Match, If-None-Match: "*" or
 * 1#entity-tag, RFC 9110 §13.1.1) matches @etag: by the weak comparison
 * (W/ ignored on both sides) or the strong one (no W/ on either side),
 * §8.8.3.2. A malformed list matches nothing.
 */
static int etag_match(const char *v, size_t len, const char *etag, int weak)
{
	size_t elen = strlen(etag);
	size_t i = 0;

	while (len && ows(v[len - 1]))
		len--;
	while (i < len && ows(v[i]))
		i++;
	if (len - i == 1 && v[i] == '*')
		return 1;
	while (i < len) {
		int is_weak = 0;
		size_t s;
		if (v[i] == ',' || ows(v[i])) {
			i++;
			continue;
		}
		if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/') {
			is_weak = 1;
			i += 2;
		}
		if (i >= len || v[i] != '"')
			return 0;
		s = i++;
		while (i < len && v[i] != '"')
			i++;
		if (i >= len)
			return 0;
		i++;
		if ((weak || !is_weak) && i - s == elen &&
		    memcmp(v + s, etag, elen) == 0)
			return 1;
	}
	return 0;
}

/* The value of field @name without surrounding whitespace, or NULL. */
static const char *field(const struct coil_http_sreq *req, const char *name,
			 size_t *len)
{
	const char *v = coil_http_sreq_header(req, name, len);
	if (!v)
		return NULL;
	while (*len && ows(*v)) {
		v++;
		(*len)--;
	}
	while (*len && ows(v[*len - 1]))
		(*len)--;
	return v;
}

/* A decimal number, saturating at UINT64_MAX; the digits consumed. */
static size_t digits(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		unsigned d = (unsigned)(v[i] - '0');
		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	*out = n;
	return i;
}

/*
 * One range-spec (RFC 9110 §14.1.1: first-last, first-, -suffix) at
 * @v[0..len). Return: 1 satisfiable (*off, *rlen), 0 unsatisfiable, -1
 * malformed.
 */
static int range_spec(const char *v, size_t len, uint64_t size, uint64_t *off,
		      uint64_t *rlen)
{
	uint64_t first, last;
	size_t n;

	if (len && v[0] == '-') {
		/* the last @suffix bytes */
		n = digits(v + 1, len - 1, &last);
		if (n == 0 || n + 1 != len)
			return -1;
		if (last == 0 || size == 0)
			return 0;
		if (last > size)
			last = size;
		*off = size - last;
		*rlen = last;
		return 1;
	}
	n = digits(v, len, &first);
	if (n == 0 || n >= len || v[n] != '-')
		return -1;
	if (n + 1 == len) {
		last = UINT64_MAX;
	} else {
		size_t m = digits(v + n + 1, len - n - 1, &last);
		if (m == 0 || n + 1 + m != len || last < first)
			return -1;
	}
	if (first >= size)
		return 0;
	if (last >= size)
		last = size - 1;
	*off = first;
	*rlen = last - first + 1;
	return 1;
}

int coil__static_range_parse(const char *v, size_t len, uint64_t size,
			     uint64_t *off, uint64_t *rlen)
{
	unsigned specs = 0, good = 0;
	size_t i = 6;

	if (len < 6 || !ch_ieq(v, "bytes=", 6))
		return -1;
	while (i < len) {
		size_t s, e;
		uint64_t o = 0, l = 0;
		int r;
		if (v[i] == ',' || ows(v[i])) {
			i++;
			continue;
		}
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && ows(v[e - 1]))
			e--;
		r = range_spec(v + s, e - s, size, &o, &l);
		if (r < 0)
			return -1;
		if (r == 1 && !good) {
			*off = o;
			*rlen = l;
		}
		good += (unsigned)r;
		specs++;
	}
	if (specs == 0)
		return -1;
	if (specs == 1)
		return (int)good;
	return good ? 2 : 3;
}

/* Whether If-Range lets the Range apply (RFC 9110 §13.1.5): an entity
 * tag that matches strongly, or exactly the Last-Modified date. */
static int if_range_holds(const struct coil_http_sreq *req, int64_t mtime,
			  const char *etag, int64_t now)
{
	size_t len;
	const char *v = field(req, "If-Range", &len);
	if (!v)
		return 1;
	if ((len && v[0] == '"') || (len > 1 && v[0] == 'W' && v[1] == '/'))
		return etag_match(v, len, etag, 0);
	return coil_http_date_parse(v, len, now) == mtime;
}

void coil__static_plan(const struct coil_http_sreq *req, int64_t mtime,
		       uint64_t size, const char *etag, int64_t now,
		       struct static_plan *p)
{
	const char *v;
	size_t len;
	int64_t t;
	int r;

	p->status = 200;
	p->off = 0;
	p->len = size;
	/* §13.2.2 steps 1-2: the client's copy must still be current */
	if ((v = field(req, "If-Match", &len))) {
		if (!etag_match(v, len, etag, 0)) {
			p->status = 412;
			return;
		}
	} else if ((v = field(req, "If-Unmodified-Since", &len)) &&
		   (t = coil_http_date_parse(v, len, now)) >= 0 && mtime > t) {
		p->status = 412;
		return;
	}
	/* steps 3-4: the client's copy is current (GET and HEAD only reach
	 * here: other methods were refused with 405) */
	if ((v = field(req, "If-None-Match", &len))) {
		if (etag_match(v, len, etag, 1)) {
			p->status = 304;
			return;
		}
	} else if ((v = field(req, "If-Modified-Since", &len)) &&
		   (t = coil_http_date_parse(v, len, now)) >= 0 && mtime <= t) {
		p->status = 304;
		return;
	}
	/* step 5: a range of a GET */
	if (req->is_head || !(v = field(req, "Range", &len)) ||
	    !if_range_holds(req, mtime, etag, now))
		return;
	{
		uint64_t off = 0, rlen = 0;
		r = coil__static_range_parse(v, len, size, &off, &rlen);
		if (r == 1) {
			p->status = 206;
			p->off = off;
			p->len = rlen;
		} else if (r == 0 || r == 3) {
			p->status = 416;
			p->len = 0;
		}
	}
}

size_t coil__html_escape(char *out, const char *s, size_t len)
{
	char *o = out;
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		}
		if (rep) {
			size_t n = strlen(rep);
			memcpy(o, rep, n);
			o += n;
		} else {
			*o++ = s[i];
		}
	}
	return (size_t)(o - out);
}

size_t coil__url_escape(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* unreserved (RFC 3986 §2.3) and the sub-delims and '@' of a
		 * segment that are harmless in an HTML attribute; ':' is
		 * encoded so that "javascript:x" cannot become a scheme */
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~!$()*+,;=@", c)) {
			if (c != 0) {
				*o++ = (char)c;
				continue;
			}
		}
		*o++ = '%';
		*o++ = hex[c >> 4];
		*o++ = hex[c & 15];
	}
	return (size_t)(o - out);
}

void coil__static_answer(const struct coil_http_sreq *req, const char *path,
			 int64_t mtime, uint64_t size, int64_t now,
			 struct static_answer *a)
{
	const char *ct = coil_http_content_type(path, strlen(path));
	struct static_plan *p = &a->p;
	size_t nh = 0;
	int n;

	coil__static_etag(a->etag, mtime, size);
	if (coil_http_date(a->lm, sizeof(a->lm), mtime) < 0)
		a->lm[0] = '\0';
	coil__static_plan(req, mtime, size, a->etag, now, p);
	if (p->status != 412 && p->status != 416) {
		if (p->status != 304)
			a->h[nh++] = (struct coil_http_header){
				"Content-Type", 12, ct, strlen(ct)};
		if (a->lm[0])
			a->h[nh++] = (struct coil_http_header){
				"Last-Modified", 13, a->lm, strlen(a->lm)};
		a->h[nh++] = (struct coil_http_header){"ETag", 4, a->etag,
						       strlen(a->etag)};
	}
	if (p->status == 200 || p->status == 206)
		a->h[nh++] = (struct coil_http_header){"Accept-Ranges", 13,
						       "bytes", 5};
	if (p->status == 206 || p->status == 416) {
		if (p->status == 206)
			n = snprintf(a->cr, sizeof(a->cr),
				     "bytes %llu-%llu/%llu",
				     (unsigned long long)p->off,
				     (unsigned long long)(p->off + p->len - 1),
				     (unsigned long long)size);
		else
			n = snprintf(a->cr, sizeof(a->cr), "bytes */%llu",
				     (unsigned long long)size);
		a->h[nh++] = (struct coil_http_header){"Content-Range", 13,
						       a->cr, (size_t)n};
	}
	a->nh = nh;
}

const struct coil_http_header coil__static_allow = {"Allow", 5, "GET, HEAD", 9};

int coil__static_method_ok(const struct coil_http_sreq *req)
{
	return (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
	       req->is_head;
}

int coil__static_found(const struct coil_http_sreq *req, unsigned mode,
		       int slash)
{
	if (S_ISDIR(mode) && !slash)
		return coil__static_method_ok(req) ? 301 : 405;
	if (!S_ISREG(mode))
		return 403;
	return coil__static_method_ok(req) ? 200 : 405;
}

char *coil__static_location(const struct coil_http_sreq *req,
			    const char *scheme, size_t *len)
{
	size_t cap = strlen(scheme) + req->host_len + req->path_len +
		     req->query_len + 3;
	char *loc = malloc(cap);
	int n;

	if (!loc)
		return NULL;
	n = snprintf(loc, cap, "%s%.*s%.*s/%s%.*s", req->host ? scheme : "",
		     (int)req->host_len, req->host ? req->host : "",
		     (int)req->path_len, req->path, req->query_len ? "?" : "",
		     (int)req->query_len, req->query);
	*len = n > 0 ? (size_t)n : 0;
	return loc;
}

int coil__static_status_body(char *out, int status)
{
	return snprintf(out, 64, "%d %s\n", status, coil_http_reason(status));
}

int coil__static_target(const struct coil_http_sreq *req, char *path,
			size_t cap, unsigned *plen, unsigned *slash)
{
	int n = coil_http_path_decode(req->path, req->path_len, path, cap - 16);
	if (n < 0)
		return n == -ENAMETOOLONG ? 414 : 400;
	*plen = (unsigned)n;
	*slash = n == 0 || path[n - 1] == '/';
	if (*slash)
		memcpy(path + n, "index.html", 11);
	return 0;
}

void coil__static_dir_path(char *path, unsigned plen)
{
	if (plen == 0)
		memcpy(path, ".", 2);
	else
		path[plen] = '\0';
}
