/*
 * tools/coil-get/get.c - coil-get: fetch many URLs at once with limits,
 * timeouts and retries, on one io_uring loop.
 *
 * A job per URL in flight (at most --parallel of them, each started when
 * the --rate limiter allows): a coil_http_request() on one shared client
 * (connection pool, --per-host limit, keep-alive), whose body streams
 * into the job's buffers and from there into a file written through the
 * ring (IORING_OP_OPENAT, WRITE, CLOSE: coil_openat/coil_write/
 * coil_close), with back-pressure: when both buffers are full the request
 * is paused until a write completes. With -O the body is kept whole and
 * written to stdout through the ring as it completes, one body after the
 * other. Without -o or -O the body is only counted.
 *
 * Results: a --json line per URL as it ends, a progress line on a TTY,
 * a summary at the end, and the exit status (0 only if every URL answered
 * 2xx).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cli.h"
#include "../common/url.h"
#include "../common/tls_opts.h"
#include "cli.h"
#include "coil/async.h"
#include "coil/http.h"
#include "coil/tls.h"

#define BUF_MAX (256u << 10) /* per buffer; two per job */

enum { O_IDLE, O_FULL, O_WRITING };
#define NAME_MAX_LEN 200

struct get;

struct job {
	struct get *g;
	size_t idx;
	struct coil_http_req *req;
	struct coil_op rate_op; /* waiting for --rate, or a posted failure */
	int start_err;
	/* file output */
	struct coil_op fop; /* openat, write or close, one at a time */
	int fd;
	int opening, closing;
	char *name;
	unsigned suffix;
	uint64_t off; /* file offset of the next write */
	/* two buffers: buf[cur] fills while buf[cur ^ 1] is idle (empty),
	 * full (waiting for the file) or being written */
	char *buf[2];
	size_t len[2], bcap[2]; /* bytes in each, bytes allocated */
	size_t cap;		/* a buffer this full is written */
	int cur;
	int ostate;	    /* of buf[cur ^ 1]: O_IDLE, O_FULL, O_WRITING */
	size_t wdone;	    /* bytes of buf[cur ^ 1] written */
	uint64_t got, clen; /* body bytes so far; Content-Length or 0 */
	int paused;
	int body_done; /* the request's done callback ran */
	int result;
	int ferr; /* file error */
	/* stdout queue */
	struct job *onext;
	size_t oofs;
};

struct get {
	struct coil_loop *loop;
	struct coil_http_client *c;
	struct cg_opts *o;
	struct coil_retry_policy policy;
	int dirfd;
	size_t next;	   /* next URL to start */
	unsigned inflight; /* jobs started, not finished */
	size_t done, ok, failed;
	uint64_t bytes;
	int rate_on;
	struct coil_rate rate;
	/* file names used in this run */
	char **names;
	size_t nnames, names_cap;
	/* stdout */
	struct job *oq_head, *oq_tail;
	struct coil_op oop;
	/* progress */
	struct coil_op tick;
	int ticking;
	uint64_t t0;
	struct coil_op shut;
	int shutting;
	int fatal;
	struct coil_tls_config *tls; /* -k, --cacert */
};

static void start_more(struct get *g);

