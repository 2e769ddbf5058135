/* Gold warehouse schema and opening (WAL, busy timeout). The schema is
 * idempotent (IF NOT EXISTS); gold_meta.schema_version names its level. */
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>
#include "costflow/common.h"
#include "gold_warehouse.h"

#define GOLD_SCHEMA_VERSION 1

static const char gold_ddl[] =
  "CREATE TABLE IF NOT EXISTS gold_meta(key TEXT PRIMARY KEY, value TEXT);"
  "CREATE TABLE IF NOT EXISTS fact_daily_cost("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  billing_account_id TEXT NOT NULL, sub_account_id TEXT NOT NULL,"
  "  service_name TEXT NOT NULL, service_category TEXT NOT NULL,"
  "  region_id TEXT NOT NULL, currency TEXT NOT NULL,"
  "  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL,"
  "  list_cost TEXT NOT NULL, credit_cost TEXT NOT NULL,"
  "  usage_quantity TEXT NOT NULL, row_count INTEGER NOT NULL,"
  "  partition_version INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, billing_account_id, sub_account_id,"
  "    service_name, service_category, region_id, currency));"
  "CREATE TABLE IF NOT EXISTS fact_resource_daily("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  account TEXT NOT NULL, resource_id TEXT NOT NULL,"
  "  service TEXT NOT NULL, billed_cost TEXT NOT NULL,"
  "  usage_quantity TEXT NOT NULL, usage_rows INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, account, resource_id, service));"
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
  "INSERT OR IGNORE INTO gold_meta VALUES('schema_version', '1');";

static int set_err(char **errmsg, sqlite3 *db, const char *what) {
  if (errmsg)
    *errmsg = cf_asprintf("%s: %s", what, db ? sqlite3_errmsg(db)
                                               : "out of memory");
  return CF_ESTORE;
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
