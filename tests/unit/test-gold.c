/* Gold warehouse: exact totals, re-run replaces, atomic republish under a
 * concurrent reader, failure publishes nothing, deterministic checksum,
 * and the report built from it. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include "cf_test.h"
#include "gold_fixture.h"
#include "gold_warehouse.h"
#include "report_build.h"
#include "costflow/decimal.h"

static int load(sqlite3 *db, const char *home, const char *const *dates,
                size_t n, struct cfb_gold_part *parts) {
  char *silver = fx_silver(home), *err = NULL;
  struct cfb_gold_run run = {"dag", "run1", "2025-01-03"};
  int ret = cfb_gold_load(db, silver, dates, n, &run, parts, &err);
  if (ret < 0) fprintf(stderr, "  load: %s\n", err ? err : "?");
  cf_free(err);
  cf_free(silver);
  return ret;
}

/* Exact sum (in C) of a money column over a WHERE clause. */
static const char *sum_col(sqlite3 *db, const char *col, const char *where) {
  static char out[CF_DEC_MAXSTR];
  char *sql = cf_asprintf("SELECT 'k', %s FROM fact_daily_cost WHERE %s",
                          col, where);
  sqlite3_stmt *st = NULL;
  struct cfb_groups g;
  cfb_groups_init(&g, 1, 1);
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
  CF_ASSERT_EQ(0, cfb_gold_sum_query(st, &g));
  cf_dec_format(g.n ? g.v[0].sums[0] : CF_DEC_ZERO, out);
  sqlite3_finalize(st);
  cfb_groups_release(&g);
  cf_free(sql);
  return out;
}

/* Day 1: aws compute 3 rows, a credit, gcp storage; tiny fractions that a
 * double would lose. */
static void day1(const char *home, int v) {
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
         "0.1", "1");
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
         "0.2", "1");
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-2", "Usage",
         "10000000000.000000000000000001", "0");
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "", "Credit",
         "-5.5", "0");
  fx_row(f, "2025-01-01", "p-9", "Google Cloud", "Cloud Storage",
         "europe-west1", "b-1", "Usage", "1.23456789", "3.5");
  fx_end(&d, home, "2025-01-01", v);
}

