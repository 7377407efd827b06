/*
 * tls/cache.c - the client's session cache: one saved session (ticket and
 * master secret, RFC 5077 section 3.4; or a session ID, RFC 5246 section
 * 7.4.1.2) per (session key, configuration), least recently used out.
 *
 * Small by design (64 entries by default, linear lookup): a client talks
 * to few hosts at once, and the lookup runs once per handshake, next to
 * milliseconds of public-key work.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct entry {
	char *key; /* NULL: free */
	const struct coil_tls_config *cfg;
	mbedtls_ssl_session sess;
	uint64_t used; /* LRU stamp */
};

struct coil_tls_cache {
	unsigned max, n;
	uint64_t clock;
	struct entry *e;
};

int coil_tls_cache_new(struct coil_tls_cache **out, unsigned max_entries)
{
	struct coil_tls_cache *c;

	if (!out || max_entries > 65536)
		return -EINVAL;
	if (!max_entries)
		max_entries = 64;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = calloc(max_entries, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	c->max = max_entries;
	*out = c;
	return 0;
}

static void clear(struct coil_tls_cache *c, struct entry *e)
{
	if (!e->key)
		return;
	mbedtls_ssl_session_free(&e->sess);
	free(e->key);
	e->key = NULL;
	e->cfg = NULL;
	c->n--;
}

unsigned coil_tls_cache_count(const struct coil_tls_cache *cache)
{
	return cache ? cache->n : 0;
}

void coil_tls_cache_free(struct coil_tls_cache *cache)
{
	if (!cache)
		return;
	for (unsigned i = 0; i < cache->max; i++)
		clear(cache, &cache->e[i]);
	free(cache->e);
	free(cache);
}

static struct entry *find(struct coil_tls_cache *c, const char *key,
			  const struct coil_tls_config *cfg)
{
	for (unsigned i = 0; i < c->max; i++) {
		struct entry *e = &c->e[i];
		if (e->key && e->cfg == cfg && !strcmp(e->key, key))
			return e;
	}
	return NULL;
}

/* A ticket the server said to keep only so long (RFC 5077 section 3.3:
 * ticket_lifetime_hint) is not worth offering afterwards. */
static int expired(const mbedtls_ssl_session *s)
{
#if defined(MBEDTLS_HAVE_TIME) && defined(MBEDTLS_SSL_SESSION_TICKETS) &&      \
	MBEDTLS_VERSION_NUMBER < 0x03000000
	if (s->ticket && s->ticket_lifetime &&
	    (uint64_t)(time(NULL) - s->start) > s->ticket_lifetime)
		return 1;
#else
	(void)s;
#endif
	return 0;
}

int coil__tls_cache_offer(struct coil_tls_cache *c, const char *key,
			  const struct coil_tls_config *cfg,
			  mbedtls_ssl_context *ssl)
{
	struct entry *e = find(c, key, cfg);

	if (!e)
		return 0;
	if (expired(&e->sess)) {
		clear(c, e);
		return 0;
	}
	if (mbedtls_ssl_set_session(ssl, &e->sess) != 0)
		return 0;
	e->used = ++c->clock;
	return 1;
}

void coil__tls_cache_save(struct coil_tls_cache *c, const char *key,
			  const struct coil_tls_config *cfg,
			  const mbedtls_ssl_context *ssl)
{
	struct entry *e = find(c, key, cfg);
	mbedtls_ssl_session tmp;

	mbedtls_ssl_session_init(&tmp);
	if (mbedtls_ssl_get_session(ssl, &tmp) != 0) {
		mbedtls_ssl_session_free(&tmp);
		return;
	}
	if (!e) {
		struct entry *lru = NULL;
		char *k = strdup(key);
		if (!k) {
			mbedtls_ssl_session_free(&tmp);
			return;
		}
		for (unsigned i = 0; i < c->max; i++) {
			if (!c->e[i].key) {
				e = &c->e[i];
				break;
			}
			if (!lru || c->e[i].used < lru->used)
				lru = &c->e[i];
		}
		if (!e) {
			clear(c, lru);
			e = lru;
		}
		e->key = k;
		e->cfg = cfg;
		c->n++;
	} else {
		mbedtls_ssl_session_free(&e->sess);
	}
	e->sess = tmp; /* moved: tmp's allocations now belong to the entry */
	e->used = ++c->clock;
}

void coil__tls_cache_drop(struct coil_tls_cache *c, const char *key,
			  const struct coil_tls_config *cfg)
{
	struct entry *e = find(c, key, cfg);
	if (e)
		clear(c, e);
}
