/* validate stage: data-quality rules from params over the extract staging
 * (stage: raw) or this run's silver partitions (stage: cleaned). Each rule
 * is recorded with dq_record; a critical rule over its max_failed_ratio
 * fails the task. The files are scanned on threads (cfb_validate_scan.c)
 * and merged in file order: the counts and samples are those of one pass
 * over the files in that order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cfb_parallel.h"
#include "cfb_plugin.h"
#include "cfb_validate.h"

struct vctx {
  struct cfbp h;
  struct cfb_dq_rules R;
  json_t *accepted;              /* the accepted_values param */
  struct cfb_dq_rule *unique, *cont;
  /* inputs, in order */
  char **paths;
  unsigned char *continues;      /* per path: a later staging.N.csv */
  size_t npaths;
  struct cfb_dq_scan *scans;
  /* merged */
  uint64_t *set;                 /* unique_key fingerprints (0 = empty) */
  size_t set_n, set_cap;
  struct cfb_dayset days;
  int64_t rows;
};

static enum cfb_dq_kind kind_of(const char *base) {
  static const struct { const char *base; enum cfb_dq_kind kind; } k[] = {
    {"required_columns", CFB_DQ_REQUIRED}, {"not_null", CFB_DQ_NOT_NULL},
    {"numeric", CFB_DQ_NUMERIC}, {"dates", CFB_DQ_DATES},
    {"accepted_values", CFB_DQ_ACCEPTED},
    {"non_negative_cost_except_credits", CFB_DQ_NON_NEGATIVE}};
  for (size_t i = 0; i < sizeof k / sizeof *k; i++)
    if (!strcmp(base, k[i].base)) return k[i].kind;
  return CFB_DQ_OTHER;
}

static struct cfb_dq_rule *add_rule(struct vctx *v, const char *base,
                                    const char *col) {
  /* Fixed capacity: rules are referenced by pointer. */
  if (v->R.n == v->R.cap) return NULL;
  struct cfb_dq_rule *r = &v->R.r[v->R.n++];
  memset(r, 0, sizeof *r);
  r->name = col ? cf_asprintf("%s:%s", base, col) : cf_strdup(base);
  r->base = base;
  r->kind = kind_of(base);
  r->colname = col;
  return r->name ? r : NULL;
}

/* 1 if h was seen before, else adds it; -ENOMEM. */
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

/* Adds a scan's tally to the rule's: counts, then samples while the rule
 * has room (so the first failures in file order are kept). */
static void merge_tally(struct cfb_dq_tally *all, struct cfb_dq_tally *t) {
  all->checked += t->checked;
  all->failed += t->failed;
  for (int i = 0; i < t->nsamples; i++) {
    if (all->nsamples < CFB_DQ_MAX_SAMPLES) {
      all->samples[all->nsamples++] = t->samples[i];
      t->samples[i] = NULL;
    }
  }
}

/* Scan i's results into the rules, in file order; duplicates of
 * unique_key are found here, across files. */
static int merge_scan(struct vctx *v, struct cfb_dq_scan *s) {
  for (size_t i = 0; i < v->R.n; i++) merge_tally(&v->R.r[i].all, &s->t[i]);
  v->rows += s->rows;
  for (size_t k = 0; v->unique && k < s->nfps; k++) {
    int seen = key_seen(v, s->fps[k].hash);
    if (seen < 0) return seen;
    v->unique->all.checked++;
    if (seen) {
      v->unique->all.failed++;
      cfb_dq_sample(&v->unique->all, s->path, s->fps[k].line,
                    "duplicate key");
    }
  }
  return cfb_dayset_add_all(&v->days, &s->days);
}

static void scan_job(void *ctx, size_t i) {
  cfb_dq_scan_file(&((struct cfb_dq_scan *)ctx)[i]);
}

static int add_path(struct vctx *v, char *p, int continues) {
  if (!p) return -ENOMEM;
  char **np = cf_realloc(v->paths, (v->npaths + 1) * sizeof *np);
  unsigned char *nc = np ? cf_realloc(v->continues, v->npaths + 1) : NULL;
  if (np) v->paths = np;
  if (!nc) {
    cf_free(p);
    return -ENOMEM;
  }
  v->continues = nc;
  v->continues[v->npaths] = (unsigned char)continues;
  v->paths[v->npaths++] = p;
  return 0;
}

