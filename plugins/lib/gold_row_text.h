/* The rows of a group map, in the map's order, as the warehouse gets
 * them: each group's keys, then its sums as canonical decimals
 * (cf_dec_format), in one contiguous buffer, plus its row count. The gold
 * workers build it after sorting a day and drop the map, so a day waiting
 * for the writer is compact, and the single SQLite writer -- the critical
 * path of a load -- neither formats nor chases scattered keys: it binds
 * from memory it reads front to back. */
#ifndef CFB_GOLD_ROW_TEXT_H
#define CFB_GOLD_ROW_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "gold_groups.h"

struct cfb_row_text {
  size_t n;         /* rows (groups of the map) */
  size_t ncols;     /* nkeys + nvals of the map */
  char *text;       /* every value, each followed by a NUL */
  uint32_t *end;    /* end[i * ncols + c]: offset of that value's NUL */
  int64_t *count;   /* count[i]: source rows folded into row i */
  /* What the arrays can hold: a build into a used row text reuses them,
   * so a reader recycling days writes into pages it already has. */
  size_t text_cap, end_cap, count_cap;
};

void cfb_row_text_init(struct cfb_row_text *t);
/* Builds the rows of g's groups, replacing what t held (its memory is
 * reused when large enough). 0, -ENOMEM, or CF_ETOOBIG past 4 GiB. */
int  cfb_row_text_build(struct cfb_row_text *t, const struct cfb_groups *g);
void cfb_row_text_release(struct cfb_row_text *t);

/* Column c of row i (keys first, then sums); *len gets its length. */
static inline const char *cfb_row_text_get(const struct cfb_row_text *t,
                                           size_t i, size_t c, int *len) {
  size_t k = i * t->ncols + c, start = k ? t->end[k - 1] + 1 : 0;
  *len = (int)(t->end[k] - start);
  return t->text + start;
}

#endif
