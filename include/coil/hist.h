/*
 * coil/hist.h - a latency histogram in HdrHistogram's layout.
 *
 * Values are unsigned 64-bit integers; for latencies they are nanoseconds.
 * The layout is HdrHistogram's (Gil Tene, HdrHistogram/AbstractHistogram):
 * a counts array of "buckets" of 2^k-wide "sub-buckets", such that every
 * value is kept with @digits significant decimal digits (with 3 digits, the
 * width of the slot holding value v is at most v/1024). The unit of the
 * layout is always 1 (HdrHistogram's lowestDiscernibleValue = 1): values
 * below 2 * 10^digits are exact.
 *
 * The default histogram (opts NULL) tracks 1 us .. 1 h in ns with 3
 * significant digits: 33792 counters of 8 bytes (264 KiB). Values outside
 * [lowest, highest] are clamped to the nearest bound, recorded there, and
 * counted (coil_hist_underflows(), coil_hist_overflows()).
 *
 * Recording is O(1) and never allocates; one allocation happens in
 * coil_hist_new(). A histogram is not thread-safe: keep one per thread and
 * merge them (coil_hist_merge()) once the threads are done.
 */
#ifndef COIL_HIST_H
#define COIL_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct coil_hist;

/* The default range: 1 us .. 1 h in ns, 3 significant digits. */
#define COIL_HIST_LOWEST_NS 1000ull
#define COIL_HIST_HIGHEST_NS 3600000000000ull
#define COIL_HIST_DIGITS 3

/*
 * Options of coil_hist_new(). Every field is taken as given (no zero
 * defaults): pass NULL to coil_hist_new() for the latency defaults above.
 * @lowest:  values below are clamped up to it and counted; may be 0.
 * @highest: values above are clamped down to it and counted; >= 2,
 *           > @lowest, at most 2^62.
 * @digits:  significant decimal digits kept, 1..5.
 */
struct coil_hist_opts {
	uint64_t lowest;
	uint64_t highest;
	unsigned digits;
};

/*
 * coil_hist_new() - allocate an empty histogram.
 * @out:  receives the histogram, owned by the caller (coil_hist_free()).
 * @opts: range and precision, or NULL for 1 us .. 1 h (ns), 3 digits; read
 *        only during the call.
 *
 * Sizes the counts array as HdrHistogram does for lowestDiscernibleValue 1,
 * highestTrackableValue @highest and @digits significant digits, so that
 * the histogram's V2 encoding (coil_hist_encode()) is read by HdrHistogram's
 * own decoders with the same layout.
 *
 * Return: 0; -EINVAL for options outside the ranges above; -ENOMEM.
 */
int coil_hist_new(struct coil_hist **out, const struct coil_hist_opts *opts);

/* coil_hist_free() - release @h (NULL is fine). */
void coil_hist_free(struct coil_hist *h);

/* coil_hist_reset() - forget every recorded value (O(size of array)). */
void coil_hist_reset(struct coil_hist *h);

/*
 * coil_hist_record() - record one value.
 * @v: the value (ns for latencies); clamped into [lowest, highest].
 *
 * O(1), no allocation (HdrHistogram recordValue()).
 */
void coil_hist_record(struct coil_hist *h, uint64_t v);

/*
 * coil_hist_record_n() - record @count occurrences of @v (HdrHistogram
 * recordValueWithCount()). @count 0 records nothing. O(1).
 */
void coil_hist_record_n(struct coil_hist *h, uint64_t v, uint64_t count);

/*
 * coil_hist_record_corrected() - record @v, corrected for coordinated
 * omission (HdrHistogram recordValueWithExpectedInterval(), as wrk2 and
 * HdrHistogram define it).
 * @v:           the measured value, clamped into [lowest, highest] first.
 * @interval:    the expected interval between samples (ns); 0 disables the
 *               correction.
 *
 * Records @v, and if @v > @interval also the values the stalled sampler
 * missed: v - interval, v - 2*interval, ... down to and including the last
 * one >= @interval. Each synthesized value is clamped and counted like a
 * recorded one. Cost: O(number of buckets touched), bounded by the size of
 * the counts array whatever @v / @interval is; no allocation.
 */
void coil_hist_record_corrected(struct coil_hist *h, uint64_t v,
				uint64_t interval);

/* coil_hist_record_corrected_n() - the same with @count occurrences of @v
 * (HdrHistogram recordValueWithCountAndExpectedInterval()). */
void coil_hist_record_corrected_n(struct coil_hist *h, uint64_t v,
				  uint64_t count, uint64_t interval);

