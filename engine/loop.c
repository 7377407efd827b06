/*
 * engine/loop.c - the ring loop: set-up with fallbacks, one
 * io_uring_enter(2) per turn, and the dispatch of every CQE to the callback
 * of the op whose address is its user_data.
 *
 * A turn: move SQEs parked in user space into the SQ, submit them and wait
 * for one completion in the same call (unless callbacks are already ready),
 * refresh the clock, run the callbacks of all CQEs reaped, then the ops
 * completed in user space (coil_loop_post). Callbacks submit more SQEs; they
 * go out with the next turn's single enter.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "blkcache.h"
#include "internal.h"

#ifndef IORING_FEAT_MIN_TIMEOUT /* kernel 6.12; liburing 2.3 predates it */
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t coil_now(const struct coil_loop *loop)
{
	return loop->now_ns;
}

uint64_t coil_now_update(struct coil_loop *loop)
{
	loop->now_ns = mono_ns();
	return loop->now_ns;
}

/* The kernel stamps received packets with CLOCK_REALTIME (there is no
 * monotonic receive timestamp). NTP's slewing moves CLOCK_MONOTONIC with
 * it (adjtimex(2) changes the rate both clocks advance at), so their
 * offset moves only when CLOCK_REALTIME is set: settimeofday(2),
 * ADJ_SETOFFSET, a leap second, or an agent that steps the clock often
 * in small steps, which looks like a fast slew. Reading the offset once
 * per turn, the first time a timestamp needs it, costs a few vDSO clock
 * reads per turn. A read that finds the offset moved more than a slew
 * of NTP's 500 ppm would over the time since the previous read (plus a
 * margin for the reads) marks the turn: its stamps are not used (the
 * caller times those reads when reaped), nor any stamp that maps to
 * before that read, and loop->st counts both. */
int coil__rt_stepped(int64_t prev_off, uint64_t prev_mono, uint64_t prev_unc_ns,
		     int64_t off, uint64_t mono, uint64_t unc_ns)
{
	uint64_t moved = off > prev_off ? (uint64_t)(off - prev_off)
					: (uint64_t)(prev_off - off);
	uint64_t dt = mono > prev_mono ? mono - prev_mono : 0;
	return moved > dt / 2000 + COIL__RT_MARGIN_NS + prev_unc_ns + unc_ns;
}