/* Scans every input on threads, then merges them in order. */
static int scan_all(struct vctx *v) {
  if (!v->npaths) return 0;
  if (!(v->scans = cf_calloc(v->npaths, sizeof *v->scans))) return -ENOMEM;
  for (size_t i = 0; i < v->npaths; i++)
    v->scans[i] = (struct cfb_dq_scan){.rules = &v->R, .path = v->paths[i],
                                       .continues = v->continues[i]};
  cfb_parallel(cfb_threads(0), v->npaths, scan_job, v->scans);
  for (size_t i = 0; i < v->npaths; i++) {
    struct cfb_dq_scan *s = &v->scans[i];
    if (s->err)
      v->h.api->log(v->h.ctx, CF_LOG_ERROR, "%s", s->err);
    if (s->ret < 0) return s->ret;
    int ret = merge_scan(v, s);
    cfb_dq_scan_release(s);
    if (ret < 0) return ret;
  }
  return 0;
}

static int add_list_rules(struct vctx *v, const char *param) {
  size_t n = v->h.api->param_count(v->h.ctx, param);
  for (size_t i = 0; i < n; i++)
    if (!add_rule(v, param, v->h.api->param_item(v->h.ctx, param, i)))
      return -ENOMEM;
  return 0;
}

/* accepted_values: {column: [values]}, one rule per column; the values
 * are copied out of the JSON so scans on threads only read C strings. */
static int add_accepted_rules(struct vctx *v) {
  const char *aj = v->h.api->param_json(v->h.ctx, "accepted_values");
  if (!aj || !(v->accepted = json_loads(aj, 0, NULL)) ||
      !json_is_object(v->accepted))
    return 0;
  const char *k;
  json_t *a;
  json_object_foreach(v->accepted, k, a) {
    struct cfb_dq_rule *ru = add_rule(v, "accepted_values", k);
    if (!ru) return -ENOMEM;
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    if (!(ru->accepted = cf_calloc(n + 1, sizeof *ru->accepted)))
      return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
      const char *s = json_string_value(json_array_get(a, i));
      if (s) ru->accepted[ru->naccepted++] = s;
    }
  }
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

/* The severity and max_failed_ratio values (and default_severity): a
 * level other than critical|warning, or a ratio that is not a number in
 * 0..1, is an error -- a typo must not turn a critical rule into one
 * that never fails the task. 0 or CF_EINVALID (logged). */
static int check_levels(const struct cfbp *h) {
  const struct cf_host_api *api = h->api;
  const char *d = api->param(h->ctx, "default_severity");
  int ret = 0;
  if (d && *d && strcmp(d, "critical") && strcmp(d, "warning")) {
    api->log(h->ctx, CF_LOG_ERROR, "default_severity '%s' must be critical "
             "or warning", d);
    ret = CF_EINVALID;
  }
  for (size_t i = 0; i < api->param_count(h->ctx, "severity"); i++) {
    const char *v = api->param_item(h->ctx, "severity", i);
    if (v && (!strcmp(v, "critical") || !strcmp(v, "warning"))) continue;
    api->log(h->ctx, CF_LOG_ERROR, "severity '%s' for rule '%s' must be "
             "critical or warning", v ? v : "",
             api->param_key(h->ctx, "severity", i));
    ret = CF_EINVALID;
  }
  for (size_t i = 0; i < api->param_count(h->ctx, "max_failed_ratio"); i++) {
    const char *v = api->param_item(h->ctx, "max_failed_ratio", i);
    cf_dec r;
    if (v && cfb_dec_parse_round(v, &r) == 0 && cf_dec_sign(r) >= 0 &&
        r.v <= 1000000000000000000LL)
      continue;
    api->log(h->ctx, CF_LOG_ERROR, "max_failed_ratio '%s' for rule '%s' "
             "must be a number from 0 to 1", v ? v : "",
             api->param_key(h->ctx, "max_failed_ratio", i));
    ret = CF_EINVALID;
  }
  return ret;
}

/* failed/checked > ratio, exactly. */
static int over_ratio(int64_t failed, int64_t checked, cf_dec ratio) {
  if (failed == 0) return 0;
  if (checked == 0) return 1;
  __int128 lhs = (__int128)failed * 1000000000000000000LL;
  return lhs > ratio.v * checked;
}

/* stage raw: the extract's rejects, one rule over both providers' files
 * (their header line is not a reject). */
