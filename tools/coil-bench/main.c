/*
 * tools/coil-bench/main.c - coil-bench: a wrk-compatible HTTP load tester
 * on io_uring.
 *
 * main() turns the command line into a target (URLs checked with the HTTP
 * layer's parser, requests pre-built with its writer, the host resolved
 * once with coil_resolve()), runs the generator threads (gen.c), and
 * prints wrk's report (report.c). Every bad input ends here with one line
 * on stderr and exit status 2, before any load is sent.
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "coil/async.h"
#include "coil/engine.h"
#include "coil/http.h"
#include "coil/tls.h"
#include "../common/url.h"
#include "../common/tls_opts.h"
#include "cli.h"
#include "gen.h"
#include "hdrlog.h"
#include "maxrate.h"
#include "merge.h"
#include "plotdata.h"
#include "probe.h"
#include "report.h"
#include "slo.h"
#include "script.h"
#include "targets.h"

#define PROGRESS_NS 500000000ull

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	va_list ap;
	fputs("coil-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CB_EXIT_USAGE;
}

/* ---- the target ----------------------------------------------------------
 */

struct resolve_ctx {
	struct coil_resolve_req req;
	int res;
	int done;
};

static void resolved(struct coil_op *op, int res, unsigned flags)
{
	struct resolve_ctx *rc =
		coil_container_of(op, struct resolve_ctx, req.op);
	(void)flags;
	rc->res = res;
	rc->done = 1;
}

#define RING_REFUSED (-4096 - 1000) /* resolve(): no ring to resolve on */

/* Resolve @host:@port once, on a loop and pool of its own
 * (coil_resolve()), into @addrs (room for COIL_RESOLVE_MAX), *@naddrs.
 * Return: 0; RING_REFUSED when no io_uring could be set up; -errno. */
static int resolve(const char *host, uint16_t port,
		   struct sockaddr_storage *addrs, unsigned *naddrs, char *why,
		   size_t why_len)
{
	struct coil_loop *loop = NULL;
	struct coil_pool *pool = NULL;
	struct coil_resolver *r = NULL;
	struct coil_pool_opts po = {.threads = 1};
	struct resolve_ctx rc;
	int ret;

	memset(&rc, 0, sizeof(rc));
	ret = coil_loop_new(&loop, NULL);
	if (ret < 0) {
		/* the first ring of the run: no io_uring here at all */
		snprintf(why, why_len, "%s", cb_ring_strerror(ret));
		return RING_REFUSED;
	}
	if ((ret = coil_pool_new(&pool, &po)) < 0 ||
	    (ret = coil_resolver_new(&r, loop, pool, NULL)) < 0) {
		snprintf(why, why_len, "resolver: %s", coil_strerror(ret));
		goto out;
	}
	coil_op_init(&rc.req.op, resolved);
	ret = coil_resolve(r, &rc.req, host, port);
	if (ret < 0) {
		snprintf(why, why_len, "%s", coil_strerror(ret));
		goto out;
	}
	while (!rc.done && (ret = coil_loop_run(loop, COIL_RUN_ONCE)) >= 0)
		;
	if (!rc.done) {
		snprintf(why, why_len, "%s", coil_strerror(ret));
		goto out;
	}
	if (rc.res < 0) {
		ret = rc.res;
		snprintf(why, why_len, "%s",
			 coil_resolve_strerror(&rc.req, rc.res));
		goto out;
	}
	*naddrs = rc.req.naddr;
	for (unsigned i = 0; i < rc.req.naddr; i++)
		memcpy(&addrs[i], &rc.req.addr[i],
		       coil_sockaddr_len(&rc.req.addr[i]));
	ret = 0;
out:
	coil_resolver_free(r);
	if (loop)
		coil_loop_run(loop, COIL_RUN_DEFAULT);
	coil_pool_free(pool);
	coil_loop_free(loop);
	return ret;
}

