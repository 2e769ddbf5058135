/* Cron parser and next/prev evaluation: the tests/data/cron/ tables
 * (.tsv), DST walks minute by minute, dom/dow rules, leap years, error
 * messages, and prev() mirroring next(). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "costflow/cron.h"

static int64_t at(const char *s) {
  int64_t t = 0;
  if (cf_parse_instant(s, &t) < 0) CF_FAIL_("bad instant \"%s\"", s);
  return t;
}

static const char *iso(int64_t t, char buf[32]) {
  cf_format_iso_s(t, buf);
  buf[20] = '\0';
  return buf;
}

static struct cf_cron *parse(const char *expr) {
  struct cf_cron *c = NULL;
  char *err = NULL;
  if (cf_cron_parse(expr, &c, &err) < 0)
    CF_FAIL_("parse \"%s\": %s", expr, err ? err : "?");
  return c;
}

static struct cf_tz *zone(const char *name) {
  struct cf_tz *tz = NULL;
  if (cf_tz_load(name, &tz) < 0) CF_FAIL_("zone %s", name);
  return tz;
}

/* Asserts the fires after `from` are exactly want[0..n). */
static void expect_next(const char *expr, const char *tzname,
                        const char *from, const char *const *want, int n) {
  struct cf_cron *c = parse(expr);
  struct cf_tz *tz = zone(tzname);
  int64_t t = at(from);
  char buf[32];
  for (int i = 0; i < n; i++) {
    int ret = cf_cron_next(c, tz, t, &t);
    if (ret < 0 || t != at(want[i]))
      CF_FAIL_("'%s' %s from %s: fire %d is %s (ret %d), want %s", expr,
               tzname, from, i, ret < 0 ? "none" : iso(t, buf), ret,
               want[i]);
  }
  cf_cron_free(c);
  cf_tz_free(tz);
}

static void expect_error(const char *expr, const char *msg) {
  struct cf_cron *c = (struct cf_cron *)&c;
  char *err = NULL;
  CF_ASSERT_EQ(CF_EINVALID, cf_cron_parse(expr, &c, &err));
  CF_ASSERT(c == NULL);
  CF_ASSERT_STR(msg, err);
  cf_free(err);
}

/* --- conformance tables ---------------------------------------------- */

static char *data_path(const char *name) {
  const char *src = getenv("CF_SOURCE_DIR");
  if (src) return cf_asprintf("%s/tests/data/cron/%s", src, name);
  char *file = cf_strdup(__FILE__);               /* .../tests/unit/x.c */
  char *p = cf_asprintf("%s/../data/cron/%s", dirname(file), name);
  cf_free(file);
  return p;
}

/* Runs every row of one table through the C API; for instants also checks
 * that prev() walks back over the same fires. Returns rows checked. */
