/*
 * tools/common/cli.h - the command-line convention coil's three programs
 * (coil-bench, coil-get, coil-serve) share, in one place:
 *
 *  - durations take a unit everywhere: "500ms", "2s", "1m", "100us",
 *    "1.5s" (ns, us, ms, s, m, h); a plain number keeps the meaning each
 *    flag documents, for compatibility with the tool it stands in for
 *    (seconds for wrk's -d/--timeout and curl's -m/--connect-timeout,
 *    milliseconds for coil-serve's timeouts, microseconds for
 *    --batch-wait), and --help says which;
 *  - -V/--version prints "PROGRAM VERSION" with coil's version
 *    (COIL_VERSION_STRING, from CMake's project version);
 *  - --help ends with the exit-status table (exit_status.h).
 *
 * The shared flags are spelled the same in each program that has them:
 * --timeout, --connect-timeout, -k/--insecure, --cacert, -H/--header,
 * --json. Header-only, as parse.h, so that a test compiling a program's
 * cli.c in needs no other source.
 */
#ifndef COIL_TOOLS_CLI_H
#define COIL_TOOLS_CLI_H

#include <stdio.h>

#include "coil/version.h"
#include "exit_status.h"
#include "parse.h"

/* What a plain number means for a duration flag (its documented unit). */
#define TOOLS_PLAIN_US 1000ull
#define TOOLS_PLAIN_MS 1000000ull
#define TOOLS_PLAIN_S 1000000000ull

/* The duration units, in every program the same. */
static const struct tools_unit tools_time_units[] = {
	{"ns", 1ull},
	{"us", 1000ull},
	{"ms", 1000000ull},
	{"s", 1000000000ull},
	{"m", 60000000000ull},
	{"h", 3600000000000ull},
	{NULL, 0},
};

/* The word for @plain_ns in messages and --help: "seconds" ... */
static inline const char *tools_plain_word(uint64_t plain_ns)
{
	return plain_ns == TOOLS_PLAIN_US   ? "microseconds"
	       : plain_ns == TOOLS_PLAIN_MS ? "milliseconds"
					    : "seconds";
}

/*
 * tools_parse_duration() - "<number>[unit]" to nanoseconds: "500ms",
 * "1.5s", "2m", "100us"; a number without a unit counts in @plain_ns
 * (TOOLS_PLAIN_S, _MS or _US). A fraction below 1 ns is dropped.
 * Return: 0; -EINVAL (not a number, a sign, an unknown unit); -ERANGE
 * (over 2^64 ns).
 */
static inline int tools_parse_duration(const char *s, uint64_t plain_ns,
				       uint64_t *ns)
{
	return tools_parse_scaled(s, tools_time_units, plain_ns, 0, ns);
}

/*
 * tools_get_duration() - a duration flag's value in [@min_ns, @max_ns],
 * with the one-line message every program gives for a bad one.
 * @flag: how the flag is named in the message ("--timeout", "-d").
 * Return: 0 with *@ns set; -EINVAL with @err filled.
 */
static inline int tools_get_duration(const char *flag, const char *arg,
				     uint64_t plain_ns, uint64_t min_ns,
				     uint64_t max_ns, uint64_t *ns, char *err,
				     size_t len)
{
	uint64_t v;
	int ret = tools_parse_duration(arg, plain_ns, &v);

	if (ret == -EINVAL)
		return tools_fail(err, len,
				  "bad time for %s: '%s' (expected e.g. 500ms, "
				  "2s, 1m, 100us; a plain number is %s)",
				  flag, arg, tools_plain_word(plain_ns));
	if (ret < 0 && max_ns == UINT64_MAX)
		return tools_fail(err, len, "%s %s is too long", flag, arg);
	if (ret < 0 || v > max_ns)
		return tools_fail(err, len, "%s %s is too long (at most %.6gs)",
				  flag, arg, (double)max_ns / 1e9);
	if (v < min_ns)
		return tools_fail(err, len,
				  "%s %s is too short (at least %.6gs)", flag,
				  arg, (double)min_ns / 1e9);
	*ns = v;
	return 0;
}

/* tools_print_version() - the -V/--version line: "coil-get 0.1.0". */
static inline void tools_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, COIL_VERSION_STRING);
}

/* The --help lines on durations, the same in each program. */
#define TOOLS_DURATION_HELP                                                    \
	"Durations take a unit: 500ms, 2s, 1m, 100us, 1.5s (ns, us, ms, s, "   \
	"m, h);\n"                                                             \
	"a plain number counts in the unit the option names.\n"

#endif
