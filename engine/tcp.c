/*
 * engine/tcp.c - the TCP stream (struct coil_tcp), the stream interface's
 * implementation over a socket (engine/stream.c dispatches to it through
 * tcp_vt).
 *
 * A TCP stream owns four ops: rd (connect, then recv), wr (send or sendmsg,
 * shutdown, and last the close), kick (posted to the loop: flushes the
 * write queue and delivers held bytes, so neither happens inline from the
 * caller's call and everything written in one turn leaves in one send) and
 * tmr (the idle/read deadline timer). The kick, the flag word t->st and
 * pump() are the idiom docs/ARCHITECTURE.md describes ("The kick and the
 * pump"). Closing cancels what is in flight
 * and waits until none of the four is busy before closing the fd, so no
 * completion can arrive for a stream whose close callback ran.
 *
 * Reading: a multishot recv into the loop's provided buffers when the loop
 * has it (kernel 6.0), else single-shot recvs into the stream's own buffer.
 * Pausing cancels the multishot recv; whatever the kernel delivered before
 * the cancel took effect is held (bid, len) and delivered on resume, ahead
 * of an EOF or error that came after it.
 *
 * Why one file of about 1,000 lines: connect, read, write, the kick and
 * close are one state machine over one flag word (t->st) and one pump;
 * cut in two, the halves would call each other. What calls nothing back
 * is out already: the address order (engine/addr_order.c), the stream
 * interface (engine/stream.c).
 */

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <linux/net_tstamp.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "coil/stream.h"
#include "blkcache.h"
#include "grow.h"
#include "internal.h"
#include "wq.h"

/* t->st bits */
#define T_CONNECTING (1u << 0)
#define T_CONNECTED (1u << 1)
#define T_MULTI (1u << 2)	/* reads by multishot recv */
#define T_RWANT (1u << 3)	/* reading started and not paused */
#define T_RDONE (1u << 4)	/* EOF/error delivered: no read cb any more */
#define T_REND (1u << 5)	/* rd_end waits behind held bytes */
#define T_RCANCEL (1u << 6)	/* we cancelled rd: its -ECANCELED is ours */
#define T_SHUT (1u << 7)	/* shutdown queued: no more writes */
#define T_WR_SHUT (1u << 8)	/* wr is the shutdown(2) */
#define T_CLOSE_FD (1u << 9)	/* wr is the close of the fd */
#define T_KICK_CLOSE (1u << 10) /* kick ends a close without fd */
#define T_TMR_REARM (1u << 11)	/* timer removed, to re-arm earlier */
#define T_PUMPING (1u << 12)	/* delivering held bytes: no nesting */
#define T_STAMP (1u << 13)	/* multishot recvmsg with receive timestamps */
#define T_QUIET (1u << 14)	/* a quiet send is out, not yet answered */

static const struct coil_stream_vt tcp_vt;

static struct coil_tcp *tcp_of(struct coil_stream *s)
{
	return coil_container_of(s, struct coil_tcp, s);
}

static int closing(const struct coil_tcp *t)
{
	return (t->s.flags & COIL_STREAM_CLOSING) != 0;
}

static int ops_busy(const struct coil_tcp *t)
{
	return coil_op_busy(&t->rd) || coil_op_busy(&t->wr) ||
	       coil_op_busy(&t->kick) || coil_op_busy(&t->tmr);
}

/* Run flush/delivery from the loop on this turn (or the next). */
static void kick(struct coil_tcp *t)
{
	if (!coil_op_busy(&t->kick))
		coil_loop_post(t->s.loop, &t->kick, 0);
}

static void close_step(struct coil_tcp *t);
static void fail_stream(struct coil_tcp *t, int err);
static void tmr_update(struct coil_tcp *t);

/* ---- held bytes ---- */

/* Copy @len bytes aside (after the held buffers). Return: 0 or -ENOMEM. */
static int spill(struct coil_tcp *t, const void *p, size_t len)
{
	if (t->spill_off + t->spill_len + len > t->spill_cap) {
		if (t->spill_off) {
			memmove(t->spill, t->spill + t->spill_off,
				t->spill_len);
			t->spill_off = 0;
		}
		if (t->spill_len + len > t->spill_cap) {
			unsigned char *n =
				coil__grow(t->spill, &t->spill_cap,
					   t->spill_len + len, 65536);
			if (!n)
				return -ENOMEM;
			t->spill = n;
		}
	}
	memcpy(t->spill + t->spill_off + t->spill_len, p, len);
	t->spill_len += len;
	t->s.stats.spilled += len;
	if (t->spill_len > t->s.stats.spill_max)
		t->s.stats.spill_max = t->spill_len;
	return 0;
}

