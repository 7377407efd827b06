/*
 * tests/http/test_layers.c - calls in http/ run one way: no two files
 * call each other, and the client's layers call down only (client.c ->
 * client_exchange.c -> client_pool.c -> client_conn.c;
 * docs/ARCHITECTURE.md, "The client's layers"). Reads the symbol tables
 * of libcoil's http/ objects with nm(1)
 * (their paths are the arguments, or ';'-lists of them): a file "calls" another
 * when it has an undefined symbol the other defines. The server's files
 * call down only too (server.c -> server_file.c -> server_body.c ->
 * server_respond.c -> server_conn.c -> server_time.c; http/server_internal.h):
 * completions below the pump report to it through its kick.
 * Exits 77 without nm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 64
#define MAX_SYMS 4096

struct sym {
	char name[128];
	int obj;     /* index of the object */
	int defined; /* 1: defined here; 0: used here, defined elsewhere */
};

static int nobjs;
static const char *objs[MAX_OBJS];
static char names[MAX_OBJS][64]; /* "client_pool.c" */
static struct sym syms[MAX_SYMS];
static int nsyms;

static void load(int i)
{
	char cmd[4200], line[512];
	const char *base = strrchr(objs[i], '/');
	FILE *f;

	base = base ? base + 1 : objs[i];
	snprintf(names[i], sizeof(names[i]), "%s", base);
	char *dot = strstr(names[i], ".c.o");
	if (dot)
		dot[2] = 0; /* "x.c.o" -> "x.c" */
	snprintf(cmd, sizeof(cmd), "nm -P '%s'", objs[i]);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[256], type[8];
		if (sscanf(line, "%255s %7s", name, type) != 2)
			continue;
		if (strlen(name) >= sizeof(syms[0].name) || nsyms == MAX_SYMS)
			continue;
		if (!strchr("TDBRU", type[0]))
			continue;
		syms[nsyms].obj = i;
		syms[nsyms].defined = type[0] != 'U';
		strcpy(syms[nsyms].name, name);
		nsyms++;
	}
	assert_int_equal(pclose(f), 0);
}

static int find(const char *file)
{
	for (int i = 0; i < nobjs; i++) {
		if (!strcmp(names[i], file))
			return i;
	}
	return -1;
}

/* Does object @a use a symbol object @b defines? Names one in @why. */
static int calls(int a, int b, char *why, size_t cap)
{
	for (int i = 0; i < nsyms; i++) {
		if (syms[i].obj != a || syms[i].defined)
			continue;
		for (int j = 0; j < nsyms; j++) {
			if (syms[j].obj == b && syms[j].defined &&
			    !strcmp(syms[i].name, syms[j].name)) {
				snprintf(why, cap,
					 "%.63s uses %.127s from %.63s",
					 names[a], syms[i].name, names[b]);
				return 1;
			}
		}
	}
	return 0;
}

static void test_layers_no_two_files_call_each_other(void **state)
{
	char w1[512], w2[512];
	int pairs = 0;

	(void)state;
	for (int a = 0; a < nobjs; a++) {
		for (int b = a + 1; b < nobjs; b++) {
			if (calls(a, b, w1, sizeof(w1)) &&
			    calls(b, a, w2, sizeof(w2))) {
				print_error("%s; %s\n", w1, w2);
				pairs++;
			}
		}
	}
	assert_int_equal(pairs, 0);
}

static void test_layers_client_calls_down_only(void **state)
{
	static const char *const order[] = {"client.c", "client_exchange.c",
					    "client_pool.c", "client_conn.c"};
	char why[512];
	int idx[4];

	(void)state;
	for (int k = 0; k < 4; k++) {
		idx[k] = find(order[k]);
		assert_true(idx[k] >= 0);
	}
	/* a lower layer uses nothing of a higher one */
	for (int lo = 1; lo < 4; lo++) {
		for (int hi = 0; hi < lo; hi++) {
			if (calls(idx[lo], idx[hi], why, sizeof(why)))
				fail_msg("%s", why);
		}
	}
	/* and the check can fail: the top does call down */
	assert_true(calls(idx[0], idx[1], why, sizeof(why)));
	assert_true(calls(idx[1], idx[2], why, sizeof(why)));
	assert_true(calls(idx[2], idx[3], why, sizeof(why)));
}

