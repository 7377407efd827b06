/*
 * tests/h2/test_h2_mem.c - the free-list allocator under a client's
 * nghttp2 session (http/h2_mem.c), through the nghttp2_mem it hands
 * nghttp2: each size lands in its class (the edges), a freed block of a
 * class comes back for the next request of that class, realloc() keeps the
 * bytes across classes and past the largest, calloc() zeroes and refuses an
 * overflowing product, a list keeps at most COIL__H2_MEM_KEEP blocks, and
 * coil__h2_mem_free() leaves nothing (ASan's leak check).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../http/h2_mem.h"

static void test_h2_mem_reuses_a_class(void **state)
{
	struct coil__h2_mem m;
	nghttp2_mem *g = &m.ng;
	void *a, *b, *c;
	(void)state;

	coil__h2_mem_init(&m);
	a = g->malloc(40, g->mem_user_data);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 16, 0);
	memset(a, 1, 40);
	g->free(a, g->mem_user_data);
	assert_int_equal(m.nfree[0], 1);
	b = g->malloc(64, g->mem_user_data); /* the same class: that block */
	assert_ptr_equal(a, b);
	assert_int_equal(m.nfree[0], 0);
	c = g->malloc(65, g->mem_user_data); /* the next class */
	assert_ptr_not_equal(c, b);
	g->free(b, g->mem_user_data);
	g->free(c, g->mem_user_data);
	g->free(NULL, g->mem_user_data);
	assert_int_equal(m.nfree[0], 1);
	assert_int_equal(m.nfree[1], 1);
	coil__h2_mem_free(&m);
	assert_int_equal(m.nfree[0], 0);
	assert_null(m.lists[0]);
}

/* each class's first and last size, and past the last: freed blocks land
 * on the list of their class, the larger one goes back to free(3) */
static void test_h2_mem_class_edges(void **state)
{
	static const size_t sizes[][2] = {
		{0, 0},	  {64, 0},  {65, 1},  {128, 1}, {129, 2},
		{256, 2}, {257, 3}, {512, 3}, {513, 4}, {1024, 4}};
	struct coil__h2_mem m;
	nghttp2_mem *g = &m.ng;
	uint32_t total = 0;
	(void)state;

	coil__h2_mem_init(&m);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned c = (unsigned)sizes[i][1];
		uint32_t before = m.nfree[c];
		void *p = g->malloc(sizes[i][0], g->mem_user_data);
		if (before)
			before--; /* it came off that list */
		g->free(p, g->mem_user_data);
		assert_int_equal(m.nfree[c], before + 1);
	}
	g->free(g->malloc(1025, g->mem_user_data), g->mem_user_data);
	for (unsigned c = 0; c < COIL__H2_MEM_CLASSES; c++)
		total += m.nfree[c];
	assert_int_equal(total, 5); /* one block per class, none for 1025 */
	coil__h2_mem_free(&m);
}

static void test_h2_mem_realloc_keeps_bytes(void **state)
{
	struct coil__h2_mem m;
	nghttp2_mem *g = &m.ng;
	unsigned char *p, *q;
	(void)state;

	coil__h2_mem_init(&m);
	p = g->realloc(NULL, 30, g->mem_user_data);
	assert_non_null(p);
	for (int i = 0; i < 30; i++)
		p[i] = (unsigned char)i;
	q = g->realloc(p, 60, g->mem_user_data); /* fits its class */
	assert_ptr_equal(p, q);
	q = g->realloc(p, 700, g->mem_user_data); /* 1024 class */
	assert_non_null(q);
	for (int i = 0; i < 30; i++)
		assert_int_equal(q[i], i);
	p = g->realloc(q, 5000, g->mem_user_data); /* past the classes */
	assert_non_null(p);
	for (int i = 0; i < 30; i++)
		assert_int_equal(p[i], i);
	memset(p + 30, 7, 5000 - 30);
	q = g->realloc(p, 9000, g->mem_user_data); /* malloc's realloc */
	assert_non_null(q);
	assert_int_equal(q[29], 29);
	assert_int_equal(q[4999], 7);
	assert_null(g->realloc(q, 0, g->mem_user_data)); /* frees */
	assert_null(g->realloc(NULL, SIZE_MAX, g->mem_user_data));
	coil__h2_mem_free(&m);
}

static void test_h2_mem_calloc_zeroes(void **state)
{
	struct coil__h2_mem m;
	nghttp2_mem *g = &m.ng;
	unsigned char *p;
	(void)state;

	coil__h2_mem_init(&m);
	p = g->malloc(100, g->mem_user_data);
	memset(p, 0xaa, 100);
	g->free(p, g->mem_user_data);
	p = g->calloc(10, 10, g->mem_user_data); /* the dirty block, zeroed */
	assert_non_null(p);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	g->free(p, g->mem_user_data);
	assert_null(g->calloc(SIZE_MAX / 2, 4, g->mem_user_data));
	coil__h2_mem_free(&m);
}

static void test_h2_mem_lists_are_bounded(void **state)
{
	struct coil__h2_mem m;
	nghttp2_mem *g = &m.ng;
	void *p[COIL__H2_MEM_KEEP + 8];
	(void)state;

	coil__h2_mem_init(&m);
	for (unsigned i = 0; i < COIL__H2_MEM_KEEP + 8; i++)
		assert_non_null(p[i] = g->malloc(200, g->mem_user_data));
	for (unsigned i = 0; i < COIL__H2_MEM_KEEP + 8; i++)
		g->free(p[i], g->mem_user_data);
	assert_int_equal(m.nfree[2], COIL__H2_MEM_KEEP);
	coil__h2_mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2_mem_reuses_a_class),
		cmocka_unit_test(test_h2_mem_class_edges),
		cmocka_unit_test(test_h2_mem_realloc_keeps_bytes),
		cmocka_unit_test(test_h2_mem_calloc_zeroes),
		cmocka_unit_test(test_h2_mem_lists_are_bounded),
	};
	return cmocka_run_group_tests_name("h2.mem", tests, NULL, NULL);
}
