/* A sorted set of usage dates (cfb.h): the dates of a file, of a
 * delivery, of a run. Small (a month is ~31), so insertion just shifts. */
#include <errno.h>
#include <string.h>
#include "cfb.h"

/* The first position whose date is not below x. */
static size_t lower_bound(const struct cfb_dayset *d, cf_date x) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (d->v[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int cfb_dayset_add(struct cfb_dayset *d, cf_date x) {
  size_t i = lower_bound(d, x);
  if (i < d->n && d->v[i] == x) return 0;
  if (d->n == d->cap &&
      cf_grow(&d->v, &d->cap, d->n + 1, sizeof *d->v, 32) < 0)
    return -ENOMEM;
  memmove(d->v + i + 1, d->v + i, (d->n - i) * sizeof *d->v);
  d->v[i] = x;
  d->n++;
  return 0;
}

int cfb_dayset_add_all(struct cfb_dayset *d, const struct cfb_dayset *s) {
  int ret = 0;
  for (size_t k = 0; k < s->n && ret == 0; k++)
    ret = cfb_dayset_add(d, s->v[k]);
  return ret;
}

long cfb_dayset_find(const struct cfb_dayset *d, cf_date x) {
  size_t i = lower_bound(d, x);
  return i < d->n && d->v[i] == x ? (long)i : -1;
}

void cfb_dayset_release(struct cfb_dayset *d) {
  cf_free(d->v);
  memset(d, 0, sizeof *d);
}
