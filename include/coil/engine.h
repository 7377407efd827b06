/*
 * coil/engine.h - the io_uring ring loop: one ring per thread, operations
 * embedded in the caller's structs, one callback per completion.
 *
 * Rules every function below follows (see docs/ARCHITECTURE.md):
 *  - A loop is used only by the thread that created it (shared-nothing).
 *  - An op (struct coil_op) is embedded in the caller's struct and must not
 *    move or be freed from the submitting call until its final callback (the
 *    one without COIL_MORE). Buffers and addresses passed with it belong to
 *    the kernel for the same span.
 *  - Callbacks run on the loop's thread from coil_loop_run(), never inline
 *    from the submitting call.
 *  - Submitting functions return 0 when the op was accepted (its callback
 *    will run exactly once, or once per CQE for multishot ops), or -errno
 *    when it was not (its callback will not run).
 *  - Results passed to callbacks are the kernel's CQE result: >= 0 success,
 *    -errno failure; -ETIMEDOUT when a linked timeout fired, -ECANCELED when
 *    cancelled. Durations are uint64_t nanoseconds.
 */
#ifndef COIL_ENGINE_H
#define COIL_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------- */

/* 0 or a count on success, -errno on failure; coil's own codes sit below
 * -4096, where no errno can reach. */
#define COIL_EBASE (-4096)
#define COIL_EPARSE (COIL_EBASE - 1)   /* malformed HTTP message */
#define COIL_ETLS (COIL_EBASE - 2)     /* TLS failure; detail from tls layer */
#define COIL_ELIMIT (COIL_EBASE - 3)   /* a configured size limit was hit */
#define COIL_ECLOSED (COIL_EBASE - 4)  /* queue/stream closed */
#define COIL_ETRUNC (COIL_EBASE - 5)   /* peer closed without finishing */
#define COIL_ERESOLVE (COIL_EBASE - 6) /* name resolution failed */
#define COIL_EHTTP (COIL_EBASE - 7)    /* HTTP status counted as failure */
#define COIL_ELAST (COIL_EBASE - 63)   /* end of coil's range */
/* HTTP/2 (coil/http_h2.h) */
#define COIL_EH2 (COIL_EBASE - 8)	/* peer broke HTTP/2: we reset/GOAWAY */
#define COIL_EH2_RESET (COIL_EBASE - 9) /* peer reset the stream */
#define COIL_EH2_GOAWAY (COIL_EBASE - 10) /* peer went away (GOAWAY) */
#define COIL_EH2_FLOW (COIL_EBASE - 11)	  /* send window stayed closed */

/*
 * coil_strerror() - a one-line message for any result code.
 * @err: -errno, a COIL_E* code, or 0.
 *
 * Return: a static string; never NULL.
 */
const char *coil_strerror(int err);

/* ---- ops -------------------------------------------------------------- */

struct coil_loop;
struct coil_op;

/* Flags passed to callbacks (values match the kernel's CQE flags). */
/* COIL_BUFFER: a provided buffer was selected (see coil_buf_id()).
 * COIL_MORE: multishot, more callbacks will follow.
 * COIL_NOTIF: zero-copy send notification. */
#define COIL_BUFFER (1u << 0)
#define COIL_MORE (1u << 1)
#define COIL_NOTIF (1u << 3)

/*
 * The callback of an op. Runs on the loop's thread, once per CQE: @res is
 * the kernel's result, @flags a set of COIL_BUFFER / COIL_MORE bits with the
 * provided buffer id in the upper 16 bits. When it runs without COIL_MORE
 * the op is the caller's again (it may be freed or resubmitted inside the
 * callback).
 */
typedef void (*coil_op_cb)(struct coil_op *op, int res, unsigned flags);

/* An operation. Embed it; never move it while in flight. Set cb (and data if
 * you like) before submitting; the rest is private to the engine. */
struct coil_op {
	coil_op_cb cb;
	void *data; /* the caller's, untouched by the engine */
	/* private to the engine below this line */
	struct coil_op *next;
	struct coil_loop *loop;
	uint64_t timeout_ns; /* linked timeout for the next submission; in
				flight, the carried deadline */
	int64_t ts_sec;	     /* timespec the kernel reads at submit */
	int64_t ts_nsec;
	int32_t fd;
	int32_t res;
	uint32_t cflags;
	uint16_t state;
	uint8_t opcode;
	uint8_t bgid;
};

/* Recover the struct an op (or any member) is embedded in. */
#define coil_container_of(ptr, type, member)                                   \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/*
 * coil_op_init() - prepare an op for its first submission.
 * @op: caller-owned memory, any alignment suitable for pointers.
 * @cb: the completion callback.
 *
 * Zeroes the engine's private fields. An op may be re-initialised only when
 * it is not in flight.
 */
void coil_op_init(struct coil_op *op, coil_op_cb cb);

/*
 * coil_op_timeout() - give the op's next submission a linked timeout.
 * @op:         an op not in flight.
 * @timeout_ns: relative time; 0 clears it.
 *
 * The next submitting call links an IORING_OP_LINK_TIMEOUT to the op's SQE
 * (io_uring_prep_link_timeout(3)); if it fires, the op's callback receives
 * -ETIMEDOUT. The setting is consumed by that submission. Multishot ops
 * refuse it (-EINVAL at submit). Waits on the primitives of coil/async.h
 * (semaphore, queue, event, group, pool job) apply it as well: the wait
 * completes with -ETIMEDOUT if still waiting when it runs out.
 */
void coil_op_timeout(struct coil_op *op, uint64_t timeout_ns);

/*
 * coil_op_busy() - whether the op is submitted and its final callback has
 * not run yet. Return: 1 or 0.
 */
int coil_op_busy(const struct coil_op *op);

/* ---- the loop --------------------------------------------------------- */

