/* Lake paths, delivered-file entries (files.jsonl / bronze _manifest.jsonl)
 * and the bronze store: content addressed, immutable, fsynced. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "cfb_lake.h"

char *cfb_work_dir(const char *home, const char *dag, const char *ds,
                   enum cfb_provider p) {
  return cf_asprintf("%s/work/%s/%s/%s", home, dag, ds, cfb_provider_name(p));
}

char *cfb_bronze_dir(const char *home, enum cfb_provider p, const char *ds) {
  return cf_asprintf("%s/lake/bronze/provider=%s/year=%.4s/month=%.2s/day=%.2s",
                     home, cfb_provider_name(p), ds, ds + 5, ds + 8);
}

char *cfb_silver_dir(const char *home, const char *usage_date) {
  return cf_asprintf("%s/lake/silver/cost/usage_date=%s", home, usage_date);
}

static void entry_release(struct cfb_entry *e) {
  cf_free(e->sha256);
  cf_free(e->source_path);
  cf_free(e->kind);
  cf_free(e->ext);
  cf_free(e->ingested_at);
  cf_free(e->assembly_id);
  cf_free(e->billing_period);
  cf_free(e->dates);
  cf_free(e->path);
}

void cfb_entries_release(struct cfb_entries *es) {
  for (size_t i = 0; i < es->n; i++) entry_release(&es->v[i]);
  cf_free(es->v);
  es->v = NULL;
  es->n = es->cap = 0;
}

int cfb_entry_json(const struct cfb_entry *e, struct cf_buf *b) {
  int r = cf_buf_adds(b, "{\"sha256\":");
  r |= cfb_json_str(b, e->sha256);
  r |= cf_buf_adds(b, ",\"source_path\":");
  r |= cfb_json_str(b, e->source_path);
  r |= cf_buf_addf(b, ",\"size\":%lld,\"ingested_at\":", (long long)e->size);
  r |= cfb_json_str(b, e->ingested_at);
  r |= cf_buf_addf(b, ",\"provider\":\"%s\",\"kind\":",
                   cfb_provider_name(e->provider));
  r |= cfb_json_str(b, e->kind);
  /* Extensions used by silver (docs/billing-ingest.md). */
  r |= cf_buf_adds(b, ",\"ext\":");
  r |= cfb_json_str(b, e->ext);
  r |= cf_buf_adds(b, ",\"day\":");
  r |= cfb_json_str(b, e->day);
  r |= cf_buf_adds(b, ",\"assembly_id\":");
  r |= cfb_json_str(b, e->assembly_id);
  r |= cf_buf_adds(b, ",\"billing_period\":");
  r |= cfb_json_str(b, e->billing_period);
  r |= cf_buf_addf(b, ",\"top\":%s,\"rows\":%lld,\"rejected\":%lld,"
                   "\"usage_dates\":[", e->top ? "true" : "false",
                   (long long)e->rows, (long long)e->rejected);
  for (size_t i = 0; i < e->ndates; i++) {
    char d[11];
    cf_date_format(e->dates[i], d);
    r |= cf_buf_addf(b, "%s\"%s\"", i ? "," : "", d);
  }
  r |= cf_buf_adds(b, "]}\n");
  return r ? -ENOMEM : 0;
}

static char *jstr(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return cf_strdup(s ? s : "");
}

