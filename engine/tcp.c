/*
 * engine/tcp.c - the TCP stream (struct coil_tcp), the stream interface's
 * implementation over a socket (engine/stream.c dispatches to it through
 * tcp_vt).
 *
 * A TCP stream owns three ops: rd (connect, then recv, and last the
 * close of the fd), in its write part wr (send or sendmsg, shutdown), and
 * in its extension tmr (the idle/read deadline timer). Its kick (flush
 * the write queue, deliver held bytes, so that neither happens inline
 * from the caller's call and everything written in one turn leaves in
 * one send) is a place in the loop's list of streams to kick, which one
 * posted op of the loop's runs in the order kicked (T_KICKQ; the link is
 * in the write part), so no stream carries an op of its own for it. The
 * kick, the flag word t->st and pump() are the idiom docs/ARCHITECTURE.md
 * describes ("The kick and the pump"). Closing cancels what is in flight
 * and waits until no op is busy and no kick due before closing the fd,
 * so no completion can arrive for a stream whose close callback ran.
 *
 * Two blocks of the loop's (engine/blkcache.h) hold the rest, each taken
 * by the call that first needs it and given back by the op callback that
 * finds it unused (parts_idle()): the write part (struct coil__tcp_wr:
 * wr, the write queue, the kick's link), by a write or a kick; the
 * extension (struct coil__tcp_ext: tmr, held bytes, the single-shot
 * buffer, the connect's addresses and the deadlines), by a pause,
 * deadlines, single-shot reads or a connect. So a write in flight holds
 * only what its send needs, and a keep-alive server connection between
 * requests is its core alone. Without a write part, a kick is the read op
 * posted in its place when rd is not in flight (T_RD_POST); when rd is,
 * the kick takes the write part for its link (or, without memory, leaves
 * it to rd's own completion).
 *
 * Reading: a multishot recv into the loop's provided buffers when the loop
 * has it (kernel 6.0), else single-shot recvs into the stream's own buffer.
 * Pausing cancels the multishot recv; whatever the kernel delivered before
 * the cancel took effect is held (bid, len), or copied when the loop's
 * buffers are consumed incrementally, and delivered on resume, ahead of
 * an EOF or error that came after it.
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
#define T_MULTI (1u << 2)	 /* reads by multishot recv */
#define T_RWANT (1u << 3)	 /* reading started and not paused */
#define T_RDONE (1u << 4)	 /* EOF/error delivered: no read cb any more */
#define T_REND (1u << 5)	 /* rd_end waits behind held bytes */
#define T_RCANCEL (1u << 6)	 /* we cancelled rd: its -ECANCELED is ours */
#define T_SHUT (1u << 7)	 /* shutdown queued: no more writes */
#define T_WR_SHUT (1u << 8)	 /* wr is the shutdown(2) */
#define T_CLOSE_FD (1u << 9)	 /* rd is the close of the fd */
#define T_KICK_CLOSE (1u << 10)	 /* the kick ends a close without fd */
#define T_TMR_REARM (1u << 11)	 /* timer removed, to re-arm earlier */
#define T_PUMPING (1u << 12)	 /* delivering held bytes: no nesting */
#define T_STAMP (1u << 13)	 /* multishot recvmsg with receive timestamps */
#define T_QUIET (1u << 14)	 /* a quiet send is out, not yet answered */
#define T_RD_POST (1u << 15)	 /* rd is posted as the kick (no ext) */
#define T_QUIET_OK (1u << 16)	 /* COIL_TCP_QUIET_SENDS */
#define T_NODELAY_OFF (1u << 17) /* COIL_TCP_NO_NODELAY */
#define T_TAIL (1u << 18)	 /* rd takes a short tail by a plain recv */
#define T_KICKQ (1u << 19)	 /* in the loop's list of streams to kick */

static const struct coil_stream_vt tcp_vt;

static struct coil_tcp *tcp_of(struct coil_stream *s)
{
	return coil_container_of(s, struct coil_tcp, s);
}

static int closing(const struct coil_tcp *t)
{
	return (t->s.flags & COIL_STREAM_CLOSING) != 0;
}

/* An op in flight, or the kick due: the stream cannot close yet. */
static int ops_busy(const struct coil_tcp *t)
{
	return coil_op_busy(&t->rd) || (t->st & T_KICKQ) ||
	       (t->w && coil_op_busy(&t->w->wr)) ||
	       (t->x && coil_op_busy(&t->x->tmr));
}

/* ---- the write part and the extension: everything beyond a read ---- */

