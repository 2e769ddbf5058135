/* Publishes silver partitions into the gold warehouse: per usage date,
 * delete + insert of its facts, dimensions and aggregates, all dates in
 * ONE write transaction (readers see the old or the new data, never a
 * mix; a failure rolls everything back; a re-run replaces). */
#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_prefetch.h"
#include "gold_warehouse.h"

struct load_stmts {
  sqlite3_stmt *del_fact, *del_res, *ins_fact, *ins_res, *ins_acct,
      *ins_svc, *ins_region, *ins_date, *get_ver, *put_part, *put_load,
      *ins_res_batch;
  int res_batch;          /* rows per ins_res_batch step */
};

/* Resource facts go in up to RES_BATCH rows per statement: a day has tens
 * of thousands, and one step per batch spares SQLite's per-statement
 * start, cursor opening and halt, about a quarter of the writer's time
 * (same rows, same order). OR FAIL: a multi-row INSERT that may ABORT
 * must be able to undo its own rows, so SQLite copied every page it
 * touched to a statement journal (a temp file past 64 KiB: 2 GB of writes
 * on the 1 GB bench); any failure here rolls back the whole load anyway,
 * so nothing needs undoing statement by statement. */
#define RES_BATCH 128
#define RES_COLS 8
#define N_STMTS (sizeof load_sql / sizeof *load_sql)

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
  NULL,  /* ins_res_batch: built by res_batch_sql() */
};

static char *res_batch_sql(int rows) {
  struct cf_buf b = CF_BUF_INIT(0);
  int bad = cf_buf_adds(&b, "INSERT OR FAIL INTO fact_resource_daily VALUES");
  for (int r = 0; r < rows; r++)
    bad |= cf_buf_adds(&b, r ? ",(?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?)");
  if (bad < 0) {
    cf_buf_release(&b);
    return NULL;
  }
  return cf_buf_detach(&b, NULL);
}

/* The statements are walked as an array, in load_sql order. */
_Static_assert(offsetof(struct load_stmts, res_batch) ==
                   N_STMTS * sizeof(sqlite3_stmt *),
               "one load_sql entry per statement of struct load_stmts");

static void stmts_free(struct load_stmts *s) {
  sqlite3_stmt **v = (sqlite3_stmt **)s;
  for (size_t i = 0; i < N_STMTS; i++) sqlite3_finalize(v[i]);
}

static int stmts_prepare(sqlite3 *db, struct load_stmts *s) {
  sqlite3_stmt **v = (sqlite3_stmt **)s;
  memset(s, 0, sizeof *s);
  /* Older SQLite builds allow only 999 parameters per statement. */
  s->res_batch = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) /
                 RES_COLS;
  if (s->res_batch > RES_BATCH) s->res_batch = RES_BATCH;
  if (s->res_batch < 1) s->res_batch = 1;
  for (size_t i = 0; i < N_STMTS; i++) {
    char *built = load_sql[i] ? NULL : res_batch_sql(s->res_batch);
    const char *sql = load_sql[i] ? load_sql[i] : built;
    int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &v[i], NULL)
                 : SQLITE_NOMEM;
    cf_free(built);
    if (rc != SQLITE_OK) return CF_ESTORE;
  }
  return 0;
}

/* Runs a bound statement to completion and resets it. Every parameter
 * is bound again before the next step, so bindings are not cleared. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : CF_ESTORE;
}

/* Text bindings are SQLITE_STATIC: SQLite reads them during the step
 * that follows, while the day's row text is still alive, which saves a
 * copy per value (millions in a large load). */
