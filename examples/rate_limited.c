/*
 * examples/rate_limited.c - a client that sends at most 20 requests a
 * second, a burst of 5 first (aiolimiter.AsyncLimiter(20, 1); a token
 * bucket in front of httpx):
 *
 *     async with limiter:
 *         await client.get(url)
 *
 * In coil: a coil_rate (GCRA: 20 permits per second, burst 5) that each
 * request waits on before it starts; the permits come from one ring
 * timer, in order, on the schedule, not by sleeping. 25 requests: the
 * first 5 go at once, the other 20 over the next second.
 *
 * Run: run-with-peer.sh nginx rate_limited
 */
#include "example.h"

#define N 25

struct req {
	struct coil_op permit;
	struct coil_http_op http;
	struct coil_op op;
	uint64_t sent_ns;
	int status;
};

static struct coil_loop *loop;
static struct coil_http_client *client;
static char url[128];
static int finished;

static void got(struct coil_op *op, int res, unsigned flags)
{
	struct req *r = coil_container_of(op, struct req, op);
	(void)flags;
	r->status = res;
	finished++;
}

static void permitted(struct coil_op *op, int res, unsigned flags)
{
	struct req *r = coil_container_of(op, struct req, permit);
	struct coil_http_req_opts o = {.url = url};
	(void)flags;
	if (res < 0)
		return;
	r->sent_ns = coil_now(loop);
	coil_op_init(&r->op, got);
	coil_http_op_start(loop, client, &r->http, &r->op, &o);
}

int main(int argc, char **argv)
{
	static struct req r[N];
	struct coil_rate rate;
	uint64_t t0;

	if (argc < 2)
		return 2;
	snprintf(url, sizeof(url), "http://%s/ok", argv[1]);
	loop = ex_loop();
	coil_http_client_new(&client, loop, NULL);
	coil_rate_init(&rate, loop, 20, 1 * SEC, 5);
	t0 = coil_now_update(loop);
	for (int i = 0; i < N; i++) {
		coil_op_init(&r[i].permit, permitted);
		coil_rate_acquire(&rate, &r[i].permit);
	}
	while (finished < N)
		coil_loop_run(loop, COIL_RUN_ONCE);

	for (int i = 0; i < N; i++) {
		printf("request %2d sent at %4llu ms: %d\n", i,
		       (unsigned long long)((r[i].sent_ns - t0) / MS),
		       r[i].status);
		EX_CHECK(r[i].status == 200);
		coil_http_op_free(&r[i].http);
	}
	/* the burst at once, then one every 50 ms: the last near 1 s */
	EX_CHECK(r[4].sent_ns - t0 < 100 * MS);
	EX_CHECK(r[N - 1].sent_ns - t0 >= 950 * MS);
	ex_http_free(loop, client);
	coil_loop_free(loop);
	return 0;
}
