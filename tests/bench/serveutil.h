/*
 * tests/bench/serveutil.h - coil-serve (tools/coil-serve) as the server of
 * coil-bench's end-to-end tests: started on a free port of 127.0.0.1 with
 * an access log (ts_spawn(): it goes when the test does), its port read
 * from its first line, stopped with SIGTERM
 * (it finishes its requests and flushes the log), the log read back.
 * Needs COIL_SERVE_BIN and e2eutil.h.
 */
#ifndef COIL_BENCH_SERVEUTIL_H
#define COIL_BENCH_SERVEUTIL_H

#include "e2eutil.h"

struct serve {
	pid_t pid;
	unsigned port;
	char log[64];  /* the access log's path */
	char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Start coil-serve with @threads threads (a string: "1") and an access
 * log; abort when it does not say where it listens. */
static inline void serve_start(struct serve *s, const char *threads)
{
	char *argv[] = {COIL_SERVE_BIN,	 "-p",		 "0",	 "-t",
			(char *)threads, "--access-log", s->log, NULL};
	char line[256] = "";
	int p[2], fd;
	FILE *f;

	snprintf(s->log, sizeof(s->log), "/tmp/coil-bench-serve-log-XXXXXX");
	fd = mkstemp(s->log);
	if (fd < 0)
		abort();
	close(fd);
	if (pipe(p) != 0)
		abort();
	s->pid = ts_spawn(COIL_SERVE_BIN, argv, p[1], -1);
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "listening http://127.0.0.1:%u", &s->port) != 1) {
		fprintf(stderr, "coil-serve said: %s\n", line);
		abort();
	}
	fclose(f);
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", s->port);
}

/* "http://127.0.0.1:PORT" + @path in one of four static buffers. */
static inline char *serve_url(const struct serve *s, const char *path)
{
	static char buf[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", s->base, path);
	return buf[i];
}

/* SIGTERM, wait, check it exited 0. Return: the access log's text (free
 * it); the file is removed. */
static inline char *serve_stop(struct serve *s)
{
	int st;
	char *text;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = slurp(s->log);
	unlink(s->log);
	return text;
}

#endif
