/*
 * engine/blkcache.h - a loop's cache of blocks for state that must
 * outlive a call only while an op is in flight or a stream is in use:
 * the TCP stream's sendmsg header and iovecs, and the parts of a TCP
 * stream beyond an armed read (struct coil__tcp_wr for a write in flight,
 * struct coil__tcp_ext for the rest; engine/tcp.c), so that an idle
 * stream does not carry them. Taken when needed, put back when done;
 * kept in one list per kind (at most 64 sendmsg blocks, 1,024 write
 * parts, 1,024 extensions; engine/loop.c, which frees them with the loop
 * and cuts them to 16 in coil_loop_trim()). Every block of a kind has the size
 * given for that kind. Loop thread only.
 */
#ifndef COIL_ENGINE_BLKCACHE_H
#define COIL_ENGINE_BLKCACHE_H

#include <stddef.h>

#include "coil/engine.h"

/* The kinds of blocks. */
enum { COIL__BLK_SENDV, COIL__BLK_TCPW, COIL__BLK_TCPX, COIL__BLK_N };

/* A block of kind @kind, of @size bytes (the same size for every call of
 * that kind), or NULL. */
void *coil__blk_get(struct coil_loop *loop, unsigned kind, size_t size);
/* Give @p back (from coil__blk_get() of the same loop and @kind). */
void coil__blk_put(struct coil_loop *loop, unsigned kind, void *p);
/* Free the kept blocks beyond @keep of each kind (coil_loop_trim()). */
void coil__blk_trim(struct coil_loop *loop, unsigned keep);

#endif
