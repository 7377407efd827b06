/*
 * tools/coil-bench/series.c - the per-second series, merged across the
 * generator threads (see series.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"

struct cb_series_pending {
	struct cb_series_pending *next;
	uint64_t sec;
	unsigned parts;
	struct coil_hist *h;
};

int cb_series_init(struct cb_series *s, unsigned threads)
{
	memset(s, 0, sizeof(*s));
	s->threads = threads;
	return -pthread_mutex_init(&s->mu, NULL);
}

/* the point for @sec, the array grown (doubling) to hold it */
static struct cb_series_point *point(struct cb_series *s, uint64_t sec)
{
	if (sec >= s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		struct cb_series_point *np;
		while (cap <= sec)
			cap *= 2;
		np = realloc(s->pt, cap * sizeof(*np));
		if (!np)
			return NULL;
		memset(np + s->cap, 0, (cap - s->cap) * sizeof(*np));
		s->pt = np;
		s->cap = cap;
	}
	if (sec >= s->n)
		s->n = sec + 1;
	return &s->pt[sec];
}

static void settle(struct cb_series *s, struct cb_series_pending *p)
{
	struct cb_series_pending **pp = &s->pending;
	if (p->sec < s->n) {
		s->pt[p->sec].p50_ns = coil_hist_value_at_percentile(p->h, 50);
		s->pt[p->sec].p99_ns = coil_hist_value_at_percentile(p->h, 99);
		cb_hdr_text_free(&s->pt[p->sec].hist);
		if (cb_hdr_text_make_buf(&s->pt[p->sec].hist, p->h, &s->buf) <
		    0)
			cb_hdr_text_free(&s->pt[p->sec].hist);
	}
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	coil_hist_reset(p->h);
	p->parts = 0;
	p->next = s->spare;
	s->spare = p;
}

int cb_series_add(struct cb_series *s, uint64_t sec, uint64_t requests,
		  uint64_t errors, const struct coil_hist *h)
{
	struct cb_series_point *pt;
	struct cb_series_pending *p;
	int ret = 0;

	pthread_mutex_lock(&s->mu);
	if (s->failed || !(pt = point(s, sec))) {
		ret = -ENOMEM;
		goto out;
	}
	pt->requests += requests;
	pt->errors += errors;
	for (p = s->pending; p && p->sec != sec; p = p->next)
		;
	if (!p) {
		/* a new second: a settled one's memory, or fresh */
		if ((p = s->spare)) {
			s->spare = p->next;
		} else if (!(p = calloc(1, sizeof(*p))) ||
			   coil_hist_new(&p->h, NULL) < 0) {
			free(p);
			ret = -ENOMEM;
			goto out;
		}
		p->sec = sec;
		p->next = s->pending;
		s->pending = p;
	}
	if (coil_hist_count(h))
		coil_hist_merge(p->h, h);
	if (++p->parts >= s->threads)
		settle(s, p);
out:
	if (ret < 0 && !s->failed) {
		s->failed = 1;
		if (s->n > sec)
			s->n = sec; /* what follows is incomplete */
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void cb_series_finish(struct cb_series *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->pending)
		settle(s, s->pending);
	pthread_mutex_unlock(&s->mu);
}

void cb_series_free(struct cb_series *s)
{
	cb_series_finish(s);
	while (s->spare) {
		struct cb_series_pending *p = s->spare;
		s->spare = p->next;
		coil_hist_free(p->h);
		free(p);
	}
	cb_hdr_buf_free(&s->buf);
	for (size_t i = 0; i < s->cap; i++)
		cb_hdr_text_free(&s->pt[i].hist);
	free(s->pt);
	pthread_mutex_destroy(&s->mu);
	memset(s, 0, sizeof(*s));
}
