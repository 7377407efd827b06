/*
 * tests/http/guard.h - guard-page buffers (picohttpparser's test trick):
 * input is copied so that its last byte sits right before a PROT_NONE
 * page, so any read past the end faults at once instead of passing
 * unnoticed.
 */
#ifndef COIL_TEST_GUARD_H
#define COIL_TEST_GUARD_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	char *map;
	size_t map_len;
	size_t cap; /* bytes before the guard page */
};

/* A mapping with room for @cap bytes followed by a PROT_NONE page. */
static inline void guard_init(struct guard *g, size_t cap)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (cap + pg - 1) / pg * pg;
	if (data == 0)
		data = pg;
	g->map_len = data + pg;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		abort();
	if (mprotect(g->map + data, pg, PROT_NONE) < 0)
		abort();
	g->cap = data;
}

/* Copy @len bytes so that they end right at the guard page; returns the
 * copy. Each call with a different @len lands at a different address,
 * which also exercises callers that move their buffer. */
static inline char *guard_put(struct guard *g, const void *src, size_t len)
{
	if (len > g->cap)
		abort();
	char *p = g->map + g->cap - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static inline void guard_free(struct guard *g)
{
	munmap(g->map, g->map_len);
	g->map = NULL;
}

#endif
