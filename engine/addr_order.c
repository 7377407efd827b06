/*
 * engine/addr_order.c - the order in which a TCP stream (engine/tcp.c)
 * tries a host's addresses: Happy Eyeballs (RFC 8305 section 4), the
 * families alternating, the first the resolver's first answer's. Pure
 * bookkeeping over the connect fields of a TCP stream's struct
 * coil__tcp_ext (addrs, next4, next6, last_family);
 * tcp.c calls it, it calls nothing back.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "coil/stream.h"
#include "internal.h"

/* The next untried address of @family at or after *cursor, or -1. */
static int take(struct coil__tcp_ext *t, int family, unsigned *cursor)
{
	while (*cursor < t->naddrs) {
		unsigned i = (*cursor)++;
		if (t->addrs[i].ss_family == family)
			return (int)i;
	}
	return -1;
}

/* Happy Eyeballs order (RFC 8305 section 4): alternate families, starting
 * with the family of the resolver's first answer. */
const struct sockaddr_storage *coil__tcp_next_addr(struct coil__tcp_ext *t)
{
	int first = t->addrs[0].ss_family;
	int want, i;

	if (first == AF_UNIX) { /* all of them are (coil_tcp_connect()) */
		i = take(t, AF_UNIX, &t->next4);
		return i < 0 ? NULL : &t->addrs[i];
	}
	if (!t->last_family)
		want = first;
	else
		want = t->last_family == AF_INET6 ? AF_INET : AF_INET6;
	i = take(t, want, want == AF_INET ? &t->next4 : &t->next6);
	if (i < 0) {
		want = want == AF_INET ? AF_INET6 : AF_INET;
		i = take(t, want, want == AF_INET ? &t->next4 : &t->next6);
	}
	if (i < 0)
		return NULL;
	t->last_family = want;
	return &t->addrs[i];
}
