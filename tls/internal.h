/*
 * tls/internal.h - what the files of tls/ share: the configuration and
 * per-connection structs (they hold mbedTLS types, so they live here and
 * never in include/coil/tls.h), the client session cache's entry points,
 * certificate-name and error-text helpers, and the few mbedTLS calls whose
 * signatures changed in 3.x, behind MBEDTLS_VERSION_NUMBER checks.
 */
#ifndef COIL_TLS_INTERNAL_H
#define COIL_TLS_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#include <mbedtls/config.h>
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

#include "coil/tls.h"

/* mbedTLS 3.x made struct fields private; 2.x has no such macro. */
#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

#define COIL_TLS_MAX_ALPN 8

struct coil_tls_config {
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own;
	mbedtls_pk_context key;
	mbedtls_ssl_ticket_context ticket;
	mbedtls_ssl_cache_context cache;
	unsigned flags; /* COIL_TLS_* */
	int has_ca;	/* ca holds at least one certificate */
	int has_own;	/* own + key loaded */
	int has_ticket; /* ticket set up (server, resumption on) */
	int has_cache;	/* cache set up (server, resumption on) */
	int *ciphers;	/* 0-terminated, or NULL for the default */
	char *alpn_buf; /* the protocol names, one allocation */
	const char *alpn[COIL_TLS_MAX_ALPN + 1];
	atomic_int users;	/* streams using this configuration */
	struct coil_pool *pool; /* handshake steps run here, if set */
};

/* Output slots: ciphertext waiting for, or in, a write on the lower
 * stream. A ring of NSLOT buffers of SLOT_CAP bytes, allocated on first
 * use, so a connection that only exchanges small messages holds one. */
#define COIL_TLS_NSLOT 8
#define COIL_TLS_SLOT_CAP 8192

enum slot_state { SLOT_FREE, SLOT_FILL, SLOT_SEND };

struct coil_tls__slot {
	struct coil_stream_write w; /* the write on the lower stream */
	unsigned char *buf;
	size_t len;
	enum slot_state state;
	/* plaintext requests whose last byte is in this slot: they complete
	 * when it was sent */
	struct coil_stream_write *done_head, *done_tail;
};

/* What the handshake showed so far (negotiated.c). */
struct coil_tls__hs_note {
	uint16_t group; /* IANA group id, 0 for none (a resumed TLS 1.2) */
	int full;	/* the certificate went by: not resumed */
};

/* Finite-field DHE in a TLS 1.2 ServerKeyExchange (no group id there). */
#define COIL_TLS__GROUP_FFDHE 0xff00

struct coil_tls__conn {
	mbedtls_ssl_context ssl;
	struct coil_tls *t;
	const struct coil_tls_config *cfg;
	/* client */
	struct coil_tls_cache *cache;
	char *session_key;
	int offered;	 /* a saved session was offered */
	int host_ip_len; /* 4 or 16: the host is an IP literal */
	unsigned char host_ip[16];
	char host[256];
	/* what the handshake steps showed (negotiated.c); note_sent: a
	 * server in handshake looks at what it sends */
	struct coil_tls__hs_note note;
	int note_sent;
	/* input: the bytes the TLS engine reads next (the lower stream's
	 * buffer during its read callback, or the stash) */
	const unsigned char *src;
	size_t src_len;
	unsigned char *stash; /* ciphertext not consumed yet */
	size_t stash_off, stash_len, stash_cap;
	/* output */
	struct coil_tls__slot slot[COIL_TLS_NSLOT];
	unsigned fill;	    /* slot being filled */
	unsigned sub;	    /* next slot to submit */
	unsigned nsend;	    /* slots submitted and not completed */
	int nomem;	    /* a slot could not be allocated */
	uint64_t out_bytes; /* ciphertext bio_send() took, in all */
	size_t wpend;	    /* an mbedtls_ssl_write() to repeat, its length */
	coil_stream_write_cb slot_sent; /* the session's, for a slot's write */
	/* plaintext write queue (not yet encrypted) */
	struct coil_stream_write *wq_head, *wq_tail;
	struct coil_stream_write *user_shut; /* the caller's shutdown */
	struct coil_stream_write lshut;	     /* our shutdown of lower */
	/* the handshake deadline and the close deadline */
	struct coil_op hs_tmr;
	struct coil_op cl_tmr;
	uint64_t hs_timeout_ns;
	uint64_t close_timeout_ns;
	/* coil_tls_connect(): the TCP stream being connected */
	struct coil_tcp *tcp;
	/* handshake steps */
	int hs_last;	 /* the last step's result (0: none yet) */
	uint64_t job_ns; /* time the last step took */
	/* ... on the configuration's pool (S_JOB) */
	struct coil_op job;
	int jmode;	     /* bio_send() writes to jout (a worker runs) */
	int job_ret;	     /* the worker's mbedtls_ssl_handshake() result */
	uint64_t job_out0;   /* out_bytes when the job started */
	unsigned char *jout; /* ciphertext the worker wrote */
	size_t jout_len, jout_cap;
	unsigned char *inbox; /* ciphertext that came during the job */
	size_t inbox_len, inbox_cap;
};

