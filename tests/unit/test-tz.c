/* TZif reader: offsets at transitions, POSIX footer rules past the last
 * transition (checked against glibc over 1970-2110), name checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "costflow/cron.h"

static int64_t at(const char *s) {
  int64_t t = 0;
  CF_ASSERT_EQ(0, cf_parse_instant(s, &t));
  return t;
}

static struct cf_tz *load(const char *name) {
  struct cf_tz *tz = NULL;
  CF_ASSERT_EQ(0, cf_tz_load(name, &tz));
  CF_ASSERT(tz != NULL);
  return tz;
}

static void expect_offsets(const char *zone, const char *const *inst,
                           const int32_t *off, int n) {
  struct cf_tz *tz = load(zone);
  for (int i = 0; i < n; i++) {
    int32_t got = cf_tz_offset_at(tz, at(inst[i]));
    if (got != off[i])
      CF_FAIL_("%s at %s: offset %d, want %d", zone, inst[i], got, off[i]);
  }
  cf_tz_free(tz);
}

CF_TEST(tz_utc) {
  struct cf_tz *tz = load("UTC");
  CF_ASSERT_STR("UTC", cf_tz_name(tz));
  CF_ASSERT_EQ(0, cf_tz_offset_at(tz, 0));
  CF_ASSERT_EQ(0, cf_tz_offset_at(tz, at("2100-07-01T00:00Z")));
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 3, 9),
               cf_tz_local_date(tz, at("2025-03-09T23:59:59Z")));
  cf_tz_free(tz);
}

CF_TEST(tz_utc_without_tzdata) {
  setenv("TZDIR", "/nonexistent", 1);
  struct cf_tz *tz = load("UTC");
  CF_ASSERT_EQ(0, cf_tz_offset_at(tz, at("2025-06-01T00:00Z")));
  cf_tz_free(tz);
  struct cf_tz *ny = NULL;
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_tz_load("America/New_York", &ny));
  CF_ASSERT(ny == NULL);
}

CF_TEST(tz_new_york_2025) {
  static const char *const inst[] = {
    "2025-01-15T12:00Z", "2025-03-09T06:59:59Z", "2025-03-09T07:00:00Z",
    "2025-11-02T05:59:59Z", "2025-11-02T06:00:00Z"};
  static const int32_t off[] = {-18000, -18000, -14400, -14400, -18000};
  expect_offsets("America/New_York", inst, off, 5);
}

CF_TEST(tz_london_2025) {
  static const char *const inst[] = {
    "2025-03-30T00:59:59Z", "2025-03-30T01:00:00Z", "2025-10-26T00:59:59Z",
    "2025-10-26T01:00:00Z"};
  static const int32_t off[] = {0, 3600, 3600, 0};
  expect_offsets("Europe/London", inst, off, 4);
}

CF_TEST(tz_kolkata_and_lord_howe) {
  static const char *const k[] = {"2025-06-01T00:00Z", "2100-01-01T00:00Z"};
  static const int32_t ko[] = {19800, 19800};
  expect_offsets("Asia/Kolkata", k, ko, 2);
  /* Lord Howe: +10:30 standard, +11 summer (30-minute DST). */
  static const char *const l[] = {
    "2025-04-05T14:59:59Z", "2025-04-05T15:00:00Z", "2025-10-04T15:29:59Z",
    "2025-10-04T15:30:00Z"};
  static const int32_t lo[] = {39600, 37800, 37800, 39600};
  expect_offsets("Australia/Lord_Howe", l, lo, 4);
}

CF_TEST(tz_footer_rules_far_future) {
  /* Past 2037 only the POSIX footer speaks: EST5EDT,M3.2.0,M11.1.0 and
   * GMT0BST,M3.5.0/1,M10.5.0. 2104-03-09 and 2104-11-02 are the 2nd
   * Sunday of March and 1st Sunday of November. */
  static const char *const ny[] = {
    "2104-03-09T06:59:59Z", "2104-03-09T07:00:00Z", "2104-11-02T05:59:59Z",
    "2104-11-02T06:00:00Z", "2096-02-29T05:00:00Z"};
  static const int32_t nyo[] = {-18000, -14400, -14400, -18000, -18000};
  expect_offsets("America/New_York", ny, nyo, 5);
  /* 2100-03-28 and 2100-10-31: last Sundays of March and October. */
  static const char *const lon[] = {
    "2100-03-28T00:59:59Z", "2100-03-28T01:00:00Z", "2100-10-31T00:59:59Z",
    "2100-10-31T01:00:00Z"};
  static const int32_t lono[] = {0, 3600, 3600, 0};
  expect_offsets("Europe/London", lon, lono, 4);
}