static void wr_cb(struct coil_op *op, int res, unsigned flags);
static void tmr_cb(struct coil_op *op, int res, unsigned flags);

/* The stream's write part, taken from the loop's blocks when it has none.
 * Return: it, or NULL (no memory). */
static struct coil__tcp_wr *wpart(struct coil_tcp *t)
{
	struct coil__tcp_wr *w = t->w;

	if (w)
		return w;
	w = coil__blk_get(t->s.loop, COIL__BLK_TCPW, sizeof(*w));
	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->t = t;
	coil_op_init(&w->wr, wr_cb);
	t->w = w;
	t->s.loop->st.tcp_wrs++;
	return w;
}

static void wpart_free(struct coil_tcp *t)
{
	coil__blk_put(t->s.loop, COIL__BLK_TCPW, t->w);
	t->w = NULL;
	t->s.loop->st.tcp_wrs--;
}

/* The stream's extension, taken from the loop's blocks when it has none.
 * Return: it, or NULL (no memory). */
static struct coil__tcp_ext *ext(struct coil_tcp *t)
{
	struct coil__tcp_ext *x = t->x;

	if (x)
		return x;
	x = coil__blk_get(t->s.loop, COIL__BLK_TCPX, sizeof(*x));
	if (!x)
		return NULL;
	memset(x, 0, sizeof(*x));
	x->t = t;
	coil_op_init(&x->tmr, tmr_cb);
	t->x = x;
	t->s.loop->st.tcp_exts++;
	return x;
}

static void ext_free(struct coil_tcp *t)
{
	coil__blk_put(t->s.loop, COIL__BLK_TCPX, t->x);
	t->x = NULL;
	t->s.loop->st.tcp_exts--;
}

/* Give back what the stream needs no more: the write part once nothing is
 * queued, in flight or due (a kick); the extension once it reads (not
 * paused), holds no byte, keeps no deadline and is not connecting. Never
 * while failed or closing (close_done() frees both). Called last by the
 * ops' callbacks, when nothing up the stack holds either. */
static void parts_idle(struct coil_tcp *t)
{
	const struct coil__tcp_wr *w = t->w;
	const struct coil__tcp_ext *x = t->x;

	if (closing(t) || t->fail || (t->st & T_PUMPING))
		return;
	if (w && !(t->st & (T_KICKQ | T_QUIET | T_WR_SHUT)) &&
	    !coil_op_busy(&w->wr) && !w->wq_head && !w->sv)
		wpart_free(t);
	if (x && (t->st & T_RWANT) && !(t->st & (T_CONNECTING | T_TMR_REARM)) &&
	    !coil_op_busy(&x->tmr) && !x->held_n && !x->spill && !x->rbuf &&
	    !x->idle_ns && !x->read_ns && !x->write_ns)
		ext_free(t);
}

static void kicked(struct coil_tcp *t);

/* The loop's kick op: kick the streams listed when it starts, in order;
 * a stream kicked meanwhile waits for the next turn (the snapshot rule).
 * Each entry is unlinked before its kick runs, which may free the stream
 * (a close callback). */
static void kick_list_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_loop *loop =
		coil_container_of(op, struct coil_loop, tcp_kick);
	struct coil__tcp_wr *w = loop->tcp_kick_head;

	(void)res;
	(void)flags;
	loop->tcp_kick_head = loop->tcp_kick_tail = NULL;
	while (w) {
		struct coil__tcp_wr *next = w->kick_next;
		struct coil_tcp *t = w->t;
		w->kick_next = NULL;
		t->st &= ~T_KICKQ;
		kicked(t);
		w = next;
	}
}

/* Run flush/delivery from the loop on this turn (or the next): a place in
 * the loop's kick list (through the write part), or without a write part
 * the read op posted in its place when it is not in flight. Once posted,
 * the kick is due until it runs: a second kick does nothing. */
static void kick(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;
	struct coil__tcp_wr *w = t->w;

	if (t->st & (T_KICKQ | T_RD_POST))
		return;
	if (!w && !coil_op_busy(&t->rd)) {
		t->st |= T_RD_POST;
		coil_loop_post(loop, &t->rd, 0);
		return;
	}
	if (!w && !(w = wpart(t)))
		return; /* rd is in flight: its completion pumps */
	t->st |= T_KICKQ;
	w->kick_next = NULL;
	if (loop->tcp_kick_tail)
		loop->tcp_kick_tail->kick_next = w;
	else
		loop->tcp_kick_head = w;
	loop->tcp_kick_tail = w;
	if (!coil_op_busy(&loop->tcp_kick)) {
		if (!loop->tcp_kick.cb)
			coil_op_init(&loop->tcp_kick, kick_list_cb);
		/* every stream's kick: it carries no task's deadline */
		loop->tcp_kick.timeout_ns = 0;
		coil__post(loop, &loop->tcp_kick, 0);
	}
}

