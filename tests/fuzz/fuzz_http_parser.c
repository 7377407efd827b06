/*
 * tests/fuzz/fuzz_http_parser.c - libFuzzer target for the HTTP head parser
 * and the body decoders (http/parser.c, http/body.c).
 *
 * The first input byte picks the mode (request or response, HEAD, small
 * limits, where to split); the rest is the message. Beyond "no crash, no
 * over-read, no UB, no leak" (the sanitizers' job) it checks the parser's
 * promises, and aborts when one breaks:
 *  - the head parsed whole, in two pieces and byte by byte gives the same
 *    result and the same fields (each piece in a buffer of its exact size,
 *    so AddressSanitizer catches any read past it);
 *  - the body decoded whole, in two pieces, and in discard mode gives the
 *    same data, the same end and the same leftover;
 *  - results point inside the input and lengths stay in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil/http.h"

#define MAXH 24

struct snap {
	int ret;
	int minor, status, body, keep_alive;
	uint64_t cl;
	long method, target, reason;
	size_t method_len, target_len, reason_len;
	unsigned nheaders;
	long hn[MAXH], hv[MAXH];
	size_t hnl[MAXH], hvl[MAXH];
};

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_http_parser: broken: %s\n", what);
		abort();
	}
}

static long off(const char *p, const char *buf, size_t len)
{
	if (!p)
		return -1;
	check(p >= buf && p <= buf + len, "pointer outside the input");
	return (long)(p - buf);
}

static void snap(struct snap *s, int ret, const struct coil_http_msg *m,
		 const char *buf, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->ret = ret;
	if (ret <= 0)
		return;
	check((size_t)ret <= len, "head longer than the input");
	s->minor = m->minor_version;
	s->status = m->status;
	s->body = m->body;
	s->keep_alive = m->keep_alive;
	s->cl = m->content_length;
	s->method = off(m->method, buf, len);
	s->target = off(m->target, buf, len);
	s->reason = off(m->reason, buf, len);
	s->method_len = m->method_len;
	s->target_len = m->target_len;
	s->reason_len = m->reason_len;
	s->nheaders = m->nheaders;
	check(m->nheaders <= m->max_headers, "too many headers");
	for (unsigned i = 0; i < m->nheaders; i++) {
		const struct coil_http_header *h = &m->headers[i];
		s->hn[i] = off(h->name, buf, len);
		s->hv[i] = off(h->value, buf, len);
		s->hnl[i] = h->name_len;
		s->hvl[i] = h->value_len;
		check(s->hn[i] + (long)h->name_len <= ret &&
			      s->hv[i] + (long)h->value_len <= ret,
		      "field outside the head");
		check(h->name_len > 0, "empty field name");
	}
}

struct mode {
	int req;
	unsigned flags;
	unsigned max_headers;
	size_t max_head;
};

static int parse(struct coil_http_msg *m, const struct mode *md, const char *b,
		 size_t n)
{
	if (md->req)
		return coil_http_parse_request(m, b, n);
	return coil_http_parse_response(m, b, n, md->flags);
}

static void msg_init(struct coil_http_msg *m, struct coil_http_header *h,
		     const struct mode *md)
{
	coil_http_msg_init(m, h, md->max_headers);
	if (md->max_head)
		m->max_head_bytes = md->max_head;
}

/* A copy of data[0, n) in a buffer of exactly n bytes. */
static char *exact(const uint8_t *data, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	memcpy(p, data, n);
	return p;
}

/* Parse the head whole, split at @cut, and byte by byte (short inputs). */
static int head(const struct mode *md, const uint8_t *data, size_t size,
		size_t cut)
{
	struct coil_http_header h1[MAXH], h2[MAXH];
	struct coil_http_msg m1, m2;
	struct snap a, b;

	char *whole = exact(data, size);
	msg_init(&m1, h1, md);
	int r = parse(&m1, md, whole, size);
	snap(&a, r, &m1, whole, size);
	free(whole);

	/* two pieces: the prefix in its own exact buffer, then the whole */
	msg_init(&m2, h2, md);
	char *pre = exact(data, cut);
	int r1 = parse(&m2, md, pre, cut);
	free(pre);
	if (r1 == COIL_HTTP_PARTIAL) {
		char *all = exact(data, size);
		int r2 = parse(&m2, md, all, size);
		snap(&b, r2, &m2, all, size);
		free(all);
		check(memcmp(&a, &b, sizeof(a)) == 0, "split differs");
	} else {
		/* the prefix already decided: the whole must agree */
		check(r1 == r, "prefix result differs");
	}

	/* byte by byte, for inputs short enough to keep runs fast */
	if (size <= 600) {
		msg_init(&m2, h2, md);
		int rb = COIL_HTTP_PARTIAL;
		for (size_t k = 1; k <= size && rb == COIL_HTTP_PARTIAL; k++) {
			char *p = exact(data, k);
			rb = parse(&m2, md, p, k);
			if (rb != COIL_HTTP_PARTIAL || k == size) {
				snap(&b, rb, &m2, p, k);
				check(memcmp(&a, &b, sizeof(a)) == 0,
				      "byte by byte differs");
			}
			free(p);
		}
	}
	return r;
}

