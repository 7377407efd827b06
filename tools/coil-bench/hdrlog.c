/*
 * tools/coil-bench/hdrlog.c - HdrHistogram interval log writer: the V2
 * encoding from libcoil (coil_hist_encode()), deflated with zlib and
 * base64-encoded, on the lines HistogramLogWriter writes.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "hdrlog.h"

#define V2_COMPRESSED_COOKIE                                                   \
	0x1c849314u /* V2CompressedEncodingCookieBase|0x10 */

struct cb_hdrlog {
	FILE *f;
	int err; /* first write error, -errno */
};

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4 base64, with padding; @out has 4 * ceil(n / 3) + 1. */
static size_t base64(char *out, const uint8_t *in, size_t n)
{
	char *p = out;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = b64[(v >> 6) & 63];
		*p++ = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = '=';
		*p++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = b64[(v >> 6) & 63];
		*p++ = '=';
	}
	*p = '\0';
	return (size_t)(p - out);
}

ssize_t cb_hdrlog_encode(const struct coil_hist *h, char **out)
{
	size_t raw_cap = coil_hist_encode_bound(h);
	uint8_t *raw = malloc(raw_cap), *z = NULL;
	uLongf zlen;
	ssize_t n, ret = -ENOMEM;
	char *text;

	*out = NULL;
	if (!raw)
		return -ENOMEM;
	n = coil_hist_encode(h, raw, raw_cap);
	if (n < 0) {
		ret = n;
		goto out;
	}
	zlen = compressBound((uLong)n);
	z = malloc(8 + zlen);
	if (!z)
		goto out;
	/* zlib format (RFC 1950), as java.util.zip.Deflater writes it;
	 * level 9 as HistogramLogWriter asks (BEST_COMPRESSION) */
	if (compress2(z + 8, &zlen, raw, (uLong)n, 9) != Z_OK) {
		ret = -EIO;
		goto out;
	}
	for (int i = 0; i < 4; i++) {
		z[i] = (uint8_t)(V2_COMPRESSED_COOKIE >> (24 - 8 * i));
		z[4 + i] = (uint8_t)((uint32_t)zlen >> (24 - 8 * i));
	}
	text = malloc(4 * ((8 + zlen + 2) / 3) + 1);
	if (!text)
		goto out;
	ret = (ssize_t)base64(text, z, 8 + zlen);
	*out = text;
out:
	free(raw);
	free(z);
	return ret;
}

/* Note the first stdio error of the log. */
static int check(struct cb_hdrlog *log, int printed)
{
	if (printed < 0 && !log->err)
		log->err = errno ? -errno : -EIO;
	return log->err;
}

int cb_hdrlog_open(struct cb_hdrlog **out, const char *path,
		   uint64_t start_unix_ns, const char *comment)
{
	struct cb_hdrlog *log;
	time_t secs = (time_t)(start_unix_ns / 1000000000ull);
	unsigned ms = (unsigned)(start_unix_ns % 1000000000ull / 1000000ull);
	struct tm tm;
	char date[64];
	int err;

	*out = NULL;
	if (!path || (comment && strpbrk(comment, "\r\n")))
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->f = fopen(path, "we");
	if (!log->f) {
		err = -errno;
		free(log);
		return err;
	}
	/* java.util.Date.toString(): "EEE MMM dd HH:mm:ss zzz yyyy" */
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	if (comment)
		check(log, fprintf(log->f, "#%s\n", comment));
	check(log, fprintf(log->f, "#[Histogram log format version 1.3]\n"));
	check(log, fprintf(log->f,
			   "#[StartTime: %llu.%03u (seconds since epoch), "
			   "%s]\n",
			   (unsigned long long)secs, ms, date));
	check(log,
	      fprintf(log->f, "#[BaseTime: %llu.%03u (seconds since epoch)]\n",
		      (unsigned long long)secs, ms));
	err = check(log,
		    fprintf(log->f, "\"StartTimestamp\",\"Interval_Length\","
				    "\"Interval_Max\","
				    "\"Interval_Compressed_Histogram\"\n"));
	if (err) {
		cb_hdrlog_close(log);
		return err;
	}
	*out = log;
	return 0;
}

/* @value / @div with 3 decimals, rounded half up, without floating point
 * (@div a multiple of 1000: seconds from ns, ms from ns) */
static void fixed3(char *buf, size_t len, uint64_t value, uint64_t div)
{
	uint64_t unit = div / 1000;
	uint64_t k = value / unit + (value % unit >= unit / 2);
	snprintf(buf, len, "%llu.%03llu", (unsigned long long)(k / 1000),
		 (unsigned long long)(k % 1000));
}

