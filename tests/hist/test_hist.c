/*
 * tests/hist/test_hist.c - the latency histogram: percentiles against the
 * exact percentiles of known data, merge, clamping, coordinated-omission
 * correction as HdrHistogram defines it, the V2 encoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coil/hist.h"

/* ---- known data ---------------------------------------------------------- */

/* xorshift64*: a fixed sequence, the same on every run */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* uniform in (0, 1) */
static double rng_unit(void)
{
	return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

#define NDATA 200000

static uint64_t *data_uniform(void)
{
	uint64_t *d = malloc(NDATA * sizeof(*d));
	assert_non_null(d);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < NDATA; i++) /* 1 us .. 100 ms */
		d[i] = 1000 + rng() % 100000000ull;
	return d;
}

static uint64_t *data_exponential(void)
{
	uint64_t *d = malloc(NDATA * sizeof(*d));
	assert_non_null(d);
	rng_state = 0x1234567887654321ull;
	for (size_t i = 0; i < NDATA; i++) /* mean 2 ms, offset 20 us */
		d[i] = 20000 + (uint64_t)(-2e6 * log(rng_unit()));
	return d;
}

static uint64_t *data_bimodal(void)
{
	uint64_t *d = malloc(NDATA * sizeof(*d));
	assert_non_null(d);
	rng_state = 0xdeadbeefcafef00dull;
	for (size_t i = 0; i < NDATA; i++) {
		if (rng() % 100 < 95) /* fast path: 150..250 us */
			d[i] = 150000 + rng() % 100000;
		else /* slow path: 40..60 ms */
			d[i] = 40000000 + rng() % 20000000;
	}
	return d;
}

static const double pcts[] = {0,    1,	   10,	   25,	   50,	 75,   90,
			      99,   99.9,  99.99,  99.999, 100,	 33.3, 66.7,
			      12.5, 0.001, 99.995, 50.5,   87.25};

/* nearest rank: the ceil(p/100 * n)-th smallest, at least the first */
static uint64_t exact_pct(const uint64_t *sorted, size_t n, double p)
{
	double r = p / 100.0 * (double)n;
	size_t rank = (size_t)r;
	if ((double)rank < r - r * 1e-12)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static struct coil_hist *hist_new(const struct coil_hist_opts *o)
{
	struct coil_hist *h = NULL;
	assert_int_equal(coil_hist_new(&h, o), 0);
	assert_non_null(h);
	return h;
}

static void check_against_exact(uint64_t *d)
{
	struct coil_hist *h = hist_new(NULL);
	double sum = 0, dev = 0, mean;
	for (size_t i = 0; i < NDATA; i++) {
		coil_hist_record(h, d[i]);
		sum += (double)d[i];
	}
	qsort(d, NDATA, sizeof(*d), cmp_u64);
	mean = sum / NDATA;
	for (size_t i = 0; i < NDATA; i++)
		dev += ((double)d[i] - mean) * ((double)d[i] - mean);

	assert_int_equal(coil_hist_count(h), NDATA);
	assert_int_equal(coil_hist_min(h), d[0]);
	assert_int_equal(coil_hist_max(h), d[NDATA - 1]);
	assert_int_equal(coil_hist_underflows(h), 0);
	assert_int_equal(coil_hist_overflows(h), 0);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		uint64_t want = exact_pct(d, NDATA, pcts[k]);
		uint64_t got = coil_hist_value_at_percentile(h, pcts[k]);
		uint64_t diff = got > want ? got - want : want - got;
		/* the same slot as the exact value ... */
		assert_int_equal(coil_hist_lowest_equivalent(h, got),
				 coil_hist_lowest_equivalent(h, want));
		/* ... hence within 3 significant digits */
		assert_true(diff * 1000 <= want);
	}
	/* mean and stdev from the slots: within the precision */
	assert_true(fabs(coil_hist_mean(h) - mean) <= mean / 1000);
	assert_true(fabs(coil_hist_stdev(h) - sqrt(dev / NDATA)) <=
		    sqrt(dev / NDATA) / 1000 + 1);
	coil_hist_free(h);
	free(d);
}

static void test_hist_percentiles_uniform_match_exact(void **state)
{
	check_against_exact(data_uniform());
}

