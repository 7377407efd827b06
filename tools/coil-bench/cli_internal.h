/*
 * tools/coil-bench/cli_internal.h - what the command line's files share.
 * cli.c reads the options (the table, getopt_long(3)) and calls
 * cli_check.c (what the options exclude and imply, checked once all are
 * read) and cli_values.c (the values with a grammar); cli_check.c calls
 * cli_values.c; nothing calls back up. cli_help.c has the --help text.
 * Every function returns 0 or a negative errno with a one-line message
 * in @err (tools_fail()), as cb_cli_parse() does.
 */
#ifndef COIL_BENCH_CLI_INTERNAL_H
#define COIL_BENCH_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* ---- cli_values.c ---- */

/* -H's value: "Name: value", a token, a colon, visible characters,
 * spaces and tabs (RFC 9110 section 5.5). Return: 0; -EINVAL. */
int cb_cli_check_header(const char *h, char *err, size_t len);
/* Append a copy of @u (@n bytes) to @o->urls. Return: 0; -E2BIG past
 * CB_MAX_URLS; -ENOMEM (no message for either). */
int cb_cli_add_url(struct cb_opts *o, const char *u, size_t n);
/* --urls FILE's URLs appended to @o->urls. Return: 0; -EINVAL (a NUL
 * byte, too many URLs, none); the read's -errno; -ENOMEM. */
int cb_cli_read_urls(struct cb_opts *o, const char *path, char *err,
		     size_t len);
/* --stages' spec (@o->stages_spec) into @o->stages: @start is the value
 * before the first stage, @max the largest target. Return: 0; -EINVAL;
 * -ENOMEM. */
int cb_cli_parse_stages(struct cb_opts *o, uint64_t start, uint64_t max,
			char *err, size_t len);

/* ---- cli_check.c ---- */

/* The checks, defaults and loads once every option is read: @have_d and
 * @have_r say whether -d and -R were given, @body_arg is -b's value or
 * NULL. Return: as cb_cli_parse(). */
int cb_cli_check(struct cb_opts *o, bool have_d, bool have_r,
		 const char *body_arg, char *err, size_t err_len);

#endif
