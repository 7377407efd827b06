/* tests/tls/test_tls_s_server.c - coil's TLS client against `openssl
 * s_server` (TLS 1.2): verification (good, wrong host, unknown CA,
 * expired, insecure), what it must refuse (no common cipher suite, TLS
 * 1.1 only), resumption by ticket and by session ID with the server's
 * word for it, mTLS, 16 MiB through -rev, and truncation by a killed
 * server. Skips (77) without openssl. */
#include "tt.h"

static struct coil_loop *loop;
static int fds0;

TT_FIXTURE(loop, fds0)

static int exchange(struct tt_cli *c, unsigned short port,
		    const struct coil_tls_config *cfg,
		    const struct coil_tls_opts *o, const char *req)
{
	return tt_exchange(loop, c, port, cfg, o, req);
}

static struct coil_tls_opts opts(const char *host, struct coil_tls_cache *cache)
{
	struct coil_tls_opts o = {0};
	o.host = host;
	o.cache = cache;
	return o;
}

static void test_tls_s_server_verify_ok(void **state)
{
	static const char *const www[] = {"-www", "-alpn", "http/1.1", NULL};
	static const char *const certs[][2] = {
		{"server.crt", "server.key"},
		{"server-ec.crt", "server-ec.key"},
	};
	struct coil_tls_config *cfg = tt_client_config(0);
	(void)state;

	for (int i = 0; i < 2; i++) {
		const char *hosts[] = {"localhost", "127.0.0.1"};
		struct tt_ss s;
		tt_ss_start(&s, certs[i][0], certs[i][1], www);
		for (int h = 0; h < 2; h++) {
			struct tt_cli c = {0};
			struct coil_tls_opts o = opts(hosts[h], NULL);
			const struct coil_tls_info *in;
			assert_int_equal(exchange(&c, s.port, cfg, &o,
						  "GET / HTTP/1.0\r\n\r\n"),
					 0);
			in = coil_tls_info(&c.tls);
			print_message("%s as %s: %s %s alpn=%s, %zu bytes, "
				      "end %d %s\n",
				      certs[i][0], hosts[h], in->version,
				      in->cipher, in->alpn, c.got, c.err,
				      coil_tls_error(&c.tls.s));
			assert_string_equal(in->version, "TLSv1.2");
			assert_string_equal(in->alpn, "http/1.1");
			assert_int_equal(in->verify, 0);
			assert_int_equal(c.err, 0);
			assert_int_equal(c.eof, 1); /* close_notify came */
			assert_non_null(strstr((char *)c.in, "200 ok"));
			assert_non_null(strstr((char *)c.in, "New, TLSv1.2"));
			tt_cli_close(loop, &c);
		}
		tt_ss_stop(&s);
	}
	coil_tls_config_free(cfg);
}

static void test_tls_s_server_refused_certificates(void **state)
{
	static const char *const www[] = {"-www", NULL};
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_config *icfg = tt_client_config(COIL_TLS_INSECURE);
	(void)state;

	for (size_t i = 0; i < TT_NREFUSALS; i++) {
		const struct tt_refusal *r = &tt_refusals[i];
		struct tt_cli c = {0}, ic = {0};
		struct coil_tls_opts o = opts(r->host, NULL);
		struct tt_ss s;
		int ret;

		tt_ss_start(&s, r->cert, "server.key", www);
		ret = exchange(&c, s.port, cfg, &o, "GET / HTTP/1.0\r\n\r\n");
		tt_expect_refused(&c, ret, r);
		tt_cli_close(loop, &c);
		/* COIL_TLS_INSECURE connects anyway */
		assert_int_equal(exchange(&ic, s.port, icfg, &o,
					  "GET / HTTP/1.0\r\n\r\n"),
				 0);
		assert_non_null(strstr((char *)ic.in, "200 ok"));
		tt_cli_close(loop, &ic);
		/* the server heard our alert */
		assert_true(tt_proc_wait_for(&s.p, "alert", 5000));
		tt_ss_stop(&s);
	}
	coil_tls_config_free(cfg);
	coil_tls_config_free(icfg);
}