int cfb_entries_load(struct cfb_entries *es, const char *jsonl,
                     enum cfb_provider p, const char *dir, char **errmsg) {
  FILE *f = fopen(jsonl, "re");
  if (!f) return errno == ENOENT ? 0 : -errno;
  char *line = NULL;
  size_t cap = 0;
  int ret = 0;
  while (getline(&line, &cap, f) > 0) {
    json_t *o = json_loads(line, 0, NULL);
    if (!json_is_object(o)) {
      json_decref(o);
      continue;                  /* a torn last line is ignored */
    }
    if (es->n == es->cap &&
        cf_grow(&es->v, &es->cap, es->n + 1, sizeof *es->v, 32) < 0) {
      json_decref(o);
      ret = -ENOMEM;
      break;
    }
    struct cfb_entry *e = &es->v[es->n];
    memset(e, 0, sizeof *e);
    e->provider = p;
    e->sha256 = jstr(o, "sha256");
    e->source_path = jstr(o, "source_path");
    e->kind = jstr(o, "kind");
    e->ext = jstr(o, "ext");
    e->ingested_at = jstr(o, "ingested_at");
    e->assembly_id = jstr(o, "assembly_id");
    e->billing_period = jstr(o, "billing_period");
    const char *day = json_string_value(json_object_get(o, "day"));
    snprintf(e->day, sizeof e->day, "%s", day ? day : "");
    e->top = json_is_true(json_object_get(o, "top"));
    e->size = json_integer_value(json_object_get(o, "size"));
    e->rows = json_integer_value(json_object_get(o, "rows"));
    e->rejected = json_integer_value(json_object_get(o, "rejected"));
    json_t *ud = json_object_get(o, "usage_dates");
    size_t nd = json_array_size(ud);
    e->dates = cf_calloc(nd ? nd : 1, sizeof *e->dates);
    for (size_t i = 0; e->dates && i < nd; i++) {
      const char *s = json_string_value(json_array_get(ud, i));
      if (s && cf_date_parse(s, &e->dates[e->ndates]) == 0) e->ndates++;
    }
    e->path = dir ? cf_asprintf("%s/%s%s", dir, e->sha256, e->ext)
                  : cf_strdup(e->source_path);
    json_decref(o);
    es->n++;
    if (!e->sha256 || !e->source_path || !e->kind || !e->ext ||
        !e->ingested_at || !e->assembly_id || !e->billing_period ||
        !e->dates || !e->path) {
      ret = -ENOMEM;
      break;
    }
  }
  free(line);
  fclose(f);
  if (ret < 0 && errmsg)
    *errmsg = cf_asprintf("%s: %s", jsonl, cf_strerror(ret));
  return ret;
}

/* Copies src to dst through a temp file, fsyncs, renames. */
static int copy_file(const char *src, const char *dst) {
  char *tmp = cf_asprintf("%s.tmp.%ld", dst, (long)getpid());
  int in = -1, out = -1, ret = -ENOMEM;
  char buf[65536];
  if (!tmp) goto done;
  if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) { ret = -errno; goto done; }
  out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
  if (out < 0) { ret = -errno; goto done; }
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { ret = -errno; goto done; }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) { ret = -errno; goto done; }
      off += w;
    }
  }
  if (fsync(out) < 0) { ret = -errno; goto done; }
  if (close(out) < 0) { out = -1; ret = -errno; goto done; }
  out = -1;
  if (rename(tmp, dst) < 0) { ret = -errno; goto done; }
  ret = 0;
done:
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (ret < 0 && tmp) unlink(tmp);
  cf_free(tmp);
  return ret;
}

int cfb_bronze_store(const char *home, enum cfb_provider p, const char *ds,
                     const char *work, int64_t *stored, int64_t *skipped,
                     char **errmsg) {
  struct cfb_entries have = {0}, want = {0};
  struct cf_buf man = CF_BUF_INIT(0);
  char *dir = cfb_bronze_dir(home, p, ds);
  char *files = cf_asprintf("%s/files.jsonl", work);
  char *mpath = dir ? cf_asprintf("%s/_manifest.jsonl", dir) : NULL;
  int ret = -ENOMEM, added = 0;
  *stored = *skipped = 0;
  if (!dir || !files || !mpath) goto done;
  if ((ret = cfb_entries_load(&want, files, p, NULL, errmsg)) < 0) goto done;
  if (want.n == 0) goto done;
  if ((ret = cf_mkdir_p(dir, 0755)) < 0) goto done;
  if ((ret = cfb_entries_load(&have, mpath, p, dir, errmsg)) < 0) goto done;
  char now[32];
  cf_format_iso_ms(cf_now_ms(), now);
  for (size_t i = 0; i < have.n; i++)
    if ((ret = cfb_entry_json(&have.v[i], &man)) < 0) goto done;
  for (size_t i = 0; i < want.n; i++) {
    struct cfb_entry *e = &want.v[i];
    int known = 0;
    for (size_t j = 0; j < have.n && !known; j++)
      known = !strcmp(have.v[j].sha256, e->sha256);
    for (size_t j = 0; j < i && !known; j++)
      known = !strcmp(want.v[j].sha256, e->sha256);
    char *dst = cf_asprintf("%s/%s%s", dir, e->sha256, e->ext);
    if (!dst) { ret = -ENOMEM; goto done; }
    struct stat st;
    if (stat(dst, &st) < 0) {
      char sum[65];
      ret = copy_file(e->source_path, dst);
      /* The file may have changed since extract: refuse a wrong name. */
      if (ret == 0 && (ret = cf_sha256_file(dst, sum)) == 0 &&
          strcmp(sum, e->sha256)) {
        unlink(dst);
        ret = CF_EDATA;
      }
      if (ret < 0) {
        if (errmsg)
          *errmsg = cf_asprintf("store %s: %s", e->source_path,
                                ret == CF_EDATA ? "changed since extract"
                                                : cf_strerror(ret));
        cf_free(dst);
        goto done;
      }
    }
    cf_free(dst);
    if (known) {
      (*skipped)++;
      continue;
    }
    cf_free(e->ingested_at);
    e->ingested_at = cf_strdup(now);
    snprintf(e->day, sizeof e->day, "%s", ds);
    if (!e->ingested_at || (ret = cfb_entry_json(e, &man)) < 0) {
      ret = -ENOMEM;
      goto done;
    }
    (*stored)++;
    added = 1;
  }
  if ((ret = cf_fsync_dir(dir)) < 0) goto done;
  if (added) ret = cf_write_file_atomic(mpath, man.buf, man.len);
done:
  if (ret < 0 && errmsg && !*errmsg)
    *errmsg = cf_asprintf("bronze %s: %s", dir ? dir : "", cf_strerror(ret));
  cfb_entries_release(&have);
  cfb_entries_release(&want);
  cf_buf_release(&man);
  cf_free(dir);
  cf_free(files);
  cf_free(mpath);
  return ret;
}

