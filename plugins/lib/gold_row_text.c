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

/* Appends one value and its NUL; records where it ends. */
static int put_value(struct cf_buf *b, const char *s, size_t n,
                     uint32_t *end) {
  if (b->len + n + 1 > UINT32_MAX) return CF_ETOOBIG;
  if (cf_buf_add(b, s, n) < 0 || cf_buf_addch(b, '\0') < 0) return -ENOMEM;
  *end = (uint32_t)(b->len - 1);
  return 0;
}

int cfb_row_text_build(struct cfb_row_text *t, const struct cfb_groups *g) {
  struct cf_buf b = CF_BUF_INIT(0);
  size_t ncols = g->nkeys + g->nvals, nv = g->n * ncols;
  int ret = 0;
  cfb_row_text_release(t);
  t->ncols = ncols;
  if (g->n == 0) return 0;
  t->end = cf_malloc((nv ? nv : 1) * sizeof *t->end);
  t->count = cf_malloc(g->n * sizeof *t->count);
  if (!t->end || !t->count) ret = -ENOMEM;
  for (size_t i = 0, k = 0; i < g->n && ret == 0; i++) {
    const struct cfb_group *gr = &g->v[i];
    t->count[i] = gr->count;
    for (size_t c = 0; c < g->nkeys && ret == 0; c++, k++)
      ret = put_value(&b, gr->keys[c], cfb_groups_key_len(g, gr, c),
                      &t->end[k]);
    for (size_t v = 0; v < g->nvals && ret == 0; v++, k++) {
      char s[CF_DEC_MAXSTR];
      ret = put_value(&b, s, cf_dec_format(gr->sums[v], s), &t->end[k]);
    }
  }
  if (ret < 0) {
    cf_buf_release(&b);
    cfb_row_text_release(t);
    return ret;
  }
  t->text = cf_buf_detach(&b, NULL);
  if (!t->text) {
    cfb_row_text_release(t);
    return -ENOMEM;
  }
  t->n = g->n;
  return 0;
}
