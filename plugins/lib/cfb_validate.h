/* The validate stage's parts (cfb_validate.c: rules from params, inputs,
 * merge and verdicts; cfb_validate_scan.c: one file's pass over its
 * rows). Files are scanned on threads, each into its own tallies, and
 * merged in file order, so counts and samples are those of one pass over
 * the files in that order. */
#ifndef CFB_VALIDATE_H
#define CFB_VALIDATE_H

#include <stdint.h>
#include "cfb.h"
#include "costflow/common.h"

#define CFB_DQ_MAX_SAMPLES 5

/* Rule families checked row by row (the others are dataset-level). */
enum cfb_dq_kind {
  CFB_DQ_OTHER, CFB_DQ_REQUIRED, CFB_DQ_NOT_NULL, CFB_DQ_NUMERIC,
  CFB_DQ_DATES, CFB_DQ_ACCEPTED, CFB_DQ_NON_NEGATIVE
};

/* What a rule has seen: counts and its first failures ("file:line val"). */
struct cfb_dq_tally {
  int64_t checked, failed;
  char *samples[CFB_DQ_MAX_SAMPLES];
  int nsamples;
};

/* One rule, as configured; read-only while files are scanned. */
struct cfb_dq_rule {
  char *name;                    /* e.g. "not_null:BilledCost" */
  const char *base;              /* rule family, for severity lookup */
  enum cfb_dq_kind kind;
  const char *colname;           /* column, or NULL */
  const char **accepted;         /* accepted_values */
  size_t naccepted;
  struct cfb_dq_tally all;       /* the merged result */
};

/* The rules every scan applies. */
struct cfb_dq_rules {
  struct cfb_dq_rule *r;
  size_t n, cap;
  const char *const *key_cols;   /* unique_key columns, or none */
  size_t nkey;
  int want_days;                 /* date_continuity */
};

/* A key fingerprint and the line it was seen on. */
struct cfb_dq_fp {
  uint64_t hash;
  int64_t line;
};

/* One file's pass: written by one thread only. */
struct cfb_dq_scan {
  const struct cfb_dq_rules *rules;
  const char *path;
  int continues;                 /* 1: more of the file before (a later
                                    staging.N.csv): its header is not
                                    counted again by required_columns */
  struct cfb_dq_tally *t;        /* per rule */
  int64_t rows;
  struct cfb_dayset days;        /* ChargePeriodStart days seen */
  struct cfb_dq_fp *fps;         /* unique_key, in row order */
  size_t nfps, fps_cap;
  int ret;
  char *err;                     /* why the file could not be read */
};

/* Appends "file:line val" to t's samples while it has room. */
void cfb_dq_sample(struct cfb_dq_tally *t, const char *file, int64_t line,
                   const char *val);
void cfb_dq_tally_release(struct cfb_dq_tally *t);
/* Reads s->path and applies s->rules to every row (s->ret < 0 and s->err
 * set when the file cannot be read). */
void cfb_dq_scan_file(struct cfb_dq_scan *s);
void cfb_dq_scan_release(struct cfb_dq_scan *s);

#endif
