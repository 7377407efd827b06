/*
 * tools/coil-get/cli.h - coil-get's command line, close to curl's where
 * curl has the same option: `coil-get [options] URL...` or `-i FILE`.
 *
 * cg_cli_parse() never prints and never exits: it fills a struct cg_opts
 * or returns an error with a one-line message; main() prints the line and
 * exits with CG_EXIT_USAGE.
 */
#ifndef COIL_GET_CLI_H
#define COIL_GET_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coil/http.h"
#include "../common/exit_status.h"

/* Exit statuses: tools/common/exit_status.h's table. */
#define CG_EXIT_OK COIL_EXIT_OK		/* every URL answered 2xx */
#define CG_EXIT_FAILED COIL_EXIT_FAILED /* at least one URL failed */
#define CG_EXIT_USAGE COIL_EXIT_USAGE	/* bad command line or input */
#define CG_EXIT_SYSTEM COIL_EXIT_START	/* could not start */

enum cg_action {
	CG_RUN = 0,
	CG_HELP = 1,	/* print cg_cli_usage() to stdout, exit 0 */
	CG_VERSION = 2, /* print the version line, exit 0 */
};

#define CG_DEFAULT_PARALLEL 50
#define CG_DEFAULT_PER_HOST 6
#define CG_DEFAULT_MAX_REDIRS 20
#define CG_MAX_PARALLEL 100000
#define CG_MAX_HEADERS 64
/* the longest --timeout, --connect-timeout, --retry-max-time: a year */
#define CG_MAX_DURATION_NS (365ull * 86400 * 1000000000ull)

/*
 * Everything the command line says. Strings marked "argv" point into the
 * argv given to cg_cli_parse(); "owned" ones go with cg_cli_free().
 */
struct cg_opts {
	enum cg_action action;
	/* what to fetch */
	char **urls; /* positional URLs, then -i lines (owned array; the
			strings are argv or owned: see url_owned) */
	bool *url_owned;
	size_t n_urls;
	const char *input; /* -i FILE, "-" for stdin (argv), or NULL */
	/* where bodies go: a directory, stdout, or nowhere (counted only) */
	const char *outdir; /* -o DIR (argv) */
	bool to_stdout;	    /* -O */
	/* limits */
	unsigned parallel;   /* --parallel, requests in flight */
	unsigned per_host;   /* --per-host, connections per host */
	uint64_t timeout_ns; /* --timeout / -m, each attempt; 0 = none */
	uint64_t connect_timeout_ns; /* --connect-timeout; 0 = none */
	unsigned retries;	     /* --retry, attempts after the first */
	uint64_t retry_max_time_ns;  /* --retry-max-time; 0 = no limit */
	uint64_t max_filesize;	     /* --max-filesize; 0 = no limit */
	unsigned max_redirs;	     /* --max-redirs; redirects on by
					default (-L is the default) */
	uint64_t rate_permits;	     /* --rate N/unit: N requests ... */
	uint64_t rate_period_ns;     /* ... per period; 0 = no rate */
	/* the request */
	const char *method; /* -X (argv), "GET", or "POST" with -d */
	struct coil_http_header headers[CG_MAX_HEADERS + 1]; /* -H (argv) */
	size_t n_headers;
	char *data; /* -d / --data-binary bytes (owned), or NULL */
	size_t data_len;
	const char *user_agent; /* -A (argv) or NULL */
	/* TLS */
	bool insecure;		  /* -k */
	const char *cacert;	  /* --cacert FILE (argv) */
	const char *cert;	  /* --cert FILE (argv): client certificate */
	const char *key;	  /* --key FILE (argv); NULL: in --cert's */
	const char *tls_versions; /* --tls-version "1.2", "1.3", "1.2-1.3" */
	/* the protocol: --http1.1, --http2 (ALPN h2 on https),
	 * --http2-prior-knowledge (h2c on http too), curl's meanings;
	 * COIL_HTTP_VERSION_*, default HTTP/1.1 */
	unsigned http_version;
	/* output */
	bool json;     /* --json: one object per URL on stdout */
	bool quiet;    /* -q: no progress line, no summary */
	bool progress; /* a progress line: stderr is a TTY and not -q */
};

/*
 * cg_cli_parse() - parse @argc/@argv into @o (zeroed first).
 * @err: receives a one-line message on failure (no trailing newline).
 * @tty: whether stderr is a terminal (sets o->progress unless -q).
 *
 * Reads the -i file (or stdin) and the -d @file here.
 * Return: 0; -EINVAL for a bad command line (unknown option, missing or
 * bad value, no URL, -O with --json or with -o); -errno when a file named
 * on it cannot be read; -ENOMEM.
 */
int cg_cli_parse(struct cg_opts *o, int argc, char **argv, int tty, char *err,
		 size_t errlen);

/* cg_cli_free() - what cg_cli_parse() allocated. */
void cg_cli_free(struct cg_opts *o);

/* cg_cli_usage() - the --help text. */
const char *cg_cli_usage(void);

/*
 * cg_parse_rate() - "N", "N/s", "N/m", "N/h", "N/d" (curl's --rate forms):
 * N requests per second, minute, hour, day.
 * Return: 0; -EINVAL for N 0, a bad unit or a bad number.
 */
int cg_parse_rate(const char *s, uint64_t *permits, uint64_t *period_ns);

#endif