static void spill_free(struct coil_tcp *t)
{
	free(t->spill);
	t->spill = NULL;
	t->spill_off = t->spill_len = t->spill_cap = 0;
}

/* Keep provided buffer @bid (@len bytes at @p inside it, received at @rx)
 * until reading resumes: in the ring while fewer than COIL_TCP_HELD are
 * held and nothing was spilled, else as a copy. Return: 0 or -ENOMEM (the
 * buffer went back either way unless held). */
static int held_push(struct coil_tcp *t, unsigned bid, const void *p,
		     unsigned len, uint64_t rx)
{
	struct coil_loop *loop = t->s.loop;
	int ret;

	if (t->held_n < COIL_TCP_HELD && !t->spill_len) {
		unsigned i = (t->held_head + t->held_n++) % COIL_TCP_HELD;
		uint64_t off =
			(uint64_t)((const char *)p -
				   (const char *)coil_buf_ptr(loop, bid));
		t->held[i] = (uint64_t)bid << 48 | off << 32 | len;
		t->held_rx[i] = rx;
		t->s.stats.held = t->held_n;
		if (t->held_n > t->s.stats.held_max)
			t->s.stats.held_max = t->held_n;
		return 0;
	}
	ret = spill(t, p, len);
	t->spill_rx = rx;
	coil_buf_put(loop, bid);
	return ret;
}

static uint64_t held_pop(struct coil_tcp *t, uint64_t *rx)
{
	uint64_t v = t->held[t->held_head];
	*rx = t->held_rx[t->held_head];
	t->held_head = (t->held_head + 1) % COIL_TCP_HELD;
	t->held_n--;
	t->s.stats.held = t->held_n;
	return v;
}

/* Give every held buffer back; the bytes are dropped. */
static void held_drop(struct coil_tcp *t)
{
	uint64_t rx;
	while (t->held_n)
		coil_buf_put(t->s.loop, (unsigned)(held_pop(t, &rx) >> 48));
	spill_free(t);
	t->rbuf_len = 0;
}

static int has_held(const struct coil_tcp *t)
{
	return t->held_n || t->spill_len || t->rbuf_len;
}

/* ---- reading ---- */

/* The current read's time: @v with bit 0 set when the kernel stamped it. */
static void set_rx(struct coil_tcp *t, uint64_t v)
{
	t->s.rx_ns = v & ~1ull;
	if (v & 1)
		t->s.flags |= COIL_STREAM_RX_KERNEL;
	else
		t->s.flags &= ~COIL_STREAM_RX_KERNEL;
}

static int can_deliver(const struct coil_tcp *t)
{
	return (t->st & T_RWANT) && !(t->st & T_RDONE) && !closing(t) &&
	       t->s.read_cb;
}

static void read_end(struct coil_tcp *t, int res)
{
	if (t->st & (T_RDONE | T_REND))
		return;
	t->rd_end = res;
	t->st |= T_REND;
}

/* Arm a recv if reading is wanted and nothing else stands in the way. */
static void rd_arm(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;
	int ret;

	if (!(t->st & T_RWANT) || (t->st & (T_RDONE | T_REND)) ||
	    !(t->st & T_CONNECTED) || closing(t) || has_held(t) || t->fail ||
	    coil_op_busy(&t->rd))
		return;
	if (t->st & T_STAMP)
		ret = coil_recv_multishot_ts(loop, &t->rd, t->fd);
	else if (t->st & T_MULTI)
		ret = coil_recv_multishot(loop, &t->rd, t->fd);
	else
		ret = coil_recv(loop, &t->rd, t->fd, t->rbuf, t->rbuf_size, 0);
	if (ret < 0) {
		read_end(t, ret);
		kick(t);
	}
}

/* Deliver held bytes, then a pending end, while reading is wanted (a
 * failure even while paused); then re-arm. Runs from the loop only. */
