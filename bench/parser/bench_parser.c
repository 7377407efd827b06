/*
 * bench/parser/bench_parser.c - how long the HTTP message layer takes per
 * message, on one core: a typical response with a 13-byte body (head parse
 * plus body framing, as the load tester does per response), the head alone,
 * the same with a chunked body decoded in place, a typical request (as the
 * server does per request), and writing a response (as the server does per
 * answer).
 *
 * When built with Debian's libhttp-parser (the parser Node.js used before
 * llhttp), the same response and request also go through it, with
 * callbacks that keep pointers to each field as coil does, and the ratio is
 * printed: on a shared VM the ratio means more than the nanoseconds.
 *
 * Usage: bench_parser [iterations [case]]
 *   iterations: per case, default 2,000,000 (at most 100,000,000)
 *   case: resp, head, chunked, req, write, peer-resp or peer-req to run
 *         only that one (for perf stat or callgrind)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "coil/http.h"

static const char resp[] = "HTTP/1.1 200 OK\r\n"
			   "Server: nginx/1.22.1\r\n"
			   "Date: Sun, 22 Nov 2026 01:52:03 GMT\r\n"
			   "Content-Type: text/plain\r\n"
			   "Content-Length: 13\r\n"
			   "Connection: keep-alive\r\n"
			   "\r\n"
			   "Hello, World!";

static const char resp_chunked[] = "HTTP/1.1 200 OK\r\n"
				   "Server: nginx/1.22.1\r\n"
				   "Date: Sun, 22 Nov 2026 01:52:03 GMT\r\n"
				   "Content-Type: text/plain\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Connection: keep-alive\r\n"
				   "\r\n"
				   "d\r\nHello, World!\r\n0\r\n\r\n";

static const char req[] = "GET /index.html HTTP/1.1\r\n"
			  "Host: 127.0.0.1:8080\r\n"
			  "User-Agent: coil/0.1\r\n"
			  "Accept: */*\r\n"
			  "\r\n";

static struct coil_http_header hdrs[32];
static struct coil_http_msg m;
static char buf[4096];
static volatile uint64_t sink;

static size_t case_resp(long n)
{
	struct coil_http_body b;
	for (long i = 0; i < n; i++) {
		coil_http_msg_reset(&m);
		int hl =
			coil_http_parse_response(&m, resp, sizeof(resp) - 1, 0);
		if (hl <= 0)
			abort();
		/* count the body, find where the next response starts */
		coil_http_body_init(&b, &m, 1);
		size_t len = sizeof(resp) - 1 - (size_t)hl;
		if (coil_http_body_decode(&b, (char *)resp + hl, &len) != 0)
			abort();
		sink += len + (uint64_t)m.keep_alive;
	}
	return sizeof(resp) - 1;
}

static size_t case_head(long n)
{
	for (long i = 0; i < n; i++) {
		coil_http_msg_reset(&m);
		sink += (uint64_t)coil_http_parse_response(&m, resp,
							   sizeof(resp) - 1, 0);
	}
	return sizeof(resp) - 14;
}

static size_t case_chunked(long n)
{
	struct coil_http_body b;
	for (long i = 0; i < n; i++) {
		/* decoded in place: a fresh copy each time */
		memcpy(buf, resp_chunked, sizeof(resp_chunked) - 1);
		coil_http_msg_reset(&m);
		int hl = coil_http_parse_response(&m, buf,
						  sizeof(resp_chunked) - 1, 0);
		if (hl <= 0)
			abort();
		coil_http_body_init(&b, &m, 0);
		size_t len = sizeof(resp_chunked) - 1 - (size_t)hl;
		if (coil_http_body_decode(&b, buf + hl, &len) != 0)
			abort();
		sink += len;
	}
	return sizeof(resp_chunked) - 1;
}

static size_t case_req(long n)
{
	for (long i = 0; i < n; i++) {
		coil_http_msg_reset(&m);
		int hl = coil_http_parse_request(&m, req, sizeof(req) - 1);
		if (hl <= 0)
			abort();
		sink += (uint64_t)hl + m.target_len;
	}
	return sizeof(req) - 1;
}