static void bind_s(sqlite3_stmt *st, int i, const char *s) {
  sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Binds column c (CFB_FK_* or CFB_RK_*, then the sums) of row i. */
static void bind_col(sqlite3_stmt *st, int i, const struct cfb_row_text *t,
                     size_t group, size_t c) {
  int n;
  const char *s = cfb_row_text_get(t, group, c, &n);
  sqlite3_bind_text(st, i, s, n, SQLITE_STATIC);
}

/* Binds resource row i as the row whose first parameter is base + 1. */
static void bind_resource(sqlite3_stmt *st, int base,
                          const struct cfb_silver_day *d, size_t i) {
  const struct cfb_row_text *t = &d->resources;
  bind_s(st, base + 1, d->date);
  for (int c = 0; c < CFB_RK_N + CFB_RV_N; c++)
    bind_col(st, base + 2 + c, t, i, c);
  sqlite3_bind_int64(st, base + 8, t->count[i]);
}

/* Dimension keys already upserted for the date being loaded: its facts
 * repeat each account, service and region many times, and a repeat
 * changes nothing (same key, same date), so only the first is sent --
 * four statements per fact row were a large share of the writer's steps. */
struct dims_seen {
  struct cfb_groups acct, svc, region;
};

static const int acct_cols[] = {CFB_FK_PROVIDER, CFB_FK_BILLING_ACCOUNT,
                                CFB_FK_SUB_ACCOUNT};
static const int svc_cols[] = {CFB_FK_PROVIDER, CFB_FK_SERVICE,
                               CFB_FK_CATEGORY};
static const int region_cols[] = {CFB_FK_PROVIDER, CFB_FK_REGION};

/* Binds columns cols[0..n) of fact row i as ?1..?n and steps st, unless
 * that key was stepped already for this date. */
static int put_dim(sqlite3_stmt *st, struct cfb_groups *seen,
                   const struct cfb_row_text *t, size_t i, const int *cols,
                   size_t n) {
  const char *keys[CFB_GROUPS_MAXKEYS];
  size_t lens[CFB_GROUPS_MAXKEYS];
  for (size_t k = 0; k < n; k++) {
    int len;
    keys[k] = cfb_row_text_get(t, i, (size_t)cols[k], &len);
    lens[k] = (size_t)len;
  }
  struct cfb_group *g = cfb_groups_get(seen, keys, lens);
  if (!g) return -ENOMEM;
  if (g->count++) return 0;
  for (size_t k = 0; k < n; k++)
    sqlite3_bind_text(st, (int)k + 1, keys[k], (int)lens[k], SQLITE_STATIC);
  return step_done(st);
}

static int put_dims(struct load_stmts *s, struct dims_seen *seen,
                    const struct cfb_silver_day *d, size_t i) {
  const struct cfb_row_text *t = &d->facts;
  bind_s(s->ins_acct, 4, d->date);
  if (put_dim(s->ins_acct, &seen->acct, t, i, acct_cols, 3) ||
      put_dim(s->ins_svc, &seen->svc, t, i, svc_cols, 3) ||
      put_dim(s->ins_region, &seen->region, t, i, region_cols, 2))
    return CF_ESTORE;
  return 0;
}

static int put_facts(struct load_stmts *s, const struct cfb_silver_day *d,
                     int64_t version) {
  const struct cfb_row_text *t = &d->facts;
  struct dims_seen seen;
  int ret = 0;
  cfb_groups_init(&seen.acct, 3, 0);
  cfb_groups_init(&seen.svc, 3, 0);
  cfb_groups_init(&seen.region, 2, 0);
  for (size_t i = 0; i < t->n && ret == 0; i++) {
    bind_s(s->ins_fact, 1, d->date);
    for (int c = 0; c < CFB_FK_N + CFB_FV_N; c++)
      bind_col(s->ins_fact, 2 + c, t, i, c);
    sqlite3_bind_int64(s->ins_fact, 14, t->count[i]);
    sqlite3_bind_int64(s->ins_fact, 15, version);
    ret = step_done(s->ins_fact) ? CF_ESTORE : put_dims(s, &seen, d, i);
  }
  cfb_groups_release(&seen.acct);
  cfb_groups_release(&seen.svc);
  cfb_groups_release(&seen.region);
  if (ret < 0) return CF_ESTORE;
  for (size_t i = 0; i < d->resources.n;) {
    int batch = d->resources.n - i >= (size_t)s->res_batch;
    sqlite3_stmt *st = batch ? s->ins_res_batch : s->ins_res;
    for (int r = 0; r < (batch ? s->res_batch : 1); r++, i++)
      bind_resource(st, r * RES_COLS, d, i);
    if (step_done(st)) return CF_ESTORE;
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
                    struct cfb_prefetch *pf, size_t i, const char *date,
                    const struct cfb_gold_run *run,
                    struct cfb_gold_part *p, char **errmsg) {
  struct cfb_silver_day day;
  char now[32];
  int ret = cfb_prefetch_take(pf, i, &day, errmsg);
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
    else sqlite3_bind_null(s->put_load, 3);
    bind_s(s->put_load, 4, date);
    sqlite3_bind_int64(s->put_load, 5, p->version);
    bind_s(s->put_load, 6, now);
    if (step_done(s->put_load)) goto store_err;
  }
  cfb_prefetch_recycle(pf, &day);
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
  struct cfb_prefetch *pf = NULL;
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
  /* Silver is read and folded on worker threads while this thread writes
   * the dates before it. */
  if ((ret = cfb_prefetch_start(silver_root, dates, n,
                                cfb_prefetch_default_workers(), &pf)) < 0)
    goto done;
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
    ret = load_one(db, &s, pf, i, dates[i], run, &parts[i], errmsg);
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
  cfb_prefetch_free(pf);
  stmts_free(&s);
  if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  cf_free(months);
  return ret;
}
