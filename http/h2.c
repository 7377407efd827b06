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
 * Per stream coil keeps a small record (struct h2s, recycled through a
 * free list, so a busy session allocates nothing per request): the
 * caller's data, its body, the error to report, the bytes received, and
 * when its send window closed. Limits are checked in nghttp2's callbacks;
 * a stream's limit resets the stream (the session goes on), a session's
 * limit (control-frame flood, CONTINUATION flood) ends it.
 *
 * Why one file of over 1,000 lines: nghttp2's callbacks, the pump and the
 * API share the session's flag word and call each other (a read feeds
 * nghttp2, which calls back, which asks for a pump; the pump asks
 * nghttp2 for frames). The output gathering (about 180 lines) could move
 * behind an internal header, called one way; not done yet.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "coil/http_h2.h"
#include "../engine/grow.h"
#include "h2_mem.h"

#define OUT_TARGET 32768u /* gather up to this much per write */
#define OUT_MIN 4096u
#define HB_MIN 1024u
#define SEC_NS 1000000000ull
#define TABLE_MAX (1u << 20) /* coil_h2_opts.header_table_bytes */

/* session state bits (h->st) */
#define H_SERVER (1u << 0)
#define H_PUMPING (1u << 1) /* pump() is on the stack */
#define H_INRECV (1u << 2)  /* mem_recv() is on the stack: it pumps after */
#define H_ENDED (1u << 3)   /* on_end delivered (or due): no more I/O */
#define H_CLOSING (1u << 4) /* coil_h2_close() called */
#define H_SCLOSED (1u << 5) /* the stream's close callback ran */
#define H_WANT (1u << 6)    /* output may be pending */

const char *const coil_h2_alpn[] = {"h2", "http/1.1", NULL};

/* one stream's record */
struct h2s {
	struct h2s *next, *prev; /* h->live, or the free list (next) */
	int32_t sid;
	void *sdata;
	int err;	   /* what on_close reports, when set */
	uint32_t code;	   /* with it */
	uint64_t rx_bytes; /* DATA received */
	struct coil_h2_body body;
	size_t body_off;
	int has_body;	   /* a body is (still) being sent */
	int deferred;	   /* read() said -EAGAIN */
	uint64_t stall_ns; /* its send window closed since then, or 0 */
};

struct h2out {
	struct coil_stream_write w;
	unsigned char *p;
	size_t len, cap;
	int busy;
};

struct coil_h2 {
	struct coil_stream *s;
	nghttp2_session *ng;
	const struct coil_h2_handler *hd;
	void *data;
	unsigned st;
	int end_err;	     /* the session's error for on_end, once known */
	struct coil_op kick; /* posted: pump */
	struct coil_op tmr;  /* the flow-control stall check */
	struct h2out out[2];
	struct h2s live;   /* list head of open streams */
	struct h2s *spare; /* free list */
	uint64_t nlive;
	uint64_t nbody; /* streams with a body still being sent */
	/* the header block being received */
	char *hb;
	size_t hb_len, hb_cap;
	struct coil_http_header *hf;
	size_t hf_n, hf_cap;
	uint64_t hb_list; /* §6.5.2 size so far */
	uint32_t hb_frames;
	struct h2s *hb_st; /* its stream's record (looked up once), or NULL */
	/* control frames in the current second */
	uint64_t ctl_sec;
	uint32_t ctl_n;
	struct coil_h2_opts o;
	struct coil_h2_info info;
	void (*close_cb)(void *data);
	unsigned char *pre; /* coil_h2_server()'s bytes, not fed yet */
	size_t pre_len;
	int got_settings;
	/* a client's nghttp2 allocates from here (http/h2_mem.c): the
	 * stream, its outbound item and header copy, and a decoded field's
	 * buffer, made and dropped per request; a server's uses malloc(3),
	 * so an idle server connection keeps no free blocks (issue 12) */
	struct coil__h2_mem mem;
};

static void pump(struct coil_h2 *h);
static void feed(struct coil_h2 *h, const void *buf, size_t n);

/* ---- stream records ------------------------------------------------------
 */

