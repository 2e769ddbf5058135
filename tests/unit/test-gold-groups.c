/* The gold group map and its row text: lookups across table growth and
 * after sorting, the bytewise key order (strcmp key by key), and the
 * rows laid out for the warehouse writer. */
#include <stdio.h>
#include "cf_test.h"
#include "gold_groups.h"
#include "gold_row_text.h"

/* Key 0 and key 1 of group i: many groups, uneven lengths. */
static void keys_of(int i, char *a, char *b) {
  snprintf(a, 32, "acct-%d", i % 97);
  snprintf(b, 32, "res-%0*d", 1 + i % 13, i);
}

CF_TEST(groups_find_every_key_across_growth_and_sort) {
  struct cfb_groups g;
  enum { N = 20000 };
  cfb_groups_init(&g, 2, 1);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < N; i++) {
      char a[32], b[32];
      keys_of(i, a, b);
      const char *k[2] = {a, b};
      struct cfb_group *gr = cfb_groups_get(&g, k, NULL);
      CF_ASSERT(gr != NULL);
      gr->sums[0] = cf_dec_add(gr->sums[0], (cf_dec){i});
      gr->count++;
    }
  CF_ASSERT_EQ(N, g.n);
  cfb_groups_sort(&g);
  for (int i = 0; i < N; i++) {
    char a[32], b[32];
    keys_of(i, a, b);
    const char *k[2] = {a, b};
    size_t l[2] = {strlen(a), strlen(b)};
    struct cfb_group *gr = cfb_groups_get(&g, k, l);
    CF_ASSERT_STR(a, gr->keys[0]);
    CF_ASSERT_STR(b, gr->keys[1]);
    CF_ASSERT_EQ(2, gr->count);
    CF_ASSERT(gr->sums[0].v == (__int128)2 * i);
    CF_ASSERT_EQ(strlen(b), cfb_groups_key_len(&g, gr, 1));
  }
  CF_ASSERT_EQ(N, g.n);              /* lookups found, added nothing */
  for (size_t i = 1; i < g.n; i++) {
    int c = strcmp(g.v[i - 1].keys[0], g.v[i].keys[0]);
    if (!c) c = strcmp(g.v[i - 1].keys[1], g.v[i].keys[1]);
    CF_ASSERT(c < 0);
  }
  cfb_groups_release(&g);
}

