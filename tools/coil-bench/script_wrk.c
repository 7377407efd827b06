/*
 * tools/coil-bench/script_wrk.c - the objects of wrk's Lua API (see
 * script.h and script_internal.h): the `wrk` table of a new state
 * (scheme, host, port, method, path, headers, body, thread, segment), its
 * format()/lookup()/connect(), the addr, thread (get/set/stop/addr) and
 * stats (done()'s latency and requests) objects. script.c makes the
 * states and runs the hooks through the functions below; nothing here
 * calls back into script.c.
 *
 * wrk.format() is C here (wrk's is Lua): it is what a request() script
 * calls per request. Its result is the same text: the request line, every
 * header of the table (Host added from wrk.headers when missing,
 * Content-Length set from the body, as wrk does, in the table itself),
 * an empty line, the body.
 *
 * Built only with LuaJIT (COIL_BENCH_LUA).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../engine/grow.h"
#include "script_internal.h"

#define MT_ADDR "wrk.addr"
#define MT_STATS "wrk.stats"
#define MT_THREAD "wrk.thread"
#define COPY_DEPTH 32 /* thread:get/set: nested tables */
struct addr_ud {
	socklen_t len;
	struct sockaddr_storage ss;
};

struct stats_ud {
	const struct coil_hist *h;
	double div; /* ns -> us for latency, 1 for req/s */
};

/* wrk.format()'s output buffer, one per state (a closure upvalue). */
struct fmt_buf {
	char *p;
	size_t cap;
};

/* ---- small helpers -------------------------------------------------------
 */

