/*
 * tools/coil-bench/report.c - the result of a run and its two forms: wrk's
 * text report (the layout and unit formatting of wrk's src/wrk.c and
 * src/units.c, followed by coil's extras) and one JSON object.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coil/engine.h"
#include "report.h"
#include "series.h"
#include "slo.h"
#include "stages.h"

/* ---- the result -----------------------------------------------------------
 */

int cb_result_init(struct cb_result *r)
{
	struct coil_hist_opts rate = {0, 10000000000ull, 3};
	memset(r, 0, sizeof(*r));
	if (coil_hist_new(&r->latency, NULL) < 0 ||
	    coil_hist_new(&r->latency_uncorrected, NULL) < 0 ||
	    coil_hist_new(&r->req_per_sec, &rate) < 0) {
		cb_result_free(r);
		return -ENOMEM;
	}
	return 0;
}

int cb_result_stages(struct cb_result *r, unsigned n)
{
	r->stage = calloc(n, sizeof(*r->stage));
	if (!r->stage)
		return -ENOMEM;
	r->nstages = n;
	for (unsigned k = 0; k < n; k++) {
		if (coil_hist_new(&r->stage[k].latency, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

void cb_result_free(struct cb_result *r)
{
	for (unsigned k = 0; k < r->nstages; k++)
		coil_hist_free(r->stage[k].latency);
	free(r->stage);
	r->stage = NULL;
	r->nstages = 0;
	coil_hist_free(r->latency);
	coil_hist_free(r->latency_uncorrected);
	coil_hist_free(r->req_per_sec);
	r->latency = r->latency_uncorrected = r->req_per_sec = NULL;
}

static void err_add(struct cb_err_stats *e, int code, uint64_t n)
{
	e->count += n;
	for (int i = 0; i < CB_ERR_CODES; i++) {
		if (e->codes[i].code == code && code != 0) {
			e->codes[i].count += n;
			return;
		}
		if (e->codes[i].code == 0 && code != 0) {
			e->codes[i].code = code;
			e->codes[i].count = n;
			return;
		}
	}
	e->other += n;
}

void cb_result_error(struct cb_result *r, enum cb_err_class cls, int code)
{
	if ((unsigned)cls >= CB_ERR_CLASSES)
		return;
	err_add(&r->errors[cls], code, 1);
}

void cb_result_status(struct cb_result *r, unsigned code)
{
	if (code < CB_STATUS_MAX)
		r->status[code]++;
	else
		r->status_other++;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

int cb_result_merge(struct cb_result *dst, const struct cb_result *src)
{
	int ret;
	if (dst == src)
		return -EINVAL;
	dst->runtime_ns = max_u64(dst->runtime_ns, src->runtime_ns);
	dst->requests += src->requests;
	dst->bytes_read += src->bytes_read;
	dst->bytes_written += src->bytes_written;
	for (int i = 0; i < CB_STATUS_MAX; i++)
		dst->status[i] += src->status[i];
	dst->status_other += src->status_other;
	dst->connections_opened += src->connections_opened;
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		const struct cb_err_stats *s = &src->errors[c];
		struct cb_err_stats *d = &dst->errors[c];
		uint64_t coded = 0;
		for (int i = 0; i < CB_ERR_CODES && s->codes[i].code; i++) {
			err_add(d, s->codes[i].code, s->codes[i].count);
			coded += s->codes[i].count;
		}
		/* the rest: uncoded, or past the source's table */
		d->count += s->count - coded;
		d->other += s->count - coded;
	}
	if ((ret = coil_hist_merge(dst->latency, src->latency)) < 0 ||
	    (ret = coil_hist_merge(dst->latency_uncorrected,
				   src->latency_uncorrected)) < 0 ||
	    (ret = coil_hist_merge(dst->req_per_sec, src->req_per_sec)) < 0)
		return ret;
	dst->syscalls += src->syscalls;
	dst->cpu_user_ns += src->cpu_user_ns;
	dst->cpu_sys_ns += src->cpu_sys_ns;
	dst->tls_handshakes += src->tls_handshakes;
	dst->tls_resumed += src->tls_resumed;
	dst->tls_handshake_ns += src->tls_handshake_ns;
	if (!dst->tls_version[0]) {
		memcpy(dst->tls_version, src->tls_version,
		       sizeof(dst->tls_version));
		memcpy(dst->tls_cipher, src->tls_cipher,
		       sizeof(dst->tls_cipher));
		memcpy(dst->tls_group, src->tls_group, sizeof(dst->tls_group));
	}
	dst->late += src->late;
	dst->unsent += src->unsent;
	dst->max_lag_ns = max_u64(dst->max_lag_ns, src->max_lag_ns);
	dst->late_ns = max_u64(dst->late_ns, src->late_ns);
	if (!dst->stopped[0])
		memcpy(dst->stopped, src->stopped, sizeof(dst->stopped));
	if (!dst->tls_error[0])
		memcpy(dst->tls_error, src->tls_error, sizeof(dst->tls_error));
	if (src->start_unix_ns &&
	    (!dst->start_unix_ns || src->start_unix_ns < dst->start_unix_ns))
		dst->start_unix_ns = src->start_unix_ns; /* the earliest */
	dst->backlog_max_ns = max_u64(dst->backlog_max_ns, src->backlog_max_ns);
	dst->pacer_wakes += src->pacer_wakes;
	dst->pacer_gathered += src->pacer_gathered;
	dst->pacer_grid_ns = max_u64(dst->pacer_grid_ns, src->pacer_grid_ns);
	dst->timer_wakes += src->timer_wakes;
	dst->timer_late += src->timer_late;
	dst->timer_p99_ns = max_u64(dst->timer_p99_ns, src->timer_p99_ns);
	dst->timer_max_ns = max_u64(dst->timer_max_ns, src->timer_max_ns);
	dst->connect_ns = max_u64(dst->connect_ns, src->connect_ns);
	dst->drain_ns = max_u64(dst->drain_ns, src->drain_ns);
	dst->rx_reads += src->rx_reads;
	dst->rx_stamped += src->rx_stamped;
	dst->batch_wait_ns = max_u64(dst->batch_wait_ns, src->batch_wait_ns);
	if (src->rx_fallback > dst->rx_fallback)
		dst->rx_fallback = src->rx_fallback;
	dst->connect_max_ns = max_u64(dst->connect_max_ns, src->connect_max_ns);
	dst->connect_requests += src->connect_requests;
	for (unsigned k = 0; k < dst->nstages && k < src->nstages; k++) {
		struct cb_stage_result *d = &dst->stage[k];
		const struct cb_stage_result *sr = &src->stage[k];
		d->requests += sr->requests;
		d->non_2xx_3xx += sr->non_2xx_3xx;
		d->errors += sr->errors;
		if ((ret = coil_hist_merge(d->latency, sr->latency)) < 0)
			return ret;
	}
	return 0;
}

/* CPU time as a percentage of runtime x threads */
static double cpu_pct(const struct cb_opts *o, const struct cb_result *r)
{
	double avail =
		(double)r->runtime_ns * (double)(o->threads ? o->threads : 1);
	if (avail <= 0)
		return 0;
	return 100.0 * (double)(r->cpu_user_ns + r->cpu_sys_ns) / avail;
}

static bool backlog_persisted(const struct cb_opts *o,
			      const struct cb_result *r)
{
	return o->rate && r->backlog_max_ns >= CB_BACKLOG_PERSIST_NS;
}

bool cb_result_saturated(const struct cb_opts *o, const struct cb_result *r)
{
	if (backlog_persisted(o, r))
		return true;
	return r->runtime_ns && cpu_pct(o, r) >= 90.0;
}

/* ---- wrk's units -------------------------------------------------------- */

struct units {
	int scale;
	const char *base;
	const char *units[6];
};

static const struct units time_us = {1000, "us", {"ms", "s", NULL}};
static const struct units time_s = {60, "s", {"m", "h", NULL}};
static const struct units binary = {1024, "", {"K", "M", "G", "T", "P", NULL}};
static const struct units metric = {1000, "", {"k", "M", "G", "T", "P", NULL}};

/* wrk's format_units(): step up while the amount reaches 85% of the next
 * unit, but never to the last unit of the table */
static void fmt_units(char *buf, size_t len, long double n,
		      const struct units *m, int prec)
{
	long double amt = n;
	const char *unit = m->base;
	for (int i = 0; m->units[i + 1] && amt >= m->scale * 0.85L; i++) {
		amt /= m->scale;
		unit = m->units[i];
	}
	snprintf(buf, len, "%.*Lf%s", prec, amt, unit);
}

/* wrk's format_time_us(): us/ms below a second, s/m from there */
static void fmt_time_us(char *buf, size_t len, long double us)
{
	if (us >= 1000000.0L)
		fmt_units(buf, len, us / 1000000.0L, &time_s, 2);
	else
		fmt_units(buf, len, us, &time_us, 2);
}

static void fmt_binary(char *buf, size_t len, long double n)
{
	fmt_units(buf, len, n, &binary, 2);
}

static void fmt_metric(char *buf, size_t len, long double n)
{
	fmt_units(buf, len, n, &metric, 2);
}

/* A time setting as typed: the largest unit that divides it. */
static void fmt_setting(char *buf, size_t len, uint64_t ns)
{
	static const struct {
		uint64_t div;
		const char *unit;
	} u[] = {{3600000000000ull, "h"}, {60000000000ull, "m"},
		 {1000000000ull, "s"},	  {1000000ull, "ms"},
		 {1000ull, "us"},	  {1ull, "ns"}};
	if (!ns) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (ns % u[i].div == 0) {
			snprintf(buf, len, "%llu%s",
				 (unsigned long long)(ns / u[i].div),
				 u[i].unit);
			return;
		}
	}
}

/* wrk's print_units(): right-align in @width, units hang to the right */
static void print_units(FILE *f, const char *msg, int width)
{
	size_t len = strlen(msg);
	int pad = 2;
	if (len >= 1 && isalpha((unsigned char)msg[len - 1]))
		pad--;
	if (len >= 2 && isalpha((unsigned char)msg[len - 2]))
		pad--;
	width -= pad;
	fprintf(f, "%*.*s%.*s", width, width, msg, pad, "  ");
}

/* ---- the text report ------------------------------------------------------
 */

static const char *const class_names[CB_ERR_CLASSES] = {
	[CB_ERR_CONNECT] = "connect", [CB_ERR_TLS] = "tls",
	[CB_ERR_READ] = "read",	      [CB_ERR_WRITE] = "write",
	[CB_ERR_RESET] = "reset",     [CB_ERR_TIMEOUT] = "timeout",
	[CB_ERR_PARSE] = "parse",     [CB_ERR_SCRIPT] = "script",
};

/* The symbolic name of a result code: "ECONNREFUSED", "COIL_EPARSE". */
static const char *code_name(int code)
{
	switch (code) {
	case COIL_EPARSE:
		return "COIL_EPARSE";
	case COIL_ETLS:
		return "COIL_ETLS";
	case COIL_ELIMIT:
		return "COIL_ELIMIT";
	case COIL_ECLOSED:
		return "COIL_ECLOSED";
	case COIL_ETRUNC:
		return "COIL_ETRUNC";
	case COIL_ERESOLVE:
		return "COIL_ERESOLVE";
	case COIL_EHTTP:
		return "COIL_EHTTP";
	}
	if (code < 0 && code > COIL_EBASE) {
		const char *n = strerrorname_np(-code);
		if (n)
			return n;
	}
	return "unknown";
}

static const char *const pct_labels[] = {"50",	 "75",	  "90",	    "99",
					 "99.9", "99.99", "99.999", "100"};
static const double pct_values[] = {50, 75, 90, 99, 99.9, 99.99, 99.999, 100};
#define NPCT (sizeof(pct_values) / sizeof(pct_values[0]))

static double within_stdev_pct(const struct coil_hist *h)
{
	double mean = coil_hist_mean(h), sd = coil_hist_stdev(h);
	double lo = mean - sd, hi = mean + sd;
	uint64_t n = coil_hist_count(h);
	if (!n)
		return 0;
	return 100.0 *
	       (double)coil_hist_count_between(h, lo > 0 ? (uint64_t)lo : 0,
					       (uint64_t)hi) /
	       (double)n;
}

/* "    Latency   635.91us    0.89ms  12.92ms   93.69%" */
static void stats_row(FILE *f, const char *name, const struct coil_hist *h,
		      bool time)
{
	char buf[64];
	long double div = time ? 1000.0L : 1.0L; /* ns -> us for times */
	long double v[3] = {coil_hist_mean(h) / div, coil_hist_stdev(h) / div,
			    coil_hist_max(h) / div};
	static const int width[3] = {8, 10, 9};
	fprintf(f, "    %-10s", name);
	for (int i = 0; i < 3; i++) {
		if (time)
			fmt_time_us(buf, sizeof(buf), v[i]);
		else
			fmt_metric(buf, sizeof(buf), v[i]);
		print_units(f, buf, width[i]);
	}
	fprintf(f, "%8.2f%%\n", within_stdev_pct(h));
}

/* "     50%  250.00us" ... "    100%   12.92ms" */
static void distribution(FILE *f, const char *title, const struct coil_hist *h)
{
	char buf[64];
	fputs(title, f);
	for (size_t i = 0; i < NPCT; i++) {
		fprintf(f, "%7s%%", pct_labels[i]);
		fmt_time_us(buf, sizeof(buf),
			    coil_hist_value_at_percentile(h, pct_values[i]) /
				    1000.0L);
		print_units(f, buf, 10);
		fputc('\n', f);
	}
}

static const char *first_url(const struct cb_opts *o)
{
	if (o->n_urls)
		return o->urls[0];
	return o->url ? o->url : "(no URL)";
}

void cb_report_header(FILE *f, const struct cb_opts *o)
{
	char buf[64];
	const char *sep = "";

	if (o->duration_ns) {
		fmt_setting(buf, sizeof(buf), o->duration_ns);
		fprintf(f, "Running %s test @ %s", buf, first_url(o));
	} else {
		fprintf(f, "Running test of %llu requests @ %s",
			(unsigned long long)o->requests, first_url(o));
	}
	if (o->n_urls > 1)
		fprintf(f, " (+%zu more URLs)", o->n_urls - 1);
	fprintf(f, "\n  %u threads and %u connections\n", o->threads,
		o->connections);
	if (!o->rate && !o->warmup_ns && !(o->requests && o->duration_ns) &&
	    o->pipeline == 1 && o->keepalive &&
	    !(o->batch_wait_set && o->batch_wait_ns))
		return;
	fputs("  ", f);
	if (o->rate) {
		fprintf(f, "open model: %llu requests/s",
			(unsigned long long)o->rate);
		sep = ", ";
	}
	if (o->requests && o->duration_ns) {
		fprintf(f, "%sat most %llu requests", sep,
			(unsigned long long)o->requests);
		sep = ", ";
	}
	if (o->warmup_ns) {
		fmt_setting(buf, sizeof(buf), o->warmup_ns);
		fprintf(f, "%s%s warmup", sep, buf);
		sep = ", ";
	}
	if (o->pipeline > 1) {
		fprintf(f, "%spipeline %u", sep, o->pipeline);
		sep = ", ";
	}
	if (!o->keepalive) {
		fprintf(f, "%sno keep-alive", sep);
		sep = ", ";
	}
	if (o->batch_wait_set && o->batch_wait_ns) {
		fmt_setting(buf, sizeof(buf), o->batch_wait_ns);
		fprintf(f, "%sbatch wait %s", sep, buf);
	}
	fputc('\n', f);
}

static const char *const rx_why[] = {
	[CB_RX_KERNEL] = "none",
	[CB_RX_ASKED] = "--reap-time",
	[CB_RX_NO_STAMPS] = "no receive timestamps from the sockets",
	[CB_RX_NO_MULTISHOT] = "no multishot recv, kernel or COIL_FALLBACK",
};

/* "kernel", "reap" or "mixed": where the response times came from. */
static const char *rx_source(const struct cb_result *r)
{
	if (!r->rx_reads || !r->rx_stamped)
		return r->rx_fallback == CB_RX_KERNEL && !r->rx_reads ? "kernel"
								      : "reap";
	return r->rx_stamped * 100 >= r->rx_reads * 99 ? "kernel" : "mixed";
}

/* Said only when responses were not all timed by the kernel, or the
 * batched wait asked for (--batch-wait) is not the one in effect (the
 * kernel lacks min-wait). */
static void rx_line(FILE *f, const struct cb_opts *o, const struct cb_result *r)
{
	const char *src = rx_source(r);
	int kernel = !strcmp(src, "kernel");
	char buf[64];
	if (kernel &&
	    (!o->batch_wait_set || r->batch_wait_ns == o->batch_wait_ns))
		return;
	if (kernel)
		fputs("  Response times: kernel receive timestamps", f);
	else if (!strcmp(src, "mixed"))
		fprintf(f,
			"  Response times: kernel receive timestamps for "
			"%.1f%% of reads, the rest when reaped",
			100.0 * (double)r->rx_stamped / (double)r->rx_reads);
	else
		fprintf(f, "  Response times: when reaped (%s)",
			rx_why[r->rx_fallback]);
	if (r->batch_wait_ns) {
		fmt_setting(buf, sizeof(buf), r->batch_wait_ns);
		fprintf(f, "; batched waits %s%s\n", buf,
			!kernel ? ", which latencies include" : "");
	} else {
		fputs("; batched waits off\n", f);
	}
}

static void errors_block(FILE *f, const struct cb_result *r)
{
	bool any = false;
	for (int c = 0; c < CB_ERR_CLASSES; c++)
		any |= r->errors[c].count > 0;
	if (!any)
		return;
	fputs("  Errors by class:\n", f);
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		const struct cb_err_stats *e = &r->errors[c];
		const char *sep = "";
		if (!e->count)
			continue;
		fprintf(f, "    %-8s %8llu  ", class_names[c],
			(unsigned long long)e->count);
		for (int i = 0; i < CB_ERR_CODES && e->codes[i].code; i++) {
			fprintf(f, "%s%s %llu (%s)", sep,
				code_name(e->codes[i].code),
				(unsigned long long)e->codes[i].count,
				coil_strerror(e->codes[i].code));
			sep = ", ";
		}
		if (e->other)
			fprintf(f, "%sother %llu", sep,
				(unsigned long long)e->other);
		fputc('\n', f);
		if (c == CB_ERR_TLS && r->tls_error[0])
			fprintf(f, "             first: %s\n", r->tls_error);
	}
}

/* "  Stages (requests/s):" and one row per stage */
static void stages_block(FILE *f, const struct cb_opts *o,
			 const struct cb_result *r)
{
	char b[5][32];
	if (!o->stages.n || r->nstages != o->stages.n)
		return;
	fprintf(f, "  Stages (%s):\n",
		o->rate ? "requests/s, by intended send time"
			: "sending connections, by send time");
	fprintf(f, "    %3s %9s %9s %15s %10s %10s %8s %9s %9s %9s\n", "#",
		"start", "length", "from -> to", o->rate ? "scheduled" : "",
		"requests", "errors", "p50", "p99", "max");
	for (unsigned k = 0; k < o->stages.n; k++) {
		const struct cb_stage *st = &o->stages.st[k];
		const struct cb_stage_result *sr = &r->stage[k];
		char fromto[40], sched[24] = "";
		fmt_setting(b[0], sizeof(b[0]), st->start_ns);
		fmt_setting(b[1], sizeof(b[1]), st->len_ns);
		snprintf(fromto, sizeof(fromto), "%llu -> %llu",
			 (unsigned long long)st->from,
			 (unsigned long long)st->target);
		if (o->rate)
			snprintf(sched, sizeof(sched), "%llu",
				 (unsigned long long)cb_stages_scheduled(
					 &o->stages, k));
		fmt_time_us(b[2], sizeof(b[2]),
			    coil_hist_value_at_percentile(sr->latency, 50) /
				    1000.0L);
		fmt_time_us(b[3], sizeof(b[3]),
			    coil_hist_value_at_percentile(sr->latency, 99) /
				    1000.0L);
		fmt_time_us(b[4], sizeof(b[4]),
			    coil_hist_max(sr->latency) / 1000.0L);
		fprintf(f,
			"    %3u %9s %9s %15s %10s %10llu %8llu %9s %9s %9s\n",
			k + 1, b[0], b[1], fromto, sched,
			(unsigned long long)sr->requests,
			(unsigned long long)sr->errors, b[2], b[3], b[4]);
	}
}

void cb_report_text(FILE *f, const struct cb_opts *o, const struct cb_result *r)
{
	char buf[64], buf2[64];
	long double secs = r->runtime_ns / 1e9L;
	long double rps = secs > 0 ? r->requests / secs : 0;
	long double bps = secs > 0 ? r->bytes_read / secs : 0;
	const struct cb_err_stats *e = r->errors;
	uint64_t sock_connect = e[CB_ERR_CONNECT].count + e[CB_ERR_TLS].count;
	uint64_t sock_read = e[CB_ERR_READ].count + e[CB_ERR_RESET].count +
			     e[CB_ERR_PARSE].count;
	uint64_t sock_write = e[CB_ERR_WRITE].count;
	uint64_t sock_timeout = e[CB_ERR_TIMEOUT].count;
	uint64_t bad_status = cb_result_non_2xx_3xx(r);

	/* wrk's part */
	/* -U: the uncorrected block first, under its own heading, so that
	 * a wrk2 parser keeping the last "Latency" row or "50%" line reads
	 * the corrected figures */
	if (o->uncorrected) {
		fputs("  Uncorrected Latency (from the actual send time; the "
		      "corrected figures follow)\n",
		      f);
		stats_row(f, "Latency", r->latency_uncorrected, true);
		if (o->latency)
			distribution(f, "  Uncorrected Latency Distribution\n",
				     r->latency_uncorrected);
	}
	fprintf(f, "  Thread Stats%6s%11s%8s%12s\n", "Avg", "Stdev", "Max",
		"+/- Stdev");
	stats_row(f, "Latency", r->latency, true);
	stats_row(f, "Req/Sec", r->req_per_sec, false);
	if (o->latency)
		distribution(f, "  Latency Distribution\n", r->latency);
	fmt_time_us(buf, sizeof(buf), r->runtime_ns / 1000.0L);
	fmt_binary(buf2, sizeof(buf2), r->bytes_read);
	fprintf(f, "  %llu requests in %s, %sB read\n",
		(unsigned long long)r->requests, buf, buf2);
	if (sock_connect || sock_read || sock_write || sock_timeout)
		fprintf(f,
			"  Socket errors: connect %llu, read %llu, write %llu, "
			"timeout %llu\n",
			(unsigned long long)sock_connect,
			(unsigned long long)sock_read,
			(unsigned long long)sock_write,
			(unsigned long long)sock_timeout);
	if (bad_status)
		fprintf(f, "  Non-2xx or 3xx responses: %llu\n",
			(unsigned long long)bad_status);
	fprintf(f, "Requests/sec: %9.2Lf\n", rps);
	fmt_binary(buf, sizeof(buf), bps);
	fprintf(f, "Transfer/sec: %10sB\n", buf);

	/* coil's extras */
	if (r->requests || r->status_other) {
		const char *sep = "";
		fputs("  Responses by status: ", f);
		for (int i = 0; i < CB_STATUS_MAX; i++) {
			if (r->status[i]) {
				fprintf(f, "%s%d %llu", sep, i,
					(unsigned long long)r->status[i]);
				sep = ", ";
			}
		}
		if (r->status_other)
			fprintf(f, "%sother %llu", sep,
				(unsigned long long)r->status_other);
		fputc('\n', f);
	}
	errors_block(f, r);
	if (coil_hist_underflows(r->latency) || coil_hist_overflows(r->latency))
		fprintf(f,
			"  Latencies outside 1us..1h, counted at the bound: "
			"%llu below, %llu above\n",
			(unsigned long long)coil_hist_underflows(r->latency),
			(unsigned long long)coil_hist_overflows(r->latency));
	if (r->tls_handshakes) {
		fmt_time_us(buf, sizeof(buf),
			    r->tls_handshake_ns / 1000.0L / r->tls_handshakes);
		fprintf(f,
			"  TLS: %llu handshakes (%llu resumed), mean %s from "
			"connect to handshake done\n",
			(unsigned long long)r->tls_handshakes,
			(unsigned long long)r->tls_resumed, buf);
		fprintf(f, "  TLS negotiated: %s %s %s\n", r->tls_version,
			r->tls_cipher, r->tls_group[0] ? r->tls_group : "-");
	}
	if (o->rate) {
		fmt_time_us(buf, sizeof(buf), r->late_ns / 1000.0L);
		fmt_time_us(buf2, sizeof(buf2), r->max_lag_ns / 1000.0L);
		fprintf(f,
			"  Rate: %llu requests/s scheduled; %llu sent late "
			"(over %s, at most %s), %llu never sent\n",
			(unsigned long long)o->rate,
			(unsigned long long)r->late, buf, buf2,
			(unsigned long long)r->unsent);
		if (r->timer_wakes) {
			fmt_time_us(buf2, sizeof(buf2),
				    r->timer_p99_ns / 1000.0L);
			fprintf(f,
				"  Idle timer (the host's own lateness): %llu "
				"of %llu wakes late (over %s), p99 %s, ",
				(unsigned long long)r->timer_late,
				(unsigned long long)r->timer_wakes, buf, buf2);
			fmt_time_us(buf2, sizeof(buf2),
				    r->timer_max_ns / 1000.0L);
			fprintf(f, "at most %s\n", buf2);
		}
	}
	if (r->connect_ns) {
		fmt_time_us(buf, sizeof(buf), r->connect_ns / 1000.0L);
		fmt_time_us(buf2, sizeof(buf2), r->connect_max_ns / 1000.0L);
		fprintf(f,
			"  Connect: %u connections opened in %s (the slowest "
			"%s)",
			o->connections, buf, buf2);
		if (r->connect_requests)
			fprintf(f, ", %llu confirmed by an answered request",
				(unsigned long long)r->connect_requests);
		fputs(", before the measured window\n", f);
	}
	if (r->drain_ns) {
		fmt_time_us(buf, sizeof(buf), r->drain_ns / 1000.0L);
		fprintf(f,
			"  Drain: the requests in flight at the end awaited "
			"for %s, after the measured window\n",
			buf);
	}
	rx_line(f, o, r);
	if (r->requests) {
		long double n = r->requests;
		fprintf(f,
			"  Per request: %.2Lf system calls, %.2Lfus user CPU, "
			"%.2Lfus system CPU\n",
			r->syscalls / n, r->cpu_user_ns / n / 1000.0L,
			r->cpu_sys_ns / n / 1000.0L);
	}
	if (cb_result_saturated(o, r)) {
		fputs("  Warning: the generator was saturated (", f);
		if (backlog_persisted(o, r)) {
			fmt_time_us(buf, sizeof(buf), r->late_ns / 1000.0L);
			fmt_time_us(buf2, sizeof(buf2),
				    r->backlog_max_ns / 1000.0L);
			fprintf(f, "due requests waited over %s for %s%s", buf,
				buf2, cpu_pct(o, r) >= 90.0 ? "; " : "");
		}
		if (cpu_pct(o, r) >= 90.0)
			fprintf(f, "CPU %.0f%% of %u threads", cpu_pct(o, r),
				o->threads);
		fputs("): these numbers measure coil-bench, not the server\n",
		      f);
	}
	if (r->stopped[0])
		fprintf(f, "  Stopped early: %s\n", r->stopped);
	stages_block(f, o, r);
	cb_report_slo_text(f, o, r);
}

void cb_report_slo_text(FILE *f, const struct cb_opts *o,
			const struct cb_result *r)
{
	size_t failed = 0;
	for (size_t i = 0; i < o->n_slos; i++) {
		const struct cb_slo *s = &o->slos[i];
		struct cb_slo_verdict v;
		char val[48], lim[48];
		cb_slo_eval(s, r, &v);
		cb_slo_format(s, v.value, val, sizeof(val));
		cb_slo_format(s, s->limit, lim, sizeof(lim));
		failed += !v.pass;
		fprintf(f, "SLO %s: %s (limit %s %s) %s\n", s->text,
			v.no_data ? "no data" : val, cb_slo_op(s), lim,
			v.pass ? "pass" : "FAIL");
	}
	if (o->n_slos && failed)
		fprintf(f, "SLO: %zu of %zu conditions failed\n", failed,
			o->n_slos);
	else if (o->n_slos)
		fprintf(f, "SLO: all %zu conditions met\n", o->n_slos);
}

/* ---- JSON --------------------------------------------------------------- */

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
	j_f64(j, "within_stdev_pct", any ? within_stdev_pct(h) : nan);
	if (pcts) {
		j_u64(j, "below_range", coil_hist_underflows(h));
		j_u64(j, "above_range", coil_hist_overflows(h));
		j_key(j, "percentiles");
		j_open(j, '{');
		for (size_t i = 0; i < NPCT; i++)
			j_u64_or_null(j, pct_labels[i], any,
				      coil_hist_value_at_percentile(
					      h, pct_values[i]));
		j_close(j, '}');
		j_curve(j, h);
	}
	j_close(j, '}');
}

/* "stages": one object per stage (null without --stages) */
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
		for (size_t i = 0; i < NPCT; i++)
			j_u64_or_null(j, pct_labels[i],
				      coil_hist_count(sr->latency) > 0,
				      coil_hist_value_at_percentile(
					      sr->latency, pct_values[i]));
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

int cb_report_json(FILE *f, const struct cb_opts *o, const struct cb_result *r)
{
	struct json j = {.f = f, .first = true};
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
	j_str(&j, "method", o->method ? o->method : "GET");
	j_key(&j, "headers");
	j_open(&j, '[');
	for (size_t i = 0; i < o->n_headers; i++) {
		j_item(&j);
		cb_json_string(f, o->headers[i], strlen(o->headers[i]));
	}
	j_close(&j, ']');
	j_u64(&j, "body_bytes", o->body_len);
	j_u64(&j, "threads", o->threads);
	j_u64(&j, "connections", o->connections);
	j_u64(&j, "duration_ns", o->duration_ns);
	j_u64(&j, "warmup_ns", o->warmup_ns);
	j_u64(&j, "timeout_ns", o->timeout_ns);
	j_u64(&j, "rate", o->rate);
	j_u64(&j, "requests", o->requests);
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
		      e[CB_ERR_PARSE].count);
	j_u64(&j, "write", e[CB_ERR_WRITE].count);
	j_u64(&j, "timeout", e[CB_ERR_TIMEOUT].count);
	j_close(&j, '}');

	j_key(&j, "errors");
	j_open(&j, '{');
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		j_key(&j, class_names[c]);
		j_open(&j, '{');
		j_u64(&j, "count", e[c].count);
		j_key(&j, "codes");
		j_open(&j, '[');
		for (int i = 0; i < CB_ERR_CODES && e[c].codes[i].code; i++) {
			j_item(&j);
			j_open(&j, '{');
			j_key(&j, "code");
			fprintf(f, "%d", e[c].codes[i].code);
			j_str(&j, "name", code_name(e[c].codes[i].code));
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
	j_str(&j, "source", rx_source(r));
	j_str(&j, "fallback", rx_why[r->rx_fallback]);
	j_u64(&j, "reads", r->rx_reads);
	j_u64(&j, "stamped_reads", r->rx_stamped);
	j_u64(&j, "batch_wait_ns", r->batch_wait_ns);
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

	j_key(&j, "tls");
	j_open(&j, '{');
	j_u64(&j, "handshakes", r->tls_handshakes);
	j_u64(&j, "resumed", r->tls_resumed);
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
	j_close(&j, '}');
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}
