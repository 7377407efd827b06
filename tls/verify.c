/*
 * tls/verify.c - certificate names and error texts (what a TLS stream
 * says failed: coil_tls_error()).
 *
 * mbedTLS 2.28 matches a host only against dNSName entries (and the CN):
 * its subjectAltName parser skips iPAddress entries. A client that was
 * given an IP literal therefore checks the certificate's iPAddress names
 * here, by walking the extensions' DER (RFC 5280 section 4.2.1.6: "the IP
 * address MUST be stored in the octet string in network byte order", four
 * octets for IPv4, sixteen for IPv6), as browsers and curl do.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>

#include "internal.h"

/* id-ce-subjectAltName, 2.5.29.17 */
static const unsigned char oid_san[] = {0x55, 0x1d, 0x11};

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define EXPLICIT3 (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3)

/* Step into the element with tag @tag at *@p, which must end by *@end: on
 * success *@p is its first content byte and *@end its end. Return: 0, or
 * an MBEDTLS_ERR_ASN1_* code (mbedtls_asn1_get_tag()). */
static int enter(unsigned char **p, const unsigned char **end, int tag)
{
	size_t len;
	int ret = mbedtls_asn1_get_tag(p, *end, &len, tag);

	if (ret == 0)
		*end = *p + len;
	return ret;
}

/* In GeneralNames, is there an iPAddress [7] equal to @ip? */
static int names_have_ip(unsigned char *p, const unsigned char *end,
			 const unsigned char *ip, int iplen)
{
	size_t len;

	if (enter(&p, &end, SEQ) != 0)
		return 0;
	while (p < end) {
		unsigned char tag = *p++;
		if (mbedtls_asn1_get_len(&p, end, &len) != 0)
			return 0;
		if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
		    len == (size_t)iplen && memcmp(p, ip, len) == 0)
			return 1;
		p += len;
	}
	return 0;
}

int coil__tls_crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip,
			 int iplen)
{
	unsigned char *p = crt->v3_ext.p;
	const unsigned char *end;

	if (!p || !crt->v3_ext.len)
		return 0;
	end = p + crt->v3_ext.len;
	/* the [3] EXPLICIT wrapper, if the buffer still starts with it */
	if (*p == EXPLICIT3 && enter(&p, &end, EXPLICIT3) != 0)
		return 0;
	/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension */
	if (enter(&p, &end, SEQ) != 0)
		return 0;
	while (p < end) {
		/* Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE,
		 * extnValue OCTET STRING } */
		const unsigned char *ext_end = end;
		size_t olen;
		int san;

		if (enter(&p, &ext_end, SEQ) != 0)
			return 0;
		if (mbedtls_asn1_get_tag(&p, ext_end, &olen, MBEDTLS_ASN1_OID))
			return 0;
		san = olen == sizeof(oid_san) &&
		      memcmp(p, oid_san, sizeof(oid_san)) == 0;
		p += olen;
		if (san) {
			int crit;
			if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
			    mbedtls_asn1_get_bool(&p, ext_end, &crit) != 0)
				return 0;
			if (mbedtls_asn1_get_tag(&p, ext_end, &olen,
						 MBEDTLS_ASN1_OCTET_STRING))
				return 0;
			return names_have_ip(p, p + olen, ip, iplen);
		}
		p = (unsigned char *)ext_end;
	}
	return 0;
}

unsigned coil__tls_verify_bits(uint32_t f)
{
	unsigned bits = 0;
	uint32_t known =
		MBEDTLS_X509_BADCERT_CN_MISMATCH |
		MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE |
		MBEDTLS_X509_BADCERT_NOT_TRUSTED |
		MBEDTLS_X509_BADCERT_REVOKED | MBEDTLS_X509_BADCERT_MISSING |
		MBEDTLS_X509_BADCERT_SKIP_VERIFY;

	if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		bits |= COIL_TLS_BAD_HOST;
	if (f & MBEDTLS_X509_BADCERT_EXPIRED)
		bits |= COIL_TLS_BAD_EXPIRED;
	if (f & MBEDTLS_X509_BADCERT_FUTURE)
		bits |= COIL_TLS_BAD_NOT_YET;
	if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		bits |= COIL_TLS_BAD_UNKNOWN_CA;
	if (f & MBEDTLS_X509_BADCERT_REVOKED)
		bits |= COIL_TLS_BAD_REVOKED;
	if (f & MBEDTLS_X509_BADCERT_MISSING)
		bits |= COIL_TLS_BAD_MISSING;
	if (f & ~known)
		bits |= COIL_TLS_BAD_OTHER;
	return bits;
}

