/*
 * tests/bench/malloc_count.c - an LD_PRELOAD library that counts the
 * calls to malloc, calloc, realloc and aligned allocations of a process
 * and writes the count to $COIL_MALLOC_COUNT_FILE at exit. Used by
 * test_alloc.c to show that coil-bench allocates nothing per request.
 * It forwards to glibc's __libc_* entry points (no dlsym, which itself
 * allocates).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong calls;

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	p = __libc_memalign(align, n);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("COIL_MALLOC_COUNT_FILE");
	FILE *f;
	if (!path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "%lu\n", atomic_load(&calls));
	fclose(f);
}