static struct h2s *strm_new(struct coil_h2 *h, void *sdata)
{
	struct h2s *st = h->spare;
	if (st)
		h->spare = st->next;
	else if (!(st = malloc(sizeof(*st))))
		return NULL;
	memset(st, 0, sizeof(*st));
	st->sdata = sdata;
	st->next = h->live.next;
	st->prev = &h->live;
	h->live.next->prev = st;
	h->live.next = st;
	h->nlive++;
	return st;
}

/* The stream's body is sent (or abandoned). */
static void body_end(struct coil_h2 *h, struct h2s *st)
{
	if (st->has_body) {
		st->has_body = 0;
		h->nbody--;
	}
}

static void strm_free(struct coil_h2 *h, struct h2s *st)
{
	body_end(h, st);
	if (h->hb_st == st)
		h->hb_st = NULL;
	st->prev->next = st->next;
	st->next->prev = st->prev;
	h->nlive--;
	st->next = h->spare;
	h->spare = st;
}

static struct h2s *strm_get(struct coil_h2 *h, int32_t sid)
{
	if (!h->ng || (h->st & (H_ENDED | H_CLOSING)))
		return NULL;
	return nghttp2_session_get_stream_user_data(h->ng, sid);
}

/* Every stream still open ends with @err (the session is over). */
static void strm_end_all(struct coil_h2 *h, int err)
{
	while (h->live.next != &h->live) {
		struct h2s *st = h->live.next;
		int32_t sid = st->sid;
		void *sdata = st->sdata;
		if (h->ng && sid > 0)
			nghttp2_session_set_stream_user_data(h->ng, sid, NULL);
		strm_free(h, st);
		h->hd->on_close(h, sid, sdata, err, 0);
	}
}

/* ---- the end ---------------------------------------------------------------
 */

static int ng_err(int rv)
{
	switch (rv) {
	case NGHTTP2_ERR_NOMEM:
		return -ENOMEM;
	case NGHTTP2_ERR_FLOODED:
		return COIL_ELIMIT;
	case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
		return COIL_ELIMIT;
	default:
		return COIL_EH2;
	}
}

/* The session is over: streams end with @err, then on_end. */
static void end(struct coil_h2 *h, int err)
{
	if (h->st & (H_ENDED | H_CLOSING))
		return;
	h->st |= H_ENDED;
	if (coil_op_busy(&h->tmr))
		coil_timeout_remove(h->s->loop, &h->tmr);
	strm_end_all(h, err ? err : COIL_ETRUNC);
	h->hd->on_end(h, err);
}

