/* One silver usage date: map its spill files, keep the best-ranked copy of
 * each line item, sort the rows bytewise (so the bytes are reproducible)
 * and stage them as the partition's next version (cfb_partition.h; the
 * caller commits). Memory: this date's
 * spill bytes (mapped page cache) plus ~90 bytes per row; rows are never
 * copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "costflow/hash.h"
#include "cfb_rowsort.h"
#include "cfb_silver_int.h"

struct kept {
  const char *key, *row;
  uint32_t key_len, row_len;
  struct cfb_rank rank;
  uint64_t hash;                 /* of key: growth never rehashes bytes */
};

/* Open addressing; a slot holds index + 1 into v (0 = empty) and the top
 * half of the key's hash, so a probe rarely touches v or the key bytes
 * (both far apart in memory) unless the key is the one sought. */
struct slot { uint32_t idx, tag; };
struct table { struct kept *v; size_t n, cap; struct slot *slot; size_t mask; };

/* Grows the index to at least `slots` (a power of two), keeping load
 * under one half. */
static int table_resize(struct table *t, size_t slots) {
  struct slot *slot = cf_calloc(slots, sizeof *slot);
  if (!slot) return -ENOMEM;
  for (size_t i = 0; i < t->n; i++) {
    size_t h = t->v[i].hash & (slots - 1);
    while (slot[h].idx) h = (h + 1) & (slots - 1);
    slot[h] = (struct slot){(uint32_t)i + 1, (uint32_t)(t->v[i].hash >> 32)};
  }
  cf_free(t->slot);
  t->slot = slot;
  t->mask = slots - 1;
  return 0;
}

/* Sizes the table for about `rows` keys up front (spill bytes tell). */
static int table_reserve(struct table *t, size_t rows) {
  size_t slots = 4096;
  while (slots < rows * 2 && slots < ((size_t)1 << 31)) slots *= 2;
  if (rows > t->cap) {
    struct kept *v = cf_realloc(t->v, rows * sizeof *v);
    if (!v) return -ENOMEM;
    t->v = v;
    t->cap = rows;
  }
  return slots > t->mask + 1 ? table_resize(t, slots) : 0;
}

/* Keeps r (whose key hashes to `hash`) if its key is new or its rank is
 * higher. */
static int table_put(struct table *t, const struct cfb_spill_rec *r,
                     uint64_t hash) {
  if ((t->n + 1) * 2 > t->mask + 1 &&
      table_resize(t, t->mask ? (t->mask + 1) * 2 : 4096) < 0)
    return -ENOMEM;
  if (t->n >= UINT32_MAX - 1) return CF_ETOOBIG;
  uint32_t tag = (uint32_t)(hash >> 32);
  size_t h = hash & t->mask;
  for (; t->slot[h].idx; h = (h + 1) & t->mask) {
    if (t->slot[h].tag != tag) continue;
    struct kept *k = &t->v[t->slot[h].idx - 1];
    if (k->key_len != r->key_len || memcmp(k->key, r->key, r->key_len))
      continue;
    if (cfb_rank_cmp(&r->rank, &k->rank) > 0) {
      k->row = r->row;
      k->row_len = r->row_len;
      k->rank = r->rank;
    }
    return 0;
  }
  if (t->n == t->cap &&
      cf_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v, 4096) < 0)
    return -ENOMEM;
  t->v[t->n] = (struct kept){r->key, r->row, r->key_len, r->row_len,
                             r->rank, hash};
  t->slot[h] = (struct slot){(uint32_t)++t->n, tag};
  return 0;
}

/* Puts every record of one spill file. Records go in batches whose slots
 * are prefetched first: the index is megabytes, so a probe is a cache
 * miss, and overlapping a batch's misses keeps the core busy instead of
 * waiting on each in turn. Same puts in the same order as one by one. */
