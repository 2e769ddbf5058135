/* Anomaly and zombie detection over the gold warehouse. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "anomaly_detect.h"
#include "anomaly_rule.h"
#include "gold_groups.h"

#define W CFB_ANOMALY_WINDOW

/* Series key: provider, account, service, currency; sums[0..W-1] are the
 * window days D-W..D-1, sums[W] is D itself. */
static const char series_sql[] =
  "SELECT provider, CASE WHEN sub_account_id<>'' THEN sub_account_id"
  " ELSE billing_account_id END, service_name, currency, usage_date,"
  " billed_cost FROM fact_daily_cost WHERE usage_date BETWEEN ?1 AND ?2";

static int load_series(sqlite3 *db, cf_date day, struct cfb_groups *g) {
  sqlite3_stmt *st = NULL;
  char from[11], to[11];
  int rc, ret = CF_ESTORE;
  cf_date_format(day - W, from);
  cf_date_format(day, to);
  if (sqlite3_prepare_v2(db, series_sql, -1, &st, NULL)) goto done;
  sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *k[4];
    cf_date d;
    cf_dec v;
    for (int i = 0; i < 4; i++) {
      k[i] = (const char *)sqlite3_column_text(st, i);
      if (!k[i]) k[i] = "";
    }
    const char *ds = (const char *)sqlite3_column_text(st, 4);
    const char *cs = (const char *)sqlite3_column_text(st, 5);
    if (!ds || cf_date_parse(ds, &d) < 0 || !cs ||
        cf_dec_parse(cs, strlen(cs), &v) < 0) {
      ret = CF_EDATA;
      goto done;
    }
    struct cfb_group *gr = cfb_groups_get(g, k, NULL);
    if (!gr) {
      ret = -ENOMEM;
      goto done;
    }
    int off = (int)(d - (day - W));
    gr->sums[off] = cf_dec_add(gr->sums[off], v);
  }
  if (rc == SQLITE_DONE) ret = 0;
done:
  sqlite3_finalize(st);
  return ret;
}

/* Which of the W window days before `day` are loaded in gold. */
static int loaded_days(sqlite3 *db, cf_date day, int loaded[W], int *n) {
  sqlite3_stmt *st = NULL;
  char from[11], to[11];
  int rc;
  cf_date_format(day - W, from);
  cf_date_format(day - 1, to);
  memset(loaded, 0, W * sizeof *loaded);
  *n = 0;
  if (sqlite3_prepare_v2(db, "SELECT usage_date FROM gold_partitions"
                         " WHERE usage_date BETWEEN ?1 AND ?2", -1, &st,
                         NULL)) {
    sqlite3_finalize(st);
    return CF_ESTORE;
  }
  sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    cf_date d;
    const char *s = (const char *)sqlite3_column_text(st, 0);
    if (s && cf_date_parse(s, &d) == 0 && !loaded[d - (day - W)]) {
      loaded[d - (day - W)] = 1;
      (*n)++;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : CF_ESTORE;
}

static void bind_dec(sqlite3_stmt *st, int i, cf_dec d) {
  char s[CF_DEC_MAXSTR];
  size_t n = cf_dec_format(d, s);
  sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

static int exec_date(sqlite3 *db, const char *sql, const char *date) {
  sqlite3_stmt *st = NULL;
  int ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, date, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE) ret = 0;
  }
  sqlite3_finalize(st);
  return ret;
}

