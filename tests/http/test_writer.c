/* tests/http/test_writer.c - request and response writers, chunk encoder,
 * IMF-fixdate: exact bytes, every refusal, every short buffer, and a round
 * trip through the parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "coil/http.h"
#include "guard.h"

#define HDR(n, v)                                                              \
	{                                                                      \
		n, sizeof(n) - 1, v, sizeof(v) - 1                             \
	}

/* Write into a buffer ending at a guard page, exactly as large as needed,
 * after checking that every smaller capacity fails with -ENOSPC. */
static int req_exact(const struct coil_http_request_spec *r, char *out,
		     size_t out_cap)
{
	struct guard g;
	int n = coil_http_request_write(out, out_cap, r);
	if (n < 0)
		return n;
	guard_init(&g, (size_t)n);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		char *b = g.map + g.cap - cap;
		assert_int_equal(coil_http_request_write(b, cap, r), -ENOSPC);
	}
	char *b = g.map + g.cap - (size_t)n;
	assert_int_equal(coil_http_request_write(b, (size_t)n, r), n);
	assert_memory_equal(b, out, (size_t)n);
	guard_free(&g);
	return n;
}

static int resp_exact(const struct coil_http_response_spec *r, char *out,
		      size_t out_cap)
{
	struct guard g;
	int n = coil_http_response_write(out, out_cap, r);
	if (n < 0)
		return n;
	guard_init(&g, (size_t)n);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		char *b = g.map + g.cap - cap;
		assert_int_equal(coil_http_response_write(b, cap, r), -ENOSPC);
	}
	char *b = g.map + g.cap - (size_t)n;
	assert_int_equal(coil_http_response_write(b, (size_t)n, r), n);
	assert_memory_equal(b, out, (size_t)n);
	guard_free(&g);
	return n;
}

static void expect(const char *got, int n, const char *want)
{
	if (n != (int)strlen(want) || memcmp(got, want, (size_t)n) != 0)
		fail_msg("got %d bytes\n%.*s\nwant\n%s", n, n > 0 ? n : 0, got,
			 want);
}

static void test_writer_request_get(void **state)
{
	char buf[512];
	struct coil_http_header hs[] = {HDR("Accept", "*/*")};
	struct coil_http_request_spec r = {
		.method = "GET",
		.target = "/a?b=c",
		.target_len = 6,
		.host = "example.com:8080",
		.host_len = 16,
		.user_agent = "coil/0.1",
		.headers = hs,
		.nheaders = 1,
	};
	int n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n"
	       "User-Agent: coil/0.1\r\nAccept: */*\r\n\r\n");
	/* no Host, no User-Agent, close */
	r.host = NULL;
	r.user_agent = NULL;
	r.headers = NULL;
	r.nheaders = 0;
	r.flags = COIL_HTTP_CLOSE;
	n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n, "GET /a?b=c HTTP/1.1\r\nConnection: close\r\n\r\n");
	r.flags = COIL_HTTP_KEEP_ALIVE;
	n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n, "GET /a?b=c HTTP/1.1\r\nConnection: keep-alive\r\n\r\n");
}

static void test_writer_request_bodies(void **state)
{
	char buf[512];
	struct coil_http_request_spec r = {
		.method = "POST",
		.target = "/p",
		.target_len = 2,
		.host = "h",
		.host_len = 1,
		.body = "{\"a\":1}",
		.body_len = 7,
	};
	int n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n"
	       "{\"a\":1}");
	/* POST/PUT/PATCH send a length of 0; GET does not */
	const char *with[] = {"POST", "PUT", "PATCH"};
	for (int i = 0; i < 3; i++) {
		r.method = with[i];
		r.body = NULL;
		r.body_len = 0;
		n = req_exact(&r, buf, sizeof(buf));
		assert_true(n > 0);
		assert_non_null(
			memmem(buf, (size_t)n, "Content-Length: 0\r\n", 19));
	}
	r.method = "DELETE";
	n = req_exact(&r, buf, sizeof(buf));
	assert_null(memmem(buf, (size_t)n, "Content-Length", 14));
	/* a GET with a body still announces it */
	r.method = "GET";
	r.body = "xy";
	r.body_len = 2;
	n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "GET /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy");
	/* HEAD_ONLY: the length, not the bytes */
	r.method = "PUT";
	r.body = NULL;
	r.body_len = 123456789012ull;
	r.flags = COIL_HTTP_HEAD_ONLY;
	n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "PUT /p HTTP/1.1\r\nHost: h\r\nContent-Length: 123456789012\r\n"
	       "\r\n");
	/* chunked: head only, then chunks */
	r.body_len = 0;
	r.flags = COIL_HTTP_CHUNKED;
	n = req_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "PUT /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	       "\r\n");
}

