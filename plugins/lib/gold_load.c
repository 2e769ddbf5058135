/* Publishes silver partitions into the gold warehouse: per usage date,
 * delete + insert of its facts, dimensions and aggregates, all dates in
 * ONE write transaction (readers see the old or the new data, never a
 * mix; a failure rolls everything back; a re-run replaces). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_warehouse.h"

struct load_stmts {
  sqlite3_stmt *del_fact, *del_res, *ins_fact, *ins_res, *ins_acct,
      *ins_svc, *ins_region, *ins_date, *get_ver, *put_part, *put_load;
};

static const char *const load_sql[] = {
  "DELETE FROM fact_daily_cost WHERE usage_date=?1",
  "DELETE FROM fact_resource_daily WHERE usage_date=?1",
  "INSERT INTO fact_daily_cost VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
  "?12,?13,?14,?15)",
  "INSERT INTO fact_resource_daily VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
  "INSERT INTO dim_account VALUES(?1,?2,?3,?4,?4) ON CONFLICT DO UPDATE SET"
  " first_seen=min(first_seen,excluded.first_seen),"
  " last_seen=max(last_seen,excluded.last_seen)",
  "INSERT OR IGNORE INTO dim_service VALUES(?1,?2,?3)",
  "INSERT OR IGNORE INTO dim_region VALUES(?1,?2)",
  "INSERT OR REPLACE INTO dim_date VALUES(?1,?2,?3,?4,?5,?6)",
  "SELECT coalesce(max(version),0)+1 FROM gold_partitions"
  " WHERE usage_date=?1",
  "INSERT OR REPLACE INTO gold_partitions VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
  "INSERT OR REPLACE INTO gold_loads VALUES(?1,?2,?3,?4,?5,?6)",
};

static void stmts_free(struct load_stmts *s) {
  sqlite3_stmt **v = (sqlite3_stmt **)s;
  for (size_t i = 0; i < sizeof *s / sizeof *v; i++) sqlite3_finalize(v[i]);
}

static int stmts_prepare(sqlite3 *db, struct load_stmts *s) {
  sqlite3_stmt **v = (sqlite3_stmt **)s;
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < sizeof *s / sizeof *v; i++)
    if (sqlite3_prepare_v2(db, load_sql[i], -1, &v[i], NULL))
      return CF_ESTORE;
  return 0;
}

/* Runs a bound statement to completion and resets it. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : CF_ESTORE;
}

static void bind_dec(sqlite3_stmt *st, int i, cf_dec d) {
  char s[CF_DEC_MAXSTR];
  size_t n = cf_dec_format(d, s);
  sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

static void bind_s(sqlite3_stmt *st, int i, const char *s) {
  sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static int put_facts(struct load_stmts *s, const struct cfb_silver_day *d,
                     int64_t version) {
  for (size_t i = 0; i < d->facts.n; i++) {
    const struct cfb_group *g = &d->facts.v[i];
    const char *const *k = g->keys;
    bind_s(s->ins_fact, 1, d->date);
    for (int c = 0; c < CFB_FK_N; c++) bind_s(s->ins_fact, 2 + c, k[c]);
    for (int v = 0; v < CFB_FV_N; v++)
      bind_dec(s->ins_fact, 2 + CFB_FK_N + v, g->sums[v]);
    sqlite3_bind_int64(s->ins_fact, 14, g->count);
    sqlite3_bind_int64(s->ins_fact, 15, version);
    if (step_done(s->ins_fact)) return CF_ESTORE;

    bind_s(s->ins_acct, 1, k[CFB_FK_PROVIDER]);
    bind_s(s->ins_acct, 2, k[CFB_FK_BILLING_ACCOUNT]);
    bind_s(s->ins_acct, 3, k[CFB_FK_SUB_ACCOUNT]);
    bind_s(s->ins_acct, 4, d->date);
    bind_s(s->ins_svc, 1, k[CFB_FK_PROVIDER]);
    bind_s(s->ins_svc, 2, k[CFB_FK_SERVICE]);
    bind_s(s->ins_svc, 3, k[CFB_FK_CATEGORY]);
    bind_s(s->ins_region, 1, k[CFB_FK_PROVIDER]);
    bind_s(s->ins_region, 2, k[CFB_FK_REGION]);
    if (step_done(s->ins_acct) || step_done(s->ins_svc) ||
        step_done(s->ins_region))
      return CF_ESTORE;
  }
  for (size_t i = 0; i < d->resources.n; i++) {
    const struct cfb_group *g = &d->resources.v[i];
    bind_s(s->ins_res, 1, d->date);
    for (int c = 0; c < CFB_RK_N; c++) bind_s(s->ins_res, 2 + c, g->keys[c]);
    bind_dec(s->ins_res, 6, g->sums[CFB_RV_BILLED]);
    bind_dec(s->ins_res, 7, g->sums[CFB_RV_USAGE]);
    sqlite3_bind_int64(s->ins_res, 8, g->count);
    if (step_done(s->ins_res)) return CF_ESTORE;
  }
  return 0;
}

static int put_date(struct load_stmts *s, const char *date) {
  cf_date d;
  int y, m, dd;
  char month[8];
  if (cf_date_parse(date, &d) < 0) return CF_EINVALID;
  cf_date_to_ymd(d, &y, &m, &dd);
  snprintf(month, sizeof month, "%04d-%02d", y, m);
  bind_s(s->ins_date, 1, date);
  sqlite3_bind_int(s->ins_date, 2, y);
  sqlite3_bind_int(s->ins_date, 3, m);
  sqlite3_bind_int(s->ins_date, 4, dd);
  bind_s(s->ins_date, 5, month);
  /* 1970-01-01 was a Thursday; ISO day of week, Monday = 1. */
  sqlite3_bind_int(s->ins_date, 6, (int)(((d % 7) + 7 + 3) % 7) + 1);
  return step_done(s->ins_date);
}

