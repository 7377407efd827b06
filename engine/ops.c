/*
 * engine/ops.c - turning calls into SQEs.
 *
 * Every op function preps an SQE on the stack with liburing's
 * io_uring_prep_*() (which sets every field) and hands it to submit(), the
 * one place that applies the deadline scope, links a timeout, reserves room
 * in the SQ and accounts the op as in flight. Nothing enters the kernel
 * here: the loop submits the whole batch once per turn. When the SQ is full
 * we flush it early (one extra enter); if even that leaves no room (the
 * kernel refused with -EBUSY), the SQE waits in user space and goes out
 * first thing next turn.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void coil_op_init(struct coil_op *op, coil_op_cb cb)
{
	void *data = op->data;
	memset(op, 0, sizeof(*op));
	op->cb = cb;
	op->data = data;
	op->fd = -1;
}

void coil_op_timeout(struct coil_op *op, uint64_t timeout_ns)
{
	op->timeout_ns = timeout_ns;
}

int coil_op_busy(const struct coil_op *op)
{
	return (op->state & ST_BUSY) != 0;
}

/* Hand the SQ to the kernel now, before the turn's own enter. Completions
 * are not reaped here (no callback runs inline); the kernel may refuse
 * (-EBUSY, -EAGAIN), which leaves the SQ as it was. */
static void early_submit(struct coil_loop *loop)
{
	unsigned n = io_uring_sq_ready(&loop->ring);
	int ret = io_uring_submit(&loop->ring);
	loop->st.enters++;
	if (ret > 0)
		loop->st.sqes += (unsigned)ret < n ? (unsigned)ret : n;
}

/* Room for @nr consecutive SQEs in the ring, flushing it once if needed. */
static struct io_uring_sqe *sq_room(struct coil_loop *loop, unsigned nr)
{
	struct io_uring *ring = &loop->ring;
	if (loop->pend_head) /* keep order: earlier parked SQEs go first */
		return NULL;
	if (io_uring_sq_space_left(ring) < nr) {
		if (loop->force & COIL_LOOP_NO_EARLY_SUBMIT)
			return NULL;
		early_submit(loop);
		if (io_uring_sq_space_left(ring) < nr)
			return NULL;
	}
	return io_uring_get_sqe(ring);
}

static void pend_push(struct coil_loop *loop, struct pending *p)
{
	p->next = NULL;
	if (loop->pend_tail)
		loop->pend_tail->next = p;
	else
		loop->pend_head = p;
	loop->pend_tail = p;
	loop->st.queued++;
}

/* Copy @nr prepared SQEs into the ring, or park them. */
int coil__place(struct coil_loop *loop, struct coil_op *op,
		const struct io_uring_sqe *sqes, unsigned nr)
{
	struct io_uring_sqe *dst = sq_room(loop, nr);
	if (dst) {
		memcpy(dst, &sqes[0], sizeof(*dst));
		if (nr == 2)
			memcpy(io_uring_get_sqe(&loop->ring), &sqes[1],
			       sizeof(*dst));
		return 0;
	}
	struct pending *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->op = op;
	p->nr = nr;
	memcpy(p->sqe, sqes, nr * sizeof(*sqes));
	if (op)
		op->state |= ST_QUEUED;
	pend_push(loop, p);
	return 0;
}

/*
 * Move queued SQEs into the SQ, in order. When the SQ fills, submit it and
 * go on, so that the whole queue goes out this turn (the turn's own enter
 * takes the last part); stop only if the kernel takes nothing.
 */
void coil__flush_pending(struct coil_loop *loop)
{
	struct io_uring *ring = &loop->ring;
	while (loop->pend_head) {
		struct pending *p = loop->pend_head;
		if (io_uring_sq_space_left(ring) < p->nr) {
			early_submit(loop);
			if (io_uring_sq_space_left(ring) < p->nr)
				return;
		}
		for (unsigned i = 0; i < p->nr; i++)
			memcpy(io_uring_get_sqe(ring), &p->sqe[i],
			       sizeof(p->sqe[i]));
		if (p->op)
			p->op->state &= (uint16_t)~ST_QUEUED;
		loop->pend_head = p->next;
		if (!loop->pend_head)
			loop->pend_tail = NULL;
		free(p);
	}
}

