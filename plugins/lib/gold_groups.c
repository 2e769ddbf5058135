/* Group-by map with exact decimal sums: open addressing over tagged slots,
 * a word-at-a-time hash, and keys + sums carved from large blocks. */
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "gold_groups.h"

#define BLOCK_MIN (16u << 10)
#define BLOCK_MAX (1u << 20)

struct cfb_groups_block {
  struct cfb_groups_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];  /* cf_dec needs 16-byte alignment */
};

void cfb_groups_init(struct cfb_groups *g, size_t nkeys, size_t nvals) {
  memset(g, 0, sizeof *g);
  g->nkeys = nkeys;
  g->nvals = nvals;
}

static void free_blocks(struct cfb_groups_block *b) {
  while (b) {
    struct cfb_groups_block *next = b->next;
    cf_free(b);
    b = next;
  }
}

void cfb_groups_release(struct cfb_groups *g) {
  free_blocks(g->blocks);
  free_blocks(g->spare);
  cf_free(g->v);
  cf_free(g->slots);
  cf_free(g->tmp);
  cfb_groups_init(g, g->nkeys, g->nvals);
}

void cfb_groups_reset(struct cfb_groups *g) {
  while (g->blocks) {                /* every block becomes spare */
    struct cfb_groups_block *next = g->blocks->next;
    g->blocks->next = g->spare;
    g->spare = g->blocks;
    g->blocks = next;
  }
  if (g->slots) memset(g->slots, 0, g->nslots * sizeof *g->slots);
  g->n = 0;
  g->unindexed = 0;
}

static size_t key_len(const char *const *keys, const size_t *lens,
                      size_t k) {
  return lens ? lens[k] : strlen(keys[k]);
}

static uint64_t mix(uint64_t h) {     /* murmur3 finalizer */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

/* Eight bytes at a time; each key's length is mixed in, so ("ab","c")
 * and ("a","bc") differ. */
static uint64_t hash_keys(size_t nkeys, const char *const *keys,
                          const size_t *lens) {
  const uint64_t m = 0x9e3779b97f4a7c15ULL;
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (size_t k = 0; k < nkeys; k++) {
    const char *p = keys[k];
    size_t n = key_len(keys, lens, k), i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      h = (h ^ w) * m;
      h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w ^ ((uint64_t)n << 56)) * m;
    h ^= h >> 29;
  }
  return mix(h);
}

/* Stored lengths sit right after the key pointers. */
static const uint32_t *group_lens(const struct cfb_groups *g,
                                  const struct cfb_group *gr) {
  return (const uint32_t *)(const void *)(gr->keys + g->nkeys);
}

size_t cfb_groups_key_len(const struct cfb_groups *g,
                          const struct cfb_group *gr, size_t k) {
  return group_lens(g, gr)[k];
}

int cfb_groups_is(const struct cfb_groups *g, const struct cfb_group *gr,
                  const char *const *keys, const size_t *lens) {
  const uint32_t *have = group_lens(g, gr);
  for (size_t k = 0; k < g->nkeys; k++) {
    size_t n = key_len(keys, lens, k);
    if (have[k] != n || memcmp(gr->keys[k], keys[k], n)) return 0;
  }
  return 1;
}

static void slot_put(struct cfb_group_slot *slots, size_t nslots,
                     uint64_t h, size_t index) {
  size_t s = h & (nslots - 1);
  while (slots[s].index1) s = (s + 1) & (nslots - 1);
  slots[s].index1 = (uint32_t)(index + 1);
  slots[s].tag = (uint32_t)(h >> 32);
}

static int rehash(struct cfb_groups *g, size_t nslots) {
  struct cfb_group_slot *slots = cf_calloc(nslots, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < g->n; i++)
    slot_put(slots, nslots, g->v[i].hash, i);
  cf_free(g->slots);
  g->slots = slots;
  g->nslots = nslots;
  return 0;
}

/* A block of at least n bytes, after b: a spare one if it fits, else
 * new, each twice the last up to BLOCK_MAX. */
static struct cfb_groups_block *block_next(struct cfb_groups *g,
                                           struct cfb_groups_block *b,
                                           size_t n) {
  struct cfb_groups_block *nb = g->spare;
  if (nb && nb->cap >= n) {
    g->spare = nb->next;
  } else {
    size_t cap = !b ? BLOCK_MIN : b->cap < BLOCK_MAX ? b->cap * 2 : b->cap;
    if (cap < n) cap = n;
    if (!(nb = cf_malloc(sizeof *nb + cap))) return NULL;
    nb->cap = cap;
  }
  nb->next = b;
  nb->used = 0;
  return nb;
}

