/* tests/tls/test_tls_nginx.c - coil's TLS client against nginx with TLS:
 * raw HTTP/1.1 requests, a small and a 4 MiB body checked byte for byte,
 * and a resumed session that nginx itself reports ($ssl_session_reused).
 * nginx runs from a temp prefix (config, pid file, logs, temp dirs) in
 * the foreground, single process, and is killed at the end. Skips (77)
 * without nginx or openssl. */
#include <sys/inotify.h>

#include "tt.h"

#define BIG (4u << 20)

static struct coil_loop *loop;
static struct tt_proc nginx;
static unsigned short port;

/* Wait for nginx's pid file: written after it listens (nginx.c: the
 * listening sockets open in ngx_init_cycle(), the pid file after). */
static int wait_pid_file(int ino, unsigned ms)
{
	uint64_t end = tu_mono_ns() + (uint64_t)ms * MS;
	char buf[4096] __attribute__((aligned(8)));

	while (tu_mono_ns() < end) {
		struct pollfd pfd = {.fd = ino, .events = POLLIN};
		int gone;
		if (access(tt_file("nginx.pid"), R_OK) == 0)
			return 1;
		pthread_mutex_lock(&nginx.mu);
		gone = nginx.eof;
		pthread_mutex_unlock(&nginx.mu);
		if (gone)
			return 0; /* it exited: the port was taken */
		if (poll(&pfd, 1, 100) > 0 && read(ino, buf, sizeof(buf)) < 0)
			return 0;
	}
	return 0;
}

static int start_nginx(void)
{
	char *argv[] = {"nginx", "-p", tt_dir, "-c", NULL, "-e", NULL, NULL};
	char conf[512], errlog[512];
	FILE *f;

	for (int attempt = 0; attempt < 5; attempt++) {
		int ino, ok;
		port = tu_free_port();
		snprintf(conf, sizeof(conf), "%s", tt_file("nginx.conf"));
		snprintf(errlog, sizeof(errlog), "%s", tt_file("error.log"));
		f = fopen(conf, "w");
		assert_non_null(f);
		fprintf(f,
			"daemon off;\nmaster_process off;\n"
			"worker_processes 1;\n"
			"error_log %s/error.log info;\npid %s/nginx.pid;\n"
			"events { worker_connections 64; }\n"
			"http {\n access_log %s/access.log;\n"
			" client_body_temp_path %s/body;\n"
			" proxy_temp_path %s/proxy;\n"
			" fastcgi_temp_path %s/fastcgi;\n"
			" uwsgi_temp_path %s/uwsgi;\n"
			" scgi_temp_path %s/scgi;\n"
			" server {\n  listen 127.0.0.1:%u ssl;\n"
			"  ssl_certificate %s/chain.pem;\n"
			"  ssl_certificate_key %s/server.key;\n"
			"  ssl_protocols TLSv1.2;\n"
			"  location / { return 200 \"hello from nginx "
			"reused=$ssl_session_reused "
			"alpn=$ssl_alpn_protocol\\n\"; "
			"}\n"
			"  location /big { alias %s/big.bin; }\n"
			" }\n}\n",
			tt_dir, tt_dir, tt_dir, tt_dir, tt_dir, tt_dir, tt_dir,
			tt_dir, port, tt_dir, tt_dir, tt_dir);
		fclose(f);
		unlink(tt_file("nginx.pid"));
		argv[4] = conf;
		argv[6] = errlog;
		ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		assert_true(ino >= 0);
		assert_true(inotify_add_watch(ino, tt_dir,
					      IN_CLOSE_WRITE | IN_MOVED_TO) >=
			    0);
		tt_spawn(&nginx, argv, tt_dir, 0);
		ok = wait_pid_file(ino, 10000);
		close(ino);
		if (ok)
			return 0;
		tt_proc_free(&nginx);
	}
	return -1;
}

