/*
 * tools/coil-get/cli.c - coil-get's command line (getopt_long(3)), the
 * -i URL list and the -d body. Durations take units (tools/common/cli.h);
 * a plain number is seconds, as curl's -m and --connect-timeout.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/tls_opts.h"
#include "cli.h"

enum {
	OPT_PER_HOST = 256,
	OPT_PARALLEL,
	OPT_CONNECT_TIMEOUT,
	OPT_RETRY,
	OPT_RETRY_MAX_TIME,
	OPT_DATA_BINARY,
	OPT_CACERT,
	OPT_TLS_VERSION,
	OPT_MAX_REDIRS,
	OPT_RATE,
	OPT_JSON,
	OPT_MAX_FILESIZE,
	OPT_NO_LOCATION,
	OPT_CERT,
	OPT_KEY,
	OPT_HTTP11,
	OPT_HTTP2,
	OPT_HTTP2_PRIOR,
};

static const struct option longopts[] = {
	{"input-file", required_argument, NULL, 'i'},
	{"output-dir", required_argument, NULL, 'o'},
	{"stdout", no_argument, NULL, 'O'},
	{"parallel", required_argument, NULL, OPT_PARALLEL},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"timeout", required_argument, NULL, 'm'},
	{"max-time", required_argument, NULL, 'm'},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"retry", required_argument, NULL, OPT_RETRY},
	{"retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME},
	{"header", required_argument, NULL, 'H'},
	{"request", required_argument, NULL, 'X'},
	{"data", required_argument, NULL, 'd'},
	{"data-binary", required_argument, NULL, OPT_DATA_BINARY},
	{"user-agent", required_argument, NULL, 'A'},
	{"insecure", no_argument, NULL, 'k'},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
	{"tls-version", required_argument, NULL, OPT_TLS_VERSION},
	{"http1.1", no_argument, NULL, OPT_HTTP11},
	{"http2", no_argument, NULL, OPT_HTTP2},
	{"http2-prior-knowledge", no_argument, NULL, OPT_HTTP2_PRIOR},
	{"location", no_argument, NULL, 'L'},
	{"no-location", no_argument, NULL, OPT_NO_LOCATION},
	{"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
	{"rate", required_argument, NULL, OPT_RATE},
	{"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const char shortopts[] = ":i:o:Om:H:X:d:A:kLqhV";

const char *cg_cli_usage(void)
{
	return "Usage: coil-get [options] URL...\n"
	       "       coil-get [options] -i FILE   (one URL a line, - for "
	       "stdin)\n"
	       "Fetch many http URLs at once over one io_uring loop.\n"
	       "\n"
	       "Output (default: bodies are read and counted, not kept):\n"
	       "  -o, --output-dir DIR      write each body to DIR/<name from "
	       "the URL path>\n"
	       "                            (made unique: name, name.1, ...)\n"
	       "  -O, --stdout              write each body to stdout, whole, "
	       "as it completes\n"
	       "      --json                one JSON object per URL on stdout "
	       "(url, status,\n"
	       "                            bytes, time_ns, http_version, "
	       "attempts, error)\n"
	       "  -q, --quiet               no progress line, no summary\n"
	       "Limits:\n"
	       "      --parallel N          requests in flight (default 50)\n"
	       "      --per-host N          connections per host (default 6);"
	       " over HTTP/2,\n"
	       "                            streams on the host's one "
	       "connection\n"
	       "      --rate N[/s|/m|/h|/d] start at most N requests per "
	       "second (minute ...)\n"
	       "  -m, --timeout T           deadline of each attempt (default "
	       "none;\n"
	       "                            a plain number is seconds, as "
	       "curl's)\n"
	       "      --connect-timeout T   each connect (plain: seconds)\n"
	       "      --retry N             retry connect errors, timeouts, "
	       "502/503/504 N times,\n"
	       "                            with backoff (1 s doubling, "
	       "jittered), honouring\n"
	       "                            Retry-After\n"
	       "      --retry-max-time T    no retry after this long (plain: "
	       "seconds)\n"
	       "      --max-filesize BYTES  refuse larger bodies\n"
	       "  -L, --location            follow redirects (the default)\n"
	       "      --no-location         do not follow redirects\n"
	       "      --max-redirs N        at most N redirects (default 20)\n"
	       "Request:\n"
	       "  -X, --request METHOD      (default GET, POST with -d)\n"
	       "  -H, --header 'Name: value'\n"
	       "  -d, --data DATA|@FILE     request body (POST unless -X)\n"
	       "      --data-binary DATA|@FILE\n"
	       "  -A, --user-agent STRING\n"
	       "TLS (https URLs):\n"
	       "  -k, --insecure            do not verify the server's "
	       "certificate\n"
	       "      --cacert FILE         trust these CA certificates "
	       "(PEM)\n"
	       "      --cert FILE           client certificate (PEM), for "
	       "servers that ask\n"
	       "      --key FILE            its private key (default: in the "
	       "--cert file)\n"
	       "      --tls-version V       1.2, 1.3 or 1.2-1.3 (default: 1.3 "
	       "preferred,\n"
	       "                            1.2 offered; 1.2 only with mbedTLS "
	       "2.28)\n"
	       "Protocol (default HTTP/1.1; curl offers h2 on https by "
	       "default):\n"
	       "      --http1.1             HTTP/1.1 only\n"
	       "      --http2               https: offer h2 by ALPN, use what "
	       "the server picks;\n"
	       "                            http: HTTP/1.1 (no h2c upgrade)\n"
	       "      --http2-prior-knowledge  http: HTTP/2 without "
	       "negotiation (h2c; the\n"
	       "                            server must speak it); https: as "
	       "--http2\n"
	       "\n"
	       "  -h, --help                this text\n"
	       "  -V, --version             print the version\n"
	       "\n" TOOLS_DURATION_HELP "\n" COIL_EXIT_HELP(
		       "a URL could not be fetched or did not answer 2xx");
}

/* A plain decimal number up to @max (tools/common/parse.h). */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	return tools_parse_uint(s, 0, max, out);
}