static int run_table(const char *name) {
  char *path = data_path(name);
  FILE *f = fopen(path, "r");
  if (!f) CF_FAIL_("cannot open %s", path);
  char line[8192];
  int rows = 0, lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    if (!line[0] || line[0] == '#') continue;
    char *save = NULL;
    char *expr = strtok_r(line, "\t", &save);
    char *tzname = strtok_r(NULL, "\t", &save);
    char *from = strtok_r(NULL, "\t", &save);
    char *expect = strtok_r(NULL, "\t", &save);
    if (!expr || !tzname || !from || !expect)
      CF_FAIL_("%s:%d: need 4 tab-separated columns", name, lineno);
    rows++;
    struct cf_cron *c = NULL;
    struct cf_tz *tz = NULL;
    char *err = NULL;
    int64_t t0;
    int pr = cf_cron_parse(expr, &c, &err);
    int zr = cf_tz_load(tzname, &tz);
    int ir = cf_parse_instant(from, &t0);
    if (!strncmp(expect, "ERROR", 5)) {
      const char *msg = expect[5] ? expect + 6 : "";
      if (!strncmp(msg, "cron:", 5) || !strncmp(msg, "got ", 4)) {
        if (pr != CF_EINVALID || !err || !strstr(err, msg))
          CF_FAIL_("%s:%d: '%s': error \"%s\", want \"%s\"", name, lineno,
                   expr, err ? err : "(none)", msg);
      } else if (pr == 0 && zr == 0 && ir == 0) {
        CF_FAIL_("%s:%d: want an error", name, lineno);
      }
    } else {
      if (pr < 0 || zr < 0 || ir < 0)
        CF_FAIL_("%s:%d: '%s' %s %s: parse %d zone %d from %d (%s)", name,
                 lineno, expr, tzname, from, pr, zr, ir, err ? err : "");
      int64_t t = t0, fires[128];
      int n = 0;
      char buf[32];
      if (!strcmp(expect, "NEVER")) {
        CF_ASSERT_EQ(CF_ENEVER, cf_cron_next(c, tz, t, &t));
        CF_ASSERT_EQ(CF_ENEVER, cf_cron_prev(c, tz, t, &t));
        CF_ASSERT_EQ(1, cf_cron_never_fires(c));
      } else {
        CF_ASSERT_EQ(0, cf_cron_never_fires(c));
        for (char *w = strtok_r(expect, " ", &save); w;
             w = strtok_r(NULL, " ", &save)) {
          int ret = cf_cron_next(c, tz, t, &t);
          if (ret < 0 || t != at(w))
            CF_FAIL_("%s:%d: '%s' %s: fire %d is %s, want %s", name, lineno,
                     expr, tzname, n, ret < 0 ? "none" : iso(t, buf), w);
          if (n < 128) fires[n++] = t;
        }
        /* prev() mirrors next(): step back over the same instants. */
        for (int i = n - 1; i > 0; i--) {
          int64_t p;
          CF_ASSERT_EQ(0, cf_cron_prev(c, tz, fires[i], &p));
          if (p != fires[i - 1])
            CF_FAIL_("%s:%d: '%s' prev(%s) = %s", name, lineno, expr,
                     iso(fires[i], buf), iso(p, buf + 0));
        }
        int64_t p;
        if (n && cf_cron_prev(c, tz, fires[0], &p) == 0)
          CF_ASSERT(p <= t0);
      }
    }
    cf_free(err);
    cf_cron_free(c);
    cf_tz_free(tz);
  }
  fclose(f);
  cf_free(path);
  return rows;
}

CF_TEST(table_dst) { CF_ASSERT(run_table("dst.tsv") >= 40); }
CF_TEST(table_dialect) { CF_ASSERT(run_table("dialect.tsv") >= 30); }
CF_TEST(table_errors) { CF_ASSERT(run_table("errors.tsv") >= 25); }

/* --- DST: simulated scheduler walking minute by minute ---------------- */

/* Walks UTC minutes over [from, to) as a scheduler would: fire when the
 * clock reaches the pending next(), then ask for the next one. Records
 * fires per local date in counts[] (index = date - first). */
static int walk(const char *expr, const char *tzname, const char *from,
                const char *to, int64_t *fires, int max, int *counts,
                int ndays, cf_date first) {
  struct cf_cron *c = parse(expr);
  struct cf_tz *tz = zone(tzname);
  int64_t now = at(from), end = at(to), pending;
  int n = 0;
  CF_ASSERT_EQ(0, cf_cron_next(c, tz, now, &pending));
  for (; now < end; now += 60) {
    if (now < pending) continue;
    CF_ASSERT_EQ(now, pending);           /* fires fall on whole minutes */
    if (n < max) fires[n] = now;
    n++;
    cf_date d = cf_tz_local_date(tz, now) - first;
    CF_ASSERT(d >= 0 && d < ndays);
    counts[d]++;
    CF_ASSERT_EQ(0, cf_cron_next(c, tz, now, &pending));
    CF_ASSERT(pending > now);
  }
  cf_cron_free(c);
  cf_tz_free(tz);
  return n;
}

struct dst_case {
  const char *expr, *tz, *day;   /* day: the local date of the change */
  const char *fire;              /* the one fire on that day (fixed jobs) */
};

