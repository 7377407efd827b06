/*
 * tls/handshake.c - the handshake's runs: mbedtls_ssl_handshake() taken
 * one mbedtls_ssl_handshake_step() at a time (so negotiated.c sees each
 * message go by), on the loop or on the configuration's offload pool,
 * and what each run came to.
 *
 * The session (session.c) runs these from its engine step and from the
 * pool job's callback, and acts on the outcome they return: an enum
 * coil_tls__hs_outcome, or a failure (negative, with t->err written and
 * an alert queued). Nothing here calls the session back: a pool job
 * completes through the op the session initialised (c->job).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coil/async.h"
#include "internal.h"

/* The handshake is over: what it negotiated (t->info) and the session
 * the client keeps for the next connection. */
static void note_done(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	int server = (c->cfg->flags & COIL_TLS_SERVER) != 0;
	const char *s;

	c->note_sent = 0;
	t->info.handshake_ns = coil_now_update(t->s.loop) - t->t0_ns;
	snprintf(t->info.version, sizeof(t->info.version), "%s",
		 mbedtls_ssl_get_version(&c->ssl));
	snprintf(t->info.cipher, sizeof(t->info.cipher), "%s",
		 mbedtls_ssl_get_ciphersuite(&c->ssl));
	s = mbedtls_ssl_get_alpn_protocol(&c->ssl);
	snprintf(t->info.alpn, sizeof(t->info.alpn), "%s", s ? s : "");
	coil__tls_group_name(c->note.group, t->info.group,
			     sizeof(t->info.group));
	/* a server resumes whatever the client offered, a client only
	 * what it offered */
	t->info.resumed = !c->note.full && (server || c->offered);
	if (c->cache && coil__tls_version_of(&c->ssl) < COIL_TLS_V1_3) {
		coil__tls_cache_save(c->cache, c->session_key, c->cfg, &c->ssl);
	} else if (c->cache && c->offered && !t->info.resumed) {
		/* TLS 1.3: the server refused the ticket; the next one
		 * comes after the handshake (coil__tls_pump()) */
		coil__tls_cache_drop(c->cache, c->session_key, c->cfg);
	}
}

/* The handshake ended under us: the lower stream delivered EOF or an
 * error while mbedTLS waits for input. Return: the failure. */
static int eof_fail(struct coil_tls *t)
{
	if (t->rd_end < 0) {
		coil__tls_set_err(t, "connection lost during the handshake: %s",
				  coil_strerror(t->rd_end));
		return t->rd_end;
	}
	coil__tls_set_err(t, "peer closed the connection during the handshake");
	return COIL_ETLS;
}

/* What one mbedtls_ssl_handshake() call returned, on the loop. @out0:
 * the ciphertext count before the call. */
