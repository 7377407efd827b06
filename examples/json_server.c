/*
 * examples/json_server.c - a small JSON API with start-up and shutdown
 * hooks and a graceful drain on SIGTERM (a FastAPI/Starlette app with
 * lifespan startup/shutdown under uvicorn, or aiohttp's on_startup /
 * on_cleanup with web.run_app's graceful shutdown):
 *
 *     GET  /health      {"ok":true}
 *     GET  /items       the items, as a JSON array
 *     POST /items       add one (the body is the item's JSON), 201
 *     GET  /slow        answers after 300 ms (work in progress)
 *
 * In coil: coil_http_server on 127.0.0.1 (port 0, read back); SIGTERM is
 * read from a signalfd(2) by a ring read, so the signal arrives as a
 * completion like everything else; its callback runs the shutdown hook
 * and coil_http_server_shutdown(drain 2 s): the listener closes, idle
 * connections close, a request in progress (/slow) finishes with
 * "Connection: close", then the done callback frees what the start-up
 * hook made. To be runnable alone, the program is its own client: it
 * calls the API with coil's HTTP client (as ops, in a group), then sends
 * itself SIGTERM while /slow is in progress and checks it still got 200.
 *
 * Run: run-with-peer.sh none json_server
 */
#include <signal.h>
#include <sys/signalfd.h>

#include "example.h"

/* ---- the application ------------------------------------------------- */

struct app {
	char **items;
	unsigned nitems;
	struct coil_http_server *srv;
	struct coil_op shut;
	int stopped;
};

static const struct coil_http_header json_ct[] = {
	{"Content-Type", 12, "application/json", 16}};

static void on_startup(struct app *a)
{
	a->items = calloc(64, sizeof(*a->items));
	a->items[a->nitems++] = strdup("{\"name\":\"first\"}");
	printf("startup: %u item(s) loaded\n", a->nitems);
}

static void on_shutdown(struct app *a)
{
	for (unsigned i = 0; i < a->nitems; i++)
		free(a->items[i]);
	free(a->items);
	a->items = NULL;
	printf("shutdown: state freed\n");
}

struct slow {
	struct coil_op tmr;
	struct coil_http_sreq *req;
};

static void slow_done(struct coil_op *op, int res, unsigned flags)
{
	struct slow *s = coil_container_of(op, struct slow, tmr);
	(void)res;
	(void)flags;
	coil_http_respond(s->req, 200, json_ct, 1, "{\"slow\":true}", 13);
	free(s);
}

static void body_read(struct coil_http_sreq *req, int status, void *arg)
{
	struct app *a = arg;
	if (status < 0 || a->nitems == 64) {
		coil_http_respond(req, 400, NULL, 0, "", 0);
		return;
	}
	a->items[a->nitems] = strndup(req->body, req->body_len);
	a->nitems++;
	coil_http_respond(req, 201, json_ct, 1, "{\"added\":true}", 14);
}

static int is(const struct coil_http_sreq *r, const char *m, const char *p)
{
	return r->method_len == strlen(m) &&
	       !memcmp(r->method, m, r->method_len) &&
	       r->path_len == strlen(p) && !memcmp(r->path, p, r->path_len);
}

static void handler(struct coil_http_sreq *req, void *arg)
{
	struct app *a = arg;
	if (is(req, "GET", "/health")) {
		coil_http_respond(req, 200, json_ct, 1, "{\"ok\":true}", 11);
	} else if (is(req, "GET", "/items")) {
		char out[4096];
		size_t n = 0;
		out[n++] = '[';
		for (unsigned i = 0; i < a->nitems; i++)
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s",
					      i ? "," : "", a->items[i]);
		out[n++] = ']';
		coil_http_respond(req, 200, json_ct, 1, out, n);
	} else if (is(req, "POST", "/items")) {
		coil_http_sreq_read_body(req, body_read, a);
	} else if (is(req, "GET", "/slow")) {
		struct slow *s = calloc(1, sizeof(*s));
		s->req = req;
		coil_op_init(&s->tmr, slow_done);
		coil_timeout(req->loop, &s->tmr, 300 * MS, 0);
	} else {
		coil_http_respond(req, 404, json_ct, 1, "{\"error\":\"no\"}",
				  14);
	}
}

static void drained(struct coil_op *op, int res, unsigned flags)
{
	struct app *a = coil_container_of(op, struct app, shut);
	(void)flags;
	printf("drained: %s\n", res == 0 ? "every request finished"
					 : "some connections were cut");
	on_shutdown(a);
	a->stopped = 1;
}

