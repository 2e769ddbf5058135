/* Silver: recompute usage-date partitions from bronze. One pass over the
 * bronze files that hold any target date spills rows into one file per
 * date (cfb_silver_read.c, cfb_spill.c); each date is then deduplicated
 * (latest delivery wins), sorted bytewise and staged as its partition's
 * next version (cfb_silver_date.c), a few dates at a time on threads;
 * last, all staged dates are made durable and live together
 * (cfb_partition_commit on COMMIT_THREADS). Memory: one date's rows per
 * thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfb_silver_int.h"


static int rank_cmp(const char *d1, int t1, const char *a1, const char *d2,
                    int t2, const char *a2) {
  int c = strcmp(d1, d2);
  if (c) return c;
  if (t1 != t2) return t1 - t2;
  return strcmp(a1, a2);
}

const struct snap *cfb_snap_find(const struct snaps *s, const char *bp) {
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
    struct snap *cur = (struct snap *)cfb_snap_find(s, e->billing_period);
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


/* Usage dates to rebuild: only_dates, else every date the day's
 * deliveries hold, widened to the whole billing period for a CUR
 * snapshot (a new snapshot may drop rows of any date of its period). */
static int target_dates(const struct cfb_silver_opts *o,
                        const struct cfb_entries *es, struct cfb_dayset *T) {
  int ret = 0;
  if (o->only_dates) {
    const char *p = o->only_dates;
    while (*p) {
      char d[11];
      cf_date v;
      size_t len = strcspn(p, ", ");
      snprintf(d, sizeof d, "%.*s", (int)(len < 10 ? len : 10), p);
      if (len && cf_date_parse(d, &v) == 0 && (ret = cfb_dayset_add(T, v)) < 0)
        return ret;
      p += len;
      while (*p == ',' || *p == ' ') p++;
    }
    return 0;
  }
  for (size_t i = 0; i < es->n; i++) {
    const struct cfb_entry *e = &es->v[i];
    if (strcmp(e->day, o->ds)) continue;
    for (size_t k = 0; k < e->ndates; k++)
      if ((ret = cfb_dayset_add(T, e->dates[k])) < 0) return ret;
    if (e->provider != CFB_AWS || !*e->billing_period) continue;
    for (size_t j = 0; j < es->n; j++)
      if (es->v[j].provider == CFB_AWS &&
          !strcmp(es->v[j].billing_period, e->billing_period))
        for (size_t k = 0; k < es->v[j].ndates; k++)
          if ((ret = cfb_dayset_add(T, es->v[j].dates[k])) < 0) return ret;
  }
  return 0;
}

/* Inputs of a date: the sorted, distinct bronze hashes read that hold
 * rows of it, as a JSON array. */
static char *inputs_json(cf_date d, const struct cfb_entry *const *cand,
                         size_t ncand) {
  const char **sha = cf_calloc(ncand + 1, sizeof *sha);
  struct cf_buf b = CF_BUF_INIT(0);
  size_t n = 0;
  if (!sha) return NULL;
  for (size_t i = 0; i < ncand; i++)
    for (size_t k = 0; k < cand[i]->ndates; k++)
      if (cand[i]->dates[k] == d) {
        sha[n++] = cand[i]->sha256;
        break;
      }
  for (size_t i = 1; i < n; i++)                /* few files: insertion */
    for (size_t j = i; j > 0 && strcmp(sha[j - 1], sha[j]) > 0; j--) {
      const char *t = sha[j];
      sha[j] = sha[j - 1];
      sha[j - 1] = t;
    }
  int r = cf_buf_addch(&b, '[');
  for (size_t i = 0; i < n && !r; i++)
    if (!i || strcmp(sha[i - 1], sha[i]))
      r = cf_buf_addf(&b, "%s\"%s\"", b.len > 1 ? "," : "", sha[i]);
  r |= cf_buf_addch(&b, ']');
  cf_free(sha);
  if (r) {
    cf_buf_release(&b);
    return NULL;
  }
  return cf_buf_detach(&b, NULL);
}

