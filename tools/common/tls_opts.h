/*
 * tools/common/tls_opts.h - the TLS client options coil-bench and coil-get
 * share, spelled as curl spells them (curl(1)): -k/--insecure, --cacert
 * FILE (trust these CAs instead of the system bundle), --cert FILE and
 * --key FILE (a client certificate, PEM; without --key the key is read
 * from the --cert file, as curl does), --tls-version V; and the one place
 * that turns them into a client configuration with a one-line error.
 *
 * Header-only, like parse.h: each program, and each test that compiles a
 * program's cli.c in, gets it without another source file in its build.
 */
#ifndef COIL_TOOLS_TLS_OPTS_H
#define COIL_TOOLS_TLS_OPTS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "coil/engine.h"
#include "coil/tls.h"
#include "exit_status.h"

struct tools_tls_opts {
	bool insecure;	      /* -k */
	const char *cacert;   /* --cacert FILE, or NULL */
	const char *cert;     /* --cert FILE, or NULL */
	const char *key;      /* --key FILE, or NULL (then the --cert file) */
	const char *versions; /* --tls-version "1.2", "1.3", "1.2-1.3" */
	/* ALPN list (coil_tls_config_opts.alpn), or NULL for the default */
	const char *const *alpn;
};

/* Whether any TLS option was given (else the library's defaults do). */
static inline bool tools_tls_given(const struct tools_tls_opts *t)
{
	return t->insecure || t->cacert || t->cert || t->key || t->versions;
}

/*
 * tools_tls_check() - what the options exclude, at the command line.
 * Return: 0; -EINVAL with a one-line message in @err (--key without
 * --cert).
 */
static inline int tools_tls_check(const struct tools_tls_opts *t, char *err,
				  size_t len)
{
	if (t->key && !t->cert) {
		if (err && len)
			snprintf(err, len,
				 "--key needs --cert (the client certificate "
				 "the key belongs to)");
		return -EINVAL;
	}
	return 0;
}

/*
 * tools_tls_config() - the client configuration the options ask for:
 * every file read now, so a missing or unreadable file, bad PEM, or a key
 * that does not match the certificate fails before any connection.
 * @out: receives the configuration (coil_tls_config_free()).
 * @err: receives a one-line message on failure ("TLS set-up failed:
 *       cannot read /x/ca.pem: No such file or directory").
 * Return: COIL_EXIT_OK; COIL_EXIT_USAGE for bad input (a bad
 * --tls-version, a file that cannot be read or parsed, a mismatched key);
 * COIL_EXIT_START when memory or the random generator's seeding failed.
 */
static inline int tools_tls_config(const struct tools_tls_opts *t,
				   struct coil_tls_config **out, char *err,
				   size_t len)
{
	struct coil_tls_config_opts co = {0};
	char why[256] = "";
	int ret;

	*out = NULL;
	if (t->insecure)
		co.flags |= COIL_TLS_INSECURE;
	co.ca_file = t->cacert;
	co.cert_file = t->cert;
	co.key_file = t->key ? t->key : t->cert;
	co.alpn = t->alpn;
	if (t->versions && coil_tls_parse_versions(t->versions, &co.min_version,
						   &co.max_version) < 0) {
		snprintf(err, len, "bad --tls-version '%s' (1.2, 1.3, 1.2-1.3)",
			 t->versions);
		return COIL_EXIT_USAGE;
	}
	ret = coil_tls_config_new(out, &co, why, sizeof(why));
	if (ret == 0)
		return COIL_EXIT_OK;
	*out = NULL;
	snprintf(err, len, "TLS set-up failed: %s",
		 why[0] ? why : coil_strerror(ret));
	return ret == -ENOMEM || (ret == COIL_ETLS && strstr(why, "seed"))
		       ? COIL_EXIT_START
		       : COIL_EXIT_USAGE;
}

#endif