/* ---- names -------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* Add @name to the set; 0 if it was new, 1 if taken, -ENOMEM. */
static int name_take(struct get *g, const char *name)
{
	size_t i;
	if ((g->nnames + 1) * 2 > g->names_cap) {
		size_t cap = g->names_cap ? g->names_cap * 2 : 1024;
		char **t = calloc(cap, sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (size_t k = 0; k < g->names_cap; k++) {
			if (!g->names[k])
				continue;
			i = hash_str(g->names[k]) & (cap - 1);
			while (t[i])
				i = (i + 1) & (cap - 1);
			t[i] = g->names[k];
		}
		free(g->names);
		g->names = t;
		g->names_cap = cap;
	}
	i = hash_str(name) & (g->names_cap - 1);
	while (g->names[i]) {
		if (!strcmp(g->names[i], name))
			return 1;
		i = (i + 1) & (g->names_cap - 1);
	}
	g->names[i] = strdup(name);
	if (!g->names[i])
		return -ENOMEM;
	g->nnames++;
	return 0;
}

/* The last segment of the URL's path, made safe as a file name. */
static void base_name(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://"), *end, *seg;
	size_t n = 0;

	p = p ? p + 3 : url;
	p = p + strcspn(p, "/?#");
	end = p + strcspn(p, "?#");
	seg = end;
	while (seg > p && seg[-1] != '/')
		seg--;
	for (; seg < end && n + 1 < cap && n < NAME_MAX_LEN; seg++) {
		char c = *seg;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || strchr("._-~+%=,@", c);
		out[n++] = ok ? c : '_';
	}
	out[n] = 0;
	if (!n)
		snprintf(out, cap, "index.html");
	else if (!strcmp(out, ".") || !strcmp(out, ".."))
		snprintf(out, cap, "_");
}

/* ---- results ------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *job_error(struct job *j, char *buf, size_t cap)
{
	if (j->ferr) {
		snprintf(buf, cap, "write %s/%s: %s", j->g->o->outdir,
			 j->name ? j->name : "", coil_strerror(j->ferr));
		return buf;
	}
	if (j->start_err) {
		/* the words coil-bench uses for the same URL (common/url.h) */
		if (tools_url_check(j->g->o->urls[j->idx], buf, cap) == 0)
			snprintf(buf, cap, "cannot start the request: %s",
				 coil_strerror(j->start_err));
		return buf;
	}
	if (j->result < 0) {
		const char *e = coil_http_req_strerror(j->req);
		snprintf(buf, cap, "%s", *e ? e : coil_strerror(j->result));
		return buf;
	}
	if (j->result < 200 || j->result >= 300) {
		snprintf(buf, cap, "HTTP status %d", j->result);
		return buf;
	}
	return NULL;
}

static void job_free(struct job *j)
{
	coil_http_req_free(j->req);
	free(j->buf[0]);
	free(j->buf[1]);
	free(j->name);
	free(j);
}

static void all_done(struct get *g);

/* The job is over: report it, start the next. */
static void job_end(struct job *j)
{
	struct get *g = j->g;
	struct coil_http_req_info info;
	char ebuf[320];
	const char *err = job_error(j, ebuf, sizeof(ebuf));

	coil_http_req_info(j->req, &info);
	g->done++;
	g->bytes += info.body_bytes;
	if (err)
		g->failed++;
	else
		g->ok++;
	if (g->o->json) {
		FILE *f = stdout;
		fputs("{\"url\":", f);
		json_str(f, g->o->urls[j->idx]);
		fprintf(f,
			",\"status\":%d,\"bytes\":%llu,\"time_ns\":%llu,"
			"\"http_version\":",
			info.status, (unsigned long long)info.body_bytes,
			(unsigned long long)info.time_ns);
		/* curl's %{http_version} spellings; null before a
		 * response */
		if (info.http_version)
			fprintf(f, "\"%s\"",
				info.http_version == 20	  ? "2"
				: info.http_version == 11 ? "1.1"
							  : "1.0");
		else
			fputs("null", f);
		fprintf(f, ",\"attempts\":%u,", info.attempts);
		if (j->name && !err) {
			fputs("\"file\":", f);
			json_str(f, j->name);
			fputc(',', f);
		}
		fputs("\"error\":", f);
		if (err)
			json_str(f, err);
		else
			fputs("null", f);
		fputs("}\n", f);
	} else if (err && !g->o->quiet) {
		if (g->o->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "coil-get: %s: %s\n", g->o->urls[j->idx], err);
	}
	job_free(j);
	g->inflight--;
	start_more(g);
	if (!g->inflight && (g->next == g->o->n_urls || g->fatal))
		all_done(g);
}

/* ---- files ----------------------------------------------------------------
 */

static void file_step(struct job *j);

/* The body is not worth keeping: a file error, or the request failed. */
static int job_failed(const struct job *j)
{
	return j->ferr ||
	       (j->body_done && (j->result < 200 || j->result >= 300));
}

