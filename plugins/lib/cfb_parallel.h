/* Threads for the billing stages (cfb_parallel.c): how many, and a
 * minimal fork-join over a number of jobs. */
#ifndef CFB_PARALLEL_H
#define CFB_PARALLEL_H

#include <stddef.h>

#define CFB_MAX_THREADS 8
/* `wanted` if > 0, else the online CPUs; always 1..CFB_MAX_THREADS. */
int  cfb_threads(int wanted);
/* Runs fn(ctx, i) for i in [0, njobs) on `threads` threads, the caller's
 * among them; returns when every job has run. */
void cfb_parallel(int threads, size_t njobs,
                  void (*fn)(void *ctx, size_t i), void *ctx);

#endif
