/* tests/tls/test_tls13_s_server.c - coil's TLS client over TLS 1.3 against
 * `openssl s_server -tls1_3`: what was negotiated (TLSv1.3, X25519, a TLS
 * 1.3 suite; P-256 after a HelloRetryRequest when the server wants it),
 * resumption by TLS 1.3 ticket with the server's word for it (s_server's
 * -www page: "Reused, TLSv1.3"), the certificate refusals (wrong host,
 * unknown CA, expired) as over TLS 1.2, and a client held to TLS 1.2
 * refused by a TLS-1.3-only server. Skips (77) without openssl or with
 * mbedTLS 2.28 (no TLS 1.3). */
#include "tt.h"

static struct coil_loop *loop;
static int fds0;

/* openssl s_server -tls1_3 -www, plus @extra. */
static void ss_start(struct tt_ss *s, const char *cert, const char *key,
		     const char *const extra[])
{
	const char *argv[16] = {"-tls1_3", "-www"};
	int n = 2;

	for (int i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	tt_ss_start(s, cert, key, argv);
}

TT_FIXTURE(loop, fds0)

/* Connect, GET /, read to the end (s_server -www closes). Return: the
 * handshake's status; @c holds the page. */
static int get(struct tt_cli *c, unsigned short port,
	       const struct coil_tls_config *cfg, const char *host,
	       struct coil_tls_cache *cache)
{
	struct coil_tls_opts o = {0};

	o.host = host;
	o.cache = cache;
	return tt_exchange(loop, c, port, cfg, &o, "GET / HTTP/1.0\r\n\r\n");
}

static void test_tls13_s_server_negotiates(void **state)
{
	static const char *const certs[][2] = {
		{"server.crt", "server.key"},
		{"server-ec.crt", "server-ec.key"},
	};
	static const char *const p256[] = {"-groups", "P-256", NULL};
	struct coil_tls_config *cfg = tt_client_config(0);
	(void)state;

	for (int i = 0; i < 3; i++) {
		const char *const *extra = i == 2 ? p256 : NULL;
		struct tt_cli c = {0};
		const struct coil_tls_info *in;
		struct tt_ss s;

		ss_start(&s, certs[i % 2][0], certs[i % 2][1], extra);
		assert_int_equal(get(&c, s.port, cfg, "localhost", NULL), 0);
		in = coil_tls_info(&c.tls);
		print_message("%s%s: %s %s %s alpn=%s, client cpu %.3f ms\n",
			      certs[i % 2][0], i == 2 ? " -groups P-256" : "",
			      in->version, in->cipher, in->group, in->alpn,
			      in->handshake_cpu_ns / 1e6);
		assert_string_equal(in->version, "TLSv1.3");
		assert_non_null(strstr(in->cipher, "TLS1-3-"));
		/* X25519 first; a server that wants P-256 asks for it
		 * (HelloRetryRequest, RFC 8446 section 4.1.4) */
		assert_string_equal(in->group, i == 2 ? "secp256r1" : "x25519");
		assert_int_equal(in->verify, 0);
		assert_int_equal(in->resumed, 0);
		assert_int_equal(c.err, 0);
		assert_int_equal(c.eof, 1);
		assert_non_null(strstr((char *)c.in, "New, TLSv1.3"));
		tt_cli_close(loop, &c);
		tt_ss_stop(&s);
	}
	coil_tls_config_free(cfg);
}

/* TLS 1.3 tickets: the second and third connection resume, and the
 * server says so on its page */
static void test_tls13_s_server_resumes(void **state)
{
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_cache *cache;
	struct tt_ss s;
	(void)state;

	assert_int_equal(coil_tls_cache_new(&cache, 8), 0);
	ss_start(&s, "server-ec.crt", "server-ec.key", NULL);
	for (int i = 0; i < 3; i++) {
		struct tt_cli c = {0};
		const struct coil_tls_info *in;
		assert_int_equal(get(&c, s.port, cfg, "localhost", cache), 0);
		in = coil_tls_info(&c.tls);
		print_message("connection %d: resumed %d, %u ticket(s), group "
			      "%s, client cpu %.3f ms\n",
			      i, in->resumed, in->tickets, in->group,
			      in->handshake_cpu_ns / 1e6);
		assert_int_equal(in->resumed, i > 0);
		/* s_server sends two tickets after each handshake */
		assert_true(in->tickets >= 1);
		/* PSK with (EC)DHE: a fresh key exchange all the same */
		assert_string_equal(in->group, "x25519");
		assert_non_null(strstr((char *)c.in,
				       i ? "Reused, TLSv1.3" : "New, TLSv1.3"));
		tt_cli_close(loop, &c);
	}
	assert_int_equal(coil_tls_cache_count(cache), 1);
	tt_ss_stop(&s);
	coil_tls_cache_free(cache);
	coil_tls_config_free(cfg);
}

/* refused over 1.3 as over 1.2 */
static void test_tls13_s_server_refused_certificates(void **state)
{
	struct coil_tls_config *cfg = tt_client_config(0);
	(void)state;

	for (size_t i = 0; i < TT_NREFUSALS; i++) {
		const struct tt_refusal *r = &tt_refusals[i];
		struct tt_cli c = {0};
		struct tt_ss s;
		int ret;

		ss_start(&s, r->cert, "server.key", NULL);
		ret = get(&c, s.port, cfg, r->host, NULL);
		tt_expect_refused(&c, ret, r);
		assert_int_equal(c.got, 0);
		tt_cli_close(loop, &c);
		/* the server heard our alert */
		assert_true(tt_proc_wait_for(&s.p, "alert", 5000));
		tt_ss_stop(&s);
	}
	coil_tls_config_free(cfg);
}

/* min/max: a client held to TLS 1.2 and a TLS-1.3-only server */
static void test_tls13_s_server_version_range(void **state)
{
	struct coil_tls_config_opts o = {0};
	struct coil_tls_config *cfg;
	struct tt_cli c = {0}, d = {0};
	struct tt_ss s;
	int ret;
	(void)state;

	o.ca_file = tt_file("ca.crt");
	assert_int_equal(
		coil_tls_parse_versions("1.2", &o.min_version, &o.max_version),
		0);
	cfg = tt_config(&o);
	ss_start(&s, "server-ec.crt", "server-ec.key", NULL);
	ret = get(&c, s.port, cfg, "localhost", NULL);
	print_message("TLS 1.2 only: %d %s\n", ret, coil_tls_error(&c.tls.s));
	assert_int_equal(ret, COIL_ETLS);
	assert_non_null(strstr(coil_tls_error(&c.tls.s), "protocol_version"));
	tt_cli_close(loop, &c);
	coil_tls_config_free(cfg);

	/* 1.3 only: fine */
	assert_int_equal(
		coil_tls_parse_versions("1.3", &o.min_version, &o.max_version),
		0);
	cfg = tt_config(&o);
	assert_int_equal(get(&d, s.port, cfg, "localhost", NULL), 0);
	assert_string_equal(coil_tls_info(&d.tls)->version, "TLSv1.3");
	tt_cli_close(loop, &d);
	coil_tls_config_free(cfg);
	tt_ss_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls13_s_server_negotiates,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls13_s_server_resumes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tls13_s_server_refused_certificates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_tls13_s_server_version_range, setup, teardown),
	};
	if (!tt_have("openssl")) {
		fprintf(stderr, "skip: openssl not installed\n");
		return COIL_SKIP;
	}
	if (!tu_have_tls13()) {
		fprintf(stderr, "skip: %s speaks TLS 1.2 only\n",
			coil_tls_version());
		return COIL_SKIP;
	}
	tt_certs();
	return cmocka_run_group_tests_name("tls13.s_server", tests, NULL, NULL);
}