CF_TEST(gold_exact_totals) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part p[1];
  const char *dates[] = {"2025-01-01"};
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, p));
  CF_ASSERT_EQ(2, p[0].fact_rows);     /* EC2 (usage+credit), GCS */
  CF_ASSERT_EQ(5, p[0].silver_rows);
  CF_ASSERT_EQ(1, p[0].version);
  CF_ASSERT_STR("9999999994.800000000000000001",
                q1(db, "SELECT billed_cost FROM fact_daily_cost WHERE"
                       " service_name='EC2' AND sub_account_id='111' AND"
                       " service_category='Compute' AND row_count=4"));
  CF_ASSERT_STR("-5.5", q1(db, "SELECT credit_cost FROM agg_daily_provider"
                               " WHERE provider='AWS'"));
  CF_ASSERT_STR("9999999994.800000000000000001",
                q1(db, "SELECT billed_cost FROM agg_daily_provider WHERE"
                       " provider='AWS'"));
  CF_ASSERT_STR("9999999996.034567890000000001",
                sum_col(db, "billed_cost", "1"));
  CF_ASSERT_STR("1.23456789", q1(db, "SELECT billed_cost FROM"
                " agg_monthly_provider WHERE month='2025-01' AND"
                " provider='Google Cloud'"));
  CF_ASSERT_STR("EC2", q1(db, "SELECT service_name FROM agg_top_services"
                              " WHERE month='2025-01' AND rank=1"));
  CF_ASSERT_STR("3", q1(db, "SELECT count(*) FROM fact_resource_daily"));
  CF_ASSERT_STR("0", q1(db, "SELECT usage_quantity FROM fact_resource_daily"
                            " WHERE resource_id='i-2'"));
  CF_ASSERT_STR("2", q1(db, "SELECT count(*) FROM dim_account"));
  CF_ASSERT_STR("3", q1(db, "SELECT day_of_week FROM dim_date"));  /* Wed */
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST(gold_rerun_replaces_not_appends) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part a, b;
  const char *dates[] = {"2025-01-01"};
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &a));
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &b));
  CF_ASSERT_STR(a.checksum, b.checksum);
  CF_ASSERT_EQ(2, b.version);
  CF_ASSERT_STR("2", q1(db, "SELECT count(*) FROM fact_daily_cost"));
  CF_ASSERT_STR("9999999996.034567890000000001",
                sum_col(db, "billed_cost", "1"));
  /* A restated silver partition replaces the old rows entirely. */
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "S3", "us-east-1", "", "Usage",
         "7", "1");
  fx_end(&d, home, "2025-01-01", 2);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &b));
  CF_ASSERT(strcmp(a.checksum, b.checksum) != 0);
  CF_ASSERT_STR("1", q1(db, "SELECT count(*) FROM fact_daily_cost"));
  CF_ASSERT_STR("7", q1(db, "SELECT billed_cost FROM agg_monthly_provider"));
  CF_ASSERT_STR("1", q1(db, "SELECT count(*) FROM agg_monthly_provider"));
  CF_ASSERT_STR("0", q1(db, "SELECT count(*) FROM fact_resource_daily"));
  CF_ASSERT_STR("2", q1(db, "SELECT silver_version FROM gold_partitions"));
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST(gold_failure_publishes_nothing) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part p[2];
  const char *one[] = {"2025-01-01"};
  const char *two[] = {"2025-01-01", "2025-01-02"};   /* 02 is missing */
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, one, 1, p));
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "S3", "us-east-1", "", "Usage",
         "7", "1");
  fx_end(&d, home, "2025-01-01", 2);
  CF_ASSERT_EQ(CF_ENOTFOUND, load(db, home, two, 2, p));
  CF_ASSERT_STR("2", q1(db, "SELECT count(*) FROM fact_daily_cost"));
  CF_ASSERT_STR("1", q1(db, "SELECT version FROM gold_partitions"));
  /* A malformed money value fails the load, also leaving the old data. */
  f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "S3", "us-east-1", "", "Usage",
         "12.5x", "1");
  fx_end(&d, home, "2025-01-01", 3);
  CF_ASSERT(load(db, home, one, 1, p) < 0);
  CF_ASSERT_STR("9999999996.034567890000000001",
                sum_col(db, "billed_cost", "1"));
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST(gold_checksum_independent_of_row_order) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part a, b;
  const char *dates[] = {"2025-01-01"};
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "1", "AWS", "A", "r", "", "Usage", "1.5", "1");
  fx_row(f, "2025-01-01", "2", "AWS", "B", "r", "", "Usage", "2.5", "1");
  fx_end(&d, home, "2025-01-01", 1);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &a));
  f = fx_begin(&d);
  fx_row(f, "2025-01-01", "2", "AWS", "B", "r", "", "Usage", "2.50", "1");
  fx_row(f, "2025-01-01", "1", "AWS", "A", "r", "", "Usage", "1.5", "1.0");
  fx_end(&d, home, "2025-01-01", 2);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &b));
  CF_ASSERT_STR(a.checksum, b.checksum);
  CF_ASSERT(strcmp(a.silver_checksum, b.silver_checksum) != 0);
  sqlite3_close(db);
  fx_rm(home);
}

/* Total billed cost of 2025-01-01 as one read (one snapshot), -1 if the
 * date has no rows at all. */
static int reader_total(sqlite3 *db, char out[CF_DEC_MAXSTR]) {
  sqlite3_stmt *st = NULL;
  struct cfb_groups g;
  int ret = -1;
  cfb_groups_init(&g, 1, 1);
  if (sqlite3_prepare_v2(db, "SELECT 'k', billed_cost FROM fact_daily_cost"
                         " WHERE usage_date='2025-01-01'", -1, &st, NULL) ==
          SQLITE_OK &&
      cfb_gold_sum_query(st, &g) == 0 && g.n == 1) {
    cf_dec_format(g.v[0].sums[0], out);
    ret = 0;
  }
  sqlite3_finalize(st);
  cfb_groups_release(&g);
  return ret;
}

