/*
 * tests/bench/test_report.c - the result struct and its reports: golden
 * text (wrk's layout and units plus coil's extras) and golden JSON for
 * fixed results, JSON validity and string escaping, error and status
 * counting, merging per-thread results, the saturation rule.
 *
 * COIL_UPDATE_GOLDEN=1 rewrites the golden files from the current output
 * (then review the diff).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coil/engine.h"
#include "cli.h"
#include "report.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------
 */

static void parse_opts(struct cb_opts *o, const char *args)
{
	char *copy = strdup(args), *argv[32], *save = NULL, err[256];
	static char *keep[64][32]; /* argv strings must outlive the opts */
	static int nkeep;
	int argc = 0;
	argv[argc++] = "coil-bench";
	for (char *t = strtok_r(copy, " ", &save); t;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	assert_true(nkeep < 64);
	memcpy(keep[nkeep++], argv, sizeof(argv)); /* copy stays alive */
	if (cb_cli_parse(o, argc, argv, err, sizeof(err)) != 0)
		fail_msg("parse '%s': %s", args, err);
}

static char *
render(void (*fn)(FILE *, const struct cb_opts *, const struct cb_result *),
       const struct cb_opts *o, const struct cb_result *r, bool header)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	if (header)
		cb_report_header(f, o);
	if (fn)
		fn(f, o, r);
	else
		assert_int_equal(cb_report_json(f, o, r), 0);
	fclose(f);
	return text;
}

