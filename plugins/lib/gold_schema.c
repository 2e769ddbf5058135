/* Gold warehouse schema and opening (WAL, busy timeout). The schema is
 * idempotent (IF NOT EXISTS); gold_meta.schema_version names its level,
 * and an older warehouse is upgraded in place when it is opened. */
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>
#include "costflow/common.h"
#include "gold_warehouse.h"

/* 1: first schema.
 * 2: fact_daily_cost and fact_resource_daily are WITHOUT ROWID. */
#define GOLD_SCHEMA_VERSION 2
#define STR_(x) #x
#define STR(x) STR_(x)

/* The fact tables are WITHOUT ROWID: a rowid table stores each row twice,
 * once in the table and its key columns again in the primary-key index,
 * and the key (resource ids) is most of a resource row, so this halves
 * the pages a load writes. Shared by the DDL and the version-2 upgrade. */
#define FACT_DAILY_COST_DEF \
  "(usage_date TEXT NOT NULL, provider TEXT NOT NULL," \
  "  billing_account_id TEXT NOT NULL, sub_account_id TEXT NOT NULL," \
  "  service_name TEXT NOT NULL, service_category TEXT NOT NULL," \
  "  region_id TEXT NOT NULL, currency TEXT NOT NULL," \
  "  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL," \
  "  list_cost TEXT NOT NULL, credit_cost TEXT NOT NULL," \
  "  usage_quantity TEXT NOT NULL, row_count INTEGER NOT NULL," \
  "  partition_version INTEGER NOT NULL," \
  "  PRIMARY KEY(" FACT_DAILY_COST_KEY ")) WITHOUT ROWID"
#define FACT_DAILY_COST_KEY \
  "usage_date, provider, billing_account_id, sub_account_id," \
  " service_name, service_category, region_id, currency"
#define FACT_RESOURCE_DAILY_DEF \
  "(usage_date TEXT NOT NULL, provider TEXT NOT NULL," \
  "  account TEXT NOT NULL, resource_id TEXT NOT NULL," \
  "  service TEXT NOT NULL, billed_cost TEXT NOT NULL," \
  "  usage_quantity TEXT NOT NULL, usage_rows INTEGER NOT NULL," \
  "  PRIMARY KEY(" FACT_RESOURCE_DAILY_KEY ")) WITHOUT ROWID"
#define FACT_RESOURCE_DAILY_KEY \
  "usage_date, provider, account, resource_id, service"

