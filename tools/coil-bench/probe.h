/*
 * tools/coil-bench/probe.h - one TLS handshake before the run, so that a
 * --cacert that does not verify the server (another CA, a name that does
 * not match the URL's host, expired) stops coil-bench at once with the
 * reason, instead of a run of nothing but TLS errors.
 */
#ifndef COIL_BENCH_PROBE_H
#define COIL_BENCH_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct coil_tls_config;

/*
 * cb_tls_probe() - connect to @addrs and shake hands as the run's
 * connections will (@cfg, server name @host), on a loop of its own; then
 * close. Sends no request.
 * @timeout_ns: for the connect and for the handshake each.
 * @why:        receives the one-line reason when the certificate was
 *              refused.
 *
 * Only a refused certificate is the probe's business: a refused
 * connection, a timeout or an alert from the server (one that wants a
 * client certificate) are left to the run, which counts them.
 * Return: COIL_ETLS when the server's certificate was refused; 0
 * otherwise (handshake done, or failed for another reason).
 */
int cb_tls_probe(const struct coil_tls_config *cfg, const char *host,
		 const struct sockaddr_storage *addrs, unsigned naddrs,
		 uint64_t timeout_ns, char *why, size_t why_len);

#endif