/* Loop options. Zero means "default" for every field. */
struct coil_loop_opts {
	unsigned sq_entries; /* SQ size, default 1024 (rounded to 2^n) */
	unsigned cq_factor;  /* CQ = factor * SQ, default 8 (4..16 sane) */
	unsigned flags;	     /* COIL_LOOP_NO_* to force fallbacks */
	unsigned buf_count;  /* provided buffers, default 1024 (2^n) */
	unsigned buf_size;   /* bytes each, default 16384 */
	unsigned iowq_max_workers; /* io-wq bounded/unbounded cap, default 4 */
	/*
	 * Batched waiting, off (0) by default, at most 1 s. A turn that has
	 * to wait asks the kernel for as many completions as there are ops
	 * in flight, but takes what has come once batch_wait_ns have passed
	 * (at least one): fewer io_uring_enter(2) calls and wake-ups under
	 * load, for up to batch_wait_ns more latency per turn when
	 * completions trickle in. Adaptive: a batched wait is used only
	 * while the previous waiting turn found more than one completion,
	 * so a lone request/response exchange or a sparse load waits the
	 * plain way (no added latency) and at most one turn is delayed when
	 * a busy loop goes quiet (coil_loop_stats.batched counts the batched
	 * waits). Uses the min-wait of io_uring_enter(2)
	 * (IORING_FEAT_MIN_TIMEOUT, kernel 6.12); ignored without
	 * COIL_FEAT_MIN_WAIT. COIL_BATCH_WAIT_TIMER (below) waits for a
	 * timer instead.
	 */
	uint64_t batch_wait_ns;
};

/* Fallbacks that can be forced (also by the COIL_FALLBACK environment
 * variable, a comma list of: nodefer, nocoop, nomultishot, nobufring,
 * nomsgring; and bufinc for COIL_LOOP_BUF_INC below). */
#define COIL_LOOP_NO_DEFER (1u << 0)	 /* no SINGLE_ISSUER|DEFER_TASKRUN */
#define COIL_LOOP_NO_COOP (1u << 1)	 /* no COOP_TASKRUN either */
#define COIL_LOOP_NO_MULTISHOT (1u << 2) /* single-shot accept and recv */
#define COIL_LOOP_NO_BUFRING (1u << 3)	 /* no provided buffer ring */
#define COIL_LOOP_NO_MSG_RING (1u << 4)	 /* cross-ring wake-ups by eventfd */
/* Not a kernel fallback: SQEs that find the SQ full wait in user space for
 * the next turn instead of an early io_uring_enter(2) from the submitting
 * call (strictly one submitting enter per turn, at the cost of a malloc
 * per queued SQE; stats.queued counts them). */
#define COIL_LOOP_NO_EARLY_SUBMIT (1u << 5)
/* Not a fallback either: the provided buffers are consumed incrementally
 * (IOU_PBUF_RING_INC, io_uring_setup_buf_ring(3), kernel 6.12): each
 * receive takes only the bytes it needs from the current buffer, so many
 * small reads share one buffer (and its pages) instead of taking a whole
 * buffer each, and a ring of few buffers holds many reads. A buffer goes
 * back to the kernel once every delivery from it was put back and the
 * kernel has moved past it; buf_size at most 65535. A paused TCP stream
 * copies what arrives after its pause instead of holding buffers, so
 * paused streams cannot keep a small ring from the others. Without kernel
 * support (COIL_FEAT_BUF_INC says which) the loop uses whole buffers,
 * and a ring of fewer than 1,024 becomes one of the defaults (1,024 of
 * 16 KiB), which holds as many reads as a loop without the flag. */
#define COIL_LOOP_BUF_INC (1u << 6)

/* What the loop got from the kernel (coil_loop_features()). */
#define COIL_FEAT_SINGLE_ISSUER (1u << 0)
#define COIL_FEAT_DEFER_TASKRUN (1u << 1)
#define COIL_FEAT_COOP_TASKRUN (1u << 2)
#define COIL_FEAT_SUBMIT_ALL (1u << 3)
#define COIL_FEAT_MULTISHOT_ACCEPT (1u << 4) /* kernel >= 5.19 */
#define COIL_FEAT_MULTISHOT_RECV (1u << 5)   /* kernel >= 6.0 + buffer ring */
#define COIL_FEAT_BUF_RING (1u << 6)	     /* kernel >= 5.19 */
#define COIL_FEAT_MSG_RING (1u << 7)	     /* kernel >= 5.18 */
#define COIL_FEAT_SOCKET (1u << 8)	     /* IORING_OP_SOCKET, 5.19 */
#define COIL_FEAT_SEND_ZC (1u << 9)	     /* kernel >= 6.0 */
#define COIL_FEAT_EXT_ARG (1u << 10)	     /* timed waits without SQEs */
#define COIL_FEAT_MIN_WAIT (1u << 11)	     /* batch_wait_ns, kernel >= 6.12 */
#define COIL_FEAT_CQE_SKIP (1u << 12)	     /* coil_send_quiet(), 5.17 */
#define COIL_FEAT_BUF_INC (1u << 13)	     /* COIL_LOOP_BUF_INC, 6.12 */

/*
 * coil_loop_new() - create a loop with its own ring.
 * @out:  receives the loop, owned by the caller (coil_loop_free()).
 * @opts: options, or NULL for defaults; read only during the call.
 *
 * Tries SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL|COOP_TASKRUN with a CQ
 * cq_factor times the SQ, then drops flags step by step when the kernel
 * refuses them (io_uring_setup(2)); probes opcodes with
 * io_uring_get_probe_ring(3); registers the provided buffer ring
 * (io_uring_register_buf_ring(3)) and caps io-wq workers
 * (io_uring_register_iowq_max_workers(3)). The calling thread becomes the
 * loop's thread.
 *
 * Return: 0; -ENOMEM; -ENOSYS (kernel without io_uring); -EPERM (io_uring
 * disabled by kernel.io_uring_disabled or a seccomp profile); -EINVAL for
 * bad options (sq_entries > 32768, cq_factor > 64, buf_count > 32768,
 * unknown flags, batch_wait_ns > 1 s, buf_size > 65535 with
 * COIL_LOOP_BUF_INC). coil_loop_strerror() explains each
 * in one line.
 */
int coil_loop_new(struct coil_loop **out, const struct coil_loop_opts *opts);

/*
 * coil_loop_strerror() - why coil_loop_new() failed, in words.
 * @err: its return value.
 * Return: a static string naming the likely cause and the fix.
 */
const char *coil_loop_strerror(int err);

/*
 * coil_loop_free() - tear the ring down.
 * @loop: a loop with no op in flight (coil_loop_inflight() == 0), or NULL.
 *
 * Ops still in flight are cancelled by the kernel when the ring closes and
 * their callbacks never run; free only an idle loop, on its own thread,
 * outside coil_loop_run() (never from a callback), and only once no other
 * thread can still call coil_msg_ring() or coil_loop_post_remote() on it.
 */
