/*
 * tls/conn.c - a TLS stream's engine state (struct coil_tls__conn): the
 * mbedTLS context on the configuration, the peer name a client checks
 * (SNI for a DNS name, the certificate's iPAddress names for an IP
 * literal: verify.c), the client's session key and the saved session it
 * offers (cache.c), the memory BIO (bio.c) and the time limits. The
 * session (session.c) runs it and frees it; nothing here calls back.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define HS_TIMEOUT_NS (30000000000ull)
#define CLOSE_TIMEOUT_NS (1000000000ull)

static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct coil_tls__conn *c = p;

	/* the leaf, for a host given as an IP literal: mbedTLS 2.x checks
	 * DNS names only (see verify.c) */
	if (depth == 0 && c->host_ip_len &&
	    !coil__tls_crt_has_ip(crt, c->host_ip, c->host_ip_len))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* The port of an IPv4 or IPv6 address; 0 for another family. */
static unsigned port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* "host:port": the port of @addr0 (the first address a connect tries)
 * if given, else of the lower stream's peer; host alone without one. */
static char *default_key(const char *host, struct coil_stream *lower,
			 const struct sockaddr_storage *addr0)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = addr0 ? -1 : coil_stream_fd(lower);
	unsigned port = 0;
	char *k = NULL;

	if (addr0)
		port = port_of(addr0);
	else if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		port = port_of(&ss);
	if (port) {
		if (asprintf(&k, "%s:%u", host, port) < 0)
			k = NULL;
	} else {
		k = strdup(host);
	}
	return k;
}

int coil__tls_conn_new(struct coil_tls *t, const struct coil_tls_config *cfg,
		       const struct coil_tls_opts *o,
		       const struct sockaddr_storage *addr0)
{
	struct coil_tls__conn *c;
	int server = (cfg->flags & COIL_TLS_SERVER) != 0;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->t = t;
	c->cfg = cfg;
	c->note_sent = server;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &cfg->conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return -ENOMEM;
	}
	if (!server && o->host) {
		unsigned char ip[16];
		snprintf(c->host, sizeof(c->host), "%s", o->host);
		if (inet_pton(AF_INET, o->host, ip) == 1) {
			c->host_ip_len = 4;
		} else if (inet_pton(AF_INET6, o->host, ip) == 1) {
			c->host_ip_len = 16;
		}
		memcpy(c->host_ip, ip, sizeof(ip));
		/* RFC 6066 section 3: no IP literals in SNI; the name check
		 * of an IP is verify_cb's */
		ret = mbedtls_ssl_set_hostname(&c->ssl,
					       c->host_ip_len ? NULL : c->host);
		if (ret != 0)
			goto fail;
		mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	}
	if (!server && o->cache && o->host) {
		c->cache = o->cache;
		c->session_key =
			o->session_key ? strdup(o->session_key)
				       : default_key(o->host, t->lower, addr0);
		if (!c->session_key) {
			ret = -ENOMEM;
			goto fail;
		}
		c->offered = coil__tls_cache_offer(c->cache, c->session_key,
						   cfg, &c->ssl);
	}
	mbedtls_ssl_set_bio(&c->ssl, c, coil__tls_bio_send, coil__tls_bio_recv,
			    NULL);
	c->hs_timeout_ns = o->handshake_timeout_ns ? o->handshake_timeout_ns
						   : HS_TIMEOUT_NS;
	c->close_timeout_ns =
		o->close_timeout_ns ? o->close_timeout_ns : CLOSE_TIMEOUT_NS;
	atomic_fetch_add(&((struct coil_tls_config *)cfg)->users, 1);
	t->c = c;
	return 0;
fail:
	mbedtls_ssl_free(&c->ssl);
	free(c->session_key);
	free(c);
	return ret < 0 && ret > COIL_EBASE ? ret : -ENOMEM;
}
