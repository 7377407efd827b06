/*
 * tools/coil-bench/script.c - wrk's Lua scripting API on LuaJIT (see
 * script.h). Written from wrk's SCRIPTING document: the `wrk` table, its
 * format()/lookup()/connect(), the thread, addr and stats objects, the
 * hooks setup/init/delay/request/response/done, and the "--" arguments.
 *
 * This file makes the states, runs setup()/init()/done() and the
 * per-request hooks; the objects of the `wrk` API are script_wrk.c's
 * (script_internal.h: calls run from here to there only).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "script.h"

#ifndef COIL_BENCH_LUA

int cb_script_new(struct cb_script **out, const struct cb_opts *o,
		  const char *url, unsigned threads,
		  const struct sockaddr_storage *addrs, unsigned naddrs,
		  char *err, size_t err_len)
{
	(void)o;
	(void)url;
	(void)threads;
	(void)addrs;
	(void)naddrs;
	*out = NULL;
	snprintf(err, err_len,
		 "-s needs LuaJIT, and this coil-bench was built without it "
		 "(install libluajit-5.1-dev and build again)");
	return -ENOTSUP;
}
struct cb_script_thread *cb_script_thread(struct cb_script *s, unsigned k)
{
	(void)s;
	(void)k;
	return NULL;
}
bool cb_script_has_done(struct cb_script *s)
{
	(void)s;
	return false;
}
int cb_script_done(struct cb_script *s, const struct cb_result *r, char *err,
		   size_t err_len)
{
	(void)s;
	(void)r;
	(void)err;
	(void)err_len;
	return 0;
}
void cb_script_free(struct cb_script *s)
{
	(void)s;
}
int cb_script_request(struct cb_script_thread *st, const char **p, size_t *len,
		      unsigned *nreq, int *code)
{
	(void)st;
	(void)p;
	(void)len;
	(void)nreq;
	(void)code;
	return CB_SCRIPT_FAIL;
}
int cb_script_delay(struct cb_script_thread *st, uint64_t *ms)
{
	(void)st;
	*ms = 0;
	return CB_SCRIPT_FAIL;
}
int cb_script_head(struct cb_script_thread *st, const struct coil_http_msg *m,
		   int *ref)
{
	(void)st;
	(void)m;
	*ref = CB_SCRIPT_NOREF;
	return CB_SCRIPT_FAIL;
}
int cb_script_response(struct cb_script_thread *st, int status, int *ref,
		       const char *body, size_t len)
{
	(void)st;
	(void)status;
	(void)ref;
	(void)body;
	(void)len;
	return CB_SCRIPT_FAIL;
}
void cb_script_unref(struct cb_script_thread *st, int *ref)
{
	(void)st;
	*ref = CB_SCRIPT_NOREF;
}

#else /* COIL_BENCH_LUA */

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "script_internal.h"

#define MAX_CHECK_HEADERS 256

/* ---- small helpers -------------------------------------------------------
 */

static bool is_function(lua_State *L, const char *name)
{
	bool f;
	lua_getglobal(L, name);
	f = lua_isfunction(L, -1);
	lua_pop(L, 1);
	return f;
}

/*
 * Check that @p (@len bytes) is one or more complete HTTP requests, back
 * to back. *@n: how many. Return: 0, or COIL_EPARSE.
 */
static int check_requests(const char *p, size_t len, unsigned *n)
{
	struct coil_http_header hdrs[MAX_CHECK_HEADERS];
	struct coil_http_msg m;
	size_t off = 0;

	*n = 0;
	coil_http_msg_init(&m, hdrs, MAX_CHECK_HEADERS);
	while (off < len) {
		int ret;
		coil_http_msg_reset(&m);
		ret = coil_http_parse_request(&m, p + off, len - off);
		if (ret <= 0)
			return COIL_EPARSE; /* malformed or incomplete */
		off += (size_t)ret;
		if (m.body == COIL_HTTP_BODY_LENGTH) {
			if (m.content_length > len - off)
				return COIL_EPARSE;
			off += (size_t)m.content_length;
		} else if (m.body == COIL_HTTP_BODY_CHUNKED) {
			/* decode a copy: the string is Lua's */
			struct coil_http_chunked d;
			size_t dl = len - off;
			char *copy = malloc(dl ? dl : 1);
			if (!copy)
				return COIL_EPARSE;
			memcpy(copy, p + off, dl);
			coil_http_chunked_init(&d, 1);
			ret = coil_http_chunked_decode(&d, copy, &dl);
			free(copy);
			if (ret < 0)
				return COIL_EPARSE;
			off = len - (size_t)ret;
		}
		(*n)++;
	}
	return *n ? 0 : COIL_EPARSE;
}

