/*
 * http/chars.h - byte classes of HTTP/1.1 (RFC 9110 §5.1, §5.5, §5.6.2;
 * RFC 9112 §3, §7.1) as one 256-entry table, so that every hot loop costs a
 * load and a test per byte, and the small helpers on bytes every file of
 * http/ uses (lowercasing, hex digits, case-insensitive compares): their
 * one home. Private to http/.
 */
#ifndef COIL_HTTP_CHARS_H
#define COIL_HTTP_CHARS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CH_TCHAR 0x01  /* token: ALPHA DIGIT !#$%&'*+-.^_`|~ */
#define CH_VALUE 0x02  /* field-vchar / SP / HTAB / obs-text */
#define CH_TARGET 0x04 /* request target: VCHAR / obs-text, no SP */
#define CH_TAIL                                                                \
	0x08	    /* allowed anywhere in a head: not a CTL, or HTAB,         \
		       CR, LF */
#define CH_HEX 0x10 /* HEXDIG */

extern const uint8_t coil__http_ch[256];

static inline int ch_is(unsigned char c, unsigned cls)
{
	return coil__http_ch[c] & cls;
}

static inline char ch_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/*
 * Whether @n bytes (8 <= n <= 24) of a field name or list element equal a
 * literal of lowercase letters and '-', ignoring case: OR-ing 0x20 into
 * each byte lowers A-Z and maps nothing else that may appear in a field
 * onto a letter or '-' (only CR, never in a field, would become '-'), so
 * three overlapping 8-byte compares do it.
 */
static inline int ch_ieq_word(const char *a, const char *lower, size_t n)
{
	const uint64_t k = 0x2020202020202020ull;
	uint64_t x, y, z, w;
	memcpy(&x, a, 8);
	memcpy(&y, lower, 8);
	memcpy(&z, a + n - 8, 8);
	memcpy(&w, lower + n - 8, 8);
	if (((x | k) ^ y) | ((z | k) ^ w))
		return 0;
	if (n > 16) {
		memcpy(&x, a + 8, 8);
		memcpy(&y, lower + 8, 8);
		return (x | k) == y;
	}
	return 1;
}

/* The value of hex digit @c (RFC 5234 HEXDIG, either case), or -1. */
static inline int ch_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Case-insensitive compare of @n bytes with a lowercase literal. */
static inline int ch_ieq(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ch_lower(a[i]) != lower[i])
			return 0;
	}
	return 1;
}

#endif
