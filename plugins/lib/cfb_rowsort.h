/* Bytewise sort of text rows (memcmp order, a proper prefix first), fast
 * when rows share long prefixes -- silver rows of one date repeat the
 * account, provider, service and category before they differ. */
#ifndef CFB_ROWSORT_H
#define CFB_ROWSORT_H

#include <stddef.h>
#include <stdint.h>

struct cfb_sortrow {
  uint64_t chunk;                /* scratch: 8 bytes at the current depth */
  const char *p;
  size_t len;
};

/* Sorts v[0..n) by (p, len) bytewise; p/len are not modified. The order
 * of rows with equal bytes is unspecified (they are indistinguishable). */
void cfb_rowsort(struct cfb_sortrow *v, size_t n);

#endif
