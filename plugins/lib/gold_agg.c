/* Gold aggregates, recomputed from fact_daily_cost with exact sums in C:
 * daily by provider, monthly by provider, top services per month. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_warehouse.h"

int cfb_gold_sum_query(sqlite3_stmt *st, struct cfb_groups *out) {
  const char *keys[CFB_GROUPS_MAXKEYS];
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (size_t k = 0; k < out->nkeys; k++) {
      keys[k] = (const char *)sqlite3_column_text(st, (int)k);
      if (!keys[k]) keys[k] = "";
    }
    struct cfb_group *g = cfb_groups_get(out, keys, NULL);
    if (!g) return -ENOMEM;
    for (size_t v = 0; v < out->nvals; v++) {
      int col = (int)(out->nkeys + v);
      const char *s = (const char *)sqlite3_column_text(st, col);
      size_t n = (size_t)sqlite3_column_bytes(st, col);
      cf_dec d = CF_DEC_ZERO;
      if (s && n && cf_dec_parse(s, n, &d) < 0) return CF_EDATA;
      g->sums[v] = cf_dec_add(g->sums[v], d);
    }
    g->count++;
  }
  return rc == SQLITE_DONE ? 0 : CF_ESTORE;
}

/* Prepares sql, binds ?1 = a, runs it through cfb_gold_sum_query. */
static int sum_sql(sqlite3 *db, const char *sql, const char *a,
                   struct cfb_groups *out) {
  sqlite3_stmt *st = NULL;
  int ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    ret = cfb_gold_sum_query(st, out);
  }
  sqlite3_finalize(st);
  return ret;
}

static int exec_bind(sqlite3 *db, const char *sql, const char *a) {
  sqlite3_stmt *st = NULL;
  int ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE) ret = 0;
  }
  sqlite3_finalize(st);
  return ret;
}

static void bind_dec(sqlite3_stmt *st, int i, cf_dec d) {
  char s[CF_DEC_MAXSTR];
  size_t n = cf_dec_format(d, s);
  sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

/* Whole units of an integer-valued decimal (row counts summed as text). */
static int64_t dec_to_int(cf_dec d) {
  static const __int128 one = (__int128)1000000000 * 1000000000;
  return (int64_t)(d.v / one);
}

int cfb_gold_refresh_day(sqlite3 *db, const char *date) {
  struct cfb_groups g;
  sqlite3_stmt *ins = NULL;
  int ret;
  cfb_groups_init(&g, 2, 4);
  ret = exec_bind(db, "DELETE FROM agg_daily_provider WHERE usage_date=?1",
                  date);
  if (ret < 0) goto done;
  ret = sum_sql(db, "SELECT provider, currency, billed_cost, effective_cost,"
                " credit_cost, row_count FROM fact_daily_cost"
                " WHERE usage_date=?1", date, &g);
  if (ret < 0) goto done;
  ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, "INSERT INTO agg_daily_provider"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &ins, NULL))
    goto done;
  for (size_t i = 0; i < g.n; i++) {
    sqlite3_bind_text(ins, 1, date, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, g.v[i].keys[0], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 3, g.v[i].keys[1], -1, SQLITE_TRANSIENT);
    for (int v = 0; v < 3; v++) bind_dec(ins, 4 + v, g.v[i].sums[v]);
    sqlite3_bind_int64(ins, 7, dec_to_int(g.v[i].sums[3]));
    if (sqlite3_step(ins) != SQLITE_DONE) goto done;
    sqlite3_reset(ins);
  }
  ret = 0;
done:
  sqlite3_finalize(ins);
  cfb_groups_release(&g);
  return ret;
}

