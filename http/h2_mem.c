/*
 * http/h2_mem.c - the allocator a client's nghttp2 session runs on
 * (nghttp2_mem, nghttp2_session_client_new3()): blocks of a few size
 * classes kept on free lists of their own, so the objects nghttp2 makes
 * and drops for every request (the stream, its outbound item, the copied
 * header array, a decoded field's buffer) come back from a list instead
 * of malloc(3) and go back to it instead of free(3). Larger blocks go to
 * malloc(3) unchanged.
 *
 * Each block carries a 16-byte head (its class), so free() and realloc()
 * know its size, and the payload keeps malloc's 16-byte alignment. A list
 * holds at most KEEP blocks; the rest are freed, so an idle session keeps
 * at most KEEP blocks of each class. Single-threaded, like the session.
 */

#include <stdlib.h>
#include <string.h>

#include "h2_mem.h"

#define HEAD 16u
#define BIG 0xffu /* the class of a block from malloc(3) */

static const uint32_t class_bytes[COIL__H2_MEM_CLASSES] = {64, 128, 256, 512,
							   1024};

union head {
	struct {
		uint32_t cls;
		union head *next; /* on a free list */
	} h;
	unsigned char pad[HEAD];
};

/* The classes are the powers of two from 64: the bit length of size - 1,
 * less 6 (65..128 -> 1, ..., 513..1024 -> 4). */
static unsigned class_of(size_t size)
{
	if (size <= class_bytes[0])
		return 0;
	if (size > class_bytes[COIL__H2_MEM_CLASSES - 1])
		return BIG;
	return (unsigned)(64 - __builtin_clzll((unsigned long long)size - 1)) -
	       6;
}

static void *mem_malloc(size_t size, void *ud)
{
	struct coil__h2_mem *m = ud;
	unsigned c = class_of(size);
	union head *b;

	if (c != BIG && (b = m->lists[c])) {
		m->lists[c] = b->h.next;
		m->nfree[c]--;
		return (unsigned char *)b + HEAD;
	}
	if (size > SIZE_MAX - HEAD)
		return NULL;
	b = malloc(HEAD + (c == BIG ? size : class_bytes[c]));
	if (!b)
		return NULL;
	b->h.cls = c;
	return (unsigned char *)b + HEAD;
}

static void mem_free(void *ptr, void *ud)
{
	struct coil__h2_mem *m = ud;
	union head *b;

	if (!ptr)
		return;
	b = (union head *)(void *)((unsigned char *)ptr - HEAD);
	if (b->h.cls == BIG || m->nfree[b->h.cls] >= COIL__H2_MEM_KEEP) {
		free(b);
		return;
	}
	b->h.next = m->lists[b->h.cls];
	m->lists[b->h.cls] = b;
	m->nfree[b->h.cls]++;
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	void *p;
	if (size && n > SIZE_MAX / size)
		return NULL;
	p = mem_malloc(n * size, ud);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
	union head *b;
	size_t have;
	void *p;

	if (!ptr)
		return mem_malloc(size, ud);
	if (!size) {
		mem_free(ptr, ud);
		return NULL;
	}
	b = (union head *)(void *)((unsigned char *)ptr - HEAD);
	if (b->h.cls == BIG) {
		if (size > SIZE_MAX - HEAD || !(b = realloc(b, HEAD + size)))
			return NULL;
		return (unsigned char *)b + HEAD;
	}
	have = class_bytes[b->h.cls];
	if (size <= have)
		return ptr;
	if (!(p = mem_malloc(size, ud)))
		return NULL;
	memcpy(p, ptr, have);
	mem_free(ptr, ud);
	return p;
}

void coil__h2_mem_init(struct coil__h2_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->ng.mem_user_data = m;
	m->ng.malloc = mem_malloc;
	m->ng.free = mem_free;
	m->ng.calloc = mem_calloc;
	m->ng.realloc = mem_realloc;
}

void coil__h2_mem_free(struct coil__h2_mem *m)
{
	for (unsigned c = 0; c < COIL__H2_MEM_CLASSES; c++)
		while (m->lists[c]) {
			union head *b = m->lists[c];
			m->lists[c] = b->h.next;
			free(b);
		}
	memset(m->nfree, 0, sizeof(m->nfree));
}