static void test_hist_percentiles_exponential_match_exact(void **state)
{
	check_against_exact(data_exponential());
}

static void test_hist_percentiles_bimodal_match_exact(void **state)
{
	check_against_exact(data_bimodal());
}

/* small counts: every percentile of 1..10 lands on the exact value */
static void test_hist_percentiles_small_exact(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	for (uint64_t v = 1; v <= 10; v++)
		coil_hist_record(h, v * 1000);
	/* below 2048 ns slots are 1 ns wide; above, 1000-multiples fall
	 * into slots the min/max bounds keep exact at the ends */
	assert_int_equal(coil_hist_value_at_percentile(h, 0), 1000);
	assert_int_equal(coil_hist_value_at_percentile(h, 10), 1000);
	assert_int_equal(coil_hist_value_at_percentile(h, 10.0001),
			 coil_hist_highest_equivalent(h, 2000));
	assert_int_equal(coil_hist_value_at_percentile(h, 50),
			 coil_hist_highest_equivalent(h, 5000));
	assert_int_equal(coil_hist_value_at_percentile(h, 99.9), 10000);
	assert_int_equal(coil_hist_value_at_percentile(h, 100), 10000);
	/* clamped arguments */
	assert_int_equal(coil_hist_value_at_percentile(h, -5), 1000);
	assert_int_equal(coil_hist_value_at_percentile(h, 250), 10000);
	assert_int_equal(coil_hist_value_at_percentile(h, NAN), 1000);
	coil_hist_free(h);
}

static void test_hist_empty_reads_zero(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	struct coil_hist_iter it = {0};
	assert_int_equal(coil_hist_count(h), 0);
	assert_int_equal(coil_hist_min(h), 0);
	assert_int_equal(coil_hist_max(h), 0);
	assert_true(coil_hist_mean(h) == 0);
	assert_true(coil_hist_stdev(h) == 0);
	assert_int_equal(coil_hist_value_at_percentile(h, 50), 0);
	assert_int_equal(coil_hist_count_between(h, 0, UINT64_MAX), 0);
	assert_int_equal(coil_hist_iter_next(h, &it), 0);
	coil_hist_free(h);
}

/* the slot layout: exact below 2048, then widths of at most v/1024 */
static void test_hist_layout_precision(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	for (uint64_t v = 0; v < 2048; v++) {
		assert_int_equal(coil_hist_lowest_equivalent(h, v), v);
		assert_int_equal(coil_hist_highest_equivalent(h, v), v);
	}
	rng_state = 42;
	for (int i = 0; i < 100000; i++) {
		uint64_t v = 2048 + rng() % COIL_HIST_HIGHEST_NS;
		uint64_t lo = coil_hist_lowest_equivalent(h, v);
		uint64_t hi = coil_hist_highest_equivalent(h, v);
		assert_true(lo <= v && v <= hi);
		assert_true((hi - lo + 1) * 1024 <= lo);
		/* the neighbours belong to other slots */
		assert_int_equal(coil_hist_highest_equivalent(h, lo - 1),
				 lo - 1);
		assert_int_equal(coil_hist_lowest_equivalent(h, hi + 1),
				 hi + 1);
	}
	coil_hist_free(h);
}

static void test_hist_new_rejects_bad_options(void **state)
{
	struct coil_hist *h = (struct coil_hist *)1;
	struct coil_hist_opts o;

	o = (struct coil_hist_opts){1, 1000, 0};
	assert_int_equal(coil_hist_new(&h, &o), -EINVAL);
	assert_null(h);
	o = (struct coil_hist_opts){1, 1000, 6};
	assert_int_equal(coil_hist_new(&h, &o), -EINVAL);
	o = (struct coil_hist_opts){0, 1, 3};
	assert_int_equal(coil_hist_new(&h, &o), -EINVAL);
	o = (struct coil_hist_opts){1000, 1000, 3};
	assert_int_equal(coil_hist_new(&h, &o), -EINVAL);
	o = (struct coil_hist_opts){1, (1ull << 62) + 1, 3};
	assert_int_equal(coil_hist_new(&h, &o), -EINVAL);
	assert_int_equal(coil_hist_new(NULL, NULL), -EINVAL);
	/* the edges that are fine */
	o = (struct coil_hist_opts){0, 2, 1};
	assert_int_equal(coil_hist_new(&h, &o), 0);
	coil_hist_free(h);
	o = (struct coil_hist_opts){0, 1ull << 62, 5};
	assert_int_equal(coil_hist_new(&h, &o), 0);
	coil_hist_record(h, UINT64_MAX);
	assert_int_equal(coil_hist_max(h), 1ull << 62);
	assert_int_equal(coil_hist_value_at_percentile(h, 100), 1ull << 62);
	coil_hist_free(h);
	coil_hist_free(NULL);
}