static void close_step(struct coil_tcp *t);
static void fail_stream(struct coil_tcp *t, int err);
static void tmr_update(struct coil_tcp *t);

/* ---- held bytes ---- */

/* Copy @len bytes aside (after the held buffers). Return: 0 or -ENOMEM. */
static int spill(struct coil_tcp *t, const void *p, size_t len)
{
	struct coil__tcp_ext *x = t->x;

	if (x->spill_off + x->spill_len + len > x->spill_cap) {
		if (x->spill_off) {
			memmove(x->spill, x->spill + x->spill_off,
				x->spill_len);
			x->spill_off = 0;
		}
		if (x->spill_len + len > x->spill_cap) {
			unsigned char *n =
				coil__grow(x->spill, &x->spill_cap,
					   x->spill_len + len, 65536);
			if (!n)
				return -ENOMEM;
			x->spill = n;
		}
	}
	memcpy(x->spill + x->spill_off + x->spill_len, p, len);
	x->spill_len += len;
	t->s.stats.spilled += len;
	coil__max32(&t->s.stats.spill_max, x->spill_len);
	return 0;
}

static void spill_free(struct coil__tcp_ext *x)
{
	free(x->spill);
	x->spill = NULL;
	x->spill_off = x->spill_len = x->spill_cap = 0;
}

/* Keep provided buffer @bid (@len bytes at @p inside it, received at @rx)
 * until reading resumes: in the ring while fewer than COIL_TCP_HELD are
 * held and nothing was spilled, else as a copy. Always a copy with
 * incremental consumption: a held delivery keeps its whole buffer from
 * the ring, and a small ring (coil-serve's 16) would run dry for every
 * stream once as many streams were paused. Return: 0 or -ENOMEM (the
 * buffer went back either way unless held). */
static int held_push(struct coil_tcp *t, unsigned bid, const void *p,
		     unsigned len, uint64_t rx)
{
	struct coil_loop *loop = t->s.loop;
	struct coil__tcp_ext *x = ext(t);
	int ret;

	if (!x) {
		coil_buf_put(loop, bid);
		return -ENOMEM;
	}
	if (x->held_n < COIL_TCP_HELD && !x->spill_len &&
	    !(coil_loop_features(loop) & COIL_FEAT_BUF_INC)) {
		unsigned i = (x->held_head + x->held_n++) % COIL_TCP_HELD;
		/* from the buffer's start: with incremental consumption
		 * coil_buf_ptr() moves on with the buffer's next delivery */
		uint64_t off =
			(uint64_t)((const char *)p - coil__buf_base(loop, bid));
		x->held[i] = (uint64_t)bid << 48 | off << 32 | len;
		x->held_rx[i] = rx;
		t->s.stats.held = (uint8_t)x->held_n;
		if (x->held_n > t->s.stats.held_max)
			t->s.stats.held_max = (uint8_t)x->held_n;
		return 0;
	}
	ret = spill(t, p, len);
	x->spill_rx = rx;
	coil_buf_put(loop, bid);
	return ret;
}

static uint64_t held_pop(struct coil_tcp *t, uint64_t *rx)
{
	struct coil__tcp_ext *x = t->x;
	uint64_t v = x->held[x->held_head];
	*rx = x->held_rx[x->held_head];
	x->held_head = (x->held_head + 1) % COIL_TCP_HELD;
	x->held_n--;
	t->s.stats.held = (uint8_t)x->held_n;
	return v;
}

/* Give every held buffer back; the bytes are dropped. */
static void held_drop(struct coil_tcp *t)
{
	uint64_t rx;

	if (!t->x)
		return;
	while (t->x->held_n)
		coil_buf_put(t->s.loop, (unsigned)(held_pop(t, &rx) >> 48));
	spill_free(t->x);
	t->x->rbuf_len = 0;
}