/* The error at the top of @L as one line into @err. */
void cb_lua_error(lua_State *L, char *err, size_t err_len)
{
	const char *m = lua_tostring(L, -1);
	if (m)
		snprintf(err, err_len, "%s", m);
	else
		snprintf(err, err_len, "(error object is a %s value)",
			 luaL_typename(L, -1));
	for (char *c = err; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	lua_pop(L, 1);
}

static size_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

static void push_addr(lua_State *L, const struct sockaddr *sa, socklen_t len)
{
	struct addr_ud *a = lua_newuserdata(L, sizeof(*a));
	memset(a, 0, sizeof(*a));
	if (len > sizeof(a->ss))
		len = sizeof(a->ss);
	memcpy(&a->ss, sa, len);
	a->len = len;
	luaL_getmetatable(L, MT_ADDR);
	lua_setmetatable(L, -2);
}

/* ---- wrk.format, wrk.lookup, wrk.connect --------------------------------
 */

static int fmt_gc(lua_State *L)
{
	struct fmt_buf *b = lua_touserdata(L, 1);
	free(b->p);
	b->p = NULL;
	return 0;
}

static int fmt_put(struct fmt_buf *b, size_t *used, const char *s, size_t n)
{
	if (*used + n > b->cap) {
		char *p = coil__grow(b->p, &b->cap, *used + n, 1024);
		if (!p)
			return -ENOMEM;
		b->p = p;
	}
	memcpy(b->p + *used, s, n);
	*used += n;
	return 0;
}

/* The text of the value at @idx as string.format("%s") shows it. A number
 * converts in place, as tostring() would show it (both "%.14g"): no Lua
 * call for a counter in a header, the common request() script. */
static const char *fmt_text(lua_State *L, int idx, size_t *len)
{
	int t = lua_type(L, idx);
	if (t == LUA_TSTRING || t == LUA_TNUMBER)
		return lua_tolstring(L, idx, len);
	lua_getglobal(L, "tostring");
	lua_pushvalue(L, idx);
	lua_call(L, 1, 1);
	lua_replace(L, idx);
	return lua_tolstring(L, idx, len);
}

/* wrk.format(method, path, headers, body) */
static int l_format(lua_State *L)
{
	struct fmt_buf *b = lua_touserdata(L, lua_upvalueindex(1));
	size_t used = 0, n;
	const char *s;
	int ok = 0;

	lua_settop(L, 4);
	lua_getglobal(L, "wrk"); /* 5 */
	if (!lua_istable(L, 5))
		return luaL_error(L, "wrk.format: the wrk table is gone");
	for (int i = 1; i <= 4; i++) {
		static const char *const field[] = {"method", "path", "headers",
						    "body"};
		if (lua_isnil(L, i)) {
			lua_getfield(L, 5, field[i - 1]);
			lua_replace(L, i);
		}
	}
	if (!lua_istable(L, 3))
		return luaL_error(L, "wrk.format: headers must be a table");
	lua_getfield(L, 3, "Host");
	if (lua_isnil(L, -1)) {
		lua_getfield(L, 5, "headers");
		if (lua_istable(L, -1)) {
			lua_getfield(L, -1, "Host");
			lua_setfield(L, 3, "Host");
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (lua_isnil(L, 4)) {
		lua_pushnil(L);
	} else {
		fmt_text(L, 4, &n);
		lua_pushinteger(L, (lua_Integer)n);
	}
	lua_setfield(L, 3, "Content-Length");

	s = fmt_text(L, 1, &n);
	ok |= fmt_put(b, &used, s, n);
	ok |= fmt_put(b, &used, " ", 1);
	s = fmt_text(L, 2, &n);
	ok |= fmt_put(b, &used, s, n);
	ok |= fmt_put(b, &used, " HTTP/1.1\r\n", 11);
	lua_pushnil(L);
	while (lua_next(L, 3)) {
		/* copies: converting the key in place would upset lua_next */
		lua_pushvalue(L, -2);
		s = fmt_text(L, -1, &n);
		ok |= fmt_put(b, &used, s, n);
		ok |= fmt_put(b, &used, ": ", 2);
		s = fmt_text(L, -2, &n);
		ok |= fmt_put(b, &used, s, n);
		ok |= fmt_put(b, &used, "\r\n", 2);
		lua_pop(L, 2);
	}
	ok |= fmt_put(b, &used, "\r\n", 2);
	if (!lua_isnil(L, 4)) {
		s = lua_tolstring(L, 4, &n);
		ok |= fmt_put(b, &used, s, n);
	}
	if (ok < 0)
		return luaL_error(L, "wrk.format: out of memory");
	lua_pushlstring(L, b->p, used);
	return 1;
}

/* wrk.lookup(host, service): every address getaddrinfo(3) gives. */
static int l_lookup(lua_State *L)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *a;
	const char *host = luaL_checkstring(L, 1);
	const char *service = luaL_checkstring(L, 2);
	int rc, i = 1;

	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0)
		return luaL_error(L, "unable to resolve %s:%s %s", host,
				  service, gai_strerror(rc));
	lua_newtable(L);
	for (a = res; a; a = a->ai_next) {
		push_addr(L, a->ai_addr, a->ai_addrlen);
		lua_rawseti(L, -2, i++);
	}
	freeaddrinfo(res);
	return 1;
}

/* wrk.connect(addr): whether a TCP connection to @addr opens. */
static int l_connect(lua_State *L)
{
	struct addr_ud *a = luaL_checkudata(L, 1, MT_ADDR);
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
	if (fd >= 0) {
		ok = connect(fd, (struct sockaddr *)&a->ss, a->len) == 0;
		close(fd);
	}
	lua_pushboolean(L, ok);
	return 1;
}

static int addr_tostring(lua_State *L)
{
	struct addr_ud *a = luaL_checkudata(L, 1, MT_ADDR);
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int rc = getnameinfo((struct sockaddr *)&a->ss, a->len, host,
			     sizeof(host), serv, sizeof(serv),
			     NI_NUMERICHOST | NI_NUMERICSERV);
	if (rc != 0)
		return luaL_error(L, "addr tostring failed %s",
				  gai_strerror(rc));
	lua_pushfstring(L, "%s:%s", host, serv);
	return 1;
}

/* ---- thread objects -------------------------------------------------------
 */

static struct cb_script_thread *check_thread(lua_State *L)
{
	struct cb_script_thread **t = luaL_checkudata(L, 1, MT_THREAD);
	return *t;
}

void cb_lua_push_thread(lua_State *L, struct cb_script_thread *st)
{
	struct cb_script_thread **t = lua_newuserdata(L, sizeof(*t));
	*t = st;
	luaL_getmetatable(L, MT_THREAD);
	lua_setmetatable(L, -2);
}

/* Copy the value at @idx of @src onto @dst's stack: booleans, nil,
 * numbers, strings and tables of them (wrk's rule for get/set). */
static int copy_value(lua_State *src, lua_State *dst, int idx, int depth)
{
	if (idx < 0)
		idx = lua_gettop(src) + idx + 1;
	switch (lua_type(src, idx)) {
	case LUA_TBOOLEAN:
		lua_pushboolean(dst, lua_toboolean(src, idx));
		return 0;
	case LUA_TNIL:
		lua_pushnil(dst);
		return 0;
	case LUA_TNUMBER:
		lua_pushnumber(dst, lua_tonumber(src, idx));
		return 0;
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(src, idx, &n);
		lua_pushlstring(dst, s, n);
		return 0;
	}
	case LUA_TTABLE:
		if (depth >= COPY_DEPTH)
			return -1;
		lua_newtable(dst);
		lua_pushnil(src);
		while (lua_next(src, idx)) {
			if (copy_value(src, dst, -2, depth + 1) < 0 ||
			    copy_value(src, dst, -1, depth + 1) < 0) {
				lua_pop(src, 2);
				return -1;
			}
			lua_settable(dst, -3);
			lua_pop(src, 1);
		}
		return 0;
	default:
		return -1;
	}
}

