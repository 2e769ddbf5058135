/* Reads and folds silver partitions on worker threads, ahead of the one
 * thread that writes the warehouse. Dates are independent until the
 * SQLite write, and the writer takes them strictly in order, so the
 * warehouse sees exactly the statements of a one-thread load. */
#ifndef CFB_GOLD_PREFETCH_H
#define CFB_GOLD_PREFETCH_H

#include <stddef.h>
#include "gold_warehouse.h"

struct cfb_prefetch;

/* Starts reading dates[0..n) (cfb_silver_day_read) on up to `workers`
 * threads. At most `workers` days are being read or waiting at any time
 * (plus the one the caller holds), so memory stays a few days' rows. The
 * strings must outlive the prefetch. With workers == 0 (or when no thread
 * can be started) each take reads its date itself.
 * Returns 0 or -ENOMEM. */
int cfb_prefetch_start(const char *silver_root, const char *const *dates,
                       size_t n, size_t workers, struct cfb_prefetch **out);

/* Waits for dates[i] and hands over what cfb_silver_day_read returned:
 * its return value, *day (the caller releases it when 0 is returned) and
 * *errmsg (caller frees). Takes must come in order, i = 0, 1, ... */
int cfb_prefetch_take(struct cfb_prefetch *p, size_t i,
                      struct cfb_silver_day *day, char **errmsg);

/* Gives back a day taken and loaded: its memory serves a later read
 * (freshly allocated pages fault, which is dear on our VMs). *day is
 * released either way; it is empty afterwards. */
void cfb_prefetch_recycle(struct cfb_prefetch *p, struct cfb_silver_day *day);

/* Stops the workers (dates not yet started are skipped), joins them and
 * frees every result nobody took. NULL is a no-op. */
void cfb_prefetch_free(struct cfb_prefetch *p);

/* Worker count for this machine: online CPUs, at least 1, at most 4. */
size_t cfb_prefetch_default_workers(void);

#endif
