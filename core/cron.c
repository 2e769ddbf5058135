/* Cron expressions (5-field Vixie/cronie dialect): parser, and next/prev
 * evaluation on the wall clock of a cf_tz with cronie's DST rule. Also
 * the strict ISO-8601 instant parser the CLI and DAG loader share. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "costflow/common.h"
#include "costflow/cron.h"

#define CRON_SEARCH_DAYS (28 * 366 + 2)      /* "never" after 28 years */
#define CRON_FIELD_MAX 256

struct cf_cron {
  uint64_t minute;            /* bit n: minute n, 0-59 */
  uint32_t hour;              /* bit n: hour n, 0-23 */
  uint32_t dom;               /* bit n: day n, 1-31 */
  uint16_t month;             /* bit n: month n, 1-12 */
  uint8_t dow;                /* bit n: weekday n, 0-6 (0 = Sunday) */
  unsigned dom_star : 1;      /* field text starts with '*' (cronie) */
  unsigned dow_star : 1;
  unsigned fixed : 1;         /* minute and hour do not start with '*' */
};

struct cron_field {
  const char *name;
  int lo, hi;                 /* accepted values; dow accepts 7 = Sunday */
  const char *const *names;   /* 3-letter names for lo, lo+1, ... */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr",
                                          "may", "jun", "jul", "aug",
                                          "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed",
                                        "thu", "fri", "sat", NULL};

static const struct cron_field cron_fields[5] = {
  {"minute", 0, 59, NULL},
  {"hour", 0, 23, NULL},
  {"day-of-month", 1, 31, NULL},
  {"month", 1, 12, month_names},
  {"day-of-week", 0, 7, dow_names},
};