static uint64_t realtime_ns(const struct coil_loop *loop)
{
	struct timespec ts;
	if (loop->rt_clock)
		return loop->rt_clock();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC from a realtime read between two
 * monotonic ones: a read preempted between them shows as a wide bracket
 * and is taken again (3 tries at most, the narrowest kept). A preempted
 * read was what set stamps 486 us before their write at load 20. */
static int64_t read_rt_off(const struct coil_loop *loop, uint64_t *mono,
			   uint64_t *unc_ns)
{
	int64_t off = 0;
	*unc_ns = UINT64_MAX;
	for (int i = 0; i < 3 && *unc_ns > 1000; i++) {
		uint64_t a = mono_ns(), r = realtime_ns(loop), b = mono_ns();
		if (b - a < *unc_ns) {
			off = (int64_t)(r - (a + (b - a) / 2));
			*mono = b;
			*unc_ns = b - a;
		}
	}
	return off;
}

uint64_t coil__rt_to_now(struct coil_loop *loop, uint64_t rt_ns)
{
	uint64_t t;
	if (loop->rt_turn != loop->st.turns || !loop->rt_mono) {
		uint64_t mono = 0, unc;
		int64_t off = read_rt_off(loop, &mono, &unc);
		loop->rt_bad = loop->rt_mono &&
			       coil__rt_stepped(loop->rt_off, loop->rt_mono,
						loop->rt_unc, off, mono, unc);
		if (loop->rt_bad) {
			loop->st.rt_steps++;
			loop->rt_step_ns = mono;
		}
		loop->rt_off = off;
		loop->rt_mono = mono;
		loop->rt_unc = unc;
		loop->rt_turn = loop->st.turns;
	}
	t = rt_ns - (uint64_t)loop->rt_off;
	if (loop->rt_bad || t < loop->rt_step_ns) {
		loop->st.rt_fallbacks++;
		return 0;
	}
	return t < loop->now_ns ? t : loop->now_ns;
}

#define COIL_LOOP_FLAGS_ALL                                                    \
	(COIL_LOOP_NO_DEFER | COIL_LOOP_NO_COOP | COIL_LOOP_NO_MULTISHOT |     \
	 COIL_LOOP_NO_BUFRING | COIL_LOOP_NO_MSG_RING |                        \
	 COIL_LOOP_NO_EARLY_SUBMIT | COIL_LOOP_BUF_INC)

static unsigned parse_fallback_env(void)
{
	const char *s = getenv("COIL_FALLBACK");
	unsigned f = 0;
	if (!s)
		return 0;
	if (strstr(s, "nodefer"))
		f |= COIL_LOOP_NO_DEFER;
	if (strstr(s, "nocoop"))
		f |= COIL_LOOP_NO_COOP | COIL_LOOP_NO_DEFER;
	if (strstr(s, "nomultishot"))
		f |= COIL_LOOP_NO_MULTISHOT;
	if (strstr(s, "nobufring"))
		f |= COIL_LOOP_NO_BUFRING | COIL_LOOP_NO_MULTISHOT;
	if (strstr(s, "nomsgring"))
		f |= COIL_LOOP_NO_MSG_RING;
	if (strstr(s, "bufinc")) /* not a fallback: the tests' way in */
		f |= COIL_LOOP_BUF_INC;
	return f;
}

/* Kernel version as major * 1000 + minor, for features no probe shows
 * (multishot flags ride on opcodes that exist earlier). */
static int kernel_version(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%d.%d", &maj, &min);
	return maj * 1000 + min;
}

static unsigned roundup_pow2(unsigned v)
{
	unsigned p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* io_uring_setup(2) with the best flags the kernel takes. */
static int ring_setup(struct coil_loop *loop, unsigned entries, unsigned cq)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int ret = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		unsigned fl = tries[i];
		if ((loop->force & COIL_LOOP_NO_DEFER) &&
		    (fl & IORING_SETUP_DEFER_TASKRUN))
			continue;
		if ((loop->force & COIL_LOOP_NO_COOP) &&
		    (fl & IORING_SETUP_COOP_TASKRUN))
			continue;
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = fl | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(entries, &loop->ring, &p);
		if (ret == 0) {
			if (fl & IORING_SETUP_SINGLE_ISSUER)
				loop->features |= COIL_FEAT_SINGLE_ISSUER;
			if (fl & IORING_SETUP_DEFER_TASKRUN)
				loop->features |= COIL_FEAT_DEFER_TASKRUN;
			if (fl & IORING_SETUP_COOP_TASKRUN)
				loop->features |= COIL_FEAT_COOP_TASKRUN;
			if (fl & IORING_SETUP_SUBMIT_ALL)
				loop->features |= COIL_FEAT_SUBMIT_ALL;
			if (p.features & IORING_FEAT_EXT_ARG)
				loop->features |= COIL_FEAT_EXT_ARG;
			if (p.features & IORING_FEAT_MIN_TIMEOUT)
				loop->features |= COIL_FEAT_MIN_WAIT;
			if (p.features & IORING_FEAT_CQE_SKIP)
				loop->features |= COIL_FEAT_CQE_SKIP;
			return 0;
		}
		if (ret != -EINVAL)
			return ret; /* ENOSYS, EPERM, ENOMEM: no point going on
				     */
	}
	return ret;
}

static void probe_ops(struct coil_loop *loop)
{
	struct io_uring_probe *pr = io_uring_get_probe_ring(&loop->ring);
	int kv = kernel_version();
	if (!pr)
		return;
	if (io_uring_opcode_supported(pr, IORING_OP_SOCKET))
		loop->features |= COIL_FEAT_SOCKET;
	if (io_uring_opcode_supported(pr, IORING_OP_MSG_RING) &&
	    !(loop->force & COIL_LOOP_NO_MSG_RING))
		loop->features |= COIL_FEAT_MSG_RING;
	if (io_uring_opcode_supported(pr, IORING_OP_SEND_ZC))
		loop->features |= COIL_FEAT_SEND_ZC;
	if (kv >= 5019 && !(loop->force & COIL_LOOP_NO_MULTISHOT))
		loop->features |= COIL_FEAT_MULTISHOT_ACCEPT;
	io_uring_free_probe(pr);
}

/* The provided buffer ring. A small ring asked for incremental
 * consumption that the kernel refuses (before 6.12) becomes one of the
 * defaults instead, which holds as many reads as without the flag. */