/* Dates are independent, so they are staged and committed on threads;
 * the caller then reports them in date order. */
struct date_job {
  cf_date date;
  const char **spills;           /* this date's file of every reader */
  size_t nspills;
  char *inputs;
  int ret;
  char *err;
  int64_t rows;
  struct cfb_staged staged;
  struct cfb_published pub;
};

struct date_ctx {
  const struct cfb_silver_opts *o;
  struct date_job *jobs;
};

static void stage_job(void *ctx, size_t i) {
  struct date_ctx *p = ctx;
  struct date_job *j = &p->jobs[i];
  j->ret = cfb_silver_stage_date(p->o, j->date, j->spills, j->nspills,
                                   j->inputs, &j->staged, &j->rows, &j->err);
}

static void commit_job(void *ctx, size_t i) {
  struct date_ctx *p = ctx;
  struct date_job *j = &p->jobs[i];
  if (j->ret == 0)
    j->ret = cfb_partition_commit(
        &j->staged, p->o->keep_versions > 0 ? p->o->keep_versions : 3,
        &j->pub, &j->err);
}

/* Committing is waiting on the disk, not CPU: more threads than cores
 * let the journal flush many partitions in one commit. */
#define COMMIT_THREADS 8

/* Orders candidates (pointers into the candidate array) by ingestion
 * time, bronze hash breaking ties. */
static int cmp_ingested(const void *a, const void *b) {
  const struct cfb_entry *x = **(const struct cfb_entry *const *const *)a;
  const struct cfb_entry *y = **(const struct cfb_entry *const *const *)b;
  int c = strcmp(x->ingested_at, y->ingested_at);
  return c ? c : strcmp(x->sha256, y->sha256);
}

