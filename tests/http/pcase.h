/* tests/http/pcase.h - what the parser's table tests share
 * (test_parser.c: responses, test_parser_requests.c: requests): one case
 * of a table (struct pcase), run whole, byte by byte and split at every
 * point before a guard page (parse_check.h), its result checked field by
 * field; `checks` counts the comparisons. */
#ifndef COIL_TEST_PCASE_H
#define COIL_TEST_PCASE_H

#include "parse_check.h"

#define NONE COIL_HTTP_BODY_NONE
#define LEN COIL_HTTP_BODY_LENGTH
#define CHUNKED COIL_HTTP_BODY_CHUNKED
#define CLOSE COIL_HTTP_BODY_CLOSE
#define EPARSE COIL_EPARSE
#define ELIMIT COIL_ELIMIT
#define PARTIAL COIL_HTTP_PARTIAL
#define HEAD COIL_HTTP_PARSE_HEAD
/* a literal with its exact length, NUL bytes included */
#define S(lit) lit, sizeof(lit) - 1

struct pcase {
	const char *name;
	const char *head; /* the input, or its head if rest follows */
	size_t head_len;  /* 0: strlen(head) */
	const char *rest; /* body bytes after the head, or NULL */
	int ret;	  /* 0: the head's length; else the result code */
	struct pc_opts o;
	/* expected on success (checked when ret == 0) */
	int minor;
	int status;	    /* responses */
	const char *reason; /* responses */
	const char *method; /* requests */
	const char *target; /* requests */
	int body;
	uint64_t cl;
	int ka;
	const char *fields; /* "name: value\n" lines, NULL: not checked */
};

static unsigned long checks;

static void run_case(struct guard *g, const struct pcase *c)
{
	char in[70000];
	size_t hl = c->head_len ? c->head_len : strlen(c->head);
	size_t rl = c->rest ? strlen(c->rest) : 0;
	struct pc_run whole;
	const char *buf;
	char fields[4096];

	assert_true(hl + rl <= sizeof(in));
	memcpy(in, c->head, hl);
	if (rl)
		memcpy(in + hl, c->rest, rl);
	int r = pc_check(g, in, hl + rl, &c->o, &whole, &buf, &checks);
	if (c->ret != 0) {
		if (r != c->ret)
			fail_msg("%s: got %d, want %d", c->name, r, c->ret);
		return;
	}
	if (r != (int)hl)
		fail_msg("%s: got %d, want head length %zu", c->name, r, hl);
	const struct coil_http_msg *m = &whole.m;
	assert_int_equal(m->minor_version, c->minor);
	if (c->o.flags & PC_REQ) {
		assert_int_equal(m->method_len, strlen(c->method));
		assert_memory_equal(m->method, c->method, m->method_len);
		assert_int_equal(m->target_len, strlen(c->target));
		assert_memory_equal(m->target, c->target, m->target_len);
		/* pointers into the buffer handed in */
		assert_true(m->method >= buf && m->method < buf + hl);
	} else {
		assert_int_equal(m->status, c->status);
		assert_int_equal(m->reason_len, strlen(c->reason));
		assert_memory_equal(m->reason, c->reason, m->reason_len);
	}
	if (m->body != c->body)
		fail_msg("%s: body %d, want %d", c->name, m->body, c->body);
	if (c->body == LEN || c->cl)
		assert_int_equal(m->content_length, c->cl);
	if (m->keep_alive != c->ka)
		fail_msg("%s: keep_alive %d", c->name, m->keep_alive);
	if (c->fields) {
		pc_fields(fields, sizeof(fields), m);
		if (strcmp(fields, c->fields) != 0)
			fail_msg("%s: fields\n%s\nwant\n%s", c->name, fields,
				 c->fields);
	}
	for (unsigned i = 0; i < m->nheaders; i++) {
		assert_true(m->headers[i].name >= buf &&
			    m->headers[i].name < buf + hl);
		assert_true(m->headers[i].value >= buf &&
			    m->headers[i].value + m->headers[i].value_len <=
				    buf + hl);
	}
}

static void run_table(const struct pcase *t, size_t n)
{
	struct guard g;
	guard_init(&g, 70000);
	for (size_t i = 0; i < n; i++)
		run_case(&g, &t[i]);
	guard_free(&g);
}

#endif