/* SIGTERM, as a completion */
struct sig {
	struct coil_op rd;
	int fd;
	struct signalfd_siginfo si;
	struct app *a;
};

static void got_signal(struct coil_op *op, int res, unsigned flags)
{
	struct sig *s = coil_container_of(op, struct sig, rd);
	(void)flags;
	if (res != (int)sizeof(s->si))
		return;
	printf("SIGTERM: draining\n");
	coil_op_init(&s->a->shut, drained);
	coil_http_server_shutdown(s->a->srv, 2 * SEC, &s->a->shut);
}

/* ---- the program as its own client ------------------------------------ */

struct call {
	struct coil_group_child child;
	struct coil_http_op http;
	int status;
};

static void called(struct coil_op *op, int res, unsigned flags)
{
	struct call *c = coil_container_of(op, struct call, child.op);
	(void)flags;
	c->status = res;
}

static int group_done_flag;
static void group_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
	group_done_flag = 1;
}

int main(void)
{
	static struct app a;
	static struct sig sg;
	struct coil_loop *loop = ex_loop();
	struct sockaddr_in bind_to = {.sin_family = AF_INET};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct coil_http_client *client;
	struct coil_group g;
	struct coil_op gdone;
	static struct call calls[4];
	sigset_t mask;
	char url[4][96];

	/* SIGTERM goes to the signalfd, not to the default action */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sg.fd = signalfd(-1, &mask, SFD_CLOEXEC);
	sg.a = &a;
	coil_op_init(&sg.rd, got_signal);
	coil_read(loop, &sg.rd, sg.fd, &sg.si, sizeof(sg.si), -1);

	on_startup(&a);
	bind_to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct coil_http_server_opts so = {
		.addr = (struct sockaddr *)&bind_to,
		.addr_len = sizeof(bind_to),
		.handler = handler,
		.arg = &a,
	};
	EX_CHECK(coil_http_server_new(&a.srv, loop, &so) == 0);
	coil_http_server_addr(a.srv, &ss, &len);
	int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("listening on 127.0.0.1:%d\n", port);

	/* the client side: POST an item, then GET /items, /health, /slow */
	coil_http_client_new(&client, loop, NULL);
	coil_group_init(&g, loop, COIL_GROUP_ALL);
	const char *paths[4] = {"/items", "/items", "/health", "/slow"};
	for (int i = 0; i < 4; i++) {
		snprintf(url[i], sizeof(url[i]), "http://127.0.0.1:%d%s", port,
			 paths[i]);
		struct coil_http_req_opts o = {.url = url[i]};
		if (i == 0) {
			o.method = "POST";
			o.body = "{\"name\":\"second\"}";
			o.body_len = 17;
		}
		coil_group_add(&g, &calls[i].child, called);
		coil_http_op_start(loop, client, &calls[i].http,
				   &calls[i].child.op, &o);
		if (i == 0) /* the GET after the POST has landed */
			while (!calls[0].status)
				coil_loop_run(loop, COIL_RUN_ONCE);
	}
	coil_op_init(&gdone, group_done);
	coil_group_wait(&g, &gdone);
	/* while /slow is in progress: SIGTERM */
	while (!calls[1].status || !calls[2].status)
		coil_loop_run(loop, COIL_RUN_ONCE);
	kill(getpid(), SIGTERM);
	ex_run_until(loop, &a.stopped);
	ex_run_until(loop, &group_done_flag);

	size_t blen;
	const char *body = coil_http_req_body(calls[1].http.req, &blen);
	printf("POST /items %d, GET /items %d: %.*s, /health %d, /slow %d\n",
	       calls[0].status, calls[1].status, (int)blen, body,
	       calls[2].status, calls[3].status);
	EX_CHECK(calls[0].status == 201 && calls[1].status == 200);
	EX_CHECK(blen > 0 && strstr(body, "second"));
	EX_CHECK(calls[3].status == 200); /* finished during the drain */
	for (int i = 0; i < 4; i++)
		coil_http_op_free(&calls[i].http);
	ex_http_free(loop, client);
	coil_http_server_free(a.srv);
	coil_cancel(loop, &sg.rd);
	coil_loop_run(loop, COIL_RUN_DEFAULT);
	close(sg.fd);
	coil_loop_free(loop);
	return 0;
}
