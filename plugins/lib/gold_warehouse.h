/* The gold warehouse (SQLite): schema, loading silver partitions into the
 * star schema and aggregates, and the canonical checksum of a partition.
 * Tables and columns: docs/warehouse.md. Money columns are TEXT holding
 * canonical exact decimals (cf_dec_format); every sum is done in C. */
#ifndef CFB_GOLD_WAREHOUSE_H
#define CFB_GOLD_WAREHOUSE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "gold_groups.h"
#include "gold_row_text.h"

/* Columns of fact_daily_cost that form its grain, in key order. */
enum {
  CFB_FK_PROVIDER, CFB_FK_BILLING_ACCOUNT, CFB_FK_SUB_ACCOUNT,
  CFB_FK_SERVICE, CFB_FK_CATEGORY, CFB_FK_REGION, CFB_FK_CURRENCY,
  CFB_FK_N
};
/* Exact sums of a fact row. */
enum {
  CFB_FV_BILLED, CFB_FV_EFFECTIVE, CFB_FV_LIST, CFB_FV_CREDIT, CFB_FV_USAGE,
  CFB_FV_N
};
/* fact_resource_daily grain (Usage rows with a ResourceId only). */
enum {
  CFB_RK_PROVIDER, CFB_RK_ACCOUNT, CFB_RK_RESOURCE, CFB_RK_SERVICE,
  CFB_RK_N
};
enum { CFB_RV_BILLED, CFB_RV_USAGE, CFB_RV_N };

/* One silver partition folded to the gold grain. */
struct cfb_silver_day {
  char date[11];            /* usage date YYYY-MM-DD */
  int64_t version;          /* silver version (the vNNNNNN of current) */
  char checksum[65];        /* sha256 of the data.csv that was read */
  int64_t rows;             /* silver rows read */
  /* Rows sorted by their keys, bytewise: */
  struct cfb_row_text facts;      /* CFB_FK_* then CFB_FV_* */
  struct cfb_row_text resources;  /* CFB_RK_* then CFB_RV_* */
};

/* What a reader of many days keeps from one to the next: the group maps,
 * emptied but with their memory, and row texts to build the next day in
 * (those of a day the writer is done with), so that a day does not fault
 * in fresh pages. */
struct cfb_silver_scratch {
  struct cfb_groups facts, resources;
  struct cfb_row_text facts_text, resources_text;   /* empty, or spare */
};
void cfb_silver_scratch_init(struct cfb_silver_scratch *s);
void cfb_silver_scratch_release(struct cfb_silver_scratch *s);
/* Hands the row texts of a day nobody needs any more to the scratch (the
 * day is left empty, still to be released). */
void cfb_silver_scratch_give(struct cfb_silver_scratch *s,
                             struct cfb_silver_day *day);

/* Reads SILVER_ROOT/usage_date=DATE/current/data.csv (resolving `current`
 * once, so a concurrent republish cannot mix versions), folds it and lays
 * out the sorted rows for the writer. Thread-safe: the gold_prefetch
 * workers read several days at once, each with its own scratch (NULL:
 * the read allocates and frees its own).
 * Returns 0, CF_ENOTFOUND if the partition does not exist, CF_EDATA on a
 * bad row (*errmsg says file, line, why; caller frees). */
int  cfb_silver_day_read(const char *silver_root, const char *date,
                         struct cfb_silver_scratch *scratch,
                         struct cfb_silver_day *day, char **errmsg);
void cfb_silver_day_release(struct cfb_silver_day *day);

/* Opens (creating if needed) the warehouse: WAL, busy timeout, schema.
 * Returns 0 or CF_ESTORE with *errmsg (caller frees). */
int  cfb_gold_open(const char *path, sqlite3 **out, char **errmsg);
/* Opens an existing warehouse read-only; CF_ENOTFOUND if missing. */
int  cfb_gold_open_ro(const char *path, sqlite3 **out, char **errmsg);

/* Who is loading: recorded in gold_loads (any field may be NULL). */
struct cfb_gold_run {
  const char *dag_id, *run_id, *logical_date;
};

/* Result for one usage date of a load. */
struct cfb_gold_part {
  char date[11];
  int64_t version;          /* gold version in gold_partitions */
  int64_t fact_rows;        /* rows in fact_daily_cost for the date */
  int64_t silver_rows;
  char checksum[65];        /* cfb_gold_checksum of the date */
  char silver_checksum[65];
};

/* Replaces the gold partitions of `dates` with what silver holds now,
 * with dimensions and the aggregates of the affected days and months, in
 * ONE write transaction: on any error it rolls back and nothing changes.
 * `parts` (n entries) receives the outcome per date. */
int cfb_gold_load(sqlite3 *db, const char *silver_root,
                  const char *const *dates, size_t n,
                  const struct cfb_gold_run *run,
                  struct cfb_gold_part *parts, char **errmsg);

/* Recomputes agg_daily_provider of DATE and agg_monthly_provider and
 * agg_top_services of its month from fact_daily_cost (caller's txn). */
int cfb_gold_refresh_day(sqlite3 *db, const char *date);
int cfb_gold_refresh_month(sqlite3 *db, const char *month /* YYYY-MM */);

/* sha256 over the canonical dump of DATE's fact_daily_cost rows: a header
 * line, then one line per row ordered by the grain, columns tab-separated
 * (partition_version excluded). Same data, same checksum. */
int cfb_gold_checksum(sqlite3 *db, const char *date, char hex[65],
                      int64_t *rows);

/* Sums a query: the first nkeys result columns are group keys, the next
 * nvals are decimal texts folded with cf_dec (NULL/'' counts as 0).
 * Returns 0, CF_EDATA on a non-decimal value, CF_ESTORE. */
int cfb_gold_sum_query(sqlite3_stmt *st, struct cfb_groups *out);

#endif
