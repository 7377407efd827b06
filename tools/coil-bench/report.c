/*
 * tools/coil-bench/report.c - the result of a run and its text form: wrk's
 * report (the layout and unit formatting of wrk's src/wrk.c and
 * src/units.c, followed by coil's extras); the JSON form is report_json.c.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coil/engine.h"
#include "coil/http_h2.h"
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

int cb_result_hosts(struct cb_result *r, unsigned n)
{
	r->by_host = calloc(n, sizeof(*r->by_host));
	if (!r->by_host)
		return -ENOMEM;
	r->nhosts = n;
	for (unsigned k = 0; k < n; k++) {
		if (coil_hist_new(&r->by_host[k].latency, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

void cb_result_free(struct cb_result *r)
{
	for (unsigned k = 0; k < r->nhosts; k++)
		coil_hist_free(r->by_host[k].latency);
	free(r->by_host);
	r->by_host = NULL;
	r->nhosts = 0;
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
	dst->h2_sessions += src->h2_sessions;
	if (!dst->protocol[0] || src->h2_sessions)
		memcpy(dst->protocol, src->protocol, sizeof(dst->protocol));
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
	dst->late_by.held += src->late_by.held;
	dst->late_by.busy += src->late_by.busy;
	dst->late_by.timer += src->late_by.timer;
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
	dst->rx_clock_steps += src->rx_clock_steps;
	dst->rx_step_fallbacks += src->rx_step_fallbacks;
	dst->batched_waits += src->batched_waits;
	dst->batch_wait_ns = max_u64(dst->batch_wait_ns, src->batch_wait_ns);
	if (src->rx_fallback > dst->rx_fallback)
		dst->rx_fallback = src->rx_fallback;
	dst->connect_max_ns = max_u64(dst->connect_max_ns, src->connect_max_ns);
	dst->connect_requests += src->connect_requests;
	dst->start_late_ns = max_u64(dst->start_late_ns, src->start_late_ns);
	if (!dst->host[0])
		memcpy(dst->host, src->host, sizeof(dst->host));
	for (unsigned k = 0; k < dst->nstages && k < src->nstages; k++) {
		struct cb_stage_result *d = &dst->stage[k];
		const struct cb_stage_result *sr = &src->stage[k];
		d->requests += sr->requests;
		d->non_2xx_3xx += sr->non_2xx_3xx;
		d->errors += sr->errors;
		if ((ret = coil_hist_merge(d->latency, sr->latency)) < 0)
			return ret;
	}
	for (unsigned k = 0; k < dst->nhosts && k < src->nhosts; k++) {
		struct cb_host_result *d = &dst->by_host[k];
		const struct cb_host_result *sh = &src->by_host[k];
		d->requests += sh->requests;
		d->non_2xx_3xx += sh->non_2xx_3xx;
		d->errors += sh->errors;
		if ((ret = coil_hist_merge(d->latency, sh->latency)) < 0)
			return ret;
	}
	return 0;
}

/* CPU time as a percentage of runtime x threads */
double cb_result_cpu_pct(const struct cb_opts *o, const struct cb_result *r)
{
	double avail =
		(double)r->runtime_ns * (double)(o->threads ? o->threads : 1);
	if (avail <= 0)
		return 0;
	return 100.0 * (double)(r->cpu_user_ns + r->cpu_sys_ns) / avail;
}

bool cb_result_backlogged(const struct cb_opts *o, const struct cb_result *r)
{
	return o->rate && r->backlog_max_ns >= CB_BACKLOG_PERSIST_NS;
}

bool cb_result_saturated(const struct cb_opts *o, const struct cb_result *r)
{
	if (cb_result_backlogged(o, r))
		return true;
	return r->runtime_ns && cb_result_cpu_pct(o, r) >= 90.0;
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

const char *const cb_err_class_names[CB_ERR_CLASSES] = {
	[CB_ERR_CONNECT] = "connect",	[CB_ERR_TLS] = "tls",
	[CB_ERR_READ] = "read",		[CB_ERR_WRITE] = "write",
	[CB_ERR_RESET] = "reset",	[CB_ERR_TIMEOUT] = "timeout",
	[CB_ERR_PARSE] = "parse",	[CB_ERR_SCRIPT] = "script",
	[CB_ERR_H2_RESET] = "h2-reset", [CB_ERR_GOAWAY] = "goaway",
	[CB_ERR_FLOW] = "flow-control",
};

/* The symbolic name of a result code: "ECONNREFUSED", "COIL_EPARSE". */
const char *cb_code_name(int code)
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
	if (code >= CB_H2_CODE(0))
		return coil_h2_strcode((uint32_t)code & 0xffffu);
	if (code < 0 && code > COIL_EBASE) {
		const char *n = strerrorname_np(-code);
		if (n)
			return n;
	}
	return "unknown";
}

