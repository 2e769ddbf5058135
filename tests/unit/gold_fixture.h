/* Test fixture for the gold-side tests: writes silver partitions by hand
 * in the layout of docs/lake-format.md, in a temp COSTFLOW_HOME; opens
 * gold warehouses and dumps their tables as text to compare. */
#ifndef CF_GOLD_FIXTURE_H
#define CF_GOLD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "gold_warehouse.h"

#define FX_HEADER                                                         \
  "BillingAccountId,SubAccountId,ProviderName,ServiceName,"               \
  "ServiceCategory,RegionId,ResourceId,ChargeCategory,ChargePeriodStart," \
  "ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,BillingCurrency,"    \
  "ConsumedQuantity,ConsumedUnit,SkuId,Tags,x_IsCredit,x_LineItemId,"     \
  "x_SourceFileHash,x_SourceLine,x_IngestedAt\n"

/* A temp home with lake/silver/cost; returns a static path. */
static const char *fx_home(void) {
  static char home[64];
  strcpy(home, "/tmp/cf-gold-XXXXXX");
  if (!mkdtemp(home)) abort();
  char *p = cf_asprintf("%s/lake/silver/cost", home);
  cf_mkdir_p(p, 0755);
  cf_free(p);
  return home;
}

static char *fx_silver(const char *home) {
  return cf_asprintf("%s/lake/silver/cost", home);
}

/* One silver row: account, provider, service, region, resource, charge
 * category, cost, quantity (credit rows: category "Credit"). */
static void fx_row(FILE *f, const char *date, const char *acct,
                   const char *prov, const char *svc, const char *region,
                   const char *res, const char *cat, const char *cost,
                   const char *qty) {
  static int line;
  line++;
  fprintf(f, "B1,%s,%s,%s,Compute,%s,%s,%s,%sT00:00:00Z,%sT01:00:00Z,"
          "%s,%s,%s,USD,%s,Hrs,SKU,{},%s,id%d,abc,%d,"
          "2025-01-01T00:00:00Z\n", acct, prov, svc, region, res, cat, date,
          date, cost, cost, cost, qty,
          strcmp(cat, "Credit") ? "false" : "true", line, line);
}

/* Publishes version v of DATE's partition with `body` rows (already
 * formatted, after the header): new folder, then swap `current`. */
static void fx_publish(const char *home, const char *date, int v,
                       const char *body) {
  char *dir = cf_asprintf("%s/lake/silver/cost/usage_date=%s/v%06d", home,
                          date, v);
  char *data = cf_asprintf("%s/data.csv", dir);
  char *tmp = cf_asprintf("%s/lake/silver/cost/usage_date=%s/.cur.%d",
                          home, date, v);
  char *cur = cf_asprintf("%s/lake/silver/cost/usage_date=%s/current", home,
                          date);
  char *target = cf_asprintf("v%06d", v);
  char *all = cf_asprintf("%s%s", FX_HEADER, body);
  /* The manifest silver writes: gold checks data.csv against it. */
  char sum[65], *mpath = cf_asprintf("%s/_manifest.json", dir);
  long rows = 0;
  for (const char *c = body; *c; c++) rows += *c == '\n';
  cf_sha256_mem(all, strlen(all), sum);
  char *manifest = cf_asprintf("{\"checksum\":\"%s\",\"row_count\":%ld}\n",
                               sum, rows);
  cf_mkdir_p(dir, 0755);
  if (cf_write_file_atomic(data, all, strlen(all)) < 0 ||
      cf_write_file_atomic(mpath, manifest, strlen(manifest)) < 0)
    abort();
  cf_free(manifest);
  cf_free(mpath);
  unlink(tmp);
  if (symlink(target, tmp) < 0 || rename(tmp, cur) < 0) abort();
  cf_free(all);
  cf_free(target);
  cf_free(cur);
  cf_free(tmp);
  cf_free(data);
  cf_free(dir);
}