CF_TEST(groups_key_boundaries_matter) {
  /* Same bytes, split differently: distinct groups; sorted as strcmp key
   * by key would ("" < "a" < "ab"), a shorter key first. */
  static const char *const keys[][2] = {
    {"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}, {"a", "b"},
    {"a", ""}, {"ab", ""}};
  static const int order[] = {3, 5, 4, 1, 6, 0, 2};
  struct cfb_groups g;
  size_t n = sizeof keys / sizeof *keys;
  cfb_groups_init(&g, 2, 0);
  for (size_t i = 0; i < n; i++)
    CF_ASSERT(cfb_groups_get(&g, keys[i], NULL) != NULL);
  CF_ASSERT_EQ(n, g.n);
  cfb_groups_sort(&g);
  for (size_t i = 0; i < n; i++) {
    CF_ASSERT_STR(keys[order[i]][0], g.v[i].keys[0]);
    CF_ASSERT_STR(keys[order[i]][1], g.v[i].keys[1]);
  }
  cfb_groups_release(&g);
}

CF_TEST(groups_lengths_not_terminators_delimit_keys) {
  /* A key given by length is the first `len` bytes, not up to a NUL. */
  struct cfb_groups g;
  const char *line = "EC2,us-east-1,EC2";
  const char *k1[1] = {line}, *k2[1] = {line + 14};
  size_t l[1] = {3};
  cfb_groups_init(&g, 1, 1);
  struct cfb_group *a = cfb_groups_get(&g, k1, l);
  struct cfb_group *b = cfb_groups_get(&g, k2, l);
  CF_ASSERT(a != NULL && a == b);
  CF_ASSERT_STR("EC2", a->keys[0]);
  cfb_groups_release(&g);
}

/* Key 1 of row i of an input made of runs: 7 ascending runs that
 * overlap, then descending and repeated keys. */
static void run_key(int i, char *b) {
  int k = i < 7000 ? (i % 1000) * 7 + i / 1000 : 20000 - i / 3;
  snprintf(b, 32, "r%06d", k % 5000);
}

CF_TEST(groups_merge_folds_appended_duplicates) {
  /* Appended rows (runs, repeats, descending keys) merge into what a
   * lookup per row makes: the same groups, sums, counts and order. */
  struct cfb_groups a, m;
  enum { N = 12000 };
  cfb_groups_init(&a, 2, 1);
  cfb_groups_init(&m, 2, 1);
  for (int i = 0; i < N; i++) {
    char b[32];
    run_key(i, b);
    const char *k[2] = {i % 3 ? "acct" : "acc", b};
    struct cfb_group *last = a.n ? &a.v[a.n - 1] : NULL;
    struct cfb_group *ga = last && cfb_groups_is(&a, last, k, NULL)
                               ? last : cfb_groups_append(&a, k, NULL);
    struct cfb_group *gm = cfb_groups_get(&m, k, NULL);
    CF_ASSERT(ga && gm);
    ga->sums[0] = cf_dec_add(ga->sums[0], (cf_dec){i});
    gm->sums[0] = cf_dec_add(gm->sums[0], (cf_dec){i});
    ga->count++;
    gm->count++;
  }
  cfb_groups_merge(&a);
  cfb_groups_sort(&m);
  CF_ASSERT_EQ(m.n, a.n);
  for (size_t i = 0; i < a.n; i++) {
    CF_ASSERT_STR(m.v[i].keys[0], a.v[i].keys[0]);
    CF_ASSERT_STR(m.v[i].keys[1], a.v[i].keys[1]);
    CF_ASSERT(m.v[i].sums[0].v == a.v[i].sums[0].v);
    CF_ASSERT_EQ(m.v[i].count, a.v[i].count);
  }
  /* A lookup after the merge indexes the map again and finds, not adds. */
  const char *k[2] = {"acct", "r000001"};
  size_t n = a.n;
  struct cfb_group *g = cfb_groups_get(&a, k, NULL);
  CF_ASSERT(g != NULL);
  CF_ASSERT_STR("r000001", g->keys[1]);
  CF_ASSERT_EQ(n, a.n);
  cfb_groups_release(&a);
  cfb_groups_release(&m);
}

CF_TEST(groups_keys_with_a_nul_stay_apart_in_a_merge) {
  /* ("a\0b", "c") and ("a", "b\0c") lay out the same key bytes. */
  struct cfb_groups g;
  const char *k1[2] = {"a\0b", "c"}, *k2[2] = {"a", "b\0c"};
  size_t l1[2] = {3, 1}, l2[2] = {1, 3};
  cfb_groups_init(&g, 2, 0);
  for (int i = 0; i < 4; i++)
    CF_ASSERT(cfb_groups_append(&g, i % 2 ? k1 : k2, i % 2 ? l1 : l2));
  cfb_groups_merge(&g);
  CF_ASSERT_EQ(2, g.n);
  CF_ASSERT_EQ(1, cfb_groups_key_len(&g, &g.v[0], 0));
  CF_ASSERT_EQ(3, cfb_groups_key_len(&g, &g.v[1], 0));
  cfb_groups_release(&g);
}

CF_TEST(row_text_lays_out_keys_then_sums) {
  struct cfb_groups g;
  struct cfb_row_text t;
  cf_dec v;
  cfb_groups_init(&g, 2, 2);
  cfb_row_text_init(&t);
  const char *k1[2] = {"b", "x"}, *k2[2] = {"a", ""};
  struct cfb_group *gr = cfb_groups_get(&g, k1, NULL);
  CF_ASSERT_EQ(0, cf_dec_parse("-5.50", 5, &v));
  gr->sums[0] = v;
  gr->count = 3;
  gr = cfb_groups_get(&g, k2, NULL);
  CF_ASSERT_EQ(0, cf_dec_parse("1E-18", 5, &v));
  gr->sums[1] = v;
  gr->count = 1;
  cfb_groups_sort(&g);
  CF_ASSERT_EQ(0, cfb_row_text_build(&t, &g));
  CF_ASSERT_EQ(2, t.n);
  CF_ASSERT_EQ(4, t.ncols);
  static const char *const want[2][4] = {{"a", "", "0", "0.000000000000000001"},
                                         {"b", "x", "-5.5", "0"}};
  for (size_t i = 0; i < 2; i++)
    for (size_t c = 0; c < 4; c++) {
      int n;
      const char *s = cfb_row_text_get(&t, i, c, &n);
      CF_ASSERT_EQ(strlen(want[i][c]), n);
      CF_ASSERT(memcmp(s, want[i][c], (size_t)n) == 0 && s[n] == '\0');
    }
  CF_ASSERT_EQ(1, t.count[0]);
  CF_ASSERT_EQ(3, t.count[1]);
  cfb_row_text_release(&t);
  cfb_groups_release(&g);
}

CF_TEST(groups_reset_forgets_groups_keeps_working) {
  /* A map emptied by reset and refilled (memory reused, growing past what
   * it had) finds only the new keys, sorts and merges as a new one. */
  struct cfb_groups g;
  cfb_groups_init(&g, 2, 1);
  for (int round = 0; round < 3; round++) {
    int n = 3000 * (round + 1);
    for (int i = 0; i < n; i++) {
      char a[32], b[32];
      keys_of(i + round, a, b);
      const char *k[2] = {a, b};
      struct cfb_group *gr = round == 1 ? cfb_groups_append(&g, k, NULL)
                                        : cfb_groups_get(&g, k, NULL);
      CF_ASSERT(gr != NULL);
      CF_ASSERT_EQ(0, gr->count);        /* nothing left from before */
      gr->count++;
    }
    CF_ASSERT_EQ(n, g.n);
    if (round == 1) cfb_groups_merge(&g);
    else cfb_groups_sort(&g);
    CF_ASSERT_EQ(n, g.n);
    for (size_t i = 1; i < g.n; i++) {
      int c = strcmp(g.v[i - 1].keys[0], g.v[i].keys[0]);
      if (!c) c = strcmp(g.v[i - 1].keys[1], g.v[i].keys[1]);
      CF_ASSERT(c < 0);
    }
    cfb_groups_reset(&g);
    CF_ASSERT_EQ(0, g.n);
  }
  cfb_groups_release(&g);
}

CF_TEST(row_text_rebuilt_in_place) {
  /* A row text built again, smaller then larger, has just the new rows. */
  struct cfb_groups g;
  struct cfb_row_text t;
  cfb_row_text_init(&t);
  for (int round = 0; round < 3; round++) {
    int n = round == 1 ? 10 : 1000 * (round + 1);
    cfb_groups_init(&g, 2, 1);
    for (int i = 0; i < n; i++) {
      char a[32], b[32];
      keys_of(i, a, b);
      const char *k[2] = {a, b};
      struct cfb_group *gr = cfb_groups_get(&g, k, NULL);
      gr->sums[0] = (cf_dec){(__int128)i * 1000000000000000000LL};
      gr->count = i;
    }
    CF_ASSERT_EQ(0, cfb_row_text_build(&t, &g));
    CF_ASSERT_EQ(n, t.n);
    for (int i = 0; i < n; i++) {
      char a[32], b[32], v[32];
      int len;
      keys_of(i, a, b);
      snprintf(v, sizeof v, "%d", i);
      CF_ASSERT_STR(a, cfb_row_text_get(&t, (size_t)i, 0, &len));
      CF_ASSERT_STR(b, cfb_row_text_get(&t, (size_t)i, 1, &len));
      CF_ASSERT_STR(v, cfb_row_text_get(&t, (size_t)i, 2, &len));
      CF_ASSERT_EQ(i, t.count[i]);
    }
    cfb_groups_release(&g);
  }
  cfb_row_text_release(&t);
}

CF_TEST(row_text_of_no_groups_is_empty) {
  struct cfb_groups g;
  struct cfb_row_text t;
  cfb_groups_init(&g, 3, 2);
  cfb_row_text_init(&t);
  CF_ASSERT_EQ(0, cfb_row_text_build(&t, &g));
  CF_ASSERT_EQ(0, t.n);
  cfb_row_text_release(&t);
  cfb_groups_release(&g);
}

CF_TEST_MAIN()
