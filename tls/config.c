/*
 * tls/config.c - coil_tls_config: trust anchors, own certificate and key,
 * ALPN, cipher suites, versions, the random generator and (server) the
 * session-ticket key and session-ID cache, built once into an
 * mbedtls_ssl_config that every connection of that side shares.
 *
 * Files are read here with open(2)/read(2), not with mbedTLS's file
 * helpers, so that a missing or unreadable file comes back as its errno and
 * a named reason rather than as a generic "file I/O error".
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "internal.h"

#define MAX_FILE (16u << 20)

/* TLS 1.3's suites first (RFC 8446 section 9.1; mbedTLS 2.28 knows none
 * of them and skips them), then TLS 1.2's. */
static const char *const default_ciphers[] = {
	"TLS1-3-AES-128-GCM-SHA256",
	"TLS1-3-AES-256-GCM-SHA384",
	"TLS1-3-CHACHA20-POLY1305-SHA256",
	"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
	"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
	"TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
	"TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
	"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-DHE-RSA-WITH-AES-128-GCM-SHA256",
	"TLS-DHE-RSA-WITH-AES-256-GCM-SHA384",
	"TLS-DHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
	NULL,
};

static const char *const default_alpn[] = {"http/1.1", NULL};

/* Key exchange groups, preferred first: X25519, then P-256 (what browsers
 * and OpenSSL send, RFC 8446 section 9.1; TLS 1.3 clients of mbedTLS send
 * a key share for the first group only, so a server that prefers P-256
 * costs a HelloRetryRequest round trip), then P-384, P-521. Cost per
 * scalar multiplication: docs/BENCHMARKS.md, section tls. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
static const uint16_t default_groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP521R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};
/* Signature algorithms (RFC 8446 section 4.2.3), SHA-256 and up. RSA
 * PKCS#1 v1.5 before RSA-PSS: mbedTLS 3.6.6's TLS 1.2 client offers
 * rsa_pss_rsae (TLS 1.3 needs it) but refuses it in a TLS 1.2
 * ServerKeyExchange (Mbed-TLS/mbedtls issue 10668, fixed after 3.6.6), and
 * OpenSSL, in TLS 1.2, picks by the client's order; TLS 1.3 never signs
 * with PKCS#1 v1.5, so there PSS is used all the same. */
static const uint16_t default_sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE,
};
#else
/* Signature hashes offered and accepted in TLS 1.2 (RFC 5246 section
 * 7.4.1.4.1): SHA-256 and up; mbedTLS 2.x also allows SHA-224. */
static const int default_hashes[] = {
	MBEDTLS_MD_SHA512,
	MBEDTLS_MD_SHA384,
	MBEDTLS_MD_SHA256,
	MBEDTLS_MD_NONE,
};
static const mbedtls_ecp_group_id default_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,  MBEDTLS_ECP_DP_SECP521R1,
	MBEDTLS_ECP_DP_NONE,
};
#endif

