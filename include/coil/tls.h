/*
 * coil/tls.h - TLS streams: a second implementation of struct
 * coil_stream_vt (coil/stream.h) that wraps a lower stream, normally a
 * struct coil_tcp, the way curl stacks its TLS filter on its socket filter
 * (lib/cfilters.h, lib/vtls/).
 *
 * The TLS library (mbedTLS) stays behind tls/: nothing here names it.
 * Ciphertext moves through memory: what the lower stream delivers is fed
 * to the TLS engine, what the engine writes is queued on the lower stream;
 * "the engine needs more bytes" or "its output buffers are full" just means
 * "wait for the next completion". Nothing blocks and nothing spins.
 *
 * Three objects, all used from one loop's thread unless said otherwise:
 *  - struct coil_tls_config: what every connection of one side shares:
 *    trust anchors, own certificate and key, ALPN, cipher suites, the
 *    random generator and (server) the session-ticket key. Created once,
 *    read-only afterwards, usable from several loops' threads at once.
 *  - struct coil_tls_cache: a client's saved sessions per host, so that a
 *    reconnect resumes (an abbreviated handshake, RFC 5246 section 7.3,
 *    RFC 5077; a TLS 1.3 ticket, RFC 8446 section 2.2). One per loop, shared by
 * the connections of that loop.
 *  - struct coil_tls: one TLS stream, embedded in the caller's struct.
 *
 * Defaults are the safe ones: a client verifies the server's certificate
 * chain against the system CA bundle and the certificate's names against
 * the host it was given (RFC 6125; IP literals against iPAddress names,
 * RFC 5280 section 4.2.1.6), sends SNI (RFC 6066 section 3, never for IP
 * literals) and ALPN "http/1.1" (RFC 7301), accepts TLS 1.2 and newer only
 * (RFC 8996, RFC 9325) with forward-secret AEAD cipher suites, and refuses
 * to read a connection cut without close_notify as a clean end (RFC 5246
 * section 7.2.1). Skipping verification takes an explicit
 * COIL_TLS_INSECURE.
 *
 * Results: 0 or a count on success; -errno; COIL_ETLS for a TLS failure
 * (the reason, in words, from coil_tls_error()); COIL_ETRUNC for a peer
 * that closed the connection without close_notify.
 */
#ifndef COIL_TLS_H
#define COIL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "coil/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

struct coil_tls_config;
struct coil_tls_cache;
struct coil_tls__conn; /* private to tls/ */
struct coil_pool;      /* coil/async.h */

/* ---- configuration -------------------------------------------------------
 */

/* Protocol versions (the wire values, RFC 8446 section 4.2.1). */
#define COIL_TLS_V1_2 0x0303
#define COIL_TLS_V1_3 0x0304

/* coil_tls_config_opts.flags */
#define COIL_TLS_SERVER (1u << 0) /* the server side (default: client) */
/* Client: accept any certificate for any name. For tests and debugging
 * only; coil_tls_info().verify still reports nothing then. */
#define COIL_TLS_INSECURE (1u << 1)
/* Server: require a client certificate that chains to ca_file/ca_path
 * (mutual TLS, RFC 5246 section 7.4.4). */
#define COIL_TLS_VERIFY_CLIENT (1u << 2)
/* Neither ask for (client) nor issue (server) session tickets, and no
 * server-side session cache: every handshake is a full one. */
#define COIL_TLS_NO_RESUME (1u << 3)

/* The system CA bundle on Debian and its derivatives. */
#define COIL_TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

/*
 * Defaults both sides share. Versions: TLS 1.2 and, with mbedTLS 3.6, TLS
 * 1.3, preferred (mbedTLS 2.28 speaks TLS 1.2 only). Cipher suites: TLS
 * 1.3's AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; then TLS 1.2's, in
 * this order (Mozilla's "intermediate" list, RFC 9325 section 4.2):
 * ECDHE-ECDSA and ECDHE-RSA with AES-128-GCM, AES-256-GCM,
 * ChaCha20-Poly1305, then DHE-RSA with the same; nothing without forward
 * secrecy, nothing CBC. Key exchange groups: X25519, P-256, P-384, P-521
 * (a TLS 1.3 client sends its key share for X25519). Signatures: SHA-256
 * and up. Renegotiation off. TLS 1.3 sessions resume by ticket, with a
 * fresh (EC)DHE exchange (PSK with (EC)DHE, RFC 8446 section 4.2.9).
 */

