/*
 * tests/bench/test_ring_refused.c - coil-bench where io_uring is refused,
 * as a container's default seccomp profile refuses it: the binary runs
 * under a seccomp filter (prctl(2) PR_SET_SECCOMP, a BPF program) that
 * answers io_uring_setup(2) with EPERM (Docker's, containerd's
 * RuntimeDefault) or ENOSYS, and must stop with exit status 3 and one
 * message naming the cause (seccomp) and the fix (Unconfined, or a profile
 * allowing the io_uring system calls; the manifest to look at), before any
 * load. Skips (77) where a filter cannot be installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "e2eutil.h"

#define NO_FILTER 99 /* the child could not install the filter */

/* Run coil-bench under a filter answering io_uring_setup with @err.
 * Return: its exit status; its stderr in *@text (freed by the caller). */
static int run_filtered(int err, char **text)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO |
				 ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	char path[] = "/tmp/coil-bench-ring-XXXXXX";
	int fd = mkstemp(path), st;
	pid_t pid;

	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {COIL_BENCH_BIN, "-d1s", "http://127.0.0.1:1/",
				NULL};
		dup2(fd, 2);
		dup2(fd, 1);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(NO_FILTER);
		execv(COIL_BENCH_BIN, argv);
		_exit(127);
	}
	close(fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*text = slurp(path);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_named(int err, const char *code)
{
	char *text;
	int st = run_filtered(err, &text);
	if (st == NO_FILTER) {
		free(text);
		skip();
	}
	if (st != 3 || !strstr(text, code))
		fprintf(stderr, "exit %d: %s", st, text);
	assert_int_equal(st, 3);
	assert_non_null(strstr(text, "coil-bench: cannot start: "));
	assert_non_null(strstr(text, code));
	assert_non_null(strstr(text, "seccomp"));
	assert_non_null(strstr(text, "Unconfined"));
	assert_non_null(strstr(text, "io_uring_setup, io_uring_enter and "
				     "io_uring_register"));
	assert_non_null(strstr(text, "deploy/k8s/coil-bench-job.yaml"));
	/* one line */
	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strchr(text, '\n')[1], '\0');
	free(text);
}

static void test_ring_refused_eperm_names_seccomp(void **state)
{
	(void)state;
	expect_named(EPERM, "io_uring_setup(2) refused (EPERM)");
}

static void test_ring_refused_enosys_names_seccomp(void **state)
{
	(void)state;
	expect_named(ENOSYS, "io_uring_setup(2) refused (ENOSYS)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_refused_eperm_names_seccomp),
		cmocka_unit_test(test_ring_refused_enosys_names_seccomp),
	};
	return cmocka_run_group_tests_name("bench.ring_refused", tests, NULL,
					   NULL);
}
