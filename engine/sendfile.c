/*
 * engine/sendfile.c - coil_sendfile(): a file's bytes into a socket with
 * sendfile(2) issued from the loop, the ring only for waiting.
 *
 * Why not a ring op: io_uring has no sendfile, and IORING_OP_SPLICE always
 * runs in an io-wq worker (a hand-off and a wake-up per pipe-full); a
 * READ into memory and a SEND copy every byte twice. sendfile(2) hands
 * the page cache's pages to the socket by reference in one call, and on
 * an O_NONBLOCK socket it returns as soon as the socket is full. What it
 * can do is block on the disk: so it is called only for ranges the page
 * cache holds (cachestat(2), Linux 6.5), and other ranges are first read
 * through the ring (buffered reads complete asynchronously in the kernel,
 * no worker waits) into a scratch buffer whose contents are dropped; the
 * read leaves the pages cached, and sendfile(2) sends them at once. The
 * measurements behind the choice are in docs/BENCHMARKS.md (section
 * serve).
 *
 * An op goes through steps; each step that waits (POLLOUT on the socket,
 * the warming read) is the op itself in the ring with coil__sendfile_step
 * as its callback, so coil_cancel() and coil_cancel_fd() reach it as any
 * op. The caller's callback is restored before it runs: from the
 * submitting call's sendfile(2) through coil__post() (never inline), after
 * a step directly from the step's callback (already on the loop).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SF_MAX (1u << 20)      /* bytes per op (one sendfile(2) call) */
#define WARM_MAX (256u * 1024) /* bytes per warming read */

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same number on every architecture */
#endif

/* include/uapi/linux/mman.h (6.5); not in Debian 12's headers */
struct sf_cachestat_range {
	uint64_t off;
	uint64_t len;
};
struct sf_cachestat {
	uint64_t nr_cache;
	uint64_t nr_dirty;
	uint64_t nr_writeback;
	uint64_t nr_evicted;
	uint64_t nr_recently_evicted;
};

enum { STEP_NONE, STEP_POLL, STEP_WARM };

int coil_file_cached(int fd, uint64_t off, uint64_t len)
{
	static long page;
	struct sf_cachestat_range r = {off, len};
	struct sf_cachestat cs;
	uint64_t pages;

	if (fd < 0)
		return -EBADF;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	if (len == 0)
		return 1;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (syscall(SYS_cachestat, fd, &r, &cs, 0) < 0)
		return -errno;
	pages = (off + len + (uint64_t)page - 1) / (uint64_t)page -
		off / (uint64_t)page;
	return cs.nr_cache >= pages;
}

/*
 * Whether every page of [@off, @off + @n) is in the page cache. 1 yes, 0
 * no or unknown (read it first), -errno for a bad fd.
 */
static int resident(struct coil_loop *loop, int fd, uint64_t off, size_t n)
{
	int ret;

	if (loop->sf_no_cachestat)
		return 0;
	ret = coil_file_cached(fd, off, n);
	if (ret == -ENOSYS)
		loop->sf_no_cachestat = 1;
	if (ret < 0)
		return ret == -EBADF ? -EBADF : 0;
	return ret;
}

/*
 * sendfile(2) cannot be told MSG_NOSIGNAL: a peer that closed raises
 * SIGPIPE in the calling thread, which kills the process unless SIGPIPE
 * is ignored (servers ignore it; coil-serve does). Where it is not, the
 * call runs with SIGPIPE blocked and a SIGPIPE it raised is taken back
 * (sigtimedwait(2)) before the mask is restored: two more system calls
 * per call. The disposition is looked up once per loop.
 */
