/*
 * tests/client/fenv.h - a client fixture (cl.h) against the test server
 * (fsrv.h), with the descriptors counted before the server starts and
 * checked after everything stopped: nothing left open.
 */
#ifndef COIL_TEST_FENV_H
#define COIL_TEST_FENV_H

#include "cl.h"
#include "fsrv.h"

struct env {
	struct fsrv s;
	struct fx f;
	int fds;
	char url[256];
};

static inline void env_open(struct env *e,
			    const struct coil_http_client_opts *o)
{
	e->fds = tu_count_fds();
	fsrv_start(&e->s);
	fx_open(&e->f, o);
}

static inline void env_close(struct env *e)
{
	fx_close(&e->f);
	fsrv_stop(&e->s);
	assert_int_equal(tu_count_fds(), e->fds);
}

#endif
