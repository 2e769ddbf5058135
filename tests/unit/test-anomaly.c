/* Anomaly and zombie rules: exact boundaries (exactly 20% above or exactly
 * 2 sigma must not fire), huge values, and detection over a warehouse
 * (findings replaced on re-run, successors re-evaluated). */
#include <sqlite3.h>
#include "cf_test.h"
#include "gold_fixture.h"
#include "anomaly_detect.h"
#include "anomaly_rule.h"
#include "gold_warehouse.h"

static cf_dec D(const char *s) {
  cf_dec d;
  if (cf_dec_parse(s, strlen(s), &d) < 0) abort();
  return d;
}

static int fires(const char *x, const char *const *w, size_t n) {
  cf_dec win[16];
  struct cfb_anomaly_stat st;
  for (size_t i = 0; i < n; i++) win[i] = D(w[i]);
  CF_ASSERT_EQ(0, cfb_anomaly_eval(D(x), win, n, &st));
  return st.fires;
}

CF_TEST(anomaly_exactly_20_percent_does_not_fire) {
  /* flat history: sigma 0, so only the 20% test decides */
  const char *w[] = {"10", "10", "10", "10", "10", "10", "10"};
  CF_ASSERT_EQ(0, fires("12", w, 7));
  CF_ASSERT_EQ(1, fires("12.000000000000000001", w, 7));
  CF_ASSERT_EQ(0, fires("11.999999999999999999", w, 7));
}

CF_TEST(anomaly_exactly_2_sigma_does_not_fire) {
  /* mean 10, population sigma 2: 14 is exactly 2 sigma (and 40% above) */
  const char *w[] = {"8", "12", "8", "12"};
  CF_ASSERT_EQ(0, fires("14", w, 4));
  CF_ASSERT_EQ(1, fires("14.000000000000000001", w, 4));
  struct cfb_anomaly_stat st;
  cf_dec win[4] = {D("8"), D("12"), D("8"), D("12")};
  CF_ASSERT_EQ(0, cfb_anomaly_eval(D("14"), win, 4, &st));
  char m[CF_DEC_MAXSTR], s[CF_DEC_MAXSTR];
  cf_dec_format(st.mean, m);
  cf_dec_format(st.stddev, s);
  CF_ASSERT_STR("10", m);
  CF_ASSERT_STR("2", s);
  CF_ASSERT(st.has_pct && st.pct_above > 39.99 && st.pct_above < 40.01);
}

CF_TEST(anomaly_needs_both_conditions) {
  /* > 2 sigma but only 10% above: no */
  const char *flat[] = {"100", "100", "100", "100", "100", "100", "100"};
  CF_ASSERT_EQ(0, fires("110", flat, 7));
  /* > 20% above but within 2 sigma of a noisy history: no */
  const char *noisy[] = {"10", "100", "10", "100", "10", "100", "10"};
  CF_ASSERT_EQ(0, fires("90", noisy, 7));
  /* below the mean, or zero/negative cost, never fires */
  CF_ASSERT_EQ(0, fires("0", flat, 7));
  const char *neg[] = {"-10", "-10", "-10"};
  CF_ASSERT_EQ(0, fires("-1", neg, 3));
  /* new spend with an all-zero history fires */
  const char *zero[] = {"0", "0", "0"};
  CF_ASSERT_EQ(1, fires("0.01", zero, 3));
}

CF_TEST(anomaly_large_values_exact) {
  /* 10^11 per day at 18 decimals: squares need 256 bits */
  const char *w[] = {"80000000000", "120000000000", "80000000000",
                     "120000000000"};
  CF_ASSERT_EQ(0, fires("140000000000", w, 4));
  CF_ASSERT_EQ(1, fires("140000000000.000000000000000001", w, 4));
  const char *f[] = {"100000000000", "100000000000", "100000000000"};
  CF_ASSERT_EQ(0, fires("120000000000", f, 3));
  CF_ASSERT_EQ(1, fires("120000000000.000000000000000001", f, 3));
  cf_dec win[1] = {D("1e13")};
  struct cfb_anomaly_stat st;
  CF_ASSERT_EQ(CF_ETOOBIG, cfb_anomaly_eval(D("1"), win, 1, &st));
  CF_ASSERT_EQ(CF_EINVALID, cfb_anomaly_eval(D("1"), win, 0, &st));
}

CF_TEST(zombie_rule) {
  CF_ASSERT_EQ(1, cfb_zombie_is(D("0.000000000000000001"), D("0")));
  CF_ASSERT_EQ(0, cfb_zombie_is(D("0"), D("0")));
  CF_ASSERT_EQ(0, cfb_zombie_is(D("-1"), D("0")));
  CF_ASSERT_EQ(0, cfb_zombie_is(D("5"), D("0.000001")));
}

/* Eight days of EC2 at 10/day for account 111, a spike to 30 on day 8,
 * an idle volume (cost, zero usage) on day 8. */
static void history(const char *home, const char *spike) {
  for (int day = 1; day <= 8; day++) {
    char date[11];
    struct fx_day d;
    snprintf(date, sizeof date, "2025-01-%02d", day);
    FILE *f = fx_begin(&d);
    fx_row(f, date, "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
           day == 8 ? spike : (day % 2 ? "9" : "11"), "24");
    fx_row(f, date, "111", "AWS", "EBS", "us-east-1", "vol-1", "Usage",
           "1", day == 8 ? "0" : "10");
    fx_end(&d, home, date, 1);
  }
}