static int buf_ring(struct coil_loop *loop, const struct coil_loop_opts *o)
{
	int inc = (loop->force & COIL_LOOP_BUF_INC) && o->buf_size <= 65535;
	int ret = coil__buf_ring_setup(loop, roundup_pow2(o->buf_count),
				       o->buf_size, inc);

	if (ret < 0 || !inc || (loop->features & COIL_FEAT_BUF_INC) ||
	    o->buf_count >= 1024)
		return ret;
	coil__buf_ring_free(loop);
	return coil__buf_ring_setup(loop, 1024, 16384, 0);
}

int coil_loop_new(struct coil_loop **out, const struct coil_loop_opts *opts)
{
	struct coil_loop_opts o = {0};
	struct coil_loop *loop;
	int ret;

	if (opts)
		o = *opts;
	if (!o.sq_entries)
		o.sq_entries = 1024;
	if (!o.cq_factor)
		o.cq_factor = 8;
	if (!o.buf_count)
		o.buf_count = 1024;
	if (!o.buf_size)
		o.buf_size = 16384;
	if (!o.iowq_max_workers)
		o.iowq_max_workers = 4;
	if (o.sq_entries > 32768 || o.cq_factor > 64 || o.buf_count > 32768 ||
	    (o.flags & ~COIL_LOOP_FLAGS_ALL) ||
	    (o.batch_wait_ns > 1000000000ull &&
	     o.batch_wait_ns != COIL_BATCH_WAIT_TIMER) ||
	    ((o.flags & COIL_LOOP_BUF_INC) && o.buf_size > 65535))
		return -EINVAL;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->force = o.flags | parse_fallback_env();
	loop->rx_msg.msg_controllen =
		CMSG_SPACE(sizeof(struct scm_timestamping));
	loop->efd = -1;
	pthread_mutex_init(&loop->inbox_mu, NULL);

	/* at least 2: an op and its linked timeout go in together */
	unsigned sq = roundup_pow2(o.sq_entries < 2 ? 2 : o.sq_entries);
	ret = ring_setup(loop, sq, sq * o.cq_factor);
	if (ret < 0) {
		pthread_mutex_destroy(&loop->inbox_mu);
		free(loop);
		return ret;
	}
	probe_ops(loop);
	coil_loop_set_batch_wait(loop, o.batch_wait_ns);

	unsigned workers[2] = {o.iowq_max_workers, o.iowq_max_workers};
	io_uring_register_iowq_max_workers(&loop->ring, workers);

	if (!(loop->force & COIL_LOOP_NO_BUFRING) && buf_ring(loop, &o) == 0) {
		loop->features |= COIL_FEAT_BUF_RING;
		if (kernel_version() >= 6000 &&
		    !(loop->force & COIL_LOOP_NO_MULTISHOT))
			loop->features |= COIL_FEAT_MULTISHOT_RECV;
	}

	/* Blocking on purpose: io_uring honours O_NONBLOCK and would answer
	 * the inbox read with -EAGAIN instead of waiting. */
	loop->efd = eventfd(0, EFD_CLOEXEC);
	if (loop->efd < 0 || coil__arm_inbox(loop) < 0) {
		ret = loop->efd < 0 ? -errno : -ENOMEM;
		coil_loop_free(loop);
		return ret;
	}
	coil_now_update(loop);
	*out = loop;
	return 0;
}

const char *coil_loop_strerror(int err)
{
	switch (err) {
	case -ENOSYS:
		return "io_uring is not available: the kernel lacks it "
		       "(needs Linux 5.19 or later; 6.1+ recommended)";
	case -EPERM:
		return "io_uring is not permitted: check sysctl "
		       "kernel.io_uring_disabled, or the container's seccomp "
		       "profile (Docker blocks io_uring by default)";
	case -ENOMEM:
		return "io_uring could not lock memory for the ring: raise "
		       "RLIMIT_MEMLOCK (ulimit -l) or use Linux 5.12 or later";
	case -EINVAL:
		return "io_uring set-up refused the options (ring too large?)";
	default:
		return coil_strerror(err);
	}
}