/* Decode @n body bytes with @b in pieces split at @cut (0: whole); the
 * decoded data lands in @out (or is only counted when discarding). */
static int body(const struct coil_http_msg *m, const uint8_t *data, size_t n,
		size_t cut, int discard, char *out, size_t *out_len,
		size_t *leftover)
{
	struct coil_http_body b;
	size_t fed = 0;
	int r = COIL_HTTP_PARTIAL;
	coil_http_body_init(&b, m, discard);
	*out_len = 0;
	*leftover = 0;
	if (n == 0) {
		size_t len = 0;
		char z[1];
		r = coil_http_body_decode(&b, z, &len);
		if (r == COIL_HTTP_PARTIAL)
			return coil_http_body_eof(&b);
		return r > 0 ? 0 : r;
	}
	while (fed < n && r == COIL_HTTP_PARTIAL) {
		size_t k = (cut && fed < cut) ? cut - fed : n - fed;
		char *p = exact(data + fed, k);
		size_t len = k;
		r = coil_http_body_decode(&b, p, &len);
		check(len <= k, "decoded more than given");
		if (r >= 0 || r == COIL_HTTP_PARTIAL) {
			if (!discard)
				memcpy(out + *out_len, p, len);
			*out_len += len;
		}
		if (r >= 0) {
			check((size_t)r <= k, "leftover beyond the input");
			*leftover = (size_t)r + (n - fed - k);
		}
		free(p);
		fed += k;
	}
	if (r == COIL_HTTP_PARTIAL) {
		int e = coil_http_body_eof(&b);
		check(e == 0 || e == COIL_ETRUNC, "eof result");
		if (m->body == COIL_HTTP_BODY_CLOSE)
			check(e == 0, "close-delimited body truncated");
		r = e == 0 ? 0 : e;
	}
	check(b.received == *out_len, "received count differs");
	return r > 0 ? 0 : r; /* ended (leftover in *leftover), or an error */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t sel = data[0], sel2 = data[1];
	data += 2;
	size -= 2;

	struct mode md = {
		.req = sel & 1,
		.flags = (sel & 2) ? COIL_HTTP_PARSE_HEAD : 0,
		.max_headers = (sel & 4) ? 3 : MAXH,
		.max_head = (sel & 8) ? 64 + sel2 : 0,
	};
	size_t cut = size ? (size * (size_t)(sel >> 4)) / 16 : 0;
	if (cut == 0 && size > 1)
		cut = 1;

	int r = head(&md, data, size, cut);
	if (r <= 0)
		return 0;

	/* the body after the head, with the framing the head gave */
	struct coil_http_header hh[MAXH];
	struct coil_http_msg m;
	msg_init(&m, hh, &md);
	char *whole = exact(data, size);
	check(parse(&m, &md, whole, size) == r, "second parse differs");
	size_t n = size - (size_t)r;
	const uint8_t *bd = data + r;
	char *o1 = malloc(n + 1), *o2 = malloc(n + 1);
	size_t l1, l2, left1, left2;
	if (!o1 || !o2)
		abort();
	int b1 = body(&m, bd, n, 0, 0, o1, &l1, &left1);
	size_t bcut = n ? (n * (size_t)(sel2 & 15)) / 16 : 0;
	int b2 = body(&m, bd, n, bcut, 0, o2, &l2, &left2);
	/* after a decoding error, how much data came before it depends on
	 * the pieces; the error itself does not */
	int failed = b1 == COIL_EPARSE || b1 == COIL_ELIMIT;
	check(b1 == b2, "body result differs when split");
	check(failed || (l1 == l2 && left1 == left2 && memcmp(o1, o2, l1) == 0),
	      "body data differs when split");
	int b3 = body(&m, bd, n, bcut, 1, o2, &l2, &left2);
	check(b1 == b3, "body result differs when discarding");
	check(failed || (l1 == l2 && left1 == left2),
	      "body count differs when discarding");
	if (b1 >= 0 && m.body == COIL_HTTP_BODY_LENGTH)
		check(l1 == m.content_length, "length body size");
	free(o1);
	free(o2);
	free(whole);
	return 0;
}
