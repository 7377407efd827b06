/*
 * tools/coil-bench/cli.c - the command line: getopt_long(3) over wrk's and
 * wrk2's options plus coil's, one-line errors returned to main() (which
 * exits 2), never printed here. The option table and the reading of each
 * option are here; the values with a grammar (wrk's number and time
 * suffixes, headers, --urls, --slo, --stages) are cli_values.c's, what
 * the options exclude and imply once all are read is cli_check.c's
 * (cli_internal.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/cli.h"
#include "cli_internal.h"

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
			if ((ret = cb_cli_check_header(optarg, err, err_len)))
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
	return cb_cli_check(o, have_d, have_r, body_arg, err, err_len);
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
