/*
 * http/h2.c - an HTTP/2 session over a coil stream (coil/http_h2.h).
 *
 * nghttp2 is used in its "mem" mode: no socket of its own. The stream's
 * reads go to nghttp2_session_mem_recv() straight from the read callback
 * (a completion: the handler's callbacks run there), and pump() gathers
 * nghttp2_session_mem_send()'s frames into one of two output buffers and
 * writes it. The kick and pump of docs/ARCHITECTURE.md: API calls only
 * set H_WANT and post the kick (or nothing, when a read or the pump is
 * already on the stack and will pump after), so a turn's frames leave in
 * one write. With one buffer in flight the other fills; with both in
 * flight nghttp2 keeps the rest queued until a write completes.
 *
 * Per stream coil keeps a small record (struct h2_rec, http/h2_record.c):
 * the caller's data, its body, the error to report, the bytes received,
 * and when its send window closed. Limits are checked in nghttp2's
 * callbacks (http/h2_callbacks.c); a stream's limit resets the stream
 * (the session goes on), a session's limit (control-frame flood,
 * CONTINUATION flood) ends it, here, when the pump sees nghttp2's error.
 * The calls on streams (request, respond, reset, ...) are
 * http/h2_submit.c's, above this file (http/h2_internal.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/grow.h"
#include "h2_internal.h"

#define OUT_TARGET 32768u /* gather up to this much per write */
#define OUT_MIN 4096u
#define TABLE_MAX (1u << 20) /* coil_h2_opts.header_table_bytes */

const char *const coil_h2_alpn[] = {"h2", "http/1.1", NULL};

static void pump(struct coil_h2 *h);
static void feed(struct coil_h2 *h, const void *buf, size_t n);

/* ---- the end ---------------------------------------------------------------
 */

/* The session is over: streams end with @err, then on_end. */
static void end(struct coil_h2 *h, int err)
{
	if (h->st & (H_ENDED | H_CLOSING))
		return;
	h->st |= H_ENDED;
	if (coil_op_busy(&h->tmr))
		coil_timeout_remove(h->s->loop, &h->tmr);
	coil__h2_strm_end_all(h, err ? err : COIL_ETRUNC);
	h->hd->on_end(h, err);
}

/* Free once the stream is closed and no op of ours is in flight. */
static void try_free(struct coil_h2 *h)
{
	if (!(h->st & H_SCLOSED) || coil_op_busy(&h->kick) ||
	    coil_op_busy(&h->tmr))
		return;
	coil__h2_strm_end_all(h, -ECANCELED);
	if (h->ng)
		nghttp2_session_del(h->ng);
	coil__h2_mem_free(&h->mem);
	while (h->spare) {
		struct h2_rec *st = h->spare;
		h->spare = st->next;
		free(st);
	}
	free(h->out[0].p);
	free(h->out[1].p);
	free(h->hb);
	free(h->hf);
	free(h->pre);
	void (*cb)(void *) = h->close_cb;
	void *data = h->data;
	free(h);
	if (cb)
		cb(data);
}

/* ---- output ----------------------------------------------------------------
 */

static void out_done(struct coil_stream_write *w, int status)
{
	struct h2out *ob = coil_container_of(w, struct h2out, w);
	struct coil_h2 *h = w->data;

	ob->busy = 0;
	ob->len = 0;
	if (h->st & H_CLOSING)
		return;
	if (status < 0) {
		end(h, status);
		return;
	}
	pump(h);
}

/* Gather what nghttp2 has to send into a free buffer and write it.
 * Return: 1 if a write was made, 0 if nothing (or no buffer) to send,
 * or an error. */
static int flush_once(struct coil_h2 *h)
{
	struct h2out *ob = !h->out[0].busy   ? &h->out[0]
			   : !h->out[1].busy ? &h->out[1]
					     : NULL;
	const uint8_t *p;
	ssize_t n;
	int ret;

	if (!ob)
		return 0;
	while (ob->len < OUT_TARGET) {
		n = nghttp2_session_mem_send(h->ng, &p);
		if (n < 0)
			return coil__h2_ng_err((int)n);
		if (n == 0)
			break;
		if (ob->len + (size_t)n > ob->cap) {
			unsigned char *b = coil__grow(
				ob->p, &ob->cap, ob->len + (size_t)n, OUT_MIN);
			if (!b)
				return -ENOMEM;
			ob->p = b;
		}
		memcpy(ob->p + ob->len, p, (size_t)n);
		ob->len += (size_t)n;
	}
	if (!ob->len)
		return 0;
	ob->w.data = h;
	ret = coil_stream_write(h->s, &ob->w, ob->p, ob->len, out_done);
	if (ret < 0)
		return ret;
	ob->busy = 1;
	h->info.writes++;
	return 1;
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags);

/* Streams whose send window has stayed closed past flow_timeout_ns are
 * reset; the timer is armed for the next one due. */
