/*
 * engine/internal.h - what the engine's files share: the loop's layout, op
 * state bits and the user_data tags. Nothing outside engine/ includes this.
 */
#ifndef COIL_ENGINE_INTERNAL_H
#define COIL_ENGINE_INTERNAL_H

#include <liburing.h>
#include <pthread.h>

#include "coil/engine.h"

/* op->state bits */
#define ST_BUSY (1u << 0)	 /* counted in loop->inflight */
#define ST_LINKED (1u << 1)	 /* a linked timeout CQE is still due */
#define ST_OP_DONE (1u << 2)	 /* main CQE seen, waiting for the timeout's */
#define ST_TIMED_OUT (1u << 3)	 /* the linked timeout fired (-ETIME) */
#define ST_QUEUED (1u << 4)	 /* SQE parked in user space (SQ full) */
#define ST_PARKED (1u << 5)	 /* multishot recv waiting for buffers */
#define ST_POSTED (1u << 6)	 /* on the ready list, completes next turn */
#define ST_TIMER (1u << 7)	 /* coil_timeout: -ETIME means "fired" (0) */
#define ST_MULTI (1u << 8)	 /* multishot */
#define ST_RECV_BUF (1u << 9)	 /* multishot recv with provided buffers */
#define ST_EXPECT (1u << 10)	 /* armed for a message from another ring */
#define ST_HAD_LINK (1u << 11)	 /* this submission carries a linked timeout */
#define ST_CANCEL (1u << 12)	 /* coil_cancel sent an ASYNC_CANCEL for it */
#define ST_INTERNAL (1u << 13)	 /* a primitive's own op: drain skips it */
#define ST_WAIT_TIMED (1u << 14) /* a wait with a deadline (deadline.c) */
#define ST_RECVMSG (1u << 15)	 /* the multishot recv is a recvmsg (stamped) */

/* user_data tags in the low bits (ops are pointer-aligned) */
#define TAG_OP 0ull
#define TAG_LTIMEOUT 1ull
#define TAG_IGNORE 2ull
#define TAG_MASK 7ull

/* An SQE (and its linked timeout) that did not fit in the SQ. */
struct pending {
	struct pending *next;
	struct coil_op *op; /* NULL for internal SQEs (cancel) */
	unsigned nr;
	struct io_uring_sqe sqe[2];
};

struct coil__waitq;  /* coil/async.h */
struct coil__tcp_wr; /* coil/stream.h */

struct coil_loop {
	struct io_uring ring;
	unsigned features;
	unsigned force; /* COIL_LOOP_NO_* */
	unsigned inflight;
	int stop;
	int running; /* inside coil_loop_run() */
	uint64_t now_ns;
	uint64_t deadline_ns;	/* current deadline scope, 0 = none */
	unsigned batch_wait_us; /* min-wait of a waiting turn, 0 = off */
	int batch_hot;	 /* the last waiting turn found more than one CQE */
	int batch_timer; /* COIL_BATCH_WAIT_TIMER: waits gather to the alarm */
	struct coil_op *alarm; /* coil_loop_alarm(), NULL = none */
	uint64_t alarm_at;
	/* CLOCK_REALTIME - CLOCK_MONOTONIC, read once in turn rt_turn (for
	 * receive timestamps, coil_buf_recvmsg()) at monotonic time rt_mono
	 * (0: never); rt_bad: this turn's read moved beyond what the clocks
	 * allow, its stamps are not used; stamps mapped before rt_step_ns
	 * (the read that saw the last step) are not used either */
	int64_t rt_off;
	uint64_t rt_turn;
	uint64_t rt_mono, rt_unc; /* rt_unc: the read's bracket (ns) */
	uint64_t rt_step_ns;
	int rt_bad;
	/* tests only: CLOCK_REALTIME read through this when set */
	uint64_t (*rt_clock)(void);
	/* the msghdr of every stamped multishot recvmsg: no name, room for
	 * one SCM_TIMESTAMPING control message */
	struct msghdr rx_msg;