/*
 * Options of coil_tls_config_new(). Zero / NULL means "default" for every
 * field. Strings are read during the call only.
 */
struct coil_tls_config_opts {
	unsigned flags; /* COIL_TLS_* above */
	/* Trust anchors, PEM. Client default (neither set, not insecure):
	 * COIL_TLS_SYSTEM_CA. Both may be set: both are loaded. A server
	 * needs one of them with COIL_TLS_VERIFY_CLIENT. */
	const char *ca_file; /* a bundle of PEM certificates */
	const char *ca_path; /* a directory: every file in it is parsed */
	/* Own certificate chain (leaf first) and private key, PEM. Required
	 * for a server; a client presents them when the server asks (mTLS). */
	const char *cert_file;
	const char *key_file;
	const char *key_password; /* for an encrypted key, else NULL */
	/* ALPN protocols in preference order, NULL-terminated (RFC 7301).
	 * NULL means { "http/1.1", NULL }; a list holding only NULL turns
	 * ALPN off. Each 1..255 bytes, at most 8 of them. */
	const char *const *alpn;
	/* Cipher suites, colon-separated, by their IANA names with dashes as
	 * mbedTLS spells them ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256").
	 * NULL: the default list above. */
	const char *ciphers;
	unsigned min_version; /* COIL_TLS_V1_2 (default) or COIL_TLS_V1_3 */
	unsigned max_version; /* default: the newest the library speaks */
	/* Server: session ticket lifetime (RFC 5077), default 7200 s, and
	 * entries of the session-ID cache, default 1000. */
	uint32_t ticket_lifetime_s;
	unsigned session_cache_size;
	/* Run each handshake step (mbedtls_ssl_handshake(), where the
	 * public-key work is) on this offload pool (coil/async.h) instead
	 * of the loop's thread; NULL: on the loop. Must outlive the
	 * configuration. See docs/BENCHMARKS.md, section tls, for when it
	 * pays. */
	struct coil_pool *handshake_pool;
};

/*
 * coil_tls_config_new() - load certificates and keys and build a
 * configuration for one side (client or server).
 * @out:    receives the configuration (coil_tls_config_free()).
 * @opts:   options, or NULL for a default client (system CA bundle).
 * @errbuf: receives, when the call fails, the reason in words ("cannot
 *          read /x/ca.pem: No such file or directory", "bad PEM in key.pem:
 *          ...", "key does not match the certificate", "unknown cipher
 *          suite 'FOO'"); may be NULL.
 * @errlen: size of @errbuf in bytes.
 *
 * Reads every file now (nothing is read at handshake time), seeds a
 * CTR_DRBG from the system's entropy (NIST SP 800-90A), and for a server
 * creates the session-ticket key (AES-256-GCM, rotated by mbedTLS every
 * ticket lifetime) and the session-ID cache. The configuration is
 * read-only afterwards: several loops on several threads may use it at
 * once (the random generator and the ticket key take a lock).
 *
 * Return: 0; -EINVAL for NULL @out, a server without cert_file/key_file,
 * a server with COIL_TLS_VERIFY_CLIENT but no CA, only one of
 * cert_file/key_file, unknown flags, a bad ALPN list or cipher suite name,
 * a bad version; -EOPNOTSUPP for a version range this mbedTLS cannot speak
 * (TLS 1.3 needs mbedTLS 3.x); the errno of open(2)/read(2) for a file that
 * cannot be read (-ENOENT, -EACCES, -EISDIR ...); -EFBIG for a file over
 * 16 MiB; COIL_ETLS for a file that is not valid PEM, a key that does not
 * match the certificate, or a failure to seed the generator; -ENOMEM.
 */
int coil_tls_config_new(struct coil_tls_config **out,
			const struct coil_tls_config_opts *opts, char *errbuf,
			size_t errlen);

/*
 * coil_tls_config_free() - free a configuration.
 * @cfg: a configuration no TLS stream uses any more, or NULL.
 *
 * A stream uses its configuration from coil_tls_open()/coil_tls_connect()
 * until its close callback (or its failed handshake's callback) ran.
 *
 * Return: 0 (freed, or NULL @cfg); -EBUSY if streams still use it (then
 * nothing is freed).
 */
