/*
 * tests/h2/test_h2_nginx.c - coil_h2 as a client of nginx's HTTP/2:
 * prior knowledge (h2c, nginx 1.22's `listen ... http2` without ssl) and
 * TLS with ALPN "h2" (certificates from tests/tls/mkcerts.sh). Many
 * streams on one connection, each answered whole; nginx's access log has
 * exactly the requests made, on one connection, over HTTP/2.0; no fd
 * left open. A TLS server that offers only http/1.1 is not taken for h2.
 * Skips (77) without nginx or openssl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "client/nginx.h"
#include "h2/h2util.h"

#ifndef COIL_TLS_MKCERTS
#error "COIL_TLS_MKCERTS must name tests/tls/mkcerts.sh"
#endif

static char *certs;
/* nginx names the protocol of each request in a header */
#define X_PROTO "    add_header X-Proto $server_protocol always;\n"

static int make_certs(void **state)
{
	(void)state;
	certs = tu_tmpdir();
	tu_mkcerts(COIL_TLS_MKCERTS, certs);
	return 0;
}

/* @total GETs of /f (10,000 bytes), @inflight at once */
static void run_against(struct ngx *g, struct coil_tls_config *tls, int total,
			int inflight)
{
	struct h2t *t = calloc(1, sizeof(*t));
	int conns = 0;

	assert_non_null(t);
	t->loop = tu_loop(NULL);
	t->tlscfg = tls;
	t->path = "/f";
	t->total = total;
	t->inflight = inflight;
	assert_true(h2t_run(t, g->port, 10000000000ull));
	assert_int_equal(t->connect_err, 0);
	assert_int_equal(t->end_err, 0);
	assert_int_equal(t->finished, total);
	for (int i = 0; i < total; i++) {
		assert_int_equal(t->r[i].err, 0);
		assert_int_equal(t->r[i].status, 200);
		assert_int_equal(t->r[i].body, 10000);
		assert_int_equal(t->r[i].closed, 1);
		assert_int_equal(t->r[i].h2, 1); /* nginx: HTTP/2.0 */
	}
	if (tls)
		assert_string_equal(t->alpn, "h2");
	h2t_drain(t->loop);
	coil_loop_free(t->loop);
	free(t);
	ngx_stop(g);
	assert_int_equal(ngx_log(g, &conns, NULL), total);
	assert_int_equal(conns, 1);
}

static void test_h2_nginx_h2c_prior_knowledge(void **state)
{
	struct ngx g;
	int fds = tu_count_fds();
	(void)state;
	ngx_start_listen(&g, X_PROTO, " http2");
	ngx_file(&g, "f", 10000, 7);
	run_against(&g, NULL, 200, 20);
	ngx_clean(&g);
	assert_int_equal(tu_count_fds(), fds);
}

static void test_h2_nginx_tls_alpn_h2(void **state)
{
	struct ngx g;
	struct coil_tls_config *tls = NULL;
	struct coil_tls_config_opts to = {0};
	char conf[2048], ca[600], err[256];
	int fds = tu_count_fds();
	(void)state;

	snprintf(conf, sizeof(conf),
		 "    ssl_certificate %s/server.crt;\n"
		 "    ssl_certificate_key %s/server.key;\n%s",
		 certs, certs, X_PROTO);
	ngx_start_listen(&g, conf, " ssl http2");
	ngx_file(&g, "f", 10000, 8);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	to.ca_file = ca;
	to.alpn = coil_h2_alpn;
	assert_int_equal(coil_tls_config_new(&tls, &to, err, sizeof(err)), 0);
	run_against(&g, tls, 200, 20);
	assert_int_equal(coil_tls_config_free(tls), 0);
	ngx_clean(&g);
	assert_int_equal(tu_count_fds(), fds);
}

/* nginx over TLS without http2: ALPN settles on http/1.1, which the
 * caller sees before it would start a session */
static void test_h2_nginx_tls_alpn_http11(void **state)
{
	struct ngx g;
	struct coil_tls_config *tls = NULL;
	struct coil_tls_config_opts to = {0};
	char conf[2048], ca[600], err[256];
	struct h2t *t = calloc(1, sizeof(*t));
	(void)state;

	snprintf(conf, sizeof(conf),
		 "    ssl_certificate %s/server.crt;\n"
		 "    ssl_certificate_key %s/server.key;\n",
		 certs, certs);
	ngx_start_listen(&g, conf, " ssl");
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	to.ca_file = ca;
	to.alpn = coil_h2_alpn;
	assert_int_equal(coil_tls_config_new(&tls, &to, err, sizeof(err)), 0);
	t->loop = tu_loop(NULL);
	t->tlscfg = tls;
	assert_true(h2t_run(t, g.port, 5000000000ull));
	assert_int_equal(t->connect_err, 0);
	assert_null(t->h); /* no session started */
	assert_string_equal(t->alpn, "http/1.1");
	h2t_drain(t->loop);
	coil_loop_free(t->loop);
	free(t);
	assert_int_equal(coil_tls_config_free(tls), 0);
	ngx_clean(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_h2_nginx_h2c_prior_knowledge,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_h2_nginx_tls_alpn_h2,
					  ngx_teardown),
		cmocka_unit_test_teardown(test_h2_nginx_tls_alpn_http11,
					  ngx_teardown),
	};
	return cmocka_run_group_tests_name("h2.nginx", tests, make_certs, NULL);
}
