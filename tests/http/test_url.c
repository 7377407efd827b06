/* tests/http/test_url.c - http(s) URLs: what is accepted and how it is
 * split, every refusal with its reason, each input before a guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "coil/http.h"
#include "guard.h"

#define NAME COIL_URL_HOST_NAME
#define V4 COIL_URL_HOST_IPV4
#define V6 COIL_URL_HOST_IPV6

struct ucase {
	const char *in;
	int https;
	int kind;
	const char *host;
	unsigned port;
	const char *authority;
	const char *target;
};

static const struct ucase accepted[] = {
	{"http://example.com", 0, NAME, "example.com", 80, "example.com", "/"},
	{"https://example.com/", 1, NAME, "example.com", 443, "example.com",
	 "/"},
	{"HTTP://Example.COM/a/b?c=d#frag", 0, NAME, "Example.COM", 80,
	 "Example.COM", "/a/b?c=d"},
	{"HtTpS://x.y", 1, NAME, "x.y", 443, "x.y", "/"},
	{"http://example.com?x=1", 0, NAME, "example.com", 80, "example.com",
	 "/?x=1"},
	{"http://example.com#only-fragment", 0, NAME, "example.com", 80,
	 "example.com", "/"},
	{"http://example.com/#", 0, NAME, "example.com", 80, "example.com",
	 "/"},
	{"http://example.com?#", 0, NAME, "example.com", 80, "example.com",
	 "/?"},
	{"http://example.com:8080/p", 0, NAME, "example.com", 8080,
	 "example.com:8080", "/p"},
	{"http://example.com:80/", 0, NAME, "example.com", 80, "example.com",
	 "/"},
	{"https://example.com:443/", 1, NAME, "example.com", 443, "example.com",
	 "/"},
	{"https://example.com:80/", 1, NAME, "example.com", 80,
	 "example.com:80", "/"},
	{"http://example.com:/", 0, NAME, "example.com", 80, "example.com",
	 "/"},
	{"http://example.com:00081/", 0, NAME, "example.com", 81,
	 "example.com:00081", "/"},
	{"http://h:1", 0, NAME, "h", 1, "h:1", "/"},
	{"http://h:65535", 0, NAME, "h", 65535, "h:65535", "/"},
	{"http://127.0.0.1:9/x", 0, V4, "127.0.0.1", 9, "127.0.0.1:9", "/x"},
	{"http://0.0.0.0/", 0, V4, "0.0.0.0", 80, "0.0.0.0", "/"},
	{"http://255.255.255.255/", 0, V4, "255.255.255.255", 80,
	 "255.255.255.255", "/"},
	{"http://[::1]:8443/x", 0, V6, "::1", 8443, "[::1]:8443", "/x"},
	{"https://[2001:db8::1]/", 1, V6, "2001:db8::1", 443, "[2001:db8::1]",
	 "/"},
	{"http://[::ffff:1.2.3.4]/", 0, V6, "::ffff:1.2.3.4", 80,
	 "[::ffff:1.2.3.4]", "/"},
	{"http://[FE80::1]", 0, V6, "FE80::1", 80, "[FE80::1]", "/"},
	{"http://a_b-c.example./", 0, NAME, "a_b-c.example.", 80,
	 "a_b-c.example.", "/"},
	{"http://1.2.3.4.example.com/", 0, NAME, "1.2.3.4.example.com", 80,
	 "1.2.3.4.example.com", "/"},
	{"http://123abc/", 0, NAME, "123abc", 80, "123abc", "/"},
	{"http://localhost/", 0, NAME, "localhost", 80, "localhost", "/"},
	{"http://x/%7Euser%20x?q=%41%zz", 0, 0, NULL}, /* refused: %zz */
	{"http://x/%7Euser%20x?q=%41", 0, NAME, "x", 80, "x",
	 "/%7Euser%20x?q=%41"},
	{"http://x/a/../b/./c", 0, NAME, "x", 80, "x", "/a/../b/./c"},
	{"http://x/p;a=b?q=@:/?&k[]={v}|^`\\\"<>", 0, NAME, "x", 80, "x",
	 "/p;a=b?q=@:/?&k[]={v}|^`\\\"<>"},
	{"http://x//double", 0, NAME, "x", 80, "x", "//double"},
};

static void test_url_accepted(void **state)
{
	struct guard g;
	struct coil_url u;
	guard_init(&g, 16384);
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		const struct ucase *c = &accepted[i];
		size_t n = strlen(c->in);
		int r = coil_url_parse(&u, guard_put(&g, c->in, n), n);
		if (!c->host) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		if (r != 0)
			fail_msg("%s: %d (%s)", c->in, r, u.why);
		assert_null(u.why);
		assert_int_equal(u.https, c->https);
		assert_int_equal(u.host_kind, c->kind);
		assert_int_equal(u.port, c->port);
		assert_string_equal(coil_url_host(&u), c->host);
		assert_int_equal(u.host_len, strlen(c->host));
		assert_string_equal(coil_url_authority(&u), c->authority);
		assert_int_equal(u.auth_len, strlen(c->authority));
		assert_string_equal(coil_url_target(&u), c->target);
		assert_int_equal(u.target_len, strlen(c->target));
	}
	guard_free(&g);
}