static void say(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

int coil__tls_rng(void *p, unsigned char *out, size_t len)
{
	struct coil_tls_config *cfg = p;
	return mbedtls_ctr_drbg_random(&cfg->drbg, out, len);
}

/* The whole file, NUL-terminated (PEM parsers want the NUL counted). */
static int slurp(const char *path, unsigned char **out, size_t *len,
		 char *errbuf, size_t errlen)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		say(errbuf, errlen, "cannot read %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
		close(fd);
		say(errbuf, errlen, "cannot read %s: %s", path, strerror(-err));
		return err;
	}
	if (st.st_size > MAX_FILE) {
		close(fd);
		say(errbuf, errlen, "%s is over 16 MiB", path);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			free(buf);
			close(fd);
			say(errbuf, errlen, "cannot read %s: %s", path,
			    strerror(-err));
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*len = got + 1;
	return 0;
}

static void reason(int ret, char *buf, size_t len)
{
	coil__tls_strerror(ret, buf, len);
}

static int load_crts(mbedtls_x509_crt *crt, const char *path, char *errbuf,
		     size_t errlen)
{
	unsigned char *buf;
	size_t len;
	char why[128];
	int ret = slurp(path, &buf, &len, errbuf, errlen);

	if (ret < 0)
		return ret;
	ret = mbedtls_x509_crt_parse(crt, buf, len);
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	if (ret < 0) {
		reason(ret, why, sizeof(why));
		say(errbuf, errlen, "bad certificate in %s: %s", path, why);
		return COIL_ETLS;
	}
	if (ret > 0) { /* some certificates of a bundle did not parse */
		say(errbuf, errlen, "%d certificate(s) in %s did not parse",
		    ret, path);
		return COIL_ETLS;
	}
	return 0;
}

/* Every regular file of @dir; files that are not certificates are skipped
 * (a CA directory holds hash links and bundles side by side), but the
 * directory must hold at least one certificate. */
static int load_dir(mbedtls_x509_crt *crt, const char *dir, char *errbuf,
		    size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int loaded = 0;

	if (!d) {
		int err = -errno;
		say(errbuf, errlen, "cannot open CA directory %s: %s", dir,
		    strerror(-err));
		return err;
	}
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		unsigned char *buf;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (slurp(path, &buf, &len, NULL, 0) < 0)
			continue;
		/* a bundle may hold a few bad entries: keep the good ones */
		if (mbedtls_x509_crt_parse(crt, buf, len) >= 0)
			loaded++;
		free(buf);
	}
	closedir(d);
	if (!loaded) {
		say(errbuf, errlen, "no certificate in CA directory %s", dir);
		return COIL_ETLS;
	}
	return 0;
}

static int load_key(mbedtls_pk_context *pk, const char *path,
		    const char *password, struct coil_tls_config *cfg,
		    char *errbuf, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	char why[128];
	const unsigned char *pw = (const unsigned char *)password;
	size_t pwlen = password ? strlen(password) : 0;
	int ret = slurp(path, &buf, &len, errbuf, errlen);

	if (ret < 0)
		return ret;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	ret = mbedtls_pk_parse_key(pk, buf, len, pw, pwlen, coil__tls_rng, cfg);
#else
	(void)cfg;
	ret = mbedtls_pk_parse_key(pk, buf, len, pw, pwlen);
#endif
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	if (ret < 0) {
		reason(ret, why, sizeof(why));
		say(errbuf, errlen, "bad private key in %s: %s", path, why);
		return COIL_ETLS;
	}
	return 0;
}

static int key_matches(struct coil_tls_config *cfg)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_check_pair(&cfg->own.pk, &cfg->key, coil__tls_rng,
				     cfg) == 0;
#else
	return mbedtls_pk_check_pair(&cfg->own.pk, &cfg->key) == 0;
#endif
}

static int set_ciphers(struct coil_tls_config *cfg, const char *list,
		       char *errbuf, size_t errlen)
{
	const char *names[128];
	char *copy = NULL;
	size_t n = 0;

	if (list) {
		char *save = NULL, *tok;
		copy = strdup(list);
		if (!copy)
			return -ENOMEM;
		for (tok = strtok_r(copy, ":, ", &save); tok;
		     tok = strtok_r(NULL, ":, ", &save)) {
			if (n == sizeof(names) / sizeof(names[0]) - 1) {
				free(copy);
				say(errbuf, errlen,
				    "more than 127 cipher suites");
				return -EINVAL;
			}
			names[n++] = tok;
		}
		if (!n) {
			free(copy);
			say(errbuf, errlen, "empty cipher suite list");
			return -EINVAL;
		}
	} else {
		while (default_ciphers[n]) {
			names[n] = default_ciphers[n];
			n++;
		}
	}
	cfg->ciphers = calloc(n + 1, sizeof(int));
	if (!cfg->ciphers) {
		free(copy);
		return -ENOMEM;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		int id = mbedtls_ssl_get_ciphersuite_id(names[i]);
		if (!id) {
			if (!list) /* not in this build: skip a default */
				continue;
			say(errbuf, errlen, "unknown cipher suite '%s'",
			    names[i]);
			free(copy);
			return -EINVAL;
		}
		cfg->ciphers[k++] = id;
	}
	free(copy);
	if (!cfg->ciphers[0]) {
		say(errbuf, errlen, "no usable cipher suite");
		return -EINVAL;
	}
	mbedtls_ssl_conf_ciphersuites(&cfg->conf, cfg->ciphers);
	return 0;
}