int cg_parse_rate(const char *s, uint64_t *permits, uint64_t *period_ns)
{
	char num[32];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t v;
	uint64_t per = 1000000000ull;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	if (parse_uint(num, 1000000000ull, &v) || v == 0)
		return -EINVAL;
	if (slash) {
		const char *u = slash + 1;
		if (!strcmp(u, "s"))
			per = 1000000000ull;
		else if (!strcmp(u, "m"))
			per = 60000000000ull;
		else if (!strcmp(u, "h"))
			per = 3600000000000ull;
		else if (!strcmp(u, "d"))
			per = 86400000000000ull;
		else
			return -EINVAL;
	}
	*permits = v;
	*period_ns = per;
	return 0;
}

/* Read a whole file ("-" is stdin). Return 0 or -errno. */
static int slurp(const char *path, char **out, size_t *len)
{
	return tools_read_file(path, SIZE_MAX / 4, out, len);
}

static int add_url(struct cg_opts *o, char *u, bool owned, size_t *cap)
{
	if (o->n_urls == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		char **urls = realloc(o->urls, c * sizeof(*urls));
		bool *own;
		if (!urls)
			return -ENOMEM;
		o->urls = urls;
		own = realloc(o->url_owned, c * sizeof(*own));
		if (!own)
			return -ENOMEM;
		o->url_owned = own;
		*cap = c;
	}
	o->urls[o->n_urls] = u;
	o->url_owned[o->n_urls] = owned;
	o->n_urls++;
	return 0;
}

/* One URL a line; blank lines and lines starting with '#' skipped;
 * surrounding spaces and a CR before the LF dropped. */
static int read_list(struct cg_opts *o, const char *path, size_t *cap,
		     char *err, size_t errlen)
{
	char *buf, *u;
	const char *p, *s, *e;
	size_t len;
	int ret = slurp(path, &buf, &len);

	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s: %s",
			 strcmp(path, "-") ? path : "stdin", strerror(-ret));
		return ret;
	}
	p = buf;
	while (tools_next_line(&p, buf + len, &s, &e)) {
		u = strndup(s, (size_t)(e - s));
		if (!u || add_url(o, u, true, cap) < 0) {
			free(u);
			free(buf);
			return -ENOMEM;
		}
	}
	free(buf);
	return 0;
}

