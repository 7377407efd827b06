/*
 * tls/session.c - the TLS stream: an mbedTLS session driven by the lower
 * stream's completions.
 *
 * mbedTLS reads and writes through the memory BIO (tls/bio.c), which
 * touches only memory: ciphertext the lower stream delivered (its buffer
 * during its read callback, or the stash), and a ring of output slots,
 * each of which becomes one write on the lower stream here; a plaintext
 * request completes when the slot holding its last byte was sent.
 * MBEDTLS_ERR_SSL_WANT_READ means "no more input until the lower stream
 * delivers", MBEDTLS_ERR_SSL_WANT_WRITE "every slot is in flight until a
 * lower write completes": either way the engine is simply run again from
 * that completion (process()).
 *
 * Five things run the engine, all from the loop: the lower stream's read
 * callback, a slot's write callback, the kick op (posted by the calls of
 * the stream interface, which never run anything inline), the two timers
 * (handshake deadline, close deadline) and the end of a handshake step on
 * the offload pool: the kick and pump idiom of docs/ARCHITECTURE.md ("The
 * kick and the pump").
 *
 * Ending: a failed handshake or a close tears down the same way: flush
 * the alert or close_notify (waiting at most close_timeout_ns), close the
 * lower stream, wait for it and the timers, free the mbedTLS state, then
 * run the connect callback (failed handshake) or the close callback.
 *
 * The parts it runs call nothing of it back: record.c encrypts the
 * caller's writes into the output slots and decrypts records into the
 * read callback; handshake.c runs the handshake (inline or on the
 * offload pool) and returns what the run came to, which hs_outcome()
 * acts on; a slot's write and the pool job complete through the
 * callbacks registered here (slot_done(), job_done()). What stays here
 * is what calls the others: the engine step, the lower stream's read
 * callback, the handshake's start and end, the ending, and the stream
 * interface over one flag word (t->st, internal.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../engine/wq.h"
#include "internal.h"

static const struct coil_stream_vt tls_vt;

static void process(struct coil_tls *t);
static void teardown(struct coil_tls *t);
static void maybe_finish(struct coil_tls *t);

static struct coil_tls *tls_from(struct coil_stream *s)
{
	return coil_container_of(s, struct coil_tls, s);
}

static void kick(struct coil_tls *t)
{
	if (!coil_op_busy(&t->kick))
		coil_loop_post(t->s.loop, &t->kick, 0);
}

static void lower_read(struct coil_stream *ls, ssize_t n, const void *buf);

/* Read from the lower stream while the handshake runs or the caller
 * reads; pause it otherwise, so TCP pushes back on the peer. */
static void lower_read_update(struct coil_tls *t)
{
	int want;

	if (!t->c || (t->st & (S_LCLOSE | S_CONNECTING)))
		return;
	want = !coil__tls_closing(t) && !(t->st & (S_LEND | S_RDONE)) &&
	       !t->fail &&
	       ((t->st & S_HS) ||
		((t->st & S_UP) && (t->st & S_RWANT) && !t->c->stash_len));
	if (want && !(t->st & S_LREAD)) {
		if (coil_stream_read_start(t->lower, lower_read) == 0)
			t->st |= S_LREAD;
	} else if (!want && (t->st & S_LREAD)) {
		coil_stream_read_stop(t->lower);
		t->st &= ~S_LREAD;
	}
}

/* ---- handshake ---- */

static void hs_timer_stop(struct coil_tls__conn *c, struct coil_loop *loop)
{
	if (coil_op_busy(&c->hs_tmr))
		coil_timeout_remove(loop, &c->hs_tmr);
}

/* handshake.c noted what it negotiated: the caller's turn */
static void hs_done(struct coil_tls *t)
{
	coil_stream_connect_cb cb = t->connect_cb;

	t->st &= ~S_HS;
	t->st |= S_UP;
	hs_timer_stop(t->c, t->s.loop);
	t->connect_cb = NULL;
	cb(&t->s, 0);
}

static void hs_fail(struct coil_tls *t, int err)
{
	struct coil_tls__conn *c = t->c;

	t->fail = err;
	t->st &= ~S_HS;
	t->st |= S_HSFAIL;
	if (c->cache && c->session_key)
		coil__tls_cache_drop(c->cache, c->session_key, c->cfg);
	hs_timer_stop(c, t->s.loop);
	teardown(t);
}

/* Act on what a handshake run came to (handshake.c): its end, a failure
 * (t->err written), or another run from the loop. */
