/* Builds the run summary a notification carries: status, spend by
 * provider for the latest usage date, anomaly and zombie counts, failed
 * tasks and where the report is. Every source is optional: a missing
 * warehouse or store degrades to "unknown", never to an error. */
#ifndef CFB_NOTIFY_MESSAGE_H
#define CFB_NOTIFY_MESSAGE_H

#include <stddef.h>

struct cfb_summary_in {
  const char *dag_id, *run_id, *logical_date;
  const char *warehouse;    /* path of warehouse.db (may not exist) */
  const char *store;        /* path of costflow.db (may not exist) */
  const char *report;       /* report path or NULL */
  const char (*dates)[11];  /* usage dates refreshed by the run */
  size_t ndates;
  int failure;              /* 1: failure notice (list failed tasks) */
};

struct cfb_summary {
  char *subject;            /* one line */
  char *text;               /* plain text, '\n' lines */
  int nfailed;              /* failed tasks found in the store, or -1 */
};

/* Fills `out` (caller releases). Returns 0 or -ENOMEM. */
int  cfb_summary_build(const struct cfb_summary_in *in,
                       struct cfb_summary *out);
void cfb_summary_release(struct cfb_summary *s);

#endif