/*
 * The single submission path. @sqe is prepared; @extra are op state bits
 * (ST_TIMER, ST_MULTI, ST_RECV_BUF). Ops that cannot carry a linked timeout
 * (timers, multishot) pass @linkable = 0.
 */
static int submit(struct coil_loop *loop, struct coil_op *op,
		  struct io_uring_sqe *sqe, unsigned extra, int linkable)
{
	struct io_uring_sqe two[2];
	uint64_t t = op->timeout_ns, dl;
	int ret;

	if (op->state & ST_BUSY)
		return -EBUSY;
	if (!linkable && t)
		return -EINVAL;
	/* coil_loop_drain() is cancelling: no new work, but let clean-up
	 * close its fds */
	if (loop->draining == 2 && sqe->opcode != IORING_OP_CLOSE)
		return -ECANCELED;
	/* consumed; in flight it holds the carried deadline, which the
	 * op's callback runs under (multishot ops do not carry it) */
	op->timeout_ns = (extra & ST_MULTI) ? 0 : loop->task_deadline_ns;
	op->loop = loop;
	if (linkable && (dl = coil__scope_deadline(loop))) {
		uint64_t now = loop->now_ns;
		if (dl <= now) {
			op->state = (uint16_t)extra;
			coil__post(loop, op, -ETIMEDOUT);
			return 0;
		}
		if (!t || dl - now < t)
			t = dl - now;
	}
	op->fd = sqe->fd;
	op->opcode = sqe->opcode;
	op->cflags = loop->cancel_seq;
	two[0] = *sqe;
	io_uring_sqe_set_data(&two[0], op);
	if (t) {
		op->ts_sec = (int64_t)(t / 1000000000ull);
		op->ts_nsec = (int64_t)(t % 1000000000ull);
		two[0].flags |= IOSQE_IO_LINK;
		io_uring_prep_link_timeout(
			&two[1], (struct __kernel_timespec *)&op->ts_sec, 0);
		io_uring_sqe_set_data64(&two[1],
					(uint64_t)(uintptr_t)op | TAG_LTIMEOUT);
		extra |= ST_LINKED | ST_HAD_LINK;
	}
	op->state = (uint16_t)(extra | ST_BUSY);
	ret = coil__place(loop, op, two, t ? 2 : 1);
	if (ret < 0) {
		op->state = 0;
		op->timeout_ns = 0;
		return ret;
	}
	loop->inflight++;
	return 0;
}

/* An internal SQE whose CQE nobody reads (cancel, timeout removal). */
static int submit_internal(struct coil_loop *loop, struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data64(sqe, TAG_IGNORE);
	return coil__place(loop, NULL, sqe, 1);
}

/* The kernel takes a 32-bit length and moves at most MAX_RW_COUNT
 * (INT_MAX rounded down to a page) per call anyway, as read(2) does:
 * clamp instead of letting a size_t wrap to a small number. */
static unsigned io_len(size_t len)
{
	return len > INT_MAX ? INT_MAX : (unsigned)len;
}

/* ---- time ---------------------------------------------------------------- */

int coil_timeout(struct coil_loop *loop, struct coil_op *op, uint64_t ns,
		 unsigned flags)
{
	struct io_uring_sqe sqe;
	if (op->state & ST_BUSY)
		return -EBUSY;
	if (flags & ~COIL_TIMEOUT_ABS)
		return -EINVAL;
	op->ts_sec = (int64_t)(ns / 1000000000ull);
	op->ts_nsec = (int64_t)(ns % 1000000000ull);
	io_uring_prep_timeout(&sqe, (struct __kernel_timespec *)&op->ts_sec, 0,
			      (flags & COIL_TIMEOUT_ABS) ? IORING_TIMEOUT_ABS
							 : 0);
	return submit(loop, op, &sqe, ST_TIMER, 0);
}