CF_TEST(dst_walk_fixed_jobs_once_per_date) {
  static const struct dst_case cases[] = {
    /* New York spring 2025-03-09: 02:00 EST -> 03:00 EDT. */
    {"30 2 * * *", "America/New_York", "2025-03-09", "2025-03-09T07:00:00Z"},
    {"30 1 * * *", "America/New_York", "2025-03-09", "2025-03-09T06:30:00Z"},
    {"0 1 * * *", "America/New_York", "2025-03-09", "2025-03-09T06:00:00Z"},
    /* New York fall 2025-11-02: 02:00 EDT -> 01:00 EST; first pass. */
    {"30 2 * * *", "America/New_York", "2025-11-02", "2025-11-02T07:30:00Z"},
    {"30 1 * * *", "America/New_York", "2025-11-02", "2025-11-02T05:30:00Z"},
    {"0 1 * * *", "America/New_York", "2025-11-02", "2025-11-02T05:00:00Z"},
    /* London spring 2025-03-30: 01:00 GMT -> 02:00 BST. */
    {"30 2 * * *", "Europe/London", "2025-03-30", "2025-03-30T01:30:00Z"},
    {"30 1 * * *", "Europe/London", "2025-03-30", "2025-03-30T01:00:00Z"},
    {"0 1 * * *", "Europe/London", "2025-03-30", "2025-03-30T01:00:00Z"},
    /* London fall 2025-10-26: 02:00 BST -> 01:00 GMT. */
    {"30 2 * * *", "Europe/London", "2025-10-26", "2025-10-26T02:30:00Z"},
    {"30 1 * * *", "Europe/London", "2025-10-26", "2025-10-26T00:30:00Z"},
    {"0 1 * * *", "Europe/London", "2025-10-26", "2025-10-26T00:00:00Z"},
    /* Lord Howe spring 2025-10-05: 02:00 -> 02:30 (+10:30 -> +11). */
    {"15 2 * * *", "Australia/Lord_Howe", "2025-10-05",
     "2025-10-04T15:30:00Z"},
    /* Lord Howe fall 2025-04-06: 02:00 -> 01:30 (+11 -> +10:30). */
    {"45 1 * * *", "Australia/Lord_Howe", "2025-04-06",
     "2025-04-05T14:45:00Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct dst_case *k = &cases[i];
    cf_date day;
    CF_ASSERT_EQ(0, cf_date_parse(k->day, &day));
    char from[32], to[32];
    /* Walk local dates day-1 .. day+1 (UTC bounds with 14 h slack). */
    iso((int64_t)(day - 1) * 86400 - 14 * 3600, from);
    iso((int64_t)(day + 2) * 86400 + 14 * 3600, to);
    int counts[6] = {0};
    int64_t fires[16];
    walk(k->expr, k->tz, from, to, fires, 16, counts, 6, day - 2);
    for (int d = 1; d <= 3; d++)
      if (counts[d] != 1)
        CF_FAIL_("'%s' %s: %d fires on local date %s%+d", k->expr, k->tz,
                 counts[d], k->day, d - 2);
    int found = 0;
    for (int j = 0; j < 16; j++) found |= fires[j] == at(k->fire);
    if (!found) CF_FAIL_("'%s' %s: no fire at %s", k->expr, k->tz, k->fire);
  }
}

CF_TEST(dst_walk_wildcard_jobs_follow_wall_clock) {
  static const struct {
    const char *expr, *tz, *day;
    int want;
  } cases[] = {
    {"0 * * * *", "America/New_York", "2025-03-09", 23},
    {"0 * * * *", "America/New_York", "2025-11-02", 25},
    {"0 * * * *", "Europe/London", "2025-03-30", 23},
    {"0 * * * *", "Europe/London", "2025-10-26", 25},
    {"*/30 * * * *", "America/New_York", "2025-03-09", 46},
    {"*/30 * * * *", "America/New_York", "2025-11-02", 50},
    {"*/30 * * * *", "Europe/London", "2025-03-30", 46},
    {"*/30 * * * *", "Europe/London", "2025-10-26", 50},
    {"*/15 * * * *", "Australia/Lord_Howe", "2025-10-05", 94},
    {"*/15 * * * *", "Australia/Lord_Howe", "2025-04-06", 98},
    {"0 * * * *", "Asia/Kolkata", "2025-06-01", 24},
    {"0 * * * *", "UTC", "2025-03-09", 24},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cf_date day;
    CF_ASSERT_EQ(0, cf_date_parse(cases[i].day, &day));
    char from[32], to[32];
    iso((int64_t)(day - 1) * 86400, from);
    iso((int64_t)(day + 2) * 86400, to);
    int counts[5] = {0};
    int64_t fires[1];
    walk(cases[i].expr, cases[i].tz, from, to, fires, 0, counts, 5, day - 2);
    if (counts[2] != cases[i].want)
      CF_FAIL_("'%s' %s %s: %d fires, want %d", cases[i].expr, cases[i].tz,
               cases[i].day, counts[2], cases[i].want);
  }
}

CF_TEST(dst_exact_instants_new_york) {
  static const char *const spring[] = {
    "2025-03-09T05:00:00Z", "2025-03-09T06:00:00Z", "2025-03-09T07:00:00Z",
    "2025-03-09T08:00:00Z"};  /* 00:00 EST, 01:00 EST, 03:00 EDT, 04:00 */
  expect_next("0 * * * *", "America/New_York", "2025-03-09T04:30:00Z",
              spring, 4);
  static const char *const fall[] = {
    "2025-11-02T05:00:00Z", "2025-11-02T05:30:00Z", "2025-11-02T06:00:00Z",
    "2025-11-02T06:30:00Z", "2025-11-02T07:00:00Z"};  /* 01:00 twice */
  expect_next("*/30 * * * *", "America/New_York", "2025-11-02T04:45:00Z",
              fall, 5);
  static const char *const gap[] = {"2025-03-09T07:00:00Z",
                                    "2025-03-10T06:30:00Z"};
  expect_next("30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z", gap,
              2);
}

/* --- dialect -------------------------------------------------------- */

CF_TEST(dom_dow_or_and_star_rule) {
  /* Both restricted: OR. 2025-01-01 is a Wednesday. */
  static const char *const a[] = {"2025-01-06T00:00:00Z",
                                  "2025-01-13T00:00:00Z",
                                  "2025-01-20T00:00:00Z",
                                  "2025-01-27T00:00:00Z",
                                  "2025-02-01T00:00:00Z",
                                  "2025-02-03T00:00:00Z"};
  expect_next("0 0 1 * mon", "UTC", "2025-01-01T00:00:00Z", a, 6);
  /* '*' at the start of dom makes it AND: odd days that are Mondays. */
  static const char *const b[] = {"2025-01-13T00:00:00Z",
                                  "2025-01-27T00:00:00Z",
                                  "2025-02-03T00:00:00Z"};
  expect_next("0 0 */2 * mon", "UTC", "2025-01-01T00:00:00Z", b, 3);
  /* "1-7 * 1": not the first Monday, but days 1-7 OR any Monday. */
  static const char *const c[] = {"2025-01-02T00:00:00Z",
                                  "2025-01-03T00:00:00Z",
                                  "2025-01-04T00:00:00Z",
                                  "2025-01-05T00:00:00Z",
                                  "2025-01-06T00:00:00Z",
                                  "2025-01-07T00:00:00Z",
                                  "2025-01-13T00:00:00Z"};
  expect_next("0 0 1-7 * 1", "UTC", "2025-01-01T00:00:00Z", c, 7);
  /* dow '*' and dom restricted: dom only. */
  static const char *const d[] = {"2025-01-15T00:00:00Z",
                                  "2025-02-15T00:00:00Z"};
  expect_next("0 0 15 * *", "UTC", "2025-01-01T00:00:00Z", d, 2);
}

CF_TEST(names_and_sunday) {
  static const char *const sun[] = {"2025-01-05T00:00:00Z",
                                    "2025-01-12T00:00:00Z"};
  const char *exprs[] = {"0 0 * * 0", "0 0 * * 7", "0 0 * * sun",
                         "0 0 * * SUN", "0 0 * * Sun", "@weekly"};
  for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++)
    expect_next(exprs[i], "UTC", "2025-01-01T00:00:00Z", sun, 2);
  static const char *const fss[] = {"2025-01-03T00:00:00Z",
                                    "2025-01-04T00:00:00Z",
                                    "2025-01-05T00:00:00Z",
                                    "2025-01-10T00:00:00Z"};
  expect_next("0 0 * * 5-7", "UTC", "2025-01-01T00:00:00Z", fss, 4);
  expect_next("0 0 * * FRI-7", "UTC", "2025-01-01T00:00:00Z", fss, 4);
  static const char *const mon[] = {"2025-03-01T12:00:00Z",
                                    "2025-04-01T12:00:00Z",
                                    "2025-05-01T12:00:00Z",
                                    "2026-03-01T12:00:00Z"};
  expect_next("0 12 1 Mar-MAY *", "UTC", "2025-01-01T00:00:00Z", mon, 4);
  expect_next("0 12 1 3,apr,5 *", "UTC", "2025-01-01T00:00:00Z", mon, 4);
}

