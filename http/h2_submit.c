/*
 * http/h2_submit.c - the calls on an HTTP/2 session's streams
 * (coil/http_h2.h): a client's requests, a server's responses, a
 * deferred body resumed, a stream reset, the session's GOAWAY, and what
 * the caller reads back (room for streams, a stream's data, the names of
 * error codes). Each queues its frames in nghttp2 and asks http/h2.c for
 * a send (coil__h2_want_send()): the pump sends them from the loop, never
 * inline (docs/ARCHITECTURE.md, "The kick and the pump").
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2_internal.h"

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

int32_t coil_h2_request(struct coil_h2 *h,
			const struct coil_http_header *fields, unsigned n,
			const struct coil_h2_body *body, void *sdata)
{
	nghttp2_nv stack[64], *nv;
	nghttp2_data_provider prd;
	struct h2_rec *st;
	int32_t sid;

	if (!h || !fields || !n || (h->st & H_SERVER))
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (h->info.goaway_received)
		return COIL_EH2_GOAWAY;
	if (!(nv = to_nv(fields, n, stack, 64)))
		return -ENOMEM;
	if (!(st = coil__h2_strm_new(h, sdata))) {
		if (nv != stack)
			free(nv);
		return -ENOMEM;
	}
	if (body)
		coil__h2_body_set(h, st, body, &prd);
	sid = nghttp2_submit_request(h->ng, NULL, nv, n, body ? &prd : NULL,
				     st);
	if (nv != stack)
		free(nv);
	if (sid < 0) {
		coil__h2_strm_free(h, st);
		return coil__h2_ng_err(sid);
	}
	st->sid = sid;
	h->info.streams_opened++;
	coil__h2_want_send(h);
	return sid;
}

int coil_h2_respond(struct coil_h2 *h, int32_t sid,
		    const struct coil_http_header *fields, unsigned n,
		    const struct coil_h2_body *body)
{
	nghttp2_nv stack[64], *nv;
	nghttp2_data_provider prd;
	struct h2_rec *st;
	int rv;

	if (!h || !fields || !n || !(h->st & H_SERVER))
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = coil__h2_strm_get(h, sid)))
		return -ENOENT;
	if (!(nv = to_nv(fields, n, stack, 64)))
		return -ENOMEM;
	if (body)
		coil__h2_body_set(h, st, body, &prd);
	rv = nghttp2_submit_response(h->ng, sid, nv, n, body ? &prd : NULL);
	if (nv != stack)
		free(nv);
	if (rv)
		return rv == NGHTTP2_ERR_INVALID_ARGUMENT ? -ENOENT
							  : coil__h2_ng_err(rv);
	st->head_queued = 1; /* a reset waits for it: coil__h2_rst() */
	coil__h2_want_send(h);
	return 0;
}

int coil_h2_resume(struct coil_h2 *h, int32_t sid)
{
	struct h2_rec *st;
	if (!h)
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = coil__h2_strm_get(h, sid)) || !st->deferred)
		return -ENOENT;
	st->deferred = 0;
	if (nghttp2_session_resume_data(h->ng, sid))
		return -ENOENT;
	coil__h2_want_send(h);
	return 0;
}

int coil_h2_reset(struct coil_h2 *h, int32_t sid, uint32_t code)
{
	struct h2_rec *st;
	if (!h)
		return -EINVAL;
	if (h->st & (H_ENDED | H_CLOSING))
		return COIL_ECLOSED;
	if (!(st = coil__h2_strm_get(h, sid)))
		return -ENOENT;
	if (!st->err) {
		st->err = -ECANCELED;
		st->code = code;
	}
	coil__h2_body_end(h, st);
	if (coil__h2_rst(h, st, code))
		return -ENOENT;
	coil__h2_want_send(h);
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
	coil__h2_want_send(h);
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
	struct h2_rec *st;
	if (!h)
		return -EINVAL;
	if (!(st = coil__h2_strm_get(h, sid)))
		return -ENOENT;
	st->sdata = sdata;
	return 0;
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