/* n bytes (a multiple of 16) from the newest block, or a new one. */
static void *block_take(struct cfb_groups *g, size_t n) {
  struct cfb_groups_block *b = g->blocks;
  if (!b || b->cap - b->used < n) {
    if (!(b = block_next(g, b, n))) return NULL;
    g->blocks = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  return p;
}

/* One record per group: sums, key pointers, key lengths, key bytes. */
static struct cfb_group *add_group(struct cfb_groups *g,
                                   const char *const *keys,
                                   const size_t *lens, uint64_t h) {
  size_t head = g->nvals * sizeof(cf_dec) + g->nkeys * sizeof(char *) +
                g->nkeys * sizeof(uint32_t);
  size_t total = head;
  for (size_t k = 0; k < g->nkeys; k++) {
    size_t n = key_len(keys, lens, k);
    if (n > UINT32_MAX - 1) return NULL;
    total += n + 1;
  }
  total = (total + 15) & ~(size_t)15;
  if (g->n == g->alloc) {
    /* at most UINT32_MAX - 1 groups: slots hold index + 1 as uint32_t */
    if (g->alloc > (UINT32_MAX - 1) / 2) return NULL;
    if (cf_grow(&g->v, &g->alloc, g->n + 1, sizeof *g->v, 64) < 0) return NULL;
  }
  unsigned char *rec = block_take(g, total);
  if (!rec) return NULL;
  cf_dec *sums = (cf_dec *)(void *)rec;
  const char **kp = (const char **)(void *)(sums + g->nvals);
  uint32_t *kl = (uint32_t *)(void *)(kp + g->nkeys);
  char *p = (char *)(kl + g->nkeys);
  for (size_t v = 0; v < g->nvals; v++) sums[v] = CF_DEC_ZERO;
  for (size_t k = 0; k < g->nkeys; k++) {
    size_t n = key_len(keys, lens, k);
    memcpy(p, keys[k], n);
    p[n] = '\0';
    kp[k] = p;
    kl[k] = (uint32_t)n;
    p += n + 1;
  }
  struct cfb_group *gr = &g->v[g->n++];
  gr->keys = kp;
  gr->sums = sums;
  gr->count = 0;
  gr->hash = h;
  return gr;
}

/* Hashes the appended groups and rebuilds the slots. */
static int reindex(struct cfb_groups *g) {
  const char *keys[CFB_GROUPS_MAXKEYS];
  size_t lens[CFB_GROUPS_MAXKEYS];
  size_t ns = 128;
  while (ns < (g->n + 1) * 2) ns *= 2;
  for (size_t i = 0; i < g->n; i++) {
    for (size_t k = 0; k < g->nkeys; k++) {
      keys[k] = g->v[i].keys[k];
      lens[k] = cfb_groups_key_len(g, &g->v[i], k);
    }
    g->v[i].hash = hash_keys(g->nkeys, keys, lens);
  }
  if (rehash(g, ns) < 0) return -1;
  g->unindexed = 0;
  return 0;
}

struct cfb_group *cfb_groups_append(struct cfb_groups *g,
                                    const char *const *keys,
                                    const size_t *lens) {
  g->unindexed = 1;
  return add_group(g, keys, lens, 0);
}

struct cfb_group *cfb_groups_get(struct cfb_groups *g,
                                 const char *const *keys,
                                 const size_t *lens) {
  if (g->unindexed && reindex(g) < 0) return NULL;
  if ((g->n + 1) * 2 > g->nslots) {
    size_t ns = g->nslots ? g->nslots * 2 : 128;
    while (ns < (g->n + 1) * 2) ns *= 2;
    if (rehash(g, ns) < 0) return NULL;
  }
  uint64_t h = hash_keys(g->nkeys, keys, lens);
  uint32_t tag = (uint32_t)(h >> 32);
  size_t mask = g->nslots - 1, s = h & mask;
  for (; g->slots[s].index1; s = (s + 1) & mask) {
    struct cfb_group *gr = &g->v[g->slots[s].index1 - 1];
    if (g->slots[s].tag == tag && gr->hash == h &&
        cfb_groups_is(g, gr, keys, lens))
      return gr;
  }
  struct cfb_group *gr = add_group(g, keys, lens, h);
  if (gr) {
    g->slots[s].index1 = (uint32_t)g->n;
    g->slots[s].tag = tag;
  }
  return gr;
}

/* A group's key strings lie back to back, each ending in its NUL, so one
 * memcmp over that block orders groups exactly as strcmp key by key:
 * a NUL sorts below every byte, like the end of a string. */
static size_t key_block_len(size_t nkeys, const struct cfb_group *gr) {
  const uint32_t *lens = (const uint32_t *)(const void *)(gr->keys + nkeys);
  return (size_t)(gr->keys[nkeys - 1] - gr->keys[0]) + lens[nkeys - 1] + 1;
}

size_t cfb_groups_key_block(const struct cfb_groups *g,
                            const struct cfb_group *gr) {
  return g->nkeys ? key_block_len(g->nkeys, gr) : 0;
}

/* The sign memcmp would give, eight bytes at a time and inline: key
 * blocks are short and share long prefixes (provider, account), and a
 * library call per comparison was most of the cost of a sort. */
static int cmp_bytes(const char *a, const char *b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x == y) continue;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);         /* first byte most significant */
    y = __builtin_bswap64(y);
