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
 * Four things run the engine, all from the loop: the lower stream's read
 * callback, a slot's write callback, the kick op (posted by the calls of
 * the stream interface, which never run anything inline) and the two
 * timers (handshake deadline, close deadline): the kick and pump idiom of
 * docs/ARCHITECTURE.md ("The kick and the pump").
 *
 * Ending: a failed handshake or a close tears down the same way: flush
 * the alert or close_notify (waiting at most close_timeout_ns), close the
 * lower stream, wait for it and the timers, free the mbedTLS state, then
 * run the connect callback (failed handshake) or the close callback.
 *
 * Why this file is past ~1,000 lines: what is left here is one state
 * machine over one flag word (t->st). The parts that call nothing back
 * are out (bio.c, conn.c, verify.c's error texts, negotiated.c,
 * cache.c); writing, reading, the handshake (inline or on the offload
 * pool), the engine step and the ending all call each other (the pump
 * drives the handshake, whose end re-enters the pump; every part can
 * fail into the ending, which completes the writes), so any further cut
 * would leave two files calling each other, which the tree does not
 * allow (STYLE.md).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mbedtls/error.h>

#include "../engine/grow.h"
#include "../engine/wq.h"
#include "coil/async.h"
#include "internal.h"

#define MAXREC 16384  /* TLS plaintext record limit */
#define REC_SLACK 512 /* record header, IV, MAC/tag, padding */

/* t->st bits */
#define S_HS (1u << 0)		 /* handshake running: connect_cb pending */
#define S_UP (1u << 1)		 /* handshake done */
#define S_RWANT (1u << 2)	 /* the caller reads (started, not paused) */
#define S_RDONE (1u << 3)	 /* end or error delivered */
#define S_SHUT (1u << 4)	 /* shutdown queued: no more writes */
#define S_NOTIFY (1u << 5)	 /* close_notify produced */
#define S_NOTIFY_PEND (1u << 6)	 /* close_notify waits for a free slot */
#define S_LREAD (1u << 7)	 /* the lower stream reads for us */
#define S_LEND (1u << 8)	 /* the lower stream delivered EOF (rd_end) */
#define S_LCLOSE (1u << 9)	 /* lower close called */
#define S_LCLOSED (1u << 10)	 /* lower close callback ran */
#define S_DEAD (1u << 11)	 /* engine state freed: holds nothing */
#define S_PEER_NOTIFY (1u << 12) /* the peer's close_notify arrived */
#define S_PUMPING (1u << 13)	 /* delivering: no nesting */
#define S_HSFAIL (1u << 14)	 /* handshake failed: tearing down */
#define S_CONNECTING (1u << 15)	 /* coil_tls_connect(): TCP connecting */
#define S_CLOSE_STEP (1u << 16)	 /* close_step done once */
#define S_JOB (1u << 17)	 /* a pool worker runs a handshake step */

/* One plaintext / staging buffer per thread: read callbacks see it only
 * during the call, and nothing here runs the engine of another stream
 * inline from a callback, so streams of a loop never share it at once. */
static __thread unsigned char scratch[MAXREC];

static const struct coil_stream_vt tls_vt;

static void process(struct coil_tls *t);
static void teardown(struct coil_tls *t);
static void maybe_finish(struct coil_tls *t);

static struct coil_tls *tls_from(struct coil_stream *s)
{
	return coil_container_of(s, struct coil_tls, s);
}

static int closing(const struct coil_tls *t)
{
	return (t->s.flags & COIL_STREAM_CLOSING) != 0;
}

static void kick(struct coil_tls *t)
{
	if (!coil_op_busy(&t->kick))
		coil_loop_post(t->s.loop, &t->kick, 0);
}

/* ---- writing ---- */

static void slot_done(struct coil_stream_write *w, int status);

static void fail_wq(struct coil_tls *t, int err)
{
	struct coil_tls__conn *c = t->c;
	c->wpend = 0;
	coil__wq_fail(&t->s, &c->wq_head, &c->wq_tail, err);
}

