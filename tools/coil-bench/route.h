/*
 * tools/coil-bench/route.h - where coil-bench's connections go, spelled as
 * curl spells it (curl(1): --connect-to, --resolve, --unix-socket):
 *
 *   --connect-to HOST1:PORT1:HOST2:PORT2  a request for HOST1:PORT1
 *       connects to HOST2:PORT2 instead. HOST1 or PORT1 empty: any host or
 *       port; HOST2 or PORT2 empty: the request's own. The first entry
 *       that matches wins. IPv6 literals in brackets ("[::1]").
 *   --resolve HOST:PORT:ADDR[,ADDR...]    HOST:PORT resolves to these
 *       addresses instead of asking DNS ("*" as HOST: any host; a leading
 *       '+' is taken and ignored, as curl's timed entries mean nothing for
 *       one run). It applies to the host actually connected to, after
 *       --connect-to, as in curl (its DNS cache answers the connect-to
 *       host).
 *   --unix-socket PATH                    every connection goes to this
 *       Unix stream socket (unix(7)); excludes the two above.
 *
 * In every case the request's Host header and the TLS server name (SNI
 * and the certificate check) stay the URL's host.
 */
#ifndef COIL_BENCH_ROUTE_H
#define COIL_BENCH_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/async.h"

struct cb_connect_to {
	char *from_host;    /* NULL: any host (owned) */
	uint16_t from_port; /* 0: any port */
	char *to_host;	    /* NULL: the request's host (owned) */
	uint16_t to_port;   /* 0: the request's port */
};

struct cb_resolve_entry {
	char *host; /* "*" for any host (owned) */
	uint16_t port;
	struct sockaddr_storage addrs[COIL_RESOLVE_MAX]; /* port set */
	unsigned naddrs;
};

struct cb_routes {
	struct cb_connect_to *ct; /* in command-line order (owned) */
	size_t n_ct;
	struct cb_resolve_entry *rs; /* in command-line order (owned) */
	size_t n_rs;
	const char *unix_path; /* --unix-socket PATH (argv) or NULL */
};

/*
 * cb_route_add_connect_to() - parse one --connect-to value into @r.
 * @err: receives a one-line message on failure (@len bytes).
 * Return: 0; -EINVAL for a malformed value (not four fields, a bad port,
 * an unclosed '['); -ENOMEM.
 */
int cb_route_add_connect_to(struct cb_routes *r, const char *spec, char *err,
			    size_t len);

/*
 * cb_route_add_resolve() - parse one --resolve value into @r.
 * Return: 0; -EINVAL for a malformed value (missing field, bad port, an
 * address that is not an IPv4 or IPv6 literal, more than
 * COIL_RESOLVE_MAX addresses, a '-' removal entry); -ENOMEM.
 */
int cb_route_add_resolve(struct cb_routes *r, const char *spec, char *err,
			 size_t len);

/*
 * cb_route_set_unix() - --unix-socket PATH (borrowed: argv).
 * Return: 0; -EINVAL for an empty path or one longer than sun_path holds.
 */
int cb_route_set_unix(struct cb_routes *r, const char *path, char *err,
		      size_t len);

/*
 * cb_route_check() - what the options exclude, once all are parsed.
 * Return: 0; -EINVAL with a message (--unix-socket with --connect-to or
 * --resolve).
 */
int cb_route_check(const struct cb_routes *r, char *err, size_t len);

/*
 * cb_route_connect_to() - the host and port a request for @host:@port
 * connects to (after --connect-to; @host and @port themselves when no
 * entry matches). *@chost points into @r or is @host.
 */
void cb_route_connect_to(const struct cb_routes *r, const char *host,
			 uint16_t port, const char **chost, uint16_t *cport);

/*
 * cb_route_lookup() - the addresses --resolve gives @host:@port (after
 * cb_route_connect_to()), copied into @addrs (room for
 * COIL_RESOLVE_MAX). Return: how many; 0 when no entry matches (then
 * resolve @host by DNS).
 */
unsigned cb_route_lookup(const struct cb_routes *r, const char *host,
			 uint16_t port, struct sockaddr_storage *addrs);

/*
 * cb_route_unix_addr() - --unix-socket's address as one sockaddr_storage
 * (AF_UNIX). Return: 1 with @addr set; 0 without --unix-socket.
 */
int cb_route_unix_addr(const struct cb_routes *r,
		       struct sockaddr_storage *addr);

/* cb_routes_free() - what the add functions allocated; @r is zeroed. */
void cb_routes_free(struct cb_routes *r);

#endif