#endif
    return x < y ? -1 : 1;
  }
  for (; i < n; i++)
    if (a[i] != b[i])
      return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
  return 0;
}

static int cmp_group(const void *a, const void *b, void *nkeys) {
  const struct cfb_group *x = a, *y = b;
  size_t nk = *(const size_t *)nkeys;
  if (nk == 0) return 0;
  size_t nx = key_block_len(nk, x), ny = key_block_len(nk, y);
  int c = cmp_bytes(x->keys[0], y->keys[0], nx < ny ? nx : ny);
  if (c || nx != ny) return c ? c : (nx > ny) - (nx < ny);
  /* Same block, different keys only if a key holds a NUL: order by the
   * lengths, so that 0 means the very same keys (cfb_groups_merge). */
  const uint32_t *lx = (const uint32_t *)(const void *)(x->keys + nk);
  const uint32_t *ly = (const uint32_t *)(const void *)(y->keys + nk);
  for (size_t k = 0; k < nk; k++)
    if (lx[k] != ly[k]) return lx[k] < ly[k] ? -1 : 1;
  return 0;
}

/* Merges the sorted src[a..m) and src[m..e) into dst[a..e). */
static void merge_runs(const struct cfb_group *src, struct cfb_group *dst,
                       size_t a, size_t m, size_t e, size_t *nkeys) {
  size_t i = a, j = m, o = a;
  while (i < m && j < e)
    dst[o++] = cmp_group(&src[j], &src[i], nkeys) < 0 ? src[j++] : src[i++];
  while (i < m) dst[o++] = src[i++];
  while (j < e) dst[o++] = src[j++];
}

/* Natural merge sort: finds the ascending runs once, then merges pairs of
 * neighbouring runs until one is left. Groups are appended in the order
 * their rows come, and silver rows are sorted by a key close to ours, so a
 * day's groups are a few hundred runs: n log(runs) comparisons where
 * qsort made n log(n). -1 when out of memory. */
static int sort_runs(struct cfb_group *v, struct cfb_group *tmp, size_t n,
                     size_t *nkeys) {
  size_t *ends = NULL, nruns = 0, cap = 0;
  struct cfb_group *src = v, *dst = tmp;
  for (size_t i = 1; i <= n; i++) {
    if (i < n && cmp_group(&v[i - 1], &v[i], nkeys) <= 0) continue;
    if (nruns == cap && cf_grow(&ends, &cap, nruns + 1, sizeof *ends, 64) < 0) {
      cf_free(ends);
      return -1;
    }
    ends[nruns++] = i;               /* a run ends before v[i] */
  }
  while (nruns > 1) {
    size_t out = 0, a = 0;
    for (size_t r = 0; r < nruns; r += 2) {
      size_t m = ends[r], e = r + 1 < nruns ? ends[r + 1] : m;
      merge_runs(src, dst, a, m, e, nkeys);
      ends[out++] = a = e;
    }
    nruns = out;
    struct cfb_group *t = src;
    src = dst;
    dst = t;
  }
  if (src != v) memcpy(v, src, n * sizeof *v);
  cf_free(ends);
  return 0;
}

/* The merge buffer is kept, like the rest, across cfb_groups_reset. */
static void sort_groups(struct cfb_groups *g) {
  if (g->tmp_alloc < g->n) {
    cf_free(g->tmp);
    g->tmp = cf_malloc(g->alloc * sizeof *g->tmp);
    g->tmp_alloc = g->tmp ? g->alloc : 0;
  }
  if (!g->tmp || sort_runs(g->v, g->tmp, g->n, &g->nkeys) < 0)
    qsort_r(g->v, g->n, sizeof *g->v, cmp_group, &g->nkeys);  /* in place */
}

void cfb_groups_sort(struct cfb_groups *g) {
  if (g->n < 2) return;
  sort_groups(g);
  if (g->unindexed) return;         /* the next lookup indexes anyway */
  if (rehash(g, g->nslots) < 0) {   /* indices moved: drop stale slots */
    cf_free(g->slots);
    g->slots = NULL;
    g->nslots = 0;
  }
}

void cfb_groups_merge(struct cfb_groups *g) {
  size_t out = 0;
  if (g->n < 2) return;
  sort_groups(g);
  for (size_t i = 0; i < g->n; i++) {
    struct cfb_group *last = out ? &g->v[out - 1] : NULL;
    if (last && cmp_group(last, &g->v[i], &g->nkeys) == 0) {
      for (size_t k = 0; k < g->nvals; k++)
        last->sums[k] = cf_dec_add(last->sums[k], g->v[i].sums[k]);
      last->count += g->v[i].count;
    } else {
      g->v[out++] = g->v[i];
    }
  }
  g->n = out;
  g->unindexed = 1;     /* folded groups left the slots: index on lookup */
}
