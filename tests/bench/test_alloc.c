/*
 * tests/bench/test_alloc.c - coil-bench allocates nothing per request: a
 * run of 20000 requests makes (nearly) as many allocator calls as a run of
 * 2000, counted by an LD_PRELOAD library (malloc_count.c). Skips (77)
 * under sanitizers, whose allocator must come first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2eutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* allocator calls of one coil-bench run of @n requests */
static unsigned long count_allocs(const char *url, const char *n,
				  const char *pipeline)
{
	char countf[] = "/tmp/coil-bench-mallocs-XXXXXX";
	char pre[512], cnt[512];
	char *argv[] = {
		COIL_BENCH_BIN, "-t1",	   "-c4",	"-P", (char *)pipeline,
		"-n",		(char *)n, (char *)url, NULL};
	char *envp[] = {pre, cnt, NULL};
	posix_spawn_file_actions_t fa;
	unsigned long calls = 0;
	char *text;
	pid_t pid;
	int fd = mkstemp(countf), st;

	close(fd);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", MALLOC_COUNT_LIB);
	snprintf(cnt, sizeof(cnt), "COIL_MALLOC_COUNT_FILE=%s", countf);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(
		posix_spawn(&pid, COIL_BENCH_BIN, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = slurp(countf);
	unlink(countf);
	calls = strtoul(text, NULL, 10);
	free(text);
	assert_true(calls > 0); /* the library was loaded */
	return calls;
}

static void test_alloc_none_per_request(void **state)
{
	struct ts_server *s;
	char url[64];
	unsigned long small, large, psmall, plarge;
	(void)state;
	if (SANITIZED) {
		fprintf(stderr, "skip: a sanitizer's allocator comes first\n");
		exit(COIL_SKIP);
	}
	s = ts_start(0, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s->port);
	small = count_allocs(url, "2000", "1");
	large = count_allocs(url, "20000", "1");
	psmall = count_allocs(url, "2000", "8");
	plarge = count_allocs(url, "20000", "8");
	ts_stop(s);
	ts_free(s);
	fprintf(stderr,
		"allocator calls: 2000 requests %lu, 20000 requests %lu; "
		"pipelined: %lu, %lu\n",
		small, large, psmall, plarge);
	/* 18000 more requests: a handful of calls at most (a head split
	 * across reads allocates its connection's buffer once) */
	assert_true(large <= small + 16);
	assert_true(plarge <= psmall + 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_none_per_request),
	};
	return cmocka_run_group_tests_name("bench.alloc", tests, NULL, NULL);
}