void coil_loop_free(struct coil_loop *loop);

/* coil_loop_features() - COIL_FEAT_* bits the loop got. */
unsigned coil_loop_features(const struct coil_loop *loop);

/* coil_loop_ring_fd() - the ring's file descriptor (for MSG_RING targets). */
int coil_loop_ring_fd(const struct coil_loop *loop);

#define COIL_RUN_DEFAULT 0 /* until nothing is in flight or coil_loop_stop */
#define COIL_RUN_ONCE 1	   /* one turn, waiting for at least one CQE */
#define COIL_RUN_NOWAIT 2  /* one turn, not waiting */

/*
 * coil_loop_run() - submit queued SQEs and run callbacks.
 * @loop: the loop, on its own thread.
 * @mode: COIL_RUN_DEFAULT, COIL_RUN_ONCE or COIL_RUN_NOWAIT.
 *
 * Each turn makes one io_uring_enter(2) (io_uring_submit_and_wait(3)):
 * it submits every SQE queued since the last turn and waits for at least one
 * completion unless @mode is COIL_RUN_NOWAIT or callbacks are already ready,
 * then refreshes coil_now() and runs the callbacks of every CQE reaped,
 * then those of ops completed in user space (coil_loop_post()). A NOWAIT
 * turn still enters the ring when the kernel holds deferred work
 * (DEFER_TASKRUN, COOP_TASKRUN) or overflowed CQEs, so polling with NOWAIT
 * makes progress. A turn enters more than once only to drain SQEs queued in
 * user space when the SQ was full.
 *
 * COIL_RUN_DEFAULT also waits for ops parked on -ENOBUFS: it returns only
 * once their buffers came back (coil_buf_put() from a callback).
 *
 * Not from a callback: a nested run returns -EBUSY (the outer run goes on).
 *
 * Return: the number of ops still in flight (>= 0); -EINVAL for an unknown
 * @mode; -EBUSY when called from a callback of this loop; or -errno if
 * entering the ring failed for a reason other than EINTR/EAGAIN/EBUSY:
 * -EEXIST
 * when called from a thread other than the loop's (SINGLE_ISSUER rings);
 * -EBADR when the kernel had to drop completions (CQ overflow with no
 * memory left, io_uring_enter(2)), after which callbacks may be missing.
 */
int coil_loop_run(struct coil_loop *loop, int mode);

/*
 * COIL_BATCH_WAIT_TIMER - a batch wait that lasts until the loop's alarm
 * (coil_loop_alarm()): a turn that has to wait while an alarm is armed
 * sleeps until the alarm's time or until every op in flight has
 * completed, gathering whatever completes meanwhile into that one wake-up
 * (io_uring_enter(2) with min_complete = the ops in flight and the alarm
 * as the wait's timeout). Without an alarm armed, waits are plain ones.
 * For a loop whose work is paced by its alarm and whose completions carry
 * their own times: coil-bench's open model, whose pacer wakes on a grid
 * and whose responses are timed by the kernel's receive timestamps
 * (COIL_TCP_RX_TIME), so one wake-up per grid step replaces one per
 * response. A completion can wait up to the alarm to be seen. Needs
 * COIL_FEAT_EXT_ARG. Not adaptive.
 */
#define COIL_BATCH_WAIT_TIMER UINT64_MAX

/*
 * coil_loop_alarm() - wake the loop at @at_ns without a timeout op: @op's
 * callback runs (res 0, flags 0) in the first turn that reaps at or after
 * @at_ns (absolute, coil_now()'s clock, CLOCK_MONOTONIC), and every wait
 * before then ends by @at_ns: the alarm is the timeout of the turn's
 * io_uring_enter(2) wait (IORING_ENTER_EXT_ARG), so it costs no SQE, no
 * CQE and no io_uring timeout of its own. A timeout op (coil_timeout())
 * is the general timer; the alarm is the one cheap wake-up a loop paced
 * by its own clock needs (with COIL_BATCH_WAIT_TIMER, the loop sleeps from
 * alarm to alarm). One alarm per loop: arming again replaces it (the
 * replaced op gets no callback); coil_loop_alarm_cancel() disarms. An
 * armed alarm keeps coil_loop_run(COIL_RUN_DEFAULT) running as an op in
 * flight does. The callback may re-arm. The wait's timer has the thread's
 * timer slack (prctl(2) PR_SET_TIMERSLACK, 50 us by default). @op is the
 * caller's and must stay valid while armed. Loop thread only.
 * Return: 0; -EINVAL for a NULL @op or an @op without a callback;
 * -EOPNOTSUPP without COIL_FEAT_EXT_ARG (kernel < 5.11).
 */
int coil_loop_alarm(struct coil_loop *loop, struct coil_op *op, uint64_t at_ns);

/* coil_loop_alarm_cancel() - disarm the loop's alarm, if armed (its op gets
 * no callback). Loop thread only. */
void coil_loop_alarm_cancel(struct coil_loop *loop);

/*
 * coil_loop_set_batch_wait() - change coil_loop_opts.batch_wait_ns from
 * the next waiting turn on (0 turns batched waiting off;
 * COIL_BATCH_WAIT_TIMER waits for a timer, above). Ignored (set to 0)
 * without COIL_FEAT_MIN_WAIT (COIL_FEAT_EXT_ARG for
 * COIL_BATCH_WAIT_TIMER). Loop thread only.
 * Return: 0; -EINVAL above 1 s (other than COIL_BATCH_WAIT_TIMER).
 */
int coil_loop_set_batch_wait(struct coil_loop *loop, uint64_t batch_wait_ns);

/*
 * coil_loop_run_until() - run turns until *@flag is nonzero or @timeout_ns
 * has passed (for tests, examples and programs that wait for one result
 * at their top level; docs/TESTING.md).
 * @flag: set by a callback; read between turns.
 * The limit is a ring timer of the call's own, so it also ends a wait
 * with nothing else in flight (where coil_loop_run(COIL_RUN_ONCE) would
 * block); it is removed before the call returns. Unlike
 * COIL_RUN_DEFAULT, it does not wait for unrelated ops in flight (a
 * client's idle keep-alive reads).
 * Return: 0 once *@flag is set; -ETIMEDOUT; -EBUSY from a callback of
 * @loop; -EINVAL; coil_loop_run()'s errors.
 */