void coil_loop_free(struct coil_loop *loop)
{
	if (!loop)
		return;
	while (loop->pend_head) {
		struct pending *p = loop->pend_head;
		loop->pend_head = p->next;
		free(p);
	}
	io_uring_queue_exit(&loop->ring);
	coil__buf_ring_free(loop);
	for (unsigned k = 0; k < COIL__BLK_N; k++) {
		while (loop->blk_free[k]) {
			void *next = *(void **)loop->blk_free[k];
			free(loop->blk_free[k]);
			loop->blk_free[k] = next;
		}
	}
	coil__wait_free(loop);
	free(loop->fd_cancel);
	free(loop->sf_sink);
	if (loop->efd >= 0)
		close(loop->efd);
	pthread_mutex_destroy(&loop->inbox_mu);
	free(loop);
}

unsigned coil_loop_features(const struct coil_loop *loop)
{
	return loop->features;
}

int coil_loop_ring_fd(const struct coil_loop *loop)
{
	return loop->ring.ring_fd;
}

unsigned coil_loop_inflight(const struct coil_loop *loop)
{
	return loop->inflight;
}

int coil_loop_set_batch_wait(struct coil_loop *loop, uint64_t batch_wait_ns)
{
	loop->batch_timer = batch_wait_ns == COIL_BATCH_WAIT_TIMER;
	if (loop->batch_timer)
		batch_wait_ns = 0;
	if (batch_wait_ns > 1000000000ull)
		return -EINVAL;
	if (!(loop->features & COIL_FEAT_MIN_WAIT))
		batch_wait_ns = 0;
	loop->batch_wait_us = !batch_wait_ns ? 0
			      : batch_wait_ns < 1000
				      ? 1
				      : (unsigned)(batch_wait_ns / 1000);
	loop->batch_hot = loop->batch_wait_us != 0;
	return 0;
}

void coil_loop_stop(struct coil_loop *loop)
{
	loop->stop = 1;
}

void *coil__blk_get(struct coil_loop *loop, unsigned kind, size_t size)
{
	void *p = loop->blk_free[kind];
	if (p) {
		loop->blk_free[kind] = *(void **)p;
		loop->nblk_free[kind]--;
		return p;
	}
	return malloc(size < sizeof(void *) ? sizeof(void *) : size);
}

/* Blocks kept per kind: a sendmsg's iovecs are needed only while one is
 * in flight; a stream's write part while it writes, its extension while
 * it pauses or keeps deadlines, by as many streams as a loop serves at
 * once. */
static const unsigned blk_cap[COIL__BLK_N] = {64, 1024, 1024};
/* struct coil_loop's lists have room for every kind (engine/internal.h
 * cannot name COIL__BLK_N: it does not include blkcache.h) */
_Static_assert(sizeof(((struct coil_loop *)0)->blk_free) ==
		       COIL__BLK_N * sizeof(void *),
	       "one blk_free list per COIL__BLK_* kind");

void coil__blk_put(struct coil_loop *loop, unsigned kind, void *p)
{
	if (loop->nblk_free[kind] >= blk_cap[kind]) {
		free(p);
		return;
	}
	*(void **)p = loop->blk_free[kind];
	loop->blk_free[kind] = p;
	loop->nblk_free[kind]++;
}

void coil__blk_trim(struct coil_loop *loop, unsigned keep)
{
	for (unsigned k = 0; k < COIL__BLK_N; k++) {
		while (loop->nblk_free[k] > keep) {
			void *p = loop->blk_free[k];
			loop->blk_free[k] = *(void **)p;
			loop->nblk_free[k]--;
			free(p);
		}
	}
}

void coil_loop_stats(const struct coil_loop *loop, struct coil_loop_stats *st)
{
	*st = loop->st;
}

void coil__post(struct coil_loop *loop, struct coil_op *op, int res)
{
	if (!(op->state & ST_BUSY))
		loop->inflight++;
	/* a wait whose deadline passed was cancelled for it (deadline.c) */
	if (res == -ECANCELED && (op->state & (ST_EXPECT | ST_TIMED_OUT)) ==
					 (ST_EXPECT | ST_TIMED_OUT))
		res = -ETIMEDOUT;
	op->state = (uint16_t)((op->state & (ST_TIMER | ST_WAIT_TIMED)) |
			       ST_BUSY | ST_POSTED);
	op->res = res;
	op->cflags = 0;
	op->loop = loop;
	op->next = NULL;
	if (loop->ready_tail)
		loop->ready_tail->next = op;
	else
		loop->ready_head = op;
	loop->ready_tail = op;
}

