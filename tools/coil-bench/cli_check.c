/*
 * tools/coil-bench/cli_check.c - what coil-bench's options exclude and
 * imply once all are read (cb_cli_parse() calls it last): the modes
 * (--stages, --find-max-rate), the connection options, the protocol's
 * options, the defaults that depend on others; then the body and the
 * URLs are loaded. One-line errors, never printed here; nothing here
 * calls cli.c back.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/tls_opts.h"
#include "cli_internal.h"

/* What the connection options exclude (the files are read later: the
 * TLS ones by main, the --targets file by targets.c). */
static int check_conn_options(const struct cb_opts *o, char *err, size_t len)
{
	struct tools_tls_opts t = {.cert = o->cert, .key = o->key};
	int ret;
	if ((ret = tools_tls_check(&t, err, len)) ||
	    (ret = cb_route_check(&o->routes, err, len)))
		return ret;
	if (!o->targets_file)
		return 0;
	if (o->url || o->urls_file)
		return tools_fail(err, len,
				  "--targets gives the URLs: leave out the URL "
				  "and --urls");
	if (o->script)
		return tools_fail(err, len,
				  "-s and --targets exclude each other: the "
				  "script makes the requests");
	if (o->method || o->body_file)
		return tools_fail(err, len,
				  "--targets gives each request's method and "
				  "body: leave out -m and --body-file");
	if (o->http2)
		return tools_fail(err, len,
				  "--targets runs over HTTP/1.1 only: leave "
				  "out --http2");
	return 0;
}

/* What --stages and --find-max-rate change and exclude. */
static int check_modes(struct cb_opts *o, bool have_d, bool have_r, char *err,
		       size_t len)
{
	int ret;
	if (o->find_max_rate) {
		if (!o->n_slos)
			return tools_fail(
				err, len,
				"--find-max-rate needs at least one --slo "
				"(the conditions each rate must meet)");
		if (o->stages_spec)
			return tools_fail(
				err, len,
				"--find-max-rate and --stages exclude each "
				"other");
		if (have_d || o->requests)
			return tools_fail(
				err, len,
				"--find-max-rate runs steps of --step "
				"each: -d and -n do not apply");
		if (o->script)
			return tools_fail(
				err, len,
				"--find-max-rate runs its steps without "
				"-s scripts");
		if (o->plot || o->hdr_log)
			return tools_fail(
				err, len,
				"--find-max-rate draws no --plot and "
				"writes no --hdr-log: run the rate it "
				"finds with them");
		if (!o->step_ns)
			o->step_ns = CB_DEFAULT_STEP_NS;
		if (!o->rate)
			o->rate = CB_DEFAULT_SEARCH_RATE;
		if (!o->warmup_ns)
			o->warmup_ns = o->step_ns / 5;
		o->duration_ns = o->step_ns;
		return 0;
	}
	if (o->step_ns)
		return tools_fail(err, len, "--step needs --find-max-rate");
	if (!o->stages_spec)
		return 0;
	if (have_d)
		return tools_fail(
			err, len,
			"--stages sets the run's length: leave out -d");
	if (o->warmup_ns)
		return tools_fail(
			err, len,
			"--stages and --warmup exclude each other (make "
			"the first stage the warm-up)");
	if (have_r) {
		ret = cb_cli_parse_stages(o, o->rate, CB_MAX_RATE, err, len);
		if (ret)
			return ret;
		if (!o->stages.peak)
			return tools_fail(
				err, len,
				"--stages never sends: every rate is 0");
		o->rate = o->stages.peak;
	} else {
		ret = cb_cli_parse_stages(o, o->connections, CB_MAX_CONNECTIONS,
					  err, len);
		if (ret)
			return ret;
		if (o->stages.peak > o->connections)
			o->connections = (uint32_t)o->stages.peak;
	}
	o->duration_ns = o->stages.total_ns;
	return 0;
}

