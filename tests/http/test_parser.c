/* tests/http/test_parser.c - response and request heads: every accepted
 * form, every refusal, limits, framing and keep-alive, each input parsed
 * whole, byte by byte and split at every point, before a guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "parse_check.h"

#define NONE COIL_HTTP_BODY_NONE
#define LEN COIL_HTTP_BODY_LENGTH
#define CHUNKED COIL_HTTP_BODY_CHUNKED
#define CLOSE COIL_HTTP_BODY_CLOSE
#define EPARSE COIL_EPARSE
#define ELIMIT COIL_ELIMIT
#define PARTIAL COIL_HTTP_PARTIAL
#define HEAD COIL_HTTP_PARSE_HEAD
/* a literal with its exact length, NUL bytes included */
#define S(lit) lit, sizeof(lit) - 1

struct pcase {
	const char *name;
	const char *head; /* the input, or its head if rest follows */
	size_t head_len;  /* 0: strlen(head) */
	const char *rest; /* body bytes after the head, or NULL */
	int ret;	  /* 0: the head's length; else the result code */
	struct pc_opts o;
	/* expected on success (checked when ret == 0) */
	int minor;
	int status;	    /* responses */
	const char *reason; /* responses */
	const char *method; /* requests */
	const char *target; /* requests */
	int body;
	uint64_t cl;
	int ka;
	const char *fields; /* "name: value\n" lines, NULL: not checked */
};

static unsigned long checks;

static void run_case(struct guard *g, const struct pcase *c)
{
	char in[70000];
	size_t hl = c->head_len ? c->head_len : strlen(c->head);
	size_t rl = c->rest ? strlen(c->rest) : 0;
	struct pc_run whole;
	const char *buf;
	char fields[4096];

	assert_true(hl + rl <= sizeof(in));
	memcpy(in, c->head, hl);
	if (rl)
		memcpy(in + hl, c->rest, rl);
	int r = pc_check(g, in, hl + rl, &c->o, &whole, &buf, &checks);
	if (c->ret != 0) {
		if (r != c->ret)
			fail_msg("%s: got %d, want %d", c->name, r, c->ret);
		return;
	}
	if (r != (int)hl)
		fail_msg("%s: got %d, want head length %zu", c->name, r, hl);
	const struct coil_http_msg *m = &whole.m;
	assert_int_equal(m->minor_version, c->minor);
	if (c->o.flags & PC_REQ) {
		assert_int_equal(m->method_len, strlen(c->method));
		assert_memory_equal(m->method, c->method, m->method_len);
		assert_int_equal(m->target_len, strlen(c->target));
		assert_memory_equal(m->target, c->target, m->target_len);
		/* pointers into the buffer handed in */
		assert_true(m->method >= buf && m->method < buf + hl);
	} else {
		assert_int_equal(m->status, c->status);
		assert_int_equal(m->reason_len, strlen(c->reason));
		assert_memory_equal(m->reason, c->reason, m->reason_len);
	}
	if (m->body != c->body)
		fail_msg("%s: body %d, want %d", c->name, m->body, c->body);
	if (c->body == LEN || c->cl)
		assert_int_equal(m->content_length, c->cl);
	if (m->keep_alive != c->ka)
		fail_msg("%s: keep_alive %d", c->name, m->keep_alive);
	if (c->fields) {
		pc_fields(fields, sizeof(fields), m);
		if (strcmp(fields, c->fields) != 0)
			fail_msg("%s: fields\n%s\nwant\n%s", c->name, fields,
				 c->fields);
	}
	for (unsigned i = 0; i < m->nheaders; i++) {
		assert_true(m->headers[i].name >= buf &&
			    m->headers[i].name < buf + hl);
		assert_true(m->headers[i].value >= buf &&
			    m->headers[i].value + m->headers[i].value_len <=
				    buf + hl);
	}
}

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

static void run_table(const struct pcase *t, size_t n)
{
	struct guard g;
	guard_init(&g, 70000);
	for (size_t i = 0; i < n; i++)
		run_case(&g, &t[i]);
	guard_free(&g);
}

static void test_parser_responses_accepted(void **state)
{
	run_table(responses_ok, sizeof(responses_ok) / sizeof(responses_ok[0]));
}

static void test_parser_responses_refused(void **state)
{
	run_table(responses_bad,
		  sizeof(responses_bad) / sizeof(responses_bad[0]));
}

static void test_parser_requests_accepted(void **state)
{
	run_table(requests_ok, sizeof(requests_ok) / sizeof(requests_ok[0]));
}

static void test_parser_requests_refused(void **state)
{
	run_table(requests_bad, sizeof(requests_bad) / sizeof(requests_bad[0]));
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
		cmocka_unit_test(test_parser_requests_accepted),
		cmocka_unit_test(test_parser_requests_refused),
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