static void test_hist_clamps_and_counts_out_of_range(void **state)
{
	struct coil_hist *h = hist_new(NULL);

	coil_hist_record(h, 0);
	coil_hist_record(h, 999);
	coil_hist_record(h, COIL_HIST_LOWEST_NS);  /* in range */
	coil_hist_record(h, COIL_HIST_HIGHEST_NS); /* in range */
	coil_hist_record(h, COIL_HIST_HIGHEST_NS + 1);
	coil_hist_record_n(h, UINT64_MAX, 5);
	assert_int_equal(coil_hist_count(h), 10);
	assert_int_equal(coil_hist_underflows(h), 2);
	assert_int_equal(coil_hist_overflows(h), 6);
	assert_int_equal(coil_hist_min(h), COIL_HIST_LOWEST_NS);
	assert_int_equal(coil_hist_max(h), COIL_HIST_HIGHEST_NS);
	assert_int_equal(coil_hist_value_at_percentile(h, 0),
			 COIL_HIST_LOWEST_NS);
	assert_int_equal(coil_hist_value_at_percentile(h, 30),
			 COIL_HIST_LOWEST_NS);
	assert_int_equal(coil_hist_value_at_percentile(h, 30.1),
			 COIL_HIST_HIGHEST_NS);
	assert_int_equal(coil_hist_value_at_percentile(h, 100),
			 COIL_HIST_HIGHEST_NS);
	assert_int_equal(coil_hist_count_between(h, 0, 1000), 3);
	/* count 0 records nothing */
	coil_hist_record_n(h, 5000, 0);
	coil_hist_record_corrected_n(h, 5000, 0, 10);
	assert_int_equal(coil_hist_count(h), 10);

	/* a range starting at 0 keeps 0 */
	struct coil_hist_opts o = {0, 1000000, 3};
	struct coil_hist *z = hist_new(&o);
	coil_hist_record(z, 0);
	assert_int_equal(coil_hist_min(z), 0);
	assert_int_equal(coil_hist_underflows(z), 0);
	assert_int_equal(coil_hist_value_at_percentile(z, 50), 0);
	coil_hist_free(z);
	coil_hist_free(h);
}

static void test_hist_record_n_equals_repeated_record(void **state)
{
	struct coil_hist *a = hist_new(NULL), *b = hist_new(NULL);
	struct coil_hist_iter ia = {0}, ib = {0};
	for (int i = 0; i < 1000; i++)
		coil_hist_record(a, 123456);
	coil_hist_record_n(b, 123456, 1000);
	coil_hist_record_n(a, 7, 1ull << 40);
	coil_hist_record_n(b, 7, 1ull << 40);
	assert_int_equal(coil_hist_count(a), coil_hist_count(b));
	while (coil_hist_iter_next(a, &ia)) {
		assert_int_equal(coil_hist_iter_next(b, &ib), 1);
		assert_int_equal(ia.lowest, ib.lowest);
		assert_int_equal(ia.count, ib.count);
	}
	assert_int_equal(coil_hist_iter_next(b, &ib), 0);
	assert_int_equal(coil_hist_underflows(b), 1ull << 40);
	coil_hist_free(a);
	coil_hist_free(b);
}

