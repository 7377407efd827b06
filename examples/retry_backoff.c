/*
 * examples/retry_backoff.c - retry a request with exponential backoff,
 * honouring the server's Retry-After (tenacity / httpx-retries /
 * urllib3's Retry(backoff_factor, respect_retry_after_header)):
 *
 *     @retry(stop=stop_after_attempt(3), wait=wait_exponential(0.1))
 *     async def fetch(): ...
 *
 * In coil: a struct coil_retry_policy given with the request; the client
 * retries 502/503/504 and transport errors (COIL_HTTP_RETRY_ON), waits
 * the policy's backoff (full jitter here) or the Retry-After the server
 * sent, whichever is longer, and gives the final response to done. nginx
 * answers /busy with 503 and "Retry-After: 1": three attempts take at
 * least two seconds, and the result is the last 503. /ok succeeds on the
 * first attempt. The request runs as an op (coil_http_op_start()), so an
 * overall deadline could cut the whole retry sequence too.
 *
 * Run: run-with-peer.sh nginx retry_backoff
 */
#include "example.h"

struct req {
	struct coil_op op;
	struct coil_http_op http;
	int status;
	uint64_t took_ns;
	uint64_t t0;
};

static struct coil_loop *loop;
static int finished;

static void got(struct coil_op *op, int res, unsigned flags)
{
	struct req *r = coil_container_of(op, struct req, op);
	(void)flags;
	r->status = res;
	r->took_ns = coil_now_update(loop) - r->t0;
	finished++;
}

int main(int argc, char **argv)
{
	struct coil_http_client *client;
	struct coil_retry_policy policy = {
		.max_attempts = 3,
		.base_ns = 100 * MS,
		.cap_ns = 5 * SEC,
		.jitter = COIL_JITTER_FULL,
	};
	struct req busy = {0}, ok = {0};
	struct coil_http_req_info info;
	char u1[128], u2[128];

	if (argc < 2)
		return 2;
	snprintf(u1, sizeof(u1), "http://%s/busy", argv[1]);
	snprintf(u2, sizeof(u2), "http://%s/ok", argv[1]);
	loop = ex_loop();
	coil_http_client_new(&client, loop, NULL);
	struct coil_http_req_opts o1 = {.url = u1, .retry = &policy};
	struct coil_http_req_opts o2 = {.url = u2, .retry = &policy};
	coil_op_init(&busy.op, got);
	coil_op_init(&ok.op, got);
	busy.t0 = ok.t0 = coil_now_update(loop);
	coil_http_op_start(loop, client, &busy.http, &busy.op, &o1);
	coil_http_op_start(loop, client, &ok.http, &ok.op, &o2);
	while (finished < 2)
		coil_loop_run(loop, COIL_RUN_ONCE);

	coil_http_req_info(busy.http.req, &info);
	printf("/busy: %d after %u attempts, %llu ms\n", busy.status,
	       info.attempts, (unsigned long long)(busy.took_ns / MS));
	EX_CHECK(busy.status == 503 && info.attempts == 3);
	EX_CHECK(busy.took_ns >= 2 * SEC); /* two Retry-After waits */
	coil_http_req_info(ok.http.req, &info);
	printf("/ok: %d after %u attempt(s)\n", ok.status, info.attempts);
	EX_CHECK(ok.status == 200 && info.attempts == 1);
	coil_http_op_free(&busy.http);
	coil_http_op_free(&ok.http);
	ex_http_free(loop, client);
	coil_loop_free(loop);
	return 0;
}
