/*
 * tools/coil-bench/cli.c - the command line: getopt_long(3) over wrk's and
 * wrk2's options plus coil's, wrk's number and time suffixes, one-line
 * errors returned to main() (which exits 2), never printed here.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/cli.h"
#include "../common/tls_opts.h"
#include "cli.h"

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

/* ---- options ----------------------------------------------------------------
 */

enum {
	OPT_TIMEOUT = 256,
	OPT_WARMUP,
	OPT_JSON,
	OPT_OUTPUT,
	OPT_HDR_LOG,
	OPT_NO_KEEPALIVE,
	OPT_HTTP2,
	OPT_HTTP11,
	OPT_MAX_STREAMS,
	OPT_HEADER_TABLE,
	OPT_URLS,
	OPT_BODY_FILE,
	OPT_BATCH_WAIT,
	OPT_SLO,
	OPT_TLS_VERSION,
	OPT_REAP_TIME,
	OPT_STAGES,
	OPT_FIND_MAX_RATE,
	OPT_STEP,
	OPT_PLOT,
	OPT_CONNECT_TIMEOUT,
	OPT_SEGMENT,
	OPT_SEGMENTS,
	OPT_START_AT,
	/* connections (route.h, tools/common/tls_opts.h) */
	OPT_CACERT,
	OPT_CERT,
	OPT_KEY,
	OPT_CONNECT_TO,
	OPT_RESOLVE,
	OPT_UNIX_SOCKET,
	OPT_TARGETS,
};

static const char short_opts[] = ":t:c:d:H:LUR:n:m:b:kP:s:vVh";

