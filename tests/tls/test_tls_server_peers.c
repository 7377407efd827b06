/* tests/tls/test_tls_server_peers.c - coil's TLS server (on a thread of
 * its own) checked by outside clients: `openssl s_client` (verification,
 * ALPN, TLS 1.2 session resumption by ticket with -sess_out/-sess_in,
 * mTLS, TLS 1.1 refused) and curl --cacert (DNS name and IP, a wrong host and
 * an unknown CA refused). Skips (77) without openssl; the curl test without
 * curl. */
#include "tt_srv.h"

static int fds0;

/* Run a program to its end with @input on stdin; its output (to free)
 * and exit status. */
static char *run(char *const argv[], const char *input, int *status)
{
	struct tt_proc p;
	char *out;

	tt_spawn(&p, argv, tt_dir, 1);
	if (input) {
		size_t n = strlen(input);
		assert_int_equal(write(p.in, input, n), (ssize_t)n);
	}
	*status = tt_proc_exit(&p, 20000);
	out = tt_proc_output(&p);
	tt_proc_free(&p);
	return out;
}

static int setup(void **state)
{
	(void)state;
	fds0 = tu_count_fds();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tt_kill_all();
	assert_int_equal(tu_count_fds(), fds0);
	return 0;
}

static char port_arg[64];

static const char *connect_arg(const struct tt_srv *srv)
{
	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", srv->port);
	return port_arg;
}

static const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

static void test_tls_server_s_client(void **state)
{
	struct coil_tls_config *cfg = tt_server_config("chain.pem", NULL, 0);
	struct tt_srv srv = {0};
	char *out;
	int st;
	(void)state;

	tt_srv_start_thread(&srv, cfg, TT_HTTP);
	{
		char *argv[] = {"openssl",   "s_client",
				"-connect",  (char *)connect_arg(&srv),
				"-tls1_2",   "-servername",
				"localhost", "-verify_hostname",
				"localhost", "-CAfile",
				"ca.crt",    "-verify_return_error",
				"-alpn",     "http/1.1",
				"-ign_eof",  "-sess_out",
				"sess.pem",  NULL};
		out = run(argv, request, &st);
	}
	print_message("s_client: exit %d\n", st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	assert_non_null(strstr(out, "ALPN protocol: http/1.1"));
	assert_non_null(strstr(out, "New, TLSv1.2"));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(out, "hello from coil tls: TLSv1.2"));
	assert_non_null(strstr(out, "resumed=0"));
	free(out);

	/* the saved session resumes: s_client and our server agree */
	{
		char *argv[] = {"openssl",   "s_client",
				"-connect",  (char *)connect_arg(&srv),
				"-tls1_2",   "-servername",
				"localhost", "-CAfile",
				"ca.crt",    "-verify_return_error",
				"-ign_eof",  "-sess_in",
				"sess.pem",  NULL};
		out = run(argv, request, &st);
	}
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "Reused, TLSv1.2"));
	assert_non_null(strstr(out, "resumed=1"));
	free(out);

	/* TLS 1.1: refused */
	{
		char *argv[] = {"openssl",
				"s_client",
				"-connect",
				(char *)connect_arg(&srv),
				"-tls1_1",
				"-cipher",
				"DEFAULT@SECLEVEL=0",
				NULL};
		out = run(argv, "", &st);
	}
	print_message("s_client -tls1_1: exit %d\n", st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "alert"));
	free(out);
	tt_srv_stop_thread(&srv);
	print_message("server: %d ok, %d failed (%s), %d resumed\n", srv.hs_ok,
		      srv.hs_fail, srv.last_err, srv.resumed);
	assert_int_equal(srv.hs_ok, 2);
	assert_int_equal(srv.resumed, 1);
	assert_int_equal(srv.hs_fail, 1);
	assert_int_equal(srv.last_fail, COIL_ETLS);
	assert_non_null(strstr(srv.last_err, "protocol"));
	coil_tls_config_free(cfg);
	unlink(tt_file("sess.pem"));
}

