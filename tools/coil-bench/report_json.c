/*
 * tools/coil-bench/report_json.c - the result as one JSON object (--json,
 * RFC 8259): the figures of the text report, the configuration, the
 * latency curves, the stages and the per-second series.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coil/engine.h"
#include "hdrlog.h"
#include "report.h"
#include "series.h"
#include "slo.h"
#include "stages.h"

/* Length of the valid UTF-8 sequence at @s (RFC 3629 section 4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

void cb_json_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	fputc('"', f);
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			i++;
			continue;
		case '\\':
			fputs("\\\\", f);
			i++;
			continue;
		case '\b':
			fputs("\\b", f);
			i++;
			continue;
		case '\f':
			fputs("\\f", f);
			i++;
			continue;
		case '\n':
			fputs("\\n", f);
			i++;
			continue;
		case '\r':
			fputs("\\r", f);
			i++;
			continue;
		case '\t':
			fputs("\\t", f);
			i++;
			continue;
		}
		if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i);
		if (!n) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, f);
		i += n;
	}
	fputc('"', f);
}

/* A pretty-printing emitter: two spaces per level. */
struct json {
	FILE *f;
	int depth;
	bool first; /* nothing written yet at this level */
};

static void j_newline(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* before a member or an element */
static void j_item(struct json *j)
{
	if (!j->first)
		fputc(',', j->f);
	j->first = false;
	j_newline(j);
}

static void j_key(struct json *j, const char *k)
{
	j_item(j);
	cb_json_string(j->f, k, strlen(k));
	fputs(": ", j->f);
}

static void j_open(struct json *j, char c)
{
	fputc(c, j->f);
	j->depth++;
	j->first = true;
}

static void j_close(struct json *j, char c)
{
	j->depth--;
	if (!j->first)
		j_newline(j);
	fputc(c, j->f);
	j->first = false;
}

static void j_u64(struct json *j, const char *k, uint64_t v)
{
	j_key(j, k);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

static void j_f64(struct json *j, const char *k, double v)
{
	j_key(j, k);
	if (__builtin_isfinite(v))
		fprintf(j->f, "%.3f", v);
	else
		fputs("null", j->f);
}

static void j_u64_or_null(struct json *j, const char *k, bool have, uint64_t v)
{
	if (have) {
		j_u64(j, k, v);
	} else {
		j_key(j, k);
		fputs("null", j->f);
	}
}

static void j_bool(struct json *j, const char *k, bool v)
{
	j_key(j, k);
	fputs(v ? "true" : "false", j->f);
}

static void j_str(struct json *j, const char *k, const char *v)
{
	j_key(j, k);
	cb_json_string(j->f, v, strlen(v));
}

/* @unix_ns as an RFC 3339 UTC time with milliseconds,
 * "2026-12-05T15:20:01.250Z"; null for 0 (not recorded). */
static void j_time(struct json *j, uint64_t unix_ns)
{
	time_t secs = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	char buf[40];

	if (!unix_ns || !gmtime_r(&secs, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) {
		fputs("null", j->f);
		return;
	}
	fprintf(j->f, "\"%s.%03uZ\"", buf,
		(unsigned)(unix_ns / 1000000ull % 1000));
}

/* "curve": [[percentile, ns], ...] at HdrHistogram's percentile ticks
 * (outputPercentileDistribution(), 5 ticks per halving of 1 - p) up to
 * 99.999: what the plot draws on its 1/(1-p) axis. Empty without data. */
static void j_curve(struct json *j, const struct coil_hist *h)
{
	double pts[CB_CURVE_MAX];
	size_t n = cb_curve_percentiles(pts, CB_CURVE_MAX);
	j_key(j, "curve");
	j_open(j, '[');
	for (size_t i = 0; i < n && coil_hist_count(h); i++) {
		j_item(j);
		fprintf(j->f, "[%.6g, %llu]", pts[i],
			(unsigned long long)coil_hist_value_at_percentile(
				h, pts[i]));
	}
	j_close(j, ']');
}

/* A histogram's figures; without samples every figure but the count is
 * null (there is no latency to report, and 0 would read as a fast one). */
static void j_hist(struct json *j, const char *k, const struct coil_hist *h,
		   bool pcts)
{
	double nan = __builtin_nan(""); /* j_f64() writes null */
	bool any = coil_hist_count(h) > 0;

	j_key(j, k);
	j_open(j, '{');
	j_u64(j, "count", coil_hist_count(h));
	j_u64_or_null(j, "min", any, coil_hist_min(h));
	j_u64_or_null(j, "max", any, coil_hist_max(h));
	j_f64(j, "mean", any ? coil_hist_mean(h) : nan);
	j_f64(j, "stdev", any ? coil_hist_stdev(h) : nan);
	j_f64(j, "within_stdev_pct", any ? cb_within_stdev_pct(h) : nan);
	if (pcts) {
		j_u64(j, "below_range", coil_hist_underflows(h));
		j_u64(j, "above_range", coil_hist_overflows(h));
		j_key(j, "percentiles");
		j_open(j, '{');
		for (size_t i = 0; i < CB_NPCT; i++)
			j_u64_or_null(j, cb_pct_labels[i], any,
				      coil_hist_value_at_percentile(
					      h, cb_pct_values[i]));
		j_close(j, '}');
		j_curve(j, h);
	}
	j_close(j, '}');
}

/* "stages": one object per stage (null without --stages) */
/* "hosts": one object per host of --targets (absent without) */
static void j_hosts(struct json *j, const struct cb_result *r)
{
	if (!r->nhosts)
		return;
	j_key(j, "hosts");
	j_open(j, '[');
	for (unsigned k = 0; k < r->nhosts; k++) {
		const struct cb_host_result *h = &r->by_host[k];
		bool any = coil_hist_count(h->latency) > 0;
		j_item(j);
		j_open(j, '{');
		j_str(j, "host", h->name);
		j_u64(j, "connections", h->connections);
		j_u64(j, "requests", h->requests);
		j_u64(j, "non_2xx_3xx", h->non_2xx_3xx);
		j_u64(j, "errors", h->errors);
		j_key(j, "latency_ns");
		j_open(j, '{');
		for (size_t i = 0; i < CB_NPCT; i++)
			j_u64_or_null(j, cb_pct_labels[i], any,
				      coil_hist_value_at_percentile(
					      h->latency, cb_pct_values[i]));
		j_close(j, '}');
		j_close(j, '}');
	}
	j_close(j, ']');
}

static void j_stages(struct json *j, const struct cb_opts *o,
		     const struct cb_result *r)
{
	j_key(j, "stages");
	if (!o->stages.n || r->nstages != o->stages.n) {
		fputs("null", j->f);
		return;
	}
	j_open(j, '{');
	j_str(j, "model", o->rate ? "open" : "closed");
	j_str(j, "unit", o->rate ? "requests/s" : "connections");
	j_u64(j, "start", o->stages.start);
	j_key(j, "list");
	j_open(j, '[');
	for (unsigned k = 0; k < o->stages.n; k++) {
		const struct cb_stage *st = &o->stages.st[k];
		const struct cb_stage_result *sr = &r->stage[k];
		j_item(j);
		j_open(j, '{');
		j_u64(j, "start_ns", st->start_ns);
		j_u64(j, "length_ns", st->len_ns);
		j_u64(j, "from", st->from);
		j_u64(j, "target", st->target);
		if (o->rate)
			j_u64(j, "scheduled",
			      cb_stages_scheduled(&o->stages, k));
		j_u64(j, "requests", sr->requests);
		j_u64(j, "non_2xx_3xx", sr->non_2xx_3xx);
		j_u64(j, "errors", sr->errors);
		j_key(j, "latency_ns");
		j_open(j, '{');
		for (size_t i = 0; i < CB_NPCT; i++)
			j_u64_or_null(j, cb_pct_labels[i],
				      coil_hist_count(sr->latency) > 0,
				      coil_hist_value_at_percentile(
					      sr->latency, cb_pct_values[i]));
		j_close(j, '}');
		j_close(j, '}');
	}
	j_close(j, ']');
	j_close(j, '}');
}

/* "series": one object per second of the measured period */
static void j_series(struct json *j, const struct cb_result *r)
{
	j_key(j, "series");
	j_open(j, '{');
	j_u64(j, "interval_ns", 1000000000ull);
	j_key(j, "points");
	j_open(j, '[');
	for (size_t i = 0; i < r->nseries; i++) {
		const struct cb_series_point *p = &r->series[i];
		j_item(j);
		fprintf(j->f,
			"{\"t\": %zu, \"requests\": %llu, \"errors\": %llu, ",
			i, (unsigned long long)p->requests,
			(unsigned long long)p->errors);
		if (p->requests) /* no latency in a second without answers */
			fprintf(j->f, "\"p50_ns\": %llu, \"p99_ns\": %llu}",
				(unsigned long long)p->p50_ns,
				(unsigned long long)p->p99_ns);
		else
			fputs("\"p50_ns\": null, \"p99_ns\": null}", j->f);
	}
	j_close(j, ']');
	j_close(j, '}');
}

size_t cb_curve_percentiles(double *out, size_t max)
{
	/* HdrHistogram's percentile iterator with 5 ticks per half
	 * distance: from 0, steps of 100 / 2^k / 5 within each halving of
	 * what remains to 100 */
	size_t n = 0;
	for (int k = 0; n < max; k++) {
		double base = 100.0 - 100.0 / (double)(1ull << k);
		double step = 100.0 / (double)(1ull << k) / 2.0 / 5.0;
		for (int i = 0; i < 5 && n < max; i++) {
			double p = base + step * i;
			if (p > 99.999 + 1e-9) {
				out[n++] = 99.999;
				return n;
			}
			out[n++] = p;
		}
	}
	return n;
}

/* "segment", "host", "start": which share of a test ran where, when */
static void j_where(struct json *j, const struct cb_opts *o,
		    const struct cb_result *r)
{
	j_key(j, "segment");
	if (o->seg.count) {
		j_open(j, '{');
		j_u64(j, "index", o->seg.index);
		j_u64(j, "count", o->seg.count);
		j_str(j, "source", cb_segment_source_name(o->seg.source));
		j_u64(j, "threads", o->threads);
		j_u64(j, "connections", o->connections);
		j_u64(j, "first_connection", o->seg.conn_first);
		j_u64(j, "requests", o->rate ? 0 : o->requests);
		j_close(j, '}');
	} else {
		fputs("null", j->f);
	}
	j_key(j, "host");
	if (r->host[0])
		cb_json_string(j->f, r->host, strlen(r->host));
	else
		fputs("null", j->f);
	j_key(j, "start");
	j_open(j, '{');
	j_key(j, "at_unix_ns");
	if (o->start_at_ns)
		fprintf(j->f, "%llu", (unsigned long long)o->start_at_ns);
	else
		fputs("null", j->f);
	j_u64(j, "late_ns", r->start_late_ns);
	j_close(j, '}');
}

/* "workers": coil-bench merge's line per worker (null otherwise) */
static void j_workers(struct json *j, const struct cb_result *r)
{
	j_key(j, "workers");
	if (!r->nworkers) {
		fputs("null", j->f);
		return;
	}
	j_open(j, '[');
	for (size_t i = 0; i < r->nworkers; i++) {
		const struct cb_worker *w = &r->workers[i];
		j_item(j);
		j_open(j, '{');
		j_u64(j, "index", w->index);
		j_u64(j, "count", w->count);
		j_str(j, "host", w->host);
		j_str(j, "input", w->label);
		j_u64(j, "requests", w->requests);
		j_u64(j, "errors", w->errors);
		j_u64(j, "runtime_ns", w->runtime_ns);
		j_u64(j, "late", w->late);
		j_u64(j, "unsent", w->unsent);
		j_u64(j, "start_late_ns", w->start_late_ns);
		j_bool(j, "saturated", w->saturated);
		j_close(j, '}');
	}
	j_close(j, ']');
}

/* "saturation": whether the generator limited the run, and why */
static void j_saturation(struct json *j, const struct cb_opts *o,
			 const struct cb_result *r)
{
	j_key(j, "saturation");
	j_open(j, '{');
	j_bool(j, "saturated", cb_result_saturated(o, r));
	j_bool(j, "backlog", cb_result_backlogged(o, r));
	j_bool(j, "cpu", r->runtime_ns && cb_result_cpu_pct(o, r) >= 90.0);
	j_f64(j, "cpu_pct", cb_result_cpu_pct(o, r));
	j_close(j, '}');
}

/* Longest piece of a histogram's text on one line: srun forwards a task's
 * output in lines of at most 1024 bytes and splits longer ones (and with
 * -l labels each piece), so no line of the JSON may be that long. */
#define HDR_CHUNK 512

/*
 * One histogram, exactly (hdrlog.h), or null when @t has none:
 * {"count", "min", "max", "below_range", "above_range", "hdr": [text in
 * pieces of at most HDR_CHUNK characters, to be joined]}.
 */
static void j_hdr_text(struct json *j, const struct cb_hdr_text *t)
{
	size_t len;
	if (!t->hdr) {
		fputs("null", j->f);
		return;
	}
	j_open(j, '{');
	j_u64(j, "count", t->count);
	j_u64(j, "min", t->min);
	j_u64(j, "max", t->max);
	j_u64(j, "below_range", t->below);
	j_u64(j, "above_range", t->above);
	j_key(j, "hdr");
	j_open(j, '[');
	len = strlen(t->hdr);
	for (size_t off = 0; off < len; off += HDR_CHUNK) {
		j_item(j);
		fprintf(j->f, "\"%.*s\"", HDR_CHUNK, t->hdr + off);
	}
	j_close(j, ']');
	j_close(j, '}');
}

static int j_hist_exact(struct json *j, const char *k,
			const struct coil_hist *h)
{
	struct cb_hdr_text t;
	int ret = cb_hdr_text_make(&t, h);
	if (k)
		j_key(j, k);
	else
		j_item(j);
	j_hdr_text(j, &t);
	cb_hdr_text_free(&t);
	return ret;
}

/*
 * "histograms": every histogram of the result in HdrHistogram's compressed
 * encoding (the --hdr-log lines' text) with the exact min, max and clamped
 * counts beside it: what coil-bench merge adds up. Return: 0; -ENOMEM or
 * -EIO when one could not be encoded (written as null).
 */
static int j_histograms(struct json *j, const struct cb_opts *o,
			const struct cb_result *r)
{
	int ret = 0, e;
	j_key(j, "histograms");
	j_open(j, '{');
	j_str(j, "encoding",
	      "HdrHistogram V2 compressed, base64 (as --hdr-log)");
	if ((e = j_hist_exact(j, "latency_ns", r->latency)) < 0)
		ret = e;
	if ((e = j_hist_exact(j, "latency_uncorrected_ns",
			      r->latency_uncorrected)) < 0)
		ret = e;
	if ((e = j_hist_exact(j, "thread_requests_per_sec", r->req_per_sec)) <
	    0)
		ret = e;
	j_key(j, "stages");
	j_open(j, '[');
	for (unsigned k = 0; k < r->nstages && o->stages.n == r->nstages; k++)
		if ((e = j_hist_exact(j, NULL, r->stage[k].latency)) < 0)
			ret = e;
	j_close(j, ']');
	j_key(j, "series");
	j_open(j, '[');
	for (size_t i = 0; i < r->nseries; i++) {
		j_item(j);
		j_hdr_text(j, &r->series[i].hist);
	}
	j_close(j, ']');
	j_close(j, '}');
	return ret;
}

int cb_report_json(FILE *f, const struct cb_opts *o, const struct cb_result *r)
{
	struct json j = {.f = f, .first = true};
	int ret;
	double secs = (double)r->runtime_ns / 1e9;
	const struct cb_err_stats *e = r->errors;
	char key[16];

	j_open(&j, '{');
	/* the layout's version: a field renamed, removed or changed in
	 * meaning bumps it (docs/BENCHMARKS.md, "coil-bench --json") */
	j_u64(&j, "schema", CB_JSON_SCHEMA);
	j_str(&j, "tool", "coil-bench");
	j_str(&j, "version", COIL_BENCH_VERSION);
	j_key(&j, "start_time");
	j_time(&j, r->start_unix_ns);

	j_key(&j, "config");
	j_open(&j, '{');
	j_key(&j, "urls");
	j_open(&j, '[');
	for (size_t i = 0; i < o->n_urls; i++) {
		j_item(&j);
		cb_json_string(f, o->urls[i], strlen(o->urls[i]));
	}
	j_close(&j, ']');
	if (o->targets_file)
		j_str(&j, "targets", o->targets_file);
	j_str(&j, "method", o->method ? o->method : "GET");
	j_key(&j, "headers");
	j_open(&j, '[');
	for (size_t i = 0; i < o->n_headers; i++) {
		j_item(&j);
		cb_json_string(f, o->headers[i], strlen(o->headers[i]));
	}
	j_close(&j, ']');
	j_u64(&j, "body_bytes", o->body_len);
	/* the whole test's, with --segment too ("segment" has the share) */
	j_u64(&j, "threads", o->seg.count ? o->seg.threads : o->threads);
	j_u64(&j, "connections", cb_lanes(o));
	j_u64(&j, "duration_ns", o->duration_ns);
	j_u64(&j, "warmup_ns", o->warmup_ns);
	j_u64(&j, "timeout_ns", o->timeout_ns);
	j_u64(&j, "rate", o->rate);
	j_u64(&j, "requests", o->seg.count ? o->seg.requests : o->requests);
	j_u64(&j, "pipeline", o->pipeline);
	j_bool(&j, "keepalive", o->keepalive);
	j_bool(&j, "insecure", o->insecure);
	j_u64(&j, "batch_wait_ns", o->batch_wait_ns);
	j_key(&j, "script");
	if (o->script) {
		j_open(&j, '{');
		j_str(&j, "path", o->script);
		j_key(&j, "args");
		j_open(&j, '[');
		for (size_t i = 0; i < o->n_script_args; i++) {
			j_item(&j);
			cb_json_string(f, o->script_args[i],
				       strlen(o->script_args[i]));
		}
		j_close(&j, ']');
		j_close(&j, '}');
	} else {
		fputs("null", f);
	}
	j_close(&j, '}');

	j_u64(&j, "runtime_ns", r->runtime_ns);
	j_u64(&j, "connect_ns", r->connect_ns);
	j_u64(&j, "drain_ns", r->drain_ns);
	j_u64(&j, "connect_max_ns", r->connect_max_ns);
	j_u64(&j, "connect_requests", r->connect_requests);
	j_u64(&j, "requests", r->requests);
	j_u64(&j, "bytes_read", r->bytes_read);
	j_u64(&j, "bytes_written", r->bytes_written);
	j_f64(&j, "requests_per_sec",
	      secs > 0 ? (double)r->requests / secs : 0);
	j_f64(&j, "bytes_read_per_sec",
	      secs > 0 ? (double)r->bytes_read / secs : 0);
	j_u64(&j, "connections_opened", r->connections_opened);
	j_hist(&j, "latency_ns", r->latency, true);
	if (o->rate) {
		j_hist(&j, "latency_uncorrected_ns", r->latency_uncorrected,
		       true);
	} else {
		j_key(&j, "latency_uncorrected_ns");
		fputs("null", f);
	}
	/* wrk's per-thread "Req/Sec" row; the run's rate is
	 * requests_per_sec above, the one name for it */
	j_hist(&j, "thread_requests_per_sec", r->req_per_sec, false);

	j_key(&j, "status");
	j_open(&j, '{');
	for (int i = 0; i < CB_STATUS_MAX; i++) {
		if (r->status[i]) {
			snprintf(key, sizeof(key), "%d", i);
			j_u64(&j, key, r->status[i]);
		}
	}
	j_close(&j, '}');
	j_u64(&j, "status_other", r->status_other);
	j_u64(&j, "non_2xx_3xx", cb_result_non_2xx_3xx(r));

	j_key(&j, "socket_errors"); /* wrk's four, folded as wrk does */
	j_open(&j, '{');
	j_u64(&j, "connect", e[CB_ERR_CONNECT].count + e[CB_ERR_TLS].count);
	j_u64(&j, "read",
	      e[CB_ERR_READ].count + e[CB_ERR_RESET].count +
		      e[CB_ERR_PARSE].count + e[CB_ERR_H2_RESET].count +
		      e[CB_ERR_GOAWAY].count + e[CB_ERR_FLOW].count);
	j_u64(&j, "write", e[CB_ERR_WRITE].count);
	j_u64(&j, "timeout", e[CB_ERR_TIMEOUT].count);
	j_close(&j, '}');

	j_key(&j, "errors");
	j_open(&j, '{');
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		j_key(&j, cb_err_class_names[c]);
		j_open(&j, '{');
		j_u64(&j, "count", e[c].count);
		j_key(&j, "codes");
		j_open(&j, '[');
		for (int i = 0; i < CB_ERR_CODES && e[c].codes[i].code; i++) {
			j_item(&j);
			j_open(&j, '{');
			j_key(&j, "code");
			fprintf(f, "%d", e[c].codes[i].code);
			j_str(&j, "name", cb_code_name(e[c].codes[i].code));
			j_str(&j, "text", coil_strerror(e[c].codes[i].code));
			j_u64(&j, "count", e[c].codes[i].count);
			j_close(&j, '}');
		}
		j_close(&j, ']');
		j_u64(&j, "other", e[c].other);
		if (c == CB_ERR_TLS && r->tls_error[0])
			j_str(&j, "reason", r->tls_error);
		j_close(&j, '}');
	}
	j_close(&j, '}');

	j_key(&j, "response_times");
	j_open(&j, '{');
	j_str(&j, "source", cb_rx_source(r));
	j_str(&j, "fallback", cb_rx_why[r->rx_fallback]);
	j_u64(&j, "reads", r->rx_reads);
	j_u64(&j, "stamped_reads", r->rx_stamped);
	j_u64(&j, "clock_steps", r->rx_clock_steps);
	j_u64(&j, "step_fallbacks", r->rx_step_fallbacks);
	j_u64(&j, "batch_wait_ns", r->batch_wait_ns);
	j_u64(&j, "batched_waits", r->batched_waits);
	j_close(&j, '}');
	j_u64(&j, "syscalls", r->syscalls);
	j_f64(&j, "syscalls_per_request",
	      r->requests ? (double)r->syscalls / (double)r->requests : 0);
	j_key(&j, "cpu");
	j_open(&j, '{');
	j_u64(&j, "user_ns", r->cpu_user_ns);
	j_u64(&j, "sys_ns", r->cpu_sys_ns);
	j_f64(&j, "user_us_per_request",
	      r->requests ? (double)r->cpu_user_ns / 1e3 / (double)r->requests
			  : 0);
	j_f64(&j, "sys_us_per_request",
	      r->requests ? (double)r->cpu_sys_ns / 1e3 / (double)r->requests
			  : 0);
	j_close(&j, '}');

	j_key(&j, "http");
	j_open(&j, '{');
	j_str(&j, "protocol", r->protocol);
	j_u64(&j, "h2_sessions", r->h2_sessions);
	j_close(&j, '}');

	j_key(&j, "tls");
	j_open(&j, '{');
	j_u64(&j, "handshakes", r->tls_handshakes);
	j_u64(&j, "resumed", r->tls_resumed);
	j_u64(&j, "handshake_ns", r->tls_handshake_ns);
	j_str(&j, "version", r->tls_version);
	j_str(&j, "cipher", r->tls_cipher);
	j_str(&j, "group", r->tls_group);
	j_f64(&j, "handshake_mean_ns",
	      r->tls_handshakes
		      ? (double)r->tls_handshake_ns / (double)r->tls_handshakes
		      : 0);
	j_close(&j, '}');

	j_key(&j, "open_model");
	if (o->rate) {
		j_open(&j, '{');
		j_u64(&j, "rate", o->rate);
		j_u64(&j, "late", r->late);
		j_u64(&j, "late_bound_ns", r->late_ns);
		j_key(&j, "late_causes");
		j_open(&j, '{');
		j_u64(&j, "held", r->late_by.held);
		j_u64(&j, "busy", r->late_by.busy);
		j_u64(&j, "timer", r->late_by.timer);
		j_close(&j, '}');
		j_u64(&j, "max_lag_ns", r->max_lag_ns);
		j_u64(&j, "unsent", r->unsent);
		j_u64(&j, "backlog_max_ns", r->backlog_max_ns);
		j_u64(&j, "pacer_wakes", r->pacer_wakes);
		j_u64(&j, "pacer_gathered_wakes", r->pacer_gathered);
		j_u64(&j, "pacer_grid_ns", r->pacer_grid_ns);
		j_key(&j, "idle_timer");
		j_open(&j, '{');
		j_u64(&j, "wakes", r->timer_wakes);
		j_u64(&j, "late", r->timer_late);
		j_u64(&j, "p99_ns", r->timer_p99_ns);
		j_u64(&j, "max_ns", r->timer_max_ns);
		j_close(&j, '}');
		j_close(&j, '}');
	} else {
		fputs("null", f);
	}
	j_bool(&j, "saturated", cb_result_saturated(o, r));
	j_stages(&j, o, r);
	j_hosts(&j, r);
	j_series(&j, r);
	if (o->n_slos) {
		j_key(&j, "slo");
		j_open(&j, '[');
		for (size_t i = 0; i < o->n_slos; i++) {
			const struct cb_slo *s = &o->slos[i];
			struct cb_slo_verdict v;
			char name[32];
			cb_slo_eval(s, r, &v);
			cb_slo_name(s, name, sizeof(name));
			j_item(&j);
			j_open(&j, '{');
			j_str(&j, "expr", s->text);
			j_str(&j, "metric", name);
			j_str(&j, "op", cb_slo_op(s));
			j_f64(&j, "limit", s->limit);
			j_str(&j, "unit", cb_slo_unit(s));
			j_key(&j, "value");
			if (v.no_data)
				fputs("null", f);
			else
				fprintf(f, "%.3f", v.value);
			j_bool(&j, "pass", v.pass);
			j_close(&j, '}');
		}
		j_close(&j, ']');
		j_bool(&j, "slo_pass", cb_slo_all_pass(o->slos, o->n_slos, r));
	}
	j_key(&j, "stopped");
	if (r->stopped[0])
		cb_json_string(f, r->stopped, strlen(r->stopped));
	else
		fputs("null", f);
	j_where(&j, o, r);
	j_saturation(&j, o, r);
	j_workers(&j, r);
	ret = j_histograms(&j, o, r);
	j_close(&j, '}');
	fputc('\n', f);
	if (ret < 0)
		return ret;
	return ferror(f) ? -EIO : 0;
}