static int set_alpn(struct coil_tls_config *cfg, const char *const *list,
		    char *errbuf, size_t errlen)
{
	size_t n = 0, total = 0;
	char *p;

	if (!list)
		list = default_alpn;
	for (; list[n]; n++) {
		size_t len = strlen(list[n]);
		if (n == COIL_TLS_MAX_ALPN || !len || len > 255) {
			say(errbuf, errlen,
			    "bad ALPN list: 1..8 names of 1..255 bytes");
			return -EINVAL;
		}
		total += len + 1;
	}
	if (!n)
		return 0; /* ALPN off */
	cfg->alpn_buf = malloc(total);
	if (!cfg->alpn_buf)
		return -ENOMEM;
	p = cfg->alpn_buf;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i]) + 1;
		memcpy(p, list[i], len);
		cfg->alpn[i] = p;
		p += len;
	}
	cfg->alpn[n] = NULL;
	if (mbedtls_ssl_conf_alpn_protocols(&cfg->conf, cfg->alpn) != 0) {
		say(errbuf, errlen, "bad ALPN list");
		return -EINVAL;
	}
	return 0;
}

static int set_versions(struct coil_tls_config *cfg, unsigned min, unsigned max,
			char *errbuf, size_t errlen)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
	unsigned newest = COIL_TLS_V1_3;
#else
	unsigned newest = COIL_TLS_V1_2;
#endif
	if (!min)
		min = COIL_TLS_V1_2;
	if ((min != COIL_TLS_V1_2 && min != COIL_TLS_V1_3) ||
	    (max && max != COIL_TLS_V1_2 && max != COIL_TLS_V1_3) ||
	    (max && min > max)) {
		say(errbuf, errlen,
		    "bad TLS version range (TLS 1.2 and 1.3 only)");
		return -EINVAL;
	}
	if (min > newest) {
		say(errbuf, errlen, "%s speaks TLS 1.2 only",
		    MBEDTLS_VERSION_STRING_FULL);
		return -EOPNOTSUPP;
	}
	if (!max || max > newest) /* "up to 1.3" on a library without it */
		max = newest;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&cfg->conf,
					 (mbedtls_ssl_protocol_version)min);
	mbedtls_ssl_conf_max_tls_version(&cfg->conf,
					 (mbedtls_ssl_protocol_version)max);
#else
	mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     (int)(min & 0xff));
	mbedtls_ssl_conf_max_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     (int)(max & 0xff));
#endif
	return 0;
}

static int setup_server_resume(struct coil_tls_config *cfg,
			       const struct coil_tls_config_opts *o,
			       char *errbuf, size_t errlen)
{
	uint32_t life = o->ticket_lifetime_s ? o->ticket_lifetime_s : 7200;
	unsigned size = o->session_cache_size ? o->session_cache_size : 1000;
	int ret;

	mbedtls_ssl_cache_init(&cfg->cache);
	cfg->has_cache = 1;
	mbedtls_ssl_cache_set_max_entries(&cfg->cache, (int)size);
	mbedtls_ssl_cache_set_timeout(&cfg->cache, (int)life);
	mbedtls_ssl_conf_session_cache(&cfg->conf, &cfg->cache,
				       mbedtls_ssl_cache_get,
				       mbedtls_ssl_cache_set);

	mbedtls_ssl_ticket_init(&cfg->ticket);
	cfg->has_ticket = 1;
	ret = mbedtls_ssl_ticket_setup(&cfg->ticket, coil__tls_rng, cfg,
				       MBEDTLS_CIPHER_AES_256_GCM, life);
	if (ret) {
		char why[128];
		reason(ret, why, sizeof(why));
		say(errbuf, errlen, "session ticket key: %s", why);
		return COIL_ETLS;
	}
	mbedtls_ssl_conf_session_tickets_cb(
		&cfg->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
		&cfg->ticket);
	return 0;
}