static void pump(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;

	if (t->st & T_PUMPING)
		return;
	t->st |= T_PUMPING;
	while (!closing(t) && !(t->st & T_RDONE) && t->s.read_cb) {
		if (t->fail) {
			t->st &= ~T_REND;
			t->st |= T_RDONE;
			set_rx(t, coil_now(loop));
			t->s.read_cb(&t->s, t->fail, NULL);
			break;
		}
		if (!(t->st & T_RWANT))
			break;
		if (t->held_n) {
			uint64_t rx, v = held_pop(t, &rx);
			unsigned bid = (unsigned)(v >> 48);
			unsigned off = (unsigned)(v >> 32) & 0xffff;
			set_rx(t, rx);
			t->s.read_cb(&t->s, (ssize_t)(uint32_t)v,
				     (char *)coil_buf_ptr(loop, bid) + off);
			coil_buf_put(loop, bid);
		} else if (t->spill_len) {
			/* in buffer-sized pieces, so pausing still works */
			size_t len = t->spill_len, max = coil_buf_size(loop);
			const unsigned char *p = t->spill + t->spill_off;
			if (len > max)
				len = max;
			t->spill_off += len;
			t->spill_len -= len;
			set_rx(t, t->spill_rx);
			t->s.read_cb(&t->s, (ssize_t)len, p);
			if (!t->spill_len)
				spill_free(t);
		} else if (t->rbuf_len) {
			unsigned len = t->rbuf_len;
			t->rbuf_len = 0;
			set_rx(t, t->rbuf_rx);
			t->s.read_cb(&t->s, (ssize_t)len,
				     t->rbuf + t->rbuf_off);
		} else if (t->st & T_REND) {
			/* The kernel reports a reset once (sock_error()
			 * clears it): if a send took it, the recv then
			 * sees a plain EOF. It was no clean end. */
			int end = t->rd_end;
			if (end == 0 && t->wfail == -ECONNRESET)
				end = -ECONNRESET;
			t->st &= ~T_REND;
			t->st |= T_RDONE;
			set_rx(t, coil_now(loop));
			t->s.read_cb(&t->s, end, NULL);
		} else {
			break;
		}
	}
	t->st &= ~T_PUMPING;
	rd_arm(t);
	tmr_update(t);
}

static void connect_done(struct coil_tcp *t, int res);
static void flush(struct coil_tcp *t);
static struct coil_stream_write *pop_done(struct coil_tcp *t);

/* COIL_TCP_QUIET_SENDS: bytes arrived, so the peer had what the quiet send
 * carried: complete its writes and send what queued behind them. */
static void quiet_answered(struct coil_tcp *t)
{
	t->st &= ~T_QUIET;
	t->last_any_ns = coil_now(t->s.loop);
	coil__wq_sent(&t->s, t->wq_head, t->sending);
	t->s.stats.sends--; /* counted when it left */
	t->sending = 0;
	coil__wq_complete(pop_done(t), 0);
	if (!closing(t))
		flush(t);
}

static void rd_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tcp *t = coil_container_of(op, struct coil_tcp, rd);
	struct coil_loop *loop = t->s.loop;

	if (t->st & T_CONNECTING) {
		connect_done(t, res);
		return;
	}
	if (res > 0) {
		unsigned bid = coil_buf_id(flags);
		int buf = (flags & COIL_BUFFER) != 0;
		const void *p = buf ? coil_buf_ptr(loop, bid) : t->rbuf;
		unsigned len = (unsigned)res;
		uint64_t rx = 0;

		if (buf && (t->st & T_STAMP))
			rx = coil_buf_recvmsg(loop, bid, res, &p, &len);
		if (rx)
			t->s.stats.rx_stamped++;
		/* bit 0 says "the kernel's" (1 ns is below any clock's
		 * resolution here) */
		rx = rx ? rx | 1 : coil_now(loop) & ~1ull;
		t->s.stats.recvs++;
		t->s.stats.bytes_in += len;
		t->last_rd_ns = t->last_any_ns = coil_now(loop);
		if ((t->st & T_QUIET) && len)
			quiet_answered(t);
		if (closing(t) || (t->st & T_RDONE) || t->fail || !len) {
			if (buf)
				coil_buf_put(loop, bid);
		} else if (can_deliver(t) && !has_held(t)) {
			set_rx(t, rx);
			t->s.read_cb(&t->s, (ssize_t)len, p);
			if (buf)
				coil_buf_put(loop, bid);
		} else if (buf) {
			if (held_push(t, bid, p, len, rx) < 0)
				fail_stream(t, -ENOMEM);
		} else {
			t->rbuf_off = 0;
			t->rbuf_len = len;
			t->rbuf_rx = rx;
		}
	} else if (flags & COIL_BUFFER) {
		coil_buf_put(loop, coil_buf_id(flags));
	}
	if (flags & COIL_MORE)
		return;
	/* the final completion of this submission */
	if (res == 0)
		read_end(t, 0);
	else if (res < 0 && !(res == -ECANCELED && (t->st & T_RCANCEL)))
		read_end(t, res);
	t->st &= ~T_RCANCEL;
	if (closing(t)) {
		close_step(t);
		return;
	}
	pump(t);
}

