/*
 * tools/common/exit_status.h - the exit statuses of coil's programs, one
 * table for all three (coil-bench, coil-get, coil-serve), so that a script
 * or a CI job reads them the same way whichever program it runs.
 *
 *   0  success
 *   1  the work failed: coil-bench, no request succeeded or an --slo
 *      condition failed; coil-get, a URL could not be fetched
 *   2  bad command line or input (a one-line message on stderr)
 *   3  could not start: no io_uring, out of memory, a thread that could
 *      not be started
 *
 * 77 is not among them on purpose: ctest reads it as "skipped".
 */
#ifndef COIL_TOOLS_EXIT_STATUS_H
#define COIL_TOOLS_EXIT_STATUS_H

#define COIL_EXIT_OK 0
#define COIL_EXIT_FAILED 1
#define COIL_EXIT_USAGE 2
#define COIL_EXIT_START 3

/* The table for --help; each program adds its own words for status 1. */
#define COIL_EXIT_HELP(what_failed)                                            \
	"Exit status:\n"                                                       \
	"  0  success\n"                                                       \
	"  1  " what_failed "\n"                                               \
	"  2  bad command line or input\n"                                     \
	"  3  could not start (no io_uring, out of memory, no thread)\n"

#endif