static void check_stalls(struct coil_h2 *h)
{
	uint64_t now = coil_now(h->s->loop), next = 0;
	int32_t conn_win;

	if (!h->nbody)
		return;
	conn_win = nghttp2_session_get_remote_window_size(h->ng);
	for (struct h2_rec *st = h->live.next; st != &h->live; st = st->next) {
		if (!st->has_body || st->deferred || st->sid <= 0) {
			st->stall_ns = 0;
			continue;
		}
		if (conn_win > 0 &&
		    nghttp2_session_get_stream_remote_window_size(
			    h->ng, st->sid) > 0) {
			st->stall_ns = 0;
			continue;
		}
		if (!st->stall_ns)
			st->stall_ns = now;
		if (now - st->stall_ns >= h->o.flow_timeout_ns) {
			if (!st->err) {
				st->err = COIL_EH2_FLOW;
				st->code = NGHTTP2_FLOW_CONTROL_ERROR;
			}
			coil__h2_body_end(h, st);
			nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE,
						  st->sid, NGHTTP2_CANCEL);
			h->st |= H_WANT;
			continue;
		}
		if (!next || st->stall_ns + h->o.flow_timeout_ns < next)
			next = st->stall_ns + h->o.flow_timeout_ns;
	}
	if (next && !coil_op_busy(&h->tmr)) {
		coil_op_init(&h->tmr, tmr_cb);
		coil_timeout(h->s->loop, &h->tmr, next, COIL_TIMEOUT_ABS);
	}
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_h2 *h = coil_container_of(op, struct coil_h2, tmr);
	(void)flags;
	(void)res;
	if (h->st & (H_CLOSING | H_ENDED)) {
		try_free(h);
		return;
	}
	h->st |= H_WANT;
	pump(h);
}

/* The one place that sends: called from completions (a read, a write, the
 * timer) and from the kick. */
static void pump(struct coil_h2 *h)
{
	int ret;

	if (h->st & (H_PUMPING | H_ENDED | H_CLOSING))
		return;
	h->st |= H_PUMPING;
	for (;;) {
		h->st &= ~H_WANT;
		check_stalls(h);
		while ((ret = flush_once(h)) > 0)
			;
		if (ret < 0) {
			h->st &= ~H_PUMPING;
			end(h, ret);
			return;
		}
		if (!(h->st & H_WANT) || (h->st & (H_ENDED | H_CLOSING)))
			break;
	}
	h->st &= ~H_PUMPING;
	if (h->st & (H_ENDED | H_CLOSING))
		return;
	/* done when nghttp2 wants neither (GOAWAY exchanged and no stream
	 * open, or a fatal error sent) and the last bytes are out */
	if (!nghttp2_session_want_read(h->ng) &&
	    !nghttp2_session_want_write(h->ng) && !h->out[0].busy &&
	    !h->out[1].busy)
		end(h, h->end_err);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_h2 *h = coil_container_of(op, struct coil_h2, kick);
	(void)res;
	(void)flags;
	if (h->st & H_CLOSING) {
		try_free(h);
		return;
	}
	if (h->pre && !(h->st & H_ENDED)) {
		feed(h, NULL, 0);
		return;
	}
	pump(h);
}

/* The kick is posted at most once, and not at all while a read or the
 * pump is on the stack: it pumps after. */
void coil__h2_want_send(struct coil_h2 *h)
{
	h->st |= H_WANT;
	if (h->st & (H_PUMPING | H_INRECV))
		return;
	if (!coil_op_busy(&h->kick)) {
		coil_op_init(&h->kick, kick_cb);
		coil_loop_post(h->s->loop, &h->kick, 0);
	}
}

/* ---- input -----------------------------------------------------------------
 */

static void feed(struct coil_h2 *h, const void *buf, size_t n)
{
	ssize_t rv = 0;

	h->st |= H_INRECV;
	if (h->pre) { /* coil_h2_server()'s bytes come first */
		unsigned char *pre = h->pre;
		h->pre = NULL;
		rv = nghttp2_session_mem_recv(h->ng, pre, h->pre_len);
		free(pre);
	}
	if (rv >= 0 && n)
		rv = nghttp2_session_mem_recv(h->ng, buf, n);
	h->st &= ~H_INRECV;
	if (h->st & (H_ENDED | H_CLOSING))
		return;
	if (rv < 0) {
		end(h, h->end_err ? h->end_err : coil__h2_ng_err((int)rv));
		return;
	}
	pump(h);
}

static void on_read(struct coil_stream *s, ssize_t nread, const void *buf)
{
	struct coil_h2 *h = s->data;

	if (h->st & (H_ENDED | H_CLOSING))
		return;
	if (nread > 0) {
		feed(h, buf, (size_t)nread);
		return;
	}
	/* the peer closed, or the stream failed */
	if (nread == 0)
		end(h, h->nlive ? COIL_ETRUNC : h->end_err);
	else
		end(h, (int)nread);
}

/* ---- starting --------------------------------------------------------------
 */

