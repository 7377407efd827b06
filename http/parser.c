/*
 * http/parser.c - incremental, zero-copy HTTP/1.1 head parser (RFC 9112
 * §2-§6) with picohttpparser's contract: the caller owns the buffer and the
 * header array, results point into the buffer, nothing is allocated; a call
 * returns the head's length, COIL_HTTP_PARTIAL, or an error.
 *
 * Unlike picohttpparser, which re-parses from the first byte on each call,
 * the message remembers how far it got: complete lines are parsed once, and
 * an incomplete last line is only scanned for a line feed and for bytes
 * that may appear nowhere in a head (control bytes). Both rules depend only
 * on the bytes, never on how they were split across calls, so a head fed
 * byte by byte gives the same result as fed whole, at the same cost.
 *
 * The body framing (RFC 9112 §6.3) is computed once the head is complete,
 * from the fields already stored.
 */
#include <limits.h>
#include <string.h>

#include "coil/http.h"
#include "chars.h"

enum { PH_START = 0, PH_FIELDS = 1, PH_DONE = 2 };

void coil_http_msg_init(struct coil_http_msg *m,
			struct coil_http_header *headers, unsigned max_headers)
{
	memset(m, 0, sizeof(*m));
	m->headers = headers;
	m->max_headers = max_headers;
	m->max_head_bytes = COIL_HTTP_MAX_HEAD_DEFAULT;
}

void coil_http_msg_reset(struct coil_http_msg *m)
{
	struct coil_http_header *h = m->headers;
	unsigned mh = m->max_headers;
	size_t mb = m->max_head_bytes;
	memset(m, 0, sizeof(*m));
	m->headers = h;
	m->max_headers = mh;
	m->max_head_bytes = mb;
}

/* The caller moved its buffer between calls (same bytes, new address):
 * shift every pointer already handed out. Integer arithmetic, since the
 * two buffers are different objects. */
static void rebase(struct coil_http_msg *m, const char *buf)
{
	uintptr_t d = (uintptr_t)buf - (uintptr_t)m->base;
#define MOVE(p)                                                                \
	do {                                                                   \
		if (p)                                                         \
			p = (const char *)((uintptr_t)(p) + d);                \
	} while (0)
	MOVE(m->method);
	MOVE(m->target);
	MOVE(m->reason);
	for (unsigned i = 0; i < m->nheaders; i++) {
		MOVE(m->headers[i].name);
		MOVE(m->headers[i].value);
	}
#undef MOVE
}

#ifdef __SSE2__
/*
 * x86-64 always has SSE2: test 16 bytes per step. Bytes of field values
 * and request targets end at a control byte (or space, for targets), and
 * field names nearly always consist of letters, digits and '-'; the
 * general byte table decides only about the byte a fast step stopped at.
 */
#include <emmintrin.h>

/* First byte at or after @p below @lo or DEL, or @p where fewer than 16
 * bytes are left. */
static inline size_t skip_vchar16(const char *buf, size_t p, size_t end,
				  char lo)
{
	const __m128i vlo = _mm_set1_epi8(lo), del = _mm_set1_epi8(0x7f);
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(buf + p));
		__m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, vlo), x);
		unsigned bad =
			((unsigned)_mm_movemask_epi8(ok) ^ 0xffffu) |
			(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, del));
		if (bad)
			return p + (size_t)__builtin_ctz(bad);
		p += 16;
	}
	return p;
}

