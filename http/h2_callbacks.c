/*
 * http/h2_callbacks.c - nghttp2's side of an HTTP/2 session: the
 * nghttp2 session made with our callbacks, limits and SETTINGS, and the
 * callbacks. They run inside http/h2.c's nghttp2_session_mem_recv() and
 * _mem_send(), so they only record (a stream's error, the session's
 * end_err, the counters) and hand the handler what came; the pump that
 * called nghttp2 acts on it after. Limits nghttp2 does not enforce are
 * checked here: the header list (§6.5.2) and DATA past max_body_bytes
 * reset the stream, a CONTINUATION or control-frame flood ends the
 * session.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/grow.h"
#include "h2_internal.h"

#define HB_MIN 1024u

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
		struct h2_rec *st = coil__h2_strm_new(h, NULL);
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
	struct h2_rec *st = h->hb_st;
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
	struct h2_rec *st = h->hb_st;
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
	struct h2_rec *st;

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
	struct h2_rec *st;
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
		coil__h2_rst(h, st, NGHTTP2_CANCEL);
		return 0;
	}
	if (h->hd->on_data && !(h->st & H_CLOSING))
		h->hd->on_data(h, sid, st->sdata, data, len);
	return 0;
}

static int cb_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2_rec *st;
	h->info.frames_out++;
	if (f->hd.type == NGHTTP2_HEADERS && (h->st & H_SERVER) &&
	    (st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)) &&
	    st->head_queued)
		coil__h2_head_sent(h, st);
	if (f->hd.type == NGHTTP2_GOAWAY &&
	    f->goaway.error_code != NGHTTP2_NO_ERROR && !h->end_err)
		h->end_err = COIL_EH2;
	return 0;
}

static int cb_not_send(nghttp2_session *ng, const nghttp2_frame *f,
		       int lib_error, void *ud)
{
	struct h2_rec *st;
	/* a stream that could not start: after GOAWAY, or out of ids; a
	 * response that could not go: a reset held for it goes now */
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (st && st->head_queued)
		coil__h2_head_sent(ud, st);
	if (st && !st->err)
		st->err = lib_error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED
				  ? COIL_EH2_GOAWAY
				  : coil__h2_ng_err(lib_error);
	return 0;
}

static int cb_stream_close(nghttp2_session *ng, int32_t sid, uint32_t code,
			   void *ud)
{
	struct coil_h2 *h = ud;
	struct h2_rec *st = nghttp2_session_get_stream_user_data(ng, sid);
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
	coil__h2_strm_free(h, st);
	h->hd->on_close(h, sid, sdata, err, code);
	return 0;
}

/* the data provider: a buffer, or the caller's read() */
static ssize_t cb_body_read(nghttp2_session *ng, int32_t sid, uint8_t *buf,
			    size_t cap, uint32_t *dflags,
			    nghttp2_data_source *src, void *ud)
{
	struct coil_h2 *h = ud;
	struct h2_rec *st = src->ptr;
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
		coil__h2_body_end(h, st);
	}
	return n;
}

/* ---- the session and our SETTINGS ------------------------------------------
 */

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
	return rv ? coil__h2_ng_err(rv) : 0;
}

int coil__h2_session_new(struct coil_h2 *h, int server)
{
	int ret = make_session(h, server);

	return ret < 0 ? ret : send_settings(h, server);
}

void coil__h2_body_set(struct coil_h2 *h, struct h2_rec *st,
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
