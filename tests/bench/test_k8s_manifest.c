/*
 * tests/bench/test_k8s_manifest.c - deploy/k8s/coil-bench-job.yaml checked
 * offline against the Kubernetes API schema (deploy/k8s/validate.py, on
 * Debian's python3-kubernetes: the official client's models, generated
 * from the API's OpenAPI specification), and copies of it with one fault
 * each (a misspelled field, a field in the wrong object, a string where a
 * number belongs, a required field missing) refused with the field's path.
 * Skips (77) without python3-kubernetes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static char *slurp(const char *path)
{
	char *buf = tu_slurp(path, NULL);
	assert_non_null(buf);
	return buf;
}

/* validate.py @path: its exit status, stderr in *@err (freed by caller). */
static int validate(const char *path, char **err)
{
	char e[] = "/tmp/coil-k8s-err-XXXXXX";
	/* Debian's python3, whose dist-packages hold python3-kubernetes (a
	 * python3 of pyenv's, first in a developer's PATH, lacks it) */
	const char *py = access("/usr/bin/python3", X_OK) == 0
				 ? "/usr/bin/python3"
				 : "python3";
	char *argv[] = {(char *)py, VALIDATE, (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	int efd = mkstemp(e), st;
	pid_t pid;
	assert_true(efd >= 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawnp(&pid, py, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(efd);
	*err = slurp(e);
	unlink(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_k8s_manifest_is_valid(void **state)
{
	char *err;
	int st = validate(MANIFEST, &err);
	(void)state;
	if (st == 77) {
		fprintf(stderr, "%s", err);
		free(err);
		skip();
	}
	if (st != 0)
		fail_msg("validate.py exit %d: %s", st, err);
	free(err);
}

/* The manifest with @from replaced by @to must be refused, saying @why. */
static void broken(const char *from, const char *to, const char *why)
{
	char path[] = "/tmp/coil-k8s-broken-XXXXXX";
	char *text = slurp(MANIFEST), *at = strstr(text, from), *err;
	FILE *f;
	int st;
	assert_non_null(at);
	f = fdopen(mkstemp(path), "w");
	fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	fclose(f);
	st = validate(path, &err);
	unlink(path);
	if (st == 77) {
		free(text);
		free(err);
		skip();
	}
	if (st != 1 || !strstr(err, why))
		fail_msg("'%s' -> '%s': exit %d, '%s' (wanted 1 and '%s')",
			 from, to, st, err, why);
	free(err);
	free(text);
}

static void test_k8s_manifest_misspelled_field_fails(void **state)
{
	(void)state;
	broken("completionMode:", "completionMod:",
	       ".spec.completionMod: unknown field of V1JobSpec (did you "
	       "mean 'completionMode'?)");
	broken("seccompProfile:", "secompProfile:",
	       "securityContext.secompProfile: unknown field");
}

static void test_k8s_manifest_misplaced_or_mistyped_fails(void **state)
{
	(void)state;
	/* restartPolicy belongs to the pod, not the job */
	broken("  backoffLimit: 0\n",
	       "  backoffLimit: 0\n  restartPolicy: Never\n",
	       ".spec.restartPolicy: unknown field of V1JobSpec");
	broken("completions: 4", "completions: four",
	       ".spec.completions: expected int, got str");
	/* a container needs a name */
	broken("- name: coil-bench\n", "- nam: coil-bench\n",
	       "unknown field of V1Container");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k8s_manifest_is_valid),
		cmocka_unit_test(test_k8s_manifest_misspelled_field_fails),
		cmocka_unit_test(test_k8s_manifest_misplaced_or_mistyped_fails),
	};
	return cmocka_run_group_tests_name("deploy.k8s", tests, NULL, NULL);
}