static void config_free(struct coil_tls_config *cfg)
{
	if (cfg->has_ticket)
		mbedtls_ssl_ticket_free(&cfg->ticket);
	if (cfg->has_cache)
		mbedtls_ssl_cache_free(&cfg->cache);
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_pk_free(&cfg->key);
	mbedtls_x509_crt_free(&cfg->own);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_ctr_drbg_free(&cfg->drbg);
	mbedtls_entropy_free(&cfg->entropy);
	free(cfg->ciphers);
	free(cfg->alpn_buf);
	free(cfg);
}

#define KNOWN_FLAGS                                                            \
	(COIL_TLS_SERVER | COIL_TLS_INSECURE | COIL_TLS_VERIFY_CLIENT |        \
	 COIL_TLS_NO_RESUME)

static int check_opts(const struct coil_tls_config_opts *o, char *errbuf,
		      size_t errlen)
{
	int server = (o->flags & COIL_TLS_SERVER) != 0;

	if (o->flags & ~KNOWN_FLAGS) {
		say(errbuf, errlen, "unknown flags 0x%x",
		    o->flags & ~KNOWN_FLAGS);
		return -EINVAL;
	}
	if (!o->cert_file != !o->key_file) {
		say(errbuf, errlen,
		    "cert_file and key_file go together (one is missing)");
		return -EINVAL;
	}
	if (server && !o->cert_file) {
		say(errbuf, errlen, "a server needs cert_file and key_file");
		return -EINVAL;
	}
	if (server && (o->flags & COIL_TLS_INSECURE)) {
		say(errbuf, errlen, "COIL_TLS_INSECURE is for clients");
		return -EINVAL;
	}
	if (!server && (o->flags & COIL_TLS_VERIFY_CLIENT)) {
		say(errbuf, errlen, "COIL_TLS_VERIFY_CLIENT is for servers");
		return -EINVAL;
	}
	if ((o->flags & COIL_TLS_VERIFY_CLIENT) && !o->ca_file && !o->ca_path) {
		say(errbuf, errlen,
		    "COIL_TLS_VERIFY_CLIENT needs ca_file or ca_path");
		return -EINVAL;
	}
	return 0;
}