static void hs_outcome(struct coil_tls *t, int ret)
{
	if (ret < 0)
		hs_fail(t, ret);
	else if (ret == COIL_TLS__HS_DONE)
		hs_done(t);
	else if (ret == COIL_TLS__HS_AGAIN)
		kick(t); /* it stopped short of the input: again */
}

static void job_done(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls__conn *c =
		coil_container_of(op, struct coil_tls__conn, job);
	struct coil_tls *t = c->t;
	int ret;

	coil__tls_hs_job_end(t);
	if ((t->st & (S_HSFAIL | S_LCLOSE)) || coil__tls_closing(t) ||
	    !(t->st & S_HS)) {
		maybe_finish(t);
		return;
	}
	ret = coil__tls_hs_job_result(t, res);
	hs_outcome(t, ret);
	if (ret < 0)
		maybe_finish(t);
	else
		process(t); /* more input may have come, or the data phase
			       begins */
}

static void hs_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls__conn *c =
		coil_container_of(op, struct coil_tls__conn, hs_tmr);
	struct coil_tls *t = c->t;

	if (res == 0 && (t->st & S_HS) && !coil__tls_closing(t)) {
		coil__tls_set_err(
			t, "handshake timed out after %llu ms",
			(unsigned long long)(c->hs_timeout_ns / 1000000));
		hs_fail(t, -ETIMEDOUT);
	}
	maybe_finish(t);
}

/* ---- the engine step ---- */

static void process(struct coil_tls *t)
{
	if (!t->c || (t->st & (S_HSFAIL | S_DEAD | S_CONNECTING | S_JOB)) ||
	    coil__tls_closing(t))
		return;
	if (t->st & S_HS) {
		hs_outcome(t, coil__tls_hs_run(t));
		if (!t->c || !(t->st & S_UP) || coil__tls_closing(t)) {
			if (t->c && !(t->st & (S_HSFAIL | S_LCLOSE)))
				coil__tls_flush(t);
			lower_read_update(t);
			return;
		}
	}
	coil__tls_encrypt(t);
	coil__tls_pump(t);
	if (!coil__tls_closing(t))
		coil__tls_encrypt(t);
	if (t->st & S_NOTIFY_PEND)
		coil__tls_send_notify(t);
	coil__tls_flush(t);
	lower_read_update(t);
}

static void lower_read(struct coil_stream *ls, ssize_t n, const void *buf)
{
	struct coil_tls *t = ls->data;
	struct coil_tls__conn *c = t->c;

	if (!c || coil__tls_closing(t) || (t->st & (S_LCLOSE | S_HSFAIL)))
		return;
	if (t->st & S_JOB) { /* a worker owns the stash: keep it aside */
		if (n > 0 &&
		    coil__tls_buf_add(&c->inbox, &c->inbox_len, &c->inbox_cap,
				      buf, (size_t)n) < 0)
			c->nomem = 1;
		if (n <= 0) {
			t->st &= ~S_LREAD;
			t->st |= S_LEND;
			t->rd_end = (int)n;
		}
		return;
	}
	if (n > 0) {
		if (c->stash_len) {
			if (coil__tls_stash_add(c, buf, (size_t)n) < 0) {
				c->nomem = 1;
				if (t->st & S_HS) {
					coil__tls_set_err(t, "out of memory");
					hs_fail(t, -ENOMEM);
				} else {
					coil__tls_fail_stream(t, -ENOMEM);
					coil__tls_pump(t);
				}
				return;
			}
		} else {
			c->src = buf;
			c->src_len = (size_t)n;
		}
	} else {
		/* no read callback follows from the lower stream */
		t->st &= ~S_LREAD;
		t->st |= S_LEND;
		t->rd_end = (int)n;
		if (n < 0 && !(t->st & S_HS) && !t->fail) {
			coil__tls_set_err(t, "connection error: %s",
					  coil_strerror((int)n));
			coil__tls_fail_stream(t, (int)n);
		}
	}
	process(t);
	/* (a pool step took the rest already: the stash is its now) */
	if (t->c && !(t->st & S_JOB) && coil__tls_src_keep(t->c) < 0 &&
	    !t->fail) {
		coil__tls_fail_stream(t, -ENOMEM);
		coil__tls_pump(t);
	}
}

/* ---- ending ---- */

static void lower_closed(struct coil_stream *ls)
{
	struct coil_tls *t = ls->data;
	t->st |= S_LCLOSED;
	maybe_finish(t);
}

