/*
 * tools/coil-bench/probe.c - the TLS probe before the run (probe.h).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coil/engine.h"
#include "coil/stream.h"
#include "coil/tls.h"
#include "probe.h"

struct probe {
	struct coil_tcp tcp;
	struct coil_tls tls;
	const struct coil_tls_config *cfg;
	struct coil_tls_opts opts;
	int done, closed;
	int res;
	unsigned verify;
	char reason[256];
};

static void closed_cb(struct coil_stream *s)
{
	struct probe *p = s->data;
	p->closed = 1;
}

static void handshake_cb(struct coil_stream *s, int status)
{
	struct probe *p = s->data;
	const struct coil_tls_info *info = coil_tls_info(&p->tls);
	p->done = 1;
	p->res = status;
	if (status == 0) {
		coil_stream_close(&p->tls.s, closed_cb);
		return;
	}
	p->closed = 1; /* a failed handshake closed the TCP stream too */
	p->verify = info ? info->verify : 0;
	snprintf(p->reason, sizeof(p->reason), "%s",
		 coil_tls_error(&p->tls.s) ? coil_tls_error(&p->tls.s) : "");
}

static void connect_cb(struct coil_stream *s, int status)
{
	struct probe *p = s->data;
	int ret;
	if (status < 0) {
		p->done = p->closed = 1;
		p->res = status;
		return;
	}
	p->tls.s.data = p;
	ret = coil_tls_open(&p->tls, &p->tcp.s, p->cfg, &p->opts, handshake_cb);
	if (ret < 0) {
		p->done = 1;
		p->res = ret;
		coil_stream_close(&p->tcp.s, closed_cb);
	}
}

int cb_tls_probe(const struct coil_tls_config *cfg, const char *host,
		 const struct sockaddr_storage *addrs, unsigned naddrs,
		 uint64_t timeout_ns, char *why, size_t why_len)
{
	struct coil_tcp_opts to = {.connect_timeout_ns = timeout_ns};
	struct coil_loop *loop = NULL;
	struct probe p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.opts.host = host;
	p.opts.handshake_timeout_ns = timeout_ns;
	if (coil_loop_new(&loop, NULL) < 0)
		return 0; /* the run will say what is wrong */
	p.tcp.s.data = &p;
	ret = coil_tcp_connect(loop, &p.tcp, addrs, naddrs, &to, connect_cb);
	if (ret < 0)
		p.done = p.closed = 1;
	while (!(p.done && p.closed) && coil_loop_run(loop, COIL_RUN_ONCE) >= 0)
		;
	coil_loop_run(loop, COIL_RUN_DEFAULT);
	coil_loop_free(loop);
	if (p.res != COIL_ETLS || !p.verify)
		return 0;
	snprintf(why, why_len,
		 "TLS: the certificate of '%s' does not verify: %s", host,
		 p.reason);
	return COIL_ETLS;
}
