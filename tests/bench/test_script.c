/*
 * tests/bench/test_script.c - coil-bench -s: wrk's Lua scripting API,
 * checked from the server's side. The scripts are our own copies of what
 * each script in wrk's scripts/ folder does (addr, auth, counter, delay,
 * pipeline, post, report, setup, stop), run against nginx (its access log
 * records the method, the target and the headers of every request) and
 * coil-serve (/echo sends the body it received back; its access log
 * counts). Then the error paths: a syntax error and an error in init()
 * (exit 2, file:line), an error in request() during the run (the run
 * stops, the report says why), request() returning a non-string or a
 * malformed request (an error of class "script", never sent), and the
 * JSON's record of the script and its "--" arguments.
 * Skips (77) without nginx or coil-serve.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "serveutil.h"

#define NGINX "/usr/sbin/nginx"

static char dir[] = "/tmp/coil-bench-script-XXXXXX";
static unsigned short port;
static pid_t nginx_pid;
static char url[64];
static struct serve srv; /* coil-serve, for the cases that need its /echo */

/* ---- the servers ----------------------------------------------------------
 */

static void put(const char *name, const char *text)
{
	ngx_put(dir, name, text);
}

/* The path of @name in the test's folder, in one of four buffers. */
static char *at(const char *name)
{
	static char buf[4][300];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int setup_all(void **state)
{
	char http[2048];
	(void)state;
	if (access(COIL_SERVE_BIN, X_OK) != 0)
		exit(COIL_SKIP);
	port = ngx_prepare(NGINX, dir);
	snprintf(http, sizeof(http),
		 "  log_format s '$request_method $request_uri "
		 "$content_length [$http_content_type] [$http_x_counter] "
		 "[$http_x_token]';\n"
		 "  access_log %s/access.log s;\n"
		 "  keepalive_requests 1000000;\n"
		 "  server { listen 127.0.0.1:%u;\n"
		 "    location /authenticate { add_header X-Token s3cret; "
		 "return 200 \"token\"; }\n"
		 "    location / { return 200 \"ok\"; }\n  }\n",
		 dir, port);
	nginx_pid = ngx_start(NGINX, dir, port, "", 1024, http);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	return ngx_stop_rm(nginx_pid, dir);
}

/* nginx's log lines (it writes each after its response: wait up to 3 s
 * for @want of them), NULL-terminated, in one allocation; there must be
 * exactly @want (*n says how many came). */
static char **log_lines(uint64_t want, uint64_t *n)
{
	char *text = NULL, **lines, *c;
	uint64_t k = 0;
	for (int i = 0; i < 300; i++) {
		free(text);
		text = slurp(at("access.log"));
		k = 0;
		for (c = text; *c; c++)
			k += *c == '\n';
		if (k >= want)
			break;
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
	}
	lines = calloc(k + 1, sizeof(*lines));
	k = 0;
	for (c = strtok(text, "\n"); c; c = strtok(NULL, "\n"))
		lines[k++] = c;
	*n = k;
	if (!k)
		free(text);
	assert_int_equal(k, want);
	return lines;
}

static void lines_free(char **lines)
{
	if (lines[0])
		free(lines[0]);
	free(lines);
}

static void log_clear(void)
{
	truncate(at("access.log"), 0);
}

/* What nginx should have logged as line @i (from 0), into @buf. */
typedef void (*log_line_fn)(uint64_t i, char *buf, size_t cap);

/* nginx logged exactly @want lines (log_lines()); with @line, each is the
 * one @line writes for it. */
static void expect_log(uint64_t want, log_line_fn line)
{
	char **l, buf[160];
	uint64_t n;
	l = log_lines(want, &n);
	for (uint64_t i = 0; line && i < n; i++) {
		line(i, buf, sizeof(buf));
		assert_string_equal(l[i], buf);
	}
	lines_free(l);
}

/* Run coil-bench with @script (written to the folder) and arguments. */
#define RUN_SCRIPT(script, ...)                                                \
	({                                                                     \
		put("s.lua", script);                                          \
		log_clear();                                                   \
		RUN("-s", at("s.lua"), __VA_ARGS__);                           \
	})

/* ---- wrk's scripts ----------------------------------------------------
 */

/* post.lua: method, body and a header set in the wrk table: every request
 * is the same POST, built once */
static const char post_lua[] = "wrk.method = \"POST\"\n"
			       "wrk.body   = \"alpha=1&beta=two\"\n"
			       "wrk.headers[\"Content-Type\"] = "
			       "\"application/x-www-form-urlencoded\"\n";

static void post_line(uint64_t i, char *buf, size_t cap)
{
	(void)i;
	snprintf(buf, cap,
		 "POST / 16 [application/x-www-form-urlencoded] "
		 "[-] [-]");
}

static void test_script_post_nginx(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT(post_lua, "-t2", "-c4", "-n200", "--json", url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 200);
	expect_log(200, post_line);
	cb_out_free(&r);
}

/* the same script against coil-serve's /echo, with a response() that
 * checks the body the server got back */
static void test_script_post_echo(void **state)
{
	char script[1024], u[96], *log;
	struct cb_out r;
	uint64_t lines = 0;
	(void)state;
	snprintf(script, sizeof(script),
		 "%s"
		 "bad = 0\n"
		 "response = function(status, headers, body)\n"
		 "  if status ~= 200 or body ~= wrk.body then bad = bad + 1 "
		 "end\n"
		 "end\n"
		 "function setup(t) table.insert(threads, t) end\n"
		 "threads = {}\n"
		 "done = function()\n"
		 "  local b = 0\n"
		 "  for _, t in ipairs(threads) do b = b + t:get(\"bad\") end\n"
		 "  print(\"bad bodies: \" .. b)\n"
		 "end\n",
		 post_lua);
	serve_start(&srv, "1");
	snprintf(u, sizeof(u), "%s/echo", srv.base);
	r = RUN_SCRIPT(script, "-t2", "-c4", "-n300", "--output",
		       at("out.json"), "--json", u);
	log = serve_stop(&srv);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "bad bodies: 0\n"));
	for (char *c = log; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 300);
	/* every line: POST /echo, 200, 16 bytes echoed */
	for (char *c = strstr(log, "\"POST /echo HTTP/1.1\" 200 16 \""); c;
	     c = strstr(c + 1, "\"POST /echo HTTP/1.1\" 200 16 \""))
		lines--;
	assert_int_equal(lines, 0);
	free(log);
	cb_out_free(&r);
}