static void assert_same(const struct coil_hist *a, const struct coil_hist *b)
{
	struct coil_hist_iter ia = {0}, ib = {0};
	assert_int_equal(coil_hist_count(a), coil_hist_count(b));
	assert_int_equal(coil_hist_min(a), coil_hist_min(b));
	assert_int_equal(coil_hist_max(a), coil_hist_max(b));
	assert_int_equal(coil_hist_underflows(a), coil_hist_underflows(b));
	assert_int_equal(coil_hist_overflows(a), coil_hist_overflows(b));
	while (coil_hist_iter_next(a, &ia)) {
		assert_int_equal(coil_hist_iter_next(b, &ib), 1);
		assert_int_equal(ia.lowest, ib.lowest);
		assert_int_equal(ia.highest, ib.highest);
		assert_int_equal(ia.count, ib.count);
	}
	assert_int_equal(coil_hist_iter_next(b, &ib), 0);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
		assert_int_equal(coil_hist_value_at_percentile(a, pcts[k]),
				 coil_hist_value_at_percentile(b, pcts[k]));
	assert_true(coil_hist_mean(a) == coil_hist_mean(b));
	assert_true(coil_hist_stdev(a) == coil_hist_stdev(b));
}

static void test_hist_merge_equals_recording_into_one(void **state)
{
	uint64_t *d = data_bimodal();
	struct coil_hist *all = hist_new(NULL), *sum = hist_new(NULL);
	struct coil_hist *part[4];
	for (int k = 0; k < 4; k++)
		part[k] = hist_new(NULL);
	for (size_t i = 0; i < NDATA; i++) {
		coil_hist_record(all, d[i]);
		coil_hist_record(part[i % 4], d[i]);
	}
	/* out-of-range values carry their counters along */
	coil_hist_record(all, 5);
	coil_hist_record(part[1], 5);
	coil_hist_record(all, UINT64_MAX);
	coil_hist_record(part[3], UINT64_MAX);
	for (int k = 0; k < 4; k++)
		assert_int_equal(coil_hist_merge(sum, part[k]), 0);
	assert_same(all, sum);
	/* merging an empty one changes nothing */
	coil_hist_reset(part[0]);
	assert_int_equal(coil_hist_merge(sum, part[0]), 0);
	assert_same(all, sum);
	assert_int_equal(coil_hist_merge(sum, sum), -EINVAL);
	for (int k = 0; k < 4; k++)
		coil_hist_free(part[k]);
	coil_hist_free(all);
	coil_hist_free(sum);
	free(d);
}

static void test_hist_merge_different_ranges(void **state)
{
	struct coil_hist_opts narrow = {1000, 1000000, 3}; /* 1us..1ms */
	struct coil_hist_opts twodig = {1, 3600000000000ull, 2};
	struct coil_hist *dst = hist_new(&narrow), *wide = hist_new(NULL);
	struct coil_hist *coarse = hist_new(&twodig), *ref = hist_new(&narrow);

	/* a wider source into a narrower destination: clamped, counted */
	coil_hist_record(wide, 500000);
	coil_hist_record(wide, 5000000); /* 5 ms > 1 ms */
	coil_hist_record_n(wide, 1200, 3);
	assert_int_equal(coil_hist_merge(dst, wide), 0);
	coil_hist_record(ref, 500000);
	coil_hist_record(ref, 5000000);
	coil_hist_record_n(ref, 1200, 3);
	assert_same(dst, ref);
	assert_int_equal(coil_hist_overflows(dst), 1);
	assert_int_equal(coil_hist_max(dst), 1000000);

	/* fewer digits into more: every value lands in the slot of its
	 * source slot's lowest value; count, min and max are kept */
	coil_hist_reset(wide);
	coil_hist_record(coarse, 1234567);
	coil_hist_record(coarse, 2000);
	assert_int_equal(coil_hist_merge(wide, coarse), 0);
	assert_int_equal(coil_hist_count(wide), 2);
	assert_int_equal(coil_hist_min(wide), 2000);
	assert_int_equal(coil_hist_max(wide), 1234567);
	assert_int_equal(
		coil_hist_lowest_equivalent(
			wide, coil_hist_value_at_percentile(wide, 100)),
		coil_hist_lowest_equivalent(
			wide, coil_hist_lowest_equivalent(coarse, 1234567)));
	coil_hist_free(dst);
	coil_hist_free(wide);
	coil_hist_free(coarse);
	coil_hist_free(ref);
}