static const struct option long_opts[] = {
	{"threads", required_argument, NULL, 't'},
	{"connections", required_argument, NULL, 'c'},
	{"duration", required_argument, NULL, 'd'},
	{"header", required_argument, NULL, 'H'},
	{"latency", no_argument, NULL, 'L'},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"rate", required_argument, NULL, 'R'},
	{"requests", required_argument, NULL, 'n'},
	{"method", required_argument, NULL, 'm'},
	{"body", required_argument, NULL, 'b'},
	{"body-file", required_argument, NULL, OPT_BODY_FILE},
	{"insecure", no_argument, NULL, 'k'},
	{"tls-version", required_argument, NULL, OPT_TLS_VERSION},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"json", no_argument, NULL, OPT_JSON},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"hdr-log", required_argument, NULL, OPT_HDR_LOG},
	{"pipeline", required_argument, NULL, 'P'},
	{"no-keepalive", no_argument, NULL, OPT_NO_KEEPALIVE},
	{"http2", no_argument, NULL, OPT_HTTP2},
	{"http1.1", no_argument, NULL, OPT_HTTP11},
	{"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
	{"header-table-size", required_argument, NULL, OPT_HEADER_TABLE},
	{"batch-wait", required_argument, NULL, OPT_BATCH_WAIT},
	{"reap-time", no_argument, NULL, OPT_REAP_TIME},
	{"urls", required_argument, NULL, OPT_URLS},
	{"slo", required_argument, NULL, OPT_SLO},
	{"script", required_argument, NULL, 's'},
	{"stages", required_argument, NULL, OPT_STAGES},
	{"find-max-rate", no_argument, NULL, OPT_FIND_MAX_RATE},
	{"step", required_argument, NULL, OPT_STEP},
	{"plot", required_argument, NULL, OPT_PLOT},
	{"segment", required_argument, NULL, OPT_SEGMENT},
	{"segments", required_argument, NULL, OPT_SEGMENTS},
	{"start-at", required_argument, NULL, OPT_START_AT},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
	{"connect-to", required_argument, NULL, OPT_CONNECT_TO},
	{"resolve", required_argument, NULL, OPT_RESOLVE},
	{"unix-socket", required_argument, NULL, OPT_UNIX_SOCKET},
	{"targets", required_argument, NULL, OPT_TARGETS},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* How to name option @val in a message: "-t" or "--timeout". */
static const char *opt_name(int val, char *buf, size_t len)
{
	if (val > 0 && val < 256) {
		snprintf(buf, len, "-%c", val);
		return buf;
	}
	for (const struct option *o = long_opts; o->name; o++) {
		if (o->val == val) {
			snprintf(buf, len, "--%s", o->name);
			return buf;
		}
	}
	snprintf(buf, len, "an option");
	return buf;
}

static const char *long_name(int val)
{
	for (const struct option *o = long_opts; o->name; o++) {
		if (o->val == val)
			return o->name;
	}
	return "?";
}

static int get_count(const char *arg, int val, uint64_t min, uint64_t max,
		     uint64_t *out, char *err, size_t len)
{
	char nb[32];
	uint64_t n;
	if (cb_parse_count(arg, &n) < 0)
		return tools_fail(
			err, len,
			"bad number for %s: '%s' (expected e.g. 4, 10k, "
			"1.5M)",
			opt_name(val, nb, sizeof(nb)), arg);
	if (n < min)
		return tools_fail(err, len, "%s must be at least %llu",
				  opt_name(val, nb, sizeof(nb)),
				  (unsigned long long)min);
	if (n > max)
		return tools_fail(err, len, "%s %s is too large (at most %llu)",
				  opt_name(val, nb, sizeof(nb)), arg,
				  (unsigned long long)max);
	*out = n;
	return 0;
}

/* A duration option (tools/common/cli.h); a plain number is seconds, as
 * in wrk, but for --batch-wait: microseconds, as in coil-serve. */
static int get_duration(const char *arg, int val, int zero_ok, uint64_t *out,
			char *err, size_t len)
{
	char nb[32];
	uint64_t ns = 0;
	int ret = tools_get_duration(opt_name(val, nb, sizeof(nb)), arg,
				     val == OPT_BATCH_WAIT ? TOOLS_PLAIN_US
							   : TOOLS_PLAIN_S,
				     0, UINT64_MAX, &ns, err, len);
	if (ret < 0)
		return ret;
	if (!ns && !zero_ok)
		return tools_fail(err, len, "%s must be more than 0",
				  opt_name(val, nb, sizeof(nb)));
	*out = ns;
	return 0;
}

/* "Name: value": a token, a colon, a value of visible characters, spaces
 * and tabs (RFC 9110 section 5.5: no CR, LF or other control character) */
static int check_header(const char *h, char *err, size_t len)
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

static int add_url(struct cb_opts *o, const char *u, size_t n)
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
static int read_urls(struct cb_opts *o, const char *path, char *err, size_t len)
{
	char *text, *p;
	size_t n, before = o->n_urls;
	int ret = tools_read_file(path, 64u << 20, &text, &n);
	if (ret < 0) {
		tools_fail(err, len, "cannot read --urls '%s': %s", path,
			   ret == -EFBIG ? "larger than 64 MiB"
					 : strerror(-ret));
		return ret;
	}
	for (p = text; p < text + n;) {
		char *eol = memchr(p, '\n', (size_t)(text + n - p));
		char *end = eol ? eol : text + n, *b = p, *e = end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b &&
		       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (e > b && *b != '#') {
			if (memchr(b, '\0', (size_t)(e - b))) {
				free(text);
				return tools_fail(err, len,
						  "--urls '%s' has a NUL byte",
						  path);
			}
			ret = add_url(o, b, (size_t)(e - b));
			if (ret == -E2BIG) {
				free(text);
				return tools_fail(
					err, len,
					"--urls '%s' has more than %u URLs",
					path, CB_MAX_URLS);
			}
			if (ret < 0) {
				free(text);
				tools_fail(err, len, "out of memory");
				return ret;
			}
		}
		p = eol ? eol + 1 : text + n;
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
static int parse_stages(struct cb_opts *o, uint64_t start, uint64_t max,
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

/* ---- connections: TLS files, where connections go, --targets ---------- */

static int conn_option(struct cb_opts *o, int c, const char *arg, char *err,
		       size_t len)
{
	switch (c) {
	case OPT_CACERT:
		o->cacert = arg;
		return 0;
	case OPT_CERT:
		o->cert = arg;
		return 0;
	case OPT_KEY:
		o->key = arg;
		return 0;
	case OPT_CONNECT_TO:
		return cb_route_add_connect_to(&o->routes, arg, err, len);
	case OPT_RESOLVE:
		return cb_route_add_resolve(&o->routes, arg, err, len);
	case OPT_UNIX_SOCKET:
		return cb_route_set_unix(&o->routes, arg, err, len);
	default: /* OPT_TARGETS */
		o->targets_file = arg;
		return 0;
	}
}

/* What the connection options exclude (the files are read later: the
 * TLS ones by main, the --targets file by targets.c). */
static int check_conn_options(const struct cb_opts *o, char *err, size_t len)
{
	struct tools_tls_opts t = {.cert = o->cert, .key = o->key};
	int ret;
	if ((ret = tools_tls_check(&t, err, len)) ||
	    (ret = cb_route_check(&o->routes, err, len)))
		return ret;
	if (!o->targets_file)
		return 0;
	if (o->url || o->urls_file)
		return tools_fail(err, len,
				  "--targets gives the URLs: leave out the URL "
				  "and --urls");
	if (o->script)
		return tools_fail(err, len,
				  "-s and --targets exclude each other: the "
				  "script makes the requests");
	if (o->method || o->body_file)
		return tools_fail(err, len,
				  "--targets gives each request's method and "
				  "body: leave out -m and --body-file");
	if (o->http2)
		return tools_fail(err, len,
				  "--targets runs over HTTP/1.1 only: leave "
				  "out --http2");
	return 0;
}

/* What --stages and --find-max-rate change and exclude. */
static int check_modes(struct cb_opts *o, bool have_d, bool have_r, char *err,
		       size_t len)
{
	int ret;
	if (o->find_max_rate) {
		if (!o->n_slos)
			return tools_fail(
				err, len,
				"--find-max-rate needs at least one --slo "
				"(the conditions each rate must meet)");
		if (o->stages_spec)
			return tools_fail(
				err, len,
				"--find-max-rate and --stages exclude each "
				"other");
		if (have_d || o->requests)
			return tools_fail(
				err, len,
				"--find-max-rate runs steps of --step "
				"each: -d and -n do not apply");
		if (o->script)
			return tools_fail(
				err, len,
				"--find-max-rate runs its steps without "
				"-s scripts");
		if (o->plot || o->hdr_log)
			return tools_fail(
				err, len,
				"--find-max-rate draws no --plot and "
				"writes no --hdr-log: run the rate it "
				"finds with them");
		if (!o->step_ns)
			o->step_ns = CB_DEFAULT_STEP_NS;
		if (!o->rate)
			o->rate = CB_DEFAULT_SEARCH_RATE;
		if (!o->warmup_ns)
			o->warmup_ns = o->step_ns / 5;
		o->duration_ns = o->step_ns;
		return 0;
	}
	if (o->step_ns)
		return tools_fail(err, len, "--step needs --find-max-rate");
	if (!o->stages_spec)
		return 0;
	if (have_d)
		return tools_fail(
			err, len,
			"--stages sets the run's length: leave out -d");
	if (o->warmup_ns)
		return tools_fail(
			err, len,
			"--stages and --warmup exclude each other (make "
			"the first stage the warm-up)");
	if (have_r) {
		ret = parse_stages(o, o->rate, CB_MAX_RATE, err, len);
		if (ret)
			return ret;
		if (!o->stages.peak)
			return tools_fail(
				err, len,
				"--stages never sends: every rate is 0");
		o->rate = o->stages.peak;
	} else {
		ret = parse_stages(o, o->connections, CB_MAX_CONNECTIONS, err,
				   len);
		if (ret)
			return ret;
		if (o->stages.peak > o->connections)
			o->connections = (uint32_t)o->stages.peak;
	}
	o->duration_ns = o->stages.total_ns;
	return 0;
}

int cb_cli_parse(struct cb_opts *o, int argc, char **argv, char *err,
		 size_t err_len)
{
	uint64_t v;
	bool have_d = false, have_r = false;
	const char *body_arg = NULL;
	char nb[32];
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->threads = CB_DEFAULT_THREADS;
	o->connections = CB_DEFAULT_CONNECTIONS;
	o->duration_ns = CB_DEFAULT_DURATION_NS;
	o->timeout_ns = CB_DEFAULT_TIMEOUT_NS;
	o->pipeline = 1;
	o->keepalive = true;
	o->batch_wait_ns = CB_DEFAULT_BATCH_WAIT_NS;
	if (err && err_len)
		err[0] = '\0';

	optind = 0; /* GNU: a full re-initialisation of getopt's state */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case 't':
			if ((ret = get_count(optarg, c, 1, CB_MAX_THREADS, &v,
					     err, err_len)))
				return ret;
			o->threads = (uint32_t)v;
			break;
		case 'c':
			if ((ret = get_count(optarg, c, 1, CB_MAX_CONNECTIONS,
					     &v, err, err_len)))
				return ret;
			o->connections = (uint32_t)v;
			break;
		case 'd':
			if ((ret = get_duration(optarg, c, 0, &o->duration_ns,
						err, err_len)))
				return ret;
			have_d = true;
			break;
		case OPT_TIMEOUT:
			if ((ret = get_duration(optarg, c, 0, &o->timeout_ns,
						err, err_len)))
				return ret;
			break;
		case OPT_CONNECT_TIMEOUT:
			if ((ret = get_duration(optarg, c, 0,
						&o->connect_timeout_ns, err,
						err_len)))
				return ret;
			break;
		case OPT_WARMUP:
			if ((ret = get_duration(optarg, c, 1, &o->warmup_ns,
						err, err_len)))
				return ret;
			break;
		case 'R':
			if ((ret = get_count(optarg, c, 0, CB_MAX_RATE,
					     &o->rate, err, err_len)))
				return ret;
			have_r = true;
			break;
		case 'n':
			if ((ret = get_count(optarg, c, 1, UINT64_MAX,
					     &o->requests, err, err_len)))
				return ret;
			break;
		case 'P':
			if ((ret = get_count(optarg, c, 1, CB_MAX_PIPELINE, &v,
					     err, err_len)))
				return ret;
			o->pipeline = (uint32_t)v;
			break;
		case 'H': {
			const char **nh;
			if ((ret = check_header(optarg, err, err_len)))
				return ret;
			nh = realloc(o->headers,
				     (o->n_headers + 1) * sizeof(*nh));
			if (!nh) {
				tools_fail(err, err_len, "out of memory");
				return -ENOMEM;
			}
			o->headers = nh;
			o->headers[o->n_headers++] = optarg;
			break;
		}
		case 'm':
			if (!tools_is_token(optarg, strlen(optarg)))
				return tools_fail(
					err, err_len,
					"bad method for -m: '%s' (letters, "
					"digits and !#$%%&'*+-.^_`|~ only)",
					optarg);
			o->method = optarg;
			break;
		case 'b':
			body_arg = optarg;
			break;
		case OPT_BODY_FILE:
			o->body_file = optarg;
			break;
		case 'L':
			o->latency = true;
			break;
		case 'U':
			o->uncorrected = true;
			break;
		case 'k':
			o->insecure = true;
			break;
		case OPT_TLS_VERSION:
			o->tls_versions = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_OUTPUT:
			o->output = optarg;
			break;
		case OPT_HDR_LOG:
			o->hdr_log = optarg;
			break;
		case OPT_BATCH_WAIT:
			if ((ret = get_duration(optarg, c, 1, &o->batch_wait_ns,
						err, err_len)))
				return ret;
			if (o->batch_wait_ns > CB_MAX_BATCH_WAIT_NS)
				return tools_fail(
					err, err_len,
					"--batch-wait %s is too long (at "
					"most 1s)",
					optarg);
			o->batch_wait_set = true;
			break;
		case OPT_REAP_TIME:
			o->reap_time = true;
			break;
		case OPT_NO_KEEPALIVE:
			o->keepalive = false;
			break;
		case OPT_HTTP2:
			o->http2 = true;
			break;
		case OPT_HTTP11:
			o->http2 = false;
			break;
		case OPT_MAX_STREAMS:
			if ((ret = get_count(optarg, c, 1, CB_MAX_PIPELINE, &v,
					     err, err_len)))
				return ret;
			o->max_streams = (uint32_t)v;
			break;
		case OPT_HEADER_TABLE:
			if ((ret = get_count(optarg, c, 0, 1u << 20, &v, err,
					     err_len)))
				return ret;
			o->header_table_bytes = (uint32_t)v;
			o->header_table_set = true;
			break;
		case OPT_URLS:
			o->urls_file = optarg;
			break;
		case OPT_SLO:
			if ((ret = cb_cli_add_slos(o, optarg, err, err_len)))
				return ret;
			break;
		case 's':
			o->script = optarg;
			break;
		case OPT_STAGES:
			o->stages_spec = optarg;
			break;
		case OPT_FIND_MAX_RATE:
			o->find_max_rate = true;
			break;
		case OPT_STEP:
			if ((ret = get_duration(optarg, c, 0, &o->step_ns, err,
						err_len)))
				return ret;
			break;
		case OPT_PLOT:
			o->plot = optarg;
			break;
		case OPT_SEGMENT:
			if ((ret = cb_segment_parse(&o->seg, optarg, err,
						    err_len)))
				return ret;
			break;
		case OPT_SEGMENTS:
			if ((ret = get_count(optarg, c, 1, CB_MAX_SEGMENTS, &v,
					     err, err_len)))
				return ret;
			o->seg.source = CB_SEG_K8S;
			o->seg.count = (uint32_t)v;
			break;
		case OPT_START_AT:
			if ((ret = cb_parse_start_at(optarg, cb_realtime_ns(),
						     &o->start_at_ns, err,
						     err_len)))
				return ret;
			break;
		case OPT_CACERT:
		case OPT_CERT:
		case OPT_KEY:
		case OPT_CONNECT_TO:
		case OPT_RESOLVE:
		case OPT_UNIX_SOCKET:
		case OPT_TARGETS:
			if ((ret = conn_option(o, c, optarg, err, err_len)))
				return ret;
			break;
		case 'v': /* wrk's spelling */
		case 'V':
			o->action = CB_VERSION;
			return 0;
		case 'h':
			o->action = CB_HELP;
			return 0;
		case ':':
			return tools_fail(err, err_len, "%s needs a value",
					  opt_name(optopt, nb, sizeof(nb)));
		case '?':
		default:
			if (optopt > 0 && optopt < 256 &&
			    !strchr(short_opts + 1, optopt))
				return tools_fail(
					err, err_len,
					"unknown option '-%c' (see --help)",
					optopt);
			if (optopt > 0)
				return tools_fail(
					err, err_len,
					"option '--%s' takes no value",
					long_name(optopt));
			return tools_fail(err, err_len,
					  "unknown option '%s' (see --help)",
					  argv[optind - 1]);
		}
	}

	if (optind < argc)
		o->url = argv[optind++];
	if (optind < argc && o->script) {
		/* wrk: what follows the URL (after "--") is init()'s args */
		o->script_args = (const char *const *)&argv[optind];
		o->n_script_args = (size_t)(argc - optind);
		optind = argc;
	}
	if (optind < argc)
		return tools_fail(
			err, err_len,
			"unexpected argument '%s' (one URL; --urls FILE "
			"gives several)",
			argv[optind]);
	if ((ret = check_conn_options(o, err, err_len)))
		return ret;
	if (!o->url && !o->urls_file && !o->targets_file)
		return tools_fail(
			err, err_len,
			"missing URL (usage: coil-bench [options] URL; "
			"see --help)");
	if (have_r && !o->rate && !o->stages_spec)
		return tools_fail(
			err, err_len,
			"-R must be at least 1 (0 only as the start of "
			"--stages)");
	if ((ret = check_modes(o, have_d, have_r, err, err_len)))
		return ret;
	if ((ret = cb_segment_apply(o, err, err_len)))
		return ret;
	if (o->connections < o->threads)
		return tools_fail(
			err, err_len,
			"-c %u is less than -t %u: every thread needs at "
			"least one connection",
			o->connections, o->threads);
	if (o->rate && o->rate < o->threads)
		return tools_fail(
			err, err_len,
			"-R %llu is less than -t %u: every thread needs at "
			"least 1 request/s",
			(unsigned long long)o->rate, o->threads);
	if (o->uncorrected && !o->rate)
		return tools_fail(
			err, err_len,
			"-U needs -R: without a rate there is no intended "
			"send time, so nothing to correct");
	if (o->header_table_set && !o->http2)
		return tools_fail(err, err_len,
				  "--header-table-size needs --http2");
	if (o->max_streams && !o->http2)
		return tools_fail(err, err_len,
				  "--max-streams needs --http2 (HTTP/1.1 "
				  "pipelines with -P)");
	if (o->http2 && o->pipeline > 1)
		return tools_fail(err, err_len,
				  "-P is HTTP/1.1's: with --http2, "
				  "--max-streams N sets the streams in flight");
	if (o->http2 && !o->keepalive)
		return tools_fail(err, err_len,
				  "--http2 keeps its connections: "
				  "--no-keepalive is HTTP/1.1's");
	if (o->http2 && !o->max_streams)
		o->max_streams = 1; /* h2load's -m default */
	if (o->http2 && o->max_streams > 1 && !o->batch_wait_set)
		o->batch_wait_ns = CB_H2_BATCH_WAIT_NS;
	else if (!o->batch_wait_set &&
		 o->connections / o->threads >= CB_WIDE_CONNS)
		o->batch_wait_ns = CB_WIDE_BATCH_WAIT_NS;
	if (o->pipeline > 1 && !o->keepalive)
		return tools_fail(
			err, err_len,
			"-P %u needs keep-alive: --no-keepalive sends one "
			"request per connection",
			o->pipeline);
	if (body_arg && o->body_file)
		return tools_fail(err, err_len,
				  "-b and --body-file exclude each other");
	if (body_arg && o->targets_file)
		return tools_fail(err, err_len,
				  "--targets gives each request's body "
				  "('@file' lines): leave out -b");
	if (o->script && !o->url)
		return tools_fail(
			err, err_len,
			"-s needs the URL: the script's requests go to "
			"its host (--urls is not for scripts)");
	if (o->script && o->urls_file)
		return tools_fail(
			err, err_len,
			"-s and --urls exclude each other: the script "
			"makes the requests");
	if (o->requests && !have_d && !o->stages.n && !o->find_max_rate)
		o->duration_ns = 0; /* -n alone: until N requests are done */

	if (body_arg) {
		o->body_len = strlen(body_arg);
		o->body = strdup(body_arg);
		if (!o->body) {
			tools_fail(err, err_len, "out of memory");
			return -ENOMEM;
		}
	} else if (o->body_file) {
		ret = tools_read_file(o->body_file, CB_MAX_BODY_BYTES, &o->body,
				      &o->body_len);
		if (ret < 0) {
			tools_fail(err, err_len,
				   "cannot read --body-file '%s': %s",
				   o->body_file,
				   ret == -EFBIG ? "larger than 64 MiB"
						 : strerror(-ret));
			return ret;
		}
	}
	if (!o->method)
		o->method = o->body ? "POST" : "GET";

	if (o->url && (ret = add_url(o, o->url, strlen(o->url))) < 0) {
		tools_fail(err, err_len, "out of memory");
		return ret;
	}
	if (o->urls_file && (ret = read_urls(o, o->urls_file, err, err_len)))
		return ret;
	return 0;
}

void cb_cli_free(struct cb_opts *o)
{
	for (size_t i = 0; i < o->n_urls; i++)
		free(o->urls[i]);
	free(o->urls);
	free(o->headers);
	free(o->body);
	free(o->slos);
	cb_stages_free(&o->stages);
	cb_routes_free(&o->routes);
	memset(o, 0, sizeof(*o));
}

void cb_cli_usage(FILE *f)
{
	fputs("Usage: coil-bench [options] URL\n"
	      "       coil-bench plot RESULT.json... -o FILE.svg [--title "
	      "T]\n"
	      "  Load:\n"
	      "    -t, --threads N       generator threads, one io_uring loop "
	      "each (default 2)\n"
	      "    -c, --connections N   connections kept open, over all "
	      "threads (default 10)\n"
	      "    -d, --duration T      the sending window, from when the "
	      "connections are up\n"
	      "                          (default 10s)\n"
	      "    -R, --rate N          total requests/s: open model, latency "
	      "measured from\n"
	      "                          the intended send time (wrk2); "
	      "default: closed model\n"
	      "    -n, --requests N      stop after N requests\n"
	      "        --warmup T        send load for T before measuring\n"
	      "        --timeout T       per-request timeout (default 2s)\n"
	      "        --connect-timeout T  each connect (default: "
	      "--timeout)\n"
	      "    -P, --pipeline N      requests in flight per connection "
	      "(default 1)\n"
	      "        --no-keepalive    a new connection for every request\n"
	      "        --http2           HTTP/2: ALPN h2 over https, prior "
	      "knowledge (h2c)\n"
	      "                          over http (h2load's default)\n"
	      "        --http1.1         HTTP/1.1 (the default)\n"
	      "        --max-streams N   --http2: streams in flight per "
	      "connection, also\n"
	      "                          bounded by the server's "
	      "MAX_CONCURRENT_STREAMS\n"
	      "                          (h2load's -m; default 1)\n"
	      "        --header-table-size N  --http2: the HPACK table for "
	      "the server's\n"
	      "                          fields, bytes (h2load's; default "
	      "4096; 0: none)\n"
	      "        --batch-wait T    per loop wait, gather completions for "
	      "up to T (a plain\n"
	      "                          number is microseconds): fewer\n"
	      "                          system calls; responses keep their "
	      "kernel receive\n"
	      "                          times (io_uring min-wait, Linux "
	      "6.12; default 100us,\n"
	      "                          500us with --http2 --max-streams "
	      "above 1,\n"
	      "                          200us with 50 or more connections "
	      "per thread,\n"
	      "                          off without receive timestamps; 0: "
	      "off); with -R the\n"
	      "                          default waits from one pacer wake "
	      "to the next\n"
	      "        --reap-time       time responses when reaped, not by "
	      "the kernel's\n"
	      "                          receive timestamps (a batched wait "
	      "then adds up to T)\n"
	      "  Request:\n"
	      "    -m, --method M        request method (default GET; POST "
	      "with a body)\n"
	      "    -H, --header H        add header 'Name: value' "
	      "(repeatable)\n"
	      "    -b, --body DATA       request body\n"
	      "        --body-file FILE  request body from FILE\n"
	      "        --urls FILE       URLs, one a line, sent round robin "
	      "(URL optional)\n"
	      "    -k, --insecure        do not verify TLS certificates\n"
	      "    -s, --script FILE     wrk's Lua scripting API (wrk's "
	      "SCRIPTING); "
	      "arguments\n"
	      "                          after the URL and '--' go to "
	      "init(args). "
	      "delay() is\n"
	      "                          called in the closed model only: with "
	      "-R the schedule\n"
	      "                          rules, as in wrk2\n"
	      "        --tls-version V   1.2, 1.3 or a range 1.2-1.3 (default: "
	      "1.3 preferred,\n"
	      "                          1.2 offered; with mbedTLS 2.28: 1.2 "
	      "only)\n"
	      "  Connections (curl's spellings):\n"
	      "        --cacert FILE     trust the CA certificates in FILE "
	      "(PEM), not the\n"
	      "                          system's\n"
	      "        --cert FILE       client certificate (PEM), for "
	      "servers that ask for one\n"
	      "        --key FILE        its private key (default: in the "
	      "--cert file)\n"
	      "        --connect-to H1:P1:H2:P2  requests for H1:P1 connect "
	      "to H2:P2 (empty\n"
	      "                          fields: any / the URL's own)\n"
	      "        --resolve H:P:ADDR[,ADDR]  H:P resolves to ADDR "
	      "(H may be '*')\n"
	      "        --unix-socket PATH  connect to this Unix stream "
	      "socket\n"
	      "                          (Host header and TLS name stay "
	      "the URL's host)\n"
	      "        --targets FILE    vegeta's targets: 'METHOD URL', "
	      "header lines,\n"
	      "                          '@body-file', a blank line between; "
	      "several hosts,\n"
	      "                          -c dealt by their targets (see "
	      "README)\n"
	      "  Output:\n"
	      "    -L, --latency         print the latency distribution\n"
	      "    -U                    print the uncorrected latency too "
	      "(with -R)\n"
	      "        --json            the result as one JSON object\n"
	      "        --output FILE     write the result to FILE, not stdout\n"
	      "        --hdr-log FILE    HdrHistogram interval log of the "
	      "latencies\n"
	      "  Verdicts (CI):\n"
	      "        --slo EXPR        a condition on the result, "
	      "repeatable or comma-\n"
	      "                          separated: p99<50ms, p99.9<=200ms, "
	      "max<1s, mean<10ms,\n"
	      "                          errors<0.1% (or a count), "
	      "rps>=5000; latency is the\n"
	      "                          corrected one with -R; any failure "
	      "exits 1\n"
	      "  Load over time and capacity:\n"
	      "        --stages SPEC     LEN:TARGET,... e.g. "
	      "30s:1k,60s:5k,30s:5k,10s:0: the load\n"
	      "                          moves linearly to each target over "
	      "its stage (0s: a\n"
	      "                          jump). With -R (0 allowed): "
	      "requests/s from -R; without:\n"
	      "                          sending connections from -c. Sets "
	      "the length (no -d)\n"
	      "        --find-max-rate   the highest -R meeting every --slo: "
	      "a bracket, then a\n"
	      "                          bisection to within 5%, from -R "
	      "(default 1000)\n"
	      "        --step T          each search step: T measured after "
	      "--warmup (default\n"
	      "                          10s after step/5)\n"

	      "        --plot FILE.svg   latency by percentile and rps/p99 "
	      "per second, as SVG;\n"
	      "                          `coil-bench plot A.json B.json -o "
	      "F.svg` overlays runs\n"
	      "  One test over N machines (Slurm, Kubernetes; README):\n"
	      "        --segment I/N     run share I of N (1..N): connections, "
	      "-n, --stages\n"
	      "                          and URLs split as one generator "
	      "would send them;\n"
	      "                          auto: I, N from SLURM_PROCID, "
	      "SLURM_NTASKS (srun)\n"
	      "        --segments N      N shares, I from JOB_COMPLETION_INDEX "
	      "(Indexed Job)\n"
	      "        --start-at T      connect, then start at UNIX time T "
	      "(fractional s)\n"
	      "    coil-bench merge RESULT.json...|- [-L] [-U] [--slo E] "
	      "[--json] [--plot F]\n"
	      "                          one exact report from the workers' "
	      "--json results\n"
	      "    -V, -v, --version     print the version\n"
	      "    -h, --help            print this help\n"
	      "  Numbers take SI suffixes (10k, 1.5M, 1G); times take ns, us, "
	      "ms, s, m, h\n"
	      "  (a plain number is seconds, as in wrk; --batch-wait: "
	      "microseconds).\n"
	      "  Ctrl-C ends the run early: no new request, those in flight "
	      "awaited,\n"
	      "  the report printed.\n"
	      "\n" COIL_EXIT_HELP(
		      "the work failed: no request succeeded, or an --slo "
		      "condition failed"),
	      f);
}

void cb_cli_version(FILE *f)
{
	tools_print_version(f, "coil-bench");
}