int coil_timeout_remove(struct coil_loop *loop, struct coil_op *target)
{
	struct io_uring_sqe sqe;
	if (!(target->state & ST_BUSY) || !(target->state & ST_TIMER))
		return -EINVAL;
	if (target->state & (ST_QUEUED | ST_POSTED))
		return coil_cancel(loop, target);
	io_uring_prep_timeout_remove(&sqe, (uint64_t)(uintptr_t)target, 0);
	return submit_internal(loop, &sqe);
}

/* ---- cancellation ----------------------------------------------------------
 */

/* Take @op out of the user-space queues and complete it with -ECANCELED.
 * Return: 1 if it was there. */
static int cancel_local(struct coil_loop *loop, struct coil_op *op)
{
	if (op->state & ST_QUEUED) {
		struct pending **pp = &loop->pend_head, *prev = NULL;
		while (*pp && (*pp)->op != op) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			struct pending *p = *pp;
			*pp = p->next;
			if (loop->pend_tail == p)
				loop->pend_tail = prev;
			free(p);
		}
		coil__post(loop, op, -ECANCELED);
		return 1;
	}
	if (op->state & ST_PARKED) {
		struct coil_op **pp = &loop->parked, *prev = NULL;
		while (*pp && *pp != op) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = op->next;
			if (loop->parked_tail == op)
				loop->parked_tail = prev;
		}
		coil__post(loop, op, -ECANCELED);
		return 1;
	}
	return 0;
}

int coil_cancel(struct coil_loop *loop, struct coil_op *op)
{
	struct io_uring_sqe sqe;
	int ret;
	if (!(op->state & ST_BUSY))
		return -ENOENT;
	if (op->state & ST_EXPECT) /* waiting on a primitive or the pool */
		return coil__cancel_wait(loop, op);
	if (op->state & (ST_POSTED | ST_OP_DONE | ST_CANCEL))
		return 0; /* its final callback is due anyway */
	if (op->cb == coil__sendfile_step) /* a step of coil_sendfile() */
		coil_container_of(op, struct coil_sendfile, op)->cancelled = 1;
	if (cancel_local(loop, op))
		return 0;
	io_uring_prep_cancel64(&sqe, (uint64_t)(uintptr_t)op, 0);
	ret = submit_internal(loop, &sqe);
	if (ret == 0)
		op->state |= ST_CANCEL;
	return ret;
}

/* Whether IORING_ASYNC_CANCEL_FD can match the op: only ops that act on
 * the file in sqe->fd (for socket and openat that field is something
 * else, and close holds no file). */
static int acts_on_fd(const struct coil_op *op)
{
	switch (op->opcode) {
	case IORING_OP_CONNECT:
	case IORING_OP_ACCEPT:
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
	case IORING_OP_SEND:
	case IORING_OP_SENDMSG:
	case IORING_OP_SHUTDOWN:
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
	case IORING_OP_FSYNC:
		return 1;
	}
	return 0;
}

int coil_cancel_fd(struct coil_loop *loop, int fd)
{
	struct io_uring_sqe sqe;
	struct pending *p, *next;
	int ret;

	if (fd < 0)
		return -EBADF;
	if ((unsigned)fd >= loop->fd_cancel_len) {
		unsigned len = loop->fd_cancel_len ? loop->fd_cancel_len : 64;
		while (len <= (unsigned)fd)
			len *= 2;
		uint32_t *a = realloc(loop->fd_cancel, len * sizeof(*a));
		if (!a)
			return -ENOMEM;
		memset(a + loop->fd_cancel_len, 0,
		       (len - loop->fd_cancel_len) * sizeof(*a));
		loop->fd_cancel = a;
		loop->fd_cancel_len = len;
	}
	io_uring_prep_cancel_fd(&sqe, fd, IORING_ASYNC_CANCEL_ALL);
	ret = submit_internal(loop, &sqe);
	if (ret < 0)
		return ret;
	loop->fd_cancel[fd] = ++loop->cancel_seq;

	for (p = loop->pend_head; p; p = next) {
		next = p->next;
		if (p->op && p->op->fd == fd && acts_on_fd(p->op))
			cancel_local(loop, p->op);
	}
	for (struct coil_op *op = loop->parked, *n; op; op = n) {
		n = op->next;
		if (op->fd == fd)
			cancel_local(loop, op);
	}
	return 0;
}

