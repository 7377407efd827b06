/*
 * tools/coil-bench/plot.c - one run or several as a self-contained SVG
 * (see plot.h): plain SVG 1.1 elements, inline styles, generic font
 * families, nothing fetched, nothing run.
 */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

#define W 960
#define H 800
#define LEFT 90
#define RIGHT (W - 90)
#define A_TOP 100 /* panel (a) */
#define A_BOT 370
#define B_TOP 460 /* panel (b) */
#define B_BOT 730
#define XMAX_PCT 5.0 /* log10(1 / (1 - 0.99999)) */

static const char *const colours[CB_PLOT_MAX_RUNS] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
	"#9467bd", "#8c564b", "#e377c2", "#17becf",
};

static void text_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* A round step (1, 2 or 5 times a power of ten) giving about @ticks
 * intervals up to @max, and the axis end it leads to. */
static double nice_step(double max, int ticks, double *end)
{
	double raw, mag, step;
	if (!(max > 0))
		max = 1;
	raw = max / ticks;
	mag = pow(10, floor(log10(raw)));
	step = raw / mag <= 1	? mag
	       : raw / mag <= 2 ? 2 * mag
	       : raw / mag <= 5 ? 5 * mag
				: 10 * mag;
	*end = ceil(max / step - 1e-9) * step;
	return step;
}

/* "12", "1.5", "0.25": a tick label without needless digits */
static void num(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.4g", fabs(v) < 1e-12 ? 0 : v);
}

static double pct_x(double pct)
{
	double x;
	if (pct >= 100.0)
		x = XMAX_PCT;
	else
		x = log10(1.0 / (1.0 - pct / 100.0));
	if (x > XMAX_PCT)
		x = XMAX_PCT;
	return LEFT + (RIGHT - LEFT) * x / XMAX_PCT;
}

static double scale(double v, double max, int top, int bot)
{
	if (max <= 0)
		return bot;
	if (v > max)
		v = max;
	return bot - (bot - top) * v / max;
}

static void frame(FILE *f, int top, int bot)
{
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"#ffffff\" stroke=\"#444444\" stroke-width=\"1\"/>\n",
		LEFT, top, RIGHT - LEFT, bot - top);
}

static void hgrid(FILE *f, double step, double end, int top, int bot,
		  int right_axis, const char *colour)
{
	char b[32];
	for (double v = 0; v <= end + step / 2; v += step) {
		double y = scale(v, end, top, bot);
		num(b, sizeof(b), v);
		if (!right_axis)
			fprintf(f,
				"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
				"y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
				LEFT, y, RIGHT, y);
		fprintf(f,
			"<text x=\"%d\" y=\"%.1f\" font-size=\"12\" "
			"text-anchor=\"%s\" fill=\"%s\">%s</text>\n",
			right_axis ? RIGHT + 6 : LEFT - 6, y + 4,
			right_axis ? "start" : "end", colour, b);
	}
}

static void polyline(FILE *f, const char *cls, const char *colour,
		     const char *dash, size_t n, const double *x,
		     const double *y)
{
	fprintf(f,
		"<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
		"stroke-width=\"2\"%s%s%s points=\"",
		cls, colour, dash ? " stroke-dasharray=\"" : "",
		dash ? dash : "", dash ? "\"" : "");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", x[i], y[i]);
	fputs("\"/>\n", f);
}

static double curve_max_ms(const struct cb_plot_curve *c)
{
	double m = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->ns[i] / 1e6 > m)
			m = c->ns[i] / 1e6;
	return m;
}

static void draw_curve(FILE *f, const struct cb_plot_curve *c, double end,
		       const char *cls, const char *colour, const char *dash)
{
	double *x, *y;
	if (!c->n)
		return;
	x = calloc(c->n, sizeof(*x));
	y = calloc(c->n, sizeof(*y));
	if (!x || !y) {
		free(x);
		free(y);
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		x[i] = pct_x(c->pct[i]);
		y[i] = scale(c->ns[i] / 1e6, end, A_TOP, A_BOT);
	}
	polyline(f, cls, colour, dash, c->n, x, y);
	free(x);
	free(y);
}

