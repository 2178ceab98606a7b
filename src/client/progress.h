/* progress.h: a progress bar on stderr for large transfers, drawn only when
 * stderr is a terminal and the transfer is at least PROGRESS_MIN_BYTES. */
#ifndef ALLEARS_CLIENT_PROGRESS_H
#define ALLEARS_CLIENT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_MIN_BYTES (1024u * 1024u)
#define PROGRESS_BAR_COLS 30
#define PROGRESS_INTERVAL_MS 100

struct progress {
	bool enabled;   /* false: every call does nothing */
	bool drawn;
	const char *what; /* "upload", "download" */
	int64_t last_ms;
};

/* Decides once whether to draw (stderr is a tty and quiet is false). */
void progress_init(struct progress *p, const char *what, bool quiet);
/* An https_progress callback: arg is a struct progress. */
void progress_update(void *arg, uint64_t done, uint64_t total);
/* Finishes the line if something was drawn. */
void progress_end(struct progress *p);

#endif
