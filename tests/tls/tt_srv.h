/*
 * tests/tls/tt_srv.h - a small TLS server on coil streams for the TLS
 * tests (beside tt.h, which it includes): a listener on 127.0.0.1 whose
 * connections echo, answer one HTTP request, truncate under TLS, sink or
 * send tt_byte() output (enum tt_mode), on the test's loop or on a loop
 * of its own in a thread (tt_srv_start_thread()).
 */
#ifndef COIL_TEST_TT_SRV_H
#define COIL_TEST_TT_SRV_H

#include "tt.h"

/* ---- a TLS server ---------------------------------------------------------
 */

enum tt_mode {
	TT_ECHO,  /* write back what comes; on EOF shut down, then close */
	TT_HTTP,  /* answer one request, shut down, close */
	TT_TRUNC, /* write tt_srv.trunc_bytes, then TCP FIN under TLS */
	TT_SINK,  /* count and check what comes; on EOF shut down, close */
	TT_SEND,  /* write tt_srv.send_bytes of tt_byte(seed), then close */
};

struct tt_srv;

struct tt_sconn {
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct tt_srv *srv;
	struct tt_sconn *next;
	int hs; /* 1 done, -1 failed */
	int hs_status;
	int closed;
	int eof;
	int err;
	size_t got;
	size_t bad;
	uint64_t hash;
	char req[4096];
	size_t req_len;
	int answered;
	struct coil_stream_write w, shut;
	unsigned char *out;
	size_t out_len;
	size_t sent; /* TT_SEND: bytes queued */
	struct coil_stream_write sw[4];
	unsigned char sbuf[4][65536];
};

