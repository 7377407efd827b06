/*
 * tests/server/test_server_static.c - the static file server's decisions
 * without I/O (http/server_static.c) and HTTP-date parsing (http/date.c):
 * ETags as nginx writes them, RFC 9110 §13.2.2's order of preconditions,
 * entity-tag lists (weak and strong comparison), range specs of every
 * form with their edge cases, If-Range, and the escaping of listings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "coil/http.h"
#include "../../http/static.h"

#define T_MTIME 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */
#define T_SIZE 1000

/* A request with @n fields (name, value, name, value ...). */
static struct coil_http_sreq *req_with(int head, unsigned n, ...)
{
	static struct coil_http_sreq r;
	static struct coil_http_header h[8];
	va_list ap;

	memset(&r, 0, sizeof(r));
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++) {
		h[i].name = va_arg(ap, const char *);
		h[i].name_len = strlen(h[i].name);
		h[i].value = va_arg(ap, const char *);
		h[i].value_len = strlen(h[i].value);
	}
	va_end(ap);
	r.method = head ? "HEAD" : "GET";
	r.method_len = strlen(r.method);
	r.is_head = head;
	r.headers = h;
	r.nheaders = n;
	return &r;
}

static struct static_plan plan_of(const struct coil_http_sreq *r)
{
	char etag[STATIC_ETAG_MAX];
	struct static_plan p;
	coil__static_etag(etag, T_MTIME, T_SIZE);
	coil__static_plan(r, T_MTIME, T_SIZE, etag, T_MTIME + 100, &p);
	return p;
}

static void test_static_etag_is_nginx_format(void **state)
{
	char e[STATIC_ETAG_MAX];
	(void)state;
	assert_int_equal(coil__static_etag(e, T_MTIME, T_SIZE), 14);
	assert_string_equal(e, "\"6553f100-3e8\"");
	coil__static_etag(e, 0, 0);
	assert_string_equal(e, "\"0-0\"");
	coil__static_etag(e, INT64_MAX, UINT64_MAX);
	assert_string_equal(e, "\"7fffffffffffffff-ffffffffffffffff\"");
}

static void test_static_preconditions_in_rfc_order(void **state)
{
	static const char lm[] = "Tue, 14 Nov 2023 22:13:20 GMT";
	static const char older[] = "Tue, 14 Nov 2023 22:13:19 GMT";
	(void)state;
	assert_int_equal(plan_of(req_with(0, 0)).status, 200);
	/* If-None-Match: weak comparison, lists, "*" */
	assert_int_equal(
		plan_of(req_with(0, 1, "If-None-Match", "\"6553f100-3e8\""))
			.status,
		304);
	assert_int_equal(
		plan_of(req_with(0, 1, "if-none-match", "W/\"6553f100-3e8\""))
			.status,
		304);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-None-Match",
				 " \"a\" ,W/\"b\",  \"6553f100-3e8\" "))
			.status,
		304);
	assert_int_equal(plan_of(req_with(0, 1, "If-None-Match", "*")).status,
			 304);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-None-Match", "\"6553f100-3e9\""))
			.status,
		200);
	/* malformed: no match */
	assert_int_equal(
		plan_of(req_with(0, 1, "If-None-Match", "6553f100-3e8")).status,
		200);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-None-Match", "\"6553f100-3e8"))
			.status,
		200);
	/* If-Modified-Since: not older than the file; ignored if bad or
	 * when If-None-Match is there */
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Modified-Since", lm)).status, 304);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Modified-Since", older)).status,
		200);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Modified-Since", "junk")).status,
		200);
	assert_int_equal(plan_of(req_with(0, 2, "If-None-Match", "\"x\"",
					  "If-Modified-Since", lm))
				 .status,
			 200);
	/* If-Match: strong comparison; then If-Unmodified-Since */
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Match", "W/\"6553f100-3e8\""))
			.status,
		412);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Match", "\"6553f100-3e8\"")).status,
		200);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Unmodified-Since", older)).status,
		412);
	assert_int_equal(
		plan_of(req_with(0, 1, "If-Unmodified-Since", lm)).status, 200);
	/* 412 before 304 */
	assert_int_equal(plan_of(req_with(0, 2, "If-Match", "\"no\"",
					  "If-None-Match", "*"))
				 .status,
			 412);
}

