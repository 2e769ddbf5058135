/* Silver's read phase: every candidate bronze file is mapped to silver
 * rows and spilled per usage date. Each reader has its own spill files
 * and rejects, so readers run on threads without sharing anything; a big
 * plain CSV is split into byte ranges read in parallel (cfb_aws_split.h:
 * the cuts are checked afterwards, and a file whose ranges did not meet
 * is read again in one piece). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cfb_aws_split.h"
#include "cfb_silver_int.h"

/* One reader: a whole file, or a byte range of a plain AWS CSV. */
struct reader {
  size_t cand;                   /* index into in->cand */
  struct cfb_aws_split *split;   /* a range of this split file, or NULL */
  size_t range;                  /* which */
  /* per-reader state, touched by its own thread only */
  const struct cfb_silver_read_in *in;
  struct cfb_spills *spills;
  struct cf_buf key;             /* dedupe key of the current row */
  FILE *rejects;                 /* this reader's reject lines */
  char *rejects_path;
  int64_t rejected;
  int ret;
  char *err;
};

static int emit_row(void *ud, const struct cfb_cost *c) {
  struct reader *rd = ud;
  long di = cfb_dayset_find(rd->in->dates, c->usage_date);
  if (di < 0) return 0;
  const struct cfb_entry *e = rd->in->cand[rd->cand];
  /* A plain (manifest-less) CUR file older than the newest snapshot of
   * its rows' billing period was superseded by that snapshot. */
  if (e->provider == CFB_AWS && !*e->assembly_id) {
    const struct snap *s = cfb_snap_find(rd->in->snaps, c->billing_period);
    if (s && strcmp(e->day, s->day) <= 0) return 0;
  }
  struct cfb_rank rank = rd->in->ranks[rd->cand];
  rank.finalized = c->finalized != 0;
  rank.line = c->line;
  cf_buf_reset(&rd->key);
  if (cf_buf_adds(&rd->key, cfb_provider_name(e->provider)) < 0 ||
      cf_buf_addch(&rd->key, ':') < 0 ||
      cf_buf_add(&rd->key, c->col[CFB_x_LineItemId],
                 c->len[CFB_x_LineItemId]) < 0)
    return -ENOMEM;
  return cfb_spills_add(rd->spills, (size_t)di, &rank, rd->key.buf,
                        rd->key.len, c);
}

static int reject_row(void *ud, const char *path, int64_t line,
                      const char *reason) {
  struct reader *rd = ud;
  rd->rejected++;
  if (!rd->in->o->rejects) return 0;
  if (!rd->rejects && !(rd->rejects = fopen(rd->rejects_path, "w+e")))
    return -errno;
  struct cfb_rejects r = {rd->rejects, 0};
  return cfb_rejects_add(&r, path, line, reason);
}

static void run_reader(void *ctx, size_t i) {
  struct reader *rd = &((struct reader *)ctx)[i];
  const struct cfb_entry *e = rd->in->cand[rd->cand];
  struct cfb_src src = {e->path, e->sha256, e->ingested_at, rd->in->o->maps};
  if (rd->split)
    rd->ret = cfb_aws_split_read(rd->split, rd->range, emit_row, reject_row,
                                 rd);
  else if (e->provider == CFB_AWS)
    rd->ret = cfb_aws_read(&src, emit_row, reject_row, rd);
  else
    rd->ret = cfb_gcp_read(&src, emit_row, reject_row, rd);
  int r = cfb_spills_finish(rd->spills);
  if (rd->ret >= 0 && r < 0) rd->ret = r;
  if (rd->ret < 0)
    rd->err = cf_asprintf("silver: reading %s: %s", e->path,
                          cf_strerror(rd->ret));
}

struct plan {
  struct reader *v;
  size_t n, cap;
  struct cfb_aws_split **splits; /* the split files */
  size_t nsplits;
};

static struct reader *plan_add(struct plan *p, size_t cand) {
  if (p->n == p->cap &&
      cf_grow(&p->v, &p->cap, p->n + 1, sizeof *p->v, 16) < 0)
    return NULL;
  struct reader *rd = &p->v[p->n++];
  *rd = (struct reader){.cand = cand};
  return rd;
}

/* Splits candidate `ci` into ranges if it is a big plain AWS CSV, else
 * plans one whole-file reader. */
static int plan_file(const struct cfb_silver_read_in *in, size_t ci,
                     int threads, struct plan *p, char **errmsg) {
  const struct cfb_entry *e = in->cand[ci];
  struct cfb_aws_split *sp = NULL;
  int ret = 0;
  if (e->provider == CFB_AWS) {
    struct cfb_src src = {e->path, e->sha256, e->ingested_at, in->o->maps};
    struct cfb_aws_split **v =
        cf_realloc(p->splits, (p->nsplits + 1) * sizeof *v);
    if (!v || !(sp = cf_calloc(1, sizeof *sp))) {
      if (v) p->splits = v;
      return -ENOMEM;
    }
    p->splits = v;
    if ((ret = cfb_aws_split_plan(&src, threads, in->o->range_bytes, sp,
                                  errmsg)) < 0 || sp->n == 0) {
      cf_free(sp);
      sp = NULL;
    } else {
      p->splits[p->nsplits++] = sp;
    }
    if (ret < 0) return ret;
  }
  for (size_t k = 0; k < (sp ? sp->n : 1); k++) {
    struct reader *rd = plan_add(p, ci);
    if (!rd) return -ENOMEM;
    rd->split = sp;
    rd->range = k;
  }
  return 0;
}