int coil_loop_post(struct coil_loop *loop, struct coil_op *op, int res)
{
	if (op->state & ST_BUSY)
		return -EBUSY;
	/* consumed, as by any submission; holds the carried deadline */
	op->timeout_ns = loop->task_deadline_ns;
	coil__post(loop, op, res);
	return 0;
}

void coil_loop_expect(struct coil_loop *loop, struct coil_op *op)
{
	if (op->state & ST_BUSY)
		return;
	op->state = ST_BUSY | ST_EXPECT;
	op->loop = loop;
	loop->inflight++;
}

/* The op's final completion: it is the caller's again once cb runs. */
static void finish(struct coil_loop *loop, struct coil_op *op, int res,
		   unsigned flags)
{
	if (op->state & ST_TIMER && res == -ETIME)
		res = 0;
	uint64_t carry;

	if (op->state & ST_BUSY) {
		loop->inflight--;
		if (loop->draining && res == -ECANCELED &&
		    !(op->state & ST_INTERNAL))
			loop->drain_cancelled++;
	}
	if (op->state & ST_WAIT_TIMED)
		coil__wait_untime(loop, op);
	/* in flight, timeout_ns holds the carried deadline the op was
	 * submitted under: its callback runs under it again */
	carry = op->timeout_ns;
	op->timeout_ns = 0;
	op->state = 0;
	if (carry) {
		uint64_t prev = loop->task_deadline_ns;
		loop->task_deadline_ns = carry;
		op->cb(op, res, flags);
		loop->task_deadline_ns = prev;
		return;
	}
	op->cb(op, res, flags);
}

/* The kernel's restart codes (include/linux/errno.h), which an op that
 * an io-wq worker was running when it got cancelled can end with. */
#define KERN_ERESTARTSYS 512
#define KERN_ERESTART_RESTARTBLOCK 516

/*
 * What the caller sees of an op's final result. An op cancelled while an
 * io-wq worker ran it (a blocking openat, say) is interrupted rather than
 * cancelled: its cancel answers -EALREADY and the op ends with -EINTR, or
 * with a restart code that should never reach user space (seen: -512 on
 * Linux 6.18). After coil_cancel() that is -ECANCELED; after a fired
 * linked timeout, -ETIMEDOUT, as for an op cancelled before it ran.
 */
static int final_res(const struct coil_op *op, int res)
{
	if (res <= -KERN_ERESTARTSYS && res >= -KERN_ERESTART_RESTARTBLOCK)
		res = -EINTR;
	if (res != -ECANCELED && res != -EINTR)
		return res;
	if (op->state & ST_TIMED_OUT)
		return -ETIMEDOUT;
	if (op->state & ST_CANCEL)
		return -ECANCELED;
	return res;
}

/* A linked op is delivered when both its CQE and its timeout's are in; a
 * fired timeout turns the op's -ECANCELED into -ETIMEDOUT. */
static void linked_finish(struct coil_loop *loop, struct coil_op *op, int res,
			  unsigned flags)
{
	finish(loop, op, final_res(op, res), flags);
}

