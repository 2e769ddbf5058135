/* A minimal fork-join pool: N threads take job indexes from one atomic
 * counter; the calling thread is one of them. Jobs write only their own
 * results, so callers read them in job order afterwards. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include "cfb_parallel.h"

struct pool {
  void (*fn)(void *ctx, size_t i);
  void *ctx;
  size_t n;
  atomic_size_t next;
};

static void *take_jobs(void *arg) {
  struct pool *p = arg;
  for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) p->fn(p->ctx, i);
  return NULL;
}

int cfb_threads(int wanted) {
  long n = wanted > 0 ? wanted : sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > CFB_MAX_THREADS ? CFB_MAX_THREADS : (int)n;
}

void cfb_parallel(int threads, size_t njobs,
                  void (*fn)(void *ctx, size_t i), void *ctx) {
  struct pool p = {fn, ctx, njobs, 0};
  pthread_t tid[CFB_MAX_THREADS];
  int started = 0;
  /* No thread is ever worth more than a job; a failed create just means
   * fewer helpers (the caller still runs every job). */
  for (size_t i = 1; i < (size_t)threads && i < njobs; i++, started++)
    if (pthread_create(&tid[started], NULL, take_jobs, &p) != 0) break;
  take_jobs(&p);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
}