/* ---- sockets ---------------------------------------------------------------
 */

int coil_socket(struct coil_loop *loop, struct coil_op *op, int domain,
		int type, int protocol)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_SOCKET))
		return -EOPNOTSUPP;
	io_uring_prep_socket(&sqe, domain, type, protocol, 0);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_connect(struct coil_loop *loop, struct coil_op *op, int fd,
		 const struct sockaddr *addr, socklen_t len)
{
	struct io_uring_sqe sqe;
	io_uring_prep_connect(&sqe, fd, addr, len);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_accept(struct coil_loop *loop, struct coil_op *op, int fd,
		unsigned flags)
{
	struct io_uring_sqe sqe;
	if (flags & ~COIL_ACCEPT_MULTISHOT)
		return -EINVAL;
	if (loop->draining) /* coil_loop_drain(): no new connections */
		return -ESHUTDOWN;
	if ((flags & COIL_ACCEPT_MULTISHOT) &&
	    (loop->features & COIL_FEAT_MULTISHOT_ACCEPT)) {
		io_uring_prep_multishot_accept(&sqe, fd, NULL, NULL,
					       SOCK_CLOEXEC);
		return submit(loop, op, &sqe, ST_MULTI, 0);
	}
	io_uring_prep_accept(&sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_recv(struct coil_loop *loop, struct coil_op *op, int fd, void *buf,
	      size_t len, int msg_flags)
{
	struct io_uring_sqe sqe;
	io_uring_prep_recv(&sqe, fd, buf, io_len(len), msg_flags);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_recv_buf(struct coil_loop *loop, struct coil_op *op, int fd)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_BUF_RING))
		return -EOPNOTSUPP;
	/* length 0: the kernel takes what the buffer it picks has left */
	io_uring_prep_recv(&sqe, fd, NULL, 0, 0);
	sqe.flags |= IOSQE_BUFFER_SELECT;
	sqe.buf_group = 0;
	return submit(loop, op, &sqe, 0, 1);
}

void coil__prep_recv_multi(struct coil_loop *loop, struct io_uring_sqe *sqe,
			   int fd, int stamped)
{
	if (stamped)
		io_uring_prep_recvmsg_multishot(sqe, fd, &loop->rx_msg, 0);
	else
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
}

int coil_recv_multishot(struct coil_loop *loop, struct coil_op *op, int fd)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_MULTISHOT_RECV))
		return -EOPNOTSUPP;
	coil__prep_recv_multi(loop, &sqe, fd, 0);
	return submit(loop, op, &sqe, ST_MULTI | ST_RECV_BUF, 0);
}

int coil_recv_multishot_ts(struct coil_loop *loop, struct coil_op *op, int fd)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_MULTISHOT_RECV))
		return -EOPNOTSUPP;
	coil__prep_recv_multi(loop, &sqe, fd, 1);
	return submit(loop, op, &sqe, ST_MULTI | ST_RECV_BUF | ST_RECVMSG, 0);
}

/*
 * A multishot op ended with a result (data, an fd) but no F_MORE: the
 * kernel stops multishot requests whose CQEs it could not post (CQ full,
 * overflow), io_uring_prep_recv_multishot(3). Arm it again with the same
 * SQE so the caller sees one stream of COIL_MORE callbacks.
 * Return: 0; -ENOMEM.
 */
int coil__cancel_pending(const struct coil_loop *loop, const struct coil_op *op)
{
	if (op->state & ST_CANCEL)
		return 1;
	return op->fd >= 0 && (unsigned)op->fd < loop->fd_cancel_len &&
	       loop->fd_cancel[op->fd] > op->cflags;
}

