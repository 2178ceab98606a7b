/* workq.c: worker threads with completions delivered to the loop through an
 * eventfd (see workq.h). */
#include "ipc/workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job {
	struct job *next;
	workq_work_fn work;
	workq_done_fn done;
	void *arg;
};

struct workq {
	struct loop *loop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo_head, *todo_tail;
	struct job *done_head, *done_tail;
	size_t pending;
	bool quit;
	int efd;
	unsigned nthreads;
	pthread_t threads[WORKQ_MAX_THREADS];
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker(void *p)
{
	struct workq *q = p;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->todo_head && !q->quit)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->todo_head)
			break;
		struct job *j = q->todo_head;
		q->todo_head = j->next;
		if (!q->todo_head)
			q->todo_tail = NULL;
		pthread_mutex_unlock(&q->mu);
		j->work(j->arg);
		pthread_mutex_lock(&q->mu);
		push(&q->done_head, &q->done_tail, j);
		uint64_t one = 1;
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			fatal("workq eventfd write");
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void run_completions(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	struct job *j = q->done_head;
	q->done_head = q->done_tail = NULL;
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct job *next = j->next;
		if (j->done)
			j->done(j->arg);
		pthread_mutex_lock(&q->mu);
		q->pending--;
		pthread_mutex_unlock(&q->mu);
		loop_busy_dec(q->loop);
		free(j);
		j = next;
	}
}

static void completions_ready(struct loop *l, int fd, uint32_t events, void *data)
{
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		fatal("workq eventfd read");
	run_completions(data);
}

struct workq *workq_new(struct loop *l, unsigned threads)
{
	if (threads == 0 || threads > WORKQ_MAX_THREADS)
		fatalx("workq_new: %u threads", threads);
	struct workq *q = xcalloc(1, sizeof(*q));
	q->loop = l;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		fatal("eventfd");
	if (loop_add_fd(l, q->efd, EPOLLIN, completions_ready, q) < 0)
		fatal("loop_add_fd(workq)");
	for (unsigned i = 0; i < threads; i++) {
		int r = pthread_create(&q->threads[i], NULL, worker, q);
		if (r != 0) {
			errno = r;
			fatal("pthread_create");
		}
		q->nthreads++;
	}
	return q;
}

void workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done, void *arg)
{
	struct job *j = xmalloc(sizeof(*j));
	*j = (struct job){ .work = work, .done = done, .arg = arg };
	loop_busy_inc(q->loop);
	pthread_mutex_lock(&q->mu);
	push(&q->todo_head, &q->todo_tail, j);
	q->pending++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t workq_pending(const struct workq *q)
{
	struct workq *mq = (struct workq *)q;
	pthread_mutex_lock(&mq->mu);
	size_t n = mq->pending;
	pthread_mutex_unlock(&mq->mu);
	return n;
}

void workq_free(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->quit = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	run_completions(q);
	loop_del_fd(q->loop, q->efd);
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