/* Free once the stream is closed and no op of ours is in flight. */
static void try_free(struct coil_h2 *h)
{
	if (!(h->st & H_SCLOSED) || coil_op_busy(&h->kick) ||
	    coil_op_busy(&h->tmr))
		return;
	strm_end_all(h, -ECANCELED);
	if (h->ng)
		nghttp2_session_del(h->ng);
	coil__h2_mem_free(&h->mem);
	while (h->spare) {
		struct h2s *st = h->spare;
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
			return ng_err((int)n);
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
	for (struct h2s *st = h->live.next; st != &h->live; st = st->next) {
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
			body_end(h, st);
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

/* An API call queued output: the read or pump on the stack sends it, or
 * the kick does, once per turn. */
static void want_send(struct coil_h2 *h)
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
		end(h, h->end_err ? h->end_err : ng_err((int)rv));
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

/* ---- nghttp2 callbacks ----------------------------------------------------
 */

static int ctl_frame(struct coil_h2 *h)
{
	uint64_t now = coil_now(h->s->loop);
	if (now - h->ctl_sec >= SEC_NS) {
		h->ctl_sec = now;
		h->ctl_n = 0;
	}
	if (++h->ctl_n > h->o.max_control_per_sec) {
		h->end_err = COIL_ELIMIT;
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int cb_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd,
			  void *ud)
{
	struct coil_h2 *h = ud;
	(void)ng;
	h->info.frames_in++;
	switch (hd->type) {
	case NGHTTP2_HEADERS:
	case NGHTTP2_PUSH_PROMISE:
		h->hb_frames = 1;
		break;
	case NGHTTP2_CONTINUATION:
		if (++h->hb_frames > h->o.max_header_frames) {
			h->end_err = COIL_ELIMIT;
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		break;
	case NGHTTP2_SETTINGS:
	case NGHTTP2_PING:
		if (hd->flags & NGHTTP2_FLAG_ACK)
			break;
		/* fall through */
	case NGHTTP2_RST_STREAM:
	case NGHTTP2_PRIORITY:
		return ctl_frame(h);
	}
	return 0;
}

static int cb_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
			    void *ud)
{
	struct coil_h2 *h = ud;
	h->hb_len = h->hf_n = 0;
	h->hb_list = 0;
	/* the block's fields all belong to this stream: one lookup for them
	 * (nghttp2's stream map), not one per field */
	h->hb_st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST && (h->st & H_SERVER)) {
		struct h2s *st = strm_new(h, NULL);
		if (!st)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		st->sid = f->hd.stream_id;
		h->info.streams_opened++;
		nghttp2_session_set_stream_user_data(ng, st->sid, st);
		h->hb_st = st;
	}
	return 0;
}

static int cb_header(nghttp2_session *ng, const nghttp2_frame *f,
		     const uint8_t *name, size_t nlen, const uint8_t *value,
		     size_t vlen, uint8_t flags, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2s *st = h->hb_st;
	size_t need;
	(void)ng;
	(void)f;
	(void)flags;

	if (!st || st->err)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	h->hb_list += nlen + vlen + 32;
	if (h->hb_list > h->o.max_header_list_bytes) {
		st->err = COIL_ELIMIT;
		st->code = NGHTTP2_INTERNAL_ERROR;
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	need = h->hb_len + nlen + vlen;
	if (need > h->hb_cap) {
		char *b = coil__grow(h->hb, &h->hb_cap, need, HB_MIN);
		if (!b)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		h->hb = b;
	}
	if (h->hf_n == h->hf_cap) {
		size_t cap = h->hf_cap * sizeof(*h->hf);
		void *b = coil__grow(h->hf, &cap, cap + sizeof(*h->hf),
				     16 * sizeof(*h->hf));
		if (!b)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		h->hf = b;
		h->hf_cap = cap / sizeof(*h->hf);
	}
	/* offsets now, pointers at delivery (hb may move) */
	h->hf[h->hf_n].name = (const char *)(uintptr_t)h->hb_len;
	h->hf[h->hf_n].name_len = nlen;
	memcpy(h->hb + h->hb_len, name, nlen);
	h->hb_len += nlen;
	h->hf[h->hf_n].value = (const char *)(uintptr_t)h->hb_len;
	h->hf[h->hf_n].value_len = vlen;
	memcpy(h->hb + h->hb_len, value, vlen);
	h->hb_len += vlen;
	h->hf_n++;
	return 0;
}

static void deliver_head(struct coil_h2 *h, const nghttp2_frame *f)
{
	struct h2s *st = h->hb_st;
	unsigned flags = 0;

	if (!st || st->err || !h->hd->on_head || (h->st & H_CLOSING))
		return;
	for (size_t i = 0; i < h->hf_n; i++) {
		h->hf[i].name = h->hb + (uintptr_t)h->hf[i].name;
		h->hf[i].value = h->hb + (uintptr_t)h->hf[i].value;
	}
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		flags |= COIL_H2_END_STREAM;
	if (f->headers.cat == NGHTTP2_HCAT_HEADERS && h->hf_n &&
	    h->hf[0].name[0] != ':')
		flags |= COIL_H2_TRAILERS;
	h->hd->on_head(h, f->hd.stream_id, st->sdata, h->hf, (unsigned)h->hf_n,
		       flags);
	h->hf_n = h->hb_len = 0;
}

static int cb_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2s *st;

	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		deliver_head(h, f);
		break;
	case NGHTTP2_DATA:
		/* the peer's body ended (END_STREAM): on_data with 0 bytes,
		 * which a server needs before it answers a whole body */
		if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
		    !h->hd->on_data || (h->st & H_CLOSING))
			break;
		st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
		if (st && !st->err)
			h->hd->on_data(h, f->hd.stream_id, st->sdata, NULL, 0);
		break;
	case NGHTTP2_RST_STREAM:
		h->info.resets_received++;
		st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
		if (st && !st->err) {
			st->err = COIL_EH2_RESET;
			st->code = f->rst_stream.error_code;
		}
		break;
	case NGHTTP2_GOAWAY:
		h->info.goaway_received = 1;
		h->info.goaway_code = f->goaway.error_code;
		h->info.goaway_last_sid = f->goaway.last_stream_id;
		if (f->goaway.error_code != NGHTTP2_NO_ERROR && !h->end_err)
			h->end_err = COIL_EH2_GOAWAY;
		break;
	case NGHTTP2_SETTINGS:
		if (f->hd.flags & NGHTTP2_FLAG_ACK)
			break;
		h->info.peer_max_streams = nghttp2_session_get_remote_settings(
			ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
		h->info.peer_window_bytes = nghttp2_session_get_remote_settings(
			ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
		h->info.peer_max_frame = nghttp2_session_get_remote_settings(
			ng, NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
		h->got_settings = 1;
		if (h->hd->on_settings && !(h->st & H_CLOSING))
			h->hd->on_settings(h);
		break;
	}
	return 0;
}

static int cb_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t sid,
			 const uint8_t *data, size_t len, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2s *st;
	(void)flags;

	/* nothing to count against and no one to hand it to (a load
	 * generator): no stream lookup */
	if (!h->o.max_body_bytes && !h->hd->on_data)
		return 0;
	st = nghttp2_session_get_stream_user_data(ng, sid);
	if (!st || st->err)
		return 0;
	st->rx_bytes += len;
	if (h->o.max_body_bytes && st->rx_bytes > h->o.max_body_bytes) {
		st->err = COIL_ELIMIT;
		st->code = NGHTTP2_CANCEL;
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, sid,
					  NGHTTP2_CANCEL);
		return 0;
	}
	if (h->hd->on_data && !(h->st & H_CLOSING))
		h->hd->on_data(h, sid, st->sdata, data, len);
	return 0;
}

static int cb_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct coil_h2 *h = ud;
	(void)ng;
	h->info.frames_out++;
	if (f->hd.type == NGHTTP2_GOAWAY &&
	    f->goaway.error_code != NGHTTP2_NO_ERROR && !h->end_err)
		h->end_err = COIL_EH2;
	return 0;
}

static int cb_not_send(nghttp2_session *ng, const nghttp2_frame *f,
		       int lib_error, void *ud)
{
	struct h2s *st;
	(void)ud;
	/* a stream that could not start: after GOAWAY, or out of ids */
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (st && !st->err)
		st->err = lib_error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED
				  ? COIL_EH2_GOAWAY
				  : ng_err(lib_error);
	return 0;
}

static int cb_stream_close(nghttp2_session *ng, int32_t sid, uint32_t code,
			   void *ud)
{
	struct coil_h2 *h = ud;
	struct h2s *st = nghttp2_session_get_stream_user_data(ng, sid);
	void *sdata;
	int err;

	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(ng, sid, NULL);
	if (h->st & H_CLOSING)
		return 0; /* on_close(-ECANCELED) at the close's end */
	err = st->err;
	if (err)
		code = st->code ? st->code : code;
	else if (code == NGHTTP2_REFUSED_STREAM && h->info.goaway_received &&
		 sid > h->info.goaway_last_sid)
		err = COIL_EH2_GOAWAY;
	else if (code != NGHTTP2_NO_ERROR)
		err = COIL_EH2;
	sdata = st->sdata;
	strm_free(h, st);
	h->hd->on_close(h, sid, sdata, err, code);
	return 0;
}

/* the data provider: a buffer, or the caller's read() */
static ssize_t cb_body_read(nghttp2_session *ng, int32_t sid, uint8_t *buf,
			    size_t cap, uint32_t *dflags,
			    nghttp2_data_source *src, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2s *st = src->ptr;
	ssize_t n;
	(void)ng;

	if (st->body.read) {
		n = st->body.read(h, sid, st->sdata, buf, cap);
		if (n == -EAGAIN) {
			st->deferred = 1;
			return NGHTTP2_ERR_DEFERRED;
		}
		if (n < 0) {
			st->err = (int)n;
			st->code = NGHTTP2_INTERNAL_ERROR;
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		if ((size_t)n > cap)
			n = (ssize_t)cap;
	} else {
		size_t left = st->body.len - st->body_off;
		n = (ssize_t)(left < cap ? left : cap);
		if (n)
			memcpy(buf, (const char *)st->body.buf + st->body_off,
			       (size_t)n);
		st->body_off += (size_t)n;
		if (st->body_off < st->body.len)
			return n;
	}
	if (n == 0 || !st->body.read) {
		*dflags |= NGHTTP2_DATA_FLAG_EOF;
		body_end(h, st);
	}
	return n;
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

static int make_session(struct coil_h2 *h, int server)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	int rv;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cbs);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_on_begin_frame_callback(cbs,
							      cb_begin_frame);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cbs, cb_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     cb_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cbs, cb_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
							     cb_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs,
								 cb_not_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
							       cb_stream_close);
	/* the CONTINUATION limit is ours (max_header_frames, COIL_ELIMIT);
	 * nghttp2's own (Debian's fix for CVE-2024-28182) one frame later
	 * stays as a second fence */
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_continuations(opt, h->o.max_header_frames);
	if (server)
		rv = nghttp2_session_server_new2(&h->ng, cbs, h, opt);
	else
		rv = nghttp2_session_client_new3(&h->ng, cbs, h, opt,
						 &h->mem.ng);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	if (rv)
		return -ENOMEM;
	return 0;
}

