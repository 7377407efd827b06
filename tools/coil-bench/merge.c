/*
 * tools/coil-bench/merge.c - `coil-bench merge RESULT.json...|-`: the
 * --json results of the N workers of one segmented test (segment.h) made
 * into the one report a single generator would have printed.
 *
 * Exact, not averaged: every histogram is decoded from the results'
 * "histograms" (hdrlog.h) and added slot by slot, counts are added, and
 * percentiles are taken from the sums, so they are those of all the
 * workers' latencies together. Before adding, the inputs must be one
 * test: every one a segment (--segment), all with the same "config" and
 * segment count, no segment twice, none missing (each missing one named).
 *
 * Input: files, each holding one or more JSON objects, or "-" for stdin,
 * where srun prints its tasks' outputs. srun forwards whole lines but
 * interleaves the lines of tasks that print at once, so `srun -l` (each
 * line prefixed "TASK: ") is the safe way to print them together: such
 * input is regrouped by task before parsing. Reports as a single run
 * does (text, -L, -U, --json, --plot, --slo and the exit status), plus one
 * line per worker.
 */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parse.h"
#include "load.h"
#include "merge.h"
#include "plot.h"
#include "plotdata.h"
#include "slo.h"

#define MAX_INPUT_BYTES (1024u << 20)
#define MAX_TASKS 100000

struct merge {
	struct cb_loaded *w; /* [n] */
	size_t n, cap;
	struct cb_opts args; /* -L, -U, --json, --plot, --slo, --output */
	char why[512];
};

static int fail(struct merge *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct merge *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One JSON object read: load it as worker n. */
static int add_doc(struct merge *m, json_t *root, const char *label)
{
	struct cb_loaded *l;
	char why[256];
	int ret;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct cb_loaded *nw = realloc(m->w, cap * sizeof(*nw));
		if (!nw)
			return fail(m, "out of memory");
		m->w = nw;
		m->cap = cap;
	}
	l = &m->w[m->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->label, sizeof(l->label), "%s", label);
	ret = cb_load(l, root, why, sizeof(why));
	if (ret < 0)
		return fail(m, "%s: %s", label, why);
	return 0;
}

/* Every JSON object of @buf in turn (whitespace between them). */
static int parse_stream(struct merge *m, const char *buf, size_t len,
			const char *label)
{
	size_t off = 0;
	unsigned k = 0;
	char lab[128];
	int ret;
	for (;;) {
		json_error_t e;
		json_t *v;
		while (off < len && isspace((unsigned char)buf[off]))
			off++;
		if (off == len)
			return k ? 0 : fail(m, "%s: no result in it", label);
		v = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK,
			       &e);
		if (!v)
			return fail(m, "%s: not JSON (line %d: %s)", label,
				    e.line, e.text);
		off += (size_t)e.position;
		snprintf(lab, sizeof(lab), k ? "%s#%u" : "%s", label, k + 1);
		ret = add_doc(m, v, lab);
		json_decref(v);
		if (ret < 0)
			return ret;
		k++;
	}
}

/* "TASK: " at the start of @s: the task, or -1. */
static long task_label(const char *s, const char *end, const char **rest)
{
	const char *p = s;
	long t = 0;
	while (p < end && *p == ' ')
		p++;
	if (p == end || !isdigit((unsigned char)*p))
		return -1;
	while (p < end && isdigit((unsigned char)*p) && t <= MAX_TASKS)
		t = t * 10 + (*p++ - '0');
	if (t > MAX_TASKS || p + 1 >= end || p[0] != ':' || p[1] != ' ')
		return -1;
	*rest = p + 2;
	return t;
}

/* Whether every non-blank line of @buf carries srun -l's label. */
static bool labelled(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *rest;
	bool any = false;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol ? eol : end;
		bool blank = true;
		for (const char *q = p; q < e; q++)
			blank &= isspace((unsigned char)*q) != 0;
		if (!blank) {
			if (task_label(p, e, &rest) < 0)
				return false;
			any = true;
		}
		p = e + 1;
	}
	return any;
}

struct task_buf {
	long task;
	char *s;
	size_t len, cap;
};