int cb_cli_check(struct cb_opts *o, bool have_d, bool have_r,
		 const char *body_arg, char *err, size_t err_len)
{
	int ret;

	if ((ret = check_conn_options(o, err, err_len)))
		return ret;
	if (!o->url && !o->urls_file && !o->targets_file)
		return tools_fail(
			err, err_len,
			"missing URL (usage: coil-bench [options] URL; "
			"see --help)");
	if (have_r && !o->rate && !o->stages_spec)
		return tools_fail(
			err, err_len,
			"-R must be at least 1 (0 only as the start of "
			"--stages)");
	if ((ret = check_modes(o, have_d, have_r, err, err_len)))
		return ret;
	if ((ret = cb_segment_apply(o, err, err_len)))
		return ret;
	if (o->connections < o->threads)
		return tools_fail(
			err, err_len,
			"-c %u is less than -t %u: every thread needs at "
			"least one connection",
			o->connections, o->threads);
	if (o->rate && o->rate < o->threads)
		return tools_fail(
			err, err_len,
			"-R %llu is less than -t %u: every thread needs at "
			"least 1 request/s",
			(unsigned long long)o->rate, o->threads);
	if (o->uncorrected && !o->rate)
		return tools_fail(
			err, err_len,
			"-U needs -R: without a rate there is no intended "
			"send time, so nothing to correct");
	if (o->header_table_set && !o->http2)
		return tools_fail(err, err_len,
				  "--header-table-size needs --http2");
	if (o->max_streams && !o->http2)
		return tools_fail(err, err_len,
				  "--max-streams needs --http2 (HTTP/1.1 "
				  "pipelines with -P)");
	if (o->http2 && o->pipeline > 1)
		return tools_fail(err, err_len,
				  "-P is HTTP/1.1's: with --http2, "
				  "--max-streams N sets the streams in flight");
	if (o->http2 && !o->keepalive)
		return tools_fail(err, err_len,
				  "--http2 keeps its connections: "
				  "--no-keepalive is HTTP/1.1's");
	if (o->http2 && !o->max_streams)
		o->max_streams = 1; /* h2load's -m default */
	if (o->http2 && o->max_streams > 1 && !o->batch_wait_set)
		o->batch_wait_ns = CB_H2_BATCH_WAIT_NS;
	else if (!o->batch_wait_set &&
		 o->connections / o->threads >= CB_WIDE_CONNS)
		o->batch_wait_ns = CB_WIDE_BATCH_WAIT_NS;
	if (o->pipeline > 1 && !o->keepalive)
		return tools_fail(
			err, err_len,
			"-P %u needs keep-alive: --no-keepalive sends one "
			"request per connection",
			o->pipeline);
	if (body_arg && o->body_file)
		return tools_fail(err, err_len,
				  "-b and --body-file exclude each other");
	if (body_arg && o->targets_file)
		return tools_fail(err, err_len,
				  "--targets gives each request's body "
				  "('@file' lines): leave out -b");
	if (o->script && !o->url)
		return tools_fail(
			err, err_len,
			"-s needs the URL: the script's requests go to "
			"its host (--urls is not for scripts)");
	if (o->script && o->urls_file)
		return tools_fail(
			err, err_len,
			"-s and --urls exclude each other: the script "
			"makes the requests");
	if (o->requests && !have_d && !o->stages.n && !o->find_max_rate)
		o->duration_ns = 0; /* -n alone: until N requests are done */

	if (body_arg) {
		o->body_len = strlen(body_arg);
		o->body = strdup(body_arg);
		if (!o->body) {
			tools_fail(err, err_len, "out of memory");
			return -ENOMEM;
		}
	} else if (o->body_file) {
		ret = tools_read_file(o->body_file, CB_MAX_BODY_BYTES, &o->body,
				      &o->body_len);
		if (ret < 0) {
			tools_fail(err, err_len,
				   "cannot read --body-file '%s': %s",
				   o->body_file,
				   ret == -EFBIG ? "larger than 64 MiB"
						 : strerror(-ret));
			return ret;
		}
	}
	if (!o->method)
		o->method = o->body ? "POST" : "GET";

	if (o->url && (ret = cb_cli_add_url(o, o->url, strlen(o->url))) < 0) {
		tools_fail(err, err_len, "out of memory");
		return ret;
	}
	if (o->urls_file &&
	    (ret = cb_cli_read_urls(o, o->urls_file, err, err_len)))
		return ret;
	return 0;
}
