/*
 * engine/hist.c - the latency histogram: HdrHistogram's counts layout
 * (Gil Tene's design, HdrHistogram/AbstractHistogram) with unit 1, written
 * for coil. See include/coil/hist.h for the contract.
 *
 * Layout, for d significant digits: sub_count = 2^ceil(log2(2 * 10^d))
 * slots per bucket, half = sub_count / 2. Bucket 0 holds 0 .. sub_count-1
 * one value per slot; bucket b > 0 holds [half << b, sub_count << b) in
 * half slots of width 2^b. The counts array stores bucket 0 whole and then
 * the upper half of each further bucket, so slot index =
 * ((b + 1) << log2(half)) + (v >> b) - half. A value's bucket comes from
 * its leading zero count: O(1) recording.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coil/hist.h"

struct coil_hist {
	uint64_t lowest; /* clamp bounds */
	uint64_t highest;
	unsigned digits;
	unsigned half_mag; /* log2(half) */
	uint64_t half;	   /* sub-bucket half count */
	uint64_t sub_mask; /* sub_count - 1 */
	unsigned lz_base;  /* 63 - half_mag */
	unsigned bucket_count;
	size_t counts_len;
	uint64_t total;
	uint64_t underflow;
	uint64_t overflow;
	uint64_t min; /* UINT64_MAX when empty */
	uint64_t max;
	uint64_t counts[];
};

static inline unsigned bucket_of(const struct coil_hist *h, uint64_t v)
{
	return h->lz_base - (unsigned)__builtin_clzll(v | h->sub_mask);
}

static inline size_t index_of(const struct coil_hist *h, uint64_t v)
{
	unsigned b = bucket_of(h, v);
	uint64_t sub = v >> b;
	return ((size_t)(b + 1) << h->half_mag) + (size_t)(sub - h->half);
}

/* The lowest value of slot @i. */
static inline uint64_t value_of(const struct coil_hist *h, size_t i)
{
	long b = (long)(i >> h->half_mag) - 1;
	uint64_t sub = (i & (h->half - 1)) + h->half;
	if (b < 0) {
		sub -= h->half;
		b = 0;
	}
	return sub << b;
}

/* Width of the slot holding @v. */
static inline uint64_t width_of(const struct coil_hist *h, uint64_t v)
{
	return 1ull << bucket_of(h, v);
}

uint64_t coil_hist_lowest_equivalent(const struct coil_hist *h, uint64_t v)
{
	unsigned b = bucket_of(h, v);
	return (v >> b) << b;
}

uint64_t coil_hist_highest_equivalent(const struct coil_hist *h, uint64_t v)
{
	return coil_hist_lowest_equivalent(h, v) + width_of(h, v) - 1;
}

/* Square root by Newton's method from above (keeps libcoil free of libm):
 * the iterates decrease monotonically to sqrt(x); stop when they do not. */
static double nsqrt(double x)
{
	double r;
	if (!(x > 0))
		return 0;
	r = x > 1 ? x : 1;
	for (int i = 0; i < 2000; i++) {
		double n = 0.5 * (r + x / r);
		if (n >= r)
			break;
		r = n;
	}
	return r;
}

static inline uint64_t median_of(const struct coil_hist *h, size_t i)
{
	uint64_t lo = value_of(h, i);
	return lo + (width_of(h, lo) >> 1);
}

/* Buckets needed so that @highest has a slot (HdrHistogram
 * getBucketsNeededToCoverValue() with unit 1). */
static unsigned buckets_for(uint64_t sub_count, uint64_t highest)
{
	uint64_t untrackable = sub_count;
	unsigned n = 1;
	while (untrackable <= highest) {
		if (untrackable > (UINT64_MAX >> 2))
			return n + 1;
		untrackable <<= 1;
		n++;
	}
	return n;
}

int coil_hist_new(struct coil_hist **out, const struct coil_hist_opts *opts)
{
	struct coil_hist_opts def = {
		.lowest = COIL_HIST_LOWEST_NS,
		.highest = COIL_HIST_HIGHEST_NS,
		.digits = COIL_HIST_DIGITS,
	};
	const struct coil_hist_opts *o = opts ? opts : &def;
	struct coil_hist *h;
	uint64_t largest_exact = 2, sub_count;
	unsigned sub_mag, buckets;
	size_t len;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (o->digits < 1 || o->digits > 5 || o->highest < 2 ||
	    o->highest > (1ull << 62) || o->lowest >= o->highest)
		return -EINVAL;
	for (unsigned i = 0; i < o->digits; i++)
		largest_exact *= 10;
	/* ceil(log2(2 * 10^digits)): 2 * 10^d is never a power of two */
	sub_mag = 64 - (unsigned)__builtin_clzll(largest_exact - 1);
	sub_count = 1ull << sub_mag;
	buckets = buckets_for(sub_count, o->highest);
	len = (size_t)(buckets + 1) * (size_t)(sub_count >> 1);

	h = calloc(1, sizeof(*h) + len * sizeof(h->counts[0]));
	if (!h)
		return -ENOMEM;
	h->lowest = o->lowest;
	h->highest = o->highest;
	h->digits = o->digits;
	h->half_mag = sub_mag - 1;
	h->half = sub_count >> 1;
	h->sub_mask = sub_count - 1;
	h->lz_base = 63 - h->half_mag;
	h->bucket_count = buckets;
	h->counts_len = len;
	h->min = UINT64_MAX;
	*out = h;
	return 0;
}

