/* A big plain AWS CUR CSV cut into byte ranges at line breaks, so its
 * records can be read on several threads (silver's read phase, extract).
 *
 * A range must start at a record start, which only a full parse from the
 * top can know for sure (a quoted field may hold a line break). The cuts
 * are therefore a guess at a line break, checked afterwards: each range's
 * reader reports where the first record it did not read starts, and that
 * must be where the next range began (cfb_aws_split_met). If it is not,
 * the caller throws the ranges' output away and reads the file whole, so
 * the guess can cost time but never change a byte of the output. */
#ifndef CFB_AWS_SPLIT_H
#define CFB_AWS_SPLIT_H

#include <stdint.h>
#include "cfb.h"

#define CFB_RANGE_MIN (16LL << 20)   /* default smallest range, bytes */
/* What a reader logs (after the path) when it reads a file again whole. */
#define CFB_RANGES_MISSED \
  "a range did not start at a record (line break inside quotes); " \
  "read it whole"

struct cfb_aws_range {
  int64_t start, line, end;      /* records starting in [start, end); the
                                    first on physical line `line` */
  int64_t next;                  /* set by cfb_aws_split_read */
};

struct cfb_aws_split {
  struct cfb_aws_file *f;        /* the header, shared by the ranges */
  struct cfb_aws_range *r;
  size_t n;                      /* 0: read the file whole */
};

/* Cuts src into up to `threads` ranges of at least range_min bytes (<= 0:
 * CFB_RANGE_MIN) and numbers their first lines (line breaks counted on
 * threads). s->n == 0 when the file is better read whole: small, not a
 * plain .csv, one thread, or any trouble before its first data row (so
 * its rejects keep their place in the order). Returns 0 or a negative
 * error, with *errmsg when it names a file. */
int cfb_aws_split_plan(const struct cfb_src *src, int threads,
                       int64_t range_min, struct cfb_aws_split *s,
                       char **errmsg);
/* Reads range k (thread-safe across ranges), as cfb_aws_read_range. */
int cfb_aws_split_read(struct cfb_aws_split *s, size_t k, cfb_emit_fn emit,
                       cfb_reject_fn reject, void *ud);
/* Whether every range (all read) ended where the next one began. */
int cfb_aws_split_met(const struct cfb_aws_split *s);
void cfb_aws_split_release(struct cfb_aws_split *s);

#endif
