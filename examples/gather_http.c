/*
 * examples/gather_http.c - fetch many URLs, at most 4 at a time, the
 * whole batch within 1 s (asyncio.gather with a Semaphore and
 * asyncio.timeout; httpx.AsyncClient with limits):
 *
 *     async with asyncio.timeout(1):
 *         results = await asyncio.gather(*(fetch(u) for u in urls),
 *                                        return_exceptions=True)
 *
 * In coil: one coil_group in collect-all mode, a child per URL; each child
 * first takes a permit of a coil_sem(4), then runs its request as an op
 * (coil_http_op_start()); every op is started under one deadline scope
 * taken at the start of the batch, so a request still running (or still
 * waiting for its permit) at the deadline ends with -ETIMEDOUT. Each
 * child's callback runs once either way.
 *
 * Run: run-with-peer.sh nginx gather_http   (nginx serves /ok at once
 * and /slow at 8 KiB/s, 64 KiB: 8 s, far past the deadline)
 */
#include "example.h"

#define N 20

struct fetch {
	struct coil_group_child child; /* the group's view of this fetch */
	struct coil_op permit;	       /* waiting for the semaphore */
	struct coil_http_op http;      /* the request, as an op */
	const char *path;
	int status;
};

static struct coil_loop *loop;
static struct coil_http_client *client;
static struct coil_sem limit;
static uint64_t batch_deadline;
static char base[64];
static int running, peak;

/* The child's op ended: its request's status, or -ETIMEDOUT / -errno. */
static void fetched(struct coil_op *op, int res, unsigned flags)
{
	struct fetch *f = coil_container_of(op, struct fetch, child.op);
	(void)flags;
	f->status = res;
	running--;
	coil_sem_release(&limit);
}

/* The permit came (or the batch deadline passed while waiting for it). */
static void permitted(struct coil_op *op, int res, unsigned flags)
{
	struct fetch *f = coil_container_of(op, struct fetch, permit);
	char url[128];
	(void)flags;

	if (res < 0) { /* no permit: end the child with the reason */
		coil_group_child_done(&f->child, res);
		return;
	}
	if (++running > peak)
		peak = running;
	snprintf(url, sizeof(url), "%s%s", base, f->path);
	struct coil_http_req_opts o = {.url = url};
	/* the child's op is the request's op: the group sees its end */
	uint64_t prev = coil_deadline_enter(loop, batch_deadline);
	int ret = coil_http_op_start(loop, client, &f->http, &f->child.op, &o);
	coil_deadline_leave(loop, prev);
	if (ret < 0) {
		running--;
		coil_sem_release(&limit);
		coil_group_child_done(&f->child, ret);
	}
}

static int finished;

static void group_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)flags;
	finished = 1;
	printf("batch done: %d of %d failed\n", res, N);
}

int main(int argc, char **argv)
{
	static struct fetch f[N];
	struct coil_group g;
	struct coil_op done;
	uint64_t prev;

	if (argc < 2)
		return 2;
	snprintf(base, sizeof(base), "http://%s", argv[1]);
	loop = ex_loop();
	coil_http_client_new(&client, loop, NULL);
	coil_sem_init(&limit, loop, 4, 4);
	coil_group_init(&g, loop, COIL_GROUP_ALL);

	batch_deadline = coil_now_update(loop) + 1 * SEC;
	for (int i = 0; i < N; i++) {
		f[i].path = i % 5 == 4 ? "/slow" : "/ok"; /* 4 slow ones */
		/* a task child: permit, then request, ended by the op */
		coil_group_add(&g, &f[i].child, fetched);
		coil_op_init(&f[i].permit, permitted);
		prev = coil_deadline_enter(loop, batch_deadline);
		coil_sem_acquire(&limit, &f[i].permit);
		coil_deadline_leave(loop, prev);
	}
	coil_op_init(&done, group_done);
	coil_group_wait(&g, &done);
	ex_run_until(loop, &finished);

	int ok = 0, timed_out = 0;
	for (int i = 0; i < N; i++) {
		printf("%-6s %d\n", f[i].path, f[i].status);
		ok += f[i].status == 200;
		timed_out += f[i].status == -ETIMEDOUT;
		coil_http_op_free(&f[i].http);
	}
	printf("%d ok, %d cut at the deadline, at most %d at once\n", ok,
	       timed_out, peak);
	EX_CHECK(ok == 16 && timed_out == 4 && peak <= 4);
	ex_http_free(loop, client);
	coil_loop_free(loop);
	return 0;
}