int coil__rearm_multi(struct coil_loop *loop, struct coil_op *op)
{
	struct io_uring_sqe sqe;
	op->cflags = loop->cancel_seq;
	if (op->opcode == IORING_OP_ACCEPT)
		io_uring_prep_multishot_accept(&sqe, op->fd, NULL, NULL,
					       SOCK_CLOEXEC);
	else
		coil__prep_recv_multi(loop, &sqe, op->fd,
				      (op->state & ST_RECVMSG) != 0);
	io_uring_sqe_set_data(&sqe, op);
	return coil__place(loop, op, &sqe, 1);
}

/* A multishot recv ended with -ENOBUFS: park it until buffers come back.
 * Return: 0 if parked. */
int coil__park_nobufs(struct coil_loop *loop, struct coil_op *op)
{
	op->state |= ST_PARKED;
	op->next = NULL;
	if (loop->parked_tail)
		loop->parked_tail->next = op;
	else
		loop->parked = op;
	loop->parked_tail = op;
	loop->st.nobufs++;
	return 0;
}

/*
 * Re-arm parked recvs once at least half of the buffer ring is back,
 * oldest first, and only as many as the ring can take now
 * (coil__buf_room(), at least one): each has bytes waiting, so those
 * armed take the buffers at once, and the rest wait for the next turn
 * instead of all failing again on the ring they emptied (a dry ring of
 * N parked recvs would cost N re-arms a buffer's return). By age, so
 * none waits behind later ones.
 */
void coil__rearm_parked(struct coil_loop *loop)
{
	unsigned n;

	if (!loop->parked || loop->buf_out > loop->buf_count / 2)
		return;
	n = coil__buf_room(loop);
	if (!n)
		n = 1;
	do {
		struct coil_op *op = loop->parked;
		struct io_uring_sqe sqe;
		loop->parked = op->next;
		if (!loop->parked)
			loop->parked_tail = NULL;
		coil__prep_recv_multi(loop, &sqe, op->fd,
				      (op->state & ST_RECVMSG) != 0);
		io_uring_sqe_set_data(&sqe, op);
		op->cflags = loop->cancel_seq;
		op->next = NULL;
		op->state &= (uint16_t)~ST_PARKED;
		if (coil__place(loop, op, &sqe, 1) < 0)
			coil__post(loop, op, -ENOMEM);
	} while (loop->parked && --n > 0);
}

int coil_send(struct coil_loop *loop, struct coil_op *op, int fd,
	      const void *buf, size_t len, int msg_flags)
{
	struct io_uring_sqe sqe;
	io_uring_prep_send(&sqe, fd, buf, io_len(len),
			   msg_flags | MSG_NOSIGNAL);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_send_quiet(struct coil_loop *loop, int fd, const void *buf, size_t len)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_CQE_SKIP))
		return -EOPNOTSUPP;
	if (len > INT_MAX)
		return -EINVAL; /* a short send would be a failure here */
	io_uring_prep_send(&sqe, fd, buf, len, MSG_WAITALL | MSG_NOSIGNAL);
	sqe.flags |= IOSQE_CQE_SKIP_SUCCESS;
	return submit_internal(loop, &sqe);
}