static void test_hist_reset_forgets_everything(void **state)
{
	struct coil_hist *h = hist_new(NULL), *fresh = hist_new(NULL);
	coil_hist_record(h, 1);
	coil_hist_record(h, 77777);
	coil_hist_record(h, UINT64_MAX);
	coil_hist_reset(h);
	assert_same(h, fresh);
	coil_hist_record(h, 5000);
	coil_hist_record(fresh, 5000);
	assert_same(h, fresh);
	coil_hist_free(h);
	coil_hist_free(fresh);
}

/* HdrHistogram's recordValueWithExpectedInterval(), literally */
static void reference_corrected(struct coil_hist *h, uint64_t v,
				uint64_t interval)
{
	coil_hist_record(h, v);
	if (interval == 0 || v <= interval)
		return;
	for (uint64_t m = v - interval; m >= interval; m -= interval)
		coil_hist_record(h, m);
}

static void test_hist_corrected_matches_hdrhistogram(void **state)
{
	static const uint64_t cases[][2] = {
		{10000000, 1000000}, /* 10 ms every 1 ms: 10 values */
		{10000000, 0},	     /* no correction */
		{5000, 10000},	     /* faster than expected */
		{10000, 10000},	     /* exactly the interval */
		{20000, 10000},	     /* two values */
		{20001, 10000},
		{3600000000ull, 1000}, /* 1 h of 1 us: 3.6M values */
		{1000000, 100},	       /* below lowest: clamped */
		{123456789, 98765},    /* uneven */
		{50000000, 333},       /* many per slot */
		{4000000000000ull,
		 1000000000ull}, /* above highest: clamped first */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct coil_hist *a = hist_new(NULL), *b = hist_new(NULL);
		uint64_t v = cases[k][0], iv = cases[k][1];
		coil_hist_record_corrected(a, v, iv);
		reference_corrected(
			b, v > COIL_HIST_HIGHEST_NS ? COIL_HIST_HIGHEST_NS : v,
			iv);
		if (v > COIL_HIST_HIGHEST_NS) {
			assert_int_equal(coil_hist_overflows(a), 1);
			assert_int_equal(coil_hist_overflows(b), 0);
		} else {
			assert_int_equal(coil_hist_overflows(a), 0);
			assert_same(a, b);
		}
		assert_int_equal(coil_hist_count(a), coil_hist_count(b));
		coil_hist_free(a);
		coil_hist_free(b);
	}
}

static void test_hist_corrected_n_scales_counts(void **state)
{
	struct coil_hist *a = hist_new(NULL), *b = hist_new(NULL);
	coil_hist_record_corrected_n(a, 10000000, 7, 1000000);
	for (int i = 0; i < 7; i++)
		reference_corrected(b, 10000000, 1000000);
	assert_same(a, b);
	assert_int_equal(coil_hist_count(a), 70);
	coil_hist_free(a);
	coil_hist_free(b);
}

/* a correction of 3.6e12 values costs one step per slot, not per value */
static void test_hist_corrected_huge_is_bounded(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	coil_hist_record_corrected(h, COIL_HIST_HIGHEST_NS, 1);
	/* v itself, then v-1 .. 1: all 3.6e12 values; 999 below 1 us */
	assert_int_equal(coil_hist_count(h), COIL_HIST_HIGHEST_NS);
	assert_int_equal(coil_hist_underflows(h), 999);
	assert_int_equal(coil_hist_min(h), COIL_HIST_LOWEST_NS);
	assert_int_equal(coil_hist_max(h), COIL_HIST_HIGHEST_NS);
	/* uniform over 1 ns .. 1 h: the median is near 30 min */
	uint64_t med = coil_hist_value_at_percentile(h, 50);
	assert_true(med >= 1799000000000ull && med <= 1801000000000ull);
	coil_hist_free(h);
}