static int send_settings(struct coil_h2 *h, int server)
{
	nghttp2_settings_entry iv[6];
	size_t n = 0;
	int rv;

	iv[n].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[n++].value = server ? h->o.max_concurrent_streams : 0;
	iv[n].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[n++].value = h->o.stream_window_bytes;
	iv[n].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[n++].value = h->o.max_header_list_bytes;
	if (h->o.header_table_bytes != NGHTTP2_DEFAULT_HEADER_TABLE_SIZE) {
		iv[n].settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
		iv[n++].value = h->o.header_table_bytes;
	}
	if (!server) {
		iv[n].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
		iv[n++].value = 0;
		/* a client has nothing to prioritise (no push, its DATA
		 * only request bodies): RFC 9218 §2.1 says so to the peer,
		 * and nghttp2 then keeps no RFC 7540 dependency tree, whose
		 * upkeep was a share of every stream's open and close */
		iv[n].settings_id = NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES;
		iv[n++].value = 1;
	}
	rv = nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, n);
	if (!rv)
		rv = nghttp2_session_set_local_window_size(
			h->ng, NGHTTP2_FLAG_NONE, 0,
			(int32_t)h->o.conn_window_bytes);
	return rv ? ng_err(rv) : 0;
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
	if ((ret = make_session(h, server)) < 0 ||
	    (ret = send_settings(h, server)) < 0)
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
	want_send(h);
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

