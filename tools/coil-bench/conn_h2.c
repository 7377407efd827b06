/*
 * tools/coil-bench/conn_h2.c - a generator connection over HTTP/2
 * (--http2): the session (coil/http_h2.h) on the connection's stream
 * once TLS chose "h2" by ALPN or, for http://, at once (prior
 * knowledge, h2c); each request taken from the model becomes a stream,
 * up to --max-streams and the server's MAX_CONCURRENT_STREAMS; each
 * stream's end is its response (latency from the receive time of the
 * read that ended it) or its error by class (h2-reset with the
 * RST_STREAM code, goaway, flow-control, ...).
 *
 * conn.c calls in through the table cb_h2_proto (registered by gen.c in
 * g->h2); this file calls conn.c's cb_conn_*() like the rest of the
 * generator. The requests are the HTTP/1.1 bytes the run built (the
 * target's, or a script's), turned once into HTTP/2 fields (RFC 9113
 * §8.3.1: :method, :scheme, :authority from Host, :path; names in lower
 * case, connection-specific fields dropped, §8.2.2). Streams end in any
 * order: the slot that ends trades places with the ring's head, so the
 * ring's first `count - unsent` slots stay the ones in flight.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gen_internal.h"

/* one request as HTTP/2 fields */
struct cb_h2req {
	struct coil_http_header *f;
	unsigned n;
	char *names; /* the lower-case names */
	struct coil_h2_body body;
	int has_body;
};