static int count_rejects(struct vctx *v, const char *const *rejects,
                         size_t n) {
  struct cfb_dq_rule *rr = NULL;
  for (size_t p = 0; p < n; p++) {
    FILE *rf = fopen(rejects[p], "re");
    if (!rf) continue;
    if (!rr && !(rr = add_rule(v, "rejected_rows", NULL))) {
      fclose(rf);
      return -ENOMEM;
    }
    char *line = NULL;
    size_t cap = 0;
    int64_t k = 0;
    while (getline(&line, &cap, rf) > 0)
      if (k++ > 0) {
        rr->all.failed++;
        line[strcspn(line, "\n")] = '\0';
        if (rr->all.nsamples < CFB_DQ_MAX_SAMPLES) {
          char *s = cf_strdup(line);
          if (s) rr->all.samples[rr->all.nsamples++] = s;
        }
      }
    free(line);
    fclose(rf);
  }
  if (rr) rr->all.checked = v->rows + rr->all.failed;
  return 0;
}

/* Records rule ru and returns whether it fails the task. */
static int verdict(struct vctx *v, struct cfb_dq_rule *ru) {
  const struct cf_host_api *api = v->h.api;
  const char *dflt = api->param(v->h.ctx, "default_severity");
  const char *sev = map_get(&v->h, "severity", ru->name);
  if (!sev) sev = map_get(&v->h, "severity", ru->base);
  if (!sev) sev = !strcmp(ru->base, "rejected_rows") ? "warning"
                  : dflt && *dflt ? dflt : "critical";
  const char *rs = map_get(&v->h, "max_failed_ratio", ru->name);
  if (!rs) rs = map_get(&v->h, "max_failed_ratio", ru->base);
  cf_dec ratio = CF_DEC_ZERO;
  if (rs) cfb_dec_parse_round(rs, &ratio);   /* check_levels parsed it */
  int failed = over_ratio(ru->all.failed, ru->all.checked, ratio);
  struct cf_buf sj = CF_BUF_INIT(0);
  cf_buf_addch(&sj, '[');
  for (int i = 0; i < ru->all.nsamples; i++) {
    if (i) cf_buf_addch(&sj, ',');
    cfb_json_str(&sj, ru->all.samples[i]);
  }
  cf_buf_addch(&sj, ']');
  api->dq_record(v->h.ctx, ru->name, sev, ru->all.checked, ru->all.failed,
                 !failed, sj.buf);
  api->log(v->h.ctx, failed ? CF_LOG_WARN : CF_LOG_INFO,
           "%s [%s]: %lld/%lld failed%s", ru->name, sev,
           (long long)ru->all.failed, (long long)ru->all.checked,
           failed ? " -- over threshold" : "");
  cf_buf_release(&sj);
  return failed && !strcmp(sev, "critical");
}