CF_TEST(gold_atomic_republish_under_reader) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  const char *dates[] = {"2025-01-01"};
  struct cfb_gold_part p;
  char *path = cf_asprintf("%s/warehouse.db", home);
  /* Version A: 40 rows of 0.01 in 40 groups = 0.4; version B: 0.8. */
  for (int v = 1; v <= 2; v++) {
    struct fx_day d;
    FILE *f = fx_begin(&d);
    for (int i = 0; i < 40; i++) {
      char svc[16];
      snprintf(svc, sizeof svc, "svc%02d", i);
      fx_row(f, "2025-01-01", "1", "AWS", svc, "r", "", "Usage",
             v == 1 ? "0.01" : "0.02", "1");
    }
    fx_end(&d, home, "2025-01-01", v);
  }
  /* silver now points at B; load A first by re-pointing current. */
  fx_publish(home, "2025-01-01", 3, "");
  char *v1 = cf_asprintf("%s/lake/silver/cost/usage_date=2025-01-01",
                         home);
  char *cur = cf_asprintf("%s/current", v1), *tmp = cf_asprintf("%s/.t", v1);
  unlink(tmp);
  CF_ASSERT_EQ(0, symlink("v000001", tmp));
  CF_ASSERT_EQ(0, rename(tmp, cur));
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &p));

  int pipefd[2];
  CF_ASSERT_EQ(0, pipe(pipefd));
  pid_t pid = fork();
  if (pid == 0) {           /* reader: loop until killed */
    sqlite3 *rd = NULL;
    char t[CF_DEC_MAXSTR];
    long reads = 0;
    close(pipefd[0]);
    if (sqlite3_open_v2(path, &rd, SQLITE_OPEN_READONLY, NULL)) _exit(3);
    sqlite3_busy_timeout(rd, 10000);
    if (write(pipefd[1], "r", 1) != 1) _exit(4);
    for (;;) {
      if (reader_total(rd, t) < 0) _exit(1);          /* nothing or mix */
      if (strcmp(t, "0.4") && strcmp(t, "0.8")) _exit(2);
      reads++;
    }
  }
  close(pipefd[1]);
  char c;
  CF_ASSERT_EQ(1, read(pipefd[0], &c, 1));
  for (int i = 0; i < 50; i++) {   /* republish alternating A and B */
    unlink(tmp);
    CF_ASSERT_EQ(0, symlink(i % 2 ? "v000001" : "v000002", tmp));
    CF_ASSERT_EQ(0, rename(tmp, cur));
    CF_ASSERT_EQ(0, load(db, home, dates, 1, &p));
  }
  int st = 0;
  CF_ASSERT_EQ(0, waitpid(pid, &st, WNOHANG));  /* reader still happy */
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  CF_ASSERT(WIFSIGNALED(st));
  CF_ASSERT_EQ(51, p.version);
  CF_ASSERT_STR("0.4", q1(db, "SELECT billed_cost FROM agg_daily_provider"));
  cf_free(tmp);
  cf_free(cur);
  cf_free(v1);
  cf_free(path);
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST(silver_day_checksum_is_the_file_sha256) {
  /* The hash runs block by block ahead of the parser: over several
   * blocks it must still be the sha256 of the whole file. */
  const char *home = fx_home();
  struct fx_day d;
  struct cfb_silver_day day;
  char want[65], pieces[65], *err = NULL, *silver = fx_silver(home);
  FILE *f = fx_begin(&d);
  for (int i = 0; i < 4000; i++) {
    char res[32];
    snprintf(res, sizeof res, "i-%05d", i);
    fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", res, "Usage",
           "0.1", "1");
  }
  fx_end(&d, home, "2025-01-01", 1);
  char *path = cf_asprintf("%s/usage_date=2025-01-01/v000001/data.csv",
                           silver);
  CF_ASSERT_EQ(0, cf_sha256_file(path, want));
  CF_ASSERT_EQ(0, cfb_silver_day_read(silver, "2025-01-01", NULL, &day,
                                      &err));
  CF_ASSERT_STR(want, day.checksum);
  CF_ASSERT_EQ(4000, day.rows);
  CF_ASSERT_EQ(4000, day.resources.n);
  cfb_silver_day_release(&day);
  /* cf_sha256_new/update/end over uneven pieces is cf_sha256_mem. */
  struct cf_buf b = CF_BUF_INIT(0);
  CF_ASSERT_EQ(0, cf_buf_read_file(&b, path));
  struct cf_sha256 *sha = cf_sha256_new();
  CF_ASSERT(sha != NULL);
  for (size_t at = 0, k = 1; at < b.len; at += k, k = k * 3 + 1)
    cf_sha256_update(sha, b.buf + at, k < b.len - at ? k : b.len - at);
  cf_sha256_end(sha, pieces);
  CF_ASSERT_STR(want, pieces);
  cf_sha256_end(cf_sha256_new(), NULL);    /* frees without a result */
  cf_buf_release(&b);
  cf_free(path);
  cf_free(err);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(gold_refuses_silver_that_differs_from_its_manifest) {
  /* Cut at a line break the file still parses; only the manifest's
   * checksum and row count tell it is not what silver published. */
  const char *home = fx_home();
  struct fx_day d;
  struct cfb_silver_day day;
  char *err = NULL, *silver = fx_silver(home);
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
         "0.1", "1");
  fx_row(f, "2025-01-01", "111", "AWS", "EC2", "us-east-1", "i-2", "Usage",
         "0.2", "1");
  fx_end(&d, home, "2025-01-01", 1);
  CF_ASSERT_EQ(0, cfb_silver_day_read(silver, "2025-01-01", NULL, &day,
                                      &err));
  cfb_silver_day_release(&day);
  char *dir = cf_asprintf("%s/usage_date=2025-01-01/v000001", silver);
  char *path = cf_asprintf("%s/data.csv", dir);
  struct cf_buf b = CF_BUF_INIT(0);
  CF_ASSERT_EQ(0, cf_buf_read_file(&b, path));
  size_t cut = b.len - 1;
  while (b.buf[cut - 1] != '\n') cut--;        /* drop the last row */
  CF_ASSERT_EQ(0, cf_write_file_atomic(path, b.buf, cut));
  CF_ASSERT_EQ(CF_EDATA, cfb_silver_day_read(silver, "2025-01-01", NULL,
                                             &day, &err));
  CF_ASSERT_CONTAINS(err, "changed after it was published");
  cf_free(err);
  err = NULL;
  char *manifest = cf_asprintf("%s/_manifest.json", dir);
  CF_ASSERT_EQ(0, unlink(manifest));
  CF_ASSERT_EQ(CF_EDATA, cfb_silver_day_read(silver, "2025-01-01", NULL,
                                             &day, &err));
  CF_ASSERT_CONTAINS(err, "_manifest.json");
  cf_free(err);
  cf_buf_release(&b);
  cf_free(manifest);
  cf_free(path);
  cf_free(dir);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(gold_names_the_file_whose_header_lacks_a_column) {
  const char *home = fx_home();
  struct cfb_silver_day day;
  char *err = NULL, *silver = fx_silver(home);
  fx_publish(home, "2025-01-01", 1, "");
  char *path = cf_asprintf("%s/usage_date=2025-01-01/v000001/data.csv",
                           silver);
  CF_ASSERT_EQ(0, cf_write_file_atomic(path, "BillingAccountId\n1\n", 20));
  CF_ASSERT_EQ(CF_EDATA, cfb_silver_day_read(silver, "2025-01-01", NULL,
                                             &day, &err));
  CF_ASSERT_CONTAINS(err, "v000001/data.csv: silver header lacks column");
  cf_free(err);
  cf_free(path);
  cf_free(silver);
  fx_rm(home);
}