static int result(struct coil_tls *t, int ret, uint64_t out0)
{
	struct coil_tls__conn *c = t->c;

	c->hs_last = ret;
	if (ret == 0) {
		note_done(t);
		return COIL_TLS__HS_DONE;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
		if (coil__tls_in_avail(c))
			return COIL_TLS__HS_AGAIN; /* it stopped short of the
						      input */
		if (t->st & S_LEND)
			return eof_fail(t);
		return COIL_TLS__HS_WAIT;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return COIL_TLS__HS_WAIT;
	/* mbedTLS 2.x leaves some failures without an alert (a missing
	 * client certificate, say): tell the peer why rather than just
	 * hanging up (RFC 5246 section 7.2.2) */
	if (c->out_bytes == out0 &&
	    ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
	    ret != MBEDTLS_ERR_SSL_ALLOC_FAILED)
		mbedtls_ssl_send_alert_message(
			&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
			MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
	return coil__tls_fail_text(t, ret, "handshake failed");
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One mbedtls_ssl_handshake() call, on whichever thread runs it; the CPU
 * time it took (clock_gettime(2) CLOCK_THREAD_CPUTIME_ID, so a loaded
 * machine's preemption does not count) in c->job_ns. */
static int hs_call(struct coil_tls__conn *c)
{
	int server = (c->cfg->flags & COIL_TLS_SERVER) != 0;
	uint64_t t0 = thread_cpu_ns();
	int ret = 0;

	/* mbedtls_ssl_handshake() is this loop; stepping it ourselves lets
	 * negotiated.c see each message as it goes by */
	while (!coil__tls_hs_over(&c->ssl)) {
		ret = mbedtls_ssl_handshake_step(&c->ssl);
		coil__tls_note_step(&c->ssl, server, &c->note);
		if (ret != 0)
			break;
	}
	c->job_ns = thread_cpu_ns() - t0;
	return ret;
}

/* A pool worker runs the step. The loop touches none of the engine's
 * state meanwhile (S_JOB): input arriving goes to the inbox, and what
 * mbedTLS writes goes to jout, not to the slots the loop completes. */
static int hs_job(void *arg)
{
	struct coil_tls__conn *c = arg;
	c->job_ret = hs_call(c);
	return 0;
}

/* Move what a pool step wrote into the output slots, as far as they
 * take it. */
static void jout_drain(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	size_t off = 0;

	while (off < c->jout_len) {
		int n = coil__tls_bio_send(c, c->jout + off, c->jout_len - off);
		if (n <= 0)
			break;
		c->out_bytes -= (uint64_t)n; /* counted when it was written */
		off += (size_t)n;
	}
	if (off) {
		memmove(c->jout, c->jout + off, c->jout_len - off);
		c->jout_len -= off;
	}
}

int coil__tls_hs_run(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;
	struct coil_pool *pool = c->cfg->pool;
	uint64_t out0 = c->out_bytes;
	int ret;

	if (t->st & S_JOB)
		return COIL_TLS__HS_WAIT;
	jout_drain(t);
	if (c->jout_len)
		return COIL_TLS__HS_WAIT; /* a slot completion brings us back */
	/* nothing new to feed it: don't call it again for nothing */
	if (c->hs_last == MBEDTLS_ERR_SSL_WANT_READ && !coil__tls_in_avail(c))
		return (t->st & S_LEND) ? eof_fail(t) : COIL_TLS__HS_WAIT;
	if (c->hs_last == MBEDTLS_ERR_SSL_WANT_WRITE && !coil__tls_out_room(c))
		return COIL_TLS__HS_WAIT;
	if (pool) {
		if (coil__tls_src_keep(c) < 0) {
			c->nomem = 1;
			coil__tls_set_err(t, "out of memory");
			return -ENOMEM;
		}
		c->jmode = 1;
		c->job_out0 = out0;
		t->st |= S_JOB;
		/* its callback is the session's, set at the start */
		coil_op_init(&c->job, c->job.cb);
		if (coil_pool_submit(t->s.loop, pool, &c->job, hs_job, c) == 0)
			return COIL_TLS__HS_WAIT;
		/* the pool is shut down or full of memory: run it here */
		t->st &= ~S_JOB;
		c->jmode = 0;
	}
	ret = hs_call(c);
	t->info.handshake_cpu_ns += c->job_ns;
	return result(t, ret, out0);
}

void coil__tls_hs_job_end(struct coil_tls *t)
{
	struct coil_tls__conn *c = t->c;

	t->st &= ~S_JOB;
	c->jmode = 0;
	/* what came in meanwhile queues behind what the step left */
	if (c->inbox_len) {
		if (coil__tls_stash_add(c, c->inbox, c->inbox_len) < 0)
			c->nomem = 1;
		c->inbox_len = 0;
	}
}

int coil__tls_hs_job_result(struct coil_tls *t, int res)
{
	struct coil_tls__conn *c = t->c;

	if (res < 0) { /* cancelled before it ran (a drain, a shutdown) */
		coil__tls_set_err(t, "the handshake's pool job was cancelled");
		return res;
	}
	if (c->nomem && c->job_ret != MBEDTLS_ERR_SSL_ALLOC_FAILED) {
		coil__tls_set_err(t, "out of memory");
		return -ENOMEM;
	}
	t->info.handshake_cpu_ns += c->job_ns;
	jout_drain(t);
	return result(t, c->job_ret, c->job_out0);
}
