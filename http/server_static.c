/*
 * http/server_static.c - the static file server's decisions, without I/O:
 * a file's validators (ETag as nginx writes it, Last-Modified), the
 * conditional requests that turn a GET into 304 or 412 (RFC 9110 §13),
 * byte ranges (206, 416: RFC 9110 §14), and the escaping of names in a
 * directory listing. Calls no other file of the server; server_file.c
 * and server_dir.c call it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