void coil_hist_free(struct coil_hist *h)
{
	free(h);
}

void coil_hist_reset(struct coil_hist *h)
{
	memset(h->counts, 0, h->counts_len * sizeof(h->counts[0]));
	h->total = 0;
	h->underflow = 0;
	h->overflow = 0;
	h->min = UINT64_MAX;
	h->max = 0;
}

/* Clamp @v into range, counting @count clamped values. */
static inline uint64_t clamp(struct coil_hist *h, uint64_t v, uint64_t count)
{
	if (v < h->lowest) {
		h->underflow += count;
		return h->lowest;
	}
	if (v > h->highest) {
		h->overflow += count;
		return h->highest;
	}
	return v;
}

/* Add an in-range value; updates min and max. */
static inline void add(struct coil_hist *h, uint64_t v, uint64_t count)
{
	h->counts[index_of(h, v)] += count;
	h->total += count;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void coil_hist_record_n(struct coil_hist *h, uint64_t v, uint64_t count)
{
	if (!count)
		return;
	add(h, clamp(h, v, count), count);
}

void coil_hist_record(struct coil_hist *h, uint64_t v)
{
	add(h, clamp(h, v, 1), 1);
}

void coil_hist_record_corrected_n(struct coil_hist *h, uint64_t v,
				  uint64_t count, uint64_t interval)
{
	uint64_t x;

	if (!count)
		return;
	v = clamp(h, v, count);
	add(h, v, count);
	if (!interval || v <= interval)
		return;
	/*
	 * The missing values are v - k*interval for k = 1, 2, ... while
	 * >= interval. Walk them from the top one slot at a time: the ones
	 * that share a slot are added in one step, so the loop runs at most
	 * once per slot, never once per value.
	 */
	x = v - interval;
	while (x >= interval) {
		uint64_t floor_v, n;
		if (x < h->lowest) {
			/* all the rest clamp to lowest */
			n = (x - interval) / interval + 1;
			h->underflow += n * count;
			add(h, h->lowest, n * count);
			break;
		}
		floor_v = coil_hist_lowest_equivalent(h, x);
		if (floor_v < interval)
			floor_v = interval;
		if (floor_v < h->lowest)
			floor_v = h->lowest;
		n = (x - floor_v) / interval + 1;
		/* the n values x, x - interval, ... share x's slot */
		h->counts[index_of(h, x)] += n * count;
		h->total += n * count;
		if (x > h->max)
			h->max = x;
		if (x - (n - 1) * interval < h->min)
			h->min = x - (n - 1) * interval;
		x -= n * interval;
	}
}

void coil_hist_record_corrected(struct coil_hist *h, uint64_t v,
				uint64_t interval)
{
	coil_hist_record_corrected_n(h, v, 1, interval);
}

int coil_hist_merge(struct coil_hist *dst, const struct coil_hist *src)
{
	if (dst == src)
		return -EINVAL;
	if (!src->total)
		return 0;
	dst->underflow += src->underflow;
	dst->overflow += src->overflow;
	if (src->digits == dst->digits && src->lowest >= dst->lowest &&
	    src->highest <= dst->highest) {
		/* same layout, and src's slots exist in dst (src's array is
		 * not longer since its highest is not larger) */
		for (size_t i = 0; i < src->counts_len; i++)
			dst->counts[i] += src->counts[i];
		dst->total += src->total;
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
		return 0;
	}
	for (size_t i = 0; i < src->counts_len; i++) {
		uint64_t c = src->counts[i], v;
		if (!c)
			continue;
		v = value_of(src, i);
		if (v < src->min)
			v = src->min; /* the first slot's values start there */
		v = clamp(dst, v, c);
		dst->counts[index_of(dst, v)] += c;
		dst->total += c;
	}
	/* min/max from src's exact ones, not from slot bounds */
	{
		uint64_t mn = src->min, mx = src->max;
		if (mn < dst->lowest)
			mn = dst->lowest;
		if (mn > dst->highest)
			mn = dst->highest;
		if (mx > dst->highest)
			mx = dst->highest;
		if (mx < dst->lowest)
			mx = dst->lowest;
		if (mn < dst->min)
			dst->min = mn;
		if (mx > dst->max)
			dst->max = mx;
	}
	return 0;
}

uint64_t coil_hist_count(const struct coil_hist *h)
{
	return h->total;
}

uint64_t coil_hist_min(const struct coil_hist *h)
{
	return h->total ? h->min : 0;
}

uint64_t coil_hist_max(const struct coil_hist *h)
{
	return h->total ? h->max : 0;
}

uint64_t coil_hist_underflows(const struct coil_hist *h)
{
	return h->underflow;
}

uint64_t coil_hist_overflows(const struct coil_hist *h)
{
	return h->overflow;
}

/* Index one past the slot of the max value (the encoded length too). */
static size_t used_len(const struct coil_hist *h)
{
	return h->total ? index_of(h, h->max) + 1 : 1;
}

double coil_hist_mean(const struct coil_hist *h)
{
	double sum = 0;
	size_t n = used_len(h);
	if (!h->total)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (h->counts[i])
			sum += (double)median_of(h, i) * (double)h->counts[i];
	}
	return sum / (double)h->total;
}

