/*
 * tools/coil-bench/hdrlog.c - HdrHistogram interval log writer: the V2
 * encoding from libcoil (coil_hist_encode()), deflated with zlib and
 * base64-encoded, on the lines HistogramLogWriter writes. The same text
 * carries the histograms of --json, read back here for coil-bench merge.
 */

#include <errno.h>
#include <stdbool.h>
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

/* Grow @buf to @n bytes at least. */
static int grow(uint8_t **buf, size_t *cap, size_t n)
{
	uint8_t *nb;
	if (*cap >= n)
		return 0;
	nb = realloc(*buf, n);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = n;
	return 0;
}

ssize_t cb_hdrlog_encode_buf(const struct coil_hist *h, struct cb_hdr_buf *b,
			     char **out)
{
	size_t raw_cap = coil_hist_encode_bound(h);
	uLongf zlen;
	ssize_t n;
	char *text;

	*out = NULL;
	if (grow(&b->raw, &b->raw_cap, raw_cap) < 0)
		return -ENOMEM;
	n = coil_hist_encode(h, b->raw, raw_cap);
	if (n < 0)
		return n;
	zlen = compressBound((uLong)n);
	if (grow(&b->z, &b->z_cap, 8 + zlen) < 0)
		return -ENOMEM;
	/* zlib format (RFC 1950), as java.util.zip.Deflater writes it;
	 * level 9 as HistogramLogWriter asks (BEST_COMPRESSION) */
	if (compress2(b->z + 8, &zlen, b->raw, (uLong)n, 9) != Z_OK)
		return -EIO;
	for (int i = 0; i < 4; i++) {
		b->z[i] = (uint8_t)(V2_COMPRESSED_COOKIE >> (24 - 8 * i));
		b->z[4 + i] = (uint8_t)((uint32_t)zlen >> (24 - 8 * i));
	}
	text = malloc(4 * ((8 + zlen + 2) / 3) + 1);
	if (!text)
		return -ENOMEM;
	*out = text;
	return (ssize_t)base64(text, b->z, 8 + zlen);
}

void cb_hdr_buf_free(struct cb_hdr_buf *b)
{
	free(b->raw);
	free(b->z);
	memset(b, 0, sizeof(*b));
}