/* ---- making a state -------------------------------------------------------
 */

/* The response() at the top of the stack (popped): which arguments it
 * takes, from debug.getinfo(f, "u") (LuaJIT: nparams, isvararg). */
static void read_params(struct cb_script_thread *st)
{
	lua_State *L = st->L;
	int np = 3, va = 0;
	lua_getglobal(L, "debug");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "getinfo");
		lua_pushvalue(L, -3);
		lua_pushstring(L, "u");
		if (lua_pcall(L, 2, 1, 0) == 0 && lua_istable(L, -1)) {
			lua_getfield(L, -1, "nparams");
			if (lua_isnumber(L, -1))
				np = (int)lua_tointeger(L, -1);
			lua_getfield(L, -2, "isvararg");
			va = lua_toboolean(L, -1);
			lua_pop(L, 2);
		}
		lua_pop(L, 1); /* getinfo's result, or its error */
	}
	lua_pop(L, 1); /* debug */
	st->resp_headers = va || np >= 2;
	st->resp_body = va || np >= 3;
	luaL_unref(L, LUA_REGISTRYINDEX, st->resp_ref);
	st->resp_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it */
}

/* Bytes of @p up to its first line end. */
static size_t line_len(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && i < 200 && p[i] != '\r' && p[i] != '\n')
		i++;
	return i;
}

/* wrk.request() of the static request: its upvalue */
static int static_request(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	return 1;
}

/* In thread state @st: the Host header as wrk sets it, init(args), the
 * static request and wrk.request(). */
static int init_thread(struct cb_script *s, struct cb_script_thread *st,
		       const struct cb_opts *o, const char *url, char *err,
		       size_t err_len)
{
	lua_State *L = st->L;
	struct cb_url_parts u;
	const char *req;
	size_t len;
	unsigned n;

	cb_lua_split_url(url, &u);
	lua_getglobal(L, "wrk");
	lua_getfield(L, -1, "headers");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "Host");
		if (lua_isnil(L, -1)) {
			if (strchr(u.host, ':'))
				lua_pushfstring(L, "[%s]", u.host);
			else
				lua_pushstring(L, u.host);
			if (u.port[0]) {
				lua_pushfstring(L, ":%s", u.port);
				lua_concat(L, 2);
			}
			lua_setfield(L, -3, "Host");
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 2);

	lua_getglobal(L, "init");
	if (lua_isfunction(L, -1)) {
		lua_newtable(L);
		lua_pushstring(L, url);
		lua_rawseti(L, -2, 0);
		for (size_t i = 0; i < o->n_script_args; i++) {
			lua_pushstring(L, o->script_args[i]);
			lua_rawseti(L, -2, (int)i + 1);
		}
		if (lua_pcall(L, 1, 0, 0) != 0) {
			cb_lua_error(L, err, err_len);
			return -EINVAL;
		}
	} else {
		lua_pop(L, 1);
	}

	/* the static request, built once */
	lua_getglobal(L, "wrk");
	lua_getfield(L, -1, "format");
	if (lua_pcall(L, 0, 1, 0) != 0) {
		cb_lua_error(L, err, err_len);
		lua_pop(L, 1);
		return -EINVAL;
	}
	req = lua_tolstring(L, -1, &len);
	st->req = malloc(len ? len : 1);
	if (!st->req) {
		snprintf(err, err_len, "out of memory");
		lua_pop(L, 2);
		return -ENOMEM;
	}
	memcpy(st->req, req, len);
	st->req_len = len;
	/* wrk.request() returns it */
	lua_pushvalue(L, -1);
	lua_pushcclosure(L, static_request, 1);
	lua_setfield(L, -3, "request");
	lua_pop(L, 2);

	st->dynamic = is_function(L, "request");
	st->want_response = is_function(L, "response");
	if (st->want_response) {
		lua_getglobal(L, "response");
		read_params(st);
	}
	st->has_delay = is_function(L, "delay");
	if (!st->dynamic && check_requests(st->req, st->req_len, &n) < 0) {
		snprintf(err, err_len,
			 "%s: the request wrk.format() builds after init() is "
			 "not a valid HTTP request: %.*s",
			 s->path, (int)line_len(st->req, st->req_len), st->req);
		return -EINVAL;
	}
	return 0;
}

