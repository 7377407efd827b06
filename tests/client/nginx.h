/*
 * tests/client/nginx.h - a private nginx for a test: a temp prefix with
 * its config, document root, pid file and logs, a port found free on
 * 127.0.0.1, started in the foreground as a child that dies with the test
 * (PR_SET_PDEATHSIG) and stopped (SIGQUIT, waited for) at the end. The
 * access log records $connection and $connection_requests, so the tests
 * can count connections at the server. A test whose machine has no nginx
 * exits 77 (skip).
 */
#ifndef COIL_TEST_NGINX_H
#define COIL_TEST_NGINX_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct ngx {
	pid_t pid;
	unsigned short port;
	char *dir; /* the prefix */
	char root[512];
	char log[512];
};

/* nginxes started and not cleaned yet, by value (a failed test's stack
 * is gone): ngx_teardown() ends them when a test fails half-way (cmocka
 * runs a test's teardown after a failure) */
static struct {
	pid_t pid; /* 0 once stopped and reaped */
	char *dir; /* the prefix, owned by the struct ngx; NULL: free slot */
} ngx_live[8];

/* Record @dir's nginx as @pid (0: stopped); @gone: forget it. */
static inline void ngx_track(char *dir, pid_t pid, int gone)
{
	size_t n = sizeof(ngx_live) / sizeof(ngx_live[0]), i;
	for (i = 0; i < n && ngx_live[i].dir != dir; i++)
		;
	if (i == n) {
		for (i = 0; i < n && ngx_live[i].dir; i++)
			;
		if (i == n)
			return;
	}
	ngx_live[i].dir = gone ? NULL : dir;
	ngx_live[i].pid = pid;
}

static inline const char *ngx_bin(void)
{
	static const char *const paths[] = {
		"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	}
	return NULL;
}

static inline void ngx_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		abort();
}

/* Write a file of @n pseudo-random bytes under the root. */
static inline void ngx_file(struct ngx *g, const char *name, size_t n,
			    unsigned seed)
{
	char path[1024];
	unsigned char *p = malloc(n ? n : 1);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	snprintf(path, sizeof(path), "%s/%s", g->root, name);
	ngx_write(path, p, n);
	free(p);
}

static inline int ngx_ready(unsigned short port)
{
	struct sockaddr_in a = tu_addr(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/*
 * Start nginx with @extra inside its server block (may use %1$u for the
 * port) and @listen after "listen 127.0.0.1:PORT" (" ssl" for TLS).
 * Exits 77 when nginx is not installed.
 */
static inline void ngx_start_listen(struct ngx *g, const char *extra,
				    const char *listen)
{
	const char *bin = ngx_bin();
	char conf[8192], path[1024], server[4096];

	if (!bin) {
		fprintf(stderr, "skip: nginx is not installed\n");
		exit(77);
	}
	memset(g, 0, sizeof(*g));
	g->dir = tu_tmpdir();
	snprintf(g->root, sizeof(g->root), "%s/html", g->dir);
	snprintf(g->log, sizeof(g->log), "%s/access.log", g->dir);
	if (mkdir(g->root, 0755))
		abort();
	for (int attempt = 0; attempt < 20; attempt++) {
		g->port = tu_free_port();
		snprintf(server, sizeof(server), extra ? extra : "",
			 (unsigned)g->port);
		snprintf(conf, sizeof(conf),
			 "daemon off;\n"
			 "master_process off;\n"
			 "worker_processes 1;\n"
			 "pid %1$s/nginx.pid;\n"
			 "error_log %1$s/error.log warn;\n"
			 "events { worker_connections 1024; }\n"
			 "http {\n"
			 "  log_format coil '$connection $connection_requests "
			 "$request_method $uri $status $body_bytes_sent';\n"
			 "  access_log %1$s/access.log coil;\n"
			 "  client_body_temp_path %1$s/body;\n"
			 "  proxy_temp_path %1$s/proxy;\n"
			 "  fastcgi_temp_path %1$s/fastcgi;\n"
			 "  uwsgi_temp_path %1$s/uwsgi;\n"
			 "  scgi_temp_path %1$s/scgi;\n"
			 "  default_type application/octet-stream;\n"
			 "  keepalive_requests 100000;\n"
			 "  keepalive_timeout 60s;\n"
			 "  server {\n"
			 "    listen 127.0.0.1:%2$u%4$s;\n"
			 "    root %1$s/html;\n"
			 "%3$s\n"
			 "  }\n"
			 "}\n",
			 g->dir, (unsigned)g->port, server, listen);
		snprintf(path, sizeof(path), "%s/nginx.conf", g->dir);
		ngx_write(path, conf, strlen(conf));
		g->pid = fork();
		if (g->pid < 0)
			abort();
		if (g->pid == 0) {
			char errlog[1024];
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			snprintf(errlog, sizeof(errlog), "%s/error.log",
				 g->dir);
			execl(bin, bin, "-p", g->dir, "-c", path, "-e", errlog,
			      (char *)NULL);
			_exit(127);
		}
		/* up when it accepts; gone when the port was taken */
		for (int i = 0; i < 500; i++) {
			int st;
			if (ngx_ready(g->port)) {
				ngx_track(g->dir, g->pid, 0);
				return;
			}
			if (waitpid(g->pid, &st, WNOHANG) == g->pid) {
				g->pid = 0;
				break;
			}
			usleep(10000);
		}
		if (g->pid) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, NULL, 0);
			g->pid = 0;
		}
	}
	snprintf(path, sizeof(path), "cat %s/error.log >&2", g->dir);
	if (system(path) < 0)
		abort();
	fprintf(stderr, "nginx did not start\n");
	abort();
}

