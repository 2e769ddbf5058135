/* Extract: walk one delivery day of the landing zone, resolve AWS CUR
 * manifests to their report files, and stream every billing file into
 * the run's staging area (staging.csv, rejects.csv, files.jsonl). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cfb_lake.h"

struct paths { char **v; size_t n, cap; };

static int paths_add(struct paths *ps, char *p) {
  if (!p) return -ENOMEM;
  if (ps->n == ps->cap) {
    size_t nc = ps->cap ? ps->cap * 2 : 32;
    char **v = cf_realloc(ps->v, nc * sizeof *v);
    if (!v) { cf_free(p); return -ENOMEM; }
    ps->v = v;
    ps->cap = nc;
  }
  ps->v[ps->n++] = p;
  return 0;
}

static void paths_release(struct paths *ps) {
  for (size_t i = 0; i < ps->n; i++) cf_free(ps->v[i]);
  cf_free(ps->v);
}

static int walk(const char *dir, struct paths *ps, int depth) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
  struct dirent *e;
  int ret = 0;
  while ((e = readdir(d)) && ret == 0) {
    if (e->d_name[0] == '.') continue;
    char *p = cf_asprintf("%s/%s", dir, e->d_name);
    struct stat st;
    if (!p) { ret = -ENOMEM; break; }
    if (stat(p, &st) < 0) { cf_free(p); continue; }
    if (S_ISDIR(st.st_mode) && depth < 16) {
      ret = walk(p, ps, depth + 1);
      cf_free(p);
    } else if (S_ISREG(st.st_mode)) {
      ret = paths_add(ps, p);
    } else {
      cf_free(p);
    }
  }
  closedir(d);
  return ret;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An AWS manifest: which report files form which assembly of which
 * billing period. */
struct asm_info {
  char *id, *period;
  int top;                       /* from a period-level manifest */
  char **keys;
  size_t nkeys;
};

static void asm_release(struct asm_info *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cf_free(a[i].id);
    cf_free(a[i].period);
    for (size_t k = 0; k < a[i].nkeys; k++) cf_free(a[i].keys[k]);
    cf_free(a[i].keys);
  }
  cf_free(a);
}

/* "20180801T000000.000Z" or "2018-08-01..." -> "2018-08-01". */
static void period_start(const char *s, char out[11]) {
  out[0] = '\0';
  if (!s) return;
  if (strlen(s) >= 8 && s[4] != '-')
    snprintf(out, 11, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
  else if (strlen(s) >= 10)
    snprintf(out, 11, "%.10s", s);
}

static int parse_manifest(const char *path, struct asm_info *a) {
  json_error_t err;
  json_t *o = json_load_file(path, 0, &err);
  memset(a, 0, sizeof *a);
  if (!json_is_object(o)) {
    json_decref(o);
    return CF_EDATA;
  }
  const char *id = json_string_value(json_object_get(o, "assemblyId"));
  if (!id) id = json_string_value(json_object_get(o, "executionId"));
  json_t *bp = json_object_get(o, "billingPeriod");
  char ps[11];
  period_start(json_string_value(json_object_get(bp, "start")), ps);
  json_t *keys = json_object_get(o, "reportKeys");
  if (!keys) keys = json_object_get(o, "dataFiles");
  a->id = cf_strdup(id ? id : "");
  a->period = cf_strdup(ps);
  a->nkeys = 0;
  a->keys = cf_calloc(json_array_size(keys) + 1, sizeof *a->keys);
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *s = json_string_value(k);
    if (!s || !a->keys) continue;
    if (!strncmp(s, "s3://", 5)) {          /* s3://bucket/key -> key */
      const char *slash = strchr(s + 5, '/');
      s = slash ? slash + 1 : s;
    }
    a->keys[a->nkeys++] = cf_strdup(s);
  }
  /* A manifest inside its assembly folder is assembly level; the one in
   * the period folder names the latest assembly. */
  const char *slash = strrchr(path, '/');
  size_t dl = slash ? (size_t)(slash - path) : 0;
  size_t il = strlen(a->id);
  a->top = !(il && dl >= il && !strncmp(path + dl - il, a->id, il) &&
             (dl == il || path[dl - il - 1] == '/'));
  json_decref(o);
  return a->id && a->period && a->keys ? 0 : -ENOMEM;
}

