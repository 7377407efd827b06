/*
 * engine/stream.c - the stream interface (include/coil/stream.h):
 * argument checks and dispatch through the stream's vt, the state every
 * implementation shares (flags, callbacks, counters). The
 * implementations are engine/tcp.c and tls/session.c; they call the two
 * helpers here (coil_stream_init(), coil_stream_finish_close()), and
 * this file reaches them only through their vt.
 */

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "coil/stream.h"

void coil_stream_init(struct coil_stream *s, struct coil_loop *loop,
		      const struct coil_stream_vt *vt)
{
	void *data = s->data;
	memset(s, 0, sizeof(*s));
	s->data = data;
	s->vt = vt;
	s->loop = loop;
	s->flags = COIL_STREAM_OPEN;
}

void coil_stream_finish_close(struct coil_stream *s)
{
	coil_stream_close_cb cb = s->close_cb;
	s->flags = 0;
	s->read_cb = NULL;
	s->close_cb = NULL;
	if (cb)
		cb(s);
}

static int usable(const struct coil_stream *s)
{
	return s && s->vt && (s->flags & COIL_STREAM_OPEN);
}

int coil_stream_read_start(struct coil_stream *s, coil_stream_read_cb cb)
{
	if (!usable(s) || !cb)
		return -EINVAL;
	if (s->flags & COIL_STREAM_CLOSING)
		return COIL_ECLOSED;
	s->read_cb = cb;
	return s->vt->read_start(s);
}

int coil_stream_read_stop(struct coil_stream *s)
{
	if (!usable(s))
		return -EINVAL;
	if (s->flags & COIL_STREAM_CLOSING)
		return 0;
	return s->vt->read_stop(s);
}

static int queue_write(struct coil_stream *s, struct coil_stream_write *w,
		       unsigned flags)
{
	int ret;
	w->flags = COIL_STREAM_W_QUEUED | flags;
	w->next = NULL;
	w->idx = 0;
	w->off = 0;
	ret = (flags & COIL_STREAM_W_SHUTDOWN) ? s->vt->shutdown(s, w)
					       : s->vt->write(s, w);
	if (ret < 0)
		w->flags = 0;
	return ret;
}

static int write_check(struct coil_stream *s, struct coil_stream_write *w)
{
	if (!usable(s) || !w)
		return -EINVAL;
	if (w->flags & COIL_STREAM_W_QUEUED)
		return -EBUSY;
	if (s->flags & COIL_STREAM_CLOSING)
		return COIL_ECLOSED;
	return 0;
}

int coil_stream_write(struct coil_stream *s, struct coil_stream_write *w,
		      const void *buf, size_t len, coil_stream_write_cb cb)
{
	int ret = write_check(s, w);
	if (ret < 0)
		return ret;
	if (!buf && len)
		return -EINVAL;
	w->cb = cb;
	w->one.iov_base = (void *)buf;
	w->one.iov_len = len;
	w->iov = &w->one;
	w->iovcnt = 1;
	w->len = len;
	return queue_write(s, w, 0);
}

static int writev_flags(struct coil_stream *s, struct coil_stream_write *w,
			const struct iovec *iov, unsigned iovcnt,
			coil_stream_write_cb cb, unsigned flags)
{
	size_t len = 0;
	int ret = write_check(s, w);
	if (ret < 0)
		return ret;
	if ((!iov && iovcnt) || iovcnt > 1024)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_base && iov[i].iov_len)
			return -EINVAL;
		if (iov[i].iov_len > (size_t)SSIZE_MAX - len)
			return -EINVAL;
		len += iov[i].iov_len;
	}
	w->cb = cb;
	w->iov = iov;
	w->iovcnt = iovcnt;
	w->len = len;
	return queue_write(s, w, flags);
}

int coil_stream_writev(struct coil_stream *s, struct coil_stream_write *w,
		       const struct iovec *iov, unsigned iovcnt,
		       coil_stream_write_cb cb)
{
	return writev_flags(s, w, iov, iovcnt, cb, 0);
}

int coil_stream_writev_more(struct coil_stream *s, struct coil_stream_write *w,
			    const struct iovec *iov, unsigned iovcnt,
			    coil_stream_write_cb cb)
{
	return writev_flags(s, w, iov, iovcnt, cb, COIL_STREAM_W_MORE);
}

int coil_stream_shutdown(struct coil_stream *s, struct coil_stream_write *w,
			 coil_stream_write_cb cb)
{
	int ret = write_check(s, w);
	if (ret < 0)
		return ret;
	w->cb = cb;
	w->one.iov_base = NULL;
	w->one.iov_len = 0;
	w->iov = &w->one;
	w->iovcnt = 0;
	w->len = 0;
	return queue_write(s, w, COIL_STREAM_W_SHUTDOWN);
}

int coil_stream_close(struct coil_stream *s, coil_stream_close_cb cb)
{
	if (!usable(s))
		return -EINVAL;
	if (s->flags & COIL_STREAM_CLOSING)
		return -EALREADY;
	s->flags |= COIL_STREAM_CLOSING;
	s->close_cb = cb;
	return s->vt->close(s);
}

int coil_stream_set_timeouts(struct coil_stream *s, uint64_t idle_ns,
			     uint64_t read_ns, uint64_t write_ns)
{
	if (!usable(s))
		return -EINVAL;
	if (s->flags & COIL_STREAM_CLOSING)
		return COIL_ECLOSED;
	return s->vt->set_timeouts(s, idle_ns, read_ns, write_ns);
}

int coil_stream_fd(const struct coil_stream *s)
{
	if (!usable(s))
		return -1;
	return s->vt->fd(s);
}

uint64_t coil_stream_rx_time(const struct coil_stream *s)
{
	return s ? s->rx_ns : 0;
}

struct coil_stream_stats coil_stream_stats(const struct coil_stream *s)
{
	struct coil_stream_stats st = {0};
	const struct coil__stream_ctr *c;

	if (!s)
		return st;
	c = &s->stats;
	st.bytes_in = c->bytes_in;
	st.bytes_out = c->bytes_out;
	st.recvs = c->recvs;
	st.sends = c->sends;
	st.writes = c->writes;
	st.queued = c->queued;
	st.queued_max = c->queued_max;
	st.held = c->held;
	st.held_max = c->held_max;
	st.spilled = c->spilled;
	st.spill_max = c->spill_max;
	st.pauses = c->pauses;
	st.rx_stamped = c->rx_stamped;
	return st;
}