/* glibc reads the same files; in this forked test child swapping TZ is
 * harmless, and it gives an independent oracle for every instant. */
CF_TEST(tz_matches_glibc_1970_2110) {
  static const char *const zones[] = {
    "America/New_York", "Europe/London", "Australia/Lord_Howe",
    "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"};
  int64_t from = at("1970-01-01T00:00Z"), to = at("2110-12-31T00:00Z");
  for (size_t z = 0; z < sizeof zones / sizeof *zones; z++) {
    struct cf_tz *tz = load(zones[z]);
    setenv("TZ", zones[z], 1);
    tzset();
    for (int64_t t = from; t < to; t += 7 * 3600 + 13 * 60 + 7) {
      time_t tt = (time_t)t;
      struct tm tm;
      localtime_r(&tt, &tm);
      if (tm.tm_gmtoff != cf_tz_offset_at(tz, t)) {
        char buf[32];
        cf_format_iso_s(t, buf);
        CF_FAIL_("%s at %.20s: %d, glibc %ld", zones[z], buf,
                 cf_tz_offset_at(tz, t), (long)tm.tm_gmtoff);
      }
      cf_date want = cf_date_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1,
                                      tm.tm_mday);
      CF_ASSERT_EQ(want, cf_tz_local_date(tz, t));
    }
    cf_tz_free(tz);
  }
}

CF_TEST(tz_local_date) {
  struct cf_tz *tz = load("America/New_York");
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 3, 8),
               cf_tz_local_date(tz, at("2025-03-09T04:59:59Z")));
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 3, 9),
               cf_tz_local_date(tz, at("2025-03-09T05:00:00Z")));
  cf_tz_free(tz);
  tz = load("Asia/Kolkata");
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 6, 2),
               cf_tz_local_date(tz, at("2025-06-01T18:30:00Z")));
  cf_tz_free(tz);
}

CF_TEST(tz_rejects_bad_names) {
  static const char *const bad[] = {
    "", "/etc/localtime", "../etc/passwd", "America/../../etc/passwd",
    "Europe/..", "America//New_York", "America/", "Europe/London;rm",
    "zone.tab", "tzdata.zi"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct cf_tz *tz = (struct cf_tz *)&tz;
    int ret = cf_tz_load(bad[i], &tz);
    if (ret != CF_EINVALID)
      CF_FAIL_("\"%s\": %d, want CF_EINVALID", bad[i], ret);
    CF_ASSERT(tz == NULL);
  }
  struct cf_tz *tz = NULL;
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_tz_load("Mars/Olympus_Mons", &tz));
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_tz_load("America", &tz));   /* a dir */
  CF_ASSERT_EQ(CF_EINVALID, cf_tz_load(NULL, &tz));
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CF_ASSERT(f != NULL);
  CF_ASSERT_EQ(n, fwrite(p, 1, n, f));
  CF_ASSERT_EQ(0, fclose(f));
}