static int has_held(const struct coil_tcp *t)
{
	const struct coil__tcp_ext *x = t->x;
	return x && (x->held_n || x->spill_len || x->rbuf_len);
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
	if (t->st & T_TAIL)
		ret = coil_recv_buf(loop, &t->rd, t->fd);
	else if (t->st & T_STAMP)
		ret = coil_recv_multishot_ts(loop, &t->rd, t->fd);
	else if (t->st & T_MULTI)
		ret = coil_recv_multishot(loop, &t->rd, t->fd);
	else if (t->x && t->x->rbuf)
		ret = coil_recv(loop, &t->rd, t->fd, t->x->rbuf, t->rbuf_size,
				0);
	else
		ret = -ENOMEM;
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
	struct coil__tcp_ext *x;

	if (t->st & T_PUMPING)
		return;
	t->st |= T_PUMPING;
	while (!closing(t) && !(t->st & T_RDONE) && t->s.read_cb) {
		x = t->x;
		if (t->fail) {
			t->st &= ~T_REND;
			t->st |= T_RDONE;
			set_rx(t, coil_now(loop));
			t->s.read_cb(&t->s, t->fail, NULL);
			break;
		}
		if (!(t->st & T_RWANT))
			break;
		if (x && x->held_n) {
			uint64_t rx, v = held_pop(t, &rx);
			unsigned bid = (unsigned)(v >> 48);
			unsigned off = (unsigned)(v >> 32) & 0xffff;
			set_rx(t, rx);
			t->s.read_cb(&t->s, (ssize_t)(uint32_t)v,
				     coil__buf_base(loop, bid) + off);
			coil_buf_put(loop, bid);
		} else if (x && x->spill_len) {
			/* in buffer-sized pieces, so pausing still works */
			size_t len = x->spill_len, max = coil_buf_size(loop);
			const unsigned char *p = x->spill + x->spill_off;
			if (len > max)
				len = max;
			x->spill_off += len;
			x->spill_len -= len;
			set_rx(t, x->spill_rx);
			t->s.read_cb(&t->s, (ssize_t)len, p);
			/* the callback may have closed: the extension stays
			 * until the close is done */
			if (!x->spill_len)
				spill_free(x);
		} else if (x && x->rbuf_len) {
			unsigned len = x->rbuf_len;
			x->rbuf_len = 0;
			set_rx(t, x->rbuf_rx);
			t->s.read_cb(&t->s, (ssize_t)len,
				     x->rbuf + x->rbuf_off);
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
static void close_done(struct coil_tcp *t);

/* COIL_TCP_QUIET_SENDS: bytes arrived, so the peer had what the quiet send
 * carried: complete its writes and send what queued behind them. */
static void quiet_answered(struct coil_tcp *t)
{
	struct coil__tcp_wr *w = t->w;

	t->st &= ~T_QUIET;
	if (t->x)
		t->x->last_any_ns = coil_now(t->s.loop);
	coil__wq_sent(&t->s, w->wq_head, w->sending);
	t->s.stats.sends--; /* counted when it left */
	w->sending = 0;
	coil__wq_complete(pop_done(t), 0);
	if (!closing(t))
		flush(t);
}

/*
 * The final completion @res of a stamped stream's recv on an incremental
 * ring. The ring's current buffer can be the tail of one that other reads
 * took in part, too short for the recvmsg's header and control: the
 * kernel ends the recvmsg with -EFAULT and leaves the buffer in the ring
 * (io_recvmsg_prep_multishot(), io_uring/net.c), where every stamped
 * recvmsg would meet it again. A plain recv takes it (its bytes come
 * unstamped, timed when reaped: rx_tails in the loop's stats), then the
 * stamped recv is armed again. Return: 1 when @res ends nothing.
 */
static int tail_step(struct coil_tcp *t, int res)
{
	struct coil_loop *loop = t->s.loop;

	if (t->st & T_TAIL) {
		/* the tail's recv; -ENOBUFS: another read took the tail
		 * and the ring ran dry, where the stamped recv parks */
		t->st &= ~T_TAIL;
		return res > 0 || res == -ENOBUFS;
	}
	if (res != -EFAULT || !(t->st & T_STAMP) ||
	    !(coil_loop_features(loop) & COIL_FEAT_BUF_INC))
		return 0;
	t->st |= T_TAIL;
	loop->st.rx_tails++;
	return 1;
}

static void rd_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_tcp *t = coil_container_of(op, struct coil_tcp, rd);
	struct coil_loop *loop = t->s.loop;

	if (t->st & T_RD_POST) { /* posted as the kick */
		t->st &= ~T_RD_POST;
		kicked(t);
		return;
	}
	if (t->st & T_CLOSE_FD) {
		close_done(t);
		return;
	}
	if (t->st & T_CONNECTING) {
		connect_done(t, res);
		return;
	}
	if (res > 0) {
		unsigned bid = coil_buf_id(flags);
		int buf = (flags & COIL_BUFFER) != 0;
		const void *p = buf ? coil_buf_ptr(loop, bid) : NULL;
		unsigned len = (unsigned)res;
		uint64_t rx = 0;

		if (!buf)
			p = t->x->rbuf; /* the single-shot recv's buffer */
		if (buf && (t->st & T_STAMP) && !(t->st & T_TAIL))
			rx = coil_buf_recvmsg(loop, bid, res, &p, &len);
		if (len) { /* (a stamped buffer can carry no payload) */
			t->s.stats.recvs++;
			t->s.stats.rx_stamped += rx != 0;
		}
		/* bit 0 says "the kernel's" (1 ns is below any clock's
		 * resolution here) */
		rx = rx ? rx | 1 : coil_now(loop) & ~1ull;
		t->s.stats.bytes_in += len;
		if (t->x)
			t->x->last_rd_ns = t->x->last_any_ns = coil_now(loop);
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
			t->x->rbuf_off = 0;
			t->x->rbuf_len = len;
			t->x->rbuf_rx = rx;
		}
	} else if (flags & COIL_BUFFER) {
		coil_buf_put(loop, coil_buf_id(flags));
	}
	if (flags & COIL_MORE)
		return;
	/* the final completion of this submission */
	if (!tail_step(t, res) && res <= 0 &&
	    !(res == -ECANCELED && (t->st & T_RCANCEL)))
		read_end(t, res);
	t->st &= ~T_RCANCEL;
	if (closing(t)) {
		close_step(t);
		return;
	}
	pump(t);
	parts_idle(t);
}

static int tcp_read_start(struct coil_stream *s)
{
	struct coil_tcp *t = tcp_of(s);

	if (!(t->st & T_MULTI)) {
		struct coil__tcp_ext *x = ext(t);
		if (!x)
			return -ENOMEM;
		if (!x->rbuf && !(x->rbuf = malloc(t->rbuf_size)))
			return -ENOMEM;
	}
	if (t->st & T_RWANT)
		return 0;
	t->st |= T_RWANT;
	if (t->x)
		t->x->last_rd_ns = coil_now(s->loop);
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
	/* what arrives before the cancel takes effect is held in the
	 * extension, which a paused stream keeps */
	if (!ext(t))
		return -ENOMEM;
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
	if (t->w)
		coil__wq_fail(&t->s, &t->w->wq_head, &t->w->wq_tail, err);
}

/* Detach the finished requests at the head of the queue. */
static struct coil_stream_write *pop_done(struct coil_tcp *t)
{
	struct coil_stream_write *first = NULL, **tail = &first, *w;
	while ((w = coil__wq_pop_done(&t->w->wq_head, &t->w->wq_tail))) {
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
	coil__blk_put(t->s.loop, COIL__BLK_SENDV, t->w->sv);
	t->w->sv = NULL;
}

/* Send what is queued: one send or sendmsg for up to COIL_TCP_IOV iovecs
 * gathered across requests, or the shutdown when it reaches the head. */
static void flush(struct coil_tcp *t)
{
	struct coil_loop *loop = t->s.loop;
	struct coil__tcp_wr *wp = t->w;
	uint64_t write_ns = t->x ? t->x->write_ns : 0;
	int ret;

	while (wp && !coil_op_busy(&wp->wr) && !(t->st & T_QUIET) &&
	       !closing(t) && (t->st & T_CONNECTED) && wp->wq_head) {
		struct coil_stream_write *w = wp->wq_head, *last = NULL;
		struct iovec iov[COIL_TCP_IOV];
		unsigned n = 0, all = 1;
		int more;
		size_t bytes = 0;

		if (t->fail || t->wfail) {
			fail_writes(t, t->fail ? t->fail : t->wfail);
			return;
		}

		if (w->flags & COIL_STREAM_W_SHUTDOWN) {
			if (write_ns)
				coil_op_timeout(&wp->wr, write_ns);
			ret = coil_shutdown(loop, &wp->wr, t->fd, SHUT_WR);
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
		if (n == 1 && !more && (t->st & T_QUIET_OK) && !write_ns &&
		    coil_send_quiet(loop, t->fd, iov[0].iov_base,
				    iov[0].iov_len) == 0) {
			/* done when the peer answers: quiet_answered() */
			t->st |= T_QUIET;
			wp->sending = bytes;
			t->s.stats.sends++; /* when it leaves, as others */
			return;
		}
		if (write_ns)
			coil_op_timeout(&wp->wr, write_ns);
		if (n == 1) {
			ret = coil_send(loop, &wp->wr, t->fd, iov[0].iov_base,
					iov[0].iov_len, more);
		} else if (!(wp->sv = coil__blk_get(loop, COIL__BLK_SENDV,
						    sizeof(*wp->sv)))) {
			ret = -ENOMEM;
		} else {
			memcpy(wp->sv->iov, iov, n * sizeof(iov[0]));
			memset(&wp->sv->msg, 0, sizeof(wp->sv->msg));
			wp->sv->msg.msg_iov = wp->sv->iov;
			wp->sv->msg.msg_iovlen = n;
			ret = coil_sendmsg(loop, &wp->wr, t->fd, &wp->sv->msg,
					   more);
			if (ret < 0)
				sendv_put(t);
		}
		if (ret < 0) {
			t->wfail = ret;
			fail_writes(t, ret);
			return;
		}
		wp->sending = bytes;
		return;
	}
}

static void wr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil__tcp_wr *wp =
		coil_container_of(op, struct coil__tcp_wr, wr);
	struct coil_tcp *t = wp->t;

	if (wp->sv) /* the sendmsg is over: the kernel read its iovecs */
		sendv_put(t);
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
		coil__wq_complete(coil__wq_pop(&wp->wq_head, &wp->wq_tail), 0);
	} else {
		if (res > 0 && t->x)
			t->x->last_any_ns = coil_now(t->s.loop);
		coil__wq_sent(&t->s, wp->wq_head, (size_t)res);
		coil__wq_complete(pop_done(t), 0);
	}
	if (closing(t)) {
		close_step(t);
		return;
	}
	flush(t);
	parts_idle(t);
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
	struct coil__tcp_wr *wp;
	int ret = write_state(t);

	if (ret < 0)
		return ret;
	if (!(wp = wpart(t)))
		return -ENOMEM;
	coil__wq_add(s, &wp->wq_head, &wp->wq_tail, w);
	if (w->flags & COIL_STREAM_W_SHUTDOWN)
		t->st |= T_SHUT;
	if (!coil_op_busy(&wp->wr))
		kick(t);
	return 0;
}

/* ---- deadlines ---- */

static int read_timed(const struct coil_tcp *t)
{
	return t->x->read_ns && (t->st & T_RWANT) &&
	       !(t->st & (T_RDONE | T_REND)) && !has_held(t);
}

static uint64_t tmr_next(const struct coil_tcp *t)
{
	const struct coil__tcp_ext *x = t->x;
	uint64_t next = 0;
	if (x->idle_ns)
		next = x->last_any_ns + x->idle_ns;
	if (read_timed(t)) {
		uint64_t d = x->last_rd_ns + x->read_ns;
		if (!next || d < next)
			next = d;
	}
	return next;
}

static void tmr_update(struct coil_tcp *t)
{
	struct coil__tcp_ext *x = t->x;
	uint64_t next;

	if (!x || closing(t) || t->fail || !(t->st & T_CONNECTED))
		return;
	next = tmr_next(t);
	if (!next)
		return;
	if (coil_op_busy(&x->tmr)) {
		if (x->tmr_at_ns <= next || (t->st & T_TMR_REARM))
			return;
		if (coil_timeout_remove(t->s.loop, &x->tmr) == 0)
			t->st |= T_TMR_REARM;
		return;
	}
	x->tmr_at_ns = next;
	if (coil_timeout(t->s.loop, &x->tmr, next, COIL_TIMEOUT_ABS) < 0)
		fail_stream(t, -ENOMEM);
}

static void tmr_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil__tcp_ext *x =
		coil_container_of(op, struct coil__tcp_ext, tmr);
	struct coil_tcp *t = x->t;
	uint64_t now = coil_now(t->s.loop);

	t->st &= ~T_TMR_REARM;
	if (closing(t)) {
		close_step(t);
		return;
	}
	if (res == 0 && !t->fail) {
		if ((x->idle_ns && now >= x->last_any_ns + x->idle_ns) ||
		    (read_timed(t) && now >= x->last_rd_ns + x->read_ns)) {
			fail_stream(t, -ETIMEDOUT);
			return;
		}
	}
	tmr_update(t);
	parts_idle(t);
}