CF_TEST(macros) {
  static const struct { const char *macro, *expr; } m[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"}, {"  @Daily ", "0 0 * * *"},
  };
  struct cf_tz *tz = zone("Europe/London");
  for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
    struct cf_cron *a = parse(m[i].macro), *b = parse(m[i].expr);
    int64_t ta = at("2025-01-01T00:00Z"), tb = ta;
    for (int k = 0; k < 20; k++) {
      CF_ASSERT_EQ(0, cf_cron_next(a, tz, ta, &ta));
      CF_ASSERT_EQ(0, cf_cron_next(b, tz, tb, &tb));
      CF_ASSERT_EQ(tb, ta);
    }
    cf_cron_free(a);
    cf_cron_free(b);
  }
  cf_tz_free(tz);
  static const char *const y[] = {"2026-01-01T00:00:00Z"};
  expect_next("@yearly", "UTC", "2025-01-01T00:00:00Z", y, 1);
}

CF_TEST(leap_years_2096_to_2104) {
  static const char *const a[] = {"2096-02-29T00:00:00Z",
                                  "2104-02-29T00:00:00Z",
                                  "2108-02-29T00:00:00Z"};
  expect_next("0 0 29 2 *", "UTC", "2096-01-01T00:00:00Z", a, 3);
  static const char *const b[] = {"2096-02-29T05:00:00Z",
                                  "2104-02-29T05:00:00Z"};
  expect_next("0 0 29 2 *", "America/New_York", "2096-01-01T00:00:00Z", b,
              2);
  static const char *const c[] = {"2100-02-28T00:00:00Z",
                                  "2100-03-01T00:00:00Z"};
  static const char *const c2[] = {"2100-02-28T00:00:00Z",
                                   "2101-02-28T00:00:00Z",
                                   "2102-02-28T00:00:00Z",
                                   "2103-02-28T00:00:00Z",
                                   "2104-02-28T00:00:00Z",
                                   "2104-02-29T00:00:00Z"};
  expect_next("0 0 28,29 2 *", "UTC", "2100-01-01T00:00:00Z", c2, 6);
  expect_next("0 0 1 3 *", "UTC", "2100-02-28T00:00:00Z", c + 1, 1);
  /* prev from 2104 skips 2100. */
  struct cf_cron *cr = parse("0 0 29 2 *");
  struct cf_tz *tz = zone("UTC");
  int64_t p;
  CF_ASSERT_EQ(0, cf_cron_prev(cr, tz, at("2104-02-29T00:00:00Z"), &p));
  CF_ASSERT_EQ(at("2096-02-29T00:00:00Z"), p);
  cf_cron_free(cr);
  cf_tz_free(tz);
}