/* ---- using -----------------------------------------------------------------
 */

/* nghttp2's name-value array for @fields: on the stack up to 64 */
static nghttp2_nv *to_nv(const struct coil_http_header *f, unsigned n,
			 nghttp2_nv *stack, unsigned nstack)
{
	nghttp2_nv *nv = n <= nstack ? stack : malloc(n * sizeof(*nv));
	if (!nv)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		nv[i].name = (uint8_t *)(uintptr_t)f[i].name;
		nv[i].namelen = f[i].name_len;
		nv[i].value = (uint8_t *)(uintptr_t)f[i].value;
		nv[i].valuelen = f[i].value_len;
		nv[i].flags = NGHTTP2_NV_FLAG_NONE;
	}
	return nv;
}

static void body_set(struct coil_h2 *h, struct h2s *st,
		     const struct coil_h2_body *body,
		     nghttp2_data_provider *prd)
{
	st->body = *body;
	st->body_off = 0;
	if (!st->has_body)
		h->nbody++;
	st->has_body = 1;
	prd->source.ptr = st;
	prd->read_callback = cb_body_read;
}

int32_t coil_h2_request(struct coil_h2 *h,
			const struct coil_http_header *fields, unsigned n,
			const struct coil_h2_body *body, void *sdata)
{
	nghttp2_nv stack[64], *nv;
	nghttp2_data_provider prd;
	struct h2s *st;
	int32_t sid;

	if (!h || !fields || !n || (h->st & H_SERVER))
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (h->info.goaway_received)
		return COIL_EH2_GOAWAY;
	if (!(nv = to_nv(fields, n, stack, 64)))
		return -ENOMEM;
	if (!(st = strm_new(h, sdata))) {
		if (nv != stack)
			free(nv);
		return -ENOMEM;
	}
	if (body)
		body_set(h, st, body, &prd);
	sid = nghttp2_submit_request(h->ng, NULL, nv, n, body ? &prd : NULL,
				     st);
	if (nv != stack)
		free(nv);
	if (sid < 0) {
		strm_free(h, st);
		return ng_err(sid);
	}
	st->sid = sid;
	h->info.streams_opened++;
	want_send(h);
	return sid;
}