static int tcp_read_start(struct coil_stream *s)
{
	struct coil_tcp *t = tcp_of(s);

	if (!(t->st & T_MULTI) && !t->rbuf) {
		t->rbuf = malloc(t->rbuf_size);
		if (!t->rbuf)
			return -ENOMEM;
	}
	if (t->st & T_RWANT)
		return 0;
	t->st |= T_RWANT;
	t->last_rd_ns = coil_now(s->loop);
	if (!(t->st & T_CONNECTED) || (t->st & T_PUMPING))
		return 0;
	/* Held bytes are delivered, and the recv armed, from the loop: no
	 * callback inline, and no deadline scope of the caller's applies. */
	kick(t);
	return 0;
}

static int tcp_read_stop(struct coil_stream *s)
{
	struct coil_tcp *t = tcp_of(s);

	if (!(t->st & T_RWANT))
		return 0;
	t->st &= ~T_RWANT;
	t->s.stats.pauses++;
	if ((t->st & T_MULTI) && (t->st & T_CONNECTED) &&
	    coil_op_busy(&t->rd) && !(t->st & T_RCANCEL)) {
		if (coil_cancel(s->loop, &t->rd) == 0)
			t->st |= T_RCANCEL;
	}
	return 0;
}

/* ---- writing ---- */

/* Complete every queued request with @err, in order. */
static void fail_writes(struct coil_tcp *t, int err)
{
	coil__wq_fail(&t->s, &t->wq_head, &t->wq_tail, err);
}

/* Detach the finished requests at the head of the queue. */
static struct coil_stream_write *pop_done(struct coil_tcp *t)
{
	struct coil_stream_write *first = NULL, **tail = &first, *w;
	while ((w = coil__wq_pop_done(&t->wq_head, &t->wq_tail))) {
		*tail = w;
		tail = &w->next;
	}
	return first;
}

/*
 * A sendmsg's header and iovecs. The kernel reads them until the send
 * completes, so they must outlive the call, but only while a send of more
 * than one iovec is in flight: a block of the loop's (engine/blkcache.h)
 * then, not 568 bytes in every stream, idle ones included.
 */
struct coil__sendv {
	struct msghdr msg;
	struct iovec iov[COIL_TCP_IOV];
};

static void sendv_put(struct coil_tcp *t)
{
	coil__blk_put(t->s.loop, t->sv);
	t->sv = NULL;
}

/* Send what is queued: one send or sendmsg for up to COIL_TCP_IOV iovecs
 * gathered across requests, or the shutdown when it reaches the head. */