#define PUT_BATCH 16
static int table_put_spill(struct table *t, const struct cf_mapped *m) {
  struct cfb_spill_rec r[PUT_BATCH];
  uint64_t hash[PUT_BATCH];
  size_t pos = 0;
  int ret;
  do {
    size_t k = 0;
    while (k < PUT_BATCH && (ret = cfb_spill_next(m, &pos, &r[k])) == 1) {
      hash[k] = cf_hash64(r[k].key, r[k].key_len);
      __builtin_prefetch(&t->slot[hash[k] & t->mask]);
      k++;
    }
    for (size_t j = 0; j < k; j++) {
      int put = table_put(t, &r[j], hash[j]);
      if (put < 0) return put;
    }
  } while (ret == 1);
  return ret;
}

/* The kept rows in bytewise order, as the partition's iovec list after
 * the header line. */
static struct iovec *sorted_iov(const struct table *t) {
  struct cfb_sortrow *v = cf_calloc(t->n + 1, sizeof *v);
  struct iovec *iov = cf_calloc(t->n + 1, sizeof *iov);
  if (!v || !iov) {
    cf_free(v);
    cf_free(iov);
    return NULL;
  }
  for (size_t i = 0; i < t->n; i++)
    v[i] = (struct cfb_sortrow){0, t->v[i].row, t->v[i].row_len};
  cfb_rowsort(v, t->n);
  iov[0] = (struct iovec){(void *)cfb_header_line, strlen(cfb_header_line)};
  for (size_t i = 0; i < t->n; i++)
    iov[i + 1] = (struct iovec){(void *)v[i].p, v[i].len};
  cf_free(v);
  return iov;
}

int cfb_silver_stage_date(const struct cfb_silver_opts *o, cf_date d,
                            const char *const *spills, size_t nspills,
                            const char *inputs_json,
                            struct cfb_staged *staged, int64_t *rows,
                            char **errmsg) {
  struct cf_mapped *maps = cf_calloc(nspills + 1, sizeof *maps);
  struct table t = {0};
  struct iovec *iov = NULL;
  char ds[11], *dir = NULL, *part = NULL;
  cf_date_format(d, ds);
  int ret = maps ? 0 : -ENOMEM;
  size_t bytes = 0;
  for (size_t i = 0; i < nspills && ret == 0; i++) {
    /* Spills were mapped, not read: the bytes stay in the page cache
     * they were just written to. A reader with no row here left none. */
    if ((ret = cf_map_file(spills[i], &maps[i])) == -ENOENT) ret = 0;
    if (ret < 0 && errmsg)
      *errmsg = cf_asprintf("%s: %s", spills[i], cf_strerror(ret));
    bytes += maps[i].n;
  }
  /* A spilled silver row is ~450 bytes; an overestimate costs only a
   * few untouched pages. */
  if (ret == 0) ret = table_reserve(&t, bytes / 256 + 1);
  for (size_t i = 0; i < nspills && ret == 0; i++) {
    ret = table_put_spill(&t, &maps[i]);
    if (ret == CF_EDATA && errmsg)
      *errmsg = cf_asprintf("usage date %s: corrupt spill data in %s", ds,
                            spills[i]);
  }
  if (ret < 0) goto done;
  cf_free(t.slot);                       /* the sort needs no index */
  t.slot = NULL;
  if (!(iov = sorted_iov(&t))) {
    ret = -ENOMEM;
    goto done;
  }
  dir = cfb_silver_dir(o->home, ds);
  part = cf_asprintf("usage_date=%s", ds);
  if (!dir || !part) {
    ret = -ENOMEM;
    goto done;
  }
  *rows = (int64_t)t.n;
  ret = cfb_partition_stage(dir, "silver.cost", part, iov, t.n + 1,
                            (int64_t)t.n, inputs_json, staged, errmsg);
done:
  /* Consumed: deleting the spills now hands their page cache to the next
   * dates' writes instead of growing it (fresh pages are dear in a VM).
   * The read phase's cleanup unlinks them again, harmlessly. */
  for (size_t i = 0; maps && i < nspills; i++) {
    cf_unmap_file(&maps[i]);
    if (ret == 0) unlink(spills[i]);
  }
  cf_free(maps);
  cf_free(t.v);
  cf_free(t.slot);
  cf_free(iov);
  cf_free(dir);
  cf_free(part);
  return ret;
}