/* Set the deadlines (a stream without any keeps no extension for them). */
static int set_deadlines(struct coil_tcp *t, uint64_t idle_ns, uint64_t read_ns,
			 uint64_t write_ns)
{
	struct coil__tcp_ext *x = t->x;

	if (!x && !idle_ns && !read_ns && !write_ns)
		return 0;
	if (!x && !(x = ext(t)))
		return -ENOMEM;
	x->idle_ns = idle_ns;
	x->read_ns = read_ns;
	x->write_ns = write_ns;
	x->last_rd_ns = x->last_any_ns = coil_now(t->s.loop);
	return 0;
}

static int tcp_set_timeouts(struct coil_stream *s, uint64_t idle_ns,
			    uint64_t read_ns, uint64_t write_ns)
{
	struct coil_tcp *t = tcp_of(s);
	int ret = set_deadlines(t, idle_ns, read_ns, write_ns);
	if (ret < 0)
		return ret;
	/* no deadline left: the timer goes, and the extension with it once
	 * nothing else holds it (its callback finds it idle) */
	if (t->x && !idle_ns && !read_ns && coil_op_busy(&t->x->tmr) &&
	    !(t->st & T_TMR_REARM) &&
	    coil_timeout_remove(s->loop, &t->x->tmr) == 0)
		t->st |= T_TMR_REARM;
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
	if (t->w && coil_op_busy(&t->w->wr))
		coil_cancel(loop, &t->w->wr); /* its callback fails the queue */
	kick(t);
}

