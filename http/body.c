/*
 * http/body.c - message bodies after the head: the in-place decoder of the
 * chunked transfer coding (RFC 9112 §7.1, picohttpparser's
 * phr_decode_chunked contract) and a reader over the four framings of
 * RFC 9112 §6.3 (none, Content-Length, chunked, close-delimited).
 *
 * The decoder is a byte-wise state machine for the framing lines, which
 * are a few bytes each, and a bulk memmove (or a plain count when
 * discarding) for the chunk data, which is where the bytes are. Every line
 * of the coding must end in CRLF: RFC 9112 §2.2 lets a recipient accept a
 * bare LF only in the start line and fields, and lax line ends after chunk
 * data are a known request smuggling vector.
 */
#include <limits.h>
#include <string.h>

#include "coil/http.h"
#include "chars.h"

enum {
	CK_SIZE0,    /* first hex digit of a chunk-size line */
	CK_SIZE,     /* more hex digits, or what follows them */
	CK_SIZE_BWS, /* whitespace after the size: only ';' may follow */
	CK_EXT,	     /* chunk extensions, skipped up to the line end */
	CK_SIZE_LF,  /* CR ended the size line, LF due */
	CK_DATA,     /* chunk data */
	CK_DATA_END, /* CRLF (or LF) after the data */
	CK_DATA_LF,
	CK_TR_LINE, /* start of a trailer line, or the final empty line */
	CK_TR_NAME,
	CK_TR_VALUE,
	CK_TR_LF,  /* CR ended a trailer field line, LF due */
	CK_END_LF, /* CR of the final empty line, LF due */
	CK_DONE,
};

void coil_http_chunked_init(struct coil_http_chunked *d, int discard)
{
	memset(d, 0, sizeof(*d));
	d->max_trailer_bytes = COIL_HTTP_MAX_TRAILER_DEFAULT;
	d->discard = discard;
	d->state = CK_SIZE0;
}

/* One framing byte. Returns 0, or an error. */
/* A framing byte that must be @want, then state @next. */
static inline int expect(struct coil_http_chunked *d, unsigned char c,
			 unsigned char want, int next)
{
	if (c != want)
		return COIL_EPARSE;
	d->state = next;
	return 0;
}

static inline int step(struct coil_http_chunked *d, unsigned char c)
{
	switch (d->state) {
	case CK_SIZE0:
		if (!ch_is(c, CH_HEX))
			return COIL_EPARSE;
		d->remaining = (uint64_t)ch_hexval(c);
		d->line_bytes = 1;
		d->state = CK_SIZE;
		return 0;
	case CK_SIZE:
	case CK_SIZE_BWS:
	case CK_EXT:
		if (++d->line_bytes > COIL_HTTP_MAX_CHUNK_LINE)
			return COIL_ELIMIT;
		if (c == '\r') {
			if (d->state == CK_SIZE_BWS)
				return COIL_EPARSE;
			d->state = CK_SIZE_LF;
			return 0;
		}
		if (d->state == CK_EXT) {
			/* chunk-ext (RFC 9112 §7.1.1): skipped; only bytes
			 * that could end or corrupt the line are refused */
			return ch_is(c, CH_VALUE) ? 0 : COIL_EPARSE;
		}
		if (c == ';') {
			d->state = CK_EXT;
			return 0;
		}
		if (c == ' ' || c == '\t') {
			/* BWS before ';' */
			d->state = CK_SIZE_BWS;
			return 0;
		}
		if (d->state == CK_SIZE && ch_is(c, CH_HEX)) {
			/* refuse sizes of 2^60 and up: no overflow, and no
			 * real body comes near */
			if (d->remaining >> 56)
				return COIL_EPARSE;
			d->remaining =
				d->remaining << 4 | (uint64_t)ch_hexval(c);
			return 0;
		}
		return COIL_EPARSE;
	case CK_SIZE_LF:
		if (c != '\n')
			return COIL_EPARSE;
		if (d->remaining) {
			d->state = CK_DATA;
		} else {
			d->state = CK_TR_LINE;
			d->line_bytes = 0;
		}
		return 0;
	case CK_DATA_END:
		return expect(d, c, '\r', CK_DATA_LF);
	case CK_DATA_LF:
		return expect(d, c, '\n', CK_SIZE0);
	}

	/* trailer section (RFC 9112 §7.1.2): field lines as in a head */
	if (++d->line_bytes > d->max_trailer_bytes)
		return COIL_ELIMIT;
	switch (d->state) {
	case CK_TR_LINE:
		if (c == '\r') {
			d->state = CK_END_LF;
			return 0;
		}
		if (!ch_is(c, CH_TCHAR))
			return COIL_EPARSE; /* obs-fold, empty name, junk */
		d->state = CK_TR_NAME;
		return 0;
	case CK_TR_NAME:
		if (c == ':') {
			d->state = CK_TR_VALUE;
			return 0;
		}
		return ch_is(c, CH_TCHAR) ? 0 : COIL_EPARSE;
	case CK_TR_VALUE:
		if (c == '\r') {
			d->state = CK_TR_LF;
			return 0;
		}
		return ch_is(c, CH_VALUE) ? 0 : COIL_EPARSE;
	case CK_TR_LF:
		return expect(d, c, '\n', CK_TR_LINE);
	case CK_END_LF:
		return expect(d, c, '\n', CK_DONE);
	}
	return COIL_EPARSE;
}