static void dispatch(struct coil_loop *loop, uint64_t ud, int res,
		     unsigned flags)
{
	struct coil_op *op = (struct coil_op *)(uintptr_t)(ud & ~TAG_MASK);

	switch (ud & TAG_MASK) {
	case TAG_IGNORE:
		return;
	case TAG_LTIMEOUT:
		op->state &= (uint16_t)~ST_LINKED;
		/* -ETIME: fired and cancelled the op; -EALREADY: fired while
		 * a worker ran the op, which it interrupts */
		if (res == -ETIME || res == -EALREADY)
			op->state |= ST_TIMED_OUT;
		if (op->state & ST_OP_DONE)
			linked_finish(loop, op, op->res, op->cflags);
		return;
	}
	if (flags & IORING_CQE_F_BUFFER) /* the consumer's until coil_buf_put */
		coil__buf_taken(loop, flags >> IORING_CQE_BUFFER_SHIFT, res,
				flags);
	if ((op->state & ST_RECVMSG) && (flags & IORING_CQE_F_BUFFER) &&
	    res > 0 &&
	    coil__recvmsg_empty(loop, flags >> IORING_CQE_BUFFER_SHIFT, res)) {
		/* A recvmsg buffer with the header and no payload: the
		 * kernel's EOF (a final CQE). Seen as recv shows it: 0. */
		coil_buf_put(loop, flags >> IORING_CQE_BUFFER_SHIFT);
		flags &= ~(unsigned)IORING_CQE_F_BUFFER;
		res = 0;
		if (flags & IORING_CQE_F_MORE)
			return; /* (not seen) nothing to hand on */
	}
	if (flags & IORING_CQE_F_MORE) {
		op->cb(op, res, flags);
		return;
	}
	if ((op->state & ST_MULTI) &&
	    (res > 0 || (res == 0 && op->opcode == IORING_OP_ACCEPT))) {
		/* The kernel ended a multishot op early (CQ full) on a
		 * result: hand the result on as one more and keep the op
		 * going, or end it as asked if a cancel is pending. */
		int err = coil__cancel_pending(loop, op)
				  ? -ECANCELED
				  : coil__rearm_multi(loop, op);
		if (err)
			coil__post(loop, op, err);
		op->cb(op, res, flags | IORING_CQE_F_MORE);
		return;
	}
	if ((op->state & ST_RECV_BUF) && res == -ENOBUFS) {
		/* The ring ran dry. Park and re-arm later, unless a cancel was
		 * asked for and lost the race against this CQE: then this is
		 * the op's end, as the caller expects. */
		if (coil__cancel_pending(loop, op))
			res = -ECANCELED;
		else if (coil__park_nobufs(loop, op) == 0)
			return;
	}
	if (op->state & ST_LINKED) { /* the timeout's CQE is still due */
		op->state |= ST_OP_DONE;
		op->res = res;
		op->cflags = flags;
		return;
	}
	finish(loop, op, final_res(op, res), flags);
}

static void run_ready(struct coil_loop *loop)
{
	/* Only the ops posted before this point run this turn, so a callback
	 * that posts again cannot starve the ring. */
	struct coil_op *op = loop->ready_head, *end = loop->ready_tail;
	loop->ready_head = loop->ready_tail = NULL;
	while (op) {
		struct coil_op *next = op->next;
		int last = op == end;
		op->next = NULL;
		finish(loop, op, op->res, op->cflags);
		if (last)
			break;
		op = next;
	}
}

static unsigned reap(struct coil_loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	/* Only what is there now: callbacks that submit can make the kernel
	 * post more CQEs while we reap (an early submit completes nops and
	 * failed SQEs inline); those wait for the next turn, after the ops
	 * posted in user space had theirs. */
	unsigned limit = io_uring_cq_ready(&loop->ring);

	io_uring_for_each_cqe (&loop->ring, head, cqe) {
		if (n == limit)
			break;
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		unsigned flags = cqe->flags;
		/* Advance before the callback: it may free the op and the
		 * CQ slot is ours to hand back already. */
		io_uring_cq_advance(&loop->ring, 1);
		n++;
		dispatch(loop, ud, res, flags);
	}
	loop->st.cqes += n;
	return n;
}

/*
 * Submit and wait with a min-wait (io_uring_enter(2), IORING_ENTER_EXT_ARG,
 * kernel 6.12): up to loop->inflight completions, but return with what has
 * come once batch_wait_us have passed. liburing 2.3 cannot pass min-wait
 * (the field is its getevents arg's "pad"), so the SQ tail is published
 * here the way io_uring_submit() does. The general timeout only bounds an
 * idle wait (the kernel would otherwise treat the min-wait as the timeout)
 * and leads to another wait: a turn that waits returns with a completion.
 * IORING_OP_TIMEOUT completions wake the waiter at once whatever the count
 * (io_uring's rule for timeouts), so timers are never held back.
 */
/* Publish the SQ tail as io_uring_submit() does; the count to submit. */
static unsigned publish_sq(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;
	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	return tail - io_uring_smp_load_acquire(sq->khead);
}