struct refusal {
	const char *name;
	struct coil_http_request_spec r;
};

static const struct coil_http_header bad_name_cr[] = {HDR("X\r", "v")};
static const struct coil_http_header bad_name_lf[] = {HDR("X\nY", "v")};
static const struct coil_http_header bad_name_nul[] = {HDR("X\0Y", "v")};
static const struct coil_http_header bad_name_sp[] = {HDR("X Y", "v")};
static const struct coil_http_header bad_name_colon[] = {HDR("X:", "v")};
static const struct coil_http_header bad_name_empty[] = {HDR("", "v")};
static const struct coil_http_header bad_val_cr[] = {HDR("X", "a\rb")};
static const struct coil_http_header bad_val_lf[] = {HDR("X", "a\nb")};
static const struct coil_http_header bad_val_crlf[] = {
	HDR("X", "a\r\nInjected: 1")};
static const struct coil_http_header bad_val_nul[] = {HDR("X", "a\0b")};
static const struct coil_http_header bad_val_ctl[] = {HDR("X", "a\x01")};
static const struct coil_http_header bad_val_del[] = {HDR("X", "a\x7f")};
static const struct coil_http_header own_cl[] = {HDR("content-length", "5")};
static const struct coil_http_header own_te[] = {
	HDR("Transfer-Encoding", "chunked")};
static const struct coil_http_header own_host[] = {HDR("HOST", "x")};
static const struct coil_http_header own_ua[] = {HDR("User-Agent", "x")};
static const struct coil_http_header own_conn[] = {HDR("Connection", "x")};
static const struct coil_http_header null_value[] = {{"X", 1, NULL, 3}};

#define BASE                                                                   \
	.method = "GET", .target = "/", .target_len = 1, .host = "h",          \
	.host_len = 1
#define WITH(h) .headers = h, .nheaders = 1

static const struct refusal request_refusals[] = {
	{"name CR", {BASE, WITH(bad_name_cr)}},
	{"name LF", {BASE, WITH(bad_name_lf)}},
	{"name NUL", {BASE, WITH(bad_name_nul)}},
	{"name space", {BASE, WITH(bad_name_sp)}},
	{"name colon", {BASE, WITH(bad_name_colon)}},
	{"name empty", {BASE, WITH(bad_name_empty)}},
	{"value CR", {BASE, WITH(bad_val_cr)}},
	{"value LF", {BASE, WITH(bad_val_lf)}},
	{"value CRLF injection", {BASE, WITH(bad_val_crlf)}},
	{"value NUL", {BASE, WITH(bad_val_nul)}},
	{"value control", {BASE, WITH(bad_val_ctl)}},
	{"value DEL", {BASE, WITH(bad_val_del)}},
	{"value NULL with length", {BASE, WITH(null_value)}},
	{"headers NULL with count", {BASE, .headers = NULL, .nheaders = 2}},
	{"caller Content-Length", {BASE, WITH(own_cl)}},
	{"caller Transfer-Encoding", {BASE, WITH(own_te)}},
	{"caller Host beside host", {BASE, WITH(own_host)}},
	{"caller User-Agent beside user_agent",
	 {BASE, WITH(own_ua), .user_agent = "u"}},
	{"caller Connection beside a flag",
	 {BASE, WITH(own_conn), .flags = COIL_HTTP_CLOSE}},
	{"method with space",
	 {.method = "G T", .target = "/", .target_len = 1}},
	{"method with CR", {.method = "GET\r", .target = "/", .target_len = 1}},
	{"method empty", {.method = "", .target = "/", .target_len = 1}},
	{"method NULL", {.target = "/", .target_len = 1}},
	{"target empty", {.method = "GET", .target = "", .target_len = 0}},
	{"target NULL", {.method = "GET"}},
	{"target with space",
	 {.method = "GET", .target = "/a b", .target_len = 4}},
	{"target with CR LF",
	 {.method = "GET", .target = "/\r\nX: 1", .target_len = 7}},
	{"target with NUL",
	 {.method = "GET", .target = "/\0", .target_len = 2}},
	{"host with CR",
	 {.method = "GET",
	  .target = "/",
	  .target_len = 1,
	  .host = "h\r",
	  .host_len = 2}},
	{"host with space",
	 {.method = "GET",
	  .target = "/",
	  .target_len = 1,
	  .host = "h x",
	  .host_len = 3}},
	{"user agent with LF", {BASE, .user_agent = "a\nb"}},
	{"close and keep-alive",
	 {BASE, .flags = COIL_HTTP_CLOSE | COIL_HTTP_KEEP_ALIVE}},
	{"chunked with a body",
	 {BASE, .body = "x", .body_len = 1, .flags = COIL_HTTP_CHUNKED}},
	{"chunked with head only",
	 {BASE, .flags = COIL_HTTP_CHUNKED | COIL_HTTP_HEAD_ONLY}},
	{"body NULL with a length", {BASE, .body_len = 3}},
	{"unknown flag", {BASE, .flags = 1u << 20}},
	{"response-only flag", {BASE, .flags = COIL_HTTP_NO_DATE}},
};

