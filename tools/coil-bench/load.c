/*
 * tools/coil-bench/load.c - a --json result read back into the options
 * and the result it was printed from (see load.h). Every field that
 * report_json.c writes from struct cb_result is read here; what the JSON
 * derives (rates, means, percentiles) is derived again from the decoded
 * histograms.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "slo.h"

/* The reader: the first problem found is kept in @why. */
struct rd {
	char *why;
	size_t len;
	int bad;
};

__attribute__((format(printf, 2, 3))) static void bad(struct rd *d,
						      const char *fmt, ...)
{
	va_list ap;
	if (d->bad++)
		return;
	va_start(ap, fmt);
	vsnprintf(d->why, d->len, fmt, ap);
	va_end(ap);
}

/* The member at a dotted @path ("open_model.idle_timer.wakes"). */
static json_t *at(json_t *o, const char *path)
{
	char key[64];
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

/* A whole number >= 0 at @path; a missing one is an error unless @opt. */
static uint64_t num(struct rd *d, json_t *o, const char *path, bool opt)
{
	json_t *v = at(o, path);
	if ((!v || json_is_null(v)) && opt)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		bad(d, "\"%s\" is missing or not a whole number >= 0", path);
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

#define U(path) num(d, root, path, false)
#define UOPT(path) num(d, root, path, true)

static const char *str(json_t *o, const char *path)
{
	json_t *v = at(o, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* A histogram object {"count", "min", "max", "below_range",
 * "above_range", "hdr": [pieces of the text]} (report_json.c) into @t,
 * the text joined (owned: cb_hdr_text_free()). */
static void hist_text(struct rd *d, json_t *obj, const char *what,
		      struct cb_hdr_text *t)
{
	json_t *parts = json_object_get(obj, "hdr"), *p;
	size_t i, len = 0;

	memset(t, 0, sizeof(*t));
	json_array_foreach(parts, i, p)
	{
		if (!json_is_string(p)) {
			bad(d, "histogram %s: a piece is not text", what);
			return;
		}
		len += json_string_length(p);
	}
	if (!json_is_array(parts) || !(t->hdr = calloc(1, len + 1))) {
		bad(d, "histogram %s has no \"hdr\" text", what);
		return;
	}
	len = 0;
	json_array_foreach(parts, i, p)
	{
		memcpy(t->hdr + len, json_string_value(p),
		       json_string_length(p));
		len += json_string_length(p);
	}
	t->count = num(d, obj, "count", false);
	t->min = num(d, obj, "min", false);
	t->max = num(d, obj, "max", false);
	t->below = num(d, obj, "below_range", false);
	t->above = num(d, obj, "above_range", false);
}

/* One histogram object added into @h; null: nothing was recorded. */
static void hist_add(struct rd *d, json_t *obj, const char *what,
		     struct coil_hist *h)
{
	struct cb_hdr_text t;
	if (json_is_null(obj))
		return;
	hist_text(d, obj, what, &t);
	if (!d->bad && cb_hdr_text_add(&t, h) < 0)
		bad(d, "histogram %s does not decode", what);
	cb_hdr_text_free(&t);
}

static void config(struct rd *d, json_t *root, struct cb_opts *o)
{
	json_t *c = json_object_get(root, "config"), *v;
	size_t i;

	if (!json_is_object(c)) {
		bad(d, "no \"config\"");
		return;
	}
	o->threads = (uint32_t)num(d, c, "threads", false);
	o->connections = (uint32_t)num(d, c, "connections", false);
	o->duration_ns = num(d, c, "duration_ns", false);
	o->warmup_ns = num(d, c, "warmup_ns", false);
	o->timeout_ns = num(d, c, "timeout_ns", false);
	o->rate = num(d, c, "rate", false);
	o->requests = num(d, c, "requests", false);
	o->pipeline = (uint32_t)num(d, c, "pipeline", false);
	o->batch_wait_ns = num(d, c, "batch_wait_ns", false);
	o->keepalive = json_is_true(json_object_get(c, "keepalive"));
	o->insecure = json_is_true(json_object_get(c, "insecure"));
	o->method = str(c, "method");
	o->script = str(c, "script.path");
	v = json_object_get(c, "urls");
	o->urls = calloc(json_array_size(v) + 1, sizeof(*o->urls));
	if (!o->urls || !json_array_size(v)) {
		bad(d, "no \"config.urls\"");
		return;
	}
	for (i = 0; i < json_array_size(v); i++) {
		const char *u = json_string_value(json_array_get(v, i));
		if (!u || !(o->urls[i] = strdup(u))) {
			bad(d, "a bad \"config.urls\" entry");
			return;
		}
		o->n_urls = i + 1;
	}
	o->url = o->urls[0];
	v = json_object_get(c, "headers");
	o->headers = calloc(json_array_size(v) + 1, sizeof(*o->headers));
	if (!o->headers) {
		bad(d, "out of memory");
		return;
	}
	for (i = 0; i < json_array_size(v); i++)
		o->headers[o->n_headers++] =
			json_string_value(json_array_get(v, i));
}

/* --stages and --slo, as the result lists them */
static void stages_slos(struct rd *d, json_t *root, struct cb_opts *o)
{
	json_t *list = at(root, "stages.list"), *v;
	struct cb_stage st[CB_MAX_STAGES];
	char err[200];
	size_t i;

	memset(st, 0, sizeof(st));
	if (json_array_size(list) > CB_MAX_STAGES) {
		bad(d, "more than %d stages", CB_MAX_STAGES);
		return;
	}
	json_array_foreach(list, i, v)
	{
		st[i].len_ns = num(d, v, "length_ns", false);
		st[i].target = num(d, v, "target", false);
	}
	if (json_array_size(list) &&
	    cb_stages_init(&o->stages, st, (unsigned)json_array_size(list),
			   UOPT("stages.start")) < 0) {
		bad(d, "bad \"stages\"");
		return;
	}
	list = json_object_get(root, "slo");
	o->slos = calloc(json_array_size(list) + 1, sizeof(*o->slos));
	if (!o->slos) {
		bad(d, "out of memory");
		return;
	}
	json_array_foreach(list, i, v)
	{
		const char *e = str(v, "expr");
		if (!e || cb_slo_parse(e, &o->slos[o->n_slos], err,
				       sizeof(err)) != 0) {
			bad(d, "bad \"slo\" entry: %s", e ? err : "");
			return;
		}
		o->n_slos++;
	}
}

static void errors(struct rd *d, json_t *root, struct cb_result *r)
{
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		json_t *e = at(json_object_get(root, "errors"),
			       cb_err_class_names[c]),
		       *codes = json_object_get(e, "codes"), *v;
		struct cb_err_stats *s = &r->errors[c];
		size_t i;
		s->count = num(d, e, "count", false);
		s->other = num(d, e, "other", false);
		json_array_foreach(codes, i, v)
		{
			json_t *code = json_object_get(v, "code");
			if (i >= CB_ERR_CODES || !json_is_integer(code)) {
				bad(d, "bad \"errors\" codes");
				return;
			}
			s->codes[i].code = (int)json_integer_value(code);
			s->codes[i].count = num(d, v, "count", false);
		}
	}
}

static void counts(struct rd *d, json_t *root, struct cb_result *r)
{
	const char *fb = str(root, "response_times.fallback"), *k;
	json_t *v;

	r->runtime_ns = U("runtime_ns");
	r->connect_ns = U("connect_ns");
	r->drain_ns = U("drain_ns");
	r->connect_max_ns = U("connect_max_ns");
	r->connect_requests = U("connect_requests");
	r->requests = U("requests");
	r->bytes_read = U("bytes_read");
	r->bytes_written = U("bytes_written");
	r->connections_opened = U("connections_opened");
	json_object_foreach(json_object_get(root, "status"), k, v)
	{
		int code = atoi(k);
		if (code < 0 || code >= CB_STATUS_MAX || !json_is_integer(v)) {
			bad(d, "bad \"status\" entry '%s'", k);
			return;
		}
		r->status[code] = (uint64_t)json_integer_value(v);
	}
	r->status_other = U("status_other");
	errors(d, root, r);
	for (int i = 0; i < 4; i++)
		if (fb && !strcmp(fb, cb_rx_why[i]))
			r->rx_fallback = i;
	r->rx_reads = U("response_times.reads");
	r->rx_stamped = U("response_times.stamped_reads");
	r->rx_clock_steps = UOPT("response_times.clock_steps");
	r->rx_step_fallbacks = UOPT("response_times.step_fallbacks");
	r->batch_wait_ns = U("response_times.batch_wait_ns");
	r->batched_waits = UOPT("response_times.batched_waits");
	r->syscalls = U("syscalls");
	r->cpu_user_ns = U("cpu.user_ns");
	r->cpu_sys_ns = U("cpu.sys_ns");
	r->tls_handshakes = U("tls.handshakes");
	r->tls_resumed = U("tls.resumed");
	r->tls_handshake_ns = U("tls.handshake_ns");
	copy_str(r->tls_version, sizeof(r->tls_version),
		 str(root, "tls.version"));
	copy_str(r->tls_cipher, sizeof(r->tls_cipher), str(root, "tls.cipher"));
	copy_str(r->tls_group, sizeof(r->tls_group), str(root, "tls.group"));
	r->late = UOPT("open_model.late");
	r->late_ns = UOPT("open_model.late_bound_ns");
	r->late_by.held = UOPT("open_model.late_causes.held");
	r->late_by.busy = UOPT("open_model.late_causes.busy");
	r->late_by.timer = UOPT("open_model.late_causes.timer");
	r->max_lag_ns = UOPT("open_model.max_lag_ns");
	r->unsent = UOPT("open_model.unsent");
	r->backlog_max_ns = UOPT("open_model.backlog_max_ns");
	r->pacer_wakes = UOPT("open_model.pacer_wakes");
	r->pacer_gathered = UOPT("open_model.pacer_gathered_wakes");
	r->pacer_grid_ns = UOPT("open_model.pacer_grid_ns");
	r->timer_wakes = UOPT("open_model.idle_timer.wakes");
	r->timer_late = UOPT("open_model.idle_timer.late");
	r->timer_p99_ns = UOPT("open_model.idle_timer.p99_ns");
	r->timer_max_ns = UOPT("open_model.idle_timer.max_ns");
	copy_str(r->tls_error, sizeof(r->tls_error),
		 str(root, "errors.tls.reason"));
	copy_str(r->stopped, sizeof(r->stopped), str(root, "stopped"));
	copy_str(r->host, sizeof(r->host), str(root, "host"));

	r->start_late_ns = U("start.late_ns");
}

/* The histograms, the stages' figures and the per-second series. */
static void hists(struct rd *d, json_t *root, struct cb_loaded *l)
{
	struct cb_result *r = &l->r;
	json_t *h = json_object_get(root, "histograms"), *v, *pts;
	json_t *st = json_object_get(h, "stages"),
	       *sl = at(root, "stages.list");
	size_t i;

	if (!json_is_object(h)) {
		bad(d, "no \"histograms\" (written by coil-bench since "
		       "merge came: run the workers with this version)");
		return;
	}
	hist_add(d, json_object_get(h, "latency_ns"), "latency_ns", r->latency);
	hist_add(d, json_object_get(h, "latency_uncorrected_ns"),
		 "latency_uncorrected_ns", r->latency_uncorrected);
	hist_add(d, json_object_get(h, "thread_requests_per_sec"),
		 "thread_requests_per_sec", r->req_per_sec);
	if (l->o.stages.n) {
		if (json_array_size(st) != l->o.stages.n ||
		    json_array_size(sl) != l->o.stages.n ||
		    cb_result_stages(r, l->o.stages.n) < 0) {
			bad(d, "the stages' histograms do not match "
			       "\"stages\"");
			return;
		}
		json_array_foreach(sl, i, v)
		{
			r->stage[i].requests = num(d, v, "requests", false);
			r->stage[i].non_2xx_3xx =
				num(d, v, "non_2xx_3xx", false);
			r->stage[i].errors = num(d, v, "errors", false);
			hist_add(d, json_array_get(st, i), "stages",
				 r->stage[i].latency);
		}
	}
	pts = at(root, "series.points");
	st = json_object_get(h, "series");
	l->series = calloc(json_array_size(pts) + 1, sizeof(*l->series));
	if (!l->series) {
		bad(d, "out of memory");
		return;
	}
	json_array_foreach(pts, i, v)
	{
		struct cb_series_point *p = &l->series[i];
		json_t *t = json_array_get(st, i);
		p->requests = num(d, v, "requests", false);
		p->errors = num(d, v, "errors", false);
		p->p50_ns = num(d, v, "p50_ns", true); /* null: no answer */
		p->p99_ns = num(d, v, "p99_ns", true);
		l->nseries = i + 1;
		if (json_is_object(t)) /* else a second without its histogram */
			hist_text(d, t, "series", &p->hist);
	}
	r->series = l->series;
	r->nseries = l->nseries;
}

static void segment(struct rd *d, json_t *root, struct cb_loaded *l)
{
	json_t *s = json_object_get(root, "segment");
	const char *src = str(s, "source");
	if (json_is_null(s) || !s)
		return;
	l->seg.index = (uint32_t)num(d, s, "index", false);
	l->seg.count = (uint32_t)num(d, s, "count", false);
	l->threads = (uint32_t)num(d, s, "threads", false);
	l->connections = (uint32_t)num(d, s, "connections", false);
	l->seg.conn_first = num(d, s, "first_connection", false);
	for (int i = CB_SEG_FLAG; i <= CB_SEG_K8S; i++)
		if (src && !strcmp(src, cb_segment_source_name(i)))
			l->seg.source = i;
	if (!d->bad && (!l->seg.index || l->seg.index > l->seg.count))
		bad(d, "segment %u/%u is not one", l->seg.index, l->seg.count);
}

int cb_load(struct cb_loaded *l, json_t *root, char *why, size_t why_len)
{
	struct rd rd = {.why = why, .len = why_len}, *d = &rd;

	memset(&l->o, 0, sizeof(l->o));
	memset(&l->seg, 0, sizeof(l->seg));
	memset(&l->r, 0, sizeof(l->r));
	l->series = NULL;
	l->nseries = 0;
	l->root = json_incref(root);
	if (!json_is_object(root) || !str(root, "tool") ||
	    strcmp(str(root, "tool"), "coil-bench") != 0)
		bad(d, "not a coil-bench --json result");
	if (!d->bad && cb_result_init(&l->r) < 0)
		bad(d, "out of memory");
	if (!d->bad)
		config(d, root, &l->o);
	if (!d->bad)
		stages_slos(d, root, &l->o);
	if (!d->bad)
		counts(d, root, &l->r);
	if (!d->bad)
		hists(d, root, l);
	if (!d->bad)
		segment(d, root, l);
	l->saturated = json_is_true(at(root, "saturation.saturated"));
	if (!l->threads)
		l->threads = l->o.threads;
	if (!l->connections)
		l->connections = l->o.connections;
	return d->bad ? -EINVAL : 0;
}

void cb_loaded_free(struct cb_loaded *l)
{
	for (size_t i = 0; i < l->nseries; i++)
		cb_hdr_text_free(&l->series[i].hist);
	free(l->series);
	l->series = NULL;
	l->nseries = 0;
	l->r.series = NULL;
	cb_result_free(&l->r);
	cb_cli_free(&l->o);
	json_decref(l->root);
	l->root = NULL;
}
