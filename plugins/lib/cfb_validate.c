/* validate stage: data-quality rules from params over the extract staging
 * (stage: raw) or this run's silver partitions (stage: cleaned). Each rule
 * is recorded with dq_record; a critical rule over its max_failed_ratio
 * fails the task. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cfb_hash.h"
#include "cfb_plugin.h"
#include "costflow/csv.h"

#define MAX_SAMPLES 5

/* Rule families checked row by row (the others are dataset-level). */
enum rule_kind {
  RK_OTHER, RK_NOT_NULL, RK_NUMERIC, RK_DATES, RK_ACCEPTED, RK_NON_NEGATIVE
};

struct rule {
  const char *name;              /* e.g. "not_null:BilledCost" */
  char *owned;                   /* storage for name */
  const char *base;              /* rule family, for severity lookup */
  enum rule_kind kind;           /* base, resolved once */
  int col;                       /* column index in the current file */
  const char *colname;
  int64_t checked, failed;
  struct cf_buf samples;         /* JSON array items */
  int nsamples;
  json_t *accepted;              /* accepted_values list */
};

struct vctx {
  struct cfbp h;
  struct rule *r;
  size_t n, cap;
  /* unique_key */
  size_t nkey;
  const char **key_cols;
  int *key_idx;
  struct cf_buf key;             /* the current row's key, reused */
  uint64_t *set;                 /* 64-bit fingerprints of the keys */
  size_t set_n, set_cap;
  struct rule *unique;
  /* date continuity */
  struct rule *cont;
  cf_date *days;
  size_t ndays, days_cap;
  int64_t rows;
};

static enum rule_kind kind_of(const char *base) {
  static const struct { const char *base; enum rule_kind kind; } k[] = {
    {"not_null", RK_NOT_NULL}, {"numeric", RK_NUMERIC}, {"dates", RK_DATES},
    {"accepted_values", RK_ACCEPTED},
    {"non_negative_cost_except_credits", RK_NON_NEGATIVE}};
  for (size_t i = 0; i < sizeof k / sizeof *k; i++)
    if (!strcmp(base, k[i].base)) return k[i].kind;
  return RK_OTHER;
}

static struct rule *add_rule(struct vctx *v, const char *base,
                             const char *col) {
  /* Fixed capacity: rules are referenced by pointer. */
  if (v->n == v->cap) return NULL;
  struct rule *r = &v->r[v->n++];
  memset(r, 0, sizeof *r);
  r->owned = col ? cf_asprintf("%s:%s", base, col) : cf_strdup(base);
  r->name = r->owned;
  r->base = base;
  r->kind = kind_of(base);
  r->colname = col;
  r->col = -1;
  cf_buf_init(&r->samples, 0);
  return r->owned ? r : NULL;
}

static void sample(struct rule *r, const char *file, int64_t line,
                   const char *val) {
  if (r->nsamples >= MAX_SAMPLES) return;
  char where[64];
  const char *base = strrchr(file, '/');
  snprintf(where, sizeof where, "%s:%lld", base ? base + 1 : file,
           (long long)line);
  struct cf_buf s = CF_BUF_INIT(0);
  cf_buf_addf(&s, "%s %.80s", where, val ? val : "");
  if (r->nsamples++) cf_buf_addch(&r->samples, ',');
  cfb_json_str(&r->samples, s.buf);
  cf_buf_release(&s);
}