	/* ops completing in user space next turn */
	struct coil_op *ready_head, *ready_tail;
	/* SQEs waiting for room in the SQ */
	struct pending *pend_head, *pend_tail;
	/* multishot recvs parked on -ENOBUFS, oldest first */
	struct coil_op *parked, *parked_tail;
	/* coil_cancel_fd() sequence numbers by fd, so that a multishot op the
	 * kernel ends on its own (-ENOBUFS, full CQ) after a cancel of its fd
	 * was asked for is not armed again: op->cflags holds the sequence
	 * number current when the op was last armed. */
	uint32_t cancel_seq;
	uint32_t *fd_cancel;
	unsigned fd_cancel_len;

	/* provided buffer ring (group 0), mapped by hand */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *bufs;
	unsigned buf_count, buf_size, buf_out;
	uint64_t *buf_held; /* bitmap: handed to the consumer, not put back */
	/* COIL_FEAT_BUF_INC (bufring.c): per buffer, where the kernel's next
	 * delivery from it begins, where the latest one began, and the
	 * deliveries not put back yet; buf_done: the kernel moved past it */
	uint16_t *buf_next, *buf_last, *buf_refs;
	uint64_t *buf_done;
	unsigned buf_avg; /* the deliveries' bytes, a moving average */
	int buf_trim;	  /* coil_loop_trim() asked: at the next turn */
	/* engine/blkcache.h: blocks kept for reuse, each holding the next
	 * one's address in its first bytes */
	void *blk_free[3]; /* COIL__BLK_N kinds */
	unsigned nblk_free[3];
	/* engine/tcp.c: the TCP streams whose kick is due (their write
	 * parts, linked through kick_next, in the order kicked), run by
	 * one posted op, tcp_kick */
	struct coil__tcp_wr *tcp_kick_head, *tcp_kick_tail;
	struct coil_op tcp_kick;

	/* cross-thread inbox: eventfd + mutex-protected list */
	int efd;
	uint64_t efd_val;
	struct coil_op efd_op;
	pthread_mutex_t inbox_mu;
	struct coil_op *inbox_head, *inbox_tail;

	struct coil_loop_stats st;

	/* coil_sendfile() (engine/sendfile.c): where warming reads put the
	 * bytes they throw away (allocated on first use), and whether
	 * cachestat(2) is missing (-ENOSYS: kernel before 6.5) */
	char *sf_sink;
	int sf_no_cachestat;
	int sf_sigpipe; /* 0 not looked up, 1 ignored, 2 blocked per call */

	/* user-space waits and drain (engine/wait.c, engine/drain.c) */
	struct coil__waitq *waitqs; /* primitives holding waiting ops */
	int draining;		    /* 1 finishing, 2 cancelling */
	unsigned drain_cancelled;   /* -ECANCELED callbacks during a drain */

	/* deadlines of waits (engine/deadline.c): a min-heap of (deadline, op),
	 * op->fd holding the op's index, and one absolute timer armed for
	 * the earliest */
	struct coil__wdl *wdl;
	unsigned wdl_len, wdl_cap;
	struct coil_op wdl_timer;
	uint64_t wdl_armed_at; /* deadline the timer is armed for, 0 = not */
	int wdl_removing;      /* a TIMEOUT_REMOVE of the timer is on its way */
	/* the carried deadline (coil_task_deadline_enter()), 0 = none */
	uint64_t task_deadline_ns;
};

struct coil__wdl {
	uint64_t at;
	struct coil_op *op;
};

/* Complete @op with @res in user space on the next turn (op already BUSY
 * or not: makes it BUSY). */
void coil__post(struct coil_loop *loop, struct coil_op *op, int res);

/* bufring.c */
/* @inc: try incremental consumption (COIL_LOOP_BUF_INC); the feature bit
 * is set when the kernel took it. */
int coil__buf_ring_setup(struct coil_loop *loop, unsigned count, unsigned size,
			 int inc);
void coil__buf_ring_free(struct coil_loop *loop);
/* A CQE (@res, @flags) handed buffer @bid to the consumer. */
void coil__buf_taken(struct coil_loop *loop, unsigned bid, int res,
		     unsigned flags);
/* The start of buffer @bid (coil_buf_ptr() is where its latest delivery
 * begins), or NULL. */
char *coil__buf_base(const struct coil_loop *loop, unsigned bid);
/* Drop the pages of the buffers nobody holds (coil_loop_trim()); only
 * when no completion waits to be reaped. */
void coil__buf_trim(struct coil_loop *loop);