static inline void ngx_start(struct ngx *g, const char *extra)
{
	ngx_start_listen(g, extra, "");
}

static inline void ngx_rm(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[2048];
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >=
		    sizeof(p))
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			ngx_rm(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Stop nginx (graceful: it finishes its log lines) and wait for it. */
static inline void ngx_stop(struct ngx *g)
{
	int st;
	if (g->pid > 0) {
		kill(g->pid, SIGQUIT);
		waitpid(g->pid, &st, 0);
		g->pid = 0;
		ngx_track(g->dir, 0, 0);
	}
}

/* Remove the prefix and everything in it. */
static inline void ngx_clean(struct ngx *g)
{
	ngx_stop(g);
	ngx_track(g->dir, 0, 1);
	ngx_rm(g->dir);
	free(g->dir);
	g->dir = NULL;
}

/* A cmocka teardown: stop and remove what a failed test left. */
static inline int ngx_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ngx_live) / sizeof(ngx_live[0]); i++) {
		if (!ngx_live[i].dir)
			continue;
		if (ngx_live[i].pid > 0) {
			kill(ngx_live[i].pid, SIGKILL);
			waitpid(ngx_live[i].pid, NULL, 0);
		}
		ngx_rm(ngx_live[i].dir);
		free(ngx_live[i].dir);
		ngx_live[i].dir = NULL;
	}
	return 0;
}

/*
 * Read the access log (after ngx_stop()): for each line, its connection
 * serial number and request number on it. Returns the number of lines;
 * *nconns receives the number of distinct connections.
 */
static inline int ngx_log(struct ngx *g, int *nconns, int *max_reqs)
{
	FILE *f = fopen(g->log, "r");
	char line[1024];
	long seen[4096];
	int n = 0, nseen = 0, mr = 0;
	if (!f)
		abort();
	while (fgets(line, sizeof(line), f)) {
		long c, r;
		int i;
		if (sscanf(line, "%ld %ld", &c, &r) != 2)
			continue;
		n++;
		if (r > mr)
			mr = (int)r;
		for (i = 0; i < nseen && seen[i] != c; i++)
			;
		if (i == nseen && nseen < 4096)
			seen[nseen++] = c;
	}
	fclose(f);
	if (nconns)
		*nconns = nseen;
	if (max_reqs)
		*max_reqs = mr;
	return n;
}

#endif