/* ---- the session's state: session.c, and the parts it runs (record.c,
 * handshake.c) ---- */

/* t->st bits */
#define S_HS (1u << 0)		 /* handshake running: connect_cb pending */
#define S_UP (1u << 1)		 /* handshake done */
#define S_RWANT (1u << 2)	 /* the caller reads (started, not paused) */
#define S_RDONE (1u << 3)	 /* end or error delivered */
#define S_SHUT (1u << 4)	 /* shutdown queued: no more writes */
#define S_NOTIFY (1u << 5)	 /* close_notify produced */
#define S_NOTIFY_PEND (1u << 6)	 /* close_notify waits for a free slot */
#define S_LREAD (1u << 7)	 /* the lower stream reads for us */
#define S_LEND (1u << 8)	 /* the lower stream delivered EOF (rd_end) */
#define S_LCLOSE (1u << 9)	 /* lower close called */
#define S_LCLOSED (1u << 10)	 /* lower close callback ran */
#define S_DEAD (1u << 11)	 /* engine state freed: holds nothing */
#define S_PEER_NOTIFY (1u << 12) /* the peer's close_notify arrived */
#define S_PUMPING (1u << 13)	 /* delivering: no nesting */
#define S_HSFAIL (1u << 14)	 /* handshake failed: tearing down */
#define S_CONNECTING (1u << 15)	 /* coil_tls_connect(): TCP connecting */
#define S_CLOSE_STEP (1u << 16)	 /* close_step done once */
#define S_JOB (1u << 17)	 /* a pool worker runs a handshake step */

static inline int coil__tls_closing(const struct coil_tls *t)
{
	return (t->s.flags & COIL_STREAM_CLOSING) != 0;
}

/* ---- record.c: the records, both ways ---- */

/* Fail every queued plaintext write with @err. */
void coil__tls_fail_wq(struct coil_tls *t, int err);
/* The stream fails with @err (the first failure stays): the queued
 * writes complete with it, the read callback gets it next. */
void coil__tls_fail_stream(struct coil_tls *t, int err);
/* Hand every filled output slot to the lower stream, in order; each
 * completes through c->slot_sent. */
void coil__tls_flush(struct coil_tls *t);
/* Encrypt queued plaintext while the output slots have room; a queued
 * shutdown sends close_notify and shuts the lower stream's writing. */
void coil__tls_encrypt(struct coil_tls *t);
/* Produce close_notify (RFC 5246 section 7.2.1) once. Return: 0;
 * MBEDTLS_ERR_SSL_WANT_WRITE (S_NOTIFY_PEND: again when a slot is free);
 * another mbedTLS error. */
int coil__tls_send_notify(struct coil_tls *t);
/* Deliver plaintext while the caller reads; the end or a failure last. */
void coil__tls_pump(struct coil_tls *t);

/* ---- handshake.c: the handshake's runs ---- */

/* What a run came to; a failure is negative instead (t->err written, an
 * alert queued for the peer). */
enum coil_tls__hs_outcome {
	COIL_TLS__HS_WAIT,  /* for input, output room or the pool job */
	COIL_TLS__HS_AGAIN, /* stopped short of the input: run it again */
	COIL_TLS__HS_DONE,  /* over: t->info filled, the session saved */
};

/* Run the handshake as far as it goes now: on the loop, or on the
 * configuration's pool (S_JOB set; c->job completes, to the callback the
 * session initialised it with). Return: an outcome or a failure. */
int coil__tls_hs_run(struct coil_tls *t);
/* The pool job completed: S_JOB cleared, what came in meanwhile queued
 * behind what the step left. */
void coil__tls_hs_job_end(struct coil_tls *t);
/* What the pool job came to; @res: its op's result (negative: cancelled
 * before it ran). Return: an outcome or a failure. */
int coil__tls_hs_job_result(struct coil_tls *t, int res);

/* ---- cache.c ---- */

/* Offer the saved session for (key, cfg) to @ssl. Return: 1 if one was
 * set, 0 if none. */
int coil__tls_cache_offer(struct coil_tls_cache *cache, const char *key,
			  const struct coil_tls_config *cfg,
			  mbedtls_ssl_context *ssl);
/* Save @ssl's session for (key, cfg), replacing an older one: after a TLS
 * 1.2 handshake, or when a TLS 1.3 ticket came (after the handshake). */
void coil__tls_cache_save(struct coil_tls_cache *cache, const char *key,
			  const struct coil_tls_config *cfg,
			  const mbedtls_ssl_context *ssl);
/* Forget the session for (key, cfg). */
void coil__tls_cache_drop(struct coil_tls_cache *cache, const char *key,
			  const struct coil_tls_config *cfg);