int coil_h2_respond(struct coil_h2 *h, int32_t sid,
		    const struct coil_http_header *fields, unsigned n,
		    const struct coil_h2_body *body)
{
	nghttp2_nv stack[64], *nv;
	nghttp2_data_provider prd;
	struct h2s *st;
	int rv;

	if (!h || !fields || !n || !(h->st & H_SERVER))
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = strm_get(h, sid)))
		return -ENOENT;
	if (!(nv = to_nv(fields, n, stack, 64)))
		return -ENOMEM;
	if (body)
		body_set(h, st, body, &prd);
	rv = nghttp2_submit_response(h->ng, sid, nv, n, body ? &prd : NULL);
	if (nv != stack)
		free(nv);
	if (rv)
		return rv == NGHTTP2_ERR_INVALID_ARGUMENT ? -ENOENT
							  : ng_err(rv);
	want_send(h);
	return 0;
}

int coil_h2_resume(struct coil_h2 *h, int32_t sid)
{
	struct h2s *st;
	if (!h)
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = strm_get(h, sid)) || !st->deferred)
		return -ENOENT;
	st->deferred = 0;
	if (nghttp2_session_resume_data(h->ng, sid))
		return -ENOENT;
	want_send(h);
	return 0;
}

int coil_h2_reset(struct coil_h2 *h, int32_t sid, uint32_t code)
{
	struct h2s *st;
	if (!h)
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = strm_get(h, sid)))
		return -ENOENT;
	if (!st->err) {
		st->err = -ECANCELED;
		st->code = code;
	}
	body_end(h, st);
	if (nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, sid, code))
		return -ENOENT;
	want_send(h);
	return 0;
}

int coil_h2_shutdown(struct coil_h2 *h)
{
	int32_t last;
	if (!h)
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	last = (h->st & H_SERVER)
		       ? nghttp2_session_get_last_proc_stream_id(h->ng)
		       : 0;
	if (nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, last,
				  NGHTTP2_NO_ERROR, NULL, 0))
		return COIL_ECLOSED;
	want_send(h);
	return 0;
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

uint32_t coil_h2_room(const struct coil_h2 *h)
{
	uint32_t max, open;
	if (!h || !h->ng || (h->st & (H_ENDED | H_CLOSING | H_SERVER)) ||
	    h->info.goaway_received)
		return 0;
	/* before the peer's SETTINGS, nghttp2's own assumption (100) */
	max = h->got_settings ? h->info.peer_max_streams : 100;
	open = (uint32_t)h->nlive;
	return open < max ? max - open : 0;
}

int coil_h2_set_stream_data(struct coil_h2 *h, int32_t sid, void *sdata)
{
	struct h2s *st;
	if (!h)
		return -EINVAL;
	if (!(st = strm_get(h, sid)))
		return -ENOENT;
	st->sdata = sdata;
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

const char *coil_h2_strcode(uint32_t code)
{
	static const char *const names[] = {"NO_ERROR",
					    "PROTOCOL_ERROR",
					    "INTERNAL_ERROR",
					    "FLOW_CONTROL_ERROR",
					    "SETTINGS_TIMEOUT",
					    "STREAM_CLOSED",
					    "FRAME_SIZE_ERROR",
					    "REFUSED_STREAM",
					    "CANCEL",
					    "COMPRESSION_ERROR",
					    "CONNECT_ERROR",
					    "ENHANCE_YOUR_CALM",
					    "INADEQUATE_SECURITY",
					    "HTTP_1_1_REQUIRED"};
	return code < sizeof(names) / sizeof(names[0]) ? names[code]
						       : "UNKNOWN";
}