static void lower_close(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	if (t->st & S_LCLOSE)
		return;
	t->st |= S_LCLOSE;
	t->st &= ~S_LREAD;
	if (coil_op_busy(&c->cl_tmr))
		coil_timeout_remove(t->s.loop, &c->cl_tmr);
	hs_timer_stop(c, t->s.loop);
	if (coil_stream_close(t->lower, lower_closed) < 0) {
		/* not open (a TCP connect that failed): nothing to wait for */
		t->st |= S_LCLOSED;
		kick(t);
	}
}

static void cl_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls__conn *c =
		coil_container_of(op, struct coil_tls__conn, cl_tmr);
	struct coil_tls *t = c->t;

	if (res == 0)
		lower_close(t); /* the peer does not take our last bytes */
	maybe_finish(t);
}

/* Send what must go (an alert, close_notify) within close_timeout_ns,
 * then close the lower stream. */
static void teardown(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	if (t->st & S_LCLOSE)
		return;
	if (t->st & S_LREAD) {
		coil_stream_read_stop(t->lower);
		t->st &= ~S_LREAD;
	}
	if (t->st & S_CONNECTING) {
		lower_close(t);
		return;
	}
	coil__tls_flush(t);
	if ((t->st & (S_NOTIFY | S_NOTIFY_PEND | S_HSFAIL)) && !t->wfail &&
	    c->nsend > 0) {
		if (!coil_op_busy(&c->cl_tmr))
			coil_timeout(t->s.loop, &c->cl_tmr, c->close_timeout_ns,
				     0);
		if (coil_op_busy(&c->cl_tmr))
			return; /* slot_done closes when the last is sent */
	}
	lower_close(t);
}

static void slot_done(struct coil_stream_write *w, int status)
{
	struct coil_tls *t = w->data;
	struct coil_tls__conn *c = t->c;
	struct coil_tls__slot *sl =
		coil_container_of(w, struct coil_tls__slot, w);
	struct coil_stream_write *done =
		coil__wq_take(&sl->done_head, &sl->done_tail);

	sl->len = 0;
	sl->state = SLOT_FREE;
	c->nsend--;
	if (status < 0 && !t->wfail && status != -ECANCELED)
		t->wfail = status;
	if (status < 0 && (t->st & S_HS) && !coil__tls_closing(t)) {
		coil__tls_set_err(t, "sending the handshake: %s",
				  coil_strerror(status));
		coil__wq_complete(done, status);
		hs_fail(t, status);
		return;
	}
	coil__wq_complete(done, status < 0 ? status : 0);
	if (!t->c)
		return;
	if (coil__tls_closing(t) || (t->st & S_HSFAIL)) {
		if (t->st & S_LCLOSE)
			return;
		if (t->st & S_NOTIFY_PEND)
			coil__tls_send_notify(t);
		coil__tls_flush(t);
		if (!c->nsend || t->wfail)
			lower_close(t);
		return;
	}
	process(t);
}

static void conn_free(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	c->src = NULL;
	c->src_len = 0;
	coil__tls_fail_wq(t, -ECANCELED);
	if (c->user_shut) {
		struct coil_stream_write *w = c->user_shut;
		c->user_shut = NULL;
		coil__wq_complete(w, -ECANCELED);
	}
	for (unsigned i = 0; i < COIL_TLS_NSLOT; i++) {
		struct coil_tls__slot *sl = &c->slot[i];
		coil__wq_complete(coil__wq_take(&sl->done_head, &sl->done_tail),
				  t->wfail ? t->wfail : -ECANCELED);
		free(sl->buf);
	}
	mbedtls_ssl_free(&c->ssl);
	free(c->stash);
	free(c->jout);
	free(c->inbox);
	free(c->session_key);
	atomic_fetch_sub(&((struct coil_tls_config *)c->cfg)->users, 1);
	free(c);
	t->c = NULL;
	t->st |= S_DEAD;
}

/* Once the lower stream is closed and nothing of ours is in flight: free
 * the engine state, then tell the caller. */
static void maybe_finish(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	coil_stream_connect_cb cb;

	if (!c || !(t->st & S_LCLOSED))
		return;
	if (coil_op_busy(&c->hs_tmr) || coil_op_busy(&c->cl_tmr) ||
	    coil_op_busy(&c->job) || coil_op_busy(&t->kick))
		return;
	conn_free(t);
	if (coil__tls_closing(t)) {
		cb = t->connect_cb;
		t->connect_cb = NULL;
		if (cb)
			cb(&t->s, t->fail ? t->fail : -ECANCELED);
		t->st = S_DEAD;
		coil_stream_finish_close(&t->s);
		return;
	}
	cb = t->connect_cb;
	t->connect_cb = NULL;
	if (cb)
		cb(&t->s, t->fail ? t->fail : COIL_ETLS);
}