/* ops.c */
/* Copy @nr prepared SQEs (user_data set) into the SQ, or queue them in
 * user space behind earlier queued ones; @op (or NULL for internal SQEs)
 * becomes cancellable there. Return: 0; -ENOMEM. */
int coil__place(struct coil_loop *loop, struct coil_op *op,
		const struct io_uring_sqe *sqes, unsigned nr);
void coil__flush_pending(struct coil_loop *loop);
void coil__rearm_parked(struct coil_loop *loop);
/* How many reads the buffers in the ring now can take (bufring.c). */
unsigned coil__buf_room(const struct coil_loop *loop);
int coil__park_nobufs(struct coil_loop *loop, struct coil_op *op);
int coil__rearm_multi(struct coil_loop *loop, struct coil_op *op);
/* Prepare a multishot recv (plain, or the stamped recvmsg for an op with
 * ST_RECVMSG / @stamped) on @fd into buffer group 0. */
void coil__prep_recv_multi(struct coil_loop *loop, struct io_uring_sqe *sqe,
			   int fd, int stamped);
/* A stamped recvmsg buffer held only the header (the kernel's EOF), and
 * not because it was an incremental buffer's tail with no room left. */
int coil__recvmsg_empty(const struct coil_loop *loop, unsigned bid, int res);
/* Whether a cancel of @op (coil_cancel, or coil_cancel_fd of its fd) was
 * asked for since it was last armed. Multishot ops only. */
int coil__cancel_pending(const struct coil_loop *loop,
			 const struct coil_op *op);

/* loop.c */
int coil__arm_inbox(struct coil_loop *loop);
/* A CLOCK_REALTIME time (ns) on coil_now()'s clock, with the offset
 * between the two clocks read once per turn; never later than coil_now().
 * 0 when the clocks' offset cannot be trusted for it (a clock step: see
 * coil__rt_stepped()); the caller takes the reap time then. */
uint64_t coil__rt_to_now(struct coil_loop *loop, uint64_t rt_ns);
/* Allowed movement of CLOCK_REALTIME - CLOCK_MONOTONIC between two reads:
 * NTP's largest slew, 500 ppm of the time between them, plus a margin for
 * the reads themselves (COIL__RT_MARGIN_NS and each read's bracket). */
#define COIL__RT_MARGIN_NS 2000ull
/* Whether the offset @off, read at @mono within a bracket of @unc_ns,
 * moved beyond the allowance from @prev_off read at @prev_mono within
 * @prev_unc_ns: a step (settimeofday(2), ADJ_SETOFFSET, a leap second),
 * or a slew faster than adjtimex(2) allows. */
int coil__rt_stepped(int64_t prev_off, uint64_t prev_mono, uint64_t prev_unc_ns,
		     int64_t off, uint64_t mono, uint64_t unc_ns);

/* sendfile.c: the callback a coil_sendfile() op carries while one of its
 * steps (a wait for room, a warming read) is in the ring; coil_cancel()
 * sees it there and marks the op, so that a cancel that meets the op
 * between two steps is not lost. */
void coil__sendfile_step(struct coil_op *op, int res, unsigned flags);

struct coil__tcp_ext;
struct sockaddr_storage;
/* engine/addr_order.c: the TCP stream's next address to try (RFC 8305
 * section 4 order), or NULL when every one was tried. */
const struct sockaddr_storage *coil__tcp_next_addr(struct coil__tcp_ext *x);

/* wait.c: coil_cancel() of an op waiting in user space (ST_EXPECT) */
int coil__cancel_wait(struct coil_loop *loop, struct coil_op *op);
/* deadline.c: @op (ST_WAIT_TIMED) ends: forget its deadline. */
void coil__wait_untime(struct coil_loop *loop, struct coil_op *op);
/* deadline.c: free the deadline heap (coil_loop_free()). */
void coil__wait_free(struct coil_loop *loop);

/* The deadline that applies to an op submitted now: the smaller of the
 * scope's and the carried one, 0 for none. */
static inline uint64_t coil__scope_deadline(const struct coil_loop *loop)
{
	uint64_t a = loop->deadline_ns, b = loop->task_deadline_ns;
	if (!a || (b && b < a))
		return b;
	return a;
}

#endif
