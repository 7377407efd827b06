/* tests/http/test_parser.c - response heads: every accepted form, every
 * refusal, limits, framing and keep-alive, each input parsed whole, byte
 * by byte and split at every point, before a guard page (pcase.h); and
 * the parser's contract (errors stay, buffers move, sizes). Request heads
 * are test_parser_requests.c's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pcase.h"

/* ---- responses ---------------------------------------------------------- */

static const struct pcase responses_ok[] = {
	{"typical",
	 "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
	 "Content-Type: text/plain\r\n\r\n",
	 0,
	 "Hello, World!",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 13,
	 .ka = 1,
	 .fields = "Content-Length: 13\nContent-Type: text/plain\n"},
	{"1.0 close-delimited",
	 "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n",
	 0,
	 "body until close",
	 0,
	 {0},
	 0,
	 200,
	 "OK",
	 .body = CLOSE,
	 .ka = 0},
	{"1.0 keep-alive with length",
	 "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: "
	 "2\r\n\r\n",
	 0,
	 "ok",
	 0,
	 {0},
	 0,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 2,
	 .ka = 1},
	{"1.0 keep-alive without length is close-delimited",
	 "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 0,
	 200,
	 "OK",
	 .body = CLOSE,
	 .ka = 0},
	{"1.1 connection close",
	 "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 0,
	 .ka = 0},
	{"close wins over keep-alive",
	 "HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\n"
	 "Content-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 0},
	{"close in a second Connection field",
	 "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nConnection: close\r\n"
	 "Content-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 0},
	{"1.1 without length is close-delimited",
	 "HTTP/1.1 200 OK\r\n\r\n",
	 0,
	 "abc",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = CLOSE,
	 .ka = 0},
	{"chunked",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	 0,
	 "5\r\nhello\r\n0\r\n\r\n",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = CHUNKED,
	 .ka = 1},
	{"chunked in any case, with OWS",
	 "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING:   ChUnKeD  \r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = CHUNKED,
	 .ka = 1,
	 .fields = "TRANSFER-ENCODING: ChUnKeD\n"},
	{"reason phrase missing",
	 "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "",
	 .body = LEN,
	 .ka = 1},
	{"reason phrase empty",
	 "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "",
	 .body = LEN,
	 .ka = 1},
	{"reason with spaces and obs-text",
	 "HTTP/1.1 404 Not \xe9t\xe9 Found\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 404,
	 "Not \xe9t\xe9 Found",
	 .body = LEN,
	 .ka = 1},
	{"204 ignores a length",
	 "HTTP/1.1 204 No Content\r\n"
	 "Content-Length: 10\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 204,
	 "No Content",
	 .body = NONE,
	 .cl = 10,
	 .ka = 1},
	{"304 has no body",
	 "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 304,
	 "Not Modified",
	 .body = NONE,
	 .ka = 1},
	{"304 with chunked has no body",
	 "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 304,
	 "Not Modified",
	 .body = NONE,
	 .ka = 1},
	{"100 continue",
	 "HTTP/1.1 100 Continue\r\n\r\n",
	 0,
	 "HTTP/1.1 200 OK\r\n",
	 0,
	 {0},
	 1,
	 100,
	 "Continue",
	 .body = NONE,
	 .ka = 1},
	{"103 early hints",
	 "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 103,
	 "Early Hints",
	 .body = NONE,
	 .ka = 1},
	{"101 ends HTTP",
	 "HTTP/1.1 101 Switching Protocols\r\n"
	 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	 0,
	 "\x81\x05",
	 0,
	 {0},
	 1,
	 101,
	 "Switching Protocols",
	 .body = NONE,
	 .ka = 0},
	{"HEAD response with a length",
	 "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {HEAD},
	 1,
	 200,
	 "OK",
	 .body = NONE,
	 .cl = 1000,
	 .ka = 1},
	{"HEAD response chunked",
	 "HTTP/1.1 200 OK\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {HEAD},
	 1,
	 200,
	 "OK",
	 .body = NONE,
	 .ka = 1},
	{"HEAD response without length keeps the connection",
	 "HTTP/1.1 200 OK\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {HEAD},
	 1,
	 200,
	 "OK",
	 .body = NONE,
	 .ka = 1},
	{"bare LF line ends",
	 "HTTP/1.1 200 OK\nContent-Length: 3\nX: y\n\n",
	 0,
	 "abc",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 3,
	 .ka = 1,
	 .fields = "Content-Length: 3\nX: y\n"},
	{"mixed line ends",
	 "HTTP/1.1 200 OK\nA: 1\r\nB: 2\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = CLOSE,
	 .ka = 0,
	 .fields = "A: 1\nB: 2\n"},
	{"value OWS trimmed, inner kept",
	 "HTTP/1.1 200 OK\r\nX: \t a  b \t \r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1,
	 .fields = "X: a  b\nContent-Length: 0\n"},
	{"empty values",
	 "HTTP/1.1 200 OK\r\nX:\r\nY:   \r\n"
	 "Content-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1,
	 .fields = "X: \nY: \nContent-Length: 0\n"},
	{"token characters in names",
	 "HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n"
	 "Content-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1,
	 .fields = "!#$%&'*+-.^_`|~09azAZ: v\nContent-Length: 0\n"},
	{"obs-text value",
	 "HTTP/1.1 200 OK\r\nX: \x80\xfe \"q\" (c) {}\r\n"
	 "Content-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1,
	 .fields = "X: \x80\xfe \"q\" (c) {}\nContent-Length: 0\n"},
	{"identical Content-Length list",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5, 5 ,5\r\n\r\n",
	 0,
	 "hello",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 5,
	 .ka = 1},
	{"identical Content-Length fields",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
	 0,
	 "hello",
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 5,
	 .ka = 1},
	{"Content-Length with leading zeros",
	 "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 7,
	 .ka = 1},
	{"Content-Length 2^63-1",
	 "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .cl = 9223372036854775807ull,
	 .ka = 1},
	{"status 999",
	 "HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 999,
	 "Whatever",
	 .body = LEN,
	 .ka = 1},
	{"HTTP/1.2 reads as 1.1",
	 "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1},
	{"header count at the limit",
	 "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 0,
	 {0, 4},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1},
	{"head size at the limit",
	 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	 0,
	 "body bytes beyond the limit are fine",
	 0,
	 {0, 0, 38},
	 1,
	 200,
	 "OK",
	 .body = LEN,
	 .ka = 1},
};

static const struct pcase responses_bad[] = {
	{"version 2.0", "HTTP/2.0 200 OK\r\n\r\n", 0, NULL, EPARSE},
	{"version 0.9", "HTTP/0.9 200 OK\r\n\r\n", 0, NULL, EPARSE},
	{"version lowercase", "http/1.1 200 OK\r\n\r\n", 0, NULL, EPARSE},
	{"version minor not a digit", "HTTP/1.x 200 OK\r\n\r\n", 0, NULL,
	 EPARSE},
	{"version minor two digits", "HTTP/1.10 200 OK\r\n\r\n", 0, NULL,
	 EPARSE},
	{"no space after version", "HTTP/1.1\t200 OK\r\n\r\n", 0, NULL, EPARSE},
	{"two spaces after version", "HTTP/1.1  200 OK\r\n\r\n", 0, NULL,
	 EPARSE},
	{"status two digits", "HTTP/1.1 20 OK\r\n\r\n", 0, NULL, EPARSE},
	{"status four digits", "HTTP/1.1 2000 OK\r\n\r\n", 0, NULL, EPARSE},
	{"status leading zero", "HTTP/1.1 099 OK\r\n\r\n", 0, NULL, EPARSE},
	{"status not digits", "HTTP/1.1 2x0 OK\r\n\r\n", 0, NULL, EPARSE},
	{"status line ends early", "HTTP/1.1\r\n\r\n", 0, NULL, EPARSE},
	{"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, NULL,
	 EPARSE},
	{"bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", 0, NULL, EPARSE},
	{"space before colon", "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", 0, NULL,
	 EPARSE},
	{"tab before colon", "HTTP/1.1 200 OK\r\nX\t: y\r\n\r\n", 0, NULL,
	 EPARSE},
	{"no colon", "HTTP/1.1 200 OK\r\nX y\r\n\r\n", 0, NULL, EPARSE},
	{"no colon, line ends", "HTTP/1.1 200 OK\r\nXy\r\n\r\n", 0, NULL,
	 EPARSE},
	{"empty name", "HTTP/1.1 200 OK\r\n: y\r\n\r\n", 0, NULL, EPARSE},
	{"non-token in name", "HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n", 0, NULL,
	 EPARSE},
	{"obs-text in name", "HTTP/1.1 200 OK\r\nX\xe9: z\r\n\r\n", 0, NULL,
	 EPARSE},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, NULL, EPARSE},
	{"obs-fold with tab", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", 0, NULL,
	 EPARSE},
	{"whitespace before first field", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", 0,
	 NULL, EPARSE},
	{"NUL in value", S("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"), NULL, EPARSE},
	{"NUL in name", S("HTTP/1.1 200 OK\r\nX\0: ab\r\n\r\n"), NULL, EPARSE},
	{"control byte in value", "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", 0,
	 NULL, EPARSE},
	{"escape in value", "HTTP/1.1 200 OK\r\nX: a\x1b[0m\r\n\r\n", 0, NULL,
	 EPARSE},
	{"DEL in value", "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", 0, NULL,
	 EPARSE},
	{"bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 0, NULL,
	 EPARSE},
	{"CR CR LF", "HTTP/1.1 200 OK\r\nX: a\r\r\n\r\n", 0, NULL, EPARSE},
	{"CR then junk at the end", "HTTP/1.1 200 OK\r\nX: a\r\n\rx\n", 0, NULL,
	 EPARSE},
	{"Content-Length not digits",
	 "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length negative",
	 "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length plus", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
	 0, NULL, EPARSE},
	{"Content-Length hex",
	 "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length fraction",
	 "HTTP/1.1 200 OK\r\nContent-Length: 1.5\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length inner space",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	 0, NULL, EPARSE},
	{"Content-Length empty list element",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5,,5\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length trailing comma",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length list differs",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0, NULL, EPARSE},
	{"Content-Length fields differ",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0,
	 NULL, EPARSE},
	{"Content-Length 2^63",
	 "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", 0,
	 NULL, EPARSE},
	{"Content-Length 2^64",
	 "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", 0,
	 NULL, EPARSE},
	{"Content-Length 30 digits",
	 "HTTP/1.1 200 OK\r\nContent-Length: "
	 "999999999999999999999999999999\r\n\r\n",
	 0, NULL, EPARSE},
	{"Transfer-Encoding and Content-Length",
	 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0, NULL, EPARSE},
	{"Transfer-Encoding in HTTP/1.0",
	 "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, NULL,
	 EPARSE},
	{"Transfer-Encoding gzip",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, NULL, EPARSE},
	{"Transfer-Encoding gzip, chunked",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, NULL,
	 EPARSE},
	{"Transfer-Encoding chunked twice",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0,
	 NULL, EPARSE},
	{"Transfer-Encoding chunked in two fields",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 0, NULL, EPARSE},
	{"Transfer-Encoding empty",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", 0, NULL, EPARSE},
	{"Transfer-Encoding near miss",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n", 0, NULL,
	 EPARSE},
	{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 0, NULL,
	 EPARSE},
	{"a request where a response is due", "GET / HTTP/1.1\r\n\r\n", 0, NULL,
	 EPARSE},
	{"leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, NULL, EPARSE},
	{"too many headers",
	 "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
	 0,
	 NULL,
	 ELIMIT,
	 {0, 4}},
	{"head one byte over the limit",
	 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	 0,
	 NULL,
	 ELIMIT,
	 {0, 0, 37}},
	{"incomplete head over the limit",
	 "HTTP/1.1 200 OK\r\nX: aaaaaaaaaa",
	 0,
	 NULL,
	 ELIMIT,
	 {0, 0, 20}},
	{"incomplete head", "HTTP/1.1 200 OK\r\nX: y\r\n", 0, NULL, PARTIAL},
	{"incomplete final CRLF", "HTTP/1.1 200 OK\r\nX: y\r\n\r", 0, NULL,
	 PARTIAL},
	{"incomplete status line", "HTTP/1.1 20", 0, NULL, PARTIAL},
	{"incomplete line with a control byte is already bad",
	 "HTTP/1.1 200 OK\r\nX: \x01", 0, NULL, EPARSE},
	{"incomplete line with NUL is already bad", S("HTTP/1.\0"), NULL,
	 EPARSE},
	{"incomplete malformed line waits for its end",
	 "HTTP/1.1 200 OK\r\nX : y", 0, NULL, PARTIAL},
	{"empty input", "", 0, NULL, PARTIAL},
};

static void test_parser_responses_accepted(void **state)
{
	run_table(responses_ok, sizeof(responses_ok) / sizeof(responses_ok[0]));
}

static void test_parser_responses_refused(void **state)
{
	run_table(responses_bad,
		  sizeof(responses_bad) / sizeof(responses_bad[0]));
}

/* Every byte value at one position of a field value and of a field name:
 * exactly the RFC 9110 classes are accepted. */
static void test_parser_every_byte_in_value_and_name(void **state)
{
	struct guard g;
	struct pc_run r;
	struct pc_opts o = {0};
	char in[64];
	guard_init(&g, 4096);
	for (int c = 0; c < 256; c++) {
		int n = snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX: a");
		in[n++] = (char)c;
		n += snprintf(in + n, sizeof(in) - (size_t)n,
			      "b\r\nContent-Length: 0\r\n\r\n");
		pc_init(&r, &o);
		int ret = pc_parse(&r, &o, guard_put(&g, in, (size_t)n),
				   (size_t)n);
		int ok = c == '\t' || (c >= 0x20 && c != 0x7f);
		if (ok)
			assert_int_equal(ret, n);
		else
			assert_int_equal(ret, COIL_EPARSE);

		n = snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX");
		in[n++] = (char)c;
		n += snprintf(in + n, sizeof(in) - (size_t)n,
			      "Y: v\r\nContent-Length: 0\r\n\r\n");
		pc_init(&r, &o);
		ret = pc_parse(&r, &o, guard_put(&g, in, (size_t)n), (size_t)n);
		ok = c == ':' || (c >= '0' && c <= '9') ||
		     (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     (c && strchr("!#$%&'*+-.^_`|~", c));
		if (ok)
			assert_int_equal(ret, n);
		else
			assert_int_equal(ret, COIL_EPARSE);
	}
	guard_free(&g);
}

/* Two pipelined responses in one buffer: reset, parse from the offset. */
static void test_parser_pipelined_responses_after_reset(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
				 "okHTTP/1.1 404 Not Found\r\n"
				 "Content-Length: 0\r\n\r\n";
	struct guard g;
	struct coil_http_header h[8];
	struct coil_http_msg m;
	guard_init(&g, 4096);
	const char *b = guard_put(&g, in, sizeof(in) - 1);
	coil_http_msg_init(&m, h, 8);
	int n = coil_http_parse_response(&m, b, sizeof(in) - 1, 0);
	assert_int_equal(n, 38);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.content_length, 2);
	coil_http_msg_reset(&m);
	assert_int_equal(m.max_headers, 8);
	assert_ptr_equal(m.headers, h);
	size_t at = (size_t)n + 2;
	int n2 = coil_http_parse_response(&m, b + at, sizeof(in) - 1 - at, 0);
	assert_int_equal(n2, (int)(sizeof(in) - 1 - at));
	assert_int_equal(m.status, 404);
	assert_int_equal(m.nheaders, 1);
	guard_free(&g);
}

/* The caller moves its buffer between calls: results point into the new
 * one. */
static void test_parser_buffer_moved_between_calls(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
	char b1[64], b2[64];
	struct coil_http_header h[8];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 8);
	memcpy(b1, in, 24);
	assert_int_equal(coil_http_parse_response(&m, b1, 24, 0),
			 COIL_HTTP_PARTIAL);
	assert_int_equal(m.nheaders, 1);
	memcpy(b2, in, sizeof(in) - 1);
	memset(b1, 'x', sizeof(b1));
	assert_int_equal(coil_http_parse_response(&m, b2, sizeof(in) - 1, 0),
			 (int)sizeof(in) - 1);
	assert_int_equal(m.nheaders, 2);
	assert_ptr_equal(m.headers[0].name, b2 + 17);
	assert_memory_equal(m.headers[0].value, "1", 1);
	assert_ptr_equal(m.reason, b2 + 13);
	/* a repeated call after success returns the same length */
	assert_int_equal(coil_http_parse_response(&m, b2, sizeof(in) - 1, 0),
			 (int)sizeof(in) - 1);
}

static void test_parser_shrinking_input_is_invalid(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nA: 1\r\n";
	struct coil_http_header h[8];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 8);
	assert_int_equal(coil_http_parse_response(&m, in, sizeof(in) - 1, 0),
			 COIL_HTTP_PARTIAL);
	assert_int_equal(coil_http_parse_response(&m, in, 10, 0), -EINVAL);
}

static void test_parser_errors_are_sticky(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nX : y\r\n\r\n";
	struct coil_http_header h[8];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 8);
	assert_int_equal(coil_http_parse_response(&m, in, sizeof(in) - 1, 0),
			 COIL_EPARSE);
	assert_int_equal(coil_http_parse_response(&m, in, sizeof(in) - 1, 0),
			 COIL_EPARSE);
	coil_http_msg_reset(&m);
	assert_int_equal(
		coil_http_parse_response(&m, "HTTP/1.1 204 x\r\n\r\n", 18, 0),
		18);
}

static void test_parser_header_find_ignores_case(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n"
				 "Content-Length: 0\r\nset-COOKIE: b=2\r\n\r\n";
	struct coil_http_header h[8];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 8);
	assert_int_equal(coil_http_parse_response(&m, in, sizeof(in) - 1, 0),
			 (int)sizeof(in) - 1);
	const struct coil_http_header *f =
		coil_http_header_find(&m, "set-cookie", NULL);
	assert_non_null(f);
	assert_ptr_equal(f, &h[0]);
	f = coil_http_header_find(&m, "SET-COOKIE", f);
	assert_non_null(f);
	assert_ptr_equal(f, &h[2]);
	assert_memory_equal(f->value, "b=2", 3);
	assert_null(coil_http_header_find(&m, "Set-Cookie", f));
	assert_ptr_equal(coil_http_header_find(&m, "content-length", NULL),
			 &h[1]);
	assert_null(coil_http_header_find(&m, "Content-Lengt", NULL));
	assert_null(coil_http_header_find(&m, "X", NULL));
}

