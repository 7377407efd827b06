/*
 * tests/server/test_serve_wrk.c - coil-serve under wrk (peer) for a few
 * seconds: plain keep-alive load, pipelined requests (wrk's Lua request
 * hook returning several requests at once), and 64 KiB bodies; wrk must
 * report no socket error and no non-2xx answer. Exits 77 without wrk.
 */
#include "peer.h"

static char *tmp;
static struct served sv;

static int setup(void **state)
{
	const char *args[] = {"-t", "2", NULL};
	require_prog("wrk");
	tmp = tu_tmpdir();
	serve_start(&sv, NULL, args);
	return 0;
}

static int teardown(void **state)
{
	return serve_teardown(&sv, tmp);
}

static void test_wrk_keepalive(void **state)
{
	char *out, u[128];
	char *argv[] = {"wrk", "-t1", "-c20", "-d2s", u, NULL};
	snprintf(u, sizeof(u), "%s/", sv.url);
	assert_int_equal(run(argv, NULL, &out, 30000), 0);
	assert_true(check_wrk(out) > 1000);
	free(out);
}

static void test_wrk_pipelined(void **state)
{
	char *out, u[128], script[4200];
	char *argv[] = {"wrk", "-t1", "-c10", "-d2s", "-s", script, u, NULL};
	FILE *f;

	snprintf(script, sizeof(script), "%s/pipeline.lua", tmp);
	f = fopen(script, "w");
	assert_non_null(f);
	/* 8 requests in one write, as wrk's own scripts/pipeline.lua does */
	fputs("init = function(args)\n"
	      "  local r = {}\n"
	      "  for i = 1, 8 do\n"
	      "    r[i] = wrk.format(nil, i % 2 == 0 and '/' or "
	      "'/bytes/' .. i * 100)\n"
	      "  end\n"
	      "  req = table.concat(r)\n"
	      "end\n"
	      "request = function() return req end\n",
	      f);
	fclose(f);
	snprintf(u, sizeof(u), "%s/", sv.url);
	assert_int_equal(run(argv, NULL, &out, 30000), 0);
	assert_true(check_wrk(out) > 1000);
	free(out);
}

static void test_wrk_64k_bodies(void **state)
{
	char *out, u[128];
	char *argv[] = {"wrk", "-t1", "-c8", "-d2s", u, NULL};
	snprintf(u, sizeof(u), "%s/bytes/65536", sv.url);
	assert_int_equal(run(argv, NULL, &out, 30000), 0);
	assert_true(check_wrk(out) > 100);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrk_keepalive),
		cmocka_unit_test(test_wrk_pipelined),
		cmocka_unit_test(test_wrk_64k_bodies),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.wrk", tests, setup, teardown);
}
