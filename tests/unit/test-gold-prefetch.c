/* Gold read-ahead: days are read on worker threads but handed over in
 * order, errors arrive with their date, unfinished prefetches free
 * cleanly, a day read fails cleanly at any allocation; a load of many
 * days on the pipeline writes exactly what a day-by-day load writes,
 * batched resource inserts included, and so does a load on a connection
 * that allows too few parameters for full-size batches. */
#include <sqlite3.h>
#include "cf_test.h"
#include "gold_fixture.h"
#include "gold_prefetch.h"
#include "gold_warehouse.h"

#define NDAYS 6

static const char *const days[NDAYS] = {
  "2025-03-01", "2025-03-02", "2025-03-03",
  "2025-03-04", "2025-03-05", "2025-03-06"};

/* Day k: 40 * k + 3 usage rows over distinct resources (so the resource
 * grain spans several 128-row insert batches plus a remainder), and a
 * credit without a resource. */
static void publish_days(const char *home) {
  for (int k = 0; k < NDAYS; k++) {
    struct fx_day d;
    FILE *f = fx_begin(&d);
    for (int r = 0; r < 40 * k + 3; r++) {
      char res[32], cost[32];
      snprintf(res, sizeof res, "i-%05d", (r * 7919) % 100000);
      snprintf(cost, sizeof cost, "%d.%03d", r, k);
      fx_row(f, days[k], r % 3 ? "111" : "222", "AWS", r % 2 ? "EC2" : "S3",
             "us-east-1", res, "Usage", cost, "1");
    }
    fx_row(f, days[k], "111", "AWS", "EC2", "us-east-1", "", "Credit",
           "-0.25", "0");
    fx_end(&d, home, days[k], 1);
  }
}

