/* Silver: recompute usage-date partitions from bronze. One pass over the
 * bronze files that hold any target date spills rows into one file per
 * date; each date is then deduplicated (latest delivery wins), sorted
 * bytewise and published atomically. Memory: one date's rows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfb_lake.h"
#include "costflow/csv.h"

/* Newest CUR manifest delivery of one billing period. */
struct snap { const char *period, *day, *assembly; int top; };

static int rank_cmp(const char *d1, int t1, const char *a1, const char *d2,
                    int t2, const char *a2) {
  int c = strcmp(d1, d2);
  if (c) return c;
  if (t1 != t2) return t1 - t2;
  return strcmp(a1, a2);
}

struct snaps { struct snap *v; size_t n; };

static const struct snap *snap_find(const struct snaps *s, const char *bp) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].period, bp)) return &s->v[i];
  return NULL;
}

static int build_snaps(const struct cfb_entries *es, struct snaps *s) {
  s->v = cf_calloc(es->n + 1, sizeof *s->v);
  s->n = 0;
  if (!s->v) return -ENOMEM;
  for (size_t i = 0; i < es->n; i++) {
    const struct cfb_entry *e = &es->v[i];
    if (e->provider != CFB_AWS || !*e->assembly_id || !*e->billing_period)
      continue;
    struct snap *cur = (struct snap *)snap_find(s, e->billing_period);
    if (!cur) {
      cur = &s->v[s->n++];
      *cur = (struct snap){e->billing_period, e->day, e->assembly_id, e->top};
    } else if (rank_cmp(e->day, e->top, e->assembly_id, cur->day, cur->top,
                        cur->assembly) > 0) {
      *cur = (struct snap){e->billing_period, e->day, e->assembly_id, e->top};
    }
  }
  return 0;
}

struct dateset { cf_date *v; size_t n, cap; };

static int ds_add(struct dateset *d, cf_date x) {
  size_t i = 0;
  while (i < d->n && d->v[i] < x) i++;
  if (i < d->n && d->v[i] == x) return 0;
  if (d->n == d->cap) {
    size_t nc = d->cap ? d->cap * 2 : 32;
    cf_date *v = cf_realloc(d->v, nc * sizeof *v);
    if (!v) return -ENOMEM;
    d->v = v;
    d->cap = nc;
  }
  memmove(d->v + i + 1, d->v + i, (d->n - i) * sizeof *d->v);
  d->v[i] = x;
  d->n++;
  return 0;
}

