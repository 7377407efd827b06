/*
 * tests/client/test_client_ref.c - the header values the client acts on:
 * Location references resolved against the request URL (the examples of
 * RFC 3986 §5.4) and Retry-After (RFC 9110 §10.2.3, the three date forms
 * of §5.6.7). Pure code, no I/O.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "../../http/client_internal.h"

static void join(const char *base, const char *ref, const char *want)
{
	struct coil_url u;
	char out[COIL_URL_MAX_LEN + 1];
	int n;

	assert_int_equal(coil_url_parse(&u, base, strlen(base)), 0);
	n = coil__url_join(out, sizeof(out), &u, ref, strlen(ref));
	if (n < 0)
		fail_msg("join(%s, %s) = %d", base, ref, n);
	if (strcmp(out, want))
		fail_msg("join(%s, %s) = %s, want %s", base, ref, out, want);
	assert_int_equal((size_t)n, strlen(want));
}

/* RFC 3986 §5.4.1 normal examples and §5.4.2 abnormal ones, for the
 * base "http://a/b/c/d;p?q" (the ones that are http URLs) */
static void test_ref_rfc3986_examples(void **state)
{
	static const char *const t[][2] = {
		{"g", "http://a/b/c/g"},
		{"./g", "http://a/b/c/g"},
		{"g/", "http://a/b/c/g/"},
		{"/g", "http://a/g"},
		{"//g", "http://g"},
		{"?y", "http://a/b/c/d;p?y"},
		{"g?y", "http://a/b/c/g?y"},
		{"#s", NULL},
		{"g#s", "http://a/b/c/g"},
		{"g?y#s", "http://a/b/c/g?y"},
		{";x", "http://a/b/c/;x"},
		{"g;x", "http://a/b/c/g;x"},
		{".", "http://a/b/c/"},
		{"./", "http://a/b/c/"},
		{"..", "http://a/b/"},
		{"../", "http://a/b/"},
		{"../g", "http://a/b/g"},
		{"../..", "http://a/"},
		{"../../", "http://a/"},
		{"../../g", "http://a/g"},
		{"../../../g", "http://a/g"},
		{"../../../../g", "http://a/g"},
		{"/./g", "http://a/g"},
		{"/../g", "http://a/g"},
		{"g.", "http://a/b/c/g."},
		{".g", "http://a/b/c/.g"},
		{"g..", "http://a/b/c/g.."},
		{"..g", "http://a/b/c/..g"},
		{"./../g", "http://a/b/g"},
		{"./g/.", "http://a/b/c/g/"},
		{"g/./h", "http://a/b/c/g/h"},
		{"g/../h", "http://a/b/c/h"},
		{"g;x=1/./y", "http://a/b/c/g;x=1/y"},
		{"g;x=1/../y", "http://a/b/c/y"},
		{"g?y/./x", "http://a/b/c/g?y/./x"},
		{"g?y/../x", "http://a/b/c/g?y/../x"},
		{"http:g", "http:g"},
		{"https://x.example:8443/p", "https://x.example:8443/p"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i][1])
			continue;
		join("http://a/b/c/d;p?q", t[i][0], t[i][1]);
	}
}

static void test_ref_authority_and_encoding(void **state)
{
	/* the port and an IPv6 literal stay as the base wrote them */
	join("http://h:8080/a/b", "c", "http://h:8080/a/c");
	join("http://[::1]:81/x", "/y", "http://[::1]:81/y");
	join("http://h/", "../../x", "http://h/x");
	/* bytes a URL may not hold are percent-encoded, as browsers do */
	join("http://h/", "/a b", "http://h/a%20b");
	join("http://h/", "/\xc3\xa9", "http://h/%C3%A9");
	/* trailing whitespace is not part of the reference */
	join("http://h/", "/x \t", "http://h/x");
}

static void test_ref_bad(void **state)
{
	struct coil_url u;
	char out[64], big[COIL_URL_MAX_LEN + 10];

	assert_int_equal(coil_url_parse(&u, "http://h/", 9), 0);
	assert_int_equal(coil__url_join(out, sizeof(out), &u, "", 0), -EINVAL);
	assert_int_equal(coil__url_join(out, sizeof(out), &u, "#frag", 5),
			 -EINVAL);
	assert_int_equal(coil__url_join(out, 8, &u, "/long/path", 10), -ENOSPC);
	assert_int_equal(coil__url_join(out, 0, &u, "/x", 2), -ENOSPC);
	memset(big, 'a', sizeof(big));
	assert_int_equal(coil__url_join(out, sizeof(out), &u, big, sizeof(big)),
			 -ENOSPC);
}

#define S 1000000000ll

static int64_t ra(const char *v, int64_t now)
{
	return coil__retry_after(v, strlen(v), now);
}

static void test_ref_retry_after(void **state)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	const int64_t t = 784111777;

	assert_int_equal(ra("120", 0), 120 * S);
	assert_int_equal(ra(" 0 ", 0), 0);
	assert_int_equal(ra("99999999999999999999999", 0), 1ll << 62);
	assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t - 10), 10 * S);
	assert_int_equal(ra("Sunday, 06-Nov-94 08:49:37 GMT", t - 10), 10 * S);
	assert_int_equal(ra("Sun Nov  6 08:49:37 1994", t - 10), 10 * S);
	/* in the past: no wait */
	assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t + 10), 0);
	/* two-digit years: more than 50 years ahead is the last century */
	assert_int_equal(ra("Monday, 01-Jan-30 00:00:00 GMT", 1700000000),
			 (1893456000ll - 1700000000) * S);
	assert_int_equal(ra("Monday, 01-Jan-99 00:00:00 GMT", 1700000000), 0);
	/* refused */
	assert_int_equal(ra("", 0), -EINVAL);
	assert_int_equal(ra("12a", 0), -EINVAL);
	assert_int_equal(ra("-5", 0), -EINVAL);
	assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37", 0), -EINVAL);
	assert_int_equal(ra("Sun, 06 Foo 1994 08:49:37 GMT", 0), -EINVAL);
	assert_int_equal(ra("Sun, 36 Nov 1994 08:49:37 GMT", 0), -EINVAL);
	assert_int_equal(ra("Sun, 06 Nov 1994 25:49:37 GMT", 0), -EINVAL);
	assert_int_equal(ra("soon", 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_rfc3986_examples),
		cmocka_unit_test(test_ref_authority_and_encoding),
		cmocka_unit_test(test_ref_bad),
		cmocka_unit_test(test_ref_retry_after),
	};
	return cmocka_run_group_tests_name("client.ref", tests, NULL, NULL);
}