/* counter.lua: request() makes a new path and header each time; one
 * counter per thread */
static const char counter_lua[] = "counter = 0\n"
				  "request = function()\n"
				  "   path = \"/\" .. counter\n"
				  "   wrk.headers[\"X-Counter\"] = counter\n"
				  "   counter = counter + 1\n"
				  "   return wrk.format(nil, path)\n"
				  "end\n";

static void test_script_counter(void **state)
{
	struct cb_out r;
	char **l, want[128];
	uint64_t n;
	int seen[50] = {0};
	(void)state;
	r = RUN_SCRIPT(counter_lua, "-t2", "-c2", "-n100", "--json", url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 100);
	l = log_lines(100, &n);
	for (uint64_t i = 0; i < n; i++) {
		int k = -1;
		assert_int_equal(sscanf(l[i], "GET /%d ", &k), 1);
		assert_true(k >= 0 && k < 50);
		snprintf(want, sizeof(want), "GET /%d - [-] [%d] [-]", k, k);
		assert_string_equal(l[i], want);
		seen[k]++;
	}
	for (int k = 0; k < 50; k++) /* each thread: /0 ... /49 */
		assert_int_equal(seen[k], 2);
	lines_free(l);
	cb_out_free(&r);
}

/* the same in the open model: the schedule sends, request() makes each */
static void counter_line(uint64_t i, char *buf, size_t cap)
{
	snprintf(buf, cap, "GET /%llu - [-] [%llu] [-]", (unsigned long long)i,
		 (unsigned long long)i);
}

static void test_script_counter_open_model(void **state)
{
	struct cb_out r;
	uint64_t got;
	(void)state;
	r = RUN_SCRIPT(counter_lua, "-t1", "-c1", "-R200", "-d1s", "--json",
		       url);
	cb_expect_ok(&r);
	got = (uint64_t)j_requests(r.out);
	assert_true(got >= 150 && got <= 201);
	expect_log(got, counter_line);
	cb_out_free(&r);
}

static void auth_line(uint64_t i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s",
		 i == 0 ? "GET /authenticate - [-] [-] [-]"
			: "GET /resource - [-] [-] [s3cret]");
}

