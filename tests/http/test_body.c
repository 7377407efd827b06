/* tests/http/test_body.c - the chunked decoder and the body reader over
 * every framing: each input decoded whole, byte by byte, split at every
 * point and in discard mode, before a guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "coil/http.h"
#include "guard.h"

#define EPARSE COIL_EPARSE
#define ELIMIT COIL_ELIMIT
#define PARTIAL COIL_HTTP_PARTIAL
/* a literal with its exact length, NUL bytes included */
#define S(lit) lit, sizeof(lit) - 1

struct ccase {
	const char *name;
	const char *in;
	size_t in_len;	    /* 0: strlen */
	int ret;	    /* leftover bytes (>= 0), PARTIAL or an error */
	const char *data;   /* decoded data (for ret >= 0 or PARTIAL) */
	size_t max_trailer; /* 0: default */
	size_t data_len;    /* 0: strlen(data) */
};

static const struct ccase chunked_cases[] = {
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", 0, 0, "hello"},
	{"two chunks", "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 0, 0, "abcdefg"},
	{"empty body", "0\r\n\r\n", 0, 0, ""},
	{"hex digits both cases",
	 "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", 0, 0,
	 "0123456789abcdefghijk"},
	{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0, 0, "hello"},
	{"extensions skipped",
	 "5;name=value\r\nhello\r\n3;a;b=\"q;\\\"x y\"\r\nabc\r\n0;last\r\n"
	 "\r\n",
	 0, 0, "helloabc"},
	{"whitespace before extension", "5 \t;x=1\r\nhello\r\n0\r\n\r\n", 0, 0,
	 "hello"},
	{"trailers dropped", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n", 0, 0,
	 "hello"},
	{"bare LF after size", "5\nhello\r\n0\r\n\r\n", 0, EPARSE},
	{"bare LF after data", "5\r\nhello\n0\r\n\r\n", 0, EPARSE},
	{"bare LF after trailer", "0\r\nX: 1\n\r\n", 0, EPARSE},
	{"bare LF at the end", "0\r\n\n", 0, EPARSE},
	{"bytes after the body", "5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n",
	 0, 17, "hello"},
	{"data with CR LF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 0, 0,
	 "\r\n\r\n"},
	{"data with NUL", S("3\r\na\0b\r\n0\r\n\r\n"), 0, "a\0b", 0, 3},
	{"incomplete data", "5\r\nhel", 0, PARTIAL, "hel"},
	{"incomplete after data", "5\r\nhello\r", 0, PARTIAL, "hello"},
	{"incomplete trailer", "5\r\nhello\r\n0\r\nX: 1\r\n", 0, PARTIAL,
	 "hello"},
	{"largest size line accepted", "fffffffffffffff\r\nab", 0, PARTIAL,
	 "ab"},
	{"no hex digit", "x\r\n", 0, EPARSE},
	{"empty size line", "\r\nhello\r\n", 0, EPARSE},
	{"extension without size", ";x\r\n", 0, EPARSE},
	{"junk after size", "5x\r\nhello\r\n", 0, EPARSE},
	{"0x prefix", "0x5\r\nhello\r\n", 0, EPARSE},
	{"negative size", "-5\r\nhello\r\n", 0, EPARSE},
	{"whitespace without extension", "5 \r\nhello\r\n", 0, EPARSE},
	{"whitespace then junk", "5 x\r\nhello\r\n", 0, EPARSE},
	{"size 2^60", "1000000000000000\r\n", 0, EPARSE},
	{"size 2^64", "10000000000000000\r\n", 0, EPARSE},
	{"size of 40 digits", "ffffffffffffffffffffffffffffffffffffffff\r\n", 0,
	 EPARSE},
	{"CR without LF after size", "5\rhello\r\n", 0, EPARSE},
	{"data longer than announced", "5\r\nhelloX\r\n0\r\n\r\n", 0, EPARSE},
	{"data shorter than announced", "5\r\nhell\r\n0\r\n\r\n", 0, EPARSE},
	{"CR CR after data", "5\r\nhello\r\r\n0\r\n\r\n", 0, EPARSE},
	{"control byte in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", 0,
	 EPARSE},
	{"NUL in extension", S("5;a\0\r\nhello\r\n0\r\n\r\n"), EPARSE},
	{"bare CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", 0, EPARSE},
	{"trailer obs-fold", "0\r\nX: 1\r\n 2\r\n\r\n", 0, EPARSE},
	{"trailer without colon", "0\r\nX\r\n\r\n", 0, EPARSE},
	{"trailer space before colon", "0\r\nX : 1\r\n\r\n", 0, EPARSE},
	{"trailer empty name", "0\r\n: 1\r\n\r\n", 0, EPARSE},
	{"trailer control byte", "0\r\nX: \x02\r\n\r\n", 0, EPARSE},
	{"trailer bare CR", "0\r\nX: a\rb\r\n\r\n", 0, EPARSE},
	{"final CR without LF", "0\r\n\rx", 0, EPARSE},
	{"trailers at the limit", "0\r\nX: 12345\r\n\r\n", 0, 0, "", 12},
	{"trailers over the limit", "0\r\nX: 123456\r\n\r\n", 0, ELIMIT, NULL,
	 12},
};

static unsigned long checks;

struct dec {
	char out[8192];
	size_t out_len;
	size_t fed;
	int ret;
};

/* Feed @in in pieces of @step bytes (0: whole; SIZE_MAX-1: split at
 * @split), each right before the guard page. */
static void decode(struct guard *g, const struct ccase *c, const char *in,
		   size_t n, size_t step, size_t split, int discard,
		   struct dec *d)
{
	struct coil_http_chunked dc;
	coil_http_chunked_init(&dc, discard);
	if (c->max_trailer)
		dc.max_trailer_bytes = c->max_trailer;
	d->out_len = 0;
	d->fed = 0;
	d->ret = PARTIAL;
	while (d->fed < n && d->ret == PARTIAL) {
		size_t k = n - d->fed;
		if (step && k > step)
			k = step;
		if (split && d->fed < split && k > split - d->fed)
			k = split - d->fed;
		char *p = guard_put(g, in + d->fed, k);
		size_t len = k;
		d->ret = coil_http_chunked_decode(&dc, p, &len);
		assert_true(len <= k);
		if (d->ret == PARTIAL || d->ret >= 0) {
			if (!discard)
				memcpy(d->out + d->out_len, p, len);
			d->out_len += len;
		}
		d->fed += k;
		if (d->ret >= 0) {
			/* the rest of the input is after the body too */
			d->ret += (int)(n - d->fed);
		}
	}
	if (n == 0)
		d->ret = PARTIAL;
}

static void run_chunked(struct guard *g, const struct ccase *c)
{
	size_t n = c->in_len ? c->in_len : strlen(c->in);
	struct dec whole, other;
	decode(g, c, c->in, n, 0, 0, 0, &whole);
	if (whole.ret != c->ret)
		fail_msg("%s: got %d, want %d", c->name, whole.ret, c->ret);
	if (c->data) {
		size_t dl = c->data_len ? c->data_len : strlen(c->data);
		assert_int_equal(whole.out_len, dl);
		assert_memory_equal(whole.out, c->data, dl);
	}
	for (int discard = 0; discard < 2; discard++) {
		for (size_t s = 0; s < n; s++) {
			/* s == 0: byte by byte; else two pieces */
			decode(g, c, c->in, n, s ? 0 : 1, s, discard, &other);
			if (other.ret != whole.ret)
				fail_msg("%s: split %zu discard %d: %d vs %d",
					 c->name, s, discard, other.ret,
					 whole.ret);
			if (whole.ret >= 0 || whole.ret == PARTIAL) {
				assert_int_equal(other.out_len, whole.out_len);
				if (!discard)
					assert_memory_equal(other.out,
							    whole.out,
							    whole.out_len);
			}
			checks++;
		}
	}
}

static void test_body_chunked_table(void **state)
{
	struct guard g;
	guard_init(&g, 16384);
	for (size_t i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]);
	     i++)
		run_chunked(&g, &chunked_cases[i]);
	guard_free(&g);
	assert_true(checks > 1000);
}

