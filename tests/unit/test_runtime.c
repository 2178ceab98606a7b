/* test_runtime.c: the shared daemon runtime: event loop, timers, signals,
 * worker pool, configuration, sockets from systemd, credentials. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/daemon.h"
#include "ipc/loop.h"
#include "ipc/workq.h"

/* ---- loop ---- */

static int timer_hits;
static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	timer_hits++;
	if (timer_hits == 3)
		loop_stop(l);
}

static void periodic_timer_fires_until_stopped(void)
{
	struct loop *l = loop_new();
	timer_hits = 0;
	struct loop_timer *t = loop_timer_add(l, 1, true, on_timer, NULL);
	CHECK(loop_run(l) == 0);
	CHECK(timer_hits == 3);
	loop_timer_del(l, t);
	loop_free(l);
}

struct pipe_ctx {
	int reads;
	char last;
};
static void on_pipe(struct loop *l, int fd, uint32_t events, void *data)
{
	struct pipe_ctx *c = data;
	CHECK(events & EPOLLIN);
	CHECK(read(fd, &c->last, 1) == 1);
	c->reads++;
	loop_del_fd(l, fd); /* deleting itself from its own callback is allowed */
	loop_stop(l);
}

static void fd_callback_runs_and_can_delete_itself(void)
{
	struct loop *l = loop_new();
	int p[2];
	CHECK(pipe(p) == 0);
	struct pipe_ctx c = { 0 };
	CHECK(loop_add_fd(l, p[0], EPOLLIN, on_pipe, &c) == 0);
	CHECK(loop_add_fd(l, p[0], EPOLLIN, on_pipe, &c) == -EEXIST);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(loop_run(l) == 0);
	CHECK(c.reads == 1 && c.last == 'x');
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

static int stop_calls;
static struct loop_timer *finish_timer;
static void on_stop(struct loop *l, void *data)
{
	stop_calls++;
	CHECK(loop_stopping(l));
}
static void finish_work(struct loop *l, struct loop_timer *t, void *data)
{
	int *finished = data;
	*finished = 1;
	loop_busy_dec(l);
}
static void send_term(struct loop *l, struct loop_timer *t, void *data) { kill(getpid(), SIGTERM); }

static void sigterm_stops_after_in_flight_work(void)
{
	struct loop *l = loop_new();
	stop_calls = 0;
	CHECK(loop_setup_signals(l, on_stop, NULL) == 0);
	int finished = 0;
	loop_busy_inc(l); /* work in flight: must finish before loop_run returns */
	struct loop_timer *term = loop_timer_add(l, 1, false, send_term, NULL);
	finish_timer = loop_timer_add(l, 30, false, finish_work, &finished);
	CHECK(loop_run(l) == 0);
	CHECK(stop_calls == 1);
	CHECK(finished == 1);
	loop_timer_del(l, term);
	loop_timer_del(l, finish_timer);
	loop_free(l);
}

/* ---- workq ---- */

static atomic_int running, max_running, done_count;
static pthread_t loop_thread;
static void slow_work(void *arg)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	int prev = atomic_load(&max_running);
	while (now > prev && !atomic_compare_exchange_weak(&max_running, &prev, now))
		;
	usleep(2000);
	atomic_fetch_sub(&running, 1);
	*(int *)arg *= 2;
}
static struct loop *wq_loop;
static void work_done(void *arg)
{
	CHECK(pthread_equal(pthread_self(), loop_thread));
	if (atomic_fetch_add(&done_count, 1) + 1 == 40)
		loop_stop(wq_loop);
}

static void workq_caps_concurrency_and_completes_on_loop_thread(void)
{
	wq_loop = loop_new();
	loop_thread = pthread_self();
	atomic_store(&running, 0);
	atomic_store(&max_running, 0);
	atomic_store(&done_count, 0);
	struct workq *q = workq_new(wq_loop, 3);
	int vals[40];
	for (int i = 0; i < 40; i++) {
		vals[i] = i;
		workq_submit(q, slow_work, work_done, &vals[i]);
	}
	CHECK(workq_pending(q) > 0);
	CHECK(loop_run(wq_loop) == 0);
	CHECK(atomic_load(&done_count) == 40);
	CHECK(atomic_load(&max_running) <= 3);
	CHECK(atomic_load(&max_running) >= 2);
	int ok = 1;
	for (int i = 0; i < 40; i++)
		ok &= vals[i] == 2 * i;
	CHECK(ok);
	CHECK(workq_pending(q) == 0);
	workq_free(q);
	loop_free(wq_loop);
}