struct ubad {
	const char *in;
	size_t len; /* 0: strlen */
	int err;
	const char *why; /* a word the reason must contain */
};

static const struct ubad refused[] = {
	{"", 0, -EINVAL, "empty"},
	{"example.com/", 0, -EINVAL, "scheme"},
	{"//example.com/", 0, -EINVAL, "scheme"},
	{"1http://x/", 0, -EINVAL, "scheme"},
	{"ftp://x/", 0, -EPROTONOSUPPORT, "scheme"},
	{"ws://x/", 0, -EPROTONOSUPPORT, "scheme"},
	{"httpx://x/", 0, -EPROTONOSUPPORT, "scheme"},
	{"file:///etc/passwd", 0, -EPROTONOSUPPORT, "scheme"},
	{"http:/x", 0, -EINVAL, "//"},
	{"http:x", 0, -EINVAL, "//"},
	{"http:", 0, -EINVAL, "//"},
	{"http://", 0, -EINVAL, "empty host"},
	{"http:///p", 0, -EINVAL, "empty host"},
	{"http://:80/", 0, -EINVAL, "empty host"},
	{"http://?q", 0, -EINVAL, "empty host"},
	{"http://u:p@host/", 0, -EINVAL, "credentials"},
	{"http://u@host/", 0, -EINVAL, "credentials"},
	{"http://@host/", 0, -EINVAL, "credentials"},
	{"http://host:0/", 0, -EINVAL, "port"},
	{"http://host:65536/", 0, -EINVAL, "port"},
	{"http://host:99999999999999999999999/", 0, -EINVAL, "port"},
	{"http://host:8a/", 0, -EINVAL, "port"},
	{"http://host:-1/", 0, -EINVAL, "port"},
	{"http://host:+80/", 0, -EINVAL, "port"},
	{"http://host:80:81/", 0, -EINVAL, "port"},
	{"http://ho st/", 0, -EINVAL, "space"},
	{" http://host/", 0, -EINVAL, "space"},
	{"http://host/ ", 0, -EINVAL, "space"},
	{"http://host/a b", 0, -EINVAL, "space"},
	{"http://host/\t", 0, -EINVAL, "control"},
	{"http://host/\r\nX: 1", 0, -EINVAL, "control"},
	{"http://host/\x7f", 0, -EINVAL, "control"},
	{"http://host/\0x", 14, -EINVAL, "control"},
	{"http://host/#frag with space", 0, -EINVAL, "space"},
	{"http://host/\xc3\xa9", 0, -EINVAL, "non-ASCII"},
	{"http://h\xc3\xa9st/", 0, -EINVAL, "non-ASCII"},
	{"http://host/%zz", 0, -EINVAL, "hex"},
	{"http://host/%4", 0, -EINVAL, "hex"},
	{"http://host/%", 0, -EINVAL, "hex"},
	{"http://ex%41mple.com/", 0, -EINVAL, "percent"},
	{"http://[::1/", 0, -EINVAL, "IPv6"},
	{"http://[::1%25eth0]/", 0, -EINVAL, "zone"},
	{"http://[fe80::1%25en0]:80/", 0, -EINVAL, "zone"},
	{"http://[v1.abc]/", 0, -EINVAL, "IPvFuture"},
	{"http://[1.2.3.4]/", 0, -EINVAL, "IPv6"},
	{"http://[]/", 0, -EINVAL, "IPv6"},
	{"http://[::1]x/", 0, -EINVAL, "after IPv6"},
	{"http://[::1]:/", 0, 0, NULL}, /* empty port: accepted */
	{"http://[:::1]/", 0, -EINVAL, "IPv6"},
	{"http://::1/", 0, -EINVAL, "empty host"},
	{"http://256.1.1.1/", 0, -EINVAL, "IPv4"},
	{"http://1.2.3/", 0, -EINVAL, "IPv4"},
	{"http://1.2.3.4.5/", 0, -EINVAL, "IPv4"},
	{"http://01.2.3.4/", 0, -EINVAL, "IPv4"},
	{"http://1.2.3.4./", 0, -EINVAL, "IPv4"},
	{"http://1.2.3.0400/", 0, -EINVAL, "IPv4"},
	{"http://example.123/", 0, -EINVAL, "IPv4"},
	{"http://4294967295/", 0, -EINVAL, "IPv4"},
	{"http://a..b/", 0, -EINVAL, "empty label"},
	{"http://.a/", 0, -EINVAL, "empty label"},
	{"http://./", 0, -EINVAL, "empty label"},
	{"http://host\\evil.com/", 0, -EINVAL, "character"},
	{"http://ho!st/", 0, -EINVAL, "character"},
	{"http://ho*st/", 0, -EINVAL, "character"},
	{"http://"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	 "com/",
	 0, -EINVAL, "63"},
};