/*
 * coil_hist_merge() - add every value of @src to @dst (HdrHistogram add()).
 * @dst: the histogram that grows; @src is only read. They may differ in
 *       options: when @src's range lies within @dst's and the digits match,
 *       counts are added slot by slot (exact); otherwise each slot of @src
 *       is re-recorded into @dst at its lowest equivalent value, clamped to
 *       @dst's range (and counted as under/overflow there).
 *
 * Underflow and overflow counts of @src are added to @dst's; min and max
 * become the min and max of both (clamped to @dst's range).
 * Return: 0; -EINVAL if @dst == @src.
 */
int coil_hist_merge(struct coil_hist *dst, const struct coil_hist *src);

/* ---- reading ------------------------------------------------------------ */

/* coil_hist_count() - values recorded (synthesized ones included). */
uint64_t coil_hist_count(const struct coil_hist *h);

/* coil_hist_min() / coil_hist_max() - the smallest / largest value recorded,
 * exact (after clamping); 0 when empty. */
uint64_t coil_hist_min(const struct coil_hist *h);
uint64_t coil_hist_max(const struct coil_hist *h);

/* coil_hist_underflows() / coil_hist_overflows() - values that were below
 * lowest / above highest and were clamped. */
uint64_t coil_hist_underflows(const struct coil_hist *h);
uint64_t coil_hist_overflows(const struct coil_hist *h);

/*
 * coil_hist_mean() / coil_hist_stdev() - mean and population standard
 * deviation, computed from the slots as HdrHistogram getMean() and
 * getStdDeviation() do (each slot counts at its median equivalent value), so
 * within the histogram's precision of the exact figures. 0 when empty.
 */
double coil_hist_mean(const struct coil_hist *h);
double coil_hist_stdev(const struct coil_hist *h);

/*
 * coil_hist_value_at_percentile() - the value at percentile @p.
 * @p: 0..100 (clamped; NaN counts as 0).
 *
 * Nearest-rank definition, as HdrHistogram getValueAtPercentile(): the
 * slot reached by the ceil(p/100 * count)-th smallest value (at least the
 * first); returned as the highest value equivalent to that slot (the lowest
 * for @p == 0), then bounded by coil_hist_min() and coil_hist_max(). So
 * the result lies in the same slot as the exact percentile of the recorded
 * data. Return: the value; 0 when empty.
 */
uint64_t coil_hist_value_at_percentile(const struct coil_hist *h, double p);

/*
 * coil_hist_count_between() - how many values lie in [@lo, @hi], deciding
 * per slot by its median equivalent value (wrk's "+/- Stdev" column is
 * count_between(mean - stdev, mean + stdev) / count).
 */
uint64_t coil_hist_count_between(const struct coil_hist *h, uint64_t lo,
				 uint64_t hi);

/* coil_hist_lowest_equivalent() / coil_hist_highest_equivalent() - the
 * bounds of the slot that holds @v: every value in between is counted as
 * the same (HdrHistogram lowestEquivalentValue(), highestEquivalentValue()).
 * @v is not clamped. */
uint64_t coil_hist_lowest_equivalent(const struct coil_hist *h, uint64_t v);
uint64_t coil_hist_highest_equivalent(const struct coil_hist *h, uint64_t v);

/*
 * Iteration over the non-empty slots, lowest first:
 *
 *	struct coil_hist_iter it = {0};
 *	while (coil_hist_iter_next(h, &it))
 *		use(it.lowest, it.highest, it.count);
 *
 * @index is the iterator's position (start at 0); @lowest/@highest bound the
 * slot's values; @count is how many were recorded there. The histogram must
 * not change during the walk.
 */
struct coil_hist_iter {
	size_t index;
	uint64_t lowest;
	uint64_t highest;
	uint64_t count;
};
int coil_hist_iter_next(const struct coil_hist *h, struct coil_hist_iter *it);

/* ---- HdrHistogram V2 encoding ------------------------------------------ */

/* coil_hist_encode_bound() - bytes coil_hist_encode() needs at most. */
size_t coil_hist_encode_bound(const struct coil_hist *h);

/*
 * coil_hist_encode() - HdrHistogram's V2 (uncompressed) encoding.
 * @buf: receives the encoding; @cap its size in bytes.
 *
 * Big-endian header of 40 bytes (AbstractHistogram.encodeIntoByteBuffer):
 * cookie 0x1c849313, payload length, normalizing index offset 0, digits,
 * lowestDiscernibleValue 1, highestTrackableValue, int-to-double ratio 1.0;
 * then the counts up to the slot of the max value, each as a ZigZag
 * LEB128-64b9B varint, a run of k > 1 empty slots as the single value -k
 * (HdrHistogram ZigZagEncoding). The V2 compressed form that logs carry is
 * this, deflated (zlib format), behind cookie 0x1c849314 and the length of
 * the deflated bytes.
 *
 * Return: bytes written; -ENOSPC if @cap is smaller than needed (nothing
 * useful is written then).
 */
ssize_t coil_hist_encode(const struct coil_hist *h, void *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* COIL_HIST_H */