/* Hand every filled slot to the lower stream, in order. */
static void flush(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	while (!(t->st & S_LCLOSE) && c->slot[c->sub].state == SLOT_FILL) {
		struct coil_tls__slot *sl = &c->slot[c->sub];
		int ret;

		if (t->wfail)
			return;
		memset(&sl->w, 0, sizeof(sl->w));
		sl->w.data = t;
		ret = coil_stream_write(t->lower, &sl->w, sl->buf, sl->len,
					slot_done);
		if (ret < 0) {
			/* the lower stream cannot send any more: everything
			 * waiting for this slot or a later one fails */
			t->wfail = ret;
			coil__wq_complete(
				coil__wq_take(&sl->done_head, &sl->done_tail),
				ret);
			return;
		}
		sl->state = SLOT_SEND;
		c->nsend++;
		c->sub = (c->sub + 1) % COIL_TLS_NSLOT;
	}
	/* new bytes go after the ones just submitted */
	if (c->slot[c->fill].state == SLOT_SEND)
		c->fill = c->sub;
}

/* A write request of the caller is encrypted to its last byte: it
 * completes when that byte's slot was sent. */
static void encrypted(struct coil_tls *t, struct coil_stream_write *w)
{
	struct coil_tls__slot *sl = coil__tls_newest_pending(t->c);

	w->next = NULL;
	if (!sl) {
		coil__wq_complete(w, 0);
		return;
	}
	coil__wq_push(&sl->done_head, &sl->done_tail, w);
}

/* Pop the finished requests at the head of the queue into their slots. */
static void pop_done(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	struct coil_stream_write *w;

	while ((w = coil__wq_pop_done(&c->wq_head, &c->wq_tail))) {
		encrypted(t, w);
		if (closing(t) || !t->c)
			return;
	}
}

/* The next plaintext to encrypt, at most one record: the head request's
 * current iovec in place when it is large enough or alone, else small
 * pieces of several requests gathered into the scratch buffer (so that
 * many small writes become one record). Return its length. */
static size_t gather(struct coil_tls *t, const unsigned char **out)
{
	struct coil_tls__conn *c = t->c;
	struct coil_stream_write *w = c->wq_head;
	size_t n = 0, first;
	unsigned idx;
	size_t off;

	first = w->iov[w->idx].iov_len - w->off;
	if (first >= MAXREC) {
		*out = (const unsigned char *)w->iov[w->idx].iov_base + w->off;
		return MAXREC;
	}
	idx = w->idx;
	off = w->off;
	for (; w && n < MAXREC; w = w->next) {
		if (w->flags & COIL_STREAM_W_SHUTDOWN)
			break;
		if (w != c->wq_head) {
			idx = 0;
			off = 0;
		}
		for (; idx < w->iovcnt && n < MAXREC; idx++, off = 0) {
			size_t len = w->iov[idx].iov_len - off;
			if (!len)
				continue;
			if (len > MAXREC - n)
				len = MAXREC - n;
			if (n == 0 && len == first && idx + 1 == w->iovcnt &&
			    (!w->next ||
			     (w->next->flags & COIL_STREAM_W_SHUTDOWN))) {
				/* alone: encrypt in place */
				*out = (const unsigned char *)w->iov[idx]
					       .iov_base +
				       off;
				return len;
			}
			memcpy(scratch + n,
			       (const unsigned char *)w->iov[idx].iov_base +
				       off,
			       len);
			n += len;
		}
	}
	*out = scratch;
	return n;
}

static void fail_stream(struct coil_tls *t, int err);
static void lshut_done(struct coil_stream_write *w, int status);

/* close_notify (RFC 5246 section 7.2.1), then TCP's FIN after it. */
static int send_notify(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	int ret;

	if (t->st & S_NOTIFY)
		return 0;
	ret = mbedtls_ssl_close_notify(&c->ssl);
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->st |= S_NOTIFY_PEND;
		return ret;
	}
	t->st &= ~S_NOTIFY_PEND;
	t->st |= S_NOTIFY;
	return ret;
}

