/*
 * engine/bufring.c - the loop's provided buffer ring (group 0).
 *
 * liburing 2.3 (Debian 12) has io_uring_register_buf_ring(3) but not
 * io_uring_setup_buf_ring(), so the ring of struct io_uring_buf is mapped
 * here by hand: page-aligned anonymous memory, registered with the kernel
 * (5.19), filled with one entry per buffer. The kernel picks a buffer for
 * each multishot recv CQE; the consumer hands it back with coil_buf_put(),
 * which republishes it at the ring's tail.
 *
 * With incremental consumption (COIL_LOOP_BUF_INC, IOU_PBUF_RING_INC,
 * kernel 6.12; io_uring_setup_buf_ring(3)) a receive takes only what it
 * needs from the ring's current buffer, which stays current while
 * IORING_CQE_F_BUF_MORE says so: the deliveries from one buffer lie one
 * after another in it. Each is put back on its own; the buffer goes back
 * to the ring when all of them are and the kernel has moved past it (a
 * CQE without BUF_MORE). So a server of many small requests touches as
 * many pages as its reads fill, not one page a read, and a ring of a few
 * buffers holds thousands of reads.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "blkcache.h"
#include "internal.h"

/* liburing 2.3's headers predate incremental consumption (kernel 6.12):
 * the registration's flag sits where they have "pad", and the CQE flag */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1u << 4)
#endif

/* Register the ring, incremental if @inc and the kernel takes it (an
 * older one refuses the flag with -EINVAL: then whole buffers). */
static int ring_register(struct coil_loop *loop, unsigned count, int inc)
{
	struct io_uring_buf_reg reg;
	int ret = -EINVAL;

	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)loop->br;
	reg.ring_entries = count;
	reg.bgid = 0;
	if (inc) {
		size_t n = count * sizeof(uint16_t);
		loop->buf_next = calloc(1, n);
		loop->buf_last = calloc(1, n);
		loop->buf_refs = calloc(1, n);
		loop->buf_done = calloc((count + 63) / 64, sizeof(uint64_t));
		if (!loop->buf_next || !loop->buf_last || !loop->buf_refs ||
		    !loop->buf_done)
			return -ENOMEM;
		reg.pad = IOU_PBUF_RING_INC;
		ret = io_uring_register_buf_ring(&loop->ring, &reg, 0);
		if (ret == 0) {
			loop->features |= COIL_FEAT_BUF_INC;
			return 0;
		}
		reg.pad = 0;
	}
	if (ret != -EINVAL)
		return ret;
	return io_uring_register_buf_ring(&loop->ring, &reg, 0);
}

int coil__buf_ring_setup(struct coil_loop *loop, unsigned count, unsigned size,
			 int inc)
{
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

	ret = ring_register(loop, count, inc);
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
	free(loop->buf_next);
	free(loop->buf_last);
	free(loop->buf_refs);
	free(loop->buf_done);
	loop->buf_next = loop->buf_last = loop->buf_refs = NULL;
	loop->buf_done = NULL;
	loop->features &= ~(unsigned)COIL_FEAT_BUF_INC;
	loop->bufs = NULL;
	loop->br = NULL;
	loop->buf_count = 0;
	loop->buf_out = 0;
}

void coil__buf_taken(struct coil_loop *loop, unsigned bid, int res,
		     unsigned flags)
{
	if (bid >= loop->buf_count)
		return;
	loop->buf_held[bid / 64] |= 1ull << (bid % 64);
	if (!(loop->features & COIL_FEAT_BUF_INC)) {
		loop->buf_out++;
		return;
	}
	/* this delivery begins where the buffer's last one ended */
	loop->buf_last[bid] = loop->buf_next[bid];
	if (res > 0) {
		loop->buf_next[bid] =
			(uint16_t)(loop->buf_next[bid] + (unsigned)res);
		/* weight 1/8: a few turns of a new kind of read move it */
		loop->buf_avg =
			loop->buf_avg - loop->buf_avg / 8 + (unsigned)res / 8;
	}
	loop->buf_refs[bid]++;
	if (!(flags & IORING_CQE_F_BUF_MORE)) {
		/* the kernel moved past it: out of the ring */
		loop->buf_done[bid / 64] |= 1ull << (bid % 64);
		loop->buf_out++;
	}
}

/*
 * Whole buffers: one read each, as many as are in the ring. Incremental
 * ones: the bytes of the buffers in the ring over what a delivery took
 * lately (at least 64 bytes), so that after a dry spell the recvs parked
 * on it are armed again about as many at a time as can be served, not
 * all of them to fail again (ops.c, coil__rearm_parked()).
 */
unsigned coil__buf_room(const struct coil_loop *loop)
{
	unsigned in_ring = loop->buf_count - loop->buf_out;
	unsigned avg = loop->buf_avg > 64 ? loop->buf_avg : 64;

	if (!(loop->features & COIL_FEAT_BUF_INC))
		return in_ring;
	return (unsigned)((uint64_t)in_ring * loop->buf_size / avg);
}

