/*
 * http/h2_internal.h - what the files of the HTTP/2 session share: the
 * session (struct coil_h2), its stream records (struct h2_rec) and its flag
 * word. Private to http/; the public side is include/coil/http_h2.h.
 *
 * The files are layers, and calls run one way, down (docs/ARCHITECTURE.md,
 * "HTTP/2: a session over a stream"; tests/http/test_layers.c):
 *   h2_submit.c     the calls on streams: requests, responses, resumes,
 *                   resets, GOAWAY, and what the caller reads of them;
 *                   they queue work in nghttp2 and ask for a send.
 *   h2.c            the session: start, the kick and the pump (input fed
 *                   to nghttp2, its output gathered into one write), the
 *                   flow-control stall timer, the end, close and free.
 *   h2_callbacks.c  the nghttp2 session made with our SETTINGS, and
 *                   nghttp2's callbacks: the limits, the header block,
 *                   what the handler hears, the body's data provider;
 *                   they run inside h2.c's mem_recv()/mem_send() and
 *                   only record what the pump acts on (never call up).
 *   h2_record.c     the stream records and nghttp2's error codes.
 */
#ifndef COIL_HTTP_H2_INTERNAL_H
#define COIL_HTTP_H2_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>

#include "coil/http_h2.h"
#include "h2_mem.h"

#define SEC_NS 1000000000ull

/* session state bits (h->st) */
#define H_SERVER (1u << 0)
#define H_PUMPING (1u << 1) /* pump() is on the stack */
#define H_INRECV (1u << 2)  /* mem_recv() is on the stack: it pumps after */
#define H_ENDED (1u << 3)   /* on_end delivered (or due): no more I/O */
#define H_CLOSING (1u << 4) /* coil_h2_close() called */
#define H_SCLOSED (1u << 5) /* the stream's close callback ran */
#define H_WANT (1u << 6)    /* output may be pending */

/* one stream's record */
struct h2_rec {
	struct h2_rec *next, *prev; /* h->live, or the free list (next) */
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
	/* a response's HEADERS submitted and not sent yet, and a reset asked
	 * for meanwhile: it follows them (coil__h2_rst()) */
	int head_queued;
	int rst_due;
	uint32_t rst_code;
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
	struct h2_rec live;   /* list head of open streams */
	struct h2_rec *spare; /* free list */
	uint64_t nlive;
	uint64_t nbody; /* streams with a body still being sent */
	/* the header block being received */
	char *hb;
	size_t hb_len, hb_cap;
	struct coil_http_header *hf;
	size_t hf_n, hf_cap;
	uint64_t hb_list; /* §6.5.2 size so far */
	uint32_t hb_frames;
	struct h2_rec
		*hb_st; /* its stream's record (looked up once), or NULL */
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

/* ---- h2_record.c: stream records ---- */

/* A record for a new stream, on h->live (from the free list, else
 * malloc(3)); @sdata is the caller's. Return: it, or NULL (no memory). */
struct h2_rec *coil__h2_strm_new(struct coil_h2 *h, void *sdata);
/* Back to the free list (its body's count ended first). */
void coil__h2_strm_free(struct coil_h2 *h, struct h2_rec *st);
/* The record of stream @sid, or NULL (none, or the session ended or is
 * closing). */
struct h2_rec *coil__h2_strm_get(struct coil_h2 *h, int32_t sid);
/* Every stream still open ends with @err (the session is over): its
 * record freed, then the handler's on_close. */
void coil__h2_strm_end_all(struct coil_h2 *h, int err);
/* The stream's body is sent (or abandoned): h->nbody counts one less. */
void coil__h2_body_end(struct coil_h2 *h, struct h2_rec *st);
/* An nghttp2 error code as coil's: -ENOMEM, COIL_ELIMIT, else COIL_EH2. */
int coil__h2_ng_err(int rv);
/* RST_STREAM @code for @st: queued in nghttp2 now, or, while the stream's
 * response HEADERS wait in nghttp2's queue, once they are sent
 * (coil__h2_head_sent()). Return: 0; nghttp2's error. */
int coil__h2_rst(struct coil_h2 *h, struct h2_rec *st, uint32_t code);
/* @st's response HEADERS left (or will never leave): a reset held back
 * for them is queued now. */
void coil__h2_head_sent(struct coil_h2 *h, struct h2_rec *st);

/* ---- h2_callbacks.c: nghttp2's side ---- */

/* Make h->ng (a server's, or a client's on h->mem) with our callbacks and
 * limits, and queue our SETTINGS and connection window (RFC 9113 §6.5,
 * §6.9.2). Return: 0; -ENOMEM; coil__h2_ng_err()'s code (h->ng may be
 * set: the caller deletes it). */
int coil__h2_session_new(struct coil_h2 *h, int server);
/* @st sends @body: counted in h->nbody, and @prd made its data provider
 * for nghttp2_submit_request() / _response(). */
void coil__h2_body_set(struct coil_h2 *h, struct h2_rec *st,
		       const struct coil_h2_body *body,
		       nghttp2_data_provider *prd);

/* ---- h2.c: the session ---- */

/* An API call queued output: the read or pump on the stack sends it, or
 * the kick does, once per turn. */
void coil__h2_want_send(struct coil_h2 *h);

#endif
