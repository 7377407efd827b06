/*
 * tls/negotiated.c - what a handshake negotiated that mbedTLS keeps to
 * itself: the key exchange group, and whether the session was resumed.
 *
 * handshake.c runs the handshake one mbedtls_ssl_handshake_step() at a time
 * and shows each step's result here. A full handshake passes through the
 * state where the server's certificate is sent or received; a resumed one
 * (RFC 5246 section 7.3; RFC 8446 section 2.2, PSK with (EC)DHE) skips it,
 * on either side, in TLS 1.2 and 1.3, in mbedTLS 2.28 and 3.6 alike. The
 * group is the one in the ServerHello's key_share (TLS 1.3, RFC 8446
 * section 4.2.8) or the ServerKeyExchange's named curve (TLS 1.2, RFC 8422
 * section 5.4): both travel in plaintext. A client finds it in the message
 * the step just read; a server in the records it sends (its own out_msg
 * has moved on by then: mbedTLS points it where the next, encrypted
 * record's plaintext goes).
 */

#include <stdio.h>

#include "internal.h"

#define HS_SERVER_HELLO 2
#define HS_SERVER_KEY_EXCHANGE 12
#define EXT_KEY_SHARE 0x0033
#define CURVE_NAMED 3 /* ECCurveType named_curve */

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The group in a ServerHello (or HelloRetryRequest) body, or 0. */
static uint16_t server_hello_group(const unsigned char *p,
				   const unsigned char *end)
{
	size_t sid;

	/* legacy_version(2) random(32) legacy_session_id<0..32> */
	if (end - p < 35)
		return 0;
	sid = p[34];
	p += 35 + sid;
	/* cipher_suite(2) legacy_compression_method(1) extensions<..> */
	if (end - p < 5)
		return 0;
	p += 3;
	if ((size_t)(end - p - 2) < be16(p))
		return 0;
	end = p + 2 + be16(p);
	p += 2;
	while (end - p >= 4) {
		unsigned type = be16(p), len = be16(p + 2);
		p += 4;
		if ((size_t)(end - p) < len)
			return 0;
		if (type == EXT_KEY_SHARE && len >= 2)
			return (uint16_t)be16(p);
		p += len;
	}
	return 0;
}

/* A handshake message (header included) that may name the group. */
static void note_msg(const unsigned char *msg, size_t len,
		     struct coil_tls__hs_note *n)
{
	if (len < 4)
		return;
	if (msg[0] == HS_SERVER_HELLO) {
		uint16_t g = server_hello_group(msg + 4, msg + len);
		if (g)
			n->group = g;
	} else if (msg[0] == HS_SERVER_KEY_EXCHANGE && len >= 7) {
		/* ECDHE: curve_type, named_curve; else finite-field DHE */
		n->group = msg[4] == CURVE_NAMED ? (uint16_t)be16(msg + 5)
						 : COIL_TLS__GROUP_FFDHE;
	}
}

void coil__tls_note_step(const mbedtls_ssl_context *ssl, int server,
			 struct coil_tls__hs_note *n)
{
	if (ssl->MBEDTLS_PRIVATE(state) == MBEDTLS_SSL_SERVER_CERTIFICATE)
		n->full = 1;
	/* a client reads the server's messages one at a time */
	if (!server &&
	    ssl->MBEDTLS_PRIVATE(in_msgtype) == MBEDTLS_SSL_MSG_HANDSHAKE &&
	    ssl->MBEDTLS_PRIVATE(in_msg))
		note_msg(ssl->MBEDTLS_PRIVATE(in_msg),
			 ssl->MBEDTLS_PRIVATE(in_hslen), n);
}

void coil__tls_note_sent(const unsigned char *buf, size_t len,
			 struct coil_tls__hs_note *n)
{
	/* whole records, as mbedTLS flushes them; the ones that matter are
	 * plaintext handshake records (content type 22) */
	while (len >= 5) {
		size_t rlen = be16(buf + 3);
		if (len - 5 < rlen)
			return;
		if (buf[0] == MBEDTLS_SSL_MSG_HANDSHAKE)
			note_msg(buf + 5, rlen, n);
		buf += 5 + rlen;
		len -= 5 + rlen;
	}
}

void coil__tls_group_name(uint16_t id, char *buf, size_t len)
{
	/* IANA TLS Supported Groups registry */
	static const struct {
		uint16_t id;
		const char *name;
	} names[] = {
		{0x0017, "secp256r1"}, {0x0018, "secp384r1"},
		{0x0019, "secp521r1"}, {0x001d, "x25519"},
		{0x001e, "x448"},      {0x001a, "brainpoolP256r1"},
		{0x0100, "ffdhe2048"}, {0x0101, "ffdhe3072"},
		{0x0102, "ffdhe4096"}, {COIL_TLS__GROUP_FFDHE, "ffdhe"},
	};

	if (!id) {
		snprintf(buf, len, "%s", "");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].id == id) {
			snprintf(buf, len, "%s", names[i].name);
			return;
		}
	}
	snprintf(buf, len, "0x%04x", id);
}