const char *coil__tls_alert_name(int alert)
{
	switch (alert) {
	case 0:
		return "close_notify";
	case 10:
		return "unexpected_message";
	case 20:
		return "bad_record_mac";
	case 22:
		return "record_overflow";
	case 40:
		return "handshake_failure";
	case 42:
		return "bad_certificate";
	case 43:
		return "unsupported_certificate";
	case 44:
		return "certificate_revoked";
	case 45:
		return "certificate_expired";
	case 46:
		return "certificate_unknown";
	case 47:
		return "illegal_parameter";
	case 48:
		return "unknown_ca";
	case 49:
		return "access_denied";
	case 50:
		return "decode_error";
	case 51:
		return "decrypt_error";
	case 70:
		return "protocol_version";
	case 71:
		return "insufficient_security";
	case 80:
		return "internal_error";
	case 86:
		return "inappropriate_fallback";
	case 90:
		return "user_canceled";
	case 100:
		return "no_renegotiation";
	case 109:
		return "missing_extension";
	case 110:
		return "unsupported_extension";
	case 112:
		return "unrecognized_name";
	case 113:
		return "bad_certificate_status_response";
	case 115:
		return "unknown_psk_identity";
	case 116:
		return "certificate_required";
	case 120:
		return "no_application_protocol";
	}
	return "unknown";
}

void coil__tls_strerror(int ret, char *buf, size_t len)
{
	char tmp[200];
	const char *p = tmp;

	mbedtls_strerror(ret, tmp, sizeof(tmp));
	/* "SSL - The handshake negotiation failed" -> the reason alone */
	if (!strncmp(p, "SSL - ", 6) || !strncmp(p, "X509 - ", 7) ||
	    !strncmp(p, "PK - ", 5) || !strncmp(p, "PEM - ", 6) ||
	    !strncmp(p, "RSA - ", 6) || !strncmp(p, "ECP - ", 6) ||
	    !strncmp(p, "CTR_DRBG - ", 11))
		p = strstr(p, " - ") + 3;
	snprintf(buf, len, "%s", p);
}

/* ---- a stream's error text ---- */

void coil__tls_set_err(struct coil_tls *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

/* Append to a NUL-terminated string in @buf (@size bytes), cutting. */
static void cat(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* The reasons of a refused certificate, ours first, then mbedTLS's
 * (mbedtls_x509_crt_verify_info(), one line per flag). */
static void verify_text(struct coil_tls *t, uint32_t flags)
{
	struct coil_tls__conn *c = t->c;
	unsigned bits = coil__tls_verify_bits(flags);
	char info[512];

	t->info.verify = bits;
	t->err[0] = 0;
	cat(t->err, sizeof(t->err), "certificate verification failed:");
	if (bits & COIL_TLS_BAD_HOST)
		cat(t->err, sizeof(t->err),
		    " host name mismatch (the certificate is not for '%s');",
		    c->host);
	if (bits & COIL_TLS_BAD_EXPIRED)
		cat(t->err, sizeof(t->err), " certificate expired;");
	if (bits & COIL_TLS_BAD_NOT_YET)
		cat(t->err, sizeof(t->err), " certificate not valid yet;");
	if (bits & COIL_TLS_BAD_UNKNOWN_CA)
		cat(t->err, sizeof(t->err),
		    " unknown CA (no trusted certificate issued it);");
	if (bits & COIL_TLS_BAD_REVOKED)
		cat(t->err, sizeof(t->err), " certificate revoked;");
	if (bits & COIL_TLS_BAD_MISSING)
		cat(t->err, sizeof(t->err), " the peer sent no certificate;");
	if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags) < 0)
		info[0] = 0;
	/* one line per flag: join them */
	for (char *p = info; *p; p++) {
		if (*p == '\n')
			*p = p[1] ? ';' : 0;
	}
	cat(t->err, sizeof(t->err), " [mbedTLS: %s]", info);
}

int coil__tls_fail_text(struct coil_tls *t, int ret, const char *what)
{
	struct coil_tls__conn *c = t->c;
	char why[200];

	if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED || c->nomem) {
		coil__tls_set_err(t, "%s: out of memory", what);
		return -ENOMEM;
	}
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		verify_text(t, mbedtls_ssl_get_verify_result(&c->ssl));
		return COIL_ETLS;
	}
	if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		int a = coil__tls_alert_in(&c->ssl);
		t->info.alert = a;
		coil__tls_set_err(t,
				  "%s: alert received from the peer: %s (%d)",
				  what, coil__tls_alert_name(a), a);
		return COIL_ETLS;
	}
	coil__tls_strerror(ret, why, sizeof(why));
	coil__tls_set_err(t, "%s: %s (mbedTLS -0x%04x)", what, why,
			  (unsigned)-ret);
	return COIL_ETLS;
}