/* auth.lua: response() reads a header and changes what request() sends */
static void test_script_auth(void **state)
{
	static const char auth_lua[] =
		"token = nil\n"
		"path  = \"/authenticate\"\n"
		"request = function()\n"
		"   return wrk.format(\"GET\", path)\n"
		"end\n"
		"response = function(status, headers, body)\n"
		"   if not token and status == 200 then\n"
		"      token = headers[\"X-Token\"]\n"
		"      path  = \"/resource\"\n"
		"      wrk.headers[\"X-Token\"] = token\n"
		"   end\n"
		"end\n";
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT(auth_lua, "-t1", "-c1", "-n20", "--json", url);
	cb_expect_ok(&r);
	expect_log(20, auth_line);
	cb_out_free(&r);
}

/* delay.lua: delay() before each request (here 20 ms, one connection:
 * ten requests take at least 200 ms) */
static void test_script_delay(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT("function delay()\n  return 20\nend\n", "-t1", "-c1",
		       "-n10", "--json", url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 10);
	assert_true(jnum(r.out, NULL, "runtime_ns") >= 200e6);
	expect_log(10, NULL);
	cb_out_free(&r);
}

static void pipeline_line(uint64_t i, char *buf, size_t cap)
{
	static const char *const q[] = {"foo", "bar", "baz"};
	snprintf(buf, cap, "GET /?%s - [-] [-] [-]", q[i % 3]);
}

/* pipeline.lua: one request() string holding three requests */
static void test_script_pipeline(void **state)
{
	static const char pipeline_lua[] =
		"init = function(args)\n"
		"   local r = {}\n"
		"   r[1] = wrk.format(nil, \"/?foo\")\n"
		"   r[2] = wrk.format(nil, \"/?bar\")\n"
		"   r[3] = wrk.format(nil, \"/?baz\")\n"
		"   req = table.concat(r)\n"
		"end\n"
		"request = function()\n"
		"   return req\n"
		"end\n";
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT(pipeline_lua, "-t1", "-c1", "-n10", "--json", url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 30);
	expect_log(30, pipeline_line);
	cb_out_free(&r);
}

/* report.lua: done() gets the request count and the percentiles the
 * report prints (latency in us) */
static void test_script_report(void **state)
{
	static const char report_lua[] =
		"done = function(summary, latency, requests)\n"
		"   io.write(string.format(\"requests %d\\n\", "
		"summary.requests))\n"
		"   for _, p in pairs({ 50, 90, 99, 99.999 }) do\n"
		"      io.write(string.format(\"p%g %d\\n\", p, "
		"latency:percentile(p)))\n"
		"   end\n"
		"   io.write(string.format(\"min %d max %d n %d\\n\", "
		"latency.min, latency.max, #latency))\n"
		"   local v, c = latency(1)\n"
		"   io.write(string.format(\"first %d %d\\n\", v, c))\n"
		"   io.write(string.format(\"rate %g\\n\", requests.mean))\n"
		"   io.write(string.format(\"duration %d bytes %d errors "
		"%d\\n\", "
		"summary.duration, summary.bytes, summary.errors.connect + "
		"summary.errors.read + summary.errors.write + "
		"summary.errors.timeout + summary.errors.status))\n"
		"   io.write(string.format(\"mean %.0f\\n\", latency.mean))\n"
		"end\n";
	static const char *const p[] = {"50", "90", "99", "99.999"};
	struct cb_out r;
	char *json, line[64];
	(void)state;
	r = RUN_SCRIPT(report_lua, "-t2", "-c4", "-d500ms", "--json",
		       "--output", at("out.json"), url);
	cb_expect_ok(&r);
	json = slurp(at("out.json"));
	snprintf(line, sizeof(line), "requests %.0f\n", j_requests(json));
	assert_non_null(strstr(r.out, line));
	assert_true(j_requests(json) > 0);
	for (int i = 0; i < 4; i++) {
		double ns = jnum(json, "\"latency_ns\"", p[i]);
		assert_true(ns > 0);
		snprintf(line, sizeof(line), "p%s %llu\n", p[i],
			 (unsigned long long)(ns / 1000));
		assert_non_null(strstr(r.out, line));
	}
	snprintf(line, sizeof(line), "min %llu max %llu",
		 (unsigned long long)(jnum(json, "\"latency_ns\"", "min") /
				      1000),
		 (unsigned long long)(jnum(json, "\"latency_ns\"", "max") /
				      1000));
	assert_non_null(strstr(r.out, line));
	assert_non_null(strstr(r.out, "first "));
	snprintf(line, sizeof(line), "duration %llu bytes %llu errors 0\n",
		 (unsigned long long)(jnum(json, NULL, "runtime_ns") / 1000),
		 (unsigned long long)jnum(json, NULL, "bytes_read"));
	assert_non_null(strstr(r.out, line));
	snprintf(line, sizeof(line), "mean %.0f\n",
		 jnum(json, "\"latency_ns\"", "mean") / 1000);
	assert_non_null(strstr(r.out, line));
	free(json);
	cb_out_free(&r);
}