CF_TEST(never_fires) {
  static const char *const never[] = {"0 0 31 2 *", "0 0 30 2 *",
                                      "0 0 30,31 feb *", "0 0 31 4,6,9,11 *",
                                      "0 0 31 2 */2"};
  static const char *const fires[] = {"0 0 29 2 *", "0 0 31 2 mon",
                                      "0 0 31 * *", "0 0 */31 2 *",
                                      "@yearly"};
  struct cf_tz *tz = zone("America/New_York");
  for (size_t i = 0; i < 5; i++) {
    struct cf_cron *c = parse(never[i]);
    int64_t t = 0;
    CF_ASSERT_EQ(1, cf_cron_never_fires(c));
    CF_ASSERT_EQ(CF_ENEVER, cf_cron_next(c, tz, 0, &t));
    CF_ASSERT_EQ(CF_ENEVER, cf_cron_prev(c, tz, 0, &t));
    cf_cron_free(c);
    c = parse(fires[i]);
    CF_ASSERT_EQ(0, cf_cron_never_fires(c));
    CF_ASSERT_EQ(0, cf_cron_next(c, tz, 0, &t));
    cf_cron_free(c);
  }
  cf_tz_free(tz);
}

CF_TEST(fixed_time_flag) {
  static const struct { const char *e; int fixed; } k[] = {
    {"30 2 * * *", 1}, {"0 1-5 * * *", 1}, {"0,30 2 * * *", 1},
    {"0 * * * *", 0},  {"* 2 * * *", 0},   {"*/15 * * * *", 0},
    {"@daily", 1},     {"@hourly", 0},
  };
  for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
    struct cf_cron *c = parse(k[i].e);
    if (cf_cron_is_fixed_time(c) != k[i].fixed) CF_FAIL_("%s", k[i].e);
    cf_cron_free(c);
  }
}

