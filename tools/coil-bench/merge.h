/*
 * tools/coil-bench/merge.h - `coil-bench merge`: the workers' --json
 * results of one test split with --segment (segment.h), merged exactly.
 */
#ifndef COIL_BENCH_MERGE_H
#define COIL_BENCH_MERGE_H

/*
 * cb_merge_main() - `coil-bench merge RESULT.json...|- [-L] [-U] [--json]
 * [--plot FILE.svg] [--slo EXPR] [-o FILE]`: @argv[0] is "merge".
 * Return: the exit status: 0; 1 (CB_EXIT_FAILED) when no request
 * succeeded or an --slo condition failed, as a single run; 2 for a bad
 * command line or input that is not one complete test (unreadable, not a
 * result, mixed configs, a segment missing or given twice); 3 out of
 * memory.
 */
int cb_merge_main(int argc, char **argv);

#endif