/* ---- daemon start-up ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *content, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		fwrite(content, 1, len, f);
		fclose(f);
	}
}

static void write_str(const char *name, const char *s) { write_file(name, s, strlen(s)); }

/* Runs fn in a child and returns its exit status (or -1 if it did not exit). */
static int child_status(void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void init_with(const char *file)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
	char *argv[] = { "allears-test", "--config", path, NULL };
	struct daemon d;
	daemon_init(&d, "account", 3, argv);
	daemon_config_int(&d, "workers", 2, 1, 8);
	static const char *const allowed[] = { "workers", "state_dir", NULL };
	daemon_config_allow(&d, allowed);
	daemon_free(&d);
}
static void init_good(void) { init_with("good.json"); }
static void init_bad_syntax(void) { init_with("bad.json"); }
static void init_out_of_range(void) { init_with("range.json"); }
static void init_unknown_key(void) { init_with("unknown.json"); }
static void init_missing(void) { init_with("missing.json"); }
static void init_wrong_type(void) { init_with("type.json"); }

static void config_errors_exit_with_config_status(void)
{
	write_str("good.json", "{\"account\":{\"workers\":4},\"domain\":\"example.org\"}");
	write_str("bad.json", "{\"account\":");
	write_str("range.json", "{\"account\":{\"workers\":99}}");
	write_str("unknown.json", "{\"account\":{\"wrokers\":2}}");
	write_str("type.json", "{\"account\":{\"workers\":\"4\"}}");
	CHECK(child_status(init_good) == 0);
	CHECK(child_status(init_bad_syntax) == DAEMON_EXIT_CONFIG);
	CHECK(child_status(init_out_of_range) == DAEMON_EXIT_CONFIG);
	CHECK(child_status(init_unknown_key) == DAEMON_EXIT_CONFIG);
	CHECK(child_status(init_missing) == DAEMON_EXIT_CONFIG);
	CHECK(child_status(init_wrong_type) == DAEMON_EXIT_CONFIG);
}

static void config_values_and_sections(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/good.json", tmpdir);
	char *argv[] = { "allears-test", "--config", path, NULL };
	struct daemon d;
	optind = 1;
	daemon_init(&d, "account", 3, argv);
	CHECK(daemon_config_int(&d, "workers", 2, 1, 8) == 4);
	CHECK(daemon_config_int(&d, "absent", 7, 1, 8) == 7);
	CHECK(strcmp(daemon_config_global_str(&d, "domain", ""), "example.org") == 0);
	daemon_free(&d);
}

static void sockets_come_from_listen_fds_by_name(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int saved3 = dup(3), saved4 = dup(4);
	CHECK(dup2(p[0], 3) == 3 && dup2(p[1], 4) == 4);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "smtp:chan", 1);
	char path[256];
	snprintf(path, sizeof(path), "%s/good.json", tmpdir);
	char *argv[] = { "allears-test", "--config", path, NULL };
	struct daemon d;
	optind = 1;
	daemon_init(&d, "account", 3, argv);
	CHECK(getenv("LISTEN_FDS") == NULL); /* unset so children do not inherit them */
	CHECK(daemon_take_fd(&d, "chan") == 4);
	CHECK(daemon_take_fd(&d, "smtp") == 3);
	CHECK(daemon_take_fd(&d, "smtp") == -1); /* taken once only */
	CHECK(daemon_take_fd(&d, "other") == -1);
	daemon_free(&d);
	dup2(saved3, 3);
	dup2(saved4, 4);
	close(saved3);
	close(saved4);
	close(p[0]);
	close(p[1]);
}

static void credentials_read_exactly(void)
{
	write_file("acc.key", "\x01\x02\x00\x03", 4);
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	struct daemon d = { .role = "account" };
	size_t len = 0;
	uint8_t *k = daemon_credential(&d, "acc.key", &len);
	CHECK(k != NULL && len == 4);
	if (k) {
		CHECK(memcmp(k, "\x01\x02\x00\x03", 4) == 0);
		sodium_free(k);
	}
	errno = 0;
	CHECK(daemon_credential(&d, "absent.key", &len) == NULL && errno == ENOENT);
	CHECK(daemon_credential(&d, "../etc/passwd", &len) == NULL);
	write_file("empty.key", "", 0);
	CHECK(daemon_credential(&d, "empty.key", &len) == NULL);
	unsetenv("CREDENTIALS_DIRECTORY");
	CHECK(daemon_credential(&d, "acc.key", &len) == NULL);
}

int main(void)
{
	check_init();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/allears-rt-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	RUN(periodic_timer_fires_until_stopped);
	RUN(fd_callback_runs_and_can_delete_itself);
	RUN(workq_caps_concurrency_and_completes_on_loop_thread);
	RUN(config_errors_exit_with_config_status);
	RUN(config_values_and_sections);
	RUN(sockets_come_from_listen_fds_by_name);
	RUN(credentials_read_exactly);
	RUN(sigterm_stops_after_in_flight_work); /* last: blocks SIGTERM for the process */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return check_finish();
}