static void flush(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;
	int ret;

	while (!coil_op_busy(&t->wr) && !(t->st & T_QUIET) && !closing(t) &&
	       (t->st & T_CONNECTED) && t->wq_head) {
		struct coil_stream_write *w = t->wq_head, *last = NULL;
		struct iovec iov[COIL_TCP_IOV];
		unsigned n = 0, all = 1;
		int more;
		size_t bytes = 0;

		if (t->fail || t->wfail) {
			fail_writes(t, t->fail ? t->fail : t->wfail);
			return;
		}

		if (w->flags & COIL_STREAM_W_SHUTDOWN) {
			if (t->write_ns)
				coil_op_timeout(&t->wr, t->write_ns);
			ret = coil_shutdown(loop, &t->wr, t->fd, SHUT_WR);
			if (ret == 0) {
				t->st |= T_WR_SHUT;
				return;
			}
			fail_writes(t, ret);
			return;
		}
		for (; w && n < COIL_TCP_IOV; w = w->next) {
			if (w->flags & COIL_STREAM_W_SHUTDOWN)
				break;
			last = w;
			for (unsigned i = w->idx; i < w->iovcnt; i++) {
				size_t skip = i == w->idx ? w->off : 0;
				size_t len = w->iov[i].iov_len - skip;
				if (!len)
					continue;
				if (n == COIL_TCP_IOV) {
					all = 0; /* more of @w than fits */
					break;
				}
				iov[n].iov_base =
					(char *)w->iov[i].iov_base + skip;
				iov[n].iov_len = len;
				bytes += len;
				n++;
			}
		}
		if (!bytes) { /* only empty requests at the head */
			coil__wq_complete(pop_done(t), 0);
			continue;
		}
		/* MSG_MORE: the last request asked for it, and it ends this
		 * send with nothing queued behind it */
		more = all && last && !last->next &&
				       (last->flags & COIL_STREAM_W_MORE)
			       ? MSG_MORE
			       : 0;
		if (n == 1 && !more && (t->opt_flags & COIL_TCP_QUIET_SENDS) &&
		    !t->write_ns &&
		    coil_send_quiet(loop, t->fd, iov[0].iov_base,
				    iov[0].iov_len) == 0) {
			/* done when the peer answers: quiet_answered() */
			t->st |= T_QUIET;
			t->sending = bytes;
			t->s.stats.sends++; /* when it leaves, as others */
			return;
		}
		if (t->write_ns)
			coil_op_timeout(&t->wr, t->write_ns);
		if (n == 1) {
			ret = coil_send(loop, &t->wr, t->fd, iov[0].iov_base,
					iov[0].iov_len, more);
		} else if (!(t->sv = coil__blk_get(loop, sizeof(*t->sv)))) {
			ret = -ENOMEM;
		} else {
			memcpy(t->sv->iov, iov, n * sizeof(iov[0]));
			memset(&t->sv->msg, 0, sizeof(t->sv->msg));
			t->sv->msg.msg_iov = t->sv->iov;
			t->sv->msg.msg_iovlen = n;
			ret = coil_sendmsg(loop, &t->wr, t->fd, &t->sv->msg,
					   more);
			if (ret < 0)
				sendv_put(t);
		}
		if (ret < 0) {
			t->wfail = ret;
			fail_writes(t, ret);
			return;
		}
		t->sending = bytes;
		return;
	}
}

static void close_done(struct coil_tcp *t);

static void wr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tcp *t = coil_container_of(op, struct coil_tcp, wr);

	if (t->sv) /* the sendmsg is over: the kernel read its iovecs */
		sendv_put(t);
	if (t->st & T_CLOSE_FD) {
		close_done(t);
		return;
	}
	if (res < 0) {
		int err;
		t->st &= ~T_WR_SHUT;
		if (!closing(t) && !t->fail) {
			if (res == -ETIMEDOUT)
				fail_stream(t, res);
			else
				t->wfail = res;
		}
		if (closing(t) && res == -ECANCELED)
			err = -ECANCELED;
		else
			err = t->fail ? t->fail : res;
		fail_writes(t, err);
		if (closing(t))
			close_step(t);
		return;
	}
	if (t->st & T_WR_SHUT) {
		t->st &= ~T_WR_SHUT;
		coil__wq_complete(coil__wq_pop(&t->wq_head, &t->wq_tail), 0);
	} else {
		if (res > 0)
			t->last_any_ns = coil_now(t->s.loop);
		coil__wq_sent(&t->s, t->wq_head, (size_t)res);
		coil__wq_complete(pop_done(t), 0);
	}
	if (closing(t)) {
		close_step(t);
		return;
	}
	flush(t);
}

/* t->fail is only ever set on a connected stream, so its place ahead of
 * -ENOTCONN in coil__wq_state() changes nothing here. */
static int write_state(const struct coil_tcp *t)
{
	return coil__wq_state(t->fail, (t->st & T_CONNECTED) != 0, t->wfail,
			      (t->st & T_SHUT) != 0);
}

