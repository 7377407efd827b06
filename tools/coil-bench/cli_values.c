/*
 * tools/coil-bench/cli_values.c - the values of coil-bench's options
 * that have a grammar: numbers and times (wrk's suffixes), -H's header,
 * the --urls file, --slo's list and --stages' spec. Each returns a
 * one-line error, never printed here; nothing here calls cli.c or
 * cli_check.c back.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "cli_internal.h"

/* ---- numbers and times ----------------------------------------------------
 */

static const struct tools_unit count_units[] = {
	{"k", 1000ull},
	{"m", 1000000ull},
	{"g", 1000000000ull},
	{NULL, 0},
};

int cb_parse_duration(const char *s, uint64_t *ns)
{
	return tools_parse_duration(s, TOOLS_PLAIN_S, ns);
}

int cb_parse_count(const char *s, uint64_t *n)
{
	return tools_parse_scaled(s, count_units, 1, 1, n);
}

/* ---- option values --------------------------------------------------------
 */

/* "Name: value": a token, a colon, a value of visible characters, spaces
 * and tabs (RFC 9110 section 5.5: no CR, LF or other control character) */
int cb_cli_check_header(const char *h, char *err, size_t len)
{
	const char *colon = strchr(h, ':');
	if (!colon || !tools_is_token(h, (size_t)(colon - h)))
		return tools_fail(
			err, len,
			"bad header for -H: '%s' (expected 'Name: value')", h);
	if (strpbrk(colon, "\r\n"))
		return tools_fail(err, len,
				  "bad header for -H: a line break in '%.*s'",
				  (int)(colon - h), h);
	for (const char *p = colon; *p; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return tools_fail(
				err, len,
				"bad header for -H: a control character "
				"in '%.*s'",
				(int)(colon - h), h);
	}
	return 0;
}

int cb_cli_add_url(struct cb_opts *o, const char *u, size_t n)
{
	char **nu, *copy;
	if (o->n_urls >= CB_MAX_URLS)
		return -E2BIG;
	copy = strndup(u, n);
	if (!copy)
		return -ENOMEM;
	nu = realloc(o->urls, (o->n_urls + 1) * sizeof(*nu));
	if (!nu) {
		free(copy);
		return -ENOMEM;
	}
	o->urls = nu;
	o->urls[o->n_urls++] = copy;
	return 0;
}

/* --urls FILE: one URL a line; blank lines and lines starting with '#'
 * are skipped, surrounding blanks (and a CR) trimmed. */
int cb_cli_read_urls(struct cb_opts *o, const char *path, char *err, size_t len)
{
	char *text;
	const char *p, *b, *e;
	size_t n, before = o->n_urls;
	int ret = tools_read_file(path, 64u << 20, &text, &n);
	if (ret < 0) {
		tools_fail(err, len, "cannot read --urls '%s': %s", path,
			   ret == -EFBIG ? "larger than 64 MiB"
					 : strerror(-ret));
		return ret;
	}
	p = text;
	while (tools_next_line(&p, text + n, &b, &e)) {
		if (memchr(b, '\0', (size_t)(e - b))) {
			free(text);
			return tools_fail(err, len,
					  "--urls '%s' has a NUL byte", path);
		}
		ret = cb_cli_add_url(o, b, (size_t)(e - b));
		if (ret == -E2BIG) {
			free(text);
			return tools_fail(err, len,
					  "--urls '%s' has more than %u URLs",
					  path, CB_MAX_URLS);
		}
		if (ret < 0) {
			free(text);
			tools_fail(err, len, "out of memory");
			return ret;
		}
	}
	free(text);
	if (o->n_urls == before)
		return tools_fail(err, len, "--urls '%s' has no URL", path);
	return 0;
}

/* --slo EXPR[,EXPR...]: each condition parsed and kept in order */
int cb_cli_add_slos(struct cb_opts *o, const char *arg, char *err, size_t len)
{
	const char *p = arg;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char one[128];
		struct cb_slo *ns;
		int ret;
		if (n >= sizeof(one))
			return tools_fail(err, len, "--slo '%.*s' is too long",
					  (int)n, p);
		memcpy(one, p, n);
		one[n] = '\0';
		if (o->n_slos >= CB_MAX_SLOS)
			return tools_fail(err, len,
					  "more than %d --slo conditions",
					  CB_MAX_SLOS);
		ns = realloc(o->slos, (o->n_slos + 1) * sizeof(*ns));
		if (!ns) {
			tools_fail(err, len, "out of memory");
			return -ENOMEM;
		}
		o->slos = ns;
		if ((ret = cb_slo_parse(one, &o->slos[o->n_slos], err, len)))
			return ret;
		o->n_slos++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* --stages LEN:TARGET,...: the text here, the arithmetic in stages.c.
 * @start is the value before the first stage, @max the largest target. */
int cb_cli_parse_stages(struct cb_opts *o, uint64_t start, uint64_t max,
			char *err, size_t len)
{
	struct cb_stage st[CB_MAX_STAGES];
	const char *p = o->stages_spec;
	unsigned n = 0;
	int ret;

	memset(st, 0, sizeof(st));
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		char one[64], *colon;
		if (n == CB_MAX_STAGES)
			return tools_fail(err, len,
					  "--stages: more than %d stages",
					  CB_MAX_STAGES);
		if (l >= sizeof(one))
			return tools_fail(err, len,
					  "--stages: '%.*s' is too long",
					  (int)l, p);
		memcpy(one, p, l);
		one[l] = '\0';
		colon = strchr(one, ':');
		if (!colon)
			return tools_fail(
				err, len,
				"bad --stages '%s': expected LENGTH:TARGET "
				"(e.g. 30s:1k)",
				one);
		*colon = '\0';
		if (cb_parse_duration(one, &st[n].len_ns) < 0)
			return tools_fail(
				err, len,
				"bad --stages length '%s' (expected e.g. "
				"30s, 500ms, 2m; 0 for a jump)",
				one);
		if (cb_parse_count(colon + 1, &st[n].target) < 0)
			return tools_fail(
				err, len,
				"bad --stages target '%s' (expected e.g. "
				"100, 5k)",
				colon + 1);
		if (st[n].target > max)
			return tools_fail(
				err, len,
				"--stages target %s is too large (at most "
				"%llu)",
				colon + 1, (unsigned long long)max);
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	ret = cb_stages_init(&o->stages, st, n, start);
	if (ret == -ENOMEM) {
		tools_fail(err, len, "out of memory");
		return ret;
	}
	if (ret < 0)
		return tools_fail(err, len,
				  "--stages '%s' lasts no time: give a stage a "
				  "length",
				  o->stages_spec);
	return 0;
}