/* what the client must not accept: no common cipher suite, old TLS */
static void test_tls_s_server_refused_parameters(void **state)
{
	static const char *const rsa_cbc[] = {"-www", "-cipher", "AES128-SHA",
					      NULL};
	static const char *const tls11[] = {"-www", "-tls1_1", "-cipher",
					    "DEFAULT@SECLEVEL=0", NULL};
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_opts o = opts("localhost", NULL);
	struct tt_cli c = {0}, d = {0};
	struct tt_ss s;
	(void)state;

	tt_ss_start(&s, "server.crt", "server.key", rsa_cbc);
	assert_int_equal(exchange(&c, s.port, cfg, &o, "GET /\r\n\r\n"),
			 COIL_ETLS);
	print_message("RSA kx + CBC only: %s\n", coil_tls_error(&c.tls.s));
	assert_int_equal(coil_tls_info(&c.tls)->alert, 40);
	assert_non_null(strstr(coil_tls_error(&c.tls.s), "handshake_failure"));
	tt_cli_close(loop, &c);
	tt_ss_stop(&s);

	tt_ss_start(&s, "server.crt", "server.key", tls11);
	assert_int_equal(exchange(&d, s.port, cfg, &o, "GET /\r\n\r\n"),
			 COIL_ETLS);
	print_message("TLS 1.1 only: %s\n", coil_tls_error(&d.tls.s));
	/* our TLS 1.2 suites do not exist in 1.1: the server gives up
	 * (handshake_failure); a client that also offers TLS 1.3 sends
	 * supported_versions, and the server says protocol_version */
	assert_true(coil_tls_info(&d.tls)->alert == 40 ||
		    coil_tls_info(&d.tls)->alert == 70);
	tt_cli_close(loop, &d);
	/* with a suite 1.1 has, the server answers in TLS 1.1 and we
	 * refuse the version ourselves */
	{
		struct coil_tls_config_opts co = {0};
		struct coil_tls_config *cbc;
		struct tt_cli e = {0};
		co.ca_file = tt_file("ca.crt");
		/* TLS 1.2 at most: no supported_versions extension, so the
		 * server picks 1.1 from the legacy version field */
		co.max_version = COIL_TLS_V1_2;
		co.ciphers = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256:"
			     "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA";
		cbc = tt_config(&co);
		assert_int_equal(exchange(&e, s.port, cbc, &o, "GET /\r\n\r\n"),
				 COIL_ETLS);
		print_message("TLS 1.1 offered: %s\n",
			      coil_tls_error(&e.tls.s));
		assert_non_null(strstr(coil_tls_error(&e.tls.s), "protocol"));
		assert_int_equal(coil_tls_info(&e.tls)->alert, -1);
		tt_cli_close(loop, &e);
		coil_tls_config_free(cbc);
		assert_true(
			tt_proc_wait_for(&s.p, "alert protocol version", 5000));
	}
	tt_ss_stop(&s);
	coil_tls_config_free(cfg);
}

static void test_tls_s_server_resumes(void **state)
{
	static const char *const tickets[] = {"-www", NULL};
	static const char *const ids[] = {"-www", "-no_ticket", NULL};
	const char *const *modes[] = {tickets, ids};
	struct coil_tls_config *cfg = tt_client_config(0);
	(void)state;

	for (int m = 0; m < 2; m++) {
		struct coil_tls_cache *cache;
		struct tt_ss s;
		assert_int_equal(coil_tls_cache_new(&cache, 8), 0);
		tt_ss_start(&s, "server.crt", "server.key", modes[m]);
		for (int i = 0; i < 3; i++) {
			struct tt_cli c = {0};
			struct coil_tls_opts o = opts("localhost", cache);
			int resumed;
			assert_int_equal(exchange(&c, s.port, cfg, &o,
						  "GET / HTTP/1.0\r\n\r\n"),
					 0);
			resumed = coil_tls_info(&c.tls)->resumed;
			print_message("%s, connection %d: resumed %d, "
				      "hs %.3f ms, cpu %.3f ms\n",
				      m ? "session ID" : "ticket", i, resumed,
				      coil_tls_info(&c.tls)->handshake_ns / 1e6,
				      coil_tls_info(&c.tls)->handshake_cpu_ns /
					      1e6);
			assert_int_equal(resumed, i > 0);
			/* and the server says the same */
			assert_non_null(
				strstr((char *)c.in,
				       i ? "Reused, TLSv1.2" : "New, TLSv1.2"));
			tt_cli_close(loop, &c);
		}
		tt_ss_stop(&s);
		coil_tls_cache_free(cache);
	}
	coil_tls_config_free(cfg);
}

