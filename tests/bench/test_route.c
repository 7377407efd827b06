/*
 * tests/bench/test_route.c - coil-bench's connection options without a
 * network: --connect-to and --resolve parsed and matched with curl's
 * semantics (empty fields, brackets, '*', first match wins), --unix-socket's
 * limits, and the --targets file in vegeta's format (comments, blank
 * lines, CRLF, headers, @body files, every error with file:line), built
 * into hosts with the -c connections dealt over them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "gen.h"
#include "route.h"
#include "targets.h"
#include "testutil.h"

static char err[512];

static void test_route_connect_to_fields(void **state)
{
	struct cb_routes r = {0};
	const char *h;
	uint16_t p;
	(void)state;

	assert_int_equal(cb_route_add_connect_to(&r, "a.test:80:127.0.0.1:8080",
						 err, sizeof(err)),
			 0);
	assert_int_equal(cb_route_add_connect_to(&r, "b.test::c.test:", err,
						 sizeof(err)),
			 0);
	assert_int_equal(cb_route_add_connect_to(&r, "[::1]:443:[::2]:8443",
						 err, sizeof(err)),
			 0);
	assert_int_equal(
		cb_route_add_connect_to(&r, "::x.test:9", err, sizeof(err)), 0);

	cb_route_connect_to(&r, "A.TEST", 80, &h, &p); /* case-insensitive */
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(p, 8080);
	cb_route_connect_to(&r, "a.test", 81, &h, &p); /* port differs */
	assert_string_equal(h, "x.test");	       /* the catch-all */
	assert_int_equal(p, 9);
	cb_route_connect_to(&r, "b.test", 1234, &h, &p); /* any port, keep it */
	assert_string_equal(h, "c.test");
	assert_int_equal(p, 1234);
	cb_route_connect_to(&r, "::1", 443, &h, &p); /* brackets stripped */
	assert_string_equal(h, "::2");
	assert_int_equal(p, 8443);
	cb_routes_free(&r);

	/* no entry: the request's own host and port */
	cb_route_connect_to(&r, "z.test", 80, &h, &p);
	assert_string_equal(h, "z.test");
	assert_int_equal(p, 80);
}

static void test_route_connect_to_errors(void **state)
{
	static const char *bad[] = {
		"",
		"a.test",
		"a.test:80",
		"a.test:80:b.test",
		"a:x:b:80",
		"a:80:b:0",
		"a:80:b:65536",
		"a:80:b:8o",
		"[::1:80:b:1",
		"[::1]x:80:b:1",
		"::1:80:b:1",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cb_routes r = {0};
		memset(err, 0, sizeof(err));
		assert_int_equal(
			cb_route_add_connect_to(&r, bad[i], err, sizeof(err)),
			-EINVAL);
		assert_non_null(strstr(err, "--connect-to"));
		assert_null(strchr(err, '\n'));
		assert_int_equal(r.n_ct, 0);
		cb_routes_free(&r);
	}
}

static void test_route_resolve(void **state)
{
	struct cb_routes r = {0};
	struct sockaddr_storage a[COIL_RESOLVE_MAX];
	struct sockaddr_in *in = (struct sockaddr_in *)&a[0];
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a[1];
	char buf[64];
	(void)state;

	assert_int_equal(cb_route_add_resolve(&r, "a.test:443:127.0.0.2,[::1]",
					      err, sizeof(err)),
			 0);
	assert_int_equal(
		cb_route_add_resolve(&r, "+b.test:80:::1", err, sizeof(err)),
		0);
	assert_int_equal(
		cb_route_add_resolve(&r, "*:8080:10.0.0.1", err, sizeof(err)),
		0);

	assert_int_equal(cb_route_lookup(&r, "A.test", 443, a), 2);
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 443);
	inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.2");
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 443);
	assert_int_equal(cb_route_lookup(&r, "b.test", 80, a), 1);
	assert_int_equal(a[0].ss_family, AF_INET6);
	assert_int_equal(cb_route_lookup(&r, "anything", 8080, a), 1);
	assert_int_equal(cb_route_lookup(&r, "a.test", 80, a), 0);
	assert_int_equal(cb_route_lookup(&r, "c.test", 443, a), 0);
	cb_routes_free(&r);
}

static void test_route_resolve_errors(void **state)
{
	static const char *bad[] = {
		"",
		"a.test",
		"a.test:80",
		":80:127.0.0.1",
		"a.test::127.0.0.1",
		"a.test:99999:127.0.0.1",
		"a.test:80:",
		"a.test:80:localhost",
		"a.test:80:127.0.0.1,",
		"a.test:80:300.0.0.1",
		"-a.test:80",
		"a.test:80:1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,1.1."
		"1."
		"7,1.1.1.8,1.1.1.9,1.1.1.10,1.1.1.11,1.1.1.12,1.1.1.13,1.1.1."
		"14,"
		"1.1.1.15,1.1.1.16,1.1.1.17,1.1.1.18,1.1.1.19,1.1.1.20,1.1.1."
		"21,"
		"1.1.1.22,1.1.1.23,1.1.1.24,1.1.1.25,1.1.1.26,1.1.1.27,1.1.1."
		"28,"
		"1.1.1.29,1.1.1.30,1.1.1.31,1.1.1.32,1.1.1.33,1.1.1.34",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cb_routes r = {0};
		memset(err, 0, sizeof(err));
		assert_int_equal(
			cb_route_add_resolve(&r, bad[i], err, sizeof(err)),
			-EINVAL);
		assert_non_null(strstr(err, "--resolve"));
		assert_int_equal(r.n_rs, 0);
		cb_routes_free(&r);
	}
}