int coil_tls_config_free(struct coil_tls_config *cfg);

/* ---- client session cache ------------------------------------------------
 */

/*
 * coil_tls_cache_new() - a cache of client sessions (tickets, or session
 * IDs for servers that issue none), so that a new connection to a host
 * resumes the last session with it.
 * @out:         receives the cache (coil_tls_cache_free()).
 * @max_entries: 1 .. 65536, or 0 for 64. The least recently used entry
 *               goes when it is full.
 *
 * Entries are keyed by the connection's session key (coil_tls_opts) and its
 * configuration, so sessions never cross from one configuration (another
 * client certificate, other trust anchors) to another. A session is saved
 * after every successful TLS 1.2 handshake and for every TLS 1.3 ticket
 * (they come after the handshake, while the stream reads), replaced by the
 * next one, dropped after a failed handshake, a TLS 1.3 ticket the server
 * refused, or (TLS 1.2, mbedTLS 2.28) once its ticket lifetime has passed. Not
 * thread-safe: use one cache per loop.
 *
 * Return: 0; -EINVAL for NULL @out or @max_entries > 65536; -ENOMEM.
 */
int coil_tls_cache_new(struct coil_tls_cache **out, unsigned max_entries);

/* coil_tls_cache_count() - sessions held now (0 for NULL). */
unsigned coil_tls_cache_count(const struct coil_tls_cache *cache);

/*
 * coil_tls_cache_free() - drop every session and free the cache.
 * @cache: a cache no open stream uses, or NULL. A stream uses the cache
 *         until its close callback ran (or its handshake failed): TLS 1.3
 *         tickets arrive after the handshake.
 */
void coil_tls_cache_free(struct coil_tls_cache *cache);

/* ---- TLS streams -----------------------------------------------------------
 */

/* Per-connection options. Zero / NULL means "default" for every field. */
struct coil_tls_opts {
	/* Client: the server's name as the user gave it: a DNS name (sent
	 * as SNI, matched against the certificate's DNS names) or an IP
	 * literal (no SNI, matched against its IP addresses). Required
	 * unless the configuration is COIL_TLS_INSECURE. Copied. Ignored by
	 * a server. */
	const char *host;
	/* Client: save and resume sessions here; NULL: no resumption. */
	struct coil_tls_cache *cache;
	/* Client: the cache key, default "host:port" (the port of the lower
	 * stream's peer address; coil_tls_connect(): of the first address
	 * it tries; host alone without one). Copied. */
	const char *session_key;
	/* The whole handshake, from coil_tls_open() to its callback:
	 * default 30 s; UINT64_MAX for none. -ETIMEDOUT when it passes. */
	uint64_t handshake_timeout_ns;
	/* How long coil_stream_close() waits for close_notify and queued
	 * ciphertext to be sent before closing the lower stream anyway:
	 * default 1 s. */
	uint64_t close_timeout_ns;
};

/* What one connection negotiated; filled in when the handshake ends. */
struct coil_tls_info {
	uint64_t handshake_ns; /* from open (or TCP connected) to done */
	/* CPU time spent inside the TLS library's handshake steps
	 * (CLOCK_THREAD_CPUTIME_ID around each, on the loop's thread or a
	 * pool worker's): the public-key work a step costs */
	uint64_t handshake_cpu_ns;
	/* 1: abbreviated handshake from a saved session (TLS 1.2 ticket or
	 * session ID; TLS 1.3 ticket, PSK with (EC)DHE) */
	int resumed;
	/* client, TLS 1.3: session tickets received so far (they come after
	 * the handshake, while the stream reads, RFC 8446 section 4.6.1) */
	unsigned tickets;
	unsigned verify;  /* COIL_TLS_BAD_* bits of the peer's certificate */
	int alert;	  /* the last fatal alert received (RFC 8446 section
			   * 6), -1 for none */
	char version[16]; /* "TLSv1.2", "TLSv1.3" */
	/* "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", "TLS1-3-AES-128-GCM-SHA256"
	 * (mbedTLS's spelling of the IANA names) */
	char cipher[64];
	/* the key exchange group by its IANA name: "x25519", "secp256r1"...;
	 * "" for a resumed TLS 1.2 session (no key exchange) */
	char group[16];
	char alpn[32]; /* the protocol both chose, or "" */
};