double coil_hist_stdev(const struct coil_hist *h)
{
	double mean, dev = 0;
	size_t n = used_len(h);
	if (!h->total)
		return 0;
	mean = coil_hist_mean(h);
	for (size_t i = 0; i < n; i++) {
		if (h->counts[i]) {
			double d = (double)median_of(h, i) - mean;
			dev += d * d * (double)h->counts[i];
		}
	}
	return nsqrt(dev / (double)h->total);
}

uint64_t coil_hist_value_at_percentile(const struct coil_hist *h, double p)
{
	double frac;
	uint64_t rank, seen = 0, v;
	size_t n = used_len(h);

	if (!h->total)
		return 0;
	if (!(p > 0)) /* also NaN */
		p = 0;
	if (p > 100)
		p = 100;
	frac = p / 100.0 * (double)h->total;
	/* ceil, forgiving the rounding error of p/100*total (e.g. 99.9% of
	 * 1000 must be rank 999, not 1000) */
	frac -= frac * 1e-12;
	if (frac >= (double)h->total) {
		rank = h->total;
	} else {
		rank = (uint64_t)frac;
		if ((double)rank < frac)
			rank++;
	}
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < n; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = value_of(h, i);
			if (p > 0)
				v = coil_hist_highest_equivalent(h, v);
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

uint64_t coil_hist_count_between(const struct coil_hist *h, uint64_t lo,
				 uint64_t hi)
{
	uint64_t sum = 0;
	size_t n = used_len(h);
	for (size_t i = 0; i < n; i++) {
		if (h->counts[i]) {
			uint64_t m = median_of(h, i);
			if (m >= lo && m <= hi)
				sum += h->counts[i];
		}
	}
	return sum;
}

int coil_hist_iter_next(const struct coil_hist *h, struct coil_hist_iter *it)
{
	size_t n = used_len(h);
	for (size_t i = it->index; i < n; i++) {
		if (h->counts[i]) {
			it->lowest = value_of(h, i);
			it->highest =
				coil_hist_highest_equivalent(h, it->lowest);
			it->count = h->counts[i];
			it->index = i + 1;
			return 1;
		}
	}
	it->index = n;
	it->count = 0;
	return 0;
}

/* ---- V2 encoding ------------------------------------------------------- */

#define V2_COOKIE 0x1c849313u /* V2EncodingCookieBase | 0x10 (9-byte words) */
#define V2_HEADER 40

size_t coil_hist_encode_bound(const struct coil_hist *h)
{
	return V2_HEADER + 9 * used_len(h);
}

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* ZigZag, then LEB128 with at most 9 bytes: 8 of 7 bits, a 9th of 8. */
static uint8_t *put_zigzag(uint8_t *p, int64_t value)
{
	uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
	for (int i = 0; i < 8; i++) {
		if (v >> 7 == 0) {
			*p++ = (uint8_t)v;
			return p;
		}
		*p++ = (uint8_t)((v & 0x7f) | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

ssize_t coil_hist_encode(const struct coil_hist *h, void *buf, size_t cap)
{
	size_t n = used_len(h);
	uint8_t *p = buf, *payload;
	union {
		double d;
		uint64_t u;
	} ratio = {.d = 1.0};

	if (cap < coil_hist_encode_bound(h))
		return -ENOSPC;
	p = put_be32(p, V2_COOKIE);
	p = put_be32(p, 0); /* payload length, filled below */
	p = put_be32(p, 0); /* normalizing index offset */
	p = put_be32(p, h->digits);
	p = put_be64(p, 1); /* lowestDiscernibleValue: the unit */
	p = put_be64(p, h->highest);
	p = put_be64(p, ratio.u);
	payload = p;
	for (size_t i = 0; i < n;) {
		uint64_t c = h->counts[i++];
		if (c == 0) {
			int64_t zeros = 1;
			while (i < n && h->counts[i] == 0) {
				zeros++;
				i++;
			}
			p = put_zigzag(p, zeros > 1 ? -zeros : 0);
			continue;
		}
		/* counts above INT64_MAX cannot occur: total is 64-bit */
		p = put_zigzag(p, (int64_t)c);
	}
	put_be32((uint8_t *)buf + 4, (uint32_t)(p - payload));
	return p - (uint8_t *)buf;
}
