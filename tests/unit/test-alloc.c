/* Allocation helpers (core/alloc.c): cf_grow, the one "grow an array by
 * doubling" used across the code, its overflow check and its behaviour
 * when cf_realloc fails (the cf_alloc_fail_after hook). */
#include <errno.h>
#include <stdint.h>
#include "cf_test.h"
#include "costflow/common.h"

struct elem { int64_t a; char tag[8]; };   /* 16 bytes: not a pointer */

static void fill(struct elem *v, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) v[i] = (struct elem){(int64_t)i, "x"};
}

static void check(const struct elem *v, size_t n) {
  for (size_t i = 0; i < n; i++) CF_ASSERT_EQ((int64_t)i, v[i].a);
}

/* A new array grown for n elements from `first`, every slot filled. */
static struct elem *filled(size_t *cap, size_t n, size_t first) {
  struct elem *v = NULL;
  *cap = 0;
  CF_ASSERT_EQ(0, cf_grow(&v, cap, n, sizeof *v, first));
  CF_ASSERT(v != NULL);
  fill(v, 0, *cap);                       /* ASan: all *cap are there */
  return v;
}

/* After a refused growth: same array, same capacity, same contents. */
static void kept(const struct elem *v, const struct elem *was, size_t cap,
                 size_t want_cap) {
  CF_ASSERT(v == was);
  CF_ASSERT_EQ(want_cap, cap);
  check(v, cap);
}

CF_TEST(grow_first_then_doubling) {
  size_t cap;
  struct elem *v = filled(&cap, 1, 16);
  CF_ASSERT_EQ(16, cap);
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 17, sizeof *v, 16));
  CF_ASSERT_EQ(32, cap);
  check(v, 16);                           /* contents moved along */
  fill(v, 16, cap);
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 33, sizeof *v, 16));
  CF_ASSERT_EQ(64, cap);
  check(v, 32);
  cf_free(v);
}

CF_TEST(grow_with_room_allocates_nothing) {
  size_t cap;
  struct elem *v = filled(&cap, 5, 8), *was = v;
  cf_alloc_fail_after(0);                 /* any allocation would fail */
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 8, sizeof *v, 8));
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 0, sizeof *v, 8));
  cf_alloc_fail_after(-1);
  kept(v, was, cap, 8);
  cf_free(v);
}

CF_TEST(grow_to_need_when_more_than_double) {
  size_t cap;
  struct elem *v = filled(&cap, 50, 16);  /* more than first */
  CF_ASSERT_EQ(50, cap);
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 101, sizeof *v, 16));  /* > 2 * 50 */
  CF_ASSERT_EQ(101, cap);
  check(v, 50);
  fill(v, 0, cap);
  cf_free(v);
}

CF_TEST(grow_refuses_size_overflow) {
  size_t cap;
  struct elem *v = filled(&cap, 4, 4), *was = v;
  /* need * 16 wraps to 0: unchecked, that is a 1-byte "success" */
  size_t need = SIZE_MAX / sizeof *v + 1;
  CF_ASSERT_EQ(-ENOMEM, cf_grow(&v, &cap, need, sizeof *v, 4));
  kept(v, was, cap, 4);
  CF_ASSERT_EQ(-ENOMEM, cf_grow(&v, &cap, SIZE_MAX, sizeof *v, 4));
  kept(v, was, cap, 4);
  cf_free(v);
}

CF_TEST(grow_failed_allocation_keeps_array) {
  size_t cap;
  struct elem *v = filled(&cap, 8, 8), *was = v;
  cf_alloc_fail_after(0);                 /* the next cf_realloc fails */
  CF_ASSERT_EQ(-ENOMEM, cf_grow(&v, &cap, 9, sizeof *v, 8));
  cf_alloc_fail_after(-1);
  kept(v, was, cap, 8);
  CF_ASSERT_EQ(0, cf_grow(&v, &cap, 9, sizeof *v, 8));     /* and retries */
  CF_ASSERT_EQ(16, cap);
  check(v, 8);
  cf_free(v);

  struct elem *e = NULL;                  /* a first growth that fails */
  size_t ecap = 0;
  cf_alloc_fail_after(0);
  CF_ASSERT_EQ(-ENOMEM, cf_grow(&e, &ecap, 1, sizeof *e, 8));
  cf_alloc_fail_after(-1);
  CF_ASSERT(e == NULL);
  CF_ASSERT_EQ(0, ecap);
}

CF_TEST_MAIN()