static int ends_with_key(const char *path, const char *key) {
  size_t a = strlen(path), b = strlen(key);
  return b && a >= b && !strcmp(path + a - b, key) &&
         (a == b || path[a - b - 1] == '/');
}

struct ex_ctx {
  FILE *staging;
  struct cfb_rejects *rej;
  struct cf_buf row;
  cf_date *dates;
  size_t ndates, cap;
  int64_t rows, rejected;
};

static int ex_emit(void *ud, const struct cfb_cost *c) {
  struct ex_ctx *x = ud;
  cf_buf_reset(&x->row);
  if (cfb_row_csv_len(&x->row, c->col, c->len) < 0) return -ENOMEM;
  if (fwrite(x->row.buf, 1, x->row.len, x->staging) != x->row.len)
    return -EIO;
  x->rows++;
  /* Usage dates of this file (small sorted set). */
  size_t i = 0;
  while (i < x->ndates && x->dates[i] < c->usage_date) i++;
  if (i < x->ndates && x->dates[i] == c->usage_date) return 0;
  if (x->ndates == x->cap) {
    size_t nc = x->cap ? x->cap * 2 : 16;
    cf_date *v = cf_realloc(x->dates, nc * sizeof *v);
    if (!v) return -ENOMEM;
    x->dates = v;
    x->cap = nc;
  }
  memmove(x->dates + i + 1, x->dates + i, (x->ndates - i) * sizeof *x->dates);
  x->dates[i] = c->usage_date;
  x->ndates++;
  return 0;
}

static int ex_reject(void *ud, const char *path, int64_t line,
                     const char *reason) {
  struct ex_ctx *x = ud;
  x->rejected++;
  return cfb_rejects_add(x->rej, path, line, reason);
}

