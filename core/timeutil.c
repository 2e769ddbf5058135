/* Clocks, ISO-8601 formatting, civil dates and duration strings. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "costflow/common.h"

int64_t cf_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cf_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cf_is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int cf_days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return m == 2 && cf_is_leap(y) ? 29 : dm[m - 1];
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, no time zone involved. */
cf_date cf_date_from_ymd(int y, int m, int d) {
  y -= m <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (cf_date)(era * 146097 + (int)doe - 719468);
}

/* Hinnant's civil_from_days; static so this file's formatters inline it
 * (they run per silver row). */
static void ymd_of(cf_date z0, int *y, int *m, int *d) {
  int z = z0 + 719468;
  int era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int yy = (int)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yy + (*m <= 2);
}

void cf_date_to_ymd(cf_date z0, int *y, int *m, int *d) {
  ymd_of(z0, y, m, d);
}

int cf_date_parse(const char *s, cf_date *out) {
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return CF_EINVALID;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return CF_EINVALID;
  int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > cf_days_in_month(y, m))
    return CF_EINVALID;
  *out = cf_date_from_ymd(y, m, d);
  return 0;
}

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" (no NUL) of a year in 0..9999, without printf: the one
 * date writer behind cf_date_format and cf_format_iso_s (per-row callers:
 * silver's partition dates and timestamps). */
static void put_ymd(char *out, int y, int m, int d) {
  put2(out, y / 100);
  put2(out + 2, y % 100);
  out[4] = '-';
  put2(out + 5, m);
  out[7] = '-';
  put2(out + 8, d);
}

void cf_date_format(cf_date d, char out[11]) {
  int y, m, dd;
  ymd_of(d, &y, &m, &dd);
  if (y >= 0 && y <= 9999) {
    put_ymd(out, y, m, dd);
    out[10] = '\0';
    return;
  }
  char tmp[48];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y % 10000, m % 100, dd % 100);
  memcpy(out, tmp, 11);
  out[10] = '\0';
}

void cf_format_iso_s(int64_t s, char out[32]) {
  int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  int64_t rem = s - days * 86400;
  int y, m, d;
  ymd_of((cf_date)days, &y, &m, &d);
  if (y >= 0 && y <= 9999) {
    put_ymd(out, y, m, d);
    out[10] = 'T';
    put2(out + 11, (int)(rem / 3600));
    out[13] = ':';
    put2(out + 14, (int)(rem / 60 % 60));
    out[16] = ':';
    put2(out + 17, (int)(rem % 60));
    out[19] = 'Z';
    out[20] = '\0';
    return;
  }
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", y % 10000,
           m % 100, d % 100, (int)(rem / 3600), (int)(rem / 60 % 60),
           (int)(rem % 60));
  memcpy(out, tmp, 21);
}

void cf_format_iso_ms(int64_t ms, char out[32]) {
  int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  char tmp[32];
  cf_format_iso_s(s, tmp);
  tmp[19] = '\0';
  char res[64];
  snprintf(res, sizeof res, "%.19s.%03dZ", tmp, (int)(ms - s * 1000) % 1000);
  memcpy(out, res, 25);
}

int cf_duration_parse(const char *s, int64_t *ms) {
  if (!s || !*s) return CF_EINVALID;
  int64_t total = 0;
  const char *p = s;
  int all_digits = 1;
  for (const char *q = s; *q; q++)
    if (!isdigit((unsigned char)*q)) all_digits = 0;
  if (all_digits) {
    if (strlen(s) > 12) return CF_EINVALID;
    *ms = (int64_t)atoll(s) * 1000;
    return 0;
  }
  while (*p) {
    if (!isdigit((unsigned char)*p)) return CF_EINVALID;
    int64_t n = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p++ - '0');
      if (++digits > 12) return CF_EINVALID;
    }
    int64_t unit;
    if (p[0] == 'm' && p[1] == 's') { unit = 1; p += 2; }
    else if (*p == 's') { unit = 1000; p++; }
    else if (*p == 'm') { unit = 60000; p++; }
    else if (*p == 'h') { unit = 3600000; p++; }
    else if (*p == 'd') { unit = 86400000; p++; }
    else return CF_EINVALID;
    total += n * unit;
    if (total > (int64_t)366 * 86400000 * 10) return CF_EINVALID;
  }
  *ms = total;
  return 0;
}
