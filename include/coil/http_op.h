/*
 * coil/http_op.h - an HTTP request as a struct coil_op, so that what
 * applies to ops applies to requests: a coil_group (gather, fail-fast),
 * coil_op_timeout() and deadline scopes (a batch deadline), coil_cancel(),
 * a coil_sem around it, coil_retry (an attempt function that starts one),
 * coil_taskset, coil_loop_drain().
 *
 * It is an adapter over coil_http_request() (coil/http_client.h), in its
 * own file: code that does not use it pays nothing. The op is a wait on
 * a list of its own (coil_waitlist, deferred): a cancel or a deadline
 * cancels the request (coil_http_req_cancel()), and the op completes once
 * the request's done callback has run, so the request is never left
 * behind running; the result reads -ETIMEDOUT when the deadline was the
 * cause.
 */
#ifndef COIL_HTTP_OP_H
#define COIL_HTTP_OP_H

#include "coil/async.h"
#include "coil/http_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An HTTP request as an op. Embed it (or a coil_group_child's op may be
 * this op: see coil_http_op_start()). */
struct coil_http_op {
	struct coil_op *op;	   /* the op that completes (see below) */
	struct coil_http_req *req; /* the request, valid in the callback
				      until the next start or
				      coil_http_op_free() */
	void *data;		   /* the caller's */
	/* private */
	struct coil_waitlist wl;
};

/*
 * coil_http_op_start() - start a request whose end completes @op.
 * @loop: the client's loop.
 * @hop: caller-owned; kept in place until @op's callback.
 * @op:  initialised, not in flight: your own op (a coil_group_child's
 *       c->op after coil_group_add(), for instance). Its
 *       coil_op_timeout() and the deadline scopes bound the whole request.
 * @o:   as coil_http_request(); o->done and o->data are taken over.
 * Callback (@op): the response's status code (the body in
 * coil_http_req_body(hop->req)), or coil_http_request()'s errors to done;
 * -ETIMEDOUT at the op's deadline; -ECANCELED after coil_cancel(@op).
 * Return: 0; -EBUSY if @op is in flight; coil_http_request()'s errors
 * (then @op's callback will not run).
 */
int coil_http_op_start(struct coil_loop *loop, struct coil_http_client *c,
		       struct coil_http_op *hop, struct coil_op *op,
		       const struct coil_http_req_opts *o);

/* coil_http_op_free() - free the request of a finished @hop (NULL-safe). */
void coil_http_op_free(struct coil_http_op *hop);

#ifdef __cplusplus
}
#endif
#endif /* COIL_HTTP_OP_H */