static int is_part(const char *name, const char *prefix) {
  return !strncmp(name, prefix, strlen(prefix));
}

/* Sorted names in dir that start with prefix (caller frees each). */
static int list_dir(const char *dir, const char *prefix, char ***out,
                    size_t *n) {
  DIR *d = opendir(dir);
  *out = NULL;
  *n = 0;
  if (!d) return 0;
  struct dirent *e;
  size_t cap = 0;
  int ret = 0;
  while ((e = readdir(d))) {
    if (!is_part(e->d_name, prefix)) continue;
    if (*n == cap && cf_grow(out, &cap, *n + 1, sizeof **out, 16) < 0) {
      ret = -ENOMEM;
      break;
    }
    if (!((*out)[*n] = cf_strdup(e->d_name))) { ret = -ENOMEM; break; }
    (*n)++;                     /* only names: the sort below reads them */
  }
  closedir(d);
  for (size_t i = 1; i < *n; i++)               /* insertion sort */
    for (size_t j = i; j > 0 && strcmp((*out)[j - 1], (*out)[j]) > 0; j--) {
      char *t = (*out)[j];
      (*out)[j] = (*out)[j - 1];
      (*out)[j - 1] = t;
    }
  return ret;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) cf_free(v[i]);
  cf_free(v);
}

int cfb_bronze_load_all(const char *home, struct cfb_entries *es,
                        char **errmsg) {
  int ret = 0;
  for (int p = CFB_AWS; p <= CFB_GCP && ret == 0; p++) {
    char *root = cf_asprintf("%s/lake/bronze/provider=%s", home,
                             cfb_provider_name((enum cfb_provider)p));
    char **ys = NULL;
    size_t ny = 0;
    /* out of memory is an error, never a provider, year or month left out */
    if (!root) ret = -ENOMEM;
    if (ret || (ret = list_dir(root, "year=", &ys, &ny)) < 0) goto next;
    for (size_t y = 0; y < ny && ret == 0; y++) {
      char *yd = cf_asprintf("%s/%s", root, ys[y]);
      char **ms = NULL;
      size_t nm = 0;
      if (!yd) ret = -ENOMEM;
      if (ret || (ret = list_dir(yd, "month=", &ms, &nm)) < 0) goto ynext;
      for (size_t m = 0; m < nm && ret == 0; m++) {
        char *md = cf_asprintf("%s/%s", yd, ms[m]);
        char **dd = NULL;
        size_t nd = 0;
        if (!md) ret = -ENOMEM;
        if (ret || (ret = list_dir(md, "day=", &dd, &nd)) < 0) goto mnext;
        for (size_t d = 0; d < nd && ret == 0; d++) {
          char *dir = cf_asprintf("%s/%s", md, dd[d]);
          char *mp = dir ? cf_asprintf("%s/_manifest.jsonl", dir) : NULL;
          if (!mp) ret = -ENOMEM;
          else ret = cfb_entries_load(es, mp, (enum cfb_provider)p, dir,
                                      errmsg);
          cf_free(dir);
          cf_free(mp);
        }
      mnext:
        free_list(dd, nd);      /* what list_dir got before it failed, too */
        cf_free(md);
      }
    ynext:
      free_list(ms, nm);
      cf_free(yd);
    }
  next:
    free_list(ys, ny);
    cf_free(root);
  }
  return ret;
}
