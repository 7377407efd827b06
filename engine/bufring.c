/*
 * engine/bufring.c - the loop's provided buffer ring (group 0).
 *
 * liburing 2.3 (Debian 12) has io_uring_register_buf_ring(3) but not
 * io_uring_setup_buf_ring(), so the ring of struct io_uring_buf is mapped
 * here by hand: page-aligned anonymous memory, registered with the kernel
 * (5.19), filled with one entry per buffer. The kernel picks a buffer for
 * each multishot recv CQE; the consumer hands it back with coil_buf_put(),
 * which republishes it at the ring's tail.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "blkcache.h"
#include "internal.h"

int coil__buf_ring_setup(struct coil_loop *loop, unsigned count, unsigned size)
{
	struct io_uring_buf_reg reg;
	int ret;

	loop->br_bytes = count * sizeof(struct io_uring_buf);
	loop->br = mmap(NULL, loop->br_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (loop->br == MAP_FAILED) {
		loop->br = NULL;
		return -ENOMEM;
	}
	loop->bufs = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (loop->bufs == MAP_FAILED) {
		loop->bufs = NULL;
		coil__buf_ring_free(loop);
		return -ENOMEM;
	}
	loop->buf_count = count;
	loop->buf_size = size;
	loop->buf_held = calloc((count + 63) / 64, sizeof(uint64_t));
	if (!loop->buf_held) {
		coil__buf_ring_free(loop);
		return -ENOMEM;
	}

	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)loop->br;
	reg.ring_entries = count;
	reg.bgid = 0;
	ret = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	if (ret < 0) {
		coil__buf_ring_free(loop);
		return ret;
	}
	io_uring_buf_ring_init(loop->br);
	int mask = io_uring_buf_ring_mask(count);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(loop->br, loop->bufs + (size_t)i * size,
				      size, (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(loop->br, (int)count);
	return 0;
}

void coil__buf_ring_free(struct coil_loop *loop)
{
	if (loop->bufs)
		munmap(loop->bufs, (size_t)loop->buf_count * loop->buf_size);
	if (loop->br)
		munmap(loop->br, loop->br_bytes);
	free(loop->buf_held);
	loop->buf_held = NULL;
	loop->bufs = NULL;
	loop->br = NULL;
	loop->buf_count = 0;
	loop->buf_out = 0;
}

void coil__buf_taken(struct coil_loop *loop, unsigned bid)
{
	if (bid >= loop->buf_count)
		return;
	loop->buf_held[bid / 64] |= 1ull << (bid % 64);
	loop->buf_out++;
}

void *coil_buf_ptr(const struct coil_loop *loop, unsigned bid)
{
	if (bid >= loop->buf_count)
		return NULL;
	return loop->bufs + (size_t)bid * loop->buf_size;
}

unsigned coil_buf_size(const struct coil_loop *loop)
{
	return loop->buf_size;
}

/* Only a buffer the consumer holds goes back: a second put of the same
 * id would publish it twice, and two recvs would then fill one buffer. */
int coil_buf_put(struct coil_loop *loop, unsigned bid)
{
	uint64_t bit = 1ull << (bid % 64);
	if (bid >= loop->buf_count || !(loop->buf_held[bid / 64] & bit))
		return -EINVAL;
	loop->buf_held[bid / 64] &= ~bit;
	io_uring_buf_ring_add(loop->br, coil_buf_ptr(loop, bid), loop->buf_size,
			      (unsigned short)bid,
			      io_uring_buf_ring_mask(loop->buf_count), 0);
	io_uring_buf_ring_advance(loop->br, 1);
	loop->buf_out--;
	return 0;
}

/*
 * Every buffer the kernel ever filled keeps its pages (a 16 KiB buffer
 * holding one small request keeps one page), so after a burst the ring
 * stays as resident as at its busiest. With IORING_SETUP_DEFER_TASKRUN
 * the kernel picks and fills provided buffers only inside
 * io_uring_enter(2) on this thread, so between two entries, with the CQ
 * reaped, a buffer nobody holds carries nothing: its pages can go
 * (madvise(2) MADV_DONTNEED; the next recv into it faults in a zeroed
 * page). Runs of such buffers go in one call each.
 */
void coil__buf_trim(struct coil_loop *loop)
{
	unsigned i = 0, n = loop->buf_count;

	loop->buf_trim = 0;
	while (i < n) {
		unsigned j;
		if (loop->buf_held[i / 64] & (1ull << (i % 64))) {
			i++;
			continue;
		}
		for (j = i;
		     j < n && !(loop->buf_held[j / 64] & (1ull << (j % 64)));
		     j++)
			;
		madvise(loop->bufs + (size_t)i * loop->buf_size,
			(size_t)(j - i) * loop->buf_size, MADV_DONTNEED);
		i = j;
	}
	loop->st.buf_trims++;
}

int coil_loop_trim(struct coil_loop *loop)
{
	if (!loop)
		return -EINVAL;
	/* at once: nothing but this thread touches them, and a caller that
	 * runs malloc_trim(3) next finds the pages they pinned free */
	coil__blk_trim(loop, 16);
	if (!loop->bufs || !(loop->features & COIL_FEAT_DEFER_TASKRUN))
		return -EOPNOTSUPP;
	loop->buf_trim = 1;
	return 0;
}

/* The header of a stamped recvmsg buffer (coil_recv_multishot_ts()), or
 * NULL when @res cannot hold one. */
static struct io_uring_recvmsg_out *recvmsg_out(const struct coil_loop *loop,
						unsigned bid, int res)
{
	struct msghdr *m = (struct msghdr *)&loop->rx_msg;
	void *p = coil_buf_ptr(loop, bid);
	if (!p || res > (int)loop->buf_size)
		return NULL;
	return io_uring_recvmsg_validate(p, res, m);
}

int coil__recvmsg_empty(const struct coil_loop *loop, unsigned bid, int res)
{
	struct io_uring_recvmsg_out *o = recvmsg_out(loop, bid, res);
	return !o || !o->payloadlen;
}

uint64_t coil_buf_recvmsg(struct coil_loop *loop, unsigned bid, int res,
			  const void **data, unsigned *len)
{
	struct msghdr *m = &loop->rx_msg;
	struct io_uring_recvmsg_out *o = recvmsg_out(loop, bid, res);
	struct cmsghdr *cm;
	uint64_t rt = 0;

	*data = NULL;
	*len = 0;
	if (!o)
		return 0;
	*data = io_uring_recvmsg_payload(o, m);
	*len = io_uring_recvmsg_payload_length(o, res, m);
	if (o->payloadlen < *len)
		*len = o->payloadlen;
	for (cm = io_uring_recvmsg_cmsg_firsthdr(o, m); cm;
	     cm = io_uring_recvmsg_cmsg_nexthdr(o, m, cm)) {
		const struct scm_timestamping *ts;
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_TIMESTAMPING ||
		    cm->cmsg_len < CMSG_LEN(sizeof(*ts)))
			continue;
		ts = (const struct scm_timestamping *)(const void *)CMSG_DATA(
			cm);
		/* ts[0]: the software timestamp (ts[2] would be hardware) */
		rt = (uint64_t)ts->ts[0].tv_sec * 1000000000ull +
		     (uint64_t)ts->ts[0].tv_nsec;
	}
	return rt ? coil__rt_to_now(loop, rt) : 0;
}