static void test_tls_s_server_mutual(void **state)
{
	static const char *const verify[] = {"-www",	"-Verify", "1",
					     "-CAfile", "ca.crt",  NULL};
	struct coil_tls_config_opts co = {0};
	struct coil_tls_config *with, *without = tt_client_config(0);
	struct coil_tls_opts o = opts("localhost", NULL);
	struct tt_cli c = {0}, d = {0};
	struct tt_ss s;
	(void)state;

	co.ca_file = tt_file("ca.crt");
	co.cert_file = tt_file("client.crt");
	co.key_file = tt_file("client.key");
	with = tt_config(&co);
	tt_ss_start(&s, "server.crt", "server.key", verify);
	assert_int_equal(
		exchange(&c, s.port, with, &o, "GET / HTTP/1.0\r\n\r\n"), 0);
	assert_non_null(strstr((char *)c.in, "200 ok"));
	tt_cli_close(loop, &c);
	assert_true(tt_proc_wait_for(&s.p, "coil test client", 5000));

	assert_int_equal(
		exchange(&d, s.port, without, &o, "GET / HTTP/1.0\r\n\r\n"),
		COIL_ETLS);
	print_message("no client certificate: %s\n", coil_tls_error(&d.tls.s));
	assert_true(coil_tls_info(&d.tls)->alert > 0);
	tt_cli_close(loop, &d);
	tt_ss_stop(&s);
	coil_tls_config_free(with);
	coil_tls_config_free(without);
}

#define LINE 64
#define NLINES ((16u << 20) / LINE)

struct rev {
	struct coil_stream_write w[4];
	char buf[4][LINE * 256];
	unsigned lines; /* generated */
	char line[LINE];
	unsigned got_lines;
	size_t partial;
	size_t bad;
	uint64_t sent_hash, back_hash;
};

static struct rev *rv;
static struct tt_cli *rev_cli;

/* Line @i: 63 lowercase hex digits and '\n'. */
static void rev_line(unsigned i, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (int k = 0; k < LINE - 1; k++)
		out[k] = hex[tt_byte(99, (uint64_t)i * LINE + k) & 15];
	out[LINE - 1] = '\n';
}

static void rev_more(void);

static void rev_written(struct coil_stream_write *w, int status)
{
	(void)w;
	assert_int_equal(status, 0);
	rev_more();
}

static void rev_more(void)
{
	for (int i = 0; i < 4 && rv->lines < NLINES; i++) {
		unsigned n = 0;
		if (rv->w[i].flags & COIL_STREAM_W_QUEUED)
			continue;
		while (n < 256 && rv->lines < NLINES) {
			rev_line(rv->lines++, rv->buf[i] + n * LINE);
			n++;
		}
		rv->sent_hash = tt_hash(rv->sent_hash, rv->buf[i], n * LINE);
		assert_int_equal(coil_stream_write(&rev_cli->tls.s, &rv->w[i],
						   rv->buf[i], n * LINE,
						   rev_written),
				 0);
	}
}