/* Gives reader i its spill files and rejects file. */
static int reader_init(const struct cfb_silver_read_in *in, struct reader *rd,
                       size_t i, struct cfb_spills *spills) {
  char tag[32];
  snprintf(tag, sizeof tag, "r%zu", i);
  rd->in = in;
  rd->spills = spills;
  cf_buf_init(&rd->key, 0);
  rd->rejects_path = cf_asprintf("%s/rejects-%s.csv", in->o->scratch, tag);
  if (!rd->rejects_path) return -ENOMEM;
  return cfb_spills_init(spills, in->o->scratch, tag, in->dates->v,
                         in->dates->n);
}

static void reader_release(struct reader *rd) {
  cf_buf_release(&rd->key);
  if (rd->rejects) fclose(rd->rejects);
  if (rd->rejects_path) unlink(rd->rejects_path);
  cf_free(rd->rejects_path);
  cf_free(rd->err);
}

/* A split file whose ranges did not meet: drop the output of its n
 * readers and read the file whole with the first one. */
static void reread_whole(struct reader *rd, size_t n, size_t index) {
  for (size_t k = 0; k < n; k++) {
    cfb_spills_release(rd[k].spills);
    if (rd[k].rejects) {
      fclose(rd[k].rejects);
      rd[k].rejects = NULL;
      unlink(rd[k].rejects_path);
    }
    rd[k].rejected = 0;
    rd[k].ret = 0;
    cf_free(rd[k].err);
    rd[k].err = NULL;
  }
  char tag[32];
  snprintf(tag, sizeof tag, "w%zu", index);
  rd->split = NULL;
  rd->ret = cfb_spills_init(rd->spills, rd->in->o->scratch, tag,
                            rd->in->dates->v, rd->in->dates->n);
  if (rd->ret == 0) run_reader(rd, 0);
}

int cfb_silver_read(const struct cfb_silver_read_in *in,
                    struct cfb_silver_spilled *out, int64_t *rejected,
                    char **errmsg) {
  struct plan p = {0};
  int threads = cfb_threads(in->o->threads), ret = 0;
  memset(out, 0, sizeof *out);
  *rejected = 0;
  for (size_t ci = 0; ci < in->ncand && ret == 0; ci++)
    ret = plan_file(in, ci, threads, &p, errmsg);
  if (ret == 0 && !(out->readers = cf_calloc(p.n + 1, sizeof *out->readers)))
    ret = -ENOMEM;
  for (size_t i = 0; i < p.n && ret == 0; i++) {
    out->n++;
    ret = reader_init(in, &p.v[i], i, &out->readers[i]);
  }
  if (ret == 0) cfb_parallel(threads, p.n, run_reader, p.v);
  /* Check each split file's ranges met; report in reader order. */
  for (size_t i = 0; i < p.n && ret == 0;) {
    size_t j = i;
    while (j + 1 < p.n && p.v[i].split && p.v[j + 1].split == p.v[i].split)
      j++;
    /* A failed range is reported below; the others must meet. */
    int met = !p.v[i].split, failed = 0;
    for (size_t k = i; k <= j; k++) failed |= p.v[k].ret < 0;
    if (!met) met = failed || cfb_aws_split_met(p.v[i].split);
    if (!met) {
      if (in->o->log) {
        char *m = cf_asprintf("silver: %s: " CFB_RANGES_MISSED,
                              in->cand[p.v[i].cand]->path);
        if (m) in->o->log(in->o->log_ud, 1, m);
        cf_free(m);
      }
      reread_whole(&p.v[i], j - i + 1, i);
    }
    for (size_t k = i; k <= j && ret == 0; k++) {
      if (p.v[k].ret < 0) {
        ret = p.v[k].ret;
        if (errmsg && !*errmsg) {
          *errmsg = p.v[k].err;
          p.v[k].err = NULL;
        }
        break;
      }
      *rejected += p.v[k].rejected;
      /* the reader's reject lines, after the readers' before it */
      if (p.v[k].rejects && in->o->rejects && in->o->rejects->f)
        ret = cfb_rejects_append(in->o->rejects, p.v[k].rejects,
                                 p.v[k].rejected);
    }
    i = j + 1;
  }
  for (size_t i = 0; i < p.n; i++) reader_release(&p.v[i]);
  for (size_t i = 0; i < p.nsplits; i++) {
    cfb_aws_split_release(p.splits[i]);
    cf_free(p.splits[i]);
  }
  cf_free(p.v);
  cf_free(p.splits);
  if (ret < 0) cfb_silver_spilled_release(out);
  return ret;
}

void cfb_silver_spilled_release(struct cfb_silver_spilled *s) {
  for (size_t i = 0; i < s->n; i++) cfb_spills_release(&s->readers[i]);
  cf_free(s->readers);
  memset(s, 0, sizeof *s);
}