static void logf_(cfb_log_fn log, void *ud, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void logf_(cfb_log_fn log, void *ud, int level, const char *fmt, ...) {
  if (!log) return;
  struct cf_buf b = CF_BUF_INIT(0);
  va_list ap;
  va_start(ap, fmt);
  cf_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  log(ud, level, b.buf);
  cf_buf_release(&b);
}

int cfb_extract(enum cfb_provider p, const char *landing_day,
                const char *work, const struct cfb_maps *maps,
                cfb_log_fn log, void *log_ud, struct cfb_extract_stats *st,
                char **errmsg) {
  struct paths ps = {0};
  struct asm_info *asms = NULL;
  size_t nasm = 0;
  struct cfb_rejects rej = {0};
  struct ex_ctx x = {.row = CF_BUF_INIT(0), .rej = &rej};
  struct cf_buf files = CF_BUF_INIT(0);
  char *sp = NULL, *rp = NULL, *fp = NULL;
  cf_date *all = NULL;
  size_t nall = 0;
  int ret = cf_mkdir_p(work, 0755);
  const char *what = work;
  st->files = st->rows = st->rejected = 0;
  if (ret < 0) goto done;
  sp = cf_asprintf("%s/staging.csv", work);
  rp = cf_asprintf("%s/rejects.csv", work);
  fp = cf_asprintf("%s/files.jsonl", work);
  ret = -ENOMEM;
  if (!sp || !rp || !fp) goto done;
  what = sp;
  if (!(x.staging = fopen(sp, "we"))) { ret = -errno; goto done; }
  fputs(cfb_header_line, x.staging);
  what = rp;
  if ((ret = cfb_rejects_open(&rej, rp)) < 0) goto done;
  what = landing_day;
  if ((ret = walk(landing_day, &ps, 0)) < 0) goto done;
  if (ps.n) qsort(ps.v, ps.n, sizeof *ps.v, cmp_str);
  /* Manifests first: they tell which files form an assembly. */
  for (size_t i = 0; p == CFB_AWS && i < ps.n; i++) {
    const char *kind = cfb_file_kind(p, ps.v[i]);
    if (!kind || strcmp(kind, "aws_manifest")) continue;
    struct asm_info a;
    int r = parse_manifest(ps.v[i], &a);
    if (r == -ENOMEM) { asm_release(&a, 1); ret = r; goto done; }
    if (r < 0 || !*a.id) {
      asm_release(&a, 1);
      if ((ret = cfb_rejects_add(&rej, ps.v[i], 0, "unreadable manifest")) < 0)
        goto done;
      st->rejected++;
      continue;
    }
    struct asm_info *v = cf_realloc(asms, (nasm + 1) * sizeof *v);
    if (!v) { asm_release(&a, 1); ret = -ENOMEM; goto done; }
    asms = v;
    asms[nasm++] = a;
  }
  for (size_t i = 0; i < ps.n; i++) {
    const char *path = ps.v[i];
    const char *kind = cfb_file_kind(p, path);
    if (!kind) {
      logf_(log, log_ud, 1, "skipping %s (not a billing file)", path);
      continue;
    }
    struct cfb_entry e = {.provider = p};
    char sha[65];
    struct stat sb;
    what = path;
    if ((ret = cf_sha256_file(path, sha)) < 0 || stat(path, &sb) < 0) {
      if (!ret) ret = -errno;
      goto done;
    }
    e.sha256 = sha;
    e.source_path = (char *)path;
    e.kind = (char *)kind;
    e.ext = (char *)cfb_file_ext(path);
    if (!strcmp(kind, "aws_manifest")) e.ext = ".json";
    e.ingested_at = "";
    e.assembly_id = "";
    e.billing_period = "";
    e.size = sb.st_size;
    /* Which assembly (if any) names this file; top wins ties. */
    for (size_t a = 0; a < nasm; a++)
      for (size_t k = 0; k < asms[a].nkeys; k++)
        if (ends_with_key(path, asms[a].keys[k])) {
          e.assembly_id = asms[a].id;
          e.billing_period = asms[a].period;
          e.top |= asms[a].top;
        }
    for (size_t a = 0; a < nasm && *e.assembly_id; a++)
      if (!strcmp(asms[a].id, e.assembly_id)) e.top |= asms[a].top;
    x.ndates = 0;
    int64_t r0 = x.rows, j0 = x.rejected;
    if (strcmp(kind, "aws_manifest")) {
      struct cfb_src src = {path, sha, "", maps};
      ret = p == CFB_AWS ? cfb_aws_read(&src, ex_emit, ex_reject, &x)
                         : cfb_gcp_read(&src, ex_emit, ex_reject, &x);
      if (ret < 0) goto done;
    }
    e.rows = x.rows - r0;
    e.rejected = x.rejected - j0;
    e.dates = x.dates;
    e.ndates = x.ndates;
    if ((ret = cfb_entry_json(&e, &files)) < 0) goto done;
    st->files++;
    logf_(log, log_ud, 1, "%s: %s, %lld rows, %lld rejected", path, kind,
          (long long)e.rows, (long long)e.rejected);
    /* Union of usage dates over all files. */
    for (size_t k = 0; k < x.ndates; k++) {
      size_t j = 0;
      while (j < nall && all[j] < x.dates[k]) j++;
      if (j < nall && all[j] == x.dates[k]) continue;
      cf_date *v = cf_realloc(all, (nall + 1) * sizeof *v);
      if (!v) { ret = -ENOMEM; goto done; }
      all = v;
      memmove(all + j + 1, all + j, (nall - j) * sizeof *all);
      all[j] = x.dates[k];
      nall++;
    }
  }
  st->rows = x.rows;
  st->rejected += x.rejected;
  what = sp;
  if (fflush(x.staging) || fsync(fileno(x.staging))) {
    ret = -errno;
    goto done;
  }
  if ((ret = cfb_rejects_close(&rej)) < 0) goto done;
  what = fp;
  if ((ret = cf_write_file_atomic(fp, files.buf, files.len)) < 0) goto done;
  cf_buf_reset(&st->usage_dates);
  cf_buf_addch(&st->usage_dates, '[');
  for (size_t k = 0; k < nall; k++) {
    char d[11];
    cf_date_format(all[k], d);
    cf_buf_addf(&st->usage_dates, "%s\"%s\"", k ? "," : "", d);
  }
  ret = cf_buf_addch(&st->usage_dates, ']');
done:
  if (ret < 0 && errmsg && !*errmsg)
    *errmsg = cf_asprintf("extract %s: %s", what, cf_strerror(ret));
  if (x.staging) fclose(x.staging);
  cfb_rejects_close(&rej);
  paths_release(&ps);
  asm_release(asms, nasm);
  cf_buf_release(&x.row);
  cf_buf_release(&files);
  cf_free(x.dates);
  cf_free(all);
  cf_free(sp);
  cf_free(rp);
  cf_free(fp);
  return ret;
}