static void panel_latency(FILE *f, const struct cb_plot_run *runs, size_t n)
{
	static const char *const xl[] = {"0%",	  "90%",    "99%",
					 "99.9%", "99.99%", "99.999%"};
	double max = 0, end, step;
	char cls[64];

	for (size_t r = 0; r < n; r++) {
		double a = curve_max_ms(&runs[r].corrected);
		double b = curve_max_ms(&runs[r].uncorrected);
		max = a > max ? a : max;
		max = b > max ? b : max;
	}
	step = nice_step(max, 6, &end);
	fprintf(f, "<g class=\"panel latency\">\n");
	frame(f, A_TOP, A_BOT);
	hgrid(f, step, end, A_TOP, A_BOT, 0, "#222222");
	for (int i = 0; i <= 5; i++) {
		double x = LEFT + (RIGHT - LEFT) * i / XMAX_PCT;
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#e0e0e0\"/>\n"
			"<text x=\"%.1f\" y=\"%d\" font-size=\"12\" "
			"text-anchor=\"middle\" fill=\"#222222\">%s</text>\n",
			x, A_TOP, x, A_BOT, x, A_BOT + 16, xl[i]);
	}
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"13\" "
		"text-anchor=\"middle\" fill=\"#222222\">percentile "
		"(HdrHistogram scale: log of 1/(1-p))</text>\n"
		"<text x=\"20\" y=\"%d\" font-size=\"13\" "
		"text-anchor=\"middle\" fill=\"#222222\" "
		"transform=\"rotate(-90 20 %d)\">latency (ms)</text>\n"
		"<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\" "
		"fill=\"#222222\">(a) Latency by percentile</text>\n",
		(LEFT + RIGHT) / 2, A_BOT + 34, (A_TOP + A_BOT) / 2,
		(A_TOP + A_BOT) / 2, LEFT, A_TOP - 8);
	for (size_t r = 0; r < n; r++) {
		snprintf(cls, sizeof(cls), "lat corrected r%zu", r);
		draw_curve(f, &runs[r].corrected, end, cls, colours[r], NULL);
		snprintf(cls, sizeof(cls), "lat uncorrected r%zu", r);
		draw_curve(f, &runs[r].uncorrected, end, cls, colours[r],
			   "6,4");
	}
	fputs("</g>\n", f);
}

