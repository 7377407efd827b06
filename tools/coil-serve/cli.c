/*
 * tools/coil-serve/cli.c - the command line: getopt_long(3), numbers
 * checked whole, durations with units (tools/common/cli.h: a plain
 * number is milliseconds for the timeouts, microseconds for
 * --batch-wait), one line per error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cli.h"
#include "cli.h"

void serve_cli_usage(FILE *f)
{
	fputs("Usage: coil-serve [options]\n"
	      "A small HTTP/1.1 server on io_uring (libcoil).\n"
	      "\n"
	      "  -p, --port PORT          TCP port, 0 picks a free one (8080)\n"
	      "  -b, --bind ADDR          IPv4 or IPv6 address (127.0.0.1)\n"
	      "  -t, --threads N          loops/threads sharing the port "
	      "(CPUs)\n"
	      "      --root DIR           serve the files under DIR (as nginx: "
	      "index.html,\n"
	      "                           301 to dir/, ETag, 304, Range; "
	      "GET and HEAD)\n"
	      "      --autoindex          list a directory without "
	      "index.html (HTML)\n"
	      "      --cert FILE          TLS certificate chain (PEM), with "
	      "--key\n"
	      "      --key FILE           TLS private key (PEM), with --cert\n"
	      "      --tls-version V      1.2, 1.3 or 1.2-1.3 (default: 1.3 "
	      "preferred, 1.2\n"
	      "                           offered; 1.2 only with mbedTLS "
	      "2.28)\n"
	      "      --tls-no-resume      no session tickets or cache: full "
	      "handshakes\n"
	      "      --http2              HTTP/2 too: ALPN h2 with --cert, "
	      "else h2c with\n"
	      "                           prior knowledge (RFC 9113 3.3)\n"
	      "      --access-log FILE    append one line per request to "
	      "FILE, in nginx's\n"
	      "                           \"combined\" format\n"
	      "      --max-body BYTES     largest request body, k/m/g "
	      "suffixes (1g)\n"
	      "      --max-requests N     requests per connection (no "
	      "limit)\n"
	      "      --max-conns N        open connections per thread "
	      "(16384)\n"
	      "      --header-timeout T   time for a request head (10s; a "
	      "plain number is ms)\n"
	      "      --idle-timeout T     keep-alive idle time (60s; plain: "
	      "ms)\n"
	      "      --drain T            graceful-shutdown time (5s; plain: "
	      "ms)\n"
	      "      --batch-wait T       while busy, gather completions up "
	      "to T per loop\n"
	      "                           turn (kernel 6.12 min-wait; 30us; "
	      "0: off; a plain\n"
	      "                           number is microseconds)\n"
	      "      --sendfile-min BYTES file bodies of at least BYTES go by "
	      "sendfile(2),\n"
	      "                           k/m/g suffixes (16k; off: never)\n"
	      "      --file-cache on|off  keep open files, their statx and "
	      "files' contents\n"
	      "                           up to 64k until inotify reports "
	      "a change (on)\n"
	      "      --file-cache-mem BYTES  memory per thread for those "
	      "contents and for\n"
	      "                           larger files pinned (mmap+mlock) "
	      "(16m; 0: none)\n"
	      "      --file-send copy|sendfile  cached bodies from memory, or "
	      "by sendfile(2)\n"
	      "                           from pinned pages (copy)\n"
	      "      --recv-bufs N        provided receive buffers per loop, "
	      "shared by the\n"
	      "                           reads of every connection (16; "
	      "rounded up to a\n"
	      "                           power of two; 1-32768)\n"
	      "      --recv-buf-size BYTES  each, k suffix (16k; 1k-65535)\n"
	      "      --stats              print counters on stderr at exit\n"
	      "  -V, --version            print the version\n"
	      "  -h, --help               this text\n"
	      "\n" TOOLS_DURATION_HELP "\n"
	      "Built-in endpoints: /_coil/  (13 bytes: Hello, World!), "
	      "/_coil/bytes/N,\n"
	      "/_coil/delay/MS, /_coil/status/CODE, /_coil/echo; without "
	      "--root also at\n"
	      "/, /bytes/N, /delay/MS, /status/CODE, /echo. With --root, "
	      "other paths are\n"
	      "files, and / is DIR/index.html when there is one (else the "
	      "listing with\n"
	      "--autoindex, else the built-in page).\n"
	      "At start it prints one line to stdout:\n"
	      "  listening http://ADDR:PORT threads N pid P\n"
	      "SIGINT/SIGTERM: stop accepting, finish requests (--drain), "
	      "exit 0.\n"
	      "\n" COIL_EXIT_HELP(
		      "not used: coil-serve runs until SIGINT/SIGTERM"),
	      f);
}

enum {
	O_ROOT = 256,
	O_AUTOINDEX,
	O_CERT,
	O_KEY,
	O_TLS_VERSION,
	O_TLS_NO_RESUME,
	O_ACCESS_LOG,
	O_MAX_BODY,
	O_MAX_REQUESTS,
	O_MAX_CONNS,
	O_HEADER_TIMEOUT,
	O_IDLE_TIMEOUT,
	O_DRAIN,
	O_BATCH_WAIT,
	O_SENDFILE_MIN,
	O_FILE_CACHE,
	O_FILE_CACHE_MEM,
	O_FILE_SEND,
	O_STATS,
	O_HTTP2,
	O_RECV_BUFS,
	O_RECV_BUF_SIZE,
};

static const struct option long_opts[] = {
	{"port", required_argument, NULL, 'p'},
	{"bind", required_argument, NULL, 'b'},
	{"threads", required_argument, NULL, 't'},
	{"root", required_argument, NULL, O_ROOT},
	{"autoindex", no_argument, NULL, O_AUTOINDEX},
	{"cert", required_argument, NULL, O_CERT},
	{"key", required_argument, NULL, O_KEY},
	{"tls-version", required_argument, NULL, O_TLS_VERSION},
	{"tls-no-resume", no_argument, NULL, O_TLS_NO_RESUME},
	{"access-log", required_argument, NULL, O_ACCESS_LOG},
	{"max-body", required_argument, NULL, O_MAX_BODY},
	{"max-requests", required_argument, NULL, O_MAX_REQUESTS},
	{"max-conns", required_argument, NULL, O_MAX_CONNS},
	{"header-timeout", required_argument, NULL, O_HEADER_TIMEOUT},
	{"idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT},
	{"drain", required_argument, NULL, O_DRAIN},
	{"batch-wait", required_argument, NULL, O_BATCH_WAIT},
	{"sendfile-min", required_argument, NULL, O_SENDFILE_MIN},
	{"file-cache", required_argument, NULL, O_FILE_CACHE},
	{"file-cache-mem", required_argument, NULL, O_FILE_CACHE_MEM},
	{"file-send", required_argument, NULL, O_FILE_SEND},
	{"recv-bufs", required_argument, NULL, O_RECV_BUFS},
	{"recv-buf-size", required_argument, NULL, O_RECV_BUF_SIZE},
	{"stats", no_argument, NULL, O_STATS},
	{"http2", no_argument, NULL, O_HTTP2},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* "--port" for 'p', "--max-body" for O_MAX_BODY ... */