CF_TEST(gold_effective_and_list_cost_apart_from_billed) {
  /* Most silver rows carry one text in all three costs (parsed once);
   * these differ, or are empty, and must still be summed apart. */
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part p[1];
  const char *dates[] = {"2025-01-01"};
  fx_publish(home, "2025-01-01", 1,
             "B1,111,AWS,EC2,Compute,us-east-1,i-1,Usage,"
             "2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,1.5,1.25,2,USD,1,"
             "Hrs,SKU,{},false,id1,abc,1,2025-01-01T00:00:00Z\n"
             "B1,111,AWS,EC2,Compute,us-east-1,i-1,Usage,"
             "2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,1.5,,1.50,USD,1,"
             "Hrs,SKU,{},false,id2,abc,2,2025-01-01T00:00:00Z\n");
  CF_ASSERT_EQ(0, load(db, home, dates, 1, p));
  CF_ASSERT_STR("3", q1(db, "SELECT billed_cost FROM fact_daily_cost"));
  CF_ASSERT_STR("1.25", q1(db, "SELECT effective_cost FROM"
                               " fact_daily_cost"));
  CF_ASSERT_STR("3.5", q1(db, "SELECT list_cost FROM fact_daily_cost"));
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST(gold_report_renders) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part p;
  const char *dates[] = {"2025-01-01"};
  static const char run_dates[1][11] = {"2025-01-01"};
  char *html = NULL, *md = NULL;
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &p));
  struct cfb_report_in in = {"dag<x>", "run1", "2025-01-02", db,
                             "/nonexistent/costflow.db",
                             run_dates, 1, 30};
  CF_ASSERT_EQ(0, cfb_report_build(&in, &html, &md));
  CF_ASSERT_CONTAINS(html, "<svg");
  CF_ASSERT_CONTAINS(html, "dag&lt;x&gt;");
  CF_ASSERT_CONTAINS(html, "9999999994.800000000000000001");
  CF_ASSERT_CONTAINS(html, "No data-quality results available.");
  CF_ASSERT(!strstr(html, "<script"));
  CF_ASSERT_CONTAINS(md, "| AWS | USD | 9999999994.800000000000000001 |");
  cf_free(html);
  cf_free(md);
  /* the same service billed in EUR too: its own series in the service
   * charts, never added to the USD one */
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_exec(db, "CREATE TEMP TABLE t AS SELECT *"
      " FROM fact_daily_cost WHERE service_name='EC2'; UPDATE t SET"
      " currency='EUR', billed_cost='4'; INSERT INTO fact_daily_cost SELECT"
      " * FROM t", NULL, NULL, NULL));
  CF_ASSERT_EQ(0, cfb_report_build(&in, &html, &md));
  CF_ASSERT_CONTAINS(html, "AWS / EC2 USD");
  CF_ASSERT_CONTAINS(html, "AWS / EC2 EUR");
  CF_ASSERT(!strstr(html, "9999999998.800000000000000001"));
  /* ... and top services rank within each currency: 4 EUR is the EUR
   * number 1, not ranked against ten billion USD */
  CF_ASSERT_EQ(0, cfb_gold_refresh_month(db, "2025-01"));
  CF_ASSERT_STR("1 EC2|1 EC2|2 Cloud Storage",
                q1(db, "SELECT group_concat(rank||' '||service_name, '|')"
                       " FROM (SELECT * FROM agg_top_services WHERE"
                       " month='2025-01' ORDER BY currency, rank)"));
  cf_free(html);
  cf_free(md);
  sqlite3_close(db);
  fx_rm(home);
}

