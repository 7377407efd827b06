/*
 * tests/bench/hdrlog_decode.h - an independent decoder of HdrHistogram
 * interval logs for the tests: base64, inflate (zlib), V2 parse. Written
 * from HdrHistogram's format description, sharing no code with the writer.
 */
#ifndef COIL_TEST_HDRLOG_DECODE_H
#define COIL_TEST_HDRLOG_DECODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A decoded histogram: counts by slot index, as HdrHistogram lays out a
 * histogram of lowestDiscernibleValue 1. */
struct dec_hist {
	uint32_t digits;
	uint64_t lowest_discernible;
	uint64_t highest;
	size_t len;	  /* slots decoded */
	uint64_t *counts; /* malloc'd */
};

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode @n chars of base64 into @out (>= 3n/4 bytes); -1 on bad input. */
static long b64_decode(uint8_t *out, const char *in, size_t n)
{
	long o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v;
		if (in[i] == '=')
			break;
		v = b64_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* LEB128-64b9B then ZigZag; returns 0, or -1 past @end */
static int zz(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	int shift = 0;
	for (int i = 0; i < 9; i++) {
		if (p >= end)
			return -1;
		uint8_t b = *p++;
		if (i == 8) {
			v |= (uint64_t)b << 56;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*pp = p;
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return 0;
}

/*
 * Decode the base64 text of one V2 compressed histogram. Returns 0, or a
 * negative step number saying what was wrong.
 */
static int dec_hist_parse(struct dec_hist *d, const char *text, size_t n)
{
	uint8_t *z = malloc(n), *raw = NULL;
	long zn = b64_decode(z, text, n);
	uLongf rawlen = 8 << 20;
	const uint8_t *p, *end;
	size_t idx = 0, cap;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	if (zn < 8 || be(z, 4) != 0x1c849314 ||
	    be(z + 4, 4) != (uint64_t)zn - 8) {
		ret = -1;
		goto out;
	}
	raw = malloc(rawlen);
	if (uncompress(raw, &rawlen, z + 8, (uLong)zn - 8) != Z_OK) {
		ret = -2;
		goto out;
	}
	if (rawlen < 40 || be(raw, 4) != 0x1c849313 ||
	    be(raw + 4, 4) != rawlen - 40 || be(raw + 8, 4) != 0 ||
	    be(raw + 32, 8) != 0x3ff0000000000000ull) {
		ret = -3;
		goto out;
	}
	d->digits = (uint32_t)be(raw + 12, 4);
	d->lowest_discernible = be(raw + 16, 8);
	d->highest = be(raw + 24, 8);
	cap = 1024;
	d->counts = calloc(cap, sizeof(uint64_t));
	p = raw + 40;
	end = raw + rawlen;
	while (p < end) {
		int64_t c;
		if (zz(&p, end, &c) < 0) {
			ret = -4;
			goto out;
		}
		if (c < 0) {
			idx += (size_t)-c;
			continue;
		}
		if (idx >= (1u << 24)) { /* no histogram here is that big */
			ret = -5;
			goto out;
		}
		if (idx >= cap) {
			size_t ncap = (idx + 1) * 2;
			d->counts = realloc(d->counts, ncap * sizeof(uint64_t));
			memset(d->counts + cap, 0,
			       (ncap - cap) * sizeof(uint64_t));
			cap = ncap;
		}
		d->counts[idx++] = (uint64_t)c;
	}
	d->len = idx;
out:
	free(z);
	free(raw);
	return ret;
}

static void dec_hist_free(struct dec_hist *d)
{
	free(d->counts);
	d->counts = NULL;
}

#endif