/* coil_tls_info.verify bits: why the certificate was refused. */
#define COIL_TLS_BAD_HOST (1u << 0)	  /* no name matches the host */
#define COIL_TLS_BAD_EXPIRED (1u << 1)	  /* notAfter has passed */
#define COIL_TLS_BAD_NOT_YET (1u << 2)	  /* notBefore is to come */
#define COIL_TLS_BAD_UNKNOWN_CA (1u << 3) /* chains to no trusted CA */
#define COIL_TLS_BAD_REVOKED (1u << 4)	  /* on a CRL */
#define COIL_TLS_BAD_MISSING (1u << 5)	  /* the peer sent none */
#define COIL_TLS_BAD_OTHER (1u << 6)	  /* key usage, weak key/hash... */

/*
 * A TLS stream. Embed it; pass &t->s to the coil_stream_*() functions.
 * Everything after s is private.
 */
struct coil_tls {
	struct coil_stream s;
	/* private to tls/ below this line */
	struct coil_tls__conn *c; /* the TLS engine's state (heap) */
	struct coil_stream *lower;
	coil_stream_connect_cb connect_cb;
	struct coil_op kick; /* posted: run the engine from the loop */
	unsigned st;
	int fail;  /* the stream's error once failed, else 0 */
	int wfail; /* the write side's error, else 0 */
	int rd_end;
	uint64_t t0_ns;
	struct coil_tls_info info;
	char err[256];
};

/*
 * coil_tls_open() - start TLS on a connected lower stream.
 * @t:     unused memory (or a stream whose close callback ran, or whose
 *         handshake failed); initialised here, @t->s.data is kept.
 * @lower: an open, connected stream nobody reads yet (a struct coil_tcp
 *         from coil_tcp_connect()'s callback, or from coil_tcp_open() of a
 *         listener's fd). From a successful call on, @t owns it: it sets
 *         lower->data and its read callback, writes to it, and closes it
 *         when @t closes or its handshake fails. Do not use it directly
 *         any more; its memory must stay valid until @t's close callback
 *         (or @cb with an error) has run.
 * @cfg:   client or server configuration; must outlive the stream.
 * @opts:  per-connection options, or NULL (a verifying client needs
 *         opts->host); read during the call only.
 * @cb:    runs once, from the loop, when the handshake is done: 0, or the
 *         error. After an error the lower stream has been closed too and
 *         @t holds nothing: free both, coil_tls_open() @t again on a new
 *         lower stream, or coil_stream_close() @t as usual. The reason stays
 *         readable with coil_tls_error() until @t is reused.
 *
 * The handshake follows RFC 8446 (TLS 1.3) or RFC 5246 (TLS 1.2), whichever
 * both sides prefer within the configuration's versions. Reading may start (and
 * writes queue -ENOTCONN) before @cb; plaintext is delivered once the handshake
 * is done. Errors to @cb: COIL_ETLS (certificate refused, no common cipher
 * suite or version, alert received, garbage from the peer: see
 * coil_tls_error() and coil_tls_info()); -ETIMEDOUT (handshake timeout);
 * the lower stream's -errno (-ECONNRESET ...); -ECANCELED when @t was
 * closed first.
 *
 * Return: 0 (@cb will run); -EINVAL for NULL @t/@lower/@cfg/@cb, a lower
 * stream that is not open or is closing, a verifying client without
 * opts->host, or a host over 255 bytes; -ENOMEM (@lower stays the
 * caller's; @cb will not run).
 */
int coil_tls_open(struct coil_tls *t, struct coil_stream *lower,
		  const struct coil_tls_config *cfg,
		  const struct coil_tls_opts *opts, coil_stream_connect_cb cb);

/*
 * coil_tls_connect() - coil_tcp_connect() then coil_tls_open(), as one.
 * @t, @tcp: the TLS stream and its lower TCP stream, both unused memory,
 *           kept valid together until @t's close callback (or @cb with an
 *           error) ran.
 * @addrs, @naddrs, @topts: as coil_tcp_connect() (@addrs borrowed until
 *           @cb runs).
 * @cfg, @opts, @cb: as coil_tls_open(); the handshake time and timeout
 *           count from the TCP connection, not from this call.
 *
 * Errors to @cb: those of coil_tcp_connect() and of coil_tls_open().
 * Return: 0; the errors of coil_tcp_connect() and coil_tls_open() (then
 * @cb will not run and nothing is held).
 */