/* The leftover of a finished body stays at the end of the input, and data
 * was moved to the front. */
static void test_body_chunked_layout_in_place(void **state)
{
	char in[] = "3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\nNEXT";
	size_t len = sizeof(in) - 1;
	struct coil_http_chunked d;
	coil_http_chunked_init(&d, 0);
	int r = coil_http_chunked_decode(&d, in, &len);
	assert_int_equal(r, 4);
	assert_int_equal(len, 5);
	assert_memory_equal(in, "abcde", 5);
	assert_memory_equal(in + sizeof(in) - 1 - 4, "NEXT", 4);
	/* discard mode leaves the bytes alone and counts */
	char in2[] = "3\r\nabc\r\n0\r\n\r\n";
	len = sizeof(in2) - 1;
	coil_http_chunked_init(&d, 1);
	assert_int_equal(coil_http_chunked_decode(&d, in2, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(in2, "3\r\nabc", 6);
	/* decoder errors stay */
	char bad[] = "z";
	len = 1;
	coil_http_chunked_init(&d, 0);
	assert_int_equal(coil_http_chunked_decode(&d, bad, &len), EPARSE);
	len = 1;
	assert_int_equal(coil_http_chunked_decode(&d, bad, &len), EPARSE);
	/* a size line over COIL_HTTP_MAX_CHUNK_LINE */
	static char ext[COIL_HTTP_MAX_CHUNK_LINE + 16];
	memset(ext, 'x', sizeof(ext));
	memcpy(ext, "5;", 2);
	len = sizeof(ext);
	coil_http_chunked_init(&d, 0);
	assert_int_equal(coil_http_chunked_decode(&d, ext, &len), ELIMIT);
	/* one under it is fine */
	len = COIL_HTTP_MAX_CHUNK_LINE;
	coil_http_chunked_init(&d, 0);
	assert_int_equal(coil_http_chunked_decode(&d, ext, &len), PARTIAL);
	/* input over INT_MAX is refused before anything is read */
	len = (size_t)INT32_MAX + 1;
	coil_http_chunked_init(&d, 0);
	assert_int_equal(coil_http_chunked_decode(&d, ext, &len), -EINVAL);
}

static void parse_head(struct coil_http_msg *m, struct coil_http_header *h,
		       const char *in, unsigned flags, int req)
{
	coil_http_msg_init(m, h, 16);
	int r = req ? coil_http_parse_request(m, in, strlen(in))
		    : coil_http_parse_response(m, in, strlen(in), flags);
	assert_int_equal(r, (int)strlen(in));
}

static void test_body_length_framing(void **state)
{
	struct coil_http_header h[16];
	struct coil_http_msg m;
	struct coil_http_body b;
	parse_head(&m, h, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0,
		   0);
	coil_http_body_init(&b, &m, 0);
	char p1[] = "0123";
	size_t len = 4;
	assert_int_equal(coil_http_body_decode(&b, p1, &len), PARTIAL);
	assert_int_equal(len, 4);
	assert_int_equal(coil_http_body_eof(&b), COIL_ETRUNC);
	char p2[] = "456789HTTP";
	len = 10;
	assert_int_equal(coil_http_body_decode(&b, p2, &len), 4);
	assert_int_equal(len, 6);
	assert_true(b.done);
	assert_int_equal(b.received, 10);
	assert_int_equal(coil_http_body_eof(&b), 0);
	len = 1;
	assert_int_equal(coil_http_body_decode(&b, p2, &len), -EINVAL);

	/* Content-Length 0: ends at once, everything is the next message */
	parse_head(&m, h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0);
	coil_http_body_init(&b, &m, 0);
	assert_int_equal(coil_http_body_eof(&b), 0);
	len = 3;
	assert_int_equal(coil_http_body_decode(&b, p2, &len), 3);
	assert_int_equal(len, 0);
}

static void test_body_none_framing(void **state)
{
	struct coil_http_header h[16];
	struct coil_http_msg m;
	struct coil_http_body b;
	char next[] = "HTTP/1.1 200 OK\r\n";
	size_t len;
	const char *heads[] = {
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	};
	for (size_t i = 0; i < 3; i++) {
		parse_head(&m, h, heads[i], 0, 0);
		assert_int_equal(m.body, COIL_HTTP_BODY_NONE);
		coil_http_body_init(&b, &m, 0);
		len = sizeof(next) - 1;
		assert_int_equal(coil_http_body_decode(&b, next, &len),
				 (int)sizeof(next) - 1);
		assert_int_equal(len, 0);
		assert_int_equal(coil_http_body_eof(&b), 0);
	}
	/* HEAD: a length is announced, no body follows */
	parse_head(&m, h, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
		   COIL_HTTP_PARSE_HEAD, 0);
	coil_http_body_init(&b, &m, 0);
	len = 0;
	assert_int_equal(coil_http_body_decode(&b, next, &len), 0);
	assert_true(b.done);
	/* a request without framing has no body */
	parse_head(&m, h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1);
	assert_int_equal(m.body, COIL_HTTP_BODY_NONE);
	coil_http_body_init(&b, &m, 0);
	len = 4;
	assert_int_equal(coil_http_body_decode(&b, next, &len), 4);
}

static void test_body_close_framing(void **state)
{
	struct coil_http_header h[16];
	struct coil_http_msg m;
	struct coil_http_body b;
	char data[] = "all of this is body";
	parse_head(&m, h, "HTTP/1.0 200 OK\r\n\r\n", 0, 0);
	assert_int_equal(m.body, COIL_HTTP_BODY_CLOSE);
	assert_int_equal(m.keep_alive, 0);
	coil_http_body_init(&b, &m, 0);
	for (int i = 0; i < 3; i++) {
		size_t len = sizeof(data) - 1;
		assert_int_equal(coil_http_body_decode(&b, data, &len),
				 PARTIAL);
		assert_int_equal(len, sizeof(data) - 1);
	}
	assert_int_equal(b.received, 3 * (sizeof(data) - 1));
	assert_int_equal(coil_http_body_eof(&b), 0);
	assert_true(b.done);
}

static void test_body_chunked_framing(void **state)
{
	struct coil_http_header h[16];
	struct coil_http_msg m;
	struct coil_http_body b;
	parse_head(&m, h,
		   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
		   0);
	coil_http_body_init(&b, &m, 0);
	char p1[] = "5\r\nhel";
	size_t len = sizeof(p1) - 1;
	assert_int_equal(coil_http_body_decode(&b, p1, &len), PARTIAL);
	assert_int_equal(len, 3);
	assert_memory_equal(p1, "hel", 3);
	assert_int_equal(coil_http_body_eof(&b), COIL_ETRUNC);
	char p2[] = "lo\r\n0\r\n\r\nX";
	len = sizeof(p2) - 1;
	assert_int_equal(coil_http_body_decode(&b, p2, &len), 1);
	assert_int_equal(len, 2);
	assert_int_equal(b.received, 5);
	assert_int_equal(coil_http_body_eof(&b), 0);
	/* an error from the decoder reaches the caller */
	coil_http_body_init(&b, &m, 1);
	char bad[] = "5\r\nhelloX";
	len = sizeof(bad) - 1;
	assert_int_equal(coil_http_body_decode(&b, bad, &len), EPARSE);
}

/* A whole keep-alive exchange in one buffer: head, chunked body, next
 * head, length body. */
static void test_body_pipelined_messages(void **state)
{
	static const char src[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"4\r\nWiki\r\n5;e=1\r\npedia\r\n0\r\nT: 1\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
	struct guard g;
	struct coil_http_header h[8];
	struct coil_http_msg m;
	struct coil_http_body b;
	guard_init(&g, 4096);
	char *buf = guard_put(&g, src, sizeof(src) - 1);
	size_t n = sizeof(src) - 1;

	coil_http_msg_init(&m, h, 8);
	int hl = coil_http_parse_response(&m, buf, n, 0);
	assert_true(hl > 0);
	coil_http_body_init(&b, &m, 0);
	size_t len = n - (size_t)hl;
	int left = coil_http_body_decode(&b, buf + hl, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(buf + hl, "Wikipedia", 9);
	assert_true(left > 0);

	char *next = buf + n - left;
	coil_http_msg_reset(&m);
	hl = coil_http_parse_response(&m, next, (size_t)left, 0);
	assert_true(hl > 0);
	assert_int_equal(m.content_length, 13);
	coil_http_body_init(&b, &m, 0);
	len = (size_t)left - (size_t)hl;
	assert_int_equal(coil_http_body_decode(&b, next + hl, &len), 0);
	assert_int_equal(len, 13);
	assert_memory_equal(next + hl, "Hello, World!", 13);
	guard_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_chunked_table),
		cmocka_unit_test(test_body_chunked_layout_in_place),
		cmocka_unit_test(test_body_length_framing),
		cmocka_unit_test(test_body_none_framing),
		cmocka_unit_test(test_body_close_framing),
		cmocka_unit_test(test_body_chunked_framing),
		cmocka_unit_test(test_body_pipelined_messages),
	};
	return cmocka_run_group_tests_name("http.body", tests, NULL, NULL);
}
