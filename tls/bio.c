/*
 * tls/bio.c - the TLS session's memory BIO: the two callbacks mbedTLS
 * reads and writes through (mbedtls_ssl_set_bio()), which touch only
 * memory. coil__tls_bio_recv() hands out ciphertext the lower stream
 * delivered: straight from its buffer during its read callback (c->src),
 * or from the stash, where whatever mbedTLS did not take yet waits.
 * coil__tls_bio_send() copies ciphertext into the ring of output slots
 * (or, while a pool worker runs a handshake step, into c->jout); the
 * records (record.c) submit the slots to the lower stream. Nothing
 * here calls back into the session.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ssl.h>

#include "../engine/grow.h"
#include "internal.h"

size_t coil__tls_in_avail(const struct coil_tls__conn *c)
{
	return c->src_len + c->stash_len;
}

int coil__tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct coil_tls__conn *c = ctx;
	size_t n;

	if (c->src_len) {
		n = len < c->src_len ? len : c->src_len;
		memcpy(buf, c->src, n);
		c->src += n;
		c->src_len -= n;
		return (int)n;
	}
	if (c->stash_len) {
		n = len < c->stash_len ? len : c->stash_len;
		memcpy(buf, c->stash + c->stash_off, n);
		c->stash_off += n;
		c->stash_len -= n;
		if (!c->stash_len)
			c->stash_off = 0;
		return (int)n;
	}
	return MBEDTLS_ERR_SSL_WANT_READ;
}

/* Append to a growable buffer (@len bytes used of @cap), doubling it
 * from 4096 bytes when full. Return: 0 or -ENOMEM (as it was). */
int coil__tls_buf_add(unsigned char **buf, size_t *len, size_t *cap,
		      const void *p, size_t n)
{
	if (*len + n > *cap) {
		unsigned char *b = coil__grow(*buf, cap, *len + n, 4096);
		if (!b)
			return -ENOMEM;
		*buf = b;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* Append to the stash, first moving what is left to its start when the
 * consumed bytes before it make room. Return: 0 or -ENOMEM. */
int coil__tls_stash_add(struct coil_tls__conn *c, const void *p, size_t n)
{
	size_t end;
	int ret;

	if (c->stash_off && c->stash_off + c->stash_len + n > c->stash_cap) {
		memmove(c->stash, c->stash + c->stash_off, c->stash_len);
		c->stash_off = 0;
	}
	end = c->stash_off + c->stash_len;
	ret = coil__tls_buf_add(&c->stash, &end, &c->stash_cap, p, n);
	if (ret == 0)
		c->stash_len += n;
	return ret;
}

/* Move the rest of the lower stream's buffer to the stash. */
int coil__tls_src_keep(struct coil_tls__conn *c)
{
	int ret = 0;
	if (c->src_len)
		ret = coil__tls_stash_add(c, c->src, c->src_len);
	c->src = NULL;
	c->src_len = 0;
	return ret;
}

int coil__tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct coil_tls__conn *c = ctx;
	size_t done = 0;

	if (c->note_sent)
		coil__tls_note_sent(buf, len, &c->note);
	if (c->jmode) { /* on a pool worker: the slots are the loop's */
		if (coil__tls_buf_add(&c->jout, &c->jout_len, &c->jout_cap, buf,
				      len) < 0) {
			c->nomem = 1;
			return MBEDTLS_ERR_SSL_ALLOC_FAILED;
		}
		c->out_bytes += len;
		return (int)len;
	}

	while (done < len) {
		struct coil_tls__slot *sl = &c->slot[c->fill];
		size_t n;

		if (sl->state == SLOT_SEND)
			break; /* every slot is in flight */
		if (sl->len == COIL_TLS_SLOT_CAP) {
			unsigned nx = (c->fill + 1) % COIL_TLS_NSLOT;
			if (c->slot[nx].state != SLOT_FREE)
				break;
			c->fill = nx;
			continue;
		}
		if (!sl->buf) {
			sl->buf = malloc(COIL_TLS_SLOT_CAP);
			if (!sl->buf) {
				c->nomem = 1;
				return MBEDTLS_ERR_SSL_ALLOC_FAILED;
			}
		}
		n = COIL_TLS_SLOT_CAP - sl->len;
		if (n > len - done)
			n = len - done;
		memcpy(sl->buf + sl->len, buf + done, n);
		sl->len += n;
		sl->state = SLOT_FILL;
		done += n;
	}
	if (!done)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	c->out_bytes += done;
	return (int)done;
}

/* Bytes coil__tls_bio_send() can take now without a lower write completing. */
size_t coil__tls_out_room(const struct coil_tls__conn *c)
{
	size_t room = 0;

	if (c->slot[c->fill].state != SLOT_SEND)
		room += COIL_TLS_SLOT_CAP - c->slot[c->fill].len;
	for (unsigned k = 1; k < COIL_TLS_NSLOT; k++) {
		if (c->slot[(c->fill + k) % COIL_TLS_NSLOT].state != SLOT_FREE)
			break;
		room += COIL_TLS_SLOT_CAP;
	}
	return room;
}

/* The slot that got the newest bytes, if they are not sent yet. */
struct coil_tls__slot *coil__tls_newest_pending(struct coil_tls__conn *c)
{
	struct coil_tls__slot *sl = &c->slot[c->fill];
	if (sl->state == SLOT_FILL || sl->state == SLOT_SEND)
		return sl;
	/* slot[fill] is empty: the newest bytes are in the one before */
	sl = &c->slot[(c->fill + COIL_TLS_NSLOT - 1) % COIL_TLS_NSLOT];
	return sl->state != SLOT_FREE ? sl : NULL;
}