int coil_tls_connect(struct coil_loop *loop, struct coil_tls *t,
		     struct coil_tcp *tcp, const struct sockaddr_storage *addrs,
		     unsigned naddrs, const struct coil_tcp_opts *topts,
		     const struct coil_tls_config *cfg,
		     const struct coil_tls_opts *opts,
		     coil_stream_connect_cb cb);

/*
 * Using a TLS stream: the coil_stream_*() functions of coil/stream.h, with
 * these meanings:
 *  - read: plaintext, one record (up to 16 KiB) per callback. 0 = the peer
 *    sent close_notify (a clean end). COIL_ETRUNC = the peer closed the
 *    connection without close_notify (data may be missing, RFC 5246
 *    section 7.2.1); COIL_ETLS = a fatal alert or a record that does not
 *    authenticate; the lower stream's -errno. Pausing reading pauses the
 *    lower stream too (back-pressure reaches TCP).
 *  - write: each request's callback runs once the ciphertext of its last
 *    byte was handed to the kernel. Small writes queued together are
 *    gathered into one record; large ones are cut into 16 KiB records.
 *    -ENOTCONN before the handshake is done.
 *  - shutdown: sends close_notify after the queued writes, then shuts
 *    down TCP's sending side. Reading goes on.
 *  - close: queued writes not yet encrypted complete with -ECANCELED;
 *    close_notify goes out (unless the stream failed or already sent it),
 *    waiting at most close_timeout_ns for the ciphertext still queued;
 *    then the lower stream is closed, then the close callback runs.
 *  - set_timeouts: passed to the lower stream (its deadlines end this
 *    stream with -ETIMEDOUT).
 *  - fd: the lower stream's socket.
 *  - stats: plaintext bytes; recvs counts records delivered, sends
 *    records written. coil_stream_stats(lower) counts the ciphertext.
 */

/*
 * coil_tls_of() - the TLS stream behind a stream, or NULL if @s is NULL or
 * not a TLS stream.
 */
struct coil_tls *coil_tls_of(struct coil_stream *s);

/*
 * coil_tls_error() - why the TLS stream behind @s failed, in words, as
 * mbedTLS explains it (mbedtls_strerror(), mbedtls_x509_crt_verify_info())
 * with coil's context: "certificate verification failed: the certificate
 * name does not match the host 'wrong.example'; ...", "alert received:
 * handshake_failure (40)", "peer closed the connection without close_notify
 * (truncation)", "handshake timed out".
 * Return: the text ("" when nothing failed), valid until the stream is
 * reused; NULL if @s is not a TLS stream.
 */
const char *coil_tls_error(const struct coil_stream *s);

/*
 * coil_tls_info() - what the handshake negotiated and how long it took.
 * Return: the stream's info (fields zero / "" before the handshake ends;
 * verify and alert are also set after a failed one); NULL for NULL @t.
 */
const struct coil_tls_info *coil_tls_info(const struct coil_tls *t);

/*
 * coil_tls_parse_versions() - a command line's TLS version choice.
 * @s:   "1.2" or "1.3" (that version only), or a "MIN-MAX" pair
 *       ("1.2-1.3"); "TLSv1.3" spellings are taken too.
 * @min: receives COIL_TLS_V1_2 or COIL_TLS_V1_3 (for
 *       coil_tls_config_opts.min_version).
 * @max: receives the same for max_version.
 *
 * Return: 0; -EINVAL for anything else or MIN above MAX. Whether this
 * build speaks the version is coil_tls_config_new()'s to say
 * (-EOPNOTSUPP for TLS 1.3 only, with mbedTLS 2.28).
 */
int coil_tls_parse_versions(const char *s, unsigned *min, unsigned *max);

/*
 * coil_tls_version() - the TLS library this coil was built with, e.g.
 * "mbed TLS 2.28.3". Return: a static string.
 */
const char *coil_tls_version(void);

#ifdef __cplusplus
}
#endif
#endif /* COIL_TLS_H */