static void do_shutdown(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	struct coil_stream_write *w;
	int ret = send_notify(t);

	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return; /* again when a slot is free */
	w = coil__wq_pop(&c->wq_head, &c->wq_tail);
	if (ret < 0) {
		int err = coil__tls_fail_text(t, ret, "sending close_notify");
		coil__wq_complete(w, err);
		return;
	}
	c->user_shut = w;
	flush(t);
	memset(&c->lshut, 0, sizeof(c->lshut));
	c->lshut.data = t;
	ret = t->wfail ? t->wfail
		       : coil_stream_shutdown(t->lower, &c->lshut, lshut_done);
	if (ret < 0) {
		c->user_shut = NULL;
		coil__wq_complete(w, ret);
	}
}

static void lshut_done(struct coil_stream_write *lw, int status)
{
	struct coil_tls *t = lw->data;
	struct coil_stream_write *w = t->c->user_shut;
	t->c->user_shut = NULL;
	coil__wq_complete(w, status);
}

/* Encrypt queued plaintext while output slots have room. */
static void encrypt(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	while (c->wq_head && !closing(t) && !t->fail && t->c) {
		const unsigned char *p;
		size_t len;
		int ret;

		if (t->wfail) {
			fail_wq(t, t->wfail);
			return;
		}
		pop_done(t);
		if (!c->wq_head || closing(t))
			return;
		if (c->wq_head->flags & COIL_STREAM_W_SHUTDOWN) {
			do_shutdown(t);
			return;
		}
		if (c->wpend) {
			/* mbedTLS holds the encrypted record and only
			 * flushes it: the same length, the bytes unread
			 * (mbedtls_ssl_write(), "call again with the same
			 * arguments") */
			p = scratch;
			len = c->wpend;
		} else {
			len = gather(t, &p);
			if (coil__tls_out_room(c) < len + REC_SLACK)
				return; /* a slot completion runs us again */
		}
		ret = mbedtls_ssl_write(&c->ssl, p, len);
		if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
			c->wpend = len;
			return;
		}
		if (ret < 0) {
			fail_stream(t,
				    coil__tls_fail_text(t, ret, "encrypting"));
			return;
		}
		c->wpend = 0;
		coil__wq_sent(&t->s, c->wq_head, (size_t)ret);
	}
	if (t->c && c->wq_head && !closing(t))
		pop_done(t);
}

/* ---- reading ---- */

/* Deliver plaintext while the caller reads; the end or a failure last. */
static void pump(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	int post_hs = 1;

	if (t->st & S_PUMPING)
		return;
	t->st |= S_PUMPING;
	while (!closing(t) && !(t->st & S_RDONE) && t->s.read_cb) {
		int ret;

		/* plaintext carries the time of the latest TCP read
		 * (coil_stream_rx_time()) */
		t->s.rx_ns = coil_stream_rx_time(t->lower);
		t->s.flags = (t->s.flags & ~COIL_STREAM_RX_KERNEL) |
			     (t->lower->flags & COIL_STREAM_RX_KERNEL);
		if (t->fail) {
			t->st |= S_RDONE;
			t->s.read_cb(&t->s, t->fail, NULL);
			break;
		}
		if (!(t->st & S_RWANT) || !(t->st & S_UP))
			break;
		ret = mbedtls_ssl_read(&c->ssl, scratch, sizeof(scratch));
		if (ret > 0) {
			t->s.stats.recvs++;
			t->s.stats.bytes_in += (unsigned)ret;
			t->s.read_cb(&t->s, ret, scratch);
			continue;
		}
		if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
			if (coil__tls_in_avail(c))
				continue; /* a record that carried no data */
			if (!coil__tls_hs_over(&c->ssl) && post_hs) {
				/* TLS 1.3: a post-handshake message (a ticket)
				 * was read; the next call processes it */
				post_hs = 0;
				continue;
			}
			if (!(t->st & S_LEND))
				break;
			/* the connection ended under us without
			 * close_notify */
			coil__tls_set_err(t,
					  "peer closed the connection without "
					  "close_notify (truncation)");
			t->fail = COIL_ETRUNC;
			continue;
		}
		if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			break; /* an alert to send first */
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			/* TLS 1.3: a ticket for the next connection */
			t->info.tickets++;
			post_hs = 1;
			if (c->cache)
				coil__tls_cache_save(c->cache, c->session_key,
						     c->cfg, &c->ssl);
			continue;
		}
