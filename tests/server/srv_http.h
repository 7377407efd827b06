/*
 * tests/server/srv_http.h - what test_server_http.c and
 * test_server_http_run.c share: coil-serve's handler (app.c) as the
 * server's, a server started with a client connected, and the ends a test
 * checks (the client closes and the server stops; the server still
 * serves; it closed the connection and stops; it answered a request with
 * a status and closed).
 */
#ifndef COIL_TEST_SRV_HTTP_H
#define COIL_TEST_SRV_HTTP_H

#include "srv.h"
#include "app.h"

static struct serve_app app = {.root_fd = -1, .log_fd = -1};

static inline void opts_default(struct coil_http_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->handler = serve_handler;
	o->arg = &app;
}

/* A server with the options @o (opts_default() and the test's own) on
 * @s, and a client connected to it. */
static inline int start_with(struct srv *s, struct coil_http_server_opts *o)
{
	srv_start(s, o, NULL);
	return cl_connect(s->port);
}

/* start_with() the default options. */
static inline int start_connected(struct srv *s,
				  struct coil_http_server_opts *o)
{
	opts_default(o);
	return start_with(s, o);
}

/* The test's end: the client @fd closes, the server stops cleanly (1 s to
 * drain; its counters into @st unless NULL), @in is freed. */
static inline void close_then_stop(int fd, struct cl_in *in, struct srv *s,
				   struct coil_http_server_stats *st)
{
	close(fd);
	assert_int_equal(srv_stop(s, 1000, st), 0);
	free(in);
}

/* The server on @port still answers GET / with 200. */
static inline void expect_serving(unsigned short port)
{
	struct resp r;
	assert_int_equal(cl_once(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r),
			 0);
	assert_int_equal(r.status, 200);
	free(r.body);
}

/* The server ends the connection @fd; the test's end: it stops cleanly. */
static inline void expect_closed_then_stop(int fd, struct cl_in *in,
					   struct srv *s)
{
	assert_true(cl_closed(fd, in, 5000));
	close_then_stop(fd, in, s, NULL);
}

static inline void expect_status_and_close(unsigned short port, const char *req,
					   int status)
{
	struct resp r;
	char v[64];
	assert_int_equal(cl_once(port, req, &r), 0);
	assert_int_equal(r.status, status);
	assert_string_equal(resp_field(&r, "Connection", v, sizeof(v)),
			    "close");
	assert_true(r.closed);
	free(r.body);
}

#endif
