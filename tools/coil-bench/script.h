/*
 * tools/coil-bench/script.h - `-s script.lua`: wrk's Lua scripting API
 * (wrk's SCRIPTING document), on LuaJIT.
 *
 * As in wrk: one Lua state runs setup() and done() (the "main" state);
 * each generator thread has a Lua state of its own, made by running the
 * script again, which runs init(args), delay(), request() and
 * response(). Every state has the global table `wrk` (scheme, host, port,
 * method, path, headers, body, thread; format(), lookup(), connect()).
 *
 * What costs what: a thread whose state defines no request() sends the
 * request wrk.format() built once after init() (the "static" request:
 * pre-built bytes, no Lua call per request). Only a defined request() is
 * called per request, only a defined response() makes headers and body
 * into Lua values, only a defined delay() is called before each request
 * (closed model; with -R the schedule rules).
 *
 * Threads: cb_script_new(), cb_script_done() and cb_script_free() run on
 * main's thread while no generator runs; the cb_script_thread functions
 * run on that thread's generator only.
 *
 * Built without LuaJIT (no COIL_BENCH_LUA), cb_script_new() fails with
 * -ENOTSUP and a message saying so; the rest of the program is unchanged.
 */
#ifndef COIL_BENCH_SCRIPT_H
#define COIL_BENCH_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/http.h"
#include "cli.h"
#include "report.h"

struct cb_script;
struct lua_State;

/* Return values of the per-request hooks. */
#define CB_SCRIPT_OK 0
#define CB_SCRIPT_BAD                                                          \
	1 /* request() gave a non-string or a malformed                        \
	   * request: count it (CB_ERR_SCRIPT), send nothing */
#define CB_SCRIPT_FAIL                                                         \
	-1 /* the hook raised an error: the run stops;                         \
	    * the message is in st->error */

/* One generator thread's script state. */
struct cb_script_thread {
	/* what the thread's script defines after init() */
	bool dynamic;	    /* request() */
	bool want_response; /* response() */
	/* ... and whether it takes headers and body: a response(status)
	 * gets no table, a response(status, headers) no body string (from
	 * its parameter list; kept up to date if the script assigns
	 * another response) */
	bool resp_headers, resp_body;
	bool has_delay; /* delay() */
	/* the static request (when !dynamic): wrk.format() after init() */
	char *req;
	size_t req_len;
	/* setup() set thread.addr: connect there only */
	bool has_addr;
	struct sockaddr_storage addr;
	/* thread:stop() or an error: @halt(@halt_arg) ends the thread's run
	 * as the end of -d does. Before the run (no @halt yet) it is
	 * remembered in @stop_early. */
	void (*halt)(void *arg);
	void *halt_arg;
	bool stop_early;
	/* the first run-time error: "file.lua:12: message" */
	char error[256];

	/* private to script.c below this line */
	struct lua_State *L;
	struct cb_script *s;
	unsigned k;
	const char *last; /* request(): the last string checked ... */
	size_t last_len;  /* ... its length ... */
	unsigned last_n;  /* ... and the requests in it */
	int last_ref;	  /* registry reference that keeps it alive */
	int resp_ref;	  /* the response() resp_headers/body were read from */
};

/*
 * cb_script_new() - load @o->script for a run of @threads threads on @url
 * (the URL given; its parts become wrk.scheme/host/port/path): make the
 * main state and one state per thread, call setup(thread) for each thread
 * in the main state, then init(args) in each thread's state, where args[0]
 * is @url and args[1..] are @o->script_args (wrk's "--" arguments), then
 * build each thread's static request and check it.
 * @addrs/@naddrs: the target's addresses (thread.addr is the first).
 *
 * Return: 0; -ENOTSUP (built without LuaJIT); -EINVAL for a script that
 * cannot be read or run (syntax error, error in setup() or init(), a bad
 * static request); -ENOMEM. On failure @err holds one line, with the
 * script's file and line where there is one.
 */
int cb_script_new(struct cb_script **out, const struct cb_opts *o,
		  const char *url, unsigned threads,
		  const struct sockaddr_storage *addrs, unsigned naddrs,
		  char *err, size_t err_len);

/* cb_script_thread() - thread @k's state. */
struct cb_script_thread *cb_script_thread(struct cb_script *s, unsigned k);

/* cb_script_has_done() - whether the script defines done(). */
bool cb_script_has_done(struct cb_script *s);

/*
 * cb_script_done() - call done(summary, latency, requests) in the main
 * state with the merged result @r (wrk's summary: duration in us,
 * requests, bytes, errors {connect, read, write, status, timeout};
 * latency in us; requests: the req/s samples).
 * Return: 0; -EINVAL if done() raised an error (@err says which).
 */
int cb_script_done(struct cb_script *s, const struct cb_result *r, char *err,
		   size_t err_len);

/* cb_script_free() - close every state (NULL is fine). */
void cb_script_free(struct cb_script *s);

/*
 * cb_script_request() - call request(): on CB_SCRIPT_OK *@p and *@len are the
 * request bytes (valid until the next call) holding *@nreq >= 1
 * pipelined requests, each checked with the HTTP parser.
 * Return: CB_SCRIPT_OK, CB_SCRIPT_BAD (*@code: -EINVAL for a value that is
 * not a string, COIL_EPARSE for a malformed request), CB_SCRIPT_FAIL.
 */
int cb_script_request(struct cb_script_thread *st, const char **p, size_t *len,
		      unsigned *nreq, int *code);

/* cb_script_delay() - call delay(): *@ms to wait before the next request.
 * Return: CB_SCRIPT_OK or CB_SCRIPT_FAIL. */
int cb_script_delay(struct cb_script_thread *st, uint64_t *ms);

/* cb_script_head() - a response head arrived (want_response only): make
 * its header fields a Lua table, kept in the registry as *@ref until
 * cb_script_response() (a previous *@ref is dropped). Return: CB_SCRIPT_OK. */
int cb_script_head(struct cb_script_thread *st, const struct coil_http_msg *m,
		   int *ref);

/* cb_script_response() - call response(status, headers, body): headers
 * the table of *@ref (dropped then), body @len bytes at @body.
 * Return: CB_SCRIPT_OK or CB_SCRIPT_FAIL. */
int cb_script_response(struct cb_script_thread *st, int status, int *ref,
		       const char *body, size_t len);

/* cb_script_unref() - drop the table of *@ref (a response cut short). */
void cb_script_unref(struct cb_script_thread *st, int *ref);

/* No reference (the value of a ref that holds no table). */
#define CB_SCRIPT_NOREF (-2)

#endif