int coil_loop_run_until(struct coil_loop *loop, const volatile int *flag,
			uint64_t timeout_ns);

/* coil_loop_stop() - make coil_loop_run(COIL_RUN_DEFAULT) return after the
 * current turn. Loop thread only. */
void coil_loop_stop(struct coil_loop *loop);

/* coil_loop_inflight() - ops whose final callback has not run yet. */
unsigned coil_loop_inflight(const struct coil_loop *loop);

/*
 * coil_loop_stats() - counters since coil_loop_new(), for benchmarks.
 */
struct coil_loop_stats {
	uint64_t turns;		 /* loop turns */
	uint64_t enters;	 /* io_uring_enter(2) calls made */
	uint64_t sqes;		 /* SQEs submitted */
	uint64_t cqes;		 /* CQEs reaped */
	uint64_t overflow;	 /* times the CQ overflow flag was seen */
	uint64_t queued;	 /* ops parked because the SQ was full */
	uint64_t nobufs;	 /* multishot recvs parked on -ENOBUFS */
	uint64_t batched;	 /* waits that used batch_wait_ns (min-wait) or
				    gathered to the alarm (COIL_BATCH_WAIT_TIMER) */
	uint64_t sendfiles;	 /* sendfile(2) calls made by coil_sendfile() */
	uint64_t sendfile_warms; /* its reads of ranges not in the page cache */
	uint64_t buf_trims;	 /* coil_loop_trim() requests carried out */
	/* TCP streams holding their extension now (coil/stream.h: writing,
	 * paused, connecting, with deadlines or single-shot reads); a
	 * stream that only has its multishot read armed holds none */
	uint64_t tcp_exts;
	/* TCP streams holding their write part now (coil/stream.h: a write
	 * queued or in flight, or a kick due) */
	uint64_t tcp_wrs;
	/* receive timestamps (coil_buf_recvmsg()): reads of the clocks'
	 * offset that found CLOCK_REALTIME stepped against CLOCK_MONOTONIC
	 * (moved beyond a 500 ppm slew since the previous read), and the
	 * timestamps not used because of it (their reads timed when reaped) */
	uint64_t rt_steps;
	uint64_t rt_fallbacks;
	/* stamped reads (COIL_TCP_RX_TIME) on an incremental ring that found
	 * the current buffer's tail too short for the recvmsg header and
	 * took it by a plain recv: delivered unstamped, timed when reaped */
	uint64_t rx_tails;
};
void coil_loop_stats(const struct coil_loop *loop, struct coil_loop_stats *st);

/*
 * coil_loop_post() - complete an op from user space on the next turn.
 * @op:  initialised, not in flight.
 * @res: the result its callback receives.
 *
 * For completions that need no kernel (a semaphore release, a cancelled
 * wait): the callback runs on the loop, never inline. Counts as in flight.
 * Callbacks posted while posted callbacks run wait for the next turn, so a
 * callback that posts itself cannot starve the ring.
 * Return: 0; -EBUSY if @op is in flight.
 */
int coil_loop_post(struct coil_loop *loop, struct coil_op *op, int res);

/* ---- time -------------------------------------------------------------- */

/* coil_now() - CLOCK_MONOTONIC in ns, cached and refreshed once per turn. */
uint64_t coil_now(const struct coil_loop *loop);

/* coil_now_update() - refresh and return the cached clock. */
uint64_t coil_now_update(struct coil_loop *loop);

/*
 * coil_deadline_enter() - open a deadline scope (asyncio.timeout_at).
 * @deadline_ns: absolute coil_now()-based time; 0 means none.
 *
 * Until coil_deadline_leave(), every op submitted on this loop gets a linked
 * timeout for the remaining time (the smaller of that and its own
 * coil_op_timeout()), measured from coil_now() (refreshed each turn). An op
 * submitted after the deadline fails with -ETIMEDOUT through its callback
 * on the next turn, never inline, and never reaches the kernel. Ops that
 * cannot carry a linked timeout (coil_timeout(), multishot accept and
 * recv, coil_close()) are not affected. Scopes nest; the inner can only
 * shorten.
 * Return: the previous scope's deadline, to pass to coil_deadline_leave().
 */
uint64_t coil_deadline_enter(struct coil_loop *loop, uint64_t deadline_ns);
void coil_deadline_leave(struct coil_loop *loop, uint64_t prev_deadline_ns);

/*
 * coil_task_deadline_enter() - a deadline the current task carries across
 * its callbacks (asyncio.timeout() around a whole coroutine).
 * @deadline_ns: absolute coil_now()-based time; 0 means none.
 *
 * Inside it, ops and waits are bounded as in a deadline scope, and more:
 * every op submitted (or wait started) inside it remembers the deadline,
 * and its callback runs inside the same carried deadline again, so the
 * ops that callback submits are bounded by it too, and theirs, until the
 * task stops submitting. Once the deadline has passed, whatever the task
 * submits completes with -ETIMEDOUT on the next turn. Timers
 * (coil_timeout()) carry it across but are not shortened by it; multishot
 * ops neither carry it nor are shortened. A callback that starts work on
 * behalf of someone else leaves it with coil_task_deadline_leave(loop, 0)
 * and enters it again after. Nests with itself and with deadline scopes:
 * the earliest deadline applies. Costs nothing to ops submitted outside.
 * Return: the previous carried deadline, for coil_task_deadline_leave().
 */
uint64_t coil_task_deadline_enter(struct coil_loop *loop, uint64_t deadline_ns);
void coil_task_deadline_leave(struct coil_loop *loop,
			      uint64_t prev_deadline_ns);

/*
 * coil_op_take_deadline() - for layers that run an op's work through
 * several steps: the absolute deadline @op would get if submitted now
 * (the earliest of its coil_op_timeout(), counted from now, and the
 * scopes' deadlines), 0 if none. Consumes the op's pending timeout.
 */
uint64_t coil_op_take_deadline(struct coil_loop *loop, struct coil_op *op);

/* coil_deadline_get() - the deadline an op submitted now would get from
 * scopes (coil_deadline_enter(), coil_task_deadline_enter()), 0 if none;
 * e.g. to pass to a request that takes its own deadline. */