static const struct { const char *name, *expr; } cron_macros[] = {
  {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
  {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
  {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
  {"@annually", "0 0 1 1 *"},
};

/* Sets *errmsg (if wanted) and returns CF_EINVALID. */
static int cron_fail(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int cron_fail(char **errmsg, const char *fmt, ...) {
  if (errmsg) {
    struct cf_buf b = CF_BUF_INIT(1024);
    va_list ap;
    va_start(ap, fmt);
    int ret = cf_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    *errmsg = ret < 0 ? NULL : cf_buf_detach(&b, NULL);
    cf_buf_release(&b);
  }
  return CF_EINVALID;
}

/* Error naming field f and its whole text, e.g. hour field "25". */
#define FIELD_FAIL(fmt, ...)                                              \
  cron_fail(errmsg, "cron: %s field \"%s\": " fmt, f->name, text,         \
            ##__VA_ARGS__)

/* Reads one value (number or name) of field f at *pp. */
static int cron_value(const struct cron_field *f, const char *text,
                      const char **pp, int *out, char **errmsg) {
  const char *p = *pp;
  if (isdigit((unsigned char)*p)) {
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
      if (++digits > 6) return FIELD_FAIL("number too long");
      v = v * 10 + (*p++ - '0');
    }
    if (v < f->lo || v > f->hi)
      return FIELD_FAIL("value %ld out of range %d-%d", v, f->lo, f->hi);
    *out = (int)v;
  } else if (isalpha((unsigned char)*p)) {
    const char *s = p;
    while (isalpha((unsigned char)*p)) p++;
    int len = (int)(p - s), found = -1;
    for (int i = 0; f->names && f->names[i]; i++)
      if (len == 3 && !strncasecmp(s, f->names[i], 3)) found = i;
    if (found < 0) {
      if (!f->names)
        return FIELD_FAIL("unexpected \"%.*s\" (names are allowed only in "
                          "the month and day-of-week fields)", len, s);
      return FIELD_FAIL("unknown name \"%.*s\"", len, s);
    }
    *out = f->lo + found;
  } else if (*p == '?' || *p == '#') {
    return FIELD_FAIL("'%c' is Quartz syntax, not supported (use '*')", *p);
  } else if (*p == '\0' || *p == ',' || *p == '-' || *p == '/') {
    return FIELD_FAIL("missing value");
  } else {
    return FIELD_FAIL("unexpected character '%c'", *p);
  }
  *pp = p;
  return 0;
}

/* Parses one field's text into a bit set of values lo..hi. */
static int cron_field_parse(const struct cron_field *f, const char *text,
                            uint64_t *bits, char **errmsg) {
  const char *p = text;
  int ret;
  *bits = 0;
  for (;;) {
    int a, b, step = 1, range = 0;
    if (*p == '*') {
      a = f->lo;
      b = f->hi;
      range = 1;
      p++;
    } else {
      if ((ret = cron_value(f, text, &p, &a, errmsg)) < 0) return ret;
      b = a;
      if (*p == '-') {
        p++;
        if ((ret = cron_value(f, text, &p, &b, errmsg)) < 0) return ret;
        if (b < a) return FIELD_FAIL("range %d-%d is reversed", a, b);
        range = 1;
      }
    }
    if (*p == '/') {
      p++;
      if (!range)
        return FIELD_FAIL("a step needs '*' or a range (write %d-%d/%.*s)",
                          a, f->hi, (int)strspn(p, "0123456789"), p);
      if (!isdigit((unsigned char)*p)) return FIELD_FAIL("missing step");
      long s = 0;
      int digits = 0;
      while (isdigit((unsigned char)*p)) {
        if (++digits > 6) return FIELD_FAIL("step too long");
        s = s * 10 + (*p++ - '0');
      }
      if (s == 0) return FIELD_FAIL("step 0 is not allowed");
      if (s > f->hi)
        return FIELD_FAIL("step %ld is larger than %d", s, f->hi);
      step = (int)s;
    }
    for (int v = a; v <= b; v += step)
      *bits |= (uint64_t)1 << (f->hi == 7 && v == 7 ? 0 : v);
    if (*p == '\0') return 0;
    if (*p != ',') {
      if (*p == '-' || *p == '/')
        return FIELD_FAIL("unexpected '%c' after '%.*s'", *p,
                          (int)(p - text), text);
      return FIELD_FAIL("unexpected character '%c'", *p);
    }
    p++;
  }
}

int cf_cron_parse(const char *expr, struct cf_cron **out, char **errmsg) {
  char *fields[5] = {0};
  struct cf_cron *c = NULL;
  int ret = 0, n = 0;
  *out = NULL;
  if (errmsg) *errmsg = NULL;
  if (!expr) return cron_fail(errmsg, "cron: empty expression");
  while (isspace((unsigned char)*expr)) expr++;
  size_t len = strlen(expr);
  while (len && isspace((unsigned char)expr[len - 1])) len--;
  if (len == 0) return cron_fail(errmsg, "cron: empty expression");
  if (expr[0] == '@') {
    for (size_t i = 0; i < sizeof cron_macros / sizeof *cron_macros; i++)
      if (strlen(cron_macros[i].name) == len &&
          !strncasecmp(expr, cron_macros[i].name, len))
        return cf_cron_parse(cron_macros[i].expr, out, errmsg);
    if (len == 7 && !strncasecmp(expr, "@reboot", 7))
      return cron_fail(errmsg, "cron: @reboot is not supported for DAGs "
                               "(a DAG needs a time schedule; use a file "
                               "trigger or run it manually)");
    return cron_fail(errmsg, "cron: unknown macro \"%.*s\" (use @hourly, "
                             "@daily, @midnight, @weekly, @monthly, "
                             "@yearly or @annually)", (int)len, expr);
  }
  /* Split on blanks; count every field even past 5 for the message. */
  for (const char *p = expr; p < expr + len;) {
    const char *s = p;
    while (p < expr + len && !isspace((unsigned char)*p)) p++;
    if (n < 5 && (size_t)(p - s) > CRON_FIELD_MAX) {
      ret = cron_fail(errmsg, "cron: %s field is too long",
                      cron_fields[n].name);
      goto done;
    }
    if (n < 5 && !(fields[n] = cf_strndup(s, (size_t)(p - s)))) {
      ret = -ENOMEM;
      goto done;
    }
    n++;
    while (p < expr + len && isspace((unsigned char)*p)) p++;
  }
  if (n != 5) {
    ret = cron_fail(errmsg, "cron: expected 5 fields (minute hour "
                            "day-of-month month day-of-week), got %d%s", n,
                    n == 6 || n == 7 ? "; costflow uses 5-field cron; "
                                       "seconds/years fields are not "
                                       "supported" : "");
    goto done;
  }
  if (!(c = cf_calloc(1, sizeof *c))) {
    ret = -ENOMEM;
    goto done;
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; i++)
    if ((ret = cron_field_parse(&cron_fields[i], fields[i], &bits[i],
                                errmsg)) < 0)
      goto done;
  c->minute = bits[0];
  c->hour = (uint32_t)bits[1];
  c->dom = (uint32_t)bits[2];
  c->month = (uint16_t)bits[3];
  c->dow = (uint8_t)bits[4];
  c->dom_star = fields[2][0] == '*';
  c->dow_star = fields[4][0] == '*';
  c->fixed = fields[0][0] != '*' && fields[1][0] != '*';
  *out = c;
  c = NULL;
done:
  for (int i = 0; i < 5; i++) cf_free(fields[i]);
  cf_free(c);
  return ret;
}

void cf_cron_free(struct cf_cron *c) { cf_free(c); }

int cf_cron_is_fixed_time(const struct cf_cron *c) { return c->fixed; }

int cf_cron_never_fires(const struct cf_cron *c) {
  /* OR rule: every month has every weekday, so dow alone can fire. */
  if (!c->dom_star && !c->dow_star) return 0;
  /* AND rule: some allowed month must hold some listed day (Feb 29 in
   * leap years). Each (month, day) meets every weekday within 28 years. */
  for (int m = 1; m <= 12; m++) {
    if (!(c->month >> m & 1)) continue;
    int dim = m == 2 ? 29 : cf_days_in_month(2001, m);
    for (int d = 1; d <= dim; d++)
      if (c->dom >> d & 1) return 0;
  }
  return 1;
}

static int cron_day_matches(const struct cf_cron *c, cf_date day) {
  int y, m, d;
  cf_date_to_ymd(day, &y, &m, &d);
  if (!(c->month >> m & 1)) return 0;
  int wd = (int)((((int64_t)day + 4) % 7 + 7) % 7);  /* 1970-01-01: Thu */
  int dom_ok = c->dom >> d & 1, dow_ok = c->dow >> wd & 1;
  if (c->dom_star || c->dow_star) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

/* UTC instants at which local wall time L (seconds, as if UTC) happens.
 * Returns how many (0-2, ascending). In a spring-forward gap a fixed-time
 * job gets the end of the gap; in a fall-back repeat only the first pass.
 * Assumes at most one offset change within two days of L. */
static int cron_resolve(const struct cf_tz *tz, int64_t L, int fixed,
                        int64_t out[2]) {
  int32_t oa = cf_tz_offset_at(tz, L - 2 * 86400);
  int32_t ob = cf_tz_offset_at(tz, L + 2 * 86400);
  int n = 0;
  if (cf_tz_offset_at(tz, L - oa) == oa) out[n++] = L - oa;
  if (ob != oa && cf_tz_offset_at(tz, L - ob) == ob) out[n++] = L - ob;
  if (n == 2 && out[1] < out[0]) {
    int64_t t = out[0];
    out[0] = out[1];
    out[1] = t;
  }
  if (n == 2 && fixed) n = 1;
  if (n == 0 && fixed && ob > oa) {
    /* Gap: the change happens in (L - ob, L - oa]; find its instant. */
    int64_t lo = L - ob, hi = L - oa;
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      if (cf_tz_offset_at(tz, mid) == oa) lo = mid;
      else hi = mid;
    }
    out[n++] = hi;
  }
  return n;
}

/* Best candidate on local date `day`: for dir > 0 the smallest instant
 * > bound, for dir < 0 the largest < bound. Returns 1 if *best changed. */
static int cron_scan_day(const struct cf_cron *c, const struct cf_tz *tz,
                         cf_date day, int64_t bound, int dir, int have,
                         int64_t *best) {
  int64_t base = (int64_t)day * 86400;
  int32_t o1 = cf_tz_offset_at(tz, base - 2 * 86400);
  int32_t o2 = cf_tz_offset_at(tz, base + 3 * 86400);
  int32_t omin = o1 < o2 ? o1 : o2, omax = o1 < o2 ? o2 : o1;
  int changed = 0;
  for (int h = 0; h < 24; h++) {
    if (!(c->hour >> h & 1)) continue;
    for (int m = 0; m < 60; m++) {
      if (!(c->minute >> m & 1)) continue;
      int64_t L = base + h * 3600 + m * 60, t[2];
      /* Every instant of L lies in [L - omax, L - omin]. */
      if (dir > 0 && L - omin <= bound) continue;
      if (dir < 0 && L - omax >= bound) return changed;
      if (dir > 0 && have && L - omax > *best) return changed;
      int n = cron_resolve(tz, L, c->fixed, t);
      for (int i = 0; i < n; i++) {
        int better = dir > 0 ? t[i] > bound && (!have || t[i] < *best)
                             : t[i] < bound && (!have || t[i] > *best);
        if (better) {
          *best = t[i];
          have = changed = 1;
        }
      }
    }
  }
  return changed;
}

/* Walks local dates from the one holding `bound` (one day of slack for
 * zones that fall back across midnight), skipping whole months. */
static int cron_search(const struct cf_cron *c, const struct cf_tz *tz,
                       int64_t bound, int dir, int64_t *out) {
  if (cf_cron_never_fires(c)) return CF_ENEVER;
  cf_date start = cf_tz_local_date(tz, bound) - dir;
  cf_date found = 0;
  int have = 0;
  int64_t best = 0;
  for (int i = 0; i <= CRON_SEARCH_DAYS; i++) {
    cf_date day = start + dir * i;
    if (have && (day - found) * dir > 1) break;   /* checked the next day */
    int y, m, d;
    cf_date_to_ymd(day, &y, &m, &d);
    if (!(c->month >> m & 1)) {                   /* jump to month's edge */
      cf_date edge = dir > 0 ? cf_date_from_ymd(y, m, cf_days_in_month(y, m))
                             : cf_date_from_ymd(y, m, 1);
      i += (edge - day) * dir;
      continue;
    }
    if (!cron_day_matches(c, day)) continue;
    if (cron_scan_day(c, tz, day, bound, dir, have, &best) && !have) {
      have = 1;
      found = day;
    }
  }
  if (!have) return CF_ENEVER;
  *out = best;
  return 0;
}

int cf_cron_next(const struct cf_cron *c, const struct cf_tz *tz,
                 int64_t after, int64_t *next) {
  return cron_search(c, tz, after, 1, next);
}

int cf_cron_prev(const struct cf_cron *c, const struct cf_tz *tz,
                 int64_t before, int64_t *prev) {
  return cron_search(c, tz, before, -1, prev);
}

/* Reads exactly n digits. */
static int read_digits(const char **pp, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*pp)[i])) return CF_EINVALID;
    v = v * 10 + ((*pp)[i] - '0');
  }
  *pp += n;
  *out = v;
  return 0;
}

int cf_parse_instant(const char *s, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
  const char *p = s;
  if (!s) return CF_EINVALID;
  if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) ||
      *p++ != '-' || read_digits(&p, 2, &d))
    return CF_EINVALID;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > cf_days_in_month(y, mo))
    return CF_EINVALID;
  if (*p) {
    if (*p++ != 'T' || read_digits(&p, 2, &h) || *p++ != ':' ||
        read_digits(&p, 2, &mi))
      return CF_EINVALID;
    if (*p == ':' && (p++, read_digits(&p, 2, &sec))) return CF_EINVALID;
    if (h > 23 || mi > 59 || sec > 59) return CF_EINVALID;
    if (*p == 'Z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      sign = *p++ == '-' ? -1 : 1;
      if (read_digits(&p, 2, &oh) || *p++ != ':' || read_digits(&p, 2, &om))
        return CF_EINVALID;
      if (oh > 23 || om > 59) return CF_EINVALID;
    } else {
      return CF_EINVALID;                /* a zone is required */
    }
    if (*p) return CF_EINVALID;
  }
  *out = (int64_t)cf_date_from_ymd(y, mo, d) * 86400 + h * 3600 + mi * 60 +
         sec - sign * (oh * 3600 + om * 60);
  return 0;
}
