/* Runs the anomaly and zombie rules (anomaly_rule.h) over the gold
 * warehouse for some usage dates and replaces their findings in the
 * `anomalies` and `zombies` tables, in one transaction. */
#ifndef CFB_ANOMALY_DETECT_H
#define CFB_ANOMALY_DETECT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define CFB_ANOMALY_WINDOW 7      /* trailing days */

struct cfb_anomaly_opts {
  int min_days;      /* skip a date with fewer loaded window days (3) */
};

struct cfb_anomaly_counts {
  int64_t dates;        /* usage dates evaluated (incl. later windows) */
  int64_t skipped;      /* dates with too little history */
  int64_t anomalies;    /* findings written */
  int64_t zombies;
};

/* Evaluates `dates` plus every already-loaded date whose trailing window
 * contains one of them (a restated day changes its successors' baseline).
 * Returns 0, or a negative error with *errmsg (caller frees; must point
 * to NULL on entry); on error nothing is changed. */
int cfb_anomaly_detect(sqlite3 *db, const char *const *dates, size_t n,
                       const struct cfb_anomaly_opts *opts,
                       struct cfb_anomaly_counts *counts, char **errmsg);

#endif