/* ---- closing ---- */

static int tcp_close(struct coil_stream *s)
{
	struct coil_tcp *t = tcp_of(s);
	struct coil_loop *loop = s->loop;
	struct coil__tcp_ext *x = t->x;

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
		if (coil_op_busy(&t->rd) && !(t->st & T_RD_POST))
			coil_cancel(loop, &t->rd);
		if (t->w && coil_op_busy(&t->w->wr))
			coil_cancel(loop, &t->w->wr);
	}
	if (x && coil_op_busy(&x->tmr))
		coil_timeout_remove(loop, &x->tmr);
	kick(t); /* close_step from the loop, never inline */
	return 0;
}

/* Once nothing is in flight: finish the requests, give buffers back and
 * close the fd through the ring (with the read op, the one op every
 * stream has). */
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
		coil_op_init(&t->rd, rd_cb);
		if (coil_close(loop, &t->rd, t->fd) == 0) {
			t->st |= T_CLOSE_FD;
			return;
		}
		close(t->fd);
		t->fd = -1;
	}
	t->st |= T_KICK_CLOSE | T_RD_POST;
	coil_loop_post(loop, &t->rd, 0);
}

static void close_done(struct coil_tcp *t)
{
	t->fd = -1;
	if (t->x) {
		free(t->x->rbuf);
		spill_free(t->x);
		ext_free(t);
	}
	if (t->w)
		wpart_free(t);
	t->st = 0;
	coil_stream_finish_close(&t->s);
}