/* The JSON on one line: each newline and the indent after it dropped. */
static void compact(char *s)
{
	char *w = s;
	for (const char *p = s; *p;) {
		if (*p == '\n') {
			while (*++p == ' ')
				;
			continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
}

static void golden(const char *name, const char *actual)
{
	char *path, *want = NULL;
	size_t cap = 0;
	FILE *f;
	assert_true(asprintf(&path, "%s/%s", COIL_GOLDEN_DIR, name) > 0);
	if (getenv("COIL_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(actual, f);
		fclose(f);
	}
	f = fopen(path, "r");
	if (!f)
		fail_msg("no golden file %s (COIL_UPDATE_GOLDEN=1 makes it)",
			 path);
	if (getdelim(&want, &cap, '\0', f) < 0)
		want = strdup("");
	fclose(f);
	if (strcmp(want, actual) != 0) {
		fprintf(stderr, "--- golden %s\n%s--- actual\n%s---\n", path,
			want, actual);
		fail_msg("output differs from %s", path);
	}
	free(want);
	free(path);
}

/* A closed-model run: 2 threads, 50 connections, 10 s. */
static void fill_basic(struct cb_result *r)
{
	assert_int_equal(cb_result_init(r), 0);
	for (uint64_t i = 0; i < 9900; i++) /* 200 .. 1199 us */
		coil_hist_record(r->latency, 200000 + (i * 7919 % 1000) * 1000);
	coil_hist_record_n(r->latency, 12920000, 100); /* 12.92 ms */
	for (uint64_t i = 0; i < 200; i++)	       /* 4.5k .. 5.49k req/s */
		coil_hist_record(r->req_per_sec, 4500 + (i * 37 % 100) * 10);
	r->runtime_ns = 10002000000ull;
	r->requests = 10000;
	r->bytes_read = 10000ull * 1843;
	r->bytes_written = 10000ull * 78;
	for (int i = 0; i < 10000; i++)
		cb_result_status(r, 200);
	r->connections_opened = 50;
	r->syscalls = 5123;
	r->cpu_user_ns = 123000000;
	r->cpu_sys_ns = 251000000;
}

/* An open-model run with every extra: errors, statuses, late sends, a
 * saturated generator, -L -U. */
static void fill_full(struct cb_result *r)
{
	assert_int_equal(cb_result_init(r), 0);
	for (uint64_t i = 0; i < 59000; i++) {
		uint64_t v = 800000 + (i * 104729 % 4000) * 1000; /* .8-4.8ms */
		coil_hist_record(r->latency, v + 150000);
		coil_hist_record(r->latency_uncorrected, v);
	}
	coil_hist_record_n(r->latency, 150000000, 1000); /* a 150 ms stall */
	coil_hist_record_n(r->latency_uncorrected, 2100000, 1000);
	coil_hist_record(r->latency, 500); /* below 1 us: clamped */
	for (uint64_t i = 0; i < 1200; i++)
		coil_hist_record(r->req_per_sec, 480 + i % 41);
	r->runtime_ns = 30000000000ull;
	r->requests = 60001;
	r->bytes_read = 60001ull * 20480 + 12345;
	r->bytes_written = 60001ull * 120;
	for (int i = 0; i < 59990; i++)
		cb_result_status(r, 200);
	for (int i = 0; i < 7; i++)
		cb_result_status(r, 404);
	cb_result_status(r, 503);
	cb_result_status(r, 503);
	cb_result_status(r, 101);
	cb_result_status(r, 999);
	r->connections_opened = 107;
	cb_result_error(r, CB_ERR_CONNECT, -ECONNREFUSED);
	cb_result_error(r, CB_ERR_CONNECT, -ECONNREFUSED);
	cb_result_error(r, CB_ERR_CONNECT, -EHOSTUNREACH);
	cb_result_error(r, CB_ERR_TLS, COIL_ETLS);
	snprintf(r->tls_error, sizeof(r->tls_error),
		 "certificate verification failed: the certificate is not "
		 "correctly signed by the trusted CA");
	cb_result_error(r, CB_ERR_READ, -EIO);
	cb_result_error(r, CB_ERR_RESET, -ECONNRESET);
	cb_result_error(r, CB_ERR_RESET, -ECONNRESET);
	cb_result_error(r, CB_ERR_RESET, COIL_ETRUNC);
	cb_result_error(r, CB_ERR_TIMEOUT, -ETIMEDOUT);
	cb_result_error(r, CB_ERR_PARSE, COIL_EPARSE);
	r->syscalls = 31000;
	r->cpu_user_ns = 52000000000ull;
	r->cpu_sys_ns = 58000000000ull;
	r->late = 1500;
	r->late_by.held = 1400;
	r->late_by.busy = 30;
	r->late_by.timer = 70;
	r->unsent = 120;
	r->max_lag_ns = 151234567;
	r->late_ns = 1000000;
	r->backlog_max_ns = 150500000;
	r->pacer_wakes = 120000;
	r->timer_wakes = 15000;
	r->timer_late = 210;
	r->timer_p99_ns = 1150000;
	r->timer_max_ns = 3400000;
	r->connect_ns = 12345678;
	r->connect_max_ns = 3456789;
	r->drain_ns = 2100000;
}

/* ---- golden reports -------------------------------------------------------
 */

static void test_report_text_basic_golden(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	parse_opts(&o, "-t 2 -c 50 -d 10s http://127.0.0.1:8080/index.html");
	fill_basic(&r);
	char *text = render(cb_report_text, &o, &r, true);
	golden("report_basic.txt", text);
	/* wrk's lines, as wrk prints them */
	assert_non_null(strstr(text, "Running 10s test @ "
				     "http://127.0.0.1:8080/index.html\n"
				     "  2 threads and 50 connections\n"
				     "  Thread Stats   Avg      Stdev     Max"
				     "   +/- Stdev\n"));
	assert_non_null(strstr(text, "\n  10000 requests in 10.00s, 17.58MB "
				     "read\n"));
	assert_non_null(strstr(text, "\nRequests/sec:    999.80\n"));
	assert_non_null(strstr(text, "\nTransfer/sec:      1.76MB\n"));
	assert_null(strstr(text, "Socket errors"));
	assert_null(strstr(text, "Non-2xx"));
	assert_null(strstr(text, "Latency Distribution"));
	assert_null(strstr(text, "Warning"));
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);
}

static void test_report_text_full_golden(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	char *dir = tu_tmpdir(), *urls, args[512];
	FILE *f;
	assert_true(asprintf(&urls, "%s/urls", dir) > 0);
	f = fopen(urls, "w");
	fputs("http://127.0.0.1:8080/b\nhttp://127.0.0.1:8080/c\n", f);
	fclose(f);
	snprintf(args, sizeof(args),
		 "-t 4 -c 100 -d 30s -R 2000 -L -U --warmup 5s -n 100k "
		 "--urls %s http://127.0.0.1:8080/a",
		 urls);
	parse_opts(&o, args);
	fill_full(&r);
	char *text = render(cb_report_text, &o, &r, true);
	golden("report_full.txt", text);
	assert_non_null(strstr(text, "  Socket errors: connect 4, read 5, "
				     "write 0, timeout 1\n"));
	assert_non_null(strstr(text, "  Non-2xx or 3xx responses: 11\n"));
	assert_non_null(strstr(text, "  Latency Distribution\n     50%"));
	assert_non_null(strstr(text, "\n    100%  150.00ms\n"));
	assert_non_null(strstr(text, "ECONNREFUSED 2 (Connection refused)"));
	/* a TLS failure carries mbedTLS's reason (coil_tls_error()) */
	assert_non_null(strstr(text,
			       "    tls             1  COIL_ETLS 1 (TLS "
			       "failure)\n             first: certificate "
			       "verification failed: the certificate is "
			       "not correctly signed by the trusted "
			       "CA\n"));
	assert_non_null(strstr(text, "Warning: the generator was saturated"
				     " (due requests waited over 1.00ms for "
				     "150.50ms; CPU 92% of 4 threads)"));
	/* the late sends split by cause, beside the idle timer's own */
	assert_non_null(strstr(text, "  Late by cause: 1400 waited for a free "
				     "connection (each one busy or "
				     "reconnecting), 30 behind a busy loop, 70 "
				     "woken late by the host's timer\n"));
	assert_non_null(strstr(text, "  Idle timer (the host's own lateness):"
				     " 210 of 15000 wakes late (over 1.00ms),"
				     " p99 1.15ms, at most 3.40ms\n"));
	assert_non_null(strstr(text, "  Connect: 100 connections opened in "
				     "12.35ms (the slowest 3.46ms), before the "
				     "measured window\n"));
	assert_non_null(strstr(text, "  Drain: the requests in flight at the "
				     "end awaited for 2.10ms, after the "
				     "measured window\n"));
	free(text);

	text = render(NULL, &o, &r, false);
	golden("report_full.json", text);
	free(text);

	cb_result_free(&r);
	cb_cli_free(&o);
	unlink(urls);
	rmdir(dir);
	free(urls);
	free(dir);
}

static void test_report_json_basic_golden(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	parse_opts(&o, "-t 2 -c 50 -d 10s -H Host:x -H X-Y:\"z\" "
		       "http://127.0.0.1:8080/index.html");
	fill_basic(&r);
	char *text = render(NULL, &o, &r, false);
	golden("report_basic.json", text);
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);
}

/* an empty run (nothing answered) prints zeros, not NaN */
static void test_report_empty_result(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	parse_opts(&o, "-n 10 -L http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	char *text = render(cb_report_text, &o, &r, true);
	assert_non_null(
		strstr(text, "Running test of 10 requests @ http://h/"));
	assert_non_null(strstr(text, "    Latency     0.00us    0.00us   "
				     "0.00us    0.00%\n"));
	assert_non_null(strstr(text, "  0 requests in 0.00us, 0.00B read\n"));
	assert_non_null(strstr(text, "Requests/sec:      0.00\n"));
	assert_null(strstr(text, "nan"));
	assert_null(strstr(text, "Per request"));
	free(text);
	text = render(NULL, &o, &r, false);
	assert_null(strstr(text, "nan"));
	assert_non_null(strstr(text, "\"requests_per_sec\": 0.000"));
	/* no sample, no latency: null, not 0 */
	compact(text);
	assert_non_null(strstr(text, "\"latency_ns\": {\"count\": 0,"
				     "\"min\": null,\"max\": null,"
				     "\"mean\": null,\"stdev\": null"));
	assert_non_null(strstr(text, "\"percentiles\": {\"50\": null,"
				     "\"75\": null"));
	assert_non_null(strstr(text, "\"100\": null},\"curve\": []"));
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);
}

/* schema 1: a version, the start time, one name per figure */
static void test_report_json_schema_and_start_time(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	parse_opts(&o, "-d 1s http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	r.start_unix_ns = 1764947401250000000ull; /* 2025-12-05T15:10:01.25Z */
	char *text = render(NULL, &o, &r, false);
	compact(text);
	assert_true(strstr(text, "{\"schema\": 1,\"tool\": \"coil-bench\"") ==
		    text);
	assert_non_null(
		strstr(text, "\"start_time\": \"2025-12-05T15:10:01.250Z\""));
	assert_non_null(strstr(text, "\"thread_requests_per_sec\": {"));
	assert_null(strstr(text, "\"req_per_sec\""));
	free(text);
	r.start_unix_ns = 0; /* not recorded */
	text = render(NULL, &o, &r, false);
	assert_non_null(strstr(text, "\"start_time\": null"));
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);
}

/* -U: the uncorrected block first, under its own heading, so that the
 * last "Latency" row and the last "50%" line are the corrected ones (a
 * wrk2 parser keeping the last match) */
static void test_report_uncorrected_before_corrected(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	parse_opts(&o, "-t 1 -c 1 -R 100 -L -U http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	for (int i = 0; i < 100; i++) {
		coil_hist_record(r.latency, 5000000); /* corrected: 5 ms */
		coil_hist_record(r.latency_uncorrected, 1000000); /* 1 ms */
	}
	r.requests = 100;
	r.runtime_ns = 1000000000ull;
	char *text = render(cb_report_text, &o, &r, true);
	char *unc = strstr(text, "  Uncorrected Latency (from the actual send "
				 "time; the corrected figures follow)\n");
	char *stats = strstr(text, "  Thread Stats");
	const char *last50 = NULL, *lastrow = NULL;
	assert_non_null(unc);
	assert_non_null(stats);
	assert_true(unc < stats);
	for (const char *p = text; (p = strstr(p, "     50%")); p++)
		last50 = p;
	for (const char *p = text; (p = strstr(p, "    Latency ")); p++)
		lastrow = p;
	assert_non_null(last50);
	assert_true(!strncmp(last50, "     50%    5.00ms", 18));
	assert_true(lastrow > stats);
	assert_non_null(strstr(lastrow, "5.00ms"));
	assert_true(strstr(lastrow, "5.00ms") < strchr(lastrow, '\n'));
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);
}