/* Out of memory: for n = 0, 1, 2, ... the n-th allocation fails (and
 * every later one). A load must then fail and roll back (the warehouse
 * as before), or give what a clean load gives, never fewer rows. */
CF_TEST(gold_load_survives_every_failed_allocation) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  sqlite3 *ref = fx_wh_open(home, "ref.db");
  struct cfb_gold_part p[3], want[3];
  const char *one[] = {"2025-01-01"};
  const char *three[] = {"2025-01-01", "2025-01-02", "2025-01-03"};
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, one, 1, p));
  CF_ASSERT_EQ(0, load(ref, home, one, 1, p));
  /* Day 1 restated, days 2 and 3 new: several accounts, services,
   * resources and credits a day. */
  for (int day = 1; day <= 3; day++) {
    char date[11];
    struct fx_day d;
    snprintf(date, sizeof date, "2025-01-%02d", day);
    FILE *f = fx_begin(&d);
    for (int k = 0; k < 12; k++) {
      char acct[8], res[8], cost[16];
      snprintf(acct, sizeof acct, "%d", 100 + k % 4);
      snprintf(res, sizeof res, "i-%d", k);
      snprintf(cost, sizeof cost, "%d.%02d", day + k, k);
      fx_row(f, date, acct, k % 3 ? "AWS" : "Google Cloud",
             k % 2 ? "EC2" : "S3", "us-east-1", res, "Usage", cost, "1");
    }
    fx_row(f, date, "100", "AWS", "EC2", "us-east-1", "", "Credit", "-1",
           "0");
    fx_end(&d, home, date, 2);
  }
  char *silver = fx_silver(home), *err = NULL;
  CF_ASSERT_EQ(0, cfb_gold_load(ref, silver, three, 3, NULL, want, &err));
  char *clean = fx_dump_wh(ref), *before = fx_dump_wh(db);
  CF_ASSERT(strcmp(clean, before) != 0);
  long n;
  for (n = 0;; n++) {                  /* a few hundred allocations */
    cf_alloc_fail_after(n);
    int r = cfb_gold_load(db, silver, three, 3, NULL, p, &err);
    cf_alloc_fail_after(-1);
    cf_free(err);
    err = NULL;
    if (r == 0) break;
    CF_ASSERT(r < 0);
    char *now = fx_dump_wh(db);
    CF_ASSERT_STR(now, before);
    cf_free(now);
  }
  CF_ASSERT(n > 10);
  char *got = fx_dump_wh(db);
  CF_ASSERT_STR(got, clean);
  for (int i = 0; i < 3; i++) {
    CF_ASSERT_STR(p[i].checksum, want[i].checksum);
    CF_ASSERT_EQ(want[i].fact_rows, p[i].fact_rows);
    CF_ASSERT_EQ(want[i].silver_rows, p[i].silver_rows);
    CF_ASSERT_EQ(want[i].version, p[i].version);
  }
  cf_free(got);
  cf_free(clean);
  cf_free(before);
  cf_free(silver);
  sqlite3_close(ref);
  sqlite3_close(db);
  fx_rm(home);
}

