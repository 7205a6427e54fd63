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
 * The launcher exports its symbols (-rdynamic) so that pvboot.netdev can find the allocator's
 * counters (pvboot_mem_stats) in the running process.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvboot.h"

#define DEFAULT_MEMORY (256u << 20)

static void *raw_malloc(void *ctx, size_t n) { (void)ctx; return pvboot_mem_alloc(n); }
static void *raw_calloc(void *ctx, size_t n, size_t s) { (void)ctx; return pvboot_mem_calloc(n, s); }
static void *raw_realloc(void *ctx, void *p, size_t n) { (void)ctx; return pvboot_mem_realloc(p, n); }
static void raw_free(void *ctx, void *p) { (void)ctx; pvboot_mem_free(p); }

/* What the launcher did, for the appliance to print (found with dlsym by pvboot.netdev). */
struct pvboot_launch_info {
	size_t memory;
	int hugepages;
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

static void die(const char *msg)
{
	fprintf(stderr, "appliance-launch: %s\n", msg);
	exit(1);
}

static void check(PyStatus st)
{
	if (PyStatus_Exception(st)) {
		if (PyStatus_IsExit(st))
			exit(st.exitcode);
		fprintf(stderr, "appliance-launch: %s%s%s\n", st.func ? st.func : "",
		        st.func ? ": " : "", st.err_msg ? st.err_msg : "interpreter error");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	size_t memory = DEFAULT_MEMORY;
	const char *home = NULL, *path = NULL;
	char err[PVBOOT_ERRLEN];
	PyPreConfig pre;
	PyConfig config;
	PyMemAllocatorEx alloc = { NULL, raw_malloc, raw_calloc, raw_realloc, raw_free };
	struct pvboot_mem_stats st;
	int i;

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

	PyPreConfig_InitIsolatedConfig(&pre);
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
	return Py_RunMain();
}