static int append(struct task_buf *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *ns = realloc(t->s, cap);
		if (!ns)
			return -ENOMEM;
		t->s = ns;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return 0;
}

/* srun -l output: the lines regrouped by task, each task's parsed. */
static int parse_labelled(struct merge *m, const char *buf, size_t len,
			  const char *label)
{
	struct task_buf *tb = NULL;
	size_t nt = 0;
	const char *p = buf, *end = buf + len, *rest;
	char lab[160];
	int ret = 0;

	while (p < end && !ret) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol ? eol + 1 : end;
		long t = task_label(p, e, &rest);
		size_t i;
		if (t >= 0) {
			for (i = 0; i < nt && tb[i].task != t; i++)
				;
			if (i == nt) {
				struct task_buf *n =
					realloc(tb, (nt + 1) * sizeof(*tb));
				if (!n) {
					ret = fail(m, "out of memory");
					break;
				}
				tb = n;
				memset(&tb[nt], 0, sizeof(*tb));
				tb[nt++].task = t;
			}
			if (append(&tb[i], rest, (size_t)(e - rest)) < 0)
				ret = fail(m, "out of memory");
		}
		p = e;
	}
	for (size_t i = 0; i < nt; i++) {
		snprintf(lab, sizeof(lab), "%s task %ld", label, tb[i].task);
		if (!ret)
			ret = parse_stream(m, tb[i].s, tb[i].len, lab);
		free(tb[i].s);
	}
	free(tb);
	return ret;
}

static int read_input(struct merge *m, const char *path)
{
	const char *label = strcmp(path, "-") ? path : "stdin";
	char *buf;
	size_t len;
	int ret = tools_read_file(path, MAX_INPUT_BYTES, &buf, &len);
	if (ret < 0)
		return fail(m, "cannot read '%s': %s", path,
			    ret == -EFBIG ? "larger than 1 GiB"
					  : strerror(-ret));
	ret = labelled(buf, len) ? parse_labelled(m, buf, len, label)
				 : parse_stream(m, buf, len, label);
	free(buf);
	return ret;
}

/* The first member of "config" that differs between @a and @b. */
static const char *config_diff(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;
	json_object_foreach(a, k, v)
	{
		if (!json_equal(v, json_object_get(b, k)))
			return k;
	}
	json_object_foreach(b, k, v)
	{
		if (!json_object_get(a, k))
			return k;
	}
	return "?";
}

/* One test, every segment once. */
static int check(struct merge *m)
{
	const struct cb_loaded *a = &m->w[0];
	uint32_t n = a->seg.count;
	const struct cb_loaded **by;
	char list[256] = "";
	size_t missing = 0, used = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct cb_loaded *w = &m->w[i];
		json_t *ca = json_object_get(a->root, "config");
		json_t *cw = json_object_get(w->root, "config");
		if (!w->seg.count)
			return fail(m,
				    "%s is not a segment of a test (run the "
				    "workers with --segment)",
				    w->label);
		if (w->seg.count != n)
			return fail(m,
				    "%s is segment %u/%u, %s segment %u/%u: "
				    "not one test",
				    a->label, a->seg.index, n, w->label,
				    w->seg.index, w->seg.count);
		if (!json_equal(ca, cw))
			return fail(m,
				    "%s and %s are not one test: their "
				    "\"config.%s\" differs",
				    a->label, w->label, config_diff(ca, cw));
	}
	by = calloc(n + 1, sizeof(*by));
	if (!by)
		return fail(m, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		const struct cb_loaded *w = &m->w[i];
		if (by[w->seg.index]) {
			fail(m, "segment %u/%u given twice: %s and %s",
			     w->seg.index, n, by[w->seg.index]->label,
			     w->label);
			free(by);
			return -EINVAL;
		}
		by[w->seg.index] = w;
	}
	for (uint32_t i = 1; i <= n; i++) {
		if (by[i])
			continue;
		if (missing++ < 16 && used < sizeof(list) - 16)
			used += (size_t)snprintf(list + used,
						 sizeof(list) - used, "%s%u",
						 missing > 1 ? ", " : "", i);
	}
	free(by);
	if (missing)
		return fail(m, "%zu of %u segments missing: %s%s", missing, n,
			    list, missing > 16 ? ", ..." : "");
	return 0;
}

