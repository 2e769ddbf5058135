/* Group-by map with exact decimal sums (open addressing, FNV-1a). */
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "gold_groups.h"

void cfb_groups_init(struct cfb_groups *g, size_t nkeys, size_t nvals) {
  memset(g, 0, sizeof *g);
  g->nkeys = nkeys;
  g->nvals = nvals;
}

void cfb_groups_release(struct cfb_groups *g) {
  for (size_t i = 0; i < g->n; i++) {
    cf_free(g->v[i].keys);
    cf_free(g->v[i].sums);
  }
  cf_free(g->v);
  cf_free(g->slots);
  cfb_groups_init(g, g->nkeys, g->nvals);
}

static uint64_t hash_keys(size_t nkeys, const char *const *keys,
                          const size_t *lens) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t k = 0; k < nkeys; k++) {
    size_t n = lens ? lens[k] : strlen(keys[k]);
    for (size_t i = 0; i < n; i++) {
      h ^= (unsigned char)keys[k][i];
      h *= 1099511628211ULL;
    }
    h ^= 0x1f;              /* separator: ("ab","c") != ("a","bc") */
    h *= 1099511628211ULL;
  }
  return h;
}

static int same_keys(const struct cfb_group *gr, size_t nkeys,
                     const char *const *keys, const size_t *lens) {
  for (size_t k = 0; k < nkeys; k++) {
    size_t n = lens ? lens[k] : strlen(keys[k]);
    if (strlen(gr->keys[k]) != n || memcmp(gr->keys[k], keys[k], n))
      return 0;
  }
  return 1;
}

static int rehash(struct cfb_groups *g, size_t nslots) {
  size_t *slots = cf_calloc(nslots, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < g->n; i++) {
    uint64_t h = hash_keys(g->nkeys, g->v[i].keys, NULL);
    size_t s = h & (nslots - 1);
    while (slots[s]) s = (s + 1) & (nslots - 1);
    slots[s] = i + 1;
  }
  cf_free(g->slots);
  g->slots = slots;
  g->nslots = nslots;
  return 0;
}

static struct cfb_group *add_group(struct cfb_groups *g,
                                   const char *const *keys,
                                   const size_t *lens) {
  size_t total = g->nkeys * sizeof(char *);
  for (size_t k = 0; k < g->nkeys; k++)
    total += (lens ? lens[k] : strlen(keys[k])) + 1;
  if (g->n == g->alloc) {
    size_t na = g->alloc ? g->alloc * 2 : 64;
    struct cfb_group *nv = cf_realloc(g->v, na * sizeof *nv);
    if (!nv) return NULL;
    g->v = nv;
    g->alloc = na;
  }
  char *block = cf_malloc(total);
  cf_dec *sums = cf_calloc(g->nvals ? g->nvals : 1, sizeof *sums);
  if (!block || !sums) {
    cf_free(block);
    cf_free(sums);
    return NULL;
  }
  const char **kp = (const char **)(void *)block;
  char *p = block + g->nkeys * sizeof(char *);
  for (size_t k = 0; k < g->nkeys; k++) {
    size_t n = lens ? lens[k] : strlen(keys[k]);
    memcpy(p, keys[k], n);
    p[n] = '\0';
    kp[k] = p;
    p += n + 1;
  }
  struct cfb_group *gr = &g->v[g->n++];
  gr->keys = kp;
  gr->sums = sums;
  gr->count = 0;
  return gr;
}

struct cfb_group *cfb_groups_get(struct cfb_groups *g,
                                 const char *const *keys,
                                 const size_t *lens) {
  if ((g->n + 1) * 2 > g->nslots) {
    size_t ns = 128;
    while (ns < (g->n + 1) * 2) ns *= 2;
    if (rehash(g, ns) < 0) return NULL;
  }
  uint64_t h = hash_keys(g->nkeys, keys, lens);
  size_t s = h & (g->nslots - 1);
  while (g->slots[s]) {
    struct cfb_group *gr = &g->v[g->slots[s] - 1];
    if (same_keys(gr, g->nkeys, keys, lens)) return gr;
    s = (s + 1) & (g->nslots - 1);
  }
  struct cfb_group *gr = add_group(g, keys, lens);
  if (gr) g->slots[s] = g->n;
  return gr;
}

static int cmp_group(const void *a, const void *b, void *nkeys) {
  const struct cfb_group *x = a, *y = b;
  for (size_t k = 0; k < *(const size_t *)nkeys; k++) {
    int c = strcmp(x->keys[k], y->keys[k]);
    if (c) return c;
  }
  return 0;
}

void cfb_groups_sort(struct cfb_groups *g) {
  if (g->n < 2) return;
  qsort_r(g->v, g->n, sizeof *g->v, cmp_group, &g->nkeys);
  if (rehash(g, g->nslots) < 0) {   /* indices moved: drop stale slots */
    cf_free(g->slots);
    g->slots = NULL;
    g->nslots = 0;
  }
}