ssize_t cb_hdrlog_encode(const struct coil_hist *h, char **out)
{
	struct cb_hdr_buf b = {0};
	ssize_t n = cb_hdrlog_encode_buf(h, &b, out);
	cb_hdr_buf_free(&b);
	return n;
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

/* ---- a histogram as text, exactly ------------------------------------------
 */

int cb_hdr_text_make(struct cb_hdr_text *t, const struct coil_hist *h)
{
	struct cb_hdr_buf b = {0};
	int ret = cb_hdr_text_make_buf(t, h, &b);
	cb_hdr_buf_free(&b);
	return ret;
}

int cb_hdr_text_make_buf(struct cb_hdr_text *t, const struct coil_hist *h,
			 struct cb_hdr_buf *b)
{
	ssize_t n;
	memset(t, 0, sizeof(*t));
	n = cb_hdrlog_encode_buf(h, b, &t->hdr);
	if (n < 0)
		return (int)n;
	t->count = coil_hist_count(h);
	t->min = coil_hist_min(h);
	t->max = coil_hist_max(h);
	t->below = coil_hist_underflows(h);
	t->above = coil_hist_overflows(h);
	return 0;
}

void cb_hdr_text_free(struct cb_hdr_text *t)
{
	free(t->hdr);
	memset(t, 0, sizeof(*t));
}

static int unb64(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* RFC 4648 base64 with padding into @out (>= 3 * strlen / 4 bytes).
 * Return: bytes; -EINVAL. */
static ssize_t unbase64(uint8_t *out, const char *in)
{
	size_t n = strlen(in), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v;
		if (in[i] == '=') {
			if (i < n - 2 || (i == n - 2 && in[n - 1] != '='))
				return -EINVAL;
			break;
		}
		if ((v = unb64((unsigned char)in[i])) < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)o;
}

static uint64_t be_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Inflate the zlib stream @z into a buffer of at most @max bytes.
 * Return: its length, *@out owned by the caller; -EINVAL; -ENOMEM. */
static ssize_t inflate_all(const uint8_t *z, size_t zn, size_t max,
			   uint8_t **out)
{
	z_stream s;
	size_t cap = 4096;
	uint8_t *buf = malloc(cap);
	int ret;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	if (!buf || inflateInit(&s) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	s.next_in = (Bytef *)z;
	s.avail_in = (uInt)zn;
	do {
		if (s.total_out == cap) {
			uint8_t *nb = cap < max ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				inflateEnd(&s);
				free(buf);
				return cap < max ? -ENOMEM : -EINVAL;
			}
			buf = nb;
			cap *= 2;
		}
		s.next_out = buf + s.total_out;
		s.avail_out = (uInt)(cap - s.total_out);
		ret = inflate(&s, Z_FINISH);
	} while (ret == Z_BUF_ERROR && s.avail_out == 0);
	inflateEnd(&s);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return (ssize_t)s.total_out;
}

/* One ZigZag LEB128-64b9B varint (HdrHistogram ZigZagEncoding). */
static int varint(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (int i = 0; i < 9; i++) {
		uint8_t b;
		if (p >= end)
			return -EINVAL;
		b = *p++;
		if (i == 8) {
			v |= (uint64_t)b << 56;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	*pp = p;
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return 0;
}

/* The slot layout of lowestDiscernibleValue 1 with @digits digits
 * (HdrHistogram's valueFromIndex()): the lowest value of slot @idx. */
static uint64_t slot_value(unsigned digits, uint64_t idx)
{
	uint64_t largest = 2, sub_count = 1;
	unsigned half_mag;
	int64_t bucket;
	uint64_t sub, half;

	for (unsigned i = 0; i < digits; i++)
		largest *= 10;
	while (sub_count < largest)
		sub_count <<= 1;
	half = sub_count / 2;
	half_mag = (unsigned)__builtin_ctzll(half);
	bucket = (int64_t)(idx >> half_mag) - 1;
	sub = (idx & (half - 1)) + half;
	if (bucket < 0) {
		sub -= half;
		bucket = 0;
	}
	return bucket >= 63 ? UINT64_MAX : sub << bucket;
}

/* Record one decoded slot [lo, hi] of @c values into @h, keeping @t's
 * exact min, max and clamped counts (see hdrlog.h): the min's slot is
 * recorded at the min, the max's at the max, clamped values beyond the
 * bound they were clamped to. */
static int add_slot(const struct cb_hdr_text *t, struct coil_hist *h,
		    uint64_t lo, uint64_t hi, uint64_t c)
{
	bool has_min = t->min >= lo && t->min <= hi;
	bool has_max = t->max >= lo && t->max <= hi;
	if (has_min && t->below) {
		if (t->below > c || !t->min)
			return -EINVAL;
		coil_hist_record_n(h, t->min - 1, t->below);
		c -= t->below;
	}
	if (has_max && t->above) {
		if (t->above > c || t->max == UINT64_MAX)
			return -EINVAL;
		coil_hist_record_n(h, t->max + 1, t->above);
		c -= t->above;
	}
	if (has_max && !t->above && c && (!has_min || t->max != t->min)) {
		coil_hist_record(h, t->max);
		c--;
	}
	coil_hist_record_n(h, has_min ? t->min : has_max ? t->max : lo, c);
	return 0;
}

int cb_hdr_text_add(const struct cb_hdr_text *t, struct coil_hist *h)
{
	size_t n = t->hdr ? strlen(t->hdr) : 0;
	uint8_t *z = malloc(n / 4 * 3 + 3), *raw = NULL;
	const uint8_t *p, *end;
	uint64_t idx = 0, total = 0;
	unsigned digits;
	ssize_t zn, rn;
	int ret = -EINVAL;

	if (!z)
		return -ENOMEM;
	zn = t->hdr ? unbase64(z, t->hdr) : -EINVAL;
	if (zn < 8 || be_get(z, 4) != V2_COMPRESSED_COOKIE ||
	    be_get(z + 4, 4) != (uint64_t)zn - 8)
		goto out;
	/* at most 9 bytes per slot of a 2^63 range at 5 digits */
	rn = inflate_all(z + 8, (size_t)zn - 8, 64u << 20, &raw);
	if (rn < 0) {
		ret = (int)rn;
		goto out;
	}
	if (rn < 40 || be_get(raw, 4) != 0x1c849313u ||
	    be_get(raw + 4, 4) != (uint64_t)rn - 40 || be_get(raw + 8, 4) ||
	    be_get(raw + 16, 8) != 1)
		goto out;
	digits = (unsigned)be_get(raw + 12, 4);
	if (digits < 1 || digits > 5)
		goto out;
	end = raw + rn;
	for (p = raw + 40; p < end;) {
		int64_t c;
		uint64_t lo, hi;
		if (varint(&p, end, &c) < 0)
			goto out;
		if (c < 0) {
			idx += (uint64_t)-c;
			continue;
		}
		if (c) {
			lo = slot_value(digits, idx);
			hi = slot_value(digits, idx + 1) - 1;
			/* the slot must be one of @h's */
			if (lo == UINT64_MAX ||
			    coil_hist_lowest_equivalent(h, lo) != lo ||
			    coil_hist_highest_equivalent(h, lo) != hi ||
			    add_slot(t, h, lo, hi, (uint64_t)c) < 0)
				goto out;
			total += (uint64_t)c;
		}
		idx++;
	}
	ret = total == t->count ? 0 : -EINVAL;
out:
	free(z);
	free(raw);
	return ret;
}
