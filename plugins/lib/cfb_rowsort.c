/* Multikey quicksort (Bentley & Sedgewick) over 8-byte chunks: rows are
 * ordered by the big-endian chunk at depth d, and each run of equal
 * chunks is sorted again at d + 8. A comparison sort would memcmp the
 * same ~90 shared bytes (account, provider, service, category, ...) at
 * every comparison; here each byte of a row is read about once. */
#include <stdlib.h>
#include <string.h>
#include "cfb_rowsort.h"

#define SMALL 16                 /* below this, insertion sort */

/* The 8 bytes of r at depth d as a number that orders like memcmp;
 * bytes past the end read as 0 (a run holding such a row is finished by
 * exact comparison, see sort_depth). */
static uint64_t chunk_at(const struct cfb_sortrow *r, size_t d) {
  unsigned char b[8] = {0};
  if (d + 8 <= r->len) memcpy(b, r->p + d, 8);
  else if (d < r->len) memcpy(b, r->p + d, r->len - d);
  return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
         (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
         (uint64_t)b[6] << 8 | b[7];
}

/* memcmp order of two rows that share their first d bytes. */
static int cmp_from(const struct cfb_sortrow *a, const struct cfb_sortrow *b,
                    size_t d) {
  size_t n = a->len < b->len ? a->len : b->len;
  if (n > d) {
    int c = memcmp(a->p + d, b->p + d, n - d);
    if (c) return c;
  }
  return a->len < b->len ? -1 : a->len > b->len;
}

static void insertion_from(struct cfb_sortrow *v, size_t n, size_t d) {
  for (size_t i = 1; i < n; i++) {
    struct cfb_sortrow x = v[i];
    size_t j = i;
    for (; j > 0 && cmp_from(&v[j - 1], &x, d) > 0; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

static int cmp_whole(const void *a, const void *b) {
  return cmp_from(a, b, 0);
}

static void swap(struct cfb_sortrow *a, struct cfb_sortrow *b) {
  struct cfb_sortrow t = *a;
  *a = *b;
  *b = t;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c) {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

static int cmp_chunk(const void *a, const void *b) {
  const struct cfb_sortrow *x = a, *y = b;
  return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Sorts v by chunk only: 3-way quicksort, the smaller side recursed.
 * `budget` halvings: a pivot sequence that keeps failing (crafted input)
 * hands the rest to qsort, so the sort stays O(n log n). */
static void sort_chunks(struct cfb_sortrow *v, size_t n, int budget) {
  while (n >= SMALL) {
    if (budget-- <= 0) {
      qsort(v, n, sizeof *v, cmp_chunk);
      return;
    }
    uint64_t p = median3(v[0].chunk, v[n / 2].chunk, v[n - 1].chunk);
    size_t lt = 0, i = 0, gt = n;           /* [0,lt) < p, [gt,n) > p */
    while (i < gt) {
      if (v[i].chunk < p) swap(&v[lt++], &v[i++]);
      else if (v[i].chunk > p) swap(&v[i], &v[--gt]);
      else i++;
    }
    if (lt < n - gt) {
      sort_chunks(v, lt, budget);
      v += gt;
      n -= gt;
    } else {
      sort_chunks(v + gt, n - gt, budget);
      n = lt;
    }
  }
  for (size_t i = 1; i < n; i++) {
    struct cfb_sortrow x = v[i];
    size_t j = i;
    for (; j > 0 && v[j - 1].chunk > x.chunk; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* Sorts v[0..n), whose rows share their first d bytes. */
static void sort_depth(struct cfb_sortrow *v, size_t n, size_t d) {
  for (;;) {
    if (n < SMALL) {
      insertion_from(v, n, d);
      return;
    }
    int same = 1, ends = 0;                 /* ends: a row ends by d + 8 */
    for (size_t i = 0; i < n; i++) {
      v[i].chunk = chunk_at(&v[i], d);
      same &= v[i].chunk == v[0].chunk;
      ends |= v[i].len <= d + 8;
    }
    if (same && ends) {                     /* equal rows: rare, exact */
      qsort(v, n, sizeof *v, cmp_whole);
      return;
    }
    if (same) {                             /* a shared prefix: go deeper */
      d += 8;
      continue;
    }
    int budget = 2;
    for (size_t m = n; m > 1; m /= 2) budget += 2;   /* 2 log2 n + 2 */
    sort_chunks(v, n, budget);
    for (size_t i = 0, j; i < n; i = j) {
      int run_ends = v[i].len <= d + 8;
      for (j = i + 1; j < n && v[j].chunk == v[i].chunk; j++)
        run_ends |= v[j].len <= d + 8;
      if (j - i < 2) continue;
      if (run_ends) qsort(v + i, j - i, sizeof *v, cmp_whole);
      else sort_depth(v + i, j - i, d + 8);
    }
    return;
  }
}

void cfb_rowsort(struct cfb_sortrow *v, size_t n) {
  sort_depth(v, n, 0);
}
