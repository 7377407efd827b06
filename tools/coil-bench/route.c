/*
 * tools/coil-bench/route.c - --connect-to, --resolve and --unix-socket
 * (route.h): parsed into tables at the command line, looked up once per
 * host before the run (main.c), never on the hot path.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "../common/parse.h"
#include "route.h"

/* One host field of a spec at @p: "[v6]" or text up to the next ':' (or
 * the end). *@b, *@n: the host without brackets. Return: the character
 * after the field (':' or '\0'), or NULL for an unclosed '[' or junk
 * after ']'. */
static const char *host_field(const char *p, const char **b, size_t *n)
{
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e || (e[1] != ':' && e[1] != '\0'))
			return NULL;
		*b = p + 1;
		*n = (size_t)(e - p - 1);
		return e + 1;
	}
	*b = p;
	*n = strcspn(p, ":");
	return p + *n;
}

/* A port field of @n bytes at @p: "" (when @empty_ok: 0) or 1..65535. */
static int port_field(const char *p, size_t n, int empty_ok, uint16_t *port)
{
	char buf[8];
	uint64_t v;
	if (!n && empty_ok) {
		*port = 0;
		return 0;
	}
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (tools_parse_uint(buf, 1, 65535, &v) < 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static char *dup_or_null(const char *b, size_t n)
{
	return n ? strndup(b, n) : NULL;
}

int cb_route_add_connect_to(struct cb_routes *r, const char *spec, char *err,
			    size_t len)
{
	struct cb_connect_to e = {0}, *nt;
	const char *h1, *h2, *p = spec, *port1, *port2;
	size_t n1, n2, np1;

	p = host_field(p, &h1, &n1);
	if (!p || *p != ':')
		goto bad;
	port1 = ++p;
	np1 = strcspn(p, ":");
	p += np1;
	if (*p != ':')
		goto bad;
	p = host_field(p + 1, &h2, &n2);
	if (!p || *p != ':')
		goto bad;
	port2 = p + 1;
	if (port_field(port1, np1, 1, &e.from_port) < 0 ||
	    port_field(port2, strlen(port2), 1, &e.to_port) < 0)
		return tools_fail(err, len,
				  "bad --connect-to '%s': a port must be empty "
				  "or 1-65535",
				  spec);
	e.from_host = dup_or_null(h1, n1);
	e.to_host = dup_or_null(h2, n2);
	nt = realloc(r->ct, (r->n_ct + 1) * sizeof(*nt));
	if ((n1 && !e.from_host) || (n2 && !e.to_host) || !nt) {
		free(e.from_host);
		free(e.to_host);
		if (nt)
			r->ct = nt;
		tools_fail(err, len, "out of memory");
		return -ENOMEM;
	}
	r->ct = nt;
	r->ct[r->n_ct++] = e;
	return 0;
bad:
	return tools_fail(err, len,
			  "bad --connect-to '%s' (expected "
			  "HOST1:PORT1:HOST2:PORT2, fields may be empty, "
			  "IPv6 in [])",
			  spec);
}

/* One address of a --resolve list: an IPv4 or IPv6 literal, the latter
 * bare or in brackets. */
static int parse_addr(const char *b, size_t n, uint16_t port,
		      struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];
	if (n >= 2 && b[0] == '[' && b[n - 1] == ']') {
		b++;
		n -= 2;
	}
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, b, n);
	buf[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, buf, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

int cb_route_add_resolve(struct cb_routes *r, const char *spec, char *err,
			 size_t len)
{
	struct cb_resolve_entry e, *nr;
	const char *h, *p = spec, *port;
	size_t nh, np;

	memset(&e, 0, sizeof(e));
	if (*p == '-')
		return tools_fail(err, len,
				  "--resolve '%s': removing an entry ('-') "
				  "means nothing here: leave it out",
				  spec);
	if (*p == '+')
		p++; /* curl: an entry that times out; one run: the same */
	p = host_field(p, &h, &nh);
	if (!p || *p != ':' || !nh)
		goto bad;
	port = ++p;
	np = strcspn(p, ":");
	p += np;
	if (*p != ':' || port_field(port, np, 0, &e.port) < 0)
		goto bad;
	for (p++;;) {
		size_t n = strcspn(p, ",");
		if (e.naddrs == COIL_RESOLVE_MAX)
			return tools_fail(err, len,
					  "--resolve '%s': more than %d "
					  "addresses",
					  spec, COIL_RESOLVE_MAX);
		if (parse_addr(p, n, e.port, &e.addrs[e.naddrs]) < 0)
			return tools_fail(err, len,
					  "--resolve '%s': '%.*s' is not an "
					  "IPv4 or IPv6 address",
					  spec, (int)n, p);
		e.naddrs++;
		if (!p[n])
			break;
		p += n + 1;
	}
	e.host = strndup(h, nh);
	nr = realloc(r->rs, (r->n_rs + 1) * sizeof(*nr));
	if (!e.host || !nr) {
		free(e.host);
		if (nr)
			r->rs = nr;
		tools_fail(err, len, "out of memory");
		return -ENOMEM;
	}
	r->rs = nr;
	r->rs[r->n_rs++] = e;
	return 0;
bad:
	return tools_fail(err, len,
			  "bad --resolve '%s' (expected "
			  "HOST:PORT:ADDR[,ADDR...], HOST may be '*')",
			  spec);
}

int cb_route_set_unix(struct cb_routes *r, const char *path, char *err,
		      size_t len)
{
	struct sockaddr_un un;
	if (!*path)
		return tools_fail(err, len, "--unix-socket needs a path");
	if (strlen(path) >= sizeof(un.sun_path))
		return tools_fail(err, len,
				  "--unix-socket '%s' is too long (at most "
				  "%zu bytes)",
				  path, sizeof(un.sun_path) - 1);
	r->unix_path = path;
	return 0;
}

int cb_route_check(const struct cb_routes *r, char *err, size_t len)
{
	if (r->unix_path && (r->n_ct || r->n_rs))
		return tools_fail(err, len,
				  "--unix-socket excludes --connect-to and "
				  "--resolve: every connection goes to the "
				  "socket");
	return 0;
}

void cb_route_connect_to(const struct cb_routes *r, const char *host,
			 uint16_t port, const char **chost, uint16_t *cport)
{
	*chost = host;
	*cport = port;
	for (size_t i = 0; i < r->n_ct; i++) {
		const struct cb_connect_to *e = &r->ct[i];
		if (e->from_host && strcasecmp(e->from_host, host) != 0)
			continue;
		if (e->from_port && e->from_port != port)
			continue;
		if (e->to_host)
			*chost = e->to_host;
		if (e->to_port)
			*cport = e->to_port;
		return;
	}
}

unsigned cb_route_lookup(const struct cb_routes *r, const char *host,
			 uint16_t port, struct sockaddr_storage *addrs)
{
	for (size_t i = 0; i < r->n_rs; i++) {
		const struct cb_resolve_entry *e = &r->rs[i];
		if (e->port != port ||
		    (strcmp(e->host, "*") != 0 && strcasecmp(e->host, host)))
			continue;
		memcpy(addrs, e->addrs, e->naddrs * sizeof(*addrs));
		return e->naddrs;
	}
	return 0;
}

int cb_route_unix_addr(const struct cb_routes *r, struct sockaddr_storage *addr)
{
	struct sockaddr_un *un = (struct sockaddr_un *)addr;
	if (!r->unix_path)
		return 0;
	memset(addr, 0, sizeof(*addr));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, r->unix_path, strlen(r->unix_path) + 1);
	return 1;
}

void cb_routes_free(struct cb_routes *r)
{
	for (size_t i = 0; i < r->n_ct; i++) {
		free(r->ct[i].from_host);
		free(r->ct[i].to_host);
	}
	for (size_t i = 0; i < r->n_rs; i++)
		free(r->rs[i].host);
	free(r->ct);
	free(r->rs);
	memset(r, 0, sizeof(*r));
}