static const char *optname(int c)
{
	static __thread char buf[40];
	for (const struct option *o = long_opts; o->name; o++) {
		if (o->val == c) {
			snprintf(buf, sizeof(buf), "--%s", o->name);
			return buf;
		}
	}
	return "?";
}

static const struct tools_unit binary_units[] = {
	{"k", 1ull << 10},
	{"m", 1ull << 20},
	{"g", 1ull << 30},
	{NULL, 0},
};

/* A whole decimal number in [lo, hi], with an optional k/m/g (1024^n)
 * suffix when @suffix (tools/common/parse.h). */
static int number(const char *s, uint64_t lo, uint64_t hi, int suffix,
		  uint64_t *out)
{
	uint64_t v;
	int r = suffix ? tools_parse_scaled(s, binary_units, 1, 1, &v)
		       : tools_parse_uint(s, 0, UINT64_MAX, &v);

	if (r < 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The duration options (tools/common/cli.h): a plain number is
 * milliseconds for the timeouts and microseconds for --batch-wait, as
 * these options always took; at most a day (--batch-wait: 1 s). */
static int duration(int c, const char *a, struct serve_cfg *cfg, char *err,
		    size_t errlen)
{
	const uint64_t day = 86400 * TOOLS_PLAIN_S;

	switch (c) {
	case O_HEADER_TIMEOUT:
		return tools_get_duration("--header-timeout", a, TOOLS_PLAIN_MS,
					  TOOLS_PLAIN_MS, day,
					  &cfg->header_timeout_ns, err, errlen);
	case O_IDLE_TIMEOUT:
		return tools_get_duration("--idle-timeout", a, TOOLS_PLAIN_MS,
					  TOOLS_PLAIN_MS, day,
					  &cfg->idle_timeout_ns, err, errlen);
	case O_DRAIN:
		return tools_get_duration("--drain", a, TOOLS_PLAIN_MS, 0, day,
					  &cfg->drain_ns, err, errlen);
	default:
		return tools_get_duration("--batch-wait", a, TOOLS_PLAIN_US, 0,
					  TOOLS_PLAIN_S, &cfg->batch_wait_ns,
					  err, errlen);
	}
}

int serve_cli_parse(struct serve_cfg *cfg, int argc, char **argv, char *err,
		    size_t errlen)
{
	static const char short_opts[] = ":p:b:t:hV";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->bind = "127.0.0.1";
	cfg->port = 8080;
	cfg->threads = ncpu > 0 ? (unsigned)(ncpu > 1024 ? 1024 : ncpu) : 1;
	cfg->max_body = 1ull << 30;
	cfg->header_timeout_ns = 10 * TOOLS_PLAIN_S;
	cfg->idle_timeout_ns = 60 * TOOLS_PLAIN_S;
	cfg->drain_ns = 5 * TOOLS_PLAIN_S;
	cfg->batch_wait_ns = SERVE_BATCH_WAIT_US * TOOLS_PLAIN_US;
	cfg->recv_bufs = SERVE_RECV_BUFS;
	cfg->recv_buf_size = SERVE_RECV_BUF_SIZE;

	optind = 0; /* GNU: re-initialise getopt's state for every parse */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) !=
	       -1) {
		const char *a = optarg;
		switch (c) {
		case 'p':
			if (number(a, 0, 65535, 0, &v) < 0)
				goto bad_value;
			cfg->port = (unsigned)v;
			break;
		case 'b': {
			unsigned char tmp[16];
			if (inet_pton(AF_INET, a, tmp) != 1 &&
			    inet_pton(AF_INET6, a, tmp) != 1) {
				snprintf(err, errlen,
					 "-b %s: not an IPv4 or IPv6 address",
					 a);
				return -1;
			}
			cfg->bind = a;
			break;
		}
		case 't':
			if (number(a, 1, 1024, 0, &v) < 0)
				goto bad_value;
			cfg->threads = (unsigned)v;
			break;
		case O_ROOT:
			cfg->root = a;
			break;
		case O_AUTOINDEX:
			cfg->autoindex = 1;
			break;
		case O_CERT:
			cfg->cert = a;
			break;
		case O_KEY:
			cfg->key = a;
			break;
		case O_TLS_VERSION:
			cfg->tls_versions = a;
			break;
		case O_TLS_NO_RESUME:
			cfg->tls_no_resume = true;
			break;
		case O_ACCESS_LOG:
			cfg->access_log = a;
			break;
		case O_MAX_BODY:
			if (number(a, 0, UINT64_MAX / 2, 1, &v) < 0)
				goto bad_value;
			cfg->max_body = v;
			break;
		case O_MAX_REQUESTS:
			if (number(a, 0, UINT32_MAX, 0, &v) < 0)
				goto bad_value;
			cfg->max_requests = (unsigned)v;
			break;
		case O_MAX_CONNS:
			if (number(a, 1, 1u << 24, 0, &v) < 0)
				goto bad_value;
			cfg->max_conns = (unsigned)v;
			break;
		case O_HEADER_TIMEOUT:
		case O_IDLE_TIMEOUT:
		case O_DRAIN:
		case O_BATCH_WAIT:
			if (duration(c, a, cfg, err, errlen) < 0)
				return -1;
			break;
		case O_SENDFILE_MIN:
			if (strcmp(a, "off") == 0)
				v = UINT64_MAX;
			else if (number(a, 1, UINT64_MAX / 2, 1, &v) < 0)
				goto bad_value;
			cfg->sendfile_min = v;
			break;
		case O_FILE_CACHE:
			if (strcmp(a, "on") != 0 && strcmp(a, "off") != 0) {
				snprintf(err, errlen,
					 "--file-cache takes on or off, not "
					 "'%s'",
					 a);
				return -1;
			}
			cfg->file_cache_off = strcmp(a, "off") == 0;
			break;
		case O_FILE_SEND:
			if (strcmp(a, "copy") != 0 &&
			    strcmp(a, "sendfile") != 0) {
				snprintf(err, errlen,
					 "--file-send takes copy or sendfile, "
					 "not '%s'",
					 a);
				return -1;
			}
			cfg->file_send_sendfile = strcmp(a, "sendfile") == 0;
			break;
		case O_FILE_CACHE_MEM:
			if (number(a, 0, UINT64_MAX / 2, 1, &v) < 0)
				goto bad_value;
			cfg->file_cache_mem = v ? v : UINT64_MAX;
			break;
		case O_RECV_BUFS: /* coil_loop_opts.buf_count's range */
			if (number(a, 1, 32768, 0, &v) < 0)
				goto bad_value;
			cfg->recv_bufs = (unsigned)v;
			break;
		case O_RECV_BUF_SIZE: /* incremental buffers: 16-bit offsets */
			if (number(a, 1024, 65535, 1, &v) < 0)
				goto bad_value;
			cfg->recv_buf_size = (unsigned)v;
			break;
		case O_STATS:
			cfg->stats = 1;
			break;
		case O_HTTP2:
			cfg->http2 = true;
			break;
		case 'h':
			return 1;
		case 'V':
			return 2;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value",
				 argv[optind - 1]);
			return -1;
		default:
			snprintf(err, errlen, "unknown option '%s'",
				 argv[optind - 1]);
			return -1;
		}
		continue;
	bad_value:
		snprintf(err, errlen, "option %s: bad value '%s'", optname(c),
			 a);
		return -1;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (cfg->autoindex && !cfg->root) {
		snprintf(err, errlen, "--autoindex needs --root");
		return -1;
	}
	if (!cfg->cert != !cfg->key) {
		snprintf(err, errlen, "--cert and --key go together");
		return -1;
	}
	if ((cfg->tls_versions || cfg->tls_no_resume) && !cfg->cert) {
		snprintf(err, errlen,
			 "--tls-version and --tls-no-resume need --cert and "
			 "--key");
		return -1;
	}
	return 0;
}
