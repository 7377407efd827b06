/*
 * tools/coil-serve/main.c - coil-serve: the command line, the listening
 * line on stdout, N server threads (coil_http_threads_start()), and a
 * graceful stop on SIGINT/SIGTERM: the signals are blocked in every thread
 * and taken with sigwait(3) here, so no handler runs in a loop's thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coil/coil.h"
#include "../common/cli.h"
#include "app.h"
#include "cli.h"

static int make_addr(const struct serve_cfg *cfg, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->bind, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)cfg->port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->bind, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)cfg->port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

static void print_listening(const struct sockaddr_storage *ss, int tls,
			    unsigned threads)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		port = ntohs(a6->sin6_port);
		printf("listening %s://[%s]:%u threads %u pid %ld\n",
		       tls ? "https" : "http", host, port, threads,
		       (long)getpid());
	} else {
		const struct sockaddr_in *a4 = (const void *)ss;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		port = ntohs(a4->sin_port);
		printf("listening %s://%s:%u threads %u pid %ld\n",
		       tls ? "https" : "http", host, port, threads,
		       (long)getpid());
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct serve_cfg cfg;
	struct serve_app app = {.root_fd = -1, .log_fd = -1};
	struct coil_http_server_opts so = {0};
	struct coil_http_threads_opts to = {0};
	struct coil_loop_opts lo = {0};
	struct coil_tls_config *tls = NULL;
	struct coil_http_threads *t = NULL;
	struct coil_http_server_stats st;
	struct sockaddr_storage ss;
	socklen_t slen;
	sigset_t sigs;
	char err[256];
	int ret, sig = 0;

	ret = serve_cli_parse(&cfg, argc, argv, err, sizeof(err));
	if (ret == 1) {
		serve_cli_usage(stdout);
		return COIL_EXIT_OK;
	}
	if (ret == 2) {
		tools_print_version(stdout, "coil-serve");
		return COIL_EXIT_OK;
	}
	if (ret < 0) {
		fprintf(stderr, "coil-serve: %s (see --help)\n", err);
		return COIL_EXIT_USAGE;
	}
	if (make_addr(&cfg, &ss, &slen) < 0) {
		fprintf(stderr, "coil-serve: bad address %s\n", cfg.bind);
		return COIL_EXIT_USAGE;
	}
	if (cfg.cert) {
		struct coil_tls_config_opts co = {0};
		co.flags = COIL_TLS_SERVER |
			   (cfg.tls_no_resume ? COIL_TLS_NO_RESUME : 0);
		co.cert_file = cfg.cert;
		co.key_file = cfg.key;
		if (cfg.http2)
			co.alpn = coil_h2_alpn; /* "h2" first (RFC 9113 §3.2) */
		if (cfg.tls_versions &&
		    coil_tls_parse_versions(cfg.tls_versions, &co.min_version,
					    &co.max_version) < 0) {
			fprintf(stderr,
				"coil-serve: --tls-version: '%s' (1.2, 1.3 or "
				"1.2-1.3)\n",
				cfg.tls_versions);
			return COIL_EXIT_USAGE;
		}
		ret = coil_tls_config_new(&tls, &co, err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "coil-serve: --cert/--key: %s\n", err);
			return COIL_EXIT_USAGE;
		}
		so.tls = tls;
	}
	app.autoindex = cfg.autoindex;
	if (cfg.root) {
		app.root_fd = open(cfg.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (app.root_fd < 0) {
			fprintf(stderr, "coil-serve: --root %s: %s\n", cfg.root,
				strerror(errno));
			ret = COIL_EXIT_USAGE;
			goto out;
		}
	}
	if (cfg.access_log) {
		app.log_fd =
			open(cfg.access_log,
			     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (app.log_fd < 0) {
			fprintf(stderr, "coil-serve: --access-log %s: %s\n",
				cfg.access_log, strerror(errno));
			ret = COIL_EXIT_USAGE;
			goto out;
		}
	}

	/* every thread inherits this mask; only sigwait() takes them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	so.addr = (const struct sockaddr *)&ss;
	so.addr_len = slen;
	so.handler = serve_handler;
	if (cfg.http2)
		so.flags |= COIL_HTTP_SERVER_H2;
	if (cfg.file_send_sendfile)
		so.flags |= COIL_HTTP_SERVER_FILE_SENDFILE;
	so.arg = &app;
	so.on_done = app.log_fd >= 0 ? serve_on_done : NULL;
	so.max_body_bytes = cfg.max_body ? cfg.max_body : 1;
	so.max_requests = cfg.max_requests;
	so.max_conns = cfg.max_conns;
	so.sendfile_min_bytes = cfg.sendfile_min > SIZE_MAX
					? SIZE_MAX
					: (size_t)cfg.sendfile_min;
	so.file_cache_files = cfg.file_cache_off ? UINT_MAX : 0;
	so.file_cache_mem_bytes = cfg.file_cache_mem > SIZE_MAX
					  ? SIZE_MAX
					  : (size_t)cfg.file_cache_mem;
	so.header_timeout_ns = cfg.header_timeout_ns;
	so.idle_timeout_ns = cfg.idle_timeout_ns;
	lo.batch_wait_ns = cfg.batch_wait_ns;
	/* small reads share provided buffers (cli.h, SERVE_RECV_BUFS) */
	lo.flags = COIL_LOOP_BUF_INC;
	lo.buf_count = cfg.recv_bufs;
	lo.buf_size = cfg.recv_buf_size;
	to.loop = &lo;
	to.threads = cfg.threads;
	to.on_start = serve_on_start;
	to.on_stop = serve_on_stop;
	to.arg = &app;

	ret = coil_http_threads_start(&t, &so, &to);
	if (ret < 0) {
		fprintf(stderr, "coil-serve: cannot serve on %s port %u: %s\n",
			cfg.bind, cfg.port,
			ret == -ENOSYS || ret == -EPERM
				? coil_loop_strerror(ret)
				: coil_strerror(ret));
		ret = COIL_EXIT_START;
		goto out;
	}
	coil_http_threads_addr(t, &ss, &slen);
	print_listening(&ss, so.tls != NULL, cfg.threads);

	while (sigwait(&sigs, &sig) != 0)
		;
	coil_http_threads_stop(t, cfg.drain_ns);
	ret = coil_http_threads_wait(t, &st);
	if (cfg.stats) {
		struct coil_loop_stats ls;
		coil_http_threads_loop_stats(t, &ls);
		fprintf(stderr,
			"coil-serve: %s: %llu connections, %llu requests, "
			"%llu responses, %llu errors, %llu timeouts, %llu "
			"resets, %llu TLS failures; %llu enters, %llu sqes, "
			"%llu cqes, %llu sendfiles, %llu sendfile warms, "
			"%llu re-arms after a dry buffer ring%s\n",
			strsignal(sig), (unsigned long long)st.accepted,
			(unsigned long long)st.requests,
			(unsigned long long)st.responses,
			(unsigned long long)st.errors,
			(unsigned long long)st.timeouts,
			(unsigned long long)st.resets,
			(unsigned long long)st.tls_failures,
			(unsigned long long)ls.enters,
			(unsigned long long)ls.sqes,
			(unsigned long long)ls.cqes,
			(unsigned long long)ls.sendfiles,
			(unsigned long long)ls.sendfile_warms,
			(unsigned long long)ls.nobufs,
			ret == 1 ? " (drain time ran out)" : "");
	}
	if (cfg.stats && !cfg.file_cache_off)
		fprintf(stderr,
			"coil-serve: file cache: %llu hits, %llu misses; "
			"%u files and %zu bytes of contents held at exit; "
			"%llu dropped by changes, %llu overflows, %llu files "
			"not watched; %zu bytes pinned, %llu pins refused\n",
			(unsigned long long)st.file_cache_hits,
			(unsigned long long)st.file_cache_misses,
			st.file_cache_files, st.file_cache_bytes,
			(unsigned long long)st.file_cache_drops,
			(unsigned long long)st.file_cache_overflows,
			(unsigned long long)st.file_cache_unwatched,
			st.file_cache_pinned,
			(unsigned long long)st.file_cache_pin_fails);
	if (app.log_dropped)
		fprintf(stderr, "coil-serve: access log: %llu lines dropped\n",
			(unsigned long long)app.log_dropped);
	coil_http_threads_free(t);
	ret = 0;
out:
	if (app.root_fd >= 0)
		close(app.root_fd);
	if (app.log_fd >= 0)
		close(app.log_fd);
	coil_tls_config_free(tls);
	return ret;
}