/* Loads one date inside the open transaction. */
static int load_one(sqlite3 *db, struct load_stmts *s,
                    const char *silver_root, const char *date,
                    const struct cfb_gold_run *run,
                    struct cfb_gold_part *p, char **errmsg) {
  struct cfb_silver_day day;
  char now[32];
  int ret = cfb_silver_day_read(silver_root, date, &day, errmsg);
  if (ret < 0) return ret;
  memset(p, 0, sizeof *p);
  memcpy(p->date, day.date, sizeof p->date);
  bind_s(s->get_ver, 1, date);
  if (sqlite3_step(s->get_ver) != SQLITE_ROW) goto store_err;
  p->version = sqlite3_column_int64(s->get_ver, 0);
  sqlite3_reset(s->get_ver);
  bind_s(s->del_fact, 1, date);
  bind_s(s->del_res, 1, date);
  if (step_done(s->del_fact) || step_done(s->del_res) ||
      put_facts(s, &day, p->version) || put_date(s, date))
    goto store_err;
  if ((ret = cfb_gold_checksum(db, date, p->checksum, &p->fact_rows)) < 0)
    goto store_err;
  p->silver_rows = day.rows;
  memcpy(p->silver_checksum, day.checksum, sizeof p->silver_checksum);
  cf_format_iso_ms(cf_now_ms(), now);
  bind_s(s->put_part, 1, date);
  sqlite3_bind_int64(s->put_part, 2, p->version);
  sqlite3_bind_int64(s->put_part, 3, p->fact_rows);
  bind_s(s->put_part, 4, p->checksum);
  sqlite3_bind_int64(s->put_part, 5, day.version);
  sqlite3_bind_int64(s->put_part, 6, day.rows);
  bind_s(s->put_part, 7, day.checksum);
  bind_s(s->put_part, 8, now);
  if (step_done(s->put_part)) goto store_err;
  if (run && run->dag_id && run->logical_date) {
    bind_s(s->put_load, 1, run->dag_id);
    bind_s(s->put_load, 2, run->logical_date);
    if (run->run_id) bind_s(s->put_load, 3, run->run_id);
    bind_s(s->put_load, 4, date);
    sqlite3_bind_int64(s->put_load, 5, p->version);
    bind_s(s->put_load, 6, now);
    if (step_done(s->put_load)) goto store_err;
  }
  cfb_silver_day_release(&day);
  return 0;
store_err:
  sqlite3_reset(s->get_ver);
  *errmsg = cf_asprintf("warehouse, usage date %s: %s", date,
                        sqlite3_errmsg(db));
  cfb_silver_day_release(&day);
  return CF_ESTORE;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cfb_gold_load(sqlite3 *db, const char *silver_root,
                  const char *const *dates, size_t n,
                  const struct cfb_gold_run *run,
                  struct cfb_gold_part *parts, char **errmsg) {
  struct load_stmts s;
  const char **months = NULL;
  size_t nmonths = 0;
  int ret = 0, in_txn = 0;

  memset(&s, 0, sizeof s);
  months = cf_calloc(n ? n : 1, sizeof *months);
  if (!months) return -ENOMEM;
  /* IMMEDIATE: take the write lock now, never upgrade mid-way. */
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) goto store_err;
  in_txn = 1;
  if (stmts_prepare(db, &s)) goto store_err;
  if (run && run->dag_id && run->logical_date) {
    /* A re-run's own list of dates replaces the previous one. */
    sqlite3_stmt *del = NULL;
    int rc = sqlite3_prepare_v2(db, "DELETE FROM gold_loads WHERE dag_id=?1"
                                " AND logical_date=?2", -1, &del, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(del, 1, run->dag_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(del, 2, run->logical_date, -1, SQLITE_STATIC);
      rc = sqlite3_step(del) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(del);
    if (rc != SQLITE_OK) goto store_err;
  }
  for (size_t i = 0; i < n; i++) {
    ret = load_one(db, &s, silver_root, dates[i], run, &parts[i], errmsg);
    if (ret < 0) goto done;
    if ((ret = cfb_gold_refresh_day(db, dates[i])) < 0) goto store_err;
    months[nmonths++] = dates[i];  /* YYYY-MM prefix, deduped below */
  }
  qsort(months, nmonths, sizeof *months, cmp_str);
  for (size_t i = 0; i < nmonths; i++) {
    char month[8];
    if (i && !strncmp(months[i], months[i - 1], 7)) continue;
    memcpy(month, months[i], 7);
    month[7] = '\0';
    if ((ret = cfb_gold_refresh_month(db, month)) < 0) goto store_err;
  }
  stmts_free(&s);
  memset(&s, 0, sizeof s);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) goto store_err;
  in_txn = 0;
  goto done;
store_err:
  if (!*errmsg)
    *errmsg = cf_asprintf("warehouse: %s", sqlite3_errmsg(db));
  ret = ret < 0 ? ret : CF_ESTORE;
done:
  stmts_free(&s);
  if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  cf_free(months);
  return ret;
}