#endif
		if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			t->st |= S_RDONE | S_PEER_NOTIFY;
			t->s.read_cb(&t->s, 0, NULL);
			break;
		}
		t->fail = ret == 0 ? COIL_ETRUNC
				   : coil__tls_fail_text(t, ret,
							 "reading a record");
		if (ret == 0)
			coil__tls_set_err(t,
					  "peer closed the connection without "
					  "close_notify (truncation)");
		fail_wq(t, t->fail);
	}
	t->st &= ~S_PUMPING;
}

static void lower_read(struct coil_stream *ls, ssize_t n, const void *buf);

/* Read from the lower stream while the handshake runs or the caller
 * reads; pause it otherwise, so TCP pushes back on the peer. */
static void lower_read_update(struct coil_tls *t)
{
	int want;

	if (!t->c || (t->st & (S_LCLOSE | S_CONNECTING)))
		return;
	want = !closing(t) && !(t->st & (S_LEND | S_RDONE)) && !t->fail &&
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

static void fail_stream(struct coil_tls *t, int err)
{
	if (t->fail)
		return;
	t->fail = err;
	fail_wq(t, err);
}

/* ---- handshake ---- */

static void hs_timer_stop(struct coil_tls__conn *c, struct coil_loop *loop)
{
	if (coil_op_busy(&c->hs_tmr))
		coil_timeout_remove(loop, &c->hs_tmr);
}

static void hs_done(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	int server = (c->cfg->flags & COIL_TLS_SERVER) != 0;
	const char *s;
	coil_stream_connect_cb cb = t->connect_cb;

	t->st &= ~S_HS;
	t->st |= S_UP;
	c->note_sent = 0;
	t->info.handshake_ns = coil_now_update(t->s.loop) - t->t0_ns;
	snprintf(t->info.version, sizeof(t->info.version), "%s",
		 mbedtls_ssl_get_version(&c->ssl));
	snprintf(t->info.cipher, sizeof(t->info.cipher), "%s",
		 mbedtls_ssl_get_ciphersuite(&c->ssl));
	s = mbedtls_ssl_get_alpn_protocol(&c->ssl);
	snprintf(t->info.alpn, sizeof(t->info.alpn), "%s", s ? s : "");
	coil__tls_group_name(c->note.group, t->info.group,
			     sizeof(t->info.group));
	/* a server resumes whatever the client offered, a client only
	 * what it offered */
	t->info.resumed = !c->note.full && (server || c->offered);
	if (c->cache && coil__tls_version_of(&c->ssl) < COIL_TLS_V1_3) {
		coil__tls_cache_save(c->cache, c->session_key, c->cfg, &c->ssl);
	} else if (c->cache && c->offered && !t->info.resumed) {
		/* TLS 1.3: the server refused the ticket; the next one
		 * comes after the handshake (pump()) */
		coil__tls_cache_drop(c->cache, c->session_key, c->cfg);
	}
	hs_timer_stop(c, t->s.loop);
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

/* The handshake ended under us: the lower stream delivered EOF or an
 * error while mbedTLS waits for input. */
static void hs_eof(struct coil_tls *t)
{
	if (t->rd_end < 0) {
		coil__tls_set_err(t, "connection lost during the handshake: %s",
				  coil_strerror(t->rd_end));
		hs_fail(t, t->rd_end);
	} else {
		coil__tls_set_err(
			t, "peer closed the connection during the handshake");
		hs_fail(t, COIL_ETLS);
	}
}

/* What one mbedtls_ssl_handshake() call returned, on the loop. @out0:
 * the ciphertext count before the call. */
static void hs_result(struct coil_tls *t, int ret, uint64_t out0)
{
	struct coil_tls__conn *c = t->c;

	c->hs_last = ret;
	if (ret == 0) {
		hs_done(t);
		return;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
		if (coil__tls_in_avail(c))
			kick(t); /* it stopped short of the input: again */
		else if (t->st & S_LEND)
			hs_eof(t);
		return;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return;
	/* mbedTLS 2.x leaves some failures without an alert (a missing
	 * client certificate, say): tell the peer why rather than just
	 * hanging up (RFC 5246 section 7.2.2) */
	if (c->out_bytes == out0 &&
	    ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
	    ret != MBEDTLS_ERR_SSL_ALLOC_FAILED)
		mbedtls_ssl_send_alert_message(
			&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
			MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
	hs_fail(t, coil__tls_fail_text(t, ret, "handshake failed"));
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One mbedtls_ssl_handshake() call, on whichever thread runs it; the CPU
 * time it took (clock_gettime(2) CLOCK_THREAD_CPUTIME_ID, so a loaded
 * machine's preemption does not count) in c->job_ns. */
static int hs_call(struct coil_tls__conn *c)
{
	int server = (c->cfg->flags & COIL_TLS_SERVER) != 0;
	uint64_t t0 = thread_cpu_ns();
	int ret = 0;

	/* mbedtls_ssl_handshake() is this loop; stepping it ourselves lets
	 * negotiated.c see each message as it goes by */
	while (!coil__tls_hs_over(&c->ssl)) {
		ret = mbedtls_ssl_handshake_step(&c->ssl);
		coil__tls_note_step(&c->ssl, server, &c->note);
		if (ret != 0)
			break;
	}
	c->job_ns = thread_cpu_ns() - t0;
	return ret;
}

/* A pool worker runs the step. The loop touches none of the engine's
 * state meanwhile (S_JOB): input arriving goes to the inbox, and what
 * mbedTLS writes goes to jout, not to the slots the loop completes. */
static int hs_job(void *arg)
{
	struct coil_tls__conn *c = arg;
	c->job_ret = hs_call(c);
	return 0;
}

static void jout_drain(struct coil_tls *t);
static void job_done(struct coil_op *op, int res, unsigned flags);

static void hs_run(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	struct coil_pool *pool = c->cfg->pool;
	uint64_t out0 = c->out_bytes;
	int ret;

	if (t->st & S_JOB)
		return;
	jout_drain(t);
	if (c->jout_len)
		return; /* a slot completion brings us back */
	/* nothing new to feed it: don't call it again for nothing */
	if (c->hs_last == MBEDTLS_ERR_SSL_WANT_READ && !coil__tls_in_avail(c)) {
		if (t->st & S_LEND)
			hs_eof(t);
		return;
	}
	if (c->hs_last == MBEDTLS_ERR_SSL_WANT_WRITE && !coil__tls_out_room(c))
		return;
	if (pool) {
		if (coil__tls_src_keep(c) < 0) {
			c->nomem = 1;
			coil__tls_set_err(t, "out of memory");
			hs_fail(t, -ENOMEM);
			return;
		}
		c->jmode = 1;
		c->job_out0 = out0;
		t->st |= S_JOB;
		coil_op_init(&c->job, job_done);
		if (coil_pool_submit(t->s.loop, pool, &c->job, hs_job, c) == 0)
			return;
		/* the pool is shut down or full of memory: run it here */
		t->st &= ~S_JOB;
		c->jmode = 0;
	}
	ret = hs_call(c);
	t->info.handshake_cpu_ns += c->job_ns;
	hs_result(t, ret, out0);
}

/* Move what a pool step wrote into the output slots, as far as they
 * take it. */
static void jout_drain(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	size_t off = 0;

	while (off < c->jout_len) {
		int n = coil__tls_bio_send(c, c->jout + off, c->jout_len - off);
		if (n <= 0)
			break;
		c->out_bytes -= (uint64_t)n; /* counted when it was written */
		off += (size_t)n;
	}
	if (off) {
		memmove(c->jout, c->jout + off, c->jout_len - off);
		c->jout_len -= off;
	}
}

static void job_done(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls__conn *c =
		coil_container_of(op, struct coil_tls__conn, job);
	struct coil_tls *t = c->t;

	t->st &= ~S_JOB;
	c->jmode = 0;
	/* what came in meanwhile queues behind what the step left */
	if (c->inbox_len) {
		if (coil__tls_stash_add(c, c->inbox, c->inbox_len) < 0)
			c->nomem = 1;
		c->inbox_len = 0;
	}
	if ((t->st & (S_HSFAIL | S_LCLOSE)) || closing(t) || !(t->st & S_HS)) {
		maybe_finish(t);
		return;
	}
	if (res < 0) { /* cancelled before it ran (a drain, a shutdown) */
		coil__tls_set_err(t, "the handshake's pool job was cancelled");
		hs_fail(t, res);
		maybe_finish(t);
		return;
	}
	if (c->nomem && c->job_ret != MBEDTLS_ERR_SSL_ALLOC_FAILED) {
		coil__tls_set_err(t, "out of memory");
		hs_fail(t, -ENOMEM);
		maybe_finish(t);
		return;
	}
	t->info.handshake_cpu_ns += c->job_ns;
	jout_drain(t);
	hs_result(t, c->job_ret, c->job_out0);
	process(t); /* more input may have come, or the data phase begins */
}

static void hs_tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls__conn *c =
		coil_container_of(op, struct coil_tls__conn, hs_tmr);
	struct coil_tls *t = c->t;

	if (res == 0 && (t->st & S_HS) && !closing(t)) {
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
	    closing(t))
		return;
	if (t->st & S_HS) {
		hs_run(t);
		if (!t->c || !(t->st & S_UP) || closing(t)) {
			if (t->c && !(t->st & (S_HSFAIL | S_LCLOSE)))
				flush(t);
			lower_read_update(t);
			return;
		}
	}
	encrypt(t);
	pump(t);
	if (!closing(t))
		encrypt(t);
	if (t->st & S_NOTIFY_PEND)
		send_notify(t);
	flush(t);
	lower_read_update(t);
}

static void lower_read(struct coil_stream *ls, ssize_t n, const void *buf)
{
	struct coil_tls *t = ls->data;
	struct coil_tls__conn *c = t->c;

	if (!c || closing(t) || (t->st & (S_LCLOSE | S_HSFAIL)))
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
					fail_stream(t, -ENOMEM);
					pump(t);
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
			fail_stream(t, (int)n);
		}
	}
	process(t);
	/* (a pool step took the rest already: the stash is its now) */
	if (t->c && !(t->st & S_JOB) && coil__tls_src_keep(t->c) < 0 &&
	    !t->fail) {
		fail_stream(t, -ENOMEM);
		pump(t);
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
	flush(t);
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
	if (status < 0 && (t->st & S_HS) && !closing(t)) {
		coil__tls_set_err(t, "sending the handshake: %s",
				  coil_strerror(status));
		coil__wq_complete(done, status);
		hs_fail(t, status);
		return;
	}
	coil__wq_complete(done, status < 0 ? status : 0);
	if (!t->c)
		return;
	if (closing(t) || (t->st & S_HSFAIL)) {
		if (t->st & S_LCLOSE)
			return;
		if (t->st & S_NOTIFY_PEND)
			send_notify(t);
		flush(t);
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
	fail_wq(t, -ECANCELED);
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
	if (closing(t)) {
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
	fail_wq(t, -ECANCELED);
	if ((t->st & S_UP) && !t->fail && !t->wfail &&
	    !(t->st & (S_NOTIFY | S_LCLOSE))) {
		t->c->wpend = 0;
		send_notify(t);
	}
	teardown(t);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tls *t = coil_container_of(op, struct coil_tls, kick);

	if (t->st & S_DEAD) {
		if (closing(t))
			coil_stream_finish_close(&t->s);
		return;
	}
	if (closing(t))
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
		      const struct coil_tls_opts *o)
{
	int ret = coil__tls_conn_new(t, cfg, o);

	if (ret == 0) {
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
	ret = conn_start(t, cfg, o);
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
	/* no peer address yet for the session key: the default key is
	 * made from the host and the first address's port */
	if (!o->session_key && o->cache && o->host && addrs && naddrs) {
		struct coil_tls_opts o2 = *o;
		char key[300];
		unsigned port =
			addrs[0].ss_family == AF_INET6
				? ntohs(((const struct sockaddr_in6 *)&addrs[0])
						->sin6_port)
				: ntohs(((const struct sockaddr_in *)&addrs[0])
						->sin_port);
		snprintf(key, sizeof(key), "%s:%u", o->host, port);
		o2.session_key = key;
		ret = conn_start(t, cfg, &o2);
	} else {
		ret = conn_start(t, cfg, o);
	}
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