static long long count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long n = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static const char *all8[] = {"2025-01-01", "2025-01-02", "2025-01-03",
  "2025-01-04", "2025-01-05", "2025-01-06", "2025-01-07", "2025-01-08"};

static void load_detect(sqlite3 *db, const char *home, const char *const *d,
                        size_t n, struct cfb_anomaly_counts *c) {
  struct cfb_gold_part parts[8];
  char *silver = fx_silver(home), *err = NULL;
  CF_ASSERT_EQ(0, cfb_gold_load(db, silver, d, n, NULL, parts, &err));
  CF_ASSERT_EQ(0, cfb_anomaly_detect(db, d, n, NULL, c, &err));
  cf_free(silver);
}

CF_TEST(anomaly_detect_in_warehouse) {
  const char *home = fx_home();
  char *path = cf_asprintf("%s/warehouse.db", home), *err = NULL;
  sqlite3 *db = NULL;
  struct cfb_anomaly_counts c;
  CF_ASSERT_EQ(0, cfb_gold_open(path, &db, &err));
  history(home, "30");
  load_detect(db, home, all8, 8, &c);
  CF_ASSERT_EQ(1, c.anomalies);
  CF_ASSERT_EQ(1, c.zombies);
  CF_ASSERT_EQ(3, c.skipped);          /* days 1-3: < 3 days of history */
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM anomalies WHERE"
                            " usage_date='2025-01-08' AND service='EC2' AND"
                            " cost='30' AND trailing_avg='9.857142857142857143'"
                            " AND provisional=0 AND window_days=7"));
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM zombies WHERE"
                            " resource_id='vol-1' AND cost='1' AND"
                            " usage_date='2025-01-08'"));
  /* Re-run replaces findings, never appends. */
  load_detect(db, home, all8 + 7, 1, &c);
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM anomalies"));
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM zombies"));
  /* Restating day 8 below the threshold removes the finding. */
  history(home, "11.5");
  load_detect(db, home, all8 + 7, 1, &c);
  CF_ASSERT_EQ(0, count(db, "SELECT count(*) FROM anomalies"));
  /* Restating day 5 re-evaluates day 8, whose window contains it. */
  history(home, "30");
  load_detect(db, home, all8 + 7, 1, &c);
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM anomalies"));
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-05", "111", "AWS", "EC2", "us-east-1", "i-1", "Usage",
         "200", "24");
  fx_end(&d, home, "2025-01-05", 2);
  load_detect(db, home, all8 + 4, 1, &c);
  CF_ASSERT_EQ(4, c.dates);            /* 05 and loaded 06, 07, 08 */
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM anomalies"));
  CF_ASSERT_EQ(1, count(db, "SELECT count(*) FROM anomalies WHERE"
                            " usage_date='2025-01-05'"));
  sqlite3_close(db);
  cf_free(path);
  fx_rm(home);
}

/* Every finding, in key order. */
static char *findings(sqlite3 *db) {
  static const char *const sql[] = {
    "SELECT usage_date, provider, account, service, cost, trailing_avg,"
    " trailing_stddev, pct_above, window_days, provisional FROM anomalies"
    " ORDER BY 1, 2, 3, 4",
    "SELECT * FROM zombies ORDER BY 1, 2, 3, 4"};
  return fx_dump_rows(db, sql, 2, 0);
}

/* Out of memory: for n = 0, 1, 2, ... the n-th allocation fails (and
 * every later one). Detection must fail and change nothing, or write the
 * findings a clean run writes -- never fewer. */
CF_TEST(anomaly_detect_survives_every_failed_allocation) {
  const char *home = fx_home();
  char *err = NULL;
  sqlite3 *db = fx_wh_open(home, "warehouse.db");
  sqlite3 *ref = fx_wh_open(home, "ref.db");
  struct cfb_anomaly_counts c, want;
  history(home, "11.5");                 /* no finding on day 8 */
  load_detect(db, home, all8, 8, &c);
  load_detect(ref, home, all8, 8, &c);
  history(home, "30");                   /* restated: an anomaly */
  struct cfb_gold_part parts[8];
  char *silver = fx_silver(home);
  CF_ASSERT_EQ(0, cfb_gold_load(db, silver, all8, 8, NULL, parts, &err));
  load_detect(ref, home, all8, 8, &want);
  CF_ASSERT_EQ(1, want.anomalies);
  char *clean = findings(ref), *before = findings(db);
  CF_ASSERT(strcmp(clean, before) != 0);
  long n;
  for (n = 0;; n++) {
    memset(&c, 0, sizeof c);
    cf_alloc_fail_after(n);
    int r = cfb_anomaly_detect(db, all8, 8, NULL, &c, &err);
    cf_alloc_fail_after(-1);
    cf_free(err);
    err = NULL;
    if (r == 0) break;
    CF_ASSERT(r < 0);
    char *now = findings(db);
    CF_ASSERT_STR(now, before);
    cf_free(now);
  }
  char *got = findings(db);
  CF_ASSERT_STR(got, clean);
  CF_ASSERT_EQ(want.dates, c.dates);
  CF_ASSERT_EQ(want.skipped, c.skipped);
  CF_ASSERT_EQ(want.anomalies, c.anomalies);
  CF_ASSERT_EQ(want.zombies, c.zombies);
  CF_ASSERT(n > 10);
  cf_free(got);
  cf_free(clean);
  cf_free(before);
  cf_free(silver);
  sqlite3_close(ref);
  sqlite3_close(db);
  fx_rm(home);
}

CF_TEST_MAIN()