/* "Name: value" into a header, pointing into @s (argv). */
static int parse_header(const char *s, struct coil_http_header *h)
{
	const char *colon = strchr(s, ':'), *v;

	if (!colon || !tools_is_token(s, (size_t)(colon - s)))
		return -EINVAL;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return -EINVAL;
		if (*p == 0x7f)
			return -EINVAL;
	}
	h->name = s;
	h->name_len = (size_t)(colon - s);
	h->value = v;
	h->value_len = strlen(v);
	while (h->value_len &&
	       (v[h->value_len - 1] == ' ' || v[h->value_len - 1] == '\t'))
		h->value_len--;
	return 0;
}

static int has_header(const struct cg_opts *o, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < o->n_headers; i++) {
		if (o->headers[i].name_len == n &&
		    !strncasecmp(o->headers[i].name, name, n))
			return 1;
	}
	return 0;
}

int cg_cli_parse(struct cg_opts *o, int argc, char **argv, int tty, char *err,
		 size_t errlen)
{
	size_t cap = 0;
	uint64_t v;
	const char *data_arg = NULL;
	bool follow = true;
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->parallel = CG_DEFAULT_PARALLEL;
	o->per_host = CG_DEFAULT_PER_HOST;
	o->max_redirs = CG_DEFAULT_MAX_REDIRS;
	err[0] = 0;
	opterr = 0;
	optind = 0; /* full re-initialisation (getopt(3), glibc) */
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const char *a = optarg;
		switch (c) {
		case 'i':
			o->input = a;
			break;
		case 'o':
			if (!*a)
				return tools_fail(err, errlen,
						  "-o needs a directory");
			o->outdir = a;
			break;
		case 'O':
			o->to_stdout = true;
			break;
		case OPT_PARALLEL:
			if (parse_uint(a, CG_MAX_PARALLEL, &v) || !v)
				return tools_fail(
					err, errlen,
					"--parallel wants 1..%u, not '%s'",
					CG_MAX_PARALLEL, a);
			o->parallel = (unsigned)v;
			break;
		case OPT_PER_HOST:
			if (parse_uint(a, CG_MAX_PARALLEL, &v) || !v)
				return tools_fail(
					err, errlen,
					"--per-host wants 1..%u, not '%s'",
					CG_MAX_PARALLEL, a);
			o->per_host = (unsigned)v;
			break;
		case 'm':
			if (tools_get_duration("--timeout", a, TOOLS_PLAIN_S, 0,
					       CG_MAX_DURATION_NS,
					       &o->timeout_ns, err, errlen))
				return -EINVAL;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (tools_get_duration(
				    "--connect-timeout", a, TOOLS_PLAIN_S, 0,
				    CG_MAX_DURATION_NS, &o->connect_timeout_ns,
				    err, errlen))
				return -EINVAL;
			break;
		case OPT_RETRY:
			if (parse_uint(a, 1000, &v))
				return tools_fail(
					err, errlen,
					"--retry wants 0..1000, not '%s'", a);
			o->retries = (unsigned)v;
			break;
		case OPT_RETRY_MAX_TIME:
			if (tools_get_duration(
				    "--retry-max-time", a, TOOLS_PLAIN_S, 0,
				    CG_MAX_DURATION_NS, &o->retry_max_time_ns,
				    err, errlen))
				return -EINVAL;
			break;
		case OPT_MAX_FILESIZE:
			if (parse_uint(a, UINT64_MAX, &v) || !v)
				return tools_fail(
					err, errlen,
					"--max-filesize wants bytes, not "
					"'%s'",
					a);
			o->max_filesize = v;
			break;
		case 'H':
			if (o->n_headers == CG_MAX_HEADERS)
				return tools_fail(err, errlen,
						  "more than %d -H options",
						  CG_MAX_HEADERS);
			if (parse_header(a, &o->headers[o->n_headers]))
				return tools_fail(
					err, errlen,
					"-H wants 'Name: value', not '%s'", a);
			o->n_headers++;
			break;
		case 'X':
			if (strlen(a) > 31 || !tools_is_token(a, strlen(a)))
				return tools_fail(err, errlen,
						  "-X wants a method, not '%s'",
						  a);
			o->method = a;
			break;
		case 'd':
		case OPT_DATA_BINARY:
			data_arg = a;
			break;
		case 'A':
			for (const char *p = a; *p; p++) {
				if ((unsigned char)*p < 0x20 && *p != '\t')
					return tools_fail(
						err, errlen,
						"-A: control characters "
						"in the user agent");
			}
			o->user_agent = a;
			break;
		case 'k':
			o->insecure = true;
			break;
		case OPT_CACERT:
			o->cacert = a;
			break;
		case OPT_CERT:
			o->cert = a;
			break;
		case OPT_KEY:
			o->key = a;
			break;
		case OPT_TLS_VERSION:
			o->tls_versions = a;
			break;
		case 'L':
			follow = true;
			break;
		case OPT_NO_LOCATION:
			follow = false;
			break;
		case OPT_MAX_REDIRS:
			if (parse_uint(a, 1000, &v))
				return tools_fail(
					err, errlen,
					"--max-redirs wants 0..1000, not "
					"'%s'",
					a);
			o->max_redirs = (unsigned)v;
			break;
		case OPT_RATE:
			if (cg_parse_rate(a, &o->rate_permits,
					  &o->rate_period_ns))
				return tools_fail(
					err, errlen,
					"--rate wants N, N/s, N/m, N/h or "
					"N/d, not '%s'",
					a);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_HTTP11:
			o->http_version = COIL_HTTP_VERSION_1_1;
			break;
		case OPT_HTTP2:
			o->http_version = COIL_HTTP_VERSION_2;
			break;
		case OPT_HTTP2_PRIOR:
			o->http_version = COIL_HTTP_VERSION_2_PRIOR;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			o->action = CG_HELP;
			return 0;
		case 'V':
			o->action = CG_VERSION;
			return 0;
		case ':':
			return tools_fail(err, errlen,
					  "option '%s' needs a value",
					  argv[optind - 1]);
		default:
			if (optopt)
				return tools_fail(err, errlen,
						  "unknown option '-%c' (see "
						  "coil-get --help)",
						  optopt);
			return tools_fail(
				err, errlen,
				"unknown option '%s' (see coil-get --help)",
				argv[optind - 1]);
		}
	}
	if (!follow)
		o->max_redirs = 0;
	{
		struct tools_tls_opts to = {.cert = o->cert, .key = o->key};
		if ((ret = tools_tls_check(&to, err, errlen)))
			return ret;
	}
	if (o->to_stdout && o->json)
		return tools_fail(
			err, errlen,
			"-O and --json both write to stdout: pick one");
	if (o->to_stdout && o->outdir)
		return tools_fail(err, errlen, "-O and -o: pick one");
	for (int i = optind; i < argc; i++) {
		if (add_url(o, argv[i], false, &cap) < 0)
			return -ENOMEM;
	}
	if (o->input) {
		ret = read_list(o, o->input, &cap, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (!o->n_urls)
		return tools_fail(
			err, errlen,
			o->input ? "no URL in %s"
				 : "no URL given (see coil-get --help)%s",
			o->input ? o->input : "");
	if (data_arg) {
		if (data_arg[0] == '@') {
			ret = slurp(data_arg + 1, &o->data, &o->data_len);
			if (ret < 0) {
				snprintf(err, errlen, "cannot read %s: %s",
					 data_arg + 1, strerror(-ret));
				return ret;
			}
		} else {
			o->data_len = strlen(data_arg);
			o->data = malloc(o->data_len + 1);
			if (!o->data)
				return -ENOMEM;
			memcpy(o->data, data_arg, o->data_len + 1);
		}
		if (!o->method)
			o->method = "POST";
		if (!has_header(o, "content-type")) {
			struct coil_http_header *h =
				&o->headers[o->n_headers++];
			h->name = "Content-Type";
			h->name_len = 12;
			h->value = "application/x-www-form-urlencoded";
			h->value_len = strlen(h->value);
		}
	}
	if (!o->method)
		o->method = "GET";
	o->progress = tty && !o->quiet;
	return 0;
}

void cg_cli_free(struct cg_opts *o)
{
	for (size_t i = 0; i < o->n_urls; i++) {
		if (o->url_owned[i])
			free(o->urls[i]);
	}
	free(o->urls);
	free(o->url_owned);
	free(o->data);
	memset(o, 0, sizeof(*o));
}