static int dropped(const struct coil_http_header *h)
{
	static const char *const names[] = {"host",
					    "connection",
					    "keep-alive",
					    "proxy-connection",
					    "transfer-encoding",
					    "upgrade"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (h->name_len == strlen(names[i]) &&
		    !strncasecmp(h->name, names[i], h->name_len))
			return 1;
	return 0;
}

static void req_free(struct cb_h2req *r)
{
	free(r->f);
	free(r->names);
	memset(r, 0, sizeof(*r));
}

/* Turn the HTTP/1.1 request at @p into fields; they point into @p, which
 * must outlive them. 0, COIL_EPARSE or -ENOMEM. */
static int req_build(struct cb_h2req *r, const char *p, size_t len, int https)
{
	struct coil_http_header hs[MAX_HEADERS];
	struct coil_http_msg m;
	const struct coil_http_header *host;
	size_t names = 0;
	unsigned n = 4;
	char *np;
	int head;

	req_free(r);
	coil_http_msg_init(&m, hs, MAX_HEADERS);
	head = coil_http_parse_request(&m, p, len);
	if (head <= 0)
		return head < 0 ? head : COIL_EPARSE;
	host = coil_http_header_find(&m, "host", NULL);
	for (unsigned i = 0; i < m.nheaders; i++)
		names += hs[i].name_len;
	r->f = calloc(4 + m.nheaders, sizeof(*r->f));
	r->names = malloc(names ? names : 1);
	if (!r->f || !r->names) {
		req_free(r);
		return -ENOMEM;
	}
	r->f[0] =
		(struct coil_http_header){":method", 7, m.method, m.method_len};
	r->f[1] = (struct coil_http_header){
		":scheme", 7, https ? "https" : "http", https ? 5u : 4u};
	r->f[2] = (struct coil_http_header){":authority", 10,
					    host ? host->value : "",
					    host ? host->value_len : 0};
	r->f[3] = (struct coil_http_header){":path", 5, m.target, m.target_len};
	np = r->names;
	for (unsigned i = 0; i < m.nheaders; i++) {
		if (dropped(&hs[i]))
			continue;
		for (size_t k = 0; k < hs[i].name_len; k++)
			np[k] = (char)(hs[i].name[k] >= 'A' &&
						       hs[i].name[k] <= 'Z'
					       ? hs[i].name[k] + 32
					       : hs[i].name[k]);
		r->f[n] = hs[i];
		r->f[n].name = np;
		np += hs[i].name_len;
		n++;
	}
	r->n = n;
	if (m.body == COIL_HTTP_BODY_LENGTH && m.content_length) {
		r->body.buf = p + head;
		r->body.len = (size_t)m.content_length;
		r->has_body = 1;
	}
	return 0;
}

/* ---- the session's callbacks -----------------------------------------------
 */

static void on_head(struct coil_h2 *h, int32_t sid, void *sdata,
		    const struct coil_http_header *f, unsigned n,
		    unsigned flags)
{
	struct cb_slot *sl = sdata;
	(void)h;
	(void)sid;
	(void)flags;
	if (sl && n && f[0].name_len == 7 && !memcmp(f[0].name, ":status", 7)) {
		unsigned st = 0;
		for (size_t i = 0; i < f[0].value_len && i < 3; i++)
			st = st * 10 + (unsigned)(f[0].value[i] - '0');
		if (st >= 200)
			sl->status = (uint16_t)st;
	}
}

/* the stream's traffic since the last look, for the measured period */
static void count_bytes(struct cb_conn *c)
{
	struct cb_gen *g = c->g;
	const struct coil_stream_stats s = coil_stream_stats(c->s);
	if (measured(g, coil_now(g->loop))) {
		g->th->r.bytes_read += s.bytes_in - c->h2_in;
		g->th->r.bytes_written += s.bytes_out - c->h2_out;
	}
	c->h2_in = s.bytes_in;
	c->h2_out = s.bytes_out;
}

static enum cb_err_class err_class(int err)
{
	switch (err) {
	case COIL_EH2_RESET:
		return CB_ERR_H2_RESET;
	case COIL_EH2_GOAWAY:
		return CB_ERR_GOAWAY;
	case COIL_EH2_FLOW:
		return CB_ERR_FLOW;
	case -ETIMEDOUT:
		return CB_ERR_TIMEOUT;
	case -ECONNRESET:
	case -EPIPE:
	case COIL_ETRUNC:
		return CB_ERR_RESET;
	case COIL_EH2:
	case COIL_ELIMIT:
		return CB_ERR_PARSE;
	default:
		return CB_ERR_READ;
	}
}

/* The slot's stream ended: take it out of the ring (it trades places
 * with the head, whose stream learns its new slot). */
static void slot_done(struct cb_conn *c, struct cb_slot *sl)
{
	struct cb_gen *g = c->g;
	struct cb_slot *head = &c->ring[c->head];

	if (sl != head) {
		struct cb_slot tmp = *sl;
		*sl = *head;
		*head = tmp;
		coil_h2_set_stream_data(c->h2, sl->sid, sl);
	}
	c->head = (c->head + 1) % g->pipeline;
	c->count--;
}

static void on_close(struct coil_h2 *h, int32_t sid, void *sdata, int err,
		     uint32_t code)
{
	struct cb_conn *c = coil_h2_data(h);
	struct cb_gen *g = c->g;
	struct cb_slot *sl = sdata;
	(void)sid;

	/* a close of ours (cb_conn_fail() counted them already) */
	if (c->state != C_OPEN || !sl)
		return;
	count_bytes(c);
	if (!err && sl->status) {
		c->rx_ns = coil_stream_rx_time(c->s);
		cb_record(c, sl, sl->status);
		if (c->warming)
			cb_conn_warmed(c);
	} else {
		if (!err)
			err = COIL_EPARSE; /* ended without a final head */
		count_error(g, err_class(err),
			    err == COIL_EH2_RESET ? CB_H2_CODE(code) : err, 1);
	}
	slot_done(c, sl);
	/* after the server's GOAWAY nothing opens: the session ends once
	 * its streams did (on_end), and the unsent go on the next one */
	cb_conn_send_more(c);
}

static void on_end(struct coil_h2 *h, int err)
{
	struct cb_conn *c = coil_h2_data(h);
	/* the streams had their errors; an idle session that failed in a
	 * way other than the server's close counts once */
	if (c->state != C_OPEN)
		return;
	if (err && err != COIL_ETRUNC && err != -ECONNRESET) {
		cb_conn_fail(c, err_class(err), err);
		return;
	}
	cb_conn_close(c);
}

static void on_settings(struct coil_h2 *h)
{
	cb_conn_send_more(coil_h2_data(h));
}

static const struct coil_h2_handler handler = {
	.on_head = on_head,
	.on_close = on_close,
	.on_end = on_end,
	.on_settings = on_settings,
};

/* ---- the table conn.c calls ------------------------------------------------
 */

/* Start the session on c->s (connected; TLS done). 0 or an error. */
static int h2_start(struct cb_conn *c)
{
	struct coil_h2_opts o = {0};
	const struct coil_stream_stats s = coil_stream_stats(c->s);
	int ret;

	if (c->g->t->https) {
		const char *alpn = coil_tls_info(&c->tls)->alpn;
		if (strcmp(alpn, "h2"))
			return -EPROTONOSUPPORT; /* the server chose no h2 */
	}
	/* the HPACK table a client of the server would offer (nghttp2's
	 * and h2load's 4096) unless --header-table-size says otherwise: 0
	 * spares the decoder an insertion and an eviction per field that
	 * nginx marks for indexing and never refers to (5% of the samples)
	 * but changes what the server's encoder does and sends */
	if (c->g->o->header_table_set)
		o.header_table_bytes = c->g->o->header_table_bytes
					       ? c->g->o->header_table_bytes
					       : COIL_H2_TABLE_NONE;
	c->h2_in = s.bytes_in;
	c->h2_out = s.bytes_out;
	ret = coil_h2_client(c->s, &o, &handler, c, &c->h2);
	if (ret == 0)
		c->g->th->r.h2_sessions++;
	return ret;
}

/* Streams that may be opened now, beyond the ones not sent yet. */
static unsigned h2_room(const struct cb_conn *c)
{
	return c->h2 ? coil_h2_room(c->h2) : 0;
}

/* Open the slot's stream. 0; -EAGAIN with no room; or an error. */
static int h2_submit(struct cb_conn *c, struct cb_slot *sl)
{
	struct cb_gen *g = c->g;
	struct cb_h2req *r = &((struct cb_h2req *)g->h2reqs)[sl->url];
	int32_t sid;
	int ret;

	if (!c->h2 || !coil_h2_room(c->h2))
		return -EAGAIN;
	if (g->dynamic) { /* a script's request(): its own bytes */
		r = c->h2req;
		if (!r && !(r = c->h2req = calloc(1, sizeof(*r))))
			return -ENOMEM;
		if ((ret = req_build(r, sl->buf, sl->len, g->t->https)) < 0)
			return ret;
	}
	sl->status = 0;
	sid = coil_h2_request(c->h2, r->f, r->n, r->has_body ? &r->body : NULL,
			      sl);
	if (sid < 0)
		return sid;
	sl->sid = sid;
	return 0;
}

static void h2_closed(void *data)
{
	struct cb_conn *c = data;
	c->h2 = NULL;
	cb_conn_next(c, 0);
}

/* Close the session and its stream; cb_conn_next() follows. */
static int h2_close(struct cb_conn *c)
{
	if (!c->h2)
		return -ENOENT;
	count_bytes(c);
	return coil_h2_close(c->h2, h2_closed);
}

/* Build the thread's requests as fields (gen_setup()). */
static int h2_setup(struct cb_gen *g)
{
	struct cb_h2req *r;
	if (g->dynamic && g->n_reqs == 0)
		return 0;
	r = calloc(g->n_reqs, sizeof(*r));
	if (!r)
		return -ENOMEM;
	g->h2reqs = r;
	for (size_t i = 0; i < g->n_reqs; i++) {
		int ret;
		if (g->dynamic)
			continue; /* built per request */
		ret = req_build(&r[i], g->reqs + g->req_off[i], g->req_len[i],
				g->t->https);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void h2_free(struct cb_gen *g)
{
	struct cb_h2req *r = g->h2reqs;
	for (size_t i = 0; r && i < g->n_reqs; i++)
		req_free(&r[i]);
	free(r);
	g->h2reqs = NULL;
	for (unsigned i = 0; g->conns && i < g->n; i++) {
		if (g->conns[i].h2req)
			req_free(g->conns[i].h2req);
		free(g->conns[i].h2req);
	}
}

const struct cb_proto cb_h2_proto = {
	.setup = h2_setup,
	.free = h2_free,
	.start = h2_start,
	.room = h2_room,
	.submit = h2_submit,
	.close = h2_close,
};
