/* tests/http/test_parser_requests.c - request heads: every accepted form
 * and every refusal, each input parsed whole, byte by byte and split at
 * every point, before a guard page (pcase.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pcase.h"

/* ---- requests ----------------------------------------------------------- */

#define REQ                                                                    \
	{                                                                      \
		PC_REQ                                                         \
	}

static const struct pcase requests_ok[] = {
	{"GET",
	 "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
	 "User-Agent: coil\r\n\r\n",
	 0, NULL, 0, REQ, 1, .method = "GET", .target = "/index.html",
	 .body = NONE, .ka = 1,
	 .fields = "Host: example.com\nUser-Agent: coil\n"},
	{"POST with length",
	 "POST /api?x=1&y=%20 HTTP/1.1\r\nHost: h\r\n"
	 "Content-Length: 7\r\n\r\n",
	 0, "{\"a\":1}", 0, REQ, 1, .method = "POST",
	 .target = "/api?x=1&y=%20", .body = LEN, .cl = 7, .ka = 1},
	{"POST chunked",
	 "POST /up HTTP/1.1\r\nHost: h\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0, "3\r\nabc\r\n0\r\n\r\n", 0, REQ, 1, .method = "POST",
	 .target = "/up", .body = CHUNKED, .ka = 1},
	{"empty lines before the request line",
	 "\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL, 0, REQ, 1,
	 .method = "GET", .target = "/", .body = NONE, .ka = 1},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, NULL, 0, REQ, 0,
	 .method = "GET", .target = "/", .body = NONE, .ka = 0},
	{"HTTP/1.0 keep-alive",
	 "GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	 "\r\n",
	 0, NULL, 0, REQ, 0, .method = "GET", .target = "/", .body = NONE,
	 .ka = 1},
	{"HTTP/1.1 close",
	 "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
	 "\r\n",
	 0, NULL, 0, REQ, 1, .method = "GET", .target = "/", .body = NONE,
	 .ka = 0},
	{"absolute-form", "GET http://h:8/a?b HTTP/1.1\r\nHost: h:8\r\n\r\n", 0,
	 NULL, 0, REQ, 1, .method = "GET", .target = "http://h:8/a?b",
	 .body = NONE, .ka = 1},
	{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL, 0,
	 REQ, 1, .method = "OPTIONS", .target = "*", .body = NONE, .ka = 1},
	{"authority-form", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 0,
	 NULL, 0, REQ, 1, .method = "CONNECT", .target = "h:443", .body = NONE,
	 .ka = 1},
	{"extension method", "M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL,
	 0, REQ, 1, .method = "M-SEARCH", .target = "*", .body = NONE, .ka = 1},
	{"obs-text target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 0,
	 NULL, 0, REQ, 1, .method = "GET", .target = "/\xc3\xa9", .body = NONE,
	 .ka = 1},
	{"empty Host value", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, NULL, 0, REQ,
	 1, .method = "GET", .target = "/", .body = NONE, .ka = 1},
	{"bare LF request", "GET / HTTP/1.1\nHost: h\n\n", 0, "GET", 0, REQ, 1,
	 .method = "GET", .target = "/", .body = NONE, .ka = 1},
	{"Content-Length 0",
	 "PUT /x HTTP/1.1\r\nHost: h\r\n"
	 "Content-Length: 0\r\n\r\n",
	 0, NULL, 0, REQ, 1, .method = "PUT", .target = "/x", .body = LEN,
	 .cl = 0, .ka = 1},
};

static const struct pcase requests_bad[] = {
	{"missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 0, NULL, EPARSE, REQ},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"two Host fields in 1.0",
	 "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n"
	 "\r\n",
	 0, NULL, EPARSE, REQ},
	{"double space after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"double space after target", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 0, NULL,
	 EPARSE, REQ},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL, EPARSE,
	 REQ},
	{"HTTP/0.9 request line", "GET /\r\n\r\n", 0, NULL, EPARSE, REQ},
	{"method only", "GET\r\n\r\n", 0, NULL, EPARSE, REQ},
	{"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL, EPARSE,
	 REQ},
	{"non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL,
	 EPARSE, REQ},
	{"empty target", "GET  HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL, EPARSE,
	 REQ},
	{"control byte in target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 0, NULL,
	 EPARSE, REQ},
	{"NUL in target", S("GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"), NULL,
	 EPARSE, REQ},
	{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 0, NULL,
	 EPARSE, REQ},
	{"HTTP/2 version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, NULL, EPARSE,
	 REQ},
	{"Transfer-Encoding and Content-Length (smuggling)",
	 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0, "0\r\n\r\n", EPARSE, REQ},
	{"Content-Length and Transfer-Encoding in other order",
	 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	 "Content-Length: 4\r\n\r\n",
	 0, NULL, EPARSE, REQ},
	{"chunked not last",
	 "POST / HTTP/1.1\r\nHost: h\r\n"
	 "Transfer-Encoding: chunked, gzip\r\n\r\n",
	 0, NULL, EPARSE, REQ},
	{"Transfer-Encoding in 1.0",
	 "POST / HTTP/1.0\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0, NULL, EPARSE, REQ},
	{"Transfer-Encoding with a space in the name (smuggling)",
	 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"Content-Length differs (smuggling)",
	 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
	 "Content-Length: 10\r\n\r\n",
	 0, NULL, EPARSE, REQ},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"a response where a request is due", "HTTP/1.1 200 OK\r\n\r\n", 0,
	 NULL, EPARSE, REQ},
	{"too many headers",
	 "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n",
	 0,
	 NULL,
	 ELIMIT,
	 {PC_REQ, 2}},
	{"head over the limit",
	 "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n",
	 0,
	 NULL,
	 ELIMIT,
	 {PC_REQ, 0, 32}},
	{"incomplete request line", "GET /index", 0, NULL, PARTIAL, REQ},
	{"only empty lines", "\r\n\r\n\r", 0, NULL, PARTIAL, REQ},
};

static void test_parser_requests_accepted(void **state)
{
	run_table(requests_ok, sizeof(requests_ok) / sizeof(requests_ok[0]));
}

static void test_parser_requests_refused(void **state)
{
	run_table(requests_bad, sizeof(requests_bad) / sizeof(requests_bad[0]));
}

static void test_parser_requests_counted_enough_checks(void **state)
{
	/* the tables above ran every input at every prefix and split */
	assert_true(checks > 1000);
	printf("parser (requests): %lu split/prefix comparisons\n", checks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_requests_accepted),
		cmocka_unit_test(test_parser_requests_refused),
		cmocka_unit_test(test_parser_requests_counted_enough_checks),
	};
	return cmocka_run_group_tests_name("http.parser_requests", tests, NULL,
					   NULL);
}