static void panel_time(FILE *f, const struct cb_plot_run *runs, size_t n)
{
	double tmax = 0, rmax = 0, pmax = 0, rend, pend, tend, rstep, pstep,
	       tstep;
	char cls[64], b[32];

	for (size_t r = 0; r < n; r++) {
		const struct cb_plot_run *run = &runs[r];
		if ((double)run->nsec > tmax)
			tmax = (double)run->nsec;
		for (size_t i = 0; i < run->nsec; i++) {
			if (run->sec[i].requests > rmax)
				rmax = run->sec[i].requests;
			if (run->sec[i].p99_ns / 1e6 > pmax)
				pmax = run->sec[i].p99_ns / 1e6;
		}
		for (size_t i = 0; i < run->nbounds; i++)
			if (run->bounds_s[i] > tmax)
				tmax = run->bounds_s[i];
	}
	rstep = nice_step(rmax, 6, &rend);
	pstep = nice_step(pmax, 6, &pend);
	tstep = nice_step(tmax, 10, &tend);
	fprintf(f, "<g class=\"panel time\">\n");
	frame(f, B_TOP, B_BOT);
	hgrid(f, rstep, rend, B_TOP, B_BOT, 0, "#222222");
	hgrid(f, pstep, pend, B_TOP, B_BOT, 1, "#555555");
	for (double t = 0; t <= tend + tstep / 2; t += tstep) {
		double x = LEFT + (RIGHT - LEFT) * t / tend;
		num(b, sizeof(b), t);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#e0e0e0\"/>\n"
			"<text x=\"%.1f\" y=\"%d\" font-size=\"12\" "
			"text-anchor=\"middle\" fill=\"#222222\">%s</text>\n",
			x, B_TOP, x, B_BOT, x, B_BOT + 16, b);
	}
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"13\" "
		"text-anchor=\"middle\" fill=\"#222222\">time (s)</text>\n"
		"<text x=\"20\" y=\"%d\" font-size=\"13\" "
		"text-anchor=\"middle\" fill=\"#222222\" "
		"transform=\"rotate(-90 20 %d)\">requests/s (solid)</text>\n"
		"<text x=\"%d\" y=\"%d\" font-size=\"13\" "
		"text-anchor=\"middle\" fill=\"#555555\" "
		"transform=\"rotate(90 %d %d)\">p99 latency, ms "
		"(dashed)</text>\n"
		"<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\" "
		"fill=\"#222222\">(b) Requests/s and p99 per second</text>\n",
		(LEFT + RIGHT) / 2, B_BOT + 34, (B_TOP + B_BOT) / 2,
		(B_TOP + B_BOT) / 2, W - 20, (B_TOP + B_BOT) / 2, W - 20,
		(B_TOP + B_BOT) / 2, LEFT, B_TOP - 8);
	for (size_t r = 0; r < n; r++) {
		const struct cb_plot_run *run = &runs[r];
		double *x, *yr, *yp;
		for (size_t i = 0; i < run->nbounds; i++) {
			double xb =
				LEFT + (RIGHT - LEFT) * run->bounds_s[i] / tend;
			fprintf(f,
				"<line class=\"stage r%zu\" x1=\"%.1f\" "
				"y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
				"stroke=\"%s\" stroke-width=\"1.5\" "
				"stroke-dasharray=\"2,3\"/>\n",
				r, xb, B_TOP, xb, B_BOT, colours[r]);
		}
		if (!run->nsec)
			continue;
		x = calloc(run->nsec, sizeof(*x));
		yr = calloc(run->nsec, sizeof(*yr));
		yp = calloc(run->nsec, sizeof(*yp));
		if (x && yr && yp) {
			for (size_t i = 0; i < run->nsec; i++) {
				x[i] = LEFT + (RIGHT - LEFT) *
						      ((double)i + 0.5) / tend;
				yr[i] = scale(run->sec[i].requests, rend, B_TOP,
					      B_BOT);
				yp[i] = scale(run->sec[i].p99_ns / 1e6, pend,
					      B_TOP, B_BOT);
			}
			snprintf(cls, sizeof(cls), "rps r%zu", r);
			polyline(f, cls, colours[r], NULL, run->nsec, x, yr);
			snprintf(cls, sizeof(cls), "p99 r%zu", r);
			polyline(f, cls, colours[r], "6,4", run->nsec, x, yp);
		}
		free(x);
		free(yr);
		free(yp);
	}
	fputs("</g>\n", f);
}

static void legend(FILE *f, const struct cb_plot_run *runs, size_t n)
{
	int x = LEFT;
	fputs("<g class=\"legend\">\n", f);
	for (size_t r = 0; r < n; r++) {
		fprintf(f,
			"<line x1=\"%d\" y1=\"46\" x2=\"%d\" y2=\"46\" "
			"stroke=\"%s\" stroke-width=\"3\"/>\n"
			"<text x=\"%d\" y=\"50\" font-size=\"12\" "
			"fill=\"#222222\">",
			x, x + 24, colours[r], x + 30);
		text_escaped(f, runs[r].label);
		fputs("</text>\n", f);
		x += 40 + 7 * (int)strlen(runs[r].label);
	}
	fprintf(f,
		"<text x=\"%d\" y=\"70\" font-size=\"11\" fill=\"#555555\">"
		"(a): solid = latency as measured (corrected with -R), dashed "
		"= uncorrected; (b): solid = requests/s, dashed = p99, dotted "
		"= stage boundaries</text>\n",
		LEFT);
	fputs("</g>\n", f);
}

int cb_plot_svg(FILE *f, const struct cb_plot_run *runs, size_t n,
		const char *title)
{
	if (!n || n > CB_PLOT_MAX_RUNS)
		return -EINVAL;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"sans-serif\">\n"
		"<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
		"<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\" "
		"fill=\"#222222\">",
		W, H, W, H, W, H, LEFT);
	text_escaped(f, title ? title : "coil-bench");
	fputs("</text>\n", f);
	legend(f, runs, n);
	panel_latency(f, runs, n);
	panel_time(f, runs, n);
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}

void cb_plot_run_free(struct cb_plot_run *r)
{
	free(r->corrected.pct);
	free(r->corrected.ns);
	free(r->uncorrected.pct);
	free(r->uncorrected.ns);
	free(r->sec);
	free(r->bounds_s);
	memset(r, 0, sizeof(*r));
}
