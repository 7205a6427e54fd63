/* pvboot_guest.h -- PID 1 duties of appliance-launch in the VM image (guest.c). */
#ifndef PVBOOT_GUEST_H
#define PVBOOT_GUEST_H

#define GUEST_MODULES_LIST "/etc/appliance/modules"  /* written by appliance/vmimage.py */

struct guest {
	char ip[64];               /* appliance.ip=A.B.C.D/N */
	char gw[64];               /* appliance.gw=G (may be empty) */
	char mac[32];              /* appliance.mac=M (may be empty) */
	char memory[32];           /* appliance.memory=SIZE (may be empty) */
	char report[16];           /* appliance.report=SECONDS: counters on the console */
	int noseal;                /* appliance.noseal */
};

void guest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int guest_boot(struct guest *g);
void guest_poweroff(int status) __attribute__((noreturn));

#endif
