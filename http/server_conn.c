/*
 * http/server_conn.c - what every part of the server may do to a
 * connection, below them all: end it (coil__sconn_fail()), report its
 * request to on_done (coil__sconn_report()), record that the handler let
 * go of the request (coil__sreq_complete()). None of them acts further:
 * each leaves the rest to the connection's pump in http/server.c through
 * the kick (docs/ARCHITECTURE.md, "The kick and the pump"), which is how
 * every completion below the pump reports to it. This file calls only
 * http/server_time.c.
 */
#include <errno.h>

#include "server_internal.h"

/* The stream's close callback: the pump's kick releases the connection
 * once nothing else refers to it. */
static void conn_closed_cb(struct coil_stream *s)
{
	struct sconn *c = s->data;
	c->st |= C_CLOSED;
	coil__sconn_kick(c);
}

/*
 * End the connection now (@err < 0: it failed; 0: a clean close, e.g. an
 * idle keep-alive connection or the end of lingering). The handler hears
 * of it from the loop (the pump's kick): its body callback gets the
 * error, then its cancel hook runs; never inline from whatever call found
 * the failure.
 */
void coil__sconn_fail(struct sconn *c, int err)
{
	if (c->st & C_DEAD)
		return;
	if (c->phase == P_H2) {
		/* the session closes the stream; server.c hears of the end
		 * through the gone callback it gave */
		if (c->h2)
			coil__h2_cut(c->h2, err);
		return;
	}
	c->st |= C_DEAD;
	if (c->x)
		c->x->berr_pending = err < 0 ? err : COIL_ETRUNC;
	coil__tl_remove(c);
	if (err < 0 && !(c->st & C_CLOSE_CLEAN))
		c->srv->stats.resets++;
	/* -EINVAL: the stream holds nothing any more (a TLS stream whose
	 * handshake failed has closed its lower stream itself) */
	if (coil_stream_close(c->s, conn_closed_cb) == -EINVAL)
		c->st |= C_CLOSED;
	if (c->x && coil_op_busy(&c->x->fsf.op)) /* a file waiting for room */
		coil_cancel(c->srv->loop, &c->x->fsf.op);
	coil__sconn_kick(c);
}

/* Report the request to on_done once. */
void coil__sconn_report(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct sexch *x = c->x;

	if (!x || (c->st & C_REPORTED) || !(x->req.method || x->rstatus))
		return;
	c->st |= C_REPORTED;
	if (x->rstatus)
		srv->stats.responses++;
	if (srv->o.on_done)
		srv->o.on_done(&x->req, x->rstatus, x->rbytes, srv->o.arg);
}

/* The handler (or serve_file) let go of the request: the pump goes on
 * (or, on a dead connection, releases it) from the kick, unless it is on
 * the stack and sees it when the handler returns. */
void coil__sreq_complete(struct sconn *c)
{
	c->st &= ~(C_OWNED | C_INTERNAL | C_LENT);
	if (!(c->st & C_INPROC))
		coil__sconn_kick(c);
}
