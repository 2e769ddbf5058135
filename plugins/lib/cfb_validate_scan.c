/* One file's pass for the validate stage: every row rule over every row,
 * into the scan's own tallies; unique_key fingerprints are only collected
 * here (duplicates across files are found when scans are merged). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "costflow/hash.h"
#include "cfb_validate.h"
#include "costflow/csv.h"

void cfb_dq_sample(struct cfb_dq_tally *t, const char *file, int64_t line,
                   const char *val) {
  if (t->nsamples >= CFB_DQ_MAX_SAMPLES) return;
  const char *base = strrchr(file, '/');
  char *s = cf_asprintf("%s:%lld %.80s", base ? base + 1 : file,
                        (long long)line, val ? val : "");
  if (s) t->samples[t->nsamples++] = s;
}

void cfb_dq_tally_release(struct cfb_dq_tally *t) {
  for (int i = 0; i < t->nsamples; i++) cf_free(t->samples[i]);
  memset(t, 0, sizeof *t);
}

void cfb_dq_scan_release(struct cfb_dq_scan *s) {
  for (size_t i = 0; s->t && i < s->rules->n; i++)
    cfb_dq_tally_release(&s->t[i]);
  cf_free(s->t);
  cfb_dayset_release(&s->days);
  cf_free(s->fps);
  cf_free(s->err);
  *s = (struct cfb_dq_scan){.rules = s->rules, .path = s->path};
}

static int find_col(const char **f, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(f[i], name)) return (int)i;
  return -1;
}

static int is_exempt(const char **f, int credit_i, int cat_i) {
  if (credit_i >= 0 && !strcmp(f[credit_i], "true")) return 1;
  if (cat_i >= 0 && (!strcmp(f[cat_i], "Credit") ||
                     !strcmp(f[cat_i], "Adjustment")))
    return 1;
  return 0;
}

/* 1 failed, 0 passed, -1 not applicable to this row. */
static int check_row(const struct cfb_dq_rule *ru, const char *val,
                     const char **f, int cost_i, int credit_i, int cat_i) {
  cf_dec d;
  int64_t t;
  switch (ru->kind) {
  case CFB_DQ_NOT_NULL:
    return !val || !*val;
  case CFB_DQ_NUMERIC:
    return val && *val ? cfb_dec_parse_round(val, &d) < 0 : -1;
  case CFB_DQ_DATES:
    return val && *val ? cfb_time_parse(val, &t) < 0 : -1;
  case CFB_DQ_ACCEPTED:
    if (!val) return -1;
    for (size_t k = 0; k < ru->naccepted; k++)
      if (!strcmp(ru->accepted[k], val)) return 0;
    return 1;
  case CFB_DQ_NON_NEGATIVE:
    if (cost_i < 0) return -1;
    return cfb_dec_parse_round(f[cost_i], &d) == 0 && cf_dec_sign(d) < 0 &&
           !is_exempt(f, credit_i, cat_i);
  case CFB_DQ_REQUIRED:
  case CFB_DQ_OTHER:
    break;
  }
  return -1;
}

/* The key's fields joined by a unit separator, as a 64-bit fingerprint:
 * 2.4 M keys collide by chance with odds of about 1 in 10^7 (a collision
 * reads as one false duplicate), in 16 bytes a row. */
static int add_fp(struct cfb_dq_scan *s, struct cf_buf *key, const char **f,
                  const int *key_idx, int64_t line) {
  const struct cfb_dq_rules *R = s->rules;
  int bad = 0;
  cf_buf_reset(key);
  for (size_t i = 0; i < R->nkey; i++) {
    if (key_idx[i] >= 0) bad |= cf_buf_adds(key, f[key_idx[i]]);
    bad |= cf_buf_addch(key, '\x1f');
  }
  if (bad < 0) return -ENOMEM;
  if (s->nfps == s->fps_cap &&
      cf_grow(&s->fps, &s->fps_cap, s->nfps + 1, sizeof *s->fps, 4096) < 0)
    return -ENOMEM;
  s->fps[s->nfps++] = (struct cfb_dq_fp){cf_hash64(key->buf, key->len),
                                         line};
  return 0;
}

void cfb_dq_scan_file(struct cfb_dq_scan *s) {
  const struct cfb_dq_rules *R = s->rules;
  struct cf_buf key = CF_BUF_INIT(0);
  struct cf_csv *c = NULL;
  int *col = cf_calloc(R->n + 1, sizeof *col);
  int *key_idx = cf_calloc(R->nkey + 1, sizeof *key_idx);
  char *err = NULL;
  s->t = cf_calloc(R->n + 1, sizeof *s->t);
  if (!col || !key_idx || !s->t) {
    s->ret = -ENOMEM;
    goto done;
  }
  if ((s->ret = cf_csv_open(s->path, &c, &err)) < 0) {
    s->err = err ? err : cf_strdup(s->path);
    err = NULL;
    goto done;
  }
  const char **f;
  const size_t *l;
  size_t n, ncols = 0;
  int64_t line;
  int cost_i = -1, credit_i = -1, cat_i = -1, start_i = -1, r;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, &err)) != 0) {
    if (r < 0) {
      cf_free(err);
      err = NULL;
      if (r != CF_EDATA) {
        s->ret = r;
        break;
      }
      continue;
    }
    if (!ncols) {                          /* the header */
      ncols = n;
      for (size_t i = 0; i < R->n; i++) {
        const struct cfb_dq_rule *ru = &R->r[i];
        col[i] = ru->colname ? find_col(f, n, ru->colname) : -1;
        if (ru->kind != CFB_DQ_REQUIRED || s->continues) continue;
        s->t[i].checked++;
        if (col[i] < 0) {
          s->t[i].failed++;
          cfb_dq_sample(&s->t[i], s->path, line, "missing");
        }
      }
      for (size_t k = 0; k < R->nkey; k++)
        key_idx[k] = find_col(f, n, R->key_cols[k]);
      cost_i = find_col(f, n, "BilledCost");
      credit_i = find_col(f, n, "x_IsCredit");
      cat_i = find_col(f, n, "ChargeCategory");
      start_i = find_col(f, n, "ChargePeriodStart");
      continue;
    }
    if (n != ncols) continue;
    s->rows++;
    for (size_t i = 0; i < R->n; i++) {
      const char *val = col[i] >= 0 ? f[col[i]] : NULL;
      int bad = check_row(&R->r[i], val, f, cost_i, credit_i, cat_i);
      if (bad < 0) continue;
      s->t[i].checked++;
      if (bad) {
        s->t[i].failed++;
        cfb_dq_sample(&s->t[i], s->path, line,
                      R->r[i].kind == CFB_DQ_NON_NEGATIVE ? f[cost_i] : val);
      }
    }
    if (R->nkey && (s->ret = add_fp(s, &key, f, key_idx, line)) < 0) break;
    int64_t t;
    if (R->want_days && start_i >= 0 && cfb_time_parse(f[start_i], &t) == 0 &&
        (s->ret = cfb_dayset_add(&s->days, (cf_date)(t / 86400))) < 0)
      break;
  }
done:
  cf_free(err);
  cf_csv_close(c);
  cf_buf_release(&key);
  cf_free(col);
  cf_free(key_idx);
}
