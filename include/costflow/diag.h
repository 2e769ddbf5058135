/* Diagnostics: a list of FILE:LINE:COL messages collected while loading,
 * so a validator can report every problem in one pass. */
#ifndef COSTFLOW_DIAG_H
#define COSTFLOW_DIAG_H

#include <stdio.h>

struct cf_diag {
  char *file;     /* owned */
  int line, col;  /* 1-based; 0 when unknown */
  char *msg;      /* owned, no trailing newline */
};

struct cf_diags {
  struct cf_diag *v;
  size_t n, alloc;
};

#define CF_DIAGS_INIT { NULL, 0, 0 }
void cf_diags_add(struct cf_diags *d, const char *file, int line, int col,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Prints each as "FILE:LINE:COL: error: MSG\n", sorted by line/col. */
void cf_diags_print(const struct cf_diags *d, FILE *out);
void cf_diags_release(struct cf_diags *d);

#endif
