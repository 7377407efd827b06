/*
 * tls/record.c - the TLS stream's records: the caller's plaintext
 * encrypted into the output slots and handed to the lower stream, the
 * records read decrypted into the caller's read callback, and the
 * close_notify that ends the writing.
 *
 * The session (session.c) runs these from its engine step, its slot
 * callback and its ending; they change the flag word (t->st) and the
 * write queue and report failures in t->fail, and call nothing of the
 * session back: a slot's write completes through the callback the
 * session registered (c->slot_sent).
 */

#include <errno.h>
#include <string.h>

#include <mbedtls/ssl.h>

#include "../engine/wq.h"
#include "internal.h"

#define MAXREC 16384  /* TLS plaintext record limit */
#define REC_SLACK 512 /* record header, IV, MAC/tag, padding */

/* One plaintext / staging buffer per thread: read callbacks see it only
 * during the call, and nothing here runs the engine of another stream
 * inline from a callback, so streams of a loop never share it at once. */
static __thread unsigned char scratch[MAXREC];

/* ---- writing ---- */

void coil__tls_fail_wq(struct coil_tls *t, int err)
{
	struct coil_tls__conn *c = t->c;
	c->wpend = 0;
	coil__wq_fail(&t->s, &c->wq_head, &c->wq_tail, err);
}

/* Hand every filled slot to the lower stream, in order. */
void coil__tls_flush(struct coil_tls *t)
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
					c->slot_sent);
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
		if (coil__tls_closing(t) || !t->c)
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

static void lshut_done(struct coil_stream_write *w, int status);

/* close_notify (RFC 5246 section 7.2.1), then TCP's FIN after it. */
int coil__tls_send_notify(struct coil_tls *t)
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
	int ret = coil__tls_send_notify(t);

	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return; /* again when a slot is free */
	w = coil__wq_pop(&c->wq_head, &c->wq_tail);
	if (ret < 0) {
		int err = coil__tls_fail_text(t, ret, "sending close_notify");
		coil__wq_complete(w, err);
		return;
	}
	c->user_shut = w;
	coil__tls_flush(t);
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
void coil__tls_encrypt(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	while (c->wq_head && !coil__tls_closing(t) && !t->fail && t->c) {
		const unsigned char *p;
		size_t len;
		int ret;

		if (t->wfail) {
			coil__tls_fail_wq(t, t->wfail);
			return;
		}
		pop_done(t);
		if (!c->wq_head || coil__tls_closing(t))
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
			coil__tls_fail_stream(
				t, coil__tls_fail_text(t, ret, "encrypting"));
			return;
		}
		c->wpend = 0;
		coil__wq_sent(&t->s, c->wq_head, (size_t)ret);
	}
	if (t->c && c->wq_head && !coil__tls_closing(t))
		pop_done(t);
}

/* ---- reading ---- */

/* Deliver plaintext while the caller reads; the end or a failure last. */
void coil__tls_pump(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	int post_hs = 1;

	if (t->st & S_PUMPING)
		return;
	t->st |= S_PUMPING;
	while (!coil__tls_closing(t) && !(t->st & S_RDONE) && t->s.read_cb) {
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
		coil__tls_fail_wq(t, t->fail);
	}
	t->st &= ~S_PUMPING;
}

/* ---- failing ---- */

void coil__tls_fail_stream(struct coil_tls *t, int err)
{
	if (t->fail)
		return;
	t->fail = err;
	coil__tls_fail_wq(t, err);
}
