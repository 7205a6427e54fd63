/*
 * launcher.c -- appliance-launch: boots the appliance the way the paper's PVBoot does.
 *
 * 1. Reserve one memory region (--memory, default 256 MiB) and install it as CPython's
 *    allocator for the raw, mem and object domains (PyMem_SetAllocator), before the
 *    interpreter exists, so that every Python object lives in it.
 * 2. Start an isolated interpreter: no site, no environment variables, no user paths; the
 *    module search path is exactly --path (what `appliance run` passes: the standard library,
 *    our package, nothing else).
 * 3. Run the appliance (`python -m appliance.cli ARGS`): it opens its image and netdevs, then
 *    seals the process (pvboot_seal) and serves. When it returns, exit with its status.
 *
 *     appliance-launch [--memory SIZE] --home DIR --path P[:P...] -- ARGS...
 *     appliance-launch --seal-selftest
 *
 * As PID 1 (the init of the VM image) it first boots the guest (guest.c: mounts, console, NIC
 * modules, the address from the kernel command line), serves /appliance.img on eth0, and
 * powers the VM off when the appliance stops. Run as "poweroff" (/sbin/poweroff in the image)
 * it asks PID 1 to stop (SIGTERM).
 *
 * The launcher exports its symbols (-rdynamic) so that pvboot.netdev can find the allocator's
 * counters (pvboot_mem_stats) in the running process.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvboot.h"
#include "pvboot_guest.h"

#define DEFAULT_MEMORY (256u << 20)
/* Where the VM image puts things (appliance/vmimage.py writes them there). */
#define GUEST_IMAGE "/appliance.img"
#define GUEST_HOME "/usr"
#define GUEST_PATH "/usr/lib/python3.11:/usr/lib/python3.11/lib-dynload:/usr/lib/appliance"
#define GUEST_HEADROOM (32u << 20)

static void *raw_malloc(void *ctx, size_t n) { (void)ctx; return pvboot_mem_alloc(n); }
static void *raw_calloc(void *ctx, size_t n, size_t s) { (void)ctx; return pvboot_mem_calloc(n, s); }
static void *raw_realloc(void *ctx, void *p, size_t n) { (void)ctx; return pvboot_mem_realloc(p, n); }
static void raw_free(void *ctx, void *p) { (void)ctx; pvboot_mem_free(p); }

/* What the launcher did, for the appliance to print (found with dlsym by pvboot.netdev). */
struct pvboot_launch_info {
	size_t memory;
	int hugepages;
	int pid1;
} pvboot_launch_info;

int pvboot_seal_selftest(void);

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	switch (*end) {
	case 'G': case 'g': v <<= 30; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'K': case 'k': v <<= 10; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : (size_t)v;
}

/* PID 1 must never exit (the kernel would panic): it powers the VM off instead. */
static void leave(int status)
{
	if (getpid() == 1)
		guest_poweroff(status);
	exit(status);
}

static void die(const char *msg)
{
	fprintf(stderr, "appliance-launch: %s\n", msg);
	leave(1);
}

static void check(PyStatus st)
{
	if (PyStatus_Exception(st)) {
		if (PyStatus_IsExit(st))
			leave(st.exitcode);
		fprintf(stderr, "appliance-launch: %s%s%s\n", st.func ? st.func : "",
		        st.func ? ": " : "", st.err_msg ? st.err_msg : "interpreter error");
		leave(1);
	}
}

/* Whether PID 1 runs this same program (in the VM image: /init). */
static int pid1_is_us(void)
{
	char a[4096], b[4096];
	ssize_t na = readlink("/proc/1/exe", a, sizeof(a) - 1);
	ssize_t nb = readlink("/proc/self/exe", b, sizeof(b) - 1);

	if (na <= 0 || nb <= 0)
		return 0;
	a[na] = b[nb] = 0;
	return strcmp(a, b) == 0 && access(GUEST_MODULES_LIST, F_OK) == 0;
}

