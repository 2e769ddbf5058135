/* Store unit tests on a real SQLite database (":memory:" and files). */
#include <stdlib.h>
#include <unistd.h>
#include "cf_test.h"
#include "costflow/store.h"

static struct cf_store *open_mem(void) {
  struct cf_store *st = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_store_open(":memory:", &st, &err));
  CF_ASSERT(err == NULL);
  return st;
}

CF_TEST(store_migrates_to_latest_version) {
  struct cf_store *st = open_mem();
  CF_ASSERT(cf_store_schema_version(st) >= 1);
  cf_store_close(st);
}

CF_TEST(run_is_unique_per_dag_and_date) {
  struct cf_store *st = open_mem();
  struct cf_run_row a = {0}, b = {0};
  int created = -1;
  cf_date d;
  CF_ASSERT_EQ(0, cf_date_parse("2025-01-31", &d));
  CF_ASSERT_EQ(0, cf_store_run_create(st, "billing", d, "scheduled", "{}",
                                      &a, &created));
  CF_ASSERT_EQ(1, created);
  CF_ASSERT_STR(a.run_id, "scheduled__2025-01-31");
  CF_ASSERT_STR(a.state, "queued");
  CF_ASSERT_EQ(0, cf_store_run_create(st, "billing", d, "manual",
                                      "{\"x\":\"1\"}", &b, &created));
  CF_ASSERT_EQ(0, created);
  CF_ASSERT_EQ(a.id, b.id);
  CF_ASSERT_STR(b.kind, "scheduled");       /* the first trigger wins */
  CF_ASSERT_EQ(a.logical_date, d);
  cf_run_row_release(&a);
  cf_run_row_release(&b);
  /* another DAG, same date: a different run */
  CF_ASSERT_EQ(0, cf_store_run_create(st, "other", d, "manual", NULL, &a,
                                      &created));
  CF_ASSERT_EQ(1, created);
  cf_run_row_release(&a);
  cf_store_close(st);
}

CF_TEST(run_states_and_listing_newest_first) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  for (int i = 1; i <= 3; i++) {
    CF_ASSERT_EQ(0, cf_store_run_create(st, "d", cf_date_from_ymd(2025, 1, i),
                                        "backfill", NULL, &r, &created));
    cf_run_row_release(&r);
  }
  struct cf_run_row *v = NULL;
  size_t n = 0;
  CF_ASSERT_EQ(0, cf_store_run_list(st, "d", 2, &v, &n));
  CF_ASSERT_EQ(2, n);
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 1, 3), v[0].logical_date);
  CF_ASSERT_EQ(0, cf_store_run_set_state(st, v[0].id, "running"));
  CF_ASSERT_EQ(0, cf_store_run_set_state(st, v[0].id, "success"));
  CF_ASSERT_EQ(0, cf_store_run_get_pk(st, v[0].id, &r));
  CF_ASSERT_STR(r.state, "success");
  CF_ASSERT(r.start_us > 0 && r.end_us >= r.start_us);
  cf_run_row_release(&r);
  cf_run_rows_free(v, n);
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_store_run_get(st, "d",
               cf_date_from_ymd(2030, 1, 1), &r));
  cf_store_close(st);
}

