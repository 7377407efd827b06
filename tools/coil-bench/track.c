/*
 * tools/coil-bench/track.c - what a generator thread adds up besides the
 * run's totals (gen_internal.h): the current second of the per-second
 * series (handed to the run's struct cb_series when the second ends) and
 * the figures of each --stages stage. Called from conn.c and gen.c; calls
 * only series.c and stages.c.
 */

#include "gen_internal.h"
#include "stages.h"

#define NS_PER_S 1000000000ull

int cb_track_setup(struct cb_gen *g)
{
	return coil_hist_new(&g->sec_hist, NULL);
}

void cb_track_free(struct cb_gen *g)
{
	coil_hist_free(g->sec_hist);
	g->sec_hist = NULL;
}

/* The stage that holds @t (abs ns), or NULL without --stages. */
static struct cb_stage_result *stage_at(struct cb_gen *g, uint64_t t)
{
	const struct cb_stages *st = &g->o->stages;
	if (!st->n || !g->th->r.nstages)
		return NULL;
	return &g->th->r.stage[cb_stages_index(st, t > g->t0 ? t - g->t0 : 0)];
}

void cb_track_response(struct cb_gen *g, uint64_t intended, uint64_t now,
		       uint64_t lat, unsigned status)
{
	struct cb_stage_result *sr = stage_at(g, intended);
	if (now >= g->sec_end)
		cb_track_roll(g, now);
	g->sec_requests++;
	coil_hist_record(g->sec_hist, lat);
	if (sr) {
		sr->requests++;
		sr->non_2xx_3xx += status < 200 || status > 399;
		coil_hist_record(sr->latency, lat);
	}
}

void cb_track_error(struct cb_gen *g, uint64_t now, uint64_t n)
{
	struct cb_stage_result *sr = stage_at(g, now);
	if (now >= g->sec_end)
		cb_track_roll(g, now);
	g->sec_errors += n;
	if (sr)
		sr->errors += n;
}

/* hand in the current second and start the next */
static void hand_in(struct cb_gen *g)
{
	cb_series_add(g->run->series, g->sec, g->sec_requests, g->sec_errors,
		      g->sec_hist);
	if (g->sec_requests)
		coil_hist_reset(g->sec_hist);
	g->sec_requests = g->sec_errors = 0;
	g->sec++;
	g->sec_end += NS_PER_S;
}

/* The index of the measured period's last second (partial or whole), or
 * UINT64_MAX when the run has no set end (-n alone, Ctrl-C). */
static uint64_t last_second(const struct cb_gen *g)
{
	if (g->end == UINT64_MAX || g->end <= g->measure)
		return UINT64_MAX;
	return (g->end - g->measure - 1) / NS_PER_S;
}

void cb_track_roll(struct cb_gen *g, uint64_t now)
{
	uint64_t last = last_second(g);
	if (!g->measuring || !g->run->series)
		return;
	/* answers to requests in flight at the end count in the last
	 * second, not in a stray one after it */
	while (now >= g->sec_end && g->sec < last)
		hand_in(g);
}

void cb_track_end(struct cb_gen *g, uint64_t now)
{
	uint64_t last = last_second(g);
	if (!g->measuring || !g->run->series)
		return;
	cb_track_roll(g, now);
	/* up to the measured period's last second: every thread hands in
	 * the same ones, however early it finished */
	if (last == UINT64_MAX)
		last = g->sec;
	while (g->sec <= last)
		hand_in(g);
}
