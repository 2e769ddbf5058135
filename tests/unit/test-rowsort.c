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

CF_TEST(rowsort_all_rows_equal) {
  enum { N = 1000 };
  struct cfb_sortrow v[N];
  for (size_t i = 0; i < N; i++)
    v[i] = (struct cfb_sortrow){0, "same row, long enough to go deep\n", 33};
  check_same_order(v, N);
}

CF_TEST_MAIN()