static ssize_t sendfile_nosig(struct coil_loop *loop, int out, int in,
			      off_t *off, size_t n)
{
	static const struct timespec zero = {0, 0};
	struct sigaction sa;
	sigset_t pipe, old;
	ssize_t r;
	int err;

	if (!loop->sf_sigpipe)
		loop->sf_sigpipe = sigaction(SIGPIPE, NULL, &sa) == 0 &&
						   sa.sa_handler == SIG_IGN
					   ? 1
					   : 2;
	if (loop->sf_sigpipe == 1)
		return sendfile(out, in, off, n);
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	r = sendfile(out, in, off, n);
	err = errno;
	if (r < 0 && err == EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return r;
}

/* The op is over: the caller's callback, posted when @posted (from the
 * submitting call), else at once (from a step's callback). */
static void done(struct coil_loop *loop, struct coil_sendfile *sf, int res,
		 int posted)
{
	sf->op.cb = sf->cb;
	sf->step = STEP_NONE;
	if (posted)
		coil__post(loop, &sf->op, res);
	else
		sf->op.cb(&sf->op, res, 0);
}

/* Put the op in the ring for one step, under the op's wait limit and the
 * deadline scope it was submitted in. */
static int step(struct coil_loop *loop, struct coil_sendfile *sf, int which,
		size_t n)
{
	uint64_t prev = coil_deadline_enter(loop, sf->deadline_ns);
	int ret;

	sf->op.cb = coil__sendfile_step;
	sf->step = (uint8_t)which;
	if (which == STEP_POLL) {
		coil_op_timeout(&sf->op, sf->wait_ns);
		ret = coil_poll(loop, &sf->op, sf->out_fd, POLLOUT);
	} else {
		loop->st.sendfile_warms++;
		ret = coil_read(loop, &sf->op, sf->in_fd, loop->sf_sink, n,
				(int64_t)sf->off);
	}
	coil_deadline_leave(loop, prev);
	if (ret < 0) {
		sf->op.cb = sf->cb;
		sf->step = STEP_NONE;
	}
	return ret;
}

/*
 * Send on: sendfile(2) if the range is cached (or was just read: @warmed
 * bytes of it), else a warming read; while the socket is full, a wait for
 * POLLOUT. Return: 0 when the op goes on (done, or in a step); -errno when
 * a step could not be submitted (the op is not in flight then).
 */
static int attempt(struct coil_loop *loop, struct coil_sendfile *sf,
		   size_t warmed, int posted)
{
	size_t n = sf->len - sf->sent;
	off_t o = (off_t)sf->off;
	ssize_t r;

	if (n == 0) {
		done(loop, sf, (int)sf->sent, posted);
		return 0;
	}
	if (warmed) {
		if (n > warmed)
			n = warmed;
	} else {
		int ok = (sf->flags & COIL_SENDFILE_RESIDENT)
				 ? 1
				 : resident(loop, sf->in_fd, sf->off, n);
		if (ok < 0) {
			done(loop, sf, ok, posted);
			return 0;
		}
		if (!ok && (sf->flags & COIL_SENDFILE_CACHED_ONLY)) {
			done(loop, sf, sf->sent ? (int)sf->sent : -EAGAIN,
			     posted);
			return 0;
		}
		if (!ok) {
			if (!loop->sf_sink) {
				loop->sf_sink = malloc(WARM_MAX);
				if (!loop->sf_sink)
					return -ENOMEM;
			}
			return step(loop, sf, STEP_WARM,
				    n < WARM_MAX ? n : WARM_MAX);
		}
	}
	loop->st.sendfiles++;
	do
		r = sendfile_nosig(loop, sf->out_fd, sf->in_fd, &o, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EAGAIN) {
		done(loop, sf, -errno, posted);
		return 0;
	}
	if (r > 0) {
		sf->sent += (size_t)r;
		sf->off += (uint64_t)r;
	}
	if (r == 0 || sf->sent == sf->len) {
		/* 0: the file ends here */
		done(loop, sf, (int)sf->sent, posted);
		return 0;
	}
	/* EAGAIN or a short count: the socket is full (or, after a warming
	 * read, the warmed part went out and the rest waits for the next
	 * read, which follows the wait at once if there is room) */
	if (warmed && r == (ssize_t)n)
		return attempt(loop, sf, 0, posted);
	return step(loop, sf, STEP_POLL, 0);
}

void coil__sendfile_step(struct coil_op *op, int res, unsigned flags)
{
	struct coil_sendfile *sf =
		coil_container_of(op, struct coil_sendfile, op);
	struct coil_loop *loop = op->loop;
	int which = sf->step;
	int ret;

	(void)flags;
	if (sf->cancelled && res >= 0)
		res = -ECANCELED; /* asked between two steps */
	if (res < 0) {		  /* a failed wait or read */
		done(loop, sf, res, 0);
		return;
	}
	if (which == STEP_WARM && res == 0) { /* the file ends at sf->off */
		done(loop, sf, (int)sf->sent, 0);
		return;
	}
	ret = attempt(loop, sf, which == STEP_WARM ? (size_t)res : 0, 0);
	if (ret < 0)
		done(loop, sf, ret, 0);
}

int coil_sendfile(struct coil_loop *loop, struct coil_sendfile *sf, int out_fd,
		  int in_fd, uint64_t off, size_t len, unsigned flags)
{
	int ret;

	if (sf->op.state & ST_BUSY)
		return -EBUSY;
	if (out_fd < 0 || in_fd < 0)
		return -EBADF;
	if (off > INT64_MAX ||
	    (flags & ~(COIL_SENDFILE_CACHED_ONLY | COIL_SENDFILE_RESIDENT)))
		return -EINVAL;
	if (loop->draining == 2)
		return -ECANCELED;
	sf->cb = sf->op.cb;
	sf->out_fd = out_fd;
	sf->in_fd = in_fd;
	sf->off = off;
	sf->len = len;
	sf->wait_ns = sf->op.timeout_ns;
	sf->op.timeout_ns = 0;
	sf->deadline_ns = loop->deadline_ns;
	sf->sent = 0;
	sf->flags = (uint8_t)flags;
	sf->cancelled = 0;
	sf->step = STEP_NONE;
	if (len > SF_MAX)
		sf->len = SF_MAX;
	if (sf->deadline_ns && sf->deadline_ns <= loop->now_ns) {
		coil__post(loop, &sf->op, -ETIMEDOUT);
		return 0;
	}
	ret = attempt(loop, sf, 0, 1);
	if (ret < 0) {
		sf->op.timeout_ns = sf->wait_ns; /* not taken: as it was */
		sf->op.cb = sf->cb;
	}
	return ret;
}