/* A file of @order (top first) uses nothing of one above it; each uses
 * the next (so the check can fail). */
static void calls_down_only(const char *const *order, int n, int chained)
{
	char why[512];
	int idx[8];

	for (int k = 0; k < n; k++) {
		idx[k] = find(order[k]);
		if (idx[k] < 0)
			fail_msg("no object for %s", order[k]);
	}
	for (int lo = 1; lo < n; lo++) {
		for (int hi = 0; hi < lo; hi++) {
			if (calls(idx[lo], idx[hi], why, sizeof(why)))
				fail_msg("%s", why);
		}
	}
	for (int k = 0; chained && k + 1 < n; k++)
		assert_true(calls(idx[k], idx[k + 1], why, sizeof(why)));
}

static void test_layers_server_calls_down_only(void **state)
{
	static const char *const order[] = {"server.c",	     "server_file.c",
					    "server_dir.c",  "server_static.c",
					    "server_body.c", "server_respond.c",
					    "server_conn.c", "server_time.c"};
	static const char *const mem[] = {"server.c", "server_mem.c"};
	/* HTTP/2's static files: above the stream, below the HTTP/1.1 file
	 * server that hands them over; the connection is not called */
	static const char *const h2[] = {"server_file.c", "server_h2_static.c",
					 "server_h2_stream.c"};
	static const char *const h2conn[] = {"server_h2.c",
					     "server_h2_static.c"};

	(void)state;
	/* server_file.c and server_body.c do not call each other, so not
	 * every pair in the order is a call: the ones that are */
	calls_down_only(order, 8, 0);
	calls_down_only(mem, 2, 1);
	calls_down_only(h2, 3, 1);
	calls_down_only(h2conn, 2, 0);
	{
		char why[512];
		assert_true(calls(find("server.c"), find("server_file.c"), why,
				  sizeof(why)));
		assert_true(calls(find("server_file.c"),
				  find("server_respond.c"), why, sizeof(why)));
		assert_true(calls(find("server_body.c"),
				  find("server_respond.c"), why, sizeof(why)));
		assert_true(calls(find("server_respond.c"),
				  find("server_conn.c"), why, sizeof(why)));
		assert_true(calls(find("server_conn.c"), find("server_time.c"),
				  why, sizeof(why)));
	}
}

/* HTTP/2 (issue 17): the exchange's sibling sits where the exchange does,
 * and the response helper below both */
static void test_layers_client_h2_calls_down_only(void **state)
{
	static const char *const h2[] = {"client.c", "client_exchange_h2.c",
					 "client_pool.c", "client_conn.c"};
	static const char *const r1[] = {"client_exchange.c",
					 "client_response.c"};
	static const char *const r2[] = {"client_exchange_h2.c",
					 "client_response.c"};

	(void)state;
	calls_down_only(h2, 4, 1);
	calls_down_only(r1, 2, 1);
	calls_down_only(r2, 2, 1);
}

/* The HTTP/2 session: the calls on streams above the session's pump,
 * nghttp2's callbacks below it (they run inside its mem_recv/mem_send
 * and only record), the stream records at the bottom
 * (http/h2_internal.h) */
static void test_layers_h2_session_calls_down_only(void **state)
{
	static const char *const order[] = {"h2_submit.c", "h2.c",
					    "h2_callbacks.c", "h2_record.c"};

	(void)state;
	calls_down_only(order, 4, 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_no_two_files_call_each_other),
		cmocka_unit_test(test_layers_client_calls_down_only),
		cmocka_unit_test(test_layers_server_calls_down_only),
		cmocka_unit_test(test_layers_client_h2_calls_down_only),
		cmocka_unit_test(test_layers_h2_session_calls_down_only),
	};

	if (system("nm --version >/dev/null 2>&1") != 0)
		return 77;
	/* ctest passes $<TARGET_OBJECTS:coil_http> as one ';'-list */
	for (int i = 1; i < argc; i++) {
		for (char *p = strtok(argv[i], ";"); p && nobjs < MAX_OBJS;
		     p = strtok(NULL, ";"))
			objs[nobjs++] = p;
	}
	if (!nobjs)
		return 77;
	for (int i = 0; i < nobjs; i++)
		load(i);
	return cmocka_run_group_tests_name("http.layers", tests, NULL, NULL);
}
