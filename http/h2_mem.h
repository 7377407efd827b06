/*
 * http/h2_mem.h - the free-list allocator under a client's nghttp2 session
 * (http/h2_mem.c). Internal: included through http/h2_internal.h.
 */
#ifndef COIL_HTTP_H2_MEM_H
#define COIL_HTTP_H2_MEM_H

#include <stdint.h>

#include <nghttp2/nghttp2.h>

#define COIL__H2_MEM_CLASSES 5 /* 64, 128, 256, 512, 1024 bytes */
#define COIL__H2_MEM_KEEP 16   /* blocks a class's list holds at most */

struct coil__h2_mem {
	nghttp2_mem ng; /* for nghttp2_session_client_new3(); points here */
	void *lists[COIL__H2_MEM_CLASSES];
	uint32_t nfree[COIL__H2_MEM_CLASSES];
};

/* Set @m up (empty lists); m->ng is what nghttp2 is given. @m must not
 * move while a session uses it. */
void coil__h2_mem_init(struct coil__h2_mem *m);

/* Free the blocks on @m's lists: after nghttp2_session_del(), when
 * nothing of nghttp2's is left outside them. */
void coil__h2_mem_free(struct coil__h2_mem *m);

#endif