/* setup.lua: setup() hands each thread an id (thread:set), init() prints
 * it, request() and response() count, done() reads the counts back
 * (thread:get): they add up to what the server logged */
static void test_script_setup(void **state)
{
	static const char setup_lua[] =
		"local counter = 1\n"
		"local threads = {}\n"
		"function setup(thread)\n"
		"   thread:set(\"id\", counter)\n"
		"   table.insert(threads, thread)\n"
		"   counter = counter + 1\n"
		"end\n"
		"function init(args)\n"
		"   requests  = 0\n"
		"   responses = 0\n"
		"   print((\"thread %d created\"):format(id))\n"
		"end\n"
		"function request()\n"
		"   requests = requests + 1\n"
		"   return wrk.request()\n"
		"end\n"
		"function response(status, headers, body)\n"
		"   responses = responses + 1\n"
		"end\n"
		"function done(summary, latency, requests)\n"
		"   local rq, rs = 0, 0\n"
		"   for index, thread in ipairs(threads) do\n"
		"      rq = rq + thread:get(\"requests\")\n"
		"      rs = rs + thread:get(\"responses\")\n"
		"      print((\"thread %d made %d requests and got %d "
		"responses\"):format(thread:get(\"id\"), "
		"thread:get(\"requests\"), thread:get(\"responses\")))\n"
		"   end\n"
		"   print((\"total %d %d\"):format(rq, rs))\n"
		"end\n";
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT(setup_lua, "-t2", "-c2", "-n100", "--output",
		       at("out.json"), "--json", url);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "thread 1 created\n"));
	assert_non_null(strstr(r.out, "thread 2 created\n"));
	assert_non_null(strstr(r.out, "thread 1 made 50 requests and got 50 "
				      "responses\n"));
	assert_non_null(strstr(r.out, "thread 2 made 50 requests and got 50 "
				      "responses\n"));
	assert_non_null(strstr(r.out, "total 100 100\n"));
	expect_log(100, NULL);
	cb_out_free(&r);
}

/* stop.lua: thread:stop() after the 100th response ends the thread's run
 * long before -d */
static void test_script_stop(void **state)
{
	static const char stop_lua[] = "local counter = 1\n"
				       "function response()\n"
				       "   if counter == 100 then\n"
				       "      wrk.thread:stop()\n"
				       "   end\n"
				       "   counter = counter + 1\n"
				       "end\n";
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT(stop_lua, "-t1", "-c1", "-d30s", "--json", url);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 100);
	assert_true(jnum(r.out, NULL, "runtime_ns") < 10e9);
	expect_log(100, NULL);
	cb_out_free(&r);
}

/* addr.lua: setup() picks the thread's address with wrk.lookup() and
 * wrk.connect(); init() prints it */
static void test_script_addr(void **state)
{
	static const char addr_lua[] =
		"local addrs = nil\n"
		"function setup(thread)\n"
		"   if not addrs then\n"
		"      addrs = wrk.lookup(wrk.host, wrk.port or \"http\")\n"
		"      for i = #addrs, 1, -1 do\n"
		"         if not wrk.connect(addrs[i]) then\n"
		"            table.remove(addrs, i)\n"
		"         end\n"
		"      end\n"
		"   end\n"
		"   thread.addr = addrs[math.random(#addrs)]\n"
		"end\n"
		"function init(args)\n"
		"   local msg = \"thread addr: %s\"\n"
		"   print(msg:format(tostring(wrk.thread.addr)))\n"
		"end\n";
	struct cb_out r;
	char want[64];
	(void)state;
	r = RUN_SCRIPT(addr_lua, "-t2", "-c2", "-n20", "--json", url);
	cb_expect_ok(&r);
	snprintf(want, sizeof(want), "thread addr: 127.0.0.1:%u\n", port);
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(strstr(r.out, want) + 1, want));
	expect_log(20, NULL);
	cb_out_free(&r);
}