static void take_all_in_order(size_t workers) {
  const char *home = fx_home();
  char *silver = fx_silver(home);
  struct cfb_prefetch *p = NULL;
  publish_days(home);
  CF_ASSERT_EQ(0, cfb_prefetch_start(silver, days, NDAYS, workers, &p));
  for (size_t i = 0; i < NDAYS; i++) {
    struct cfb_silver_day day;
    char *err = NULL;
    CF_ASSERT_EQ(0, cfb_prefetch_take(p, i, &day, &err));
    CF_ASSERT(err == NULL);
    CF_ASSERT_STR(days[i], day.date);
    CF_ASSERT_EQ(40 * (int)i + 4, day.rows);
    CF_ASSERT_EQ(40 * (int)i + 3, day.resources.n);
    cfb_silver_day_release(&day);
  }
  cfb_prefetch_free(p);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(prefetch_hands_days_over_in_order) { take_all_in_order(2); }
CF_TEST(prefetch_many_workers) { take_all_in_order(4); }
CF_TEST(prefetch_without_workers_reads_in_place) { take_all_in_order(0); }

CF_TEST(prefetch_error_arrives_with_its_date) {
  const char *home = fx_home();
  char *silver = fx_silver(home);
  const char *dates[] = {"2025-03-01", "2025-03-02", "2025-02-30",
                         "2025-03-03", "2025-03-09"};
  struct cfb_prefetch *p = NULL;
  struct cfb_silver_day day;
  char *err = NULL;
  publish_days(home);
  CF_ASSERT_EQ(0, cfb_prefetch_start(silver, dates, 5, 2, &p));
  for (size_t i = 0; i < 2; i++) {
    CF_ASSERT_EQ(0, cfb_prefetch_take(p, i, &day, &err));
    cfb_silver_day_release(&day);
  }
  CF_ASSERT(cfb_prefetch_take(p, 2, &day, &err) < 0);   /* no such date */
  CF_ASSERT(err != NULL);
  cf_free(err);
  err = NULL;
  CF_ASSERT_EQ(0, cfb_prefetch_take(p, 3, &day, &err));
  cfb_silver_day_release(&day);
  CF_ASSERT_EQ(CF_ENOTFOUND, cfb_prefetch_take(p, 4, &day, &err));
  CF_ASSERT_CONTAINS(err, "2025-03-09");
  cf_free(err);
  cfb_prefetch_free(p);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(prefetch_freed_before_taking_everything) {
  const char *home = fx_home();
  char *silver = fx_silver(home);
  struct cfb_prefetch *p = NULL;
  struct cfb_silver_day day;
  char *err = NULL;
  publish_days(home);
  CF_ASSERT_EQ(0, cfb_prefetch_start(silver, days, NDAYS, 2, &p));
  cfb_prefetch_free(p);                        /* nothing taken */
  CF_ASSERT_EQ(0, cfb_prefetch_start(silver, days, NDAYS, 2, &p));
  CF_ASSERT_EQ(0, cfb_prefetch_take(p, 0, &day, &err));
  cfb_silver_day_release(&day);
  cfb_prefetch_free(p);                        /* the rest in flight */
  cfb_prefetch_free(NULL);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(day_read_survives_every_failed_allocation) {
  const char *home = fx_home();
  char *silver = fx_silver(home);
  int succeeded = 0;
  publish_days(home);
  for (long n = 0; n < 100000 && !succeeded; n++) {
    struct cfb_silver_day day;
    char *err = NULL;
    cf_alloc_fail_after(n);
    int rc = cfb_silver_day_read(silver, days[NDAYS - 1], NULL, &day,
                                 &err);
    cf_alloc_fail_after(-1);
    if (rc == 0) {
      CF_ASSERT_EQ(40 * (NDAYS - 1) + 3, day.resources.n);
      cfb_silver_day_release(&day);
      succeeded = 1;
    } else {
      CF_ASSERT(rc < 0);
    }
    cf_free(err);
  }
  CF_ASSERT(succeeded);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(pipelined_load_writes_what_a_day_by_day_load_writes) {
  const char *home = fx_home();
  char *silver = fx_silver(home), *err = NULL;
  struct cfb_gold_part all[NDAYS], one[NDAYS];
  sqlite3 *a = fx_wh_open(home, "all.db"), *b = fx_wh_open(home, "one.db");
  publish_days(home);
  CF_ASSERT_EQ(0, cfb_gold_load(a, silver, days, NDAYS, NULL, all, &err));
  for (size_t i = 0; i < NDAYS; i++)
    CF_ASSERT_EQ(0, cfb_gold_load(b, silver, &days[i], 1, NULL, &one[i],
                                  &err));
  for (size_t i = 0; i < NDAYS; i++) {
    CF_ASSERT_STR(one[i].checksum, all[i].checksum);
    CF_ASSERT_EQ(40 * (int)i + 4, all[i].silver_rows);
  }
  char *da = fx_dump_wh(a), *db = fx_dump_wh(b);
  CF_ASSERT_STR(db, da);
  /* Every resource row arrived, batches and remainders alike. */
  sqlite3_stmt *st = NULL;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(a, "SELECT count(*),"
               " sum(usage_rows), count(DISTINCT usage_date) FROM"
               " fact_resource_daily", -1, &st, NULL));
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(st));
  CF_ASSERT_EQ(40 * 15 + 3 * NDAYS, sqlite3_column_int(st, 0));
  CF_ASSERT_EQ(40 * 15 + 3 * NDAYS, sqlite3_column_int(st, 1));
  CF_ASSERT_EQ(NDAYS, sqlite3_column_int(st, 2));
  sqlite3_finalize(st);
  cf_free(da);
  cf_free(db);
  sqlite3_close(a);
  sqlite3_close(b);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(pipelined_load_fails_whole_on_a_bad_later_day) {
  const char *home = fx_home();
  char *silver = fx_silver(home), *err = NULL;
  const char *dates[] = {"2025-03-01", "2025-03-02", "2025-03-07"};
  struct cfb_gold_part parts[3];
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  publish_days(home);
  CF_ASSERT_EQ(CF_ENOTFOUND,
               cfb_gold_load(db, silver, dates, 3, NULL, parts, &err));
  CF_ASSERT_CONTAINS(err, "2025-03-07");
  cf_free(err);
  sqlite3_stmt *st = NULL;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(db, "SELECT count(*) FROM"
               " fact_resource_daily", -1, &st, NULL));
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(st));
  CF_ASSERT_EQ(0, sqlite3_column_int(st, 0));      /* rolled back */
  sqlite3_finalize(st);
  sqlite3_close(db);
  cf_free(silver);
  fx_rm(home);
}

/* Rows per statement of the biggest resource insert a connection ran. */
static int trace_res_rows(unsigned type, void *ctx, void *p, void *x) {
  sqlite3_stmt *st = p;
  const char *sql = sqlite3_sql(st);
  int *rows = ctx;
  (void)x;
  if (type == SQLITE_TRACE_STMT && sql && !strncmp(sql, "INSERT", 6) &&
      strstr(sql, "fact_resource_daily")) {
    int r = sqlite3_bind_parameter_count(st) / 8;   /* 8 columns a row */
    if (r > *rows) *rows = r;
  }
  return 0;
}

/* Loads every day on a connection allowing `limit` host parameters (0:
 * SQLite's own); returns the dump and the resource rows per insert. */
static char *load_with_limit(const char *home, int limit, int *rows) {
  char *silver = fx_silver(home), *err = NULL;
  char *name = cf_asprintf("limit%d.db", limit);
  struct cfb_gold_part parts[NDAYS];
  sqlite3 *db = fx_wh_open(home, name);
  *rows = 0;
  if (limit) sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, limit);
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_res_rows, rows);
  int ret = cfb_gold_load(db, silver, days, NDAYS, NULL, parts, &err);
  if (ret < 0) fprintf(stderr, "  limit %d: %s\n", limit, err ? err : "?");
  CF_ASSERT_EQ(0, ret);
  sqlite3_trace_v2(db, 0, NULL, NULL);
  char *dump = fx_dump_wh(db);
  sqlite3_close(db);
  cf_free(name);
  cf_free(silver);
  return dump;
}

CF_TEST(load_under_a_low_parameter_limit_writes_the_same) {
  /* The batch shrinks to what the connection allows (999: older SQLite
   * builds; 15: the widest single statement, one row per insert), and
   * the days still span whole batches plus remainders. */
  static const int limits[] = {999, 40, 16, 15};
  const char *home = fx_home();
  int rows = 0;
  publish_days(home);
  char *want = load_with_limit(home, 0, &rows);
  CF_ASSERT(rows > 999 / 8 - 1);                   /* full-size batches */
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    char *got = load_with_limit(home, limits[i], &rows);
    CF_ASSERT_EQ(limits[i] / 8, rows);             /* the fallback ran */
    CF_ASSERT_STR(want, got);
    cf_free(got);
  }
  cf_free(want);
  fx_rm(home);
}

CF_TEST_MAIN()
