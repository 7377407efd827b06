/*
 * bench/parser/bench_parser.c - how long the HTTP message layer takes per
 * message, on one core: a typical response with a 13-byte body (head parse
 * plus body framing, as the load tester does per response), the head alone,
 * the same with a chunked body decoded in place, a typical request (as the
 * server does per request), and writing a response (as the server does per
 * answer).
 *
 * Usage: bench_parser [iterations [case]]
 *   iterations: per case, default 2,000,000 (at most 100,000,000)
 *   case: resp, head, chunked, req or write to run only that one (for
 *         perf stat)
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
	};
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
		printf("%-32s %7.1f ns/msg cpu %7.1f ns/msg wall %5.2f GB/s "
		       "(%zu bytes)\n",
		       cases[i].what, cpu, wall, bytes / cpu, bytes);
	}
	return 0;
}