static void fop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, fop);

	(void)flags;
	if (j->opening) {
		j->opening = 0;
		if (res == -EEXIST) {
			/* a file of that name was there before the run */
			file_step(j);
			return;
		}
		if (res < 0) {
			j->ferr = res;
			coil_http_req_cancel(j->req);
		} else {
			j->fd = res;
		}
	} else if (j->closing) {
		j->closing = 0;
		j->fd = -1;
		if (res < 0 && !j->ferr)
			j->ferr = res;
		if (job_failed(j))
			unlinkat(j->g->dirfd, j->name, 0);
		job_end(j);
		return;
	} else if (res <= 0) {
		j->ferr = res ? res : -EIO;
		j->ostate = O_IDLE;
		coil_http_req_cancel(j->req);
	} else {
		int o = j->cur ^ 1;
		j->wdone += (size_t)res;
		j->off += (uint64_t)res;
		if (j->wdone == j->len[o]) {
			j->len[o] = 0;
			j->wdone = 0;
			j->ostate = O_IDLE;
		} else {
			j->ostate = O_FULL; /* short write: the rest next */
		}
	}
	file_step(j);
}

/* Open the next free name: name, name.1, name.2 ... */
static void file_open(struct job *j)
{
	struct get *g = j->g;
	char base[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 32];
	int ret;

	base_name(g->o->urls[j->idx], base, sizeof(base));
	for (;;) {
		if (j->suffix)
			snprintf(name, sizeof(name), "%s.%u", base, j->suffix);
		else
			snprintf(name, sizeof(name), "%s", base);
		j->suffix++;
		ret = name_take(g, name);
		if (ret <= 0)
			break;
	}
	free(j->name);
	j->name = ret == 0 ? strdup(name) : NULL;
	if (!j->name) {
		j->ferr = -ENOMEM;
		coil_http_req_cancel(j->req);
		return;
	}
	coil_op_init(&j->fop, fop_cb);
	j->opening = 1;
	ret = coil_openat(g->loop, &j->fop, g->dirfd, j->name,
			  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ret < 0) {
		j->opening = 0;
		j->ferr = ret;
		coil_http_req_cancel(j->req);
	}
}

/* Move the file forward: open, write what is buffered, resume the
 * request when there is room, close at the end. */
static void file_step(struct job *j)
{
	struct get *g = j->g;
	int ret;

	/* a full buffer trades places with the idle one */
	if (!job_failed(j) && j->ostate == O_IDLE && j->len[j->cur] &&
	    (j->len[j->cur] >= j->cap || j->body_done)) {
		j->cur ^= 1;
		j->ostate = O_FULL;
	}
	if (j->paused && j->len[j->cur] < j->cap) {
		j->paused = 0;
		coil_http_req_resume(j->req);
	}
	if (coil_op_busy(&j->fop))
		return;
	if (j->fd < 0 && !job_failed(j)) {
		file_open(j);
		if (coil_op_busy(&j->fop))
			return;
	}
	if (job_failed(j)) {
		if (!j->body_done)
			return; /* the cancelled request ends soon */
		if (j->fd >= 0)
			goto close; /* and the partial file goes */
		job_end(j);
		return;
	}
	if (j->ostate == O_FULL) {
		int o = j->cur ^ 1;
		coil_op_init(&j->fop, fop_cb);
		ret = coil_write(g->loop, &j->fop, j->fd, j->buf[o] + j->wdone,
				 j->len[o] - j->wdone, (int64_t)j->off);
		if (ret < 0) {
			j->ferr = ret;
			j->ostate = O_IDLE;
			coil_http_req_cancel(j->req);
			if (j->body_done)
				goto close;
			return;
		}
		j->ostate = O_WRITING;
		return;
	}
	if (!j->body_done || j->ostate != O_IDLE)
		return;
close:
	coil_op_init(&j->fop, fop_cb);
	j->closing = 1;
	if (coil_close(g->loop, &j->fop, j->fd) < 0) {
		j->closing = 0;
		close(j->fd);
		j->fd = -1;
		if (job_failed(j))
			unlinkat(g->dirfd, j->name, 0);
		job_end(j);
	}
}

/* ---- stdout
 * ------------------------------------------------------------------
 */

static void out_next(struct get *g);

static void oop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct get *g = coil_container_of(op, struct get, oop);
	struct job *j = g->oq_head;
	size_t len;

	(void)flags;
	coil_http_req_body(j->req, &len);
	if (res <= 0) {
		j->ferr = res ? res : -EIO;
		j->oofs = len;
	} else {
		j->oofs += (size_t)res;
	}
	if (j->oofs >= len) {
		g->oq_head = j->onext;
		if (!g->oq_head)
			g->oq_tail = NULL;
		job_end(j);
	}
	out_next(g);
}

