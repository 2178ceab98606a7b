/* progress.c: the transfer progress bar. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client/progress.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_init(struct progress *p, const char *what, bool quiet)
{
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->drawn = false;
	p->what = what;
	p->last_ms = 0;
}

void progress_update(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	if (!p || !p->enabled || total < PROGRESS_MIN_BYTES)
		return;
	int64_t t = now_ms();
	if (done < total && p->drawn && t - p->last_ms < PROGRESS_INTERVAL_MS)
		return;
	p->last_ms = t;
	unsigned fill = (unsigned)(done * PROGRESS_BAR_COLS / total);
	char bar[PROGRESS_BAR_COLS + 1];
	for (unsigned i = 0; i < PROGRESS_BAR_COLS; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[PROGRESS_BAR_COLS] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%% %.1f/%.1f MiB", p->what, bar,
	        (unsigned)(done * 100 / total), (double)done / (1024 * 1024),
	        (double)total / (1024 * 1024));
	fflush(stderr);
	p->drawn = true;
}

void progress_end(struct progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}