/* HTTPS handshakes and --batch-wait: a line each, JSON fields, merged */
static void test_report_tls_and_batch_wait(void **state)
{
	struct cb_opts o;
	struct cb_result r, all;
	char *text;
	parse_opts(&o, "-d 1s --batch-wait 100us https://h/");
	assert_int_equal(cb_result_init(&r), 0);
	assert_int_equal(cb_result_init(&all), 0);
	r.runtime_ns = 1000000000ull;
	r.requests = 10;
	r.tls_handshakes = 4;
	r.tls_resumed = 3;
	r.tls_handshake_ns = 4 * 1500000ull; /* 1.5 ms each */
	assert_int_equal(cb_result_merge(&all, &r), 0);
	assert_int_equal(cb_result_merge(&all, &r), 0);
	assert_int_equal(all.tls_handshakes, 8);
	assert_int_equal(all.tls_resumed, 6);
	text = render(cb_report_text, &o, &all, true);
	assert_non_null(strstr(text, "  batch wait 100us\n"));
	assert_non_null(strstr(text, "  TLS: 8 handshakes (6 resumed), mean "
				     "1.50ms from connect to handshake "
				     "done\n"));
	free(text);
	text = render(NULL, &o, &all, false);
	assert_non_null(strstr(text, "\"batch_wait_ns\": 100000"));
	assert_non_null(strstr(text, "\"handshakes\": 8"));
	assert_non_null(strstr(text, "\"handshake_mean_ns\": 1500000.000"));
	free(text);
	cb_result_free(&r);
	cb_result_free(&all);
	cb_cli_free(&o);
}

