/*
 * tests/h2/h2util.h - an HTTP/2 client for the tests, on coil_h2 over TCP
 * or TLS: connect, (handshake,) start the session, keep up to @inflight
 * of @total GET requests open, record each stream's status, body bytes,
 * error and code, then shut down gracefully (or close at the session's
 * end). Everything is bounded: tu_run_until() with a limit.
 */
#ifndef COIL_TEST_H2UTIL_H
#define COIL_TEST_H2UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil/engine.h"
#include "coil/http_h2.h"
#include "coil/stream.h"
#include "coil/tls.h"
#include "testutil.h"

#define H2T_MAX 256

struct h2t_res {
	int status;
	size_t body;
	int err;
	uint32_t code;
	int closed;
	int heads;
	int h2; /* an "x-proto: HTTP/2.0" field came */
};

struct h2t {
	struct coil_loop *loop;
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_tls_config *tlscfg; /* NULL: h2c prior knowledge */
	struct coil_stream *s;
	struct coil_h2 *h;
	struct coil_h2_opts o;
	struct sockaddr_storage addr;
	char authority[64];
	const char *path;
	const char *method;
	const struct coil_h2_body *body;
	int total, inflight, started, finished, open;
	int end_err, ended, closed, connect_err, shutdown;
	char alpn[32];
	struct h2t_res r[H2T_MAX];
};

static void h2t_closed(void *data)
{
	struct h2t *t = data;
	t->closed = 1;
}

static void h2t_more(struct h2t *t);

static void h2t_on_head(struct coil_h2 *h, int32_t sid, void *sdata,
			const struct coil_http_header *f, unsigned n,
			unsigned flags)
{
	struct h2t_res *r = sdata;
	(void)h;
	(void)sid;
	(void)flags;
	r->heads++;
	if (n && f[0].name_len == 7 && !memcmp(f[0].name, ":status", 7))
		r->status = atoi(f[0].value);
	for (unsigned i = 0; i < n; i++)
		if (f[i].name_len == 7 && !memcmp(f[i].name, "x-proto", 7) &&
		    f[i].value_len == 8 && !memcmp(f[i].value, "HTTP/2.0", 8))
			r->h2 = 1;
}

static void h2t_on_data(struct coil_h2 *h, int32_t sid, void *sdata,
			const void *buf, size_t len)
{
	struct h2t_res *r = sdata;
	(void)h;
	(void)sid;
	(void)buf;
	r->body += len;
}

static void h2t_on_close(struct coil_h2 *h, int32_t sid, void *sdata, int err,
			 uint32_t code)
{
	struct h2t *t = coil_h2_data(h);
	struct h2t_res *r = sdata;
	(void)sid;
	r->err = err;
	r->code = code;
	r->closed++;
	t->finished++;
	t->open--;
	h2t_more(t);
}

static void h2t_on_end(struct coil_h2 *h, int err)
{
	struct h2t *t = coil_h2_data(h);
	t->ended = 1;
	t->end_err = err;
	coil_h2_close(h, h2t_closed);
}

static const struct coil_h2_handler h2t_handler = {
	.on_head = h2t_on_head,
	.on_data = h2t_on_data,
	.on_close = h2t_on_close,
	.on_end = h2t_on_end,
};

static void h2t_more(struct h2t *t)
{
	while (!t->ended && t->started < t->total && t->open < t->inflight &&
	       coil_h2_room(t->h) > 0) {
		struct h2t_res *r = &t->r[t->started];
		struct coil_http_header f[4] = {
			{":method", 7, t->method, strlen(t->method)},
			{":scheme", 7, t->tlscfg ? "https" : "http",
			 t->tlscfg ? 5u : 4u},
			{":authority", 10, t->authority, strlen(t->authority)},
			{":path", 5, t->path, strlen(t->path)},
		};
		int32_t sid = coil_h2_request(t->h, f, 4, t->body, r);
		if (sid < 0) {
			r->err = sid;
			r->closed++;
			t->started++;
			t->finished++;
			continue;
		}
		t->started++;
		t->open++;
	}
	if (t->finished == t->total && !t->shutdown && !t->ended) {
		t->shutdown = 1;
		coil_h2_shutdown(t->h);
	}
}

static void h2t_start(struct h2t *t)
{
	int ret = coil_h2_client(t->s, &t->o, &h2t_handler, t, &t->h);
	if (ret < 0) {
		t->connect_err = ret;
		return;
	}
	h2t_more(t);
}

static void h2t_sclosed(struct coil_stream *s)
{
	struct h2t *t = s->data;
	t->closed = 1;
}

static void h2t_tls_done(struct coil_stream *s, int status)
{
	struct h2t *t = s->data;
	if (status < 0) {
		t->connect_err = status;
		return;
	}
	snprintf(t->alpn, sizeof(t->alpn), "%s", coil_tls_info(&t->tls)->alpn);
	if (strcmp(t->alpn, "h2")) { /* not negotiated: no session */
		coil_stream_close(&t->tls.s, h2t_sclosed);
		return;
	}
	t->s = &t->tls.s;
	h2t_start(t);
}

static void h2t_connected(struct coil_stream *s, int status)
{
	struct h2t *t = s->data;
	if (status < 0) {
		t->connect_err = status;
		return;
	}
	if (t->tlscfg) {
		struct coil_tls_opts to = {0};
		to.host = "localhost";
		t->tls.s.data = t;
		int ret = coil_tls_open(&t->tls, &t->tcp.s, t->tlscfg, &to,
					h2t_tls_done);
		if (ret < 0)
			t->connect_err = ret;
		return;
	}
	t->s = &t->tcp.s;
	h2t_start(t);
}

/* Connect to 127.0.0.1:@port and run until the session closed (or
 * @limit_ns). Returns 1 when it closed. */
static int h2t_run(struct h2t *t, unsigned short port, uint64_t limit_ns)
{
	struct sockaddr_in a = tu_addr(port);
	volatile int *flag = &t->closed;
	memcpy(&t->addr, &a, sizeof(a));
	snprintf(t->authority, sizeof(t->authority), "127.0.0.1:%u",
		 (unsigned)port);
	if (!t->method)
		t->method = "GET";
	if (!t->path)
		t->path = "/";
	if (t->total > H2T_MAX)
		abort();
	t->tcp.s.data = t;
	if (coil_tcp_connect(t->loop, &t->tcp, &t->addr, 1, NULL,
			     h2t_connected) < 0)
		abort();
	tu_run_until(t->loop, flag, limit_ns);
	/* a failed connect or handshake has no session to wait for */
	return t->closed;
}

/* Drain what is left in the loop (closes finishing) for a bounded time. */
static void h2t_drain(struct coil_loop *loop)
{
	uint64_t end = tu_mono_ns() + 2000000000ull;
	while (coil_loop_inflight(loop) && tu_mono_ns() < end)
		coil_loop_run(loop, COIL_RUN_ONCE);
}

#endif