int cb_hdrlog_write(struct cb_hdrlog *log, const char *tag, uint64_t start_ns,
		    uint64_t length_ns, const struct coil_hist *h)
{
	char start[32], length[32], max[32], *text;
	ssize_t n;

	if (tag && (!*tag || strpbrk(tag, ", \r\n")))
		return -EINVAL;
	if (log->err)
		return log->err;
	n = cb_hdrlog_encode(h, &text);
	if (n < 0)
		return (int)n;
	fixed3(start, sizeof(start), start_ns, 1000000000ull);
	fixed3(length, sizeof(length), length_ns, 1000000000ull);
	/* max in ms: HdrHistogram's default maxValueUnitRatio of 10^6 */
	fixed3(max, sizeof(max), coil_hist_max(h), 1000000ull);
	check(log, fprintf(log->f, "%s%s%s%s,%s,%s,%s\n", tag ? "Tag=" : "",
			   tag ? tag : "", tag ? "," : "", start, length, max,
			   text));
	free(text);
	/* one line a second at most: flush it, so a run that dies keeps its
	 * log and a full disk shows at once */
	if (!log->err && fflush(log->f) != 0)
		log->err = -errno;
	return log->err;
}

int cb_hdrlog_close(struct cb_hdrlog *log)
{
	int err;
	if (!log)
		return 0;
	err = log->err;
	if (fclose(log->f) != 0 && !err)
		err = -errno;
	free(log);
	return err;
}

/* ---- hdr-log intervals --------------------------------------------------
 */

static int hdr_write_slot(struct cb_hdr *hd, struct cb_hdr_slot *s)
{
	uint64_t start = s->interval * CB_HDR_INTERVAL_NS;
	uint64_t len = s->end_ns > start ? s->end_ns - start : 0;
	int ret;
	if (len > CB_HDR_INTERVAL_NS)
		len = CB_HDR_INTERVAL_NS;
	ret = cb_hdrlog_write(hd->log, NULL, start, len, s->h);
	if (!ret && hd->uncorrected)
		ret = cb_hdrlog_write(hd->log, "uncorrected", start, len,
				      s->hu);
	if (ret && !hd->err)
		hd->err = ret;
	coil_hist_reset(s->h);
	if (s->hu)
		coil_hist_reset(s->hu);
	s->contrib = 0;
	s->end_ns = 0;
	return ret;
}

void cb_hdr_add(struct cb_hdr *hd, uint64_t interval, uint64_t end_ns,
		struct coil_hist *h, struct coil_hist *hu)
{
	struct cb_hdr_slot *s = &hd->slot[interval % CB_HDR_SLOTS];

	pthread_mutex_lock(&hd->mu);
	if (s->contrib && s->interval != interval)
		hdr_write_slot(hd, s); /* a thread far behind: flush early */
	s->interval = interval;
	coil_hist_merge(s->h, h);
	if (hu && s->hu)
		coil_hist_merge(s->hu, hu);
	if (end_ns > s->end_ns)
		s->end_ns = end_ns;
	if (++s->contrib == hd->threads)
		hdr_write_slot(hd, s);
	pthread_mutex_unlock(&hd->mu);
}

int cb_hdr_new(struct cb_hdr **out, struct cb_hdrlog *log, unsigned threads,
	       int uncorrected)
{
	struct cb_hdr *hd = calloc(1, sizeof(*hd));
	if (!hd)
		return -ENOMEM;
	pthread_mutex_init(&hd->mu, NULL);
	hd->log = log;
	hd->threads = threads;
	hd->uncorrected = uncorrected;
	for (int i = 0; i < CB_HDR_SLOTS; i++) {
		if (coil_hist_new(&hd->slot[i].h, NULL) < 0 ||
		    (uncorrected && coil_hist_new(&hd->slot[i].hu, NULL) < 0)) {
			cb_hdr_free(hd, 0);
			return -ENOMEM;
		}
	}
	*out = hd;
	return 0;
}

int cb_hdr_free(struct cb_hdr *hd, uint64_t base_ns)
{
	int err;
	(void)base_ns;
	if (!hd)
		return 0;
	/* intervals not completed by every thread (a thread failed): write
	 * them in order */
	for (;;) {
		struct cb_hdr_slot *min = NULL;
		for (int i = 0; i < CB_HDR_SLOTS; i++) {
			struct cb_hdr_slot *s = &hd->slot[i];
			if (s->contrib && (!min || s->interval < min->interval))
				min = s;
		}
		if (!min || !hd->log)
			break;
		hdr_write_slot(hd, min);
	}
	for (int i = 0; i < CB_HDR_SLOTS; i++) {
		coil_hist_free(hd->slot[i].h);
		coil_hist_free(hd->slot[i].hu);
	}
	err = hd->err;
	pthread_mutex_destroy(&hd->mu);
	free(hd);
	return err;
}