/* Where the connections to @host:@port go (route.h): --unix-socket, or
 * the --connect-to host and port, by --resolve or else DNS. On failure
 * @why says which host could not be resolved and why. */
static int cb_connect_addrs(const struct cb_routes *routes, const char *host,
			    uint16_t port, struct sockaddr_storage *addrs,
			    unsigned *naddrs, char *why, size_t why_len)
{
	const char *ch;
	uint16_t cp;
	char w[512];
	int ret;

	if (cb_route_unix_addr(routes, &addrs[0])) {
		*naddrs = 1;
		return 0;
	}
	cb_route_connect_to(routes, host, port, &ch, &cp);
	*naddrs = cb_route_lookup(routes, ch, cp, addrs);
	if (*naddrs)
		return 0;
	ret = resolve(ch, cp, addrs, naddrs, w, sizeof(w));
	if (ret == RING_REFUSED)
		snprintf(why, why_len, "cannot start: %s", w);
	else if (ret < 0)
		snprintf(why, why_len, "cannot resolve '%s': %s", ch, w);
	return ret;
}

static void target_free(struct cb_target *t)
{
	cb_target_hosts_free(t);
	free(t->reqs);
	free(t->req_off);
	free(t->req_len);
	if (t->tls)
		coil_tls_config_free(t->tls);
	memset(t, 0, sizeof(*t));
}

/* Split each -H "Name: value" into a header (value without surrounding
 * blanks). */
static struct coil_http_header *split_headers(const struct cb_opts *o,
					      int *has_host)
{
	struct coil_http_header *h = calloc(o->n_headers + 1, sizeof(*h));
	*has_host = 0;
	if (!h)
		return NULL;
	for (size_t i = 0; i < o->n_headers; i++) {
		const char *s = o->headers[i], *colon = strchr(s, ':');
		const char *v = colon + 1, *e = v + strlen(v);
		while (*v == ' ' || *v == '\t')
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		h[i].name = s;
		h[i].name_len = (size_t)(colon - s);
		h[i].value = v;
		h[i].value_len = (size_t)(e - v);
		if (h[i].name_len == 4 && !strncasecmp(s, "host", 4))
			*has_host = 1;
	}
	return h;
}

/* Parse and check every URL, build each request. Return 0, or the exit
 * status after printing the reason. */
static int build_target(const struct cb_opts *o, struct cb_target *t)
{
	struct coil_url *u = malloc(sizeof(*u)), *first = malloc(sizeof(*u));
	struct coil_http_header *hdrs = NULL;
	size_t cap = 0, used = 0;
	int has_host, ret = 0;

	memset(t, 0, sizeof(*t));
	t->req_off = calloc(o->n_urls, sizeof(*t->req_off));
	t->req_len = calloc(o->n_urls, sizeof(*t->req_len));
	hdrs = split_headers(o, &has_host);
	if (!u || !first || !t->req_off || !t->req_len || !hdrs) {
		ret = usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->n_urls; i++) {
		struct coil_url *cur = i ? u : first;
		struct coil_http_request_spec spec = {0};
		int n = coil_url_parse(cur, o->urls[i], strlen(o->urls[i]));
		if (n < 0) {
			char why[COIL_URL_MAX_LEN + 128];
			ret = usage_error("%s",
					  tools_url_why(o->urls[i], n, cur->why,
							why, sizeof(why)));
			goto out;
		}
		if (i &&
		    (cur->https != first->https || cur->port != first->port ||
		     strcasecmp(coil_url_host(cur), coil_url_host(first)) !=
			     0)) {
			ret = usage_error(
				"URL '%s' is on another server than '%s': "
				"every URL of a run must share scheme, host "
				"and port",
				o->urls[i], o->urls[0]);
			goto out;
		}
		spec.method = o->method;
		spec.target = coil_url_target(cur);
		spec.target_len = cur->target_len;
		if (!has_host) {
			spec.host = coil_url_authority(cur);
			spec.host_len = cur->auth_len;
		}
		spec.headers = hdrs;
		spec.nheaders = o->n_headers;
		spec.body = o->body;
		spec.body_len = o->body_len;
		spec.flags = o->keepalive ? 0 : COIL_HTTP_CLOSE;
		n = cb_target_add_request(t, &cap, &used, i, &spec);
		if (n == -ENOMEM) {
			ret = usage_error("out of memory");
			goto out;
		}
		if (n < 0) {
			ret = usage_error(
				"cannot build the request for '%s': %s%s",
				o->urls[i],
				n == -EINVAL ? "a header or the method is not "
					       "allowed (-H may not set "
					       "Content-Length, "
					       "Transfer-Encoding"
					     : coil_strerror(n),
				n == -EINVAL
					? (o->keepalive ? ")"
							: " or Connection "
							  "with "
							  "--no-keepalive)")
					: "");
			goto out;
		}
	}
	t->n_reqs = o->n_urls;
	t->https = first->https;
	t->port = first->port;
	snprintf(t->host, sizeof(t->host), "%s", coil_url_host(first));
	if (!strcmp(o->method, "HEAD"))
		t->parse_flags = COIL_HTTP_PARSE_HEAD;
out:
	free(u);
	free(first);
	free(hdrs);
	return ret;
}