/* reversed lines back: turn each around again and check it */
static void rev_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	const char *p = buf;
	if (n <= 0) {
		tt_cli_read(s, n, buf);
		return;
	}
	rev_cli->got += (size_t)n;
	for (ssize_t k = 0; k < n; k++) {
		rv->line[rv->partial++] = p[k];
		if (rv->partial == LINE) {
			char want[LINE], fwd[LINE];
			rev_line(rv->got_lines++, want);
			for (int j = 0; j < LINE - 1; j++)
				fwd[j] = rv->line[LINE - 2 - j];
			fwd[LINE - 1] = rv->line[LINE - 1];
			rv->bad += memcmp(fwd, want, LINE) != 0;
			rv->back_hash = tt_hash(rv->back_hash, fwd, LINE);
			rv->partial = 0;
		}
	}
}

static void test_tls_s_server_16mib_rev(void **state)
{
	static const char *const rev[] = {"-rev", NULL};
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_opts o = opts("localhost", NULL);
	struct tt_cli c = {0};
	struct tt_ss s;
	uint64_t t0;
	(void)state;

	rv = calloc(1, sizeof(*rv));
	assert_non_null(rv);
	rev_cli = &c;
	tt_ss_start(&s, "server.crt", "server.key", rev);
	assert_int_equal(tt_cli_connect(loop, &c, s.port, cfg, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.tls.s, rev_read), 0);
	t0 = tu_mono_ns();
	rev_more();
	TT_RUN_UNTIL(loop, rv->got_lines == NLINES || c.err || c.eof, 60000);
	print_message("16 MiB there and back through s_server -rev in %.0f ms "
		      "(%llu records in)\n",
		      (tu_mono_ns() - t0) / 1e6,
		      (unsigned long long)coil_stream_stats(&c.tls.s).recvs);
	assert_int_equal(c.err, 0);
	assert_int_equal(rv->got_lines, NLINES);
	assert_int_equal(c.got, (size_t)NLINES * LINE);
	assert_int_equal(rv->bad, 0);
	assert_true(rv->sent_hash == rv->back_hash);
	tt_cli_close(loop, &c);
	tt_ss_stop(&s);
	free(rv);
	coil_tls_config_free(cfg);
}

/* s_server dies mid-stream: its kernel sends FIN, no close_notify */
static void test_tls_s_server_killed_is_truncation(void **state)
{
	static const char *const rev[] = {"-rev", NULL};
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_opts o = opts("localhost", NULL);
	struct tt_cli c = {0};
	struct coil_stream_write w = {0};
	struct tt_ss s;
	(void)state;

	tt_ss_start(&s, "server.crt", "server.key", rev);
	c.collect = 1;
	assert_int_equal(tt_cli_connect(loop, &c, s.port, cfg, &o), 0);
	assert_int_equal(coil_stream_read_start(&c.tls.s, tt_cli_read), 0);
	assert_int_equal(coil_stream_write(&c.tls.s, &w, "abc\n", 4, NULL), 0);
	TT_RUN_UNTIL(loop, c.got >= 4 || c.err, 10000);
	assert_int_equal(c.got, 4);
	assert_memory_equal(c.in, "cba\n", 4);
	tt_proc_reap(&s.p, SIGKILL);
	TT_RUN_UNTIL(loop, c.err || c.eof, 10000);
	print_message("%s: %s\n", coil_strerror(c.err),
		      coil_tls_error(&c.tls.s));
	assert_int_equal(c.eof, 0);
	assert_int_equal(c.err, COIL_ETRUNC);
	assert_non_null(strstr(coil_tls_error(&c.tls.s), "close_notify"));
	tt_cli_close(loop, &c);
	tt_ss_stop(&s);
	coil_tls_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_s_server_verify_ok,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tls_s_server_refused_certificates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_tls_s_server_refused_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_s_server_resumes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_s_server_mutual, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_s_server_16mib_rev,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tls_s_server_killed_is_truncation, setup,
			teardown),
	};
	if (!tt_have("openssl")) {
		fprintf(stderr, "skip: openssl not installed\n");
		return COIL_SKIP;
	}
	tt_certs();
	return cmocka_run_group_tests_name("tls.s_server", tests, NULL, NULL);
}