static void test_tls_server_mutual_s_client(void **state)
{
	struct coil_tls_config *cfg =
		tt_server_config(NULL, NULL, COIL_TLS_VERIFY_CLIENT);
	struct tt_srv srv = {0};
	char *out;
	int st;
	(void)state;

	tt_srv_start_thread(&srv, cfg, TT_HTTP);
	{
		char *argv[] = {"openssl",  "s_client",
				"-connect", (char *)connect_arg(&srv),
				"-CAfile",  "ca.crt",
				"-cert",    "client.crt",
				"-key",	    "client.key",
				"-ign_eof", NULL};
		out = run(argv, request, &st);
	}
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "hello from coil tls"));
	free(out);
	{
		char *argv[] = {"openssl",  "s_client",
				"-connect", (char *)connect_arg(&srv),
				"-CAfile",  "ca.crt",
				"-ign_eof", NULL};
		out = run(argv, request, &st);
	}
	print_message("without a client certificate: exit %d\n", st);
	assert_null(strstr(out, "hello from coil tls"));
	free(out);
	tt_srv_stop_thread(&srv);
	print_message("server: %s\n", srv.last_err);
	assert_int_equal(srv.hs_ok, 1);
	assert_int_equal(srv.hs_fail, 1);
	coil_tls_config_free(cfg);
}

static void test_tls_server_curl(void **state)
{
	struct coil_tls_config *cfg = tt_server_config(NULL, NULL, 0);
	struct tt_srv srv = {0};
	char url[128], resolve[128];
	char *out;
	int st;
	(void)state;

	if (!tt_have("curl"))
		skip();
	tt_srv_start_thread(&srv, cfg, TT_HTTP);
	/* by name and by IP */
	for (int i = 0; i < 2; i++) {
		char *argv[] = {"curl",	    "-sS",    "--tls-max", "1.2",
				"--cacert", "ca.crt", url,	   NULL};
		snprintf(url, sizeof(url), "https://%s:%u/",
			 i ? "127.0.0.1" : "localhost", srv.port);
		out = run(argv, NULL, &st);
		print_message("curl %s: exit %d: %s", url, st, out);
		assert_int_equal(st, 0);
		assert_non_null(strstr(out, "hello from coil tls: TLSv1.2"));
		assert_non_null(strstr(out, "alpn=http/1.1"));
		free(out);
	}
	/* a name the certificate does not have */
	{
		char *argv[] = {"curl",	     "-sS",   "--cacert", "ca.crt",
				"--resolve", resolve, url,	  NULL};
		snprintf(resolve, sizeof(resolve), "wrong.example:%u:127.0.0.1",
			 srv.port);
		snprintf(url, sizeof(url), "https://wrong.example:%u/",
			 srv.port);
		out = run(argv, NULL, &st);
		print_message("curl wrong host: exit %d: %s", st, out);
		assert_int_equal(st, 60); /* CURLE_PEER_FAILED_VERIFICATION */
		assert_non_null(strstr(out, "wrong.example"));
		free(out);
	}
	/* without our CA */
	{
		char *argv[] = {"curl",		"-sS", "--cacert",
				"rogue-ca.crt", url,   NULL};
		snprintf(url, sizeof(url), "https://localhost:%u/", srv.port);
		out = run(argv, NULL, &st);
		print_message("curl unknown CA: exit %d: %s", st, out);
		assert_int_equal(st, 60);
		free(out);
	}
	tt_srv_stop_thread(&srv);
	/* curl checks the host name after the handshake (its own
	 * verifyhost), the CA during it */
	assert_true(srv.hs_ok >= 2 && srv.hs_fail >= 1);
	assert_int_equal(srv.hs_ok + srv.hs_fail, 4);
	print_message("server: %s\n", srv.last_err);
	coil_tls_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_server_s_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_server_mutual_s_client,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_server_curl, setup,
						teardown),
	};
	if (!tt_have("openssl")) {
		fprintf(stderr, "skip: openssl not installed\n");
		return COIL_SKIP;
	}
	tt_certs();
	return cmocka_run_group_tests_name("tls.server_peers", tests, NULL,
					   NULL);
}