/* The report under every failed allocation: an error, or the bytes of
 * the clean build. */
CF_TEST(gold_report_survives_every_failed_allocation) {
  const char *home = fx_home();
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  struct cfb_gold_part p;
  const char *dates[] = {"2025-01-01"};
  static const char run_dates[1][11] = {"2025-01-01"};
  char *html = NULL, *md = NULL, *want_html = NULL, *want_md = NULL;
  day1(home, 1);
  CF_ASSERT_EQ(0, load(db, home, dates, 1, &p));
  struct cfb_report_in in = {"dag", "run1", "2025-01-02", db,
                             "/nonexistent/costflow.db", run_dates, 1, 30};
  CF_ASSERT_EQ(0, cfb_report_build(&in, &want_html, &want_md));
  long n;
  for (n = 0;; n++) {
    cf_alloc_fail_after(n);
    int r = cfb_report_build(&in, &html, &md);
    cf_alloc_fail_after(-1);
    if (r == 0) break;
    CF_ASSERT(r < 0);
  }
  CF_ASSERT_STR(html, want_html);     /* once a shorter report */
  CF_ASSERT_STR(md, want_md);
  CF_ASSERT(n > 10);
  cf_free(html);
  cf_free(md);
  cf_free(want_html);
  cf_free(want_md);
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST_MAIN()