static const char gold_ddl[] =
  "CREATE TABLE IF NOT EXISTS gold_meta(key TEXT PRIMARY KEY, value TEXT);"
  "CREATE TABLE IF NOT EXISTS fact_daily_cost" FACT_DAILY_COST_DEF ";"
  "CREATE TABLE IF NOT EXISTS fact_resource_daily" FACT_RESOURCE_DAILY_DEF
  ";"
  "CREATE TABLE IF NOT EXISTS dim_account("
  "  provider TEXT NOT NULL, billing_account_id TEXT NOT NULL,"
  "  sub_account_id TEXT NOT NULL, first_seen TEXT NOT NULL,"
  "  last_seen TEXT NOT NULL,"
  "  PRIMARY KEY(provider, billing_account_id, sub_account_id));"
  "CREATE TABLE IF NOT EXISTS dim_service("
  "  provider TEXT NOT NULL, service_name TEXT NOT NULL,"
  "  service_category TEXT NOT NULL,"
  "  PRIMARY KEY(provider, service_name, service_category));"
  "CREATE TABLE IF NOT EXISTS dim_region("
  "  provider TEXT NOT NULL, region_id TEXT NOT NULL,"
  "  PRIMARY KEY(provider, region_id));"
  "CREATE TABLE IF NOT EXISTS dim_date("
  "  date TEXT PRIMARY KEY, year INTEGER NOT NULL, month INTEGER NOT NULL,"
  "  day INTEGER NOT NULL, month_key TEXT NOT NULL,"
  "  day_of_week INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS agg_daily_provider("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  currency TEXT NOT NULL, billed_cost TEXT NOT NULL,"
  "  effective_cost TEXT NOT NULL, credit_cost TEXT NOT NULL,"
  "  row_count INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, currency));"
  "CREATE TABLE IF NOT EXISTS agg_monthly_provider("
  "  month TEXT NOT NULL, provider TEXT NOT NULL, currency TEXT NOT NULL,"
  "  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL,"
  "  credit_cost TEXT NOT NULL, days INTEGER NOT NULL,"
  "  PRIMARY KEY(month, provider, currency));"
  "CREATE TABLE IF NOT EXISTS agg_top_services("
  "  month TEXT NOT NULL, rank INTEGER NOT NULL, provider TEXT NOT NULL,"
  "  service_name TEXT NOT NULL, currency TEXT NOT NULL,"
  "  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL,"
  "  PRIMARY KEY(month, provider, service_name, currency));"
  "CREATE TABLE IF NOT EXISTS gold_partitions("
  "  usage_date TEXT PRIMARY KEY, version INTEGER NOT NULL,"
  "  fact_rows INTEGER NOT NULL, checksum TEXT NOT NULL,"
  "  silver_version INTEGER NOT NULL, silver_rows INTEGER NOT NULL,"
  "  silver_checksum TEXT NOT NULL, loaded_at TEXT NOT NULL);"
  "CREATE TABLE IF NOT EXISTS gold_loads("
  "  dag_id TEXT NOT NULL, logical_date TEXT NOT NULL, run_id TEXT,"
  "  usage_date TEXT NOT NULL, version INTEGER NOT NULL,"
  "  loaded_at TEXT NOT NULL,"
  "  PRIMARY KEY(dag_id, logical_date, usage_date));"
  "CREATE TABLE IF NOT EXISTS anomalies("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  account TEXT NOT NULL, service TEXT NOT NULL, currency TEXT NOT NULL,"
  "  cost TEXT NOT NULL, trailing_avg TEXT NOT NULL,"
  "  trailing_stddev TEXT NOT NULL, pct_above TEXT,"
  "  window_days INTEGER NOT NULL, provisional INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, account, service, currency));"
  "CREATE TABLE IF NOT EXISTS zombies("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  account TEXT NOT NULL, resource_id TEXT NOT NULL,"
  "  service TEXT NOT NULL, cost TEXT NOT NULL,"
  "  usage_quantity TEXT NOT NULL, usage_rows INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, account, resource_id, service));"
  /* A new warehouse is born at the current level; an existing one keeps
   * its stamp until upgrade() has run. */
  "INSERT OR IGNORE INTO gold_meta VALUES('schema_version', '"
  STR(GOLD_SCHEMA_VERSION) "');";

static int set_err(char **errmsg, sqlite3 *db, const char *what) {
  if (errmsg)
    *errmsg = cf_asprintf("%s: %s", what, db ? sqlite3_errmsg(db)
                                               : "out of memory");
  return CF_ESTORE;
}

/* Append-only: upgrades[v] takes a warehouse from level v to v + 1. A
 * change ALTER TABLE cannot make follows SQLite's recipe: create the new
 * table, copy, drop the old one, rename. Rows are copied in key order, so
 * they append to the new b-tree. */
static const char *const upgrades[] = {
  NULL,  /* 0: no warehouse is at level 0 */
  /* 1 -> 2: fact tables WITHOUT ROWID */
  "CREATE TABLE fact_daily_cost_v2" FACT_DAILY_COST_DEF ";"
  "INSERT INTO fact_daily_cost_v2 SELECT * FROM fact_daily_cost"
  " ORDER BY " FACT_DAILY_COST_KEY ";"
  "DROP TABLE fact_daily_cost;"
  "ALTER TABLE fact_daily_cost_v2 RENAME TO fact_daily_cost;"
  "CREATE TABLE fact_resource_daily_v2" FACT_RESOURCE_DAILY_DEF ";"
  "INSERT INTO fact_resource_daily_v2 SELECT * FROM fact_resource_daily"
  " ORDER BY " FACT_RESOURCE_DAILY_KEY ";"
  "DROP TABLE fact_resource_daily;"
  "ALTER TABLE fact_resource_daily_v2 RENAME TO fact_resource_daily;",
};
_Static_assert(sizeof upgrades / sizeof *upgrades == GOLD_SCHEMA_VERSION,
               "a new schema level needs its upgrade step");