static int key_seen(struct vctx *v, uint64_t h) {
  if ((v->set_n + 1) * 2 > v->set_cap) {
    size_t nc = v->set_cap ? v->set_cap * 2 : 4096;
    uint64_t *ns = cf_calloc(nc, sizeof *ns);
    if (!ns) return -ENOMEM;
    for (size_t i = 0; i < v->set_cap; i++)
      if (v->set[i]) {
        size_t j = v->set[i] & (nc - 1);
        while (ns[j]) j = (j + 1) & (nc - 1);
        ns[j] = v->set[i];
      }
    cf_free(v->set);
    v->set = ns;
    v->set_cap = nc;
  }
  if (!h) h = 1;
  size_t j = h & (v->set_cap - 1);
  while (v->set[j]) {
    if (v->set[j] == h) return 1;
    j = (j + 1) & (v->set_cap - 1);
  }
  v->set[j] = h;
  v->set_n++;
  return 0;
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

static int scan_file(struct vctx *v, const char *path) {
  struct cf_csv *c;
  char *err = NULL;
  int ret = cf_csv_open(path, &c, &err);
  if (ret < 0) {
    v->h.api->log(v->h.ctx, CF_LOG_ERROR, "%s", err ? err : path);
    cf_free(err);
    return ret;
  }
  const char **f;
  const size_t *l;
  size_t n, ncols = 0;
  int64_t line;
  int cost_i = -1, credit_i = -1, cat_i = -1, start_i = -1;
  int r;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, &err)) != 0) {
    if (r < 0) {
      cf_free(err);
      err = NULL;
      if (r != CF_EDATA) { ret = r; break; }
      continue;
    }
    if (!ncols) {
      ncols = n;
      for (size_t i = 0; i < v->n; i++) {
        struct rule *ru = &v->r[i];
        if (!ru->colname) continue;
        ru->col = find_col(f, n, ru->colname);
        if (!strcmp(ru->base, "required_columns")) {
          ru->checked++;
          if (ru->col < 0) {
            ru->failed++;
            sample(ru, path, line, "missing");
          }
        }
      }
      for (size_t k = 0; k < v->nkey; k++)
        v->key_idx[k] = find_col(f, n, v->key_cols[k]);
      cost_i = find_col(f, n, "BilledCost");
      credit_i = find_col(f, n, "x_IsCredit");
      cat_i = find_col(f, n, "ChargeCategory");
      start_i = find_col(f, n, "ChargePeriodStart");
      continue;
    }
    if (n != ncols) continue;
    v->rows++;
    for (size_t i = 0; i < v->n; i++) {
      struct rule *ru = &v->r[i];
      const char *val = ru->col >= 0 ? f[ru->col] : NULL;
      int bad = -1;                          /* -1: not applicable */
      cf_dec d;
      int64_t t;
      size_t k;
      json_t *a;
      switch (ru->kind) {
      case RK_NOT_NULL:
        bad = !val || !*val;
        break;
      case RK_NUMERIC:
        if (val && *val) bad = cfb_dec_parse_round(val, &d) < 0;
        break;
      case RK_DATES:
        if (val && *val) bad = cfb_time_parse(val, &t) < 0;
        break;
      case RK_ACCEPTED:
        if (!val) break;
        bad = 1;
        json_array_foreach(ru->accepted, k, a)
          if (json_is_string(a) && !strcmp(json_string_value(a), val))
            bad = 0;
        break;
      case RK_NON_NEGATIVE:
        if (cost_i < 0) break;
        val = f[cost_i];
        bad = cfb_dec_parse_round(val, &d) == 0 && cf_dec_sign(d) < 0 &&
              !is_exempt(f, credit_i, cat_i);
        break;
      case RK_OTHER:
        break;
      }
      if (bad < 0) continue;
      ru->checked++;
      if (bad) {
        ru->failed++;
        sample(ru, path, line, val);
      }
    }
    if (v->unique) {
      /* Fields joined by a unit separator, as one 64-bit fingerprint:
       * 2.4 M keys then collide by chance with odds of about 1 in 10^7
       * (a collision reads as one false duplicate), in 32 MB. */
      cf_buf_reset(&v->key);
      int oom = 0;
      for (size_t i = 0; i < v->nkey; i++) {
        if (v->key_idx[i] >= 0) oom |= cf_buf_adds(&v->key, f[v->key_idx[i]]);
        oom |= cf_buf_addch(&v->key, '\x1f');
      }
      if (oom < 0) { ret = -ENOMEM; break; }
      uint64_t h = cfb_hash64(v->key.buf, v->key.len);
      int seen = key_seen(v, h);
      if (seen < 0) { ret = seen; break; }
      v->unique->checked++;
      if (seen) {
        v->unique->failed++;
        sample(v->unique, path, line, "duplicate key");
      }
    }
    if (v->cont && start_i >= 0) {
      int64_t t;
      if (cfb_time_parse(f[start_i], &t) == 0) {
        cf_date d = (cf_date)(t / 86400);
        size_t i = 0;
        while (i < v->ndays && v->days[i] < d) i++;
        if (i == v->ndays || v->days[i] != d) {
          if (v->ndays == v->days_cap) {
            size_t nc = v->days_cap ? v->days_cap * 2 : 32;
            cf_date *nd = cf_realloc(v->days, nc * sizeof *nd);
            if (!nd) { ret = -ENOMEM; break; }
            v->days = nd;
            v->days_cap = nc;
          }
          memmove(v->days + i + 1, v->days + i,
                  (v->ndays - i) * sizeof *v->days);
          v->days[i] = d;
          v->ndays++;
        }
      }
    }
  }
  cf_free(err);
  cf_csv_close(c);
  return ret;
}

/* failed/checked > ratio, exactly. */
static int over_ratio(int64_t failed, int64_t checked, cf_dec ratio) {
  if (failed == 0) return 0;
  if (checked == 0) return 1;
  __int128 lhs = (__int128)failed * 1000000000000000000LL;
  return lhs > ratio.v * checked;
}

