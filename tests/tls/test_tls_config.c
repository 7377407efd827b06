/* tests/tls/test_tls_config.c - configurations and the session cache:
 * what loads, and every bad input with its code and its reason */
#include "tt.h"

static int cfg_err(const struct coil_tls_config_opts *o, char *err, size_t len)
{
	struct coil_tls_config *cfg = (struct coil_tls_config *)1;
	int ret = coil_tls_config_new(&cfg, o, err, len);
	if (ret == 0)
		coil_tls_config_free(cfg);
	else
		assert_null(cfg);
	print_message("%d: %s\n", ret, err);
	return ret;
}

static void test_tls_config_loads(void **state)
{
	struct coil_tls_config_opts o = {0};
	struct coil_tls_config *cfg;
	char err[256];
	const char *alpn[] = {"h2", "http/1.1", NULL};
	const char *none[] = {NULL};
	(void)state;

	/* client with the test CA, and with client cert */
	o.ca_file = tt_file("ca.crt");
	assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	o.cert_file = tt_file("client.crt");
	o.key_file = tt_file("client.key");
	o.alpn = alpn;
	o.ciphers = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256:"
		    "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384";
	o.min_version = COIL_TLS_V1_2;
	o.max_version = COIL_TLS_V1_3; /* "up to": fine with a 1.2 library */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
	/* a CA directory */
	memset(&o, 0, sizeof(o));
	o.ca_path = tt_dir;
	o.alpn = none;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
	/* server, ECDSA, session tickets and cache */
	memset(&o, 0, sizeof(o));
	o.flags = COIL_TLS_SERVER;
	o.cert_file = tt_file("chain.pem");
	o.key_file = tt_file("server.key");
	o.ticket_lifetime_s = 60;
	o.session_cache_size = 10;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
	o.cert_file = tt_file("server-ec.crt");
	o.key_file = tt_file("server-ec.key");
	o.flags |= COIL_TLS_VERIFY_CLIENT;
	o.ca_file = tt_file("ca.crt");
	assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
	/* the default client: the system bundle, when the machine has one */
	if (access(COIL_TLS_SYSTEM_CA, R_OK) == 0) {
		assert_int_equal(coil_tls_config_new(&cfg, NULL, NULL, 0), 0);
		assert_int_equal(coil_tls_config_free(cfg), 0);
	}
	assert_int_equal(coil_tls_config_free(NULL), 0);
}

static void test_tls_config_bad_files(void **state)
{
	struct coil_tls_config_opts o = {0};
	char err[256];
	char *junk;
	FILE *f;
	(void)state;

	o.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	assert_non_null(strstr(err, "No such file"));
	o.ca_file = tt_dir; /* a directory */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EISDIR);
	o.ca_file = NULL;
	o.ca_path = "/nonexistent";
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "CA directory"));

	/* not PEM */
	assert_true(asprintf(&junk, "%s/junk.pem", tt_dir) > 0);
	f = fopen(junk, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
	      "-----END CERTIFICATE-----\n",
	      f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.ca_file = junk;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
	assert_non_null(strstr(err, "bad certificate"));
	assert_non_null(strstr(err, "junk.pem"));
	memset(&o, 0, sizeof(o));
	o.flags = COIL_TLS_SERVER;
	o.cert_file = tt_file("server.crt");
	o.key_file = junk;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
	assert_non_null(strstr(err, "bad private key"));
	/* a directory of no certificates */
	{
		char *empty;
		assert_true(asprintf(&empty, "%s/empty", tt_dir) > 0);
		assert_int_equal(mkdir(empty, 0700), 0);
		memset(&o, 0, sizeof(o));
		o.ca_path = empty;
		assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
		assert_non_null(strstr(err, "no certificate"));
		rmdir(empty);
		free(empty);
	}
	unlink(junk);
	free(junk);

	/* the key of another certificate */
	memset(&o, 0, sizeof(o));
	o.flags = COIL_TLS_SERVER;
	o.cert_file = tt_file("server.crt");
	o.key_file = tt_file("server-ec.key");
	assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
	assert_non_null(strstr(err, "does not match"));
	o.key_file = tt_file("client.key");
	o.cert_file = tt_file("server-ec.crt");
	assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
	/* an encrypted key without its password */
	{
		char cmd[1024];
		snprintf(cmd, sizeof(cmd),
			 "openssl rsa -in %s -aes256 -traditional "
			 "-passout pass:secret -out %s/enc.key 2>/dev/null",
			 tt_file("server.key"), tt_dir);
		assert_int_equal(system(cmd), 0);
		o.cert_file = tt_file("server.crt");
		o.key_file = tt_file("enc.key");
		assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
		o.key_password = "wrong";
		assert_int_equal(cfg_err(&o, err, sizeof(err)), COIL_ETLS);
		o.key_password = "secret";
		assert_int_equal(cfg_err(&o, err, sizeof(err)), 0);
		unlink(tt_file("enc.key"));
	}
}

