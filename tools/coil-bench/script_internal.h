/*
 * tools/coil-bench/script_internal.h - what script.c and script_wrk.c
 * share (LuaJIT builds only). script.c owns the script's life (the states,
 * setup/init/done) and the per-request hooks; script_wrk.c owns the
 * objects of wrk's API in a state. Calls run one way: script.c calls the
 * cb_lua_*() functions below, script_wrk.c reads struct cb_script and
 * struct cb_script_thread and calls nothing in script.c.
 */
#ifndef COIL_BENCH_SCRIPT_INTERNAL_H
#define COIL_BENCH_SCRIPT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <lua.h>

#include "coil/hist.h"
#include "cli.h"
#include "script.h"

struct cb_script {
	lua_State *L; /* setup() and done() */
	const char *path;
	unsigned threads;
	struct cb_script_thread *th;
	struct sockaddr_storage addr0; /* the target's first address */
	bool have_addr0;
	bool has_done;
};

/* The URL's parts as wrk gives them: scheme, host (an IPv6 literal
 * without brackets), the port only when written, the path from the first
 * '/' on (query included). */
struct cb_url_parts {
	char scheme[8];
	char host[256];
	char port[8];
	const char *path;
};

/* The URL's parts into @u (@u->path points into @url). */
void cb_lua_split_url(const char *url, struct cb_url_parts *u);

/*
 * A new Lua state for script @s: the standard libraries, the `wrk` table
 * (from @o and @url; wrk.thread is @st, nil for the main state), then the
 * script run once. Return: the state, or NULL with the reason in @err.
 */
lua_State *cb_lua_state(struct cb_script *s, const struct cb_opts *o,
			const char *url, struct cb_script_thread *st, char *err,
			size_t err_len);

/* Push a thread object for @st (setup()'s argument, wrk.thread). */
void cb_lua_push_thread(lua_State *L, struct cb_script_thread *st);

/* Push a stats object over @h, values divided by @div (done()). */
void cb_lua_push_stats(lua_State *L, const struct coil_hist *h, double div);

/* Pop the error at the top of @L into @err as one line. */
void cb_lua_error(lua_State *L, char *err, size_t err_len);

#endif