int coil_http_chunked_decode(struct coil_http_chunked *d, char *buf,
			     size_t *len)
{
	size_t n = *len, i = 0, o = 0;

	if (d->state < 0)
		return d->state;
	if (n > INT_MAX)
		return -EINVAL;
	while (i < n && d->state != CK_DONE) {
		if (d->state == CK_DATA) {
			size_t take = n - i;
			if (take > d->remaining)
				take = (size_t)d->remaining;
			if (!d->discard && o != i)
				memmove(buf + o, buf + i, take);
			o += take;
			i += take;
			d->remaining -= take;
			if (d->remaining == 0)
				d->state = CK_DATA_END;
			continue;
		}
		int r = step(d, (unsigned char)buf[i++]);
		if (r) {
			*len = o;
			return d->state = r;
		}
	}
	*len = o;
	if (d->state == CK_DONE)
		return (int)(n - i);
	return COIL_HTTP_PARTIAL;
}

void coil_http_body_init(struct coil_http_body *b,
			 const struct coil_http_msg *m, int discard)
{
	memset(b, 0, sizeof(*b));
	b->kind = m->body;
	if (b->kind == COIL_HTTP_BODY_LENGTH)
		b->remaining = m->content_length;
	coil_http_chunked_init(&b->chunked, discard);
}

int coil_http_body_decode(struct coil_http_body *b, char *buf, size_t *len)
{
	size_t n = *len;
	int r;

	if (n > INT_MAX || b->done)
		return -EINVAL;
	switch (b->kind) {
	case COIL_HTTP_BODY_LENGTH: {
		size_t take = n;
		if (take > b->remaining)
			take = (size_t)b->remaining;
		b->remaining -= take;
		b->received += take;
		*len = take;
		if (b->remaining)
			return COIL_HTTP_PARTIAL;
		b->done = 1;
		return (int)(n - take);
	}
	case COIL_HTTP_BODY_CHUNKED:
		r = coil_http_chunked_decode(&b->chunked, buf, len);
		if (r == COIL_HTTP_PARTIAL || r >= 0)
			b->received += *len;
		if (r >= 0)
			b->done = 1;
		return r;
	case COIL_HTTP_BODY_CLOSE:
		b->received += n;
		return COIL_HTTP_PARTIAL;
	default:
		*len = 0;
		b->done = 1;
		return (int)n;
	}
}

int coil_http_body_eof(struct coil_http_body *b)
{
	switch (b->kind) {
	case COIL_HTTP_BODY_CLOSE:
		b->done = 1;
		return 0;
	case COIL_HTTP_BODY_LENGTH:
		return b->remaining ? COIL_ETRUNC : 0;
	case COIL_HTTP_BODY_CHUNKED:
		return b->done ? 0 : COIL_ETRUNC;
	default:
		return 0;
	}
}
