/*
 * http/client_op.c - an HTTP request as a struct coil_op (coil/http_op.h):
 * the op waits on the request's own deferred wait list while
 * coil_http_request() runs; the request's done callback completes it.
 * A cancel or a deadline reaches the request through the list's hook
 * (coil_http_req_cancel()), and the op still ends only from done, so the
 * request never outlives the op's callback.
 */

#include <errno.h>

#include "coil/http_op.h"

static void hop_done(struct coil_http_req *req, int res)
{
	struct coil_http_op *hop = coil_http_req_data(req);

	hop->req = req;
	coil_waitlist_complete(&hop->wl, hop->op, res);
}

static void hop_left(struct coil_waitlist *wl, struct coil_op *op, int res)
{
	struct coil_http_op *hop =
		coil_container_of(wl, struct coil_http_op, wl);

	(void)op;
	(void)res;
	if (hop->req)
		coil_http_req_cancel(hop->req);
}

int coil_http_op_start(struct coil_loop *loop, struct coil_http_client *c,
		       struct coil_http_op *hop, struct coil_op *op,
		       const struct coil_http_req_opts *o)
{
	struct coil_http_req_opts opts;
	struct coil_http_req *req = NULL;
	int ret;

	if (!loop || !c || !hop || !op || !o)
		return -EINVAL;
	if (coil_op_busy(op))
		return -EBUSY;
	coil_http_op_free(hop);
	hop->op = op;
	opts = *o;
	opts.done = hop_done;
	opts.data = hop;
	coil_waitlist_init(&hop->wl, loop, hop_left);
	coil_waitlist_defer(&hop->wl);
	/* the op waits first (it takes its deadline now), then the request
	 * starts; a request that cannot start takes the op back out */
	ret = coil_waitlist_add(&hop->wl, op);
	if (ret < 0)
		return ret;
	if (!coil_waitlist_len(&hop->wl))
		return 0; /* past its deadline: -ETIMEDOUT next turn */
	ret = coil_http_request(c, &opts, &req);
	if (ret < 0) {
		/* not started: the op must not run (the caller hears ret) */
		coil_waitlist_remove(&hop->wl, op);
		return ret;
	}
	hop->req = req;
	return 0;
}

void coil_http_op_free(struct coil_http_op *hop)
{
	if (hop && hop->req) {
		coil_http_req_free(hop->req);
		hop->req = NULL;
	}
}
