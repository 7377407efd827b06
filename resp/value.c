/*
 * resp/value.c - RESP2 replies: coil_resp_parse() measures one reply in
 * the input without copying (picohttpparser's contract: bytes consumed, 0
 * for "not all there yet", an error code for garbage), and
 * coil__resp_build() lays it out as a tree of struct coil_resp_value in
 * one arena sized by that measure, so a reply costs no allocation once
 * the arena is big enough. Commands are encoded as arrays of bulk strings
 * (the only form a client sends, RESP spec "Sending commands").
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp_internal.h"

#define MAX_DEPTH 64

/* The line at p[0..len) up to CRLF: its length (without CRLF), or -1 if
 * there is no CRLF yet. */
static long line_len(const char *p, size_t len)
{
	const char *cr = memchr(p, '\r', len);
	if (!cr || (size_t)(cr - p) + 1 >= len)
		return -1;
	return cr - p;
}

/* A decimal integer filling p[0..n). Return: 0; -1 if malformed. */
static int parse_ll(const char *p, long n, long long *out)
{
	long long v = 0;
	int neg = 0;
	long i = 0;

	if (n > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n || n > 20)
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static long scan(const char *p, size_t len, size_t *nvals, size_t *nbytes,
		 int depth)
{
	long n, off;
	long long v;

	if (len < 1)
		return 0;
	if (depth > MAX_DEPTH)
		return COIL_EPARSE;
	n = line_len(p + 1, len - 1);
	if (n < 0)
		return len > 1 + 64 * 1024 * 1024 ? COIL_EPARSE : 0;
	if (p[1 + n + 1] != '\n')
		return COIL_EPARSE;
	off = 1 + n + 2;
	(*nvals)++;
	switch (p[0]) {
	case '+':
	case '-':
		*nbytes += (size_t)n + 1;
		return off;
	case ':':
		return parse_ll(p + 1, n, &v) ? COIL_EPARSE : off;
	case '$':
		if (parse_ll(p + 1, n, &v) || v < -1 || v > 512ll * 1024 * 1024)
			return COIL_EPARSE;
		if (v == -1)
			return off;
		if (len < (size_t)off + (size_t)v + 2)
			return 0;
		if (p[off + v] != '\r' || p[off + v + 1] != '\n')
			return COIL_EPARSE;
		*nbytes += (size_t)v + 1;
		return off + (long)v + 2;
	case '*':
		if (parse_ll(p + 1, n, &v) || v < -1 || v > 64ll * 1024 * 1024)
			return COIL_EPARSE;
		for (long long i = 0; i < v; i++) {
			long r = scan(p + off, len - (size_t)off, nvals, nbytes,
				      depth + 1);
			if (r <= 0)
				return r;
			off += r;
		}
		return off;
	default:
		return COIL_EPARSE;
	}
}

long coil_resp_parse(const char *buf, size_t len, size_t *nvals, size_t *nbytes)
{
	if (!buf || !nvals || !nbytes)
		return -EINVAL;
	*nvals = *nbytes = 0;
	return scan(buf, len, nvals, nbytes, 0);
}

struct build {
	struct coil_resp_value *vals; /* next free value */
	char *strs;		      /* next free string byte */
};

/* Fill @v from the (complete, scanned) reply at @p; return its length. */
static long fill(const char *p, size_t len, struct coil_resp_value *v,
		 struct build *b)
{
	long n = line_len(p + 1, len - 1);
	long off = 1 + n + 2;
	long long x = 0;

	memset(v, 0, sizeof(*v));
	switch (p[0]) {
	case '+':
	case '-':
		v->type = p[0] == '+' ? COIL_RESP_STRING : COIL_RESP_ERROR;
		memcpy(b->strs, p + 1, (size_t)n);
		b->strs[n] = '\0';
		v->str = b->strs;
		v->len = (size_t)n;
		b->strs += n + 1;
		return off;
	case ':':
		parse_ll(p + 1, n, &x);
		v->type = COIL_RESP_INT;
		v->integer = x;
		return off;
	case '$':
		parse_ll(p + 1, n, &x);
		if (x < 0) {
			v->type = COIL_RESP_NIL;
			return off;
		}
		v->type = COIL_RESP_BULK;
		memcpy(b->strs, p + off, (size_t)x);
		b->strs[x] = '\0';
		v->str = b->strs;
		v->len = (size_t)x;
		b->strs += x + 1;
		return off + (long)x + 2;
	default: /* '*' */
		parse_ll(p + 1, n, &x);
		if (x < 0) {
			v->type = COIL_RESP_NIL;
			return off;
		}
		v->type = COIL_RESP_ARRAY;
		v->len = (size_t)x;
		v->elem = b->vals;
		b->vals += x;
		for (long long i = 0; i < x; i++)
			off += fill(p + off, len - (size_t)off, &v->elem[i], b);
		return off;
	}
}

struct coil_resp_value *coil__resp_build(const char *p, size_t len,
					 size_t nvals, size_t nbytes,
					 void **arena, size_t *cap)
{
	size_t need = nvals * sizeof(struct coil_resp_value) + nbytes;
	struct build b;
	struct coil_resp_value *root;

	if (*cap < need) {
		void *a = coil__grow(*arena, cap, need, 256);
		if (!a)
			return NULL;
		*arena = a;
	}
	root = *arena;
	b.vals = root + 1;
	b.strs = (char *)(root + nvals);
	fill(p, len, root, &b);
	return root;
}

/* Append @len bytes to the command's buffer. */
static int out_put(struct coil_resp_cmd *cmd, const void *p, size_t len)
{
	if (cmd->out_len + len > cmd->out_cap) {
		char *o = coil__grow(cmd->out, &cmd->out_cap,
				     cmd->out_len + len, 64);
		if (!o)
			return -ENOMEM;
		cmd->out = o;
	}
	memcpy(cmd->out + cmd->out_len, p, len);
	cmd->out_len += len;
	return 0;
}

void coil_resp_cmd_init(struct coil_resp_cmd *cmd, coil_op_cb cb)
{
	void *data = cmd->data;
	memset(cmd, 0, sizeof(*cmd));
	cmd->data = data;
	coil_op_init(&cmd->op, cb);
}

int coil_resp_cmd_args(struct coil_resp_cmd *cmd, int argc,
		       const char *const *argv, const size_t *lens)
{
	char head[32];
	int n;

	if (!cmd || argc <= 0 || !argv)
		return -EINVAL;
	if (coil_op_busy(&cmd->op))
		return -EBUSY;
	cmd->out_len = 0;
	n = snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (out_put(cmd, head, (size_t)n))
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		size_t len;
		if (!argv[i])
			return -EINVAL;
		len = lens ? lens[i] : strlen(argv[i]);
		n = snprintf(head, sizeof(head), "$%zu\r\n", len);
		if (out_put(cmd, head, (size_t)n) ||
		    out_put(cmd, argv[i], len) || out_put(cmd, "\r\n", 2))
			return -ENOMEM;
	}
	return 0;
}

void coil_resp_cmd_free(struct coil_resp_cmd *cmd)
{
	if (!cmd)
		return;
	free(cmd->out);
	free(cmd->arena);
	cmd->out = NULL;
	cmd->arena = NULL;
	cmd->out_len = cmd->out_cap = cmd->arena_cap = 0;
	cmd->reply = NULL;
}