static void out_next(struct get *g)
{
	struct job *j = g->oq_head;
	const char *body;
	size_t len;
	int ret;

	if (!j || coil_op_busy(&g->oop))
		return;
	body = coil_http_req_body(j->req, &len);
	if (!len) {
		g->oq_head = j->onext;
		if (!g->oq_head)
			g->oq_tail = NULL;
		job_end(j);
		out_next(g);
		return;
	}
	coil_op_init(&g->oop, oop_cb);
	ret = coil_write(g->loop, &g->oop, STDOUT_FILENO, body + j->oofs,
			 len - j->oofs, -1);
	if (ret < 0)
		coil_loop_post(g->loop, &g->oop, ret);
}

/* ---- requests
 * ------------------------------------------------------------------
 */

static void on_head(struct coil_http_req *req)
{
	struct job *j = coil_http_req_data(req);
	struct get *g = j->g;
	int st = coil_http_req_status(req);
	size_t len;
	const char *cl;

	if (g->dirfd < 0 || st < 200 || st >= 300)
		return;
	j->cap = BUF_MAX;
	cl = coil_http_req_header(req, "content-length", &len);
	if (cl) {
		j->clen = strtoull(cl, NULL, 10);
		if (j->clen < j->cap)
			j->cap = j->clen ? (size_t)j->clen : 1;
	}
	file_step(j);
}

static int buf_add(struct job *j, const void *p, size_t n)
{
	int b = j->cur;
	size_t need = j->len[b] + n;

	if (need > j->bcap[b]) {
		/* the usual size, or more when one callback brings more than
		 * fits (rare: then the buffer is written at once) */
		size_t cap = need > j->cap ? need : j->cap;
		char *nb = realloc(j->buf[b], cap);
		if (!nb)
			return -ENOMEM;
		j->buf[b] = nb;
		j->bcap[b] = cap;
	}
	memcpy(j->buf[b] + j->len[b], p, n);
	j->len[b] += n;
	return 0;
}

static void on_body(struct coil_http_req *req, const void *p, size_t n)
{
	struct job *j = coil_http_req_data(req);

	if (j->g->dirfd < 0 || !j->cap || j->ferr)
		return; /* counted only */
	if (buf_add(j, p, n) < 0) {
		j->ferr = -ENOMEM;
		coil_http_req_cancel(req);
		return;
	}
	j->got += n;
	file_step(j);
	/* both buffers taken and more to come: wait for the disk */
	if (j->len[j->cur] >= j->cap && j->ostate != O_IDLE && !j->paused &&
	    !j->ferr && (!j->clen || j->got < j->clen)) {
		j->paused = 1;
		coil_http_req_pause(req);
	}
}

static void on_done(struct coil_http_req *req, int res)
{
	struct job *j = coil_http_req_data(req);
	struct get *g = j->g;

	j->result = res;
	j->body_done = 1;
	j->paused = 0;
	if (g->o->to_stdout && res >= 200 && res < 300) {
		j->onext = NULL;
		if (g->oq_tail)
			g->oq_tail->onext = j;
		else
			g->oq_head = j;
		g->oq_tail = j;
		out_next(g);
		return;
	}
	if (g->dirfd >= 0 && (j->cap || j->name || j->ferr)) {
		file_step(j);
		return;
	}
	job_end(j);
}

static void job_begin(struct job *j)
{
	struct get *g = j->g;
	struct cg_opts *o = g->o;
	struct coil_http_req_opts ro = {
		.method = o->method,
		.url = o->urls[j->idx],
		.headers = o->headers,
		.nheaders = o->n_headers,
		.body = o->data,
		.body_len = o->data_len,
		.connect_timeout_ns = o->connect_timeout_ns,
		.timeout_ns = o->timeout_ns,
		.max_body_bytes = o->max_filesize,
		.max_redirects = o->max_redirs,
		.retry = o->retries ? &g->policy : NULL,
		.retry_max_time_ns = o->retry_max_time_ns,
		.on_head = on_head,
		.on_body = o->to_stdout ? NULL : on_body,
		.done = on_done,
		.data = j,
	};
	int ret = coil_http_request(g->c, &ro, &j->req);

	if (ret < 0) {
		/* reported from the loop, like any other end */
		j->start_err = ret;
		j->req = NULL;
		coil_loop_post(g->loop, &j->rate_op, ret);
	}
}