int coil_tls_config_new(struct coil_tls_config **out,
			const struct coil_tls_config_opts *opts, char *errbuf,
			size_t errlen)
{
	static const struct coil_tls_config_opts none;
	const struct coil_tls_config_opts *o = opts ? opts : &none;
	struct coil_tls_config *cfg;
	int server = (o->flags & COIL_TLS_SERVER) != 0;
	int verify = server ? (o->flags & COIL_TLS_VERIFY_CLIENT) != 0
			    : !(o->flags & COIL_TLS_INSECURE);
	static const unsigned char pers[] = "coil-tls";
	int ret;

	if (errbuf && errlen)
		errbuf[0] = 0;
	if (!out) {
		say(errbuf, errlen, "NULL out");
		return -EINVAL;
	}
	*out = NULL;
	ret = check_opts(o, errbuf, errlen);
	if (ret < 0)
		return ret;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->flags = o->flags;
	cfg->pool = o->handshake_pool;
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_entropy_init(&cfg->entropy);
	mbedtls_ctr_drbg_init(&cfg->drbg);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_x509_crt_init(&cfg->own);
	mbedtls_pk_init(&cfg->key);
	atomic_init(&cfg->users, 0);

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	/* mbedTLS 3.x does TLS 1.3's key exchange and key schedule through
	 * PSA, which must be set up once per process first (idempotent,
	 * thread-safe in 3.6; never torn down: other users may share it). */
	ret = psa_crypto_init();
	if (ret != PSA_SUCCESS) {
		say(errbuf, errlen, "psa_crypto_init() failed: %d", ret);
		ret = COIL_ETLS;
		goto fail;
	}
#endif
	ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func,
				    &cfg->entropy, pers, sizeof(pers) - 1);
	if (ret) {
		char why[128];
		reason(ret, why, sizeof(why));
		say(errbuf, errlen, "seeding the random generator: %s", why);
		ret = COIL_ETLS;
		goto fail;
	}
	ret = mbedtls_ssl_config_defaults(
		&cfg->conf,
		server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
		MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret) {
		ret = -ENOMEM;
		goto fail;
	}
	mbedtls_ssl_conf_rng(&cfg->conf, coil__tls_rng, cfg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_groups(&cfg->conf, default_groups);
	mbedtls_ssl_conf_sig_algs(&cfg->conf, default_sig_algs);
#else
	mbedtls_ssl_conf_curves(&cfg->conf, default_curves);
	mbedtls_ssl_conf_sig_hashes(&cfg->conf, default_hashes);
#endif
	/* certificates: SHA-256 and up, RSA 2048 bits and up */
	mbedtls_ssl_conf_cert_profile(&cfg->conf,
				      &mbedtls_x509_crt_profile_next);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
	mbedtls_ssl_conf_renegotiation(&cfg->conf,
				       MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif

	ret = set_versions(cfg, o->min_version, o->max_version, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ret = set_ciphers(cfg, o->ciphers, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ret = set_alpn(cfg, o->alpn, errbuf, errlen);
	if (ret < 0)
		goto fail;

	/* trust anchors */
	if (verify) {
		const char *file = o->ca_file;
		if (!file && !o->ca_path)
			file = COIL_TLS_SYSTEM_CA;
		if (file) {
			ret = load_crts(&cfg->ca, file, errbuf, errlen);
			if (ret < 0)
				goto fail;
		}
		if (o->ca_path) {
			ret = load_dir(&cfg->ca, o->ca_path, errbuf, errlen);
			if (ret < 0)
				goto fail;
		}
		cfg->has_ca = 1;
		mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
		mbedtls_ssl_conf_authmode(&cfg->conf,
					  MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
	}

	/* own certificate and key */
	if (o->cert_file) {
		ret = load_crts(&cfg->own, o->cert_file, errbuf, errlen);
		if (ret < 0)
			goto fail;
		ret = load_key(&cfg->key, o->key_file, o->key_password, cfg,
			       errbuf, errlen);
		if (ret < 0)
			goto fail;
		if (!key_matches(cfg)) {
			say(errbuf, errlen,
			    "the key in %s does not match the certificate in "
			    "%s",
			    o->key_file, o->cert_file);
			ret = COIL_ETLS;
			goto fail;
		}
		if (mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->own,
					      &cfg->key) != 0) {
			ret = -ENOMEM;
			goto fail;
		}
		cfg->has_own = 1;
	}

	/* resumption */
	if (o->flags & COIL_TLS_NO_RESUME) {
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
		mbedtls_ssl_conf_session_tickets(
			&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
	} else if (server) {
		ret = setup_server_resume(cfg, o, errbuf, errlen);
		if (ret < 0)
			goto fail;
	} else {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS)
		/* TLS 1.3 tickets come after the handshake
		 * (NewSessionTicket, RFC 8446 section 4.6.1); mbedTLS drops
		 * them unless asked to hand them over (record.c,
		 * coil__tls_pump()) */
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
			&cfg->conf,
			MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
	}
	*out = cfg;
	return 0;
fail:
	config_free(cfg);
	return ret;
}

int coil_tls_config_free(struct coil_tls_config *cfg)
{
	if (!cfg)
		return 0;
	if (atomic_load(&cfg->users) > 0)
		return -EBUSY;
	config_free(cfg);
	return 0;
}

/* "1.2", "1.3", "TLSv1.2"...: the wire value, or 0; *@end after it. */
static unsigned one_version(const char *s, const char **end)
{
	if (!strncasecmp(s, "TLSv", 4))
		s += 4;
	if (!strncmp(s, "1.2", 3) || !strncmp(s, "1.3", 3)) {
		*end = s + 3;
		return s[2] == '2' ? COIL_TLS_V1_2 : COIL_TLS_V1_3;
	}
	return 0;
}

int coil_tls_parse_versions(const char *s, unsigned *min, unsigned *max)
{
	const char *end;
	unsigned lo, hi;

	if (!s || !min || !max)
		return -EINVAL;
	lo = one_version(s, &end);
	if (!lo)
		return -EINVAL;
	hi = lo;
	if (*end == '-')
		hi = one_version(end + 1, &end);
	if (!hi || *end || lo > hi)
		return -EINVAL;
	*min = lo;
	*max = hi;
	return 0;
}

const char *coil_tls_version(void)
{
	return MBEDTLS_VERSION_STRING_FULL;
}