uint64_t coil_deadline_get(const struct coil_loop *loop);

/*
 * coil_timeout() - a timer (IORING_OP_TIMEOUT, io_uring_prep_timeout(3)).
 * @ns:  relative ns, or absolute CLOCK_MONOTONIC ns with COIL_TIMEOUT_ABS.
 *
 * Callback: 0 when the time has come; -ECANCELED if cancelled or removed.
 * Timers take no linked timeout and are not shortened by a deadline scope.
 * Return: 0; -EINVAL for unknown @flags bits.
 */
#define COIL_TIMEOUT_ABS (1u << 0)
int coil_timeout(struct coil_loop *loop, struct coil_op *op, uint64_t ns,
		 unsigned flags);

/*
 * coil_timeout_remove() - IORING_OP_TIMEOUT_REMOVE for a pending timer.
 * @target: a coil_timeout op in flight; its callback gets -ECANCELED.
 * Return: 0; -EINVAL if @target is not a timer in flight. The removal's own
 * result is not reported (a timer that already fired just fires).
 */
int coil_timeout_remove(struct coil_loop *loop, struct coil_op *target);

/* ---- cancellation ------------------------------------------------------ */

/*
 * coil_cancel() - ask the kernel to cancel an op (IORING_OP_ASYNC_CANCEL).
 * @op: an op of this loop.
 *
 * Best effort and asynchronous: the op's own callback still runs, with
 * -ECANCELED, or with its real result if it completed first. An op still
 * queued in user space (SQ full, waiting for buffers) is completed with
 * -ECANCELED on the next turn. An op completed with coil_loop_post() keeps
 * its posted result. A second cancel of the same op is a no-op. An op
 * waiting in user space on a primitive or the offload pool (coil/async.h)
 * is taken out and completed with -ECANCELED the same way; a pool job
 * already running answers -EALREADY.
 * Return: 0; -ENOENT if the op is not in flight, or is armed with
 * coil_loop_expect() for a message only another loop can send (it is still
 * due and will complete it); -EALREADY; -ENOMEM.
 */
int coil_cancel(struct coil_loop *loop, struct coil_op *op);

/*
 * coil_cancel_fd() - cancel every op in flight on @fd
 * (IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL, kernel 5.19).
 * Ops still queued in user space for @fd are completed with -ECANCELED too.
 * Only ops that act on @fd as their file match: not coil_close(@fd), not
 * coil_openat() or coil_statx() relative to @fd, not coil_socket().
 * A multishot op on @fd that the kernel ends on its own at the same time
 * (buffer ring dry, CQ full) ends with -ECANCELED too; it is not re-armed.
 * Return: 0 (also when nothing matched); -EBADF for a negative @fd;
 * -ENOMEM.
 */
int coil_cancel_fd(struct coil_loop *loop, int fd);

/* ---- provided buffer ring ----------------------------------------------- */

/* coil_buf_id() - the buffer id carried in callback flags. */
static inline unsigned coil_buf_id(unsigned flags)
{
	return flags >> 16;
}

/* coil_buf_ptr() - the memory of provided buffer @bid (buf_size bytes), or
 * NULL if @bid is not a buffer of this loop. With COIL_FEAT_BUF_INC, where
 * the latest delivery from @bid begins (its bytes stay there until it is
 * put back; later deliveries from @bid follow it in the buffer). */
void *coil_buf_ptr(const struct coil_loop *loop, unsigned bid);

/* coil_buf_size() - bytes per provided buffer. */
unsigned coil_buf_size(const struct coil_loop *loop);

/*
 * coil_buf_put() - give buffer @bid back to the kernel's buffer ring.
 * Every buffer delivered with COIL_BUFFER must be put back exactly once;
 * it stays the caller's (readable) until then. With COIL_FEAT_BUF_INC
 * each delivery is put back once: the buffer returns to the ring when
 * the last of them is and the kernel has moved past it. Parked multishot recvs
 * are re-armed when half the ring has come back (at the end of the turn, or at
 * the start of the next one when put back between runs).
 * Return: 0; -EINVAL if @bid is not a buffer the caller holds (never
 * delivered, or already put back): it is not published twice.
 */
int coil_buf_put(struct coil_loop *loop, unsigned bid);

/*
 * coil_loop_trim() - give the pages of the provided buffers nobody holds
 * back to the system (after a burst: each buffer the kernel ever filled
 * keeps its pages resident, so the ring stays as large as at its
 * busiest).
 * @loop: the loop; call on its thread.
 *
 * At the start of the loop's next turn, once every completion is reaped
 * and none waits in the kernel's overflow list, the pages of every buffer
 * not held by a consumer (delivered and not yet put back with
 * coil_buf_put()) are dropped with madvise(2) MADV_DONTNEED, one call per
 * run of such buffers. That is safe only because on a ring set up with
 * IORING_SETUP_DEFER_TASKRUN (io_uring_setup(2)) the kernel picks and
 * fills provided buffers only inside io_uring_enter(2) on this thread;
 * the next recv into a dropped buffer faults in a zeroed page. Held
 * buffers keep their bytes. Counted in coil_loop_stats.buf_trims. The
 * blocks the loop keeps for its TCP streams (their extensions and
 * sendmsg iovecs, coil/stream.h) beyond 16 of each kind are freed at
 * once, in this call (even where the buffers' pages cannot go), so that a
 * malloc_trim(3) after it finds the heap pages they pinned free.
 *
 * Return: 0 (done at the next turn); -EINVAL for NULL @loop; -EOPNOTSUPP
 * without a buffer ring or without COIL_FEAT_DEFER_TASKRUN (a kernel that
 * may fill buffers outside the loop's own entries).
 */
int coil_loop_trim(struct coil_loop *loop);

/* ---- socket ops (io_uring_prep_*(3) of the same names) ---------------- */

/* Callback: the new fd. Needs COIL_FEAT_SOCKET (else -EOPNOTSUPP). */
int coil_socket(struct coil_loop *loop, struct coil_op *op, int domain,
		int type, int protocol);

/* @addr/@len: kept by the caller until the callback. Callback: 0. */
int coil_connect(struct coil_loop *loop, struct coil_op *op, int fd,
		 const struct sockaddr *addr, socklen_t len);

