/*
 * examples/fail_fast.c - start several requests, and on the first
 * failure cancel the rest (asyncio.TaskGroup; anyio's task group):
 *
 *     async with asyncio.TaskGroup() as tg:
 *         for u in urls: tg.create_task(fetch(u))
 *
 * In coil: a coil_group in COIL_GROUP_FAIL_FAST mode, one op child per
 * request (coil_http_op_start() on the child's op). One URL points at a
 * port nobody listens on: its -ECONNREFUSED makes the group cancel every
 * other child (the slow downloads end with -ECANCELED), and the group
 * reports that first error once all have ended.
 *
 * Run: run-with-peer.sh nginx fail_fast
 */
#include "example.h"

#define N 6

struct req {
	struct coil_group_child child;
	struct coil_http_op http;
	int res;
};

static void ended(struct coil_op *op, int res, unsigned flags)
{
	struct req *r = coil_container_of(op, struct req, child.op);
	(void)flags;
	r->res = res;
}

static int group_res, finished;

static void group_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)flags;
	group_res = res;
	finished = 1;
}

int main(int argc, char **argv)
{
	struct coil_loop *loop;
	struct coil_http_client *client;
	struct coil_group g;
	struct coil_op done;
	static struct req r[N];
	char url[128];
	int refused_port;

	if (argc < 2)
		return 2;
	loop = ex_loop();
	coil_http_client_new(&client, loop, NULL);
	coil_group_init(&g, loop, COIL_GROUP_FAIL_FAST);

	/* a port with nobody behind it: bind one, close it */
	{
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, (struct sockaddr *)&a, sizeof(a));
		getsockname(fd, (struct sockaddr *)&a, &len);
		refused_port = ntohs(a.sin_port);
		close(fd);
	}
	for (int i = 0; i < N; i++) {
		if (i == 3)
			snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
				 refused_port);
		else
			snprintf(url, sizeof(url), "http://%s/slow", argv[1]);
		struct coil_http_req_opts o = {.url = url};
		coil_group_add(&g, &r[i].child, ended);
		if (coil_http_op_start(loop, client, &r[i].http, &r[i].child.op,
				       &o) < 0)
			coil_group_child_done(&r[i].child, -EINVAL);
	}
	coil_op_init(&done, group_done);
	coil_group_wait(&g, &done);
	ex_run_until(loop, &finished);

	printf("group: %s\n", coil_strerror(group_res));
	int cancelled = 0;
	for (int i = 0; i < N; i++) {
		printf("request %d: %s\n", i, coil_strerror(r[i].res));
		cancelled += r[i].res == -ECANCELED;
		coil_http_op_free(&r[i].http);
	}
	EX_CHECK(group_res == -ECONNREFUSED);
	EX_CHECK(r[3].res == -ECONNREFUSED && cancelled == N - 1);
	ex_http_free(loop, client);
	coil_loop_free(loop);
	return 0;
}