/* The kick's work: from the loop's kick list, or the read op posted in
 * its place. */
static void kicked(struct coil_tcp *t)
{
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
	parts_idle(t);
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
		     const struct coil_tcp_opts *o)
{
	void *data = t->s.data;

	memset(t, 0, sizeof(*t));
	t->s.data = data;
	coil_stream_init(&t->s, loop, &tcp_vt);
	t->fd = -1;
	coil_op_init(&t->rd, rd_cb);
	t->rbuf_size = o->rbuf_size ? o->rbuf_size : 16384;
	if (o->flags & COIL_TCP_QUIET_SENDS)
		t->st |= T_QUIET_OK;
	if (o->flags & COIL_TCP_NO_NODELAY)
		t->st |= T_NODELAY_OFF;
	if ((coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) &&
	    !(o->flags & COIL_TCP_SINGLESHOT)) {
		t->st |= T_MULTI;
		if (o->flags & COIL_TCP_RX_TIME)
			t->st |= T_STAMP;
	}
}

static void sock_opts(struct coil_tcp *t, int fd, int sndbuf, int rcvbuf)
{
	int one = 1;
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	/* without the option the reads are timed when reaped */
	if ((t->st & T_STAMP) &&
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0)
		t->st &= ~T_STAMP;
	if (!(t->st & T_NODELAY_OFF))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
}

static void connected(struct coil_tcp *t)
{
	t->st |= T_CONNECTED;
	if (t->x)
		t->x->last_rd_ns = t->x->last_any_ns = coil_now(t->s.loop);
}