/* ---- conn.c ---- */

/* Build t->c for @cfg and @o (coil_tls_open()'s and coil_tls_connect()'s
 * arguments, checked): mbedTLS set up, host and session key, nothing
 * started. The default session key is "host:port" with the port of
 * @addr0 (coil_tls_connect(): the first address it tries) or, when NULL,
 * of the lower stream's peer (t->lower set). The session owns it from
 * then on (its timers, and freeing it). Return: 0; -ENOMEM; -EINVAL (a
 * host mbedTLS refuses). */
int coil__tls_conn_new(struct coil_tls *t, const struct coil_tls_config *cfg,
		       const struct coil_tls_opts *o,
		       const struct sockaddr_storage *addr0);

/* ---- bio.c: the memory BIO ---- */

/* mbedtls_ssl_set_bio()'s callbacks; @ctx is the struct coil_tls__conn. */
int coil__tls_bio_recv(void *ctx, unsigned char *buf, size_t len);
int coil__tls_bio_send(void *ctx, const unsigned char *buf, size_t len);
/* Ciphertext waiting for mbedTLS (the lower buffer's rest and the stash). */
size_t coil__tls_in_avail(const struct coil_tls__conn *c);
/* Append to a growable buffer (@len bytes used of @cap), doubling it
 * from 4096 bytes when full. Return: 0 or -ENOMEM (as it was). */
int coil__tls_buf_add(unsigned char **buf, size_t *len, size_t *cap,
		      const void *p, size_t n);
/* Append to the stash. Return: 0 or -ENOMEM. */
int coil__tls_stash_add(struct coil_tls__conn *c, const void *p, size_t n);
/* Move the rest of the lower stream's buffer to the stash. */
int coil__tls_src_keep(struct coil_tls__conn *c);
/* Bytes coil__tls_bio_send() can take now without a lower write ending. */
size_t coil__tls_out_room(const struct coil_tls__conn *c);
/* The slot that got the newest bytes, if they are not sent yet. */
struct coil_tls__slot *coil__tls_newest_pending(struct coil_tls__conn *c);

/* ---- verify.c ---- */

/* Does @crt name the IP address @ip (@len 4 or 16) in its subjectAltName
 * iPAddress entries (RFC 5280 section 4.2.1.6)? Return 1 or 0. */
int coil__tls_crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip,
			 int len);
/* COIL_TLS_BAD_* bits of mbedTLS's MBEDTLS_X509_BADCERT_* flags. */
unsigned coil__tls_verify_bits(uint32_t flags);
/* The alert's name (RFC 8446 section 6, RFC 5246 section 7.2), or
 * "unknown". */
const char *coil__tls_alert_name(int alert);
/* mbedtls_strerror() into @buf, shortened to the reason. */
void coil__tls_strerror(int ret, char *buf, size_t len);
/* printf into t->err: what failed, in words (coil_tls_error()). */
void coil__tls_set_err(struct coil_tls *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* t->err for mbedTLS's @ret during @what ("handshake failed"): the
 * certificate's faults, the peer's alert, or mbedTLS's reason.
 * Return: the code for the caller (-ENOMEM or COIL_ETLS). */
int coil__tls_fail_text(struct coil_tls *t, int ret, const char *what);

/* ---- negotiated.c ---- */

/* Note what the handshake step that just ran on @ssl shows (the
 * certificate state; a client: the group in the message it read). */
void coil__tls_note_step(const mbedtls_ssl_context *ssl, int server,
			 struct coil_tls__hs_note *n);
/* A server: note the group from the ciphertext it sends (@buf, @len: what
 * mbedTLS handed to bio_send()) while the handshake runs. */
void coil__tls_note_sent(const unsigned char *buf, size_t len,
			 struct coil_tls__hs_note *n);
/* The group's IANA name ("x25519", "secp256r1"), "" for 0. */
void coil__tls_group_name(uint16_t id, char *buf, size_t len);

/* ---- config.c ---- */

/* The configuration's random generator (thread-safe). */
int coil__tls_rng(void *cfg, unsigned char *out, size_t len);

/* ---- mbedTLS 2.x / 3.x differences ---- */

static inline int coil__tls_hs_over(const mbedtls_ssl_context *ssl)
{
	return ssl->MBEDTLS_PRIVATE(state) == MBEDTLS_SSL_HANDSHAKE_OVER;
}

/* The negotiated version: COIL_TLS_V1_2 or COIL_TLS_V1_3. */
static inline unsigned coil__tls_version_of(const mbedtls_ssl_context *ssl)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return (unsigned)mbedtls_ssl_get_version_number(ssl);
#else
	return 0x0300u | (unsigned)ssl->minor_ver;
#endif
}

static inline int coil__tls_alert_in(const mbedtls_ssl_context *ssl)
{
	return ssl->MBEDTLS_PRIVATE(in_msg)[1];
}

#endif