static int thread_get(lua_State *L)
{
	struct cb_script_thread *st = check_thread(L);
	const char *name = luaL_checkstring(L, 2);
	int top = lua_gettop(L);
	lua_getglobal(st->L, name);
	if (copy_value(st->L, L, -1, 0) < 0) {
		lua_pop(st->L, 1);
		lua_settop(L, top);
		return luaL_error(L, "cannot transfer '%s' from thread", name);
	}
	lua_pop(st->L, 1);
	return 1;
}

static int thread_set(lua_State *L)
{
	struct cb_script_thread *st = check_thread(L);
	const char *name = luaL_checkstring(L, 2);
	int top = lua_gettop(st->L);
	lua_settop(L, 3);
	if (copy_value(L, st->L, 3, 0) < 0) {
		lua_settop(st->L, top);
		return luaL_error(L, "cannot transfer '%s' to thread",
				  luaL_typename(L, 3));
	}
	lua_setglobal(st->L, name);
	return 0;
}

static int thread_stop(lua_State *L)
{
	struct cb_script_thread *st = check_thread(L);
	if (st->halt)
		st->halt(st->halt_arg);
	else
		st->stop_early = true;
	return 0;
}

static int thread_index(lua_State *L)
{
	struct cb_script_thread *st = check_thread(L);
	const char *key = luaL_checkstring(L, 2);
	if (!strcmp(key, "get"))
		lua_pushcfunction(L, thread_get);
	else if (!strcmp(key, "set"))
		lua_pushcfunction(L, thread_set);
	else if (!strcmp(key, "stop"))
		lua_pushcfunction(L, thread_stop);
	else if (!strcmp(key, "addr") && st->has_addr)
		push_addr(L, (struct sockaddr *)&st->addr,
			  (socklen_t)addr_len(&st->addr));
	else if (!strcmp(key, "addr") && st->s->have_addr0)
		push_addr(L, (struct sockaddr *)&st->s->addr0,
			  (socklen_t)addr_len(&st->s->addr0));
	else
		lua_pushnil(L);
	return 1;
}

static int thread_newindex(lua_State *L)
{
	struct cb_script_thread *st = check_thread(L);
	const char *key = luaL_checkstring(L, 2);
	if (strcmp(key, "addr") != 0)
		return luaL_error(L, "cannot set '%s' on thread", key);
	struct addr_ud *a = luaL_checkudata(L, 3, MT_ADDR);
	memset(&st->addr, 0, sizeof(st->addr));
	memcpy(&st->addr, &a->ss, a->len);
	st->has_addr = true;
	return 0;
}

