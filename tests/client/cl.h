/*
 * tests/client/cl.h - what the client tests share: a loop with a client,
 * a request's outcome, running requests to completion, closing it all
 * down with leak checks.
 */
#ifndef COIL_TEST_CL_H
#define COIL_TEST_CL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"
#include "coil/http.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The outcome of one request. */
struct res {
	int done; /* done callbacks seen */
	int res;
	int heads;
	uint64_t t_start, t_done;
	struct coil_http_req *req;
	struct coil_http_req_info info;
	char err[320];
	/* streamed body */
	size_t got;
	uint64_t hash; /* FNV-1a of the streamed body */
	int bodies;
};

static inline uint64_t cl_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}
#define CL_FNV0 14695981039346656037ull

static inline void cl_done(struct coil_http_req *req, int r)
{
	struct res *x = coil_http_req_data(req);
	x->done++;
	x->res = r;
	x->t_done = tu_mono_ns();
	coil_http_req_info(req, &x->info);
	snprintf(x->err, sizeof(x->err), "%s", coil_http_req_strerror(req));
}

static inline void cl_head(struct coil_http_req *req)
{
	struct res *x = coil_http_req_data(req);
	x->heads++;
}

static inline void cl_body(struct coil_http_req *req, const void *p, size_t n)
{
	struct res *x = coil_http_req_data(req);
	assert_true(n > 0);
	x->bodies++;
	x->got += n;
	x->hash = cl_fnv(x->hash, p, n);
}

struct fx {
	struct coil_loop *loop;
	struct coil_http_client *c;
	struct coil_op shut;
	int shut_done;
};

static inline void fx_open(struct fx *f, const struct coil_http_client_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->loop = tu_loop(NULL);
	assert_int_equal(coil_http_client_new(&f->c, f->loop, o), 0);
}

static inline void fx_shut_cb(struct coil_op *op, int res, unsigned flags)
{
	struct fx *f = coil_container_of(op, struct fx, shut);
	(void)flags;
	assert_int_equal(res, 0);
	f->shut_done++;
}

static inline void cl_tick_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
}

/* One loop turn that waits at most 5 ms: conditions the loop does not
 * see (the test server's threads) are checked again soon. */
static inline void cl_turn(struct coil_loop *loop)
{
	static struct coil_op tick;
	if (!coil_op_busy(&tick)) {
		coil_op_init(&tick, cl_tick_cb);
		coil_timeout(loop, &tick, 5 * MS, 0);
	}
	coil_loop_run(loop, COIL_RUN_ONCE);
}

/* Run until @cond or @ms pass. */
#define CL_RUN_UNTIL(loop, cond, ms)                                           \
	do {                                                                   \
		uint64_t end_ = tu_mono_ns() + (uint64_t)(ms)*MS;              \
		while (!(cond) && tu_mono_ns() < end_)                         \
			cl_turn(loop);                                         \
	} while (0)

/* Shut the client down, run the loop dry, free both. */
static inline void fx_close(struct fx *f)
{
	coil_op_init(&f->shut, fx_shut_cb);
	assert_int_equal(coil_http_client_shutdown(f->c, &f->shut), 0);
	CL_RUN_UNTIL(f->loop, f->shut_done, 10000);
	assert_int_equal(f->shut_done, 1);
	CL_RUN_UNTIL(f->loop, coil_loop_inflight(f->loop) == 0, 10000);
	assert_int_equal(coil_loop_inflight(f->loop), 0);
	assert_int_equal(coil_http_client_free(f->c), 0);
	coil_loop_free(f->loop);
}

/* Start a request for @url with @o (may be NULL) reporting into @x. */
static inline void cl_start(struct fx *f, const char *url,
			    const struct coil_http_req_opts *o, struct res *x)
{
	struct coil_http_req_opts oo = {0};
	if (o)
		oo = *o;
	memset(x, 0, sizeof(*x));
	x->hash = CL_FNV0;
	oo.url = url;
	oo.done = cl_done;
	oo.data = x;
	if (!oo.on_head)
		oo.on_head = cl_head;
	x->t_start = tu_mono_ns();
	assert_int_equal(coil_http_request(f->c, &oo, &x->req), 0);
	assert_int_equal(x->done, 0); /* never inline */
}

/* Run one request to the end; its result. The request is freed. */
static inline int cl_get(struct fx *f, const char *url,
			 const struct coil_http_req_opts *o, struct res *x)
{
	cl_start(f, url, o, x);
	CL_RUN_UNTIL(f->loop, x->done, 20000);
	assert_int_equal(x->done, 1);
	return x->res;
}

static inline void cl_free(struct res *x)
{
	coil_http_req_free(x->req);
	x->req = NULL;
}

static inline double cl_ms(const struct res *x)
{
	return (double)(x->t_done - x->t_start) / 1e6;
}

/* A streamed body paused after every fourth callback and resumed from a
 * timer 2 ms later: on_body = cl_bp_body, with a struct cl_bp as the
 * request's data (its x first, so cl_start(..., &b.x) gives &b).
 * while_paused counts the callbacks that came while paused (none should),
 * pauses the callbacks seen. */
struct cl_bp {
	struct res x;
	struct coil_loop *loop;
	struct coil_op tmr;
	int paused;
	int while_paused;
	int pauses;
};

static inline void cl_bp_resume(struct coil_op *op, int res, unsigned flags)
{
	struct cl_bp *b = coil_container_of(op, struct cl_bp, tmr);

	(void)res;
	(void)flags;
	b->paused = 0;
	assert_int_equal(coil_http_req_resume(b->x.req), 0);
}

static inline void cl_bp_body(struct coil_http_req *req, const void *p,
			      size_t n)
{
	struct cl_bp *b = coil_http_req_data(req);

	if (b->paused)
		b->while_paused++;
	cl_body(req, p, n);
	if (b->pauses++ % 4 == 0) {
		assert_int_equal(coil_http_req_pause(req), 0);
		b->paused = 1;
		coil_op_init(&b->tmr, cl_bp_resume);
		assert_int_equal(coil_timeout(b->loop, &b->tmr, 2 * MS, 0), 0);
	}
}

/* The whole file @path (tu_slurp()), which must be there; free it. */
static inline char *cl_slurp(const char *path, size_t *len)
{
	char *b;

	*len = 0; /* -O2 cannot tell that a failed assert ends the test */
	b = tu_slurp(path, len);

	assert_non_null(b);
	return b;
}

/* FNV-1a (cl_fnv()) of the file @dir/@name, which must be there, and its
 * length into *@len: what a streamed body of it must hash to. */
static inline uint64_t cl_file_hash(const char *dir, const char *name,
				    size_t *len)
{
	char path[1024], buf[65536];
	uint64_t h = CL_FNV0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	*len = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		h = cl_fnv(h, buf, n);
		*len += n;
	}
	fclose(f);
	return h;
}

#endif