/* gold_meta.schema_version, or -1 when it cannot be read. */
static int schema_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2(db, "SELECT value FROM gold_meta"
                         " WHERE key='schema_version'", -1, &st,
                         NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int refuse_level(char **errmsg, const char *path, int v) {
  if (errmsg)
    *errmsg = cf_asprintf("%s: warehouse schema version %d, this build "
                          "knows 1 to %d", path, v, GOLD_SCHEMA_VERSION);
  return CF_ESTORE;
}

/* Brings an older warehouse to GOLD_SCHEMA_VERSION in ONE transaction: a
 * crash or an error leaves it at its old level, whole. The level is read
 * again under the write lock, so two openers upgrade it once. */
static int upgrade(sqlite3 *db, const char *path, char **errmsg) {
  int v = schema_version(db);
  if (v == GOLD_SCHEMA_VERSION) return 0;
  if (v < 1 || v > GOLD_SCHEMA_VERSION) goto bad_level;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
    return set_err(errmsg, db, path);
  v = schema_version(db);
  if (v < 1 || v > GOLD_SCHEMA_VERSION) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    goto bad_level;
  }
  for (; v < GOLD_SCHEMA_VERSION; v++) {
    if (sqlite3_exec(db, upgrades[v], NULL, NULL, NULL)) goto store_err;
  }
  if (sqlite3_exec(db, "UPDATE gold_meta SET value='"
                   STR(GOLD_SCHEMA_VERSION) "' WHERE key='schema_version';"
                   "COMMIT", NULL, NULL, NULL))
    goto store_err;
  return 0;
store_err:
  v = set_err(errmsg, db, path);
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return v;
bad_level:
  return refuse_level(errmsg, path, v);
}

int cfb_gold_open(const char *path, sqlite3 **out, char **errmsg) {
  sqlite3 *db = NULL;
  int ret = 0;
  *out = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                      SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)) {
    ret = set_err(errmsg, db, path);
    goto done;
  }
  sqlite3_busy_timeout(db, 30000);
  /* A level this build does not know is refused before anything (the
   * DDL below included) writes to the file. */
  int level = schema_version(db);
  if (level > GOLD_SCHEMA_VERSION) {
    ret = refuse_level(errmsg, path, level);
    goto done;
  }
  /* WAL: readers keep their snapshot while a date is replaced.
   * 32 KiB pages (a new warehouse only: an existing file keeps its own)
   * cut a load's page writes, into the WAL and again at checkpoint, to
   * an eighth of the system calls of 4 KiB pages; set before WAL mode,
   * which writes the first page. */
  if (sqlite3_exec(db, "PRAGMA page_size=32768;"
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) ||
      sqlite3_exec(db, gold_ddl, NULL, NULL, NULL)) {
    ret = set_err(errmsg, db, path);
    goto done;
  }
  if ((ret = upgrade(db, path, errmsg)) < 0) goto done;
  *out = db;
  db = NULL;
done:
  sqlite3_close(db);
  return ret;
}

int cfb_gold_open_ro(const char *path, sqlite3 **out, char **errmsg) {
  sqlite3 *db = NULL;
  *out = NULL;
  if (access(path, F_OK) != 0) {
    if (errmsg) *errmsg = cf_asprintf("%s: no warehouse yet", path);
    return CF_ENOTFOUND;
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) {
    int ret = set_err(errmsg, db, path);
    sqlite3_close(db);
    return ret;
  }
  sqlite3_busy_timeout(db, 30000);
  *out = db;
  return 0;
}