CF_TEST(error_messages) {
  expect_error("0 25 * * *",
               "cron: hour field \"25\": value 25 out of range 0-23");
  expect_error("*/0 * * * *", "cron: minute field \"*/0\": step 0 is not "
                              "allowed");
  expect_error("0 5-1 * * *", "cron: hour field \"5-1\": range 5-1 is "
                              "reversed");
  expect_error("5/15 * * * *", "cron: minute field \"5/15\": a step needs "
                               "'*' or a range (write 5-59/15)");
  expect_error("0 0 * * 8", "cron: day-of-week field \"8\": value 8 out of "
                            "range 0-7");
  expect_error("0 0 * * * *", "cron: expected 5 fields (minute hour "
               "day-of-month month day-of-week), got 6; costflow uses "
               "5-field cron; seconds/years fields are not supported");
  expect_error("0 0 * *", "cron: expected 5 fields (minute hour "
               "day-of-month month day-of-week), got 4");
  expect_error("@reboot", "cron: @reboot is not supported for DAGs (a DAG "
               "needs a time schedule; use a file trigger or run it "
               "manually)");
  expect_error("@fortnightly", "cron: unknown macro \"@fortnightly\" (use "
               "@hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
               "@annually)");
  expect_error("", "cron: empty expression");
  expect_error("   ", "cron: empty expression");
  expect_error("0 0 * jan-foo *", "cron: month field \"jan-foo\": unknown "
                                  "name \"foo\"");
  expect_error("0 0 99999999 * *", "cron: day-of-month field "
                                   "\"99999999\": number too long");
  /* errmsg may be NULL. */
  struct cf_cron *c = NULL;
  CF_ASSERT_EQ(CF_EINVALID, cf_cron_parse("61 * * * *", &c, NULL));
  CF_ASSERT_EQ(CF_EINVALID, cf_cron_parse(NULL, &c, NULL));
}

CF_TEST(prev_mirrors_next) {
  static const char *const exprs[] = {
    "30 2 * * *", "30 1 * * *", "0 * * * *", "*/30 * * * *",
    "15,45 1-2 * * *", "0 0 1 * mon", "0 0 */2 * mon", "*/7 */5 * * *"};
  static const char *const zones[] = {"America/New_York", "Europe/London",
                                      "Australia/Lord_Howe", "UTC"};
  for (size_t z = 0; z < 4; z++) {
    struct cf_tz *tz = zone(zones[z]);
    for (size_t e = 0; e < sizeof exprs / sizeof *exprs; e++) {
      struct cf_cron *c = parse(exprs[e]);
      int64_t f[400], t = at("2025-03-01T00:00:00Z");
      for (int i = 0; i < 400; i++) {
        CF_ASSERT_EQ(0, cf_cron_next(c, tz, t, &t));
        f[i] = t;
        if (i) CF_ASSERT(f[i] > f[i - 1]);
      }
      for (int i = 399; i > 0; i--) {
        int64_t p;
        CF_ASSERT_EQ(0, cf_cron_prev(c, tz, f[i], &p));
        if (p != f[i - 1]) {
          char b1[32], b2[32];
          CF_FAIL_("%s %s: prev(%s) = %s", exprs[e], zones[z],
                   iso(f[i], b1), iso(p, b2));
        }
        /* From inside the gap between fires too. */
        CF_ASSERT_EQ(0, cf_cron_prev(c, tz, f[i] - 1, &p));
        CF_ASSERT_EQ(f[i - 1], p);
        CF_ASSERT_EQ(0, cf_cron_next(c, tz, f[i - 1], &p));
        CF_ASSERT_EQ(f[i], p);
      }
      cf_cron_free(c);
    }
    cf_tz_free(tz);
  }
}