/* The vt's write and shutdown: queue @w behind every earlier request. */
static int tcp_queue(struct coil_stream *s, struct coil_stream_write *w)
{
	struct coil_tcp *t = tcp_of(s);
	int ret = write_state(t);
	if (ret < 0)
		return ret;
	coil__wq_add(s, &t->wq_head, &t->wq_tail, w);
	if (w->flags & COIL_STREAM_W_SHUTDOWN)
		t->st |= T_SHUT;
	if (!coil_op_busy(&t->wr))
		kick(t);
	return 0;
}

/* ---- deadlines ---- */

static int read_timed(const struct coil_tcp *t)
{
	return t->read_ns && (t->st & T_RWANT) &&
	       !(t->st & (T_RDONE | T_REND)) && !has_held(t);
}

static uint64_t tmr_next(const struct coil_tcp *t)
{
	uint64_t next = 0;
	if (t->idle_ns)
		next = t->last_any_ns + t->idle_ns;
	if (read_timed(t)) {
		uint64_t d = t->last_rd_ns + t->read_ns;
		if (!next || d < next)
			next = d;
	}
	return next;
}

static void tmr_update(struct coil_tcp *t)
{
	uint64_t next;

	if (closing(t) || t->fail || !(t->st & T_CONNECTED))
		return;
	next = tmr_next(t);
	if (!next)
		return;
	if (coil_op_busy(&t->tmr)) {
		if (t->tmr_at_ns <= next || (t->st & T_TMR_REARM))
			return;
		if (coil_timeout_remove(t->s.loop, &t->tmr) == 0)
			t->st |= T_TMR_REARM;
		return;
	}
	t->tmr_at_ns = next;
	if (coil_timeout(t->s.loop, &t->tmr, next, COIL_TIMEOUT_ABS) < 0)
		fail_stream(t, -ENOMEM);
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tcp *t = coil_container_of(op, struct coil_tcp, tmr);
	uint64_t now = coil_now(t->s.loop);

	t->st &= ~T_TMR_REARM;
	if (closing(t)) {
		close_step(t);
		return;
	}
	if (res == 0 && !t->fail) {
		if ((t->idle_ns && now >= t->last_any_ns + t->idle_ns) ||
		    (read_timed(t) && now >= t->last_rd_ns + t->read_ns)) {
			fail_stream(t, -ETIMEDOUT);
			return;
		}
	}
	tmr_update(t);
}

static int tcp_set_timeouts(struct coil_stream *s, uint64_t idle_ns,
			    uint64_t read_ns, uint64_t write_ns)
{
	struct coil_tcp *t = tcp_of(s);
	t->idle_ns = idle_ns;
	t->read_ns = read_ns;
	t->write_ns = write_ns;
	t->last_rd_ns = t->last_any_ns = coil_now(s->loop);
	tmr_update(t);
	return 0;
}

/* The stream failed (a deadline, no memory). From the loop (the kick),
 * the read callback gets @err, even while paused, and queued writes
 * complete with it; ops in flight are cancelled. */
static void fail_stream(struct coil_tcp *t, int err)
{
	struct coil_loop *loop = t->s.loop;

	if (t->fail || closing(t))
		return;
	t->fail = err;
	if (coil_op_busy(&t->rd) && !(t->st & T_RCANCEL) &&
	    coil_cancel(loop, &t->rd) == 0)
		t->st |= T_RCANCEL;
	if (!(t->st & T_RDONE))
		held_drop(t);
	if (coil_op_busy(&t->wr))
		coil_cancel(loop, &t->wr); /* its callback fails the queue */
	kick(t);
}

/* ---- closing ---- */

static int tcp_close(struct coil_stream *s)
{
	struct coil_tcp *t = tcp_of(s);
	struct coil_loop *loop = s->loop;

	t->st &= ~T_RWANT;
	/* Each op by itself: the kernel finds an op by its user_data in a
	 * hash, but IORING_ASYNC_CANCEL_FD walks every poll entry of the
	 * ring, so closing n streams at once cost O(n^2): 2 s for 8,000 idle
	 * connections (io_cancel_req_match 74% of the profile). */
	if (t->fd >= 0 && (t->st & T_QUIET)) {
		/* a quiet send has no op to name: by the fd (rare: only a
		 * close before the answer) */
		coil_cancel_fd(loop, t->fd);
		t->st &= ~T_QUIET;
	} else if (t->fd >= 0) {
		if (coil_op_busy(&t->rd))
			coil_cancel(loop, &t->rd);
		if (coil_op_busy(&t->wr))
			coil_cancel(loop, &t->wr);
	}
	if (coil_op_busy(&t->tmr))
		coil_timeout_remove(loop, &t->tmr);
	kick(t); /* close_step from the loop, never inline */
	return 0;
}