/* The limit counts the whole head; huge heads inside a big limit work. */
static void test_parser_large_head_within_limit(void **state)
{
	static char in[66000];
	struct guard g;
	struct coil_http_header h[4];
	struct coil_http_msg m;
	size_t n = (size_t)sprintf(in, "HTTP/1.1 200 OK\r\nX: ");
	memset(in + n, 'v', 60000);
	n += 60000;
	n += (size_t)sprintf(in + n, "\r\nContent-Length: 0\r\n\r\n");
	guard_init(&g, sizeof(in));
	coil_http_msg_init(&m, h, 4);
	/* fed in 1000-byte steps: each call looks only at new bytes */
	int r = COIL_HTTP_PARTIAL;
	for (size_t k = 1000; r == COIL_HTTP_PARTIAL && k < n + 1000;
	     k += 1000) {
		size_t l = k < n ? k : n;
		r = coil_http_parse_response(&m, guard_put(&g, in, l), l, 0);
	}
	assert_int_equal(r, (int)n);
	assert_int_equal(m.headers[0].value_len, 60000);
	/* and refused under a smaller limit */
	coil_http_msg_init(&m, h, 4);
	m.max_head_bytes = 1024;
	assert_int_equal(
		coil_http_parse_response(&m, guard_put(&g, in, n), n, 0),
		COIL_ELIMIT);
	guard_free(&g);
}

static void test_parser_counted_enough_checks(void **state)
{
	/* the tables above ran every input at every prefix and split */
	assert_true(checks > 5000);
	printf("parser: %lu split/prefix comparisons\n", checks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_responses_accepted),
		cmocka_unit_test(test_parser_responses_refused),
		cmocka_unit_test(test_parser_every_byte_in_value_and_name),
		cmocka_unit_test(test_parser_pipelined_responses_after_reset),
		cmocka_unit_test(test_parser_buffer_moved_between_calls),
		cmocka_unit_test(test_parser_shrinking_input_is_invalid),
		cmocka_unit_test(test_parser_errors_are_sticky),
		cmocka_unit_test(test_parser_header_find_ignores_case),
		cmocka_unit_test(test_parser_large_head_within_limit),
		cmocka_unit_test(test_parser_counted_enough_checks),
	};
	return cmocka_run_group_tests_name("http.parser", tests, NULL, NULL);
}
