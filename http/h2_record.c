/*
 * http/h2_record.c - an HTTP/2 session's stream records (struct h2_rec):
 * one per open stream, on the session's list of live ones, recycled
 * through a free list so that a busy session allocates nothing per
 * request; and nghttp2's error codes as coil's. Calls nothing above it
 * (http/h2_internal.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2_internal.h"

struct h2_rec *coil__h2_strm_new(struct coil_h2 *h, void *sdata)
{
	struct h2_rec *st = h->spare;
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

void coil__h2_body_end(struct coil_h2 *h, struct h2_rec *st)
{
	if (st->has_body) {
		st->has_body = 0;
		h->nbody--;
	}
}

void coil__h2_strm_free(struct coil_h2 *h, struct h2_rec *st)
{
	coil__h2_body_end(h, st);
	if (h->hb_st == st)
		h->hb_st = NULL;
	st->prev->next = st->next;
	st->next->prev = st->prev;
	h->nlive--;
	st->next = h->spare;
	h->spare = st;
}

struct h2_rec *coil__h2_strm_get(struct coil_h2 *h, int32_t sid)
{
	if (!h->ng || (h->st & (H_ENDED | H_CLOSING)))
		return NULL;
	return nghttp2_session_get_stream_user_data(h->ng, sid);
}

void coil__h2_strm_end_all(struct coil_h2 *h, int err)
{
	while (h->live.next != &h->live) {
		struct h2_rec *st = h->live.next;
		int32_t sid = st->sid;
		void *sdata = st->sdata;
		if (h->ng && sid > 0)
			nghttp2_session_set_stream_user_data(h->ng, sid, NULL);
		coil__h2_strm_free(h, st);
		h->hd->on_close(h, sid, sdata, err, 0);
	}
}

int coil__h2_ng_err(int rv)
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

/*
 * nghttp2 marks a stream closing as soon as a RST_STREAM is submitted, and
 * then drops a response HEADERS still in its queue
 * (session_predicate_response_headers_send(): STREAM_CLOSING): a
 * handler that began its answer and aborted it in the same turn (a
 * request body that crossed the limit) had the client see the reset and
 * no answer. The reset waits for the HEADERS instead: RFC 9113 §8.1 lets
 * a server answer before the request is complete and reset the stream
 * after; the client must see the answer first. nghttp2's RST_STREAM goes
 * ahead of the stream's DATA, so the body the provider would still give
 * is not sent after the head (the answer was aborted: the client sees a
 * truncated message, §8.1.1).
 */
int coil__h2_rst(struct coil_h2 *h, struct h2_rec *st, uint32_t code)
{
	if (st->head_queued) {
		st->rst_due = 1;
		st->rst_code = code;
		return 0;
	}
	return nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->sid,
					 code);
}

void coil__h2_head_sent(struct coil_h2 *h, struct h2_rec *st)
{
	st->head_queued = 0;
	if (!st->rst_due)
		return;
	st->rst_due = 0;
	/* from nghttp2's on_frame_send callback: queued behind the HEADERS
	 * just sent, ahead of the DATA they attach (nghttp2_submit_data()
	 * in session_after_frame_sent1(), sent from the queue after the
	 * RST_STREAM) */
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->sid,
				  st->rst_code);
}