static void test_tls_config_bad_options(void **state)
{
	struct coil_tls_config_opts o = {0};
	struct coil_tls_config *cfg;
	char err[256], big[300];
	const char *empty_name[] = {"", NULL};
	const char *long_name[] = {big, NULL};
	const char *nine[] = {"a", "b", "c", "d", "e",
			      "f", "g", "h", "i", NULL};
	(void)state;

	assert_int_equal(coil_tls_config_new(NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	o.ca_file = tt_file("ca.crt");
	o.flags = 1u << 20;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown flags"));
	o.flags = COIL_TLS_SERVER; /* no certificate */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "server needs"));
	o.flags = 0;
	o.cert_file = tt_file("client.crt"); /* no key */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.cert_file = NULL;
	o.flags = COIL_TLS_VERIFY_CLIENT; /* client */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.flags = COIL_TLS_SERVER | COIL_TLS_INSECURE;
	o.cert_file = tt_file("server.crt");
	o.key_file = tt_file("server.key");
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.flags = COIL_TLS_SERVER | COIL_TLS_VERIFY_CLIENT;
	o.ca_file = NULL; /* nothing to verify with */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ca_file"));

	memset(&o, 0, sizeof(o));
	o.ca_file = tt_file("ca.crt");
	o.ciphers = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256:NOT-A-CIPHER";
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NOT-A-CIPHER"));
	o.ciphers = "::";
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.ciphers = NULL;
	o.alpn = empty_name;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	o.alpn = long_name;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.alpn = nine;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.alpn = NULL;
	o.min_version = 0x0301; /* TLS 1.0: never */
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.min_version = COIL_TLS_V1_3;
	o.max_version = COIL_TLS_V1_2;
	assert_int_equal(cfg_err(&o, err, sizeof(err)), -EINVAL);
	o.max_version = 0;
	{
		int ret = cfg_err(&o, err, sizeof(err));
		/* TLS 1.3 only: mbedTLS 2.28 cannot; 3.6 can */
		if (strstr(coil_tls_version(), "TLS 2."))
			assert_int_equal(ret, -EOPNOTSUPP);
		else
			assert_int_equal(ret, 0);
	}
	/* no error buffer: still the code */
	o.min_version = 0;
	o.ca_file = "/nonexistent";
	assert_int_equal(coil_tls_config_new(&cfg, &o, NULL, 0), -ENOENT);
}

static void test_tls_cache_api(void **state)
{
	struct coil_tls_cache *c;
	(void)state;
	assert_int_equal(coil_tls_cache_new(NULL, 4), -EINVAL);
	assert_int_equal(coil_tls_cache_new(&c, 65537), -EINVAL);
	assert_int_equal(coil_tls_cache_new(&c, 0), 0);
	assert_int_equal(coil_tls_cache_count(c), 0);
	assert_int_equal(coil_tls_cache_count(NULL), 0);
	coil_tls_cache_free(c);
	coil_tls_cache_free(NULL);
}

/* the programs' --tls-version */
static void test_tls_parse_versions(void **state)
{
	static const struct {
		const char *s;
		int ret;
		unsigned min, max;
	} cases[] = {
		{"1.2", 0, COIL_TLS_V1_2, COIL_TLS_V1_2},
		{"1.3", 0, COIL_TLS_V1_3, COIL_TLS_V1_3},
		{"TLSv1.3", 0, COIL_TLS_V1_3, COIL_TLS_V1_3},
		{"1.2-1.3", 0, COIL_TLS_V1_2, COIL_TLS_V1_3},
		{"tlsv1.2-TLSv1.3", 0, COIL_TLS_V1_2, COIL_TLS_V1_3},
		{"1.3-1.2", -EINVAL, 0, 0},
		{"1.1", -EINVAL, 0, 0},
		{"1.2-", -EINVAL, 0, 0},
		{"1.23", -EINVAL, 0, 0},
		{"", -EINVAL, 0, 0},
		{"2", -EINVAL, 0, 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned lo = 0, hi = 0;
		int ret = coil_tls_parse_versions(cases[i].s, &lo, &hi);
		print_message("'%s' -> %d 0x%04x 0x%04x\n", cases[i].s, ret, lo,
			      hi);
		assert_int_equal(ret, cases[i].ret);
		assert_int_equal(lo, cases[i].min);
		assert_int_equal(hi, cases[i].max);
	}
	assert_int_equal(
		coil_tls_parse_versions(NULL, &(unsigned){0}, &(unsigned){0}),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_config_loads),
		cmocka_unit_test(test_tls_config_bad_files),
		cmocka_unit_test(test_tls_config_bad_options),
		cmocka_unit_test(test_tls_cache_api),
		cmocka_unit_test(test_tls_parse_versions),
	};
	tt_certs();
	return cmocka_run_group_tests_name("tls.config", tests, NULL, NULL);
}