static void test_writer_request_refusals(void **state)
{
	char buf[512];
	for (size_t i = 0;
	     i < sizeof(request_refusals) / sizeof(request_refusals[0]); i++) {
		memset(buf, 0, sizeof(buf));
		int n = coil_http_request_write(buf, sizeof(buf),
						&request_refusals[i].r);
		if (n != -EINVAL)
			fail_msg("%s: got %d", request_refusals[i].name, n);
	}
}

static void test_writer_response_exact(void **state)
{
	char buf[512];
	struct coil_http_header hs[] = {HDR("Content-Type", "text/plain")};
	struct coil_http_response_spec r = {
		.status = 200,
		.headers = hs,
		.nheaders = 1,
		.body = "Hello, World!",
		.body_len = 13,
		.date_sec = 784111777,
	};
	int n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	       "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
	       "Hello, World!");
	/* no content for 204 and 304, and no length */
	r.body = NULL;
	r.body_len = 0;
	r.headers = NULL;
	r.nheaders = 0;
	r.status = 204;
	r.flags = COIL_HTTP_NO_DATE;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 204 No Content\r\n\r\n");
	r.status = 304;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 304 Not Modified\r\n\r\n");
	r.status = 100;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 100 Continue\r\n\r\n");
	/* 404 with an empty body still says 0; close */
	r.status = 404;
	r.flags = COIL_HTTP_NO_DATE | COIL_HTTP_CLOSE;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
	       "Content-Length: 0\r\n\r\n");
	/* a status without a registered phrase, and a caller's phrase */
	r.status = 599;
	r.flags = COIL_HTTP_NO_DATE;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n");
	r.status = 200;
	r.reason = "Fine\tThanks";
	r.flags = COIL_HTTP_NO_DATE | COIL_HTTP_KEEP_ALIVE;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n,
	       "HTTP/1.1 200 Fine\tThanks\r\nConnection: keep-alive\r\n"
	       "Content-Length: 0\r\n\r\n");
	/* HEAD response: the length of the body it would have */
	r.reason = NULL;
	r.body_len = 5000;
	r.flags = COIL_HTTP_NO_DATE | COIL_HTTP_HEAD_ONLY;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
	/* chunked */
	r.body_len = 0;
	r.flags = COIL_HTTP_NO_DATE | COIL_HTTP_CHUNKED;
	n = resp_exact(&r, buf, sizeof(buf));
	expect(buf, n, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void test_writer_response_refusals(void **state)
{
	char buf[512];
	static const struct coil_http_header own_date[] = {HDR("Date", "x")};
	const struct {
		const char *name;
		struct coil_http_response_spec r;
	} t[] = {
		{"status 99", {.status = 99}},
		{"status 600", {.status = 600}},
		{"status 0", {.status = 0}},
		{"status negative", {.status = -200}},
		{"body with 204", {.status = 204, .body = "x", .body_len = 1}},
		{"length with 304",
		 {.status = 304, .body_len = 1, .flags = COIL_HTTP_HEAD_ONLY}},
		{"body with 101", {.status = 101, .body = "x", .body_len = 1}},
		{"chunked with 204",
		 {.status = 204, .flags = COIL_HTTP_CHUNKED}},
		{"chunked with body",
		 {.status = 200,
		  .body = "x",
		  .body_len = 1,
		  .flags = COIL_HTTP_CHUNKED}},
		{"reason with CR LF", {.status = 200, .reason = "OK\r\nX: 1"}},
		{"reason with NUL-free control",
		 {.status = 200, .reason = "O\x01K"}},
		{"caller Date", {.status = 200, WITH(own_date)}},
		{"caller Content-Length", {.status = 200, WITH(own_cl)}},
		{"caller Transfer-Encoding", {.status = 200, WITH(own_te)}},
		{"caller Connection with flag",
		 {.status = 200, WITH(own_conn), .flags = COIL_HTTP_CLOSE}},
		{"value injection", {.status = 200, WITH(bad_val_crlf)}},
		{"name with LF", {.status = 200, WITH(bad_name_lf)}},
		{"both connection flags",
		 {.status = 200,
		  .flags = COIL_HTTP_CLOSE | COIL_HTTP_KEEP_ALIVE}},
		{"body NULL with length", {.status = 200, .body_len = 4}},
		{"date before 1970", {.status = 200, .date_sec = -5}},
		{"date after 9999", {.status = 200, .date_sec = 253402300800}},
		{"unknown flag", {.status = 200, .flags = 1u << 9}},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int n = coil_http_response_write(buf, sizeof(buf), &t[i].r);
		if (n != -EINVAL)
			fail_msg("%s: got %d", t[i].name, n);
	}
	/* allowed when asked: Date from the caller with NO_DATE, Connection
	 * from the caller without a flag */
	struct coil_http_response_spec ok = {
		.status = 200, WITH(own_date), .flags = COIL_HTTP_NO_DATE};
	assert_true(coil_http_response_write(buf, sizeof(buf), &ok) > 0);
	ok.headers = own_conn;
	ok.flags = 0;
	assert_true(coil_http_response_write(buf, sizeof(buf), &ok) > 0);
}

static void test_writer_date_format(void **state)
{
	char out[32];
	const struct {
		int64_t t;
		const char *s;
	} t[] = {
		{0, "Thu, 01 Jan 1970 00:00:00 GMT"},
		{784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
		{951868799, "Tue, 29 Feb 2000 23:59:59 GMT"},
		{1709164800, "Thu, 29 Feb 2024 00:00:00 GMT"},
		{4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
		{253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(coil_http_date(out, sizeof(out), t[i].t), 29);
		assert_string_equal(out, t[i].s);
	}
	assert_int_equal(coil_http_date(out, 29, 0), -ENOSPC);
	assert_int_equal(coil_http_date(out, 30, -1), -EINVAL);
	assert_int_equal(coil_http_date(out, 30, 253402300800), -EINVAL);
	/* against the C library over many times, one every ~5.5 days plus
	 * an odd number of seconds */
	for (int64_t s = 0; s < 253402300799; s += 477218599) {
		char want[64];
		time_t tt = (time_t)s;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(coil_http_date(out, sizeof(out), s), 29);
		assert_string_equal(out, want);
	}
}

/* date_sec 0 takes the current time: a valid IMF-fixdate within a few
 * seconds of time(2). */
static void test_writer_date_now(void **state)
{
	char buf[256];
	struct coil_http_response_spec r = {.status = 200};
	time_t before = time(NULL);
	int n = coil_http_response_write(buf, sizeof(buf), &r);
	time_t after = time(NULL);
	assert_true(n > 0);
	const char *d = memmem(buf, (size_t)n, "Date: ", 6);
	assert_non_null(d);
	int ok = 0;
	for (time_t t = before - 1; t <= after + 1; t++) {
		char c[32];
		coil_http_date(c, sizeof(c), (int64_t)t);
		if (memcmp(d + 6, c, 29) == 0)
			ok = 1;
	}
	assert_true(ok);
	assert_memory_equal(d + 6 + 29, "\r\n", 2);
}

static void test_writer_chunks(void **state)
{
	char buf[64];
	assert_int_equal(coil_http_chunk_head(buf, sizeof(buf), 1), 3);
	assert_memory_equal(buf, "1\r\n", 3);
	assert_int_equal(coil_http_chunk_head(buf, sizeof(buf), 0xabcdef), 8);
	assert_memory_equal(buf, "abcdef\r\n", 8);
	assert_int_equal(coil_http_chunk_head(buf, sizeof(buf), UINT64_MAX),
			 18);
	assert_memory_equal(buf, "ffffffffffffffff\r\n", 18);
	assert_int_equal(coil_http_chunk_head(buf, sizeof(buf), 0), -EINVAL);
	assert_int_equal(coil_http_chunk_head(buf, 2, 1), -ENOSPC);
	assert_int_equal(coil_http_chunk_tail(buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "\r\n", 2);
	assert_int_equal(coil_http_chunk_tail(buf, 1), -ENOSPC);
	assert_int_equal(coil_http_chunk_write(buf, sizeof(buf), "hello", 5),
			 10);
	assert_memory_equal(buf, "5\r\nhello\r\n", 10);
	assert_int_equal(coil_http_chunk_write(buf, 9, "hello", 5), -ENOSPC);
	assert_int_equal(coil_http_chunk_write(buf, sizeof(buf), "x", 0),
			 -EINVAL);
	assert_int_equal(coil_http_chunk_write(buf, sizeof(buf), NULL, 1),
			 -EINVAL);
	assert_int_equal(coil_http_chunk_end(buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "0\r\n\r\n", 5);
	assert_int_equal(coil_http_chunk_end(buf, 4), -ENOSPC);
}

/* What the writers produce, the parser reads back, body included. */
static void test_writer_round_trip_through_parser(void **state)
{
	char buf[1024];
	struct coil_http_header hs[] = {HDR("X-Test", "a b"),
					HDR("Accept", "*/*")};
	struct coil_http_request_spec rq = {
		.method = "POST",
		.target = "/upload",
		.target_len = 7,
		.host = "[::1]:8080",
		.host_len = 10,
		.user_agent = "coil",
		.headers = hs,
		.nheaders = 2,
		.flags = COIL_HTTP_CHUNKED,
	};
	int n = coil_http_request_write(buf, sizeof(buf), &rq);
	assert_true(n > 0);
	int k = coil_http_chunk_write(buf + n, sizeof(buf) - (size_t)n, "Wiki",
				      4);
	n += k;
	n += coil_http_chunk_write(buf + n, sizeof(buf) - (size_t)n, "pedia",
				   5);
	n += coil_http_chunk_end(buf + n, sizeof(buf) - (size_t)n);

	struct coil_http_header h[8];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 8);
	int hl = coil_http_parse_request(&m, buf, (size_t)n);
	assert_true(hl > 0);
	assert_int_equal(m.body, COIL_HTTP_BODY_CHUNKED);
	assert_int_equal(m.nheaders, 5);
	assert_memory_equal(coil_http_header_find(&m, "host", NULL)->value,
			    "[::1]:8080", 10);
	struct coil_http_body b;
	coil_http_body_init(&b, &m, 0);
	size_t len = (size_t)(n - hl);
	assert_int_equal(coil_http_body_decode(&b, buf + hl, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf + hl, "Wikipedia", 9);

	struct coil_http_response_spec rs = {
		.status = 200,
		.body = "Hello, World!",
		.body_len = 13,
		.flags = COIL_HTTP_CLOSE,
	};
	n = coil_http_response_write(buf, sizeof(buf), &rs);
	coil_http_msg_reset(&m);
	hl = coil_http_parse_response(&m, buf, (size_t)n, 0);
	assert_int_equal(hl, n - 13);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.content_length, 13);
	assert_int_equal(m.keep_alive, 0);
	assert_non_null(coil_http_header_find(&m, "date", NULL));
}

static void test_writer_reason_phrases(void **state)
{
	assert_string_equal(coil_http_reason(200), "OK");
	assert_string_equal(coil_http_reason(404), "Not Found");
	assert_string_equal(coil_http_reason(413), "Content Too Large");
	assert_string_equal(coil_http_reason(503), "Service Unavailable");
	assert_string_equal(coil_http_reason(418), "");
	assert_string_equal(coil_http_reason(99), "");
	assert_string_equal(coil_http_reason(600), "");
	assert_string_equal(coil_http_reason(-1), "");
	/* every registered phrase is clean for a status line */
	for (int s = 100; s < 600; s++) {
		const char *p = coil_http_reason(s);
		for (; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_request_get),
		cmocka_unit_test(test_writer_request_bodies),
		cmocka_unit_test(test_writer_request_refusals),
		cmocka_unit_test(test_writer_response_exact),
		cmocka_unit_test(test_writer_response_refusals),
		cmocka_unit_test(test_writer_date_format),
		cmocka_unit_test(test_writer_date_now),
		cmocka_unit_test(test_writer_chunks),
		cmocka_unit_test(test_writer_round_trip_through_parser),
		cmocka_unit_test(test_writer_reason_phrases),
	};
	return cmocka_run_group_tests_name("http.writer", tests, NULL, NULL);
}