static int add_list_rules(struct vctx *v, const char *param) {
  size_t n = v->h.api->param_count(v->h.ctx, param);
  for (size_t i = 0; i < n; i++)
    if (!add_rule(v, param, v->h.api->param_item(v->h.ctx, param, i)))
      return -ENOMEM;
  return 0;
}

/* Map param lookup: MAP value for key, else NULL. */
static const char *map_get(const struct cfbp *h, const char *param,
                           const char *key) {
  size_t n = h->api->param_count(h->ctx, param);
  for (size_t i = 0; i < n; i++) {
    const char *k = h->api->param_key(h->ctx, param, i);
    if (k && !strcmp(k, key)) return h->api->param_item(h->ctx, param, i);
  }
  return NULL;
}

int cfbp_validate_run(struct cf_plugin_ctx *ctx,
                      const struct cf_host_api *api) {
  struct vctx v = {.h = {ctx, api}, .key = CF_BUF_INIT(0)};
  const char *stage = api->param(ctx, "stage");
  const char *ds = api->logical_date(ctx);
  const char *home = api->home(ctx);
  json_t *accepted = NULL, *parts = NULL;
  int res = CF_RESULT_FAIL, ret = 0;
  int cleaned = stage && !strcmp(stage, "cleaned");
  if (stage && !cleaned && strcmp(stage, "raw")) {
    api->log(ctx, CF_LOG_ERROR, "stage must be raw or cleaned");
    return CF_RESULT_FAIL;
  }
  /* Rules. Reserve space so pointers stay valid. */
  v.cap = 256;
  if (!(v.r = cf_calloc(v.cap, sizeof *v.r))) return CF_RESULT_FAIL;
  if ((ret = add_list_rules(&v, "required_columns")) < 0 ||
      (ret = add_list_rules(&v, "not_null")) < 0 ||
      (ret = add_list_rules(&v, "numeric")) < 0 ||
      (ret = add_list_rules(&v, "dates")) < 0)
    goto done;
  const char *aj = api->param_json(ctx, "accepted_values");
  if (aj && (accepted = json_loads(aj, 0, NULL)) && json_is_object(accepted)) {
    const char *k;
    json_t *a;
    json_object_foreach(accepted, k, a) {
      struct rule *ru = add_rule(&v, "accepted_values", k);
      if (!ru) goto done;
      ru->accepted = a;
    }
  }
  if (cfbp_bool(api->param(ctx, "non_negative_cost_except_credits"), 0) &&
      !add_rule(&v, "non_negative_cost_except_credits", NULL))
    goto done;
  v.nkey = api->param_count(ctx, "unique_key");
  if (v.nkey) {
    v.key_cols = cf_calloc(v.nkey, sizeof *v.key_cols);
    v.key_idx = cf_calloc(v.nkey, sizeof *v.key_idx);
    if (!v.key_cols || !v.key_idx) goto done;
    for (size_t i = 0; i < v.nkey; i++)
      v.key_cols[i] = api->param_item(ctx, "unique_key", i);
    if (!(v.unique = add_rule(&v, "unique_key", NULL))) goto done;
  }
  if (cfbp_bool(api->param(ctx, "date_continuity"), 0) &&
      !(v.cont = add_rule(&v, "date_continuity", NULL)))
    goto done;
  /* Inputs. */
  if (cleaned) {
    const char *task = api->param(ctx, "silver_task");
    if (!task || !*task) task = "transform_to_cleaned";
    const char *pj = api->output_get(ctx, task, "partitions");
    parts = pj ? json_loads(pj, 0, NULL) : json_array();
    size_t i;
    json_t *d;
    json_array_foreach(parts, i, d) {
      char *p = cf_asprintf("%s/lake/silver/cost/usage_date=%s/current/"
                            "data.csv", home, json_string_value(d));
      ret = p ? scan_file(&v, p) : -ENOMEM;
      cf_free(p);
      if (ret < 0) goto done;
    }
  } else {
    for (int p = CFB_AWS; p <= CFB_GCP; p++) {
      char *w = cfb_work_dir(home, api->dag_id(ctx), ds, (enum cfb_provider)p);
      char *sp = w ? cf_asprintf("%s/staging.csv", w) : NULL;
      char *rp = w ? cf_asprintf("%s/rejects.csv", w) : NULL;
      if (!sp || !rp) { cf_free(w); cf_free(sp); cf_free(rp); goto done; }
      if (access(sp, F_OK) == 0) ret = scan_file(&v, sp);
      /* Rejected rows: one rule over the extract's rejects file. */
      FILE *rf = fopen(rp, "re");
      if (rf) {
        struct rule *rr = NULL;
        for (size_t i = 0; i < v.n && !rr; i++)
          if (!strcmp(v.r[i].base, "rejected_rows")) rr = &v.r[i];
        if (!rr && !(rr = add_rule(&v, "rejected_rows", NULL))) ret = -ENOMEM;
        char *line = NULL;
        size_t cap = 0;
        int64_t k = 0;
        while (rr && getline(&line, &cap, rf) > 0)
          if (k++ > 0) {
            rr->failed++;
            line[strcspn(line, "\n")] = '\0';
            if (rr->nsamples < MAX_SAMPLES) {
              if (rr->nsamples++) cf_buf_addch(&rr->samples, ',');
              cfb_json_str(&rr->samples, line);
            }
          }
        free(line);
        fclose(rf);
      }
      cf_free(w);
      cf_free(sp);
      cf_free(rp);
      if (ret < 0) goto done;
    }
    for (size_t i = 0; i < v.n; i++)
      if (!strcmp(v.r[i].base, "rejected_rows"))
        v.r[i].checked = v.rows + v.r[i].failed;
  }
  /* Dataset-level rules. */
  if (v.cont && v.ndays) {
    v.cont->checked = v.days[v.ndays - 1] - v.days[0] + 1;
    v.cont->failed = v.cont->checked - (int64_t)v.ndays;
    for (size_t i = 1; i < v.ndays; i++)
      for (cf_date d = v.days[i - 1] + 1; d < v.days[i]; d++) {
        char s[11];
        cf_date_format(d, s);
        sample(v.cont, "gap", 0, s);
      }
  }
  long long rmin = cfbp_int(&v.h, "row_count_min", -1);
  long long rmax = cfbp_int(&v.h, "row_count_max", -1);
  if (rmin >= 0 || rmax >= 0) {
    struct rule *rc = add_rule(&v, "row_count", NULL);
    if (!rc) goto done;
    rc->checked = 1;
    rc->failed = (rmin >= 0 && v.rows < rmin) || (rmax >= 0 && v.rows > rmax);
    char s[64];
    snprintf(s, sizeof s, "%lld rows", (long long)v.rows);
    if (rc->failed) sample(rc, "dataset", 0, s);
  }
  /* Verdicts. */
  const char *dflt = api->param(ctx, "default_severity");
  res = CF_RESULT_OK;
  for (size_t i = 0; i < v.n; i++) {
    struct rule *ru = &v.r[i];
    const char *sev = map_get(&v.h, "severity", ru->name);
    if (!sev) sev = map_get(&v.h, "severity", ru->base);
    if (!sev) sev = !strcmp(ru->base, "rejected_rows") ? "warning"
                    : dflt && *dflt ? dflt : "critical";
    const char *rs = map_get(&v.h, "max_failed_ratio", ru->name);
    if (!rs) rs = map_get(&v.h, "max_failed_ratio", ru->base);
    cf_dec ratio = CF_DEC_ZERO;
    if (rs && cfb_dec_parse_round(rs, &ratio) < 0) ratio = CF_DEC_ZERO;
    int failed = over_ratio(ru->failed, ru->checked, ratio);
    struct cf_buf sj = CF_BUF_INIT(0);
    cf_buf_addch(&sj, '[');
    cf_buf_add(&sj, ru->samples.buf, ru->samples.len);
    cf_buf_addch(&sj, ']');
    api->dq_record(ctx, ru->name, sev, ru->checked, ru->failed, !failed,
                   sj.buf);
    api->log(ctx, failed ? CF_LOG_WARN : CF_LOG_INFO,
             "%s [%s]: %lld/%lld failed%s", ru->name, sev,
             (long long)ru->failed, (long long)ru->checked,
             failed ? " -- over threshold" : "");
    cf_buf_release(&sj);
    if (failed && !strcmp(sev, "critical")) res = CF_RESULT_FAIL;
  }
  api->log(ctx, CF_LOG_INFO, "validate %s: %lld rows, %s",
           cleaned ? "cleaned" : "raw", (long long)v.rows,
           res == CF_RESULT_OK ? "passed" : "FAILED (critical rule)");
done:
  if (ret < 0) {
    api->log(ctx, CF_LOG_ERROR, "validate: %s", cf_strerror(ret));
    res = CF_RESULT_FAIL;
  }
  for (size_t i = 0; i < v.n; i++) {
    cf_free(v.r[i].owned);
    cf_buf_release(&v.r[i].samples);
  }
  cf_free(v.r);
  cf_free(v.key_cols);
  cf_free(v.key_idx);
  cf_free(v.set);
  cf_buf_release(&v.key);
  cf_free(v.days);
  json_decref(accepted);
  json_decref(parts);
  return res;
}