int coil_sendmsg(struct coil_loop *loop, struct coil_op *op, int fd,
		 const struct msghdr *msg, int msg_flags)
{
	struct io_uring_sqe sqe;
	io_uring_prep_sendmsg(&sqe, fd, msg,
			      (unsigned)msg_flags | MSG_NOSIGNAL);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_shutdown(struct coil_loop *loop, struct coil_op *op, int fd, int how)
{
	struct io_uring_sqe sqe;
	io_uring_prep_shutdown(&sqe, fd, how);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_close(struct coil_loop *loop, struct coil_op *op, int fd)
{
	struct io_uring_sqe sqe;
	io_uring_prep_close(&sqe, fd);
	return submit(loop, op, &sqe, 0, 0);
}

/* ---- files ------------------------------------------------------------------
 */

int coil_openat(struct coil_loop *loop, struct coil_op *op, int dfd,
		const char *path, int flags, mode_t mode)
{
	struct io_uring_sqe sqe;
	io_uring_prep_openat(&sqe, dfd, path, flags | O_CLOEXEC, mode);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_openat2(struct coil_loop *loop, struct coil_op *op, int dfd,
		 const char *path, struct open_how *how)
{
	struct io_uring_sqe sqe;
	if (!how || !path)
		return -EINVAL;
	how->flags |= O_CLOEXEC;
	io_uring_prep_openat2(&sqe, dfd, path, how);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_splice(struct coil_loop *loop, struct coil_op *op, int fd_in,
		int64_t off_in, int fd_out, int64_t off_out, size_t len,
		unsigned flags)
{
	struct io_uring_sqe sqe;
	if (len > INT_MAX)
		return -EINVAL;
	io_uring_prep_splice(&sqe, fd_in, off_in, fd_out, off_out,
			     (unsigned)len, flags);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_read(struct coil_loop *loop, struct coil_op *op, int fd, void *buf,
	      size_t len, int64_t off)
{
	struct io_uring_sqe sqe;
	io_uring_prep_read(&sqe, fd, buf, io_len(len), (uint64_t)off);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_write(struct coil_loop *loop, struct coil_op *op, int fd,
	       const void *buf, size_t len, int64_t off)
{
	struct io_uring_sqe sqe;
	io_uring_prep_write(&sqe, fd, buf, io_len(len), (uint64_t)off);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_readv(struct coil_loop *loop, struct coil_op *op, int fd,
	       const struct iovec *iov, unsigned iovcnt, int64_t off)
{
	struct io_uring_sqe sqe;
	io_uring_prep_readv(&sqe, fd, iov, iovcnt, (uint64_t)off);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_writev(struct coil_loop *loop, struct coil_op *op, int fd,
		const struct iovec *iov, unsigned iovcnt, int64_t off)
{
	struct io_uring_sqe sqe;
	io_uring_prep_writev(&sqe, fd, iov, iovcnt, (uint64_t)off);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_fsync(struct coil_loop *loop, struct coil_op *op, int fd, int datasync)
{
	struct io_uring_sqe sqe;
	io_uring_prep_fsync(&sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_statx(struct coil_loop *loop, struct coil_op *op, int dfd,
	       const char *path, int flags, unsigned mask, struct statx *stx)
{
	struct io_uring_sqe sqe;
	io_uring_prep_statx(&sqe, dfd, path, flags, mask, stx);
	return submit(loop, op, &sqe, 0, 1);
}

/* ---- misc
 * -------------------------------------------------------------------- */

int coil_poll(struct coil_loop *loop, struct coil_op *op, int fd,
	      unsigned events)
{
	struct io_uring_sqe sqe;
	io_uring_prep_poll_add(&sqe, fd, events);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_nop(struct coil_loop *loop, struct coil_op *op)
{
	struct io_uring_sqe sqe;
	io_uring_prep_nop(&sqe);
	return submit(loop, op, &sqe, 0, 1);
}

int coil_msg_ring(struct coil_loop *loop, struct coil_op *op,
		  struct coil_loop *target, struct coil_op *target_op, int res)
{
	struct io_uring_sqe sqe;
	if (!(loop->features & COIL_FEAT_MSG_RING)) {
		/* eventfd fallback: deliver now, complete @op next turn */
		if (op->state & ST_BUSY)
			return -EBUSY;
		op->timeout_ns = 0; /* consumed, as by any submission */
		int ret = coil_loop_post_remote(target, target_op, res);
		coil__post(loop, op, ret);
		return 0;
	}
	io_uring_prep_msg_ring(&sqe, target->ring.ring_fd, (unsigned)res,
			       (uint64_t)(uintptr_t)target_op, 0);
	return submit(loop, op, &sqe, 0, 1);
}