/* The per-second series: counts added, each second's histograms added
 * and its percentiles taken from the sum. */
static int merge_series(struct merge *m, struct cb_series_point **out,
			size_t *nout)
{
	struct cb_series_point *pt;
	struct coil_hist *h;
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->w[i].nseries > n)
			n = m->w[i].nseries;
	*out = pt = calloc(n + 1, sizeof(*pt));
	*nout = n;
	if (!pt || coil_hist_new(&h, NULL) < 0)
		return fail(m, "out of memory");
	for (size_t s = 0; s < n; s++) {
		coil_hist_reset(h);
		for (size_t i = 0; i < m->n; i++) {
			const struct cb_loaded *w = &m->w[i];
			if (s >= w->nseries)
				continue;
			pt[s].requests += w->series[s].requests;
			pt[s].errors += w->series[s].errors;
			if (w->series[s].hist.hdr &&
			    cb_hdr_text_add(&w->series[s].hist, h) < 0) {
				coil_hist_free(h);
				return fail(m,
					    "%s: second %zu's histogram "
					    "does not decode",
					    w->label, s);
			}
		}
		pt[s].p50_ns = coil_hist_value_at_percentile(h, 50);
		pt[s].p99_ns = coil_hist_value_at_percentile(h, 99);
		if (coil_hist_count(h) &&
		    cb_hdr_text_make(&pt[s].hist, h) < 0) {
			coil_hist_free(h);
			return fail(m, "out of memory");
		}
	}
	coil_hist_free(h);
	return 0;
}

static int parse_args(struct merge *m, int argc, char **argv)
{
	static const struct option opts[] = {
		{"latency", no_argument, NULL, 'L'},
		{"json", no_argument, NULL, 'j'},
		{"plot", required_argument, NULL, 'p'},
		{"slo", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, ret;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":LUo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			m->args.latency = true;
			break;
		case 'U':
			m->args.uncorrected = true;
			break;
		case 'j':
			m->args.json = true;
			break;
		case 'p':
			m->args.plot = optarg;
			break;
		case 'o':
			m->args.output = optarg;
			break;
		case 's':
			ret = cb_cli_add_slos(&m->args, optarg, m->why,
					      sizeof(m->why));
			if (ret)
				return ret;
			break;
		case 'h':
			m->args.action = CB_HELP;
			return 0;
		case ':':
			return fail(m, "%s needs a value", argv[optind - 1]);
		default:
			return fail(m, "unknown option '%s' (see merge --help)",
				    argv[optind - 1]);
		}
	}
	if (optind == argc)
		return fail(m, "no result given (usage: coil-bench merge "
			       "RESULT.json... or - for stdin)");
	return 0;
}

static void usage(FILE *f)
{
	fputs("Usage: coil-bench merge RESULT.json...|- [options]\n"
	      "  The --json results of the workers of one test run with "
	      "--segment (files,\n"
	      "  or - for stdin: several objects, or `srun -l` output) made "
	      "into one exact\n"
	      "  report: histograms and counts added, one line per worker.\n"
	      "    -L, --latency         print the latency distribution\n"
	      "    -U                    print the uncorrected latency too "
	      "(with -R)\n"
	      "        --json            the merged result as one JSON object\n"
	      "        --plot FILE.svg   the merged run's plot\n"
	      "        --slo EXPR        conditions (default: the workers')\n"
	      "    -o, --output FILE     write the report to FILE\n"
	      "  Exit status: 0; 1 no request succeeded or an --slo failed; "
	      "2 bad input\n"
	      "  (unreadable, not one test, a segment missing or twice).\n",
	      f);
}

/* The merged test's options: the workers' "config", their threads
 * summed, the report options of the command line. */
static void merged_opts(struct merge *m, struct cb_opts *o)
{
	*o = m->w[0].o;
	o->threads = 0;
	for (size_t i = 0; i < m->n; i++)
		o->threads += m->w[i].threads;
	o->latency = m->args.latency;
	o->uncorrected = m->args.uncorrected;
	o->json = m->args.json;
	o->plot = m->args.plot;
	if (m->args.n_slos) {
		o->slos = m->args.slos;
		o->n_slos = m->args.n_slos;
	}
}