static uint32_t be32at(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* A private TZDIR with a v1-only copy of New York, a truncated file and
 * garbage: v1 must parse, the others must be refused. */
CF_TEST(tz_tzdir_v1_and_corrupt_files) {
  struct cf_buf src = CF_BUF_INIT(1 << 20);
  CF_ASSERT_EQ(0, cf_buf_read_file(&src, "/usr/share/zoneinfo/America/"
                                         "New_York"));
  char dir[] = "/tmp/cf-tz-XXXXXX";
  CF_ASSERT(mkdtemp(dir) != NULL);
  setenv("TZDIR", dir, 1);
  const unsigned char *p = (const unsigned char *)src.buf;
  uint32_t c[6];
  for (int i = 0; i < 6; i++) c[i] = be32at(p + 20 + 4 * i);
  /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt, 32-bit times */
  size_t v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
  CF_ASSERT(v1 < src.len);
  char *copy = cf_malloc(v1);
  memcpy(copy, src.buf, v1);
  copy[4] = '\0';                               /* version 1 */
  char *path = cf_asprintf("%s/V1York", dir);
  write_file(path, copy, v1);
  struct cf_tz *tz = load("V1York");
  CF_ASSERT_EQ(-14400, cf_tz_offset_at(tz, at("2025-07-01T00:00Z")));
  CF_ASSERT_EQ(-18000, cf_tz_offset_at(tz, at("2025-03-09T06:59:59Z")));
  CF_ASSERT_EQ(-14400, cf_tz_offset_at(tz, at("2025-03-09T07:00:00Z")));
  cf_tz_free(tz);
  cf_free(path);

  path = cf_asprintf("%s/Short", dir);
  write_file(path, src.buf, src.len - 200);       /* cut in v2 data */
  tz = NULL;
  CF_ASSERT_EQ(CF_EINVALID, cf_tz_load("Short", &tz));
  CF_ASSERT(tz == NULL);
  unlink(path);
  cf_free(path);

  path = cf_asprintf("%s/Text", dir);
  write_file(path, "TZ=UTC\n", 7);
  CF_ASSERT_EQ(CF_EINVALID, cf_tz_load("Text", &tz));
  unlink(path);
  cf_free(path);

  /* A v2 file whose footer is not a POSIX TZ string. */
  memcpy(copy, src.buf, 5);
  path = cf_asprintf("%s/BadFooter", dir);
  char *bad = cf_malloc(src.len + 8);
  size_t foot = src.len - 1;                      /* last '\n' */
  while (foot > 0 && src.buf[foot - 1] != '\n') foot--;
  memcpy(bad, src.buf, foot);
  memcpy(bad + foot, "EST5EDT,M13.2.0,M11.1.0\n", 24);
  write_file(path, bad, foot + 24);
  CF_ASSERT_EQ(CF_EINVALID, cf_tz_load("BadFooter", &tz));
  unlink(path);
  cf_free(path);
  cf_free(bad);

  path = cf_asprintf("%s/V1York", dir);
  unlink(path);
  cf_free(path);
  rmdir(dir);
  cf_free(copy);
  cf_buf_release(&src);
}

CF_TEST(tz_out_of_memory) {
  for (long n = 0; n < 6; n++) {
    struct cf_tz *tz = NULL;
    cf_alloc_fail_after(n);
    int ret = cf_tz_load("Europe/London", &tz);
    cf_alloc_fail_after(-1);
    CF_ASSERT(ret == 0 || ret == -ENOMEM);
    CF_ASSERT((ret == 0) == (tz != NULL));
    cf_tz_free(tz);
  }
}

CF_TEST(date_format_matches_printf) {
  /* cf_date_format writes digits itself for years 0..9999 (per-row
   * callers); it must print what "%04d-%02d-%02d" prints, on both sides
   * of that range too. */
  cf_date lo = cf_date_from_ymd(-3, 1, 1), hi = cf_date_from_ymd(10003, 12, 31);
  for (cf_date d = lo; d <= hi; d += d % 97 == 0 ? 1 : 13) {
    int y, m, dd;
    char got[11], want[48];
    cf_date_to_ymd(d, &y, &m, &dd);
    snprintf(want, sizeof want, "%04d-%02d-%02d", y % 10000, m % 100,
             dd % 100);
    want[10] = '\0';
    cf_date_format(d, got);
    CF_ASSERT_STR(got, want);
  }
}

CF_TEST(iso_s_matches_printf) {
  /* cf_format_iso_s writes digits itself for years 0..9999 (silver's
   * per-row timestamps); it must print what the printf format prints,
   * at every second of a day and on both sides of that range. */
  int64_t lo = (int64_t)cf_date_from_ymd(-3, 1, 1) * 86400;
  int64_t hi = (int64_t)cf_date_from_ymd(10003, 12, 31) * 86400 + 86399;
  uint64_t r = 88172645463325252ULL;
  for (int64_t t = lo; t <= hi;) {
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t rem = t - days * 86400;
    int y, m, d;
    char got[32], want[96];
    cf_date_to_ymd((cf_date)days, &y, &m, &d);
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", y % 10000,
             m % 100, d % 100, (int)(rem / 3600), (int)(rem / 60 % 60),
             (int)(rem % 60));
    memset(got, 'x', sizeof got);
    cf_format_iso_s(t, got);
    CF_ASSERT_STR(got, want);
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;      /* xorshift64 */
    t += 1 + (int64_t)(r % (86400 * 9));
  }
  char got[32];
  cf_format_iso_s(0, got);
  CF_ASSERT_STR(got, "1970-01-01T00:00:00Z");
  cf_format_iso_s(-1, got);
  CF_ASSERT_STR(got, "1969-12-31T23:59:59Z");
  cf_format_iso_s(253402300799, got);
  CF_ASSERT_STR(got, "9999-12-31T23:59:59Z");
}

CF_TEST_MAIN()