/*
 * coil_accept() - accept connections on listening socket @fd.
 * @flags: COIL_ACCEPT_MULTISHOT for one callback per connection (with
 *         COIL_MORE) until error or cancel; falls back to single-shot if the
 *         loop lacks COIL_FEAT_MULTISHOT_ACCEPT (the callback then arrives
 *         without COIL_MORE and the caller re-arms).
 * Accepted sockets are SOCK_CLOEXEC. Callback: the new fd.
 * Return: 0; -EINVAL for unknown @flags bits or a linked timeout on a
 * multishot accept.
 */
#define COIL_ACCEPT_MULTISHOT (1u << 0)
int coil_accept(struct coil_loop *loop, struct coil_op *op, int fd,
		unsigned flags);

/* Single-shot recv into @buf. Callback: bytes, 0 at EOF. */
int coil_recv(struct coil_loop *loop, struct coil_op *op, int fd, void *buf,
	      size_t len, int msg_flags);

/*
 * coil_recv_buf() - single-shot recv into one of the loop's provided
 * buffers (io_uring_prep_recv(3) with IOSQE_BUFFER_SELECT, kernel 5.19).
 *
 * Takes the ring's current buffer as the kernel picks it when bytes are
 * there: with COIL_FEAT_BUF_INC, what is left of a partly consumed one
 * (at most that many bytes). Callback: bytes with COIL_BUFFER (read
 * coil_buf_ptr(coil_buf_id(flags)), then coil_buf_put()), 0 at EOF, or
 * -errno; -ENOBUFS when the ring is dry (not parked, unlike the
 * multishot recvs). The way to take a tail that coil_recv_multishot_ts()
 * refuses with -EFAULT.
 * Return: 0; -EOPNOTSUPP without COIL_FEAT_BUF_RING; -EBUSY if @op is in
 * flight.
 */
int coil_recv_buf(struct coil_loop *loop, struct coil_op *op, int fd);

/*
 * coil_recv_multishot() - recv into the loop's provided buffers
 * (io_uring_prep_recv_multishot(3), kernel 6.0).
 *
 * Callback per CQE: bytes with COIL_BUFFER (read coil_buf_ptr(coil_buf_id
 * (flags)), then coil_buf_put()), and COIL_MORE while armed. A final
 * callback without COIL_MORE ends it (0 = EOF, -errno, -ECANCELED) and
 * never carries data. When the buffer ring runs dry (-ENOBUFS) the engine
 * parks the op and re-arms it once half the buffers are back (the parked
 * ops oldest first, each turn as many as the buffers back can take:
 * coil_loop_stats.nobufs counts the parks); when the
 * kernel ends it early on a full CQ, the engine re-arms it at once. The
 * callback sees neither. Data stays in order: one op per socket.
 * Return: 0; -EOPNOTSUPP without COIL_FEAT_MULTISHOT_RECV; -EINVAL with a
 * linked timeout.
 */
int coil_recv_multishot(struct coil_loop *loop, struct coil_op *op, int fd);

/*
 * coil_recv_multishot_ts() - coil_recv_multishot() that also brings each
 * read's receive timestamp: a multishot recvmsg
 * (io_uring_prep_recvmsg_multishot(3), kernel 6.0) whose provided buffers
 * hold a struct io_uring_recvmsg_out, room for one SCM_TIMESTAMPING
 * control message, then the payload. The caller turns the socket's
 * timestamps on (SO_TIMESTAMPING with SOF_TIMESTAMPING_RX_SOFTWARE |
 * SOF_TIMESTAMPING_SOFTWARE, Documentation/networking/timestamping.rst);
 * without that the buffers carry no timestamp and coil_buf_recvmsg()
 * says so.
 *
 * Callback: as coil_recv_multishot(), except that @res counts the whole
 * buffer (header, control, payload): read the payload and the time with
 * coil_buf_recvmsg(). The end of the stream, which the kernel reports as a
 * buffer with a header and no payload, arrives as a plain 0 (the engine
 * puts that buffer back). Each payload is at most coil_buf_size() - 80
 * bytes.
 * With COIL_FEAT_BUF_INC the current buffer can be the tail of one that
 * other reads consumed in part. One shorter than the 80 bytes of header
 * and control ends the recvmsg with -EFAULT and stays in the ring
 * (io_recvmsg_prep_multishot(), io_uring/net.c): take it with
 * coil_recv_buf() (unstamped) and arm this again. One of exactly 80
 * bytes has no room for payload: the engine puts it back and re-arms
 * instead of reporting an end of stream.
 * Return: as coil_recv_multishot().
 */
int coil_recv_multishot_ts(struct coil_loop *loop, struct coil_op *op, int fd);

/*
 * coil_buf_recvmsg() - read a buffer filled by coil_recv_multishot_ts().
 * @bid:  coil_buf_id() of the callback's flags.
 * @res:  the callback's @res (> 0).
 * @data: receives the payload's address inside the buffer (NULL on a
 *        malformed buffer).
 * @len:  receives the payload's length (0 on a malformed buffer).
 *
 * The buffer stays the caller's until coil_buf_put(), as usual.
 * Return: the time the kernel received these bytes, on coil_now()'s clock
 * (CLOCK_MONOTONIC ns); 0 when the buffer carries no timestamp. The kernel
 * stamps each packet with CLOCK_REALTIME in its receive path (softirq,
 * before the socket queues it); a TCP read that spans several packets
 * carries the latest one's time (tcp_recvmsg()), which for a response is
 * when its last byte came. The loop maps it onto CLOCK_MONOTONIC with the
 * clocks' offset read once per turn, and never returns a time later than
 * coil_now(). 0 too when CLOCK_REALTIME was stepped: a turn whose read of
 * the offset finds it moved more than NTP's largest slew (500 ppm) allows
 * since the previous read uses none of its stamps, nor later a stamp that
 * maps to before that read (coil_loop_stats(): rt_steps, rt_fallbacks).
 */
uint64_t coil_buf_recvmsg(struct coil_loop *loop, unsigned bid, int res,
			  const void **data, unsigned *len);

/* Callback: bytes sent (may be short). */
int coil_send(struct coil_loop *loop, struct coil_op *op, int fd,
	      const void *buf, size_t len, int msg_flags);

