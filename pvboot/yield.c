/*
 * yield.c -- pvboot_yield: wait on every open netdev and a deadline, with the stop/dump signals
 * let in only while waiting.
 *
 * SIGINT, SIGTERM and SIGUSR1 stay blocked while the caller works; epoll_pwait unblocks them
 * atomically for the wait. A signal sent while the caller works stays pending in the kernel
 * and interrupts the next wait at once: none is lost between a check and a wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pvboot_impl.h"

static int epfd = -1;

static const int caught[] = { SIGINT, SIGTERM, SIGUSR1 };
#define NCAUGHT (sizeof caught / sizeof caught[0])

static volatile sig_atomic_t arrived[NCAUGHT];
static int installed;
static sigset_t saved_mask, wait_mask;
static struct sigaction saved_act[NCAUGHT];

static int ensure_epoll(void)
{
	if (epfd < 0)
		epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd;
}

int pvb_poll_add(int fd, int index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)index };

	if (ensure_epoll() < 0)
		return -1;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

void pvb_poll_del(int fd)
{
	if (epfd >= 0)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void on_signal(int signum)
{
	for (unsigned i = 0; i < NCAUGHT; i++)
		if (caught[i] == signum)
			arrived[i] = 1;
}

/* Install the handlers and block the signals; 0 or -1 (errno set). */
static int install(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	/*
	 * An empty sa_mask: the handler only sets a flag, so it may nest, and every signal
	 * pending when a wait begins is recorded by that one wait (with the three in sa_mask the
	 * kernel would deliver one, then restore the blocking mask over the rest).
	 */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (unsigned i = 0; i < NCAUGHT; i++)
		sigaddset(&block, caught[i]);
	/* Block first: a signal between the handler swap and the block would run a handler. */
	if (pthread_sigmask(SIG_BLOCK, &block, &saved_mask) != 0)
		return -1;
	for (unsigned i = 0; i < NCAUGHT; i++)
		if (sigaction(caught[i], &sa, &saved_act[i]) < 0) {
			while (i--)
				sigaction(caught[i], &saved_act[i], NULL);
			pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
			return -1;
		}
	wait_mask = saved_mask;
	for (unsigned i = 0; i < NCAUGHT; i++)
		sigdelset(&wait_mask, caught[i]);
	installed = 1;
	return 0;
}

void pvboot_signals_restore(void)
{
	if (!installed)
		return;
	for (unsigned i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &saved_act[i], NULL);
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	installed = 0;
}

int pvboot_signal_take(void)
{
	/* Stop requests first: a pending SIGUSR1 must not hide a SIGTERM. */
	for (unsigned i = 0; i < NCAUGHT; i++)
		if (arrived[i]) {
			arrived[i] = 0;
			return caught[i];
		}
	return 0;
}

/*
 * A socket's pending error (e.g. ENETDOWN on an AF_PACKET socket whose interface went down)
 * keeps epoll reporting EPOLLERR; read it to clear it, and count it.
 */
static void clear_error(pvboot_netdev_t *nd)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (nd->kind != PVBOOT_NETDEV_TAP &&
	    getsockopt(nd->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
		nd->stats.errors++;
}

pvboot_result_t pvboot_yield(uint64_t deadline, uint64_t *ready)
{
	struct epoll_event ev[PVBOOT_MAX_NETDEVS];
	uint64_t now, set = 0;
	int timeout, k;

	*ready = 0;
	if (!installed && install() < 0)
		return PVBOOT_EUNSPEC;
	if (ensure_epoll() < 0)
		return PVBOOT_EUNSPEC;

	/* Whole milliseconds, rounded up: we never wake before the deadline and spin. */
	now = pvboot_clock_monotonic();
	if (deadline == UINT64_MAX)
		timeout = -1;
	else if (deadline <= now)
		timeout = 0;
	else if (deadline - now >= (uint64_t)INT32_MAX * 1000000u)
		timeout = INT32_MAX;
	else
		timeout = (int)((deadline - now + 999999u) / 1000000u);

	k = epoll_pwait(epfd, ev, PVBOOT_MAX_NETDEVS, timeout, &wait_mask);
	if (k < 0)
		return errno == EINTR ? PVBOOT_AGAIN : PVBOOT_EUNSPEC;
	for (int i = 0; i < k; i++) {
		int index = (int)ev[i].data.u64;
		pvboot_netdev_t *nd = pvb_netdev_at(index);

		if (!nd)
			continue;
		if (ev[i].events & EPOLLERR)
			clear_error(nd);
		set |= 1ull << index;
	}
	*ready = set;
	return set ? PVBOOT_OK : PVBOOT_AGAIN;
}
