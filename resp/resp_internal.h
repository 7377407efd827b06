/*
 * resp/resp_internal.h - what value.c and client.c share. Private to
 * resp/.
 */
#ifndef COIL_RESP_INTERNAL_H
#define COIL_RESP_INTERNAL_H

#include "coil/resp.h"
#include "../engine/grow.h"

/* Lay out the reply of @len bytes at @p (coil_resp_parse() said: @len,
 * @nvals values, @nbytes string bytes) in *@arena (grown as needed,
 * *@cap bytes). Return: the root value; NULL when out of memory. */
struct coil_resp_value *coil__resp_build(const char *p, size_t len,
					 size_t nvals, size_t nbytes,
					 void **arena, size_t *cap);

#endif
