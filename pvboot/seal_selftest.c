/*
 * seal_selftest.c -- `appliance-launch --seal-selftest`: show what the seal forbids.
 *
 * For each probe a child is forked from the (unsealed) launcher; the child seals itself and
 * tries one forbidden thing; the parent reports whether the child was killed (SIGSYS), the
 * call was refused (an errno), or, which would be a failure, it succeeded. A write to a pipe
 * checks that the seal lets the serving calls through. Exit 0 only if every probe behaved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pvboot.h"

enum { SUCCEEDED = 0, REFUSED = 1, NOSEAL = 2 };

static int try_execve(void)
{
	char *args[] = { "/bin/true", NULL };
	char *env[] = { NULL };

	execve("/bin/true", args, env);
	return -1;
}

static int try_open(void) { return open("/etc/hostname", O_RDONLY); }
static int try_socket(void) { return socket(AF_INET, SOCK_DGRAM, 0); }
static int try_ptrace(void) { return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL); }

static int try_mprotect_exec(void)
{
	static char page[8192] __attribute__((aligned(4096)));

	return mprotect(page, 4096, PROT_READ | PROT_EXEC);
}

static int try_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? -1 : 0;
}

static int try_mmap_memory(void)
{
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? -1 : 0;
}

struct probe {
	const char *name;
	int (*fn)(void);
	int must_work;             /* 1: the serving loop needs this to keep working */
};

/* The control: nothing forbidden; the child then writes its answer to the pipe. */
static int nothing(void) { return 0; }

static const struct probe PROBES[] = {
	{ "execve", try_execve, 0 },
	{ "open", try_open, 0 },
	{ "socket", try_socket, 0 },
	{ "mprotect PROT_EXEC", try_mprotect_exec, 0 },
	{ "mmap PROT_EXEC", try_mmap_exec, 0 },
	{ "ptrace", try_ptrace, 0 },
	{ "mmap new memory", try_mmap_memory, 0 },
	{ "write (allowed)", nothing, 1 },
};

int pvboot_seal_selftest(void)
{
	unsigned i;
	int failed = 0;

	for (i = 0; i < sizeof(PROBES) / sizeof(PROBES[0]); i++) {
		const struct probe *p = &PROBES[i];
		int fds[2], status = 0;
		pid_t pid;

		if (pipe(fds) != 0) {
			perror("pipe");
			return 1;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			char err[PVBOOT_ERRLEN];
			int r, e;

			close(fds[0]);
			if (pvboot_seal(0, NULL, err, sizeof(err)) != PVBOOT_OK) {
				(void)!write(fds[1], err, strlen(err));
				_exit(NOSEAL);
			}
			r = p->fn();
			e = errno;
			if (p->must_work)
				r = write(fds[1], "ok", 2) == 2 ? 0 : -1;
			else
				(void)!write(fds[1], &e, sizeof(e));
			_exit(r < 0 ? REFUSED : SUCCEEDED);
		}
		close(fds[1]);
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("fork");
			return 1;
		}
		{
			char buf[PVBOOT_ERRLEN] = "";
			ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
			int e = 0;

			close(fds[0]);
			if (WIFSIGNALED(status)) {
				printf("%-20s killed (%s)\n", p->name, strsignal(WTERMSIG(status)));
				failed |= p->must_work;
			} else if (WEXITSTATUS(status) == NOSEAL) {
				printf("%-20s could not seal: %s\n", p->name, n > 0 ? buf : "?");
				failed = 1;
			} else if (WEXITSTATUS(status) == REFUSED) {
				if (n == (ssize_t)sizeof(e))
					memcpy(&e, buf, sizeof(e));
				printf("%-20s refused (%s)\n", p->name, e ? strerror(e) : "?");
				failed |= p->must_work;
			} else {
				printf("%-20s %s\n", p->name, p->must_work ? "works" : "ALLOWED");
				failed |= !p->must_work;
			}
		}
	}
	printf("selftest: %s\n", failed ? "FAILED" : "ok");
	return failed;
}