/* ---- stats objects (done()) -----------------------------------------------
 */

static struct stats_ud *check_stats(lua_State *L)
{
	return luaL_checkudata(L, 1, MT_STATS);
}

static int stats_percentile(lua_State *L)
{
	struct stats_ud *s = check_stats(L);
	double p = luaL_checknumber(L, 2);
	lua_pushnumber(L,
		       (double)(uint64_t)((double)coil_hist_value_at_percentile(
						  s->h, p) /
					  s->div));
	return 1;
}

/* stats(i): the i-th distinct value (lowest first) and its count */
static int stats_call(lua_State *L)
{
	struct stats_ud *s = check_stats(L);
	lua_Integer i = luaL_checkinteger(L, 2);
	struct coil_hist_iter it = {0};
	lua_Integer k = 0;
	while (coil_hist_iter_next(s->h, &it)) {
		if (++k == i) {
			lua_pushnumber(L, (double)(uint64_t)((double)it.lowest /
							     s->div));
			lua_pushnumber(L, (double)it.count);
			return 2;
		}
	}
	lua_pushnumber(L, 0);
	lua_pushnumber(L, 0);
	return 2;
}

static int stats_len(lua_State *L)
{
	struct stats_ud *s = check_stats(L);
	struct coil_hist_iter it = {0};
	lua_Integer k = 0;
	while (coil_hist_iter_next(s->h, &it))
		k++;
	lua_pushinteger(L, k);
	return 1;
}

static int stats_index(lua_State *L)
{
	struct stats_ud *s = check_stats(L);
	const char *key = luaL_checkstring(L, 2);
	if (!strcmp(key, "min"))
		lua_pushnumber(L,
			       (double)(uint64_t)((double)coil_hist_min(s->h) /
						  s->div));
	else if (!strcmp(key, "max"))
		lua_pushnumber(L,
			       (double)(uint64_t)((double)coil_hist_max(s->h) /
						  s->div));
	else if (!strcmp(key, "mean"))
		lua_pushnumber(L, coil_hist_mean(s->h) / s->div);
	else if (!strcmp(key, "stdev"))
		lua_pushnumber(L, coil_hist_stdev(s->h) / s->div);
	else if (!strcmp(key, "percentile"))
		lua_pushcfunction(L, stats_percentile);
	else
		lua_pushnil(L);
	return 1;
}

void cb_lua_push_stats(lua_State *L, const struct coil_hist *h, double div)
{
	struct stats_ud *s = lua_newuserdata(L, sizeof(*s));
	s->h = h;
	s->div = div;
	luaL_getmetatable(L, MT_STATS);
	lua_setmetatable(L, -2);
}

/* ---- making a state -------------------------------------------------------
 */

static void metatable(lua_State *L, const char *name, const luaL_Reg *fns)
{
	luaL_newmetatable(L, name);
	luaL_register(L, NULL, fns);
	lua_pop(L, 1);
}

void cb_lua_split_url(const char *url, struct cb_url_parts *u)
{
	const char *p = strstr(url, "://"), *h, *end, *colon = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	n = p ? (size_t)(p - url) : 0;
	if (n >= sizeof(u->scheme))
		n = sizeof(u->scheme) - 1;
	memcpy(u->scheme, url, n);
	for (size_t i = 0; i < n; i++)
		if (u->scheme[i] >= 'A' && u->scheme[i] <= 'Z')
			u->scheme[i] = (char)(u->scheme[i] - 'A' + 'a');
	h = p ? p + 3 : url;
	end = h + strcspn(h, "/?#");
	u->path = *end == '/' ? end : "/";
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		n = rb ? (size_t)(rb - h - 1) : 0;
		if (n >= sizeof(u->host))
			n = sizeof(u->host) - 1;
		memcpy(u->host, h + 1, n);
		if (rb && rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon ? colon : end) - h);
		if (n >= sizeof(u->host))
			n = sizeof(u->host) - 1;
		memcpy(u->host, h, n);
	}
	if (colon) {
		n = (size_t)(end - colon - 1);
		if (n >= sizeof(u->port))
			n = sizeof(u->port) - 1;
		memcpy(u->port, colon + 1, n);
	}
}