int cb_script_new(struct cb_script **out, const struct cb_opts *o,
		  const char *url, unsigned threads,
		  const struct sockaddr_storage *addrs, unsigned naddrs,
		  char *err, size_t err_len)
{
	struct cb_script *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s || !(s->th = calloc(threads, sizeof(*s->th)))) {
		free(s);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->path = o->script;
	s->threads = threads;
	if (naddrs) {
		s->addr0 = addrs[0];
		s->have_addr0 = true;
	}
	for (unsigned k = 0; k < threads; k++) {
		s->th[k].s = s;
		s->th[k].k = k;
		s->th[k].last_ref = LUA_NOREF;
		s->th[k].resp_ref = LUA_NOREF;
	}
	if (!(s->L = cb_lua_state(s, o, url, NULL, err, err_len))) {
		ret = -EINVAL;
		goto fail;
	}
	for (unsigned k = 0; k < threads; k++) {
		struct cb_script_thread *st = &s->th[k];
		if (!(st->L = cb_lua_state(s, o, url, st, err, err_len))) {
			ret = -EINVAL;
			goto fail;
		}
		/* setup(thread) in the main state, then init() in the
		 * thread's (wrk's order: setup may set globals init reads) */
		lua_getglobal(s->L, "setup");
		if (lua_isfunction(s->L, -1)) {
			cb_lua_push_thread(s->L, st);
			if (lua_pcall(s->L, 1, 0, 0) != 0) {
				cb_lua_error(s->L, err, err_len);
				ret = -EINVAL;
				goto fail;
			}
		} else {
			lua_pop(s->L, 1);
		}
		if ((ret = init_thread(s, st, o, url, err, err_len)) < 0)
			goto fail;
	}
	s->has_done = is_function(s->L, "done");
	*out = s;
	return 0;
fail:
	cb_script_free(s);
	return ret;
}

struct cb_script_thread *cb_script_thread(struct cb_script *s, unsigned k)
{
	return s && k < s->threads ? &s->th[k] : NULL;
}

bool cb_script_has_done(struct cb_script *s)
{
	return s && s->has_done;
}

void cb_script_free(struct cb_script *s)
{
	if (!s)
		return;
	for (unsigned k = 0; k < s->threads; k++) {
		if (s->th[k].L)
			lua_close(s->th[k].L);
		free(s->th[k].req);
	}
	if (s->L)
		lua_close(s->L);
	free(s->th);
	free(s);
}

static void set_count(lua_State *L, const char *name, uint64_t v)
{
	lua_pushnumber(L, (double)v);
	lua_setfield(L, -2, name);
}

int cb_script_done(struct cb_script *s, const struct cb_result *r, char *err,
		   size_t err_len)
{
	const struct cb_err_stats *e = r->errors;
	lua_State *L = s->L;
	uint64_t status = r->status_other;

	for (int i = 400; i < CB_STATUS_MAX; i++)
		status += r->status[i];
	lua_getglobal(L, "done");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	lua_newtable(L);
	set_count(L, "duration", r->runtime_ns / 1000);
	set_count(L, "requests", r->requests);
	set_count(L, "bytes", r->bytes_read);
	lua_newtable(L); /* folded as wrk's "Socket errors" line */
	set_count(L, "connect", e[CB_ERR_CONNECT].count + e[CB_ERR_TLS].count);
	set_count(L, "read",
		  e[CB_ERR_READ].count + e[CB_ERR_RESET].count +
			  e[CB_ERR_PARSE].count);
	set_count(L, "write", e[CB_ERR_WRITE].count);
	set_count(L, "status", status);
	set_count(L, "timeout", e[CB_ERR_TIMEOUT].count);
	set_count(L, "script", e[CB_ERR_SCRIPT].count);
	lua_setfield(L, -2, "errors");
	cb_lua_push_stats(L, r->latency, 1000.0);
	cb_lua_push_stats(L, r->req_per_sec, 1.0);
	if (lua_pcall(L, 3, 0, 0) != 0) {
		cb_lua_error(L, err, err_len);
		return -EINVAL;
	}
	return 0;
}

