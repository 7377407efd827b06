/*
 * tools/coil-serve/cli.h - coil-serve's command line (getopt_long(3)),
 * kept apart from main() so that tests can parse command lines.
 */
#ifndef COIL_SERVE_CLI_H
#define COIL_SERVE_CLI_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Default --batch-wait: the loop's adaptive batched wait
 * (coil_loop_opts.batch_wait_ns), used only while a waiting turn finds
 * more than one completion. 30 us took coil-serve from 0.64-0.74 to
 * 0.04-0.05 system calls per request under wrk -c50 (docs/BENCHMARKS.md,
 * "serve"); a lone client's exchanges are not delayed.
 */
#define SERVE_BATCH_WAIT_US 30

/*
 * Provided buffers per loop, of 16 KiB, consumed incrementally
 * (COIL_LOOP_BUF_INC, kernel 6.12): a request head takes only its bytes
 * of the current buffer, so the ring holds the reads of many connections
 * side by side, and all of it is resident under load (every byte is used
 * in turn). 16 buffers (256 KiB: 52 bytes a busy connection at 5,000,
 * against 210 for the 64 before) hold the heads that arrive in one turn
 * under wrk -c 5000 (about 41 bytes each: 205 KB) with room to spare,
 * and bench/serve/ring.sh saw no dry ring with them under that load nor
 * in the hello and file cases (docs/BENCHMARKS.md, "Memory per
 * connection"). A turn that finds the ring dry parks its recvs and arms
 * them again as buffers come back (engine/ops.c). An older kernel gets
 * the default ring instead (1,024 whole buffers).
 */
#define SERVE_RECV_BUFS 16
#define SERVE_RECV_BUF_SIZE 16384

struct serve_cfg {
	const char *bind;	    /* -b: address literal, "127.0.0.1" */
	unsigned port;		    /* -p: 0-65535, 8080 */
	unsigned threads;	    /* -t: 1-1024, the online CPUs */
	const char *root;	    /* --root: files served, NULL = none */
	int autoindex;		    /* --autoindex: directory listings */
	const char *cert, *key;	    /* --cert/--key: TLS, both or neither */
	const char *tls_versions;   /* --tls-version: "1.2", "1.3", "1.2-1.3" */
	bool tls_no_resume;	    /* --tls-no-resume: full handshakes only */
	const char *access_log;	    /* --access-log FILE, NULL = off */
	uint64_t max_body;	    /* --max-body BYTES, 1 GiB */
	unsigned max_requests;	    /* --max-requests N, 0 = unlimited */
	unsigned max_conns;	    /* --max-conns N, 0 = the library's */
	uint64_t header_timeout_ns; /* --header-timeout T, 10 s */
	uint64_t idle_timeout_ns;   /* --idle-timeout T, 60 s */
	uint64_t drain_ns;	    /* --drain T, 5 s */
	uint64_t batch_wait_ns;	    /* --batch-wait T, 30 us; 0 = off */
	uint64_t sendfile_min;	    /* --sendfile-min BYTES, 0 = library's */
	bool file_cache_off;	    /* --file-cache off (on by default) */
	bool file_send_sendfile;    /* --file-send sendfile (copy by default) */
	uint64_t file_cache_mem;    /* --file-cache-mem BYTES, 0 = library's,
				       UINT64_MAX = none */
	unsigned recv_bufs;	    /* --recv-bufs N, SERVE_RECV_BUFS */
	unsigned recv_buf_size;	    /* --recv-buf-size BYTES, 16k */
	int stats;		    /* --stats: counters on stderr at exit */
	bool http2;		    /* --http2: h2 (ALPN) and h2c too */
};

/*
 * serve_cli_parse() - fill @cfg from argv (defaults first).
 * @err: receives a one-line message on failure.
 * Return: 0 to run; 1 when --help was asked, 2 when -V/--version was
 * (nothing else to do); -1 for a bad command line (@err says why).
 */
int serve_cli_parse(struct serve_cfg *cfg, int argc, char **argv, char *err,
		    size_t errlen);

/* serve_cli_usage() - the --help text. */
void serve_cli_usage(FILE *f);

#endif