CF_TEST(year_long_dst_sweep_all_fires_distinct_and_ordered) {
  /* Every half hour across 2025 in New York: 17520 + 2 (fall repeat) - 2
   * (spring gap) = 17520 fires, each next() strictly later. */
  struct cf_cron *c = parse("*/30 * * * *");
  struct cf_tz *tz = zone("America/New_York");
  int64_t t = at("2025-01-01T04:59:59Z"), end = at("2026-01-01T05:00:00Z");
  int n = 0;
  for (;;) {
    int64_t nx;
    CF_ASSERT_EQ(0, cf_cron_next(c, tz, t, &nx));
    CF_ASSERT(nx > t);
    if (nx >= end) break;
    t = nx;
    n++;
  }
  CF_ASSERT_EQ(17520, n);
  cf_cron_free(c);
  cf_tz_free(tz);
}

CF_TEST(next_is_fast) {
  /* 28-year bounded search must not scan minutes: 2000 leap-day and
   * never-fires lookups take well under a second even under ASan. */
  struct cf_cron *leap = parse("0 0 29 2 *"), *rare = parse("0 0 13 * 5");
  struct cf_cron *minute = parse("* * * * *");
  struct cf_tz *tz = zone("Europe/London");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < 1000; i++) {
    int64_t t;
    CF_ASSERT_EQ(0, cf_cron_next(leap, tz, at("2097-01-01T00:00Z"), &t));
    CF_ASSERT_EQ(0, cf_cron_next(rare, tz, i * 86400LL * 7, &t));
    CF_ASSERT_EQ(0, cf_cron_next(minute, tz, i * 86400LL * 7, &t));
    CF_ASSERT_EQ(i * 86400LL * 7 + 60, t);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  if (secs > 5.0) CF_FAIL_("3000 next() calls took %.2fs", secs);
  cf_cron_free(leap);
  cf_cron_free(rare);
  cf_cron_free(minute);
  cf_tz_free(tz);
}

CF_TEST(parse_instant) {
  int64_t t;
  CF_ASSERT_EQ(0, cf_parse_instant("2025-03-09T07:00:00Z", &t));
  CF_ASSERT_EQ(1741503600, t);
  CF_ASSERT_EQ(0, cf_parse_instant("2025-03-09T07:00Z", &t));
  CF_ASSERT_EQ(1741503600, t);
  CF_ASSERT_EQ(0, cf_parse_instant("2025-03-09T03:00:00-04:00", &t));
  CF_ASSERT_EQ(1741503600, t);
  CF_ASSERT_EQ(0, cf_parse_instant("2025-03-09T12:30+05:30", &t));
  CF_ASSERT_EQ(1741503600, t);
  CF_ASSERT_EQ(0, cf_parse_instant("2025-03-09", &t));
  CF_ASSERT_EQ(1741478400, t);
  CF_ASSERT_EQ(0, cf_parse_instant("2096-02-29", &t));
  static const char *const bad[] = {
    "", "2025-3-9", "2025-03-09T07:00", "2025-03-09T07Z", "2025-02-29",
    "2100-02-29", "2025-13-01", "2025-03-09T24:00Z", "2025-03-09T07:60Z",
    "2025-03-09T07:00:60Z", "2025-03-09 07:00Z", "2025-03-09T07:00:00Zx",
    "2025-03-09T07:00+0530", "2025-03-09T07:00:00.5Z", "now"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (cf_parse_instant(bad[i], &t) != CF_EINVALID)
      CF_FAIL_("accepted \"%s\"", bad[i]);
  CF_ASSERT_EQ(CF_EINVALID, cf_parse_instant(NULL, &t));
}

CF_TEST(out_of_memory) {
  for (long n = 0; n < 8; n++) {
    struct cf_cron *c = NULL;
    char *err = NULL;
    cf_alloc_fail_after(n);
    int ret = cf_cron_parse("0 0 1 1 *", &c, &err);
    cf_cron_free(c);
    int ret2 = cf_cron_parse("0 99 * * *", &c, &err);
    cf_alloc_fail_after(-1);
    CF_ASSERT(ret == 0 || ret == -ENOMEM);
    CF_ASSERT(ret2 == CF_EINVALID || ret2 == -ENOMEM);
    CF_ASSERT(c == NULL);
    cf_free(err);
  }
}

CF_TEST_MAIN()
