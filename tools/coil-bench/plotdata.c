/*
 * tools/coil-bench/plotdata.c - the plot's runs from a merged result or
 * from saved JSON results (Debian's jansson parses them: a well-kept
 * parser rather than one of our own).
 */

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../common/exit_status.h"
#include "plotdata.h"
#include "series.h"

static int curve_alloc(struct cb_plot_curve *c, size_t n)
{
	c->pct = calloc(n ? n : 1, sizeof(*c->pct));
	c->ns = calloc(n ? n : 1, sizeof(*c->ns));
	return c->pct && c->ns ? 0 : -ENOMEM;
}

static int curve_from_hist(struct cb_plot_curve *c, const struct coil_hist *h)
{
	double pts[CB_CURVE_MAX];
	size_t n = cb_curve_percentiles(pts, CB_CURVE_MAX);
	if (!coil_hist_count(h))
		return 0;
	if (curve_alloc(c, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c->pct[i] = pts[i];
		c->ns[i] = (double)coil_hist_value_at_percentile(h, pts[i]);
	}
	c->n = n;
	return 0;
}

int cb_plot_from_result(struct cb_plot_run *run, const struct cb_opts *o,
			const struct cb_result *r, const char *label)
{
	snprintf(run->label, sizeof(run->label), "%s", label);
	if (curve_from_hist(&run->corrected, r->latency) < 0 ||
	    (o->rate &&
	     curve_from_hist(&run->uncorrected, r->latency_uncorrected) < 0))
		return -ENOMEM;
	if (r->nseries) {
		run->sec = calloc(r->nseries, sizeof(*run->sec));
		if (!run->sec)
			return -ENOMEM;
		for (size_t i = 0; i < r->nseries; i++) {
			run->sec[i].requests = (double)r->series[i].requests;
			run->sec[i].p99_ns = (double)r->series[i].p99_ns;
		}
		run->nsec = r->nseries;
	}
	if (o->stages.n > 1) {
		run->bounds_s = calloc(o->stages.n, sizeof(*run->bounds_s));
		if (!run->bounds_s)
			return -ENOMEM;
		for (unsigned k = 1; k < o->stages.n; k++) {
			double t = (double)o->stages.st[k].start_ns / 1e9;
			/* a jump starts where the previous stage ended: once */
			if (run->nbounds &&
			    run->bounds_s[run->nbounds - 1] == t)
				continue;
			run->bounds_s[run->nbounds++] = t;
		}
	}
	return 0;
}

/* "curve": [[p, ns], ...] of a latency object (NULL or null: none) */
static int curve_from_json(struct cb_plot_curve *c, json_t *hist)
{
	json_t *curve = json_object_get(hist, "curve"), *pt;
	size_t i;
	if (!json_is_array(curve))
		return json_is_object(hist) ? -EINVAL : 0;
	if (curve_alloc(c, json_array_size(curve)) < 0)
		return -ENOMEM;
	json_array_foreach(curve, i, pt)
	{
		json_t *p = json_array_get(pt, 0), *v = json_array_get(pt, 1);
		if (!json_is_number(p) || !json_is_number(v))
			return -EINVAL;
		c->pct[i] = json_number_value(p);
		c->ns[i] = json_number_value(v);
	}
	c->n = json_array_size(curve);
	return 0;
}

int cb_plot_from_json(struct cb_plot_run *run, const char *text,
		      const char *label, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *pts, *stages, *pt;
	size_t i;
	int ret = -EINVAL;

	snprintf(run->label, sizeof(run->label), "%s", label);
	if (!root) {
		snprintf(why, why_len, "not JSON (line %d: %s)", jerr.line,
			 jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root) || !json_object_get(root, "latency_ns")) {
		snprintf(why, why_len,
			 "not a coil-bench result (no \"latency_ns\"; "
			 "--find-max-rate results have no plot)");
		goto out;
	}
	ret = curve_from_json(&run->corrected,
			      json_object_get(root, "latency_ns"));
	if (ret == 0)
		ret = curve_from_json(
			&run->uncorrected,
			json_object_get(root, "latency_uncorrected_ns"));
	if (ret < 0) {
		snprintf(why, why_len, "a malformed latency \"curve\"");
		goto out;
	}
	pts = json_object_get(json_object_get(root, "series"), "points");
	if (json_is_array(pts) && json_array_size(pts)) {
		run->sec = calloc(json_array_size(pts), sizeof(*run->sec));
		if (!run->sec) {
			ret = -ENOMEM;
			goto out;
		}
		json_array_foreach(pts, i, pt)
		{
			run->sec[i].requests = json_number_value(
				json_object_get(pt, "requests"));
			run->sec[i].p99_ns = json_number_value(
				json_object_get(pt, "p99_ns"));
		}
		run->nsec = json_array_size(pts);
	}
	stages = json_object_get(json_object_get(root, "stages"), "list");
	if (json_is_array(stages) && json_array_size(stages) > 1) {
		run->bounds_s =
			calloc(json_array_size(stages), sizeof(*run->bounds_s));
		if (!run->bounds_s) {
			ret = -ENOMEM;
			goto out;
		}
		json_array_foreach(stages, i, pt)
		{
			double t = json_number_value(
					   json_object_get(pt, "start_ns")) /
				   1e9;
			if (!i || (run->nbounds &&
				   run->bounds_s[run->nbounds - 1] == t))
				continue;
			run->bounds_s[run->nbounds++] = t;
		}
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* The file's text, or NULL with errno set. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;
	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (!m) {
		fclose(f);
		return NULL;
	}
	while ((c = getc(f)) != EOF)
		putc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

static void label_of(const char *path, char *out, size_t len)
{
	const char *b = strrchr(path, '/');
	size_t n;
	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && !strcmp(b + n - 5, ".json"))
		n -= 5;
	snprintf(out, len, "%.*s", (int)n, b);
}

int cb_plot_main(int argc, char **argv)
{
	struct cb_plot_run runs[CB_PLOT_MAX_RUNS];
	const char *outp = NULL, *title = NULL, *files[CB_PLOT_MAX_RUNS];
	size_t nf = 0;
	int status = COIL_EXIT_OK;
	FILE *out;

	memset(runs, 0, sizeof(runs));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output") ||
		    !strcmp(argv[i], "--title")) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"coil-bench plot: %s needs a "
					"value\n",
					argv[i]);
				return COIL_EXIT_USAGE;
			}
			if (!strcmp(argv[i], "--title"))
				title = argv[++i];
			else
				outp = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr,
				"coil-bench plot: unknown option '%s' (usage: "
				"coil-bench plot RESULT.json... -o FILE.svg "
				"[--title T])\n",
				argv[i]);
			return COIL_EXIT_USAGE;
		} else if (nf == CB_PLOT_MAX_RUNS) {
			fprintf(stderr,
				"coil-bench plot: at most %d results in one "
				"plot\n",
				CB_PLOT_MAX_RUNS);
			return COIL_EXIT_USAGE;
		} else {
			files[nf++] = argv[i];
		}
	}
	if (!nf || !outp) {
		fprintf(stderr, "coil-bench plot: usage: coil-bench plot "
				"RESULT.json... -o FILE.svg [--title T]\n");
		return COIL_EXIT_USAGE;
	}
	for (size_t i = 0; i < nf; i++) {
		char label[128], why[200];
		char *text = read_text(files[i]);
		if (!text) {
			fprintf(stderr,
				"coil-bench plot: cannot read '%s': "
				"%s\n",
				files[i], strerror(errno));
			status = COIL_EXIT_USAGE;
			goto done;
		}
		label_of(files[i], label, sizeof(label));
		if (cb_plot_from_json(&runs[i], text, label, why, sizeof(why)) <
		    0) {
			fprintf(stderr, "coil-bench plot: '%s': %s\n", files[i],
				why);
			free(text);
			status = COIL_EXIT_USAGE;
			goto done;
		}
		free(text);
	}
	out = fopen(outp, "w");
	if (!out) {
		fprintf(stderr, "coil-bench plot: cannot write '%s': %s\n",
			outp, strerror(errno));
		status = COIL_EXIT_START;
		goto done;
	}
	if (cb_plot_svg(out, runs, nf, title) < 0 || fclose(out) != 0) {
		fprintf(stderr, "coil-bench plot: writing '%s' failed\n", outp);
		status = COIL_EXIT_START;
	}
done:
	for (size_t i = 0; i < nf; i++)
		cb_plot_run_free(&runs[i]);
	return status;
}