/* response()'s parameters decide what it gets: a vararg one all three
 * values; after the script assigns another response(), the new one gets
 * what its parameters ask for (the headers table and the body string) */
static void test_script_response_params(void **state)
{
	static const char params_lua[] =
		"n, all, ok, bad = 0, 0, 0, 0\n"
		"response = function(...)\n"
		"  local status, headers, body = ...\n"
		"  n = n + 1\n"
		"  if select('#', ...) == 3 and status == 200 and\n"
		"     headers[\"Content-Type\"] and body == \"ok\" then\n"
		"    all = all + 1\n"
		"  end\n"
		"  if n == 5 then\n"
		"    response = function(status)\n"
		"      n = n + 1\n"
		"      if n == 10 then\n"
		"        response = function(status, headers, body)\n"
		"          if headers[\"Content-Type\"] and body == \"ok\" "
		"then\n"
		"            ok = ok + 1\n"
		"          else\n"
		"            bad = bad + 1\n"
		"          end\n"
		"        end\n"
		"      end\n"
		"    end\n"
		"  end\n"
		"end\n"
		"function setup(t) thread = t end\n"
		"function done()\n"
		"  print(string.format(\"all %d ok %d bad %d\", "
		"thread:get(\"all\"), thread:get(\"ok\"), "
		"thread:get(\"bad\")))\n"
		"end\n";
	struct cb_out r;
	int all = -1, ok = -1, bad = -1;
	const char *line;
	(void)state;
	r = RUN_SCRIPT(params_lua, "-t1", "-c1", "-n30", url);
	cb_expect_ok(&r);
	line = strstr(r.out, "all ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "all %d ok %d bad %d", &all, &ok, &bad),
			 3);
	assert_int_equal(all, 5);
	/* 20 responses after the second switch; the first of them may come
	 * without what the first response(status) did not ask for */
	assert_int_equal(ok + bad, 20);
	assert_true(ok >= 19);
	cb_out_free(&r);
}

/* The cost rule: a static script runs no Lua per request. A call hook
 * set in init() counts every function call the thread's state makes
 * from then on: none for 200 requests with post.lua's settings, one per
 * request once the script defines request() */
static void test_script_static_no_lua_per_request(void **state)
{
	static const char hook_lua[] =
		"calls = 0\n"
		"function setup(t) thread = t end\n"
		"function init(args)\n"
		"  debug.sethook(function() calls = calls + 1 end, \"c\")\n"
		"end\n"
		"function done(summary)\n"
		"  print(string.format(\"calls %d requests %d\", "
		"thread:get(\"calls\"), summary.requests))\n"
		"end\n";
	char script[2048];
	struct cb_out r;
	(void)state;
	unsigned calls = 0, reqs = 0;
	const char *line;
	snprintf(script, sizeof(script), "%s%s", post_lua, hook_lua);
	r = RUN_SCRIPT(script, "-t1", "-c4", "-n200", url);
	cb_expect_ok(&r);
	/* set-up's own calls (wrk.format() building the request) only */
	assert_non_null(line = strstr(r.out, "calls "));
	assert_int_equal(sscanf(line, "calls %u requests %u", &calls, &reqs),
			 2);
	assert_int_equal(reqs, 200);
	assert_true(calls < 10);
	cb_out_free(&r);
	/* the same with a request(): calls per request (request() and the
	 * wrk.request() it calls) */
	snprintf(script, sizeof(script),
		 "%s%sfunction request() return wrk.request() end\n", post_lua,
		 hook_lua);
	r = RUN_SCRIPT(script, "-t1", "-c4", "-n200", url);
	cb_expect_ok(&r);
	assert_non_null(line = strstr(r.out, "calls "));
	assert_int_equal(sscanf(line, "calls %u requests %u", &calls, &reqs),
			 2);
	assert_int_equal(reqs, 200);
	assert_true(calls >= 400);
	cb_out_free(&r);
}

/* In the open model the schedule decides when requests leave: delay() is
 * not called (a 1 s delay would allow 2 requests in 1 s) */
static void test_script_delay_ignored_open_model(void **state)
{
	struct cb_out r;
	(void)state;
	r = RUN_SCRIPT("function delay()\n  return 1000\nend\n", "-t1", "-c2",
		       "-R100", "-d1s", "--json", url);
	cb_expect_ok(&r);
	assert_true(j_requests(r.out) >= 90);
	cb_out_free(&r);
}