/* ---- per request, on the generator thread --------------------------------
 */

/* A hook raised an error: keep the first message, end the run. */
static int hook_failed(struct cb_script_thread *st)
{
	char msg[sizeof(st->error)];
	cb_lua_error(st->L, msg, sizeof(msg));
	if (!st->error[0])
		memcpy(st->error, msg, sizeof(msg));
	if (st->halt)
		st->halt(st->halt_arg);
	return CB_SCRIPT_FAIL;
}

int cb_script_request(struct cb_script_thread *st, const char **p, size_t *len,
		      unsigned *nreq, int *code)
{
	lua_State *L = st->L;
	const char *s;
	size_t n;
	unsigned count;

	lua_getglobal(L, "request");
	if (!lua_isfunction(L, -1)) {
		/* request was unset since init(): wrk.request() */
		lua_pop(L, 1);
		lua_getglobal(L, "wrk");
		lua_getfield(L, -1, "request");
		lua_remove(L, -2);
	}
	if (lua_pcall(L, 0, 1, 0) != 0)
		return hook_failed(st);
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 1);
		*code = -EINVAL;
		return CB_SCRIPT_BAD;
	}
	s = lua_tolstring(L, -1, &n);
	if (s == st->last && n == st->last_len) {
		/* the string checked last time (kept alive by its
		 * reference, so the same address is the same string) */
		lua_pop(L, 1);
	} else {
		if (check_requests(s, n, &count) < 0) {
			lua_pop(L, 1);
			*code = COIL_EPARSE;
			return CB_SCRIPT_BAD;
		}
		luaL_unref(L, LUA_REGISTRYINDEX, st->last_ref);
		st->last_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops */
		st->last = s;
		st->last_len = n;
		st->last_n = count;
	}
	*p = st->last;
	*len = st->last_len;
	*nreq = st->last_n;
	return CB_SCRIPT_OK;
}

int cb_script_delay(struct cb_script_thread *st, uint64_t *ms)
{
	lua_State *L = st->L;
	double v;
	*ms = 0;
	lua_getglobal(L, "delay");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return CB_SCRIPT_OK;
	}
	if (lua_pcall(L, 0, 1, 0) != 0)
		return hook_failed(st);
	v = lua_tonumber(L, -1);
	lua_pop(L, 1);
	if (v > 0)
		*ms = v > 3.6e6 ? 3600000 : (uint64_t)v; /* at most 1 h */
	return CB_SCRIPT_OK;
}

int cb_script_head(struct cb_script_thread *st, const struct coil_http_msg *m,
		   int *ref)
{
	lua_State *L = st->L;
	lua_createtable(L, 0, (int)m->nheaders);
	for (unsigned i = 0; i < m->nheaders; i++) {
		const struct coil_http_header *h = &m->headers[i];
		lua_pushlstring(L, h->name, h->name_len);
		lua_pushlstring(L, h->value, h->value_len);
		lua_rawset(L, -3);
	}
	cb_script_unref(st, ref);
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return CB_SCRIPT_OK;
}

void cb_script_unref(struct cb_script_thread *st, int *ref)
{
	if (*ref >= 0)
		luaL_unref(st->L, LUA_REGISTRYINDEX, *ref);
	*ref = CB_SCRIPT_NOREF;
}

int cb_script_response(struct cb_script_thread *st, int status, int *ref,
		       const char *body, size_t len)
{
	lua_State *L = st->L;
	bool headers = st->resp_headers, whole = st->resp_body;
	int nargs = 1;
	lua_getglobal(L, "response");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		cb_script_unref(st, ref);
		return CB_SCRIPT_OK;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->resp_ref);
	if (!lua_rawequal(L, -1, -2)) {
		/* another response(): read its parameters for the next
		 * responses; this one passes everything it has */
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		read_params(st);
		headers = whole = true;
	} else {
		lua_pop(L, 1);
	}
	lua_pushinteger(L, status);
	if (headers) {
		if (*ref >= 0)
			lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
		else
			lua_newtable(L);
		nargs++;
	}
	cb_script_unref(st, ref);
	if (whole) {
		lua_pushlstring(L, body ? body : "", len);
		nargs++;
	}
	if (lua_pcall(L, nargs, 0, 0) != 0)
		return hook_failed(st);
	return CB_SCRIPT_OK;
}

#endif /* COIL_BENCH_LUA */
