/* Contiguous text of a group map's keys and sums (gold_row_text.h). */
#include <errno.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_row_text.h"

void cfb_row_text_init(struct cfb_row_text *t) { memset(t, 0, sizeof *t); }

void cfb_row_text_release(struct cfb_row_text *t) {
  cf_free(t->text);
  cf_free(t->end);
  cf_free(t->count);
  cfb_row_text_init(t);
}

/* Room for every row: its key block and the longest decimal per sum. */
static size_t text_bound(const struct cfb_groups *g) {
  size_t n = 0;
  for (size_t i = 0; i < g->n; i++)
    n += cfb_groups_key_block(g, &g->v[i]) + g->nvals * CF_DEC_MAXSTR;
  return n;
}

/* Lays out row i at text + *at: the group's key block in one copy (its
 * keys already end in NULs), then each sum formatted in place. */
static int put_row(struct cfb_row_text *t, const struct cfb_groups *g,
                   size_t i, size_t *at) {
  const struct cfb_group *gr = &g->v[i];
  uint32_t *end = &t->end[i * t->ncols];
  if (g->nkeys) {
    size_t block = cfb_groups_key_block(g, gr);
    memcpy(t->text + *at, gr->keys[0], block);
    for (size_t c = 0; c < g->nkeys; c++)
      *end++ = (uint32_t)(*at + (size_t)(gr->keys[c] - gr->keys[0]) +
                          cfb_groups_key_len(g, gr, c));
    *at += block;
  }
  for (size_t v = 0; v < g->nvals; v++) {
    *at += cf_dec_format(gr->sums[v], t->text + *at);  /* NUL included */
    *end++ = (uint32_t)*at;
    (*at)++;
  }
  t->count[i] = gr->count;
  return *at > UINT32_MAX ? CF_ETOOBIG : 0;
}

/* p if it holds `need` items of `size` bytes, else a new block (p is
 * freed, its contents are not kept); NULL when out of memory. A new block
 * has a quarter more, so that the next day, a little larger, fits too. */
static void *reserve(void *p, size_t *cap, size_t need, size_t size) {
  if (p && *cap >= need) return p;
  cf_free(p);
  *cap = 0;
  need += need / 4;
  if ((p = cf_malloc(need * size))) *cap = need;
  return p;
}

int cfb_row_text_build(struct cfb_row_text *t, const struct cfb_groups *g) {
  size_t ncols = g->nkeys + g->nvals, at = 0;
  int ret = 0;
  t->n = 0;
  t->ncols = ncols;
  if (g->n == 0) return 0;
  /* Sized once: no growth, no copy; pages past the end are never used. */
  t->text = reserve(t->text, &t->text_cap, text_bound(g), 1);
  t->end = reserve(t->end, &t->end_cap, ncols ? g->n * ncols : 1,
                   sizeof *t->end);
  t->count = reserve(t->count, &t->count_cap, g->n, sizeof *t->count);
  if (!t->text || !t->end || !t->count) ret = -ENOMEM;
  for (size_t i = 0; i < g->n && ret == 0; i++) ret = put_row(t, g, i, &at);
  if (ret < 0) {
    cfb_row_text_release(t);
    return ret;
  }
  t->n = g->n;
  return 0;
}
