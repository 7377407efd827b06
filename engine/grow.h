/*
 * engine/grow.h - the one growth rule of coil's heap byte buffers that
 * take what cannot be handed on at once: a paused TCP stream's spill
 * (engine/tcp.c), the TLS stash and handshake job buffers
 * (tls/session.c), the HTTP client's response head and body
 * (http/client_exchange.c), the HTTP server's input buffer and request
 * bodies (http/server.c, http/server_body.c). Internal: included by those
 * files only.
 */
#ifndef COIL_ENGINE_GROW_H
#define COIL_ENGINE_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Grow the heap buffer @buf of *@cap bytes (*@cap < @need) by realloc(3)
 * to the first of @min_cap, 2 * @min_cap, 4 * @min_cap ... (or of twice
 * *@cap ... when it has a capacity already) that holds @need bytes.
 * Return: the buffer, with *@cap updated, or NULL when out of memory or
 * @need is above SIZE_MAX / 2 (then @buf and *@cap are as they were). */
static inline void *coil__grow(void *buf, size_t *cap, size_t need,
			       size_t min_cap)
{
	size_t ncap = *cap ? *cap : min_cap;
	void *b;

	/* doubling past SIZE_MAX / 2 would wrap to 0 and never end */
	if (need > SIZE_MAX / 2 || ncap == 0)
		return NULL;
	while (ncap < need)
		ncap *= 2;
	b = realloc(buf, ncap);
	if (b)
		*cap = ncap;
	return b;
}

#endif