/* The first step of a close, from the loop. */
static void close_step(struct coil_tls *t)
{
	coil_stream_connect_cb cb = t->connect_cb;

	if (t->st & S_CLOSE_STEP)
		return;
	t->st |= S_CLOSE_STEP;
	t->st &= ~S_RWANT;
	if (cb && !(t->st & S_HSFAIL)) {
		t->connect_cb = NULL;
		t->st &= ~S_HS;
		cb(&t->s, -ECANCELED);
	}
	if (!t->c)
		return;
	if (t->st & S_JOB) /* not started yet: drop it; else it finishes */
		coil_cancel(t->s.loop, &t->c->job);
	coil__tls_fail_wq(t, -ECANCELED);
	if ((t->st & S_UP) && !t->fail && !t->wfail &&
	    !(t->st & (S_NOTIFY | S_LCLOSE))) {
		t->c->wpend = 0;
		coil__tls_send_notify(t);
	}
	teardown(t);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls *t = coil_container_of(op, struct coil_tls, kick);

	if (t->st & S_DEAD) {
		if (coil__tls_closing(t))
			coil_stream_finish_close(&t->s);
		return;
	}
	if (coil__tls_closing(t))
		close_step(t);
	else
		process(t);
	maybe_finish(t);
}

/* ---- the stream interface ---- */

static int tls_read_start(struct coil_stream *s)
{
	struct coil_tls *t = tls_from(s);

	if (t->st & S_RWANT)
		return 0;
	t->st |= S_RWANT;
	if (t->st & S_UP)
		kick(t); /* deliver what waits, from the loop */
	return 0;
}

static int tls_read_stop(struct coil_stream *s)
{
	struct coil_tls *t = tls_from(s);

	if (!(t->st & S_RWANT))
		return 0;
	t->st &= ~S_RWANT;
	s->stats.pauses++;
	lower_read_update(t);
	return 0;
}

static int write_state(const struct coil_tls *t)
{
	return coil__wq_state(t->fail, (t->st & S_UP) && t->c, t->wfail,
			      (t->st & S_SHUT) != 0);
}

/* The vt's write and shutdown: queue @w behind every earlier request. */
static int tls_queue(struct coil_stream *s, struct coil_stream_write *w)
{
	struct coil_tls *t = tls_from(s);
	int ret = write_state(t);

	if (ret < 0)
		return ret;
	coil__wq_add(s, &t->c->wq_head, &t->c->wq_tail, w);
	if (w->flags & COIL_STREAM_W_SHUTDOWN)
		t->st |= S_SHUT;
	kick(t);
	return 0;
}

static int tls_close(struct coil_stream *s)
{
	struct coil_tls *t = tls_from(s);

	t->st &= ~S_RWANT;
	kick(t); /* close_step from the loop, never inline */
	return 0;
}

static int tls_set_timeouts(struct coil_stream *s, uint64_t idle_ns,
			    uint64_t read_ns, uint64_t write_ns)
{
	struct coil_tls *t = tls_from(s);

	if (!t->c || (t->st & S_LCLOSE))
		return -ENOTCONN;
	return coil_stream_set_timeouts(t->lower, idle_ns, read_ns, write_ns);
}

static int tls_fd(const struct coil_stream *s)
{
	const struct coil_tls *t =
		coil_container_of(s, const struct coil_tls, s);
	if (!t->c || (t->st & S_LCLOSED))
		return -1;
	return coil_stream_fd(t->lower);
}

static const struct coil_stream_vt tls_vt = {
	.name = "tls",
	.read_start = tls_read_start,
	.read_stop = tls_read_stop,
	.write = tls_queue,
	.shutdown = tls_queue,
	.close = tls_close,
	.set_timeouts = tls_set_timeouts,
	.fd = tls_fd,
};

/* ---- set-up ---- */

/* The engine state (tls/conn.c) and this session's timers. */
static int conn_start(struct coil_tls *t, const struct coil_tls_config *cfg,
		      const struct coil_tls_opts *o,
		      const struct sockaddr_storage *addr0)
{
	int ret = coil__tls_conn_new(t, cfg, o, addr0);

	if (ret == 0) {
		t->c->slot_sent = slot_done;
		coil_op_init(&t->c->job, job_done);
		coil_op_init(&t->c->hs_tmr, hs_tmr_cb);
		coil_op_init(&t->c->cl_tmr, cl_tmr_cb);
	}
	return ret;
}

