/* A small TZif (RFC 8536, v1-v3) reader for the system tzdata, with the
 * POSIX TZ footer rule for instants past the last transition. Pure data:
 * no setenv("TZ"), no localtime, no process state, so it is thread-safe. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/cron.h"

#define TZ_FILE_MAX (512 * 1024)   /* real TZif files are < 4 KB */
#define TZ_NAME_MAX 255

/* One date of a POSIX rule: Mm.w.d, Jn (no leap day) or n (0-based). */
struct tz_rdate {
  char kind;                  /* 'M', 'J' or 'N' */
  int m, w, d, n;
  int32_t secs;               /* local time of day; v3 allows -167h..167h */
};

struct tz_rule {
  int32_t std_off, dst_off;   /* UTC offsets, seconds east */
  int has_dst;
  struct tz_rdate start, end; /* into DST (std time), out (DST time) */
};

struct cf_tz {
  char *name;
  int ntrans;
  int64_t *trans;             /* UTC transition instants, ascending */
  int32_t *trans_off;         /* offset in force from trans[i] on */
  int32_t off0;               /* before trans[0]: time type 0 */
  int has_rule;               /* footer rule applies after the last trans */
  struct tz_rule rule;
};

/* Zone names are relative paths of plain components; anything that
 * could escape $TZDIR is refused before touching the file system. */
static int tz_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!isalnum(c) && c != '/' && c != '_' && c != '-' && c != '+' &&
        c != '.')
      return 0;
    if (c == '/' && (name[i + 1] == '/' || name[i + 1] == '\0')) return 0;
  }
  return 1;
}

static int64_t be32(const unsigned char *p) {
  return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                   (uint32_t)p[2] << 8 | p[3]);
}

static int64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return (int64_t)v;
}

/* --- POSIX TZ strings ------------------------------------------------ */

static const char *tz_parse_abbr(const char *p) {
  if (*p == '<') {
    const char *q = p + 1;
    while (*q && *q != '>') {
      if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-') return NULL;
      q++;
    }
    return *q == '>' && q - p >= 4 ? q + 1 : NULL;
  }
  const char *q = p;
  while (isalpha((unsigned char)*q)) q++;
  return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; sets *secs. */
static const char *tz_parse_hms(const char *p, int maxh, int32_t *secs) {
  int sign = 1, v[3] = {0, 0, 0};
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  for (int i = 0; i < 3; i++) {
    if (i > 0) {
      if (*p != ':') break;
      p++;
    }
    if (!isdigit((unsigned char)*p)) return NULL;
    int n = 0, digits = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p++ - '0');
      if (++digits > 3) return NULL;
    }
    if ((i == 0 && n > maxh) || (i > 0 && n > 59)) return NULL;
    v[i] = n;
  }
  *secs = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
  return p;
}

static const char *tz_parse_num(const char *p, int lo, int hi, int *out) {
  if (!isdigit((unsigned char)*p)) return NULL;
  int n = 0, digits = 0;
  while (isdigit((unsigned char)*p)) {
    n = n * 10 + (*p++ - '0');
    if (++digits > 3) return NULL;
  }
  if (n < lo || n > hi) return NULL;
  *out = n;
  return p;
}

static const char *tz_parse_rdate(const char *p, struct tz_rdate *r) {
  memset(r, 0, sizeof *r);
  if (*p == 'M') {
    r->kind = 'M';
    if (!(p = tz_parse_num(p + 1, 1, 12, &r->m)) || *p++ != '.') return NULL;
    if (!(p = tz_parse_num(p, 1, 5, &r->w)) || *p++ != '.') return NULL;
    if (!(p = tz_parse_num(p, 0, 6, &r->d))) return NULL;
  } else if (*p == 'J') {
    r->kind = 'J';
    if (!(p = tz_parse_num(p + 1, 1, 365, &r->n))) return NULL;
  } else {
    r->kind = 'N';
    if (!(p = tz_parse_num(p, 0, 365, &r->n))) return NULL;
  }
  r->secs = 2 * 3600;                           /* POSIX default 02:00 */
  if (*p == '/' && !(p = tz_parse_hms(p + 1, 167, &r->secs))) return NULL;
  return p;
}

/* Parses a TZ footer like "EST5EDT,M3.2.0,M11.1.0". *has_rule is 0 for
 * an empty footer (no rule: the last transition stays in force). */
