/*
 * tests/http/parse_check.h - run one head through the parser whole, at
 * every prefix, byte by byte and split in two at every point, each input
 * right before a guard page, and check that every way gives the same
 * answer (results are compared as offsets, since every call sees the bytes
 * at a different address).
 */
#ifndef COIL_TEST_PARSE_CHECK_H
#define COIL_TEST_PARSE_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "coil/http.h"
#include "guard.h"

#define PC_REQ (1u << 16) /* parse as a request */
#define PC_MAX_HEADERS 16

struct pc_opts {
	unsigned flags;	      /* COIL_HTTP_PARSE_* | PC_REQ */
	unsigned max_headers; /* 0: PC_MAX_HEADERS */
	size_t max_head;      /* 0: default */
};

/* Everything a parse produced, as text, with pointers turned into offsets
 * from @buf. */
static inline void pc_describe(char *out, size_t cap, int ret,
			       const struct coil_http_msg *m, const char *buf)
{
	int n = snprintf(out, cap, "ret=%d", ret);
	if (ret <= 0)
		return;
#define OFF(p) ((p) ? (long)((p)-buf) : -1L)
	n += snprintf(out + n, cap - (size_t)n,
		      " minor=%d status=%d method=%ld+%zu target=%ld+%zu "
		      "reason=%ld+%zu body=%d cl=%llu ka=%d nh=%u",
		      m->minor_version, m->status, OFF(m->method),
		      m->method_len, OFF(m->target), m->target_len,
		      OFF(m->reason), m->reason_len, m->body,
		      (unsigned long long)m->content_length, m->keep_alive,
		      m->nheaders);
	for (unsigned i = 0; i < m->nheaders && (size_t)n < cap; i++)
		n += snprintf(out + n, cap - (size_t)n, " [%ld+%zu %ld+%zu]",
			      OFF(m->headers[i].name), m->headers[i].name_len,
			      OFF(m->headers[i].value),
			      m->headers[i].value_len);
#undef OFF
}

/* The header fields as "name: value\n" lines. */
static inline void pc_fields(char *out, size_t cap,
			     const struct coil_http_msg *m)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < m->nheaders && n < cap; i++)
		n += (size_t)snprintf(
			out + n, cap - n, "%.*s: %.*s\n",
			(int)m->headers[i].name_len, m->headers[i].name,
			(int)m->headers[i].value_len, m->headers[i].value);
}

struct pc_run {
	struct coil_http_header hdrs[64];
	struct coil_http_msg m;
};

static inline void pc_init(struct pc_run *r, const struct pc_opts *o)
{
	coil_http_msg_init(&r->m, r->hdrs,
			   o->max_headers ? o->max_headers : PC_MAX_HEADERS);
	if (o->max_head)
		r->m.max_head_bytes = o->max_head;
}

static inline int pc_parse(struct pc_run *r, const struct pc_opts *o,
			   const char *buf, size_t len)
{
	if (o->flags & PC_REQ)
		return coil_http_parse_request(&r->m, buf, len);
	return coil_http_parse_response(&r->m, buf, len, o->flags & 0xffff);
}

/*
 * pc_check() - parse @in whole, then every other way; assert they agree.
 * Fills @whole (a struct the caller can inspect; its pointers go into the
 * guard copy, valid until the next guard_put on @g). Returns the whole
 * result. Counts the comparisons made in *checks.
 */
static inline int pc_check(struct guard *g, const char *in, size_t len,
			   const struct pc_opts *o, struct pc_run *whole,
			   const char **whole_buf, unsigned long *checks)
{
	static char want[4096], got[4096];
	struct pc_run inc, fresh, split;
	int r0, ri = COIL_HTTP_PARTIAL;

	/* whole, once for reference */
	char *b = guard_put(g, in, len);
	pc_init(whole, o);
	r0 = pc_parse(whole, o, b, len);
	pc_describe(want, sizeof(want), r0, &whole->m, b);

	/* every prefix: fresh parse versus fed byte by byte */
	pc_init(&inc, o);
	for (size_t k = 1; k <= len; k++) {
		char *p = guard_put(g, in, k);
		char d1[4096];
		pc_init(&fresh, o);
		int rf = pc_parse(&fresh, o, p, k);
		pc_describe(d1, sizeof(d1), rf, &fresh.m, p);
		/* after a final answer, further calls repeat it */
		ri = pc_parse(&inc, o, p, k);
		pc_describe(got, sizeof(got), ri, &inc.m, p);
		if (strcmp(d1, got) != 0) {
			fprintf(stderr,
				"prefix %zu of %zu: fresh\n  %s\nbyte by "
				"byte\n  %s\n",
				k, len, d1, got);
			fail();
		}
		(*checks)++;
	}
	if (len) {
		char *p = guard_put(g, in, len);
		pc_describe(got, sizeof(got), ri, &inc.m, p);
		if (strcmp(want, got) != 0) {
			fprintf(stderr, "byte by byte\n  %s\nwhole\n  %s\n",
				got, want);
			fail();
		}
	}

	/* two pieces, split at every point */
	for (size_t s = 1; s < len; s++) {
		pc_init(&split, o);
		int r1 = pc_parse(&split, o, guard_put(g, in, s), s);
		if (r1 != COIL_HTTP_PARTIAL)
			continue; /* compared with the fresh parse above */
		char *p = guard_put(g, in, len);
		int r2 = pc_parse(&split, o, p, len);
		pc_describe(got, sizeof(got), r2, &split.m, p);
		if (strcmp(want, got) != 0) {
			fprintf(stderr, "split at %zu\n  %s\nwhole\n  %s\n", s,
				got, want);
			fail();
		}
		(*checks)++;
	}

	/* leave the whole result in place for the caller */
	*whole_buf = guard_put(g, in, len);
	pc_init(whole, o);
	r0 = pc_parse(whole, o, *whole_buf, len);
	return r0;
}

#endif