struct tt_srv {
	struct coil_loop *loop;
	struct coil_listener l;
	struct coil_tls_config *cfg;
	unsigned short port;
	enum tt_mode mode;
	size_t trunc_bytes;
	size_t send_bytes;
	uint64_t seed;
	struct tt_sconn *conns;
	int accepted, open, hs_ok, hs_fail, resumed, eofs, truncs;
	int last_fail;
	char last_err[256];
	int listener_closed;
	/* threaded */
	pthread_t th;
	struct coil_op stop_op;
	volatile int stop;
	volatile int ready;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static inline struct tt_sconn *tt_sconn_of(struct coil_stream *s)
{
	return coil_container_of(s, struct tt_sconn, tls.s);
}

static inline void tt_sconn_closed(struct coil_stream *s)
{
	struct tt_sconn *sc = tt_sconn_of(s);
	sc->closed = 1;
	sc->srv->open--;
}

static inline void tt_sconn_close(struct tt_sconn *sc)
{
	if (!sc->closed && !(sc->tls.s.flags & COIL_STREAM_CLOSING))
		coil_stream_close(&sc->tls.s, tt_sconn_closed);
}

static inline void tt_sconn_shut_done(struct coil_stream_write *w, int status)
{
	struct tt_sconn *sc = w->data;
	(void)status;
	tt_sconn_close(sc);
}

static inline void tt_sconn_shutdown(struct tt_sconn *sc)
{
	memset(&sc->shut, 0, sizeof(sc->shut));
	sc->shut.data = sc;
	if (coil_stream_shutdown(&sc->tls.s, &sc->shut, tt_sconn_shut_done) < 0)
		tt_sconn_close(sc);
}

struct tt_echo {
	struct coil_stream_write w;
	unsigned char data[];
};

static inline void tt_echo_done(struct coil_stream_write *w, int status)
{
	(void)status;
	free(w->data);
}

static inline void tt_send_more(struct tt_sconn *sc);

static inline void tt_send_done(struct coil_stream_write *w, int status)
{
	struct tt_sconn *sc = w->data;
	if (status < 0) {
		sc->err = status;
		return;
	}
	tt_send_more(sc);
}

static inline void tt_send_more(struct tt_sconn *sc)
{
	struct tt_srv *srv = sc->srv;
	for (int i = 0; i < 4 && sc->sent < srv->send_bytes; i++) {
		size_t n = srv->send_bytes - sc->sent;
		if (sc->sw[i].flags & COIL_STREAM_W_QUEUED)
			continue;
		if (n > sizeof(sc->sbuf[i]))
			n = sizeof(sc->sbuf[i]);
		tt_fill(sc->sbuf[i], n, srv->seed, sc->sent);
		sc->sw[i].data = sc;
		if (coil_stream_write(&sc->tls.s, &sc->sw[i], sc->sbuf[i], n,
				      tt_send_done) < 0)
			return;
		sc->sent += n;
	}
	if (sc->sent >= srv->send_bytes) {
		int busy = 0;
		for (int i = 0; i < 4; i++)
			busy |= (sc->sw[i].flags & COIL_STREAM_W_QUEUED) != 0;
		if (!busy)
			tt_sconn_shutdown(sc);
	}
}

static inline void tt_http_answer(struct tt_sconn *sc)
{
	struct coil_tls *t = &sc->tls;
	char body[256];
	int blen = snprintf(body, sizeof(body),
			    "hello from coil tls: %s %s alpn=%s resumed=%d\n",
			    coil_tls_info(t)->version, coil_tls_info(t)->cipher,
			    coil_tls_info(t)->alpn, coil_tls_info(t)->resumed);
	char *out = NULL;
	int n = asprintf(&out,
			 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			 blen, body);
	assert_true(n > 0);
	sc->out = (unsigned char *)out;
	sc->out_len = (size_t)n;
	sc->answered = 1;
	memset(&sc->w, 0, sizeof(sc->w));
	if (coil_stream_write(&t->s, &sc->w, sc->out, sc->out_len, NULL) < 0) {
		tt_sconn_close(sc);
		return;
	}
	tt_sconn_shutdown(sc);
}

static inline void tt_sconn_read(struct coil_stream *s, ssize_t n,
				 const void *buf)
{
	struct tt_sconn *sc = tt_sconn_of(s);
	struct tt_srv *srv = sc->srv;

	if (n > 0) {
		if (srv->mode == TT_SINK && srv->seed) {
			const unsigned char *b = buf;
			for (ssize_t k = 0; k < n; k++)
				sc->bad +=
					b[k] != tt_byte(srv->seed, sc->got + k);
		}
		sc->hash = tt_hash(sc->hash, buf, (size_t)n);
		sc->got += (size_t)n;
		if (srv->mode == TT_ECHO) {
			struct tt_echo *e = malloc(sizeof(*e) + (size_t)n);
			assert_non_null(e);
			memset(&e->w, 0, sizeof(e->w));
			e->w.data = e;
			memcpy(e->data, buf, (size_t)n);
			if (coil_stream_write(s, &e->w, e->data, (size_t)n,
					      tt_echo_done) < 0)
				free(e);
		} else if (srv->mode == TT_HTTP && !sc->answered) {
			size_t room = sizeof(sc->req) - 1 - sc->req_len;
			size_t k = (size_t)n < room ? (size_t)n : room;
			memcpy(sc->req + sc->req_len, buf, k);
			sc->req_len += k;
			sc->req[sc->req_len] = 0;
			if (strstr(sc->req, "\r\n\r\n"))
				tt_http_answer(sc);
		}
		return;
	}
	if (n == 0) {
		sc->eof = 1;
		srv->eofs++;
		if (srv->mode == TT_ECHO || srv->mode == TT_SINK)
			tt_sconn_shutdown(sc);
		else
			tt_sconn_close(sc);
		return;
	}
	sc->err = (int)n;
	if (n == COIL_ETRUNC)
		srv->truncs++;
	tt_sconn_close(sc);
}

static inline void tt_sconn_hs(struct coil_stream *s, int status)
{
	struct tt_sconn *sc = tt_sconn_of(s);
	struct tt_srv *srv = sc->srv;

	sc->hs_status = status;
	if (status < 0) {
		sc->hs = -1;
		srv->hs_fail++;
		srv->last_fail = status;
		snprintf(srv->last_err, sizeof(srv->last_err), "%s",
			 coil_tls_error(s));
		/* the lower stream is closed: the connection holds nothing
		 * (unless we closed it: then its close callback follows) */
		if (!(s->flags & COIL_STREAM_CLOSING)) {
			sc->closed = 1;
			srv->open--;
		}
		return;
	}
	sc->hs = 1;
	srv->hs_ok++;
	srv->resumed += coil_tls_info(&sc->tls)->resumed;
	if (srv->mode == TT_TRUNC) {
		static const char msg[] = "partial record then FIN";
		size_t n = srv->trunc_bytes ? srv->trunc_bytes : sizeof(msg);
		sc->out = malloc(n);
		assert_non_null(sc->out);
		memset(sc->out, 'x', n);
		memcpy(sc->out, msg, n < sizeof(msg) ? n : sizeof(msg));
		sc->out_len = n;
		memset(&sc->w, 0, sizeof(sc->w));
		sc->w.data = sc;
		assert_int_equal(coil_stream_write(s, &sc->w, sc->out, n, NULL),
				 0);
	}
	if (srv->mode == TT_SEND)
		tt_send_more(sc);
	else
		assert_int_equal(coil_stream_read_start(s, tt_sconn_read), 0);
}

/* TT_TRUNC: once the data is out, FIN under TLS (no close_notify). */
static inline void tt_srv_trunc_fin(struct tt_srv *srv)
{
	for (struct tt_sconn *sc = srv->conns; sc; sc = sc->next) {
		int fd = coil_stream_fd(&sc->tls.s);
		if (fd >= 0 && sc->hs == 1 && !(sc->w.flags & 1))
			shutdown(fd, SHUT_WR);
	}
}

static inline void tt_srv_conn(struct coil_listener *l, int fd)
{
	struct tt_srv *srv = l->data;
	struct tt_sconn *sc;
	if (fd < 0)
		return;
	sc = calloc(1, sizeof(*sc));
	assert_non_null(sc);
	sc->srv = srv;
	assert_int_equal(coil_tcp_open(srv->loop, &sc->tcp, fd, NULL), 0);
	assert_int_equal(coil_tls_open(&sc->tls, &sc->tcp.s, srv->cfg, NULL,
				       tt_sconn_hs),
			 0);
	sc->next = srv->conns;
	srv->conns = sc;
	srv->accepted++;
	srv->open++;
}

static inline void tt_srv_open(struct tt_srv *srv, struct coil_loop *loop,
			       struct coil_tls_config *cfg, enum tt_mode mode)
{
	struct sockaddr_in a = tu_addr(0);
	struct sockaddr_storage ss;
	socklen_t len;
	srv->loop = loop;
	srv->cfg = cfg;
	srv->mode = mode;
	srv->l.data = srv;
	assert_int_equal(coil_listener_open(loop, &srv->l,
					    (struct sockaddr *)&a, sizeof(a),
					    NULL, tt_srv_conn),
			 0);
	assert_int_equal(coil_listener_addr(&srv->l, &ss, &len), 0);
	srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static inline void tt_srv_listener_closed(struct coil_listener *l)
{
	struct tt_srv *srv = l->data;
	srv->listener_closed = 1;
}

/* Close the listener and every connection; free them. */
static inline void tt_srv_close(struct tt_srv *srv)
{
	assert_int_equal(coil_listener_close(&srv->l, tt_srv_listener_closed),
			 0);
	for (struct tt_sconn *sc = srv->conns; sc; sc = sc->next)
		tt_sconn_close(sc);
	TT_RUN_UNTIL(srv->loop, srv->listener_closed && srv->open == 0, 10000);
	assert_true(srv->listener_closed);
	assert_int_equal(srv->open, 0);
	while (srv->conns) {
		struct tt_sconn *sc = srv->conns;
		srv->conns = sc->next;
		free(sc->out);
		free(sc);
	}
}

/* ---- the server on a thread of its own (for outside clients) ---- */

static inline void tt_srv_stop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct tt_srv *srv = coil_container_of(op, struct tt_srv, stop_op);
	(void)res;
	(void)flags;
	srv->stop = 1;
}

static inline void *tt_srv_thread(void *arg)
{
	struct tt_srv *srv = arg;
	struct coil_loop *loop = tu_loop(NULL);
	coil_op_init(&srv->stop_op, tt_srv_stop_cb);
	coil_loop_expect(loop, &srv->stop_op);
	tt_srv_open(srv, loop, srv->cfg, srv->mode);
	pthread_mutex_lock(&srv->mu);
	srv->ready = 1;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
	while (!srv->stop)
		coil_loop_run(loop, COIL_RUN_ONCE);
	tt_srv_close(srv);
	for (int i = 0; i < 1000 && coil_loop_inflight(loop); i++)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_loop_free(loop);
	return NULL;
}

static inline void tt_srv_start_thread(struct tt_srv *srv,
				       struct coil_tls_config *cfg,
				       enum tt_mode mode)
{
	srv->cfg = cfg;
	srv->mode = mode;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	assert_int_equal(pthread_create(&srv->th, NULL, tt_srv_thread, srv), 0);
	pthread_mutex_lock(&srv->mu);
	while (!srv->ready)
		pthread_cond_wait(&srv->cv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
}

static inline void tt_srv_stop_thread(struct tt_srv *srv)
{
	assert_int_equal(coil_loop_post_remote(srv->loop, &srv->stop_op, 0), 0);
	pthread_join(srv->th, NULL);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
}

#endif
