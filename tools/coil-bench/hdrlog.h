/*
 * tools/coil-bench/hdrlog.h - HdrHistogram interval logs (--hdr-log FILE).
 *
 * Writes the log format of HdrHistogram's HistogramLogWriter (format
 * version 1.3), which HdrHistogram's own tools read (HistogramLogReader,
 * HistogramLogProcessor, HdrHistogramVisualizer):
 *
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 ...]
 *   #[BaseTime: 1700000000.000 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=latency,0.000,1.000,12.345,HISTFAAA...
 *
 * Each interval line carries its start (seconds since BaseTime), length
 * (seconds), max value (ms: ns / 10^6, HdrHistogram's default
 * maxValueUnitRatio) and the histogram in the V2 compressed encoding
 * (coil_hist_encode(), deflated in zlib format, behind cookie 0x1c849314
 * and the deflated length), in base64. Values are ns, as HdrHistogram's
 * tools assume by default.
 */
#ifndef COIL_BENCH_HDRLOG_H
#define COIL_BENCH_HDRLOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coil/hist.h"

struct cb_hdrlog;

/*
 * cb_hdrlog_open() - create (or truncate) @path and write the log header.
 * @out:           receives the log, owned by the caller (cb_hdrlog_close()).
 * @path:          the file; read only during the call.
 * @start_unix_ns: wall-clock start of the run (CLOCK_REALTIME, ns since the
 *                 epoch): written as StartTime and BaseTime; interval start
 *                 times are relative to it.
 * @comment:       an optional first line ("#" + @comment), or NULL; must not
 *                 contain a line break.
 *
 * Return: 0; -EINVAL for a NULL @path or a comment with a line break;
 * -errno from fopen(3) (-ENOENT, -EACCES, ...) or from writing; -ENOMEM.
 */
int cb_hdrlog_open(struct cb_hdrlog **out, const char *path,
		   uint64_t start_unix_ns, const char *comment);

/*
 * cb_hdrlog_write() - append one interval histogram.
 * @tag:       HdrHistogram tag ("Tag=..." prefix), or NULL for none; must
 *             not contain ',', ' ', or a line break (HistogramLogWriter's
 *             rule).
 * @start_ns:  the interval's start, relative to the start given to
 *             cb_hdrlog_open().
 * @length_ns: the interval's length.
 * @h:         the interval's values (ns); read only.
 *
 * Return: 0; -EINVAL for a bad tag; -ENOMEM; -EIO if zlib failed; -errno
 * from writing.
 */
int cb_hdrlog_write(struct cb_hdrlog *log, const char *tag, uint64_t start_ns,
		    uint64_t length_ns, const struct coil_hist *h);

/*
 * cb_hdrlog_close() - flush and close the file, free @log (NULL is fine).
 * Return: 0; -errno if flushing or closing failed (the data may be lost).
 */
int cb_hdrlog_close(struct cb_hdrlog *log);

/*
 * cb_hdrlog_encode() - the base64 text of @h's V2 compressed encoding, as
 * it appears in an interval line.
 * @out: receives a NUL-terminated string owned by the caller (free(3)).
 * Return: its length; -ENOMEM; -EIO if zlib failed.
 */
ssize_t cb_hdrlog_encode(const struct coil_hist *h, char **out);

/* Scratch space of the encoding, kept by a caller that encodes often (the
 * per-second series): then only the text is allocated. Zero it to start;
 * cb_hdr_buf_free() at the end. */
struct cb_hdr_buf {
	uint8_t *raw, *z;
	size_t raw_cap, z_cap;
};

/* cb_hdrlog_encode_buf() - cb_hdrlog_encode() with the scratch space of @b
 * (grown as needed). Same return values. */
ssize_t cb_hdrlog_encode_buf(const struct coil_hist *h, struct cb_hdr_buf *b,
			     char **out);
void cb_hdr_buf_free(struct cb_hdr_buf *b);

/* ---- a histogram as text, exactly (--json, coil-bench merge) -------------
 *
 * The interval log's encoding keeps every slot's count; what it loses is
 * kept beside it: the exact min and max (HdrHistogram derives them from
 * the slots) and the values clamped at the range's bounds. Read back with
 * cb_hdr_text_add(), a histogram of the default layout (coil_hist_new(NULL))
 * has the same slots, count, min, max, underflows and overflows, hence the
 * same percentiles, mean and stdev: adding several is merging them.
 */
struct cb_hdr_text {
	char *hdr;	/* cb_hdrlog_encode()'s text (owned), or NULL */
	uint64_t count; /* coil_hist_count() */
	uint64_t min, max;
	uint64_t below, above; /* coil_hist_underflows(), _overflows() */
};

/* cb_hdr_text_make() - @t from @h. Return: 0; -ENOMEM; -EIO (zlib).
 * cb_hdr_text_make_buf(): the same with the scratch space of @b. */
int cb_hdr_text_make(struct cb_hdr_text *t, const struct coil_hist *h);
int cb_hdr_text_make_buf(struct cb_hdr_text *t, const struct coil_hist *h,
			 struct cb_hdr_buf *b);

/* cb_hdr_text_free() - free t->hdr; @t is zeroed. */
void cb_hdr_text_free(struct cb_hdr_text *t);

/*
 * cb_hdr_text_add() - add the values @t describes into @h (as
 * coil_hist_merge() would add the histogram @t was made from).
 * @h: must have @t's significant digits (the encoding's header says).
 * Return: 0; -EINVAL for text that is not base64 of a V2 compressed
 * histogram, a layout other than @h's digits, or counts that disagree
 * with count/min/max/below/above; -ENOMEM.
 */
int cb_hdr_text_add(const struct cb_hdr_text *t, struct coil_hist *h);

/* ---- the --hdr-log intervals of a multi-threaded run ----------------------
 */

#define CB_HDR_INTERVAL_NS 1000000000ull /* one log line per second */

/* The --hdr-log intervals: each thread adds its interval histograms
 * here; the thread that completes an interval writes its line. */
#define CB_HDR_SLOTS 8
struct cb_hdr_slot {
	uint64_t interval; /* index from the measured start */
	unsigned contrib;  /* threads that added to it */
	uint64_t end_ns;   /* latest end reported for it (relative) */
	struct coil_hist *h, *hu;
};

struct cb_hdr {
	pthread_mutex_t mu;
	struct cb_hdrlog *log;
	unsigned threads;
	int uncorrected; /* also write the "uncorrected" tag */
	int err;	 /* first write error */
	struct cb_hdr_slot slot[CB_HDR_SLOTS];
};

/* cb_hdr_new() / cb_hdr_free() - the shared interval state of --hdr-log.
 * Return: 0; -ENOMEM. */
int cb_hdr_new(struct cb_hdr **out, struct cb_hdrlog *log, unsigned threads,
	       int uncorrected);
/* Write every interval still held, then free; returns the first write
 * error (0 if none). The log itself is closed by the caller. */
int cb_hdr_free(struct cb_hdr *hd, uint64_t base_ns);

/* cb_hdr_add() - add one thread's histograms @h (corrected) and @hu
 * (uncorrected, may be NULL) for @interval, which ended at @end_ns
 * (relative to the measured start); the thread that completes an
 * interval writes its lines. Thread-safe. */
void cb_hdr_add(struct cb_hdr *hd, uint64_t interval, uint64_t end_ns,
		struct coil_hist *h, struct coil_hist *hu);

#endif