const char *const cb_pct_labels[CB_NPCT] = {"50",   "75",    "90",     "99",
					    "99.9", "99.99", "99.999", "100"};
const double cb_pct_values[CB_NPCT] = {50,   75,    90,	    99,
				       99.9, 99.99, 99.999, 100};

double cb_within_stdev_pct(const struct coil_hist *h)
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
	fprintf(f, "%8.2f%%\n", cb_within_stdev_pct(h));
}

/* "     50%  250.00us" ... "    100%   12.92ms" */
static void distribution(FILE *f, const char *title, const struct coil_hist *h)
{
	char buf[64];
	fputs(title, f);
	for (size_t i = 0; i < CB_NPCT; i++) {
		fprintf(f, "%7s%%", cb_pct_labels[i]);
		fmt_time_us(buf, sizeof(buf),
			    coil_hist_value_at_percentile(h, cb_pct_values[i]) /
				    1000.0L);
		print_units(f, buf, 10);
		fputc('\n', f);
	}
}

static const char *first_url(const struct cb_opts *o)
{
	if (o->n_urls)
		return o->urls[0];
	if (o->targets_file)
		return o->targets_file;
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
	if (o->seg.count)
		fprintf(f,
			"  segment %u/%u (%s): connections %llu..%llu of the "
			"test's %u\n",
			o->seg.index, o->seg.count,
			cb_segment_source_name(o->seg.source),
			(unsigned long long)o->seg.conn_first + 1,
			(unsigned long long)(o->seg.conn_first +
					     o->connections),
			o->seg.connections);
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

const char *const cb_rx_why[4] = {
	[CB_RX_KERNEL] = "none",
	[CB_RX_ASKED] = "--reap-time",
	[CB_RX_NO_STAMPS] = "no receive timestamps from the sockets",
	[CB_RX_NO_MULTISHOT] = "no multishot recv, kernel or COIL_FALLBACK",
};

/* "kernel", "reap" or "mixed": where the response times came from. */
const char *cb_rx_source(const struct cb_result *r)
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
	const char *src = cb_rx_source(r);
	int kernel = !strcmp(src, "kernel");
	char buf[64];
	if (kernel && !r->rx_clock_steps &&
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
			cb_rx_why[r->rx_fallback]);
	if (r->rx_clock_steps)
		fprintf(f,
			"; CLOCK_REALTIME stepped %llu times, %llu reads timed "
			"when reaped for it",
			(unsigned long long)r->rx_clock_steps,
			(unsigned long long)r->rx_step_fallbacks);
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
		fprintf(f, "    %-8s %8llu  ", cb_err_class_names[c],
			(unsigned long long)e->count);
		for (int i = 0; i < CB_ERR_CODES && e->codes[i].code; i++) {
			fprintf(f, "%s%s %llu (%s)", sep,
				cb_code_name(e->codes[i].code),
				(unsigned long long)e->codes[i].count,
				e->codes[i].code > 0
					? "HTTP/2 error code"
					: coil_strerror(e->codes[i].code));
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

/* --targets: "  Hosts:" and one row per host */
static void hosts_block(FILE *f, const struct cb_result *r)
{
	char b[3][32];
	if (r->nhosts < 2)
		return;
	fprintf(f, "  Hosts (--targets):\n");
	fprintf(f, "    %-32s %6s %10s %8s %8s %9s %9s %9s\n", "host", "conns",
		"requests", "errors", "non-2xx", "p50", "p99", "max");
	for (unsigned k = 0; k < r->nhosts; k++) {
		const struct cb_host_result *h = &r->by_host[k];
		fmt_time_us(b[0], sizeof(b[0]),
			    coil_hist_value_at_percentile(h->latency, 50) /
				    1000.0L);
		fmt_time_us(b[1], sizeof(b[1]),
			    coil_hist_value_at_percentile(h->latency, 99) /
				    1000.0L);
		fmt_time_us(b[2], sizeof(b[2]),
			    coil_hist_max(h->latency) / 1000.0L);
		fprintf(f, "    %-32s %6llu %10llu %8llu %8llu %9s %9s %9s\n",
			h->name, (unsigned long long)h->connections,
			(unsigned long long)h->requests,
			(unsigned long long)h->errors,
			(unsigned long long)h->non_2xx_3xx, b[0], b[1], b[2]);
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

/* coil-bench merge: "  Workers:" and one row per worker */
static void workers_block(FILE *f, const struct cb_opts *o,
			  const struct cb_result *r)
{
	char b[2][32];
	if (!r->nworkers)
		return;
	fprintf(f, "  Workers (%zu segments merged):\n", r->nworkers);
	fprintf(f, "    %9s %-20s %10s %10s %8s %8s %8s %11s %s\n", "segment",
		"host", "requests", "req/s", "errors", o->rate ? "late" : "",
		o->rate ? "unsent" : "", "start late", "saturated");
	for (size_t i = 0; i < r->nworkers; i++) {
		const struct cb_worker *w = &r->workers[i];
		double secs = (double)w->runtime_ns / 1e9;
		char seg[24], late[24] = "", unsent[24] = "";
		snprintf(seg, sizeof(seg), "%u/%u", w->index, w->count);
		snprintf(b[0], sizeof(b[0]), "%.1f",
			 secs > 0 ? (double)w->requests / secs : 0.0);
		fmt_time_us(b[1], sizeof(b[1]), w->start_late_ns / 1000.0L);
		if (o->rate) {
			snprintf(late, sizeof(late), "%llu",
				 (unsigned long long)w->late);
			snprintf(unsent, sizeof(unsent), "%llu",
				 (unsigned long long)w->unsent);
		}
		fprintf(f,
			"    %9s %-20.20s %10llu %10s %8llu %8s %8s %11s %s\n",
			seg, w->host[0] ? w->host : "-",
			(unsigned long long)w->requests, b[0],
			(unsigned long long)w->errors, late, unsent, b[1],
			w->saturated ? "yes" : "no");
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
			     e[CB_ERR_PARSE].count + e[CB_ERR_H2_RESET].count +
			     e[CB_ERR_GOAWAY].count + e[CB_ERR_FLOW].count;
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
	if (r->h2_sessions)
		fprintf(f, "  Protocol: HTTP/2 (%s), %llu sessions\n",
			r->protocol, (unsigned long long)r->h2_sessions);
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
		if (r->late)
			fprintf(f,
				"  Late by cause: %llu waited for a free "
				"connection (each one busy or reconnecting), "
				"%llu behind a busy loop, %llu woken late by "
				"the host's timer\n",
				(unsigned long long)r->late_by.held,
				(unsigned long long)r->late_by.busy,
				(unsigned long long)r->late_by.timer);
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
		if (cb_result_backlogged(o, r)) {
			fmt_time_us(buf, sizeof(buf), r->late_ns / 1000.0L);
			fmt_time_us(buf2, sizeof(buf2),
				    r->backlog_max_ns / 1000.0L);
			fprintf(f, "due requests waited over %s for %s%s", buf,
				buf2,
				cb_result_cpu_pct(o, r) >= 90.0 ? "; " : "");
		}
		if (cb_result_cpu_pct(o, r) >= 90.0)
			fprintf(f, "CPU %.0f%% of %u threads",
				cb_result_cpu_pct(o, r), o->threads);
		fputs("): these numbers measure coil-bench, not the server\n",
		      f);
	}
	if (r->stopped[0])
		fprintf(f, "  Stopped early: %s\n", r->stopped);
	stages_block(f, o, r);
	workers_block(f, o, r);
	hosts_block(f, r);
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

int cb_report_verdict(const struct cb_opts *o, const struct cb_result *r)
{
	int status = CB_EXIT_OK;
	if (r->requests <= cb_result_non_2xx_3xx(r)) {
		fprintf(stderr,
			"coil-bench: no request succeeded (%llu "
			"responses, none 2xx or 3xx; %llu errors)%s%s\n",
			(unsigned long long)r->requests,
			(unsigned long long)cb_result_errors(r),
			r->tls_error[0] ? "; TLS: " : "", r->tls_error);
		status = CB_EXIT_FAILED;
	}
	if (!cb_slo_all_pass(o->slos, o->n_slos, r)) {
		size_t failed = 0;
		for (size_t i = 0; i < o->n_slos; i++) {
			struct cb_slo_verdict v;
			cb_slo_eval(&o->slos[i], r, &v);
			failed += !v.pass;
		}
		fprintf(stderr,
			"coil-bench: %zu of %zu --slo conditions "
			"failed\n",
			failed, o->n_slos);
		status = CB_EXIT_FAILED;
	}
	return status;
}