/* -k, --cacert, --cert/--key, --tls-version (tools/common/tls_opts.h):
 * every file read now. Return: 0, or the exit status after saying why. */
/* --targets FILE (targets.c): read it, build each target's request,
 * group them by host. Return: 0, or the exit status after saying why. */
static int build_targets(const struct cb_opts *o, struct cb_target *t)
{
	struct cb_targets ts;
	struct coil_http_header *hdrs = NULL;
	char err[512];
	int has_host, ret;

	memset(t, 0, sizeof(*t));
	ret = cb_targets_read(&ts, o->targets_file, err, sizeof(err));
	if (ret == 0 && !(hdrs = split_headers(o, &has_host))) {
		snprintf(err, sizeof(err), "out of memory");
		ret = -ENOMEM;
	}
	if (ret == 0)
		ret = cb_targets_build(&ts, o, hdrs, o->n_headers, t, err,
				       sizeof(err));
	free(hdrs);
	cb_targets_free(&ts);
	if (ret == 0)
		return 0;
	fprintf(stderr, "coil-bench: %s\n", err);
	return ret == -ENOMEM ? CB_EXIT_START : CB_EXIT_USAGE;
}

/* Where each host's connections go (--targets: every host), and with
 * --cacert the TLS probe (probe.h) of each https one: a CA the user gave
 * that does not verify the server is a bad command line (exit 2). Without
 * --cacert an untrusted server is the run's business, as in coil-get: TLS
 * errors with mbedTLS's reason, exit 1. Return: 0, or the exit status
 * after saying why. */
static int route_hosts(const struct cb_opts *o, struct cb_target *t)
{
	char why[700];
	int ret = cb_connect_addrs(&o->routes, t->host, t->port, t->addrs,
				   &t->naddrs, why, sizeof(why));
	for (unsigned k = 0; ret == 0 && k < t->n_hosts; k++) {
		struct cb_host *h = &t->hosts[k];
		ret = cb_connect_addrs(&o->routes, h->host, h->port, h->addrs,
				       &h->naddrs, why, sizeof(why));
	}
	if (ret == RING_REFUSED) {
		fprintf(stderr, "coil-bench: %s\n", why);
		return CB_EXIT_START;
	}
	if (ret < 0)
		return usage_error("%s", why);
	for (unsigned k = 0; k < (t->n_hosts ? t->n_hosts : 1); k++) {
		const struct cb_host *h = t->n_hosts ? &t->hosts[k] : NULL;
		if (o->insecure || !o->cacert || !(h ? h->https : t->https))
			continue;
		if (cb_tls_probe(t->tls, h ? h->host : t->host,
				 h ? h->addrs : t->addrs,
				 h ? h->naddrs : t->naddrs, o->timeout_ns, why,
				 sizeof(why)) == COIL_ETLS)
			return usage_error("%s (--cacert '%s')", why,
					   o->cacert);
	}
	return 0;
}