static long ds_find(const struct dateset *d, cf_date x) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (d->v[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < d->n && d->v[lo] == x ? (long)lo : -1;
}

struct sv_ctx {
  const struct cfb_silver_opts *o;
  const struct cfb_entry *entry;
  const struct snaps *snaps;
  struct dateset *targets;
  FILE **spill;
  char **spill_path;
  struct cf_buf line;
  int64_t rejected;
};

/* printf("%0*lld", width, v) for the common case (0 <= v, at most 19
 * digits) without printf; anything else goes through snprintf. */
static void fmt_int(char out[40], long long v, int width) {
  if (v < 0) {
    snprintf(out, 40, "%0*lld", width, v);
    return;
  }
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  int k = 0;
  while (k < width - n) out[k++] = '0';
  while (n) out[k++] = tmp[--n];
  out[k] = '\0';
}

static int sv_emit(void *ud, const struct cfb_cost *c) {
  struct sv_ctx *x = ud;
  long di = ds_find(x->targets, c->usage_date);
  if (di < 0) return 0;
  const struct cfb_entry *e = x->entry;
  /* A plain (manifest-less) CUR file older than the newest snapshot of
   * its rows' billing period was superseded by that snapshot. */
  if (e->provider == CFB_AWS && !*e->assembly_id) {
    const struct snap *s = snap_find(x->snaps, c->billing_period);
    if (s && strcmp(e->day, s->day) <= 0) return 0;
  }
  if (!x->spill[di]) {
    x->spill[di] = fopen(x->spill_path[di], "we");
    if (!x->spill[di]) return -errno;
  }
  cf_buf_reset(&x->line);
  int r = cf_buf_adds(&x->line, cfb_provider_name(e->provider));
  r |= cf_buf_addch(&x->line, ':');
  r |= cfb_csv_field(&x->line, c->col[CFB_x_LineItemId]);
  /* Rank: later delivery day, then finalized, then later ingestion, then
   * hash and line, so the winner never depends on read order.
   * Text: ",DAY|FINALIZED|INGESTED|SHA|LINE%012lld," (no printf per row). */
  char num[40];
  r |= cf_buf_addch(&x->line, ',');
  r |= cf_buf_adds(&x->line, e->day);
  r |= cf_buf_addch(&x->line, '|');
  fmt_int(num, c->finalized, 0);
  r |= cf_buf_adds(&x->line, num);
  r |= cf_buf_addch(&x->line, '|');
  r |= cf_buf_adds(&x->line, e->ingested_at);
  r |= cf_buf_addch(&x->line, '|');
  r |= cf_buf_adds(&x->line, e->sha256);
  r |= cf_buf_addch(&x->line, '|');
  fmt_int(num, atoll(c->col[CFB_x_SourceLine]), 12);
  r |= cf_buf_adds(&x->line, num);
  r |= cf_buf_addch(&x->line, ',');
  r |= cfb_row_csv(&x->line, c->col);
  if (r) return -ENOMEM;
  if (fwrite(x->line.buf, 1, x->line.len, x->spill[di]) != x->line.len)
    return -EIO;
  return 0;
}

static int sv_reject(void *ud, const char *path, int64_t line,
                     const char *reason) {
  struct sv_ctx *x = ud;
  x->rejected++;
  return x->o->rejects ? cfb_rejects_add(x->o->rejects, path, line, reason)
                       : 0;
}

/* Dedupe table for one date: key -> (rank, row). */
struct kept { char *key, *rank, *row; size_t rowlen; };
struct table { struct kept *v; size_t n, cap; size_t *slot; size_t nslot; };

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static void table_release(struct table *t) {
  for (size_t i = 0; i < t->n; i++) {
    cf_free(t->v[i].key);
    cf_free(t->v[i].rank);
    cf_free(t->v[i].row);
  }
  cf_free(t->v);
  cf_free(t->slot);
  memset(t, 0, sizeof *t);
}

static int table_grow(struct table *t) {
  size_t ns = t->nslot ? t->nslot * 2 : 1024;
  size_t *slot = cf_malloc(ns * sizeof *slot);
  if (!slot) return -ENOMEM;
  for (size_t i = 0; i < ns; i++) slot[i] = SIZE_MAX;
  for (size_t i = 0; i < t->n; i++) {
    size_t h = fnv(t->v[i].key) & (ns - 1);
    while (slot[h] != SIZE_MAX) h = (h + 1) & (ns - 1);
    slot[h] = i;
  }
  cf_free(t->slot);
  t->slot = slot;
  t->nslot = ns;
  return 0;
}

/* Keeps (key, rank, row) if key is new or rank is higher. */
static int table_put(struct table *t, const char *key, const char *rank,
                     const char *row, size_t rowlen) {
  if ((t->n + 1) * 2 > t->nslot && table_grow(t) < 0) return -ENOMEM;
  size_t h = fnv(key) & (t->nslot - 1);
  while (t->slot[h] != SIZE_MAX) {
    struct kept *k = &t->v[t->slot[h]];
    if (!strcmp(k->key, key)) {
      if (strcmp(rank, k->rank) <= 0) return 0;
      char *nr = cf_strdup(rank), *nrow = cf_strndup(row, rowlen);
      if (!nr || !nrow) { cf_free(nr); cf_free(nrow); return -ENOMEM; }
      cf_free(k->rank);
      cf_free(k->row);
      k->rank = nr;
      k->row = nrow;
      k->rowlen = rowlen;
      return 0;
    }
    h = (h + 1) & (t->nslot - 1);
  }
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 256;
    struct kept *v = cf_realloc(t->v, nc * sizeof *v);
    if (!v) return -ENOMEM;
    t->v = v;
    t->cap = nc;
  }
  struct kept *k = &t->v[t->n];
  k->key = cf_strdup(key);
  k->rank = cf_strdup(rank);
  k->row = cf_strndup(row, rowlen);
  k->rowlen = rowlen;
  if (!k->key || !k->rank || !k->row) {
    cf_free(k->key); cf_free(k->rank); cf_free(k->row);
    return -ENOMEM;
  }
  t->slot[h] = t->n++;
  return 0;
}

static int cmp_rows(const void *a, const void *b) {
  const struct kept *x = a, *y = b;
  size_t n = x->rowlen < y->rowlen ? x->rowlen : y->rowlen;
  int c = memcmp(x->row, y->row, n);
  if (c) return c;
  return x->rowlen < y->rowlen ? -1 : x->rowlen > y->rowlen;
}

