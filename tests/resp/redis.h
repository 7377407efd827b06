/*
 * tests/resp/redis.h - a redis-server of the test's own: started on a free
 * port of 127.0.0.1 with no persistence, waited for (it answers PING),
 * killed (SIGKILL, to cut a pipeline) or stopped. Exits 77 when Debian's
 * redis-server is not installed.
 */
#ifndef COIL_TEST_REDIS_H
#define COIL_TEST_REDIS_H

#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"

struct redis {
	pid_t pid;
	unsigned short port;
	char dir[256];
};

static inline const char *redis_bin(void)
{
	return access("/usr/bin/redis-server", X_OK) == 0
		       ? "/usr/bin/redis-server"
		       : NULL;
}

/* PING answered with +PONG on a blocking socket. */
static inline int redis_ready(unsigned short port)
{
	struct sockaddr_in a = tu_addr(port);
	char buf[16];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
	struct timeval tv = {.tv_sec = 1};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(fd, "PING\r\n", 6) == 6 && read(fd, buf, 7) == 7 &&
	    memcmp(buf, "+PONG\r\n", 7) == 0)
		ok = 1;
	close(fd);
	return ok;
}

/* Start it on @port (0: a free one). */
static inline void redis_start(struct redis *r, unsigned short port)
{
	const char *bin = redis_bin();
	uint64_t end;

	if (!bin) {
		fprintf(stderr, "skip: redis-server not installed\n");
		exit(COIL_SKIP);
	}
	if (!port) {
		int fd = tu_listen(&port);
		close(fd);
	}
	r->port = port;
	if (!r->dir[0]) {
		char *d = tu_tmpdir();
		snprintf(r->dir, sizeof(r->dir), "%s", d);
		free(d);
	}
	r->pid = fork();
	if (r->pid == 0) {
		char p[16];
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		snprintf(p, sizeof(p), "%u", port);
		execl(bin, bin, "--port", p, "--bind", "127.0.0.1", "--save",
		      "", "--appendonly", "no", "--dir", r->dir, "--daemonize",
		      "no", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	end = tu_mono_ns() + 10000000000ull;
	while (!redis_ready(port)) {
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid ||
		    tu_mono_ns() > end) {
			fprintf(stderr, "redis-server did not start\n");
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			abort();
		}
		usleep(5000); /* polling a child's start-up, bounded above */
	}
}

static inline void redis_kill(struct redis *r, int sig)
{
	if (r->pid > 0) {
		kill(r->pid, sig);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

static inline void redis_addr(const struct redis *r,
			      struct sockaddr_storage *ss)
{
	struct sockaddr_in a = tu_addr(r->port);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &a, sizeof(a));
}

#endif