/* Response times: said when not all from the kernel, merged, in JSON */
static void test_report_response_times(void **state)
{
	struct cb_opts o;
	struct cb_result r, all;
	char *text;
	(void)state;
	parse_opts(&o, "-d 1s http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	assert_int_equal(cb_result_init(&all), 0);
	r.runtime_ns = 1000000000ull;
	r.requests = 10;
	r.rx_reads = 10;
	r.rx_stamped = 10;
	r.batch_wait_ns = 100000;
	assert_int_equal(cb_result_merge(&all, &r), 0);
	text = render(cb_report_text, &o, &all, true);
	assert_null(strstr(text, "Response times"));
	free(text);
	text = render(NULL, &o, &all, false);
	assert_non_null(strstr(text, "\"source\": \"kernel\""));
	assert_non_null(strstr(text, "\"stamped_reads\": 10"));
	free(text);
	/* a thread without timestamps: mixed, then reap */
	r.rx_stamped = 0;
	r.batch_wait_ns = 0;
	r.rx_fallback = CB_RX_NO_STAMPS;
	assert_int_equal(cb_result_merge(&all, &r), 0);
	assert_int_equal(all.rx_reads, 20);
	assert_int_equal(all.rx_stamped, 10);
	assert_int_equal(all.batch_wait_ns, 100000);
	text = render(cb_report_text, &o, &all, true);
	assert_non_null(strstr(text, "  Response times: kernel receive "
				     "timestamps for 50.0% of reads, the rest "
				     "when reaped; batched waits 100us, which "
				     "latencies include\n"));
	free(text);
	all.rx_stamped = 0;
	all.batch_wait_ns = 0;
	text = render(cb_report_text, &o, &all, true);
	assert_non_null(strstr(text, "  Response times: when reaped (no "
				     "receive timestamps from the sockets); "
				     "batched waits off\n"));
	free(text);
	text = render(NULL, &o, &all, false);
	assert_non_null(strstr(text, "\"source\": \"reap\""));
	assert_non_null(strstr(text, "\"fallback\": \"no receive "
				     "timestamps from the sockets\""));
	free(text);
	cb_result_free(&r);
	cb_result_free(&all);
	cb_cli_free(&o);
}

/* CLOCK_REALTIME steps the loops saw: added up over threads, said beside
 * the timestamp source even when every other read was stamped, in JSON */
static void test_report_clock_steps(void **state)
{
	struct cb_opts o;
	struct cb_result r, all;
	char *text;
	(void)state;
	parse_opts(&o, "-d 1s http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	assert_int_equal(cb_result_init(&all), 0);
	r.runtime_ns = 1000000000ull;
	r.requests = 1000;
	r.rx_reads = 1000;
	r.rx_stamped = 999;
	r.batch_wait_ns = 100000;
	r.rx_clock_steps = 1;
	r.rx_step_fallbacks = 1;
	assert_int_equal(cb_result_merge(&all, &r), 0);
	r.rx_step_fallbacks = 2;
	assert_int_equal(cb_result_merge(&all, &r), 0);
	assert_int_equal(all.rx_clock_steps, 2);
	assert_int_equal(all.rx_step_fallbacks, 3);
	text = render(cb_report_text, &o, &all, true);
	assert_non_null(strstr(text, "  Response times: kernel receive "
				     "timestamps; CLOCK_REALTIME stepped 2 "
				     "times, 3 reads timed when reaped for "
				     "it; batched waits 100us\n"));
	free(text);
	text = render(NULL, &o, &all, false);
	assert_non_null(strstr(text, "\"clock_steps\": 2"));
	assert_non_null(strstr(text, "\"step_fallbacks\": 3"));
	free(text);
	cb_result_free(&r);
	cb_result_free(&all);
	cb_cli_free(&o);
}

/* ---- JSON validity ----------------------------------------------------- */

static const char *j_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *j_value(const char *p, int depth);

static const char *j_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++) {
					if (!strchr("0123456789abcdefABCDEF",
						    p[i]) ||
					    !p[i])
						return NULL;
				}
				p += 5;
				continue;
			}
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
		}
		p++;
	}
	return p + 1;
}

