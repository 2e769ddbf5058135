/* cfb_rowsort against a plain memcmp comparison sort: random rows over a
 * tiny alphabet (NUL bytes, rows that are prefixes of others, exact
 * duplicates), silver-like rows with long shared prefixes, and the edges. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cf_test.h"
#include "cfb_rowsort.h"

static int cmp_ref(const void *a, const void *b) {
  const struct cfb_sortrow *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->p, y->p, n) : 0;
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {                       /* xorshift64 */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Sorts v both ways and checks the byte sequences agree row by row. */
static void check_same_order(struct cfb_sortrow *v, size_t n) {
  struct cfb_sortrow *ref = malloc((n + 1) * sizeof *ref);
  CF_ASSERT(ref != NULL);
  memcpy(ref, v, n * sizeof *v);
  qsort(ref, n, sizeof *ref, cmp_ref);
  cfb_rowsort(v, n);
  for (size_t i = 0; i < n; i++) {
    if (v[i].len != ref[i].len ||
        (v[i].len && memcmp(v[i].p, ref[i].p, v[i].len)))
      CF_FAIL_("row %zu differs from the reference order", i);
  }
  free(ref);
}

CF_TEST(rowsort_random_rows_over_a_tiny_alphabet) {
  static const char alpha[] = {'\0', 'a', 'b', '\n', ',', '\xff'};
  for (int round = 0; round < 40; round++) {
    size_t n = 1 + next() % 3000;
    char *bytes = malloc(n * 40 + 1);
    struct cfb_sortrow *v = malloc(n * sizeof *v);
    CF_ASSERT(bytes && v);
    for (size_t i = 0; i < n; i++) {
      size_t len = next() % 40;
      char *p = bytes + i * 40;
      for (size_t k = 0; k < len; k++)
        p[k] = alpha[next() % (round % 2 ? 2 : sizeof alpha)];
      v[i] = (struct cfb_sortrow){0, p, len};
    }
    check_same_order(v, n);
    free(bytes);
    free(v);
  }
}

CF_TEST(rowsort_silver_like_rows_with_long_shared_prefixes) {
  enum { N = 20000 };
  char (*rows)[192] = malloc(N * sizeof *rows);
  struct cfb_sortrow *v = malloc(N * sizeof *v);
  CF_ASSERT(rows && v);
  for (size_t i = 0; i < N; i++) {
    int n = snprintf(rows[i], sizeof rows[i],
                     "1000000%05u,1000000%05u,AWS,Amazon Elastic Compute "
                     "Cloud,Compute,us-east-1,i-%06x,Usage,2025-02-01T%02u:"
                     "00:00Z,%u.%u\n",
                     (unsigned)(next() % 4), (unsigned)(next() % 3),
                     (unsigned)(next() % 50), (unsigned)(next() % 24),
                     (unsigned)(next() % 7), (unsigned)(next() % 1000));
    v[i] = (struct cfb_sortrow){0, rows[i], (size_t)n};
  }
  check_same_order(v, N);
  free(rows);
  free(v);
}

CF_TEST(rowsort_prefixes_duplicates_and_edges) {
  static const struct { const char *p; size_t len; } in[] = {
    {"abcdefgh", 8}, {"abcdefgh\0", 9}, {"abcdefg", 7}, {"", 0},
    {"abcdefgh", 8}, {"abcdefghijklmnopq", 17}, {"abcdefghijklmnop", 16},
    {"abcdefghijklmnop\0\0", 18}, {"b", 1}, {"abcdefgh\xff", 9},
    {"abcdefghijklmnopq", 17}, {"", 0}, {"a\0", 2}, {"a", 1},
    {"abcdefghijklmnoz", 16}, {"abcdefghijklmnoa", 16}, {"abcdefgh", 8},
    {"abcdefghijklmnopr", 17}, {"abcdefghijklmnopq", 17}};
  enum { N = sizeof in / sizeof *in };
  struct cfb_sortrow v[N * 8];
  for (size_t i = 0; i < N * 8; i++)    /* enough rows to leave insertion */
    v[i] = (struct cfb_sortrow){0, in[i % N].p, in[i % N].len};
  check_same_order(v, N * 8);
  check_same_order(v, N);
  check_same_order(v, 1);
  cfb_rowsort(v, 0);
}

/* Chunk values on which sort_chunks' median of three is always the
 * second smallest: its partition is replayed on labels, and at each step
 * the element that will sit first gets the smallest value left and the
 * middle one the next, the last (the third sample) staying larger. Each
 * step then peels off two elements, far more steps than the budget of
 * 2 log2 n + 2 allows, so the sort must finish through its qsort
 * fallback. The rest get values above all of those, with repeats (runs
 * of equal chunks, sorted again deeper). Mirrors cfb_rowsort.c's
 * partition: if that changes, recheck that the fallback is reached. */
static void median3_killer(uint64_t *val, size_t n) {
  size_t *lab = malloc(n * sizeof *lab);
  CF_ASSERT(lab != NULL);
  for (size_t i = 0; i < n; i++) {
    lab[i] = i;
    val[i] = 0;                             /* 0: not chosen yet */
  }
  uint64_t low = 1;                         /* smallest value left */
  size_t off = 0, m = n;
  while (m >= 16) {                         /* rowsort.c's SMALL */
    val[lab[off]] = low++;
    uint64_t p = val[lab[off + m / 2]] = low++;
    size_t lt = 0, i = 0, gt = m;           /* the 3-way partition */
    while (i < gt) {
      uint64_t x = val[lab[off + i]] ? val[lab[off + i]] : UINT64_MAX;
      size_t a = off + i, b;
      if (x < p) b = off + lt++, i++;
      else if (x > p) b = off + --gt;
      else { i++; continue; }
      size_t t = lab[a];
      lab[a] = lab[b];
      lab[b] = t;
    }
    CF_ASSERT_EQ(1, lt);                    /* the larger side is last */
    off += gt;
    m -= gt;
  }
  for (size_t i = 0; i < n; i++)
    if (!val[i]) val[i] = low + next() % (n / 8);
  free(lab);
}

CF_TEST(rowsort_falls_back_to_qsort_on_a_median_of_3_killer) {
  enum { N = 4000 };
  uint64_t *val = malloc(N * sizeof *val);
  char (*rows)[24] = malloc(N * sizeof *rows);
  struct cfb_sortrow *v = malloc(N * sizeof *v);
  CF_ASSERT(val && rows && v);
  median3_killer(val, N);
  for (size_t i = 0; i < N; i++) {
    for (int k = 0; k < 8; k++)             /* big-endian: chunk = val */
      rows[i][k] = (char)(val[i] >> (56 - 8 * k));
    size_t len = 8 + next() % 16;       /* then a tail to sort by */
    for (size_t k = 8; k < len; k++) rows[i][k] = (char)('a' + next() % 3);
    v[i] = (struct cfb_sortrow){0, rows[i], len};
  }
  check_same_order(v, N);
  free(val);
  free(rows);
  free(v);
}

CF_TEST(rowsort_all_rows_equal) {
  enum { N = 1000 };
  struct cfb_sortrow v[N];
  for (size_t i = 0; i < N; i++)
    v[i] = (struct cfb_sortrow){0, "same row, long enough to go deep\n", 33};
  check_same_order(v, N);
}

CF_TEST_MAIN()
