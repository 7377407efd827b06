/*
 * tests/server/test_server_path.c - coil_http_path_decode(): what a file
 * server may open beneath its root, and what it must refuse (RFC 3986
 * §2.1 percent-decoding; no "..", no encoded separators, no NUL); and
 * coil_http_content_type().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "coil/http.h"

static void ok(const char *in, const char *want)
{
	char out[256];
	int n = coil_http_path_decode(in, strlen(in), out, sizeof(out));
	if (n < 0)
		fail_msg("'%s' refused (%d)", in, n);
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
}

static void refused(const char *in, int err)
{
	char out[256];
	int n = coil_http_path_decode(in, strlen(in), out, sizeof(out));
	if (n != err)
		fail_msg("'%s': got %d, want %d", in, n, err);
}

static void test_path_decode_accepts(void **state)
{
	ok("/", "");
	ok("/a", "a");
	ok("/a/b.txt", "a/b.txt");
	ok("/dir/", "dir/");
	ok("/%41%62c", "Abc");
	ok("/a%20b", "a b");
	ok("/...", "...");
	ok("/a..b", "a..b");
	ok("/.hidden", ".hidden");
	ok("/x/..y", "x/..y");
	ok("/%C3%A9t%C3%A9", "\xc3\xa9t\xc3\xa9");
}

static void test_path_decode_refuses(void **state)
{
	refused("", -EINVAL);
	refused("a", -EINVAL);
	refused("/..", -EINVAL);
	refused("/../etc/passwd", -EINVAL);
	refused("/a/../../b", -EINVAL);
	refused("/a/./b", -EINVAL);
	refused("/.", -EINVAL);
	refused("/a/..", -EINVAL);
	refused("/%2e%2e/etc/passwd", -EINVAL);
	refused("/%2E%2E", -EINVAL);
	refused("/.%2e/x", -EINVAL);
	refused("/a%2fb", -EINVAL);
	refused("/a%2Fb", -EINVAL);
	refused("/a%5cb", -EINVAL);
	refused("/a%00b", -EINVAL);
	refused("/a%0ab", -EINVAL);
	refused("/a%7f", -EINVAL);
	refused("/a%", -EINVAL);
	refused("/a%4", -EINVAL);
	refused("/a%zz", -EINVAL);
	refused("//etc/passwd", -EINVAL);
	refused("/a//b", -EINVAL);
	{
		char in[] = "/a\x01";
		refused(in, -EINVAL);
	}
}

static void test_path_decode_sizes(void **state)
{
	char out[4];
	assert_int_equal(coil_http_path_decode("/abc", 4, out, sizeof(out)), 3);
	assert_int_equal(coil_http_path_decode("/abcd", 5, out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(coil_http_path_decode("/a/bc", 5, out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(coil_http_path_decode("/", 1, out, 0), -ENAMETOOLONG);
	assert_int_equal(coil_http_path_decode(NULL, 1, out, 4), -EINVAL);
	assert_int_equal(coil_http_path_decode("/a", 2, NULL, 4), -EINVAL);
	/* only @len bytes are read: the rest of the string is not looked at */
	assert_int_equal(coil_http_path_decode("/ab/../x", 3, out, sizeof(out)),
			 2);
	assert_string_equal(out, "ab");
}

static void test_content_type(void **state)
{
	assert_string_equal(coil_http_content_type("a.html", 6),
			    "text/html; charset=utf-8");
	assert_string_equal(coil_http_content_type("x/y.PNG", 7), "image/png");
	assert_string_equal(coil_http_content_type("a.tar.gz", 8),
			    "application/gzip");
	assert_string_equal(coil_http_content_type("README", 6),
			    "application/octet-stream");
	assert_string_equal(coil_http_content_type("dir.d/file", 10),
			    "application/octet-stream");
	assert_string_equal(coil_http_content_type(".", 1),
			    "application/octet-stream");
	assert_string_equal(coil_http_content_type(NULL, 0),
			    "application/octet-stream");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_decode_accepts),
		cmocka_unit_test(test_path_decode_refuses),
		cmocka_unit_test(test_path_decode_sizes),
		cmocka_unit_test(test_content_type),
	};
	return cmocka_run_group_tests_name("server.path", tests, NULL, NULL);
}