static int opts_check(struct coil_h2_opts *o, const struct coil_h2_opts *in)
{
	memset(o, 0, sizeof(*o));
	if (in)
		*o = *in;
	if (o->stream_window_bytes > NGHTTP2_MAX_WINDOW_SIZE ||
	    o->conn_window_bytes > NGHTTP2_MAX_WINDOW_SIZE ||
	    (o->header_table_bytes > TABLE_MAX &&
	     o->header_table_bytes != COIL_H2_TABLE_NONE))
		return -EINVAL;
	if (!o->max_concurrent_streams)
		o->max_concurrent_streams = 100;
	if (!o->stream_window_bytes)
		o->stream_window_bytes = 1u << 20;
	if (!o->conn_window_bytes)
		o->conn_window_bytes = 16u << 20;
	if (!o->max_header_list_bytes)
		o->max_header_list_bytes = 65536;
	if (!o->max_header_frames)
		o->max_header_frames = 16;
	if (!o->max_control_per_sec)
		o->max_control_per_sec = 1000;
	if (!o->flow_timeout_ns)
		o->flow_timeout_ns = 10 * SEC_NS;
	if (!o->header_table_bytes)
		o->header_table_bytes = NGHTTP2_DEFAULT_HEADER_TABLE_SIZE;
	else if (o->header_table_bytes == COIL_H2_TABLE_NONE)
		o->header_table_bytes = 0;
	return 0;
}

static int start(struct coil_stream *s, const struct coil_h2_opts *opts,
		 const struct coil_h2_handler *hd, void *data, int server,
		 const void *pre, size_t pre_len, struct coil_h2 **out)
{
	struct coil_h2 *h;
	void *saved = NULL;
	int ret;

	if (!s || !hd || !hd->on_close || !hd->on_end || !out ||
	    !(s->flags & COIL_STREAM_OPEN) || (s->flags & COIL_STREAM_CLOSING))
		return -EINVAL;
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	if ((ret = opts_check(&h->o, opts)) < 0)
		goto fail;
	h->s = s;
	h->hd = hd;
	h->data = data;
	h->live.next = h->live.prev = &h->live;
	if (server)
		h->st |= H_SERVER;
	h->ctl_sec = coil_now(s->loop);
	coil_op_init(&h->kick, kick_cb);
	coil_op_init(&h->tmr, tmr_cb);
	coil__h2_mem_init(&h->mem);
	if ((ret = coil__h2_session_new(h, server)) < 0)
		goto fail;
	saved = s->data;
	s->data = h;
	ret = coil_stream_read_start(s, on_read);
	if (ret < 0)
		goto fail_read;
	if (pre_len) {
		/* fed from the loop (the kick, or the first read if it comes
		 * first), never inline from this call */
		if (!(h->pre = malloc(pre_len))) {
			ret = -ENOMEM;
			goto fail_read;
		}
		memcpy(h->pre, pre, pre_len);
		h->pre_len = pre_len;
	}
	*out = h;
	coil__h2_want_send(h);
	return 0;
fail_read:
	coil_stream_read_stop(s);
	s->data = saved;
fail:
	if (h->ng)
		nghttp2_session_del(h->ng);
	coil__h2_mem_free(&h->mem);
	free(h);
	return ret;
}

int coil_h2_client(struct coil_stream *s, const struct coil_h2_opts *opts,
		   const struct coil_h2_handler *hd, void *data,
		   struct coil_h2 **out)
{
	return start(s, opts, hd, data, 0, NULL, 0, out);
}

int coil_h2_server(struct coil_stream *s, const struct coil_h2_opts *opts,
		   const struct coil_h2_handler *hd, void *data,
		   const void *pre, size_t pre_len, struct coil_h2 **out)
{
	if (pre_len && !pre)
		return -EINVAL;
	return start(s, opts, hd, data, 1, pre, pre_len, out);
}

static void stream_closed(struct coil_stream *s)
{
	struct coil_h2 *h = s->data;
	h->st |= H_SCLOSED;
	try_free(h);
}

int coil_h2_close(struct coil_h2 *h, void (*cb)(void *data))
{
	if (!h)
		return -EINVAL;
	if (h->st & H_CLOSING)
		return -EALREADY;
	h->st |= H_CLOSING;
	h->close_cb = cb;
	if (coil_op_busy(&h->tmr))
		coil_timeout_remove(h->s->loop, &h->tmr);
	if (coil_stream_close(h->s, stream_closed) < 0) {
		/* closing already (cannot be: the stream is ours); finish
		 * from the loop all the same */
		h->st |= H_SCLOSED;
		if (!coil_op_busy(&h->kick)) {
			coil_op_init(&h->kick, kick_cb);
			coil_loop_post(h->s->loop, &h->kick, 0);
		}
	}
	return 0;
}

void *coil_h2_data(const struct coil_h2 *h)
{
	return h ? h->data : NULL;
}

struct coil_stream *coil_h2_stream(const struct coil_h2 *h)
{
	return h ? h->s : NULL;
}

const struct coil_h2_info *coil_h2_info(const struct coil_h2 *h)
{
	return h ? &h->info : NULL;
}