static void rate_cb(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, rate_op);

	(void)flags;
	if (j->start_err || res < 0) {
		if (!j->start_err)
			j->start_err = res;
		job_end(j);
		return;
	}
	job_begin(j);
}

static void start_more(struct get *g)
{
	while (g->inflight < g->o->parallel && g->next < g->o->n_urls &&
	       !g->fatal) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j) {
			g->fatal = -ENOMEM;
			break;
		}
		j->g = g;
		j->idx = g->next++;
		j->fd = -1;
		g->inflight++;
		coil_op_init(&j->rate_op, rate_cb);
		if (g->rate_on) {
			int ret = coil_rate_acquire(&g->rate, &j->rate_op);
			if (ret < 0)
				coil_loop_post(g->loop, &j->rate_op, ret);
		} else {
			job_begin(j);
		}
	}
}

/* ---- progress and the end
 * -------------------------------------------------------
 */

static void progress(struct get *g, int final)
{
	double s = (double)(coil_now_update(g->loop) - g->t0) / 1e9;
	fprintf(stderr, "\r\033[K[%zu/%zu] %.1f MB, %.0f/s, %zu error%s%s",
		g->done, g->o->n_urls, (double)g->bytes / 1e6,
		s > 0 ? (double)g->done / s : 0.0, g->failed,
		g->failed == 1 ? "" : "s", final ? "\r\033[K" : "");
	fflush(stderr);
}

static void tick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct get *g = coil_container_of(op, struct get, tick);

	(void)flags;
	if (res < 0 || g->shutting) {
		g->ticking = 0;
		return;
	}
	progress(g, 0);
	coil_op_init(&g->tick, tick_cb);
	coil_timeout(g->loop, &g->tick, 200000000ull, 0);
}

static void shut_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
}

static void all_done(struct get *g)
{
	if (g->shutting)
		return;
	g->shutting = 1;
	if (g->ticking)
		coil_timeout_remove(g->loop, &g->tick);
	coil_op_init(&g->shut, shut_cb);
	coil_http_client_shutdown(g->c, &g->shut);
}