static size_t case_write(long n)
{
	struct coil_http_header ct = {"Content-Type", 12, "text/plain", 10};
	struct coil_http_response_spec rs = {
		.status = 200,
		.headers = &ct,
		.nheaders = 1,
		.body = "Hello, World!",
		.body_len = 13,
	};
	int wl = 0;
	for (long i = 0; i < n; i++) {
		wl = coil_http_response_write(buf, sizeof(buf), &rs);
		if (wl <= 0)
			abort();
		sink += (uint64_t)wl;
	}
	return (size_t)wl;
}

#ifdef COIL_BENCH_HTTP_PARSER
#include <http_parser.h>

/* What coil's parser gives, collected through http_parser's callbacks. */
struct peer {
	struct {
		const char *name, *value;
		size_t name_len, value_len;
	} h[32];
	unsigned n;
	size_t body;
	int done;
};

static int p_field(http_parser *p, const char *at, size_t len)
{
	struct peer *r = p->data;
	if (r->n < 32) {
		r->h[r->n].name = at;
		r->h[r->n].name_len = len;
	}
	return 0;
}

static int p_value(http_parser *p, const char *at, size_t len)
{
	struct peer *r = p->data;
	if (r->n < 32) {
		r->h[r->n].value = at;
		r->h[r->n].value_len = len;
		r->n++;
	}
	return 0;
}

static int p_body(http_parser *p, const char *at, size_t len)
{
	struct peer *r = p->data;
	r->body += len;
	return 0;
}

static int p_done(http_parser *p)
{
	struct peer *r = p->data;
	r->done = 1;
	return 0;
}

static const http_parser_settings peer_settings = {
	.on_header_field = p_field,
	.on_header_value = p_value,
	.on_body = p_body,
	.on_message_complete = p_done,
};

static size_t peer_run(long n, enum http_parser_type type, const char *msg,
		       size_t len)
{
	http_parser p;
	struct peer r;
	for (long i = 0; i < n; i++) {
		http_parser_init(&p, type);
		r.n = 0;
		r.body = 0;
		r.done = 0;
		p.data = &r;
		size_t used = http_parser_execute(&p, &peer_settings, msg, len);
		if (used != len || !r.done)
			abort();
		sink += r.body + (uint64_t)http_should_keep_alive(&p);
	}
	return len;
}

static size_t case_peer_resp(long n)
{
	return peer_run(n, HTTP_RESPONSE, resp, sizeof(resp) - 1);
}

static size_t case_peer_req(long n)
{
	return peer_run(n, HTTP_REQUEST, req, sizeof(req) - 1);
}
#endif

static double now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *what;
		size_t (*fn)(long);
	} cases[] = {
		{"resp", "response + 13-byte body (CL)", case_resp},
		{"head", "response head only", case_head},
		{"chunked", "response + chunked 13-byte body", case_chunked},
		{"req", "request (GET, 3 fields)", case_req},
		{"write", "response write (Date, body)", case_write},
#ifdef COIL_BENCH_HTTP_PARSER
		{"peer-resp", "http_parser: response + body", case_peer_resp},
		{"peer-req", "http_parser: request", case_peer_req},
#endif
	};
	double cpu_of[8] = {0};
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	const char *only = argc > 2 ? argv[2] : NULL;
	if (n <= 0 || n > 100000000)
		n = 2000000;
	coil_http_msg_init(&m, hdrs, 32);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		double w0 = now_ns(CLOCK_MONOTONIC);
		double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		size_t bytes = cases[i].fn(n);
		double wall = (now_ns(CLOCK_MONOTONIC) - w0) / n;
		double cpu = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
		cpu_of[i] = cpu;
		printf("%-32s %7.1f ns/msg cpu %7.1f ns/msg wall %5.2f GB/s "
		       "(%zu bytes)\n",
		       cases[i].what, cpu, wall, bytes / cpu, bytes);
	}
#ifdef COIL_BENCH_HTTP_PARSER
	/* coil's response case against the peer's, request against request */
	if (cpu_of[0] > 0 && cpu_of[5] > 0)
		printf("response: http_parser / coil = %.2f\n",
		       cpu_of[5] / cpu_of[0]);
	if (cpu_of[3] > 0 && cpu_of[6] > 0)
		printf("request:  http_parser / coil = %.2f\n",
		       cpu_of[6] / cpu_of[3]);
#else
	(void)cpu_of;
#endif
	return 0;
}
