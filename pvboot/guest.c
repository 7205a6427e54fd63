/*
 * guest.c -- what appliance-launch does first when it is PID 1 of the VM image.
 *
 * Mount /proc, /sys and /dev; put stdio on the console; load the NIC's kernel modules in the
 * order the image lists them (/etc/appliance/modules, written by `appliance build --target`);
 * wait for eth0; read the address from the kernel command line (appliance.ip=A.B.C.D/N,
 * appliance.gw=G, appliance.mac=M, appliance.memory=SIZE, appliance.report=SECONDS,
 * appliance.noseal) and turn it into the appliance's arguments. The kernel gets no address:
 * IPv6 is switched off before the NIC appears (no link-local address, no router
 * solicitations), and the appliance's own stack answers ARP and IP on eth0. When the appliance
 * stops, power the VM off.
 *
 * Stopping it cleanly: Ctrl-Alt-Del is turned into SIGINT to PID 1 (QEMU: `sendkey
 * ctrl-alt-delete`; Xen: `xl reboot`), and /sbin/poweroff, which the kernel runs on an orderly
 * power-off request (Xen: `xl shutdown`), is this same program: it sends PID 1 SIGTERM. The
 * appliance prints its counters and returns, and PID 1 powers the VM off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "pvboot_guest.h"

void guest_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("[%5ld.%03ld] pvboot: ", (long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void mount_one(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, MS_NOSUID | MS_NOEXEC, NULL) != 0 && errno != EBUSY)
		guest_log("mount %s on %s: %s", type, dir, strerror(errno));
}

static void console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The value of KEY=... on the kernel command line, copied into OUT, or 0. */
static int cmdline_value(const char *cmdline, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == cmdline || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " \n");

			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p + klen + 1, n);
			out[n] = 0;
			return 1;
		}
		p += klen;
	}
	return 0;
}

static void load_modules(void)
{
	FILE *f = fopen(GUEST_MODULES_LIST, "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int fd;

		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			guest_log("module %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			guest_log("module %s: %s", line, strerror(errno));
		else
			guest_log("loaded %s", strrchr(line, '/') ? strrchr(line, '/') + 1 : line);
		close(fd);
	}
	fclose(f);
}

/* The first line of PATH, without its newline, into OUT ("" if it cannot be read). */
static void read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");

	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)len, f))
			out[0] = 0;
		out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		guest_log("%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int wait_for(const char *path, int seconds)
{
	int i;

	for (i = 0; i < seconds * 10; i++) {
		if (access(path, F_OK) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

int guest_boot(struct guest *g)
{
	char cmdline[4096], hv[32], gt[32];

	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("devtmpfs", "/dev", "devtmpfs");
	console();
	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	read_line("/sys/hypervisor/type", hv, sizeof(hv));
	read_line("/sys/hypervisor/guest_type", gt, sizeof(gt));
	{
		struct utsname u;

		uname(&u);
		guest_log("PID 1 up: Linux %s; hypervisor: %s%s%s%s", u.release,
		          hv[0] ? hv : "none reported (/sys/hypervisor)", gt[0] ? " (" : "", gt,
		          gt[0] ? ")" : "");
	}
	/* the kernel keeps no address of its own on the NIC: no IPv6 link-local, no SLAAC */
	if (access("/proc/sys/net/ipv6/conf/default/disable_ipv6", F_OK) == 0) {
		write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
		write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	}
	/* Ctrl-Alt-Del (QEMU's sendkey, `xl reboot`) becomes SIGINT to us: a clean stop */
	if (reboot(RB_DISABLE_CAD) != 0)
		guest_log("Ctrl-Alt-Del stays a hard reset: %s", strerror(errno));
	load_modules();
	if (!wait_for("/sys/class/net/eth0", 20)) {
		guest_log("no eth0 after 20 s: nothing to serve on");
		return -1;
	}
	guest_log("eth0 is there");
	if (!cmdline_value(cmdline, "appliance.ip", g->ip, sizeof(g->ip))) {
		guest_log("no appliance.ip=A.B.C.D/N on the kernel command line");
		return -1;
	}
	cmdline_value(cmdline, "appliance.gw", g->gw, sizeof(g->gw));
	cmdline_value(cmdline, "appliance.mac", g->mac, sizeof(g->mac));
	cmdline_value(cmdline, "appliance.memory", g->memory, sizeof(g->memory));
	cmdline_value(cmdline, "appliance.report", g->report, sizeof(g->report));
	g->noseal = strstr(cmdline, "appliance.noseal") != NULL;
	return 0;
}

void guest_poweroff(int status)
{
	guest_log("the appliance stopped (status %d): powering off", status);
	/* no sync(): there is no disk, and the seal would not allow it */
	reboot(RB_POWER_OFF);
	/* reached only if the kernel refused: PID 1 must not return */
	for (;;)
		pause();
}