static void test_route_unix(void **state)
{
	struct cb_routes r = {0};
	struct sockaddr_storage ss;
	char longp[200];
	(void)state;

	assert_int_equal(cb_route_unix_addr(&r, &ss), 0);
	assert_int_equal(cb_route_set_unix(&r, "", err, sizeof(err)), -EINVAL);
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(cb_route_set_unix(&r, longp, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(cb_route_set_unix(&r, "/tmp/x.sock", err, sizeof(err)),
			 0);
	assert_int_equal(cb_route_unix_addr(&r, &ss), 1);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&ss)->sun_path,
			    "/tmp/x.sock");
	assert_int_equal(cb_route_check(&r, err, sizeof(err)), 0);
	assert_int_equal(
		cb_route_add_resolve(&r, "a:1:1.2.3.4", err, sizeof(err)), 0);
	assert_int_equal(cb_route_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--unix-socket excludes"));
	cb_routes_free(&r);
}

/* ---- --targets ------------------------------------------------------------
 */

static char dir[] = "/tmp/coil-bench-targets-XXXXXX";

static char *write_file(const char *name, const char *text)
{
	static char p[4][256];
	static int i;
	FILE *f;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	f = fopen(p[i], "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p[i];
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_targets_vegeta_format(void **state)
{
	struct cb_targets ts;
	char text[1024];
	char *body = write_file("body.json", "{\"a\":1}");
	(void)state;

	snprintf(text, sizeof(text),
		 "# two hosts\r\n"
		 "\n"
		 "GET http://a.test/x\r\n"
		 "X-Account-ID: 8675309\r\n"
		 "# a comment inside\n"
		 "  Authorization :  Token DEADBEEF  \n"
		 "\n\n"
		 "POST http://b.test:8080/things\n"
		 "Content-Type: application/json\n"
		 "@%s\n"
		 "HEAD http://a.test/y\n",
		 body);
	assert_int_equal(
		cb_targets_read(&ts, write_file("t1", text), err, sizeof(err)),
		0);
	assert_int_equal(ts.n, 3);
	assert_string_equal(ts.v[0].method, "GET");
	assert_string_equal(ts.v[0].url, "http://a.test/x");
	assert_int_equal(ts.v[0].line, 3);
	assert_int_equal(ts.v[0].n_headers, 2);
	assert_int_equal(ts.v[0].headers[1].name_len, 13);
	assert_memory_equal(ts.v[0].headers[1].name, "Authorization", 13);
	assert_int_equal(ts.v[0].headers[1].value_len, 14);
	assert_memory_equal(ts.v[0].headers[1].value, "Token DEADBEEF", 14);
	assert_null(ts.v[0].body);
	assert_string_equal(ts.v[1].method, "POST");
	assert_int_equal(ts.v[1].body_len, 7);
	assert_memory_equal(ts.v[1].body, "{\"a\":1}", 7);
	assert_int_equal(ts.v[1].n_headers, 1);
	/* the body line ends a target: the next line starts one */
	assert_string_equal(ts.v[2].method, "HEAD");
	assert_int_equal(ts.v[2].line, 12);
	cb_targets_free(&ts);
}

static void expect_error(const char *text, const char *what, unsigned line)
{
	struct cb_targets ts;
	char where[300];
	char *p = write_file("bad", text);
	memset(err, 0, sizeof(err));
	assert_int_equal(cb_targets_read(&ts, p, err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s:%u: ", p, line);
	if (line && !strstr(err, where))
		fail_msg("expected '%s' in '%s'", where, err);
	if (!strstr(err, what))
		fail_msg("expected '%s' in '%s'", what, err);
	assert_null(strchr(err, '\n'));
	cb_targets_free(&ts);
}

static void test_targets_errors_name_the_line(void **state)
{
	struct cb_targets ts;
	(void)state;
	expect_error("GET http://a/\n\nhttp://b/\n", "expected 'METHOD URL'",
		     3);
	expect_error("G(T http://a/\n", "bad method", 1);
	expect_error("# c\nGET http://a/\nX-Bad\n", "bad header", 3);
	expect_error("GET http://a/\nX-Empty:\n", "bad header", 2);
	expect_error("GET http://a/\n: v\n", "bad header", 2);
	expect_error("GET http://a/\nBad Name: v\n", "bad header", 2);
	expect_error("GET http://a/ junk\n", "a space in the URL", 1);
	expect_error("\n\nPOST http://a/\n@/nonexistent/body\n",
		     "cannot read body file '/nonexistent/body'", 4);
	expect_error("GET http://a/\n@\n", "an empty body file name", 2);
	expect_error("# only comments\n\n", "has no target", 0);
	assert_int_equal(
		cb_targets_read(&ts, "/nonexistent/targets", err, sizeof(err)),
		-ENOENT);
	assert_non_null(strstr(err, "cannot read --targets '/nonexistent/"
				    "targets': No such file"));
	cb_targets_free(&ts);
}

static void test_targets_build_hosts(void **state)
{
	struct cb_targets ts;
	struct cb_target t;
	struct cb_opts o;
	struct coil_http_header h = {"X-All", 5, "1", 1};
	const char *text = "GET http://a.test/1\n\n"
			   "GET http://b.test:81/1\nHost: override.test\n\n"
			   "HEAD http://A.TEST/2\n\n"
			   "GET http://a.test:80/3\n\n"
			   "GET https://a.test/4\n";
	(void)state;

	memset(&o, 0, sizeof(o));
	o.connections = 7;
	o.keepalive = true;
	memset(&t, 0, sizeof(t));
	assert_int_equal(
		cb_targets_read(&ts, write_file("t2", text), err, sizeof(err)),
		0);
	assert_int_equal(cb_targets_build(&ts, &o, &h, 1, &t, err, sizeof(err)),
			 0);
	/* a.test:80 (3 targets), b.test:81 (1), https a.test:443 (1) */
	assert_int_equal(t.n_hosts, 3);
	assert_int_equal(t.hosts[0].n_reqs, 3);
	assert_int_equal(t.hosts[0].reqs[1], 2);
	assert_int_equal(t.hosts[1].port, 81);
	assert_true(t.hosts[2].https);
	assert_true(t.https);
	assert_string_equal(t.host, "a.test");
	assert_int_equal(t.req_head[2], 1);
	assert_int_equal(t.req_head[0], 0);
	/* the slots: A1 B1 C1 A2 A3 */
	assert_int_equal(t.n_slots, 5);
	assert_int_equal(t.slot_host[0], 0);
	assert_int_equal(t.slot_host[1], 1);
	assert_int_equal(t.slot_host[2], 2);
	assert_int_equal(t.slot_host[3], 0);
	assert_int_equal(t.slot_rank[4], 2);
	/* 7 connections: A gets 3 + 1, B 1 + 1, C 1 */
	assert_int_equal(cb_target_host_conns(&t, 0, 7), 4);
	assert_int_equal(cb_target_host_conns(&t, 1, 7), 2);
	assert_int_equal(cb_target_host_conns(&t, 2, 7), 1);
	/* the requests: -H first, the URL's Host unless the target sets one */
	{
		const char *r0 = t.reqs + t.req_off[0];
		const char *r1 = t.reqs + t.req_off[1];
		assert_true(t.req_len[0] > 0);
		assert_memory_equal(r0, "GET /1 HTTP/1.1\r\n", 17);
		assert_non_null(
			memmem(r0, t.req_len[0], "Host: a.test\r\n", 14));
		assert_non_null(memmem(r0, t.req_len[0], "X-All: 1\r\n", 10));
		assert_non_null(memmem(r1, t.req_len[1],
				       "Host: override.test\r\n", 21));
		assert_null(memmem(r1, t.req_len[1], "b.test", 6));
	}
	cb_target_hosts_free(&t);
	free(t.reqs);
	free(t.req_off);
	free(t.req_len);
	cb_targets_free(&ts);

	/* fewer connections than hosts: said, with the file */
	o.connections = 2;
	memset(&t, 0, sizeof(t));
	assert_int_equal(
		cb_targets_read(&ts, write_file("t2", text), err, sizeof(err)),
		0);
	assert_int_equal(
		cb_targets_build(&ts, &o, NULL, 0, &t, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "-c 2 is less than the 3 hosts"));
	cb_target_hosts_free(&t);
	free(t.reqs);
	free(t.req_off);
	free(t.req_len);
	cb_targets_free(&ts);

	/* a bad URL names its line */
	memset(&t, 0, sizeof(t));
	o.connections = 10;
	assert_int_equal(cb_targets_read(&ts,
					 write_file("t3", "GET http://a/\n\n"
							  "GET ftp://b/\n"),
					 err, sizeof(err)),
			 0);
	assert_int_equal(
		cb_targets_build(&ts, &o, NULL, 0, &t, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "t3:3: bad URL 'ftp://b/'"));
	cb_target_hosts_free(&t);
	free(t.reqs);
	free(t.req_off);
	free(t.req_len);
	cb_targets_free(&ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_connect_to_fields),
		cmocka_unit_test(test_route_connect_to_errors),
		cmocka_unit_test(test_route_resolve),
		cmocka_unit_test(test_route_resolve_errors),
		cmocka_unit_test(test_route_unix),
		cmocka_unit_test(test_targets_vegeta_format),
		cmocka_unit_test(test_targets_errors_name_the_line),
		cmocka_unit_test(test_targets_build_hosts),
	};
	return cmocka_run_group_tests_name("bench.route", tests, setup,
					   teardown);
}
