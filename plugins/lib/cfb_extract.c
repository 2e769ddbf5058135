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
#include "cfb_aws_split.h"
#include "cfb_lake.h"
#include "cfb_parallel.h"

struct paths { char **v; size_t n, cap; };

static int paths_add(struct paths *ps, char *p) {
  if (!p) return -ENOMEM;
  if (ps->n == ps->cap &&
      cf_grow(&ps->v, &ps->cap, ps->n + 1, sizeof *ps->v, 32) < 0) {
    cf_free(p);
    return -ENOMEM;
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
  const char *path;              /* the manifest (a walk path) */
  char *id, *period;
  int top;                       /* from a period-level manifest */
  char **keys;
  size_t nkeys;
};

/* Frees what one manifest holds (a itself is the caller's). */
static void asm_clear(struct asm_info *a) {
  cf_free(a->id);
  cf_free(a->period);
  for (size_t k = 0; k < a->nkeys; k++) cf_free(a->keys[k]);
  cf_free(a->keys);
}

static void asm_release(struct asm_info *a, size_t n) {
  for (size_t i = 0; i < n; i++) asm_clear(&a[i]);
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
  int oom = !a->id || !a->period || !a->keys;
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *s = json_string_value(k);
    if (!s || oom) continue;
    if (!strncmp(s, "s3://", 5)) {          /* s3://bucket/key -> key */
      const char *slash = strchr(s + 5, '/');
      s = slash ? slash + 1 : s;
    }
    /* a key it could not copy is an error, never a NULL key */
    if (!(a->keys[a->nkeys++] = cf_strdup(s))) oom = 1;
  }
  /* A manifest inside its assembly folder is assembly level; the one in
   * the period folder names the latest assembly. */
  const char *slash = strrchr(path, '/');
  size_t dl = slash ? (size_t)(slash - path) : 0;
  size_t il = oom ? 0 : strlen(a->id);
  a->top = !(il && dl >= il && !strncmp(path + dl - il, a->id, il) &&
             (dl == il || path[dl - il - 1] == '/'));
  json_decref(o);
  return oom ? -ENOMEM : 0;
}

static int ends_with_key(const char *path, const char *key) {
  size_t a = strlen(path), b = strlen(key);
  return b && a >= b && !strcmp(path + a - b, key) &&
         (a == b || path[a - b - 1] == '/');
}

/* Whether a manifest's report key names the file at `path`, `rel` being
 * that path under the delivery day's folder: the path ends with the key
 * (the bucket copied with its prefix), or the key ends with rel (copied
 * from below the prefix, e.g. `aws s3 sync s3://bucket/prefix/ DAY/`).
 * A bare file name is not enough for the second: part names such as
 * report-00001.csv.gz repeat across billing periods and assemblies. */
static int names_file(const char *key, const char *path, const char *rel) {
  return ends_with_key(path, key) ||
         (strchr(rel, '/') && ends_with_key(key, rel));
}

/* An assembly some of whose report files were delivered must have them
 * all: its files replace the whole billing period in silver, so a part
 * still on its way would drop that part's rows from the month. (None
 * delivered: the manifest names nothing here and changes nothing.) */
static int check_complete(const struct asm_info *a, size_t nasm,
                          const struct paths *ps, size_t day_len,
                          char **errmsg) {
  for (size_t i = 0; i < nasm; i++) {
    size_t found = 0, missing = 0;
    const char *first = NULL;
    for (size_t k = 0; k < a[i].nkeys; k++) {
      size_t f = 0;
      while (f < ps->n && !names_file(a[i].keys[k], ps->v[f],
                                      ps->v[f] + day_len))
        f++;
      if (f < ps->n) found++;
      else if (!missing++) first = a[i].keys[k];
    }
    if (found && missing) {
      if (errmsg)
        *errmsg = cf_asprintf("extract: %s: assembly %s names %zu report "
                              "files, %zu of them not delivered (%s): the "
                              "delivery is incomplete", a[i].path, a[i].id,
                              a[i].nkeys, missing, first);
      return CF_EDATA;
    }
  }
  return 0;
}

struct ex_ctx {
  FILE *staging;
  struct cfb_rejects *rej;
  struct cf_buf row;
  struct cfb_dayset dates;        /* of the file being read */
  int64_t rows, rejected;
  int64_t last_line;              /* the last reject, for an error that */
  char last_reason[256];          /* ends a read (a truncated .gz) */
};