/* wrk.segment (coil's own, segment.h): with --segment, this worker's share
 * of the test, {index = I, count = N, first_connection = F (0-based),
 * connections = C}, so that a script can give each worker its own offset
 * (ids, keys, pages); nil on one machine. */
static void push_segment(lua_State *L, const struct cb_opts *o)
{
	if (!o->seg.count) {
		lua_pushnil(L);
		return;
	}
	lua_newtable(L);
	lua_pushinteger(L, (lua_Integer)o->seg.index);
	lua_setfield(L, -2, "index");
	lua_pushinteger(L, (lua_Integer)o->seg.count);
	lua_setfield(L, -2, "count");
	lua_pushinteger(L, (lua_Integer)o->seg.conn_first);
	lua_setfield(L, -2, "first_connection");
	lua_pushinteger(L, (lua_Integer)o->connections);
	lua_setfield(L, -2, "connections");
}

lua_State *cb_lua_state(struct cb_script *s, const struct cb_opts *o,
			const char *url, struct cb_script_thread *st, char *err,
			size_t err_len)
{
	static const luaL_Reg addr_fns[] = {{"__tostring", addr_tostring},
					    {NULL, NULL}};
	static const luaL_Reg stats_fns[] = {{"__call", stats_call},
					     {"__index", stats_index},
					     {"__len", stats_len},
					     {NULL, NULL}};
	static const luaL_Reg thread_fns[] = {{"__index", thread_index},
					      {"__newindex", thread_newindex},
					      {NULL, NULL}};
	struct cb_url_parts u;
	struct fmt_buf *fb;
	lua_State *L = luaL_newstate();

	if (!L) {
		snprintf(err, err_len, "%s: cannot make a Lua state", s->path);
		return NULL;
	}
	luaL_openlibs(L);
	metatable(L, MT_ADDR, addr_fns);
	metatable(L, MT_STATS, stats_fns);
	metatable(L, MT_THREAD, thread_fns);

	cb_lua_split_url(url, &u);
	lua_newtable(L);
	lua_pushstring(L, u.scheme);
	lua_setfield(L, -2, "scheme");
	lua_pushstring(L, u.host);
	lua_setfield(L, -2, "host");
	if (u.port[0])
		lua_pushstring(L, u.port);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "port");
	lua_pushstring(L, o->method ? o->method : "GET");
	lua_setfield(L, -2, "method");
	lua_pushstring(L, u.path);
	lua_setfield(L, -2, "path");
	lua_newtable(L);
	for (size_t i = 0; i < o->n_headers; i++) {
		const char *h = o->headers[i], *colon = strchr(h, ':');
		const char *v, *e;
		if (!colon)
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		lua_pushlstring(L, h, (size_t)(colon - h));
		lua_pushlstring(L, v, (size_t)(e - v));
		lua_settable(L, -3);
	}
	lua_setfield(L, -2, "headers");
	if (o->body)
		lua_pushlstring(L, o->body, o->body_len);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "body");
	if (st)
		cb_lua_push_thread(L, st);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "thread");
	fb = lua_newuserdata(L, sizeof(*fb));
	memset(fb, 0, sizeof(*fb));
	lua_newtable(L);
	lua_pushcfunction(L, fmt_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	lua_pushcclosure(L, l_format, 1);
	lua_setfield(L, -2, "format");
	lua_pushcfunction(L, l_lookup);
	lua_setfield(L, -2, "lookup");
	lua_pushcfunction(L, l_connect);
	lua_setfield(L, -2, "connect");
	push_segment(L, o);
	lua_setfield(L, -2, "segment");
	/* require "wrk" gives the same table */
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "loaded");
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "wrk");
	lua_pop(L, 2);
	lua_setglobal(L, "wrk");

	if (luaL_loadfile(L, s->path) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
		cb_lua_error(L, err, err_len);
		lua_close(L);
		return NULL;
	}
	return L;
}