static int tls_setup(const struct cb_opts *o, struct cb_target *t)
{
	struct tools_tls_opts to = {.insecure = o->insecure,
				    .cacert = o->cacert,
				    .cert = o->cert,
				    .key = o->key,
				    .versions = o->tls_versions,
				    /* ALPN: h2, then http/1.1 (refused by
				     * the run) */
				    .alpn = o->http2 ? coil_h2_alpn : NULL};
	char why[320];
	int status = tools_tls_config(&to, &t->tls, why, sizeof(why));
	if (status)
		fprintf(stderr, "coil-bench: %s\n", why);
	return status;
}

/* ---- output -------------------------------------------------------------
 */

static uint64_t prog_prev_n, prog_prev_t;

static void progress(struct cb_run *run, uint64_t elapsed_ns)
{
	uint64_t n = 0, e = 0;
	double rate;
	for (unsigned k = 0; k < run->threads; k++) {
		n += atomic_load_explicit(&run->th[k].live_requests,
					  memory_order_relaxed);
		e += atomic_load_explicit(&run->th[k].live_errors,
					  memory_order_relaxed);
	}
	rate = elapsed_ns > prog_prev_t
		       ? (double)(n - prog_prev_n) * 1e9 /
				 (double)(elapsed_ns - prog_prev_t)
		       : 0;
	prog_prev_n = n;
	prog_prev_t = elapsed_ns;
	fprintf(stderr,
		"\r\033[K  %6.1fs  %10.0f req/s  %llu responses  %llu errors",
		(double)elapsed_ns / 1e9, rate, (unsigned long long)n,
		(unsigned long long)e);
	fflush(stderr);
}

/* Ctrl-C (or SIGTERM): end the run as -d would, report what was
 * measured; a second one kills at once (the default action). */
static struct cb_run *sig_run;
static int interrupted; /* a run was interrupted: no more runs */

static void on_signal(int sig)
{
	if (sig_run)
		atomic_store(&sig_run->interrupted, 1);
	signal(sig, SIG_DFL);
}