static int setup(void **state)
{
	unsigned char *big;
	FILE *f;
	(void)state;

	loop = tu_loop(NULL);
	big = malloc(BIG);
	assert_non_null(big);
	tt_fill(big, BIG, 5, 0);
	f = fopen(tt_file("big.bin"), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, BIG, f), BIG);
	fclose(f);
	free(big);
	if (start_nginx() < 0) {
		fprintf(stderr, "nginx did not start\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tt_proc_reap(&nginx, SIGTERM);
	tt_proc_free(&nginx);
	tt_loop_free(loop);
	return 0;
}

/* One request on a fresh connection; the response in c->in. */
static void get(struct tt_cli *c, const struct coil_tls_config *cfg,
		struct coil_tls_cache *cache, const char *req)
{
	struct coil_tls_opts o = {0};
	struct coil_stream_write w = {0};

	o.host = "localhost";
	o.cache = cache;
	assert_int_equal(tt_cli_connect(loop, c, port, cfg, &o), 0);
	assert_int_equal(coil_stream_read_start(&c->tls.s, tt_cli_read), 0);
	assert_int_equal(
		coil_stream_write(&c->tls.s, &w, req, strlen(req), NULL), 0);
	TT_RUN_UNTIL(loop, c->eof || c->err, 20000);
}

static void test_tls_nginx_get(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n"
				  "Connection: close\r\n\r\n";
	struct coil_tls_config *cfg = tt_client_config(0);
	struct tt_cli c = {0};
	(void)state;

	c.collect = 1;
	get(&c, cfg, NULL, req);
	print_message("%s %s alpn=%s\n%s", coil_tls_info(&c.tls)->version,
		      coil_tls_info(&c.tls)->cipher,
		      coil_tls_info(&c.tls)->alpn, (char *)c.in);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.eof, 1); /* nginx sends close_notify */
	assert_memory_equal(c.in, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr((char *)c.in, "Server: nginx"));
	assert_non_null(strstr((char *)c.in,
			       "\r\n\r\nhello from nginx reused=. "
			       "alpn=http/1.1\n"));
	assert_string_equal(coil_tls_info(&c.tls)->alpn, "http/1.1");
	tt_cli_close(loop, &c);
	coil_tls_config_free(cfg);
}

static void test_tls_nginx_big_body(void **state)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: localhost\r\n"
				  "Connection: close\r\n\r\n";
	struct coil_tls_config *cfg = tt_client_config(0);
	struct tt_cli c = {0};
	unsigned char *body;
	char *end;
	size_t hlen;
	(void)state;

	c.collect = 1;
	get(&c, cfg, NULL, req);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.eof, 1);
	end = strstr((char *)c.in, "\r\n\r\n");
	assert_non_null(end);
	hlen = (size_t)(end + 4 - (char *)c.in);
	assert_non_null(strstr((char *)c.in, "Content-Length: 4194304"));
	assert_int_equal(c.got - hlen, BIG);
	body = malloc(BIG);
	assert_non_null(body);
	tt_fill(body, BIG, 5, 0);
	assert_memory_equal(c.in + hlen, body, BIG);
	free(body);
	print_message("4 MiB body intact; %llu records\n",
		      (unsigned long long)coil_stream_stats(&c.tls.s).recvs);
	tt_cli_close(loop, &c);
	coil_tls_config_free(cfg);
}

static void test_tls_nginx_resumes(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n"
				  "Connection: close\r\n\r\n";
	struct coil_tls_config *cfg = tt_client_config(0);
	struct coil_tls_cache *cache;
	(void)state;

	assert_int_equal(coil_tls_cache_new(&cache, 0), 0);
	for (int i = 0; i < 2; i++) {
		struct tt_cli c = {0};
		c.collect = 1;
		get(&c, cfg, cache, req);
		assert_int_equal(c.err, 0);
		assert_int_equal(coil_tls_info(&c.tls)->resumed, i);
		/* nginx's own view: "r" reused, "." new */
		assert_non_null(
			strstr((char *)c.in, i ? "reused=r" : "reused=."));
		tt_cli_close(loop, &c);
	}
	coil_tls_cache_free(cache);
	coil_tls_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_nginx_get),
		cmocka_unit_test(test_tls_nginx_big_body),
		cmocka_unit_test(test_tls_nginx_resumes),
	};
	if (!tt_have("nginx") || !tt_have("openssl")) {
		fprintf(stderr, "skip: nginx or openssl not installed\n");
		return COIL_SKIP;
	}
	tt_certs();
	return cmocka_run_group_tests_name("tls.nginx", tests, setup, teardown);
}