int cfb_rank_candidates(const struct cfb_entry *const *cand, size_t n,
                        struct cfb_rank *out) {
  const struct cfb_entry *const **ord = cf_calloc(n + 1, sizeof *ord);
  if (!ord) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    out[i] = (struct cfb_rank){0};
    if (i)
      out[i].delivery = out[i - 1].delivery +
                        (strcmp(cand[i - 1]->day, cand[i]->day) != 0);
    ord[i] = &cand[i];
  }
  /* file = how many candidates sort strictly before: its position in
   * (ingested_at, sha256) order, shared by a run of equal keys (one file
   * delivered on two days), as counting them one by one would give. */
  qsort(ord, n, sizeof *ord, cmp_ingested);
  uint32_t file = 0;
  for (size_t k = 0; k < n; k++) {
    if (k && cmp_ingested(&ord[k - 1], &ord[k])) file = (uint32_t)k;
    out[ord[k] - cand].file = file;
  }
  cf_free(ord);
  return 0;
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
  struct cfb_dayset T = {0};
  struct cfb_silver_spilled spilled = {0};
  int64_t rejected = 0;
  const struct cfb_entry **cand = NULL;
  struct cfb_rank *ranks = NULL;
  struct date_job *jobs = NULL;
  size_t ncand = 0;
  int ret = cfb_bronze_load_all(o->home, &es, errmsg);
  if (ret < 0) goto done;
  if ((ret = build_snaps(&es, &snaps)) < 0) goto done;
  if ((ret = target_dates(o, &es, &T)) < 0) goto done;
  /* Candidate bronze files: hold a target date, and (for CUR manifest
   * deliveries) belong to the newest snapshot of their period. */
  cand = cf_calloc(es.n + 1, sizeof *cand);
  ranks = cf_calloc(es.n + 1, sizeof *ranks);
  jobs = cf_calloc(T.n + 1, sizeof *jobs);
  if (!cand || !ranks || !jobs) {
    ret = -ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < es.n; i++) {
    const struct cfb_entry *e = &es.v[i];
    if (!strcmp(e->kind, "aws_manifest")) continue;
    int hit = 0;
    for (size_t k = 0; k < e->ndates && !hit; k++)
      hit = cfb_dayset_find(&T, e->dates[k]) >= 0;
    if (!hit) continue;
    if (e->provider == CFB_AWS && *e->assembly_id) {
      const struct snap *s = cfb_snap_find(&snaps, e->billing_period);
      if (!s || strcmp(s->day, e->day) || strcmp(s->assembly, e->assembly_id))
        continue;
    }
    cand[ncand++] = e;
  }
  qsort(cand, ncand, sizeof *cand, cmp_entry_ptr);
  if ((ret = cfb_rank_candidates(cand, ncand, ranks)) < 0) goto done;
  if ((ret = cf_mkdir_p(o->scratch, 0755)) < 0) goto done;
  struct cfb_silver_read_in in = {o, cand, ranks, ncand, &snaps, &T};
  int64_t t0 = cf_mono_ms();
  if ((ret = cfb_silver_read(&in, &spilled, &rejected, errmsg)) < 0)
    goto done;
  int64_t t1 = cf_mono_ms();
  for (size_t i = 0; i < T.n; i++) {
    jobs[i].date = T.v[i];
    jobs[i].spills = cf_calloc(spilled.n + 1, sizeof *jobs[i].spills);
    jobs[i].inputs = inputs_json(T.v[i], cand, ncand);
    if (!jobs[i].spills || !jobs[i].inputs) {
      ret = -ENOMEM;
      goto done;
    }
    for (size_t r = 0; r < spilled.n; r++)
      if (spilled.readers[r].n)
        jobs[i].spills[jobs[i].nspills++] = spilled.readers[r].path[i];
  }
  struct date_ctx pc = {o, jobs};
  cfb_parallel(cfb_threads(o->threads), T.n, stage_job, &pc);
  int64_t t2 = cf_mono_ms();
  cfb_parallel(COMMIT_THREADS, T.n, commit_job, &pc);
  if (o->log) {              /* where the time went, for operators */
    char msg[160];
    snprintf(msg, sizeof msg,
             "silver: read %zu file(s) in %.3f s, %zu date(s) written in "
             "%.3f s and made durable and live in %.3f s", ncand,
             (double)(t1 - t0) / 1e3, T.n, (double)(t2 - t1) / 1e3,
             (double)(cf_mono_ms() - t2) / 1e3);
    o->log(o->log_ud, 1, msg);
  }
  /* Report in date order; what was published is recorded even when a
   * later date failed, so the store matches the lake. */
  ret = cf_buf_addch(published, '[');
  for (size_t i = 0, npub = 0; i < T.n && ret == 0; i++) {
    if (jobs[i].ret < 0) continue;
    char d[11];
    cf_date_format(T.v[i], d);
    if (o->on_partition)
      ret = o->on_partition(o->part_ud, d, jobs[i].rows, &jobs[i].pub,
                            jobs[i].inputs);
    if (ret == 0)
      ret = cf_buf_addf(published, "%s\"%s\"", npub++ ? "," : "", d);
  }
  if (ret == 0) ret = cf_buf_addch(published, ']');
  for (size_t i = 0; i < T.n && ret == 0; i++)
    if (jobs[i].ret < 0) {
      ret = jobs[i].ret;
      if (errmsg && !*errmsg) {
        *errmsg = jobs[i].err;
        jobs[i].err = NULL;
      }
    }
  if (o->log && rejected) {
    char msg[96];
    snprintf(msg, sizeof msg, "silver: %lld rows rejected while re-reading",
             (long long)rejected);
    o->log(o->log_ud, 2, msg);
  }
done:
  for (size_t i = 0; jobs && i < T.n; i++) {
    cfb_staged_release(&jobs[i].staged);
    cf_free(jobs[i].spills);
    cf_free(jobs[i].inputs);
    cf_free(jobs[i].err);
  }
  cf_free(jobs);
  cfb_silver_spilled_release(&spilled);
  cf_free(cand);
  cf_free(ranks);
  cfb_dayset_release(&T);
  cf_free(snaps.v);
  cfb_entries_release(&es);
  return ret;
}