int coil_tcp_open(struct coil_loop *loop, struct coil_tcp *t, int fd,
		  const struct coil_tcp_opts *opts)
{
	struct coil_tcp_opts o = {0};
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
	if (opts)
		o = *opts;
	tcp_init(loop, t, &o);
	if (set_deadlines(t, o.idle_timeout_ns, o.read_timeout_ns,
			  o.write_timeout_ns) < 0) {
		t->st = 0;
		t->s.flags = 0;
		return -ENOMEM;
	}
	t->fd = fd;
	sock_opts(t, fd, o.sndbuf, o.rcvbuf);
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
	struct coil__tcp_ext *x = t->x;
	const struct sockaddr_storage *a;
	uint64_t to = 0;
	int fd, ret;

	for (;;) {
		a = coil__tcp_next_addr(x);
		if (!a)
			return last_err;
		if (x->connect_deadline_ns) {
			uint64_t now = coil_now_update(loop);
			unsigned left = x->naddrs - x->tried;
			if (now >= x->connect_deadline_ns)
				return -ETIMEDOUT;
			to = (x->connect_deadline_ns - now) / left;
			if (!to)
				to = 1;
		}
		x->tried++;
		fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
			    a->ss_family == AF_UNIX ? 0 : IPPROTO_TCP);
		if (fd >= 0)
			break;
		/* a family this host lacks (no IPv6): on to the next */
		last_err = -errno;
		if (last_err != -EAFNOSUPPORT && last_err != -EPROTONOSUPPORT)
			return last_err;
	}
	sock_opts(t, fd, x->sndbuf, x->rcvbuf);
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

/* A connect that failed on its own: the stream holds nothing when @cb
 * runs (the caller may free it there), so the extension goes first. */
static void connect_fail(struct coil_tcp *t, int err)
{
	coil_stream_connect_cb cb = t->x->connect_cb;
	t->st &= ~T_CONNECTING;
	t->x->connect_cb = NULL;
	t->x->addrs = NULL;
	if (err != -ECANCELED) {
		free(t->x->rbuf);
		ext_free(t);
		if (t->w) /* a kick's, never one with writes (not connected) */
			wpart_free(t);
	}
	cb(&t->s, err);
}

static void connect_done(struct coil_tcp *t, int res)
{
	struct coil__tcp_ext *x = t->x;
	int err = res;

	if (closing(t)) {
		/* the fd (if any) is closed by close_step */
		connect_fail(t, -ECANCELED);
		close_step(t);
		return;
	}
	if (res == 0) {
		coil_stream_connect_cb cb = x->connect_cb;
		t->st &= ~T_CONNECTING;
		x->connect_cb = NULL;
		x->addrs = NULL;
		connected(t);
		cb(&t->s, 0);
		if (closing(t))
			return;
		rd_arm(t);
		tmr_update(t);
		parts_idle(t);
		return;
	}
	close(t->fd);
	t->fd = -1;
	if (x->connect_deadline_ns &&
	    coil_now(t->s.loop) >= x->connect_deadline_ns)
		err = -ETIMEDOUT;
	else if (x->tried < x->naddrs)
		err = attempt(t, res);
	if (err < 0)
		connect_fail(t, err);
}

int coil_tcp_connect(struct coil_loop *loop, struct coil_tcp *t,
		     const struct sockaddr_storage *addrs, unsigned naddrs,
		     const struct coil_tcp_opts *opts,
		     coil_stream_connect_cb cb)
{
	struct coil_tcp_opts o = {0};
	struct coil__tcp_ext *x;
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
	if (opts)
		o = *opts;
	tcp_init(loop, t, &o);
	/* connecting needs the extension: its addresses, the callback */
	if (!(x = ext(t))) {
		t->s.flags = 0;
		return -ENOMEM;
	}
	set_deadlines(t, o.idle_timeout_ns, o.read_timeout_ns,
		      o.write_timeout_ns);
	x->sndbuf = o.sndbuf;
	x->rcvbuf = o.rcvbuf;
	x->connect_deadline_ns =
		o.connect_timeout_ns
			? coil_now_update(loop) + o.connect_timeout_ns
			: 0;
	x->addrs = addrs;
	x->naddrs = naddrs;
	x->connect_cb = cb;
	t->st |= T_CONNECTING;
	ret = attempt(t, -ECONNREFUSED);
	if (ret < 0) {
		ext_free(t);
		t->st = 0;
		t->s.flags = 0;
		return ret;
	}
	return 0;
}