static int check_args(struct coil_tls *t, const struct coil_tls_config *cfg,
		      const struct coil_tls_opts *o, const void *cb)
{
	if (!t || !cfg || !cb)
		return -EINVAL;
	if (!(cfg->flags & COIL_TLS_SERVER)) {
		if (o->host && (!o->host[0] || strlen(o->host) > 255))
			return -EINVAL;
		if (!o->host && !(cfg->flags & COIL_TLS_INSECURE))
			return -EINVAL;
	}
	return 0;
}

static void tls_init(struct coil_tls *t, struct coil_loop *loop)
{
	void *data = t->s.data;
	memset(t, 0, sizeof(*t));
	t->s.data = data;
	coil_stream_init(&t->s, loop, &tls_vt);
	coil_op_init(&t->kick, kick_cb);
	t->info.alert = -1;
}

/* The handshake starts now: its clock, its deadline, its first step. */
static void hs_start(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	t->st |= S_HS;
	t->t0_ns = coil_now_update(t->s.loop);
	if (c->hs_timeout_ns != UINT64_MAX)
		coil_timeout(t->s.loop, &c->hs_tmr, c->hs_timeout_ns, 0);
}

int coil_tls_open(struct coil_tls *t, struct coil_stream *lower,
		  const struct coil_tls_config *cfg,
		  const struct coil_tls_opts *opts, coil_stream_connect_cb cb)
{
	static const struct coil_tls_opts none;
	const struct coil_tls_opts *o = opts ? opts : &none;
	int ret = check_args(t, cfg, o, (const void *)cb);

	if (ret < 0)
		return ret;
	if (!lower || !lower->vt || !(lower->flags & COIL_STREAM_OPEN) ||
	    (lower->flags & COIL_STREAM_CLOSING) || lower == &t->s)
		return -EINVAL;
	tls_init(t, lower->loop);
	t->lower = lower;
	ret = conn_start(t, cfg, o, NULL);
	if (ret < 0) {
		t->s.flags = 0;
		return ret;
	}
	lower->data = t;
	t->connect_cb = cb;
	hs_start(t);
	kick(t); /* the first flight, from the loop */
	return 0;
}

static void tcp_connected(struct coil_stream *ls, int status)
{
	struct coil_tls *t = ls->data;

	t->st &= ~S_CONNECTING;
	if (status < 0) {
		if (!t->fail)
			t->fail = status;
		if (!(t->st & S_LCLOSE)) {
			/* a failed connect holds nothing: no close to wait
			 * for */
			coil__tls_set_err(t, "TCP connect failed: %s",
					  coil_strerror(status));
			t->st |= S_LCLOSE | S_LCLOSED;
			t->st |= S_HSFAIL;
		}
		maybe_finish(t);
		return;
	}
	hs_start(t);
	process(t);
}

int coil_tls_connect(struct coil_loop *loop, struct coil_tls *t,
		     struct coil_tcp *tcp, const struct sockaddr_storage *addrs,
		     unsigned naddrs, const struct coil_tcp_opts *topts,
		     const struct coil_tls_config *cfg,
		     const struct coil_tls_opts *opts,
		     coil_stream_connect_cb cb)
{
	static const struct coil_tls_opts none;
	const struct coil_tls_opts *o = opts ? opts : &none;
	int ret = check_args(t, cfg, o, (const void *)cb);

	if (ret < 0)
		return ret;
	if (!loop || !tcp)
		return -EINVAL;
	tls_init(t, loop);
	t->lower = &tcp->s;
	/* no peer yet: the default session key takes the first address's
	 * port */
	ret = conn_start(t, cfg, o, addrs && naddrs ? &addrs[0] : NULL);
	if (ret < 0) {
		t->s.flags = 0;
		return ret;
	}
	t->c->tcp = tcp;
	tcp->s.data = t;
	t->connect_cb = cb;
	t->st |= S_CONNECTING;
	ret = coil_tcp_connect(loop, tcp, addrs, naddrs, topts, tcp_connected);
	if (ret < 0) {
		t->st |= S_LCLOSE | S_LCLOSED;
		conn_free(t);
		t->st = 0;
		t->s.flags = 0;
		return ret;
	}
	return 0;
}

/* ---- queries ---- */

struct coil_tls *coil_tls_of(struct coil_stream *s)
{
	if (!s || s->vt != &tls_vt)
		return NULL;
	return tls_from(s);
}

const char *coil_tls_error(const struct coil_stream *s)
{
	if (!s || s->vt != &tls_vt)
		return NULL;
	return coil_container_of(s, const struct coil_tls, s)->err;
}

const struct coil_tls_info *coil_tls_info(const struct coil_tls *t)
{
	return t ? &t->info : NULL;
}