char *coil__buf_base(const struct coil_loop *loop, unsigned bid)
{
	if (bid >= loop->buf_count)
		return NULL;
	return loop->bufs + (size_t)bid * loop->buf_size;
}

void *coil_buf_ptr(const struct coil_loop *loop, unsigned bid)
{
	char *p = coil__buf_base(loop, bid);
	if (p && (loop->features & COIL_FEAT_BUF_INC))
		p += loop->buf_last[bid];
	return p;
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
	if (loop->features & COIL_FEAT_BUF_INC) {
		/* back to the ring once no delivery from it is held and the
		 * kernel moved past it */
		if (--loop->buf_refs[bid])
			return 0;
		loop->buf_held[bid / 64] &= ~bit;
		if (!(loop->buf_done[bid / 64] & bit))
			return 0; /* still the kernel's current buffer */
		loop->buf_done[bid / 64] &= ~bit;
		loop->buf_next[bid] = loop->buf_last[bid] = 0;
	}
	loop->buf_held[bid / 64] &= ~bit;
	io_uring_buf_ring_add(loop->br, coil__buf_base(loop, bid),
			      loop->buf_size, (unsigned short)bid,
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

/*
 * A stamped recvmsg buffer (coil_recv_multishot_ts()): its header, copied
 * out, and where its control messages and payload begin. Read with
 * memcpy, not through liburing's io_uring_recvmsg_*() pointers: with
 * incremental consumption a delivery begins anywhere in its buffer, so
 * the header and the control messages may be unaligned. Return: 0; -1
 * when @res cannot hold the header (io_uring_recvmsg_validate()'s test).
 */
static int recvmsg_parts(const struct coil_loop *loop, unsigned bid, int res,
			 struct io_uring_recvmsg_out *h, const char **ctl,
			 const char **payload)
{
	const struct msghdr *m = &loop->rx_msg;
	const char *p = coil_buf_ptr(loop, bid);
	size_t hdr = sizeof(*h) + m->msg_namelen + m->msg_controllen;

	if (!p || res < 0 || (size_t)res < hdr || res > (int)loop->buf_size)
		return -1;
	memcpy(h, p, sizeof(*h));
	*ctl = p + sizeof(*h) + m->msg_namelen;
	*payload = p + hdr;
	return 0;
}

int coil__recvmsg_empty(const struct coil_loop *loop, unsigned bid, int res)
{
	struct io_uring_recvmsg_out h;
	const char *ctl, *payload;
	if (recvmsg_parts(loop, bid, res, &h, &ctl, &payload) < 0)
		return 1;
	if (h.payloadlen)
		return 0;
	/* An incremental buffer's tail of exactly header + control bytes
	 * leaves the recv no room: the socket read 0 bytes, which the kernel
	 * takes for the end (io_recvmsg_multishot(): finished when the read
	 * is <= 0). Not one: the caller arms again, and a real end there
	 * shows as one again from the next buffer. */
	return !(loop->features & COIL_FEAT_BUF_INC) ||
	       loop->buf_next[bid] != loop->buf_size;
}

/* The software receive time in the control messages at @ctl (@len bytes:
 * what the kernel wrote, at most the room given), CLOCK_REALTIME ns, or 0.
 * The walk of io_uring_recvmsg_cmsg_nexthdr(), on copies. */
static uint64_t rx_stamp(const char *ctl, size_t len)
{
	struct cmsghdr cm;
	struct scm_timestamping ts;
	size_t off = 0;
	uint64_t rt = 0;

	while (off + sizeof(cm) <= len) {
		memcpy(&cm, ctl + off, sizeof(cm));
		if (cm.cmsg_len < sizeof(cm) ||
		    off + CMSG_ALIGN(cm.cmsg_len) > len)
			break;
		if (cm.cmsg_level == SOL_SOCKET &&
		    cm.cmsg_type == SCM_TIMESTAMPING &&
		    cm.cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, ctl + off + CMSG_LEN(0), sizeof(ts));
			/* ts[0]: the software timestamp (ts[2] would be
			 * hardware) */
			rt = (uint64_t)ts.ts[0].tv_sec * 1000000000ull +
			     (uint64_t)ts.ts[0].tv_nsec;
		}
		off += CMSG_ALIGN(cm.cmsg_len);
	}
	return rt;
}

uint64_t coil_buf_recvmsg(struct coil_loop *loop, unsigned bid, int res,
			  const void **data, unsigned *len)
{
	struct io_uring_recvmsg_out h;
	const char *ctl, *payload;
	size_t clen;
	uint64_t rt;

	*data = NULL;
	*len = 0;
	if (recvmsg_parts(loop, bid, res, &h, &ctl, &payload) < 0)
		return 0;
	*data = payload;
	*len = (unsigned)(res -
			  (payload - (const char *)coil_buf_ptr(loop, bid)));
	if (h.payloadlen < *len)
		*len = h.payloadlen;
	clen = h.controllen < loop->rx_msg.msg_controllen
		       ? h.controllen
		       : loop->rx_msg.msg_controllen;
	rt = rx_stamp(ctl, clen);
	return rt ? coil__rt_to_now(loop, rt) : 0;
}