static int enter_batched(struct coil_loop *loop)
{
	struct io_uring *ring = &loop->ring;
	struct __kernel_timespec ts = {.tv_sec = 1};
	struct io_uring_getevents_arg arg;
	unsigned to_submit = publish_sq(ring);
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.ts = (uint64_t)(uintptr_t)&ts;
	arg.pad = loop->batch_wait_us; /* min_wait_usec */
	do {
		ret = io_uring_enter2(ring->ring_fd, to_submit, loop->inflight,
				      IORING_ENTER_GETEVENTS |
					      IORING_ENTER_EXT_ARG,
				      (sigset_t *)&arg, sizeof(arg));
		loop->st.enters++;
		to_submit = 0;
		/* A wait that timed out still returns the count submitted */
	} while ((ret >= 0 || ret == -ETIME) && !io_uring_cq_ready(ring));
	return ret;
}

/*
 * Submit and wait until the alarm (coil_loop_alarm()): for @wait_nr
 * completions at most (or what has come after @min_wait_us), with the time
 * left to the alarm as the wait's timeout. -ETIME when the alarm's time
 * came first.
 */
static int enter_until_alarm(struct coil_loop *loop, unsigned wait_nr,
			     unsigned min_wait_us, uint64_t now)
{
	struct io_uring *ring = &loop->ring;
	uint64_t left = loop->alarm_at - now;
	struct __kernel_timespec ts = {.tv_sec = (long long)(left / 1000000000),
				       .tv_nsec =
					       (long long)(left % 1000000000)};
	struct io_uring_getevents_arg arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.ts = (uint64_t)(uintptr_t)&ts;
	arg.pad = min_wait_us;
	ret = io_uring_enter2(ring->ring_fd, publish_sq(ring), wait_nr,
			      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			      (sigset_t *)&arg, sizeof(arg));
	loop->st.enters++;
	return ret;
}

/* A waiting turn with an alarm armed: no later than the alarm; with
 * COIL_BATCH_WAIT_TIMER for everything in flight until then, with a hot
 * batched wait for its min-wait, else for one completion. */
static int wait_for_alarm(struct coil_loop *loop, uint64_t now)
{
	unsigned nr = 1, min_wait_us = 0;
	if (loop->batch_timer && loop->inflight) {
		nr = loop->inflight;
		loop->st.batched++;
	} else if (loop->batch_hot &&
		   loop->alarm_at - now > loop->batch_wait_us * 1000ull) {
		nr = loop->inflight;
		min_wait_us = loop->batch_wait_us;
		loop->st.batched++;
	}
	return enter_until_alarm(loop, nr, min_wait_us, now);
}

/* Run the alarm's callback once its time has come. */
static void ring_alarm(struct coil_loop *loop)
{
	struct coil_op *op = loop->alarm;
	if (!op || loop->now_ns < loop->alarm_at)
		return;
	loop->alarm = NULL;
	op->cb(op, 0, 0);
}

int coil_loop_alarm(struct coil_loop *loop, struct coil_op *op, uint64_t at_ns)
{
	if (!op || !op->cb)
		return -EINVAL;
	if (!(loop->features & COIL_FEAT_EXT_ARG))
		return -EOPNOTSUPP;
	loop->alarm = op;
	loop->alarm_at = at_ns;
	return 0;
}

void coil_loop_alarm_cancel(struct coil_loop *loop)
{
	loop->alarm = NULL;
}

static int turn(struct coil_loop *loop, int may_wait)
{
	struct io_uring *ring = &loop->ring;
	int ret;

	/* Buffers may have come back outside a turn (coil_buf_put between
	 * two runs): re-arm before deciding to sleep, or a loop whose only
	 * ops are parked recvs would wait for a CQE nobody will post. */
	coil__rearm_parked(loop);
	coil__flush_pending(loop);
	unsigned tosubmit = io_uring_sq_ready(ring);
	int overflow = IO_URING_READ_ONCE(*ring->sq.kflags) &
		       (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
	if (overflow & IORING_SQ_CQ_OVERFLOW)
		loop->st.overflow++;
	/* coil_loop_trim(): every CQE reaped, none in the kernel's overflow
	 * list, no entry yet: no buffer nobody holds carries bytes */
	if (loop->buf_trim && !overflow && !io_uring_cq_ready(ring))
		coil__buf_trim(loop);

	int wait = may_wait && !loop->ready_head &&
		   (loop->inflight > 0 || loop->alarm) &&
		   !io_uring_cq_ready(ring);
	loop->st.turns++;
	if (wait && loop->alarm && coil_now_update(loop) >= loop->alarm_at)
		wait = 0; /* the alarm rings this turn */
	if (wait && loop->alarm) {
		ret = wait_for_alarm(loop, loop->now_ns);
	} else if (wait && loop->batch_hot) {
		ret = enter_batched(loop);
		loop->st.batched++;
	} else if (wait) {
		ret = io_uring_submit_and_wait(ring, 1);
		loop->st.enters++;
	} else if (tosubmit || overflow ||
		   (loop->features & COIL_FEAT_DEFER_TASKRUN &&
		    !io_uring_cq_ready(ring))) {
		/* GETEVENTS: run deferred task work and flush overflow */
		ret = io_uring_submit_and_get_events(ring);
		loop->st.enters++;
	} else {
		ret = 0;
	}
	if (ret >= 0)
		loop->st.sqes += tosubmit;
	else if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
		 ret != -ETIME)
		return ret;

	coil_now_update(loop);
	unsigned n = reap(loop);
	/* Adaptive batching: a wait pays off only while completions come
	 * faster than the batch wait. A waiting turn that found one CQE (a
	 * lone request/response exchange, a sparse load) makes the next wait
	 * a plain one, so it costs no latency; one that found more (several
	 * peers active at once) makes the next wait gather again. */
	if (wait && loop->batch_wait_us)
		loop->batch_hot = n > 1;
	ring_alarm(loop);
	run_ready(loop);
	coil__rearm_parked(loop);
	return 0;
}

