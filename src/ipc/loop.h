/* loop.h: the one event loop every daemon runs (epoll), with timers, signal
 * handling (SIGTERM/SIGINT ask for a graceful stop) and the systemd watchdog.
 * Single-threaded: callbacks run on the loop thread; workq.h brings results
 * of blocking work back onto it. */
#ifndef ALLEARS_LOOP_H
#define ALLEARS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

struct loop;
struct loop_timer;

/* Called with the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). */
typedef void (*loop_fd_fn)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t, void *data);
/* Called once when a stop is requested (SIGTERM, SIGINT or loop_stop()). */
typedef void (*loop_stop_fn)(struct loop *l, void *data);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN etc.); one registration per fd. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data) WUR;
int loop_mod_fd(struct loop *l, int fd, uint32_t events) WUR;
/* Stops watching fd (does not close it). Safe to call from the fd's own callback. */
void loop_del_fd(struct loop *l, int fd);

/* A timer fires once after ms milliseconds, or every ms when periodic. */
struct loop_timer *loop_timer_add(struct loop *l, uint64_t ms, bool periodic, loop_timer_fn fn,
                                  void *data);
void loop_timer_rearm(struct loop_timer *t, uint64_t ms);
void loop_timer_del(struct loop *l, struct loop_timer *t);

/* Blocks SIGTERM/SIGINT/SIGHUP, ignores SIGPIPE, and turns the first two into a
 * stop request. Starts the watchdog pings if systemd asked for them. */
int loop_setup_signals(struct loop *l, loop_stop_fn on_stop, void *data) WUR;

/* In-flight work keeps a stopping loop alive until it is finished. */
void loop_busy_inc(struct loop *l);
void loop_busy_dec(struct loop *l);

/* Requests a graceful stop: on_stop runs, then loop_run returns once no work
 * is in flight. */
void loop_stop(struct loop *l);
bool loop_stopping(const struct loop *l);

/* Runs until stopped and idle, then clears the stop request. Returns 0, or a
 * negative errno on failure. */
int loop_run(struct loop *l);

/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);

#endif