/* Once nothing is in flight: finish the requests, give buffers back and
 * close the fd through the ring. */
static void close_step(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;

	if (ops_busy(t) || (t->st & (T_CLOSE_FD | T_KICK_CLOSE)))
		return;
	fail_writes(t, -ECANCELED);
	held_drop(t);
	if (ops_busy(t)) /* a write callback cannot submit, but be sure */
		return;
	if (t->fd >= 0) {
		coil_op_init(&t->wr, wr_cb);
		if (coil_close(loop, &t->wr, t->fd) == 0) {
			t->st |= T_CLOSE_FD;
			return;
		}
		close(t->fd);
		t->fd = -1;
	}
	t->st |= T_KICK_CLOSE;
	coil_loop_post(loop, &t->kick, 0);
}

static void close_done(struct coil_tcp *t)
{
	t->fd = -1;
	free(t->rbuf);
	t->rbuf = NULL;
	t->st = 0;
	coil_stream_finish_close(&t->s);
}

static void kick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tcp *t = coil_container_of(op, struct coil_tcp, kick);

	if (t->st & T_KICK_CLOSE) {
		close_done(t);
		return;
	}
	if (closing(t)) {
		close_step(t);
		return;
	}
	pump(t);
	if (closing(t))
		return;
	flush(t);
}

static int tcp_fd(const struct coil_stream *s)
{
	return coil_container_of(s, const struct coil_tcp, s)->fd;
}

static const struct coil_stream_vt tcp_vt = {
	.name = "tcp",
	.read_start = tcp_read_start,
	.read_stop = tcp_read_stop,
	.write = tcp_queue,
	.shutdown = tcp_queue,
	.close = tcp_close,
	.set_timeouts = tcp_set_timeouts,
	.fd = tcp_fd,
};

/* ---- set-up ---- */

static void tcp_init(struct coil_loop *loop, struct coil_tcp *t,
		     const struct coil_tcp_opts *opts)
{
	struct coil_tcp_opts o = {0};
	void *data = t->s.data;

	if (opts)
		o = *opts;
	memset(t, 0, sizeof(*t));
	t->s.data = data;
	coil_stream_init(&t->s, loop, &tcp_vt);
	t->fd = -1;
	coil_op_init(&t->rd, rd_cb);
	coil_op_init(&t->wr, wr_cb);
	coil_op_init(&t->kick, kick_cb);
	coil_op_init(&t->tmr, tmr_cb);
	t->rbuf_size = o.rbuf_size ? o.rbuf_size : 16384;
	t->idle_ns = o.idle_timeout_ns;
	t->read_ns = o.read_timeout_ns;
	t->write_ns = o.write_timeout_ns;
	t->sndbuf = o.sndbuf;
	t->rcvbuf = o.rcvbuf;
	t->opt_flags = o.flags;
	t->connect_deadline_ns = o.connect_timeout_ns;
	if ((coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) &&
	    !(o.flags & COIL_TCP_SINGLESHOT)) {
		t->st |= T_MULTI;
		if (o.flags & COIL_TCP_RX_TIME)
			t->st |= T_STAMP;
	}
}

static void sock_opts(struct coil_tcp *t, int fd)
{
	int one = 1;
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	/* without the option the reads are timed when reaped */
	if ((t->st & T_STAMP) &&
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0)
		t->st &= ~T_STAMP;
	if (!(t->opt_flags & COIL_TCP_NO_NODELAY))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (t->sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &t->sndbuf,
			   sizeof(t->sndbuf));
	if (t->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &t->rcvbuf,
			   sizeof(t->rcvbuf));
}

static void connected(struct coil_tcp *t)
{
	t->st |= T_CONNECTED;
	t->last_rd_ns = t->last_any_ns = coil_now(t->s.loop);
}

int coil_tcp_open(struct coil_loop *loop, struct coil_tcp *t, int fd,
		  const struct coil_tcp_opts *opts)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (!loop || !t)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_STREAM)
		return -EPROTOTYPE;
	tcp_init(loop, t, opts);
	t->fd = fd;
	sock_opts(t, fd);
	connected(t);
	tmr_update(t);
	return 0;
}