/* Dedupes, sorts and publishes one date from its spill file. */
static int publish_date(const struct cfb_silver_opts *o, cf_date d,
                        const char *spill, const struct cfb_entries *es,
                        const char *const *cand, size_t ncand,
                        char **errmsg) {
  struct table t = {0};
  struct cf_buf data = CF_BUF_INIT(0), inputs = CF_BUF_INIT(0);
  struct cf_buf row = CF_BUF_INIT(0);
  struct cf_csv *c = NULL;
  char ds[11], *dir = NULL, *part = NULL;
  int ret = 0;
  cf_date_format(d, ds);
  if (access(spill, F_OK) == 0) {
    if ((ret = cf_csv_open(spill, &c, errmsg)) < 0) goto done;
    const char **f;
    const size_t *l;
    size_t n;
    int64_t line;
    int r;
    while ((r = cf_csv_next(c, &f, &l, &n, &line, errmsg)) == 1) {
      if (n != 2 + CFB_NCOLS) { ret = CF_EDATA; goto done; }
      cf_buf_reset(&row);
      if (cfb_row_csv(&row, f + 2) < 0) { ret = -ENOMEM; goto done; }
      if ((ret = table_put(&t, f[0], f[1], row.buf, row.len)) < 0) goto done;
    }
    if (r < 0) { ret = r; goto done; }
  }
  if (t.n) qsort(t.v, t.n, sizeof *t.v, cmp_rows);
  ret = cf_buf_adds(&data, cfb_header_line);
  for (size_t i = 0; i < t.n && !ret; i++)
    ret = cf_buf_add(&data, t.v[i].row, t.v[i].rowlen);
  /* Inputs: every bronze file read that holds rows of this date. */
  cf_buf_addch(&inputs, '[');
  const char *prev = NULL;
  for (size_t i = 0; i < ncand; i++) {
    const struct cfb_entry *e = NULL;
    for (size_t j = 0; j < es->n && !e; j++)
      if (es->v[j].sha256 == cand[i]) e = &es->v[j];
    int has = 0;
    for (size_t k = 0; e && k < e->ndates && !has; k++)
      has = e->dates[k] == d;
    if (!has || (prev && !strcmp(prev, cand[i]))) continue;
    cf_buf_addf(&inputs, "%s\"%s\"", prev ? "," : "", cand[i]);
    prev = cand[i];
  }
  ret |= cf_buf_addch(&inputs, ']');
  if (ret) { ret = -ENOMEM; goto done; }
  dir = cfb_silver_dir(o->home, ds);
  part = cf_asprintf("usage_date=%s", ds);
  if (!dir || !part) { ret = -ENOMEM; goto done; }
  struct cfb_published pub;
  ret = cfb_partition_publish(dir, "silver.cost", part, data.buf, data.len,
                              (int64_t)t.n, inputs.buf,
                              o->keep_versions > 0 ? o->keep_versions : 3,
                              &pub, errmsg);
  if (ret == 0 && o->on_partition)
    ret = o->on_partition(o->part_ud, ds, (int64_t)t.n, &pub, inputs.buf);
done:
  if (ret == CF_EDATA && errmsg && !*errmsg)
    *errmsg = cf_asprintf("%s: malformed spill file", spill);
  cf_csv_close(c);
  table_release(&t);
  cf_buf_release(&data);
  cf_buf_release(&inputs);
  cf_buf_release(&row);
  cf_free(dir);
  cf_free(part);
  return ret;
}

static int cmp_entry_ptr(const void *a, const void *b) {
  const struct cfb_entry *x = *(const struct cfb_entry *const *)a;
  const struct cfb_entry *y = *(const struct cfb_entry *const *)b;
  int c = strcmp(x->day, y->day);
  return c ? c : strcmp(x->sha256, y->sha256);
}