/* As PID 1 of the VM image: boot the guest, and make the appliance's command line. */
static int guest_args(int *argc, char ***argv, size_t *memory, const char **home,
                      const char **path)
{
	static struct guest g;
	static char *args[24];
	struct stat st;
	int n = 0;

	if (guest_boot(&g) != 0)
		return -1;
	args[n++] = "appliance-launch";
	args[n++] = "--";
	args[n++] = "run";
	args[n++] = GUEST_IMAGE;
	args[n++] = "--netdev";
	args[n++] = "afpacket:eth0";
	args[n++] = "--ip";
	args[n++] = g.ip;
	if (g.gw[0]) {
		args[n++] = "--gateway";
		args[n++] = g.gw;
	}
	if (g.mac[0]) {
		args[n++] = "--mac";
		args[n++] = g.mac;
	}
	if (g.report[0]) {
		args[n++] = "--report";
		args[n++] = g.report;
	}
	if (g.noseal)
		args[n++] = "--no-seal";
	args[n] = NULL;
	*argc = n;
	*argv = args;
	*home = GUEST_HOME;
	*path = GUEST_PATH;
	*memory = g.memory[0] ? parse_size(g.memory)
	                      : (stat(GUEST_IMAGE, &st) == 0 ? (size_t)st.st_size : 0)
	                            + GUEST_HEADROOM;
	return *memory ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t memory = DEFAULT_MEMORY;
	const char *home = NULL, *path = NULL;
	int pid1 = getpid() == 1, status;
	char err[PVBOOT_ERRLEN];
	PyPreConfig pre;
	PyConfig config;
	PyMemAllocatorEx alloc = { NULL, raw_malloc, raw_calloc, raw_realloc, raw_free };
	struct pvboot_mem_stats st;
	int i;

	if (!pid1 && strcmp(basename(argv[0]), "poweroff") == 0) {
		/* /sbin/poweroff in the VM image, run by the kernel on an orderly power-off; never
		 * on a host, where PID 1 is the host's init */
		if (!pid1_is_us())
			die("poweroff: PID 1 is not the appliance (this is not its VM image)");
		if (kill(1, SIGTERM) != 0) {
			perror("poweroff: kill(1, SIGTERM)");
			return 1;
		}
		return 0;
	}
	if (pid1 && guest_args(&argc, &argv, &memory, &home, &path) != 0)
		guest_poweroff(1);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--seal-selftest") == 0) {
			return pvboot_seal_selftest();
		} else if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc) {
			memory = parse_size(argv[++i]);
			if (memory == 0)
				die("--memory wants a size like 256M or 2G");
		} else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
			home = argv[++i];
		} else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else {
			die("usage: appliance-launch [--memory SIZE] --home DIR --path P[:P...] -- ARGS"
			    " | --seal-selftest");
		}
	}
	if (!home || !path)
		die("--home and --path are required (appliance run passes them)");

	if (pvboot_mem_reserve(memory, err, sizeof(err)) != PVBOOT_OK)
		die(err);
	pvboot_mem_stats(&st);
	pvboot_launch_info.memory = st.reserved;
	pvboot_launch_info.hugepages = st.hugepages;
	pvboot_launch_info.pid1 = pid1;
	if (pid1)
		guest_log("%zu MiB reserved; starting the appliance", st.reserved >> 20);

	PyPreConfig_InitIsolatedConfig(&pre);
	pre.utf8_mode = 1;      /* the same text encoding on any host and in the guest's C locale */
	check(Py_PreInitialize(&pre));
	/* Not hooks around another allocator: every domain is the region. */
	PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &alloc);
	PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &alloc);
	PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &alloc);

	PyConfig_InitIsolatedConfig(&config);
	config.site_import = 0;
	config.user_site_directory = 0;
	config.use_environment = 0;
	config.write_bytecode = 0;
	config.parse_argv = 0;
	config.install_signal_handlers = 1;
	check(PyConfig_SetBytesString(&config, &config.home, home));
	check(PyConfig_SetBytesString(&config, &config.run_module, "appliance.cli"));
	config.module_search_paths_set = 1;
	{
		char *copy = strdup(path), *save = NULL, *p;
		wchar_t *w;

		for (p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			w = Py_DecodeLocale(p, NULL);
			if (!w)
				die("cannot decode a --path entry");
			check(PyWideStringList_Append(&config.module_search_paths, w));
			PyMem_RawFree(w);
		}
		free(copy);
	}
	{
		/* argv[0] names the program; the rest is the appliance's command line */
		char **args = malloc(sizeof(char *) * (size_t)(argc - i + 2));
		int n = 0, k;

		if (!args)
			die("out of memory");
		args[n++] = "appliance";
		for (k = i; k < argc; k++)
			args[n++] = argv[k];
		check(PyConfig_SetBytesArgv(&config, n, args));
		free(args);
	}
	check(Py_InitializeFromConfig(&config));
	PyConfig_Clear(&config);
	/* An interpreter that runs out of the region while it imports the appliance says so in
	 * one line, not with a traceback (the appliance handles MemoryError itself later on). */
	PyRun_SimpleString(
	    "import sys\n"
	    "def _pvboot_hook(t, v, tb, _orig=sys.excepthook):\n"
	    "    if issubclass(t, MemoryError):\n"
	    "        sys.stderr.write('appliance-launch: out of memory while starting: the region'\n"
	    "                         ' (--memory) is too small for the runtime\\n')\n"
	    "    else:\n"
	    "        _orig(t, v, tb)\n"
	    "sys.excepthook = _pvboot_hook\n"
	    "del _pvboot_hook\n");
	status = Py_RunMain();
	if (pid1)
		guest_poweroff(status);
	return status;
}