int coil_loop_run(struct coil_loop *loop, int mode)
{
	int ret = 0;

	if (mode != COIL_RUN_DEFAULT && mode != COIL_RUN_ONCE &&
	    mode != COIL_RUN_NOWAIT)
		return -EINVAL;
	/* From a callback, a nested run would reap the CQEs the outer one
	 * is walking and run their callbacks twice. */
	if (loop->running)
		return -EBUSY;
	loop->running = 1;
	loop->stop = 0;
	do {
		ret = turn(loop, mode != COIL_RUN_NOWAIT);
	} while (ret >= 0 && mode == COIL_RUN_DEFAULT && !loop->stop &&
		 (loop->inflight > 0 || loop->pend_head || loop->alarm));
	loop->running = 0;
	return ret < 0 ? ret : (int)loop->inflight;
}

uint64_t coil_deadline_enter(struct coil_loop *loop, uint64_t deadline_ns)
{
	uint64_t prev = loop->deadline_ns;
	if (deadline_ns && (!prev || deadline_ns < prev))
		loop->deadline_ns = deadline_ns;
	return prev;
}

void coil_deadline_leave(struct coil_loop *loop, uint64_t prev_deadline_ns)
{
	loop->deadline_ns = prev_deadline_ns;
}

/* ---- cross-thread inbox (eventfd) ------------------------------------- */

static void inbox_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_loop *loop =
		coil_container_of(op, struct coil_loop, efd_op);
	struct coil_op *head;
	(void)flags;
	(void)res;

	pthread_mutex_lock(&loop->inbox_mu);
	head = loop->inbox_head;
	loop->inbox_head = loop->inbox_tail = NULL;
	pthread_mutex_unlock(&loop->inbox_mu);
	while (head) {
		struct coil_op *next = head->next;
		head->next = NULL;
		finish(loop, head, head->res, 0);
		head = next;
	}
	coil__arm_inbox(loop);
}

int coil__arm_inbox(struct coil_loop *loop)
{
	/* Internal: not counted in inflight, so an idle loop still ends. */
	struct io_uring_sqe sqe;
	coil_op_init(&loop->efd_op, inbox_cb);
	io_uring_prep_read(&sqe, loop->efd, &loop->efd_val,
			   sizeof(loop->efd_val), 0);
	io_uring_sqe_set_data(&sqe, &loop->efd_op);
	return coil__place(loop, NULL, &sqe, 1);
}

/*
 * coil_loop_post_remote() - complete @op on @target from any thread, through
 * the target's eventfd. The fallback of coil_msg_ring(); also used by
 * threads without a ring of their own.
 */
int coil_loop_post_remote(struct coil_loop *target, struct coil_op *op, int res)
{
	uint64_t one = 1;
	op->res = res;
	op->next = NULL;
	pthread_mutex_lock(&target->inbox_mu);
	if (target->inbox_tail)
		target->inbox_tail->next = op;
	else
		target->inbox_head = op;
	target->inbox_tail = op;
	pthread_mutex_unlock(&target->inbox_mu);
	if (write(target->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}
