/*
 * engine/blkcache.h - a loop's cache of blocks for state that must
 * outlive a call only while an op is in flight: the TCP stream's sendmsg
 * header and iovecs (engine/tcp.c), so that an idle stream does not carry
 * them. Taken when an op needs one, put back at its completion; kept in a
 * list of at most 64 (engine/loop.c, which frees it with the loop). All
 * blocks of a loop have the size of the first one asked for. Loop thread
 * only.
 */
#ifndef COIL_ENGINE_BLKCACHE_H
#define COIL_ENGINE_BLKCACHE_H

#include <stddef.h>

#include "coil/engine.h"

/* A block of @size bytes (the same size on every call), or NULL. */
void *coil__blk_get(struct coil_loop *loop, size_t size);
/* Give @p back (from coil__blk_get() of the same loop). */
void coil__blk_put(struct coil_loop *loop, void *p);

#endif