/* counter.lua against coil-serve (paths /bytes/N, which it answers):
 * its access log has every path */
static void test_script_counter_serve(void **state)
{
	struct cb_out r;
	char *log, want[64];
	(void)state;
	serve_start(&srv, "1");
	r = RUN_SCRIPT("counter = 0\n"
		       "request = function()\n"
		       "   path = \"/bytes/\" .. counter\n"
		       "   wrk.headers[\"X-Counter\"] = counter\n"
		       "   counter = counter + 1\n"
		       "   return wrk.format(nil, path)\n"
		       "end\n",
		       "-t1", "-c1", "-n50", "--json", srv.base);
	log = serve_stop(&srv);
	cb_expect_ok(&r);
	assert_int_equal((uint64_t)j_requests(r.out), 50);
	for (int k = 0; k < 50; k++) {
		snprintf(want, sizeof(want), "\"GET /bytes/%d HTTP/1.1\" 200",
			 k);
		assert_non_null(strstr(log, want));
	}
	free(log);
	cb_out_free(&r);
}

/* wrk.segment: with --segment, the worker's share, so that each worker's
 * script takes its own offset (here: its own page); nil on one machine */
static void test_script_segment_offset(void **state)
{
	static const char seg_lua[] =
		"if wrk.segment then\n"
		"   wrk.path = \"/seg\" .. wrk.segment.index\n"
		"   io.write((\"segment %d of %d, connections %d from %d\\n\")"
		":format(wrk.segment.index, wrk.segment.count, "
		"wrk.segment.connections, wrk.segment.first_connection))\n"
		"else\n"
		"   io.write(\"one machine\\n\")\n"
		"end\n";
	struct cb_out r;
	char **l;
	uint64_t n, seg2 = 0;
	(void)state;
	r = RUN_SCRIPT(seg_lua, "-t1", "-c5", "-n10", "--segment", "2/2", url);
	cb_expect_ok(&r);
	assert_non_null(
		strstr(r.out, "segment 2 of 2, connections 2 from 3\n"));
	l = log_lines(5, &n);
	assert_int_equal(n, 5); /* -n 10 over two workers */
	for (uint64_t i = 0; i < n; i++)
		seg2 += strstr(l[i], "/seg2") != NULL;
	assert_int_equal(seg2, 5);
	lines_free(l);
	cb_out_free(&r);
	r = RUN_SCRIPT(seg_lua, "-t1", "-c1", "-n1", url);
	cb_expect_ok(&r);
	assert_non_null(strstr(r.out, "one machine\n"));
	cb_out_free(&r);
}

/* ---- arguments, JSON, errors ----------------------------------------------
 */

static void test_script_args_and_json(void **state)
{
	static const char args_lua[] =
		"function init(args)\n"
		"   io.write(\"args \", args[0], \" \", args[1], \" \", "
		"args[2], \" \", #args, \"\\n\")\n"
		"end\n";
	struct cb_out r;
	char want[160], *json;
	(void)state;
	put("s.lua", args_lua);
	r = RUN("-s", at("s.lua"), "-t1", "-c1", "-n5", "--json", "--output",
		at("out.json"), url, "--", "one", "-x");
	cb_expect_ok(&r);
	snprintf(want, sizeof(want), "args %s one -x 2\n", url);
	assert_non_null(strstr(r.out, want));
	json = slurp(at("out.json"));
	snprintf(want, sizeof(want),
		 "\"script\": {\n      \"path\": \"%s\",\n      \"args\": [\n"
		 "        \"one\",\n        \"-x\"\n      ]",
		 at("s.lua"));
	if (!strstr(json, want))
		fprintf(stderr, "want %s\nin %s\n", want, json);
	assert_non_null(strstr(json, want));
	assert_non_null(strstr(json, "\"stopped\": null"));
	free(json);
	cb_out_free(&r);
}

static void test_script_syntax_error_exit_2(void **state)
{
	struct cb_out r;
	char want[300];
	(void)state;
	r = RUN_SCRIPT("x = 1\nx = = 2\n", "-t1", "-c1", "-d1s", url);
	assert_int_equal(r.status, 2);
	snprintf(want, sizeof(want), "coil-bench: %s:2: ", at("s.lua"));
	assert_non_null(strstr(r.err, want));
	assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	cb_out_free(&r);
	/* a missing file too */
	r = RUN("-s", at("missing.lua"), "-t1", "-c1", url);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "missing.lua"));
	cb_out_free(&r);
}