/* ---- connect ---- */

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_UNIX)
		return sizeof(struct sockaddr_un);
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in);
}

/* Start the next attempt. Return: 0 if one is in flight, else -errno. */
static int attempt(struct coil_tcp *t, int last_err)
{
	struct coil_loop *loop = t->s.loop;
	const struct sockaddr_storage *a;
	uint64_t to = 0;
	int fd, ret;

	for (;;) {
		a = coil__tcp_next_addr(t);
		if (!a)
			return last_err;
		if (t->connect_deadline_ns) {
			uint64_t now = coil_now_update(loop);
			unsigned left = t->naddrs - t->tried;
			if (now >= t->connect_deadline_ns)
				return -ETIMEDOUT;
			to = (t->connect_deadline_ns - now) / left;
			if (!to)
				to = 1;
		}
		t->tried++;
		fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
			    a->ss_family == AF_UNIX ? 0 : IPPROTO_TCP);
		if (fd >= 0)
			break;
		/* a family this host lacks (no IPv6): on to the next */
		last_err = -errno;
		if (last_err != -EAFNOSUPPORT && last_err != -EPROTONOSUPPORT)
			return last_err;
	}
	sock_opts(t, fd);
	t->fd = fd;
	coil_op_timeout(&t->rd, to);
	ret = coil_connect(loop, &t->rd, fd, (const struct sockaddr *)a,
			   addr_len(a));
	if (ret < 0) {
		close(fd);
		t->fd = -1;
	}
	return ret;
}

static void connect_fail(struct coil_tcp *t, int err)
{
	coil_stream_connect_cb cb = t->connect_cb;
	t->st &= ~T_CONNECTING;
	t->connect_cb = NULL;
	t->addrs = NULL;
	cb(&t->s, err);
}

static void connect_done(struct coil_tcp *t, int res)
{
	int err = res;

	if (closing(t)) {
		/* the fd (if any) is closed by close_step */
		connect_fail(t, -ECANCELED);
		close_step(t);
		return;
	}
	if (res == 0) {
		coil_stream_connect_cb cb = t->connect_cb;
		t->st &= ~T_CONNECTING;
		t->connect_cb = NULL;
		t->addrs = NULL;
		connected(t);
		cb(&t->s, 0);
		if (closing(t))
			return;
		rd_arm(t);
		tmr_update(t);
		if (t->wq_head)
			kick(t);
		return;
	}
	close(t->fd);
	t->fd = -1;
	if (t->connect_deadline_ns &&
	    coil_now(t->s.loop) >= t->connect_deadline_ns)
		err = -ETIMEDOUT;
	else if (t->tried < t->naddrs)
		err = attempt(t, res);
	if (err < 0)
		connect_fail(t, err);
}

int coil_tcp_connect(struct coil_loop *loop, struct coil_tcp *t,
		     const struct sockaddr_storage *addrs, unsigned naddrs,
		     const struct coil_tcp_opts *opts,
		     coil_stream_connect_cb cb)
{
	uint64_t timeout;
	int ret;

	if (!loop || !t || !addrs || !cb || !naddrs || naddrs > 65535)
		return -EINVAL;
	for (unsigned i = 0; i < naddrs; i++) {
		/* AF_UNIX: only a list of nothing else (no Happy Eyeballs) */
		if ((addrs[i].ss_family == AF_UNIX) !=
		    (addrs[0].ss_family == AF_UNIX))
			return -EAFNOSUPPORT;
		if (addrs[i].ss_family != AF_INET &&
		    addrs[i].ss_family != AF_INET6 &&
		    addrs[i].ss_family != AF_UNIX)
			return -EAFNOSUPPORT;
	}
	tcp_init(loop, t, opts);
	timeout = t->connect_deadline_ns;
	t->connect_deadline_ns = timeout ? coil_now_update(loop) + timeout : 0;
	t->addrs = addrs;
	t->naddrs = naddrs;
	t->connect_cb = cb;
	t->st |= T_CONNECTING;
	ret = attempt(t, -ECONNREFUSED);
	if (ret < 0) {
		t->st = 0;
		t->s.flags = 0;
		return ret;
	}
	return 0;
}
