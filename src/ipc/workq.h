/* workq.h: a fixed pool of worker threads for blocking or costly work (Argon2
 * hashes, fsync) so the event loop never stalls. A job's work function runs on
 * a worker; its done function runs afterwards on the loop thread. The number
 * of workers is the cap on concurrent jobs; queued jobs run in FIFO order. */
#ifndef ALLEARS_WORKQ_H
#define ALLEARS_WORKQ_H

#include <stddef.h>

#include "ipc/loop.h"

#define WORKQ_MAX_THREADS 64

struct workq;
typedef void (*workq_work_fn)(void *arg);
typedef void (*workq_done_fn)(void *arg);

struct workq *workq_new(struct loop *l, unsigned threads);
/* Queues a job; keeps the loop busy until done has run. */
void workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done, void *arg);
/* Jobs queued or running. */
size_t workq_pending(const struct workq *q);
/* Waits for every queued job, runs the done callbacks, joins the threads. */
void workq_free(struct workq *q);

#endif