int cfbp_validate_run(struct cf_plugin_ctx *ctx,
                      const struct cf_host_api *api) {
  struct vctx v = {.h = {ctx, api}};
  const char *stage = api->param(ctx, "stage");
  const char *ds = api->logical_date(ctx);
  const char *home = api->home(ctx);
  json_t *parts = NULL;
  char *rejects[2] = {NULL, NULL};
  int res = CF_RESULT_FAIL, ret = -ENOMEM;
  int cleaned = stage && !strcmp(stage, "cleaned");
  if (stage && !cleaned && strcmp(stage, "raw")) {
    api->log(ctx, CF_LOG_ERROR, "stage must be raw or cleaned");
    return CF_RESULT_FAIL;
  }
  if (check_levels(&v.h) < 0) return CF_RESULT_FAIL;
  /* Rules. Reserve space so pointers stay valid. */
  v.R.cap = 256;
  if (!(v.R.r = cf_calloc(v.R.cap, sizeof *v.R.r))) return CF_RESULT_FAIL;
  if ((ret = add_list_rules(&v, "required_columns")) < 0 ||
      (ret = add_list_rules(&v, "not_null")) < 0 ||
      (ret = add_list_rules(&v, "numeric")) < 0 ||
      (ret = add_list_rules(&v, "dates")) < 0 ||
      (ret = add_accepted_rules(&v)) < 0)
    goto done;
  ret = -ENOMEM;
  if (cfbp_bool(api->param(ctx, "non_negative_cost_except_credits"), 0) &&
      !add_rule(&v, "non_negative_cost_except_credits", NULL))
    goto done;
  v.R.nkey = api->param_count(ctx, "unique_key");
  if (v.R.nkey) {
    const char **kc = cf_calloc(v.R.nkey, sizeof *kc);
    if (!kc) goto done;
    for (size_t i = 0; i < v.R.nkey; i++)
      kc[i] = api->param_item(ctx, "unique_key", i);
    v.R.key_cols = kc;
    if (!(v.unique = add_rule(&v, "unique_key", NULL))) goto done;
  }
  if (cfbp_bool(api->param(ctx, "date_continuity"), 0)) {
    if (!(v.cont = add_rule(&v, "date_continuity", NULL))) goto done;
    v.R.want_days = 1;
  }
  /* Inputs. */
  ret = 0;
  if (cleaned) {
    const char *task = api->param(ctx, "silver_task");
    if (!task || !*task) task = "transform_to_cleaned";
    const char *pj = api->output_get(ctx, task, "partitions");
    parts = pj ? json_loads(pj, 0, NULL) : json_array();
    size_t i;
    json_t *d;
    json_array_foreach(parts, i, d) {
      if ((ret = add_path(&v, cf_asprintf("%s/lake/silver/cost/usage_date=%s/"
                                          "current/data.csv", home,
                                          json_string_value(d)), 0)) < 0)
        goto done;
    }
  } else {
    for (int p = CFB_AWS; p <= CFB_GCP; p++) {
      char *w = cfb_work_dir(home, api->dag_id(ctx), ds, (enum cfb_provider)p);
      rejects[p - CFB_AWS] = w ? cf_asprintf("%s/rejects.csv", w) : NULL;
      ret = -ENOMEM;
      if (!rejects[p - CFB_AWS]) {
        cf_free(w);
        goto done;
      }
      /* staging.csv, then staging.1.csv, ... (one per byte range of a
       * big file, see cfb_extract.c) */
      for (int i = 0;; i++) {
        char *sp = cfb_staging_path(w, i);
        if (!sp) {
          cf_free(w);
          goto done;
        }
        if (access(sp, F_OK) != 0) {
          cf_free(sp);
          break;
        }
        if ((ret = add_path(&v, sp, i > 0)) < 0) {
          cf_free(w);
          goto done;
        }
      }
      cf_free(w);
    }
    ret = 0;
  }
  if ((ret = scan_all(&v)) < 0) goto done;
  if (!cleaned &&
      (ret = count_rejects(&v, (const char *const *)rejects, 2)) < 0)
    goto done;
  /* Dataset-level rules. */
  if (v.cont && v.days.n) {
    v.cont->all.checked = v.days.v[v.days.n - 1] - v.days.v[0] + 1;
    v.cont->all.failed = v.cont->all.checked - (int64_t)v.days.n;
    for (size_t i = 1; i < v.days.n; i++)
      for (cf_date d = v.days.v[i - 1] + 1; d < v.days.v[i]; d++) {
        char s[11];
        cf_date_format(d, s);
        cfb_dq_sample(&v.cont->all, "gap", 0, s);
      }
  }
  long long rmin = cfbp_int(&v.h, "row_count_min", -1);
  long long rmax = cfbp_int(&v.h, "row_count_max", -1);
  if (rmin >= 0 || rmax >= 0) {
    struct cfb_dq_rule *rc = add_rule(&v, "row_count", NULL);
    ret = -ENOMEM;
    if (!rc) goto done;
    ret = 0;
    rc->all.checked = 1;
    rc->all.failed = (rmin >= 0 && v.rows < rmin) ||
                     (rmax >= 0 && v.rows > rmax);
    char s[64];
    snprintf(s, sizeof s, "%lld rows", (long long)v.rows);
    if (rc->all.failed) cfb_dq_sample(&rc->all, "dataset", 0, s);
  }
  /* Verdicts. */
  res = CF_RESULT_OK;
  for (size_t i = 0; i < v.R.n; i++)
    if (verdict(&v, &v.R.r[i])) res = CF_RESULT_FAIL;
  api->log(ctx, CF_LOG_INFO, "validate %s: %lld rows, %s",
           cleaned ? "cleaned" : "raw", (long long)v.rows,
           res == CF_RESULT_OK ? "passed" : "FAILED (critical rule)");
done:
  if (ret < 0) {
    api->log(ctx, CF_LOG_ERROR, "validate: %s", cf_strerror(ret));
    res = CF_RESULT_FAIL;
  }
  for (size_t i = 0; v.scans && i < v.npaths; i++)
    cfb_dq_scan_release(&v.scans[i]);
  cf_free(v.scans);
  for (size_t i = 0; i < v.npaths; i++) cf_free(v.paths[i]);
  cf_free(v.paths);
  cf_free(v.continues);
  for (size_t i = 0; i < v.R.n; i++) {
    cf_free(v.R.r[i].name);
    cf_free(v.R.r[i].accepted);
    cfb_dq_tally_release(&v.R.r[i].all);
  }
  cf_free(v.R.r);
  cf_free((void *)v.R.key_cols);
  cf_free(v.set);
  cfb_dayset_release(&v.days);
  cf_free(rejects[0]);
  cf_free(rejects[1]);
  json_decref(v.accepted);
  json_decref(parts);
  return res;
}
