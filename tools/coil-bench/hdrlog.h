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