int cfb_silver_build(const struct cfb_silver_opts *o, struct cf_buf *published,
                     char **errmsg) {
  struct cfb_entries es = {0};
  struct snaps snaps = {0};
  struct dateset T = {0};
  struct sv_ctx x = {.o = o, .line = CF_BUF_INIT(0), .snaps = &snaps,
                     .targets = &T};
  const struct cfb_entry **cand = NULL;
  const char **cand_sha = NULL;
  size_t ncand = 0;
  int ret = cfb_bronze_load_all(o->home, &es, errmsg);
  if (ret < 0) goto done;
  if ((ret = build_snaps(&es, &snaps)) < 0) goto done;
  /* Target dates. */
  if (o->only_dates) {
    const char *p = o->only_dates;
    while (*p) {
      char d[11];
      cf_date v;
      size_t len = strcspn(p, ", ");
      snprintf(d, sizeof d, "%.*s", (int)(len < 10 ? len : 10), p);
      if (len && cf_date_parse(d, &v) == 0 && (ret = ds_add(&T, v)) < 0)
        goto done;
      p += len;
      while (*p == ',' || *p == ' ') p++;
    }
  } else {
    for (size_t i = 0; i < es.n; i++) {
      const struct cfb_entry *e = &es.v[i];
      if (strcmp(e->day, o->ds)) continue;
      for (size_t k = 0; k < e->ndates; k++)
        if ((ret = ds_add(&T, e->dates[k])) < 0) goto done;
      /* A new snapshot may drop rows of any date of its period. */
      if (e->provider != CFB_AWS || !*e->billing_period) continue;
      for (size_t j = 0; j < es.n; j++)
        if (es.v[j].provider == CFB_AWS &&
            !strcmp(es.v[j].billing_period, e->billing_period))
          for (size_t k = 0; k < es.v[j].ndates; k++)
            if ((ret = ds_add(&T, es.v[j].dates[k])) < 0) goto done;
    }
  }
  /* Candidate bronze files: hold a target date, and (for CUR manifest
   * deliveries) belong to the newest snapshot of their period. */
  cand = cf_calloc(es.n + 1, sizeof *cand);
  cand_sha = cf_calloc(es.n + 1, sizeof *cand_sha);
  x.spill = cf_calloc(T.n + 1, sizeof *x.spill);
  x.spill_path = cf_calloc(T.n + 1, sizeof *x.spill_path);
  if (!cand || !cand_sha || !x.spill || !x.spill_path) {
    ret = -ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < es.n; i++) {
    const struct cfb_entry *e = &es.v[i];
    if (!strcmp(e->kind, "aws_manifest")) continue;
    int hit = 0;
    for (size_t k = 0; k < e->ndates && !hit; k++)
      hit = ds_find(&T, e->dates[k]) >= 0;
    if (!hit) continue;
    if (e->provider == CFB_AWS && *e->assembly_id) {
      const struct snap *s = snap_find(&snaps, e->billing_period);
      if (!s || strcmp(s->day, e->day) || strcmp(s->assembly, e->assembly_id))
        continue;
    }
    cand[ncand++] = e;
  }
  qsort(cand, ncand, sizeof *cand, cmp_entry_ptr);
  for (size_t i = 0; i < T.n; i++) {
    char d[11];
    cf_date_format(T.v[i], d);
    x.spill_path[i] = cf_asprintf("%s/spill-%s.csv", o->scratch, d);
    if (!x.spill_path[i]) { ret = -ENOMEM; goto done; }
    unlink(x.spill_path[i]);
  }
  if ((ret = cf_mkdir_p(o->scratch, 0755)) < 0) goto done;
  for (size_t i = 0; i < ncand; i++) {
    const struct cfb_entry *e = cand[i];
    struct cfb_src src = {e->path, e->sha256, e->ingested_at, o->maps};
    x.entry = e;
    ret = e->provider == CFB_AWS ? cfb_aws_read(&src, sv_emit, sv_reject, &x)
                                 : cfb_gcp_read(&src, sv_emit, sv_reject, &x);
    if (ret < 0) {
      if (errmsg && !*errmsg)
        *errmsg = cf_asprintf("silver: reading %s: %s", e->path,
                              cf_strerror(ret));
      goto done;
    }
  }
  for (size_t i = 0; i < T.n; i++)
    if (x.spill[i]) {
      if (fclose(x.spill[i]) != 0) ret = -errno;
      x.spill[i] = NULL;
      if (ret < 0) goto done;
    }
  /* Sorted bronze hashes per candidate (compared by pointer identity). */
  for (size_t i = 0; i < ncand; i++) cand_sha[i] = cand[i]->sha256;
  for (size_t i = 1; i < ncand; i++)
    for (size_t j = i; j > 0 && strcmp(cand_sha[j - 1], cand_sha[j]) > 0;
         j--) {
      const char *t = cand_sha[j];
      cand_sha[j] = cand_sha[j - 1];
      cand_sha[j - 1] = t;
    }
  cf_buf_addch(published, '[');
  for (size_t i = 0; i < T.n; i++) {
    ret = publish_date(o, T.v[i], x.spill_path[i], &es, cand_sha, ncand,
                       errmsg);
    if (ret < 0) goto done;
    unlink(x.spill_path[i]);
    char d[11];
    cf_date_format(T.v[i], d);
    cf_buf_addf(published, "%s\"%s\"", i ? "," : "", d);
  }
  ret = cf_buf_addch(published, ']');
  if (o->log && x.rejected) {
    char msg[96];
    snprintf(msg, sizeof msg, "silver: %lld rows rejected while re-reading",
             (long long)x.rejected);
    o->log(o->log_ud, 2, msg);
  }
done:
  for (size_t i = 0; x.spill && i < T.n; i++) {
    if (x.spill[i]) fclose(x.spill[i]);
    if (x.spill_path && x.spill_path[i]) {
      if (ret < 0) unlink(x.spill_path[i]);
      cf_free(x.spill_path[i]);
    }
  }
  cf_free(x.spill);
  cf_free(x.spill_path);
  cf_free(cand);
  cf_free(cand_sha);
  cf_free(T.v);
  cf_free(snaps.v);
  cf_buf_release(&x.line);
  cfb_entries_release(&es);
  return ret;
}
