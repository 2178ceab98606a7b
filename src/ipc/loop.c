/* loop.c: epoll event loop with timerfd timers, signalfd stop requests and the
 * systemd watchdog (see loop.h). */
#include "ipc/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 64

struct reg {
	loop_fd_fn fn;
	void *data;
	uint32_t gen;
	bool active;
};

struct loop_timer {
	struct loop *loop;
	int fd;
	bool periodic;
	uint64_t ms;
	loop_timer_fn fn;
	void *data;
};

struct loop {
	int epfd;
	struct reg *regs; /* indexed by fd */
	size_t nregs;
	uint32_t gen;
	int sigfd;
	loop_stop_fn on_stop;
	void *stop_data;
	bool stopping;
	bool stop_notified;
	long busy;
	struct loop_timer *watchdog;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		fatal("epoll_create1");
	l->sigfd = -1;
	return l;
}

static struct reg *reg_get(struct loop *l, int fd)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= l->nregs) {
		size_t n = l->nregs ? l->nregs : 64;
		while (n <= (size_t)fd)
			n *= 2;
		l->regs = xrealloc(l->regs, n * sizeof(*l->regs));
		memset(l->regs + l->nregs, 0, (n - l->nregs) * sizeof(*l->regs));
		l->nregs = n;
	}
	return &l->regs[fd];
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
	struct reg *r = reg_get(l, fd);
	if (!r)
		return -EBADF;
	if (r->active)
		return -EEXIST;
	uint32_t gen = ++l->gen;
	struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*r = (struct reg){ .fn = fn, .data = data, .gen = gen, .active = true };
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	if (fd < 0 || (size_t)fd >= l->nregs || !l->regs[fd].active)
		return -ENOENT;
	struct epoll_event ev = { .events = events,
		                      .data.u64 = ((uint64_t)l->regs[fd].gen << 32) | (uint32_t)fd };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nregs || !l->regs[fd].active)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->regs[fd].active = false;
}

static void timer_set(struct loop_timer *t)
{
	struct itimerspec its = { 0 };
	uint64_t ms = t->ms ? t->ms : 1;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (t->periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
		fatal("timerfd_settime");
}

static void timer_fired(struct loop *l, int fd, uint32_t events, void *data)
{
	struct loop_timer *t = data;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* spurious wake-up after a rearm */
	t->fn(l, t, t->data);
}

struct loop_timer *loop_timer_add(struct loop *l, uint64_t ms, bool periodic, loop_timer_fn fn,
                                  void *data)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->loop = l;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0)
		fatal("timerfd_create");
	t->periodic = periodic;
	t->ms = ms;
	t->fn = fn;
	t->data = data;
	if (loop_add_fd(l, t->fd, EPOLLIN, timer_fired, t) < 0)
		fatal("loop_add_fd(timer)");
	timer_set(t);
	return t;
}

void loop_timer_rearm(struct loop_timer *t, uint64_t ms)
{
	t->ms = ms;
	timer_set(t);
}

void loop_timer_del(struct loop *l, struct loop_timer *t)
{
	if (!t)
		return;
	loop_del_fd(l, t->fd);
	close(t->fd);
	free(t);
}

static void watchdog_ping(struct loop *l, struct loop_timer *t, void *data)
{
	sd_notify(0, "WATCHDOG=1");
}

static void signal_ready(struct loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			loop_stop(l);
		/* SIGHUP: nothing to reload yet; ignored rather than fatal. */
	}
}

int loop_setup_signals(struct loop *l, loop_stop_fn on_stop, void *data)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	l->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sigfd < 0)
		return -errno;
	int r = loop_add_fd(l, l->sigfd, EPOLLIN, signal_ready, NULL);
	if (r < 0)
		return r;
	l->on_stop = on_stop;
	l->stop_data = data;

	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		l->watchdog = loop_timer_add(l, usec / 2000 ? usec / 2000 : 1, true, watchdog_ping, NULL);
	return 0;
}

void loop_busy_inc(struct loop *l) { l->busy++; }
void loop_busy_dec(struct loop *l)
{
	if (l->busy > 0)
		l->busy--;
}

void loop_stop(struct loop *l) { l->stopping = true; }
bool loop_stopping(const struct loop *l) { return l->stopping; }

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	for (;;) {
		if (l->stopping && !l->stop_notified) {
			l->stop_notified = true;
			sd_notify(0, "STOPPING=1");
			if (l->on_stop)
				l->on_stop(l, l->stop_data);
		}
		if (l->stopping && l->busy == 0) {
			/* The stop is consumed: a later loop_run runs again (tests use this). */
			l->stopping = false;
			l->stop_notified = false;
			return 0;
		}
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			if ((size_t)fd >= l->nregs)
				continue;
			struct reg *r = &l->regs[fd];
			/* Skip events for an fd deleted (or reused) earlier in this batch. */
			if (!r->active || r->gen != gen)
				continue;
			r->fn(l, fd, evs[i].events, r->data);
		}
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->watchdog)
		loop_timer_del(l, l->watchdog);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l->regs);
	free(l);
}