int main(int argc, char **argv)
{
	struct cg_opts o;
	struct get g;
	struct coil_http_client_opts co = {0};
	struct coil_http_client_stats st;
	char err[512];
	double secs;
	int ret;

	ret = cg_cli_parse(&o, argc, argv, isatty(STDERR_FILENO), err,
			   sizeof(err));
	if (ret < 0) {
		if (ret == -ENOMEM)
			snprintf(err, sizeof(err), "out of memory");
		fprintf(stderr, "coil-get: %s\n", err);
		cg_cli_free(&o);
		return CG_EXIT_USAGE;
	}
	if (o.action == CG_HELP) {
		fputs(cg_cli_usage(), stdout);
		cg_cli_free(&o);
		return 0;
	}
	if (o.action == CG_VERSION) {
		tools_print_version(stdout, "coil-get");
		cg_cli_free(&o);
		return 0;
	}

	memset(&g, 0, sizeof(g));
	g.o = &o;
	g.dirfd = -1;
	if (o.outdir) {
		if (mkdir(o.outdir, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "coil-get: cannot create %s: %s\n",
				o.outdir, strerror(errno));
			cg_cli_free(&o);
			return CG_EXIT_USAGE;
		}
		g.dirfd = open(o.outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (g.dirfd < 0) {
			fprintf(stderr, "coil-get: cannot open %s: %s\n",
				o.outdir, strerror(errno));
			cg_cli_free(&o);
			return CG_EXIT_USAGE;
		}
	}
	ret = coil_loop_new(&g.loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "coil-get: %s\n", coil_loop_strerror(ret));
		cg_cli_free(&o);
		return CG_EXIT_SYSTEM;
	}
	if (o.insecure || o.cacert || o.cert || o.tls_versions) {
		/* ALPN offers h2 with --http2 (the client's default
		 * configuration does the same without these flags) */
		struct tools_tls_opts to = {
			.insecure = o.insecure,
			.cacert = o.cacert,
			.cert = o.cert,
			.key = o.key,
			.versions = o.tls_versions,
			.alpn = o.http_version >= COIL_HTTP_VERSION_2
					? coil_h2_alpn
					: NULL};
		int tls_st = tools_tls_config(&to, &g.tls, err, sizeof(err));
		if (tls_st) {
			fprintf(stderr, "coil-get: %s\n", err);
			coil_loop_free(g.loop);
			cg_cli_free(&o);
			return tls_st;
		}
		co.tls = g.tls;
	}
	co.max_conns = o.parallel > o.per_host ? o.parallel : o.per_host;
	co.max_conns_per_host = o.per_host;
	co.http_version = o.http_version;
	co.user_agent =
		o.user_agent ? o.user_agent : "coil-get/" COIL_VERSION_STRING;
	ret = coil_http_client_new(&g.c, g.loop, &co);
	if (ret < 0) {
		fprintf(stderr, "coil-get: client: %s\n", coil_strerror(ret));
		coil_tls_config_free(g.tls);
		coil_loop_free(g.loop);
		cg_cli_free(&o);
		return CG_EXIT_SYSTEM;
	}
	/* curl's --retry backoff: 1 s doubling, at most 10 min; jittered
	 * to [d/2, d] so that many failures do not retry in lockstep */
	g.policy.max_attempts = o.retries + 1;
	g.policy.base_ns = 1000000000ull;
	g.policy.cap_ns = 600000000000ull;
	g.policy.jitter = COIL_JITTER_EQUAL;
	if (o.rate_period_ns) {
		g.rate_on = 1;
		coil_rate_init(&g.rate, g.loop, o.rate_permits,
			       o.rate_period_ns, 1);
	}
	g.t0 = coil_now_update(g.loop);
	if (o.progress) {
		g.ticking = 1;
		coil_op_init(&g.tick, tick_cb);
		coil_timeout(g.loop, &g.tick, 200000000ull, 0);
	}
	start_more(&g);
	if (!g.inflight)
		all_done(&g); /* nothing could start */
	while (coil_loop_inflight(g.loop) > 0) {
		ret = coil_loop_run(g.loop, COIL_RUN_DEFAULT);
		if (ret < 0) {
			fprintf(stderr, "coil-get: loop: %s\n",
				coil_strerror(ret));
			return CG_EXIT_SYSTEM;
		}
	}
	secs = (double)(coil_now_update(g.loop) - g.t0) / 1e9;
	if (o.progress)
		progress(&g, 1);
	coil_http_client_stats(g.c, &st);
	fflush(stdout);
	if (!o.quiet)
		fprintf(stderr,
			"coil-get: %zu URL%s, %zu ok, %zu failed, %.1f MB in "
			"%.2f s (%.0f fetches/s, %.1f MB/s); %llu "
			"connection%s%s, %llu retr%s, %llu redirect%s\n",
			o.n_urls, o.n_urls == 1 ? "" : "s", g.ok, g.failed,
			(double)g.bytes / 1e6, secs,
			secs > 0 ? (double)g.done / secs : 0.0,
			secs > 0 ? (double)g.bytes / 1e6 / secs : 0.0,
			(unsigned long long)st.conns_opened,
			st.conns_opened == 1 ? "" : "s",
			st.h2_conns ? " (HTTP/2)" : "",
			(unsigned long long)st.retries,
			st.retries == 1 ? "y" : "ies",
			(unsigned long long)st.redirects,
			st.redirects == 1 ? "" : "s");
	if (g.fatal)
		fprintf(stderr, "coil-get: %s\n", coil_strerror(g.fatal));
	coil_http_client_free(g.c);
	coil_loop_free(g.loop);
	coil_tls_config_free(g.tls);
	if (g.dirfd >= 0)
		close(g.dirfd);
	for (size_t i = 0; i < g.names_cap; i++)
		free(g.names[i]);
	free(g.names);
	ret = g.fatal			      ? CG_EXIT_SYSTEM
	      : g.failed || g.done < o.n_urls ? CG_EXIT_FAILED
					      : CG_EXIT_OK;
	cg_cli_free(&o);
	return ret;
}