/* First byte at or after @p that is not a letter, digit or '-'. */
static inline size_t skip_name16(const char *buf, size_t p, size_t end)
{
	const __m128i k20 = _mm_set1_epi8(0x20), ka = _mm_set1_epi8('a');
	const __m128i k25 = _mm_set1_epi8(25), k0 = _mm_set1_epi8('0');
	const __m128i k9 = _mm_set1_epi8(9), kd = _mm_set1_epi8('-');
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(buf + p));
		__m128i l = _mm_sub_epi8(_mm_or_si128(x, k20), ka);
		__m128i d = _mm_sub_epi8(x, k0);
		__m128i ok = _mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, k25), l),
				     _mm_cmpeq_epi8(_mm_min_epu8(d, k9), d)),
			_mm_cmpeq_epi8(x, kd));
		unsigned bad = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
		if (bad)
			return p + (size_t)__builtin_ctz(bad);
		p += 16;
	}
	return p;
}
#else
static inline size_t skip_vchar16(const char *buf, size_t p, size_t end,
				  char lo)
{
	return p;
}

static inline size_t skip_name16(const char *buf, size_t p, size_t end)
{
	return p;
}
#endif

/* Skip bytes of class @cls (CH_VALUE with @lo 0x20, CH_TARGET with 0x21)
 * from @p; returns the first byte that is not one. An HTAB inside a value
 * stops a fast step but not the scan. */
static inline size_t skip_vchar(const char *buf, size_t p, size_t end, char lo,
				unsigned cls)
{
	for (;;) {
		p = skip_vchar16(buf, p, end, lo);
		if (end - p < 16)
			break;
		if (!ch_is(buf[p], cls))
			return p;
		p++;
	}
	while (p < end && ch_is(buf[p], cls))
		p++;
	return p;
}

/* Line end: CRLF, or a bare LF (RFC 9112 §2.2 allows recipients that). */
static inline int eol(const char *buf, size_t *pp, size_t end)
{
	size_t p = *pp;
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	if (buf[p] == '\n') {
		*pp = p + 1;
		return 0;
	}
	if (buf[p] != '\r')
		return COIL_EPARSE;
	if (p + 1 >= end)
		return COIL_HTTP_PARTIAL;
	if (buf[p + 1] != '\n')
		return COIL_EPARSE;
	*pp = p + 2;
	return 0;
}

