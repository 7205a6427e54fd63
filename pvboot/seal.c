/*
 * seal.c -- after setup, no new code can run and no new memory can be had (the paper's seal).
 *
 * 1. No mapping may be writable and executable (read from /proc/self/maps).
 * 2. mlockall: every page the process has stays resident; nothing is paged in later.
 * 3. no_new_privs, then a seccomp-bpf filter (SECCOMP_FILTER_FLAG_TSYNC: every thread):
 *    the system calls below are allowed (each with the reason it is needed after the seal);
 *    mmap, mprotect, mremap and brk are refused with EPERM (the heap cannot grow), or kill the
 *    process when they ask for PROT_EXEC; anything else kills the process.
 * The list was derived by tracing the serving loops (socket, TAP and AF_PACKET netdevs) under
 * load, with SIGUSR1 counter dumps and a SIGTERM stop (strace -f -c, see tests/test_seal.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/reboot.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "pvboot.h"

struct allowed {
	long nr;
	const char *why;
};

static const struct allowed ALLOWED[] = {
	{ SYS_read, "TAP netdevs: frames in" },
	{ SYS_write, "TAP netdevs: frames out; counters and log lines to stdout" },
	{ SYS_close, "stopping: netdevs and files closed on the way out" },
	{ SYS_epoll_ctl, "stopping: a closed netdev leaves pvboot_yield's wait set" },
	{ SYS_getsockopt, "netdev counters: the kernel's drops (SO_MEMINFO, PACKET_STATISTICS)" },
	{ SYS_epoll_pwait, "pvboot_yield: wait for frames, a deadline or a signal" },
	{ SYS_epoll_wait, "pvboot_yield on C libraries that implement epoll_pwait through it" },
	{ SYS_recvmmsg, "socket netdevs: a batch of datagrams in" },
	{ SYS_sendmmsg, "socket and AF_PACKET netdevs: a batch out" },
	{ SYS_sendto, "AF_PACKET netdevs: the kick of a transmit batch" },
	{ SYS_clock_gettime, "pvboot_clock_monotonic when the vDSO is not there" },
	{ SYS_rt_sigprocmask, "signals blocked outside pvboot_yield, and restored at the end" },
	{ SYS_rt_sigaction, "signal handlers given back to Python at the end" },
	{ SYS_rt_sigreturn, "returning from the SIGINT/SIGTERM/SIGUSR1 handlers" },
	{ SYS_restart_syscall, "a call interrupted by a signal, restarted by the kernel" },
	{ SYS_futex, "the interpreter's GIL when the loop hands it back, and libc locks" },
	{ SYS_getpid, "the interpreter's signal handling checks its own pid" },
	{ SYS_gettid, "the same, per thread" },
	{ SYS_madvise, "the allocator and libc give pages back (never asks for new ones)" },
	{ SYS_munmap, "stopping: rings and buffers unmapped on the way out" },
	{ SYS_newfstatat, "stdout flushes on some C libraries" },
	{ SYS_fstat, "the same" },
	{ SYS_lseek, "the interpreter's buffered stdout" },
	{ SYS_exit, "a thread ends" },
	{ SYS_exit_group, "the process ends" },
};
#define NALLOWED (sizeof(ALLOWED) / sizeof(ALLOWED[0]))

static int is_sealed;

int pvboot_sealed(void)
{
	return is_sealed;
}

/* The first mapping that is both writable and executable, or 0 if none. */
static int find_wx(char *line, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, (int)len, f)) {
		char perms[8] = "";

		if (sscanf(line, "%*s %7s", perms) == 1 && perms[1] == 'w' && perms[2] == 'x') {
			line[strcspn(line, "\n")] = 0;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

#define ARCH_NR offsetof(struct seccomp_data, arch)
#define SYSCALL_NR offsetof(struct seccomp_data, nr)
/* The low 32 bits of the third argument (prot for mmap and mprotect), little-endian. */
#define ARG2_LO offsetof(struct seccomp_data, args[2])

#define REBOOT_CMD offsetof(struct seccomp_data, args[2])

pvboot_result_t pvboot_seal(unsigned flags, unsigned *allowed, char *err, size_t errlen)
{
	/* Our filter: arch check, the allow list, the memory calls, default kill. */
	struct sock_filter prog[8 + 2 * NALLOWED + 24];
	struct sock_fprog fprog;
	char line[512];
	unsigned n = 0, i;
	int wx = find_wx(line, sizeof(line));

	if (wx < 0) {
		snprintf(err, errlen, "seal: cannot read /proc/self/maps: %s", strerror(errno));
		return PVBOOT_EUNSPEC;
	}
	if (wx) {
		snprintf(err, errlen, "seal refused: a mapping is writable and executable: %s", line);
		return PVBOOT_EINVAL;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
		snprintf(err, errlen, "seal: mlockall: %s (needs CAP_IPC_LOCK or a memlock limit)",
		         strerror(errno));
		return PVBOOT_EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "seal: no_new_privs: %s", strerror(errno));
		return PVBOOT_EUNSPEC;
	}

	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_NR);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR);
	for (i = 0; i < NALLOWED; i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		                                         (unsigned)ALLOWED[i].nr, 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	if (flags & PVBOOT_SEAL_POWEROFF) {
		/* PID 1 of the VM image: reboot(2), to power off and nothing else, when it stops. */
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_reboot, 0, 3);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, REBOOT_CMD);
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		                                         LINUX_REBOOT_CMD_POWER_OFF, 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		/* the accumulator no longer holds the call number: load it again */
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR);
	}
	/* brk and mremap: never new memory. */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_brk, 1, 0);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mremap, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	/* mmap and mprotect: PROT_EXEC kills, anything else is refused. */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 1, 0);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect, 0, 4);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2_LO);
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);

	fprog.len = (unsigned short)n;
	fprog.filter = prog;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) {
		snprintf(err, errlen, "seal: seccomp: %s", strerror(errno));
		return PVBOOT_EUNSPEC;
	}
	is_sealed = 1;
	if (allowed)
		*allowed = (unsigned)NALLOWED + !!(flags & PVBOOT_SEAL_POWEROFF);
	return PVBOOT_OK;
}