static void raise_nofile(uint64_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want + 64 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * Run the load once as @o says, from connecting to the merged result.
 * @series: initialised here; cb_series_free() it whatever the outcome.
 * @all:    on success the merged result (cb_result_free() it), its series
 *          pointing into @series.
 * Return: 0, or the exit status after saying why on stderr.
 */
static int run_load(const struct cb_opts *o, const struct cb_target *t,
		    struct cb_hdr *hdr, struct cb_script *script,
		    struct cb_series *series, struct cb_result *all)
{
	struct cb_run run;
	struct timespec wall;
	int ret, status = 0, fatal = 0;

	memset(&run, 0, sizeof(run));
	if (cb_series_init(series, o->threads) < 0) {
		memset(series, 0, sizeof(*series));
		fprintf(stderr, "coil-bench: out of memory\n");
		return CB_EXIT_START;
	}
	raise_nofile(o->connections);
	run.series = series;
	run.hdr = hdr;
	run.o = o;
	run.t = t;
	run.threads = o->threads;
	run.batch_wait_ns = o->batch_wait_ns;
	run.script = script;
	run.th = calloc(o->threads, sizeof(*run.th));
	if (!run.th) {
		fprintf(stderr, "coil-bench: out of memory\n");
		return CB_EXIT_START;
	}
	sig_run = &run;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prog_prev_n = prog_prev_t = 0;
	clock_gettime(CLOCK_REALTIME, &wall);
	ret = cb_run_threads(&run, isatty(STDERR_FILENO) ? progress : NULL,
			     PROGRESS_NS);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sig_run = NULL;
	if (atomic_load(&run.interrupted))
		interrupted = 1;
	if (isatty(STDERR_FILENO)) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	if (ret < 0) {
		fprintf(stderr, "coil-bench: cannot start threads: %s\n",
			strerror(-ret));
		free(run.th);
		return CB_EXIT_START;
	}
	for (unsigned k = 0; k < o->threads; k++) {
		if (run.th[k].fatal && !fatal++)
			fprintf(stderr, "coil-bench: thread %u: %s\n", k,
				run.th[k].fatal_msg);
	}
	if (atomic_load(&run.interrupted))
		fprintf(stderr, "coil-bench: interrupted: the report covers "
				"the run until then\n");
	if (fatal) {
		status = CB_EXIT_START;
	} else if (cb_result_init(all) < 0 ||
		   (o->stages.n && cb_result_stages(all, o->stages.n) < 0) ||
		   (t->n_hosts && cb_result_hosts(all, t->n_hosts) < 0)) {
		cb_result_free(all);
		fprintf(stderr, "coil-bench: out of memory\n");
		status = CB_EXIT_START;
	} else {
		for (unsigned k = 0; k < o->threads; k++)
			cb_result_merge(all, &run.th[k].r);
		cb_series_finish(series);
		all->series = series->pt;
		all->nseries = series->n;
		all->start_unix_ns = (uint64_t)wall.tv_sec * 1000000000ull +
				     (uint64_t)wall.tv_nsec;
		for (unsigned k = 0; k < t->n_hosts; k++) {
			const struct cb_host *h = &t->hosts[k];
			snprintf(all->by_host[k].name,
				 sizeof(all->by_host[k].name), "%s://%s%s%s:%u",
				 h->https ? "https" : "http",
				 strchr(h->host, ':') ? "[" : "", h->host,
				 strchr(h->host, ':') ? "]" : "", h->port);
			all->by_host[k].connections =
				cb_target_host_conns(t, k, o->connections);
		}
	}
	for (unsigned k = 0; k < o->threads; k++)
		cb_result_free(&run.th[k].r);
	free(run.th);
	return status;
}

/* --plot FILE.svg of the run just made, into @f (opened before the run,
 * so a path that cannot be written fails before any load). Return: 0, or
 * CB_EXIT_FAILED after saying why. */
static int write_plot(const struct cb_opts *o, const struct cb_result *r,
		      FILE *f)
{
	struct cb_plot_run run;
	char label[200];
	int ret;

	memset(&run, 0, sizeof(run));
	snprintf(label, sizeof(label), "%s%s",
		 o->n_urls ? o->urls[0] : o->targets_file,
		 o->n_urls > 1 ? " (+ more URLs)" : "");
	ret = cb_plot_from_result(&run, o, r, label);
	if (ret == 0)
		ret = cb_plot_svg(f, &run, 1, "coil-bench");
	if (ret == 0 && fflush(f) != 0)
		ret = -errno;
	cb_plot_run_free(&run);
	if (ret < 0) {
		fprintf(stderr, "coil-bench: writing --plot '%s': %s\n",
			o->plot, strerror(-ret));
		return CB_EXIT_FAILED;
	}
	return 0;
}

/* ---- --find-max-rate -----------------------------------------------------
 */

struct search_ctx {
	const struct cb_opts *o;
	const struct cb_target *t;
	unsigned step;
};

static int search_step(void *arg, uint64_t rate, struct cb_step *st)
{
	struct search_ctx *c = arg;
	struct cb_opts o = *c->o; /* a shallow copy: the rate changes */
	struct cb_series series = {0};
	struct cb_result r;
	uint64_t tries;
	double secs, cpu;
	int status;

	if (interrupted)
		return -EINTR;
	o.rate = rate;
	status = run_load(&o, c->t, NULL, NULL, &series, &r);
	if (status) {
		cb_series_free(&series);
		return -EIO;
	}
	secs = (double)r.runtime_ns / 1e9;
	tries = r.requests + cb_result_errors(&r);
	st->achieved = secs > 0 ? (double)r.requests / secs : 0;
	st->p50_ns = coil_hist_value_at_percentile(r.latency, 50);
	st->p99_ns = coil_hist_value_at_percentile(r.latency, 99);
	st->p999_ns = coil_hist_value_at_percentile(r.latency, 99.9);
	st->errors_pct = tries ? 100.0 *
					 (double)(cb_result_errors(&r) +
						  cb_result_non_2xx_3xx(&r)) /
					 (double)tries
			       : 100.0;
	st->pass = r.requests > cb_result_non_2xx_3xx(&r) &&
		   cb_slo_all_pass(o.slos, o.n_slos, &r);
	/* the generator's own saturation (report.h): its pacer's backlog
	 * of due requests persisted, or its CPU ran out; a server that holds
	 * the connections makes requests late but not this */
	if (cb_result_saturated(&o, &r)) {
		cpu = r.runtime_ns
			      ? 100.0 * (double)(r.cpu_user_ns + r.cpu_sys_ns) /
					((double)r.runtime_ns * o.threads)
			      : 0;
		st->gen_bound = true;
		snprintf(
			st->why, sizeof(st->why),
			"due requests waited up to %.1fms to leave, CPU %.0f%% "
			"of %u threads",
			(double)r.backlog_max_ns / 1e6, cpu, o.threads);
	}
	fprintf(stderr,
		"coil-bench: step %u: %llu/s: achieved %.1f/s, p99 %.2fms: "
		"%s\n",
		++c->step, (unsigned long long)rate, st->achieved,
		(double)st->p99_ns / 1e6,
		st->gen_bound ? "generator-bound"
		: st->pass    ? "pass"
			      : "fail");
	cb_result_free(&r);
	cb_series_free(&series);
	return interrupted ? -EINTR : 0;
}

static int find_max_rate(const struct cb_opts *o, const struct cb_target *t,
			 FILE *out)
{
	struct search_ctx c = {.o = o, .t = t};
	struct cb_search *s = calloc(1, sizeof(*s));
	int ret, status;

	if (!s) {
		fprintf(stderr, "coil-bench: out of memory\n");
		return CB_EXIT_START;
	}
	ret = cb_search_max_rate(s, o->rate, o->threads, CB_MAX_RATE,
				 CB_SEARCH_TOLERANCE, search_step, &c);
	if (ret == -EIO) {
		free(s);
		return CB_EXIT_START;
	}
	if (ret == -EINTR)
		fprintf(stderr, "coil-bench: interrupted: the search stops "
				"here\n");
	if (o->json)
		cb_search_report_json(out, s);
	else
		cb_search_report_text(out, s);
	status = s->best ? CB_EXIT_OK : CB_EXIT_FAILED;
	free(s);
	return status;
}

int main(int argc, char **argv)
{
	struct cb_opts o;
	struct cb_target t;
	struct cb_result all;
	struct cb_hdrlog *log = NULL;
	struct cb_hdr *hdr = NULL;
	struct cb_script *script = NULL;
	struct cb_series series = {0};
	FILE *out = stdout, *plot = NULL;
	char err[256], why[512];
	int ret, status = 0;

	if (argc > 1 && !strcmp(argv[1], "plot"))
		return cb_plot_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "merge"))
		return cb_merge_main(argc - 1, argv + 1);
	ret = cb_cli_parse(&o, argc, argv, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "coil-bench: %s\n", err);
		cb_cli_free(&o);
		return CB_EXIT_USAGE;
	}
	if (o.action == CB_HELP) {
		cb_cli_usage(stdout);
		cb_cli_free(&o);
		return 0;
	}
	if (o.action == CB_VERSION) {
		cb_cli_version(stdout);
		cb_cli_free(&o);
		return 0;
	}
	if ((status = o.targets_file ? build_targets(&o, &t)
				     : build_target(&o, &t)))
		goto done_target;
	if (t.https || o.cacert || o.cert) {
		if ((status = tls_setup(&o, &t)))
			goto done_target;
	}
	if ((status = route_hosts(&o, &t)))
		goto done_target;
	if (o.script && cb_script_new(&script, &o, o.url, o.threads, t.addrs,
				      t.naddrs, why, sizeof(why)) < 0) {
		status = usage_error("%s", why);
		goto done_target;
	}
	if (o.output && !(out = fopen(o.output, "w"))) {
		status = usage_error("cannot write --output '%s': %s", o.output,
				     strerror(errno));
		out = stdout;
		goto done_target;
	}
	if (o.hdr_log) {
		struct timespec rt;
		char comment[128];
		clock_gettime(CLOCK_REALTIME, &rt);
		snprintf(comment, sizeof(comment),
			 "coil-bench %s: latency in ns", COIL_BENCH_VERSION);
		ret = cb_hdrlog_open(&log, o.hdr_log,
				     (uint64_t)rt.tv_sec * 1000000000ull +
					     (uint64_t)rt.tv_nsec + o.warmup_ns,
				     comment);
		if (ret == 0 && (ret = cb_hdr_new(&hdr, log, o.threads,
						  o.rate && o.uncorrected)) < 0)
			cb_hdrlog_close(log);
		if (ret < 0) {
			status = usage_error("cannot write --hdr-log '%s': %s",
					     o.hdr_log, strerror(-ret));
			goto done_out;
		}
	}

	if (o.plot && !(plot = fopen(o.plot, "w"))) {
		status = usage_error("cannot write --plot '%s': %s", o.plot,
				     strerror(errno));
		goto done_hdr;
	}
	if (o.find_max_rate) {
		status = find_max_rate(&o, &t, out);
		goto done_hdr;
	}
	if (!o.json)
		cb_report_header(out, &o);
	fflush(out);
	status = run_load(&o, &t, hdr, script, &series, &all);
	if (status)
		goto done_hdr;
	gethostname(all.host, sizeof(all.host) - 1); /* "" if it fails */
	if (o.json && cb_report_json(out, &o, &all) == -ENOMEM)
		fprintf(stderr, "coil-bench: out of memory: histograms missing "
				"from the --json result\n");
	else if (!o.json)
		cb_report_text(out, &o, &all);
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "coil-bench: writing the report: %s\n",
			strerror(errno));
		status = CB_EXIT_FAILED;
	}
	if (all.stopped[0]) { /* a script error ended the run */
		fprintf(stderr, "coil-bench: %s (the run stopped)\n",
			all.stopped);
		status = CB_EXIT_FAILED;
	}
	/* wrk calls done() after its report */
	if (cb_script_has_done(script) &&
	    cb_script_done(script, &all, why, sizeof(why)) < 0) {
		fprintf(stderr, "coil-bench: %s\n", why);
		status = CB_EXIT_FAILED;
	}
	fflush(stdout);
	if (plot && write_plot(&o, &all, plot))
		status = CB_EXIT_FAILED;
	status = status ? status : cb_report_verdict(&o, &all);
	cb_result_free(&all);
done_hdr:
	cb_series_free(&series);
	if (hdr) {
		ret = cb_hdr_free(hdr, 0);
		if (cb_hdrlog_close(log) < 0 || ret < 0) {
			fprintf(stderr,
				"coil-bench: writing --hdr-log '%s' "
				"failed\n",
				o.hdr_log);
			status = status ? status : 1;
		}
	}
	if (plot && fclose(plot) != 0 && !status) {
		fprintf(stderr, "coil-bench: closing --plot: %s\n",
			strerror(errno));
		status = CB_EXIT_FAILED;
	}
done_out:
	if (out != stdout && fclose(out) != 0 && !status) {
		fprintf(stderr, "coil-bench: closing --output: %s\n",
			strerror(errno));
		status = 1;
	}
done_target:
	cb_script_free(script);
	target_free(&t);
	cb_cli_free(&o);
	return status;
}