/* @msg and what it points to kept until the callback. Callback: bytes. */
int coil_sendmsg(struct coil_loop *loop, struct coil_op *op, int fd,
		 const struct msghdr *msg, int msg_flags);

/*
 * coil_send_quiet() - a send nobody waits for: IORING_OP_SEND with
 * MSG_WAITALL (the kernel finishes a short send itself) and
 * IOSQE_CQE_SKIP_SUCCESS (io_uring_sqe_set_flags(3), kernel 5.17): its
 * success posts no completion, so it costs no wake-up. It has no op and no
 * callback and is not counted in flight; a failure is dropped. The caller
 * learns that the bytes left some other way (the peer answered them) and
 * keeps @buf unchanged until then, or until the loop is freed if that
 * never happens. Used by COIL_TCP_QUIET_SENDS (coil/stream.h).
 * Return: 0; -EOPNOTSUPP without COIL_FEAT_CQE_SKIP; -EINVAL for a length
 * over INT_MAX; -ENOMEM.
 */
int coil_send_quiet(struct coil_loop *loop, int fd, const void *buf,
		    size_t len);

/* @how: SHUT_RD, SHUT_WR, SHUT_RDWR. Callback: 0. */
int coil_shutdown(struct coil_loop *loop, struct coil_op *op, int fd, int how);

/* Close @fd. Does not cancel ops on it (coil_cancel_fd first). Callback: 0. */
int coil_close(struct coil_loop *loop, struct coil_op *op, int fd);

/* ---- file ops ------------------------------------------------------------ */

/* @path kept until the callback. Callback: the new fd. */
int coil_openat(struct coil_loop *loop, struct coil_op *op, int dfd,
		const char *path, int flags, mode_t mode);

/*
 * coil_openat2() - openat2(2) through the ring (IORING_OP_OPENAT2,
 * io_uring_prep_openat2(3), kernel 5.6), for path resolution limits such
 * as RESOLVE_BENEATH (a path that leaves @dfd fails with -EXDEV) and
 * RESOLVE_NO_MAGICLINKS.
 * @how:  struct open_how of <linux/openat2.h>; O_CLOEXEC is added to
 *        how->flags here. @how and @path are kept by the caller until the
 *        callback (an SQE parked while the SQ is full is read later).
 * Callback: the new fd, or -errno (-ENOENT, -EXDEV, -ELOOP, -EACCES ...;
 * -EINVAL for unknown resolve bits).
 * Return: 0; -EINVAL for NULL @how or @path.
 */
struct open_how;
int coil_openat2(struct coil_loop *loop, struct coil_op *op, int dfd,
		 const char *path, struct open_how *how);

/*
 * coil_splice() - move @len bytes between two fds, one of them a pipe,
 * without copying them through user space (IORING_OP_SPLICE,
 * io_uring_prep_splice(3), splice(2), kernel 5.7).
 * @off_in, @off_out: offsets for non-pipe fds, or -1 (pipes, and the
 *                    current position of other fds).
 * @flags: SPLICE_F_* of splice(2).
 * The kernel always runs splice in an io-wq worker: it costs a hand-off
 * per call and pays only for large transfers. Toward a socket that is not
 * O_NONBLOCK it blocks that worker until the socket has room.
 * Callback: bytes moved (0: end of input), or -errno (-EAGAIN from an
 * O_NONBLOCK socket or pipe that is full or empty).
 * Return: 0; -EINVAL for @len above INT_MAX.
 */
int coil_splice(struct coil_loop *loop, struct coil_op *op, int fd_in,
		int64_t off_in, int fd_out, int64_t off_out, size_t len,
		unsigned flags);

/*
 * A sendfile op (coil_sendfile()). Embed it; never move it while in
 * flight. Initialise @op with coil_op_init() (its cb and data are yours;
 * the callback receives &op); the rest is private to the engine.
 */
struct coil_sendfile {
	struct coil_op op;
	/* private to the engine below this line */
	coil_op_cb cb;
	uint64_t off;
	uint64_t wait_ns;
	uint64_t deadline_ns;
	size_t len, sent;
	int out_fd, in_fd;
	uint8_t step;
	uint8_t cancelled;
	uint8_t flags;
};

/*
 * coil_sendfile() - send @len bytes of file @in_fd, from offset @off,
 * into @out_fd, without copying them through user space and without
 * blocking the loop on a full socket or on the disk.
 * @sf:     initialised with coil_op_init(&sf->op, cb), not in flight;
 *          coil_op_timeout(&sf->op, t) before the call bounds each wait
 *          for room in @out_fd (a write limit: -ETIMEDOUT once the socket
 *          took nothing for t).
 * @out_fd: a socket (or any fd sendfile(2) writes to) in O_NONBLOCK mode;
 *          on a blocking socket sendfile(2) would block the loop until the
 *          socket took everything.
 * @in_fd:  a regular file, read at @off (its file position is untouched).
 * @len:    bytes wanted; one op sends at most 1 MiB of them.
 *
 * Not a ring op: io_uring has no sendfile and runs every splice in an
 * io-wq worker (coil_splice()), a hand-off per pipe-full. Instead, when
 * the range is in the page cache (cachestat(2), Linux 6.5) the loop's
 * thread issues sendfile(2), which hands the page cache's pages to the
 * socket by reference (no copy) as far as the socket has room; the first
 * call is made by coil_sendfile() itself. While the socket is full the op
 * waits for POLLOUT through the ring, then sends on. A range not in the
 * page cache is first read through the ring (IORING_OP_READ, up to 256
 * KiB at a time, into a scratch buffer of the loop whose contents are
 * thrown away: buffered reads complete asynchronously, so no thread waits
 * on the disk) and then sent from the cache without another check.
 * Without cachestat(2) every range is read that way first. With
 * COIL_SENDFILE_CACHED_ONLY in @flags such a range is not read: the op
 * ends there (with what it sent, or -EAGAIN if nothing), for a caller
 * with a read path of its own (a READ into its buffer and a SEND copy
 * the bytes as often as the warming read does, minus a system call).
 * coil_loop_stats() counts the sendfile(2) calls and the warming reads.
 * sendfile(2) cannot be asked not to raise SIGPIPE: where SIGPIPE is not
 * ignored (looked up once per loop), each call runs with it blocked and
 * takes back the one it raised, at two more system calls per call.
 *
 * Callback (never inline): bytes sent, min(@len, 1 MiB) unless the file
 * ended first (fewer; 0 when @off is at or past its end, or @len is 0)
 * or, with COIL_SENDFILE_CACHED_ONLY, the rest is not in the page cache
 * (fewer; -EAGAIN when none of it was sent);
 * or -errno (-EPIPE, -ECONNRESET, -EBADF ...), -ETIMEDOUT after
 * coil_op_timeout(), -ECANCELED after coil_cancel() or
 * coil_cancel_fd(@out_fd), also when some bytes had been sent. A deadline
 * scope open at the call bounds the waits too.
 * Return: 0; -EBUSY if in flight; -EBADF for a negative fd; -EINVAL for
 * @off above INT64_MAX or unknown @flags (COIL_SENDFILE_CACHED_ONLY,
 * COIL_SENDFILE_RESIDENT below); -ECANCELED while
 * coil_loop_drain() cancels; -ENOMEM.
 */