/* HTTP-version = "HTTP/1." DIGIT (RFC 9112 §2.3; other majors refused). */
static inline int version(struct coil_http_msg *m, const char *buf, size_t *pp,
			  size_t end)
{
	static const char v[] = "HTTP/1.";
	size_t p = *pp;
	if (end - p >= 8 && memcmp(buf + p, v, 7) == 0) {
		p += 7;
	} else {
		for (int k = 0; k < 7; k++, p++) {
			if (p >= end)
				return COIL_HTTP_PARTIAL;
			if (buf[p] != v[k])
				return COIL_EPARSE;
		}
	}
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	if (buf[p] < '0' || buf[p] > '9')
		return COIL_EPARSE;
	m->minor_version = buf[p] == '0' ? 0 : 1;
	*pp = p + 1;
	return 0;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
 * (RFC 9112 §4); the SP before an empty reason may be missing. */
static int status_line(struct coil_http_msg *m, const char *buf, size_t *pp,
		       size_t end)
{
	size_t p = *pp;
	int r = version(m, buf, &p, end);
	if (r)
		return r;
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	if (buf[p++] != ' ')
		return COIL_EPARSE;
	int st = 0;
	for (int k = 0; k < 3; k++, p++) {
		if (p >= end)
			return COIL_HTTP_PARTIAL;
		if (buf[p] < '0' || buf[p] > '9' || (k == 0 && buf[p] == '0'))
			return COIL_EPARSE;
		st = st * 10 + (buf[p] - '0');
	}
	m->status = st;
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	size_t r0 = p;
	if (buf[p] == ' ') {
		r0 = ++p;
		p = skip_vchar(buf, p, end, 0x20, CH_VALUE);
	}
	m->reason = buf + r0;
	m->reason_len = p - r0;
	r = eol(buf, &p, end);
	if (r)
		return r;
	*pp = p;
	return 0;
}

/* request-line = method SP request-target SP HTTP-version CRLF (RFC 9112
 * §3), single spaces. */
static int request_line(struct coil_http_msg *m, const char *buf, size_t *pp,
			size_t end)
{
	size_t p = *pp, t0;
	while (p < end && ch_is(buf[p], CH_TCHAR))
		p++;
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	if (p == *pp || buf[p] != ' ')
		return COIL_EPARSE;
	m->method = buf + *pp;
	m->method_len = p - *pp;
	t0 = ++p;
	p = skip_vchar(buf, p, end, 0x21, CH_TARGET);
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	if (p == t0 || buf[p] != ' ')
		return COIL_EPARSE;
	m->target = buf + t0;
	m->target_len = p - t0;
	p++;
	int r = version(m, buf, &p, end);
	if (r)
		return r;
	r = eol(buf, &p, end);
	if (r)
		return r;
	*pp = p;
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5); the caller
 * has ruled out an empty line and obs-fold. */
static inline int field_line(struct coil_http_msg *m, const char *buf,
			     size_t *pp, size_t end)
{
	size_t p = *pp, v0, ve;
	for (;;) {
		p = skip_name16(buf, p, end);
		if (end - p < 16 || !ch_is(buf[p], CH_TCHAR))
			break;
		p++;
	}
	while (p < end && ch_is(buf[p], CH_TCHAR))
		p++;
	if (p >= end)
		return COIL_HTTP_PARTIAL;
	/* no whitespace between name and colon (RFC 9112 §5.1) */
	if (p == *pp || buf[p] != ':')
		return COIL_EPARSE;
	size_t nl = p - *pp;
	p++;
	if (p < end && buf[p] == ' ')
		p++; /* the usual single space */
	while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
		p++;
	v0 = p;
	p = skip_vchar(buf, p, end, 0x20, CH_VALUE);
	ve = p;
	int r = eol(buf, &p, end);
	if (r)
		return r;
	while (ve > v0 && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
		ve--;
	if (m->nheaders >= m->max_headers)
		return COIL_ELIMIT;
	struct coil_http_header *h = &m->headers[m->nheaders++];
	h->name = buf + *pp;
	h->name_len = nl;
	h->value = buf + v0;
	h->value_len = ve - v0;
	*pp = p;
	return 0;
}

/* Iterate the elements of a comma-separated list (RFC 9110 §5.6.1),
 * trimming OWS and skipping empty elements. Returns 0 at the end. */
static int list_next(const char *v, size_t n, size_t *pos, const char **el,
		     size_t *el_len)
{
	size_t p = *pos;
	for (;;) {
		while (p < n && (v[p] == ' ' || v[p] == '\t' || v[p] == ','))
			p++;
		if (p >= n) {
			*pos = p;
			return 0;
		}
		size_t s = p;
		while (p < n && v[p] != ',')
			p++;
		size_t e = p;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		*el = v + s;
		*el_len = e - s;
		*pos = p;
		return 1;
	}
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6), or a list of identical values
 * (RFC 9112 §6.3 rule 5). At most 2^63 - 1. */
static int content_length(const char *v, size_t n, uint64_t *out)
{
	size_t p = 0;
	int seen = 0;
	uint64_t first = 0;
	for (;;) {
		while (p < n && (v[p] == ' ' || v[p] == '\t'))
			p++;
		size_t s = p;
		uint64_t x = 0;
		while (p < n && v[p] >= '0' && v[p] <= '9') {
			unsigned d = (unsigned)(v[p] - '0');
			/* 18 digits never overflow; beyond, check */
			if (p - s >= 18 && x > ((uint64_t)INT64_MAX - d) / 10)
				return COIL_EPARSE;
			x = x * 10 + d;
			p++;
		}
		if (p == s)
			return COIL_EPARSE;
		if (seen && x != first)
			return COIL_EPARSE;
		first = x;
		seen = 1;
		while (p < n && (v[p] == ' ' || v[p] == '\t'))
			p++;
		if (p == n)
			break;
		if (v[p++] != ',')
			return COIL_EPARSE;
	}
	*out = first;
	return 0;
}

/* RFC 9112 §6.3 (framing), §6.1 (Transfer-Encoding), §9.3 (persistence),
 * §3.2 (Host). */
static int frame(struct coil_http_msg *m, int req, unsigned flags)
{
	int conn_close = 0, conn_ka = 0, hosts = 0;
	int te = 0, te_chunked = 0, te_other = 0, have_cl = 0;
	uint64_t cl = 0;
	const char *el;
	size_t el_len, p;

	for (unsigned i = 0; i < m->nheaders; i++) {
		const struct coil_http_header *h = &m->headers[i];
		switch (h->name_len) {
		case 4:
			if (ch_ieq(h->name, "host", 4))
				hosts++;
			break;
		case 10:
			if (!ch_ieq_word(h->name, "connection", 10))
				break;
			/* the usual single option first */
			if (h->value_len == 10 &&
			    ch_ieq_word(h->value, "keep-alive", 10)) {
				conn_ka = 1;
				break;
			}
			if (h->value_len == 5 && ch_ieq(h->value, "close", 5)) {
				conn_close = 1;
				break;
			}
			p = 0;
			while (list_next(h->value, h->value_len, &p, &el,
					 &el_len)) {
				if (el_len == 5 && ch_ieq(el, "close", 5))
					conn_close = 1;
				else if (el_len == 10 &&
					 ch_ieq_word(el, "keep-alive", 10))
					conn_ka = 1;
			}
			break;
		case 14: {
			uint64_t v;
			if (!ch_ieq_word(h->name, "content-length", 14))
				break;
			if (content_length(h->value, h->value_len, &v))
				return COIL_EPARSE;
			if (have_cl && v != cl)
				return COIL_EPARSE;
			cl = v;
			have_cl = 1;
			break;
		}
		case 17: {
			int any = 0;
			if (!ch_ieq_word(h->name, "transfer-encoding", 17))
				break;
			te = 1;
			p = 0;
			while (list_next(h->value, h->value_len, &p, &el,
					 &el_len)) {
				any = 1;
				if (el_len == 7 && ch_ieq(el, "chunked", 7))
					te_chunked++;
				else
					te_other++;
			}
			if (!any)
				return COIL_EPARSE;
			break;
		}
		}
	}

	if (req && (hosts > 1 || (hosts == 0 && m->minor_version >= 1)))
		return COIL_EPARSE;
	m->content_length = cl;
	if (te) {
		/* chunked exactly once and nothing else: coil decodes no other
		 * transfer coding; TE in 1.0 or beside CL is faulty framing
		 * (RFC 9112 §6.1, §6.3 rule 3). */
		if (m->minor_version == 0 || have_cl || te_chunked != 1 ||
		    te_other)
			return COIL_EPARSE;
		m->body = COIL_HTTP_BODY_CHUNKED;
	} else if (have_cl) {
		m->body = COIL_HTTP_BODY_LENGTH;
	} else {
		m->body = req ? COIL_HTTP_BODY_NONE : COIL_HTTP_BODY_CLOSE;
	}
	if (!req && ((flags & COIL_HTTP_PARSE_HEAD) || m->status < 200 ||
		     m->status == 204 || m->status == 304))
		m->body = COIL_HTTP_BODY_NONE;

	if (m->minor_version >= 1)
		m->keep_alive = !conn_close;
	else
		m->keep_alive = conn_ka && !conn_close;
	if (m->body == COIL_HTTP_BODY_CLOSE || (!req && m->status == 101))
		m->keep_alive = 0;
	return 0;
}

/* The head is incomplete at the line starting at @pos: check the bytes of
 * that line not checked yet for bytes no head may hold, remember how far
 * we looked, and decide between "need more" and "too big". */
static int incomplete(struct coil_http_msg *m, const char *buf, size_t len,
		      size_t end, size_t pos)
{
	size_t i = m->scan > pos ? m->scan : pos;
	for (; i < end; i++) {
		if (!ch_is(buf[i], CH_TAIL))
			return m->phase = COIL_EPARSE;
	}
	m->off = pos;
	m->scan = end;
	if (len >= m->max_head_bytes)
		return m->phase = COIL_ELIMIT;
	return COIL_HTTP_PARTIAL;
}

static int parse(struct coil_http_msg *m, const char *buf, size_t len, int req,
		 unsigned flags)
{
	size_t end, pos;
	int r;

	if (m->phase < 0)
		return m->phase;
	if (len < m->scan)
		return -EINVAL;
	if (m->base && m->base != buf)
		rebase(m, buf);
	m->base = buf;
	if (m->phase == PH_DONE)
		return (int)m->off;

	if (m->max_head_bytes > INT_MAX)
		m->max_head_bytes = INT_MAX;
	end = len < m->max_head_bytes ? len : m->max_head_bytes;
	pos = m->off;

	/* Resuming inside an incomplete line: nothing to parse until its
	 * line feed has arrived. */
	if (m->scan > pos &&
	    (m->scan >= end || !memchr(buf + m->scan, '\n', end - m->scan)))
		return incomplete(m, buf, len, end, pos);

	if (m->phase == PH_START) {
		if (req) {
			/* RFC 9112 §2.2: ignore empty lines before a request */
			for (;;) {
				if (pos < end && buf[pos] == '\n')
					pos++;
				else if (end - pos >= 2 && buf[pos] == '\r' &&
					 buf[pos + 1] == '\n')
					pos += 2;
				else
					break;
			}
			r = request_line(m, buf, &pos, end);
		} else {
			r = status_line(m, buf, &pos, end);
		}
		if (r)
			goto out;
		m->phase = PH_FIELDS;
	}
	for (;;) {
		if (pos >= end) {
			r = COIL_HTTP_PARTIAL;
			goto out;
		}
		char c = buf[pos];
		if (c == '\r' || c == '\n') {
			r = eol(buf, &pos, end);
			if (r)
				goto out;
			break;
		}
		if (c == ' ' || c == '\t') {
			/* obs-fold, or whitespace before the first field
			 * (RFC 9112 §5.2, §2.2): refused */
			r = COIL_EPARSE;
			goto out;
		}
		r = field_line(m, buf, &pos, end);
		if (r)
			goto out;
	}

	m->off = pos;
	m->scan = pos;
	m->phase = PH_DONE;
	r = frame(m, req, flags);
	if (r)
		return m->phase = r;
	return (int)pos;

out:
	/* A malformed line without its line feed is still incomplete: which
	 * bytes are wrong with it is decided once it is whole, so that the
	 * answer does not depend on where the input was split. */
	if (r == COIL_HTTP_PARTIAL ||
	    (r == COIL_EPARSE && !memchr(buf + pos, '\n', end - pos)))
		return incomplete(m, buf, len, end, pos);
	return m->phase = r;
}

int coil_http_parse_response(struct coil_http_msg *m, const char *buf,
			     size_t len, unsigned flags)
{
	return parse(m, buf, len, 0, flags);
}

int coil_http_parse_request(struct coil_http_msg *m, const char *buf,
			    size_t len)
{
	return parse(m, buf, len, 1, 0);
}

const struct coil_http_header *
coil_http_header_find(const struct coil_http_msg *m, const char *name,
		      const struct coil_http_header *after)
{
	size_t n = strlen(name);
	unsigned i = after ? (unsigned)(after - m->headers) + 1 : 0;
	for (; i < m->nheaders; i++) {
		const struct coil_http_header *h = &m->headers[i];
		if (h->name_len != n)
			continue;
		size_t k = 0;
		while (k < n && ch_lower(h->name[k]) == ch_lower(name[k]))
			k++;
		if (k == n)
			return h;
	}
	return NULL;
}