static void test_static_range_forms(void **state)
{
	static const struct {
		const char *v;
		int r;
		uint64_t off, len;
	} cases[] = {
		{"bytes=0-0", 1, 0, 1},
		{"bytes=0-999", 1, 0, 1000},
		{"bytes=0-5000", 1, 0, 1000},
		{"bytes=999-", 1, 999, 1},
		{"bytes=-1", 1, 999, 1},
		{"bytes=-5000", 1, 0, 1000},
		{"BYTES=10-19", 1, 10, 10},
		{"bytes= 10-19 ", 1, 10, 10},
		{"bytes=1000-", 0, 0, 0},
		{"bytes=-0", 0, 0, 0},
		{"bytes=99999999999999999999999-", 0, 0, 0},
		{"bytes=0-99999999999999999999999", 1, 0, 1000},
		{"bytes=0-1,5-6", 2, 0, 2},
		{"bytes=2000-,5-6", 2, 5, 2},
		{"bytes=2000-,3000-", 3, 0, 0},
		{"bytes=5-1", -1, 0, 0},
		{"bytes=", -1, 0, 0},
		{"bytes=-", -1, 0, 0},
		{"bytes=a-b", -1, 0, 0},
		{"bytes=1-2x", -1, 0, 0},
		{"bytes=1", -1, 0, 0},
		{"items=0-1", -1, 0, 0},
		{"bytes=0-1,x", -1, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t off = 0, len = 0;
		int r = coil__static_range_parse(cases[i].v, strlen(cases[i].v),
						 1000, &off, &len);
		if (r != cases[i].r)
			fail_msg("%s: %d, want %d", cases[i].v, r, cases[i].r);
		if (r == 1 || r == 2) {
			assert_int_equal(off, cases[i].off);
			assert_int_equal(len, cases[i].len);
		}
	}
	/* an empty file has no satisfiable range */
	{
		uint64_t off, len;
		assert_int_equal(
			coil__static_range_parse("bytes=0-", 8, 0, &off, &len),
			0);
		assert_int_equal(
			coil__static_range_parse("bytes=-1", 8, 0, &off, &len),
			0);
	}
}

static void test_static_plan_ranges_and_if_range(void **state)
{
	struct static_plan p;
	(void)state;
	p = plan_of(req_with(0, 1, "Range", "bytes=10-19"));
	assert_int_equal(p.status, 206);
	assert_int_equal(p.off, 10);
	assert_int_equal(p.len, 10);
	p = plan_of(req_with(0, 1, "Range", "bytes=1000-"));
	assert_int_equal(p.status, 416);
	p = plan_of(req_with(0, 1, "Range", "bytes=0-1,3-4"));
	assert_int_equal(p.status, 200);
	assert_int_equal(p.len, T_SIZE);
	p = plan_of(req_with(0, 1, "Range", "bytes=x"));
	assert_int_equal(p.status, 200);
	/* HEAD: no range */
	p = plan_of(req_with(1, 1, "Range", "bytes=10-19"));
	assert_int_equal(p.status, 200);
	/* If-Range: strong ETag, or the exact date */
	p = plan_of(req_with(0, 2, "Range", "bytes=10-19", "If-Range",
			     "\"6553f100-3e8\""));
	assert_int_equal(p.status, 206);
	p = plan_of(req_with(0, 2, "Range", "bytes=10-19", "If-Range",
			     "W/\"6553f100-3e8\""));
	assert_int_equal(p.status, 200);
	p = plan_of(req_with(0, 2, "Range", "bytes=10-19", "If-Range",
			     "Tue, 14 Nov 2023 22:13:20 GMT"));
	assert_int_equal(p.status, 206);
	p = plan_of(req_with(0, 2, "Range", "bytes=10-19", "If-Range",
			     "Wed, 15 Nov 2023 22:13:20 GMT"));
	assert_int_equal(p.status, 200);
	/* a 304 wins over the range */
	p = plan_of(
		req_with(0, 2, "Range", "bytes=10-19", "If-None-Match", "*"));
	assert_int_equal(p.status, 304);
}

static void test_http_date_parse_three_forms(void **state)
{
	(void)state;
	assert_int_equal(coil_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT",
					      29, T_MTIME),
			 784111777);
	assert_int_equal(coil_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT",
					      30, T_MTIME),
			 784111777);
	assert_int_equal(
		coil_http_date_parse("Sun Nov  6 08:49:37 1994", 24, T_MTIME),
		784111777);
	assert_int_equal(
		coil_http_date_parse("Sun, 06 Nov 1994 08:49:37", 25, T_MTIME),
		-1);
	assert_int_equal(coil_http_date_parse("", 0, T_MTIME), -1);
	assert_int_equal(coil_http_date_parse("Sun, 36 Nov 1994 08:49:37 GMT",
					      29, T_MTIME),
			 -1);
}

static void test_static_escaping(void **state)
{
	char out[256];
	size_t n;
	(void)state;
	n = coil__html_escape(out, "<a href=\"x\">&'", 14);
	out[n] = '\0';
	assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
	{
		static const char in[] = "a b%\"<>&'#?/\xc3\xbc~-._:x()";
		n = coil__url_escape(out, in, strlen(in));
		out[n] = '\0';
		assert_string_equal(
			out,
			"a%20b%25%22%3C%3E%26%27%23%3F%2F%C3%BC~-._%3Ax()");
	}
	n = coil__url_escape(out, "x\0y", 3);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "x%00y", 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_etag_is_nginx_format),
		cmocka_unit_test(test_static_preconditions_in_rfc_order),
		cmocka_unit_test(test_static_range_forms),
		cmocka_unit_test(test_static_plan_ranges_and_if_range),
		cmocka_unit_test(test_http_date_parse_three_forms),
		cmocka_unit_test(test_static_escaping),
	};
	return cmocka_run_group_tests_name("server.static", tests, NULL, NULL);
}