static void test_url_refused(void **state)
{
	struct guard g;
	struct coil_url u;
	guard_init(&g, 16384);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const struct ubad *c = &refused[i];
		size_t n = c->len ? c->len : strlen(c->in);
		int r = coil_url_parse(&u, guard_put(&g, c->in, n), n);
		if (r != c->err)
			fail_msg("%s: got %d (%s), want %d", c->in, r,
				 u.why ? u.why : "-", c->err);
		if (!c->why) {
			assert_null(u.why);
			continue;
		}
		assert_non_null(u.why);
		if (!strstr(u.why, c->why))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", c->in, u.why,
				 c->why);
	}
	guard_free(&g);
}

/* Host name length: 253 bytes (plus an optional final dot) at most. */
static void test_url_host_length_limits(void **state)
{
	char in[400];
	struct coil_url u;
	/* 4 labels of 63 = 252 + 3 dots = 255: too long; trim to 253 */
	char host[300];
	size_t h = 0;
	for (int l = 0; l < 4; l++) {
		if (l)
			host[h++] = '.';
		memset(host + h, 'a', 63);
		h += 63;
	}
	host[h] = '\0'; /* 255 bytes */
	int n = snprintf(in, sizeof(in), "http://%s/", host);
	assert_int_equal(coil_url_parse(&u, in, (size_t)n), -EINVAL);
	assert_non_null(strstr(u.why, "253"));
	host[253] = '\0';
	n = snprintf(in, sizeof(in), "http://%s/", host);
	assert_int_equal(coil_url_parse(&u, in, (size_t)n), 0);
	assert_int_equal(u.host_len, 253);
	n = snprintf(in, sizeof(in), "http://%s./", host);
	assert_int_equal(coil_url_parse(&u, in, (size_t)n), 0);
	assert_int_equal(u.host_len, 254);
}

/* COIL_URL_MAX_LEN bytes are accepted, one more is COIL_ELIMIT. */
static void test_url_total_length_limit(void **state)
{
	static char in[COIL_URL_MAX_LEN + 2];
	struct guard g;
	struct coil_url u;
	const char *pre =
		"https://[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:65000/";
	size_t pl = strlen(pre);
	memcpy(in, pre, pl);
	memset(in + pl, 'p', sizeof(in) - pl);
	guard_init(&g, sizeof(in));
	assert_int_equal(coil_url_parse(&u, guard_put(&g, in, COIL_URL_MAX_LEN),
					COIL_URL_MAX_LEN),
			 0);
	assert_int_equal(u.target_len, COIL_URL_MAX_LEN - (pl - 1));
	assert_int_equal(strlen(coil_url_target(&u)), u.target_len);
	assert_int_equal(u.port, 65000);
	assert_int_equal(coil_url_parse(&u,
					guard_put(&g, in, COIL_URL_MAX_LEN + 1),
					COIL_URL_MAX_LEN + 1),
			 COIL_ELIMIT);
	assert_non_null(u.why);
	guard_free(&g);
}

/* The struct owns its strings: the input can go, the struct can be
 * copied. */
static void test_url_struct_is_self_contained(void **state)
{
	char in[] = "https://example.org:8443/path?q=1#f";
	struct coil_url a, b;
	assert_int_equal(coil_url_parse(&a, in, strlen(in)), 0);
	memset(in, 'X', sizeof(in) - 1);
	b = a;
	memset(&a, 0, sizeof(a));
	assert_string_equal(coil_url_host(&b), "example.org");
	assert_string_equal(coil_url_authority(&b), "example.org:8443");
	assert_string_equal(coil_url_target(&b), "/path?q=1");
	assert_int_equal(b.port, 8443);
	assert_int_equal(b.https, 1);
}

/* A URL, split: fed to the request writer it makes a valid request. */
static void test_url_to_request(void **state)
{
	struct coil_url u;
	char buf[256];
	const char *s = "http://[::1]:8080/a%20b?c";
	assert_int_equal(coil_url_parse(&u, s, strlen(s)), 0);
	struct coil_http_request_spec r = {
		.method = "GET",
		.target = coil_url_target(&u),
		.target_len = u.target_len,
		.host = coil_url_authority(&u),
		.host_len = u.auth_len,
	};
	int n = coil_http_request_write(buf, sizeof(buf), &r);
	const char *want = "GET /a%20b?c HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n";
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_accepted),
		cmocka_unit_test(test_url_refused),
		cmocka_unit_test(test_url_host_length_limits),
		cmocka_unit_test(test_url_total_length_limit),
		cmocka_unit_test(test_url_struct_is_self_contained),
		cmocka_unit_test(test_url_to_request),
	};
	return cmocka_run_group_tests_name("http.url", tests, NULL, NULL);
}