static const char *j_number(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

static const char *j_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = j_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';
		p = j_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = j_string(j_ws(p));
				if (!p)
					return NULL;
				p = j_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = j_value(p, depth + 1);
			if (!p)
				return NULL;
			p = j_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return j_string(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return j_number(p);
}

static void assert_valid_json(const char *text)
{
	const char *end = j_value(text, 0);
	if (!end)
		fail_msg("invalid JSON:\n%s", text);
	assert_string_equal(j_ws(end), "");
}

static void test_report_json_is_valid(void **state)
{
	struct cb_opts o;
	struct cb_result r;
	char *text;
	/* a header and a URL that need escaping */
	char *argv[] = {"coil-bench", "-H", "X-Q: \"q\" \\ \t",
			"-R",	      "10", "http://h/\xff\"\x01",
			NULL};
	char err[256];
	assert_int_equal(cb_cli_parse(&o, 6, argv, err, sizeof(err)), 0);
	fill_full(&r);
	text = render(NULL, &o, &r, false);
	assert_valid_json(text);
	assert_non_null(strstr(text, "\"X-Q: \\\"q\\\" \\\\ \\t\""));
	assert_non_null(strstr(text, "\"http://h/\\ufffd\\\"\\u0001\""));
	free(text);
	cb_result_free(&r);
	cb_cli_free(&o);

	/* the validator itself rejects broken JSON */
	assert_null(j_value("{\"a\": }", 0));
	assert_null(j_value("{\"a\" 1}", 0));
	assert_null(j_value("[1,]", 0));
	assert_null(j_value("\"\x01\"", 0));
}

static char *json_str(const char *s, size_t len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	cb_json_string(f, s, len);
	fclose(f);
	return text;
}

#define ESC(in, want)                                                          \
	do {                                                                   \
		char *got_ = json_str(in, sizeof(in) - 1);                     \
		assert_string_equal(got_, want);                               \
		assert_valid_json(got_);                                       \
		free(got_);                                                    \
	} while (0)

static void test_report_json_string_escaping(void **state)
{
	ESC("plain", "\"plain\"");
	ESC("", "\"\"");
	ESC("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	ESC("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	ESC("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
	ESC("a\0b", "\"a\\u0000b\"");
	/* valid UTF-8 passes: 2, 3 and 4 bytes, the edges of the ranges */
	ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	ESC("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf",
	    "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
	/* each invalid byte becomes U+FFFD */
	ESC("\xff", "\"\\ufffd\"");
	ESC("\x80", "\"\\ufffd\"");
	ESC("\xc0\xaf", "\"\\ufffd\\ufffd\"");		  /* overlong */
	ESC("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
	ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	ESC("\xf4\x90\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	ESC("\xe2\x82", "\"\\ufffd\\ufffd\"");	 /* truncated */
	ESC("a\xe2\x82z", "\"a\\ufffd\\ufffdz\"");
	ESC("\xc3\xa9\xc3", "\"\xc3\xa9\\ufffd\"");
}

/* ---- counting and merging ------------------------------------------------ */

static void test_result_errors_by_code(void **state)
{
	struct cb_result r;
	assert_int_equal(cb_result_init(&r), 0);
	for (int i = 1; i <= CB_ERR_CODES + 3; i++)
		cb_result_error(&r, CB_ERR_READ, -i);
	cb_result_error(&r, CB_ERR_READ, -1);
	cb_result_error(&r, CB_ERR_READ, 0);		  /* no code */
	cb_result_error(&r, (enum cb_err_class)99, -1);	  /* ignored */
	cb_result_error(&r, (enum cb_err_class) - 1, -1); /* ignored */
	struct cb_err_stats *e = &r.errors[CB_ERR_READ];
	assert_int_equal(e->count, CB_ERR_CODES + 5);
	assert_int_equal(e->codes[0].code, -1);
	assert_int_equal(e->codes[0].count, 2);
	assert_int_equal(e->codes[CB_ERR_CODES - 1].code, -CB_ERR_CODES);
	assert_int_equal(e->other, 4); /* 3 past the table + 1 uncoded */
	for (int c = 0; c < CB_ERR_CLASSES; c++) {
		if (c != CB_ERR_READ)
			assert_int_equal(r.errors[c].count, 0);
	}
	cb_result_status(&r, 200);
	cb_result_status(&r, 599);
	cb_result_status(&r, 600);
	cb_result_status(&r, 0);
	assert_int_equal(r.status[200], 1);
	assert_int_equal(r.status[599], 1);
	assert_int_equal(r.status[0], 1);
	assert_int_equal(r.status_other, 1);
	cb_result_free(&r);
	cb_result_free(&r); /* twice is fine */
}

static void test_result_merge_adds_threads(void **state)
{
	struct cb_result a, b, all;
	fill_basic(&a);
	fill_full(&b);
	assert_int_equal(cb_result_init(&all), 0);
	assert_int_equal(cb_result_merge(&all, &a), 0);
	assert_int_equal(cb_result_merge(&all, &b), 0);
	assert_int_equal(cb_result_merge(&all, &all), -EINVAL);
	assert_int_equal(all.runtime_ns, b.runtime_ns);
	assert_int_equal(all.requests, a.requests + b.requests);
	assert_int_equal(all.bytes_read, a.bytes_read + b.bytes_read);
	assert_int_equal(all.bytes_written, a.bytes_written + b.bytes_written);
	assert_int_equal(all.status[200], 10000 + 59990);
	assert_int_equal(all.status[404], 7);
	assert_int_equal(all.status_other, 1);
	assert_int_equal(all.connections_opened, 157);
	assert_int_equal(all.errors[CB_ERR_CONNECT].count, 3);
	assert_int_equal(all.errors[CB_ERR_CONNECT].codes[0].code,
			 -ECONNREFUSED);
	assert_int_equal(all.errors[CB_ERR_CONNECT].codes[0].count, 2);
	assert_int_equal(all.errors[CB_ERR_RESET].codes[1].code, COIL_ETRUNC);
	assert_int_equal(coil_hist_count(all.latency),
			 coil_hist_count(a.latency) +
				 coil_hist_count(b.latency));
	assert_int_equal(coil_hist_max(all.latency), 150000000);
	assert_int_equal(coil_hist_underflows(all.latency), 1);
	assert_int_equal(coil_hist_count(all.req_per_sec), 1400);
	assert_int_equal(all.syscalls, a.syscalls + b.syscalls);
	assert_int_equal(all.cpu_user_ns, a.cpu_user_ns + b.cpu_user_ns);
	assert_int_equal(all.late, 1500);
	assert_int_equal(all.unsent, 120);
	assert_int_equal(all.max_lag_ns, 151234567);
	assert_int_equal(all.late_ns, 1000000);

	/* error tables merge by code, overflow included */
	struct cb_result x, y;
	assert_int_equal(cb_result_init(&x), 0);
	assert_int_equal(cb_result_init(&y), 0);
	for (int i = 1; i <= 6; i++)
		cb_result_error(&x, CB_ERR_WRITE, -i);
	for (int i = 4; i <= 12; i++) /* 8 in the table, 1 in other */
		cb_result_error(&y, CB_ERR_WRITE, -i);
	assert_int_equal(cb_result_merge(&x, &y), 0);
	assert_int_equal(x.errors[CB_ERR_WRITE].count, 15);
	assert_int_equal(x.errors[CB_ERR_WRITE].codes[3].count, 2); /* -4 */
	assert_int_equal(x.errors[CB_ERR_WRITE].codes[7].code, -8);
	/* -9 .. -11 found no slot in x, -12 was "other" in y */
	assert_int_equal(x.errors[CB_ERR_WRITE].other, 4);

	cb_result_free(&x);
	cb_result_free(&y);
	cb_result_free(&a);
	cb_result_free(&b);
	cb_result_free(&all);
}

static void test_result_saturation_rule(void **state)
{
	struct cb_opts closed, open;
	struct cb_result r;
	parse_opts(&closed, "-t 2 -c 2 http://h/");
	parse_opts(&open, "-t 2 -c 2 -R 1000 http://h/");
	assert_int_equal(cb_result_init(&r), 0);
	r.runtime_ns = 10000000000ull;
	r.requests = 10000;
	/* CPU: 89% of 2 threads is fine, 90% is not */
	r.cpu_user_ns = 17800000000ull;
	assert_false(cb_result_saturated(&closed, &r));
	r.cpu_sys_ns = 200000000ull;
	assert_true(cb_result_saturated(&closed, &r));
	r.cpu_sys_ns = 0;
	/* -R: late sends alone are not saturation (a host's timer jitter
	 * makes some late on an idle generator), nor is an unsent rest */
	r.late = 5000;
	r.unsent = 30;
	assert_false(cb_result_saturated(&open, &r));
	/* a backlog of due requests that persisted 100 ms is */
	r.backlog_max_ns = 99999999;
	assert_false(cb_result_saturated(&open, &r));
	r.backlog_max_ns = 100000000;
	assert_true(cb_result_saturated(&open, &r));
	assert_false(cb_result_saturated(&closed, &r)); /* no schedule */
	cb_result_free(&r);
	cb_cli_free(&closed);
	cb_cli_free(&open);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_text_basic_golden),
		cmocka_unit_test(test_report_text_full_golden),
		cmocka_unit_test(test_report_json_basic_golden),
		cmocka_unit_test(test_report_empty_result),
		cmocka_unit_test(test_report_json_schema_and_start_time),
		cmocka_unit_test(test_report_uncorrected_before_corrected),
		cmocka_unit_test(test_report_tls_and_batch_wait),
		cmocka_unit_test(test_report_response_times),
		cmocka_unit_test(test_report_clock_steps),
		cmocka_unit_test(test_report_json_is_valid),
		cmocka_unit_test(test_report_json_string_escaping),
		cmocka_unit_test(test_result_errors_by_code),
		cmocka_unit_test(test_result_merge_adds_threads),
		cmocka_unit_test(test_result_saturation_rule),
	};
	return cmocka_run_group_tests_name("bench.report", tests, NULL, NULL);
}
