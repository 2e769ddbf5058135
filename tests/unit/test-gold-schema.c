/* Gold warehouse schema levels: a version-1 warehouse (rowid fact tables)
 * is upgraded in place on open, with the very same rows, once; a new one
 * is born at the current level; a level this build does not know is
 * refused rather than written. */
#include <sqlite3.h>
#include "cf_test.h"
#include "gold_fixture.h"
#include "gold_warehouse.h"

/* The version-1 fact tables and stamp, as the first release created them
 * (the other tables did not change). */
static const char v1_ddl[] =
  "CREATE TABLE gold_meta(key TEXT PRIMARY KEY, value TEXT);"
  "CREATE TABLE fact_daily_cost("
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
  "CREATE TABLE fact_resource_daily("
  "  usage_date TEXT NOT NULL, provider TEXT NOT NULL,"
  "  account TEXT NOT NULL, resource_id TEXT NOT NULL,"
  "  service TEXT NOT NULL, billed_cost TEXT NOT NULL,"
  "  usage_quantity TEXT NOT NULL, usage_rows INTEGER NOT NULL,"
  "  PRIMARY KEY(usage_date, provider, account, resource_id, service));"
  "INSERT INTO gold_meta VALUES('schema_version', '1');";

/* Rows inserted out of key order, with money text that must not change. */
static const char v1_rows[] =
  "INSERT INTO fact_daily_cost VALUES('2025-01-02','AWS','111','222',"
  "  'EC2','Compute','us-east-1','USD','10000000000.000000000000000001',"
  "  '1.5','2','-0.25','3.5',4,2);"
  "INSERT INTO fact_daily_cost VALUES('2025-01-01','Google Cloud','b-1',"
  "  'p-9','Cloud Storage','Storage','','EUR','0.000000000000000001',"
  "  '0','0','0','0',1,1);"
  "INSERT INTO fact_resource_daily VALUES('2025-01-02','AWS','222','i-2',"
  "  'EC2','-5.5','0',1);"
  "INSERT INTO fact_resource_daily VALUES('2025-01-01','AWS','222','i-1',"
  "  'EC2','0.1','1',2);"
  "INSERT INTO fact_resource_daily VALUES('2025-01-01','AWS','111','i-9',"
  "  'S3','7','12.25',3);";

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_open(path, &db));
  return db;
}

static void exec(sqlite3 *db, const char *sql) {
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static const char *rowid_tables_sql =
  "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name IN"
  " ('fact_daily_cost','fact_resource_daily') AND sql NOT LIKE"
  " '%WITHOUT ROWID'";

CF_TEST(gold_v1_warehouse_upgraded_in_place_with_same_rows) {
  const char *home = fx_home();
  char *path = cf_asprintf("%s/warehouse.db", home);
  sqlite3 *db = raw_open(path);
  exec(db, v1_ddl);
  exec(db, v1_rows);
  char *before = fx_dump_facts(db);
  CF_ASSERT_STR("2", q1(db, rowid_tables_sql));
  sqlite3_close(db);

  for (int open = 0; open < 2; open++) {     /* the second is a no-op */
    db = fx_wh_open_path(path);
    CF_ASSERT_STR("2", q1(db, "SELECT value FROM gold_meta"
                              " WHERE key='schema_version'"));
    CF_ASSERT_STR("0", q1(db, rowid_tables_sql));
    char *after = fx_dump_facts(db);
    CF_ASSERT_STR(before, after);
    cf_free(after);
    CF_ASSERT_STR("ok", q1(db, "PRAGMA integrity_check"));
    /* No leftover of the copy, and the key still holds. */
    CF_ASSERT_STR("0", q1(db, "SELECT count(*) FROM sqlite_schema"
                              " WHERE name LIKE '%v2%'"));
    CF_ASSERT(sqlite3_exec(db, "INSERT INTO fact_resource_daily VALUES("
                           "'2025-01-01','AWS','111','i-9','S3','1','1',1)",
                           NULL, NULL, NULL) == SQLITE_CONSTRAINT);
    sqlite3_close(db);
  }
  /* A load into the upgraded warehouse replaces its date, keeps others. */
  struct fx_day d;
  struct cfb_gold_part part;
  const char *dates[] = {"2025-01-01"};
  char *silver = fx_silver(home), *err = NULL;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
         "0.3", "2");
  fx_end(&d, home, "2025-01-01", 1);
  db = fx_wh_open_path(path);
  CF_ASSERT_EQ(0, cfb_gold_load(db, silver, dates, 1, NULL, &part, &err));
  CF_ASSERT_STR("1", q1(db, "SELECT count(*) FROM fact_resource_daily"
                            " WHERE usage_date='2025-01-01'"));
  CF_ASSERT_STR("0.3", q1(db, "SELECT billed_cost FROM fact_resource_daily"
                              " WHERE usage_date='2025-01-01'"));
  CF_ASSERT_STR("-5.5", q1(db, "SELECT billed_cost FROM fact_resource_daily"
                               " WHERE usage_date='2025-01-02'"));
  CF_ASSERT_STR("1", q1(db, "SELECT count(*) FROM fact_daily_cost"
                            " WHERE usage_date='2025-01-02'"));
  sqlite3_close(db);
  cf_free(err);
  cf_free(silver);
  cf_free(before);
  cf_free(path);
  fx_rm(home);
}

CF_TEST(gold_new_warehouse_is_born_current) {
  const char *home = fx_home();
  char *path = cf_asprintf("%s/warehouse.db", home);
  sqlite3 *db = fx_wh_open_path(path);
  CF_ASSERT_STR("2", q1(db, "SELECT value FROM gold_meta"
                            " WHERE key='schema_version'"));
  CF_ASSERT_STR("0", q1(db, rowid_tables_sql));
  sqlite3_close(db);
  cf_free(path);
  fx_rm(home);
}

CF_TEST(gold_unknown_level_refused) {
  const char *home = fx_home();
  char *path = cf_asprintf("%s/warehouse.db", home);
  sqlite3 *db = fx_wh_open_path(path);
  exec(db, "UPDATE gold_meta SET value='99' WHERE key='schema_version'");
  exec(db, "DROP TABLE dim_date");
  sqlite3_close(db);
  char *err = NULL;
  CF_ASSERT(cfb_gold_open(path, &db, &err) < 0);
  CF_ASSERT(db == NULL);
  CF_ASSERT(err && strstr(err, "schema version 99"));
  cf_free(err);
  /* Refused rather than written: the DDL did not run either. */
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_open(path, &db));
  CF_ASSERT_STR("0", q1(db, "SELECT count(*) FROM sqlite_schema"
                            " WHERE name='dim_date'"));
  sqlite3_close(db);
  cf_free(path);
  fx_rm(home);
}

CF_TEST_MAIN()
