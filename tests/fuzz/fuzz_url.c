/*
 * tests/fuzz/fuzz_url.c - libFuzzer target for coil_url_parse().
 *
 * Beyond the sanitizers' checks: every URL accepted must give strings
 * that are NUL-terminated at their stated lengths, a target starting with
 * '/', a port in range, no byte that could break a request line or a Host
 * field; and the request written from it must parse back to the same
 * target and Host. Every refusal must come with a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil/http.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_url: broken: %s\n", what);
		abort();
	}
}

static int clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct coil_url u, v;
	static char req[COIL_URL_MAX_LEN + 1024];
	char *in = malloc(size ? size : 1);
	if (!in)
		abort();
	memcpy(in, data, size);
	int r = coil_url_parse(&u, in, size);
	free(in);
	if (r != 0) {
		check(r == -EINVAL || r == -EPROTONOSUPPORT || r == COIL_ELIMIT,
		      "unexpected error code");
		check(u.why != NULL && u.why[0] != '\0',
		      "refusal without reason");
		return 0;
	}
	check(u.why == NULL, "reason on success");
	const char *host = coil_url_host(&u), *auth = coil_url_authority(&u);
	const char *target = coil_url_target(&u);
	check(strlen(host) == u.host_len && u.host_len > 0, "host length");
	check(strlen(auth) == u.auth_len && u.auth_len >= u.host_len,
	      "authority length");
	check(strlen(target) == u.target_len && target[0] == '/',
	      "target form");
	check(clean(host, u.host_len) && clean(auth, u.auth_len) &&
		      clean(target, u.target_len),
	      "unsafe byte kept");
	check(u.port > 0, "port");
	check(!memchr(target, '#', u.target_len), "fragment kept");
	check(!memchr(auth, '@', u.auth_len), "userinfo kept");
	check(u.https == 0 || u.https == 1, "scheme");

	/* a copy is as good as the original */
	v = u;
	check(strcmp(coil_url_target(&v), target) == 0, "copy");

	/* write a request from it and parse it back */
	struct coil_http_request_spec rs = {
		.method = "GET",
		.target = target,
		.target_len = u.target_len,
		.host = auth,
		.host_len = u.auth_len,
	};
	int n = coil_http_request_write(req, sizeof(req), &rs);
	check(n > 0, "request from a parsed URL refused");
	struct coil_http_header h[4];
	struct coil_http_msg m;
	coil_http_msg_init(&m, h, 4);
	m.max_head_bytes = sizeof(req);
	check(coil_http_parse_request(&m, req, (size_t)n) == n,
	      "request does not parse back");
	check(m.target_len == u.target_len &&
		      memcmp(m.target, target, u.target_len) == 0,
	      "target differs");
	check(m.nheaders == 1 && m.headers[0].value_len == u.auth_len &&
		      memcmp(m.headers[0].value, auth, u.auth_len) == 0,
	      "Host differs");
	return 0;
}
