/* Group-by map with exact decimal sums: the one aggregation primitive of
 * the gold, anomaly and report code (never SQL SUM over floats). */
#ifndef CFB_GOLD_GROUPS_H
#define CFB_GOLD_GROUPS_H

#include <stddef.h>
#include <stdint.h>
#include "costflow/decimal.h"

#define CFB_GROUPS_MAXKEYS 8
#define CFB_GROUPS_MAXVALS 8

struct cfb_group {
  const char **keys;  /* nkeys NUL-terminated strings */
  cf_dec *sums;       /* nvals exact sums */
  int64_t count;      /* rows folded into this group */
  uint64_t hash;      /* of the keys: rehashing never rereads them */
};

/* One slot of the open-addressing table: group index + 1 (0 = empty) and
 * the high bits of the group's hash, so most misses never touch a group. */
struct cfb_group_slot {
  uint32_t index1, tag;
};

/* Keys and sums live in a few large blocks, freed together: one group is
 * one bump of a pointer, not two mallocs (resource grains make a group
 * out of nearly every row). */
struct cfb_groups_block;

/* Groups keep insertion order until cfb_groups_sort(). */
struct cfb_groups {
  size_t nkeys, nvals;
  struct cfb_group *v;
  size_t n, alloc;
  struct cfb_group_slot *slots;
  size_t nslots;
  struct cfb_groups_block *blocks;  /* newest first */
  struct cfb_groups_block *spare;   /* kept by cfb_groups_reset */
  struct cfb_group *tmp;            /* merge buffer of the sort */
  size_t tmp_alloc;
  int unindexed;      /* groups were appended: slots are stale */
};

void cfb_groups_init(struct cfb_groups *g, size_t nkeys, size_t nvals);
void cfb_groups_release(struct cfb_groups *g);   /* frees contents */
/* Empties the map but keeps its memory for the next fill: a map refilled
 * day after day then writes into pages it already has (fresh pages cost
 * a fault each, which is dear on the VMs we run on). */
void cfb_groups_reset(struct cfb_groups *g);
/* Finds or adds the group with these keys (lens[i] bytes each; lens may be
 * NULL for NUL-terminated keys). NULL on out-of-memory. */
struct cfb_group *cfb_groups_get(struct cfb_groups *g,
                                 const char *const *keys,
                                 const size_t *lens);
/* Sorts groups by their keys, bytewise, key 0 first. Lookups stay valid.
 * Input made of a few ascending runs costs n log(runs) comparisons. */
void cfb_groups_sort(struct cfb_groups *g);

/* For rows whose equal keys mostly come one after another (a folding
 * caller adds a row to the last group when cfb_groups_is() says it has
 * the same keys): adds a group without hashing or probing, even if one
 * with these keys exists. cfb_groups_merge() then folds the equal groups
 * left. A lookup on a map with appended groups indexes it again first.
 * NULL on out-of-memory. */
struct cfb_group *cfb_groups_append(struct cfb_groups *g,
                                    const char *const *keys,
                                    const size_t *lens);
/* Whether gr's keys are exactly these (lens as for cfb_groups_get). */
int cfb_groups_is(const struct cfb_groups *g, const struct cfb_group *gr,
                  const char *const *keys, const size_t *lens);
/* Sorts (as cfb_groups_sort) and folds groups with equal keys into one:
 * sums and counts are added, exactly, so the folding order is moot. */
void cfb_groups_merge(struct cfb_groups *g);
/* Length of key k of a group of g (kept, so writers need no strlen). */
size_t cfb_groups_key_len(const struct cfb_groups *g,
                          const struct cfb_group *gr, size_t k);
/* A group's keys lie back to back, each followed by its NUL: the block
 * starts at gr->keys[0]; its length, NULs included (0 without keys). */
size_t cfb_groups_key_block(const struct cfb_groups *g,
                            const struct cfb_group *gr);

#endif