static int report(struct merge *m, const struct cb_opts *o,
		  struct cb_result *all, FILE *out)
{
	int status = 0;
	if (o->json) {
		if (cb_report_json(out, o, all) < 0)
			status = CB_EXIT_FAILED;
	} else {
		cb_report_header(out, o);
		cb_report_text(out, o, all);
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "coil-bench: writing the report: %s\n",
			strerror(errno));
		status = CB_EXIT_FAILED;
	}
	if (o->plot) {
		struct cb_plot_run run;
		FILE *f = fopen(o->plot, "w");
		int ret = f ? 0 : -errno;
		memset(&run, 0, sizeof(run));
		if (!ret)
			ret = cb_plot_from_result(&run, o, all, o->urls[0]);
		if (!ret)
			ret = cb_plot_svg(f, &run, 1, "coil-bench merge");
		if (f && fclose(f) != 0 && !ret)
			ret = -errno;
		cb_plot_run_free(&run);
		if (ret < 0) {
			fprintf(stderr, "coil-bench: writing --plot '%s': %s\n",
				o->plot, strerror(-ret));
			status = CB_EXIT_FAILED;
		}
	}
	(void)m;
	return status ? status : cb_report_verdict(o, all);
}

static int merge_all(struct merge *m, FILE *out)
{
	struct cb_opts o;
	struct cb_result all;
	struct cb_series_point *pts = NULL;
	struct cb_worker *ws;
	size_t npts = 0;
	int status = CB_EXIT_USAGE;

	merged_opts(m, &o);
	ws = calloc(m->n, sizeof(*ws));
	if (!ws || cb_result_init(&all) < 0 ||
	    (o.stages.n && cb_result_stages(&all, o.stages.n) < 0)) {
		free(ws);
		cb_result_free(&all);
		fail(m, "out of memory");
		return CB_EXIT_START;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct cb_loaded *w = &m->w[i];
		struct cb_worker *k = &ws[i];
		cb_result_merge(&all, &w->r);
		k->index = w->seg.index;
		k->count = w->seg.count;
		memcpy(k->host, w->r.host, sizeof(k->host));
		snprintf(k->label, sizeof(k->label), "%s", w->label);
		k->requests = w->r.requests;
		k->errors = cb_result_errors(&w->r);
		k->runtime_ns = w->r.runtime_ns;
		k->late = w->r.late;
		k->unsent = w->r.unsent;
		k->start_late_ns = w->r.start_late_ns;
		k->saturated = w->saturated;
	}
	all.host[0] = '\0';
	all.workers = ws;
	all.nworkers = m->n;
	if (merge_series(m, &pts, &npts) == 0) {
		all.series = pts;
		all.nseries = npts;
		status = report(m, &o, &all, out);
	}
	for (size_t i = 0; i < npts; i++)
		cb_hdr_text_free(&pts[i].hist);
	free(pts);
	free(ws);
	cb_result_free(&all);
	return status;
}

int cb_merge_main(int argc, char **argv)
{
	struct merge m;
	FILE *out = stdout;
	int status = CB_EXIT_USAGE;

	memset(&m, 0, sizeof(m));
	if (parse_args(&m, argc, argv) < 0)
		goto done;
	if (m.args.action == CB_HELP) {
		usage(stdout);
		status = 0;
		goto done;
	}
	for (int i = optind; i < argc; i++)
		if (read_input(&m, argv[i]) < 0)
			goto done;
	if (check(&m) < 0)
		goto done;
	if (m.args.output && !(out = fopen(m.args.output, "w"))) {
		fail(&m, "cannot write --output '%s': %s", m.args.output,
		     strerror(errno));
		out = stdout;
		goto done;
	}
	status = merge_all(&m, out);
done:
	if (status == CB_EXIT_USAGE || (status && m.why[0]))
		fprintf(stderr, "coil-bench merge: %s\n", m.why);
	if (out != stdout && fclose(out) != 0 && !status)
		status = CB_EXIT_FAILED;
	for (size_t i = 0; i < m.n; i++)
		cb_loaded_free(&m.w[i]);
	free(m.w);
	cb_cli_free(&m.args);
	return status;
}