static int tz_parse_posix(const char *s, struct tz_rule *r, int *has_rule) {
  memset(r, 0, sizeof *r);
  *has_rule = 0;
  if (!*s) return 0;
  const char *p = tz_parse_abbr(s);
  int32_t off;
  if (!p || !(p = tz_parse_hms(p, 24, &off))) return CF_EINVALID;
  r->std_off = r->dst_off = -off;               /* POSIX counts west */
  if (*p) {
    if (!(p = tz_parse_abbr(p))) return CF_EINVALID;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
      if (!(p = tz_parse_hms(p, 24, &off))) return CF_EINVALID;
      r->dst_off = -off;
    }
    if (*p == ',') {
      if (!(p = tz_parse_rdate(p + 1, &r->start)) || *p++ != ',' ||
          !(p = tz_parse_rdate(p, &r->end)))
        return CF_EINVALID;
    } else {                                    /* US rules, as glibc */
      r->start = (struct tz_rdate){'M', 3, 2, 0, 0, 7200};
      r->end = (struct tz_rdate){'M', 11, 1, 0, 0, 7200};
    }
  }
  if (*p) return CF_EINVALID;
  *has_rule = 1;
  return 0;
}

/* Local seconds (since epoch, as if UTC) at which rule date r falls in y. */
static int64_t tz_rdate_local(const struct tz_rdate *r, int y) {
  cf_date day;
  if (r->kind == 'M') {
    cf_date first = cf_date_from_ymd(y, r->m, 1);
    int wd = (int)(((int64_t)first + 4) % 7);   /* 1970-01-01: Thursday */
    if (wd < 0) wd += 7;
    int md = 1 + (r->d - wd + 7) % 7 + 7 * (r->w - 1);
    while (md > cf_days_in_month(y, r->m)) md -= 7;
    day = cf_date_from_ymd(y, r->m, md);
  } else if (r->kind == 'J') {
    day = cf_date_from_ymd(y, 1, 1) + r->n - 1 +
          (cf_is_leap(y) && r->n >= 60);
  } else {
    day = cf_date_from_ymd(y, 1, 1) + r->n;
  }
  return (int64_t)day * 86400 + r->secs;
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int32_t tz_rule_offset(const struct tz_rule *r, int64_t t) {
  if (!r->has_dst) return r->std_off;
  int y, m, d;
  cf_date_to_ymd((cf_date)floor_div(t + r->std_off, 86400), &y, &m, &d);
  int64_t start = tz_rdate_local(&r->start, y) - r->std_off;
  int64_t end = tz_rdate_local(&r->end, y) - r->dst_off;
  int in_dst = start < end ? (t >= start && t < end)
                           : !(t >= end && t < start);   /* south */
  return in_dst ? r->dst_off : r->std_off;
}

/* --- TZif ------------------------------------------------------------ */

struct tzif_hdr {
  int version;
  uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int tzif_header(const unsigned char *p, size_t len,
                       struct tzif_hdr *h) {
  if (len < 44 || memcmp(p, "TZif", 4)) return CF_EINVALID;
  h->version = p[4] ? p[4] - '0' : 1;
  uint32_t *f[6] = {&h->isutcnt, &h->isstdcnt, &h->leapcnt,
                    &h->timecnt, &h->typecnt, &h->charcnt};
  for (int i = 0; i < 6; i++) {
    *f[i] = (uint32_t)be32(p + 20 + 4 * i);
    if (*f[i] > 100000) return CF_EINVALID;
  }
  if (h->typecnt == 0 || (h->isutcnt && h->isutcnt != h->typecnt) ||
      (h->isstdcnt && h->isstdcnt != h->typecnt))
    return CF_EINVALID;
  return 0;
}

static size_t tzif_body_len(const struct tzif_hdr *h, int tsize) {
  return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 +
         h->charcnt + (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt +
         h->isutcnt;
}

/* Fills tz from TZif bytes: the v2+ 64-bit block when present. */
static int tzif_parse(struct cf_tz *tz, const unsigned char *p, size_t len) {
  struct tzif_hdr h;
  int ret = tzif_header(p, len, &h);
  if (ret < 0) return ret;
  int tsize = 4;
  size_t body = tzif_body_len(&h, 4);
  if (44 + body > len) return CF_EINVALID;
  const unsigned char *end = p + len;
  if (h.version >= 2) {
    p += 44 + body;
    len -= 44 + body;
    if ((ret = tzif_header(p, len, &h)) < 0) return ret;
    tsize = 8;
    body = tzif_body_len(&h, 8);
    if (44 + body > len) return CF_EINVALID;
  }
  const unsigned char *times = p + 44;
  const unsigned char *idx = times + (size_t)h.timecnt * tsize;
  const unsigned char *types = idx + h.timecnt;
  int32_t offs[256];
  if (h.typecnt > 256) return CF_EINVALID;
  for (uint32_t i = 0; i < h.typecnt; i++) {
    int64_t o = be32(types + 6 * i);
    if (o < -26 * 3600 || o > 26 * 3600) return CF_EINVALID;
    offs[i] = (int32_t)o;
  }
  tz->off0 = offs[0];
  if (h.timecnt) {
    tz->trans = cf_malloc(sizeof *tz->trans * h.timecnt);
    tz->trans_off = cf_malloc(sizeof *tz->trans_off * h.timecnt);
    if (!tz->trans || !tz->trans_off) return -ENOMEM;
  }
  for (uint32_t i = 0; i < h.timecnt; i++) {
    int64_t t = tsize == 8 ? be64(times + 8 * i) : be32(times + 4 * i);
    if (idx[i] >= h.typecnt || (i && t <= tz->trans[i - 1]))
      return CF_EINVALID;
    tz->trans[i] = t;
    tz->trans_off[i] = offs[idx[i]];
  }
  tz->ntrans = (int)h.timecnt;
  if (h.version >= 2) {                        /* footer: \nTZ\n */
    const unsigned char *f = p + 44 + body;
    if (f >= end || *f != '\n') return CF_EINVALID;
    const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
    if (!nl || nl - f > 128) return CF_EINVALID;
    char footer[130];
    memcpy(footer, f + 1, (size_t)(nl - f - 1));
    footer[nl - f - 1] = '\0';
    if (tz_parse_posix(footer, &tz->rule, &tz->has_rule) < 0)
      return CF_EINVALID;
  }
  return 0;
}

int cf_tz_load(const char *name, struct cf_tz **out) {
  struct cf_buf src = CF_BUF_INIT(TZ_FILE_MAX);
  struct cf_tz *tz = NULL;
  char *path = NULL;
  int ret;
  *out = NULL;
  if (!name || !tz_name_ok(name)) return CF_EINVALID;
  if (!(tz = cf_calloc(1, sizeof *tz)) || !(tz->name = cf_strdup(name))) {
    ret = -ENOMEM;
    goto done;
  }
  if (!strcmp(name, "UTC")) {          /* built in: works without tzdata */
    tz->has_rule = 1;
    ret = 0;
    goto done;
  }
  const char *dir = getenv("TZDIR");
  if (!dir || !*dir) dir = "/usr/share/zoneinfo";
  if (!(path = cf_asprintf("%s/%s", dir, name))) {
    ret = -ENOMEM;
    goto done;
  }
  ret = cf_buf_read_file(&src, path);
  if (ret == -ENOENT || ret == -ENOTDIR || ret == -EISDIR) ret = CF_ENOTFOUND;
  else if (ret == CF_ETOOBIG) ret = CF_EINVALID;
  if (ret < 0) goto done;
  ret = tzif_parse(tz, (const unsigned char *)src.buf, src.len);
done:
  cf_buf_release(&src);
  cf_free(path);
  if (ret < 0) cf_tz_free(tz);
  else *out = tz;
  return ret;
}

void cf_tz_free(struct cf_tz *tz) {
  if (!tz) return;
  cf_free(tz->name);
  cf_free(tz->trans);
  cf_free(tz->trans_off);
  cf_free(tz);
}

const char *cf_tz_name(const struct cf_tz *tz) { return tz->name; }

int32_t cf_tz_offset_at(const struct cf_tz *tz, int64_t t) {
  int n = tz->ntrans;
  if (n == 0 || t >= tz->trans[n - 1]) {
    if (tz->has_rule) return tz_rule_offset(&tz->rule, t);
    return n ? tz->trans_off[n - 1] : tz->off0;
  }
  if (t < tz->trans[0]) return tz->off0;
  int lo = 0, hi = n - 1;                  /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if (tz->trans[mid] <= t) lo = mid;
    else hi = mid;
  }
  return tz->trans_off[lo];
}

cf_date cf_tz_local_date(const struct cf_tz *tz, int64_t t) {
  return (cf_date)floor_div(t + cf_tz_offset_at(tz, t), 86400);
}