static int refresh_monthly(sqlite3 *db, const char *month) {
  struct cfb_groups g;
  sqlite3_stmt *ins = NULL;
  int ret;
  cfb_groups_init(&g, 2, 3);
  ret = exec_bind(db, "DELETE FROM agg_monthly_provider WHERE month=?1",
                  month);
  if (ret < 0) goto done;
  ret = sum_sql(db, "SELECT provider, currency, billed_cost, effective_cost,"
                " credit_cost FROM fact_daily_cost WHERE usage_date"
                " BETWEEN ?1||'-01' AND ?1||'-31'", month, &g);
  if (ret < 0) goto done;
  ret = CF_ESTORE;
  /* days: distinct usage dates of that provider and currency. */
  if (sqlite3_prepare_v2(db, "INSERT INTO agg_monthly_provider"
                         " SELECT ?1,?2,?3,?4,?5,?6,count(DISTINCT"
                         " usage_date) FROM fact_daily_cost WHERE usage_date"
                         " BETWEEN ?1||'-01' AND ?1||'-31' AND provider=?2"
                         " AND currency=?3", -1, &ins, NULL))
    goto done;
  for (size_t i = 0; i < g.n; i++) {
    sqlite3_bind_text(ins, 1, month, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, g.v[i].keys[0], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 3, g.v[i].keys[1], -1, SQLITE_TRANSIENT);
    for (int v = 0; v < 3; v++) bind_dec(ins, 4 + v, g.v[i].sums[v]);
    if (sqlite3_step(ins) != SQLITE_DONE) goto done;
    sqlite3_reset(ins);
  }
  ret = 0;
done:
  sqlite3_finalize(ins);
  cfb_groups_release(&g);
  return ret;
}

/* By currency (amounts in two currencies are not compared), then highest
 * billed cost first; ties by keys so the rank is deterministic. */
static int cmp_top(const void *a, const void *b) {
  const struct cfb_group *x = a, *y = b;
  int c = strcmp(x->keys[2], y->keys[2]);
  if (!c) c = cf_dec_cmp(y->sums[0], x->sums[0]);
  for (int k = 0; !c && k < 2; k++) c = strcmp(x->keys[k], y->keys[k]);
  return c;
}

static int refresh_top(sqlite3 *db, const char *month) {
  struct cfb_groups g;
  sqlite3_stmt *ins = NULL;
  int ret;
  cfb_groups_init(&g, 3, 2);
  ret = exec_bind(db, "DELETE FROM agg_top_services WHERE month=?1", month);
  if (ret < 0) goto done;
  ret = sum_sql(db, "SELECT provider, service_name, currency, billed_cost,"
                " effective_cost FROM fact_daily_cost WHERE usage_date"
                " BETWEEN ?1||'-01' AND ?1||'-31'", month, &g);
  if (ret < 0) goto done;
  qsort(g.v, g.n, sizeof *g.v, cmp_top);   /* lookups not needed after */
  ret = CF_ESTORE;
  if (sqlite3_prepare_v2(db, "INSERT INTO agg_top_services"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &ins, NULL))
    goto done;
  for (size_t i = 0, rank = 0; i < g.n; i++) {
    /* ranks start again at 1 for each currency */
    rank = i && !strcmp(g.v[i].keys[2], g.v[i - 1].keys[2]) ? rank + 1 : 1;
    sqlite3_bind_text(ins, 1, month, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 2, (int64_t)rank);
    for (int k = 0; k < 3; k++)
      sqlite3_bind_text(ins, 3 + k, g.v[i].keys[k], -1, SQLITE_TRANSIENT);
    bind_dec(ins, 6, g.v[i].sums[0]);
    bind_dec(ins, 7, g.v[i].sums[1]);
    if (sqlite3_step(ins) != SQLITE_DONE) goto done;
    sqlite3_reset(ins);
  }
  ret = 0;
done:
  sqlite3_finalize(ins);
  cfb_groups_release(&g);
  return ret;
}

int cfb_gold_refresh_month(sqlite3 *db, const char *month) {
  int ret = refresh_monthly(db, month);
  return ret < 0 ? ret : refresh_top(db, month);
}