static int ex_emit(void *ud, const struct cfb_cost *c) {
  struct ex_ctx *x = ud;
  cf_buf_reset(&x->row);
  if (cfb_row_csv_len(&x->row, c->col, c->len) < 0) return -ENOMEM;
  if (fwrite(x->row.buf, 1, x->row.len, x->staging) != x->row.len)
    return errno ? -errno : -EIO;        /* ENOSPC says why; EIO says less */
  x->rows++;
  return cfb_dayset_add(&x->dates, c->usage_date);
}

static int ex_reject(void *ud, const char *path, int64_t line,
                     const char *reason) {
  struct ex_ctx *x = ud;
  size_t pl = strlen(path);
  x->rejected++;
  x->last_line = line;
  /* a reason that starts with the path (open errors) says it once */
  snprintf(x->last_reason, sizeof x->last_reason, "%s",
           !strncmp(reason, path, pl) && !strncmp(reason + pl, ": ", 2)
               ? reason + pl + 2 : reason);
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

/* The staging rows go to a sequence of files (cfb_staging_path): each
 * with the header line, the sequence read in order being the rows of one
 * sequential read. A file split into byte ranges on threads writes each
 * range to its own file of the sequence, so nothing is copied, and
 * validate reads them on threads in turn. */
char *cfb_staging_path(const char *work, int i) {
  return i ? cf_asprintf("%s/staging.%d.csv", work, i)
           : cf_asprintf("%s/staging.csv", work);
}

static FILE *staging_open(const char *path) {
  FILE *f = path ? fopen(path, "we") : NULL;
  if (f && fputs(cfb_header_line, f) == EOF) {
    fclose(f);
    return NULL;
  }
  return f;
}

/* Makes a finished staging file durable and closes it. */
static int staging_seal(FILE *f) {
  int ret = fflush(f) || fsync(fileno(f)) ? -errno : 0;
  if (fclose(f) && ret == 0) ret = -errno;
  return ret;
}

/* An earlier attempt's staging.N.csv would be read as part of this one. */
static int remove_stale_staging(const char *work) {
  DIR *d = opendir(work);
  if (!d) return errno == ENOENT ? 0 : -errno;
  struct dirent *e;
  int ret = 0, n;
  char tail;
  while ((e = readdir(d)) && ret == 0)
    if (sscanf(e->d_name, "staging.%d.cs%c", &n, &tail) == 2 && tail == 'v' &&
        unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
      ret = -errno;
  closedir(d);
  return ret;
}

/* One byte range of a split file: its staging rows (range 0 into the
 * current staging file, the others into new ones) and reject lines. */
struct ex_part {
  struct ex_ctx x;
  struct cfb_rejects rej;        /* header-less: lines only */
  char *staging_path;            /* a new staging file, or NULL */
  char *rejects_path;
  struct cfb_aws_split *split;
  size_t k;
  int ret;
};

static void read_part(void *ctx, size_t i) {
  struct ex_part *pt = &((struct ex_part *)ctx)[i];
  pt->ret = cfb_aws_split_read(pt->split, pt->k, ex_emit, ex_reject, &pt->x);
  if (pt->ret >= 0 && (fflush(pt->x.staging) || fflush(pt->rej.f)))
    pt->ret = -errno;
}

/* Frees the parts; new staging files not handed over are deleted. */
static void parts_release(struct ex_part *pt, size_t n) {
  for (size_t i = 0; pt && i < n; i++) {
    if (pt[i].staging_path) {
      if (pt[i].x.staging) fclose(pt[i].x.staging);
      unlink(pt[i].staging_path);
    }
    if (pt[i].rej.f) fclose(pt[i].rej.f);
    if (pt[i].rejects_path) unlink(pt[i].rejects_path);
    cf_free(pt[i].staging_path);
    cf_free(pt[i].rejects_path);
    cf_buf_release(&pt[i].x.row);
    cfb_dayset_release(&pt[i].x.dates);
  }
  cf_free(pt);
}

/* Reads a big plain AWS CSV as byte ranges on threads into x, whose
 * current staging file is number *nstaging - 1; *done = 0 (nothing
 * written) when it must be read whole instead: too small, or its ranges
 * did not meet (a line break inside quotes near a cut). */
static int read_split(const struct cfb_src *src, const char *work,
                      const struct cfb_extract_opts *o, struct ex_ctx *x,
                      int *nstaging, int *done, char **errmsg) {
  struct cfb_aws_split sp;
  struct ex_part *pt = NULL;
  int threads = cfb_threads(o->threads);
  *done = 0;
  int ret = cfb_aws_split_plan(src, threads, o->range_bytes, &sp, errmsg);
  if (ret < 0 || sp.n == 0) return ret;
  off_t off0 = fflush(x->staging) ? -1 : ftello(x->staging);
  ret = off0 < 0 ? -errno : -ENOMEM;
  if (off0 < 0 || !(pt = cf_calloc(sp.n, sizeof *pt))) goto out;
  for (size_t k = 0; k < sp.n; k++) {
    pt[k] = (struct ex_part){.x = {.row = CF_BUF_INIT(0), .rej = &pt[k].rej},
                             .split = &sp, .k = k};
    pt[k].rejects_path = cf_asprintf("%s/rejects.part%zu.csv", work, k);
    if (k) pt[k].staging_path = cfb_staging_path(work, *nstaging + (int)k - 1);
    if (!pt[k].rejects_path || (k && !pt[k].staging_path)) goto out;
    pt[k].x.staging = k ? staging_open(pt[k].staging_path) : x->staging;
    if (!pt[k].x.staging || !(pt[k].rej.f = fopen(pt[k].rejects_path,
                                                  "w+e"))) {
      ret = -errno;
      goto out;
    }
  }
  cfb_parallel(threads, sp.n, read_part, pt);
  ret = 0;
  for (size_t k = 0; k < sp.n && ret == 0; k++) ret = pt[k].ret;
  if (ret == 0 && !cfb_aws_split_met(&sp)) {
    logf_(o->log, o->log_ud, 1, "%s: " CFB_RANGES_MISSED, src->path);
    /* range 0's rows go; the other ranges' files are deleted below */
    if (fflush(x->staging) || ftruncate(fileno(x->staging), off0) < 0 ||
        fseeko(x->staging, off0, SEEK_SET))
      ret = -errno;
    goto out;
  }
  if (ret < 0) goto out;
  /* Hand the new staging files over: every one but the last is done. */
  for (size_t k = 0; k + 1 < sp.n && ret == 0; k++) {
    FILE *f = pt[k].x.staging;
    pt[k].x.staging = NULL;
    if (k == 0) x->staging = NULL;   /* the same stream, closed even if the
                                        seal fails: never closed twice */
    if ((ret = staging_seal(f)) < 0 && errmsg && !*errmsg) {
      /* name the staging file, not the CSV being read */
      char *path = cfb_staging_path(work, *nstaging - 1 + (int)k);
      *errmsg = cf_asprintf("extract %s: %s", path ? path : work,
                            cf_strerror(ret));
      cf_free(path);
    }
  }
  if (ret < 0) goto out;
  x->staging = pt[sp.n - 1].x.staging;
  *nstaging += (int)sp.n - 1;
  for (size_t k = 0; k < sp.n; k++) {
    cf_free(pt[k].staging_path);
    pt[k].staging_path = NULL;
  }
  for (size_t k = 0; k < sp.n && ret == 0; k++) {
    if ((ret = cfb_rejects_append(x->rej, pt[k].rej.f, pt[k].rej.count)) < 0)
      break;
    x->rows += pt[k].x.rows;
    x->rejected += pt[k].x.rejected;
    ret = cfb_dayset_add_all(&x->dates, &pt[k].x.dates);
  }
  *done = 1;
  if (ret == 0)
    logf_(o->log, o->log_ud, 1, "%s: read as %zu byte ranges on threads",
          src->path, sp.n);
out:
  parts_release(pt, sp.n);
  cfb_aws_split_release(&sp);
  return ret;
}

int cfb_extract(enum cfb_provider p, const char *landing_day,
                const char *work, const struct cfb_extract_opts *o,
                struct cfb_extract_stats *st, char **errmsg) {
  const struct cfb_maps *maps = o->maps;
  cfb_log_fn log = o->log;
  void *log_ud = o->log_ud;
  struct paths ps = {0};
  struct asm_info *asms = NULL;
  size_t nasm = 0;
  struct cfb_rejects rej = {0};
  struct ex_ctx x = {.row = CF_BUF_INIT(0), .rej = &rej};
  struct cf_buf files = CF_BUF_INIT(0);
  char *sp = NULL, *rp = NULL, *fp = NULL;
  struct cfb_dayset all = {0};         /* over all files */
  int nstaging = 1;                    /* staging files so far */
  size_t day_len = strlen(landing_day) + 1;    /* paths are "DAY/rel" */
  int ret = cf_mkdir_p(work, 0755);
  const char *what = work;
  st->files = st->rows = st->rejected = 0;
  if (ret < 0) goto done;
  if ((ret = remove_stale_staging(work)) < 0) goto done;
  sp = cfb_staging_path(work, 0);
  rp = cf_asprintf("%s/rejects.csv", work);
  fp = cf_asprintf("%s/files.jsonl", work);
  ret = -ENOMEM;
  if (!sp || !rp || !fp) goto done;
  what = sp;
  if (!(x.staging = staging_open(sp))) { ret = -errno; goto done; }
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
    if (r == -ENOMEM) { asm_clear(&a); ret = r; goto done; }
    if (r < 0 || !*a.id) {
      asm_clear(&a);
      if ((ret = cfb_rejects_add(&rej, ps.v[i], 0, "unreadable manifest")) < 0)
        goto done;
      st->rejected++;
      continue;
    }
    struct asm_info *v = cf_realloc(asms, (nasm + 1) * sizeof *v);
    if (!v) { asm_clear(&a); ret = -ENOMEM; goto done; }
    asms = v;
    a.path = ps.v[i];
    asms[nasm++] = a;
  }
  if ((ret = check_complete(asms, nasm, &ps, day_len, errmsg)) < 0)
    goto done;
  for (size_t i = 0; i < ps.n; i++) {
    const char *path = ps.v[i];
    const char *kind = cfb_file_kind(p, path);
    if (!kind && cfb_ends_with(path, ".parquet")) {
      /* AWS Data Exports can be Parquet: skipped, the day would publish
       * without its rows and the run succeed. */
      ret = -ENOTSUP;
      if (errmsg && !*errmsg)
        *errmsg = cf_asprintf("extract: %s: a Parquet file; costflow reads "
                              "billing exports as CSV (plain, .gz or .zip): "
                              "set the export's format to CSV, or move the "
                              "file out of the landing folder", path);
      goto done;
    }
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
        if (names_file(asms[a].keys[k], path, path + day_len)) {
          e.assembly_id = asms[a].id;
          e.billing_period = asms[a].period;
          e.top |= asms[a].top;
        }
    for (size_t a = 0; a < nasm && *e.assembly_id; a++)
      if (!strcmp(asms[a].id, e.assembly_id)) e.top |= asms[a].top;
    x.dates.n = 0;
    int64_t r0 = x.rows, j0 = x.rejected;
    if (strcmp(kind, "aws_manifest")) {
      struct cfb_src src = {path, sha, "", maps};
      int split = 0;
      if (p == CFB_AWS && (ret = read_split(&src, work, o, &x, &nstaging,
                                            &split, errmsg)) < 0)
        goto done;
      if (!split)
        ret = p == CFB_AWS ? cfb_aws_read(&src, ex_emit, ex_reject, &x)
                           : cfb_gcp_read(&src, ex_emit, ex_reject, &x);
      /* A file that cannot be read to its end (a truncated .gz) fails
       * the extract: its rows so far are not the delivery. */
      if (ret == -EIO && x.rejected > j0 && errmsg && !*errmsg)
        *errmsg = cf_asprintf("extract: %s:%lld: %s (the file cannot be "
                              "read to its end)", path,
                              (long long)x.last_line, x.last_reason);
      if (ret < 0) goto done;
    }
    e.rows = x.rows - r0;
    e.rejected = x.rejected - j0;
    e.dates = x.dates.v;
    e.ndates = x.dates.n;
    if ((ret = cfb_entry_json(&e, &files)) < 0) goto done;
    st->files++;
    logf_(log, log_ud, 1, "%s: %s, %lld rows, %lld rejected", path, kind,
          (long long)e.rows, (long long)e.rejected);
    /* Union of usage dates over all files. */
    if ((ret = cfb_dayset_add_all(&all, &x.dates)) < 0) goto done;
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
  /* a date it could not add is an error, never a shorter list */
  ret = cf_buf_addch(&st->usage_dates, '[');
  for (size_t k = 0; k < all.n && ret == 0; k++) {
    char d[11];
    cf_date_format(all.v[k], d);
    ret = cf_buf_addf(&st->usage_dates, "%s\"%s\"", k ? "," : "", d);
  }
  if (ret == 0) ret = cf_buf_addch(&st->usage_dates, ']');
done:
  if (ret < 0 && errmsg && !*errmsg)
    *errmsg = cf_asprintf("extract %s: %s", what, cf_strerror(ret));
  if (x.staging) fclose(x.staging);
  cfb_rejects_close(&rej);
  paths_release(&ps);
  asm_release(asms, nasm);
  cf_buf_release(&x.row);
  cf_buf_release(&files);
  cfb_dayset_release(&x.dates);
  cfb_dayset_release(&all);
  cf_free(sp);
  cf_free(rp);
  cf_free(fp);
  return ret;
}