static int detect_day(sqlite3 *db, cf_date day, int min_days,
                      struct cfb_anomaly_counts *c) {
  struct cfb_groups g;
  sqlite3_stmt *ins = NULL;
  char date[11];
  int loaded[W], nloaded, ret;
  cfb_groups_init(&g, 4, W + 1);
  cf_date_format(day, date);
  if ((ret = exec_date(db, "DELETE FROM anomalies WHERE usage_date=?1",
                       date)) < 0 ||
      (ret = loaded_days(db, day, loaded, &nloaded)) < 0)
    goto done;
  c->dates++;
  if (nloaded < min_days || nloaded == 0) {
    c->skipped++;
    goto done;
  }
  if ((ret = load_series(db, day, &g)) < 0) goto done;
  cfb_groups_sort(&g);
  ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, "INSERT INTO anomalies VALUES(?1,?2,?3,?4,"
                         "?5,?6,?7,?8,?9,?10,?11)", -1, &ins, NULL))
    goto done;
  for (size_t i = 0; i < g.n; i++) {
    cf_dec win[W];
    size_t n = 0;
    struct cfb_anomaly_stat st;
    for (int k = 0; k < W; k++)
      if (loaded[k]) win[n++] = g.v[i].sums[k];
    if (cfb_anomaly_eval(g.v[i].sums[W], win, n, &st) < 0 || !st.fires)
      continue;
    sqlite3_bind_text(ins, 1, date, -1, SQLITE_TRANSIENT);
    for (int k = 0; k < 4; k++)
      sqlite3_bind_text(ins, 2 + k, g.v[i].keys[k], -1, SQLITE_TRANSIENT);
    bind_dec(ins, 6, g.v[i].sums[W]);
    bind_dec(ins, 7, st.mean);
    bind_dec(ins, 8, st.stddev);
    if (st.has_pct) {
      char pct[32];
      snprintf(pct, sizeof pct, "%.2f", st.pct_above);
      sqlite3_bind_text(ins, 9, pct, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int(ins, 10, (int)n);
    sqlite3_bind_int(ins, 11, n < W);
    if (sqlite3_step(ins) != SQLITE_DONE) goto done;
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    c->anomalies++;
  }
  ret = 0;
done:
  sqlite3_finalize(ins);
  cfb_groups_release(&g);
  return ret;
}

static int zombies_day(sqlite3 *db, const char *date,
                       struct cfb_anomaly_counts *c) {
  sqlite3_stmt *sel = NULL, *ins = NULL;
  int rc, ret = CF_ESTORE;
  if (exec_date(db, "DELETE FROM zombies WHERE usage_date=?1", date) < 0 ||
      sqlite3_prepare_v2(db, "SELECT provider, account, resource_id,"
                         " service, billed_cost, usage_quantity, usage_rows"
                         " FROM fact_resource_daily WHERE usage_date=?1"
                         " ORDER BY 1,2,3,4", -1, &sel, NULL) ||
      sqlite3_prepare_v2(db, "INSERT INTO zombies VALUES(?1,?2,?3,?4,?5,"
                         "?6,?7,?8)", -1, &ins, NULL))
    goto done;
  sqlite3_bind_text(sel, 1, date, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
    const char *cs = (const char *)sqlite3_column_text(sel, 4);
    const char *us = (const char *)sqlite3_column_text(sel, 5);
    cf_dec cost, usage;
    if (!cs || !us || cf_dec_parse(cs, strlen(cs), &cost) < 0 ||
        cf_dec_parse(us, strlen(us), &usage) < 0) {
      ret = CF_EDATA;
      goto done;
    }
    if (!cfb_zombie_is(cost, usage)) continue;
    sqlite3_bind_text(ins, 1, date, -1, SQLITE_TRANSIENT);
    for (int k = 0; k < 6; k++)
      sqlite3_bind_value(ins, 2 + k, sqlite3_column_value(sel, k));
    sqlite3_bind_int64(ins, 8, sqlite3_column_int64(sel, 6));
    if (sqlite3_step(ins) != SQLITE_DONE) goto done;
    sqlite3_reset(ins);
    c->zombies++;
  }
  if (rc == SQLITE_DONE) ret = 0;
done:
  sqlite3_finalize(sel);
  sqlite3_finalize(ins);
  return ret;
}

static int cmp_date(const void *a, const void *b) {
  cf_date x = *(const cf_date *)a, y = *(const cf_date *)b;
  return x < y ? -1 : x > y;
}

/* dates ∪ loaded dates within W days after one of them, sorted, unique. */
static int affected_dates(sqlite3 *db, const char *const *dates, size_t n,
                          cf_date **out, size_t *nout) {
  sqlite3_stmt *st = NULL;
  cf_date *v = NULL;
  size_t nv = 0, alloc = 0;
  int ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, "SELECT usage_date FROM gold_partitions WHERE"
                         " usage_date > ?1 AND usage_date <= ?2", -1, &st,
                         NULL))
    goto done;
  for (size_t i = 0; i < n; i++) {
    cf_date d;
    char to[11];
    if (cf_date_parse(dates[i], &d) < 0) {
      ret = CF_EINVALID;
      goto done;
    }
    cf_date_format(d + W, to);
    sqlite3_bind_text(st, 1, dates[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    for (int first = 1;; first = 0) {
      cf_date e = d;
      if (!first) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (rc != SQLITE_ROW || !s || cf_date_parse(s, &e) < 0) goto done;
      }
      if (nv == alloc && cf_grow(&v, &alloc, nv + 1, sizeof *v, 32) < 0) {
        ret = -ENOMEM;
        goto done;
      }
      v[nv++] = e;
    }
    sqlite3_reset(st);
  }
  qsort(v, nv, sizeof *v, cmp_date);
  size_t u = 0;
  for (size_t i = 0; i < nv; i++)
    if (!u || v[u - 1] != v[i]) v[u++] = v[i];
  *out = v;
  *nout = u;
  v = NULL;
  ret = 0;
done:
  sqlite3_finalize(st);
  cf_free(v);
  return ret;
}

int cfb_anomaly_detect(sqlite3 *db, const char *const *dates, size_t n,
                       const struct cfb_anomaly_opts *opts,
                       struct cfb_anomaly_counts *counts, char **errmsg) {
  cf_date *days = NULL;
  size_t ndays = 0;
  int ret, in_txn = 0;
  int min_days = opts && opts->min_days > 0 ? opts->min_days : 3;
  memset(counts, 0, sizeof *counts);
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) {
    ret = CF_ESTORE;
    goto done;
  }
  in_txn = 1;
  if ((ret = affected_dates(db, dates, n, &days, &ndays)) < 0) goto done;
  for (size_t i = 0; i < ndays; i++) {
    char date[11];
    cf_date_format(days[i], date);
    if ((ret = detect_day(db, days[i], min_days, counts)) < 0 ||
        (ret = zombies_day(db, date, counts)) < 0)
      goto done;
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
    ret = CF_ESTORE;
    goto done;
  }
  in_txn = 0;
done:
  if (ret < 0 && !*errmsg)
    *errmsg = cf_asprintf("anomaly detection: %s (%s)", cf_strerror(ret),
                          sqlite3_errmsg(db));
  if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  cf_free(days);
  return ret;
}
