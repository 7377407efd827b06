/*
 * engine/wq.h - the write queue of a stream, shared by the TCP stream
 * (engine/tcp.c) and the TLS stream (tls/session.c), the only two
 * files that include it.
 *
 * A queue is a FIFO of the caller's struct coil_stream_write requests,
 * linked through w->next, between a head and a tail pointer that the
 * stream keeps in its own struct (struct coil__tcp_wr's wq_head/wq_tail, the
 * TLS connection's). Each request keeps its own progress: idx is the
 * first iovec not completely consumed, off the bytes of iov[idx] already
 * consumed ("consumed" is sent for TCP, encrypted for TLS). A shutdown
 * request (COIL_STREAM_W_SHUTDOWN) carries no bytes and waits at the head
 * until the stream has done it.
 *
 * All of it is static inline: it sits on every stream's write path, so it
 * adds no call, no allocation and no copy there.
 */
#ifndef COIL_ENGINE_WQ_H
#define COIL_ENGINE_WQ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "coil/stream.h"

/* Raise the saturating maximum *@m to @v (struct coil__stream_ctr). */
static inline void coil__max32(uint32_t *m, uint64_t v)
{
	if (v > *m)
		*m = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Whether a stream takes a write or shutdown request now: 0, or the error
 * coil_stream_write*() / coil_stream_shutdown() return, in this order:
 * the stream's failure @fail, -ENOTCONN when not @connected, the write
 * side's failure @wfail, -EPIPE after a shutdown was queued (@shut). */
static inline int coil__wq_state(int fail, int connected, int wfail, int shut)
{
	if (fail)
		return fail;
	if (!connected)
		return -ENOTCONN;
	if (wfail)
		return wfail;
	if (shut)
		return -EPIPE;
	return 0;
}

/* Append @w at the tail. */
static inline void coil__wq_push(struct coil_stream_write **head,
				 struct coil_stream_write **tail,
				 struct coil_stream_write *w)
{
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

/* Queue the request @w of @s, a write or a shutdown (marked
 * COIL_STREAM_W_SHUTDOWN by coil_stream_shutdown()), counting a write in
 * the stream's statistics: a stream's vt write and shutdown in one, once
 * coil__wq_state() said yes. */
static inline void coil__wq_add(struct coil_stream *s,
				struct coil_stream_write **head,
				struct coil_stream_write **tail,
				struct coil_stream_write *w)
{
	if (!(w->flags & COIL_STREAM_W_SHUTDOWN)) {
		s->stats.writes++;
		s->stats.queued += w->len;
		coil__max32(&s->stats.queued_max, s->stats.queued);
	}
	coil__wq_push(head, tail, w);
}

/* Remove the head request (the queue is not empty) and return it,
 * unlinked. */
static inline struct coil_stream_write *
coil__wq_pop(struct coil_stream_write **head, struct coil_stream_write **tail)
{
	struct coil_stream_write *w = *head;
	*head = w->next;
	if (!*head)
		*tail = NULL;
	w->next = NULL;
	return w;
}

/* Skip the iovecs of @w that are consumed (or empty); 1 if nothing is
 * left of it. */
static inline int coil__wq_done(struct coil_stream_write *w)
{
	while (w->idx < w->iovcnt && w->off >= w->iov[w->idx].iov_len) {
		w->idx++;
		w->off = 0;
	}
	return w->idx >= w->iovcnt;
}

/* Remove and return the head request if it is a write with nothing left
 * to consume, else NULL (an empty queue, a shutdown, bytes left). */
static inline struct coil_stream_write *
coil__wq_pop_done(struct coil_stream_write **head,
		  struct coil_stream_write **tail)
{
	struct coil_stream_write *w = *head;
	if (!w || (w->flags & COIL_STREAM_W_SHUTDOWN) || !coil__wq_done(w))
		return NULL;
	return coil__wq_pop(head, tail);
}

/* Empty the queue; return what it held, as an unlinked list. */
static inline struct coil_stream_write *
coil__wq_take(struct coil_stream_write **head, struct coil_stream_write **tail)
{
	struct coil_stream_write *w = *head;
	*head = *tail = NULL;
	return w;
}

/* Run the callbacks of the unlinked list @w, in order, with @status; each
 * request is the caller's again (flags cleared) when its callback starts. */
static inline void coil__wq_complete(struct coil_stream_write *w, int status)
{
	while (w) {
		struct coil_stream_write *next = w->next;
		w->next = NULL;
		w->flags = 0;
		if (w->cb)
			w->cb(w, status);
		w = next;
	}
}

/* Complete every queued request of @s with @err, in order; nothing is
 * queued any more. */
static inline void coil__wq_fail(struct coil_stream *s,
				 struct coil_stream_write **head,
				 struct coil_stream_write **tail, int err)
{
	struct coil_stream_write *w = coil__wq_take(head, tail);
	s->stats.queued = 0;
	coil__wq_complete(w, err);
}

/* @n bytes of the queue of @s were consumed by one send (TCP) or one
 * mbedtls_ssl_write() (TLS): count them and move the requests' progress
 * past them, from the head on. */
static inline void coil__wq_sent(struct coil_stream *s,
				 struct coil_stream_write *head, size_t n)
{
	s->stats.sends++;
	s->stats.bytes_out += (unsigned)n;
	s->stats.queued -= (unsigned)n;
	for (struct coil_stream_write *w = head; w && n; w = w->next) {
		while (n && w->idx < w->iovcnt) {
			size_t left = w->iov[w->idx].iov_len - w->off;
			if (n >= left) {
				n -= left;
				w->idx++;
				w->off = 0;
			} else {
				w->off += n;
				n = 0;
			}
		}
	}
}

#endif