CF_TEST(task_instances_attempts_and_outputs) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  CF_ASSERT_EQ(0, cf_store_run_create(st, "d", 20000, "manual", NULL, &r,
                                      &created));
  CF_ASSERT_EQ(0, cf_store_ti_ensure(st, r.id, "extract", "shell", 3));
  CF_ASSERT_EQ(0, cf_store_ti_ensure(st, r.id, "extract", "shell", 9));
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  CF_ASSERT_EQ(0, cf_store_ti_list(st, r.id, &v, &n));
  CF_ASSERT_EQ(1, n);
  CF_ASSERT_STR(v[0].state, "none");
  CF_ASSERT_EQ(3, v[0].max_tries);         /* ensure() never overwrites */
  CF_ASSERT_EQ(-1, v[0].exit_code);
  cf_free(v[0].state);
  v[0].state = cf_strdup("running");
  v[0].try_number = 1;
  v[0].start_us = cf_store_now_us();
  v[0].pid = 4242;
  CF_ASSERT_EQ(0, cf_store_ti_update(st, &v[0]));
  int64_t apk = 0;
  CF_ASSERT_EQ(0, cf_store_attempt_start(st, &v[0], "/tmp/x.log", &apk));
  CF_ASSERT_EQ(0, cf_store_attempt_finish(st, apk, "failed", -1, 9,
                                          "killed by signal 9"));
  int64_t ti_pk = 0;
  int tryno = 0;
  char *log = NULL;
  CF_ASSERT_EQ(0, cf_store_attempt_ti(st, apk, &ti_pk, &tryno, &log));
  CF_ASSERT_EQ(v[0].id, ti_pk);
  CF_ASSERT_EQ(1, tryno);
  CF_ASSERT_STR(log, "/tmp/x.log");
  cf_free(log);
  struct cf_ti_row t = {0};
  CF_ASSERT_EQ(0, cf_store_ti_get(st, ti_pk, &t));
  CF_ASSERT_STR(t.state, "running");
  CF_ASSERT_EQ(4242, t.pid);
  cf_ti_row_release(&t);

  char *val = NULL;
  CF_ASSERT_EQ(0, cf_store_output_set(st, r.id, "extract", "rows", "10"));
  CF_ASSERT_EQ(0, cf_store_output_set(st, r.id, "extract", "rows", "12"));
  CF_ASSERT_EQ(0, cf_store_output_get(st, r.id, "extract", "rows", &val));
  CF_ASSERT_STR(val, "12");
  cf_free(val);
  CF_ASSERT_EQ(CF_ENOTFOUND,
               cf_store_output_get(st, r.id, "extract", "nope", &val));
  cf_ti_rows_free(v, n);
  cf_run_row_release(&r);
  cf_store_close(st);
}

CF_TEST(partition_versions_grow) {
  struct cf_store *st = open_mem();
  int64_t v = 0;
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-01", 10, "abc", "[]", 1, "t", &v));
  CF_ASSERT_EQ(1, v);
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-01", 11, "def", "[]", 1, "t", &v));
  CF_ASSERT_EQ(2, v);
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-02", 1, "x", "[]", 1, "t", &v));
  CF_ASSERT_EQ(1, v);
  cf_store_close(st);
}

CF_TEST(transaction_rollback_leaves_nothing) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  CF_ASSERT_EQ(0, cf_store_begin(st));
  CF_ASSERT_EQ(0, cf_store_event(st, "d", 0, NULL, "test", "{}"));
  CF_ASSERT_EQ(0, cf_store_rollback(st));
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(cf_store_db(st), "SELECT count(*) FROM events", -1, &s,
                     NULL);
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
  CF_ASSERT_EQ(0, sqlite3_column_int(s, 0));
  sqlite3_finalize(s);
  CF_ASSERT_EQ(0, cf_store_run_create(st, "d", 1, "manual", NULL, &r,
                                      &created));
  cf_run_row_release(&r);
  cf_store_close(st);
}

CF_TEST(file_store_is_wal_and_reopens) {
  char path[] = "/tmp/cf-store-XXXXXX";
  int fd = mkstemp(path);
  CF_ASSERT(fd >= 0);
  close(fd);
  unlink(path);
  struct cf_store *st = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(cf_store_db(st), "PRAGMA journal_mode", -1, &s, NULL);
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
  CF_ASSERT_STR((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  int version = cf_store_schema_version(st);
  cf_store_close(st);
  CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));   /* no re-migration */
  CF_ASSERT_EQ(version, cf_store_schema_version(st));
  cf_store_close(st);
  /* a store from a newer costflow is refused, not damaged */
  sqlite3 *db = NULL;
  sqlite3_open(path, &db);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES(999)", NULL, NULL,
               NULL);
  sqlite3_close(db);
  CF_ASSERT(cf_store_open(path, &st, &err) < 0);
  CF_ASSERT_CONTAINS(err, "newer than this costflow");
  cf_free(err);
  char wal[64];
  unlink(path);
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", path);
  unlink(wal);
}

CF_TEST_MAIN()