#define COIL_SENDFILE_CACHED_ONLY (1u << 0)
/* @flags: the caller vouches that every page of the range is in the page
 * cache and stays there (a mapping of it locked with mlock(2)): no
 * cachestat(2) is asked, one system call less per socket-full. A page
 * that is not resident after all is read by sendfile(2) on the loop's
 * thread, which then waits on the disk. */
#define COIL_SENDFILE_RESIDENT (1u << 1)
int coil_sendfile(struct coil_loop *loop, struct coil_sendfile *sf, int out_fd,
		  int in_fd, uint64_t off, size_t len, unsigned flags);

/*
 * coil_file_cached() - whether every page of bytes [@off, @off + @len) of
 * file @fd is in the page cache now, so that reading them (read(2),
 * sendfile(2), a copy from an mmap(2) of them) does not wait on the disk.
 * @fd:  an open file; its position is untouched.
 * @off: the first byte; @len: the bytes (0: trivially cached).
 *
 * One cachestat(2) call (Linux 6.5), from the calling thread; it neither
 * blocks nor brings pages in. A page may be evicted right after the
 * answer: lock it (mlock(2) of a mapping) to keep it. Bytes past the end
 * of the file, and any fd without pages (a pipe, a socket), count as not
 * cached.
 * Return: 1 all cached, 0 some are not; -EBADF for a bad @fd; -EINVAL
 * for a range past INT64_MAX; -ENOSYS without cachestat(2) (before Linux
 * 6.5, or filtered by seccomp); cachestat(2)'s other errors (-EOPNOTSUPP
 * for a hugetlbfs file).
 */
int coil_file_cached(int fd, uint64_t off, uint64_t len);

/* @off: file offset, or -1 for the current position. Callback: bytes. */
int coil_read(struct coil_loop *loop, struct coil_op *op, int fd, void *buf,
	      size_t len, int64_t off);
int coil_write(struct coil_loop *loop, struct coil_op *op, int fd,
	       const void *buf, size_t len, int64_t off);
int coil_readv(struct coil_loop *loop, struct coil_op *op, int fd,
	       const struct iovec *iov, unsigned iovcnt, int64_t off);
int coil_writev(struct coil_loop *loop, struct coil_op *op, int fd,
		const struct iovec *iov, unsigned iovcnt, int64_t off);

/* @datasync: nonzero for fdatasync semantics. Callback: 0. */
int coil_fsync(struct coil_loop *loop, struct coil_op *op, int fd,
	       int datasync);

struct statx;
/* @path, @stx kept until the callback. Callback: 0, @stx filled. */
int coil_statx(struct coil_loop *loop, struct coil_op *op, int dfd,
	       const char *path, int flags, unsigned mask, struct statx *stx);

/* ---- misc ops ------------------------------------------------------------ */

/*
 * coil_poll() - wait until @fd is ready for @events (POLLIN, POLLOUT ...
 * of poll(2)), once (IORING_OP_POLL_ADD, io_uring_prep_poll_add(3)).
 * Callback: the events that are ready (POLLERR and POLLHUP included when
 * they happen), or -errno; -ETIMEDOUT with a linked timeout
 * (coil_op_timeout()).
 * Return: 0.
 */
int coil_poll(struct coil_loop *loop, struct coil_op *op, int fd,
	      unsigned events);

/* A no-op through the ring (IORING_OP_NOP). Callback: 0. */
int coil_nop(struct coil_loop *loop, struct coil_op *op);

/*
 * coil_msg_ring() - post a completion to another loop (IORING_OP_MSG_RING,
 * io_uring_prep_msg_ring(3), kernel 5.18).
 * @op:        completes on this loop with 0 or -errno once the message was
 *             delivered to the target ring.
 * @target:    the other loop (its thread need not be awake).
 * @target_op: an op owned by the target loop; its callback runs there with
 *             @res. If the target armed it with coil_loop_expect(), it counts
 *             as in flight there until then.
 * Return: 0; -EOPNOTSUPP without COIL_FEAT_MSG_RING.
 */
int coil_msg_ring(struct coil_loop *loop, struct coil_op *op,
		  struct coil_loop *target, struct coil_op *target_op, int res);

/*
 * coil_loop_expect() - mark @op as in flight on @loop, completed later by a
 * coil_msg_ring() from another loop (or a thread using its own ring). Keeps
 * coil_loop_run(COIL_RUN_DEFAULT) from returning before it arrives.
 */
void coil_loop_expect(struct coil_loop *loop, struct coil_op *op);

/*
 * coil_loop_post_remote() - complete @op on @target from any thread.
 * @target: a loop, possibly running on another thread.
 * @op:     an op of @target (armed there with coil_loop_expect() if it
 *          should count as in flight); its callback runs on @target's
 *          thread with @res.
 *
 * Thread-safe: appends to the target's mutex-protected inbox and wakes it
 * through its eventfd (eventfd(2)), which the loop keeps a read armed on.
 * This is the fallback path of coil_msg_ring() and the way threads without
 * a ring of their own hand results to a loop.
 * Return: 0; -errno if writing the eventfd failed.
 */
int coil_loop_post_remote(struct coil_loop *target, struct coil_op *op,
			  int res);

#ifdef __cplusplus
}
#endif
#endif /* COIL_ENGINE_H */
