/* Silver partitions read ahead on worker threads (see gold_prefetch.h).
 * Workers claim dates in order and park each result in its own slot; the
 * writer takes slot 0, 1, ... so results never depend on the timing. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "cfb_parallel.h"
#include "gold_prefetch.h"

/* The one SQLite writer is the bottleneck past two readers; more would
 * only hold more days in memory. */
#define MAX_WORKERS 4

struct day_slot {
  int done;                   /* result below is set */
  int ret;
  char *errmsg;
  struct cfb_silver_day day;  /* valid when done && ret == 0 */
};

struct cfb_prefetch {
  pthread_mutex_t mu;
  pthread_cond_t ready;       /* a slot became done: the writer waits */
  pthread_cond_t room;        /* the writer took a date: workers wait */
  const char *silver_root;
  const char *const *dates;
  size_t n;
  size_t next;                /* next date to claim */
  size_t taken;               /* dates handed to the writer */
  size_t ahead;               /* claimed but not taken, at most */
  int stop;
  struct day_slot *slots;
  /* Days the writer is done with, their memory for the next reads. */
  struct cfb_silver_day spare[MAX_WORKERS];
  size_t nspare;
  pthread_t threads[MAX_WORKERS];
  size_t nthreads;
};

size_t cfb_prefetch_default_workers(void) {
  int n = cfb_threads(0);
  return n > MAX_WORKERS ? MAX_WORKERS : (size_t)n;
}

static void *worker(void *arg) {
  struct cfb_prefetch *p = arg;
  struct cfb_silver_scratch scratch;   /* memory reused day after day */
  cfb_silver_scratch_init(&scratch);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    /* Bounded read-ahead: memory is a few days of groups, not all. */
    while (!p->stop && p->next < p->n && p->next >= p->taken + p->ahead)
      pthread_cond_wait(&p->room, &p->mu);
    if (p->stop || p->next >= p->n) break;
    size_t i = p->next++;
    if (p->nspare) {
      cfb_silver_scratch_give(&scratch, &p->spare[--p->nspare]);
      cfb_silver_day_release(&p->spare[p->nspare]);
    }
    pthread_mutex_unlock(&p->mu);

    struct cfb_silver_day day;
    char *err = NULL;
    int ret = cfb_silver_day_read(p->silver_root, p->dates[i], &scratch,
                                  &day, &err);

    pthread_mutex_lock(&p->mu);
    p->slots[i].ret = ret;
    p->slots[i].errmsg = err;
    p->slots[i].day = day;
    p->slots[i].done = 1;
    pthread_cond_broadcast(&p->ready);
  }
  pthread_mutex_unlock(&p->mu);
  cfb_silver_scratch_release(&scratch);
  return NULL;
}

int cfb_prefetch_start(const char *silver_root, const char *const *dates,
                       size_t n, size_t workers, struct cfb_prefetch **out) {
  struct cfb_prefetch *p = cf_calloc(1, sizeof *p);
  *out = NULL;
  if (!p) return -ENOMEM;
  p->slots = cf_calloc(n ? n : 1, sizeof *p->slots);
  if (!p->slots) {
    cf_free(p);
    return -ENOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->ready, NULL);
  pthread_cond_init(&p->room, NULL);
  p->silver_root = silver_root;
  p->dates = dates;
  p->n = n;
  if (workers > MAX_WORKERS) workers = MAX_WORKERS;
  if (workers > n) workers = n;
  p->ahead = workers;
  for (size_t t = 0; t < workers; t++) {
    if (pthread_create(&p->threads[t], NULL, worker, p) != 0) break;
    p->nthreads++;
  }
  *out = p;
  return 0;
}

int cfb_prefetch_take(struct cfb_prefetch *p, size_t i,
                      struct cfb_silver_day *day, char **errmsg) {
  struct day_slot *s = &p->slots[i];
  if (p->nthreads == 0)   /* no workers: read in place */
    return cfb_silver_day_read(p->silver_root, p->dates[i], NULL, day,
                               errmsg);
  pthread_mutex_lock(&p->mu);
  while (!s->done) pthread_cond_wait(&p->ready, &p->mu);
  int ret = s->ret;
  *day = s->day;
  *errmsg = s->errmsg;
  s->errmsg = NULL;
  s->done = 0;                /* handed over: not ours to free any more */
  p->taken = i + 1;
  pthread_cond_broadcast(&p->room);
  pthread_mutex_unlock(&p->mu);
  return ret;
}

void cfb_prefetch_recycle(struct cfb_prefetch *p,
                          struct cfb_silver_day *day) {
  pthread_mutex_lock(&p->mu);
  if (p->nthreads && p->nspare < MAX_WORKERS) {
    p->spare[p->nspare++] = *day;       /* handed over whole */
    memset(day, 0, sizeof *day);
  }
  pthread_mutex_unlock(&p->mu);
  cfb_silver_day_release(day);          /* what was not kept */
}

void cfb_prefetch_free(struct cfb_prefetch *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->room);
  pthread_mutex_unlock(&p->mu);
  for (size_t t = 0; t < p->nthreads; t++)
    pthread_join(p->threads[t], NULL);
  for (size_t i = 0; i < p->n; i++) {
    if (!p->slots[i].done) continue;
    if (p->slots[i].ret == 0) cfb_silver_day_release(&p->slots[i].day);
    cf_free(p->slots[i].errmsg);
  }
  while (p->nspare) cfb_silver_day_release(&p->spare[--p->nspare]);
  pthread_cond_destroy(&p->room);
  pthread_cond_destroy(&p->ready);
  pthread_mutex_destroy(&p->mu);
  cf_free(p->slots);
  cf_free(p);
}
