/* Builds the static run report (HTML with inline SVG charts, and a
 * Markdown summary) from the gold warehouse and the store's DQ results. */
#ifndef CFB_REPORT_BUILD_H
#define CFB_REPORT_BUILD_H

#include <sqlite3.h>
#include <stddef.h>

struct cfb_report_in {
  const char *dag_id, *run_id, *logical_date;
  sqlite3 *warehouse;       /* open, read */
  const char *store;        /* costflow.db path; may be missing */
  const char (*dates)[11];  /* usage dates of this run (may be empty) */
  size_t ndates;
  int history_days;         /* chart window ending at the last date (30) */
};

/* Fills *html and *md (caller frees with cf_free). Returns 0 or a
 * negative error (CF_ESTORE, -ENOMEM). */
int cfb_report_build(const struct cfb_report_in *in, char **html, char **md);

#endif
