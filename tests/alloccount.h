/*
 * tests/alloccount.h - count the allocator calls of this process, in any
 * thread: malloc, calloc and realloc defined over glibc's (__libc_malloc
 * ...). Include it in one test file only. The first calls' return sites
 * are kept while alloc_counting is set (for a failure message). Under
 * AddressSanitizer, which owns the allocator, nothing is defined and
 * ALLOC_NO_COUNT is: the test exits 77.
 */
#ifndef COIL_TEST_ALLOCCOUNT_H
#define COIL_TEST_ALLOCCOUNT_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_NO_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_NO_COUNT 1
#endif
#endif

static unsigned long allocs; /* read and reset with __atomic_* */
static int alloc_counting;   /* keep the sites of the first calls */
static void *alloc_sites[8];

static inline void alloc_count(void *site)
{
	unsigned long k = __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&alloc_counting, __ATOMIC_RELAXED) &&
	    k < sizeof(alloc_sites) / sizeof(alloc_sites[0]))
		alloc_sites[k] = site;
}

static inline unsigned long alloc_calls(void)
{
	return __atomic_load_n(&allocs, __ATOMIC_RELAXED);
}

#ifndef ALLOC_NO_COUNT
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
	alloc_count(__builtin_return_address(0));
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	alloc_count(__builtin_return_address(0));
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	alloc_count(__builtin_return_address(0));
	return __libc_realloc(p, n);
}
#endif

#endif