static void test_hist_count_between_and_iter(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	struct coil_hist_iter it = {0};
	uint64_t total = 0, prev = 0;
	for (uint64_t v = 1000; v <= 100000; v += 1000)
		coil_hist_record(h, v);
	assert_int_equal(coil_hist_count_between(h, 0, UINT64_MAX), 100);
	assert_int_equal(coil_hist_count_between(h, 1000, 1000), 1);
	/* 10 us .. 20 us holds 10 us, 11 us, ... 20 us */
	assert_int_equal(coil_hist_count_between(h, 9990, 20010), 11);
	while (coil_hist_iter_next(h, &it)) {
		assert_true(it.lowest >= prev);
		assert_true(it.lowest <= it.highest);
		prev = it.highest + 1;
		total += it.count;
	}
	assert_int_equal(total, 100);
	coil_hist_free(h);
}

/* ---- V2 encoding, decoded independently here ---------------------------- */

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static int64_t get_zigzag(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	int i;
	for (i = 0; i < 8; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			break;
	}
	if (i == 8)
		v |= (uint64_t)p[8] << 56;
	*pp = p + (i == 8 ? 9 : i + 1);
	return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

static void test_hist_encode_v2_round_trips(void **state)
{
	struct coil_hist *h = hist_new(NULL);
	uint64_t *d = data_exponential();
	uint8_t *buf;
	ssize_t n;
	size_t idx = 0;
	struct coil_hist_iter it = {0};

	for (size_t i = 0; i < NDATA; i++)
		coil_hist_record(h, d[i]);
	coil_hist_record_n(h, 3000000000ull, 1ull << 60); /* 9-byte varint */
	buf = malloc(coil_hist_encode_bound(h));
	assert_int_equal(coil_hist_encode(h, buf, 10), -ENOSPC);
	n = coil_hist_encode(h, buf, coil_hist_encode_bound(h));
	assert_true(n > 40);
	assert_int_equal(get_be(buf, 4), 0x1c849313);
	assert_int_equal(get_be(buf + 4, 4), (uint64_t)n - 40);
	assert_int_equal(get_be(buf + 8, 4), 0);
	assert_int_equal(get_be(buf + 12, 4), 3);
	assert_int_equal(get_be(buf + 16, 8), 1);
	assert_int_equal(get_be(buf + 24, 8), COIL_HIST_HIGHEST_NS);
	assert_int_equal(get_be(buf + 32, 8), 0x3ff0000000000000ull);

	/* walk the payload: counts by index, runs of zeros negative */
	const uint8_t *p = buf + 40, *end = buf + n;
	while (p < end) {
		int64_t c = get_zigzag(&p);
		if (c < 0) {
			idx += (size_t)-c;
			continue;
		}
		if (c > 0) {
			assert_int_equal(coil_hist_iter_next(h, &it), 1);
			assert_int_equal(it.index - 1, idx);
			assert_int_equal(it.count, (uint64_t)c);
		}
		idx++;
	}
	assert_true(p == end);
	assert_int_equal(coil_hist_iter_next(h, &it), 0);
	free(buf);
	free(d);

	/* empty: one zero count */
	coil_hist_reset(h);
	uint8_t small[64];
	assert_int_equal(coil_hist_encode_bound(h), 49);
	assert_int_equal(coil_hist_encode(h, small, sizeof(small)), 41);
	assert_int_equal(small[40], 0);
	coil_hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_percentiles_uniform_match_exact),
		cmocka_unit_test(test_hist_percentiles_exponential_match_exact),
		cmocka_unit_test(test_hist_percentiles_bimodal_match_exact),
		cmocka_unit_test(test_hist_percentiles_small_exact),
		cmocka_unit_test(test_hist_empty_reads_zero),
		cmocka_unit_test(test_hist_layout_precision),
		cmocka_unit_test(test_hist_new_rejects_bad_options),
		cmocka_unit_test(test_hist_clamps_and_counts_out_of_range),
		cmocka_unit_test(test_hist_record_n_equals_repeated_record),
		cmocka_unit_test(test_hist_merge_equals_recording_into_one),
		cmocka_unit_test(test_hist_merge_different_ranges),
		cmocka_unit_test(test_hist_reset_forgets_everything),
		cmocka_unit_test(test_hist_corrected_matches_hdrhistogram),
		cmocka_unit_test(test_hist_corrected_n_scales_counts),
		cmocka_unit_test(test_hist_corrected_huge_is_bounded),
		cmocka_unit_test(test_hist_count_between_and_iter),
		cmocka_unit_test(test_hist_encode_v2_round_trips),
	};
	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