/* Silver rows of one day, built in memory. */
struct fx_day { char *p; size_t n; FILE *f; };
static FILE *fx_begin(struct fx_day *d) {
  d->p = NULL;
  d->f = open_memstream(&d->p, &d->n);
  return d->f;
}
static void fx_end(struct fx_day *d, const char *home, const char *date,
                   int v) {
  fclose(d->f);
  fx_publish(home, date, v, d->p);
  free(d->p);
}

static void fx_rm(const char *home) {
  char *cmd = cf_asprintf("rm -rf '%s'", home);
  if (system(cmd) != 0) {}
  cf_free(cmd);
}

/* Text of a one-value query (static buffer). */
static inline const char *q1(sqlite3 *db, const char *sql) {
  static char out[256];
  sqlite3_stmt *st = NULL;
  out[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, sizeof out, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

/* Opens (creating or upgrading) the gold warehouse at path; the test
 * fails, printing why, if it cannot. */
static inline sqlite3 *fx_wh_open_path(const char *path) {
  sqlite3 *db = NULL;
  char *err = NULL;
  int ret = cfb_gold_open(path, &db, &err);
  if (ret < 0) fprintf(stderr, "  open: %s\n", err ? err : "?");
  cf_free(err);
  CF_ASSERT_EQ(0, ret);
  return db;
}

/* The same, for HOME/NAME. */
static inline sqlite3 *fx_wh_open(const char *home, const char *name) {
  char *p = cf_asprintf("%s/%s", home, name);
  sqlite3 *db = fx_wh_open_path(p);
  cf_free(p);
  return db;
}

/* Every row of each query as text, one line per row, "value|" per column
 * ("NULL" for NULL), prefixed with the value's storage class ("3:x|") if
 * `types`. Caller frees. */
static inline char *fx_dump_rows(sqlite3 *db, const char *const *sql,
                                 size_t n, int types) {
  struct cf_buf b = CF_BUF_INIT(0);
  for (size_t q = 0; q < n; q++) {
    sqlite3_stmt *st = NULL;
    CF_ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(db, sql[q], -1, &st, NULL));
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); c++) {
        int type = sqlite3_column_type(st, c);
        const char *v = (const char *)sqlite3_column_text(st, c);
        if (types) cf_buf_addf(&b, "%d:", type);
        cf_buf_addf(&b, "%s|", v ? v : "NULL");
      }
      cf_buf_addch(&b, '\n');
    }
    sqlite3_finalize(st);
  }
  return cf_buf_detach(&b, NULL);
}

/* Every fact row, in key order (the fact tables are WITHOUT ROWID), with
 * each value's storage class. Caller frees. */
static inline char *fx_dump_facts(sqlite3 *db) {
  static const char *const sql[] = {
    "SELECT * FROM fact_daily_cost ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
    "SELECT * FROM fact_resource_daily ORDER BY 1, 2, 3, 4, 5"};
  return fx_dump_rows(db, sql, sizeof sql / sizeof *sql, 1);
}

/* Every row of the fact tables and the gold checksums; the facts in key
 * order, the rest in rowid order, i.e. insertion order; load times left
 * out. What two loads of the same silver must agree on. Caller frees. */
static inline char *fx_dump_wh(sqlite3 *db) {
  static const char *const sql[] = {
    "SELECT * FROM fact_daily_cost ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
    "SELECT * FROM fact_resource_daily ORDER BY 1, 2, 3, 4, 5",
    "SELECT rowid, * FROM dim_account ORDER BY rowid",
    "SELECT rowid, * FROM dim_service ORDER BY rowid",
    "SELECT rowid, * FROM agg_daily_provider ORDER BY rowid",
    "SELECT month, provider, currency, billed_cost, days"
    " FROM agg_monthly_provider ORDER BY 1, 2, 3",
    "SELECT usage_date, fact_rows, checksum, silver_rows, silver_checksum"
    " FROM gold_partitions ORDER BY usage_date"};
  return fx_dump_rows(db, sql, sizeof sql / sizeof *sql, 0);
}

#endif
