/*
 * tests/server/test_serve_ab.c - coil-serve under ApacheBench (peer):
 * `ab -k` (HTTP/1.0 keep-alive) and plain ab (a connection per request,
 * closed by the server after each answer): every request complete, none
 * failed. Exits 77 without ab.
 */
#include "peer.h"

static struct served sv;

static int setup(void **state)
{
	const char *args[] = {"-t", "2", NULL};
	require_prog("ab");
	serve_start(&sv, NULL, args);
	return 0;
}

static int teardown(void **state)
{
	int rc = serve_stop(&sv, 10000);
	peer_cleanup();
	return rc == 0 ? 0 : -1;
}

static long field(const char *out, const char *name)
{
	const char *p = strstr(out, name);
	if (!p)
		fail_msg("no '%s' in ab output:\n%s", name, out);
	p += strlen(name);
	while (*p == ' ')
		p++;
	return strtol(p, NULL, 10);
}

static void test_ab_keepalive(void **state)
{
	char *out, u[128];
	char *argv[] = {"ab", "-k", "-q", "-n", "20000", "-c", "20", u, NULL};
	snprintf(u, sizeof(u), "%s/", sv.url);
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	assert_int_equal(field(out, "Complete requests:"), 20000);
	assert_int_equal(field(out, "Failed requests:"), 0);
	assert_int_equal(field(out, "Keep-Alive requests:"), 20000);
	assert_int_equal(field(out, "Document Length:"), 13);
	free(out);
}

static void test_ab_close_per_request(void **state)
{
	char *out, u[128];
	char *argv[] = {"ab", "-q", "-n", "2000", "-c", "10", u, NULL};
	snprintf(u, sizeof(u), "%s/bytes/1000", sv.url);
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	assert_int_equal(field(out, "Complete requests:"), 2000);
	assert_int_equal(field(out, "Failed requests:"), 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ab_keepalive),
		cmocka_unit_test(test_ab_close_per_request),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.ab", tests, setup, teardown);
}