static void test_script_init_error_exit_2(void **state)
{
	struct cb_out r;
	char want[300];
	(void)state;
	r = RUN_SCRIPT("function init(args)\n  local t = nil\n"
		       "  return t.field\nend\n",
		       "-t1", "-c1", "-d1s", url);
	assert_int_equal(r.status, 2);
	snprintf(want, sizeof(want), "coil-bench: %s:3: attempt to index",
		 at("s.lua"));
	assert_non_null(strstr(r.err, want));
	cb_out_free(&r);
	expect_log(0, NULL); /* nothing was sent */
}

/* an error in request() during the run: the run stops, exit 1, the
 * report and the JSON say why */
static void test_script_run_error_stops(void **state)
{
	static const char err_lua[] = "local n = 0\n"
				      "request = function()\n"
				      "  n = n + 1\n"
				      "  if n == 50 then\n"
				      "    error(\"boom at fifty\")\n"
				      "  end\n"
				      "  return wrk.format()\n"
				      "end\n";
	struct cb_out r;
	char want[300];
	(void)state;
	r = RUN_SCRIPT(err_lua, "-t1", "-c1", "-d30s", url);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "Stopped early: script error: %s:5: boom at fifty",
		 at("s.lua"));
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(r.out, "49 requests in"));
	assert_non_null(strstr(r.err, "boom at fifty"));
	cb_out_free(&r);
	r = RUN_SCRIPT(err_lua, "-t2", "-c2", "-d30s", "--json", url);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "\"stopped\": \"script error: %s:5: boom at fifty\"",
		 at("s.lua"));
	assert_non_null(strstr(r.out, want));
	assert_true(jnum(r.out, NULL, "runtime_ns") < 10e9);
	cb_out_free(&r);
}

static void good_line(uint64_t i, char *buf, size_t cap)
{
	(void)i;
	snprintf(buf, cap, "GET /good - [-] [-] [-]");
}

/* request() returning a number or a malformed request: counted as
 * "script" errors, never sent */
static void test_script_bad_request_counted(void **state)
{
	static const char bad_lua[] =
		"local n = 0\n"
		"request = function()\n"
		"  n = n + 1\n"
		"  if n % 3 == 1 then return 42 end\n"
		"  if n % 3 == 2 then return \"GARBAGE /x\\r\\n\\r\\n\" end\n"
		"  return wrk.format(nil, \"/good\")\n"
		"end\n";
	struct cb_out r;
	double good;
	(void)state;
	r = RUN_SCRIPT(bad_lua, "-t1", "-c1", "-n30", "--json", url);
	cb_expect_ok(&r);
	good = j_requests(r.out);
	assert_int_equal((uint64_t)good, 10);
	assert_non_null(strstr(r.out, "\"errors\": {"));
	assert_int_equal((uint64_t)jnum(strstr(r.out, "\"errors\": {"),
					"\"script\": {", "count"),
			 20);
	assert_non_null(strstr(r.out, "\"name\": \"EINVAL\""));
	assert_non_null(strstr(r.out, "\"name\": \"COIL_EPARSE\""));
	expect_log(10, good_line);
	cb_out_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script_post_nginx),
		cmocka_unit_test(test_script_post_echo),
		cmocka_unit_test(test_script_counter),
		cmocka_unit_test(test_script_counter_open_model),
		cmocka_unit_test(test_script_auth),
		cmocka_unit_test(test_script_delay),
		cmocka_unit_test(test_script_pipeline),
		cmocka_unit_test(test_script_report),
		cmocka_unit_test(test_script_setup),
		cmocka_unit_test(test_script_segment_offset),
		cmocka_unit_test(test_script_stop),
		cmocka_unit_test(test_script_addr),
		cmocka_unit_test(test_script_response_params),
		cmocka_unit_test(test_script_static_no_lua_per_request),
		cmocka_unit_test(test_script_delay_ignored_open_model),
		cmocka_unit_test(test_script_counter_serve),
		cmocka_unit_test(test_script_args_and_json),
		cmocka_unit_test(test_script_syntax_error_exit_2),
		cmocka_unit_test(test_script_init_error_exit_2),
		cmocka_unit_test(test_script_run_error_stops),
		cmocka_unit_test(test_script_bad_request_counted),
	};
	return cmocka_run_group_tests_name("bench.script", tests, setup_all,
					   teardown_all);
}
