/*
 * tests/bench/test_maxrate.c - the --find-max-rate search over model
 * servers (no network): it finds a known capacity within the tolerance
 * from below and from above, reports "none" and "at least" at the ends of
 * the range, runs a generator-bound step up to twice more and stops when
 * it stays generator-bound, never counting it as the server's limit; a
 * failing step is run again and a pass then counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxrate.h"

struct model {
	uint64_t capacity;  /* passes at or below */
	uint64_t noise_at;  /* the first step at this rate fails (a stall) */
	uint64_t gen_limit; /* generator-bound above (0: never) */
	int flaky_once;	    /* the first step above gen_limit only */
	unsigned calls;
};

static int model_step(void *arg, uint64_t rate, struct cb_step *st)
{
	struct model *m = arg;
	m->calls++;
	st->achieved = (double)(rate < m->capacity ? rate : m->capacity);
	st->pass = rate <= m->capacity;
	if (rate == m->noise_at) {
		st->pass = false;
		m->noise_at = 0;
	}
	if (m->gen_limit && rate > m->gen_limit) {
		st->gen_bound = true;
		snprintf(st->why, sizeof(st->why), "model");
		if (m->flaky_once) {
			m->flaky_once = 0;
			m->gen_limit = 0;
		}
	}
	return 0;
}

static void search(struct cb_search *s, struct model *m, uint64_t start)
{
	assert_int_equal(cb_search_max_rate(s, start, 1, 1000000000ull,
					    CB_SEARCH_TOLERANCE, model_step, m),
			 0);
	assert_int_equal(s->n, m->calls);
}

static void test_maxrate_finds_capacity(void **state)
{
	static const uint64_t caps[] = {1, 7, 200, 999, 1000, 1001, 123456};
	static const uint64_t starts[] = {1, 100, 1000, 5000000};
	struct cb_search *s = malloc(sizeof(*s));
	(void)state;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		for (size_t j = 0; j < sizeof(starts) / sizeof(starts[0]);
		     j++) {
			struct model m = {.capacity = caps[i]};
			search(s, &m, starts[j]);
			assert_true(s->converged);
			assert_int_equal(s->gen_bound, 0);
			/* best passed, fail failed, within 5% */
			assert_true(s->best <= caps[i]);
			assert_true(s->fail > caps[i]);
			assert_true(s->fail - s->best <= 1 ||
				    (double)(s->fail - s->best) <=
					    0.05 * (double)s->best);
			assert_true((double)s->best >= 0.95 * (double)caps[i] ||
				    caps[i] - s->best <= 1);
			assert_true(s->n < CB_SEARCH_MAX_STEPS);
		}
	}
	free(s);
}

static void test_maxrate_ends_of_range(void **state)
{
	struct cb_search *s = malloc(sizeof(*s));
	struct model none = {.capacity = 0};
	struct model all = {.capacity = 2000000000ull};
	(void)state;
	search(s, &none, 1000);
	assert_int_equal(s->best, 0);
	assert_int_equal(s->fail, 1);
	search(s, &all, 1000);
	assert_int_equal(s->best, 1000000000ull);
	assert_int_equal(s->fail, 0);
	free(s);
}

/* the generator cannot send more than 3000/s, the server would take
 * 10000/s: the search stops at the generator's limit and reports the
 * highest passing rate only as a lower bound */
static void test_maxrate_generator_bound(void **state)
{
	struct cb_search *s = malloc(sizeof(*s));
	struct model m = {.capacity = 10000, .gen_limit = 3000};
	(void)state;
	search(s, &m, 1000);
	assert_int_equal(s->gen_bound, 4000);
	assert_int_equal(s->best, 2000);
	assert_int_equal(s->fail, 0); /* never counted as a failure */
	assert_false(s->converged);
	/* the step ran three times, generator-bound each time */
	assert_int_equal(s->n, 5);
	assert_true(s->steps[2].gen_bound && s->steps[3].gen_bound &&
		    s->steps[4].gen_bound);
	free(s);
}

/* one failing step below the capacity (a stall) is run again, passes,
 * and the search finds the capacity all the same */
static void test_maxrate_noise_fail_rerun(void **state)
{
	struct cb_search *s = malloc(sizeof(*s));
	struct model m = {.capacity = 200, .noise_at = 150};
	(void)state;
	search(s, &m, 150);
	assert_false(s->steps[0].pass);
	assert_true(s->steps[1].pass && s->steps[1].rate == 150);
	assert_true(s->converged);
	assert_true(s->best >= 190 && s->best <= 200);
	free(s);
}

/* a step generator-bound once (a stall) is run again and the search goes
 * on */
static void test_maxrate_generator_bound_once(void **state)
{
	struct cb_search *s = malloc(sizeof(*s));
	struct model m = {.capacity = 5000, .gen_limit = 3000, .flaky_once = 1};
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;
	search(s, &m, 1000);
	assert_int_equal(s->gen_bound, 0);
	assert_true(s->converged);
	assert_true(s->best <= 5000 && s->best >= 4750);
	assert_true(s->steps[2].gen_bound && !s->steps[3].gen_bound);
	f = open_memstream(&text, &len);
	cb_search_report_text(f, s);
	fclose(f);
	assert_non_null(strstr(text, "generator-bound: model"));
	assert_non_null(strstr(text, "meets every SLO"));
	free(text);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxrate_finds_capacity),
		cmocka_unit_test(test_maxrate_ends_of_range),
		cmocka_unit_test(test_maxrate_generator_bound),
		cmocka_unit_test(test_maxrate_generator_bound_once),
		cmocka_unit_test(test_maxrate_noise_fail_rerun),
	};
	return cmocka_run_group_tests_name("bench.maxrate", tests, NULL, NULL);
}
