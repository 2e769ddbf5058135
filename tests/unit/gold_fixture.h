/* Test fixture for the gold-side tests: writes silver partitions by hand
 * in the layout of docs/lake-format.md, in a temp COSTFLOW_HOME. */
#ifndef CF_GOLD_FIXTURE_H
#define CF_GOLD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "costflow/common.h"

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

#endif
